/* office_mail: the office told by email; see include/office_mail.h. */
#include "office_mail.h"
#include "arena.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "failsafe.h"
#include "html.h"
#include "log.h"
#include "notify.h"
#include "outbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The advisory lock class of a business's office mail claims (the
 * second key is the business id): the daily limit is counted and the
 * claim written by one pass at a time. */
#define OFFICE_MAIL_LOCK 0x4f4d

/* Which notifications a user may still be mailed at $1 (the clock):
 * their business's, since they chose, of the last 24 hours, not mailed to
 * them yet.  u: the users row, n: the notification. */
#define OM_UNMAILED \
	" n.business_id = u.business_id AND n.created_at >= u.notify_since" \
	" AND n.created_at > $1::timestamptz - interval '1 day'" \
	" AND NOT EXISTS (SELECT 1 FROM office_mail_items i WHERE i.user_id = u.id" \
	"  AND i.notification_id = n.id)"
/* n is fresh enough for an immediate email (OFFICE_MAIL_FRESH_S): one
 * held back by a limit, or by an outage of the workers, waits for the
 * digest instead of arriving late as if it were news. */
#define OM_STR(x) #x
#define OM_XSTR(x) OM_STR(x)
#define OM_FRESH \
	" AND n.created_at > $1::timestamptz - interval '" OM_XSTR(OFFICE_MAIL_FRESH_S) " seconds'"
/* The business of u has sent fewer than $3 emails in 24 hours. */
#define OM_BUSINESS_UNDER \
	" (SELECT count(*) FROM office_mails m WHERE m.business_id = u.business_id" \
	"  AND m.created_at > $1::timestamptz - interval '1 day'" \
	"  AND m.status NOT IN ('skipped', 'blocked_not_allowed')) < $3::int"
/* u has had fewer than $2 immediate emails in the last hour. */
#define OM_USER_UNDER \
	" (SELECT count(*) FROM office_mails m WHERE m.user_id = u.id AND m.kind = 'immediate'" \
	"  AND m.created_at > $1::timestamptz - interval '1 hour'" \
	"  AND m.status NOT IN ('skipped', 'blocked_not_allowed')) < $2::int"
#define OM_BUSINESS_LIVE \
	" EXISTS (SELECT 1 FROM businesses b WHERE b.id = u.business_id" \
	"  AND b.status IN ('active', 'trial'))"

/* One claimed email, as the send needs it (strings in the job arena). */
struct om_claim {
	long long id, business_id;
	const char *to, *kind;
};

static void om_lost(const struct outbound_ctx *ctx, const char *now, struct office_mail_stats *st)
{
	char lost[16];
	const char *p[2] = { now, lost };
	PGresult *res;

	snprintf(lost, sizeof(lost), "%d", OFFICE_MAIL_LOST_S);
	res = db_exec_prepared(ctx->db, "office_mail_lost",
		"UPDATE office_mails SET status = 'unknown', settled_at = now(),"
		" error = 'the sender stopped before it recorded the outcome: never sent again'"
		" WHERE status = 'claimed'"
		" AND created_at < $1::timestamptz - make_interval(secs => $2::int) RETURNING id", 2, p);
	if (res == NULL)
		return;
	st->lost += PQntuples(res);
	for (int i = 0; i < PQntuples(res); i++)
		log_warn("office mail %s: its sender stopped before recording the outcome;"
			 " now 'unknown', never sent again", PQgetvalue(res, i, 0));
	PQclear(res);
}

/* The claim statement name/sql with its parameters, in a transaction
 * holding the business's advisory lock.  The row into c: 1 claimed (to be
 * sent), 2 recorded as skipped (nothing to send); 0 when nothing was
 * claimed, -1 on a database error. */
static int om_claim(const struct outbound_ctx *ctx, const char *business, const char *name,
	const char *sql, int n, const char *const *p, struct om_claim *c)
{
	const char *lock[2] = { business, NULL }, *v[5];
	char cls[16];
	int rc;

	snprintf(cls, sizeof(cls), "%d", OFFICE_MAIL_LOCK);
	lock[1] = cls;
	if (db_begin(ctx->db) < 0)
		return -1;
	if (db_cmd_prepared(ctx->db, "office_mail_lock",
		    "SELECT pg_advisory_xact_lock($2::int, ($1::bigint % 2147483647)::int)", 2, lock) < 0) {
		db_rollback(ctx->db);
		return -1;
	}
	rc = db_row_prepared(ctx->db, ctx->job, name, sql, n, p, 5, v);
	if (rc < 0) {
		db_rollback(ctx->db);
		return -1;
	}
	if (db_commit(ctx->db) < 0)
		return -1;
	if (rc == 1) {
		c->id = atoll(v[0]);
		c->business_id = atoll(v[1]);
		c->to = v[2];
		c->kind = v[3];
		rc = strcmp(v[4], "claimed") == 0 ? 1 : 2;
	}
	return rc;
}

/* The email's text and HTML parts and subject for claim c; 0, or -1
 * (database error, or a template that does not render). */
static const char tmpl_html_head[] =
	"<!doctype html><html><body style=\"font-family:sans-serif\">"
	"<h1 style=\"font-size:18px\">{{business}}</h1>";
static const char tmpl_html_item[] =
	"<div style=\"margin:0 0 16px\"><p style=\"margin:0\"><strong>{{client}}</strong> {{words}}"
	" <span style=\"color:#666\">({{at}})</span></p>"
	"<p style=\"margin:0\">Appointment: {{when}}</p>"
	"<p style=\"margin:0\">{{detail}}</p>"
	"<p style=\"margin:0\"><a href=\"{{link}}\">{{link}}</a></p></div>";
static const char tmpl_html_tail[] =
	"<p style=\"color:#666;font-size:12px\">You get these emails because you chose them"
	" in Settings, My notifications: <a href=\"{{settings}}\">{{settings}}</a></p>"
	"</body></html>";

static int om_content(const struct outbound_ctx *ctx, const struct om_claim *c,
	struct outbound_office_mail *m)
{
	const char *base = ctx->cfg->public_url ? ctx->cfg->public_url : "";
	char id[24];
	const char *p[1] = { id };
	struct buf text, html;
	PGresult *res;
	int rc = -1, n;

	snprintf(id, sizeof(id), "%lld", c->id);
	res = db_exec_prepared(ctx->db, "office_mail_items",
		"SELECT n.kind, COALESCE(cl.name, ac.name, 'A client'),"
		" COALESCE(to_char(a.starts_at AT TIME ZONE b.time_zone, 'Dy FMDD Mon YYYY, HH24:MI'),"
		"  'no appointment'), n.detail, COALESCE(n.appointment_id::text, ''),"
		" to_char(n.created_at AT TIME ZONE b.time_zone, 'Dy FMDD Mon, HH24:MI'), b.name"
		" FROM office_mail_items i JOIN office_notifications n ON n.id = i.notification_id"
		" JOIN businesses b ON b.id = n.business_id"
		" LEFT JOIN clients cl ON cl.id = n.client_id AND cl.business_id = n.business_id"
		" LEFT JOIN appointments a ON a.id = n.appointment_id AND a.business_id = n.business_id"
		" LEFT JOIN clients ac ON ac.id = a.client_id AND ac.business_id = a.business_id"
		" WHERE i.mail_id = $1::bigint ORDER BY n.id LIMIT 500", 1, p);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	if (n == 0) {
		PQclear(res);
		return -1;
	}
	buf_init_arena(&text, ctx->job);
	buf_init_arena(&html, ctx->job);
	m->settings_url = arena_printf(ctx->job, "%s/settings/notifications", base);
	{
		const char *f[] = { "business", PQgetvalue(res, 0, 6), NULL };
		if (html_render(&html, tmpl_html_head, f) < 0)
			goto out;
	}
	buf_printf(&text, "%s\r\n\r\n", PQgetvalue(res, 0, 6));
	for (int i = 0; i < n; i++) {
		const char *appt = PQgetvalue(res, i, 4);
		const char *link = appt[0] ? arena_printf(ctx->job, "%s/appointments/%s", base, appt)
			: arena_printf(ctx->job, "%s/notifications", base);
		const char *detail = PQgetvalue(res, i, 3);
		const char *f[] = { "client", PQgetvalue(res, i, 1),
			"words", notify_kind_words(PQgetvalue(res, i, 0)), "at", PQgetvalue(res, i, 5),
			"when", PQgetvalue(res, i, 2), "detail", detail, "link", link, NULL };
		if (html_render(&html, tmpl_html_item, f) < 0)
			goto out;
		buf_printf(&text, "%s %s (%s)\r\nAppointment: %s\r\n%s%s%s\r\n\r\n",
			PQgetvalue(res, i, 1), notify_kind_words(PQgetvalue(res, i, 0)),
			PQgetvalue(res, i, 5), PQgetvalue(res, i, 2), detail,
			detail[0] ? "\r\n" : "", link);
	}
	{
		const char *f[] = { "settings", m->settings_url, NULL };
		if (html_render(&html, tmpl_html_tail, f) < 0)
			goto out;
	}
	buf_printf(&text, "You get these emails because you chose them in Settings,"
		" My notifications: %s\r\n", m->settings_url);
	if (strcmp(c->kind, "digest") == 0)
		m->subject = arena_printf(ctx->job, "%s: %d thing%s clients said", PQgetvalue(res, 0, 6),
			n, n == 1 ? "" : "s");
	else
		m->subject = arena_printf(ctx->job, "%s: %s %s", PQgetvalue(res, 0, 6),
			PQgetvalue(res, 0, 1), notify_kind_words(PQgetvalue(res, 0, 0)));
	m->text = buf_str(&text);
	m->html = buf_str(&html);
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* Sends the claimed email c and counts what became of it. */
static void om_send(const struct outbound_ctx *ctx, const struct om_claim *c, long long now_s,
	struct office_mail_stats *st)
{
	struct outbound_office_mail m;

	memset(&m, 0, sizeof(m));
	m.mail_id = c->id;
	m.business_id = c->business_id;
	m.to = c->to;
	if (om_content(ctx, c, &m) < 0) {
		/* Nothing was sent: a failure the row records. */
		char id[24];
		const char *p[1] = { id };
		snprintf(id, sizeof(id), "%lld", c->id);
		log_error("office mail %lld: its content cannot be read or built: %s", c->id,
			db_last_error(ctx->db));
		if (db_cmd_prepared(ctx->db, "office_mail_unbuilt",
			    "UPDATE office_mails SET status = 'failed', settled_at = now(),"
			    " error = 'not sent: the email could not be built'"
			    " WHERE id = $1::bigint AND status = 'claimed'", 1, p) == 0)
			st->failed++;
		return;
	}
	switch (outbound_office_mail(ctx, &m, now_s)) {
	case OUTBOUND_PLACED: st->sent++; break;
	case OUTBOUND_FAILED: st->failed++; break;
	case OUTBOUND_BLOCKED: st->blocked++; break;
	case OUTBOUND_HELD: st->held++; break;
	default: st->unknown++; break;
	}
}

/* Candidates: (user id, business id, notification id or ""), in $1's
 * light. */
static PGresult *om_candidates(const struct outbound_ctx *ctx, int digest, const char *const *p)
{
	if (!digest)
		return db_exec_prepared(ctx->db, "office_mail_immediate",
			"SELECT u.id, u.business_id, n.id FROM users u"
			" JOIN office_notifications n ON" OM_UNMAILED OM_FRESH
			" WHERE u.notify_mode = 'immediate' AND" OM_BUSINESS_LIVE
			" AND" OM_USER_UNDER " AND" OM_BUSINESS_UNDER
			" ORDER BY n.id LIMIT " "100", 3, p);
	return db_exec_prepared(ctx->db, "office_mail_digests",
		"SELECT u.id, u.business_id, '' FROM users u JOIN businesses b ON b.id = u.business_id"
		" WHERE u.notify_mode IN ('digest', 'immediate') AND" OM_BUSINESS_LIVE
		" AND extract(hour FROM $1::timestamptz AT TIME ZONE b.time_zone) = u.notify_digest_hour"
		" AND NOT EXISTS (SELECT 1 FROM office_mails m WHERE m.user_id = u.id"
		"  AND m.kind = 'digest' AND m.digest_day = ($1::timestamptz AT TIME ZONE b.time_zone)::date)"
		" AND EXISTS (SELECT 1 FROM office_notifications n WHERE" OM_UNMAILED ")"
		" AND $2::int > 0 AND $3::int > 0"
		" ORDER BY u.id LIMIT " "100", 3, p);
}

/* Claims an immediate email of notification $4 for user $5, when the
 * user still wants it, is under their limits and has not been mailed it:
 * the row 'claimed' and its item, or nothing. */
static const char om_claim_immediate_sql[] =
	"WITH u AS (SELECT id, business_id, email, notify_since FROM users WHERE id = $5::bigint"
	"  AND notify_mode = 'immediate' FOR UPDATE SKIP LOCKED),"
	" ok AS (SELECT u.* FROM u JOIN office_notifications n ON n.id = $4::bigint AND" OM_UNMAILED
	OM_FRESH
	"  WHERE" OM_USER_UNDER " AND" OM_BUSINESS_UNDER "),"
	" m AS (INSERT INTO office_mails (business_id, user_id, kind, to_address, created_at)"
	"  SELECT business_id, id, 'immediate', email, $1::timestamptz FROM ok"
	"  RETURNING id, business_id, user_id, to_address, kind, status),"
	" i AS (INSERT INTO office_mail_items (mail_id, user_id, notification_id)"
	"  SELECT id, user_id, $4::bigint FROM m)"
	" SELECT id, business_id, to_address, kind, status FROM m";

/* Claims user $5's digest of the day: every notification not mailed to
 * them yet, in one row ('skipped' over the business's daily limit), or
 * nothing when there is nothing to tell or today's digest exists. */
static const char om_claim_digest_sql[] =
	"WITH u AS (SELECT u.id, u.business_id, u.email, u.notify_since, b.time_zone"
	"  FROM users u JOIN businesses b ON b.id = u.business_id WHERE u.id = $5::bigint"
	"  AND u.notify_mode IN ('digest', 'immediate') FOR UPDATE OF u SKIP LOCKED),"
	" n AS (SELECT n.id FROM office_notifications n, u WHERE" OM_UNMAILED
	"  ORDER BY n.id LIMIT 500),"
	" lim AS (SELECT NOT (" "(SELECT count(*) FROM office_mails m, u WHERE m.business_id = u.business_id"
	"  AND m.created_at > $1::timestamptz - interval '1 day'"
	"  AND m.status NOT IN ('skipped', 'blocked_not_allowed')) < $3::int) AS over"
	"  WHERE $2::int > 0 AND $4::text IS NULL),"
	" m AS (INSERT INTO office_mails (business_id, user_id, kind, digest_day, to_address, status,"
	"  error, created_at, settled_at)"
	"  SELECT u.business_id, u.id, 'digest', ($1::timestamptz AT TIME ZONE u.time_zone)::date,"
	"  u.email, CASE WHEN lim.over THEN 'skipped' ELSE 'claimed' END,"
	"  CASE WHEN lim.over THEN 'the business''s limit of ' || $3 || ' emails a day is reached' END,"
	"  $1::timestamptz, CASE WHEN lim.over THEN now() END"
	"  FROM u, lim WHERE EXISTS (SELECT 1 FROM n)"
	"  ON CONFLICT (user_id, digest_day) WHERE kind = 'digest' DO NOTHING"
	"  RETURNING id, business_id, user_id, to_address, kind, status),"
	" i AS (INSERT INTO office_mail_items (mail_id, user_id, notification_id)"
	"  SELECT m.id, m.user_id, n.id FROM m, n)"
	" SELECT id, business_id, to_address, kind, status FROM m";

/* See office_mail.h. */
int office_mail_pass(const struct outbound_ctx *ctx, long long now_s,
	struct office_mail_stats *st)
{
	char now[32], user_hour[16], biz_day[16];
	const char *p[3] = { now, user_hour, biz_day };
	int sent = 0;

	memset(st, 0, sizeof(*st));
	/* Nothing can go out (no mail server or sender, the failsafe
	 * tripped): nothing is claimed, so nothing is held and retried
	 * every pass; outbound_office_mail checks again before each send. */
	if (ctx->cfg->smtp_url == NULL || ctx->cfg->smtp_url[0] == '\0' ||
		ctx->cfg->mail_from == NULL || ctx->cfg->mail_from[0] == '\0' ||
		failsafe_tripped(ctx->db, NULL, 0) != 0)
		return 0;
	clock_sql(now_s, now);
	snprintf(user_hour, sizeof(user_hour), "%d", OUTBOUND_OFFICE_USER_HOUR);
	snprintf(biz_day, sizeof(biz_day), "%d", OUTBOUND_OFFICE_BUSINESS_DAY);
	arena_reset(ctx->job);
	om_lost(ctx, now, st);
	for (int digest = 0; digest <= 1; digest++) {
		PGresult *res = om_candidates(ctx, digest, p);
		if (res == NULL) {
			log_error("office mail: cannot find what to send: %s", db_last_error(ctx->db));
			return -1;
		}
		for (int i = 0; i < PQntuples(res) && sent < OFFICE_MAIL_BATCH; i++) {
			char user[24], biz[24], notif[24];
			const char *q[5] = { now, user_hour, biz_day, NULL, user };
			struct om_claim c;
			int rc;

			snprintf(user, sizeof(user), "%s", PQgetvalue(res, i, 0));
			snprintf(biz, sizeof(biz), "%s", PQgetvalue(res, i, 1));
			snprintf(notif, sizeof(notif), "%s", PQgetvalue(res, i, 2));
			q[3] = digest ? NULL : notif;
			arena_reset(ctx->job);
			rc = digest ? om_claim(ctx, biz, "office_mail_claim_digest", om_claim_digest_sql,
					      5, q, &c)
				    : om_claim(ctx, biz, "office_mail_claim_immediate",
					      om_claim_immediate_sql, 5, q, &c);
			if (rc < 0) {
				log_error("office mail: cannot claim for user %s: %s", user,
					db_last_error(ctx->db));
				continue;
			}
			if (rc == 2) {
				st->skipped++;
				log_warn("office mail %lld (digest for user %s) skipped: the business's"
					 " limit of %d emails a day is reached", c.id, user,
					OUTBOUND_OFFICE_BUSINESS_DAY);
			}
			if (rc != 1)
				continue;
			om_send(ctx, &c, now_s, st);
			sent++;
		}
		PQclear(res);
	}
	arena_reset(ctx->job);
	return 0;
}

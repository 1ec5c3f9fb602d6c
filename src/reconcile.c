/* reconcile: unknown outcomes settled by looking; see include/reconcile.h. */
#include "reconcile.h"
#include "arena.h"
#include "audit.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "notify.h"
#include "outbound.h"
#include "status.h"
#include "twilio.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Twilio's date_created has one-second resolution and our created_at is
 * taken just before the request: a small slack, not more (a call from an
 * earlier attempt must not be mistaken for this one). */
#define RECONCILE_SLACK_S 2
/* Attempts looked up per pass, and calls or messages to one number since
 * one attempt that a pass can weigh (more is doubt: it stays unknown). */
#define RECONCILE_BATCH 200
#define RECONCILE_FOUND_MAX 1000

static void audit_settle(struct audit *au, const char *attempt_id, const char *business,
	const char *to, const char *verdict, const char *sid, const char *why)
{
	json_t *rec = json_object();
	char key[40];

	snprintf(key, sizeof(key), "attempt-%s", attempt_id);
	json_object_set_new(rec, "attempt_id", json_integer(atoll(attempt_id)));
	json_object_set_new(rec, "to", json_string(to));
	json_object_set_new(rec, "decision", json_string(verdict));
	if (sid)
		json_object_set_new(rec, "sid", json_string(sid));
	if (why)
		json_object_set_new(rec, "reason", json_string(why));
	audit_record(au, "reconcile", key, business, rec);
}

/* 1 when some attempt other than attempt_id owns sid, 0 not, -1 error. */
static int sid_taken(struct db *db, const char *sid, const char *attempt_id)
{
	const char *p[2] = { sid, attempt_id };
	PGresult *res = db_exec_prepared(db, "reconcile_sid_taken",
		"SELECT 1 FROM contact_attempts WHERE provider_sid = $1 AND id <> $2::bigint", 2, p);
	int rc;

	if (res == NULL)
		return -1;
	rc = PQntuples(res) > 0;
	PQclear(res);
	return rc;
}

/* What one look at Twilio decided about an unknown attempt. */
struct look {
	const char *verdict; /* "placed", "not_placed", or NULL: it stays unknown */
	const char *sid;     /* what Twilio has (placed), else NULL */
	const char *why;     /* the recorded reason; when it stays unknown, what
	                        the log says (NULL: nothing, the database said why) */
};

/* An attempt that knows its sid (Twilio's answer named it, or a status
 * callback did): Twilio's word on that sid decides. */
static void look_by_sid(const struct config *cfg, struct arena *job, const char *kind,
	const char *sid, struct look *lk)
{
	struct twilio_found f;

	switch (twilio_fetch(cfg, kind, sid, &f)) {
	case TWILIO_LOOKUP_FOUND:
		lk->verdict = "placed";
		lk->sid = sid;
		lk->why = arena_printf(job, "reconciled: Twilio has %s (%s)", sid, f.status);
		break;
	case TWILIO_LOOKUP_NOT_FOUND:
		lk->verdict = "not_placed";
		lk->why = arena_printf(job, "reconciled: Twilio does not know %s (20404)", sid);
		break;
	default:
		lk->why = arena_printf(job, "%s could not be fetched", sid);
	}
}

/* Looks for what became of unknown call or text i of rows; found is room
 * for RECONCILE_FOUND_MAX entries (the pass's, reused per attempt).  Fills
 * lk; neither records, logs nor audits (reconcile_run does). */
static void look_one(const struct config *cfg, struct db *db, struct arena *job,
	PGresult *rows, int i, struct twilio_found *found, struct look *lk)
{
	const char *id = PQgetvalue(rows, i, 0), *channel = PQgetvalue(rows, i, 1);
	const char *to = PQgetvalue(rows, i, 2);
	const char *kind = strcmp(channel, "voice") == 0 ? "calls" : "messages";
	long long created_s = atoll(PQgetvalue(rows, i, 3));
	const char *sid = PQgetisnull(rows, i, 4) ? NULL : PQgetvalue(rows, i, 4);
	const struct twilio_found *match = NULL;
	size_t n = 0;
	int rc;

	memset(lk, 0, sizeof(*lk));
	if (sid) {
		look_by_sid(cfg, job, kind, sid, lk);
		return;
	}
	/* No sid: every call or message to the number, whatever its status
	 * (queued, ringing, accepted, scheduled, ...), created since the
	 * attempt; only a list read to its end can say "none". */
	if (twilio_find(cfg, kind, to, created_s - RECONCILE_SLACK_S, found, RECONCILE_FOUND_MAX,
		    &n) < 0) {
		lk->why = "Twilio's list could not be read to its end";
		return;
	}
	for (size_t k = 0; k < n; k++) {
		rc = sid_taken(db, found[k].sid, id);
		if (rc < 0)
			return;
		if (rc == 0 && (match == NULL || found[k].created_s < match->created_s))
			match = &found[k];
	}
	if (match) {
		lk->verdict = "placed";
		lk->sid = arena_strdup(job, match->sid);
		lk->why = arena_printf(job, "reconciled: Twilio has %s (%s) to this number",
			match->sid, match->status);
	} else {
		lk->verdict = "not_placed";
		lk->why = arena_printf(job,
			"reconciled: Twilio has no %s to this number since the attempt",
			strcmp(kind, "calls") == 0 ? "call" : "message");
	}
}

/* Records lk's verdict on unknown call or text i of rows (from 'unknown'
 * only), and audits, logs and counts it: the pass's one place for that. */
static void settle(struct db *db, struct audit *au, struct arena *job, PGresult *rows, int i,
	const struct look *lk, struct reconcile_stats *st)
{
	const char *id = PQgetvalue(rows, i, 0), *to = PQgetvalue(rows, i, 2);
	const char *business = PQgetvalue(rows, i, 5);
	int rc;

	if (lk->verdict == NULL) {
		st->still_unknown++;
		if (lk->why)
			log_warn("reconcile: attempt %s to %s stays unknown: %s", id, to, lk->why);
		return;
	}
	/* A call or text that never left: the office is told with the
	 * verdict, in its transaction, when it was the reminder's last
	 * attempt (notify.h). */
	rc = db_begin(db) < 0 ? -1 : outbound_settle(db, job, atoll(id), "unknown", lk->verdict,
		lk->sid, 0, lk->why, lk->verdict);
	if (rc > 0 && strcmp(lk->verdict, "not_placed") == 0 &&
		notify_unreached(db, atoll(PQgetvalue(rows, i, 6)), lk->why) < 0)
		rc = -1;
	if (rc < 0)
		db_rollback(db);
	else if (db_commit(db) < 0)
		rc = -1;
	if (rc < 0) {
		log_error("reconcile: attempt %s: cannot record: %s", id, db_last_error(db));
		return;
	}
	if (rc == 0)
		return; /* settled meanwhile (a status callback, another pass) */
	if (strcmp(lk->verdict, "placed") == 0)
		st->placed++;
	else
		st->not_placed++;
	audit_settle(au, id, business, to, lk->verdict, lk->sid, lk->why);
	log_info("reconcile: attempt %s to %s %s", id, to, lk->why);
}

/* The bound of the sweep: RECONCILE_CALL_SILENT_S, or outside production
 * RINGFENCE_TEST_CALL_SILENT_S when it is a whole number of seconds. */
static long long call_silent_s(const struct config *cfg)
{
	const char *v = getenv("RINGFENCE_TEST_CALL_SILENT_S");
	char *end;
	long long n;

	if (v == NULL || v[0] == '\0' || config_is_production(cfg))
		return RECONCILE_CALL_SILENT_S;
	n = strtoll(v, &end, 10);
	if (*end != '\0' || n < 0 || n > RECONCILE_CALL_SILENT_S) {
		log_warn("reconcile: RINGFENCE_TEST_CALL_SILENT_S '%s' ignored", v);
		return RECONCILE_CALL_SILENT_S;
	}
	return n;
}

static void audit_status(struct audit *au, const char *attempt_id, const char *business,
	const char *sid, const char *decision, const char *status, const char *why)
{
	json_t *rec = json_object();

	/* In the call's own trail (audit:call:<sid>), after its webhooks. */
	json_object_set_new(rec, "attempt_id", json_integer(atoll(attempt_id)));
	json_object_set_new(rec, "decision", json_string(decision));
	if (status)
		json_object_set_new(rec, "status", json_string(status));
	json_object_set_new(rec, "reason", json_string(why));
	audit_record(au, "reconcile", sid, business, rec);
}

/* Silent call i of rows (id, sid, business, delivery_status): Twilio's
 * word on it, applied through status_step when final.  Never sends. */
static void sweep_one(const struct config *cfg, struct db *db, struct audit *au,
	struct arena *job, long long now_s, PGresult *rows, int i, struct reconcile_stats *st)
{
	const char *id = PQgetvalue(rows, i, 0), *sid = PQgetvalue(rows, i, 1);
	const char *business = PQgetvalue(rows, i, 2), *before = PQgetvalue(rows, i, 3);
	const char *p[1] = { id }, *why;
	struct twilio_found f;
	struct status_result r;
	PGresult *res;

	switch (twilio_fetch(cfg, "calls", sid, &f)) {
	case TWILIO_LOOKUP_FOUND:
		break;
	case TWILIO_LOOKUP_NOT_FOUND:
		why = arena_printf(job, "no status since '%s' and Twilio does not know %s (20404):"
			" a person decides", before[0] ? before : "placed", sid);
		res = db_exec_prepared(db, "reconcile_status_lost",
			"UPDATE contact_attempts SET status_lost_at = now() WHERE id = $1::bigint"
			" AND status_lost_at IS NULL RETURNING 1", 1, p);
		if (res == NULL) {
			log_error("reconcile: call %s: cannot record: %s", sid, db_last_error(db));
			return;
		}
		if (PQntuples(res) == 1) {
			st->status_lost++;
			audit_status(au, id, business, sid, "status_lost", NULL, why);
			log_warn("reconcile: attempt %s: %s", id, why);
		}
		PQclear(res);
		return;
	default:
		st->status_pending++;
		log_warn("reconcile: attempt %s: %s could not be fetched", id, sid);
		return;
	}
	if (status_call_rank(f.status) != STATUS_FINAL_RANK) {
		st->status_pending++; /* still going at Twilio (or queued): a later pass */
		return;
	}
	if (status_step(db, job, cfg->from_number, 1, id, sid, f.status, NULL, NULL, now_s, &r) < 0) {
		log_error("reconcile: call %s: cannot record: %s", sid, db_last_error(db));
		return;
	}
	if (strcmp(r.result, "moved") != 0)
		return; /* a status callback (or another pass) came first */
	st->status_settled++;
	why = arena_printf(job, "status callbacks lost: Twilio says %s is %s%s%s", sid, f.status,
		r.retried ? "; retry reminder created" : "", r.notified ? "; the office is told" : "");
	audit_status(au, id, business, sid, "status_settled", f.status, why);
	log_info("reconcile: attempt %s: %s", id, why);
}

/* The sweep of placed calls whose status stopped short of final for
 * call_silent_s (reconcile.h).  The condition repeats the predicate of
 * contact_attempts_sweep_idx (sql/033_call_sweep.sql), its statuses
 * taken from status.c's table.  0, or -1 when the database failed. */
static int sweep_calls(const struct config *cfg, struct db *db, struct audit *au,
	struct arena *job, long long now_s, struct reconcile_stats *st)
{
	char silent[24];
	const char *p[1] = { silent };
	const char *sql = arena_printf(job,
		"SELECT id, provider_sid, business_id, COALESCE(delivery_status, '')"
		" FROM contact_attempts WHERE channel = 'voice' AND status = 'placed'"
		" AND provider_sid IS NOT NULL AND status_lost_at IS NULL"
		" AND (delivery_status IS NULL OR NOT (delivery_status = ANY ('%s'::text[])))"
		" AND updated_at <= now() - make_interval(secs => $1::bigint)"
		" ORDER BY updated_at LIMIT %d", status_call_finals(), RECONCILE_BATCH);
	PGresult *res;

	snprintf(silent, sizeof(silent), "%lld", call_silent_s(cfg));
	res = db_exec_prepared(db, "reconcile_silent_calls", sql, 1, p);
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
		sweep_one(cfg, db, au, job, now_s, res, i, st);
	PQclear(res);
	return 0;
}

int reconcile_run(const struct config *cfg, struct db *db, struct audit *au, struct arena *job,
	long long now_s, struct reconcile_stats *st)
{
	struct twilio_found *found = NULL;
	struct look lk;
	char now[32];
	const char *p[1] = { now };
	PGresult *res;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	clock_sql(now_s, now);
	res = db_exec_prepared(db, "reconcile_expire",
		"WITH a AS (UPDATE contact_attempts SET status = 'unknown',"
		" error_message = 'the worker''s lease expired before it recorded an outcome',"
		" updated_at = now() WHERE status = 'dialing' AND lease_until < $1::timestamptz"
		" RETURNING id, reminder_id),"
		" r AS (UPDATE reminders SET status = 'unknown',"
		" status_reason = 'the worker''s lease expired: outcome unknown', updated_at = now()"
		" FROM a WHERE reminders.id = a.reminder_id AND reminders.status = 'dialing' RETURNING 1)"
		" SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM r)", 1, p);
	if (res == NULL)
		goto out;
	st->expired = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (st->expired > 0)
		log_warn("reconcile: %d attempt(s) past their lease are now unknown", st->expired);

	res = db_exec_prepared(db, "reconcile_unknown",
		"SELECT id, channel, to_address, floor(extract(epoch FROM created_at))::bigint,"
		" provider_sid, business_id, reminder_id FROM contact_attempts WHERE status = 'unknown'"
		" ORDER BY created_at LIMIT " "200", 0, NULL);
	if (res == NULL)
		goto out;
	for (int i = 0; i < PQntuples(res) && i < RECONCILE_BATCH; i++) {
		if (strcmp(PQgetvalue(res, i, 1), "email") == 0) {
			st->still_unknown++; /* no list to ask: a person decides */
			continue;
		}
		if (found == NULL)
			found = arena_calloc(job, RECONCILE_FOUND_MAX * sizeof(*found));
		look_one(cfg, db, job, res, i, found, &lk);
		settle(db, au, job, res, i, &lk, st);
	}
	PQclear(res);
	if (sweep_calls(cfg, db, au, job, now_s, st) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		log_error("reconcile: database unavailable: %s", db_last_error(db));
	return rc;
}

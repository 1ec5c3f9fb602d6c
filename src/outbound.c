/* outbound: the single send function; see include/outbound.h. */
#include "outbound.h"
#include "allowlist.h"
#include "arena.h"
#include "audit.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "failsafe.h"
#include "log.h"
#include "mail.h"
#include "notify.h"
#include "outbound_grant.h"
#include "ratelimit.h"
#include "twilio.h"
#include "unsubscribe.h"
#include "util.h"
#include "wording.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *outbound_status_name(enum outbound_status s)
{
	static const char *const names[] = {
		[OUTBOUND_PLACED] = "placed", [OUTBOUND_FAILED] = "failed",
		[OUTBOUND_UNKNOWN] = "unknown", [OUTBOUND_BLOCKED] = "blocked_not_allowed",
		[OUTBOUND_SKIPPED_RATE] = "skipped_rate_limited", [OUTBOUND_DEFERRED] = "deferred",
		[OUTBOUND_HELD] = "held", [OUTBOUND_ERROR] = "error",
	};
	return (unsigned)s < ARRAY_LEN(names) ? names[s] : "?";
}

int outbound_settle(struct db *db, struct arena *a, long long attempt_id, const char *from,
	const char *attempt_status, const char *provider_sid, int error_code,
	const char *error_message, const char *reminder_status)
{
	char id[24], code[16], *msg = NULL, *froms;
	const char *p[7];
	PGresult *res;
	int rc = -1;

	snprintf(id, sizeof(id), "%lld", attempt_id);
	snprintf(code, sizeof(code), "%d", error_code);
	if (error_message) /* the column's bound */
		msg = arena_strndup(a, error_message, strnlen(error_message, 1000));
	froms = arena_printf(a, "{%s}", from);
	p[0] = id;
	p[1] = attempt_status;
	p[2] = provider_sid && provider_sid[0] ? provider_sid : NULL;
	p[3] = error_code ? code : NULL;
	p[4] = msg;
	p[5] = reminder_status;
	p[6] = froms;
	/* One statement: the attempt and its reminder move together or not
	 * at all.  The reminder moves only out of the in-flight states, so a
	 * status callback that already completed it is never undone. */
	res = db_exec_prepared(db, "outbound_settle",
		"WITH a AS (UPDATE contact_attempts SET status = $2,"
		" provider_sid = COALESCE($3, provider_sid),"
		" error_code = COALESCE($4::int, error_code),"
		" error_message = COALESCE($5, error_message),"
		" placed_at = CASE WHEN $2 = 'placed' THEN COALESCE(placed_at, now()) ELSE placed_at END,"
		" settled_at = CASE WHEN $2 IN ('dialing', 'unknown') THEN NULL ELSE now() END,"
		" updated_at = now()"
		" WHERE id = $1::bigint AND status = ANY ($7::text[]) RETURNING reminder_id),"
		" r AS (UPDATE reminders SET status = $6, status_reason = COALESCE($5, status_reason),"
		" updated_at = now() FROM a WHERE reminders.id = a.reminder_id"
		" AND reminders.status IN ('dialing', 'unknown', 'not_placed') RETURNING 1)"
		" SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM r)",
		7, p);
	if (res == NULL)
		goto out;
	rc = atoi(PQgetvalue(res, 0, 0)) > 0 ? 1 : 0;
	PQclear(res);
out:
	return rc;
}

/* Deletes the attempt (still 'dialing': nothing was sent) and puts its
 * reminder back to 'pending' in one statement, with not_before_s (0:
 * unchanged) and reason.  Returns 1 done, 0 not found in that state, -1
 * on a database error (the attempt then stays 'dialing' and its lease
 * expiry makes it 'unknown' for the reconciler: still nothing is sent). */
static int release_attempt(struct db *db, long long attempt_id, long long not_before_s,
	const char *reason)
{
	char id[24], nb[32];
	const char *p[3] = { id, NULL, reason };
	PGresult *res;
	int rc = -1;

	snprintf(id, sizeof(id), "%lld", attempt_id);
	if (not_before_s > 0) {
		clock_sql(not_before_s, nb);
		p[1] = nb;
	}
	res = db_exec_prepared(db, "outbound_release",
		"WITH d AS (DELETE FROM contact_attempts WHERE id = $1::bigint AND status = 'dialing'"
		" RETURNING reminder_id),"
		" c AS (DELETE FROM calls USING d WHERE calls.reminder_id = d.reminder_id"
		" AND calls.call_sid IS NULL AND calls.seq = 0 RETURNING 1)"
		" UPDATE reminders SET status = 'pending',"
		" not_before = COALESCE($2::timestamptz, not_before), status_reason = $3,"
		" updated_at = now() FROM d WHERE reminders.id = d.reminder_id"
		" AND reminders.status = 'dialing' RETURNING reminders.id",
		3, p);
	if (res == NULL)
		goto out;
	rc = PQntuples(res) > 0 ? 1 : 0;
	PQclear(res);
out:
	return rc;
}

/* Adds what Twilio or the mail server answered (its id, error and time)
 * to an audit record. */
static void audit_result(json_t *rec, const struct twilio_result *tr)
{
	if (tr->sid[0])
		json_object_set_new(rec, "sid", json_string(tr->sid));
	if (tr->error_code)
		json_object_set_new(rec, "error_code", json_integer(tr->error_code));
	if (tr->error_message[0])
		json_object_set_new(rec, "error_message", json_string(tr->error_message));
	json_object_set_new(rec, "elapsed_ms", json_integer(tr->elapsed_ms));
}

/* Writes the audit record of one decision or request about at. */
static void audit_attempt(const struct outbound_ctx *ctx, const struct outbound_attempt *at,
	const char *decision, const char *reason, const struct twilio_result *tr)
{
	json_t *rec = json_object();
	char key[40], biz[24];

	/* A reminder the claim deferred has no attempt row: keyed by itself. */
	if (at->attempt_id > 0)
		snprintf(key, sizeof(key), "attempt-%lld", at->attempt_id);
	else
		snprintf(key, sizeof(key), "reminder-%lld", at->reminder_id);
	snprintf(biz, sizeof(biz), "%lld", at->business_id);
	json_object_set_new(rec, "attempt_id", json_integer(at->attempt_id));
	json_object_set_new(rec, "reminder_id", json_integer(at->reminder_id));
	json_object_set_new(rec, "channel", json_string(at->channel));
	json_object_set_new(rec, "to", json_string(at->to));
	json_object_set_new(rec, "decision", json_string(decision));
	if (reason)
		json_object_set_new(rec, "reason", json_string(reason));
	if (tr) {
		static const char *const outcomes[] = { "ok", "rejected", "unknown" };
		json_object_set_new(rec, "outcome",
			json_string((unsigned)tr->outcome < 3 ? outcomes[tr->outcome] : "?"));
		json_object_set_new(rec, "http_status", json_integer(tr->http_status));
		audit_result(rec, tr);
		if (tr->request_redacted)
			json_object_set_new(rec, "request", json_string(tr->request_redacted));
		if (tr->response_body)
			json_object_set_new(rec, "response", json_string(tr->response_body));
	}
	audit_record(ctx->audit, "outbound", key, biz, rec);
}

/* Sleeps ms milliseconds, resuming after signals: the attempt in hand is
 * finished even when SIGTERM arrives. */
static void sleep_ms(long long ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The allow-listed fields of at (DESIGN.md rule 10) for wording.h, which
 * builds the text and the email from them and the business's lines. */
static struct wording_values attempt_values(const struct outbound_attempt *at)
{
	struct wording_values v = { at->business_name, at->when_date, at->when_time,
		at->callback_phone };
	return v;
}

/* The client the reminder's appointment is for, or -1 (database error or
 * no such appointment). */
static long long email_client_id(struct db *db, const struct outbound_attempt *at)
{
	char appt[24], biz[24];
	const char *p[2] = { appt, biz };
	long long id = -1;
	PGresult *res;

	snprintf(appt, sizeof(appt), "%lld", at->appointment_id);
	snprintf(biz, sizeof(biz), "%lld", at->business_id);
	res = db_exec_prepared(db, "outbound_email_client",
		"SELECT client_id FROM appointments WHERE id = $1::bigint AND business_id = $2::bigint",
		2, p);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return id;
}

/* Which message the text or email of at is, in one read of its reminder:
 * the booking confirmation's templates for kind 'booking', the reminder's
 * for the others; a staff reply from the inbox (kind 'reply',
 * sql/017_office.sql) is its own text, "<business name>: <body>" (the name
 * as texts carry it), put in *text (in the job's arena; NULL otherwise).
 * 0, or -1 on a database error or a reply that is not a text with a body
 * (nothing is sent then). */
static int attempt_message(const struct outbound_ctx *ctx, const struct outbound_attempt *at,
	enum wording_message *m, char **text)
{
	char rem[24];
	const char *p[1] = { rem }, *v[2];

	*m = WORDING_REMINDER;
	*text = NULL;
	snprintf(rem, sizeof(rem), "%lld", at->reminder_id);
	if (db_row_prepared(ctx->db, ctx->job, "outbound_kind",
			"SELECT kind, body FROM reminders WHERE id = $1::bigint", 1, p, 2, v) != 1)
		return -1;
	if (strcmp(v[0], "booking") == 0)
		*m = WORDING_BOOKING;
	else if (strcmp(v[0], "reply") == 0) {
		/* A staff reply from the inbox: its own text, under the
		 * business's name so the client knows who writes. */
		if (v[1] == NULL || strcmp(at->channel, "sms") != 0)
			return -1;
		*text = arena_printf(ctx->job, "%s: %s", wording_sms_name(ctx->job, at->business_name),
			v[1]);
	}
	return 0;
}

/* Writes the calls row the engine serves this reminder call's webhooks
 * from; token gets its 32 hex digits.  0 or -1. */
static int create_call_row(const struct outbound_ctx *ctx, const struct outbound_attempt *at,
	char token[33])
{
	unsigned char raw[16];
	char biz[24], appt[24], rem[24];
	const char *p[6] = { token, biz, appt, rem, ctx->call_flow, ctx->call_start_state };
	PGresult *res;

	if (util_random(raw, sizeof(raw)) < 0)
		return -1;
	util_hex(raw, sizeof(raw), token);
	snprintf(biz, sizeof(biz), "%lld", at->business_id);
	snprintf(appt, sizeof(appt), "%lld", at->appointment_id);
	snprintf(rem, sizeof(rem), "%lld", at->reminder_id);
	res = db_exec_prepared(ctx->db, "outbound_call_row",
		"INSERT INTO calls (token, business_id, appointment_id, reminder_id, flow, state, seq)"
		" VALUES ($1, $2::bigint, $3::bigint, $4::bigint, $5, $6, 0)", 6, p);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int outbound_flag_number(struct db *db, const char *phone, long long business_id,
	const char *default_from, int code, const char *message)
{
	char biz[24];
	const char *p[5] = { phone, biz, default_from && default_from[0] ? default_from : NULL,
		outbound_code_opts_out(code) ? "opt_out" : "invalid", message ? message : "" };
	PGresult *res;

	if (!outbound_code_opts_out(code) && !outbound_code_invalid(code))
		return 0;
	snprintf(biz, sizeof(biz), "%lld", business_id);
	/* Twilio keeps an opt-out per recipient and sender number, as an
	 * inbound STOP does (src/sms.c): every business sending from the
	 * number this business sends from loses the client, no other
	 * (rf_flag_number, sql/026_status_step.sql, which the status
	 * callbacks' one statement runs too). */
	res = db_exec_prepared(db, "outbound_flag_number",
		"SELECT rf_flag_number($1, $2::bigint, $3, $4, $5)", 5, p);
	if (res == NULL) {
		log_error("outbound: cannot flag %s after Twilio error %d: %s", phone, code,
			db_last_error(db));
		return -1;
	}
	PQclear(res);
	return 1;
}

int outbound_code_opts_out(int code)
{
	return code == 21610;
}

int outbound_code_invalid(int code)
{
	/* 21211 "Invalid 'To' Phone Number" (messages), 21217 "Phone number
	 * does not appear to be valid" (calls). */
	return code == 21211 || code == 21217;
}

/* Records the deferral of at until retry_s when that is before it goes
 * stale, else its skip for the rate limit; reason says which limit.  *why
 * gets the recorded reason (in the job's arena), *rc release_attempt's or
 * outbound_settle's answer.  Returns OUTBOUND_DEFERRED or
 * OUTBOUND_SKIPPED_RATE; neither logs nor audits (outbound_send does). */
static enum outbound_status defer_or_skip(const struct outbound_ctx *ctx,
	const struct outbound_attempt *at, long long retry_s, const char *reason,
	const char **why, int *rc)
{
	if (retry_s > 0 && retry_s < at->stale_s) {
		*why = arena_printf(ctx->job, "deferred: %s", reason);
		*rc = release_attempt(ctx->db, at->attempt_id, retry_s, *why);
		return OUTBOUND_DEFERRED;
	}
	*why = arena_printf(ctx->job, "skipped: %s until after the reminder goes stale", reason);
	*rc = outbound_settle(ctx->db, ctx->job, at->attempt_id, "dialing", "skipped_rate_limited",
		NULL, 0, *why, "skipped");
	return OUTBOUND_SKIPPED_RATE;
}

/* See outbound.h: the claim already recorded it; audit and log alike. */
void outbound_over_limit(const struct outbound_ctx *ctx, const struct outbound_attempt *at,
	int skipped, const char *reason)
{
	enum outbound_status st = skipped ? OUTBOUND_SKIPPED_RATE : OUTBOUND_DEFERRED;

	audit_attempt(ctx, at, outbound_status_name(st), reason, NULL);
	if (skipped)
		log_info("outbound: attempt %lld reminder %lld %s", at->attempt_id, at->reminder_id,
			reason);
	else
		log_info("outbound: reminder %lld %s", at->reminder_id, reason);
}

/* The request itself, after every guard said yes (grant: for at->to).
 * tr is filled.  Returns 0, or -1 when the text or email could not be
 * built (the business's wording unreadable, no unsubscribe link, or the
 * template does not render): nothing was sent,
 * tr says why as a refusal.  Every string lives in the job's arena. */
static int do_request(const struct outbound_ctx *ctx, const struct outbound_attempt *at,
	const struct outbound_grant *grant, const char *token, struct twilio_result *tr)
{
	const struct config *cfg = ctx->cfg;
	struct mail_message m;
	struct buf html;
	struct wording w;
	struct wording_values vals;
	enum wording_message msg = WORDING_REMINDER;
	long long client_id;
	char *link = NULL, *made, *text = NULL, why[200];

	if (ctx->crash_hook)
		ctx->crash_hook("during_request");
	if (strcmp(at->channel, "voice") == 0) {
		struct twilio_call_request rq;
		memset(&rq, 0, sizeof(rq));
		rq.to = at->to;
		rq.from = at->from;
		rq.url = arena_printf(ctx->job, "%s/twilio/voice/%s?c=%s", cfg->public_url,
			ctx->call_flow, token);
		rq.status_callback = arena_printf(ctx->job, "%s/twilio/status/call?a=%lld",
			cfg->public_url, at->attempt_id);
		rq.timeout_s = OUTBOUND_RING_S;
		rq.machine_detection = at->machine_detection;
		twilio_call_create(grant, cfg, &rq, tr);
		return 0;
	}
	/* Texts and emails are the templates with the business's wording
	 * (wording.h); when it cannot be read, no longer passes its check, or
	 * the text would pass its segment limit, nothing is sent. */
	vals = attempt_values(at);
	snprintf(why, sizeof(why), "the business's message wording cannot be read");
	if (attempt_message(ctx, at, &msg, &text) < 0
		|| (text == NULL && (wording_load(ctx->db, ctx->job, at->business_id, &w) < 0
			|| (strcmp(at->channel, "sms") == 0
				&& (text = wording_message_sms(ctx->job, msg, &w, &vals, why,
					sizeof(why))) == NULL)))) {
		memset(tr, 0, sizeof(*tr));
		tr->outcome = TWILIO_REJECTED;
		snprintf(tr->error_message, sizeof(tr->error_message), "%s", why);
		return -1;
	}
	if (strcmp(at->channel, "sms") == 0) {
		twilio_message_create(grant, cfg, at->to, at->from, text,
			arena_printf(ctx->job, "%s/twilio/status/sms?a=%lld", cfg->public_url,
				at->attempt_id), tr);
		return 0;
	}
	/* Email: its own wording and a signed one-click unsubscribe link
	 * (RFC 8058).  Without a link nothing is sent.  unsubscribe_url's
	 * malloc'd link is copied into the job's arena and freed at once. */
	client_id = email_client_id(ctx->db, at);
	if (client_id > 0 && (made = unsubscribe_url(cfg, client_id, at->business_id)) != NULL) {
		link = arena_strdup(ctx->job, made);
		free(made);
	}
	memset(tr, 0, sizeof(*tr));
	if (link == NULL) {
		tr->outcome = TWILIO_REJECTED;
		snprintf(tr->error_message, sizeof(tr->error_message), "%s",
			client_id > 0 ? "no unsubscribe link: RINGFENCE_PUBLIC_URL or"
					" TWILIO_AUTH_TOKEN is not set"
				      : "no unsubscribe link: the appointment's client cannot be read");
		return -1;
	}
	buf_init_arena(&html, ctx->job);
	memset(&m, 0, sizeof(m));
	m.subject = wording_message_subject(ctx->job, msg, &w, &vals);
	text = wording_message_text(ctx->job, msg, &w, &vals, link);
	if (text == NULL || m.subject == NULL
		|| wording_message_html(ctx->job, msg, &html, &w, &vals, link) < 0) {
		tr->outcome = TWILIO_REJECTED;
		snprintf(tr->error_message, sizeof(tr->error_message),
			"the email template does not render");
		return -1;
	}
	m.to = at->to;
	m.from = cfg->mail_from;
	m.text = text;
	m.html = buf_str(&html);
	m.list_unsubscribe = arena_printf(ctx->job, "<%s>", link);
	m.one_click = 1;
	mail_send(grant, cfg, &m, tr);
	return 0;
}

/* A definite refusal, recorded in one transaction: the attempt and its
 * reminder 'failed', the number flagged (21610, 21211), and the office
 * told when that was the reminder's last attempt (notify.h).  Returns
 * outbound_settle's answer, -1 when any part failed (nothing of it
 * stays: the attempt stays 'dialing' for the reconciler). */
static int settle_failed(const struct outbound_ctx *ctx, const struct outbound_attempt *at,
	const struct twilio_result *tr, const char *reason)
{
	int phone = strcmp(at->channel, "email") != 0, rc;

	if (db_begin(ctx->db) < 0)
		return -1;
	rc = outbound_settle(ctx->db, ctx->job, at->attempt_id, "dialing,unknown,not_placed",
		"failed", NULL, tr->error_code, reason, "failed");
	if (phone && rc >= 0 && outbound_flag_number(ctx->db, at->to, at->business_id,
		    ctx->cfg->from_number, tr->error_code, tr->error_message) < 0)
		rc = -1;
	if (rc > 0 && notify_unreached(ctx->db, at->reminder_id, reason) < 0)
		rc = -1;
	if (rc < 0)
		db_rollback(ctx->db);
	else if (db_commit(ctx->db) < 0)
		rc = -1;
	return rc;
}

/* The one top of a send: every step below returns what it did, and only
 * this function writes the audit records and the log lines. */
enum outbound_status outbound_send(const struct outbound_ctx *ctx, const struct outbound_attempt *at,
	long long now_s)
{
	const struct config *cfg = ctx->cfg;
	struct outbound_grant grant = { 0, NULL };
	struct twilio_result tr;
	enum outbound_status st;
	enum ratelimit_verdict v;
	const char *reason = NULL, *why = NULL;
	char fs_reason[512], token[33] = "";
	long long retry_s = 0, wait_ms;
	int hourly, fs, phone = strcmp(at->channel, "email") != 0, rc, unbuilt;

	memset(&tr, 0, sizeof(tr));
	/* 1. The allow-list, first, so a refused address reaches nothing,
	 * not even the rate-limit counters. */
	if (!allowlist_permits(cfg, at->to)) {
		reason = arena_printf(ctx->job, "%s is not on RINGFENCE_ALLOWED_CONTACTS (%s)",
			at->to, cfg->env_name);
		rc = outbound_settle(ctx->db, ctx->job, at->attempt_id, "dialing",
			"blocked_not_allowed", NULL, 0, reason, "blocked_not_allowed");
		audit_attempt(ctx, at, "blocked_not_allowed", reason, NULL);
		log_warn("outbound: attempt %lld reminder %lld refused: %s", at->attempt_id,
			at->reminder_id, reason);
		st = rc < 0 ? OUTBOUND_ERROR : OUTBOUND_BLOCKED;
		goto out;
	}
	/* The transport contacts only the address the allow-list passed. */
	grant.magic = OUTBOUND_GRANT_MAGIC;
	grant.to = at->to;
	if (phone && at->from[0] == '\0') {
		reason = "no caller id: the business has no twilio_from and"
			 " TWILIO_FROM_NUMBER is not set";
		goto held;
	}
	if (!phone && (cfg->mail_from == NULL || cfg->mail_from[0] == '\0')) {
		reason = "no sender address: RINGFENCE_MAIL_FROM is not set";
		goto held;
	}
	/* 2. The rate limits' fast pre-check in Redis (counted only when
	 * within all three).  The claim already decided them in PostgreSQL,
	 * the authority; Redis may only refuse more. */
	hourly = at->hourly_limit >= 0 ? at->hourly_limit : cfg->limit_business_hour;
	v = ratelimit_take(ctx->rds, at->to, at->business_id, cfg->limit_recipient_day,
		cfg->limit_recipient_all_day, hourly, now_s, &retry_s);
	if (v == RATELIMIT_ERROR) {
		reason = "Redis unavailable: the rate limits cannot be checked";
		goto held;
	}
	if (v != RATELIMIT_OK) {
		if (v == RATELIMIT_RECIPIENT)
			reason = arena_printf(ctx->job,
				"recipient limit (%d contacts per 24 h from one business) reached",
				cfg->limit_recipient_day);
		else if (v == RATELIMIT_RECIPIENT_ALL)
			reason = arena_printf(ctx->job,
				"recipient limit across businesses (%d contacts per 24 h) reached",
				cfg->limit_recipient_all_day);
		else
			reason = arena_printf(ctx->job,
				"business limit (%d contacts per hour) reached", hourly);
		goto limited;
	}
	/* 3. The failsafe: tripped or unknown, nobody is contacted. */
	fs = failsafe_check_and_count(ctx->db, cfg, now_s, fs_reason, sizeof(fs_reason));
	if (fs != 0) {
		reason = arena_printf(ctx->job, fs > 0 ? "failsafe tripped: %s"
			: "failsafe state cannot be read: %s", fs_reason[0] ? fs_reason : "(no reason)");
		goto held;
	}
	/* 4. The pacer, per Twilio account (email has no Twilio account). */
	if (phone) {
		wait_ms = ratelimit_pace(ctx->rds, cfg->account_sid, cfg->cps);
		if (wait_ms < 0) {
			reason = "Redis unavailable: the pacer cannot be read";
			goto held;
		}
		if (wait_ms > OUTBOUND_MAX_PACE_MS) {
			retry_s = now_s + wait_ms / 1000 + 1;
			reason = "pacer queue too long";
			goto limited;
		}
		if (wait_ms > 0)
			sleep_ms(wait_ms);
	}
	/* 5. The engine's call row first: the call's first webhook may come
	 * before Twilio's answer to us does. */
	if (strcmp(at->channel, "voice") == 0 && create_call_row(ctx, at, token) < 0) {
		reason = arena_printf(ctx->job, "cannot write the call row: %s",
			db_last_error(ctx->db));
		goto held;
	}
	unbuilt = do_request(ctx, at, &grant, token, &tr) < 0;
	if (unbuilt)
		log_error("outbound: attempt %lld %s not sent: %s", at->attempt_id, at->channel,
			tr.error_message);
	audit_attempt(ctx, at, "request", NULL, &tr);
	if (ctx->crash_hook)
		ctx->crash_hook("before_record");

	/* 6. The record. */
	if (tr.outcome == TWILIO_OK) {
		rc = outbound_settle(ctx->db, ctx->job, at->attempt_id, "dialing,unknown,not_placed",
			"placed", tr.sid, 0, NULL, "placed");
		if (rc >= 0 && token[0]) {
			const char *p[2] = { token, tr.sid };
			PGresult *res = db_exec_prepared(ctx->db, "outbound_bind_sid",
				"UPDATE calls SET call_sid = $2 WHERE token = $1 AND call_sid IS NULL"
				" AND $2 ~ '^CA[0-9a-f]{32}$'", 2, p);
			if (res)
				PQclear(res);
		}
		st = OUTBOUND_PLACED;
	} else if (tr.outcome == TWILIO_REJECTED && tr.error_code == 20429) {
		if (ratelimit_backoff(ctx->rds, cfg->account_sid, OUTBOUND_BACKOFF_S) < 0)
			log_error("outbound: cannot back the pacer off after 20429 (Redis)");
		retry_s = now_s + OUTBOUND_BACKOFF_S;
		reason = "Twilio answered 20429 (too many requests)";
		goto limited;
	} else if (tr.outcome == TWILIO_REJECTED) {
		/* Nothing built (the wording, the template, the link): nothing
		 * left ringfence, and the reason says so. */
		reason = unbuilt ? arena_printf(ctx->job, "not sent: %s", tr.error_message)
			: arena_printf(ctx->job, "%s refused (%d): %s",
				phone ? "Twilio" : "the SMTP server", tr.error_code, tr.error_message);
		rc = settle_failed(ctx, at, &tr, reason);
		st = OUTBOUND_FAILED;
	} else {
		reason = arena_printf(ctx->job, "outcome unknown (HTTP %d): %s", tr.http_status,
			tr.error_message[0] ? tr.error_message : "no answer");
		/* A sid in an answer we cannot trust otherwise (a 5xx that
		 * still names the call) is kept: the reconciler fetches it. */
		rc = outbound_settle(ctx->db, ctx->job, at->attempt_id, "dialing", "unknown",
			tr.sid[0] ? tr.sid : NULL, 0, reason, "unknown");
		st = OUTBOUND_UNKNOWN;
	}
	if (rc < 0) {
		log_error("outbound: attempt %lld reminder %lld was %s (%s) but cannot be recorded: %s;"
			  " it stays 'dialing' until its lease expires and the reconciler settles it",
			at->attempt_id, at->reminder_id, outbound_status_name(st),
			tr.sid[0] ? tr.sid : "no sid", db_last_error(ctx->db));
		st = OUTBOUND_ERROR;
	} else if (rc == 0) {
		log_warn("outbound: attempt %lld was no longer in flight when its outcome (%s) came",
			at->attempt_id, outbound_status_name(st));
	} else {
		log_info("outbound: attempt %lld reminder %lld %s to %s: %s: %s", at->attempt_id,
			at->reminder_id, at->channel, at->to, outbound_status_name(st),
			tr.sid[0] ? tr.sid : tr.error_message);
	}
	goto out;

held:
	/* Nothing was sent: back to pending untouched but for the reason. */
	rc = release_attempt(ctx->db, at->attempt_id, 0, reason);
	audit_attempt(ctx, at, "held", reason, NULL);
	if (rc < 0) {
		log_error("outbound: attempt %lld reminder %lld not sent (%s); cannot put it back"
			  " (%s): its lease will expire and the reconciler settle it",
			at->attempt_id, at->reminder_id, reason, db_last_error(ctx->db));
		st = OUTBOUND_ERROR;
	} else {
		log_warn("outbound: attempt %lld reminder %lld not sent: %s", at->attempt_id,
			at->reminder_id, reason);
		st = OUTBOUND_HELD;
	}
	goto out;

limited:
	/* Over a limit: deferred until it frees, or skipped when that is
	 * too late. */
	st = defer_or_skip(ctx, at, retry_s, reason, &why, &rc);
	audit_attempt(ctx, at, outbound_status_name(st), why, NULL);
	if (rc < 0) {
		log_error("outbound: attempt %lld (%s): cannot record '%s': %s", at->attempt_id,
			at->to, why, db_last_error(ctx->db));
		st = OUTBOUND_ERROR;
	} else {
		log_info("outbound: attempt %lld reminder %lld %s", at->attempt_id,
			at->reminder_id, why);
	}
out:
	/* twilio.c's malloc'd request and response texts, freed at once
	 * (rule 3): the audit record above already holds its copies. */
	twilio_result_free(&tr);
	return st;
}

/* ---- email to the office ------------------------------------------------------ */

/* The office mail's row moved from 'claimed' to status (held: deleted,
 * nothing was sent).  1 moved, 0 not claimed any more, -1 database error. */
static int office_mail_settle(struct db *db, long long mail_id, const char *status,
	const char *provider_id, const char *error)
{
	char id[24];
	const char *p[4] = { id, status, provider_id && provider_id[0] ? provider_id : NULL,
		error };
	PGresult *res;
	int rc;

	snprintf(id, sizeof(id), "%lld", mail_id);
	if (status == NULL)
		res = db_exec_prepared(db, "office_mail_release",
			"DELETE FROM office_mails WHERE id = $1::bigint AND status = 'claimed'", 1, p);
	else
		res = db_exec_prepared(db, "office_mail_settle",
			"UPDATE office_mails SET status = $2, provider_id = $3, error = left($4, 1000),"
			" settled_at = now() WHERE id = $1::bigint AND status = 'claimed'", 4, p);
	if (res == NULL)
		return -1;
	rc = atoi(PQcmdTuples(res)) > 0;
	PQclear(res);
	return rc;
}

static void audit_office_mail(const struct outbound_ctx *ctx, const struct outbound_office_mail *m,
	const char *decision, const char *reason, const struct twilio_result *tr)
{
	json_t *rec = json_object();
	char key[48], biz[24];

	snprintf(key, sizeof(key), "office-mail-%lld", m->mail_id);
	snprintf(biz, sizeof(biz), "%lld", m->business_id);
	json_object_set_new(rec, "office_mail_id", json_integer(m->mail_id));
	json_object_set_new(rec, "channel", json_string("email"));
	json_object_set_new(rec, "to", json_string(m->to));
	json_object_set_new(rec, "decision", json_string(decision));
	if (reason)
		json_object_set_new(rec, "reason", json_string(reason));
	if (tr)
		audit_result(rec, tr);
	audit_record(ctx->audit, "outbound", key, biz, rec);
}

/* See outbound.h. */
enum outbound_status outbound_office_mail(const struct outbound_ctx *ctx,
	const struct outbound_office_mail *m, long long now_s)
{
	const struct config *cfg = ctx->cfg;
	struct outbound_grant grant = { 0, NULL };
	struct twilio_result tr;
	struct mail_message mm;
	enum outbound_status st;
	const char *reason = NULL, *status;
	char fs_reason[512];
	int fs, rc;

	(void)now_s;
	memset(&tr, 0, sizeof(tr));
	if (!allowlist_permits(cfg, m->to)) {
		reason = arena_printf(ctx->job, "%s is not on RINGFENCE_ALLOWED_CONTACTS (%s)",
			m->to, cfg->env_name);
		st = OUTBOUND_BLOCKED;
		status = "blocked_not_allowed";
		goto record;
	}
	grant.magic = OUTBOUND_GRANT_MAGIC;
	grant.to = m->to;
	if (cfg->mail_from == NULL || cfg->mail_from[0] == '\0') {
		reason = "no sender address: RINGFENCE_MAIL_FROM is not set";
		goto held;
	}
	/* The failsafe stops every outbound message, the office's too; it
	 * only reads here (the office's mail is not a contact of a client
	 * and does not count towards the window). */
	fs = failsafe_tripped(ctx->db, fs_reason, sizeof(fs_reason));
	if (fs != 0) {
		reason = arena_printf(ctx->job, fs > 0 ? "failsafe tripped: %s"
			: "failsafe state cannot be read%s", fs > 0 ? fs_reason : "");
		goto held;
	}
	memset(&mm, 0, sizeof(mm));
	mm.to = m->to;
	mm.from = cfg->mail_from;
	mm.subject = m->subject;
	mm.text = m->text;
	mm.html = m->html;
	mm.list_unsubscribe = arena_printf(ctx->job, "<%s>", m->settings_url);
	mm.one_click = 0;
	mail_send(&grant, cfg, &mm, &tr);
	if (tr.outcome == TWILIO_OK) {
		st = OUTBOUND_PLACED;
		status = "sent";
	} else if (tr.outcome == TWILIO_REJECTED) {
		st = OUTBOUND_FAILED;
		status = "failed";
		reason = arena_printf(ctx->job, "the SMTP server refused (%d): %s", tr.error_code,
			tr.error_message);
	} else {
		st = OUTBOUND_UNKNOWN;
		status = "unknown";
		reason = arena_printf(ctx->job, "outcome unknown: %s",
			tr.error_message[0] ? tr.error_message : "no answer");
	}
record:
	audit_office_mail(ctx, m, status, reason, status[0] == 'b' ? NULL : &tr);
	rc = office_mail_settle(ctx->db, m->mail_id, status, tr.sid, reason);
	if (rc < 0) {
		log_error("outbound: office mail %lld to %s was %s but cannot be recorded: %s",
			m->mail_id, m->to, status, db_last_error(ctx->db));
		st = OUTBOUND_ERROR;
	} else {
		log_info("outbound: office mail %lld to %s: %s%s%s", m->mail_id, m->to, status,
			reason ? ": " : "", reason ? reason : "");
	}
	goto out;
held:
	audit_office_mail(ctx, m, "held", reason, NULL);
	if (office_mail_settle(ctx->db, m->mail_id, NULL, NULL, NULL) < 0) {
		log_error("outbound: office mail %lld not sent (%s) and its claim cannot be undone: %s",
			m->mail_id, reason, db_last_error(ctx->db));
		st = OUTBOUND_ERROR;
	} else {
		log_warn("outbound: office mail %lld to %s not sent: %s", m->mail_id, m->to, reason);
		st = OUTBOUND_HELD;
	}
out:
	twilio_result_free(&tr);
	return st;
}

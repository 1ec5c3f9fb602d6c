/* status: Twilio's status callbacks; see include/status.h. */
#include "status.h"
#include "outbound.h"
#include "app.h"
#include "arena.h"
#include "clock.h"
#include "db.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "valid.h"

#include <stdlib.h>
#include <string.h>

int status_call_rank(const char *s)
{
	static const struct { const char *name; int rank; } ranks[] = {
		{ "queued", 1 }, { "initiated", 1 }, { "ringing", 2 }, { "in-progress", 3 },
		{ "completed", STATUS_FINAL_RANK }, { "busy", STATUS_FINAL_RANK },
		{ "no-answer", STATUS_FINAL_RANK }, { "failed", STATUS_FINAL_RANK },
		{ "canceled", STATUS_FINAL_RANK },
	};
	for (size_t i = 0; s && i < sizeof(ranks) / sizeof(ranks[0]); i++)
		if (strcmp(s, ranks[i].name) == 0)
			return ranks[i].rank;
	return -1;
}

int status_sms_rank(const char *s)
{
	static const struct { const char *name; int rank; } ranks[] = {
		{ "accepted", 1 }, { "scheduled", 1 }, { "queued", 2 }, { "sending", 3 },
		{ "sent", 4 }, { "partially_delivered", 5 },
		{ "delivered", STATUS_FINAL_RANK }, { "undelivered", STATUS_FINAL_RANK },
		{ "failed", STATUS_FINAL_RANK }, { "canceled", STATUS_FINAL_RANK },
		{ "read", STATUS_FINAL_RANK },
	};
	for (size_t i = 0; s && i < sizeof(ranks) / sizeof(ranks[0]); i++)
		if (strcmp(s, ranks[i].name) == 0)
			return ranks[i].rank;
	return -1;
}

static int valid_sms_status(const char *v, size_t len)
{
	(void)len;
	return status_sms_rank(v) > 0;
}

static int valid_error_code(const char *v, size_t len)
{
	return len <= 6 && valid_uint(v, len);
}

const struct valid_field status_call_fields[ST_NFIELDS] = {
	[ST_SID] = { "CallSid", valid_call_sid, 1, VALID_TEXT },
	[ST_ACCOUNT] = { "AccountSid", valid_account_sid, 1, VALID_TEXT },
	[ST_STATUS] = { "CallStatus", valid_call_status, 1, VALID_TEXT },
	[ST_SEQ] = { "SequenceNumber", valid_uint, 0, VALID_INT64 },
	[ST_ERROR] = { "ErrorCode", valid_error_code, 0, VALID_INT64 },
};
const struct valid_field status_sms_fields[ST_NFIELDS] = {
	[ST_SID] = { "MessageSid", valid_message_sid, 1, VALID_TEXT },
	[ST_ACCOUNT] = { "AccountSid", valid_account_sid, 1, VALID_TEXT },
	[ST_STATUS] = { "MessageStatus", valid_sms_status, 1, VALID_TEXT },
	[ST_SEQ] = { "SequenceNumber", valid_uint, 0, VALID_INT64 }, /* messages carry none */
	[ST_ERROR] = { "ErrorCode", valid_error_code, 0, VALID_INT64 },
};
const struct valid_field status_query[STQ_NFIELDS] = {
	[STQ_ATTEMPT] = { "a", valid_uint, 0, VALID_TEXT },
};

/* The attempt row, locked. */
enum { A_ID, A_REMINDER, A_BUSINESS, A_CHANNEL, A_STATUS, A_SID, A_DELIVERY, A_SEQ, A_TO,
	A_NCOLS };
#define ATTEMPT_COLUMNS \
	"SELECT id, reminder_id, business_id, channel, status, provider_sid, delivery_status," \
	" delivery_seq, to_address FROM contact_attempts"

/* Locks and reads the attempt by its id (the callback URL's a=) or, without
 * one, by the provider's sid, into v in arena a.  1 found, 0 not, -1 error. */
static int find_attempt(struct db *db, struct arena *a, const char *attempt_id, const char *sid,
	const char *v[A_NCOLS])
{
	const char *p[1] = { attempt_id ? attempt_id : sid };

	if (attempt_id)
		return db_row_prepared(db, a, "status_by_id",
			ATTEMPT_COLUMNS " WHERE id = $1::bigint FOR UPDATE", 1, p, A_NCOLS, v);
	return db_row_prepared(db, a, "status_by_sid",
		ATTEMPT_COLUMNS " WHERE provider_sid = $1 FOR UPDATE", 1, p, A_NCOLS, v);
}

static int exec(struct db *db, const char *name, const char *sql, int n, const char *const *p,
	int *rows)
{
	PGresult *res = db_exec_prepared(db, name, sql, n, p);
	if (res == NULL)
		return -1;
	if (rows)
		*rows = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res)
							       : atoi(PQcmdTuples(res));
	PQclear(res);
	return 0;
}

/* The final status's effects on the reminder, the client and the retry
 * policy.  0 or -1. */
static int apply_final(struct db *db, struct arena *a, const char *kind, const char *v[A_NCOLS],
	const char *status, const struct valid_value *error_code, const char *default_from,
	struct outcome *out)
{
	/* A text read (WhatsApp's "read" comes after "delivered") reached
	 * the client as much as a delivered one. */
	int ok = strcmp(status, kind[0] == 'c' ? "completed" : "delivered") == 0 ||
		(kind[0] != 'c' && strcmp(status, "read") == 0);
	int retry = kind[0] == 'c' && (strcmp(status, "busy") == 0 || strcmp(status, "no-answer") == 0);
	const char *reason = arena_printf(a, "%s %s%s%s", kind[0] == 'c' ? "call" : "message", status,
		error_code->s ? ", error " : "", error_code->s ? error_code->s : "");
	int rows = 0;

	{
		const char *p[3] = { v[A_REMINDER], ok ? "completed" : "failed", reason };
		if (exec(db, "status_reminder",
			    "UPDATE reminders SET status = $2, status_reason = $3, updated_at = now()"
			    " WHERE id = $1::bigint AND status IN ('dialing', 'placed', 'unknown', 'not_placed')",
			    3, p, NULL) < 0)
			return -1;
	}
	/* The provider has it: an attempt we could not account for was placed. */
	{
		const char *p[1] = { v[A_ID] };
		if (exec(db, "status_attempt_placed",
			    "UPDATE contact_attempts SET status = 'placed', placed_at = COALESCE(placed_at, now()),"
			    " settled_at = now(), error_message = 'settled by a status callback', updated_at = now()"
			    " WHERE id = $1::bigint AND status IN ('unknown', 'not_placed')", 1, p, NULL) < 0)
			return -1;
	}
	if (error_code->s) {
		int rc = outbound_flag_number(db, v[A_TO], atoll(v[A_BUSINESS]), default_from,
			(int)error_code->i, reason);
		if (rc < 0)
			return -1;
		if (rc > 0)
			out->action = arena_printf(a, "%s; number flagged (%s)", reason, error_code->s);
	}
	if (retry) {
		char now[32];
		const char *p[2] = { v[A_REMINDER], now };
		clock_sql(clock_now_s(), now);
		if (exec(db, "status_retry",
			    "INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes,"
			    " attempt, due_at, stale_at, to_address)"
			    " SELECT r.business_id, r.appointment_id, r.channel, r.offset_minutes, r.attempt + 1,"
			    " $2::timestamptz + make_interval(mins => b.retry_delay_minutes), r.stale_at, r.to_address"
			    " FROM reminders r JOIN businesses b ON b.id = r.business_id"
			    " JOIN appointments ap ON ap.id = r.appointment_id"
			    " WHERE r.id = $1::bigint AND r.attempt <= b.retry_count AND r.attempt < 5"
			    /* An earlier plan's reminder (the appointment moved) retries nothing. */
			    " AND r.superseded_at IS NULL"
			    " AND ap.status IN ('booked', 'confirmed')"
			    " AND $2::timestamptz + make_interval(mins => b.retry_delay_minutes) < r.stale_at"
			    " ON CONFLICT DO NOTHING RETURNING id", 2, p, &rows) < 0)
			return -1;
		out->action = arena_printf(a, "%s; %s", reason,
			rows ? "retry reminder created" : "no retry (policy, staleness or already there)");
	}
	/* The last attempt did not reach the client: the office is told, in
	 * this transaction (once per reminder; a retry just created means
	 * this was not the last). */
	if (!ok) {
		long long n = notify_unreached(db, atoll(v[A_REMINDER]), reason);
		if (n < 0)
			return -1;
		if (n > 0)
			out->action = arena_printf(a, "%s; the office is told",
				out->action ? out->action : reason);
	}
	if (out->action == NULL)
		out->action = reason;
	return 0;
}

/* One status callback of kind "call" or "sms", its fields validated. */
static void status_handle(struct app *app, const struct route_input *in, const char *kind,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	struct db *db = app->db;
	const struct valid_value *f = in->form.v;
	const char *v[A_NCOLS], *status, *attempt_id;
	int in_tx = 0, found, rank, cur_rank, newer;
	int is_call = strcmp(kind, "call") == 0;

	status = f[ST_STATUS].s;
	attempt_id = in->query.v[STQ_ATTEMPT].s;
	if (db_begin(db) < 0) {
		out->error = arena_printf(a, "database unavailable: %s", db_last_error(db));
		goto out;
	}
	in_tx = 1;
	found = find_attempt(db, a, attempt_id, f[ST_SID].s, v);
	if (found < 0)
		goto dberr;
	if (found == 0) {
		out->error = "no contact attempt for this callback";
		goto out;
	}
	out->attempt_id = v[A_ID];
	out->business_id = v[A_BUSINESS];
	out->state_before = v[A_DELIVERY] ? v[A_DELIVERY] : "";
	if (strcmp(v[A_CHANNEL], is_call ? "voice" : "sms") != 0) {
		out->error = "callback kind does not match the attempt's channel";
		goto out;
	}
	if (v[A_SID] && strcmp(v[A_SID], f[ST_SID].s) != 0) {
		out->error = "sid does not match the attempt";
		goto out;
	}
	if (v[A_SID] == NULL) {
		/* The callback beat the worker's record: bind the sid now. */
		const char *p[2] = { v[A_ID], f[ST_SID].s };
		if (exec(db, "status_bind",
			    "UPDATE contact_attempts SET provider_sid = $2, updated_at = now()"
			    " WHERE id = $1::bigint AND provider_sid IS NULL", 2, p, NULL) < 0)
			goto dberr;
	}
	rank = is_call ? status_call_rank(status) : status_sms_rank(status);
	cur_rank = is_call ? status_call_rank(v[A_DELIVERY]) : status_sms_rank(v[A_DELIVERY]);
	if (cur_rank == STATUS_FINAL_RANK)
		newer = 0; /* a final status never moves */
	else if (is_call && f[ST_SEQ].s && v[A_SEQ])
		newer = f[ST_SEQ].i > atoll(v[A_SEQ]);
	else
		newer = rank > cur_rank;
	if (!newer) {
		out->state_after = "";
		out->action = "duplicate or out of order: no change";
		goto commit;
	}
	{
		const char *p[4] = { v[A_ID], status,
			is_call ? f[ST_SEQ].s : arena_printf(a, "%d", rank), f[ST_ERROR].s };
		if (exec(db, "status_delivery",
			    "UPDATE contact_attempts SET delivery_status = $2,"
			    " delivery_seq = COALESCE($3::int, delivery_seq),"
			    " error_code = COALESCE($4::int, error_code), updated_at = now()"
			    " WHERE id = $1::bigint", 4, p, NULL) < 0)
			goto dberr;
	}
	out->state_after = status;
	if (is_call) {
		const char *p[2] = { f[ST_SID].s, status };
		if (exec(db, "status_call_row",
			    "UPDATE calls SET call_status = $2, updated_at = now() WHERE call_sid = $1",
			    2, p, NULL) < 0)
			goto dberr;
	}
	if (rank == STATUS_FINAL_RANK &&
		apply_final(db, a, kind, v, status, &f[ST_ERROR], app->cfg.from_number, out) < 0)
		goto dberr;
commit:
	if (db_commit(db) < 0)
		goto dberr;
	in_tx = 0;
	goto out;
dberr:
	out->error = arena_printf(a, "database error: %s", db_last_error(db));
out:
	if (in_tx)
		db_rollback(db);
}

void status_call_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	status_handle(app, in, "call", out);
}

void status_sms_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	status_handle(app, in, "sms", out);
}

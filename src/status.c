/* status: Twilio's status callbacks; see include/status.h. */
#include "status.h"
#include "outbound.h"
#include "app.h"
#include "arena.h"
#include "clock.h"
#include "db.h"
#include "form.h"
#include "http.h"
#include "valid.h"

#include <stdlib.h>
#include <string.h>

/* The delivery statuses of each kind and their ranks: the rank
 * functions and the arrays rf_status_step reads (rank_arrays) both come
 * from these tables. */
struct status_rank {
	const char *name;
	int rank;
};
static const struct status_rank call_ranks[] = {
	{ "queued", 1 }, { "initiated", 1 }, { "ringing", 2 }, { "in-progress", 3 },
	{ "completed", STATUS_FINAL_RANK }, { "busy", STATUS_FINAL_RANK },
	{ "no-answer", STATUS_FINAL_RANK }, { "failed", STATUS_FINAL_RANK },
	{ "canceled", STATUS_FINAL_RANK },
};
static const struct status_rank sms_ranks[] = {
	{ "accepted", 1 }, { "scheduled", 1 }, { "queued", 2 }, { "sending", 3 },
	{ "sent", 4 }, { "partially_delivered", 5 },
	{ "delivered", STATUS_FINAL_RANK }, { "undelivered", STATUS_FINAL_RANK },
	{ "failed", STATUS_FINAL_RANK }, { "canceled", STATUS_FINAL_RANK },
	{ "read", STATUS_FINAL_RANK },
};
#define NRANKS(t) (sizeof(t) / sizeof((t)[0]))

static int rank_of(const struct status_rank *t, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s, t[i].name) == 0)
			return t[i].rank;
	return -1;
}

int status_call_rank(const char *s)
{
	return rank_of(call_ranks, NRANKS(call_ranks), s);
}

int status_sms_rank(const char *s)
{
	return rank_of(sms_ranks, NRANKS(sms_ranks), s);
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

/* A kind's rank table as the PostgreSQL arrays rf_status_step reads
 * ("{queued,initiated,...}" and "{1,1,...}"), from the same table the
 * rank function uses, built once per process. */
struct rank_arrays {
	char names[256], ranks[128];
};

static void rank_arrays_fill(struct rank_arrays *r, const struct status_rank *t, size_t n)
{
	size_t ln = 0, lr = 0;

	ln += (size_t)snprintf(r->names + ln, sizeof(r->names) - ln, "{");
	lr += (size_t)snprintf(r->ranks + lr, sizeof(r->ranks) - lr, "{");
	for (size_t i = 0; i < n; i++) {
		ln += (size_t)snprintf(r->names + ln, sizeof(r->names) - ln, "%s%s", i ? "," : "",
			t[i].name);
		lr += (size_t)snprintf(r->ranks + lr, sizeof(r->ranks) - lr, "%s%d", i ? "," : "",
			t[i].rank);
	}
	snprintf(r->names + ln, sizeof(r->names) - ln, "}");
	snprintf(r->ranks + lr, sizeof(r->ranks) - lr, "}");
}

static const struct rank_arrays *rank_arrays(int is_call)
{
	static struct rank_arrays call, sms;
	static int filled;

	if (!filled) {
		rank_arrays_fill(&call, call_ranks, NRANKS(call_ranks));
		rank_arrays_fill(&sms, sms_ranks, NRANKS(sms_ranks));
		filled = 1;
	}
	return is_call ? &call : &sms;
}

/* What rf_status_step answers. */
enum { R_RESULT, R_ATTEMPT, R_BUSINESS, R_BEFORE, R_FLAGGED, R_RETRIED, R_NOTIFIED, R_NCOLS };

/* One status callback of kind "call" or "sms", its fields validated: one
 * statement (rf_status_step, sql/026_status_step.sql) locks the attempt,
 * decides whether the status is newer, moves it and applies a final
 * status's effects, all or nothing.  What only the application knows (the
 * rank tables, what a status means for the reminder, the retry policy's
 * statuses, what an error code flags, the clock) is passed in. */
static void status_handle(struct app *app, const struct route_input *in, const char *kind,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	const struct valid_value *f = in->form.v;
	const char *status = f[ST_STATUS].s, *v[R_NCOLS];
	int is_call = strcmp(kind, "call") == 0;
	int rank = is_call ? status_call_rank(status) : status_sms_rank(status);
	int final = rank == STATUS_FINAL_RANK;
	/* A text read (WhatsApp's "read" comes after "delivered") reached
	 * the client as much as a delivered one. */
	int ok = strcmp(status, is_call ? "completed" : "delivered") == 0 ||
		(!is_call && strcmp(status, "read") == 0);
	int retry = is_call && (strcmp(status, "busy") == 0 || strcmp(status, "no-answer") == 0);
	int code = f[ST_ERROR].s ? (int)f[ST_ERROR].i : 0;
	const char *reason = arena_printf(a, "%s %s%s%s", is_call ? "call" : "message", status,
		f[ST_ERROR].s ? ", error " : "", f[ST_ERROR].s ? f[ST_ERROR].s : "");
	const char *flag = !f[ST_ERROR].s ? NULL : outbound_code_opts_out(code) ? "opt_out"
		: outbound_code_invalid(code) ? "invalid" : NULL;
	const struct rank_arrays *ra = rank_arrays(is_call);
	char now[32], final_rank[8];
	const char *p[16];
	int rc;

	clock_sql(clock_now_s(), now);
	snprintf(final_rank, sizeof(final_rank), "%d", STATUS_FINAL_RANK);
	p[0] = is_call ? "true" : "false";
	p[1] = in->query.v[STQ_ATTEMPT].s;
	p[2] = f[ST_SID].s;
	p[3] = status;
	p[4] = arena_printf(a, "%d", rank);
	p[5] = is_call ? f[ST_SEQ].s : NULL;
	p[6] = f[ST_ERROR].s;
	p[7] = ra->names;
	p[8] = ra->ranks;
	p[9] = final_rank;
	p[10] = final && ok ? "true" : "false";
	p[11] = final && retry ? "true" : "false";
	p[12] = reason;
	p[13] = final ? flag : NULL;
	p[14] = app->cfg.from_number && app->cfg.from_number[0] ? app->cfg.from_number : NULL;
	p[15] = now;
	rc = db_row_retry(app->db, a, "status_step",
		"SELECT * FROM rf_status_step($1::boolean, $2::bigint, $3, $4, $5::int, $6::bigint,"
		" $7::int, $8::text[], $9::int[], $10::int, $11::boolean, $12::boolean, $13, $14, $15,"
		" $16::timestamptz)", 16, p, R_NCOLS, v);
	if (rc <= 0) {
		out->error = arena_printf(a, "database error: %s",
			rc < 0 ? db_last_error(app->db) : "rf_status_step answered no row");
		return;
	}
	if (strcmp(v[R_RESULT], "missing") == 0) {
		out->error = "no contact attempt for this callback";
		return;
	}
	out->attempt_id = v[R_ATTEMPT];
	out->business_id = v[R_BUSINESS];
	out->state_before = v[R_BEFORE];
	if (strcmp(v[R_RESULT], "kind") == 0) {
		out->error = "callback kind does not match the attempt's channel";
		return;
	}
	if (strcmp(v[R_RESULT], "sid") == 0) {
		out->error = "sid does not match the attempt";
		return;
	}
	if (strcmp(v[R_RESULT], "unchanged") == 0) {
		out->state_after = "";
		out->action = "duplicate or out of order: no change";
		return;
	}
	out->state_after = status;
	if (!final)
		return;
	if (strcmp(v[R_FLAGGED], "t") == 0)
		out->action = arena_printf(a, "%s; number flagged (%s)", reason, f[ST_ERROR].s);
	if (retry)
		out->action = arena_printf(a, "%s; %s", reason,
			v[R_RETRIED] && strcmp(v[R_RETRIED], "0") != 0 ? "retry reminder created"
				: "no retry (policy, staleness or already there)");
	if (strcmp(v[R_NOTIFIED], "t") == 0)
		out->action = arena_printf(a, "%s; the office is told",
			out->action ? out->action : reason);
	if (out->action == NULL)
		out->action = reason;
}

void status_call_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	status_handle(app, in, "call", out);
}

void status_sms_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	status_handle(app, in, "sms", out);
}

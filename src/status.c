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

const char *status_call_finals(void)
{
	static char names[128];
	size_t n = 0;

	if (names[0] == '\0') {
		n += (size_t)snprintf(names + n, sizeof(names) - n, "{");
		for (size_t i = 0; i < NRANKS(call_ranks); i++)
			if (call_ranks[i].rank == STATUS_FINAL_RANK)
				n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
					n > 1 ? "," : "", call_ranks[i].name);
		snprintf(names + n, sizeof(names) - n, "}");
	}
	return names;
}

/* What rf_status_step answers. */
enum { R_RESULT, R_ATTEMPT, R_BUSINESS, R_BEFORE, R_FLAGGED, R_RETRIED, R_NOTIFIED, R_NCOLS };

/* See status.h: one statement (rf_status_step, sql/026_status_step.sql)
 * locks the attempt, decides whether the status is newer, moves it and
 * applies a final status's effects, all or nothing.  What only the
 * application knows (the rank tables, what a status means for the
 * reminder, the retry policy's statuses, what an error code flags, the
 * clock) is passed in. */
int status_step(struct db *db, struct arena *a, const char *default_from, int is_call,
	const char *attempt_id, const char *sid, const char *status, const char *seq,
	const char *error, long long now_s, struct status_result *r)
{
	const char *v[R_NCOLS];
	int rank = is_call ? status_call_rank(status) : status_sms_rank(status);
	/* A text read (WhatsApp's "read" comes after "delivered") reached
	 * the client as much as a delivered one. */
	int ok = strcmp(status, is_call ? "completed" : "delivered") == 0 ||
		(!is_call && strcmp(status, "read") == 0);
	int code = error ? atoi(error) : 0;
	const char *flag = !error ? NULL : outbound_code_opts_out(code) ? "opt_out"
		: outbound_code_invalid(code) ? "invalid" : NULL;
	const struct rank_arrays *ra = rank_arrays(is_call);
	char now[32], final_rank[8];
	const char *p[16];
	int rc;

	memset(r, 0, sizeof(*r));
	r->final = rank == STATUS_FINAL_RANK;
	r->retry = is_call && (strcmp(status, "busy") == 0 || strcmp(status, "no-answer") == 0);
	r->reason = arena_printf(a, "%s %s%s%s", is_call ? "call" : "message", status,
		error ? ", error " : "", error ? error : "");
	clock_sql(now_s, now);
	snprintf(final_rank, sizeof(final_rank), "%d", STATUS_FINAL_RANK);
	p[0] = is_call ? "true" : "false";
	p[1] = attempt_id;
	p[2] = sid;
	p[3] = status;
	p[4] = arena_printf(a, "%d", rank);
	p[5] = is_call ? seq : NULL;
	p[6] = error;
	p[7] = ra->names;
	p[8] = ra->ranks;
	p[9] = final_rank;
	p[10] = r->final && ok ? "true" : "false";
	p[11] = r->final && r->retry ? "true" : "false";
	p[12] = r->reason;
	p[13] = r->final ? flag : NULL;
	p[14] = default_from && default_from[0] ? default_from : NULL;
	p[15] = now;
	rc = db_row_retry(db, a, "status_step",
		"SELECT * FROM rf_status_step($1::boolean, $2::bigint, $3, $4, $5::int, $6::bigint,"
		" $7::int, $8::text[], $9::int[], $10::int, $11::boolean, $12::boolean, $13, $14, $15,"
		" $16::timestamptz)", 16, p, R_NCOLS, v);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		r->result = "none";
		return 0;
	}
	r->result = v[R_RESULT];
	r->attempt_id = v[R_ATTEMPT];
	r->business_id = v[R_BUSINESS];
	r->state_before = v[R_BEFORE];
	r->flagged = v[R_FLAGGED] && strcmp(v[R_FLAGGED], "t") == 0;
	r->retried = v[R_RETRIED] && strcmp(v[R_RETRIED], "0") != 0 && v[R_RETRIED][0];
	r->notified = v[R_NOTIFIED] && strcmp(v[R_NOTIFIED], "t") == 0;
	return 0;
}

/* One status callback of kind "call" or "sms", its fields validated,
 * applied by status_step. */
static void status_handle(struct app *app, const struct route_input *in, const char *kind,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	const struct valid_value *f = in->form.v;
	const char *status = f[ST_STATUS].s;
	int is_call = strcmp(kind, "call") == 0;
	struct status_result r;

	if (status_step(app->db, a, app->cfg.from_number, is_call, in->query.v[STQ_ATTEMPT].s,
		    f[ST_SID].s, status, f[ST_SEQ].s, f[ST_ERROR].s, clock_now_s(), &r) < 0) {
		out->error = arena_printf(a, "database error: %s", db_last_error(app->db));
		return;
	}
	if (strcmp(r.result, "none") == 0) {
		out->error = "database error: rf_status_step answered no row";
		return;
	}
	if (strcmp(r.result, "missing") == 0) {
		out->error = "no contact attempt for this callback";
		return;
	}
	out->attempt_id = r.attempt_id;
	out->business_id = r.business_id;
	out->state_before = r.state_before;
	if (strcmp(r.result, "kind") == 0) {
		out->error = "callback kind does not match the attempt's channel";
		return;
	}
	if (strcmp(r.result, "sid") == 0) {
		out->error = "sid does not match the attempt";
		return;
	}
	if (strcmp(r.result, "unchanged") == 0) {
		out->state_after = "";
		out->action = "duplicate or out of order: no change";
		return;
	}
	out->state_after = status;
	if (!r.final)
		return;
	if (r.flagged)
		out->action = arena_printf(a, "%s; number flagged (%s)", r.reason, f[ST_ERROR].s);
	if (r.retry)
		out->action = arena_printf(a, "%s; %s", r.reason,
			r.retried ? "retry reminder created"
				  : "no retry (policy, staleness or already there)");
	if (r.notified)
		out->action = arena_printf(a, "%s; the office is told",
			out->action ? out->action : r.reason);
	if (out->action == NULL)
		out->action = r.reason;
}

void status_call_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	status_handle(app, in, "call", out);
}

void status_sms_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	status_handle(app, in, "sms", out);
}

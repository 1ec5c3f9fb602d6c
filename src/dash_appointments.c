/* dash_appointments: "Today and upcoming", the appointment forms, the
 * call-back card and "Send me a test reminder" (see
 * include/dash_appointments.h). */
#include "dash_appointments.h"
#include "dash_calendar.h"
#include "dash_notify.h"
#include "app.h"
#include "arena.h"
#include "audit.h"
#include "clock.h"
#include "db.h"
#include "dispatch.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "page.h"
#include "queue.h"
#include "reminders.h"
#include "session.h"
#include "util.h"
#include "valid.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DASH_NOTES_MAX 4000
#define DASH_Q_MAX 100
#define DASH_LIST_MAX 500
#define DASH_CLIENTS_MAX 200

/* ---- the state words ------------------------------------------------------ */

static const struct {
	int code;
	const char *meaning;
} dash_twilio_errors[] = {
	{ 13224, "the number is not a valid phone number" },
	{ 13225, "calls to this number are forbidden" },
	{ 13227, "calls to this country are not enabled" },
	{ 20003, "Twilio refused the account's credentials" },
	{ 20429, "too many requests to Twilio at once" },
	{ 21211, "the number is not a valid phone number" },
	{ 21212, "the sending number is not valid" },
	{ 21214, "the number cannot be reached" },
	{ 21215, "calls to this country are not enabled" },
	{ 21408, "sending to this region is not enabled" },
	{ 21610, "the recipient replied STOP" },
	{ 21612, "Twilio cannot route to this number" },
	{ 21614, "the number is not a mobile number" },
	{ 30003, "the phone is switched off or unreachable" },
	{ 30004, "the message was blocked" },
	{ 30005, "the number is unknown or no longer in service" },
	{ 30006, "a landline, or a carrier that cannot take texts" },
	{ 30007, "the carrier filtered the message" },
	{ 30008, "the carrier reported an unknown error" },
};

const char *dash_twilio_error_meaning(int code)
{
	for (size_t i = 0; i < ARRAY_LEN(dash_twilio_errors); i++)
		if (dash_twilio_errors[i].code == code)
			return dash_twilio_errors[i].meaning;
	return NULL;
}

/* 1 when s is set and equals v. */
static int is(const char *s, const char *v)
{
	return s && strcmp(s, v) == 0;
}

/* 1 when s is set and contains v. */
static int has(const char *s, const char *v)
{
	return s && strstr(s, v) != NULL;
}

/* The word of a call or message that ended without a key press. */
static const char *dash_ended_word(const struct dash_reminder_facts *f)
{
	if (f->voicemail || (f->answered_by && strncmp(f->answered_by, "machine", 7) == 0))
		return "reached voicemail";
	if (is(f->call_status, "busy") || is(f->delivery_status, "busy") ||
		has(f->reason, "call busy"))
		return "busy";
	if (is(f->call_status, "no-answer") || is(f->delivery_status, "no-answer") ||
		has(f->reason, "call no-answer"))
		return "no answer";
	return NULL;
}

const char *dash_reminder_state(const struct dash_reminder_facts *f, char *detail,
	size_t detlen)
{
	const char *st = f->reminder_status ? f->reminder_status : "";
	const char *w;

	detail[0] = '\0';
	/* What the person answered decides, whatever came after. */
	if (is(f->call_action, "confirm"))
		return "confirmed";
	if (is(f->call_action, "cancel"))
		return "cancelled by client";
	if (is(f->call_action, "request_callback"))
		return "asked for a call back";
	if (is(f->call_action, "request_reschedule"))
		return "asked to reschedule";
	if (is(f->attempt_status, "unknown") || strcmp(st, "unknown") == 0)
		return "outcome unknown — needs your decision";
	if (is(f->attempt_status, "skipped_failsafe"))
		return "held by the failsafe";
	if (strcmp(st, "pending") == 0) {
		if (is(f->block_code, "window"))
			return "outside the calling window";
		if (is(f->block_code, "deferred"))
			return "rate limited";
		if (is(f->block_code, "ineligible")) {
			if (has(f->block_reason, "failsafe"))
				return "held by the failsafe";
			if (has(f->block_reason, "opted out"))
				return "opted out";
			if (has(f->block_reason, "unverified business") ||
				has(f->block_reason, "number invalid"))
				return "blocked (not allowed)";
			if (has(f->block_reason, "automatic messages are off"))
				return "held: automatic messages are off";
			if (has(f->block_reason, "client not confirmed"))
				return "held: client not confirmed";
		}
		return "scheduled";
	}
	if (strcmp(st, "dialing") == 0)
		return "sending";
	if (strcmp(st, "placed") == 0 || strcmp(st, "completed") == 0) {
		if ((w = dash_ended_word(f)) != NULL)
			return w;
		if (is(f->delivery_status, "undelivered") || is(f->delivery_status, "failed") ||
			is(f->call_status, "failed") || is(f->call_status, "canceled"))
			goto failed;
		if (strcmp(st, "completed") == 0 || is(f->delivery_status, "delivered") ||
			is(f->call_status, "completed"))
			return "delivered";
		return "sent";
	}
	if (strcmp(st, "failed") == 0 || strcmp(st, "not_placed") == 0) {
		if (f->error_code == 21610 || has(f->reason, "opted out"))
			return "opted out";
		if ((w = dash_ended_word(f)) != NULL)
			return w;
		goto failed;
	}
	if (strcmp(st, "blocked_not_allowed") == 0)
		return "blocked (not allowed)";
	if (strcmp(st, "skipped") == 0) {
		if (has(f->reason, "failsafe"))
			return "held by the failsafe";
		if (has(f->reason, "opted out"))
			return "opted out";
		return "rate limited";
	}
	if (strcmp(st, "cancelled") == 0)
		return has(f->reason, "by client") ? "cancelled by client" : "cancelled";
	if (strcmp(st, "skipped_stale") == 0)
		return "not sent in time";
	/* A status this page does not know: say what the database says. */
	snprintf(detail, detlen, "%s", st);
	return "failed";
failed:
	if (f->error_code && dash_twilio_error_meaning(f->error_code))
		snprintf(detail, detlen, "error %d: %s", f->error_code,
			dash_twilio_error_meaning(f->error_code));
	else if (f->error_code)
		snprintf(detail, detlen, "error %d", f->error_code);
	else if (f->reason)
		snprintf(detail, detlen, "%s", f->reason);
	return "failed";
}

/* ---- shared helpers --------------------------------------------------------- */

void dash_audit(struct app *app, const struct route_input *in, const char *action,
	long long appointment_id, json_t *extra)
{
	json_t *rec = extra ? extra : json_object();

	json_object_set_new(rec, "action", json_string(action));
	json_object_set_new(rec, "request_id", json_string(in->req->request_id));
	if (in->user) {
		json_object_set_new(rec, "user_id", json_integer(in->user->user_id));
		json_object_set_new(rec, "user", json_string(in->user->email ? in->user->email : ""));
	}
	if (appointment_id > 0)
		json_object_set_new(rec, "appointment_id", json_integer(appointment_id));
	audit_record(app->audit, "dashboard", NULL, in->business, rec);
}

/* A column's value, or NULL for SQL NULL. */
static const char *col(PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

/* The database failed: the 503 page (nothing was changed), logged. */
static void dash_db_failed(struct app *app, const struct route_input *in, struct outcome *out)
{
	log_error("dashboard: request %s %s %s: database error: %s", in->req->request_id,
		in->req->method, in->req->path, db_last_error(app->db));
	out->error = "database unavailable";
	page_unavailable(out);
}

/* rc of a lookup of the business's row (1 found, 0 none, -1 database
 * error): 1 to go on, or 0 after answering 404 or the 503 page. */
static int dash_found(struct app *app, const struct route_input *in, struct outcome *out,
	int rc)
{
	if (rc < 0)
		dash_db_failed(app, in, out);
	else if (rc == 0)
		page_not_found(out);
	return rc == 1;
}

/* 1 when s is a date "YYYY-MM-DD" that exists. */
static int dash_date_ok(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 2000 || y > 2200 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	return !(m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
}

/* 1 when s is a datetime-local value "YYYY-MM-DDTHH:MM" (or with ":SS")
 * naming a day that exists. */
static int dash_datetime_ok(const char *s)
{
	char date[11];
	size_t n = strlen(s);

	if ((n != 16 && n != 19) || s[10] != 'T' || s[13] != ':' || (n == 19 && s[16] != ':'))
		return 0;
	memcpy(date, s, 10);
	date[10] = '\0';
	for (size_t i = 11; i < n; i++)
		if (i != 13 && i != 16 && (s[i] < '0' || s[i] > '9'))
			return 0;
	return dash_date_ok(date) && atoi(s + 11) < 24 && atoi(s + 14) < 60 &&
		(n == 16 || atoi(s + 17) < 60);
}


/* ---- declared fields -------------------------------------------------------- */

const struct valid_field dash_today_query[DQ_NFIELDS] = {
	[DQ_FROM] = { "from", valid_any, 0, VALID_TEXT },
	[DQ_TO] = { "to", valid_any, 0, VALID_TEXT },
	[DQ_STATUS] = { "status", valid_any, 0, VALID_TEXT },
	[DQ_Q] = { "q", valid_any, 0, VALID_TEXT },
};
const struct valid_field dash_appt_fields[DF_NFIELDS] = {
	[DF_CLIENT] = { "client_id", valid_any, 0, VALID_TEXT },
	[DF_CLIENT_Q] = { "q", valid_any, 0, VALID_TEXT },
	[DF_STARTS] = { "starts_at", valid_any, 0, VALID_TEXT },
	[DF_NOTES] = { "notes", valid_any, 0, VALID_TEXT },
};
const struct valid_field dash_test_fields[DT_NFIELDS] = {
	[DT_CHANNEL] = { "channel", valid_any, 0, VALID_TEXT },
};
const struct valid_field dash_new_query[DN_NFIELDS] = {
	[DN_CLIENT] = { "client_id", valid_any, 0, VALID_TEXT },
	[DN_Q] = { "q", valid_any, 0, VALID_TEXT },
};

/* A value of a validated set, or NULL (absent, or the set did not
 * validate). */
static const char *field(const struct valid_result *r, size_t i)
{
	return r->v && i < r->n ? r->v[i].s : NULL;
}

/* ---- Today and upcoming ----------------------------------------------------- */

/* The list's filter, checked. */
struct dash_filter {
	const char *from, *to;      /* YYYY-MM-DD in the business's zone */
	const char *status;         /* "" (all) or an appointment status */
	const char *q;              /* "" or a client name / phone search */
	const char *error;          /* the message naming the field, or NULL */
};

static const char *const dash_statuses[] = { "booked", "confirmed", "cancelled", "completed" };

/* An appointment status in words. */
static const char *dash_appt_status_word(const char *s)
{
	if (is(s, "booked"))
		return "booked";
	if (is(s, "confirmed"))
		return "confirmed";
	if (is(s, "cancelled"))
		return "cancelled";
	if (is(s, "completed"))
		return "completed";
	return s ? s : "";
}

/* Reads and checks the filter of in's query; the defaults are today and
 * DASH_RANGE_DEFAULT_DAYS on.  0, or -1 on a database error. */
static int dash_filter_read(struct app *app, const struct route_input *in,
	struct dash_filter *f)
{
	struct arena *a = in->req->arena;
	const char *p[3];
	char days[16];
	PGresult *res;
	int rc = -1;

	memset(f, 0, sizeof(*f));
	f->from = field(&in->query, DQ_FROM);
	f->to = field(&in->query, DQ_TO);
	f->status = field(&in->query, DQ_STATUS);
	f->q = field(&in->query, DQ_Q);
	if (!in->query_valid && in->req->query_params.n > 0)
		f->error = "the filter could not be read; it was reset";
	if (f->from && *f->from && !dash_date_ok(f->from)) {
		f->error = "field 'from' must be a date such as 2026-12-08";
	} else if (f->to && *f->to && !dash_date_ok(f->to)) {
		f->error = "field 'to' must be a date such as 2026-12-15";
	} else if (f->status && *f->status) {
		int ok = 0;
		for (size_t i = 0; i < ARRAY_LEN(dash_statuses); i++)
			ok |= strcmp(f->status, dash_statuses[i]) == 0;
		if (!ok)
			f->error = "field 'status' must be booked, confirmed, cancelled or completed";
	}
	if (f->error == NULL && f->q && !valid_text(f->q, DASH_Q_MAX, NULL))
		f->error = "field 'q' must be at most 100 characters of text";
	if (f->error) {
		f->from = f->to = NULL;
		f->status = f->q = "";
	}
	if (f->status == NULL)
		f->status = "";
	if (f->q == NULL)
		f->q = "";
	/* The defaults and the range check, in the business's calendar. */
	snprintf(days, sizeof(days), "%d", DASH_RANGE_DEFAULT_DAYS);
	p[0] = f->from && *f->from ? f->from : NULL;
	p[1] = f->to && *f->to ? f->to : NULL;
	p[2] = days;
	{
		char now[32];
		const char *q[5] = { p[0], p[1], p[2], in->user->business_tz, now };
		clock_sql(clock_now_s(), now);
		res = db_read_exec(app->read_db, app->db, "dash_filter",
			"WITH d AS (SELECT COALESCE($1::date, ($5::timestamptz AT TIME ZONE $4)::date) AS f)"
			" SELECT d.f::text, COALESCE($2::date, d.f + $3::int)::text FROM d", 5, q);
	}
	if (res == NULL)
		goto out;
	f->from = arena_strdup(a, PQgetvalue(res, 0, 0));
	f->to = arena_strdup(a, PQgetvalue(res, 0, 1));
	PQclear(res);
	if (f->error == NULL && strcmp(f->to, f->from) < 0)
		f->error = "field 'to' must not be before 'from'";
	rc = 0;
out:
	return rc;
}

static const char tmpl_filter[] =
	"<form class=\"form card row\" method=\"get\" action=\"/today\">"
	"<div class=\"field\"><label for=\"f-from\">From</label>"
	"<input id=\"f-from\" type=\"date\" name=\"from\" value=\"{{from}}\"></div>"
	"<div class=\"field\"><label for=\"f-to\">To</label>"
	"<input id=\"f-to\" type=\"date\" name=\"to\" value=\"{{to}}\"></div>"
	"<div class=\"field\"><label for=\"f-status\">Status</label>"
	"<select id=\"f-status\" name=\"status\">"
	"<option value=\"\">Any</option>"
	"<option value=\"booked\"{{s_booked}}>Booked</option>"
	"<option value=\"confirmed\"{{s_confirmed}}>Confirmed</option>"
	"<option value=\"cancelled\"{{s_cancelled}}>Cancelled</option>"
	"<option value=\"completed\"{{s_completed}}>Completed</option>"
	"</select></div>"
	"<div class=\"field\"><label for=\"f-q\">Client</label>"
	"<input id=\"f-q\" type=\"search\" name=\"q\" value=\"{{q}}\" maxlength=\"100\""
	" placeholder=\"Name or phone\"></div>"
	"<div class=\"form-actions\"><button class=\"btn\" type=\"submit\">Show</button></div>"
	"</form>\n";

/* A client's open request the office answers by hand: a call back or a
 * new time.  col is the appointments columns' prefix (<col>_requested_at,
 * <col>_done_at, <col>_done_by): a request is open when it was made and
 * not marked done after. */
#define REQ_OPEN(col) "a." col "_requested_at IS NOT NULL AND (a." col "_done_at IS NULL" \
	" OR a." col "_done_at < a." col "_requested_at)"
#define REQ_CARD_SQL(col) \
	"SELECT a.id, c.name, c.phone," \
	" to_char(a.starts_at AT TIME ZONE $2, 'Dy FMDD Mon, HH24:MI')," \
	" to_char(a." col "_requested_at AT TIME ZONE $2, 'Dy FMDD Mon, HH24:MI')" \
	" FROM appointments a JOIN clients c ON c.id = a.client_id" \
	" WHERE a.business_id = $1::bigint AND " REQ_OPEN(col) \
	" ORDER BY a." col "_requested_at, a.id LIMIT 100"
#define REQ_DONE_SQL(col) \
	"UPDATE appointments SET " col "_done_at = now(), " col "_done_by = $3::bigint," \
	" updated_at = now() WHERE id = $1::bigint AND business_id = $2::bigint RETURNING id"

struct dash_request {
	const char *action;     /* the outcome's action and audit name, and the notice */
	const char *card_stmt;  /* prepared statement names */
	const char *card_sql;
	const char *done_stmt;
	const char *done_sql;
	const char *const *words; /* the card's id, title, intro and button, and the
	                             done route's last path segment */
};

static const char *const callback_words[] = { "id", "callbacks", "title", "Call back",
	"intro", "These clients asked for a call back.", "button", "Called back",
	"done", "callback-done", NULL };
static const char *const reschedule_words[] = { "id", "reschedules",
	"title", "Reschedule requests",
	"intro", "These clients asked to reschedule: call them to find a new time, move the"
	" appointment, then mark the request done.", "button", "Done",
	"done", "reschedule-done", NULL };

static const struct dash_request dash_callback_request = { "callback_done", "dash_callbacks",
	REQ_CARD_SQL("callback"), "dash_callback_done", REQ_DONE_SQL("callback"), callback_words };
static const struct dash_request dash_reschedule_request = { "reschedule_done",
	"dash_reschedules", REQ_CARD_SQL("reschedule"), "dash_reschedule_done",
	REQ_DONE_SQL("reschedule"), reschedule_words };

/* The word called key of r's card, or "". */
static const char *req_word(const struct dash_request *r, const char *key)
{
	for (const char *const *w = r->words; *w; w += 2)
		if (strcmp(*w, key) == 0)
			return w[1];
	return "";
}

/* r's card on the Today page: the clients whose request is open, each
 * with its "done" button, none when there is none.  0, or -1 on a
 * database error. */
static int dash_request_card(struct app *app, const struct route_input *in, struct outcome *out,
	const struct dash_request *r)
{
	const char *p[2] = { in->business, in->user->business_tz };
	PGresult *res = db_exec_prepared(app->db, r->card_stmt, r->card_sql, 2, p);

	if (res == NULL)
		return -1;
	if (PQntuples(res) > 0) {
		page_add(out, "<section class=\"card\" id=\"{{id}}\">"
			"<h2>{{title}}</h2><p>{{intro}}</p><ul class=\"list\">", r->words);
		for (int i = 0; i < PQntuples(res); i++) {
			const char *phone = col(res, i, 2);
			const char *f[] = { "id", PQgetvalue(res, i, 0), "name", PQgetvalue(res, i, 1),
				"phone", phone ? phone : "no phone", "tel", phone ? phone : "",
				"when", PQgetvalue(res, i, 3), "asked", PQgetvalue(res, i, 4),
				"csrf", in->user->csrf, "done", req_word(r, "done"),
				"button", req_word(r, "button"), NULL };
			page_add(out, "<li><a href=\"/appointments/{{id}}\">{{name}}</a>"
				" <a class=\"mono\" href=\"tel:{{tel}}\">{{phone}}</a>"
				" <span class=\"muted small\">appointment {{when}}; asked {{asked}}</span>"
				" <form class=\"inline-form\" method=\"post\""
				" action=\"/appointments/{{id}}/{{done}}\">" PAGE_CSRF_INPUT
				"<button class=\"btn btn-small\" type=\"submit\">{{button}}</button></form></li>",
				f);
		}
		page_add(out, "</ul></section>\n", NULL);
	}
	PQclear(res);
	return 0;
}

/* Columns of the list's rows from FACTS_COL on: the facts of one
 * reminder of the row's appointment (all NULL when it has none), in the
 * order dash_facts_read reads them. */
#define FACTS_COL 8
#define FACTS_COLS \
	" f.id, f.channel, f.status, f.status_reason, f.code, f.reason, f.attempt_status," \
	" f.delivery_status, f.error_code, f.call_status, f.answered_by, f.action, f.voicemail," \
	" f.due, f.kind"
/* The reminders of appointment l.id of business $1 (their state now, $8),
 * each with its block (pending ones), its attempt and its last call:
 * the call's status, who answered, the last key press that ran an action
 * and whether it reached the machine's message.  Every lookup is by an
 * index of the reminder or its call. */
#define FACTS_LATERAL \
	" LEFT JOIN LATERAL (SELECT r.id, r.channel, r.status, r.status_reason, k.code, k.reason," \
	"   ca.status AS attempt_status, ca.delivery_status, ca.error_code, cl.call_status," \
	"   cl.answered_by, ev.action, ev.voicemail," \
	"   to_char(r.due_at AT TIME ZONE $2, 'Dy FMDD Mon, HH24:MI') AS due, r.kind, r.due_at" \
	" FROM reminders r" \
	" LEFT JOIN LATERAL (SELECT b.code, b.reason FROM reminder_block(r.id, $8::timestamptz) b" \
	"   WHERE r.status = 'pending') k ON true" \
	" LEFT JOIN contact_attempts ca ON ca.reminder_id = r.id" \
	" LEFT JOIN LATERAL (SELECT x.id, x.call_status, x.answered_by FROM calls x" \
	"   WHERE x.reminder_id = r.id ORDER BY x.id DESC LIMIT 1) cl ON true" \
	" LEFT JOIN LATERAL (SELECT (array_agg(e.action ORDER BY e.seq DESC) FILTER (WHERE e.action" \
	"   IN ('confirm', 'cancel', 'request_callback', 'request_reschedule')))[1] AS action," \
	"   bool_or(e.to_state = 'machine_message') AS voicemail" \
	"   FROM call_events e WHERE e.call_id = cl.id) ev ON true" \
	" WHERE r.appointment_id = l.id AND r.business_id = $1::bigint" \
	"   AND r.superseded_at IS NULL) f ON true"

/* Fills f from the facts of row i of the list (columns from FACTS_COL). */
static void dash_facts_read(PGresult *res, int i, struct dash_reminder_facts *f)
{
	const char *err = col(res, i, FACTS_COL + 8);

	memset(f, 0, sizeof(*f));
	f->channel = col(res, i, FACTS_COL + 1);
	f->reminder_status = col(res, i, FACTS_COL + 2);
	f->reason = col(res, i, FACTS_COL + 3);
	f->block_code = col(res, i, FACTS_COL + 4);
	f->block_reason = col(res, i, FACTS_COL + 5);
	f->attempt_status = col(res, i, FACTS_COL + 6);
	f->delivery_status = col(res, i, FACTS_COL + 7);
	f->error_code = err ? atoi(err) : 0;
	f->call_status = col(res, i, FACTS_COL + 9);
	f->answered_by = col(res, i, FACTS_COL + 10);
	f->call_action = col(res, i, FACTS_COL + 11);
	f->voicemail = is(col(res, i, FACTS_COL + 12), "t");
}

/* A channel in words. */
static const char *dash_channel_word(const char *c)
{
	return is(c, "voice") ? "Call" : is(c, "sms") ? "Text" : is(c, "email") ? "Email" : "?";
}

/* The badge class of a state word (the shell's stylesheet). */
static const char *dash_state_class(const char *w)
{
	static const char *const ok[] = { "sent", "delivered", "confirmed" };
	static const char *const pending[] = { "scheduled", "sending" };
	static const char *const bad[] = { "failed", "cancelled by client", "blocked (not allowed)",
		"held by the failsafe" };
	static const char *const muted[] = { "cancelled", "opted out", "not sent in time" };

	for (size_t i = 0; i < ARRAY_LEN(ok); i++)
		if (strcmp(w, ok[i]) == 0)
			return "badge-ok";
	for (size_t i = 0; i < ARRAY_LEN(pending); i++)
		if (strcmp(w, pending[i]) == 0)
			return "badge-pending";
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (strcmp(w, bad[i]) == 0)
			return "badge-bad";
	for (size_t i = 0; i < ARRAY_LEN(muted); i++)
		if (strcmp(w, muted[i]) == 0)
			return "badge-muted";
	return "badge-attention";
}

const char *dash_appt_status_class(const char *s)
{
	return is(s, "confirmed") ? "badge-ok" : is(s, "booked") ? "badge-pending"
		: is(s, "cancelled") ? "badge-bad" : "badge-muted";
}

/* The reminder of row i of the list, one item of its appointment's list
 * of states. */
static void dash_reminder_item(struct outcome *out, PGresult *res, int i)
{
	struct dash_reminder_facts facts;
	char detail[256];
	const char *word, *kind = col(res, i, FACTS_COL + 14);

	dash_facts_read(res, i, &facts);
	word = dash_reminder_state(&facts, detail, sizeof(detail));
	{
		const char *f[] = { "channel", dash_channel_word(facts.channel),
			"class", dash_state_class(word),
			"test", is(kind, "test") ? " (test)" : is(kind, "resend") ? " (sent again)" : "",
			"due", PQgetvalue(res, i, FACTS_COL + 13), "word", word, "detail", detail, NULL };
		page_add(out, "<li><span>{{channel}}{{test}}</span>"
			" <span class=\"muted small\">{{due}}</span>"
			" <span class=\"badge {{class}}\">{{word}}</span>", f);
		if (detail[0])
			page_add(out, " <span class=\"muted small\">{{detail}}</span>", f);
		page_add(out, "</li>", NULL);
	}
}

/* See dash_appointments.h.  The appointments (at most $7) first, then
 * each one's reminders joined to it: one row per reminder (one with NULL
 * facts for an appointment without any), in the list's order. */
const char dash_list_sql[] =
	"WITH l AS (SELECT a.id, a.starts_at, c.name, c.phone, a.status,"
	" (" REQ_OPEN("callback") ") AS callback, (" REQ_OPEN("reschedule") ") AS reschedule"
	" FROM appointments a JOIN clients c ON c.id = a.client_id"
	" WHERE a.business_id = $1::bigint"
	" AND a.starts_at >= ($3::date)::timestamp AT TIME ZONE $2"
	" AND a.starts_at < ($4::date + 1)::timestamp AT TIME ZONE $2"
	" AND ($5 = '' OR a.status = $5)"
	" AND ($6 = '' OR strpos(lower(c.name), lower($6)) > 0"
	"   OR strpos(COALESCE(c.phone, ''), $6) > 0)"
	" ORDER BY a.starts_at, a.id LIMIT $7::int)"
	" SELECT l.id, to_char(l.starts_at AT TIME ZONE $2, 'FMDay FMDD FMMonth YYYY'),"
	" to_char(l.starts_at AT TIME ZONE $2, 'HH24:MI'), l.name, l.phone, l.status,"
	" l.callback, l.reschedule," FACTS_COLS
	" FROM l" FACTS_LATERAL
	" ORDER BY l.starts_at, l.id, f.due_at, f.id";

/* Closes the item of the appointment whose reminders were listed (any:
 * some were). */
static void dash_appt_close(struct outcome *out, int any)
{
	page_add(out, any ? "</ul>" : "<p class=\"muted small\">No reminders.</p>", NULL);
	page_add(out, "</li>", NULL);
}

/* The list of appointments by day for filter f (the live-refresh
 * fragment's content): one statement, its rows walked once.  0, or -1
 * on a database error. */
static int dash_day_list(struct app *app, const struct route_input *in, struct outcome *out,
	const struct dash_filter *flt)
{
	char now[32], max[16];
	const char *p[8] = { in->business, in->user->business_tz, flt->from, flt->to,
		flt->status, flt->q, max, now };
	PGresult *res;
	const char *day = "", *appt = NULL;
	int nappts = 0, any = 0;

	clock_sql(clock_now_s(), now);
	snprintf(max, sizeof(max), "%d", DASH_LIST_MAX);
	res = db_read_exec(app->read_db, app->db, "dash_today", dash_list_sql, 8, p);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0)
		page_add(out, "<p class=\"empty\">No appointments in these days.</p>\n", NULL);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *id = PQgetvalue(res, i, 0), *phone = col(res, i, 4);

		if (appt == NULL || strcmp(appt, id) != 0) {
			const char *f[] = { "day", PQgetvalue(res, i, 1), "time", PQgetvalue(res, i, 2),
				"id", id, "name", PQgetvalue(res, i, 3), "phone", phone ? phone : "",
				"status", dash_appt_status_word(PQgetvalue(res, i, 5)),
				"callback", is(col(res, i, 6), "t") ? "asked for a call back" : "",
				"reschedule", is(col(res, i, 7), "t") ? "asked to reschedule" : "",
				"sclass", dash_appt_status_class(PQgetvalue(res, i, 5)), NULL };
			if (appt)
				dash_appt_close(out, any);
			appt = id;
			any = 0;
			nappts++;
			if (strcmp(day, PQgetvalue(res, i, 1)) != 0) {
				if (*day)
					page_add(out, "</ol></section>\n", NULL);
				day = PQgetvalue(res, i, 1);
				page_add(out, "<section class=\"card\"><h2>{{day}}</h2><ol class=\"list\">", f);
			}
			page_add(out, "<li><div class=\"row\"><strong>{{time}}</strong>"
				" <a href=\"/appointments/{{id}}\">{{name}}</a>"
				" <span class=\"muted mono\">{{phone}}</span>"
				" <span class=\"badge {{sclass}}\">{{status}}</span>", f);
			if (is(col(res, i, 6), "t"))
				page_add(out, " <span class=\"badge badge-attention\">{{callback}}</span>", f);
			if (is(col(res, i, 7), "t"))
				page_add(out, " <span class=\"badge badge-attention\">{{reschedule}}</span>",
					f);
			page_add(out, "</div>", NULL);
		}
		if (col(res, i, FACTS_COL) == NULL)
			continue;
		if (!any)
			page_add(out, "<ul class=\"list\">", NULL);
		any = 1;
		dash_reminder_item(out, res, i);
	}
	if (appt)
		dash_appt_close(out, any);
	if (*day)
		page_add(out, "</ol></section>\n", NULL);
	if (nappts == DASH_LIST_MAX)
		page_add(out, "<p class=\"muted\">Only the first 500 are shown: narrow the dates.</p>",
			NULL);
	PQclear(res);
	return 0;
}

/* GET /today and its fragment. */
static void dash_today(struct app *app, const struct route_input *in, struct outcome *out,
	int fragment)
{
	struct dash_filter f;
	struct arena *a = in->req->arena;

	page_begin(out, "Today and upcoming", "today");
	if (dash_filter_read(app, in, &f) < 0)
		goto db_failed;
	if (f.error) {
		out->status = 422;
		/* The list of the default days, under the message. */
	}
	if (!fragment) {
		const char *h[] = { "from", f.from, "to", f.to, "q", f.q, "error", f.error,
			"s_booked", is(f.status, "booked") ? " selected" : "",
			"s_confirmed", is(f.status, "confirmed") ? " selected" : "",
			"s_cancelled", is(f.status, "cancelled") ? " selected" : "",
			"s_completed", is(f.status, "completed") ? " selected" : "", NULL };
		page_add(out, "<div class=\"page-head\"><h1>Today and upcoming</h1>"
			"<a class=\"btn btn-primary\" href=\"/appointments/new\">New appointment</a></div>\n",
			NULL);
		if (f.error)
			page_add(out, "<p class=\"alert\" role=\"alert\">{{error}}</p>", h);
		if (dash_request_card(app, in, out, &dash_callback_request) < 0 ||
			dash_request_card(app, in, out, &dash_reschedule_request) < 0 ||
			dash_calendar_notices(app, in, out) < 0 || dash_notify_panel(app, in, out) < 0)
			goto db_failed;
		page_add(out, tmpl_filter, h);
		{
			/* The refresh keeps the filter, each value URL-encoded. */
			struct params fp;
			struct param pv[4] = { { "from", f.from, strlen(f.from) },
				{ "to", f.to, strlen(f.to) }, { "status", f.status, strlen(f.status) },
				{ "q", f.q, strlen(f.q) } };
			struct buf src;
			const char *r[3] = { "src", NULL, NULL };

			fp.v = pv;
			fp.n = 4;
			buf_init_arena(&src, a);
			buf_puts(&src, "/today/fragment?");
			form_encode_params(&src, &fp);
			r[1] = buf_str(&src);
			page_add(out, "<div id=\"today-list\" data-refresh=\"{{src}}\">", r);
		}
	}
	if (dash_day_list(app, in, out, &f) < 0)
		goto db_failed;
	if (!fragment)
		page_add(out, "</div>\n", NULL);
	return;
db_failed:
	dash_db_failed(app, in, out);
}

void dash_today_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	dash_today(app, in, out, 0);
}

void dash_today_fragment_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	out->page_fragment = 1;
	dash_today(app, in, out, 1);
}

/* ---- the appointment form ---------------------------------------------------- */

/* What the form shows: the user's input (or the appointment's values). */
struct dash_form {
	long long id;               /* 0: a new appointment */
	const char *client_id;
	const char *client_name;    /* editing: the client (fixed) */
	const char *q;              /* the client search */
	const char *starts;         /* datetime-local text */
	const char *notes;
	const char *error;          /* the message naming the field */
};

/* The client select of a new appointment: the business's clients (those
 * matching the search q), the chosen one selected.  0, or -1 on a
 * database error. */
static int dash_client_select(struct app *app, const struct route_input *in,
	struct outcome *out, const struct dash_form *fm)
{
	char max[16];
	const char *p[4] = { in->business, fm->q ? fm->q : "", max,
		fm->client_id ? fm->client_id : "" };
	PGresult *res;

	snprintf(max, sizeof(max), "%d", DASH_CLIENTS_MAX);
	res = db_exec_prepared(app->db, "dash_client_select",
		"SELECT id, name, COALESCE(phone, email) FROM clients WHERE business_id = $1::bigint"
		" AND ($2 = '' OR strpos(lower(name), lower($2)) > 0 OR strpos(COALESCE(phone, ''), $2) > 0"
		"   OR id::text = $4)"
		" ORDER BY lower(name), id LIMIT $3::int", 4, p);
	if (res == NULL)
		return -1;
	page_add(out, "<div class=\"field\"><label for=\"client_id\">Client</label>"
		"<select id=\"client_id\" name=\"client_id\" required>"
		"<option value=\"\">Choose a client</option>", NULL);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *f[] = { "id", PQgetvalue(res, i, 0), "name", PQgetvalue(res, i, 1),
			"reach", PQgetvalue(res, i, 2),
			"sel", is(fm->client_id, PQgetvalue(res, i, 0)) ? " selected" : "", NULL };
		page_add(out, "<option value=\"{{id}}\"{{sel}}>{{name}} ({{reach}})</option>", f);
	}
	page_add(out, "</select>", NULL);
	if (PQntuples(res) == 0)
		page_add(out, "<p class=\"hint\">No client matches. <a href=\"/clients/new\">"
			"Add a client</a> first.</p>", NULL);
	page_add(out, "</div>", NULL);
	PQclear(res);
	return 0;
}

/* Writes the create or edit form with fm's values; status 422 when fm
 * carries an error. */
static void dash_form_page(struct app *app, const struct route_input *in, struct outcome *out,
	const struct dash_form *fm)
{
	struct arena *a = in->req->arena;
	const char *action = fm->id ? arena_printf(a, "/appointments/%lld", fm->id)
		: "/appointments";
	const char *idtxt = arena_printf(a, "%lld", fm->id);
	const char *f[] = { "action", action, "csrf", in->user->csrf, "starts", fm->starts,
		"notes", fm->notes, "error", fm->error, "q", fm->q, "id", idtxt,
		"client", fm->client_name, "tz", in->user->business_tz, NULL };

	page_begin(out, fm->id ? "Edit appointment" : "New appointment", "today");
	if (fm->error)
		out->status = 422;
	page_add(out, fm->id ? "<h1>Edit appointment</h1>" : "<h1>New appointment</h1>", NULL);
	if (fm->error)
		page_add(out, "<p class=\"alert\" role=\"alert\">{{error}}</p>", f);
	if (!fm->id)
		page_add(out, "<form class=\"form card\" method=\"get\" action=\"/appointments/new\">"
			"<div class=\"field\"><label for=\"find-q\">Find a client</label>"
			"<input id=\"find-q\" type=\"search\" name=\"q\" value=\"{{q}}\""
			" maxlength=\"100\" placeholder=\"Name or phone\"></div>"
			"<div class=\"form-actions\"><button class=\"btn\" type=\"submit\">Find</button>"
			"</div></form>", f);
	page_add(out, "<form class=\"form card\" method=\"post\" action=\"{{action}}\">"
		PAGE_CSRF_INPUT, f);
	if (fm->id) {
		page_add(out, "<dl class=\"facts\"><dt>Client</dt><dd>{{client}}</dd></dl>", f);
	} else {
		page_add(out, "<input type=\"hidden\" name=\"q\" value=\"{{q}}\">", f);
		if (dash_client_select(app, in, out, fm) < 0) {
			dash_db_failed(app, in, out);
			return;
		}
	}
	page_add(out, "<div class=\"field\"><label for=\"starts_at\">Date and time</label>"
		"<input id=\"starts_at\" type=\"datetime-local\" name=\"starts_at\" value=\"{{starts}}\""
		" required><p class=\"hint\">In {{tz}}.</p></div>"
		"<div class=\"field\"><label for=\"notes\">Notes</label>"
		"<textarea id=\"notes\" name=\"notes\" rows=\"4\" maxlength=\"4000\">{{notes}}</textarea>"
		"<p class=\"hint\">Only you see them: never read out, texted or emailed.</p></div>"
		"<div class=\"form-actions\"><button class=\"btn btn-primary\" type=\"submit\">Save"
		"</button></div></form>\n", f);
}

/* Checks the posted fields of the form into fm (error set on the first
 * bad one).  Creating also needs a client. */
static void dash_form_read(const struct route_input *in, struct dash_form *fm, int creating)
{
	const char *starts = field(&in->form, DF_STARTS), *notes = field(&in->form, DF_NOTES);
	const char *client = field(&in->form, DF_CLIENT);
	long long cid;

	fm->client_id = client;
	fm->q = field(&in->form, DF_CLIENT_Q);
	fm->starts = starts ? starts : "";
	fm->notes = notes ? notes : "";
	if (creating && (client == NULL || *client == '\0'))
		fm->error = "field 'client_id': choose a client";
	else if (creating && !valid_to_id(client, strlen(client), &cid))
		fm->error = "field 'client_id' is not a client of this business";
	else if (*fm->starts == '\0')
		fm->error = "field 'starts_at': give the date and time";
	else if (!dash_datetime_ok(fm->starts))
		fm->error = "field 'starts_at' must be a date and time such as 2026-12-08T14:30";
	else if (!valid_text(fm->notes, DASH_NOTES_MAX, "\n\r\t"))
		fm->error = "field 'notes' must be at most 4000 characters of text";
}

/* starts (datetime-local in tz) as Unix seconds into *s; 0, or -1 on a
 * database error. */
static int dash_local_to_unix(struct app *app, const char *starts, const char *tz, long long *s)
{
	const char *p[2] = { starts, tz };
	PGresult *res = db_exec_prepared(app->db, "dash_local_to_unix",
		"SELECT extract(epoch FROM $1::timestamp AT TIME ZONE $2)::bigint", 2, p);

	if (res == NULL)
		return -1;
	*s = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

/* The form again with fm->error (status 422) from inside a handler: its
 * transaction, when *in_tx, is rolled back first (nothing was changed;
 * the form's client list reads outside it). */
static void dash_form_again(struct app *app, const struct route_input *in,
	struct outcome *out, const struct dash_form *fm, int *in_tx)
{
	if (*in_tx) {
		db_rollback(app->db);
		*in_tx = 0;
	}
	dash_form_page(app, in, out, fm);
}

/* Plans appointment id's reminders inside the handler's transaction:
 * the number planned, or -1 (logged) on an error. */
static int dash_plan(struct app *app, const struct route_input *in, long long id,
	long long now_s)
{
	char err[256];
	int n = reminders_plan(app->db, id, now_s, err, sizeof(err));

	if (n < 0)
		log_error("dashboard: request %s: planning reminders for appointment %lld: %s",
			in->req->request_id, id, err);
	return n;
}

void dash_appt_new_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct dash_form fm;

	memset(&fm, 0, sizeof(fm));
	fm.client_id = field(&in->query, DN_CLIENT);
	fm.q = field(&in->query, DN_Q);
	if (fm.q && !valid_text(fm.q, DASH_Q_MAX, NULL))
		fm.q = NULL;
	fm.starts = "";
	fm.notes = "";
	dash_form_page(app, in, out, &fm);
}

void dash_appt_create_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct dash_form fm;
	long long starts_s, now_s = clock_now_s(), id;
	char st[32];
	PGresult *res = NULL;
	int in_tx = 0, n;

	memset(&fm, 0, sizeof(fm));
	out->action = "create_appointment";
	dash_form_read(in, &fm, 1);
	if (fm.error)
		goto form;
	if (dash_local_to_unix(app, fm.starts, in->user->business_tz, &starts_s) < 0)
		goto db_failed;
	if (starts_s <= now_s) {
		fm.error = "field 'starts_at' is in the past";
		goto form;
	}
	clock_sql(starts_s, st);
	if (db_begin(app->db) < 0)
		goto db_failed;
	in_tx = 1;
	{
		const char *p[2] = { fm.client_id, in->business };
		res = db_exec_prepared(app->db, "dash_client_lock", "SELECT 1 FROM clients"
			" WHERE id = $1::bigint AND business_id = $2::bigint FOR SHARE", 2, p);
	}
	if (res == NULL)
		goto db_failed;
	if (PQntuples(res) != 1) {
		fm.error = "field 'client_id' is not a client of this business";
		goto form;
	}
	PQclear(res);
	{
		const char *p[4] = { in->business, fm.client_id, st, fm.notes };
		res = db_exec_prepared(app->db, "dash_appt_insert", "INSERT INTO appointments"
			" (business_id, client_id, starts_at, notes)"
			" VALUES ($1::bigint, $2::bigint, $3::timestamptz, $4) RETURNING id", 4, p);
	}
	if (res == NULL)
		goto db_failed;
	id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	res = NULL;
	n = dash_plan(app, in, id, now_s);
	if (n < 0)
		goto db_failed;
	if (db_commit(app->db) < 0)
		goto db_failed;
	in_tx = 0;
	out->appointment_id = id;
	out->planned = n;
	dash_audit(app, in, "create_appointment", id, json_pack("{s:i}", "reminders_planned", n));
	page_redirect(out, "/appointments/%lld?notice=created", id);
	goto out;
form:
	dash_form_again(app, in, out, &fm, &in_tx);
	goto out;
db_failed:
	dash_db_failed(app, in, out);
out:
	db_finish(app->db, in_tx, res);
}

/* The appointment id of the business as the edit form shows it: fills
 * fm (client, starts, notes) and *status.  1, 0 not found, -1 error. */
static int dash_load_for_form(struct app *app, const struct route_input *in, long long id,
	struct dash_form *fm, const char **status)
{
	struct arena *a = in->req->arena;
	char ids[24];
	const char *p[3] = { ids, in->business, in->user->business_tz }, *v[5];
	int rc;

	snprintf(ids, sizeof(ids), "%lld", id);
	rc = db_row_prepared(app->db, a, "dash_appt_form",
		"SELECT a.client_id, c.name, to_char(a.starts_at AT TIME ZONE $3,"
		" 'YYYY-MM-DD\"T\"HH24:MI'), a.notes, a.status FROM appointments a"
		" JOIN clients c ON c.id = a.client_id"
		" WHERE a.id = $1::bigint AND a.business_id = $2::bigint", 3, p, 5, v);
	if (rc == 1) {
		fm->id = id;
		fm->client_id = v[0];
		fm->client_name = v[1];
		fm->starts = v[2];
		fm->notes = v[3];
		*status = v[4];
	}
	return rc;
}

void dash_appt_edit_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct dash_form fm;
	const char *status;
	long long id = in->param_id;

	memset(&fm, 0, sizeof(fm));
	if (!dash_found(app, in, out, dash_load_for_form(app, in, id, &fm, &status)))
		return;
	if (is(status, "cancelled") || is(status, "completed")) {
		page_error(out, 409, "This appointment cannot be changed",
			arena_printf(in->req->arena, "It is %s. Book a new one instead.", status));
		return;
	}
	dash_form_page(app, in, out, &fm);
}

/* Begins the transaction (*in_tx set) and locks appointment ids of the
 * business, reading its status (request arena) and its start (Unix
 * seconds).  1 locked; 0 after answering 404 (no such appointment of
 * the business); -1 on a database error (the caller answers). */
static int dash_lock_appt(struct app *app, const struct route_input *in, struct outcome *out,
	const char *ids, int *in_tx, const char **status, long long *starts_s)
{
	const char *p[2] = { ids, in->business }, *v[2];
	int rc;

	if (db_begin(app->db) < 0)
		return -1;
	*in_tx = 1;
	rc = db_row_prepared(app->db, in->req->arena, "dash_appt_lock", "SELECT status,"
		" extract(epoch FROM starts_at)::bigint FROM appointments"
		" WHERE id = $1::bigint AND business_id = $2::bigint FOR UPDATE", 2, p, 2, v);
	if (rc == 0)
		page_not_found(out);
	else if (rc == 1) {
		*status = v[0];
		*starts_s = strtoll(v[1], NULL, 10);
	}
	return rc;
}

void dash_appt_update_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct dash_form fm, cur;
	const char *status;
	long long id = in->param_id, starts_s, now_s = clock_now_s(), old_s;
	char ids[24];
	PGresult *res = NULL;
	int in_tx = 0, n = -1, cancelled = -1, rc;

	memset(&fm, 0, sizeof(fm));
	memset(&cur, 0, sizeof(cur));
	out->appointment_id = id;
	out->action = "update_appointment";
	snprintf(ids, sizeof(ids), "%lld", id);
	rc = dash_load_for_form(app, in, id, &cur, &status);
	if (rc < 0)
		goto db_failed;
	if (rc == 0) {
		page_not_found(out);
		goto out;
	}
	dash_form_read(in, &fm, 0);
	fm.id = id;
	fm.client_id = cur.client_id;
	fm.client_name = cur.client_name;
	if (fm.error)
		goto form;
	if (dash_local_to_unix(app, fm.starts, in->user->business_tz, &starts_s) < 0)
		goto db_failed;
	rc = dash_lock_appt(app, in, out, ids, &in_tx, &status, &old_s);
	if (rc < 0)
		goto db_failed;
	if (rc == 0)
		goto out;
	if (is(status, "cancelled") || is(status, "completed")) {
		fm.error = arena_printf(in->req->arena, "field 'starts_at': this appointment is %s"
			" and cannot be changed; book a new one", status);
		goto form;
	}
	if (starts_s != old_s && starts_s <= now_s) {
		fm.error = "field 'starts_at' is in the past";
		goto form;
	}
	{
		const char *p[2] = { ids, fm.notes };
		res = db_exec_prepared(app->db, "dash_appt_notes",
			"UPDATE appointments SET notes = $2, updated_at = now() WHERE id = $1::bigint", 2, p);
	}
	if (res == NULL)
		goto db_failed;
	PQclear(res);
	res = NULL;
	if (starts_s != old_s) {
		char err[256];
		n = reminders_reschedule(app->db, id, starts_s, now_s, &cancelled, err,
			sizeof(err));
		if (n < 0) {
			log_error("dashboard: request %s: rescheduling appointment %lld: %s",
				in->req->request_id, id, err);
			goto db_failed;
		}
	}
	if (db_commit(app->db) < 0)
		goto db_failed;
	in_tx = 0;
	out->planned = n;
	out->cancelled = cancelled;
	dash_audit(app, in, n >= 0 ? "reschedule_appointment" : "update_appointment", id,
		json_pack("{s:i, s:i}", "reminders_planned", n, "reminders_cancelled", cancelled));
	page_redirect(out, "/appointments/%lld?notice=%s", id, n >= 0 ? "rescheduled" : "saved");
	goto out;
form:
	dash_form_again(app, in, out, &fm, &in_tx);
	goto out;
db_failed:
	dash_db_failed(app, in, out);
out:
	db_finish(app->db, in_tx, res);
}

void dash_appt_cancel_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	long long id = in->param_id, starts_s;
	char ids[24];
	const char *status;
	int in_tx = 0, cancelled = 0, rc;

	out->appointment_id = id;
	out->action = "cancel_appointment";
	snprintf(ids, sizeof(ids), "%lld", id);
	rc = dash_lock_appt(app, in, out, ids, &in_tx, &status, &starts_s);
	if (rc < 0)
		goto db_failed;
	if (rc == 0)
		goto out;
	if (is(status, "completed")) {
		page_error(out, 409, "This appointment cannot be cancelled",
			"It has already taken place. Nothing was changed.");
		goto out;
	}
	if (!is(status, "cancelled")) {
		cancelled = reminders_cancel_appointment(app->db, id);
		if (cancelled < 0)
			goto db_failed;
	}
	if (db_commit(app->db) < 0)
		goto db_failed;
	in_tx = 0;
	out->cancelled = cancelled;
	dash_audit(app, in, "cancel_appointment", id,
		json_pack("{s:i}", "reminders_cancelled", cancelled));
	page_redirect(out, "/appointments/%lld?notice=cancelled", id);
	goto out;
db_failed:
	dash_db_failed(app, in, out);
out:
	db_finish(app->db, in_tx, NULL);
}

/* Marks r's request of the appointment done by the session's user, and
 * back to the Today page. */
static void dash_request_done(struct app *app, const struct route_input *in,
	struct outcome *out, const struct dash_request *r)
{
	long long id = in->param_id;
	char ids[24], uid[24];
	const char *p[3] = { ids, in->business, uid }, *v[1];
	int rc;

	out->appointment_id = id;
	out->action = r->action;
	snprintf(ids, sizeof(ids), "%lld", id);
	snprintf(uid, sizeof(uid), "%lld", in->user->user_id);
	rc = db_row_prepared(app->db, in->req->arena, r->done_stmt, r->done_sql, 3, p, 1, v);
	if (!dash_found(app, in, out, rc))
		return;
	dash_audit(app, in, r->action, id, NULL);
	page_redirect(out, "/today?notice=%s", r->action);
}

void dash_callback_done_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	dash_request_done(app, in, out, &dash_callback_request);
}

void dash_reschedule_done_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	dash_request_done(app, in, out, &dash_reschedule_request);
}

/* ---- Send me a test reminder ------------------------------------------------- */

/* The refusal of a test reminder: the appointment's page with a message
 * (status 422 or 429).  The timeline's page is not built here: the
 * answer names the reason and links back. */
static void dash_test_refused(struct outcome *out, int status, long long id, const char *msg,
	struct arena *a)
{
	page_error(out, status, "The test reminder was not queued",
		arena_printf(a, "%s Nothing was sent. (Appointment %lld.)", msg, id));
}

void dash_test_reminder_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	const char *channel = field(&in->form, DT_CHANNEL);
	long long id = in->param_id, now_s = clock_now_s(), rid = 0;
	char ids[24], now[32], uid[24];
	const char *v[9];
	PGresult *res = NULL;
	int in_tx = 0, rc;

	out->appointment_id = id;
	out->action = "test_reminder";
	snprintf(ids, sizeof(ids), "%lld", id);
	snprintf(uid, sizeof(uid), "%lld", in->user->user_id);
	clock_sql(now_s, now);
	if (db_begin(app->db) < 0)
		goto db_failed;
	in_tx = 1;
	/* One test request of a business at a time: the counts below and
	 * the insert cannot interleave with another's. */
	{
		const char *p[1] = { in->business };
		res = db_exec_prepared(app->db, "dash_test_lock",
			"SELECT rf_test_reminder_lock($1::bigint)", 1, p);
	}
	if (res == NULL)
		goto db_failed;
	PQclear(res);
	res = NULL;
	{
		const char *p[4] = { ids, in->business, now, channel ? channel : "" };
		/* The limits and business hours: the rule the trigger under
		 * every writer of test reminders applies (sql/016_trial.sql). */
		rc = db_row_prepared(app->db, a, "dash_test_check",
			"SELECT a.status, a.starts_at > $3::timestamptz,"
			" CASE $4 WHEN 'email' THEN cl.email::text ELSE cl.phone::text END,"
			" rf_test_reminder_refusal(a.business_id, w.tz, $3::timestamptz), w.tz,"
			/* The recipient's window, as reminder_block decides it. */
			" ((($3::timestamptz AT TIME ZONE w.tz)::time >= b.window_start"
			"   AND ($3::timestamptz AT TIME ZONE w.tz)::time < b.window_end)),"
			" to_char((CASE WHEN ($3::timestamptz AT TIME ZONE w.tz)::time < b.window_start"
			"   THEN ($3::timestamptz AT TIME ZONE w.tz)::date"
			"   ELSE ($3::timestamptz AT TIME ZONE w.tz)::date + 1 END + b.window_start),"
			"   'FMDay FMDD FMMonth \"at\" HH24:MI') || ' (' || w.tz || ')',"
			" a.id,"
			/* Who reminder_block never reaches, said before queuing. */
			" CASE WHEN cl.opted_out_at IS NOT NULL THEN 'opted_out'"
			"  WHEN cl.proposed_at IS NOT NULL AND cl.confirmed_at IS NULL THEN 'unconfirmed'"
			"  WHEN b.paused_at IS NOT NULL THEN 'paused' END"
			" FROM appointments a JOIN clients cl ON cl.id = a.client_id"
			" JOIN businesses b ON b.id = a.business_id"
			" CROSS JOIN LATERAL (SELECT COALESCE(cl.time_zone, b.time_zone) AS tz) w"
			" WHERE a.id = $1::bigint AND a.business_id = $2::bigint FOR UPDATE OF a",
			4, p, 9, v);
	}
	if (rc < 0)
		goto db_failed;
	if (rc == 0) {
		page_not_found(out);
		goto out;
	}
	if (!(is(channel, "voice") || is(channel, "sms") || is(channel, "email"))) {
		dash_test_refused(out, 422, id,
			"field 'channel' must be voice (a call), sms (a text) or email.", a);
		goto out;
	}
	if (!(is(v[0], "booked") || is(v[0], "confirmed")) || !is(v[1], "t")) {
		dash_test_refused(out, 422, id, "Only a booked or confirmed appointment that is still"
			" ahead can get a test reminder.", a);
		goto out;
	}
	if (v[8] != NULL) {
		dash_test_refused(out, 409, id, is(v[8], "opted_out") ? "The client opted out: no"
			" reminder is sent to them, a test included." : is(v[8], "unconfirmed") ? "The"
			" client was proposed from a calendar event and is not confirmed yet: nothing is"
			" sent to them, a test included. Check the number and confirm the client on the"
			" client's page." : "Automatic messages are off for this business: every reminder,"
			" a test included, is held until they are switched on again.", a);
		goto out;
	}
	if (v[2] == NULL) {
		dash_test_refused(out, 422, id, is(channel, "email") ? "field 'channel': the client"
			" has no email address." : "field 'channel': the client has no phone number.", a);
		goto out;
	}
	if (is(v[3], "hour") || is(v[3], "day")) {
		dash_test_refused(out, 429, id, arena_printf(a, "A business can send %d test"
			" reminders an hour and %d a day; try again later.", DASH_TEST_PER_HOUR,
			DASH_TEST_PER_DAY), a);
		goto out;
	}
	if (!is(v[5], "t")) {
		dash_test_refused(out, 422, id, arena_printf(a, "It is outside the client's calling"
			" window; it opens %s.", v[6]), a);
		goto out;
	}
	if (is(v[3], "hours")) {
		dash_test_refused(out, 422, id, arena_printf(a, "Test reminders go out only in business"
			" hours, 09:00 to 18:00 in the client's time zone (%s).", v[4]), a);
		goto out;
	}
	rid = reminders_add_now(app->db, id, channel, -1, v[2], "test", in->user->user_id, now_s);
	if (rid < 0)
		goto db_failed;
	if (db_commit(app->db) < 0)
		goto db_failed;
	in_tx = 0;
	/* The ready set; when Redis is down the scheduler's next tick queues
	 * it (the row is due now). */
	if (queue_push(app->rds, &rid, 1) < 0)
		log_warn("dashboard: test reminder %lld not queued now (Redis); the scheduler will",
			rid);
	dash_audit(app, in, "test_reminder", id, json_pack("{s:s, s:I}", "channel", channel,
		"reminder_id", (json_int_t)rid));
	page_redirect(out, "/appointments/%lld?notice=queued", id);
	goto out;
db_failed:
	dash_db_failed(app, in, out);
out:
	db_finish(app->db, in_tx, res);
}

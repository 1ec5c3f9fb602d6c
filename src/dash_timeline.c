/* dash_timeline: one appointment's timeline (see include/dash_timeline.h). */
#include "dash_timeline.h"
#include "app.h"
#include "arena.h"
#include "audit.h"
#include "dash_appointments.h"
#include "db.h"
#include "dispatch.h"
#include "http.h"
#include "log.h"
#include "page.h"
#include "session.h"
#include "util.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records read per stream. */
#define TL_CALL_RECORDS 100
#define TL_BUSINESS_RECORDS 500
/* Audit groups (attempts and calls) shown at most. */
#define TL_GROUPS_MAX 40

/* 1 when a member named k must not be shown. */
static int tl_secret_name(const char *k)
{
	static const char *const words[] = { "authtoken", "password", "token", "secret", "apikey",
		"authorization", "signature", "cookie", "csrf" };
	char norm[64];
	size_t n = 0;

	for (; *k && n + 1 < sizeof(norm); k++)
		if (*k != '_' && *k != '-')
			norm[n++] = (char)tolower((unsigned char)*k);
	norm[n] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(words); i++)
		if (strstr(norm, words[i]))
			return 1;
	return 0;
}

json_t *dash_timeline_mask(json_t *v)
{
	const char *k;
	json_t *m;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, m) {
			if (tl_secret_name(k))
				json_object_set_new(v, k, json_string("[redacted]"));
			else
				dash_timeline_mask(m);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			dash_timeline_mask(m);
	} else if (json_is_string(v)) {
		char *r = audit_redact(json_string_value(v));
		if (r && strcmp(r, json_string_value(v)) != 0)
			json_string_set(v, r);
		free(r);
	}
	return v;
}

/* The masked text of v for a <pre>: a string as it is, anything else as
 * indented JSON; registered secrets masked once more in the text. */
static const char *tl_text(struct arena *a, json_t *v)
{
	char *s;
	const char *r;

	if (v == NULL)
		return "";
	dash_timeline_mask(v);
	if (json_is_string(v))
		return audit_redact_in(a, json_string_value(v));
	s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
	r = audit_redact_in(a, s ? s : "");
	free(s);
	return r;
}

/* A member of a record as text ("" when absent). */
static const char *tl_str(json_t *rec, const char *k)
{
	json_t *m = json_object_get(rec, k);
	return json_is_string(m) ? json_string_value(m) : "";
}

/* Writes one audit record: its time, kind and what it was, and the
 * request and response (a webhook's parameters and TwiML, an outbound
 * request and Twilio's answer) or the whole record, escaped. */
static void tl_record(struct outcome *out, struct arena *a, json_t *rec)
{
	json_t *req = json_object_get(rec, "params"), *res = json_object_get(rec, "response");
	const char *what = tl_str(rec, "path");

	if (!*what)
		what = tl_str(rec, "decision");
	if (!*what)
		what = tl_str(rec, "action");
	if (req == NULL)
		req = json_object_get(rec, "request");
	{
		const char *f[] = { "ts", tl_str(rec, "ts"), "kind", tl_str(rec, "kind"), "what", what,
			NULL };
		page_add(out, "<details><summary class=\"small\">{{ts}} {{kind}} <span class=\"mono\">{{what}}</span>"
			"</summary>", f);
	}
	if (req || res) {
		const char *f[] = { "req", tl_text(a, req), "res", tl_text(a, res), NULL };
		page_add(out, "<p class=\"small\">Request</p><pre class=\"code\">{{req}}</pre>"
			"<p class=\"small\">Response</p><pre class=\"code\">{{res}}</pre>", f);
	}
	{
		const char *f[] = { "all", tl_text(a, rec), NULL };
		page_add(out, "<p class=\"small\">Whole record</p><pre class=\"code\">{{all}}</pre>"
			"</details>", f);
	}
}

/* The records of one stream (scope "call", id) under an anchor.  1 shown,
 * 0 Redis could not be read. */
static int tl_group(struct app *app, struct outcome *out, struct arena *a, const char *key,
	const char *title)
{
	json_t *arr = audit_read(app->rds, "call", key, TL_CALL_RECORDS), *rec;
	size_t i;

	if (arr == NULL)
		return 0;
	{
		const char *f[] = { "key", key, "title", title, NULL };
		page_add(out, "<section class=\"card\" id=\"audit-{{key}}\"><h3 class=\"mono\">{{title}}</h3>", f);
	}
	if (json_array_size(arr) == 0)
		page_add(out, "<p class=\"muted\">No records kept.</p>", NULL);
	json_array_foreach(arr, i, rec)
		tl_record(out, a, rec);
	page_add(out, "</section>", NULL);
	json_decref(arr);
	return 1;
}

/* 1 when rec of the business's stream is about appointment id: the
 * API's and the dashboard's records naming it, and the records of its
 * attempts (links[0..n): "attempt-N") that no call's or attempt's
 * stream holds (a text's status callbacks). */
static int tl_about(json_t *rec, long long id, const char *const *links, size_t n)
{
	json_t *aid = json_object_get(rec, "appointment_id");
	json_t *att = json_object_get(rec, "attempt_id");
	char at[32];

	if (json_is_integer(aid))
		return json_integer_value(aid) == id;
	if (json_object_get(rec, "call_sid") != NULL)
		return 0;
	if (json_is_integer(att))
		snprintf(at, sizeof(at), "attempt-%lld", (long long)json_integer_value(att));
	else if (json_is_string(att) && json_string_length(att) < 20)
		snprintf(at, sizeof(at), "attempt-%s", json_string_value(att));
	else
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(links[i], at) == 0)
			return 1;
	return 0;
}

/* The business's records about appointment id (tl_about).  1 shown, 0
 * Redis could not be read. */
static int tl_business_records(struct app *app, const struct route_input *in,
	struct outcome *out, long long id, const char *const *links, size_t nlinks)
{
	json_t *arr = audit_read(app->rds, "business", in->business, TL_BUSINESS_RECORDS), *rec;
	size_t i;
	int any = 0;

	if (arr == NULL)
		return 0;
	page_add(out, "<section class=\"card\" id=\"audit-business\">"
		"<h3>Other records about this appointment</h3>", NULL);
	json_array_foreach(arr, i, rec) {
		if (!tl_about(rec, id, links, nlinks))
			continue;
		any = 1;
		tl_record(out, in->req->arena, rec);
	}
	if (!any)
		page_add(out, "<p class=\"muted\">No records kept.</p>", NULL);
	page_add(out, "</section>", NULL);
	json_decref(arr);
	return 1;
}

/* Everything the database knows about the appointment, oldest first:
 * when, what, and the audit stream it links to ("attempt-N" or a CallSid;
 * NULL: none).  $1 the appointment, $2 the business, $3 its zone, $4
 * TWILIO_FROM_NUMBER (NULL when unset).  The client's replies (tx) are
 * the texts from the client's phone to the number this business texts
 * from (rf_business_sms_from, as an inbound STOP decides whom it opts out
 * of), received from the first reminder text placed for the appointment
 * until its start (or now): a text to another business's number never
 * shows.  Each text the reminder_sms flow applied to this appointment is
 * one "Text reply" row per transition (se), as a call's keypresses are. */
static const char tl_sql[] =
	"WITH ap AS (SELECT * FROM appointments WHERE id = $1::bigint AND business_id = $2::bigint),"
	" r AS (SELECT r.*, CASE r.channel WHEN 'voice' THEN 'Call' WHEN 'sms' THEN 'Text'"
	"   ELSE 'Email' END AS ch FROM reminders r, ap WHERE r.appointment_id = ap.id"
	"   AND r.business_id = ap.business_id),"
	" ca AS (SELECT ca.*, r.ch FROM contact_attempts ca JOIN r ON r.id = ca.reminder_id),"
	" cl AS (SELECT cl.* FROM calls cl, ap WHERE cl.appointment_id = ap.id"
	"   AND cl.business_id = ap.business_id),"
	" tx AS (SELECT it.* FROM ap JOIN clients c ON c.id = ap.client_id"
	"   JOIN businesses b ON b.id = ap.business_id"
	"   JOIN inbound_texts it ON it.from_number = c.phone"
	"   AND it.to_number = rf_business_sms_from(b.twilio_from, $4)"
	"   AND it.received_at >= (SELECT min(ca.placed_at) FROM ca WHERE ca.channel = 'sms')"
	"   AND it.received_at <= LEAST(ap.starts_at, now())),"
	" se AS (SELECT e.*, CASE e.input WHEN 'done' THEN 'done' WHEN 'none' THEN 'nothing to act on'"
	"   WHEN 'first' THEN 'not understood' ELSE 'not understood again' END AS said"
	"   FROM sms_events e, ap WHERE e.appointment_id = ap.id AND e.business_id = ap.business_id),"
	" t(at, ord, what, link) AS ("
	"  SELECT created_at, 0, 'Appointment created', NULL FROM ap"
	"  UNION ALL SELECT r.created_at, 1, CASE r.kind"
	"    WHEN 'test' THEN 'Test ' || lower(r.ch) || ' reminder requested by '"
	"      || COALESCE((SELECT u.email FROM users u WHERE u.id = r.requested_by), 'a user')"
	"    WHEN 'resend' THEN r.ch || ' reminder to send once more (a decision)'"
	"    WHEN 'reply' THEN 'Reply from the inbox queued by '"
	"      || COALESCE((SELECT u.email FROM users u WHERE u.id = r.requested_by), 'a user')"
	"    ELSE r.ch || ' reminder planned for '"
	"      || to_char(r.due_at AT TIME ZONE $3, 'Dy FMDD Mon, HH24:MI')"
	"      || CASE WHEN r.attempt > 1 THEN ' (try ' || r.attempt || ')' ELSE '' END END"
	"    || COALESCE(' to ' || r.to_address, ''), NULL FROM r"
	"  UNION ALL SELECT r.superseded_at, 2, r.ch || ' reminder for '"
	"    || to_char(r.due_at AT TIME ZONE $3, 'Dy FMDD Mon, HH24:MI')"
	"    || ' replaced: the appointment moved', NULL FROM r WHERE r.superseded_at IS NOT NULL"
	"  UNION ALL SELECT r.updated_at, 3, r.ch || ' reminder '"
	"    || CASE r.status WHEN 'cancelled' THEN 'cancelled'"
	"      WHEN 'skipped_stale' THEN 'not sent in time'"
	"      WHEN 'blocked_not_allowed' THEN 'blocked (not allowed)'"
	"      ELSE 'not sent' END || COALESCE(': ' || r.status_reason, ''), NULL"
	"    FROM r WHERE r.status IN ('cancelled', 'skipped_stale', 'blocked_not_allowed', 'skipped')"
	"  UNION ALL SELECT ca.claimed_at, 4, ca.ch || ' to ' || ca.to_address || ' claimed'"
	"    || COALESCE(' by worker ' || ca.worker, ''), 'attempt-' || ca.id FROM ca"
	"  UNION ALL SELECT ca.placed_at, 5, ca.ch || ' placed with '"
	"    || CASE ca.channel WHEN 'email' THEN 'the mail server' ELSE 'Twilio' END"
	"    || COALESCE(': ' || ca.provider_sid, ''), 'attempt-' || ca.id"
	"    FROM ca WHERE ca.placed_at IS NOT NULL"
	"  UNION ALL SELECT COALESCE(ca.settled_at, ca.updated_at), 6, ca.ch || ' attempt '"
	"    || CASE ca.status WHEN 'unknown' THEN 'outcome unknown'"
	"      WHEN 'not_placed' THEN 'not placed' WHEN 'failed' THEN 'failed'"
	"      WHEN 'blocked_not_allowed' THEN 'blocked (not allowed)'"
	"      WHEN 'skipped_rate_limited' THEN 'rate limited'"
	"      WHEN 'skipped_failsafe' THEN 'held by the failsafe' ELSE ca.status END"
	"    || COALESCE(' (error ' || ca.error_code || ')', '')"
	"    || COALESCE(': ' || ca.error_message, ''), 'attempt-' || ca.id"
	"    FROM ca WHERE ca.status NOT IN ('dialing', 'placed')"
	"  UNION ALL SELECT ca.updated_at, 7, 'Twilio reported the ' || lower(ca.ch) || ' '"
	"    || replace(ca.delivery_status, '-', ' '), 'attempt-' || ca.id"
	"    FROM ca WHERE ca.delivery_status IS NOT NULL"
	"  UNION ALL SELECT cl.created_at, 8, 'Call started' || COALESCE(': ' || cl.call_sid, ''),"
	"    cl.call_sid FROM cl"
	"  UNION ALL SELECT e.created_at, 9, CASE"
	"      WHEN e.input ~ '^[0-9#*]$' THEN 'pressed ' || e.input"
	"      WHEN e.input = 'other' THEN 'pressed ' || COALESCE(e.digits, 'another key')"
	"      WHEN e.input = 'timeout' THEN 'nothing pressed'"
	"      WHEN e.input = 'machine' THEN 'answering machine detected'"
	"      ELSE replace(e.input, '_', ' ') END"
	"    || ' → ' || replace(e.to_state, '_', ' '), cl.call_sid"
	"    FROM call_events e JOIN cl ON cl.id = e.call_id"
	"  UNION ALL SELECT cl.updated_at, 10, 'Call ' || replace(cl.call_status, '-', ' ')"
	"    || COALESCE(' (answered by ' || replace(cl.answered_by, '_', ' ') || ')', ''),"
	"    cl.call_sid FROM cl WHERE cl.call_status IS NOT NULL"
	"  UNION ALL SELECT confirmed_at, 11, 'Appointment confirmed', NULL FROM ap"
	"    WHERE confirmed_at IS NOT NULL"
	"  UNION ALL SELECT cancelled_at, 11, 'Appointment cancelled', NULL FROM ap"
	"    WHERE cancelled_at IS NOT NULL"
	"  UNION ALL SELECT callback_requested_at, 11, 'The client asked for a call back', NULL"
	"    FROM ap WHERE callback_requested_at IS NOT NULL"
	"  UNION ALL SELECT callback_done_at, 12, 'Called back (marked by '"
	"    || COALESCE((SELECT u.email FROM users u WHERE u.id = ap.callback_done_by), 'a user')"
	"    || ')', NULL FROM ap WHERE callback_done_at IS NOT NULL"
	"  UNION ALL SELECT reschedule_requested_at, 11, 'The client asked to reschedule', NULL"
	"    FROM ap WHERE reschedule_requested_at IS NOT NULL"
	"  UNION ALL SELECT reschedule_done_at, 12, 'Reschedule request done (marked by '"
	"    || COALESCE((SELECT u.email FROM users u WHERE u.id = ap.reschedule_done_by), 'a user')"
	"    || ')', NULL FROM ap WHERE reschedule_done_at IS NOT NULL"
	"  UNION ALL SELECT d.created_at, 13, 'Decision by ' || d.user_email || ': '"
	"    || CASE d.decision WHEN 'reached' THEN 'the client was reached'"
	"      ELSE 'send once more' END || ' (' || d.reason || ')', 'attempt-' || d.attempt_id"
	"    FROM attempt_decisions d JOIN ca ON ca.id = d.attempt_id"
	"  UNION ALL SELECT tx.received_at, 14, 'Client replied by text: “' || tx.body || '”'"
	"    || CASE tx.opt_keyword WHEN 'stop' THEN ' (opted out)'"
	"      WHEN 'start' THEN ' (START: texts allowed again, unless the business opted the"
	" client out)' ELSE '' END, NULL FROM tx"
	"  UNION ALL SELECT e.created_at, 15, 'Text reply: ' || CASE"
	"      WHEN e.input ~ '^[0-9]$' THEN 'texted ' || e.input"
	"      WHEN e.input IN ('done', 'none', 'first', 'again') THEN"
	"        e.said"
	"      ELSE replace(e.input, '_', ' ') END"
	"    || ' → ' || replace(e.to_state, '_', ' '), NULL FROM se e)"
	" SELECT to_char(at AT TIME ZONE $3, 'Dy FMDD Mon YYYY, HH24:MI:SS'), what, link"
	" FROM t WHERE at IS NOT NULL ORDER BY at, ord LIMIT 2000";

/* 1 when an appointment of status s can still change. */
static int is_open(const char *s)
{
	return strcmp(s, "booked") == 0 || strcmp(s, "confirmed") == 0;
}

/* 1 for PostgreSQL's true as text. */
static int is_yes(const char *s)
{
	return s && strcmp(s, "true") == 0;
}

/* The appointment's head: who, when, its state and its actions.  1,
 * 0 when the business has no such appointment, -1 on a database error. */
static int tl_head(struct app *app, const struct route_input *in, struct outcome *out,
	long long id)
{
	struct arena *a = in->req->arena;
	char ids[24];
	const char *p[3] = { ids, in->business, in->user->business_tz }, *v[8];
	int rc;

	snprintf(ids, sizeof(ids), "%lld", id);
	rc = db_read_row(app->read_db, app->db, a, "dash_tl_head",
		"SELECT c.name, COALESCE(c.phone, 'none'), COALESCE(c.email, 'none'),"
		" to_char(a.starts_at AT TIME ZONE $3, 'FMDay FMDD FMMonth YYYY, HH24:MI'), a.status,"
		" a.notes, (a.callback_requested_at IS NOT NULL AND (a.callback_done_at IS NULL"
		"   OR a.callback_done_at < a.callback_requested_at))::text,"
		" (a.reschedule_requested_at IS NOT NULL AND (a.reschedule_done_at IS NULL"
		"   OR a.reschedule_done_at < a.reschedule_requested_at))::text"
		" FROM appointments a JOIN clients c ON c.id = a.client_id"
		" WHERE a.id = $1::bigint AND a.business_id = $2::bigint", 3, p, 8, v);
	if (rc <= 0)
		return rc;
	{
		const char *f[] = { "id", ids, "name", v[0], "phone", v[1], "email", v[2], "when", v[3],
			"status", v[4], "notes", v[5], "csrf", in->user->csrf,
			"sclass", dash_appt_status_class(v[4]), NULL };
		int open = is_open(v[4]);
		page_begin(out, arena_printf(a, "Appointment: %s", v[0]), "today");
		page_add(out, "<div class=\"page-head\"><h1>{{name}}</h1>"
			"<span class=\"badge {{sclass}}\">{{status}}</span></div>"
			"<section class=\"card\"><dl class=\"facts\"><dt>When</dt><dd>{{when}}</dd>"
			"<dt>Phone</dt><dd class=\"mono\">{{phone}}</dd><dt>Email</dt><dd>{{email}}</dd>", f);
		if (*v[5])
			page_add(out, "<dt>Notes</dt><dd>{{notes}}</dd>", f);
		page_add(out, "</dl>", f);
		if (is_yes(v[6]))
			page_add(out, "<div class=\"row\"><span class=\"badge badge-attention\">"
				"Asked for a call back</span>"
				" <form class=\"inline-form\" method=\"post\""
				" action=\"/appointments/{{id}}/callback-done\">" PAGE_CSRF_INPUT
				"<button class=\"btn btn-small\" type=\"submit\">Called back</button></form></div>",
				f);
		if (is_yes(v[7]))
			page_add(out, "<div class=\"row\"><span class=\"badge badge-attention\">"
				"Asked to reschedule</span>"
				" <form class=\"inline-form\" method=\"post\""
				" action=\"/appointments/{{id}}/reschedule-done\">" PAGE_CSRF_INPUT
				"<button class=\"btn btn-small\" type=\"submit\">Done</button></form></div>",
				f);
		if (open) {
			page_add(out, "<div class=\"row\">"
				"<a class=\"btn\" href=\"/appointments/{{id}}/edit\">Edit or reschedule</a>"
				"<form class=\"inline-form\" method=\"post\" action=\"/appointments/{{id}}/cancel\""
				" data-confirm=\"Cancel this appointment? Reminders not yet sent will not go out.\">"
				PAGE_CSRF_INPUT "<button class=\"btn btn-danger\" type=\"submit\">"
				"Cancel appointment</button></form></div>"
				"<form class=\"form row\" method=\"post\""
				" action=\"/appointments/{{id}}/test-reminder\">" PAGE_CSRF_INPUT
				"<div class=\"field\"><label for=\"test-channel\">Send me a test reminder</label>"
				"<select id=\"test-channel\" name=\"channel\">"
				"<option value=\"voice\">Call</option><option value=\"sms\">Text</option>"
				"<option value=\"email\">Email</option></select>"
				"<p class=\"hint\">It goes to this client, through the usual checks and limits"
				" (5 an hour, 20 a day).</p></div>"
				"<div class=\"form-actions\"><button class=\"btn\" type=\"submit\">Send test"
				"</button></div></form>", f);
		}
		page_add(out, "</section>", NULL);
	}
	return 1;
}

void dash_timeline_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	long long id = in->param_id;
	char ids[24];
	const char *p[4] = { ids, in->business, in->user->business_tz, app->cfg.from_number };
	const char *links[TL_GROUPS_MAX];
	size_t nlinks = 0;
	PGresult *res = NULL;
	int rc, redis_ok = 1;

	out->appointment_id = id;
	snprintf(ids, sizeof(ids), "%lld", id);
	rc = tl_head(app, in, out, id);
	if (rc < 0)
		goto db_failed;
	if (rc == 0) {
		page_not_found(out);
		goto out;
	}
	res = db_read_exec(app->read_db, app->db, "dash_timeline", tl_sql, 4, p);
	if (res == NULL)
		goto db_failed;
	page_add(out, "<h2>Timeline</h2><section class=\"card\"><ol class=\"timeline\">", NULL);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *link = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
		const char *f[] = { "at", PQgetvalue(res, i, 0), "what", PQgetvalue(res, i, 1),
			"link", link ? link : "", NULL };
		page_add(out, "<li><span class=\"when\">{{at}}</span> <span>{{what}}</span>", f);
		if (link) {
			size_t k;
			page_add(out, " <a class=\"small\" href=\"#audit-{{link}}\">records</a>", f);
			for (k = 0; k < nlinks && strcmp(links[k], link) != 0; k++)
				;
			if (k == nlinks && nlinks < TL_GROUPS_MAX)
				links[nlinks++] = arena_strdup(a, link);
		}
		page_add(out, "</li>", NULL);
	}
	page_add(out, "</ol></section>\n<h2>Audit records</h2>", NULL);
	for (size_t k = 0; k < nlinks && redis_ok; k++) {
		const char *title = strncmp(links[k], "attempt-", 8) == 0
			? arena_printf(a, "Attempt %s", links[k] + 8)
			: arena_printf(a, "Call %s", links[k]);
		redis_ok = tl_group(app, out, a, links[k], title);
	}
	if (redis_ok)
		redis_ok = tl_business_records(app, in, out, id, links, nlinks);
	if (!redis_ok)
		page_add(out, "<p class=\"alert alert-info\">The audit records are unavailable right now"
			" (Redis cannot be reached). The timeline above is complete: it comes from the"
			" database.</p>", NULL);
	goto out;
db_failed:
	log_error("dashboard: request %s: timeline of appointment %lld: %s", in->req->request_id,
		id, db_last_error(app->db));
	page_unavailable(out);
out:
	if (res)
		PQclear(res);
}

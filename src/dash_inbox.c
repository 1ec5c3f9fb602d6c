/* dash_inbox: the reply inbox pages (include/dash_inbox.h). */
#include "dash_inbox.h"
#include "dash_appointments.h"

#include "app.h"
#include "arena.h"
#include "clock.h"
#include "db.h"
#include "form.h"
#include "http.h"
#include "inbox.h"
#include "log.h"
#include "page.h"
#include "queue.h"
#include "session.h"
#include "valid.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How many clients the inbox lists, and how many messages a
 * conversation shows (the latest). */
#define INBOX_LIST_MAX 100
#define INBOX_CONVERSATION_MAX 300

/* The dispatcher only caps the field; the handler checks it so that a
 * bad reply shows the page again with the text as typed. */
static int field_reply(const char *v, size_t len)
{
	return len <= 4096 && memchr(v, '\0', len) == NULL;
}

const struct valid_field dash_inbox_reply_fields[1] = {
	{ "body", field_reply, 0, VALID_TEXT },
};

/* A column's value, or NULL for SQL NULL. */
static const char *col(PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

static int is(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

/* The database failed: the 503 page (nothing was changed), logged. */
static void db_failed(struct app *app, const struct route_input *in, struct outcome *out)
{
	log_error("dashboard: request %s %s %s: database error: %s", in->req->request_id,
		in->req->method, in->req->path, db_last_error(app->db));
	out->error = "database unavailable";
	page_unavailable(out);
}

/* ---- the menu -------------------------------------------------------------- */

const char *dash_inbox_nav_label(struct app *app, struct arena *a, long long business_id)
{
	long long n = business_id > 0 ? inbox_open_clients(app->db, business_id) : -1;
	return n > 0 ? arena_printf(a, "Inbox (%lld)", n) : "Inbox";
}

/* ---- GET /inbox -------------------------------------------------------------- */

static const char list_head[] =
	"<div class=\"page-head\"><h1>Inbox</h1></div>\n"
	"<p class=\"muted\">Texts from your clients that the automatic replies did not handle"
	" wait here for a person. Answer from the client's conversation, or mark them"
	" answered.</p>\n";
static const char list_none[] = "<p class=\"empty\">No texts from clients yet.</p>\n";
static const char list_table_head[] =
	"<div class=\"table-wrap\"><table class=\"table\">\n<thead><tr><th scope=\"col\">Client</th>"
	"<th scope=\"col\">Last text</th><th scope=\"col\">When</th>"
	"<th scope=\"col\">State</th></tr></thead>\n<tbody>\n";
static const char list_row[] =
	"<tr><td data-label=\"Client\"><a href=\"/clients/{{id}}/messages\">{{name}}</a>"
	" <span class=\"mono small\">{{phone}}</span></td>"
	"<td data-label=\"Last text\">{{last}}</td>"
	"<td data-label=\"When\" class=\"nowrap\">{{when}}</td><td data-label=\"State\">";
static const char badge_open[] =
	"<span class=\"badge badge-attention\">{{n}} waiting for an answer</span>";
static const char badge_done[] = "<span class=\"badge badge-muted\">Answered</span>";
static const char row_end[] = "</td></tr>\n";
static const char table_tail[] = "</tbody>\n</table></div>\n";

void dash_inbox_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	char max[16];
	const char *p[2] = { in->business, max };
	PGresult *res;

	snprintf(max, sizeof(max), "%d", INBOX_LIST_MAX);
	res = db_exec_prepared(app->db, "dash_inbox_list",
		"SELECT c.id, c.name, COALESCE(c.phone::text, ''),"
		"  count(*) FILTER (WHERE it.needs_answer AND it.answered_at IS NULL),"
		"  floor(extract(epoch FROM max(t.received_at)))::bigint,"
		"  (array_agg(left(t.body, 80) ORDER BY t.received_at DESC, t.id DESC))[1]"
		" FROM inbox_texts it"
		" JOIN clients c ON c.id = it.client_id AND c.business_id = it.business_id"
		" JOIN inbound_texts t ON t.id = it.inbound_text_id"
		" WHERE it.business_id = $1::bigint"
		" GROUP BY c.id, c.name, c.phone"
		" ORDER BY count(*) FILTER (WHERE it.needs_answer AND it.answered_at IS NULL) > 0 DESC,"
		"  max(t.received_at) DESC, c.id DESC LIMIT $2::int", 2, p);
	if (res == NULL) {
		db_failed(app, in, out);
		return;
	}
	page_begin(out, "Inbox", "inbox");
	page_add(out, list_head, NULL);
	if (PQntuples(res) == 0) {
		page_add(out, list_none, NULL);
		goto out;
	}
	page_add(out, list_table_head, NULL);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *n = PQgetvalue(res, i, 3);
		const char *const f[] = { "id", PQgetvalue(res, i, 0), "name", PQgetvalue(res, i, 1),
			"phone", PQgetvalue(res, i, 2), "last", PQgetvalue(res, i, 5), "when",
			page_time(a, atoll(PQgetvalue(res, i, 4)), in->user->business_tz), NULL };
		const char *const b[] = { "n", n, NULL };
		page_add(out, list_row, f);
		page_add(out, atoll(n) > 0 ? badge_open : badge_done, b);
		page_add(out, row_end, NULL);
	}
	page_add(out, table_tail, NULL);
out:
	PQclear(res);
}

/* ---- the client and whether a reply may be queued ------------------------------ */

/* The client's columns the conversation and the reply need. */
enum { C_NAME, C_PHONE, C_OPTED, C_OPTED_BY, C_INVALID, C_APPT, C_UNCONFIRMED, C_NCOLS };

/* Reads (and, inside a transaction, locks) client id of the business the
 * pages show into v.  1 found, 0 not (or another business's), -1 error. */
static int load_client(struct app *app, const struct route_input *in, const char *v[C_NCOLS])
{
	char cid[24];
	const char *p[3] = { cid, in->business, in->user->business_tz };

	snprintf(cid, sizeof(cid), "%lld", in->param_id);
	return db_row_prepared(app->db, in->req->arena, "dash_inbox_client",
		"SELECT cl.name, cl.phone::text,"
		"  to_char(cl.opted_out_at AT TIME ZONE $3, 'FMDD Mon YYYY, HH24:MI'), cl.opted_out_by,"
		"  CASE WHEN cl.phone_invalid_at IS NOT NULL THEN 't' END,"
		"  (SELECT a.id FROM appointments a WHERE a.client_id = cl.id"
		"   AND a.business_id = cl.business_id ORDER BY a.starts_at DESC, a.id DESC LIMIT 1),"
		"  CASE WHEN cl.proposed_at IS NOT NULL AND cl.confirmed_at IS NULL THEN 't' END"
		" FROM clients cl WHERE cl.id = $1::bigint AND cl.business_id = $2::bigint"
		" FOR UPDATE OF cl", 3, p, C_NCOLS, v);
}

/* Why no reply can be queued to the client v (NULL: it can), and the
 * status to answer a refused POST with into *status. */
static const char *reply_refusal(struct arena *a, const char *const v[C_NCOLS], int *status)
{
	*status = 422;
	if (v[C_PHONE] == NULL)
		return "This client has no mobile phone number, so no text can be sent: add one on"
		       " the client's page to reply.";
	if (v[C_OPTED] != NULL) {
		const char *by = v[C_OPTED_BY];
		*status = 409;
		return arena_printf(a, "This client opted out %s on %s: no text is sent to them, a"
			" reply included.", by == NULL ? "by STOP" : is(by, "unsubscribe link")
			? "by the unsubscribe link" : arena_printf(a, "(set by %s)", by), v[C_OPTED]);
	}
	/* The claim refuses it too (reminder_block); the form says so first. */
	if (v[C_UNCONFIRMED] != NULL) {
		*status = 409;
		return "This client was proposed from a calendar event and is not confirmed yet: no"
		       " text is sent to them, a reply included. Check the number and confirm the"
		       " client on the client's page to reply.";
	}
	if (v[C_INVALID] != NULL)
		return "Twilio refused this client's number as invalid: correct it on the client's"
		       " page to reply.";
	if (v[C_APPT] == NULL)
		return "A reply is sent as part of one of the client's appointments, and this client"
		       " has none yet: add an appointment to reply.";
	return NULL;
}

/* What is wrong with a reply's text (NULL: nothing), for "field 'body' ...". */
static const char *body_problem(struct arena *a, const char *body)
{
	size_t len = strlen(body), chars;

	if (len == 0 || strspn(body, " \t\r\n") == len)
		return arena_printf(a, "field 'body' is required: write the reply (1 to %d"
			" characters).", DASH_INBOX_REPLY_MAX);
	if (!valid_utf8(body, len) || !valid_no_controls(body, len, "\n\r\t"))
		return "field 'body' must be text without control characters.";
	chars = valid_chars(body);
	if (chars > DASH_INBOX_REPLY_MAX)
		return arena_printf(a, "field 'body' must be at most %d characters (it has %zu).",
			DASH_INBOX_REPLY_MAX, chars);
	return NULL;
}

/* ---- GET /clients/{id}/messages ------------------------------------------------ */

static const char conv_head[] =
	"<div class=\"page-head\"><h1>Messages with {{name}}</h1>"
	"<a class=\"btn\" href=\"/clients/{{id}}\">The client's page</a></div>\n"
	"<p class=\"muted\">Texts to and from <span class=\"mono\">{{phone}}</span>, oldest first."
	" <a href=\"/inbox\">Back to the inbox</a></p>\n";
static const char conv_none[] = "<p class=\"empty\">No texts to or from this client yet.</p>\n";
static const char conv_table_head[] =
	"<div class=\"table-wrap\"><table class=\"table\">\n<thead><tr><th scope=\"col\">When</th>"
	"<th scope=\"col\">Who</th><th scope=\"col\">Text</th><th scope=\"col\">State</th>"
	"</tr></thead>\n<tbody>\n";
static const char conv_row[] =
	"<tr class=\"msg-{{dir}}\"><td data-label=\"When\" class=\"nowrap\">{{when}}</td>"
	"<td data-label=\"Who\">{{who}}</td><td data-label=\"Text\">{{text}}</td>"
	"<td data-label=\"State\"><span class=\"badge badge-{{cls}}\">{{state}}</span></td></tr>\n";
static const char conv_answered_form[] =
	"<form method=\"post\" action=\"/clients/{{id}}/messages/answered\" class=\"row\">"
	PAGE_CSRF_INPUT "<span>{{n}} text(s) waiting for an answer.</span>"
	" <button type=\"submit\" class=\"btn\">Mark answered</button></form>\n";
static const char reply_alert[] =
	"<div class=\"alert\" role=\"alert\">Nothing was queued: {{message}}</div>\n";
static const char reply_cannot[] =
	"<h2>Reply</h2>\n<p class=\"notice\">{{message}}</p>\n";
static const char reply_form[] =
	"<h2>Reply</h2>\n"
	"<form method=\"post\" action=\"/clients/{{id}}/messages\" class=\"form\">\n"
	PAGE_CSRF_INPUT "\n"
	"<div class=\"field{{err_class}}\"><label for=\"body\">Your text</label>\n"
	"<textarea id=\"body\" name=\"body\" maxlength=\"320\" required"
	" aria-describedby=\"body-hint\">{{body}}</textarea>\n"
	"<p class=\"hint\" id=\"body-hint\">1 to 320 characters. It goes out as"
	" \"{{business}}: your text\" from your texting number, within the client's calling"
	" hours, through every check a reminder passes (opt-outs, limits, the failsafe).</p>\n"
	"</div>\n"
	"<div class=\"form-actions\"><button class=\"btn btn-primary\" type=\"submit\">Send the"
	" reply</button></div>\n</form>\n";

/* What the flow did with a client's text, in words. */
static const char *flow_words(const char *state)
{
	static const struct { const char *state, *words; } w[] = {
		{ "confirmed", "confirmed the appointment" },
		{ "cancelled", "cancelled the appointment" },
		{ "callback", "asked for a call back" },
		{ "reschedule", "asked to reschedule" },
		{ "help", "asked for help (answered)" },
		{ "opted_in", "opted back in" },
		{ "opted_out", "opted out" },
		{ "hint", "not understood (the help text was sent)" },
		{ "quiet", "not understood" },
		{ "nothing_pending", "nothing was waiting for an answer" },
	};
	if (state == NULL)
		return "the automatic reply failed";
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (strcmp(state, w[i].state) == 0)
			return w[i].words;
	return state;
}

/* The outbound row's columns (after the shared ones). */
enum { O_TS, O_DIR, O_BODY, O_STATE, O_NEEDS, O_ANSWERED, O_STATUS, O_REASON, O_ATTEMPT,
	O_DELIVERY, O_ERROR, O_BLOCK, O_BLOCK_WHY, O_WINDOW, O_KIND, O_WHO, O_OPTED };

/* An outbound text's delivery state in words into *cls's badge class. */
static const char *out_state(struct arena *a, PGresult *res, int i, const char **cls)
{
	const char *st = col(res, i, O_STATUS), *why = col(res, i, O_REASON);
	const char *dl = col(res, i, O_DELIVERY), *err = col(res, i, O_ERROR);
	const char *blk = col(res, i, O_BLOCK), *blk_why = col(res, i, O_BLOCK_WHY);

	*cls = "pending";
	if (is(st, "pending")) {
		if (is(blk_why, "recipient opted out")) {
			*cls = "bad";
			return "not sent: client opted out";
		}
		if (blk == NULL || is(blk_why, "not due yet"))
			return "queued";
		*cls = "attention";
		if (is(blk, "window"))
			return arena_printf(a, "held: outside the calling window: waits until %s",
				PQgetvalue(res, i, O_WINDOW));
		return arena_printf(a, "held: %s", blk_why ? blk_why : why ? why : "waiting");
	}
	if (is(st, "dialing"))
		return "sending";
	/* Twilio's own word on the attempt (a status callback) first. */
	if (is(dl, "undelivered") || is(dl, "failed")) {
		*cls = "bad";
		return arena_printf(a, "failed: %s%s%s", dl, err ? ", error " : "", err ? err : "");
	}
	if (is(st, "placed") || is(st, "completed")) {
		if (is(dl, "delivered") || is(dl, "read") || (dl == NULL && is(st, "completed"))) {
			*cls = "ok";
			return "delivered";
		}
		if (is(dl, "sent") || is(dl, "sending"))
			return "sent";
		return "queued at Twilio";
	}
	*cls = "bad";
	if (is(st, "failed"))
		return arena_printf(a, "failed: %s", why ? why : "refused");
	if (is(st, "skipped_stale") && is(col(res, i, O_OPTED), "t"))
		return "not sent: client opted out";
	if (is(st, "unknown") || is(st, "not_placed"))
		return arena_printf(a, "outcome unknown: %s", why ? why : "no answer from Twilio");
	*cls = "muted";
	return arena_printf(a, "not sent (%s): %s", st, why ? why : "no reason recorded");
}

/* Who sent an outbound text of kind (requested by who, may be NULL). */
static const char *out_who(struct arena *a, const char *kind, const char *who)
{
	if (is(kind, "reply"))
		return arena_printf(a, "Reply from %s", who ? who : "a former user");
	if (is(kind, "booking"))
		return "Booking confirmation";
	if (is(kind, "test"))
		return "Test reminder";
	if (is(kind, "resend"))
		return "Reminder (sent again)";
	return "Reminder";
}

/* The conversation page of client v (status: 200, or a refused reply's
 * 4xx with error and the text as typed in body). */
static void conversation_page(struct app *app, const struct route_input *in,
	struct outcome *out, const char *const v[C_NCOLS], int status, const char *error,
	const char *body)
{
	struct arena *a = in->req->arena;
	char cid[24], now[32], max[16];
	const char *p[4] = { cid, in->business, now, max }, *refusal;
	PGresult *res;
	long long open = 0;
	int refused_status;

	snprintf(cid, sizeof(cid), "%lld", in->param_id);
	snprintf(max, sizeof(max), "%d", INBOX_CONVERSATION_MAX);
	clock_sql(clock_now_s(), now);
	/* The client's texts, and the texts sent to them: every SMS
	 * reminder that was tried or is due, and every staff reply; in the
	 * order they happened (ts: Unix seconds with their fraction, so two
	 * in one second keep their order). */
	res = db_exec_prepared(app->db, "dash_inbox_conversation",
		"SELECT * FROM (SELECT * FROM ("
		" SELECT extract(epoch FROM t.received_at) AS ts, 'in' AS dir, t.body,"
		"  it.flow_state, it.needs_answer::text, (it.answered_at IS NOT NULL)::text,"
		"  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, t.id AS ord"
		" FROM inbox_texts it JOIN inbound_texts t ON t.id = it.inbound_text_id"
		" WHERE it.client_id = $1::bigint AND it.business_id = $2::bigint"
		" UNION ALL"
		" SELECT extract(epoch FROM COALESCE(ca.placed_at, ca.created_at, r.created_at)),"
		"  'out', r.body, NULL, NULL, NULL, r.status, r.status_reason, ca.status,"
		"  ca.delivery_status, ca.error_code::text, blk.code, blk.reason,"
		"  to_char(b.window_start, 'HH24:MI'), r.kind, u.email,"
		"  (cl.opted_out_at IS NOT NULL AND cl.opted_out_at < r.stale_at)::text, r.id"
		" FROM reminders r"
		" JOIN appointments ap ON ap.id = r.appointment_id AND ap.business_id = r.business_id"
		" JOIN clients cl ON cl.id = ap.client_id AND cl.business_id = ap.business_id"
		" JOIN businesses b ON b.id = r.business_id"
		" LEFT JOIN contact_attempts ca ON ca.reminder_id = r.id"
		" LEFT JOIN users u ON u.id = r.requested_by"
		" LEFT JOIN LATERAL reminder_block(r.id, $3::timestamptz) blk ON r.status = 'pending'"
		" WHERE ap.client_id = $1::bigint AND r.business_id = $2::bigint AND r.channel = 'sms'"
		"  AND (r.kind = 'reply' OR ca.id IS NOT NULL"
		"   OR (r.status = 'pending' AND r.due_at <= $3::timestamptz)"
		"   OR r.status NOT IN ('pending', 'cancelled'))"
		") x ORDER BY ts DESC, dir, ord DESC LIMIT $4::int) y ORDER BY ts, dir DESC, ord",
		4, p);
	if (res == NULL) {
		db_failed(app, in, out);
		return;
	}
	page_begin(out, arena_printf(a, "Messages with %s", v[C_NAME]), "inbox");
	out->status = status;
	{
		const char *const f[] = { "name", v[C_NAME], "id", cid, "phone",
			v[C_PHONE] ? v[C_PHONE] : "no phone", NULL };
		page_add(out, conv_head, f);
	}
	if (PQntuples(res) == 0)
		page_add(out, conv_none, NULL);
	else
		page_add(out, conv_table_head, NULL);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *when = page_time(a, atoll(PQgetvalue(res, i, O_TS)), in->user->business_tz);
		const char *text = col(res, i, O_BODY), *who, *state, *cls;
		if (is(PQgetvalue(res, i, O_DIR), "in")) {
			int waiting = is(col(res, i, O_NEEDS), "true") && !is(col(res, i, O_ANSWERED), "true");
			open += waiting;
			who = v[C_NAME];
			cls = waiting ? "attention" : "muted";
			state = waiting ? arena_printf(a, "needs an answer: %s",
				flow_words(col(res, i, O_STATE))) : is(col(res, i, O_NEEDS), "true")
				? "answered" : flow_words(col(res, i, O_STATE));
		} else {
			who = out_who(a, col(res, i, O_KIND), col(res, i, O_WHO));
			state = out_state(a, res, i, &cls);
			if (text == NULL)
				text = "(the reminder text)";
		}
		{
			const char *const f[] = { "dir", PQgetvalue(res, i, O_DIR), "when", when, "who", who,
				"text", text ? text : "", "cls", cls, "state", state, NULL };
			page_add(out, conv_row, f);
		}
	}
	if (PQntuples(res) > 0)
		page_add(out, table_tail, NULL);
	PQclear(res);
	if (open > 0) {
		const char *const f[] = { "id", cid, "csrf", in->user->csrf, "n",
			arena_printf(a, "%lld", open), NULL };
		page_add(out, conv_answered_form, f);
	}
	if (error) {
		const char *const f[] = { "message", error, NULL };
		page_add(out, reply_alert, f);
	}
	refusal = reply_refusal(a, v, &refused_status);
	if (refusal) {
		const char *const f[] = { "message", refusal, NULL };
		page_add(out, reply_cannot, f);
	} else {
		const char *const f[] = { "id", cid, "csrf", in->user->csrf, "body", body ? body : "",
			"err_class", error ? " has-error" : "", "business", in->user->business_name,
			NULL };
		page_add(out, reply_form, f);
	}
}

void dash_inbox_conversation_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	const char *v[C_NCOLS];
	int rc = load_client(app, in, v);

	out->client_id = in->param_id;
	if (rc < 0)
		db_failed(app, in, out);
	else if (rc == 0)
		page_not_found(out);
	else
		conversation_page(app, in, out, v, 200, NULL, NULL);
}

/* ---- POST /clients/{id}/messages ------------------------------------------------ */

void dash_inbox_reply_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	/* As typed: the browser's CRLF line ends made LF (maxlength counted one each). */
	const char *body = form_crlf_to_lf(a, in->form.n > 0 && in->form.v[0].s ? in->form.v[0].s : "");
	const char *v[C_NCOLS], *problem, *rid_s = NULL;
	char cid[24], now[32], uid[24], stale[16];
	long long rid;
	int in_tx = 0, rc, status = 422;

	out->action = "inbox_reply";
	out->client_id = in->param_id;
	snprintf(cid, sizeof(cid), "%lld", in->param_id);
	snprintf(uid, sizeof(uid), "%lld", in->user->user_id);
	snprintf(stale, sizeof(stale), "%d", DASH_INBOX_REPLY_STALE_H);
	clock_sql(clock_now_s(), now);
	if (db_begin(app->db) < 0)
		goto db_failed;
	in_tx = 1;
	/* The client row stays locked until the reply is written: an
	 * opt-out cannot slip between the check and the insert. */
	rc = load_client(app, in, v);
	if (rc < 0)
		goto db_failed;
	if (rc == 0) {
		page_not_found(out);
		goto out;
	}
	problem = reply_refusal(a, v, &status);
	if (problem == NULL) {
		status = 422;
		problem = body_problem(a, body);
	}
	if (problem) {
		db_rollback(app->db);
		in_tx = 0;
		out->error = problem;
		conversation_page(app, in, out, v, status, problem, body);
		goto out;
	}
	{
		const char *p[7] = { v[C_APPT], in->business, now, stale, v[C_PHONE], uid, body };
		const char *row[1];
		rc = db_row_prepared(app->db, a, "dash_inbox_reply",
			"INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes,"
			" attempt, due_at, stale_at, to_address, kind, requested_by, body)"
			" SELECT a.business_id, a.id, 'sms', LEAST(43200, GREATEST(0,"
			"   floor(extract(epoch FROM a.starts_at - $3::timestamptz) / 60)))::int, 5,"
			" $3::timestamptz, $3::timestamptz + make_interval(hours => $4::int), $5, 'reply',"
			" $6::bigint, $7 FROM appointments a"
			" WHERE a.id = $1::bigint AND a.business_id = $2::bigint RETURNING id",
			7, p, 1, row);
		if (rc <= 0)
			goto db_failed;
		rid_s = row[0];
	}
	{
		const char *p[3] = { cid, in->business, uid };
		if (db_cmd_prepared(app->db, "dash_inbox_replied",
			    "UPDATE inbox_texts SET answered_at = now(), answered_by = $3::bigint,"
			    " answered_how = 'replied' WHERE client_id = $1::bigint"
			    " AND business_id = $2::bigint AND needs_answer AND answered_at IS NULL",
			    3, p) < 0)
			goto db_failed;
	}
	if (db_commit(app->db) < 0)
		goto db_failed;
	in_tx = 0;
	rid = atoll(rid_s);
	/* The ready set; when Redis is down the scheduler's next tick queues
	 * it (the row is due now).  The worker sends it, never this request. */
	if (queue_push(app->rds, &rid, 1) < 0)
		log_warn("dashboard: reply %lld not queued now (Redis); the scheduler will", rid);
	out->appointment_id = atoll(v[C_APPT]);
	dash_audit(app, in, "inbox_reply", out->appointment_id, json_pack("{s:I, s:I}",
		"client_id", (json_int_t)in->param_id, "reminder_id", (json_int_t)rid));
	page_redirect(out, "/clients/%s/messages?notice=reply_queued", cid);
	goto out;
db_failed:
	db_failed(app, in, out);
out:
	db_finish(app->db, in_tx, NULL);
}

/* ---- POST /clients/{id}/messages/answered ----------------------------------------- */

void dash_inbox_answered_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	char cid[24], uid[24];
	const char *p[3] = { cid, in->business, uid };
	PGresult *res;

	out->action = "inbox_answered";
	out->client_id = in->param_id;
	snprintf(cid, sizeof(cid), "%lld", in->param_id);
	snprintf(uid, sizeof(uid), "%lld", in->user->user_id);
	res = db_exec_prepared(app->db, "dash_inbox_answered",
		"WITH c AS (SELECT id FROM clients WHERE id = $1::bigint AND business_id = $2::bigint),"
		" u AS (UPDATE inbox_texts SET answered_at = now(), answered_by = $3::bigint,"
		"  answered_how = 'marked' WHERE client_id IN (SELECT id FROM c)"
		"  AND business_id = $2::bigint AND needs_answer AND answered_at IS NULL RETURNING 1)"
		" SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM u)", 3, p);
	if (res == NULL) {
		db_failed(app, in, out);
		return;
	}
	if (atoll(PQgetvalue(res, 0, 0)) != 1) {
		page_not_found(out);
	} else {
		dash_audit(app, in, "inbox_answered", 0, json_pack("{s:I, s:I}", "client_id",
			(json_int_t)in->param_id, "texts", (json_int_t)atoll(PQgetvalue(res, 0, 1))));
		page_redirect(out, "/clients/%s/messages?notice=answered", cid);
	}
	PQclear(res);
}

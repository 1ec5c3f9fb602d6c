/* dash_operator: the failsafe banner and page; see include/dash_operator.h. */
#include "dash_operator.h"
#include "app.h"
#include "arena.h"
#include "buf.h"
#include "business.h"
#include "clock.h"
#include "db.h"
#include "dispatch.h"
#include "failsafe.h"
#include "form.h"
#include "html.h"
#include "http.h"
#include "log.h"
#include "page.h"
#include "session.h"
#include "valid.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char tmpl_banner[] =
	"<div class=\"banner\" role=\"alert\"><div class=\"wrap\">"
	"<strong>Outbound messages are paused:</strong> the failsafe tripped at {{at}}. "
	"No calls, texts or emails go out until an operator resumes them.</div></div>\n";
static const char tmpl_banner_operator[] =
	"<div class=\"banner\" role=\"alert\"><div class=\"wrap\">"
	"<strong>Outbound messages are paused:</strong> the failsafe tripped at {{at}}. "
	"Reason: {{reason}} <a href=\"/operator/failsafe\">Review and resume</a></div></div>\n";
static const char tmpl_banner_unknown[] =
	"<div class=\"banner\" role=\"alert\"><div class=\"wrap\">"
	"<strong>The failsafe's state cannot be read right now.</strong> Nothing is sent "
	"while it is unknown.</div></div>\n";

/* See dash_operator.h.  The time is shown in the business's zone. */
void dash_failsafe_banner(struct app *app, const struct session_user *u, struct buf *b)
{
	PGresult *res = db_exec_prepared(app->db, "dash_failsafe_banner",
		"SELECT tripped, coalesce(reason, ''), coalesce(extract(epoch FROM tripped_at)::bigint, 0)"
		" FROM failsafe_state WHERE id = 1", 0, NULL);
	struct arena *a = b->arena;

	if (res == NULL || PQntuples(res) != 1) {
		if (res == NULL)
			log_error("dashboard: cannot read the failsafe state: %s", db_last_error(app->db));
		(void)html_render(b, tmpl_banner_unknown, NULL);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		const char *at = page_time(a, strtoll(PQgetvalue(res, 0, 2), NULL, 10),
			u->business_tz);
		const char *const f[] = { "at", at, "reason", arena_strdup(a, PQgetvalue(res, 0, 1)),
			NULL };
		(void)html_render(b, u->operator ? tmpl_banner_operator : tmpl_banner, f);
	}
out:
	if (res)
		PQclear(res);
}

/* ---- GET and POST /operator/failsafe ------------------------------------------ */

/* "resume" or "trip". */
static int valid_failsafe_action(const char *v, size_t len)
{
	return (len == 6 && strcmp(v, "resume") == 0) || (len == 4 && strcmp(v, "trip") == 0);
}

/* The reason is checked by the handler, which shows the form again with
 * the message next to it. */
const struct valid_field dash_failsafe_fields[DASH_FS_NFIELDS] = {
	[DASH_FS_ACTION] = { "action", valid_failsafe_action, 1, VALID_TEXT },
	[DASH_FS_REASON] = { "reason", valid_any, 0, VALID_TEXT },
};

#define REASON_MAX 1000

static const char tmpl_head[] =
	"<div class=\"page-head\"><h1>Failsafe</h1></div>\n"
	"<section class=\"card\">\n";
static const char tmpl_armed[] =
	"<p><span class=\"badge badge-ok\">Running</span> Outbound calls, texts and emails are "
	"going out. The failsafe stops all of them at once when volume jumps, or when you trip "
	"it here.</p>\n";
static const char tmpl_tripped[] =
	"<p><span class=\"badge badge-bad\">Paused</span> Outbound calls, texts and emails are "
	"paused. Nothing goes out until it is resumed.</p>\n"
	"<dl class=\"facts\"><dt>Tripped at</dt><dd>{{at}}</dd><dt>By</dt><dd>{{by}}</dd>"
	"<dt>Reason</dt><dd>{{reason}}</dd></dl>\n";
static const char tmpl_form[] =
	"</section>\n<section class=\"card\">\n<h2>{{heading}}</h2>\n"
	"<form class=\"form\" method=\"post\" action=\"/operator/failsafe\" "
	"data-confirm=\"{{confirm}}\">" PAGE_CSRF_INPUT
	"<input type=\"hidden\" name=\"action\" value=\"{{action}}\">\n"
	"<div class=\"field{{error_class}}\"><label for=\"reason\">Reason</label>"
	"<textarea id=\"reason\" name=\"reason\" maxlength=\"1000\" required "
	"aria-describedby=\"reason-help{{error_id}}\">{{reason}}</textarea>"
	"<p class=\"hint\" id=\"reason-help\">{{hint}}</p>";
static const char tmpl_form_error[] =
	"<p class=\"field-error\" id=\"reason-error\">{{error}}</p>";
static const char tmpl_form_end[] =
	"</div>\n<div class=\"form-actions\"><button type=\"submit\" class=\"btn {{button_class}}\">"
	"{{button}}</button></div>\n</form>\n</section>\n"
	"<section class=\"card\">\n<h2>History</h2>\n";
static const char tmpl_history_head[] =
	"<div class=\"table-wrap\"><table class=\"table\"><thead><tr><th scope=\"col\">When</th>"
	"<th scope=\"col\">What</th><th scope=\"col\">By</th><th scope=\"col\">Reason</th></tr>"
	"</thead><tbody>\n";
static const char tmpl_history_row[] =
	"<tr><td data-label=\"When\">{{at}}</td><td data-label=\"What\"><span class=\"badge "
	"{{badge}}\">{{what}}</span></td><td data-label=\"By\">{{by}}</td>"
	"<td data-label=\"Reason\">{{reason}}</td></tr>\n";
static const char tmpl_history_end[] = "</tbody></table></div>\n</section>\n";
static const char tmpl_history_none[] =
	"<p class=\"empty\">The failsafe has never tripped.</p>\n</section>\n";

/* The page: state, the form (resume when tripped, trip when armed; with
 * the typed reason and error after a refused post), the last 50 events.
 * 0, or -1 when the database cannot be read (out then holds the 503
 * page). */
static int failsafe_page(struct app *app, const struct route_input *in, struct outcome *out,
	const char *reason, const char *error)
{
	struct arena *a = in->req->arena;
	const struct session_user *u = in->user;
	PGresult *st = NULL, *ev = NULL;
	int tripped, rc = -1;

	st = db_exec_prepared(app->db, "dash_failsafe_state",
		"SELECT tripped, coalesce(reason, ''), coalesce(extract(epoch FROM tripped_at)::bigint, 0),"
		" coalesce(tripped_by, '') FROM failsafe_state WHERE id = 1", 0, NULL);
	ev = st ? db_exec_prepared(app->db, "dash_failsafe_events",
		"SELECT extract(epoch FROM created_at)::bigint, event, actor, reason"
		" FROM failsafe_events ORDER BY id DESC LIMIT 50", 0, NULL) : NULL;
	if (st == NULL || ev == NULL || PQntuples(st) != 1) {
		log_error("dashboard: cannot read the failsafe: %s", db_last_error(app->db));
		page_unavailable(out);
		goto out;
	}
	tripped = strcmp(PQgetvalue(st, 0, 0), "t") == 0;
	page_begin(out, "Failsafe", "failsafe");
	page_add(out, tmpl_head, NULL);
	if (tripped) {
		const char *const f[] = { "at", page_time(a, strtoll(PQgetvalue(st, 0, 2), NULL, 10),
			u->business_tz), "by", arena_strdup(a, PQgetvalue(st, 0, 3)),
			"reason", arena_strdup(a, PQgetvalue(st, 0, 1)), NULL };
		page_add(out, tmpl_tripped, f);
	} else {
		page_add(out, tmpl_armed, NULL);
	}
	{
		const char *const f[] = { "heading", tripped ? "Resume sending" : "Trip by hand",
			"confirm", tripped ? "Resume all outbound calls, texts and emails?"
				: "Stop all outbound calls, texts and emails now?",
			"csrf", u->csrf, "action", tripped ? "resume" : "trip",
			"error_class", error ? " has-error" : "", "error_id", error ? " reason-error" : "",
			"reason", reason ? reason : "",
			"hint", tripped ? "Why it is safe to send again; recorded with your name."
				: "Why sending must stop; recorded with your name.",
			"button_class", tripped ? "btn-primary" : "btn-danger",
			"button", tripped ? "Resume sending" : "Trip the failsafe", "error", error, NULL };
		page_add(out, tmpl_form, f);
		if (error)
			page_add(out, tmpl_form_error, f);
		page_add(out, tmpl_form_end, f);
	}
	if (PQntuples(ev) == 0)
		page_add(out, tmpl_history_none, NULL);
	else
		page_add(out, tmpl_history_head, NULL);
	for (int i = 0; i < PQntuples(ev); i++) {
		int trip = strcmp(PQgetvalue(ev, i, 1), "trip") == 0;
		const char *const f[] = { "at", page_time(a, strtoll(PQgetvalue(ev, i, 0), NULL, 10),
			u->business_tz), "badge", trip ? "badge-bad" : "badge-ok",
			"what", trip ? "Tripped" : "Resumed", "by", arena_strdup(a, PQgetvalue(ev, i, 2)),
			"reason", arena_strdup(a, PQgetvalue(ev, i, 3)), NULL };
		page_add(out, tmpl_history_row, f);
	}
	if (PQntuples(ev) > 0)
		page_add(out, tmpl_history_end, NULL);
	rc = 0;
out:
	if (st)
		PQclear(st);
	if (ev)
		PQclear(ev);
	return rc;
}

/* See dash_operator.h.  Not an operator: the page does not exist. */
void dash_failsafe_page(struct app *app, const struct route_input *in, struct outcome *out)
{
	if (in->user == NULL || !in->user->operator) {
		page_not_found(out);
		return;
	}
	(void)failsafe_page(app, in, out, NULL, NULL);
}

/* An operator's reason from the form value raw (NULL: empty): CRLF made
 * LF, trailing blanks dropped, into *reason (in a).  NULL when it can be
 * recorded, else the message to show next to the field. */
static const char *operator_reason(struct arena *a, const char *raw, const char **reason)
{
	char *r = form_crlf_to_lf(a, raw ? raw : "");
	size_t len = strlen(r);

	while (len > 0 && (r[len - 1] == ' ' || r[len - 1] == '\n' || r[len - 1] == '\r' ||
		r[len - 1] == '\t'))
		len--;
	*reason = r;
	if (len == 0)
		return "Give a reason: it is recorded with your name.";
	if (len > REASON_MAX)
		return "The reason can be at most 1000 characters.";
	if (!valid_printable(r, len))
		return "The reason holds characters that cannot be recorded.";
	r[len] = '\0';
	return NULL;
}

/* See dash_operator.h.  The actor recorded is the operator's email, as
 * the CLI records its --by. */
void dash_failsafe_post(struct app *app, const struct route_input *in, struct outcome *out)
{
	const struct valid_value *v = in->form.v;
	const char *action, *reason, *actor, *err;
	int resume, t;

	if (in->user == NULL || !in->user->operator) {
		page_not_found(out);
		return;
	}
	action = v[DASH_FS_ACTION].s;
	resume = strcmp(action, "resume") == 0;
	if ((err = operator_reason(in->req->arena, v[DASH_FS_REASON].s, &reason)) != NULL) {
		if (failsafe_page(app, in, out, reason, err) == 0)
			out->status = 422;
		return;
	}
	actor = in->user->email;
	t = failsafe_tripped(app->db, NULL, 0);
	if (t < 0) {
		page_unavailable(out);
		return;
	}
	if (resume && t == 0) {
		/* Already running (another operator resumed it): nothing to do. */
		page_redirect(out, "/operator/failsafe");
		return;
	}
	t = resume ? failsafe_resume(app->db, reason, actor) : failsafe_trip(app->db, reason, actor);
	if (t == -2) {
		if (failsafe_page(app, in, out, reason, "Refused: the database was restored from a"
			    " backup and not reconciled with Twilio yet; run `ringfence restore-reconcile`"
			    " on the server first.") == 0)
			out->status = 409;
		return;
	}
	if (t < 0) {
		page_unavailable(out);
		return;
	}
	out->audit_kind = "failsafe";
	out->audit = json_pack("{s:s, s:s, s:s, s:s}", "action", resume ? "resume" : "trip",
		"reason", reason, "actor", actor, "via", "dashboard");
	page_redirect(out, "/operator/failsafe?notice=%s",
		resume ? "failsafe_resumed" : "failsafe_tripped");
}

/* ---- the trial rules: a business's banner, the held list, verify and resume ---- */

static const char tmpl_biz_held[] =
	"<div class=\"banner\" role=\"alert\"><div class=\"wrap\">"
	"<strong>This business's messages are held by the failsafe</strong> since {{at}}: "
	"{{reason}}. No calls, texts or emails of this business go out until an operator "
	"resumes them; reminders that go stale meanwhile are not sent.</div></div>\n";
static const char tmpl_biz_unverified[] =
	"<div class=\"banner banner-info\" role=\"status\"><div class=\"wrap\">"
	"<strong>This business is not verified yet.</strong> Until an operator verifies it, "
	"reminders go only to its own callback number ({{phone}}); reminders to clients are "
	"not sent and show as blocked (not allowed).</div></div>\n";

/* See dash_operator.h. */
void dash_business_banner(struct app *app, const struct session_user *u, struct buf *b)
{
	char id[24];
	const char *p[1] = { id };
	PGresult *res;

	snprintf(id, sizeof(id), "%lld", u->business_id);
	res = db_exec_prepared(app->db, "dash_business_banner",
		"SELECT b.verified, b.callback_phone, h.reason,"
		" coalesce(extract(epoch FROM h.held_at)::bigint, 0)"
		" FROM businesses b LEFT JOIN business_holds h ON h.business_id = b.id"
		" WHERE b.id = $1::bigint", 1, p);
	if (res == NULL || PQntuples(res) != 1) {
		if (res == NULL)
			log_error("dashboard: cannot read the business's state: %s",
				db_last_error(app->db));
		goto out;
	}
	if (!PQgetisnull(res, 0, 2)) {
		const char *const f[] = { "at", page_time(b->arena, strtoll(PQgetvalue(res, 0, 3),
			NULL, 10), u->business_tz), "reason", arena_strdup(b->arena,
			PQgetvalue(res, 0, 2)), NULL };
		(void)html_render(b, tmpl_biz_held, f);
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		const char *const f[] = { "phone", arena_strdup(b->arena, PQgetvalue(res, 0, 1)),
			NULL };
		(void)html_render(b, tmpl_biz_unverified, f);
	}
out:
	if (res)
		PQclear(res);
}

static const char tmpl_held_head[] =
	"<section class=\"card\">\n<h2>Held by their own failsafe</h2>\n"
	"<p class=\"hint\">A business in its first 7 days after verification is held when a "
	"day's contacts go above max(50, 3 &times; its largest day). Nothing of it goes out "
	"until you resume it.</p>\n"
	"<div class=\"table-wrap\"><table class=\"table\"><thead><tr>"
	"<th scope=\"col\">Business</th><th scope=\"col\">Held since</th>"
	"<th scope=\"col\">Reason</th><th scope=\"col\"></th></tr></thead><tbody>\n";
static const char tmpl_held_row[] =
	"<tr><td data-label=\"Business\">{{name}}</td><td data-label=\"Held since\">{{at}}</td>"
	"<td data-label=\"Reason\">{{reason}}</td><td class=\"right\">"
	"<form class=\"inline-form\" method=\"post\" action=\"/operator/businesses/{{id}}/resume\" "
	"data-confirm=\"Resume this business's calls, texts and emails?\">" PAGE_CSRF_INPUT
	"<input id=\"resume-{{id}}\" name=\"reason\" maxlength=\"1000\" required "
	"aria-label=\"Reason to resume {{name}}\" placeholder=\"Why it is safe\">"
	"<button type=\"submit\" class=\"btn btn-small btn-primary\">Resume</button></form></td>"
	"</tr>\n";
static const char tmpl_held_end[] = "</tbody></table></div>\n</section>\n";

/* See dash_operator.h. */
int dash_held_businesses(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	PGresult *res = db_exec_prepared(app->db, "dash_held_businesses",
		"SELECT b.id, b.name, extract(epoch FROM h.held_at)::bigint, h.reason"
		" FROM business_holds h JOIN businesses b ON b.id = h.business_id"
		" ORDER BY h.held_at, b.id LIMIT 1000", 0, NULL);

	if (res == NULL) {
		log_error("dashboard: cannot read the held businesses: %s", db_last_error(app->db));
		return -1;
	}
	if (PQntuples(res) > 0)
		page_add(out, tmpl_held_head, NULL);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *const f[] = { "id", arena_strdup(a, PQgetvalue(res, i, 0)),
			"name", arena_strdup(a, PQgetvalue(res, i, 1)),
			"at", page_time(a, strtoll(PQgetvalue(res, i, 2), NULL, 10), in->user->business_tz),
			"reason", arena_strdup(a, PQgetvalue(res, i, 3)), "csrf", in->user->csrf, NULL };
		page_add(out, tmpl_held_row, f);
	}
	if (PQntuples(res) > 0)
		page_add(out, tmpl_held_end, NULL);
	PQclear(res);
	return 0;
}

static const char tmpl_verify_cell[] =
	"<td data-label=\"Verification\"><span class=\"badge {{badge}}\">{{state}}</span>"
	"<form class=\"inline-form\" method=\"post\" action=\"/operator/businesses/{{id}}/{{action}}\">"
	PAGE_CSRF_INPUT
	" <input id=\"{{action}}-{{id}}\" name=\"reason\" maxlength=\"1000\" required "
	"aria-label=\"Reason ({{button}})\" placeholder=\"Reason\">"
	"<button type=\"submit\" class=\"btn btn-small\">{{button}}</button></form></td>";

/* See dash_operator.h. */
void dash_business_verify_cell(struct outcome *out, const struct session_user *u,
	const char *id, int verified)
{
	const char *const f[] = { "id", id, "csrf", u->csrf, "badge", verified ? "badge-ok"
		: "badge-attention", "state", verified ? "Verified" : "Not verified",
		"action", verified ? "unverify" : "verify",
		"button", verified ? "Take back" : "Verify", NULL };
	page_add(out, tmpl_verify_cell, f);
}

const struct valid_field dash_business_fields[DASH_BIZ_NFIELDS] = {
	[DASH_BIZ_REASON] = { "reason", valid_any, 0, VALID_TEXT },
};

/* The three operator changes of one business: the reason checked, the
 * change made by business.h (the same as the CLI's, the operator's email
 * as the actor), audited, then the list with a notice. */
static void business_post(struct app *app, const struct route_input *in, struct outcome *out,
	const char *action)
{
	const char *reason, *err;
	enum business_result r;
	long long id = in->param_id, now_s = clock_now_s();

	if (in->user == NULL || !in->user->operator) {
		page_not_found(out);
		return;
	}
	if ((err = operator_reason(in->req->arena, in->form.v[DASH_BIZ_REASON].s, &reason)) != NULL) {
		page_error(out, 422, "Nothing was changed", err);
		return;
	}
	r = action[0] == 'v' ? business_verify(app->db, id, reason, in->user->email, now_s)
		: action[0] == 'u' ? business_unverify(app->db, id, reason, in->user->email, now_s)
		: business_resume(app->db, id, reason, in->user->email, now_s);
	if (r == BUSINESS_FAILED) {
		log_error("dashboard: business %lld %s: %s", id, action, db_last_error(app->db));
		page_unavailable(out);
		return;
	}
	if (r == BUSINESS_NO_SUCH) {
		page_not_found(out);
		return;
	}
	if (r == BUSINESS_ALREADY) {
		page_error(out, 409, "Nothing was changed", action[0] == 'v'
			? "The business is already verified." : action[0] == 'u'
			? "The business is not verified." : "The business is not held.");
		return;
	}
	/* Recorded in the stream of the business changed (an id the
	 * operator's session named and the database found), not of the
	 * business the operator's pages show. */
	out->business_id = arena_printf(in->req->arena, "%lld", id);
	out->audit_kind = "business";
	out->audit = json_pack("{s:s, s:I, s:s, s:s, s:s}", "action", action, "business_id",
		(json_int_t)id, "reason", reason, "actor", in->user->email, "via", "dashboard");
	page_redirect(out, "/operator/businesses?notice=business_%s", action[0] == 'v' ? "verified"
		: action[0] == 'u' ? "unverified" : "resumed");
}

/* See dash_operator.h. */
void dash_business_verify_post(struct app *app, const struct route_input *in, struct outcome *out)
{
	business_post(app, in, out, "verify");
}

/* See dash_operator.h. */
void dash_business_unverify_post(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	business_post(app, in, out, "unverify");
}

/* See dash_operator.h. */
void dash_business_resume_post(struct app *app, const struct route_input *in, struct outcome *out)
{
	business_post(app, in, out, "resume");
}

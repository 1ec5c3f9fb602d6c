/* dash_operator: the failsafe banner and page; see include/dash_operator.h. */
#include "dash_operator.h"
#include "app.h"
#include "arena.h"
#include "buf.h"
#include "db.h"
#include "dispatch.h"
#include "failsafe.h"
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

/* A copy of s in a with each CRLF (a browser's line end in a textarea)
 * made LF. */
static char *crlf_to_lf(struct arena *a, const char *s)
{
	char *d = arena_strdup(a, s), *w = d;

	for (const char *p = d; *p; p++)
		if (!(p[0] == '\r' && p[1] == '\n'))
			*w++ = *p;
	*w = '\0';
	return d;
}

/* See dash_operator.h.  The actor recorded is the operator's email, as
 * the CLI records its --by. */
void dash_failsafe_post(struct app *app, const struct route_input *in, struct outcome *out)
{
	const struct valid_value *v = in->form.v;
	const char *action, *reason, *actor;
	size_t len;
	int resume, t;

	if (in->user == NULL || !in->user->operator) {
		page_not_found(out);
		return;
	}
	action = v[DASH_FS_ACTION].s;
	reason = crlf_to_lf(in->req->arena, v[DASH_FS_REASON].s ? v[DASH_FS_REASON].s : "");
	len = strlen(reason);
	resume = strcmp(action, "resume") == 0;
	while (len > 0 && (reason[len - 1] == ' ' || reason[len - 1] == '\n' ||
		reason[len - 1] == '\r' || reason[len - 1] == '\t'))
		len--;
	if (len == 0 || len > REASON_MAX || !valid_printable(reason, len)) {
		const char *err = len == 0 ? "Give a reason: it is recorded with your name."
			: len > REASON_MAX ? "The reason can be at most 1000 characters."
			: "The reason holds characters that cannot be recorded.";
		if (failsafe_page(app, in, out, reason, err) == 0)
			out->status = 422;
		return;
	}
	reason = arena_strndup(in->req->arena, reason, len);
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
	if ((resume ? failsafe_resume(app->db, reason, actor)
		    : failsafe_trip(app->db, reason, actor)) < 0) {
		page_unavailable(out);
		return;
	}
	out->audit_kind = "failsafe";
	out->audit = json_pack("{s:s, s:s, s:s, s:s}", "action", resume ? "resume" : "trip",
		"reason", reason, "actor", actor, "via", "dashboard");
	page_redirect(out, "/operator/failsafe?notice=%s",
		resume ? "failsafe_resumed" : "failsafe_tripped");
}

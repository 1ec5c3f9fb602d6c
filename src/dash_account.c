/* dash_account: logging in and out, the password, one's sessions and an
 * operator's business; see include/dash_account.h. */
#include "dash_account.h"
#include "dash_operator.h"
#include "app.h"
#include "arena.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "page.h"
#include "session.h"
#include "users.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fields ------------------------------------------------------------- */

/* Any text up to the form's limits, without control characters. */
static int valid_login_text(const char *v, size_t len)
{
	return len <= 320 && valid_no_controls(v, len, NULL);
}

/* A password: 1..USERS_MAX_PASSWORD bytes (checked by users.c). */
static int valid_password_text(const char *v, size_t len)
{
	return len <= USERS_MAX_PASSWORD;
}

/* The login form's hidden "next": empty (the form was not reached from
 * another page: a browser sends the field empty) or a local path. */
static int valid_login_next(const char *v, size_t len)
{
	return len == 0 || session_valid_next(v, len);
}

const struct valid_field dash_login_query[1] = {
	{ "next", session_valid_next, 0, VALID_TEXT },
};
const struct valid_field dash_login_fields[3] = {
	{ "email", valid_login_text, 0, VALID_TEXT },
	{ "password", valid_password_text, 0, VALID_TEXT },
	{ "next", valid_login_next, 0, VALID_TEXT },
};
const struct valid_field dash_password_fields[3] = {
	{ "old", valid_password_text, 0, VALID_TEXT },
	{ "new", valid_password_text, 0, VALID_TEXT },
	{ "new2", valid_password_text, 0, VALID_TEXT },
};
const struct valid_field dash_operator_fields[1] = {
	{ "business_id", valid_id, 1, VALID_INT64 },
};

/* The value of field i of v, or "" when absent. */
static const char *field(const struct valid_result *v, size_t i)
{
	return i < v->n && v->v[i].s ? v->v[i].s : "";
}

/* ---- audit --------------------------------------------------------------- */

/* Records a login event (never the typed login or password): event is
 * "login", "login_failed", "login_throttled" or "logout". */
static void audit_login(struct outcome *out, const char *event, long long user_id,
	const char *business)
{
	json_t *rec = json_pack("{s:s}", "event", event);

	if (rec && user_id > 0)
		json_object_set_new(rec, "user_id", json_integer(user_id));
	out->audit_kind = "session";
	out->audit = rec;
	out->business_id = business;
}

/* ---- / and logging in ------------------------------------------------------ */

/* GET /: the day's page when logged in, else the login form. */
void dash_root_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	int db_err;
	const struct session_user *u = session_load(app, in->req, &db_err);

	if (db_err) {
		page_unavailable(out);
		return;
	}
	page_redirect(out, "%s", u ? "/today" : "/login");
}

static const char login_head[] = "<section class=\"card stack narrow\">\n<h1>Log in</h1>\n";
static const char login_tmpl[] =
	"<form method=\"post\" action=\"/login\" class=\"form\">\n"
	PAGE_CSRF_INPUT "\n"
	"<input type=\"hidden\" name=\"next\" value=\"{{next}}\">\n"
	"<div class=\"field\"><label for=\"email\">E-mail address</label>\n"
	"<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required"
	" value=\"{{email}}\"></div>\n"
	"<div class=\"field\"><label for=\"password\">Password</label>\n"
	"<input id=\"password\" name=\"password\" type=\"password\""
	" autocomplete=\"current-password\" required></div>\n"
	"<div class=\"form-actions\"><button type=\"submit\" class=\"btn btn-primary\">Log in"
	"</button></div>\n"
	"</form>\n</section>\n";
static const char message_tmpl[] = "<p class=\"alert\" role=\"alert\">{{message}}</p>\n";

/* The login form with email filled in and, when message is not NULL,
 * that message above it, answered with status. */
static void login_form(struct app *app, const struct route_input *in, struct outcome *out,
	int status, const char *message, const char *email, const char *next)
{
	const char *csrf;

	if (session_login_csrf(app, in->req, out, &csrf) < 0) {
		page_error(out, 500, "Something went wrong", "Reload the page and try again.");
		return;
	}
	const char *const f[] = { "csrf", csrf, "next", next ? next : "", "email",
		email ? email : "", NULL };
	page_begin(out, "Log in", NULL);
	out->status = status;
	page_add(out, login_head, NULL);
	if (message) {
		const char *const m[] = { "message", message, NULL };
		page_add(out, message_tmpl, m);
	}
	page_add(out, login_tmpl, f);
}

/* GET /login: the form (next: where to go afterwards). */
void dash_login_page_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	const char *next = in->query_valid ? field(&in->query, 0) : "";

	login_form(app, in, out, 200, NULL, NULL, next);
}

/* POST /login: see dash_account.h.  The refusal does not say whether
 * the login exists, and its page is the same either way. */
void dash_login_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	const char *email = field(&in->form, 0), *password = field(&in->form, 1);
	const char *next = field(&in->form, 2);
	long long uid, bid;
	const char *business;
	long wait;

	switch (session_login(app, in->req, out, email, password, &uid, &bid, &wait)) {
	case SESSION_LOGIN_OK:
		business = arena_printf(in->req->arena, "%lld", bid);
		audit_login(out, "login", uid, business);
		page_redirect(out, "%s", next[0] ? next : "/today");
		break;
	case SESSION_LOGIN_REFUSED:
		audit_login(out, "login_failed", uid,
			uid ? arena_printf(in->req->arena, "%lld", bid) : NULL);
		login_form(app, in, out, 200, "The e-mail address or the password is not right.",
			email, next);
		break;
	case SESSION_LOGIN_THROTTLED: {
		long minutes = (wait + 59) / 60;
		audit_login(out, "login_throttled", uid,
			uid ? arena_printf(in->req->arena, "%lld", bid) : NULL);
		page_error(out, 429, "Too many attempts", arena_printf(in->req->arena,
			"Too many attempts; try again in %ld minute%s.", minutes, minutes == 1 ? "" : "s"));
		break;
	}
	case SESSION_LOGIN_ERROR:
		log_error("login: request %s: database error: %s", in->req->request_id,
			db_last_error(app->db));
		page_unavailable(out);
		break;
	}
}

/* POST /logout. */
void dash_logout_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	if (session_logout(app, in->req, in->user, out) < 0) {
		page_unavailable(out);
		return;
	}
	audit_login(out, "logout", in->user->user_id, in->business);
	page_redirect(out, "/login?notice=logged_out");
}

/* ---- the password ------------------------------------------------------------ */

static const char password_head[] =
	"<section class=\"card stack narrow\">\n<h1>Change your password</h1>\n"
	"<p class=\"muted\">Changing the password logs you out everywhere else.</p>\n";
static const char password_tmpl[] =
	"<form method=\"post\" action=\"/account/password\" class=\"form\">\n"
	PAGE_CSRF_INPUT "\n"
	"<div class=\"field\"><label for=\"old\">Current password</label>\n"
	"<input id=\"old\" name=\"old\" type=\"password\" autocomplete=\"current-password\""
	" required></div>\n"
	"<div class=\"field\"><label for=\"new\">New password</label>\n"
	"<input id=\"new\" name=\"new\" type=\"password\" autocomplete=\"new-password\""
	" required minlength=\"{{min}}\" aria-describedby=\"new-hint\">\n"
	"<p class=\"hint\" id=\"new-hint\">At least {{min}} characters.</p></div>\n"
	"<div class=\"field\"><label for=\"new2\">New password again</label>\n"
	"<input id=\"new2\" name=\"new2\" type=\"password\" autocomplete=\"new-password\""
	" required minlength=\"{{min}}\"></div>\n"
	"<div class=\"form-actions\"><button type=\"submit\" class=\"btn btn-primary\">"
	"Change password</button>\n<a class=\"btn btn-quiet\" href=\"/settings/sessions\">"
	"Your sessions</a></div>\n"
	"</form>\n</section>\n";

/* The password form, with message (naming the field) when not NULL. */
static void password_form(const struct route_input *in, struct outcome *out, int status,
	const char *message)
{
	char min[8];
	const char *const f[] = { "csrf", in->user->csrf, "min", min, NULL };

	snprintf(min, sizeof(min), "%d", USERS_MIN_PASSWORD);
	page_begin(out, "Change your password", "settings");
	out->status = status;
	page_add(out, password_head, NULL);
	if (message) {
		const char *const m[] = { "message", message, NULL };
		page_add(out, message_tmpl, m);
	}
	page_add(out, password_tmpl, f);
}

/* GET /account/password. */
void dash_password_page_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	password_form(in, out, 200, NULL);
}

/* POST /account/password: the current password (under the login
 * throttle: session_reauth), then the new one twice; a new hash, and
 * every other session of the user ends. */
void dash_password_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	const char *old = field(&in->form, 0), *pw = field(&in->form, 1), *pw2 = field(&in->form, 2);
	char uid[24], hash[USERS_HASH_MAX];
	const char *p[2] = { uid, hash };
	PGresult *res = NULL;
	long wait;

	snprintf(uid, sizeof(uid), "%lld", in->user->user_id);
	res = db_exec_prepared(app->db, "dash_password_hash",
		"SELECT password_hash FROM users WHERE id = $1::bigint", 1, p);
	if (res == NULL || PQntuples(res) != 1) {
		page_unavailable(out);
		goto out;
	}
	switch (session_reauth(app, in->req, in->user, old, PQgetvalue(res, 0, 0), &wait)) {
	case SESSION_LOGIN_OK:
		break;
	case SESSION_LOGIN_REFUSED:
		password_form(in, out, 422, "Current password: this is not your password.");
		goto out;
	case SESSION_LOGIN_THROTTLED: {
		long minutes = (wait + 59) / 60;
		page_error(out, 429, "Too many attempts", arena_printf(in->req->arena,
			"Too many attempts; try again in %ld minute%s. The password was not changed.",
			minutes, minutes == 1 ? "" : "s"));
		goto out;
	}
	case SESSION_LOGIN_ERROR:
		page_unavailable(out);
		goto out;
	}
	if (strlen(pw) < USERS_MIN_PASSWORD) {
		password_form(in, out, 422, arena_printf(in->req->arena,
			"New password: it must have at least %d characters.", USERS_MIN_PASSWORD));
		goto out;
	}
	if (strcmp(pw, pw2) != 0) {
		password_form(in, out, 422, "New password again: the two new passwords differ.");
		goto out;
	}
	PQclear(res);
	res = NULL;
	if (users_hash_password(pw, hash) < 0) {
		page_error(out, 500, "Something went wrong", "The password was not changed.");
		goto out;
	}
	res = db_exec_prepared(app->db, "dash_password_set",
		"UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1::bigint", 2, p);
	if (res == NULL || session_renew(app, in->req, out, in->user) < 0) {
		page_unavailable(out);
		goto out;
	}
	out->audit_kind = "session";
	out->audit = json_pack("{s:s, s:I}", "event", "password_changed", "user_id",
		(json_int_t)in->user->user_id);
	out->business_id = in->business;
	page_redirect(out, "/account/password?notice=password_changed");
out:
	explicit_bzero(hash, sizeof(hash));
	if (res)
		PQclear(res);
}

/* ---- sessions ------------------------------------------------------------------- */

static const char sessions_head[] =
	"<div class=\"page-head\"><h1>Your sessions</h1>"
	"<a class=\"btn\" href=\"/account/password\">Change your password</a></div>\n"
	"<p class=\"muted\">Where you are logged in. If you do not recognise a session, end it"
	" and change your password.</p>\n"
	"<div class=\"table-wrap\"><table class=\"table\">\n<thead><tr>"
	"<th scope=\"col\">Logged in</th><th scope=\"col\">Last seen</th>"
	"<th scope=\"col\">Address</th><th scope=\"col\">Browser</th><th scope=\"col\"></th>"
	"</tr></thead>\n<tbody>\n";
static const char sessions_row[] =
	"<tr><td data-label=\"Logged in\">{{created}}</td>"
	"<td data-label=\"Last seen\">{{seen}}</td>"
	"<td data-label=\"Address\" class=\"mono\">{{addr}}</td>"
	"<td data-label=\"Browser\" class=\"small\">{{agent}}</td>"
	"<td class=\"right\"><span class=\"muted\">{{this}}</span> "
	"<form class=\"inline-form\" method=\"post\" action=\"/settings/sessions/{{id}}/revoke\">"
	PAGE_CSRF_INPUT "<button type=\"submit\" class=\"btn btn-small\">{{button}}</button>"
	"</form></td></tr>\n";
static const char sessions_tail[] = "</tbody>\n</table></div>\n";

/* GET /settings/sessions: the user's open sessions, newest first. */
void dash_sessions_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	char uid[24], idle[16];
	const char *p[3] = { uid, in->user->business_tz, idle };
	PGresult *res;

	snprintf(uid, sizeof(uid), "%lld", in->user->user_id);
	snprintf(idle, sizeof(idle), "%d", SESSION_IDLE_SECONDS);
	res = db_exec_prepared(app->db, "dash_sessions",
		"SELECT id, to_char(created_at AT TIME ZONE $2, 'Dy FMDD Mon YYYY, HH24:MI'),"
		"  to_char(last_seen_at AT TIME ZONE $2, 'Dy FMDD Mon YYYY, HH24:MI'),"
		"  remote_addr, left(user_agent, 80)"
		" FROM sessions WHERE user_id = $1::bigint AND revoked_at IS NULL"
		"  AND expires_at > now() AND last_seen_at > now() - $3::int * interval '1 second'"
		" ORDER BY created_at DESC, id DESC LIMIT 100", 3, p);
	if (res == NULL) {
		page_unavailable(out);
		return;
	}
	page_begin(out, "Your sessions", "settings");
	page_add(out, sessions_head, NULL);
	for (int i = 0; i < PQntuples(res); i++) {
		int self = strtoll(PQgetvalue(res, i, 0), NULL, 10) == in->user->session_id;
		const char *const f[] = { "id", PQgetvalue(res, i, 0), "created", PQgetvalue(res, i, 1),
			"seen", PQgetvalue(res, i, 2), "addr", PQgetvalue(res, i, 3), "agent",
			PQgetvalue(res, i, 4), "csrf", in->user->csrf, "button",
			self ? "Log out" : "End", "this", self ? "This session" : "", NULL };
		page_add(out, sessions_row, f);
	}
	page_add(out, sessions_tail, NULL);
	PQclear(res);
}

/* rc of a change that names a row (1 done, 0 no such row, -1 database
 * error): 1 to go on, or 0 after answering 404 or 503. */
static int found(struct outcome *out, int rc)
{
	if (rc < 0)
		page_unavailable(out);
	else if (rc == 0)
		page_not_found(out);
	return rc == 1;
}

/* POST /settings/sessions/{id}/revoke: one of the user's own sessions
 * (another user's, or none: 404).  Ending this very session logs out. */
void dash_session_revoke_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	long long id = in->param_id;

	if (!found(out, session_revoke_own(app, in->user, id)))
		return;
	out->audit_kind = "session";
	out->audit = json_pack("{s:s, s:I, s:I}", "event", "session_revoked", "user_id",
		(json_int_t)in->user->user_id, "session_id", (json_int_t)id);
	out->business_id = in->business;
	if (id == in->user->session_id) {
		out->set_cookie[0] = session_cookie(in->req->arena, app->cfg.env, 0, "", 0);
		page_redirect(out, "/login");
		return;
	}
	page_redirect(out, "/settings/sessions?notice=revoked");
}

/* ---- operators ----------------------------------------------------------------------- */

static int businesses_query_text(const char *v, size_t len)
{
	return len <= 200 && valid_no_controls(v, len, NULL);
}

const struct valid_field dash_operator_businesses_query[1] = {
	{ "q", businesses_query_text, 0, VALID_TEXT },
};

static const char businesses_head[] =
	"<h1>Businesses</h1>\n"
	"<p class=\"muted\">The pages now show <b>{{current}}</b>. Pick the business they show.</p>\n"
	"<form class=\"inline-form\" method=\"get\" action=\"/operator/businesses\" role=\"search\">"
	"<label for=\"q\">Find a business</label> "
	"<input type=\"search\" id=\"q\" name=\"q\" value=\"{{q}}\" maxlength=\"200\""
	" placeholder=\"Name or number\"> "
	"<button type=\"submit\" class=\"btn btn-small\">Search</button></form>\n"
	"<p class=\"muted\">{{shown}}</p>\n"
	"<div class=\"table-wrap\"><table class=\"table\">\n<thead><tr>"
	"<th scope=\"col\">Business</th><th scope=\"col\">Status</th>"
	"<th scope=\"col\">Verification</th><th scope=\"col\"></th>"
	"</tr></thead>\n<tbody>\n";
static const char businesses_row[] =
	"<tr><td data-label=\"Business\">{{name}}</td>"
	"<td data-label=\"Status\">{{status}}</td>";
static const char businesses_row_end[] =
	"<td class=\"right\"><form class=\"inline-form\" method=\"post\""
	" action=\"/operator/business\">" PAGE_CSRF_INPUT
	"<input type=\"hidden\" name=\"business_id\" value=\"{{id}}\">"
	"<button type=\"submit\" class=\"btn btn-small\">Show this one</button></form></td></tr>\n";

/* GET /operator/businesses: every business, for an operator (else 404). */
void dash_operator_businesses_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	const char *q = in->query_valid && in->query.v[0].s ? in->query.v[0].s : "";
	const char *shown;
	PGresult *res;
	long long matched;

	if (!in->user->operator) {
		page_not_found(out);
		return;
	}
	{
		char limit[16];
		snprintf(limit, sizeof(limit), "%d", DASH_BUSINESSES_SHOWN);
		const char *p[] = { q, limit };
		/* strpos, not LIKE: what the operator types is matched as
		 * text, % and _ included; a number is also an id. */
		res = db_exec_prepared(app->db, "dash_operator_businesses",
			"SELECT id, name, CASE status WHEN 'trial' THEN 'Trial' WHEN 'active' THEN"
			" 'Active' ELSE 'Suspended' END, verified, count(*) OVER ()"
			" FROM businesses WHERE $1 = '' OR strpos(lower(name), lower($1)) > 0"
			"  OR ($1 ~ '^[1-9][0-9]{0,17}$' AND id = $1::bigint)"
			" ORDER BY lower(name), id LIMIT $2::int",
			2, p);
	}
	if (res == NULL) {
		page_unavailable(out);
		return;
	}
	matched = PQntuples(res) > 0 ? strtoll(PQgetvalue(res, 0, 4), NULL, 10) : 0;
	if (matched == 0)
		shown = q[0] ? "No business matches." : "There is no business yet.";
	else if (matched > PQntuples(res))
		shown = arena_printf(a, "The first %d of %lld, by name: search to find the others.",
			PQntuples(res), matched);
	else
		shown = arena_printf(a, "%lld business%s.", matched, matched == 1 ? "" : "es");
	const char *const h[] = { "current", in->user->business_name, "q", q, "shown", shown,
		NULL };
	page_begin(out, "Businesses", "businesses");
	/* The held ones first: they wait for an operator. */
	if (dash_held_businesses(app, in, out) < 0) {
		PQclear(res);
		page_unavailable(out);
		return;
	}
	page_add(out, businesses_head, h);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *const f[] = { "id", PQgetvalue(res, i, 0), "name", PQgetvalue(res, i, 1),
			"status", PQgetvalue(res, i, 2), "csrf", in->user->csrf, NULL };
		page_add(out, businesses_row, f);
		dash_business_verify_cell(out, in->user, PQgetvalue(res, i, 0),
			strcmp(PQgetvalue(res, i, 3), "t") == 0);
		page_add(out, businesses_row_end, f);
	}
	page_add(out, sessions_tail, NULL);
	PQclear(res);
}

/* POST /operator/business: the business an operator's pages show (a
 * non-operator, or no such business: 404). */
void dash_operator_pick_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	if (!in->user->operator) {
		page_not_found(out);
		return;
	}
	if (!found(out, session_set_acting(app, in->user, in->form.v[0].i)))
		return;
	out->audit_kind = "session";
	out->audit = json_pack("{s:s, s:I, s:I}", "event", "operator_business", "user_id",
		(json_int_t)in->user->user_id, "business_id", (json_int_t)in->form.v[0].i);
	page_redirect(out, "/today?notice=business_chosen");
}

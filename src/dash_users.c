/* dash_users: the business's logins on the settings pages; see
 * include/dash_users.h. */
#include "dash_users.h"
#include "app.h"
#include "arena.h"
#include "dash_settings.h"
#include "db.h"
#include "http.h"
#include "mail.h"
#include "page.h"
#include "session.h"
#include "users.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct valid_field dash_users_add_fields[DU_NFIELDS] = {
	[DU_EMAIL] = { "email", valid_any, 0, VALID_TEXT },
	[DU_ROLE] = { "role", valid_any, 0, VALID_TEXT },
	[DU_PASSWORD] = { "password", valid_any, 0, VALID_TEXT },
	[DU_PASSWORD2] = { "password_confirm", valid_any, 0, VALID_TEXT },
};

/* What the add form shows: what was typed (never a password) and the
 * refusal naming the field. */
struct users_form {
	const char *email, *role;
	const char *err_field, *err_msg;
};

static const char tmpl_head[] =
	"<h1>Users</h1>\n"
	"<nav class=\"row\" aria-label=\"Settings\"><a href=\"/settings\">Settings</a>"
	"<a href=\"/settings/sessions\">Your sessions</a>"
	"<a href=\"/account/password\">Change your password</a></nav>\n"
	"<p class=\"hint\">Owners can change settings, keys and users; staff can see"
	" everything and work with appointments and clients but cannot change settings.</p>\n";
static const char tmpl_error_top[] =
	"<p class=\"alert\" role=\"alert\">{{message}}</p>\n";
static const char tmpl_table[] =
	"<section class=\"card\"><h2>Logins</h2>\n"
	"<div class=\"table-wrap\"><table class=\"table\"><thead><tr><th scope=\"col\">Email</th><th scope=\"col\">Role</th><th scope=\"col\">Added</th><th scope=\"col\"></th>"
	"</tr></thead><tbody>\n";
static const char tmpl_row[] =
	"<tr><td data-label=\"Email\">{{email}}</td><td data-label=\"Role\">{{role}}</td>"
	"<td data-label=\"Added\">{{created}}</td><td>{{note}}</td></tr>\n";
static const char tmpl_row_rm[] =
	"<tr><td data-label=\"Email\">{{email}}</td><td data-label=\"Role\">{{role}}</td>"
	"<td data-label=\"Added\">{{created}}</td>"
	"<td><form method=\"post\" action=\"/settings/users/{{id}}/remove\" class=\"inline-form\""
	" data-confirm=\"Remove {{email}}? They are logged out at once.\">" PAGE_CSRF_INPUT
	"<button type=\"submit\" class=\"btn btn-danger btn-small\">Remove</button></form></td></tr>\n";
static const char tmpl_table_end[] = "</tbody></table></div></section>\n";
static const char tmpl_form[] =
	"<section class=\"card\"><h2>Add a user</h2>\n"
	"<form method=\"post\" action=\"/settings/users\" class=\"form\">\n" PAGE_CSRF_INPUT "\n"
	"<div class=\"field\"><label for=\"email\">Email (their login)</label>\n"
	"<input id=\"email\" name=\"email\" type=\"email\" value=\"{{email}}\" maxlength=\"254\""
	" required autocomplete=\"off\">\n";
static const char tmpl_form_role[] =
	"</div>\n<div class=\"field\"><label for=\"role\">Role</label>\n"
	"<select id=\"role\" name=\"role\">\n";
static const char tmpl_opt[] = "<option value=\"{{v}}\">{{label}}</option>\n";
static const char tmpl_opt_sel[] = "<option value=\"{{v}}\" selected>{{label}}</option>\n";
static const char tmpl_select_end[] = "</select>\n";
static const char tmpl_form_pw[] =
	"</div>\n<div class=\"field\"><label for=\"password\">Initial password</label>\n"
	"<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\">\n"
	"<p class=\"hint\">Type it twice (at least {{min}} characters), or leave both empty and"
	" one is made up and shown once.</p>\n"
	"</div>\n<div class=\"field\"><label for=\"password_confirm\">The same password"
	" again</label>\n"
	"<input id=\"password_confirm\" name=\"password_confirm\" type=\"password\""
	" autocomplete=\"new-password\">\n";
static const char tmpl_form_end[] =
	"</div>\n<div class=\"form-actions\"><button type=\"submit\" class=\"btn btn-primary\">"
	"Add user</button></div>\n</form></section>\n";
static const char tmpl_field_error[] =
	"<p class=\"field-error\" id=\"{{id}}-error\">{{message}}</p>\n";
static const char tmpl_created[] =
	"<h1>User added</h1>\n"
	"<section class=\"card\">\n"
	"<p><strong>{{email}}</strong> can now log in as {{role}} with this password. It is"
	" shown only this once: give it to them, and ask them to change it under"
	" &ldquo;Change password&rdquo;.</p>\n"
	"<pre class=\"code\" id=\"new-password\">{{password}}</pre>\n"
	"<p><a href=\"/settings/users\" class=\"btn\">Back to users</a></p>\n</section>\n";

static const char *role_words(const char *role)
{
	return strcmp(role, "owner") == 0 ? "Owner" : strcmp(role, "staff") == 0 ? "Staff"
		: strcmp(role, "operator") == 0 ? "Operator" : role;
}

static void field_error(struct outcome *out, const struct users_form *f, const char *name)
{
	if (f->err_field && strcmp(f->err_field, name) == 0) {
		const char *const v[] = { "id", name, "message", f->err_msg, NULL };
		page_add(out, tmpl_field_error, v);
	}
}

/* The list and, for an owner or operator, the add form. */
static void render(struct app *app, const struct route_input *in, struct outcome *out,
	const struct users_form *form)
{
	const char *p[2] = { in->business, in->user->business_tz };
	int can = dash_settings_can_change(in);
	char me[24];
	PGresult *res;

	snprintf(me, sizeof(me), "%lld", in->user->user_id);
	res = db_exec_prepared(app->db, "dash_users_list",
		"SELECT id, email, role, to_char(created_at AT TIME ZONE $2, 'FMDD Mon YYYY')"
		" FROM users WHERE business_id = $1::bigint ORDER BY created_at, id", 2, p);
	if (res == NULL) {
		page_unavailable(out);
		return;
	}
	page_begin(out, "Users", "settings");
	page_add(out, tmpl_head, NULL);
	if (form->err_msg) {
		const char *const e[] = { "message", form->err_msg, NULL };
		out->status = 422;
		page_add(out, tmpl_error_top, e);
	}
	page_add(out, tmpl_table, NULL);
	for (int i = 0; i < PQntuples(res); i++) {
		int self = strcmp(PQgetvalue(res, i, 0), me) == 0;
		/* An operator's login is removed by an operator only. */
		int removable = can && !self &&
			(in->user->operator || strcmp(PQgetvalue(res, i, 2), "operator") != 0);
		const char *const f[] = { "id", PQgetvalue(res, i, 0), "email",
			PQgetvalue(res, i, 1), "role", role_words(PQgetvalue(res, i, 2)),
			"created", PQgetvalue(res, i, 3), "csrf", in->user->csrf,
			"note", self ? "This is you" : "", NULL };
		page_add(out, removable ? tmpl_row_rm : tmpl_row, f);
	}
	PQclear(res);
	page_add(out, tmpl_table_end, NULL);
	if (!can)
		return;
	{
		const char *const f[] = { "csrf", in->user->csrf, "email", form->email, NULL };
		page_add(out, tmpl_form, f);
	}
	field_error(out, form, "email");
	page_add(out, tmpl_form_role, NULL);
	{
		const char *const o1[] = { "v", "staff", "label", "Staff", NULL };
		const char *const o2[] = { "v", "owner", "label", "Owner", NULL };
		int owner = form->role && strcmp(form->role, "owner") == 0;
		page_add(out, owner ? tmpl_opt : tmpl_opt_sel, o1);
		page_add(out, owner ? tmpl_opt_sel : tmpl_opt, o2);
	}
	page_add(out, tmpl_select_end, NULL);
	field_error(out, form, "role");
	{
		char min[8];
		snprintf(min, sizeof(min), "%d", USERS_MIN_PASSWORD);
		const char *const f[] = { "min", min, NULL };
		page_add(out, tmpl_form_pw, f);
	}
	field_error(out, form, "password");
	page_add(out, tmpl_form_end, NULL);
}

void dash_users_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct users_form form = { "", "staff", NULL, NULL };

	render(app, in, out, &form);
}

static void refuse(struct app *app, const struct route_input *in, struct outcome *out,
	struct users_form *form, const char *field, const char *msg)
{
	form->err_field = field;
	form->err_msg = msg;
	render(app, in, out, form);
}

/* 1 when a login with email exists (any business), 0 not, -1 database. */
static int email_taken(struct app *app, struct arena *a, const char *email)
{
	const char *p[1] = { email }, *row[1];

	return db_row_prepared(app->db, a, "dash_users_taken",
		"SELECT id FROM users WHERE lower(email) = lower($1)", 1, p, 1, row);
}

void dash_users_add_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	const struct valid_value *f = in->form.v;
	struct users_form form;
	const char *pw = f[DU_PASSWORD].s ? f[DU_PASSWORD].s : "";
	const char *pw2 = f[DU_PASSWORD2].s ? f[DU_PASSWORD2].s : "";
	char made[17] = "", err[256], idbuf[24];
	const char *p[3];
	long long id;
	PGresult *res;
	int r;

	if (!dash_settings_can_change(in)) {
		page_error(out, 403, "Only an owner can add users",
			"Your login can see the users but not change them. Nothing was changed.");
		return;
	}
	form.email = f[DU_EMAIL].s ? arena_strdup(a, f[DU_EMAIL].s) : "";
	form.role = f[DU_ROLE].s ? f[DU_ROLE].s : "";
	form.err_field = form.err_msg = NULL;
	while (*form.email == ' ')
		form.email++;
	if (!mail_address_valid(form.email)) {
		refuse(app, in, out, &form, "email", "Email: give an address such as"
			" name@example.com.");
		return;
	}
	if (strcmp(form.role, "owner") != 0 && strcmp(form.role, "staff") != 0) {
		refuse(app, in, out, &form, "role", "Role: pick owner or staff.");
		return;
	}
	if (pw[0] == '\0' && pw2[0] == '\0') {
		if (users_random_password(made, 16) < 0) {
			page_unavailable(out);
			return;
		}
		pw = made;
	} else if (strcmp(pw, pw2) != 0) {
		refuse(app, in, out, &form, "password", "Password: the two passwords differ.");
		return;
	} else if (strlen(pw) < USERS_MIN_PASSWORD || strlen(pw) > USERS_MAX_PASSWORD) {
		refuse(app, in, out, &form, "password", arena_printf(a, "Password: use %d to %d"
			" characters.", USERS_MIN_PASSWORD, USERS_MAX_PASSWORD));
		return;
	}
	r = email_taken(app, a, form.email);
	if (r < 0) {
		page_unavailable(out);
		return;
	}
	if (r == 1) {
		refuse(app, in, out, &form, "email", "Email: this address already has a login.");
		return;
	}
	/* The login and its role in one transaction: never an owner for a
	 * moment when staff was asked for. */
	if (db_begin(app->db) < 0) {
		page_unavailable(out);
		return;
	}
	id = users_add(app->db, in->business_id, form.email, pw, err, sizeof(err));
	if (id < 0) {
		db_rollback(app->db);
		explicit_bzero(made, sizeof(made));
		refuse(app, in, out, &form, "email", "Email: this login cannot be added (the address"
			" may already have one).");
		return;
	}
	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	p[0] = idbuf;
	p[1] = in->business;
	p[2] = form.role;
	res = db_exec_prepared(app->db, "dash_users_role",
		"UPDATE users SET role = $3 WHERE id = $1::bigint AND business_id = $2::bigint", 3, p);
	if (res == NULL || atoi(PQcmdTuples(res)) != 1 || db_commit(app->db) < 0) {
		if (res)
			PQclear(res);
		db_rollback(app->db);
		explicit_bzero(made, sizeof(made));
		page_unavailable(out);
		return;
	}
	PQclear(res);
	dash_settings_audit(in, out, "user_added", "user_id", id, "role", form.role);
	if (made[0] == '\0') {
		page_redirect(out, "/settings/users?notice=user_added");
		return;
	}
	/* The made-up password is shown once, on this answer (the shell sends
	 * Cache-Control: no-store with every authenticated page). */
	page_begin(out, "User added", "settings");
	{
		const char *const v[] = { "email", form.email, "role", role_words(form.role),
			"password", made, NULL };
		page_add(out, tmpl_created, v);
	}
	explicit_bzero(made, sizeof(made));
}

void dash_users_remove_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	long long id = in->param_id;
	struct users_form form = { "", "staff", NULL, NULL };
	const char *p[2], *row[1];
	PGresult *res;
	int r, owners;

	if (!dash_settings_can_change(in)) {
		page_error(out, 403, "Only an owner can remove users",
			"Your login can see the users but not change them. Nothing was changed.");
		return;
	}
	p[0] = in->business;
	p[1] = arena_printf(a, "%lld", id);
	if (db_begin(app->db) < 0) {
		page_unavailable(out);
		return;
	}
	/* The business's owners are locked first, so that two owners removing
	 * each other at once cannot leave none. */
	res = db_exec_prepared(app->db, "dash_users_rm_owners",
		"SELECT id FROM users WHERE business_id = $1::bigint AND role = 'owner'"
		" ORDER BY id FOR UPDATE", 1, p);
	owners = res ? PQntuples(res) : -1;
	if (res)
		PQclear(res);
	r = owners < 0 ? -1 : db_row_prepared(app->db, a, "dash_users_rm_lock",
		"SELECT role FROM users WHERE business_id = $1::bigint AND id = $2::bigint"
		" FOR UPDATE", 2, p, 1, row);
	if (r < 0) {
		db_rollback(app->db);
		page_unavailable(out);
		return;
	}
	if (r == 0) {
		db_rollback(app->db);
		page_not_found(out);
		return;
	}
	if (id == in->user->user_id) {
		db_rollback(app->db);
		refuse(app, in, out, &form, NULL, "You cannot remove your own login. Nothing was"
			" changed.");
		return;
	}
	/* The deployment's operator may have this business as its home: its
	 * owner cannot take the operator's login away. */
	if (strcmp(row[0], "operator") == 0 && !in->user->operator) {
		db_rollback(app->db);
		page_error(out, 403, "Only an operator can remove this login",
			"This login runs the service for every business; only an operator can"
			" remove it. Nothing was changed.");
		return;
	}
	if (strcmp(row[0], "owner") == 0 && owners <= 1) {
		db_rollback(app->db);
		refuse(app, in, out, &form, NULL, "This is the business's last owner: add another"
			" owner first. Nothing was changed.");
		return;
	}
	/* Their sessions end now, then the login goes. */
	res = db_exec_prepared(app->db, "dash_users_rm_sessions",
		"UPDATE sessions SET revoked_at = now() WHERE user_id = $1::bigint"
		" AND revoked_at IS NULL", 1, p + 1);
	if (res)
		PQclear(res);
	if (res)
		res = db_exec_prepared(app->db, "dash_users_rm",
			"DELETE FROM users WHERE business_id = $1::bigint AND id = $2::bigint", 2, p);
	if (res == NULL || db_commit(app->db) < 0) {
		if (res)
			PQclear(res);
		db_rollback(app->db);
		page_unavailable(out);
		return;
	}
	PQclear(res);
	dash_settings_audit(in, out, "user_removed", "user_id", id, "role", row[0]);
	page_redirect(out, "/settings/users?notice=user_removed");
}

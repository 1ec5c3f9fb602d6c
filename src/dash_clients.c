/* dash_clients: the dashboard's clients pages (include/dash_clients.h). */
#include "dash_clients.h"

#include "app.h"
#include "arena.h"
#include "clock.h"
#include "buf.h"
#include "db.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "mail.h"
#include "page.h"
#include "phone.h"
#include "reminders.h"
#include "session.h"
#include "valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_NAME_MAX 200
#define CLIENTS_PAGE_SIZE 50
#define CLIENTS_MAX_PAGE 100000
#define CLIENTS_QUERY_MAX 200

enum { CF_NAME, CF_PHONE, CF_EMAIL, CF_TZ, CF_DNC };

/* The dispatcher only caps and UTF-8-checks these: the handler checks
 * each value itself so that a bad one re-renders the form with a message. */
static int field_text(const char *v, size_t len)
{
	return len <= 4096 && memchr(v, '\0', len) == NULL;
}

static int field_checkbox(const char *v, size_t len)
{
	return len <= 8;
}

static int query_text(const char *v, size_t len)
{
	return len <= CLIENTS_QUERY_MAX && valid_no_controls(v, len, NULL);
}

const struct valid_field dash_client_fields[5] = {
	[CF_NAME] = { "name", field_text, 0, VALID_TEXT },
	[CF_PHONE] = { "phone", field_text, 0, VALID_TEXT },
	[CF_EMAIL] = { "email", field_text, 0, VALID_TEXT },
	[CF_TZ] = { "time_zone", field_text, 0, VALID_TEXT },
	[CF_DNC] = { "do_not_call", field_checkbox, 0, VALID_TEXT },
};

const struct valid_field dash_clients_query[3] = {
	{ "q", query_text, 0, VALID_TEXT },
	{ "page", valid_uint, 0, VALID_INT64 },
	{ "show", query_text, 0, VALID_TEXT },
};


/* The text of validated field i, "" when absent. */
static const char *val(const struct valid_result *r, size_t i)
{
	return i < r->n && r->v[i].s ? r->v[i].s : "";
}

/* Contract: dash_clients.h. */
const char *dash_client_name_problem(const char *name)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0 || strspn(name, " \t") == len)
		return "is required";
	if (valid_chars(name) > CLIENT_NAME_MAX)
		return "must be at most 200 characters";
	if (!valid_utf8(name, len) || !valid_no_controls(name, len, NULL))
		return "must not hold line breaks or control characters";
	return NULL;
}

/* Contract: dash_clients.h. */
const char *dash_client_email_problem(const char *email)
{
	if (email == NULL || *email == '\0')
		return NULL;
	if (!mail_address_valid(email))
		return "is not an address reminders can be sent to (like ann@example.com, "
			"without spaces, quotes or accents)";
	return NULL;
}

/* ---- the list ------------------------------------------------------------ */

static const char list_head[] =
	"<div class=\"page-head\"><h1>Clients</h1>"
	"<div class=\"row\"><a class=\"btn btn-primary\" href=\"/clients/new\">Add a client</a>"
	" <a class=\"btn\" href=\"/import\">Import a CSV file</a></div></div>\n"
	"<form method=\"get\" action=\"/clients\" class=\"form\" role=\"search\">\n"
	"<div class=\"field\"><label for=\"q\">Search by name, phone or e-mail</label>\n"
	"<input id=\"q\" name=\"q\" type=\"search\" value=\"{{q}}\"></div>\n"
	"<div class=\"form-actions\"><button class=\"btn\" type=\"submit\">Search</button></div>\n"
	"</form>\n";
static const char list_filter_all[] =
	"<p class=\"row\"><a class=\"btn btn-small\" href=\"/clients?show=to_confirm\""
	" data-filter=\"to_confirm\">To confirm <span class=\"badge badge-attention\">{{n}}</span></a>"
	"</p>\n";
static const char list_filter_on[] =
	"<p class=\"row\"><strong>Showing the clients proposed from your calendar that wait for"
	" confirmation.</strong> <a href=\"/clients\">Show all clients</a></p>\n";
static const char list_none[] = "<p class=\"empty\">No clients{{matching}}.</p>\n";
static const char list_table_head[] =
	"<div class=\"table-wrap\"><table class=\"table\">\n<thead><tr><th scope=\"col\">Name</th>"
	"<th scope=\"col\">Phone</th><th scope=\"col\">E-mail</th>"
	"<th scope=\"col\">Time zone</th><th scope=\"col\">State</th></tr></thead>\n<tbody>\n";
static const char list_row[] =
	"<tr><td data-label=\"Name\"><a href=\"/clients/{{id}}\">{{name}}</a></td>"
	"<td data-label=\"Phone\" class=\"nowrap\">{{phone}}</td>"
	"<td data-label=\"E-mail\">{{email}}</td>"
	"<td data-label=\"Time zone\">{{tz}}</td>"
	"<td data-label=\"State\">";
static const char badge_opted_out[] =
	"<span class=\"badge badge-muted\">Opted out since {{since}} ({{how}})</span> ";
static const char badge_dnc[] = "<span class=\"badge badge-attention\">Do not call</span> ";
static const char badge_invalid[] =
	"<span class=\"badge badge-bad\">Number invalid (refused by Twilio)</span> ";
static const char badge_ok[] = "<span class=\"badge badge-ok\">Receives reminders</span>";
static const char badge_to_confirm[] =
	"<span class=\"badge badge-attention\">To confirm (from your calendar)</span> ";
static const char list_row_end[] = "</td></tr>\n";
static const char list_tail[] = "</tbody>\n</table></div>\n";
static const char list_pager_prev[] =
	"<a class=\"btn\" href=\"/clients?q={{q}}&amp;page={{page}}{{show}}\" rel=\"prev\">Previous page</a> ";
static const char list_pager_next[] =
	"<a class=\"btn\" href=\"/clients?q={{q}}&amp;page={{page}}{{show}}\" rel=\"next\">Next page</a>";
static const char pager_open[] = "<nav class=\"pager\" aria-label=\"Pages\">";
static const char pager_close[] = "</nav>\n";

/* How the opt-out came about, in words. */
static const char *opt_out_how(struct arena *a, const char *by)
{
	if (by == NULL || *by == '\0')
		return "the client texted STOP";
	if (strcmp(by, "unsubscribe link") == 0)
		return "the client used the unsubscribe link";
	return arena_printf(a, "set by %s", by);
}

/* The state badges of one client row (columns from first on: opted out
 * since, opted out by, do not call, number invalid, to confirm). */
static void add_badges(struct outcome *out, struct arena *a, PGresult *res, int i, int first)
{
	int any = 0;
	if (strcmp(PQgetvalue(res, i, first + 4), "t") == 0) {
		page_add(out, badge_to_confirm, NULL);
		any = 1;
	}
	if (!PQgetisnull(res, i, first)) {
		const char *const f[] = { "since", PQgetvalue(res, i, first), "how",
			opt_out_how(a, PQgetisnull(res, i, first + 1) ? NULL :
				PQgetvalue(res, i, first + 1)), NULL };
		page_add(out, badge_opted_out, f);
		any = 1;
	}
	if (strcmp(PQgetvalue(res, i, first + 2), "t") == 0) {
		page_add(out, badge_dnc, NULL);
		any = 1;
	}
	if (strcmp(PQgetvalue(res, i, first + 3), "t") == 0) {
		page_add(out, badge_invalid, NULL);
		any = 1;
	}
	if (!any)
		page_add(out, badge_ok, NULL);
}

/* The digits of s when it holds at least 3 (a phone search), else "". */
static const char *search_digits(struct arena *a, const char *s)
{
	char *d = arena_alloc(a, strlen(s) + 1);
	size_t n = 0;
	for (; *s; s++)
		if (*s >= '0' && *s <= '9')
			d[n++] = *s;
	d[n] = '\0';
	return n >= 3 ? d : "";
}

/* Contract: dash_clients.h (GET /clients). */
void dash_clients_list_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	const char *q = in->query_valid ? val(&in->query, 0) : "";
	long long page = in->query_valid && in->query.v[1].s ? in->query.v[1].i : 1;
	const char *show = in->query_valid ? val(&in->query, 2) : "";
	char offset[24];
	PGresult *res, *cnt;
	int n;

	if (*show && strcmp(show, "to_confirm") != 0) {
		page_error(out, 400, "No such filter",
			"show: the one filter of the clients list is show=to_confirm.");
		return;
	}
	if (page < 1)
		page = 1;
	if (page > CLIENTS_MAX_PAGE)
		page = CLIENTS_MAX_PAGE;
	snprintf(offset, sizeof(offset), "%lld", (page - 1) * CLIENTS_PAGE_SIZE);
	{
		const char *p[] = { in->business, q, search_digits(a, q), offset,
			in->user->business_tz, show };
		/* strpos, not LIKE: what the owner types is matched as text,
		 * % and _ included. */
		res = db_exec_prepared(app->db, "dash_clients_list",
			"SELECT id, name, COALESCE(phone, ''), COALESCE(email, ''),"
			"  COALESCE(time_zone, ''),"
			"  to_char(opted_out_at AT TIME ZONE $5, 'FMDD Mon YYYY'), opted_out_by,"
			"  do_not_call, phone_invalid_at IS NOT NULL,"
			"  proposed_at IS NOT NULL AND confirmed_at IS NULL"
			" FROM clients WHERE business_id = $1::bigint"
			"  AND ($6 = '' OR (proposed_at IS NOT NULL AND confirmed_at IS NULL))"
			"  AND ($2 = '' OR strpos(lower(name), lower($2)) > 0"
			"       OR strpos(lower(COALESCE(email, '')), lower($2)) > 0"
			"       OR ($3 <> '' AND strpos(COALESCE(phone, ''), $3) > 0))"
			" ORDER BY lower(name), id LIMIT 51 OFFSET $4::bigint", 6, p);
	}
	if (res == NULL) {
		page_unavailable(out);
		return;
	}
	{
		const char *p[] = { in->business };
		cnt = db_exec_prepared(app->db, "dash_clients_to_confirm",
			"SELECT count(*) FROM clients WHERE business_id = $1::bigint"
			" AND proposed_at IS NOT NULL AND confirmed_at IS NULL", 1, p);
	}
	if (cnt == NULL) {
		PQclear(res);
		page_unavailable(out);
		return;
	}
	page_begin(out, "Clients", "clients");
	{
		const char *const f[] = { "q", q, "n", PQgetvalue(cnt, 0, 0), NULL };
		page_add(out, list_head, f);
		if (*show)
			page_add(out, list_filter_on, NULL);
		else if (strcmp(PQgetvalue(cnt, 0, 0), "0") != 0)
			page_add(out, list_filter_all, f);
	}
	PQclear(cnt);
	n = PQntuples(res);
	if (n == 0) {
		const char *const f[] = { "matching", *q ? arena_printf(a, " matching \"%s\"", q) : "",
			NULL };
		page_add(out, list_none, f);
	} else {
		page_add(out, list_table_head, NULL);
		for (int i = 0; i < n && i < CLIENTS_PAGE_SIZE; i++) {
			const char *tz = PQgetvalue(res, i, 4);
			const char *const f[] = { "id", PQgetvalue(res, i, 0), "name", PQgetvalue(res, i, 1),
				"phone", PQgetvalue(res, i, 2), "email", PQgetvalue(res, i, 3), "tz",
				*tz ? tz : arena_printf(a, "%s (the business's)", in->user->business_tz),
				NULL };
			page_add(out, list_row, f);
			add_badges(out, a, res, i, 5);
			page_add(out, list_row_end, NULL);
		}
		page_add(out, list_tail, NULL);
	}
	if (page > 1 || n > CLIENTS_PAGE_SIZE) {
		/* The search goes into the links percent-encoded (then escaped). */
		struct buf qe;
		buf_init_arena(&qe, a);
		form_encode(&qe, q, strlen(q));
		q = qe.len ? buf_str(&qe) : "";
		page_add(out, pager_open, NULL);
		if (page > 1) {
			const char *const f[] = { "q", q, "page", arena_printf(a, "%lld", page - 1), "show",
				*show ? "&show=to_confirm" : "", NULL };
			page_add(out, list_pager_prev, f);
		}
		if (n > CLIENTS_PAGE_SIZE) {
			const char *const f[] = { "q", q, "page", arena_printf(a, "%lld", page + 1), "show",
				*show ? "&show=to_confirm" : "", NULL };
			page_add(out, list_pager_next, f);
		}
		page_add(out, pager_close, NULL);
	}
	PQclear(res);
}

/* ---- the form ------------------------------------------------------------ */

static const char form_alert[] =
	"<div class=\"alert\" role=\"alert\">Nothing was saved: correct the {{what}} below.</div>\n";
static const char form_head[] =
	"<h1>{{title}}</h1>\n"
	"<form method=\"post\" action=\"{{action}}\" class=\"form\">\n"
	PAGE_CSRF_INPUT "\n";
/* One text field: its div (class "field" or "field has-error"), label,
 * input and hint; the error (when there is one) follows, then field_end. */
static const char field_input[] =
	"<div class=\"field\"><label for=\"{{name}}\">{{label}}</label>\n"
	"<input id=\"{{name}}\" name=\"{{name}}\" type=\"{{type}}\" value=\"{{value}}\""
	" aria-describedby=\"{{name}}-hint\">\n"
	"<p class=\"hint\" id=\"{{name}}-hint\">{{hint}}</p>\n";
static const char field_input_err[] =
	"<div class=\"field has-error\"><label for=\"{{name}}\">{{label}}</label>\n"
	"<input id=\"{{name}}\" name=\"{{name}}\" type=\"{{type}}\" value=\"{{value}}\""
	" aria-invalid=\"true\" aria-describedby=\"{{name}}-hint {{name}}-error\">\n"
	"<p class=\"hint\" id=\"{{name}}-hint\">{{hint}}</p>\n";
static const char field_select[] =
	"<div class=\"field\"><label for=\"time_zone\">Time zone</label>\n"
	"<select id=\"time_zone\" name=\"time_zone\" aria-describedby=\"time_zone-hint\">\n";
static const char field_select_err[] =
	"<div class=\"field has-error\"><label for=\"time_zone\">Time zone</label>\n"
	"<select id=\"time_zone\" name=\"time_zone\" aria-invalid=\"true\""
	" aria-describedby=\"time_zone-hint time_zone-error\">\n";
static const char field_select_end[] =
	"</select>\n"
	"<p class=\"hint\" id=\"time_zone-hint\">Calls and texts go out inside your calling hours"
	" in the client's time zone.</p>\n";
static const char field_error[] =
	"<p class=\"field-error\" id=\"{{name}}-error\">{{message}}</p>\n";
static const char field_end[] = "</div>\n";
static const char opt_default[] =
	"<option value=\"\">Same as the business ({{tz}})</option>\n";
static const char opt_default_sel[] =
	"<option value=\"\" selected>Same as the business ({{tz}})</option>\n";
static const char opt_group[] = "<optgroup label=\"{{region}}\">\n";
static const char opt_group_end[] = "</optgroup>\n";
static const char opt[] = "<option value=\"{{value}}\">{{label}}</option>\n";
static const char opt_sel[] = "<option value=\"{{value}}\" selected>{{label}}</option>\n";
static const char form_dnc[] =
	"<div class=\"field\"><label class=\"check\"><input type=\"checkbox\" name=\"do_not_call\""
	" value=\"1\"> Do not call (no reminder calls; texts and e-mails still go)</label></div>\n";
static const char form_dnc_checked[] =
	"<div class=\"field\"><label class=\"check\"><input type=\"checkbox\" name=\"do_not_call\""
	" value=\"1\" checked> Do not call (no reminder calls; texts and e-mails still go)"
	"</label></div>\n";
static const char form_tail[] =
	"<div class=\"form-actions\"><button class=\"btn btn-primary\" type=\"submit\">Save</button>"
	" <a class=\"btn btn-quiet\" href=\"{{cancel}}\">Cancel</a></div>\n"
	"</form>\n";

/* The values a form shows (the user's input, or the stored client), and
 * the message of each field that is wrong (NULL: none). */
struct client_form {
	const char *name, *phone, *email, *tz;
	int dnc;
	const char *err[4]; /* CF_NAME .. CF_TZ */
};

/* Adds the time zone <select>'s options: the business's zone as the
 * default, the current value when it is not a region's zone, then every
 * named zone of PostgreSQL (the zones rf_valid_time_zone accepts) grouped
 * by region.  0, or -1 on a database error. */
static int add_zone_options(struct app *app, const struct route_input *in, struct outcome *out,
	const char *sel)
{
	PGresult *res = db_exec_prepared(app->db, "dash_clients_zones",
		"SELECT name, split_part(name, '/', 1),"
		"  replace(substr(name, strpos(name, '/') + 1), '_', ' ')"
		" FROM pg_timezone_names"
		" WHERE name ~ '^(Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe"
		"|Indian|Pacific)/[A-Za-z]' OR name = 'UTC'"
		" ORDER BY split_part(name, '/', 1) = 'UTC', name", 0, NULL);
	const char *region = NULL;
	int found = 0, n;

	if (res == NULL)
		return -1;
	n = PQntuples(res);
	{
		const char *const f[] = { "tz", in->user->business_tz, NULL };
		page_add(out, *sel ? opt_default : opt_default_sel, f);
	}
	for (int i = 0; i < n && *sel; i++)
		if (strcmp(PQgetvalue(res, i, 0), sel) == 0)
			found = 1;
	if (*sel && !found) {
		const char *const g[] = { "region", "Current", NULL };
		const char *const f[] = { "value", sel, "label", sel, NULL };
		page_add(out, opt_group, g);
		page_add(out, opt_sel, f);
		page_add(out, opt_group_end, NULL);
	}
	for (int i = 0; i < n; i++) {
		const char *name = PQgetvalue(res, i, 0), *r = PQgetvalue(res, i, 1);
		int is_utc = strcmp(name, "UTC") == 0;
		if (region == NULL || strcmp(region, is_utc ? "Other" : r) != 0) {
			const char *const g[] = { "region", is_utc ? "Other" : r, NULL };
			if (region)
				page_add(out, opt_group_end, NULL);
			page_add(out, opt_group, g);
			region = is_utc ? "Other" : r;
		}
		{
			const char *const f[] = { "value", name, "label",
				is_utc ? "UTC" : PQgetvalue(res, i, 2), NULL };
			page_add(out, strcmp(name, sel) == 0 ? opt_sel : opt, f);
		}
	}
	if (region)
		page_add(out, opt_group_end, NULL);
	PQclear(res);
	return 0;
}

/* Adds field i of the form: its input (or the time zone's select when
 * value is NULL) and its message when it has one. */
static void add_field(struct outcome *out, const struct client_form *cf, int i, const char *type,
	const char *label, const char *value, const char *hint)
{
	static const char *const names[] = { "name", "phone", "email", "time_zone" };
	const char *const f[] = { "name", names[i], "label", label, "type", type, "value", value,
		"hint", hint, NULL };
	page_add(out, cf->err[i] ? field_input_err : field_input, f);
	if (cf->err[i]) {
		const char *const e[] = { "name", names[i], "message", cf->err[i], NULL };
		page_add(out, field_error, e);
	}
	page_add(out, field_end, NULL);
}

/* The whole form page, with the field messages of cf when status is 422. */
static void client_form_page(struct app *app, const struct route_input *in, struct outcome *out,
	int status, const char *title, const char *action, const char *cancel,
	const struct client_form *cf)
{
	const char *const f[] = { "title", title, "action", action, "csrf", in->user->csrf, NULL };
	const char *const t[] = { "cancel", cancel, NULL };
	int nerr = 0;

	for (int i = 0; i < 4; i++)
		nerr += cf->err[i] != NULL;
	page_begin(out, title, "clients");
	out->status = status;
	if (nerr > 0) {
		const char *const w[] = { "what", nerr == 1 ? "field" : "fields", NULL };
		page_add(out, form_alert, w);
	}
	page_add(out, form_head, f);
	add_field(out, cf, CF_NAME, "text", "Name", cf->name, "As you call the client, up to 200"
		" characters. It is never spoken or texted.");
	add_field(out, cf, CF_PHONE, "tel", "Mobile phone", cf->phone, "With + and the country"
		" code, e.g. +1 555 010 0123 or +44 20 7946 0958. Calls and texts go to this number.");
	add_field(out, cf, CF_EMAIL, "email", "E-mail address", cf->email, "A client needs a phone"
		" number, an e-mail address or both.");
	page_add(out, cf->err[CF_TZ] ? field_select_err : field_select, NULL);
	if (add_zone_options(app, in, out, cf->tz) < 0) {
		page_unavailable(out);
		return;
	}
	page_add(out, field_select_end, NULL);
	if (cf->err[CF_TZ]) {
		const char *const e[] = { "name", "time_zone", "message", cf->err[CF_TZ], NULL };
		page_add(out, field_error, e);
	}
	page_add(out, field_end, NULL);
	page_add(out, cf->dnc ? form_dnc_checked : form_dnc, NULL);
	page_add(out, form_tail, t);
}

/* Contract: dash_clients.h (GET /clients/new). */
void dash_clients_new_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct client_form cf = { "", "", "", "", 0, { NULL, NULL, NULL, NULL } };
	client_form_page(app, in, out, 200, "Add a client", "/clients", "/clients", &cf);
}

/* The posted form, checked.  Fills cf with the input as typed (for the
 * form shown again) and a message for each bad field (naming it), and
 * phone with the normalised number ("" for none).  Returns how many
 * fields are bad, or -1 on a database error. */
static int check_form(struct app *app, const struct route_input *in, struct client_form *cf,
	char phone[PHONE_E164_SIZE])
{
	struct arena *a = in->req->arena;
	const char *problem;
	int nerr = 0;
	enum phone_error pe;

	memset(cf, 0, sizeof(*cf));
	cf->name = val(&in->form, CF_NAME);
	cf->phone = val(&in->form, CF_PHONE);
	cf->email = val(&in->form, CF_EMAIL);
	cf->tz = val(&in->form, CF_TZ);
	cf->dnc = strcmp(val(&in->form, CF_DNC), "1") == 0;
	phone[0] = '\0';

	if ((problem = dash_client_name_problem(cf->name)) != NULL)
		cf->err[CF_NAME] = arena_printf(a, "The name %s.", problem);
	pe = phone_normalise(cf->phone, strlen(cf->phone), phone, PHONE_E164_SIZE);
	if (pe != PHONE_OK && pe != PHONE_EMPTY)
		cf->err[CF_PHONE] = arena_printf(a, "Mobile phone: a phone number %s.",
			phone_error_text(pe));
	if ((problem = dash_client_email_problem(cf->email)) != NULL)
		cf->err[CF_EMAIL] = arena_printf(a, "The e-mail address %s.", problem);
	if (pe == PHONE_EMPTY && *cf->email == '\0')
		cf->err[CF_PHONE] = "Mobile phone: give a phone number or an e-mail address (or both).";
	if (*cf->tz) {
		const char *p[] = { cf->tz };
		PGresult *res = db_exec_prepared(app->db, "dash_clients_tz",
			"SELECT rf_valid_time_zone($1)", 1, p);
		if (res == NULL)
			return -1;
		if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
			cf->err[CF_TZ] = "Time zone: choose one from the list.";
		PQclear(res);
	}
	for (int i = 0; i < 4; i++)
		nerr += cf->err[i] != NULL;
	return nerr;
}

/* Contract: dash_clients.h (POST /clients). */
void dash_clients_create_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct client_form cf;
	char phone[PHONE_E164_SIZE];
	PGresult *res;
	int nerr = check_form(app, in, &cf, phone);

	out->action = "create_client";
	if (nerr < 0) {
		page_unavailable(out);
		return;
	}
	if (nerr > 0) {
		client_form_page(app, in, out, 422, "Add a client", "/clients", "/clients", &cf);
		return;
	}
	{
		const char *p[] = { in->business, cf.name, *phone ? phone : NULL,
			*cf.email ? cf.email : NULL, *cf.tz ? cf.tz : NULL, cf.dnc ? "t" : "f" };
		res = db_exec_prepared(app->db, "dash_clients_insert",
			"INSERT INTO clients (business_id, name, phone, email, time_zone, do_not_call)"
			" VALUES ($1::bigint, $2, $3, $4, $5, $6::boolean) RETURNING id", 6, p);
	}
	if (res == NULL) {
		page_unavailable(out);
		return;
	}
	out->client_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	page_redirect(out, "/clients/%lld?notice=created", out->client_id);
}

/* ---- one client ---------------------------------------------------------- */

/* The client's columns the pages show: id, name, phone, email, time zone,
 * opted out since, opted out by, do not call, number invalid, invalid
 * reason, added, proposed from, proposed when, confirmed when, confirmed
 * by. */
static PGresult *load_client(struct app *app, const struct route_input *in, long long id)
{
	char cid[24];
	const char *p[] = { cid, in->business, in->user->business_tz };
	snprintf(cid, sizeof(cid), "%lld", id);
	return db_exec_prepared(app->db, "dash_clients_one",
		"SELECT id, name, COALESCE(phone, ''), COALESCE(email, ''), COALESCE(time_zone, ''),"
		"  to_char(opted_out_at AT TIME ZONE $3, 'FMDD Mon YYYY, HH24:MI'), opted_out_by,"
		"  do_not_call, phone_invalid_at IS NOT NULL, COALESCE(phone_invalid_reason, ''),"
		"  to_char(created_at AT TIME ZONE $3, 'FMDD Mon YYYY'), proposed_from,"
		"  to_char(proposed_at AT TIME ZONE $3, 'FMDD Mon YYYY, HH24:MI'),"
		"  to_char(confirmed_at AT TIME ZONE $3, 'FMDD Mon YYYY, HH24:MI'), confirmed_by"
		" FROM clients WHERE id = $1::bigint AND business_id = $2::bigint", 3, p);
}

static const char show_head[] =
	"<div class=\"page-head\"><h1>{{name}}</h1>"
	"<a class=\"btn\" href=\"/clients/{{id}}/edit\">Edit</a></div>\n"
	"<div class=\"card\"><dl class=\"facts\">\n"
	"<dt>Mobile phone</dt><dd class=\"mono\">{{phone}}</dd>\n"
	"<dt>E-mail address</dt><dd>{{email}}</dd>\n"
	"<dt>Time zone</dt><dd>{{tz}}</dd>\n"
	"<dt>Added</dt><dd>{{created}}</dd>\n"
	"</dl></div>\n"
	"<h2>Reminders</h2>\n";
static const char show_opted_out[] =
	"<p><span class=\"badge badge-muted\">Opted out</span> since {{since}} ({{how}}): no"
	" reminders are sent to this client, by call, text or e-mail.</p>\n"
	"<p class=\"muted\">An opt-out cannot be cleared from the dashboard: carriers require the"
	" client's own START, texted from their phone.</p>\n";
static const char show_proposed[] =
	"<section class=\"card\" id=\"confirm\"><p><span class=\"badge badge-attention\">To"
	" confirm</span> Proposed from your calendar on {{when}}: {{from}}.</p>\n"
	"<p>Nobody is contacted until someone confirms that {{phone}} is this client's number:"
	" a number typed wrong in a calendar reaches a stranger.</p>\n"
	"<form method=\"post\" action=\"/clients/{{id}}/confirm\" class=\"inline-form\">"
	PAGE_CSRF_INPUT "<button class=\"btn btn-primary\" type=\"submit\">Confirm this"
	" client</button></form> <a class=\"btn\" href=\"/clients/{{id}}/edit\">Edit the"
	" number first</a></section>\n";
static const char show_confirmed[] =
	"<p class=\"muted\">Proposed from your calendar on {{when}} ({{from}}); confirmed by"
	" {{by}} on {{confirmed}}.</p>\n";
static const char show_opt_out_badge[] =
	"<p><span class=\"badge badge-ok\">Receives reminders</span></p>\n";
static const char show_opt_out_form[] =
	"<form method=\"post\" action=\"/clients/{{id}}/opt-out\" class=\"form\">\n"
	PAGE_CSRF_INPUT "\n"
	"<div class=\"form-actions\"><button class=\"btn btn-danger\" type=\"submit\">Stop texting"
	" this client</button></div>\n"
	"<p class=\"hint\">Stops every reminder to this client (calls, texts and e-mails), as if"
	" they had replied STOP. It cannot be undone from the dashboard: carriers require the"
	" client's own START.</p>\n"
	"</form>\n";
static const char show_dnc[] =
	"<p><span class=\"badge badge-attention\">Do not call</span> no reminder calls; texts and"
	" e-mails still go.</p>\n";
static const char show_invalid[] =
	"<p><span class=\"badge badge-bad\">Number invalid</span> Twilio refused {{phone}} as not a"
	" valid phone number{{reason}}. No calls or texts go to it until you correct it.</p>\n";
static const char appts_head[] =
	"<h2>Appointments</h2>\n"
	"<div class=\"table-wrap\"><table class=\"table\">\n<thead><tr><th scope=\"col\">When</th>"
	"<th scope=\"col\">Status</th></tr></thead>\n<tbody>\n";
static const char appts_row[] =
	"<tr><td data-label=\"When\"><a href=\"/appointments/{{id}}\">{{when}}</a></td>"
	"<td data-label=\"Status\">{{status}}</td></tr>\n";
static const char appts_none[] =
	"<h2>Appointments</h2>\n<p class=\"empty\">No appointments yet.</p>\n";

/* An appointment's status in words. */
static const char *status_words(const char *s)
{
	if (strcmp(s, "booked") == 0)
		return "Booked";
	if (strcmp(s, "confirmed") == 0)
		return "Confirmed";
	if (strcmp(s, "cancelled") == 0)
		return "Cancelled";
	if (strcmp(s, "completed") == 0)
		return "Done";
	return s;
}

/* Contract: dash_clients.h (GET /clients/{id}). */
void dash_clients_show_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	PGresult *res = load_client(app, in, in->param_id), *ap = NULL;
	char cid[24];

	if (res == NULL) {
		page_unavailable(out);
		return;
	}
	if (PQntuples(res) != 1) {
		page_not_found(out);
		goto out;
	}
	snprintf(cid, sizeof(cid), "%lld", in->param_id);
	{
		const char *p[] = { cid, in->business, in->user->business_tz };
		ap = db_exec_prepared(app->db, "dash_clients_appts",
			"SELECT id, to_char(starts_at AT TIME ZONE $3, 'Dy FMDD Mon YYYY, HH24:MI'), status"
			" FROM appointments WHERE client_id = $1::bigint AND business_id = $2::bigint"
			" ORDER BY starts_at DESC, id DESC LIMIT 200", 3, p);
	}
	if (ap == NULL) {
		page_unavailable(out);
		goto out;
	}
	page_begin(out, arena_strdup(a, PQgetvalue(res, 0, 1)), "clients");
	{
		const char *tz = PQgetvalue(res, 0, 4);
		const char *const f[] = { "id", cid, "name", PQgetvalue(res, 0, 1), "phone",
			*PQgetvalue(res, 0, 2) ? PQgetvalue(res, 0, 2) : "none", "email",
			*PQgetvalue(res, 0, 3) ? PQgetvalue(res, 0, 3) : "none", "tz",
			*tz ? tz : arena_printf(a, "%s (the business's)", in->user->business_tz),
			"created", PQgetvalue(res, 0, 10), NULL };
		page_add(out, show_head, f);
	}
	if (!PQgetisnull(res, 0, 5)) {
		const char *const f[] = { "since", PQgetvalue(res, 0, 5), "how",
			opt_out_how(a, PQgetisnull(res, 0, 6) ? NULL : PQgetvalue(res, 0, 6)), NULL };
		page_add(out, show_opted_out, f);
	} else {
		const char *const f[] = { "id", cid, "csrf", in->user->csrf, NULL };
		if (PQgetisnull(res, 0, 11) || !PQgetisnull(res, 0, 13))
			page_add(out, show_opt_out_badge, NULL);
		page_add(out, show_opt_out_form, f);
	}
	if (!PQgetisnull(res, 0, 11)) {
		const char *const f[] = { "id", cid, "csrf", in->user->csrf, "when",
			PQgetvalue(res, 0, 12), "from", PQgetvalue(res, 0, 11), "phone",
			*PQgetvalue(res, 0, 2) ? PQgetvalue(res, 0, 2) : PQgetvalue(res, 0, 3),
			"confirmed", PQgetvalue(res, 0, 13), "by", PQgetvalue(res, 0, 14), NULL };
		page_add(out, PQgetisnull(res, 0, 13) ? show_proposed : show_confirmed, f);
	}
	if (strcmp(PQgetvalue(res, 0, 7), "t") == 0)
		page_add(out, show_dnc, NULL);
	if (strcmp(PQgetvalue(res, 0, 8), "t") == 0) {
		const char *reason = PQgetvalue(res, 0, 9);
		const char *const f[] = { "phone", PQgetvalue(res, 0, 2), "reason",
			*reason ? arena_printf(a, " (%s)", reason) : "", NULL };
		page_add(out, show_invalid, f);
	}
	if (PQntuples(ap) == 0) {
		page_add(out, appts_none, NULL);
	} else {
		page_add(out, appts_head, NULL);
		for (int i = 0; i < PQntuples(ap); i++) {
			const char *const f[] = { "id", PQgetvalue(ap, i, 0), "when", PQgetvalue(ap, i, 1),
				"status", status_words(PQgetvalue(ap, i, 2)), NULL };
			page_add(out, appts_row, f);
		}
		page_add(out, list_tail, NULL);
	}
out:
	if (ap)
		PQclear(ap);
	PQclear(res);
}

/* Contract: dash_clients.h (GET /clients/{id}/edit). */
void dash_clients_edit_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	long long id = in->param_id;
	PGresult *res = load_client(app, in, id);
	struct client_form cf;

	if (res == NULL) {
		page_unavailable(out);
		return;
	}
	if (PQntuples(res) != 1) {
		page_not_found(out);
		PQclear(res);
		return;
	}
	memset(&cf, 0, sizeof(cf));
	cf.name = arena_strdup(a, PQgetvalue(res, 0, 1));
	cf.phone = arena_strdup(a, PQgetvalue(res, 0, 2));
	cf.email = arena_strdup(a, PQgetvalue(res, 0, 3));
	cf.tz = arena_strdup(a, PQgetvalue(res, 0, 4));
	cf.dnc = strcmp(PQgetvalue(res, 0, 7), "t") == 0;
	PQclear(res);
	client_form_page(app, in, out, 200, arena_printf(a, "Edit %s", cf.name),
		arena_printf(a, "/clients/%lld", id), arena_printf(a, "/clients/%lld", id), &cf);
}

/* Inside the caller's transaction, after client cid's phone or email
 * changed: no reminder still waiting to be sent may go to the old
 * address.  An upcoming appointment none of whose current reminders has
 * been attempted yet is planned again (reminders_cancel_unsent, then
 * reminders_plan: the new address); in one where some were, only the
 * waiting reminders to the old address are cancelled, so nobody gets a
 * reminder twice.  Returns 0, or -1 with a reason in err. */
static int replan_for_new_address(struct db *db, const char *cid, const char *biz, char *err,
	size_t errlen)
{
	const char *p[] = { cid, biz };
	long long now_s = clock_now_s();
	PGresult *res = db_exec_prepared(db, "dash_clients_stale_reminders",
		"SELECT DISTINCT a.id, a.status IN ('booked', 'confirmed') AND NOT EXISTS"
		"  (SELECT 1 FROM reminders x WHERE x.appointment_id = a.id"
		"   AND x.superseded_at IS NULL AND x.status <> 'pending')"
		" FROM appointments a"
		" JOIN clients c ON c.id = a.client_id AND c.business_id = a.business_id"
		" JOIN reminders r ON r.appointment_id = a.id AND r.status = 'pending'"
		"  AND r.superseded_at IS NULL"
		" WHERE a.client_id = $1::bigint AND a.business_id = $2::bigint"
		"  AND r.to_address IS DISTINCT FROM"
		"   CASE WHEN r.channel = 'email' THEN c.email::text ELSE c.phone::text END",
		2, p);
	int rc = -1;

	if (res == NULL) {
		snprintf(err, errlen, "database error: %s", db_last_error(db));
		return -1;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		long long aid = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		if (strcmp(PQgetvalue(res, i, 1), "t") == 0) {
			if (reminders_cancel_unsent(db, aid, "the client's phone or e-mail changed") < 0) {
				snprintf(err, errlen, "database error: %s", db_last_error(db));
				goto out;
			}
			if (reminders_plan(db, aid, now_s, err, errlen) < 0)
				goto out;
		} else {
			const char *q[] = { PQgetvalue(res, i, 0) };
			PGresult *u = db_exec_prepared(db, "dash_clients_cancel_old_address",
				"UPDATE reminders r SET status = 'cancelled',"
				"  status_reason = 'the client''s phone or e-mail changed', updated_at = now()"
				" FROM appointments a, clients c"
				" WHERE r.appointment_id = $1::bigint AND a.id = r.appointment_id"
				"  AND c.id = a.client_id AND r.status = 'pending' AND r.superseded_at IS NULL"
				"  AND r.to_address IS DISTINCT FROM"
				"   CASE WHEN r.channel = 'email' THEN c.email::text ELSE c.phone::text END",
				1, q);
			if (u == NULL) {
				snprintf(err, errlen, "database error: %s", db_last_error(db));
				goto out;
			}
			PQclear(u);
		}
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* Contract: dash_clients.h (POST /clients/{id}). */
void dash_clients_update_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	struct client_form cf;
	char phone[PHONE_E164_SIZE], cid[24], err[256];
	PGresult *res = NULL;
	int nerr, in_tx = 0;

	out->action = "update_client";
	out->client_id = in->param_id;
	snprintf(cid, sizeof(cid), "%lld", in->param_id);
	nerr = check_form(app, in, &cf, phone);
	if (nerr < 0)
		goto unavailable;
	if (db_begin(app->db) < 0)
		goto unavailable;
	in_tx = 1;
	{
		const char *p[] = { cid, in->business };
		res = db_exec_prepared(app->db, "dash_clients_lock",
			"SELECT 1 FROM clients WHERE id = $1::bigint AND business_id = $2::bigint"
			" FOR UPDATE", 2, p);
	}
	if (res == NULL)
		goto unavailable;
	if (PQntuples(res) != 1) {
		page_not_found(out);
		goto out;
	}
	PQclear(res);
	res = NULL;
	if (nerr > 0) {
		db_rollback(app->db);
		in_tx = 0;
		client_form_page(app, in, out, 422, "Edit client", arena_printf(a, "/clients/%s", cid),
			arena_printf(a, "/clients/%s", cid), &cf);
		goto out;
	}
	{
		/* A new number is not the one Twilio refused: it may be tried. */
		const char *p[] = { cid, in->business, cf.name, *phone ? phone : NULL,
			*cf.email ? cf.email : NULL, *cf.tz ? cf.tz : NULL, cf.dnc ? "t" : "f" };
		res = db_exec_prepared(app->db, "dash_clients_update",
			"UPDATE clients SET name = $3, phone = $4::text, email = $5, time_zone = $6,"
			"  do_not_call = $7::boolean,"
			"  phone_invalid_at = CASE WHEN phone::text IS NOT DISTINCT FROM $4::text"
			"    THEN phone_invalid_at END,"
			"  phone_invalid_reason = CASE WHEN phone::text IS NOT DISTINCT FROM $4::text"
			"    THEN phone_invalid_reason END"
			" WHERE id = $1::bigint AND business_id = $2::bigint", 7, p);
	}
	if (res == NULL)
		goto unavailable;
	PQclear(res);
	res = NULL;
	if (replan_for_new_address(app->db, cid, in->business, err, sizeof(err)) < 0) {
		log_error("dash_clients: client %s: re-planning reminders: %s", cid, err);
		goto unavailable;
	}
	if (db_commit(app->db) < 0)
		goto unavailable;
	in_tx = 0;
	page_redirect(out, "/clients/%s?notice=saved", cid);
	goto out;
unavailable:
	page_unavailable(out);
out:
	db_finish(app->db, in_tx, res);
}

/* Contract: dash_clients.h (POST /clients/{id}/opt-out).  An opt-out
 * already there keeps its time and who set it. */
void dash_clients_opt_out_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	long long id = in->param_id;
	char cid[24];
	const char *p[] = { cid, in->business, in->user->email };
	PGresult *res;

	out->action = "opt_out_client";
	out->client_id = id;
	snprintf(cid, sizeof(cid), "%lld", id);
	res = db_exec_prepared(app->db, "dash_clients_opt_out",
		"UPDATE clients SET opted_out_by = CASE WHEN opted_out_at IS NULL THEN $3"
		"  ELSE opted_out_by END, opted_out_at = COALESCE(opted_out_at, now())"
		" WHERE id = $1::bigint AND business_id = $2::bigint RETURNING id", 3, p);
	if (res == NULL) {
		page_unavailable(out);
		return;
	}
	if (PQntuples(res) != 1)
		page_not_found(out);
	else
		page_redirect(out, "/clients/%s?notice=saved", cid);
	PQclear(res);
}

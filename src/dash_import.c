/* dash_import: CSV import of clients and appointments
 * (include/dash_import.h). */
#include "dash_import.h"

#include "app.h"
#include "arena.h"
#include "clock.h"
#include "csv.h"
#include "dash_clients.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "page.h"
#include "phone.h"
#include "reminders.h"
#include "rfc3339.h"
#include "session.h"
#include "util.h"
#include "valid.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT_NOTES_MAX 4000
#define IMPORT_ERRORS_SHOWN 100
#define IMPORT_PREVIEW_SHOWN 500
#define IMPORT_VALUE_SHOWN 60

enum import_kind { KIND_CLIENTS, KIND_APPOINTMENTS };

/* The columns of each kind, in the templates' order. */
enum { COL_NAME, COL_PHONE, COL_EMAIL, COL_TZ, COL_STARTS, COL_NOTES, COL_N };
static const char *const col_names[COL_N] = { "name", "phone", "email", "time_zone",
	"starts_at", "notes" };
static const int kind_cols[2][COL_N] = {
	[KIND_CLIENTS] = { 1, 1, 1, 1, 0, 0 },
	[KIND_APPOINTMENTS] = { 1, 1, 1, 0, 1, 1 },
};

static const char template_clients[] = "name,phone,email,time_zone\r\n";
static const char template_appointments[] = "phone,email,starts_at,notes,name\r\n";

static int valid_kind(const char *v, size_t len)
{
	return (len == 7 && memcmp(v, "clients", 7) == 0) ||
		(len == 12 && memcmp(v, "appointments", 12) == 0);
}

/* The file: any bytes (csv_parse checks them), bounded by the route. */
static int valid_file(const char *v, size_t len)
{
	(void)v;
	return len <= HTTP_MAX_UPLOAD;
}

const struct valid_field dash_import_fields[2] = {
	{ "kind", valid_kind, 0, VALID_TEXT },
	{ "file", valid_file, 0, VALID_TEXT },
};

int dash_import_valid_template(const char *v, size_t len)
{
	return (len == 11 && memcmp(v, "clients.csv", 11) == 0) ||
		(len == 16 && memcmp(v, "appointments.csv", 16) == 0);
}

/* ---- the upload form ----------------------------------------------------- */

static const char form_alert[] =
	"<div class=\"alert\" role=\"alert\">{{message}}</div>\n";
static const char form_tmpl[] =
	"<h1>Import from a CSV file</h1>\n"
	"<p>Export a spreadsheet as CSV (UTF-8), upload it, and check the preview: nothing is"
	" imported until you press Import, and nothing at all while any row has a problem."
	" Rows that already exist are left alone, so the same file can be uploaded again"
	" safely.</p>\n"
	"<form method=\"post\" action=\"/import\" enctype=\"multipart/form-data\" class=\"form\">\n"
	PAGE_CSRF_INPUT "\n"
	"<fieldset><legend>What the file holds</legend>\n"
	"<div class=\"field\"><label class=\"check\"><input type=\"radio\" name=\"kind\""
	" value=\"clients\" checked> Clients</label>\n"
	"<label class=\"check\"><input type=\"radio\" name=\"kind\" value=\"appointments\">"
	" Appointments</label></div>\n"
	"</fieldset>\n"
	"<div class=\"field\"><label for=\"file\">CSV file (up to 2 MB, 5000 rows)</label>\n"
	"<input id=\"file\" name=\"file\" type=\"file\" accept=\".csv,text/csv\" required></div>\n"
	"<div class=\"form-actions\"><button class=\"btn btn-primary\" type=\"submit\">Check the"
	" file</button></div>\n"
	"</form>\n"
	"<h2>Clients</h2>\n"
	"<p>The first line names the columns, in any order: <span class=\"mono\">name</span>"
	" (required), <span class=\"mono\">phone</span> (with + and the country code),"
	" <span class=\"mono\">email</span> (a client needs a phone or an e-mail) and"
	" <span class=\"mono\">time_zone</span> (e.g. America/New_York; empty: the"
	" business's). A client who is already here (the same phone, or the same e-mail) is"
	" not imported again.</p>\n"
	"<pre class=\"code\">name,phone,email,time_zone\n"
	"Ada Lovelace,+44 20 7946 0958,ada@example.com,Europe/London\n"
	"\"Smith, Jo\",+1 (555) 010-0123,,</pre>\n"
	"<p><a class=\"btn\" href=\"/import/template/clients.csv\" download>Download the clients"
	" template</a></p>\n"
	"<h2>Appointments</h2>\n"
	"<p>Columns: <span class=\"mono\">phone</span> or <span class=\"mono\">email</span> of the"
	" client, <span class=\"mono\">name</span> (optional: a client who is not here yet is"
	" created with this name; without it the client must be here already),"
	" <span class=\"mono\">starts_at"
	"</span> (\"2026-12-24 09:30\" in the business's time zone, {{tz}}, or with an offset:"
	" 2026-12-24T09:30:00-05:00) and <span class=\"mono\">notes</span> (for you only: never"
	" spoken, texted or e-mailed). Reminders are planned as for any new appointment. An"
	" appointment of the same client at the same time is not imported again.</p>\n"
	"<pre class=\"code\">phone,email,starts_at,notes,name\n"
	"+44 20 7946 0958,,2026-12-24 09:30,Check-up,\n"
	",jo@example.com,2026-12-24T16:00:00Z,\"First visit, bring forms\",Jo Smith</pre>\n"
	"<p><a class=\"btn\" href=\"/import/template/appointments.csv\" download>Download the"
	" appointments template</a></p>\n";
static const char recent_head[] =
	"<h2>Recent imports</h2>\n<ul class=\"list\">\n";
static const char recent_row[] = "<li>{{when}}: {{what}}</li>\n";
static const char recent_tail[] = "</ul>\n";

/* The upload form, with message above it when not NULL. */
static void import_form(struct app *app, const struct route_input *in, struct outcome *out,
	int status, const char *message)
{
	const char *const f[] = { "csrf", in->user->csrf, "tz", in->user->business_tz, NULL };
	const char *p[] = { in->business, in->user->business_tz };
	PGresult *res;

	page_begin(out, "Import", "import");
	out->status = status;
	if (message) {
		const char *const m[] = { "message", message, NULL };
		page_add(out, form_alert, m);
	}
	page_add(out, form_tmpl, f);
	res = db_exec_prepared(app->db, "dash_import_recent",
		"SELECT to_char(committed_at AT TIME ZONE $2, 'Dy FMDD Mon YYYY, HH24:MI'), kind,"
		"  row_count, COALESCE(created_clients, 0), COALESCE(created_appointments, 0)"
		" FROM csv_uploads WHERE business_id = $1::bigint AND committed_at IS NOT NULL"
		" ORDER BY committed_at DESC, id DESC LIMIT 10", 2, p);
	if (res == NULL)
		return; /* the form works without the list */
	if (PQntuples(res) > 0) {
		page_add(out, recent_head, NULL);
		for (int i = 0; i < PQntuples(res); i++) {
			int clients = strcmp(PQgetvalue(res, i, 1), "clients") == 0;
			const char *what = arena_printf(in->req->arena, "%s rows of %s, %s new",
				PQgetvalue(res, i, 2), clients ? "clients" : "appointments",
				PQgetvalue(res, i, clients ? 3 : 4));
			const char *const r[] = { "when", PQgetvalue(res, i, 0), "what", what, NULL };
			page_add(out, recent_row, r);
		}
		page_add(out, recent_tail, NULL);
	}
	PQclear(res);
}

/* Contract: dash_import.h (GET /import). */
void dash_import_page_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	import_form(app, in, out, 200, NULL);
}

/* Contract: dash_import.h (GET /import/template/{name}): a constant
 * file, the same for everybody. */
void dash_import_template_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	const char *t = strcmp(in->param, "clients.csv") == 0 ? template_clients :
		template_appointments;
	(void)app;
	buf_append(&out->page_body, t, strlen(t));
	out->asset_type = "text/csv; charset=utf-8";
}

/* ---- checking an upload -------------------------------------------------- */

/* One upload being checked. */
struct upload {
	struct app *app;
	const struct route_input *in;
	struct arena *a;
	enum import_kind kind;
	int col[COL_N];           /* the column of each field, -1: absent */
	const char **errors;      /* the first IMPORT_ERRORS_SHOWN messages */
	size_t nerrors;           /* all of them */
	json_t *rows;             /* the rows as checked so far (owned) */
	size_t *lines;            /* the file line of rows[i] */
};

/* Records a problem of the row on line (0: the file as a whole). */
static void problem(struct upload *u, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(struct upload *u, size_t line, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = arena_vprintf(u->a, fmt, ap);
	va_end(ap);
	if (u->nerrors < IMPORT_ERRORS_SHOWN)
		u->errors[u->nerrors] = line ? arena_printf(u->a, "line %zu: %s", line, msg) : msg;
	u->nerrors++;
}

/* v as the owner typed it, shortened for a message. */
static const char *shown(struct arena *a, const char *v)
{
	size_t n = strlen(v), cut = 0, chars = 0;
	if (n <= IMPORT_VALUE_SHOWN)
		return v;
	while (cut < n && chars < IMPORT_VALUE_SHOWN) {
		cut++;
		while (cut < n && ((unsigned char)v[cut] & 0xC0) == 0x80)
			cut++;
		chars++;
	}
	return arena_printf(a, "%.*s...", (int)cut, v);
}

/* s with blanks trimmed at both ends, in the arena. */
static const char *trimmed(struct arena *a, const char *s)
{
	size_t n = strlen(s);
	while (*s == ' ' || *s == '\t') {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return arena_strndup(a, s, n);
}

/* Maps the header record to u->col; 0, or -1 after recording why. */
static int read_header(struct upload *u, const struct csv_record *h)
{
	int rc = 0;

	for (int c = 0; c < COL_N; c++)
		u->col[c] = -1;
	if (h->nfields == 1 && strchr(h->fields[0], ';') != NULL) {
		problem(u, h->line, "the columns are separated by semicolons: save the file as"
			" \"CSV UTF-8 (comma delimited)\"");
		return -1;
	}
	for (size_t j = 0; j < h->nfields; j++) {
		char *name = (char *)trimmed(u->a, h->fields[j]);
		int c;
		for (char *p = name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		for (c = 0; c < COL_N; c++)
			if (kind_cols[u->kind][c] && strcmp(name, col_names[c]) == 0)
				break;
		if (c == COL_N) {
			problem(u, h->line, "unknown column '%s' (the columns are %s)", shown(u->a, name),
				u->kind == KIND_CLIENTS ? "name, phone, email, time_zone" :
				"phone, email, starts_at, notes, name");
			rc = -1;
		} else if (u->col[c] >= 0) {
			problem(u, h->line, "the column '%s' appears twice", col_names[c]);
			rc = -1;
		} else {
			u->col[c] = (int)j;
		}
	}
	if (u->kind == KIND_CLIENTS && u->col[COL_NAME] < 0) {
		problem(u, h->line, "the column 'name' is missing");
		rc = -1;
	}
	if (u->col[COL_PHONE] < 0 && u->col[COL_EMAIL] < 0) {
		problem(u, h->line, "a 'phone' or an 'email' column is needed");
		rc = -1;
	}
	if (u->kind == KIND_APPOINTMENTS && u->col[COL_STARTS] < 0) {
		problem(u, h->line, "the column 'starts_at' is missing");
		rc = -1;
	}
	return rc;
}

/* The value of field c in r, trimmed ("" when the column is absent). */
static const char *cell(struct upload *u, const struct csv_record *r, int c)
{
	return u->col[c] < 0 ? "" : trimmed(u->a, r->fields[u->col[c]]);
}

/* The phone cell of r into phone (normalised, "" when empty); 0, or -1
 * after recording why. */
static int check_phone(struct upload *u, const struct csv_record *r, char phone[PHONE_E164_SIZE])
{
	const char *v = cell(u, r, COL_PHONE);
	enum phone_error e = phone_normalise(v, strlen(v), phone, PHONE_E164_SIZE);
	if (e == PHONE_OK || e == PHONE_EMPTY)
		return 0;
	problem(u, r->line, "phone '%s' %s", shown(u->a, v), phone_error_text(e));
	return -1;
}

/* "YYYY-MM-DD HH:MM" with a real date and time: 1, else 0. */
static int local_time_ok(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi;
	if (strlen(s) != 16 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':')
		return 0;
	for (int i = 0; i < 16; i++)
		if (i != 4 && i != 7 && i != 10 && i != 13 && (s[i] < '0' || s[i] > '9'))
			return 0;
	y = atoi(s);
	mo = atoi(s + 5);
	d = atoi(s + 8);
	h = atoi(s + 11);
	mi = atoi(s + 14);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59)
		return 0;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 0;
	return 1;
}

/* Checks one data record in C (what needs no database) and appends its
 * row to u->rows. */
static void check_record(struct upload *u, const struct csv_record *r, size_t hdr_fields)
{
	char phone[PHONE_E164_SIZE];
	const char *email, *why;
	json_t *row;
	int bad = 0;

	if (r->nfields != hdr_fields) {
		problem(u, r->line, "has %zu values but the first line names %zu columns", r->nfields,
			hdr_fields);
		return;
	}
	bad |= check_phone(u, r, phone) < 0;
	email = cell(u, r, COL_EMAIL);
	if ((why = dash_client_email_problem(email)) != NULL) {
		problem(u, r->line, "email '%s' %s", shown(u->a, email), why);
		bad = 1;
	}
	if (!bad && *phone == '\0' && *email == '\0') {
		problem(u, r->line, "phone and email are both empty: %s",
			u->kind == KIND_CLIENTS ? "a client needs at least one" :
			"give the client's phone or e-mail");
		bad = 1;
	}
	row = json_pack("{s:I, s:I, s:s?, s:s?}", "i", (json_int_t)json_array_size(u->rows),
		"line", (json_int_t)r->line, "phone", *phone ? phone : NULL, "email",
		*email ? email : NULL);
	if (u->kind == KIND_CLIENTS) {
		const char *name = cell(u, r, COL_NAME);
		const char *tz = cell(u, r, COL_TZ);
		if ((why = dash_client_name_problem(name)) != NULL) {
			problem(u, r->line, "name %s", why);
			bad = 1;
		}
		json_object_set_new(row, "name", json_string(name));
		json_object_set_new(row, "time_zone", *tz ? json_string(tz) : json_null());
		if (!valid_no_controls(tz, strlen(tz), NULL) || strlen(tz) > 64) {
			problem(u, r->line, "time_zone '%s' is not a time zone like Europe/London",
				shown(u->a, tz));
			bad = 1;
		}
	} else {
		const char *starts = cell(u, r, COL_STARTS);
		const char *name = cell(u, r, COL_NAME);
		const char *notes = u->col[COL_NOTES] >= 0 ? r->fields[u->col[COL_NOTES]] : "";
		long long ts;
		size_t chars = 0;
		if (rfc3339_parse(starts, &ts) == 0) {
			json_object_set_new(row, "ts", json_integer(ts));
		} else if (local_time_ok(starts)) {
			json_object_set_new(row, "local", json_string(starts));
		} else {
			problem(u, r->line, "starts_at '%s' must be a date and time like 2026-12-24 09:30"
				" (or 2026-12-24T09:30:00-05:00)", shown(u->a, starts));
			bad = 1;
		}
		for (const char *p = notes; *p; p++)
			chars += ((unsigned char)*p & 0xC0) != 0x80;
		if (chars > IMPORT_NOTES_MAX) {
			problem(u, r->line, "notes are longer than %d characters", IMPORT_NOTES_MAX);
			bad = 1;
		} else if (!valid_no_controls(notes, strlen(notes), "\n\r\t")) {
			problem(u, r->line, "notes hold a control character");
			bad = 1;
		}
		json_object_set_new(row, "notes", json_string(notes));
		/* A client who is not here yet is created from the row's name. */
		if (*name) {
			if ((why = dash_client_name_problem(name)) != NULL) {
				problem(u, r->line, "name %s", why);
				bad = 1;
			}
			json_object_set_new(row, "name", json_string(name));
		}
	}
	if (bad || row == NULL) {
		json_decref(row);
		return;
	}
	json_array_append_new(u->rows, row);
}

/* 1 when every field of r is empty or blank (a spreadsheet's ",,,"). */
static int blank_record(const struct csv_record *r)
{
	for (size_t j = 0; j < r->nfields; j++)
		if (r->fields[j][strspn(r->fields[j], " \t")] != '\0')
			return 0;
	return 1;
}

/* The rows' JSON as text in the arena (NULL: cannot be encoded). */
static const char *rows_text(struct upload *u)
{
	return arena_json(u->a, (const struct json_t *)u->rows, JSON_COMPACT);
}

/* ---- the preview and the error page -------------------------------------- */

static const char errors_head[] =
	"<h1>The file has problems</h1>\n"
	"<div class=\"alert\" role=\"alert\">Nothing was imported. Correct {{what}} in the file and"
	" upload it again.</div>\n<ul class=\"list\">\n";
static const char errors_row[] = "<li>{{message}}</li>\n";
static const char errors_more[] = "<li>... and {{n}} more.</li>\n";
static const char errors_tail[] =
	"</ul>\n<p><a class=\"btn\" href=\"/import\">Upload a file</a></p>\n";

static const char preview_head[] =
	"<h1>Check the import</h1>\n"
	"<p>{{summary}}</p>\n";
static const char preview_seen[] =
	"<p class=\"alert-info\">This file was already imported on {{when}}.</p>\n";
static const char preview_commit[] =
	"<form method=\"post\" action=\"/import/{{id}}/commit\" class=\"form\">\n"
	PAGE_CSRF_INPUT "\n"
	"<div class=\"form-actions\"><button class=\"btn btn-primary\" type=\"submit\">Import {{n}}"
	" {{rows}}</button> <a class=\"btn btn-quiet\" href=\"/import\">Cancel</a></div>\n"
	"<p class=\"hint\">Nothing has been imported yet. This preview is kept for an hour.</p>\n"
	"</form>\n";
static const char preview_nothing[] =
	"<p class=\"empty\">Everything in this file is already imported: there is nothing to"
	" do.</p>\n<p><a class=\"btn\" href=\"/import\">Upload another file</a></p>\n";
static const char clients_table_head[] =
	"<div class=\"table-wrap\"><table class=\"table\">\n<thead><tr><th scope=\"col\">Line</th>"
	"<th scope=\"col\">Name</th><th scope=\"col\">Phone</th><th scope=\"col\">E-mail</th>"
	"<th scope=\"col\">Time zone</th><th scope=\"col\">Import</th></tr></thead>\n<tbody>\n";
static const char clients_table_row[] =
	"<tr><td data-label=\"Line\">{{line}}</td><td data-label=\"Name\">{{name}}</td>"
	"<td data-label=\"Phone\" class=\"nowrap\">{{phone}}</td>"
	"<td data-label=\"E-mail\">{{email}}</td><td data-label=\"Time zone\">{{tz}}</td>";
static const char appts_table_head[] =
	"<div class=\"table-wrap\"><table class=\"table\">\n<thead><tr><th scope=\"col\">Line</th>"
	"<th scope=\"col\">Client</th><th scope=\"col\">When</th><th scope=\"col\">Notes</th>"
	"<th scope=\"col\">Import</th></tr></thead>\n<tbody>\n";
static const char appts_table_row[] =
	"<tr><td data-label=\"Line\">{{line}}</td><td data-label=\"Client\">{{client}}</td>"
	"<td data-label=\"When\">{{when}}</td><td data-label=\"Notes\">{{notes}}</td>";
static const char cell_new[] =
	"<td data-label=\"Import\"><span class=\"badge badge-pending\">New</span></td></tr>\n";
static const char cell_exists[] =
	"<td data-label=\"Import\"><span class=\"badge badge-muted\">Already imported</span>"
	"</td></tr>\n";
static const char table_tail[] = "</tbody>\n</table></div>\n";
static const char table_more[] = "<p class=\"muted\">... and {{n}} more rows.</p>\n";

/* The page listing u's problems (422). */
static void errors_page(struct upload *u, struct outcome *out)
{
	const char *const h[] = { "what", u->nerrors == 1 ? "this problem" : "these problems",
		NULL };
	page_begin(out, "The file has problems", "import");
	out->status = 422;
	page_add(out, errors_head, h);
	for (size_t i = 0; i < u->nerrors && i < IMPORT_ERRORS_SHOWN; i++) {
		const char *const f[] = { "message", u->errors[i], NULL };
		page_add(out, errors_row, f);
	}
	if (u->nerrors > IMPORT_ERRORS_SHOWN) {
		const char *const f[] = { "n", arena_printf(u->a, "%zu",
			u->nerrors - IMPORT_ERRORS_SHOWN), NULL };
		page_add(out, errors_more, f);
	}
	page_add(out, errors_tail, NULL);
}

/* ---- the database side of a check --------------------------------------- */

/* Clients: the time zones, duplicates inside the file, and which rows
 * exist already (exists[i]).  Returns 0, or -1 on a database error. */
static int check_clients_db(struct upload *u, const char *rows, char *exists)
{
	const char *p[] = { u->in->business, rows };
	PGresult *res = db_exec_prepared(u->app->db, "dash_import_check_clients",
		"SELECT r.i, r.line, r.time_zone IS NULL OR rf_valid_time_zone(r.time_zone),"
		"  c.id IS NOT NULL,"
		"  CASE WHEN r.phone IS NULL THEN NULL"
		"    ELSE min(r.line) OVER (PARTITION BY r.phone) END,"
		"  CASE WHEN r.email IS NULL THEN NULL"
		"    ELSE min(r.line) OVER (PARTITION BY lower(r.email)) END,"
		"  r.time_zone"
		" FROM jsonb_to_recordset($2::jsonb)"
		"   AS r(i int, line int, phone text, email text, time_zone text)"
		" LEFT JOIN LATERAL (SELECT id FROM clients c WHERE c.business_id = $1::bigint"
		"   AND ((r.phone IS NOT NULL AND c.phone = r.phone)"
		"     OR (r.email IS NOT NULL AND lower(c.email) = lower(r.email)))"
		"   ORDER BY id LIMIT 1) c ON true"
		" ORDER BY r.i", 2, p);

	if (res == NULL)
		return -1;
	for (int k = 0; k < PQntuples(res); k++) {
		int i = atoi(PQgetvalue(res, k, 0));
		size_t line = (size_t)atoll(PQgetvalue(res, k, 1));
		if (strcmp(PQgetvalue(res, k, 2), "t") != 0)
			problem(u, line, "time_zone '%s' is not a time zone like Europe/London",
				shown(u->a, PQgetvalue(res, k, 6)));
		if (!PQgetisnull(res, k, 4) && (size_t)atoll(PQgetvalue(res, k, 4)) != line)
			problem(u, line, "phone is the same as on line %s", PQgetvalue(res, k, 4));
		if (!PQgetisnull(res, k, 5) && (size_t)atoll(PQgetvalue(res, k, 5)) != line)
			problem(u, line, "email is the same as on line %s", PQgetvalue(res, k, 5));
		exists[i] = strcmp(PQgetvalue(res, k, 3), "t") == 0;
	}
	PQclear(res);
	return 0;
}

/* Appointments: each row's client (here already, or new from the row's
 * name: a client "in the file"), its time in the business's zone,
 * whether it is upcoming, duplicates inside the file and rows that exist
 * already.  A row of a client who is here gets "client_id" (and loses
 * "phone", "email" and "name"); every row gets "ts" for "local".  Fills
 * exists[i], who[i] (the client's name) and when[i], and *new_clients
 * with how many clients the file adds.  Returns 0, or -1 on a database
 * error. */
static int check_appointments_db(struct upload *u, const char *rows, char *exists,
	const char **who, const char **when, size_t *new_clients)
{
	char now[24];
	const char *p[] = { u->in->business, rows, u->in->user->business_tz, now };
	PGresult *res;

	*new_clients = 0;
	snprintf(now, sizeof(now), "%lld", clock_now_s());
	res = db_exec_prepared(u->app->db, "dash_import_check_appointments",
		"SELECT r.i, r.line, c.id, COALESCE(c.name, r.name), s.starts > to_timestamp($4::bigint),"
		"  to_char(s.starts AT TIME ZONE $3, 'Dy FMDD Mon YYYY, HH24:MI'),"
		"  extract(epoch FROM s.starts)::bigint,"
		"  c.id IS NOT NULL AND EXISTS (SELECT 1 FROM appointments a"
		"    WHERE a.business_id = $1::bigint AND a.client_id = c.id AND a.starts_at = s.starts),"
		"  min(r.line) OVER (PARTITION BY k.who, s.starts),"
		"  COALESCE(r.phone, r.email),"
		"  c.id IS NULL AND r.name IS NOT NULL"
		"   AND min(r.line) OVER (PARTITION BY k.who) = r.line"
		" FROM jsonb_to_recordset($2::jsonb)"
		"   AS r(i int, line int, phone text, email text, ts bigint, local text, name text)"
		" CROSS JOIN LATERAL (SELECT COALESCE(to_timestamp(r.ts),"
		"   r.local::timestamp AT TIME ZONE $3) AS starts) s"
		" LEFT JOIN LATERAL (SELECT id, name FROM clients c WHERE c.business_id = $1::bigint"
		"   AND CASE WHEN r.phone IS NOT NULL THEN c.phone = r.phone"
		"     ELSE lower(c.email) = lower(r.email) END"
		"   ORDER BY id LIMIT 1) c ON true"
		" CROSS JOIN LATERAL (SELECT COALESCE(c.id::text,"
		"   'new ' || COALESCE(r.phone, lower(r.email))) AS who) k"
		" ORDER BY r.i", 4, p);
	if (res == NULL)
		return -1;
	for (int k = 0; k < PQntuples(res); k++) {
		int i = atoi(PQgetvalue(res, k, 0));
		size_t line = (size_t)atoll(PQgetvalue(res, k, 1));
		json_t *row = json_array_get(u->rows, (size_t)i);
		int here = !PQgetisnull(res, k, 2);
		if (!here && PQgetisnull(res, k, 3)) {
			problem(u, line, "no client here has the %s '%s' (import the clients first, or"
				" add a name column to create them)",
				strchr(PQgetvalue(res, k, 9), '@') ? "email" : "phone",
				shown(u->a, PQgetvalue(res, k, 9)));
			continue;
		}
		exists[i] = strcmp(PQgetvalue(res, k, 7), "t") == 0;
		if (!exists[i] && strcmp(PQgetvalue(res, k, 4), "t") != 0)
			problem(u, line, "starts_at %s is in the past", PQgetvalue(res, k, 5));
		if ((size_t)atoll(PQgetvalue(res, k, 8)) != line)
			problem(u, line, "the same client and time as line %s", PQgetvalue(res, k, 8));
		*new_clients += strcmp(PQgetvalue(res, k, 10), "t") == 0;
		who[i] = here ? arena_strdup(u->a, PQgetvalue(res, k, 3)) :
			arena_printf(u->a, "%s (new client)", PQgetvalue(res, k, 3));
		when[i] = arena_strdup(u->a, PQgetvalue(res, k, 5));
		json_object_del(row, "local");
		if (here) {
			json_object_del(row, "phone");
			json_object_del(row, "email");
			json_object_del(row, "name");
			json_object_set_new(row, "client_id",
				json_integer(strtoll(PQgetvalue(res, k, 2), NULL, 10)));
		}
		json_object_set_new(row, "ts", json_integer(strtoll(PQgetvalue(res, k, 6), NULL, 10)));
	}
	PQclear(res);
	return 0;
}

/* Contract: dash_import.h (POST /import). */
void dash_import_upload_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	const struct valid_value *kind = &in->form.v[0], *file = &in->form.v[1];
	struct upload u;
	struct csv_table t;
	size_t err_line = 0, nrows, nnew = 0, new_clients = 0;
	enum csv_err ce;
	char sha[65], uid[24], count[24], *exists = NULL;
	const char **who = NULL, **when = NULL, *rows, *upload_id;
	PGresult *res = NULL;

	memset(&u, 0, sizeof(u));
	out->action = "import_check";
	if (kind->s == NULL) {
		import_form(app, in, out, 422, "Choose what the file holds: clients or appointments.");
		return;
	}
	if (file->s == NULL || file->len == 0) {
		import_form(app, in, out, 422, "Choose a CSV file to upload: the file is empty.");
		return;
	}
	u.app = app;
	u.in = in;
	u.a = a;
	u.kind = strcmp(kind->s, "clients") == 0 ? KIND_CLIENTS : KIND_APPOINTMENTS;
	u.errors = arena_alloc(a, IMPORT_ERRORS_SHOWN * sizeof(*u.errors));
	u.rows = json_array();

	ce = csv_parse(a, file->s, file->len, NULL, &t, &err_line);
	if (ce == CSV_TOO_MANY_RECORDS)
		problem(&u, 0, "the file has more than %d rows: split it into smaller files",
			DASH_IMPORT_MAX_ROWS);
	else if (ce != CSV_OK)
		problem(&u, err_line, "%s", csv_strerror(ce));
	else if (t.nrecords < 2)
		problem(&u, 0, "the file has no rows below its first line (the column names)");
	if (u.nerrors)
		goto errors;
	if (read_header(&u, &t.records[0]) < 0)
		goto errors;
	for (size_t k = 1; k < t.nrecords; k++)
		if (!blank_record(&t.records[k]))
			check_record(&u, &t.records[k], t.records[0].nfields);
	if (u.nerrors)
		goto errors;
	nrows = json_array_size(u.rows);
	if (nrows == 0) {
		problem(&u, 0, "the file has no rows below its first line (the column names)");
		goto errors;
	}
	exists = arena_calloc(a, nrows);
	who = arena_calloc(a, nrows * sizeof(*who));
	when = arena_calloc(a, nrows * sizeof(*when));
	if ((rows = rows_text(&u)) == NULL)
		goto unavailable;
	if ((u.kind == KIND_CLIENTS ? check_clients_db(&u, rows, exists) :
		check_appointments_db(&u, rows, exists, who, when, &new_clients)) < 0)
		goto unavailable;
	if (u.nerrors)
		goto errors;
	for (size_t i = 0; i < nrows; i++)
		nnew += !exists[i];

	/* Only the new rows are kept for the commit. */
	{
		json_t *keep = json_array();
		for (size_t i = 0; i < nrows; i++)
			if (!exists[i])
				json_array_append(keep, json_array_get(u.rows, i));
		json_t *all = u.rows;
		u.rows = keep;
		rows = rows_text(&u);
		u.rows = all;
		json_decref(keep);
		if (rows == NULL)
			goto unavailable;
	}
	if (util_sha256_hex(file->s, file->len, sha) < 0)
		goto unavailable;
	{
		/* Previews nobody imported go a day after they expired. */
		const char *p[] = { in->business };
		res = db_exec_prepared(app->db, "dash_import_expire",
			"DELETE FROM csv_uploads WHERE business_id = $1::bigint"
			" AND committed_at IS NULL AND expires_at <= now() - interval '1 day'", 1, p);
		if (res == NULL)
			goto unavailable;
		PQclear(res);
		res = NULL;
	}
	snprintf(uid, sizeof(uid), "%lld", in->user->user_id);
	snprintf(count, sizeof(count), "%zu", nnew);
	{
		const char *p[] = { in->business, uid, kind->s, sha, rows, count,
			in->user->business_tz };
		res = db_exec_prepared(app->db, "dash_import_store",
			"WITH ins AS (INSERT INTO csv_uploads (business_id, user_id, kind, sha256, rows,"
			"  row_count) VALUES ($1::bigint, $2::bigint, $3, $4, $5::jsonb, $6::int)"
			"  RETURNING id)"
			" SELECT (SELECT id FROM ins),"
			"  (SELECT to_char(max(committed_at) AT TIME ZONE $7, 'Dy FMDD Mon YYYY, HH24:MI')"
			"   FROM csv_uploads WHERE business_id = $1::bigint AND sha256 = $4"
			"   AND kind = $3 AND committed_at IS NOT NULL)", 7, p);
	}
	if (res == NULL)
		goto unavailable;
	upload_id = arena_strdup(a, PQgetvalue(res, 0, 0));

	page_begin(out, "Check the import", "import");
	{
		const char *what = u.kind == KIND_CLIENTS ? (nrows == 1 ? "client" : "clients") :
			(nrows == 1 ? "appointment" : "appointments");
		const char *summary = nnew == nrows ?
			arena_printf(a, "%zu %s, all new. Nothing is imported until you press Import.",
				nrows, what) :
			arena_printf(a, "%zu %s: %zu new, %zu already imported (left alone).%s", nrows,
				what, nnew, nrows - nnew, nnew ? " Nothing is imported until you press"
				" Import." : "");
		if (new_clients > 0)
			summary = arena_printf(a, "%s The file also adds %zu new %s (from its name"
				" column).", summary, new_clients, new_clients == 1 ? "client" : "clients");
		const char *const f[] = { "summary", summary, NULL };
		page_add(out, preview_head, f);
	}
	if (!PQgetisnull(res, 0, 1)) {
		const char *const f[] = { "when", PQgetvalue(res, 0, 1), NULL };
		page_add(out, preview_seen, f);
	}
	if (nnew > 0) {
		const char *const f[] = { "id", upload_id, "csrf", in->user->csrf, "n",
			arena_printf(a, "%zu", nnew), "rows", nnew == 1 ? "row" : "rows", NULL };
		page_add(out, preview_commit, f);
	} else {
		page_add(out, preview_nothing, NULL);
	}
	page_add(out, u.kind == KIND_CLIENTS ? clients_table_head : appts_table_head, NULL);
	for (size_t i = 0; i < nrows && i < IMPORT_PREVIEW_SHOWN; i++) {
		json_t *row = json_array_get(u.rows, i);
		const char *line = arena_printf(a, "%lld",
			(long long)json_integer_value(json_object_get(row, "line")));
		if (u.kind == KIND_CLIENTS) {
			const char *tz = json_string_value(json_object_get(row, "time_zone"));
			const char *const f[] = { "line", line,
				"name", json_string_value(json_object_get(row, "name")),
				"phone", json_string_value(json_object_get(row, "phone")),
				"email", json_string_value(json_object_get(row, "email")),
				"tz", tz ? tz : "the business's", NULL };
			page_add(out, clients_table_row, f);
		} else {
			const char *const f[] = { "line", line, "client", who[i], "when", when[i],
				"notes", json_string_value(json_object_get(row, "notes")), NULL };
			page_add(out, appts_table_row, f);
		}
		page_add(out, exists[i] ? cell_exists : cell_new, NULL);
	}
	page_add(out, table_tail, NULL);
	if (nrows > IMPORT_PREVIEW_SHOWN) {
		const char *const f[] = { "n", arena_printf(a, "%zu", nrows - IMPORT_PREVIEW_SHOWN),
			NULL };
		page_add(out, table_more, f);
	}
	goto out;
errors:
	errors_page(&u, out);
	goto out;
unavailable:
	page_unavailable(out);
out:
	if (res)
		PQclear(res);
	json_decref(u.rows);
}

/* ---- the commit ---------------------------------------------------------- */

static const char commit_done_before[] =
	"<h1>Already imported</h1>\n"
	"<p>This preview was imported on {{when}}; importing it again would change nothing.</p>\n"
	"<p><a class=\"btn\" href=\"/import\">Import another file</a></p>\n";

/* Inside the transaction: creates the stored clients that do not exist
 * by now; how many, or -1. */
static int commit_clients(struct db *db, const char *biz, const char *rows)
{
	const char *p[] = { biz, rows };
	PGresult *res = db_exec_prepared(db, "dash_import_commit_clients",
		"WITH ins AS (INSERT INTO clients (business_id, name, phone, email, time_zone)"
		"  SELECT $1::bigint, r.name, r.phone, r.email, r.time_zone"
		"  FROM jsonb_to_recordset($2::jsonb)"
		"    AS r(name text, phone text, email text, time_zone text)"
		"  WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.business_id = $1::bigint"
		"    AND ((r.phone IS NOT NULL AND c.phone = r.phone)"
		"      OR (r.email IS NOT NULL AND lower(c.email) = lower(r.email))))"
		"  RETURNING 1)"
		" SELECT count(*) FROM ins", 2, p);
	int n;
	if (res == NULL)
		return -1;
	n = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

/* Inside the transaction: creates the clients the file adds (rows
 * without client_id, one per phone or e-mail, unless one exists by now),
 * then the stored appointments that do not exist by now and are still
 * upcoming, each with its reminders (reminders_plan, as the API's).  How
 * many appointments (*clients: how many clients), or -1 with err set. */
static int commit_appointments(struct db *db, const char *biz, const char *rows, int *clients,
	char *err, size_t errlen)
{
	long long now_s = clock_now_s();
	char now[24];
	const char *p[] = { biz, rows, now };
	PGresult *res;
	int n = -1;

	snprintf(now, sizeof(now), "%lld", now_s);
	res = db_exec_prepared(db, "dash_import_commit_new_clients",
		"WITH ins AS (INSERT INTO clients (business_id, name, phone, email)"
		"  SELECT DISTINCT ON (COALESCE(r.phone, lower(r.email))) $1::bigint, r.name,"
		"   r.phone, r.email"
		"  FROM jsonb_to_recordset($2::jsonb)"
		"    AS r(line int, client_id bigint, name text, phone text, email text)"
		"  WHERE r.client_id IS NULL AND r.name IS NOT NULL"
		"   AND NOT EXISTS (SELECT 1 FROM clients c WHERE c.business_id = $1::bigint"
		"    AND CASE WHEN r.phone IS NOT NULL THEN c.phone = r.phone"
		"     ELSE lower(c.email) = lower(r.email) END)"
		"  ORDER BY COALESCE(r.phone, lower(r.email)), r.line"
		"  RETURNING 1)"
		" SELECT count(*) FROM ins", 2, p);
	if (res == NULL) {
		snprintf(err, errlen, "database error: %s", db_last_error(db));
		return -1;
	}
	*clients = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	res = db_exec_prepared(db, "dash_import_commit_appointments",
		"INSERT INTO appointments (business_id, client_id, starts_at, notes)"
		" SELECT $1::bigint, c.id, to_timestamp(r.ts), COALESCE(r.notes, '')"
		" FROM jsonb_to_recordset($2::jsonb)"
		"   AS r(client_id bigint, phone text, email text, ts bigint, notes text)"
		" JOIN LATERAL (SELECT id FROM clients c WHERE c.business_id = $1::bigint"
		"   AND CASE WHEN r.client_id IS NOT NULL THEN c.id = r.client_id"
		"     WHEN r.phone IS NOT NULL THEN c.phone = r.phone"
		"     ELSE lower(c.email) = lower(r.email) END"
		"   ORDER BY id LIMIT 1) c ON true"
		" WHERE r.ts > $3::bigint"
		"  AND NOT EXISTS (SELECT 1 FROM appointments a WHERE a.business_id = $1::bigint"
		"   AND a.client_id = c.id AND a.starts_at = to_timestamp(r.ts))"
		" RETURNING id", 3, p);
	if (res == NULL) {
		snprintf(err, errlen, "database error: %s", db_last_error(db));
		return -1;
	}
	for (int i = 0; i < PQntuples(res); i++)
		if (reminders_plan(db, strtoll(PQgetvalue(res, i, 0), NULL, 10), now_s, err,
			errlen) < 0)
			goto out;
	n = PQntuples(res);
out:
	PQclear(res);
	return n;
}

/* Contract: dash_import.h (POST /import/{id}/commit). */
void dash_import_commit_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	long long id = in->param_id;
	char sid[24], uid[24], created[24], made[24], err[256] = "";
	PGresult *res = NULL;
	int in_tx = 0, n, clients, made_clients = 0;
	const char *rows;

	out->action = "import_commit";
	snprintf(sid, sizeof(sid), "%lld", id);
	snprintf(uid, sizeof(uid), "%lld", in->user->user_id);
	if (db_begin(app->db) < 0)
		goto unavailable;
	in_tx = 1;
	{
		/* One import per business at a time: two cannot both find a row
		 * missing and both create it. */
		const char *p[] = { in->business };
		res = db_exec_prepared(app->db, "dash_import_lock",
			"SELECT pg_advisory_xact_lock(hashtextextended('ringfence csv import ' || $1, 0))",
			1, p);
	}
	if (res == NULL)
		goto unavailable;
	PQclear(res);
	{
		const char *p[] = { sid, in->business, uid, in->user->business_tz };
		res = db_exec_prepared(app->db, "dash_import_load",
			"SELECT kind, rows::text, committed_at IS NOT NULL, expires_at > now(),"
			"  to_char(committed_at AT TIME ZONE $4, 'Dy FMDD Mon YYYY, HH24:MI')"
			" FROM csv_uploads WHERE id = $1::bigint AND business_id = $2::bigint"
			"  AND user_id = $3::bigint FOR UPDATE", 4, p);
	}
	if (res == NULL)
		goto unavailable;
	if (PQntuples(res) != 1) {
		page_not_found(out);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
		const char *const f[] = { "when", PQgetvalue(res, 0, 4), NULL };
		page_begin(out, "Already imported", "import");
		page_add(out, commit_done_before, f);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 3), "t") != 0) {
		page_error(out, 409, "This preview has expired",
			"A preview is kept for an hour and nothing was imported from it. Upload the file"
			" again to see what it would import now.");
		goto out;
	}
	clients = strcmp(PQgetvalue(res, 0, 0), "clients") == 0;
	rows = arena_strdup(in->req->arena, PQgetvalue(res, 0, 1));
	PQclear(res);
	res = NULL;
	n = clients ? commit_clients(app->db, in->business, rows) :
		commit_appointments(app->db, in->business, rows, &made_clients, err, sizeof(err));
	if (n < 0) {
		log_error("dash_import: upload %s: %s", sid, *err ? err : db_last_error(app->db));
		goto unavailable;
	}
	snprintf(created, sizeof(created), "%d", n);
	snprintf(made, sizeof(made), "%d", made_clients);
	{
		const char *p[] = { sid, created, made };
		res = db_exec_prepared(app->db, clients ? "dash_import_done_clients" :
			"dash_import_done_appointments",
			/* The rows (names, numbers) are not kept once imported. */
			clients ? "UPDATE csv_uploads SET committed_at = now(), rows = '[]',"
				" created_clients = $2::int WHERE id = $1::bigint" :
				"UPDATE csv_uploads SET committed_at = now(), rows = '[]',"
				" created_appointments = $2::int, created_clients = $3::int"
				" WHERE id = $1::bigint", clients ? 2 : 3, p);
	}
	if (res == NULL)
		goto unavailable;
	if (db_commit(app->db) < 0)
		goto unavailable;
	in_tx = 0;
	page_redirect(out, "/import?notice=imported");
	goto out;
unavailable:
	page_unavailable(out);
out:
	db_finish(app->db, in_tx, res);
}

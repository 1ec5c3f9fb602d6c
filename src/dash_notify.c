/* dash_notify: what the office is told, on the dashboard; see
 * include/dash_notify.h. */
#include "dash_notify.h"
#include "app.h"
#include "arena.h"
#include "buf.h"
#include "dash_appointments.h"
#include "db.h"
#include "dispatch.h"
#include "html.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "page.h"
#include "session.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- declared fields -------------------------------------------------------- */

static int valid_mode(const char *v, size_t len)
{
	(void)len;
	return strcmp(v, "off") == 0 || strcmp(v, "immediate") == 0 || strcmp(v, "digest") == 0;
}

static int valid_hour(const char *v, size_t len)
{
	return len >= 1 && len <= 2 && strspn(v, "0123456789") == len && atoi(v) <= 23;
}

static int valid_back(const char *v, size_t len)
{
	(void)len;
	return strcmp(v, "today") == 0 || strcmp(v, "notifications") == 0;
}

/* An id, or "0" (nothing seen yet). */
static int valid_after(const char *v, size_t len)
{
	return len >= 1 && len <= 18 && strspn(v, "0123456789") == len;
}

const struct valid_field dash_notify_page_query[DNQ_NFIELDS] = {
	[DNQ_PAGE] = { "page", valid_uint, 0, VALID_INT64 },
};
const struct valid_field dash_notify_json_query[DNJ_NFIELDS] = {
	[DNJ_AFTER] = { "after", valid_after, 0, VALID_INT64 },
};
const struct valid_field dash_notify_seen_fields[DNS_NFIELDS] = {
	[DNS_UPTO] = { "upto", valid_after, 0, VALID_INT64 },
	[DNS_BACK] = { "back", valid_back, 0, VALID_TEXT },
};
const struct valid_field dash_notify_pref_fields[DNP_NFIELDS] = {
	[DNP_MODE] = { "mode", valid_mode, 1, VALID_TEXT },
	[DNP_HOUR] = { "hour", valid_hour, 1, VALID_INT64 },
};

/* ---- the rows --------------------------------------------------------------- */

/* The badge of a kind (app.css's families). */
static const char *kind_badge(const char *kind)
{
	if (strcmp(kind, NOTIFY_CONFIRMED) == 0)
		return "badge-ok";
	if (strcmp(kind, NOTIFY_CANCELLED) == 0 || strcmp(kind, NOTIFY_UNREACHED) == 0)
		return "badge-bad";
	if (strcmp(kind, NOTIFY_INBOX) == 0)
		return "badge-pending";
	return "badge-attention";
}

/* The columns every list reads, scoped to $1 (the business) and shown in
 * $2 (its zone).  Never the appointment's notes. */
#define NOTIFY_COLUMNS \
	"SELECT n.id, n.kind, COALESCE(cl.name, ac.name, ''), COALESCE(n.appointment_id::text, '')," \
	" COALESCE(to_char(a.starts_at AT TIME ZONE $2, 'Dy FMDD Mon YYYY, HH24:MI'), '')," \
	" n.detail, to_char(n.created_at AT TIME ZONE $2, 'Dy FMDD Mon, HH24:MI')," \
	" n.seen_at IS NOT NULL" \
	" FROM office_notifications n" \
	" LEFT JOIN clients cl ON cl.id = n.client_id AND cl.business_id = n.business_id" \
	" LEFT JOIN appointments a ON a.id = n.appointment_id AND a.business_id = n.business_id" \
	" LEFT JOIN clients ac ON ac.id = a.client_id AND ac.business_id = a.business_id" \
	" WHERE n.business_id = $1::bigint"
enum { NC_ID, NC_KIND, NC_CLIENT, NC_APPT, NC_WHEN, NC_DETAIL, NC_AT, NC_SEEN };

/* One row as the panel and the page show it (app.js builds the same). */
static const char tmpl_row[] =
	"<li class=\"notify{{unseen}}\" data-id=\"{{id}}\">"
	"<span class=\"badge {{badge}}\">{{words}}</span> "
	"<a class=\"notify-client\" href=\"{{href}}\">{{client}}</a> "
	"<span class=\"muted small notify-when\">{{when}}</span> "
	"<span class=\"notify-detail\">{{detail}}</span> "
	"<span class=\"muted small notify-at\">{{at}}</span></li>\n";

static void add_rows(struct outcome *out, struct arena *a, PGresult *res)
{
	for (int i = 0; i < PQntuples(res); i++) {
		const char *appt = PQgetvalue(res, i, NC_APPT), *client = PQgetvalue(res, i, NC_CLIENT);
		const char *when = PQgetvalue(res, i, NC_WHEN);
		const char *f[] = { "unseen", PQgetvalue(res, i, NC_SEEN)[0] == 't' ? "" : " unseen",
			"id", PQgetvalue(res, i, NC_ID), "badge", kind_badge(PQgetvalue(res, i, NC_KIND)),
			"words", notify_kind_words(PQgetvalue(res, i, NC_KIND)),
			"href", appt[0] ? arena_printf(a, "/appointments/%s", appt) : "/notifications",
			"client", client[0] ? client : "A client",
			"when", when[0] ? arena_printf(a, "appointment %s", when) : "",
			"detail", PQgetvalue(res, i, NC_DETAIL), "at", PQgetvalue(res, i, NC_AT), NULL };
		page_add(out, tmpl_row, f);
	}
}

/* The unseen count and the newest id of the business; 0, or -1. */
static int counts(struct app *app, struct arena *a, const char *business, const char **unseen,
	const char **last)
{
	const char *p[1] = { business }, *v[2];
	int rc = db_row_prepared(app->db, a, "dash_notify_counts",
		"SELECT (SELECT count(*) FROM office_notifications WHERE business_id = $1::bigint"
		"  AND seen_at IS NULL),"
		" (SELECT COALESCE(max(id), 0) FROM office_notifications WHERE business_id = $1::bigint)",
		1, p, 2, v);
	if (rc != 1)
		return -1;
	*unseen = v[0];
	*last = v[1];
	return 0;
}

static void db_failed(struct app *app, const struct route_input *in, struct outcome *out)
{
	log_error("dashboard: request %s %s %s: database error: %s", in->req->request_id,
		in->req->method, in->req->path, db_last_error(app->db));
	out->error = "database unavailable";
	page_unavailable(out);
}

/* The "Mark all seen" form: up to the newest id shown, back to where. */
static const char tmpl_seen_form[] =
	"<form class=\"inline-form notify-seen\" method=\"post\" action=\"/notifications/seen\">"
	PAGE_CSRF_INPUT "<input type=\"hidden\" name=\"upto\" value=\"{{last}}\">"
	"<input type=\"hidden\" name=\"back\" value=\"{{back}}\">"
	"<button class=\"btn btn-small\" type=\"submit\">Mark all seen</button></form>";

/* ---- Today's panel ------------------------------------------------------------ */

int dash_notify_panel(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	const char *p[2] = { in->business, in->user->business_tz }, *unseen, *last;
	PGresult *res;

	if (counts(app, a, in->business, &unseen, &last) < 0)
		return -1;
	res = db_exec_prepared(app->db, "dash_notify_panel",
		NOTIFY_COLUMNS " ORDER BY n.id DESC LIMIT " "10", 2, p);
	if (res == NULL)
		return -1;
	{
		const char *f[] = { "last", last, "unseen", unseen, "csrf", in->user->csrf,
			"back", "today", NULL };
		page_add(out, "<section class=\"card notify-panel\" id=\"notifications\">"
			"<div class=\"page-head\"><h2>What clients said</h2>"
			"<span><a href=\"/notifications\">All notifications</a> ", NULL);
		page_add(out, tmpl_seen_form, f);
		page_add(out, "</span></div>"
			"<ul class=\"list notify-list\" id=\"notify-list\" data-after=\"{{last}}\">\n", f);
	}
	add_rows(out, a, res);
	page_add(out, "</ul>", NULL);
	if (PQntuples(res) == 0)
		page_add(out, "<p class=\"muted notify-empty\" id=\"notify-empty\">Nothing yet: when a"
			" client confirms, cancels, asks for a call back or to reschedule, or a reminder"
			" does not reach them, it shows here at once.</p>", NULL);
	page_add(out, "</section>\n", NULL);
	PQclear(res);
	return 0;
}

/* ---- the header's item -------------------------------------------------------- */

/* The menu item, and the same marked as the current page (an attribute
 * is markup: it cannot be a value). */
#define NAV_ITEM(attr) \
	"<li><a href=\"/notifications\" id=\"notify-nav\" data-after=\"{{last}}\"" attr ">" \
	"Notifications <span class=\"badge badge-attention notify-count{{zero}}\"" \
	" id=\"notify-count\">{{unseen}}</span></a></li>\n"
static const char tmpl_nav[] = NAV_ITEM("");
static const char tmpl_nav_current[] = NAV_ITEM(" aria-current=\"page\"");

void dash_notify_nav(struct app *app, const struct session_user *u, struct buf *b, int current)
{
	const char *unseen, *last;

	if (counts(app, b->arena, u->business, &unseen, &last) == 0) {
		const char *f[] = { "last", last, "unseen", unseen,
			"zero", strcmp(unseen, "0") == 0 ? " notify-none" : "", NULL };
		html_render(b, current ? tmpl_nav_current : tmpl_nav, f);
	}
}

/* ---- GET /notifications --------------------------------------------------------- */

void dash_notify_list_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	long long page = in->query_valid && in->query.v[DNQ_PAGE].s ? in->query.v[DNQ_PAGE].i : 1;
	char offset[24];
	const char *p[3] = { in->business, in->user->business_tz, offset }, *unseen, *last;
	PGresult *res;

	if (page < 1)
		page = 1;
	if (page > 10000)
		page = 10000;
	snprintf(offset, sizeof(offset), "%lld", (page - 1) * NOTIFY_PAGE_SIZE);
	page_begin(out, "Notifications", "notifications");
	if (counts(app, a, in->business, &unseen, &last) < 0)
		goto db_failed;
	res = db_exec_prepared(app->db, "dash_notify_list",
		NOTIFY_COLUMNS " ORDER BY n.id DESC LIMIT " "50" " OFFSET $3::bigint", 3, p);
	if (res == NULL)
		goto db_failed;
	{
		const char *f[] = { "last", last, "unseen", unseen, "csrf", in->user->csrf,
			"back", "notifications", "page", arena_printf(a, "%lld", page), NULL };
		page_add(out, "<div class=\"page-head\"><h1>Notifications</h1>", NULL);
		page_add(out, tmpl_seen_form, f);
		page_add(out, "</div>\n<p class=\"muted\">What clients said and which reminders did not"
			" reach them, newest first. Unseen: {{unseen}}."
			" <a href=\"/settings/notifications\">Email me about these</a></p>\n", f);
		page_add(out, "<section class=\"card\">", NULL);
		/* Only the first page takes new rows live. */
		if (page == 1)
			page_add(out, "<ul class=\"list notify-list\" id=\"notify-list\""
				" data-after=\"{{last}}\">\n", f);
		else
			page_add(out, "<ul class=\"list notify-list\">\n", NULL);
	}
	add_rows(out, a, res);
	page_add(out, "</ul>", NULL);
	if (PQntuples(res) == 0)
		page_add(out, "<p class=\"muted notify-empty\" id=\"notify-empty\">Nothing here.</p>",
			NULL);
	page_add(out, "</section>\n", NULL);
	{
		const char *f[] = { "prev", arena_printf(a, "%lld", page - 1),
			"next", arena_printf(a, "%lld", page + 1), NULL };
		page_add(out, "<nav class=\"row\" aria-label=\"Pages\">", NULL);
		if (page > 1)
			page_add(out, "<a href=\"/notifications?page={{prev}}\">Newer</a>", f);
		if (PQntuples(res) == NOTIFY_PAGE_SIZE)
			page_add(out, "<a href=\"/notifications?page={{next}}\">Older</a>", f);
		page_add(out, "</nav>\n", NULL);
	}
	PQclear(res);
	return;
db_failed:
	db_failed(app, in, out);
}

/* ---- GET /notifications.json ---------------------------------------------------- */

void dash_notify_json_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	const char *after = in->query_valid && in->query.v[DNJ_AFTER].s ? in->query.v[DNJ_AFTER].s
		: "0";
	const char *p[3] = { in->business, in->user->business_tz, after }, *unseen, *last;
	json_t *rows;
	PGresult *res;

	if (!in->query_valid) {
		outcome_error(out, 400, "invalid_field", "after",
			"after must be the id of a notification (digits), or 0");
		return;
	}
	if (counts(app, a, in->business, &unseen, &last) < 0)
		goto db_failed;
	res = db_exec_prepared(app->db, "dash_notify_json",
		NOTIFY_COLUMNS " AND n.id > $3::bigint ORDER BY n.id DESC LIMIT " "50", 3, p);
	if (res == NULL)
		goto db_failed;
	rows = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		const char *appt = PQgetvalue(res, i, NC_APPT), *kind = PQgetvalue(res, i, NC_KIND);
		json_array_append_new(rows, json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:b}",
			"id", (json_int_t)atoll(PQgetvalue(res, i, NC_ID)), "kind", kind,
			"words", notify_kind_words(kind), "badge", kind_badge(kind),
			"client", PQgetvalue(res, i, NC_CLIENT),
			"appointment_id", appt[0] ? json_integer(atoll(appt)) : json_null(),
			"appointment_at", PQgetvalue(res, i, NC_WHEN),
			"detail", PQgetvalue(res, i, NC_DETAIL), "created_at", PQgetvalue(res, i, NC_AT),
			"seen", PQgetvalue(res, i, NC_SEEN)[0] == 't'));
	}
	PQclear(res);
	out->json = json_pack("{s:I, s:I, s:o}", "unseen", (json_int_t)atoll(unseen),
		"last_id", (json_int_t)atoll(last), "notifications", rows);
	return;
db_failed:
	log_error("dashboard: request %s %s: database error: %s", in->req->request_id,
		in->req->path, db_last_error(app->db));
	outcome_error(out, 503, "unavailable", NULL,
		"the database is unavailable; try again in a minute");
}

/* ---- POST /notifications/seen --------------------------------------------------- */

void dash_notify_seen_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	const char *upto = in->form.v[DNS_UPTO].s, *back = in->form.v[DNS_BACK].s;
	char uid[24];
	const char *p[3] = { in->business, uid, upto };
	PGresult *res;
	json_t *extra;

	snprintf(uid, sizeof(uid), "%lld", in->user->user_id);
	/* Up to the newest row the page showed: one that came after it has
	 * not been seen. */
	res = db_exec_prepared(app->db, "dash_notify_seen",
		"UPDATE office_notifications SET seen_at = now(), seen_by = $2::bigint"
		" WHERE business_id = $1::bigint AND seen_at IS NULL"
		" AND ($3::bigint IS NULL OR id <= $3::bigint)", 3, p);
	if (res == NULL) {
		db_failed(app, in, out);
		return;
	}
	extra = json_pack("{s:s}", "marked", PQcmdTuples(res));
	PQclear(res);
	out->action = "notifications_seen";
	dash_audit(app, in, "notifications_seen", 0, extra);
	if (back && strcmp(back, "today") == 0)
		page_redirect(out, "/today?notice=notifications_seen");
	else
		page_redirect(out, "/notifications?notice=notifications_seen");
}

/* ---- Settings -> My notifications ---------------------------------------------- */

static const char tmpl_pref[] =
	"<h1>My notifications</h1>\n"
	"<p class=\"muted\">How you ({{email}}) are told by email when a client confirms,"
	" cancels, asks for a call back or to reschedule, texts something we do not understand,"
	" or a reminder does not reach them. Everyone else chooses for themselves. The dashboard"
	" shows them at once either way. Emails never hold an appointment's notes.</p>\n"
	"<section class=\"card\"><form method=\"post\" action=\"/settings/notifications\">"
	PAGE_CSRF_INPUT
	"<fieldset><legend>Email me</legend>"
	"<label><input type=\"radio\" name=\"mode\" value=\"off\"{{off}}> Never</label><br>"
	"<label><input type=\"radio\" name=\"mode\" value=\"immediate\"{{immediate}}>"
	" At once (at most {{per_hour}} an hour; more wait for a digest at the hour below)</label><br>"
	"<label><input type=\"radio\" name=\"mode\" value=\"digest\"{{digest}}>"
	" Once a day: a digest of the day's notifications (none when there is nothing to tell)"
	"</label></fieldset>"
	"<div class=\"field\"><label for=\"f-hour\">Digest hour ({{tz}})</label>"
	"<select id=\"f-hour\" name=\"hour\">";

void dash_notify_pref_page(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	char uid[24];
	const char *p[1] = { uid }, *v[3];
	int rc, hour;

	snprintf(uid, sizeof(uid), "%lld", in->user->user_id);
	page_begin(out, "My notifications", "settings");
	rc = db_row_prepared(app->db, a, "dash_notify_pref",
		"SELECT notify_mode, notify_digest_hour, email FROM users WHERE id = $1::bigint", 1, p,
		3, v);
	if (rc < 0) {
		db_failed(app, in, out);
		return;
	}
	if (rc == 0) {
		page_not_found(out);
		return;
	}
	hour = atoi(v[1]);
	{
		const char *f[] = { "email", v[2], "csrf", in->user->csrf,
			"off", strcmp(v[0], "off") == 0 ? " checked" : "",
			"immediate", strcmp(v[0], "immediate") == 0 ? " checked" : "",
			"digest", strcmp(v[0], "digest") == 0 ? " checked" : "",
			"per_hour", "20", "tz", in->user->business_tz, NULL };
		page_add(out, tmpl_pref, f);
	}
	for (int h = 0; h < 24; h++) {
		const char *f[] = { "h", arena_printf(a, "%d", h),
			"label", arena_printf(a, "%02d:00", h), NULL };
		page_add(out, h == hour ? "<option value=\"{{h}}\" selected>{{label}}</option>"
					: "<option value=\"{{h}}\">{{label}}</option>", f);
	}
	page_add(out, "</select></div><div class=\"form-actions\">"
		"<button class=\"btn btn-primary\" type=\"submit\">Save</button></div></form></section>\n"
		"<p><a href=\"/settings\">Back to the settings</a></p>\n", NULL);
}

void dash_notify_pref_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	char uid[24];
	const char *p[3] = { uid, in->form.v[DNP_MODE].s, in->form.v[DNP_HOUR].s };
	PGresult *res;

	snprintf(uid, sizeof(uid), "%lld", in->user->user_id);
	/* A new choice starts from now: turning email on does not send the
	 * past. */
	res = db_exec_prepared(app->db, "dash_notify_pref_save",
		"UPDATE users SET notify_since = CASE WHEN notify_mode = $2 THEN notify_since"
		" ELSE now() END, notify_mode = $2, notify_digest_hour = $3::smallint,"
		" updated_at = now() WHERE id = $1::bigint", 3, p);
	if (res == NULL) {
		db_failed(app, in, out);
		return;
	}
	PQclear(res);
	out->action = "notify_preference";
	dash_audit(app, in, "notify_preference", 0, json_pack("{s:s, s:s}", "mode", p[1],
		"hour", p[2]));
	page_redirect(out, "/settings/notifications?notice=saved");
}

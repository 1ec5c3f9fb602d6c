/* dash_calendar: the calendar feeds' pages; see include/dash_calendar.h. */
#include "dash_calendar.h"
#include "app.h"
#include "arena.h"
#include "buf.h"
#include "calcontact.h"
#include "calfetch.h"
#include "config.h"
#include "dash_settings.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "page.h"
#include "session.h"
#include "util.h"
#include "valid.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Fields are read as text and checked by the handlers, so that a bad
 * value gets a page naming the field rather than a bare refusal. */
static int field_text(const char *v, size_t len)
{
	return len <= 4096 && memchr(v, '\0', len) == NULL;
}

const struct valid_field dash_calendar_add_fields[DCAL_ADD_NFIELDS] = {
	[DCAL_ADD_NAME] = { "name", field_text, 0, VALID_TEXT },
	[DCAL_ADD_URL] = { "url", field_text, 0, VALID_TEXT },
};
const struct valid_field dash_calendar_enabled_fields[1] = {
	{ "enabled", field_text, 0, VALID_TEXT },
};
const struct valid_field dash_calendar_country_fields[1] = {
	{ "country", field_text, 0, VALID_TEXT },
};
const struct valid_field dash_calendar_auto_fields[DCAL_AUTO_NFIELDS] = {
	[DCAL_AUTO_ON] = { "auto_confirm", field_text, 0, VALID_TEXT },
	[DCAL_AUTO_REASON] = { "reason", field_text, 0, VALID_TEXT },
};
const struct valid_field dash_calendar_hold_fields[DCAL_HOLD_NFIELDS] = {
	[DCAL_HOLD_DECISION] = { "decision", field_text, 0, VALID_TEXT },
	[DCAL_HOLD_REASON] = { "reason", field_text, 0, VALID_TEXT },
	[DCAL_HOLD_SEEN] = { "seen", field_text, 0, VALID_TEXT },
};

/* The names of the countries whose national numbers (without +) the sync
 * reads in event text; offered only when calcontact's table knows them
 * (calcontact_country_known).  Any other country's clients are found by
 * numbers written with + and the country code. */
static const struct {
	const char *code, *name;
} countries[] = {
	{ "AU", "Australia" }, { "AT", "Austria" }, { "BE", "Belgium" }, { "CA", "Canada" },
	{ "FR", "France" }, { "DE", "Germany" }, { "IE", "Ireland" }, { "NL", "Netherlands" },
	{ "NZ", "New Zealand" }, { "CH", "Switzerland" }, { "GB", "United Kingdom" },
	{ "US", "United States" },
};

/* The name of a country people may pick, or NULL. */
static const char *country_name(const char *code)
{
	for (size_t i = 0; code && i < ARRAY_LEN(countries); i++)
		if (strcmp(countries[i].code, code) == 0 && calcontact_country_known(code))
			return countries[i].name;
	return NULL;
}

/* ---- shared with the API ----------------------------------------------------- */

int calendar_allow_http(const struct app *app)
{
	return app->cfg.env == RF_ENV_DEVELOPMENT || app->cfg.env == RF_ENV_TEST;
}

/* The length of url's scheme and "://" when it is one of the accepted
 * ones (case-insensitive), else 0. */
static size_t scheme_len(const char *url, int allow_http)
{
	if (strncasecmp(url, "https://", 8) == 0)
		return 8;
	if (strncasecmp(url, "webcal://", 9) == 0)
		return 9;
	if (allow_http && strncasecmp(url, "http://", 7) == 0)
		return 7;
	return 0;
}

const char *calendar_url_problem(const char *url, int allow_http)
{
	size_t len = url ? strlen(url) : 0, s, host;

	if (len == 0)
		return "Address: paste the calendar's secret address in iCal format.";
	if (len > CALENDAR_URL_MAX)
		return "Address: it is longer than 2000 characters; check what was pasted.";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
			return "Address: it holds spaces or line breaks; paste the address alone.";
	if (!valid_utf8(url, len) || !valid_no_controls(url, len, NULL))
		return "Address: it holds characters an address cannot hold.";
	s = scheme_len(url, allow_http);
	if (s == 0)
		return allow_http
			? "Address: it must start with https://, webcal:// or http://."
			: "Address: it must start with https:// or webcal:// (a calendar is read"
			  " only over an encrypted connection).";
	host = strcspn(url + s, "/?#");
	if (memchr(url + s, '@', host) != NULL)
		return "Address: it holds a user name or password; use the calendar's secret"
		       " address, which needs none.";
	if (host == 0 || url[s] == ':' || url[s] == '.')
		return "Address: it has no host name after the scheme.";
	if (len < 8)
		return "Address: it is too short to be a calendar's address.";
	return NULL;
}

const char *calendar_name_problem(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	/* Spaces only is no name (the column's check trims them; a refusal
	 * there would be a database error quoting the address in its log). */
	if (len == 0 || strspn(name, " ") == len)
		return "Name: give the calendar a name, such as \"Front desk\".";
	if (!valid_utf8(name, len) || !valid_text(name, CALENDAR_NAME_MAX, NULL))
		return "Name: at most 100 characters on one line.";
	return NULL;
}

void calendar_mask_url(const char *url, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	out[0] = '\0';
	if (url == NULL)
		return;
	calfetch_mask_url(url, out, outlen);
	/* An address libcurl cannot read (there is none in the table: every
	 * one was checked when added) still shows as something. */
	if (out[0] == '\0')
		snprintf(out, outlen, "…");
}

long long calendar_feed_add(struct db *db, struct arena *a, const char *biz, const char *name,
	const char *url, const char *by)
{
	const char *p[] = { biz, name, url, by }, *row[1];
	int r;

	/* ON CONFLICT: a duplicate is an answer, not an error whose text
	 * (which would quote the address) could reach a log. */
	r = db_row_prepared(db, a, "calendar_feed_add",
		"INSERT INTO calendar_feeds (business_id, name, url, created_by)"
		" VALUES ($1::bigint, $2, $3, $4) ON CONFLICT (business_id, url) DO NOTHING"
		" RETURNING id", 4, p, 1, row);
	if (r < 0)
		return -1;
	return r == 1 ? strtoll(row[0], NULL, 10) : 0;
}

enum calendar_confirm calendar_client_confirm(struct db *db, struct arena *a, const char *biz,
	long long id, const char *by)
{
	const char *p[] = { arena_printf(a, "%lld", id), biz, by }, *row[2];
	int r;

	r = db_row_prepared(db, a, "calendar_client_confirm",
		"WITH u AS (UPDATE clients SET confirmed_at = now(), confirmed_by = $3"
		"  WHERE id = $1::bigint AND business_id = $2::bigint AND proposed_at IS NOT NULL"
		"  AND confirmed_at IS NULL RETURNING id)"
		" SELECT (SELECT count(*) FROM u)::text, (SELECT CASE WHEN proposed_at IS NULL"
		"  THEN 'not_proposed' ELSE 'proposed' END FROM clients"
		"  WHERE id = $1::bigint AND business_id = $2::bigint)", 3, p, 2, row);
	if (r < 0)
		return CALENDAR_CONFIRM_DB;
	if (r == 0 || row[1] == NULL)
		return CALENDAR_CONFIRM_NOT_FOUND;
	if (strcmp(row[0], "1") == 0)
		return CALENDAR_CONFIRM_DONE;
	return strcmp(row[1], "not_proposed") == 0 ? CALENDAR_CONFIRM_NOT_PROPOSED
						   : CALENDAR_CONFIRM_ALREADY;
}

/* ---- helpers ------------------------------------------------------------------ */

/* The database failed: the 503 page, logged without any value of the
 * request (a feed's address may be in the statement's error). */
static void db_failed(const struct route_input *in, struct outcome *out)
{
	log_error("dashboard: request %s %s %s: database error", in->req->request_id,
		in->req->method, in->req->path);
	out->error = "database unavailable";
	page_unavailable(out);
}

/* Trimmed copy of s (NULL: ""). */
static char *trimmed(struct arena *a, const char *s)
{
	size_t n;

	if (s == NULL)
		return arena_strdup(a, "");
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
			 s[n - 1] == '\n'))
		n--;
	return arena_strndup(a, s, n);
}

static const char *col(PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

/* The 403 page of a staff member's change. */
static int owner_only(const struct route_input *in, struct outcome *out)
{
	if (dash_settings_can_change(in))
		return 1;
	page_error(out, 403, "Only an owner can change this",
		"Your login can see the calendars but not change them. Nothing was changed.");
	return 0;
}

static const char *plural(long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* ---- notices: Today and the Calendars page ----------------------------------- */

int dash_calendar_notices(struct app *app, const struct route_input *in, struct outcome *out)
{
	const char *p[] = { in->business };
	PGresult *holds, *counts;
	long long proposed, nocontact;

	holds = db_exec_prepared(app->db, "dash_calendar_open_holds",
		"SELECT h.id, f.name, h.reason FROM calendar_holds h"
		" JOIN calendar_feeds f ON f.id = h.feed_id AND f.business_id = h.business_id"
		" WHERE h.business_id = $1::bigint AND h.decision IS NULL AND h.applied_at IS NULL"
		" ORDER BY h.id LIMIT 20", 1, p);
	if (holds == NULL)
		return -1;
	counts = db_exec_prepared(app->db, "dash_calendar_counts",
		"SELECT (SELECT count(*) FROM clients WHERE business_id = $1::bigint"
		"   AND proposed_at IS NOT NULL AND confirmed_at IS NULL),"
		" (SELECT count(*) FROM calendar_events WHERE business_id = $1::bigint"
		"   AND state = 'no_contact' AND starts_at >= now()"
		"   AND starts_at < now() + interval '7 days')", 1, p);
	if (counts == NULL) {
		PQclear(holds);
		return -1;
	}
	for (int i = 0; i < PQntuples(holds); i++) {
		const char *const f[] = { "id", PQgetvalue(holds, i, 0), "feed", PQgetvalue(holds, i, 1),
			"reason", PQgetvalue(holds, i, 2), NULL };
		page_add(out, "<p class=\"alert\" role=\"alert\" data-calendar=\"hold\">Changes from the"
			" calendar \"{{feed}}\" are held for your approval: it {{reason}}. Nothing"
			" from it changes until someone decides."
			" <a href=\"/calendar-holds/{{id}}\">Review the changes</a></p>\n", f);
	}
	proposed = strtoll(PQgetvalue(counts, 0, 0), NULL, 10);
	nocontact = strtoll(PQgetvalue(counts, 0, 1), NULL, 10);
	if (proposed > 0) {
		const char *const f[] = { "n", PQgetvalue(counts, 0, 0),
			"what", plural(proposed, "client from your calendar waits",
				"clients from your calendar wait"), NULL };
		page_add(out, "<p class=\"alert alert-info\" data-calendar=\"proposed\">{{n}} {{what}}"
			" for confirmation: nobody is contacted until you confirm the number."
			" <a href=\"/clients?show=to_confirm\">Review them</a></p>\n", f);
	}
	if (nocontact > 0) {
		const char *const f[] = { "n", PQgetvalue(counts, 0, 1),
			"what", plural(nocontact, "event this week has", "events this week have"), NULL };
		page_add(out, "<p class=\"alert alert-info\" data-calendar=\"no-contact\">{{n}} {{what}}"
			" no phone number: their clients get no reminder."
			" <a href=\"/calendar-events/no-contact\">See which</a></p>\n", f);
	}
	PQclear(holds);
	PQclear(counts);
	return 0;
}

/* ---- GET /settings/calendars --------------------------------------------------- */

/* What a refused POST puts back on the page (never the address). */
struct cal_view {
	const char *name;            /* the add form's name */
	const char *err_form;        /* "add", "country", "auto": the form blamed */
	const char *err_msg;
	const char *reason;          /* the automatic confirmation's reason */
};

static const char tmpl_head[] =
	"<div class=\"page-head\"><h1>Calendars</h1>"
	"<a class=\"btn\" href=\"/settings\">All settings</a></div>\n"
	"<p>ringfence reads the calendars you already keep appointments in (Google Calendar,"
	" Outlook, Apple Calendar: the <em>secret address in iCal format</em> each one"
	" publishes), every few minutes, and reminds the clients it finds in the events: a"
	" client whose phone number or e-mail is written in the event, or whose name is the"
	" event's title.</p>\n";
static const char tmpl_err[] = "<p class=\"alert\" role=\"alert\">{{message}}</p>\n";
static const char tmpl_feeds_none[] =
	"<section class=\"card\" id=\"feeds\"><h2>Calendar feeds</h2>"
	"<p class=\"empty\">No calendar yet.</p>\n";
static const char tmpl_feeds_head[] =
	"<section class=\"card\" id=\"feeds\"><h2>Calendar feeds</h2>\n"
	"<div class=\"table-wrap\"><table class=\"table\"><thead><tr>"
	"<th scope=\"col\">Name</th><th scope=\"col\">Address</th><th scope=\"col\">Last sync</th>"
	"<th scope=\"col\">Events</th><th scope=\"col\">Next sync</th><th scope=\"col\"></th>"
	"</tr></thead><tbody>\n";
static const char tmpl_feed_row[] =
	"<tr data-feed=\"{{id}}\"><td data-label=\"Name\">{{name}}</td>"
	"<td data-label=\"Address\" class=\"mono\">{{url}}</td>"
	"<td data-label=\"Last sync\"><span class=\"badge {{badge}}\">{{state}}</span>"
	" <span class=\"small\">{{detail}}</span>";
static const char tmpl_feed_hold_link[] =
	" <a href=\"/calendar-holds/{{hold}}\">Review the held changes</a>";
static const char tmpl_feed_row_mid[] =
	"</td><td data-label=\"Events\">{{events}}</td>"
	"<td data-label=\"Next sync\">{{next}}</td><td>";
static const char tmpl_feed_sync[] =
	"<form method=\"post\" action=\"/settings/calendars/{{id}}/sync\" class=\"inline-form\">"
	PAGE_CSRF_INPUT "<button type=\"submit\" class=\"btn btn-small\">Sync now</button></form> ";
static const char tmpl_feed_owner[] =
	"<form method=\"post\" action=\"/settings/calendars/{{id}}/enabled\" class=\"inline-form\">"
	PAGE_CSRF_INPUT "<input type=\"hidden\" name=\"enabled\" value=\"{{to}}\">"
	"<button type=\"submit\" class=\"btn btn-small\">{{toggle}}</button></form> "
	"<form method=\"post\" action=\"/settings/calendars/{{id}}/remove\" class=\"inline-form\""
	" data-confirm=\"Remove this calendar? Appointments already made from it stay.\">"
	PAGE_CSRF_INPUT "<button type=\"submit\" class=\"btn btn-danger btn-small\">Remove</button>"
	"</form>";
static const char tmpl_feed_row_end[] = "</td></tr>\n";
static const char tmpl_feeds_end[] =
	"</tbody></table></div>\n"
	"<p class=\"hint\">Removing a calendar stops reading it; the appointments already made"
	" from it stay, with their reminders, and can be changed here like any other.</p>\n";
static const char tmpl_section_end[] = "</section>\n";
static const char tmpl_add[] =
	"<form method=\"post\" action=\"/settings/calendars\" class=\"form\" id=\"add\">\n"
	PAGE_CSRF_INPUT "\n<h3>Add a calendar</h3>\n"
	"<div class=\"field{{name_err}}\"><label for=\"cal-name\">Name</label>\n"
	"<input id=\"cal-name\" name=\"name\" type=\"text\" maxlength=\"100\" value=\"{{name}}\""
	" required></div>\n"
	"<div class=\"field{{url_err}}\"><label for=\"cal-url\">Secret address in iCal format</label>\n"
	"<input id=\"cal-url\" name=\"url\" type=\"text\" inputmode=\"url\" autocomplete=\"off\""
	" spellcheck=\"false\" maxlength=\"2000\" required>\n"
	"<p class=\"hint\">Google Calendar: Settings, the calendar, \"Secret address in iCal"
	" format\". Outlook: Settings, Calendar, Shared calendars, Publish, the ICS link. Apple"
	" Calendar: share the calendar as a public calendar. It starts with https:// or"
	" webcal://. Anyone who has this address can read the calendar, so it is shown here"
	" only as its host.</p></div>\n"
	"<div class=\"form-actions\"><button type=\"submit\" class=\"btn btn-primary\">Add the"
	" calendar</button></div>\n</form>\n";

static const char tmpl_country_open[] =
	"<section class=\"card\" id=\"country\"><h2>Country of national numbers</h2>\n"
	"<p>Phone numbers in events written without + and the country code (like 555-010-0123"
	" or 07700 900123) are read as numbers of this country. Numbers with + and the country"
	" code are read whatever it is.</p>\n";
static const char tmpl_country_ro[] = "<p>Now: <strong>{{country}}</strong></p>\n";
static const char tmpl_country_form[] =
	"<form method=\"post\" action=\"/settings/calendars/country\" class=\"form\">\n"
	PAGE_CSRF_INPUT "\n<div class=\"field{{err}}\"><label for=\"country-sel\">Country</label>\n"
	"<select id=\"country-sel\" name=\"country\">\n";
static const char tmpl_opt[] = "<option value=\"{{v}}\">{{label}}</option>\n";
static const char tmpl_opt_sel[] = "<option value=\"{{v}}\" selected>{{label}}</option>\n";
static const char tmpl_country_end[] =
	"</select></div>\n<div class=\"form-actions\"><button type=\"submit\" class=\"btn\">Save"
	" the country</button></div>\n</form>\n";

static const char tmpl_auto_open[] =
	"<section class=\"card\" id=\"auto-confirm\"><h2>Clients found in calendars</h2>\n"
	"<p>When an event names a phone number or e-mail that is not one of your clients yet,"
	" ringfence proposes a new client from it. A proposed client gets no reminder until"
	" someone here confirms it, because a number typed wrong in a calendar reaches a"
	" stranger.</p>\n";
static const char tmpl_auto_state[] =
	"<p>Confirm clients from calendars automatically: <strong>{{state}}</strong>{{since}}</p>\n";
static const char tmpl_auto_form[] =
	"<form method=\"post\" action=\"/settings/calendars/auto-confirm\" class=\"form\">\n"
	PAGE_CSRF_INPUT "\n<input type=\"hidden\" name=\"auto_confirm\" value=\"{{to}}\">\n"
	"<div class=\"field{{err}}\"><label for=\"auto-reason\">Why (kept with the change)</label>\n"
	"<input id=\"auto-reason\" name=\"reason\" type=\"text\" maxlength=\"1000\""
	" value=\"{{reason}}\" required></div>\n"
	"<div class=\"form-actions\"><button type=\"submit\" class=\"btn {{btn}}\">{{label}}"
	"</button></div>\n</form>\n";
static const char tmpl_auto_warning[] =
	"<p class=\"alert\" role=\"note\"><strong>Careful:</strong> with this on, every number"
	" found in an event is called or texted without anyone checking it first. A typo in"
	" the calendar, or a number that belongs to someone else (a relative, the office),"
	" reaches that person. Clients proposed before the change still wait for"
	" confirmation.</p>\n";

/* The feeds table. 0, or -1 (database). */
static int render_feeds(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	const char *p[] = { in->business, in->user->business_tz };
	int owner = dash_settings_can_change(in);
	PGresult *res = db_exec_prepared(app->db, "dash_calendar_feeds",
		"SELECT f.id, f.name, f.url, f.enabled, f.last_status, f.last_error,"
		" to_char(f.last_polled_at AT TIME ZONE $2, 'Dy FMDD Mon, HH24:MI'),"
		" to_char(f.last_ok_at AT TIME ZONE $2, 'Dy FMDD Mon, HH24:MI'), f.failures,"
		" f.events_in_feed,"
		" CASE WHEN f.next_poll_at <= now() THEN 'within a minute'"
		"  ELSE to_char(f.next_poll_at AT TIME ZONE $2, 'Dy FMDD Mon, HH24:MI') END,"
		" (SELECT h.id FROM calendar_holds h WHERE h.feed_id = f.id"
		"   AND h.business_id = f.business_id AND h.decision IS NULL AND h.applied_at IS NULL"
		"   ORDER BY h.id DESC LIMIT 1),"
		" to_char(f.created_at AT TIME ZONE $2, 'FMDD Mon YYYY')"
		" FROM calendar_feeds f WHERE f.business_id = $1::bigint ORDER BY f.id", 2, p);

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		page_add(out, tmpl_feeds_none, NULL);
	} else {
		page_add(out, tmpl_feeds_head, NULL);
		for (int i = 0; i < PQntuples(res); i++) {
			const char *id = PQgetvalue(res, i, 0), *st = col(res, i, 4);
			const char *err = col(res, i, 5), *polled = col(res, i, 6), *ok = col(res, i, 7);
			const char *events = col(res, i, 9), *hold = col(res, i, 11);
			int on = strcmp(PQgetvalue(res, i, 3), "t") == 0;
			const char *state, *badge, *detail;
			char masked[300];

			calendar_mask_url(PQgetvalue(res, i, 2), masked, sizeof(masked));
			if (hold) {
				state = "Changes held";
				badge = "badge-attention";
				detail = "a sync would change too much at once: nothing is applied until"
					 " someone approves.";
			} else if (st == NULL) {
				state = "Not synced yet";
				badge = "badge-pending";
				detail = arena_printf(a, "added %s", PQgetvalue(res, i, 12));
			} else if (strcmp(st, "failed") == 0) {
				state = "Failing";
				badge = "badge-bad";
				detail = arena_printf(a, "%s. Last successful sync: %s; %s failed %s in a"
					" row. Nothing was changed by the failed ones.", err ? err : "no reason",
					ok ? ok : "never", PQgetvalue(res, i, 8),
					plural(strtoll(PQgetvalue(res, i, 8), NULL, 10), "attempt",
						"attempts"));
			} else if (strcmp(st, "not_modified") == 0) {
				state = "OK";
				badge = "badge-ok";
				detail = arena_printf(a, "%s: not modified since the last sync",
					polled ? polled : "");
			} else if (strcmp(st, "held") == 0) {
				state = "Held changes decided";
				badge = "badge-pending";
				detail = "the next sync applies what was approved";
			} else {
				state = "OK";
				badge = "badge-ok";
				detail = polled ? polled : "";
			}
			if (!on) {
				state = "Off";
				badge = "badge-muted";
				detail = arena_printf(a, "not read while off (%s)", detail);
			}
			{
				const char *const f[] = { "id", id, "name", PQgetvalue(res, i, 1), "url",
					masked, "badge", badge, "state", state, "detail", detail, NULL };
				page_add(out, tmpl_feed_row, f);
			}
			if (hold) {
				const char *const f[] = { "hold", hold, NULL };
				page_add(out, tmpl_feed_hold_link, f);
			}
			{
				const char *const f[] = { "events", events ? events : "–", "next",
					on ? PQgetvalue(res, i, 10) : "off", NULL };
				page_add(out, tmpl_feed_row_mid, f);
			}
			{
				const char *const f[] = { "id", id, "csrf", in->user->csrf, "to",
					on ? "off" : "on", "toggle", on ? "Turn off" : "Turn on", NULL };
				if (on)
					page_add(out, tmpl_feed_sync, f);
				if (owner)
					page_add(out, tmpl_feed_owner, f);
			}
			page_add(out, tmpl_feed_row_end, NULL);
		}
		page_add(out, tmpl_feeds_end, NULL);
	}
	PQclear(res);
	return 0;
}

/* The country and automatic confirmation parts.  0, or -1 (database). */
static int render_business_parts(struct app *app, const struct route_input *in,
	struct outcome *out, const struct cal_view *v)
{
	struct arena *a = in->req->arena;
	const char *p[] = { in->business, in->user->business_tz }, *row[4];
	int owner = dash_settings_can_change(in), on, r;
	const char *country, *shown;

	r = db_row_prepared(app->db, a, "dash_calendar_business",
		"SELECT country, auto_confirm_clients::text,"
		" (SELECT to_char(e.created_at AT TIME ZONE $2, 'FMDD Mon YYYY, HH24:MI')"
		"  FROM business_events e WHERE e.business_id = b.id"
		"  AND e.event IN ('auto_confirm_on', 'auto_confirm_off') ORDER BY e.id DESC LIMIT 1),"
		" (SELECT e.actor FROM business_events e WHERE e.business_id = b.id"
		"  AND e.event IN ('auto_confirm_on', 'auto_confirm_off') ORDER BY e.id DESC LIMIT 1)"
		" FROM businesses b WHERE b.id = $1::bigint", 2, p, 4, row);
	if (r != 1)
		return -1;
	country = row[0];
	on = strcmp(row[1], "true") == 0;
	shown = country == NULL ? "None: only numbers written with + and the country code"
		: country_name(country) ? arena_printf(a, "%s (%s)", country_name(country), country)
		: country;
	page_add(out, tmpl_country_open, NULL);
	if (!owner) {
		const char *const f[] = { "country", shown, NULL };
		page_add(out, tmpl_country_ro, f);
	} else {
		const char *const f[] = { "csrf", in->user->csrf, "err",
			v->err_form && strcmp(v->err_form, "country") == 0 ? " has-error" : "", NULL };
		const char *const none[] = { "v", "", "label",
			"None: only numbers written with + and the country code", NULL };
		page_add(out, tmpl_country_form, f);
		page_add(out, country == NULL ? tmpl_opt_sel : tmpl_opt, none);
		for (size_t i = 0; i < ARRAY_LEN(countries); i++) {
			const char *const o[] = { "v", countries[i].code, "label",
				arena_printf(a, "%s (%s)", countries[i].name, countries[i].code), NULL };
			if (!calcontact_country_known(countries[i].code))
				continue;
			page_add(out, country && strcmp(country, countries[i].code) == 0 ? tmpl_opt_sel
				: tmpl_opt, o);
		}
		if (country && country_name(country) == NULL) {
			const char *const o[] = { "v", country, "label", country, NULL };
			page_add(out, tmpl_opt_sel, o);
		}
		page_add(out, tmpl_country_end, NULL);
	}
	page_add(out, tmpl_section_end, NULL);

	page_add(out, tmpl_auto_open, NULL);
	{
		const char *const f[] = { "state", on ? "on" : "off", "since",
			row[2] ? arena_printf(a, " (changed %s by %s)", row[2], row[3] ? row[3] : "")
			       : "", NULL };
		page_add(out, tmpl_auto_state, f);
	}
	if (owner) {
		const char *const f[] = { "csrf", in->user->csrf, "to", on ? "off" : "on",
			"err",
			v->err_form && strcmp(v->err_form, "auto") == 0 ? " has-error" : "",
			"reason", v->reason ? v->reason : "",
			"btn", on ? "btn-primary" : "btn-danger",
			"label", on ? "Turn automatic confirmation off"
				    : "Turn automatic confirmation on", NULL };
		if (!on)
			page_add(out, tmpl_auto_warning, NULL);
		page_add(out, tmpl_auto_form, f);
	}
	page_add(out, tmpl_section_end, NULL);
	return 0;
}

static void render_calendars(struct app *app, const struct route_input *in, struct outcome *out,
	const struct cal_view *v)
{
	page_begin(out, "Calendars", "settings");
	page_add(out, tmpl_head, NULL);
	if (v->err_msg) {
		const char *const e[] = { "message", v->err_msg, NULL };
		out->status = 422;
		page_add(out, tmpl_err, e);
	}
	if (dash_calendar_notices(app, in, out) < 0 || render_feeds(app, in, out) < 0)
		goto failed;
	if (dash_settings_can_change(in)) {
		int blamed = v->err_form && strcmp(v->err_form, "add") == 0;
		int url_blamed = blamed && v->err_msg && strncmp(v->err_msg, "Address", 7) == 0;
		const char *const f[] = { "csrf", in->user->csrf, "name", v->name ? v->name : "",
			"name_err", blamed && !url_blamed ? " has-error" : "",
			"url_err", url_blamed ? " has-error" : "", NULL };
		page_add(out, tmpl_add, f);
	}
	page_add(out, tmpl_section_end, NULL);
	if (render_business_parts(app, in, out, v) < 0)
		goto failed;
	return;
failed:
	db_failed(in, out);
}

void dash_calendars_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct cal_view v;

	memset(&v, 0, sizeof(v));
	render_calendars(app, in, out, &v);
}

/* The page again with the message (422); nothing was changed. */
static void refuse(struct app *app, const struct route_input *in, struct outcome *out,
	struct cal_view *v, const char *form, const char *msg)
{
	v->err_form = form;
	v->err_msg = msg;
	render_calendars(app, in, out, v);
}

/* ---- POSTs on feeds ---------------------------------------------------------- */

/* Records a change in the business's audit stream (kind "settings"):
 * the feed's id and name, never its address. */
static void feed_audit(const struct route_input *in, struct outcome *out, const char *event,
	long long id, const char *name)
{
	dash_settings_audit(in, out, event, "feed_id", id, name ? "feed_name" : NULL, name);
}

void dash_calendar_add_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	const struct valid_value *f = in->form.v;
	struct cal_view v;
	const char *url, *problem;
	long long id;

	if (!owner_only(in, out))
		return;
	memset(&v, 0, sizeof(v));
	v.name = trimmed(a, f[DCAL_ADD_NAME].s);
	url = trimmed(a, f[DCAL_ADD_URL].s);
	problem = calendar_name_problem(v.name);
	if (problem == NULL)
		problem = calendar_url_problem(url, calendar_allow_http(app));
	if (problem) {
		refuse(app, in, out, &v, "add", problem);
		return;
	}
	id = calendar_feed_add(app->db, a, in->business, v.name, url, in->user->email);
	if (id < 0) {
		db_failed(in, out);
		return;
	}
	if (id == 0) {
		refuse(app, in, out, &v, "add",
			"Address: this calendar is already in the list. Nothing was added.");
		return;
	}
	feed_audit(in, out, "calendar_feed_added", id, v.name);
	page_redirect(out, "/settings/calendars?notice=feed_added#feeds");
}

/* Runs one statement on feed in->param_id of the business ($1 business,
 * $2 feed, then extra); the feed's name when it changed a row, "" when
 * the feed exists but was left as it was, NULL after answering (404,
 * 503). */
static const char *feed_change(struct app *app, const struct route_input *in,
	struct outcome *out, const char *name, const char *sql, const char *extra)
{
	struct arena *a = in->req->arena;
	const char *p[] = { in->business, arena_printf(a, "%lld", in->param_id), extra }, *row[2];
	int r = db_row_prepared(app->db, a, name, sql, extra ? 3 : 2, p, 2, row);

	if (r < 0) {
		db_failed(in, out);
		return NULL;
	}
	if (r == 0 || row[0] == NULL) {
		page_not_found(out);
		return NULL;
	}
	return row[1] ? row[0] : "";
}

void dash_calendar_remove_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	const char *name;

	if (!owner_only(in, out))
		return;
	name = feed_change(app, in, out, "dash_calendar_remove",
		"WITH d AS (DELETE FROM calendar_feeds WHERE business_id = $1::bigint"
		" AND id = $2::bigint RETURNING name) SELECT name, 'x' FROM d", NULL);
	if (name == NULL)
		return;
	feed_audit(in, out, "calendar_feed_removed", in->param_id, name);
	page_redirect(out, "/settings/calendars?notice=feed_removed#feeds");
}

void dash_calendar_enabled_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	const char *to = in->form.v[0].s ? in->form.v[0].s : "", *name;
	int on = strcmp(to, "on") == 0;

	if (!owner_only(in, out))
		return;
	if (!on && strcmp(to, "off") != 0) {
		page_error(out, 422, "Turn on or off", "enabled: say on or off. Nothing was changed.");
		return;
	}
	/* Turned on: read at once. */
	name = feed_change(app, in, out, "dash_calendar_enabled",
		"WITH u AS (UPDATE calendar_feeds SET enabled = $3::boolean,"
		"  next_poll_at = CASE WHEN $3::boolean AND NOT enabled THEN now() ELSE next_poll_at END"
		"  WHERE business_id = $1::bigint AND id = $2::bigint AND enabled <> $3::boolean"
		"  RETURNING name)"
		" SELECT f.name, (SELECT name FROM u) FROM calendar_feeds f"
		" WHERE f.business_id = $1::bigint AND f.id = $2::bigint", on ? "true" : "false");
	if (name == NULL)
		return;
	if (*name)
		feed_audit(in, out, on ? "calendar_feed_on" : "calendar_feed_off", in->param_id, name);
	page_redirect(out, "/settings/calendars?notice=saved#feeds");
}

void dash_calendar_sync_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	const char *name = feed_change(app, in, out, "dash_calendar_sync",
		"WITH u AS (UPDATE calendar_feeds SET next_poll_at = now()"
		"  WHERE business_id = $1::bigint AND id = $2::bigint AND enabled RETURNING name)"
		" SELECT f.name, (SELECT name FROM u) FROM calendar_feeds f"
		" WHERE f.business_id = $1::bigint AND f.id = $2::bigint", NULL);

	if (name == NULL)
		return;
	if (*name == '\0') {
		page_error(out, 409, "This calendar is off",
			"A calendar that is off is not read. Turn it on first (that syncs it at once)."
			" Nothing was changed.");
		return;
	}
	page_redirect(out, "/settings/calendars?notice=sync_requested#feeds");
}

/* ---- POSTs on the business ---------------------------------------------------- */

void dash_calendar_country_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	const char *c = trimmed(a, in->form.v[0].s), *p[2];
	struct cal_view v;

	if (!owner_only(in, out))
		return;
	memset(&v, 0, sizeof(v));
	if (*c && country_name(c) == NULL) {
		refuse(app, in, out, &v, "country", "Country: pick one from the list.");
		return;
	}
	p[0] = in->business;
	p[1] = c;
	if (db_cmd_prepared(app->db, "dash_calendar_country",
		    "UPDATE businesses SET country = NULLIF($2, '') WHERE id = $1::bigint", 2, p) < 0) {
		db_failed(in, out);
		return;
	}
	dash_settings_audit(in, out, "country_set", NULL, 0, "country", *c ? c : "none");
	page_redirect(out, "/settings/calendars?notice=saved#country");
}

void dash_calendar_auto_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	const char *to = trimmed(a, in->form.v[DCAL_AUTO_ON].s), *row[1];
	struct cal_view v;
	int on = strcmp(to, "on") == 0, r;

	if (!owner_only(in, out))
		return;
	memset(&v, 0, sizeof(v));
	v.reason = trimmed(a, in->form.v[DCAL_AUTO_REASON].s);
	if (!on && strcmp(to, "off") != 0) {
		refuse(app, in, out, &v, "auto", "Automatic confirmation: say on or off.");
		return;
	}
	if (*v.reason == '\0' || !valid_text(v.reason, 1000, NULL)) {
		refuse(app, in, out, &v, "auto", "Why: say why you change it (1 to 1000 characters on"
			" one line); it is kept with the change.");
		return;
	}
	{
		const char *p[] = { in->business, v.reason, in->user->email, on ? "true" : "false",
			on ? "auto_confirm_on" : "auto_confirm_off" };
		r = db_row_prepared(app->db, a, "dash_calendar_auto",
			"WITH c AS (UPDATE businesses SET auto_confirm_clients = $4::boolean"
			"  WHERE id = $1::bigint AND auto_confirm_clients <> $4::boolean RETURNING id),"
			" e AS (INSERT INTO business_events (business_id, event, reason, actor)"
			"  SELECT id, $5, $2, $3 FROM c)"
			" SELECT (SELECT count(*) FROM c)::text", 5, p, 1, row);
	}
	if (r != 1) {
		db_failed(in, out);
		return;
	}
	if (strcmp(row[0], "1") != 0) {
		refuse(app, in, out, &v, "auto", on ? "Automatic confirmation is already on."
						    : "Automatic confirmation is already off.");
		return;
	}
	dash_settings_audit(in, out, on ? "auto_confirm_on" : "auto_confirm_off", NULL, 0, "reason",
		v.reason);
	page_redirect(out, "/settings/calendars?notice=saved#auto-confirm");
}

/* ---- held changes ------------------------------------------------------------- */

static const char tmpl_hold_head[] =
	"<div class=\"page-head\"><h1>Held calendar changes</h1>"
	"<a class=\"btn\" href=\"/settings/calendars\">Calendars</a></div>\n"
	"<section class=\"card\"><dl class=\"facts\">"
	"<dt>Calendar</dt><dd>{{feed}}</dd>"
	"<dt>Held since</dt><dd>{{created}} (last checked {{updated}})</dd>"
	"<dt>Why</dt><dd>The sync {{reason}}.</dd>"
	"<dt>Would create</dt><dd data-count=\"creates\">{{creates}} reminders</dd>"
	"<dt>Would move</dt><dd data-count=\"reschedules\">{{reschedules}} reminders</dd>"
	"<dt>Would cancel</dt><dd data-count=\"cancels\">{{cancels}} reminders</dd>"
	"<dt>Limit</dt><dd>{{threshold}} changes in one sync</dd>"
	"<dt>Decision</dt><dd data-decision=\"{{decision_code}}\">{{decision}}</dd>"
	"</dl></section>\n";
static const char tmpl_hold_form[] =
	"<section class=\"card\" id=\"decide\"><h2>Decide</h2>\n"
	"<p>Approve applies exactly the calendar shown below at the next sync (a calendar that"
	" changed again since is checked afresh). Reject changes nothing and turns this calendar"
	" off until someone turns it on again.</p>\n"
	"<form method=\"post\" action=\"/calendar-holds/{{id}}\" class=\"form\">\n" PAGE_CSRF_INPUT
	"\n<input type=\"hidden\" name=\"seen\" value=\"{{seen}}\">\n<div class=\"field\"><label for=\"hold-reason\">Note (optional)</label>\n"
	"<input id=\"hold-reason\" name=\"reason\" type=\"text\" maxlength=\"500\"></div>\n"
	"<div class=\"form-actions\">"
	"<button type=\"submit\" name=\"decision\" value=\"approve\" class=\"btn btn-primary\">"
	"Approve the changes</button> "
	"<button type=\"submit\" name=\"decision\" value=\"reject\" class=\"btn btn-danger\">"
	"Reject and turn the calendar off</button></div>\n</form></section>\n";
static const char tmpl_preview_head[] =
	"<h2>What would change</h2>\n<p class=\"muted\">{{shown}}</p>\n"
	"<div class=\"table-wrap\"><table class=\"table\"><thead><tr>"
	"<th scope=\"col\">Change</th><th scope=\"col\">Event</th><th scope=\"col\">Client</th>"
	"<th scope=\"col\">From</th><th scope=\"col\">To</th></tr></thead><tbody>\n";
static const char tmpl_preview_row[] =
	"<tr><td data-label=\"Change\">{{action}}</td><td data-label=\"Event\">{{summary}}</td>"
	"<td data-label=\"Client\">{{client}}</td><td data-label=\"From\">{{from}}</td>"
	"<td data-label=\"To\">{{to}}</td></tr>\n";
static const char tmpl_table_end[] = "</tbody></table></div>\n";

static const char *action_words(const char *a)
{
	if (a && strcmp(a, "create") == 0)
		return "New";
	if (a && strcmp(a, "reschedule") == 0)
		return "Moved";
	if (a && strcmp(a, "cancel") == 0)
		return "Cancelled";
	return a ? a : "";
}

/* A preview time (RFC 3339 text, as the sync writes it) in the
 * business's zone, only when it is one; else as written. */
#define PREVIEW_TIME(x) \
	"CASE WHEN " x " ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?" \
	"(Z|[+-][0-9]{2}:?[0-9]{2})$' THEN to_char((" x ")::timestamptz AT TIME ZONE $3," \
	" 'Dy FMDD Mon YYYY, HH24:MI') ELSE " x " END"

void dash_calendar_hold_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	const char *p[] = { in->business, arena_printf(a, "%lld", in->param_id),
		in->user->business_tz };
	PGresult *h, *rows = NULL;
	const char *decision, *dcode;

	h = db_exec_prepared(app->db, "dash_calendar_hold",
		"SELECT h.id, f.name, to_char(h.created_at AT TIME ZONE $3, 'Dy FMDD Mon, HH24:MI'),"
		" to_char(h.updated_at AT TIME ZONE $3, 'Dy FMDD Mon, HH24:MI'), h.reason,"
		" h.creates, h.reschedules, h.cancels, h.threshold, h.decision, h.decided_by,"
		" to_char(h.decided_at AT TIME ZONE $3, 'Dy FMDD Mon, HH24:MI'),"
		" h.applied_at IS NOT NULL, jsonb_array_length(h.preview),"
		" h.creates + h.reschedules + h.cancels, h.content_sha256"
		" FROM calendar_holds h JOIN calendar_feeds f ON f.id = h.feed_id"
		"  AND f.business_id = h.business_id"
		" WHERE h.business_id = $1::bigint AND h.id = $2::bigint", 3, p);
	if (h == NULL)
		goto failed;
	if (PQntuples(h) != 1) {
		PQclear(h);
		page_not_found(out);
		return;
	}
	rows = db_exec_prepared(app->db, "dash_calendar_hold_preview",
		"SELECT x.action, x.summary, x.client, " PREVIEW_TIME("x.\"from\"") ", "
		PREVIEW_TIME("x.\"to\"")
		" FROM calendar_holds h, jsonb_to_recordset(h.preview) AS x(action text,"
		"  summary text, client text, \"from\" text, \"to\" text)"
		" WHERE h.business_id = $1::bigint AND h.id = $2::bigint LIMIT 200", 3, p);
	if (rows == NULL) {
		PQclear(h);
		goto failed;
	}
	if (col(h, 0, 9) == NULL) {
		decision = "Not decided yet";
		dcode = "open";
	} else {
		int appr = strcmp(PQgetvalue(h, 0, 9), "approved") == 0;
		dcode = PQgetvalue(h, 0, 9);
		decision = arena_printf(a, "%s by %s, %s%s", appr ? "Approved" : "Rejected",
			PQgetvalue(h, 0, 10), PQgetvalue(h, 0, 11),
			!appr ? " (the calendar was turned off)"
			: strcmp(PQgetvalue(h, 0, 12), "t") == 0 ? "; applied"
			: "; the next sync applies it");
	}
	page_begin(out, "Held calendar changes", "settings");
	{
		const char *const f[] = { "feed", PQgetvalue(h, 0, 1), "created", PQgetvalue(h, 0, 2),
			"updated", PQgetvalue(h, 0, 3), "reason", PQgetvalue(h, 0, 4),
			"creates", PQgetvalue(h, 0, 5), "reschedules", PQgetvalue(h, 0, 6),
			"cancels", PQgetvalue(h, 0, 7), "threshold", PQgetvalue(h, 0, 8),
			"decision", decision, "decision_code", dcode, NULL };
		page_add(out, tmpl_hold_head, f);
	}
	if (col(h, 0, 9) == NULL && dash_settings_can_change(in)) {
		const char *const f[] = { "id", PQgetvalue(h, 0, 0), "csrf", in->user->csrf, "seen",
			PQgetvalue(h, 0, 15), NULL };
		page_add(out, tmpl_hold_form, f);
	} else if (col(h, 0, 9) == NULL) {
		page_add(out, "<p class=\"muted\">Only an owner can approve or reject these changes.</p>\n",
			NULL);
	}
	{
		const char *const f[] = { "shown", arena_printf(a, "%d of %s changes shown (the"
			" sync keeps the first 200).", PQntuples(rows), PQgetvalue(h, 0, 14)), NULL };
		page_add(out, tmpl_preview_head, f);
	}
	for (int i = 0; i < PQntuples(rows); i++) {
		const char *const f[] = { "action", action_words(col(rows, i, 0)),
			"summary", col(rows, i, 1) ? col(rows, i, 1) : "",
			"client", col(rows, i, 2) ? col(rows, i, 2) : "",
			"from", col(rows, i, 3) ? col(rows, i, 3) : "–",
			"to", col(rows, i, 4) ? col(rows, i, 4) : "–", NULL };
		page_add(out, tmpl_preview_row, f);
	}
	page_add(out, tmpl_table_end, NULL);
	PQclear(h);
	PQclear(rows);
	return;
failed:
	db_failed(in, out);
}

void dash_calendar_hold_decide_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	const char *d = trimmed(a, in->form.v[DCAL_HOLD_DECISION].s);
	const char *reason = trimmed(a, in->form.v[DCAL_HOLD_REASON].s), *row[5];
	const char *seen = trimmed(a, in->form.v[DCAL_HOLD_SEEN].s);
	const char *p[5];
	int approve = strcmp(d, "approve") == 0, r;
	json_t *rec;

	if (!owner_only(in, out))
		return;
	if (!approve && strcmp(d, "reject") != 0) {
		page_error(out, 422, "Approve or reject",
			"Decision: pick Approve or Reject. Nothing was changed.");
		return;
	}
	if (!valid_text(reason, 500, NULL)) {
		page_error(out, 422, "The note is too long",
			"Note: at most 500 characters on one line. Nothing was changed.");
		return;
	}
	p[0] = in->business;
	p[1] = arena_printf(a, "%lld", in->param_id);
	p[2] = approve ? "approved" : "rejected";
	p[3] = in->user->email;
	p[4] = seen;
	/* One statement, so one transaction: the decision and, for a
	 * rejection, the feed turned off; an approval is applied at the next
	 * poll, which comes at once.  An approval names the preview it was
	 * given (seen): the sync refreshes an open hold at each poll, and
	 * changes nobody saw are not approved. */
	r = db_row_prepared(app->db, a, "dash_calendar_hold_decide",
		"WITH d AS (UPDATE calendar_holds SET decision = $3, decided_at = now(),"
		"  decided_by = $4, updated_at = now()"
		"  WHERE business_id = $1::bigint AND id = $2::bigint AND decision IS NULL"
		"  AND applied_at IS NULL AND ($3 = 'rejected' OR content_sha256 = $5) RETURNING feed_id),"
		" f AS (UPDATE calendar_feeds SET enabled = CASE WHEN $3 = 'rejected' THEN false"
		"  ELSE enabled END, next_poll_at = CASE WHEN $3 = 'approved' THEN now()"
		"  ELSE next_poll_at END"
		"  WHERE business_id = $1::bigint AND id IN (SELECT feed_id FROM d) RETURNING id)"
		" SELECT h.id::text, (SELECT count(*) FROM d)::text, h.decision, h.feed_id::text,"
		" (h.decision IS NULL AND h.applied_at IS NULL)::text"
		" FROM calendar_holds h WHERE h.business_id = $1::bigint AND h.id = $2::bigint",
		5, p, 5, row);
	if (r < 0) {
		db_failed(in, out);
		return;
	}
	if (r == 0) {
		page_not_found(out);
		return;
	}
	if (strcmp(row[1], "1") != 0 && strcmp(row[4], "true") == 0) {
		page_error(out, 409, "The held changes were checked again",
			"The sync looked at the calendar again since this page was shown, and what it"
			" would change may differ. Open the page again to see the changes now held."
			" Nothing was changed.");
		return;
	}
	if (strcmp(row[1], "1") != 0) {
		page_error(out, 409, "Already decided",
			"Someone decided these changes already (see the page again). Nothing was changed.");
		return;
	}
	rec = json_pack("{s:s, s:I, s:s, s:I, s:I, s:s}", "event",
		approve ? "calendar_hold_approved" : "calendar_hold_rejected", "by_user_id",
		(json_int_t)in->user->user_id, "by_email", in->user->email, "hold_id",
		(json_int_t)in->param_id, "feed_id", (json_int_t)strtoll(row[3], NULL, 10),
		"note", reason);
	if (rec) {
		out->audit_kind = "settings";
		out->audit = rec;
		out->business_id = in->business;
	}
	page_redirect(out, "/calendar-holds/%lld?notice=%s", in->param_id,
		approve ? "hold_approved" : "hold_rejected");
}

/* ---- events without a contact ------------------------------------------------- */

void dash_calendar_no_contact_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	const char *p[] = { in->business, in->user->business_tz };
	PGresult *res = db_exec_prepared(app->db, "dash_calendar_no_contact",
		"SELECT e.summary, to_char(e.starts_at AT TIME ZONE $2, 'Dy FMDD Mon, HH24:MI'),"
		" f.name, e.contact FROM calendar_events e JOIN calendar_feeds f ON f.id = e.feed_id"
		"  AND f.business_id = e.business_id"
		" WHERE e.business_id = $1::bigint AND e.state = 'no_contact'"
		" AND e.starts_at >= now() AND e.starts_at < now() + interval '7 days'"
		" ORDER BY e.starts_at, e.id LIMIT 501", 2, p);
	int n;

	if (res == NULL) {
		db_failed(in, out);
		return;
	}
	n = PQntuples(res);
	page_begin(out, "Events without a phone number", "today");
	page_add(out, "<div class=\"page-head\"><h1>Events without a phone number</h1>"
		"<a class=\"btn\" href=\"/settings/calendars\">Calendars</a></div>\n"
		"<p>Events of the next 7 days in which no client could be found, so nobody is"
		" reminded of them. Write the client's mobile number (or e-mail) in the event's"
		" title or description, or add the client here with the event's title as the name:"
		" the next sync finds them.</p>\n", NULL);
	if (n == 0) {
		page_add(out, "<p class=\"empty\">None: every event of the next 7 days has a"
			" client.</p>\n", NULL);
	} else {
		page_add(out, "<div class=\"table-wrap\"><table class=\"table\"><thead><tr>"
			"<th scope=\"col\">When</th><th scope=\"col\">Event</th>"
			"<th scope=\"col\">Calendar</th><th scope=\"col\">Why</th></tr></thead><tbody>\n",
			NULL);
		for (int i = 0; i < n && i < 500; i++) {
			const char *sum = PQgetvalue(res, i, 0), *why = PQgetvalue(res, i, 3);
			const char *const f[] = { "when", PQgetvalue(res, i, 1), "summary",
				*sum ? sum : "(no title)", "feed", PQgetvalue(res, i, 2), "why",
				*why ? why : "no phone number or e-mail in it", NULL };
			page_add(out, "<tr data-event><td data-label=\"When\">{{when}}</td>"
				"<td data-label=\"Event\">{{summary}}</td>"
				"<td data-label=\"Calendar\">{{feed}}</td>"
				"<td data-label=\"Why\">{{why}}</td></tr>\n", f);
		}
		page_add(out, tmpl_table_end, NULL);
		if (n > 500)
			page_add(out, "<p class=\"muted\">Only the first 500 are shown.</p>\n", NULL);
	}
	PQclear(res);
}

/* ---- confirming a client -------------------------------------------------------- */

void dash_client_confirm_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	enum calendar_confirm r = calendar_client_confirm(app->db, in->req->arena, in->business,
		in->param_id, in->user->email);

	switch (r) {
	case CALENDAR_CONFIRM_DB:
		db_failed(in, out);
		return;
	case CALENDAR_CONFIRM_NOT_FOUND:
		page_not_found(out);
		return;
	case CALENDAR_CONFIRM_NOT_PROPOSED:
		page_error(out, 409, "Nothing to confirm",
			"This client was added by a person, not proposed from a calendar: it needs no"
			" confirmation. Nothing was changed.");
		return;
	case CALENDAR_CONFIRM_DONE:
		dash_settings_audit(in, out, "client_confirmed", "client_id", in->param_id, NULL,
			NULL);
		break;
	case CALENDAR_CONFIRM_ALREADY:
		break;
	}
	page_redirect(out, "/clients/%lld?notice=client_confirmed", in->param_id);
}

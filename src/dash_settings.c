/* dash_settings: the dashboard's settings page; see include/dash_settings.h. */
#include "dash_settings.h"
#include "app.h"
#include "arena.h"
#include "buf.h"
#include "config.h"
#include "dash_booking.h"
#include "db.h"
#include "engine.h"
#include "http.h"
#include "msgswitch.h"
#include "page.h"
#include "phone.h"
#include "session.h"
#include "util.h"
#include "valid.h"
#include "wording.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every field is read as text and checked by the handler, so that a bad
 * value re-renders the form with what was typed (422) instead of a bare
 * refusal from the dispatcher. */
const struct valid_field dash_settings_business_fields[DS_BIZ_NFIELDS] = {
	[DS_BIZ_NAME] = { "name", valid_any, 0, VALID_TEXT },
	[DS_BIZ_TZ] = { "time_zone", valid_any, 0, VALID_TEXT },
	[DS_BIZ_WSTART] = { "window_start", valid_any, 0, VALID_TEXT },
	[DS_BIZ_WEND] = { "window_end", valid_any, 0, VALID_TEXT },
	[DS_BIZ_CALLBACK] = { "callback_phone", valid_any, 0, VALID_TEXT },
	[DS_BIZ_AMD] = { "machine_detection", valid_any, 0, VALID_TEXT },
};
const struct valid_field dash_settings_policy_fields[DS_POL_NFIELDS] = {
	[DS_POL_CHANNEL] = { "channel", valid_any, 0, VALID_TEXT },
	[DS_POL_OFFSET] = { "offset", valid_any, 0, VALID_TEXT },
	[DS_POL_OFFSET_UNIT] = { "offset_unit", valid_any, 0, VALID_TEXT },
	[DS_POL_STALE] = { "stale", valid_any, 0, VALID_TEXT },
	[DS_POL_STALE_UNIT] = { "stale_unit", valid_any, 0, VALID_TEXT },
};
const struct valid_field dash_settings_wording_fields[DS_WORD_NFIELDS] = {
	[DS_WORD_GREETING] = { "greeting", valid_any, 0, VALID_TEXT },
	[DS_WORD_CLOSING] = { "closing", valid_any, 0, VALID_TEXT },
	[DS_WORD_DO] = { "do", valid_any, 0, VALID_TEXT },
};

/* What the page shows in each form: the stored values, or on a refused
 * POST what was typed, with the message naming the field. */
struct biz_form {
	const char *name, *tz, *wstart, *wend, *callback;
	int amd;
};
struct policy_form {
	const char *channel, *offset, *offset_unit, *stale, *stale_unit;
};
struct wording_form {
	const char *greeting, *closing;
	int unsaved;                 /* a preview of lines not stored */
};
struct settings_view {
	struct biz_form biz;
	struct policy_form pol;
	struct wording_form word;
	const char *shown_name;      /* the stored name and callback number, which the */
	const char *shown_callback;  /* preview uses whatever the form holds, */
	const char *shown_tz;        /* and the stored zone */
	const char *err_field;       /* the field a refused POST blames, or NULL */
	const char *err_msg;
};

int dash_settings_can_change(const struct route_input *in)
{
	return in->user && in->user->role && strcmp(in->user->role, "staff") != 0;
}

void dash_settings_audit(const struct route_input *in, struct outcome *out, const char *event,
	const char *member, long long id, const char *detail, const char *value)
{
	json_t *rec = json_pack("{s:s, s:I, s:s}", "event", event, "by_user_id",
		(json_int_t)in->user->user_id, "by_email", in->user->email);

	if (rec == NULL)
		return;
	if (member)
		json_object_set_new(rec, member, json_integer(id));
	if (detail && value)
		json_object_set_new(rec, detail, json_string(value));
	out->audit_kind = "settings";
	out->audit = rec;
	out->business_id = in->business;
}

/* The 403 page of a staff member's POST. */
static void refuse_staff(struct outcome *out)
{
	page_error(out, 403, "Only an owner can change this",
		"Your login can see the settings but not change them. Nothing was changed.");
}

const char *dash_settings_minutes_words(struct arena *a, long long m)
{
	if (m != 0 && m % 1440 == 0)
		return arena_printf(a, "%lld day%s", m / 1440, m == 1440 ? "" : "s");
	if (m != 0 && m % 60 == 0)
		return arena_printf(a, "%lld hour%s", m / 60, m == 60 ? "" : "s");
	return arena_printf(a, "%lld minute%s", m, m == 1 ? "" : "s");
}

static const char *channel_words(const char *c)
{
	return strcmp(c, "voice") == 0 ? "Phone call" : strcmp(c, "sms") == 0 ? "Text message"
		: strcmp(c, "email") == 0 ? "Email" : c;
}

/* Trimmed copy of s in a (NULL: ""). */
static char *trimmed(struct arena *a, const char *s)
{
	size_t n;
	if (s == NULL)
		return arena_strdup(a, "");
	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return arena_strndup(a, s, n);
}

/* Minutes since midnight of "HH:MM" (or "HH:MM:SS" as some browsers send
 * it), or -1. */
static int parse_hhmm(const char *s)
{
	int h, m, sec = 0, n = 0;
	size_t len = strlen(s);

	if (len == 5) {
		if (sscanf(s, "%2d:%2d%n", &h, &m, &n) != 2 || n != 5)
			return -1;
	} else if (len == 8) {
		if (sscanf(s, "%2d:%2d:%2d%n", &h, &m, &sec, &n) != 3 || n != 8 || sec != 0)
			return -1;
	} else {
		return -1;
	}
	if (!(s[0] >= '0' && s[0] <= '9') || h < 0 || h > 23 || m < 0 || m > 59)
		return -1;
	return h * 60 + m;
}

/* ---- reading -------------------------------------------------------- */

/* The stored business into v->biz and the stored wording into v->word.
 * 1, 0 (no such business), -1 (database). */
static int load_view(struct app *app, const struct route_input *in, struct settings_view *v)
{
	const char *p[1] = { in->business }, *row[5];
	struct wording w;
	int r;

	r = db_row_prepared(app->db, in->req->arena, "dash_settings_business",
		"SELECT name, time_zone, to_char(window_start, 'HH24:MI'),"
		" to_char(window_end, 'HH24:MI'), callback_phone"
		" || CASE WHEN machine_detection THEN '+' ELSE '-' END"
		" FROM businesses WHERE id = $1::bigint", 1, p, 5, row);
	if (r != 1)
		return r;
	v->biz.name = row[0];
	v->biz.tz = row[1];
	v->biz.wstart = row[2];
	v->biz.wend = row[3];
	/* The flag rides on the phone's last character: one row, five columns. */
	v->biz.amd = row[4][strlen(row[4]) - 1] == '+';
	v->biz.callback = arena_strndup(in->req->arena, row[4], strlen(row[4]) - 1);
	v->shown_name = v->biz.name;
	v->shown_callback = v->biz.callback;
	v->shown_tz = v->biz.tz;
	if (wording_load(app->db, in->req->arena, in->business_id, &w) < 0)
		return -1;
	v->word.greeting = w.greeting;
	v->word.closing = w.closing;
	return 1;
}

/* ---- rendering ------------------------------------------------------ */

static const char tmpl_error_top[] =
	"<p class=\"alert\" role=\"alert\">{{message}}</p>\n";
static const char tmpl_field_error[] =
	"<p class=\"field-error\" id=\"{{id}}-error\">{{message}}</p>\n";

static const char tmpl_field_open[] = "<div class=\"field\">\n";
static const char tmpl_field_open_err[] = "<div class=\"field has-error\">\n";
static const char tmpl_div_end[] = "</div>\n";

/* Opens the field name's wrapper (marked when the refused POST blamed it). */
static void field_open(struct outcome *out, const struct settings_view *v, const char *name)
{
	int blamed = v->err_field && strcmp(v->err_field, name) == 0;
	page_add(out, blamed ? tmpl_field_open_err : tmpl_field_open, NULL);
}

/* Closes it, with the message under the field when it was blamed. */
static void field_close(struct outcome *out, const struct settings_view *v, const char *name)
{
	if (v->err_field && strcmp(v->err_field, name) == 0) {
		const char *const f[] = { "id", name, "message", v->err_msg, NULL };
		page_add(out, tmpl_field_error, f);
	}
	page_add(out, tmpl_div_end, NULL);
}

static const char tmpl_intro[] =
	"<h1>Settings</h1>\n"
	"<p class=\"muted\">{{who}}</p>\n"
	"<nav class=\"row\" aria-label=\"Settings\">"
	"<a href=\"#automatic-messages\">Automatic messages</a>"
	"<a href=\"#business\">Business</a>"
	"<a href=\"#policy\">Reminder policy</a>"
	"<a href=\"#booking\">Booking confirmation</a>"
	"<a href=\"#wording\">Message wording</a>"
	"<a href=\"/settings/calendars\">Calendars</a>"
	"<a href=\"/settings/greeting\">Greeting</a>"
	"<a href=\"/settings/api-keys\">API keys</a>"
	"<a href=\"/settings/users\">Users</a>"
	"<a href=\"/settings/notifications\">My notifications</a>"
	"<a href=\"/settings/sessions\">Sessions</a>"
	"<a href=\"/account/password\">Change password</a>"
	"</nav>\n";

static const char tmpl_biz_ro[] =
	"<section class=\"card\" id=\"business\"><h2>Business</h2>\n<dl class=\"facts\">"
	"<dt>Name</dt><dd>{{name}}</dd>"
	"<dt>Time zone</dt><dd>{{tz}}</dd>"
	"<dt>Calling window</dt><dd>{{wstart}} to {{wend}} in each client's time zone</dd>"
	"<dt>Callback number</dt><dd>{{callback}}</dd>"
	"<dt>Answering-machine detection</dt><dd>{{amd}}</dd>"
	"</dl></section>\n";

static const char tmpl_biz_open[] =
	"<section class=\"card\" id=\"business\"><h2>Business</h2>\n"
	"<form method=\"post\" action=\"/settings/business\" class=\"form\">\n" PAGE_CSRF_INPUT "\n";
static const char tmpl_biz_name[] =
	"<label for=\"name\">Business name</label>\n"
	"<input type=\"text\" id=\"name\" name=\"name\" value=\"{{name}}\" maxlength=\"200\""
	" required>\n";
static const char tmpl_biz_tz_open[] =
	"<label for=\"time_zone\">Time zone</label>\n"
	"<select id=\"time_zone\" name=\"time_zone\">\n";
static const char tmpl_option[] = "<option value=\"{{v}}\">{{v}}</option>\n";
static const char tmpl_option_sel[] = "<option value=\"{{v}}\" selected>{{v}}</option>\n";
static const char tmpl_select_end[] = "</select>\n";
static const char tmpl_biz_window[] =
	"<fieldset><legend>Calling window</legend>\n"
	"<p class=\"hint\">Calls and texts go out only between these times, in each client's"
	" own time zone (the business's when the client has none).</p>\n";
static const char tmpl_biz_wstart[] =
	"<label for=\"window_start\">From</label>\n"
	"<input id=\"window_start\" name=\"window_start\" type=\"time\" value=\"{{wstart}}\""
	" required>\n";
static const char tmpl_biz_wend[] =
	"<label for=\"window_end\">Until</label>\n"
	"<input id=\"window_end\" name=\"window_end\" type=\"time\" value=\"{{wend}}\" required>\n";
static const char tmpl_fieldset_end[] = "</fieldset>\n";
static const char tmpl_biz_callback[] =
	"<label for=\"callback_phone\">Callback number</label>\n"
	"<input id=\"callback_phone\" name=\"callback_phone\" type=\"tel\" value=\"{{callback}}\""
	" required>\n"
	"<p class=\"hint\">The number reminders ask clients to call, with the country code,"
	" e.g. +1 555 010 0123.</p>\n";
static const char tmpl_biz_amd[] =
	"<div class=\"field\"><label class=\"check\"><input type=\"checkbox\""
	" name=\"machine_detection\" value=\"on\"> Answering-machine detection</label>\n";
static const char tmpl_biz_amd_on[] =
	"<div class=\"field\"><label class=\"check\"><input type=\"checkbox\""
	" name=\"machine_detection\" value=\"on\" checked> Answering-machine detection</label>\n";
static const char tmpl_biz_close[] =
	"<p class=\"hint\">With detection on, Twilio tells ringfence when a machine answers and"
	" the voicemail message plays at once. Without it, a call nobody answers with a key"
	" within 5 seconds gets the same message.</p></div>\n"
	"<div class=\"form-actions\"><button type=\"submit\" class=\"btn btn-primary\">Save"
	" business settings</button></div>\n"
	"</form></section>\n";

/* The business part: a form, or for staff the facts. */
static int render_business(struct app *app, const struct route_input *in,
	struct outcome *out, const struct settings_view *v)
{
	const struct biz_form *b = &v->biz;
	PGresult *res;

	if (!dash_settings_can_change(in)) {
		const char *const f[] = { "name", b->name, "tz", b->tz, "wstart", b->wstart,
			"wend", b->wend, "callback", b->callback, "amd", b->amd ? "on" : "off",
			NULL };
		page_add(out, tmpl_biz_ro, f);
		return 0;
	}
	/* The zones people pick from: the named zones of the tz database
	 * (the check constraint accepts those only), without the legacy
	 * aliases. */
	res = db_exec_prepared(app->db, "dash_settings_zones",
		"SELECT name FROM pg_timezone_names"
		" WHERE name = 'UTC' OR name ~ '^(Africa|America|Antarctica|Arctic|Asia|Atlantic|"
		"Australia|Europe|Indian|Pacific)/'"
		" ORDER BY name", 0, NULL);
	if (res == NULL)
		return -1;
	{
		const char *const f[] = { "csrf", in->user->csrf, NULL };
		const char *const fn[] = { "name", b->name, NULL };
		page_add(out, tmpl_biz_open, f);
		field_open(out, v, "name");
		page_add(out, tmpl_biz_name, fn);
		field_close(out, v, "name");
	}
	field_open(out, v, "time_zone");
	page_add(out, tmpl_biz_tz_open, NULL);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *z = PQgetvalue(res, i, 0);
		const char *const f[] = { "v", z, NULL };
		page_add(out, strcmp(z, b->tz) == 0 ? tmpl_option_sel : tmpl_option, f);
	}
	PQclear(res);
	page_add(out, tmpl_select_end, NULL);
	field_close(out, v, "time_zone");
	page_add(out, tmpl_biz_window, NULL);
	{
		const char *const f[] = { "wstart", b->wstart, NULL };
		field_open(out, v, "window_start");
		page_add(out, tmpl_biz_wstart, f);
		field_close(out, v, "window_start");
	}
	{
		const char *const f[] = { "wend", b->wend, NULL };
		field_open(out, v, "window_end");
		page_add(out, tmpl_biz_wend, f);
		field_close(out, v, "window_end");
	}
	page_add(out, tmpl_fieldset_end, NULL);
	{
		const char *const f[] = { "callback", b->callback, NULL };
		field_open(out, v, "callback_phone");
		page_add(out, tmpl_biz_callback, f);
		field_close(out, v, "callback_phone");
	}
	page_add(out, b->amd ? tmpl_biz_amd_on : tmpl_biz_amd, NULL);
	page_add(out, tmpl_biz_close, NULL);
	return 0;
}

static const char tmpl_pol_open[] =
	"<section class=\"card\" id=\"policy\"><h2>Reminder policy</h2>\n"
	"<p class=\"hint\">Each line is one reminder before every appointment. A change applies"
	" to appointments booked or rescheduled after it; reminders already planned keep the"
	" policy they were planned with.</p>\n";
static const char tmpl_pol_default[] =
	"<p>No lines yet, so the default policy applies: a phone call 24 hours before and a"
	" text message 2 hours before. Adding a line replaces the default.</p>\n";
static const char tmpl_pol_table[] =
	"<div class=\"table-wrap\"><table class=\"table\"><thead><tr><th scope=\"col\">Channel</th><th scope=\"col\">When</th>"
	"<th scope=\"col\">Not sent if late by more than</th><th scope=\"col\"></th></tr></thead><tbody>\n";
static const char tmpl_pol_row[] =
	"<tr><td data-label=\"Channel\">{{channel}}</td>"
	"<td data-label=\"When\">{{offset}} before</td>"
	"<td data-label=\"Not sent if late by more than\">{{stale}}</td><td></td></tr>\n";
static const char tmpl_pol_row_rm[] =
	"<tr><td data-label=\"Channel\">{{channel}}</td>"
	"<td data-label=\"When\">{{offset}} before</td>"
	"<td data-label=\"Not sent if late by more than\">{{stale}}</td>"
	"<td><form method=\"post\" action=\"/settings/policy/{{id}}/remove\" class=\"inline-form\""
	" data-confirm=\"Remove this reminder line?\">" PAGE_CSRF_INPUT
	"<button type=\"submit\" class=\"btn btn-danger btn-small\">Remove</button></form></td></tr>\n";
static const char tmpl_pol_table_end[] = "</tbody></table></div>\n";
static const char tmpl_pol_form[] =
	"<form method=\"post\" action=\"/settings/policy\" class=\"form\">\n" PAGE_CSRF_INPUT "\n"
	"<h3>Add a line</h3>\n";
static const char tmpl_pol_channel[] =
	"<label for=\"channel\">Channel</label>\n"
	"<select id=\"channel\" name=\"channel\">\n";
static const char tmpl_pol_offset[] =
	"<label for=\"offset\">How long before the appointment</label>\n"
	"<div class=\"row\"><input type=\"number\" id=\"offset\" name=\"offset\" min=\"0\""
	" value=\"{{offset}}\" required>\n"
	"<select name=\"offset_unit\" aria-label=\"Unit\">\n";
static const char tmpl_pol_stale[] =
	"<label for=\"stale\">Not sent if it is late by more than</label>\n"
	"<div class=\"row\"><input type=\"number\" id=\"stale\" name=\"stale\" min=\"1\""
	" value=\"{{stale}}\" required>\n"
	"<select name=\"stale_unit\" aria-label=\"Unit\">\n";
static const char tmpl_select_row_end[] = "</select></div>\n";
static const char tmpl_pol_close[] =
	"<div class=\"form-actions\"><button type=\"submit\" class=\"btn btn-primary\">Add"
	" line</button></div>\n</form>\n";
static const char tmpl_section_end[] = "</section>\n";
static const char tmpl_opt_label[] = "<option value=\"{{v}}\">{{label}}</option>\n";
static const char tmpl_opt_label_sel[] =
	"<option value=\"{{v}}\" selected>{{label}}</option>\n";

/* Options value/label pairs with sel selected. */
static void options(struct outcome *out, const char *const *pairs, const char *sel)
{
	for (size_t i = 0; pairs[i]; i += 2) {
		const char *const f[] = { "v", pairs[i], "label", pairs[i + 1], NULL };
		page_add(out, sel && strcmp(sel, pairs[i]) == 0 ? tmpl_opt_label_sel
								  : tmpl_opt_label, f);
	}
}

static const char *const channel_opts[] = { "voice", "Phone call", "sms", "Text message",
	"email", "Email", NULL };
static const char *const offset_units[] = { "minutes", "minutes", "hours", "hours", "days",
	"days", NULL };
static const char *const stale_units[] = { "minutes", "minutes", "hours", "hours", NULL };

static int render_policy(struct app *app, const struct route_input *in, struct outcome *out,
	const struct settings_view *v)
{
	const char *p[1] = { in->business };
	int can = dash_settings_can_change(in);
	PGresult *res = db_exec_prepared(app->db, "dash_settings_policy",
		"SELECT id, channel, offset_minutes, stale_after_minutes FROM reminder_policies"
		" WHERE business_id = $1::bigint ORDER BY offset_minutes DESC, channel, id", 1, p);

	if (res == NULL)
		return -1;
	page_add(out, tmpl_pol_open, NULL);
	if (PQntuples(res) == 0) {
		page_add(out, tmpl_pol_default, NULL);
	} else {
		page_add(out, tmpl_pol_table, NULL);
		for (int i = 0; i < PQntuples(res); i++) {
			const char *const f[] = { "id", PQgetvalue(res, i, 0),
				"channel", channel_words(PQgetvalue(res, i, 1)),
				"offset", dash_settings_minutes_words(in->req->arena,
					strtoll(PQgetvalue(res, i, 2), NULL, 10)),
				"stale", dash_settings_minutes_words(in->req->arena,
					strtoll(PQgetvalue(res, i, 3), NULL, 10)),
				"csrf", in->user->csrf, NULL };
			page_add(out, can ? tmpl_pol_row_rm : tmpl_pol_row, f);
		}
		page_add(out, tmpl_pol_table_end, NULL);
	}
	PQclear(res);
	if (can) {
		const char *const f0[] = { "csrf", in->user->csrf, NULL };
		const char *const f1[] = { "offset", v->pol.offset, NULL };
		const char *const f2[] = { "stale", v->pol.stale, NULL };
		page_add(out, tmpl_pol_form, f0);
		field_open(out, v, "channel");
		page_add(out, tmpl_pol_channel, NULL);
		options(out, channel_opts, v->pol.channel);
		page_add(out, tmpl_select_end, NULL);
		field_close(out, v, "channel");
		field_open(out, v, "offset");
		page_add(out, tmpl_pol_offset, f1);
		options(out, offset_units, v->pol.offset_unit);
		page_add(out, tmpl_select_row_end, NULL);
		field_close(out, v, "offset");
		field_open(out, v, "stale");
		page_add(out, tmpl_pol_stale, f2);
		options(out, stale_units, v->pol.stale_unit);
		page_add(out, tmpl_select_row_end, NULL);
		field_close(out, v, "stale");
		page_add(out, tmpl_pol_close, NULL);
	}
	page_add(out, tmpl_section_end, NULL);
	return 0;
}

static const char tmpl_word_open[] =
	"<section class=\"card\" id=\"wording\"><h2>Message wording</h2>\n"
	"<p class=\"hint\">Texts and emails start with your greeting and end with your closing"
	" line; the appointment's date and time sit between them, and the way to stop reminders"
	" is always added. You may use {business}, {date}, {time} and {callback} ({business} in"
	" at least one of the two, so people know who writes); nothing else"
	" about a client or an appointment (never its notes) is ever sent. Calls use recorded"
	" prompts and speak only the business name, date, time and callback number.</p>\n"
	"<p class=\"hint\">A text must fit in 2 SMS segments with the longest business name"
	" (30 characters in a text), date and callback number, so keep the two lines short and"
	" to the GSM alphabet (one emoji, or a letter outside it, makes every segment less"
	" than half as long). Do not ask people to text STOP, CANCEL, END, QUIT, START, HELP"
	" or INFO for anything else than what their phone company does with them: CANCEL, for"
	" one, stops every text. The text already says which replies work (1 to confirm, 2 to"
	" cancel, 3 for a call back, 4 to reschedule) and how to stop texts.</p>\n";
static const char tmpl_word_ro[] =
	"<dl class=\"facts\"><dt>Greeting</dt><dd>{{greeting}}</dd>"
	"<dt>Closing line</dt><dd>{{closing}}</dd></dl>\n";
static const char tmpl_word_form[] =
	"<form method=\"post\" action=\"/settings/wording\" class=\"form\">\n" PAGE_CSRF_INPUT "\n";
static const char tmpl_word_greeting[] =
	"<label for=\"greeting\">Greeting</label>\n"
	"<input type=\"text\" id=\"greeting\" name=\"greeting\" value=\"{{greeting}}\""
	" maxlength=\"160\" required>\n";
static const char tmpl_word_closing[] =
	"<label for=\"closing\">Closing line</label>\n"
	"<input type=\"text\" id=\"closing\" name=\"closing\" value=\"{{closing}}\""
	" maxlength=\"160\" required>\n";
static const char tmpl_word_buttons[] =
	"<div class=\"form-actions\">"
	"<button type=\"submit\" name=\"do\" value=\"preview\" class=\"btn\">Preview</button>\n"
	"<button type=\"submit\" name=\"do\" value=\"save\" class=\"btn btn-primary\">Save"
	" wording</button></div>\n</form>\n";
static const char tmpl_preview_unsendable[] =
	"<p class=\"alert\" role=\"alert\">Texts cannot be sent with this wording: {{why}}. Change"
	" the greeting or the closing line.</p>\n";
static const char tmpl_preview_unsaved[] =
	"<p class=\"alert-info\">This preview shows wording that is not saved yet.</p>\n";
static const char tmpl_preview[] =
	"<h3>Preview</h3>\n"
	"<p class=\"hint\">For a sample appointment on {{date}} at {{time}}, built by the same"
	" code that builds the real messages.</p>\n"
	"<h4>Text message</h4>\n<pre class=\"code\">{{sms}}</pre>\n"
	"<p class=\"muted\">{{sms_count}}</p>\n"
	"<h4>Booking confirmation text (when it is turned on)</h4>\n"
	"<pre class=\"code\">{{booking}}</pre>\n"
	"<h4>Email</h4>\n<p>Subject: {{subject}}</p>\n<pre class=\"code\">{{email}}</pre>\n"
	"<h4>Call: the voicemail message (TwiML)</h4>\n<pre class=\"code\">{{twiml}}</pre>\n"
	"<h4>Call: the menu after pressing 1 (TwiML)</h4>\n<pre class=\"code\">{{menu}}</pre>\n";

/* "153 characters, 1 segment (GSM-7)" in words. */
static const char *segments_words(struct arena *a, const char *sms)
{
	struct wording_segments sg;

	wording_sms_segments(sms, &sg);
	return arena_printf(a, "%d %s, %d segment%s (%s: %s per segment)", sg.units,
		sg.ucs2 ? "UTF-16 units" : "characters", sg.segments, sg.segments == 1 ? "" : "s",
		sg.ucs2 ? "UCS-2, because of a character outside the GSM alphabet"
			: "GSM-7",
		sg.ucs2 ? "70 in one, 67 when split" : "160 in one, 153 when split");
}

/* The preview of v's wording for a sample appointment tomorrow at 14:30 in
 * the business's zone, written like the worker's claim writes dates. */
static int render_preview(struct app *app, const struct route_input *in, struct outcome *out,
	const struct settings_view *v)
{
	struct arena *a = in->req->arena;
	const char *p[1] = { v->shown_tz }, *row[2];
	struct wording w = { v->word.greeting, v->word.closing };
	struct wording_values vals;
	struct buf html, twiml, menu;
	const char *sms, *booking, *text, *subject, *link;
	char why[200];
	int r;

	r = db_row_prepared(app->db, a, "dash_settings_sample",
		"SELECT to_char(d, 'FMDay, FMMonth FMDD'), to_char(d, 'FMHH12:MI AM') FROM"
		" (SELECT date_trunc('day', now() AT TIME ZONE $1) + interval '1 day 14 hours"
		" 30 minutes' AS d) s", 1, p, 2, row);
	if (r != 1)
		return -1;
	vals.business = v->shown_name;
	vals.date = row[0];
	vals.time = row[1];
	vals.callback = v->shown_callback;
	link = arena_printf(a, "%s/unsubscribe?t=sample", app->cfg.public_url ? app->cfg.public_url : "");
	sms = wording_sms(a, &w, &vals, why, sizeof(why));
	booking = wording_message_sms(a, WORDING_BOOKING, &w, &vals, why, sizeof(why));
	text = wording_email_text(a, &w, &vals, link);
	subject = wording_email_subject(a, &w, &vals);
	buf_init_arena(&html, a);
	if ((sms == NULL || booking == NULL) && text != NULL) {
		/* Stored lines from before the segment rule: say so, as the
		 * worker records it and sends nothing. */
		const char *const f[] = { "why", why, NULL };
		page_add(out, tmpl_preview_unsendable, f);
		return 0;
	}
	if (sms == NULL || text == NULL || subject == NULL ||
		wording_email_html(a, &html, &w, &vals, link) < 0)
		return 0; /* lines that do not pass: the form says why */
	buf_init_arena(&twiml, a);
	buf_init_arena(&menu, a);
	{
		const char *const fv[4] = { vals.business, vals.date, vals.time, vals.callback };
		if (app->engine == NULL ||
			engine_render_preview(app->engine, a, "reminder_call", "machine_message", fv,
				&twiml) < 0 ||
			engine_render_preview(app->engine, a, "reminder_call", "details", fv, &menu) < 0)
			return -1;
	}
	if (v->word.unsaved)
		page_add(out, tmpl_preview_unsaved, NULL);
	{
		const char *const f[] = { "date", vals.date, "time", vals.time, "sms", sms,
			"sms_count", segments_words(a, sms), "booking", booking, "subject", subject,
			"email", text,
			"twiml", buf_str(&twiml), "menu", buf_str(&menu), NULL };
		page_add(out, tmpl_preview, f);
	}
	return 0;
}

static int render_wording(struct app *app, const struct route_input *in, struct outcome *out,
	const struct settings_view *v)
{
	page_add(out, tmpl_word_open, NULL);
	if (!dash_settings_can_change(in)) {
		const char *const f[] = { "greeting", v->word.greeting, "closing", v->word.closing,
			NULL };
		page_add(out, tmpl_word_ro, f);
	} else {
		const char *const f1[] = { "csrf", in->user->csrf, "greeting", v->word.greeting,
			NULL };
		const char *const f2[] = { "closing", v->word.closing, NULL };
		page_add(out, tmpl_word_form, f1);
		field_open(out, v, "greeting");
		page_add(out, tmpl_word_greeting, f1);
		field_close(out, v, "greeting");
		field_open(out, v, "closing");
		page_add(out, tmpl_word_closing, f2);
		field_close(out, v, "closing");
		page_add(out, tmpl_word_buttons, NULL);
	}
	if (render_preview(app, in, out, v) < 0)
		return -1;
	page_add(out, tmpl_section_end, NULL);
	return 0;
}

/* The whole page from v; status 422 when v carries a refusal. */
static void render_page(struct app *app, const struct route_input *in, struct outcome *out,
	struct settings_view *v)
{
	const char *who = dash_settings_can_change(in)
		? "You can change these settings."
		: "Your login can see these settings; only an owner can change them.";
	const char *const f[] = { "who", who, NULL };

	page_begin(out, "Settings", "settings");
	page_add(out, tmpl_intro, f);
	if (v->err_msg) {
		const char *const e[] = { "message", v->err_msg, NULL };
		out->status = 422;
		page_add(out, tmpl_error_top, e);
	}
	if (msgswitch_render_card(app, in, out) < 0 ||
		render_business(app, in, out, v) < 0 || render_policy(app, in, out, v) < 0 ||
		dash_booking_render(app, in, out) < 0 ||
		render_wording(app, in, out, v) < 0)
		page_unavailable(out);
}

/* The stored view, the policy form's defaults filled in.  1, or 0 after
 * answering (404, 503). */
static int stored_view(struct app *app, const struct route_input *in, struct outcome *out,
	struct settings_view *v)
{
	int r;

	memset(v, 0, sizeof(*v));
	v->pol.channel = "sms";
	v->pol.offset = "24";
	v->pol.offset_unit = "hours";
	v->pol.stale = "2";
	v->pol.stale_unit = "hours";
	r = load_view(app, in, v);
	if (r < 0)
		page_unavailable(out);
	else if (r == 0)
		page_not_found(out);
	return r == 1;
}

void dash_settings_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct settings_view v;

	if (stored_view(app, in, out, &v))
		render_page(app, in, out, &v);
}

/* Refuses with the message naming field: the page again, 422. */
static void refuse(struct app *app, const struct route_input *in, struct outcome *out,
	struct settings_view *v, const char *field, const char *msg)
{
	v->err_field = field;
	v->err_msg = msg;
	render_page(app, in, out, v);
}

/* The start of a POST that changes the settings: a staff member's is
 * refused (403), then v gets the stored view.  1 to go on, or 0 after
 * answering. */
static int change_begin(struct app *app, const struct route_input *in, struct outcome *out,
	struct settings_view *v)
{
	if (!dash_settings_can_change(in)) {
		refuse_staff(out);
		return 0;
	}
	return stored_view(app, in, out, v);
}

void dash_settings_business_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	const struct valid_value *f = in->form.v;
	struct settings_view v;
	char phone[PHONE_E164_SIZE], ok_tz[8] = "";
	const char *p[7], *row[1];
	enum phone_error pe;
	int ws, we, r;
	PGresult *res;

	if (!change_begin(app, in, out, &v))
		return;
	v.biz.name = trimmed(a, f[DS_BIZ_NAME].s);
	v.biz.tz = trimmed(a, f[DS_BIZ_TZ].s);
	v.biz.wstart = trimmed(a, f[DS_BIZ_WSTART].s);
	v.biz.wend = trimmed(a, f[DS_BIZ_WEND].s);
	v.biz.callback = trimmed(a, f[DS_BIZ_CALLBACK].s);
	v.biz.amd = f[DS_BIZ_AMD].s != NULL && strcmp(f[DS_BIZ_AMD].s, "on") == 0;

	if (v.biz.name[0] == '\0' || !valid_text(v.biz.name, 200, NULL)) {
		refuse(app, in, out, &v, "name",
			"Business name: give a name of 1 to 200 characters on one line.");
		return;
	}
	p[0] = v.biz.tz;
	r = db_row_prepared(app->db, a, "dash_settings_tz_ok",
		"SELECT rf_valid_time_zone($1)::text", 1, p, 1, row);
	if (r < 0) {
		page_unavailable(out);
		return;
	}
	if (r == 1 && row[0])
		snprintf(ok_tz, sizeof(ok_tz), "%s", row[0]);
	if (strcmp(ok_tz, "true") != 0) {
		refuse(app, in, out, &v, "time_zone", "Time zone: pick a zone from the list.");
		return;
	}
	ws = parse_hhmm(v.biz.wstart);
	we = parse_hhmm(v.biz.wend);
	if (ws < 0) {
		refuse(app, in, out, &v, "window_start",
			"Calling window: the start must be a time such as 09:00.");
		return;
	}
	if (we < 0) {
		refuse(app, in, out, &v, "window_end",
			"Calling window: the end must be a time such as 20:00.");
		return;
	}
	if (ws >= we) {
		refuse(app, in, out, &v, "window_end",
			"Calling window: the end must be later than the start.");
		return;
	}
	pe = phone_normalise(v.biz.callback, strlen(v.biz.callback), phone, sizeof(phone));
	if (pe != PHONE_OK) {
		refuse(app, in, out, &v, "callback_phone",
			arena_printf(a, "Callback number: the number %s.", phone_error_text(pe)));
		return;
	}
	p[0] = in->business;
	p[1] = v.biz.name;
	p[2] = v.biz.tz;
	p[3] = arena_printf(a, "%02d:%02d", ws / 60, ws % 60);
	p[4] = arena_printf(a, "%02d:%02d", we / 60, we % 60);
	p[5] = phone;
	p[6] = v.biz.amd ? "true" : "false";
	/* An unverified business reaches only its callback number (DESIGN
	 * rule 13), so that number is not its own to change: otherwise any
	 * number could be made "its own".  An operator verifies first. */
	res = db_exec_prepared(app->db, "dash_settings_business_update",
		"UPDATE businesses SET name = $2, time_zone = $3, window_start = $4::time,"
		" window_end = $5::time, callback_phone = $6, machine_detection = $7::boolean"
		" WHERE id = $1::bigint AND (verified OR callback_phone::text = $6)", 7, p);
	if (res == NULL) {
		page_unavailable(out);
		return;
	}
	r = atoi(PQcmdTuples(res));
	PQclear(res);
	if (r != 1) {
		r = db_row_prepared(app->db, a, "dash_settings_business_exists",
			"SELECT verified::text FROM businesses WHERE id = $1::bigint", 1, p, 1, row);
		if (r < 0)
			page_unavailable(out);
		else if (r == 1 && strcmp(row[0], "false") == 0)
			refuse(app, in, out, &v, "callback_phone", "Callback number: until an operator"
				" verifies your business, reminders reach only this number, so it cannot"
				" change yet. Nothing was changed.");
		else
			page_not_found(out);
		return;
	}
	page_redirect(out, "/settings?notice=saved#business");
}

/* A whole number of 1..9 digits into *n; 0 when s is not one. */
static int whole(const char *s, long long *n)
{
	return valid_to_uint(s, strlen(s), n);
}

void dash_settings_policy_add_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	const struct valid_value *f = in->form.v;
	struct settings_view v;
	long long off, stale;
	const char *p[4];
	PGresult *res;

	if (!change_begin(app, in, out, &v))
		return;
	v.pol.channel = trimmed(a, f[DS_POL_CHANNEL].s);
	v.pol.offset = trimmed(a, f[DS_POL_OFFSET].s);
	v.pol.offset_unit = trimmed(a, f[DS_POL_OFFSET_UNIT].s);
	v.pol.stale = trimmed(a, f[DS_POL_STALE].s);
	v.pol.stale_unit = trimmed(a, f[DS_POL_STALE_UNIT].s);

	if (strcmp(v.pol.channel, "voice") != 0 && strcmp(v.pol.channel, "sms") != 0 &&
		strcmp(v.pol.channel, "email") != 0) {
		refuse(app, in, out, &v, "channel",
			"Channel: pick phone call, text message or email.");
		return;
	}
	if (!whole(v.pol.offset, &off) || (strcmp(v.pol.offset_unit, "minutes") != 0 &&
		strcmp(v.pol.offset_unit, "hours") != 0 && strcmp(v.pol.offset_unit, "days") != 0)) {
		refuse(app, in, out, &v, "offset",
			"How long before: give a whole number of minutes, hours or days.");
		return;
	}
	off *= strcmp(v.pol.offset_unit, "days") == 0 ? 1440
		: strcmp(v.pol.offset_unit, "hours") == 0 ? 60 : 1;
	if (off > 43200) {
		refuse(app, in, out, &v, "offset",
			"How long before: at most 30 days before the appointment.");
		return;
	}
	if (!whole(v.pol.stale, &stale) || (strcmp(v.pol.stale_unit, "minutes") != 0 &&
		strcmp(v.pol.stale_unit, "hours") != 0)) {
		refuse(app, in, out, &v, "stale",
			"Not sent if late by: give a whole number of minutes or hours.");
		return;
	}
	stale *= strcmp(v.pol.stale_unit, "hours") == 0 ? 60 : 1;
	if (stale < 5 || stale > 10080) {
		refuse(app, in, out, &v, "stale",
			"Not sent if late by: between 5 minutes and 168 hours (7 days).");
		return;
	}
	p[0] = in->business;
	p[1] = v.pol.channel;
	p[2] = arena_printf(a, "%lld", off);
	p[3] = arena_printf(a, "%lld", stale);
	res = db_exec_prepared(app->db, "dash_settings_policy_add",
		"INSERT INTO reminder_policies (business_id, channel, offset_minutes,"
		" stale_after_minutes) VALUES ($1::bigint, $2, $3::integer, $4::integer)"
		" ON CONFLICT (business_id, channel, offset_minutes) DO NOTHING", 4, p);
	if (res == NULL) {
		page_unavailable(out);
		return;
	}
	if (atoi(PQcmdTuples(res)) != 1) {
		PQclear(res);
		refuse(app, in, out, &v, "offset", arena_printf(a, "How long before: there is"
			" already a %s line %s before.", channel_words(v.pol.channel),
			dash_settings_minutes_words(a, off)));
		return;
	}
	PQclear(res);
	page_redirect(out, "/settings?notice=saved#policy");
}

void dash_settings_policy_remove_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	const char *p[2];
	PGresult *res;
	int n;

	if (!dash_settings_can_change(in)) {
		refuse_staff(out);
		return;
	}
	p[0] = in->business;
	p[1] = arena_printf(in->req->arena, "%lld", in->param_id);
	res = db_exec_prepared(app->db, "dash_settings_policy_remove",
		"DELETE FROM reminder_policies WHERE business_id = $1::bigint AND id = $2::bigint",
		2, p);
	if (res == NULL) {
		page_unavailable(out);
		return;
	}
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	if (n != 1) {
		page_not_found(out);
		return;
	}
	page_redirect(out, "/settings?notice=saved#policy");
}

void dash_settings_wording_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct arena *a = in->req->arena;
	const struct valid_value *f = in->form.v;
	const char *what = f[DS_WORD_DO].s ? f[DS_WORD_DO].s : "save";
	struct settings_view v;
	char err[512];
	const char *p[3], *field;
	PGresult *res;

	if (!change_begin(app, in, out, &v))
		return;
	v.word.greeting = trimmed(a, f[DS_WORD_GREETING].s);
	v.word.closing = trimmed(a, f[DS_WORD_CLOSING].s);
	if (strcmp(what, "save") != 0 && strcmp(what, "preview") != 0) {
		refuse(app, in, out, &v, "greeting", "Pick Preview or Save.");
		return;
	}
	if (wording_check(v.word.greeting, err, sizeof(err)) < 0) {
		refuse(app, in, out, &v, "greeting", arena_printf(a, "Greeting: %s.", err));
		return;
	}
	if (wording_check(v.word.closing, err, sizeof(err)) < 0) {
		refuse(app, in, out, &v, "closing", arena_printf(a, "Closing line: %s.", err));
		return;
	}
	/* A text that does not say who sends it is one people cannot place
	 * (or stop knowingly): the business's name must be in it. */
	if (strstr(v.word.greeting, "{business}") == NULL &&
		strstr(v.word.closing, "{business}") == NULL) {
		refuse(app, in, out, &v, "greeting", "Greeting: put {business} in the greeting or"
			" the closing line, so that people know who the reminder is from.");
		return;
	}
	/* Carrier keywords only for what carriers do with them, and room in 2
	 * segments for the longest text these lines can make. */
	if (wording_check_lines(a, &(struct wording){ v.word.greeting, v.word.closing }, err,
		sizeof(err), &field) < 0) {
		refuse(app, in, out, &v, field, arena_strdup(a, err));
		return;
	}
	if (strcmp(what, "preview") == 0) {
		v.word.unsaved = 1;
		render_page(app, in, out, &v);
		return;
	}
	p[0] = in->business;
	p[1] = v.word.greeting;
	p[2] = v.word.closing;
	res = db_exec_prepared(app->db, "dash_settings_wording_save",
		"INSERT INTO message_wording (business_id, greeting, closing)"
		" VALUES ($1::bigint, $2, $3) ON CONFLICT (business_id) DO UPDATE"
		" SET greeting = EXCLUDED.greeting, closing = EXCLUDED.closing, updated_at = now()",
		3, p);
	if (res == NULL) {
		page_unavailable(out);
		return;
	}
	PQclear(res);
	page_redirect(out, "/settings?notice=saved#wording");
}

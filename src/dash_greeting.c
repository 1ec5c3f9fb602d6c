/* dash_greeting: the greeting's settings page; see include/dash_greeting.h. */
#include "dash_greeting.h"
#include "app.h"
#include "arena.h"
#include "clock.h"
#include "dash_settings.h"
#include "db.h"
#include "greeting.h"
#include "http.h"
#include "page.h"
#include "session.h"
#include "taskcode.h"

#include <stdio.h>
#include <string.h>

static const char tmpl_head[] =
	"<h1>Your greeting</h1>\n"
	"<p><a href=\"/settings\">Settings</a></p>\n";
static const char tmpl_own[] =
	"<section class=\"card\" id=\"current\"><h2>Current greeting</h2>\n"
	"<p>Your reminder calls open with your own recording (recorded {{when}}{{length}}).</p>\n"
	"<audio controls preload=\"none\" src=\"{{url}}\" id=\"greeting-audio\"></audio>\n";
static const char tmpl_revert[] =
	"<form method=\"post\" action=\"/settings/greeting/revert\" class=\"form\""
	" data-confirm=\"Go back to the synthesised greeting? Your recording will no longer be"
	" played.\">" PAGE_CSRF_INPUT
	"<div class=\"form-actions\"><button type=\"submit\" class=\"btn btn-danger\">"
	"Use the synthesised greeting</button></div></form>\n";
static const char tmpl_synth[] =
	"<section class=\"card\" id=\"current\"><h2>Current greeting</h2>\n"
	"<p>Your reminder calls open with the synthesised greeting: &ldquo;This is an automated"
	" message from {{name}}.&rdquo;</p>\n";
static const char tmpl_section_end[] = "</section>\n";
static const char tmpl_phone[] =
	"<section class=\"card\" id=\"by-phone\"><h2>Record your greeting by phone</h2>\n"
	"<p>Get a one-time code, call your reminder number and enter the code when asked. You"
	" can then record a greeting of up to a minute, hear it, and keep it or record it"
	" again. The code works once, for 15 minutes; getting a new code cancels an unused"
	" one.</p>\n";
static const char tmpl_code_form[] =
	"<form method=\"post\" action=\"/settings/greeting/code\" class=\"form\">" PAGE_CSRF_INPUT
	"<div class=\"form-actions\"><button type=\"submit\" class=\"btn btn-primary\">"
	"Get a code</button></div></form>\n";
static const char tmpl_staff[] =
	"<p class=\"muted\">Only an owner can get a code or change the greeting.</p>\n";
static const char tmpl_code[] =
	"<h1>Record your greeting by phone</h1>\n"
	"<section class=\"card\">\n"
	"<p>Your code:</p>\n"
	"<pre class=\"code\" id=\"task-code\">{{code}}</pre>\n"
	"<p>It expires at <span id=\"task-code-expires\">{{expires}}</span> and works once.</p>\n"
	"<p>Call <span class=\"mono\" id=\"task-code-number\">{{number}}</span>, enter the code"
	" when asked, then record your greeting after the tone and press the pound key.</p>\n"
	"<p class=\"hint\">Anyone who has this code can record your greeting until it expires:"
	" keep it to yourself.</p>\n"
	"<p><a href=\"/settings/greeting\" class=\"btn\">Back to your greeting</a></p>\n"
	"</section>\n";

/* The origin (scheme://host[:port]) of url in a, or NULL. */
static const char *url_origin(struct arena *a, const char *url)
{
	const char *p = strstr(url, "://");
	size_t n;

	if (p == NULL)
		return NULL;
	n = strcspn(p + 3, "/?#");
	return arena_strndup(a, url, (size_t)(p + 3 - url) + n);
}

void dash_greeting_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	struct greeting_info g;
	int r = greeting_current(app->db, a, in->business_id, &g);

	if (r < 0) {
		page_unavailable(out);
		return;
	}
	page_begin(out, "Your greeting", "settings");
	page_add(out, tmpl_head, NULL);
	if (r == 1) {
		const char *const f[] = { "when", page_time(a, g.recorded_at, in->user->business_tz),
			"length", g.duration_s >= 0 ? arena_printf(a, ", %lld seconds", g.duration_s) : "",
			"url", g.url, NULL };
		page_add(out, tmpl_own, f);
		out->page_media_src = url_origin(a, g.url);
		if (dash_settings_can_change(in)) {
			const char *const c[] = { "csrf", in->user->csrf, NULL };
			page_add(out, tmpl_revert, c);
		}
	} else {
		const char *const f[] = { "name", in->user->business_name, NULL };
		page_add(out, tmpl_synth, f);
	}
	page_add(out, tmpl_section_end, NULL);
	page_add(out, tmpl_phone, NULL);
	if (dash_settings_can_change(in)) {
		const char *const c[] = { "csrf", in->user->csrf, NULL };
		page_add(out, tmpl_code_form, c);
	} else {
		page_add(out, tmpl_staff, NULL);
	}
	page_add(out, tmpl_section_end, NULL);
}

/* The number the business's calls come from (its own, else
 * TWILIO_FROM_NUMBER), in a; NULL when neither is set; *db_err on a
 * database error. */
static const char *business_number(struct app *app, const struct route_input *in, int *db_err)
{
	const char *p[2] = { in->business, app->cfg.from_number }, *v[1] = { NULL };
	int r = db_row_prepared(app->db, in->req->arena, "dash_greeting_number",
		"SELECT COALESCE(twilio_from::text, $2) FROM businesses WHERE id = $1::bigint", 2, p, 1,
		v);

	*db_err = r < 0;
	return r == 1 ? v[0] : NULL;
}

void dash_greeting_code_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	char code[TASKCODE_DIGITS + 1], err[256];
	long long expires;
	const char *number;
	int db_err = 0;

	if (!dash_settings_can_change(in)) {
		page_error(out, 403, "Only an owner can get a code",
			"Your login can see the greeting but not change it. No code was made.");
		return;
	}
	number = business_number(app, in, &db_err);
	if (db_err) {
		page_unavailable(out);
		return;
	}
	if (number == NULL) {
		page_error(out, 422, "No number to call",
			"Your business has no reminder number yet, so there is nothing to call. Ask your"
			" operator to set one. No code was made.");
		return;
	}
	if (taskcode_create(app->db, app->cfg.auth_token, in->business_id, "greeting",
		    in->user->user_id, clock_now_s(), code, &expires, err, sizeof(err)) < 0) {
		page_unavailable(out);
		return;
	}
	/* The code exists only in this answer from now on; the record says
	 * one was made, never which. */
	dash_settings_audit(in, out, "task_code_created", NULL, 0, "purpose", "greeting");
	page_begin(out, "Record your greeting by phone", "settings");
	{
		const char *const f[] = { "code", code,
			"expires", page_time(in->req->arena, expires, in->user->business_tz),
			"number", number, NULL };
		page_add(out, tmpl_code, f);
	}
	explicit_bzero(code, sizeof(code));
}

void dash_greeting_revert_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	int r;

	if (!dash_settings_can_change(in)) {
		page_error(out, 403, "Only an owner can change the greeting",
			"Your login can see the greeting but not change it. Nothing was changed.");
		return;
	}
	r = greeting_revert(app->db, in->business_id, in->user->user_id, clock_now_s());
	if (r < 0) {
		page_unavailable(out);
		return;
	}
	if (r == 0) {
		page_error(out, 409, "Nothing to revert",
			"Your reminder calls already open with the synthesised greeting. Nothing was changed.");
		return;
	}
	dash_settings_audit(in, out, "greeting_reverted", NULL, 0, NULL, NULL);
	page_redirect(out, "/settings/greeting?notice=greeting_reverted");
}

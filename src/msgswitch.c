/* msgswitch: the automatic-messages switch on the dashboard and in the
 * API; see include/msgswitch.h. */
#include "msgswitch.h"
#include "api_int.h"
#include "apikey.h"
#include "app.h"
#include "arena.h"
#include "business.h"
#include "buf.h"
#include "clock.h"
#include "dash_settings.h"
#include "db.h"
#include "html.h"
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

/* ---- the state ------------------------------------------------------------ */

int msgswitch_load(struct db *db, struct arena *a, long long business_id, long long now_s,
	struct msgswitch_state *st)
{
	char id[24], now[32];
	const char *p[2] = { id, now }, *row[5];
	int r;

	memset(st, 0, sizeof(*st));
	snprintf(id, sizeof(id), "%lld", business_id);
	clock_sql(now_s, now);
	/* Held: what would go now but for the switch (a staff reply is not
	 * automatic and never held).  Counted only while the switch is off:
	 * every dashboard page reads the switch for its banner. */
	r = db_row_prepared(db, a, "msgswitch_load",
		"SELECT extract(epoch FROM b.paused_at)::bigint, " API_TS("b.paused_at") ","
		" b.paused_by, b.paused_reason,"
		" CASE WHEN b.paused_at IS NULL THEN 0 ELSE"
		" (SELECT count(*) FROM reminders r WHERE r.business_id = b.id"
		"  AND r.status = 'pending' AND r.kind <> 'reply' AND r.due_at <= $2::timestamptz"
		"  AND r.stale_at > $2::timestamptz) END"
		" FROM businesses b WHERE b.id = $1::bigint", 2, p, 5, row);
	if (r != 1)
		return r;
	st->off = row[0] != NULL;
	st->since_s = row[0] ? strtoll(row[0], NULL, 10) : 0;
	st->since = row[1];
	st->by = row[2];
	st->reason = row[3];
	st->held = strtoll(row[4], NULL, 10);
	return 1;
}

/* A reason as the switch takes it: 1..MSGSWITCH_REASON_MAX characters
 * of text without control characters, not only spaces. */
static int reason_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n > 0 && strspn(s, " \t") < n && valid_utf8(s, n) &&
		valid_text(s, MSGSWITCH_REASON_MAX, NULL);
}

/* ---- the dashboard ------------------------------------------------------- */

static const char tmpl_banner[] =
	"<div class=\"banner\" role=\"alert\" id=\"messages-off\"><div class=\"wrap\">"
	"<strong>Automatic messages are off</strong> since {{at}}, by {{by}}: {{reason}}. "
	"{{held}} held; those past their time will not be sent late. "
	"<a href=\"/settings#automatic-messages\">Turn them on in Settings</a>.</div></div>\n";

static const char *held_words(struct arena *a, long long n)
{
	return n == 1 ? "1 reminder is" : arena_printf(a, "%lld reminders are", n);
}

void msgswitch_banner(struct app *app, const struct session_user *u, struct buf *b)
{
	struct msgswitch_state st;
	int r = msgswitch_load(app->db, b->arena, u->business_id, clock_now_s(), &st);

	if (r < 0)
		log_error("dashboard: cannot read the automatic-messages switch: %s",
			db_last_error(app->db));
	if (r != 1 || !st.off)
		return;
	{
		const char *const f[] = { "at", page_time(b->arena, st.since_s, u->business_tz),
			"by", st.by, "reason", st.reason, "held", held_words(b->arena, st.held),
			NULL };
		(void)html_render(b, tmpl_banner, f);
	}
}

static const char tmpl_card_on[] =
	"<section class=\"card\" id=\"automatic-messages\"><h2>Automatic messages</h2>\n"
	"<p><strong>On.</strong> Reminders and booking confirmations go out as planned.</p>\n"
	"<form method=\"post\" action=\"/settings/automatic-messages\" class=\"form\""
	" data-confirm=\"Stop every automatic message of this business?\">\n" PAGE_CSRF_INPUT "\n"
	"<input type=\"hidden\" name=\"on\" value=\"off\">\n"
	"<label for=\"switch-reason\">Why they stop (recorded with your name)</label>\n"
	"<input type=\"text\" id=\"switch-reason\" name=\"reason\" maxlength=\"1000\" required>\n"
	"<p class=\"hint\">Turning them off holds every reminder, test reminder, resend and"
	" booking confirmation of this business until they are turned on again; one whose time"
	" passes meanwhile is not sent late. Replies you write to a client still go.</p>\n"
	"<div class=\"form-actions\"><button type=\"submit\" class=\"btn btn-danger\">Turn"
	" automatic messages off</button></div>\n</form></section>\n";
static const char tmpl_card_off[] =
	"<section class=\"card\" id=\"automatic-messages\"><h2>Automatic messages</h2>\n"
	"<p><strong>Off</strong> since {{at}}, by {{by}}: {{reason}}. {{held}} held.</p>\n";
static const char tmpl_card_off_form[] =
	"<form method=\"post\" action=\"/settings/automatic-messages\" class=\"form\">\n"
	PAGE_CSRF_INPUT "\n<input type=\"hidden\" name=\"on\" value=\"on\">\n"
	"<label for=\"switch-reason\">Why they may go again (recorded with your name)</label>\n"
	"<input type=\"text\" id=\"switch-reason\" name=\"reason\" maxlength=\"1000\" required>\n"
	"<p class=\"hint\">Held reminders still in their time go out; those past it stay"
	" unsent.</p>\n"
	"<div class=\"form-actions\"><button type=\"submit\" class=\"btn btn-primary\">Turn"
	" automatic messages on</button></div>\n</form></section>\n";
static const char tmpl_card_off_ro[] =
	"<p class=\"hint\">Only an owner can turn them on again.</p></section>\n";

int msgswitch_render_card(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	struct msgswitch_state st;
	int r = msgswitch_load(app->db, a, in->business_id, clock_now_s(), &st);

	if (r < 0)
		return -1;
	if (r == 0)
		return 0;
	if (!st.off) {
		const char *const f[] = { "csrf", in->user->csrf, NULL };
		page_add(out, tmpl_card_on, f);
		return 0;
	}
	{
		const char *const f[] = { "at", page_time(a, st.since_s, in->user->business_tz),
			"by", st.by, "reason", st.reason, "held", held_words(a, st.held),
			"csrf", in->user->csrf, NULL };
		page_add(out, tmpl_card_off, f);
		page_add(out, dash_settings_can_change(in) ? tmpl_card_off_form : tmpl_card_off_ro,
			f);
	}
	return 0;
}

const struct valid_field msgswitch_form_fields[MSW_NFIELDS] = {
	[MSW_ON] = { "on", valid_any, 0, VALID_TEXT },
	[MSW_REASON] = { "reason", valid_any, 0, VALID_TEXT },
};

void msgswitch_dash_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	const struct valid_value *f = in->form.v;
	const char *want = f[MSW_ON].s ? f[MSW_ON].s : "";
	const char *reason = f[MSW_REASON].s;
	enum business_result r;
	int on;

	if (strcmp(want, "on") != 0 && strcmp(want, "off") != 0) {
		page_error(out, 422, "Pick on or off",
			"The form must say whether automatic messages go on or off. Nothing was changed.");
		return;
	}
	on = want[1] == 'n';
	/* Stopping is always allowed; starting again is an owner's call. */
	if (on && !dash_settings_can_change(in)) {
		page_error(out, 403, "Only an owner can turn automatic messages on",
			"Your login may turn automatic messages off, not on. Nothing was changed.");
		return;
	}
	if (!reason_ok(reason)) {
		page_error(out, 422, "Give a reason", "Say why automatic messages go "
			"on or off (1 to 1000 characters on one line). Nothing was changed.");
		return;
	}
	r = business_messages(app->db, in->business_id, on, reason, in->user->email,
		clock_now_s());
	if (r == BUSINESS_FAILED) {
		page_unavailable(out);
		return;
	}
	if (r == BUSINESS_NO_SUCH) {
		page_not_found(out);
		return;
	}
	if (r == BUSINESS_DONE)
		dash_settings_audit(in, out, on ? "messages_on" : "messages_off", NULL, 0, "reason",
			reason);
	page_redirect(out, "/settings?notice=%s#automatic-messages",
		r == BUSINESS_ALREADY ? (on ? "messages_already_on" : "messages_already_off")
				      : (on ? "messages_on" : "messages_off"));
}

/* ---- the API ---------------------------------------------------------------- */

#define MSWA_REASON_INVALID "field 'reason' must be 1 to 1000 characters of text on one line"

static int api_reason_valid(const char *v, size_t len)
{
	return memchr(v, '\0', len) == NULL && reason_ok(v);
}

const struct json_field msgswitch_api_fields[MSWA_NFIELDS] = {
	[MSWA_ON] = { "on", JSON_MEMBER_BOOLEAN, 1, NULL, VALID_TEXT, NULL },
	[MSWA_REASON] = { "reason", JSON_MEMBER_STRING, 1, api_reason_valid, VALID_TEXT,
		MSWA_REASON_INVALID },
};

/* Answers status with the switch of the key's business (changed: -1 not
 * said, else the "changed" member). */
static void api_answer(struct api_ctx *c, int status, int changed)
{
	struct msgswitch_state st;
	json_t *o;
	int r = msgswitch_load(c->app->db, c->req->arena, strtoll(c->business, NULL, 10),
		clock_now_s(), &st);

	if (r < 0) {
		api_unavailable(c);
		return;
	}
	if (r == 0) {
		api_error(c, 404, "not_found", NULL, "the API key's business no longer exists");
		return;
	}
	o = json_pack("{s:b, s:o, s:o, s:o, s:I}", "on", !st.off,
		"since", st.since ? json_string(st.since) : json_null(),
		"by", st.by ? json_string(st.by) : json_null(),
		"reason", st.reason ? json_string(st.reason) : json_null(),
		"held_reminders", (json_int_t)st.held);
	if (changed >= 0)
		json_object_set_new(o, "changed", json_boolean(changed));
	api_send_json(c, status, o);
}

void msgswitch_api_get_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct api_ctx c;

	api_ctx_init(&c, app, in, out);
	out->action = "get_automatic_messages";
	api_answer(&c, 200, -1);
}

void msgswitch_api_put_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	const struct valid_value *f = in->members.v;
	char prefix[APIKEY_PREFIX_LEN + 1] = "";
	const char *key = in->req->authorization ? in->req->authorization : "";
	struct api_ctx c;
	enum business_result r;

	api_ctx_init(&c, app, in, out);
	out->action = "put_automatic_messages";
	/* Who: the key's prefix (its public part), as the API's audit
	 * names it; the dispatcher authenticated the header already. */
	if (strncasecmp(key, "Bearer ", 7) == 0)
		key += 7;
	while (*key == ' ')
		key++;
	(void)apikey_parse(key, prefix);
	r = business_messages(app->db, in->business_id, f[MSWA_ON].i != 0, f[MSWA_REASON].s,
		arena_printf(in->req->arena, "API key %s", prefix[0] ? prefix : "(unnamed)"),
		clock_now_s());
	if (r == BUSINESS_FAILED) {
		api_unavailable(&c);
		return;
	}
	if (r == BUSINESS_NO_SUCH) {
		api_error(&c, 404, "not_found", NULL, "the API key's business no longer exists");
		return;
	}
	api_answer(&c, 200, r == BUSINESS_DONE);
}

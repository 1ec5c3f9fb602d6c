/* dash_booking: the booking confirmation's settings; see
 * include/dash_booking.h. */
#include "dash_booking.h"
#include "app.h"
#include "arena.h"
#include "dash_settings.h"
#include "db.h"
#include "http.h"
#include "page.h"
#include "session.h"
#include "valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct valid_field dash_booking_fields[DB_NFIELDS] = {
	[DB_CHANNEL] = { "booking_channel", valid_any, 0, VALID_TEXT },
	[DB_DELAY] = { "booking_delay", valid_any, 0, VALID_TEXT },
};

static const char tmpl_open[] =
	"<section class=\"card\" id=\"booking\"><h2>Booking confirmation</h2>\n"
	"<p class=\"hint\">A message sent once, shortly after an appointment is booked (on the"
	" dashboard, through the API, by a CSV import or from a calendar), with the same"
	" guards, calling window and wording as reminders; a client who opted out gets none,"
	" a reschedule sends no second one, and an appointment that starts before it would go"
	" gets none.</p>\n";
static const char tmpl_ro[] =
	"<dl class=\"facts\"><dt>Send a booking confirmation</dt><dd>{{now}}</dd></dl>\n"
	"</section>\n";
static const char tmpl_form[] =
	"<form method=\"post\" action=\"/settings/booking\" class=\"form\">\n" PAGE_CSRF_INPUT "\n"
	"<label for=\"booking_channel\">Send a booking confirmation by</label>\n"
	"<select id=\"booking_channel\" name=\"booking_channel\">\n";
static const char tmpl_delay[] =
	"</select>\n"
	"<label for=\"booking_delay\">Minutes after booking</label>\n"
	"<input type=\"number\" id=\"booking_delay\" name=\"booking_delay\" min=\"0\""
	" max=\"1440\" value=\"{{delay}}\" required>\n"
	"<div class=\"form-actions\"><button type=\"submit\" class=\"btn btn-primary\">Save"
	" booking confirmation</button></div>\n</form></section>\n";
static const char tmpl_opt[] = "<option value=\"{{v}}\">{{label}}</option>\n";
static const char tmpl_opt_sel[] = "<option value=\"{{v}}\" selected>{{label}}</option>\n";

static const char *const channels[] = { "off", "Off (no confirmation)", "sms", "Text message",
	"email", "Email", NULL };

int dash_booking_render(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	const char *p[1] = { in->business }, *row[2], *ch;
	int r = db_row_prepared(app->db, a, "dash_booking_load",
		"SELECT COALESCE(booking_channel, 'off'), booking_delay_minutes::text"
		" FROM businesses WHERE id = $1::bigint", 1, p, 2, row);

	if (r < 0)
		return -1;
	if (r == 0)
		return 0;
	ch = row[0];
	page_add(out, tmpl_open, NULL);
	if (!dash_settings_can_change(in)) {
		const char *const f[] = { "now", strcmp(ch, "off") == 0 ? "Off"
			: arena_printf(a, "%s, %s after booking",
				strcmp(ch, "sms") == 0 ? "Text message" : "Email",
				dash_settings_minutes_words(a, strtoll(row[1], NULL, 10))), NULL };
		page_add(out, tmpl_ro, f);
		return 0;
	}
	{
		const char *const f[] = { "csrf", in->user->csrf, "delay", row[1], NULL };
		page_add(out, tmpl_form, f);
		for (size_t i = 0; channels[i]; i += 2) {
			const char *const o[] = { "v", channels[i], "label", channels[i + 1], NULL };
			page_add(out, strcmp(ch, channels[i]) == 0 ? tmpl_opt_sel : tmpl_opt, o);
		}
		page_add(out, tmpl_delay, f);
	}
	return 0;
}

void dash_booking_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	const struct valid_value *f = in->form.v;
	const char *ch = f[DB_CHANNEL].s ? f[DB_CHANNEL].s : "";
	const char *delay = f[DB_DELAY].s ? f[DB_DELAY].s : "";
	const char *p[3];
	long long d;
	PGresult *res;

	if (!dash_settings_can_change(in)) {
		page_error(out, 403, "Only an owner can change this",
			"Your login can see the settings but not change them. Nothing was changed.");
		return;
	}
	if (strcmp(ch, "off") != 0 && strcmp(ch, "sms") != 0 && strcmp(ch, "email") != 0) {
		page_error(out, 422, "Pick how to send it",
			"Booking confirmation: pick off, text message or email. Nothing was changed.");
		return;
	}
	if (!valid_to_uint(delay, strlen(delay), &d) || d > DASH_BOOKING_DELAY_MAX) {
		page_error(out, 422, "Give the minutes after booking",
			"Booking confirmation: the minutes after booking must be a whole number from 0"
			" to 1440 (24 hours). Nothing was changed.");
		return;
	}
	p[0] = in->business;
	p[1] = strcmp(ch, "off") == 0 ? NULL : ch;
	p[2] = arena_printf(in->req->arena, "%lld", d);
	res = db_exec_prepared(app->db, "dash_booking_save",
		"UPDATE businesses SET booking_channel = $2, booking_delay_minutes = $3::integer"
		" WHERE id = $1::bigint", 3, p);
	if (res == NULL) {
		page_unavailable(out);
		return;
	}
	if (atoi(PQcmdTuples(res)) != 1) {
		PQclear(res);
		page_not_found(out);
		return;
	}
	PQclear(res);
	dash_settings_audit(in, out, "booking_confirmation", NULL, 0, "channel", ch);
	page_redirect(out, "/settings?notice=saved#booking");
}

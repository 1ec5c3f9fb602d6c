/* dash_calendar: what people see of the business's calendar feeds and
 * what they decide about them (the sync itself is `ringfence calsync`,
 * which fills calendar_feeds' polling state, calendar_events and
 * calendar_holds; see sql/017_office.sql).  Every query is scoped by the
 * business the pages show; every form carries the CSRF token; no page
 * needs JavaScript.
 *
 *   GET  /settings/calendars              the feeds (name, masked address,
 *                                         on/off, last sync, events, next
 *                                         sync), the add form, the country
 *                                         and the automatic confirmation
 *   POST /settings/calendars              name, url: adds a feed
 *   POST /settings/calendars/{id}/remove  removes it (the appointments it
 *                                         made stay)
 *   POST /settings/calendars/{id}/enabled enabled=on|off
 *   POST /settings/calendars/{id}/sync    "sync now": next_poll_at = now()
 *   POST /settings/calendars/country      country: ISO code or "" (none)
 *   POST /settings/calendars/auto-confirm auto_confirm=on|off, reason
 *                                         (required): business_events
 *   GET  /calendar-holds/{id}             a held sync: counts, reason,
 *                                         preview; Approve and Reject
 *   POST /calendar-holds/{id}             decision=approve|reject, reason
 *                                         (optional, in the audit record),
 *                                         seen (the content_sha256 of the
 *                                         preview shown: an approval of a
 *                                         hold the sync refreshed since is
 *                                         409); a rejection turns the feed
 *                                         off in the same transaction
 *   GET  /calendar-events/no-contact      the next 7 days' events in which
 *                                         no client could be found
 *   POST /clients/{id}/confirm            confirms a client proposed from
 *                                         a calendar event
 *
 * Changing feeds, the country, the automatic confirmation and deciding a
 * hold are an owner's (or an operator's), like the other settings; staff
 * see them, may ask for a sync and may confirm clients.
 *
 * A feed's address is a secret (whoever has it reads the calendar): it is
 * shown masked everywhere (scheme and host), never written to a log or an
 * audit record, and never echoed back, not even into the form after a
 * refusal. */
#ifndef RF_DASH_CALENDAR_H
#define RF_DASH_CALENDAR_H

#include <stddef.h>

#include "dispatch.h"

struct app;
struct arena;
struct db;

#define CALENDAR_URL_MAX 2000
#define CALENDAR_NAME_MAX 100

enum { DCAL_ADD_NAME, DCAL_ADD_URL, DCAL_ADD_NFIELDS };
extern const struct valid_field dash_calendar_add_fields[DCAL_ADD_NFIELDS];
extern const struct valid_field dash_calendar_enabled_fields[1];
extern const struct valid_field dash_calendar_country_fields[1];
enum { DCAL_AUTO_ON, DCAL_AUTO_REASON, DCAL_AUTO_NFIELDS };
extern const struct valid_field dash_calendar_auto_fields[DCAL_AUTO_NFIELDS];
enum { DCAL_HOLD_DECISION, DCAL_HOLD_REASON, DCAL_HOLD_SEEN, DCAL_HOLD_NFIELDS };
extern const struct valid_field dash_calendar_hold_fields[DCAL_HOLD_NFIELDS];

void dash_calendars_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_calendar_add_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_calendar_remove_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_calendar_enabled_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_calendar_sync_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_calendar_country_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_calendar_auto_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_calendar_hold_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_calendar_hold_decide_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_calendar_no_contact_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_client_confirm_handle(struct app *app, const struct route_input *in,
	struct outcome *out);

/* The calendar lines of Today (and the Calendars page): a banner per open
 * hold, "3 clients from your calendar wait for confirmation", "12 events
 * this week have no phone number", each linking to its page; nothing when
 * there is nothing to say.  0, or -1 on a database error (nothing added). */
int dash_calendar_notices(struct app *app, const struct route_input *in, struct outcome *out);

/* ---- shared with the JSON API (api_calendar.c) ---------------------------- */

/* What is wrong with a feed address, as a sentence that never repeats
 * it, or NULL when it may be added: https:// or webcal:// (http:// too
 * when allow_http), a host, no credentials, no spaces or control
 * characters, at most CALENDAR_URL_MAX bytes. */
const char *calendar_url_problem(const char *url, int allow_http);
/* What is wrong with a feed name (trimmed by the caller), or NULL. */
const char *calendar_name_problem(const char *name);
/* 1 when this environment takes http:// feeds (development and test). */
int calendar_allow_http(const struct app *app);
/* The address as people see it: calfetch_mask_url's scheme, host and
 * "/…" (the path and query are the secret), or "…" for an address it
 * cannot read; into out (always NUL-terminated; url NULL: ""). */
void calendar_mask_url(const char *url, char *out, size_t outlen);

/* Adds a feed of business biz (checked name and url).  Its id, 0 when the
 * business already has that address, -1 on a database error. */
long long calendar_feed_add(struct db *db, struct arena *a, const char *biz, const char *name,
	const char *url, const char *by);

enum calendar_confirm {
	CALENDAR_CONFIRM_DB = -1,
	CALENDAR_CONFIRM_NOT_FOUND = 0, /* no such client of the business */
	CALENDAR_CONFIRM_DONE,          /* confirmed now */
	CALENDAR_CONFIRM_ALREADY,       /* confirmed before */
	CALENDAR_CONFIRM_NOT_PROPOSED,  /* never proposed: nothing to confirm */
};
/* Confirms client id of business biz, proposed from a calendar event:
 * confirmed_at = now(), confirmed_by = by. */
enum calendar_confirm calendar_client_confirm(struct db *db, struct arena *a, const char *biz,
	long long id, const char *by);

#endif

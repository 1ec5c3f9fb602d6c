/* dash_settings: the dashboard's settings pages.
 *
 * GET /settings shows the business's settings in four parts: the business
 * (name, time zone, calling window, callback number, answering-machine
 * detection), the reminder policy (its lines, added and removed one at a
 * time), the message wording with a preview built by the functions that
 * build the real messages (wording.h for the text and email, the engine
 * for the call's TwiML), and links to API keys, users, sessions and the
 * password.  Owners and operators change settings; staff see them
 * read-only and get a 403 page on any POST.  Every query is scoped by
 * in->business_id.  Invalid input re-renders the page with what was typed
 * and a message naming the field (422) and changes nothing; a success
 * answers 303 to /settings?notice=saved.
 *
 * A policy change applies to appointments whose reminders are planned
 * afterwards (booked or rescheduled); reminders already planned keep the
 * policy they were planned with, and the page says so.
 *
 * API keys live in dash_keys.c, users in dash_users.c, the call flow
 * diagrams in dash_flows.c. */
#ifndef RF_DASH_SETTINGS_H
#define RF_DASH_SETTINGS_H

#include "dispatch.h"

/* The fields of each form, in the order the handlers read them. */
enum { DS_BIZ_NAME, DS_BIZ_TZ, DS_BIZ_WSTART, DS_BIZ_WEND, DS_BIZ_CALLBACK, DS_BIZ_AMD,
	DS_BIZ_NFIELDS };
extern const struct valid_field dash_settings_business_fields[DS_BIZ_NFIELDS];
enum { DS_POL_CHANNEL, DS_POL_OFFSET, DS_POL_OFFSET_UNIT, DS_POL_STALE, DS_POL_STALE_UNIT,
	DS_POL_NFIELDS };
extern const struct valid_field dash_settings_policy_fields[DS_POL_NFIELDS];
enum { DS_WORD_GREETING, DS_WORD_CLOSING, DS_WORD_DO, DS_WORD_NFIELDS };
extern const struct valid_field dash_settings_wording_fields[DS_WORD_NFIELDS];

/* GET /settings. */
void dash_settings_handle(struct app *app, const struct route_input *in, struct outcome *out);
/* POST /settings/business. */
void dash_settings_business_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
/* POST /settings/policy: adds a line. */
void dash_settings_policy_add_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
/* POST /settings/policy/{id}/remove. */
void dash_settings_policy_remove_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
/* POST /settings/wording: do=save stores the lines, do=preview shows the
 * messages they would make without storing anything. */
void dash_settings_wording_handle(struct app *app, const struct route_input *in,
	struct outcome *out);


/* 1 when the logged-in user may change the business's settings (an owner
 * or an operator), else 0; for dash_keys.c and dash_users.c too. */
int dash_settings_can_change(const struct route_input *in);

/* Records a change to the business's logins or API keys in its audit
 * stream (kind "settings"): event ("api_key_created", "user_removed",
 * ...), who did it (by_user_id, by_email) and what it named (member, id;
 * member NULL: nothing), plus detail/value when detail is not NULL.
 * Never a key, password or token. */
void dash_settings_audit(const struct route_input *in, struct outcome *out, const char *event,
	const char *member, long long id, const char *detail, const char *value);

/* A policy line's offset or staleness in words: "24 hours", "90 minutes",
 * "2 days" (in arena a).  Exposed for the unit tests. */
struct arena;
const char *dash_settings_minutes_words(struct arena *a, long long minutes);

#endif

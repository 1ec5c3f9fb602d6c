/* msgswitch: a business's one "automatic messages" switch, on the
 * dashboard and in the JSON API (the command line's is `ringfence
 * business messages-off|messages-on`, src/business.c; all three change it
 * through business_messages).
 *
 * Off (businesses.paused_*, sql/017_office.sql) holds every reminder,
 * test reminder, resend and booking confirmation of the business:
 * reminder_block refuses them with 'automatic messages are off', so the
 * scheduler never queues them and the worker's claim drops them; they
 * stay pending, and one still held at its stale time becomes
 * skipped_stale (never sent late).  A staff reply from the inbox is not
 * automatic and is not held.
 *
 * Who may switch: on the dashboard anyone signed in may turn the messages
 * OFF (stopping is always allowed); only an owner (or an operator) turns
 * them on again.  A reason is required both ways, and each change is
 * recorded on the business and in business_events with who made it
 * ("alice@example.com" on the dashboard, "API key <prefix>" in the API,
 * "operator (cli)" on the command line).  Switching to the state it
 * already has changes nothing and says so. */
#ifndef RF_MSGSWITCH_H
#define RF_MSGSWITCH_H

#include "dispatch.h"

struct app;
struct arena;
struct buf;
struct db;
struct session_user;

/* The longest reason (characters), as businesses.paused_reason. */
#define MSGSWITCH_REASON_MAX 1000

/* The switch of one business as the pages and the API show it; strings
 * in the arena. */
struct msgswitch_state {
	int off;                 /* 1: automatic messages are off */
	long long since_s;       /* when they went off (Unix seconds) */
	const char *since;       /* the same, RFC 3339 UTC; NULL when on */
	const char *by;          /* who turned them off; NULL when on */
	const char *reason;      /* why; NULL when on */
	long long held;          /* pending reminders due now and not stale yet */
};

/* Reads business_id's switch as of now_s.  1, 0 (no such business), -1
 * on a database error. */
int msgswitch_load(struct db *db, struct arena *a, long long business_id, long long now_s,
	struct msgswitch_state *st);

/* The shell's red banner on every page of a business whose automatic
 * messages are off (nothing when they are on or cannot be read). */
void msgswitch_banner(struct app *app, const struct session_user *u, struct buf *b);

/* The settings page's card: the state and the form that switches it
 * (off for anyone signed in, on for an owner).  0, or -1 on a database
 * error. */
int msgswitch_render_card(struct app *app, const struct route_input *in, struct outcome *out);

/* POST /settings/automatic-messages: fields "on" ("on" or "off") and
 * "reason". */
enum { MSW_ON, MSW_REASON, MSW_NFIELDS };
extern const struct valid_field msgswitch_form_fields[MSW_NFIELDS];
void msgswitch_dash_handle(struct app *app, const struct route_input *in, struct outcome *out);

/* GET and PUT /api/v1/automatic-messages; PUT takes {"on": bool,
 * "reason": "..."}. */
enum { MSWA_ON, MSWA_REASON, MSWA_NFIELDS };
extern const struct json_field msgswitch_api_fields[MSWA_NFIELDS];
void msgswitch_api_get_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void msgswitch_api_put_handle(struct app *app, const struct route_input *in,
	struct outcome *out);

#endif

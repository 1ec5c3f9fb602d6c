/* dash_operator: the failsafe on the dashboard.
 *
 * While the failsafe is tripped (failsafe.h) every logged-in page shows a
 * banner saying that outbound messages are paused and since when; an
 * operator also sees the reason and a link to GET /operator/failsafe,
 * which shows the state, the reason and the history (failsafe_events),
 * and resumes or trips it with a reason: the same function, and so the
 * same effect and record, as `ringfence failsafe resume|trip`, with the
 * operator's email as the actor.  Other users get 404 there. */
#ifndef RF_DASH_OPERATOR_H
#define RF_DASH_OPERATOR_H

#include "valid.h"

struct app;
struct buf;
struct outcome;
struct route_input;
struct session_user;

/* Appends the failsafe banner for u to b when the failsafe is tripped (a
 * warning that the state is unknown when the database cannot tell);
 * nothing when it is armed. */
void dash_failsafe_banner(struct app *app, const struct session_user *u, struct buf *b);

/* GET /operator/failsafe: the state and its history, and the form. */
void dash_failsafe_page(struct app *app, const struct route_input *in, struct outcome *out);

/* POST /operator/failsafe: resume or trip (dash_failsafe_fields) with a
 * reason of 1 to 1000 characters; an empty or over-long reason shows the
 * page again with 422 and the message next to the field, and changes
 * nothing.  Then 303 to the page with a notice. */
enum { DASH_FS_ACTION, DASH_FS_REASON, DASH_FS_NFIELDS };
extern const struct valid_field dash_failsafe_fields[DASH_FS_NFIELDS];
void dash_failsafe_post(struct app *app, const struct route_input *in, struct outcome *out);

#endif

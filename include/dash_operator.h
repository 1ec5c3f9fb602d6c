/* dash_operator: the failsafe on the dashboard.
 *
 * While the failsafe is tripped (failsafe.h) every logged-in page shows a
 * banner saying that outbound messages are paused and since when; an
 * operator also sees the reason and a link to GET /operator/failsafe,
 * which shows the state, the reason and the history (failsafe_events),
 * and resumes or trips it with a reason: the same function, and so the
 * same effect and record, as `ringfence failsafe resume|trip`, with the
 * operator's email as the actor.  Other users get 404 there.
 *
 * The trial rules (business.h) show here too: a business's own banner
 * (not verified yet, or held by its own failsafe), the held businesses
 * and the verify, unverify and resume forms on /operator/businesses. */
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

/* Appends the business's own banner for u's business to b: held by the
 * new business's failsafe (since when, why, that only an operator lifts
 * it), or not verified yet (only its own callback number is reached);
 * nothing for a verified business that is not held, or when the
 * database cannot tell (the failsafe banner says so then). */
void dash_business_banner(struct app *app, const struct session_user *u, struct buf *b);

/* Appends to out's page, for an operator on GET /operator/businesses,
 * the businesses held by their own failsafe, each with its reason and a
 * resume form; nothing when none is held.  0, or -1 when the database
 * cannot be read. */
int dash_held_businesses(struct app *app, const struct route_input *in, struct outcome *out);

/* The verification cell of business id's row on /operator/businesses:
 * "Verified" with an unverify form, or "Not verified" with a verify form
 * (each with its reason field and the CSRF token). */
void dash_business_verify_cell(struct outcome *out, const struct session_user *u,
	const char *id, int verified);

/* POST /operator/businesses/{id}/verify, /unverify and /resume with a
 * reason of 1 to 1000 characters (business.h): operators only (others
 * 404).  An empty or over-long reason is 422 with the message and
 * changes nothing; a business already in that state is 409; then 303 to
 * the list with a notice. */
enum { DASH_BIZ_REASON, DASH_BIZ_NFIELDS };
extern const struct valid_field dash_business_fields[DASH_BIZ_NFIELDS];
void dash_business_verify_post(struct app *app, const struct route_input *in, struct outcome *out);
void dash_business_unverify_post(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_business_resume_post(struct app *app, const struct route_input *in, struct outcome *out);

#endif

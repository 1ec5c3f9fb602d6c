/* dash_account: the dashboard's account pages: logging in and out,
 * changing the password, the list of one's sessions, and an operator's
 * choice of the business the pages show (session.h does the sessions
 * themselves).
 *
 *   GET  /                               303 to /today (logged in) or /login
 *   GET  /login[?next=/local/path]       the login form
 *   POST /login                          email, password, next: 303 to next
 *                                        (or /today); the same page and status
 *                                        for an unknown login and a wrong
 *                                        password; 429 when throttled
 *   POST /logout                         ends the session, 303 to /login
 *   GET  /account/password               the change-password form
 *   POST /account/password               old, new, new2: the user's other
 *                                        sessions are revoked
 *   GET  /settings/sessions              the user's open sessions
 *   POST /settings/sessions/{id}/revoke  ends one of them (another user's: 404)
 *   GET  /operator/businesses            operators: every business
 *   POST /operator/business              operators: business_id, the business
 *                                        the pages show (others: 404) */
#ifndef RF_DASH_ACCOUNT_H
#define RF_DASH_ACCOUNT_H

#include "dispatch.h"

extern const struct valid_field dash_login_query[1];
extern const struct valid_field dash_login_fields[3];
extern const struct valid_field dash_password_fields[3];
extern const struct valid_field dash_operator_fields[1];


void dash_root_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_login_page_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_login_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_logout_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_password_page_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_password_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_sessions_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_session_revoke_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
/* GET /operator/businesses[?q=TEXT]: the businesses an operator can pick,
 * verify or take back, by name; q (at most 200 characters) keeps those
 * whose name holds it (as text, case-insensitive) or whose id it is.  At
 * most DASH_BUSINESSES_SHOWN rows; the page says how many matched, so an
 * operator with more businesses searches instead of scrolling. */
#define DASH_BUSINESSES_SHOWN 200
extern const struct valid_field dash_operator_businesses_query[1];
void dash_operator_businesses_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_operator_pick_handle(struct app *app, const struct route_input *in,
	struct outcome *out);

#endif

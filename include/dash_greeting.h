/* dash_greeting: the settings page of the business's greeting.
 *
 *   GET  /settings/greeting          the greeting reminder calls open with
 *                                    (the recording, playable, or the
 *                                    synthesised one) and the form for a code
 *   POST /settings/greeting/code     "Record your greeting by phone": a task
 *                                    code (taskcode.h), shown once with when it
 *                                    expires and the number to call
 *   POST /settings/greeting/revert   back to the synthesised greeting
 *
 * Both POSTs carry the CSRF token (the dispatcher checks it), act only on
 * the business the pages show, are refused to staff (403) and are
 * recorded in the audit trail.  The page that plays the recording allows
 * media from the recording's own origin only (its
 * Content-Security-Policy). */
#ifndef RF_DASH_GREETING_H
#define RF_DASH_GREETING_H

#include "dispatch.h"

void dash_greeting_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_greeting_code_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_greeting_revert_handle(struct app *app, const struct route_input *in,
	struct outcome *out);

#endif

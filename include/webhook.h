/* webhook: the Twilio voice webhook, POST /twilio/voice/{flow}, and the
 * answer to an unknown /twilio/ path.
 *
 * The dispatcher (dispatch.h) has checked the signature, the method, the
 * form and its fields, the query and the AccountSid before the handler
 * runs; an unsigned request never gets here (403 and a summary there).
 * Signed: always 200 with valid TwiML, even for a database outage or an
 * unknown call (the apology): the caller must never hear Twilio's
 * application-error recording. */
#ifndef RF_WEBHOOK_H
#define RF_WEBHOOK_H

#include "dispatch.h"

/* The fields of a voice webhook ringfence reads; everything else is
 * ignored (but was signed over). */
enum { WV_CALL_SID, WV_ACCOUNT_SID, WV_FROM, WV_TO, WV_CALL_STATUS, WV_DIRECTION,
	WV_DIGITS, WV_ANSWERED_BY, WV_RECORDING_URL, WV_RECORDING_SID, WV_RECORDING_DURATION,
	WV_NFIELDS };
extern const struct valid_field webhook_voice_fields[WV_NFIELDS];

/* The engine's own query parameters on the URLs it gives Twilio: the
 * call's token, the state and sequence number a Gather was rendered for,
 * and on a hold's Redirect (engine.h, ENGINE_HOLD_MAX) the holds so far
 * and the Digits of the request that was held.  The whole URL is signed
 * (X-Twilio-Signature covers it), so a held request is handled exactly
 * as the original: digits= counts only when the body has no Digits. */
enum { WQ_TOKEN, WQ_STATE, WQ_SEQ, WQ_HOLD, WQ_DIGITS, WQ_NFIELDS };
extern const struct valid_field webhook_voice_query[WQ_NFIELDS];

/* POST /twilio/voice/{flow}: runs the engine; its TwiML (or the apology)
 * is the answer. */
void webhook_voice_handle(struct app *app, const struct route_input *in, struct outcome *out);

/* Any other signed POST under /twilio/: the apology, "no such webhook". */
void webhook_unknown_handle(struct app *app, const struct route_input *in, struct outcome *out);

#endif

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

/* The voice fallback webhook's fields: the voice fields, then Twilio's
 * ErrorCode and ErrorUrl. */
enum { WF_ERROR_CODE = WV_NFIELDS, WF_ERROR_URL, WF_NFIELDS };
extern const struct valid_field webhook_fallback_fields[WF_NFIELDS];

/* The path of every voice webhook URL the engine gives Twilio, before
 * its {flow}. */
#define WEBHOOK_VOICE_PREFIX "/twilio/voice/"

/* The engine's own query parameters on the URLs it gives Twilio. */
enum { WQ_TOKEN, WQ_STATE, WQ_SEQ, WQ_NFIELDS };
extern const struct valid_field webhook_voice_query[WQ_NFIELDS];

/* POST /twilio/voice/{flow}: runs the engine; its TwiML (or the apology)
 * is the answer. */
void webhook_voice_handle(struct app *app, const struct route_input *in, struct outcome *out);

/* POST /twilio/fallback/voice (twilio.h TWILIO_FALLBACK_PATH): Twilio's
 * FallbackUrl after another node failed to answer a voice webhook.  The
 * signed ErrorUrl must be a voice webhook URL (/twilio/voice/{flow} with
 * the engine's query, on any host); the request is then answered as that
 * webhook would be, with the request's own fields, and the TwiML names
 * this node's public URL.  The engine's state+seq guard turns a step the
 * failed node already committed into a replay.  Any other ErrorUrl: the
 * apology.  Counted (ringfence_webhook_fallbacks_total) and recorded
 * ("fallback": ErrorCode and ErrorUrl's path, never its query) always. */
void webhook_fallback_handle(struct app *app, const struct route_input *in, struct outcome *out);

/* Any other signed POST under /twilio/: the apology, "no such webhook". */
void webhook_unknown_handle(struct app *app, const struct route_input *in, struct outcome *out);

#endif

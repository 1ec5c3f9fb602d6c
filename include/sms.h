/* sms: texts people send to the business's Twilio number.
 *
 * Twilio honours opt-out keywords on its own (TWILIO.md): after STOP, a
 * send from that number to the person fails with 21610.  ringfence does
 * not wait for that failure: a signed inbound STOP (or OptOutType=STOP)
 * marks the sender opted out at once, so nobody even tries, but only with
 * the business(es) that text from the number it was sent to (the To: a
 * business's own twilio_from, or TWILIO_FROM_NUMBER for a business with
 * none, as the worker picks the caller id); the person's other businesses
 * are not told anything by a text they never received.  An opt-in keyword
 * changes nothing here: re-enabling a person is for the business to
 * decide.  Every text is kept in inbound_texts (keyed by its MessageSid:
 * a replay adds nothing), for the appointments' timelines, and recorded
 * in the audit trail; all are answered with an empty TwiML document (no
 * automatic reply). */
#ifndef RF_SMS_H
#define RF_SMS_H

#include "dispatch.h"

/* Whether body is an opt-out keyword (1: STOP, STOPALL, UNSUBSCRIBE,
 * CANCEL, END, QUIT), an opt-in keyword (-1: START, YES, UNSTOP) or
 * neither (0): the whole message, case-insensitive, surrounding white
 * space ignored. */
int sms_opt_keyword(const char *body);

/* The fields of an inbound text: MessageSid SM/MM + 32 lower-case hex,
 * AccountSid, From and To E.164, Body at most 1600 characters,
 * OptOutType STOP/START/HELP. */
enum { SMS_SID, SMS_ACCOUNT, SMS_FROM, SMS_TO, SMS_BODY, SMS_OPT, SMS_NFIELDS };
extern const struct valid_field sms_inbound_fields[SMS_NFIELDS];

/* POST /twilio/sms/inbound, its signature, fields and AccountSid checked
 * by the dispatcher (which answers an empty <Response/> whatever
 * happens).  Records the text in inbound_texts and applies an opt-out,
 * in one statement; out->action says what was done, and out->error (the
 * same text) why nothing was when a STOP was sent to a number no business
 * texts from or the database could not record it. */
void sms_inbound_handle(struct app *app, const struct route_input *in, struct outcome *out);

#endif

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
 * decide.  Other texts are recorded in the audit trail and answered with
 * an empty TwiML document (no automatic reply). */
#ifndef RF_SMS_H
#define RF_SMS_H

struct app;
struct http_request;
struct http_response;
struct params;

/* Whether body is an opt-out keyword (1: STOP, STOPALL, UNSUBSCRIBE,
 * CANCEL, END, QUIT), an opt-in keyword (-1: START, YES, UNSTOP) or
 * neither (0): the whole message, case-insensitive, surrounding white
 * space ignored. */
int sms_opt_keyword(const char *body);

/* POST /twilio/sms/inbound, already signature-checked.  Validates the
 * fields (MessageSid SM/MM + 32 lower-case hex, AccountSid, From and To
 * E.164, Body at most 1600 characters, OptOutType STOP/START/HELP),
 * checks that AccountSid is this deployment's, applies an opt-out and
 * always answers 200 with an empty <Response/>.  *note gets what was done
 * or why nothing was, for the audit (arena-owned or static); returns 0,
 * or -1 when the text was refused (invalid field, another account), sent
 * to a number no business texts from, or the opt-out could not be
 * recorded: nothing was changed then, and the note is the error. */
int sms_inbound_handle(struct app *app, struct http_request *req, struct http_response *res,
	const struct params *form, const char **note);

#endif

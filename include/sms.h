/* sms: texts people send to the business's Twilio number.
 *
 * Twilio honours opt-out keywords on its own (TWILIO.md): after STOP, a
 * send to that number fails with 21610.  ringfence does not wait for that
 * failure: a signed inbound STOP (or OptOutType=STOP) marks every client
 * with the number opted out at once, so nobody even tries.  An opt-in
 * keyword changes nothing here: re-enabling a person is for the business
 * to decide.  Other texts are recorded in the audit trail and answered
 * with an empty TwiML document (no automatic reply). */
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

/* POST /twilio/sms/inbound, already signature-checked: applies an
 * opt-out and answers 200 with an empty <Response/>.  *note gets what was
 * done, for the audit (arena-owned or static); returns 0, or -1 when the
 * opt-out could not be recorded (the answer is still valid TwiML). */
int sms_inbound_handle(struct app *app, struct http_request *req, struct http_response *res,
	const struct params *form, const char **note);

#endif

/* webhook: the Twilio webhook path, /twilio/...
 *
 * The signature is checked before anything else is answered: over the URL
 * and the parsed form of a form POST, over the URL (and bodySHA256) of
 * anything else.  A form body that cannot be parsed cannot be signed.
 * Unsigned or badly signed: 403 text/plain, recorded only as a bounded
 * summary (audit_rejected), nothing from the body trusted or stored.  A
 * body over HTTP_MAX_BODY: 413 text/plain (no signature can be checked),
 * summarised the same way.  Signed: always 200 with valid TwiML, even for
 * a wrong method or content type, invalid fields, an unknown webhook path,
 * a database outage or an unknown call (the apology, or an empty
 * <Response/> for messaging and status webhooks), and audited in full
 * with its parameters (secrets redacted), verdict, response and latency:
 * the caller must never hear Twilio's application-error recording. */
#ifndef RF_WEBHOOK_H
#define RF_WEBHOOK_H

struct app;
struct http_request;
struct http_response;

void webhook_handle(struct app *app, struct http_request *req, struct http_response *res);

#endif

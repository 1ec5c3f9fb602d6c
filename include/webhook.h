/* webhook: the Twilio webhook path, POST /twilio/...
 *
 * Every request is signature-checked (403 and audited when the signature
 * is missing or wrong), its fields validated, handled, and audited with
 * its parameters (secrets redacted), verdict, response and latency.  A
 * signed request is always answered 200 with valid TwiML, even when the
 * database is down or the call is unknown: the caller must never hear
 * Twilio's application-error recording. */
#ifndef RF_WEBHOOK_H
#define RF_WEBHOOK_H

struct app;
struct http_request;
struct http_response;

void webhook_handle(struct app *app, struct http_request *req, struct http_response *res);

#endif

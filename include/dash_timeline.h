/* dash_timeline: GET /appointments/{id}, one appointment and everything
 * that happened to it, oldest first: created, reminders planned,
 * replaced and cancelled, each attempt (claimed, placed with its SID,
 * settled, Twilio's status), every call's transitions and key presses
 * ("pressed 1 → confirmed"), confirmations, cancellations, call-back
 * requests, decisions and test reminders.  Each entry of an attempt or a
 * call links to its audit records from Redis (audit_read: the call's
 * stream by CallSid, the attempt's stream, the business's stream
 * filtered by this appointment), shown escaped in <pre> with secrets
 * masked (audit.c's redaction, and again here by field name).  When
 * Redis cannot be read the page still shows the database's timeline,
 * with a note that the records are unavailable. */
#ifndef RF_DASH_TIMELINE_H
#define RF_DASH_TIMELINE_H

struct app;
struct route_input;
struct outcome;
struct json_t;

/* Masks secrets in v, in place: the value of every member whose name
 * looks secret (auth token, password, token, secret, API key,
 * authorization, signature; case and '_' '-' ignored) becomes
 * "[redacted]", and every registered secret (audit_add_secret) inside a
 * string is replaced.  Returns v. */
struct json_t *dash_timeline_mask(struct json_t *v);

void dash_timeline_handle(struct app *app, const struct route_input *in, struct outcome *out);

#endif

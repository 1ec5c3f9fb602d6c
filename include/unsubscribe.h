/* unsubscribe: the one-click unsubscribe link of reminder emails
 * (RFC 8058), and the page behind it.
 *
 * Every reminder email carries
 *   List-Unsubscribe: <PUBLIC_URL/unsubscribe?c=CLIENT&b=BUSINESS&t=TOKEN>
 *   List-Unsubscribe-Post: List-Unsubscribe=One-Click
 * and the same link in its text and HTML parts.  TOKEN is the lowercase
 * hex HMAC-SHA256 of "CLIENT:BUSINESS" under a key derived from
 * TWILIO_AUTH_TOKEN (HMAC-SHA256(TWILIO_AUTH_TOKEN, "ringfence unsubscribe
 * v1")): only ringfence can make one, and it names exactly one client of
 * one business.  Rotating TWILIO_AUTH_TOKEN invalidates the links of
 * emails already sent.
 *
 *   POST with body List-Unsubscribe=One-Click (form-urlencoded or
 *     multipart/form-data, as mail providers send it): sets the client's
 *     opted_out_at at once (every channel of that business stops: the
 *     claim refuses an opted-out client), audited; 200 with a page.
 *   GET: a page with a confirm button (a form POST of the same body);
 *     it never unsubscribes by itself, since link scanners fetch links.
 *   A missing, malformed or unverifiable token: 400 / 403 page, nothing
 *     changed; an unknown client 404; a database error 503, nothing
 *     changed (try again). */
#ifndef RF_UNSUBSCRIBE_H
#define RF_UNSUBSCRIBE_H

#include "dispatch.h"

struct config;

/* 64 lowercase hex digits. */
#define UNSUBSCRIBE_TOKEN_LEN 64

/* Writes the token for (client_id, business_id) under secret into out
 * (65 bytes).  0, or -1 when secret is NULL or empty or an id is not
 * positive (there is then no link: fail closed). */
int unsubscribe_token(const char *secret, long long client_id, long long business_id,
	char out[UNSUBSCRIBE_TOKEN_LEN + 1]);

/* 1 when token is the token of (client_id, business_id) under secret
 * (compared in constant time), 0 otherwise, also for a NULL or empty
 * secret or a token of the wrong length. */
int unsubscribe_verify(const char *secret, long long client_id, long long business_id,
	const char *token);

/* "<public_url>/unsubscribe?c=..&b=..&t=..", malloc'd (caller frees), or
 * NULL when cfg has no public URL or no auth token. */
char *unsubscribe_url(const struct config *cfg, long long client_id, long long business_id);

/* The link's query: c, b and t exactly once each (a query_strict route). */
enum { UQ_CLIENT, UQ_BUSINESS, UQ_TOKEN, UQ_NFIELDS };
extern const struct valid_field unsubscribe_query[UQ_NFIELDS];

/* The handler of GET and POST /unsubscribe (the dispatcher answers any
 * other method 405, and renders the page the handler chooses). */
void unsubscribe_handle(struct app *app, const struct route_input *in, struct outcome *out);

#endif

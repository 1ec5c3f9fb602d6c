/* sim_http: the outgoing HTTP requests the simulator makes as Twilio:
 * form-encoded POSTs (and GETs) signed with X-Twilio-Signature exactly as
 * signature.c checks them, with a hard timeout, a capped response size
 * and the response's status, content type and body kept for the
 * transcript.  libcurl underneath; every request has a timeout. */
#ifndef RF_SIM_HTTP_H
#define RF_SIM_HTTP_H

#include <stddef.h>

#include "buf.h"

struct params;

/* Responses larger than this are cut and reported as a failure. */
#define SIM_HTTP_MAX_RESPONSE (1024 * 1024)

struct sim_http_response {
	int status;              /* HTTP status, 0 when there was no answer */
	char content_type[128];  /* as sent, "" when none */
	struct buf body;         /* owned; NUL-terminated through buf_str */
	int timed_out;           /* 1 when timeout_ms passed first */
	int no_connection;       /* 1 when no TCP connection could be made (refused, unreachable) */
	char error[256];         /* curl's reason when status is 0 */
	long long elapsed_ms;
};

void sim_http_response_init(struct sim_http_response *r);
void sim_http_response_free(struct sim_http_response *r);

/* Sends method ("POST": params as the form body; "GET": params appended to
 * url's query) to url, signed with auth_token (NULL: unsigned), with
 * User-Agent TwilioProxy/1.1.  Returns 0 when an HTTP answer came (any
 * status), -1 otherwise (r->error says why). */
int sim_http_request(const char *method, const char *url, const struct params *params,
	const char *auth_token, int timeout_ms, struct sim_http_response *r);

/* Fetches url with GET, unsigned, for Play: the same result fields. */
int sim_http_get(const char *url, int timeout_ms, struct sim_http_response *r);

#endif

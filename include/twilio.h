/* twilio: the REST client that places calls and sends texts (libcurl,
 * HTTP Basic with the account SID and auth token, form-encoded POSTs,
 * JSON answers read with jansson).
 *
 * Every request has a 5 s connect timeout and a 15 s total timeout.  The
 * outcome says what is known, never more: a timeout, a transport error, a
 * 5xx or a body that cannot be read is TWILIO_UNKNOWN, because Twilio may
 * have accepted the request; only a 4xx carrying Twilio's error JSON is a
 * definite TWILIO_REJECTED.  These functions do not check the allow-list,
 * the rate limits or the failsafe: the one send function of the worker
 * does, before it calls them, and the two that contact someone
 * (twilio_call_create, twilio_message_create) take the grant it makes
 * (outbound_grant.h), so nothing else can call them.  Listing and
 * fetching (twilio_find, twilio_fetch) only read, and need none. */
#ifndef RF_TWILIO_H
#define RF_TWILIO_H

#include <jansson.h>
#include <stddef.h>

struct config;
struct outbound_grant;

enum twilio_outcome {
	TWILIO_OK,       /* 2xx with a sid */
	TWILIO_REJECTED, /* 4xx with a code (429 is code 20429) */
	TWILIO_UNKNOWN,  /* timeout, transport error, 5xx, unparsable */
};

struct twilio_result {
	int outcome;              /* enum twilio_outcome */
	int http_status;          /* 0 when no answer arrived */
	char sid[40];             /* CA.../SM...: always with TWILIO_OK; with
	                           * TWILIO_UNKNOWN when the answer (a 5xx, say)
	                           * still carried a well-formed sid of the
	                           * resource, so it can be fetched later; else "" */
	char status[32];          /* Twilio's status of the new resource */
	int error_code;           /* Twilio's code for TWILIO_REJECTED, else 0 */
	char error_message[256];  /* Twilio's message, or why the outcome is unknown */
	long long elapsed_ms;
	char *request_redacted;   /* owned: the request without secrets, for the audit */
	char *response_body;      /* owned: the answer as received (capped), or NULL */
};

/* Frees the owned strings of r and clears it; safe on a zeroed result. */
void twilio_result_free(struct twilio_result *r);

/* The path of the voice fallback webhook: with RINGFENCE_FALLBACK_URL set,
 * every call is created with FallbackUrl=<that origin> TWILIO_FALLBACK_PATH
 * and FallbackMethod=POST. */
#define TWILIO_FALLBACK_PATH "/twilio/fallback/voice"

struct twilio_call_request {
	const char *to, *from, *url, *status_callback; /* status_callback may be NULL */
	int timeout_s;          /* ring time; 0 leaves Twilio's default */
	int machine_detection;  /* non-zero: MachineDetection=Enable */
};

/* POST Calls.json.  grant: outbound_send's, for rq->to.  out is filled in
 * every case (free it with twilio_result_free).  Returns 0 when the
 * request was attempted (look at out->outcome), -1 without a grant for
 * rq->to or on bad arguments or configuration: nothing was sent,
 * out->outcome is TWILIO_REJECTED with error_code 0 and the reason in
 * error_message. */
int twilio_call_create(const struct outbound_grant *grant, const struct config *cfg,
	const struct twilio_call_request *rq, struct twilio_result *out);

/* POST Messages.json with To, From, Body and StatusCallback (may be
 * NULL).  grant: outbound_send's, for to.  Returns as twilio_call_create. */
int twilio_message_create(const struct outbound_grant *grant, const struct config *cfg,
	const char *to, const char *from, const char *body, const char *status_callback,
	struct twilio_result *out);

struct twilio_found {
	char sid[40];
	char status[32];
	long long created_s;    /* date_created as Unix seconds */
};

/* Lists the account's calls ("calls") or messages ("messages") to `to`
 * and keeps those created at or after since_s.  No date filter is sent:
 * Twilio applies StartTime to start_time and DateSent to date_sent, both
 * empty while a call waits in the calls-per-second queue or a message is
 * queued, accepted or scheduled, and those must be found.  So the whole
 * list to that number is read, following next_page_uri (PageSize 100, at
 * most 50 pages), and date_created is compared here; the list's order is
 * not relied on.  Up to max rows go to found, *n gets their number.
 * Returns 0 only when every page was read; -1 when anything is in doubt
 * (transport error, an HTTP status other than 200, an unreadable page or
 * entry, the page cap reached with more pages left, more than max rows
 * since since_s), *n is then 0 and nothing can be concluded. */
int twilio_find(const struct config *cfg, const char *kind, const char *to,
	long long since_s, struct twilio_found *found, size_t max, size_t *n);

/* Reads every call ("calls") or message ("messages") of the account,
 * inbound and outbound, created at or after since_s (date_created), and
 * calls each(ctx, item, f) for each (item: Twilio's JSON object, borrowed
 * for the call; f its sid, status and date_created).  No filter is sent
 * (see twilio_find); pages of 200 are followed through next_page_uri
 * until a page holds nothing as recent as since_s, or the last page.
 * Returns 0 when that end was reached; -1 when anything is in doubt
 * (transport error, HTTP status other than 200, an unreadable page or
 * entry, more than 5000 pages, or each returned -1): what each was
 * given then is not the whole list. */
int twilio_list(const struct config *cfg, const char *kind, long long since_s,
	int (*each)(void *ctx, json_t *item, const struct twilio_found *f), void *ctx);

enum twilio_lookup {
	TWILIO_LOOKUP_FOUND = 1,      /* Twilio has it, in any status */
	TWILIO_LOOKUP_NOT_FOUND = 0,  /* HTTP 404 with Twilio's code 20404 */
	TWILIO_LOOKUP_DOUBT = -1,     /* anything else: nothing can be concluded */
};

/* GET Calls/{sid}.json ("calls") or Messages/{sid}.json ("messages").
 * Returns an enum twilio_lookup; with TWILIO_LOOKUP_FOUND, out has the
 * sid, status and date_created.  A 404 without Twilio's 20404 error body
 * (a proxy's page, say), a 5xx, a timeout, a body that cannot be read or
 * that names another sid are all TWILIO_LOOKUP_DOUBT. */
int twilio_fetch(const struct config *cfg, const char *kind, const char *sid,
	struct twilio_found *out);

/* 1 when s is a sid of kind ("calls": CA, "messages": SM or MM, then 32
 * hex digits), else 0. */
int twilio_sid_valid(const char *kind, const char *s);

#endif

/* api_idem: the Idempotency-Key of the JSON API's POST and PATCH
 * requests.
 *
 * A client that may retry a request (a timeout, a lost answer) sends
 * "Idempotency-Key: <1 to 255 printable ASCII characters>".  Per
 * (business, key) PostgreSQL keeps (table api_idempotency, sql/
 * 008_api.sql) the SHA-256 of the request (method, path and body) and the
 * first answer (status, body, Location) for 24 hours:
 *   - the first request with a key runs; its answer is stored;
 *   - a retry with the same key and the same request gets the stored
 *     answer again (same status, same body, plus "Idempotent-Replayed:
 *     true") and changes nothing;
 *   - the same key with another method, path or body: 422
 *     idempotency_key_reused, nothing changed;
 *   - while the first request with the key is still running: 409
 *     idempotency_key_in_use (the first holds a PostgreSQL advisory lock
 *     named after the key for as long as it runs);
 *   - when the first request's process died before its answer was stored,
 *     nobody knows whether it changed anything: 409 as well, saying so,
 *     until the row expires.  Never a second run: a second booking would
 *     mean a second reminder to the same person.
 * An answer 503 (the database failed, "nothing was changed") is not
 * stored, nor one given before the route's handler ran (a body refused
 * as not JSON, too large or with invalid fields), so the retry runs
 * again.  A request without the header is not
 * idempotent; GET ignores the header.  Expired rows are pruned as new
 * keys arrive. */
#ifndef RF_API_IDEM_H
#define RF_API_IDEM_H

#define API_IDEM_KEY_MAX 255

struct app;
struct http_request;
struct http_response;
struct outcome;

/* The state of one request's key, between api_idem_begin and
 * api_idem_finish.  Strings live in the request arena. */
struct api_idem {
	int owned;                  /* 1: this request runs first and holds the lock */
	int replay;                 /* 1: answer with status, body and location */
	char business[24];
	const char *key;
	char lock[24];              /* the advisory lock's number, as text */
	int status;
	const char *body;
	const char *location;       /* or NULL */
};

/* Before the request's body is read: the key of req (an authenticated
 * API request of business_id).  Returns 0 when the request is to run (no
 * key, a GET, or owned: call api_idem_finish after the answer is
 * rendered), 1 when st->replay holds the first answer (api_idem_replay
 * writes it), -1 after setting an error on out (400 bad key, 409, 422,
 * 503). */
int api_idem_begin(struct app *app, struct http_request *req, long long business_id,
	struct api_idem *st, struct outcome *out);

/* Writes the stored first answer into res. */
void api_idem_replay(const struct api_idem *st, struct http_response *res);

/* After an owned request's answer res (with its Location header value,
 * or NULL) is rendered: stores it and releases the lock.  The row is
 * dropped instead when the route's handler did not run (handled 0: the
 * body was refused before it, 400, 413, 415 or 422 from the dispatcher)
 * or answered 503, so that the corrected or later retry runs.  A no-op
 * unless st->owned. */
void api_idem_finish(struct app *app, struct api_idem *st, const struct http_response *res,
	const char *location, int handled);

#endif

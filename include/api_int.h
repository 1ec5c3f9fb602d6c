/* api_int: what the JSON API's source files (api.c, api_clients.c) share:
 * one request's context and the answers every handler gives.  Not for
 * use outside src/api*.c. */
#ifndef RF_API_INT_H
#define RF_API_INT_H

#include "dispatch.h"

#include <jansson.h>
#include <libpq-fe.h>

struct app;
struct http_request;

#define API_PREFIX "/api/v1/"

/* A timestamptz column as RFC 3339 UTC, whole seconds (NULL stays NULL). */
#define API_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Lists: how many items a page holds. */
#define API_LIMIT_DEFAULT 50
#define API_LIMIT_MAX 200

/* One request as the handlers see it.  Strings live in the request arena
 * or are literals. */
struct api_ctx {
	struct app *app;
	struct http_request *req;
	struct outcome *out;
	const struct valid_value *members; /* the route's JSON members, validated */
	json_t *json;               /* the body itself (borrowed), for explicit nulls */
	const char *business;       /* the authenticated business's id as text */
};

void api_ctx_init(struct api_ctx *c, struct app *app, const struct route_input *in,
	struct outcome *out);

/* Answers status with obj (consumed) as the JSON body. */
void api_send_json(struct api_ctx *c, int status, json_t *obj);

/* Answers an error; field (may be NULL) is the input field to blame. */
void api_error(struct api_ctx *c, int status, const char *code, const char *field,
	const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The database failed: 503, nothing was changed (the caller rolled back). */
void api_unavailable(struct api_ctx *c);

/* A body that must be empty or the empty JSON object {} (a POST that
 * acts on its path alone).  0, or -1 after answering (413, 415, 400,
 * 422). */
int api_empty_body(struct api_ctx *c);

/* The query of a list: every parameter one of known (NULL-terminated)
 * and given at most once.  0, or -1 after answering 400 naming the
 * parameter. */
int api_query_check(struct api_ctx *c, const char *const *known);

/* The value of query parameter name, or NULL when absent. */
const char *api_query(struct api_ctx *c, const char *name);

/* The "limit" parameter (API_LIMIT_DEFAULT when absent).  0, or -1 after
 * answering 422. */
int api_query_limit(struct api_ctx *c, int *limit);

/* The page cursor: hex of "v1:<a>:<b>" (two integers; what they mean is
 * the list's), so that clients treat it as opaque.  The encoder writes
 * into the request arena; the decoder takes only what the encoder writes
 * (no sign, space, leading zero or overflow) and returns 0, or -1 after
 * answering 422 naming "cursor". */
const char *api_cursor_encode(struct api_ctx *c, long long a, long long b);
int api_cursor_decode(struct api_ctx *c, const char *s, long long *a, long long *b);

/* Answers a list page from res, whose rows are the item's JSON text in
 * column 0 and the cursor's keys: at most limit items (the statement
 * asked for limit + 1 rows to know whether there are more), as
 * {"data": [...], "next_cursor": ...}.  next_cursor names the last item
 * shown by its columns key_a (-1: 0) and key_b, or is null on the last
 * page.  Does not free res. */
void api_send_rows(struct api_ctx *c, PGresult *res, int limit, int key_a, int key_b);

#endif

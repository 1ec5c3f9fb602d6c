/* http: one FastCGI request as the handlers see it, and its response.
 *
 * http_request_read copies everything a handler may need out of the
 * FastCGI parameters (whose pointers die at the next accept) into the
 * request arena, reads the body up to a cap, and parses the query string.
 * A body over the cap is read and thrown away (only its SHA-256 is kept,
 * for the audit's summary): the application never holds more than
 * HTTP_MAX_BODY bytes of it, and nginx gets its whole request taken.
 * Handlers fill struct http_response; http_response_send writes it.
 * Request and response both live in the request arena (arena.h): nothing
 * here is freed before the arena is reset after FCGX_Finish_r. */
#ifndef RF_HTTP_H
#define RF_HTTP_H

#include <stddef.h>
#include <fcgiapp.h>

#include "buf.h"
#include "form.h"

struct arena;

/* Bodies larger than this are refused (413 or 403) and not kept. */
#define HTTP_MAX_BODY (64 * 1024)
/* A multipart/form-data body (a file upload) is kept up to this size;
 * the route's body_max then decides (dispatch.c). */
#define HTTP_MAX_UPLOAD (2 * 1024 * 1024)
/* A refused body is drained at most this far (nginx lets 1 MiB through);
 * past it the connection is simply closed. */
#define HTTP_MAX_DRAIN (4 * 1024 * 1024)

/* A request id (nginx's REQUEST_ID parameter, which it sends back as
 * X-Request-Id) is 8 to 64 characters of [A-Za-z0-9._-]; anything else
 * is replaced by one of ringfence's own. */
#define HTTP_REQUEST_ID_MIN 8
#define HTTP_REQUEST_ID_MAX 64

struct http_request {
	struct arena *arena;        /* owner of every pointer below */
	const char *method;         /* "GET", "POST", ... */
	const char *request_uri;    /* raw, as sent: path and query */
	const char *path;           /* request_uri up to '?' (not decoded) */
	const char *query;          /* after '?', "" when none */
	const char *content_type;   /* "" when none */
	const char *remote_addr;
	const char *twilio_signature; /* X-Twilio-Signature or NULL */
	const char *cookie;         /* Cookie header or NULL */
	const char *authorization;  /* Authorization header or NULL */
	const char *idempotency_key; /* Idempotency-Key header or NULL (the JSON API's) */
	const char *user_agent;     /* or "" */
	char request_id[HTTP_REQUEST_ID_MAX + 1]; /* nginx's REQUEST_ID when valid, else
	                               16 random hex digits: in every log line and
	                               audit record of the request */
	const char *body;           /* NUL-terminated copy, "" when none */
	size_t body_len;
	long long content_length;   /* as announced, -1 when absent or malformed */
	int body_too_large;         /* announced length over HTTP_MAX_BODY (HTTP_MAX_UPLOAD
	                               for multipart/form-data): body not kept */
	long long body_received;    /* bytes of body read, kept or drained */
	char body_sha256[65];       /* hex SHA-256 of what was read; "" until
	                               http_request_digest (set for a drained body) */
	int query_ok;               /* query parsed without error */
	struct params query_params; /* valid when query_ok */
	long long start_ms;
};

struct http_response {
	int status;                 /* 200 unless set */
	const char *content_type;   /* NULL: "text/plain; charset=utf-8" */
	struct buf body;            /* in the request arena */
	struct buf headers;         /* extra "Name: value\r\n" lines, in the arena too */
	const char *cache_control;  /* NULL: "no-store" (every answer but a static file) */
};

/* Whether s is a request id of the form above. */
int http_request_id_valid(const char *s);

/* Fills req from fcgx, and sets the log's request id (log.h); 0, or -1
 * when the request is unusable (no method or URI, or a read error), in
 * which case the caller answers 400. */
int http_request_read(FCGX_Request *fcgx, struct arena *a, struct http_request *req);

/* The hex SHA-256 of the body as read (a drained body's too), computed
 * once; "" only if the crypto library fails. */
const char *http_request_digest(struct http_request *req);

/* A 200 with no body whose buffers grow in arena a (nothing to free). */
void http_response_init(struct http_response *res, struct arena *a);
/* Sets status, content type and a plain body in one go. */
void http_response_text(struct http_response *res, int status, const char *text);
void http_response_header(struct http_response *res, const char *name, const char *value);
/* Writes status line, headers and body to fcgx's output stream. */
int http_response_send(FCGX_Request *fcgx, const struct http_response *res);

const char *http_status_text(int status);

#endif

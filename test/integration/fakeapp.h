/* fakeapp: a small HTTP/1.1 server inside the integration binary that
 * plays a programmable application for the local Twilio simulator.
 *
 * It listens on 127.0.0.1 on a port the kernel picks, answers each
 * connection on a thread of its own (one request per connection,
 * Connection: close), serves per path the document it was given (status,
 * content type, body, and a delay before answering) and 404 for any other
 * path, and records every request (method, path and query as sent,
 * headers, body) for the tests to inspect.  Plain POSIX sockets; every
 * socket has a receive and send timeout.
 *
 * Every function is safe to call from any thread; none of them uses
 * cmocka, so failures come back as return codes. */
#ifndef RF_FAKEAPP_H
#define RF_FAKEAPP_H

#include <stddef.h>

struct fakeapp;

struct fakeapp_header {
	char *name;
	char *value;
};

struct fakeapp_request {
	char method[16];
	char *target;                   /* path and query as sent ("/a/b?x=1") */
	char *path;                     /* target without its query */
	struct fakeapp_header *headers; /* in the order sent */
	size_t nheaders;
	char *body;                     /* NUL-terminated ("" when none) */
	size_t body_len;
	long long at_ms;                /* monotonic milliseconds when it arrived */
};

/* Starts a server.  Returns 0, or -1 with a one-line reason in err. */
int fakeapp_start(struct fakeapp **out, char *err, size_t errlen);

/* Stops the server, waits for the connections in progress (a delayed
 * answer is cut short) and frees everything.  NULL is a no-op. */
void fakeapp_stop(struct fakeapp *fa);

/* "http://127.0.0.1:PORT", no trailing slash. */
const char *fakeapp_url(const struct fakeapp *fa);

/* Serves path (exact, without a query) with status, content_type (NULL:
 * no Content-Type header at all) and body, after delay_ms.  Replaces what
 * path served before.  Returns 0, or -1 for a bad argument (a path not
 * starting with '/', a status outside 100..599, a negative delay). */
int fakeapp_serve(struct fakeapp *fa, const char *path, int status, const char *content_type,
	const char *body, long delay_ms);

/* How many requests to path (NULL: any) arrived so far. */
size_t fakeapp_count(struct fakeapp *fa, const char *path);

/* Waits up to timeout_ms until at least n requests to path (NULL: any)
 * arrived.  Returns how many there are at the end (may be below n). */
size_t fakeapp_wait(struct fakeapp *fa, const char *path, size_t n, long timeout_ms);

/* Copies of the requests to path (NULL: all), in the order they arrived,
 * into *out (NULL when none); returns their number.  Free them with
 * fakeapp_requests_free. */
size_t fakeapp_requests(struct fakeapp *fa, const char *path, struct fakeapp_request **out);
void fakeapp_requests_free(struct fakeapp_request *r, size_t n);

/* The first value of header name (ASCII case-insensitive), or NULL. */
const char *fakeapp_header(const struct fakeapp_request *r, const char *name);

#endif

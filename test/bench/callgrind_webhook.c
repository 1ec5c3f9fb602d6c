/* callgrind_webhook: a pool worker's path for one webhook, in process,
 * for `valgrind --tool=callgrind --toggle-collect=measured`.
 *
 *   callgrind_webhook WARMUP N < requests.tsv
 *
 * Reads the signed requests of gen_requests ("URI<TAB>X-Twilio-Signature
 * <TAB>form body" lines), builds the state of a pool worker with the
 * application's own service (app_fcgi_service: configuration, flows, its
 * PostgreSQL and Redis connections, the audit record deferred) and serves
 * each request exactly as worker_run does between two accepts:
 * fcgi_answer on FastCGI streams of its own (the parameters nginx sends,
 * the body as FCGX_GetStr reads it, the answer into a buffer), then
 * fcgi_after (the deferred audit record, the arena's reset).  The first
 * WARMUP requests go through warm() (connections opened, statements
 * prepared, caches filled), the next N through measured(), the only
 * function callgrind counts.  Every answer must be a 200 with a TwiML
 * document; otherwise it says which and exits 1.  Built by
 * test/bench/callgrind_webhook with bench_tool. */
#include "app.h"
#include "arena.h"
#include "fcgi.h"

#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE 8192
#define OUT_SIZE 65536

/* The answer, as libfcgi's writer stream would send it to nginx. */
static unsigned char out_buf[OUT_SIZE];

/* The request's body is all there is: the stream ends after it. */
static void in_fill(FCGX_Stream *s)
{
	s->isClosed = 1;
}

/* The answer is larger than out_buf: kept from the start, the rest
 * counted as written. */
static void out_empty(FCGX_Stream *s, int doClose)
{
	(void)doClose;
	s->wrNext = s->stop;
}

struct request {
	char *env[24];
	char vals[24][MAX_LINE + 32];
	int n;
};

static void put(struct request *r, const char *name, const char *value)
{
	snprintf(r->vals[r->n], sizeof(r->vals[r->n]), "%s=%s", name, value);
	r->env[r->n] = r->vals[r->n];
	r->n++;
	r->env[r->n] = NULL;
}

/* Serves one "URI\tsig\tbody" line; 0, or -1 when the answer is not a
 * 200 with TwiML (said on stderr). */
static int serve(const struct fcgi_service *svc, void *state, struct arena *arena, char *line,
	long seq)
{
	static struct request r;
	char *uri = line, *sig, *body, *q, len[24], rid[40];
	FCGX_Stream in, out;
	FCGX_Request fcgx;

	sig = strchr(uri, '\t');
	body = sig ? strchr(sig + 1, '\t') : NULL;
	if (body == NULL) {
		fprintf(stderr, "callgrind_webhook: line %ld is not URI<TAB>signature<TAB>body\n", seq);
		return -1;
	}
	*sig++ = '\0';
	*body++ = '\0';
	body[strcspn(body, "\r\n")] = '\0';
	q = strchr(uri, '?');
	snprintf(len, sizeof(len), "%zu", strlen(body));
	snprintf(rid, sizeof(rid), "%032lx", 0xbe4c0000UL + (unsigned long)seq);

	/* The parameters of nginx/ringfence.conf.in's location, in its order. */
	r.n = 0;
	put(&r, "QUERY_STRING", q ? q + 1 : "");
	put(&r, "REQUEST_METHOD", "POST");
	put(&r, "CONTENT_TYPE", "application/x-www-form-urlencoded");
	put(&r, "CONTENT_LENGTH", len);
	put(&r, "SCRIPT_NAME", "/twilio/voice/reminder_call");
	put(&r, "REQUEST_URI", uri);
	put(&r, "DOCUMENT_URI", "/twilio/voice/reminder_call");
	put(&r, "SERVER_PROTOCOL", "HTTP/1.1");
	put(&r, "REQUEST_SCHEME", "http");
	put(&r, "GATEWAY_INTERFACE", "CGI/1.1");
	put(&r, "SERVER_SOFTWARE", "nginx");
	put(&r, "REMOTE_ADDR", "127.0.0.1");
	put(&r, "REMOTE_PORT", "50412");
	put(&r, "SERVER_ADDR", "127.0.0.1");
	put(&r, "SERVER_PORT", "8080");
	put(&r, "SERVER_NAME", "localhost");
	put(&r, "HTTP_PROXY", "");
	put(&r, "REQUEST_ID", rid);
	put(&r, "HTTP_HOST", "localhost");
	put(&r, "HTTP_USER_AGENT", "TwilioProxy/1.1");
	put(&r, "HTTP_X_TWILIO_SIGNATURE", sig);
	put(&r, "HTTP_CONTENT_TYPE", "application/x-www-form-urlencoded");

	memset(&in, 0, sizeof(in));
	in.rdNext = in.stopUnget = (unsigned char *)body;
	in.stop = (unsigned char *)body + strlen(body);
	in.wrNext = in.stop;
	in.isReader = 1;
	in.fillBuffProc = in_fill;
	memset(&out, 0, sizeof(out));
	out.wrNext = out_buf;
	out.stop = out_buf + sizeof(out_buf) - 1;
	out.rdNext = out.stop;
	out.emptyBuffProc = out_empty;
	memset(&fcgx, 0, sizeof(fcgx));
	fcgx.envp = r.env;
	fcgx.in = &in;
	fcgx.out = &out;
	fcgx.err = &out;

	fcgi_answer(svc, state, &fcgx, arena);
	*out.wrNext = '\0';
	fcgi_after(svc, state, arena);
	if (strncmp((char *)out_buf, "Status: 200 ", 12) != 0 ||
		strstr((char *)out_buf, "<Response>") == NULL) {
		fprintf(stderr, "callgrind_webhook: request %ld (%s) was answered:\n%s\n", seq, uri,
			(char *)out_buf);
		return -1;
	}
	return 0;
}

/* Two functions around serve, so that callgrind counts only the second;
 * each counts its requests, so that the compiler cannot fold them into
 * one. */
static volatile long warmed, counted;

__attribute__((noinline)) static int warm(const struct fcgi_service *svc, void *state,
	struct arena *arena, char *line, long seq)
{
	warmed++;
	return serve(svc, state, arena, line, seq);
}

__attribute__((noinline)) int measured(const struct fcgi_service *svc, void *state,
	struct arena *arena, char *line, long seq)
{
	counted++;
	return serve(svc, state, arena, line, seq);
}

int main(int argc, char **argv)
{
	const struct fcgi_service *svc = app_fcgi_service();
	static char line[MAX_LINE];
	void *state = NULL;
	struct arena *arena;
	char err[256], *end;
	long warmup, n, seq = 0;
	int rc = 0;

	if (argc != 3 || (warmup = strtol(argv[1], &end, 10)) < 0 || *end ||
		(n = strtol(argv[2], &end, 10)) < 1 || *end) {
		fprintf(stderr, "usage: callgrind_webhook WARMUP N < requests.tsv\n");
		return 2;
	}
	if (svc->init(&state, err, sizeof(err)) < 0) {
		fprintf(stderr, "callgrind_webhook: %s\n", err);
		return 1;
	}
	/* As worker_run sizes it. */
	arena = arena_new(16384);
	while (rc == 0 && seq < warmup + n && fgets(line, sizeof(line), stdin)) {
		rc = seq < warmup ? warm(svc, state, arena, line, seq)
				  : measured(svc, state, arena, line, seq);
		seq++;
	}
	if (rc == 0 && seq < warmup + n) {
		fprintf(stderr, "callgrind_webhook: only %ld requests in the input, %ld wanted\n", seq,
			warmup + n);
		rc = -1;
	}
	arena_free(arena);
	svc->free(state);
	if (rc == 0)
		printf("served %ld requests (%ld measured)\n", warmed + counted, counted);
	return rc == 0 ? 0 : 1;
}

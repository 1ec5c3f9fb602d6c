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

/* What nginx would hand the worker for one request. */
struct fake {
	struct request r;
	FCGX_Stream in, out;
	FCGX_Request fcgx;
	const char *uri;
};

/* Sets f up for one "URI\tsig\tbody" line; 0, or -1 when the line is
 * not one (said on stderr). */
static int prepare(struct fake *f, char *line, long seq)
{
	struct request *rq = &f->r;
	char *uri = line, *sig, *body, *q, len[24], rid[40];

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
	rq->n = 0;
	put(rq, "QUERY_STRING", q ? q + 1 : "");
	put(rq, "REQUEST_METHOD", "POST");
	put(rq, "CONTENT_TYPE", "application/x-www-form-urlencoded");
	put(rq, "CONTENT_LENGTH", len);
	put(rq, "SCRIPT_NAME", "/twilio/voice/reminder_call");
	put(rq, "REQUEST_URI", uri);
	put(rq, "DOCUMENT_URI", "/twilio/voice/reminder_call");
	put(rq, "SERVER_PROTOCOL", "HTTP/1.1");
	put(rq, "REQUEST_SCHEME", "http");
	put(rq, "GATEWAY_INTERFACE", "CGI/1.1");
	put(rq, "SERVER_SOFTWARE", "nginx");
	put(rq, "REMOTE_ADDR", "127.0.0.1");
	put(rq, "REMOTE_PORT", "50412");
	put(rq, "SERVER_ADDR", "127.0.0.1");
	put(rq, "SERVER_PORT", "8080");
	put(rq, "SERVER_NAME", "localhost");
	put(rq, "HTTP_PROXY", "");
	put(rq, "REQUEST_ID", rid);
	put(rq, "HTTP_HOST", "localhost");
	put(rq, "HTTP_USER_AGENT", "TwilioProxy/1.1");
	put(rq, "HTTP_X_TWILIO_SIGNATURE", sig);
	put(rq, "HTTP_CONTENT_TYPE", "application/x-www-form-urlencoded");

	memset(&f->in, 0, sizeof(f->in));
	f->in.rdNext = f->in.stopUnget = (unsigned char *)body;
	f->in.stop = (unsigned char *)body + strlen(body);
	f->in.wrNext = f->in.stop;
	f->in.isReader = 1;
	f->in.fillBuffProc = in_fill;
	memset(&f->out, 0, sizeof(f->out));
	f->out.wrNext = out_buf;
	f->out.stop = out_buf + sizeof(out_buf) - 1;
	f->out.rdNext = f->out.stop;
	f->out.emptyBuffProc = out_empty;
	memset(&f->fcgx, 0, sizeof(f->fcgx));
	f->fcgx.envp = rq->env;
	f->fcgx.in = &f->in;
	f->fcgx.out = &f->out;
	f->fcgx.err = &f->out;
	f->uri = uri;
	return 0;
}

/* What a worker does between two accepts (FCGX_Finish_r aside). */
static void serve(const struct fcgi_service *svc, void *state, struct arena *arena,
	struct fake *f)
{
	fcgi_answer(svc, state, &f->fcgx, arena);
	*f->out.wrNext = '\0';
	fcgi_after(svc, state, arena);
}

/* Two functions around serve, so that callgrind counts only the second
 * (the request's preparation and the answer's check are outside both);
 * each counts its requests, so that the compiler cannot fold them into
 * one. */
static volatile long warmed, counted;

__attribute__((noinline)) static void warm(const struct fcgi_service *svc, void *state,
	struct arena *arena, struct fake *f)
{
	warmed++;
	serve(svc, state, arena, f);
}

__attribute__((noinline)) void measured(const struct fcgi_service *svc, void *state,
	struct arena *arena, struct fake *f)
{
	counted++;
	serve(svc, state, arena, f);
}

/* 0 when the answer in out_buf is a 200 with TwiML, else -1 (said). */
static int answer_ok(const struct fake *f, long seq)
{
	if (strncmp((char *)out_buf, "Status: 200 ", 12) == 0 &&
		strstr((char *)out_buf, "<Response>") != NULL)
		return 0;
	fprintf(stderr, "callgrind_webhook: request %ld (%s) was answered:\n%s\n", seq, f->uri,
		(char *)out_buf);
	return -1;
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
		static struct fake f;
		rc = prepare(&f, line, seq);
		if (rc < 0)
			break;
		if (seq < warmup)
			warm(svc, state, arena, &f);
		else
			measured(svc, state, arena, &f);
		rc = answer_ok(&f, seq);
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

/* Integration tests: GET /metrics, /healthz and /readyz on the live stack.
 *
 * The exposition is read by a strict little parser (every line a HELP, a
 * TYPE or a sample of the text format 0.0.4; every family described once
 * before its samples, which stay together; histogram buckets cumulative
 * and +Inf equal to _count); counters move by exactly what a signed
 * webhook, a bad signature and a dashboard page add (the counters are
 * shared by every pool worker); liveness and readiness with Redis and
 * PostgreSQL down; a STOP whose database write failed is counted; and
 * the three answer nobody but loopback: nginx refuses 127.0.0.2, and the
 * application itself answers 404 to any other REMOTE_ADDR (spoken to
 * over its FastCGI socket, as a misconfigured nginx would). */
#include "groups.h"
#include "harness.h"

#include "buf.h"
#include "queue.h"
#include "rds.h"
#include "util.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

/* ---- a strict parser of the exposition ------------------------------------ */

struct family {
	char name[160];
	char type[16];
	int help, closed;
};

struct expo {
	struct family fam[256];
	int nfam;
	int current;            /* the family whose samples come now, -1 */
	char err[512];
};

static int name_ok(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return 0;
	return 1;
}

static struct family *family_find(struct expo *e, const char *name, size_t n)
{
	for (int i = 0; i < e->nfam; i++)
		if (strlen(e->fam[i].name) == n && strncmp(e->fam[i].name, name, n) == 0)
			return &e->fam[i];
	return NULL;
}

static int fail_line(struct expo *e, int lineno, const char *line, const char *why)
{
	snprintf(e->err, sizeof(e->err), "line %d: %s: %.200s", lineno, why, line);
	return -1;
}

/* Parses {k="v",...} at *p; advances past it.  0 or -1. */
static int labels_parse(const char **p)
{
	const char *s = *p;

	if (*s != '{')
		return 0;
	s++;
	if (*s == '}') {
		*p = s + 1;
		return 0;
	}
	for (;;) {
		const char *k = s;
		while (isalnum((unsigned char)*s) || *s == '_')
			s++;
		if (s == k || !name_ok(k, (size_t)(s - k)) || *s++ != '=' || *s++ != '"')
			return -1;
		while (*s && *s != '"') {
			if (*s == '\\') {
				s++;
				if (*s != '\\' && *s != '"' && *s != 'n')
					return -1;
			} else if (*s == '\n') {
				return -1;
			}
			s++;
		}
		if (*s++ != '"')
			return -1;
		if (*s == '}') {
			*p = s + 1;
			return 0;
		}
		if (*s++ != ',')
			return -1;
	}
}

static int value_ok(const char *s)
{
	char *end;
	if (strcmp(s, "+Inf") == 0 || strcmp(s, "-Inf") == 0 || strcmp(s, "NaN") == 0)
		return 1;
	if (*s == '\0' || isspace((unsigned char)*s))
		return 0;
	strtod(s, &end);
	return *end == '\0';
}

/* The family a sample name belongs to: itself, or for a histogram the
 * name without _bucket, _sum or _count. */
static struct family *sample_family(struct expo *e, const char *name, size_t n)
{
	static const char *const suffix[] = { "_bucket", "_sum", "_count" };
	struct family *f = family_find(e, name, n);
	if (f)
		return f;
	for (size_t i = 0; i < 3; i++) {
		size_t sl = strlen(suffix[i]);
		if (n > sl && strncmp(name + n - sl, suffix[i], sl) == 0) {
			f = family_find(e, name, n - sl);
			if (f && strcmp(f->type, "histogram") == 0)
				return f;
		}
	}
	return NULL;
}

/* Histogram checks: per label set (le removed), buckets in order with
 * non-decreasing counts, the last "+Inf", equal to _count. */
static int histograms_ok(struct expo *e, const char *text)
{
	for (int i = 0; i < e->nfam; i++) {
		char bucket[160], count[160];
		const char *p = text;
		double prev = -1, last_inf = -1;
		int nb = 0;
		if (strcmp(e->fam[i].type, "histogram") != 0)
			continue;
		snprintf(bucket, sizeof(bucket), "%s_bucket{", e->fam[i].name);
		snprintf(count, sizeof(count), "%s_count", e->fam[i].name);
		while (p && *p) {
			const char *nl = strchr(p, '\n');
			char l[1024];
			const char *sp;
			snprintf(l, sizeof(l), "%.*s", (int)(nl ? nl - p : (long)strlen(p)), p);
			p = nl ? nl + 1 : NULL;
			sp = strrchr(l, ' ');
			if (strncmp(l, bucket, strlen(bucket)) == 0) {
				const char *le = strstr(l, "le=\"");
				double v;
				if (le == NULL || sp == NULL)
					return snprintf(e->err, sizeof(e->err), "%s: a bucket without le: %.300s",
						e->fam[i].name, l), -1;
				v = strtod(sp + 1, NULL);
				if (prev >= 0 && v < prev)
					return snprintf(e->err, sizeof(e->err), "%s: buckets not cumulative: %.300s",
						e->fam[i].name, l), -1;
				prev = v;
				nb++;
				if (strncmp(le + 4, "+Inf\"", 5) == 0) {
					last_inf = v;
					prev = -1; /* the next label set starts */
				}
			} else if (strncmp(l, count, strlen(count)) == 0) {
				if (last_inf < 0 || sp == NULL || strtod(sp + 1, NULL) != last_inf)
					return snprintf(e->err, sizeof(e->err),
						"%s: _count is not the +Inf bucket (%g): %.300s", e->fam[i].name,
						last_inf, l), -1;
				last_inf = -1;
			}
		}
		if (nb == 0)
			return snprintf(e->err, sizeof(e->err), "%s: no buckets", e->fam[i].name), -1;
	}
	return 0;
}

static int expo_parse(struct expo *e, const char *text)
{
	char line[1024];
	const char *p = text;
	int lineno = 0;

	memset(e, 0, sizeof(*e));
	e->current = -1;
	if (*text == '\0' || text[strlen(text) - 1] != '\n')
		return snprintf(e->err, sizeof(e->err), "empty, or no final newline"), -1;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = (size_t)(nl - p);
		lineno++;
		if (n >= sizeof(line))
			return fail_line(e, lineno, p, "line too long");
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		if (line[0] == '#') {
			char kw[8], name[160], rest[512] = "";
			struct family *f;
			int k = sscanf(line, "# %7s %159s %511[^\n]", kw, name, rest);
			if (k < 3 || (strcmp(kw, "HELP") != 0 && strcmp(kw, "TYPE") != 0))
				return fail_line(e, lineno, line, "a comment that is not HELP or TYPE");
			if (!name_ok(name, strlen(name)) || strncmp(name, "ringfence_", 10) != 0)
				return fail_line(e, lineno, line, "a family name that is not ringfence_*");
			f = family_find(e, name, strlen(name));
			if (f == NULL) {
				if (e->nfam == (int)ARRAY_LEN(e->fam))
					return fail_line(e, lineno, line, "too many families");
				if (e->current >= 0)
					e->fam[e->current].closed = 1;
				f = &e->fam[e->nfam];
				snprintf(f->name, sizeof(f->name), "%s", name);
				e->current = e->nfam++;
			} else if (f->closed || f != &e->fam[e->current]) {
				return fail_line(e, lineno, line, "HELP or TYPE away from its family");
			}
			if (strcmp(kw, "HELP") == 0) {
				if (f->help++)
					return fail_line(e, lineno, line, "a second HELP");
			} else {
				if (f->type[0])
					return fail_line(e, lineno, line, "a second TYPE");
				if (strcmp(rest, "counter") && strcmp(rest, "gauge") &&
					strcmp(rest, "histogram") && strcmp(rest, "summary") &&
					strcmp(rest, "untyped"))
					return fail_line(e, lineno, line, "an unknown TYPE");
				snprintf(f->type, sizeof(f->type), "%s", rest);
				if (strcmp(rest, "counter") == 0 &&
					(strlen(name) < 6 || strcmp(name + strlen(name) - 6, "_total") != 0))
					return fail_line(e, lineno, line, "a counter not named *_total");
			}
		} else {
			const char *s = line, *start = line;
			struct family *f;
			while (isalnum((unsigned char)*s) || *s == '_' || *s == ':')
				s++;
			if (!name_ok(start, (size_t)(s - start)))
				return fail_line(e, lineno, line, "no metric name");
			f = sample_family(e, start, (size_t)(s - start));
			if (f == NULL || !f->help || !f->type[0])
				return fail_line(e, lineno, line, "a sample without HELP and TYPE before it");
			if (f != &e->fam[e->current])
				return fail_line(e, lineno, line, "a sample away from its family");
			if (labels_parse(&s) < 0)
				return fail_line(e, lineno, line, "malformed labels");
			if (*s++ != ' ' || !value_ok(s))
				return fail_line(e, lineno, line, "malformed value (or a timestamp)");
		}
	}
	return histograms_ok(e, text);
}

/* ---- helpers ------------------------------------------------------------------ */

static char *metrics_text_or_fail(void)
{
	struct hx_response rs;
	char *t;
	if (hx_get("/metrics", &rs) < 0)
		fail_msg("GET /metrics: %s", rs.error);
	if (rs.status != 200)
		fail_msg("GET /metrics: HTTP %ld %.300s", rs.status, buf_str(&rs.body));
	if (strcmp(rs.content_type, "text/plain; version=0.0.4; charset=utf-8") != 0)
		fail_msg("GET /metrics Content-Type '%s'", rs.content_type);
	t = xstrdup(buf_str(&rs.body));
	hx_response_free(&rs);
	return t;
}

/* hx_metric, absent read as 0 (a counter not yet written). */
static double metric0(const char *series)
{
	double v = hx_metric(series);
	return v < 0 ? 0 : v;
}

static long get_body(const char *path, char **body, char **ctype)
{
	struct hx_response rs;
	long st;
	if (hx_get(path, &rs) < 0)
		fail_msg("GET %s: %s", path, rs.error);
	st = rs.status;
	if (body)
		*body = xstrdup(buf_str(&rs.body));
	if (ctype)
		*ctype = xstrdup(rs.content_type);
	hx_response_free(&rs);
	return st;
}

static int ringfence_cli(const char *args)
{
	const char *root = getenv("RINGFENCE_ROOT");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "cd '%s' && bin/ringfence %s >/dev/null 2>&1",
		root && *root ? root : ".", args);
	return hx_shell(cmd, NULL, 60);
}

/* ---- a FastCGI client: the pool asked as a misconfigured nginx would ------- */

static void fcgi_record(struct buf *b, int type, const void *data, size_t n)
{
	unsigned char h[8] = { 1, (unsigned char)type, 0, 1, (unsigned char)(n >> 8),
		(unsigned char)(n & 0xff), 0, 0 };
	buf_append(b, h, 8);
	buf_append(b, data, n);
}

static void fcgi_param(struct buf *b, const char *k, const char *v)
{
	unsigned char l[2] = { (unsigned char)strlen(k), (unsigned char)strlen(v) };
	buf_append(b, l, 2);
	buf_puts(b, k);
	buf_puts(b, v);
}

/* GET path straight from the pool's socket with REMOTE_ADDR addr; the
 * HTTP status it answers (its Status header; 200 when none), or -1. */
static long fcgi_get(const char *path, const char *addr)
{
	static const unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 }; /* responder */
	const char *run = getenv("RINGFENCE_RUN_DIR");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct buf req = BUF_INIT, params = BUF_INIT, out = BUF_INIT;
	unsigned char h[8];
	long status = -1;
	int fd, done = 0;

	if (run == NULL)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/fcgi.sock", run);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	fcgi_param(&params, "REQUEST_METHOD", "GET");
	fcgi_param(&params, "REQUEST_URI", path);
	fcgi_param(&params, "DOCUMENT_URI", path);
	fcgi_param(&params, "QUERY_STRING", "");
	fcgi_param(&params, "SERVER_PROTOCOL", "HTTP/1.1");
	fcgi_param(&params, "REMOTE_ADDR", addr);
	fcgi_record(&req, 1, begin, sizeof(begin));
	fcgi_record(&req, 4, params.data, params.len);
	fcgi_record(&req, 4, "", 0);
	fcgi_record(&req, 5, "", 0);
	if (write(fd, req.data, req.len) != (ssize_t)req.len)
		goto out;
	while (!done) {
		size_t n, pad;
		char chunk[65536 + 256];
		if (recv(fd, h, 8, MSG_WAITALL) != 8)
			goto out;
		n = ((size_t)h[4] << 8) | h[5];
		pad = h[6];
		if (n + pad > 0 && recv(fd, chunk, n + pad, MSG_WAITALL) != (ssize_t)(n + pad))
			goto out;
		if (h[1] == 6)
			buf_append(&out, chunk, n);
		else if (h[1] == 3)
			done = 1;
	}
	{
		const char *s = strstr(buf_str(&out), "Status: ");
		const char *end = strstr(buf_str(&out), "\r\n\r\n");
		status = s && (end == NULL || s < end) ? strtol(s + 8, NULL, 10) : 200;
	}
out:
	if (fd >= 0)
		close(fd);
	buf_free(&req);
	buf_free(&params);
	buf_free(&out);
	return status;
}

/* ---- the tests ---------------------------------------------------------------- */

static void test_exposition_parses(void **state)
{
	struct expo e;
	char *t;
	static const char *const must[] = { "ringfence_http_requests_total",
		"ringfence_http_request_duration_seconds", "ringfence_webhook_outcomes_total",
		"ringfence_webhook_signature_rejections_total", "ringfence_optout_unrecorded_total",
		"ringfence_db_errors_total", "ringfence_redis_errors_total", "ringfence_claims_total",
		"ringfence_contacts_total", "ringfence_limit_refusals_total",
		"ringfence_reminders_due_pending", "ringfence_unknown_outcomes_waiting",
		"ringfence_failsafe_tripped", "ringfence_processes_alive",
		"ringfence_ready_queue_size", "ringfence_audit_fallback_bytes",
		"ringfence_build_info", "ringfence_scrape_errors" };
	(void)state;

	assert_int_equal(get_body("/healthz", NULL, NULL), 200); /* a histogram sample at least */
	t = metrics_text_or_fail();
	if (expo_parse(&e, t) < 0)
		fail_msg("/metrics does not parse: %s", e.err);
	for (size_t i = 0; i < ARRAY_LEN(must); i++)
		if (family_find(&e, must[i], strlen(must[i])) == NULL)
			fail_msg("/metrics has no %s", must[i]);
	/* Nothing from a request makes a label: no path, no id. */
	assert_null(strstr(t, "/twilio/"));
	assert_null(strstr(t, "path="));
	assert_true(strstr(t, "ringfence_scrape_errors{source=\"redis\"} 0\n") != NULL);
	/* The pool's status file, read as it is. */
	{
		char *path = xasprintf("%s/fcgi.status", getenv("RINGFENCE_RUN_DIR"));
		json_t *st = json_load_file(path, 0, NULL);
		if (st) {
			double w = hx_metric("ringfence_pool_workers");
			if (w != (double)json_integer_value(json_object_get(st, "workers")))
				fail_msg("ringfence_pool_workers %g, %s says %lld", w, path,
					(long long)json_integer_value(json_object_get(st, "workers")));
			assert_true(hx_metric("ringfence_pool_generation") ==
				(double)json_integer_value(json_object_get(st, "generation")));
		}
		json_decref(st);
		free(path);
	}
	assert_true(strstr(t, "ringfence_scrape_errors{source=\"postgresql\"} 0\n") != NULL);
	free(t);

	/* The parser itself refuses what it must. */
	{
		static const char *const bad[] = {
			"ringfence_x_total 1\n",                                   /* no HELP/TYPE */
			"# HELP ringfence_x_total x\n# TYPE ringfence_x_total counter\nringfence_x_total{a=\"1} 1\n",
			"# HELP ringfence_x_total x\n# TYPE ringfence_x_total counter\nringfence_x_total 1 123\n",
			"# HELP ringfence_x x\n# TYPE ringfence_x counter\nringfence_x 1\n", /* no _total */
			"# HELP ringfence_h x\n# TYPE ringfence_h histogram\nringfence_h_bucket{le=\"1\"} 2\n"
			"ringfence_h_bucket{le=\"+Inf\"} 1\nringfence_h_sum 1\nringfence_h_count 1\n",
			"# HELP ringfence_h x\n# TYPE ringfence_h histogram\nringfence_h_bucket{le=\"1\"} 1\n"
			"ringfence_h_bucket{le=\"+Inf\"} 2\nringfence_h_sum 1\nringfence_h_count 3\n",
			"# HELP ringfence_a x\n# TYPE ringfence_a gauge\nringfence_a 1\n"
			"# HELP ringfence_b x\n# TYPE ringfence_b gauge\nringfence_b 1\nringfence_a 2\n",
			"# HELP ringfence_a x\n# TYPE ringfence_a gauge\nringfence_a 1",  /* no newline */
		};
		for (size_t i = 0; i < ARRAY_LEN(bad); i++)
			if (expo_parse(&e, bad[i]) == 0)
				fail_msg("the parser accepted bad exposition %zu", i);
		assert_int_equal(expo_parse(&e, "# HELP ringfence_h x\n# TYPE ringfence_h histogram\n"
			"ringfence_h_bucket{le=\"1\"} 1\nringfence_h_bucket{le=\"+Inf\"} 2\n"
			"ringfence_h_sum 1.5\nringfence_h_count 2\n"), 0);
	}
}

static void test_counters_move(void **state)
{
	static const char *const trans =
		"ringfence_webhook_outcomes_total{flow=\"voice\",outcome=\"transition\"}";
	static const char *const wh200 = "ringfence_http_requests_total{kind=\"webhook\",code=\"200\"}";
	static const char *const wh403 = "ringfence_http_requests_total{kind=\"webhook\",code=\"403\"}";
	static const char *const rej = "ringfence_webhook_signature_rejections_total";
	static const char *const rejo =
		"ringfence_webhook_outcomes_total{flow=\"voice\",outcome=\"rejected_signature\"}";
	static const char *const dash = "ringfence_http_requests_total{kind=\"dashboard\",code=\"200\"}";
	static const char *const dcount = "ringfence_http_request_duration_seconds_count{kind=\"dashboard\"}";
	double t0 = metric0(trans), w0 = metric0(wh200), f0 = metric0(wh403), r0 = metric0(rej),
	       ro0 = metric0(rejo), d0 = metric0(dash), c0 = metric0(dcount);
	struct hx_call c;
	struct hx_form f;
	struct hx_response rs;
	(void)state;

	hx_fixture_call_or_fail(&c);
	hx_form_init(&f);
	hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
	/* A bad signature first: refused, counted, nothing else. */
	if (hx_post_form(c.first_url, &f, HX_BAD_SIG, &rs) < 0)
		fail_msg("POST %s: %s", c.first_url, rs.error);
	assert_int_equal(rs.status, 403);
	hx_response_free(&rs);
	if (hx_post_form(c.first_url, &f, HX_SIGNED, &rs) < 0)
		fail_msg("POST %s: %s", c.first_url, rs.error);
	if (rs.status != 200 || strstr(buf_str(&rs.body), "<Gather") == NULL)
		fail_msg("signed first webhook: HTTP %ld %s", rs.status, buf_str(&rs.body));
	hx_response_free(&rs);
	hx_form_free(&f);
	assert_int_equal(get_body("/login", NULL, NULL), 200);

	if (metric0(trans) != t0 + 1 || metric0(wh200) != w0 + 1)
		fail_msg("a signed webhook: transitions %g -> %g, webhook 200s %g -> %g", t0,
			metric0(trans), w0, metric0(wh200));
	if (metric0(rej) != r0 + 1 || metric0(rejo) != ro0 + 1 || metric0(wh403) != f0 + 1)
		fail_msg("a bad signature: rejections %g -> %g, outcome %g -> %g, 403s %g -> %g", r0,
			metric0(rej), ro0, metric0(rejo), f0, metric0(wh403));
	if (metric0(dash) != d0 + 1 || metric0(dcount) != c0 + 1)
		fail_msg("a dashboard page: %g -> %g (histogram count %g -> %g)", d0, metric0(dash),
			c0, metric0(dcount));
}

/* A worker's claim and contact land in the worker processes' segment. */
static void test_worker_counters(void **state)
{
	static const char *const claimed = "ringfence_claims_total{outcome=\"claimed\"}";
	static const char *const placed =
		"ringfence_contacts_total{channel=\"voice\",status=\"placed\"}";
	static const char *const blocked =
		"ringfence_contacts_total{channel=\"sms\",status=\"blocked\"}";
	const struct hx_rfix_opts voice = { .business_name = "Metrics Clinic",
		.client_name = "Metrics Client", .channel = "voice", .retry_count = 1,
		.retry_delay_minutes = 5, .stale_min = 120 };
	struct hx_rfix_opts sms = voice;
	const char *const args[] = { "--once", NULL };
	double c0 = metric0(claimed), p0 = metric0(placed), b0 = metric0(blocked);
	const char *bin = hx_ringfence_bin("worker");
	struct rds *r = rds_open(hx_env.redis_url);
	struct hx_rfix fv, fs;
	long long id;
	pid_t pid;
	(void)state;

	assert_non_null(bin);
	assert_non_null(r);
	sms.channel = "sms";
	hx_rfix_or_fail(&fv, &voice);
	hx_rfix_or_fail(&fs, &sms);
	id = atoll(fv.reminder);
	assert_int_equal(queue_push(r, &id, 1), 0);
	id = atoll(fs.reminder);
	assert_int_equal(queue_push(r, &id, 1), 0);
	rds_close(r);
	pid = fork();
	if (pid == 0) {
		/* Only the voice client may be contacted: the text is blocked. */
		setenv("RINGFENCE_ALLOWED_CONTACTS", fv.phone, 1);
		setenv("RINGFENCE_FAILSAFE_FLOOR", "100000", 1);
		hx_exec_worker(bin, args);
	}
	assert_true(pid > 0);
	assert_int_equal(hx_wait_child(pid, 120), 0);
	if (metric0(claimed) != c0 + 2 || metric0(placed) != p0 + 1 || metric0(blocked) != b0 + 1)
		fail_msg("one call placed, one text blocked: claims %g -> %g, placed %g -> %g,"
			" blocked %g -> %g", c0, metric0(claimed), p0, metric0(placed), b0,
			metric0(blocked));
}

static void test_liveness_readiness(void **state)
{
	char *body, *ct;
	(void)state;

	assert_int_equal(get_body("/healthz", &body, &ct), 200);
	assert_string_equal(body, "ok\n");
	assert_string_equal(ct, "text/plain; charset=utf-8");
	free(body);
	free(ct);
	assert_int_equal(get_body("/readyz", &body, &ct), 200);
	assert_non_null(strstr(body, "\"status\": \"ready\""));
	assert_non_null(strstr(body, "\"flows\": \"loaded\""));
	assert_non_null(strstr(body, "\"database\": \"primary\""));
	free(body);
	free(ct);

	/* A tripped failsafe: alive, ready (webhooks must still be
	 * answered), named, its reason nowhere. */
	if (ringfence_cli("failsafe trip --reason 'spike: business 42 sent 900 calls' --by tester") != 0)
		fail_msg("ringfence failsafe trip failed");
	assert_int_equal(get_body("/healthz", &body, NULL), 200);
	assert_string_equal(body, "ok\n");
	free(body);
	assert_int_equal(get_body("/readyz", &body, NULL), 200);
	assert_non_null(strstr(body, "\"failsafe\": \"tripped"));
	assert_null(strstr(body, "business 42"));
	free(body);
	body = metrics_text_or_fail();
	assert_null(strstr(body, "business 42"));
	free(body);
	assert_true(hx_metric("ringfence_failsafe_tripped") == 1);
	if (ringfence_cli("failsafe resume --reason 'test over' --by tester") != 0)
		fail_msg("ringfence failsafe resume failed");
	assert_true(hx_metric("ringfence_failsafe_tripped") == 0);
}

static void test_not_local_refused(void **state)
{
	static const char *const paths[] = { "/healthz", "/readyz", "/metrics" };
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		char cmd[512];
		struct buf out = BUF_INIT;
		/* nginx: 127.0.0.1 exactly, not the rest of 127/8. */
		snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null -w '%%{http_code}' --max-time 10"
			" --interface 127.0.0.2 '%s%s'", hx_env.public_url, paths[i]);
		if (hx_shell(cmd, &out, 20) != 0)
			fail_msg("%s", cmd);
		if (strcmp(buf_str(&out), "403") != 0)
			fail_msg("%s from 127.0.0.2 through nginx: HTTP %s, want 403", paths[i],
				buf_str(&out));
		buf_free(&out);
		/* The application: an unknown path to anyone else, even when
		 * nginx lets them through. */
		if (fcgi_get(paths[i], "10.9.8.7") != 404)
			fail_msg("%s from 10.9.8.7 to the pool: HTTP %ld, want 404", paths[i],
				fcgi_get(paths[i], "10.9.8.7"));
		if (fcgi_get(paths[i], "127.0.0.2") != 404)
			fail_msg("%s from 127.0.0.2 to the pool: want 404", paths[i]);
		if (fcgi_get(paths[i], "127.0.0.1") != 200)
			fail_msg("%s from 127.0.0.1 to the pool: HTTP %ld, want 200", paths[i],
				fcgi_get(paths[i], "127.0.0.1"));
		if (fcgi_get(paths[i], "::1") != 200)
			fail_msg("%s from ::1 to the pool: want 200", paths[i]);
	}
}

/* Services a test stopped; the teardown starts them again. */
static int pg_stopped, redis_stopped;

static int restore(void **state)
{
	int rc = 0;
	long long deadline = hx_now_ms() + 30000;
	(void)state;
	/* Also after a test that started the part again itself: the next
	 * group must find every worker connected to both again (a worker
	 * waits RDS_RETRY_MS after a failed connect before it tries Redis
	 * again, and sends its audit records to the fallback log meanwhile). */
	if (hx_stack_start_stopped("pg", &pg_stopped, 90) != 0)
		rc = -1;
	if (hx_stack_start_stopped("redis", &redis_stopped, 60) != 0)
		rc = -1;
	hx_disconnect();
	/* Every worker has both connections back. */
	while (rc == 0 && hx_now_ms() < deadline) {
		int streak = 0;
		for (int i = 0; i < 16; i++) {
			char *body = NULL;
			struct hx_response rs;
			hx_get("/readyz", &rs);
			if (rs.status == 200 && strstr(buf_str(&rs.body), "\"redis\": \"ok\""))
				streak++;
			hx_response_free(&rs);
			free(body);
		}
		if (streak == 16)
			return 0;
		hx_sleep_ms(200);
	}
	return -1;
}

static void test_redis_down(void **state)
{
	double before, after;
	char *body;
	struct hx_call c;
	struct hx_form f;
	struct hx_response rs;
	(void)state;

	redis_stopped = 1;
	if (hx_stack("redis-stop", NULL, 60) != 0)
		fail_msg("deploy/stack redis-stop failed");
	before = metric0("ringfence_audit_fallback_bytes");
	/* Webhooks still work: their audit goes to the fallback log. */
	hx_fixture_call_or_fail(&c);
	hx_form_init(&f);
	hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
	if (hx_post_form(c.first_url, &f, HX_SIGNED, &rs) < 0 || rs.status != 200)
		fail_msg("a signed webhook with Redis down: HTTP %ld", rs.status);
	hx_response_free(&rs);
	hx_form_free(&f);
	after = metric0("ringfence_audit_fallback_bytes");
	if (!(after > before))
		fail_msg("ringfence_audit_fallback_bytes %g -> %g with Redis down", before, after);

	assert_int_equal(get_body("/readyz", &body, NULL), 200);
	assert_non_null(strstr(body, "\"redis\": \"down (audit to the fallback log)\""));
	free(body);
	assert_int_equal(get_body("/healthz", NULL, NULL), 200);
	body = metrics_text_or_fail();
	{
		struct expo e;
		if (expo_parse(&e, body) < 0)
			fail_msg("/metrics with Redis down does not parse: %s", e.err);
	}
	assert_non_null(strstr(body, "ringfence_scrape_errors{source=\"redis\"} 1\n"));
	assert_null(strstr(body, "ringfence_ready_queue_size"));
	assert_non_null(strstr(body, "ringfence_failsafe_tripped 0\n"));
	free(body);
	if (hx_stack_start_stopped("redis", &redis_stopped, 60) != 0)
		fail_msg("deploy/stack redis-start failed");
}

static void test_database_down(void **state)
{
	static const char *const stop = "ringfence_optout_unrecorded_total";
	double s0 = metric0(stop);
	char *body, sid[35], from[13], to[13];
	struct hx_form f;
	struct hx_response rs;
	(void)state;

	pg_stopped = 1;
	if (hx_stack("pg-stop", NULL, 90) != 0)
		fail_msg("deploy/stack pg-stop failed");
	/* Alive, not ready, and why. */
	assert_int_equal(get_body("/healthz", NULL, NULL), 200);
	assert_int_equal(get_body("/readyz", &body, NULL), 503);
	assert_non_null(strstr(body, "\"database\": \"down\""));
	assert_non_null(strstr(body, "PostgreSQL does not answer"));
	free(body);
	body = metrics_text_or_fail();
	assert_non_null(strstr(body, "ringfence_scrape_errors{source=\"postgresql\"} 1\n"));
	assert_null(strstr(body, "ringfence_failsafe_tripped"));
	assert_null(strstr(body, "ringfence_reminders_due_pending"));
	free(body);

	/* A STOP the database cannot record: still answered with TwiML,
	 * and counted, since it must page. */
	hx_random_message_sid(sid);
	hx_random_phone(from);
	hx_random_phone(to);
	hx_sms_form(&f, sid, from, to, "STOP");
	{
		char *url = xasprintf("%s/twilio/sms/inbound", hx_env.public_url);
		if (hx_post_form(url, &f, HX_SIGNED, &rs) < 0)
			fail_msg("POST %s: %s", url, rs.error);
		free(url);
	}
	assert_int_equal(rs.status, 200);
	hx_response_free(&rs);
	hx_form_free(&f);
	if (metric0(stop) != s0 + 1)
		fail_msg("%s %g -> %g after a STOP with the database down", stop, s0, metric0(stop));
	if (hx_stack_start_stopped("pg", &pg_stopped, 90) != 0)
		fail_msg("deploy/stack pg-start failed");
}

static int group_teardown(void **state)
{
	int rc = 0;
	if (pg_stopped || redis_stopped)
		rc = restore(state);
	hx_fini();
	return rc;
}

int metrics_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exposition_parses),
		cmocka_unit_test(test_counters_move),
		cmocka_unit_test(test_worker_counters),
		cmocka_unit_test(test_liveness_readiness),
		cmocka_unit_test(test_not_local_refused),
		cmocka_unit_test_teardown(test_redis_down, restore),
		cmocka_unit_test_teardown(test_database_down, restore),
	};
	return cmocka_run_group_tests_name("integration: /metrics, /healthz, /readyz", tests,
		hx_group_setup, group_teardown);
}

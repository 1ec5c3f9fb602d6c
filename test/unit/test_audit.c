/* Unit tests for audit against a real Redis (RINGFENCE_REDIS_URL): which
 * streams a record lands in, the fields it gets, MAXLEN and expiry,
 * redaction (a registered token never appears in Redis, the fallback file
 * or stderr), the fallback file and stderr when Redis is unreachable, and
 * reading records back; the record cap, the bounded summaries of rejected
 * requests and their per-source counts, the fallback log's rotation and
 * its rate cap on summaries. */
#include "unit.h"

#include "arena.h"
#include "audit.h"
#include "buf.h"
#include "form.h"
#include "log.h"
#include "rds.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOKEN "tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
#define OTHER_SECRET "hunter2-hunter2"

static char *tmpdir(void)
{
	char *d = xasprintf("/tmp/rf-test-audit-%d-XXXXXX", (int)getpid());
	assert_non_null(mkdtemp(d));
	return d;
}

static void rm_rf(const char *path)
{
	char *cmd = xasprintf("rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void del(struct rds *r, const char *key)
{
	redisReply *rep = unit_redis_cmd(r, 2, "DEL", key);
	assert_non_null(rep);
	freeReplyObject(rep);
}

/* Every stored "json" value of the newest count entries of key,
 * concatenated with newlines (caller frees). */
static char *stream_raw(struct rds *r, const char *key, int count)
{
	char n[16];
	struct buf b = BUF_INIT;
	redisReply *rep;
	snprintf(n, sizeof(n), "%d", count);
	rep = unit_redis_cmd(r, 6, "XREVRANGE", key, "+", "-", "COUNT", n);
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
	for (size_t i = 0; i < rep->elements; i++) {
		redisReply *fields = rep->element[i]->element[1];
		assert_int_equal(fields->elements, 2);
		assert_string_equal(fields->element[0]->str, "json");
		buf_append(&b, fields->element[1]->str, fields->element[1]->len);
		buf_putc(&b, '\n');
	}
	freeReplyObject(rep);
	char *s = xstrdup(buf_str(&b));
	buf_free(&b);
	return s;
}

static long long xlen(struct rds *r, const char *key)
{
	redisReply *rep = unit_redis_cmd(r, 2, "XLEN", key);
	long long n;
	assert_non_null(rep);
	n = rep->integer;
	freeReplyObject(rep);
	return n;
}

static long long ttl(struct rds *r, const char *key)
{
	redisReply *rep = unit_redis_cmd(r, 2, "TTL", key);
	long long n;
	assert_non_null(rep);
	n = rep->integer;
	freeReplyObject(rep);
	return n;
}

/* Runs fn with stderr going to a file; returns what it wrote. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
	char path[] = "/tmp/rf-test-audit-stderr-XXXXXX";
	int fd = mkstemp(path), saved;
	size_t len;
	char *out;
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	fn(arg);
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	close(fd);
	out = util_read_file(path, 1 << 20, &len);
	assert_non_null(out);
	unlink(path);
	return out;
}

static int setup(void **state)
{
	(void)state;
	audit_add_secret(TOKEN);
	audit_add_secret(OTHER_SECRET);
	audit_add_secret("");   /* ignored: would match everywhere */
	audit_add_secret(NULL); /* ignored */
	audit_add_secret(TOKEN); /* a second registration changes nothing */
	return 0;
}

struct redact_case {
	const char *in;
	const char *out;
};

static void test_redact(void **state)
{
	static const struct redact_case cases[] = {
		{ "", "" },
		{ "nothing secret here", "nothing secret here" },
		{ TOKEN, "[redacted]" },
		{ "token=" TOKEN, "token=[redacted]" },
		{ TOKEN " at start", "[redacted] at start" },
		{ "twice " TOKEN TOKEN " and " TOKEN, "twice [redacted][redacted] and [redacted]" },
		{ "both " OTHER_SECRET "/" TOKEN, "both [redacted]/[redacted]" },
		{ "almost tok_9f8e7d6c5b4a39281706f5e4d3c2b1a", "almost tok_9f8e7d6c5b4a39281706f5e4d3c2b1a" },
		{ "hunter2 alone", "hunter2 alone" },
		{ "<Say>" TOKEN "</Say>", "<Say>[redacted]</Say>" },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *got = audit_redact(cases[i].in);
		if (strcmp(got, cases[i].out) != 0)
			fail_msg("redact('%s') = '%s', want '%s'", cases[i].in, got, cases[i].out);
		free(got);
	}
	char *got = audit_redact(NULL);
	assert_string_equal(got, "");
	free(got);
}

/* A secret that contains another registered secret is replaced whole. */
static void test_redact_nested_secrets(void **state)
{
	char *got;
	(void)state;
	audit_add_secret("inner-secret-value");
	audit_add_secret("xx-inner-secret-value-xx");
	got = audit_redact("1 xx-inner-secret-value-xx 2 inner-secret-value 3");
	assert_string_equal(got, "1 [redacted] 2 [redacted] 3");
	free(got);
}

struct param_case {
	const char *name;
	const char *value;
	int redacted;
};

static void test_params_json(void **state)
{
	static const struct param_case cases[] = {
		{ "CallSid", "CA0123456789abcdef0123456789abcdef", 0 },
		{ "Digits", "1", 0 },
		{ "From", "+15551234567", 0 },
		{ "ToCity", "SPRINGFIELD", 0 },
		{ "AuthToken", "abc", 1 },
		{ "authtoken", "abc", 1 },
		{ "Password", "pw", 1 },
		{ "new_password", "pw", 1 },
		{ "Token", "t", 1 },
		{ "CallToken", "%7B%22parentCallInfo", 1 },
		{ "client_secret", "s", 1 },
		{ "ApiKey", "k", 1 },
		{ "X-Api-Key", "k", 1 },
		{ "api_key", "k", 1 },
		{ "Authorization", "Basic QUM6dG9r", 1 },
		{ "Body", "my code is " TOKEN, 1 },
		{ "Note", TOKEN, 1 },
		{ "Empty", "", 0 },
	};
	struct param v[ARRAY_LEN(cases) + 3];
	struct params p = { v, 0 };
	json_t *obj;
	char *dump;
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		v[p.n].name = cases[i].name;
		v[p.n].value = cases[i].value;
		v[p.n].value_len = strlen(cases[i].value);
		p.n++;
	}
	/* A repeated name, and a value that is not UTF-8. */
	v[p.n++] = (struct param){ "StatusCallbackEvent", "ringing", 7 };
	v[p.n++] = (struct param){ "StatusCallbackEvent", "answered", 8 };
	v[p.n++] = (struct param){ "Raw", "\xff\xfe", 2 };

	obj = audit_params_json(&p);
	assert_non_null(obj);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *got = json_string_value(json_object_get(obj, cases[i].name));
		const char *want = cases[i].redacted ? "[redacted]" : cases[i].value;
		if (got == NULL || strcmp(got, want) != 0)
			fail_msg("%s: got '%s', want '%s'", cases[i].name, got ? got : "(none)", want);
	}
	json_t *events = json_object_get(obj, "StatusCallbackEvent");
	assert_true(json_is_array(events));
	assert_int_equal(json_array_size(events), 2);
	assert_string_equal(json_string_value(json_array_get(events, 0)), "ringing");
	assert_string_equal(json_string_value(json_array_get(events, 1)), "answered");
	assert_non_null(strstr(json_string_value(json_object_get(obj, "Raw")), "not UTF-8"));

	/* The hot path's writer (audit_json) says the same as jansson: the
	 * params, and strings that need escaping, hold a secret or are not
	 * UTF-8 (left out). */
	{
		struct arena *a = arena_new(0);
		struct audit_json j;
		const char *odd = "a \"quoted\" \\ back\tslash\n\x01\x1f </Say> \xc3\xa9 " TOKEN " end";
		json_t *want = json_object(), *got;
		json_error_t jerr;

		audit_json_begin(&j, a);
		audit_json_str(&j, "odd", odd);
		audit_json_str(&j, "absent", NULL);
		audit_json_str(&j, "bad", "\xff\xfe");
		audit_json_params(&j, "params", &p);
		audit_json_int(&j, "status", -42);
		audit_json_true(&j, "replay");
		buf_putc(&j.b, '}');
		got = json_loadb(j.b.data, j.b.len, JSON_REJECT_DUPLICATES, &jerr);
		if (got == NULL)
			fail_msg("audit_json wrote no JSON (%s): %s", jerr.text, buf_str(&j.b));
		json_object_set_new(want, "odd", json_string(audit_redact_in(a, odd)));
		json_object_set(want, "params", obj);
		json_object_set_new(want, "status", json_integer(-42));
		json_object_set_new(want, "replay", json_true());
		if (!json_equal(got, want))
			fail_msg("audit_json wrote %s", buf_str(&j.b));
		assert_null(strstr(buf_str(&j.b), TOKEN));
		json_decref(got);
		json_decref(want);
		arena_free(a);
	}
	dump = json_dumps(obj, JSON_COMPACT);
	assert_null(strstr(dump, TOKEN));
	free(dump);
	json_decref(obj);

	obj = audit_params_json(NULL);
	assert_true(json_is_object(obj));
	assert_int_equal(json_object_size(obj), 0);
	json_decref(obj);
}

/* Finds the record with the given marker among the newest entries of
 * key; returns a new reference or NULL. */
static json_t *find_marker(struct rds *r, const char *key, const char *marker)
{
	size_t ncall = strlen(AUDIT_KEY_CALL_PREFIX), nbiz = strlen(AUDIT_KEY_BUSINESS_PREFIX);
	json_t *recs = strncmp(key, AUDIT_KEY_CALL_PREFIX, ncall) == 0 ?
		audit_read(r, "call", key + ncall, 2000) :
		strncmp(key, AUDIT_KEY_BUSINESS_PREFIX, nbiz) == 0 ?
		audit_read(r, "business", key + nbiz, 2000) :
		audit_read(r, strcmp(key, AUDIT_KEY_ERRORS) == 0 ? "errors" : "all", NULL, 2000);
	json_t *found = NULL, *rec;
	size_t i;
	assert_non_null(recs);
	json_array_foreach(recs, i, rec) {
		const char *m = json_string_value(json_object_get(rec, "marker"));
		if (m && strcmp(m, marker) == 0) {
			found = json_incref(rec);
			break;
		}
	}
	json_decref(recs);
	return found;
}

struct route_case {
	const char *name;
	const char *kind;
	int with_call;      /* 1: a valid CallSid, 2: one that cannot be a key */
	int with_business;
	int in_errors;
};

static void test_streams(void **state)
{
	static const struct route_case cases[] = {
		{ "webhook of a call", "webhook", 1, 1, 0 },
		{ "error of a call", "error", 1, 1, 1 },
		{ "error without ids", "error", 0, 0, 1 },
		{ "outbound for a business", "outbound", 0, 1, 0 },
		{ "call only", "webhook", 1, 0, 0 },
		{ "hostile call sid", "webhook", 2, 0, 0 },
	};
	struct rds *r = rds_open(unit_redis_url());
	struct audit *au = audit_open(r, "/nonexistent/never-used.log");
	char sid[40], biz[32];
	(void)state;

	snprintf(sid, sizeof(sid), "CA%08x0123456789abcdef0123456789", (unsigned)getpid());
	snprintf(biz, sizeof(biz), "test%d", (int)getpid());
	char *call_key = xasprintf(AUDIT_KEY_CALL_PREFIX "%s", sid);
	char *biz_key = xasprintf(AUDIT_KEY_BUSINESS_PREFIX "%s", biz);
	del(r, call_key);
	del(r, biz_key);

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct route_case *c = &cases[i];
		char *marker = xasprintf("m-%d-%zu", (int)getpid(), i);
		const char *call = c->with_call == 1 ? sid : c->with_call == 2 ?
			"CA:x y\n{evil}" : NULL;
		json_t *rec = json_pack("{s:s,s:i}", "marker", marker, "n", (int)i);
		json_t *got;

		if (audit_record(au, c->kind, call, c->with_business ? biz : NULL, rec) != 0)
			fail_msg("%s: not stored in Redis", c->name);
		struct { const char *key; int want; } where[] = {
			{ AUDIT_KEY_ALL, 1 },
			{ AUDIT_KEY_ERRORS, c->in_errors },
			{ call_key, c->with_call == 1 },
			{ biz_key, c->with_business },
		};
		for (size_t w = 0; w < ARRAY_LEN(where); w++) {
			got = find_marker(r, where[w].key, marker);
			if ((got != NULL) != where[w].want)
				fail_msg("%s: %s in %s", c->name, got ? "found" : "missing", where[w].key);
			if (got == NULL)
				continue;
			assert_string_equal(json_string_value(json_object_get(got, "kind")), c->kind);
			assert_int_equal(json_integer_value(json_object_get(got, "pid")), getpid());
			assert_int_equal(json_integer_value(json_object_get(got, "n")), (int)i);
			/* RFC 3339 UTC with milliseconds: 2024-05-01T12:34:56.789Z */
			const char *ts = json_string_value(json_object_get(got, "ts"));
			assert_non_null(ts);
			assert_int_equal(strlen(ts), 24);
			assert_true(ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' &&
				ts[16] == ':' && ts[19] == '.' && ts[23] == 'Z');
			const char *gsid = json_string_value(json_object_get(got, "call_sid"));
			if (call)
				assert_string_equal(gsid, call);
			else
				assert_null(gsid);
			const char *gbiz = json_string_value(json_object_get(got, "business_id"));
			if (c->with_business)
				assert_string_equal(gbiz, biz);
			else
				assert_null(gbiz);
			json_decref(got);
		}
		free(marker);
	}
	/* Only the per-call stream expires, after 30 days. */
	long long t = ttl(r, call_key);
	assert_true(t > 2592000 - 60 && t <= 2592000);
	assert_int_equal(ttl(r, biz_key), -1);
	assert_int_equal(ttl(r, AUDIT_KEY_ALL), -1);

	/* A record that is not an object is wrapped; NULL is an empty record. */
	assert_int_equal(audit_record(au, "note", sid, NULL, json_integer(42)), 0);
	assert_int_equal(audit_record(au, NULL, sid, NULL, NULL), 0);
	json_t *recs = audit_read(r, "call", sid, 2);
	assert_int_equal(json_array_size(recs), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(recs, 0), "data")), 42);
	assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 1), "kind")), "unknown");
	json_decref(recs);

	del(r, call_key);
	del(r, biz_key);
	free(call_key);
	free(biz_key);
	audit_close(au);
	rds_close(r);
}

/* A stream never grows much past its MAXLEN (trimming with "~" works in
 * whole nodes of 100 entries). */
static void test_maxlen(void **state)
{
	struct rds *r = rds_open(unit_redis_url());
	struct audit *au = audit_open(r, NULL);
	char sid[40];
	char *key;
	(void)state;

	snprintf(sid, sizeof(sid), "CA%08xfedcba9876543210fedcba98", (unsigned)getpid());
	key = xasprintf(AUDIT_KEY_CALL_PREFIX "%s", sid);
	del(r, key);
	for (int i = 0; i < 750; i++)
		assert_int_equal(audit_record(au, "webhook", sid, NULL, json_pack("{s:i}", "seq", i)), 0);
	long long n = xlen(r, key);
	if (n < 512 || n > 612)
		fail_msg("call stream holds %lld records after 750, want 512..612", n);
	/* The newest survive. */
	json_t *recs = audit_read(r, "call", sid, 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(recs, 0), "seq")), 749);
	json_decref(recs);
	del(r, key);
	free(key);
	audit_close(au);
	rds_close(r);
}

/* A string of n copies of c (caller frees). */
static char *filler(size_t n, char c)
{
	char *s = xmalloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* An audit whose Redis never answers (a bound socket nobody accepts on),
 * so every record goes to its fallback file <a new temporary dir>/rel. */
struct down_audit {
	int sock;
	char *url, *dir, *path;
	struct rds *r;
	struct audit *au;
};

static void down_audit_open(struct down_audit *d, const char *rel)
{
	int port;

	d->sock = unit_bound_socket(&port);
	d->url = xasprintf("redis://127.0.0.1:%d", port);
	d->dir = tmpdir();
	d->path = xasprintf("%s/%s", d->dir, rel);
	d->r = rds_open(d->url);
	d->au = audit_open(d->r, d->path);
}

static void down_audit_close(struct down_audit *d)
{
	audit_close(d->au);
	rds_close(d->r);
	close(d->sock);
	rm_rf(d->dir);
	free(d->dir);
	free(d->path);
	free(d->url);
}

/* Deferred records with Redis down: audit_flush puts every queued one in
 * the fallback log (a full queue flushes itself), completed as
 * audit_record completes a record, and one over AUDIT_RECORD_MAX
 * truncated as audit_record truncates it. */
static void test_defer_fallback(void **state)
{
	struct down_audit d;
	struct arena *a = arena_new(0);
	struct audit_json j;
	char *big = xmalloc(AUDIT_RECORD_MAX + 100), *data, *line, *save = NULL;
	size_t len;
	int lines = 0;
	(void)state;

	down_audit_open(&d, "fallback.log");
	memset(big, 'x', AUDIT_RECORD_MAX + 99);
	big[AUDIT_RECORD_MAX + 99] = '\0';
	for (int i = 0; i < AUDIT_DEFER_MAX + 2; i++) {
		char marker[16];
		snprintf(marker, sizeof(marker), "df-%d", i);
		audit_json_begin(&j, a);
		audit_json_str(&j, "marker", marker);
		audit_json_str(&j, "path", "/twilio/voice/reminder_call");
		audit_json_str(&j, "response", i == 1 ? big : "<Response/>");
		audit_defer(d.au, i == 2 ? "error" : "webhook", "CA0123456789abcdef0123456789abcdef",
			"7", &j);
	}
	assert_int_equal(audit_flush(d.au), 1);
	assert_int_equal(audit_flush(d.au), 0); /* nothing left queued */

	data = util_read_file(d.path, 1 << 20, &len);
	assert_non_null(data);
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *rec = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
		assert_non_null(rec);
		assert_string_equal(json_string_value(json_object_get(rec, "kind")),
			lines == 2 ? "error" : "webhook");
		assert_string_equal(json_string_value(json_object_get(rec, "call_sid")),
			"CA0123456789abcdef0123456789abcdef");
		assert_string_equal(json_string_value(json_object_get(rec, "business_id")), "7");
		assert_true(json_is_string(json_object_get(rec, "ts")));
		assert_true(json_is_integer(json_object_get(rec, "pid")));
		if (lines == 1) {
			assert_true(json_is_true(json_object_get(rec, "truncated")));
			assert_null(json_object_get(rec, "response"));
			assert_null(json_object_get(rec, "marker"));
			assert_string_equal(json_string_value(json_object_get(rec, "path")),
				"/twilio/voice/reminder_call");
			assert_true(strlen(line) <= AUDIT_RECORD_MAX);
		} else {
			char want[16];
			snprintf(want, sizeof(want), "df-%d", lines);
			assert_string_equal(json_string_value(json_object_get(rec, "marker")), want);
			assert_string_equal(json_string_value(json_object_get(rec, "response")),
				"<Response/>");
		}
		json_decref(rec);
		lines++;
	}
	assert_int_equal(lines, AUDIT_DEFER_MAX + 2);
	free(data);
	free(big);
	arena_free(a);
	down_audit_close(&d);
}

/* A record over AUDIT_RECORD_MAX keeps its identifying fields (long ones
 * cut), says it was truncated and how big it was, and fits the cap, in
 * Redis and in the fallback log alike; one under the cap is kept whole. */
static void test_record_cap(void **state)
{
	struct rds *r = rds_open(unit_redis_url());
	struct audit *au = audit_open(r, NULL);
	struct down_audit d;
	char sid[40], *big = filler(100000, 'p'), *long_error = filler(5000, 'e'), *raw, *data;
	char *key;
	json_t *recs, *got;
	size_t len;
	(void)state;

	down_audit_open(&d, "audit.log");

	snprintf(sid, sizeof(sid), "CA%08x00000000111111112222222233", (unsigned)getpid());
	key = xasprintf(AUDIT_KEY_CALL_PREFIX "%s", sid);
	del(r, key);

	/* Just under the cap: kept whole. */
	char *fits = filler(AUDIT_RECORD_MAX - 300, 'f');
	assert_int_equal(audit_record(au, "webhook", sid, NULL,
		json_pack("{s:s,s:s}", "marker", "whole", "response", fits)), 0);
	/* Far over it. */
	json_t *rec = json_pack("{s:s,s:s,s:s,s:i,s:s,s:{s:s},s:s}", "request_id", "r-cap",
		"method", "POST", "path", "/twilio/voice/reminder_call", "status", 200,
		"signature", "valid", "params", "Padding", big, "error", long_error);
	assert_int_equal(audit_record(au, "webhook", sid, "42", json_incref(rec)), 0);

	raw = stream_raw(r, key, 2);
	for (char *line = raw, *nl; (nl = strchr(line, '\n')); line = nl + 1)
		if ((size_t)(nl - line) > AUDIT_RECORD_MAX)
			fail_msg("a stored record is %zu bytes, over %d", (size_t)(nl - line),
				AUDIT_RECORD_MAX);
	free(raw);
	recs = audit_read(r, "call", sid, 2);
	assert_int_equal(json_array_size(recs), 2);
	got = json_array_get(recs, 0);
	assert_string_equal(json_string_value(json_object_get(got, "marker")), "whole");
	assert_int_equal(json_string_length(json_object_get(got, "response")), AUDIT_RECORD_MAX - 300);
	assert_null(json_object_get(got, "truncated"));
	got = json_array_get(recs, 1);
	assert_true(json_is_true(json_object_get(got, "truncated")));
	assert_true(json_integer_value(json_object_get(got, "original_bytes")) > 100000);
	assert_string_equal(json_string_value(json_object_get(got, "kind")), "webhook");
	assert_string_equal(json_string_value(json_object_get(got, "call_sid")), sid);
	assert_string_equal(json_string_value(json_object_get(got, "business_id")), "42");
	assert_string_equal(json_string_value(json_object_get(got, "request_id")), "r-cap");
	assert_string_equal(json_string_value(json_object_get(got, "path")), "/twilio/voice/reminder_call");
	assert_string_equal(json_string_value(json_object_get(got, "signature")), "valid");
	assert_int_equal(json_integer_value(json_object_get(got, "status")), 200);
	assert_non_null(json_object_get(got, "ts"));
	assert_null(json_object_get(got, "params"));
	assert_int_equal(json_string_length(json_object_get(got, "error")), 256);
	json_decref(recs);

	/* The same record when Redis is down: the fallback line is capped too. */
	assert_int_equal(audit_record(d.au, "webhook", sid, "42", rec), 1);
	data = util_read_file(d.path, 1 << 20, &len);
	assert_non_null(data);
	assert_true(len <= AUDIT_RECORD_MAX + 1);
	assert_non_null(strstr(data, "\"truncated\":true"));
	assert_non_null(strstr(data, sid));
	free(data);

	del(r, key);
	free(key);
	free(fits);
	free(big);
	free(long_error);
	down_audit_close(&d);
	audit_close(au);
	rds_close(r);
}

/* Whether key exists. */
static int exists(struct rds *r, const char *key)
{
	redisReply *rep = unit_redis_cmd(r, 2, "EXISTS", key);
	int n;
	assert_non_null(rep);
	n = (int)rep->integer;
	freeReplyObject(rep);
	return n;
}

/* The summary of a rejected request holds only cleaned, bounded fields,
 * whatever the request carried. */
static void test_rejection_summary(void **state)
{
	char *long_path = filler(10000, 'a');
	struct audit_rejection rj = {
		.request_id = "0123456789abcdef", .method = "POST\r\nX-Evil: 1",
		.path = long_path, .remote_addr = "10.0.0.1\nkey", .verdict = "signature missing",
		.status = 403, .body_len = 61440, .nfields = 7,
		.body_sha256 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	};
	json_t *j;
	char *s;
	(void)state;

	long_path[0] = '/';
	long_path[5] = '\x01';
	long_path[6] = '\xff';
	j = audit_rejection_json(&rj);
	s = json_dumps(j, JSON_COMPACT);
	assert_true(strlen(s) <= AUDIT_SUMMARY_MAX);
	assert_int_equal(json_object_size(j), 9);
	assert_int_equal(json_string_length(json_object_get(j, "path")), 128);
	assert_int_equal(strncmp(json_string_value(json_object_get(j, "path")), "/aaaa??a", 8), 0);
	assert_string_equal(json_string_value(json_object_get(j, "method")), "POST??X-Evil: 1");
	assert_string_equal(json_string_value(json_object_get(j, "remote_addr")), "invalid");
	assert_string_equal(json_string_value(json_object_get(j, "body_sha256")), "0011223344556677");
	assert_string_equal(json_string_value(json_object_get(j, "verdict")), "signature missing");
	assert_int_equal(json_integer_value(json_object_get(j, "status")), 403);
	assert_int_equal(json_integer_value(json_object_get(j, "body_len")), 61440);
	assert_int_equal(json_integer_value(json_object_get(j, "fields")), 7);
	free(s);
	json_decref(j);

	/* A digest that is not hex is left out, and so are unknown sizes. */
	rj.body_sha256 = "not-a-digest-at-all-not-a-digest";
	rj.body_len = -1;
	rj.nfields = -1;
	rj.remote_addr = "::1";
	j = audit_rejection_json(&rj);
	assert_null(json_object_get(j, "body_sha256"));
	assert_null(json_object_get(j, "body_len"));
	assert_null(json_object_get(j, "fields"));
	assert_string_equal(json_string_value(json_object_get(j, "remote_addr")), "::1");
	json_decref(j);
	free(long_path);
}

/* audit_rejected writes the summary to audit:rejected and counts its
 * source; nothing it was given names a key, and nothing goes to the
 * streams of verified records. */
static void test_rejected_in_redis(void **state)
{
	struct rds *r = rds_open(unit_redis_url());
	struct audit *au = audit_open(r, NULL);
	char sid[40], path[128], addr[32], skey[AUDIT_SOURCES_KEY_SIZE], *call_key, *raw;
	json_t *recs, *got;
	redisReply *rep;
	(void)state;

	audit_sources_key(time(NULL), skey);
	snprintf(sid, sizeof(sid), "CA%08x99999999888888887777777766", (unsigned)getpid());
	snprintf(path, sizeof(path), "/twilio/voice/reminder_call/%s", sid);
	snprintf(addr, sizeof(addr), "10.%d.%d.7", (getpid() >> 8) & 255, getpid() & 255);
	call_key = xasprintf(AUDIT_KEY_CALL_PREFIX "%s", sid);
	struct audit_rejection rj = {
		.request_id = "feedfacefeedface", .method = "POST", .path = path,
		.remote_addr = addr, .verdict = "signature invalid", .status = 403,
		.body_len = 100, .nfields = 3, .body_sha256 = "abcdefabcdefabcdefabcdef",
	};
	for (int i = 0; i < 3; i++)
		assert_int_equal(audit_rejected(au, &rj), 0);

	recs = audit_read(r, "rejected", NULL, 3);
	assert_int_equal(json_array_size(recs), 3);
	got = json_array_get(recs, 2);
	assert_string_equal(json_string_value(json_object_get(got, "kind")), "rejected");
	assert_string_equal(json_string_value(json_object_get(got, "path")), path);
	assert_string_equal(json_string_value(json_object_get(got, "remote_addr")), addr);
	assert_string_equal(json_string_value(json_object_get(got, "body_sha256")), "abcdefabcdefabcd");
	assert_non_null(json_object_get(got, "ts"));
	assert_null(json_object_get(got, "call_sid"));
	json_decref(recs);
	raw = stream_raw(r, AUDIT_KEY_REJECTED, 3);
	assert_true(strlen(raw) < 3 * (AUDIT_SUMMARY_MAX + 1));
	free(raw);

	rep = unit_redis_cmd(r, 3, "HGET", skey, addr);
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_STRING);
	assert_string_equal(rep->str, "3");
	freeReplyObject(rep);
	long long t = ttl(r, skey);
	assert_true(t > 172800 - 60 && t <= 172800);
	assert_int_equal(exists(r, call_key), 0);
	raw = stream_raw(r, AUDIT_KEY_ALL, 20);
	assert_null(strstr(raw, sid));
	free(raw);

	/* `ringfence audit sources` sees the count. */
	recs = audit_sources(r);
	assert_non_null(recs);
	got = json_array_get(recs, json_array_size(recs) - 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(got, "counts"), addr)), 3);
	json_decref(recs);

	rep = unit_redis_cmd(r, 3, "HDEL", skey, addr);
	assert_non_null(rep);
	freeReplyObject(rep);
	free(call_key);
	audit_close(au);
	rds_close(r);
}

/* However many addresses send, an hour's hash holds at most 1000 of them
 * plus "other", which counts the rest. */
static void test_sources_capped(void **state)
{
	struct rds *r = rds_open(unit_redis_url());
	struct audit *au = audit_open(r, NULL);
	char skey[AUDIT_SOURCES_KEY_SIZE], addr[32];
	struct audit_rejection rj = { .method = "POST", .path = "/twilio/x", .verdict = "v",
		.status = 403, .body_len = 0, .nfields = -1 };
	redisReply *rep;
	(void)state;

	audit_sources_key(time(NULL), skey);
	del(r, skey);
	for (int i = 0; i < 1100; i++) {
		snprintf(addr, sizeof(addr), "10.200.%d.%d", i / 256, i % 256);
		rj.remote_addr = addr;
		assert_int_equal(audit_rejected(au, &rj), 0);
	}
	rep = unit_redis_cmd(r, 2, "HLEN", skey);
	assert_non_null(rep);
	assert_int_equal(rep->integer, 1001);
	freeReplyObject(rep);
	rep = unit_redis_cmd(r, 3, "HGET", skey, "other");
	assert_non_null(rep);
	assert_string_equal(rep->str, "100");
	freeReplyObject(rep);
	/* A known address still counts under its own name. */
	rj.remote_addr = "10.200.0.0";
	assert_int_equal(audit_rejected(au, &rj), 0);
	rep = unit_redis_cmd(r, 3, "HGET", skey, "10.200.0.0");
	assert_non_null(rep);
	assert_string_equal(rep->str, "2");
	freeReplyObject(rep);
	/* The stack sharing this Redis must not find its hour full. */
	del(r, skey);
	audit_close(au);
	rds_close(r);
}

/* Size of path, or -1 when it does not exist. */
static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The fallback log rotates at its size and keeps only its number of
 * files, the newest record in the live one. */
static void test_fallback_rotation(void **state)
{
	struct down_audit d;
	char *data, *name;
	size_t len;
	(void)state;

	down_audit_open(&d, "audit.log");

	audit_set_fallback_limits(d.au, 4096, 3);
	for (int i = 0; i < 300; i++)
		assert_int_equal(audit_record(d.au, "outbound", NULL, NULL,
			json_pack("{s:i,s:s}", "seq", i, "pad", "0123456789012345678901234567890123456789")), 1);
	for (int i = 0; i < 3; i++) {
		name = i == 0 ? xstrdup(d.path) : xasprintf("%s.%d", d.path, i);
		long long n = file_size(name);
		if (n < 0 || n > 4096)
			fail_msg("%s is %lld bytes, want 1..4096", name, n);
		free(name);
	}
	name = xasprintf("%s.3", d.path);
	assert_int_equal(file_size(name), -1);
	free(name);
	data = util_read_file(d.path, 1 << 20, &len);
	assert_non_null(strstr(data, "\"seq\":299"));
	free(data);

	down_audit_close(&d);
}

/* While Redis is down, summaries go to the fallback log at most at the
 * per-process rate; the ones left out are counted in the next one. */
static void test_summary_rate(void **state)
{
	struct down_audit d;
	struct audit_rejection rj = { .method = "POST", .path = "/twilio/voice/x",
		.remote_addr = "127.0.0.1", .verdict = "signature missing", .status = 403,
		.body_len = 60000, .nfields = 8 };
	char *data, *line, *save = NULL;
	size_t len;
	int written = 0, left_out = 0, lines = 0;
	json_t *last = NULL;
	(void)state;

	down_audit_open(&d, "audit.log");

	audit_set_summary_rate(d.au, 0, 5);
	for (int i = 0; i < 50; i++) {
		int rc = audit_rejected(d.au, &rj);
		if (rc == 1)
			written++;
		else if (rc == 2)
			left_out++;
		else
			fail_msg("summary %d: audit_rejected returned %d", i, rc);
	}
	assert_int_equal(written, 5);
	assert_int_equal(left_out, 45);
	audit_set_summary_rate(d.au, 0, 1);
	assert_int_equal(audit_rejected(d.au, &rj), 1);

	data = util_read_file(d.path, 1 << 20, &len);
	assert_non_null(data);
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		assert_true(strlen(line) <= AUDIT_SUMMARY_MAX);
		json_decref(last);
		last = json_loads(line, 0, NULL);
		assert_non_null(last);
		assert_string_equal(json_string_value(json_object_get(last, "kind")), "rejected");
		lines++;
	}
	assert_int_equal(lines, 6);
	assert_int_equal(json_integer_value(json_object_get(last, "suppressed")), 45);
	json_decref(last);
	free(data);

	down_audit_close(&d);
}

/* The token never appears anywhere a record goes, wherever the caller
 * put it: parameter names and values, nested arrays, object keys. */
static json_t *secret_record(const char *marker)
{
	struct param v[] = {
		{ "AuthToken", TOKEN, strlen(TOKEN) },
		{ "Body", "reply " TOKEN, strlen("reply " TOKEN) },
		{ "Digits", "1", 1 },
	};
	struct params p = { v, ARRAY_LEN(v) };
	json_t *rec = json_object();
	json_object_set_new(rec, "marker", json_string(marker));
	json_object_set_new(rec, "params", audit_params_json(&p));
	json_object_set_new(rec, "error", json_string("twilio said 401 for " TOKEN));
	json_object_set_new(rec, "nested", json_pack("[s,{s:s},[s]]", "a " TOKEN,
		"inner", OTHER_SECRET, TOKEN));
	json_object_set_new(rec, "key-" TOKEN, json_string("value"));
	return rec;
}

static void check_redacted_record(const json_t *rec)
{
	char *s = json_dumps(rec, JSON_COMPACT);
	assert_null(strstr(s, TOKEN));
	assert_null(strstr(s, OTHER_SECRET));
	assert_non_null(strstr(s, "twilio said 401 for [redacted]"));
	assert_non_null(strstr(s, "\"key-[redacted]\""));
	assert_non_null(strstr(s, "\"Digits\":\"1\""));
	free(s);
}

static void test_redaction_in_redis(void **state)
{
	struct rds *r = rds_open(unit_redis_url());
	struct audit *au = audit_open(r, NULL);
	char sid[40];
	char *key, *raw, *marker = xasprintf("secret-%d", (int)getpid());
	(void)state;

	snprintf(sid, sizeof(sid), "CA%08xaaaaaaaaaaaaaaaaaaaaaaaa", (unsigned)getpid());
	key = xasprintf(AUDIT_KEY_CALL_PREFIX "%s", sid);
	del(r, key);
	assert_int_equal(audit_record(au, "error", sid, NULL, secret_record(marker)), 0);
	raw = stream_raw(r, key, 10);
	assert_non_null(strstr(raw, marker));
	assert_null(strstr(raw, TOKEN));
	assert_null(strstr(raw, OTHER_SECRET));
	free(raw);
	raw = stream_raw(r, AUDIT_KEY_ERRORS, 50);
	assert_non_null(strstr(raw, marker));
	assert_null(strstr(raw, TOKEN));
	free(raw);
	json_t *recs = audit_read(r, "call", sid, 10);
	assert_int_equal(json_array_size(recs), 1);
	check_redacted_record(json_array_get(recs, 0));
	json_decref(recs);
	del(r, key);
	free(key);
	free(marker);
	audit_close(au);
	rds_close(r);
}

/* Redis unreachable: each record is one JSON line in the fallback file,
 * whose directory is created, mode 0640. */
static void test_fallback_file(void **state)
{
	struct down_audit d;
	struct stat st;
	char *data, *line, *save = NULL;
	size_t len;
	int lines = 0;
	(void)state;

	down_audit_open(&d, "var/log/audit.log");

	assert_int_equal(audit_record(d.au, "webhook", "CA0123456789abcdef0123456789abcdef", "7",
		secret_record("fb-1")), 1);
	assert_int_equal(audit_record(d.au, "error", NULL, NULL, json_pack("{s:s}", "marker", "fb-2")), 1);
	/* No Redis handle at all: straight to the file. */
	struct audit *au2 = audit_open(NULL, d.path);
	assert_int_equal(audit_record(au2, "outbound", NULL, NULL, json_pack("{s:s}", "marker", "fb-3")), 1);
	audit_close(au2);

	assert_int_equal(stat(d.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	data = util_read_file(d.path, 1 << 20, &len);
	assert_non_null(data);
	assert_true(len > 0 && data[len - 1] == '\n');
	assert_null(strstr(data, TOKEN));
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_error_t err;
		json_t *rec = json_loads(line, 0, &err);
		char want[16];
		if (rec == NULL)
			fail_msg("line %d is not JSON: %s", lines + 1, err.text);
		snprintf(want, sizeof(want), "fb-%d", lines + 1);
		assert_string_equal(json_string_value(json_object_get(rec, "marker")), want);
		assert_non_null(json_object_get(rec, "ts"));
		assert_non_null(json_object_get(rec, "kind"));
		if (lines == 0) {
			check_redacted_record(rec);
			assert_string_equal(json_string_value(json_object_get(rec, "business_id")), "7");
		}
		json_decref(rec);
		lines++;
	}
	assert_int_equal(lines, 3);
	free(data);
	down_audit_close(&d);
}

/* While a request is served (log_set_request_id), every record gets its
 * id unless it names one itself; outside a request, none. */
static void test_request_id_field(void **state)
{
	struct audit *au;
	struct down_audit d;
	char *data, *line, *save = NULL;
	const char *want[] = { "req-abc.123_X", "own-id-1", NULL };
	int lines = 0;
	(void)state;

	down_audit_open(&d, "audit.log");
	au = audit_open(NULL, d.path);
	log_set_request_id("req-abc.123_X");
	assert_int_equal(audit_record(au, "api", NULL, NULL, json_pack("{s:s}", "marker", "r1")), 1);
	assert_int_equal(audit_record(au, "api", NULL, NULL,
		json_pack("{s:s, s:s}", "marker", "r2", "request_id", "own-id-1")), 1);
	log_set_request_id(NULL);
	assert_string_equal(log_request_id(), "");
	assert_int_equal(audit_record(au, "worker", NULL, NULL, json_pack("{s:s}", "marker", "r3")), 1);
	audit_close(au);

	data = util_read_file(d.path, 1 << 20, NULL);
	assert_non_null(data);
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *rec = json_loads(line, 0, NULL);
		json_t *rid;
		assert_non_null(rec);
		assert_true(lines < 3);
		rid = json_object_get(rec, "request_id");
		if (want[lines])
			assert_string_equal(json_string_value(rid), want[lines]);
		else
			assert_null(rid);
		json_decref(rec);
		lines++;
	}
	assert_int_equal(lines, 3);
	free(data);
	down_audit_close(&d);
}

struct stderr_args {
	struct audit *au;
	int rc;
};

static void record_to_stderr(void *arg)
{
	struct stderr_args *a = arg;
	a->rc = audit_record(a->au, "error", NULL, NULL, secret_record("to-stderr"));
}

/* Neither Redis nor the fallback file: the line still reaches stderr. */
static void test_fallback_stderr(void **state)
{
	int port, sock = unit_bound_socket(&port);
	char *url = xasprintf("redis://127.0.0.1:%d", port);
	char *dir = tmpdir();
	char *blocker = xasprintf("%s/file", dir);
	char *path = xasprintf("%s/file/audit.log", dir); /* under a regular file */
	struct rds *r = rds_open(url);
	struct stderr_args a;
	char *out;
	int fd;
	(void)state;

	fd = open(blocker, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	a.au = audit_open(r, path);
	out = capture_stderr(record_to_stderr, &a);
	assert_int_equal(a.rc, -1);
	const char *line = strstr(out, "{\"marker\":\"to-stderr\"");
	if (line == NULL)
		fail_msg("record not on stderr: %s", out);
	json_t *rec = json_loadb(line, strcspn(line, "\n"), 0, NULL);
	assert_non_null(rec);
	check_redacted_record(rec);
	json_decref(rec);
	assert_null(strstr(out, TOKEN));
	free(out);
	audit_close(a.au);

	/* No fallback file configured at all. */
	a.au = audit_open(r, NULL);
	out = capture_stderr(record_to_stderr, &a);
	assert_int_equal(a.rc, -1);
	assert_non_null(strstr(out, "\"marker\":\"to-stderr\""));
	free(out);
	audit_close(a.au);

	rds_close(r);
	close(sock);
	rm_rf(dir);
	free(dir);
	free(blocker);
	free(path);
	free(url);
}

static void test_read_back(void **state)
{
	struct rds *r = rds_open(unit_redis_url());
	struct audit *au = audit_open(r, NULL);
	char biz[32];
	char *key;
	json_t *recs;
	(void)state;

	snprintf(biz, sizeof(biz), "rb%d", (int)getpid());
	key = xasprintf(AUDIT_KEY_BUSINESS_PREFIX "%s", biz);
	del(r, key);
	for (int i = 1; i <= 5; i++)
		assert_int_equal(audit_record(au, "outbound", NULL, biz, json_pack("{s:i}", "seq", i)), 0);

	struct { int max; int first; int n; } cases[] = {
		{ 10, 1, 5 }, { 5, 1, 5 }, { 3, 3, 3 }, { 1, 5, 1 },
	};
	for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
		recs = audit_read(r, "business", biz, cases[c].max);
		assert_non_null(recs);
		assert_int_equal(json_array_size(recs), cases[c].n);
		for (int i = 0; i < cases[c].n; i++) {
			json_t *rec = json_array_get(recs, (size_t)i);
			assert_int_equal(json_integer_value(json_object_get(rec, "seq")), cases[c].first + i);
			assert_string_equal(json_string_value(json_object_get(rec, "business_id")), biz);
		}
		json_decref(recs);
	}

	/* An entry some other writer left that is not JSON is still shown. */
	redisReply *rep = unit_redis_cmd(r, 5, "XADD", key, "*", "json", "{not json");
	assert_non_null(rep);
	freeReplyObject(rep);
	recs = audit_read(r, "business", biz, 10);
	assert_int_equal(json_array_size(recs), 6);
	json_t *last = json_array_get(recs, 5);
	assert_string_equal(json_string_value(json_object_get(last, "kind")), "unparsable");
	assert_string_equal(json_string_value(json_object_get(last, "raw")), "{not json");
	json_decref(recs);

	/* Nothing recorded yet, or an id no stream can have: empty. */
	recs = audit_read(r, "call", "CA00000000000000000000000000000000", 10);
	assert_int_equal(json_array_size(recs), 0);
	json_decref(recs);
	recs = audit_read(r, "call", "../../etc", 10);
	assert_non_null(recs);
	assert_int_equal(json_array_size(recs), 0);
	json_decref(recs);
	/* Misuse. */
	assert_null(audit_read(r, "everything", NULL, 10));
	assert_null(audit_read(r, "business", biz, 0));
	/* "all" and "errors" need no id. */
	recs = audit_read(r, "all", NULL, 3);
	assert_non_null(recs);
	assert_true(json_array_size(recs) <= 3);
	json_decref(recs);

	/* A stream key holding something else: Redis answers with an error. */
	rep = unit_redis_cmd(r, 3, "SET", key, "x");
	freeReplyObject(rep);
	assert_null(audit_read(r, "business", biz, 10));
	del(r, key);

	/* Redis unreachable. */
	int port, sock = unit_bound_socket(&port);
	char *url = xasprintf("redis://127.0.0.1:%d", port);
	struct rds *down = rds_open(url);
	assert_null(audit_read(down, "business", biz, 10));
	rds_close(down);
	close(sock);
	free(url);

	free(key);
	audit_close(au);
	rds_close(r);
}

/* The key names are a stored format (streams outlive a release), so they
 * are spelled out here once: a rename must be deliberate. */
static void test_key_names(void **state)
{
	static const struct {
		const char *scope, *id, *key; /* key NULL: no key for that scope */
	} cases[] = {
		{ "call", "CA0123", "audit:call:CA0123" },
		{ "business", "42", "audit:business:42" },
		{ "all", "ignored", "audit:all" },
		{ "errors", NULL, "audit:errors" },
		{ "rejected", NULL, "audit:rejected" },
		{ "call", "CA:x", "" },
		{ "business", NULL, "" },
		{ "calls", "CA0123", NULL },
		{ NULL, "CA0123", NULL },
	};
	/* 2026-11-25T10:59:59Z and the next second, in the next hour. */
	static const struct {
		time_t t;
		const char *key;
	} hours[] = {
		{ 1795604399, "audit:rejected:sources:2026112510" },
		{ 1795604400, "audit:rejected:sources:2026112511" },
	};
	char *k;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		k = audit_stream_key(cases[i].scope, cases[i].id);
		if (cases[i].key == NULL)
			assert_null(k);
		else
			assert_string_equal(k, cases[i].key);
		free(k);
	}
	for (size_t i = 0; i < ARRAY_LEN(hours); i++) {
		char key[AUDIT_SOURCES_KEY_SIZE];
		audit_sources_key(hours[i].t, key);
		assert_string_equal(key, hours[i].key);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_names),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_redact_nested_secrets),
		cmocka_unit_test(test_params_json),
		cmocka_unit_test(test_streams),
		cmocka_unit_test(test_maxlen),
		cmocka_unit_test(test_record_cap),
		cmocka_unit_test(test_rejection_summary),
		cmocka_unit_test(test_rejected_in_redis),
		cmocka_unit_test(test_sources_capped),
		cmocka_unit_test(test_fallback_rotation),
		cmocka_unit_test(test_summary_rate),
		cmocka_unit_test(test_redaction_in_redis),
		cmocka_unit_test(test_fallback_file),
		cmocka_unit_test(test_defer_fallback),
		cmocka_unit_test(test_request_id_field),
		cmocka_unit_test(test_fallback_stderr),
		cmocka_unit_test(test_read_back),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}

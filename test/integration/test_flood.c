/* Integration tests of the audit trail under a flood of unsigned webhooks
 * (DESIGN.md rule 12): nobody can flood it or forge a call's history.
 *
 * A real call gets its records from signed webhooks; then 10,000 unsigned
 * (or badly signed) posts of about 60 KB, each carrying that call's
 * CallSid, arrive over several connections at once.  Every one is
 * refused with 403; Redis grows by less than 5 MB; the call's records are
 * the same entries with the same content; audit:all and audit:errors
 * hold nothing of the flood; audit:rejected and the per-source counts
 * saw it.  The same burst with Redis stopped leaves the fallback log
 * holding only a bounded number of summaries, nothing from the bodies.
 *
 * The stack is the one named by the environment (see harness.h). */
#include "harness.h"
#include "audit.h"
#include "groups.h"
#include "rds.h"
#include "util.h"

#include <curl/curl.h>
#include <sys/stat.h>
#include <time.h>

#define FLOW "reminder_call"
#define FLOOD_POSTS 10000
#define FLOOD_PARALLEL 8
#define FLOOD_BODY 60000
/* A bound on the whole burst, so a hung stack fails the test instead of
 * the run; 10,000 posts take a few seconds (tens under ASan). */
#define FLOOD_DEADLINE_MS 100000
#define FLOOD_MAX_GROWTH (5 * 1000 * 1000)
/* The audit's documented bounds (audit.h). */
#define REJECTED_MAXLEN 5000
#define SUMMARY_MAX 1024
#define SUMMARY_RATE 20
#define SUMMARY_BURST 100

static struct rds *rds;
static int initialised, redis_stopped;

/* ---- Redis, raw ------------------------------------------------------------ */

static redisReply *rcmd_or_fail(int argc, ...)
{
	const char *argv[8];
	va_list ap;
	redisReply *rep;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, const char *);
	va_end(ap);
	rep = rds_command(rds, argc, argv, NULL);
	if (rep == NULL)
		fail_msg("redis %s: %s", argv[0], rds_last_error(rds));
	return rep;
}

static long long used_memory_or_fail(void)
{
	redisReply *rep = rcmd_or_fail(2, "INFO", "memory");
	const char *p = strstr(rep->str, "\nused_memory:");
	long long n;
	if (p == NULL)
		fail_msg("INFO memory has no used_memory");
	n = strtoll(p + strlen("\nused_memory:"), NULL, 10);
	freeReplyObject(rep);
	return n;
}

/* Every entry of stream key as "id json" lines, in order (caller frees):
 * two snapshots are equal only when they hold the same entries with the
 * same content. */
static char *stream_snapshot_or_fail(const char *key, const char *from)
{
	redisReply *rep = rcmd_or_fail(4, "XRANGE", key, from, "+");
	struct buf b = BUF_INIT;
	char *s;

	for (size_t i = 0; i < rep->elements; i++) {
		redisReply *e = rep->element[i], *f = e->element[1];
		buf_append(&b, e->element[0]->str, e->element[0]->len);
		for (size_t k = 0; k < f->elements; k++) {
			buf_putc(&b, ' ');
			buf_append(&b, f->element[k]->str, f->element[k]->len);
		}
		buf_putc(&b, '\n');
	}
	freeReplyObject(rep);
	s = xstrdup(buf_str(&b));
	buf_free(&b);
	return s;
}

/* The id of the newest entry of key, "0-0" when it has none. */
static char *last_id_or_fail(const char *key)
{
	redisReply *rep = rcmd_or_fail(6, "XREVRANGE", key, "+", "-", "COUNT", "1");
	char *id = rep->elements ? xstrdup(rep->element[0]->element[0]->str) : xstrdup("0-0");
	freeReplyObject(rep);
	return id;
}

static long long xlen_or_fail(const char *key)
{
	redisReply *rep = rcmd_or_fail(2, "XLEN", key);
	long long n = rep->integer;
	freeReplyObject(rep);
	return n;
}

static long long source_count_or_fail(const char *key, const char *addr)
{
	redisReply *rep = rcmd_or_fail(3, "HGET", key, addr);
	long long n = rep->type == REDIS_REPLY_STRING ? atoll(rep->str) : 0;
	freeReplyObject(rep);
	return n;
}

/* ---- the burst --------------------------------------------------------------- */

static size_t discard_cb(char *p, size_t sz, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return sz * n;
}

struct burst_result {
	long answered_403;
	long other;           /* any other status or a transport error */
	long first_other;     /* its status (0: transport error) */
	long long elapsed_ms;
};

/* POSTs body to url n times over FLOOD_PARALLEL connections, half with no
 * X-Twilio-Signature and half with a well-formed wrong one, within
 * FLOOD_DEADLINE_MS. */
static void burst_or_fail(const char *url, const char *body, size_t len, long n,
	struct burst_result *br)
{
	CURLM *m = curl_multi_init();
	CURL *h[FLOOD_PARALLEL];
	struct curl_slist *hdr[2] = { NULL, NULL };
	long started = 0, finished = 0;
	long long t0 = hx_now_ms(), deadline = t0 + FLOOD_DEADLINE_MS;
	int running = 0;

	memset(br, 0, sizeof(*br));
	br->first_other = -1;
	for (int k = 0; k < 2; k++) {
		hdr[k] = curl_slist_append(hdr[k], "Content-Type: application/x-www-form-urlencoded");
		hdr[k] = curl_slist_append(hdr[k], "Expect:");
	}
	hdr[1] = curl_slist_append(hdr[1], "X-Twilio-Signature: Zm9yZ2VkLWZvcmdlZC1mb3JnZWQtZm8=");
	for (int i = 0; i < FLOOD_PARALLEL && started < n; i++, started++) {
		h[i] = curl_easy_init();
		curl_easy_setopt(h[i], CURLOPT_URL, url);
		curl_easy_setopt(h[i], CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h[i], CURLOPT_POSTFIELDSIZE, (long)len);
		curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, discard_cb);
		curl_easy_setopt(h[i], CURLOPT_TIMEOUT_MS, 15000L);
		curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hdr[started % 2]);
		curl_multi_add_handle(m, h[i]);
	}
	while (finished < n && hx_now_ms() < deadline) {
		CURLMsg *msg;
		int left;
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			long status = 0;
			CURL *e = msg->easy_handle;
			if (msg->msg != CURLMSG_DONE)
				continue;
			if (msg->data.result == CURLE_OK)
				curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
			if (status == 403) {
				br->answered_403++;
			} else {
				if (br->other++ == 0)
					br->first_other = status;
			}
			finished++;
			curl_multi_remove_handle(m, e);
			if (started < n) {
				curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr[started % 2]);
				started++;
				curl_multi_add_handle(m, e);
			}
		}
		if (finished < n)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	br->elapsed_ms = hx_now_ms() - t0;
	for (int i = 0; i < FLOOD_PARALLEL && i < n; i++) {
		curl_multi_remove_handle(m, h[i]);
		curl_easy_cleanup(h[i]);
	}
	curl_multi_cleanup(m);
	curl_slist_free_all(hdr[0]);
	curl_slist_free_all(hdr[1]);
	if (finished < n)
		fail_msg("only %ld of %ld posts were answered within %d s", finished, n,
			FLOOD_DEADLINE_MS / 1000);
	if (br->answered_403 != n)
		fail_msg("%ld of %ld unsigned posts were answered 403; the first other: HTTP %ld",
			br->answered_403, n, br->first_other);
	fprintf(stderr, "# %ld unsigned posts of %zu bytes answered 403 in %lld ms\n", n, len,
		br->elapsed_ms);
}

/* A voice webhook body for c's CallSid, padded to about FLOOD_BODY bytes
 * in seven fields (each within the form parser's 16 KiB per value, so
 * the body parses and the signature decides), the first carrying a
 * marker that must never reach the audit (caller frees). */
static char *flood_body(const struct hx_call *c, const char *marker)
{
	struct hx_form f;
	const size_t each = FLOOD_BODY / 7;
	char *pad = xmalloc(each + 1), *body, name[16];

	hx_form_init(&f);
	hx_form_voice(&f, c->call_sid, c->from_number, c->client_phone);
	hx_form_add(&f, "Digits", "2");
	for (int i = 0; i < 7; i++) {
		memset(pad, 'a' + i, each);
		if (i == 0)
			memcpy(pad, marker, strlen(marker));
		pad[each] = '\0';
		snprintf(name, sizeof(name), "Field%d", i % 10);
		hx_form_add(&f, name, pad);
	}
	body = hx_form_encode(&f);
	hx_form_free(&f);
	free(pad);
	return body;
}

/* The path of c's first webhook URL, as a summary names it. */
static char *call_path(const struct hx_call *c)
{
	const char *p = c->first_url + strlen(hx_env.public_url);
	return xstrndup(p, strcspn(p, "?"));
}

/* ---- with Redis up --------------------------------------------------------------- */

/* Two signed webhooks of c, so that its stream has real records. */
static void real_call_or_fail(const struct hx_call *c)
{
	struct hx_form f;
	struct hx_response rs;
	char *url;

	hx_form_init(&f);
	hx_form_voice(&f, c->call_sid, c->from_number, c->client_phone);
	if (hx_post_form(c->first_url, &f, HX_SIGNED, &rs) < 0 || rs.status != 200)
		fail_msg("first webhook: HTTP %ld %s", rs.status, rs.error);
	hx_response_free(&rs);
	url = xasprintf("%s/twilio/voice/%s?c=%s&s=announce&n=0", hx_env.public_url, FLOW,
		c->token);
	hx_form_add(&f, "Digits", "1");
	if (hx_post_form(url, &f, HX_SIGNED, &rs) < 0 || rs.status != 200)
		fail_msg("second webhook: HTTP %ld %s", rs.status, rs.error);
	hx_response_free(&rs);
	free(url);
	hx_form_free(&f);
}

static void test_flood_redis_up(void **state)
{
	struct hx_call c;
	struct burst_result br;
	char marker[33], *body, *call_key, *before_call, *after_call, *all_from, *errors_from;
	char src_key0[AUDIT_SOURCES_KEY_SIZE], src_key1[AUDIT_SOURCES_KEY_SIZE];
	char *path, *all_new, *errors_new;
	long long mem0, mem1, src0, src1;
	json_t *newest;
	char err[256];
	(void)state;

	hx_fixture_call_or_fail(&c);
	real_call_or_fail(&c);
	call_key = xasprintf(AUDIT_KEY_CALL_PREFIX "%s", c.call_sid);
	if (hx_audit_wait(call_key, 2, 3000, "kind", "webhook", "signature", "valid", NULL) < 2)
		fail_msg("%s does not have the two signed webhooks' records", call_key);
	before_call = stream_snapshot_or_fail(call_key, "-");
	all_from = xasprintf("(%s", last_id_or_fail(AUDIT_KEY_ALL));
	errors_from = xasprintf("(%s", last_id_or_fail(AUDIT_KEY_ERRORS));
	audit_sources_key(time(NULL), src_key0);
	src0 = source_count_or_fail(src_key0, "127.0.0.1");
	mem0 = used_memory_or_fail();

	hx_random_hex(marker, 16);
	body = flood_body(&c, marker);
	burst_or_fail(c.first_url, body, strlen(body), FLOOD_POSTS, &br);

	/* Redis grew by the capped summaries only. */
	mem1 = used_memory_or_fail();
	fprintf(stderr, "# Redis used_memory %lld -> %lld (%+lld bytes)\n", mem0, mem1, mem1 - mem0);
	if (mem1 - mem0 >= FLOOD_MAX_GROWTH)
		fail_msg("Redis grew by %lld bytes under the flood, want < %d", mem1 - mem0,
			FLOOD_MAX_GROWTH);

	/* The call's history: the same entries, the same content. */
	after_call = stream_snapshot_or_fail(call_key, "-");
	if (strcmp(before_call, after_call) != 0)
		fail_msg("%s changed under the flood:\nbefore:\n%s\nafter:\n%.2000s", call_key,
			before_call, after_call);

	/* Nothing of the flood in the streams of verified records. */
	all_new = stream_snapshot_or_fail(AUDIT_KEY_ALL, all_from);
	errors_new = stream_snapshot_or_fail(AUDIT_KEY_ERRORS, errors_from);
	if (strstr(all_new, c.call_sid) || strstr(all_new, marker))
		fail_msg("audit:all holds a forged record");
	if (strstr(errors_new, c.call_sid) || strstr(errors_new, marker))
		fail_msg("audit:errors holds a forged record");

	/* The rejected stream saw them, capped, each a summary. */
	path = call_path(&c);
	newest = hx_audit_read_newest(AUDIT_KEY_REJECTED, 1000, err, sizeof(err));
	if (newest == NULL)
		fail_msg("cannot read audit:rejected: %s", err);
	{
		size_t missing = hx_audit_count(newest, "path", path, "verdict", "signature missing",
			NULL);
		size_t invalid = hx_audit_count(newest, "path", path, "verdict", "signature invalid",
			NULL);
		char *dump = json_dumps(newest, JSON_COMPACT);
		if (missing + invalid != 1000 || missing < 400 || invalid < 400)
			fail_msg("the newest 1000 summaries: %zu 'signature missing' and %zu "
				"'signature invalid' for %s, want 1000 in all, about half each; "
				"the newest: %.400s", missing, invalid, path, dump);
		if (strstr(dump, c.call_sid) || strstr(dump, marker))
			fail_msg("a summary holds something from the body");
		free(dump);
	}
	json_decref(newest);
	if (xlen_or_fail(AUDIT_KEY_REJECTED) > REJECTED_MAXLEN + 100)
		fail_msg("audit:rejected holds %lld summaries, over its cap of %d",
			xlen_or_fail(AUDIT_KEY_REJECTED), REJECTED_MAXLEN);

	/* Counted per source (summed over two hours if one ended meanwhile). */
	audit_sources_key(time(NULL), src_key1);
	src1 = source_count_or_fail(src_key1, "127.0.0.1");
	if (strcmp(src_key0, src_key1) != 0)
		src1 += source_count_or_fail(src_key0, "127.0.0.1");
	if (src1 - src0 != FLOOD_POSTS)
		fail_msg("127.0.0.1 was counted %lld times, want %d", src1 - src0, FLOOD_POSTS);

	free(path);
	free(all_new);
	free(errors_new);
	free(all_from);
	free(errors_from);
	free(before_call);
	free(after_call);
	free(call_key);
	free(body);
}

/* ---- with Redis down ----------------------------------------------------------------- */

/* The fallback log's files (the log and its rotations, audit.h). */
#define FALLBACK_FILES 4
#define FALLBACK_MAX_BYTES (64LL * 1024 * 1024)

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static long long fallback_total(void)
{
	long long n = file_size(hx_env.audit_fallback);
	for (int i = 1; i < FALLBACK_FILES + 2; i++) {
		char *p = xasprintf("%s.%d", hx_env.audit_fallback, i);
		n += file_size(p);
		free(p);
	}
	return n;
}

/* Waits (bounded) until /readyz answers 200 with Redis "ok" several
 * times in a row, so that every worker has its Redis connection back. */
static int wait_healthy(void)
{
	int streak = 0;
	long long deadline = hx_now_ms() + 30000;
	while (streak < 12 && hx_now_ms() < deadline) {
		struct hx_response rs;
		hx_get("/readyz", &rs);
		streak = rs.status == 200 && strstr(buf_str(&rs.body), "\"redis\": \"ok\"")
			? streak + 1 : 0;
		hx_response_free(&rs);
		if (streak == 0)
			hx_sleep_ms(100);
	}
	return streak >= 12 ? 0 : -1;
}

static int restore_redis(void **state)
{
	(void)state;
	if (!redis_stopped)
		return 0;
	if (hx_stack_start_stopped("redis", &redis_stopped, 60) != 0)
		return -1;
	return wait_healthy();
}

static void test_flood_redis_down(void **state)
{
	struct hx_call c;
	struct burst_result br;
	struct hx_pids pids;
	char marker[33], *body, *data, *line, *save = NULL;
	long long size0, size1, offset;
	long lines = 0, suppressed = 0, max_lines;
	size_t len;
	json_t *hits;
	(void)state;

	if (hx_env.audit_fallback == NULL || *hx_env.audit_fallback == '\0')
		fail_msg("RINGFENCE_AUDIT_FALLBACK is not set");
	hx_fixture_call_or_fail(&c);
	hx_random_hex(marker, 16);
	body = flood_body(&c, marker);
	offset = file_size(hx_env.audit_fallback);
	size0 = fallback_total();

	redis_stopped = 1;
	if (hx_stack("redis-stop", NULL, 60) != 0)
		fail_msg("deploy/stack redis-stop failed");
	burst_or_fail(c.first_url, body, strlen(body), FLOOD_POSTS, &br);
	size1 = fallback_total();
	if (restore_redis(NULL) != 0)
		fail_msg("Redis did not come back");

	/* Only summaries, at most the rate cap's worth per worker. */
	if (hx_fcgi_pids(&pids) != 0 || pids.nworkers < 1)
		fail_msg("cannot list the FastCGI workers");
	max_lines = (long)pids.nworkers * (SUMMARY_BURST +
		SUMMARY_RATE * (long)(br.elapsed_ms / 1000 + 2));
	fprintf(stderr, "# fallback log grew by %lld bytes under the flood (at most %ld lines)\n",
		size1 - size0, max_lines);
	if (size1 - size0 > (long long)max_lines * (SUMMARY_MAX + 1))
		fail_msg("the fallback log grew by %lld bytes, want at most %ld summaries",
			size1 - size0, max_lines);
	if (file_size(hx_env.audit_fallback) > FALLBACK_MAX_BYTES + 65536)
		fail_msg("%s is over its rotation size", hx_env.audit_fallback);

	/* Nothing from the bodies, and every new line a summary; the ones the
	 * rate cap left out are counted in the next. */
	hits = hx_fallback_read(marker);
	if (hits == NULL || json_array_size(hits) != 0)
		fail_msg("the fallback log holds the flood's bodies");
	json_decref(hits);
	hits = hx_fallback_read(c.call_sid);
	if (hits == NULL || json_array_size(hits) != 0)
		fail_msg("the fallback log holds the forged CallSid");
	json_decref(hits);
	data = util_read_file(hx_env.audit_fallback, 1 << 28, &len);
	if (data == NULL)
		fail_msg("cannot read %s", hx_env.audit_fallback);
	if ((long long)len < offset)
		offset = 0; /* rotated meanwhile: the live file is all new */
	for (line = strtok_r(data + offset, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *rec = json_loads(line, 0, NULL);
		if (rec == NULL)
			fail_msg("a fallback line is not JSON: %.200s", line);
		const char *kind = json_string_value(json_object_get(rec, "kind"));
		if (kind && strcmp(kind, "rejected") == 0) {
			if (strlen(line) > SUMMARY_MAX)
				fail_msg("a summary of %zu bytes", strlen(line));
			lines++;
			suppressed += (long)json_integer_value(json_object_get(rec, "suppressed"));
		}
		json_decref(rec);
	}
	free(data);
	fprintf(stderr, "# %ld summaries written, %ld counted as left out\n", lines, suppressed);
	if (lines < 1 || lines > max_lines)
		fail_msg("%ld summaries in the fallback log, want 1..%ld", lines, max_lines);
	if (lines + suppressed > FLOOD_POSTS)
		fail_msg("%ld summaries and %ld left out for %d posts", lines, suppressed, FLOOD_POSTS);
	free(body);
}

/* ---- the group ---------------------------------------------------------------------- */

static int group_setup(void **state)
{
	if (hx_group_setup(state) < 0)
		return -1;
	rds = rds_open(hx_env.redis_url);
	if (rds == NULL) {
		fprintf(stderr, "# run_integration: RINGFENCE_REDIS_URL is malformed\n");
		hx_fini();
		return -1;
	}
	initialised = 1;
	return 0;
}

static int group_teardown(void **state)
{
	int rc = 0;
	if (initialised && redis_stopped)
		rc = restore_redis(state);
	rds_close(rds);
	rds = NULL;
	hx_fini();
	return rc;
}

int flood_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood_redis_up),
		cmocka_unit_test_teardown(test_flood_redis_down, restore_redis),
	};
	return cmocka_run_group_tests_name("integration: flood", tests, group_setup, group_teardown);
}

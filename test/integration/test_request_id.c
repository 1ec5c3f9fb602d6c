/* Integration: one request id from nginx through the pool's log and the
 * audit.  nginx keeps an X-Request-Id from a trusted proxy (the stack
 * trusts its own clients) when it is 8-64 characters of [A-Za-z0-9._-],
 * replaces any other with its own $request_id, makes one when none came,
 * and sends it back as X-Request-Id; ringfence puts the same id on its
 * log lines and in every audit record of the request.
 *
 * The request: a signed inbound text whose From is malformed, which the
 * pool answers, logs one warning about, and records twice (the webhook
 * record and an error record). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "groups.h"
#include "harness.h"
#include "audit.h"
#include "signature.h"
#include "util.h"

/* The X-Request-Id of a response, gathered by the header callback. */
struct rid_seen {
	char id[128];
	int count;
};

static size_t on_header(char *line, size_t size, size_t n, void *data)
{
	struct rid_seen *seen = data;
	size_t len = size * n;
	static const char name[] = "X-Request-Id:";

	if (len > sizeof(name) - 1 && strncasecmp(line, name, sizeof(name) - 1) == 0) {
		const char *v = line + sizeof(name) - 1;
		size_t vlen = len - (sizeof(name) - 1);
		while (vlen > 0 && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
			vlen--;
		snprintf(seen->id, sizeof(seen->id), "%.*s", (int)vlen, v);
		seen->count++;
	}
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *out)
{
	(void)data;
	(void)out;
	return size * n;
}

/* POSTs body to url with the headers hdrs (freed here); the X-Request-Id
 * answered goes to seen.  Returns the HTTP status (0: no answer). */
static long post_seen(const char *url, const char *body, struct curl_slist *hdrs,
	struct rid_seen *seen)
{
	CURL *c = curl_easy_init();
	long status = 0;

	assert_non_null(c);
	memset(seen, 0, sizeof(*seen));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, seen);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return status;
}

/* POSTs a signed inbound text with a malformed From, with X-Request-Id:
 * sent_id (NULL: no header); the X-Request-Id answered goes to seen.
 * Returns the HTTP status. */
static long post_bad_text(const char *sent_id, struct rid_seen *seen)
{
	char *url = xasprintf("%s/twilio/sms/inbound", hx_env.public_url);
	char from[13], to[13], sid[35], sig[SIGNATURE_LEN + 1];
	struct hx_form f;
	struct curl_slist *hdrs = NULL;
	char *body, *h;
	long status;

	hx_random_phone(from);
	hx_random_phone(to);
	hx_random_message_sid(sid);
	hx_sms_form(&f, sid, from, to, "hello");
	hx_form_set(&f, "From", "4155551212");
	assert_int_equal(hx_sign(NULL, url, &f, sig), 0);
	body = hx_form_encode(&f);
	h = xasprintf("X-Twilio-Signature: %s", sig);
	hdrs = curl_slist_append(hdrs, h);
	free(h);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
	if (sent_id) {
		h = xasprintf("X-Request-Id: %s", sent_id);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
	}
	status = post_seen(url, body, hdrs, seen);
	free(body);
	hx_form_free(&f);
	free(url);
	return status;
}

/* Fails unless id is in the webhook and the error record of the
 * request (audit:all), in `ringfence audit errors`, and on the pool's
 * warning about it in the stack's fcgi.log. */
static void id_followed_or_fail(const char *id)
{
	char *cmd, *log, *tag;
	struct buf out;
	long n = 0;

	n = hx_audit_wait(AUDIT_KEY_ALL, 1, 5000, "request_id", id, "kind", "webhook", NULL);
	assert_int_equal(n, 1);
	n = hx_audit_wait(AUDIT_KEY_ALL, 1, 5000, "request_id", id, "kind", "error", NULL);
	assert_int_equal(n, 1);

	cmd = xasprintf("'%s' audit errors --max 200", hx_ringfence_bin("request_id"));
	buf_init(&out);
	assert_int_equal(hx_shell(cmd, &out, 30), 0);
	tag = xasprintf("\"request_id\":\"%s\"", id);
	if (strstr(buf_str(&out), tag) == NULL)
		fail_msg("`ringfence audit errors` has no record with %s", tag);
	free(tag);
	buf_free(&out);
	free(cmd);

	/* The pool's warning line ("[req <id>] webhook <id> /twilio/...");
	 * the pool writes it before it answers, but poll a little. */
	log = xasprintf("%s/log/fcgi.log", hx_env.stack_dir);
	tag = xasprintf("[req %s] webhook %s /twilio/sms/inbound", id, id);
	cmd = xasprintf("grep -qF -- '%s' '%s'", tag, log);
	for (int i = 0; i < 50 && hx_shell(cmd, NULL, 10) != 0; i++)
		hx_sleep_ms(100);
	if (hx_shell(cmd, NULL, 10) != 0)
		fail_msg("%s has no line with '%s'", log, tag);
	free(cmd);
	free(tag);
	free(log);

	/* nginx's access log has it too (the stack's log_format: rid=<id>). */
	log = xasprintf("%s/log/nginx-access.log", hx_env.stack_dir);
	cmd = xasprintf("grep -qF -- ' rid=%s' '%s'", id, log);
	for (int i = 0; i < 50 && hx_shell(cmd, NULL, 10) != 0; i++)
		hx_sleep_ms(100);
	if (hx_shell(cmd, NULL, 10) != 0)
		fail_msg("%s has no line with rid=%s", log, id);
	free(cmd);
	free(log);
}

/* nginx's own id: 32 lowercase hex digits. */
static int is_nginx_id(const char *s)
{
	size_t n = strlen(s);
	return n == 32 && strspn(s, "0123456789abcdef") == n;
}

/* A valid id sent in comes back, and is in the log and the audit. */
static void test_request_id_kept(void **state)
{
	char hex[25], id[40];
	struct rid_seen seen;
	(void)state;

	hx_random_hex(hex, 12);
	snprintf(id, sizeof(id), "lb-%s.x_Y", hex);
	assert_int_equal(post_bad_text(id, &seen), 200);
	assert_int_equal(seen.count, 1);
	assert_string_equal(seen.id, id);
	id_followed_or_fail(id);
}

/* An id that is not 8-64 characters of [A-Za-z0-9._-] is replaced by
 * nginx's own, and that one is followed instead. */
static void test_request_id_replaced(void **state)
{
	char hex[25], long_id[80];
	struct rid_seen seen;
	(void)state;

	hx_random_hex(hex, 12);
	snprintf(long_id, sizeof(long_id), "%s%s%s-", hex, hex, "0123456789abcdef");
	assert_int_equal(strlen(long_id), 65);
	{
		const char *bad[] = { "short12", long_id, "has space in it", "semi;colon12",
			"quote\"d-id-1", "%41%42%43%44%45%46%47%48" };
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_equal(post_bad_text(bad[i], &seen), 200);
			assert_int_equal(seen.count, 1);
			if (!is_nginx_id(seen.id))
				fail_msg("X-Request-Id '%s' came back as '%s', not nginx's own",
					bad[i], seen.id);
		}
	}
	id_followed_or_fail(seen.id);
}

/* No X-Request-Id: nginx makes one, a fresh one each time. */
static void test_request_id_made(void **state)
{
	struct rid_seen a, b;
	(void)state;

	assert_int_equal(post_bad_text(NULL, &a), 200);
	assert_int_equal(post_bad_text(NULL, &b), 200);
	assert_int_equal(a.count, 1);
	assert_true(is_nginx_id(a.id));
	assert_true(is_nginx_id(b.id));
	assert_string_not_equal(a.id, b.id);
	id_followed_or_fail(a.id);
}

/* nginx's own answers carry it too: a body over nginx's 1 MiB bound on
 * /api, refused by nginx before the pool sees it. */
static void test_request_id_on_nginx_answers(void **state)
{
	char *url = xasprintf("%s/api/v1/appointments", hx_env.public_url);
	char *big = xmalloc(2 * 1024 * 1024);
	struct rid_seen seen;
	struct curl_slist *hdrs = NULL;
	long status;
	(void)state;

	memset(big, 'a', 2 * 1024 * 1024 - 1);
	big[2 * 1024 * 1024 - 1] = '\0';
	hdrs = curl_slist_append(hdrs, "X-Request-Id: too-large-body-1");
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	status = post_seen(url, big, hdrs, &seen);
	free(big);
	free(url);
	assert_int_equal(status, 413);
	assert_int_equal(seen.count, 1);
	assert_string_equal(seen.id, "too-large-body-1");
}

int request_id_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_id_kept),
		cmocka_unit_test(test_request_id_replaced),
		cmocka_unit_test(test_request_id_made),
		cmocka_unit_test(test_request_id_on_nginx_answers),
	};
	return cmocka_run_group_tests_name("integration: request ids through nginx, log and audit",
		tests, hx_group_setup, hx_group_teardown);
}

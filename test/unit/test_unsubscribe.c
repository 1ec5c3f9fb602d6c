/* Unit tests: the unsubscribe token (made, verified, refused when any part
 * is changed) and the escaping template writer the page and the email's
 * HTML part are written with. */
#include "unit.h"

#include "buf.h"
#include "config.h"
#include "html.h"
#include "unsubscribe.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SECRET "0123456789abcdef0123456789abcdef"

/* The token computed here independently, from the contract in
 * unsubscribe.h: HMAC-SHA256(HMAC-SHA256(secret, label), "c:b") in hex. */
static void reference_token(const char *secret, long long c, long long b, char out[65])
{
	unsigned char key[32], mac[32];
	unsigned int klen = 0, mlen = 0;
	char msg[64];
	static const char hex[] = "0123456789abcdef";
	int n = snprintf(msg, sizeof(msg), "%lld:%lld", c, b);

	assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret),
		(const unsigned char *)"ringfence unsubscribe v1", 24, key, &klen));
	assert_non_null(HMAC(EVP_sha256(), key, 32, (const unsigned char *)msg, (size_t)n, mac, &mlen));
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[64] = '\0';
}

static void test_token_made_and_verified(void **state)
{
	char t[UNSUBSCRIBE_TOKEN_LEN + 1], ref[65];
	(void)state;
	assert_int_equal(unsubscribe_token(SECRET, 42, 7, t), 0);
	assert_int_equal(strlen(t), UNSUBSCRIBE_TOKEN_LEN);
	assert_int_equal(strspn(t, "0123456789abcdef"), UNSUBSCRIBE_TOKEN_LEN);
	reference_token(SECRET, 42, 7, ref);
	assert_string_equal(t, ref);
	assert_int_equal(unsubscribe_verify(SECRET, 42, 7, t), 1);
	/* The same inputs give the same token: a link stays valid. */
	{
		char again[UNSUBSCRIBE_TOKEN_LEN + 1];
		assert_int_equal(unsubscribe_token(SECRET, 42, 7, again), 0);
		assert_string_equal(again, t);
	}
}

/* Every change is refused: another client, another business, the ids
 * swapped or run together, one changed or dropped or added character,
 * upper case, another secret, no secret. */
static void test_token_tampering(void **state)
{
	char t[UNSUBSCRIBE_TOKEN_LEN + 1], x[UNSUBSCRIBE_TOKEN_LEN + 2];
	(void)state;
	assert_int_equal(unsubscribe_token(SECRET, 42, 7, t), 0);
	assert_int_equal(unsubscribe_verify(SECRET, 43, 7, t), 0);
	assert_int_equal(unsubscribe_verify(SECRET, 42, 8, t), 0);
	assert_int_equal(unsubscribe_verify(SECRET, 7, 42, t), 0);
	assert_int_equal(unsubscribe_verify(SECRET, 4, 27, t), 0);
	assert_int_equal(unsubscribe_verify(SECRET, 427, 1, t), 0);
	assert_int_equal(unsubscribe_verify("another secret", 42, 7, t), 0);
	assert_int_equal(unsubscribe_verify("", 42, 7, t), 0);
	assert_int_equal(unsubscribe_verify(NULL, 42, 7, t), 0);
	assert_int_equal(unsubscribe_verify(SECRET, 42, 7, NULL), 0);
	assert_int_equal(unsubscribe_verify(SECRET, 42, 7, ""), 0);
	for (size_t i = 0; i < UNSUBSCRIBE_TOKEN_LEN; i++) {
		strcpy(x, t);
		x[i] = x[i] == '0' ? '1' : '0';
		if (unsubscribe_verify(SECRET, 42, 7, x))
			fail_msg("a token with character %zu changed verified", i);
		strcpy(x, t);
		if (x[i] >= 'a' && x[i] <= 'f') {
			x[i] = (char)(x[i] - 'a' + 'A');
			if (unsubscribe_verify(SECRET, 42, 7, x))
				fail_msg("a token with character %zu in upper case verified", i);
		}
	}
	strcpy(x, t);
	x[UNSUBSCRIBE_TOKEN_LEN - 1] = '\0';
	assert_int_equal(unsubscribe_verify(SECRET, 42, 7, x), 0);
	strcpy(x, t);
	strcat(x, "0");
	assert_int_equal(unsubscribe_verify(SECRET, 42, 7, x), 0);
	/* No secret or no id: no token at all. */
	assert_int_equal(unsubscribe_token("", 42, 7, x), -1);
	assert_int_equal(unsubscribe_token(NULL, 42, 7, x), -1);
	assert_int_equal(unsubscribe_token(SECRET, 0, 7, x), -1);
	assert_int_equal(unsubscribe_token(SECRET, 42, -7, x), -1);
}

static void test_url(void **state)
{
	struct config cfg;
	char t[UNSUBSCRIBE_TOKEN_LEN + 1], *want, *url;
	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.public_url = "https://rf.example";
	cfg.auth_token = SECRET;
	assert_int_equal(unsubscribe_token(SECRET, 42, 7, t), 0);
	want = malloc(200);
	snprintf(want, 200, "https://rf.example/unsubscribe?c=42&b=7&t=%s", t);
	url = unsubscribe_url(&cfg, 42, 7);
	assert_non_null(url);
	assert_string_equal(url, want);
	free(url);
	free(want);
	cfg.auth_token = NULL;
	assert_null(unsubscribe_url(&cfg, 42, 7));
	cfg.auth_token = SECRET;
	cfg.public_url = NULL;
	assert_null(unsubscribe_url(&cfg, 42, 7));
}

/* The writer escapes every value, wherever the template puts it, and
 * refuses a placeholder it has no value for. */
static void test_html_render(void **state)
{
	struct buf b = BUF_INIT;
	const char *const f[] = { "name", "<script>alert('x')</script> & \"q\"", "url",
		"/u?c=1&b=2", "empty", NULL, NULL };
	(void)state;
	assert_int_equal(html_render(&b, "<p>{{name}}</p><a href=\"{{url}}\">x</a>[{{empty}}]", f), 0);
	assert_string_equal(buf_str(&b),
		"<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;</p>"
		"<a href=\"/u?c=1&amp;b=2\">x</a>[]");
	buf_reset(&b);
	assert_int_equal(html_render(&b, "no placeholders", NULL), 0);
	assert_string_equal(buf_str(&b), "no placeholders");
	buf_reset(&b);
	assert_int_equal(html_render(&b, "<p>{{missing}}</p>", f), -1);
	buf_reset(&b);
	assert_int_equal(html_render(&b, "<p>{{name</p>", f), -1);
	/* A value that looks like a placeholder stays text. */
	{
		const char *const g[] = { "a", "{{b}}", "b", "B", NULL };
		buf_reset(&b);
		assert_int_equal(html_render(&b, "{{a}}{{b}}", g), 0);
		assert_string_equal(buf_str(&b), "{{b}}B");
	}
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_made_and_verified),
		cmocka_unit_test(test_token_tampering),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_html_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

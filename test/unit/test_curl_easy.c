/* Unit tests: curl_easy_defaults, the option block of every libcurl
 * request (refuses bad arguments; a handle speaks only its kind's
 * protocols, so a file:// or an http:// URL on an SMTP handle never
 * reaches anything). */
#include "unit.h"

#include "curl_easy.h"

static void test_bad_arguments(void **state)
{
	char errbuf[CURL_ERROR_SIZE];
	CURL *c = curl_easy_new();
	(void)state;

	assert_non_null(c);
	assert_int_equal(curl_easy_defaults(NULL, CURL_EASY_HTTP, 1000, 1000, errbuf), -1);
	assert_int_equal(curl_easy_defaults(c, CURL_EASY_HTTP, 0, 1000, errbuf), -1);
	assert_int_equal(curl_easy_defaults(c, CURL_EASY_HTTP, 1000, -1, errbuf), -1);
	assert_int_equal(curl_easy_defaults(c, CURL_EASY_HTTP, 1000, 1000, NULL), -1);
	assert_int_equal(curl_easy_defaults(c, CURL_EASY_HTTP, 1000, 1000, errbuf), 0);
	curl_easy_cleanup(c);
}

/* Performs url on a fresh handle of kind; libcurl's result. */
static CURLcode perform(enum curl_easy_kind kind, const char *url)
{
	char errbuf[CURL_ERROR_SIZE];
	CURL *c = curl_easy_new();
	CURLcode rc;

	assert_non_null(c);
	assert_int_equal(curl_easy_defaults(c, kind, 1000, 2000, errbuf), 0);
	assert_int_equal(curl_easy_setopt(c, CURLOPT_URL, url), CURLE_OK);
	rc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	return rc;
}

static void test_only_its_protocols(void **state)
{
	(void)state;
	assert_int_equal(perform(CURL_EASY_HTTP, "file:///etc/hostname"), CURLE_UNSUPPORTED_PROTOCOL);
	assert_int_equal(perform(CURL_EASY_HTTP, "smtp://127.0.0.1:1/"), CURLE_UNSUPPORTED_PROTOCOL);
	assert_int_equal(perform(CURL_EASY_SMTP, "http://127.0.0.1:1/"), CURLE_UNSUPPORTED_PROTOCOL);
	assert_int_equal(perform(CURL_EASY_SMTP, "file:///etc/hostname"), CURLE_UNSUPPORTED_PROTOCOL);
	/* Its own protocol is tried (nothing listens on port 1). */
	assert_int_equal(perform(CURL_EASY_HTTP, "http://127.0.0.1:1/"), CURLE_COULDNT_CONNECT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_only_its_protocols),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests: redaction of passwords in URLs, conninfo strings and
 * messages that quote them. */
#include "unit.h"

#include "secret.h"

struct redact_case {
	const char *in, *out;
};

static const struct redact_case redact_cases[] = {
	{ "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0" },
	{ "redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0" },
	{ "redis://ringfence:s3cret@cache/1", "redis://ringfence:***@cache/1" },
	{ "redis://s3cret@cache", "redis://***@cache" },
	{ "redis://:p@ss@cache", "redis://:***@cache" },
	{ "unix://:s3cret@/run/redis.sock?db=2", "unix://:***@/run/redis.sock?db=2" },
	{ "unix:///run/redis.sock?db=2&password=s3cret", "unix:///run/redis.sock?db=2&password=***" },
	{ "smtps://desk%40x.org:pa%24s@mail.x.org:465", "smtps://desk%40x.org:***@mail.x.org:465" },
	{ "postgresql://rf:s3cret@db/ringfence", "postgresql://rf:***@db/ringfence" },
	{ "host=db password=s3cret dbname=rf", "host=db password=*** dbname=rf" },
	{ "host=db password='s3 cret' dbname=rf", "host=db password=*** dbname=rf" },
	{ "notaurl", "notaurl" },
	{ "", "" },
};

static void test_url_redact(void **state)
{
	char out[256];
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(redact_cases); i++) {
		url_redact(redact_cases[i].in, out, sizeof(out));
		if (strcmp(out, redact_cases[i].out) != 0)
			fail_msg("'%s' -> '%s', want '%s'", redact_cases[i].in, out, redact_cases[i].out);
	}
	/* Truncation keeps the string terminated and never shows the end. */
	url_redact("redis://:s3cret@host", out, 12);
	assert_string_equal(out, "redis://:**");
	url_redact(NULL, out, sizeof(out));
	assert_string_equal(out, "");
}

static void test_scrub(void **state)
{
	char buf[128];
	(void)state;
	snprintf(buf, sizeof(buf), "AUTH s3cret failed; s3cret again");
	secret_scrub(buf, sizeof(buf), "s3cret");
	assert_string_equal(buf, "AUTH *** failed; *** again");
	snprintf(buf, sizeof(buf), "x");
	secret_scrub(buf, sizeof(buf), "");
	secret_scrub(buf, sizeof(buf), NULL);
	assert_string_equal(buf, "x");
	/* A short secret growing into the mask stays inside the buffer. */
	snprintf(buf, 8, "a_a_a_a");
	secret_scrub(buf, 8, "a");
	assert_true(strlen(buf) < 8);
	assert_null(strchr(buf, 'a'));
}

/* libpq's messages quote a malformed conninfo whole; PQerrorMessage of a
 * URI names the host.  Neither may show the password, raw or decoded. */
static void test_scrub_conninfo(void **state)
{
	char buf[256];
	(void)state;
	snprintf(buf, sizeof(buf), "missing \"=\" after \"host=db password=s3cret dbname\" in "
		"connection info string");
	secret_scrub_conninfo(buf, sizeof(buf), "host=db password=s3cret dbname");
	assert_null(strstr(buf, "s3cret"));
	snprintf(buf, sizeof(buf), "invalid URI \"postgresql://rf:p%%40ss@db/x?bad\" p@ss");
	secret_scrub_conninfo(buf, sizeof(buf), "postgresql://rf:p%40ss@db/x?bad");
	assert_null(strstr(buf, "p%40ss"));
	assert_null(strstr(buf, "p@ss"));
	snprintf(buf, sizeof(buf), "password authentication failed for user \"rf\"");
	secret_scrub_conninfo(buf, sizeof(buf), "host=db user=rf password=s3cret");
	assert_string_equal(buf, "password authentication failed for user \"rf\"");
	snprintf(buf, sizeof(buf), "connect redis://:s3cret@h failed");
	secret_scrub_url(buf, sizeof(buf), "redis://:s3cret@h");
	assert_null(strstr(buf, "s3cret"));
}

/* A multi-host URL (failover): the whole string, the password raw and
 * decoded, and the hosts' message all without it; the URL parses. */
static void test_scrub_multi_host(void **state)
{
	static const char url[] = "postgresql://rf:pw%2Fx9s3cret@h1:5432,h2:5433,h3/ringfence"
		"?target_session_attrs=read-write&connect_timeout=3";
	char buf[512];
	PQconninfoOption *opts;
	int hosts = 0;

	(void)state;
	opts = PQconninfoParse(url, NULL);
	assert_non_null(opts);
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "host") == 0 && o->val && strcmp(o->val, "h1,h2,h3") == 0)
			hosts = 1;
	PQconninfoFree(opts);
	assert_true(hosts);
	snprintf(buf, sizeof(buf), "invalid URI \"%s\" (pw/x9s3cret)", url);
	secret_scrub_conninfo(buf, sizeof(buf), url);
	assert_null(strstr(buf, "s3cret"));
	assert_null(strstr(buf, "pw%2Fx9"));
	snprintf(buf, sizeof(buf), "connection to server at \"h2\" (10.0.0.2), port 5433 failed");
	secret_scrub_conninfo(buf, sizeof(buf), url);
	assert_string_equal(buf, "connection to server at \"h2\" (10.0.0.2), port 5433 failed");
}

static void test_pct_decode(void **state)
{
	char out[16];
	(void)state;
	assert_int_equal(url_pct_decode("p%40ss%3a", 9, out, sizeof(out)), 0);
	assert_string_equal(out, "p@ss:");
	assert_int_equal(url_pct_decode("%zz", 3, out, sizeof(out)), -1);
	assert_int_equal(url_pct_decode("%4", 2, out, sizeof(out)), -1);
	assert_int_equal(url_pct_decode("%00", 3, out, sizeof(out)), -1);
	assert_int_equal(url_pct_decode("0123456789abcdefg", 17, out, sizeof(out)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_redact),
		cmocka_unit_test(test_scrub),
		cmocka_unit_test(test_scrub_conninfo),
		cmocka_unit_test(test_scrub_multi_host),
		cmocka_unit_test(test_pct_decode),
	};
	return cmocka_run_group_tests_name("secret", tests, NULL, NULL);
}

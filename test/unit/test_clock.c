/* Unit tests: clock and rfc3339.  RFC 3339 parsing (rfc3339_parse)
 * table-driven (Z, offsets, fractions, every malformed shape and
 * out-of-range field), clock_init with and without RINGFENCE_NOW, and
 * clock_sql formatting. */
#include "unit.h"

#include "clock.h"
#include "rfc3339.h"
#include "config.h"

#include <time.h>

struct parse_case {
	const char *in;
	int ok;
	long long want;
};

static const struct parse_case parse_cases[] = {
	{ "2026-11-25T10:00:00Z", 1, 1795600800LL },
	{ "2026-11-25T05:00:00-05:00", 1, 1795600800LL },
	{ "2026-11-25T15:30:00+05:30", 1, 1795600800LL },
	{ "2026-11-25t10:00:00z", 1, 1795600800LL },
	{ "2026-11-25T10:00:00.999Z", 1, 1795600800LL },
	{ "2026-11-25T10:00:00.5+00:00", 1, 1795600800LL },
	{ "1970-01-01T00:00:00Z", 1, 0 },
	{ "9999-12-31T23:59:59Z", 1, 253402300799LL },
	{ "1970-01-01T00:00:00+01:00", 0, 0 },  /* the instant is in 1969 */
	{ "9999-12-31T23:59:59-00:01", 0, 0 },  /* the instant is in 10000 */
	{ "2000-02-29T00:00:00Z", 1, 951782400LL },
	{ "2024-02-29T23:59:59Z", 1, 1709251199LL },
	{ "2026-03-29T01:00:00Z", 1, 1774746000LL },
	{ "2026-12-31T23:59:59-14:00", 1, 1798761599LL + 14 * 3600 },
	{ "2026-11-25T10:00:00", 0, 0 },        /* no zone */
	{ "2026-11-25 10:00:00Z", 0, 0 },       /* space, not T */
	{ "2026-11-25T10:00Z", 0, 0 },          /* no seconds */
	{ "2026-11-25", 0, 0 },
	{ "", 0, 0 },
	{ "now", 0, 0 },
	{ "2026-13-01T00:00:00Z", 0, 0 },
	{ "2026-00-01T00:00:00Z", 0, 0 },
	{ "2026-02-29T00:00:00Z", 0, 0 },       /* not a leap year */
	{ "1900-02-29T00:00:00Z", 0, 0 },
	{ "2026-04-31T00:00:00Z", 0, 0 },
	{ "2026-11-00T00:00:00Z", 0, 0 },
	{ "2026-11-25T24:00:00Z", 0, 0 },
	{ "2026-11-25T10:60:00Z", 0, 0 },
	{ "2026-11-25T10:00:60Z", 0, 0 },       /* leap second refused */
	{ "2026-11-25T10:00:00+24:00", 0, 0 },
	{ "2026-11-25T10:00:00+05:60", 0, 0 },
	{ "2026-11-25T10:00:00+0500", 0, 0 },
	{ "2026-11-25T10:00:00+05", 0, 0 },
	{ "2026-11-25T10:00:00.Z", 0, 0 },
	{ "2026-11-25T10:00:00ZZ", 0, 0 },
	{ "2026-11-25T10:00:00Z ", 0, 0 },
	{ " 2026-11-25T10:00:00Z", 0, 0 },
	{ "26-11-25T10:00:00Z", 0, 0 },
	{ "2026-1-25T10:00:00Z", 0, 0 },
	{ "1969-12-31T23:59:59Z", 0, 0 },
	{ "+2026-11-25T10:00:00Z", 0, 0 },
	{ "2026-11-25T1a:00:00Z", 0, 0 },
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		long long got = -42;
		int rc = rfc3339_parse(c->in, &got);
		if (c->ok) {
			if (rc != 0 || got != c->want)
				fail_msg("'%s': want %lld, got rc %d value %lld", c->in, c->want, rc, got);
		} else {
			if (rc != -1)
				fail_msg("'%s': accepted as %lld, should be refused", c->in, got);
			if (got != -42)
				fail_msg("'%s': output written on failure", c->in);
		}
	}
	assert_int_equal(rfc3339_parse(NULL, &(long long){ 0 }), -1);
}

/* Every second of a few days around a year end, and the epoch, against
 * timegm: the civil-date arithmetic matches the C library's. */
static void test_parse_matches_timegm(void **state)
{
	(void)state;
	static const long long starts[] = { 0, 951696000LL, 1798675200LL, 4102358400LL };
	for (size_t k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
		for (long long t = starts[k]; t < starts[k] + 3 * 86400; t += 997) {
			char buf[32];
			long long back = -1;
			clock_sql(t, buf);
			assert_int_equal(rfc3339_parse(buf, &back), 0);
			assert_int_equal(back, t);
		}
	}
}

static void test_sql_format(void **state)
{
	(void)state;
	char buf[32];
	clock_sql(1795600800LL, buf);
	assert_string_equal(buf, "2026-11-25T10:00:00Z");
	clock_sql(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	clock_sql(951782400LL + 86399, buf);
	assert_string_equal(buf, "2000-02-29T23:59:59Z");
}

static void test_init_fixed_and_real(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];

	memset(&cfg, 0, sizeof(cfg));
	cfg.now = "2026-11-25T05:00:00-05:00";
	assert_int_equal(clock_init(&cfg, err, sizeof(err)), 0);
	assert_int_equal(clock_now_s(), 1795600800LL);
	assert_int_equal(clock_now_s(), 1795600800LL);

	/* A malformed value is a one-line error naming the variable and
	 * leaves the clock as it was. */
	cfg.now = "2026-11-25 10:00";
	err[0] = '\0';
	assert_int_equal(clock_init(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "RINGFENCE_NOW"));
	assert_non_null(strstr(err, "2026-11-25 10:00"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(clock_now_s(), 1795600800LL);

	cfg.now = NULL;
	assert_int_equal(clock_init(&cfg, err, sizeof(err)), 0);
	long long before = (long long)time(NULL);
	long long got = clock_now_s();
	long long after = (long long)time(NULL);
	assert_true(got >= before && got <= after);
}

/* Overlong input is quoted truncated, so the message stays one line of
 * bounded length. */
static void test_init_error_bounded(void **state)
{
	(void)state;
	struct config cfg;
	char err[512], big[2000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(&cfg, 0, sizeof(cfg));
	cfg.now = big;
	assert_int_equal(clock_init(&cfg, err, sizeof(err)), -1);
	assert_true(strlen(err) < 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_matches_timegm),
		cmocka_unit_test(test_sql_format),
		cmocka_unit_test(test_init_fixed_and_real),
		cmocka_unit_test(test_init_error_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests: the non-production allow-list, table-driven. */
#include "unit.h"

#include "allowlist.h"
#include "config.h"

struct allow_case {
	const char *list;
	const char *address;
	int want;
};

static const struct allow_case cases[] = {
	{ "+15551230001", "+15551230001", 1 },
	{ "+15551230001", "+15551230002", 0 },
	{ "+15551230001,+15551230002", "+15551230002", 1 },
	{ "+15551230001, +15551230002", "+15551230002", 1 },
	{ " +15551230001   +15551230002 ", "+15551230002", 1 },
	{ "+15551230001,,\t,\n+15551230003", "+15551230003", 1 },
	/* exact: no prefix or suffix matches, no normalisation of phones */
	{ "+155512300011", "+15551230001", 0 },
	{ "+15551230001", "+155512300011", 0 },
	{ "+15551230001", "15551230001", 0 },
	{ "15551230001", "15551230001", 0 },
	{ "+15551230001", "+1 555 123 0001", 0 },
	{ "+15551230001", "", 0 },
	/* emails: case-insensitive, exact otherwise */
	{ "ann@example.com", "ann@example.com", 1 },
	{ "Ann@Example.COM", "ann@example.com", 1 },
	{ "ann@example.com", "ANN@EXAMPLE.COM", 1 },
	{ "ann@example.com", "ann@example.co", 0 },
	{ "ann@example.com", "bann@example.com", 0 },
	{ "ann@example.com", "ann@example.com ", 0 },
	{ "ann@example.com", "<ann@example.com>", 0 },
	{ "ann@example.com,+15551230001", "ann@example.com", 1 },
	{ "+15551230001 ann@example.com", "+15551230001", 1 },
	/* empty list permits nothing */
	{ "", "+15551230001", 0 },
	{ "", "ann@example.com", 0 },
	{ " , ", "+15551230001", 0 },
	/* entries that are neither never match, even byte for byte */
	{ "bob", "bob", 0 },
	{ "a@b@c", "a@b@c", 0 },
	{ "*", "+15551230001", 0 },
};

static void test_match_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = allowlist_match(cases[i].list, cases[i].address);
		if (got != cases[i].want)
			fail_msg("case %zu: list \"%s\" address \"%s\": got %d, want %d", i,
				cases[i].list, cases[i].address, got, cases[i].want);
	}
	assert_int_equal(allowlist_match(NULL, "+15551230001"), 0);
	assert_int_equal(allowlist_match("+15551230001", NULL), 0);
}

static void test_permits_by_environment(void **state)
{
	struct config cfg;
	(void)state;
	memset(&cfg, 0, sizeof(cfg));

	/* development (the default) with no list: nobody */
	cfg.env = RF_ENV_DEVELOPMENT;
	cfg.allowed_contacts = NULL;
	assert_int_equal(allowlist_permits(&cfg, "+15551230001"), 0);
	assert_int_equal(allowlist_permits(&cfg, "ann@example.com"), 0);

	cfg.allowed_contacts = "+15551230001, ann@example.com";
	assert_int_equal(allowlist_permits(&cfg, "+15551230001"), 1);
	assert_int_equal(allowlist_permits(&cfg, "ANN@example.com"), 1);
	assert_int_equal(allowlist_permits(&cfg, "+15551230009"), 0);

	cfg.env = RF_ENV_STAGING;
	assert_int_equal(allowlist_permits(&cfg, "+15551230009"), 0);
	cfg.env = RF_ENV_TEST;
	assert_int_equal(allowlist_permits(&cfg, "+15551230009"), 0);
	assert_int_equal(allowlist_permits(&cfg, "+15551230001"), 1);

	/* production: everyone, list or not, but never an empty address */
	cfg.env = RF_ENV_PRODUCTION;
	assert_int_equal(allowlist_permits(&cfg, "+15551230009"), 1);
	cfg.allowed_contacts = NULL;
	assert_int_equal(allowlist_permits(&cfg, "zed@example.org"), 1);
	assert_int_equal(allowlist_permits(&cfg, ""), 0);
	assert_int_equal(allowlist_permits(&cfg, NULL), 0);
	assert_int_equal(allowlist_permits(NULL, "+15551230001"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_permits_by_environment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests: phone_normalise, the one normalisation of a typed phone
 * number into E.164 (dashboard, CSV import, API). */
#include "unit.h"

#include "phone.h"
#include "valid.h"

struct phone_case {
	const char *in;
	enum phone_error want;
	const char *e164; /* PHONE_OK: the result */
};

static const struct phone_case cases[] = {
	{ "+1 555 010 0123", PHONE_OK, "+15550100123" },
	{ "+1 (555) 010-0123", PHONE_OK, "+15550100123" },
	{ "00 44 20 7946 0958", PHONE_OK, "+442079460958" },
	{ "0044 20 7946 0958", PHONE_OK, "+442079460958" },
	{ "+442079460958", PHONE_OK, "+442079460958" },
	{ "  +1.555.010.0123\t", PHONE_OK, "+15550100123" },
	{ "+49 30/1234567", PHONE_OK, "+49301234567" },
	{ "+683 4002", PHONE_OK, "+6834002" },            /* 7 digits: Niue */
	{ "+123 456 789 012 345", PHONE_OK, "+123456789012345" }, /* 15 digits */
	{ "555-0123", PHONE_NO_COUNTRY, NULL },
	{ "020 7946 0958", PHONE_NO_COUNTRY, NULL },
	{ "15550100123", PHONE_NO_COUNTRY, NULL },
	{ "011 44 20 7946 0958", PHONE_NO_COUNTRY, NULL },
	{ "0 044 20", PHONE_NO_COUNTRY, NULL },
	{ "", PHONE_EMPTY, NULL },
	{ "   \t ", PHONE_EMPTY, NULL },
	{ "+44 (0)20 7946 0958", PHONE_TRUNK_ZERO, NULL },
	{ "+1 555 CALL NOW", PHONE_BAD_CHARACTER, NULL },
	{ "call me", PHONE_BAD_CHARACTER, NULL },
	{ "+1 555 010 0123 ext 4", PHONE_BAD_CHARACTER, NULL },
	{ "+1 555 010 0123;ext=4", PHONE_BAD_CHARACTER, NULL },
	{ "++15550100123", PHONE_BAD_CHARACTER, NULL },
	{ "+1555010\n0123", PHONE_BAD_CHARACTER, NULL },
	{ "+1' OR '1'='1", PHONE_BAD_CHARACTER, NULL },
	{ "+\xef\xbc\x91\xef\xbc\x95\xef\xbc\x95\xef\xbc\x95\xef\xbc\x90\xef\xbc\x91\xef\xbc\x90",
		PHONE_BAD_CHARACTER, NULL }, /* fullwidth digits */
	{ "+", PHONE_BAD_LENGTH, NULL },
	{ "00", PHONE_BAD_LENGTH, NULL },
	{ "+12 3456", PHONE_BAD_LENGTH, NULL },      /* 6 digits */
	{ "+1234 5678 9012 3456", PHONE_BAD_LENGTH, NULL }, /* 16 digits */
	{ "+0 555 010 0123", PHONE_BAD_LENGTH, NULL },
	{ "000 555 010 0123", PHONE_BAD_LENGTH, NULL },
	{ "+1 555 010 0123 4567 8901 2345 6789 0123", PHONE_BAD_LENGTH, NULL },
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[PHONE_E164_SIZE];
		enum phone_error e;
		memset(out, 'x', sizeof(out));
		e = phone_normalise(cases[i].in, strlen(cases[i].in), out, sizeof(out));
		if (e != cases[i].want)
			fail_msg("'%s': got %d, want %d", cases[i].in, (int)e, (int)cases[i].want);
		if (e == PHONE_OK) {
			assert_string_equal(out, cases[i].e164);
			assert_true(valid_e164(out, strlen(out)));
		} else {
			assert_string_equal(out, "");
		}
	}
}

/* The length is honoured (no NUL needed), NULL is empty, a short buffer is
 * refused, and the messages are the ones the pages show. */
static void test_edges(void **state)
{
	char out[PHONE_E164_SIZE], small[PHONE_E164_SIZE - 1];
	(void)state;
	assert_int_equal(phone_normalise("+15550100123999", 12, out, sizeof(out)), PHONE_OK);
	assert_string_equal(out, "+15550100123");
	assert_int_equal(phone_normalise("+1555\0" "0100123", 12, out, sizeof(out)),
		PHONE_BAD_CHARACTER);
	assert_int_equal(phone_normalise(NULL, 5, out, sizeof(out)), PHONE_EMPTY);
	assert_int_equal(phone_normalise("+15550100123", 12, small, sizeof(small)),
		PHONE_BAD_LENGTH);
	assert_int_equal(phone_normalise("+15550100123", 12, NULL, 0), PHONE_BAD_LENGTH);
	assert_string_equal(phone_error_text(PHONE_NO_COUNTRY),
		"must start with + and the country code, e.g. +1 555 010 0123");
	for (int e = PHONE_OK; e <= PHONE_BAD_LENGTH; e++)
		assert_non_null(phone_error_text((enum phone_error)e));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

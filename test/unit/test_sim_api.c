/* Unit tests: how many SMS segments the simulator reports for a body
 * (NumSegments / num_segments), as Twilio counts them: GSM-7 bodies in
 * 160 septets or 153-septet parts, anything else (UCS-2) in 70 or 67
 * UTF-16 units. */
#include "unit.h"

#include "sim/sim_api.h"
#include "util.h"

/* A body of n copies of unit (a UTF-8 character), caller frees. */
static char *repeat(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *s = xmalloc(u * n + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	s[u * n] = '\0';
	return s;
}

static void test_segments(void **state)
{
	static const struct {
		const char *unit;
		size_t n;
		int want;
	} cases[] = {
		{ "a", 1, 1 },     { "a", 160, 1 },   { "a", 161, 2 },   { "a", 306, 2 },
		{ "a", 307, 3 },   { "a", 1600, 11 },
		{ "\xc3\xa9", 160, 1 },     /* \u00e9 is in GSM-7's basic set */
		{ "\xc3\xa9", 161, 2 },
		{ "{", 80, 1 },    { "{", 81, 2 },    /* an extension: two septets */
		{ "\xe2\x82\xac", 81, 2 },  /* the euro sign, likewise */
		{ "\xc4\x87", 70, 1 },      /* \u0107 is not GSM-7: UCS-2 */
		{ "\xc4\x87", 71, 2 },   { "\xc4\x87", 134, 2 }, { "\xc4\x87", 135, 3 },
		{ "\xf0\x9f\x98\x80", 35, 1 }, /* an emoji: two UTF-16 units */
		{ "\xf0\x9f\x98\x80", 36, 2 },
		{ "`", 70, 1 },    { "`", 71, 2 },    /* not in GSM-7 at all */
		{ "\n", 160, 1 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = repeat(cases[i].unit, cases[i].n);
		int got = sim_api_segments(body);
		if (got != cases[i].want)
			fail_msg("%zu x '%s': %d segments, expected %d", cases[i].n, cases[i].unit, got,
				cases[i].want);
		free(body);
	}
	/* One non-GSM character turns a long GSM body into UCS-2 parts. */
	{
		char *body = repeat("a", 150);
		char *mixed = xasprintf("%s\xc3\xa9", body);
		assert_int_equal(sim_api_segments(body), 1);
		assert_int_equal(sim_api_segments(mixed), 1); /* \u00e9 is GSM-7 */
		free(mixed);
		mixed = xasprintf("%s\xc4\x87", body);
		assert_int_equal(sim_api_segments(mixed), 3); /* 151 UCS-2 units / 67 */
		free(body);
		free(mixed);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_segments),
	};
	return cmocka_run_group_tests_name("sim_api", tests, NULL, NULL);
}

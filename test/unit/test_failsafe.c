/* Unit tests: the failsafe's threshold arithmetic. */
#include "unit.h"

#include "failsafe.h"

struct thr_case {
	int floor;
	double factor;
	long long max;
	long long want;
};

static const struct thr_case cases[] = {
	{ 50, 3.0, 0, 50 },        /* no history: the floor */
	{ 50, 3.0, 10, 50 },       /* 30 < floor */
	{ 50, 3.0, 16, 50 },       /* 48 < floor */
	{ 50, 3.0, 17, 51 },       /* 51 > floor */
	{ 50, 3.0, 100, 300 },
	{ 1, 1.0, 0, 1 },
	{ 1, 1.5, 3, 5 },          /* 4.5 rounds up, never down */
	{ 10, 2.5, 7, 18 },        /* 17.5 -> 18 */
	{ 10, 3.0, -5, 10 },       /* a negative maximum counts as none */
	{ 5, 1000.0, 1000000000000LL, 1000000000000000LL }, /* capped, no overflow */
};

static void test_threshold(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long long got = failsafe_threshold(cases[i].floor, cases[i].factor, cases[i].max);
		if (got != cases[i].want)
			fail_msg("case %zu: floor %d factor %g max %lld: got %lld, want %lld", i,
				cases[i].floor, cases[i].factor, cases[i].max, got, cases[i].want);
	}
}

/* The comparison the failsafe makes: contact count+1 is allowed while it
 * is at most the threshold. */
static void test_trip_point(void **state)
{
	long long t = failsafe_threshold(50, 3.0, 20);
	long long allowed = 0;
	(void)state;
	assert_int_equal(t, 60);
	for (long long count = 0; count < 1000; count++) {
		if (count + 1 > t)
			break;
		allowed++;
	}
	assert_int_equal(allowed, 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_trip_point),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests: cli_int_arg (a table of accepted and refused values, the
 * one line it writes on stderr) and the stop flag of cli_catch_stop. */
#include "unit.h"

#include "cli.h"

#include <limits.h>
#include <signal.h>

struct int_case {
	const char *v; /* NULL: the flag came without its value */
	long lo, hi;
	int ok;
	long want;
};

static const struct int_case int_cases[] = {
	{ "1", 1, 10, 1, 1 },
	{ "10", 1, 10, 1, 10 },
	{ "0", 0, 10, 1, 0 },
	{ "-5", -10, 10, 1, -5 },
	{ "+7", 1, 10, 1, 7 },
	{ "007", 1, 10, 1, 7 },
	{ "86400", 1, 86400, 1, 86400 },
	{ "9223372036854775807", 0, LONG_MAX, 1, LONG_MAX },
	{ "0", 1, 10, 0, 0 },
	{ "11", 1, 10, 0, 0 },
	{ "-1", 0, 10, 0, 0 },
	{ "", 1, 10, 0, 0 },
	{ " 5", 1, 10, 0, 0 },
	{ "5 ", 1, 10, 0, 0 },
	{ "5s", 1, 10, 0, 0 },
	{ "0x5", 1, 10, 0, 0 },
	{ "1.5", 1, 10, 0, 0 },
	{ "five", 1, 10, 0, 0 },
	{ "-", 1, 10, 0, 0 },
	{ "9223372036854775808", 0, LONG_MAX, 0, 0 },
	{ "-9223372036854775809", LONG_MIN, 0, 0, 0 },
	{ "99999999999999999999", 1, 256, 0, 0 },
	{ NULL, 1, 10, 0, 0 },
};

/* Runs cli_int_arg with stderr captured into line (one line expected). */
static int int_arg_captured(const struct int_case *c, long *out, char *line, size_t len)
{
	FILE *tmp = tmpfile();
	int saved = dup(2), rc;
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), 2) >= 0);
	rc = cli_int_arg("ringfence test", "--count", c->v, c->lo, c->hi, out);
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(line, 1, len - 1, tmp);
	line[n] = '\0';
	fclose(tmp);
	return rc;
}

static void test_int_arg_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
		const struct int_case *c = &int_cases[i];
		long out = -4242;
		char line[512];
		int rc = int_arg_captured(c, &out, line, sizeof(line));
		if (c->ok) {
			if (rc != 0 || out != c->want || line[0] != '\0')
				fail_msg("'%s' in %ld..%ld: rc %d, %ld, stderr '%s'", c->v, c->lo, c->hi,
					rc, out, line);
			continue;
		}
		if (rc != -1 || out != -4242)
			fail_msg("'%s' in %ld..%ld accepted (%ld)", c->v ? c->v : "(none)", c->lo, c->hi,
				out);
		/* One line, naming the command, the flag and the bounds. */
		char bounds[96];
		snprintf(bounds, sizeof(bounds), "from %ld to %ld", c->lo, c->hi);
		if (strncmp(line, "ringfence test: --count ", 24) != 0 ||
			strstr(line, bounds) == NULL || strchr(line, '\n') != line + strlen(line) - 1)
			fail_msg("'%s': message '%s'", c->v ? c->v : "(none)", line);
		if (c->v && strstr(line, c->v) == NULL)
			fail_msg("'%s': message does not quote the value: '%s'", c->v, line);
	}
}

static void test_catch_stop(void **state)
{
	(void)state;
	assert_int_equal(cli_stopping(), 0);
	cli_catch_stop(SIGINT);
	assert_int_equal(raise(SIGINT), 0); /* without the handler this ends the test */
	assert_int_equal(cli_stopping(), 1);
	signal(SIGINT, SIG_DFL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int_arg_table),
		cmocka_unit_test(test_catch_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

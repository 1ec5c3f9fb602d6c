/* Unit tests: the request id's form (http_request_id_valid) and the log
 * lines written while it is set ("[req <id>] " after the pid, and gone
 * once the request is over). */
#include "unit.h"

#include "http.h"
#include "log.h"

#include <fcntl.h>
#include <unistd.h>

static void test_id_form(void **state)
{
	static const char *const good[] = {
		"abcdefgh", "ABCDEFGH", "01234567", "a.b_c-d9", "lb-8e6c69dccaedd9dbec8cb67b.x_Y",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", /* 64 */
	};
	static const char *const bad[] = {
		"", "abcdefg", /* 7 */
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", /* 65 */
		"has space", "semi;colon", "quote\"d-id", "new\nline-id", "tab\tid-12",
		"%41%42%43%44", "unicodé-id", "slash/id-12", "colon:id-12", "plus+id-123",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!http_request_id_valid(good[i]))
			fail_msg("'%s' refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (http_request_id_valid(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
	assert_false(http_request_id_valid(NULL));
}

/* Runs log_warn("message %d", n) with stderr sent to a pipe; returns the
 * line (static). */
static const char *logged(int n)
{
	static char line[4096];
	int fds[2], saved = dup(2);
	ssize_t got;

	assert_int_equal(pipe(fds), 0);
	dup2(fds[1], 2);
	log_warn("message %d", n);
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	got = read(fds[0], line, sizeof(line) - 1);
	close(fds[0]);
	assert_true(got > 0);
	line[got] = '\0';
	return line;
}

static void test_log_lines(void **state)
{
	char want[128];
	(void)state;

	snprintf(want, sizeof(want), "warn ringfence[%d]: message 1\n", (int)getpid());
	assert_non_null(strstr(logged(1), want));
	assert_null(strstr(logged(1), "[req "));

	log_set_request_id("lb-1234.abc_D");
	assert_string_equal(log_request_id(), "lb-1234.abc_D");
	snprintf(want, sizeof(want), "warn ringfence[%d]: [req lb-1234.abc_D] message 2\n",
		(int)getpid());
	assert_non_null(strstr(logged(2), want));

	/* Longer than any valid id: cut, never overflowing. */
	log_set_request_id("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefXYZ");
	assert_int_equal(strlen(log_request_id()), LOG_REQUEST_ID_MAX);

	log_set_request_id(NULL);
	assert_string_equal(log_request_id(), "");
	assert_null(strstr(logged(3), "[req "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_form),
		cmocka_unit_test(test_log_lines),
	};
	return cmocka_run_group_tests_name("request ids", tests, NULL, NULL);
}

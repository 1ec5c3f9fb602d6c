/* Unit tests: the validators of Twilio's recording fields (greeting.c)
 * and task code purposes (taskcode.c). */
#include "unit.h"

#include "greeting.h"
#include "taskcode.h"
#include "util.h"

#include <string.h>

static void test_recording_fields(void **state)
{
	static const struct {
		int (*fn)(const char *, size_t);
		const char *v;
		int ok;
	} cases[] = {
		{ valid_recording_sid, "RE0123456789abcdef0123456789abcdef", 1 },
		{ valid_recording_sid, "RE0123456789ABCDEF0123456789abcdef", 0 },
		{ valid_recording_sid, "CA0123456789abcdef0123456789abcdef", 0 },
		{ valid_recording_sid, "RE0123456789abcdef0123456789abcde", 0 },
		{ valid_recording_sid, "RE0123456789abcdef0123456789abcdef0", 0 },
		{ valid_recording_sid, "", 0 },
		{ valid_recording_url, "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1", 1 },
		{ valid_recording_url, "http://127.0.0.1:8081/2010-04-01/Accounts/AC1/Recordings/RE1", 1 },
		{ valid_recording_url, "ftp://api.twilio.com/x", 0 },
		{ valid_recording_url, "javascript:alert(1)", 0 },
		{ valid_recording_url, "https://a/b c", 0 },
		{ valid_recording_url, "https://a/\"><script>", 0 },
		{ valid_recording_url, "https://a/\x01", 0 },
		{ valid_recording_url, "", 0 },
		{ valid_recording_duration, "0", 1 },
		{ valid_recording_duration, "60", 1 },
		{ valid_recording_duration, "-1", 1 },
		{ valid_recording_duration, "-2", 0 },
		{ valid_recording_duration, "1.5", 0 },
		{ valid_recording_duration, "", 0 },
		{ valid_recording_status, "completed", 1 },
		{ valid_recording_status, "absent", 1 },
		{ valid_recording_status, "in-progress", 1 },
		{ valid_recording_status, "failed", 1 },
		{ valid_recording_status, "Completed", 0 },
		{ valid_recording_status, "done", 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		if (cases[i].fn(cases[i].v, strlen(cases[i].v)) != cases[i].ok) {
			print_error("case %zu: '%s' should be %s\n", i, cases[i].v,
				cases[i].ok ? "accepted" : "refused");
			fail();
		}
	}
	{
		char long_url[600];
		memset(long_url, 'a', sizeof(long_url) - 1);
		memcpy(long_url, "https://", 8);
		long_url[sizeof(long_url) - 1] = '\0';
		assert_false(valid_recording_url(long_url, strlen(long_url)));
	}
}

static void test_purposes(void **state)
{
	(void)state;
	assert_true(taskcode_purpose_valid("greeting"));
	assert_false(taskcode_purpose_valid("Greeting"));
	assert_false(taskcode_purpose_valid(""));
	assert_false(taskcode_purpose_valid(NULL));
	assert_false(taskcode_purpose_valid("greeting "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recording_fields),
		cmocka_unit_test(test_purposes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

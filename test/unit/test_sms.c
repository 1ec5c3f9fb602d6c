/* Unit tests: the opt-out and opt-in keywords Twilio honours (TWILIO.md),
 * table-driven. */
#include "unit.h"

#include "sms.h"

static const struct {
	const char *body;
	int want;
} cases[] = {
	{ "STOP", 1 }, { "stop", 1 }, { "Stop", 1 }, { "  stop\n", 1 }, { "\tSTOPALL ", 1 },
	{ "UNSUBSCRIBE", 1 }, { "cancel", 1 }, { "END", 1 }, { "quit", 1 },
	{ "START", -1 }, { "yes", -1 }, { "Unstop", -1 },
	{ "", 0 }, { "   ", 0 }, { "STOP please", 0 }, { "please stop", 0 }, { "STOPP", 0 },
	{ "ST OP", 0 }, { "HELP", 0 }, { "INFO", 0 }, { "1", 0 }, { "2", 0 },
	{ "STOPSTOPSTOPSTOPSTOP", 0 }, { "stop.", 0 }, { "YES!", 0 },
};

static void test_keywords(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (sms_opt_keyword(cases[i].body) != cases[i].want)
			fail_msg("'%s': %d, expected %d", cases[i].body, sms_opt_keyword(cases[i].body),
				cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keywords),
	};
	return cmocka_run_group_tests_name("sms", tests, NULL, NULL);
}

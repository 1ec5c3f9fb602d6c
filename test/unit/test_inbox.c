/* Unit tests: which texts wait in the inbox for a person (inbox.h), by
 * the reminder_sms state the text left its conversation in. */
#include "unit.h"

#include "inbox.h"

static const struct {
	const char *state;  /* NULL: the flow failed on the text */
	int want;
} cases[] = {
	/* Not acted on: a person must answer. */
	{ "hint", 1 }, { "quiet", 1 }, { "nothing_pending", 1 }, { NULL, 1 },
	/* Acted on: shown in the conversation, waiting for nobody. */
	{ "confirmed", 0 }, { "cancelled", 0 }, { "callback", 0 }, { "reschedule", 0 }, { "help", 0 },
	{ "opted_in", 0 }, { "opted_out", 0 },
	/* Names are compared whole. */
	{ "Hint", 0 }, { "hint_", 0 }, { "", 0 }, { "quie", 0 },
};

static void test_needs_answer(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (inbox_needs_answer(cases[i].state) != cases[i].want)
			fail_msg("state '%s': %d, expected %d", cases[i].state ? cases[i].state : "(none)",
				inbox_needs_answer(cases[i].state), cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_needs_answer),
	};
	return cmocka_run_group_tests_name("inbox", tests, NULL, NULL);
}

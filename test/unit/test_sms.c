/* Unit tests: the opt-out and opt-in keywords Twilio honours (TWILIO.md),
 * and the flow input a text is (sms_classify), table-driven. */
#include "unit.h"

#include "sms.h"

static const struct {
	const char *body;
	int want;
} cases[] = {
	{ "STOP", 1 }, { "stop", 1 }, { "Stop", 1 }, { "  stop\n", 1 }, { "\tSTOPALL ", 1 },
	{ "UNSUBSCRIBE", 1 }, { "cancel", 1 }, { "END", 1 }, { "quit", 1 },
	{ "REVOKE", 1 }, { " optout ", 1 }, { "opt out", 0 }, { "REVOKED", 0 },
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

static const struct {
	const char *body;
	const char *opt;  /* OptOutType, or NULL */
	const char *want;
} classify_cases[] = {
	/* The replies a reminder text offers. */
	{ "1", NULL, "1" }, { " 2 ", NULL, "2" }, { "3\n", NULL, "3" }, { "4", NULL, "4" },
	{ " 4\t", NULL, "4" }, { "5", NULL, "other" }, { "44", NULL, "other" },
	{ "12", NULL, "other" }, { "1 2", NULL, "other" }, { "yes", NULL, "yes" },
	{ "Yes", NULL, "yes" }, { "CONFIRM", NULL, "confirm" }, { "confirm", NULL, "confirm" },
	{ "no", NULL, "no" }, { "No", NULL, "no" }, { "NOPE", NULL, "other" },
	/* CANCEL is a carrier opt-out keyword, never "cancel my appointment". */
	{ "CANCEL", NULL, "stop" }, { "cancel", NULL, "stop" },
	{ "STOP", NULL, "stop" }, { "stopall", NULL, "stop" }, { "UNSUBSCRIBE", NULL, "stop" },
	{ "end", NULL, "stop" }, { "Quit", NULL, "stop" }, { "Revoke", NULL, "stop" },
	{ "OPTOUT", NULL, "stop" }, { "STOP please", NULL, "other" },
	{ "START", NULL, "start" }, { "unstop", NULL, "start" }, { "HELP", NULL, "help" },
	{ "info", NULL, "help" }, { "help me", NULL, "other" },
	/* Twilio's Advanced Opt-Out names the kind whatever the word was;
	 * YES stays a confirmation (START when nothing is pending). */
	{ "arret", "STOP", "stop" }, { "1", "STOP", "stop" }, { "YES", "START", "yes" },
	{ "commencer", "START", "start" }, { "aide", "HELP", "help" },
	/* Nothing recognisable. */
	{ "", NULL, "other" }, { NULL, NULL, "other" }, { "   ", NULL, "other" },
	{ "See you then!", NULL, "other" }, { "1.", NULL, "other" },
	{ "CONFIRMCONFIRMCONFIRMCONFIRM", NULL, "other" },
};

static void test_classify(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(classify_cases) / sizeof(classify_cases[0]); i++) {
		const char *got = sms_classify(classify_cases[i].body, classify_cases[i].opt);
		if (strcmp(got, classify_cases[i].want) != 0)
			fail_msg("'%s' (OptOutType %s): %s, expected %s",
				classify_cases[i].body ? classify_cases[i].body : "(none)",
				classify_cases[i].opt ? classify_cases[i].opt : "none", got,
				classify_cases[i].want);
	}
}

/* An OptOutType Twilio may add later passes validation (the text, and a
 * STOP in its body, still count); anything that is not a short word does
 * not. */
static void test_opt_out_type_field(void **state)
{
	const struct valid_field *f = &sms_inbound_fields[SMS_OPT];
	(void)state;
	assert_true(f->check("STOP", 4));
	assert_true(f->check("START", 5));
	assert_true(f->check("HELP", 4));
	assert_true(f->check("RESUBSCRIBE", 11));
	assert_false(f->check("", 0));
	assert_false(f->check("stop now", 8));
	assert_false(f->check("<x>", 3));
	assert_false(f->check("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", 33));
	assert_string_equal(sms_classify("STOP", "RESUBSCRIBE"), sms_classify("STOP", NULL));
	assert_string_equal(sms_classify("1", "RESUBSCRIBE"), sms_classify("1", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_opt_out_type_field),
	};
	return cmocka_run_group_tests_name("sms", tests, NULL, NULL);
}

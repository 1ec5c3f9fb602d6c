/* Unit tests: the editable lines of the reminder text and email (only the
 * allowed placeholders, {notes} refused by name), the messages built from
 * them, and SMS segment counts in GSM-7 and UCS-2, table-driven. */
#include "unit.h"

#include "arena.h"
#include "buf.h"
#include "wording.h"

#include <string.h>

static const struct wording_values vals = { "Ann & Bo's <Salon>", "Tuesday, December 8",
	"2:30 PM", "+15550100123" };

static const struct {
	const char *line;
	int ok;
	const char *why; /* a part of the refusal */
} check_cases[] = {
	{ "Hello from {business}!", 1, NULL },
	{ "{business} {date} {time} {callback}", 1, NULL },
	{ "No placeholders at all.", 1, NULL },
	{ "Héllo – ünïcode is fine", 1, NULL },
	{ "Your notes: {notes}", 0, "{notes} cannot be used" },
	{ "{client_name} hi", 0, "{client_name} is not a placeholder" },
	{ "{Business}", 0, "{Business} is not a placeholder" },
	{ "a { b", 0, "opens no placeholder" },
	{ "a {{business}}", 0, "opens no placeholder" },
	{ "a } b", 0, "'}'" },
	{ "", 0, "empty" },
	{ "two\nlines", 0, "one line" },
	{ "tab\there", 0, "one line" },
	{ "\xff\xfe", 0, "one line" },
};

static void test_check(void **state)
{
	char err[256];
	(void)state;
	for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		int r = wording_check(check_cases[i].line, err, sizeof(err));
		if ((r == 0) != check_cases[i].ok)
			fail_msg("'%s': %d (%s)", check_cases[i].line, r, r ? err : "");
		if (!check_cases[i].ok && strstr(err, check_cases[i].why) == NULL)
			fail_msg("'%s': reason '%s' lacks '%s'", check_cases[i].line, err,
				check_cases[i].why);
	}
	assert_int_equal(wording_check(NULL, err, sizeof(err)), -1);
}

static void test_length_in_characters(void **state)
{
	char line[4 * WORDING_LINE_MAX + 8], err[256];
	(void)state;
	/* WORDING_LINE_MAX two-byte characters pass; one more does not. */
	line[0] = '\0';
	for (int i = 0; i < WORDING_LINE_MAX; i++)
		strcat(line, "\xc3\xa9");
	assert_int_equal(wording_check(line, err, sizeof(err)), 0);
	strcat(line, "e");
	assert_int_equal(wording_check(line, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than"));
}

static void test_defaults_pass_their_check(void **state)
{
	char err[256];
	(void)state;
	assert_int_equal(wording_check(wording_default_greeting, err, sizeof(err)), 0);
	assert_int_equal(wording_check(wording_default_closing, err, sizeof(err)), 0);
}

static void test_sms(void **state)
{
	struct arena *a = arena_new(4096);
	struct wording def = { wording_default_greeting, wording_default_closing };
	struct wording mine = { "Hi from {business} ({callback})!", "Questions? {callback}" };
	struct wording bad = { "Hi {notes}", "ok" };
	(void)state;
	assert_string_equal(wording_sms(a, &def, &vals),
		"This is a reminder from Ann & Bo's <Salon>: you have an appointment on Tuesday,"
		" December 8 at 2:30 PM. To change it, call +15550100123. Reply STOP to stop"
		" these texts.");
	assert_string_equal(wording_sms(a, &mine, &vals),
		"Hi from Ann & Bo's <Salon> (+15550100123)! you have an appointment on Tuesday,"
		" December 8 at 2:30 PM. Questions? +15550100123 Reply STOP to stop these texts.");
	assert_null(wording_sms(a, &bad, &vals));
	arena_free(a);
}

static void test_email(void **state)
{
	struct arena *a = arena_new(4096);
	struct wording mine = { "<b>{business}</b> says:", "Call {callback} & ask." };
	struct wording bad = { "fine", "{notes}" };
	struct buf html;
	char *text;
	(void)state;
	text = wording_email_text(a, &mine, &vals, "https://x.example/u?t=1");
	assert_non_null(text);
	assert_non_null(strstr(text, "<b>Ann & Bo's <Salon></b> says: you have an appointment"
				     " on Tuesday, December 8 at 2:30 PM.\n\nCall +15550100123 & ask.\n"));
	assert_non_null(strstr(text, "https://x.example/u?t=1"));
	buf_init_arena(&html, a);
	assert_int_equal(wording_email_html(a, &html, &mine, &vals, "https://x.example/u?t=1"), 0);
	/* The business's line is text in the HTML part, never markup. */
	assert_null(strstr(buf_str(&html), "<b>"));
	assert_non_null(strstr(buf_str(&html), "&lt;b&gt;Ann &amp; Bo&#39;s &lt;Salon&gt;&lt;/b&gt;"
						" says: you have"));
	assert_string_equal(wording_email_subject(a, &vals),
		"Appointment reminder from Ann & Bo's <Salon>");
	assert_null(wording_email_text(a, &bad, &vals, "https://x.example/u"));
	assert_int_equal(wording_email_html(a, &html, &bad, &vals, "https://x.example/u"), -1);
	arena_free(a);
}

/* n copies of s. */
static char *rep(struct arena *a, const char *s, int n)
{
	size_t l = strlen(s);
	char *out = arena_alloc(a, l * (size_t)n + 1);
	for (int i = 0; i < n; i++)
		memcpy(out + l * (size_t)i, s, l);
	out[l * (size_t)n] = '\0';
	return out;
}

static void test_segments(void **state)
{
	struct arena *a = arena_new(65536);
	struct wording_segments sg;
	const struct {
		const char *text;
		int ucs2, units, segments;
	} cases[] = {
		{ "", 0, 0, 0 },
		{ "Hello", 0, 5, 1 },
		{ rep(a, "a", 160), 0, 160, 1 },
		{ rep(a, "a", 161), 0, 161, 2 },
		{ rep(a, "a", 306), 0, 306, 2 },
		{ rep(a, "a", 307), 0, 307, 3 },
		/* Extension characters take two septets. */
		{ rep(a, "{", 80), 0, 160, 1 },
		{ rep(a, "\xe2\x82\xac", 81), 0, 162, 2 },   /* euro sign */
		/* ... and are not split: 152 'a' then '[' needs 2 of the 1 left. */
		{ arena_printf(a, "%s[%s", rep(a, "a", 152), rep(a, "a", 10)), 0, 164, 2 },
		{ arena_printf(a, "%s[%s", rep(a, "a", 152), rep(a, "a", 152)), 0, 306, 3 },
		/* GSM-7's own accented letters and Greek capitals stay GSM-7. */
		{ "\xc3\xa9\xc3\xa8\xc3\xbc \xce\x94\xce\xa9 \xc2\xa3", 0, 8, 1 },
		/* Anything else makes the whole text UCS-2. */
		{ "caf\xc3\xaa", 1, 4, 1 },               /* e with circumflex */
		{ "`", 1, 1, 1 },
		{ rep(a, "\xd0\x96", 70), 1, 70, 1 },     /* Cyrillic */
		{ rep(a, "\xd0\x96", 71), 1, 71, 2 },
		{ rep(a, "\xd0\x96", 134), 1, 134, 2 },
		{ rep(a, "\xd0\x96", 135), 1, 135, 3 },
		/* An emoji is two UTF-16 units, never split across segments. */
		{ rep(a, "\xf0\x9f\x98\x80", 35), 1, 70, 1 },
		{ arena_printf(a, "%s\xf0\x9f\x98\x80%s", rep(a, "x", 66), rep(a, "x", 3)), 1, 71, 2 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wording_sms_segments(cases[i].text, &sg);
		if (sg.ucs2 != cases[i].ucs2 || sg.units != cases[i].units
			|| sg.segments != cases[i].segments)
			fail_msg("case %zu: ucs2 %d units %d segments %d, expected %d %d %d", i,
				sg.ucs2, sg.units, sg.segments, cases[i].ucs2, cases[i].units,
				cases[i].segments);
	}
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_length_in_characters),
		cmocka_unit_test(test_defaults_pass_their_check),
		cmocka_unit_test(test_sms),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_segments),
	};
	return cmocka_run_group_tests_name("wording", tests, NULL, NULL);
}

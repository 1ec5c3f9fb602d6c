/* Unit tests: the calendar pages' pure parts, table-driven: which feed
 * addresses are taken (and that no refusal repeats the address), feed
 * names, and the masked address people see. */
#include "unit.h"

#include "dash_calendar.h"

#include <string.h>

#define SECRET "s3cr3t-path-token"

static void test_url_problem(void **state)
{
	static const struct {
		const char *url;
		int allow_http;
		const char *want; /* NULL: taken; else a word of the reason */
	} cases[] = {
		{ "https://calendar.google.com/calendar/ical/x%40group.calendar.google.com/private-"
		  SECRET "/basic.ics", 0, NULL },
		{ "webcal://p59-caldav.icloud.com/published/2/" SECRET, 0, NULL },
		{ "WEBCAL://p59-caldav.icloud.com/published/2/" SECRET, 0, NULL },
		{ "HTTPS://outlook.office365.com/owa/calendar/" SECRET "/calendar.ics", 0, NULL },
		{ "https://calendar.example.com:8443/" SECRET, 0, NULL },
		{ "http://127.0.0.1:18399/" SECRET ".ics", 1, NULL },
		{ "http://calendar.example.com/" SECRET ".ics", 0, "https://" },
		{ "ftp://calendar.example.com/" SECRET, 1, "https://" },
		{ "file:///etc/" SECRET, 1, "https://" },
		{ "calendar.example.com/" SECRET, 0, "https://" },
		{ "", 0, "paste" },
		{ "https://user:" SECRET "@calendar.example.com/x.ics", 0, "password" },
		{ "https://" SECRET "@calendar.example.com/x.ics", 0, "password" },
		{ "https:///" SECRET, 0, "host" },
		{ "https://:443/" SECRET, 0, "host" },
		{ "https://calendar.example.com/" SECRET " x", 0, "spaces" },
		{ "https://calendar.example.com/" SECRET "\n", 0, "spaces" },
		{ "https://calendar.example.com/" SECRET "\t", 0, "spaces" },
		{ "https://calendar.example.com/\x7f" SECRET, 0, "spaces" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = calendar_url_problem(cases[i].url, cases[i].allow_http);
		if (cases[i].want == NULL && got != NULL)
			fail_msg("case %zu refused: %s", i, got);
		if (cases[i].want != NULL && (got == NULL || strstr(got, cases[i].want) == NULL))
			fail_msg("case %zu: '%s', want a reason saying '%s'", i, got ? got : "(taken)",
				cases[i].want);
		if (got && strstr(got, SECRET))
			fail_msg("case %zu: the reason repeats the address", i);
	}
	/* The length limit: 2000 bytes taken, 2001 refused. */
	{
		char url[2002];
		memset(url, 'a', sizeof(url));
		memcpy(url, "https://x.example/", 18);
		url[2000] = '\0';
		assert_null(calendar_url_problem(url, 0));
		url[2000] = 'a';
		url[2001] = '\0';
		assert_non_null(strstr(calendar_url_problem(url, 0), "2000"));
	}
}

static void test_name_problem(void **state)
{
	char longname[102];
	(void)state;
	assert_null(calendar_name_problem("Front desk"));
	assert_null(calendar_name_problem("Zoë's chair ☂"));
	assert_non_null(calendar_name_problem(""));
	assert_non_null(calendar_name_problem(NULL));
	assert_non_null(calendar_name_problem("   "));
	assert_null(calendar_name_problem(" Front desk "));
	assert_non_null(calendar_name_problem("Front\ndesk"));
	assert_non_null(calendar_name_problem("bad \xff utf-8"));
	memset(longname, 'n', sizeof(longname) - 1);
	longname[100] = '\0';
	assert_null(calendar_name_problem(longname));
	longname[100] = 'n';
	longname[101] = '\0';
	assert_non_null(calendar_name_problem(longname));
}

static void test_mask(void **state)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		{ "https://calendar.google.com/calendar/ical/a/private-" SECRET "/basic.ics",
		  "https://calendar.google.com/…" },
		{ "webcal://p59-caldav.icloud.com/published/2/" SECRET,
		  "webcal://p59-caldav.icloud.com/…" },
		{ "https://calendar.example.com:8443/?" SECRET, "https://calendar.example.com/…" },
		{ "https://calendar.example.com/#" SECRET, "https://calendar.example.com/…" },
		{ "https://u:" SECRET "@calendar.example.com/x", "https://calendar.example.com/…" },
		{ "no scheme " SECRET, "…" },
		{ "", "…" },
	};
	char out[300], tiny[12];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		calendar_mask_url(cases[i].url, out, sizeof(out));
		assert_string_equal(out, cases[i].want);
		assert_null(strstr(out, SECRET));
	}
	/* A small buffer: cut, terminated, still no secret. */
	calendar_mask_url("https://calendar.example.com/" SECRET, tiny, sizeof(tiny));
	assert_true(strlen(tiny) < sizeof(tiny));
	assert_null(strstr(tiny, "s3cr3t"));
	calendar_mask_url(NULL, out, sizeof(out));
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_problem),
		cmocka_unit_test(test_name_problem),
		cmocka_unit_test(test_mask),
	};
	return cmocka_run_group_tests_name("dash_calendar", tests, NULL, NULL);
}

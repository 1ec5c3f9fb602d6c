/* Unit tests: the settings pages' pure parts: a policy line's times in
 * words, the {id}/remove path parameters, and the check that a flow
 * diagram holds nothing that could run, table-driven. */
#include "unit.h"

#include "arena.h"
#include "dash_flows.h"
#include "dash_settings.h"
#include "dispatch.h"
#include "valid.h"

#include <string.h>

static void test_minutes_words(void **state)
{
	static const struct {
		long long m;
		const char *want;
	} cases[] = {
		{ 0, "0 minutes" }, { 1, "1 minute" }, { 5, "5 minutes" }, { 60, "1 hour" },
		{ 90, "90 minutes" }, { 120, "2 hours" }, { 1440, "1 day" }, { 2880, "2 days" },
		{ 1500, "25 hours" }, { 43200, "30 days" },
	};
	struct arena *a = arena_new(1024);
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(dash_settings_minutes_words(a, cases[i].m), cases[i].want);
	arena_free(a);
}

static void test_params(void **state)
{
	static const struct {
		const char *v;
		int remove, revoke;
	} cases[] = {
		{ "12/remove", 1, 0 }, { "12/revoke", 0, 1 }, { "1/remove", 1, 0 },
		{ "/remove", 0, 0 }, { "0/remove", 0, 0 }, { "012/remove", 0, 0 },
		{ "12/remove/", 0, 0 }, { "12/removex", 0, 0 }, { "-1/remove", 0, 0 },
		{ "12", 0, 0 }, { "a/remove", 0, 0 }, { "12/../remove", 0, 0 },
		{ "1234567890123456789/remove", 0, 0 },
	};
	(void)state;
	struct arena *a = arena_new(1024);
	const struct route *r, *row;
	const char *param;
	long long id = 0;

	/* The rows ".../{id}/remove" and ".../{id}/revoke" as the route
	 * table matches them: a row id, then the suffix, nothing else. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *rm = arena_printf(a, "/settings/policy/%s", cases[i].v);
		char *rv = arena_printf(a, "/settings/api-keys/%s", cases[i].v);
		int remove, revoke;
		r = dispatch_match(routes_table, routes_count, a, "POST", rm, &param, &row);
		remove = r && strcmp(r->pattern, "/settings/policy/{id}/remove") == 0;
		r = dispatch_match(routes_table, routes_count, a, "POST", rv, &param, &row);
		revoke = r && strcmp(r->pattern, "/settings/api-keys/{id}/revoke") == 0;
		if (remove != cases[i].remove || revoke != cases[i].revoke)
			fail_msg("'%s'", cases[i].v);
	}
	r = dispatch_match(routes_table, routes_count, a, "POST", "/settings/policy/42/remove",
		&param, &row);
	assert_non_null(r);
	assert_int_equal(valid_to_id(param, strlen(param), &id), 1);
	assert_int_equal(id, 42);
	arena_free(a);
	assert_int_equal(dash_flows_svg_param("reminder_call.svg", 17), 1);
	assert_int_equal(dash_flows_svg_param("reminder_call", 13), 0);
	assert_int_equal(dash_flows_svg_param("../x.svg", 8), 0);
	assert_int_equal(dash_flows_svg_param("Reminder.svg", 12), 0);
	assert_int_equal(dash_flows_svg_param(".svg", 4), 0);
}

static void test_svg_safe(void **state)
{
	static const struct {
		const char *svg;
		int safe;
	} cases[] = {
		{ "<svg xmlns=\"http://www.w3.org/2000/svg\"><g><text>announce</text></g></svg>", 1 },
		{ "<?xml version=\"1.0\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\""
		  " \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
		  "<svg xmlns=\"http://www.w3.org/2000/svg\"><title>x</title></svg>", 1 },
		{ "<svg><script>alert(1)</script></svg>", 0 },
		{ "<svg><g><SCRIPT>alert(1)</SCRIPT></g></svg>", 0 },
		{ "<svg onload=\"alert(1)\"></svg>", 0 },
		{ "<svg><g><rect onClick=\"x()\"/></g></svg>", 0 },
		{ "<svg xmlns:xlink=\"http://www.w3.org/1999/xlink\"><a xlink:href=\" javascript:x()\">"
		  "<text>a</text></a></svg>", 0 },
		{ "<svg><a href=\"data:text/html,x\"><text>a</text></a></svg>", 0 },
		{ "<svg><foreignObject><div>x</div></foreignObject></svg>", 0 },
		{ "<svg><a href=\"#announce\"><text>a</text></a></svg>", 1 },
		{ "<html><body/></html>", 0 },
		{ "<svg><g></svg>", 0 },
		{ "", 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (dash_flows_svg_safe(cases[i].svg, strlen(cases[i].svg)) != cases[i].safe)
			fail_msg("case %zu: expected %d", i, cases[i].safe);
	assert_int_equal(dash_flows_svg_safe(NULL, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minutes_words),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_svg_safe),
	};
	return cmocka_run_group_tests_name("dash_settings", tests, NULL, NULL);
}

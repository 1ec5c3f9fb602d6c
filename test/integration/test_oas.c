/* test_oas: the OpenAPI response checker (oas.c) on hand-written good and
 * broken documents.  Needs no stack: it only reads the spec copy in
 * test/integration/. */
#include "harness.h"
#include "oas.h"
#include "util.h"

#define CALLS "/2010-04-01/Accounts/{AccountSid}/Calls.json"
#define CALL "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json"
#define MESSAGES "/2010-04-01/Accounts/{AccountSid}/Messages.json"

#define ACCOUNT "AC0123456789abcdef0123456789abcdef"
#define CALL_SID "CAfedcba9876543210fedcba9876543210"
#define CALL_URI "/2010-04-01/Accounts/" ACCOUNT "/Calls/" CALL_SID

/* A call as Twilio answers a create: every field of the schema, the
 * empty ones null. */
static const char good_call[] =
	"{\"account_sid\": \"" ACCOUNT "\","
	" \"answered_by\": null,"
	" \"api_version\": \"2010-04-01\","
	" \"caller_name\": null,"
	" \"date_created\": \"Tue, 31 Aug 2010 20:36:28 +0000\","
	" \"date_updated\": \"Tue, 31 Aug 2010 20:36:28 +0000\","
	" \"direction\": \"outbound-api\","
	" \"duration\": null,"
	" \"end_time\": null,"
	" \"forwarded_from\": null,"
	" \"from\": \"+15005550006\","
	" \"from_formatted\": \"(500) 555-0006\","
	" \"group_sid\": null,"
	" \"parent_call_sid\": null,"
	" \"phone_number_sid\": null,"
	" \"price\": null,"
	" \"price_unit\": \"USD\","
	" \"queue_time\": \"0\","
	" \"sid\": \"" CALL_SID "\","
	" \"start_time\": null,"
	" \"status\": \"queued\","
	" \"subresource_uris\": {"
	"   \"notifications\": \"" CALL_URI "/Notifications.json\","
	"   \"recordings\": \"" CALL_URI "/Recordings.json\"},"
	" \"to\": \"+15551230001\","
	" \"to_formatted\": \"(555) 123-0001\","
	" \"trunk_sid\": null,"
	" \"uri\": \"" CALL_URI ".json\"}";

static const char good_message[] =
	"{\"account_sid\": \"" ACCOUNT "\","
	" \"api_version\": \"2010-04-01\","
	" \"body\": \"Reply 1 to confirm\","
	" \"date_created\": \"Thu, 24 Aug 2023 05:01:45 +0000\","
	" \"date_sent\": null,"
	" \"date_updated\": \"Thu, 24 Aug 2023 05:01:45 +0000\","
	" \"direction\": \"outbound-api\","
	" \"error_code\": null,"
	" \"error_message\": null,"
	" \"from\": \"+15005550006\","
	" \"messaging_service_sid\": null,"
	" \"num_media\": \"0\","
	" \"num_segments\": \"1\","
	" \"price\": null,"
	" \"price_unit\": null,"
	" \"sid\": \"SM0123456789abcdef0123456789abcdef\","
	" \"status\": \"queued\","
	" \"subresource_uris\": {\"media\": \"/2010-04-01/Accounts/" ACCOUNT
	"/Messages/SM0123456789abcdef0123456789abcdef/Media.json\"},"
	" \"to\": \"+15551230001\","
	" \"uri\": \"/2010-04-01/Accounts/" ACCOUNT
	"/Messages/SM0123456789abcdef0123456789abcdef.json\"}";

static const char good_error[] =
	"{\"code\": 21211, \"message\": \"The 'To' number +15005550001 is not a valid phone number.\","
	" \"more_info\": \"https://www.twilio.com/docs/errors/21211\", \"status\": 400}";

/* ---- helpers ------------------------------------------------------------- */

static json_t *load_or_fail(const char *text)
{
	json_error_t jerr;
	json_t *doc = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (doc == NULL)
		fail_msg("test document does not parse: %s", jerr.text);
	return doc;
}

static char *dump(const json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT);
	if (s == NULL)
		fail_msg("json_dumps failed");
	return s;
}

/* A list response holding the calls in items (stolen). */
static json_t *call_list(json_t *items)
{
	json_t *list = json_object();
	size_t n = json_array_size(items);
	json_object_set_new(list, "calls", items);
	json_object_set_new(list, "end", json_integer(n ? (json_int_t)n - 1 : 0));
	json_object_set_new(list, "first_page_uri",
		json_string("/2010-04-01/Accounts/" ACCOUNT "/Calls.json?PageSize=50&Page=0"));
	json_object_set_new(list, "next_page_uri", json_null());
	json_object_set_new(list, "page", json_integer(0));
	json_object_set_new(list, "page_size", json_integer(50));
	json_object_set_new(list, "previous_page_uri", json_null());
	json_object_set_new(list, "start", json_integer(0));
	json_object_set_new(list, "uri",
		json_string("/2010-04-01/Accounts/" ACCOUNT "/Calls.json?PageSize=50&Page=0"));
	return list;
}

/* Runs the checker and asserts its verdict; with want_err, the message
 * must contain it. */
static void expect(const char *method, const char *path, int status, const char *json,
	const char *want_err)
{
	char err[1024] = "";
	int rc = oas_check(method, path, status, json, err, sizeof(err));
	if (want_err == NULL) {
		if (rc != 0)
			fail_msg("%s %s %d: rejected a good document: %s", method, path, status, err);
		return;
	}
	if (rc == 0)
		fail_msg("%s %s %d: accepted a document that should fail with \"%s\"", method, path,
			status, want_err);
	if (strstr(err, want_err) == NULL)
		fail_msg("%s %s %d: reason \"%s\" does not contain \"%s\"", method, path, status, err,
			want_err);
}

/* The document good with field set to value (a JSON text; NULL removes
 * the field), checked as a POST to Calls answered with status. */
static void expect_doc_with(const char *good, int status, const char *field, const char *value,
	const char *want_err)
{
	json_t *doc = load_or_fail(good);
	char *text;
	if (value == NULL)
		json_object_del(doc, field);
	else
		json_object_set_new(doc, field, load_or_fail(value));
	text = dump(doc);
	expect("POST", CALLS, status, text, want_err);
	free(text);
	json_decref(doc);
}

/* good_call with field set to value, checked as a create response. */
static void expect_call_with(const char *field, const char *value, const char *want_err)
{
	expect_doc_with(good_call, 201, field, value, want_err);
}

/* good_error with field set to value, as a status reply. */
static void expect_error_with(int status, const char *field, const char *value,
	const char *want_err)
{
	expect_doc_with(good_error, status, field, value, want_err);
}

/* ---- tests --------------------------------------------------------------- */

static void test_good_documents(void **state)
{
	char *text;
	(void)state;

	expect("POST", CALLS, 201, good_call, NULL);
	expect("post", CALLS, 201, good_call, NULL);
	expect("GET", CALL, 200, good_call, NULL);
	expect("POST", MESSAGES, 201, good_message, NULL);
	expect("POST", CALLS, 400, good_error, NULL);
	{
		json_t *list = call_list(json_array());
		text = dump(list);
		expect("GET", CALLS, 200, text, NULL);
		free(text);
		json_decref(list);
	}
	{
		json_t *two = json_array(), *list;
		json_array_append_new(two, load_or_fail(good_call));
		json_array_append_new(two, load_or_fail(good_call));
		list = call_list(two);
		text = dump(list);
		expect("GET", CALLS, 200, text, NULL);
		free(text);
		json_decref(list);
	}
	/* A 204 has no body. */
	expect("DELETE", CALL, 204, "", NULL);
	expect("DELETE", CALL, 204, NULL, NULL);
}

static void test_missing_and_extra_fields(void **state)
{
	(void)state;
	expect_call_with("trunk_sid", NULL, "trunk_sid: missing");
	expect_call_with("subresource_uris", NULL, "subresource_uris: missing");
	expect_call_with("call_sid", "\"" CALL_SID "\"", "call_sid: a field the schema does not have");
	expect_call_with("Status", "\"queued\"", "Status: a field the schema does not have");
}

static void test_wrong_types(void **state)
{
	(void)state;
	expect_call_with("duration", "15", "duration: expected string or null, got integer 15");
	expect_call_with("from", "true", "from: expected string or null, got boolean true");
	expect_call_with("subresource_uris", "[]", "subresource_uris: expected object");
	expect_call_with("status", "null", "status: null, but the schema does not allow null");
	expect_call_with("subresource_uris", "{\"events\": 3}",
		"subresource_uris.events: expected a URI string, got integer 3");
	expect_call_with("subresource_uris", "{\"events\": \"not a uri\"}",
		"subresource_uris.events: 'not a uri' is not a URI");
	expect("POST", CALLS, 201, "[1, 2]", "response: expected object, got an array");
	expect("POST", CALLS, 201, "{\"sid\": ", "response is not JSON");
	expect("POST", CALLS, 201, "", "response: empty body");
	expect("POST", CALLS, 201, "{\"sid\": 1, \"sid\": 2}", "response is not JSON");
}

static void test_enums_patterns_formats(void **state)
{
	(void)state;
	expect_call_with("status", "\"done\"", "status: 'done' is not one of: queued, ringing, "
		"in-progress, completed, busy, failed, no-answer, canceled");
	expect_call_with("status", "\"Completed\"", "status: 'Completed' is not one of");
	expect_call_with("sid", "\"CA123\"", "sid: 'CA123' is shorter than 34 characters");
	expect_call_with("sid", "\"SM0123456789abcdef0123456789abcdef\"",
		"sid: 'SM0123456789abcdef0123456789abcdef' does not match ^CA[0-9a-fA-F]{32}$");
	expect_call_with("sid", "\"CA0123456789abcdef0123456789abcdeg\"", "does not match");
	expect_call_with("account_sid", "\"AC0123456789ABCDEF0123456789ABCDEF\"", NULL);
	expect_call_with("date_created", "\"2010-08-31T20:36:28Z\"",
		"date_created: '2010-08-31T20:36:28Z' is not an RFC 2822 date");
	expect_call_with("date_updated", "\"Wed, 31 Aug 2010 20:36:28 +0000\"",
		"date_updated: 'Wed, 31 Aug 2010 20:36:28 +0000' is not an RFC 2822 date "
		"(31 Aug 2010 is a Tue, not a Wed)");
	expect_call_with("start_time", "\"x\"", "start_time: 'x' is not an RFC 2822 date");
	expect_call_with("end_time", "\"Tue, 31 Aug 2010 20:36:28 +0000\"", NULL);
	expect_call_with("price_unit", "\"usd\"", "price_unit: 'usd' is not a currency code");
	expect_call_with("uri", "\"x y\"", NULL); /* uri has no format in the schema */
	expect("POST", MESSAGES, 201, good_message, NULL);
}

static void test_list_items(void **state)
{
	json_t *items = json_array(), *bad = load_or_fail(good_call), *list;
	char *text;
	(void)state;

	json_object_set_new(bad, "date_created", json_string("x"));
	json_array_append_new(items, load_or_fail(good_call));
	json_array_append_new(items, bad);
	list = call_list(items);
	text = dump(list);
	expect("GET", CALLS, 200, text, "calls[1].date_created: 'x' is not an RFC 2822 date");
	free(text);

	json_array_remove(items, 1);
	json_object_set_new(list, "page", json_string("0"));
	text = dump(list);
	expect("GET", CALLS, 200, text, "page: expected integer, got '0'");
	free(text);

	json_object_set_new(list, "page", json_integer(0));
	json_object_del(list, "next_page_uri");
	text = dump(list);
	expect("GET", CALLS, 200, text, "next_page_uri: missing");
	free(text);

	json_object_set_new(list, "next_page_uri", json_string("https://api.twilio.com/x y"));
	text = dump(list);
	expect("GET", CALLS, 200, text, "next_page_uri: 'https://api.twilio.com/x y' is not a URI");
	free(text);

	json_object_set_new(list, "next_page_uri", json_null());
	json_object_del(list, "calls");
	json_object_set_new(list, "messages", json_array());
	text = dump(list);
	expect("GET", CALLS, 200, text, "messages: a field the schema does not have");
	free(text);
	json_decref(list);

	/* A create answered as a list is wrong, and the other way round. */
	list = call_list(json_array());
	text = dump(list);
	expect("POST", CALLS, 201, text, "a field the schema does not have");
	free(text);
	json_decref(list);
	expect("GET", CALLS, 200, good_call, "a field the schema does not have");
}

static void test_error_documents(void **state)
{
	(void)state;
	expect("GET", CALLS, 404,
		"{\"code\": 20404, \"message\": \"The requested resource was not found\","
		" \"more_info\": \"https://www.twilio.com/docs/errors/20404\", \"status\": 404}", NULL);
	expect_error_with(400, "details", "{\"field\": \"To\"}", NULL);
	expect_error_with(400, "more_info", NULL, "more_info: missing from the error document");
	expect_error_with(400, "code", "\"21211\"", "code: expected integer, got '21211'");
	expect_error_with(400, "code", "400", "code: integer 400 is not a Twilio error code");
	expect_error_with(400, "message", "\"\"", "message: empty");
	expect_error_with(400, "more_info", "\"see the docs\"",
		"more_info: 'see the docs' is not an http(s) URL");
	expect_error_with(404, "status", NULL, "status: missing");
	expect_error_with(404, "status", "400", "status: integer 400, but the HTTP status is 404");
	expect_error_with(400, "error", "\"bad\"", "error: a field Twilio's error document does not have");
	expect_error_with(400, "details", "\"To\"", "details: expected object");
	expect("POST", CALLS, 401, "Unauthorized", "response is not JSON");
	expect("POST", CALLS, 500, "", "empty body");
	expect("POST", CALLS, 400, "[]", "must be a JSON object");
}

static void test_operations_and_statuses(void **state)
{
	(void)state;
	expect("POST", "/2010-04-01/Accounts/{AccountSid}/Calls", 201, good_call,
		"/2010-04-01/Accounts/{AccountSid}/Calls is not a path in the spec");
	expect("PUT", CALLS, 200, good_call, "the spec has no PUT " CALLS);
	expect("POST", CALLS, 200, good_call, "POST " CALLS " answered 200; the spec gives 201");
	expect("DELETE", CALL, 204, "{}", "answers 204 with no body, got one");
	expect("", CALLS, 201, good_call, "is not an HTTP method");
}

/* Twilio's own examples in the spec pass for the operations ringfence uses. */
static void test_spec_examples(void **state)
{
	static const char *const paths[] = { CALLS, CALL, MESSAGES,
		"/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json" };
	json_error_t jerr;
	json_t *spec = json_load_file(OAS_SPEC_PATH, 0, &jerr);
	size_t checked = 0;
	(void)state;

	if (spec == NULL)
		fail_msg("%s: %s", OAS_SPEC_PATH, jerr.text);
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		json_t *ops = json_object_get(json_object_get(spec, "paths"), paths[i]), *op;
		const char *method;
		json_object_foreach(ops, method, op) {
			json_t *responses = json_object_get(op, "responses"), *resp;
			const char *code;
			json_object_foreach(responses, code, resp) {
				json_t *examples = json_object_get(json_object_get(json_object_get(resp,
					"content"), "application/json"), "examples"), *ex;
				const char *name;
				json_object_foreach(examples, name, ex) {
					char *text = dump(json_object_get(ex, "value"));
					char err[1024];
					if (oas_check(method, paths[i], atoi(code), text, err, sizeof(err)) != 0)
						fail_msg("example %s of %s %s: %s", name, method, paths[i], err);
					free(text);
					checked++;
				}
			}
		}
	}
	json_decref(spec);
	if (checked < 4)
		fail_msg("only %zu examples found in the spec", checked);
}

static void test_rfc2822_dates(void **state)
{
	static const struct {
		const char *s;
		int ok;
		const char *why;
	} cases[] = {
		{ "Tue, 31 Aug 2010 20:36:28 +0000", 1, "" },
		{ "31 Aug 2010 20:36:28 +0000", 1, "" },
		{ "Tue, 31 Aug 2010 20:36 -0700", 1, "" },
		{ "Thu, 29 Feb 2024 00:00:00 GMT", 1, "" },
		{ "Sat, 1 Jan 2000 23:59:60 UT", 1, "" },
		{ "Thu, 29 Feb 2023 00:00:00 +0000", 0, "Feb 2023 has no day 29" },
		{ "Tue, 31 Sep 2010 20:36:28 +0000", 0, "Sep 2010 has no day 31" },
		{ "Tue, 31 Aug 2010 24:00:00 +0000", 0, "time out of range" },
		{ "Tue, 31 Aug 2010 20:60:00 +0000", 0, "time out of range" },
		{ "Tue, 31 Aug 2010 20:36:28 +0060", 0, "zone minutes" },
		{ "Tue, 31 Aug 2010 20:36:28 UTC", 0, "zone" },
		{ "Tue, 31 Aug 2010 20:36:28", 0, "no zone" },
		{ "Tue, 31 Aug 2010 20:36:28 +0000 ", 0, "text after the zone" },
		{ "Tue 31 Aug 2010 20:36:28 +0000", 0, "followed by" },
		{ "Tues, 31 Aug 2010 20:36:28 +0000", 0, "followed by" },
		{ "Xyz, 31 Aug 2010 20:36:28 +0000", 0, "unknown weekday" },
		{ "Tue, 31 August 2010 20:36:28 +0000", 0, "no month name" },
		{ "Tue, 31 aug 2010 20:36:28 +0000", 0, "no month name" },
		{ "Tue, 31 Aug 10 20:36:28 +0000", 0, "four-digit year" },
		{ "Tue, 31 Aug 20100 20:36:28 +0000", 0, "four-digit year" },
		{ "Tue, 131 Aug 2010 20:36:28 +0000", 0, "no day of the month" },
		{ "Tue, 31 Aug 2010 2036 +0000", 0, "hh:mm" },
		{ "Mon, 31 Aug 2010 20:36:28 +0000", 0, "is a Tue, not a Mon" },
		{ "2010-08-31T20:36:28Z", 0, "no day of the month" },
		{ "", 0, "no day of the month" },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char why[128] = "";
		int ok = oas_is_rfc2822_date(cases[i].s, why, sizeof(why));
		if (ok != cases[i].ok)
			fail_msg("'%s': %s, expected %s (%s)", cases[i].s, ok ? "accepted" : "rejected",
				cases[i].ok ? "accepted" : "rejected", why);
		if (!ok && strstr(why, cases[i].why) == NULL)
			fail_msg("'%s': reason '%s' lacks '%s'", cases[i].s, why, cases[i].why);
	}
}

static void test_spec_load_errors(void **state)
{
	char err[512];
	(void)state;
	assert_int_equal(oas_load("test/integration/no-such-spec.json", err, sizeof(err)), -1);
	if (strstr(err, "no-such-spec.json") == NULL)
		fail_msg("load error does not name the file: %s", err);
	assert_int_equal(oas_load("Makefile", err, sizeof(err)), -1);
	/* The loaded spec is still the good one after failed loads. */
	expect("POST", CALLS, 201, good_call, NULL);
}

static int group_setup(void **state)
{
	char err[512];
	(void)state;
	if (oas_load(OAS_SPEC_PATH, err, sizeof(err)) < 0) {
		fprintf(stderr, "# oas: %s (run from the repository root)\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	oas_unload();
	return 0;
}

int oas_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_documents),
		cmocka_unit_test(test_missing_and_extra_fields),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_enums_patterns_formats),
		cmocka_unit_test(test_list_items),
		cmocka_unit_test(test_error_documents),
		cmocka_unit_test(test_operations_and_statuses),
		cmocka_unit_test(test_spec_examples),
		cmocka_unit_test(test_rfc2822_dates),
		cmocka_unit_test(test_spec_load_errors),
	};
	return cmocka_run_group_tests_name("integration: OpenAPI response checker", tests,
		group_setup, group_teardown);
}

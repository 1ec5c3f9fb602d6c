/* test_api_spec: the checker of the JSON API's own OpenAPI description
 * (oas.c's oas_api_*) on good and broken exchanges and documents, so
 * that the api group's checks are known to catch what they claim to.
 * Needs no stack: it reads src/www/openapi.json. */
#include "harness.h"
#include "oas.h"
#include "util.h"

#include <unistd.h>

static const char good_client[] =
	"{\"id\": 7, \"name\": \"Ann\", \"phone\": \"+15550100123\", \"email\": null,"
	" \"time_zone\": \"Europe/Paris\", \"do_not_call\": false, \"opted_out\": false,"
	" \"opted_out_at\": null, \"phone_invalid_at\": null, \"proposed_at\": null,"
	" \"proposed_from\": null, \"confirmed_at\": null, \"confirmed_by\": null,"
	" \"created_at\": \"2026-12-07T10:00:00Z\"}";

static const char *const json_headers[] = { "Content-Type", NULL };
static const char *const created_headers[] = { "Content-Type", "Location", NULL };

static int load_or_fail(void **state)
{
	char err[512];
	(void)state;
	if (oas_api_load(OAS_API_SPEC_PATH, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	return 0;
}

static int unload(void **state)
{
	(void)state;
	oas_api_unload();
	return 0;
}

/* Checks one exchange; want 0 (accepted) or -1 with why in the message. */
static void expect(const char *method, const char *path, int status, const char *req,
	const char *resp, const char *const *headers, int want, const char *why)
{
	char err[768] = "";
	int rc = oas_api_check(method, path, status, req, resp, headers, err, sizeof(err));
	if (rc != want)
		fail_msg("%s %s %d: got %d (%s), want %d", method, path, status, rc, err, want);
	if (want < 0 && why && strstr(err, why) == NULL)
		fail_msg("%s %s %d: the reason '%s' does not say '%s'", method, path, status, err, why);
}

static void test_document_shape(void **state)
{
	char err[512];
	(void)state;
	if (oas_api_check_doc(err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

static void test_good_exchanges(void **state)
{
	(void)state;
	expect("GET", "/api/v1/clients/7", 200, NULL, good_client, json_headers, 0, NULL);
	expect("POST", "/api/v1/clients", 201, "{\"name\": \"Ann\", \"phone\": \"+1 555 010 0123\"}",
		good_client, created_headers, 0, NULL);
	expect("GET", "/api/v1/clients", 200, NULL, "{\"data\": [], \"next_cursor\": null}",
		json_headers, 0, NULL);
	expect("GET", "/api/v1/clients/7", 404, NULL,
		"{\"error\": {\"code\": \"not_found\", \"message\": \"no client 7\"}}", json_headers, 0,
		NULL);
	expect("DELETE", "/api/v1/clients/7", 405, NULL,
		"{\"error\": {\"code\": \"method_not_allowed\", \"message\": \"no\"}}",
		(const char *const[]){ "Allow", NULL }, 0, NULL);
	expect("GET", "/api/v1/nothing", 404, NULL,
		"{\"error\": {\"code\": \"not_found\", \"message\": \"no such resource\"}}", NULL, 0,
		NULL);
}

/* A client document with these members' JSON values and extra members
 * (text starting ", ") after the last. */
#define CLIENT_DOC(id, phone, created_at, extra) \
	"{\"id\": " id ", \"name\": \"Ann\", \"phone\": " phone ", \"email\": null," \
	" \"time_zone\": null, \"do_not_call\": false, \"opted_out\": false," \
	" \"opted_out_at\": null, \"phone_invalid_at\": null, \"proposed_at\": null," \
	" \"proposed_from\": null, \"confirmed_at\": null, \"confirmed_by\": null," \
	" \"created_at\": " created_at \
	extra "}"

/* Client documents the description refuses, and the member the reason names. */
static const struct {
	const char *doc, *why;
} bad_clients[] = {
	{ CLIENT_DOC("7", "null", "\"2026-12-07T10:00:00Z\"", ", \"x\": 1"), "x" },
	{ CLIENT_DOC("\"7\"", "null", "\"2026-12-07T10:00:00Z\"", ""), "id" },
	{ CLIENT_DOC("7", "null", "\"yesterday\"", ""), "created_at" },
	{ CLIENT_DOC("7", "\"555-0123\"", "\"2026-12-07T10:00:00Z\"", ""), "phone" },
};

static void test_bad_exchanges(void **state)
{
	char *missing = xstrdup(good_client), *p;
	(void)state;
	/* A member the schema requires is missing ("name" renamed). */
	p = strstr(missing, "\"name\"");
	memcpy(p, "\"nmae\"", 6);
	expect("GET", "/api/v1/clients/7", 200, NULL, missing, json_headers, -1, "name");
	free(missing);
	/* An extra member, a wrong type, a bad date, a bad pattern. */
	for (size_t i = 0; i < ARRAY_LEN(bad_clients); i++)
		expect("GET", "/api/v1/clients/7", 200, NULL, bad_clients[i].doc, json_headers, -1,
			bad_clients[i].why);
	/* A status the operation does not list. */
	expect("GET", "/api/v1/clients/7", 418, NULL,
		"{\"error\": {\"code\": \"internal\", \"message\": \"teapot\"}}", json_headers, -1,
		"418");
	/* An error that is not the error document; an unknown error code. */
	expect("GET", "/api/v1/clients/7", 404, NULL, "{\"message\": \"gone\"}", json_headers, -1,
		"error");
	expect("GET", "/api/v1/clients/7", 404, NULL,
		"{\"error\": {\"code\": \"gone\", \"message\": \"gone\"}}", json_headers, -1, "code");
	/* A required header missing: Retry-After of a 429, Location of a 201. */
	expect("GET", "/api/v1/clients", 429, NULL,
		"{\"error\": {\"code\": \"rate_limited\", \"message\": \"slow down\"}}", json_headers,
		-1, "Retry-After");
	expect("POST", "/api/v1/clients", 201, "{\"name\": \"Ann\", \"email\": \"a@example.com\"}",
		good_client, json_headers, -1, "Location");
	/* A 2xx for a request the description does not take. */
	expect("POST", "/api/v1/clients", 201, "{\"name\": \"Ann\", \"nickname\": \"A\"}",
		good_client, created_headers, -1, "nickname");
	expect("PATCH", "/api/v1/clients/7", 200, "{\"do_not_call\": \"yes\"}", good_client,
		json_headers, -1, "do_not_call");
	/* A path the description lacks answered anything but 404; a method
	 * it lacks anything but 405. */
	expect("GET", "/api/v1/secret", 200, NULL, "{}", json_headers, -1, "not in the description");
	expect("DELETE", "/api/v1/clients/7", 200, NULL, "{}", json_headers, -1,
		"not in the description");
}

static void test_broken_document(void **state)
{
	char err[512], path[] = "/tmp/rf-api-spec-XXXXXX";
	json_error_t jerr;
	json_t *doc = json_load_file(OAS_API_SPEC_PATH, 0, &jerr);
	int fd;
	(void)state;
	assert_non_null(doc);
	/* A $ref that leads nowhere. */
	json_object_set_new(json_object_get(json_object_get(doc, "components"), "schemas"),
		"Broken", json_pack("{s:s}", "$ref", "#/components/schemas/Nowhere"));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(json_dump_file(doc, path, 0), 0);
	assert_int_equal(oas_api_load(path, err, sizeof(err)), 0);
	assert_int_equal(oas_api_check_doc(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Nowhere"));
	/* Not 3.1. */
	json_object_del(json_object_get(json_object_get(doc, "components"), "schemas"), "Broken");
	json_object_set_new(doc, "openapi", json_string("3.0.3"));
	assert_int_equal(json_dump_file(doc, path, 0), 0);
	assert_int_equal(oas_api_load(path, err, sizeof(err)), 0);
	assert_int_equal(oas_api_check_doc(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "3.1.0"));
	unlink(path);
	json_decref(doc);
	load_or_fail(state);
}

int api_spec_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document_shape),
		cmocka_unit_test(test_good_exchanges),
		cmocka_unit_test(test_bad_exchanges),
		cmocka_unit_test(test_broken_document),
	};
	return cmocka_run_group_tests_name("integration: the API's OpenAPI checker", tests,
		load_or_fail, unload);
}

/* Integration tests of `ringfence twilio-sim` against a live stack: its
 * REST API through nginx (TWILIO_API_URL) with the stack's credentials,
 * checked field by field against Twilio's OpenAPI description (oas.h),
 * and its state across deploy/stack sim-restart. */
#include "harness.h"
#include "oas.h"

#include <curl/curl.h>

static const char *api_url;     /* TWILIO_API_URL, no trailing slash */
static char base[256];          /* api_url + /2010-04-01/Accounts/AC... */
static int ts_initialised;

/* One request with Basic credentials user:pass (NULL: the stack's); a
 * NULL form means GET.  Fails the test when no HTTP answer comes. */
static void sim_call_or_fail(const char *url, const char *user, const char *pass,
	const struct hx_form *form, struct hx_sim_res *r)
{
	char *body = form ? hx_form_encode(form) : NULL;
	if (hx_sim_request(url, user, pass, body, r) < 0)
		fail_msg("%s: %s", url, r->error);
	free(body);
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Twilio's error document with code and HTTP status. */
static void expect_error(struct hx_sim_res *r, long status, int code)
{
	if (r->status != status || r->json == NULL ||
		json_integer_value(json_object_get(r->json, "code")) != code)
		fail_msg("expected %ld with code %d, got %ld: %s", status, code, r->status,
			buf_str(&r->body));
	assert_int_equal(json_integer_value(json_object_get(r->json, "status")), status);
	assert_non_null(jstr(r->json, "message"));
	assert_non_null(jstr(r->json, "more_info"));
}

static void expect_schema(const char *method, const char *tmpl, struct hx_sim_res *r)
{
	char err[512];
	if (oas_check(method, tmpl, (int)r->status, buf_str(&r->body), err, sizeof(err)) != 0)
		fail_msg("%s %s: %s", method, tmpl, err);
}

static void form_call(struct hx_form *f, const char *to)
{
	char url[512];
	hx_form_init(f);
	snprintf(url, sizeof(url), "%s/twilio/voice/reminder_call", hx_env.public_url);
	hx_form_add(f, "To", to);
	hx_form_add(f, "From", "+15005550006");
	hx_form_add(f, "Url", url);
}

static void post_expect(const char *what, struct hx_form *f, long status, int code)
{
	char url[300];
	struct hx_sim_res r;
	snprintf(url, sizeof(url), "%s/%s", base, what);
	sim_call_or_fail(url, NULL, NULL, f, &r);
	expect_error(&r, status, code);
	expect_schema("POST", strcmp(what, "Calls.json") == 0
		? "/2010-04-01/Accounts/{AccountSid}/Calls.json"
		: "/2010-04-01/Accounts/{AccountSid}/Messages.json", &r);
	hx_sim_res_free(&r);
}

static void test_auth(void **state)
{
	char url[300];
	struct hx_sim_res r;
	(void)state;
	snprintf(url, sizeof(url), "%s/Calls.json", base);
	sim_call_or_fail(url, NULL, "wrong-token", NULL, &r);
	expect_error(&r, 401, 20003);
	hx_sim_res_free(&r);
	sim_call_or_fail(url, "AC00000000000000000000000000000000", NULL, NULL, &r);
	expect_error(&r, 401, 20003);
	hx_sim_res_free(&r);
	/* Right credentials, another account in the path. */
	snprintf(url, sizeof(url), "%s/2010-04-01/Accounts/AC00000000000000000000000000000000/Calls.json",
		api_url);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	expect_error(&r, 401, 20003);
	hx_sim_res_free(&r);
}

static void test_call_validation(void **state)
{
	struct hx_form f;
	char to[13];
	(void)state;
	hx_random_phone(to);
	static const struct { const char *del, *name, *value; int code; } cases[] = {
		{ "To", NULL, NULL, 21201 },
		{ "From", NULL, NULL, 21213 },
		{ "Url", NULL, NULL, 21205 },
		{ NULL, "Url", "ftp://example.com/x", 21205 },
		{ NULL, "To", "5551234", 21211 },
		{ NULL, "From", "+0123", 21212 },
		{ NULL, "To", "+15005550001", 21217 },
		{ NULL, "To", "+15005550002", 21214 },
		{ NULL, "To", "+15005550003", 21215 },
		{ NULL, "To", "+15005550004", 21216 },
		{ NULL, "From", "+15005550001", 21212 },
		{ NULL, "Timeout", "0", 20001 },
		{ NULL, "Timeout", "601", 20001 },
		{ NULL, "StatusCallbackEvent", "hungup", 20001 },
		{ NULL, "MachineDetection", "Maybe", 20001 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		form_call(&f, to);
		if (cases[i].del)
			hx_form_del(&f, cases[i].del);
		else
			hx_form_set(&f, cases[i].name, cases[i].value);
		post_expect("Calls.json", &f, 400, cases[i].code);
		hx_form_free(&f);
	}
}

static void test_message_validation(void **state)
{
	struct hx_form f;
	char to[13], *long_body;
	(void)state;
	hx_random_phone(to);
	long_body = malloc(1602);
	assert_non_null(long_body);
	memset(long_body, 'a', 1601);
	long_body[1601] = '\0';
	static const struct { const char *del, *name, *value; int code; } cases[] = {
		{ "To", NULL, NULL, 21604 },
		{ "From", NULL, NULL, 21603 },
		{ "Body", NULL, NULL, 21602 },
		{ NULL, "To", "12", 21211 },
		{ NULL, "From", "abc", 21212 },
		{ NULL, "To", "+15005550001", 21211 },
		{ NULL, "To", "+15005550002", 21612 },
		{ NULL, "To", "+15005550003", 21408 },
		{ NULL, "To", "+15005550004", 21610 },
		{ NULL, "To", "+15005550009", 21614 },
		{ NULL, "Body", NULL, 21617 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hx_form_init(&f);
		hx_form_add(&f, "To", to);
		hx_form_add(&f, "From", "+15005550006");
		hx_form_add(&f, "Body", "Your appointment is tomorrow at 10:00.");
		if (cases[i].del)
			hx_form_del(&f, cases[i].del);
		else
			hx_form_set(&f, cases[i].name, cases[i].value ? cases[i].value : long_body);
		post_expect("Messages.json", &f, 400, cases[i].code);
		hx_form_free(&f);
	}
	free(long_body);
}

/* Creates a call to `to`; returns its sid (caller frees). */
static char *create_call_or_fail(const char *to)
{
	struct hx_form f;
	struct hx_sim_res r;
	char url[300], *sid;
	form_call(&f, to);
	snprintf(url, sizeof(url), "%s/Calls.json", base);
	sim_call_or_fail(url, NULL, NULL, &f, &r);
	if (r.status != 201)
		fail_msg("create call: %ld %s", r.status, buf_str(&r.body));
	expect_schema("POST", "/2010-04-01/Accounts/{AccountSid}/Calls.json", &r);
	assert_string_equal(jstr(r.json, "status"), "queued");
	assert_string_equal(jstr(r.json, "to"), to);
	assert_string_equal(jstr(r.json, "direction"), "outbound-api");
	assert_string_equal(jstr(r.json, "api_version"), "2010-04-01");
	sid = strdup(jstr(r.json, "sid"));
	assert_int_equal(strlen(sid), 34);
	assert_memory_equal(sid, "CA", 2);
	/* "Tue, 24 Nov 2026 14:31:20 +0000" */
	const char *d = jstr(r.json, "date_created");
	assert_non_null(d);
	assert_int_equal(strlen(d), 31);
	assert_string_equal(d + 25, " +0000");
	hx_sim_res_free(&r);
	hx_form_free(&f);
	return sid;
}

/* Waits (up to 30 s) until the call has a start_time: the driver dialled it. */
static void wait_dialled_or_fail(const char *sid)
{
	char url[600];
	struct hx_sim_res r;
	long long deadline = hx_now_ms() + 30000;

	snprintf(url, sizeof(url), "%s/Calls/%s.json", base, sid);
	for (;;) {
		sim_call_or_fail(url, NULL, NULL, NULL, &r);
		assert_int_equal(r.status, 200);
		if (jstr(r.json, "start_time")) {
			hx_sim_res_free(&r);
			return;
		}
		hx_sim_res_free(&r);
		if (hx_now_ms() > deadline)
			fail_msg("call %s was never dialled", sid);
		hx_sleep_ms(50);
	}
}

static void test_create_get_list(void **state)
{
	char to[13], url[600], *sids[3];
	struct hx_sim_res r;
	json_t *calls;
	(void)state;
	hx_random_phone(to);
	for (int i = 0; i < 3; i++)
		sids[i] = create_call_or_fail(to);

	snprintf(url, sizeof(url), "%s/Calls/%s.json", base, sids[0]);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json", &r);
	assert_string_equal(jstr(r.json, "sid"), sids[0]);
	hx_sim_res_free(&r);

	snprintf(url, sizeof(url), "%s/Calls/CA00000000000000000000000000000000.json", base);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	expect_error(&r, 404, 20404);
	hx_sim_res_free(&r);

	/* Filter by To, two a page: newest first, then the last one. */
	snprintf(url, sizeof(url), "%s/Calls.json?To=%%2B%s&PageSize=2", base, to + 1);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/Calls.json", &r);
	calls = json_object_get(r.json, "calls");
	assert_int_equal(json_array_size(calls), 2);
	assert_string_equal(jstr(json_array_get(calls, 0), "sid"), sids[2]);
	assert_int_equal(json_integer_value(json_object_get(r.json, "page")), 0);
	assert_int_equal(json_integer_value(json_object_get(r.json, "page_size")), 2);
	assert_int_equal(json_integer_value(json_object_get(r.json, "start")), 0);
	assert_int_equal(json_integer_value(json_object_get(r.json, "end")), 1);
	assert_true(json_is_null(json_object_get(r.json, "previous_page_uri")));
	const char *next = jstr(r.json, "next_page_uri");
	assert_non_null(next);
	snprintf(url, sizeof(url), "%s%s", api_url, next);
	hx_sim_res_free(&r);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	calls = json_object_get(r.json, "calls");
	assert_int_equal(json_array_size(calls), 1);
	assert_string_equal(jstr(json_array_get(calls, 0), "sid"), sids[0]);
	assert_int_equal(json_integer_value(json_object_get(r.json, "start")), 2);
	assert_true(json_is_null(json_object_get(r.json, "next_page_uri")));
	assert_non_null(jstr(r.json, "previous_page_uri"));
	hx_sim_res_free(&r);

	/* Once dialled, StartTime>= a past day finds them; StartTime<= a past
	 * day does not. */
	for (int i = 0; i < 3; i++)
		wait_dialled_or_fail(sids[i]);
	snprintf(url, sizeof(url), "%s/Calls.json?To=%%2B%s&StartTime%%3E=2000-01-01", base, to + 1);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "calls")), 3);
	hx_sim_res_free(&r);
	snprintf(url, sizeof(url), "%s/Calls.json?To=%%2B%s&StartTime%%3C=2000-01-01", base, to + 1);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "calls")), 0);
	hx_sim_res_free(&r);
	snprintf(url, sizeof(url), "%s/Calls.json?StartTime%%3E=yesterday", base);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	expect_error(&r, 400, 20001);
	hx_sim_res_free(&r);
	snprintf(url, sizeof(url), "%s/Calls.json?To=%%2B%s&Status=busy", base, to + 1);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "calls")), 0);
	hx_sim_res_free(&r);
	for (int i = 0; i < 3; i++)
		free(sids[i]);
}

static void test_messages_and_opt_out(void **state)
{
	char to[13], url[600], sid[40], *val;
	struct hx_form f;
	struct hx_sim_res r;
	long long deadline;
	(void)state;
	hx_random_phone(to);

	/* The callee replies STOP: afterwards sends to it fail with 21610. */
	hx_form_init(&f);
	hx_form_add(&f, "Number", to);
	hx_form_add(&f, "Behaviour", "person; sms-reply \"STOP\"");
	snprintf(url, sizeof(url), "%s/sim/callees", api_url);
	sim_call_or_fail(url, NULL, NULL, &f, &r);
	assert_int_equal(r.status, 201);
	hx_sim_res_free(&r);
	hx_form_set(&f, "Behaviour", "person; dance");
	sim_call_or_fail(url, NULL, NULL, &f, &r);
	expect_error(&r, 400, 20001);
	hx_sim_res_free(&r);
	hx_form_free(&f);

	hx_form_init(&f);
	hx_form_add(&f, "To", to);
	hx_form_add(&f, "From", "+15005550006");
	hx_form_add(&f, "Body", "Reply 1 to confirm.");
	snprintf(url, sizeof(url), "%s/Messages.json", base);
	sim_call_or_fail(url, NULL, NULL, &f, &r);
	if (r.status != 201)
		fail_msg("create message: %ld %s", r.status, buf_str(&r.body));
	expect_schema("POST", "/2010-04-01/Accounts/{AccountSid}/Messages.json", &r);
	snprintf(sid, sizeof(sid), "%s", jstr(r.json, "sid"));
	hx_sim_res_free(&r);

	/* Delivered, then the reply opts the number out. */
	deadline = hx_now_ms() + 20000;
	for (;;) {
		const char *p[] = { to, "+15005550006" };
		val = hx_db_value_or_fail("SELECT keyword FROM twilio_sim.opt_outs"
					  " WHERE number = $1 AND sender = $2", 2, p);
		if (val || hx_now_ms() > deadline)
			break;
		hx_sleep_ms(100);
	}
	if (val == NULL)
		fail_msg("the STOP reply of %s was not recorded in 20 s", to);
	free(val);
	snprintf(url, sizeof(url), "%s/Messages/%s.json", base, sid);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json", &r);
	assert_string_equal(jstr(r.json, "status"), "delivered");
	hx_sim_res_free(&r);
	snprintf(url, sizeof(url), "%s/sim/messages/%s/transcript", api_url, sid);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(buf_str(&r.body), "status delivered"));
	hx_sim_res_free(&r);

	snprintf(url, sizeof(url), "%s/Messages.json", base);
	sim_call_or_fail(url, NULL, NULL, &f, &r);
	expect_error(&r, 400, 21610);
	hx_sim_res_free(&r);
	hx_form_free(&f);

	/* The reply is listed as an inbound message from the callee. */
	snprintf(url, sizeof(url), "%s/Messages.json?From=%%2B%s", base, to + 1);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/Messages.json", &r);
	json_t *m = json_array_get(json_object_get(r.json, "messages"), 0);
	assert_non_null(m);
	assert_string_equal(jstr(m, "direction"), "inbound");
	assert_string_equal(jstr(m, "body"), "STOP");
	hx_sim_res_free(&r);
}

/* A reminder call created through the API is played by the driver
 * against the application: the scripted person listens, presses 1 to
 * hear the appointment and 1 to confirm; the call ends completed with
 * its transcript, and the appointment is confirmed. */
static void test_call_driven_to_completion(void **state)
{
	struct hx_call c;
	struct hx_snapshot snap;
	struct hx_form f;
	struct hx_sim_res r;
	char url[700], *sid;
	const char *status = "";
	long long deadline;
	(void)state;
	hx_fixture_call_or_fail(&c);

	hx_form_init(&f);
	hx_form_add(&f, "Number", c.client_phone);
	hx_form_add(&f, "Behaviour", "person; ring 1; wait 1; press 1; wait 1; press 1");
	snprintf(url, sizeof(url), "%s/sim/callees", api_url);
	sim_call_or_fail(url, NULL, NULL, &f, &r);
	assert_int_equal(r.status, 201);
	hx_sim_res_free(&r);
	hx_form_free(&f);

	hx_form_init(&f);
	hx_form_add(&f, "To", c.client_phone);
	hx_form_add(&f, "From", c.from_number);
	hx_form_add(&f, "Url", c.first_url);
	hx_form_add(&f, "StatusCallbackEvent", "initiated");
	hx_form_add(&f, "StatusCallbackEvent", "completed");
	snprintf(url, sizeof(url), "%s/Calls.json", base);
	sim_call_or_fail(url, NULL, NULL, &f, &r);
	if (r.status != 201)
		fail_msg("create call: %ld %s", r.status, buf_str(&r.body));
	sid = strdup(jstr(r.json, "sid"));
	hx_sim_res_free(&r);
	hx_form_free(&f);

	snprintf(url, sizeof(url), "%s/Calls/%s.json", base, sid);
	deadline = hx_now_ms() + 90000;
	for (;;) {
		sim_call_or_fail(url, NULL, NULL, NULL, &r);
		assert_int_equal(r.status, 200);
		status = jstr(r.json, "status");
		if (strcmp(status, "queued") != 0 && strcmp(status, "ringing") != 0 &&
			strcmp(status, "in-progress") != 0)
			break;
		hx_sim_res_free(&r);
		if (hx_now_ms() > deadline)
			fail_msg("call %s still not ended after 90 s", sid);
		hx_sleep_ms(200);
	}
	expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json", &r);
	if (strcmp(status, "completed") != 0)
		fail_msg("call %s ended %s: %s", sid, status, buf_str(&r.body));
	assert_non_null(jstr(r.json, "end_time"));
	assert_non_null(jstr(r.json, "duration"));
	hx_sim_res_free(&r);

	snprintf(url, sizeof(url), "%s/sim/calls/%s/transcript", api_url, sid);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	if (strstr(buf_str(&r.body), "press 1") == NULL)
		fail_msg("transcript of %s has no keypress:\n%s", sid, buf_str(&r.body));
	hx_sim_res_free(&r);
	snprintf(url, sizeof(url), "%s/sim/calls/%s/events.json", api_url, sid);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_array_size(json_object_get(r.json, "events")) > 3);
	hx_sim_res_free(&r);

	hx_snapshot_or_fail(&c, &snap);
	if (snap.confirmed_at[0] == '\0')
		fail_msg("call %s completed but the appointment is not confirmed (state %s)", sid,
			snap.state);
	free(sid);
}

static void test_state_kept_across_restart(void **state)
{
	char to[13], url[300], *sid;
	struct hx_sim_res r;
	(void)state;
	hx_random_phone(to);
	sid = create_call_or_fail(to);
	if (hx_stack("sim-restart", NULL, 90) != 0)
		fail_msg("deploy/stack sim-restart failed");
	snprintf(url, sizeof(url), "%s/Calls/%s.json", base, sid);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "sid"), sid);
	assert_string_equal(jstr(r.json, "to"), to);
	hx_sim_res_free(&r);
	free(sid);
}

static int ts_setup(void **state)
{
	char err[512];
	(void)state;
	api_url = getenv("TWILIO_API_URL");
	if (api_url == NULL || strncmp(api_url, "http", 4) != 0) {
		fprintf(stderr, "# twilio-sim tests: TWILIO_API_URL is not set\n");
		return -1;
	}
	if (hx_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "# twilio-sim tests: %s\n", err);
		return -1;
	}
	ts_initialised = 1;
	snprintf(base, sizeof(base), "%s/2010-04-01/Accounts/%s", api_url, hx_env.account_sid);
	return 0;
}

static int ts_teardown(void **state)
{
	(void)state;
	if (ts_initialised)
		hx_fini();
	ts_initialised = 0;
	return 0;
}

int twilio_sim_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_call_validation),
		cmocka_unit_test(test_message_validation),
		cmocka_unit_test(test_create_get_list),
		cmocka_unit_test(test_messages_and_opt_out),
		cmocka_unit_test(test_call_driven_to_completion),
		cmocka_unit_test(test_state_kept_across_restart),
	};
	return cmocka_run_group_tests_name("integration: twilio-sim", tests, ts_setup, ts_teardown);
}

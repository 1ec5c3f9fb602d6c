/* Integration tests of `ringfence-sim twilio-sim` against a live stack: its
 * REST API through nginx (TWILIO_API_URL) with the stack's credentials,
 * checked field by field against Twilio's OpenAPI description (oas.h),
 * its state across deploy/stack sim-restart, and, restarted with a queue
 * delay or a CPS limit, Twilio's strictness: date filters on start_time
 * and date_sent only, fetch by sid, PageToken paging, calls dialled at
 * the CPS rate; and its refusal of production. */
#include "harness.h"
#include "oas.h"

#include "util.h"

#include <curl/curl.h>
#include <sys/wait.h>
#include <time.h>

static const char *api_url;     /* TWILIO_API_URL, no trailing slash */
static char base[256];          /* api_url + /2010-04-01/Accounts/AC... */
static int ts_initialised;
static int ts_sim_altered;      /* restarted with a queue delay or a CPS limit */

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

/* GET url answers Twilio's error document with code and HTTP status. */
static void get_error_or_fail(const char *url, long status, int code)
{
	struct hx_sim_res r;
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	expect_error(&r, status, code);
	hx_sim_res_free(&r);
}

/* GET url answers 200 with n items in its list key. */
static void get_count_or_fail(const char *url, const char *key, size_t n)
{
	struct hx_sim_res r;
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	if (r.status != 200)
		fail_msg("%s: %ld %s", url, r.status, buf_str(&r.body));
	assert_int_equal(json_array_size(json_object_get(r.json, key)), n);
	hx_sim_res_free(&r);
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
	get_error_or_fail(url, 401, 20003);
}

/* One validation case: a field deleted, or set to value (NULL: the
 * caller's fallback), and the Twilio error code expected with 400. */
struct vcase {
	const char *del, *name, *value;
	int code;
};

/* Posts one form per case to path, each made by make(to) and changed as
 * the case says, and expects 400 with the case's code. */
static void run_validation(const char *path, void (*make)(struct hx_form *, const char *),
	const char *to, const struct vcase *cases, size_t n, const char *fallback)
{
	struct hx_form f;

	for (size_t i = 0; i < n; i++) {
		make(&f, to);
		if (cases[i].del)
			hx_form_del(&f, cases[i].del);
		else
			hx_form_set(&f, cases[i].name, cases[i].value ? cases[i].value : fallback);
		post_expect(path, &f, 400, cases[i].code);
		hx_form_free(&f);
	}
}

/* A valid reminder text to `to`. */
static void form_message(struct hx_form *f, const char *to)
{
	hx_form_init(f);
	hx_form_add(f, "To", to);
	hx_form_add(f, "From", "+15005550006");
	hx_form_add(f, "Body", "Your appointment is tomorrow at 10:00.");
}

static void test_call_validation(void **state)
{
	char to[13];
	(void)state;
	hx_random_phone(to);
	static const struct vcase cases[] = {
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
		{ NULL, "FallbackUrl", "ftp://example.com/x", 21205 },
		{ NULL, "FallbackUrl", "not a url", 21205 },
		{ NULL, "FallbackMethod", "PUT", 20001 },
	};
	run_validation("Calls.json", form_call, to, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

static void test_message_validation(void **state)
{
	char to[13], *long_body;
	(void)state;
	hx_random_phone(to);
	long_body = malloc(1602);
	assert_non_null(long_body);
	memset(long_body, 'a', 1601);
	long_body[1601] = '\0';
	static const struct vcase cases[] = {
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
	run_validation("Messages.json", form_message, to, cases, sizeof(cases) / sizeof(cases[0]),
		long_body);
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

/* GET Calls/{sid}.json: 200 in Twilio's documented shape; r is the answer
 * (caller frees). */
static void fetch_call_or_fail(const char *sid, struct hx_sim_res *r)
{
	char url[600];

	snprintf(url, sizeof(url), "%s/Calls/%s.json", base, sid);
	sim_call_or_fail(url, NULL, NULL, NULL, r);
	assert_int_equal(r->status, 200);
	expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json", r);
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

	fetch_call_or_fail(sids[0], &r);
	assert_string_equal(jstr(r.json, "sid"), sids[0]);
	hx_sim_res_free(&r);

	snprintf(url, sizeof(url), "%s/Calls/CA00000000000000000000000000000000.json", base);
	get_error_or_fail(url, 404, 20404);

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
	get_count_or_fail(url, "calls", 3);
	snprintf(url, sizeof(url), "%s/Calls.json?To=%%2B%s&StartTime%%3C=2000-01-01", base, to + 1);
	get_count_or_fail(url, "calls", 0);
	snprintf(url, sizeof(url), "%s/Calls.json?StartTime%%3E=yesterday", base);
	get_error_or_fail(url, 400, 20001);
	snprintf(url, sizeof(url), "%s/Calls.json?To=%%2B%s&Status=busy", base, to + 1);
	get_count_or_fail(url, "calls", 0);
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

/* Restarts the simulator with RINGFENCE_SIM_QUEUE_DELAY_MS and
 * RINGFENCE_SIM_CPS set to delay / cps (NULL: unset); the restart at the
 * end of a test passes NULL, NULL.  Fails the test when it does not come
 * back. */
static void sim_restart_or_fail(const char *delay, const char *cps)
{
	if (delay)
		setenv("RINGFENCE_SIM_QUEUE_DELAY_MS", delay, 1);
	else
		unsetenv("RINGFENCE_SIM_QUEUE_DELAY_MS");
	if (cps)
		setenv("RINGFENCE_SIM_CPS", cps, 1);
	else
		unsetenv("RINGFENCE_SIM_CPS");
	ts_sim_altered = delay || cps;
	if (hx_stack("sim-restart", NULL, 120) != 0)
		fail_msg("deploy/stack sim-restart failed");
}

/* GET url: the JSON answer's list under key, with the answer in r (the
 * caller frees r). */
static json_t *list_or_fail(const char *url, const char *key, struct hx_sim_res *r)
{
	json_t *arr;
	sim_call_or_fail(url, NULL, NULL, NULL, r);
	if (r->status != 200)
		fail_msg("%s: %ld %s", url, r->status, buf_str(&r->body));
	arr = json_object_get(r->json, key);
	assert_true(json_is_array(arr));
	return arr;
}

/* Held in the queue (as behind Twilio's calls-per-second limit), a call
 * has no start_time and a message no date_sent: no date filter matches
 * them, an unfiltered list and a fetch by sid do.  Paging goes by
 * Twilio's PageToken; a page past the first without one is refused. */
static void test_queued_filters_fetch_paging(void **state)
{
	char to[13], url[800], today[16], msg_sid[40], *sids[3];
	struct hx_sim_res r;
	struct hx_form f;
	json_t *arr;
	time_t now = time(NULL);
	struct tm tm;
	(void)state;

	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	sim_restart_or_fail("600000", NULL);
	hx_random_phone(to);
	for (int i = 0; i < 3; i++)
		sids[i] = create_call_or_fail(to);

	/* Fetch by sid: queued, no start_time, Twilio's shape. */
	fetch_call_or_fail(sids[0], &r);
	assert_string_equal(jstr(r.json, "status"), "queued");
	assert_true(json_is_null(json_object_get(r.json, "start_time")));
	hx_sim_res_free(&r);
	snprintf(url, sizeof(url), "%s/Messages/SM00000000000000000000000000000000.json", base);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	expect_error(&r, 404, 20404);
	expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json", &r);
	hx_sim_res_free(&r);

	/* Date filters apply to start_time: none matches a queued call. */
	static const char *const call_filters[] = { "StartTime%3E", "StartTime", "StartTime%3C" };
	for (size_t i = 0; i < ARRAY_LEN(call_filters); i++) {
		snprintf(url, sizeof(url), "%s/Calls.json?To=%%2B%s&%s=%s", base, to + 1,
			call_filters[i], i == 2 ? "2999-01-01" : today);
		arr = list_or_fail(url, "calls", &r);
		expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/Calls.json", &r);
		if (json_array_size(arr) != 0)
			fail_msg("%s matched %zu queued calls", call_filters[i], json_array_size(arr));
		hx_sim_res_free(&r);
	}
	snprintf(url, sizeof(url), "%s/Calls.json?To=%%2B%s", base, to + 1);
	arr = list_or_fail(url, "calls", &r);
	assert_int_equal(json_array_size(arr), 3);
	hx_sim_res_free(&r);

	/* A queued message has no date_sent: DateSent filters skip it. */
	hx_form_init(&f);
	hx_form_add(&f, "To", to);
	hx_form_add(&f, "From", "+15005550006");
	hx_form_add(&f, "Body", "Held in the queue.");
	snprintf(url, sizeof(url), "%s/Messages.json", base);
	sim_call_or_fail(url, NULL, NULL, &f, &r);
	assert_int_equal(r.status, 201);
	snprintf(msg_sid, sizeof(msg_sid), "%s", jstr(r.json, "sid"));
	hx_sim_res_free(&r);
	hx_form_free(&f);
	snprintf(url, sizeof(url), "%s/Messages.json?To=%%2B%s&DateSent%%3E=%s", base, to + 1, today);
	arr = list_or_fail(url, "messages", &r);
	expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/Messages.json", &r);
	assert_int_equal(json_array_size(arr), 0);
	hx_sim_res_free(&r);
	snprintf(url, sizeof(url), "%s/Messages.json?To=%%2B%s", base, to + 1);
	arr = list_or_fail(url, "messages", &r);
	assert_int_equal(json_array_size(arr), 1);
	assert_string_equal(jstr(json_array_get(arr, 0), "status"), "queued");
	assert_true(json_is_null(json_object_get(json_array_get(arr, 0), "date_sent")));
	hx_sim_res_free(&r);
	snprintf(url, sizeof(url), "%s/Messages/%s.json", base, msg_sid);
	sim_call_or_fail(url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json", &r);
	assert_string_equal(jstr(r.json, "status"), "queued");
	hx_sim_res_free(&r);

	/* Paging: next_page_uri carries PageToken=PA<last sid>, the previous
	 * page PB<first sid>; Page=1 alone is refused, as by Twilio. */
	{
		char next[600], prev[600];
		snprintf(url, sizeof(url), "%s/Calls.json?To=%%2B%s&PageSize=2", base, to + 1);
		arr = list_or_fail(url, "calls", &r);
		assert_int_equal(json_array_size(arr), 2);
		assert_string_equal(jstr(json_array_get(arr, 1), "sid"), sids[1]);
		snprintf(next, sizeof(next), "%s", jstr(r.json, "next_page_uri"));
		assert_non_null(strstr(next, "&Page=1&PageToken=PA"));
		assert_non_null(strstr(next, sids[1]));
		hx_sim_res_free(&r);

		snprintf(url, sizeof(url), "%s/Calls.json?To=%%2B%s&PageSize=2&Page=1", base, to + 1);
		sim_call_or_fail(url, NULL, NULL, NULL, &r);
		expect_error(&r, 400, 20001);
		expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/Calls.json", &r);
		hx_sim_res_free(&r);
		snprintf(url, sizeof(url), "%s/Calls.json?To=%%2B%s&PageSize=2&Page=1&PageToken=PAnot-a-sid",
			base, to + 1);
		get_error_or_fail(url, 400, 20001);
		snprintf(url, sizeof(url), "%s/Calls.json?To=%%2B%s&PageSize=2&Page=1"
			"&PageToken=PACA00000000000000000000000000000000", base, to + 1);
		get_error_or_fail(url, 400, 20001);

		snprintf(url, sizeof(url), "%s%s", api_url, next);
		arr = list_or_fail(url, "calls", &r);
		expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/Calls.json", &r);
		assert_int_equal(json_array_size(arr), 1);
		assert_string_equal(jstr(json_array_get(arr, 0), "sid"), sids[0]);
		assert_int_equal(json_integer_value(json_object_get(r.json, "page")), 1);
		assert_int_equal(json_integer_value(json_object_get(r.json, "start")), 2);
		assert_true(json_is_null(json_object_get(r.json, "next_page_uri")));
		snprintf(prev, sizeof(prev), "%s", jstr(r.json, "previous_page_uri"));
		assert_non_null(strstr(prev, "&Page=0&PageToken=PB"));
		assert_non_null(strstr(prev, sids[0]));
		hx_sim_res_free(&r);

		snprintf(url, sizeof(url), "%s%s", api_url, prev);
		arr = list_or_fail(url, "calls", &r);
		assert_int_equal(json_array_size(arr), 2);
		assert_string_equal(jstr(json_array_get(arr, 0), "sid"), sids[2]);
		assert_string_equal(jstr(json_array_get(arr, 1), "sid"), sids[1]);
		hx_sim_res_free(&r);
	}
	/* Twilio lets a queued call be canceled; nobody is dialled later. */
	{
		const char *p[1] = { to };
		char *n = hx_db_value_or_fail("WITH c AS (UPDATE twilio_sim.calls SET status = 'canceled',"
			" end_time = now() WHERE to_number = $1 AND status = 'queued' RETURNING 1),"
			" m AS (UPDATE twilio_sim.messages SET status = 'canceled' WHERE to_number = $1"
			" AND status = 'queued' RETURNING 1)"
			" SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM m)", 1, p);
		assert_string_equal(n, "4");
		free(n);
	}
	for (int i = 0; i < 3; i++)
		free(sids[i]);
	sim_restart_or_fail(NULL, NULL);
}

/* Under --cps 2 calls are dialled one every half second, whatever how
 * many were created at once: each waits queued, without a start_time,
 * for its turn. */
static void test_calls_per_second(void **state)
{
	enum { N = 4 };
	char to[13], url[800];
	struct hx_sim_res r;
	struct hx_form f;
	long long deadline;
	(void)state;

	sim_restart_or_fail(NULL, "2");
	hx_random_phone(to);
	hx_form_init(&f);
	hx_form_add(&f, "To", to);
	hx_form_add(&f, "From", "+15005550006");
	hx_form_add(&f, "Twiml", "<Response><Hangup/></Response>");
	snprintf(url, sizeof(url), "%s/Calls.json", base);
	for (int i = 0; i < N; i++) {
		sim_call_or_fail(url, NULL, NULL, &f, &r);
		assert_int_equal(r.status, 201);
		hx_sim_res_free(&r);
	}
	hx_form_free(&f);
	deadline = hx_now_ms() + 30000;
	for (;;) {
		const char *p[1] = { to };
		if (hx_db_int_or_fail("SELECT count(*) FROM twilio_sim.calls WHERE to_number = $1"
				      " AND start_time IS NOT NULL", 1, p) == N)
			break;
		if (hx_now_ms() > deadline)
			fail_msg("the calls were not all dialled within 30 s");
		hx_sleep_ms(100);
	}
	{
		/* The smallest gap between two dials, in milliseconds (the
		 * database's clock; a little under 500 for the time a claim
		 * takes to reach it). */
		const char *p[1] = { to };
		long long gap = hx_db_int_or_fail("SELECT floor(min(d) * 1000)::bigint FROM"
			" (SELECT extract(epoch FROM start_time - lag(start_time) OVER (ORDER BY start_time)) AS d"
			"  FROM twilio_sim.calls WHERE to_number = $1) x", 1, p);
		if (gap < 450)
			fail_msg("two calls were dialled %lld ms apart under --cps 2", gap);
	}
	sim_restart_or_fail(NULL, NULL);
}

/* The simulator refuses production by itself, not only through its unit:
 * neither the stand-in nor its migrations (its schema never belongs in a
 * production database). */
static void test_refuses_production(void **state)
{
	static const char *const commands[] = { "twilio-sim", "migrate" };
	const char *bin = getenv("RINGFENCE_BIN");
	const char *slash;
	(void)state;

	/* The simulator is the ringfence-sim beside RINGFENCE_BIN. */
	if (bin == NULL || bin[0] == '\0')
		bin = "bin/ringfence";
	slash = strrchr(bin, '/');
	for (size_t i = 0; i < ARRAY_LEN(commands); i++) {
		char *cmd, line[512] = "", more[512];
		FILE *p;
		int status, lines = 0;

		cmd = xasprintf("RINGFENCE_ENV=production '%.*sringfence-sim' %s 2>&1 </dev/null",
			slash ? (int)(slash - bin + 1) : 0, bin, commands[i]);
		p = popen(cmd, "r");
		assert_non_null(p);
		if (fgets(line, sizeof(line), p))
			lines++;
		while (fgets(more, sizeof(more), p))
			lines++;
		status = pclose(p);
		free(cmd);
		assert_true(WIFEXITED(status));
		assert_int_not_equal(WEXITSTATUS(status), 0);
		assert_int_equal(lines, 1);
		if (strstr(line, "RINGFENCE_ENV=production") == NULL)
			fail_msg("ringfence-sim %s in production said: %s", commands[i], line);
	}
}

static int ts_setup(void **state)
{
	(void)state;
	if (hx_init_sim_api("twilio-sim tests", &api_url, base, sizeof(base)) < 0)
		return -1;
	ts_initialised = 1;
	return 0;
}

static int ts_teardown(void **state)
{
	(void)state;
	/* A test that failed half-way leaves the simulator as it is for the
	 * next groups: as it was started. */
	if (ts_sim_altered) {
		unsetenv("RINGFENCE_SIM_QUEUE_DELAY_MS");
		unsetenv("RINGFENCE_SIM_CPS");
		if (hx_stack("sim-restart", NULL, 120) != 0)
			fprintf(stderr, "# twilio-sim tests: the simulator could not be restarted\n");
	}
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
		cmocka_unit_test(test_queued_filters_fetch_paging),
		cmocka_unit_test(test_calls_per_second),
		cmocka_unit_test(test_refuses_production),
	};
	return cmocka_run_group_tests_name("integration: twilio-sim", tests, ts_setup, ts_teardown);
}

/* test_doctor: `ringfence doctor` on the live stack, green first, then
 * each fault made for real and named in its output: a number's SmsUrl
 * pointed elsewhere through the simulator's API, a wrong auth token, a
 * template playing a missing audio file, the failsafe tripped, a pending
 * migration, Redis evicting, RINGFENCE_PUBLIC_URL at another server and
 * no scheduler heartbeat.  Also the simulator's Account and
 * IncomingPhoneNumbers resources against Twilio's OpenAPI description,
 * and the public proof route. */
#include "doctor.h"
#include "groups.h"
#include "harness.h"
#include "oas.h"
#include "util.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WHO "doctor tests"
#define NUMBERS "/IncomingPhoneNumbers"
#define HB_HOST "doctor-test"

static const char *api_url;
static char base[512];
static const char *bin;
static int initialised;
static char tmpdir[256];

/* Runs `env ASSIGN bin/ringfence doctor ARGS` (assign: "" or
 * "NAME=value ..."; pre: shell run first in the same shell), output and
 * errors into out.  Its exit status. */
static int doctor_run(const char *pre, const char *assign, const char *args, struct buf *out)
{
	char *cmd = xasprintf("%s env %s '%s' doctor --timeout 5 %s 2>&1", pre, assign, bin, args);
	int rc;
	buf_reset(out);
	rc = hx_shell(cmd, out, 120);
	free(cmd);
	return rc;
}

/* out holds a line starting with level and containing every needle. */
static void expect_line(const struct buf *out, const char *level, ...)
{
	const char *s = buf_str(out);
	va_list ap;
	while (s && *s) {
		const char *end = strchr(s, '\n');
		char *line = end ? xstrndup(s, (size_t)(end - s)) : xstrdup(s);
		int ok = strncmp(line, level, strlen(level)) == 0;
		const char *needle;
		va_start(ap, level);
		while (ok && (needle = va_arg(ap, const char *)) != NULL)
			ok = strstr(line, needle) != NULL;
		va_end(ap);
		free(line);
		if (ok)
			return;
		s = end ? end + 1 : NULL;
	}
	fail_msg("no %s line with what was expected in:\n%s", level, buf_str(out));
}

/* The account owns number with its webhooks on this deployment (bought
 * or updated through the simulator's IncomingPhoneNumbers). */
static void own_number(const char *number)
{
	const char *pub = getenv("RINGFENCE_PUBLIC_URL");
	struct buf q = BUF_INIT, form = BUF_INIT;
	json_t *j, *list;
	const char *sid = NULL;
	size_t i;
	json_t *pn;

	buf_printf(&q, "%s" NUMBERS ".json?PhoneNumber=", base);
	form_encode(&q, number, strlen(number));
	j = hx_sim_json_or_fail(buf_str(&q), NULL);
	list = json_object_get(j, "incoming_phone_numbers");
	json_array_foreach(list, i, pn)
		if (strcmp(json_string_value(json_object_get(pn, "phone_number")), number) == 0)
			sid = json_string_value(json_object_get(pn, "sid"));
	buf_printf(&form, "VoiceUrl=");
	form_encode(&form, pub, strlen(pub));
	buf_printf(&form, "%%2Ftwilio%%2Fvoice%%2Finbound&VoiceMethod=POST&SmsMethod=POST&SmsUrl=");
	form_encode(&form, pub, strlen(pub));
	buf_printf(&form, "%%2Ftwilio%%2Fsms%%2Finbound");
	buf_reset(&q);
	if (sid) {
		buf_printf(&q, "%s" NUMBERS "/%s.json", base, sid);
	} else {
		buf_printf(&q, "%s" NUMBERS ".json", base);
		buf_printf(&form, "&PhoneNumber=");
		form_encode(&form, number, strlen(number));
	}
	json_decref(hx_sim_json_or_fail(buf_str(&q), buf_str(&form)));
	json_decref(j);
	buf_free(&q);
	buf_free(&form);
}

/* The stack made whole: every number the doctor checks owned and
 * pointed here, a scheduler and a worker beating, the failsafe armed,
 * Redis not evicting. */
static void make_green(void)
{
	const char *cfg[] = { "CONFIG", "SET", "maxmemory-policy", "noeviction" };
	char err[256];
	char *nums = hx_db_value_or_fail("SELECT COALESCE(string_agg(DISTINCT twilio_from::text, ' '),"
					 " '') FROM businesses WHERE twilio_from IS NOT NULL", 0, NULL);
	char *save = NULL;
	for (char *n = strtok_r(nums, " ", &save); n; n = strtok_r(NULL, " ", &save))
		own_number(n);
	free(nums);
	own_number(getenv("TWILIO_FROM_NUMBER"));
	hx_db_cmd_or_fail("DELETE FROM process_heartbeats WHERE host = '" HB_HOST "'", 0, NULL);
	hx_db_cmd_or_fail("INSERT INTO process_heartbeats (kind, host, pid, beat_every_s, last_tick_at,"
			  " last_ok_at) VALUES ('scheduler', '" HB_HOST "', 1, 10, now(), now()),"
			  " ('worker', '" HB_HOST "', 2, 10, NULL, now())", 0, NULL);
	if (hx_redis(4, cfg, NULL, err, sizeof(err)) < 0)
		fail_msg("CONFIG SET: %s", err);
	if (hx_db_int_or_fail("SELECT count(*) FROM failsafe_state WHERE tripped", 0, NULL) > 0) {
		struct buf out = BUF_INIT;
		char *cmd = xasprintf("'%s' failsafe resume --reason 'doctor tests' --by tests 2>&1", bin);
		hx_shell(cmd, &out, 30);
		free(cmd);
		buf_free(&out);
	}
}

static void test_green(void **state)
{
	struct buf out = BUF_INIT;
	(void)state;
	make_green();
	if (doctor_run("", "", "", &out) != 0)
		fail_msg("doctor is not green on the stack:\n%s", buf_str(&out));
	expect_line(&out, "ok", "twilio:", "is active", NULL);
	expect_line(&out, "ok", "numbers:", getenv("TWILIO_FROM_NUMBER"), "/twilio/sms/inbound", NULL);
	expect_line(&out, "ok", "numbers:", getenv("TWILIO_FROM_NUMBER"), "/twilio/voice/inbound", NULL);
	expect_line(&out, "ok", "public-url:", "reaches this deployment", NULL);
	expect_line(&out, "ok", "audio:", "served", NULL);
	expect_line(&out, "ok", "migrations:", NULL);
	expect_line(&out, "ok", "scheduler:", NULL);
	expect_line(&out, "ok", "workers:", NULL);
	expect_line(&out, "ok", "failsafe:", "armed", NULL);
	assert_non_null(strstr(buf_str(&out), "0 failure(s)"));
	/* The same as one JSON document. */
	assert_int_equal(doctor_run("", "", "--json", &out), 0);
	json_t *j = json_loads(buf_str(&out), 0, NULL);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_true(json_array_size(json_object_get(j, "checks")) >= 10);
	json_decref(j);
	buf_free(&out);
}

static void test_bad_arguments(void **state)
{
	struct buf out = BUF_INIT;
	(void)state;
	assert_int_equal(doctor_run("", "", "--timeout 0", &out), 2);
	assert_int_equal(doctor_run("", "", "--frobnicate", &out), 2);
	assert_non_null(strstr(buf_str(&out), "unknown argument"));
	assert_int_equal(doctor_run("", "RINGFENCE_PUBLIC_URL=", "", &out), 1);
	expect_line(&out, "FAIL", "configuration:", "RINGFENCE_PUBLIC_URL", NULL);
	buf_free(&out);
}

/* The SmsUrl of TWILIO_FROM_NUMBER pointed elsewhere through the API. */
static void test_sms_url_elsewhere(void **state)
{
	const char *from = getenv("TWILIO_FROM_NUMBER");
	struct buf out = BUF_INIT, q = BUF_INIT;
	json_t *j, *pn;
	char *url;
	(void)state;
	make_green();
	buf_printf(&q, "%s" NUMBERS ".json?PhoneNumber=", base);
	form_encode(&q, from, strlen(from));
	j = hx_sim_json_or_fail(buf_str(&q), NULL);
	pn = json_array_get(json_object_get(j, "incoming_phone_numbers"), 0);
	assert_non_null(pn);
	url = xasprintf("%s" NUMBERS "/%s.json", base, json_string_value(json_object_get(pn, "sid")));
	json_decref(hx_sim_json_or_fail(url, "SmsUrl=https%3A%2F%2Fold-app.example.com%2Fsms"));
	assert_int_equal(doctor_run("", "", "", &out), 1);
	expect_line(&out, "FAIL", "numbers:", from, "sms_url is 'https://old-app.example.com/sms'",
		"/twilio/sms/inbound", "A message comes in", NULL);
	expect_line(&out, "ok", "numbers:", from, "voice webhook", NULL);
	/* A fallback URL elsewhere is fine; a GET method is not. */
	make_green();
	json_decref(hx_sim_json_or_fail(url, "VoiceFallbackUrl=https%3A%2F%2Ffallback.example.com%2F"
					     "&VoiceMethod=GET"));
	assert_int_equal(doctor_run("", "", "", &out), 1);
	expect_line(&out, "FAIL", "numbers:", from, "voice_method is GET", "must be POST", NULL);
	make_green();
	/* A number the account does not own. */
	char num[13];
	hx_random_phone(num);
	hx_db_cmd_or_fail("INSERT INTO businesses (name, time_zone, callback_phone, status, verified,"
			  " twilio_from) VALUES ('Doctor test', 'America/New_York', '+15550100000', 'active',"
			  " true, $1)", 1, (const char *const[]){ num });
	assert_int_equal(doctor_run("", "", "", &out), 1);
	expect_line(&out, "FAIL", "numbers:", num, "does not own it", NULL);
	/* Bought and pointed here (make_green), it passes. */
	make_green();
	assert_int_equal(doctor_run("", "", "", &out), 0);
	expect_line(&out, "ok", "numbers:", num, "messaging webhook", NULL);
	hx_db_cmd_or_fail("DELETE FROM businesses WHERE twilio_from = $1", 1, (const char *const[]){ num });
	json_decref(j);
	free(url);
	buf_free(&q);
	buf_free(&out);
}

static void test_wrong_token(void **state)
{
	struct buf out = BUF_INIT;
	(void)state;
	make_green();
	assert_int_equal(doctor_run("", "TWILIO_AUTH_TOKEN=0123456789abcdef0123456789abcdef", "", &out), 1);
	expect_line(&out, "FAIL", "twilio:", "401", "auth token is wrong", NULL);
	/* The public URL's proof is keyed with the token: it fails too. */
	expect_line(&out, "FAIL", "public-url:", "different server", NULL);
	buf_free(&out);
}

/* The account suspended (POST Accounts/{Sid}.json Status=suspended). */
static void test_account_suspended(void **state)
{
	struct buf out = BUF_INIT;
	char *url = xasprintf("%s.json", base);
	(void)state;
	make_green();
	json_decref(hx_sim_json_or_fail(url, "Status=suspended"));
	int rc = doctor_run("", "", "", &out);
	json_decref(hx_sim_json_or_fail(url, "Status=active"));
	assert_int_equal(rc, 1);
	expect_line(&out, "FAIL", "twilio:", "is suspended, not active", NULL);
	assert_int_equal(doctor_run("", "", "", &out), 0);
	free(url);
	buf_free(&out);
}

/* A copy of the release's state_tables/, audio/ and sql/ in tmpdir. */
static void copy_root(void)
{
	struct buf out = BUF_INIT;
	const char *root = getenv("RINGFENCE_ROOT") ? getenv("RINGFENCE_ROOT") : ".";
	char *cmd = xasprintf("rm -rf '%s/root' && mkdir -p '%s/root' && cp -r '%s/state_tables' "
			      "'%s/audio' '%s/sql' '%s/root/'", tmpdir, tmpdir, root, root, root, tmpdir);
	if (hx_shell(cmd, &out, 60) != 0)
		fail_msg("cannot copy the root: %s", buf_str(&out));
	free(cmd);
	buf_free(&out);
}

static void test_missing_audio(void **state)
{
	struct buf out = BUF_INIT;
	char *pre, *assign;
	(void)state;
	make_green();
	copy_root();
	pre = xasprintf("sed -i 's|</Response>|<Play>doctor_missing_prompt.mp3</Play></Response>|' "
			"'%s/root/state_tables/reminder_call/goodbye_invalid.xml' &&", tmpdir);
	assign = xasprintf("RINGFENCE_ROOT='%s/root'", tmpdir);
	assert_int_equal(doctor_run(pre, assign, "", &out), 1);
	expect_line(&out, "FAIL", "audio:", "/audio/reminder_call/goodbye_invalid/doctor_missing_prompt.mp3",
		"answered 404", NULL);
	free(pre);
	free(assign);
	buf_free(&out);
}

static void test_pending_migration(void **state)
{
	struct buf out = BUF_INIT;
	char *pre, *assign;
	(void)state;
	make_green();
	copy_root();
	pre = xasprintf("echo 'SELECT 1;' > '%s/root/sql/999_doctor_pending.sql' &&", tmpdir);
	assign = xasprintf("RINGFENCE_ROOT='%s/root'", tmpdir);
	assert_int_equal(doctor_run(pre, assign, "", &out), 1);
	expect_line(&out, "FAIL", "migrations:", "1 pending", "999_doctor_pending.sql",
		"run ringfence migrate", NULL);
	free(pre);
	free(assign);
	buf_free(&out);
}

static void test_failsafe_tripped(void **state)
{
	struct buf out = BUF_INIT;
	char *cmd;
	(void)state;
	make_green();
	cmd = xasprintf("'%s' failsafe trip --reason 'doctor test trip' --by tests 2>&1", bin);
	assert_int_equal(hx_shell(cmd, &out, 30), 0);
	free(cmd);
	assert_int_equal(doctor_run("", "", "", &out), 1);
	expect_line(&out, "FAIL", "failsafe:", "tripped: doctor test trip", "ringfence failsafe resume",
		NULL);
	make_green();
	assert_int_equal(doctor_run("", "", "", &out), 0);
	buf_free(&out);
}

static void test_redis_evicting(void **state)
{
	const char *lru[] = { "CONFIG", "SET", "maxmemory-policy", "allkeys-lru" };
	struct buf out = BUF_INIT;
	char err[256];
	(void)state;
	make_green();
	if (hx_redis(4, lru, NULL, err, sizeof(err)) < 0)
		fail_msg("CONFIG SET: %s", err);
	int rc = doctor_run("", "", "", &out);
	make_green();
	assert_int_equal(rc, 1);
	expect_line(&out, "FAIL", "redis:", "maxmemory-policy is allkeys-lru", "noeviction", NULL);
	buf_free(&out);
}

static void test_public_url_elsewhere(void **state)
{
	struct buf out = BUF_INIT;
	char *pre, *assign;
	int port = 20000 + (int)(getpid() % 20000);
	(void)state;
	make_green();
	/* The fixture ends with the shell that started it; the doctor runs
	 * once it answers (up to 10 s on a loaded machine). */
	pre = xasprintf("mkdir -p '%s/www' && { bin/http-fixture --port %d --dir '%s/www' "
			">/dev/null 2>&1 & fx=$!; trap 'kill $fx' EXIT; } && "
			"for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:%d/ && break; "
			"sleep 0.1; done &&", tmpdir, port, tmpdir, port);
	assign = xasprintf("RINGFENCE_PUBLIC_URL=http://127.0.0.1:%d", port);
	int rc = doctor_run(pre, assign, "", &out);
	assert_int_equal(rc, 1);
	expect_line(&out, "FAIL", "public-url:", "reaches a different server", "answered 404", NULL);
	free(pre);
	free(assign);
	buf_free(&out);
}

static void test_no_scheduler(void **state)
{
	struct buf out = BUF_INIT;
	(void)state;
	make_green();
	hx_db_cmd_or_fail("UPDATE process_heartbeats SET last_tick_at = now() - interval '4 minutes'"
			  " WHERE kind = 'scheduler'", 0, NULL);
	assert_int_equal(doctor_run("", "", "", &out), 1);
	expect_line(&out, "FAIL", "scheduler:", "no scheduler ticked within 3 minutes", NULL);
	expect_line(&out, "ok", "workers:", NULL);
	/* A worker whose beat is older than 3 x its interval is dead. */
	make_green();
	hx_db_cmd_or_fail("UPDATE process_heartbeats SET beat_at = now() - interval '31 seconds'"
			  " WHERE kind = 'worker'", 0, NULL);
	assert_int_equal(doctor_run("", "", "", &out), 1);
	expect_line(&out, "FAIL", "workers:", "no worker alive", NULL);
	/* Another release running: a warning only. */
	make_green();
	hx_db_cmd_or_fail("UPDATE process_heartbeats SET version = 'v0.0.0-old' WHERE kind = 'worker'",
		0, NULL);
	assert_int_equal(doctor_run("", "", "", &out), 0);
	expect_line(&out, "WARN", "processes:", "runs release v0.0.0-old", NULL);
	make_green();
	buf_free(&out);
}

/* GET /.well-known/ringfence/doctor: the proof for a good nonce, 400 for
 * anything else. */
static void test_proof_route(void **state)
{
	const char *pub = getenv("RINGFENCE_PUBLIC_URL");
	static const char *const bad[] = { "", "?nonce=abc", "?nonce=0123456789ABCDEF0123456789ABCDEF",
		"?nonce=0123456789abcdef0123456789abcdef&x=1",
		"?nonce=0123456789abcdef0123456789abcdef&nonce=0123456789abcdef0123456789abcdef",
		"?nonce=0123456789abcdef0123456789abcdef0" };
	struct hx_response rs;
	char want[65], *url;
	json_t *j;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		url = xasprintf("%s" DOCTOR_PATH "%s", pub, bad[i]);
		assert_int_equal(hx_get(url, &rs), 0);
		if (rs.status != 400)
			fail_msg("%s answered %ld", url, rs.status);
		hx_response_free(&rs);
		free(url);
	}
	url = xasprintf("%s" DOCTOR_PATH "?nonce=0123456789abcdef0123456789abcdef", pub);
	assert_int_equal(hx_get(url, &rs), 0);
	assert_int_equal(rs.status, 200);
	j = json_loads(buf_str(&rs.body), 0, NULL);
	assert_int_equal(doctor_proof(getenv("TWILIO_AUTH_TOKEN"), "0123456789abcdef0123456789abcdef",
				 want), 0);
	assert_string_equal(json_string_value(json_object_get(j, "proof")), want);
	json_decref(j);
	hx_response_free(&rs);
	free(url);
}

static void expect_schema(const char *method, const char *tmpl, const struct hx_sim_res *r)
{
	char err[512];
	if (oas_check(method, tmpl, (int)r->status, buf_str(&r->body), err, sizeof(err)) != 0)
		fail_msg("%s %s: %s\n%s", method, tmpl, err, buf_str(&r->body));
}

static void sim_or_fail(const char *url, const char *form, struct hx_sim_res *r)
{
	if (hx_sim_request(url, NULL, NULL, form, r) < 0)
		fail_msg("%s: %s", url, r->error);
}

static void expect_error(const struct hx_sim_res *r, long status, int code)
{
	if (r->status != status || json_integer_value(json_object_get(r->json, "code")) != code)
		fail_msg("expected %ld/%d, got %ld: %s", status, code, r->status, buf_str(&r->body));
}

/* The simulator's Account and IncomingPhoneNumbers resources. */
static void test_sim_resources(void **state)
{
	struct hx_sim_res r;
	char num[13], *url, *list, *one;
	const char *sid;
	(void)state;

	/* The account. */
	url = xasprintf("%s.json", base);
	sim_or_fail(url, NULL, &r);
	assert_int_equal(r.status, 200);
	expect_schema("GET", "/2010-04-01/Accounts/{Sid}.json", &r);
	assert_string_equal(json_string_value(json_object_get(r.json, "status")), "active");
	hx_sim_res_free(&r);
	sim_or_fail(url, "Status=sleeping", &r);
	expect_error(&r, 400, 20001);
	hx_sim_res_free(&r);
	if (hx_sim_request(url, NULL, "wrong-token", NULL, &r) < 0 || r.status != 401)
		fail_msg("a wrong token answered %ld", r.status);
	hx_sim_res_free(&r);
	free(url);

	/* Buy a number, then list, fetch, update and release it. */
	hx_random_phone(num);
	list = xasprintf("%s" NUMBERS ".json", base);
	url = xasprintf("PhoneNumber=%%2B%s&SmsUrl=https%%3A%%2F%%2Fa.example.com%%2Fs", num + 1);
	sim_or_fail(list, url, &r);
	assert_int_equal(r.status, 201);
	expect_schema("POST", "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json", &r);
	sid = json_string_value(json_object_get(r.json, "sid"));
	one = xasprintf("%s" NUMBERS "/%s.json", base, sid);
	assert_string_equal(json_string_value(json_object_get(r.json, "sms_method")), "POST");
	assert_true(json_is_null(json_object_get(r.json, "voice_url")));
	hx_sim_res_free(&r);
	sim_or_fail(list, url, &r);          /* owned already */
	expect_error(&r, 400, 21422);
	hx_sim_res_free(&r);
	free(url);
	sim_or_fail(list, "PhoneNumber=12", &r);
	expect_error(&r, 400, 21421);
	hx_sim_res_free(&r);

	url = xasprintf("%s?PhoneNumber=%%2B%s", list, num + 1);
	sim_or_fail(url, NULL, &r);
	assert_int_equal(r.status, 200);
	expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json", &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "incoming_phone_numbers")), 1);
	hx_sim_res_free(&r);
	free(url);
	/* A part of the number matches too ('*' any digit), as Twilio's filter. */
	url = xasprintf("%s?PhoneNumber=%.*s*", list, 8, num + 1);
	sim_or_fail(url, NULL, &r);
	assert_true(json_array_size(json_object_get(r.json, "incoming_phone_numbers")) >= 1);
	hx_sim_res_free(&r);
	free(url);
	url = xasprintf("%s?PhoneNumber=abc", list);
	sim_or_fail(url, NULL, &r);
	expect_error(&r, 400, 20001);
	hx_sim_res_free(&r);
	free(url);

	/* Paging: one a page, following next_page_uri to the end. */
	{
		char *next = xasprintf("%s?PageSize=1", list);
		int pages = 0;
		long long total = hx_db_int_or_fail("SELECT count(*) FROM twilio_sim.incoming_numbers"
						    " WHERE account_sid = $1", 1,
			(const char *const[]){ getenv("TWILIO_ACCOUNT_SID") });
		while (next && pages < 1000) {
			sim_or_fail(next, NULL, &r);
			assert_int_equal(r.status, 200);
			expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json", &r);
			pages += (int)json_array_size(json_object_get(r.json, "incoming_phone_numbers"));
			free(next);
			const char *n = json_string_value(json_object_get(r.json, "next_page_uri"));
			next = n ? xasprintf("%s%s", api_url, n) : NULL;
			hx_sim_res_free(&r);
		}
		assert_int_equal(pages, total);
		free(next);
	}

	sim_or_fail(one, NULL, &r);
	assert_int_equal(r.status, 200);
	expect_schema("GET", "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json", &r);
	hx_sim_res_free(&r);
	sim_or_fail(one, "VoiceMethod=PUT", &r);
	expect_error(&r, 400, 21403);
	hx_sim_res_free(&r);
	sim_or_fail(one, "SmsUrl=not-a-url", &r);
	expect_error(&r, 400, 21402);
	hx_sim_res_free(&r);
	sim_or_fail(one, "VoiceUrl=https%3A%2F%2Fb.example.com%2Fv&SmsUrl=", &r);
	assert_int_equal(r.status, 200);
	expect_schema("POST", "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json", &r);
	assert_string_equal(json_string_value(json_object_get(r.json, "voice_url")), "https://b.example.com/v");
	assert_true(json_is_null(json_object_get(r.json, "sms_url")));
	hx_sim_res_free(&r);
	url = xasprintf("%s" NUMBERS "/PN00000000000000000000000000000000.json", base);
	sim_or_fail(url, NULL, &r);
	expect_error(&r, 404, 20404);
	hx_sim_res_free(&r);
	free(url);
	/* Released: gone. */
	{
		char *cmd = xasprintf("curl -s -o /dev/null -w '%%{http_code}' -X DELETE -u '%s:%s' '%s'",
			getenv("TWILIO_ACCOUNT_SID"), getenv("TWILIO_AUTH_TOKEN"), one);
		struct buf out = BUF_INIT;
		assert_int_equal(hx_shell(cmd, &out, 30), 0);
		assert_string_equal(buf_str(&out), "204");
		buf_free(&out);
		free(cmd);
	}
	sim_or_fail(one, NULL, &r);
	expect_error(&r, 404, 20404);
	hx_sim_res_free(&r);
	free(one);
	free(list);
}

static int setup(void **state)
{
	(void)state;
	if (hx_init_sim_api(WHO, &api_url, base, sizeof(base)) < 0)
		return -1;
	initialised = 1;
	if ((bin = hx_ringfence_bin(WHO)) == NULL)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%s/doctor-test", getenv("RINGFENCE_STACK_DIR")
		? getenv("RINGFENCE_STACK_DIR") : "/tmp");
	return 0;
}

static int teardown(void **state)
{
	const char *cfg[] = { "CONFIG", "SET", "maxmemory-policy", "noeviction" };
	char err[256];
	(void)state;
	if (initialised) {
		hx_redis(4, cfg, NULL, err, sizeof(err));
		hx_fini();
	}
	initialised = 0;
	return 0;
}

int doctor_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_resources),
		cmocka_unit_test(test_proof_route),
		cmocka_unit_test(test_green),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_sms_url_elsewhere),
		cmocka_unit_test(test_wrong_token),
		cmocka_unit_test(test_account_suspended),
		cmocka_unit_test(test_missing_audio),
		cmocka_unit_test(test_pending_migration),
		cmocka_unit_test(test_failsafe_tripped),
		cmocka_unit_test(test_redis_evicting),
		cmocka_unit_test(test_public_url_elsewhere),
		cmocka_unit_test(test_no_scheduler),
	};
	return cmocka_run_group_tests_name("integration: doctor", tests, setup, teardown);
}

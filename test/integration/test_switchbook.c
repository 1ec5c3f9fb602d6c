/* Groups "switch" and "booking": the automatic-messages switch and
 * booking confirmations through the real stack (nginx, the FastCGI pool,
 * PostgreSQL, Redis, the scheduler and workers sending to the
 * simulator).
 *
 * switch: a due reminder (and a resend) is held while the switch is off
 * (the worker sends nothing: the simulator has no message); switched on
 * before its stale time it goes; one whose stale time passed meanwhile
 * is skipped_stale and never sent.  The dashboard, the API and the CLI
 * each switch it and record who and why; bad input (no reason, an
 * unknown business, the wrong role) is a 4xx or exit 1 and changes
 * nothing.
 *
 * booking: an appointment created through the API, the dashboard and a
 * CSV import each gets one confirmation that reaches the simulator; a
 * reschedule sends no second one; off, an opted-out client, or a
 * booking that starts within the delay gets none; the switch off holds
 * it; outside the calling window it waits; a reply of 1 to it confirms
 * the appointment as a reply to a reminder does. */
#include "harness.h"
#include "apikey.h"
#include "dash_client.h"
#include "groups.h"
#include "oas.h"
#include "queue.h"
#include "rds.h"
#include "util.h"

#include <curl/curl.h>
#include <sys/wait.h>
#include <unistd.h>

#define SB_TIMEOUT_S 120

static const char *sim_api_url;
static char sim_api_base[300];
static const char *bin_path;
static struct rds *sb_rds;
static int sb_initialised;

/* ---- helpers ------------------------------------------------------------------ */

static void has_or_fail(const char *body, const char *needle, const char *what)
{
	if (strstr(body, needle) == NULL)
		fail_msg("%s: '%s' is missing from:\n%.3000s", what, needle, body);
}

/* Makes business id send from the simulator's number at any hour, with
 * no hourly limit to speak of. */
static void open_all_day_or_fail(const char *id)
{
	hx_db_cmd_or_fail("UPDATE businesses SET verified = true, window_start = '00:00',"
		" window_end = '23:59:59', twilio_from = '+15005550006', hourly_limit = 100000,"
		" time_zone = 'UTC' WHERE id = $1::bigint", 1, (const char *[]){ id });
}

/* A new verified business open all day; its id into id. */
static void business_new_or_fail(char id[24], const char *name)
{
	char *v = hx_db_value_or_fail("INSERT INTO businesses (name, time_zone, callback_phone,"
		" status, verified) VALUES ($1, 'UTC', '+15005550006', 'active', true) RETURNING id",
		1, (const char *[]){ name });

	snprintf(id, 24, "%s", v);
	free(v);
	open_all_day_or_fail(id);
}

/* A client of business biz with a fresh phone (into phone) and email
 * (NULL: none); its id as text into cid. */
static void client_new_or_fail(const char *biz, char phone[13], const char *email, char cid[24])
{
	char *v;

	hx_random_phone(phone);
	v = hx_db_value_or_fail("INSERT INTO clients (business_id, name, phone, email, time_zone)"
		" VALUES ($1::bigint, 'Switch client', $2, $3, 'UTC') RETURNING id", 3,
		(const char *[]){ biz, phone, email });
	snprintf(cid, 24, "%s", v);
	free(v);
}

/* An appointment of client cid tomorrow with a text reminder due a
 * minute ago, stale in two hours, of kind (attempt 5 unless 'plan'); the
 * reminder's id into rid. */
static void due_text_or_fail(const char *biz, const char *cid, const char *phone,
	const char *kind, char rid[24])
{
	char *v = hx_db_value_or_fail(
		"WITH a AS (INSERT INTO appointments (business_id, client_id, starts_at)"
		"  VALUES ($1::bigint, $2::bigint, now() + interval '1 day') RETURNING id, business_id)"
		" INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes, attempt,"
		"  due_at, stale_at, to_address, kind) SELECT business_id, id, 'sms', 1440,"
		"  CASE WHEN $4 = 'plan' THEN 1 ELSE 5 END, now() - interval '1 minute',"
		"  now() + interval '2 hours', $3, $4 FROM a RETURNING id", 4,
		(const char *[]){ biz, cid, phone, kind });

	snprintf(rid, 24, "%s", v);
	free(v);
}

/* Runs `ringfence worker --concurrency 4 --once` with allowed as the
 * allow-list; its exit status. */
static int worker_drain(const char *allowed)
{
	const char *const args[] = { "--concurrency", "4", "--once", NULL };
	pid_t pid = fork();

	if (pid == 0) {
		setenv("RINGFENCE_ALLOWED_CONTACTS", allowed, 1);
		unsetenv("RINGFENCE_TEST_CRASH_AT");
		hx_exec_worker(bin_path, args);
	}
	assert_true(pid > 0);
	return hx_wait_child(pid, SB_TIMEOUT_S);
}

/* Runs `ringfence ARGS` (a shell fragment) with the stack's environment;
 * its exit status, its output (stdout and stderr) into out. */
static int ringfence_cli(struct buf *out, const char *args)
{
	char *cmd = xasprintf("'%s' %s 2>&1", bin_path, args);
	int rc;

	buf_reset(out);
	rc = hx_shell(cmd, out, 60);
	free(cmd);
	return rc;
}

/* One scheduler tick, then the workers drain what it queued. */
static void tick_and_drain_or_fail(const char *allowed)
{
	struct buf out = BUF_INIT;

	if (ringfence_cli(&out, "scheduler --once") != 0)
		fail_msg("scheduler --once: %s", buf_str(&out));
	buf_free(&out);
	assert_int_equal(worker_drain(allowed), 0);
}

/* How many texts the simulator has to phone; with needle (when not
 * NULL) in each of their bodies. */
static size_t sim_texts_or_fail(const char *phone, const char *needle)
{
	json_t *arr = hx_sim_messages_to_or_fail(phone);
	size_t n = json_array_size(arr), i;
	json_t *m;

	json_array_foreach(arr, i, m) {
		const char *body = json_string_value(json_object_get(m, "body"));
		if (needle && (body == NULL || strstr(body, needle) == NULL))
			fail_msg("text to %s: '%s' is not in '%s'", phone, needle, body ? body : "");
	}
	json_decref(arr);
	return n;
}

/* How many of the simulator's texts to phone hold needle. */
static size_t sim_texts_with_or_fail(const char *phone, const char *needle)
{
	json_t *arr = hx_sim_messages_to_or_fail(phone), *m;
	size_t n = 0, i;

	json_array_foreach(arr, i, m) {
		const char *body = json_string_value(json_object_get(m, "body"));
		n += body && strstr(body, needle) != NULL;
	}
	json_decref(arr);
	return n;
}

static long long db_count(const char *sql, const char *a)
{
	return hx_db_int_or_fail(sql, 1, (const char *[]){ a });
}

static char *reminder_state(const char *rid)
{
	return hx_db_value_or_fail("SELECT status || '|' || COALESCE(status_reason, '')"
		" FROM reminders WHERE id = $1::bigint", 1, (const char *[]){ rid });
}

/* The switch of business id: "on", or "off|by|reason". */
static char *switch_state(const char *id)
{
	return hx_db_value_or_fail("SELECT CASE WHEN paused_at IS NULL THEN 'on'"
		" ELSE 'off|' || paused_by || '|' || paused_reason END FROM businesses"
		" WHERE id = $1::bigint", 1, (const char *[]){ id });
}

/* Fails unless the switch of business id is the printf-style want. */
static void switch_is(const char *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void switch_is(const char *id, const char *fmt, ...)
{
	va_list ap;
	char want[512], *v = switch_state(id);

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	assert_string_equal(v, want);
	free(v);
}

static long long events_of(const char *id)
{
	return db_count("SELECT count(*) FROM business_events WHERE business_id = $1::bigint"
		" AND event IN ('messages_off', 'messages_on')", id);
}

/* ---- the API ------------------------------------------------------------------- */

struct sb_key {
	char key[APIKEY_LEN + 1];
	char prefix[APIKEY_PREFIX_LEN + 1];
};

/* A key of business biz. */
static void key_new_or_fail(const char *biz, struct sb_key *k)
{
	char hash[65];

	assert_int_equal(apikey_generate(k->key), 0);
	assert_int_equal(apikey_parse(k->key, k->prefix), 1);
	assert_int_equal(apikey_hash(k->key, hash), 0);
	hx_db_cmd_or_fail("INSERT INTO api_keys (business_id, prefix, key_sha256, label)"
		" VALUES ($1::bigint, $2, $3, 'switchbook')", 3,
		(const char *[]){ biz, k->prefix, hash });
}

/* The names of a response's headers, for the OpenAPI check. */
struct sb_headers {
	char names[32][48];
	const char *list[33];
	size_t n;
};

static size_t sb_header_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct sb_headers *h = ud;
	size_t len = sz * n, k = 0;

	while (k < len && p[k] != ':' && p[k] != '\r' && p[k] != '\n')
		k++;
	if (k < len && p[k] == ':' && k > 0 && k < sizeof(h->names[0]) && h->n < 32) {
		memcpy(h->names[h->n], p, k);
		h->names[h->n][k] = '\0';
		h->list[h->n] = h->names[h->n];
		h->n++;
		h->list[h->n] = NULL;
	}
	return len;
}

static size_t sb_body_cb(char *p, size_t sz, size_t n, void *ud)
{
	buf_append(ud, p, sz * n);
	return sz * n;
}

/* method path with key and JSON body (NULL: none): the status, the
 * parsed answer in *json (caller frees).  Every exchange is held to the
 * API's OpenAPI description. */
static long api_or_fail(const char *method, const char *path, const struct sb_key *k,
	const char *body, json_t **json)
{
	char *url = xasprintf("%s%s", hx_env.public_url, path);
	char *auth = xasprintf("Authorization: Bearer %s", k->key), err[768];
	struct sb_headers h;
	struct buf b = BUF_INIT;
	struct curl_slist *hl = NULL;
	CURL *c = curl_easy_init();
	long status = 0;
	CURLcode rc;

	memset(&h, 0, sizeof(h));
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sb_body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sb_header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	hl = curl_slist_append(hl, auth);
	hl = curl_slist_append(hl, body ? "Content-Type: application/json" : "Content-Type:");
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (oas_api_check(method, path, (int)status, body, buf_str(&b), h.list, err,
		    sizeof(err)) < 0)
		fail_msg("%s %s -> %ld does not agree with the OpenAPI description: %s\n%.400s",
			method, path, status, err, buf_str(&b));
	*json = json_loads(buf_str(&b), 0, NULL);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	buf_free(&b);
	free(url);
	free(auth);
	return status;
}

/* ---- switch ------------------------------------------------------------------- */

/* Off holds a due reminder and a resend (nothing reaches the simulator,
 * the scheduler queues neither); on again before their stale time they
 * go, once; one whose stale time passed meanwhile is skipped_stale and
 * never sent.  The CLI records "operator (cli)" and the reason. */
static void test_switch_holds_and_releases(void **state)
{
	char biz[24], cid[3][24], phone[3][13], rid[3][24], *v, *allowed, *cmd;
	struct buf out = BUF_INIT;
	(void)state;

	business_new_or_fail(biz, "Switch hold");
	for (int i = 0; i < 3; i++) {
		client_new_or_fail(biz, phone[i], NULL, cid[i]);
		due_text_or_fail(biz, cid[i], phone[i], i == 1 ? "resend" : "plan", rid[i]);
	}
	allowed = xasprintf("%s,%s,%s", phone[0], phone[1], phone[2]);

	cmd = xasprintf("business messages-off %s --reason 'storm: office closed'", biz);
	if (ringfence_cli(&out, cmd) != 0)
		fail_msg("messages-off: %s", buf_str(&out));
	free(cmd);
	has_or_fail(buf_str(&out), "automatic messages turned off", "the CLI's answer");
	switch_is(biz, "off|operator (cli)|storm: office closed");
	assert_int_equal(db_count("SELECT count(*) FROM business_events WHERE business_id ="
		" $1::bigint AND event = 'messages_off' AND actor = 'operator (cli)'"
		" AND reason = 'storm: office closed'", biz), 1);

	/* Straight to the workers (as a queue entry left from before the
	 * switch), and through the scheduler: nothing goes. */
	for (int i = 0; i < 3; i++) {
		long long id = atoll(rid[i]);
		assert_int_equal(queue_push(sb_rds, &id, 1), 0);
	}
	assert_int_equal(worker_drain(allowed), 0);
	tick_and_drain_or_fail(allowed);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sim_texts_or_fail(phone[i], NULL), 0);
		v = reminder_state(rid[i]);
		assert_string_equal(v, "pending|automatic messages are off");
		free(v);
	}
	assert_int_equal(db_count("SELECT count(*) FROM contact_attempts WHERE business_id ="
		" $1::bigint", biz), 0);

	/* One is past its stale time when the switch goes on again. */
	hx_db_cmd_or_fail("UPDATE reminders SET stale_at = now() - interval '1 second'"
		" WHERE id = $1::bigint", 1, (const char *[]){ rid[2] });
	cmd = xasprintf("business messages-on %s --reason 'office open again'", biz);
	if (ringfence_cli(&out, cmd) != 0)
		fail_msg("messages-on: %s", buf_str(&out));
	free(cmd);
	switch_is(biz, "on");
	tick_and_drain_or_fail(allowed);
	assert_int_equal(sim_texts_or_fail(phone[0], NULL), 1);
	assert_int_equal(sim_texts_or_fail(phone[1], NULL), 1);
	assert_int_equal(sim_texts_or_fail(phone[2], NULL), 0);
	v = hx_db_value_or_fail("SELECT status FROM reminders WHERE id = $1::bigint", 1,
		(const char *[]){ rid[2] });
	assert_string_equal(v, "skipped_stale");
	free(v);
	/* And never later either. */
	tick_and_drain_or_fail(allowed);
	assert_int_equal(sim_texts_or_fail(phone[2], NULL), 0);
	assert_int_equal(sim_texts_or_fail(phone[0], NULL), 1);
	free(allowed);
	buf_free(&out);
}

/* The CLI: the same state again changes nothing and says so (exit 1);
 * no reason, an empty one, an unknown business or a bad id is exit 1 or
 * 2 with a one-line reason, and nothing changes; status shows it. */
static void test_switch_cli_refusals(void **state)
{
	char biz[24], *cmd;
	struct buf out = BUF_INIT;
	(void)state;

	business_new_or_fail(biz, "Switch CLI");
	cmd = xasprintf("business messages-on %s --reason 'already on'", biz);
	assert_int_equal(ringfence_cli(&out, cmd), 1);
	has_or_fail(buf_str(&out), "nothing changed", "messages-on while on");
	free(cmd);
	cmd = xasprintf("business messages-off %s", biz);
	assert_true(ringfence_cli(&out, cmd) != 0);
	has_or_fail(buf_str(&out), "needs --reason", "no reason");
	free(cmd);
	cmd = xasprintf("business messages-off %s --reason ''", biz);
	assert_true(ringfence_cli(&out, cmd) != 0);
	free(cmd);
	cmd = xasprintf("business messages-off %s --reason 'x' --by someone", biz);
	assert_true(ringfence_cli(&out, cmd) != 0);
	free(cmd);
	assert_int_equal(ringfence_cli(&out, "business messages-off 999999999 --reason 'x'"), 1);
	has_or_fail(buf_str(&out), "no business 999999999", "an unknown business");
	assert_true(ringfence_cli(&out, "business messages-off abc --reason 'x'") != 0);
	switch_is(biz, "on");
	assert_int_equal(events_of(biz), 0);

	cmd = xasprintf("business messages-off %s --reason 'first'", biz);
	assert_int_equal(ringfence_cli(&out, cmd), 0);
	free(cmd);
	cmd = xasprintf("business messages-off %s --reason 'second'", biz);
	assert_int_equal(ringfence_cli(&out, cmd), 1);
	has_or_fail(buf_str(&out), "has its automatic messages off already; nothing changed",
		"messages-off while off");
	free(cmd);
	switch_is(biz, "off|operator (cli)|first");
	assert_int_equal(events_of(biz), 1);
	cmd = xasprintf("business status %s", biz);
	assert_int_equal(ringfence_cli(&out, cmd), 0);
	has_or_fail(buf_str(&out), "automatic messages: off since", "status");
	has_or_fail(buf_str(&out), "by operator (cli): first", "status");
	free(cmd);
	buf_free(&out);
}

/* The dashboard: anyone signed in turns messages off (with a reason),
 * only an owner turns them on; the banner on every page says since when,
 * by whom, why and how many are held; no reason or a bad value is a 4xx
 * and changes nothing. */
static void test_switch_dashboard(void **state)
{
	struct dc_owner staff, owner;
	struct dc_response r;
	char phone[13], cid[24], rid[24], *v, *page;
	(void)state;

	/* A staff member stops their business's messages... */
	dc_owner_or_fail(&staff, "staff", "UTC");
	open_all_day_or_fail(staff.biz);
	client_new_or_fail(staff.biz, phone, NULL, cid);
	due_text_or_fail(staff.biz, cid, phone, "plan", rid);
	free(dc_get_or_fail(staff.c, "/settings", 200));
	assert_int_equal(dc_post_form(staff.c, "/settings/automatic-messages", &r, "on", "off",
		"reason", "", NULL), 0);
	assert_int_equal(r.status, 422);
	dc_response_free(&r);
	switch_is(staff.biz, "on");
	dc_post_see_other_or_fail(staff.c, "/settings/automatic-messages",
		"/settings?notice=messages_off#automatic-messages", "on", "off", "reason",
		"<b>flood</b> in the office", NULL);
	switch_is(staff.biz, "off|%s|<b>flood</b> in the office", staff.acc.email);
	page = dc_get_or_fail(staff.c, "/today", 200);
	has_or_fail(page, "Automatic messages are off</strong> since", "the banner");
	has_or_fail(page, staff.acc.email, "the banner's who");
	has_or_fail(page, "&lt;b&gt;flood&lt;/b&gt; in the office", "the banner's why, escaped");
	has_or_fail(page, "1 reminder is held; those past their time will not be sent late",
		"the banner's count");
	free(page);
	page = dc_get_or_fail(staff.c, "/settings", 200);
	has_or_fail(page, "Only an owner can turn them on again.", "staff's card");
	free(page);
	/* ...but cannot start them again. */
	assert_int_equal(dc_post_form(staff.c, "/settings/automatic-messages", &r, "on", "on",
		"reason", "back", NULL), 0);
	assert_int_equal(r.status, 403);
	dc_response_free(&r);
	v = switch_state(staff.biz);
	assert_true(strncmp(v, "off|", 4) == 0);
	free(v);
	assert_int_equal(events_of(staff.biz), 1);

	/* An owner: both ways, each recorded; the same state again says so. */
	dc_owner_or_fail(&owner, "owner", "UTC");
	free(dc_get_or_fail(owner.c, "/settings", 200));
	assert_int_equal(dc_post_form(owner.c, "/settings/automatic-messages", &r, "on", "maybe",
		"reason", "x", NULL), 0);
	assert_int_equal(r.status, 422);
	dc_response_free(&r);
	dc_post_see_other_or_fail(owner.c, "/settings/automatic-messages",
		"/settings?notice=messages_off#automatic-messages", "on", "off", "reason",
		"holiday", NULL);
	dc_post_see_other_or_fail(owner.c, "/settings/automatic-messages",
		"/settings?notice=messages_already_off#automatic-messages", "on", "off", "reason",
		"holiday again", NULL);
	assert_int_equal(events_of(owner.biz), 1);
	assert_int_equal(dc_post_form(owner.c, "/settings/automatic-messages", &r, "on", "on",
		NULL), 0);
	assert_int_equal(r.status, 422);
	dc_response_free(&r);
	dc_post_see_other_or_fail(owner.c, "/settings/automatic-messages",
		"/settings?notice=messages_on#automatic-messages", "on", "on", "reason",
		"back from holiday", NULL);
	switch_is(owner.biz, "on");
	assert_int_equal(db_count("SELECT count(*) FROM business_events WHERE business_id ="
		" $1::bigint AND ((event = 'messages_off' AND reason = 'holiday') OR (event ="
		" 'messages_on' AND reason = 'back from holiday'))", owner.biz), 2);
	page = dc_get_or_fail(owner.c, "/today", 200);
	if (strstr(page, "Automatic messages are off") != NULL)
		fail_msg("the banner is still shown with the messages on");
	free(page);
	/* Another business's switch is not this one's. */
	v = switch_state(staff.biz);
	assert_true(strncmp(v, "off|", 4) == 0);
	free(v);
	dc_owner_free(&staff);
	dc_owner_free(&owner);
}

/* The API: GET says on; PUT off with a reason records the key's prefix;
 * the same again is changed: false; bad bodies are 422 and change
 * nothing; on again. */
static void test_switch_api(void **state)
{
	char biz[24], *who;
	struct sb_key k;
	json_t *j;
	(void)state;

	business_new_or_fail(biz, "Switch API");
	key_new_or_fail(biz, &k);
	assert_int_equal(api_or_fail("GET", "/api/v1/automatic-messages", &k, NULL, &j), 200);
	assert_true(json_is_true(json_object_get(j, "on")));
	assert_true(json_is_null(json_object_get(j, "reason")));
	json_decref(j);

	static const char *const bad[] = { "{\"on\": false}", "{\"on\": false, \"reason\": \"\"}",
		"{\"on\": false, \"reason\": \"   \"}", "{\"on\": \"no\", \"reason\": \"x\"}",
		"{\"reason\": \"x\"}", "{\"on\": false, \"reason\": \"x\", \"by\": \"me\"}",
		"{\"on\": false, \"reason\": \"line\\nbreak\"}", "[]" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long st = api_or_fail("PUT", "/api/v1/automatic-messages", &k, bad[i], &j);
		if (st < 400 || st >= 500)
			fail_msg("PUT %s: HTTP %ld", bad[i], st);
		json_decref(j);
	}
	switch_is(biz, "on");
	assert_int_equal(events_of(biz), 0);

	assert_int_equal(api_or_fail("PUT", "/api/v1/automatic-messages", &k,
		"{\"on\": false, \"reason\": \"booking system migration\"}", &j), 200);
	assert_true(json_is_false(json_object_get(j, "on")));
	assert_true(json_is_true(json_object_get(j, "changed")));
	who = xasprintf("API key %s", k.prefix);
	assert_string_equal(json_string_value(json_object_get(j, "by")), who);
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
		"booking system migration");
	json_decref(j);
	switch_is(biz, "off|%s|booking system migration", who);
	assert_int_equal(api_or_fail("PUT", "/api/v1/automatic-messages", &k,
		"{\"on\": false, \"reason\": \"again\"}", &j), 200);
	assert_true(json_is_false(json_object_get(j, "changed")));
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
		"booking system migration");
	json_decref(j);
	assert_int_equal(events_of(biz), 1);
	assert_int_equal(api_or_fail("GET", "/api/v1/automatic-messages", &k, NULL, &j), 200);
	assert_true(json_is_false(json_object_get(j, "on")));
	assert_non_null(json_string_value(json_object_get(j, "since")));
	json_decref(j);
	assert_int_equal(api_or_fail("PUT", "/api/v1/automatic-messages", &k,
		"{\"on\": true, \"reason\": \"migration done\"}", &j), 200);
	assert_true(json_is_true(json_object_get(j, "on")));
	assert_true(json_is_true(json_object_get(j, "changed")));
	json_decref(j);
	assert_int_equal(db_count("SELECT count(*) FROM business_events WHERE business_id ="
		" $1::bigint AND event = 'messages_on' AND reason = 'migration done'", biz), 1);
	free(who);
}

/* ---- booking -------------------------------------------------------------------- */

static long long bookings_of(const char *appt)
{
	return db_count("SELECT count(*) FROM reminders WHERE appointment_id = $1::bigint"
		" AND kind = 'booking'", appt);
}

/* Business biz sends booking confirmations on channel after delay
 * minutes ("NULL": off). */
static void booking_policy_or_fail(const char *biz, const char *channel, const char *delay)
{
	hx_db_cmd_or_fail("UPDATE businesses SET booking_channel = NULLIF($2, 'NULL'),"
		" booking_delay_minutes = $3::int WHERE id = $1::bigint", 3,
		(const char *[]){ biz, channel, delay });
}

/* Through the API: one confirmation, due now, to the client's phone,
 * stale within 12 hours; it reaches the simulator with the booking
 * wording; a reschedule makes no second one and sends nothing more; a
 * reply of 1 confirms the appointment. */
static void test_booking_api(void **state)
{
	char biz[24], phone[13], appt[24], *body, *v, start[40], later[40];
	struct sb_key k;
	json_t *j;
	long long id;
	(void)state;

	business_new_or_fail(biz, "Booking API");
	booking_policy_or_fail(biz, "sms", "0");
	key_new_or_fail(biz, &k);
	hx_random_phone(phone);
	body = xasprintf("{\"name\": \"Bo\", \"phone\": \"%s\"}", phone);
	assert_int_equal(api_or_fail("POST", "/api/v1/clients", &k, body, &j), 201);
	free(body);
	id = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	v = hx_db_value_or_fail("SELECT to_char(now() + interval '3 days', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
		" || '|' || to_char(now() + interval '4 days', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", 0,
		NULL);
	sscanf(v, "%39[^|]|%39s", start, later);
	free(v);
	body = xasprintf("{\"client_id\": %lld, \"starts_at\": \"%s\"}", id, start);
	assert_int_equal(api_or_fail("POST", "/api/v1/appointments", &k, body, &j), 201);
	free(body);
	snprintf(appt, sizeof(appt), "%lld", (long long)json_integer_value(json_object_get(j, "id")));
	json_decref(j);
	assert_int_equal(bookings_of(appt), 1);
	assert_int_equal(db_count("SELECT count(*) FROM reminders WHERE appointment_id = $1::bigint"
		" AND kind = 'booking' AND channel = 'sms' AND attempt = 5 AND status = 'pending'"
		" AND due_at <= now() AND stale_at <= due_at + interval '12 hours'"
		" AND to_address = (SELECT phone FROM clients c JOIN appointments a"
		"  ON a.client_id = c.id WHERE a.id = $1::bigint)", appt), 1);
	tick_and_drain_or_fail(phone);
	assert_int_equal(sim_texts_or_fail(phone, "is booked. To change it, call +15005550006."
		" Reply 1 to confirm, 2 to cancel, 3 for a call back. Reply STOP to stop these"
		" texts."), 1);
	assert_int_equal(db_count("SELECT count(*) FROM contact_attempts x JOIN reminders r"
		" ON r.id = x.reminder_id WHERE r.appointment_id = $1::bigint AND r.kind = 'booking'"
		" AND x.status = 'placed' AND x.provider_sid IS NOT NULL", appt), 1);

	/* A reschedule: no second confirmation. */
	body = xasprintf("{\"starts_at\": \"%s\"}", later);
	v = xasprintf("/api/v1/appointments/%s", appt);
	assert_int_equal(api_or_fail("PATCH", v, &k, body, &j), 200);
	json_decref(j);
	free(body);
	free(v);
	assert_int_equal(bookings_of(appt), 1);
	tick_and_drain_or_fail(phone);
	assert_int_equal(sim_texts_or_fail(phone, NULL), 1);

	/* A reply of 1 to it confirms, as a reply to a reminder does. */
	{
		struct hx_form f;
		struct hx_response rs;
		char sid[35], *url = xasprintf("%s/twilio/sms/inbound", hx_env.public_url);
		hx_random_message_sid(sid);
		hx_sms_form(&f, sid, phone, "+15005550006", "1");
		assert_int_equal(hx_post_form(url, &f, HX_SIGNED, &rs), 0);
		assert_int_equal(rs.status, 200);
		hx_response_free(&rs);
		hx_form_free(&f);
		free(url);
	}
	v = hx_db_value_or_fail("SELECT status FROM appointments WHERE id = $1::bigint", 1,
		(const char *[]){ appt });
	assert_string_equal(v, "confirmed");
	free(v);
}

/* The dashboard's form and a CSV import: each appointment gets one
 * confirmation that reaches the simulator. */
static void test_booking_dashboard_and_import(void **state)
{
	struct dc_owner o;
	struct dc_response r;
	char phone[2][13], cid[2][24], *starts, *csv, *appt;
	long long id;
	(void)state;

	dc_owner_or_fail(&o, "owner", "UTC");
	open_all_day_or_fail(o.biz);
	/* The settings card sets it. */
	free(dc_get_or_fail(o.c, "/settings", 200));
	assert_int_equal(dc_post_form(o.c, "/settings/booking", &r, "booking_channel", "fax",
		"booking_delay", "0", NULL), 0);
	assert_int_equal(r.status, 422);
	dc_response_free(&r);
	assert_int_equal(dc_post_form(o.c, "/settings/booking", &r, "booking_channel", "sms",
		"booking_delay", "1441", NULL), 0);
	assert_int_equal(r.status, 422);
	dc_response_free(&r);
	assert_int_equal(db_count("SELECT count(*) FROM businesses WHERE id = $1::bigint"
		" AND booking_channel IS NULL", o.biz), 1);
	dc_post_see_other_or_fail(o.c, "/settings/booking", "/settings?notice=saved#booking",
		"booking_channel", "sms", "booking_delay", "0", NULL);
	assert_int_equal(db_count("SELECT count(*) FROM businesses WHERE id = $1::bigint"
		" AND booking_channel = 'sms' AND booking_delay_minutes = 0", o.biz), 1);
	{
		/* The card shows the choice; the wording preview the text. */
		char *page = dc_get_or_fail(o.c, "/settings", 200);
		has_or_fail(page, "<option value=\"sms\" selected>Text message</option>",
			"the booking card");
		has_or_fail(page, "is booked. To change it, call", "the booking text's preview");
		free(page);
	}
	for (int i = 0; i < 2; i++)
		client_new_or_fail(o.biz, phone[i], NULL, cid[i]);

	starts = hx_db_value_or_fail("SELECT to_char(now() + interval '3 days',"
		" 'YYYY-MM-DD\"T\"HH24:MI')", 0, NULL);
	free(dc_get_or_fail(o.c, "/appointments/new", 200));
	id = dc_post_id_or_fail(o.c, "/appointments", "/appointments/", "?notice=created",
		"client_id", cid[0], "starts_at", starts, "notes", "", NULL);
	free(starts);
	appt = xasprintf("%lld", id);
	assert_int_equal(bookings_of(appt), 1);
	free(appt);

	starts = hx_db_value_or_fail("SELECT to_char(now() + interval '3 days',"
		" 'YYYY-MM-DD HH24:MI')", 0, NULL);
	csv = xasprintf("phone,email,starts_at,notes\n%s,,%s,\n", phone[1], starts);
	free(starts);
	assert_int_equal(dc_get_page(o.c, "/import", NULL), 200);
	assert_int_equal(dc_post_multipart(o.c, "/import", "file", "list.csv", csv, strlen(csv), &r,
		"kind", "appointments", NULL), 0);
	assert_int_equal(r.status, 200);
	{
		const char *s = strstr(buf_str(&r.body), "action=\"/import/");
		char path[64];
		assert_non_null(s);
		snprintf(path, sizeof(path), "/import/%lld/commit",
			strtoll(s + strlen("action=\"/import/"), NULL, 10));
		dc_response_free(&r);
		dc_post_see_other_or_fail(o.c, path, "/import?notice=imported", NULL);
	}
	free(csv);
	assert_int_equal(db_count("SELECT count(*) FROM reminders r JOIN appointments a"
		" ON a.id = r.appointment_id WHERE a.client_id = $1::bigint AND r.kind = 'booking'",
		cid[1]), 1);
	{
		char *allowed = xasprintf("%s,%s", phone[0], phone[1]);
		tick_and_drain_or_fail(allowed);
		free(allowed);
	}
	assert_int_equal(sim_texts_or_fail(phone[0], "is booked"), 1);
	assert_int_equal(sim_texts_or_fail(phone[1], "is booked"), 1);
	dc_owner_free(&o);
}

/* Appointment of client cid days ahead, planned by the product's own
 * planning (the CLI's demo is not involved: the dashboard form); its id. */
static char *book_via_dashboard_or_fail(struct dc_owner *o, const char *cid, const char *when)
{
	char *starts = hx_db_value_or_fail("SELECT to_char(now() + $1::interval,"
		" 'YYYY-MM-DD\"T\"HH24:MI')", 1, (const char *[]){ when });
	long long id;

	free(dc_get_or_fail(o->c, "/appointments/new", 200));
	id = dc_post_id_or_fail(o->c, "/appointments", "/appointments/", "?notice=created",
		"client_id", cid, "starts_at", starts, "notes", "", NULL);
	free(starts);
	return xasprintf("%lld", id);
}

/* Off: none; an opted-out client: none; a booking that starts within
 * the delay: none; the switch off holds one (on again, it goes); outside
 * the calling window it waits. */
static void test_booking_guards(void **state)
{
	struct dc_owner o;
	char phone[5][13], cid[5][24], *appt[5], *v, *allowed;
	struct buf out = BUF_INIT;
	(void)state;

	dc_owner_or_fail(&o, "owner", "UTC");
	open_all_day_or_fail(o.biz);
	for (int i = 0; i < 5; i++)
		client_new_or_fail(o.biz, phone[i], NULL, cid[i]);
	allowed = xasprintf("%s,%s,%s,%s,%s", phone[0], phone[1], phone[2], phone[3], phone[4]);

	/* 0: the policy is off. */
	appt[0] = book_via_dashboard_or_fail(&o, cid[0], "3 days");
	assert_int_equal(bookings_of(appt[0]), 0);
	/* 1: an opted-out client. */
	booking_policy_or_fail(o.biz, "sms", "0");
	hx_db_cmd_or_fail("UPDATE clients SET opted_out_at = now() WHERE id = $1::bigint", 1,
		(const char *[]){ cid[1] });
	appt[1] = book_via_dashboard_or_fail(&o, cid[1], "3 days");
	assert_int_equal(bookings_of(appt[1]), 0);
	/* 2: within the delay of its start. */
	booking_policy_or_fail(o.biz, "sms", "120");
	appt[2] = book_via_dashboard_or_fail(&o, cid[2], "90 minutes");
	assert_int_equal(bookings_of(appt[2]), 0);
	/* 3: the switch off holds it. */
	booking_policy_or_fail(o.biz, "sms", "0");
	v = xasprintf("business messages-off %s --reason 'hold the bookings'", o.biz);
	assert_int_equal(ringfence_cli(&out, v), 0);
	free(v);
	appt[3] = book_via_dashboard_or_fail(&o, cid[3], "3 days");
	assert_int_equal(bookings_of(appt[3]), 1);
	tick_and_drain_or_fail(allowed);
	assert_int_equal(sim_texts_or_fail(phone[3], NULL), 0);
	v = hx_db_value_or_fail("SELECT r.status || '|' || k.reason FROM reminders r"
		" CROSS JOIN LATERAL reminder_block(r.id, now()) k"
		" WHERE r.appointment_id = $1::bigint AND r.kind = 'booking'", 1,
		(const char *[]){ appt[3] });
	assert_string_equal(v, "pending|automatic messages are off");
	free(v);
	v = xasprintf("business messages-on %s --reason 'let them go'", o.biz);
	assert_int_equal(ringfence_cli(&out, v), 0);
	free(v);
	/* 4: outside the calling window (a minute twelve hours away) it
	 * waits; back in the window it goes. */
	hx_db_cmd_or_fail("UPDATE businesses SET window_start = w, window_end = w + interval"
		" '1 minute' FROM (SELECT CASE WHEN t >= '23:50' THEN time '11:00' ELSE t END AS w"
		" FROM (SELECT date_trunc('minute', (now() + interval '12 hours')"
		" AT TIME ZONE 'UTC')::time AS t) s) x WHERE id = $1::bigint", 1,
		(const char *[]){ o.biz });
	appt[4] = book_via_dashboard_or_fail(&o, cid[4], "3 days");
	assert_int_equal(bookings_of(appt[4]), 1);
	tick_and_drain_or_fail(allowed);
	assert_int_equal(sim_texts_or_fail(phone[4], NULL), 0);
	assert_int_equal(sim_texts_or_fail(phone[3], NULL), 0);
	assert_int_equal(db_count("SELECT count(*) FROM reminders WHERE appointment_id ="
		" $1::bigint AND kind = 'booking' AND status = 'pending'", appt[4]), 1);
	open_all_day_or_fail(o.biz);
	tick_and_drain_or_fail(allowed);
	assert_int_equal(sim_texts_or_fail(phone[3], "is booked"), 1);
	assert_int_equal(sim_texts_or_fail(phone[4], "is booked"), 1);
	/* No confirmation for the first three (the one 90 minutes away got
	 * its plan's text reminder, which is not one). */
	for (int i = 0; i < 3; i++)
		assert_int_equal(sim_texts_with_or_fail(phone[i], "is booked"), 0);
	assert_int_equal(sim_texts_or_fail(phone[0], NULL), 0);
	assert_int_equal(sim_texts_or_fail(phone[1], NULL), 0);
	for (int i = 0; i < 5; i++)
		free(appt[i]);
	free(allowed);
	buf_free(&out);
	dc_owner_free(&o);
}

/* The paths of the SMTP sink's messages naming address (fresh and
 * random: a file naming it is a message to it), newline-separated. */
static char *mails_to(const char *address, int *n)
{
	char *cmd = xasprintf("grep -l -F -- '%s' '%s/mail'/*.eml 2>/dev/null", address,
		hx_env.stack_dir);
	struct buf out = BUF_INIT;
	char *paths;

	(void)hx_shell(cmd, &out, 30);
	free(cmd);
	paths = xstrdup(buf_str(&out));
	*n = 0;
	for (const char *p = paths; *p; p++)
		*n += *p == '\n';
	buf_free(&out);
	return paths;
}

/* By email: one message with the booking wording and the unsubscribe
 * link, through the same send path (allow-list, SMTP sink). */
static void test_booking_email(void **state)
{
	struct dc_owner o;
	char phone[13], cid[24], email[64], hex[17], *appt, *paths, *raw;
	size_t len;
	int n;
	(void)state;

	dc_owner_or_fail(&o, "owner", "UTC");
	open_all_day_or_fail(o.biz);
	booking_policy_or_fail(o.biz, "email", "0");
	hx_random_hex(hex, (sizeof(hex) - 1) / 2);
	snprintf(email, sizeof(email), "booked-%s@example.com", hex);
	client_new_or_fail(o.biz, phone, email, cid);
	appt = book_via_dashboard_or_fail(&o, cid, "3 days");
	assert_int_equal(db_count("SELECT count(*) FROM reminders WHERE appointment_id ="
		" $1::bigint AND kind = 'booking' AND channel = 'email'", appt), 1);
	tick_and_drain_or_fail(email);
	paths = mails_to(email, &n);
	if (n != 1)
		fail_msg("%d messages to %s, want 1", n, email);
	paths[strcspn(paths, "\n")] = '\0';
	raw = util_read_file(paths, 1 << 20, &len);
	assert_non_null(raw);
	has_or_fail(raw, "is booked", "the booking email");
	has_or_fail(raw, "List-Unsubscribe", "the booking email's header");
	assert_int_equal(sim_texts_or_fail(phone, NULL), 0);
	free(raw);
	free(paths);
	free(appt);
	dc_owner_free(&o);
}

/* ---- the groups ------------------------------------------------------------------ */

static int group_setup(void **state)
{
	(void)state;
	if (hx_init_sim_api("switchbook tests", &sim_api_url, sim_api_base,
		    sizeof(sim_api_base)) < 0)
		return -1;
	if ((bin_path = hx_ringfence_bin("switchbook")) == NULL)
		return -1;
	sb_rds = rds_open(hx_env.redis_url);
	if (sb_rds == NULL)
		return -1;
	sb_initialised = 1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (sb_initialised)
		rds_close(sb_rds);
	sb_initialised = 0;
	hx_fini();
	return 0;
}

int switch_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_switch_holds_and_releases),
		cmocka_unit_test(test_switch_cli_refusals),
		cmocka_unit_test(test_switch_dashboard),
		cmocka_unit_test(test_switch_api),
	};
	return cmocka_run_group_tests_name("integration: switch", tests, group_setup,
		group_teardown);
}

int booking_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_booking_api),
		cmocka_unit_test(test_booking_dashboard_and_import),
		cmocka_unit_test(test_booking_guards),
		cmocka_unit_test(test_booking_email),
	};
	return cmocka_run_group_tests_name("integration: booking", tests, group_setup,
		group_teardown);
}

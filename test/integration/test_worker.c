/* Integration tests of `ringfence worker` against the real stack and the
 * local Twilio simulator: a due reminder is contacted exactly once (the
 * simulator's Calls.json agrees with contact_attempts), the allow-list
 * refuses before Twilio, a worker killed at each step never contacts
 * twice and its attempt is reconciled, many workers racing on the same
 * ids attempt each reminder once, Redis / PostgreSQL / Twilio down mean
 * zero contacts and recovery without a burst, status callbacks are
 * idempotent and ordered and drive the retry policy, rate limits defer or
 * skip, and a tripped failsafe means zero contacts across restarts until
 * resume.
 *
 * The worker runs as its own process (bin/ringfence, or RINGFENCE_BIN)
 * with the stack's environment plus the allow-list and limits each test
 * sets.  Each test uses fresh random phone numbers, so the simulator's
 * list filtered by To counts only its own contacts. */
#include "harness.h"
#include "db.h"
#include "fakeapp.h"

#include "queue.h"
#include "rds.h"
#include "util.h"
#include "wording.h"

#include <curl/curl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define W_FROM "+15005550006"
#define W_TIMEOUT_S 90

static const char *api_url;
static char api_base[300];
static const char *bin_path;
static struct rds *w_rds;
static int w_initialised;

/* ---- fixtures ------------------------------------------------------------------ */

/* A business (calling window all day in UTC), a client with a fresh phone
 * and email, an appointment tomorrow and one reminder on channel due a
 * minute ago, stale in stale_min minutes. */
static void fixture_or_fail(struct hx_rfix *f, const char *channel, int stale_min)
{
	const struct hx_rfix_opts o = { .business_name = "Worker Test Clinic",
		.client_name = "Worker Test Client", .channel = channel, .email_prefix = "w",
		.notes = "CONFIDENTIAL-NOTE", .retry_count = 1, .retry_delay_minutes = 5,
		.stale_min = stale_min };
	hx_rfix_or_fail(f, &o);
}

static void enqueue_or_fail(const char *reminder_id, int times)
{
	long long id = atoll(reminder_id);
	for (int i = 0; i < times; i++)
		assert_int_equal(queue_push(w_rds, &id, 1), 0);
}

/* ---- the simulator --------------------------------------------------------------- */

/* How many calls ("calls") or messages ("messages") the simulator has to
 * phone; the first one's sid into sid when not NULL. */
static size_t sim_count_or_fail(const char *kind, const char *phone, char sid[64])
{
	char *esc = curl_easy_escape(NULL, phone, 0);
	char *url = xasprintf("%s/%s.json?To=%s&PageSize=100", api_base,
		strcmp(kind, "calls") == 0 ? "Calls" : "Messages", esc);
	json_t *j = hx_sim_json_or_fail(url, NULL);
	json_t *arr = json_object_get(j, kind);
	size_t n;

	assert_true(json_is_array(arr));
	n = json_array_size(arr);
	if (sid) {
		sid[0] = '\0';
		if (n > 0)
			snprintf(sid, 64, "%s",
				json_string_value(json_object_get(json_array_get(arr, 0), "sid")));
	}
	json_decref(j);
	curl_free(esc);
	free(url);
	return n;
}

/* ---- running the worker ---------------------------------------------------------------- */

struct wenv {
	const char *allowed;      /* RINGFENCE_ALLOWED_CONTACTS */
	const char *crash_at;     /* RINGFENCE_TEST_CRASH_AT or NULL */
	const char *api_url;      /* TWILIO_API_URL override or NULL */
	const char *limit_day;    /* RINGFENCE_LIMIT_RECIPIENT_DAY or NULL */
	const char *floor;        /* RINGFENCE_FAILSAFE_FLOOR, NULL: 100000 */
	const char *root;         /* RINGFENCE_ROOT override or NULL */
};

/* Starts bin/ringfence worker ARGS... with e's environment; the pid. */
static pid_t worker_start(const struct wenv *e, const char *const *args)
{
	pid_t pid = fork();
	if (pid == 0) {
		setenv("RINGFENCE_ALLOWED_CONTACTS", e->allowed ? e->allowed : "", 1);
		if (e->crash_at)
			setenv("RINGFENCE_TEST_CRASH_AT", e->crash_at, 1);
		else
			unsetenv("RINGFENCE_TEST_CRASH_AT");
		if (e->api_url)
			setenv("TWILIO_API_URL", e->api_url, 1);
		if (e->limit_day)
			setenv("RINGFENCE_LIMIT_RECIPIENT_DAY", e->limit_day, 1);
		if (e->root)
			setenv("RINGFENCE_ROOT", e->root, 1);
		setenv("RINGFENCE_FAILSAFE_FLOOR", e->floor ? e->floor : "100000", 1);
		if (getenv("RINGFENCE_MAIL_FROM") == NULL)
			setenv("RINGFENCE_MAIL_FROM", "reminders@example.com", 1);
		hx_exec_worker(bin_path, args);
	}
	assert_true(pid > 0);
	return pid;
}

/* Waits for pid; its exit status, 128+signal when killed, -1 on timeout
 * (it is killed then). */
static int worker_wait(pid_t pid)
{
	return hx_wait_child(pid, W_TIMEOUT_S);
}

static int worker_run(const struct wenv *e, const char *const *args)
{
	return worker_wait(worker_start(e, args));
}

static const char *const ONCE[] = { "--once", NULL };
static const char *const RECONCILE[] = { "--reconcile-once", NULL };

/* Nothing happened to f: its reminder is pending with no attempt, and
 * the simulator has no call to its phone. */
static void untouched_or_fail(const struct hx_rfix *f)
{
	struct hx_rstate s;

	hx_rstate_or_fail(f, &s);
	assert_string_equal(s.reminder, "pending");
	assert_int_equal(s.attempts, 0);
	assert_int_equal(sim_count_or_fail("calls", f->phone, NULL), 0);
}

/* Enqueues f's reminder once and runs the worker once: the call goes out,
 * exactly once. */
static void placed_once_or_fail(const struct hx_rfix *f, const struct wenv *e)
{
	struct hx_rstate s;

	enqueue_or_fail(f->reminder, 1);
	assert_int_equal(worker_run(e, ONCE), 0);
	hx_rstate_or_fail(f, &s);
	assert_string_equal(s.attempt, "placed");
	assert_int_equal(sim_count_or_fail("calls", f->phone, NULL), 1);
}

/* ---- tests -------------------------------------------------------------------------------- */

/* A due reminder enqueued many times is called exactly once; running the
 * worker again contacts nobody. */
static void test_called_exactly_once(void **state)
{
	struct hx_rfix f;
	struct hx_rstate s;
	struct wenv e = { 0 };
	char sid[64];

	fixture_or_fail(&f, "voice", 120);
	e.allowed = f.phone;
	enqueue_or_fail(f.reminder, 5);
	assert_int_equal(worker_run(&e, ONCE), 0);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.attempt, "placed");
	assert_int_equal(s.attempts, 1);
	assert_true(strcmp(s.reminder, "placed") == 0 || strcmp(s.reminder, "completed") == 0 ||
		strcmp(s.reminder, "failed") == 0);
	assert_int_equal(sim_count_or_fail("calls", f.phone, sid), 1);
	assert_string_equal(sid, s.sid);

	/* The engine's call row exists for the call's webhooks. */
	{
		const char *p[1] = { f.reminder };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM calls WHERE reminder_id = $1::bigint",
			1, p), 1);
	}
	enqueue_or_fail(f.reminder, 3);
	assert_int_equal(worker_run(&e, ONCE), 0);
	hx_rstate_or_fail(&f, &s);
	assert_int_equal(s.attempts, 1);
	assert_int_equal(sim_count_or_fail("calls", f.phone, NULL), 1);
}

/* Runs the worker once (on root's state_tables/ when not NULL) for f's
 * enqueued text reminder, which must be placed as one message; the text
 * Twilio got (caller frees). */
static char *text_sent_from_or_fail(const struct hx_rfix *f, const char *root)
{
	struct hx_rstate s;
	struct wenv e = { 0 };
	char sid[64], *url, *text;
	const char *body;
	json_t *j;

	e.allowed = f->phone;
	e.root = root;
	assert_int_equal(worker_run(&e, ONCE), 0);
	hx_rstate_or_fail(f, &s);
	assert_string_equal(s.attempt, "placed");
	assert_int_equal(sim_count_or_fail("messages", f->phone, sid), 1);
	assert_string_equal(sid, s.sid);
	url = xasprintf("%s/Messages/%s.json", api_base, sid);
	j = hx_sim_json_or_fail(url, NULL);
	body = json_string_value(json_object_get(j, "body"));
	assert_non_null(body);
	text = xstrdup(body);
	json_decref(j);
	free(url);
	return text;
}

static char *text_sent_or_fail(const struct hx_rfix *f)
{
	return text_sent_from_or_fail(f, NULL);
}

/* A text goes out once with the business's name and no notes. */
static void test_sms_once_without_notes(void **state)
{
	struct hx_rfix f;
	char *body;

	fixture_or_fail(&f, "sms", 120);
	enqueue_or_fail(f.reminder, 2);
	body = text_sent_or_fail(&f);
	assert_non_null(strstr(body, "Worker Test Clinic"));
	assert_non_null(strstr(body, "Reply STOP"));
	assert_null(strstr(body, "CONFIDENTIAL"));
	free(body);
}

/* A business's stored wording (settings page, src/wording.c) is what its
 * text says; the appointment sentence and the STOP line stay. */
static void test_sms_uses_business_wording(void **state)
{
	struct hx_rfix f;
	const char *p[1];
	char *body;

	fixture_or_fail(&f, "sms", 120);
	p[0] = f.business;
	hx_db_cmd_or_fail("INSERT INTO message_wording (business_id, greeting, closing)"
			  " VALUES ($1::bigint, 'Hello from {business}!', 'Call {callback} to change.')",
		1, p);
	enqueue_or_fail(f.reminder, 1);
	body = text_sent_or_fail(&f);
	assert_non_null(strstr(body, "Hello from Worker Test Clinic! you have an appointment on"));
	assert_non_null(strstr(body, ". Call +"));
	assert_non_null(strstr(body, " to change. Reply 1 to confirm, 2 to cancel, 3 for a call"
		" back, 4 to reschedule. Reply STOP to stop these texts."));
	assert_null(strstr(body, "CONFIDENTIAL"));
	free(body);
}

/* The text is the operator's template: a worker started on a copy of
 * state_tables/ whose sms_reminder.txt is reworded sends that wording;
 * one started on a copy whose template uses {{notes}} does not start. */
static void test_sms_is_the_template(void **state)
{
	char tmpl[] = "/tmp/rf_worker_root_XXXXXX";
	char *root = mkdtemp(tmpl), *cmd, *path, *body;
	struct hx_rfix f;
	struct wenv e = { 0 };
	FILE *fp;

	assert_non_null(root);
	cmd = xasprintf("cp -r state_tables audio '%s'/", root);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	path = xasprintf("%s/state_tables/messages/sms_reminder.txt", root);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("{{business_name}} on {{appointment_date}} at {{appointment_time}}: see you!"
	      " {{greeting}} {{closing}} Reply STOP to stop these texts.\n", fp);
	assert_int_equal(fclose(fp), 0);

	fixture_or_fail(&f, "sms", 120);
	enqueue_or_fail(f.reminder, 1);
	body = text_sent_from_or_fail(&f, root);
	assert_non_null(strstr(body, "Worker Test Clinic on "));
	assert_non_null(strstr(body, ": see you! This is a reminder from Worker Test Clinic:"));
	assert_non_null(strstr(body, " Reply STOP to stop these texts."));
	assert_null(strstr(body, "Reply 1 to confirm"));
	free(body);

	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("{{greeting}} {{notes}} Reply STOP to stop these texts.\n", fp);
	assert_int_equal(fclose(fp), 0);
	e.root = root;
	assert_int_not_equal(worker_run(&e, ONCE), 0);
	free(path);
	cmd = xasprintf("rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* Lines stored before the segment rule (or written around the settings
 * page) that would make the text pass 2 segments: nothing is sent, the
 * attempt is recorded as failed with the reason, nobody is texted. */
static void test_sms_over_two_segments_not_sent(void **state)
{
	struct hx_rfix f;
	struct hx_rstate s;
	struct wenv e = { 0 };
	const char *p[1];

	fixture_or_fail(&f, "sms", 120);
	p[0] = f.business;
	hx_db_cmd_or_fail("INSERT INTO message_wording (business_id, greeting, closing)"
			  " VALUES ($1::bigint, repeat('Hello from {business}! ', 6),"
			  " repeat('Call {callback} to change. ', 5))", 1, p);
	enqueue_or_fail(f.reminder, 1);
	e.allowed = f.phone;
	assert_int_equal(worker_run(&e, ONCE), 0);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.attempt, "failed");
	if (strstr(s.reason, "not sent: the text would take ") == NULL ||
		strstr(s.reason, " SMS segments (at most 2)") == NULL)
		fail_msg("reason: '%s'", s.reason);
	assert_int_equal(sim_count_or_fail("messages", f.phone, NULL), 0);
}

/* A business name of 200 characters (the column's bound) that takes 390
 * bytes in UTF-8: the worker copies the claim's values at their full
 * length, and the text carries the name's SMS form (wording.h: its first
 * 27 characters and "...", no UTF-8 sequence split), so that the text
 * stays within 2 segments. */
static void test_long_name_sms_form(void **state)
{
	struct hx_rfix f;
	struct buf name = BUF_INIT, sms_name = BUF_INIT;
	struct wording_segments sg;
	char *body;

	buf_puts(&name, "Clinique ");
	for (int i = 0; i < 190; i++)
		buf_puts(&name, "\xc3\xa9"); /* é */
	buf_puts(&name, "Z");
	fixture_or_fail(&f, "sms", 120);
	{
		const char *p[2] = { f.business, buf_str(&name) };
		hx_db_cmd_or_fail("UPDATE businesses SET name = $2 WHERE id = $1::bigint", 2, p);
	}
	buf_puts(&sms_name, "This is a reminder from Clinique ");
	for (int i = 0; i < 18; i++)
		buf_puts(&sms_name, "\xc3\xa9");
	buf_puts(&sms_name, "...: you have an appointment on");
	enqueue_or_fail(f.reminder, 1);
	body = text_sent_or_fail(&f);
	if (strstr(body, buf_str(&sms_name)) == NULL)
		fail_msg("the text does not carry the name's SMS form:\n%s", body);
	wording_sms_segments(body, &sg);
	assert_int_equal(sg.ucs2, 0);
	assert_true(sg.segments <= WORDING_SMS_MAX_SEGMENTS);
	free(body);
	buf_free(&name);
	buf_free(&sms_name);
}

/* An email reminder goes out once through SMTP, to the stack's sink, with
 * the business's name and without the appointment's notes; its
 * Message-ID is the attempt's provider id. */
static void test_email_once_without_notes(void **state)
{
	struct hx_rfix f;
	struct hx_rstate s;
	struct wenv e = { 0 };
	char *dir = xasprintf("%s/mail", hx_env.stack_dir ? hx_env.stack_dir : "");
	char *cmd, line[512];
	FILE *pipe;
	int found = 0, notes = 0, rc;

	if (hx_env.stack_dir == NULL || access(dir, R_OK) != 0) {
		free(dir);
		skip(); /* RINGFENCE_SMTP_URL names a server outside the stack */
	}
	fixture_or_fail(&f, "email", 120);
	e.allowed = f.email;
	enqueue_or_fail(f.reminder, 3);
	rc = worker_run(&e, ONCE);
	assert_int_equal(rc, 0);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.attempt, "placed");
	assert_int_equal(s.attempts, 1);
	assert_int_equal(strncmp(s.sid, "EM", 2), 0); /* from the Message-ID */
	/* The sink keeps one file per message: exactly one names our address. */
	cmd = xasprintf("grep -l -F -- '%s' '%s'/*.eml 2>/dev/null", f.email, dir);
	pipe = popen(cmd, "r");
	assert_non_null(pipe);
	while (fgets(line, sizeof(line), pipe)) {
		char *nl = strchr(line, '\n'), *text;
		size_t len;
		if (nl)
			*nl = '\0';
		found++;
		text = util_read_file(line, 1 << 20, &len);
		assert_non_null(text);
		assert_non_null(strstr(text, "Worker Test Clinic"));
		assert_non_null(strstr(text, s.sid));
		if (strstr(text, "CONFIDENTIAL"))
			notes++;
		free(text);
	}
	pclose(pipe);
	free(cmd);
	free(dir);
	assert_int_equal(found, 1);
	assert_int_equal(notes, 0);
}

/* A number not on the allow-list is refused inside the send function and
 * never reaches the simulator, even with the database saying go. */
static void test_allowlist_refused(void **state)
{
	struct hx_rfix f;
	struct hx_rstate s;
	struct wenv e = { 0 };
	char other[13];

	fixture_or_fail(&f, "voice", 120);
	hx_random_phone(other);
	e.allowed = other;
	enqueue_or_fail(f.reminder, 1);
	assert_int_equal(worker_run(&e, ONCE), 0);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.attempt, "blocked_not_allowed");
	assert_string_equal(s.reminder, "blocked_not_allowed");
	assert_int_equal(sim_count_or_fail("calls", f.phone, NULL), 0);
}

/* SIGKILL at each step: never contacted twice; the attempt ends unknown
 * and is reconciled (placed when the simulator has the call, else
 * not_placed); a reminder killed right after the pop is still pending
 * and goes out once later. */
static void crash_at_or_fail(const char *point)
{
	struct hx_rfix f;
	struct hx_rstate s;
	struct wenv e = { 0 };
	const char *const once_lease[] = { "--once", "--lease", "1", NULL };
	char sid[64];
	size_t calls;
	int rc;

	fixture_or_fail(&f, "voice", 120);
	e.allowed = f.phone;
	e.crash_at = point;
	enqueue_or_fail(f.reminder, 1);
	rc = worker_run(&e, once_lease);
	if (rc == 0)
		fail_msg("%s: the worker did not die", point);
	e.crash_at = NULL;
	hx_rstate_or_fail(&f, &s);
	if (strcmp(point, "after_pop") == 0) {
		assert_string_equal(s.reminder, "pending");
		assert_int_equal(s.attempts, 0);
		assert_int_equal(sim_count_or_fail("calls", f.phone, NULL), 0);
		placed_once_or_fail(&f, &e);
		return;
	}
	if (strcmp(s.attempt, "dialing") != 0)
		fail_msg("%s: attempt is '%s', want dialing", point, s.attempt);
	hx_sleep_ms(2500); /* the 1 s lease expires (leases have whole seconds) */
	assert_int_equal(worker_run(&e, RECONCILE), 0);
	calls = sim_count_or_fail("calls", f.phone, sid);
	assert_true(calls <= 1);
	hx_rstate_or_fail(&f, &s);
	if (calls == 1) {
		if (strcmp(s.attempt, "placed") != 0)
			fail_msg("%s: the simulator has %s, attempt is '%s'", point, sid, s.attempt);
		assert_string_equal(s.sid, sid);
	} else if (strcmp(s.attempt, "not_placed") != 0) {
		fail_msg("%s: the simulator has no call, attempt is '%s'", point, s.attempt);
	}
	if (strcmp(point, "after_claim") == 0)
		assert_int_equal(calls, 0);
	if (strcmp(point, "before_record") == 0)
		assert_int_equal(calls, 1);
	/* Nothing ever re-sends it. */
	enqueue_or_fail(f.reminder, 2);
	assert_int_equal(worker_run(&e, ONCE), 0);
	assert_int_equal(sim_count_or_fail("calls", f.phone, NULL), calls);
	hx_rstate_or_fail(&f, &s);
	assert_int_equal(s.attempts, 1);
}

static void test_crash_after_pop(void **state) { crash_at_or_fail("after_pop"); }
static void test_crash_after_claim(void **state) { crash_at_or_fail("after_claim"); }
static void test_crash_during_request(void **state) { crash_at_or_fail("during_request"); }
static void test_crash_before_record(void **state) { crash_at_or_fail("before_record"); }

/* Many workers racing for the same ids, re-enqueued while they run:
 * each reminder attempted once, each number called once. */
static void test_racing_workers(void **state)
{
	enum { N = 12, W = 4 };
	struct hx_rfix f[N];
	struct wenv e = { 0 };
	struct buf allowed;
	const char *const args[] = { "--once", "--concurrency", "3", NULL };
	pid_t pids[W];

	buf_init(&allowed);
	for (int i = 0; i < N; i++) {
		fixture_or_fail(&f[i], i % 2 ? "sms" : "voice", 120);
		buf_printf(&allowed, "%s%s", i ? "," : "", f[i].phone);
	}
	e.allowed = buf_str(&allowed);
	for (int i = 0; i < N; i++)
		enqueue_or_fail(f[i].reminder, 1);
	for (int w = 0; w < W; w++)
		pids[w] = worker_start(&e, args);
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < N; i++)
			enqueue_or_fail(f[i].reminder, 1);
		hx_sleep_ms(20);
	}
	for (int w = 0; w < W; w++)
		assert_int_equal(worker_wait(pids[w]), 0);
	/* What the last re-enqueue left behind. */
	assert_int_equal(worker_run(&e, ONCE), 0);
	for (int i = 0; i < N; i++) {
		struct hx_rstate s;
		hx_rstate_or_fail(&f[i], &s);
		assert_int_equal(s.attempts, 1);
		assert_string_equal(s.attempt, "placed");
		assert_int_equal(sim_count_or_fail(i % 2 ? "messages" : "calls", f[i].phone, NULL), 1);
	}
	buf_free(&allowed);
}

/* Twilio unreachable: the outcome is unknown, nothing is retried, and
 * the reconciler (with Twilio back) finds no call: not_placed. */
static void test_twilio_unreachable(void **state)
{
	struct hx_rfix f;
	struct hx_rstate s;
	struct wenv e = { 0 };

	fixture_or_fail(&f, "voice", 120);
	e.allowed = f.phone;
	e.api_url = "http://127.0.0.1:9"; /* discard port: connection refused */
	enqueue_or_fail(f.reminder, 1);
	assert_int_equal(worker_run(&e, ONCE), 0);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.attempt, "unknown");
	assert_string_equal(s.reminder, "unknown");
	e.api_url = NULL;
	enqueue_or_fail(f.reminder, 1);
	assert_int_equal(worker_run(&e, ONCE), 0); /* never re-sent */
	assert_int_equal(worker_run(&e, RECONCILE), 0);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.attempt, "not_placed");
	assert_string_equal(s.reminder, "not_placed");
	assert_int_equal(sim_count_or_fail("calls", f.phone, NULL), 0);
}

/* Twilio answering 500, then hanging past the 15-s limit: each outcome is
 * unknown (Twilio may have accepted the request), nothing is retried, a
 * second worker run with Twilio back contacts nobody (no burst), and the
 * reconciler settles both as not_placed from the real list. */
static void test_twilio_500_and_hanging(void **state)
{
	struct fakeapp *fa = NULL;
	struct hx_rfix f[2];
	struct hx_rstate s;
	struct wenv e = { 0 };
	char err[256], allowed[64], path[128], *api;
	(void)state;

	if (fakeapp_start(&fa, err, sizeof(err)) < 0)
		fail_msg("fakeapp: %s", err);
	snprintf(path, sizeof(path), "/2010-04-01/Accounts/%s/Calls.json", hx_env.account_sid);
	for (int i = 0; i < 2; i++)
		fixture_or_fail(&f[i], "voice", 120);
	snprintf(allowed, sizeof(allowed), "%s,%s", f[0].phone, f[1].phone);
	e.allowed = allowed;
	api = xstrdup(fakeapp_url(fa));
	e.api_url = api;
	for (int i = 0; i < 2; i++) {
		/* f[0]: a 500 with Twilio's error body; f[1]: no answer for 17 s. */
		if (i == 0)
			fakeapp_serve(fa, path, 500, "application/json",
				"{\"code\": 20500, \"message\": \"Internal Server Error\", \"status\": 500}", 0);
		else
			fakeapp_serve(fa, path, 201, "application/json", "{}", 17000);
		enqueue_or_fail(f[i].reminder, 1);
		assert_int_equal(worker_run(&e, ONCE), 0);
		hx_rstate_or_fail(&f[i], &s);
		assert_string_equal(s.attempt, "unknown");
		assert_string_equal(s.reminder, "unknown");
	}
	assert_int_equal(fakeapp_count(fa, path), 2);
	/* Twilio is back: the ids come again, nobody is called. */
	e.api_url = NULL;
	for (int i = 0; i < 2; i++)
		enqueue_or_fail(f[i].reminder, 3);
	assert_int_equal(worker_run(&e, ONCE), 0);
	assert_int_equal(worker_run(&e, RECONCILE), 0);
	for (int i = 0; i < 2; i++) {
		hx_rstate_or_fail(&f[i], &s);
		assert_string_equal(s.attempt, "not_placed");
		assert_int_equal(s.attempts, 1);
		assert_int_equal(sim_count_or_fail("calls", f[i].phone, NULL), 0);
	}
	assert_int_equal(fakeapp_count(fa, path), 2);
	fakeapp_stop(fa);
	free(api);
}

/* Redis down: the worker cannot take ids and sends nothing; after the
 * restore the reminder goes out once. */
static void test_redis_down(void **state)
{
	struct hx_rfix f;
	struct wenv e = { 0 };

	fixture_or_fail(&f, "voice", 120);
	e.allowed = f.phone;
	enqueue_or_fail(f.reminder, 1);
	assert_int_equal(hx_stack("redis-stop", NULL, 60), 0);
	int rc = worker_run(&e, ONCE);
	assert_int_equal(hx_stack("redis-start", NULL, 60), 0);
	assert_int_equal(rc, 1);
	untouched_or_fail(&f);
	for (int i = 0; i < 50 && !hx_redis_up(); i++)
		hx_sleep_ms(100);
	placed_once_or_fail(&f, &e); /* the scheduler's next tick */
}

/* PostgreSQL down: the claim fails, the id is dropped, nobody is
 * contacted; after the restore it goes out once. */
static void test_postgres_down(void **state)
{
	struct hx_rfix f;
	struct wenv e = { 0 };

	fixture_or_fail(&f, "voice", 120);
	e.allowed = f.phone;
	enqueue_or_fail(f.reminder, 1);
	assert_int_equal(hx_stack("pg-stop", NULL, 60), 0);
	int rc = worker_run(&e, ONCE);
	assert_int_equal(hx_stack("pg-start", NULL, 60), 0);
	assert_int_not_equal(rc, 0);
	untouched_or_fail(&f);
	placed_once_or_fail(&f, &e);
}

/* The per-recipient limit: with 1 a day, the second reminder to the same
 * number is deferred (its stale time is days away) or skipped (it goes
 * stale first); never sent. */
static void test_rate_limit_defer_and_skip(void **state)
{
	struct hx_rfix f;
	struct hx_rstate s;
	struct wenv e = { 0 };
	char r2[24], r3[24];
	PGresult *res;

	fixture_or_fail(&f, "voice", 120);
	e.allowed = f.phone;
	e.limit_day = "1";
	{
		const char *p[2] = { f.reminder, f.phone };
		res = hx_db_exec_or_fail(
			"INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes, due_at,"
			" stale_at, to_address) SELECT business_id, appointment_id, 'sms', o, due_at,"
			" due_at + make_interval(mins => s), $2 FROM reminders,"
			" (VALUES (120, 4320), (60, 60)) v(o, s) WHERE id = $1::bigint ORDER BY o DESC RETURNING id",
			2, p);
		assert_int_equal(PQntuples(res), 2);
		snprintf(r2, sizeof(r2), "%s", PQgetvalue(res, 0, 0)); /* stale in 3 days */
		snprintf(r3, sizeof(r3), "%s", PQgetvalue(res, 1, 0)); /* stale in 1 hour */
		PQclear(res);
	}
	enqueue_or_fail(f.reminder, 1);
	assert_int_equal(worker_run(&e, ONCE), 0);
	enqueue_or_fail(r2, 1);
	enqueue_or_fail(r3, 1);
	assert_int_equal(worker_run(&e, ONCE), 0);
	assert_int_equal(sim_count_or_fail("calls", f.phone, NULL), 1);
	assert_int_equal(sim_count_or_fail("messages", f.phone, NULL), 0);
	{
		const char *p[1] = { r2 };
		res = hx_db_exec_or_fail("SELECT status, not_before > now() + interval '20 hours',"
			" (SELECT count(*) FROM contact_attempts WHERE reminder_id = $1::bigint)"
			" FROM reminders WHERE id = $1::bigint", 1, p);
		assert_string_equal(PQgetvalue(res, 0, 0), "pending");
		assert_string_equal(PQgetvalue(res, 0, 1), "t");
		assert_string_equal(PQgetvalue(res, 0, 2), "0");
		PQclear(res);
	}
	{
		const char *p[1] = { r3 };
		res = hx_db_exec_or_fail("SELECT r.status, a.status FROM reminders r"
			" JOIN contact_attempts a ON a.reminder_id = r.id WHERE r.id = $1::bigint", 1, p);
		assert_int_equal(PQntuples(res), 1);
		assert_string_equal(PQgetvalue(res, 0, 0), "skipped");
		assert_string_equal(PQgetvalue(res, 0, 1), "skipped_rate_limited");
		PQclear(res);
	}
	/* The deferred one is not claimable before its not_before. */
	enqueue_or_fail(r2, 1);
	assert_int_equal(worker_run(&e, ONCE), 0);
	assert_int_equal(sim_count_or_fail("messages", f.phone, NULL), 0);
	hx_rstate_or_fail(&f, &s);
	assert_int_equal(s.attempts, 1);
}

/* ---- the limits decided in PostgreSQL ---------------------------------------------------- */

/* FLUSHALL: Redis forgets its rate-limit windows (and the ready set), as
 * after a restart without persistence or a failover. */
static void redis_flush_or_fail(void)
{
	const char *argv[1] = { "FLUSHALL" };
	size_t lens[1] = { 8 };
	redisReply *reply = rds_command(w_rds, 1, argv, lens);
	if (reply == NULL)
		fail_msg("FLUSHALL: %s", rds_last_error(w_rds));
	freeReplyObject(reply);
}

/* Another reminder of f's appointment on channel (offset minutes, due a
 * minute ago, stale in stale_min minutes) to to; its id into out. */
static void extra_reminder_or_fail(const struct hx_rfix *f, const char *channel, int offset,
	int stale_min, const char *to, char out[24])
{
	char off[16], stale[16];
	const char *p[5] = { f->reminder, channel, off, stale, to };
	char *v;

	snprintf(off, sizeof(off), "%d", offset);
	snprintf(stale, sizeof(stale), "%d", stale_min);
	v = hx_db_value_or_fail("INSERT INTO reminders (business_id, appointment_id, channel,"
		" offset_minutes, due_at, stale_at, to_address) SELECT business_id, appointment_id, $2,"
		" $3::int, now() - interval '1 minute', now() + make_interval(mins => $4::int), $5"
		" FROM reminders WHERE id = $1::bigint RETURNING id", 5, p);
	snprintf(out, 24, "%s", v);
	free(v);
}

/* How many attempts to phone count as contacts (dialing, placed, unknown). */
static long long contacts_to(const char *phone)
{
	const char *p[1] = { phone };
	return hx_db_int_or_fail("SELECT count(*) FROM contact_attempts WHERE to_address = $1"
		" AND status IN ('dialing', 'placed', 'unknown')", 1, p);
}

/* Sends reminder id with one worker run; asserts the run succeeded. */
static void send_one_or_fail(const struct wenv *e, const char *id)
{
	enqueue_or_fail(id, 1);
	assert_int_equal(worker_run(e, ONCE), 0);
}

static void redis_restart_or_fail(void)
{
	assert_int_equal(hx_stack("redis-stop", NULL, 60), 0);
	assert_int_equal(hx_stack("redis-start", NULL, 60), 0);
	for (int i = 0; i < 100 && !hx_redis_up(); i++)
		hx_sleep_ms(100);
	assert_true(hx_redis_up());
}

/* The recipient limit (3 per 24 h from one business) holds across a Redis
 * FLUSHALL and a Redis restart between contacts: the 4th reminder to the
 * number is deferred (it stays useful past the day), the 5th skipped (it
 * goes stale first), neither placed; the simulator agrees. */
static void test_limit_survives_redis_loss(void **state)
{
	struct hx_rfix f;
	struct wenv e = { 0 };
	char r[5][24];
	const char *p[1];
	(void)state;

	fixture_or_fail(&f, "voice", 120);
	e.allowed = f.phone;
	e.limit_day = "3";
	snprintf(r[0], sizeof(r[0]), "%s", f.reminder);
	extra_reminder_or_fail(&f, "sms", 1000, 120, f.phone, r[1]);
	extra_reminder_or_fail(&f, "voice", 900, 120, f.phone, r[2]);
	extra_reminder_or_fail(&f, "sms", 800, 4320, f.phone, r[3]);
	extra_reminder_or_fail(&f, "voice", 700, 60, f.phone, r[4]);

	send_one_or_fail(&e, r[0]);
	redis_flush_or_fail();
	send_one_or_fail(&e, r[1]);
	redis_restart_or_fail();
	send_one_or_fail(&e, r[2]);
	assert_int_equal(contacts_to(f.phone), 3);
	redis_flush_or_fail();
	send_one_or_fail(&e, r[3]);
	redis_restart_or_fail();
	send_one_or_fail(&e, r[4]);

	assert_int_equal(contacts_to(f.phone), 3);
	assert_int_equal(sim_count_or_fail("calls", f.phone, NULL) +
		sim_count_or_fail("messages", f.phone, NULL), 3);
	p[0] = r[3];
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminders WHERE id = $1::bigint"
		" AND status = 'pending' AND not_before > now() + interval '20 hours'"
		" AND status_reason LIKE 'deferred: recipient limit (3 contacts per 24 h from one business)%'"
		" AND NOT EXISTS (SELECT 1 FROM contact_attempts WHERE reminder_id = reminders.id)", 1, p), 1);
	p[0] = r[4];
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminders r JOIN contact_attempts a"
		" ON a.reminder_id = r.id WHERE r.id = $1::bigint AND r.status = 'skipped'"
		" AND a.status = 'skipped_rate_limited' AND r.status_reason LIKE 'skipped: recipient limit%'",
		1, p), 1);
	/* Offered again after yet another flush, the deferred one stays put. */
	redis_flush_or_fail();
	send_one_or_fail(&e, r[3]);
	assert_int_equal(sim_count_or_fail("calls", f.phone, NULL) +
		sim_count_or_fail("messages", f.phone, NULL), 3);
}

/* The ceiling across businesses: 7 businesses with one reminder each to
 * one number (Redis flushed between contacts): 6 placed, never 7. */
static void test_limit_across_businesses(void **state)
{
	enum { N = 7 };
	struct hx_rfix f[N];
	struct wenv e = { 0 };
	long long placed = 0;
	(void)state;

	for (int i = 0; i < N; i++) {
		const char *p[2];
		fixture_or_fail(&f[i], i % 2 ? "sms" : "voice", 120);
		p[0] = f[i].reminder;
		p[1] = f[0].phone;
		hx_db_cmd_or_fail("WITH r AS (UPDATE reminders SET to_address = $2 WHERE id = $1::bigint"
			" RETURNING appointment_id)"
			" UPDATE clients SET phone = $2 FROM appointments a, r"
			" WHERE a.id = r.appointment_id AND clients.id = a.client_id", 2, p);
	}
	e.allowed = f[0].phone;
	for (int i = 0; i < N; i++) {
		redis_flush_or_fail();
		send_one_or_fail(&e, f[i].reminder);
	}
	for (int i = 0; i < N; i++) {
		struct hx_rstate s;
		hx_rstate_or_fail(&f[i], &s);
		placed += strcmp(s.attempt, "placed") == 0;
		if (i == N - 1) {
			assert_string_not_equal(s.attempt, "placed");
			assert_non_null(strstr(s.reason, "recipient limit across businesses (6 contacts"));
		}
	}
	assert_int_equal(placed, 6);
	assert_int_equal(contacts_to(f[0].phone), 6);
	assert_int_equal(sim_count_or_fail("calls", f[0].phone, NULL) +
		sim_count_or_fail("messages", f[0].phone, NULL), 6);
}

/* The business's hourly limit (hourly_limit 2) survives a flush: the
 * third recipient of the hour is deferred by an hour, not called. */
static void test_business_hour_survives_flush(void **state)
{
	struct hx_rfix f;
	struct wenv e = { 0 };
	char r[3][24], phones[3][13], allowed[64];
	const char *p[1];
	(void)state;

	fixture_or_fail(&f, "voice", 240);
	p[0] = f.business;
	hx_db_cmd_or_fail("UPDATE businesses SET hourly_limit = 2 WHERE id = $1::bigint", 1, p);
	snprintf(r[0], sizeof(r[0]), "%s", f.reminder);
	snprintf(phones[0], sizeof(phones[0]), "%s", f.phone);
	for (int i = 1; i < 3; i++) {
		hx_random_phone(phones[i]);
		extra_reminder_or_fail(&f, "voice", 1000 + i, 240, phones[i], r[i]);
	}
	snprintf(allowed, sizeof(allowed), "%s,%s,%s", phones[0], phones[1], phones[2]);
	e.allowed = allowed;
	for (int i = 0; i < 3; i++) {
		redis_flush_or_fail();
		send_one_or_fail(&e, r[i]);
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(sim_count_or_fail("calls", phones[i], NULL), i < 2 ? 1 : 0);
	p[0] = r[2];
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminders WHERE id = $1::bigint"
		" AND status = 'pending' AND not_before > now() + interval '50 minutes'"
		" AND status_reason = 'deferred: business limit (2 contacts per hour) reached'", 1, p), 1);
}

/* Eight worker processes race for a number's last slot (two of three
 * taken), Redis flushed so that its pre-check cannot be what stops them:
 * PostgreSQL lets exactly one through. */
static void test_racing_for_last_slot(void **state)
{
	enum { RACERS = 8 };
	struct hx_rfix f;
	struct wenv e = { 0 };
	char r[2 + RACERS][24];
	pid_t pids[RACERS];
	long long placed = 0, skipped = 0;
	(void)state;

	fixture_or_fail(&f, "voice", 120);
	e.allowed = f.phone;
	e.limit_day = "3";
	snprintf(r[0], sizeof(r[0]), "%s", f.reminder);
	for (int i = 1; i < 2 + RACERS; i++)
		extra_reminder_or_fail(&f, i % 2 ? "sms" : "voice", 1000 + i, 120, f.phone, r[i]);
	send_one_or_fail(&e, r[0]);
	send_one_or_fail(&e, r[1]);
	redis_flush_or_fail();
	for (int i = 2; i < 2 + RACERS; i++)
		enqueue_or_fail(r[i], 1);
	for (int w = 0; w < RACERS; w++)
		pids[w] = worker_start(&e, ONCE);
	for (int w = 0; w < RACERS; w++)
		assert_int_equal(worker_wait(pids[w]), 0);
	for (int i = 2; i < 2 + RACERS; i++) {
		const char *p[1] = { r[i] };
		char *st = hx_db_value_or_fail("SELECT COALESCE((SELECT status FROM contact_attempts"
			" WHERE reminder_id = $1::bigint), 'none')", 1, p);
		placed += strcmp(st, "placed") == 0;
		skipped += strcmp(st, "skipped_rate_limited") == 0;
		free(st);
	}
	assert_int_equal(placed, 1);
	assert_int_equal(skipped, RACERS - 1);
	assert_int_equal(contacts_to(f.phone), 3);
	assert_int_equal(sim_count_or_fail("calls", f.phone, NULL) +
		sim_count_or_fail("messages", f.phone, NULL), 3);
}

/* Posts a signed status callback; the HTTP status. */
static long callback(const char *kind, const char *attempt_id, const char *sid,
	const char *status, const char *seq, const char *error_code, enum hx_sign_mode mode)
{
	struct hx_form form;
	struct hx_response rs;
	char *url = attempt_id
		? xasprintf("%s/twilio/status/%s?a=%s", hx_env.public_url, kind, attempt_id)
		: xasprintf("%s/twilio/status/%s", hx_env.public_url, kind);
	long st;

	hx_form_init(&form);
	hx_form_add(&form, "AccountSid", hx_env.account_sid);
	hx_form_add(&form, "ApiVersion", "2010-04-01");
	if (strcmp(kind, "call") == 0) {
		hx_form_add(&form, "CallSid", sid);
		hx_form_add(&form, "CallStatus", status);
		if (seq)
			hx_form_add(&form, "SequenceNumber", seq);
	} else {
		hx_form_add(&form, "MessageSid", sid);
		hx_form_add(&form, "MessageStatus", status);
	}
	if (error_code)
		hx_form_add(&form, "ErrorCode", error_code);
	assert_int_equal(hx_post_form(url, &form, mode, &rs), 0);
	st = rs.status;
	if (st == 200)
		assert_non_null(strstr(buf_str(&rs.body), "<Response/>"));
	hx_response_free(&rs);
	hx_form_free(&form);
	free(url);
	return st;
}

static char *attempt_field(const struct hx_rfix *f, const char *col)
{
	char *sql = xasprintf("SELECT COALESCE(%s::text, '') FROM contact_attempts"
			      " WHERE reminder_id = $1::bigint", col);
	const char *p[1] = { f->reminder };
	char *v = hx_db_value_or_fail(sql, 1, p);
	free(sql);
	return v;
}

/* Status callbacks: unsigned 403; ordered by SequenceNumber; duplicates
 * and late ones change nothing; completed completes the reminder; a
 * final status never moves back. */
static void test_status_callbacks_ordered(void **state)
{
	struct hx_rfix f;
	struct hx_rstate s;
	char sid[35], *aid, *v;
	const char *p[2];

	fixture_or_fail(&f, "voice", 120);
	hx_random_call_sid(sid);
	p[0] = f.reminder;
	p[1] = sid;
	hx_db_cmd_or_fail("WITH a AS (INSERT INTO contact_attempts (reminder_id, business_id, channel,"
		" to_address, status, provider_sid, lease_until)"
		" SELECT id, business_id, channel, to_address, 'placed', $2, now() FROM reminders"
		" WHERE id = $1::bigint RETURNING reminder_id)"
		" UPDATE reminders SET status = 'placed' FROM a WHERE reminders.id = a.reminder_id", 2, p);
	aid = attempt_field(&f, "id");

	assert_int_equal(callback("call", aid, sid, "completed", "9", NULL, HX_BAD_SIG), 403);
	assert_int_equal(callback("call", aid, sid, "completed", "9", NULL, HX_NO_SIG), 403);
	v = attempt_field(&f, "delivery_status");
	assert_string_equal(v, "");
	free(v);

	assert_int_equal(callback("call", aid, sid, "in-progress", "2", NULL, HX_SIGNED), 200);
	assert_int_equal(callback("call", aid, sid, "ringing", "1", NULL, HX_SIGNED), 200);
	v = attempt_field(&f, "delivery_status");
	assert_string_equal(v, "in-progress");
	free(v);
	assert_int_equal(callback("call", NULL, sid, "completed", "3", NULL, HX_SIGNED), 200);
	assert_int_equal(callback("call", aid, sid, "completed", "3", NULL, HX_SIGNED), 200);
	assert_int_equal(callback("call", aid, sid, "in-progress", "4", NULL, HX_SIGNED), 200);
	v = attempt_field(&f, "delivery_status");
	assert_string_equal(v, "completed");
	free(v);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.reminder, "completed");
	/* A callback naming another call's sid for this attempt changes nothing. */
	{
		char other[35];
		hx_random_call_sid(other);
		assert_int_equal(callback("call", aid, other, "busy", "5", NULL, HX_SIGNED), 200);
		v = attempt_field(&f, "provider_sid");
		assert_string_equal(v, sid);
		free(v);
	}
	free(aid);
}

/* A busy call through the simulator: the callback marks it busy and
 * creates the retry reminder once, even when repeated. */
static void test_busy_retry(void **state)
{
	struct hx_rfix f;
	struct hx_rstate s;
	struct wenv e = { 0 };
	char *v = NULL, *aid;
	const char *p[1];
	long long deadline;

	fixture_or_fail(&f, "voice", 120);
	hx_sim_callee_or_fail(f.phone, "busy");
	e.allowed = f.phone;
	enqueue_or_fail(f.reminder, 1);
	assert_int_equal(worker_run(&e, ONCE), 0);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.attempt, "placed");
	deadline = hx_now_ms() + 60000;
	do {
		free(v);
		hx_sleep_ms(200);
		v = attempt_field(&f, "delivery_status");
	} while (strcmp(v, "busy") != 0 && hx_now_ms() < deadline);
	assert_string_equal(v, "busy");
	free(v);
	aid = attempt_field(&f, "id");
	assert_int_equal(callback("call", aid, s.sid, "busy", "99", NULL, HX_SIGNED), 200);
	assert_int_equal(callback("call", NULL, s.sid, "busy", NULL, NULL, HX_SIGNED), 200);
	free(aid);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.reminder, "failed");
	p[0] = f.reminder;
	assert_int_equal(hx_db_int_or_fail(
		"SELECT count(*) FROM reminders r JOIN reminders o ON o.appointment_id = r.appointment_id"
		" AND o.channel = r.channel AND o.offset_minutes = r.offset_minutes"
		" WHERE o.id = $1::bigint AND r.attempt = 2 AND r.status = 'pending'"
		" AND r.due_at > now() + interval '4 minutes' AND r.stale_at = o.stale_at", 1, p), 1);
	/* The retry is not due yet: a worker leaves it alone. */
	assert_int_equal(sim_count_or_fail("calls", f.phone, NULL), 1);
}

/* An SMS undelivered with 21610 opts the number out with the businesses
 * sending from the same number (Twilio keeps an opt-out per recipient and
 * sender), not with a business texting from another number; later
 * reminders to it are not claimed. */
static void test_sms_opt_out_callback(void **state)
{
	struct hx_rfix f;
	struct hx_rstate s;
	struct wenv e = { 0 };
	char *aid;
	const char *p[1];
	PGresult *r;
	char same[24], other[24];

	fixture_or_fail(&f, "sms", 120);
	p[0] = f.phone;
	r = hx_db_exec_or_fail(
		"WITH b AS (INSERT INTO businesses (name, time_zone, callback_phone, status, verified,"
		" twilio_from) VALUES ('Same Sender', 'UTC', '+15005550006', 'active', true,"
		" '+15005550006'), ('Other Sender', 'UTC', '+15005550006', 'active', true,"
		" '+15017122661') RETURNING id, name),"
		" c AS (INSERT INTO clients (business_id, name, phone, time_zone)"
		" SELECT id, name, $1, 'UTC' FROM b RETURNING id, name)"
		" SELECT (SELECT id FROM c WHERE name = 'Same Sender'),"
		" (SELECT id FROM c WHERE name = 'Other Sender')", 1, p);
	snprintf(same, sizeof(same), "%s", PQgetvalue(r, 0, 0));
	snprintf(other, sizeof(other), "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	e.allowed = f.phone;
	enqueue_or_fail(f.reminder, 1);
	assert_int_equal(worker_run(&e, ONCE), 0);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.attempt, "placed");
	aid = attempt_field(&f, "id");
	assert_int_equal(callback("sms", aid, s.sid, "sent", NULL, NULL, HX_SIGNED), 200);
	assert_int_equal(callback("sms", aid, s.sid, "undelivered", NULL, "21610", HX_SIGNED), 200);
	assert_int_equal(callback("sms", aid, s.sid, "sent", NULL, NULL, HX_SIGNED), 200);
	free(aid);
	p[0] = f.client;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM clients WHERE id = $1::bigint"
		" AND opted_out_at IS NOT NULL", 1, p), 1);
	p[0] = same;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM clients WHERE id = $1::bigint"
		" AND opted_out_at IS NOT NULL", 1, p), 1);
	p[0] = other;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM clients WHERE id = $1::bigint"
		" AND opted_out_at IS NOT NULL", 1, p), 0);
	aid = attempt_field(&f, "delivery_status");
	if (strcmp(aid, "undelivered") != 0 && strcmp(aid, "delivered") != 0)
		fail_msg("delivery_status '%s' after a final status", aid);
	free(aid);
}

/* A tripped failsafe: zero contacts across worker restarts, the reminder
 * stays pending; after resume it goes out once. */
static void test_failsafe_tripped(void **state)
{
	struct hx_rfix f;
	struct wenv e = { 0 };

	fixture_or_fail(&f, "voice", 120);
	e.allowed = f.phone;
	hx_db_cmd_or_fail("UPDATE failsafe_state SET tripped = true, reason = 'test_worker',"
		" tripped_at = now(), tripped_by = 'test_worker' WHERE id = 1", 0, NULL);
	for (int i = 0; i < 3; i++) {
		enqueue_or_fail(f.reminder, 1);
		assert_int_equal(worker_run(&e, ONCE), 0);
	}
	hx_db_cmd_or_fail("UPDATE failsafe_state SET tripped = false, resumed_at = now(),"
		" resumed_by = 'test_worker', resume_reason = 'test over' WHERE id = 1", 0, NULL);
	untouched_or_fail(&f);
	placed_once_or_fail(&f, &e);
}

/* Cancelled appointments, opted-out clients and closed windows are not
 * claimed. */
static void test_claim_refusals(void **state)
{
	struct hx_rfix f[3];
	struct wenv e = { 0 };
	char allowed[64];
	const char *p[1];

	for (int i = 0; i < 3; i++)
		fixture_or_fail(&f[i], "voice", 120);
	snprintf(allowed, sizeof(allowed), "%s,%s,%s", f[0].phone, f[1].phone, f[2].phone);
	e.allowed = allowed;
	p[0] = f[0].appt;
	hx_db_cmd_or_fail("UPDATE appointments SET status = 'cancelled', cancelled_at = now()"
		" WHERE id = $1::bigint", 1, p);
	p[0] = f[1].client;
	hx_db_cmd_or_fail("UPDATE clients SET opted_out_at = now() WHERE id = $1::bigint", 1, p);
	p[0] = f[2].business;
	/* A window that is closed now in UTC. */
	hx_db_cmd_or_fail("UPDATE businesses SET window_start = (now() AT TIME ZONE 'UTC' + interval '2 hours')::time,"
		" window_end = (now() AT TIME ZONE 'UTC' + interval '3 hours')::time WHERE id = $1::bigint"
		" AND (now() AT TIME ZONE 'UTC' + interval '2 hours')::time"
		"  < (now() AT TIME ZONE 'UTC' + interval '3 hours')::time", 1, p);
	for (int i = 0; i < 3; i++)
		enqueue_or_fail(f[i].reminder, 1);
	assert_int_equal(worker_run(&e, ONCE), 0);
	for (int i = 0; i < 3; i++) {
		struct hx_rstate s;
		hx_rstate_or_fail(&f[i], &s);
		if (i == 2 && strcmp(s.attempt, "placed") == 0)
			continue; /* between 21:00 and 22:00 UTC the window cannot be moved */
		assert_string_equal(s.reminder, "pending");
		assert_int_equal(s.attempts, 0);
		assert_int_equal(sim_count_or_fail("calls", f[i].phone, NULL), 0);
	}
}

/* DESIGN rule 13: an unverified trial business reaches nobody but its own
 * number; once verified it reaches its clients. */
static void test_trial_gate(void **state)
{
	struct hx_rfix f[2];
	struct wenv e = { 0 };
	char allowed[64];
	const char *p[2];
	struct hx_rstate s;
	(void)state;

	for (int i = 0; i < 2; i++)
		fixture_or_fail(&f[i], "voice", 120);
	snprintf(allowed, sizeof(allowed), "%s,%s", f[0].phone, f[1].phone);
	e.allowed = allowed;
	/* f[0]: a client's number; f[1]: the business's own number. */
	for (int i = 0; i < 2; i++) {
		p[0] = f[i].business;
		p[1] = i == 1 ? f[1].phone : "+15005550006";
		hx_db_cmd_or_fail("UPDATE businesses SET status = 'trial', verified = false,"
			" callback_phone = $2 WHERE id = $1::bigint", 2, p);
		enqueue_or_fail(f[i].reminder, 1);
	}
	assert_int_equal(worker_run(&e, ONCE), 0);
	untouched_or_fail(&f[0]);
	hx_rstate_or_fail(&f[1], &s);
	assert_string_equal(s.attempt, "placed");
	assert_int_equal(sim_count_or_fail("calls", f[1].phone, NULL), 1);

	/* Verified, the same trial business reaches its client. */
	p[0] = f[0].business;
	hx_db_cmd_or_fail("UPDATE businesses SET verified = true WHERE id = $1::bigint", 1, p);
	placed_once_or_fail(&f[0], &e);
}

static int group_setup(void **state)
{
	if (hx_init_sim_api("worker tests", &api_url, api_base, sizeof(api_base)) < 0)
		return -1;
	if ((bin_path = hx_ringfence_bin("worker")) == NULL)
		return -1;
	w_rds = rds_open(hx_env.redis_url);
	if (w_rds == NULL)
		return -1;
	w_initialised = 1;
	return 0;
}

static int group_teardown(void **state)
{
	char err[256];
	PGresult *r;
	if (w_initialised) {
		/* Never leave the stack's failsafe tripped for the next group. */
		r = hx_db_exec("UPDATE failsafe_state SET tripped = false WHERE reason = 'test_worker'",
			0, NULL, err, sizeof(err));
		if (r)
			PQclear(r);
		rds_close(w_rds);
	}
	hx_fini();
	return 0;
}

/* The claim's contact limit at its boundary under two workers at once
 * (sql/027 reads the limit-th most recent contact along an index): with
 * 3 contacts a day to one recipient, 8 reminders to it claimed by two
 * connections in parallel make exactly 3 contacts; the other 5 are
 * deferred (stale in 3 days), never a 4th attempt written. */
static void test_claim_limit_boundary_parallel(void **state)
{
	enum { N = 8, WORKERS = 2 };
	struct hx_rfix f;
	char ids[N][24];
	pid_t pids[WORKERS];
	int claimed = 0;
	PGresult *res;
	char *v;

	(void)state;
	fixture_or_fail(&f, "voice", 4320);
	snprintf(ids[0], sizeof(ids[0]), "%s", f.reminder);
	{
		const char *p[2] = { f.reminder, f.phone };
		res = hx_db_exec_or_fail(
			"INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes, due_at,"
			" stale_at, to_address) SELECT business_id, appointment_id, 'sms', o, due_at,"
			" due_at + interval '3 days', $2 FROM reminders, generate_series(1, 7) o"
			" WHERE id = $1::bigint ORDER BY o RETURNING id", 2, p);
		assert_int_equal(PQntuples(res), N - 1);
		for (int i = 1; i < N; i++)
			snprintf(ids[i], sizeof(ids[i]), "%s", PQgetvalue(res, i - 1, 0));
		PQclear(res);
	}
	for (int w = 0; w < WORKERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0) {
			struct db *db = db_open(hx_env.database_url);
			int ok = 0;
			for (int i = w; i < N; i += WORKERS) {
				const char *p[2] = { ids[i], w ? "w1" : "w0" };
				PGresult *r = db_exec(db, "SELECT outcome FROM reminder_claim($1::bigint,"
					" now(), $2, 120, NULL, 3, 100, 1000)", 2, p);
				if (r == NULL || PQntuples(r) != 1)
					_exit(100);
				if (strcmp(PQgetvalue(r, 0, 0), "claimed") == 0)
					ok++;
				else if (strcmp(PQgetvalue(r, 0, 0), "deferred") != 0)
					_exit(101);
				PQclear(r);
			}
			db_close(db);
			_exit(ok);
		}
	}
	for (int w = 0; w < WORKERS; w++) {
		int st;
		assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
		assert_true(WIFEXITED(st));
		if (WEXITSTATUS(st) >= 100)
			fail_msg("worker %d: a claim failed or was neither claimed nor deferred (%d)", w,
				WEXITSTATUS(st));
		claimed += WEXITSTATUS(st);
	}
	assert_int_equal(claimed, 3);
	{
		const char *p[1] = { f.phone };
		v = hx_db_value_or_fail("SELECT count(*) FROM contact_attempts WHERE to_address = $1"
			" AND status IN ('dialing', 'placed', 'unknown')", 1, p);
		assert_string_equal(v, "3");
		free(v);
		v = hx_db_value_or_fail("SELECT count(*) FROM reminders WHERE to_address = $1"
			" AND status = 'pending' AND not_before > now()", 1, p);
		assert_string_equal(v, "5");
		free(v);
		/* Settled, so that nothing later takes these for calls in flight. */
		res = hx_db_exec_or_fail("WITH a AS (UPDATE contact_attempts SET"
			" status = 'skipped_rate_limited', settled_at = now() WHERE to_address = $1"
			" AND status = 'dialing' RETURNING reminder_id)"
			" UPDATE reminders SET status = 'skipped' WHERE to_address = $1", 1, p);
		PQclear(res);
	}
}

int worker_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_called_exactly_once),
		cmocka_unit_test(test_sms_once_without_notes),
		cmocka_unit_test(test_sms_uses_business_wording),
		cmocka_unit_test(test_long_name_sms_form),
		cmocka_unit_test(test_sms_over_two_segments_not_sent),
		cmocka_unit_test(test_sms_is_the_template),
		cmocka_unit_test(test_email_once_without_notes),
		cmocka_unit_test(test_allowlist_refused),
		cmocka_unit_test(test_crash_after_pop),
		cmocka_unit_test(test_crash_after_claim),
		cmocka_unit_test(test_crash_during_request),
		cmocka_unit_test(test_crash_before_record),
		cmocka_unit_test(test_racing_workers),
		cmocka_unit_test(test_twilio_unreachable),
		cmocka_unit_test(test_twilio_500_and_hanging),
		cmocka_unit_test(test_rate_limit_defer_and_skip),
		cmocka_unit_test(test_limit_survives_redis_loss),
		cmocka_unit_test(test_limit_across_businesses),
		cmocka_unit_test(test_claim_limit_boundary_parallel),
		cmocka_unit_test(test_business_hour_survives_flush),
		cmocka_unit_test(test_racing_for_last_slot),
		cmocka_unit_test(test_status_callbacks_ordered),
		cmocka_unit_test(test_busy_retry),
		cmocka_unit_test(test_sms_opt_out_callback),
		cmocka_unit_test(test_failsafe_tripped),
		cmocka_unit_test(test_claim_refusals),
		cmocka_unit_test(test_trial_gate),
		cmocka_unit_test(test_redis_down),
		cmocka_unit_test(test_postgres_down),
	};
	return cmocka_run_group_tests_name("integration: worker", tests, group_setup,
		group_teardown);
}

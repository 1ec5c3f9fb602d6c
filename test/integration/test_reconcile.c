/* Integration tests of the reconciler (`ringfence worker --reconcile-once`)
 * against the live stack and a simulator as strict as Twilio: its date
 * filters apply to start_time / date_sent, so a call still in Twilio's
 * queue or a text still queued is found only by a list without them.
 *
 * The group restarts the simulator with RINGFENCE_SIM_QUEUE_DELAY_MS, so
 * that every call and message created during it stays queued (no
 * start_time, no date_sent), and restarts it as it was at the end.  A
 * worker killed while its request is in flight (RINGFENCE_TEST_CRASH_AT=
 * during_request) loses the answer of a create that Twilio accepted: the
 * attempt must be reconciled as placed with that sid, never not_placed,
 * and nothing is sent twice.  An answer that names a sid is settled by
 * fetching it (placed, or not_placed on 20404); a list that cannot be
 * read to its end leaves the attempt unknown.  Each test uses fresh
 * random numbers. */
#include "harness.h"
#include "fakeapp.h"

#include "queue.h"
#include "rds.h"
#include "util.h"

#include <curl/curl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define R_TIMEOUT_S 90
#define R_QUEUE_DELAY_MS "600000"   /* longer than the group runs */

static const char *api_url;
static char api_base[300];
static const char *bin_path;
static struct rds *r_rds;
static int r_initialised, r_sim_held;
static char *saved_delay, *saved_cps;   /* the environment's values, restored */

/* ---- fixtures ------------------------------------------------------- */

/* A business open all day in UTC, a client with a fresh phone, an
 * appointment tomorrow and one reminder on channel (voice or sms) due a
 * minute ago. */
static void fixture_or_fail(struct hx_rfix *f, const char *channel)
{
	const struct hx_rfix_opts o = { .business_name = "Reconcile Test Clinic",
		.client_name = "Reconcile Test Client", .channel = channel, .retry_count = 0,
		.retry_delay_minutes = 5, .stale_min = 120 };
	hx_rfix_or_fail(f, &o);
}

static void enqueue_or_fail(const char *reminder_id)
{
	long long id = atoll(reminder_id);
	assert_int_equal(queue_push(r_rds, &id, 1), 0);
}

/* Waits until the reminder's attempt lease has passed (by the database's
 * clock, a whole second past it, as leases are compared in seconds). */
static void wait_lease_over_or_fail(const struct hx_rfix *f)
{
	const char *p[1] = { f->reminder };
	long long deadline = hx_now_ms() + 30000;
	while (hx_db_int_or_fail("SELECT count(*) FROM contact_attempts WHERE reminder_id = $1::bigint"
				 " AND lease_until < now() - interval '1 second'", 1, p) == 0) {
		if (hx_now_ms() > deadline)
			fail_msg("the lease of reminder %s never expired", f->reminder);
		hx_sleep_ms(100);
	}
}

/* ---- the simulator -------------------------------------------------- */

/* Every call ("calls") or message ("messages") the simulator has to
 * phone, reading every page; the oldest one's sid and status into sid /
 * status when not NULL. */
static size_t sim_count_or_fail(const char *kind, const char *phone, char sid[64], char status[32])
{
	char *esc = curl_easy_escape(NULL, phone, 0);
	char *url = xasprintf("%s/%s.json?To=%s&PageSize=1000", api_base,
		strcmp(kind, "calls") == 0 ? "Calls" : "Messages", esc);
	json_t *j = hx_sim_json_or_fail(url, NULL);
	json_t *arr = json_object_get(j, kind), *last;
	size_t n;

	assert_true(json_is_array(arr));
	assert_true(json_is_null(json_object_get(j, "next_page_uri")));
	n = json_array_size(arr);
	last = n > 0 ? json_array_get(arr, n - 1) : NULL;
	if (sid)
		snprintf(sid, 64, "%s", last ? json_string_value(json_object_get(last, "sid")) : "");
	if (status)
		snprintf(status, 32, "%s", last ? json_string_value(json_object_get(last, "status")) : "");
	json_decref(j);
	curl_free(esc);
	free(url);
	return n;
}

/* Creates a call to phone in the simulator (held queued in this group);
 * its sid into sid. */
static void sim_call_or_fail(const char *phone, char sid[64])
{
	char *url = xasprintf("%s/Calls.json", api_base);
	struct hx_form f;
	char *body;
	json_t *j;

	hx_form_init(&f);
	hx_form_add(&f, "To", phone);
	hx_form_add(&f, "From", "+15005550006");
	hx_form_add(&f, "Twiml", "<Response><Hangup/></Response>");
	body = hx_form_encode(&f);
	j = hx_sim_json_or_fail(url, body);
	snprintf(sid, 64, "%s", json_string_value(json_object_get(j, "sid")));
	assert_string_equal(json_string_value(json_object_get(j, "status")), "queued");
	json_decref(j);
	free(body);
	hx_form_free(&f);
	free(url);
}

/* Restarts the simulator with RINGFENCE_SIM_QUEUE_DELAY_MS = delay (NULL:
 * the value the environment had). */
static int sim_restart(const char *delay)
{
	if (delay)
		setenv("RINGFENCE_SIM_QUEUE_DELAY_MS", delay, 1);
	else if (saved_delay)
		setenv("RINGFENCE_SIM_QUEUE_DELAY_MS", saved_delay, 1);
	else
		unsetenv("RINGFENCE_SIM_QUEUE_DELAY_MS");
	if (saved_cps == NULL)
		unsetenv("RINGFENCE_SIM_CPS");
	return hx_stack("sim-restart", NULL, 120);
}

/* ---- running the worker --------------------------------------------- */

struct renv {
	const char *allowed;
	const char *crash_at;
	const char *api_url;      /* TWILIO_API_URL override or NULL */
};

static pid_t worker_start(const struct renv *e, const char *const *args)
{
	pid_t pid = fork();
	if (pid == 0) {
		setenv("RINGFENCE_ALLOWED_CONTACTS", e->allowed ? e->allowed : "", 1);
		if (e->crash_at) {
			setenv("RINGFENCE_TEST_CRASH_AT", e->crash_at, 1);
			/* Long enough for the simulator to answer: the worker
			 * dies with Twilio's answer in hand, unrecorded. */
			setenv("RINGFENCE_TEST_CRASH_DELAY_MS", "1500", 1);
		} else {
			unsetenv("RINGFENCE_TEST_CRASH_AT");
		}
		if (e->api_url)
			setenv("TWILIO_API_URL", e->api_url, 1);
		setenv("RINGFENCE_FAILSAFE_FLOOR", "100000", 1);
		hx_exec_worker(bin_path, args);
	}
	assert_true(pid > 0);
	return pid;
}

static int worker_run(const struct renv *e, const char *const *args)
{
	return hx_wait_child(worker_start(e, args), R_TIMEOUT_S);
}

static const char *const ONCE[] = { "--once", NULL };
static const char *const ONCE_LEASE_1[] = { "--once", "--lease", "1", NULL };
static const char *const RECONCILE[] = { "--reconcile-once", NULL };

/* The reminder's create request reaches the simulator, which accepts it
 * (and holds it queued), and the worker dies before it records the
 * answer: the attempt is left 'dialing' with no sid, then its lease
 * passes. */
static void lost_answer_or_fail(const struct hx_rfix *f, const struct renv *base)
{
	struct renv e = *base;
	struct hx_rstate s;

	e.crash_at = "during_request";
	enqueue_or_fail(f->reminder);
	if (worker_run(&e, ONCE_LEASE_1) == 0)
		fail_msg("the worker did not die during its request");
	hx_rstate_or_fail(f, &s);
	assert_string_equal(s.attempt, "dialing");
	assert_string_equal(s.sid, "");
	wait_lease_over_or_fail(f);
}

/* ---- tests ------------------------------------------------------------ */

/* A reminder on channel whose resource (kind "calls" or "messages", a
 * noun in messages) is still in Twilio's queue, its create answer lost:
 * placed with its sid, never not_placed, and never sent twice, even when
 * the ids come again (and, with reconcile_again, reconciliation runs
 * again). */
static void queued_answer_lost_or_fail(const char *channel, const char *kind, const char *noun,
	int reconcile_again)
{
	struct hx_rfix f;
	struct hx_rstate s;
	struct renv e = { 0 };
	char sid[64], status[32];

	fixture_or_fail(&f, channel);
	e.allowed = f.phone;
	lost_answer_or_fail(&f, &e);
	assert_int_equal(sim_count_or_fail(kind, f.phone, sid, status), 1);
	assert_string_equal(status, "queued");
	assert_int_equal(worker_run(&e, RECONCILE), 0);
	hx_rstate_or_fail(&f, &s);
	if (strcmp(s.attempt, "placed") != 0)
		fail_msg("a queued %s was reconciled as '%s' (%s)", noun, s.attempt, s.reason);
	assert_string_equal(s.sid, sid);
	/* The ids come again: nobody is contacted a second time. */
	enqueue_or_fail(f.reminder);
	assert_int_equal(worker_run(&e, ONCE), 0);
	if (reconcile_again)
		assert_int_equal(worker_run(&e, RECONCILE), 0);
	hx_rstate_or_fail(&f, &s);
	assert_int_equal(s.attempts, 1);
	if (reconcile_again)
		assert_string_equal(s.attempt, "placed");
	assert_int_equal(sim_count_or_fail(kind, f.phone, NULL, NULL), 1);
}

/* A call still in Twilio's queue, its create answer lost: placed with its
 * sid, never not_placed, and never dialled twice. */
static void test_queued_call_answer_lost(void **state)
{
	(void)state;
	queued_answer_lost_or_fail("voice", "calls", "call", 1);
}

/* The same for a text still queued (no date_sent). */
static void test_queued_text_answer_lost(void **state)
{
	(void)state;
	queued_answer_lost_or_fail("sms", "messages", "text", 0);
}

/* Twilio answers the create with a 500 that still names the call: the
 * attempt keeps the sid and is settled by fetching it, placed when Twilio
 * has it (queued), not_placed when Twilio answers 20404. */
static void test_sid_fetched(void **state)
{
	struct fakeapp *fa = NULL;
	struct hx_rfix f[2];
	struct hx_rstate s;
	struct renv e = { 0 };
	char err[256], path[128], allowed[40], known[64], unknown[35], body[200], *api;
	(void)state;

	if (fakeapp_start(&fa, err, sizeof(err)) < 0)
		fail_msg("fakeapp: %s", err);
	api = xstrdup(fakeapp_url(fa));
	snprintf(path, sizeof(path), "/2010-04-01/Accounts/%s/Calls.json", hx_env.account_sid);
	for (int i = 0; i < 2; i++)
		fixture_or_fail(&f[i], "voice");
	snprintf(allowed, sizeof(allowed), "%s,%s", f[0].phone, f[1].phone);
	e.allowed = allowed;
	e.api_url = api;
	/* f[0]: Twilio did create the call (it is in the simulator, queued). */
	sim_call_or_fail(f[0].phone, known);
	hx_random_call_sid(unknown);
	for (int i = 0; i < 2; i++) {
		snprintf(body, sizeof(body), "{\"sid\": \"%s\", \"status\": \"queued\", \"code\": 20500}",
			i == 0 ? known : unknown);
		fakeapp_serve(fa, path, 500, "application/json", body, 0);
		enqueue_or_fail(f[i].reminder);
		assert_int_equal(worker_run(&e, ONCE), 0);
		hx_rstate_or_fail(&f[i], &s);
		assert_string_equal(s.attempt, "unknown");
		assert_string_equal(s.sid, i == 0 ? known : unknown);
	}
	/* Twilio is back for the reconciler. */
	e.api_url = NULL;
	assert_int_equal(worker_run(&e, RECONCILE), 0);
	hx_rstate_or_fail(&f[0], &s);
	if (strcmp(s.attempt, "placed") != 0)
		fail_msg("a sid Twilio has was reconciled as '%s' (%s)", s.attempt, s.reason);
	assert_string_equal(s.sid, known);
	hx_rstate_or_fail(&f[1], &s);
	if (strcmp(s.attempt, "not_placed") != 0)
		fail_msg("a sid Twilio does not know was reconciled as '%s' (%s)", s.attempt, s.reason);
	assert_non_null(strstr(s.reason, "20404"));
	/* The call that never left is the reminder's last attempt: the office
	 * is told (notify.h), once; the placed one tells nothing. */
	for (int i = 0; i < 2; i++) {
		const char *p[1] = { f[i].reminder };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM office_notifications"
						   " WHERE reminder_id = $1::bigint AND kind = 'unreached'",
					 1, p), i);
	}
	assert_int_equal(sim_count_or_fail("calls", f[0].phone, NULL, NULL), 1);
	assert_int_equal(sim_count_or_fail("calls", f[1].phone, NULL, NULL), 0);
	fakeapp_stop(fa);
	free(api);
}

/* More calls to the number than one page of the list: the reconciler
 * follows next_page_uri to the last page, where the attempt's own call
 * (the oldest since the attempt) is. */
static void test_list_across_pages(void **state)
{
	enum { MORE = 130 };   /* above the client's page of 100 */
	struct hx_rfix f;
	struct hx_rstate s;
	struct renv e = { 0 };
	char sid[64], other[64];
	int rc;
	(void)state;

	fixture_or_fail(&f, "voice");
	e.allowed = f.phone;
	lost_answer_or_fail(&f, &e);
	assert_int_equal(sim_count_or_fail("calls", f.phone, sid, NULL), 1);
	for (int i = 0; i < MORE; i++)
		sim_call_or_fail(f.phone, other);
	rc = worker_run(&e, RECONCILE);
	/* Those calls were never ringfence's: cancel them rather than let
	 * the simulator dial them when it is restarted. */
	{
		const char *p[2] = { f.phone, sid };
		PQclear(hx_db_exec_or_fail("UPDATE twilio_sim.calls SET status = 'canceled', end_time = now(),"
				     " date_updated = now() WHERE to_number = $1 AND sid <> $2"
				     " AND status = 'queued' AND driver_pid IS NULL", 2, p));
	}
	assert_int_equal(rc, 0);
	hx_rstate_or_fail(&f, &s);
	if (strcmp(s.attempt, "placed") != 0)
		fail_msg("reconciled as '%s' (%s)", s.attempt, s.reason);
	assert_string_equal(s.sid, sid);
}

/* A list that cannot be read to its end (a 500, a page that is not
 * Twilio's JSON, a next page that fails) says nothing: the attempt stays
 * unknown; with Twilio readable again it is settled. */
static void test_list_unreadable(void **state)
{
	struct fakeapp *fa = NULL;
	struct hx_rfix f;
	struct hx_rstate s;
	struct renv e = { 0 };
	char err[256], path[128], page2[200], body[600], *api;
	(void)state;

	if (fakeapp_start(&fa, err, sizeof(err)) < 0)
		fail_msg("fakeapp: %s", err);
	api = xstrdup(fakeapp_url(fa));
	snprintf(path, sizeof(path), "/2010-04-01/Accounts/%s/Calls.json", hx_env.account_sid);
	snprintf(page2, sizeof(page2), "/2010-04-01/Accounts/%s/Calls/Page2.json", hx_env.account_sid);
	fixture_or_fail(&f, "voice");
	e.allowed = f.phone;
	e.api_url = api;
	/* The create: a 500 without a sid. */
	fakeapp_serve(fa, path, 500, "application/json", "{\"code\": 20500, \"status\": 500}", 0);
	enqueue_or_fail(f.reminder);
	assert_int_equal(worker_run(&e, ONCE), 0);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.attempt, "unknown");
	assert_string_equal(s.sid, "");

	/* 1: the list answers 500. */
	assert_int_equal(worker_run(&e, RECONCILE), 0);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.attempt, "unknown");
	/* 2: a 200 that is not a list. */
	fakeapp_serve(fa, path, 200, "application/json", "<html>maintenance</html>", 0);
	assert_int_equal(worker_run(&e, RECONCILE), 0);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.attempt, "unknown");
	/* 3: an empty first page whose next page fails. */
	snprintf(body, sizeof(body), "{\"calls\": [], \"next_page_uri\": \"%s?PageSize=100&Page=1"
		"&PageToken=PACA00000000000000000000000000000000\", \"page\": 0, \"page_size\": 100}",
		page2);
	fakeapp_serve(fa, path, 200, "application/json", body, 0);
	fakeapp_serve(fa, page2, 503, "application/json", "{\"code\": 20503}", 0);
	assert_int_equal(worker_run(&e, RECONCILE), 0);
	assert_true(fakeapp_count(fa, page2) >= 1);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.attempt, "unknown");
	/* Twilio readable again, and it has no call: not_placed. */
	e.api_url = NULL;
	assert_int_equal(worker_run(&e, RECONCILE), 0);
	hx_rstate_or_fail(&f, &s);
	assert_string_equal(s.attempt, "not_placed");
	assert_int_equal(sim_count_or_fail("calls", f.phone, NULL, NULL), 0);
	fakeapp_stop(fa);
	free(api);
}

/* ---- group ------------------------------------------------------------ */

static int group_setup(void **state)
{
	const char *v;
	(void)state;
	if (hx_init_sim_api("reconcile tests", &api_url, api_base, sizeof(api_base)) < 0)
		return -1;
	if ((bin_path = hx_ringfence_bin("reconcile")) == NULL)
		return -1;
	r_rds = rds_open(hx_env.redis_url);
	if (r_rds == NULL)
		return -1;
	v = getenv("RINGFENCE_SIM_QUEUE_DELAY_MS");
	saved_delay = v ? xstrdup(v) : NULL;
	v = getenv("RINGFENCE_SIM_CPS");
	saved_cps = v ? xstrdup(v) : NULL;
	r_initialised = 1;
	if (sim_restart(R_QUEUE_DELAY_MS) != 0) {
		fprintf(stderr, "reconcile tests: deploy/stack sim-restart failed\n");
		return -1;
	}
	r_sim_held = 1;
	return 0;
}

static int group_teardown(void **state)
{
	int rc = 0;
	(void)state;
	if (r_sim_held && sim_restart(NULL) != 0) {
		fprintf(stderr, "reconcile tests: the simulator could not be restarted as it was\n");
		rc = -1;
	}
	if (r_initialised)
		rds_close(r_rds);
	free(saved_delay);
	free(saved_cps);
	hx_fini();
	return rc;
}

int reconcile_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queued_call_answer_lost),
		cmocka_unit_test(test_queued_text_answer_lost),
		cmocka_unit_test(test_sid_fetched),
		cmocka_unit_test(test_list_across_pages),
		cmocka_unit_test(test_list_unreadable),
	};
	return cmocka_run_group_tests_name("integration: reconcile", tests, group_setup,
		group_teardown);
}

/* Integration tests of the reconciler's sweep of calls whose status
 * callbacks were lost (reconcile.h), through the stack and its simulator.
 *
 * A worker started as a node whose RINGFENCE_PUBLIC_URL is a port nobody
 * listens on (hx_dead_origin: a dead node, as in test_fallback.c) and
 * whose fallback is the stack places the call: the call's TwiML comes from the stack through
 * FallbackUrl, but its status callbacks, which have no fallback, go to
 * the dead node only, so the attempt never hears how the call ended.
 * `ringfence worker --reconcile-once` with RINGFENCE_TEST_CALL_SILENT_S=0
 * (the bound, 4 h 30 min, made 0 for the test) then fetches the call from
 * the simulator and applies its final status through the status
 * callback's rule, once; a call still ringing is left alone; a call a
 * late callback settled first is not touched; a sid the simulator does
 * not know (20404) is recorded for a person, once, and nothing guessed.
 * Each test uses fresh random numbers. */
#include "harness.h"
#include "fakeapp.h"

#include "queue.h"
#include "rds.h"
#include "util.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define W_DEADLINE_S 90
#define W_POLL_MS 250

static const char *api_url;
static char api_base[300];
static const char *bin_path;
static struct rds *w_rds;
static int w_initialised;

/* Runs `ringfence worker ARGS` as the dead node (its public URL is
 * hx_dead_origin(), its fallback the stack), with Twilio at api (NULL: the
 * simulator) and the sweep's bound 0; its exit status. */
static int node_worker(const char *allowed, const char *api, const char *const *args)
{
	pid_t pid = fork();

	if (pid == 0) {
		hx_worker_child_env(allowed);
		setenv("RINGFENCE_PUBLIC_URL", hx_dead_origin(), 1);
		setenv("RINGFENCE_FALLBACK_URL", hx_env.public_url, 1);
		setenv("RINGFENCE_TEST_CALL_SILENT_S", "0", 1);
		if (api)
			setenv("TWILIO_API_URL", api, 1);
		hx_exec_worker(bin_path, args);
	}
	assert_true(pid > 0);
	return hx_wait_child(pid, 120);
}

static const char *const ONCE[] = { "--once", NULL };
static const char *const RECONCILE[] = { "--reconcile-once", NULL };

static int reconcile_pass(void)
{
	return node_worker("", NULL, RECONCILE);
}

/* A voice reminder for a fresh phone behaving as beh (retry_count 0: a
 * call that fails is the reminder's last attempt), placed by the dead
 * node; its sid. */
static void place_or_fail(struct hx_rfix *f, const char *beh, const char *api, char sid[64])
{
	const struct hx_rfix_opts o = { .business_name = "Sweep Test Clinic",
		.client_name = "Sweep Test Client", .channel = "voice", .retry_count = 0,
		.retry_delay_minutes = 5, .stale_min = 120 };
	struct hx_rstate s;
	long long id;

	hx_rfix_or_fail(f, &o);
	if (beh)
		hx_sim_callee_or_fail(f->phone, beh);
	id = atoll(f->reminder);
	assert_int_equal(queue_push(w_rds, &id, 1), 0);
	assert_int_equal(node_worker(f->phone, api, ONCE), 0);
	hx_rstate_or_fail(f, &s);
	if (strcmp(s.attempt, "placed") != 0 || s.sid[0] == '\0')
		fail_msg("not placed: attempt '%s', reminder %s (%s)", s.attempt, s.reminder, s.reason);
	snprintf(sid, 64, "%s", s.sid);
}

/* The simulator's status of call sid. */
static void sim_status_or_fail(const char *sid, char status[32])
{
	char *url = xasprintf("%s/Calls/%s.json", api_base, sid);
	json_t *j = hx_sim_json_or_fail(url, NULL);
	json_t *v = json_object_get(j, "status");

	snprintf(status, 32, "%s", json_is_string(v) ? json_string_value(v) : "");
	json_decref(j);
	free(url);
}

/* Waits until the simulator's call sid is final; its status. */
static void sim_final_or_fail(const char *sid, char status[32])
{
	long long deadline = hx_now_ms() + W_DEADLINE_S * 1000LL;

	for (;;) {
		sim_status_or_fail(sid, status);
		if (strcmp(status, "completed") == 0 || strcmp(status, "busy") == 0 ||
			strcmp(status, "no-answer") == 0 || strcmp(status, "failed") == 0 ||
			strcmp(status, "canceled") == 0)
			return;
		if (hx_now_ms() >= deadline)
			fail_msg("%s still '%s' after %d s", sid, status, W_DEADLINE_S);
		hx_sleep_ms(W_POLL_MS);
	}
}

/* What the database holds about reminder f's attempt and call, as one
 * line: attempt status, delivery status, updated_at, status_lost_at set,
 * the reminder's status and reason, the call's status, the office's
 * notices.  Two equal lines: nothing moved. */
static char *row_or_fail(const struct hx_rfix *f)
{
	const char *p[1] = { f->reminder };
	char *v = hx_db_value_or_fail(
		"SELECT concat_ws('|', a.status, COALESCE(a.delivery_status, '-'), a.updated_at,"
		" a.status_lost_at IS NOT NULL, r.status, r.status_reason,"
		" (SELECT COALESCE(string_agg(COALESCE(c.call_status, '-'), ','), '-') FROM calls c"
		"  WHERE c.reminder_id = r.id),"
		" (SELECT count(*) FROM office_notifications n WHERE n.reminder_id = r.id))"
		" FROM contact_attempts a JOIN reminders r ON r.id = a.reminder_id"
		" WHERE a.reminder_id = $1::bigint", 1, p);
	if (v == NULL)
		fail_msg("reminder %s has no attempt", f->reminder);
	return v;
}

static char *db_text_or_fail(const struct hx_rfix *f, const char *sql)
{
	const char *p[1] = { f->reminder };
	char *v = hx_db_value_or_fail(sql, 1, p);
	return v ? v : xstrdup("");
}

/* How many reconcile records with decision the call's audit trail has. */
static size_t audited(const char *sid, const char *decision)
{
	char key[80], err[200];
	json_t *arr;
	size_t n;

	snprintf(key, sizeof(key), "audit:call:%s", sid);
	arr = hx_audit_read(key, 0, err, sizeof(err));
	if (arr == NULL)
		fail_msg("audit %s: %s", key, err);
	n = hx_audit_count(arr, "kind", "reconcile", "decision", decision, NULL);
	json_decref(arr);
	return n;
}

static double verdict(const char *v)
{
	char *series = xasprintf("ringfence_reconciliations_total{verdict=\"%s\"}", v);
	double n = hx_metric(series);
	free(series);
	return n;
}

/* ---- tests ------------------------------------------------------------ */

/* A call answered and hung up, and a busy one: their callbacks went to
 * the dead node; the pass gives each the simulator's final status through
 * the callback's rule (the reminder, the call, the office's notice), once;
 * a second pass changes nothing. */
static void test_lost_callbacks_settled(void **state)
{
	struct hx_rfix f[2];
	const char *beh[2] = { "person; hangup", "busy" };
	char sid[2][64], final[2][32], *row[2], *again, *v;
	double before = verdict("status_settled");

	(void)state;
	for (int i = 0; i < 2; i++) {
		place_or_fail(&f[i], beh[i], NULL, sid[i]);
		sim_final_or_fail(sid[i], final[i]);
	}
	assert_string_equal(final[0], "completed");
	assert_string_equal(final[1], "busy");
	for (int i = 0; i < 2; i++) {
		/* Nothing came back: the attempt has no final status. */
		v = db_text_or_fail(&f[i], "SELECT COALESCE(delivery_status, '') FROM contact_attempts"
			" WHERE reminder_id = $1::bigint");
		assert_true(strcmp(v, "completed") != 0 && strcmp(v, "busy") != 0);
		free(v);
		assert_int_equal(audited(sid[i], "status_settled"), 0);
	}
	assert_int_equal(reconcile_pass(), 0);
	for (int i = 0; i < 2; i++) {
		v = db_text_or_fail(&f[i], "SELECT delivery_status FROM contact_attempts"
			" WHERE reminder_id = $1::bigint");
		assert_string_equal(v, final[i]);
		free(v);
		v = db_text_or_fail(&f[i], "SELECT status || '|' || status_reason FROM reminders"
			" WHERE id = $1::bigint");
		assert_string_equal(v, i == 0 ? "completed|call completed" : "failed|call busy");
		free(v);
		assert_int_equal(audited(sid[i], "status_settled"), 1);
	}
	/* The answered call's row follows, as for a callback. */
	v = db_text_or_fail(&f[0], "SELECT call_status FROM calls WHERE reminder_id = $1::bigint");
	assert_string_equal(v, "completed");
	free(v);
	/* The busy call was the reminder's last attempt: the office is told,
	 * once; the completed one tells nothing. */
	hx_notified_or_fail(f[1].appt, "unreached", "%call busy%", "~~", 1);
	hx_notified_or_fail(f[0].appt, "unreached", "%", "~~", 0);
	assert_true(verdict("status_settled") >= before + 2);

	for (int i = 0; i < 2; i++)
		row[i] = row_or_fail(&f[i]);
	assert_int_equal(reconcile_pass(), 0);
	for (int i = 0; i < 2; i++) {
		again = row_or_fail(&f[i]);
		assert_string_equal(again, row[i]);
		assert_int_equal(audited(sid[i], "status_settled"), 1);
		free(again);
		free(row[i]);
	}
}

/* A call still ringing at the simulator is left alone by the pass; once
 * it ended, the next pass settles it. */
static void test_in_progress_left(void **state)
{
	struct hx_rfix f;
	char sid[64], now[32], final[32], *row, *again, *v;

	(void)state;
	place_or_fail(&f, "person; ring 15; hangup", NULL, sid);
	row = row_or_fail(&f);
	assert_int_equal(reconcile_pass(), 0);
	sim_status_or_fail(sid, now);
	if (strcmp(now, "completed") == 0)
		fail_msg("the call ended before the pass could see it going: the test proves nothing");
	again = row_or_fail(&f);
	assert_string_equal(again, row);
	assert_int_equal(audited(sid, "status_settled"), 0);
	free(again);
	free(row);

	sim_final_or_fail(sid, final);
	assert_string_equal(final, "completed");
	assert_int_equal(reconcile_pass(), 0);
	v = db_text_or_fail(&f, "SELECT delivery_status FROM contact_attempts"
		" WHERE reminder_id = $1::bigint");
	assert_string_equal(v, "completed");
	free(v);
	assert_int_equal(audited(sid, "status_settled"), 1);
}

/* The final status callback arrives late (the node came back, or Twilio's
 * request was slow): it settles the call; the pass does not touch it. */
static void test_late_callback_first(void **state)
{
	struct hx_rfix f;
	struct hx_form form;
	struct hx_response rs;
	char sid[64], final[32], *attempt, *url, *row, *again, *v;

	(void)state;
	place_or_fail(&f, "busy", NULL, sid);
	sim_final_or_fail(sid, final);
	attempt = db_text_or_fail(&f, "SELECT id::text FROM contact_attempts"
		" WHERE reminder_id = $1::bigint");
	url = xasprintf("%s/twilio/status/call?a=%s", hx_env.public_url, attempt);
	hx_form_init(&form);
	hx_form_add(&form, "CallSid", sid);
	hx_form_add(&form, "AccountSid", hx_env.account_sid);
	hx_form_add(&form, "CallStatus", final);
	hx_form_add(&form, "SequenceNumber", "3");
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(hx_post_form(url, &form, HX_SIGNED, &rs), 0);
	assert_int_equal(rs.status, 200);
	hx_response_free(&rs);
	hx_form_free(&form);
	v = db_text_or_fail(&f, "SELECT delivery_status FROM contact_attempts"
		" WHERE reminder_id = $1::bigint");
	assert_string_equal(v, final);
	free(v);
	row = row_or_fail(&f);
	assert_int_equal(reconcile_pass(), 0);
	again = row_or_fail(&f);
	assert_string_equal(again, row);
	assert_int_equal(audited(sid, "status_settled"), 0);
	hx_notified_or_fail(f.appt, "unreached", "%call busy%", "~~", 1);
	free(again);
	free(row);
	free(url);
	free(attempt);
}

/* Twilio does not know the sid (20404): the pass records it for a person
 * (status_lost_at, an audit record, the metric), once, and guesses no
 * status; a second pass does not record it again. */
static void test_unknown_sid_recorded(void **state)
{
	struct fakeapp *fa = NULL;
	struct hx_rfix f;
	char err[256], path[128], sid[64], ghost[35], body[200], *row, *again, *v;
	double before = verdict("status_lost");

	(void)state;
	if (fakeapp_start(&fa, err, sizeof(err)) < 0)
		fail_msg("fakeapp: %s", err);
	/* Twilio's answer names a sid the simulator never had. */
	hx_random_call_sid(ghost);
	snprintf(path, sizeof(path), "/2010-04-01/Accounts/%s/Calls.json", hx_env.account_sid);
	snprintf(body, sizeof(body), "{\"sid\": \"%s\", \"status\": \"queued\"}", ghost);
	fakeapp_serve(fa, path, 201, "application/json", body, 0);
	place_or_fail(&f, NULL, fakeapp_url(fa), sid);
	fakeapp_stop(fa);
	assert_string_equal(sid, ghost);
	assert_int_equal(reconcile_pass(), 0);
	v = db_text_or_fail(&f, "SELECT concat_ws('|', status, COALESCE(delivery_status, '-'),"
		" status_lost_at IS NOT NULL) FROM contact_attempts WHERE reminder_id = $1::bigint");
	assert_string_equal(v, "placed|-|t");
	free(v);
	v = db_text_or_fail(&f, "SELECT status FROM reminders WHERE id = $1::bigint");
	assert_string_equal(v, "placed");
	free(v);
	assert_int_equal(audited(sid, "status_lost"), 1);
	assert_true(verdict("status_lost") >= before + 1);
	row = row_or_fail(&f);
	assert_int_equal(reconcile_pass(), 0);
	again = row_or_fail(&f);
	assert_string_equal(again, row);
	assert_int_equal(audited(sid, "status_lost"), 1);
	free(again);
	free(row);
}

/* ---- group ------------------------------------------------------------ */

static int group_setup(void **state)
{
	(void)state;
	hx_dead_origin(); /* bound in this process, before any worker forks */
	if (hx_init_sim_api("sweep tests", &api_url, api_base, sizeof(api_base)) < 0)
		return -1;
	if ((bin_path = hx_ringfence_bin("sweep")) == NULL)
		return -1;
	if ((w_rds = rds_open(hx_env.redis_url)) == NULL)
		return -1;
	w_initialised = 1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (w_initialised)
		rds_close(w_rds);
	w_initialised = 0;
	hx_fini();
	return 0;
}

int sweep_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lost_callbacks_settled),
		cmocka_unit_test(test_in_progress_left),
		cmocka_unit_test(test_late_callback_first),
		cmocka_unit_test(test_unknown_sid_recorded),
	};
	return cmocka_run_group_tests_name("sweep", tests, group_setup, group_teardown);
}

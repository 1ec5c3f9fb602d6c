/* Integration tests: whole reminder calls played by the simulator's call
 * player (sim_call_run) through nginx against the live stack, as Twilio
 * would play them, with the callee scripted; and `ringfence-sim simulate`
 * itself.  Each test checks what PostgreSQL holds afterwards.
 *
 * The calls run with time_scale 0.05, so a 5-second Gather timeout takes
 * a quarter of a second. */
#include "harness.h"

#include "buf.h"
#include "sim/sim_call.h"
#include "sim/sim_callee.h"
#include "util.h"

#include <strings.h>
#include <sys/wait.h>

#define SCALE 0.05

/* Every event of one call, as lines "kind text". */
struct transcript {
	struct buf lines;
	int presses;
	int silences;
	int callee_hangups;
	int app_hangups;
	int errors;
};

static void collect(void *ctx, const struct sim_event *ev)
{
	struct transcript *t = ctx;
	buf_printf(&t->lines, "%s %s\n", sim_event_name(ev->kind), ev->text);
	if (ev->kind == SIM_EV_PRESS)
		t->presses++;
	else if (ev->kind == SIM_EV_SILENCE)
		t->silences++;
	else if (ev->kind == SIM_EV_ERROR)
		t->errors++;
	else if (ev->kind == SIM_EV_HANGUP && strcmp(ev->text, "callee") == 0)
		t->callee_hangups++;
	else if (ev->kind == SIM_EV_HANGUP && strcmp(ev->text, "application") == 0)
		t->app_hangups++;
}

/* One played call: the fixture call c, what the callee heard (t), how
 * the call ended (res) and, once played, what PostgreSQL holds (s). */
struct scene {
	struct hx_call c;
	struct hx_snapshot s;
	struct transcript t;
	struct sim_call_result res;
};

/* Creates a fixture call and plays it with the callee script, its
 * webhooks signed with token; fails the test when the script does not
 * parse or the player could not run. */
static void play_token_or_fail(struct scene *sc, const char *script, const char *machine_detection,
	const char *token)
{
	struct sim_callee callee;
	struct sim_call_params p;
	char err[256];

	hx_fixture_call_or_fail(&sc->c);
	memset(&sc->t, 0, sizeof(sc->t));
	buf_init(&sc->t.lines);
	if (sim_callee_parse(script, &callee, err, sizeof(err)) < 0)
		fail_msg("script '%s': %s", script, err);
	memset(&p, 0, sizeof(p));
	p.call_sid = sc->c.call_sid;
	p.account_sid = hx_env.account_sid;
	p.auth_token = token;
	p.from = sc->c.from_number;
	p.to = sc->c.client_phone;
	p.direction = "outbound-api";
	p.url = sc->c.first_url;
	p.method = "POST";
	p.machine_detection = machine_detection;
	p.time_scale = SCALE;
	p.http_timeout_s = 15;
	if (sim_call_run(&p, &callee, collect, &sc->t, &sc->res) != 0)
		fail_msg("sim_call_run: %s", sc->res.error_message);
}

static void play_or_fail(struct scene *sc, const char *script, const char *machine_detection)
{
	play_token_or_fail(sc, script, machine_detection, hx_env.auth_token);
}

static void transcript_free(struct transcript *t)
{
	buf_free(&t->lines);
}

/* Fails, showing the transcript, when the call did not end well. */
static void ok_or_fail(const struct transcript *t, const struct sim_call_result *res)
{
	if (strcmp(res->status, "completed") != 0 || res->error_message[0] || t->errors)
		fail_msg("call ended %s, error %d: %s\n%s", res->status, res->error_code,
			res->error_message, buf_str(&t->lines));
}

/* Plays a fixture call that must end well, then reads its snapshot. */
static void play_ok_or_fail(struct scene *sc, const char *script, const char *machine_detection)
{
	play_or_fail(sc, script, machine_detection);
	ok_or_fail(&sc->t, &sc->res);
	hx_snapshot_or_fail(&sc->c, &sc->s);
}

static int contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return 0;
}

static void test_confirm(void **state)
{
	struct scene sc;
	(void)state;

	play_ok_or_fail(&sc, "person; expect \"press 1\"; press 1; expect \"to confirm\"; press 1;"
		" expect \"confirmed\"; expect-hangup", NULL);
	assert_int_equal(sc.t.presses, 2);
	assert_int_equal(sc.t.app_hangups, 1);
	/* The business name came through the TwiML as text. */
	assert_true(strstr(buf_str(&sc.t.lines), sc.c.business_name) != NULL);
	assert_string_equal(sc.s.state, "confirmed");
	assert_string_equal(sc.s.appointment_status, "confirmed");
	assert_true(sc.s.confirmed_at[0] != '\0');
	assert_string_equal(sc.s.call_sid, sc.c.call_sid);
	transcript_free(&sc.t);
}

static void test_cancel(void **state)
{
	struct scene sc;
	(void)state;

	play_ok_or_fail(&sc, "person; press 1; expect \"to cancel, press 2\"; press 2; expect \"cancelled\";"
		" expect-hangup", NULL);
	assert_string_equal(sc.s.state, "cancelled");
	assert_string_equal(sc.s.appointment_status, "cancelled");
	assert_true(sc.s.cancelled_at[0] != '\0');
	assert_int_equal(sc.s.reminders_pending, 0);
	transcript_free(&sc.t);
}

static void test_callback(void **state)
{
	struct scene sc;
	(void)state;

	play_ok_or_fail(&sc, "person; press 1; expect \"call back\"; press 3; expect \"call back from\";"
		" expect-hangup", NULL);
	assert_string_equal(sc.s.state, "callback");
	assert_string_equal(sc.s.appointment_status, "booked");
	assert_true(sc.s.callback_requested_at[0] != '\0');
	transcript_free(&sc.t);
}

/* Everything the callee heard after the first silence: the machine's
 * message. */
static const char *after_silence(const struct transcript *t)
{
	const char *p = strstr(buf_str(&t->lines), "\nsilence ");
	return p ? p + 1 : "";
}

static void test_machine(void **state)
{
	struct scene sc;
	const char *msg;
	(void)state;

	/* A machine stays silent: the announcement times out and the
	 * message for a machine follows, asking for no key. */
	play_ok_or_fail(&sc, "machine; expect \"reminder\"; expect-hangup", NULL);
	assert_int_equal(sc.t.silences, 1);
	msg = after_silence(&sc.t);
	assert_true(contains_ci(msg, "reminder"));
	assert_true(strstr(msg, sc.c.callback_phone) != NULL);
	if (contains_ci(msg, "press"))
		fail_msg("the machine's message asks for a key:\n%s", msg);
	assert_string_equal(sc.s.state, "machine_message");
	assert_string_equal(sc.s.appointment_status, "booked");
	transcript_free(&sc.t);

	/* With detection on, AnsweredBy reaches the application, which
	 * goes to the machine's message without waiting. */
	play_ok_or_fail(&sc, "machine answered_by=machine_end_beep; expect \"reminder\"; expect-hangup",
		"Enable");
	assert_string_equal(sc.res.answered_by, "machine_end_beep");
	assert_true(strstr(buf_str(&sc.t.lines), "request POST") != NULL);
	assert_string_equal(sc.s.state, "machine_message");
	transcript_free(&sc.t);
}

static void test_silence_after_press(void **state)
{
	struct scene sc;
	(void)state;

	play_ok_or_fail(&sc, "person; press 1; expect \"to confirm\"; silence; expect \"stays booked\";"
		" expect-hangup", NULL);
	assert_int_equal(sc.t.silences, 1);
	assert_string_equal(sc.s.state, "no_choice");
	assert_string_equal(sc.s.appointment_status, "booked");
	assert_int_equal(sc.s.reminders_pending, sc.c.nreminders_pending);
	transcript_free(&sc.t);
}

static void test_invalid_keys(void **state)
{
	struct scene sc;
	(void)state;

	/* A wrong key at the announcement, then a wrong one again. */
	play_ok_or_fail(&sc, "person; press 7; expect \"not a valid choice\"; press 8;"
		" expect \"has not been changed\"; expect-hangup", NULL);
	assert_string_equal(sc.s.state, "goodbye_invalid");
	assert_string_equal(sc.s.appointment_status, "booked");
	transcript_free(&sc.t);

	/* A wrong key at the menu, then a right one. */
	play_ok_or_fail(&sc, "person; press 1; press 9; expect \"not a valid choice\"; press 1;"
		" expect \"confirmed\"; expect-hangup", NULL);
	assert_string_equal(sc.s.state, "confirmed");
	assert_string_equal(sc.s.appointment_status, "confirmed");
	transcript_free(&sc.t);
}

static void test_callee_hangs_up(void **state)
{
	struct scene sc;
	(void)state;

	play_ok_or_fail(&sc, "person; press 1; hangup", NULL);
	assert_int_equal(sc.t.callee_hangups, 1);
	assert_int_equal(sc.t.app_hangups, 0);
	assert_string_equal(sc.s.state, "details");
	assert_string_equal(sc.s.appointment_status, "booked");
	assert_true(sc.s.confirmed_at[0] == '\0' && sc.s.cancelled_at[0] == '\0');
	transcript_free(&sc.t);
}

static void test_expectation_fails(void **state)
{
	struct scene sc;
	(void)state;

	/* The person does not hear what it expects: the call ends there,
	 * before any key, with the reason. */
	play_or_fail(&sc, "person; expect \"press 5 for pizza\"; press 1", NULL);
	assert_int_equal(sc.res.error_code, 0);
	assert_true(strncmp(sc.res.error_message, "expected \"press 5 for pizza\" but heard: ", 40) == 0);
	assert_int_equal(sc.t.presses, 0);
	hx_snapshot_or_fail(&sc.c, &sc.s);
	assert_string_equal(sc.s.state, "announce");
	transcript_free(&sc.t);

	/* The application asks for a key where the script expects it to
	 * hang up. */
	play_or_fail(&sc, "person; expect-hangup", NULL);
	assert_non_null(strstr(sc.res.error_message, "expected the application to hang up"));
	transcript_free(&sc.t);
}

static void test_bad_signature_is_11200(void **state)
{
	struct scene sc;
	(void)state;

	/* Signed with another token, the webhook answers 403: to Twilio
	 * that is an HTTP retrieval failure, and the call ends. */
	play_token_or_fail(&sc, "person; press 1", NULL, "not-the-token");
	assert_int_equal(sc.res.error_code, 11200);
	assert_non_null(strstr(sc.res.error_message, "HTTP 403"));
	assert_string_equal(sc.res.status, "completed");
	transcript_free(&sc.t);
}

/* Runs bin/ringfence-sim simulate with args (a shell-quoted string), after
 * the environment assignments env ("" for none), and returns its exit
 * status; its output goes to *out. */
static int run_simulate_env(const char *env, const char *args, struct buf *out)
{
	char *cmd = xasprintf("%s bin/ringfence-sim simulate %s 2>&1", env, args);
	int st = hx_shell(cmd, out, 300);
	free(cmd);
	return st;
}

static int run_simulate(const char *args, struct buf *out)
{
	return run_simulate_env("", args, out);
}

static void test_simulate_command(void **state)
{
	struct hx_call c;
	struct hx_snapshot s;
	struct buf out = BUF_INIT;
	char *args;
	int rc;
	(void)state;

	/* An existing call, by its token. */
	hx_fixture_call_or_fail(&c);
	args = xasprintf("--time-scale 0.05 --base-url %s --call-token %s --from '%s' --to '%s'"
		" 'person; expect \"press 1\"; press 1; expect \"to confirm\"; press 2; expect-hangup'",
		hx_env.public_url, c.token, c.from_number, c.client_phone);
	rc = run_simulate(args, &out);
	free(args);
	if (rc != 0 || strstr(buf_str(&out), "\nsimulate: ok (completed") == NULL)
		fail_msg("exit %d:\n%s", rc, buf_str(&out));
	assert_non_null(strstr(buf_str(&out), "press    1"));
	hx_snapshot_or_fail(&c, &s);
	assert_string_equal(s.appointment_status, "cancelled");

	/* A failed expectation: exit 1 and the reason. */
	buf_reset(&out);
	hx_fixture_call_or_fail(&c);
	args = xasprintf("--quiet --time-scale 0.05 --call-token %s 'person; expect \"goodbye forever\"; press 1'",
		c.token);
	rc = run_simulate(args, &out);
	free(args);
	assert_int_equal(rc, 1);
	assert_true(strncmp(buf_str(&out), "simulate: FAILED: expected \"goodbye forever\" but heard: ", 56) == 0);

	/* Its own fixture call in the test database. */
	buf_reset(&out);
	rc = run_simulate("--time-scale 0.05 'person; press 1; press 1; expect-hangup'", &out);
	if (rc != 0)
		fail_msg("exit %d:\n%s", rc, buf_str(&out));
	{
		const char *tok = strstr(buf_str(&out), "call token ");
		char token[33];
		char *st;
		const char *p[1] = { token };
		assert_non_null(tok);
		snprintf(token, sizeof(token), "%s", tok + 11);
		st = hx_db_value_or_fail("SELECT a.status FROM calls c JOIN appointments a ON a.id = c.appointment_id"
			" JOIN businesses b ON b.id = c.business_id"
			" WHERE c.token = $1 AND b.name = 'ringfence smoke test'", 1, p);
		assert_non_null(st);
		assert_string_equal(st, "confirmed");
		free(st);
	}

	/* Usage errors: exit 2, one line. */
	buf_reset(&out);
	assert_int_equal(run_simulate("'person; dance'", &out), 2);
	assert_non_null(strstr(buf_str(&out), "unknown step 'dance'"));
	buf_reset(&out);
	assert_int_equal(run_simulate("--call-token XYZ person", &out), 2);
	buf_reset(&out);
	assert_int_equal(run_simulate("--time-scale 0.05", &out), 2);
	/* Production never gets fixture rows. */
	buf_reset(&out);
	assert_int_equal(run_simulate_env("RINGFENCE_ENV=production", "--time-scale 0.05 person", &out), 2);
	assert_non_null(strstr(buf_str(&out), "production"));
	buf_free(&out);
}

int simulate_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_confirm),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_callback),
		cmocka_unit_test(test_machine),
		cmocka_unit_test(test_silence_after_press),
		cmocka_unit_test(test_invalid_keys),
		cmocka_unit_test(test_callee_hangs_up),
		cmocka_unit_test(test_expectation_fails),
		cmocka_unit_test(test_bad_signature_is_11200),
		cmocka_unit_test(test_simulate_command),
	};
	return cmocka_run_group_tests_name("integration: simulated calls", tests, hx_group_setup,
		hx_group_teardown);
}

/* Integration tests of the Twilio webhook path: nginx, the FastCGI pool,
 * the state engine, PostgreSQL and Redis, all real, all running as the
 * stack named by the environment (see harness.h).
 *
 * Every test makes its own business, client, appointment and call with
 * random tokens and CallSids, so tests neither see nor disturb each
 * other's rows.  Tests that stop a service restart it in their teardown,
 * which cmocka runs even when the test failed. */
#include "harness.h"
#include "audit.h"
#include "groups.h"
#include "rds.h"
#include "util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <strings.h>

#define FLOW "reminder_call"
/* How long a record may take to show up in Redis after its response. */
#define AUDIT_WAIT_MS 3000

/* What the fixture's appointment must sound like (see harness.c). */
#define EXPECT_DATE "Friday, March 14"
#define EXPECT_TIME "3:30 PM"
/* The appointment as the office's notifications say it (24-hour, the
 * business's zone). */
#define EXPECT_OFFICE_WHEN "Fri 14 Mar 15:30"
/* The fixture appointment's confidential note: must never be spoken. */
#define SECRET_NOTE "latex"

/* ---- helpers ----------------------------------------------------------- */

/* The action URL the engine must put on a Gather for state at seq. */
static char *action_url(const struct hx_call *c, const char *state, int seq)
{
	return xasprintf("%s/twilio/voice/%s?c=%s&s=%s&n=%d", hx_env.public_url, FLOW, c->token,
		state, seq);
}

/* Checks rs is a 200 TwiML answer and parses it into t. */
static void twiml_or_fail(const struct hx_response *rs, struct hx_twiml *t, const char *what)
{
	if (rs->status != 200)
		fail_msg("%s: HTTP %ld (want 200), transport '%s', body:\n%s", what, rs->status,
			rs->error, buf_str(&rs->body));
	if (strncasecmp(rs->content_type, "text/xml", 8) != 0)
		fail_msg("%s: Content-Type '%s' (want text/xml)", what, rs->content_type);
	hx_twiml_parse(rs->body.data, rs->body.len, t);
	if (!t->well_formed || !t->root_response)
		fail_msg("%s: not TwiML with a <Response> root:\n%s", what, buf_str(&rs->body));
	if (strcasestr(buf_str(&rs->body), SECRET_NOTE))
		fail_msg("%s: the appointment's confidential note reached the TwiML:\n%s", what,
			buf_str(&rs->body));
}

/* Signed webhook to url with f; must answer TwiML. */
static void post_twiml(const char *url, const struct hx_form *f, struct hx_response *rs,
	struct hx_twiml *t, const char *what)
{
	if (hx_post_form(url, f, HX_SIGNED, rs) < 0)
		fail_msg("%s: POST %s failed: %s", what, url, rs->error);
	twiml_or_fail(rs, t, what);
}

/* The first webhook of call c (answered_by NULL: no AMD result). */
static void call_start(const struct hx_call *c, const char *answered_by, struct hx_response *rs,
	struct hx_twiml *t)
{
	struct hx_form f;
	hx_form_init(&f);
	hx_form_voice(&f, c->call_sid, c->from_number, c->client_phone);
	if (answered_by)
		hx_form_add(&f, "AnsweredBy", answered_by);
	post_twiml(c->first_url, &f, rs, t, "first webhook");
	hx_form_free(&f);
}

/* A Gather action webhook: digits NULL leaves Digits out (a timeout with
 * actionOnEmptyResult). */
static void call_press(const struct hx_call *c, const char *url, const char *digits,
	struct hx_response *rs, struct hx_twiml *t)
{
	struct hx_form f;
	char what[64];
	hx_form_init(&f);
	hx_form_voice(&f, c->call_sid, c->from_number, c->client_phone);
	if (digits)
		hx_form_add(&f, "Digits", digits);
	snprintf(what, sizeof(what), "Digits=%s", digits ? digits : "(absent)");
	post_twiml(url, &f, rs, t, what);
	hx_form_free(&f);
}

/* Checks t gathers keys for state at seq of call c, the way the engine
 * must render it. */
static void expect_gather(const struct hx_call *c, const struct hx_twiml *t, const char *state,
	int seq)
{
	char *want = action_url(c, state, seq);
	if (!t->has_gather || t->gather_action == NULL)
		fail_msg("state %s: no <Gather action=...>", state);
	if (strcmp(t->gather_action, want) != 0)
		fail_msg("state %s: Gather action '%s', want '%s'", state, t->gather_action, want);
	free(want);
	assert_non_null(t->gather_method);
	assert_string_equal(t->gather_method, "POST");
	assert_non_null(t->gather_on_empty);
	assert_string_equal(t->gather_on_empty, "true");
}

/* Checks t ends the call: no Gather, last verb Hangup. */
static void expect_goodbye(const struct hx_twiml *t, const struct hx_response *rs)
{
	if (t->has_gather || !t->ends_with_hangup)
		fail_msg("want TwiML that hangs up without a Gather, got:\n%s", buf_str(&rs->body));
}

/* The apology: valid TwiML, something said, no Gather, ends with Hangup. */
static void expect_apology(const struct hx_response *rs, const char *what)
{
	struct hx_twiml t;
	twiml_or_fail(rs, &t, what);
	if (t.has_gather || !t.ends_with_hangup || t.nsay + t.nplay == 0)
		fail_msg("%s: want an apology that hangs up, got:\n%s", what, buf_str(&rs->body));
	hx_twiml_free(&t);
}

static void expect_state(const struct hx_call *c, const char *state, long long seq)
{
	struct hx_snapshot s;
	hx_snapshot_or_fail(c, &s);
	if (strcmp(s.state, state) != 0 || s.seq != seq)
		fail_msg("call %s: state %s seq %lld, want %s seq %lld", c->call_id, s.state, s.seq,
			state, seq);
}

/* Checks the call's events, given as from, input, to, action ("" none),
 * digits ("" none) per row, in seq order. */
static void expect_events(const struct hx_call *c, size_t nrows, const char *const rows[][5])
{
	const char *p[1] = { c->call_id };
	char err[512];
	PGresult *res = hx_db_exec("SELECT seq, from_state, input, to_state, COALESCE(action, ''),"
		" COALESCE(digits, '') FROM call_events WHERE call_id = $1 ORDER BY seq", 1, p,
		err, sizeof(err));
	if (res == NULL)
		fail_msg("call_events: %s", err);
	if ((size_t)PQntuples(res) != nrows) {
		int n = PQntuples(res);
		PQclear(res);
		fail_msg("call %s has %d call_events rows, want %zu", c->call_id, n, nrows);
	}
	for (size_t i = 0; i < nrows; i++) {
		if (atoi(PQgetvalue(res, (int)i, 0)) != (int)i + 1)
			fail_msg("call_events row %zu has seq %s", i, PQgetvalue(res, (int)i, 0));
		for (int k = 0; k < 5; k++) {
			if (strcmp(PQgetvalue(res, (int)i, k + 1), rows[i][k]) != 0) {
				static const char *const col[5] = { "from_state", "input", "to_state",
					"action", "digits" };
				fail_msg("call_events seq %zu: %s is '%s', want '%s'", i + 1, col[k],
					PQgetvalue(res, (int)i, k + 1), rows[i][k]);
			}
		}
	}
	PQclear(res);
}

static char *audit_key(const char *call_sid)
{
	return xasprintf(AUDIT_KEY_CALL_PREFIX "%s", call_sid);
}

/* Waits for at least min records of call_sid's stream matching the
 * NULL-terminated name, value pairs; returns how many matched. */
#define audit_wait_call(sid, min, ...) audit_wait_call_((sid), (min), __VA_ARGS__, NULL)
static long audit_wait_call_(const char *sid, size_t min, ...)
{
	char *key = audit_key(sid);
	va_list ap;
	long n;

	va_start(ap, min);
	n = hx_audit_vwait_or_fail(key, 0, min, AUDIT_WAIT_MS, ap);
	va_end(ap);
	free(key);
	return n;
}

/* The first 16 hex digits of the SHA-256 of body, as a rejected
 * request's summary names it; out needs 17 bytes. */
static void digest16(const char *body, size_t len, char out[17])
{
	char hex[65];
	hx_sha256_hex(body, len, hex);
	memcpy(out, hex, 16);
	out[16] = '\0';
}

/* Waits for at least min summaries among the newest 1000 of
 * audit:rejected matching the NULL-terminated name, value pairs; returns
 * how many matched. */
#define rejected_wait(min, ...) rejected_wait_((min), __VA_ARGS__, NULL)
static long rejected_wait_(size_t min, ...)
{
	va_list ap;
	long n;

	va_start(ap, min);
	n = hx_audit_vwait_or_fail(AUDIT_KEY_REJECTED, 1000, min, AUDIT_WAIT_MS, ap);
	va_end(ap);
	return n;
}

/* How many records call_sid's stream holds (0 when it has none). */
static long call_records(const char *sid)
{
	char err[256], *key = audit_key(sid);
	json_t *arr = hx_audit_read(key, 0, err, sizeof(err));
	long n;
	if (arr == NULL)
		fail_msg("cannot read %s: %s", key, err);
	n = (long)json_array_size(arr);
	json_decref(arr);
	free(key);
	return n;
}

/* The digits of s, in order. */
static void digits_of(const char *s, char *out, size_t n)
{
	size_t j = 0;
	for (; *s && j + 1 < n; s++)
		if (isdigit((unsigned char)*s))
			out[j++] = *s;
	out[j] = '\0';
}

/* Whether the Say texts speak the phone number: its ten national digits
 * in order, however the template punctuates or spaces them. */
static int speaks_number(const struct hx_twiml *t, const char *e164)
{
	char said[4096], want[20];
	digits_of(buf_str(&t->say_text), said, sizeof(said));
	digits_of(e164, want, sizeof(want));
	return strstr(said, want + strlen(want) - 10) != NULL;
}

/* Every Play URL lies under the flow's audio and nginx serves it. */
static void expect_audio(const struct hx_twiml *t)
{
	char *prefix = xasprintf("%s/audio/%s/", hx_env.public_url, FLOW);
	for (size_t i = 0; i < t->nplay; i++) {
		struct hx_response rs;
		if (strncmp(t->plays[i], prefix, strlen(prefix)) != 0)
			fail_msg("Play URL '%s' is not under %s", t->plays[i], prefix);
		if (hx_get(t->plays[i], &rs) < 0 || rs.status != 200)
			fail_msg("Play URL %s: HTTP %ld %s", t->plays[i], rs.status, rs.error);
		if (rs.body.len < 100)
			fail_msg("Play URL %s: only %zu bytes", t->plays[i], rs.body.len);
		hx_response_free(&rs);
	}
	free(prefix);
}

/* Answers, presses 1 and returns the details TwiML (state details, seq 1). */
static void reach_details(const struct hx_call *c, struct hx_response *rs, struct hx_twiml *t)
{
	struct hx_response r0;
	struct hx_twiml t0;
	char *url = action_url(c, "announce", 0);

	call_start(c, NULL, &r0, &t0);
	expect_gather(c, &t0, "announce", 0);
	hx_twiml_free(&t0);
	hx_response_free(&r0);
	call_press(c, url, "1", rs, t);
	expect_gather(c, t, "details", 1);
	free(url);
}

/* A new fixture call taken to the details state (state details, seq 1),
 * its answers checked by reach_details and dropped. */
static void fixture_at_details(struct hx_call *c)
{
	struct hx_response rs;
	struct hx_twiml t;

	hx_fixture_call_or_fail(c);
	reach_details(c, &rs, &t);
	hx_twiml_free(&t);
	hx_response_free(&rs);
}

/* Presses digits (NULL: Digits left out) on the action URL of state at
 * seq; the answer must gather in next_state at next_seq or, with
 * next_state NULL, end the call. */
static void press_expect(const struct hx_call *c, const char *state, int seq, const char *digits,
	const char *next_state, int next_seq)
{
	struct hx_response rs;
	struct hx_twiml t;
	char *url = action_url(c, state, seq);

	call_press(c, url, digits, &rs, &t);
	free(url);
	if (next_state)
		expect_gather(c, &t, next_state, next_seq);
	else
		expect_goodbye(&t, &rs);
	hx_twiml_free(&t);
	hx_response_free(&rs);
}

/* A new fixture call taken to details, where key is pressed: the call
 * must end in end_state, its events announce -1-> details -key-> end_state
 * (running action, "" for none); *s is the snapshot after. */
static void choose_at_details(struct hx_call *c, const char *key, const char *end_state,
	const char *action, struct hx_snapshot *s)
{
	const char *const events[][5] = {
		{ "announce", "1", "details", "", "1" },
		{ "details", key, end_state, action, key },
	};

	fixture_at_details(c);
	press_expect(c, "details", 1, key, NULL, 0);
	hx_snapshot_or_fail(c, s);
	assert_string_equal(s->state, end_state);
	expect_events(c, 2, events);
}

/* ---- the office is told ------------------------------------------------ */

/* c's appointment has exactly want office notifications, all of kind,
 * each saying exactly detail (the client, what they did, the appointment
 * in the business's zone, how): never the notes. */
static void expect_notified(const struct hx_call *c, const char *kind, const char *detail,
	long long want)
{
	hx_notified_or_fail(c->appointment_id, kind, detail, "CONFIDENTIAL", want);
}

/* ---- 1. a whole call ------------------------------------------------- */

static void test_full_call_confirm(void **state)
{
	struct hx_call c;
	struct hx_response rs;
	struct hx_twiml t;
	struct hx_snapshot s;
	char *url;
	size_t nplay = 0;
	long n;
	static const char *const events[][5] = {
		{ "announce", "1", "details", "", "1" },
		{ "details", "1", "confirmed", "confirm", "1" },
	};

	(void)state;
	hx_fixture_call_or_fail(&c);

	call_start(&c, NULL, &rs, &t);
	expect_gather(&c, &t, "announce", 0);
	if (!hx_twiml_says(&t, c.business_name))
		fail_msg("announce does not name the business '%s':\n%s", c.business_name,
			buf_str(&rs.body));
	nplay += t.nplay;
	expect_audio(&t);
	hx_twiml_free(&t);
	hx_response_free(&rs);
	hx_snapshot_or_fail(&c, &s);
	assert_string_equal(s.call_sid, c.call_sid);
	assert_string_equal(s.state, "announce");
	assert_int_equal(s.seq, 0);

	url = action_url(&c, "announce", 0);
	call_press(&c, url, "1", &rs, &t);
	free(url);
	expect_gather(&c, &t, "details", 1);
	if (!hx_twiml_says(&t, c.business_name) || !hx_twiml_says(&t, EXPECT_DATE) ||
		!hx_twiml_says(&t, EXPECT_TIME))
		fail_msg("details must say '%s', '%s' and '%s':\n%s", c.business_name, EXPECT_DATE,
			EXPECT_TIME, buf_str(&rs.body));
	nplay += t.nplay;
	expect_audio(&t);
	hx_twiml_free(&t);
	hx_response_free(&rs);
	expect_state(&c, "details", 1);

	url = action_url(&c, "details", 1);
	call_press(&c, url, "1", &rs, &t);
	free(url);
	expect_goodbye(&t, &rs);
	nplay += t.nplay;
	expect_audio(&t);
	hx_twiml_free(&t);
	hx_response_free(&rs);
	/* Fixed prompts are recorded audio (ringfence check --production). */
	if (nplay == 0)
		fail_msg("no <Play> anywhere in the call: fixed prompts should be recorded audio");

	hx_snapshot_or_fail(&c, &s);
	assert_string_equal(s.state, "confirmed");
	assert_int_equal(s.seq, 2);
	assert_string_equal(s.appointment_status, "confirmed");
	assert_true(s.confirmed_at[0] != '\0');
	assert_string_equal(s.cancelled_at, "");
	assert_int_equal(s.reminders_pending, c.nreminders_pending);
	expect_events(&c, 2, events);
	expect_notified(&c, "confirmed", "Integration Client confirmed " EXPECT_OFFICE_WHEN " (keypad)",
		1);

	n = audit_wait_call(c.call_sid, 3, "kind", "webhook", "signature", "valid");
	if (n != 3)
		fail_msg("audit:call:%s has %ld valid webhook records, want 3", c.call_sid, n);
	{
		char err[256], *key = audit_key(c.call_sid);
		json_t *arr = hx_audit_read(key, 0, err, sizeof(err));
		char *dump;
		assert_non_null(arr);
		dump = json_dumps(arr, 0);
		/* Records keep the parameters but never the auth token. */
		if (strstr(dump, hx_env.auth_token))
			fail_msg("the auth token appears in %s", key);
		if (!strstr(dump, c.call_sid))
			fail_msg("%s does not mention its CallSid", key);
		assert_int_equal(hx_audit_count(arr, "state_before", "details", "state_after",
					 "confirmed", "action", "confirm", NULL), 1);
		free(dump);
		free(key);
		json_decref(arr);
	}
}

/* ---- 2. cancel ------------------------------------------------------- */

static void test_cancel(void **state)
{
	struct hx_call c;
	struct hx_snapshot s;

	(void)state;
	choose_at_details(&c, "2", "cancelled", "cancel", &s);
	assert_string_equal(s.appointment_status, "cancelled");
	assert_true(s.cancelled_at[0] != '\0');
	assert_string_equal(s.confirmed_at, "");
	assert_int_equal(s.reminders_pending, 0);
	assert_int_equal(s.reminders_cancelled, c.nreminders_pending);
	expect_notified(&c, "cancelled", "Integration Client cancelled " EXPECT_OFFICE_WHEN " (keypad)",
		1);
	/* The reminder already sent keeps its history. */
	{
		const char *p[1] = { c.appointment_id };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminders WHERE"
			" appointment_id = $1 AND status = 'completed'", 1, p), 1);
	}
}

/* ---- 3. callback ----------------------------------------------------- */

static void test_callback(void **state)
{
	struct hx_call c;
	struct hx_snapshot s;

	(void)state;
	choose_at_details(&c, "3", "callback", "request_callback", &s);
	assert_true(s.callback_requested_at[0] != '\0');
	assert_string_equal(s.appointment_status, "booked");
	assert_string_equal(s.confirmed_at, "");
	assert_string_equal(s.cancelled_at, "");
	assert_int_equal(s.reminders_pending, c.nreminders_pending);
	expect_notified(&c, "callback",
		"Integration Client asked for a call back about " EXPECT_OFFICE_WHEN " (keypad)", 1);
}

/* ---- 3b. reschedule -------------------------------------------------- */

/* 4 at the menu (and at its retry) asks to reschedule: the request is
 * noted, the office told once, the appointment left as it was, and the
 * caller hears that the office will call, then the call ends.  The same
 * press replayed runs nothing again. */
static void test_reschedule(void **state)
{
	struct hx_call c;
	struct hx_snapshot s, again;
	struct hx_response rs;
	struct hx_twiml t;
	const char *p[1];
	char *url, *first;
	static const char *const events[][5] = {
		{ "announce", "1", "details", "", "1" },
		{ "details", "4", "reschedule", "request_reschedule", "4" },
	};

	(void)state;
	fixture_at_details(&c);
	url = action_url(&c, "details", 1);
	call_press(&c, url, "4", &rs, &t);
	expect_goodbye(&t, &rs);
	if (!hx_twiml_says(&t, c.business_name))
		fail_msg("the reschedule answer does not name the business:\n%s", buf_str(&rs.body));
	expect_audio(&t);
	first = xstrdup(buf_str(&rs.body));
	hx_twiml_free(&t);
	hx_response_free(&rs);
	hx_snapshot_or_fail(&c, &s);
	assert_string_equal(s.state, "reschedule");
	assert_string_equal(s.appointment_status, "booked");
	assert_string_equal(s.callback_requested_at, "");
	assert_int_equal(s.reminders_pending, c.nreminders_pending);
	expect_events(&c, 2, events);
	p[0] = c.appointment_id;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM appointments WHERE id = $1::bigint"
		" AND reschedule_requested_at IS NOT NULL AND reschedule_done_at IS NULL", 1, p), 1);
	expect_notified(&c, "reschedule",
		"Integration Client asked to reschedule " EXPECT_OFFICE_WHEN " (keypad)", 1);

	/* Twilio retries the same request: the same answer, nothing run. */
	call_press(&c, url, "4", &rs, &t);
	hx_twiml_free(&t);
	assert_string_equal(buf_str(&rs.body), first);
	hx_response_free(&rs);
	hx_snapshot_or_fail(&c, &again);
	hx_snapshot_same_or_fail(&s, &again, "by a replayed 4");
	expect_notified(&c, "reschedule",
		"Integration Client asked to reschedule " EXPECT_OFFICE_WHEN " (keypad)", 1);
	free(url);
	free(first);

	/* At the menu's retry too. */
	fixture_at_details(&c);
	press_expect(&c, "details", 1, "7", "details_retry", 2);
	press_expect(&c, "details_retry", 2, "4", NULL, 0);
	hx_snapshot_or_fail(&c, &s);
	assert_string_equal(s.state, "reschedule");
	expect_notified(&c, "reschedule",
		"Integration Client asked to reschedule " EXPECT_OFFICE_WHEN " (keypad)", 1);
}

/* ---- 4. answering machines --------------------------------------------- */

/* The message left on a machine: no keypress asked for (a voicemail would
 * swallow it), the appointment and the number to call back. */
static void expect_machine_message(const struct hx_call *c, const struct hx_twiml *t,
	const struct hx_response *rs)
{
	expect_goodbye(t, rs);
	if (hx_twiml_says(t, "press"))
		fail_msg("the machine message asks for a keypress:\n%s", buf_str(&rs->body));
	if (!speaks_number(t, c->callback_phone))
		fail_msg("the machine message does not give the callback number %s:\n%s",
			c->callback_phone, buf_str(&rs->body));
	if (!hx_twiml_says(t, EXPECT_DATE) || !hx_twiml_says(t, EXPECT_TIME))
		fail_msg("the machine message does not give the appointment:\n%s", buf_str(&rs->body));
	expect_audio(t);
}

static void test_timeout_at_announce(void **state)
{
	/* Twilio leaves Digits out or sends it empty; both are a timeout. */
	static const char *const digits[] = { NULL, "" };
	static const char *const events[][5] = {
		{ "announce", "timeout", "machine_message", "", "" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(digits); i++) {
		struct hx_call c;
		struct hx_response rs;
		struct hx_twiml t;
		struct hx_snapshot s;
		char *url;

		hx_fixture_call_or_fail(&c);
		call_start(&c, NULL, &rs, &t);
		hx_twiml_free(&t);
		hx_response_free(&rs);
		url = action_url(&c, "announce", 0);
		call_press(&c, url, digits[i], &rs, &t);
		free(url);
		expect_machine_message(&c, &t, &rs);
		hx_twiml_free(&t);
		hx_response_free(&rs);
		hx_snapshot_or_fail(&c, &s);
		assert_string_equal(s.state, "machine_message");
		assert_string_equal(s.appointment_status, "booked");
		expect_events(&c, 1, events);
	}
}

static void test_answered_by_machine(void **state)
{
	struct hx_call c;
	struct hx_response rs;
	struct hx_twiml t;
	static const char *const events[][5] = {
		{ "announce", "machine", "machine_message", "", "" },
	};

	(void)state;
	hx_fixture_call_or_fail(&c);
	call_start(&c, "machine_start", &rs, &t);
	expect_machine_message(&c, &t, &rs);
	hx_twiml_free(&t);
	hx_response_free(&rs);
	expect_state(&c, "machine_message", 1);
	expect_events(&c, 1, events);
	{
		const char *p[1] = { c.call_id };
		char *v = hx_db_value_or_fail("SELECT answered_by FROM calls WHERE id = $1", 1, p);
		assert_non_null(v);
		assert_string_equal(v, "machine_start");
		free(v);
	}

	/* A person (as AMD sees it) hears the announcement. */
	hx_fixture_call_or_fail(&c);
	call_start(&c, "human", &rs, &t);
	expect_gather(&c, &t, "announce", 0);
	hx_twiml_free(&t);
	hx_response_free(&rs);
	expect_state(&c, "announce", 0);
}

/* ---- 5. replays ------------------------------------------------------ */

static void test_replay(void **state)
{
	struct hx_call c;
	struct hx_response rs, details, again;
	struct hx_twiml t;
	struct hx_snapshot before, after;
	char *announce_url, *details_url;
	struct hx_form f;

	(void)state;
	hx_fixture_call_or_fail(&c);
	announce_url = action_url(&c, "announce", 0);
	details_url = action_url(&c, "details", 1);
	reach_details(&c, &details, &t);
	hx_twiml_free(&t);
	hx_snapshot_or_fail(&c, &before);

	/* The very same signed request again (Twilio retries). */
	call_press(&c, announce_url, "1", &again, &t);
	hx_twiml_free(&t);
	if (strcmp(buf_str(&again.body), buf_str(&details.body)) != 0)
		fail_msg("a replayed press of 1 must answer the current state again;\nfirst:\n%s\n"
			"replay:\n%s", buf_str(&details.body), buf_str(&again.body));
	hx_response_free(&again);
	hx_snapshot_or_fail(&c, &after);
	hx_snapshot_same_or_fail(&before, &after, "by a replayed webhook");

	/* The old announce URL with another key changes nothing either. */
	call_press(&c, announce_url, "3", &again, &t);
	hx_twiml_free(&t);
	assert_string_equal(buf_str(&again.body), buf_str(&details.body));
	hx_response_free(&again);
	hx_snapshot_or_fail(&c, &after);
	hx_snapshot_same_or_fail(&before, &after, "by an old action URL");

	/* The first webhook again (no state in the URL). */
	call_start(&c, NULL, &again, &t);
	hx_twiml_free(&t);
	assert_string_equal(buf_str(&again.body), buf_str(&details.body));
	hx_response_free(&again);
	hx_snapshot_or_fail(&c, &after);
	hx_snapshot_same_or_fail(&before, &after, "by a replayed first webhook");

	/* A sequence number from the future is not the current state. */
	{
		char *url = action_url(&c, "details", 7);
		call_press(&c, url, "2", &again, &t);
		free(url);
		hx_twiml_free(&t);
		assert_string_equal(buf_str(&again.body), buf_str(&details.body));
		hx_response_free(&again);
		hx_snapshot_or_fail(&c, &after);
		hx_snapshot_same_or_fail(&before, &after, "by a wrong sequence number");
	}

	/* Confirm, then replay the confirmation: the action runs once. */
	call_press(&c, details_url, "1", &rs, &t);
	expect_goodbye(&t, &rs);
	hx_twiml_free(&t);
	hx_snapshot_or_fail(&c, &before);
	assert_string_equal(before.appointment_status, "confirmed");
	hx_sleep_ms(20); /* a second run would move confirmed_at/updated_at */
	hx_form_init(&f);
	hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
	hx_form_add(&f, "Digits", "1");
	post_twiml(details_url, &f, &again, &t, "replayed confirmation");
	hx_form_free(&f);
	hx_twiml_free(&t);
	assert_string_equal(buf_str(&again.body), buf_str(&rs.body));
	hx_snapshot_or_fail(&c, &after);
	hx_snapshot_same_or_fail(&before, &after, "by a replayed confirmation");
	assert_int_equal(after.events, 2);
	assert_int_equal(after.seq, 2);
	expect_notified(&c, "confirmed", "Integration Client confirmed " EXPECT_OFFICE_WHEN " (keypad)",
		1);
	/* Eight webhooks: the first, 1, five replays, the confirmation. */
	if (audit_wait_call(c.call_sid, 8, "kind", "webhook", "signature", "valid") != 8)
		fail_msg("audit:call:%s does not have the 8 webhook records", c.call_sid);
	{
		char err[256], *key = audit_key(c.call_sid);
		json_t *arr = hx_audit_read(key, 0, err, sizeof(err)), *rec;
		size_t i, replays = 0;
		assert_non_null(arr);
		json_array_foreach(arr, i, rec)
			replays += json_is_true(json_object_get(rec, "replay"));
		if (replays != 5)
			fail_msg("%s marks %zu records as replays, want 5", key, replays);
		json_decref(arr);
		free(key);
	}
	hx_response_free(&again);
	hx_response_free(&rs);
	hx_response_free(&details);
	free(announce_url);
	free(details_url);
}

/* ---- 6. invalid keys ------------------------------------------------- */

static void test_invalid_key(void **state)
{
	struct hx_call c;
	struct hx_snapshot s;
	static const char *const events[][5] = {
		{ "announce", "1", "details", "", "1" },
		{ "details", "9", "details_retry", "", "9" },
		{ "details_retry", "9", "goodbye_invalid", "", "9" },
	};

	(void)state;
	fixture_at_details(&c);
	press_expect(&c, "details", 1, "9", "details_retry", 2);
	press_expect(&c, "details_retry", 2, "9", NULL, 0);

	hx_snapshot_or_fail(&c, &s);
	assert_string_equal(s.state, "goodbye_invalid");
	assert_string_equal(s.appointment_status, "booked");
	assert_string_equal(s.callback_requested_at, "");
	expect_events(&c, 3, events);
}

/* ---- 7. signatures --------------------------------------------------- */

/* Sends a request that must be refused with 403 and change nothing, and
 * checks it was recorded only as a summary with verdict ("signature
 * <verdict>"): one more in audit:rejected, none in the call's stream. */
static void expect_refused(const struct hx_call *c, const struct hx_request *rq,
	const char *verdict, const char *what)
{
	struct hx_snapshot before, after;
	struct hx_response rs;
	char digest[17], *path, *full_verdict;
	long n0, n, in_call;

	digest16(rq->body ? rq->body : "", rq->body ? rq->body_len : 0, digest);
	path = xstrndup(c->first_url + strlen(hx_env.public_url),
		strcspn(c->first_url + strlen(hx_env.public_url), "?"));
	full_verdict = xasprintf("signature %s", verdict);
	hx_snapshot_or_fail(c, &before);
	n0 = rejected_wait(0, "path", path, "verdict", full_verdict, "body_sha256", digest);
	in_call = call_records(c->call_sid);
	if (hx_http(NULL, rq, &rs) < 0)
		fail_msg("%s: %s", what, rs.error);
	if (rs.status != 403)
		fail_msg("%s: HTTP %ld, want 403:\n%s", what, rs.status, buf_str(&rs.body));
	if (strncmp(rs.content_type, "text/plain", 10) != 0)
		fail_msg("%s: Content-Type '%s', want text/plain", what, rs.content_type);
	hx_response_free(&rs);
	hx_snapshot_or_fail(c, &after);
	hx_snapshot_same_or_fail(&before, &after, what);
	n = rejected_wait((size_t)n0 + 1, "path", path, "verdict", full_verdict, "body_sha256",
		digest);
	if (n != n0 + 1)
		fail_msg("%s: want one more summary with verdict '%s' in audit:rejected "
			"(had %ld, now %ld)", what, full_verdict, n0, n);
	/* The record was written before the answer: nothing can come later. */
	if (call_records(c->call_sid) != in_call)
		fail_msg("%s: a refused request added to audit:call:%s", what, c->call_sid);
	free(full_verdict);
	free(path);
}

/* url with its port removed, or with the scheme's default port added
 * when it has none. */
static char *port_variant(const char *url)
{
	const char *host = strstr(url, "://") + 3;
	const char *end = host + strcspn(host, "/?");
	const char *colon = memchr(host, ':', (size_t)(end - host));
	if (colon)
		return xasprintf("%.*s%s", (int)(colon - url), url, end);
	return xasprintf("%.*s:%s%s", (int)(end - url), url,
		strncmp(url, "https:", 6) == 0 ? "443" : "80", end);
}

static void test_signatures(void **state)
{
	struct hx_call c;
	struct hx_form f;
	struct hx_request rq = { .method = "POST" };
	char sig[SIGNATURE_LEN + 1], *body, *evil_url, *path;
	struct hx_response rs;
	struct hx_twiml t;

	(void)state;
	hx_fixture_call_or_fail(&c);
	hx_form_init(&f);
	hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
	body = hx_form_encode(&f);
	rq.url = c.first_url;
	rq.body = body;
	rq.body_len = strlen(body);

	/* Signed with the wrong key. */
	assert_int_equal(hx_sign("wrong-token", c.first_url, &f, sig), 0);
	rq.signature = sig;
	expect_refused(&c, &rq, "invalid", "wrong key");

	/* No header at all, and an empty one. */
	rq.signature = NULL;
	expect_refused(&c, &rq, "missing", "no signature");
	rq.signature = "";
	expect_refused(&c, &rq, "missing", "empty signature");

	/* Garbage in the header. */
	rq.signature = "not base64 at all!";
	expect_refused(&c, &rq, "invalid", "garbage signature");

	/* The right key over other parameters: the body was tampered with. */
	{
		struct hx_form g;
		hx_form_init(&g);
		hx_form_voice(&g, c.call_sid, c.from_number, c.client_phone);
		hx_form_set(&g, "To", "+15005550006");
		assert_int_equal(hx_sign(NULL, c.first_url, &g, sig), 0);
		hx_form_free(&g);
		rq.signature = sig;
		expect_refused(&c, &rq, "invalid", "tampered body");
	}

	/* The right key over another token's URL. */
	{
		char *other = xasprintf("%s/twilio/voice/%s?c=%032d", hx_env.public_url, FLOW, 0);
		assert_int_equal(hx_sign(NULL, other, &f, sig), 0);
		free(other);
		rq.signature = sig;
		expect_refused(&c, &rq, "invalid", "signature for another URL");
	}

	/* Host header spoofing: the attacker signs the URL as it would be
	 * with its own host name and sends that Host.  ringfence must build
	 * the URL from its configured public URL, not from Host. */
	path = strstr(c.first_url + strlen("https://"), "/");
	evil_url = xasprintf("http://evil.example%s", path);
	assert_int_equal(hx_sign(NULL, evil_url, &f, sig), 0);
	rq.signature = sig;
	rq.host = "evil.example";
	expect_refused(&c, &rq, "invalid", "signature over a spoofed Host");

	/* The real signature is accepted whatever Host says. */
	assert_int_equal(hx_sign(NULL, c.first_url, &f, sig), 0);
	if (hx_http(NULL, &rq, &rs) < 0)
		fail_msg("%s", rs.error);
	twiml_or_fail(&rs, &t, "correct signature with a spoofed Host");
	expect_gather(&c, &t, "announce", 0);
	hx_twiml_free(&t);
	hx_response_free(&rs);

	/* Twilio's port quirk: the same URL with its port stripped (or the
	 * default port added when it has none) signs acceptably too. */
	{
		char *alt = port_variant(c.first_url);
		assert_int_equal(hx_sign(NULL, alt, &f, sig), 0);
		rq.host = NULL;
		if (hx_http(NULL, &rq, &rs) < 0)
			fail_msg("%s", rs.error);
		twiml_or_fail(&rs, &t, "signature over the URL's port variant");
		expect_gather(&c, &t, "announce", 0);
		hx_twiml_free(&t);
		hx_response_free(&rs);
		free(alt);
	}

	free(evil_url);
	free(body);
	hx_form_free(&f);
}

/* ---- 8. oversized bodies -------------------------------------------------- */

/* Bodies over ringfence's 64 KiB (but within nginx's 1 MiB) are refused
 * by ringfence itself, 413 text/plain, and summarised; bodies over 1 MiB
 * by nginx, 413 text/plain too, not its HTML page.  A signature cannot
 * help either: the body is not read. */
static void test_oversized_body(void **state)
{
	struct hx_call c;
	struct hx_form f;
	struct hx_snapshot before, after;
	char *filler, *body, sig[SIGNATURE_LEN + 1], digest[17], *path;
	static const struct {
		const char *name;
		size_t size;
		int chunked, expect, by_ringfence;
	} ways[] = {
		{ "Content-Length with Expect: 100-continue", 200 * 1024, 0, 1, 1 },
		{ "Content-Length, body sent at once", 200 * 1024, 0, 0, 1 },
		{ "chunked", 200 * 1024, 1, 0, 1 },
		{ "just over 64 KiB", 64 * 1024 + 200, 0, 0, 1 },
		{ "over nginx's 1 MiB", 2 * 1024 * 1024, 0, 0, 0 },
		{ "over nginx's 1 MiB, chunked", 2 * 1024 * 1024, 1, 0, 0 },
	};

	(void)state;
	hx_fixture_call_or_fail(&c);
	path = xstrndup(c.first_url + strlen(hx_env.public_url),
		strcspn(c.first_url + strlen(hx_env.public_url), "?"));
	hx_snapshot_or_fail(&c, &before);
	for (size_t i = 0; i < ARRAY_LEN(ways); i++) {
		struct hx_response rs;
		long n0 = 0, n;
		hx_form_init(&f);
		hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
		hx_form_add(&f, "Digits", "1");
		filler = xmalloc(ways[i].size + 1);
		memset(filler, 'x', ways[i].size);
		filler[ways[i].size] = '\0';
		hx_form_add(&f, "Padding", filler);
		free(filler);
		body = hx_form_encode(&f);
		assert_int_equal(hx_sign(NULL, c.first_url, &f, sig), 0);
		digest16(body, strlen(body), digest);
		if (ways[i].by_ringfence)
			n0 = rejected_wait(0, "path", path, "verdict", "body too large",
				"body_sha256", digest);
		struct hx_request rq = { .method = "POST", .url = c.first_url, .body = body,
			.body_len = strlen(body), .signature = sig, .chunked = ways[i].chunked,
			.expect_continue = ways[i].expect };
		hx_http(NULL, &rq, &rs);
		if (rs.status != 413)
			fail_msg("%zu KiB body, %s: HTTP %ld (%s), want 413", ways[i].size / 1024,
				ways[i].name, rs.status, rs.error);
		if (strncmp(rs.content_type, "text/plain", 10) != 0)
			fail_msg("%s: Content-Type '%s', want text/plain:\n%s", ways[i].name,
				rs.content_type, buf_str(&rs.body));
		if (strstr(buf_str(&rs.body), "<html"))
			fail_msg("%s: nginx's HTML page:\n%s", ways[i].name, buf_str(&rs.body));
		hx_response_free(&rs);
		/* ringfence hashed the whole body without keeping it. */
		if (ways[i].by_ringfence) {
			n = rejected_wait((size_t)n0 + 1, "path", path, "verdict", "body too large",
				"body_sha256", digest);
			if (n != n0 + 1)
				fail_msg("%s: no summary of the refused body in audit:rejected", ways[i].name);
		}
		free(body);
		hx_form_free(&f);
	}
	hx_snapshot_or_fail(&c, &after);
	hx_snapshot_same_or_fail(&before, &after, "by an oversized request");
	if (call_records(c.call_sid) != 0)
		fail_msg("an oversized request wrote to audit:call:%s", c.call_sid);
	free(path);
}

/* ---- 9. unknown calls ---------------------------------------------------- */

/* Posts f signed to url, expects the apology and an error record in the
 * stream of f's CallSid. */
static void expect_signed_apology(const char *url, const struct hx_form *f, const char *what)
{
	struct hx_response rs;
	const char *sid = form_get(&f->p, "CallSid");
	long n0 = audit_wait_call(sid, 0, "kind", "error"), n;

	if (hx_post_form(url, f, HX_SIGNED, &rs) < 0)
		fail_msg("%s: %s", what, rs.error);
	expect_apology(&rs, what);
	hx_response_free(&rs);
	n = audit_wait_call(sid, (size_t)n0 + 1, "kind", "error");
	if (n < n0 + 1)
		fail_msg("%s: no error record in audit:call:%s", what, sid);
	n = audit_wait_call(sid, 1, "kind", "webhook", "signature", "valid");
	if (n < 1)
		fail_msg("%s: no webhook record in audit:call:%s", what, sid);
}

static void test_unknown_call(void **state)
{
	struct hx_call c, other;
	struct hx_form f;
	struct hx_snapshot before, after;
	char token[33], sid[35], *url;

	(void)state;
	hx_fixture_call_or_fail(&c);
	hx_snapshot_or_fail(&c, &before);

	/* A token no call has. */
	hx_random_hex(token, 16);
	hx_random_call_sid(sid);
	url = xasprintf("%s/twilio/voice/%s?c=%s", hx_env.public_url, FLOW, token);
	hx_form_init(&f);
	hx_form_voice(&f, sid, c.from_number, c.client_phone);
	expect_signed_apology(url, &f, "unknown token");
	free(url);

	/* No token, and a CallSid no call has. */
	hx_random_call_sid(sid);
	hx_form_set(&f, "CallSid", sid);
	url = xasprintf("%s/twilio/voice/%s", hx_env.public_url, FLOW);
	expect_signed_apology(url, &f, "unknown CallSid");
	free(url);

	/* A state-carrying URL of an unknown token. */
	hx_random_hex(token, 16);
	url = xasprintf("%s/twilio/voice/%s?c=%s&s=details&n=1", hx_env.public_url, FLOW, token);
	hx_form_add(&f, "Digits", "2");
	expect_signed_apology(url, &f, "unknown token with a state");
	free(url);
	hx_form_free(&f);

	/* A flow that does not exist, for a real call. */
	hx_form_init(&f);
	hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
	url = xasprintf("%s/twilio/voice/no_such_flow?c=%s", hx_env.public_url, c.token);
	expect_signed_apology(url, &f, "unknown flow");
	free(url);
	hx_form_free(&f);
	hx_snapshot_or_fail(&c, &after);
	hx_snapshot_same_or_fail(&before, &after, "by a webhook for an unknown flow");

	/* Another call's token with this CallSid: the other call is bound to
	 * its own CallSid, so this is someone else's call. */
	hx_fixture_call_or_fail(&other);
	{
		struct hx_response rs;
		struct hx_twiml t;
		call_start(&other, NULL, &rs, &t);
		hx_twiml_free(&t);
		hx_response_free(&rs);
	}
	hx_snapshot_or_fail(&other, &before);
	hx_form_init(&f);
	hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
	hx_form_add(&f, "Digits", "1");
	url = action_url(&other, "announce", 0);
	expect_signed_apology(url, &f, "another call's token");
	free(url);
	hx_form_free(&f);
	hx_snapshot_or_fail(&other, &after);
	hx_snapshot_same_or_fail(&before, &after, "by a webhook with another call's CallSid");
}

/* ---- 10. malformed input ---------------------------------------------- */

/* BODY_JSON is signed the way Twilio signs JSON bodies: the URL carries
 * bodySHA256 of the body; BODY_JSON_UNHASHED leaves that out, so nothing
 * covers the body. */
enum body_kind { BODY_FORM, BODY_RAW, BODY_JSON, BODY_JSON_UNHASHED };

struct malformed_case {
	const char *name;
	enum body_kind kind;
	const char *query;   /* appended to the call's URL path; NULL: ?c=TOKEN&s=announce&n=0 */
	const char *field;   /* BODY_FORM: field to set (value "" deletes via del) */
	const char *value;
	int del;             /* BODY_FORM: delete field instead */
	const char *raw;     /* BODY_RAW: appended pair; BODY_JSON*: the body ("%S": CallSid) */
	int want_status;     /* what webhook.c answers: 200 apology, or 403 when the
	                        signature cannot cover the body (a form that cannot
	                        be parsed cannot be signed) */
	const char *decoded; /* BODY_RAW that decodes: the Digits value it decodes to,
	                        which a genuine sender would have signed */
};

static const struct malformed_case malformed[] = {
	{ "Digits with letters", BODY_FORM, NULL, "Digits", "12ab", 0, NULL, 200, NULL },
	{ "Digits too long", BODY_FORM, NULL, "Digits",
		"11111111111111111111111111111111111111111111111111111111111111111", 0, NULL, 200, NULL },
	{ "Digits with a space", BODY_FORM, NULL, "Digits", "1 ", 0, NULL, 200, NULL },
	{ "CallSid too short", BODY_FORM, NULL, "CallSid", "CA123", 0, NULL, 200, NULL },
	{ "CallSid with the wrong prefix", BODY_FORM, NULL, "CallSid",
		"SM0123456789abcdef0123456789abcdef", 0, NULL, 200, NULL },
	{ "CallSid with markup", BODY_FORM, NULL, "CallSid",
		"CA<script>0123456789abcdef01234567", 0, NULL, 200, NULL },
	{ "CallSid missing", BODY_FORM, NULL, "CallSid", NULL, 1, NULL, 200, NULL },
	{ "another AccountSid", BODY_FORM, NULL, "AccountSid",
		"AC00000000000000000000000000000000", 0, NULL, 200, NULL },
	{ "AccountSid missing", BODY_FORM, NULL, "AccountSid", NULL, 1, NULL, 200, NULL },
	{ "unknown CallStatus", BODY_FORM, NULL, "CallStatus", "exploded", 0, NULL, 200, NULL },
	{ "unknown AnsweredBy", BODY_FORM, NULL, "AnsweredBy", "robot", 0, NULL, 200, NULL },
	{ "From with a newline", BODY_FORM, NULL, "From", "+15551234567\nX-Injected: 1", 0, NULL, 200, NULL },
	{ "state name with a path", BODY_FORM, "?c=%T&s=../../etc&n=0", "Digits", "1", 0, NULL, 200, NULL },
	{ "sequence number too long", BODY_FORM, "?c=%T&s=announce&n=99999999999", "Digits", "1", 0,
		NULL, 200, NULL },
	{ "negative sequence number", BODY_FORM, "?c=%T&s=announce&n=-1", "Digits", "1", 0, NULL, 200, NULL },
	{ "token in capitals", BODY_FORM, "?c=%U&s=announce&n=0", "Digits", "1", 0, NULL, 200, NULL },
	{ "bad escape in the query", BODY_FORM, "?c=%T&s=announce%zz&n=0", "Digits", "1", 0, NULL, 200, NULL },
	{ "double-encoded digit", BODY_RAW, NULL, NULL, NULL, 0, "Digits=%%2531", 200, "%31" },
	{ "escape that is not hex", BODY_RAW, NULL, NULL, NULL, 0, "Digits=%%zz", 403, NULL },
	{ "truncated escape", BODY_RAW, NULL, NULL, NULL, 0, "Digits=1%%", 403, NULL },
	{ "encoded NUL", BODY_RAW, NULL, NULL, NULL, 0, "Digits=1%%00", 403, NULL },
	{ "invalid UTF-8", BODY_RAW, NULL, NULL, NULL, 0, "Digits=%%FF%%FE", 403, NULL },
	{ "overlong UTF-8", BODY_RAW, NULL, NULL, NULL, 0, "Digits=%%C0%%AE", 403, NULL },
	{ "encoded surrogate", BODY_RAW, NULL, NULL, NULL, 0, "Digits=%%ED%%A0%%80", 403, NULL },
	{ "empty field name", BODY_RAW, NULL, NULL, NULL, 0, "=1", 403, NULL },
	{ "JSON body", BODY_JSON, NULL, NULL, NULL, 0, "{\"CallSid\": \"%S\"}", 200, NULL },
	{ "JSON body no hash covers", BODY_JSON_UNHASHED, NULL, NULL, NULL, 0,
		"{\"CallSid\": \"%S\"}", 403, NULL },
};

/* Expands %T (token), %U (token in capitals), %S (CallSid) and %% in
 * fmt. */
static char *expand(const char *fmt, const struct hx_call *c)
{
	struct buf b = BUF_INIT;
	char *s;
	for (const char *p = fmt; *p; p++) {
		if (p[0] == '%' && p[1] == 'T') {
			buf_puts(&b, c->token);
			p++;
		} else if (p[0] == '%' && p[1] == 'U') {
			for (const char *q = c->token; *q; q++)
				buf_putc(&b, (char)toupper((unsigned char)*q));
			p++;
		} else if (p[0] == '%' && p[1] == 'S') {
			buf_puts(&b, c->call_sid);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			buf_putc(&b, '%');
			p++;
		} else {
			buf_putc(&b, *p);
		}
	}
	s = xstrdup(buf_str(&b));
	buf_free(&b);
	return s;
}

static void test_malformed_input(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(malformed); i++) {
		const struct malformed_case *m = &malformed[i];
		struct hx_call c;
		struct hx_snapshot before, after;
		struct hx_response rs;
		struct hx_form f;
		char *query, *url, *body = NULL, sig[SIGNATURE_LEN + 1];
		struct hx_request rq = { .method = "POST" };
		char what[128];

		snprintf(what, sizeof(what), "malformed input '%s'", m->name);
		hx_fixture_call_or_fail(&c);
		hx_snapshot_or_fail(&c, &before);
		query = expand(m->query ? m->query : "?c=%T&s=announce&n=0", &c);
		url = xasprintf("%s/twilio/voice/%s%s", hx_env.public_url, FLOW, query);
		hx_form_init(&f);
		hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
		if (m->kind == BODY_FORM) {
			if (m->del)
				hx_form_del(&f, m->field);
			else
				hx_form_set(&f, m->field, m->value);
			body = hx_form_encode(&f);
			assert_int_equal(hx_sign(NULL, url, &f, sig), 0);
		} else if (m->kind == BODY_RAW) {
			/* Signed over what the body decodes to when it decodes
			 * at all, so the validators, not the signature, must
			 * refuse it; a body that cannot be decoded must be
			 * refused before anything in it is trusted. */
			char *raw = expand(m->raw, &c), *rest = hx_form_encode(&f);
			body = xasprintf("%s&%s", rest, raw);
			free(rest);
			free(raw);
			if (m->decoded)
				hx_form_add(&f, "Digits", m->decoded);
			assert_int_equal(hx_sign(NULL, url, &f, sig), 0);
		} else {
			body = expand(m->raw, &c);
			rq.content_type = "application/json";
			if (m->kind == BODY_JSON) {
				char hash[65], *hashed;
				hx_sha256_hex(body, strlen(body), hash);
				hashed = xasprintf("%s&bodySHA256=%s", url, hash);
				free(url);
				url = hashed;
			}
			assert_int_equal(hx_sign(NULL, url, NULL, sig), 0);
		}
		rq.url = url;
		rq.body = body;
		rq.body_len = strlen(body);
		rq.signature = sig;
		if (hx_http(NULL, &rq, &rs) < 0)
			fail_msg("%s: %s", what, rs.error);
		if (rs.status >= 500)
			fail_msg("%s: HTTP %ld:\n%s", what, rs.status, buf_str(&rs.body));
		if (rs.status != m->want_status)
			fail_msg("%s: HTTP %ld, want %d:\n%s", what, rs.status, m->want_status,
				buf_str(&rs.body));
		if (m->want_status == 200)
			expect_apology(&rs, what);
		hx_response_free(&rs);
		/* What cannot be signed is refused the same way unsigned. */
		if (m->want_status == 403) {
			rq.signature = NULL;
			if (hx_http(NULL, &rq, &rs) < 0)
				fail_msg("%s unsigned: %s", what, rs.error);
			if (rs.status != 403)
				fail_msg("%s unsigned: HTTP %ld, want 403", what, rs.status);
			hx_response_free(&rs);
			if (call_records(c.call_sid) != 0)
				fail_msg("%s: audit:call:%s has records of a refused request", what,
					c.call_sid);
		}
		hx_snapshot_or_fail(&c, &after);
		hx_snapshot_same_or_fail(&before, &after, what);
		free(body);
		free(url);
		free(query);
		hx_form_free(&f);
	}
}

/* ---- 11. PostgreSQL down ------------------------------------------------ */

/* Services a test stopped; the teardown starts them again. */
static int pg_stopped, redis_stopped;

/* Waits (bounded) until the pool answers /readyz 200 with Redis "ok"
 * several times in a row, so that every worker has found its connections again before the
 * next test: a service that came back is only restored when the workers
 * use it.  0, or -1 when the pool did not recover in time. */
static int wait_pool_healthy(void)
{
	struct hx_pids p;
	int need = 3 * (hx_fcgi_pids(&p) == 0 && p.nworkers > 0 ? p.nworkers : 4);
	int streak = 0;
	long last = 0;
	long long deadline = hx_now_ms() + 30000;

	while (streak < need && hx_now_ms() < deadline) {
		struct hx_response rs;
		hx_get("/readyz", &rs);
		last = rs.status;
		streak = rs.status == 200 && strstr(buf_str(&rs.body), "\"redis\": \"ok\"")
			? streak + 1 : 0;
		hx_response_free(&rs);
		if (streak == 0)
			hx_sleep_ms(100);
	}
	if (streak < need) {
		fprintf(stderr, "# the pool did not recover: /readyz still %ld (or Redis not ok) after 30 s\n", last);
		return -1;
	}
	return 0;
}

static int restore_services(void **state)
{
	int rc = 0;
	(void)state;
	if (hx_stack_start_stopped("pg", &pg_stopped, 90) != 0)
		rc = -1;
	if (hx_stack_start_stopped("redis", &redis_stopped, 60) != 0)
		rc = -1;
	if (rc == 0)
		rc = wait_pool_healthy();
	return rc;
}

static void stack_or_fail(const char *sub, int *flag_stopped, int stopping)
{
	/* Mark first: a stop that fails half-way must still be undone. */
	if (stopping)
		*flag_stopped = 1;
	if (hx_stack(sub, NULL, 90) != 0)
		fail_msg("deploy/stack %s failed", sub);
	if (!stopping)
		*flag_stopped = 0;
}

/* GET /readyz answers want_status and its body holds want (NULL: any). */
static void expect_readyz(long want_status, const char *want, const char *what)
{
	struct hx_response rs;
	if (hx_get("/readyz", &rs) < 0)
		fail_msg("/readyz %s: %s", what, rs.error);
	if (rs.status != want_status || (want && strstr(buf_str(&rs.body), want) == NULL))
		fail_msg("/readyz %s: HTTP %ld, want %ld and '%s':\n%s", what, rs.status,
			want_status, want ? want : "", buf_str(&rs.body));
	hx_response_free(&rs);
}

/* How many FastCGI workers serve, per deploy/stack. */
static int worker_count_or_fail(void)
{
	struct hx_pids p;
	if (hx_fcgi_pids(&p) < 0 || p.nworkers < 1)
		fail_msg("deploy/stack fcgi-pids gave no workers");
	return p.nworkers;
}

/* The webhook's audit record is written after the answer went out, not
 * before: with Redis holding every write for AFTER_PAUSE_MS (CLIENT
 * PAUSE WRITE; reads go on), the answer still comes back at once and the
 * record is not in Redis yet.  Every worker then gets SIGTERM while the
 * one that answered waits on Redis: it still writes the record (the
 * deferred write is part of the request in hand) before it exits.  The
 * record holds what it always held. */
#define AFTER_PAUSE_MS 700
static void test_audit_after_answer(void **state)
{
	char pause_ms[16], err[256], *key;
	const char *pause[] = { "CLIENT", "PAUSE", pause_ms, "WRITE" };
	struct hx_call c;
	struct hx_response rs;
	struct hx_twiml t;
	struct hx_pids pids;
	json_t *arr, *rec, *params;
	long long t0, answered_ms, pid;
	long n;

	(void)state;
	hx_fixture_call_or_fail(&c);
	key = audit_key(c.call_sid);
	if (hx_fcgi_pids(&pids) != 0 || pids.nworkers < 1)
		fail_msg("cannot list the pool's workers");
	snprintf(pause_ms, sizeof(pause_ms), "%d", AFTER_PAUSE_MS);
	if (hx_redis(4, pause, NULL, err, sizeof(err)) != 0)
		fail_msg("CLIENT PAUSE: %s", err);
	t0 = hx_now_ms();
	call_start(&c, NULL, &rs, &t);
	answered_ms = hx_now_ms() - t0;
	expect_gather(&c, &t, "announce", 0);
	hx_twiml_free(&t);
	n = call_records(c.call_sid);
	for (int i = 0; i < pids.nworkers; i++)
		kill((pid_t)pids.workers[i], SIGTERM);
	if (answered_ms >= AFTER_PAUSE_MS)
		fail_msg("the answer took %lld ms: it waited for Redis (paused %d ms)", answered_ms,
			AFTER_PAUSE_MS);
	if (n != 0)
		fail_msg("%ld records of %s in Redis while its writes were paused", n, c.call_sid);

	/* Once Redis takes writes again, the record is there, complete. */
	if (audit_wait_call(c.call_sid, 1, "kind", "webhook") != 1)
		fail_msg("the webhook's record did not reach Redis after the pause");
	arr = hx_audit_read(key, 0, err, sizeof(err));
	if (arr == NULL || json_array_size(arr) != 1)
		fail_msg("cannot read the one record of %s: %s", key, arr ? "not one" : err);
	rec = json_array_get(arr, 0);
	assert_string_equal(json_string_value(json_object_get(rec, "signature")), "valid");
	assert_string_equal(json_string_value(json_object_get(rec, "method")), "POST");
	assert_string_equal(json_string_value(json_object_get(rec, "call_sid")), c.call_sid);
	assert_string_equal(json_string_value(json_object_get(rec, "state_before")), "announce");
	assert_string_equal(json_string_value(json_object_get(rec, "response")), buf_str(&rs.body));
	assert_int_equal(json_integer_value(json_object_get(rec, "status")), 200);
	assert_true(json_is_integer(json_object_get(rec, "latency_ms")));
	assert_true(json_is_string(json_object_get(rec, "ts")));
	assert_true(json_is_string(json_object_get(rec, "request_id")));
	assert_true(json_is_string(json_object_get(rec, "business_id")));
	params = json_object_get(rec, "params");
	assert_string_equal(json_string_value(json_object_get(params, "CallSid")), c.call_sid);
	assert_string_equal(json_string_value(json_object_get(params, "CallStatus")),
		"in-progress");
	assert_null(json_object_get(rec, "error"));
	pid = json_integer_value(json_object_get(rec, "pid"));
	/* The worker that wrote it got SIGTERM during the write, and ended
	 * after it (the master reaps it within its next loop). */
	for (t0 = hx_now_ms(); kill((pid_t)pid, 0) == 0 && hx_now_ms() - t0 < 10000;)
		hx_sleep_ms(50);
	if (kill((pid_t)pid, 0) == 0)
		fail_msg("worker %lld, which wrote the record, did not stop after SIGTERM", pid);
	json_decref(arr);
	hx_response_free(&rs);
	free(key);
	if (wait_pool_healthy() != 0)
		fail_msg("the pool did not come back after its workers were stopped");
}

static void test_postgres_down(void **state)
{
	struct hx_call c;
	struct hx_response rs;
	struct hx_twiml t;
	long n;
	int workers;

	(void)state;
	workers = worker_count_or_fail();
	hx_fixture_call_or_fail(&c);
	stack_or_fail("pg-stop", &pg_stopped, 1);

	{
		struct hx_form f;
		hx_form_init(&f);
		hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
		if (hx_post_form(c.first_url, &f, HX_SIGNED, &rs) < 0)
			fail_msg("webhook with the database down: %s", rs.error);
		hx_form_free(&f);
	}
	expect_apology(&rs, "webhook with the database down");
	hx_response_free(&rs);
	n = audit_wait_call(c.call_sid, 1, "kind", "error");
	if (n < 1)
		fail_msg("no error record in audit:call:%s for the database outage", c.call_sid);
	expect_readyz(503, "\"database\": \"down\"", "with the database down");

	stack_or_fail("pg-start", &pg_stopped, 0);
	{
		/* Wait (bounded) until the server takes connections again. */
		long long deadline = hx_now_ms() + 30000;
		char err[256];
		PGresult *res;
		while ((res = hx_db_exec("SELECT 1", 0, NULL, err, sizeof(err))) == NULL &&
			hx_now_ms() < deadline)
			hx_sleep_ms(100);
		if (res == NULL)
			fail_msg("PostgreSQL did not come back: %s", err);
		PQclear(res);
	}

	/* Every worker must be back: as many new calls as there are
	 * workers, and more, each answered properly on the first try. */
	for (int i = 0; i < 2 * workers + 1; i++) {
		struct hx_call d;
		hx_fixture_call_or_fail(&d);
		call_start(&d, NULL, &rs, &t);
		if (!t.has_gather)
			fail_msg("call %d after the database came back got:\n%s", i, buf_str(&rs.body));
		expect_gather(&d, &t, "announce", 0);
		hx_twiml_free(&t);
		hx_response_free(&rs);
	}
	/* The call that met the outage goes on normally. */
	reach_details(&c, &rs, &t);
	hx_twiml_free(&t);
	hx_response_free(&rs);
	expect_state(&c, "details", 1);
	expect_readyz(200, "\"database\": \"primary\"", "after the database came back");
}

/* ---- 12. Redis down ------------------------------------------------------ */

static void test_redis_down(void **state)
{
	struct hx_call c, d;
	struct hx_response rs;
	struct hx_twiml t;
	struct hx_snapshot s;
	char *url, err[256], *key;
	long in_file, in_redis = 0;
	int sent = 0;
	long long deadline;

	(void)state;
	hx_fixture_call_or_fail(&c);
	stack_or_fail("redis-stop", &redis_stopped, 1);

	/* The whole confirm flow still works. */
	reach_details(&c, &rs, &t);
	hx_twiml_free(&t);
	hx_response_free(&rs);
	url = action_url(&c, "details", 1);
	call_press(&c, url, "1", &rs, &t);
	free(url);
	expect_goodbye(&t, &rs);
	hx_twiml_free(&t);
	hx_response_free(&rs);
	hx_snapshot_or_fail(&c, &s);
	assert_string_equal(s.state, "confirmed");
	assert_string_equal(s.appointment_status, "confirmed");

	/* Its three webhook records went to the fallback log (the last one
	 * just after its answer). */
	for (deadline = hx_now_ms() + 5000;;) {
		json_t *recs = hx_fallback_read(c.call_sid);
		if (recs == NULL)
			fail_msg("cannot read the fallback log %s", hx_env.audit_fallback);
		in_file = (long)hx_audit_count(recs, "kind", "webhook", "signature", "valid", NULL);
		json_decref(recs);
		if (in_file >= 3 || hx_now_ms() >= deadline)
			break;
		hx_sleep_ms(100);
	}
	{
		if (in_file != 3)
			fail_msg("%s has %ld webhook records of %s, want 3", hx_env.audit_fallback,
				in_file, c.call_sid);
	}
	/* Webhooks still work: ready, and saying where the audit goes. */
	expect_readyz(200, "\"redis\": \"down (audit to the fallback log)\"", "with Redis down");

	stack_or_fail("redis-start", &redis_stopped, 0);

	/* Records reach Redis again (each worker retries its connection
	 * after a short pause); meanwhile none is lost: every request's
	 * record is in Redis or in the file. */
	hx_fixture_call_or_fail(&d);
	key = audit_key(d.call_sid);
	deadline = hx_now_ms() + 15000;
	while (hx_now_ms() < deadline) {
		json_t *arr;
		call_start(&d, NULL, &rs, &t);
		expect_gather(&d, &t, "announce", 0);
		hx_twiml_free(&t);
		hx_response_free(&rs);
		sent++;
		arr = hx_audit_read(key, 0, err, sizeof(err));
		if (arr) {
			in_redis = (long)hx_audit_count(arr, "kind", "webhook", NULL);
			json_decref(arr);
		}
		if (in_redis > 0)
			break;
		hx_sleep_ms(200);
	}
	if (in_redis == 0)
		fail_msg("no audit record reached Redis within 15 s of redis-start (%d requests)", sent);
	/* A record is written just after its answer: the last one may still
	 * be on its way. */
	for (deadline = hx_now_ms() + 5000;;) {
		json_t *recs = hx_fallback_read(d.call_sid), *arr;
		assert_non_null(recs);
		in_file = (long)hx_audit_count(recs, "kind", "webhook", NULL);
		json_decref(recs);
		arr = hx_audit_read(key, 0, err, sizeof(err));
		if (arr) {
			in_redis = (long)hx_audit_count(arr, "kind", "webhook", NULL);
			json_decref(arr);
		}
		if (in_file + in_redis >= sent || hx_now_ms() >= deadline)
			break;
		hx_sleep_ms(100);
	}
	{
		/* A record half-stored in Redis is also written to the file
		 * (a duplicate is better than a gap), hence "at least". */
		if (in_file + in_redis < sent)
			fail_msg("%d requests but only %ld records in Redis and %ld in the fallback log",
				sent, in_redis, in_file);
	}
	free(key);
	/* Each worker retries Redis at most once a second, so /readyz may
	 * lag a moment behind the records. */
	if (wait_pool_healthy() < 0)
		fail_msg("/readyz does not say Redis is ok again after Redis came back");
}

/* ---- 13. a worker killed under load ----------------------------------- */

#define LOAD_THREADS 4
#define LOAD_REQUESTS 300

struct load {
	const struct hx_call *call;
	char *replay_url;           /* an old action URL: a replay, no change */
	char *body;                 /* its signed body */
	char sig[SIGNATURE_LEN + 1];
	atomic_long done;
	atomic_long failed;
	atomic_long transport_errors;
	char first_failure[256];
	pthread_mutex_t lock;
};

struct load_thread {
	struct load *load;
	int index;
	pthread_t tid;
};

static void *load_run(void *arg)
{
	struct load_thread *lt = arg;
	struct load *ld = lt->load;
	CURL *curl = curl_easy_init();
	char *health = xasprintf("%s/healthz", hx_env.public_url);

	for (int i = 0; curl && i < LOAD_REQUESTS; i++) {
		struct hx_request rq = { .timeout_ms = 15000 };
		struct hx_response rs;
		int ok;
		/* Half the threads replay a webhook (a database transaction and
		 * an audit record each), half ask /healthz. */
		if (lt->index % 2 == 0) {
			rq.method = "POST";
			rq.url = ld->replay_url;
			rq.body = ld->body;
			rq.body_len = strlen(ld->body);
			rq.signature = ld->sig;
		} else {
			rq.method = "GET";
			rq.url = health;
		}
		ok = hx_http(curl, &rq, &rs) == 0 && rs.status == 200;
		if (ok && rq.body)
			ok = strstr(buf_str(&rs.body), "<Gather") != NULL;
		if (!ok) {
			atomic_fetch_add(&ld->failed, 1);
			if (rs.status == 0)
				atomic_fetch_add(&ld->transport_errors, 1);
			pthread_mutex_lock(&ld->lock);
			if (ld->first_failure[0] == '\0')
				snprintf(ld->first_failure, sizeof(ld->first_failure),
					"%s %.60s: HTTP %ld %.60s %.80s", rq.method, rq.url, rs.status,
					rs.error, buf_str(&rs.body));
			pthread_mutex_unlock(&ld->lock);
		}
		hx_response_free(&rs);
		atomic_fetch_add(&ld->done, 1);
	}
	if (curl)
		curl_easy_cleanup(curl);
	free(health);
	return NULL;
}

static void test_worker_killed_under_load(void **state)
{
	struct hx_call c;
	struct hx_response rs;
	struct hx_twiml t;
	struct hx_pids before, after;
	struct load ld;
	struct load_thread th[LOAD_THREADS];
	struct hx_form f;
	long victim;
	long long deadline;
	int respawned = 0;
	const long total = (long)LOAD_THREADS * LOAD_REQUESTS;

	(void)state;
	hx_fixture_call_or_fail(&c);
	reach_details(&c, &rs, &t);
	hx_twiml_free(&t);
	hx_response_free(&rs);

	memset(&ld, 0, sizeof(ld));
	pthread_mutex_init(&ld.lock, NULL);
	ld.call = &c;
	ld.replay_url = action_url(&c, "announce", 0);
	hx_form_init(&f);
	hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
	hx_form_add(&f, "Digits", "1");
	ld.body = hx_form_encode(&f);
	assert_int_equal(hx_sign(NULL, ld.replay_url, &f, ld.sig), 0);
	hx_form_free(&f);

	if (hx_fcgi_pids(&before) < 0 || before.nworkers < 2)
		fail_msg("deploy/stack fcgi-pids: need a master and at least 2 workers");

	for (int i = 0; i < LOAD_THREADS; i++) {
		th[i].load = &ld;
		th[i].index = i;
		if (pthread_create(&th[i].tid, NULL, load_run, &th[i]) != 0)
			fail_msg("pthread_create failed");
	}
	/* Kill once a third of the load is through: the pool is busy. */
	deadline = hx_now_ms() + 60000;
	while (atomic_load(&ld.done) < total / 3 && hx_now_ms() < deadline)
		hx_sleep_ms(2);
	victim = before.workers[before.nworkers / 2];
	if (kill((pid_t)victim, SIGKILL) != 0)
		fail_msg("cannot kill worker %ld", victim);
	for (int i = 0; i < LOAD_THREADS; i++)
		pthread_join(th[i].tid, NULL);

	/* The master replaces the worker: same count, the victim gone. */
	deadline = hx_now_ms() + 10000;
	while (!respawned && hx_now_ms() < deadline) {
		int victim_seen = 0, fresh = 0;
		if (hx_fcgi_pids(&after) == 0) {
			for (int i = 0; i < after.nworkers; i++) {
				int known = 0;
				victim_seen |= after.workers[i] == victim;
				for (int j = 0; j < before.nworkers; j++)
					known |= after.workers[i] == before.workers[j];
				fresh += !known;
			}
			respawned = after.master == before.master && !victim_seen &&
				after.nworkers == before.nworkers && fresh == 1;
		}
		if (!respawned)
			hx_sleep_ms(100);
	}
	if (!respawned)
		fail_msg("worker %ld was not replaced: before %d workers (master %ld), after %d "
			"(master %ld)", victim, before.nworkers, before.master, after.nworkers,
			after.master);
	if (atomic_load(&ld.done) != total)
		fail_msg("only %ld of %ld requests finished", atomic_load(&ld.done), total);
	if (atomic_load(&ld.failed) > 1)
		fail_msg("%ld of %ld requests failed (at most the one in flight on the killed "
			"worker may); first: %s", atomic_load(&ld.failed), total, ld.first_failure);
	fprintf(stderr, "# %ld requests, %ld failed, worker %ld killed and replaced\n", total,
		atomic_load(&ld.failed), victim);
	/* Nothing moved under the replays. */
	expect_state(&c, "details", 1);
	expect_readyz(200, NULL, "after the worker was replaced");
	free(ld.replay_url);
	free(ld.body);
	pthread_mutex_destroy(&ld.lock);
}

/* ---- 14. health and routing ------------------------------------------- */

static void test_health_and_routes(void **state)
{
	struct hx_response rs;
	json_t *doc;
	char marker[33], *url;
	long long deadline;
	int found = 0;

	(void)state;
	if (hx_get("/readyz", &rs) < 0)
		fail_msg("/readyz: %s", rs.error);
	assert_int_equal(rs.status, 200);
	if (strncmp(rs.content_type, "application/json", 16) != 0)
		fail_msg("/readyz Content-Type '%s'", rs.content_type);
	doc = json_loadb(rs.body.data, rs.body.len, 0, NULL);
	if (!json_is_object(doc))
		fail_msg("/readyz is not a JSON object: %s", buf_str(&rs.body));
	assert_string_equal(json_string_value(json_object_get(doc, "status")), "ready");
	assert_string_equal(json_string_value(json_object_get(doc, "database")), "primary");
	assert_string_equal(json_string_value(json_object_get(doc, "redis")), "ok");
	json_decref(doc);
	hx_response_free(&rs);

	/* Redis's memory pressure, against maxmemory when one is set (the
	 * test stack has none: a bound is set for a moment, just above the
	 * usage and far above it, and restored before anything is asserted,
	 * so that a failure cannot leave Redis nearly full). */
	{
		struct rds *r = rds_open(hx_env.redis_url);
		const char *get[] = { "CONFIG", "GET", "maxmemory" };
		redisReply *rep = rds_command(r, 3, get, NULL);
		static const char *const wants[] = { "high", "ok", "unbounded" };
		char *was, bound[3][32], *bodies[3] = { NULL, NULL, NULL };
		long long used;
		json_t *mem;

		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
			fail_msg("CONFIG GET maxmemory: %s", rds_last_error(r));
		was = xstrdup(rep->element[1]->str);
		freeReplyObject(rep);
		hx_get("/readyz", &rs);
		doc = json_loadb(rs.body.data, rs.body.len, 0, NULL);
		used = (long long)json_integer_value(json_object_get(json_object_get(doc,
			"redis_memory"), "used_bytes"));
		json_decref(doc);
		hx_response_free(&rs);
		if (used <= 0)
			fail_msg("/readyz has no redis_memory.used_bytes");
		snprintf(bound[0], sizeof(bound[0]), "%lld", used + used / 10 + 65536);
		snprintf(bound[1], sizeof(bound[1]), "%lld", used * 100);
		snprintf(bound[2], sizeof(bound[2]), "%s", was);
		for (int i = 0; i < 3; i++) {
			const char *set[] = { "CONFIG", "SET", "maxmemory", bound[i] };
			rep = rds_command(r, 4, set, NULL);
			if (rep)
				freeReplyObject(rep);
			if (i < 2 && rep && hx_get("/readyz", &rs) == 0)
				bodies[i] = xstrdup(buf_str(&rs.body));
			if (i < 2 && rep)
				hx_response_free(&rs);
		}
		if (rep == NULL)
			fail_msg("cannot restore maxmemory %s: %s", was, rds_last_error(r));
		for (int i = 0; i < 2; i++) {
			if (bodies[i] == NULL)
				fail_msg("maxmemory %s: no answer from /readyz", bound[i]);
			doc = json_loads(bodies[i], 0, NULL);
			mem = json_object_get(doc, "redis_memory");
			if (!json_is_object(mem) ||
					strcmp(json_string_value(json_object_get(mem, "pressure")) ?
						json_string_value(json_object_get(mem, "pressure")) : "",
						wants[i]) != 0 ||
					json_integer_value(json_object_get(mem, "max_bytes")) != atoll(bound[i]))
				fail_msg("maxmemory %s: %s, want pressure '%s'", bound[i], bodies[i],
					wants[i]);
			json_decref(doc);
			free(bodies[i]);
		}
		/* The stack's own Redis has no bound. */
		if (strcmp(was, "0") == 0) {
			hx_get("/readyz", &rs);
			doc = json_loadb(rs.body.data, rs.body.len, 0, NULL);
			mem = json_object_get(doc, "redis_memory");
			if (!json_is_object(mem) || json_object_get(mem, "max_bytes") != NULL ||
					strcmp(json_string_value(json_object_get(mem, "pressure")) ?
						json_string_value(json_object_get(mem, "pressure")) : "",
						wants[2]) != 0)
				fail_msg("no maxmemory: %s, want pressure 'unbounded'", buf_str(&rs.body));
			json_decref(doc);
			hx_response_free(&rs);
		}
		free(was);
		rds_close(r);
	}

	hx_get("/no/such/page-for-integration", &rs);
	assert_int_equal(rs.status, 404);
	hx_response_free(&rs);

	/* GET on a webhook path, unsigned: 403, and only a summary. */
	hx_random_hex(marker, 16);
	url = xasprintf("/twilio/voice/%s-%s", FLOW, marker);
	hx_get(url, &rs);
	assert_int_equal(rs.status, 403);
	hx_response_free(&rs);
	if (rejected_wait(1, "method", "GET", "path", url, "verdict", "signature missing") != 1)
		fail_msg("the unsigned GET on %s is not in audit:rejected", url);
	free(url);

	/* Signed, the same GET (Twilio signs a GET's URL alone) gets TwiML,
	 * the apology, and is recorded in full (findable by its query). */
	hx_random_hex(marker, 16);
	url = xasprintf("%s/twilio/voice/%s?c=%s", hx_env.public_url, FLOW, marker);
	{
		char sig[SIGNATURE_LEN + 1];
		struct hx_request rq = { .method = "GET", .url = url, .signature = sig };
		assert_int_equal(hx_sign(NULL, url, NULL, sig), 0);
		if (hx_http(NULL, &rq, &rs) < 0)
			fail_msg("signed GET: %s", rs.error);
		expect_apology(&rs, "signed GET on a voice webhook");
		hx_response_free(&rs);
	}
	deadline = hx_now_ms() + AUDIT_WAIT_MS;
	while (!found && hx_now_ms() < deadline) {
		char err[256], *q = xasprintf("c=%s", marker);
		json_t *arr = hx_audit_read_newest(AUDIT_KEY_ALL, 500, err, sizeof(err));
		if (arr == NULL)
			fail_msg("cannot read audit:all: %s", err);
		found = hx_audit_count(arr, "kind", "webhook", "method", "GET", "query", q,
			"signature", "valid", NULL) == 1;
		json_decref(arr);
		free(q);
		if (!found)
			hx_sleep_ms(50);
	}
	if (!found)
		fail_msg("the signed GET on %s is not in audit:all", url);
	free(url);
}

/* Signed requests get TwiML whatever is wrong with them; the same
 * requests unsigned get 403 and leave only a summary. */
static void test_signed_always_twiml(void **state)
{
	struct hx_call c;
	struct hx_form f;
	struct hx_response rs;
	static const char *const paths[] = {
		"/twilio/no-such-webhook", "/twilio/voice/", "/twilio/status/nothing",
	};
	(void)state;

	hx_fixture_call_or_fail(&c);
	hx_form_init(&f);
	hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		char *url = xasprintf("%s%s", hx_env.public_url, paths[i]), what[128];
		snprintf(what, sizeof(what), "signed POST to %s", paths[i]);
		if (hx_post_form(url, &f, HX_SIGNED, &rs) < 0)
			fail_msg("%s: %s", what, rs.error);
		expect_apology(&rs, what);
		hx_response_free(&rs);
		snprintf(what, sizeof(what), "unsigned POST to %s", paths[i]);
		if (hx_post_form(url, &f, HX_NO_SIG, &rs) < 0)
			fail_msg("%s: %s", what, rs.error);
		if (rs.status != 403)
			fail_msg("%s: HTTP %ld, want 403", what, rs.status);
		hx_response_free(&rs);
		free(url);
	}
	/* Signed with a body that is not a form and no bodySHA256 covers:
	 * nothing was signed over it, 403. */
	{
		char sig[SIGNATURE_LEN + 1];
		struct hx_request rq = { .method = "POST", .url = c.first_url, .body = "hello",
			.body_len = 5, .content_type = "text/plain", .signature = sig };
		assert_int_equal(hx_sign(NULL, c.first_url, NULL, sig), 0);
		if (hx_http(NULL, &rq, &rs) < 0)
			fail_msg("text body: %s", rs.error);
		assert_int_equal(rs.status, 403);
		hx_response_free(&rs);
	}
	/* The signed ones were recorded in full under the (verified) CallSid,
	 * the unsigned ones not at all. */
	if (audit_wait_call(c.call_sid, ARRAY_LEN(paths), "kind", "webhook", "signature", "valid") !=
			(long)ARRAY_LEN(paths))
		fail_msg("audit:call:%s lacks the signed requests' records", c.call_sid);
	if (call_records(c.call_sid) != (long)(2 * ARRAY_LEN(paths)))
		fail_msg("audit:call:%s has %ld records, want %zu (a webhook and an error record "
			"for each signed request)", c.call_sid, call_records(c.call_sid),
			2 * ARRAY_LEN(paths));
	hx_form_free(&f);
}

/* ---- the group ----------------------------------------------------------- */

/* Set once the environment checked out; nothing to restore before. */
static int initialised;

static int group_setup(void **state)
{
	if (hx_group_setup(state) < 0)
		return -1;
	/* A pool worker that found Redis down in the group before waits a
	 * second before it tries again (rds.c: RDS_RETRY_MS), and records go
	 * to the fallback log meanwhile.  This group counts the records in
	 * Redis, so it starts after that second has passed. */
	hx_sleep_ms(1500);
	initialised = 1;
	return 0;
}

static int group_teardown(void **state)
{
	int rc = 0;
	if (initialised && (pg_stopped || redis_stopped))
		rc = restore_services(state);
	hx_fini();
	return rc;
}

int webhook_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_call_confirm),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_callback),
		cmocka_unit_test(test_reschedule),
		cmocka_unit_test(test_timeout_at_announce),
		cmocka_unit_test(test_answered_by_machine),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_invalid_key),
		cmocka_unit_test(test_signatures),
		cmocka_unit_test(test_oversized_body),
		cmocka_unit_test(test_unknown_call),
		cmocka_unit_test(test_malformed_input),
		cmocka_unit_test(test_health_and_routes),
		cmocka_unit_test(test_signed_always_twiml),
		cmocka_unit_test(test_audit_after_answer),
		cmocka_unit_test_teardown(test_postgres_down, restore_services),
		cmocka_unit_test_teardown(test_redis_down, restore_services),
		cmocka_unit_test(test_worker_killed_under_load),
	};
	return cmocka_run_group_tests_name("integration: webhook path", tests, group_setup,
		group_teardown);
}

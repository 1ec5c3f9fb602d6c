/* Integration tests of task codes and the inbound call (DESIGN.md rule
 * 11): codes made by the command line and the dashboard, the inbound flow
 * through nginx, the engine, PostgreSQL and Redis (signed webhooks as
 * Twilio sends them), the greeting a kept recording becomes, the reminder
 * call that opens with it, and the guess throttles under a flood of
 * guesses and a Redis restart.
 *
 * The throttles count wrong codes of every caller together, so each test
 * starts and ends with them cleared (hx_taskcode_reset_or_fail), the way
 * the session group clears the login throttle. */
#include "harness.h"
#include "dash_client.h"
#include "groups.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/wait.h>

#define INBOUND_PATH "/twilio/voice/inbound"

/* ---- helpers ------------------------------------------------------------ */

static int tc_setup(void **state)
{
	(void)state;
	hx_taskcode_reset_or_fail();
	return 0;
}

static int tc_teardown(void **state)
{
	(void)state;
	hx_taskcode_reset_or_fail();
	return 0;
}

/* Runs `ringfence ARGS` (a shell-quoted string of simple words) with the
 * test's environment; its exit status, and in *out its stdout and stderr
 * together (caller frees). */
static int run_cli(const char *args, char **out)
{
	const char *bin = hx_ringfence_bin("taskcode");
	char *cmd, line[512];
	struct buf b;
	FILE *p;
	int st;

	if (bin == NULL)
		fail_msg("no ringfence binary");
	cmd = xasprintf("%s %s 2>&1", bin, args);
	p = popen(cmd, "r");
	free(cmd);
	if (p == NULL)
		fail_msg("cannot run ringfence");
	buf_init(&b);
	while (fgets(line, sizeof(line), p))
		buf_puts(&b, line);
	st = pclose(p);
	*out = xstrdup(buf_str(&b));
	buf_free(&b);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* A business of its own; its id in out. */
static void business_or_fail(char out[24])
{
	char phone[13], tag[9];
	char *name, *id;

	hx_random_phone(phone);
	hx_random_hex(tag, 4);
	name = xasprintf("Greeting Test %s", tag);
	{
		const char *p[2] = { name, phone };
		id = hx_db_value_or_fail("INSERT INTO businesses (name, time_zone, callback_phone,"
			" status, verified) VALUES ($1, 'UTC', $2, 'active', true) RETURNING id", 2, p);
	}
	snprintf(out, 24, "%s", id);
	free(id);
	free(name);
}

/* A code from `ringfence taskcode create` for business. */
static void cli_code_or_fail(const char *business, char code[7])
{
	char *args = xasprintf("taskcode create --business %s --purpose greeting", business), *out;
	int rc = run_cli(args, &out);

	if (rc != 0 || sscanf(out, "code %6[0-9] for business", code) != 1 || strlen(code) != 6)
		fail_msg("taskcode create: exit %d, output '%s'", rc, out);
	free(out);
	free(args);
}

/* One inbound call as Twilio makes it. */
struct inb {
	char sid[35];
	char from[13];
	char to[13];
	char next[1024];            /* the last Gather's action, "" when none */
	struct hx_response rs;      /* the last answer */
	struct hx_twiml t;          /* parsed */
};

static void inb_form(const struct inb *c, struct hx_form *f)
{
	hx_form_init(f);
	hx_form_add(f, "AccountSid", hx_env.account_sid);
	hx_form_add(f, "ApiVersion", "2010-04-01");
	hx_form_add(f, "CallSid", c->sid);
	hx_form_add(f, "CallStatus", "in-progress");
	hx_form_add(f, "Called", c->to);
	hx_form_add(f, "Caller", c->from);
	hx_form_add(f, "Direction", "inbound");
	hx_form_add(f, "From", c->from);
	hx_form_add(f, "To", c->to);
}

static void inb_clear(struct inb *c)
{
	hx_response_free(&c->rs);
	hx_twiml_free(&c->t);
	memset(&c->rs, 0, sizeof(c->rs));
	memset(&c->t, 0, sizeof(c->t));
}

/* POSTs f (signed) to url; the answer must be TwiML. */
static void inb_send(struct inb *c, const char *url, struct hx_form *f, const char *what)
{
	inb_clear(c);
	if (hx_post_form(url, f, HX_SIGNED, &c->rs) < 0)
		fail_msg("%s: POST %s failed: %s", what, url, c->rs.error);
	if (c->rs.status != 200 || strncasecmp(c->rs.content_type, "text/xml", 8) != 0)
		fail_msg("%s: HTTP %ld %s:\n%s", what, c->rs.status, c->rs.content_type,
			buf_str(&c->rs.body));
	hx_twiml_parse(c->rs.body.data, c->rs.body.len, &c->t);
	if (!c->t.well_formed || !c->t.root_response)
		fail_msg("%s: not TwiML:\n%s", what, buf_str(&c->rs.body));
	snprintf(c->next, sizeof(c->next), "%s", c->t.gather_action ? c->t.gather_action : "");
	hx_form_free(f);
}

/* A new call from from (NULL: a random number) to to (NULL: random). */
static void inb_start(struct inb *c, const char *from, const char *to)
{
	struct hx_form f;
	char *url = xasprintf("%s" INBOUND_PATH, hx_env.public_url);

	memset(c, 0, sizeof(*c));
	hx_random_call_sid(c->sid);
	if (from)
		snprintf(c->from, sizeof(c->from), "%s", from);
	else
		hx_random_phone(c->from);
	if (to)
		snprintf(c->to, sizeof(c->to), "%s", to);
	else
		hx_random_phone(c->to);
	inb_form(c, &f);
	inb_send(c, url, &f, "first inbound webhook");
	free(url);
}

/* Enters digits at the current Gather. */
static void inb_enter(struct inb *c, const char *digits)
{
	struct hx_form f;
	char url[1024];

	if (c->next[0] == '\0')
		fail_msg("no Gather to enter %s at:\n%s", digits, buf_str(&c->rs.body));
	snprintf(url, sizeof(url), "%s", c->next);
	inb_form(c, &f);
	hx_form_add(&f, "Digits", digits);
	inb_send(c, url, &f, digits);
}

/* The call's row: state and token; fails when there is none. */
static void inb_row(const struct inb *c, char state[72], char token[40], long long *seq)
{
	const char *p[1] = { c->sid };
	PGresult *res = hx_db_exec_or_fail("SELECT state, token, seq, direction FROM calls"
		" WHERE call_sid = $1", 1, p);

	if (PQntuples(res) != 1) {
		PQclear(res);
		fail_msg("no call row for %s", c->sid);
	}
	snprintf(state, 72, "%s", PQgetvalue(res, 0, 0));
	snprintf(token, 40, "%s", PQgetvalue(res, 0, 1));
	*seq = atoll(PQgetvalue(res, 0, 2));
	assert_string_equal(PQgetvalue(res, 0, 3), "inbound");
	PQclear(res);
}

static void expect_state(const struct inb *c, const char *want)
{
	char state[72], token[40];
	long long seq;

	inb_row(c, state, token, &seq);
	if (strcmp(state, want) != 0)
		fail_msg("call %s is in state %s, want %s; last TwiML:\n%s", c->sid, state, want,
			buf_str(&c->rs.body));
}

static void expect_hangup(const struct inb *c)
{
	if (c->t.has_gather || !c->t.ends_with_hangup)
		fail_msg("want TwiML that hangs up, got:\n%s", buf_str(&c->rs.body));
}

/* A recording URL of this account as Twilio gives it; sid gets its sid. */
static char *recording_url(char sid[35])
{
	const char *api = getenv("TWILIO_API_URL");
	char hex[33];

	hx_random_hex(hex, 16);
	snprintf(sid, 35, "RE%s", hex);
	return xasprintf("%s/2010-04-01/Accounts/%s/Recordings/%s",
		api && *api ? api : "https://api.twilio.com", hx_env.account_sid, sid);
}

/* A new business with a fresh greeting code, and a call c that entered
 * it and is asked to record: biz gets the business; the result
 * (malloc'd) is a recording URL of this account for it, sid its sid. */
static char *recording_call_or_fail(struct inb *c, char biz[24], char sid[35])
{
	char code[7];

	business_or_fail(biz);
	cli_code_or_fail(biz, code);
	inb_start(c, NULL, NULL);
	inb_enter(c, code);
	expect_state(c, "record");
	return recording_url(sid);
}

/* How many takes of the recording sid are complete and not kept. */
static long long completed_unkept(const char *sid)
{
	const char *p[1] = { sid };
	return hx_db_int_or_fail("SELECT count(*) FROM greeting_takes WHERE recording_sid = $1"
		" AND completed_at IS NOT NULL AND kept_at IS NULL", 1, p);
}

/* The <Record>'s action request: the recording url (sid) just made,
 * ended by digits ("#", or "hangup" when the caller hung up). */
static void inb_recorded_by(struct inb *c, const char *url, const char *sid, const char *digits)
{
	char state[72], token[40], action[1024];
	long long seq;
	struct hx_form f;

	inb_row(c, state, token, &seq);
	assert_string_equal(state, "record");
	snprintf(action, sizeof(action), "%s/twilio/voice/inbound?c=%s&amp;s=record&amp;n=%lld",
		hx_env.public_url, token, seq);
	if (strstr(buf_str(&c->rs.body), action) == NULL)
		fail_msg("the <Record> does not act on %s:\n%s", action, buf_str(&c->rs.body));
	snprintf(action, sizeof(action), "%s/twilio/voice/inbound?c=%s&s=record&n=%lld",
		hx_env.public_url, token, seq);
	inb_form(c, &f);
	hx_form_add(&f, "Digits", digits);
	hx_form_add(&f, "RecordingDuration", "4");
	hx_form_add(&f, "RecordingSid", sid);
	hx_form_add(&f, "RecordingUrl", url);
	inb_send(c, action, &f, "Record action");
}

static void inb_recorded(struct inb *c, const char *url, const char *sid)
{
	inb_recorded_by(c, url, sid, "#");
}

/* Twilio's recording status callback for the call's recording sid. */
static void recording_callback(const char *call_sid, const char *sid, const char *url,
	const char *status)
{
	struct hx_form f;
	struct hx_response rs;
	char *cb = xasprintf("%s/twilio/status/recording", hx_env.public_url);

	hx_form_init(&f);
	hx_form_add(&f, "AccountSid", hx_env.account_sid);
	hx_form_add(&f, "CallSid", call_sid);
	hx_form_add(&f, "RecordingChannels", "1");
	hx_form_add(&f, "RecordingDuration", "4");
	hx_form_add(&f, "RecordingSid", sid);
	hx_form_add(&f, "RecordingSource", "RecordVerb");
	hx_form_add(&f, "RecordingStatus", status);
	hx_form_add(&f, "RecordingUrl", url);
	if (hx_post_form(cb, &f, HX_SIGNED, &rs) < 0 || rs.status != 200)
		fail_msg("recording callback: HTTP %ld %s", rs.status, rs.error);
	hx_response_free(&rs);
	hx_form_free(&f);
	free(cb);
}

/* The business's greeting URL, or NULL. */
static char *greeting_of(const char *business)
{
	const char *p[1] = { business };
	return hx_db_value_or_fail("SELECT g.recording_url FROM businesses b JOIN greeting_takes g"
		" ON g.id = b.greeting_take_id WHERE b.id = $1::bigint", 1, p);
}

/* A whole call that records url (sid) for business with code and keeps it. */
static void record_and_keep(const char *code, struct inb *c, const char *url, const char *sid)
{
	inb_start(c, NULL, NULL);
	if (c->t.nplay == 0 || c->t.gather_action == NULL)
		fail_msg("the first answer says nothing:\n%s", buf_str(&c->rs.body));
	inb_enter(c, code);
	expect_state(c, "record");
	if (!strstr(buf_str(&c->rs.body), "maxLength=\"60\"") ||
		!strstr(buf_str(&c->rs.body), "finishOnKey=\"#\""))
		fail_msg("the <Record> lacks maxLength or finishOnKey:\n%s", buf_str(&c->rs.body));
	{
		char *cb = xasprintf("recordingStatusCallback=\"%s/twilio/status/recording\"",
			hx_env.public_url);
		if (!strstr(buf_str(&c->rs.body), cb))
			fail_msg("the <Record> lacks %s:\n%s", cb, buf_str(&c->rs.body));
		free(cb);
	}
	inb_recorded(c, url, sid);
	expect_state(c, "review");
	{
		int played = 0;
		for (size_t i = 0; i < c->t.nplay; i++)
			played |= strcmp(c->t.plays[i], url) == 0;
		if (!played)
			fail_msg("the review does not play the recording %s:\n%s", url,
				buf_str(&c->rs.body));
	}
	inb_enter(c, "1");
	expect_state(c, "kept");
	expect_hangup(c);
}

/* ---- tests --------------------------------------------------------------- */

/* The command: bad input is a one-line reason and a non-zero exit; a good
 * one prints the code, stored only as a keyed hash. */
static void test_cli(void **state)
{
	char biz[24], code[7], *out, *args;
	int rc;

	(void)state;
	business_or_fail(biz);
	rc = run_cli("taskcode create --business 9223372036854775806 --purpose greeting", &out);
	if (rc == 0 || strchr(out, '\n') != out + strlen(out) - 1)
		fail_msg("an unknown business: exit %d, '%s'", rc, out);
	free(out);
	args = xasprintf("taskcode create --business %s --purpose wallpaper", biz);
	rc = run_cli(args, &out);
	if (rc == 0 || !strstr(out, "purpose"))
		fail_msg("an unknown purpose: exit %d, '%s'", rc, out);
	free(out);
	free(args);
	rc = run_cli("taskcode create --business abc --purpose greeting", &out);
	assert_int_not_equal(rc, 0);
	free(out);
	rc = run_cli("taskcode create --purpose greeting", &out);
	assert_int_not_equal(rc, 0);
	free(out);
	rc = run_cli("taskcode frobnicate", &out);
	assert_int_not_equal(rc, 0);
	free(out);

	cli_code_or_fail(biz, code);
	{
		const char *p[2] = { biz, code };
		char hex[65];
		/* Neither the code nor its bare SHA-256 is in the table. */
		hx_sha256_hex(code, 6, hex);
		{
			const char *q[3] = { biz, code, hex };
			assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM task_codes WHERE"
				" business_id = $1::bigint AND (code_hash = $2 OR code_hash = $3)", 3, q), 0);
		}
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM task_codes WHERE"
			" business_id = $1::bigint AND purpose = 'greeting' AND used_at IS NULL"
			" AND created_by IS NULL AND expires_at = created_at + interval '15 minutes'"
			" AND $2 <> ''", 2, p), 1);
	}
	/* A second code replaces the first. */
	{
		char code2[7];
		const char *p[1] = { biz };
		cli_code_or_fail(biz, code2);
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM task_codes WHERE"
			" business_id = $1::bigint AND revoked_at IS NULL", 1, p), 1);
	}
}

/* A valid code, a recording kept, the callback: the next reminder call of
 * the business opens with the recording instead of the synthesised
 * greeting; the audit has every step. */
static void test_record_greeting_and_hear_it(void **state)
{
	struct hx_call rc;
	struct inb c;
	char code[7], sid[35], *url, *g;

	(void)state;
	hx_fixture_call_or_fail(&rc);
	cli_code_or_fail(rc.business_id, code);
	url = recording_url(sid);
	record_and_keep(code, &c, url, sid);
	/* Kept but not completed yet: no greeting. */
	g = greeting_of(rc.business_id);
	assert_null(g);
	recording_callback(c.sid, sid, url, "completed");
	g = greeting_of(rc.business_id);
	if (g == NULL || strcmp(g, url) != 0)
		fail_msg("greeting is '%s', want '%s'", g ? g : "(none)", url);
	free(g);
	{
		const char *p[2] = { c.sid, rc.business_id };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM calls WHERE call_sid = $1"
			" AND business_id = $2::bigint AND direction = 'inbound'", 2, p), 1);
	}
	/* The reminder call. */
	{
		struct hx_form f;
		struct hx_response rs;
		struct hx_twiml t;
		hx_form_init(&f);
		hx_form_voice(&f, rc.call_sid, rc.from_number, rc.client_phone);
		if (hx_post_form(rc.first_url, &f, HX_SIGNED, &rs) < 0 || rs.status != 200)
			fail_msg("reminder call: HTTP %ld", rs.status);
		hx_twiml_parse(rs.body.data, rs.body.len, &t);
		if (t.nplay == 0 || strcmp(t.plays[0], url) != 0 || !t.has_gather)
			fail_msg("the reminder call does not open with the greeting %s:\n%s", url,
				buf_str(&rs.body));
		if (hx_twiml_says(&t, rc.business_name))
			fail_msg("the synthesised greeting is still there:\n%s", buf_str(&rs.body));
		hx_twiml_free(&t);
		hx_response_free(&rs);
		hx_form_free(&f);
	}
	{
		char *key = xasprintf("audit:call:%s", c.sid);
		long n = hx_audit_wait(key, 4, 3000, NULL);
		if (n < 4)
			fail_msg("the inbound call's audit has %ld records, want 4 or more", n);
		free(key);
	}
	inb_clear(&c);
	free(url);
}

/* Three wrong codes end the call politely; the right code is still unused. */
static void test_three_wrong_codes(void **state)
{
	char biz[24], code[7], wrong[7];
	struct inb c;

	(void)state;
	business_or_fail(biz);
	cli_code_or_fail(biz, code);
	snprintf(wrong, sizeof(wrong), "%06u", (unsigned)(atoi(code) + 1) % 1000000u);
	inb_start(&c, NULL, NULL);
	expect_state(&c, "ask_code");
	inb_enter(&c, wrong);
	expect_state(&c, "ask_again");
	inb_enter(&c, "12");
	expect_state(&c, "ask_again");
	inb_enter(&c, wrong);
	expect_state(&c, "wrong_code_final");
	expect_hangup(&c);
	{
		const char *p[2] = { c.sid, biz };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM task_code_attempts a JOIN calls c"
			" ON c.id = a.call_id WHERE c.call_sid = $1 AND a.outcome = 'wrong'", 1, p), 3);
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM task_codes WHERE"
			" business_id = $1::bigint AND used_at IS NULL", 1, p + 1), 1);
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM calls WHERE call_sid = $1"
			" AND business_id IS NULL", 1, p), 1);
	}
	/* A replay of the last request changes nothing. */
	inb_clear(&c);
}

/* An expired code and a used code are wrong codes. */
static void test_expired_and_reused(void **state)
{
	char biz[24], code[7], sid[35], *url;
	struct inb c, d;

	(void)state;
	business_or_fail(biz);
	cli_code_or_fail(biz, code);
	{
		const char *p[1] = { biz };
		hx_db_cmd_or_fail("UPDATE task_codes SET created_at = created_at - interval '16 minutes',"
			" expires_at = expires_at - interval '16 minutes' WHERE business_id = $1::bigint",
			1, p);
	}
	inb_start(&c, NULL, NULL);
	inb_enter(&c, code);
	expect_state(&c, "ask_again");
	inb_clear(&c);

	cli_code_or_fail(biz, code);
	url = recording_url(sid);
	record_and_keep(code, &c, url, sid);
	inb_clear(&c);
	inb_start(&d, NULL, NULL);
	inb_enter(&d, code);
	expect_state(&d, "ask_again");
	inb_clear(&d);
	free(url);
}

/* Recording again is bounded; a take nobody kept never becomes the
 * greeting, even when its callback arrives; a callback for a call that
 * never entered a valid code, or naming another call, changes nothing; a
 * RecordingUrl outside this account is refused. */
static void test_takes_and_callbacks(void **state)
{
	char biz[24], code[7], sid[35], sid2[35], *url, *url2;
	struct inb c;

	(void)state;
	business_or_fail(biz);
	cli_code_or_fail(biz, code);
	url = recording_url(sid);
	inb_start(&c, NULL, NULL);
	inb_enter(&c, code);
	inb_recorded(&c, url, sid);
	expect_state(&c, "review");
	inb_enter(&c, "2");
	expect_state(&c, "record");
	url2 = recording_url(sid2);
	inb_recorded(&c, url2, sid2);
	inb_enter(&c, "2");
	expect_state(&c, "record");
	free(url2);
	url2 = recording_url(sid2);
	inb_recorded(&c, url2, sid2);
	inb_enter(&c, "2");
	expect_state(&c, "too_many_takes");
	expect_hangup(&c);
	recording_callback(c.sid, sid, url, "completed");
	{
		char *g = greeting_of(biz);
		assert_null(g);
	}
	/* A callback naming another call, and one for an unknown recording. */
	{
		char other[35], unknown[35];
		char *u = recording_url(unknown);
		hx_random_call_sid(other);
		recording_callback(other, sid2, url2, "completed");
		recording_callback(other, unknown, u, "completed");
		free(u);
		{
			const char *p[1] = { sid2 };
			assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM greeting_takes WHERE"
				" recording_sid = $1 AND completed_at IS NOT NULL", 1, p), 0);
		}
	}
	inb_clear(&c);

	/* A recording that is not this account's. */
	cli_code_or_fail(biz, code);
	inb_start(&c, NULL, NULL);
	inb_enter(&c, code);
	{
		char hex[33], fsid[35], *furl;
		hx_random_hex(hex, 16);
		snprintf(fsid, sizeof(fsid), "RE%s", hex);
		furl = xasprintf("https://evil.example/2010-04-01/Accounts/%s/Recordings/%s",
			hx_env.account_sid, fsid);
		inb_recorded(&c, furl, fsid);
		expect_state(&c, "record");
		expect_hangup(&c);
		{
			const char *p[1] = { fsid };
			assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM greeting_takes WHERE"
				" recording_sid = $1", 1, p), 0);
		}
		free(furl);
	}
	inb_clear(&c);
	free(url);
	free(url2);
}

/* A caller who hangs up to end the recording: Twilio still requests the
 * <Record>'s action, with Digits=hangup.  The take is stored (its
 * callback completes it) but nobody kept it, so the greeting does not
 * change, and the answer is valid TwiML.  Digits=hangup anywhere else
 * (a Gather's action) is refused: the apology, the call unchanged. */
static void test_hangup_while_recording(void **state)
{
	char biz[24], sid[35], st[72], token[40], *url, *g;
	long long seq, seq2;
	struct inb c;

	(void)state;
	url = recording_call_or_fail(&c, biz, sid);
	inb_recorded_by(&c, url, sid, "hangup");
	expect_state(&c, "review");
	{
		const char *p[2] = { sid, biz };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM greeting_takes WHERE"
			" recording_sid = $1 AND business_id = $2::bigint AND kept_at IS NULL", 2, p), 1);
	}
	recording_callback(c.sid, sid, url, "completed");
	assert_int_equal(completed_unkept(sid), 1);
	g = greeting_of(biz);
	if (g != NULL)
		fail_msg("a take nobody kept became the greeting: %s", g);
	inb_clear(&c);

	/* Digits=hangup on the code's Gather. */
	inb_start(&c, NULL, NULL);
	inb_row(&c, st, token, &seq);
	inb_enter(&c, "hangup");
	expect_hangup(&c);
	if (c.t.has_gather)
		fail_msg("Digits=hangup at a Gather was taken as input:\n%s", buf_str(&c.rs.body));
	inb_row(&c, st, token, &seq2);
	assert_string_equal(st, "ask_code");
	assert_int_equal(seq, seq2);
	{
		const char *p[1] = { c.sid };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM task_code_attempts a"
			" JOIN calls k ON k.id = a.call_id WHERE k.call_sid = $1", 1, p), 0);
	}
	inb_clear(&c);
	free(url);
}

/* Twilio's "completed" recording callback may come before the <Record>'s
 * action: the take is made from it and the action finds it, so keeping it
 * makes it the greeting at once.  A callback whose RecordingUrl is not
 * this account's makes nothing. */
static void test_callback_before_action(void **state)
{
	char biz[24], sid[35], fsid[35], hex[33], *url, *furl, *g;
	struct inb c;

	(void)state;
	url = recording_call_or_fail(&c, biz, sid);
	/* A foreign recording first: nothing. */
	hx_random_hex(hex, 16);
	snprintf(fsid, sizeof(fsid), "RE%s", hex);
	furl = xasprintf("https://evil.example/2010-04-01/Accounts/%s/Recordings/%s",
		hx_env.account_sid, fsid);
	recording_callback(c.sid, fsid, furl, "completed");
	{
		const char *p[1] = { c.sid };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM greeting_takes g JOIN calls k"
			" ON k.id = g.call_id WHERE k.call_sid = $1", 1, p), 0);
	}
	recording_callback(c.sid, sid, url, "completed");
	assert_int_equal(completed_unkept(sid), 1);
	g = greeting_of(biz);
	assert_null(g);
	inb_recorded(&c, url, sid);
	expect_state(&c, "review");
	inb_enter(&c, "1");
	expect_state(&c, "kept");
	g = greeting_of(biz);
	if (g == NULL || strcmp(g, url) != 0)
		fail_msg("greeting is '%s', want '%s'", g ? g : "(none)", url);
	{
		const char *p[1] = { c.sid };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM greeting_takes g JOIN calls k"
			" ON k.id = g.call_id WHERE k.call_sid = $1", 1, p), 1);
	}
	free(g);
	free(furl);
	free(url);
	inb_clear(&c);
}

/* The dashboard: the code page (CSRF, staff refused), the greeting played
 * with its origin allowed in the CSP, and the revert. */
static void test_dashboard(void **state)
{
	struct dc_owner o, staff;
	struct dc_response r;
	char *body, code[7] = "", sid[35], *url, *g;
	const char *s;
	struct inb c;

	(void)state;
	dc_owner_or_fail(&o, "owner", NULL);
	body = dc_get_or_fail(o.c, "/settings/greeting", 200);
	if (!strstr(body, "synthesised") || !strstr(body, "/settings/greeting/code"))
		fail_msg("the greeting page lacks the synthesised greeting or the code form:\n%s", body);
	free(body);
	/* No CSRF token: refused, no code. */
	memset(&r, 0, sizeof(r));
	dc_post_form(o.c, "/settings/greeting/code", &r, "csrf", "nope", NULL);
	assert_int_equal(r.status, 403);
	dc_response_free(&r);
	assert_int_equal(dc_biz_count(o.acc.business_id,
		"SELECT count(*) FROM task_codes WHERE business_id = $1::bigint"), 0);

	memset(&r, 0, sizeof(r));
	dc_post_form(o.c, "/settings/greeting/code", &r, NULL);
	assert_int_equal(r.status, 200);
	s = strstr(buf_str(&r.body), "id=\"task-code\">");
	if (s == NULL || sscanf(s + strlen("id=\"task-code\">"), "%6[0-9]", code) != 1)
		fail_msg("no code on the page:\n%s", buf_str(&r.body));
	if (!strstr(buf_str(&r.body), "+15005550006") || !strstr(buf_str(&r.body), "task-code-expires"))
		fail_msg("the code page lacks the number to call or the expiry:\n%s", buf_str(&r.body));
	dc_response_free(&r);
	assert_int_equal(dc_biz_count(o.acc.business_id,
		"SELECT count(*) FROM task_codes t JOIN users u ON u.id = t.created_by"
		" WHERE t.business_id = $1::bigint AND u.business_id = t.business_id"), 1);

	/* Staff can see but not make a code. */
	dc_owner_or_fail(&staff, "staff", NULL);
	memset(&r, 0, sizeof(r));
	dc_post_form(staff.c, "/settings/greeting/code", &r, NULL);
	assert_int_equal(r.status, 403);
	dc_response_free(&r);

	url = recording_url(sid);
	record_and_keep(code, &c, url, sid);
	recording_callback(c.sid, sid, url, "completed");
	inb_clear(&c);
	memset(&r, 0, sizeof(r));
	dc_get(o.c, "/settings/greeting", &r);
	assert_int_equal(r.status, 200);
	{
		char *audio = xasprintf("<audio controls preload=\"none\" src=\"%s\"", url);
		const char *api = getenv("TWILIO_API_URL");
		char *media = xasprintf("media-src %s", api && *api ? api : "https://api.twilio.com");
		if (!strstr(buf_str(&r.body), audio))
			fail_msg("the page does not play %s:\n%s", url, buf_str(&r.body));
		if (!strstr(r.csp, media) || strstr(r.csp, "media-src *"))
			fail_msg("Content-Security-Policy '%s' lacks '%s'", r.csp, media);
		free(audio);
		free(media);
	}
	dc_response_free(&r);

	/* Revert: CSRF needed, staff refused, then done and recorded. */
	memset(&r, 0, sizeof(r));
	dc_post_form(o.c, "/settings/greeting/revert", &r, "csrf", "nope", NULL);
	assert_int_equal(r.status, 403);
	dc_response_free(&r);
	memset(&r, 0, sizeof(r));
	dc_post_form(staff.c, "/settings/greeting/revert", &r, NULL);
	assert_int_equal(r.status, 403);
	dc_response_free(&r);
	g = greeting_of(o.biz);
	assert_non_null(g);
	free(g);
	dc_post_see_other_or_fail(o.c, "/settings/greeting/revert",
		"/settings/greeting?notice=greeting_reverted", NULL);
	g = greeting_of(o.biz);
	assert_null(g);
	assert_int_equal(dc_biz_count(o.acc.business_id,
		"SELECT count(*) FROM greeting_takes WHERE business_id = $1::bigint"
		" AND retired_at IS NOT NULL AND retired_by IS NOT NULL"), 1);
	body = dc_get_or_fail(o.c, "/settings/greeting", 200);
	if (!strstr(body, "synthesised") || strstr(body, "<audio"))
		fail_msg("after the revert the page still plays the recording:\n%s", body);
	free(body);
	memset(&r, 0, sizeof(r));
	dc_post_form(o.c, "/settings/greeting/revert", &r, NULL);
	assert_int_equal(r.status, 409);
	dc_response_free(&r);
	free(url);
	dc_owner_free(&staff);
	dc_owner_free(&o);
}

/* ---- through the simulator ------------------------------------------------ */

/* Waits up to 60 s for the simulator's call sid to end; its status. */
static char *sim_call_wait(const char *sid)
{
	char *url = xasprintf("/2010-04-01/Accounts/%s/Calls/%s.json", hx_env.account_sid, sid);
	long long deadline = hx_now_ms() + 60000;
	char *status = NULL;

	for (;;) {
		json_t *j = hx_sim_json_or_fail(url, NULL);
		const char *st = json_string_value(json_object_get(j, "status"));
		if (st && (strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0 ||
			    strcmp(st, "busy") == 0 || strcmp(st, "no-answer") == 0 ||
			    strcmp(st, "canceled") == 0))
			status = xstrdup(st);
		json_decref(j);
		if (status || hx_now_ms() > deadline)
			break;
		hx_sleep_ms(200);
	}
	free(url);
	return status ? status : xstrdup("(still running)");
}

/* The simulator's text transcript of sid (caller frees). */
static char *sim_transcript(const char *sid)
{
	char *url = xasprintf("/sim/calls/%s/transcript", sid), *t;
	struct hx_sim_res r;

	if (hx_sim_request(url, NULL, NULL, NULL, &r) < 0 || r.status != 200)
		fail_msg("GET %s: HTTP %ld %s", url, r.status, r.error);
	t = xstrdup(buf_str(&r.body));
	hx_sim_res_free(&r);
	free(url);
	return t;
}

/* A person calls the business's number through the simulator, enters the
 * code, speaks a greeting, ends it with #, hears it back and keeps it;
 * the business's next reminder call, placed through the simulator, opens
 * with that recording and the callee hears the words. */
static void test_greeting_through_simulator(void **state)
{
	struct hx_call rc;
	char code[7], caller[13], *behaviour, *status, *transcript, *greeting;
	const char *sid;
	json_t *j;

	(void)state;
	hx_fixture_call_or_fail(&rc);
	cli_code_or_fail(rc.business_id, code);
	hx_random_phone(caller);
	behaviour = xasprintf("person; wait 1; press %s; speak 3 \"Hi, this is Anna's salon\";"
		" press #; wait 2; press 1", code);
	{
		struct hx_form f;
		char *body;
		hx_form_init(&f);
		hx_form_add(&f, "From", caller);
		hx_form_add(&f, "To", "+15005550006");
		hx_form_add(&f, "Behaviour", behaviour);
		body = hx_form_encode(&f);
		j = hx_sim_json_or_fail("/sim/inbound-calls", body);
		free(body);
		hx_form_free(&f);
	}
	sid = json_string_value(json_object_get(j, "sid"));
	assert_non_null(sid);
	status = sim_call_wait(sid);
	transcript = sim_transcript(sid);
	if (strcmp(status, "completed") != 0)
		fail_msg("the inbound call ended %s:\n%s", status, transcript);
	{
		const char *p[1] = { sid };
		char *state_after = hx_db_value_or_fail("SELECT state FROM calls WHERE call_sid = $1", 1, p);
		if (state_after == NULL || strcmp(state_after, "kept") != 0)
			fail_msg("the inbound call ended in state %s:\n%s",
				state_after ? state_after : "(no call)", transcript);
		free(state_after);
	}
	/* The status callback comes right after the action request. */
	greeting = NULL;
	for (int i = 0; i < 50 && greeting == NULL; i++) {
		greeting = greeting_of(rc.business_id);
		if (greeting == NULL)
			hx_sleep_ms(100);
	}
	if (greeting == NULL)
		fail_msg("no greeting after the call:\n%s", transcript);
	if (strstr(transcript, greeting) == NULL)
		fail_msg("the caller did not hear the recording %s back:\n%s", greeting, transcript);
	free(transcript);
	json_decref(j);

	/* The next reminder call, through the simulator. */
	hx_sim_callee_or_fail(rc.client_phone, "person; expect \"Anna's salon\"; press 1; wait 1; press 1");
	{
		struct hx_form f;
		char *body, *url = xasprintf("/2010-04-01/Accounts/%s/Calls.json", hx_env.account_sid);
		hx_form_init(&f);
		hx_form_add(&f, "To", rc.client_phone);
		hx_form_add(&f, "From", "+15005550006");
		hx_form_add(&f, "Url", rc.first_url);
		body = hx_form_encode(&f);
		j = hx_sim_json_or_fail(url, body);
		free(body);
		free(url);
		hx_form_free(&f);
	}
	sid = json_string_value(json_object_get(j, "sid"));
	assert_non_null(sid);
	free(status);
	status = sim_call_wait(sid);
	transcript = sim_transcript(sid);
	{
		const char *play = strstr(transcript, " play ");
		const char *say = strstr(transcript, rc.business_name);
		if (strcmp(status, "completed") != 0 || play == NULL ||
			strncmp(play + 6, greeting, strlen(greeting)) != 0)
			fail_msg("the reminder call does not open with the greeting %s (%s):\n%s", greeting,
				status, transcript);
		if (say != NULL && say < play)
			fail_msg("the synthesised greeting came first:\n%s", transcript);
		if (strstr(transcript, "error"))
			fail_msg("the reminder call had an error:\n%s", transcript);
	}
	{
		const char *p[1] = { rc.appointment_id };
		char *st = hx_db_value_or_fail("SELECT status FROM appointments WHERE id = $1::bigint", 1, p);
		assert_non_null(st);
		assert_string_equal(st, "confirmed");
		free(st);
	}
	free(transcript);
	free(status);
	free(greeting);
	free(behaviour);
	json_decref(j);
}

/* ---- the flood ----------------------------------------------------------- */

#define FLOOD_GUESSES 10000
#define FLOOD_CALLERS 500
#define FLOOD_THREADS 8

struct flood {
	char to[13];
	char callers[FLOOD_CALLERS][13];
	char right[7];
	atomic_int next;
	atomic_int accepted;      /* guesses that reached the record state */
	atomic_int errors;
	char error[256];
};

/* One guess: a call, a code, its answer. */
static void *flood_worker(void *arg)
{
	struct flood *fl = arg;
	int i;

	while ((i = atomic_fetch_add(&fl->next, 1)) < FLOOD_GUESSES) {
		struct inb c;
		struct hx_form f;
		char *url = xasprintf("%s" INBOUND_PATH, hx_env.public_url), guess[7];
		memset(&c, 0, sizeof(c));
		hx_random_call_sid(c.sid);
		snprintf(c.from, sizeof(c.from), "%s", fl->callers[i % FLOOD_CALLERS]);
		snprintf(c.to, sizeof(c.to), "%s", fl->to);
		/* Every 1000th guess is the right code. */
		if (i % 1000 == 999) {
			snprintf(guess, sizeof(guess), "%s", fl->right);
		} else {
			unsigned char rnd[4];
			util_random(rnd, sizeof(rnd));
			snprintf(guess, sizeof(guess), "%06u",
				(unsigned)((rnd[0] << 16 | rnd[1] << 8 | rnd[2]) % 1000000u));
		}
		inb_form(&c, &f);
		if (hx_post_form(url, &f, HX_SIGNED, &c.rs) < 0 || c.rs.status != 200)
			goto bad;
		hx_twiml_parse(c.rs.body.data, c.rs.body.len, &c.t);
		if (c.t.gather_action == NULL)
			goto bad;
		snprintf(c.next, sizeof(c.next), "%s", c.t.gather_action);
		hx_form_free(&f);
		hx_response_free(&c.rs);
		memset(&c.rs, 0, sizeof(c.rs));
		inb_form(&c, &f);
		hx_form_add(&f, "Digits", guess);
		if (hx_post_form(c.next, &f, HX_SIGNED, &c.rs) < 0 || c.rs.status != 200)
			goto bad;
		if (strstr(buf_str(&c.rs.body), "<Record"))
			atomic_fetch_add(&fl->accepted, 1);
		goto done;
bad:
		if (atomic_fetch_add(&fl->errors, 1) == 0)
			snprintf(fl->error, sizeof(fl->error), "guess %d: HTTP %ld %.200s", i, c.rs.status,
				c.rs.error);
done:
		hx_form_free(&f);
		hx_response_free(&c.rs);
		hx_twiml_free(&c.t);
		free(url);
	}
	return NULL;
}

/* One more try of the right code from a new number: must be refused
 * (throttled), and the code stays unused. */
static void expect_refused(struct flood *fl, const char *when)
{
	struct inb c;

	inb_start(&c, NULL, fl->to);
	inb_enter(&c, fl->right);
	{
		char state[72], token[40];
		long long seq;
		inb_row(&c, state, token, &seq);
		if (strcmp(state, "throttled") != 0)
			fail_msg("%s: the right code led to state %s, want throttled", when, state);
	}
	expect_hangup(&c);
	inb_clear(&c);
}

/* 10,000 guesses from 500 numbers (the right code among them): nothing
 * is accepted, and the throttle holds after Redis forgets everything
 * (FLUSHALL) and after a Redis restart; once the attempts are gone the
 * right code works, so it was the throttle that refused it. */
static void test_guess_flood(void **state)
{
	struct flood *fl = xcalloc(1, sizeof(*fl));
	pthread_t th[FLOOD_THREADS];
	char biz[24];
	long long t0 = hx_now_ms();

	(void)state;
	business_or_fail(biz);
	cli_code_or_fail(biz, fl->right);
	hx_random_phone(fl->to);
	for (int i = 0; i < FLOOD_CALLERS; i++)
		hx_random_phone(fl->callers[i]);
	for (int i = 0; i < FLOOD_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, flood_worker, fl), 0);
	for (int i = 0; i < FLOOD_THREADS; i++)
		pthread_join(th[i], NULL);
	if (atomic_load(&fl->errors) > 0)
		fail_msg("%d guesses got no TwiML: %s", atomic_load(&fl->errors), fl->error);
	assert_int_equal(atomic_load(&fl->accepted), 0);
	{
		const char *p[1] = { biz };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM task_codes WHERE"
			" business_id = $1::bigint AND used_at IS NOT NULL", 1, p), 0);
		/* At most the overall limit was even looked at. */
		if (hx_db_int_or_fail("SELECT count(*) FROM task_code_attempts WHERE outcome <> 'throttled'",
			    0, NULL) > 20)
			fail_msg("more codes checked than the overall limit allows");
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM task_code_attempts", 0, NULL),
			FLOOD_GUESSES);
	}
	print_message("# taskcode: %d guesses in %lld ms, none accepted\n", FLOOD_GUESSES,
		hx_now_ms() - t0);
	expect_refused(fl, "after the flood");
	{
		const char *argv[] = { "FLUSHALL" };
		char err[256];
		if (hx_redis(1, argv, NULL, err, sizeof(err)) < 0)
			fail_msg("FLUSHALL: %s", err);
	}
	expect_refused(fl, "after FLUSHALL");
	if (hx_stack("redis-stop", NULL, 60) != 0 || hx_stack("redis-start", NULL, 60) != 0)
		fail_msg("cannot restart Redis");
	hx_disconnect();
	expect_refused(fl, "after a Redis restart");
	hx_taskcode_reset_or_fail();
	{
		struct inb c;
		inb_start(&c, NULL, fl->to);
		inb_enter(&c, fl->right);
		expect_state(&c, "record");
		inb_clear(&c);
	}
	free(fl);
}

int taskcode_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cli, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_record_greeting_and_hear_it, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_three_wrong_codes, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_expired_and_reused, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_takes_and_callbacks, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_hangup_while_recording, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_callback_before_action, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_dashboard, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_greeting_through_simulator, tc_setup, tc_teardown),
		cmocka_unit_test_setup_teardown(test_guess_flood, tc_setup, tc_teardown),
	};
	return cmocka_run_group_tests_name("integration: task codes and inbound calls", tests,
		hx_group_setup, hx_group_teardown);
}

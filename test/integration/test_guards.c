/* Integration tests of the outbound guards and senders against a live
 * stack: the Twilio REST client against the local simulator
 * (TWILIO_API_URL), mail to the stack's SMTP sink (RINGFENCE_SMTP_URL,
 * messages in RINGFENCE_STACK_DIR/mail/), both through the test-only
 * seam of outbound_test.h, and refusing to send without outbound_send's
 * grant; the Redis rate limits and pacer, and the failsafe with /readyz and /metrics
 * and `ringfence failsafe`.
 *
 * Failsafe tests use time buckets far in the future, so counters of other
 * tests never mix with theirs; failsafe_maxima is saved and restored. */
#include "harness.h"
#include "fakeapp.h"

#include "clock.h"
#include "config.h"
#include "db.h"
#include "failsafe.h"
#include "mail.h"
#include "outbound_grant.h"
#include "outbound_test.h"
#include "ratelimit.h"
#include "rds.h"
#include "twilio.h"
#include "util.h"

#include <curl/curl.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

static struct config gcfg;
static struct db *gdb;
static struct rds *grds;
static char groot[1024];            /* the repository: bin/ringfence lives there */
static int g_redis_stopped;
static PGresult *g_maxima;          /* failsafe_maxima before the failsafe tests */

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
static int closed_port(void)
{
	char url[64];
	int port = 0;
	struct fakeapp *fa = NULL;
	char err[128];
	if (fakeapp_start(&fa, err, sizeof(err)) < 0)
		fail_msg("fakeapp: %s", err);
	sscanf(fakeapp_url(fa), "http://127.0.0.1:%d", &port);
	fakeapp_stop(fa);
	snprintf(url, sizeof(url), "%d", port);
	assert_true(port > 0);
	return port;
}

/* ---- twilio ----------------------------------------------------------- */

static void test_twilio_call_and_find(void **state)
{
	struct twilio_call_request rq;
	struct twilio_result r;
	struct twilio_found found[8];
	char to[13], url[512], cb[512];
	size_t n = 0;
	long long since = (long long)time(NULL) - 5;
	(void)state;

	hx_random_phone(to);
	hx_sim_callee_or_fail(to, "busy");
	snprintf(url, sizeof(url), "%s/twilio/voice/reminder_call", gcfg.public_url);
	snprintf(cb, sizeof(cb), "%s/twilio/status/call", gcfg.public_url);
	memset(&rq, 0, sizeof(rq));
	rq.to = to;
	rq.from = "+15005550006";
	rq.url = url;
	rq.status_callback = cb;
	rq.timeout_s = 20;
	rq.machine_detection = 1;
	assert_int_equal(outbound_test_call_create(&gcfg, &rq, &r), 0);
	if (r.outcome != TWILIO_OK)
		fail_msg("call: outcome %d HTTP %d %d %s", r.outcome, r.http_status, r.error_code,
			r.error_message);
	assert_int_equal(r.http_status, 201);
	assert_true(strncmp(r.sid, "CA", 2) == 0 && strlen(r.sid) == 34);
	assert_true(r.status[0] != '\0');
	assert_non_null(r.request_redacted);
	assert_non_null(strstr(r.request_redacted, "StatusCallbackEvent=initiated"));
	assert_non_null(strstr(r.request_redacted, "StatusCallbackEvent=completed"));
	assert_non_null(strstr(r.request_redacted, "MachineDetection=Enable"));
	assert_non_null(strstr(r.request_redacted, "Timeout=20"));
	assert_null(strstr(r.request_redacted, gcfg.auth_token));
	assert_non_null(r.response_body);
	assert_non_null(strstr(r.response_body, r.sid));
	assert_null(strstr(r.response_body, gcfg.auth_token));
	assert_true(r.elapsed_ms >= 0);

	assert_int_equal(twilio_find(&gcfg, "calls", to, since, found, 8, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(found[0].sid, r.sid);
	assert_true(found[0].created_s >= since);
	/* Nothing to another number, and nothing created after the call. */
	{
		char other[13];
		hx_random_phone(other);
		assert_int_equal(twilio_find(&gcfg, "calls", other, since, found, 8, &n), 0);
		assert_int_equal(n, 0);
		assert_int_equal(twilio_find(&gcfg, "calls", to, (long long)time(NULL) + 120, found, 8, &n), 0);
		assert_int_equal(n, 0);
	}
	twilio_result_free(&r);
	assert_null(r.request_redacted);
}

static void test_twilio_message_and_find(void **state)
{
	struct twilio_result r;
	struct twilio_found found[4];
	char to[13];
	size_t n = 0;
	long long since = (long long)time(NULL) - 5;
	(void)state;

	hx_random_phone(to);
	hx_sim_callee_or_fail(to, "person");
	assert_int_equal(outbound_test_message_create(&gcfg, to, "+15005550006",
				 "Reminder: Friday 3:30 PM. Reply 1 to confirm.", NULL, &r), 0);
	if (r.outcome != TWILIO_OK)
		fail_msg("message: outcome %d HTTP %d %d %s", r.outcome, r.http_status, r.error_code,
			r.error_message);
	assert_true(strncmp(r.sid, "SM", 2) == 0);
	assert_non_null(strstr(r.request_redacted, "Body=Reminder"));
	assert_int_equal(twilio_find(&gcfg, "messages", to, since, found, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(found[0].sid, r.sid);
	twilio_result_free(&r);
}

struct magic_case {
	const char *to;
	int code;
};

static void test_twilio_magic_numbers(void **state)
{
	/* Twilio's test numbers answer calls and messages with different
	 * codes (TWILIO.md; the simulator follows Twilio). */
	static const struct magic_case calls[] = {
		{ "+15005550001", 21217 }, { "+15005550002", 21214 }, { "+15005550003", 21215 },
		{ "+15005550004", 21216 },
	};
	static const struct magic_case messages[] = {
		{ "+15005550001", 21211 }, { "+15005550002", 21612 }, { "+15005550003", 21408 },
		{ "+15005550004", 21610 }, { "+15005550009", 21614 },
	};
	char url[512];
	(void)state;
	snprintf(url, sizeof(url), "%s/twilio/voice/reminder_call", gcfg.public_url);
	for (size_t i = 0; i < ARRAY_LEN(calls); i++) {
		struct twilio_call_request rq = { calls[i].to, "+15005550006", url, NULL, 0, 0 };
		struct twilio_result r;
		assert_int_equal(outbound_test_call_create(&gcfg, &rq, &r), 0);
		if (r.outcome != TWILIO_REJECTED || r.error_code != calls[i].code)
			fail_msg("call to %s: outcome %d code %d (want REJECTED %d): %s", calls[i].to,
				r.outcome, r.error_code, calls[i].code, r.error_message);
		assert_true(r.http_status >= 400 && r.http_status < 500);
		assert_true(r.error_message[0] != '\0');
		assert_string_equal(r.sid, "");
		twilio_result_free(&r);
	}
	for (size_t i = 0; i < ARRAY_LEN(messages); i++) {
		struct twilio_result r;
		assert_int_equal(outbound_test_message_create(&gcfg, messages[i].to, "+15005550006", "hi", NULL, &r), 0);
		if (r.outcome != TWILIO_REJECTED || r.error_code != messages[i].code)
			fail_msg("message to %s: outcome %d code %d (want REJECTED %d): %s", messages[i].to,
				r.outcome, r.error_code, messages[i].code, r.error_message);
		twilio_result_free(&r);
	}
	/* Wrong credentials: 20003, and the wrong token is not in the record. */
	{
		struct config bad = gcfg;
		struct twilio_result r;
		bad.auth_token = "0123456789abcdef0123456789abcdef";
		assert_int_equal(outbound_test_message_create(&bad, "+15551230000", "+15005550006", "hi", NULL, &r), 0);
		assert_int_equal(r.outcome, TWILIO_REJECTED);
		assert_int_equal(r.error_code, 20003);
		assert_null(strstr(r.request_redacted, bad.auth_token));
		twilio_result_free(&r);
	}
}

static void test_twilio_unknown_outcomes(void **state)
{
	struct config c = gcfg;
	struct twilio_result r;
	struct twilio_found found[2];
	struct fakeapp *fa = NULL;
	char err[128], api[128];
	size_t n = 7;
	(void)state;

	/* Nothing listening: the request may not have arrived, but that is
	 * not something the client may conclude. */
	snprintf(api, sizeof(api), "http://127.0.0.1:%d", closed_port());
	c.api_url = api;
	assert_int_equal(outbound_test_message_create(&c, "+15551230000", "+15005550006", "hi", NULL, &r), 0);
	assert_int_equal(r.outcome, TWILIO_UNKNOWN);
	assert_int_equal(r.http_status, 0);
	assert_string_equal(r.sid, "");
	twilio_result_free(&r);
	assert_int_equal(twilio_find(&c, "calls", "+15551230000", 0, found, 2, &n), -1);
	assert_int_equal(n, 0);

	/* A 500, a 2xx that is not JSON, a 4xx without Twilio's error, a bare
	 * 429. */
	if (fakeapp_start(&fa, err, sizeof(err)) < 0)
		fail_msg("fakeapp: %s", err);
	c.api_url = fakeapp_url(fa);
	{
		char path[256];
		snprintf(path, sizeof(path), "/2010-04-01/Accounts/%s/Messages.json", gcfg.account_sid);
		struct { int status; const char *body; int outcome; int code; } cases[] = {
			{ 500, "{\"code\": 20500, \"message\": \"Internal Server Error\"}", TWILIO_UNKNOWN, 0 },
			{ 503, "", TWILIO_UNKNOWN, 0 },
			{ 201, "<html>proxy</html>", TWILIO_UNKNOWN, 0 },
			{ 201, "{\"status\": \"queued\"}", TWILIO_UNKNOWN, 0 },
			{ 400, "<html>bad gateway</html>", TWILIO_UNKNOWN, 0 },
			{ 429, "", TWILIO_REJECTED, 20429 },
			{ 429, "{\"code\": 20429, \"message\": \"Too Many Requests\", \"status\": 429}", TWILIO_REJECTED, 20429 },
			{ 302, "", TWILIO_UNKNOWN, 0 },
		};
		for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
			assert_int_equal(fakeapp_serve(fa, path, cases[i].status, "application/json", cases[i].body, 0), 0);
			assert_int_equal(outbound_test_message_create(&c, "+15551230000", "+15005550006", "hi", NULL, &r), 0);
			if (r.outcome != cases[i].outcome || r.error_code != cases[i].code)
				fail_msg("case %zu (HTTP %d): outcome %d code %d, want %d %d", i, cases[i].status,
					r.outcome, r.error_code, cases[i].outcome, cases[i].code);
			assert_int_equal(r.http_status, cases[i].status);
			twilio_result_free(&r);
		}
		/* What went over the wire: Basic auth, the form. */
		{
			struct fakeapp_request *reqs = NULL;
			size_t k = fakeapp_requests(fa, path, &reqs);
			const char *auth;
			assert_true(k >= 1);
			auth = fakeapp_header(&reqs[0], "Authorization");
			assert_non_null(auth);
			assert_true(strncmp(auth, "Basic ", 6) == 0);
			assert_non_null(strstr(reqs[0].body, "To=%2B15551230000"));
			fakeapp_requests_free(reqs, k);
		}
	}
	fakeapp_stop(fa);

	/* Refused before sending: bad numbers, bad URLs. */
	{
		struct twilio_call_request rq = { "5551230000", "+15005550006", "http://x/y", NULL, 0, 0 };
		assert_int_equal(outbound_test_call_create(&gcfg, &rq, &r), -1);
		assert_int_equal(r.outcome, TWILIO_REJECTED);
		assert_int_equal(r.error_code, 0);
		twilio_result_free(&r);
		rq.to = "+15551230000";
		rq.url = "ftp://x/y";
		assert_int_equal(outbound_test_call_create(&gcfg, &rq, &r), -1);
		twilio_result_free(&r);
		assert_int_equal(outbound_test_message_create(&gcfg, "+15551230000", "+15005550006", "", NULL, &r), -1);
		twilio_result_free(&r);
	}
}

/* ---- mail --------------------------------------------------------------- */

/* The sink's file holding needle, read whole (caller frees), or NULL. */
static char *sink_find(const char *needle)
{
	char dir[1024], path[1300];
	DIR *d;
	struct dirent *e;
	char *found = NULL;

	snprintf(dir, sizeof(dir), "%s/mail", hx_env.stack_dir);
	d = opendir(dir);
	if (d == NULL)
		return NULL;
	while (found == NULL && (e = readdir(d)) != NULL) {
		size_t len;
		char *s;
		if (e->d_name[0] == '.' || strstr(e->d_name, ".eml") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		s = util_read_file(path, 1 << 22, &len);
		if (s && strstr(s, needle))
			found = s;
		else
			free(s);
	}
	closedir(d);
	return found;
}

static void test_mail_to_sink(void **state)
{
	struct mail_message m;
	struct twilio_result r;
	char subject[64], hex[17], *file = NULL, *hdr_end;
	(void)state;

	hx_random_hex(hex, 8);
	snprintf(subject, sizeof(subject), "Rappel de rendez-vous %s", hex);
	memset(&m, 0, sizeof(m));
	m.to = "ann@example.com";
	m.from = "reminders@clinic.example";
	m.subject = subject;
	m.text = "Your appointment is on Friday at 3:30 PM.\n.\nCall us: +15551234567";
	m.html = "<p>Your appointment is on <b>Friday</b> at 3:30&nbsp;PM. Zoë</p>";
	m.list_unsubscribe = "<mailto:reminders@clinic.example?subject=unsubscribe>";
	assert_int_equal(outbound_test_mail_send(&gcfg, &m, &r), 0);
	if (r.outcome != TWILIO_OK)
		fail_msg("mail_send: outcome %d %s", r.outcome, r.error_message);
	assert_true(strncmp(r.sid, "EM", 2) == 0 && strlen(r.sid) == 34);
	assert_non_null(strstr(m.message_id, r.sid));
	assert_non_null(strstr(r.request_redacted, "RCPT TO:<ann@example.com>"));
	twilio_result_free(&r);

	for (int i = 0; i < 50 && file == NULL; i++) {
		file = sink_find(m.message_id);
		if (file == NULL)
			hx_sleep_ms(100);
	}
	if (file == NULL)
		fail_msg("no message with %s in the sink", m.message_id);
	assert_true(strncmp(file, "X-Envelope: from=<reminders@clinic.example>; to=<ann@example.com>\r\n", 67) == 0);
	hdr_end = strstr(file, "\r\n\r\n");
	assert_non_null(hdr_end);
	*hdr_end = '\0';
	assert_non_null(strstr(file, "\r\nDate: "));
	assert_non_null(strstr(file, "\r\nFrom: reminders@clinic.example\r\n"));
	assert_non_null(strstr(file, "\r\nTo: ann@example.com\r\n"));
	assert_non_null(strstr(file, "\r\nSubject: Rappel de rendez-vous "));
	assert_non_null(strstr(file, "\r\nMIME-Version: 1.0\r\n"));
	assert_non_null(strstr(file, "\r\nList-Unsubscribe: <mailto:reminders@clinic.example?subject=unsubscribe>\r\n"));
	assert_non_null(strstr(file, "multipart/alternative"));
	*hdr_end = '\r';
	/* both parts, the lone dot line intact after dot-stuffing both ways */
	assert_non_null(strstr(hdr_end, "Content-Type: text/plain; charset=UTF-8"));
	assert_non_null(strstr(hdr_end, "Your appointment is on Friday at 3:30 PM.\r\n=2E\r\nCall us"));
	assert_non_null(strstr(hdr_end, "Content-Type: text/html; charset=UTF-8"));
	assert_non_null(strstr(hdr_end, "<b>Friday</b>"));
	assert_non_null(strstr(hdr_end, "Zo=C3=AB"));
	free(file);
}

static void test_mail_refusals(void **state)
{
	struct mail_message m;
	struct twilio_result r;
	struct config c = gcfg;
	char url[64], hex[17], subject[64];
	(void)state;

	hx_random_hex(hex, 8);
	snprintf(subject, sizeof(subject), "injected %s", hex);
	memset(&m, 0, sizeof(m));
	m.to = "ann@example.com";
	m.from = "reminders@clinic.example";
	m.subject = "x\r\nBcc: victim@example.org";
	m.text = subject;
	m.html = "<p>x</p>";
	m.list_unsubscribe = "<mailto:reminders@clinic.example>";
	/* Header injection: refused, nothing reaches the server. */
	assert_int_equal(outbound_test_mail_send(&gcfg, &m, &r), 0);
	assert_int_equal(r.outcome, TWILIO_REJECTED);
	assert_non_null(strstr(r.error_message, "line break"));
	twilio_result_free(&r);
	hx_sleep_ms(300);
	assert_null(sink_find(subject));

	/* The server refuses the recipient for good: 550. */
	m.subject = "refused";
	m.to = "reject-me@example.com";
	assert_int_equal(outbound_test_mail_send(&gcfg, &m, &r), 0);
	assert_int_equal(r.outcome, TWILIO_REJECTED);
	assert_int_equal(r.error_code, 550);
	twilio_result_free(&r);
	/* A temporary refusal is not a definite answer. */
	m.to = "tempfail@example.com";
	assert_int_equal(outbound_test_mail_send(&gcfg, &m, &r), 0);
	assert_int_equal(r.outcome, TWILIO_UNKNOWN);
	twilio_result_free(&r);

	/* No server. */
	m.to = "ann@example.com";
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", closed_port());
	c.smtp_url = url;
	assert_int_equal(outbound_test_mail_send(&c, &m, &r), 0);
	assert_int_equal(r.outcome, TWILIO_UNKNOWN);
	twilio_result_free(&r);
	c.smtp_url = NULL;
	assert_int_equal(outbound_test_mail_send(&c, &m, &r), -1);
	assert_int_equal(r.outcome, TWILIO_REJECTED);
	twilio_result_free(&r);
}

/* ---- the grant ---------------------------------------------------------- */

/* Without outbound_send's grant for the address, or with one for another
 * address, the transport refuses before any byte leaves: the fake Twilio
 * sees no request and the sink no mail, while the same requests with the
 * grant do arrive. */
static void test_transport_needs_grant(void **state)
{
	struct config c = gcfg;
	struct fakeapp *fa = NULL;
	struct twilio_result r;
	struct mail_message m;
	struct outbound_grant other = { OUTBOUND_GRANT_MAGIC, "+15551230001" };
	struct outbound_grant forged = { 0, "+15551230000" };
	struct twilio_call_request rq = { "+15551230000", "+15005550006", "http://x/y", NULL, 0, 0 };
	char err[128], calls[256], messages[256], hex[17], refused[64], granted[64], *file = NULL;
	(void)state;

	if (fakeapp_start(&fa, err, sizeof(err)) < 0)
		fail_msg("fakeapp: %s", err);
	c.api_url = fakeapp_url(fa);
	snprintf(calls, sizeof(calls), "/2010-04-01/Accounts/%s/Calls.json", gcfg.account_sid);
	snprintf(messages, sizeof(messages), "/2010-04-01/Accounts/%s/Messages.json", gcfg.account_sid);
	assert_int_equal(fakeapp_serve(fa, calls, 503, "application/json", "", 0), 0);
	assert_int_equal(fakeapp_serve(fa, messages, 503, "application/json", "", 0), 0);

	assert_int_equal(twilio_call_create(NULL, &c, &rq, &r), -1);
	assert_int_equal(r.outcome, TWILIO_REJECTED);
	assert_non_null(strstr(r.error_message, "grant"));
	twilio_result_free(&r);
	assert_int_equal(twilio_call_create(&other, &c, &rq, &r), -1);
	twilio_result_free(&r);
	assert_int_equal(twilio_call_create(&forged, &c, &rq, &r), -1);
	twilio_result_free(&r);
	assert_int_equal(twilio_message_create(NULL, &c, "+15551230000", "+15005550006", "hi", NULL, &r), -1);
	assert_int_equal(r.outcome, TWILIO_REJECTED);
	twilio_result_free(&r);
	assert_int_equal(twilio_message_create(&other, &c, "+15551230000", "+15005550006", "hi", NULL, &r), -1);
	twilio_result_free(&r);
	assert_int_equal(fakeapp_count(fa, NULL), 0);
	/* The same requests with the grant reach the fake Twilio. */
	assert_int_equal(outbound_test_call_create(&c, &rq, &r), 0);
	assert_int_equal(r.outcome, TWILIO_UNKNOWN);
	twilio_result_free(&r);
	assert_int_equal(outbound_test_message_create(&c, "+15551230000", "+15005550006", "hi", NULL, &r), 0);
	twilio_result_free(&r);
	assert_int_equal(fakeapp_count(fa, calls), 1);
	assert_int_equal(fakeapp_count(fa, messages), 1);
	fakeapp_stop(fa);

	/* Mail: refused without a grant or with one for another address;
	 * then one with the grant, and once the sink has that one, the
	 * refused one (sent first, had it been sent) is not there. */
	hx_random_hex(hex, 8);
	snprintf(refused, sizeof(refused), "no grant %s", hex);
	snprintf(granted, sizeof(granted), "granted %s", hex);
	memset(&m, 0, sizeof(m));
	m.to = "ann@example.com";
	m.from = "reminders@clinic.example";
	m.subject = refused;
	m.text = refused;
	m.html = "<p>x</p>";
	m.list_unsubscribe = "<mailto:reminders@clinic.example>";
	assert_int_equal(mail_send(NULL, &gcfg, &m, &r), -1);
	assert_int_equal(r.outcome, TWILIO_REJECTED);
	assert_non_null(strstr(r.error_message, "grant"));
	twilio_result_free(&r);
	other.to = "bob@example.com";
	assert_int_equal(mail_send(&other, &gcfg, &m, &r), -1);
	twilio_result_free(&r);
	m.subject = granted;
	m.text = granted;
	assert_int_equal(outbound_test_mail_send(&gcfg, &m, &r), 0);
	assert_int_equal(r.outcome, TWILIO_OK);
	twilio_result_free(&r);
	for (int i = 0; i < 50 && file == NULL; i++) {
		file = sink_find(granted);
		if (file == NULL)
			hx_sleep_ms(100);
	}
	if (file == NULL)
		fail_msg("no message with %s in the sink", granted);
	free(file);
	assert_null(sink_find(refused));
}

/* ---- rate limits ---------------------------------------------------------- */

static long long random_business(void)
{
	unsigned char b[4];
	util_random(b, sizeof(b));
	return 1000000000LL + (((long long)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]) & 0x3fffffff);
}

static void test_ratelimit_recipient_and_business(void **state)
{
	char to[13], other[13];
	long long biz = random_business(), now = (long long)time(NULL), at = -1;
	(void)state;

	hx_random_phone(to);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ratelimit_take(grds, to, biz, 3, 4, 100, now + i, &at), RATELIMIT_OK);
	assert_int_equal(ratelimit_take(grds, to, biz, 3, 4, 100, now + 10, &at), RATELIMIT_RECIPIENT);
	assert_int_equal(at, now + 86400);  /* the first of the three leaves the window */
	/* another business has its own three, under the ceiling across businesses (4) */
	assert_int_equal(ratelimit_take(grds, to, biz + 1, 3, 4, 100, now + 10, &at), RATELIMIT_OK);
	assert_int_equal(ratelimit_take(grds, to, biz + 2, 3, 4, 100, now + 11, &at), RATELIMIT_RECIPIENT_ALL);
	assert_int_equal(at, now + 86400);
	/* sliding: a day after the first, one slot is free again, then full */
	assert_int_equal(ratelimit_take(grds, to, biz, 3, 4, 100, now + 86400, NULL), RATELIMIT_OK);
	assert_int_equal(ratelimit_take(grds, to, biz, 3, 4, 100, now + 86400, &at), RATELIMIT_RECIPIENT);
	assert_int_equal(at, now + 1 + 86400);

	/* emails differing only in case are one recipient */
	{
		char e1[64], e2[64], hex[9];
		hx_random_hex(hex, 4);
		snprintf(e1, sizeof(e1), "ann.%s@example.com", hex);
		snprintf(e2, sizeof(e2), "ANN.%s@Example.COM", hex);
		assert_int_equal(ratelimit_take(grds, e1, biz + 2, 1, 6, 100, now, NULL), RATELIMIT_OK);
		assert_int_equal(ratelimit_take(grds, e2, biz + 2, 1, 6, 100, now, NULL), RATELIMIT_RECIPIENT);
	}

	/* business per hour: 2, the third recipient is refused, an hour later fine */
	biz = random_business();
	for (int i = 0; i < 2; i++) {
		hx_random_phone(other);
		assert_int_equal(ratelimit_take(grds, other, biz, 3, 6, 2, now + i, NULL), RATELIMIT_OK);
	}
	hx_random_phone(other);
	assert_int_equal(ratelimit_take(grds, other, biz, 3, 6, 2, now + 5, &at), RATELIMIT_BUSINESS);
	assert_int_equal(at, now + 3600);
	/* refused contacts were not counted for the recipient */
	assert_int_equal(ratelimit_take(grds, other, biz, 3, 6, 2, now + 3600, NULL), RATELIMIT_OK);
	/* a zero limit refuses everything */
	assert_int_equal(ratelimit_take(grds, other, biz, 0, 6, 2, now, NULL), RATELIMIT_RECIPIENT);
	assert_int_equal(ratelimit_take(grds, other, biz, 3, 0, 2, now, NULL), RATELIMIT_RECIPIENT_ALL);
	assert_int_equal(ratelimit_take(grds, other, biz, 3, 6, 0, now, NULL), RATELIMIT_BUSINESS);
	assert_int_equal(ratelimit_take(grds, "", biz, 3, 6, 2, now, NULL), RATELIMIT_ERROR);
}

/* Eight processes race for one recipient's three slots (each with its own
 * Redis connection): exactly three win. */
static void test_ratelimit_concurrent(void **state)
{
	enum { PROCS = 8, TRIES = 10 };
	char to[13];
	long long biz = random_business(), now = (long long)time(NULL);
	pid_t pids[PROCS];
	int total = 0;
	(void)state;

	hx_random_phone(to);
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct rds *r = rds_open(gcfg.redis_url);
			int ok = 0;
			for (int i = 0; i < TRIES; i++) {
				enum ratelimit_verdict v = ratelimit_take(r, to, biz, 3, 6, 1000, now, NULL);
				if (v == RATELIMIT_OK)
					ok++;
				else if (v != RATELIMIT_RECIPIENT)
					_exit(100);
			}
			rds_close(r);
			_exit(ok);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		int st;
		assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
		assert_true(WIFEXITED(st));
		if (WEXITSTATUS(st) == 100)
			fail_msg("a racer got an error from Redis");
		total += WEXITSTATUS(st);
	}
	assert_int_equal(total, 3);
}

static void test_pacer(void **state)
{
	char account[40], hex[17];
	long long w[5];
	(void)state;

	hx_random_hex(hex, 8);
	snprintf(account, sizeof(account), "ACtest%s", hex);
	for (int i = 0; i < 5; i++)
		w[i] = ratelimit_pace(grds, account, 10.0);
	assert_true(w[0] >= 0 && w[0] <= 5);
	for (int i = 1; i < 5; i++) {
		/* each reservation 100 ms after the previous, on Redis's clock */
		long long d = w[i] - w[i - 1];
		if (d < 80 || d > 101)
			fail_msg("slot %d: waits %lld then %lld (spacing %lld ms, want ~100)", i, w[i - 1], w[i], d);
	}
	/* after 20429: nothing for two seconds */
	assert_int_equal(ratelimit_backoff(grds, account, 2), 0);
	w[0] = ratelimit_pace(grds, account, 10.0);
	assert_true(w[0] >= 1900 && w[0] <= 2001);
	/* a slot long unused does not bank credit: waits reset to zero */
	hx_random_hex(hex, 8);
	snprintf(account, sizeof(account), "ACtest%s", hex);
	assert_true(ratelimit_pace(grds, account, 20.0) <= 5);
	hx_sleep_ms(300);
	assert_true(ratelimit_pace(grds, account, 20.0) <= 5);
	assert_true(ratelimit_pace(grds, account, 20.0) >= 40);
	assert_int_equal(ratelimit_pace(grds, account, 0), -1);
}

/* ---- failsafe --------------------------------------------------------------- */

/* Runs bin/ringfence with args under the stack's environment; exit status
 * (or -1), standard output into out when not NULL (caller frees). */
static int ringfence(const char *args, char **out)
{
	char cmd[2048];
	struct buf b = BUF_INIT;
	int st;
	snprintf(cmd, sizeof(cmd), "cd '%s' && bin/ringfence %s 2>/dev/null", groot, args);
	st = hx_shell(cmd, &b, 120);
	if (out)
		*out = xstrdup(buf_str(&b));
	buf_free(&b);
	return st;
}

/* GET /readyz: its status, and its body in *body (NULL: not wanted). */
static long readyz(char **body)
{
	struct hx_response rs;
	long status;
	hx_get("/readyz", &rs);
	status = rs.status;
	if (body)
		*body = xstrdup(buf_str(&rs.body));
	hx_response_free(&rs);
	return status;
}

/* A bucket start far in the future, unique to this run. */
static long long future_bucket(void)
{
	unsigned char b[3];
	util_random(b, sizeof(b));
	return (4000000000LL / 3600 + ((long long)b[0] << 16 | b[1] << 8 | b[2])) * 3600;
}

/* n contacts (attempts 'placed') claimed at at_s, as the claim writes
 * them: what the failsafe counts. */
static void fs_contacts_or_fail(long long at_s, int n)
{
	char at[32], ns[16], phone[13];
	const char *p[3] = { at, ns, phone };

	clock_sql(at_s, at);
	snprintf(ns, sizeof(ns), "%d", n);
	hx_random_phone(phone);
	assert_int_equal(hx_db_int_or_fail(
		"WITH b AS (INSERT INTO businesses (name, time_zone, callback_phone, status, verified)"
		"  VALUES ('failsafe test', 'UTC', $3, 'active', true) RETURNING id),"
		" c AS (INSERT INTO clients (business_id, name, phone) SELECT id, 'failsafe test', $3 FROM b"
		"  RETURNING id, business_id),"
		" a AS (INSERT INTO appointments (business_id, client_id, starts_at)"
		"  SELECT business_id, id, $1::timestamptz + interval '1 day' FROM c RETURNING id, business_id),"
		" r AS (INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes, due_at,"
		"  stale_at, to_address, status) SELECT a.business_id, a.id, 'voice', g, $1::timestamptz,"
		"  $1::timestamptz + interval '1 hour', $3, 'placed' FROM a, generate_series(1, $2::int) g"
		"  RETURNING id, business_id),"
		" x AS (INSERT INTO contact_attempts (reminder_id, business_id, channel, to_address, status,"
		"  lease_until, claimed_at) SELECT id, business_id, 'voice', $3, 'placed', $1::timestamptz,"
		"  $1::timestamptz FROM r RETURNING 1)"
		" SELECT count(*) FROM x", 3, p), n);
}

/* FLUSHALL: whatever Redis held is gone, as after a restart without
 * persistence. */
static void redis_flush_or_fail(void)
{
	const char *argv[1] = { "FLUSHALL" };
	size_t lens[1] = { 8 };
	redisReply *reply = rds_command(grds, 1, argv, lens);
	if (reply == NULL)
		fail_msg("FLUSHALL: %s", rds_last_error(grds));
	freeReplyObject(reply);
}

static int failsafe_setup(void **state)
{
	char err[256];
	PGresult *res;
	(void)state;
	g_maxima = hx_db_exec("SELECT window_seconds::text, max_count::text FROM failsafe_maxima", 0, NULL,
		err, sizeof(err));
	if (g_maxima == NULL)
		return -1;
	res = hx_db_exec("DELETE FROM failsafe_maxima", 0, NULL, err, sizeof(err));
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int failsafe_teardown(void **state)
{
	char err[256];
	PGresult *res;
	(void)state;
	if (failsafe_tripped(gdb, NULL, 0) != 0)
		failsafe_resume(gdb, "test_guards teardown", "test_guards");
	res = hx_db_exec("DELETE FROM failsafe_maxima", 0, NULL, err, sizeof(err));
	if (res)
		PQclear(res);
	for (int i = 0; g_maxima && i < PQntuples(g_maxima); i++) {
		const char *p[2] = { PQgetvalue(g_maxima, i, 0), PQgetvalue(g_maxima, i, 1) };
		res = hx_db_exec("INSERT INTO failsafe_maxima (window_seconds, max_count) VALUES ($1::int, $2::int)",
			2, p, err, sizeof(err));
		if (res)
			PQclear(res);
	}
	if (g_maxima)
		PQclear(g_maxima);
	g_maxima = NULL;
	return 0;
}

static void test_failsafe_spike(void **state)
{
	struct config c = gcfg;
	long long t = future_bucket();
	char reason[512], *out = NULL, *body = NULL;
	(void)state;

	c.failsafe_floor = 5;
	c.failsafe_factor = 3;
	assert_int_equal(failsafe_tripped(gdb, NULL, 0), 0);
	assert_int_equal(readyz(NULL), 200);
	assert_true(hx_metric("ringfence_failsafe_tripped") == 0);
	/* Redis flushed between contacts: the count lives in PostgreSQL. */
	for (int i = 0; i < 5; i++) {
		fs_contacts_or_fail(t + i, 1);
		redis_flush_or_fail();
		assert_int_equal(failsafe_check_and_count(gdb, &c, t + i, reason, sizeof(reason)), 0);
	}
	/* the sixth contact of the window is over max(5, 3 x 0) */
	fs_contacts_or_fail(t + 10, 1);
	redis_flush_or_fail();
	assert_int_equal(failsafe_check_and_count(gdb, &c, t + 10, reason, sizeof(reason)), 1);
	assert_non_null(strstr(reason, "contact 6"));
	assert_non_null(strstr(reason, "threshold 5"));
	assert_int_equal(failsafe_tripped(gdb, reason, sizeof(reason)), 1);
	assert_non_null(strstr(reason, "outbound volume"));
	{
		char *by = hx_db_value_or_fail("SELECT tripped_by FROM failsafe_state", 0, NULL);
		assert_string_equal(by, "automatic");
		free(by);
	}
	assert_true(hx_db_int_or_fail("SELECT count(*) FROM failsafe_events WHERE event = 'trip'"
				      " AND actor = 'automatic' AND created_at > now() - interval '1 minute'", 0, NULL) >= 1);
	/* everyone is refused now, in any window */
	assert_int_equal(failsafe_check_and_count(gdb, &c, t + 7200, reason, sizeof(reason)), 1);

	/* Tripped is not unready (webhooks are still answered): named in
	 * /readyz, 1 in /metrics, its reason on the operator's page only. */
	assert_int_equal(readyz(&body), 200);
	assert_non_null(strstr(body, "\"failsafe\": \"tripped"));
	assert_null(strstr(body, "outbound volume"));
	free(body);
	assert_true(hx_metric("ringfence_failsafe_tripped") == 1);
	assert_int_equal(ringfence("failsafe status", &out), 3);
	assert_non_null(strstr(out, "TRIPPED"));
	assert_non_null(strstr(out, "by: automatic"));
	free(out);
	/* resume needs who and why */
	{
		char hex[9], cmd[256], want[128], *got;
		const char *p[1] = { want };
		hx_random_hex(hex, 4);
		snprintf(cmd, sizeof(cmd), "failsafe resume --reason 'spike %s was a test'", hex);
		assert_int_equal(ringfence(cmd, NULL), 2);
		assert_int_equal(ringfence("failsafe status", NULL), 3);
		snprintf(cmd, sizeof(cmd), "failsafe resume --reason 'spike %s was a test' --by 'Dana Ops'", hex);
		assert_int_equal(ringfence(cmd, NULL), 0);
		assert_int_equal(ringfence("failsafe status", NULL), 0);
		snprintf(want, sizeof(want), "spike %s was a test", hex);
		got = hx_db_value_or_fail("SELECT resumed_by || '|' || resume_reason FROM failsafe_state", 0, NULL);
		snprintf(cmd, sizeof(cmd), "Dana Ops|%s", want);
		assert_string_equal(got, cmd);
		free(got);
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM failsafe_events WHERE event = 'resume'"
						   " AND actor = 'Dana Ops' AND reason = $1", 1, p), 1);
	}
	assert_true(hx_metric("ringfence_failsafe_tripped") == 0);

	/* by hand */
	assert_int_equal(ringfence("failsafe trip --reason 'maintenance' --by tester", NULL), 0);
	assert_int_equal(failsafe_check_and_count(gdb, &c, t + 20000, reason, sizeof(reason)), 1);
	assert_string_equal(reason, "maintenance");
	assert_true(hx_metric("ringfence_failsafe_tripped") == 1);
	assert_int_equal(readyz(&body), 200);
	assert_null(strstr(body, "maintenance"));
	free(body);
	assert_int_equal(failsafe_resume(gdb, "done", "tester"), 0);
	assert_true(hx_metric("ringfence_failsafe_tripped") == 0);
}

/* The historical maximum grows from completed windows only, and a window
 * in which the failsafe tripped never becomes history.  t is the start
 * of an hour, so t - 300 is the last 5-minute window of the hour before. */
static void test_failsafe_history(void **state)
{
	struct config c = gcfg;
	long long t = future_bucket();
	char reason[512];
	(void)state;

	c.failsafe_floor = 4;
	c.failsafe_factor = 2;
	/* window A: 4 contacts, the floor of both windows */
	for (int i = 0; i < 4; i++) {
		fs_contacts_or_fail(t - 300 + i, 1);
		assert_int_equal(failsafe_check_and_count(gdb, &c, t - 300 + i, reason, sizeof(reason)), 0);
	}
	/* still the current windows: no history yet */
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM failsafe_maxima WHERE max_count > 0", 0, NULL), 0);
	/* window B: A becomes history for both lengths, threshold 2 x 4 = 8 */
	for (int i = 0; i < 8; i++) {
		fs_contacts_or_fail(t + i, 1);
		if (i == 4)
			redis_flush_or_fail();
		if (failsafe_check_and_count(gdb, &c, t + i, reason, sizeof(reason)) != 0)
			fail_msg("contact %d of window B refused: %s", i + 1, reason);
	}
	assert_int_equal(hx_db_int_or_fail("SELECT max_count FROM failsafe_maxima WHERE window_seconds = 300", 0, NULL), 4);
	assert_int_equal(hx_db_int_or_fail("SELECT max_count FROM failsafe_maxima WHERE window_seconds = 3600", 0, NULL), 4);
	fs_contacts_or_fail(t + 9, 1);
	assert_int_equal(failsafe_check_and_count(gdb, &c, t + 9, reason, sizeof(reason)), 1);
	assert_non_null(strstr(reason, "threshold 8"));
	assert_int_equal(failsafe_resume(gdb, "history test", "test_guards"), 0);
	/* the next hour: B tripped, so its 8 contacts are not history */
	fs_contacts_or_fail(t + 3600, 1);
	assert_int_equal(failsafe_check_and_count(gdb, &c, t + 3600, reason, sizeof(reason)), 0);
	assert_int_equal(hx_db_int_or_fail("SELECT max_count FROM failsafe_maxima WHERE window_seconds = 300", 0, NULL), 4);
	assert_int_equal(hx_db_int_or_fail("SELECT max_count FROM failsafe_maxima WHERE window_seconds = 3600", 0, NULL), 4);
}

static int redis_restore(void **state)
{
	(void)state;
	if (g_redis_stopped) {
		if (hx_stack("redis-start", NULL, 60) != 0)
			return -1;
		g_redis_stopped = 0;
	}
	return 0;
}

static void test_redis_down(void **state)
{
	struct config c = gcfg;
	char to[13], reason[256];
	long long at;
	(void)state;

	hx_random_phone(to);
	if (hx_stack("redis-stop", NULL, 60) != 0)
		fail_msg("deploy/stack redis-stop failed");
	g_redis_stopped = 1;
	assert_int_equal(ratelimit_take(grds, to, 1, 3, 6, 60, (long long)time(NULL), &at), RATELIMIT_ERROR);
	assert_int_equal(ratelimit_pace(grds, "ACdown", 1.0), -1);
	assert_int_equal(ratelimit_backoff(grds, "ACdown", 5), -1);
	/* The failsafe counts in PostgreSQL: Redis down changes nothing. */
	assert_int_equal(failsafe_check_and_count(gdb, &c, future_bucket(), reason, sizeof(reason)), 0);
	if (hx_stack("redis-start", NULL, 60) != 0)
		fail_msg("deploy/stack redis-start failed");
	g_redis_stopped = 0;
	/* back: works again (after rds's reconnect pause) */
	hx_sleep_ms(1200);
	assert_int_equal(ratelimit_take(grds, to, random_business(), 3, 6, 60, (long long)time(NULL), NULL),
		RATELIMIT_OK);
}

/* ---- group -------------------------------------------------------------------- */

static int guards_setup(void **state)
{
	char err[512];
	const char *s;
	(void)state;
	if (hx_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "# guards: %s\n", err);
		return -1;
	}
	if (config_load(&gcfg, CFG_NEED_DB | CFG_NEED_REDIS | CFG_NEED_TWILIO | CFG_NEED_PUBLIC_URL, err,
		    sizeof(err)) < 0) {
		fprintf(stderr, "# guards: %s\n", err);
		return -1;
	}
	if (gcfg.smtp_url == NULL || hx_env.stack_dir == NULL) {
		fprintf(stderr, "# guards: RINGFENCE_SMTP_URL and RINGFENCE_STACK_DIR are required\n");
		return -1;
	}
	s = getenv("RINGFENCE_ROOT");
	snprintf(groot, sizeof(groot), "%s", s && *s ? s : ".");
	gdb = db_open(gcfg.database_url);
	grds = rds_open(gcfg.redis_url);
	if (gdb == NULL || grds == NULL || db_connect(gdb) < 0)
		return -1;
	return 0;
}

static int guards_teardown(void **state)
{
	redis_restore(state);
	db_close(gdb);
	rds_close(grds);
	hx_fini();
	return 0;
}

int guards_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_twilio_call_and_find),
		cmocka_unit_test(test_twilio_message_and_find),
		cmocka_unit_test(test_twilio_magic_numbers),
		cmocka_unit_test(test_twilio_unknown_outcomes),
		cmocka_unit_test(test_mail_to_sink),
		cmocka_unit_test(test_mail_refusals),
		cmocka_unit_test(test_transport_needs_grant),
		cmocka_unit_test(test_ratelimit_recipient_and_business),
		cmocka_unit_test(test_ratelimit_concurrent),
		cmocka_unit_test(test_pacer),
		cmocka_unit_test_setup_teardown(test_failsafe_spike, failsafe_setup, failsafe_teardown),
		cmocka_unit_test_setup_teardown(test_failsafe_history, failsafe_setup, failsafe_teardown),
		cmocka_unit_test_teardown(test_redis_down, redis_restore),
	};
	return cmocka_run_group_tests_name("integration: outbound guards", tests, guards_setup,
		guards_teardown);
}

/* Group "inbox": the reply inbox (issue 11 part 7), end to end through
 * nginx, the FastCGI pool, PostgreSQL, Redis, a real `ringfence worker`
 * and the Twilio simulator.
 *
 * A client's unrecognised text (a signed POST to /twilio/sms/inbound)
 * lands in the inbox and the client's conversation and tells the office
 * once; a keyword the flow acts on (HELP) shows in the conversation but
 * waits for nobody; a replayed MessageSid and an unsigned request add
 * nothing.  A staff reply from the dashboard is only queued by the
 * request: the worker sends it, the simulator's Messages log holds
 * "<business>: <text>" from the business's number to the client, and the
 * conversation shows it delivered after the simulator's status callback.
 * An opted-out client's form refuses (409, saying when and how); a reply
 * queued before the client texted STOP is refused by the claim and shown
 * "not sent: client opted out".  Bad input is a 4xx and queues nothing.
 *
 * Every test has its own business (texting from F_SENDER) and clients
 * with random phones. */
#include "harness.h"
#include "dash_client.h"
#include "groups.h"

#include "util.h"

#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define F_SENDER "+15005550006"
#define F_BUSINESS "Inbox Dental"
#define F_WORKER_TIMEOUT_S 90
#define F_WAIT_MS 20000

static const char *bin_path;
static const char *api_url;
static char api_base[300];

/* A business of its own with a logged-in owner, texting from F_SENDER
 * at any hour, and a client with a fresh phone and an appointment
 * tomorrow. */
struct fix {
	struct dc_owner o;
	char client[24], appt[24], phone[13];
};

static void fix_or_fail(struct fix *f)
{
	PGresult *r;
	const char *p[3];

	memset(f, 0, sizeof(*f));
	dc_owner_or_fail(&f->o, "owner", "UTC");
	hx_random_phone(f->phone);
	p[0] = f->o.biz;
	p[1] = F_BUSINESS;
	hx_db_cmd_or_fail("UPDATE businesses SET name = $2, twilio_from = '+15005550006',"
		" callback_phone = '+15005550006', window_start = '00:00', window_end = '23:59:59'"
		" WHERE id = $1::bigint", 2, p);
	p[1] = f->phone;
	r = hx_db_exec_or_fail("WITH c AS (INSERT INTO clients (business_id, name, phone, time_zone)"
		" VALUES ($1::bigint, 'Ann Inbox', $2, 'UTC') RETURNING id, business_id),"
		" a AS (INSERT INTO appointments (business_id, client_id, starts_at, notes)"
		" SELECT business_id, id, now() + interval '1 day', 'SECRET-NOTE' FROM c RETURNING id)"
		" SELECT c.id, a.id FROM c, a", 2, p);
	assert_int_equal(PQntuples(r), 1);
	snprintf(f->client, sizeof(f->client), "%s", PQgetvalue(r, 0, 0));
	snprintf(f->appt, sizeof(f->appt), "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
}

static void fix_free(struct fix *f)
{
	dc_owner_free(&f->o);
}

/* The number sql gives with the client's id as $1. */
static long long client_count(const struct fix *f, const char *sql)
{
	const char *p[1] = { f->client };
	return hx_db_int_or_fail(sql, 1, p);
}

/* Waits up to F_WAIT_MS for the status callback that leaves the client's
 * reply attempt matching cond (SQL on contact_attempts ca); fails saying
 * the reply's what callback did not come. */
static void reply_callback_or_fail(const struct fix *f, const char *cond, const char *what)
{
	char *sql = xasprintf("SELECT count(*) FROM contact_attempts ca JOIN reminders r"
		" ON r.id = ca.reminder_id JOIN appointments a ON a.id = r.appointment_id"
		" WHERE a.client_id = $1::bigint AND r.kind = 'reply' AND %s", cond);
	long long deadline = hx_now_ms() + F_WAIT_MS;

	while (client_count(f, sql) != 1) {
		if (hx_now_ms() > deadline)
			fail_msg("the reply's %s callback did not come", what);
		hx_sleep_ms(100);
	}
	free(sql);
}

/* Posts a signed (or unsigned) text sid from phone to F_SENDER saying body;
 * returns the HTTP status. */
static long post_text(const char *sid, const char *phone, const char *body, enum hx_sign_mode mode)
{
	struct hx_form f;
	struct hx_response rs;
	char *url = xasprintf("%s/twilio/sms/inbound", hx_env.public_url);
	long status;

	hx_sms_form(&f, sid, phone, F_SENDER, body);
	hx_form_add(&f, "SmsMessageSid", sid);
	hx_form_add(&f, "SmsStatus", "received");
	if (hx_post_form(url, &f, mode, &rs) < 0)
		fail_msg("POST %s: %s", url, rs.error);
	status = rs.status;
	if (mode == HX_SIGNED && (status != 200 || strncasecmp(rs.content_type, "text/xml", 8) != 0))
		fail_msg("text '%s': HTTP %ld %s", body, status, rs.content_type);
	hx_response_free(&rs);
	hx_form_free(&f);
	free(url);
	return status;
}

/* A new signed text from f's client. */
static void text_or_fail(const struct fix *f, const char *body)
{
	char sid[35];

	hx_random_message_sid(sid);
	post_text(sid, f->phone, body, HX_SIGNED);
}

/* The page at path must answer want and contain each NULL-terminated
 * string. */
static void page_has_or_fail(struct fix *f, const char *path, long want, ...)
{
	char *body = dc_get_or_fail(f->o.c, path, want);
	va_list ap;
	const char *s;

	va_start(ap, want);
	while ((s = va_arg(ap, const char *)) != NULL)
		if (strstr(body, s) == NULL)
			fail_msg("GET %s: no '%s' in:\n%s", path, s, body);
	va_end(ap);
	free(body);
}

/* Posts the reply form with body; the answer's status, its page into *page
 * (malloc'd) when page is not NULL. */
static long reply(struct fix *f, const char *body, char **page)
{
	struct dc_response r;
	char *path = xasprintf("/clients/%s/messages", f->client);
	long status;

	assert_int_equal(dc_post_form(f->o.c, path, &r, "body", body, NULL), 0);
	status = r.status;
	if (status == 303) {
		char *want = xasprintf("/clients/%s/messages?notice=reply_queued", f->client);
		assert_string_equal(r.location, want);
		free(want);
	}
	if (page)
		*page = xstrdup(buf_str(&r.body));
	dc_response_free(&r);
	free(path);
	return status;
}

/* Runs one `ringfence worker --once` pass that may contact only phone. */
static void worker_pass_or_fail(const char *phone)
{
	static const char *const once[] = { "--once", NULL };
	pid_t pid = fork();

	if (pid == 0) {
		hx_worker_child_env(phone);
		hx_exec_worker(bin_path, once);
	}
	assert_true(pid > 0);
	assert_int_equal(hx_wait_child(pid, F_WORKER_TIMEOUT_S), 0);
}

/* How many messages the simulator holds to phone whose body is body. */
static size_t sim_messages_with(const char *phone, const char *body, const char *from)
{
	json_t *arr = hx_sim_messages_to_or_fail(phone), *m;
	size_t i, n = 0;

	json_array_foreach(arr, i, m) {
		const char *b = json_string_value(json_object_get(m, "body"));
		const char *fr = json_string_value(json_object_get(m, "from"));
		if (b && strcmp(b, body) == 0 && (from == NULL || (fr && strcmp(fr, from) == 0)))
			n++;
	}
	json_decref(arr);
	return n;
}

/* ---- tests ------------------------------------------------------------------- */

/* An unrecognised text: in the inbox (first, counted in the menu) and the
 * conversation, one office notification quoting it; HELP shows in the
 * conversation but waits for nobody; "mark answered" clears the count. */
static void test_unrecognised_text_in_inbox(void **state)
{
	struct fix f;
	char *conv, *body;
	(void)state;

	fix_or_fail(&f);
	text_or_fail(&f, "Can I bring my dog to the appointment?");
	text_or_fail(&f, "HELP");
	assert_int_equal(client_count(&f, "SELECT count(*) FROM inbox_texts WHERE client_id ="
		" $1::bigint"), 2);
	assert_int_equal(client_count(&f, "SELECT count(*) FROM inbox_texts WHERE client_id ="
		" $1::bigint AND needs_answer AND flow_state IN ('hint', 'quiet')"), 1);
	assert_int_equal(client_count(&f, "SELECT count(*) FROM office_notifications WHERE"
		" client_id = $1::bigint AND kind = 'inbox'"
		" AND detail = 'Ann Inbox: Can I bring my dog to the appointment?'"), 1);
	page_has_or_fail(&f, "/inbox", 200, "Ann Inbox", "1 waiting for an answer",
		"Inbox (1)", NULL);
	conv = xasprintf("/clients/%s/messages", f.client);
	page_has_or_fail(&f, conv, 200, "Can I bring my dog to the appointment?",
		"needs an answer", "HELP", "asked for help", "Mark answered", "name=\"body\"",
		NULL);
	/* A long text: the notification quotes its first 80 characters. */
	text_or_fail(&f, "0123456789012345678901234567890123456789012345678901234567890123456789"
		"0123456789TAIL");
	assert_int_equal(client_count(&f, "SELECT count(*) FROM office_notifications WHERE"
		" client_id = $1::bigint AND kind = 'inbox' AND detail = 'Ann Inbox: "
		"01234567890123456789012345678901234567890123456789012345678901234567890123456789'"),
		1);
	/* Mark answered. */
	{
		char *path = xasprintf("/clients/%s/messages/answered", f.client);
		char *want = xasprintf("/clients/%s/messages?notice=answered", f.client);
		dc_post_see_other_or_fail(f.o.c, path, want, NULL);
		free(path);
		free(want);
	}
	assert_int_equal(client_count(&f, "SELECT count(*) FROM inbox_texts WHERE client_id ="
		" $1::bigint AND needs_answer AND answered_at IS NULL"), 0);
	body = dc_get_or_fail(f.o.c, "/inbox", 200);
	if (strstr(body, "Inbox (") != NULL || strstr(body, "Answered") == NULL)
		fail_msg("the inbox after 'mark answered':\n%s", body);
	free(body);
	free(conv);
	fix_free(&f);
}

/* A replayed text (same MessageSid) and an unsigned one add nothing. */
static void test_replay_adds_nothing(void **state)
{
	struct fix f;
	char sid[35], other[35];
	(void)state;

	fix_or_fail(&f);
	hx_random_message_sid(sid);
	post_text(sid, f.phone, "Is parking free?", HX_SIGNED);
	post_text(sid, f.phone, "Is parking free?", HX_SIGNED);
	assert_int_equal(client_count(&f, "SELECT count(*) FROM inbox_texts WHERE client_id ="
		" $1::bigint"), 1);
	assert_int_equal(client_count(&f, "SELECT count(*) FROM office_notifications WHERE"
		" client_id = $1::bigint AND kind = 'inbox'"), 1);
	hx_random_message_sid(other);
	assert_int_equal(post_text(other, f.phone, "Forged", HX_NO_SIG), 403);
	assert_int_equal(client_count(&f, "SELECT count(*) FROM inbox_texts WHERE client_id ="
		" $1::bigint"), 1);
	fix_free(&f);
}

/* A staff reply is queued by the request, sent by the worker through the
 * simulator and shown delivered after the status callback. */
static void test_reply_reaches_simulator(void **state)
{
	struct fix f;
	char *conv, *want, *page = NULL;
	const char *text = "See you at 10. Please bring the form.";
	(void)state;

	fix_or_fail(&f);
	text_or_fail(&f, "Do I need to bring anything?");
	want = xasprintf("%s: %s", F_BUSINESS, text);
	assert_int_equal(reply(&f, text, NULL), 303);
	/* Queued, not sent: the request contacts nobody. */
	assert_int_equal(client_count(&f, "SELECT count(*) FROM reminders r JOIN appointments a"
		" ON a.id = r.appointment_id WHERE a.client_id = $1::bigint AND r.kind = 'reply'"
		" AND r.channel = 'sms' AND r.attempt = 5 AND r.status = 'pending'"
		" AND r.body = 'See you at 10. Please bring the form.'"
		" AND r.to_address = (SELECT phone FROM clients WHERE id = $1::bigint)"
		" AND r.stale_at - r.due_at = interval '12 hours'"), 1);
	assert_int_equal(sim_messages_with(f.phone, want, NULL), 0);
	assert_int_equal(client_count(&f, "SELECT count(*) FROM inbox_texts WHERE client_id ="
		" $1::bigint AND answered_how = 'replied'"), 1);
	worker_pass_or_fail(f.phone);
	assert_int_equal(sim_messages_with(f.phone, want, F_SENDER), 1);
	/* The simulator's status callbacks: sent, then delivered. */
	reply_callback_or_fail(&f, "ca.delivery_status = 'delivered'", "delivered");
	conv = xasprintf("/clients/%s/messages", f.client);
	page_has_or_fail(&f, conv, 200, "Reply from ", text, "delivered", NULL);
	/* The appointment's timeline names it too. */
	{
		char *tl = xasprintf("/appointments/%s", f.appt);
		page_has_or_fail(&f, tl, 200, "Reply from the inbox queued by ", NULL);
		free(tl);
	}
	/* Nothing confidential in what was sent. */
	assert_int_equal(sim_messages_with(f.phone, "SECRET-NOTE", NULL), 0);
	free(page);
	free(conv);
	free(want);
	fix_free(&f);
}

/* A reply the carrier did not deliver (the simulator's callee: error
 * 30003) shows failed, with the error, after the status callback. */
static void test_reply_undelivered(void **state)
{
	struct fix f;
	char *conv;
	(void)state;

	fix_or_fail(&f);
	hx_sim_callee_or_fail(f.phone, "person; sms-undelivered 30003");
	text_or_fail(&f, "Is the clinic open on Sunday?");
	assert_int_equal(reply(&f, "No, we open Monday at 9.", NULL), 303);
	worker_pass_or_fail(f.phone);
	reply_callback_or_fail(&f, "ca.delivery_status = 'undelivered' AND ca.error_code = 30003",
		"undelivered");
	conv = xasprintf("/clients/%s/messages", f.client);
	page_has_or_fail(&f, conv, 200, "failed: undelivered, error 30003", NULL);
	free(conv);
	fix_free(&f);
}

/* An opted-out client: the form refuses and queues nothing; a reply
 * queued before the client's STOP is refused by the claim. */
static void test_opted_out_client(void **state)
{
	struct fix f;
	char *page = NULL, *conv;
	const char *text = "We can move you to Friday.";
	char *want;
	(void)state;

	fix_or_fail(&f);
	want = xasprintf("%s: %s", F_BUSINESS, text);
	text_or_fail(&f, "Can I come another day?");
	/* Queued first, then the client texts STOP: the claim refuses it. */
	assert_int_equal(reply(&f, text, NULL), 303);
	text_or_fail(&f, "STOP");
	worker_pass_or_fail(f.phone);
	assert_int_equal(sim_messages_with(f.phone, want, NULL), 0);
	assert_int_equal(client_count(&f, "SELECT count(*) FROM reminders r JOIN appointments a"
		" ON a.id = r.appointment_id WHERE a.client_id = $1::bigint AND r.kind = 'reply'"
		" AND r.status = 'pending' AND NOT EXISTS (SELECT 1 FROM contact_attempts ca"
		" WHERE ca.reminder_id = r.id)"), 1);
	conv = xasprintf("/clients/%s/messages", f.client);
	page_has_or_fail(&f, conv, 200, "not sent: client opted out", "opted out by STOP on",
		NULL);
	/* In the order it happened: the question, the reply, the STOP. */
	{
		char *body = dc_get_or_fail(f.o.c, conv, 200);
		const char *q = strstr(body, "Can I come another day?"), *rp = strstr(body, text);
		const char *stop = strstr(body, ">STOP<");
		if (q == NULL || rp == NULL || stop == NULL || !(q < rp && rp < stop))
			fail_msg("the conversation is not in time order:\n%s", body);
		free(body);
	}
	/* The form refuses now, and nothing more is queued. */
	assert_int_equal(reply(&f, "Are you still there?", &page), 409);
	if (strstr(page, "This client opted out by STOP on ") == NULL)
		fail_msg("the refusal does not say why:\n%s", page);
	assert_int_equal(client_count(&f, "SELECT count(*) FROM reminders r JOIN appointments a"
		" ON a.id = r.appointment_id WHERE a.client_id = $1::bigint AND r.kind = 'reply'"), 1);
	free(page);
	free(conv);
	free(want);
	fix_free(&f);
}

/* A client proposed from a calendar event and not confirmed is reached
 * by no path, a staff reply included: the form refuses (409, saying
 * why) and queues nothing; a reply queued before it became unconfirmed
 * is refused by the claim.  Once confirmed, the form takes replies. */
static void test_unconfirmed_client(void **state)
{
	struct fix f;
	char *page = NULL, *want;
	const char *text = "Yes, 3 pm works.";
	(void)state;

	fix_or_fail(&f);
	want = xasprintf("%s: %s", F_BUSINESS, text);
	text_or_fail(&f, "Is 3 pm ok?");
	assert_int_equal(reply(&f, text, NULL), 303);
	hx_db_cmd_or_fail("UPDATE clients SET proposed_at = now(), proposed_from ="
		" 'calendar feed ''Front desk'', event ''Ann'' on 2026-12-09: phone in the summary'"
		" WHERE id = $1::bigint", 1, (const char *[]){ f.client });
	worker_pass_or_fail(f.phone);
	assert_int_equal(sim_messages_with(f.phone, want, NULL), 0);
	assert_int_equal(reply(&f, "Are you still there?", &page), 409);
	if (strstr(page, "not confirmed") == NULL)
		fail_msg("the refusal does not say why:\n%s", page);
	free(page);
	assert_int_equal(client_count(&f, "SELECT count(*) FROM reminders r JOIN appointments a"
		" ON a.id = r.appointment_id WHERE a.client_id = $1::bigint AND r.kind = 'reply'"), 1);
	hx_db_cmd_or_fail("UPDATE clients SET confirmed_at = now(), confirmed_by = 'owner'"
		" WHERE id = $1::bigint", 1, (const char *[]){ f.client });
	assert_int_equal(reply(&f, "Are you still there?", NULL), 303);
	free(want);
	fix_free(&f);
}

/* A reply outside the client's calling window waits for it (the claim
 * refuses it until then) and the conversation says until when. */
static void test_reply_waits_for_window(void **state)
{
	struct fix f;
	char *conv, *want;
	const char *p[1];
	const char *text = "Your results are in.";
	(void)state;

	fix_or_fail(&f);
	p[0] = f.client;
	/* It is about 03:00 where the client lives; the window is 09-17. */
	hx_db_cmd_or_fail("UPDATE clients SET time_zone = (SELECT 'Etc/GMT' || CASE WHEN n > 0"
		" THEN '-' || n WHEN n < 0 THEN '+' || -n ELSE '' END FROM (SELECT ((3 - extract(hour"
		" FROM now() AT TIME ZONE 'UTC')::int + 36) % 24) - 12 AS n) h) WHERE id = $1::bigint",
		1, p);
	p[0] = f.o.biz;
	hx_db_cmd_or_fail("UPDATE businesses SET window_start = '09:00', window_end = '17:00'"
		" WHERE id = $1::bigint", 1, p);
	want = xasprintf("%s: %s", F_BUSINESS, text);
	assert_int_equal(reply(&f, text, NULL), 303);
	worker_pass_or_fail(f.phone);
	assert_int_equal(sim_messages_with(f.phone, want, NULL), 0);
	conv = xasprintf("/clients/%s/messages", f.client);
	page_has_or_fail(&f, conv, 200, text,
		"held: outside the calling window: waits until 09:00", NULL);
	free(conv);
	free(want);
	fix_free(&f);
}

/* Bad input: each a 4xx with its reason, nothing queued. */
static void test_bad_input_queues_nothing(void **state)
{
	struct fix f;
	struct dc_response r;
	char *page = NULL, *path, long_text[330];
	const char *p[1];
	(void)state;

	fix_or_fail(&f);
	memset(long_text, 'x', 321);
	long_text[321] = '\0';
	assert_int_equal(reply(&f, "", &page), 422);
	assert_non_null(strstr(page, "field &#39;body&#39; is required"));
	free(page);
	assert_int_equal(reply(&f, "   \n ", &page), 422);
	free(page);
	assert_int_equal(reply(&f, long_text, &page), 422);
	assert_non_null(strstr(page, "at most 320 characters (it has 321)"));
	free(page);
	assert_int_equal(reply(&f, "bell \a here", &page), 422);
	assert_non_null(strstr(page, "without control characters"));
	free(page);
	/* Exactly 320 characters, several bytes each, is fine. */
	{
		char *s = xstrdup("");
		for (int i = 0; i < 320; i++) {
			char *t = xasprintf("%s\xc3\xa9", s);
			free(s);
			s = t;
		}
		assert_int_equal(reply(&f, s, NULL), 303);
		free(s);
	}
	/* No CSRF token: 403, nothing. */
	path = xasprintf("/clients/%s/messages", f.client);
	assert_int_equal(dc_post_form(f.o.c, path, &r, "csrf", NULL, "body", "hi", NULL), 0);
	assert_int_equal(r.status, 403);
	dc_response_free(&r);
	/* Another business's client or none: 404. */
	assert_int_equal(dc_post_form(f.o.c, "/clients/999999999999/messages", &r, "body", "hi",
		NULL), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	assert_int_equal(client_count(&f, "SELECT count(*) FROM reminders r JOIN appointments a"
		" ON a.id = r.appointment_id WHERE a.client_id = $1::bigint AND r.kind = 'reply'"), 1);
	/* A client without a phone, or without an appointment, cannot be
	 * answered by text: the form says why. */
	p[0] = f.o.biz;
	{
		char *id = hx_db_value_or_fail("INSERT INTO clients (business_id, name, email)"
			" VALUES ($1::bigint, 'Mail Only', 'mail-only@example.com') RETURNING id", 1, p);
		struct fix g = f;
		snprintf(g.client, sizeof(g.client), "%s", id);
		assert_int_equal(reply(&g, "hello", &page), 422);
		assert_non_null(strstr(page, "no mobile phone number"));
		free(page);
		free(id);
		id = hx_db_value_or_fail("INSERT INTO clients (business_id, name, phone)"
			" VALUES ($1::bigint, 'No Appointment', '+15550109999') RETURNING id", 1, p);
		snprintf(g.client, sizeof(g.client), "%s", id);
		assert_int_equal(reply(&g, "hello", &page), 422);
		assert_non_null(strstr(page, "has none yet"));
		free(page);
		page = xasprintf("/clients/%s/messages", id);
		page_has_or_fail(&g, page, 200, "has none yet", NULL);
		free(page);
		free(id);
	}
	assert_int_equal(dc_biz_count(f.o.acc.business_id, "SELECT count(*) FROM reminders WHERE"
		" business_id = $1::bigint AND kind = 'reply'"), 1);
	free(path);
	fix_free(&f);
}

static int group_setup(void **state)
{
	if (hx_init_sim_api("inbox tests", &api_url, api_base, sizeof(api_base)) < 0)
		return -1;
	if ((bin_path = hx_ringfence_bin("inbox")) == NULL)
		return -1;
	return 0;
}

int inbox_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unrecognised_text_in_inbox),
		cmocka_unit_test(test_replay_adds_nothing),
		cmocka_unit_test(test_reply_reaches_simulator),
		cmocka_unit_test(test_reply_undelivered),
		cmocka_unit_test(test_opted_out_client),
		cmocka_unit_test(test_unconfirmed_client),
		cmocka_unit_test(test_reply_waits_for_window),
		cmocka_unit_test(test_bad_input_queues_nothing),
	};
	return cmocka_run_group_tests_name("integration: the reply inbox", tests, group_setup,
		hx_group_teardown);
}

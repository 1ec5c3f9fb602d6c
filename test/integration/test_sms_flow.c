/* Integration tests of SMS conversations (state_tables/reminder_sms), end
 * to end: each reminder text is sent by a real `ringfence worker` through
 * the simulator, and the client answers either as a simulated callee
 * (its script's sms-reply steps, posted signed by the simulator, which
 * sends the answer's <Message> back as Twilio does) or by a
 * signed POST to /twilio/sms/inbound, whose TwiML reply the test reads.
 *
 * Confirm, cancel, call back and reschedule change the appointment as the
 * keypad does, and tell the office once (office_notifications); an unrecognised text gets one help text per reminder and then
 * silence; a reply with nothing pending says so; HELP names the business
 * and its number; STOP opts out (a due text is then not sent) and START
 * opts back in (a due text is sent); of two businesses texting one
 * number from the same sender, the most recent reminder is answered and
 * the reply names its business; a replayed MessageSid changes nothing and
 * gets nothing; and the simulator, as Twilio, refuses to text a number
 * that texted STOP (21610) until it texts START.  A client the business
 * marked "do not call" gets no call but still gets texts.
 *
 * Every test has its own businesses and clients with random phones. */
#include "harness.h"
#include "groups.h"

#include "queue.h"
#include "rds.h"
#include "util.h"

#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define F_SENDER "+15005550006"   /* every fixture business texts from it */
#define F_WORKER_TIMEOUT_S 90
#define F_WAIT_MS 20000            /* for the simulator's callee to answer */

static const char *bin_path;
static const char *api_url;
static char api_base[300];
static struct rds *f_rds;

/* ---- fixtures and the send path ------------------------------------------ */

/* A business called name (texting from F_SENDER), a client with a fresh
 * phone, an appointment tomorrow with confidential notes, and one text
 * reminder due now. */
static void fixture_or_fail(struct hx_rfix *f, const char *name)
{
	const struct hx_rfix_opts o = { .business_name = name, .client_name = "Flow Test Client",
		.channel = "sms", .email_prefix = NULL, .notes = "SECRET-NOTE", .retry_count = 0,
		.retry_delay_minutes = 5, .stale_min = 120 };
	hx_rfix_or_fail(f, &o);
}

/* Another text reminder of f's appointment, due now, as f2 (the same
 * rows but its reminder). */
static void another_text_or_fail(const struct hx_rfix *f, struct hx_rfix *f2)
{
	const char *p[1] = { f->reminder };
	char *id = hx_db_value_or_fail("INSERT INTO reminders (business_id, appointment_id, channel,"
		" offset_minutes, due_at, stale_at, to_address) SELECT business_id, appointment_id,"
		" 'sms', offset_minutes - 1 - (SELECT count(*) FROM reminders r2"
		"  WHERE r2.appointment_id = r.appointment_id), now() - interval '1 minute',"
		" now() + interval '2 hours', to_address FROM reminders r WHERE id = $1::bigint"
		" RETURNING id", 1, p);
	assert_non_null(id);
	*f2 = *f;
	snprintf(f2->reminder, sizeof(f2->reminder), "%s", id);
	free(id);
}

/* Enqueues f's reminder and runs one worker pass (only f's phone
 * allowed); its state after. */
static void worker_pass_or_fail(const struct hx_rfix *f, struct hx_rstate *s)
{
	long long id = atoll(f->reminder);
	static const char *const once[] = { "--once", NULL };
	pid_t pid;

	assert_int_equal(queue_push(f_rds, &id, 1), 0);
	pid = fork();
	if (pid == 0) {
		hx_worker_child_env(f->phone);
		hx_exec_worker(bin_path, once);
	}
	assert_true(pid > 0);
	assert_int_equal(hx_wait_child(pid, F_WORKER_TIMEOUT_S), 0);
	hx_rstate_or_fail(f, s);
}

/* f's reminder text goes out through the worker and the simulator. */
static void sent_or_fail(const struct hx_rfix *f)
{
	struct hx_rstate s;

	worker_pass_or_fail(f, &s);
	if (strcmp(s.attempt, "placed") != 0 || s.sid[0] != 'S')
		fail_msg("reminder %s: attempt '%s' sid '%s' (%s: %s), expected a placed text",
			f->reminder, s.attempt, s.sid, s.reminder, s.reason);
}

/* How many messages the simulator holds to phone. */
static size_t sim_messages_or_fail(const char *phone)
{
	json_t *arr = hx_sim_messages_to_or_fail(phone);
	size_t n = json_array_size(arr);

	json_decref(arr);
	return n;
}

/* Waits (up to F_WAIT_MS) until the simulator has sent phone a TwiML
 * reply (direction outbound-reply) containing want, as Twilio sends the
 * <Message> of the application's answer. */
static void sim_reply_or_fail(const char *phone, const char *want)
{
	long long deadline = hx_now_ms() + F_WAIT_MS;
	int found = 0;

	do {
		json_t *j = hx_sim_messages_to_or_fail(phone), *m;
		size_t i;
		json_array_foreach(j, i, m) {
			const char *dir = json_string_value(json_object_get(m, "direction"));
			const char *body = json_string_value(json_object_get(m, "body"));
			if (dir && body && strcmp(dir, "outbound-reply") == 0 && strstr(body, want))
				found = 1;
		}
		json_decref(j);
		if (!found)
			hx_sleep_ms(100);
	} while (!found && hx_now_ms() < deadline);
	if (!found)
		fail_msg("the simulator sent %s no reply containing '%s'", phone, want);
}

/* ---- texts and their replies ---------------------------------------------- */

/* Posts a signed text with MessageSid sid from phone to to saying body
 * (with OptOutType opt unless NULL); it must be answered 200 TwiML, the
 * empty document or one <Message>.  Returns that message's text ("" for
 * the empty document), malloc'd. */
static char *post_text_or_fail(const char *sid, const char *phone, const char *to,
	const char *body, const char *opt)
{
	struct hx_form f;
	struct hx_response rs;
	char *url = xasprintf("%s/twilio/sms/inbound", hx_env.public_url), *reply = NULL;
	const char *b, *m, *e;

	hx_sms_form(&f, sid, phone, to, body);
	hx_form_add(&f, "ToCountry", "US");
	hx_form_add(&f, "SmsMessageSid", sid);
	hx_form_add(&f, "SmsStatus", "received");
	if (opt)
		hx_form_add(&f, "OptOutType", opt);
	if (hx_post_form(url, &f, HX_SIGNED, &rs) < 0)
		fail_msg("POST %s: %s", url, rs.error);
	b = buf_str(&rs.body);
	if (rs.status != 200 || strncasecmp(rs.content_type, "text/xml", 8) != 0)
		fail_msg("text '%s': HTTP %ld %s:\n%s", body ? body : "(none)", rs.status,
			rs.content_type, b);
	m = strstr(b, "<Message>");
	if (m == NULL) {
		if (strstr(b, "<Response/>") == NULL)
			fail_msg("text '%s': neither a reply nor the empty document:\n%s", body, b);
		reply = xstrdup("");
	} else {
		m += strlen("<Message>");
		e = strstr(m, "</Message>");
		if (e == NULL || strstr(e, "<Message>") != NULL || strstr(b, "<Say") ||
			strstr(b, "<Hangup") || strstr(b, "<Gather"))
			fail_msg("text '%s': not one text reply:\n%s", body, b);
		reply = xstrndup(m, (size_t)(e - m));
		if (strlen(reply) > 306) /* two GSM segments */
			fail_msg("text '%s': reply of %zu characters:\n%s", body, strlen(reply), reply);
	}
	hx_response_free(&rs);
	hx_form_free(&f);
	free(url);
	return reply;
}

/* A new signed text from f's client to its business's number; the reply
 * (malloc'd, "" for none), never with the appointment's notes. */
static char *text_or_fail(const struct hx_rfix *f, const char *body)
{
	char sid[35];
	char *reply;

	hx_random_message_sid(sid);
	reply = post_text_or_fail(sid, f->phone, F_SENDER, body, NULL);
	assert_null(strstr(reply, "SECRET"));
	return reply;
}

/* Texts body as f's client and fails unless the reply contains want
 * ("" : no reply at all). */
static void reply_or_fail(const struct hx_rfix *f, const char *body, const char *want)
{
	char *reply = text_or_fail(f, body);

	if (want[0] == '\0' ? reply[0] != '\0' : strstr(reply, want) == NULL)
		fail_msg("text '%s': reply '%s', expected %s%s%s", body, reply,
			want[0] ? "one containing '" : "none", want, want[0] ? "'" : "");
	free(reply);
}

/* ---- reading the database ------------------------------------------------- */

/* One value of a row of f's, by a query taking $1 = id; malloc'd ("" for
 * NULL). */
static char *value_or_fail(const char *sql, const char *id)
{
	const char *p[1] = { id };
	char *v = hx_db_value_or_fail(sql, 1, p);
	return v ? v : xstrdup("");
}

static void appointment_is_or_fail(const struct hx_rfix *f, const char *want)
{
	char *v = value_or_fail("SELECT status FROM appointments WHERE id = $1::bigint", f->appt);
	if (strcmp(v, want) != 0)
		fail_msg("appointment %s is '%s', expected '%s'", f->appt, v, want);
	free(v);
}

static long long count_or_fail(const char *sql, const char *id)
{
	const char *p[1] = { id };
	return hx_db_int_or_fail(sql, 1, p);
}

static long long opted_out(const struct hx_rfix *f)
{
	return count_or_fail("SELECT count(*) FROM clients WHERE id = $1::bigint"
		" AND opted_out_at IS NOT NULL", f->client);
}

/* Waits (up to F_WAIT_MS) until sql with $1 = id counts want; fails
 * naming what after that. */
static void wait_count_or_fail(const char *sql, const char *id, long long want, const char *what)
{
	long long deadline = hx_now_ms() + F_WAIT_MS, n;

	while ((n = count_or_fail(sql, id)) != want && hx_now_ms() < deadline)
		hx_sleep_ms(100);
	if (n != want)
		fail_msg("%s: still %lld after %d ms, expected %lld", what, n, F_WAIT_MS, want);
}

/* f's appointment has exactly want office notifications of kind, each
 * naming the client, saying what they did (verb) and "(text)", never the
 * notes. */
static void notified_or_fail(const struct hx_rfix *f, const char *kind, const char *verb,
	long long want)
{
	char *like = xasprintf("Flow Test Client %s %% (text)", verb);

	hx_notified_or_fail(f->appt, kind, like, "SECRET", want);
	free(like);
}

/* ---- tests -------------------------------------------------------------------- */

/* The simulated client answers the text with YES: the appointment is
 * confirmed, as by the keypad, and each transition is an sms_events row
 * of the appointment. */
static void test_confirm_by_simulated_reply(void **state)
{
	struct hx_rfix f;
	(void)state;

	fixture_or_fail(&f, "Flow Confirm Clinic");
	hx_sim_callee_or_fail(f.phone, "person; sms-reply \"YES\"");
	sent_or_fail(&f);
	wait_count_or_fail("SELECT count(*) FROM appointments WHERE id = $1::bigint"
		" AND status = 'confirmed' AND confirmed_at IS NOT NULL", f.appt, 1,
		"the appointment confirmed by the texted YES");
	sim_reply_or_fail(f.phone, "Flow Confirm Clinic: your appointment on ");
	notified_or_fail(&f, "confirmed", "confirmed", 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM sms_events WHERE appointment_id ="
		" $1::bigint AND input = 'yes' AND action = 'confirm_reply' AND to_state = 'yes_check'",
		f.appt), 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM sms_events WHERE appointment_id ="
		" $1::bigint AND input = 'done' AND to_state = 'confirmed'", f.appt), 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM sms_conversations WHERE reminder_id ="
		" $1::bigint AND state = 'confirmed'", f.reminder), 1);
	assert_int_equal(opted_out(&f), 0);
}

/* 1 confirms; 2 then cancels (a client may change the answer) with the
 * appointment's unsent reminders; a 1 after that has nothing to act on
 * and says so; CANCEL is an opt-out keyword, never a cancellation. */
static void test_confirm_cancel_and_after(void **state)
{
	struct hx_rfix f, later;
	(void)state;

	fixture_or_fail(&f, "Flow Cancel Clinic");
	sent_or_fail(&f);
	another_text_or_fail(&f, &later);
	reply_or_fail(&f, "1", "Flow Cancel Clinic: your appointment on ");
	appointment_is_or_fail(&f, "confirmed");
	notified_or_fail(&f, "confirmed", "confirmed", 1);
	/* Confirmed again: nothing new for the office. */
	reply_or_fail(&f, "CONFIRM", "Flow Cancel Clinic: your appointment on ");
	notified_or_fail(&f, "confirmed", "confirmed", 1);
	reply_or_fail(&f, " 2 ", "is cancelled. To rebook call +15005550006");
	appointment_is_or_fail(&f, "cancelled");
	assert_int_equal(count_or_fail("SELECT count(*) FROM office_notifications"
		" WHERE appointment_id = $1::bigint AND kind = 'cancelled'"
		" AND detail LIKE 'Flow Test Client cancelled % (text)'", f.appt), 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM reminders WHERE id = $1::bigint"
		" AND status = 'cancelled'", later.reminder), 1);
	reply_or_fail(&f, "1", "there is no appointment waiting for your answer");
	appointment_is_or_fail(&f, "cancelled");
	reply_or_fail(&f, "YES", "you will get appointment reminders by text again");
	appointment_is_or_fail(&f, "cancelled");
	reply_or_fail(&f, "CANCEL", "");
	assert_int_equal(opted_out(&f), 1);
}

/* 3 asks for a call back; NO then cancels. */
static void test_callback_then_no(void **state)
{
	struct hx_rfix f;
	(void)state;

	fixture_or_fail(&f, "Flow Callback Clinic");
	sent_or_fail(&f);
	reply_or_fail(&f, "3", "Flow Callback Clinic will call you back");
	assert_int_equal(count_or_fail("SELECT count(*) FROM appointments WHERE id = $1::bigint"
		" AND callback_requested_at IS NOT NULL AND status = 'booked'", f.appt), 1);
	notified_or_fail(&f, "callback", "asked for a call back about", 1);
	/* Asked again while the office has not called back: not news. */
	reply_or_fail(&f, "3", "Flow Callback Clinic will call you back");
	notified_or_fail(&f, "callback", "asked for a call back about", 1);
	reply_or_fail(&f, "no", "is cancelled");
	appointment_is_or_fail(&f, "cancelled");
}

/* 4 asks to reschedule: the request is noted and the office told (once
 * while it is open, again once the office marked it done), the reply
 * names the business, and the appointment stays as it was; a replayed
 * MessageSid runs nothing.  A 4 with nothing pending says so and tells
 * nobody. */
static void test_reschedule_by_text(void **state)
{
	struct hx_rfix f, idle;
	char sid[35], *first, *again;
	(void)state;

	fixture_or_fail(&f, "Flow Reschedule Clinic");
	sent_or_fail(&f);
	hx_random_message_sid(sid);
	first = post_text_or_fail(sid, f.phone, F_SENDER, "4", NULL);
	if (strstr(first, "Flow Reschedule Clinic will call you to find a new time") == NULL)
		fail_msg("text '4': reply '%s'", first);
	assert_null(strstr(first, "SECRET"));
	appointment_is_or_fail(&f, "booked");
	assert_int_equal(count_or_fail("SELECT count(*) FROM appointments WHERE id = $1::bigint"
		" AND reschedule_requested_at IS NOT NULL AND callback_requested_at IS NULL", f.appt), 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM sms_events WHERE reminder_id = $1::bigint"
		" AND input = '4' AND action = 'reschedule_reply' AND to_state = 'reschedule_check'",
		f.reminder), 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM sms_conversations WHERE reminder_id ="
		" $1::bigint AND state = 'reschedule'", f.reminder), 1);
	notified_or_fail(&f, "reschedule", "asked to reschedule", 1);
	for (int i = 0; i < 2; i++) {
		again = post_text_or_fail(sid, f.phone, F_SENDER, "4", NULL);
		assert_string_equal(again, "");
		free(again);
	}
	notified_or_fail(&f, "reschedule", "asked to reschedule", 1);
	reply_or_fail(&f, " 4 ", "will call you to find a new time");
	notified_or_fail(&f, "reschedule", "asked to reschedule", 1);
	{
		const char *p[1] = { f.appt };
		hx_db_cmd_or_fail("UPDATE appointments SET reschedule_done_at = now()"
			" WHERE id = $1::bigint", 1, p);
	}
	reply_or_fail(&f, "4", "will call you to find a new time");
	notified_or_fail(&f, "reschedule", "asked to reschedule", 2);
	free(first);

	fixture_or_fail(&idle, "Flow Idle Reschedule Clinic");
	reply_or_fail(&idle, "4", "Flow Idle Reschedule Clinic: there is no appointment waiting");
	assert_int_equal(count_or_fail("SELECT count(*) FROM appointments WHERE id = $1::bigint"
		" AND reschedule_requested_at IS NULL", idle.appt), 1);
	notified_or_fail(&idle, "reschedule", "asked to reschedule", 0);
}

/* Anything unrecognised gets one help text for the reminder, then
 * silence, whatever was answered between; the menu keeps working. */
static void test_unknown_once_then_silence(void **state)
{
	struct hx_rfix f;
	(void)state;

	fixture_or_fail(&f, "Flow Hint Clinic");
	sent_or_fail(&f);
	reply_or_fail(&f, "what time was it again?", "sorry, not understood. Reply 1 to confirm");
	reply_or_fail(&f, "hello?", "");
	reply_or_fail(&f, "hello??", "");
	reply_or_fail(&f, "confirm", "is confirmed");
	reply_or_fail(&f, "great thanks", "");
	appointment_is_or_fail(&f, "confirmed");
	assert_int_equal(count_or_fail("SELECT count(*) FROM sms_events WHERE reminder_id = $1::bigint"
		" AND to_state = 'hint'", f.reminder), 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM sms_events WHERE reminder_id = $1::bigint"
		" AND to_state = 'quiet'", f.reminder), 3);
}

/* No reminder was ever texted: a 1 from a client says there is nothing to
 * answer (naming the business); a stranger gets nothing. */
static void test_nothing_pending(void **state)
{
	struct hx_rfix f, stranger;
	(void)state;

	fixture_or_fail(&f, "Flow Idle Clinic");
	reply_or_fail(&f, "1", "Flow Idle Clinic: there is no appointment waiting for your answer");
	appointment_is_or_fail(&f, "booked");
	stranger = f;
	hx_random_phone(stranger.phone);
	reply_or_fail(&stranger, "1", "");
	reply_or_fail(&stranger, "HELP", "");
}

/* An answer that comes after the appointment began has nothing to act
 * on: the appointment stays as it was. */
static void test_late_answer(void **state)
{
	struct hx_rfix f;
	const char *p[1];
	(void)state;

	fixture_or_fail(&f, "Flow Late Clinic");
	sent_or_fail(&f);
	p[0] = f.appt;
	hx_db_cmd_or_fail("UPDATE appointments SET starts_at = now() - interval '1 hour'"
		" WHERE id = $1::bigint", 1, p);
	reply_or_fail(&f, "2", "there is no appointment waiting for your answer");
	appointment_is_or_fail(&f, "booked");
}

/* HELP and INFO name the business (in its SMS form) and its callback
 * number. */
static void test_help(void **state)
{
	struct hx_rfix f;
	(void)state;

	fixture_or_fail(&f, "Flow Help Clinic");
	sent_or_fail(&f);
	reply_or_fail(&f, "HELP", "Flow Help Clinic: reply 1 to confirm, 2 to cancel, 3 for a call back,"
		" 4 to reschedule");
	reply_or_fail(&f, "info", "Call us: +15005550006");
	appointment_is_or_fail(&f, "booked");

	/* A long name is texted in its SMS form (30 characters), so that the
	 * reply stays within two segments. */
	fixture_or_fail(&f, "Flow Help Clinic of the Longest Name a Business Could Want");
	sent_or_fail(&f);
	reply_or_fail(&f, "HELP", "Flow Help Clinic of the Lon...: reply 1 to confirm");
}

/* STOP: opted out at once, and the next due text is not sent (recorded
 * as opted out); START: back in (who and when recorded), and the next due
 * text is sent. */
static void test_stop_then_start(void **state)
{
	struct hx_rfix f, second, third;
	struct hx_rstate s;
	char *by;
	(void)state;

	fixture_or_fail(&f, "Flow Stop Clinic");
	sent_or_fail(&f);
	reply_or_fail(&f, "STOP", "");
	assert_int_equal(opted_out(&f), 1);
	another_text_or_fail(&f, &second);
	worker_pass_or_fail(&second, &s);
	if (s.attempts != 0 || strstr(s.reason, "opted out") == NULL)
		fail_msg("a text to an opted-out client: %s (%s), %lld attempt(s)", s.reminder,
			s.reason, s.attempts);
	assert_int_equal(sim_messages_or_fail(f.phone), 1);

	reply_or_fail(&f, "start", "Flow Stop Clinic: you will get appointment reminders by text again");
	assert_int_equal(opted_out(&f), 0);
	by = value_or_fail("SELECT opted_in_by FROM clients WHERE id = $1::bigint"
		" AND opted_in_at IS NOT NULL", f.client);
	assert_true(strncmp(by, "text SM", 7) == 0);
	free(by);
	another_text_or_fail(&f, &third);
	sent_or_fail(&third);
	assert_int_equal(sim_messages_or_fail(f.phone), 2);
}

/* Two businesses text one person from the same number: the reply acts on
 * the most recent reminder and names its business. */
static void test_two_businesses_one_sender(void **state)
{
	struct hx_rfix a, b;
	const char *p[3];
	(void)state;

	fixture_or_fail(&a, "Flow First Dentist");
	fixture_or_fail(&b, "Flow Second Salon");
	p[0] = a.phone;
	p[1] = b.client;
	p[2] = b.reminder;
	hx_db_cmd_or_fail("WITH c AS (UPDATE clients SET phone = $1 WHERE id = $2::bigint)"
		" UPDATE reminders SET to_address = $1 WHERE id = $3::bigint", 3, p);
	snprintf(b.phone, sizeof(b.phone), "%s", a.phone);
	sent_or_fail(&a);
	sent_or_fail(&b);
	reply_or_fail(&a, "1", "Flow Second Salon: your appointment on ");
	appointment_is_or_fail(&b, "confirmed");
	appointment_is_or_fail(&a, "booked");
	reply_or_fail(&a, "HELP", "Flow Second Salon");
}

/* What clients really text: nothing at all (an MMS without words), the
 * longest text, emoji, keywords with words around them, punctuation and
 * look-alike letters.  Each is answered with valid TwiML (one help text
 * for the reminder, then silence), none acts on the appointment or opts
 * anybody out; white space around a keyword still counts. */
static void test_odd_texts(void **state)
{
	static const char *const odd[] = { "", "\xf0\x9f\x91\x8d", "Yes!", "1.", "STOP now",
		"\xef\xbc\xb3\xef\xbc\xb4\xef\xbc\xaf\xef\xbc\xb0", /* fullwidth STOP */
		"\xd0\x85TOP", /* Cyrillic DZE for S */ "y\xd0\xb5s", "\t", NULL };
	struct hx_rfix f;
	char sid[35], *r, *longest;
	size_t i;
	(void)state;

	fixture_or_fail(&f, "Flow Odd Clinic");
	sent_or_fail(&f);
	hx_random_message_sid(sid);
	r = post_text_or_fail(sid, f.phone, F_SENDER, NULL, NULL);
	if (strstr(r, "sorry, not understood") == NULL)
		fail_msg("an MMS without words: reply '%s', expected the help text", r);
	free(r);
	for (i = 0; odd[i]; i++)
		reply_or_fail(&f, odd[i], "");
	longest = xmalloc(1601);
	memset(longest, 'a', 1600);
	longest[1600] = '\0';
	reply_or_fail(&f, longest, "");
	for (i = 0; i < 1600; i++)
		memcpy(longest + i, i % 2 ? "2" : " ", 1);
	reply_or_fail(&f, longest, "");
	free(longest);
	appointment_is_or_fail(&f, "booked");
	assert_int_equal(opted_out(&f), 0);
	assert_int_equal(count_or_fail("SELECT count(*) FROM inbound_texts WHERE from_number ="
		" (SELECT phone FROM clients WHERE id = $1::bigint)", f.client), 12);
	reply_or_fail(&f, "\t yes \r\n", "is confirmed");
	appointment_is_or_fail(&f, "confirmed");
	reply_or_fail(&f, "  stop  ", "");
	assert_int_equal(opted_out(&f), 1);
}

/* A replayed MessageSid (Twilio retrying) changes nothing and gets
 * nothing, however often it comes. */
static void test_replayed_sid(void **state)
{
	struct hx_rfix f;
	char sid[35], *first, *again, *at1, *at2;
	long long events;
	(void)state;

	fixture_or_fail(&f, "Flow Replay Clinic");
	sent_or_fail(&f);
	hx_random_message_sid(sid);
	first = post_text_or_fail(sid, f.phone, F_SENDER, "3", NULL);
	assert_non_null(strstr(first, "will call you back"));
	at1 = value_or_fail("SELECT callback_requested_at FROM appointments WHERE id = $1::bigint",
		f.appt);
	events = count_or_fail("SELECT count(*) FROM sms_events WHERE reminder_id = $1::bigint",
		f.reminder);
	for (int i = 0; i < 3; i++) {
		again = post_text_or_fail(sid, f.phone, F_SENDER, "3", NULL);
		assert_string_equal(again, "");
		free(again);
	}
	at2 = value_or_fail("SELECT callback_requested_at FROM appointments WHERE id = $1::bigint",
		f.appt);
	assert_string_equal(at1, at2);
	assert_int_equal(count_or_fail("SELECT count(*) FROM sms_events WHERE reminder_id = $1::bigint",
		f.reminder), events);
	assert_int_equal(count_or_fail("SELECT count(*) FROM inbound_texts WHERE message_sid = $1",
		sid), 1);
	notified_or_fail(&f, "callback", "asked for a call back about", 1);
	free(first);
	free(at1);
	free(at2);
}

/* POSTs Messages.json from F_SENDER to phone; the HTTP status, and the
 * error code of a refusal into *code (0 when none). */
static long sim_send(const char *phone, long *code)
{
	struct hx_form f;
	struct hx_sim_res r;
	char *body, *url = xasprintf("%s/Messages.json", api_base);
	long st;

	hx_form_init(&f);
	hx_form_add(&f, "To", phone);
	hx_form_add(&f, "From", F_SENDER);
	hx_form_add(&f, "Body", "A direct test text.");
	body = hx_form_encode(&f);
	if (hx_sim_request(url, NULL, NULL, body, &r) < 0)
		fail_msg("POST %s: %s", url, r.error);
	st = r.status;
	*code = r.json ? (long)json_integer_value(json_object_get(r.json, "code")) : 0;
	hx_sim_res_free(&r);
	hx_form_free(&f);
	free(body);
	free(url);
	return st;
}

/* The simulator is the carrier: after the callee texts STOP to the sender
 * its texts from that sender are refused with 21610 (HTTP 400, at
 * create), until the callee texts START.  ringfence sees both texts too:
 * opted out, then back in. */
static void test_sim_refuses_stopped_number(void **state)
{
	struct hx_rfix f;
	long code;
	(void)state;

	fixture_or_fail(&f, "Flow Carrier Clinic");
	hx_sim_callee_or_fail(f.phone,
		"person; sms-reply \"STOP\"; sms-wait 8; sms-reply \"START\"");
	sent_or_fail(&f);
	wait_count_or_fail("SELECT count(*) FROM clients WHERE id = $1::bigint"
		" AND opted_out_at IS NOT NULL", f.client, 1, "the client opted out by the texted STOP");
	assert_int_equal(sim_send(f.phone, &code), 400);
	assert_int_equal(code, 21610);
	wait_count_or_fail("SELECT count(*) FROM clients WHERE id = $1::bigint"
		" AND opted_out_at IS NULL AND opted_in_at IS NOT NULL", f.client, 1,
		"the client opted back in by the texted START");
	sim_reply_or_fail(f.phone, "you will get appointment reminders by text again");
	assert_int_equal(sim_send(f.phone, &code), 201);
	assert_int_equal(code, 0);
}

/* REVOKE and OPTOUT, Twilio's newer default opt-out keywords, opt out as
 * STOP does, in ringfence and at the simulated carrier (21610). */
static void test_newer_opt_out_words(void **state)
{
	struct hx_rfix f;
	long code;
	(void)state;

	fixture_or_fail(&f, "Flow Revoke Clinic");
	sent_or_fail(&f);
	reply_or_fail(&f, " revoke ", "");
	assert_int_equal(opted_out(&f), 1);
	reply_or_fail(&f, "START", "you will get appointment reminders by text again");
	assert_int_equal(opted_out(&f), 0);
	reply_or_fail(&f, "OptOut", "");
	assert_int_equal(opted_out(&f), 1);
	appointment_is_or_fail(&f, "booked");

	fixture_or_fail(&f, "Flow Optout Carrier Clinic");
	hx_sim_callee_or_fail(f.phone, "person; sms-reply \"OPTOUT\"");
	sent_or_fail(&f);
	wait_count_or_fail("SELECT count(*) FROM clients WHERE id = $1::bigint"
		" AND opted_out_at IS NOT NULL", f.client, 1, "the client opted out by OPTOUT");
	assert_int_equal(sim_send(f.phone, &code), 400);
	assert_int_equal(code, 21610);
}

/* The business's "do not call" (dashboard client page, API) stops calls
 * only: the voice reminder is not placed and says why; a text still goes. */
static void test_do_not_call_stops_voice_only(void **state)
{
	struct hx_rfix f, text;
	struct hx_rstate s;
	const char *p[1];
	const struct hx_rfix_opts o = { .business_name = "Flow Quiet Clinic",
		.client_name = "Flow Test Client", .channel = "voice", .email_prefix = NULL,
		.notes = NULL, .retry_count = 0, .retry_delay_minutes = 5, .stale_min = 120 };
	(void)state;

	hx_rfix_or_fail(&f, &o);
	p[0] = f.client;
	hx_db_cmd_or_fail("UPDATE clients SET do_not_call = true WHERE id = $1::bigint", 1, p);
	worker_pass_or_fail(&f, &s);
	if (s.attempts != 0 || strcmp(s.reminder, "pending") != 0 || s.reason[0] == '\0')
		fail_msg("a call to a do-not-call client: %s (%s), %lld attempt(s)", s.reminder,
			s.reason, s.attempts);
	another_text_or_fail(&f, &text);
	sent_or_fail(&text);
}

static int group_setup(void **state)
{
	if (hx_init_sim_api("sms flow tests", &api_url, api_base, sizeof(api_base)) < 0)
		return -1;
	if ((bin_path = hx_ringfence_bin("sms flow")) == NULL)
		return -1;
	f_rds = rds_open(hx_env.redis_url);
	return f_rds ? 0 : -1;
}

static int group_teardown(void **state)
{
	if (f_rds)
		rds_close(f_rds);
	f_rds = NULL;
	return hx_group_teardown(state);
}

int sms_flow_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_odd_texts),
		cmocka_unit_test(test_confirm_by_simulated_reply),
		cmocka_unit_test(test_confirm_cancel_and_after),
		cmocka_unit_test(test_callback_then_no),
		cmocka_unit_test(test_reschedule_by_text),
		cmocka_unit_test(test_unknown_once_then_silence),
		cmocka_unit_test(test_nothing_pending),
		cmocka_unit_test(test_late_answer),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_stop_then_start),
		cmocka_unit_test(test_two_businesses_one_sender),
		cmocka_unit_test(test_replayed_sid),
		cmocka_unit_test(test_sim_refuses_stopped_number),
		cmocka_unit_test(test_newer_opt_out_words),
		cmocka_unit_test(test_do_not_call_stops_voice_only),
	};
	return cmocka_run_group_tests_name("integration: SMS conversations", tests, group_setup,
		group_teardown);
}

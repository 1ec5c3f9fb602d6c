/* Unit tests: the reminder state words of the dashboard (one case per
 * word, and the facts that decide between them), Twilio's error table,
 * and the timeline's masking of secrets. */
#include "unit.h"

#include "audit.h"
#include "dash_appointments.h"
#include "dash_timeline.h"

#include <jansson.h>

/* The word for f, with its detail in detail[256]. */
static const char *word(const struct dash_reminder_facts *f, char *detail)
{
	return dash_reminder_state(f, detail, 256);
}

/* Facts of a reminder in status st, nothing else known. */
static struct dash_reminder_facts facts(const char *channel, const char *st)
{
	struct dash_reminder_facts f;
	memset(&f, 0, sizeof(f));
	f.channel = channel;
	f.reminder_status = st;
	return f;
}

static void test_every_word(void **state)
{
	struct dash_reminder_facts f;
	char d[256];
	(void)state;

	/* scheduled: pending and free to go (or not due yet). */
	f = facts("voice", "pending");
	assert_string_equal(word(&f, d), "scheduled");
	assert_string_equal(d, "");
	f.block_code = "ineligible";
	f.block_reason = "not due yet";
	assert_string_equal(word(&f, d), "scheduled");

	/* sending: a worker holds it. */
	f = facts("voice", "dialing");
	f.attempt_status = "dialing";
	assert_string_equal(word(&f, d), "sending");

	/* sent: handed over, nothing more heard. */
	f = facts("sms", "placed");
	f.attempt_status = "placed";
	f.delivery_status = "sent";
	assert_string_equal(word(&f, d), "sent");
	f = facts("email", "placed");
	f.attempt_status = "placed";
	assert_string_equal(word(&f, d), "sent");

	/* delivered: the text arrived, the call was answered. */
	f = facts("sms", "completed");
	f.attempt_status = "placed";
	f.delivery_status = "delivered";
	assert_string_equal(word(&f, d), "delivered");
	f = facts("voice", "completed");
	f.attempt_status = "placed";
	f.call_status = "completed";
	f.answered_by = "human";
	assert_string_equal(word(&f, d), "delivered");

	/* What the person pressed wins over the call's own end. */
	f = facts("voice", "completed");
	f.attempt_status = "placed";
	f.call_status = "completed";
	f.call_action = "confirm";
	assert_string_equal(word(&f, d), "confirmed");
	f.call_action = "cancel";
	assert_string_equal(word(&f, d), "cancelled by client");
	f.call_action = "request_callback";
	assert_string_equal(word(&f, d), "asked for a call back");
	/* Even while the call is still in progress. */
	f = facts("voice", "placed");
	f.attempt_status = "placed";
	f.call_status = "in-progress";
	f.call_action = "confirm";
	assert_string_equal(word(&f, d), "confirmed");

	/* cancelled by client: the other reminders of an appointment the
	 * client cancelled (actions.c's reason). */
	f = facts("sms", "cancelled");
	f.reason = "appointment cancelled by client";
	assert_string_equal(word(&f, d), "cancelled by client");
	f.reason = "appointment cancelled";
	assert_string_equal(word(&f, d), "cancelled");
	f.reason = "rescheduled";
	assert_string_equal(word(&f, d), "cancelled");

	/* reached voicemail: the flow's machine message, or AMD. */
	f = facts("voice", "completed");
	f.attempt_status = "placed";
	f.call_status = "completed";
	f.voicemail = 1;
	assert_string_equal(word(&f, d), "reached voicemail");
	f.voicemail = 0;
	f.answered_by = "machine_end_beep";
	assert_string_equal(word(&f, d), "reached voicemail");

	/* no answer, busy: status.c's reasons and the call's status. */
	f = facts("voice", "failed");
	f.attempt_status = "placed";
	f.call_status = "no-answer";
	f.reason = "call no-answer";
	assert_string_equal(word(&f, d), "no answer");
	f.call_status = NULL;
	assert_string_equal(word(&f, d), "no answer");
	f = facts("voice", "failed");
	f.attempt_status = "placed";
	f.call_status = "busy";
	f.reason = "call busy";
	assert_string_equal(word(&f, d), "busy");
	f.call_status = NULL;
	assert_string_equal(word(&f, d), "busy");

	/* failed, with Twilio's reason: the code and its meaning. */
	f = facts("voice", "failed");
	f.attempt_status = "failed";
	f.error_code = 21211;
	f.reason = "Twilio refused (21211): Invalid 'To' Phone Number";
	assert_string_equal(word(&f, d), "failed");
	assert_string_equal(d, "error 21211: the number is not a valid phone number");
	f.error_code = 30006;
	assert_string_equal(word(&f, d), "failed");
	assert_string_equal(d, "error 30006: a landline, or a carrier that cannot take texts");
	/* A code the table lacks: the code alone. */
	f.error_code = 31999;
	assert_string_equal(word(&f, d), "failed");
	assert_string_equal(d, "error 31999");
	/* No code: the recorded reason. */
	f.error_code = 0;
	assert_string_equal(word(&f, d), "failed");
	assert_string_equal(d, "Twilio refused (21211): Invalid 'To' Phone Number");
	/* An undelivered text. */
	f = facts("sms", "failed");
	f.attempt_status = "placed";
	f.delivery_status = "undelivered";
	f.error_code = 30003;
	assert_string_equal(word(&f, d), "failed");
	assert_string_equal(d, "error 30003: the phone is switched off or unreachable");
	/* A call that failed after it was placed, still 'placed'. */
	f = facts("voice", "placed");
	f.attempt_status = "placed";
	f.call_status = "failed";
	assert_string_equal(word(&f, d), "failed");
	/* Reconciled: Twilio has no such call. */
	f = facts("voice", "not_placed");
	f.attempt_status = "not_placed";
	f.reason = "reconciled: Twilio has no call to this number since the attempt";
	assert_string_equal(word(&f, d), "failed");
	assert_string_equal(d, "reconciled: Twilio has no call to this number since the attempt");

	/* opted out: before sending (the eligibility rule) and Twilio's 21610. */
	f = facts("sms", "pending");
	f.block_code = "ineligible";
	f.block_reason = "recipient opted out";
	assert_string_equal(word(&f, d), "opted out");
	f = facts("sms", "failed");
	f.attempt_status = "failed";
	f.error_code = 21610;
	assert_string_equal(word(&f, d), "opted out");

	/* outside the calling window. */
	f = facts("voice", "pending");
	f.block_code = "window";
	f.block_reason = "outside the calling window";
	assert_string_equal(word(&f, d), "outside the calling window");

	/* rate limited: deferred by a limit, or skipped for one. */
	f = facts("voice", "pending");
	f.block_code = "deferred";
	f.block_reason = "deferred until 2026-11-25T11:00:00Z";
	f.reason = "deferred: business limit (30 contacts per hour) reached";
	assert_string_equal(word(&f, d), "rate limited");
	f = facts("voice", "skipped");
	f.attempt_status = "skipped_rate_limited";
	f.reason = "skipped: recipient limit (3 contacts per 24 h from one business) reached";
	assert_string_equal(word(&f, d), "rate limited");

	/* blocked (not allowed): the allow-list, an unverified business. */
	f = facts("voice", "blocked_not_allowed");
	f.attempt_status = "blocked_not_allowed";
	assert_string_equal(word(&f, d), "blocked (not allowed)");
	f = facts("voice", "pending");
	f.block_code = "ineligible";
	f.block_reason = "unverified business: only its own number";
	assert_string_equal(word(&f, d), "blocked (not allowed)");
	f.block_reason = "recipient number invalid";
	assert_string_equal(word(&f, d), "blocked (not allowed)");

	/* held by the failsafe: tripped now, or skipped by it. */
	f = facts("voice", "pending");
	f.block_code = "ineligible";
	f.block_reason = "failsafe tripped";
	assert_string_equal(word(&f, d), "held by the failsafe");
	f = facts("voice", "skipped");
	f.attempt_status = "skipped_failsafe";
	assert_string_equal(word(&f, d), "held by the failsafe");

	/* outcome unknown: the attempt's or the reminder's. */
	f = facts("voice", "unknown");
	f.attempt_status = "unknown";
	assert_string_equal(word(&f, d), "outcome unknown — needs your decision");
	f = facts("email", "dialing");
	f.attempt_status = "unknown";
	assert_string_equal(word(&f, d), "outcome unknown — needs your decision");

	/* The two rows no owner's word above explains. */
	f = facts("voice", "skipped_stale");
	f.reason = "stale: not sent before 2026-11-25T12:00:00Z";
	assert_string_equal(word(&f, d), "not sent in time");
	f = facts("voice", "cancelled");
	assert_string_equal(word(&f, d), "cancelled");

	/* A status the page does not know is not dressed up as success. */
	f = facts("voice", "weird");
	assert_string_equal(word(&f, d), "failed");
	assert_string_equal(d, "weird");
}

static void test_error_table(void **state)
{
	(void)state;
	assert_string_equal(dash_twilio_error_meaning(21610), "the recipient replied STOP");
	assert_string_equal(dash_twilio_error_meaning(21614), "the number is not a mobile number");
	assert_null(dash_twilio_error_meaning(0));
	assert_null(dash_twilio_error_meaning(12345));
}

static void test_mask(void **state)
{
	json_t *rec = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:[s], s:s}",
		"kind", "webhook",
		"params", "CallSid", "CA0123", "X-Twilio-Signature", "abc=", "Digits", "1",
		"auth_token", "hunter2",
		"list", "with s3cr3t-token-value inside",
		"Password", "pw");
	char *s;
	(void)state;

	audit_add_secret("s3cr3t-token-value");
	dash_timeline_mask(rec);
	s = json_dumps(rec, JSON_SORT_KEYS);
	assert_non_null(s);
	assert_null(strstr(s, "abc="));
	assert_null(strstr(s, "hunter2"));
	assert_null(strstr(s, "s3cr3t-token-value"));
	assert_null(strstr(s, "\"pw\""));
	assert_non_null(strstr(s, "\"Digits\": \"1\""));
	assert_non_null(strstr(s, "\"CallSid\": \"CA0123\""));
	assert_non_null(strstr(s, "\"auth_token\": \"[redacted]\""));
	assert_non_null(strstr(s, "with [redacted] inside"));
	free(s);
	json_decref(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_word),
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_mask),
	};
	return cmocka_run_group_tests_name("dash_appointments", tests, NULL, NULL);
}

/* Unit tests: the reminder state words of the dashboard (one case per
 * word, and the facts that decide between them), Twilio's error table,
 * and the timeline's masking of secrets. */
#include "unit.h"

#include "audit.h"
#include "dash_appointments.h"
#include "dash_timeline.h"

#include <jansson.h>

/* One case: the facts, the word they must give and the detail (NULL:
 * the detail is not checked). */
struct word_case {
	struct dash_reminder_facts f;
	const char *word, *detail;
};

#define ATTEMPT_PLACED .attempt_status = "placed"
static const struct word_case word_cases[] = {
	/* scheduled: pending and free to go (or not due yet). */
	{ { .channel = "voice", .reminder_status = "pending" }, "scheduled", "" },
	{ { .channel = "voice", .reminder_status = "pending", .block_code = "ineligible",
	    .block_reason = "not due yet" }, "scheduled", NULL },

	/* sending: a worker holds it. */
	{ { .channel = "voice", .reminder_status = "dialing", .attempt_status = "dialing" },
	  "sending", NULL },

	/* sent: handed over, nothing more heard. */
	{ { .channel = "sms", .reminder_status = "placed", ATTEMPT_PLACED,
	    .delivery_status = "sent" }, "sent", NULL },
	{ { .channel = "email", .reminder_status = "placed", ATTEMPT_PLACED }, "sent", NULL },

	/* delivered: the text arrived, the call was answered. */
	{ { .channel = "sms", .reminder_status = "completed", ATTEMPT_PLACED,
	    .delivery_status = "delivered" }, "delivered", NULL },
	{ { .channel = "voice", .reminder_status = "completed", ATTEMPT_PLACED,
	    .call_status = "completed", .answered_by = "human" }, "delivered", NULL },

	/* What the person pressed wins over the call's own end. */
	{ { .channel = "voice", .reminder_status = "completed", ATTEMPT_PLACED,
	    .call_status = "completed", .call_action = "confirm" }, "confirmed", NULL },
	{ { .channel = "voice", .reminder_status = "completed", ATTEMPT_PLACED,
	    .call_status = "completed", .call_action = "cancel" }, "cancelled by client", NULL },
	{ { .channel = "voice", .reminder_status = "completed", ATTEMPT_PLACED,
	    .call_status = "completed", .call_action = "request_callback" },
	  "asked for a call back", NULL },
	{ { .channel = "voice", .reminder_status = "completed", ATTEMPT_PLACED,
	    .call_status = "completed", .call_action = "request_reschedule" },
	  "asked to reschedule", NULL },
	/* Even while the call is still in progress. */
	{ { .channel = "voice", .reminder_status = "placed", ATTEMPT_PLACED,
	    .call_status = "in-progress", .call_action = "confirm" }, "confirmed", NULL },

	/* cancelled by client: the other reminders of an appointment the
	 * client cancelled (actions.c's reason). */
	{ { .channel = "sms", .reminder_status = "cancelled",
	    .reason = "appointment cancelled by client" }, "cancelled by client", NULL },
	{ { .channel = "sms", .reminder_status = "cancelled",
	    .reason = "appointment cancelled" }, "cancelled", NULL },
	{ { .channel = "sms", .reminder_status = "cancelled", .reason = "rescheduled" },
	  "cancelled", NULL },

	/* reached voicemail: the flow's machine message, or AMD. */
	{ { .channel = "voice", .reminder_status = "completed", ATTEMPT_PLACED,
	    .call_status = "completed", .voicemail = 1 }, "reached voicemail", NULL },
	{ { .channel = "voice", .reminder_status = "completed", ATTEMPT_PLACED,
	    .call_status = "completed", .answered_by = "machine_end_beep" },
	  "reached voicemail", NULL },

	/* no answer, busy: status.c's reasons and the call's status. */
	{ { .channel = "voice", .reminder_status = "failed", ATTEMPT_PLACED,
	    .call_status = "no-answer", .reason = "call no-answer" }, "no answer", NULL },
	{ { .channel = "voice", .reminder_status = "failed", ATTEMPT_PLACED,
	    .reason = "call no-answer" }, "no answer", NULL },
	{ { .channel = "voice", .reminder_status = "failed", ATTEMPT_PLACED,
	    .call_status = "busy", .reason = "call busy" }, "busy", NULL },
	{ { .channel = "voice", .reminder_status = "failed", ATTEMPT_PLACED,
	    .reason = "call busy" }, "busy", NULL },

	/* failed, with Twilio's reason: the code and its meaning. */
	{ { .channel = "voice", .reminder_status = "failed", .attempt_status = "failed",
	    .error_code = 21211, .reason = "Twilio refused (21211): Invalid 'To' Phone Number" },
	  "failed", "error 21211: the number is not a valid phone number" },
	{ { .channel = "voice", .reminder_status = "failed", .attempt_status = "failed",
	    .error_code = 30006, .reason = "Twilio refused (21211): Invalid 'To' Phone Number" },
	  "failed", "error 30006: a landline, or a carrier that cannot take texts" },
	/* A code the table lacks: the code alone. */
	{ { .channel = "voice", .reminder_status = "failed", .attempt_status = "failed",
	    .error_code = 31999, .reason = "Twilio refused (21211): Invalid 'To' Phone Number" },
	  "failed", "error 31999" },
	/* No code: the recorded reason. */
	{ { .channel = "voice", .reminder_status = "failed", .attempt_status = "failed",
	    .reason = "Twilio refused (21211): Invalid 'To' Phone Number" },
	  "failed", "Twilio refused (21211): Invalid 'To' Phone Number" },
	/* An undelivered text. */
	{ { .channel = "sms", .reminder_status = "failed", ATTEMPT_PLACED,
	    .delivery_status = "undelivered", .error_code = 30003 },
	  "failed", "error 30003: the phone is switched off or unreachable" },
	/* A call that failed after it was placed, still 'placed'. */
	{ { .channel = "voice", .reminder_status = "placed", ATTEMPT_PLACED,
	    .call_status = "failed" }, "failed", NULL },
	/* Reconciled: Twilio has no such call. */
	{ { .channel = "voice", .reminder_status = "not_placed", .attempt_status = "not_placed",
	    .reason = "reconciled: Twilio has no call to this number since the attempt" },
	  "failed", "reconciled: Twilio has no call to this number since the attempt" },

	/* opted out: before sending (the eligibility rule) and Twilio's 21610. */
	{ { .channel = "sms", .reminder_status = "pending", .block_code = "ineligible",
	    .block_reason = "recipient opted out" }, "opted out", NULL },
	{ { .channel = "sms", .reminder_status = "failed", .attempt_status = "failed",
	    .error_code = 21610 }, "opted out", NULL },

	/* outside the calling window. */
	{ { .channel = "voice", .reminder_status = "pending", .block_code = "window",
	    .block_reason = "outside the calling window" }, "outside the calling window", NULL },

	/* rate limited: deferred by a limit, or skipped for one. */
	{ { .channel = "voice", .reminder_status = "pending", .block_code = "deferred",
	    .block_reason = "deferred until 2026-11-25T11:00:00Z",
	    .reason = "deferred: business limit (30 contacts per hour) reached" },
	  "rate limited", NULL },
	{ { .channel = "voice", .reminder_status = "skipped",
	    .attempt_status = "skipped_rate_limited",
	    .reason = "skipped: recipient limit (3 contacts per 24 h from one business) reached" },
	  "rate limited", NULL },

	/* blocked (not allowed): the allow-list, an unverified business. */
	{ { .channel = "voice", .reminder_status = "blocked_not_allowed",
	    .attempt_status = "blocked_not_allowed" }, "blocked (not allowed)", NULL },
	{ { .channel = "voice", .reminder_status = "pending", .block_code = "ineligible",
	    .block_reason = "unverified business: only its own number" },
	  "blocked (not allowed)", NULL },
	{ { .channel = "voice", .reminder_status = "pending", .block_code = "ineligible",
	    .block_reason = "recipient number invalid" }, "blocked (not allowed)", NULL },

	/* held by the failsafe: tripped now, or skipped by it. */
	{ { .channel = "voice", .reminder_status = "pending", .block_code = "ineligible",
	    .block_reason = "failsafe tripped" }, "held by the failsafe", NULL },
	{ { .channel = "voice", .reminder_status = "skipped", .attempt_status = "skipped_failsafe" },
	  "held by the failsafe", NULL },

	/* held by the business's switch or an unconfirmed client (017). */
	{ { .channel = "sms", .reminder_status = "pending", .block_code = "ineligible",
	    .block_reason = "automatic messages are off" }, "held: automatic messages are off", NULL },
	{ { .channel = "voice", .reminder_status = "pending", .block_code = "ineligible",
	    .block_reason = "client not confirmed (proposed from a calendar event)" },
	  "held: client not confirmed", NULL },

	/* outcome unknown: the attempt's or the reminder's. */
	{ { .channel = "voice", .reminder_status = "unknown", .attempt_status = "unknown" },
	  "outcome unknown — needs your decision", NULL },
	{ { .channel = "email", .reminder_status = "dialing", .attempt_status = "unknown" },
	  "outcome unknown — needs your decision", NULL },

	/* The two rows no owner's word above explains. */
	{ { .channel = "voice", .reminder_status = "skipped_stale",
	    .reason = "stale: not sent before 2026-11-25T12:00:00Z" }, "not sent in time", NULL },
	{ { .channel = "voice", .reminder_status = "cancelled" }, "cancelled", NULL },

	/* A status the page does not know is not dressed up as success. */
	{ { .channel = "voice", .reminder_status = "weird" }, "failed", "weird" },
};
#undef ATTEMPT_PLACED

static void test_every_word(void **state)
{
	char d[256];
	(void)state;

	for (size_t i = 0; i < sizeof(word_cases) / sizeof(word_cases[0]); i++) {
		const struct word_case *c = &word_cases[i];
		const char *w = dash_reminder_state(&c->f, d, sizeof(d));
		if (w == NULL || strcmp(w, c->word) != 0)
			fail_msg("case %zu: '%s', want '%s'", i, w ? w : "(null)", c->word);
		if (c->detail && strcmp(d, c->detail) != 0)
			fail_msg("case %zu: detail '%s', want '%s'", i, d, c->detail);
	}
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

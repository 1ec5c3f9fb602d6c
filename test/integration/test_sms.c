/* Integration tests of inbound texts and of the smaller input checks of
 * the webhook path: a text's fields are validated and its AccountSid
 * checked; an opt-out keyword opts the sender out (and START back in)
 * only with the business(es) that text from the number it was sent to; a status
 * callback for the 'initiated' event is recorded in order without an
 * error; an upper-case CallSid is refused at validation, never by the
 * database.
 *
 * Every test makes its own businesses and clients with random numbers, so
 * tests neither see nor disturb each other's rows. */
#include "harness.h"
#include "groups.h"
#include "util.h"

#include <strings.h>

/* How long a record may take to show up in Redis after its response. */
#define AUDIT_WAIT_MS 3000
#define EMPTY_TWIML "<Response/>"

/* ---- helpers ----------------------------------------------------------- */

/* A business texting from twilio_from (NULL: none of its own, so
 * TWILIO_FROM_NUMBER) and one client of it with phone; their ids. */
static void business_with_client_or_fail(const char *twilio_from, const char *phone,
	char business_id[24], char client_id[24])
{
	char callback[13], *v;
	hx_random_phone(callback);
	{
		const char *p[2] = { callback, twilio_from };
		v = hx_db_value_or_fail("INSERT INTO businesses (name, time_zone, callback_phone,"
			" status, verified, twilio_from)"
			" VALUES ('SMS Test Salon', 'America/New_York', $1, 'active', true, $2)"
			" RETURNING id", 2, p);
		assert_non_null(v);
		snprintf(business_id, 24, "%s", v);
		free(v);
	}
	{
		const char *p[2] = { business_id, phone };
		v = hx_db_value_or_fail("INSERT INTO clients (business_id, name, phone)"
			" VALUES ($1::bigint, 'SMS Test Client', $2) RETURNING id", 2, p);
		assert_non_null(v);
		snprintf(client_id, 24, "%s", v);
		free(v);
	}
}

/* 1 when the client is opted out, else 0. */
static long long opted_out(const char *client_id)
{
	const char *p[1] = { client_id };
	return hx_db_int_or_fail("SELECT count(*) FROM clients WHERE id = $1::bigint"
		" AND opted_out_at IS NOT NULL", 1, p);
}

/* POSTs f to the inbound SMS webhook; a signed one must be answered 200
 * with TwiML whatever it carried: the empty document, or one reply
 * (test_sms_flow.c tests what the replies say). */
static long post_sms(const struct hx_form *f, enum hx_sign_mode mode)
{
	struct hx_response rs;
	char *url = xasprintf("%s/twilio/sms/inbound", hx_env.public_url);
	long st;
	if (hx_post_form(url, f, mode, &rs) < 0)
		fail_msg("POST %s: %s", url, rs.error);
	st = rs.status;
	if (mode == HX_SIGNED) {
		if (st != 200 || strncasecmp(rs.content_type, "text/xml", 8) != 0 ||
			(strstr(buf_str(&rs.body), EMPTY_TWIML) == NULL &&
			 strstr(buf_str(&rs.body), "<Message>") == NULL))
			fail_msg("signed text: HTTP %ld '%s', not a TwiML answer:\n%s", st,
				rs.content_type, buf_str(&rs.body));
	}
	hx_response_free(&rs);
	free(url);
	return st;
}

/* Posts one signed text; sid gets its MessageSid. */
static void text_or_fail(const char *from, const char *to, const char *body, char sid[35])
{
	struct hx_form f;
	hx_random_message_sid(sid);
	hx_sms_form(&f, sid, from, to, body);
	post_sms(&f, HX_SIGNED);
	hx_form_free(&f);
}

/* The webhook record of audit:all whose params carry name = value (the
 * newest one), waiting for it to appear; a new reference, or a failed
 * test. */
static json_t *webhook_record_or_fail(const char *name, const char *value)
{
	long long deadline = hx_now_ms() + AUDIT_WAIT_MS;
	json_t *found = NULL;
	do {
		char err[256];
		size_t i;
		json_t *rec, *arr = hx_audit_read_newest("audit:all", 500, err, sizeof(err));
		if (arr == NULL)
			fail_msg("cannot read audit:all: %s", err);
		json_array_foreach(arr, i, rec) {
			json_t *params = json_object_get(rec, "params");
			const char *kind = json_string_value(json_object_get(rec, "kind"));
			const char *v = json_string_value(json_object_get(params, name));
			if (kind && strcmp(kind, "webhook") == 0 && v && strcmp(v, value) == 0) {
				found = json_incref(rec);
				break;
			}
		}
		json_decref(arr);
		if (found == NULL)
			hx_sleep_ms(50);
	} while (found == NULL && hx_now_ms() < deadline);
	if (found == NULL)
		fail_msg("no webhook record with %s=%s in audit:all", name, value);
	return found;
}

/* The "error" of the webhook record with params name = value ("" when
 * it has none), malloc'd; and whether audit:errors holds an error record
 * of the same request (*in_errors). */
static char *webhook_error_or_fail(const char *name, const char *value, int *in_errors)
{
	json_t *rec = webhook_record_or_fail(name, value);
	const char *e = json_string_value(json_object_get(rec, "error"));
	const char *rid = json_string_value(json_object_get(rec, "request_id"));
	char *out = xstrdup(e ? e : "");
	*in_errors = 0;
	if (rid) {
		char err[256];
		json_t *arr = hx_audit_read_newest("audit:errors", 500, err, sizeof(err));
		if (arr == NULL)
			fail_msg("cannot read audit:errors: %s", err);
		*in_errors = hx_audit_count(arr, "request_id", rid, NULL) > 0;
		json_decref(arr);
	}
	json_decref(rec);
	return out;
}

/* Fails unless the text with MessageSid sid was recorded with an error
 * containing want, in audit:errors too. */
static void text_refused_or_fail(const char *sid, const char *want)
{
	int in_errors;
	char *e = webhook_error_or_fail("MessageSid", sid, &in_errors);
	if (strstr(e, want) == NULL)
		fail_msg("text %s: error '%s', expected one mentioning '%s'", sid, e, want);
	if (!in_errors)
		fail_msg("text %s: refused ('%s') but not in audit:errors", sid, e);
	free(e);
}

/* Posts a signed text (a new MessageSid into sid) from phone to `to`
 * saying body, with field set to value, and fails unless it is refused
 * with an error containing want. */
static void altered_text_refused_or_fail(char sid[35], const char *phone, const char *to,
	const char *body, const char *field, const char *value, const char *want)
{
	struct hx_form f;

	hx_random_message_sid(sid);
	hx_sms_form(&f, sid, phone, to, body);
	hx_form_set(&f, field, value);
	post_sms(&f, HX_SIGNED);
	hx_form_free(&f);
	text_refused_or_fail(sid, want);
}

/* ---- inbound texts ----------------------------------------------------- */

/* Signed: answered with an empty TwiML document; an opt-out keyword opts
 * the sender out at once, anything else changes nothing; unsigned, 403. */
static void test_sms_inbound(void **state)
{
	char from_a[13], from_b[13], phone_a[13], phone_b[13];
	char biz_a[24], client_a[24], biz_b[24], client_b[24], sid[35];
	struct hx_form f;
	(void)state;

	hx_random_phone(from_a);
	hx_random_phone(from_b);
	hx_random_phone(phone_a);
	hx_random_phone(phone_b);
	business_with_client_or_fail(from_a, phone_a, biz_a, client_a);
	business_with_client_or_fail(from_b, phone_b, biz_b, client_b);
	/* Unsigned: refused, nothing changes. */
	hx_random_message_sid(sid);
	hx_sms_form(&f, sid, phone_a, from_a, "STOP");
	assert_int_equal(post_sms(&f, HX_NO_SIG), 403);
	assert_int_equal(post_sms(&f, HX_BAD_SIG), 403);
	hx_form_free(&f);
	assert_int_equal(opted_out(client_a), 0);
	/* Any other text: an empty answer, no change. */
	text_or_fail(phone_b, from_b, "Thanks, see you then!", sid);
	assert_int_equal(opted_out(client_b), 0);
	/* STOP, in any case and with spaces: opted out at once. */
	text_or_fail(phone_a, from_a, "  stop \n", sid);
	assert_int_equal(opted_out(client_a), 1);
	/* START opts back in, as Twilio lets texts through again. */
	text_or_fail(phone_a, from_a, "START", sid);
	assert_int_equal(opted_out(client_a), 0);
	/* Twilio's Advanced Opt-Out says STOP in OptOutType whatever the
	 * keyword was. */
	hx_random_message_sid(sid);
	hx_sms_form(&f, sid, phone_b, from_b, "arret");
	hx_form_add(&f, "OptOutType", "STOP");
	post_sms(&f, HX_SIGNED);
	hx_form_free(&f);
	assert_int_equal(opted_out(client_b), 1);
}

/* One person, a client of four businesses: A and B text from their own
 * numbers, C and D from TWILIO_FROM_NUMBER.  A STOP to A's number opts
 * them out with A only; a STOP to the shared number with C and D only
 * (never with B, whose texts come from elsewhere); a STOP to a number no
 * business texts from changes nothing and is recorded as an error. */
static void test_sms_stop_only_that_sender(void **state)
{
	const char *shared = getenv("TWILIO_FROM_NUMBER");
	char person[13], from_a[13], from_b[13], nobody[13], sid[35];
	char biz[4][24], client[4][24];
	(void)state;

	if (shared == NULL || shared[0] == '\0')
		fail_msg("TWILIO_FROM_NUMBER is not set in the test environment");
	hx_random_phone(person);
	hx_random_phone(from_a);
	hx_random_phone(from_b);
	hx_random_phone(nobody);
	business_with_client_or_fail(from_a, person, biz[0], client[0]);
	business_with_client_or_fail(from_b, person, biz[1], client[1]);
	business_with_client_or_fail(NULL, person, biz[2], client[2]);
	business_with_client_or_fail(NULL, person, biz[3], client[3]);

	text_or_fail(person, from_a, "STOP", sid);
	assert_int_equal(opted_out(client[0]), 1);
	assert_int_equal(opted_out(client[1]), 0);
	assert_int_equal(opted_out(client[2]), 0);
	assert_int_equal(opted_out(client[3]), 0);

	text_or_fail(person, nobody, "STOP", sid);
	text_refused_or_fail(sid, "no business texts from");
	assert_int_equal(opted_out(client[1]), 0);
	assert_int_equal(opted_out(client[2]), 0);
	assert_int_equal(opted_out(client[3]), 0);

	text_or_fail(person, shared, "unsubscribe", sid);
	assert_int_equal(opted_out(client[1]), 0);
	assert_int_equal(opted_out(client[2]), 1);
	assert_int_equal(opted_out(client[3]), 1);
}

/* A signed text from another Twilio account: no action, an empty answer,
 * an error recorded. */
static void test_sms_wrong_account(void **state)
{
	char from[13], phone[13], biz[24], client[24], sid[35];
	(void)state;

	hx_random_phone(from);
	hx_random_phone(phone);
	business_with_client_or_fail(from, phone, biz, client);
	altered_text_refused_or_fail(sid, phone, from, "STOP", "AccountSid",
		"AC0123456789abcdef0123456789abcdef", "AccountSid is not this deployment's account");
	assert_int_equal(opted_out(client), 0);
}

/* Each field of a text is validated: a STOP carrying one bad field is
 * refused whole, with the field named, and opts nobody out. */
static void test_sms_invalid_fields(void **state)
{
	static const struct {
		const char *name;   /* the field replaced (or removed: value NULL) */
		const char *value;
		const char *error;
	} cases[] = {
		{ "MessageSid", "SM0123456789ABCDEF0123456789ABCDEF", "field 'MessageSid' is not valid" },
		{ "MessageSid", "XX0123456789abcdef0123456789abcdef", "field 'MessageSid' is not valid" },
		{ "From", "4155551212", "field 'From' is not valid" },
		{ "From", "+1 415 555 1212", "field 'From' is not valid" },
		{ "From", NULL, "field 'From' is required" },
		{ "To", "client:alice", "field 'To' is not valid" },
		{ "To", NULL, "field 'To' is required" },
		{ "AccountSid", "AC0123456789ABCDEF0123456789ABCDEF", "field 'AccountSid' is not valid" },
		{ "AccountSid", NULL, "field 'AccountSid' is required" },
		{ "Body", "STOP\x1b[2J", "field 'Body' is not valid" },
		{ "OptOutType", "stop", "field 'OptOutType' is not valid" },
	};
	char from[13], phone[13], biz[24], client[24];
	(void)state;

	hx_random_phone(from);
	hx_random_phone(phone);
	business_with_client_or_fail(from, phone, biz, client);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hx_form f;
		char sid[35], marker[35];
		/* The record is found by a MessageSid; when that is the field
		 * under test, by the SmsSid Twilio sends beside it. */
		hx_random_message_sid(sid);
		hx_sms_form(&f, sid, phone, from, "STOP");
		if (cases[i].value)
			hx_form_set(&f, cases[i].name, cases[i].value);
		else
			hx_form_del(&f, cases[i].name);
		post_sms(&f, HX_SIGNED);
		hx_form_free(&f);
		snprintf(marker, sizeof(marker), "%s", sid);
		{
			int in_errors;
			char *e = webhook_error_or_fail("SmsSid", marker, &in_errors);
			if (strstr(e, cases[i].error) == NULL || !in_errors)
				fail_msg("%s=%s: error '%s' (in audit:errors: %d), expected '%s'",
					cases[i].name, cases[i].value ? cases[i].value : "(absent)", e,
					in_errors, cases[i].error);
			free(e);
		}
		if (opted_out(client) != 0)
			fail_msg("%s=%s: the client was opted out", cases[i].name,
				cases[i].value ? cases[i].value : "(absent)");
	}
	/* The same STOP with every field good does opt out. */
	{
		char sid[35];
		text_or_fail(phone, from, "STOP", sid);
		assert_int_equal(opted_out(client), 1);
	}
}

/* ---- inbound_texts ------------------------------------------------------ */

/* How many inbound_texts rows carry MessageSid sid. */
static long long inbound_rows(const char *sid)
{
	const char *p[1] = { sid };
	return hx_db_int_or_fail("SELECT count(*) FROM inbound_texts WHERE message_sid = $1", 1, p);
}

/* Fails unless the one inbound_texts row of sid holds from, to, body and
 * keyword ("stop", "start" or "" for none). */
static void inbound_row_or_fail(const char *sid, const char *from, const char *to,
	const char *body, const char *keyword)
{
	const char *p[5] = { sid, from, to, body, keyword };
	if (hx_db_int_or_fail("SELECT count(*) FROM inbound_texts WHERE message_sid = $1"
		    " AND from_number = $2 AND to_number = $3 AND body = $4"
		    " AND COALESCE(opt_keyword, '') = $5", 5, p) != 1)
		fail_msg("text %s: no inbound_texts row from %s to %s, body '%s', keyword '%s'", sid,
			from, to, body, keyword);
}

/* Waits for the webhook record of a replay of MessageSid sid (its
 * "replay" true) and fails unless it carries no error. */
static void replay_record_or_fail(const char *sid)
{
	long long deadline = hx_now_ms() + AUDIT_WAIT_MS;
	int found = 0;
	do {
		char err[256];
		size_t i;
		json_t *rec, *arr = hx_audit_read_newest("audit:all", 500, err, sizeof(err));
		if (arr == NULL)
			fail_msg("cannot read audit:all: %s", err);
		json_array_foreach(arr, i, rec) {
			const char *v = json_string_value(
				json_object_get(json_object_get(rec, "params"), "MessageSid"));
			if (v && strcmp(v, sid) == 0 && json_is_true(json_object_get(rec, "replay"))) {
				const char *e = json_string_value(json_object_get(rec, "error"));
				if (e && *e)
					fail_msg("replay of %s recorded as an error: %s", sid, e);
				found = 1;
				break;
			}
		}
		json_decref(arr);
		if (!found)
			hx_sleep_ms(50);
	} while (!found && hx_now_ms() < deadline);
	if (!found)
		fail_msg("no webhook record of a replay of %s in audit:all", sid);
}

/* Every signed, valid text is kept once in inbound_texts, keyed by its
 * MessageSid: a replay of the same request (Twilio retries) adds nothing,
 * is no error (audited as a replay) and still answers the empty TwiML; a
 * replayed STOP is still one row.
 * An unsigned or badly signed text, one from another account and one with
 * an invalid field keep nothing. */
static void test_sms_inbound_kept_once(void **state)
{
	char from[13], phone[13], biz[24], client[24], sid[35];
	struct hx_form f;
	(void)state;

	hx_random_phone(from);
	hx_random_phone(phone);
	business_with_client_or_fail(from, phone, biz, client);

	/* Unsigned, badly signed: 403, nothing kept. */
	hx_random_message_sid(sid);
	hx_sms_form(&f, sid, phone, from, "See you Tuesday");
	assert_int_equal(post_sms(&f, HX_NO_SIG), 403);
	assert_int_equal(post_sms(&f, HX_BAD_SIG), 403);
	assert_int_equal(inbound_rows(sid), 0);
	/* Signed: one row; the same request again: still one. */
	post_sms(&f, HX_SIGNED);
	assert_int_equal(inbound_rows(sid), 1);
	inbound_row_or_fail(sid, phone, from, "See you Tuesday", "");
	post_sms(&f, HX_SIGNED);
	assert_int_equal(inbound_rows(sid), 1);
	replay_record_or_fail(sid);
	hx_form_free(&f);
	assert_int_equal(opted_out(client), 0);

	/* STOP: kept with its keyword, opted out; its replay: one row. */
	hx_random_message_sid(sid);
	hx_sms_form(&f, sid, phone, from, "Stop");
	post_sms(&f, HX_SIGNED);
	post_sms(&f, HX_SIGNED);
	hx_form_free(&f);
	assert_int_equal(inbound_rows(sid), 1);
	replay_record_or_fail(sid);
	inbound_row_or_fail(sid, phone, from, "Stop", "stop");
	assert_int_equal(opted_out(client), 1);
	/* START is kept as such, and opts back in. */
	text_or_fail(phone, from, "start", sid);
	inbound_row_or_fail(sid, phone, from, "start", "start");
	assert_int_equal(opted_out(client), 0);

	/* Another account's text, an invalid field: nothing kept. */
	altered_text_refused_or_fail(sid, phone, from, "hello", "AccountSid",
		"AC0123456789abcdef0123456789abcdef", "AccountSid is not this deployment's account");
	assert_int_equal(inbound_rows(sid), 0);
	altered_text_refused_or_fail(sid, phone, from, "hello", "To", "client:alice",
		"field 'To' is not valid");
	assert_int_equal(inbound_rows(sid), 0);
}

/* A database that refuses the text (here a constraint added for this
 * sender alone): the signed STOP is still answered with the empty TwiML,
 * recorded as an error, and neither kept nor applied: the row and the
 * opt-out are one statement. */
static void test_sms_database_refuses(void **state)
{
	char from[13], phone[13], biz[24], client[24], sid[35], *e;
	int in_errors;
	(void)state;

	hx_random_phone(from);
	hx_random_phone(phone);
	business_with_client_or_fail(from, phone, biz, client);
	{
		char *sql = xasprintf("ALTER TABLE inbound_texts ADD CONSTRAINT test_sms_refuse_%s"
			" CHECK (from_number::text <> '%s') NOT VALID", phone + 1, phone);
		hx_db_cmd_or_fail(sql, 0, NULL);
		free(sql);
	}
	text_or_fail(phone, from, "STOP", sid);
	{
		char *sql = xasprintf("ALTER TABLE inbound_texts DROP CONSTRAINT test_sms_refuse_%s",
			phone + 1);
		hx_db_cmd_or_fail(sql, 0, NULL);
		free(sql);
	}
	e = webhook_error_or_fail("MessageSid", sid, &in_errors);
	if (strstr(e, "could not be recorded") == NULL || !in_errors)
		fail_msg("text %s: error '%s' (in audit:errors: %d), expected 'could not be recorded'",
			sid, e, in_errors);
	free(e);
	assert_int_equal(inbound_rows(sid), 0);
	assert_int_equal(opted_out(client), 0);
}

/* ---- the webhook path's validators ------------------------------------- */

/* Posts a signed status callback of kind ("call" or "sms") for attempt aid
 * (NULL: no a= on the URL), with SequenceNumber seq and ErrorCode error
 * when not NULL; must be 200 with an empty TwiML document.  Its Timestamp
 * is new for every callback (the audit record is found by it): returned,
 * malloc'd. */
static char *status_or_fail(const char *kind, const char *aid, const char *sid,
	const char *status, const char *seq, const char *error)
{
	static int n;
	struct hx_form f;
	struct hx_response rs;
	char *url = aid ? xasprintf("%s/twilio/status/%s?a=%s", hx_env.public_url, kind, aid)
			: xasprintf("%s/twilio/status/%s", hx_env.public_url, kind);
	int call = strcmp(kind, "call") == 0;
	char *stamp = xasprintf("Mon, 07 Dec 2026 02:%02d:%02d +0000", n / 60 % 60, n % 60);

	n++;
	hx_form_init(&f);
	hx_form_add(&f, "AccountSid", hx_env.account_sid);
	hx_form_add(&f, "ApiVersion", "2010-04-01");
	hx_form_add(&f, call ? "CallSid" : "MessageSid", sid);
	hx_form_add(&f, call ? "CallStatus" : "MessageStatus", status);
	if (seq)
		hx_form_add(&f, "SequenceNumber", seq);
	if (error)
		hx_form_add(&f, "ErrorCode", error);
	hx_form_add(&f, "Timestamp", stamp);
	if (hx_post_form(url, &f, HX_SIGNED, &rs) < 0)
		fail_msg("POST %s: %s", url, rs.error);
	if (rs.status != 200 || strstr(buf_str(&rs.body), EMPTY_TWIML) == NULL)
		fail_msg("%s callback: HTTP %ld\n%s", status, rs.status, buf_str(&rs.body));
	hx_response_free(&rs);
	hx_form_free(&f);
	free(url);
	return stamp;
}

static void call_status_or_fail(const char *aid, const char *sid, const char *status,
	const char *seq)
{
	free(status_or_fail("call", aid, sid, status, seq, NULL));
}

static char *delivery_status(const char *aid)
{
	const char *p[1] = { aid };
	return hx_db_value_or_fail("SELECT COALESCE(delivery_status, '') FROM contact_attempts"
		" WHERE id = $1::bigint", 1, p);
}

/* The records of call sid's audit stream, waiting for at least min
 * webhook records; a new reference. */
static json_t *call_stream_or_fail(const char *sid, size_t min)
{
	char *key = xasprintf("audit:call:%s", sid);
	long long deadline = hx_now_ms() + AUDIT_WAIT_MS;
	json_t *arr = NULL;
	do {
		char err[256];
		json_decref(arr);
		arr = hx_audit_read(key, 0, err, sizeof(err));
		if (arr == NULL)
			fail_msg("cannot read %s: %s", key, err);
		if (hx_audit_count(arr, "kind", "webhook", NULL) >= min)
			break;
		hx_sleep_ms(50);
	} while (hx_now_ms() < deadline);
	free(key);
	return arr;
}

/* Twilio sends CallStatus=initiated for the initiated event ringfence
 * asks for: recorded, in order (a late one after ringing changes
 * nothing), and never an error record. */
static void test_status_initiated(void **state)
{
	struct hx_call c;
	char sid[35], *aid, *v;
	json_t *arr, *rec;
	size_t i;
	(void)state;

	hx_fixture_call_or_fail(&c);
	hx_random_call_sid(sid);
	{
		const char *p[3] = { c.appointment_id, sid, c.client_phone };
		aid = hx_db_value_or_fail(
			"WITH a AS (INSERT INTO contact_attempts (reminder_id, business_id, channel,"
			"  to_address, status, provider_sid, lease_until)"
			" SELECT id, business_id, channel, COALESCE(to_address, $3), 'placed', $2, now()"
			" FROM reminders"
			" WHERE appointment_id = $1::bigint AND channel = 'voice' AND status = 'pending'"
			" RETURNING id, reminder_id),"
			" r AS (UPDATE reminders SET status = 'placed' FROM a"
			"  WHERE reminders.id = a.reminder_id)"
			" SELECT id FROM a", 3, p);
	}
	assert_non_null(aid);

	call_status_or_fail(aid, sid, "initiated", "0");
	v = delivery_status(aid);
	assert_string_equal(v, "initiated");
	free(v);
	call_status_or_fail(aid, sid, "ringing", "1");
	call_status_or_fail(aid, sid, "initiated", "0"); /* late, out of order */
	v = delivery_status(aid);
	assert_string_equal(v, "ringing");
	free(v);

	arr = call_stream_or_fail(sid, 3);
	if (hx_audit_count(arr, "kind", "webhook", NULL) != 3)
		fail_msg("%zu webhook records for %s, expected 3",
			hx_audit_count(arr, "kind", "webhook", NULL), sid);
	json_array_foreach(arr, i, rec) {
		const char *kind = json_string_value(json_object_get(rec, "kind"));
		const char *e = json_string_value(json_object_get(rec, "error"));
		if ((kind && strcmp(kind, "error") == 0) || e)
			fail_msg("call %s: an error was recorded: %s", sid, e ? e : "(error record)");
	}
	json_decref(arr);
	free(aid);
}

/* A signed first webhook with an upper-case CallSid: refused at
 * validation (the apology, a clear error), the call not bound, never a
 * database error. */
static void test_upper_case_call_sid(void **state)
{
	struct hx_call c;
	struct hx_form f;
	struct hx_response rs;
	struct hx_twiml t;
	struct hx_snapshot s;
	char upper[35];
	int in_errors;
	char *e;
	(void)state;

	hx_fixture_call_or_fail(&c);
	memcpy(upper, c.call_sid, sizeof(upper) - 1);
	upper[sizeof(upper) - 1] = '\0';
	for (char *p = upper + 2; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	if (strcmp(upper, c.call_sid) == 0) /* all digits: make one a letter */
		upper[2] = 'A';
	hx_form_init(&f);
	hx_form_voice(&f, upper, c.from_number, c.client_phone);
	if (hx_post_form(c.first_url, &f, HX_SIGNED, &rs) < 0)
		fail_msg("POST %s: %s", c.first_url, rs.error);
	hx_form_free(&f);
	assert_int_equal(rs.status, 200);
	hx_twiml_parse(rs.body.data, rs.body.len, &t);
	assert_true(t.well_formed && t.root_response);
	assert_true(t.ends_with_hangup);
	assert_false(t.has_gather);
	assert_true(hx_twiml_says(&t, "sorry"));
	hx_twiml_free(&t);
	hx_response_free(&rs);

	e = webhook_error_or_fail("CallSid", upper, &in_errors);
	if (strcmp(e, "field 'CallSid' is not valid") != 0 || !in_errors)
		fail_msg("upper-case CallSid: error '%s' (in audit:errors: %d)", e, in_errors);
	free(e);
	hx_snapshot_or_fail(&c, &s);
	assert_string_equal(s.call_sid, "");
	assert_int_equal(s.events, 0);
}

/* ---- status callbacks, one statement each -------------------------------- */

/* Posts a status callback (as status_or_fail) and fails unless its audit
 * record says field = want ("" for none) for each pair of the
 * NULL-terminated list. */
static void status_says_or_fail(const char *kind, const char *aid, const char *sid,
	const char *status, const char *seq, const char *error, ...)
{
	char *stamp = status_or_fail(kind, aid, sid, status, seq, error);
	json_t *rec = webhook_record_or_fail("Timestamp", stamp);
	const char *field;
	va_list ap;

	va_start(ap, error);
	while ((field = va_arg(ap, const char *)) != NULL) {
		const char *want = va_arg(ap, const char *);
		const char *got = json_string_value(json_object_get(rec, field));
		if (strcmp(got ? got : "", want) != 0)
			fail_msg("%s %s callback: %s '%s', expected '%s'", kind, status, field,
				got ? got : "", want);
	}
	va_end(ap);
	json_decref(rec);
	free(stamp);
}

/* A fixture reminder on channel with an attempt of it (status, sid NULL
 * for none yet); the attempt's id, malloc'd. */
static char *attempt_or_fail(struct hx_rfix *f, const char *channel, const char *status,
	const char *sid)
{
	const struct hx_rfix_opts o = { .business_name = "Status Test Clinic",
		.client_name = "Status Test Client", .channel = channel, .retry_count = 0,
		.retry_delay_minutes = 5, .stale_min = 120 };
	const char *p[3];

	hx_rfix_or_fail(f, &o);
	p[0] = f->reminder;
	p[1] = sid;
	p[2] = status;
	return hx_db_value_or_fail(
		"WITH a AS (INSERT INTO contact_attempts (reminder_id, business_id, channel,"
		"  to_address, status, provider_sid, lease_until)"
		" SELECT id, business_id, channel, to_address, $3, $2, now() FROM reminders"
		" WHERE id = $1::bigint RETURNING id, reminder_id),"
		" r AS (UPDATE reminders SET status = $3 FROM a WHERE reminders.id = a.reminder_id)"
		" SELECT id FROM a", 3, p);
}

/* One value of the attempt aid's row (col an expression over it), "" for
 * NULL; malloc'd. */
static char *attempt_value(const char *aid, const char *col)
{
	char *sql = xasprintf("SELECT COALESCE((%s)::text, '') FROM contact_attempts"
			      " WHERE id = $1::bigint", col);
	const char *p[1] = { aid };
	char *v = hx_db_value_or_fail(sql, 1, p);
	free(sql);
	return v;
}

static void attempt_is_or_fail(const char *aid, const char *col, const char *want)
{
	char *v = attempt_value(aid, col);
	if (strcmp(v, want) != 0)
		fail_msg("attempt %s: %s '%s', expected '%s'", aid, col, v, want);
	free(v);
}

/* A call's callbacks, each one statement: one of the wrong kind, an
 * unknown sid and another call's sid change nothing and say why; the
 * first callback binds the sid the worker has not recorded yet; a late
 * one changes nothing; the final one fails the reminder, retries nothing
 * (no retry left) and tells the office, once; nothing moves after it. */
static void test_status_call_rules(void **state)
{
	struct hx_rfix f;
	char sid[35], other[35], *aid;
	const char *p[1];
	(void)state;

	hx_random_call_sid(sid);
	hx_random_call_sid(other);
	aid = attempt_or_fail(&f, "voice", "dialing", NULL);
	assert_non_null(aid);

	status_says_or_fail("sms", aid, "SM0123456789abcdef0123456789abcdef", "sent", NULL, NULL,
		"error", "callback kind does not match the attempt's channel", NULL);
	attempt_is_or_fail(aid, "provider_sid", "");
	attempt_is_or_fail(aid, "delivery_status", "");
	status_says_or_fail("call", NULL, other, "ringing", "1", NULL,
		"error", "no contact attempt for this callback", NULL);

	status_says_or_fail("call", aid, sid, "ringing", "1", NULL, "error", "",
		"state_before", "", "state_after", "ringing", NULL);
	attempt_is_or_fail(aid, "provider_sid", sid);
	attempt_is_or_fail(aid, "delivery_seq", "1");
	status_says_or_fail("call", aid, other, "busy", "2", NULL,
		"error", "sid does not match the attempt", NULL);
	status_says_or_fail("call", aid, sid, "initiated", "0", NULL, "error", "",
		"state_before", "ringing", "state_after", "",
		"action", "duplicate or out of order: no change", NULL);
	/* By the sid alone (no a=) as well. */
	status_says_or_fail("call", NULL, sid, "no-answer", "3", NULL, "error", "",
		"state_before", "ringing", "state_after", "no-answer",
		"action", "call no-answer; no retry (policy, staleness or already there);"
		" the office is told", NULL);
	attempt_is_or_fail(aid, "delivery_status", "no-answer");
	p[0] = f.reminder;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminders WHERE id = $1::bigint"
		" AND status = 'failed' AND status_reason = 'call no-answer'", 1, p), 1);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminders r JOIN reminders o"
		" ON o.appointment_id = r.appointment_id WHERE o.id = $1::bigint AND r.attempt = 2",
		1, p), 0);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM office_notifications"
		" WHERE reminder_id = $1::bigint AND kind = 'unreached'"
		" AND detail = 'Call did not reach them: call no-answer'", 1, p), 1);
	status_says_or_fail("call", aid, sid, "completed", "4", NULL, "error", "",
		"state_after", "", "action", "duplicate or out of order: no change", NULL);
	attempt_is_or_fail(aid, "delivery_status", "no-answer");
	status_says_or_fail("call", NULL, sid, "no-answer", "3", NULL,
		"action", "duplicate or out of order: no change", NULL);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM office_notifications"
		" WHERE reminder_id = $1::bigint", 1, p), 1);
	free(aid);
}

/* A text's callbacks move by rank: a late queued changes nothing;
 * undelivered with 21211 fails the reminder, marks the number invalid and
 * tells the office; read after it changes nothing (final). */
static void test_status_sms_rules(void **state)
{
	struct hx_rfix f;
	char sid[35], *aid;
	const char *p[1];
	(void)state;

	hx_random_message_sid(sid);
	aid = attempt_or_fail(&f, "sms", "placed", sid);
	assert_non_null(aid);
	status_says_or_fail("sms", aid, sid, "sent", NULL, NULL, "error", "",
		"state_after", "sent", NULL);
	status_says_or_fail("sms", aid, sid, "queued", NULL, NULL, "state_before", "sent",
		"state_after", "", "action", "duplicate or out of order: no change", NULL);
	status_says_or_fail("sms", aid, sid, "undelivered", NULL, "21211", "error", "",
		"state_before", "sent", "state_after", "undelivered",
		"action", "message undelivered, error 21211; number flagged (21211);"
		" the office is told", NULL);
	attempt_is_or_fail(aid, "delivery_status || ' ' || error_code || ' ' || delivery_seq",
		"undelivered 21211 9");
	p[0] = f.client;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM clients WHERE id = $1::bigint"
		" AND phone_invalid_at IS NOT NULL"
		" AND phone_invalid_reason = 'message undelivered, error 21211'", 1, p), 1);
	p[0] = f.reminder;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminders WHERE id = $1::bigint"
		" AND status = 'failed'", 1, p), 1);
	status_says_or_fail("sms", aid, sid, "read", NULL, NULL, "state_after", "",
		"action", "duplicate or out of order: no change", NULL);
	attempt_is_or_fail(aid, "delivery_status", "undelivered");
	free(aid);
}

/* ---- an inbound text in one statement ----------------------------------- */

/* STOP from a client with no reminder: one statement keeps the text, opts
 * the client out, and moves the flow from its start to opted_out (an
 * sms_events row, the inbox row waiting for nobody).  When the
 * conversation's part fails (a constraint on sms_events for this business
 * alone), the text and the opt-out are kept all the same, the failure is
 * recorded, and the text waits in the inbox for a person. */
static void test_sms_stop_one_statement(void **state)
{
	char from[13], phone[13], biz[24], client[24], sid[35], *sql, *e;
	const char *p[1];
	json_t *rec;
	int in_errors;
	(void)state;

	hx_random_phone(from);
	hx_random_phone(phone);
	business_with_client_or_fail(from, phone, biz, client);
	text_or_fail(phone, from, "HELP", sid);
	rec = webhook_record_or_fail("MessageSid", sid);
	assert_string_equal(json_string_value(json_object_get(rec, "state_before")), "sent");
	assert_string_equal(json_string_value(json_object_get(rec, "state_after")), "help");
	assert_string_equal(json_string_value(json_object_get(rec, "action")), "help: no action");
	json_decref(rec);
	p[0] = sid;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM sms_events e"
		" JOIN inbound_texts t ON t.id = e.inbound_text_id WHERE t.message_sid = $1"
		" AND e.from_state = 'sent' AND e.input = 'help' AND e.to_state = 'help'"
		" AND e.action IS NULL AND e.seq = 1", 1, p), 1);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM inbox_texts i"
		" JOIN inbound_texts t ON t.id = i.inbound_text_id WHERE t.message_sid = $1"
		" AND i.flow_state = 'help' AND NOT i.needs_answer", 1, p), 1);

	sql = xasprintf("ALTER TABLE sms_events ADD CONSTRAINT test_sms_step_%s"
		" CHECK (business_id <> %s) NOT VALID", biz, biz);
	hx_db_cmd_or_fail(sql, 0, NULL);
	free(sql);
	text_or_fail(phone, from, "STOP", sid);
	sql = xasprintf("ALTER TABLE sms_events DROP CONSTRAINT test_sms_step_%s", biz);
	hx_db_cmd_or_fail(sql, 0, NULL);
	free(sql);
	e = webhook_error_or_fail("MessageSid", sid, &in_errors);
	if (strstr(e, "database error") == NULL || strstr(e, "test_sms_step_") == NULL ||
		!in_errors)
		fail_msg("STOP %s: error '%s' (in audit:errors: %d)", sid, e, in_errors);
	free(e);
	inbound_row_or_fail(sid, phone, from, "STOP", "stop");
	assert_int_equal(opted_out(client), 1);
	p[0] = sid;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM sms_events e"
		" JOIN inbound_texts t ON t.id = e.inbound_text_id WHERE t.message_sid = $1", 1, p), 0);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM inbox_texts i"
		" JOIN inbound_texts t ON t.id = i.inbound_text_id WHERE t.message_sid = $1"
		" AND i.flow_state IS NULL AND i.needs_answer", 1, p), 1);

	/* Without the constraint: the next STOP moves to opted_out at once. */
	text_or_fail(phone, from, "stop", sid);
	rec = webhook_record_or_fail("MessageSid", sid);
	assert_null(json_object_get(rec, "error"));
	assert_string_equal(json_string_value(json_object_get(rec, "state_after")), "opted_out");
	json_decref(rec);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM sms_events e"
		" JOIN inbound_texts t ON t.id = e.inbound_text_id WHERE t.message_sid = $1"
		" AND e.to_state = 'opted_out'", 1, p), 1);
}

/* ---- the group ----------------------------------------------------------- */

int sms_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sms_inbound),
		cmocka_unit_test(test_sms_stop_only_that_sender),
		cmocka_unit_test(test_sms_wrong_account),
		cmocka_unit_test(test_sms_invalid_fields),
		cmocka_unit_test(test_sms_inbound_kept_once),
		cmocka_unit_test(test_sms_database_refuses),
		cmocka_unit_test(test_status_initiated),
		cmocka_unit_test(test_upper_case_call_sid),
		cmocka_unit_test(test_status_call_rules),
		cmocka_unit_test(test_status_sms_rules),
		cmocka_unit_test(test_sms_stop_one_statement),
	};
	return cmocka_run_group_tests_name("integration: inbound texts and input checks", tests,
		hx_group_setup, hx_group_teardown);
}

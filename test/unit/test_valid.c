/* Unit tests: the validators (a table of accepted and rejected values per
 * validator, hostile ones included) and valid_params. */
#include "unit.h"

#include "arena.h"
#include "form.h"
#include "util.h"
#include "valid.h"

/* A value with an explicit length, so that embedded NULs and lengths that
 * disagree with the string can be tested. */
struct val {
	const char *s;
	size_t len; /* 0: strlen(s) */
};

#define V(s) { s, 0 }
#define VL(s, n) { s, n }
#define END { NULL, 0 }

struct validator_case {
	const char *name;
	valid_fn fn;
	struct val good[24];
	struct val bad[48];
};

#define SID32 "0123456789abcdef0123456789abcdef"
#define SID32U "0123456789ABCDEF0123456789ABCDEF"

static const struct validator_case cases[] = {
	{ "valid_call_sid", valid_call_sid,
		{ V("CA" SID32), V("CAffffffffffffffffffffffffffffffff"), END },
		/* Twilio issues lower-case hex only; sql/001_init.sql's CHECK
		 * on call_sid says the same, so an upper-case SID is refused
		 * here rather than by the database */
		{ V(""), V("CA"), V("CA" SID32U), V("CA0123456789abcdef0123456789abcdeF"),
			V("CAFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"), V("CA1234567890ABCDE"), V("CA" SID32 "0"), V("CA0123456789abcdef0123456789abcde"),
			V("AC" SID32), V("ca" SID32), V("SM" SID32), V("CA0123456789abcdef0123456789abcdeg"),
			V(" CA0123456789abcdef0123456789abcde"), V("CA0123456789abcdef0123456789abcde "),
			V("CA0123456789abcdef0123456789abcd\n"), VL("CA0123456789abcdef0123456789abcde\0", 34),
			V("CA0123456789abcdef0123456789abc%00"), V("CA' OR '1'='1 --                  "),
			V("CA\xc3\xa9" "0123456789abcdef0123456789abc"), V("CA-123456789abcdef0123456789abcdef"),
			VL("CA" SID32, 33), END } },
	{ "valid_account_sid", valid_account_sid,
		{ V("AC" SID32), END },
		{ V(""), V("AC"), V("AC" SID32U), V("AC0123456789Abcdef0123456789abcdef"), V("AC123"), V("CA" SID32), V("ac" SID32), V("AC" SID32 "f"),
			V("AC0123456789abcdef0123456789abcdez"), V("AC0123456789abcdef 0123456789abcde"),
			VL("AC" SID32, 35), END } },
	{ "valid_message_sid", valid_message_sid,
		{ V("SM" SID32), V("MM" SID32), END },
		{ V(""), V("SM"), V("SM" SID32U), V("MM" SID32U), V("SM0123456789abcdEf0123456789abcdef"), V("MS" SID32), V("CA" SID32), V("sm" SID32), V("SM" SID32 "0"),
			V("MMx123456789abcdef0123456789abcdef"), V("SMM0123456789abcdef0123456789abcd"), END } },
	{ "valid_e164", valid_e164,
		{ V("+14158675309"), V("+18005551212"), V("+442071838750"), V("+1234567"),
			V("+123456789012345"), V("+266696687"), V("+15005550006"), END },
		{ V(""), V("+"), V("14158675309"), V("+04158675309"), V("+123456"), V("+1234567890123456"),
			V("+1 4158675309"), V("+1-415-867-5309"), V("++14158675309"), V("+1415867530x"),
			V("+1415867530\n"), VL("+1415867530\0", 12), V(" +14158675309"), V("+14158675309 "),
			V("+\xef\xbc\x91\xef\xbc\x94\xef\xbc\x91\xef\xbc\x95\xef\xbc\x98"), /* fullwidth digits */
			V("+١٤١٥٨٦٧٥٣٠٩"), V("+14158675309;ext=1"), V("tel:+14158675309"), VL("+14158675309", 7),
			END } },
	{ "valid_phone_or_client", valid_phone_or_client,
		{ V("+14158675309"), V("client:alice"), V("client:Alice_Smith-2"), V("sip:alice@example.com"),
			V("sip:+14158675309@pbx.example.com;transport=tls"), V("Anonymous"), V("anonymous"),
			V("+266696687"), END },
		{ V(""), V("client:"), V("sip:"), V("client: alice"), V("client:al ice"), V("client:a\nb"),
			V("client:\xc3\xa9"), V("Anonymous "), V("Anonymou"), V("Restricted!"), V("alice"),
			V("14158675309"), V("SIP:alice@example.com"), V("Client:alice"), V("client:a\x7f"),
			VL("client:a\0b", 10), V("<script>alert(1)</script>"), V("+1415867530x"),
			VL("Anonymous\0", 10), END } },
	{ "valid_digits", valid_digits,
		{ V(""), V("1"), V("0"), V("0042"), V("*"), V("#"), V("123*#"),
			V("0123456789012345678901234567890123456789012345678901234567890123"), END },
		{ V("a"), V("1 "), V(" 1"), V("-1"), V("+1"), V("1.0"), V("12a"), V("1\n"), VL("1\0", 2),
			V("01234567890123456789012345678901234567890123456789012345678901234"),
			V("hangup"), V("%31"), V("\xd9\xa1"), V("1;2"), V("1,2"), V("1e3"), END } },
	{ "valid_call_status", valid_call_status,
		{ V("queued"), V("initiated"), V("ringing"), V("in-progress"), V("completed"), V("busy"),
			V("failed"), V("no-answer"), V("canceled"), END },
		{ V(""), V("Completed"), V("COMPLETED"), V("complete"), V("completed "), V(" completed"),
			V("cancelled"), V("in progress"), V("in_progress"), V("no_answer"), V("Initiated"),
			V("initiate"), V("answered"), VL("busy\0", 5), VL("completed", 8), V("busy\n"), END } },
	{ "valid_answered_by", valid_answered_by,
		{ V("human"), V("machine_start"), V("machine_end_beep"), V("machine_end_silence"),
			V("machine_end_other"), V("fax"), V("unknown"), END },
		{ V(""), V("Human"), V("machine"), V("machine-start"), V("machine_end"), V("human "),
			V("humans"), VL("human\0x", 7), V("machine_end_beeps"), END } },
	{ "valid_direction", valid_direction,
		{ V("inbound"), V("outbound-api"), V("outbound-dial"), END },
		{ V(""), V("outbound"), V("Inbound"), V("outbound_api"), V("outbound-api "), V("trunking-originating"),
			VL("inbound\0", 8), END } },
	{ "valid_token", valid_token,
		{ V(SID32), V("00000000000000000000000000000000"), V("ffffffffffffffffffffffffffffffff"), END },
		{ V(""), V(SID32U), V("0123456789abcdef0123456789abcde"), V(SID32 "0"),
			V("0123456789abcdef0123456789abcdeg"), V("0123456789abcdef 123456789abcdef"),
			VL("0123456789abcdef0123456789abcde\0", 32), V("../../../../etc/passwd0000000000"),
			V("0123456789abcdef0123456789abcdeF"), END } },
	{ "valid_state_name", valid_state_name,
		{ V("a"), V("start"), V("press_1"), V("machine_message"), V("z9_"),
			V("a123456789012345678901234567890123456789012345678901234567890123"), END },
		{ V(""), V("_start"), V("1start"), V("Start"), V("sTart"), V("start-1"), V("start 1"),
			V("start\n"), V("../x"), V("a/b"), V("a.xml"), VL("ab\0c", 4), V("\xc3\xa9t\xc3\xa9"),
			V("a1234567890123456789012345678901234567890123456789012345678901234"), END } },
	{ "valid_uint", valid_uint,
		{ V("0"), V("1"), V("42"), V("007"), V("999999999"), END },
		{ V(""), V("-1"), V("+1"), V("1000000000"), V("4294967296"), V(" 1"), V("1 "), V("1.5"),
			V("0x10"), V("1e3"), V("١"), VL("1\0", 2), V("12a"), END } },
	{ "valid_id", valid_id,
		{ V("1"), V("42"), V("999999999999999999"), V("100"), END },
		{ V(""), V("0"), V("007"), V("-1"), V("+1"), V("1000000000000000000"), V(" 1"), V("1 "),
			V("1.0"), V("0x1"), V("1e3"), VL("1\0", 2), V("12a"), V("\xd9\xa1"), V("1/2"),
			END } },
	{ "valid_timestamp", valid_timestamp,
		{ V("2026-11-25T15:30:00-05:00"), V("2026-11-25T20:30:00Z"), V("1970-01-01T00:00:00Z"),
			V("2026-11-25T20:30:00+00:00"), END },
		{ V(""), V("2026-11-25"), V("2026-11-25T20:30:00"), V("tomorrow"), V("2026-13-01T00:00:00Z"),
			V("2026-11-25 20:30:00Z"), VL("2026-11-25T20:30:00Z\0", 21), V("1969-12-31T23:59:59Z"),
			V("2026-11-25T20:30:00Zjunk"), END } },
	{ "valid_printable", valid_printable,
		{ V(""), V("Hello"), V("Line one\nline two"), V("tab\there"), V("It's amazing"),
			V("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), V("<b>&amp;</b>"), END },
		{ V("a\rb"), V("a\x01"), V("\x1b[31mred"), V("a\x7f"), V("\xc2\x85next line"),
			V("\xc2\x9f"), VL("a\0b", 3), V("\xff"), V("\xc0\xaf"), V("\xed\xa0\x80"),
			V("\xf4\x90\x80\x80"), V("\xe2\x82"), V("caf\xe9"), END } },
	{ "valid_sms_body", valid_sms_body,
		{ V(""), V("STOP"), V("  stop \n"), V("Line one\r\nline two"), V("tab\there"),
			V("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), V("<b>&amp;</b>"), END },
		{ V("a\x01"), V("\x1b[31mred"), V("a\x7f"), V("\xc2\x85next line"), VL("STOP\0", 5),
			V("\xff"), V("\xc0\xaf"), V("\xed\xa0\x80"), V("\xe2\x82"), V("caf\xe9"),
			VL("STOP", 5), END } },
};

/* The SMS body limit is 1600 characters, not bytes. */
static void test_sms_body_length(void **state)
{
	char *s = malloc(4 * 1601 + 1);
	(void)state;
	memset(s, 'a', 1601);
	assert_true(valid_sms_body(s, 1600));
	assert_false(valid_sms_body(s, 1601));
	for (size_t i = 0; i < 1601; i++)
		memcpy(s + 4 * i, "\xf0\x9f\x98\x80", 4);
	assert_true(valid_sms_body(s, 4 * 1600));
	assert_false(valid_sms_body(s, 4 * 1601));
	free(s);
}

static void test_validator_tables(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct validator_case *c = &cases[i];
		for (const struct val *v = c->good; v->s; v++) {
			size_t len = v->len ? v->len : strlen(v->s);
			if (c->fn(v->s, len) != 1)
				fail_msg("%s rejected good value '%s'", c->name, v->s);
		}
		for (const struct val *v = c->bad; v->s; v++) {
			size_t len = v->len ? v->len : strlen(v->s);
			if (c->fn(v->s, len) != 0)
				fail_msg("%s accepted bad value '%s' (len %zu)", c->name, v->s, len);
		}
	}
}

/* valid_printable's 1600-byte cap, and valid_any. */
static void test_validator_lengths(void **state)
{
	char *s = malloc(1700);
	(void)state;
	memset(s, 'x', 1700);
	assert_true(valid_printable(s, 1600));
	assert_false(valid_printable(s, 1601));
	/* A multi-byte character must not be cut by the cap check either. */
	memcpy(s + 1598, "\xc3\xa9", 2);
	assert_true(valid_printable(s, 1600));
	assert_false(valid_printable(s, 1599));
	/* Caller identities: at most 128 bytes. */
	memcpy(s, "client:", 7);
	memset(s + 7, 'a', 200);
	assert_true(valid_phone_or_client(s, 128));
	assert_false(valid_phone_or_client(s, 129));
	memcpy(s, "sip:", 4);
	assert_true(valid_phone_or_client(s, 128));
	assert_false(valid_phone_or_client(s, 129));
	assert_true(valid_any("", 0));
	assert_true(valid_any(s, 1700));
	free(s);
}

/* Every code point's encoding is accepted and every neighbouring invalid
 * byte sequence refused: a brute-force cross-check of the UTF-8 table. */
static void test_utf8_exhaustive(void **state)
{
	(void)state;
	for (unsigned cp = 1; cp <= 0x10ffff; cp++) {
		unsigned char b[4];
		size_t n;
		if (cp >= 0xd800 && cp <= 0xdfff) {
			b[0] = (unsigned char)(0xe0 | cp >> 12);
			b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			b[2] = (unsigned char)(0x80 | (cp & 0x3f));
			if (valid_utf8((const char *)b, 3))
				fail_msg("surrogate U+%04X accepted", cp);
			continue;
		}
		if (cp < 0x80) {
			b[0] = (unsigned char)cp;
			n = 1;
		} else if (cp < 0x800) {
			b[0] = (unsigned char)(0xc0 | cp >> 6);
			b[1] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			b[0] = (unsigned char)(0xe0 | cp >> 12);
			b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			b[2] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			b[0] = (unsigned char)(0xf0 | cp >> 18);
			b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
			b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			b[3] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 4;
		}
		if (!valid_utf8((const char *)b, n))
			fail_msg("U+%04X rejected", cp);
		if (n > 1 && valid_utf8((const char *)b, n - 1))
			fail_msg("truncated U+%04X accepted", cp);
	}
	/* Overlong encodings of every code point that has a shorter form. */
	for (unsigned cp = 0; cp < 0x10000; cp++) {
		unsigned char b[4];
		if (cp < 0x800) {
			b[0] = 0xe0;
			b[1] = (unsigned char)(0x80 | cp >> 6);
			b[2] = (unsigned char)(0x80 | (cp & 0x3f));
			if (valid_utf8((const char *)b, 3))
				fail_msg("overlong 3-byte U+%04X accepted", cp);
		}
		b[0] = 0xf0;
		b[1] = (unsigned char)(0x80 | cp >> 12);
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		if (valid_utf8((const char *)b, 4))
			fail_msg("overlong 4-byte U+%04X accepted", cp);
		if (cp < 0x80) {
			b[0] = (unsigned char)(0xc0 | cp >> 6);
			b[1] = (unsigned char)(0x80 | (cp & 0x3f));
			if (valid_utf8((const char *)b, 2))
				fail_msg("overlong 2-byte U+%04X accepted", cp);
		}
	}
	assert_false(valid_utf8("\0", 1));
	assert_false(valid_utf8(NULL, 0));
	assert_true(valid_utf8("", 0));
}

static void test_no_controls(void **state)
{
	(void)state;
	assert_true(valid_no_controls("abc \xc3\xa9 \xc2\xa0", 9, NULL));
	assert_false(valid_no_controls("a\nb", 3, NULL));
	assert_true(valid_no_controls("a\nb", 3, "\n"));
	assert_false(valid_no_controls("a\rb", 3, "\n\t"));
	assert_false(valid_no_controls("a\x7f", 2, "\n"));
	assert_false(valid_no_controls("\xc2\x80", 2, NULL));
	assert_false(valid_no_controls("\xc2\x9f", 2, NULL));
	assert_true(valid_no_controls("\xc2\xa0", 2, NULL));
	assert_false(valid_no_controls("a\0", 2, "\n"));
	assert_true(valid_no_controls("", 0, NULL));
}

/* Parses body into p with the default limits (the test's own arena). */
static void parse(struct arena *a, const char *body, struct params *p)
{
	assert_int_equal(form_parse(a, body, strlen(body), NULL, p), FORM_OK);
}

enum { F_SID, F_DIGITS, F_STATUS, F_N };
static const struct valid_field fields[F_N] = {
	[F_SID] = { "CallSid", valid_call_sid, 1, VALID_TEXT },
	[F_DIGITS] = { "Digits", valid_digits, 0, VALID_TEXT },
	[F_STATUS] = { "CallStatus", valid_call_status, 0, VALID_TEXT },
};

struct params_case {
	const char *what;
	const char *body;
	const char *err; /* NULL: success */
	const char *want[F_N];
};

#define CSID "CA0123456789abcdef0123456789abcdef"

static const struct params_case params_cases[] = {
	{ "all present", "CallSid=" CSID "&Digits=1&CallStatus=completed", NULL,
		{ CSID, "1", "completed" } },
	{ "optional absent", "CallSid=" CSID, NULL, { CSID, NULL, NULL } },
	{ "unknown fields ignored", "Foo=bar&CallSid=" CSID "&Extra=%0A", NULL, { CSID, NULL, NULL } },
	{ "empty digits is a value", "CallSid=" CSID "&Digits=", NULL, { CSID, "", NULL } },
	{ "first occurrence used", "CallSid=" CSID "&Digits=1&Digits=oops", NULL, { CSID, "1", NULL } },
	{ "first occurrence validated", "CallSid=" CSID "&Digits=oops&Digits=1",
		"field 'Digits' is not valid", { NULL, NULL, NULL } },
	{ "required missing", "Digits=1", "field 'CallSid' is required", { NULL, NULL, NULL } },
	{ "required missing, empty input", "", "field 'CallSid' is required", { NULL, NULL, NULL } },
	{ "required empty", "CallSid=&Digits=1", "field 'CallSid' is not valid", { NULL, NULL, NULL } },
	{ "required invalid", "CallSid=CA1&Digits=1", "field 'CallSid' is not valid", { NULL, NULL, NULL } },
	{ "optional invalid", "CallSid=" CSID "&CallStatus=done", "field 'CallStatus' is not valid",
		{ NULL, NULL, NULL } },
	{ "name is case-sensitive", "callsid=" CSID, "field 'CallSid' is required", { NULL, NULL, NULL } },
	{ "initiated status callback", "CallSid=" CSID "&CallStatus=initiated", NULL,
		{ CSID, NULL, "initiated" } },
	{ "upper-case SID refused", "CallSid=CA0123456789ABCDEF0123456789ABCDEF",
		"field 'CallSid' is not valid", { NULL, NULL, NULL } },
};

static void test_valid_params_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(params_cases); i++) {
		const struct params_case *c = &params_cases[i];
		struct arena *a = arena_new(0);
		struct params in;
		struct valid_result out = { (struct valid_value *)1, 99 };
		char err[128] = "untouched";
		int rc;
		parse(a, c->body, &in);
		rc = valid_params(a, fields, F_N, &in, &out, err, sizeof(err));
		if (c->err) {
			if (rc != -1)
				fail_msg("case '%s': expected failure", c->what);
			if (strcmp(err, c->err) != 0)
				fail_msg("case '%s': error '%s', expected '%s'", c->what, err, c->err);
			if (out.v != NULL || out.n != 0)
				fail_msg("case '%s': failure left output", c->what);
		} else {
			if (rc != 0)
				fail_msg("case '%s': failed with '%s'", c->what, err);
			if (out.n != F_N)
				fail_msg("case '%s': n = %zu", c->what, out.n);
			for (size_t k = 0; k < F_N; k++) {
				if (c->want[k] == NULL && out.v[k].s != NULL)
					fail_msg("case '%s': field %zu should be absent", c->what, k);
				if (c->want[k] != NULL &&
					(out.v[k].s == NULL || strcmp(out.v[k].s, c->want[k]) != 0))
					fail_msg("case '%s': field %zu is '%s', expected '%s'", c->what, k,
						out.v[k].s ? out.v[k].s : "(null)", c->want[k]);
			}
		}
		arena_free(a);
	}
}

/* NULL input, a field without a validator, a short error buffer, no
 * fields at all. */
static void test_valid_params_edges(void **state)
{
	struct arena *a = arena_new(0);
	struct valid_result out;
	struct params in;
	char err[16];
	static const struct valid_field optional[] = { { "x", valid_any, 0, VALID_TEXT } };
	static const struct valid_field unchecked[] = { { "x", NULL, 0, VALID_TEXT } };
	(void)state;

	assert_int_equal(valid_params(a, optional, 1, NULL, &out, err, sizeof(err)), 0);
	assert_int_equal(out.n, 1);
	assert_null(out.v[0].s);

	parse(a, "x=1", &in);
	assert_int_equal(valid_params(a, unchecked, 1, &in, &out, err, sizeof(err)), -1);

	/* The error is truncated, never overflowed. */
	assert_int_equal(valid_params(a, fields, F_N, NULL, &out, err, sizeof(err)), -1);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(valid_params(a, fields, F_N, NULL, &out, NULL, 0), -1);

	assert_int_equal(valid_params(a, fields, 0, &in, &out, err, sizeof(err)), 0);
	assert_int_equal(out.n, 0);

	/* The validated value is a copy in the arena, not the input's pointer. */
	parse(a, "x=abc", &in);
	assert_int_equal(valid_params(a, optional, 1, &in, &out, err, sizeof(err)), 0);
	assert_string_equal(out.v[0].s, "abc");
	assert_ptr_not_equal(out.v[0].s, in.v[0].value);
	arena_free(a);
}

/* The converters: the number of what passes, nothing touched otherwise. */
struct conv_case {
	int (*fn)(const char *, size_t, long long *);
	const char *v;
	int ok;
	long long want;
};

static void test_converters(void **state)
{
	static const struct conv_case convs[] = {
		{ valid_to_uint, "0", 1, 0 }, { valid_to_uint, "007", 1, 7 },
		{ valid_to_uint, "999999999", 1, 999999999 }, { valid_to_uint, "1000000000", 0, 0 },
		{ valid_to_uint, "-1", 0, 0 }, { valid_to_uint, "", 0, 0 },
		{ valid_to_id, "1", 1, 1 }, { valid_to_id, "999999999999999999", 1, 999999999999999999LL },
		{ valid_to_id, "0", 0, 0 }, { valid_to_id, "01", 0, 0 },
		{ valid_to_id, "9223372036854775808", 0, 0 },
		{ valid_to_time, "1970-01-01T00:00:00Z", 1, 0 },
		{ valid_to_time, "2026-11-25T15:30:00-05:00", 1, 1795638600LL },
		{ valid_to_time, "2026-11-25T20:30:00Z", 1, 1795638600LL },
		{ valid_to_time, "2026-11-25", 0, 0 },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(convs); i++) {
		long long out = -42;
		int ok = convs[i].fn(convs[i].v, strlen(convs[i].v), &out);
		if (ok != convs[i].ok)
			fail_msg("'%s': %d, want %d", convs[i].v, ok, convs[i].ok);
		if (ok && out != convs[i].want)
			fail_msg("'%s': %lld, want %lld", convs[i].v, out, convs[i].want);
		if (!ok && out != -42)
			fail_msg("'%s' refused but out changed", convs[i].v);
	}
}

/* valid_params converts: an int64 field gives its number, a timestamp
 * its Unix seconds, a text field its text only; a VALID_INT64 field whose
 * validator lets through more than digits is refused, not guessed at. */
static void test_valid_params_types(void **state)
{
	enum { T_N, T_AT, T_NAME, T_NT };
	static const struct valid_field typed[T_NT] = {
		[T_N] = { "n", valid_uint, 1, VALID_INT64 },
		[T_AT] = { "at", valid_timestamp, 0, VALID_TIME },
		[T_NAME] = { "name", valid_state_name, 0, VALID_TEXT },
	};
	static const struct valid_field wrong[] = { { "n", valid_any, 1, VALID_INT64 } };
	struct arena *a = arena_new(0);
	struct valid_result out;
	struct params in;
	char err[64];
	(void)state;

	parse(a, "n=0042&at=2026-11-25T20:30:00Z&name=start", &in);
	assert_int_equal(valid_params(a, typed, T_NT, &in, &out, err, sizeof(err)), 0);
	assert_int_equal(out.v[T_N].i, 42);
	assert_string_equal(out.v[T_N].s, "0042");
	assert_int_equal(out.v[T_N].len, 4);
	assert_int_equal(out.v[T_AT].i, 1795638600LL);
	assert_string_equal(out.v[T_NAME].s, "start");
	assert_int_equal(out.v[T_NAME].i, 0);

	parse(a, "n=7", &in);
	assert_int_equal(valid_params(a, typed, T_NT, &in, &out, err, sizeof(err)), 0);
	assert_int_equal(out.v[T_N].i, 7);
	assert_null(out.v[T_AT].s);
	assert_int_equal(out.v[T_AT].i, 0);

	parse(a, "n=7&at=yesterday", &in);
	assert_int_equal(valid_params(a, typed, T_NT, &in, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "field 'at' is not valid");

	parse(a, "n=seven", &in);
	assert_int_equal(valid_params(a, wrong, 1, &in, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "field 'n' is not valid");
	arena_free(a);
}

/* The one E.164 rule: 7 to 15 digits after '+', the first not 0. */
static void test_e164_bounds(void **state)
{
	char s[20] = "+1";
	(void)state;
	for (size_t digits = 1; digits <= 17; digits++) {
		s[digits] = (char)('0' + digits % 10);
		s[digits + 1] = '\0';
		s[1] = '1';
		assert_int_equal(valid_e164(s, digits + 1),
			digits >= VALID_E164_MIN_DIGITS && digits <= VALID_E164_MAX_DIGITS);
	}
	assert_int_equal(VALID_E164_MIN_DIGITS, 7);
	assert_int_equal(VALID_E164_MAX_DIGITS, 15);
}

static void test_utf8_cut_repair(void **state)
{
	const char *e = "ab\xc3\xa9" "cd"; /* "abécd": é is 2 bytes at 2..3 */
	char t[] = "a\nb\x01" "c\xff" "d\xc3\xa9\xe2\x82" "e\t";

	(void)state;
	assert_int_equal(utf8_cut(e, 6, 10), 6);
	assert_int_equal(utf8_cut(e, 6, 4), 4);
	assert_int_equal(utf8_cut(e, 6, 3), 2); /* never inside é */
	assert_int_equal(utf8_cut(e, 6, 0), 0);
	utf8_repair(t, strlen(t), "\n");
	/* kept newline; control -> space; stray and truncated bytes -> '?'; é kept; tab -> space */
	assert_string_equal(t, "a\nb c?d\xc3\xa9??e ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sms_body_length),
		cmocka_unit_test(test_validator_tables),
		cmocka_unit_test(test_validator_lengths),
		cmocka_unit_test(test_utf8_exhaustive),
		cmocka_unit_test(test_no_controls),
		cmocka_unit_test(test_valid_params_cases),
		cmocka_unit_test(test_valid_params_edges),
		cmocka_unit_test(test_converters),
		cmocka_unit_test(test_valid_params_types),
		cmocka_unit_test(test_e164_bounds),
		cmocka_unit_test(test_utf8_cut_repair),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

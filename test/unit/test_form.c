/* Unit tests: form_parse and form_parse_cookies, table-driven.  Each case
 * gives the input, the limits, and either the exact pairs expected or the
 * error; an error case also checks that nothing was returned. */
#include "unit.h"

#include "arena.h"
#include "buf.h"
#include "form.h"
#include "util.h"

#define MAXP 6

struct pair {
	const char *name;
	const char *value;
	size_t value_len; /* 0: strlen(value) */
};

struct form_case {
	const char *what;
	const char *in;
	size_t len; /* 0: strlen(in) */
	const struct form_limits *lim;
	enum form_err err;
	size_t n;
	struct pair p[MAXP];
};

static const struct form_limits tiny = { 32, 3, 4, 5 };

static const struct form_case form_cases[] = {
	/* what is accepted, and how it decodes */
	{ "empty", "", 0, NULL, FORM_OK, 0, { { NULL, NULL, 0 } } },
	{ "one pair", "a=1", 0, NULL, FORM_OK, 1, { { "a", "1", 0 } } },
	{ "two pairs", "a=1&b=2", 0, NULL, FORM_OK, 2, { { "a", "1", 0 }, { "b", "2", 0 } } },
	{ "plus is space", "Body=It's+amazing", 0, NULL, FORM_OK, 1, { { "Body", "It's amazing", 0 } } },
	{ "encoded plus", "To=%2B18005551212", 0, NULL, FORM_OK, 1, { { "To", "+18005551212", 0 } } },
	{ "raw plus in E.164 is a space", "To=+18005551212", 0, NULL, FORM_OK, 1, { { "To", " 18005551212", 0 } } },
	{ "hex either case", "x=%2f%2F%4a%4A", 0, NULL, FORM_OK, 1, { { "x", "//JJ", 0 } } },
	{ "no equals", "a", 0, NULL, FORM_OK, 1, { { "a", "", 0 } } },
	{ "empty value", "a=", 0, NULL, FORM_OK, 1, { { "a", "", 0 } } },
	{ "second equals kept", "a=b=c", 0, NULL, FORM_OK, 1, { { "a", "b=c", 0 } } },
	{ "encoded & and =", "v=x%26y%3Dz&w=1", 0, NULL, FORM_OK, 2, { { "v", "x&y=z", 0 }, { "w", "1", 0 } } },
	{ "empty pairs skipped", "&&a=1&&&b=2&", 0, NULL, FORM_OK, 2, { { "a", "1", 0 }, { "b", "2", 0 } } },
	{ "only ampersands", "&&&", 0, NULL, FORM_OK, 0, { { NULL, NULL, 0 } } },
	{ "repeated names stay", "d=5678&d=1234&d=1234", 0, NULL, FORM_OK, 3, { { "d", "5678", 0 }, { "d", "1234", 0 }, { "d", "1234", 0 } } },
	{ "encoded name", "Call%53id=x", 0, NULL, FORM_OK, 1, { { "CallSid", "x", 0 } } },
	{ "space name", "+=x", 0, NULL, FORM_OK, 1, { { " ", "x", 0 } } },
	{ "utf-8 two bytes", "n=%C3%A9t%C3%A9", 0, NULL, FORM_OK, 1, { { "n", "\xc3\xa9t\xc3\xa9", 0 } } },
	{ "utf-8 raw", "n=\xe2\x82\xac", 0, NULL, FORM_OK, 1, { { "n", "\xe2\x82\xac", 0 } } },
	{ "utf-8 four bytes", "n=%F0%9F%98%80", 0, NULL, FORM_OK, 1, { { "n", "\xf0\x9f\x98\x80", 0 } } },
	{ "max code point", "n=%F4%8F%BF%BF", 0, NULL, FORM_OK, 1, { { "n", "\xf4\x8f\xbf\xbf", 0 } } },
	{ "control chars in values allowed", "b=a%0Ab%09c%0D", 0, NULL, FORM_OK, 1, { { "b", "a\nb\tc\r", 0 } } },
	{ "semicolon is not a separator", "a=1;b=2", 0, NULL, FORM_OK, 1, { { "a", "1;b=2", 0 } } },
	{ "unicode in name", "%C3%A9=1", 0, NULL, FORM_OK, 1, { { "\xc3\xa9", "1", 0 } } },

	/* encoding errors */
	{ "lone percent", "a=%", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "percent one digit", "a=%4", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "percent non-hex", "a=%4g", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "percent then end of pair", "a=%4&b=1", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "percent in name", "%zz=1", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "percent plus", "a=%+1", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "encoded NUL", "a=x%00y", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "encoded NUL in name", "a%00=1", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "raw NUL", "a=x\0y", 5, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "raw NUL after good pair", "a=1&b=\0", 7, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "overlong slash", "a=%C0%AF", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "overlong NUL", "a=%C0%80", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "overlong three bytes", "a=%E0%80%AF", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "overlong four bytes", "a=%F0%80%80%AF", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "surrogate high", "a=%ED%A0%80", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "surrogate low", "a=%ED%BF%BF", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "above U+10FFFF", "a=%F4%90%80%80", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "F5 lead", "a=%F5%80%80%80", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "FF byte", "a=%FF", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "lone continuation", "a=%80", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "truncated sequence", "a=%E2%82", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "truncated at end of input", "a=\xe2\x82", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "sequence split by &", "a=%E2&b=%82%AC", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "raw latin-1", "a=caf\xe9", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "bad utf-8 in name", "%FF=1", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "error after good pairs", "a=1&b=2&c=%zz", 0, NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },

	/* names */
	{ "empty name", "=x", 0, NULL, FORM_BAD_NAME, 0, { { NULL, NULL, 0 } } },
	{ "bare equals", "a=1&=", 0, NULL, FORM_BAD_NAME, 0, { { NULL, NULL, 0 } } },
	{ "control in name", "a%0Ab=1", 0, NULL, FORM_BAD_NAME, 0, { { NULL, NULL, 0 } } },
	{ "raw tab in name", "a\tb=1", 0, NULL, FORM_BAD_NAME, 0, { { NULL, NULL, 0 } } },
	{ "DEL in name", "a%7F=1", 0, NULL, FORM_BAD_NAME, 0, { { NULL, NULL, 0 } } },
	{ "C1 control in name", "a%C2%85=1", 0, NULL, FORM_BAD_NAME, 0, { { NULL, NULL, 0 } } },
	{ "escape in name", "%1B%5B31m=1", 0, NULL, FORM_BAD_NAME, 0, { { NULL, NULL, 0 } } },

	/* limits */
	{ "name at limit", "abcd=1", 0, &tiny, FORM_OK, 1, { { "abcd", "1", 0 } } },
	{ "name over limit", "abcde=1", 0, &tiny, FORM_TOO_LARGE, 0, { { NULL, NULL, 0 } } },
	{ "encoded name at limit", "%61%62%63%64=1", 0, &tiny, FORM_OK, 1, { { "abcd", "1", 0 } } },
	{ "value at limit", "a=12345", 0, &tiny, FORM_OK, 1, { { "a", "12345", 0 } } },
	{ "value over limit", "a=123456", 0, &tiny, FORM_TOO_LARGE, 0, { { NULL, NULL, 0 } } },
	{ "encoded value at limit", "a=%31%32%33%34%35", 0, &tiny, FORM_OK, 1, { { "a", "12345", 0 } } },
	{ "encoded value over limit", "a=%31%32%33%34%35%36", 0, &tiny, FORM_TOO_LARGE, 0, { { NULL, NULL, 0 } } },
	{ "pairs at limit", "a&b&c", 0, &tiny, FORM_OK, 3, { { "a", "", 0 }, { "b", "", 0 }, { "c", "", 0 } } },
	{ "pairs over limit", "a&b&c&d", 0, &tiny, FORM_TOO_MANY, 0, { { NULL, NULL, 0 } } },
	{ "empty pairs do not count", "a&&&b&&&c&&&", 0, &tiny, FORM_OK, 3, { { "a", "", 0 }, { "b", "", 0 }, { "c", "", 0 } } },
	{ "input at limit", "a=1&b=2&c=3&&&&&&&&&&&&&&&&&&&&&", 0, &tiny, FORM_OK, 3, { { "a", "1", 0 }, { "b", "2", 0 }, { "c", "3", 0 } } },
	{ "input over limit", "a=1&b=2&c=3&&&&&&&&&&&&&&&&&&&&&&", 0, &tiny, FORM_TOO_LARGE, 0, { { NULL, NULL, 0 } } },
};

static void check_pairs(const char *what, const struct params *got, size_t n, const struct pair *want)
{
	if (got->n != n)
		fail_msg("case '%s': %zu pairs, expected %zu", what, got->n, n);
	for (size_t i = 0; i < n; i++) {
		size_t vlen = want[i].value_len ? want[i].value_len : strlen(want[i].value);
		const struct param *p = &got->v[i];
		if (strcmp(p->name, want[i].name) != 0)
			fail_msg("case '%s': pair %zu name '%s', expected '%s'", what, i, p->name,
				want[i].name);
		if (p->value_len != vlen || memcmp(p->value, want[i].value, vlen) != 0 ||
			p->value[vlen] != '\0')
			fail_msg("case '%s': pair %zu value '%s' (%zu), expected '%s'", what, i,
				p->value, p->value_len, want[i].value);
	}
}

static void test_form_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(form_cases); i++) {
		const struct form_case *c = &form_cases[i];
		struct arena *a = arena_new(0);
		struct params out = { (struct param *)1, 99 };
		size_t len = c->len ? c->len : strlen(c->in);
		enum form_err err = form_parse(a, c->in, len, c->lim, &out);
		if (err != c->err)
			fail_msg("case '%s': got %d (%s), expected %d (%s)", c->what, err,
				form_strerror(err), c->err, form_strerror(c->err));
		if (err != FORM_OK && (out.v != NULL || out.n != 0))
			fail_msg("case '%s': error but output not cleared", c->what);
		if (err == FORM_OK)
			check_pairs(c->what, &out, c->n, c->p);
		arena_free(a);
	}
}

/* The default limits are the ones the header promises. */
static void test_form_default_limits(void **state)
{
	struct arena *a = arena_new(0);
	struct params out;
	char *big = malloc(70000);
	(void)state;
	assert_int_equal(form_default_limits.max_input, 65536);
	assert_int_equal(form_default_limits.max_pairs, 128);
	assert_int_equal(form_default_limits.max_name, 64);
	assert_int_equal(form_default_limits.max_value, 16384);

	/* 128 pairs pass, 129 do not. */
	big[0] = '\0';
	for (int i = 0; i < 129; i++)
		sprintf(big + strlen(big), "%sp%d=%d", i ? "&" : "", i, i);
	assert_int_equal(form_parse(a, big, strlen(big), NULL, &out), FORM_TOO_MANY);
	*strrchr(big, '&') = '\0';
	assert_int_equal(form_parse(a, big, strlen(big), NULL, &out), FORM_OK);
	assert_int_equal(out.n, 128);
	assert_string_equal(form_get(&out, "p127"), "127");

	/* 16384-byte value passes, 16385 does not. */
	memcpy(big, "v=", 2);
	memset(big + 2, 'x', 16384);
	assert_int_equal(form_parse(a, big, 2 + 16384, NULL, &out), FORM_OK);
	assert_int_equal(out.v[0].value_len, 16384);
	big[2 + 16384] = 'x';
	assert_int_equal(form_parse(a, big, 2 + 16385, NULL, &out), FORM_TOO_LARGE);

	/* 64-byte name passes, 65 does not. */
	memset(big, 'n', 65);
	big[65] = '=';
	assert_int_equal(form_parse(a, big + 1, 65, NULL, &out), FORM_OK);
	assert_int_equal(strlen(out.v[0].name), 64);
	assert_int_equal(form_parse(a, big, 66, NULL, &out), FORM_TOO_LARGE);

	/* 65536 bytes of input pass the input cap, 65537 do not. */
	memset(big, '&', 65537);
	assert_int_equal(form_parse(a, big, 65536, NULL, &out), FORM_OK);
	assert_int_equal(out.n, 0);
	assert_int_equal(form_parse(a, big, 65537, NULL, &out), FORM_TOO_LARGE);
	free(big);
	arena_free(a);
}

/* A real Twilio voice webhook body, and form_get / form_count on it. */
static void test_form_twilio_body(void **state)
{
	static const char body[] =
		"AccountSid=AC0123456789abcdef0123456789abcdef&ApiVersion=2010-04-01"
		"&CallSid=CA0123456789abcdef0123456789abcdef&CallStatus=in-progress"
		"&Called=%2B18005551212&Caller=%2B14158675309&Digits=1&Direction=outbound-api"
		"&From=%2B18005551212&To=%2B14158675309&StatusCallbackEvent=initiated"
		"&StatusCallbackEvent=ringing&msg=Gather+End";
	struct arena *a = arena_new(0);
	struct params out;
	(void)state;
	assert_int_equal(form_parse(a, body, strlen(body), NULL, &out), FORM_OK);
	assert_int_equal(out.n, 13);
	assert_string_equal(form_get(&out, "From"), "+18005551212");
	assert_string_equal(form_get(&out, "Digits"), "1");
	assert_string_equal(form_get(&out, "msg"), "Gather End");
	assert_string_equal(form_get(&out, "StatusCallbackEvent"), "initiated");
	assert_int_equal(form_count(&out, "StatusCallbackEvent"), 2);
	assert_int_equal(form_count(&out, "CallSid"), 1);
	assert_int_equal(form_count(&out, "Nope"), 0);
	assert_null(form_get(&out, "Nope"));
	assert_null(form_get(&out, "digits")); /* names are case-sensitive */
	assert_null(form_get(NULL, "From"));
	assert_int_equal(form_count(NULL, "From"), 0);
	/* The output is a copy: changing the input does not change it. */
	{
		char copy[] = "a=1";
		assert_int_equal(form_parse(a, copy, 3, NULL, &out), FORM_OK);
		copy[2] = '2';
		assert_string_equal(form_get(&out, "a"), "1");
	}
	arena_free(a);
}

struct cookie_case {
	const char *what;
	const char *in; /* NULL: no header */
	const struct form_limits *lim;
	enum form_err err;
	size_t n;
	struct pair p[MAXP];
};

static const struct cookie_case cookie_cases[] = {
	{ "no header", NULL, NULL, FORM_OK, 0, { { NULL, NULL, 0 } } },
	{ "empty", "", NULL, FORM_OK, 0, { { NULL, NULL, 0 } } },
	{ "one", "sid=abc", NULL, FORM_OK, 1, { { "sid", "abc", 0 } } },
	{ "two with space", "a=1; b=2", NULL, FORM_OK, 2, { { "a", "1", 0 }, { "b", "2", 0 } } },
	{ "no space", "a=1;b=2", NULL, FORM_OK, 2, { { "a", "1", 0 }, { "b", "2", 0 } } },
	{ "padding trimmed", "  a = 1 ;\tb=2\t; ", NULL, FORM_OK, 2, { { "a", "1", 0 }, { "b", "2", 0 } } },
	{ "empty pieces skipped", ";; a=1;;  ;b=2;", NULL, FORM_OK, 2, { { "a", "1", 0 }, { "b", "2", 0 } } },
	{ "no percent decoding", "a=x%20y+z", NULL, FORM_OK, 1, { { "a", "x%20y+z", 0 } } },
	{ "equals in value", "a=b=c", NULL, FORM_OK, 1, { { "a", "b=c", 0 } } },
	{ "no equals", "flag", NULL, FORM_OK, 1, { { "flag", "", 0 } } },
	{ "quotes kept", "a=\"q\"", NULL, FORM_OK, 1, { { "a", "\"q\"", 0 } } },
	{ "repeated", "a=1; a=2", NULL, FORM_OK, 2, { { "a", "1", 0 }, { "a", "2", 0 } } },
	{ "utf-8 value", "a=\xc3\xa9", NULL, FORM_OK, 1, { { "a", "\xc3\xa9", 0 } } },
	{ "empty name", "=x", NULL, FORM_BAD_NAME, 0, { { NULL, NULL, 0 } } },
	{ "space name", " =x; a=1", NULL, FORM_BAD_NAME, 0, { { NULL, NULL, 0 } } },
	{ "control in name", "a\x01=1", NULL, FORM_BAD_NAME, 0, { { NULL, NULL, 0 } } },
	{ "tab inside name", "a\tb=1", NULL, FORM_BAD_NAME, 0, { { NULL, NULL, 0 } } },
	{ "DEL in name", "a\x7f=1", NULL, FORM_BAD_NAME, 0, { { NULL, NULL, 0 } } },
	{ "newline in value", "a=1\n2", NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "CR in value", "a=1\r", NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "tab inside value", "a=1\t2", NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "C1 in value", "a=\xc2\x85", NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "bad utf-8 value", "a=\xff", NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "overlong value", "a=\xc0\xaf", NULL, FORM_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
	{ "bad utf-8 name", "\xff=1", NULL, FORM_BAD_NAME, 0, { { NULL, NULL, 0 } } },
	{ "name at limit", "abcd=1", &tiny, FORM_OK, 1, { { "abcd", "1", 0 } } },
	{ "name over limit", "abcde=1", &tiny, FORM_TOO_LARGE, 0, { { NULL, NULL, 0 } } },
	{ "value over limit", "a=123456", &tiny, FORM_TOO_LARGE, 0, { { NULL, NULL, 0 } } },
	{ "pairs over limit", "a;b;c;d", &tiny, FORM_TOO_MANY, 0, { { NULL, NULL, 0 } } },
	{ "blank pieces do not count", "a; ;b; ;c; ", &tiny, FORM_OK, 3, { { "a", "", 0 }, { "b", "", 0 }, { "c", "", 0 } } },
	{ "input over limit", "a=1;                              ", &tiny, FORM_TOO_LARGE, 0, { { NULL, NULL, 0 } } },
};

static void test_cookie_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cookie_cases); i++) {
		const struct cookie_case *c = &cookie_cases[i];
		struct arena *a = arena_new(0);
		struct params out = { (struct param *)1, 99 };
		enum form_err err = form_parse_cookies(a, c->in, c->lim, &out);
		if (err != c->err)
			fail_msg("cookie case '%s': got %d (%s), expected %d (%s)", c->what, err,
				form_strerror(err), c->err, form_strerror(c->err));
		if (err != FORM_OK && (out.v != NULL || out.n != 0))
			fail_msg("cookie case '%s': error but output not cleared", c->what);
		if (err == FORM_OK)
			check_pairs(c->what, &out, c->n, c->p);
		arena_free(a);
	}
}

/* Limits at SIZE_MAX mean "no limit", not an overflow into zero. */
static void test_form_unlimited(void **state)
{
	static const struct form_limits none = { (size_t)-1, (size_t)-1, (size_t)-1, (size_t)-1 };
	struct arena *a = arena_new(0);
	struct params out;
	(void)state;
	assert_int_equal(form_parse_cookies(a, "a=1; b=2", &none, &out), FORM_OK);
	assert_int_equal(out.n, 2);
	assert_int_equal(form_parse(a, "a=%31&b=2", 9, &none, &out), FORM_OK);
	assert_int_equal(out.n, 2);
	assert_string_equal(form_get(&out, "a"), "1");
	arena_free(a);
}

static void test_form_strerror(void **state)
{
	(void)state;
	for (int e = FORM_OK; e <= FORM_BAD_NAME; e++) {
		const char *s = form_strerror((enum form_err)e);
		assert_non_null(s);
		assert_true(strlen(s) > 0);
		for (int f = FORM_OK; f < e; f++)
			assert_string_not_equal(s, form_strerror((enum form_err)f));
	}
}

/* The encoder: unreserved bytes stay, every other byte is %XX in upper
 * case ('+' and ' ' included), and form_parse reads back what was
 * encoded, byte for byte. */
static void test_form_encode(void **state)
{
	struct arena *a = arena_new(0);
	struct param pv[2] = { { "To", "+1 555&x=y~._-", 14 }, { "Body", "\xc3\xa9/%", 4 } };
	struct params in = { pv, 2 }, out;
	struct buf b = BUF_INIT;
	char all[128];
	(void)state;

	form_encode_params(&b, &in);
	assert_string_equal(buf_str(&b), "To=%2B1%20555%26x%3Dy~._-&Body=%C3%A9%2F%25");
	assert_int_equal(form_parse(a, b.data, b.len, NULL, &out), FORM_OK);
	assert_int_equal(out.n, 2);
	assert_string_equal(form_get(&out, "To"), "+1 555&x=y~._-");
	assert_string_equal(form_get(&out, "Body"), "\xc3\xa9/%");
	/* Every ASCII byte but NUL (which form_parse refuses) goes round. */
	for (int c = 1; c < 128; c++)
		all[c - 1] = (char)c;
	all[127] = '\0';
	pv[1].value = all;
	pv[1].value_len = 127;
	buf_reset(&b);
	form_encode_params(&b, &in);
	assert_int_equal(form_parse(a, b.data, b.len, &(struct form_limits){ 1 << 16, 8, 64, 1 << 16 },
		&out), FORM_OK);
	assert_int_equal(out.v[1].value_len, 127);
	assert_memory_equal(out.v[1].value, all, 127);
	buf_reset(&b);
	form_encode_params(&b, NULL);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	arena_free(a);
}

/* A textarea's CRLF line ends become LF; a lone CR or LF stays. */
static void test_form_crlf_to_lf(void **state)
{
	struct arena *a = arena_new(0);
	(void)state;

	assert_string_equal(form_crlf_to_lf(a, "a\r\nb\r\n\r\nc"), "a\nb\n\nc");
	assert_string_equal(form_crlf_to_lf(a, "a\rb\nc\r"), "a\rb\nc\r");
	assert_string_equal(form_crlf_to_lf(a, "\r\r\n"), "\r\n");
	assert_string_equal(form_crlf_to_lf(a, ""), "");
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_cases),
		cmocka_unit_test(test_form_default_limits),
		cmocka_unit_test(test_form_twilio_body),
		cmocka_unit_test(test_cookie_cases),
		cmocka_unit_test(test_form_unlimited),
		cmocka_unit_test(test_form_strerror),
		cmocka_unit_test(test_form_encode),
		cmocka_unit_test(test_form_crlf_to_lf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

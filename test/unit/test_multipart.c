/* Unit tests: multipart_boundary and multipart_parse, table-driven.  Each
 * case gives the Content-Type and the body, and either the exact pairs
 * expected or the error; an error case also checks that nothing was
 * returned. */
#include "unit.h"

#include "arena.h"
#include "multipart.h"
#include "util.h"

#define MAXP 6
#define CT "multipart/form-data; boundary=XyZ"
#define D "--XyZ"
#define CRLF "\r\n"
#define DISP(n) "Content-Disposition: form-data; name=\"" n "\"" CRLF
#define FILEDISP(n, f) "Content-Disposition: form-data; name=\"" n "\"; filename=\"" f "\"" CRLF
#define FIELD(n, v) D CRLF DISP(n) CRLF v CRLF
#define END D "--" CRLF

struct pair {
	const char *name;
	const char *value;
	size_t value_len; /* 0: strlen(value) */
};

struct mp_case {
	const char *what;
	const char *ct;
	const char *body;
	size_t len; /* 0: strlen(body) */
	const struct multipart_limits *lim;
	enum multipart_err err;
	size_t n;
	struct pair p[MAXP];
};

static const struct multipart_limits tiny = { 2, 4, 8, 5, 64, 2 };

static const struct mp_case cases[] = {
	/* accepted */
	{ "one field", CT, FIELD("a", "1") END, 0, NULL, MULTIPART_OK, 1, { { "a", "1", 0 } } },
	{ "two fields in order", CT, FIELD("csrf", "t0k") FIELD("kind", "clients") END, 0, NULL,
		MULTIPART_OK, 2, { { "csrf", "t0k", 0 }, { "kind", "clients", 0 } } },
	{ "no parts at all", CT, END, 0, NULL, MULTIPART_OK, 0, { { NULL, NULL, 0 } } },
	{ "close without the final CRLF", CT, FIELD("a", "1") D "--", 0, NULL, MULTIPART_OK, 1,
		{ { "a", "1", 0 } } },
	{ "empty value", CT, FIELD("a", "") END, 0, NULL, MULTIPART_OK, 1, { { "a", "", 0 } } },
	{ "value with CRLF inside", CT, FIELD("a", "x\r\ny") END, 0, NULL, MULTIPART_OK, 1,
		{ { "a", "x\r\ny", 0 } } },
	{ "value that looks like a delimiter without CRLF", CT, FIELD("a", "x--XyZ") END, 0, NULL,
		MULTIPART_OK, 1, { { "a", "x--XyZ", 0 } } },
	{ "file with its name", CT,
		D CRLF FILEDISP("file", "c.csv") "Content-Type: text/csv" CRLF CRLF "name,phone\r\nA,+1\r\n" CRLF
		END, 0, NULL, MULTIPART_OK, 2,
		{ { "file", "name,phone\r\nA,+1\r\n", 0 }, { "file.filename", "c.csv", 0 } } },
	{ "file with binary bytes", CT, D CRLF FILEDISP("f", "b.bin") CRLF "\x00\xff\x01" CRLF END,
		sizeof(D CRLF FILEDISP("f", "b.bin") CRLF "\x00\xff\x01" CRLF END) - 1, NULL,
		MULTIPART_OK, 2, { { "f", "\x00\xff\x01", 3 }, { "f.filename", "b.bin", 0 } } },
	{ "no file chosen", CT, D CRLF FILEDISP("file", "") "Content-Type: application/octet-stream"
		CRLF CRLF CRLF END, 0, NULL, MULTIPART_OK, 1, { { "file", "", 0 } } },
	{ "quoted boundary", "multipart/form-data; boundary=\"XyZ\"", FIELD("a", "1") END, 0, NULL,
		MULTIPART_OK, 1, { { "a", "1", 0 } } },
	{ "type in capitals, charset first", "Multipart/Form-Data; charset=utf-8; boundary=XyZ",
		FIELD("a", "1") END, 0, NULL, MULTIPART_OK, 1, { { "a", "1", 0 } } },
	{ "header names any case, extra spaces", CT,
		D CRLF "content-disposition:   FORM-DATA ;  NAME=\"a\"  " CRLF CRLF "1" CRLF END, 0, NULL,
		MULTIPART_OK, 1, { { "a", "1", 0 } } },
	{ "unquoted name", CT, D CRLF "Content-Disposition: form-data; name=a" CRLF CRLF "1" CRLF END,
		0, NULL, MULTIPART_OK, 1, { { "a", "1", 0 } } },
	{ "quoted-pair in a name", CT, D CRLF "Content-Disposition: form-data; name=\"a\\\"b\"" CRLF
		CRLF "1" CRLF END, 0, NULL, MULTIPART_OK, 1, { { "a\"b", "1", 0 } } },
	{ "repeated names stay repeated", CT, FIELD("a", "1") FIELD("a", "2") END, 0, NULL,
		MULTIPART_OK, 2, { { "a", "1", 0 }, { "a", "2", 0 } } },
	{ "UTF-8 value and filename", CT, D CRLF FILEDISP("f", "caf\xc3\xa9.csv") CRLF "\xf0\x9f\x98\x80"
		CRLF FIELD("n", "Zo\xc3\xab") END, 0, NULL, MULTIPART_OK, 3,
		{ { "f", "\xf0\x9f\x98\x80", 0 }, { "f.filename", "caf\xc3\xa9.csv", 0 },
			{ "n", "Zo\xc3\xab", 0 } } },
	{ "other headers are read past", CT, D CRLF DISP("a") "X-Other: 1" CRLF CRLF "1" CRLF END, 0,
		NULL, MULTIPART_OK, 1, { { "a", "1", 0 } } },
	{ "unknown parameter ignored", CT, D CRLF "Content-Disposition: form-data; x=1; name=\"a\""
		CRLF CRLF "1" CRLF END, 0, NULL, MULTIPART_OK, 1, { { "a", "1", 0 } } },
	{ "at the limits", CT, FIELD("abcd", "12345") FIELD("b", "") END, 0, &tiny, MULTIPART_OK, 2,
		{ { "abcd", "12345", 0 }, { "b", "", 0 } } },

	/* the type and boundary */
	{ "not multipart", "application/x-www-form-urlencoded", "a=1", 0, NULL, MULTIPART_BAD_TYPE, 0,
		{ { NULL, NULL, 0 } } },
	{ "multipart/mixed", "multipart/mixed; boundary=XyZ", FIELD("a", "1") END, 0, NULL,
		MULTIPART_BAD_TYPE, 0, { { NULL, NULL, 0 } } },
	{ "no boundary", "multipart/form-data", FIELD("a", "1") END, 0, NULL, MULTIPART_BAD_TYPE, 0,
		{ { NULL, NULL, 0 } } },
	{ "empty boundary", "multipart/form-data; boundary=", END, 0, NULL, MULTIPART_BAD_TYPE, 0,
		{ { NULL, NULL, 0 } } },
	{ "two boundaries", "multipart/form-data; boundary=XyZ; boundary=Q", FIELD("a", "1") END, 0,
		NULL, MULTIPART_BAD_TYPE, 0, { { NULL, NULL, 0 } } },
	{ "boundary with a bad character", "multipart/form-data; boundary=\"a{b\"", END, 0, NULL,
		MULTIPART_BAD_TYPE, 0, { { NULL, NULL, 0 } } },
	{ "boundary ending in a space", "multipart/form-data; boundary=\"ab \"", END, 0, NULL,
		MULTIPART_BAD_TYPE, 0, { { NULL, NULL, 0 } } },
	{ "boundary over 70", "multipart/form-data; boundary="
		"12345678901234567890123456789012345678901234567890123456789012345678901", END, 0, NULL,
		MULTIPART_BAD_TYPE, 0, { { NULL, NULL, 0 } } },
	{ "type without the separator", "multipart/form-dataX; boundary=XyZ", END, 0, NULL,
		MULTIPART_BAD_TYPE, 0, { { NULL, NULL, 0 } } },

	/* malformed bodies */
	{ "empty body", CT, "", 0, NULL, MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "preamble", CT, "hello" CRLF FIELD("a", "1") END, 0, NULL, MULTIPART_MALFORMED, 0,
		{ { NULL, NULL, 0 } } },
	{ "another boundary", CT, "--Other" CRLF DISP("a") CRLF "1" CRLF "--Other--" CRLF, 0, NULL,
		MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "no close delimiter", CT, FIELD("a", "1"), 0, NULL, MULTIPART_MALFORMED, 0,
		{ { NULL, NULL, 0 } } },
	{ "truncated in a value", CT, D CRLF DISP("a") CRLF "12", 0, NULL, MULTIPART_MALFORMED, 0,
		{ { NULL, NULL, 0 } } },
	{ "truncated in the headers", CT, D CRLF "Content-Disposition: form-da", 0, NULL,
		MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "epilogue after the close", CT, FIELD("a", "1") END "junk", 0, NULL, MULTIPART_MALFORMED,
		0, { { NULL, NULL, 0 } } },
	{ "LF line ends", CT, D "\n" "Content-Disposition: form-data; name=\"a\"\n\n1\n" D "--\n", 0,
		NULL, MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "bare LF in the headers", CT, D CRLF "Content-Disposition: form-data; name=\"a\"\n" CRLF "1"
		CRLF END, 0, NULL, MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "transport padding after a delimiter", CT, D "  " CRLF DISP("a") CRLF "1" CRLF END, 0, NULL,
		MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "delimiter with a longer boundary", CT, D "X" CRLF DISP("a") CRLF "1" CRLF END, 0, NULL,
		MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "no Content-Disposition", CT, D CRLF "Content-Type: text/plain" CRLF CRLF "1" CRLF END, 0,
		NULL, MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "two Content-Dispositions", CT, D CRLF DISP("a") DISP("b") CRLF "1" CRLF END, 0, NULL,
		MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "disposition is not form-data", CT, D CRLF "Content-Disposition: attachment; name=\"a\""
		CRLF CRLF "1" CRLF END, 0, NULL, MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "no name", CT, D CRLF "Content-Disposition: form-data; filename=\"x\"" CRLF CRLF "1" CRLF END,
		0, NULL, MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "empty name", CT, FIELD("", "1") END, 0, NULL, MULTIPART_MALFORMED, 0,
		{ { NULL, NULL, 0 } } },
	{ "name twice", CT, D CRLF "Content-Disposition: form-data; name=\"a\"; name=\"b\"" CRLF CRLF
		"1" CRLF END, 0, NULL, MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "unterminated quote", CT, D CRLF "Content-Disposition: form-data; name=\"a" CRLF CRLF "1"
		CRLF END, 0, NULL, MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "parameter without a value", CT, D CRLF "Content-Disposition: form-data; name" CRLF CRLF
		"1" CRLF END, 0, NULL, MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "folded header", CT, D CRLF "Content-Disposition: form-data;" CRLF " name=\"a\"" CRLF CRLF
		"1" CRLF END, 0, NULL, MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "header without a colon", CT, D CRLF DISP("a") "Nonsense" CRLF CRLF "1" CRLF END, 0, NULL,
		MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },
	{ "a name that would pose as a filename", CT, FIELD("f.filename", "x") END, 0, NULL,
		MULTIPART_MALFORMED, 0, { { NULL, NULL, 0 } } },

	/* limits and encodings */
	{ "too many parts", CT, FIELD("a", "1") FIELD("b", "2") FIELD("c", "3") END, 0, &tiny,
		MULTIPART_TOO_MANY, 0, { { NULL, NULL, 0 } } },
	{ "too many headers", CT, D CRLF DISP("a") "X: 1" CRLF "Y: 2" CRLF CRLF "1" CRLF END, 0,
		&tiny, MULTIPART_TOO_MANY, 0, { { NULL, NULL, 0 } } },
	{ "name too long", CT, FIELD("abcde", "1") END, 0, &tiny, MULTIPART_TOO_LARGE, 0,
		{ { NULL, NULL, 0 } } },
	{ "value too long", CT, FIELD("a", "123456") END, 0, &tiny, MULTIPART_TOO_LARGE, 0,
		{ { NULL, NULL, 0 } } },
	{ "filename too long", CT, D CRLF FILEDISP("f", "123456789") CRLF "x" CRLF END, 0, &tiny,
		MULTIPART_TOO_LARGE, 0, { { NULL, NULL, 0 } } },
	{ "header line too long", CT, D CRLF "Content-Disposition: form-data; name=\"a\"; x=\""
		"0123456789012345678901234567890123456789\"" CRLF CRLF "1" CRLF END, 0, &tiny,
		MULTIPART_TOO_LARGE, 0, { { NULL, NULL, 0 } } },
	{ "value not UTF-8", CT, FIELD("a", "\xc3\x28") END, 0, NULL, MULTIPART_BAD_ENCODING, 0,
		{ { NULL, NULL, 0 } } },
	{ "control character in a value", CT, FIELD("a", "x\x01y") END, 0, NULL, MULTIPART_BAD_ENCODING, 0,
		{ { NULL, NULL, 0 } } },
	{ "control in a name", CT, FIELD("a\x7f", "1") END, 0, NULL, MULTIPART_BAD_ENCODING, 0,
		{ { NULL, NULL, 0 } } },
	{ "filename not UTF-8", CT, D CRLF FILEDISP("f", "\xff.csv") CRLF "x" CRLF END, 0, NULL,
		MULTIPART_BAD_ENCODING, 0, { { NULL, NULL, 0 } } },
};

static void test_multipart_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct mp_case *c = &cases[i];
		struct arena *a = arena_new(0);
		struct params out = { (struct param *)1, 99 };
		size_t len = c->len ? c->len : strlen(c->body);
		enum multipart_err e = multipart_parse(a, c->ct, c->body, len, c->lim, &out);
		if (e != c->err)
			fail_msg("%s: error %d (%s), want %d", c->what, e, multipart_strerror(e), c->err);
		if (e != MULTIPART_OK && (out.v != NULL || out.n != 0))
			fail_msg("%s: an error left pairs behind", c->what);
		if (out.n != c->n)
			fail_msg("%s: %zu pairs, want %zu", c->what, out.n, c->n);
		for (size_t j = 0; j < c->n; j++) {
			size_t vl = c->p[j].value_len ? c->p[j].value_len : strlen(c->p[j].value);
			if (strcmp(out.v[j].name, c->p[j].name) != 0 || out.v[j].value_len != vl ||
				memcmp(out.v[j].value, c->p[j].value, vl) != 0 || out.v[j].value[vl] != '\0')
				fail_msg("%s: pair %zu is %s=%.*s, want %s", c->what, j, out.v[j].name,
					(int)out.v[j].value_len, out.v[j].value, c->p[j].name);
		}
		arena_free(a);
	}
}

/* What curl (and a browser) sends for a 1 MiB file: kept whole, bytes
 * intact, under the default limits. */
static void test_multipart_large_file(void **state)
{
	struct arena *a = arena_new(0);
	size_t flen = 1 << 20, n = 0;
	char *body = malloc(flen + 512);
	struct params out;
	(void)state;

	n += (size_t)sprintf(body + n, "%s", FIELD("csrf", "abc") D CRLF FILEDISP("file", "big.csv")
		"Content-Type: text/csv" CRLF CRLF);
	for (size_t i = 0; i < flen; i++)
		body[n + i] = (char)('a' + i % 26);
	n += flen;
	n += (size_t)sprintf(body + n, "%s", CRLF END);
	assert_int_equal(multipart_parse(a, CT, body, n, NULL, &out), MULTIPART_OK);
	assert_int_equal(out.n, 3);
	assert_string_equal(out.v[0].name, "csrf");
	assert_string_equal(out.v[1].name, "file");
	assert_int_equal(out.v[1].value_len, flen);
	assert_int_equal(out.v[1].value[flen - 1], 'a' + (flen - 1) % 26);
	assert_string_equal(out.v[2].value, "big.csv");
	free(body);
	arena_free(a);
}

/* A field over the default 16 KiB is refused; 32 parts pass, 33 do not. */
static void test_multipart_default_limits(void **state)
{
	struct arena *a = arena_new(0);
	char *body = malloc(64 * 1024);
	size_t n = 0;
	struct params out;
	(void)state;

	n += (size_t)sprintf(body + n, D CRLF DISP("a") CRLF);
	memset(body + n, 'x', 16 * 1024 + 1);
	n += 16 * 1024 + 1;
	n += (size_t)sprintf(body + n, CRLF END);
	assert_int_equal(multipart_parse(a, CT, body, n, NULL, &out), MULTIPART_TOO_LARGE);
	n = 0;
	for (int i = 0; i < 32; i++)
		n += (size_t)sprintf(body + n, FIELD("p", "1"));
	assert_int_equal(multipart_parse(a, CT, body, n + (size_t)sprintf(body + n, END), NULL, &out),
		MULTIPART_OK);
	assert_int_equal(out.n, 32);
	n += (size_t)sprintf(body + n, FIELD("p", "1"));
	n += (size_t)sprintf(body + n, END);
	assert_int_equal(multipart_parse(a, CT, body, n, NULL, &out), MULTIPART_TOO_MANY);
	free(body);
	arena_free(a);
}

static void test_multipart_boundary(void **state)
{
	char b[71];
	(void)state;
	assert_int_equal(multipart_boundary("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", b), 0);
	assert_string_equal(b, "----WebKitFormBoundary7MA4YWxkTrZu0gW");
	assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"a b:c?\"", b), 0);
	assert_string_equal(b, "a b:c?");
	assert_int_equal(multipart_boundary("multipart/form-data;boundary=x", b), 0);
	assert_string_equal(b, "x");
	assert_int_equal(multipart_boundary(NULL, b), -1);
	assert_int_equal(multipart_boundary("", b), -1);
	assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"unterminated", b), -1);
	assert_int_equal(multipart_boundary("multipart/form-data; boundary", b), -1);
	assert_int_equal(multipart_boundary("multipart/form-data boundary=x", b), -1);
}

static void test_multipart_strerror(void **state)
{
	(void)state;
	for (int e = MULTIPART_OK; e <= MULTIPART_BAD_ENCODING; e++)
		assert_true(strlen(multipart_strerror((enum multipart_err)e)) > 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multipart_cases),
		cmocka_unit_test(test_multipart_large_file),
		cmocka_unit_test(test_multipart_default_limits),
		cmocka_unit_test(test_multipart_boundary),
		cmocka_unit_test(test_multipart_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

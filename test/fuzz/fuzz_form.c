/* libFuzzer harness for form_parse and form_parse_cookies.
 *
 * Each input is parsed with the default limits and with tight ones (so
 * that every limit is reached quickly), then the result is checked
 * against what form.h promises.  A successful parse is re-encoded and
 * parsed again, which must give the same pairs: the parser may reject,
 * but what it accepts must mean one thing.  Any broken promise aborts. */
#include "fuzz.h"

#include "arena.h"
#include "form.h"
#include "valid.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct form_limits tight = { 96, 4, 6, 12 };
static const struct form_limits roomy = { 1 << 22, 1 << 16, 1 << 16, 1 << 20 };

/* What every successful parse promises, forms and cookies alike. */
static void check_params(const struct params *p, const struct form_limits *lim)
{
	CHECK(p->n <= lim->max_pairs);
	CHECK((p->n == 0) == (p->v == NULL));
	for (size_t i = 0; i < p->n; i++) {
		const struct param *q = &p->v[i];
		size_t nlen;
		CHECK(q->name != NULL && q->value != NULL);
		nlen = strlen(q->name);
		CHECK(nlen > 0 && nlen <= lim->max_name);
		CHECK(valid_utf8(q->name, nlen));
		CHECK(valid_no_controls(q->name, nlen, NULL));
		CHECK(strlen(q->value) == q->value_len);
		CHECK(q->value_len <= lim->max_value);
		CHECK(valid_utf8(q->value, q->value_len));
		CHECK(form_count(p, q->name) >= 1);
	}
	if (p->n > 0)
		CHECK(strcmp(form_get(p, p->v[0].name), p->v[0].value) == 0);
}

static void check_cleared(const struct params *p)
{
	CHECK(p->v == NULL && p->n == 0);
}

/* Percent-encodes everything but unreserved characters. */
static size_t encode(char *dst, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~') {
			dst[n++] = (char)c;
		} else {
			dst[n++] = '%';
			dst[n++] = hex[c >> 4];
			dst[n++] = hex[c & 15];
		}
	}
	return n;
}

/* Re-encodes p, parses it again and requires the same pairs in the same
 * order. */
static void check_round_trip(const struct params *p)
{
	struct arena *a = arena_new(0);
	struct params again;
	size_t cap = 1, n = 0;
	char *s;
	for (size_t i = 0; i < p->n; i++)
		cap += 3 * (strlen(p->v[i].name) + p->v[i].value_len) + 2;
	s = malloc(cap);
	CHECK(s != NULL);
	for (size_t i = 0; i < p->n; i++) {
		if (i > 0)
			s[n++] = '&';
		n += encode(s + n, p->v[i].name, strlen(p->v[i].name));
		s[n++] = '=';
		n += encode(s + n, p->v[i].value, p->v[i].value_len);
	}
	CHECK(form_parse(a, s, n, &roomy, &again) == FORM_OK);
	CHECK(again.n == p->n);
	for (size_t i = 0; i < p->n; i++) {
		CHECK(strcmp(again.v[i].name, p->v[i].name) == 0);
		CHECK(again.v[i].value_len == p->v[i].value_len);
		CHECK(memcmp(again.v[i].value, p->v[i].value, p->v[i].value_len) == 0);
	}
	free(s);
	arena_free(a);
}

static void fuzz_form(const char *data, size_t size, const struct form_limits *lim)
{
	struct arena *a = arena_new(0);
	struct params out;
	enum form_err err = form_parse(a, data, size, lim, &out);
	CHECK(form_strerror(err) != NULL);
	if (err == FORM_OK) {
		CHECK(size <= lim->max_input);
		CHECK(memchr(data, '\0', size) == NULL);
		check_params(&out, lim);
		check_round_trip(&out);
	} else {
		check_cleared(&out);
	}
	arena_free(a);
}

static void fuzz_cookies(const char *header, const struct form_limits *lim)
{
	struct arena *a = arena_new(0);
	struct params out;
	enum form_err err = form_parse_cookies(a, header, lim, &out);
	if (err == FORM_OK) {
		check_params(&out, lim);
		for (size_t i = 0; i < out.n; i++) {
			const char *name = out.v[i].name, *value = out.v[i].value;
			size_t nlen = strlen(name), vlen = out.v[i].value_len;
			/* pieces are split on ';' and trimmed, and values are
			 * not decoded, so they appear verbatim in the header */
			CHECK(strchr(name, ';') == NULL && strchr(value, ';') == NULL);
			CHECK(strchr(name, '=') == NULL);
			CHECK(name[0] != ' ' && name[nlen - 1] != ' ');
			CHECK(vlen == 0 || (value[0] != ' ' && value[vlen - 1] != ' '));
			CHECK(valid_no_controls(value, vlen, NULL));
			CHECK(strstr(header, name) != NULL && strstr(header, value) != NULL);
		}
	} else {
		check_cleared(&out);
	}
	arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *header = malloc(size + 1);
	if (header == NULL)
		return 0;
	/* The bytes go to the form parser as they are, NULs included; the
	 * cookie parser takes a C string, as FastCGI gives it one. */
	if (size > 0)
		memcpy(header, data, size);
	header[size] = '\0';
	fuzz_form(header, size, &form_default_limits);
	fuzz_form(header, size, &tight);
	fuzz_cookies(header, &form_default_limits);
	fuzz_cookies(header, &tight);
	free(header);
	return 0;
}

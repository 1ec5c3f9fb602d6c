/* libFuzzer harness for multipart_parse.
 *
 * An input is a Content-Type line, then "\n", then the body (no "\n": the
 * whole input is the body, under a fixed boundary).  It is parsed with
 * the default limits and with tight ones, and the result is checked
 * against what multipart.h promises.  A successful parse is written
 * again as multipart (under another boundary, every part as a file so
 * that any bytes pass) and parsed again, which must give the same
 * pairs: the parser may reject, but what it accepts must mean one
 * thing.  Any broken promise aborts. */
#include "fuzz.h"

#include "arena.h"
#include "multipart.h"
#include "valid.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUFFIX ".filename"
#define AGAIN_BOUNDARY "rf-fuzz-boundary-7c1d"

static const struct multipart_limits tight = { 3, 6, 10, 16, 80, 3 };
static const struct multipart_limits roomy = { 1 << 12, 1 << 12, 1 << 12, 1 << 22, 1 << 14, 64 };

/* 1 when name ends in ".filename". */
static int is_filename_pair(const char *name)
{
	size_t n = strlen(name), s = sizeof(SUFFIX) - 1;
	return n > s && strcmp(name + n - s, SUFFIX) == 0;
}

static void check_params(const struct params *p, const struct multipart_limits *lim)
{
	CHECK(p->n == 0 || p->v != NULL);
	CHECK(p->n <= 2 * lim->max_parts);
	for (size_t i = 0; i < p->n; i++) {
		const struct param *q = &p->v[i];
		size_t nlen;
		CHECK(q->name != NULL && q->value != NULL);
		CHECK(q->value[q->value_len] == '\0');
		nlen = strlen(q->name);
		CHECK(nlen > 0);
		CHECK(valid_utf8(q->name, nlen));
		CHECK(valid_no_controls(q->name, nlen, NULL));
		if (is_filename_pair(q->name)) {
			/* follows its file's pair, and names it */
			CHECK(i > 0);
			CHECK(strlen(p->v[i - 1].name) + sizeof(SUFFIX) - 1 == nlen);
			CHECK(strncmp(p->v[i - 1].name, q->name, nlen - (sizeof(SUFFIX) - 1)) == 0);
			CHECK(q->value_len > 0 && q->value_len <= lim->max_filename);
			CHECK(valid_utf8(q->value, q->value_len));
			CHECK(valid_no_controls(q->value, q->value_len, NULL));
		} else {
			CHECK(nlen <= lim->max_name);
		}
	}
}

/* Appends s to b as a quoted-string's content (\ and " escaped). */
static size_t quote(char *b, const char *s)
{
	size_t n = 0;
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			b[n++] = '\\';
		b[n++] = *s;
	}
	return n;
}

static void check_round_trip(const struct params *p)
{
	struct arena *a = arena_new(0);
	struct params again;
	size_t cap = 64, n = 0, i;
	char *s;

	for (i = 0; i < p->n; i++) {
		if (memmem(p->v[i].value, p->v[i].value_len, AGAIN_BOUNDARY,
			    sizeof(AGAIN_BOUNDARY) - 1) != NULL)
			goto out; /* cannot be written under this boundary */
		cap += 2 * strlen(p->v[i].name) + 2 * p->v[i].value_len + 160;
	}
	s = malloc(cap);
	CHECK(s != NULL);
	for (i = 0; i < p->n; i++) {
		const char *fname = i + 1 < p->n && is_filename_pair(p->v[i + 1].name)
			? p->v[i + 1].value : "";
		n += (size_t)sprintf(s + n, "--" AGAIN_BOUNDARY "\r\n"
			"Content-Disposition: form-data; name=\"");
		n += quote(s + n, p->v[i].name);
		n += (size_t)sprintf(s + n, "\"; filename=\"");
		n += quote(s + n, fname);
		n += (size_t)sprintf(s + n, "\"\r\n\r\n");
		memcpy(s + n, p->v[i].value, p->v[i].value_len);
		n += p->v[i].value_len;
		n += (size_t)sprintf(s + n, "\r\n");
		if (fname[0])
			i++;
	}
	n += (size_t)sprintf(s + n, "--" AGAIN_BOUNDARY "--\r\n");
	CHECK(multipart_parse(a, "multipart/form-data; boundary=" AGAIN_BOUNDARY, s, n, &roomy,
		&again) == MULTIPART_OK);
	CHECK(again.n == p->n);
	for (i = 0; i < p->n; i++) {
		CHECK(strcmp(again.v[i].name, p->v[i].name) == 0);
		CHECK(again.v[i].value_len == p->v[i].value_len);
		CHECK(memcmp(again.v[i].value, p->v[i].value, p->v[i].value_len) == 0);
	}
	free(s);
out:
	arena_free(a);
}

static void fuzz_one(const char *ct, const char *body, size_t len,
	const struct multipart_limits *lim)
{
	struct arena *a = arena_new(0);
	struct params out;
	enum multipart_err err = multipart_parse(a, ct, body, len, lim, &out);

	CHECK(multipart_strerror(err) != NULL);
	if (err == MULTIPART_OK) {
		check_params(&out, lim);
		check_round_trip(&out);
	} else {
		CHECK(out.v == NULL && out.n == 0);
	}
	arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	char *ct;
	const char *body;
	size_t blen;

	if (nl) {
		size_t clen = (size_t)(nl - (const char *)data);
		ct = malloc(clen + 1);
		CHECK(ct != NULL);
		memcpy(ct, data, clen);
		ct[clen] = '\0';
		body = nl + 1;
		blen = size - clen - 1;
	} else {
		ct = strdup("multipart/form-data; boundary=XyZ");
		CHECK(ct != NULL);
		body = (const char *)data;
		blen = size;
	}
	fuzz_one(ct, body, blen, &multipart_default_limits);
	fuzz_one(ct, body, blen, &tight);
	free(ct);
	return 0;
}

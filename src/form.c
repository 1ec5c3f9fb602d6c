/* form: application/x-www-form-urlencoded and Cookie header parsing.
 *
 * The input is untrusted (Twilio webhooks, browsers, anyone who can reach
 * nginx), so every rule is strict: the first malformed byte fails the
 * whole input rather than being skipped or repaired, because a handler
 * that sees a repaired form may act on something the sender never sent,
 * and the signature was computed over what was sent. */
#include "form.h"
#include "arena.h"
#include "buf.h"
#include "valid.h"

#include <string.h>

const struct form_limits form_default_limits = {
	.max_input = 65536,
	.max_pairs = 128,
	.max_name = 64,
	.max_value = 16384,
};

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int form_pct_escape(const char *s, size_t left)
{
	int hi, lo;

	if (left < 3 || s[0] != '%')
		return -1;
	hi = hex_value((unsigned char)s[1]);
	lo = hex_value((unsigned char)s[2]);
	if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
		return -1;
	return hi << 4 | lo;
}

/* Percent-decodes src[0..len) ('+' is a space) into a new arena string.
 * Fails with FORM_BAD_ENCODING on a bad escape, an encoded NUL or invalid
 * UTF-8, and FORM_TOO_LARGE when the result is over max bytes; *dst and
 * *dlen are set only on success. */
static enum form_err decode(struct arena *a, const char *src, size_t len, size_t max,
	char **dst, size_t *dlen)
{
	const unsigned char *s = (const unsigned char *)src;
	char *d;
	size_t n = 0;

	/* Decoding never lengthens, and encoded length over 3 * max cannot
	 * decode to max bytes or fewer, so huge fields stop before copying. */
	if (max < ((size_t)-1) / 3 && len > 3 * max)
		return FORM_TOO_LARGE;
	d = arena_alloc(a, len + 1);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int v = form_pct_escape(src + i, len - i);
			if (v < 0)
				return FORM_BAD_ENCODING;
			d[n++] = (char)v;
			i += 2;
		} else if (s[i] == '+') {
			d[n++] = ' ';
		} else if (s[i] == '\0') {
			return FORM_BAD_ENCODING;
		} else {
			d[n++] = (char)s[i];
		}
	}
	d[n] = '\0';
	if (n > max)
		return FORM_TOO_LARGE;
	if (!valid_utf8(d, n))
		return FORM_BAD_ENCODING;
	*dst = d;
	*dlen = n;
	return FORM_OK;
}

/* Counts the non-empty pieces of s[0..len) between separators sep. */
static size_t count_pieces(const char *s, size_t len, char sep)
{
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == sep) {
			if (i > start)
				n++;
			start = i + 1;
		}
	}
	return n;
}

/* Decodes one "name[=value]" piece into *p. */
static enum form_err parse_pair(struct arena *a, const char *s, size_t len,
	const struct form_limits *lim, struct param *p)
{
	const char *eq = memchr(s, '=', len);
	size_t nlen = eq ? (size_t)(eq - s) : len;
	const char *v = eq ? eq + 1 : s + len;
	size_t vlen = eq ? len - nlen - 1 : 0;
	char *name, *value;
	size_t name_len, value_len;
	enum form_err err;

	if (nlen == 0)
		return FORM_BAD_NAME;
	err = decode(a, s, nlen, lim->max_name, &name, &name_len);
	if (err != FORM_OK)
		return err;
	if (!valid_no_controls(name, name_len, NULL))
		return FORM_BAD_NAME;
	err = decode(a, v, vlen, lim->max_value, &value, &value_len);
	if (err != FORM_OK)
		return err;
	p->name = name;
	p->value = value;
	p->value_len = value_len;
	return FORM_OK;
}

/* See form.h.  Pieces are counted before anything is decoded so that an
 * input with too many pairs costs no allocation beyond the count. */
enum form_err form_parse(struct arena *a, const char *data, size_t len,
	const struct form_limits *lim, struct params *out)
{
	enum form_err err = FORM_OK;
	struct param *v = NULL;
	size_t npairs, n = 0, start = 0;

	out->v = NULL;
	out->n = 0;
	if (lim == NULL)
		lim = &form_default_limits;
	if (len == 0)
		goto out;
	if (data == NULL) {
		err = FORM_BAD_ENCODING;
		goto out;
	}
	if (len > lim->max_input) {
		err = FORM_TOO_LARGE;
		goto out;
	}
	if (memchr(data, '\0', len) != NULL) {
		err = FORM_BAD_ENCODING;
		goto out;
	}
	npairs = count_pieces(data, len, '&');
	if (npairs > lim->max_pairs) {
		err = FORM_TOO_MANY;
		goto out;
	}
	if (npairs > 0)
		v = arena_alloc(a, npairs * sizeof(*v));
	for (size_t i = 0; i <= len; i++) {
		if (i < len && data[i] != '&')
			continue;
		if (i > start) {
			err = parse_pair(a, data + start, i - start, lim, &v[n]);
			if (err != FORM_OK)
				goto out;
			n++;
		}
		start = i + 1;
	}
	if (n > 0) {
		out->v = v;
		out->n = n;
	}
out:
	return err;
}

static int is_cookie_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims spaces and tabs from both ends of s[*start..*end). */
static void trim(const char *s, size_t *start, size_t *end)
{
	while (*start < *end && is_cookie_space(s[*start]))
		(*start)++;
	while (*end > *start && is_cookie_space(s[*end - 1]))
		(*end)--;
}

/* One "name=value" piece of a Cookie header, already trimmed.  Values
 * are kept as sent (no %-decoding, quotes kept): cookies are ringfence's
 * own opaque tokens, and decoding would give two spellings of one token. */
static enum form_err parse_cookie(struct arena *a, const char *s, size_t len,
	const struct form_limits *lim, struct param *p)
{
	const char *eq = memchr(s, '=', len);
	size_t ns = 0, ne = eq ? (size_t)(eq - s) : len;
	size_t vs = eq ? ne + 1 : len, ve = len;

	trim(s, &ns, &ne);
	trim(s, &vs, &ve);
	if (ne == ns || !valid_no_controls(s + ns, ne - ns, NULL))
		return FORM_BAD_NAME;
	if (ne - ns > lim->max_name || ve - vs > lim->max_value)
		return FORM_TOO_LARGE;
	if (!valid_utf8(s + ns, ne - ns))
		return FORM_BAD_NAME;
	if (!valid_no_controls(s + vs, ve - vs, NULL) || !valid_utf8(s + vs, ve - vs))
		return FORM_BAD_ENCODING;
	p->name = arena_strndup(a, s + ns, ne - ns);
	p->value = arena_strndup(a, s + vs, ve - vs);
	p->value_len = ve - vs;
	return FORM_OK;
}

/* See form.h.  A NULL header (no Cookie header at all) is an empty set. */
enum form_err form_parse_cookies(struct arena *a, const char *header,
	const struct form_limits *lim, struct params *out)
{
	enum form_err err = FORM_OK;
	struct param *v = NULL;
	size_t len, npairs, n = 0, start = 0;

	out->v = NULL;
	out->n = 0;
	if (lim == NULL)
		lim = &form_default_limits;
	if (header == NULL)
		goto out;
	/* strnlen stops a header far over the cap from being walked to its
	 * end (the + 1 must not wrap for a limit of SIZE_MAX). */
	len = lim->max_input < (size_t)-1 ? strnlen(header, lim->max_input + 1) : strlen(header);
	if (len > lim->max_input) {
		err = FORM_TOO_LARGE;
		goto out;
	}
	/* Pieces that are only spaces are empty too ("a=1; ; b=2"), so count
	 * after trimming rather than with count_pieces. */
	npairs = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || header[i] == ';') {
			size_t s = start, e = i;
			trim(header, &s, &e);
			if (e > s)
				npairs++;
			start = i + 1;
		}
	}
	if (npairs > lim->max_pairs) {
		err = FORM_TOO_MANY;
		goto out;
	}
	if (npairs > 0)
		v = arena_alloc(a, npairs * sizeof(*v));
	start = 0;
	for (size_t i = 0; i <= len; i++) {
		size_t s, e;
		if (i < len && header[i] != ';')
			continue;
		s = start;
		e = i;
		start = i + 1;
		trim(header, &s, &e);
		if (e == s)
			continue;
		err = parse_cookie(a, header + s, e - s, lim, &v[n]);
		if (err != FORM_OK)
			goto out;
		n++;
	}
	if (n > 0) {
		out->v = v;
		out->n = n;
	}
out:
	return err;
}

const char *form_get(const struct params *p, const char *name)
{
	if (p == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].name, name) == 0)
			return p->v[i].value;
	return NULL;
}

size_t form_count(const struct params *p, const char *name)
{
	size_t n = 0;
	if (p == NULL || name == NULL)
		return 0;
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].name, name) == 0)
			n++;
	return n;
}

const char *form_strerror(enum form_err err)
{
	switch (err) {
	case FORM_OK:
		return "ok";
	case FORM_TOO_LARGE:
		return "input, name or value too large";
	case FORM_TOO_MANY:
		return "too many parameters";
	case FORM_BAD_ENCODING:
		return "malformed percent-encoding or invalid UTF-8";
	case FORM_BAD_NAME:
		return "empty name or control character in a name";
	}
	return "unknown form error";
}

/* See form.h. */
void form_encode(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~') {
			buf_putc(b, (char)c);
		} else {
			buf_putc(b, '%');
			buf_putc(b, hex[c >> 4]);
			buf_putc(b, hex[c & 15]);
		}
	}
}

/* See form.h. */
void form_encode_params(struct buf *b, const struct params *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		if (i > 0)
			buf_putc(b, '&');
		form_encode(b, p->v[i].name, strlen(p->v[i].name));
		buf_putc(b, '=');
		form_encode(b, p->v[i].value, p->v[i].value_len);
	}
}

/* See form.h. */
char *form_crlf_to_lf(struct arena *a, const char *s)
{
	char *d = arena_strdup(a, s), *w = d;

	for (const char *p = d; *p; p++)
		if (!(p[0] == '\r' && p[1] == '\n'))
			*w++ = *p;
	*w = '\0';
	return d;
}

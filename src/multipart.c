/* multipart: the strict multipart/form-data parser; see include/multipart.h. */
#include "multipart.h"
#include "arena.h"
#include "valid.h"

#include <string.h>
#include <strings.h>

const struct multipart_limits multipart_default_limits = {
	.max_parts = 32,
	.max_name = 64,
	.max_filename = 255,
	.max_value = 16 * 1024,
	.max_header = 1024,
	.max_headers = 8,
};

#define FILENAME_SUFFIX ".filename"

/* 1 when c is one of RFC 2046's bchars (space included: it may not end
 * the boundary). */
static int bchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		strchr("'()+_,-./:=? ", c) != NULL;
}

/* Skips spaces and tabs. */
static const char *skip_ows(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* 1 when c may be in an RFC 7230 token. */
static int tchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* See multipart.h.  Only the "boundary" parameter is read; a parameter
 * named twice, or a boundary that is not bchars, is refused. */
int multipart_boundary(const char *content_type, char out[71])
{
	static const char type[] = "multipart/form-data";
	const char *p = content_type, *end;
	int found = 0;

	if (p == NULL || strncasecmp(p, type, sizeof(type) - 1) != 0)
		return -1;
	end = p + strlen(p);
	p += sizeof(type) - 1;
	for (;;) {
		const char *key, *val;
		size_t klen, vlen;
		int quoted = 0;
		p = skip_ows(p, end);
		if (p == end)
			break;
		if (*p++ != ';')
			return -1;
		p = skip_ows(p, end);
		for (key = p; p < end && tchar(*p); p++)
			;
		klen = (size_t)(p - key);
		if (klen == 0 || p == end || *p++ != '=')
			return -1;
		if (p < end && *p == '"') {
			quoted = 1;
			val = ++p;
			while (p < end && *p != '"')
				p++;
			if (p == end)
				return -1;
			vlen = (size_t)(p - val);
			p++;
		} else {
			for (val = p; p < end && tchar(*p); p++)
				;
			vlen = (size_t)(p - val);
		}
		if (klen != 8 || strncasecmp(key, "boundary", 8) != 0)
			continue;
		if (found || vlen == 0 || vlen > 70 || val[vlen - 1] == ' ')
			return -1;
		for (size_t i = 0; i < vlen; i++)
			if (!bchar(val[i]) || (!quoted && val[i] == ' '))
				return -1;
		memcpy(out, val, vlen);
		out[vlen] = '\0';
		found = 1;
	}
	return found ? 0 : -1;
}

/* What a part's headers said. */
struct part_head {
	const char *name;      /* arena copy, or NULL */
	const char *filename;  /* arena copy ("" allowed), or NULL: not a file */
	int disposition;       /* Content-Disposition seen */
};

/* One parameter value of a Content-Disposition: a quoted string (with
 * RFC 7230 quoted-pairs) or a token, copied into the arena.  *pp moves
 * past it.  NULL when malformed. */
static char *disp_value(struct arena *a, const char **pp, const char *end)
{
	const char *p = *pp, *start;
	char *v, *w;

	if (p < end && *p == '"') {
		p++;
		v = w = arena_alloc(a, (size_t)(end - p) + 1);
		while (p < end && *p != '"') {
			if (*p == '\\') {
				if (++p == end)
					return NULL;
			}
			*w++ = *p++;
		}
		if (p == end)
			return NULL;
		*w = '\0';
		*pp = p + 1;
		return v;
	}
	for (start = p; p < end && tchar(*p); p++)
		;
	if (p == start)
		return NULL;
	*pp = p;
	return arena_strndup(a, start, (size_t)(p - start));
}

/* Parses a Content-Disposition value [p, end) into h: "form-data", then
 * "; key=value" parameters; name and filename at most once each, other
 * parameters ignored (RFC 7578 forbids filename*, which is thus not
 * read). */
static enum multipart_err disposition(struct arena *a, const char *p, const char *end,
	struct part_head *h)
{
	static const char fd[] = "form-data";

	if (h->disposition)
		return MULTIPART_MALFORMED;
	h->disposition = 1;
	if ((size_t)(end - p) < sizeof(fd) - 1 || strncasecmp(p, fd, sizeof(fd) - 1) != 0)
		return MULTIPART_MALFORMED;
	p += sizeof(fd) - 1;
	if (p < end && tchar(*p))
		return MULTIPART_MALFORMED; /* "form-datax" */
	for (;;) {
		const char *key;
		size_t klen;
		char *v;
		p = skip_ows(p, end);
		if (p == end)
			break;
		if (*p++ != ';')
			return MULTIPART_MALFORMED;
		p = skip_ows(p, end);
		for (key = p; p < end && tchar(*p); p++)
			;
		klen = (size_t)(p - key);
		if (klen == 0)
			return MULTIPART_MALFORMED;
		p = skip_ows(p, end);
		if (p == end || *p++ != '=')
			return MULTIPART_MALFORMED;
		p = skip_ows(p, end);
		v = disp_value(a, &p, end);
		if (v == NULL)
			return MULTIPART_MALFORMED;
		if (klen == 4 && strncasecmp(key, "name", 4) == 0) {
			if (h->name)
				return MULTIPART_MALFORMED;
			h->name = v;
		} else if (klen == 8 && strncasecmp(key, "filename", 8) == 0) {
			if (h->filename)
				return MULTIPART_MALFORMED;
			h->filename = v;
		}
	}
	return h->name ? MULTIPART_OK : MULTIPART_MALFORMED;
}

/* Reads the header lines of a part from *pp up to and including the
 * empty line, into h. */
static enum multipart_err part_headers(struct arena *a, const char **pp, const char *end,
	const struct multipart_limits *lim, struct part_head *h)
{
	const char *p = *pp;
	size_t nheaders = 0;
	enum multipart_err e;

	memset(h, 0, sizeof(*h));
	for (;;) {
		size_t room = (size_t)(end - p), scan = room < lim->max_header + 2 ? room
			: lim->max_header + 2;
		const char *eol = memmem(p, scan, "\r\n", 2), *colon;
		if (eol == NULL)
			return room >= lim->max_header + 2 ? MULTIPART_TOO_LARGE : MULTIPART_MALFORMED;
		if (eol == p) {
			*pp = p + 2;
			return h->disposition ? MULTIPART_OK : MULTIPART_MALFORMED;
		}
		if (++nheaders > lim->max_headers)
			return MULTIPART_TOO_MANY;
		if (*p == ' ' || *p == '\t')
			return MULTIPART_MALFORMED; /* obsolete line folding */
		for (const char *c = p; c < eol; c++)
			if ((unsigned char)*c < 0x20 && *c != '\t')
				return MULTIPART_MALFORMED;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p)
			return MULTIPART_MALFORMED;
		for (const char *c = p; c < colon; c++)
			if (!tchar(*c))
				return MULTIPART_MALFORMED;
		if ((size_t)(colon - p) == 19 && strncasecmp(p, "Content-Disposition", 19) == 0) {
			const char *v = skip_ows(colon + 1, eol), *ve = eol;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			e = disposition(a, v, ve, h);
			if (e != MULTIPART_OK)
				return e;
		}
		/* Content-Type and anything else: read past (a file's type is
		 * whatever the browser guessed; the handler checks the bytes). */
		p = eol + 2;
	}
}

/* 1 when s (len bytes) is UTF-8 without control characters other than
 * those in allowed. */
static int clean_text(const char *s, size_t len, const char *allowed)
{
	return valid_utf8(s, len) && valid_no_controls(s, len, allowed);
}

/* See multipart.h. */
enum multipart_err multipart_parse(struct arena *a, const char *content_type, const char *body,
	size_t len, const struct multipart_limits *lim, struct params *out)
{
	char boundary[71], *delim;
	const char *p = body, *end = body + len;
	size_t dlen, nparts = 0;
	struct param *v;
	struct params res = { NULL, 0 };
	enum multipart_err e = MULTIPART_MALFORMED;

	out->v = NULL;
	out->n = 0;
	if (lim == NULL)
		lim = &multipart_default_limits;
	if (multipart_boundary(content_type, boundary) < 0)
		return MULTIPART_BAD_TYPE;
	/* "\r\n--boundary": the delimiter that ends a part's content. */
	delim = arena_printf(a, "\r\n--%s", boundary);
	dlen = strlen(delim);
	v = arena_calloc(a, (lim->max_parts * 2 + 1) * sizeof(*v));
	if (len < dlen - 2 || memcmp(p, delim + 2, dlen - 2) != 0)
		return MULTIPART_MALFORMED;
	p += dlen - 2;
	for (;;) {
		struct part_head h;
		const char *content, *next;
		size_t clen, nlen;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
			p += 2;
			if (p == end || (end - p == 2 && p[0] == '\r' && p[1] == '\n'))
				break;
			return MULTIPART_MALFORMED;
		}
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return MULTIPART_MALFORMED;
		p += 2;
		if (++nparts > lim->max_parts)
			return MULTIPART_TOO_MANY;
		e = part_headers(a, &p, end, lim, &h);
		if (e != MULTIPART_OK)
			return e;
		next = memmem(p, (size_t)(end - p), delim, dlen);
		if (next == NULL)
			return MULTIPART_MALFORMED;
		content = p;
		clen = (size_t)(next - p);
		p = next + dlen;
		nlen = strlen(h.name);
		if (nlen == 0)
			return MULTIPART_MALFORMED;
		if (nlen > lim->max_name)
			return MULTIPART_TOO_LARGE;
		if (!clean_text(h.name, nlen, NULL))
			return MULTIPART_BAD_ENCODING;
		/* "<name>.filename" is the pair a file's name arrives in. */
		if (nlen >= sizeof(FILENAME_SUFFIX) - 1 &&
			strcmp(h.name + nlen - (sizeof(FILENAME_SUFFIX) - 1), FILENAME_SUFFIX) == 0)
			return MULTIPART_MALFORMED;
		if (h.filename == NULL) {
			if (clen > lim->max_value)
				return MULTIPART_TOO_LARGE;
			if (!clean_text(content, clen, "\t\r\n"))
				return MULTIPART_BAD_ENCODING;
		} else {
			size_t flen = strlen(h.filename);
			if (flen > lim->max_filename)
				return MULTIPART_TOO_LARGE;
			if (!clean_text(h.filename, flen, NULL))
				return MULTIPART_BAD_ENCODING;
			if (flen > 0) {
				struct param *f = &v[res.n + 1];
				f->name = arena_printf(a, "%s%s", h.name, FILENAME_SUFFIX);
				f->value = h.filename;
				f->value_len = flen;
			}
		}
		v[res.n].name = h.name;
		v[res.n].value = arena_strndup(a, content, clen);
		v[res.n].value_len = clen;
		res.n += (h.filename && h.filename[0]) ? 2 : 1;
	}
	res.v = v;
	*out = res;
	return MULTIPART_OK;
}

/* See multipart.h. */
const char *multipart_strerror(enum multipart_err err)
{
	switch (err) {
	case MULTIPART_OK: return "ok";
	case MULTIPART_BAD_TYPE: return "the upload is not multipart/form-data with a boundary";
	case MULTIPART_MALFORMED: return "the upload is malformed";
	case MULTIPART_TOO_MANY: return "the upload has too many parts or headers";
	case MULTIPART_TOO_LARGE: return "a field of the upload is too large";
	case MULTIPART_BAD_ENCODING: return "a field of the upload is not valid text";
	}
	return "the upload is malformed";
}

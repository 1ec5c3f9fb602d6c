/* form: bounded parsing of application/x-www-form-urlencoded data (query
 * strings and POST bodies) and of Cookie headers, and the one encoder of
 * such data (Twilio REST requests, the simulator's webhooks and URIs).
 *
 * Everything parsed is copied into the caller's arena.  Sizes are capped
 * by struct form_limits; malformed encodings are rejected, never guessed
 * at: a '%' not followed by two hex digits, an encoded NUL, invalid UTF-8,
 * an empty or over-long name, too many pairs.  On error nothing is
 * returned in out. */
#ifndef RF_FORM_H
#define RF_FORM_H

#include <stddef.h>

#include "params.h"

struct arena;
struct buf;

struct form_limits {
	size_t max_input;  /* bytes of encoded input */
	size_t max_pairs;
	size_t max_name;   /* decoded bytes */
	size_t max_value;  /* decoded bytes */
};

/* Twilio webhooks and dashboard forms: 64 KiB, 128 pairs, 64-byte names,
 * 16 KiB values. */
extern const struct form_limits form_default_limits;

enum form_err {
	FORM_OK = 0,
	FORM_TOO_LARGE,    /* input, a name or a value over its limit */
	FORM_TOO_MANY,     /* more pairs than max_pairs */
	FORM_BAD_ENCODING, /* bad %-escape, encoded NUL, invalid UTF-8 */
	FORM_BAD_NAME,     /* empty name or a control character in it */
};

/* Parses len bytes of data ("a=1&b=%20x+y"; '+' is a space; a pair with
 * no '=' has the value ""; empty pairs from "&&" are skipped).  lim NULL
 * means form_default_limits. */
enum form_err form_parse(struct arena *a, const char *data, size_t len,
	const struct form_limits *lim, struct params *out);

/* Parses a Cookie header ("a=1; b=2"), values not %-decoded, same limits. */
enum form_err form_parse_cookies(struct arena *a, const char *header,
	const struct form_limits *lim, struct params *out);

/* The first value of name, or NULL. */
const char *form_get(const struct params *p, const char *name);
/* How many times name occurs. */
size_t form_count(const struct params *p, const char *name);

/* The byte the escape "%XY" at s stands for (left: the bytes from s on),
 * or -1 when it is cut short, XY is not two hex digits, or it is %00. */
int form_pct_escape(const char *s, size_t left);

/* Appends the len bytes of s percent-encoded to b: every byte but RFC
 * 3986's unreserved ones (A-Z a-z 0-9 - . _ ~) becomes %XX with upper-case
 * hex digits, so that form_parse gives back exactly these bytes (and a
 * signature computed over them still matches). */
void form_encode(struct buf *b, const char *s, size_t len);

/* Appends p as application/x-www-form-urlencoded text ("a=1&b=x%20y"), in
 * its order, every name and value through form_encode.  NULL or an empty
 * p appends nothing. */
void form_encode_params(struct buf *b, const struct params *p);

/* A copy of s in a with each CRLF made LF: a browser sends a textarea's
 * line ends as CRLF, while its maxlength counted each as one character. */
char *form_crlf_to_lf(struct arena *a, const char *s);

/* A short English description of err ("malformed percent-encoding"). */
const char *form_strerror(enum form_err err);

#endif

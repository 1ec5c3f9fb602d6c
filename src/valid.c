/* valid: validators for untrusted fields, and valid_params, which applies
 * a route's declared fields to parsed input.
 *
 * Every validator takes the value and its length and trusts neither: a
 * NUL inside the length, a missing terminator or a length that disagrees
 * with the string can only make a validator reject, never read past len. */
#include "valid.h"
#include "arena.h"
#include "rfc3339.h"
#include "params.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define VALID_PHONE_MAX 128
#define VALID_DIGITS_MAX 64
#define VALID_STATE_MAX 64
#define VALID_UINT_MAX 9
#define VALID_ID_MAX 18
#define VALID_TIMESTAMP_MAX 64
#define VALID_PRINTABLE_MAX 1600
#define VALID_SMS_CHARS_MAX 1600

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_lower_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* 1 when v[0..len) is 1 to max decimal digits. */
static int all_digits(const char *v, size_t len, size_t max)
{
	if (v == NULL || len == 0 || len > max)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_digit((unsigned char)v[i]))
			return 0;
	return 1;
}

/* 1 when v is exactly the NUL-free string s. */
static int is_exactly(const char *v, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(v, s, len) == 0;
}

/* 1 when v equals one of the strings in the NULL-terminated list. */
static int is_one_of(const char *v, size_t len, const char *const *list)
{
	for (; *list; list++)
		if (is_exactly(v, len, *list))
			return 1;
	return 0;
}

/* A Twilio SID: one of the two-letter upper-case prefixes, then 32
 * lower-case hex digits, the only form Twilio issues.  Twilio's OpenAPI
 * patterns allow [0-9a-fA-F]{32}, but an upper-case SID is not one Twilio
 * sent: it would pass here and then break the database's CHECK
 * (^CA[0-9a-f]{32}$) or fail to match the stored SID, so it is refused
 * with a clear reason instead of being normalised. */
static int is_sid(const char *v, size_t len, const char *const *prefixes)
{
	const unsigned char *u = (const unsigned char *)v;
	int prefix_ok = 0;
	if (v == NULL || len != 34)
		return 0;
	for (; *prefixes; prefixes++)
		if (memcmp(v, *prefixes, 2) == 0)
			prefix_ok = 1;
	if (!prefix_ok)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (!is_lower_hex(u[i]))
			return 0;
	return 1;
}

int valid_call_sid(const char *v, size_t len)
{
	static const char *const p[] = { "CA", NULL };
	return is_sid(v, len, p);
}

int valid_account_sid(const char *v, size_t len)
{
	static const char *const p[] = { "AC", NULL };
	return is_sid(v, len, p);
}

int valid_message_sid(const char *v, size_t len)
{
	static const char *const p[] = { "SM", "MM", NULL };
	return is_sid(v, len, p);
}

int valid_e164(const char *v, size_t len)
{
	const unsigned char *u = (const unsigned char *)v;
	if (v == NULL || len < 1 + VALID_E164_MIN_DIGITS || len > 1 + VALID_E164_MAX_DIGITS ||
		u[0] != '+' || u[1] < '1' || u[1] > '9')
		return 0;
	for (size_t i = 2; i < len; i++)
		if (!is_digit(u[i]))
			return 0;
	return 1;
}

/* 1 when v[0..len) is non-empty printable ASCII without spaces: what a
 * client identity or SIP URI may hold here.  Anything wider is not needed
 * to route a call and would only reach the audit log and the dashboard. */
static int is_graph_ascii(const char *v, size_t len)
{
	const unsigned char *u = (const unsigned char *)v;
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (u[i] <= 0x20 || u[i] >= 0x7f)
			return 0;
	return 1;
}

int valid_phone_or_client(const char *v, size_t len)
{
	static const char client[] = "client:";
	static const char sip[] = "sip:";
	if (v == NULL || len == 0 || len > VALID_PHONE_MAX)
		return 0;
	if (valid_e164(v, len))
		return 1;
	/* Twilio spells a withheld caller ID "Anonymous"; some carriers
	 * pass it through in lower case. */
	if (len == 9 && memchr(v, '\0', len) == NULL && strncasecmp(v, "anonymous", 9) == 0)
		return 1;
	if (len > sizeof(client) - 1 && memcmp(v, client, sizeof(client) - 1) == 0)
		return is_graph_ascii(v + sizeof(client) - 1, len - (sizeof(client) - 1));
	if (len > sizeof(sip) - 1 && memcmp(v, sip, sizeof(sip) - 1) == 0)
		return is_graph_ascii(v + sizeof(sip) - 1, len - (sizeof(sip) - 1));
	return 0;
}

int valid_digits(const char *v, size_t len)
{
	if (v == NULL || len > VALID_DIGITS_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!is_digit(c) && c != '*' && c != '#')
			return 0;
	}
	return 1;
}

int valid_call_status(const char *v, size_t len)
{
	/* "initiated" is the CallStatus of the status callback for the
	 * initiated event, which ringfence requests in StatusCallbackEvent. */
	static const char *const ok[] = { "queued", "initiated", "ringing", "in-progress",
		"completed", "busy", "failed", "no-answer", "canceled", NULL };
	return v != NULL && is_one_of(v, len, ok);
}

int valid_answered_by(const char *v, size_t len)
{
	static const char *const ok[] = { "human", "machine_start", "machine_end_beep",
		"machine_end_silence", "machine_end_other", "fax", "unknown", NULL };
	return v != NULL && is_one_of(v, len, ok);
}

int valid_direction(const char *v, size_t len)
{
	static const char *const ok[] = { "inbound", "outbound-api", "outbound-dial", NULL };
	return v != NULL && is_one_of(v, len, ok);
}

int valid_token(const char *v, size_t len)
{
	if (v == NULL || len != 32)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_lower_hex((unsigned char)v[i]))
			return 0;
	return 1;
}

int valid_state_name(const char *v, size_t len)
{
	if (v == NULL || len == 0 || len > VALID_STATE_MAX || v[0] < 'a' || v[0] > 'z')
		return 0;
	for (size_t i = 1; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '_'))
			return 0;
	}
	return 1;
}

int valid_uint(const char *v, size_t len)
{
	return all_digits(v, len, VALID_UINT_MAX);
}

int valid_id(const char *v, size_t len)
{
	return all_digits(v, len, VALID_ID_MAX) && v[0] != '0';
}

int valid_timestamp(const char *v, size_t len)
{
	long long t;
	return valid_to_time(v, len, &t);
}

/* The digits of v[0..len) as a number; the caller checked they are 1 to
 * 18 decimal digits, so it cannot overflow. */
static long long digits_value(const char *v, size_t len)
{
	long long n = 0;
	for (size_t i = 0; i < len; i++)
		n = n * 10 + (v[i] - '0');
	return n;
}

int valid_to_uint(const char *v, size_t len, long long *out)
{
	if (!valid_uint(v, len))
		return 0;
	*out = digits_value(v, len);
	return 1;
}

int valid_to_id(const char *v, size_t len, long long *out)
{
	if (!valid_id(v, len))
		return 0;
	*out = digits_value(v, len);
	return 1;
}

/* rfc3339_parse reads a NUL-terminated string: v is copied (bounded) so
 * that a NUL inside len or a missing terminator cannot pass. */
int valid_to_time(const char *v, size_t len, long long *out)
{
	char copy[VALID_TIMESTAMP_MAX + 1];
	long long t;

	if (v == NULL || len == 0 || len > VALID_TIMESTAMP_MAX || memchr(v, '\0', len) != NULL)
		return 0;
	memcpy(copy, v, len);
	copy[len] = '\0';
	if (rfc3339_parse(copy, &t) < 0)
		return 0;
	*out = t;
	return 1;
}

int valid_printable(const char *v, size_t len)
{
	return v != NULL && len <= VALID_PRINTABLE_MAX && valid_utf8(v, len) &&
		valid_no_controls(v, len, "\n\t");
}

/* Twilio's limit for a text is 1600 characters; counted here as code
 * points of well-formed UTF-8 (so at most 6400 bytes).  CR is allowed
 * beside LF and tab: it is in the GSM alphabet and phones send it. */
int valid_sms_body(const char *v, size_t len)
{
	size_t chars = 0;
	if (v == NULL || len > 4 * VALID_SMS_CHARS_MAX || !valid_utf8(v, len) ||
		!valid_no_controls(v, len, "\n\r\t"))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)v[i] & 0xc0) != 0x80)
			chars++;
	return chars <= VALID_SMS_CHARS_MAX;
}

size_t valid_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

int valid_text(const char *s, size_t max, const char *allowed)
{
	return valid_chars(s) <= max && valid_no_controls(s, strlen(s), allowed);
}

int valid_any(const char *v, size_t len)
{
	(void)v;
	(void)len;
	return 1;
}

/* The table of RFC 3629, section 4: the second byte's range depends on
 * the first so that overlong forms, surrogates (U+D800..U+DFFF) and code
 * points above U+10FFFF have no encoding that passes. */
int valid_utf8(const char *v, size_t len)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t i = 0;
	if (v == NULL)
		return 0;
	while (i < len) {
		unsigned char c = u[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return 0; /* 0x80..0xc1 (continuation, overlong lead), 0xf5.. */
		}
		if (len - i - 1 < n)
			return 0;
		if (u[i + 1] < lo || u[i + 1] > hi)
			return 0;
		for (size_t k = 2; k <= n; k++)
			if (u[i + k] < 0x80 || u[i + k] > 0xbf)
				return 0;
		i += n + 1;
	}
	return 1;
}

int valid_no_controls(const char *v, size_t len, const char *allowed)
{
	const unsigned char *u = (const unsigned char *)v;
	if (v == NULL)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = u[i];
		if (c < 0x20 || c == 0x7f) {
			if (c == 0 || allowed == NULL || strchr(allowed, c) == NULL)
				return 0;
		} else if (c == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f) {
			return 0; /* C1 controls (U+0080..U+009F), e.g. U+0085 NEL */
		}
	}
	return 1;
}

/* The first occurrence of name in in, or NULL. */
static const struct param *first_param(const struct params *in, const char *name)
{
	if (in == NULL)
		return NULL;
	for (size_t i = 0; i < in->n; i++)
		if (strcmp(in->v[i].name, name) == 0)
			return &in->v[i];
	return NULL;
}

static void set_err(char *err, size_t errlen, const char *fmt, const char *field)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, fmt, field);
}

/* Converts a value its validator passed to f's type; 0 when the type
 * does not take it (a VALID_INT64 field whose validator admits more than
 * decimal digits is a declaration bug, refused rather than guessed). */
static int convert(const struct valid_field *f, const struct param *p, struct valid_value *v)
{
	switch (f->type) {
	case VALID_TEXT:
		return 1;
	case VALID_INT64:
		if (!all_digits(p->value, p->value_len, VALID_ID_MAX))
			return 0;
		v->i = digits_value(p->value, p->value_len);
		return 1;
	case VALID_TIME:
		return valid_to_time(p->value, p->value_len, &v->i);
	}
	return 0;
}

/* See valid.h.  A field declared without a validator fails: a route that
 * forgot to say what it accepts must not accept everything.  The values
 * are copied into a so that they outlive in if in came from elsewhere; on
 * failure out is {NULL, 0}. */
int valid_params(struct arena *a, const struct valid_field *fields, size_t nfields,
	const struct params *in, struct valid_result *out, char *err, size_t errlen)
{
	struct valid_value *values = NULL;
	int rc = -1;

	out->v = NULL;
	out->n = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (nfields > 0)
		values = arena_calloc(a, nfields * sizeof(*values));
	for (size_t i = 0; i < nfields; i++) {
		const struct valid_field *f = &fields[i];
		const struct param *p = first_param(in, f->name);
		if (p == NULL) {
			if (f->required) {
				set_err(err, errlen, "field '%s' is required", f->name);
				goto out;
			}
			continue;
		}
		if (f->check == NULL || !f->check(p->value, p->value_len) ||
			!convert(f, p, &values[i])) {
			set_err(err, errlen, "field '%s' is not valid", f->name);
			goto out;
		}
		values[i].s = arena_strndup(a, p->value, p->value_len);
		values[i].len = p->value_len;
	}
	out->v = values;
	out->n = nfields;
	rc = 0;
out:
	return rc;
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	len = max;
	while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
		len--;
	return len;
}

void utf8_repair(char *s, size_t n, const char *keep)
{
	for (size_t i = 0; i < n;) {
		unsigned char ch = (unsigned char)s[i];
		size_t k = ch < 0x80 ? 1 : (ch & 0xe0) == 0xc0 ? 2 : (ch & 0xf0) == 0xe0 ? 3 :
			(ch & 0xf8) == 0xf0 ? 4 : 0;
		if (k == 1) {
			if ((ch < 0x20 || ch == 0x7f) && (keep == NULL || ch == 0 || strchr(keep, ch) == NULL))
				s[i] = ' ';
			i++;
		} else if (k > 1 && i + k <= n && valid_utf8(s + i, k) &&
			valid_no_controls(s + i, k, NULL)) {
			i += k;
		} else {
			s[i++] = '?';
		}
	}
}

/* valid: declared fields and their validators (kcgi's kvalid idea).
 *
 * Each route declares the fields it reads, a validator for each and the
 * type the value is converted to (struct valid_value: the text, and the
 * number of an integer or timestamp field), as kvalid fills kpair's
 * parsed union; a handler reads only the validated, converted value and
 * never parses a field again.  A field that fails its validator
 * or is required and missing fails the whole input with a reason naming
 * the field.  Unknown fields are ignored (Twilio adds parameters without
 * notice) but still take part in signature checking. */
#ifndef RF_VALID_H
#define RF_VALID_H

#include <stddef.h>

struct params;

/* Returns 1 when value (NUL-terminated, len bytes) is acceptable. */
typedef int (*valid_fn)(const char *value, size_t len);

/* What a validated value is converted to besides its text. */
enum valid_type {
	VALID_TEXT = 0, /* the text only */
	VALID_INT64,    /* a decimal number (its validator admits digits only) */
	VALID_TIME,     /* an RFC 3339 timestamp, as Unix seconds (valid_timestamp) */
};

struct valid_field {
	const char *name;
	valid_fn check;
	int required;
	enum valid_type type; /* VALID_TEXT when left out */
};

/* One validated field.  s is NULL for an optional field that was absent
 * (i is then 0); s is a NUL-terminated copy in the arena otherwise, and i
 * the converted number of a VALID_INT64 or VALID_TIME field. */
struct valid_value {
	const char *s;
	size_t len;
	long long i;
};

/* The validated values, one per declared field, in declaration order.
 * When a field occurs more than once, the first occurrence is validated
 * and used. */
struct valid_result {
	struct valid_value *v;
	size_t n;
};

/* Validates in against fields[0..nfields).  On success fills out (values
 * allocated with calloc-like semantics in the arena a) and returns 0; on
 * failure returns -1, out is {NULL, 0}, and err gets "field 'Digits' is
 * not valid" or "field 'CallSid' is required". */
struct arena;
int valid_params(struct arena *a, const struct valid_field *fields, size_t nfields,
	const struct params *in, struct valid_result *out, char *err, size_t errlen);

/* The converters on their own, for a value that does not come in a form
 * (a path segment, a JSON member, the environment): 1 and *out set when
 * v passes, 0 and *out untouched otherwise. */
int valid_to_uint(const char *v, size_t len, long long *out);  /* valid_uint */
int valid_to_id(const char *v, size_t len, long long *out);    /* valid_id */
int valid_to_time(const char *v, size_t len, long long *out);  /* valid_timestamp */

/* Validators. */
int valid_call_sid(const char *v, size_t len);    /* CA + 32 lower-case hex */
int valid_account_sid(const char *v, size_t len); /* AC + 32 lower-case hex */
int valid_message_sid(const char *v, size_t len); /* SM or MM + 32 lower-case hex */
/* The one E.164 check of the product (webhooks, API, allow-list,
 * configuration; the simulator should use it too): '+', a first digit
 * 1-9, 7 to 15 digits in all.  15 is ITU-T E.164's maximum; 7 is the
 * shortest number in service (a 3-digit country code and a 4-digit
 * subscriber number, as in Niue +683 or Saint Helena +290), so "+12" is
 * never a number anyone can be called at. */
#define VALID_E164_MIN_DIGITS 7
#define VALID_E164_MAX_DIGITS 15
int valid_e164(const char *v, size_t len);
int valid_phone_or_client(const char *v, size_t len); /* E.164, "client:name", "sip:..", "Anonymous", <= 128 printable */
int valid_digits(const char *v, size_t len);      /* 0..64 of 0-9 * # (may be empty) */
int valid_call_status(const char *v, size_t len); /* queued initiated ringing in-progress completed busy failed no-answer canceled */
int valid_answered_by(const char *v, size_t len); /* human machine_start machine_end_beep machine_end_silence machine_end_other fax unknown */
int valid_direction(const char *v, size_t len);   /* inbound outbound-api outbound-dial */
int valid_token(const char *v, size_t len);       /* 32 lowercase hex */
int valid_state_name(const char *v, size_t len);  /* [a-z][a-z0-9_]{0,63} */
int valid_uint(const char *v, size_t len);        /* 1..9 decimal digits, no sign */
int valid_id(const char *v, size_t len);          /* a row id: 1..18 digits, no sign, no leading 0 */
int valid_timestamp(const char *v, size_t len);   /* RFC 3339 with an offset (rfc3339_parse) */
int valid_printable(const char *v, size_t len);   /* <= 1600 bytes of UTF-8 without control characters except \n \t */
int valid_sms_body(const char *v, size_t len);    /* <= 1600 characters of UTF-8 (may be empty) without control characters except \n \r \t */
int valid_any(const char *v, size_t len);         /* always 1 (still length-capped by form limits) */

/* Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF) without NUL bytes.  form.c rejects input that fails it. */
int valid_utf8(const char *v, size_t len);
/* 1 when v has no control character (C0, DEL, or C1 U+0080..U+009F
 * encoded as UTF-8) other than the ASCII ones listed in allowed (NULL or
 * "": none).  Says nothing about UTF-8 well-formedness: check that too. */
int valid_no_controls(const char *v, size_t len, const char *allowed);
/* Characters (code points) of NUL-terminated UTF-8 s: the bytes that do
 * not continue a sequence.  s is well-formed (checked before). */
size_t valid_chars(const char *s);
/* 1 when NUL-terminated UTF-8 s (well-formed: checked before) has at
 * most max characters and no control character but the ASCII ones in
 * allowed (as valid_no_controls): a free-text field such as notes or a
 * reason. */
int valid_text(const char *s, size_t max, const char *allowed);

/* Text from outside cut and mended for storing, showing and logging. */
/* The length of s[0..len) cut to at most max bytes without splitting a
 * UTF-8 sequence (len itself when it fits). */
size_t utf8_cut(const char *s, size_t len, size_t max);
/* s[0..n) in place as text of the same length: a byte that is not part of
 * a well-formed UTF-8 sequence becomes '?', a control character not in
 * keep (NULL: none) a space. */
void utf8_repair(char *s, size_t n, const char *keep);

#endif

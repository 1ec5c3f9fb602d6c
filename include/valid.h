/* valid: declared fields and their validators (kcgi's kvalid idea).
 *
 * Each route declares the fields it reads and a validator for each; a
 * handler reads only the validated copy.  A field that fails its validator
 * or is required and missing fails the whole input with a reason naming
 * the field.  Unknown fields are ignored (Twilio adds parameters without
 * notice) but still take part in signature checking. */
#ifndef RF_VALID_H
#define RF_VALID_H

#include <stddef.h>

struct params;

/* Returns 1 when value (NUL-terminated, len bytes) is acceptable. */
typedef int (*valid_fn)(const char *value, size_t len);

struct valid_field {
	const char *name;
	valid_fn check;
	int required;
};

/* The validated values, one per declared field, in declaration order;
 * NULL for an optional field that was absent.  When a field occurs more
 * than once, the first occurrence is validated and used. */
struct valid_result {
	const char **values;
	size_t n;
};

/* Validates in against fields[0..nfields).  On success fills out (values
 * allocated with calloc-like semantics in the arena a) and returns 0; on
 * failure returns -1 and writes "field 'Digits' is not valid" or
 * "field 'CallSid' is required" into err. */
struct arena;
int valid_params(struct arena *a, const struct valid_field *fields, size_t nfields,
	const struct params *in, struct valid_result *out, char *err, size_t errlen);

/* Validators. */
int valid_call_sid(const char *v, size_t len);    /* CA + 32 lower-case hex */
int valid_account_sid(const char *v, size_t len); /* AC + 32 lower-case hex */
int valid_message_sid(const char *v, size_t len); /* SM or MM + 32 lower-case hex */
int valid_e164(const char *v, size_t len);        /* +[1-9] then 6..14 digits */
int valid_phone_or_client(const char *v, size_t len); /* E.164, "client:name", "sip:..", "Anonymous", <= 128 printable */
int valid_digits(const char *v, size_t len);      /* 0..64 of 0-9 * # (may be empty) */
int valid_call_status(const char *v, size_t len); /* queued initiated ringing in-progress completed busy failed no-answer canceled */
int valid_answered_by(const char *v, size_t len); /* human machine_start machine_end_beep machine_end_silence machine_end_other fax unknown */
int valid_direction(const char *v, size_t len);   /* inbound outbound-api outbound-dial */
int valid_token(const char *v, size_t len);       /* 32 lowercase hex */
int valid_state_name(const char *v, size_t len);  /* [a-z][a-z0-9_]{0,63} */
int valid_uint(const char *v, size_t len);        /* 1..9 decimal digits, no sign */
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

#endif

/* signature: Twilio's X-Twilio-Signature, exactly as ../shared/twilio/
 * TWILIO.md describes it.
 *
 * The string signed is the public URL as Twilio was given it (rebuilt
 * from RINGFENCE_PUBLIC_URL plus the request URI, never from the Host
 * header) followed, for form-encoded POSTs, by each parameter's name and
 * value, sorted by name (a repeated name contributes each of its distinct
 * values once, values sorted), both sorts in UTF-16 code-unit order as
 * twilio-node's (JavaScript's default sort) does: that is byte order
 * except that a character above U+FFFF sorts before one in
 * U+E000-U+FFFF.  The signature is base64(HMAC-SHA1(auth token, that
 * string)), compared in constant time.  Both the URL with its default
 * port and without any port are accepted (the official validators' port
 * quirk).  For JSON bodies the URL carries bodySHA256=<lower-case hex
 * sha256 of the body> (an upper-case hex is refused, as twilio-node
 * refuses it), which is checked against the body and the URL alone is
 * signed; a non-empty non-form body without bodySHA256 is covered by
 * nothing and gives SIGNATURE_BODY_MISMATCH. */
#ifndef RF_SIGNATURE_H
#define RF_SIGNATURE_H

#include <stddef.h>

struct params;

/* Base64 of a 20-byte digest is 28 characters; out needs 29 bytes. */
#define SIGNATURE_LEN 28

/* Computes the signature of url and params (params may be NULL: URL
 * alone) into out.  Returns 0, or -1 on a crypto library failure. */
int signature_compute(const char *auth_token, const char *url,
	const struct params *params, char out[SIGNATURE_LEN + 1]);

enum signature_verdict {
	SIGNATURE_VALID = 0,
	SIGNATURE_MISSING,      /* no header, or an empty one */
	SIGNATURE_INVALID,      /* does not match any accepted URL form */
	SIGNATURE_BODY_MISMATCH /* bodySHA256 present but not the body's hash */
};

/* Checks header against url (the full public URL with its query string).
 * When is_form is 1, form holds the parsed POST parameters and is signed;
 * otherwise the body is not form-encoded: if the URL's query has
 * bodySHA256, it must equal the SHA-256 of body[0..body_len), and only the
 * URL is signed. */
enum signature_verdict signature_validate(const char *auth_token, const char *url,
	const struct params *form, int is_form, const char *body, size_t body_len,
	const char *header);

const char *signature_verdict_name(enum signature_verdict v); /* "valid", "missing", "invalid", "body_mismatch" */

#endif

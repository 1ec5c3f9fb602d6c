/* secret: passwords and tokens never reach a message, a log line, an
 * audit record or a page.
 *
 * Every place that prints a value which may hold a secret (a Redis or
 * database URL, an SMTP URL, a libpq error quoting its conninfo) passes it
 * through one of these first. */
#ifndef RF_SECRET_H
#define RF_SECRET_H

#include <stddef.h>

#define SECRET_MASK "***"

/* Copies url into out (always NUL-terminated) with the password of its
 * userinfo ("scheme://user:PASSWORD@host") and the value of every
 * password= query parameter replaced by SECRET_MASK.  A userinfo without
 * a colon is masked whole: "redis://TOKEN@host" is a password too. */
void url_redact(const char *url, char *out, size_t outlen);

/* Replaces, in place, every occurrence of secret in buf by SECRET_MASK
 * (buf never grows past buflen).  A NULL or empty secret does nothing. */
void secret_scrub(char *buf, size_t buflen, const char *secret);

/* Scrubs a message that may quote a libpq conninfo (keyword=value or a
 * postgresql:// URI): the conninfo itself, its password as written and as
 * decoded.  conninfo may be NULL. */
void secret_scrub_conninfo(char *buf, size_t buflen, const char *conninfo);

/* Scrubs a message that may quote url (a redis://, unix:// or smtp(s)://
 * URL): the URL itself and its password, raw and percent-decoded. */
void secret_scrub_url(char *buf, size_t buflen, const char *url);

/* Decodes %XX escapes of [s, s + n) into out (NUL-terminated).  0, or -1
 * when an escape is malformed, decodes to NUL, or out is too small. */
int url_pct_decode(const char *s, size_t n, char *out, size_t outlen);

#endif

/* mail: reminder email over SMTP with libcurl.
 *
 * A multipart/alternative message (text/plain and text/html, UTF-8,
 * quoted-printable) with Date, a fresh Message-ID, From, To, Subject
 * (RFC 2047 encoded-word when not ASCII), List-Unsubscribe and
 * MIME-Version.  A header value containing CR or LF is refused, so no
 * header can be injected.  Like twilio.h, this module does not check the
 * allow-list: the worker's single send function does. */
#ifndef RF_MAIL_H
#define RF_MAIL_H

#include <stddef.h>

struct config;
struct twilio_result;

struct mail_message {
	const char *to, *from, *subject, *text, *html, *list_unsubscribe;
	char message_id[128];   /* filled by mail_build: "<EM + 32 hex@domain of from>" */
};

/* Builds the whole message (headers and body, CRLF line ends) into a new
 * malloc'd string (caller frees) and fills m->message_id; date_s is the
 * Date header's time.  Returns NULL with a reason in err when a field is
 * missing, an address is malformed or a header value holds CR/LF. */
char *mail_build(struct mail_message *m, long long date_s, char *err, size_t errlen);

/* Sends m to cfg->smtp_url (connect timeout 5 s, total 30 s).  out uses
 * twilio.h's outcomes: TWILIO_OK (sid = "EM" + 32 hex, the
 * Message-ID's local part), TWILIO_REJECTED
 * (the server refused with a 5xx reply: error_code is the SMTP code, or
 * the message could not be built: nothing was sent), TWILIO_UNKNOWN
 * (timeout, transport error, 4xx: it may or may not have been taken).
 * Returns 0 when attempted or refused locally with out filled, -1 only
 * when cfg has no smtp_url (out filled too). */
int mail_send(const struct config *cfg, struct mail_message *m, struct twilio_result *out);

#endif

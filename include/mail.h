/* mail: reminder email over SMTP with libcurl.
 *
 * A multipart/alternative message (text/plain and text/html, UTF-8,
 * quoted-printable) with Date, a fresh Message-ID, From, To, Subject
 * (RFC 2047 encoded-word when not ASCII), List-Unsubscribe (with
 * List-Unsubscribe-Post for RFC 8058 one-click) and MIME-Version.  A header value containing CR or LF is refused, so no
 * header can be injected.  Like twilio.h, this module does not check the
 * allow-list: the worker's single send function does, and mail_send
 * takes the grant it makes (outbound_grant.h), so nothing else can send
 * a mail.  mail_build only builds text and needs none. */
#ifndef RF_MAIL_H
#define RF_MAIL_H

#include <stddef.h>

struct config;
struct outbound_grant;
struct twilio_result;

struct mail_message {
	const char *to, *from, *subject, *text, *html, *list_unsubscribe;
	/* RFC 8058: list_unsubscribe is one <http(s)://...> URI that
	 * unsubscribes on a POST of "List-Unsubscribe=One-Click"; adds
	 * "List-Unsubscribe-Post: List-Unsubscribe=One-Click". */
	int one_click;
	char message_id[128];   /* filled by mail_build: "<EM + 32 hex@domain of from>" */
};

/* 1 when addr is an address ringfence accepts and can mail: at most 254
 * bytes; a local part of at most 64 bytes in RFC 5322 dot-atom form
 * (letters, digits and !#$%&'*+-/=?^_`{|}~, single dots between them, no
 * quotes, spaces, commas, parentheses or anything outside ASCII); a
 * domain of at least two dot-separated labels of letters, digits and
 * inner hyphens, each 1-63 characters.  The API validates clients'
 * addresses with it and mail_build refuses To and From without it, so an
 * address the API took is one the mailer sends to.  NULL: 0. */
int mail_address_valid(const char *addr);

/* Builds the whole message (headers and body, CRLF line ends) into a new
 * malloc'd string (caller frees) and fills m->message_id; date_s is the
 * Date header's time.  Returns NULL with a reason in err when a field is
 * missing, an address is malformed or a header value holds CR/LF. */
char *mail_build(struct mail_message *m, long long date_s, char *err, size_t errlen);

/* Sends m to cfg->smtp_url (connect timeout 5 s, total 30 s); grant:
 * outbound_send's, for m->to (without it nothing is sent: TWILIO_REJECTED,
 * -1).  out uses
 * twilio.h's outcomes: TWILIO_OK (sid = "EM" + 32 hex, the
 * Message-ID's local part), TWILIO_REJECTED
 * (the server refused with a 5xx reply: error_code is the SMTP code, or
 * the message could not be built: nothing was sent), TWILIO_UNKNOWN
 * (timeout, transport error, 4xx: it may or may not have been taken).
 * Returns 0 when attempted or refused locally with out filled, -1 only
 * without a grant for m->to or when cfg has no smtp_url (out filled
 * too). */
int mail_send(const struct outbound_grant *grant, const struct config *cfg,
	struct mail_message *m, struct twilio_result *out);

#endif

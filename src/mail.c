/* mail: reminder email over SMTP with libcurl.
 *
 * The message is built whole in memory (a reminder is a few KiB) and
 * handed to curl through a read callback.  Header values are checked, not
 * cleaned: a CR or LF anywhere in one refuses the message, because a
 * "fixed" header is a guess about what the caller meant. */
#include "mail.h"
#include "secret.h"
#include "curl_easy.h"
#include "buf.h"
#include "config.h"
#include "log.h"
#include "outbound_grant.h"
#include "twilio.h"
#include "util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAIL_CONNECT_TIMEOUT_MS 5000L
#define MAIL_TOTAL_TIMEOUT_MS 30000L
#define MAIL_MAX_ADDRESS 254
#define MAIL_MAX_HEADER 900      /* a header value; lines stay under 998 */
#define MAIL_MAX_PART (256 * 1024)
#define MAIL_QP_LINE 76

/* 1 when s holds only valid UTF-8 with no NUL. */
static int mail_utf8_ok(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s;
		int n;
		unsigned cp;
		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		for (int i = 1; i <= n; i++) {
			if ((s[i] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3F);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
			(n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
			return 0;
		s += n + 1;
	}
	return 1;
}

/* A header value: present, at most MAIL_MAX_HEADER bytes, valid UTF-8,
 * and no control character at all (CR and LF above all). */
static int mail_header_ok(const char *v, const char *name, char *err, size_t errlen)
{
	if (v == NULL || v[0] == '\0') {
		snprintf(err, errlen, "mail: %s is required", name);
		return 0;
	}
	if (strlen(v) > MAIL_MAX_HEADER) {
		snprintf(err, errlen, "mail: %s is longer than %d bytes", name, MAIL_MAX_HEADER);
		return 0;
	}
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '\r' || *p == '\n') {
			snprintf(err, errlen, "mail: %s contains a line break", name);
			return 0;
		}
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "mail: %s contains a control character", name);
			return 0;
		}
	}
	if (!mail_utf8_ok((const unsigned char *)v)) {
		snprintf(err, errlen, "mail: %s is not valid UTF-8", name);
		return 0;
	}
	return 1;
}

/* 1 when c may appear in an atom of the local part (RFC 5322 atext). */
static int mail_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		(c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* See mail.h. */
int mail_address_valid(const char *a)
{
	const char *at, *label;
	size_t len, local_len;
	int labels = 0;

	if (a == NULL)
		return 0;
	len = strlen(a);
	at = strchr(a, '@');
	if (len > MAIL_MAX_ADDRESS || at == NULL)
		return 0;
	local_len = (size_t)(at - a);
	if (local_len == 0 || local_len > 64 || len - local_len - 1 > 253)
		return 0;
	/* Local part: dot-atom, atoms of atext joined by single dots. */
	for (const char *p = a; p < at; p++) {
		if (*p == '.') {
			if (p == a || p + 1 == at || p[1] == '.')
				return 0;
		} else if (!mail_atext((unsigned char)*p)) {
			return 0;
		}
	}
	/* Domain: at least two labels of letters, digits and inner hyphens,
	 * each 1-63 characters. */
	label = at + 1;
	for (const char *p = at + 1;; p++) {
		if (*p == '.' || *p == '\0') {
			size_t n = (size_t)(p - label);
			if (n == 0 || n > 63 || label[0] == '-' || p[-1] == '-')
				return 0;
			labels++;
			if (*p == '\0')
				break;
			label = p + 1;
		} else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				   (*p >= '0' && *p <= '9') || *p == '-')) {
			return 0;
		}
	}
	return labels >= 2;
}

/* A header's address: present, one line, and mail_address_valid. */
static int mail_address_ok(const char *a, const char *name, char *err, size_t errlen)
{
	if (!mail_header_ok(a, name, err, errlen))
		return 0;
	if (!mail_address_valid(a)) {
		snprintf(err, errlen, "mail: %s is not a plain email address", name);
		return 0;
	}
	return 1;
}

/* Appends Subject's value: as is when printable ASCII, else as RFC 2047
 * base64 encoded-words of whole UTF-8 characters, folded between words. */
static void mail_put_subject(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int ascii = 1;
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (p[i] >= 0x7f)
			ascii = 0;
	/* "=?" could be read as an encoded-word by the receiver. */
	if (ascii && strstr(s, "=?") == NULL) {
		buf_puts(b, s);
		return;
	}
	for (size_t i = 0; i < n;) {
		/* 45 bytes -> 60 base64 characters, plus 12 of "=?UTF-8?B?" "?=": 72. */
		size_t j = i, take;
		unsigned char out[64];
		int len;
		while (j < n && j - i < 45) {
			size_t clen = p[j] < 0x80 ? 1 : p[j] < 0xE0 ? 2 : p[j] < 0xF0 ? 3 : 4;
			if (j + clen - i > 45)
				break;
			j += clen;
		}
		take = j - i;
		len = EVP_EncodeBlock(out, p + i, (int)take);
		if (i > 0)
			buf_puts(b, "\r\n ");
		buf_puts(b, "=?UTF-8?B?");
		buf_append(b, out, (size_t)len);
		buf_puts(b, "?=");
		i = j;
	}
}

/* Appends s quoted-printable (RFC 2045), line breaks (LF or CRLF) as
 * CRLF, lines at most 76 characters with soft breaks.  A '.' starting a
 * line is encoded too, so the body never depends on SMTP dot-stuffing. */
static void mail_put_qp(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	size_t col = 0;

	while (*p) {
		char enc[4];
		size_t elen;
		unsigned c = *p;
		int at_eol;

		if (c == '\r' && p[1] == '\n') {
			p++;
			continue;
		}
		if (c == '\n' || c == '\r') {
			buf_puts(b, "\r\n");
			col = 0;
			p++;
			continue;
		}
		at_eol = p[1] == '\0' || p[1] == '\n' || (p[1] == '\r');
		if ((c >= 33 && c <= 126 && c != '=' && !(c == '.' && col == 0)) ||
			((c == ' ' || c == '\t') && !at_eol)) {
			enc[0] = (char)c;
			elen = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			elen = 3;
		}
		/* Keep room for a soft break "=" within the 76 columns. */
		if (col + elen > MAIL_QP_LINE - 1) {
			buf_puts(b, "=\r\n");
			col = 0;
			if (elen == 1 && c == '.') {
				enc[0] = '=';
				enc[1] = '2';
				enc[2] = 'E';
				elen = 3;
			}
		}
		buf_append(b, enc, elen);
		col += elen;
		p++;
	}
	if (col > 0)
		buf_puts(b, "\r\n");
}

/* The domain of an address already checked by mail_address_ok. */
static const char *mail_domain(const char *addr)
{
	return strchr(addr, '@') + 1;
}

/* See mail.h. */
char *mail_build(struct mail_message *m, long long date_s, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	unsigned char rnd[16];
	char hex[33], boundary[48], date[64];
	time_t t = (time_t)date_s;
	struct tm tm;
	char *ret = NULL;

	if (m == NULL) {
		snprintf(err, errlen, "mail: no message");
		goto out;
	}
	m->message_id[0] = '\0';
	if (!mail_address_ok(m->to, "To", err, errlen) ||
		!mail_address_ok(m->from, "From", err, errlen) ||
		!mail_header_ok(m->subject, "Subject", err, errlen) ||
		!mail_header_ok(m->list_unsubscribe, "List-Unsubscribe", err, errlen))
		goto out;
	if (m->list_unsubscribe[0] != '<' || m->list_unsubscribe[strlen(m->list_unsubscribe) - 1] != '>') {
		snprintf(err, errlen, "mail: List-Unsubscribe must be <URI>[, <URI>]");
		goto out;
	}
	/* RFC 8058: one-click needs an HTTP(S) URI the receiver can POST to,
	 * and only one, so that the POST reaches the right place. */
	if (m->one_click && ((strncmp(m->list_unsubscribe, "<https://", 9) != 0 &&
				     strncmp(m->list_unsubscribe, "<http://", 8) != 0) ||
				    strchr(m->list_unsubscribe + 1, '<') != NULL ||
				    strchr(m->list_unsubscribe, '>') !=
					    m->list_unsubscribe + strlen(m->list_unsubscribe) - 1)) {
		snprintf(err, errlen, "mail: a one-click List-Unsubscribe must be one <http(s)://...> URI");
		goto out;
	}
	if (m->text == NULL || m->text[0] == '\0' || m->html == NULL || m->html[0] == '\0') {
		snprintf(err, errlen, "mail: both the text and the HTML part are required");
		goto out;
	}
	if (strlen(m->text) > MAIL_MAX_PART || strlen(m->html) > MAIL_MAX_PART) {
		snprintf(err, errlen, "mail: a part is larger than %d bytes", MAIL_MAX_PART);
		goto out;
	}
	if (!mail_utf8_ok((const unsigned char *)m->text) || !mail_utf8_ok((const unsigned char *)m->html)) {
		snprintf(err, errlen, "mail: a part is not valid UTF-8");
		goto out;
	}
	if (date_s < 0 || gmtime_r(&t, &tm) == NULL ||
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0) {
		snprintf(err, errlen, "mail: bad date");
		goto out;
	}
	if (util_random(rnd, sizeof(rnd)) < 0) {
		snprintf(err, errlen, "mail: no random bytes for the Message-ID");
		goto out;
	}
	util_hex(rnd, sizeof(rnd), hex);
	if ((size_t)snprintf(m->message_id, sizeof(m->message_id), "<EM%s@%s>", hex,
		    mail_domain(m->from)) >= sizeof(m->message_id)) {
		snprintf(err, errlen, "mail: the From domain is too long for a Message-ID");
		m->message_id[0] = '\0';
		goto out;
	}
	if (util_random(rnd, sizeof(rnd)) < 0) {
		snprintf(err, errlen, "mail: no random bytes for the boundary");
		m->message_id[0] = '\0';
		goto out;
	}
	util_hex(rnd, sizeof(rnd), hex);
	/* "=_" never occurs in quoted-printable output, so the boundary
	 * cannot occur in either part. */
	snprintf(boundary, sizeof(boundary), "=_rf_%s", hex);

	buf_printf(&b, "Date: %s\r\n", date);
	buf_printf(&b, "Message-ID: %s\r\n", m->message_id);
	buf_printf(&b, "From: %s\r\n", m->from);
	buf_printf(&b, "To: %s\r\n", m->to);
	buf_puts(&b, "Subject: ");
	mail_put_subject(&b, m->subject);
	buf_puts(&b, "\r\n");
	buf_printf(&b, "List-Unsubscribe: %s\r\n", m->list_unsubscribe);
	if (m->one_click)
		buf_puts(&b, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
	buf_puts(&b, "MIME-Version: 1.0\r\n");
	buf_printf(&b, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n", boundary);
	buf_puts(&b, "\r\n");
	buf_puts(&b, "This is a MIME message with a text and an HTML version.\r\n");
	buf_printf(&b, "\r\n--%s\r\n", boundary);
	buf_puts(&b, "Content-Type: text/plain; charset=UTF-8\r\n");
	buf_puts(&b, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	mail_put_qp(&b, m->text);
	buf_printf(&b, "\r\n--%s\r\n", boundary);
	buf_puts(&b, "Content-Type: text/html; charset=UTF-8\r\n");
	buf_puts(&b, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	mail_put_qp(&b, m->html);
	buf_printf(&b, "\r\n--%s--\r\n", boundary);
	ret = xstrdup(buf_str(&b));
out:
	buf_free(&b);
	return ret;
}

struct mail_source {
	const char *data;
	size_t len, pos;
};

static size_t mail_read(char *dst, size_t size, size_t nmemb, void *userdata)
{
	struct mail_source *s = userdata;
	size_t room = size * nmemb, n = s->len - s->pos;
	if (n > room)
		n = room;
	memcpy(dst, s->data + s->pos, n);
	s->pos += n;
	return n;
}

/* The Unix time for the Date header: the real clock (RINGFENCE_NOW is
 * for deciding what is due, not for what a mail server sees). */
static long long mail_now(void)
{
	return (long long)time(NULL);
}

/* See mail.h. */
int mail_send(const struct outbound_grant *grant, const struct config *cfg,
	struct mail_message *m, struct twilio_result *out)
{
	CURL *c = NULL;
	struct curl_slist *rcpt = NULL;
	struct mail_source src = { NULL, 0, 0 };
	char err[256], errbuf[CURL_ERROR_SIZE] = "", *from = NULL, *to = NULL;
	char *msg = NULL, *hdr_end;
	long long t0 = util_now_ms();
	long code = 0;
	CURLcode rc;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (m == NULL || !outbound_grant_covers(grant, m->to)) {
		out->outcome = TWILIO_REJECTED;
		snprintf(out->error_message, sizeof(out->error_message), "no grant from outbound_send"
			" for this address: only the send function, past its guards, may contact anyone");
		log_error("mail: not sent: %s", out->error_message);
		ret = -1;
		goto out;
	}
	if (cfg == NULL || cfg->smtp_url == NULL || cfg->smtp_url[0] == '\0') {
		out->outcome = TWILIO_REJECTED;
		snprintf(out->error_message, sizeof(out->error_message), "RINGFENCE_SMTP_URL is not set");
		log_error("mail: not sent: RINGFENCE_SMTP_URL is not set");
		ret = -1;
		goto out;
	}
	msg = mail_build(m, mail_now(), err, sizeof(err));
	if (msg == NULL) {
		out->outcome = TWILIO_REJECTED;
		snprintf(out->error_message, sizeof(out->error_message), "%s", err);
		log_error("%s (not sent)", err);
		goto out;
	}
	/* The audit gets the envelope and the headers; the parts are the
	 * caller's template, recorded by the caller if it wants. */
	hdr_end = strstr(msg, "\r\n\r\n");
	out->request_redacted = xasprintf("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n%.*s", m->from, m->to,
		(int)(hdr_end ? hdr_end - msg : 0), msg);
	src.data = msg;
	src.len = strlen(msg);
	from = xasprintf("<%s>", m->from);
	to = xasprintf("<%s>", m->to);
	if ((c = curl_easy_new()) == NULL ||
		(rcpt = curl_slist_append(NULL, to)) == NULL) {
		out->outcome = TWILIO_REJECTED;
		snprintf(out->error_message, sizeof(out->error_message), "curl could not be initialised");
		goto out;
	}
	if (curl_easy_defaults(c, CURL_EASY_SMTP, MAIL_CONNECT_TIMEOUT_MS, MAIL_TOTAL_TIMEOUT_MS,
		    errbuf) < 0 ||
		curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_MAIL_FROM, from) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_READFUNCTION, mail_read) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_READDATA, &src) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)src.len) != CURLE_OK) {
		out->outcome = TWILIO_REJECTED;
		snprintf(out->error_message, sizeof(out->error_message), "curl refused an SMTP option");
		goto out;
	}
	rc = curl_easy_perform(c);
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
		code = 0;
	out->http_status = (int)code;
	out->response_body = xasprintf("SMTP %ld", code);
	if (rc == CURLE_OK) {
		out->outcome = TWILIO_OK;
		/* "EM" + 32 hex: the Message-ID's local part, unique and short
		 * enough for a provider id. */
		snprintf(out->sid, sizeof(out->sid), "%.34s", m->message_id + 1);
		snprintf(out->status, sizeof(out->status), "accepted");
	} else if (code >= 500 && code < 600) {
		/* A permanent refusal: the server said no and kept nothing. */
		out->outcome = TWILIO_REJECTED;
		out->error_code = (int)code;
		snprintf(out->error_message, sizeof(out->error_message), "SMTP %ld: %.200s", code,
			errbuf[0] ? errbuf : curl_easy_strerror(rc));
		secret_scrub_url(out->error_message, sizeof(out->error_message), cfg->smtp_url);
		log_warn("mail: refused by the server: %s", out->error_message);
	} else {
		out->outcome = TWILIO_UNKNOWN;
		snprintf(out->error_message, sizeof(out->error_message), "%s%.200s",
			rc == CURLE_OPERATION_TIMEDOUT ? "timed out: " : "",
			errbuf[0] ? errbuf : curl_easy_strerror(rc));
		/* curl's messages may quote the URL, credentials and all. */
		secret_scrub_url(out->error_message, sizeof(out->error_message), cfg->smtp_url);
		log_warn("mail: outcome unknown: %s", out->error_message);
	}
out:
	out->elapsed_ms = util_now_ms() - t0;
	curl_slist_free_all(rcpt);
	if (c)
		curl_easy_cleanup(c);
	free(from);
	free(to);
	free(msg);
	return ret;
}

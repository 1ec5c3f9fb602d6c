/* wording: the reminder text's and email's words; see include/wording.h. */
#include "wording.h"
#include "arena.h"
#include "buf.h"
#include "db.h"
#include "html.h"
#include "valid.h"

#include <stdio.h>
#include <string.h>

const char wording_default_greeting[] = "This is a reminder from {business}:";
const char wording_default_closing[] = "To change it, call {callback}.";

/* The placeholders a line may use, and the value of each in v. */
static const char *const wording_names[] = { "business", "date", "time", "callback" };

static const char *value_of(const struct wording_values *v, size_t i)
{
	const char *s = i == 0 ? v->business : i == 1 ? v->date : i == 2 ? v->time : v->callback;
	return s ? s : "";
}

/* The index in wording_names of the placeholder at p ("{name}..."), its
 * length in bytes (braces included) in *len; -1 when p does not start
 * one of them. */
static int placeholder_at(const char *p, size_t *len)
{
	for (size_t i = 0; i < sizeof(wording_names) / sizeof(wording_names[0]); i++) {
		size_t n = strlen(wording_names[i]);
		if (strncmp(p + 1, wording_names[i], n) == 0 && p[1 + n] == '}') {
			*len = n + 2;
			return (int)i;
		}
	}
	return -1;
}

int wording_check(const char *line, char *err, size_t errlen)
{
	size_t len = line ? strlen(line) : 0, plen;
	const char *p, *end;

	if (len == 0) {
		snprintf(err, errlen, "it is empty");
		return -1;
	}
	if (!valid_utf8(line, len) || !valid_no_controls(line, len, NULL)) {
		snprintf(err, errlen, "it must be one line of plain text");
		return -1;
	}
	if (valid_chars(line) > WORDING_LINE_MAX) {
		snprintf(err, errlen, "it is longer than %d characters", WORDING_LINE_MAX);
		return -1;
	}
	for (p = line; *p; p++) {
		if (*p == '}') {
			snprintf(err, errlen, "a '}' without its '{'");
			return -1;
		}
		if (*p != '{')
			continue;
		if (placeholder_at(p, &plen) >= 0) {
			p += plen - 1;
			continue;
		}
		end = strchr(p + 1, '}');
		if (end == NULL || memchr(p + 1, '{', (size_t)(end - p - 1)) != NULL || end - p > 40) {
			snprintf(err, errlen, "a '{' that opens no placeholder (the placeholders are"
				" {business}, {date}, {time} and {callback})");
			return -1;
		}
		if (end - p - 1 == 5 && strncmp(p + 1, "notes", 5) == 0)
			snprintf(err, errlen, "{notes} cannot be used: appointment notes are never"
				" sent in reminders");
		else
			snprintf(err, errlen, "{%.*s} is not a placeholder you can use (the"
				" placeholders are {business}, {date}, {time} and {callback})",
				(int)(end - p - 1), p + 1);
		return -1;
	}
	return 0;
}

char *wording_expand(struct arena *a, const char *line, const struct wording_values *v)
{
	char err[200];
	struct buf b;
	size_t plen;
	int i;

	if (wording_check(line, err, sizeof(err)) < 0)
		return NULL;
	buf_init_arena(&b, a);
	for (const char *p = line; *p; p++) {
		if (*p == '{' && (i = placeholder_at(p, &plen)) >= 0) {
			buf_puts(&b, value_of(v, (size_t)i));
			p += plen - 1;
		} else {
			buf_putc(&b, *p);
		}
	}
	return arena_strdup(a, buf_str(&b));
}

char *wording_sms(struct arena *a, const struct wording *w, const struct wording_values *v)
{
	char *g = wording_expand(a, w->greeting, v), *c = wording_expand(a, w->closing, v);

	if (g == NULL || c == NULL)
		return NULL;
	return arena_printf(a, "%s you have an appointment on %s at %s. %s"
		" Reply STOP to stop these texts.", g, value_of(v, 1), value_of(v, 2), c);
}

char *wording_email_subject(struct arena *a, const struct wording_values *v)
{
	return arena_printf(a, "Appointment reminder from %s", value_of(v, 0));
}

/* The email's plain-text part: the same lines, and the unsubscribe link in
 * place of STOP (an email cannot be answered STOP).  Unsubscribing stops
 * every channel, and the text says so. */
char *wording_email_text(struct arena *a, const struct wording *w,
	const struct wording_values *v, const char *unsubscribe_url)
{
	char *g = wording_expand(a, w->greeting, v), *c = wording_expand(a, w->closing, v);

	if (g == NULL || c == NULL)
		return NULL;
	return arena_printf(a, "Hello,\n\n"
			"%s you have an appointment on %s at %s.\n\n"
			"%s\n\n"
			"To stop all appointment reminders from %s (calls, texts and emails),"
			" unsubscribe here:\n%s\n",
		g, value_of(v, 1), value_of(v, 2), c, value_of(v, 0), unsubscribe_url);
}

/* The HTML part, through the escaping template writer. */
static const char email_html_tmpl[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<title>Appointment reminder</title></head><body>\n"
	"<p>Hello,</p>\n"
	"<p>{{greeting}} you have an appointment on {{date}} at {{time}}.</p>\n"
	"<p>{{closing}}</p>\n"
	"<p style=\"font-size:smaller\">To stop all appointment reminders from {{business}} "
	"(calls, texts and emails), <a href=\"{{unsubscribe}}\">unsubscribe</a>.</p>\n"
	"</body></html>\n";

int wording_email_html(struct arena *a, struct buf *html, const struct wording *w,
	const struct wording_values *v, const char *unsubscribe_url)
{
	char *g = wording_expand(a, w->greeting, v), *c = wording_expand(a, w->closing, v);

	if (g == NULL || c == NULL)
		return -1;
	const char *const fields[] = { "greeting", g, "closing", c, "business", value_of(v, 0),
		"date", value_of(v, 1), "time", value_of(v, 2), "unsubscribe", unsubscribe_url,
		NULL };
	return html_render(html, email_html_tmpl, fields);
}

int wording_load(struct db *db, struct arena *a, long long business_id, struct wording *w)
{
	char id[24];
	const char *p[1] = { id }, *row[2];
	int r;

	snprintf(id, sizeof(id), "%lld", business_id);
	r = db_row_prepared(db, a, "wording_load",
		"SELECT greeting, closing FROM message_wording WHERE business_id = $1", 1, p, 2,
		row);
	if (r < 0)
		return -1;
	w->greeting = r == 1 && row[0] ? row[0] : wording_default_greeting;
	w->closing = r == 1 && row[1] ? row[1] : wording_default_closing;
	return 0;
}

/* ---- SMS segments ------------------------------------------------------ */

/* GSM 03.38's default alphabet outside printable ASCII, as code points. */
static const unsigned gsm_basic_extra[] = {
	0x00A3, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, 0x00F2, 0x00C7, 0x00D8, 0x00F8,
	0x00C5, 0x00E5, 0x0394, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8, 0x03A3,
	0x0398, 0x039E, 0x00C6, 0x00E6, 0x00DF, 0x00C9, 0x00A4, 0x00A1, 0x00C4, 0x00D6,
	0x00D1, 0x00DC, 0x00A7, 0x00BF, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
};

/* Septets of code point c in GSM-7 (1, or 2 for the extension table), or
 * 0 when it has none. */
static int gsm_septets(unsigned c)
{
	if (c == '\n' || c == '\r')
		return 1;
	if (c == '\f' || c == 0x20AC || (c != 0 && c < 0x80 && strchr("^{}\\[~]|", (int)c)))
		return 2;
	if (c >= 0x20 && c < 0x7F)
		return c == '`' ? 0 : 1;
	for (size_t i = 0; i < sizeof(gsm_basic_extra) / sizeof(gsm_basic_extra[0]); i++)
		if (gsm_basic_extra[i] == c)
			return 1;
	return 0;
}

/* The next code point of s at *i (advanced); malformed bytes count as
 * U+FFFD, one byte each. */
static unsigned next_cp(const unsigned char *s, size_t *i)
{
	unsigned c = s[*i];
	int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
		: (c & 0xF8) == 0xF0 ? 3 : -1;

	if (n < 0) {
		(*i)++;
		return 0xFFFD;
	}
	c = n == 0 ? c : n == 1 ? c & 0x1F : n == 2 ? c & 0x0F : c & 0x07;
	for (int k = 1; k <= n; k++) {
		if ((s[*i + (size_t)k] & 0xC0) != 0x80) {
			(*i)++;
			return 0xFFFD;
		}
		c = (c << 6) | (s[*i + (size_t)k] & 0x3F);
	}
	*i += (size_t)n + 1;
	return c;
}

/* Segments of a text whose characters take the sizes in units[0..n) of
 * one encoding: one segment up to single units, else segments of multi
 * units with no character split between two. */
static int count_segments(const unsigned char *sizes, size_t n, int total, int single, int multi)
{
	int segs = 1, room = multi;

	if (total == 0)
		return 0;
	if (total <= single)
		return 1;
	for (size_t i = 0; i < n; i++) {
		if (sizes[i] > room) {
			segs++;
			room = multi;
		}
		room -= sizes[i];
	}
	return segs;
}

void wording_sms_segments(const char *text, struct wording_segments *out)
{
	const unsigned char *s = (const unsigned char *)(text ? text : "");
	size_t len = strlen((const char *)s), i = 0, n = 0;
	unsigned char gsm[1600 * 4 + 1], ucs[1600 * 4 + 1];
	int gsm_total = 0, ucs_total = 0, is_gsm = 1;

	memset(out, 0, sizeof(*out));
	while (i < len && n < sizeof(gsm)) {
		unsigned c = next_cp(s, &i);
		int g = gsm_septets(c);
		if (g == 0)
			is_gsm = 0;
		gsm[n] = (unsigned char)g;
		ucs[n] = c > 0xFFFF ? 2 : 1;
		gsm_total += g;
		ucs_total += ucs[n];
		n++;
	}
	out->ucs2 = !is_gsm;
	out->units = is_gsm ? gsm_total : ucs_total;
	out->segments = is_gsm ? count_segments(gsm, n, gsm_total, 160, 153)
			       : count_segments(ucs, n, ucs_total, 70, 67);
}

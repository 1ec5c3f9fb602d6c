/* wording: the reminder text's and email's words; see include/wording.h. */
#include "wording.h"
#include "arena.h"
#include "buf.h"
#include "db.h"
#include "html.h"
#include "diag.h"
#include "flow.h"
#include "twiml.h"
#include "util.h"
#include "valid.h"

#include <stdio.h>
#include <stdlib.h>
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

/* ---- templates ---------------------------------------------------------- */

/* The four templates of each message, by file; wording_init's copy is
 * the process's (owner: this module, replaced by the next wording_init). */
enum { T_SMS, T_SUBJECT, T_TEXT, T_HTML, T_N };
#define M_N 2 /* enum wording_message */
static const char *const tmpl_files[M_N][T_N] = {
	[WORDING_REMINDER] = { "sms_reminder.txt", "email_reminder_subject.txt",
		"email_reminder.txt", "email_reminder.html" },
	[WORDING_BOOKING] = { "sms_booking.txt", "email_booking_subject.txt", "email_booking.txt",
		"email_booking.html" },
};
static char *loaded_text[M_N][T_N];

/* A template is a few lines; anything near this is a mistake. */
#define WORDING_MAX_FILE (16 * 1024)

/* The placeholders each template may use ({{unsubscribe_url}} is also
 * required in the email's parts), NULL-terminated. */
static const char *const fields_sms[] = { "business_name", "appointment_date",
	"appointment_time", "callback_number", "greeting", "closing", NULL };
static const char *const fields_email[] = { "business_name", "appointment_date",
	"appointment_time", "callback_number", "greeting", "closing", "unsubscribe_url", NULL };
static const char *const *const tmpl_fields[T_N] = { fields_sms, fields_sms, fields_email,
	fields_email };

/* The longest value of each field in a text: the business name's SMS
 * form at WORDING_SMS_NAME_MAX two-septet characters (the euro sign), the
 * claim's 'FMDay, FMMonth FMDD' and 'FMHH12:MI AM' at their longest, an
 * E.164 number of 16 characters; a business's lines count empty in the
 * template (the settings page counts their actual text). */
#define WORST_DATE "Wednesday, September 30"
#define WORST_TIME "12:00 PM"
#define WORST_CALLBACK "+123456789012345"

/* Every field a message template may name, in the order of the values
 * a rendering is given (wording_check_templates says which template may
 * use which). */
static const char *const msg_fields[] = { "business_name", "appointment_date",
	"appointment_time", "callback_number", "greeting", "closing", "unsubscribe_url" };
#define F_N 7

/* A message template compiled once: its literal runs (pointing into the
 * template's text) and its field slots. */
struct mseg {
	const char *s;
	size_t n;
	int field; /* index in msg_fields, or -1: the literal s[0..n) */
};
struct mtmpl {
	struct mseg *seg; /* NULL: not loaded */
	size_t nseg;
};

/* The process's compiled templates (owner: this module; they point into
 * loaded_text), replaced by the next wording_init. */
static struct mtmpl loaded[M_N][T_N];

/* Compiles text (which must outlive t) into t, its segments in a (or
 * malloc'd when a is NULL).  -1 when a placeholder is malformed or names
 * no field of msg_fields. */
static int mtmpl_compile(struct arena *a, const char *text, struct mtmpl *t)
{
	const char *p = text, *s;
	size_t n, count = 0;
	int k;

	while ((k = twiml_placeholder_next(&p, &s, &n)) != TWIML_PH_END)
		count++;
	t->seg = a ? arena_alloc(a, (count + 1) * sizeof(*t->seg)) :
		xmalloc((count + 1) * sizeof(*t->seg));
	t->nseg = 0;
	for (p = text; (k = twiml_placeholder_next(&p, &s, &n)) != TWIML_PH_END;) {
		struct mseg *g = &t->seg[t->nseg++];
		g->s = s;
		g->n = n;
		g->field = -1;
		if (k == TWIML_PH_BAD)
			return -1;
		if (k != TWIML_PH_FIELD)
			continue;
		for (int f = 0; f < F_N; f++)
			if (strlen(msg_fields[f]) == n && strncmp(msg_fields[f], s, n) == 0)
				g->field = f;
		if (g->field < 0)
			return -1;
	}
	return 0;
}

/* Appends t with the values vals (msg_fields' order) to b, each value
 * escaped as HTML when html is set.  -1 when t names a field whose value
 * is NULL (not given) or t is not loaded. */
static int mtmpl_run(const struct mtmpl *t, const char *const vals[F_N], int html, struct buf *b)
{
	if (t->seg == NULL)
		return -1;
	for (size_t i = 0; i < t->nseg; i++) {
		const struct mseg *g = &t->seg[i];
		if (g->field < 0)
			buf_append(b, g->s, g->n);
		else if (vals[g->field] == NULL)
			return -1;
		else if (html)
			html_escape(b, vals[g->field]);
		else
			buf_puts(b, vals[g->field]);
	}
	return 0;
}

/* t with every {{field}} replaced by its value in vals, in the arena;
 * NULL when a field has no value there. */
static char *fill(struct arena *a, const struct mtmpl *t, const char *const vals[F_N])
{
	struct buf b;

	buf_init_arena(&b, a);
	if (mtmpl_run(t, vals, 0, &b) < 0)
		return NULL;
	return arena_strdup(a, buf_str(&b));
}

/* Reads template t of message m under dir into a new string (the one
 * final newline of a one-line template dropped), or NULL with a problem
 * in d. */
static char *read_template(const char *dir, int m, int t, struct flow_diag *d)
{
	char *path = xasprintf("%s/%s", dir, tmpl_files[m][t]);
	size_t len = 0;
	char *text = util_read_file(path, WORDING_MAX_FILE, &len);

	if (text == NULL) {
		flow_diag_add(d, "%s: cannot read the %s %s template (missing, or over %d bytes)",
			path, m == WORDING_BOOKING ? "booking confirmation" : "reminder",
			t == T_SMS ? "text" : "email", WORDING_MAX_FILE);
	} else if (strlen(text) != len || !valid_utf8(text, len)) {
		flow_diag_add(d, "%s: not UTF-8 text", path);
		free(text);
		text = NULL;
	} else if ((t == T_SMS || t == T_SUBJECT) && len > 0 && text[len - 1] == '\n') {
		text[len - 1] = '\0';
	}
	free(path);
	return text;
}

/* Reports each placeholder of text (at where) that is malformed or not
 * among the first nallowed of allowed; *link (may be NULL) gets whether
 * {{unsubscribe_url}} is there.  Returns the number of problems. */
static int check_fields(const char *text, const char *const *allowed, size_t nallowed,
	const char *where, struct flow_diag *d, int *link)
{
	const char *p = text, *s;
	size_t n, before = d->n;
	int k;

	if (link)
		*link = 0;
	while ((k = twiml_placeholder_next(&p, &s, &n)) != TWIML_PH_END) {
		int ok = 0;
		if (k == TWIML_PH_BAD) {
			flow_diag_add(d, "%s: malformed placeholder near '%.20s' (write {{field}})",
				where, s);
			continue;
		}
		if (k != TWIML_PH_FIELD)
			continue;
		for (size_t i = 0; i < nallowed; i++)
			ok |= strlen(allowed[i]) == n && strncmp(allowed[i], s, n) == 0;
		if (ok && link && n == 15 && strncmp(s, "unsubscribe_url", n) == 0)
			*link = 1;
		if (!ok) {
			struct buf names = BUF_INIT;
			for (size_t i = 0; i < nallowed; i++)
				buf_printf(&names, "%s%s", i ? ", " : "", allowed[i]);
			flow_diag_add(d, "%s: placeholder {{%.*s}} is not an allowed field (%s)", where,
				(int)n, s, buf_str(&names));
			buf_free(&names);
		}
	}
	return (int)(d->n - before);
}

/* The problems of email template t (text at path): placeholders
 * well-formed and allowed, the unsubscribe link in the parts, one line in
 * the subject. */
static void check_email(int t, const char *text, const char *path, struct flow_diag *d)
{
	int link;

	check_fields(text, tmpl_fields[t], t == T_SUBJECT ? 6 : 7, path, d, &link);
	if (t == T_SUBJECT && (text[0] == '\0' || strchr(text, '\n') || strchr(text, '\r')))
		flow_diag_add(d, "%s: the subject must be one line, not empty", path);
	if (t != T_SUBJECT && !link)
		flow_diag_add(d, "%s: no {{unsubscribe_url}}: every reminder email must carry its"
			" unsubscribe link", path);
}

/* Loads the templates under root into out[] and checks them; returns the
 * number of problems added to d (out[] holds what could be read). */
static int load_templates(const char *root, char *out[M_N][T_N], struct flow_diag *d)
{
	char *rel = xasprintf("state_tables/%s", WORDING_DIR);
	char *dir = flow_path(root, rel);
	size_t before = d->n;

	/* A booking confirmation follows a reminder's rules: the same
	 * fields, the opt-out, 2 segments at the longest. */
	for (int m = 0; m < M_N; m++)
		for (int t = 0; t < T_N; t++) {
			char *path = xasprintf("%s/%s", dir, tmpl_files[m][t]);
			out[m][t] = read_template(dir, m, t, d);
			if (out[m][t] && t == T_SMS)
				wording_check_sms_text(out[m][t], WORDING_SMS_REMINDER, path, d);
			else if (out[m][t])
				check_email(t, out[m][t], path, d);
			free(path);
		}
	free(dir);
	free(rel);
	return (int)(d->n - before);
}

static void free_templates(char *t[M_N][T_N])
{
	for (int m = 0; m < M_N; m++)
		for (int i = 0; i < T_N; i++)
			free(t[m][i]);
}

static void free_compiled(struct mtmpl t[M_N][T_N])
{
	for (int m = 0; m < M_N; m++)
		for (int i = 0; i < T_N; i++) {
			free(t[m][i].seg);
			t[m][i].seg = NULL;
		}
}

int wording_check_templates(const char *root, struct flow_diag *d)
{
	char *t[M_N][T_N];
	int n = load_templates(root, t, d);

	free_templates(t);
	return n;
}

int wording_init(const char *root, char *err, size_t errlen)
{
	struct flow_diag d = { NULL, 0 };
	char *t[M_N][T_N];
	struct mtmpl c[M_N][T_N];
	int rc = -1;

	memset(c, 0, sizeof(c));
	if (load_templates(root, t, &d) > 0) {
		snprintf(err, errlen, "the message templates do not pass ringfence check: %s",
			d.msgs[0]);
		free_templates(t);
		goto out;
	}
	/* Parsed once here, not per message: a message only runs them. */
	for (int m = 0; m < M_N; m++)
		for (int i = 0; i < T_N; i++)
			if (mtmpl_compile(NULL, t[m][i], &c[m][i]) < 0) {
				snprintf(err, errlen, "the message template %s cannot be compiled",
					tmpl_files[m][i]);
				free_compiled(c);
				free_templates(t);
				goto out;
			}
	free_compiled(loaded);
	free_templates(loaded_text);
	memcpy(loaded_text, t, sizeof(loaded_text));
	memcpy(loaded, c, sizeof(loaded));
	rc = 0;
out:
	flow_diag_free(&d);
	return rc;
}

/* ---- the messages ------------------------------------------------------- */

/* The values of one message in msg_fields' order (business as given,
 * the lines expanded, the unsubscribe link or NULL); -1 when a line does
 * not pass wording_check. */
static int message_values(struct arena *a, const struct wording *w,
	const struct wording_values *v, const char *unsubscribe_url, const char *vals[F_N])
{
	vals[4] = wording_expand(a, w->greeting, v);
	vals[5] = wording_expand(a, w->closing, v);
	if (vals[4] == NULL || vals[5] == NULL)
		return -1;
	for (size_t i = 0; i < 4; i++)
		vals[i] = value_of(v, i);
	vals[6] = unsubscribe_url;
	return 0;
}

char *wording_sms(struct arena *a, const struct wording *w, const struct wording_values *v,
	char *err, size_t errlen)
{
	return wording_message_sms(a, WORDING_REMINDER, w, v, err, errlen);
}

char *wording_message_sms(struct arena *a, enum wording_message m, const struct wording *w,
	const struct wording_values *v, char *err, size_t errlen)
{
	struct wording_values sv = *v;
	struct wording_segments sg;
	const char *vals[F_N];
	char *text;

	if ((unsigned)m >= M_N || loaded[m][T_SMS].seg == NULL) {
		snprintf(err, errlen, "the message templates are not loaded");
		return NULL;
	}
	sv.business = wording_sms_name(a, value_of(v, 0));
	if (message_values(a, w, &sv, NULL, vals) < 0) {
		snprintf(err, errlen, "the business's message wording does not pass its check");
		return NULL;
	}
	text = fill(a, &loaded[m][T_SMS], vals);
	if (text == NULL) {
		snprintf(err, errlen, "the text template does not render");
		return NULL;
	}
	wording_sms_segments(text, &sg);
	if (sg.segments > WORDING_SMS_MAX_SEGMENTS) {
		snprintf(err, errlen, "the text would take %d SMS segments (at most %d)", sg.segments,
			WORDING_SMS_MAX_SEGMENTS);
		return NULL;
	}
	return text;
}

/* Template t of message m (not loaded: no segments). */
static const struct mtmpl *template_of(enum wording_message m, int t)
{
	static const struct mtmpl none = { NULL, 0 };
	return (unsigned)m < M_N ? &loaded[m][t] : &none;
}

char *wording_email_subject(struct arena *a, const struct wording *w,
	const struct wording_values *v)
{
	return wording_message_subject(a, WORDING_REMINDER, w, v);
}

char *wording_message_subject(struct arena *a, enum wording_message m, const struct wording *w,
	const struct wording_values *v)
{
	const char *vals[F_N];

	if (message_values(a, w, v, NULL, vals) < 0)
		return NULL;
	return fill(a, template_of(m, T_SUBJECT), vals);
}

char *wording_email_text(struct arena *a, const struct wording *w,
	const struct wording_values *v, const char *unsubscribe_url)
{
	return wording_message_text(a, WORDING_REMINDER, w, v, unsubscribe_url);
}

/* The email's plain-text part.  An email cannot be answered STOP: its
 * template carries the unsubscribe link instead, which stops every
 * channel. */
char *wording_message_text(struct arena *a, enum wording_message m, const struct wording *w,
	const struct wording_values *v, const char *unsubscribe_url)
{
	const char *vals[F_N];

	if (message_values(a, w, v, unsubscribe_url, vals) < 0)
		return NULL;
	return fill(a, template_of(m, T_TEXT), vals);
}

int wording_email_html(struct arena *a, struct buf *html, const struct wording *w,
	const struct wording_values *v, const char *unsubscribe_url)
{
	return wording_message_html(a, WORDING_REMINDER, html, w, v, unsubscribe_url);
}

/* The HTML part, through the escaping template writer. */
int wording_message_html(struct arena *a, enum wording_message m, struct buf *html,
	const struct wording *w, const struct wording_values *v, const char *unsubscribe_url)
{
	const char *vals[F_N];

	if (message_values(a, w, v, unsubscribe_url, vals) < 0)
		return -1;
	return mtmpl_run(template_of(m, T_HTML), vals, 1, html);
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

int wording_sms_segments_bound(const char *text)
{
	struct wording_segments sg;
	int single, per;

	wording_sms_segments(text, &sg);
	single = sg.ucs2 ? 70 : 160;
	per = sg.ucs2 ? 66 : 152;
	if (sg.units <= single)
		return sg.segments;
	return (sg.units + per - 1) / per;
}

/* ---- the business name in texts ---------------------------------------- */

/* Lookalikes in the GSM alphabet for common characters outside it. */
static const struct {
	unsigned cp;
	const char *to;
} sms_fold[] = {
	{ 0x00C0, "A" }, { 0x00C1, "A" }, { 0x00C2, "A" }, { 0x00C3, "A" }, { 0x00C8, "E" },
	{ 0x00CA, "E" }, { 0x00CB, "E" }, { 0x00CC, "I" }, { 0x00CD, "I" }, { 0x00CE, "I" },
	{ 0x00CF, "I" }, { 0x00D2, "O" }, { 0x00D3, "O" }, { 0x00D4, "O" }, { 0x00D5, "O" },
	{ 0x00D9, "U" }, { 0x00DA, "U" }, { 0x00DB, "U" }, { 0x00DD, "Y" }, { 0x00E1, "a" },
	{ 0x00E2, "a" }, { 0x00E3, "a" }, { 0x00E7, "c" }, { 0x00EA, "e" }, { 0x00EB, "e" },
	{ 0x00ED, "i" }, { 0x00EE, "i" }, { 0x00EF, "i" }, { 0x00F3, "o" }, { 0x00F4, "o" },
	{ 0x00F5, "o" }, { 0x00FA, "u" }, { 0x00FB, "u" }, { 0x00FD, "y" }, { 0x00FF, "y" },
	{ 0x00A0, " " }, { 0x2018, "'" }, { 0x2019, "'" }, { 0x201C, "\"" }, { 0x201D, "\"" },
	{ 0x2013, "-" }, { 0x2014, "-" }, { 0x2026, "..." }, { '`', "'" }, { '\t', " " },
};

char *wording_sms_name(struct arena *a, const char *name)
{
	const unsigned char *s = (const unsigned char *)(name ? name : "");
	size_t len = strlen((const char *)s), i = 0, start;
	struct buf b;
	size_t chars = 0, cut = 0, cut_chars = WORDING_SMS_NAME_MAX - 3;

	buf_init_arena(&b, a);
	while (i < len) {
		unsigned c;
		const char *to = "?";
		start = i;
		c = next_cp(s, &i);
		if (gsm_septets(c) > 0 && c != '\n' && c != '\r' && c != '\f') {
			buf_append(&b, s + start, i - start);
			to = NULL;
		}
		for (size_t k = 0; to && k < sizeof(sms_fold) / sizeof(sms_fold[0]); k++)
			if (sms_fold[k].cp == c)
				to = sms_fold[k].to;
		if (to)
			buf_puts(&b, to);
	}
	/* Characters of the folded name: every one is now a GSM character
	 * of one to three UTF-8 bytes. */
	s = (const unsigned char *)buf_str(&b);
	len = strlen((const char *)s);
	for (i = 0; i < len; chars++) {
		if (chars == cut_chars)
			cut = i;
		next_cp(s, &i);
	}
	if (chars <= WORDING_SMS_NAME_MAX)
		return arena_strdup(a, (const char *)s);
	return arena_printf(a, "%.*s...", (int)cut, (const char *)s);
}

/* ---- the keyword rule ---------------------------------------------------- *
 *
 * Carriers (and Twilio, TWILIO.md) act on a text that is just one of these
 * words, in any case: the opt-out keywords stop every text from the
 * sender, START and UNSTOP undo that, HELP and INFO get the sender's help
 * answer.  A text may therefore suggest one of them only for what it does:
 *
 * - A keyword is SUGGESTED when it is written in capitals (STOP), right
 *   after a quote mark ("stop", 'end'), or among the options that follow an
 *   instruction verb (reply, text, txt, send, respond, type, answer, sms,
 *   message, then optionally "with" or "back"): the words and numbers after
 *   the verb joined by "or", "and", "," or "/" ("Reply 1, 2 or cancel").
 *   A keyword used as a plain word elsewhere ("2 to cancel") is not.
 * - After a suggested keyword (and any further options, "or", "and",
 *   commas, quotes), the text must say "to" or "for" and then what the
 *   keyword does, as its first word(s): for an opt-out keyword "stop",
 *   "unsubscribe", "optout" or "opt out"; for START and UNSTOP "start",
 *   "restart", "resume", "resubscribe", "unstop", "opt in", "opt back", or
 *   "get" or "receive" then texts, messages or reminders (our, these, the
 *   or your between them allowed);
 *   for HELP and INFO "help", "info", "information" or "more info(rmation)".
 *   Anything else ("Reply CANCEL to cancel", "reply STOP to confirm") or
 *   nothing at all ("text END") is refused.
 * - The opt-out keywords are TWILIO.md's STOP, STOPALL, UNSUBSCRIBE,
 *   CANCEL, END and QUIT, with REVOKE and OPTOUT, which Twilio's newer
 *   opt-out lists also name.  YES is Twilio's opt-in too, but is not
 *   ruled: a number being reminded is opted in already, so YES changes
 *   nothing at the carrier, and the reply flow takes YES as "confirm".
 */

enum kw_class { KW_NONE = -1, KW_OUT, KW_IN, KW_HELP };

static const struct {
	const char *word;
	enum kw_class cls;
} keywords[] = {
	{ "stop", KW_OUT }, { "stopall", KW_OUT }, { "unsubscribe", KW_OUT },
	{ "cancel", KW_OUT }, { "end", KW_OUT }, { "quit", KW_OUT }, { "revoke", KW_OUT },
	{ "optout", KW_OUT }, { "start", KW_IN }, { "unstop", KW_IN }, { "help", KW_HELP },
	{ "info", KW_HELP },
};

static const char *const class_words[] = {
	"a carrier opt-out keyword (texting it stops every text from this number), so it may"
	" only be suggested for stopping texts (\"to stop ...\")",
	"a carrier opt-in keyword, so it may only be suggested for getting texts again"
	" (\"to start ...\")",
	"a carrier help keyword, so it may only be suggested for help (\"for help\")",
};

enum tok_kind { TK_WORD, TK_NUM, TK_QUOTE, TK_SEP, TK_END };

struct tok {
	enum tok_kind kind;
	const char *s;
	size_t n;
};

#define KW_MAX_TOKENS 2048

/* Splits text into words (ASCII letters), numbers, quote marks,
 * separators (',' '/') and clause ends (. ! ? ; : and line breaks);
 * anything else separates.  Returns the number of tokens in t. */
static size_t tokenize(const char *text, struct tok *t, size_t max)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t n = 0;

	while (*p && n < max) {
		const unsigned char *q = p;
		enum tok_kind k;
		if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') {
			while (((*q | 0x20) >= 'a' && (*q | 0x20) <= 'z'))
				q++;
			k = TK_WORD;
		} else if (*p >= '0' && *p <= '9') {
			while (*q >= '0' && *q <= '9')
				q++;
			k = TK_NUM;
		} else if (*p == '"' || *p == '\'') {
			q++;
			k = TK_QUOTE;
		} else if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0x98 || p[2] == 0x99 ||
				p[2] == 0x9C || p[2] == 0x9D)) {
			q += 3;
			k = TK_QUOTE;
		} else if (*p == ',' || *p == '/') {
			q++;
			k = TK_SEP;
		} else if (strchr(".!?;:\n\r", *p)) {
			q++;
			k = TK_END;
		} else {
			p++;
			continue;
		}
		t[n].kind = k;
		t[n].s = (const char *)p;
		t[n].n = (size_t)(q - p);
		n++;
		p = q;
	}
	return n;
}

static int tok_is(const struct tok *t, const char *word)
{
	return t->kind == TK_WORD && strlen(word) == t->n && strncasecmp(t->s, word, t->n) == 0;
}

static int tok_in(const struct tok *t, const char *const *words)
{
	for (size_t i = 0; words[i]; i++)
		if (tok_is(t, words[i]))
			return 1;
	return 0;
}

static enum kw_class kw_class_of(const struct tok *t)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (tok_is(t, keywords[i].word))
			return keywords[i].cls;
	return KW_NONE;
}

static int tok_upper(const struct tok *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->s[i] < 'A' || t->s[i] > 'Z')
			return 0;
	return 1;
}

static const char *const instruction_verbs[] = { "reply", "text", "txt", "send", "respond",
	"type", "answer", "sms", "message", NULL };
static const char *const joiners[] = { "or", "and", NULL };

/* Marks in opt[] the options that follow each instruction verb. */
static void mark_options(const struct tok *t, size_t n, unsigned char *opt)
{
	for (size_t v = 0; v < n; v++) {
		size_t j = v + 1;
		if (!tok_in(&t[v], instruction_verbs))
			continue;
		if (j < n && (tok_is(&t[j], "with") || tok_is(&t[j], "back")))
			j++;
		while (j < n) {
			while (j < n && t[j].kind == TK_QUOTE)
				j++;
			if (j == n || (t[j].kind != TK_WORD && t[j].kind != TK_NUM))
				break;
			opt[j++] = 1;
			while (j < n && t[j].kind == TK_QUOTE)
				j++;
			if (j < n && (t[j].kind == TK_SEP || tok_in(&t[j], joiners)))
				j++;
			else
				break;
		}
	}
}

/* Whether the words at t[j..n) say what a keyword of class cls does. */
static int purpose_ok(const struct tok *t, size_t j, size_t n, enum kw_class cls)
{
	static const char *const out_words[] = { "stop", "unsubscribe", "optout", NULL };
	static const char *const in_words[] = { "start", "restart", "resume", "resubscribe",
		"unstop", NULL };
	static const char *const help_words[] = { "help", "info", "information", NULL };
	static const char *const determiners[] = { "our", "these", "the", "your", NULL };
	static const char *const texts_words[] = { "texts", "messages", "reminders", NULL };
	const struct tok *w1, *w2;

	while (j < n && t[j].kind == TK_QUOTE)
		j++;
	if (j == n)
		return 0;
	w1 = &t[j];
	w2 = j + 1 < n ? &t[j + 1] : NULL;
	if (w1->kind != TK_WORD)
		return 0;
	switch (cls) {
	case KW_OUT:
		return tok_in(w1, out_words) || (tok_is(w1, "opt") && w2 && tok_is(w2, "out"));
	case KW_IN:
		if (w2 && (tok_is(w1, "get") || tok_is(w1, "receive"))) {
			/* "to get (our) texts again" */
			size_t k = j + 1;
			if (k + 1 < n && tok_in(&t[k], determiners))
				k++;
			return tok_in(&t[k], texts_words);
		}
		return tok_in(w1, in_words) ||
			(tok_is(w1, "opt") && w2 && (tok_is(w2, "in") || tok_is(w2, "back")));
	case KW_HELP:
		return tok_in(w1, help_words) ||
			(tok_is(w1, "more") && w2 && tok_in(w2, help_words));
	default:
		return 0;
	}
}

/* The keyword rule; *opt_out (may be NULL) gets 1 when text suggests an
 * opt-out keyword for stopping. */
static int keyword_rule(const char *text, int *opt_out, char *err, size_t errlen)
{
	struct tok *t = xcalloc(KW_MAX_TOKENS, sizeof(*t));
	unsigned char *opt = xcalloc(KW_MAX_TOKENS, 1);
	size_t n = tokenize(text, t, KW_MAX_TOKENS);
	int rc = 0;

	if (opt_out)
		*opt_out = 0;
	mark_options(t, n, opt);
	for (size_t i = 0; i < n && rc == 0; i++) {
		enum kw_class cls = kw_class_of(&t[i]);
		size_t j = i + 1;
		if (cls == KW_NONE)
			continue;
		if (!tok_upper(&t[i]) && !opt[i] && !(i > 0 && t[i - 1].kind == TK_QUOTE))
			continue;
		/* Past the other options to "to" / "for". */
		while (j < n && (t[j].kind == TK_QUOTE || t[j].kind == TK_SEP || t[j].kind == TK_NUM ||
			tok_in(&t[j], joiners) || kw_class_of(&t[j]) != KW_NONE))
			j++;
		if (j < n && (tok_is(&t[j], "to") || tok_is(&t[j], "for")) &&
			purpose_ok(t, j + 1, n, cls)) {
			if (cls == KW_OUT && opt_out)
				*opt_out = 1;
			continue;
		}
		snprintf(err, errlen, "it tells people to text %.*s%s: %.*s is %s", (int)t[i].n,
			t[i].s, j < n && (tok_is(&t[j], "to") || tok_is(&t[j], "for"))
				? " for something else" : " without saying what it does",
			(int)t[i].n, t[i].s, class_words[cls]);
		rc = -1;
	}
	free(t);
	free(opt);
	return rc;
}

int wording_keyword_problem(const char *text, char *err, size_t errlen)
{
	return keyword_rule(text ? text : "", NULL, err, errlen);
}

/* ---- the rules of one text ------------------------------------------------ */

/* Twenty-nine two-septet characters and one more: the SMS name at its
 * longest in septets (wording_sms_name never yields more characters). */
static char *worst_name(struct arena *a)
{
	struct buf b;

	buf_init_arena(&b, a);
	for (int i = 0; i < WORDING_SMS_NAME_MAX; i++)
		buf_puts(&b, "\xe2\x82\xac");
	return arena_strdup(a, buf_str(&b));
}

/* t's longest rendering with the lines greeting and closing ("" in
 * check), in the arena; NULL when t names a field a text cannot have. */
static char *longest_of(struct arena *a, const struct mtmpl *t, const char *greeting,
	const char *closing)
{
	const char *const vals[F_N] = { worst_name(a), WORST_DATE, WORST_TIME, WORST_CALLBACK,
		greeting, closing, NULL };
	return fill(a, t, vals);
}

/* The same for a template's text; NULL also when a placeholder is
 * malformed or not allowed (reported apart). */
static char *longest(struct arena *a, const char *text, const char *greeting,
	const char *closing)
{
	struct mtmpl t;

	if (mtmpl_compile(a, text, &t) < 0)
		return NULL;
	return longest_of(a, &t, greeting, closing);
}

/* "N segments (U septets of GSM-7 ...)" for a longest rendering. */
static char *segments_said(struct arena *a, const char *text)
{
	struct wording_segments sg;

	wording_sms_segments(text, &sg);
	return arena_printf(a, "%d SMS segments (%d %s; at most %d segments: %s)",
		wording_sms_segments_bound(text), sg.units,
		sg.ucs2 ? "UTF-16 units of UCS-2" : "septets of GSM-7", WORDING_SMS_MAX_SEGMENTS,
		sg.ucs2 ? "132 UTF-16 units, as one character outside the GSM alphabet makes"
			  " the whole text UCS-2"
			: "304 septets");
}

/* text with each {{field}} made a space: what the keyword rule reads. */
static char *blank_fields(struct arena *a, const char *text)
{
	const char *p = text, *s;
	struct buf b;
	size_t n;
	int k;

	buf_init_arena(&b, a);
	while ((k = twiml_placeholder_next(&p, &s, &n)) != TWIML_PH_END)
		buf_append(&b, k == TWIML_PH_FIELD ? " " : s, k == TWIML_PH_FIELD ? 1 : n);
	return arena_strdup(a, buf_str(&b));
}

int wording_check_sms_text(const char *text, enum wording_sms_kind kind, const char *where,
	struct flow_diag *d)
{
	struct arena *a = arena_new(0);
	size_t before = d->n;
	char err[400], *l;
	int bad, opt_out;

	/* A reply has the appointment's four fields, not the lines. */
	bad = check_fields(text, fields_sms, kind == WORDING_SMS_REMINDER ? 6 : 4, where, d, NULL);
	if (!bad && (l = longest(a, text, "", "")) != NULL &&
		wording_sms_segments_bound(l) > WORDING_SMS_MAX_SEGMENTS)
		flow_diag_add(d, "%s: at its longest (business name %d characters, date \"%s\","
			" callback number 16 characters) the text takes %s", where,
			WORDING_SMS_NAME_MAX, WORST_DATE, segments_said(a, l));
	if (keyword_rule(blank_fields(a, text), &opt_out, err, sizeof(err)) < 0)
		flow_diag_add(d, "%s: %s", where, err);
	else if (kind == WORDING_SMS_REMINDER && !opt_out)
		flow_diag_add(d, "%s: no opt-out: a reminder text must tell people to reply STOP"
			" to stop these texts", where);
	arena_free(a);
	return (int)(d->n - before);
}

/* line with each {placeholder} made a space: what the keyword rule reads
 * of a business's line. */
static char *blank_line_fields(struct arena *a, const char *line)
{
	const struct wording_values none = { " ", " ", " ", " " };
	return wording_expand(a, line, &none);
}

/* The first character of s outside the GSM alphabet as a new arena
 * string, or NULL. */
static char *first_non_gsm(struct arena *a, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, start;

	while (i < len) {
		start = i;
		if (gsm_septets(next_cp(u, &i)) == 0)
			return arena_strndup(a, s + start, i - start);
	}
	return NULL;
}

int wording_check_lines(struct arena *a, const struct wording *w, char *err, size_t errlen,
	const char **field)
{
	const struct wording_values worst = { worst_name(a), WORST_DATE, WORST_TIME,
		WORST_CALLBACK };
	char why[400], *g, *c, *text, *odd;

	*field = "greeting";
	if (keyword_rule(blank_line_fields(a, w->greeting), NULL, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "Greeting: %s.", why);
		return -1;
	}
	*field = "closing";
	if (keyword_rule(blank_line_fields(a, w->closing), NULL, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "Closing line: %s.", why);
		return -1;
	}
	*field = "greeting";
	g = wording_expand(a, w->greeting, &worst);
	c = wording_expand(a, w->closing, &worst);
	/* Every text the lines go into: the reminder and the booking
	 * confirmation. */
	for (int m = 0; m < M_N; m++) {
		if (g == NULL || c == NULL ||
			(text = longest_of(a, &loaded[m][T_SMS], g, c)) == NULL) {
			snprintf(err, errlen, "The text message cannot be built now; nothing was"
				" saved.");
			return -1;
		}
		if (wording_sms_segments_bound(text) > WORDING_SMS_MAX_SEGMENTS)
			break;
	}
	if (wording_sms_segments_bound(text) <= WORDING_SMS_MAX_SEGMENTS)
		return 0;
	odd = first_non_gsm(a, w->greeting);
	if (odd == NULL) {
		odd = first_non_gsm(a, w->closing);
		*field = odd ? "closing" : "greeting";
	}
	snprintf(err, errlen, "Greeting and closing line: with the longest business name (%d"
		" characters in a text), date and callback number, the text message would take"
		" %s.%s%s%s Shorten the lines.", WORDING_SMS_NAME_MAX, segments_said(a, text),
		odd ? " The character " : "", odd ? odd : "",
		odd ? " is not in the GSM alphabet." : "");
	return -1;
}

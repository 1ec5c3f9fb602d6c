/* wording: the words of the reminder text and email, and the parts of
 * them a business may change.
 *
 * The messages are templates (state_tables/messages/, WORDING_DIR):
 * sms_reminder.txt, email_reminder_subject.txt, email_reminder.txt and
 * email_reminder.html, and the booking confirmation's sms_booking.txt,
 * email_booking_subject.txt, email_booking.txt and email_booking.html
 * (checked by the same rules), loaded once per process (wording_init) and checked
 * by `ringfence check` (wording_check_templates).  Their placeholders are
 * the voice templates' {{business_name}}, {{appointment_date}},
 * {{appointment_time}} and {{callback_number}}, the business's own lines
 * {{greeting}} and {{closing}}, and in the email parts {{unsubscribe_url}}
 * (DESIGN.md rule 10: nothing else, the appointment's notes least of all,
 * can reach a text, a voicemail or a speakerphone).  The way out cannot be
 * worded away: check refuses a text template that does not tell people to
 * reply STOP to stop, and an email part without {{unsubscribe_url}}.
 *
 * A business edits two lines (settings page, table message_wording in
 * sql/011_settings.sql): a greeting and a closing, plain text of at most
 * WORDING_LINE_MAX characters, whose only placeholders are {business},
 * {date}, {time} and {callback}.  Without a stored row the defaults
 * apply.  These functions are the only producers of the text and email
 * (src/outbound.c sends what they build; the settings page previews what
 * they build), so a preview is the message.
 *
 * Texts stay within 2 SMS segments whatever the values: in a text the
 * business name is its SMS form (wording_sms_name: folded into the GSM
 * alphabet, at most WORDING_SMS_NAME_MAX characters), dates and times
 * have a longest form, a callback number has at most 16 characters, and
 * check counts each at its longest (the business's lines at empty); the
 * settings page refuses lines whose longest text would pass 2 segments.
 * The keyword rule (wording_keyword_problem) keeps carrier keywords for
 * what carriers do with them. */
#ifndef RF_WORDING_H
#define RF_WORDING_H

#include "flow.h"

#include <stddef.h>

struct arena;
struct buf;
struct db;

/* Characters (not bytes) per editable line. */
#define WORDING_LINE_MAX 160

extern const char wording_default_greeting[]; /* "This is a reminder from {business}:" */
extern const char wording_default_closing[];  /* "To change it, call {callback}." */

/* A business's lines (NUL-terminated; checked by wording_check). */
struct wording {
	const char *greeting;
	const char *closing;
};

/* The allowed fields' values for one appointment (plain text). */
struct wording_values {
	const char *business;
	const char *date;
	const char *time;
	const char *callback;
};

/* 0 when line is an acceptable greeting or closing: 1..WORDING_LINE_MAX
 * characters of UTF-8, no control characters, every '{' opening one of
 * the allowed placeholders and no stray '}'.  Otherwise -1 and err gets
 * a sentence naming the problem ("{notes} cannot be used: appointment
 * notes are never sent", "{foo} is not a placeholder ...").  line may be
 * NULL (refused as empty). */
int wording_check(const char *line, char *err, size_t errlen);

/* line with its placeholders replaced by v's values, in the arena; NULL
 * when line does not pass wording_check. */
char *wording_expand(struct arena *a, const char *line, const struct wording_values *v);

/* Which message: the reminder (sms_reminder.txt, email_reminder_*) or the
 * booking confirmation (sms_booking.txt, email_booking_*), sent once
 * shortly after an appointment is booked when the business asks for it
 * (reminders.h).  Both follow the same rules and take the same fields
 * and lines. */
enum wording_message { WORDING_REMINDER, WORDING_BOOKING };

/* The text message: the sms_reminder template with the business's lines
 * and v's values (the business name in its SMS form), in the arena.  NULL
 * with the reason in err when the templates are not loaded, a line does
 * not pass wording_check, or the text would take more than
 * WORDING_SMS_MAX_SEGMENTS segments: nothing may be sent then. */
char *wording_sms(struct arena *a, const struct wording *w, const struct wording_values *v,
	char *err, size_t errlen);

/* The email's subject, plain-text part and HTML part (appended to html,
 * through the escaping template writer, values escaped), from their
 * templates, with the unsubscribe link.  In the arena; NULL / -1 when
 * the templates are not loaded or a line does not pass wording_check. */
char *wording_email_subject(struct arena *a, const struct wording *w,
	const struct wording_values *v);
char *wording_email_text(struct arena *a, const struct wording *w,
	const struct wording_values *v, const char *unsubscribe_url);
int wording_email_html(struct arena *a, struct buf *html, const struct wording *w,
	const struct wording_values *v, const char *unsubscribe_url);

/* The same four for message m (wording_sms and the email functions above
 * are these with WORDING_REMINDER). */
char *wording_message_sms(struct arena *a, enum wording_message m, const struct wording *w,
	const struct wording_values *v, char *err, size_t errlen);
char *wording_message_subject(struct arena *a, enum wording_message m, const struct wording *w,
	const struct wording_values *v);
char *wording_message_text(struct arena *a, enum wording_message m, const struct wording *w,
	const struct wording_values *v, const char *unsubscribe_url);
int wording_message_html(struct arena *a, enum wording_message m, struct buf *html,
	const struct wording *w, const struct wording_values *v, const char *unsubscribe_url);

/* The business's stored lines into *w (in the arena), or the defaults
 * when it has none.  0, or -1 on a database error (the caller sends
 * nothing: rule 1). */
int wording_load(struct db *db, struct arena *a, long long business_id, struct wording *w);

/* ---- templates and content rules ------------------------------------ */

/* state_tables/<WORDING_DIR> holds the message templates (flow.h: not a
 * flow). */
#define WORDING_DIR FLOW_MESSAGES_DIR
/* A text may take at most this many segments, at its longest. */
#define WORDING_SMS_MAX_SEGMENTS 2
/* Characters of the business name in a text (wording_sms_name). */
#define WORDING_SMS_NAME_MAX 30

struct flow_diag;

/* Loads and checks root/state_tables/WORDING_DIR's templates and keeps
 * them for the process (owner: this module, until the next wording_init
 * or exit).  0, or -1 with the first problem in err: the caller does not
 * start (nothing could be sent). */
int wording_init(const char *root, char *err, size_t errlen);

/* `ringfence check` of the templates under root: each problem is one line
 * in d naming the file.  Returns the number of problems. */
int wording_check_templates(const char *root, struct flow_diag *d);

/* What an SMS body is for: the reminder text (may use the business's
 * lines, must offer the STOP opt-out) or a flow's <Message> reply (the
 * four appointment fields only). */
enum wording_sms_kind { WORDING_SMS_REMINDER, WORDING_SMS_REPLY };

/* The rules for one SMS template text: placeholders well-formed and
 * allowed for kind, the longest rendering within
 * WORDING_SMS_MAX_SEGMENTS, the keyword rule, and for a reminder the
 * STOP opt-out.  Each problem goes to d as "<where>: <problem>".
 * Returns the number of problems. */
int wording_check_sms_text(const char *text, enum wording_sms_kind kind, const char *where,
	struct flow_diag *d);

/* The keyword rule on text: 0 when every carrier keyword it suggests
 * (see wording.c) is suggested for what carriers do with it, else -1 and
 * err names the keyword and the problem. */
int wording_keyword_problem(const char *text, char *err, size_t errlen);

/* The business's lines checked for the settings page beyond
 * wording_check: the keyword rule on each, and the reminder text and the
 * booking confirmation's text with them and every field at its longest
 * within WORDING_SMS_MAX_SEGMENTS.
 * 0, or -1 with the reason in err and "greeting" or "closing" in
 * *field.  Needs wording_init. */
int wording_check_lines(struct arena *a, const struct wording *w, char *err, size_t errlen,
	const char **field);

/* The business name as texts carry it, in the arena: each character
 * outside the GSM alphabet replaced by a GSM lookalike (a plain letter
 * for an accented one, straight quotes, '-') or '?', then cut to
 * WORDING_SMS_NAME_MAX characters (the last three "..." when cut). */
char *wording_sms_name(struct arena *a, const char *name);

/* How a text is split into SMS segments.  GSM-7 when every character is
 * in the GSM 03.38 default alphabet or its extension table (an extension
 * character counts two septets and is never split across segments): 160
 * septets in one segment, 153 per segment when concatenated.  Otherwise
 * UCS-2: 70 UTF-16 units in one, 67 per segment (a surrogate pair is
 * never split). */
struct wording_segments {
	int ucs2;       /* 1: UCS-2, 0: GSM-7 */
	int units;      /* septets (GSM-7) or UTF-16 units (UCS-2) */
	int segments;   /* 0 for an empty text */
};
void wording_sms_segments(const char *text, struct wording_segments *out);

/* The segments text may take at most when it is split: as
 * wording_sms_segments, but counting 152 septets (66 UTF-16 units) per
 * segment of a split text, the room left when a two-septet character
 * (a surrogate pair) cannot straddle two segments.  The bound check
 * applies to a longest rendering. */
int wording_sms_segments_bound(const char *text);

#endif

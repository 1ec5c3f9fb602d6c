/* wording: the words of the reminder text and email, and the parts of
 * them a business may change.
 *
 * A business edits two lines (settings page, table message_wording in
 * sql/011_settings.sql): a greeting and a closing, plain text of at most
 * WORDING_LINE_MAX characters, whose only placeholders are {business},
 * {date}, {time} and {callback} (DESIGN.md rule 10: nothing else, the
 * appointment's notes least of all, can reach a text, a voicemail or a
 * speakerphone).  The rest is fixed: the appointment sentence, and the
 * way out (STOP for a text, the unsubscribe link for an email), so no
 * wording can remove the opt-out.  Without a stored row the defaults
 * apply.  These functions are the only producers of the text and email
 * (src/outbound.c sends what they build; the settings page previews what
 * they build), so a preview is the message. */
#ifndef RF_WORDING_H
#define RF_WORDING_H

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

/* The text message: "<greeting> you have an appointment on <date> at
 * <time>. <closing> Reply STOP to stop these texts."  In the arena; NULL
 * when a line does not pass wording_check. */
char *wording_sms(struct arena *a, const struct wording *w, const struct wording_values *v);

/* The email's subject, plain-text part and HTML part (appended to html,
 * through the escaping template writer), with the unsubscribe link.  In
 * the arena; NULL / -1 when a line does not pass wording_check. */
char *wording_email_subject(struct arena *a, const struct wording_values *v);
char *wording_email_text(struct arena *a, const struct wording *w,
	const struct wording_values *v, const char *unsubscribe_url);
int wording_email_html(struct arena *a, struct buf *html, const struct wording *w,
	const struct wording_values *v, const char *unsubscribe_url);

/* The business's stored lines into *w (in the arena), or the defaults
 * when it has none.  0, or -1 on a database error (the caller sends
 * nothing: rule 1). */
int wording_load(struct db *db, struct arena *a, long long business_id, struct wording *w);

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

#endif

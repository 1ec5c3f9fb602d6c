/* calparse: the occurrences of an iCalendar feed (RFC 5545) in a time
 * window, with libical.
 *
 * A feed is what Google Calendar ("secret address in iCal format"),
 * Outlook (a published calendar) or Apple/iCloud (a public calendar)
 * serve: one VCALENDAR of VEVENTs, VTIMEZONEs and properties of their
 * own.  Every event becomes the occurrences that start in the window:
 * a recurring series (RRULE, RDATE, less EXDATE) is expanded, an
 * override of one occurrence (a VEVENT with RECURRENCE-ID) replaces the
 * occurrence it names.  (uid, recurrence_id) is the stable key of an
 * occurrence: the same feed parsed again gives the same keys, so a sync
 * run twice changes nothing.
 *
 * Nothing in a feed can crash the process: libical's errors are made
 * non-fatal, and every size and the time spent are bounded (a feed that
 * takes more than CALPARSE_CPU_MS of CPU to expand is refused).  Not thread-safe
 * (libical's error state is global): call from one thread. */
#ifndef RF_CALPARSE_H
#define RF_CALPARSE_H

#include <stddef.h>

#define CALPARSE_CPU_MS 5000

/* An ATTENDEE of an event (not the ORGANIZER, who is the business
 * itself): the address of a mailto: value and the CN parameter.  Either
 * may be NULL, not both. */
struct cal_attendee {
	char *email; /* the mailto: address as written, NULL when not mailto: */
	char *name;  /* CN, NULL when absent */
};

/* One occurrence of an event in the window. */
struct cal_occurrence {
	char *uid;              /* the event's UID (never NULL, <= 1000 bytes) */
	char recurrence_id[17]; /* "" for a non-recurring event; else the
	                         * occurrence's ORIGINAL start in UTC,
	                         * "YYYYMMDDTHHMMSSZ" (the same for an expanded
	                         * RRULE instance and for its RECURRENCE-ID
	                         * override, so the pair is a stable key) */
	long long starts_s, ends_s; /* UTC epoch seconds (after any override);
	                             * ends_s >= starts_s (DTEND, else DURATION,
	                             * else starts_s) */
	char *summary, *description, *location; /* "" when absent, UTF-8 */
	struct cal_attendee *attendees;
	size_t n_attendees;
	int cancelled;          /* STATUS:CANCELLED (of the event or the override) */
};

/* A parsed feed: the occurrences in the window, sorted by starts_s then
 * uid then recurrence_id, and what was skipped.  Every string of occ
 * (uid, texts, attendees) belongs to the feed, in its arena: the
 * occurrences of one series share them; never free one on its own, and
 * copy what must outlive calparse_free. */
struct cal_feed {
	struct cal_occurrence *occ;
	size_t n;
	size_t all_day, transparent, outside; /* counted, not returned, in VEVENTs
	                                       * (a series counts once): all-day
	                                       * (DATE) events, TRANSP:TRANSPARENT
	                                       * ones, timed events with no
	                                       * occurrence in the window */
	char calendar_tz[64];                 /* X-WR-TIMEZONE or "" */
	size_t unsupported;                   /* series skipped and counted: they
	                                       * repeat more often than daily
	                                       * (FREQ=HOURLY, MINUTELY, SECONDLY:
	                                       * no calendar app writes them, and
	                                       * libical can spend minutes on one) */
	struct arena *arena;                  /* owns the strings (calparse_free) */
};

/* Parses data (len bytes, not necessarily NUL-terminated) and returns
 * every occurrence starting in [from_s, until_s): RRULE/RDATE expanded,
 * EXDATE removed, RECURRENCE-ID overrides applied (an override moved
 * INTO the window counts even if its original time is outside; one
 * moved OUT of it does not appear), all-day (DATE) events and
 * TRANSP:TRANSPARENT events skipped and counted.  Cancelled occurrences
 * ARE returned with cancelled=1 (the caller cancels their reminders).
 * Times: TZID with the feed's VTIMEZONE, or an IANA zone, or a Windows
 * zone name (Outlook: "Pacific Standard Time", "W. Europe Standard
 * Time", ... a mapping of the common CLDR windowsZones entries); UTC
 * ("Z"); floating times in X-WR-TIMEZONE, else default_tz (the
 * business's zone).  Bounds: at most max_occ occurrences (error past
 * it), an RRULE expansion stops at until_s.  Returns 0, or -1 with a
 * one-line reason in err (errlen) for invalid iCalendar (no VCALENDAR,
 * libical parse errors, an event without UID or DTSTART, an unknown
 * TZID, too many occurrences): the caller then changes NOTHING.
 * On -1, *out is empty ({0}); on 0 the caller frees it with
 * calparse_free. */
int calparse_feed(const char *data, size_t len, const char *default_tz,
	long long from_s, long long until_s, size_t max_occ,
	struct cal_feed *out, char *err, size_t errlen);

/* Frees what calparse_feed allocated in f and leaves it empty; f may
 * be empty already. */
void calparse_free(struct cal_feed *f);

/* The IANA zone of a Windows time zone name as Outlook writes it in
 * TZID ("Eastern Standard Time" -> "America/New_York", the "001"
 * territory of CLDR's windowsZones.xml), or NULL when unknown. */
const char *calparse_windows_zone(const char *name);

#endif

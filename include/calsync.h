/* calsync: the calendar sync (issue 11, items 1 and 3): `ringfence
 * calsync` polls each business's calendar feeds and keeps one
 * appointment per occurrence, with its reminders.
 *
 * One feed, one poll:
 *   fetch       calfetch_get (conditional GET, 10 MB, 5 s to connect, 20 s
 *               in all, 3 redirects, https only outside development and
 *               test); a failure changes nothing but the feed's
 *               last_status ('failed'), last_error and failures (the next
 *               poll backs off, doubling up to an hour).
 *   unchanged   a 304, or the same SHA-256 as the content last applied:
 *               only last_polled_at, last_ok_at, last_status change.  The
 *               content is read again (unconditionally) once a day, so that
 *               a recurring event's occurrences entering the horizon get
 *               their appointments.
 *   parse       calparse_feed over [now, now + horizon days), at most
 *               CALSYNC_MAX_OCCURRENCES; invalid iCalendar is a failure.
 *   apply       ONE transaction: each occurrence maps by (feed, UID,
 *               RECURRENCE-ID) to a calendar_events row; new ones find
 *               their client (calmatch) and get an appointment and its
 *               reminders (reminders_plan, as the API); a moved one is
 *               rescheduled (reminders_reschedule); a cancelled one, or a
 *               future one missing from the feed, is cancelled
 *               (reminders_cancel_appointment).  An event that has started
 *               is never touched; an appointment a person cancelled or
 *               completed is left as it is.
 *   guard       when the reminders created + moved + cancelled exceed
 *               max(20, 3 x the business's busiest day: the most
 *               reminders due on one day in the last 90 days and the next
 *               60), or a feed with upcoming events now has none, the
 *               transaction is rolled back and a calendar_holds row (one
 *               open per feed) keeps the counts and a preview for a person.
 *               An approved hold's content (same SHA-256) is applied by the
 *               next poll without the guard.
 *   audit       every poll is an audit record (kind "calendar") with the
 *               counts; never the feed's address. */
#ifndef RF_CALSYNC_H
#define RF_CALSYNC_H

#include <stddef.h>

struct db;
struct audit;

#define CALSYNC_DEFAULT_POLL_S 300
#define CALSYNC_MIN_POLL_S 60          /* outside the test environment */
#define CALSYNC_MAX_BACKOFF_S 3600
#define CALSYNC_DEFAULT_HORIZON_DAYS 60
#define CALSYNC_MAX_BYTES (10u << 20)
#define CALSYNC_CONNECT_MS 5000
#define CALSYNC_TOTAL_MS 20000
#define CALSYNC_MAX_REDIRECTS 3
#define CALSYNC_MAX_OCCURRENCES 20000
#define CALSYNC_REREAD_S 86400         /* an unchanged feed is expanded again after a day */
#define CALSYNC_LEASE_S 300            /* a claimed feed is not claimed again for this long */
#define CALSYNC_GUARD_FLOOR 20
#define CALSYNC_GUARD_FACTOR 3
#define CALSYNC_PREVIEW_MAX 200

struct calsync_opts {
	int poll_s;              /* RINGFENCE_CALENDAR_POLL_S */
	int horizon_days;        /* RINGFENCE_CALENDAR_HORIZON_DAYS */
	int allow_http;          /* development and test */
	size_t max_bytes;
	long connect_ms, total_ms;
	int max_redirects;
	size_t max_occ;
};

/* The defaults above (allow_http 0). */
void calsync_default_opts(struct calsync_opts *o);

/* What one poll of one feed did. */
struct calsync_result {
	const char *status;      /* "ok", "not_modified", "held", "failed", "skipped" */
	char error[512];         /* why it failed ("" otherwise) */
	size_t events;           /* occurrences in the window */
	int new_events, moved_events, cancelled_events, gone_events, no_contact, proposed;
	int creates, reschedules, cancels; /* reminders created, moved, cancelled */
	int threshold;
	long long hold_id;       /* the hold written or applied, 0: none */
};

/* Polls feed feed_id once (whether due or not) at now_s and records the
 * outcome on the feed and in the audit (au may be NULL: no record).
 * Returns 0 (ok, not_modified, held, skipped: a feed turned off) or -1
 * (failed: r->error says why). */
int calsync_feed(struct db *db, struct audit *au, const struct calsync_opts *o,
	long long feed_id, long long now_s, struct calsync_result *r);

/* Claims the next due feed (enabled, next_poll_at <= now_s, or waiting
 * for an approved hold) with FOR UPDATE SKIP LOCKED and moves its
 * next_poll_at CALSYNC_LEASE_S ahead, so no other calsync process polls
 * it meanwhile.  Returns its id, 0 when none is due, -1 on a database
 * error. */
long long calsync_claim(struct db *db, long long now_s);

/* The reminders' threshold of the guard for a business whose busiest day
 * had busiest reminders: max(CALSYNC_GUARD_FLOOR, CALSYNC_GUARD_FACTOR x
 * busiest). */
int calsync_threshold(long long busiest);

/* The wait after failures consecutive failures (>= 1) with poll
 * interval poll_s: poll_s doubled per failure, at most
 * CALSYNC_MAX_BACKOFF_S (never less than poll_s). */
int calsync_backoff(int poll_s, int failures);

/* `ringfence calsync [--once] [--feed ID]`. */
int calsync_main(int argc, char **argv);

#endif

/* worker: `ringfence worker`, the processes that take reminder ids from
 * the ready set, claim them in PostgreSQL and hand them to outbound_send.
 *
 * The claim is ONE statement calling the server-side function
 * reminder_claim (sql/006_limits.sql) in one transaction: it locks the
 * reminder, checks the eligibility rule reminder_block (pending, due, not
 * stale, not deferred, appointment booked or confirmed and in the future,
 * business active or trial, a trial business unverified only calling its
 * own number, recipient neither opted out nor (for calls and texts)
 * invalid, an address, no attempt yet, the failsafe armed, inside the
 * business's calling window in the recipient's time zone, else the
 * business's), takes a transaction-scoped advisory lock on the normalised
 * recipient address, counts the contact limits in contact_attempts (the
 * authority: a Redis restart or flush opens no window), and then writes
 * the contact_attempts row as 'dialing' with a lease, or defers the
 * reminder (not_before) or skips it (attempt 'skipped_rate_limited')
 * when over a limit.
 *
 * Fault injection for the tests, honoured only outside production:
 * RINGFENCE_TEST_CRASH_AT=after_pop|after_claim|during_request|before_record
 * kills the worker process at that point (during_request: a timer of
 * RINGFENCE_TEST_CRASH_DELAY_MS, default 5, armed just before the
 * request). */
#ifndef RF_WORKER_H
#define RF_WORKER_H

#include <stddef.h>

struct arena;
struct db;
struct outbound_attempt;

/* Default lease of a claimed attempt, seconds: after it a 'dialing'
 * attempt is presumed orphaned and becomes 'unknown'.  Longer than the
 * pacer's longest wait plus Twilio's request timeout. */
#define WORKER_LEASE_S 120
/* Default seconds between the reconciler's passes in a running worker. */
#define WORKER_RECONCILE_S 60

/* What worker_claim returns. */
#define WORKER_DROPPED 0  /* not eligible now: reason says why; nothing changed */
#define WORKER_CLAIMED 1  /* the attempt row is 'dialing': hand at to outbound_send */
#define WORKER_DEFERRED 2 /* over a contact limit: pending, not_before set, no attempt */
#define WORKER_SKIPPED 3  /* over a limit until stale: attempt 'skipped_rate_limited' */
#define WORKER_HELD 4     /* the new business's failsafe holds its business: nothing sent */

/* The contact limits the claim enforces (config: RINGFENCE_LIMIT_*). */
struct worker_limits {
	int recipient_day;     /* one recipient, one business, 24 h */
	int recipient_all_day; /* one recipient, all businesses, 24 h */
	int business_hour;     /* one business, 1 h, unless businesses.hourly_limit */
};

/* Claims reminder_id at now_s for worker (a name for the attempt row) with
 * a lease of lease_s seconds; from_default is TWILIO_FROM_NUMBER (may be
 * NULL); lim the limits.  The strings of at and *reason are copied whole
 * into job, the job's arena (they live until it is reset); *reason is
 * never NULL ("" when there is none).  Returns WORKER_CLAIMED and fills
 * at; WORKER_DEFERRED or WORKER_SKIPPED over a limit, with at filled
 * (attempt_id 0 when deferred) and *reason naming the limit (already
 * recorded in PostgreSQL; the caller audits and logs it); WORKER_HELD
 * when the new business's own failsafe holds the business (the hold is
 * in business_holds; at filled, *reason says why); WORKER_DROPPED
 * when the reminder may not be sent now (*reason: reminder_block's
 * reason); -1 on a database error (*reason "": db_last_error(db) says
 * why) or an answer that cannot be read (*reason says which).  It logs
 * nothing: the job's top (worker_child) does. */
int worker_claim(struct db *db, struct arena *job, long long reminder_id, long long now_s,
	const char *worker, int lease_s, const char *from_default, const struct worker_limits *lim,
	struct outbound_attempt *at, const char **reason);

/* `ringfence worker [--concurrency N] [--once] [--reconcile-once] [--lease S]
 * [--reconcile-interval S]`. */
int worker_main(int argc, char **argv);

#endif

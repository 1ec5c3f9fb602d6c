/* worker: `ringfence worker`, the processes that take reminder ids from
 * the ready set, claim them in PostgreSQL and hand them to outbound_send.
 *
 * The claim is ONE statement (DESIGN.md 1.3): it moves the reminder from
 * 'pending' to 'dialing' only while it is still due, not stale, not
 * deferred, its appointment booked or confirmed and in the future, its
 * business active or trial, its recipient neither opted out nor (for
 * calls and texts) invalid, the failsafe armed, no attempt exists, and
 * (for calls and texts) the current time is inside the business's calling
 * window in the recipient's time zone (else the business's); and in the
 * same statement it writes the contact_attempts row as 'dialing' with a
 * lease.  Zero rows: the id is dropped and the reason logged.
 *
 * Fault injection for the tests, honoured only outside production:
 * RINGFENCE_TEST_CRASH_AT=after_pop|after_claim|during_request|before_record
 * kills the worker process at that point (during_request: a timer of
 * RINGFENCE_TEST_CRASH_DELAY_MS, default 5, armed just before the
 * request). */
#ifndef RF_WORKER_H
#define RF_WORKER_H

#include <stddef.h>

struct db;
struct outbound_attempt;

/* Default lease of a claimed attempt, seconds: after it a 'dialing'
 * attempt is presumed orphaned and becomes 'unknown'.  Longer than the
 * pacer's longest wait plus Twilio's request timeout. */
#define WORKER_LEASE_S 120
/* Default seconds between the reconciler's passes in a running worker. */
#define WORKER_RECONCILE_S 60

/* Claims reminder_id at now_s for worker (a name for the attempt row) with
 * a lease of lease_s seconds; from_default is TWILIO_FROM_NUMBER (may be
 * NULL).  Returns 1 and fills at when claimed, 0 when the reminder may not
 * be sent now (reason, when not NULL, gets why as far as a second look
 * can tell), -1 on a database error. */
int worker_claim(struct db *db, long long reminder_id, long long now_s, const char *worker,
	int lease_s, const char *from_default, struct outbound_attempt *at, char *reason,
	size_t reasonlen);

/* `ringfence worker [--concurrency N] [--once] [--reconcile-once] [--lease S]
 * [--reconcile-interval S]`. */
int worker_main(int argc, char **argv);

#endif

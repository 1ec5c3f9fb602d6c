/* reconcile: settles contact attempts whose outcome is unknown, by
 * looking, never by sending (DESIGN.md 1.5).
 *
 * A pass first turns every 'dialing' attempt whose lease expired (its
 * worker died or hung) into 'unknown', then settles each 'unknown' call or
 * text:
 *  - with a provider_sid (Twilio's answer, even a 5xx, named it, or a
 *    status callback did): fetched by sid (twilio_fetch); Twilio has it,
 *    in any status, queued included -> 'placed'; Twilio answers 20404 ->
 *    'not_placed'; anything else -> stays 'unknown';
 *  - without one: every call or message to the number is listed, without
 *    a date filter (twilio_find: a queued call has no start_time, a queued
 *    message no date_sent), and one created since the attempt (less a
 *    2-second slack) that no other attempt owns -> 'placed' with its sid,
 *    whatever its status; 'not_placed' only when the list was read to its
 *    end and held none; a list that failed or was cut short -> stays
 *    'unknown' for the next pass.
 * Email has no list to ask: an unknown email stays 'unknown' for a person
 * to decide (the dashboard shows it); the pass counts them.  The reminder
 * follows its attempt ('unknown', 'placed', 'not_placed'); nothing is
 * re-sent.
 *
 * Then the pass sweeps placed calls whose status callbacks were lost (in
 * a cluster each node names itself as StatusCallback, and Twilio neither
 * retries a status callback nor has a fallback for one: the calls a dead
 * node placed would stay "in progress" for ever).  A voice attempt
 * 'placed' with a provider_sid whose delivery_status is not final and has
 * not changed for RECONCILE_CALL_SILENT_S (longer than any reminder call
 * can last) is fetched by sid, oldest first, at most RECONCILE_BATCH a
 * pass:
 *  - Twilio says it is final -> that status is applied by status_step
 *    (status.h), the very rule of a status callback: the attempt, the
 *    call, the reminder, the retry, the office's notice, all once (a
 *    callback that came first makes it "unchanged": nothing is counted);
 *  - Twilio says it is not final yet -> left for a later pass;
 *  - Twilio answers 20404 -> status_lost_at is set, logged and audited
 *    once; nobody guesses how it ended (a person decides);
 *  - anything else -> left for a later pass.
 * Each settled or lost call is audited (kind reconcile) and counted in
 * ringfence_reconciliations_total (verdicts status_settled, status_pending,
 * status_lost).  RINGFENCE_TEST_CALL_SILENT_S (seconds, 0 included) replaces
 * the bound outside production, for the tests. */
#ifndef RF_RECONCILE_H
#define RF_RECONCILE_H

struct arena;
struct config;
struct db;
struct audit;

struct reconcile_stats {
	int expired;        /* 'dialing' past their lease, now 'unknown' */
	int placed;         /* settled as placed */
	int not_placed;     /* settled as not placed */
	int still_unknown;  /* Twilio could not tell, or email */
	int status_settled; /* silent calls given Twilio's final status */
	int status_pending; /* silent calls not final at Twilio yet, or in doubt */
	int status_lost;    /* silent calls Twilio does not know (20404) */
};

/* Twilio ends a call TimeLimit after it is answered (ringfence sends none:
 * Twilio's default, and maximum, is 14400 s), and one that is not answered
 * Timeout after it rang (OUTBOUND_RING_S); a call may wait in the account's
 * calls-per-second queue before that.  A status unchanged for 4 h 30 min
 * (TimeLimit, and half an hour for the queue and the ringing) outlasts
 * any reminder call.  An account whose limit was raised (Twilio allows up
 * to 24 h per account, in its Console) may still have one going then:
 * the sweep asks Twilio and leaves a call that is not final alone, so the
 * bound only spares Twilio the look-ups, it decides nothing. */
#define RECONCILE_CALL_SILENT_S (14400 + 1800)

/* One pass at now_s (clock_now_s(): leases are written on that clock).
 * Everything the pass allocates (the list of Twilio's calls or messages,
 * the reasons) lives in job, the worker's per-job arena, which the caller
 * resets after the pass.  Only this function logs and audits; the steps
 * below it return what they found.  Returns 0, or -1 when the database
 * could not be read (stats hold what was done before). */
int reconcile_run(const struct config *cfg, struct db *db, struct audit *au, struct arena *job,
	long long now_s, struct reconcile_stats *st);

#endif

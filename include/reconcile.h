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
 * re-sent. */
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
};

/* One pass at now_s (clock_now_s(): leases are written on that clock).
 * Everything the pass allocates (the list of Twilio's calls or messages,
 * the reasons) lives in job, the worker's per-job arena, which the caller
 * resets after the pass.  Only this function logs and audits; the steps
 * below it return what they found.  Returns 0, or -1 when the database
 * could not be read (stats hold what was done before). */
int reconcile_run(const struct config *cfg, struct db *db, struct audit *au, struct arena *job,
	long long now_s, struct reconcile_stats *st);

#endif

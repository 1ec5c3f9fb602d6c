/* reconcile: settles contact attempts whose outcome is unknown, by
 * looking, never by sending (DESIGN.md 1.5).
 *
 * A pass first turns every 'dialing' attempt whose lease expired (its
 * worker died or hung) into 'unknown', then, for each 'unknown' call or
 * text, lists the account's calls or messages to that number since the
 * attempt was created (twilio_find): one that no other attempt owns ->
 * 'placed' with its sid; none, and the list answered -> 'not_placed'; the
 * list failed -> stays 'unknown' for the next pass.  An attempt a status
 * callback already bound to a sid is 'placed' without asking.  Email has
 * no list to ask: an unknown email stays 'unknown' for a person to decide
 * (the dashboard shows it); the pass counts them.  The reminder follows
 * its attempt ('unknown', 'placed', 'not_placed'); nothing is re-sent. */
#ifndef RF_RECONCILE_H
#define RF_RECONCILE_H

struct config;
struct db;
struct audit;

struct reconcile_stats {
	int expired;        /* 'dialing' past their lease, now 'unknown' */
	int placed;         /* settled as placed */
	int not_placed;     /* settled as not placed */
	int still_unknown;  /* list failed, or email */
};

/* One pass at now_s (clock_now_s(): leases are written on that clock).
 * Returns 0, or -1 when the database could not be read (stats hold what
 * was done before). */
int reconcile_run(const struct config *cfg, struct db *db, struct audit *au, long long now_s,
	struct reconcile_stats *st);

#endif

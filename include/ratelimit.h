/* ratelimit: the contact limits' fast pre-check and the per-account pacer
 * in Redis (DESIGN.md rule 6).  Each check runs as one Lua script, so
 * concurrent workers can never both take the last slot in Redis.
 *
 * The authority for the contact limits is PostgreSQL (reminder_claim in
 * sql/006_limits.sql, counting contact_attempts): Redis keeps nothing
 * across a restart or a flush, so what it forgets opens no window; what
 * it still remembers may only refuse more.
 *
 *   rf:rl:to:<biz>:<address>  ZSET of contact times (ms), one recipient from one business, 24 h
 *   rf:rl:to:<address>        ZSET of contact times (ms), one recipient from all businesses, 24 h
 *   rf:rl:biz:<id>            ZSET of contact times (ms) for one business, sliding 1 h
 *   rf:pace:<account>         the next free send slot (ms, Redis TIME)
 *
 * Redis unreachable or answering an error: RATELIMIT_ERROR / -1, and the
 * caller sends nothing. */
#ifndef RF_RATELIMIT_H
#define RF_RATELIMIT_H

struct rds;

enum ratelimit_verdict {
	RATELIMIT_OK,
	RATELIMIT_RECIPIENT,     /* this recipient from this business, 24 h */
	RATELIMIT_BUSINESS,      /* this business, 1 h */
	RATELIMIT_ERROR,
	RATELIMIT_RECIPIENT_ALL, /* this recipient from all businesses, 24 h */
};

/* Counts one contact for recipient and business_id at now_s when all three
 * are within their limits (RATELIMIT_OK), and counts nothing otherwise.
 * Over a limit, *retry_at_s (may be NULL) gets when the first slot of the
 * exceeded limit frees.  A limit of 0 or less refuses everything. */
enum ratelimit_verdict ratelimit_take(struct rds *r, const char *recipient, long long business_id,
	int recipient_per_day, int recipient_all_day, int business_per_hour, long long now_s,
	long long *retry_at_s);

/* Reserves this send's slot for account_sid at 1/cps spacing on Redis's
 * real clock; returns the milliseconds to wait before sending (0: now),
 * or -1 on a Redis error or a bad cps. */
long long ratelimit_pace(struct rds *r, const char *account_sid, double cps);

/* After Twilio's 20429: no slot for account_sid before now + seconds.
 * 0 or -1. */
int ratelimit_backoff(struct rds *r, const char *account_sid, long long seconds);

#endif

/* taskcode: one-time task codes for inbound calls (DESIGN.md rule 11).
 *
 * Caller ID is not authentication: a call that acts on a business must
 * enter a code a logged-in user (or an operator) made for that business
 * and one purpose ("greeting": record the business's greeting).  A code
 * is 6 digits from OpenSSL's RAND_bytes without modulo bias, unique
 * among unexpired codes, valid for TASKCODE_TTL_S seconds, single use,
 * and kept only as HMAC-SHA256 under a key derived from the server
 * secret (TWILIO_AUTH_TOKEN, under its own label as the unsubscribe
 * links and sessions derive theirs), so the table alone gives no code
 * away.  Rotating the auth token invalidates codes not yet used, which
 * live 15 minutes at most anyway.
 *
 * Wrong codes are throttled per caller number (From), per called number
 * (To: the businesses whose number was called) and overall, each over a
 * sliding hour.  PostgreSQL's task_code_attempts is the authority; Redis
 * keeps per-hour counters as a fast pre-check that can only refuse more
 * (what it forgets opens nothing).  While any throttle is full, every
 * code entry is refused, a right one too.  With at most TASKCODE_LIMIT_ALL
 * codes checked per hour whatever the number of callers, a million
 * guesses take over 50,000 hours; the price is that someone guessing
 * can keep everyone from using a code for as long as they keep at it
 * (the owner then records later, or an operator clears the attempts). */
#ifndef RF_TASKCODE_H
#define RF_TASKCODE_H

#include <stddef.h>

struct db;
struct rds;

#define TASKCODE_DIGITS 6
#define TASKCODE_TTL_S (15 * 60)
/* Wrong codes one call may enter before it is ended. */
#define TASKCODE_TRIES_PER_CALL 3
/* Wrong codes per sliding TASKCODE_WINDOW_S. */
#define TASKCODE_WINDOW_S 3600
#define TASKCODE_LIMIT_CALLER 5
#define TASKCODE_LIMIT_CALLED 10
#define TASKCODE_LIMIT_ALL 20

/* Whether purpose is one a code can be made for ("greeting"). */
int taskcode_purpose_valid(const char *purpose);

/* Makes a code for business_id and purpose at now_s, made by user_id (0:
 * an operator at the command line), and revokes the business's earlier
 * unused codes for that purpose.  code gets the 6 digits, *expires_s the
 * expiry.  0; -1 with a one-line reason in err (no such business, bad
 * purpose, database error). */
int taskcode_create(struct db *db, const char *secret, long long business_id,
	const char *purpose, long long user_id, long long now_s, char code[TASKCODE_DIGITS + 1],
	long long *expires_s, char *err, size_t errlen);

enum taskcode_verdict {
	TASKCODE_VALID,      /* right: the code is now used by the call */
	TASKCODE_WRONG,      /* wrong (or expired, used, malformed); the call may try again */
	TASKCODE_LAST_WRONG, /* wrong, and the call's last try */
	TASKCODE_THROTTLED,  /* not even looked at: a throttle is full */
	TASKCODE_ERROR,      /* database error: nothing decided */
};

/* An entered code, as the inbound flow's verify_task_code action sees it. */
struct taskcode_try {
	const char *call_id;   /* calls.id of the inbound call */
	const char *caller;    /* From (a throttle key, never identity) */
	const char *called;    /* To */
	const char *digits;    /* what was entered, may be "" */
	const char *purpose;   /* what the code must be for */
	long long now_s;
};

/* Checks t inside the caller's transaction (the engine's): the
 * throttles (Redis first, then PostgreSQL), then the code.  Records the
 * attempt; on TASKCODE_VALID marks the code used by the call, binds the
 * call to the code's business and puts the business and code ids
 * (decimal, static-free: caller's buffers of 24) in business_id and
 * code_id.  r may be NULL or down: PostgreSQL decides alone. */
enum taskcode_verdict taskcode_verify(struct db *db, struct rds *r, const char *secret,
	const struct taskcode_try *t, char business_id[24], char code_id[24]);

/* `ringfence taskcode create --business ID --purpose greeting`. */
int taskcode_main(int argc, char **argv);

#endif

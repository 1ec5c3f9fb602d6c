/* clock: "now" for the outbound pipeline.
 *
 * Outside production RINGFENCE_NOW (RFC 3339) fixes the current time, so
 * that tests can run the scheduler and the workers at any moment of a
 * simulated day; config refuses it in production.  Every query that asks
 * "is it due / stale / inside the window" passes clock_now_s() as a
 * parameter instead of using SQL now(), so the database and the process
 * agree on one clock.  State is per process (set once by clock_init). */
#ifndef RF_CLOCK_H
#define RF_CLOCK_H

#include <stddef.h>

struct config;

/* Reads cfg->now: NULL uses the real clock; otherwise it must be RFC 3339
 * with Z or a numeric offset ("2026-11-25T10:00:00Z",
 * "2026-11-25T05:00:00-05:00", optional fractional seconds, which are
 * dropped; rfc3339_parse).  Returns 0, or -1 with a one-line reason in err and the clock
 * left unchanged. */
int clock_init(const struct config *cfg, char *err, size_t errlen);

/* Unix seconds: the fixed RINGFENCE_NOW when set, else the real clock. */
long long clock_now_s(void);

/* Formats unix_s as "2026-11-25T10:00:00Z" (UTC) for a timestamptz
 * parameter. */
void clock_sql(long long unix_s, char out[32]);

#endif

/* api_rate: how many JSON API requests one key may make per minute
 * (RINGFENCE_API_RATE_PER_MIN, default 600).
 *
 * A fixed one-minute window per key: a Redis counter
 * "rf:rl:api:<key prefix>:<minute>" (INCR, expiring after two
 * minutes).  Over the limit the request is answered 429 with Retry-After
 * (the seconds left in the minute) before its body is looked at.
 *
 * This protects the service from a runaway integration; it is not one of
 * the safety rules (DESIGN.md 1): an API request contacts nobody (a
 * booking only plans reminders, which the worker's own limits in
 * PostgreSQL govern).  So a lost counter (Redis restarted or flushed)
 * only lets one more minute's worth through, and when Redis cannot be
 * reached the request is let through and the failure logged. */
#ifndef RF_API_RATE_H
#define RF_API_RATE_H

struct app;

/* Counts one request of the key with prefix at now_s (unix seconds)
 * against limit per minute.  1 allowed, 0 over the limit (*retry_after
 * gets 1..60 seconds). */
int api_rate_allow(struct app *app, const char *key_prefix, int limit, long long now_s,
	int *retry_after);

#endif

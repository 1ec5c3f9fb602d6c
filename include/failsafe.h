/* failsafe: the global brake on outbound volume (DESIGN.md rule 7).
 *
 * Contacts are counted per fixed window (300 s and 3600 s on the workers'
 * clock) in PostgreSQL, from contact_attempts (claimed_at in the window;
 * an attempt 'dialing', 'placed' or 'unknown'), so that a Redis restart
 * or flush changes nothing.  Before every contact (its attempt already
 * written by the claim), the count is compared with
 * max(cfg->failsafe_floor, cfg->failsafe_factor x the largest count ever
 * seen in a completed, untripped window of that length, failsafe_maxima).
 * Over it, the failsafe trips: failsafe_state says so with the reason,
 * time and actor, a failsafe_events row records it (with the workers'
 * clock), and nothing is sent by anyone until an operator resumes; the
 * windows then count afresh from the resume.  The tripped state lives in
 * PostgreSQL only, so it survives restarts of every process. */
#ifndef RF_FAILSAFE_H
#define RF_FAILSAFE_H

#include <stddef.h>

struct db;
struct config;

/* The windows counted, in seconds. */
#define FAILSAFE_WINDOWS { 300, 3600 }

/* The threshold for one window: max(floor, ceil(factor x max_count)). */
long long failsafe_threshold(int floor, double factor, long long max_count);

/* Before one contact at now_s, whose attempt row the claim has written:
 * 0 may send (maxima raised from the previous windows), 1 tripped (by
 * this call, with reason filled, or before), -1 cannot tell (database
 * error): do not send. */
int failsafe_check_and_count(struct db *db, const struct config *cfg, long long now_s,
	char *reason, size_t reasonlen);

/* Trips by hand or automatically (actor "automatic"); a trip while
 * already tripped keeps the first reason but is recorded as an event.
 * 0 or -1. */
int failsafe_trip(struct db *db, const char *reason, const char *actor);

/* Re-arms; reason and actor are required and recorded.  0, -1, or -2
 * (refused, nothing changed) while a restore from a backup awaits its
 * reconciliation with Twilio (restore.h): a 'restore' deployment event
 * with no 'restore_reconciled' after it. */
int failsafe_resume(struct db *db, const char *reason, const char *actor);

/* 1 while a restore awaits its reconciliation (see failsafe_resume), 0
 * not, -1 database error. */
int failsafe_restore_pending(struct db *db);

/* 1 tripped (reason filled when reason != NULL), 0 armed, -1 error. */
int failsafe_tripped(struct db *db, char *reason, size_t reasonlen);

/* `ringfence failsafe status|trip|resume`: exit 0, 3 when status finds
 * it tripped, 1 on errors, 2 on usage errors. */
int failsafe_main(int argc, char **argv);

#endif

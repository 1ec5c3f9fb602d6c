/* scheduler: finds the reminders due now and adds their ids to the ready
 * set; marks the ones past their latest useful time skipped_stale.
 *
 * One tick is elected among any number of schedulers by a PostgreSQL
 * advisory lock; a scheduler that does not get it skips the tick.  "Now"
 * is clock_now_s() (RINGFENCE_NOW outside production), passed to every
 * statement as a parameter.  Nothing is backfilled: a reminder is queued
 * only while due_at <= now < stale_at, and only inside the recipient's
 * calling window (the business's window_start..window_end in the client's
 * time zone, else the business's); outside it the reminder stays pending
 * and goes once the window opens, unless it goes stale first.  Queueing is
 * idempotent (a Redis SET): a worker re-validates everything when it
 * claims the reminder, so queueing decides nothing by itself.  Both use
 * one eligibility rule, the SQL function reminder_block. */
#ifndef RF_SCHEDULER_H
#define RF_SCHEDULER_H

struct db;
struct rds;

/* The advisory lock key of a tick ("rfschedl" in ASCII), distinct from
 * MIGRATE_LOCK_KEY. */
#define SCHEDULER_LOCK_KEY "8243403038738703468"

struct scheduler_tick {
	long long now_s;       /* the clock the tick used */
	long long stale;       /* pending reminders marked skipped_stale */
	long long blocked;     /* due reminders of unverified businesses to someone else's
	                          number whose refusal was recorded (sql/016_trial.sql) */
	long long queued;      /* ids added to the ready set (new or already there) */
	long long waiting;     /* due, eligible, but outside the calling window */
	long long deferred;    /* due, eligible, but not_before is later */
	long long ineligible;  /* due but not sendable now (appointment, business, recipient,
	                          no address, already attempted, failsafe tripped) */
	char error[256];       /* why the tick failed ("" when it did not) */
};

/* The statements of a tick, in the order it runs them ($1 now, $2 the
 * stale batch size), so that test/bench/scheduler explains the very SQL
 * the tick runs. */
extern const char scheduler_stale_sql[];
extern const char scheduler_refuse_sql[];
extern const char scheduler_due_sql[];

/* Runs one tick at now_s.  Returns 1 when the tick ran, 0 when another
 * scheduler holds the lock (nothing done), -1 when PostgreSQL or Redis
 * failed (reason in t->error; nothing sent anywhere, the next tick tries
 * again; stale marking that succeeded stays). */
int scheduler_run_tick(struct db *db, struct rds *r, long long now_s, struct scheduler_tick *t);

/* ringfence scheduler [--once] [--interval SECONDS]: ticks until SIGTERM
 * or SIGINT (between ticks), logging one line per tick.  Exit status 0,
 * 1 when --once's tick failed or the configuration is bad, 2 on usage. */
int scheduler_main(int argc, char **argv);

#endif

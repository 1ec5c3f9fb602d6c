/* scheduler: the tick that turns due reminders into ready ids. */
#include "scheduler.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "heartbeat.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "rds.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHEDULER_DEFAULT_INTERVAL 60
#define SCHEDULER_MAX_INTERVAL 86400
/* Stale reminders are marked in batches so that, after a long outage, no
 * single statement runs into the connection's statement timeout. */
#define SCHEDULER_STALE_BATCH "5000"

/* One batch ($2 rows) of the pending reminders whose stale_at has passed
 * at $1, marked skipped_stale. */
const char scheduler_stale_sql[] =
	"UPDATE reminders SET status = 'skipped_stale',"
	" status_reason = 'stale: not sent before '"
	"   || to_char(stale_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	"   || ', its latest useful time (scheduler at ' || $1 || ')',"
	" updated_at = $1::timestamptz"
	/* A range scan of the pending-by-stale_at index (sql/028), in its
	 * order: ordered by due_at, the planner walked every due reminder
	 * through the pending-by-due_at index and read its row to look at
	 * stale_at.  (due_at <= stale_at is a table constraint, so the
	 * due_at condition adds nothing but says what is meant.) */
	" WHERE id IN (SELECT id FROM reminders WHERE status = 'pending' AND due_at <= $1::timestamptz"
	"              AND stale_at <= $1::timestamptz"
	"              ORDER BY stale_at LIMIT $2::int FOR UPDATE SKIP LOCKED)"
	" AND status = 'pending'";

/* The refusals of unverified businesses among the due reminders $2 (an
 * array of ids) recorded at $1 (sql/016_trial.sql); the function checks
 * each again. */
const char scheduler_refuse_sql[] =
	"SELECT count(*) FROM reminder_refuse_unverified($1::timestamptz, $2::bigint[])";

/* Marks one batch of pending reminders whose stale_at has passed.  Returns
 * how many, or -1 (reason in t->error). */
static long long scheduler_mark_stale(struct db *db, const char *now, struct scheduler_tick *t)
{
	const char *p[2] = { now, SCHEDULER_STALE_BATCH };
	PGresult *res;
	long long n = -1;

	res = db_exec_prepared(db, "scheduler_stale", scheduler_stale_sql, 2, p);
	if (res == NULL) {
		snprintf(t->error, sizeof(t->error), "marking stale reminders: %s", db_last_error(db));
		goto out;
	}
	n = atoll(PQcmdTuples(res));
	PQclear(res);
out:
	return n;
}

/* The pending reminders with due_at <= now < stale_at, each with the
 * eligibility rule's verdict: reminder_block_due (sql/031_scheduler_set.sql),
 * the code reminder_block (sql/006_limits.sql, the very rule the worker's
 * claim applies) gives, computed for the whole due set in one query with
 * joins, so that the ready set holds only ids a worker would accept now
 * (the contact limits aside, which only the claim counts).  Its code is
 * NULL (may go now), 'deferred' (not_before later), 'window' (outside the
 * recipient's calling window) or 'ineligible'.  The third column says
 * whether reminder_refuse_unverified has a refusal to record on it (the
 * reason is its own, not yet recorded), so that a tick pays for the
 * refusals only when there is one. */
#define SCHEDULER_DUE_SELECT \
	"SELECT k.id, k.code, k.reason = 'unverified business: only its own number'" \
	"   AND k.status_reason IS DISTINCT FROM" \
	"       'blocked: not allowed — unverified business: only its own number' AS refusal" \
	" FROM reminder_block_due($1::timestamptz) k"
const char scheduler_due_sql[] = SCHEDULER_DUE_SELECT;

/* scheduler_due_sql, read SCHEDULER_DUE_BATCH rows a FETCH. */
#define SCHEDULER_DUE_BATCH "5000"
static const char scheduler_due_cursor_sql[] =
	"DECLARE scheduler_due NO SCROLL CURSOR FOR " SCHEDULER_DUE_SELECT;

/* The due reminders refused because their business is unverified: the
 * refusal recorded on those (they stay pending; see sql/016_trial.sql),
 * t->blocked set.  ids: the due reminders with that verdict.  0 or -1. */
static int scheduler_refuse(struct db *db, const char *now, const long long *ids, size_t n,
	struct scheduler_tick *t)
{
	const char *p[2] = { now, NULL };
	char *list, *at;
	PGresult *res;

	if (n == 0)
		return 0;
	/* "{id,id,...}": at most 20 digits and a comma each. */
	list = xmalloc(n * 21 + 3);
	at = list;
	*at++ = '{';
	for (size_t i = 0; i < n; i++)
		at += sprintf(at, "%s%lld", i ? "," : "", ids[i]);
	*at++ = '}';
	*at = '\0';
	p[1] = list;
	res = db_exec_prepared(db, "scheduler_refuse_unverified", scheduler_refuse_sql, 2, p);
	free(list);
	if (res == NULL) {
		snprintf(t->error, sizeof(t->error), "recording refused reminders: %s", db_last_error(db));
		return -1;
	}
	t->blocked = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (t->blocked > 0)
		log_info("scheduler: %lld due reminder(s) of unverified businesses to numbers not"
			 " their own recorded as blocked (not allowed)", t->blocked);
	return 0;
}

/* Queues what is due and sendable now, records the refusals of unverified
 * businesses among the rest; fills the counts.  0 or -1 (nothing queued). */
static int scheduler_queue_due(struct db *db, struct rds *r, const char *now, struct scheduler_tick *t)
{
	const char *p[1] = { now };
	PGresult *res;
	long long *ids = NULL, *refused = NULL;
	size_t n = 0, nrefused = 0;
	int rc = -1;

	/* Without JIT: as soon as a few thousand reminders are due the
	 * planner's estimates make it compile the query, which took longer
	 * than running it (1.1 s against 0.3 s for 20,000 due rows).  Read through a cursor, SCHEDULER_DUE_BATCH
	 * rows a FETCH: one snapshot as one statement would see, but each
	 * FETCH under the connection's statement timeout (100,000 due
	 * reminders took longer than it as one statement). */
	if (db_begin(db) < 0 || (res = db_exec(db, "SET LOCAL jit = off", 0, NULL)) == NULL) {
		snprintf(t->error, sizeof(t->error), "finding due reminders: %s", db_last_error(db));
		db_rollback(db);
		goto out;
	}
	PQclear(res);
	res = db_exec(db, scheduler_due_cursor_sql, 1, p);
	if (res == NULL) {
		snprintf(t->error, sizeof(t->error), "finding due reminders: %s", db_last_error(db));
		db_rollback(db);
		goto out;
	}
	PQclear(res);
	for (;;) {
		int rows;

		res = db_exec(db, "FETCH " SCHEDULER_DUE_BATCH " FROM scheduler_due", 0, NULL);
		if (res == NULL) {
			snprintf(t->error, sizeof(t->error), "finding due reminders: %s", db_last_error(db));
			db_rollback(db);
			goto out;
		}
		rows = PQntuples(res);
		if (rows > 0) {
			ids = xrealloc(ids, (n + (size_t)rows) * sizeof(*ids));
			refused = xrealloc(refused, (nrefused + (size_t)rows) * sizeof(*refused));
		}
		for (int i = 0; i < rows; i++) {
			const char *code = PQgetvalue(res, i, 1);
			if (PQgetisnull(res, i, 1))
				ids[n++] = atoll(PQgetvalue(res, i, 0));
			else if (strcmp(code, "deferred") == 0)
				t->deferred++;
			else if (strcmp(code, "window") == 0)
				t->waiting++;
			else
				t->ineligible++;
			if (PQgetvalue(res, i, 2)[0] == 't')
				refused[nrefused++] = atoll(PQgetvalue(res, i, 0));
		}
		PQclear(res);
		if (rows < atoi(SCHEDULER_DUE_BATCH))
			break;
	}
	if (db_commit(db) < 0) {
		snprintf(t->error, sizeof(t->error), "finding due reminders: %s", db_last_error(db));
		goto out;
	}
	if (scheduler_refuse(db, now, refused, nrefused, t) < 0)
		goto out;
	if (queue_push(r, ids, n) < 0) {
		snprintf(t->error, sizeof(t->error), "adding %zu ids to the ready set: %s", n,
			rds_last_error(r));
		goto out;
	}
	t->queued = (long long)n;
	rc = 0;
out:
	free(ids);
	free(refused);
	return rc;
}

int scheduler_run_tick(struct db *db, struct rds *r, long long now_s, struct scheduler_tick *t)
{
	const char *key[1] = { SCHEDULER_LOCK_KEY };
	char now[32];
	PGresult *res;
	int locked = 0, rc = -1;

	memset(t, 0, sizeof(*t));
	t->now_s = now_s;
	clock_sql(now_s, now);
	res = db_exec(db, "SELECT pg_try_advisory_lock($1::bigint)", 1, key);
	if (res == NULL) {
		snprintf(t->error, sizeof(t->error), "taking the scheduler lock: %s", db_last_error(db));
		goto out;
	}
	locked = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!locked) {
		rc = 0;
		goto out;
	}
	for (;;) {
		long long n = scheduler_mark_stale(db, now, t);
		if (n < 0)
			goto out;
		t->stale += n;
		if (n < atoll(SCHEDULER_STALE_BATCH))
			break;
	}
	if (scheduler_queue_due(db, r, now, t) < 0)
		goto out;
	rc = 1;
out:
	if (locked) {
		/* A connection lost mid-tick took its session lock with it;
		 * unlocking then fails harmlessly. */
		res = db_exec(db, "SELECT pg_advisory_unlock($1::bigint)", 1, key);
		if (res)
			PQclear(res);
	}
	return rc;
}

/* Logs the one line of a tick. */
static void scheduler_log_tick(int rc, const struct scheduler_tick *t)
{
	char now[32];

	clock_sql(t->now_s, now);
	if (rc == 0)
		log_info("scheduler: tick at %s skipped: another scheduler holds the lock", now);
	else if (rc < 0)
		log_error("scheduler: tick at %s failed, nothing queued; retrying next tick: %s",
			now, t->error);
	else
		log_info("scheduler: tick at %s: %lld queued, %lld marked skipped_stale, %lld waiting for"
			" the calling window, %lld deferred (not_before), %lld not eligible",
			now, t->queued, t->stale, t->waiting, t->deferred, t->ineligible);
}

/* Sleeps seconds unless a stop signal arrives first. */
static void scheduler_sleep(int seconds)
{
	struct timespec ts = { seconds, 0 };

	while (!cli_stopping() && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void scheduler_usage(FILE *out)
{
	fprintf(out, "usage: ringfence scheduler [--once] [--interval SECONDS]\n\n"
		"Each tick (every --interval seconds, default %d; --once: one tick and exit)\n"
		"marks pending reminders past their stale time skipped_stale and adds the ids\n"
		"of reminders due now, inside the recipient's calling window, to the Redis\n"
		"ready set for the workers.  Missed ticks are never replayed.  Several\n"
		"schedulers may run: a PostgreSQL advisory lock elects one per tick.\n"
		"SIGTERM or SIGINT stops the loop between ticks.  RINGFENCE_NOW (not in\n"
		"production) fixes the clock.  Needs RINGFENCE_DATABASE_URL and\n"
		"RINGFENCE_REDIS_URL.  Exit status: 0, 1 when --once's tick failed, 2 on usage.\n",
		SCHEDULER_DEFAULT_INTERVAL);
}

int scheduler_main(int argc, char **argv)
{
	struct config cfg;
	struct db *db = NULL;
	struct rds *r = NULL;
	char err[512];
	int once = 0, interval = SCHEDULER_DEFAULT_INTERVAL, rc = 1;
	struct heartbeat hb;
	long long pruned_ms = -3600 * 1000LL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			scheduler_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--once") == 0) {
			once = 1;
		} else if (strcmp(argv[i], "--interval") == 0) {
			long v;
			if (cli_int_arg("ringfence scheduler", "--interval",
				    i + 1 < argc ? argv[++i] : NULL, 1, SCHEDULER_MAX_INTERVAL, &v) < 0)
				return 2;
			interval = (int)v;
		} else {
			fprintf(stderr, "ringfence scheduler: unknown argument '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (config_load(&cfg, CFG_NEED_DB | CFG_NEED_REDIS | CFG_NEED_FROM, err, sizeof(err)) < 0 ||
		clock_init(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence scheduler: %s\n", err);
		return 1;
	}
	if (cli_check_redis("ringfence scheduler", &cfg) < 0)
		return 1;
	r = rds_open(cfg.redis_url);
	if (r == NULL) {
		fprintf(stderr, "ringfence scheduler: RINGFENCE_REDIS_URL is malformed\n");
		goto out;
	}
	db = db_open(cfg.database_url);
	/* The sleep between ticks ends at once on either. */
	cli_catch_stop(SIGTERM);
	cli_catch_stop(SIGINT);
	if (!once)
		log_info("scheduler: started, a tick every %d s%s", interval,
			cfg.now ? " (clock fixed by RINGFENCE_NOW)" : "");
	rc = 0;
	metrics_open(cfg.run_dir, METRICS_SCHEDULER);
	heartbeat_init(&hb, db, "scheduler", interval);
	if (!once)
		heartbeat_notify("READY=1");
	while (!cli_stopping()) {
		struct scheduler_tick t;
		int trc = scheduler_run_tick(db, r, clock_now_s(), &t);
		db_end_unit(db); /* what a failed tick left open, if anything */
		scheduler_log_tick(trc, &t);
		if (!once) {
			heartbeat_notify("WATCHDOG=1");
			heartbeat_beat(&hb, trc > 0 ? HEARTBEAT_TICK : trc == 0 ? HEARTBEAT_OK
				: HEARTBEAT_ERROR, t.error);
			if (util_now_ms() - pruned_ms >= 3600 * 1000LL && heartbeat_prune(db) >= 0)
				pruned_ms = util_now_ms();
		}
		if (once) {
			rc = trc < 0 ? 1 : 0;
			break;
		}
		scheduler_sleep(interval);
	}
	if (!once) {
		heartbeat_notify("STOPPING=1");
		heartbeat_stop(&hb);
		log_info("scheduler: stopped");
	}
out:
	db_close(db);
	rds_close(r);
	return rc;
}

/* failsafe: the global brake on outbound volume.
 *
 * Why the historical maximum comes from completed windows only: if the
 * window being counted raised the maximum as it grew, the threshold
 * (factor x maximum) would always stay ahead of the count and a flood
 * would never trip it.  So a window's count becomes history when the
 * next window of that length begins, and a window in which the failsafe
 * tripped never becomes history (a flood must not loosen the brake).
 *
 * The counts are read from contact_attempts in PostgreSQL (claimed_at in
 * the window), not kept anywhere else, so that a Redis restart, flush or
 * failover changes nothing (DESIGN.md rule 7). */
#include "failsafe.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const long long failsafe_windows[] = FAILSAFE_WINDOWS;
#define FS_NWIN ((int)ARRAY_LEN(failsafe_windows))

/* See failsafe.h. */
long long failsafe_threshold(int floor, double factor, long long max_count)
{
	double scaled;
	long long t;
	if (max_count < 0)
		max_count = 0;
	if (!(factor >= 0) || !isfinite(factor))
		factor = 0;
	scaled = factor * (double)max_count;
	if (scaled > 1e15)
		scaled = 1e15;
	t = (long long)scaled;
	if ((double)t < scaled)
		t++; /* rounded up: the threshold is never below factor x maximum */
	return t > floor ? t : floor;
}

/* See failsafe.h. */
int failsafe_tripped(struct db *db, char *reason, size_t reasonlen)
{
	PGresult *res = db_exec_prepared(db, "failsafe_state",
		"SELECT tripped, coalesce(reason, '') FROM failsafe_state WHERE id = 1", 0, NULL);
	int ret = -1;

	if (res == NULL) {
		log_error("failsafe: cannot read the failsafe state: %s", db_last_error(db));
		goto out;
	}
	if (PQntuples(res) != 1) {
		log_error("failsafe: the failsafe_state row is missing: treating as tripped");
		goto out;
	}
	ret = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (ret == 1 && reason && reasonlen > 0)
		snprintf(reason, reasonlen, "%s", PQgetvalue(res, 0, 1));
out:
	if (res)
		PQclear(res);
	return ret;
}

/* Trips with the event's clock at clock (a timestamp for SQL, NULL: the
 * database's now()): the windows are measured on the workers' clock.
 * One statement: the state and the event are written together or not at
 * all. */
static int failsafe_trip_at(struct db *db, const char *reason, const char *actor, const char *clock)
{
	const char *p[3] = { reason, actor, clock };
	PGresult *res;

	if (reason == NULL || reason[0] == '\0' || actor == NULL || actor[0] == '\0') {
		log_error("failsafe: a trip needs a reason and an actor");
		return -1;
	}
	res = db_exec_prepared(db, "failsafe_trip",
		"WITH s AS (INSERT INTO failsafe_state (id, tripped, reason, tripped_at, tripped_by)"
		"  VALUES (1, true, $1, now(), $2)"
		"  ON CONFLICT (id) DO UPDATE SET tripped = true,"
		"   reason = CASE WHEN failsafe_state.tripped THEN failsafe_state.reason ELSE $1 END,"
		"   tripped_at = CASE WHEN failsafe_state.tripped THEN failsafe_state.tripped_at ELSE now() END,"
		"   tripped_by = CASE WHEN failsafe_state.tripped THEN failsafe_state.tripped_by ELSE $2 END"
		"  RETURNING 1)"
		" INSERT INTO failsafe_events (event, reason, actor, clock_at)"
		" SELECT 'trip', $1, $2, COALESCE($3::timestamptz, now()) FROM s",
		3, p);
	if (res == NULL) {
		log_error("failsafe: could not record the trip (%s): %s", reason, db_last_error(db));
		return -1;
	}
	PQclear(res);
	log_error("FAILSAFE TRIPPED by %s: %s. All outbound contact is stopped until "
		  "`ringfence failsafe resume --reason TEXT --by NAME`.", actor, reason);
	return 0;
}

/* See failsafe.h. */
int failsafe_trip(struct db *db, const char *reason, const char *actor)
{
	return failsafe_trip_at(db, reason, actor, NULL);
}

/* True while the newest 'restore' deployment event has no
 * 'restore_reconciled' after it (sql/024_ops.sql). */
#define FAILSAFE_RESTORE_PENDING_SQL \
	"EXISTS (SELECT 1 FROM deployment_events r WHERE r.kind = 'restore'" \
	" AND NOT EXISTS (SELECT 1 FROM deployment_events c WHERE c.kind = 'restore_reconciled'" \
	" AND c.id > r.id))"

/* See failsafe.h. */
int failsafe_restore_pending(struct db *db)
{
	PGresult *res = db_exec_prepared(db, "failsafe_restore_pending",
		"SELECT " FAILSAFE_RESTORE_PENDING_SQL, 0, NULL);
	int rc = -1;

	if (res != NULL && PQntuples(res) == 1)
		rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (res)
		PQclear(res);
	return rc;
}

/* See failsafe.h. */
int failsafe_resume(struct db *db, const char *reason, const char *actor)
{
	const char *p[2] = { reason, actor };
	PGresult *res;

	if (reason == NULL || reason[0] == '\0' || actor == NULL || actor[0] == '\0') {
		log_error("failsafe: a resume needs a reason and who resumes");
		return -1;
	}
	/* One statement: a restore recorded between the check and the
	 * update cannot slip through. */
	res = db_exec_prepared(db, "failsafe_resume",
		"WITH s AS (UPDATE failsafe_state SET tripped = false, resumed_at = now(),"
		"   resumed_by = $2, resume_reason = $1 WHERE id = 1 AND NOT " FAILSAFE_RESTORE_PENDING_SQL
		"   RETURNING 1)"
		" INSERT INTO failsafe_events (event, reason, actor) SELECT 'resume', $1, $2 FROM s"
		" RETURNING id",
		2, p);
	if (res == NULL) {
		log_error("failsafe: could not record the resume: %s", db_last_error(db));
		return -1;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		if (failsafe_restore_pending(db) == 1) {
			log_error("failsafe: resume refused: a restore awaits `ringfence restore-reconcile`");
			return -2;
		}
		log_error("failsafe: the failsafe_state row is missing");
		return -1;
	}
	PQclear(res);
	log_warn("failsafe: resumed by %s: %s", actor, reason);
	return 0;
}

/* The stored maxima for each window into max[] (0 when absent); 0/-1. */
static int failsafe_maxima(struct db *db, long long max[FS_NWIN])
{
	PGresult *res = db_exec_prepared(db, "failsafe_maxima",
		"SELECT window_seconds, max_count FROM failsafe_maxima", 0, NULL);
	if (res == NULL) {
		log_error("failsafe: cannot read the historical maxima: %s", db_last_error(db));
		return -1;
	}
	for (int i = 0; i < FS_NWIN; i++)
		max[i] = 0;
	for (int r = 0; r < PQntuples(res); r++) {
		long long w = atoll(PQgetvalue(res, r, 0));
		for (int i = 0; i < FS_NWIN; i++)
			if (w == failsafe_windows[i])
				max[i] = atoll(PQgetvalue(res, r, 1));
	}
	PQclear(res);
	return 0;
}

/* Raises the stored maximum of window w to count when it is larger. */
static int failsafe_raise(struct db *db, long long w, long long count)
{
	char ws[24], cs[24];
	const char *p[2] = { ws, cs };
	PGresult *res;
	snprintf(ws, sizeof(ws), "%lld", w);
	snprintf(cs, sizeof(cs), "%lld", count);
	res = db_exec_prepared(db, "failsafe_raise",
		"INSERT INTO failsafe_maxima (window_seconds, max_count) VALUES ($1::integer, $2::integer)"
		" ON CONFLICT (window_seconds) DO UPDATE"
		"  SET max_count = GREATEST(failsafe_maxima.max_count, EXCLUDED.max_count), updated_at = now()"
		"  WHERE failsafe_maxima.max_count < EXCLUDED.max_count",
		2, p);
	if (res == NULL) {
		log_error("failsafe: cannot raise the %llds maximum: %s", w, db_last_error(db));
		return -1;
	}
	PQclear(res);
	return 0;
}

/* For each window length (ascending, as FAILSAFE_WINDOWS): the contacts
 * claimed in the current fixed window and in the previous one, and
 * whether the failsafe tripped during the previous one.  A contact is an
 * attempt 'dialing', 'placed' or 'unknown' (as for the limits).  Only
 * attempts written after the last resume count: a resume starts the
 * current windows afresh instead of tripping again on the next contact.
 * $1 now, $2 the window lengths. */
static const char failsafe_count_sql[] =
	"WITH w AS (SELECT s AS secs, to_timestamp(floor(extract(epoch FROM $1::timestamptz) / s) * s) AS cur"
	"   FROM unnest($2::int[]) s),"
	" rs AS (SELECT COALESCE(max(created_at), '-infinity'::timestamptz) AS at FROM failsafe_events"
	"   WHERE event = 'resume')"
	" SELECT w.secs,"
	"  (SELECT count(*) FROM contact_attempts x WHERE x.claimed_at >= w.cur"
	"    AND x.claimed_at < w.cur + make_interval(secs => w.secs)"
	"    AND x.status IN ('dialing', 'placed', 'unknown') AND x.created_at > rs.at),"
	"  (SELECT count(*) FROM contact_attempts x WHERE x.claimed_at >= w.cur - make_interval(secs => w.secs)"
	"    AND x.claimed_at < w.cur"
	"    AND x.status IN ('dialing', 'placed', 'unknown') AND x.created_at > rs.at),"
	"  EXISTS (SELECT 1 FROM failsafe_events e WHERE e.event = 'trip'"
	"    AND e.clock_at >= w.cur - make_interval(secs => w.secs) AND e.clock_at < w.cur)"
	" FROM w, rs ORDER BY w.secs";

/* See failsafe.h. */
int failsafe_check_and_count(struct db *db, const struct config *cfg, long long now_s,
	char *reason, size_t reasonlen)
{
	long long max[FS_NWIN], thr[FS_NWIN], cur[FS_NWIN], prev[FS_NWIN];
	int prev_tripped[FS_NWIN];
	PGresult *res = NULL;
	char now[32], wins[16 * FS_NWIN + 2], why[400];
	const char *p[2] = { now, wins };
	size_t off = 0;
	int ret = -1, t;

	if (reason && reasonlen > 0)
		reason[0] = '\0';
	if (db == NULL || cfg == NULL || now_s <= 0) {
		log_error("failsafe: bad arguments");
		goto out;
	}
	t = failsafe_tripped(db, reason, reasonlen);
	if (t != 0) {
		ret = t;
		goto out;
	}
	if (failsafe_maxima(db, max) < 0)
		goto out;
	clock_sql(now_s, now);
	wins[off++] = '{';
	for (int i = 0; i < FS_NWIN; i++)
		off += (size_t)snprintf(wins + off, sizeof(wins) - off, "%s%lld", i ? "," : "",
			failsafe_windows[i]);
	snprintf(wins + off, sizeof(wins) - off, "}");
	res = db_exec_prepared(db, "failsafe_count", failsafe_count_sql, 2, p);
	if (res == NULL) {
		log_error("failsafe: cannot count the windows: %s: not sending", db_last_error(db));
		goto out;
	}
	if (PQntuples(res) != FS_NWIN) {
		log_error("failsafe: unexpected answer counting the windows");
		goto out;
	}
	for (int i = 0; i < FS_NWIN; i++) {
		if (atoll(PQgetvalue(res, i, 0)) != failsafe_windows[i]) {
			log_error("failsafe: unexpected answer counting the windows");
			goto out;
		}
		cur[i] = atoll(PQgetvalue(res, i, 1));
		prev[i] = atoll(PQgetvalue(res, i, 2));
		prev_tripped[i] = PQgetvalue(res, i, 3)[0] == 't';
		thr[i] = failsafe_threshold(cfg->failsafe_floor, cfg->failsafe_factor, max[i]);
	}
	/* The attempt in hand is already written by the claim: the count
	 * includes it. */
	for (int i = 0; i < FS_NWIN; i++) {
		if (cur[i] <= thr[i])
			continue;
		snprintf(why, sizeof(why),
			"outbound volume: contact %lld in the current %llds window is over the threshold %lld"
			" = max(floor %d, %g x historical maximum %lld)",
			cur[i], failsafe_windows[i], thr[i], cfg->failsafe_floor, cfg->failsafe_factor, max[i]);
		if (reason && reasonlen > 0)
			snprintf(reason, reasonlen, "%s", why);
		if (failsafe_trip_at(db, why, "automatic", now) < 0)
			log_error("FAILSAFE: over the threshold but the trip could not be recorded: %s", why);
		ret = 1;
		goto out;
	}
	/* A failure below still refuses the contact. */
	for (int i = 0; i < FS_NWIN; i++)
		if (!prev_tripped[i] && prev[i] > max[i] &&
			failsafe_raise(db, failsafe_windows[i], prev[i]) < 0)
			goto out;
	ret = 0;
out:
	if (res)
		PQclear(res);
	return ret;
}

/* `ringfence failsafe` usage on out. */
static void failsafe_usage(FILE *out)
{
	fprintf(out,
		"usage: ringfence failsafe status\n"
		"       ringfence failsafe trip --reason TEXT [--by NAME]\n"
		"       ringfence failsafe resume --reason TEXT --by NAME\n\n"
		"The global brake on outbound calls, texts and emails.  It trips by itself when\n"
		"the contacts of a 5-minute or 1-hour window exceed max(RINGFENCE_FAILSAFE_FLOOR,\n"
		"RINGFENCE_FAILSAFE_FACTOR x the largest such window so far), or by hand with\n"
		"`trip`; while tripped nothing is sent and /metrics shows\n"
		"ringfence_failsafe_tripped 1.  Only `resume` re-arms it, recording who and why;\n"
		"after deploy/restore it refuses until `ringfence restore-reconcile` has\n"
		"compared the restored database with Twilio.\n\n"
		"status exits 0 when armed, 3 when tripped (printing the reason, time and who).\n"
		"trip --by defaults to $USER.  Needs RINGFENCE_DATABASE_URL.  The windows are\n"
		"counted in PostgreSQL from the contact attempts; after a resume the current\n"
		"windows count afresh from the resume on.\n");
}

/* Prints the state; 0 armed, 3 tripped, 1 error. */
static int failsafe_print_status(struct db *db)
{
	PGresult *res = db_exec_prepared(db, "failsafe_status",
		"SELECT tripped, coalesce(reason, ''), coalesce(to_char(tripped_at AT TIME ZONE 'UTC',"
		" 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), coalesce(tripped_by, ''),"
		" coalesce(to_char(resumed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"
		" coalesce(resumed_by, ''), coalesce(resume_reason, '')"
		" FROM failsafe_state WHERE id = 1", 0, NULL);
	int rc = 1;

	if (res == NULL || PQntuples(res) != 1) {
		fprintf(stderr, "ringfence failsafe: cannot read the failsafe state: %s\n",
			res ? "the failsafe_state row is missing" : db_last_error(db));
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		printf("failsafe: TRIPPED\nreason: %s\nsince: %s\nby: %s\n", PQgetvalue(res, 0, 1),
			PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
		rc = 3;
	} else {
		printf("failsafe: armed\n");
		if (PQgetvalue(res, 0, 4)[0])
			printf("last resumed: %s by %s: %s\n", PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5),
				PQgetvalue(res, 0, 6));
		rc = 0;
	}
out:
	if (res)
		PQclear(res);
	return rc;
}

/* See failsafe.h. */
int failsafe_main(int argc, char **argv)
{
	struct config cfg;
	char err[512];
	const char *cmd, *why = NULL, *by = NULL;
	struct db *db = NULL;
	int rc = 2;

	if (argc < 2) {
		failsafe_usage(stderr);
		goto out;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		failsafe_usage(stdout);
		rc = 0;
		goto out;
	}
	if (strcmp(cmd, "status") != 0 && strcmp(cmd, "trip") != 0 && strcmp(cmd, "resume") != 0) {
		fprintf(stderr, "ringfence failsafe: unknown command '%s' (see --help)\n", cmd);
		goto out;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			failsafe_usage(stdout);
			rc = 0;
			goto out;
		} else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc) {
			why = argv[++i];
		} else if (strcmp(argv[i], "--by") == 0 && i + 1 < argc) {
			by = argv[++i];
		} else {
			fprintf(stderr, "ringfence failsafe: unknown or incomplete argument '%s' (see --help)\n",
				argv[i]);
			goto out;
		}
	}
	if (strcmp(cmd, "status") == 0 && (why || by)) {
		fprintf(stderr, "ringfence failsafe: status takes no arguments\n");
		goto out;
	}
	if (strcmp(cmd, "trip") == 0 && (by == NULL || by[0] == '\0'))
		by = getenv("USER");
	if (strcmp(cmd, "status") != 0) {
		if (why == NULL || why[0] == '\0') {
			fprintf(stderr, "ringfence failsafe: %s needs --reason TEXT\n", cmd);
			goto out;
		}
		if (by == NULL || by[0] == '\0') {
			fprintf(stderr, "ringfence failsafe: %s needs --by NAME\n", cmd);
			goto out;
		}
		if (strlen(why) > 1000 || strlen(by) > 200) {
			fprintf(stderr, "ringfence failsafe: --reason is limited to 1000 bytes, --by to 200\n");
			goto out;
		}
	}
	rc = 1;
	if (config_load(&cfg, CFG_NEED_DB, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence failsafe: %s\n", err);
		goto out;
	}
	db = db_open(cfg.database_url);
	if (db_connect(db) < 0) {
		fprintf(stderr, "ringfence failsafe: cannot connect to the database: %s\n", db_last_error(db));
		goto out;
	}
	if (strcmp(cmd, "status") == 0) {
		rc = failsafe_print_status(db);
	} else if (strcmp(cmd, "trip") == 0) {
		if (failsafe_trip(db, why, by) < 0) {
			fprintf(stderr, "ringfence failsafe: the trip was not recorded: %s\n", db_last_error(db));
			goto out;
		}
		printf("failsafe: tripped by %s: %s\n", by, why);
		rc = 0;
	} else {
		int t = failsafe_tripped(db, NULL, 0);
		if (t < 0) {
			fprintf(stderr, "ringfence failsafe: cannot read the failsafe state: %s\n", db_last_error(db));
			goto out;
		}
		if (t == 0) {
			printf("failsafe: not tripped; nothing to resume\n");
			rc = 0;
			goto out;
		}
		t = failsafe_resume(db, why, by);
		if (t == -2) {
			fprintf(stderr, "ringfence failsafe: refused: the database was restored from a backup"
				" and not reconciled yet; run `ringfence restore-reconcile` first\n");
			goto out;
		}
		if (t < 0) {
			fprintf(stderr, "ringfence failsafe: the resume was not recorded: %s\n", db_last_error(db));
			goto out;
		}
		printf("failsafe: resumed by %s: %s\n", by, why);
		rc = 0;
	}
out:
	if (db)
		db_close(db);
	return rc;
}

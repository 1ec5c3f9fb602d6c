/* ringfence: one binary, one subcommand per role. */
#include "apikey.h"
#include "app.h"
#include "audit.h"
#include "audit_replay.h"
#include "business.h"
#include "calsync.h"
#include "check.h"
#include "cli.h"
#include "command.h"
#include "config.h"
#include "db.h"
#include "demo.h"
#include "doctor.h"
#include "failsafe.h"
#include "fcgi.h"
#include "flow_paths.h"
#include "log.h"
#include "migrate.h"
#include "restore.h"
#include "rds.h"
#include "scheduler.h"
#include "taskcode.h"
#include "users.h"
#include "util.h"
#include "worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every run refreshes the table of time zone names (sql/030): tzdata is
 * updated with the operating system, between releases. */
static int migrate_main(int argc, char **argv)
{
	return migrate_command(argc, argv, "ringfence migrate", "sql", NULL,
		"SELECT rf_refresh_time_zone_names()");
}

/* The long-running commands start only when the database holds no
 * contract migration newer than this release (migrate_guard); --help
 * needs no database. */
static int guarded(int (*fn)(int, char **), int argc, char **argv)
{
	char prog[64];

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return fn(argc, argv);
	snprintf(prog, sizeof(prog), "ringfence %s", argv[0]);
	if (migrate_guard(prog) < 0)
		return 1;
	return fn(argc, argv);
}

static int fcgi_main(int argc, char **argv) { return guarded(app_main, argc, argv); }
static int scheduler_guarded(int argc, char **argv) { return guarded(scheduler_main, argc, argv); }
static int worker_guarded(int argc, char **argv) { return guarded(worker_main, argc, argv); }
static int calsync_guarded(int argc, char **argv) { return guarded(calsync_main, argc, argv); }
/* A reload's new workers run the release RINGFENCE_ROOT resolves to:
 * each checks too, so that a reload into a release older than a contract
 * migration fails and the old workers serve on. */
static int fcgi_worker_guarded(int argc, char **argv) { return guarded(app_worker_main, argc, argv); }

/* Prints each record of recs, one compact JSON object per line. */
static void audit_print(json_t *recs)
{
	size_t i;
	json_t *rec;

	json_array_foreach(recs, i, rec) {
		char *s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
		if (s) {
			puts(s);
			free(s);
		}
	}
}

/* `ringfence audit fallback|replay` (audit_replay.h): file is --file or
 * RINGFENCE_AUDIT_FALLBACK. */
static int audit_fallback_main(const char *scope, const char *file, int max)
{
	struct config cfg;
	struct audit_replay_stats st;
	char err[512];
	struct rds *r;
	json_t *recs;
	int files = 0, rc = 1;

	if (config_load(&cfg, strcmp(scope, "replay") == 0 ? CFG_NEED_REDIS : 0, err,
		    sizeof(err)) < 0) {
		fprintf(stderr, "ringfence audit: %s\n", err);
		return 1;
	}
	if (file == NULL)
		file = cfg.audit_fallback;
	if (file == NULL || file[0] == '\0') {
		fprintf(stderr, "ringfence audit: no fallback log: give --file or set"
			" RINGFENCE_AUDIT_FALLBACK\n");
		return 1;
	}
	if (strcmp(scope, "fallback") == 0) {
		recs = audit_fallback_read(file, max, &files);
		if (recs == NULL) {
			fprintf(stderr, "ringfence audit: cannot read %s: %s\n", file, strerror(errno));
			return 1;
		}
		audit_print(recs);
		json_decref(recs);
		return 0;
	}
	r = rds_open(cfg.redis_url);
	if (r == NULL) {
		fprintf(stderr, "ringfence audit: RINGFENCE_REDIS_URL is malformed\n");
		return 1;
	}
	if (audit_replay(r, file, &st) < 0) {
		fprintf(stderr, "ringfence audit: replay of %s stopped (%s): %d added, %d replayed"
			" before; the files are unchanged, run it again\n", file,
			rds_last_error(r)[0] ? rds_last_error(r) : strerror(errno), st.added, st.already);
	} else {
		printf("replayed %s (%d file(s)): %d added, %d replayed before, %d found in Redis"
			" already, %d unreadable line(s) left out\n", file, st.files, st.added,
			st.already, st.present, st.skipped);
		rc = 0;
	}
	rds_close(r);
	return rc;
}

static int audit_main(int argc, char **argv)
{
	struct config cfg;
	char err[512];
	struct rds *r;
	json_t *recs;
	int max = 100, rc = 1;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: ringfence audit call CALLSID | business ID | all | errors | rejected\n"
		       "                       [--max N]\n"
		       "       ringfence audit sources\n"
		       "       ringfence audit fallback [--file F] [--max N]\n"
		       "       ringfence audit replay [--file F]\n\n"
		       "Prints the audit records of one call, one business, everything, the\n"
		       "errors, or the summaries of rejected (unsigned, unauthenticated, too large)\n"
		       "requests, oldest first, one JSON object per line.  `sources` prints the\n"
		       "rejected requests counted per source address and hour (48 hours kept).\n"
		       "`fallback` prints the records of the fallback log (F, default\n"
		       "RINGFENCE_AUDIT_FALLBACK, its rotated files F.1 .. and logrotate's\n"
		       "weekly F-YYYYMMDD-<seconds>), written while\n"
		       "Redis was down; `replay` puts them into the streams they were meant for,\n"
		       "marked \"replayed\": true, once (a second replay adds nothing), leaving\n"
		       "the files as they are.  Needs RINGFENCE_REDIS_URL (not for `fallback`).\n");
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "ringfence audit: say which records (see --help)\n");
		return 2;
	}
	const char *scope = argv[1];
	const char *id = NULL;
	int next = 2;
	if (strcmp(scope, "call") == 0 || strcmp(scope, "business") == 0) {
		if (argc < 3) {
			fprintf(stderr, "ringfence audit: %s needs an id\n", scope);
			return 2;
		}
		id = argv[2];
		next = 3;
	} else if (strcmp(scope, "all") != 0 && strcmp(scope, "errors") != 0 &&
		strcmp(scope, "rejected") != 0 && strcmp(scope, "sources") != 0 &&
		strcmp(scope, "fallback") != 0 && strcmp(scope, "replay") != 0) {
		fprintf(stderr, "ringfence audit: unknown scope '%s' (see --help)\n", scope);
		return 2;
	}
	const char *file = NULL;
	int fb = strcmp(scope, "fallback") == 0 || strcmp(scope, "replay") == 0;
	for (int i = next; i < argc; i++) {
		if (fb && strcmp(argv[i], "--file") == 0 && i + 1 < argc && argv[i + 1][0]) {
			file = argv[++i];
		} else if (strcmp(argv[i], "--max") == 0 && strcmp(scope, "replay") != 0) {
			long v;
			if (cli_int_arg("ringfence audit", "--max", i + 1 < argc ? argv[++i] : NULL, 1,
				    100000, &v) < 0)
				return 2;
			max = (int)v;
		} else {
			fprintf(stderr, "ringfence audit: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (fb)
		return audit_fallback_main(scope, file, max);
	if (config_load(&cfg, CFG_NEED_REDIS, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence audit: %s\n", err);
		return 1;
	}
	if (cli_check_redis("ringfence audit", &cfg) < 0)
		return 1;
	r = rds_open(cfg.redis_url);
	if (r == NULL) {
		fprintf(stderr, "ringfence audit: RINGFENCE_REDIS_URL is malformed\n");
		return 1;
	}
	recs = strcmp(scope, "sources") == 0 ? audit_sources(r) : audit_read(r, scope, id, max);
	if (recs == NULL) {
		fprintf(stderr, "ringfence audit: cannot read from Redis: %s\n", rds_last_error(r));
	} else {
		audit_print(recs);
		json_decref(recs);
		rc = 0;
	}
	rds_close(r);
	return rc;
}

static const struct command commands[] = {
	{ "fcgi", fcgi_main, "serve the web application (FastCGI pool, under spawn-fcgi -n)" },
	{ "fcgi-reload", fcgi_reload_main, "reload the FastCGI pool into the current release without dropping a request" },
	{ "fcgi-worker", fcgi_worker_guarded, NULL },
	{ "scheduler", scheduler_guarded, "queue the reminders due now (advisory-locked ticks, never backfills)" },
	{ "worker", worker_guarded, "claim and send due reminders (one send function: allow-list, limits, failsafe)" },
	{ "calsync", calsync_guarded, "poll the businesses' calendar feeds into appointments (held for approval past the mass-change guard)" },
	{ "migrate", migrate_main, "apply pending database migrations" },
	{ "failsafe", failsafe_main, "show, trip or resume the global outbound failsafe" },
	{ "doctor", doctor_main, "check this deployment end to end: configuration, database, Redis, Twilio and the numbers' webhooks, public URL, audio, processes" },
	{ "restore-reconcile", restore_reconcile_main, "after deploy/restore: mark what Twilio sent since the backup, apply its opt-outs, hold what a person must decide" },
	{ "check", check_main, "check every call flow's state table, templates and audio" },
	{ "diagram", diagram_main, "print a call flow as a Graphviz dot graph" },
	{ "paths", paths_main, "list every path through a flow, or write one simulator script per path" },
	{ "audit", audit_main, "print audit records of a call, a business, or all" },
	{ "user", users_main, "add a dashboard login for a business" },
	{ "apikey", apikey_main, "create or revoke a business's key for the JSON API" },
	{ "business", business_main, "verify a business, take it back, or resume its own failsafe's hold" },
	{ "taskcode", taskcode_main, "make a one-time task code for an inbound call (greeting)" },
	{ "demo", demo_main, "seed the demo business, clients and appointments once; --reset starts over (not in production)" },
};

int main(int argc, char **argv)
{
	return command_dispatch("ringfence", commands, ARRAY_LEN(commands), NULL, argc, argv);
}

/* ringfence: one binary, one subcommand per role. */
#include "apikey.h"
#include "app.h"
#include "audit.h"
#include "business.h"
#include "calsync.h"
#include "check.h"
#include "cli.h"
#include "command.h"
#include "config.h"
#include "db.h"
#include "demo.h"
#include "failsafe.h"
#include "flow_paths.h"
#include "log.h"
#include "migrate.h"
#include "rds.h"
#include "scheduler.h"
#include "taskcode.h"
#include "users.h"
#include "util.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int migrate_main(int argc, char **argv)
{
	return migrate_command(argc, argv, "ringfence migrate", "sql", NULL);
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
		       "       ringfence audit sources\n\n"
		       "Prints the audit records of one call, one business, everything, the\n"
		       "errors, or the summaries of rejected (unsigned, unauthenticated, too large)\n"
		       "requests, oldest first, one JSON object per line.  `sources` prints the\n"
		       "rejected requests counted per source address and hour (48 hours kept).\n"
		       "Needs RINGFENCE_REDIS_URL.\n");
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
		strcmp(scope, "rejected") != 0 && strcmp(scope, "sources") != 0) {
		fprintf(stderr, "ringfence audit: unknown scope '%s' (see --help)\n", scope);
		return 2;
	}
	for (int i = next; i < argc; i++) {
		if (strcmp(argv[i], "--max") == 0) {
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
	if (config_load(&cfg, CFG_NEED_REDIS, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence audit: %s\n", err);
		return 1;
	}
	r = rds_open(cfg.redis_url);
	if (r == NULL) {
		fprintf(stderr, "ringfence audit: RINGFENCE_REDIS_URL is malformed\n");
		return 1;
	}
	recs = strcmp(scope, "sources") == 0 ? audit_sources(r) : audit_read(r, scope, id, max);
	if (recs == NULL) {
		fprintf(stderr, "ringfence audit: cannot read from Redis: %s\n", rds_last_error(r));
	} else {
		size_t i;
		json_t *rec;
		json_array_foreach(recs, i, rec) {
			char *s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
			if (s) {
				puts(s);
				free(s);
			}
		}
		json_decref(recs);
		rc = 0;
	}
	rds_close(r);
	return rc;
}

static const struct command commands[] = {
	{ "fcgi", fcgi_main, "serve the web application (FastCGI pool, under spawn-fcgi -n)" },
	{ "scheduler", scheduler_guarded, "queue the reminders due now (advisory-locked ticks, never backfills)" },
	{ "worker", worker_guarded, "claim and send due reminders (one send function: allow-list, limits, failsafe)" },
	{ "calsync", calsync_guarded, "poll the businesses' calendar feeds into appointments (held for approval past the mass-change guard)" },
	{ "migrate", migrate_main, "apply pending database migrations" },
	{ "failsafe", failsafe_main, "show, trip or resume the global outbound failsafe" },
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

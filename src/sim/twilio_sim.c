/* twilio_sim: `ringfence-sim twilio-sim`, the local Twilio stand-in. */
#include "sim/twilio_sim.h"
#include "buf.h"
#include "cli.h"
#include "config.h"
#include "db.h"
#include "fcgi.h"
#include "log.h"
#include "migrate.h"
#include "sim/sim_api.h"
#include "sim/sim_callee.h"
#include "sim/sim_driver.h"
#include "sim/sim_store.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_DEFAULT_WORKERS 2
#define SIM_MAX_WORKERS CFG_SIM_MAX_WORKERS
#define SIM_MAX_CPS CFG_SIM_MAX_CPS
#define SIM_MAX_QUEUE_DELAY_MS ((long)CFG_SIM_MAX_QUEUE_DELAY_MS)
#define PROG "ringfence-sim twilio-sim" /* in messages */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ringfence-sim twilio-sim [--workers N] [--script FILE] [--cps N]\n"
		"                            [--queue-delay-ms MS]\n"
		"\n"
		"The local Twilio stand-in, served on the FastCGI socket passed as fd 0\n"
		"(spawn-fcgi -n -s SOCKET -- ringfence-sim twilio-sim).  It answers Twilio's\n"
		"REST API (Calls.json, Messages.json) as the account TWILIO_ACCOUNT_SID with\n"
		"the token TWILIO_AUTH_TOKEN, and a driver process plays the queued calls\n"
		"and messages against the application: signed webhooks, TwiML, scripted\n"
		"callees, status callbacks, SMS replies.  State lives in PostgreSQL (schema\n"
		"twilio_sim, created from sql/sim/ at start) and survives restarts.\n"
		"\n"
		"  --workers N     FastCGI workers (1 to %d, default RINGFENCE_SIM_WORKERS or %d)\n"
		"  --script FILE   callees to load at start, one \"NUMBER BEHAVIOUR\" a line\n"
		"                  (default RINGFENCE_SIM_SCRIPT); see include/sim/sim_callee.h\n"
		"  --cps N         calls dialled per second (0 to %d, default RINGFENCE_SIM_CPS\n"
		"                  or 0: no limit; Twilio's default is 1): a call waits queued,\n"
		"                  without a start_time, until its turn\n"
		"  --queue-delay-ms MS\n"
		"                  every call and message stays queued at least MS\n"
		"                  milliseconds after its creation (0 to %ld, default\n"
		"                  RINGFENCE_SIM_QUEUE_DELAY_MS or 0), to catch one queued\n"
		"\n"
		"It refuses to run with RINGFENCE_ENV=production.\n"
		"\n"
		"Its own API, with the same credentials: POST /sim/callees (Number,\n"
		"Behaviour), GET /sim/callees, GET /sim/calls/SID/transcript and\n"
		"/sim/calls/SID/events.json (and the same under /sim/messages/).\n"
		"\n"
		"Needs RINGFENCE_DATABASE_URL, RINGFENCE_PUBLIC_URL (where SMS replies go),\n"
		"TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.  RINGFENCE_SIM_TIME_SCALE (default\n"
		"1) multiplies every wait: 0.1 plays a call ten times faster.\n",
		SIM_MAX_WORKERS, SIM_DEFAULT_WORKERS, SIM_MAX_CPS, SIM_MAX_QUEUE_DELAY_MS);
}

/* One worker's state: the API and its database handle. */
static int service_init(void **state, char *err, size_t errlen)
{
	struct sim_api *api = xmalloc(sizeof(*api));
	if (sim_api_init(api, err, errlen) < 0) {
		free(api);
		return -1;
	}
	*state = api;
	return 0;
}

static void service_handle(void *state, struct http_request *req, struct http_response *res)
{
	sim_api_handle(state, req, res);
}

static void service_free(void *state)
{
	if (state == NULL)
		return;
	sim_api_free(state);
	free(state);
}

/* Parses a positive scale factor ("1", "0.05"); 0 or -1. */
static int parse_scale(const char *v, double *out)
{
	char *end;
	double d;
	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(d) || d <= 0 || d > CFG_SIM_MAX_TIME_SCALE)
		return -1;
	*out = d;
	return 0;
}


struct load_ctx {
	struct db *db;
	int n;
};

static int load_one(void *ctx, const char *number, const char *spec, const struct sim_callee *c)
{
	struct load_ctx *l = ctx;
	(void)c;
	if (sim_store_callee_set(l->db, number, spec) < 0)
		return -1;
	l->n++;
	return 0;
}

/* Applies the simulator's pending migrations (its schema's own set,
 * outside the product's).  0, or -1 with the reason on stderr. */
static int apply_migrations(const struct config *cfg)
{
	struct db *db = db_open(cfg->database_url);
	char *dir = xasprintf("%s/%s", cfg->root, SIM_SQL_DIR);
	int rc = -1;

	if (db_connect(db) < 0) {
		fprintf(stderr, "ringfence-sim twilio-sim: cannot connect to the database: %s\n",
			db_last_error(db));
		goto out;
	}
	if (migrate_apply(db, dir, SIM_SCHEMA) < 0) {
		fprintf(stderr, "ringfence-sim twilio-sim: its migrations (%s) failed; see the log above\n", dir);
		goto out;
	}
	rc = 0;
out:
	db_close(db);
	free(dir);
	return rc;
}

/* The account owns TWILIO_FROM_NUMBER from the start, its voice and
 * messaging webhooks pointed at this deployment as the README's console
 * steps say, so that a local stack is doctor-green; a number already
 * owned keeps what was set since (through the API).  0, or -1 with the
 * reason on stderr. */
static int seed_numbers(const struct config *cfg)
{
	struct db *db = db_open(cfg->database_url);
	struct buf json = BUF_INIT;
	const char *v[SNF_N] = { NULL };
	char sid[35], *voice = NULL, *sms = NULL;
	int rc = -1;

	if (cfg->from_number == NULL) {
		rc = 0;
		goto out;
	}
	voice = xasprintf("%s/twilio/voice/inbound", cfg->public_url);
	sms = xasprintf("%s/twilio/sms/inbound", cfg->public_url);
	v[SNF_VOICE_URL] = voice;
	v[SNF_SMS_URL] = sms;
	if (db_connect(db) < 0 || sim_store_new_sid("PN", sid) < 0 ||
		sim_store_number_insert(db, cfg->account_sid, sid, cfg->from_number, v, &json) < 0) {
		fprintf(stderr, "ringfence-sim twilio-sim: cannot give the account %s: %s\n",
			cfg->from_number, db_last_error(db));
		goto out;
	}
	rc = 0;
out:
	buf_free(&json);
	free(voice);
	free(sms);
	db_close(db);
	return rc;
}

/* Loads the callees of a script file into the database.  0, or -1 with
 * the reason on stderr. */
static int load_script(const struct config *cfg, const char *path)
{
	struct load_ctx l = { db_open(cfg->database_url), 0 };
	char err[512];
	int rc = -1;

	if (db_connect(l.db) < 0) {
		fprintf(stderr, "ringfence-sim twilio-sim: cannot connect to the database: %s\n",
			db_last_error(l.db));
		goto out;
	}
	if (sim_callee_load_file(path, load_one, &l, err, sizeof(err)) < 0) {
		if (err[0])
			fprintf(stderr, "ringfence-sim twilio-sim: %s\n", err);
		else
			fprintf(stderr, "ringfence-sim twilio-sim: %s: cannot store the callees: %s\n", path,
				db_last_error(l.db));
		goto out;
	}
	log_info("twilio-sim: %d callees loaded from %s", l.n, path);
	rc = 0;
out:
	db_close(l.db);
	return rc;
}

int twilio_sim_main(int argc, char **argv)
{
	static struct sim_driver_opts opts; /* read by the driver child for its whole life */
	struct fcgi_service svc;
	struct config cfg;
	const char *script = getenv("RINGFENCE_SIM_SCRIPT"), *v;
	char err[512];
	long workers = SIM_DEFAULT_WORKERS, cps = 0, delay = 0;

	v = getenv("RINGFENCE_SIM_CPS");
	if (v && *v && cli_int_arg(PROG, "RINGFENCE_SIM_CPS", v, 0, SIM_MAX_CPS, &cps) < 0)
		return 1;
	v = getenv("RINGFENCE_SIM_QUEUE_DELAY_MS");
	if (v && *v && cli_int_arg(PROG, "RINGFENCE_SIM_QUEUE_DELAY_MS", v, 0,
			       SIM_MAX_QUEUE_DELAY_MS, &delay) < 0)
		return 1;
	v = getenv("RINGFENCE_SIM_WORKERS");
	if (v && *v && cli_int_arg(PROG, "RINGFENCE_SIM_WORKERS", v, 1, SIM_MAX_WORKERS, &workers) < 0)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--workers") == 0) {
			if (cli_int_arg(PROG, "--workers", i + 1 < argc ? argv[++i] : NULL, 1,
				    SIM_MAX_WORKERS, &workers) < 0)
				return 2;
		} else if (strcmp(argv[i], "--script") == 0 && i + 1 < argc) {
			script = argv[++i];
		} else if (strcmp(argv[i], "--cps") == 0) {
			if (cli_int_arg(PROG, "--cps", i + 1 < argc ? argv[++i] : NULL, 0, SIM_MAX_CPS,
				    &cps) < 0)
				return 2;
		} else if (strcmp(argv[i], "--queue-delay-ms") == 0) {
			if (cli_int_arg(PROG, "--queue-delay-ms", i + 1 < argc ? argv[++i] : NULL, 0,
				    SIM_MAX_QUEUE_DELAY_MS, &delay) < 0)
				return 2;
		} else {
			fprintf(stderr, "ringfence-sim twilio-sim: unknown argument '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	/* A stand-in for Twilio has no business in production, whatever
	 * starts it (the systemd unit refuses too). */
	v = getenv("RINGFENCE_ENV");
	if (v && strcmp(v, "production") == 0) {
		fprintf(stderr, "ringfence-sim twilio-sim: refusing to run with RINGFENCE_ENV=production:"
				" the simulator is for development and tests only\n");
		return 1;
	}
	if (config_load(&cfg, CFG_NEED_DB | CFG_NEED_TWILIO | CFG_NEED_PUBLIC_URL, err,
		    sizeof(err)) < 0) {
		fprintf(stderr, "ringfence-sim twilio-sim: %s\n", err);
		return 1;
	}
	opts.time_scale = 1.0;
	opts.cps = (int)cps;
	opts.queue_delay_ms = delay;
	v = getenv("RINGFENCE_SIM_TIME_SCALE");
	if (v && *v && parse_scale(v, &opts.time_scale) < 0) {
		fprintf(stderr, "ringfence-sim twilio-sim: RINGFENCE_SIM_TIME_SCALE must be a number above 0 and at most 100, not '%s'\n", v);
		return 1;
	}
	if (apply_migrations(&cfg) < 0 || seed_numbers(&cfg) < 0)
		return 1;
	if (script && *script && load_script(&cfg, script) < 0)
		return 1;

	memset(&svc, 0, sizeof(svc));
	svc.name = "twilio-sim";
	svc.init = service_init;
	svc.handle = service_handle;
	svc.free = service_free;
	svc.extra_run = sim_driver_run;
	svc.extra_ctx = &opts;
	svc.extra_name = "driver";
	return fcgi_serve(&svc, (int)workers);
}

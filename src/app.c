/* app: a FastCGI worker's long-lived state, and the web application as
 * a service of the FastCGI pool (`ringfence fcgi`). */
#include "app.h"
#include "clock.h"
#include "audit.h"
#include "cli.h"
#include "db.h"
#include "dispatch.h"
#include "engine.h"
#include "metrics.h"
#include "fcgi.h"
#include "rds.h"
#include "routes.h"
#include "util.h"
#include "wording.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int app_init(struct app *app, char *err, size_t errlen)
{
	char *fallback = NULL;
	int rc = -1;

	memset(app, 0, sizeof(*app));
	if (config_load(&app->cfg, CFG_NEED_DB | CFG_NEED_REDIS | CFG_NEED_PUBLIC_URL |
			CFG_NEED_TWILIO, err, errlen) < 0)
		goto out;
	/* RINGFENCE_NOW, for every route alike (app_main checked it). */
	if (clock_init(&app->cfg, err, errlen) < 0)
		goto out;
	app->monitoring = getenv("RINGFENCE_MONITORING_ADDRESSES");
	if (metrics_addr_list_check(app->monitoring, err, errlen) < 0)
		goto out;
	metrics_open(app->cfg.run_dir, METRICS_FCGI);
	app->db = db_open(app->cfg.database_url);
	app->read_db = app->cfg.database_read_url ? db_open(app->cfg.database_read_url) : app->db;
	app->rds = rds_open(app->cfg.redis_url);
	if (app->rds == NULL) {
		snprintf(err, errlen, "RINGFENCE_REDIS_URL is malformed");
		goto out;
	}
	if (app->cfg.audit_fallback)
		fallback = xstrdup(app->cfg.audit_fallback);
	else
		fallback = xasprintf("%s/var/log/audit-fallback.log", app->cfg.root);
	app->audit = audit_open(app->rds, fallback);
	audit_add_secret(app->cfg.auth_token);
	app->engine = engine_new(app->cfg.root, app->cfg.public_url, err, errlen);
	if (app->engine == NULL)
		goto out;
	{
		/* Where Twilio keeps this account's recordings: a RecordingUrl
		 * anywhere else is not one of ours. */
		char *rec = xasprintf("%s/2010-04-01/Accounts/%s/Recordings/", app->cfg.api_url,
			app->cfg.account_sid);
		engine_attach(app->engine, app->rds, app->cfg.auth_token, rec);
		free(rec);
	}
	/* The settings page previews texts and emails from the templates. */
	if (wording_init(app->cfg.root, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	free(fallback);
	if (rc < 0)
		app_free(app);
	return rc;
}

void app_free(struct app *app)
{
	engine_free(app->engine);
	if (app->audit)
		audit_close(app->audit);
	if (app->rds)
		rds_close(app->rds);
	if (app->read_db != app->db)
		db_close(app->read_db);
	db_close(app->db);
	memset(app, 0, sizeof(*app));
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ringfence fcgi [--workers N]\n"
		"\n"
		"Serves the FastCGI application on the listening socket passed as fd 0\n"
		"(spawn-fcgi -n -s SOCKET -M 0660 -- ringfence fcgi).  The master pre-forks\n"
		"N workers (default RINGFENCE_FCGI_WORKERS or 4), respawns dead ones, and on\n"
		"SIGTERM lets each finish its request in hand before exiting.  SIGHUP (or\n"
		"ringfence fcgi-reload) starts new workers from the release RINGFENCE_ROOT\n"
		"points at now and retires the old ones once the new are ready.\n"
		"\n"
		"Needs RINGFENCE_DATABASE_URL, RINGFENCE_REDIS_URL, RINGFENCE_PUBLIC_URL,\n"
		"TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.  RINGFENCE_MONITORING_ADDRESSES (optional):\n"
		"address blocks besides loopback that may read /healthz, /readyz and /metrics\n"
		"(\"10.0.0.0/8, fd00::/8\"); anyone else gets 404 there.\n");
}

/* The web application as a pool service: one struct app per worker. */
static int app_service_init(void **state, char *err, size_t errlen)
{
	struct app *app = xmalloc(sizeof(*app));
	if (app_init(app, err, errlen) < 0) {
		free(app);
		return -1;
	}
	app->defer_audit = 1;
	*state = app;
	return 0;
}

static void app_service_handle(void *state, struct http_request *req, struct http_response *res)
{
	struct app *app = state;

	routes_dispatch(app, req, res);
	/* A handler that gave up inside a transaction leaves nothing behind. */
	db_end_unit(app->db);
	if (app->read_db != app->db)
		db_end_unit(app->read_db);
}

/* After the answer: the audit record the request left (dispatch.h). */
static void app_service_after(void *state)
{
	dispatch_after(state);
}

static void app_service_free(void *state)
{
	if (state == NULL)
		return;
	app_free(state);
	free(state);
}

static const struct fcgi_service app_service = {
	.name = "fcgi",
	.init = app_service_init,
	.handle = app_service_handle,
	.after = app_service_after,
	.free = app_service_free,
	.worker_cmd = "fcgi-worker",
	.bin_name = "ringfence",
};

const struct fcgi_service *app_fcgi_service(void)
{
	return &app_service;
}

int app_worker_main(int argc, char **argv)
{
	return fcgi_worker_main(&app_service, argc, argv);
}

int app_main(int argc, char **argv)
{
	struct config cfg;
	char err[512];
	long workers = -1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--workers") == 0) {
			if (cli_int_arg("ringfence fcgi", "--workers", i + 1 < argc ? argv[++i] : NULL, 1,
				    FCGI_MAX_WORKERS, &workers) < 0)
				return 2;
		} else {
			fprintf(stderr, "ringfence fcgi: unknown argument '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (config_load(&cfg, CFG_NEED_DB | CFG_NEED_REDIS | CFG_NEED_PUBLIC_URL | CFG_NEED_TWILIO,
		    err, sizeof(err)) < 0 || clock_init(&cfg, err, sizeof(err)) < 0 ||
		metrics_addr_list_check(getenv("RINGFENCE_MONITORING_ADDRESSES"), err,
			sizeof(err)) < 0) {
		fprintf(stderr, "ringfence fcgi: %s\n", err);
		return 1;
	}
	if (cli_check_redis("ringfence fcgi", &cfg) < 0)
		return 1;
	return fcgi_serve(&app_service, workers > 0 ? (int)workers : cfg.fcgi_workers);
}

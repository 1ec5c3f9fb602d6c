/* app: what one FastCGI worker process owns for its whole life, handed to
 * every request handler: the configuration, its own PostgreSQL and Redis
 * connections (opened after fork, re-opened after failure), the audit
 * writer and the loaded call flows; and `ringfence fcgi`, the web
 * application served on the FastCGI pool (fcgi.h) with one struct app per
 * worker and the route dispatch (routes.h) as its handler. */
#ifndef RF_APP_H
#define RF_APP_H

#include "config.h"

struct db;
struct rds;
struct audit;
struct engine;
struct webhook_record;

struct app {
	struct config cfg;
	struct db *db;
	/* RINGFENCE_DATABASE_READ_URL's handle (lazily connected), for the
	 * dashboard's reads where a second of staleness is harmless
	 * (db_read_exec); the same pointer as db when it is unset. */
	struct db *read_db;
	struct rds *rds;
	struct audit *audit;
	struct engine *engine;
	/* The pool's workers write a webhook's audit record after the
	 * answer (dispatch_after); deferred: the one taken down, in the
	 * request arena, until then. */
	int defer_audit;
	struct webhook_record *deferred;
	const char *monitoring;   /* RINGFENCE_MONITORING_ADDRESSES: CIDR blocks that may read
	                             /healthz, /readyz and /metrics besides loopback; NULL: none */
};

/* Opens the connections handles (lazily connected) and loads the flows.
 * Returns 0, or -1 with a one-line reason in err. */
int app_init(struct app *app, char *err, size_t errlen);
void app_free(struct app *app);

/* `ringfence fcgi [--workers N]`: loads the configuration and serves the
 * application until SIGTERM; returns the exit status. */
int app_main(int argc, char **argv);
/* The web application as a service of the pool (its worker's init,
 * handle, after and free), for the callgrind driver. */
struct fcgi_service;
const struct fcgi_service *app_fcgi_service(void);
/* `ringfence fcgi-worker`: one worker of a reloaded generation (fcgi.h
 * fcgi_worker_main), started by the pool's master. */
int app_worker_main(int argc, char **argv);

#endif

/* fcgi: the generic pre-forked FastCGI pool (master + workers). */
#include "fcgi.h"
#include "arena.h"
#include "cli.h"
#include "http.h"
#include "log.h"
#include "proc_pool.h"

#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A worker retires after this many requests so that a slow leak in any
 * library cannot grow without bound; the master replaces it. */
#define FCGI_MAX_REQUESTS 100000
#define FCGI_STOP_GRACE_S 20

/* Serves one request: read, dispatch, answer.  Everything it allocates is
 * in arena, reset by the caller after FCGX_Finish_r. */
static void serve_one(const struct fcgi_service *svc, void *state, FCGX_Request *fcgx,
	struct arena *arena)
{
	struct http_request req;
	struct http_response res;

	http_response_init(&res, arena);
	if (http_request_read(fcgx, arena, &req) < 0) {
		http_response_text(&res, 400, "bad request");
	} else {
		svc->handle(state, &req, &res);
	}
	if (http_response_send(fcgx, &res) < 0)
		log_warn("%s: client went away before the response was written", svc->name);
	log_set_request_id(NULL);
}

/* A worker (slot < n): serves requests until SIGTERM or its request
 * budget; returns its exit status. */
static int worker_run(const struct fcgi_service *svc, int listen_fd)
{
	void *state = NULL;
	FCGX_Request fcgx;
	struct arena *arena;
	char err[256];
	sigset_t term, old;
	long served = 0;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);

	if (svc->init(&state, err, sizeof(err)) < 0) {
		log_error("%s worker: %s", svc->name, err);
		return 3;
	}
	arena = arena_new(16384);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fcgx, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("%s worker: cannot initialise libfcgi", svc->name);
		return 3;
	}
	while (!cli_stopping() && served < FCGI_MAX_REQUESTS) {
		int rc = FCGX_Accept_r(&fcgx);
		if (rc < 0) {
			if (cli_stopping())
				break;
			if (errno == EINTR || rc == -EINTR)
				continue;
			log_error("%s worker: accept failed (%d)", svc->name, rc);
			break;
		}
		/* A SIGTERM arriving mid-request waits until the answer is out:
		 * interrupted system calls inside libpq or libfcgi would
		 * otherwise cut the request short. */
		sigprocmask(SIG_BLOCK, &term, &old);
		serve_one(svc, state, &fcgx, arena);
		FCGX_Finish_r(&fcgx);
		arena_reset(arena);
		served++;
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	FCGX_Free(&fcgx, 1);
	arena_free(arena);
	svc->free(state);
	return 0;
}

/* The extra child (slot n): closes the listening socket (it serves no
 * request), puts SIGTERM and SIGHUP back to their defaults (SIGTERM ends
 * it unless the function installs its own handler) and runs the
 * service's function. */
static int extra_run(const struct fcgi_service *svc, int listen_fd)
{
	close(listen_fd);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	return svc->extra_run(svc->extra_ctx);
}

struct pool {
	const struct fcgi_service *svc;
	int n; /* workers; slot n, when the service has one, is the extra child */
	int listen_fd;
};

static int pool_run_slot(void *ctx, int slot)
{
	const struct pool *pool = ctx;
	if (slot == pool->n)
		return extra_run(pool->svc, pool->listen_fd);
	return worker_run(pool->svc, pool->listen_fd);
}

static const char *pool_slot_what(void *ctx, int slot)
{
	const struct pool *pool = ctx;
	if (slot == pool->n)
		return pool->svc->extra_name ? pool->svc->extra_name : "extra child";
	return "worker";
}

int fcgi_serve(const struct fcgi_service *svc, int nworkers)
{
	struct pool pool;
	struct proc_pool pp;
	struct proc_pool_report rep;
	void *probe = NULL;
	char err[512];
	struct stat st;

	if (nworkers < 1 || nworkers > FCGI_MAX_WORKERS) {
		fprintf(stderr, "ringfence %s: the pool needs 1 to %d workers\n", svc->name,
			FCGI_MAX_WORKERS);
		return 1;
	}
	if (fstat(0, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "ringfence %s: fd 0 is not a listening socket; run under spawn-fcgi -n\n",
			svc->name);
		return 1;
	}
	/* Build the state once in the master so that a broken deployment
	 * fails at start with a reason, not in every worker. */
	if (svc->init(&probe, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence %s: %s\n", svc->name, err);
		return 1;
	}
	svc->free(probe);

	pool.svc = svc;
	pool.n = nworkers;
	pool.listen_fd = 0;
	memset(&pp, 0, sizeof(pp));
	pp.name = svc->name;
	pp.n = nworkers + (svc->extra_run ? 1 : 0);
	pp.run = pool_run_slot;
	pp.ctx = &pool;
	pp.what = pool_slot_what;
	pp.respawn = 1;
	pp.stop_grace_s = FCGI_STOP_GRACE_S;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	log_info("%s: master %d serving with %d workers%s%s", svc->name, (int)getpid(), nworkers,
		svc->extra_run ? " and a " : "", svc->extra_run ? pool_slot_what(&pool, nworkers) : "");
	if (proc_pool_run(&pp, &rep) < 0)
		return 1;
	log_info("%s: stopped", svc->name);
	return 0;
}

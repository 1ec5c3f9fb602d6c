/* fcgi: the pre-forked FastCGI pool (master + workers). */
#include "fcgi.h"
#include "app.h"
#include "arena.h"
#include "http.h"
#include "log.h"
#include "routes.h"
#include "util.h"

#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A worker retires after this many requests so that a slow leak in any
 * library cannot grow without bound; the master replaces it. */
#define FCGI_MAX_REQUESTS 100000
#define FCGI_STOP_GRACE_S 20
#define FCGI_MAX_WORKERS 256

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t child_exited;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_child(int sig)
{
	(void)sig;
	child_exited = 1;
}

/* Installs handler for sig without SA_RESTART, so a blocking accept() is
 * interrupted and the loop can notice stop_requested. */
static void set_handler(int sig, void (*fn)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ringfence fcgi [--workers N]\n"
		"\n"
		"Serves the FastCGI application on the listening socket passed as fd 0\n"
		"(spawn-fcgi -n -s SOCKET -M 0660 -- ringfence fcgi).  The master pre-forks\n"
		"N workers (default RINGFENCE_FCGI_WORKERS or 4), respawns dead ones, and on\n"
		"SIGTERM lets each finish its request in hand before exiting.\n"
		"\n"
		"Needs RINGFENCE_DATABASE_URL, RINGFENCE_REDIS_URL, RINGFENCE_PUBLIC_URL,\n"
		"TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.\n");
}

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
}

/* The worker loop; never returns. */
static void worker_run(const struct fcgi_service *svc, int listen_fd)
{
	void *state = NULL;
	FCGX_Request fcgx;
	struct arena *arena;
	char err[256];
	sigset_t term, old;
	long served = 0;

	signal(SIGCHLD, SIG_DFL);
	set_handler(SIGTERM, on_stop);
	set_handler(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);

	if (svc->init(&state, err, sizeof(err)) < 0) {
		log_error("%s worker: %s", svc->name, err);
		_exit(3);
	}
	arena = arena_new(16384);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fcgx, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("%s worker: cannot initialise libfcgi", svc->name);
		_exit(3);
	}
	while (!stop_requested && served < FCGI_MAX_REQUESTS) {
		int rc = FCGX_Accept_r(&fcgx);
		if (rc < 0) {
			if (stop_requested)
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
	_exit(0);
}

/* The extra child: closes the listening socket (it serves no request),
 * restores the signals the master changed (SIGTERM kills it unless the
 * function installs its own handler) and runs the service's function;
 * never returns. */
static void extra_run(const struct fcgi_service *svc, int listen_fd)
{
	sigset_t none;
	int rc;

	close(listen_fd);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	rc = svc->extra_run(svc->extra_ctx);
	_exit(rc);
}

/* Slots 0..n-1 are workers; slot n, when the service has one, is the
 * extra child. */
struct pool {
	const struct fcgi_service *svc;
	pid_t pids[FCGI_MAX_WORKERS + 1];
	time_t started[FCGI_MAX_WORKERS + 1];
	int n;        /* workers */
	int nslots;   /* n, plus one for the extra child */
	int listen_fd;
};

static const char *slot_what(const struct pool *pool, int slot)
{
	if (slot == pool->n)
		return pool->svc->extra_name ? pool->svc->extra_name : "extra child";
	return "worker";
}

/* Forks slot's process; in the child, never returns. */
static pid_t spawn_slot(struct pool *pool, int slot, const sigset_t *unblock)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (unblock)
			sigprocmask(SIG_UNBLOCK, unblock, NULL);
		if (slot == pool->n)
			extra_run(pool->svc, pool->listen_fd);
		worker_run(pool->svc, pool->listen_fd);
	}
	if (pid < 0) {
		log_error("%s: fork failed: %s", pool->svc->name, strerror(errno));
		return -1;
	}
	pool->pids[slot] = pid;
	pool->started[slot] = time(NULL);
	return pid;
}

/* Reaps dead children and respawns them.  One that died within a second
 * of starting delays its replacement so a crash loop (say, a bad
 * configuration) does not spin the CPU. */
static void reap_and_respawn(struct pool *pool)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < pool->nslots; i++) {
			if (pool->pids[i] != pid)
				continue;
			if (WIFSIGNALED(status))
				log_warn("%s: %s %d killed by signal %d", pool->svc->name,
					slot_what(pool, i), (int)pid, WTERMSIG(status));
			else if (WEXITSTATUS(status) != 0)
				log_warn("%s: %s %d exited with status %d", pool->svc->name,
					slot_what(pool, i), (int)pid, WEXITSTATUS(status));
			pool->pids[i] = 0;
			if (stop_requested)
				break;
			if (time(NULL) - pool->started[i] < 1)
				sleep(1);
			if (!stop_requested && spawn_slot(pool, i, NULL) > 0)
				log_info("%s: respawned %s slot %d as %d", pool->svc->name,
					slot_what(pool, i), i, (int)pool->pids[i]);
		}
	}
}

static int live_children(const struct pool *pool)
{
	int n = 0;
	for (int i = 0; i < pool->nslots; i++)
		if (pool->pids[i] > 0)
			n++;
	return n;
}

/* Tells every child to stop, waits for them, kills stragglers. */
static void stop_pool(struct pool *pool)
{
	time_t deadline = time(NULL) + FCGI_STOP_GRACE_S;
	for (int i = 0; i < pool->nslots; i++)
		if (pool->pids[i] > 0)
			kill(pool->pids[i], SIGTERM);
	while (live_children(pool) > 0 && time(NULL) < deadline) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			for (int i = 0; i < pool->nslots; i++)
				if (pool->pids[i] == pid)
					pool->pids[i] = 0;
			continue;
		}
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < pool->nslots; i++) {
		if (pool->pids[i] > 0) {
			log_warn("%s: %s %d did not stop in %d s, killing it", pool->svc->name,
				slot_what(pool, i), (int)pool->pids[i], FCGI_STOP_GRACE_S);
			kill(pool->pids[i], SIGKILL);
			waitpid(pool->pids[i], NULL, 0);
			pool->pids[i] = 0;
		}
	}
}

int fcgi_serve(const struct fcgi_service *svc, int nworkers)
{
	struct pool pool;
	void *probe = NULL;
	char err[512];
	struct stat st;
	sigset_t block, empty;

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

	memset(&pool, 0, sizeof(pool));
	pool.svc = svc;
	pool.n = nworkers;
	pool.nslots = nworkers + (svc->extra_run ? 1 : 0);
	pool.listen_fd = 0;

	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	set_handler(SIGCHLD, on_child);
	set_handler(SIGTERM, on_stop);
	set_handler(SIGINT, on_stop);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	for (int i = 0; i < pool.nslots; i++) {
		if (spawn_slot(&pool, i, &block) < 0) {
			stop_requested = 1;
			break;
		}
	}
	log_info("%s: master %d serving with %d workers%s%s", svc->name, (int)getpid(), pool.n,
		svc->extra_run ? " and a " : "", svc->extra_run ? slot_what(&pool, pool.n) : "");

	sigemptyset(&empty);
	while (!stop_requested) {
		sigsuspend(&empty); /* signals are only delivered here */
		if (child_exited) {
			child_exited = 0;
			sigprocmask(SIG_UNBLOCK, &block, NULL);
			reap_and_respawn(&pool);
			sigprocmask(SIG_BLOCK, &block, NULL);
		}
	}
	log_info("%s: stopping %d children", svc->name, live_children(&pool));
	signal(SIGCHLD, SIG_DFL);
	stop_pool(&pool);
	log_info("%s: stopped", svc->name);
	return 0;
}

/* The web application as a pool service: one struct app per worker. */
static int app_service_init(void **state, char *err, size_t errlen)
{
	struct app *app = xmalloc(sizeof(*app));
	if (app_init(app, err, errlen) < 0) {
		free(app);
		return -1;
	}
	*state = app;
	return 0;
}

static void app_service_handle(void *state, struct http_request *req, struct http_response *res)
{
	routes_dispatch(state, req, res);
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
	.free = app_service_free,
};

int fcgi_main(int argc, char **argv)
{
	struct config cfg;
	char err[512];
	int workers = -1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
			char *end;
			long n = strtol(argv[++i], &end, 10);
			if (*end || n < 1 || n > FCGI_MAX_WORKERS) {
				fprintf(stderr, "ringfence fcgi: --workers must be 1 to %d\n", FCGI_MAX_WORKERS);
				return 2;
			}
			workers = (int)n;
		} else {
			fprintf(stderr, "ringfence fcgi: unknown argument '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (config_load(&cfg, CFG_NEED_DB | CFG_NEED_REDIS | CFG_NEED_PUBLIC_URL | CFG_NEED_TWILIO,
		    err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence fcgi: %s\n", err);
		return 1;
	}
	return fcgi_serve(&app_service, workers > 0 ? workers : cfg.fcgi_workers);
}

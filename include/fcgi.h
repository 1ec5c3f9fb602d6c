/* fcgi: a pre-forked FastCGI pool (master + workers), generic over the
 * service it serves: the accept loop on the socket, a per-request arena
 * and the service's handler.  The web application's service (`ringfence
 * fcgi`) is in app.h; the simulator's in sim/twilio_sim.h.
 *
 * Run under `spawn-fcgi -n -s SOCKET -- ringfence ...`: the listening
 * socket is fd 0.  The master supervises the workers with proc_pool
 * (respawns any that dies, with a crash-loop back-off), and on SIGTERM or
 * SIGINT tells them to finish the request in hand and exit, waiting up to
 * 20 s before killing stragglers.  Each worker builds its own state after fork (its
 * own database connections), serves requests one at a time with a
 * per-request arena, and exits after a bounded number of requests so slow
 * leaks cannot build up.
 *
 * Reload (SIGHUP to the master, `ringfence fcgi-reload`), for a service
 * that names a worker_cmd: the master resolves RINGFENCE_ROOT with
 * realpath() at that moment (a `current` symlink is followed once) and
 * starts a whole new generation of workers beside the serving one, each
 * running `<resolved root>/bin/<bin_name> <worker_cmd>` (else the binary
 * the master was started as, its path resolved again) with
 * RINGFENCE_ROOT set to the resolved root, so that code, flows and audio
 * switch together and a respawned worker of either generation never
 * reads through the symlink.  The binary is opened once per reload and
 * every worker of that generation (respawns too) runs that same file.
 * The new workers accept on the same socket (fd 0) as the old ones, so
 * its backlog is served throughout.  Each new worker says "ready
 * VERSION" on a pipe once its init succeeded (flows loaded, configuration
 * valid; the database need not be up); when all did, the old workers get
 * SIGTERM and finish the request in hand.  When the binary is missing,
 * a worker's init fails, or one is not ready within 30 s
 * (RINGFENCE_FCGI_RELOAD_TIMEOUT, seconds), the new generation is stopped
 * and the old one serves on.  A SIGHUP during a reload is queued.  The
 * first generation is forked from the master (its root resolved at start
 * in the same way).
 *
 * The status file, FCGI_STATUS_FILE in RINGFENCE_RUN_DIR, written
 * atomically (temporary file + rename) at start, at each step of a
 * reload and at most once a second after respawns.  A JSON object whose
 * field names are stable (the /metrics endpoint and fcgi-reload read
 * them):
 *   master_pid      the master's pid (the one to send SIGHUP)
 *   service         "fcgi"
 *   generation      the serving generation: 1 at start, +1 per successful reload
 *   version         rf_version of the serving generation's binary
 *   root            the resolved root the serving generation reads
 *   binary          the binary the serving generation runs
 *   workers         workers of the serving generation running now
 *   workers_wanted  the pool's size
 *   retiring        workers of an older or failed generation still finishing
 *   restarts        workers started again after one ended (master's life)
 *   started_at, updated_at   RFC 3339 UTC
 *   reload          { "state": "ok" | "failed" | "in_progress",
 *                     "seq": reloads begun (0: none yet),
 *                     "at": when the last one began or ended (RFC 3339; null: none),
 *                     "reason": why the last one failed, or "" }
 *
 * A service may also name one extra child: a function the master runs in
 * a forked process of its own, respawns like a worker when it dies, and
 * stops with SIGTERM on shutdown (the Twilio simulator's call driver). */
#ifndef RF_FCGI_H
#define RF_FCGI_H

#include <stddef.h>

#define FCGI_MAX_WORKERS 256
#define FCGI_STATUS_FILE "fcgi.status"
#define FCGI_RELOAD_TIMEOUT_S 30

struct http_request;
struct http_response;

struct fcgi_service {
	const char *name;  /* for log lines: "fcgi", "twilio-sim" */
	/* Builds one worker's state (after fork).  0, or -1 with a one-line
	 * reason in err.  The master also calls it once, then free, so a
	 * broken deployment fails at start with that reason. */
	int (*init)(void **state, char *err, size_t errlen);
	/* Answers one request; everything allocated per request lives in
	 * req->arena, reset after the answer is written. */
	void (*handle)(void *state, struct http_request *req, struct http_response *res);
	/* Or NULL: runs after the answer went to nginx (FCGX_Finish_r),
	 * before the request arena is reset and the next request accepted,
	 * with SIGTERM still held off: the work a request leaves for after
	 * its answer (the audit record), finished even during a stop. */
	void (*after)(void *state);
	void (*free)(void *state);
	/* The supervised extra child, or NULL.  Runs in its own process with
	 * nothing blocked, SIGPIPE and SIGINT ignored and SIGTERM at its
	 * default (it installs a handler when it must finish work first, and
	 * then returns soon after SIGTERM); its return value is the process's
	 * exit status. */
	int (*extra_run)(void *ctx);
	void *extra_ctx;
	const char *extra_name; /* for log lines: "driver" */
	/* Reload: the hidden subcommand of bin_name that runs one worker of
	 * a new generation (fcgi_worker_main); NULL: the pool ignores
	 * SIGHUP (a service with an extra child cannot reload). */
	const char *worker_cmd; /* "fcgi-worker" */
	const char *bin_name;   /* "ringfence": <root>/bin/<bin_name> */
};

struct arena;
/* One request of a worker's loop, in two halves around FCGX_Finish_r:
 * fcgi_answer reads the request into arena, runs svc->handle and writes
 * the response to fcgx's streams; fcgi_after runs svc->after, clears the
 * log's request id and resets arena.  Exposed for the callgrind driver
 * (test/bench/callgrind_webhook.c), which runs them on streams of its own. */
struct FCGX_Request;
void fcgi_answer(const struct fcgi_service *svc, void *state, struct FCGX_Request *fcgx,
	struct arena *arena);
void fcgi_after(const struct fcgi_service *svc, void *state, struct arena *arena);

/* Serves svc on the listening socket fd 0 with nworkers workers until
 * SIGTERM or SIGINT.  Returns the process exit status (0 after a clean
 * stop, 1 when it could not start, with the reason on stderr). */
int fcgi_serve(const struct fcgi_service *svc, int nworkers);

/* The worker_cmd subcommand: one worker of a reloaded generation, on fd
 * 0, started by the master (not by hand).  Says "ready VERSION" (or the
 * reason its init failed) on the fd named by RINGFENCE_FCGI_READY_FD.
 * Returns the process exit status. */
int fcgi_worker_main(const struct fcgi_service *svc, int argc, char **argv);

/* `ringfence fcgi-reload [--pid PID | --pidfile FILE] [--timeout S]`:
 * SIGHUP to the master (default: the master_pid of the status file) and
 * waits for that reload's outcome in the status file.  0 with one line
 * on stdout, or 1 with the reason on stderr (2: bad arguments). */
int fcgi_reload_main(int argc, char **argv);

#endif

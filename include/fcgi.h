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
 * A service may also name one extra child: a function the master runs in
 * a forked process of its own, respawns like a worker when it dies, and
 * stops with SIGTERM on shutdown (the Twilio simulator's call driver). */
#ifndef RF_FCGI_H
#define RF_FCGI_H

#include <stddef.h>

#define FCGI_MAX_WORKERS 256

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
	void (*free)(void *state);
	/* The supervised extra child, or NULL.  Runs in its own process with
	 * nothing blocked, SIGPIPE and SIGINT ignored and SIGTERM at its
	 * default (it installs a handler when it must finish work first, and
	 * then returns soon after SIGTERM); its return value is the process's
	 * exit status. */
	int (*extra_run)(void *ctx);
	void *extra_ctx;
	const char *extra_name; /* for log lines: "driver" */
};

/* Serves svc on the listening socket fd 0 with nworkers workers until
 * SIGTERM or SIGINT.  Returns the process exit status (0 after a clean
 * stop, 1 when it could not start, with the reason on stderr). */
int fcgi_serve(const struct fcgi_service *svc, int nworkers);

#endif

/* proc_pool: the one process supervisor.  A master forks n children, each
 * running the same function with its slot number, and then only watches
 * them: it reports how each ended, starts a dead one again (when the pool
 * respawns) with a crash-loop back-off, and on SIGTERM or SIGINT passes
 * SIGTERM to every child and waits for them to finish the work in hand.
 *
 * Back-off: a child that ended within quick_ms of starting is replaced
 * after its slot's delay, which starts at backoff_min_ms and doubles up to
 * backoff_max_ms while the slot keeps dying quickly; a child that lived
 * longer is replaced at once and resets its slot's delay.  While it waits
 * the master still answers SIGTERM at once.
 *
 * Signals: the master blocks SIGTERM, SIGINT and SIGCHLD while it runs and
 * takes them with sigtimedwait (no handler runs in the master); it
 * restores its mask and handlers before returning.  A child starts with
 * SIGTERM setting the stop flag of cli_catch_stop (cli_stopping() reads
 * it: finish the work in hand, then return), SIGINT ignored (the master
 * passes a Ctrl-C on as SIGTERM), SIGCHLD at its default and nothing
 * blocked; other dispositions are the master's. */
#ifndef RF_PROC_POOL_H
#define RF_PROC_POOL_H

#include <sys/types.h>

#define PROC_POOL_MAX 512

/* Defaults of the fields left 0. */
#define PROC_POOL_BACKOFF_MIN_MS 1000
#define PROC_POOL_BACKOFF_MAX_MS 30000
#define PROC_POOL_QUICK_MS 5000

struct proc_pool {
	const char *name; /* in log lines: "fcgi", "worker" */
	int n;            /* children, 1..PROC_POOL_MAX */
	/* The body of slot's child, in its own process; its return value is
	 * the process's exit status. */
	int (*run)(void *ctx, int slot);
	void *ctx;
	/* What slot's child is called in log lines ("worker", "driver");
	 * NULL: "child". */
	const char *(*what)(void *ctx, int slot);
	/* Called in the master after each child ended, with waitpid's status
	 * and the delay before its replacement (-1: none); NULL: nothing. */
	void (*ended)(void *ctx, int slot, pid_t pid, int status, long respawn_ms);
	int respawn;      /* 1: replace a child that ended until stopped; 0: the
			   * pool ends when every child has */
	int stop_grace_s; /* on stop, SIGKILL what still runs after this long;
			   * 0: wait as long as the children take */
	long backoff_min_ms, backoff_max_ms, quick_ms; /* 0: the defaults */
};

/* How the children ended, over the pool's life. */
struct proc_pool_report {
	int ok;          /* exited with status 0 */
	int failed;      /* exited non-zero or killed by a signal */
	int killed;      /* of those, killed by the master after stop_grace_s */
	int fork_failed; /* forks that failed (a slot stays empty then) */
	int stopped;     /* 1 when SIGTERM or SIGINT stopped the pool */
};

/* Runs the pool until it is stopped (or, without respawn, until every
 * child has ended) and fills *rep.  Every abnormal end is logged with
 * its pid and its status or signal.  Returns 0, or -1 when p is not valid
 * (nothing started; the reason is logged). */
int proc_pool_run(const struct proc_pool *p, struct proc_pool_report *rep);

#endif

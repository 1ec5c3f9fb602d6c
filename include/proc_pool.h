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
#define PROC_POOL_RELOAD_TIMEOUT_MS 30000

/* What the pool looks like, for a status file (proc_pool.status). */
enum proc_pool_reload_state { PROC_POOL_RELOAD_OK, PROC_POOL_RELOAD_FAILED, PROC_POOL_RELOAD_IN_PROGRESS };

struct proc_pool_status {
	int generation;   /* of the children that serve; 1 at start, +1 per reload that succeeded */
	int running;      /* children of that generation running now */
	int n;            /* children the pool keeps (proc_pool.n) */
	int retiring;     /* children of an older (or failed) generation still finishing */
	long restarts;    /* children started again after one ended, over the pool's life */
	const char *note; /* what the serving generation's children said when ready
			   * ("ready NOTE"); NULL for generation 1 */
	enum proc_pool_reload_state reload;
	long reload_seq;  /* reloads begun (0: none yet) */
	long long reload_at_ms; /* when the last reload began or ended (epoch ms); 0: none */
	const char *reload_reason; /* why the last reload failed, or "" */
};

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

	/* Reload on SIGHUP; reload_begin NULL: SIGHUP keeps the disposition
	 * the caller gave it.  A reload starts a whole new generation of n
	 * children beside the serving one, each through run_gen with
	 * ready_fd, the write end of a pipe: the child writes one line,
	 * "ready [NOTE]" once it can serve or a reason when it cannot, and
	 * closes it.  When every new child said ready within
	 * reload_timeout_ms, the old generation gets SIGTERM (each finishes
	 * the work in hand and is not replaced) and the new one serves; when
	 * one fails, dies or is late, the new generation is stopped (SIGTERM
	 * for those that said ready, SIGKILL for those that did not: they
	 * took no work yet) and the old one serves on unchanged.  A SIGHUP during a reload, or while
	 * children of an older generation are still finishing, is queued
	 * (several coalesce into one) and logged.  A child that dies is
	 * replaced within its generation: run_gen with ready_fd -1. */
	/* In the master: gets generation gen ready to start (finds its
	 * binary, ...).  0, or -1 with a one-line reason (the reload fails,
	 * nothing is started). */
	int (*reload_begin)(void *ctx, int gen, char *err, size_t errlen);
	/* The body of slot's child of generation gen (run is used for
	 * generation 1 when run_gen is NULL). */
	int (*run_gen)(void *ctx, int slot, int gen, int ready_fd);
	int reload_timeout_ms; /* 0: PROC_POOL_RELOAD_TIMEOUT_MS */
	/* Called in the master at start, at every step of a reload and (at
	 * most once a second) after children were replaced; NULL: nothing. */
	void (*status)(void *ctx, const struct proc_pool_status *st);
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

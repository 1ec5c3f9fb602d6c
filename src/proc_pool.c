/* proc_pool: the one process supervisor (fork n, respawn with back-off,
 * forward SIGTERM, wait). */
#include "proc_pool.h"
#include "cli.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct slot {
	pid_t pid;            /* 0: empty */
	long long started_ms; /* when pid was forked */
	long long due_ms;     /* empty and to be started at this time; -1: not */
	long backoff_ms;      /* the delay after the next quick death */
};

struct pool {
	const struct proc_pool *p;
	struct slot *slots;
	struct proc_pool_report *rep;
	long min_ms, max_ms, quick_ms;
};

static const char *slot_what(const struct pool *pl, int i)
{
	const char *w = pl->p->what ? pl->p->what(pl->p->ctx, i) : NULL;
	return w ? w : "child";
}

static void on_child(int sig)
{
	(void)sig; /* only so that SIGCHLD is never discarded */
}

/* In the child: the signals of the contract, then the body; never
 * returns.  The stop handler is in place before anything is unblocked, so
 * a SIGTERM sent at once is not lost. */
static void child_main(const struct pool *pl, int i)
{
	sigset_t none;

	cli_catch_stop(SIGTERM);
	signal(SIGINT, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	_exit(pl->p->run(pl->p->ctx, i));
}

/* Forks slot i.  0, or -1 when fork failed (the slot is tried again
 * after its back-off when the pool respawns). */
static int spawn(struct pool *pl, int i)
{
	struct slot *s = &pl->slots[i];
	pid_t pid = fork();

	if (pid == 0)
		child_main(pl, i);
	s->due_ms = -1;
	if (pid < 0) {
		log_error("%s: fork failed: %s", pl->p->name, strerror(errno));
		pl->rep->fork_failed++;
		s->pid = 0;
		if (pl->p->respawn) {
			s->due_ms = util_now_ms() + s->backoff_ms;
			if (s->backoff_ms < pl->max_ms)
				s->backoff_ms = s->backoff_ms * 2 < pl->max_ms ? s->backoff_ms * 2 : pl->max_ms;
		}
		return -1;
	}
	s->pid = pid;
	s->started_ms = util_now_ms();
	return 0;
}

/* Records how slot i's child ended and, unless stopping, when it is to
 * be replaced. */
static void child_ended(struct pool *pl, int i, int status, int stopping)
{
	struct slot *s = &pl->slots[i];
	long long now = util_now_ms();
	long delay = -1;
	pid_t pid = s->pid;

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		pl->rep->ok++;
	} else {
		pl->rep->failed++;
		if (WIFSIGNALED(status))
			log_warn("%s: %s %d killed by signal %d", pl->p->name, slot_what(pl, i),
				(int)pid, WTERMSIG(status));
		else
			log_warn("%s: %s %d exited with status %d", pl->p->name, slot_what(pl, i),
				(int)pid, WEXITSTATUS(status));
	}
	s->pid = 0;
	if (pl->p->respawn && !stopping) {
		if (now - s->started_ms < pl->quick_ms) {
			delay = s->backoff_ms;
			s->backoff_ms = s->backoff_ms * 2 < pl->max_ms ? s->backoff_ms * 2 : pl->max_ms;
			log_warn("%s: %s slot %d ended %lld ms after it started; starting it again in %ld ms",
				pl->p->name, slot_what(pl, i), i, now - s->started_ms, delay);
		} else {
			delay = 0;
			s->backoff_ms = pl->min_ms;
		}
		s->due_ms = now + delay;
	}
	if (pl->p->ended)
		pl->p->ended(pl->p->ctx, i, pid, status, delay);
}

/* Reaps every child of the pool that has ended. */
static void reap(struct pool *pl, int stopping)
{
	for (int i = 0; i < pl->p->n; i++) {
		int status;
		if (pl->slots[i].pid <= 0)
			continue;
		if (waitpid(pl->slots[i].pid, &status, WNOHANG) == pl->slots[i].pid)
			child_ended(pl, i, status, stopping);
	}
}

/* Starts the slots whose time has come. */
static void start_due(struct pool *pl)
{
	long long now = util_now_ms();
	for (int i = 0; i < pl->p->n; i++) {
		struct slot *s = &pl->slots[i];
		if (s->pid != 0 || s->due_ms < 0 || s->due_ms > now)
			continue;
		if (spawn(pl, i) == 0)
			log_info("%s: respawned %s slot %d as %d", pl->p->name, slot_what(pl, i), i,
				(int)s->pid);
	}
}

/* Children running, plus (when pending is set) slots waiting to start. */
static int count(const struct pool *pl, int pending)
{
	int n = 0;
	for (int i = 0; i < pl->p->n; i++)
		if (pl->slots[i].pid > 0 || (pending && pl->slots[i].due_ms >= 0))
			n++;
	return n;
}

/* Waits up to ms (-1: a while) for one of set; the signal, or -1. */
static int wait_signal(const sigset_t *set, long long ms)
{
	struct timespec ts;
	if (ms < 0 || ms > 60000)
		ms = 60000;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	return sigtimedwait(set, NULL, &ts);
}

/* Passes SIGTERM to every child and waits for them, with SIGKILL for
 * those still there after the grace period. */
static void stop_all(struct pool *pl, const sigset_t *set)
{
	const struct proc_pool *p = pl->p;
	long long deadline = p->stop_grace_s > 0 ? util_now_ms() + p->stop_grace_s * 1000LL : -1;

	for (int i = 0; i < p->n; i++) {
		pl->slots[i].due_ms = -1;
		if (pl->slots[i].pid > 0)
			kill(pl->slots[i].pid, SIGTERM);
	}
	reap(pl, 1);
	while (count(pl, 0) > 0) {
		long long left = deadline < 0 ? -1 : deadline - util_now_ms();
		if (deadline >= 0 && left <= 0)
			break;
		wait_signal(set, left); /* a second SIGTERM changes nothing */
		reap(pl, 1);
	}
	for (int i = 0; i < p->n; i++) {
		int status;
		if (pl->slots[i].pid <= 0)
			continue;
		log_warn("%s: %s %d did not stop in %d s, killing it", p->name, slot_what(pl, i),
			(int)pl->slots[i].pid, p->stop_grace_s);
		kill(pl->slots[i].pid, SIGKILL);
		if (waitpid(pl->slots[i].pid, &status, 0) == pl->slots[i].pid) {
			pl->rep->killed++;
			child_ended(pl, i, status, 1);
		}
		pl->slots[i].pid = 0;
	}
}

int proc_pool_run(const struct proc_pool *p, struct proc_pool_report *rep)
{
	struct pool pl;
	struct sigaction sa, old_chld;
	sigset_t set, old_mask;

	memset(rep, 0, sizeof(*rep));
	if (p->n < 1 || p->n > PROC_POOL_MAX || p->run == NULL) {
		log_error("%s: a pool needs 1 to %d children and a function to run", p->name,
			PROC_POOL_MAX);
		return -1;
	}
	memset(&pl, 0, sizeof(pl));
	pl.p = p;
	pl.rep = rep;
	pl.min_ms = p->backoff_min_ms > 0 ? p->backoff_min_ms : PROC_POOL_BACKOFF_MIN_MS;
	pl.max_ms = p->backoff_max_ms > 0 ? p->backoff_max_ms : PROC_POOL_BACKOFF_MAX_MS;
	if (pl.max_ms < pl.min_ms)
		pl.max_ms = pl.min_ms;
	pl.quick_ms = p->quick_ms > 0 ? p->quick_ms : PROC_POOL_QUICK_MS;
	pl.slots = xcalloc((size_t)p->n, sizeof(*pl.slots));

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, &old_mask);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_child;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, &old_chld);

	for (int i = 0; i < p->n; i++) {
		pl.slots[i].backoff_ms = pl.min_ms;
		spawn(&pl, i);
	}
	for (;;) {
		long long next = -1, now;
		int sig;

		if (!p->respawn && count(&pl, 0) == 0)
			break;
		now = util_now_ms();
		for (int i = 0; i < p->n; i++) {
			long long due = pl.slots[i].due_ms;
			if (pl.slots[i].pid == 0 && due >= 0 && (next < 0 || due - now < next))
				next = due - now > 0 ? due - now : 0;
		}
		sig = wait_signal(&set, next);
		if (sig == SIGTERM || sig == SIGINT) {
			rep->stopped = 1;
			log_info("%s: stopping %d children", p->name, count(&pl, 0));
			break;
		}
		reap(&pl, 0);
		start_due(&pl);
	}
	stop_all(&pl, &set);

	sigaction(SIGCHLD, &old_chld, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	free(pl.slots);
	return 0;
}

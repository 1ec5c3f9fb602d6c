/* proc_pool: the one process supervisor (fork n, respawn with back-off,
 * forward SIGTERM, wait; generations replaced on SIGHUP). */
#include "proc_pool.h"
#include "cli.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The status callback after respawns runs at most this often. */
#define STATUS_EVERY_MS 1000

struct slot {
	pid_t pid;            /* 0: empty */
	int gen;              /* the generation of pid (or of the slot's next child) */
	int retiring;         /* 1: told to stop; not replaced when it ends */
	long long started_ms; /* when pid was forked */
	long long due_ms;     /* empty and to be started at this time; -1: not */
	long backoff_ms;      /* the delay after the next quick death */
	int ready_fd;         /* reload: the read end of the child's ready pipe; -1: none */
	int ready;            /* reload: the child said "ready" */
	int awaiting;         /* reload: started with a ready pipe and not ready yet */
	char line[160];       /* reload: what the child wrote so far */
	size_t line_len;
};

struct pool {
	const struct proc_pool *p;
	/* 2n slots: the serving generation in one half (cur), a reload's
	 * new generation, or the children of a retired one, in the other. */
	struct slot *slots;
	int cur;
	struct proc_pool_report *rep;
	long min_ms, max_ms, quick_ms;

	int gen;               /* the serving generation */
	int reloading;         /* a reload of generation gen + 1 is under way */
	int reload_queued;     /* a SIGHUP came while it could not start */
	long long reload_deadline_ms;
	struct proc_pool_status st;
	char note[160];        /* the serving generation's ready note */
	char next_note[160];
	char reason[256];
	int status_dirty;
	long long status_ms;
};

static long long now_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *slot_what(const struct pool *pl, int i)
{
	const char *w = pl->p->what ? pl->p->what(pl->p->ctx, i % pl->p->n) : NULL;
	return w ? w : "child";
}

static void on_child(int sig)
{
	(void)sig; /* only so that SIGCHLD is never discarded */
}

/* In the child: the signals of the contract, then the body; never
 * returns.  The stop handler is in place before anything is unblocked, so
 * a SIGTERM sent at once is not lost. */
static void child_main(const struct pool *pl, int i, int ready_fd)
{
	sigset_t none;
	const struct proc_pool *p = pl->p;
	int slot = i % p->n, gen = pl->slots[i].gen;

	/* Only the child's own ready pipe stays open. */
	for (int j = 0; j < 2 * p->n; j++)
		if (pl->slots[j].ready_fd >= 0)
			close(pl->slots[j].ready_fd);
	cli_catch_stop(SIGTERM);
	signal(SIGINT, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (p->run_gen)
		_exit(p->run_gen(p->ctx, slot, gen, ready_fd));
	_exit(p->run(p->ctx, slot));
}

/* Forks slot i (with a ready pipe when ready is set).  0, or -1 when
 * fork failed (the slot is tried again after its back-off when the pool
 * respawns, unless it is part of a reload, which then fails). */
static int spawn(struct pool *pl, int i, int ready)
{
	struct slot *s = &pl->slots[i];
	int fds[2] = { -1, -1 };
	pid_t pid;

	s->ready = 0;
	s->awaiting = 0;
	s->line_len = 0;
	if (ready && pipe2(fds, O_CLOEXEC) < 0) {
		log_error("%s: pipe failed: %s", pl->p->name, strerror(errno));
		pl->rep->fork_failed++;
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		if (fds[0] >= 0)
			close(fds[0]);
		child_main(pl, i, fds[1]);
	}
	if (fds[1] >= 0)
		close(fds[1]);
	s->due_ms = -1;
	if (pid < 0) {
		log_error("%s: fork failed: %s", pl->p->name, strerror(errno));
		if (fds[0] >= 0)
			close(fds[0]);
		pl->rep->fork_failed++;
		s->pid = 0;
		if (pl->p->respawn && !ready) {
			s->due_ms = util_now_ms() + s->backoff_ms;
			if (s->backoff_ms < pl->max_ms)
				s->backoff_ms = s->backoff_ms * 2 < pl->max_ms ? s->backoff_ms * 2 : pl->max_ms;
		}
		return -1;
	}
	if (fds[0] >= 0)
		fcntl(fds[0], F_SETFL, O_NONBLOCK);
	s->ready_fd = fds[0];
	s->awaiting = ready;
	s->pid = pid;
	s->started_ms = util_now_ms();
	return 0;
}

/* Reads what slot s's child wrote on its ready pipe so far; read's
 * return value. */
static ssize_t slot_read(struct slot *s)
{
	ssize_t r = read(s->ready_fd, s->line + s->line_len, sizeof(s->line) - 1 - s->line_len);
	if (r > 0)
		s->line_len += (size_t)r;
	s->line[s->line_len] = '\0';
	return r;
}

static void close_ready(struct slot *s)
{
	if (s->ready_fd >= 0)
		close(s->ready_fd);
	s->ready_fd = -1;
}

/* The status callback: now when urgent, else at most once a
 * STATUS_EVERY_MS (the main loop flushes what waits). */
static void status_note(struct pool *pl, int urgent)
{
	const struct proc_pool *p = pl->p;
	long long now = util_now_ms();
	int running = 0, retiring = 0;

	pl->status_dirty = 1;
	if (p->status == NULL || (!urgent && now - pl->status_ms < STATUS_EVERY_MS))
		return;
	for (int i = 0; i < 2 * p->n; i++) {
		if (pl->slots[i].pid <= 0)
			continue;
		if (i / p->n == pl->cur && !pl->slots[i].retiring)
			running++;
		else if (pl->slots[i].retiring)
			retiring++;
	}
	pl->st.generation = pl->gen;
	pl->st.running = running;
	pl->st.n = p->n;
	pl->st.retiring = retiring;
	pl->st.note = pl->gen > 1 ? pl->note : NULL;
	pl->st.reload_reason = pl->reason;
	p->status(p->ctx, &pl->st);
	pl->status_dirty = 0;
	pl->status_ms = now;
}

/* SIGTERM, or SIGKILL for a child of a reload that has not said ready:
 * it has taken no request (it says ready before it accepts), and it may
 * not be able to take SIGTERM at all (a hung binary whose SIGTERM is
 * still blocked from the exec). */
static int stop_signal(const struct slot *s)
{
	return s->awaiting ? SIGKILL : SIGTERM;
}

static void reload_failed(struct pool *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Ends the reload under way: the new generation is told to stop and the
 * serving one goes on. */
static void reload_failed(struct pool *pl, const char *fmt, ...)
{
	const struct proc_pool *p = pl->p;
	int other = 1 - pl->cur;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pl->reason, sizeof(pl->reason), fmt, ap);
	va_end(ap);
	for (int i = other * p->n; i < (other + 1) * p->n; i++) {
		struct slot *s = &pl->slots[i];
		close_ready(s);
		s->due_ms = -1;
		s->retiring = 1;
		if (s->pid > 0)
			kill(s->pid, stop_signal(s));
	}
	pl->reloading = 0;
	pl->st.reload = PROC_POOL_RELOAD_FAILED;
	pl->st.reload_at_ms = now_wall_ms();
	log_error("%s: reload to generation %d failed: %s; generation %d serves on", p->name,
		pl->gen + 1, pl->reason, pl->gen);
	status_note(pl, 1);
}

/* Records how slot i's child ended and, unless stopping, when it is to
 * be replaced. */
static void child_ended(struct pool *pl, int i, int status, int stopping)
{
	struct slot *s = &pl->slots[i];
	long long now = util_now_ms();
	long delay = -1;
	pid_t pid = s->pid;
	int in_reload = pl->reloading && i / pl->p->n != pl->cur && !s->retiring;

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
	s->awaiting = 0;
	if (in_reload) {
		/* A child of the new generation that ends before the switch
		 * fails the reload (its reason, when it wrote one, first). */
		char why[200];
		if (s->ready_fd >= 0)
			while (s->line_len < sizeof(s->line) - 1 && slot_read(s) > 0)
				;
		s->line[strcspn(s->line, "\n")] = '\0';
		s->line_len = strlen(s->line);
		if (s->line_len > 0 && strncmp(s->line, "ready", 5) != 0)
			snprintf(why, sizeof(why), "%.*s", (int)s->line_len, s->line);
		else if (WIFSIGNALED(status))
			snprintf(why, sizeof(why), "a new %s was killed by signal %d", slot_what(pl, i),
				WTERMSIG(status));
		else
			snprintf(why, sizeof(why), "a new %s exited with status %d before it was ready",
				slot_what(pl, i), WEXITSTATUS(status));
		close_ready(s);
		reload_failed(pl, "%s", why);
	} else if (pl->p->respawn && !stopping && !s->retiring) {
		if (now - s->started_ms < pl->quick_ms) {
			delay = s->backoff_ms;
			s->backoff_ms = s->backoff_ms * 2 < pl->max_ms ? s->backoff_ms * 2 : pl->max_ms;
			log_warn("%s: %s slot %d ended %lld ms after it started; starting it again in %ld ms",
				pl->p->name, slot_what(pl, i), i % pl->p->n, now - s->started_ms, delay);
		} else {
			delay = 0;
			s->backoff_ms = pl->min_ms;
		}
		s->due_ms = now + delay;
	}
	close_ready(s);
	if (s->retiring && !in_reload)
		s->retiring = 0;
	if (pl->p->ended)
		pl->p->ended(pl->p->ctx, i % pl->p->n, pid, status, delay);
	status_note(pl, 0);
}

/* Reaps every child of the pool that has ended. */
static void reap(struct pool *pl, int stopping)
{
	for (int i = 0; i < 2 * pl->p->n; i++) {
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
	for (int i = 0; i < 2 * pl->p->n; i++) {
		struct slot *s = &pl->slots[i];
		if (s->pid != 0 || s->due_ms < 0 || s->due_ms > now)
			continue;
		if (spawn(pl, i, 0) == 0) {
			log_info("%s: respawned %s slot %d as %d (generation %d)", pl->p->name,
				slot_what(pl, i), i % pl->p->n, (int)s->pid, s->gen);
			pl->st.restarts++;
			status_note(pl, 0);
		}
	}
}

/* Children running, plus (when pending is set) slots waiting to start. */
static int count(const struct pool *pl, int pending)
{
	int n = 0;
	for (int i = 0; i < 2 * pl->p->n; i++)
		if (pl->slots[i].pid > 0 || (pending && pl->slots[i].due_ms >= 0))
			n++;
	return n;
}

/* Children of half h still running. */
static int count_half(const struct pool *pl, int h)
{
	int n = 0;
	for (int i = h * pl->p->n; i < (h + 1) * pl->p->n; i++)
		if (pl->slots[i].pid > 0)
			n++;
	return n;
}

/* Starts a reload of generation gen + 1 when one may start. */
static void reload_start(struct pool *pl)
{
	const struct proc_pool *p = pl->p;
	int other = 1 - pl->cur;
	char err[256];

	if (pl->reloading || count_half(pl, other) > 0) {
		if (!pl->reload_queued)
			log_info("%s: SIGHUP while %s; it reloads after that", p->name,
				pl->reloading ? "a reload is under way" : "the old generation finishes");
		pl->reload_queued = 1;
		return;
	}
	pl->reload_queued = 0;
	pl->reloading = 1;
	pl->reason[0] = '\0';
	pl->next_note[0] = '\0';
	pl->st.reload_seq++;
	pl->st.reload = PROC_POOL_RELOAD_IN_PROGRESS;
	pl->st.reload_at_ms = now_wall_ms();
	log_info("%s: reload %ld: starting generation %d beside generation %d", p->name,
		pl->st.reload_seq, pl->gen + 1, pl->gen);
	status_note(pl, 1);
	err[0] = '\0';
	if (p->reload_begin(p->ctx, pl->gen + 1, err, sizeof(err)) < 0) {
		reload_failed(pl, "%s", err[0] ? err : "the new generation cannot start");
		return;
	}
	pl->reload_deadline_ms = util_now_ms() +
		(p->reload_timeout_ms > 0 ? p->reload_timeout_ms : PROC_POOL_RELOAD_TIMEOUT_MS);
	for (int i = other * p->n; i < (other + 1) * p->n; i++) {
		struct slot *s = &pl->slots[i];
		s->gen = pl->gen + 1;
		s->retiring = 0;
		s->backoff_ms = pl->min_ms;
		if (spawn(pl, i, 1) < 0) {
			reload_failed(pl, "cannot start a new %s: %s", slot_what(pl, i), strerror(errno));
			return;
		}
	}
}

/* Reads what the new generation's children wrote; switches when all are
 * ready, fails the reload on a reason or at its deadline. */
static void reload_poll(struct pool *pl)
{
	const struct proc_pool *p = pl->p;
	int other = 1 - pl->cur, ready = 0;

	for (int i = other * p->n; pl->reloading && i < (other + 1) * p->n; i++) {
		struct slot *s = &pl->slots[i];
		ssize_t r;
		char *nl;

		if (s->ready) {
			ready++;
			continue;
		}
		if (s->ready_fd < 0)
			continue;
		r = slot_read(s);
		nl = strchr(s->line, '\n');
		if (nl == NULL && (r > 0 || (r < 0 && errno == EAGAIN)) &&
			s->line_len < sizeof(s->line) - 1)
			continue;
		if (nl)
			*nl = '\0';
		s->line_len = strlen(s->line);
		close_ready(s);
		if (strcmp(s->line, "ready") == 0 || strncmp(s->line, "ready ", 6) == 0) {
			s->ready = 1;
			s->awaiting = 0;
			ready++;
			if (pl->next_note[0] == '\0')
				snprintf(pl->next_note, sizeof(pl->next_note), "%s",
					s->line[5] ? s->line + 6 : "");
		} else if (s->line_len > 0) {
			reload_failed(pl, "%s", s->line);
			return;
		} else {
			reload_failed(pl, "a new %s closed its ready pipe without a word",
				slot_what(pl, i));
			return;
		}
	}
	if (!pl->reloading)
		return;
	if (ready == p->n) {
		for (int i = pl->cur * p->n; i < (pl->cur + 1) * p->n; i++) {
			struct slot *s = &pl->slots[i];
			s->due_ms = -1;
			if (s->pid > 0) {
				s->retiring = 1;
				kill(s->pid, SIGTERM);
			}
		}
		pl->cur = other;
		pl->gen++;
		pl->reloading = 0;
		snprintf(pl->note, sizeof(pl->note), "%s", pl->next_note);
		pl->st.reload = PROC_POOL_RELOAD_OK;
		pl->st.reload_at_ms = now_wall_ms();
		log_info("%s: reload %ld: generation %d serves (%s); the old one finishes its requests",
			p->name, pl->st.reload_seq, pl->gen, pl->note);
		status_note(pl, 1);
	} else if (util_now_ms() >= pl->reload_deadline_ms) {
		reload_failed(pl, "%d of %d new children were not ready within %d s", p->n - ready,
			p->n, (p->reload_timeout_ms > 0 ? p->reload_timeout_ms : PROC_POOL_RELOAD_TIMEOUT_MS) / 1000);
	}
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

	pl->reloading = 0;
	for (int i = 0; i < 2 * p->n; i++) {
		pl->slots[i].due_ms = -1;
		close_ready(&pl->slots[i]);
		if (pl->slots[i].pid > 0)
			kill(pl->slots[i].pid, stop_signal(&pl->slots[i]));
	}
	reap(pl, 1);
	while (count(pl, 0) > 0) {
		long long left = deadline < 0 ? -1 : deadline - util_now_ms();
		if (deadline >= 0 && left <= 0)
			break;
		wait_signal(set, left); /* a second SIGTERM changes nothing */
		reap(pl, 1);
	}
	for (int i = 0; i < 2 * p->n; i++) {
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
	pl.gen = 1;
	pl.min_ms = p->backoff_min_ms > 0 ? p->backoff_min_ms : PROC_POOL_BACKOFF_MIN_MS;
	pl.max_ms = p->backoff_max_ms > 0 ? p->backoff_max_ms : PROC_POOL_BACKOFF_MAX_MS;
	if (pl.max_ms < pl.min_ms)
		pl.max_ms = pl.min_ms;
	pl.quick_ms = p->quick_ms > 0 ? p->quick_ms : PROC_POOL_QUICK_MS;
	pl.slots = xcalloc((size_t)p->n * 2, sizeof(*pl.slots));
	for (int i = 0; i < 2 * p->n; i++) {
		pl.slots[i].ready_fd = -1;
		pl.slots[i].due_ms = -1;
		pl.slots[i].gen = 1;
	}
	pl.st.reload = PROC_POOL_RELOAD_OK;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (p->reload_begin)
		sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old_mask);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_child;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, &old_chld);

	for (int i = 0; i < p->n; i++) {
		pl.slots[i].backoff_ms = pl.min_ms;
		spawn(&pl, i, 0);
	}
	status_note(&pl, 1);
	for (;;) {
		long long next = -1, now;
		int sig;

		if (!p->respawn && count(&pl, 0) == 0)
			break;
		now = util_now_ms();
		for (int i = 0; i < 2 * p->n; i++) {
			long long due = pl.slots[i].due_ms;
			if (pl.slots[i].pid == 0 && due >= 0 && (next < 0 || due - now < next))
				next = due - now > 0 ? due - now : 0;
		}
		/* While a reload waits for its children, look at their pipes
		 * often; a throttled status waits at most a second. */
		if (pl.reloading && (next < 0 || next > 50))
			next = 50;
		if ((pl.status_dirty || pl.reload_queued) && (next < 0 || next > STATUS_EVERY_MS))
			next = STATUS_EVERY_MS;
		sig = wait_signal(&set, next);
		if (sig == SIGTERM || sig == SIGINT) {
			rep->stopped = 1;
			log_info("%s: stopping %d children", p->name, count(&pl, 0));
			break;
		}
		reap(&pl, 0);
		start_due(&pl);
		if (pl.reloading)
			reload_poll(&pl);
		if (sig == SIGHUP || (pl.reload_queued && !pl.reloading))
			reload_start(&pl);
		if (pl.status_dirty)
			status_note(&pl, 0);
	}
	stop_all(&pl, &set);

	sigaction(SIGCHLD, &old_chld, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	free(pl.slots);
	return 0;
}

/* Unit tests: proc_pool, with real forked children: a child that exits
 * ends a pool without respawn and is reported; a slot that keeps crashing
 * is started again after a delay that doubles and is bounded, and reset
 * once a child lives past quick_ms; SIGTERM reaches every child, each
 * finishes its work in hand and the master waits for all of them; a
 * SIGHUP replaces the generation once the new one is ready, and keeps
 * it when the new one fails. */
#include "unit.h"

#include "cli.h"
#include "proc_pool.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#define MAX_ENDS 32

struct record {
	int mode;         /* what the next child does (copied into it at fork) */
	int nends;
	int slot[MAX_ENDS];
	int status[MAX_ENDS];
	long respawn_ms[MAX_ENDS];
	int stop_after;   /* the master raises SIGTERM after this many ends; 0: never */
	int crashes_then_live; /* crash mode: after this many ends, one long life */
	int pipe_w;       /* children write here */
};

enum { EXIT_3, CRASH, LIVE_A_WHILE, WAIT_FOR_STOP };

static void record_end(void *ctx, int slot, pid_t pid, int status, long respawn_ms)
{
	struct record *r = ctx;
	(void)pid;
	assert_true(r->nends < MAX_ENDS);
	r->slot[r->nends] = slot;
	r->status[r->nends] = status;
	r->respawn_ms[r->nends] = respawn_ms;
	r->nends++;
	if (r->crashes_then_live) {
		/* The next child lives past quick_ms once, then crashes again. */
		r->mode = r->nends == r->crashes_then_live ? LIVE_A_WHILE : CRASH;
	}
	if (r->stop_after && r->nends == r->stop_after)
		kill(getpid(), SIGTERM); /* blocked in the master: taken by the pool */
}

static int child(void *ctx, int slot)
{
	struct record *r = ctx;
	char b = (char)('a' + slot);

	switch (r->mode) {
	case EXIT_3:
		return 3;
	case CRASH:
		raise(SIGKILL);
		return 0;
	case LIVE_A_WHILE:
		poll(NULL, 0, 1000); /* well past the test's quick_ms of 300 */
		raise(SIGKILL);
		return 0;
	default:
		/* Ready, then wait for the stop flag, then "finish the work in
		 * hand" and say so before exiting. */
		if (write(r->pipe_w, &b, 1) != 1)
			return 9;
		/* Bounded, so that a SIGTERM that never comes fails the test
		 * (status 99) instead of hanging it. */
		for (int i = 0; !cli_stopping(); i++) {
			if (i == 3000)
				return 99;
			poll(NULL, 0, 10);
		}
		b = (char)('A' + slot);
		if (write(r->pipe_w, &b, 1) != 1)
			return 9;
		return 40 + slot;
	}
}

static void test_child_exits(void **state)
{
	struct record r = { .mode = EXIT_3 };
	struct proc_pool p = { .name = "test", .n = 1, .run = child, .ctx = &r,
		.ended = record_end, .respawn = 0 };
	struct proc_pool_report rep;
	(void)state;

	assert_int_equal(proc_pool_run(&p, &rep), 0);
	assert_int_equal(r.nends, 1);
	assert_true(WIFEXITED(r.status[0]));
	assert_int_equal(WEXITSTATUS(r.status[0]), 3);
	assert_int_equal(r.respawn_ms[0], -1);
	assert_int_equal(rep.ok, 0);
	assert_int_equal(rep.failed, 1);
	assert_int_equal(rep.stopped, 0);
	assert_int_equal(rep.killed, 0);
}

static void test_crash_loop_backoff(void **state)
{
	struct record r = { .mode = CRASH, .stop_after = 7 };
	struct proc_pool p = { .name = "test", .n = 1, .run = child, .ctx = &r,
		.ended = record_end, .respawn = 1, .backoff_min_ms = 10, .backoff_max_ms = 80,
		.quick_ms = 60000 };
	struct proc_pool_report rep;
	const long want[] = { 10, 20, 40, 80, 80, 80, 80 };
	(void)state;

	assert_int_equal(proc_pool_run(&p, &rep), 0);
	assert_int_equal(r.nends, 7);
	for (int i = 0; i < 7; i++) {
		assert_true(WIFSIGNALED(r.status[i]));
		assert_int_equal(WTERMSIG(r.status[i]), SIGKILL);
		if (r.respawn_ms[i] != want[i])
			fail_msg("end %d: respawn after %ld ms, want %ld", i, r.respawn_ms[i], want[i]);
	}
	assert_int_equal(rep.failed, 7);
	assert_int_equal(rep.stopped, 1);
}

static void test_backoff_resets(void **state)
{
	struct record r = { .mode = CRASH, .stop_after = 6, .crashes_then_live = 3 };
	struct proc_pool p = { .name = "test", .n = 1, .run = child, .ctx = &r,
		.ended = record_end, .respawn = 1, .backoff_min_ms = 10, .backoff_max_ms = 1000,
		.quick_ms = 300 };
	struct proc_pool_report rep;
	/* Three quick crashes, one long life (replaced at once, delay
	 * reset), then quick crashes from the minimum again. */
	const long want[] = { 10, 20, 40, 0, 10, 20 };
	(void)state;

	assert_int_equal(proc_pool_run(&p, &rep), 0);
	assert_int_equal(r.nends, 6);
	for (int i = 0; i < 6; i++)
		if (r.respawn_ms[i] != want[i])
			fail_msg("end %d: respawn after %ld ms, want %ld", i, r.respawn_ms[i], want[i]);
}

/* The master's own SIGTERM (raised once every child is ready) reaches
 * every child; each finishes and the pool returns only after all have. */
static void test_sigterm_reaches_every_child(void **state)
{
	struct record r = { .mode = WAIT_FOR_STOP };
	struct proc_pool p = { .name = "test", .n = 3, .run = child, .ctx = &r,
		.ended = record_end, .respawn = 1, .stop_grace_s = 0 };
	struct proc_pool_report rep;
	int fds[2], seen[3] = { 0, 0, 0 }, finished[3] = { 0, 0, 0 };
	pid_t killer;
	char c;
	(void)state;

	assert_int_equal(pipe(fds), 0);
	r.pipe_w = fds[1];
	/* A helper process sends the SIGTERM once the three are ready: it
	 * reads their "ready" bytes from the pipe. */
	killer = fork();
	assert_true(killer >= 0);
	if (killer == 0) {
		int ready = 0;
		close(fds[1]);
		while (ready < 3 && read(fds[0], &c, 1) == 1)
			if (c >= 'a' && c <= 'c')
				ready++;
		kill(getppid(), SIGTERM);
		_exit(0);
	}
	assert_int_equal(proc_pool_run(&p, &rep), 0);
	assert_int_equal(waitpid(killer, NULL, 0), killer);
	close(fds[1]);
	assert_int_equal(rep.stopped, 1);
	assert_int_equal(rep.killed, 0);
	assert_int_equal(r.nends, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(WIFEXITED(r.status[i]));
		assert_int_equal(WEXITSTATUS(r.status[i]), 40 + r.slot[i]);
		assert_int_equal(r.respawn_ms[i], -1);
		seen[r.slot[i]]++;
	}
	assert_int_equal(seen[0] + seen[1] + seen[2], 3);
	assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
	/* Every child wrote its "finished" byte before the pool returned. */
	while (read(fds[0], &c, 1) == 1)
		if (c >= 'A' && c <= 'C')
			finished[c - 'A']++;
	close(fds[0]);
	assert_true(finished[0] == 1 && finished[1] == 1 && finished[2] == 1);
	assert_int_equal(rep.failed, 3); /* non-zero statuses, by design of the test */
}

/* A child that ignores SIGTERM is killed after the grace period. */
static int stubborn(void *ctx, int slot)
{
	(void)ctx;
	(void)slot;
	signal(SIGTERM, SIG_IGN);
	for (;;)
		pause();
	return 0;
}

static void raise_term(void *ctx, int slot, pid_t pid, int status, long respawn_ms)
{
	(void)ctx, (void)slot, (void)pid, (void)status, (void)respawn_ms;
}

static void test_grace_then_kill(void **state)
{
	struct proc_pool p = { .name = "test", .n = 1, .run = stubborn, .ended = raise_term,
		.respawn = 1, .stop_grace_s = 1 };
	struct proc_pool_report rep;
	sigset_t term, old;
	(void)state;

	/* Pending until the pool takes it. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	kill(getpid(), SIGTERM);
	assert_int_equal(proc_pool_run(&p, &rep), 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(rep.stopped, 1);
	assert_int_equal(rep.killed, 1);
	assert_int_equal(rep.failed, 1);
}

static void test_bad_pool(void **state)
{
	struct proc_pool p = { .name = "test", .n = 0, .run = child };
	struct proc_pool_report rep;
	(void)state;
	assert_int_equal(proc_pool_run(&p, &rep), -1);
	p.n = PROC_POOL_MAX + 1;
	assert_int_equal(proc_pool_run(&p, &rep), -1);
}

/* Reload: generation 1 serves; a SIGHUP starts generation 2, whose
 * children say ready (or fail) on their pipe; the status callback sees
 * each step. */
struct reload_rec {
	int gen2_fails;        /* generation 2's children write a reason and exit 3 */
	int hup_sent, term_sent;
	int saw_in_progress;
	struct proc_pool_status last;
	char reason[128];
	char note[64];
	int ends_gen1_ok;      /* generation 1's children that ended with 0 */
	int nends;
};

static int reload_child(void *ctx, int slot, int gen, int ready_fd)
{
	const struct reload_rec *r = ctx;
	(void)slot;
	if (gen == 2 && r->gen2_fails) {
		if (dprintf(ready_fd, "flows do not load\n") < 0)
			return 9;
		return 3;
	}
	if (ready_fd >= 0) {
		if (dprintf(ready_fd, "ready v%d\n", gen) < 0)
			return 9;
		close(ready_fd);
	}
	for (int i = 0; !cli_stopping(); i++) {
		if (i == 3000)
			return 99;
		poll(NULL, 0, 10);
	}
	return gen == 1 ? 0 : 10 + gen;
}

static int reload_run1(void *ctx, int slot)
{
	return reload_child(ctx, slot, 1, -1);
}

static int reload_begin(void *ctx, int gen, char *err, size_t errlen)
{
	(void)ctx;
	(void)err;
	(void)errlen;
	return gen == 2 ? 0 : -1;
}

static void reload_status(void *ctx, const struct proc_pool_status *st)
{
	struct reload_rec *r = ctx;
	r->last = *st;
	snprintf(r->reason, sizeof(r->reason), "%s", st->reload_reason ? st->reload_reason : "");
	snprintf(r->note, sizeof(r->note), "%s", st->note ? st->note : "");
	if (st->reload == PROC_POOL_RELOAD_IN_PROGRESS)
		r->saw_in_progress = 1;
	/* Both raised signals are blocked in the master: taken by the pool. */
	if (!r->hup_sent && st->running == st->n) {
		r->hup_sent = 1;
		kill(getpid(), SIGHUP);
	} else if (r->hup_sent && !r->term_sent && st->reload != PROC_POOL_RELOAD_IN_PROGRESS &&
		st->reload_seq == 1 && st->retiring == 0 && st->running == st->n) {
		r->term_sent = 1;
		kill(getpid(), SIGTERM);
	}
}

static void reload_end(void *ctx, int slot, pid_t pid, int status, long respawn_ms)
{
	struct reload_rec *r = ctx;
	(void)slot;
	(void)pid;
	(void)respawn_ms;
	r->nends++;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		r->ends_gen1_ok++;
}

static void reload_pool(struct reload_rec *r, struct proc_pool_report *rep)
{
	struct proc_pool p = { .name = "test", .n = 2, .run = reload_run1, .run_gen = reload_child,
		.ctx = r, .ended = reload_end, .respawn = 1, .stop_grace_s = 10,
		.reload_begin = reload_begin, .reload_timeout_ms = 5000, .status = reload_status };
	assert_int_equal(proc_pool_run(&p, rep), 0);
}

static void test_reload_switches_generation(void **state)
{
	struct reload_rec r = { 0 };
	struct proc_pool_report rep;
	(void)state;

	reload_pool(&r, &rep);
	assert_true(r.saw_in_progress);
	assert_int_equal(r.last.reload, PROC_POOL_RELOAD_OK);
	assert_int_equal(r.last.generation, 2);
	assert_int_equal(r.last.reload_seq, 1);
	assert_string_equal(r.note, "v2");
	/* Generation 1 was stopped by the reload (exit 0), not replaced;
	 * generation 2 by the final SIGTERM (12). */
	assert_int_equal(r.nends, 4);
	assert_int_equal(r.ends_gen1_ok, 2);
	assert_int_equal(r.last.restarts, 0);
	assert_int_equal(rep.stopped, 1);
}

static void test_reload_failure_keeps_generation(void **state)
{
	struct reload_rec r = { .gen2_fails = 1 };
	struct proc_pool_report rep;
	(void)state;

	reload_pool(&r, &rep);
	assert_int_equal(r.last.reload, PROC_POOL_RELOAD_FAILED);
	assert_int_equal(r.last.generation, 1);
	assert_int_equal(r.last.reload_seq, 1);
	assert_string_equal(r.reason, "flows do not load");
	/* Generation 1 served on: both its children ended only at the final
	 * SIGTERM (exit 0); nothing of generation 1 was restarted. */
	assert_int_equal(r.ends_gen1_ok, 2);
	assert_int_equal(r.last.restarts, 0);
	assert_int_equal(rep.stopped, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_child_exits),
		cmocka_unit_test(test_crash_loop_backoff),
		cmocka_unit_test(test_backoff_resets),
		cmocka_unit_test(test_sigterm_reaches_every_child),
		cmocka_unit_test(test_grace_then_kill),
		cmocka_unit_test(test_bad_pool),
		cmocka_unit_test(test_reload_switches_generation),
		cmocka_unit_test(test_reload_failure_keeps_generation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

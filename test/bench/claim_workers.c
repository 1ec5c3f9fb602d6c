/* claim_workers: claims per second of N processes running the worker's
 * real claim, for test/bench/claims.
 *
 *   claim_workers N SECONDS NOW_S IDS_FILE
 *
 * Reads reminder ids (one a line, in the order a worker would take them),
 * forks N processes and gives process k the ids k, k + N, k + 2N, ...
 * Each opens its own connection to RINGFENCE_DATABASE_URL (connected
 * before the start), then, all starting together, calls the library's
 * worker_claim (the statement and the function `ringfence worker` runs,
 * with the configured default contact limits and the default lease) on its
 * ids, one after the other, for SECONDS, at the clock NOW_S (Unix
 * seconds).  Nothing is sent.  Every claim must come back WORKER_CLAIMED:
 * anything else (a refusal, a database error) or running out of ids
 * before the time is up fails the run.  Prints
 *
 *   BENCH workers=N claims=C us=WALL cpu_us=CPU
 *
 * WALL from the start to the last process's end, CPU the user + system
 * time of the N processes.  Built by test/bench/claims against the
 * library objects of `make`. */
#include "arena.h"
#include "bench_ids.h"
#include "db.h"
#include "outbound.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64
/* The configured defaults (src/config.c: RINGFENCE_LIMIT_*). */
static const struct worker_limits limits = { 3, 6, 60 };

/* Process k of n: connects, says so on ready (one byte), waits for the
 * go byte, claims until end_us; writes its count on out.  Exit status 0,
 * or 1 with the reason on stderr. */
static int child(int k, int n, const long long *ids, long nids, long long now_s, long long seconds,
	int ready, int go, int out)
{
	struct db *db = db_open(getenv("RINGFENCE_DATABASE_URL"));
	struct arena *job = arena_new(0);
	char name[64], c = 'r';
	long long count = 0, end_us;
	PGresult *res;
	long i = k;
	int rc = 1;

	snprintf(name, sizeof(name), "bench:%d", (int)getpid());
	res = db_exec(db, "SELECT 1", 0, NULL);
	if (res == NULL) {
		fprintf(stderr, "claim_workers: process %d cannot reach PostgreSQL: %s\n", k,
			db_last_error(db));
		goto out;
	}
	PQclear(res);
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
		goto out;
	end_us = bench_wall_us() + seconds * 1000000;
	while (bench_wall_us() < end_us) {
		struct outbound_attempt at;
		const char *reason = "";
		int got;

		if (i >= nids) {
			fprintf(stderr, "claim_workers: process %d ran out of reminders after %lld claims"
					" (generate more)\n", k, count);
			goto out;
		}
		arena_reset(job);
		got = worker_claim(db, job, ids[i], now_s, name, WORKER_LEASE_S, "+15005550006",
			&limits, &at, &reason);
		if (got != WORKER_CLAIMED) {
			fprintf(stderr, "claim_workers: reminder %lld: worker_claim gave %d (%s%s)\n",
				ids[i], got, reason, got < 0 ? db_last_error(db) : "");
			goto out;
		}
		if (at.reminder_id != ids[i]) {
			fprintf(stderr, "claim_workers: claimed %lld, asked for %lld\n", at.reminder_id,
				ids[i]);
			goto out;
		}
		count++;
		i += n;
	}
	rc = write(out, &count, sizeof(count)) == (ssize_t)sizeof(count) ? 0 : 1;
out:
	arena_free(job);
	db_close(db);
	return rc;
}

int main(int argc, char **argv)
{
	int n, ready[2], go[2], out[2], failed = 0;
	long long seconds, now_s, *ids = NULL, total = 0, t0, t1, cpu;
	pid_t pids[MAX_WORKERS];
	struct rusage ru;
	long nids;
	char c;

	if (argc != 5 || getenv("RINGFENCE_DATABASE_URL") == NULL) {
		fprintf(stderr, "usage: RINGFENCE_DATABASE_URL=... claim_workers N SECONDS NOW_S IDS_FILE\n");
		return 2;
	}
	n = atoi(argv[1]);
	seconds = atoll(argv[2]);
	now_s = atoll(argv[3]);
	if (n < 1 || n > MAX_WORKERS || seconds < 1 || now_s <= 0) {
		fprintf(stderr, "claim_workers: N must be 1..%d, SECONDS and NOW_S positive\n",
			MAX_WORKERS);
		return 2;
	}
	nids = bench_read_ids("claim_workers", argv[4], &ids);
	if (nids < 0)
		return 1;
	if (pipe(ready) < 0 || pipe(go) < 0 || pipe(out) < 0) {
		perror("claim_workers: pipe");
		return 1;
	}
	for (int k = 0; k < n; k++) {
		pids[k] = fork();
		if (pids[k] < 0) {
			perror("claim_workers: fork");
			return 1;
		}
		if (pids[k] == 0) {
			close(ready[0]);
			close(go[1]);
			close(out[0]);
			_exit(child(k, n, ids, nids, now_s, seconds, ready[1], go[0], out[1]));
		}
	}
	close(ready[1]);
	close(go[0]);
	close(out[1]);
	for (int k = 0; k < n; k++) {
		if (read(ready[0], &c, 1) != 1) {
			fprintf(stderr, "claim_workers: a process did not get ready\n");
			failed = 1;
			break;
		}
	}
	t0 = bench_wall_us();
	/* Closing the go pipe wakes every process at once (read gives 0 on
	 * EOF); a byte each is what they wait for. */
	for (int k = 0; k < n && !failed; k++)
		if (write(go[1], "g", 1) != 1)
			failed = 1;
	close(go[1]);
	for (int k = 0; k < n; k++) {
		int st;
		if (waitpid(pids[k], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed = 1;
	}
	t1 = bench_wall_us();
	for (int k = 0; k < n; k++) {
		long long one;
		if (read(out[0], &one, sizeof(one)) != (ssize_t)sizeof(one)) {
			failed = 1;
			break;
		}
		total += one;
	}
	free(ids);
	if (failed) {
		fprintf(stderr, "claim_workers: a process failed\n");
		return 1;
	}
	getrusage(RUSAGE_CHILDREN, &ru);
	cpu = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
		ru.ru_stime.tv_usec;
	printf("BENCH workers=%d claims=%lld us=%lld cpu_us=%lld\n", n, total, t1 - t0, cpu);
	return 0;
}

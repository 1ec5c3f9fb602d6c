/* queue_push: ringfence's enqueue, timed, for test/bench/queue.
 *
 *   queue_push IDS_FILE
 *
 * Reads reminder ids (one a line), connects to RINGFENCE_REDIS_URL with
 * the library's rds (a PING first, so the connection is not timed) and
 * adds them all to the ready set with ONE call of the library's
 * queue_push, as a scheduler tick does with every id it found due
 * (queue_push cuts them into its own SADD batches).  Prints
 *
 *   BENCH ids=N us=WALL cpu_us=CPU
 *
 * WALL the microseconds the call took, CPU this process's user + system
 * time in it.  Exits 1 when queue_push fails.  Built by test/bench/queue
 * against the library objects of `make`. */
#include "bench_ids.h"
#include "queue.h"
#include "rds.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static long long cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
		ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

int main(int argc, char **argv)
{
	const char *url = getenv("RINGFENCE_REDIS_URL");
	const char *ping[] = { "PING" };
	long long *ids = NULL, t0, t1, c0, c1;
	struct rds *r;
	redisReply *reply;
	long n;
	int rc;

	if (argc != 2 || url == NULL) {
		fprintf(stderr, "usage: RINGFENCE_REDIS_URL=... queue_push IDS_FILE\n");
		return 2;
	}
	n = bench_read_ids("queue_push", argv[1], &ids);
	if (n < 0)
		return 1;
	r = rds_open(url);
	if (r == NULL) {
		fprintf(stderr, "queue_push: RINGFENCE_REDIS_URL is not a Redis URL\n");
		return 1;
	}
	reply = rds_command(r, 1, ping, NULL);
	if (reply == NULL) {
		fprintf(stderr, "queue_push: Redis does not answer: %s\n", rds_last_error(r));
		rds_close(r);
		free(ids);
		return 1;
	}
	freeReplyObject(reply);
	c0 = cpu_us();
	t0 = bench_wall_us();
	rc = queue_push(r, ids, (size_t)n);
	t1 = bench_wall_us();
	c1 = cpu_us();
	if (rc < 0)
		fprintf(stderr, "queue_push: queue_push failed: %s\n", rds_last_error(r));
	else
		printf("BENCH ids=%ld us=%lld cpu_us=%lld\n", n, t1 - t0, c1 - c0);
	rds_close(r);
	free(ids);
	return rc < 0;
}

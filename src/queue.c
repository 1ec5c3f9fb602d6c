/* queue: the Redis ready set of reminder ids (see queue.h). */
#include "queue.h"
#include "log.h"
#include "rds.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ids per SADD: big enough to keep round trips few, small enough that one
 * command never blocks Redis for long. */
#define QUEUE_BATCH 1000
#define QUEUE_ID_MAX 24

int queue_push(struct rds *r, const long long *ids, size_t n)
{
	size_t ncmds = (n + QUEUE_BATCH - 1) / QUEUE_BATCH;
	char *text = NULL;
	const char **args = NULL;
	const char ***argvs = NULL;
	int *argcs = NULL;
	int rc = -1;

	if (n == 0)
		return 0;
	/* Owner: this function; every command's argv points into text/args. */
	text = xmalloc(n * QUEUE_ID_MAX);
	args = xmalloc((n + 2 * ncmds) * sizeof(*args));
	argvs = xmalloc(ncmds * sizeof(*argvs));
	argcs = xmalloc(ncmds * sizeof(*argcs));
	for (size_t c = 0, i = 0, a = 0; c < ncmds; c++) {
		size_t end = i + QUEUE_BATCH < n ? i + QUEUE_BATCH : n;
		argvs[c] = &args[a];
		args[a++] = "SADD";
		args[a++] = QUEUE_KEY;
		for (; i < end; i++) {
			if (ids[i] <= 0) {
				log_error("queue: refusing to push id %lld (not a positive id)", ids[i]);
				goto out;
			}
			snprintf(text + i * QUEUE_ID_MAX, QUEUE_ID_MAX, "%lld", ids[i]);
			args[a++] = text + i * QUEUE_ID_MAX;
		}
		argcs[c] = (int)(&args[a] - argvs[c]);
	}
	if (rds_pipeline(r, (int)ncmds, argcs, argvs, NULL) < 0) {
		log_error("queue: SADD %s failed: %s", QUEUE_KEY, rds_last_error(r));
		goto out;
	}
	rc = 0;
out:
	free(text);
	free(args);
	free(argvs);
	free(argcs);
	return rc;
}

int queue_pop(struct rds *r, long long *id)
{
	const char *argv[] = { "SPOP", QUEUE_KEY };
	redisReply *reply = rds_command(r, 2, argv, NULL);
	char buf[QUEUE_ID_MAX], *end;
	long long v;
	int rc = -1;

	if (reply == NULL) {
		log_error("queue: SPOP %s failed: %s", QUEUE_KEY, rds_last_error(r));
		goto out;
	}
	if (reply->type == REDIS_REPLY_NIL) {
		rc = 0;
		goto out;
	}
	if (reply->type != REDIS_REPLY_STRING || reply->len == 0 || reply->len >= sizeof(buf)) {
		log_error("queue: SPOP %s gave an unexpected reply (type %d)", QUEUE_KEY, reply->type);
		goto out;
	}
	memcpy(buf, reply->str, reply->len);
	buf[reply->len] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || *end != '\0' || v <= 0 || buf[0] < '1' || buf[0] > '9') {
		log_error("queue: dropped a member of %s that is not a reminder id: '%.20s'", QUEUE_KEY, buf);
		goto out;
	}
	*id = v;
	rc = 1;
out:
	if (reply)
		freeReplyObject(reply);
	return rc;
}

long long queue_size(struct rds *r)
{
	const char *argv[] = { "SCARD", QUEUE_KEY };
	redisReply *reply = rds_command(r, 2, argv, NULL);
	long long n = -1;

	if (reply == NULL) {
		log_error("queue: SCARD %s failed: %s", QUEUE_KEY, rds_last_error(r));
		goto out;
	}
	if (reply->type == REDIS_REPLY_INTEGER)
		n = reply->integer;
	else
		log_error("queue: SCARD %s gave an unexpected reply (type %d)", QUEUE_KEY, reply->type);
out:
	if (reply)
		freeReplyObject(reply);
	return n;
}

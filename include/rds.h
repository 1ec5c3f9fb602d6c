/* rds: one Redis connection per process, opened lazily (after fork) with
 * timeouts, re-opened after a failure.
 *
 * hiredis 0.14: after any NULL reply the context is dead; rds frees it and
 * reconnects on the next command (at most once per rds_retry_ms, so a
 * Redis outage costs a request one failed connect, not a stall). */
#ifndef RF_RDS_H
#define RF_RDS_H

#include <stddef.h>
#include <hiredis/hiredis.h>

struct rds;

/* url: redis://[[user]:password@]host[:port][/db],
 * unix://[[user]:password@]/path/to/socket[?db=N] or
 * sentinel://[[user]:password@]host[:port],host[:port],.../NAME[?db=N]
 * (Redis Sentinel: the sentinels, 26379 when a port is left out, are
 * asked in turn for the master called NAME; they are asked without a
 * password, which is the data nodes').  user and password are
 * percent-decoded.  With a password every new connection sends AUTH
 * [user] password first, then SELECT.  Owner: the caller, released with
 * rds_close.  Returns NULL only when the URL is malformed. */
struct rds *rds_open(const char *url);

/* Whether url is one rds_open accepts: 0, or -1 with the reason in err
 * ("must start with redis://, unix:// or sentinel://", ...), which never quotes the URL
 * or its password. */
int rds_url_check(const char *url, char *err, size_t errlen);

/* At a process's start: one PING.  0 when Redis answered or cannot be
 * reached (an outage is not a configuration error: the process runs and
 * recovers with Redis); -1 with a one-line reason in err when Redis
 * refused the password (WRONGPASS, NOAUTH), which no retry will cure. */
int rds_start_check(struct rds *r, char *err, size_t errlen);

/* 1 when the last failure was Redis refusing the credentials. */
int rds_auth_refused(const struct rds *r);
void rds_close(struct rds *r);

/* Connects if needed; 0 or -1 (logged, rate-limited). */
int rds_connect(struct rds *r);

/* Runs one command argv-style.  Returns the reply (caller frees with
 * freeReplyObject) or NULL when Redis cannot be reached or answered with
 * an error reply (the error is logged and kept for rds_last_error).
 *
 * Never on a replica: a connection through Sentinel is made only to a
 * server whose ROLE is master, and there a READONLY or MASTERDOWN error
 * reply (the master became a replica) drops the connection; such a command
 * was not applied, so it is run once more on the master found again.  A
 * command whose connection broke has an unknown outcome and is not run
 * again (NULL, as for any outage).  Pipelines likewise, when no reply
 * shows a command applied. */
redisReply *rds_command(struct rds *r, int argc, const char **argv, const size_t *argvlen);

/* The same for ncmds commands already in Redis's protocol (RESP: "*3\r\n
 * $6\r\nEXPIRE\r\n..."), len bytes of resp, sent as they are: a caller
 * that formats its own commands skips hiredis's formatting. */
int rds_pipeline_resp(struct rds *r, int ncmds, const char *resp, size_t len);

/* The same, *last set to the last reply's integer (-1 when it is not
 * one), e.g. the number of replicas a closing WAIT counted. */
int rds_pipeline_resp_int(struct rds *r, int ncmds, const char *resp, size_t len, long long *last);

/* 1 when r connects through Sentinel (sentinel://). */
int rds_is_sentinel(const struct rds *r);

/* Pipelines ncmds commands and waits for every reply.  Returns 0 when all
 * succeeded, -1 otherwise (replies are discarded). */
int rds_pipeline(struct rds *r, int ncmds, const int *argcs, const char ***argvs,
	const size_t **argvlens);

const char *rds_last_error(const struct rds *r);

/* 1 when the last failure was an error reply (Redis is reachable and
 * answered, for example NOSCRIPT or WRONGTYPE), 0 when Redis could not be
 * reached. */
int rds_last_was_reply_error(const struct rds *r);

/* Where r connects, for messages: "host:port db N", "/path db N" or
 * "sentinel NAME -> host:port db N" (the master found last, "?" before). */
const char *rds_endpoint(const struct rds *r);

/* Runs a Lua script with EVALSHA (its SHA-1 computed here), falling back
 * to EVAL when Redis does not have it cached (NOSCRIPT).  args holds the
 * nkeys keys first, then the script's ARGV: nargs in all, at most
 * RDS_EVAL_MAX_ARGS; arglens may be NULL for NUL-terminated strings.
 * Returns the reply (caller frees) or NULL as rds_command. */
#define RDS_EVAL_MAX_ARGS 32
redisReply *rds_eval(struct rds *r, const char *script, int nkeys, int nargs,
	const char **args, const size_t *arglens);

#endif

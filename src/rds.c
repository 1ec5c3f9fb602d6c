/* rds: one Redis connection per process, reconnecting after failure. */
#include "rds.h"
#include "log.h"
#include "metrics.h"
#include "secret.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define RDS_DEFAULT_PORT 6379
/* A request must not wait on Redis for long: a short connect timeout, a
 * slightly longer one for each command. */
#define RDS_CONNECT_TIMEOUT_MS 500
#define RDS_COMMAND_TIMEOUT_MS 1000
/* After a failed connect, further attempts wait this long, so that during
 * an outage each request fails at once instead of paying a connect. */
#define RDS_RETRY_MS 1000
#define RDS_MAX_DB 1000000
/* Sentinels are asked briefly, one after the other: a dead one costs
 * little before the next is asked. */
#define RDS_SENTINEL_CONNECT_TIMEOUT_MS 300
#define RDS_SENTINEL_COMMAND_TIMEOUT_MS 500
#define RDS_SENTINEL_DEFAULT_PORT 26379
#define RDS_SENTINEL_MAX 16

struct rds {
	char *host;             /* owned; NULL for a Unix socket */
	int port;
	char *path;             /* owned; Unix socket path, or NULL */
	int db;
	char *user;             /* owned; ACL user for AUTH, or NULL (the default user) */
	char *password;         /* owned; AUTH password, or NULL: no AUTH */
	int auth_refused;       /* the last connect failed because AUTH was refused */
	int quiet;              /* rds_start_check: its caller reports, nothing is logged */
	char endpoint[384];
	redisContext *ctx;      /* NULL when not connected */
	pid_t pid;              /* process that opened ctx */
	long long failed_at;    /* monotonic ms of the last failed connect, or 0 */
	int down;               /* an outage is in progress and was logged */
	int connected_before;   /* a connection after this one is a reconnect (metrics) */
	int reply_error;        /* the last failure was an error reply */
	int not_master;         /* the last error reply was READONLY or MASTERDOWN */
	char error[256];
	/* sentinel://: the sentinels, the master's name, the last sentinel
	 * that answered and the master found last (host is then NULL). */
	int nsentinels;
	char *sentinel_host[RDS_SENTINEL_MAX]; /* owned */
	int sentinel_port[RDS_SENTINEL_MAX];
	char *name;             /* owned; NULL unless sentinel:// */
	int sentinel_last;
	char master[280];       /* "host:port" of the current master, or "" */
};

/* Parses a decimal number of 1 to 9 digits in [s, end) within [min, max];
 * 0 or -1. */
static int rds_parse_num(const char *s, const char *end, long min, long max, int *out)
{
	long v = 0;
	if (end <= s || end - s > 9)
		return -1;
	for (const char *p = s; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static int rds_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/* [[user]:password@] before the host or socket path: [s, at) is the
 * userinfo.  Both parts are percent-decoded; a userinfo without a colon
 * is refused (it would be unclear whether it names a user or a password).
 * 0 or -1 with a reason in err (which never quotes them). */
static int rds_parse_userinfo(struct rds *r, const char *s, const char *at, char *err, size_t errlen)
{
	const char *colon = memchr(s, ':', (size_t)(at - s));
	char buf[512];

	if (colon == NULL) {
		snprintf(err, errlen, "the credentials must be written :password@ or user:password@");
		return -1;
	}
	if (colon > s) {
		if (url_pct_decode(s, (size_t)(colon - s), buf, sizeof(buf)) < 0) {
			snprintf(err, errlen, "the user name has a malformed %%-escape or is too long");
			return -1;
		}
		r->user = xstrdup(buf);
	}
	if (url_pct_decode(colon + 1, (size_t)(at - colon - 1), buf, sizeof(buf)) < 0 || buf[0] == '\0') {
		explicit_bzero(buf, sizeof(buf));
		snprintf(err, errlen, "the password is empty, too long or has a malformed %%-escape "
			"(write @ as %%40, : as %%3A, / as %%2F)");
		return -1;
	}
	r->password = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* The ']' ending a bracketed IPv6 address that starts at host (after
 * its '[') and lies before end; NULL when there is none, the address is
 * empty, or it holds anything but hex digits, ':' and '.'. */
static const char *rds_bracket_end(const char *host, const char *end)
{
	const char *close = memchr(host, ']', (size_t)(end - host));

	if (close == NULL || close == host)
		return NULL;
	for (const char *p = host; p < close; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
				(*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.'))
			return NULL;
	return close;
}

/* The [[user]:password@] before a URL's hosts: taken into r (the last
 * '@' before the path ends it) and *s moved past it.  0, or -1 with the
 * reason in err. */
static int rds_take_userinfo(struct rds *r, const char **s, char *err, size_t errlen)
{
	const char *p, *at = NULL;
	size_t auth_len = strcspn(*s, "/?#");

	for (p = *s; p < *s + auth_len; p++)
		if (*p == '@')
			at = p;
	if (at == NULL)
		return 0;
	if (rds_parse_userinfo(r, *s, at, err, errlen) < 0)
		return -1;
	*s = at + 1;
	return 0;
}

/* redis://[[user]:password@]host[:port][/db]; host may be a bracketed
 * IPv6 address.  Query options are refused rather than ignored, so a URL
 * that means more than rds understands fails at start. */
static int rds_parse_tcp(struct rds *r, const char *s, char *err, size_t errlen)
{
	const char *host, *host_end, *p;

	if (rds_take_userinfo(r, &s, err, errlen) < 0)
		return -1;
	snprintf(err, errlen, "the host, port (1 to 65535) or database number (0 to %d) is malformed",
		RDS_MAX_DB);
	if (*s == '[') {
		host = s + 1;
		host_end = rds_bracket_end(host, host + strlen(host));
		if (host_end == NULL)
			return -1;
		p = host_end + 1;
	} else {
		host = s;
		for (p = s; rds_host_char(*p); p++)
			;
		host_end = p;
		if (host_end == host)
			return -1;
	}
	if (host_end - host > 253)
		return -1;
	r->port = RDS_DEFAULT_PORT;
	if (*p == ':') {
		const char *q = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (rds_parse_num(q, p, 1, 65535, &r->port) < 0)
			return -1;
	}
	if (*p == '/') {
		const char *q = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p > q && rds_parse_num(q, p, 0, RDS_MAX_DB, &r->db) < 0)
			return -1;
	}
	if (*p != '\0')
		return -1;
	r->host = xstrndup(host, (size_t)(host_end - host));
	return 0;
}

/* unix://[[user]:password@]/absolute/path[?db=N] */
static int rds_parse_unix(struct rds *r, const char *s, char *err, size_t errlen)
{
	const char *slash = strchr(s, '/');
	const char *q, *end;
	size_t len;

	if (slash && slash > s) {
		if (slash[-1] != '@') {
			snprintf(err, errlen, "a unix:// URL is unix:///path or unix://[user]:password@/path");
			return -1;
		}
		if (rds_parse_userinfo(r, s, slash - 1, err, errlen) < 0)
			return -1;
		s = slash;
	}
	snprintf(err, errlen, "a unix:// URL is unix:///absolute/path[?db=N] (N from 0 to %d)", RDS_MAX_DB);
	q = strchr(s, '?');
	end = q ? q : s + strlen(s);
	len = (size_t)(end - s);
	if (len < 2 || s[0] != '/' || len >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -1;
	for (const char *p = s; p < end; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '#' || *p == '@')
			return -1;
	if (q) {
		if (strncmp(q, "?db=", 4) != 0)
			return -1;
		if (rds_parse_num(q + 4, q + strlen(q), 0, RDS_MAX_DB, &r->db) < 0)
			return -1;
	}
	r->path = xstrndup(s, len);
	return 0;
}

/* One sentinel of a sentinel:// URL, [s, end): host[:port] or
 * [IPv6][:port]; 0 or -1. */
static int rds_parse_sentinel_host(struct rds *r, const char *s, const char *end)
{
	const char *host = s, *host_end, *p;
	int port = RDS_SENTINEL_DEFAULT_PORT;

	if (*s == '[') {
		host = s + 1;
		host_end = rds_bracket_end(host, end);
		if (host_end == NULL)
			return -1;
		p = host_end + 1;
	} else {
		for (p = s; p < end && rds_host_char(*p); p++)
			;
		host_end = p;
		if (host_end == host)
			return -1;
	}
	if (host_end - host > 253)
		return -1;
	if (p < end && *p == ':') {
		if (rds_parse_num(p + 1, end, 1, 65535, &port) < 0)
			return -2;
		p = end;
	}
	if (p != end)
		return -1;
	r->sentinel_host[r->nsentinels] = xstrndup(host, (size_t)(host_end - host));
	r->sentinel_port[r->nsentinels++] = port;
	return 0;
}

/* sentinel://[[user]:password@]host:port,host:port,.../NAME[?db=N]: the
 * sentinels (a missing port is 26379), the master's name, the database. */
static int rds_parse_sentinel(struct rds *r, const char *s, char *err, size_t errlen)
{
	const char *p, *slash, *q, *name;

	if (rds_take_userinfo(r, &s, err, errlen) < 0)
		return -1;
	slash = s + strcspn(s, "/?#");
	if (slash == s) {
		snprintf(err, errlen, "a sentinel:// URL names no sentinel (host:port,host:port/NAME)");
		return -1;
	}
	for (p = s; p < slash;) {
		const char *e = memchr(p, ',', (size_t)(slash - p));
		int rc;
		if (e == NULL)
			e = slash;
		if (r->nsentinels == RDS_SENTINEL_MAX) {
			snprintf(err, errlen, "a sentinel:// URL names more than %d sentinels",
				RDS_SENTINEL_MAX);
			return -1;
		}
		rc = e == p ? -1 : rds_parse_sentinel_host(r, p, e);
		if (rc == -2) {
			snprintf(err, errlen, "sentinel %d of the URL has a bad port (1 to 65535)",
				r->nsentinels + 1);
			return -1;
		}
		if (rc < 0) {
			snprintf(err, errlen, "sentinel %d of the URL is not host:port", r->nsentinels + 1);
			return -1;
		}
		p = e + (e < slash);
		if (e < slash && p == slash) {
			snprintf(err, errlen, "sentinel %d of the URL is empty", r->nsentinels + 1);
			return -1;
		}
	}
	if (*slash != '/' || slash[1] == '\0' || slash[1] == '?') {
		snprintf(err, errlen, "a sentinel:// URL must end with /NAME, the master's name "
			"in the sentinels' configuration");
		return -1;
	}
	name = slash + 1;
	q = name + strcspn(name, "?");
	for (p = name; p < q; p++)
		if (!rds_host_char(*p) || q - name > 128) {
			snprintf(err, errlen, "the master's NAME must be 1 to 128 characters of "
				"[A-Za-z0-9._-]");
			return -1;
		}
	if (*q) {
		if (strncmp(q, "?db=", 4) != 0 ||
				rds_parse_num(q + 4, q + strlen(q), 0, RDS_MAX_DB, &r->db) < 0) {
			snprintf(err, errlen, "the only option of a sentinel:// URL is ?db=N "
				"(N from 0 to %d)", RDS_MAX_DB);
			return -1;
		}
	}
	r->name = xstrndup(name, (size_t)(q - name));
	return 0;
}

/* Parses url into r; 0 or -1 with a reason that never quotes the URL. */
static int rds_parse(struct rds *r, const char *url, char *err, size_t errlen)
{
	if (url == NULL) {
		snprintf(err, errlen, "is not set");
		return -1;
	}
	if (strncmp(url, "redis://", 8) == 0)
		return rds_parse_tcp(r, url + 8, err, errlen);
	if (strncmp(url, "unix://", 7) == 0)
		return rds_parse_unix(r, url + 7, err, errlen);
	if (strncmp(url, "sentinel://", 11) == 0)
		return rds_parse_sentinel(r, url + 11, err, errlen);
	snprintf(err, errlen, "must start with redis://, unix:// or sentinel://");
	return -1;
}

/* Frees what r owns (not r itself). */
static void rds_free_fields(struct rds *r)
{
	free(r->host);
	free(r->path);
	free(r->user);
	free(r->name);
	for (int i = 0; i < r->nsentinels; i++)
		free(r->sentinel_host[i]);
	if (r->password) {
		explicit_bzero(r->password, strlen(r->password));
		free(r->password);
	}
}

int rds_url_check(const char *url, char *err, size_t errlen)
{
	struct rds r;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = rds_parse(&r, url, err, errlen);
	rds_free_fields(&r);
	return rc;
}

/* "sentinel NAME -> host:port db N" (the master found last, or "?"). */
static void rds_sentinel_endpoint(struct rds *r)
{
	snprintf(r->endpoint, sizeof(r->endpoint), "sentinel %.64s -> %.270s db %d", r->name,
		r->master[0] ? r->master : "?", r->db);
}

struct rds *rds_open(const char *url)
{
	struct rds *r = xcalloc(1, sizeof(*r));
	char err[256];
	int rc = rds_parse(r, url, err, sizeof(err));

	if (rc < 0)
		goto out;
	if (r->name)
		rds_sentinel_endpoint(r);
	else if (r->path)
		snprintf(r->endpoint, sizeof(r->endpoint), "%s db %d", r->path, r->db);
	else if (strchr(r->host, ':'))
		snprintf(r->endpoint, sizeof(r->endpoint), "[%s]:%d db %d", r->host, r->port, r->db);
	else
		snprintf(r->endpoint, sizeof(r->endpoint), "%s:%d db %d", r->host, r->port, r->db);
out:
	if (rc < 0) {
		rds_close(r);
		r = NULL;
	}
	return r;
}

/* Forgets the connection.  A context inherited across fork() is closed
 * in this process only; the parent's socket is untouched. */
static void rds_drop(struct rds *r)
{
	if (r->ctx)
		redisFree(r->ctx);
	r->ctx = NULL;
}

void rds_close(struct rds *r)
{
	if (r == NULL)
		return;
	rds_drop(r);
	rds_free_fields(r);
	free(r);
}

static void rds_set_error(struct rds *r, const char *what, const char *msg, size_t len)
{
	if (len > sizeof(r->error) - 1)
		len = sizeof(r->error) - 1;
	snprintf(r->error, sizeof(r->error), "%s%.*s", what, (int)len, msg ? msg : "");
	for (char *p = r->error; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/* Enters the outage state, logging only its start. */
static void rds_outage(struct rds *r)
{
	r->reply_error = 0;
	metrics_redis_error();
	if (!r->down && !r->quiet)
		log_error("redis: %s unavailable: %s", r->endpoint, r->error);
	r->down = 1;
}

/* Leaves the outage state once Redis has answered a command. */
static void rds_recovered(struct rds *r)
{
	if (r->down)
		log_info("redis: %s available again", r->endpoint);
	r->down = 0;
	r->reply_error = 0;
	r->error[0] = '\0';
}

/* A connection the server has closed (idle timeout, restart, CLIENT
 * KILL) shows up as end-of-file on the socket before anything is sent.
 * Detecting it here means the command can go to a fresh connection
 * instead of failing, and nothing is ever sent twice. */
static int rds_alive(struct rds *r)
{
	char c;
	ssize_t n;

	if (r->pid != getpid())
		return 0;
	if (r->ctx->err)
		return 0;
	n = recv(r->ctx->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 1;
	/* EOF, a socket error, or bytes nobody asked for: all mean the
	 * connection can no longer be trusted to pair replies with commands. */
	return 0;
}

/* Opens r->ctx to one Redis server (host:port, or r->path when host is
 * NULL) with the usual timeouts, sends AUTH, checks with ROLE that it is
 * the master when must_be_master, then SELECTs the database.  0, or -1
 * with the reason in r->error and no connection. */
static int rds_open_node(struct rds *r, const char *host, int port, int must_be_master)
{
	struct timeval cto = { RDS_CONNECT_TIMEOUT_MS / 1000, (RDS_CONNECT_TIMEOUT_MS % 1000) * 1000 };
	struct timeval tto = { RDS_COMMAND_TIMEOUT_MS / 1000, (RDS_COMMAND_TIMEOUT_MS % 1000) * 1000 };
	redisReply *reply = NULL;
	int rc = -1;

	if (host == NULL)
		r->ctx = redisConnectUnixWithTimeout(r->path, cto);
	else
		r->ctx = redisConnectWithTimeout(host, port, cto);
	if (r->ctx == NULL) {
		rds_set_error(r, "connect: ", "out of memory", 13);
		goto out;
	}
	if (r->ctx->err) {
		rds_set_error(r, "connect: ", r->ctx->errstr, strlen(r->ctx->errstr));
		goto out;
	}
	if (redisSetTimeout(r->ctx, tto) != REDIS_OK) {
		rds_set_error(r, "set timeout: ", strerror(errno), strlen(strerror(errno)));
		goto out;
	}
	if (host)
		redisEnableKeepAlive(r->ctx);
	r->auth_refused = 0;
	if (r->password) {
		/* AUTH [user] password, before anything else on every new
		 * connection.  Redis's answer is not copied: the message names
		 * only the refusal, never the password. */
		const char *argv[] = { "AUTH", r->user ? r->user : r->password, r->password };
		reply = redisCommandArgv(r->ctx, r->user ? 3 : 2, argv, NULL);
		if (reply == NULL) {
			rds_set_error(r, "auth: ", r->ctx->errstr, strlen(r->ctx->errstr));
			goto out;
		}
		if (reply->type == REDIS_REPLY_ERROR) {
			char code[32];
			snprintf(code, sizeof(code), "%.*s", (int)strcspn(reply->str, " "), reply->str);
			snprintf(r->error, sizeof(r->error), "Redis refused the password%s%s (%s)",
				r->user ? " of user " : "", r->user ? r->user : "", code);
			r->auth_refused = 1;
			goto out;
		}
		freeReplyObject(reply);
		reply = NULL;
	}
	if (must_be_master) {
		/* A sentinel's answer may be stale (a failover in progress):
		 * only a server that says it is the master is written to. */
		const char *argv[] = { "ROLE" };
		reply = redisCommandArgv(r->ctx, 1, argv, NULL);
		if (reply == NULL) {
			rds_set_error(r, "role: ", r->ctx->errstr, strlen(r->ctx->errstr));
			goto out;
		}
		if (reply->type == REDIS_REPLY_ERROR) {
			rds_set_error(r, "role: ", reply->str, reply->len);
			goto out;
		}
		if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
				reply->element[0]->type != REDIS_REPLY_STRING ||
				strcmp(reply->element[0]->str, "master") != 0) {
			snprintf(r->error, sizeof(r->error), "%.200s:%d is not the master (a failover "
				"in progress?)", host, port);
			goto out;
		}
		freeReplyObject(reply);
		reply = NULL;
	}
	if (r->db != 0) {
		char dbs[16];
		const char *argv[] = { "SELECT", dbs };
		snprintf(dbs, sizeof(dbs), "%d", r->db);
		reply = redisCommandArgv(r->ctx, 2, argv, NULL);
		if (reply == NULL) {
			rds_set_error(r, "select: ", r->ctx->errstr, strlen(r->ctx->errstr));
			goto out;
		}
		if (reply->type == REDIS_REPLY_ERROR) {
			rds_set_error(r, "select: ", reply->str, reply->len);
			goto out;
		}
	}
	rc = 0;
out:
	if (reply)
		freeReplyObject(reply);
	if (rc < 0)
		rds_drop(r);
	return rc;
}

/* Asks one sentinel for the master of r->name: 0 with host (size
 * hostlen) and *port, or -1 with the reason in r->error. */
static int rds_ask_sentinel(struct rds *r, int i, char *host, size_t hostlen, int *port)
{
	struct timeval cto = { 0, RDS_SENTINEL_CONNECT_TIMEOUT_MS * 1000 };
	struct timeval tto = { 0, RDS_SENTINEL_COMMAND_TIMEOUT_MS * 1000 };
	const char *argv[] = { "SENTINEL", "get-master-addr-by-name", r->name };
	redisContext *c = redisConnectWithTimeout(r->sentinel_host[i], r->sentinel_port[i], cto);
	redisReply *reply = NULL;
	int rc = -1;

	if (c == NULL || c->err) {
		snprintf(r->error, sizeof(r->error), "sentinel %.100s:%d: %.100s", r->sentinel_host[i],
			r->sentinel_port[i], c ? c->errstr : "out of memory");
		goto out;
	}
	if (redisSetTimeout(c, tto) == REDIS_OK)
		reply = redisCommandArgv(c, 3, argv, NULL);
	if (reply == NULL) {
		snprintf(r->error, sizeof(r->error), "sentinel %.100s:%d: %.100s", r->sentinel_host[i],
			r->sentinel_port[i], c->errstr[0] ? c->errstr : "no answer");
		goto out;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
			reply->element[0]->type != REDIS_REPLY_STRING ||
			reply->element[1]->type != REDIS_REPLY_STRING ||
			reply->element[0]->len >= hostlen ||
			rds_parse_num(reply->element[1]->str, reply->element[1]->str + reply->element[1]->len,
				1, 65535, port) < 0) {
		snprintf(r->error, sizeof(r->error), "sentinel %.100s:%d knows no master named %.64s",
			r->sentinel_host[i], r->sentinel_port[i], r->name);
		goto out;
	}
	memcpy(host, reply->element[0]->str, reply->element[0]->len + 1);
	rc = 0;
out:
	if (reply)
		freeReplyObject(reply);
	if (c)
		redisFree(c);
	return rc;
}

/* Finds the master through the sentinels, starting with the one that
 * answered last, and connects to it; 0 or -1 (r->error: the last reason). */
static int rds_discover(struct rds *r)
{
	char host[256], master[sizeof(r->master)];
	int port;

	for (int k = 0; k < r->nsentinels; k++) {
		int i = (r->sentinel_last + k) % r->nsentinels;
		if (rds_ask_sentinel(r, i, host, sizeof(host), &port) < 0)
			continue;
		if (rds_open_node(r, host, port, 1) < 0) {
			if (r->auth_refused)
				return -1;
			continue;
		}
		r->sentinel_last = i;
		snprintf(master, sizeof(master), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
		if (strcmp(master, r->master) != 0) {
			if (r->master[0]) {
				metrics_redis_master_change();
				log_warn("redis: sentinel %s: the master moved from %s to %s", r->name,
					r->master, master);
			}
			memcpy(r->master, master, sizeof(master));
			rds_sentinel_endpoint(r);
		}
		return 0;
	}
	return -1;
}

int rds_connect(struct rds *r)
{
	long long now;
	int rc;

	if (r->ctx && rds_alive(r))
		return 0;
	rds_drop(r);
	now = util_now_ms();
	if (r->failed_at && now - r->failed_at < RDS_RETRY_MS) {
		/* Keep the error of the failed attempt: it is the real reason. */
		r->reply_error = 0;
		return -1;
	}
	r->not_master = 0;
	rc = r->name ? rds_discover(r) : rds_open_node(r, r->host, r->port, 0);
	if (rc < 0) {
		r->failed_at = now ? now : 1;
		rds_outage(r);
		return -1;
	}
	if (r->connected_before)
		metrics_redis_reconnect();
	r->connected_before = 1;
	r->pid = getpid();
	r->failed_at = 0;
	return 0;
}

/* Takes over reply (which may be NULL) from a command on the current
 * connection: the reply when it is usable, else NULL with the error kept
 * and a dead connection dropped. */
static redisReply *rds_check(struct rds *r, redisReply *reply)
{
	if (reply == NULL) {
		rds_set_error(r, "", r->ctx->errstr, strlen(r->ctx->errstr));
		rds_drop(r);
		rds_outage(r);
		return NULL;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		rds_set_error(r, "", reply->str, reply->len);
		r->reply_error = 1;
		/* Through Sentinel, connected to a replica (a failover moved
		 * the master): the command was refused, not applied; the
		 * caller drops the connection and may run it once more on the
		 * master found again.  (A redis:// URL names one server: there
		 * is nothing else to find.) */
		if (r->name && (strncmp(r->error, "READONLY", 8) == 0 ||
				strncmp(r->error, "MASTERDOWN", 10) == 0))
			r->not_master = 1;
		if (strncmp(r->error, "NOAUTH", 6) == 0) {
			snprintf(r->error, sizeof(r->error), "Redis wants a password (NOAUTH): give it in "
				"RINGFENCE_REDIS_URL");
			r->auth_refused = 1;
		}
		/* NOSCRIPT is the normal first answer to EVALSHA on a fresh
		 * connection; callers load the script and go on. */
		if (strncmp(r->error, "NOSCRIPT", 8) == 0)
			log_debug("redis: %s", r->error);
		else if (!r->quiet)
			log_warn("redis: error reply: %s", r->error);
		freeReplyObject(reply);
		return NULL;
	}
	return reply;
}

/* After a command refused because the server is not the master: the
 * connection is dropped so that the next one finds the master again. */
static void rds_left_replica(struct rds *r)
{
	log_warn("redis: %s is no longer the master (%.*s): finding the master again",
		r->endpoint, (int)strcspn(r->error, " "), r->error);
	rds_drop(r);
	metrics_redis_error();
}

redisReply *rds_command(struct rds *r, int argc, const char **argv, const size_t *argvlen)
{
	redisReply *reply;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (rds_connect(r) < 0)
			return NULL;
		reply = rds_check(r, redisCommandArgv(r->ctx, argc, argv, argvlen));
		if (reply) {
			rds_recovered(r);
			return reply;
		}
		if (!r->not_master || r->ctx == NULL)
			return NULL;
		/* READONLY or MASTERDOWN: refused, so running it again on the
		 * master found now applies it once. */
		rds_left_replica(r);
	}
	return NULL;
}

/* Whether a reply that is not an error shows that a command was applied:
 * every reply but QUEUED (inside MULTI) and a first +OK (MULTI's). */
static int rds_reply_applied(const redisReply *reply, int i)
{
	if (reply->type == REDIS_REPLY_ERROR)
		return 0;
	if (reply->type == REDIS_REPLY_STATUS &&
			(strcmp(reply->str, "QUEUED") == 0 || (i == 0 && strcmp(reply->str, "OK") == 0)))
		return 0;
	return 1;
}

/* Reads the replies of ncmds pipelined commands; 0 when all succeeded,
 * else -1, with *again set when the server refused them as a replica and
 * applied none (the pipeline may be sent again).  *last: the last reply's
 * integer, or -1. */
static int rds_replies(struct rds *r, int ncmds, int *again, long long *last)
{
	int rc = 0, applied = 0;

	*again = 0;
	*last = -1;
	/* Every reply is read, even after an error reply, so the
	 * connection stays in step for the next command. */
	for (int i = 0; i < ncmds; i++) {
		void *raw = NULL;
		redisReply *reply;
		if (redisGetReply(r->ctx, &raw) != REDIS_OK)
			raw = NULL;
		if (raw && rds_reply_applied(raw, i))
			applied = 1;
		reply = rds_check(r, raw);
		if (reply == NULL) {
			rc = -1;
			if (r->ctx == NULL)
				break;
			continue;
		}
		/* EXEC's array holds the error of each command that failed. */
		for (size_t k = 0; reply->type == REDIS_REPLY_ARRAY && k < reply->elements; k++)
			if (reply->element[k]->type == REDIS_REPLY_ERROR) {
				rds_set_error(r, "exec: ", reply->element[k]->str, reply->element[k]->len);
				r->reply_error = 1;
				rc = -1;
			}
		if (i == ncmds - 1 && reply->type == REDIS_REPLY_INTEGER)
			*last = reply->integer;
		freeReplyObject(reply);
	}
	if (rc == 0)
		rds_recovered(r);
	else if (r->not_master && r->ctx) {
		*again = !applied;
		rds_left_replica(r);
	}
	return rc;
}

/* After a failed append: earlier commands are buffered without their
 * replies read; only a new connection is in a known state.  -1. */
static int rds_append_failed(struct rds *r)
{
	rds_set_error(r, "append: ", r->ctx->errstr, strlen(r->ctx->errstr));
	rds_drop(r);
	rds_outage(r);
	return -1;
}

int rds_pipeline(struct rds *r, int ncmds, const int *argcs, const char ***argvs,
	const size_t **argvlens)
{
	int rc = -1, again = 1;
	long long last;

	for (int attempt = 0; attempt < 2 && again; attempt++) {
		if (rds_connect(r) < 0)
			return -1;
		for (int i = 0; i < ncmds; i++)
			if (redisAppendCommandArgv(r->ctx, argcs[i], argvs[i],
					argvlens ? argvlens[i] : NULL) != REDIS_OK)
				return rds_append_failed(r);
		rc = rds_replies(r, ncmds, &again, &last);
	}
	return rc;
}

int rds_pipeline_resp_int(struct rds *r, int ncmds, const char *resp, size_t len, long long *last)
{
	int rc = -1, again = 1;

	for (int attempt = 0; attempt < 2 && again; attempt++) {
		if (rds_connect(r) < 0)
			return -1;
		if (redisAppendFormattedCommand(r->ctx, resp, len) != REDIS_OK)
			return rds_append_failed(r);
		rc = rds_replies(r, ncmds, &again, last);
	}
	return rc;
}

int rds_pipeline_resp(struct rds *r, int ncmds, const char *resp, size_t len)
{
	long long last;
	return rds_pipeline_resp_int(r, ncmds, resp, len, &last);
}

int rds_is_sentinel(const struct rds *r)
{
	return r->name != NULL;
}

const char *rds_last_error(const struct rds *r)
{
	return r->error;
}

int rds_last_was_reply_error(const struct rds *r)
{
	return r->reply_error;
}

int rds_auth_refused(const struct rds *r)
{
	return r->auth_refused;
}

int rds_start_check(struct rds *r, char *err, size_t errlen)
{
	const char *argv[] = { "PING" };
	redisReply *reply;

	r->quiet = 1;
	reply = rds_command(r, 1, argv, NULL);
	r->quiet = 0;
	if (reply) {
		freeReplyObject(reply);
		return 0;
	}
	if (!r->auth_refused)
		return 0; /* an outage: the process runs and recovers with Redis */
	snprintf(err, errlen, "RINGFENCE_REDIS_URL: %s: %s", r->endpoint, r->error);
	return -1;
}

const char *rds_endpoint(const struct rds *r)
{
	return r->endpoint;
}

/* See rds.h. */
redisReply *rds_eval(struct rds *r, const char *script, int nkeys, int nargs,
	const char **args, const size_t *arglens)
{
	unsigned char digest[SHA_DIGEST_LENGTH];
	char sha[2 * SHA_DIGEST_LENGTH + 1], nk[16];
	const char *argv[RDS_EVAL_MAX_ARGS + 3];
	size_t argvlen[RDS_EVAL_MAX_ARGS + 3];
	redisReply *reply;
	int argc = 0;

	if (nargs > RDS_EVAL_MAX_ARGS || nkeys > nargs)
		return NULL;
	SHA1((const unsigned char *)script, strlen(script), digest);
	util_hex(digest, sizeof(digest), sha);
	snprintf(nk, sizeof(nk), "%d", nkeys);
	argv[argc] = "EVALSHA";
	argvlen[argc++] = 7;
	argv[argc] = sha;
	argvlen[argc++] = strlen(sha);
	argv[argc] = nk;
	argvlen[argc++] = strlen(nk);
	for (int i = 0; i < nargs; i++) {
		argv[argc] = args[i];
		argvlen[argc++] = arglens ? arglens[i] : strlen(args[i]);
	}
	reply = rds_command(r, argc, argv, argvlen);
	if (reply == NULL && rds_last_was_reply_error(r) &&
		strncmp(rds_last_error(r), "NOSCRIPT", 8) == 0) {
		argv[0] = "EVAL";
		argvlen[0] = 4;
		argv[1] = script;
		argvlen[1] = strlen(script);
		reply = rds_command(r, argc, argv, argvlen);
	}
	return reply;
}

/* Unit tests for rds against a real Redis (RINGFENCE_REDIS_URL): URL
 * parsing, commands and error replies, pipelines staying in step,
 * reconnecting after the server drops the connection, the retry limit
 * during an outage, timeouts, and fork safety. */
#include "unit.h"

#include "rds.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long long client_id(struct rds *r)
{
	redisReply *rep = unit_redis_cmd(r, 2, "CLIENT", "ID");
	long long id;
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
	id = rep->integer;
	freeReplyObject(rep);
	return id;
}

static char *key(const char *name)
{
	return xasprintf("rf:test:rds:%d:%s", (int)getpid(), name);
}

struct url_case {
	const char *url;
	const char *endpoint; /* NULL: must be rejected */
};

static const struct url_case url_cases[] = {
	{ "redis://127.0.0.1:6379/0", "127.0.0.1:6379 db 0" },
	{ "redis://127.0.0.1", "127.0.0.1:6379 db 0" },
	{ "redis://localhost:7000", "localhost:7000 db 0" },
	{ "redis://localhost/", "localhost:6379 db 0" },
	{ "redis://localhost/7", "localhost:6379 db 7" },
	{ "redis://cache-1.internal.example:16379/15", "cache-1.internal.example:16379 db 15" },
	{ "redis://[::1]:6380/2", "[::1]:6380 db 2" },
	{ "redis://[::1]", "[::1]:6379 db 0" },
	{ "unix:///run/redis/redis.sock", "/run/redis/redis.sock db 0" },
	{ "unix:///run/redis/redis.sock?db=3", "/run/redis/redis.sock db 3" },
	{ "redis://127.0.0.1:65535/0", "127.0.0.1:65535 db 0" },
	/* Credentials: never part of the endpoint (it goes into messages). */
	{ "redis://user:secret@host:6379", "host:6379 db 0" },
	{ "redis://:secret@host", "host:6379 db 0" },
	{ "redis://:p%40ss%3Aw%2Frd@host/3", "host:6379 db 3" },
	{ "redis://:p@ss@host", "host:6379 db 0" },
	{ "unix://:secret@/run/redis/redis.sock?db=2", "/run/redis/redis.sock db 2" },
	{ "unix://ringfence:secret@/run/redis/redis.sock", "/run/redis/redis.sock db 0" },
	{ NULL, NULL },
	{ "", NULL },
	{ "redis://", NULL },
	{ "redis://:6379", NULL },
	{ "redis://host:", NULL },
	{ "redis://host:0", NULL },
	{ "redis://host:65536", NULL },
	{ "redis://host:99999999999", NULL },
	{ "redis://host:-1", NULL },
	{ "redis://host:63x79", NULL },
	{ "redis://host/abc", NULL },
	{ "redis://host/1/2", NULL },
	{ "redis://host/-1", NULL },
	{ "redis://host/99999999999999", NULL },
	{ "redis://host?db=1", NULL },
	{ "redis://secret@host", NULL },
	{ "redis://user:@host", NULL },
	{ "redis://:@host", NULL },
	{ "redis://:bad%zzescape@host", NULL },
	{ "redis://:nul%00@host", NULL },
	{ "redis://:secret@", NULL },
	{ "unix://secret@/run/redis.sock", NULL },
	{ "unix://:secret/run/redis.sock", NULL },
	{ "unix://:secret@relative", NULL },
	{ "redis://ho st", NULL },
	{ "redis://[::1", NULL },
	{ "redis://[]:6379", NULL },
	{ "redis://[zz::1]", NULL },
	{ "rediss://host", NULL },
	{ "http://host:6379", NULL },
	{ "REDIS://host", NULL },
	{ "host:6379", NULL },
	{ "unix://", NULL },
	{ "unix:///", NULL },
	{ "unix://relative/path", NULL },
	{ "unix:///run/redis.sock?db=", NULL },
	{ "unix:///run/redis.sock?db=x", NULL },
	{ "unix:///run/redis.sock?database=1", NULL },
	{ "unix:///run/redis\n.sock", NULL },
	{ "unix:///" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL },
};

/* rds_url_check agrees with rds_open and never quotes the URL. */
static void test_url_check(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(url_cases); i++) {
		const struct url_case *c = &url_cases[i];
		char err[256] = "";
		int rc = rds_url_check(c->url, err, sizeof(err));
		if ((rc == 0) != (c->endpoint != NULL))
			fail_msg("'%s': rds_url_check says %d", c->url ? c->url : "(null)", rc);
		if (rc < 0 && (err[0] == '\0' || strstr(err, "secret") || strchr(err, '\n')))
			fail_msg("'%s': reason '%s'", c->url ? c->url : "(null)", err);
	}
}

static void test_urls(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(url_cases); i++) {
		const struct url_case *c = &url_cases[i];
		struct rds *r = rds_open(c->url);
		if (c->endpoint == NULL) {
			if (r != NULL)
				fail_msg("accepted malformed URL '%s'", c->url ? c->url : "(null)");
			continue;
		}
		if (r == NULL)
			fail_msg("rejected valid URL '%s'", c->url);
		if (strcmp(rds_endpoint(r), c->endpoint) != 0)
			fail_msg("'%s': endpoint '%s', want '%s'", c->url, rds_endpoint(r), c->endpoint);
		/* Opening never connects. */
		assert_string_equal(rds_last_error(r), "");
		rds_close(r);
	}
}

static void test_commands(void **state)
{
	struct rds *r = rds_open(unit_redis_url());
	char *k = key("bin");
	const char value[] = "a\0b\r\nc";
	const char *argv[] = { "SET", k, value };
	size_t lens[] = { 3, strlen(k), sizeof(value) - 1 };
	redisReply *rep;
	(void)state;

	assert_non_null(r);
	assert_int_equal(rds_connect(r), 0);
	rep = unit_redis_cmd(r, 1, "PING");
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_STATUS);
	assert_string_equal(rep->str, "PONG");
	freeReplyObject(rep);

	/* Binary-safe arguments. */
	rep = rds_command(r, 3, argv, lens);
	assert_non_null(rep);
	freeReplyObject(rep);
	rep = unit_redis_cmd(r, 2, "GET", k);
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_STRING);
	assert_int_equal(rep->len, sizeof(value) - 1);
	assert_memory_equal(rep->str, value, sizeof(value) - 1);
	freeReplyObject(rep);

	/* A nil reply is an answer, not a failure. */
	rep = unit_redis_cmd(r, 2, "DEL", k);
	assert_non_null(rep);
	freeReplyObject(rep);
	rep = unit_redis_cmd(r, 2, "GET", k);
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_NIL);
	freeReplyObject(rep);
	assert_string_equal(rds_last_error(r), "");
	free(k);
	rds_close(r);
}

struct error_case {
	const char *argv[4];
	int argc;
	const char *error; /* substring of rds_last_error */
};

static void test_error_replies(void **state)
{
	struct rds *r = rds_open(unit_redis_url());
	char *k = key("str");
	struct error_case cases[] = {
		{ { "INCR", k }, 2, "not an integer" },
		{ { "LPUSH", k, "x" }, 3, "WRONGTYPE" },
		{ { "NOSUCHCOMMAND", "x" }, 2, "unknown command" },
		{ { "GET" }, 1, "wrong number of arguments" },
		{ { "EVALSHA", "0000000000000000000000000000000000000000", "0" }, 3, "NOSCRIPT" },
	};
	redisReply *rep;
	long long id;
	(void)state;

	assert_non_null(r);
	rep = unit_redis_cmd(r, 3, "SET", k, "not a number");
	assert_non_null(rep);
	freeReplyObject(rep);
	id = client_id(r);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		rep = rds_command(r, cases[i].argc, cases[i].argv, NULL);
		if (rep != NULL)
			fail_msg("case %zu: got a reply instead of NULL", i);
		if (strstr(rds_last_error(r), cases[i].error) == NULL)
			fail_msg("case %zu: error '%s' lacks '%s'", i, rds_last_error(r), cases[i].error);
		assert_int_equal(rds_last_was_reply_error(r), 1);
	}
	/* An error reply leaves the connection as it was. */
	assert_int_equal(client_id(r), id);
	assert_string_equal(rds_last_error(r), "");
	assert_int_equal(rds_last_was_reply_error(r), 0);
	rep = unit_redis_cmd(r, 2, "DEL", k);
	freeReplyObject(rep);
	free(k);
	rds_close(r);
}

/* The server closes the connection (here CLIENT KILL from another
 * client); the next command goes to a new connection and succeeds. */
static void test_reconnect_after_kill(void **state)
{
	struct rds *r = rds_open(unit_redis_url());
	struct rds *killer = rds_open(unit_redis_url());
	char ids[32];
	redisReply *rep;
	long long id, id2;
	(void)state;

	id = client_id(r);
	snprintf(ids, sizeof(ids), "%lld", id);
	rep = unit_redis_cmd(killer, 4, "CLIENT", "KILL", "ID", ids);
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
	assert_int_equal(rep->integer, 1);
	freeReplyObject(rep);

	rep = unit_redis_cmd(r, 1, "PING");
	assert_non_null(rep);
	assert_string_equal(rep->str, "PONG");
	freeReplyObject(rep);
	id2 = client_id(r);
	assert_true(id2 != id);

	/* Killing itself: the reply may arrive before the close, so the
	 * following command either reconnects at once or fails once; the
	 * one after that must work on a new connection. */
	snprintf(ids, sizeof(ids), "%lld", id2);
	rep = unit_redis_cmd(r, 6, "CLIENT", "KILL", "ID", ids, "SKIPME", "no");
	if (rep) {
		assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
		assert_int_equal(rep->integer, 1);
		freeReplyObject(rep);
	}
	rep = unit_redis_cmd(r, 1, "PING");
	if (rep == NULL)
		rep = unit_redis_cmd(r, 1, "PING");
	assert_non_null(rep);
	freeReplyObject(rep);
	assert_true(client_id(r) != id2);
	rds_close(killer);
	rds_close(r);
}

/* A command that outlives the 1 s command timeout fails, the dead
 * connection is dropped, and the next command reconnects at once. */
static void test_command_timeout(void **state)
{
	struct rds *r = rds_open(unit_redis_url());
	char *k = key("never");
	redisReply *rep;
	long long id, t0, took;
	(void)state;

	id = client_id(r);
	t0 = util_now_ms();
	rep = unit_redis_cmd(r, 3, "BLPOP", k, "3");
	took = util_now_ms() - t0;
	assert_null(rep);
	assert_int_equal(rds_last_was_reply_error(r), 0);
	assert_true(rds_last_error(r)[0] != '\0');
	if (took < 800 || took > 2500)
		fail_msg("BLPOP returned after %lld ms, want about 1000", took);
	rep = unit_redis_cmd(r, 1, "PING");
	assert_non_null(rep);
	freeReplyObject(rep);
	assert_true(client_id(r) != id);
	free(k);
	rds_close(r);
}

static int pending_connections(int s)
{
	int n = 0, c;
	fcntl(s, F_SETFL, O_NONBLOCK);
	while ((c = accept(s, NULL, NULL)) >= 0) {
		close(c);
		n++;
	}
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	return n;
}

/* During an outage a connect is tried at most once a second, so a
 * request fails at once instead of paying for a connect each time. */
static void test_outage_retry_limit(void **state)
{
	int port, s = unit_bound_socket(&port);
	char *url = xasprintf("redis://127.0.0.1:%d", port);
	struct rds *r = rds_open(url);
	char first[256];
	long long t0, took;
	(void)state;

	assert_non_null(r);
	assert_null(unit_redis_cmd(r, 1, "PING"));
	assert_int_equal(rds_last_was_reply_error(r), 0);
	assert_non_null(strstr(rds_last_error(r), "refused"));
	snprintf(first, sizeof(first), "%s", rds_last_error(r));

	/* The server is back, but within a second nobody tries to connect. */
	assert_int_equal(listen(s, 16), 0);
	for (int i = 0; i < 5; i++) {
		assert_null(unit_redis_cmd(r, 1, "PING"));
		assert_int_equal(rds_connect(r), -1);
	}
	assert_string_equal(rds_last_error(r), first);
	assert_int_equal(pending_connections(s), 0);

	/* After a second one attempt is made; this "server" never answers,
	 * so the command times out after about a second. */
	sleep_ms(1100);
	t0 = util_now_ms();
	assert_null(unit_redis_cmd(r, 1, "PING"));
	took = util_now_ms() - t0;
	if (took < 800 || took > 2500)
		fail_msg("PING to a silent server returned after %lld ms", took);
	assert_int_equal(pending_connections(s), 1);
	close(s);
	free(url);
	rds_close(r);
}

/* A server that never completes the TCP handshake (its accept queue is
 * full) costs a connect no more than about 500 ms. */
static void test_connect_timeout(void **state)
{
	int port, s = unit_bound_socket(&port), fill[4], nfill = 0;
	char *url = xasprintf("redis://127.0.0.1:%d", port);
	struct rds *r = rds_open(url);
	struct sockaddr_in sa;
	long long t0, took;
	(void)state;

	assert_int_equal(listen(s, 0), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((unsigned short)port);
	/* Fill the accept queue so that further SYNs are dropped. */
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
		nfill++;
	}
	sleep_ms(50);
	t0 = util_now_ms();
	assert_int_equal(rds_connect(r), -1);
	took = util_now_ms() - t0;
	if (took < 300 || took > 1500)
		fail_msg("connect to a full accept queue gave up after %lld ms", took);
	for (int i = 0; i < nfill; i++)
		close(fill[i]);
	close(s);
	free(url);
	rds_close(r);
}

/* A URL naming a database selects it on every (re)connect. */
static void test_select_db(void **state)
{
	const char *base = unit_redis_url();
	char *url;
	struct rds *r, *killer;
	redisReply *rep;
	char ids[32];
	(void)state;

	if (strncmp(base, "unix://", 7) == 0) {
		const char *q = strchr(base, '?');
		url = xasprintf("%.*s?db=5", (int)(q ? q - base : (long)strlen(base)), base);
	} else {
		const char *slash = strchr(base + 8, '/');
		url = xasprintf("%.*s/5", (int)(slash ? slash - base : (long)strlen(base)), base);
	}
	r = rds_open(url);
	assert_non_null(r);
	for (int round = 0; round < 2; round++) {
		rep = unit_redis_cmd(r, 2, "CLIENT", "INFO");
		assert_non_null(rep);
		assert_int_equal(rep->type, REDIS_REPLY_STRING);
		if (strstr(rep->str, " db=5 ") == NULL)
			fail_msg("round %d: not on db 5: %s", round, rep->str);
		freeReplyObject(rep);
		/* Drop the connection: the reconnect must select again. */
		killer = rds_open(base);
		snprintf(ids, sizeof(ids), "%lld", client_id(r));
		rep = unit_redis_cmd(killer, 4, "CLIENT", "KILL", "ID", ids);
		assert_non_null(rep);
		freeReplyObject(rep);
		rds_close(killer);
	}
	rds_close(r);
	free(url);

	/* A database the server does not have: the connect fails. */
	url = strncmp(base, "unix://", 7) == 0 ? NULL : xasprintf("%.*s/999999",
		(int)(strchr(base + 8, '/') ? strchr(base + 8, '/') - base : (long)strlen(base)), base);
	if (url) {
		r = rds_open(url);
		assert_non_null(r);
		assert_int_equal(rds_connect(r), -1);
		assert_non_null(strstr(rds_last_error(r), "select"));
		rds_close(r);
		free(url);
	}
}

struct pipe_case {
	const char *name;
	int ok;          /* expected rds_pipeline result */
	int bad;         /* index of a command that fails, or -1 */
};

/* Pipelines: all replies are read even after an error reply, so the
 * next command gets its own reply, not a leftover. */
static void test_pipeline(void **state)
{
	struct rds *r = rds_open(unit_redis_url());
	char *k = key("pipe"), *s = key("pipestr");
	static const struct pipe_case cases[] = {
		{ "all good", 0, -1 },
		{ "first fails", -1, 0 },
		{ "middle fails", -1, 1 },
		{ "last fails", -1, 2 },
	};
	redisReply *rep;
	(void)state;

	rep = unit_redis_cmd(r, 3, "SET", s, "text");
	freeReplyObject(rep);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *good[3][3] = {
			{ "RPUSH", k, "a" }, { "RPUSH", k, "b" }, { "RPUSH", k, "c" },
		};
		const char *bad[3] = { "INCR", s, NULL };
		const char **argvs[3];
		int argcs[3];
		long long id = client_id(r);

		rep = unit_redis_cmd(r, 2, "DEL", k);
		freeReplyObject(rep);
		for (int j = 0; j < 3; j++) {
			argvs[j] = j == cases[i].bad ? bad : good[j];
			argcs[j] = j == cases[i].bad ? 2 : 3;
		}
		if (rds_pipeline(r, 3, argcs, argvs, NULL) != cases[i].ok)
			fail_msg("%s: wrong result", cases[i].name);
		if (cases[i].ok < 0) {
			assert_non_null(strstr(rds_last_error(r), "not an integer"));
			assert_int_equal(rds_last_was_reply_error(r), 1);
		}
		rep = unit_redis_cmd(r, 2, "LLEN", k);
		assert_non_null(rep);
		assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
		assert_int_equal(rep->integer, cases[i].bad < 0 ? 3 : 2);
		freeReplyObject(rep);
		rep = unit_redis_cmd(r, 1, "PING");
		assert_non_null(rep);
		assert_int_equal(rep->type, REDIS_REPLY_STATUS);
		assert_string_equal(rep->str, "PONG");
		freeReplyObject(rep);
		assert_int_equal(client_id(r), id);
	}

	/* Explicit lengths per command. */
	{
		const char *a1[] = { "SET", k, "xyz-ignored" };
		size_t l1[] = { 3, strlen(k), 3 };
		const char *a2[] = { "APPEND", k, "!" };
		const char **argvs[] = { a1, a2 };
		const size_t *lens[] = { l1, NULL };
		int argcs[] = { 3, 3 };
		assert_int_equal(rds_pipeline(r, 2, argcs, argvs, lens), 0);
		rep = unit_redis_cmd(r, 2, "GET", k);
		assert_non_null(rep);
		assert_string_equal(rep->str, "xyz!");
		freeReplyObject(rep);
	}

	/* Unreachable: -1 with the reason. */
	{
		int port, sock = unit_bound_socket(&port);
		char *url = xasprintf("redis://127.0.0.1:%d", port);
		struct rds *down = rds_open(url);
		const char *p[] = { "PING" };
		const char **argvs[] = { p };
		int argcs[] = { 1 };
		assert_int_equal(rds_pipeline(down, 1, argcs, argvs, NULL), -1);
		assert_int_equal(rds_last_was_reply_error(down), 0);
		assert_non_null(strstr(rds_last_error(down), "refused"));
		rds_close(down);
		close(sock);
		free(url);
	}
	rep = unit_redis_cmd(r, 3, "DEL", k, s);
	freeReplyObject(rep);
	free(k);
	free(s);
	rds_close(r);
}

/* A connection made before fork() is not shared with the child: the
 * child opens its own and the parent's stays usable. */
static void test_fork(void **state)
{
	struct rds *r = rds_open(unit_redis_url());
	long long id = client_id(r);
	pid_t pid;
	int status;
	(void)state;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		redisReply *rep = unit_redis_cmd(r, 2, "CLIENT", "ID");
		int ok = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer != id;
		if (rep)
			freeReplyObject(rep);
		rds_close(r);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(client_id(r), id);
	rds_close(r);
}

/* A Unix socket URL: a missing socket fails cleanly; the server's own
 * socket, when it has one, works. */
static void test_unix_socket(void **state)
{
	struct rds *r = rds_open("unix:///nonexistent/ringfence-test/redis.sock");
	struct rds *tcp = rds_open(unit_redis_url());
	redisReply *rep;
	(void)state;

	assert_non_null(r);
	assert_null(unit_redis_cmd(r, 1, "PING"));
	assert_non_null(strstr(rds_last_error(r), "No such file"));
	rds_close(r);

	rep = unit_redis_cmd(tcp, 3, "CONFIG", "GET", "unixsocket");
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
			rep->element[1]->len > 0) {
		char *url = xasprintf("unix://%s", rep->element[1]->str);
		r = rds_open(url);
		assert_non_null(r);
		redisReply *pong = unit_redis_cmd(r, 1, "PING");
		if (pong == NULL)
			fail_msg("%s: %s", url, rds_last_error(r));
		freeReplyObject(pong);
		rds_close(r);
		free(url);
	}
	if (rep)
		freeReplyObject(rep);
	rds_close(tcp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_url_check),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_error_replies),
		cmocka_unit_test(test_reconnect_after_kill),
		cmocka_unit_test(test_command_timeout),
		cmocka_unit_test(test_outage_retry_limit),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_select_db),
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_unix_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

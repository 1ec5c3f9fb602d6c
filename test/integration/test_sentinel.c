/* Integration tests of rds through Redis Sentinel (sentinel://) and of the
 * audit's replication wait, against real servers: a master, two replicas
 * and three sentinels started by test/tools/redis_sentinel_set in a
 * folder of their own, on the ports RINGFENCE_REDIS_PORT+9 (the master)
 * .. +21 (the sentinels), the data nodes asking for a password.
 *
 * One rds, opened once, lives through every step, as a process would:
 * discovery (a dead sentinel listed first), writes on the master, the
 * master SIGKILLed (Sentinel promotes a replica, the writes go on), the
 * old master restarted (Sentinel makes it a replica), a switchover done
 * by hand while the rds holds its connection to the old master (READONLY,
 * found again, the write applied once), a `SENTINEL failover`; after
 * each, every server is asked for its role and the counter the writes
 * increment: the master holds exactly the writes that succeeded, no
 * server more.  Then the audit: with both replicas stopped (SIGSTOP) a
 * record is also in the fallback log, and a replay finds it in Redis
 * and does not add it twice. */
#include "harness.h"
#include "audit.h"
#include "audit_replay.h"
#include "groups.h"
#include "rds.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#define SET_TOOL "test/tools/redis_sentinel_set"
#define PASSWORD "s3nt-pw:x"      /* the data nodes' (":" written %3A in URLs) */
#define PASSWORD_URL "s3nt-pw%%3Ax" /* a format string */
#define MASTER_NAME "ringfence"
#define DB "3"
#define COUNTER "rf:test:sentinel:writes"
/* Sentinel promotes within about two seconds (down-after 1000 ms); a
 * bound on every wait, so that a stuck set fails the test, not the run. */
#define WAIT_MS 20000
#define COST_RECORDS 2000

static char dir[64];
static int base;
static struct rds *rds;
static long long writes; /* INCRs that succeeded */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int port_of(int node)
{
	return base + node;
}

/* A reply from one server (data node n, or sentinel 10+n), NULL when it
 * does not answer; every data node is asked with the password. */
static redisReply *ask(int port, int argc, const char **argv)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *rep = NULL;

	if (c == NULL || c->err)
		goto out;
	redisSetTimeout(c, tv);
	if (port < base + 10) {
		const char *auth[] = { "AUTH", PASSWORD };
		redisReply *a = redisCommandArgv(c, 2, auth, NULL);
		if (a == NULL || a->type == REDIS_REPLY_ERROR) {
			if (a)
				freeReplyObject(a);
			goto out;
		}
		freeReplyObject(a);
		{
			const char *sel[] = { "SELECT", DB };
			a = redisCommandArgv(c, 2, sel, NULL);
			if (a)
				freeReplyObject(a);
		}
	}
	rep = redisCommandArgv(c, argc, argv, NULL);
out:
	if (c)
		redisFree(c);
	return rep;
}

/* "master", "slave" or "" (down). */
static void role_of(int node, char out[16])
{
	const char *argv[] = { "ROLE" };
	redisReply *rep = ask(port_of(node), 1, argv);

	out[0] = '\0';
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
			rep->element[0]->type == REDIS_REPLY_STRING)
		snprintf(out, 16, "%s", rep->element[0]->str);
	if (rep)
		freeReplyObject(rep);
}

/* The port sentinel s names as the master, or -1. */
static int sentinel_master(int s)
{
	const char *argv[] = { "SENTINEL", "get-master-addr-by-name", MASTER_NAME };
	redisReply *rep = ask(base + 10 + s, 3, argv);
	int port = -1;

	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2)
		port = atoi(rep->element[1]->str);
	if (rep)
		freeReplyObject(rep);
	return port;
}

static long long counter_on(int node)
{
	const char *argv[] = { "GET", COUNTER };
	redisReply *rep = ask(port_of(node), 2, argv);
	long long v = -1;

	if (rep && rep->type == REDIS_REPLY_STRING)
		v = atoll(rep->str);
	else if (rep && rep->type == REDIS_REPLY_NIL)
		v = 0;
	if (rep)
		freeReplyObject(rep);
	return v;
}

static void tool(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("%s: exit %d", cmd, rc);
}

static pid_t pid_of(const char *name)
{
	char path[128], *text;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s.pid", dir, name);
	text = util_read_file(path, 64, NULL);
	if (text == NULL)
		fail_msg("no %s", path);
	pid = (pid_t)atoi(text);
	free(text);
	return pid;
}

/* Waits until every sentinel names a master other than not_port whose
 * ROLE says master; its node number. */
static int wait_new_master(int not_port)
{
	long long until = util_now_ms() + WAIT_MS;

	while (util_now_ms() < until) {
		int p = sentinel_master(0), agree = p > 0 && p != not_port;
		for (int s = 1; s < 3 && agree; s++)
			agree = sentinel_master(s) == p;
		if (agree) {
			char role[16];
			role_of(p - base, role);
			if (strcmp(role, "master") == 0)
				return p - base;
		}
		sleep_ms(100);
	}
	fail_msg("no sentinel agreement on a new master within %d ms", WAIT_MS);
	return -1;
}

/* One INCR through rds; 1 when it succeeded. */
static int write_once(void)
{
	const char *argv[] = { "INCR", COUNTER };
	redisReply *rep = rds_command(rds, 2, argv, NULL);

	if (rep == NULL)
		return 0;
	assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
	writes++;
	assert_int_equal(rep->integer, writes);
	freeReplyObject(rep);
	return 1;
}

/* Writes until one succeeds (each failure is a connect refused, rate
 * limited, never a command with an unknown outcome here); bounded. */
static void write_until_ok(void)
{
	long long until = util_now_ms() + WAIT_MS;

	while (!write_once()) {
		if (util_now_ms() > until)
			fail_msg("no write succeeded within %d ms: %s", WAIT_MS, rds_last_error(rds));
		sleep_ms(100);
	}
}

/* Every server: the master holds exactly the writes, a replica never
 * more (it has them once replicated), and only one says master. */
static void check_servers(int master)
{
	int masters = 0;

	for (int n = 0; n < 3; n++) {
		char role[16];
		long long v;
		role_of(n, role);
		if (role[0] == '\0')
			continue; /* down */
		v = counter_on(n);
		if (strcmp(role, "master") == 0) {
			masters++;
			assert_int_equal(n, master);
			assert_int_equal(v, writes);
		} else {
			assert_true(v <= writes);
		}
	}
	assert_int_equal(masters, 1);
}

/* The endpoint names node n as the master. */
static void check_endpoint(int n)
{
	char want[128];

	snprintf(want, sizeof(want), "sentinel " MASTER_NAME " -> 127.0.0.1:%d db " DB, port_of(n));
	assert_string_equal(rds_endpoint(rds), want);
}

static int group_setup(void **state)
{
	const char *p = getenv("RINGFENCE_REDIS_PORT");
	char url[512];

	(void)state;
	if (p == NULL || atoi(p) <= 0) {
		fprintf(stderr, "# sentinel: RINGFENCE_REDIS_PORT is not set\n");
		return -1;
	}
	base = atoi(p) + 9;
	snprintf(dir, sizeof(dir), "/tmp/rf-sentinel-set-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	{
		char cmd[256];
		snprintf(cmd, sizeof(cmd), SET_TOOL " start %s %d '" PASSWORD "'", dir, base);
		if (system(cmd) != 0) {
			fprintf(stderr, "# sentinel: %s failed\n", cmd);
			return -1;
		}
	}
	/* A sentinel that does not answer comes first: the next is asked. */
	snprintf(url, sizeof(url), "sentinel://:" PASSWORD_URL "@127.0.0.1:%d,127.0.0.1:%d,"
		"127.0.0.1:%d,127.0.0.1:%d/" MASTER_NAME "?db=" DB, base + 19, base + 10, base + 11,
		base + 12);
	rds = rds_open(url);
	return rds ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[256];

	(void)state;
	rds_close(rds);
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), SET_TOOL " stop %s && rm -rf %s", dir, dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# sentinel: %s failed\n", cmd);
	}
	return 0;
}

struct bad_url {
	const char *url;
	const char *reason; /* a part of the one-line reason */
};

static void test_urls(void **state)
{
	static const struct bad_url bad[] = {
		{ "sentinel:///ringfence", "names no sentinel" },
		{ "sentinel://:topsecret@/ringfence", "names no sentinel" },
		{ "sentinel://h1:26379,h2:0/ringfence", "sentinel 2 of the URL has a bad port" },
		{ "sentinel://h1:26379,h2:70000/ringfence", "bad port" },
		{ "sentinel://h1:26379,h2:x/ringfence", "bad port" },
		{ "sentinel://h1:26379,,h2/ringfence", "sentinel 2 of the URL is not host:port" },
		{ "sentinel://h1:26379,/ringfence", "is empty" },
		{ "sentinel://h1 x:26379/ringfence", "is not host:port" },
		{ "sentinel://h1:26379", "must end with /NAME" },
		{ "sentinel://h1:26379/", "must end with /NAME" },
		{ "sentinel://h1:26379/?db=1", "must end with /NAME" },
		{ "sentinel://h1:26379/ring/fence", "NAME must be" },
		{ "sentinel://h1:26379/ringfence?db=x", "?db=N" },
		{ "sentinel://h1:26379/ringfence?db=1000001", "?db=N" },
		{ "sentinel://h1:26379/ringfence?timeout=3", "?db=N" },
		{ "sentinel://topsecret@h1:26379/ringfence", "credentials" },
		{ "sentinel://:topsecret@h1:26379/ringfence?db=-1", "?db=N" },
	};
	static const char *const good[][2] = {
		{ "sentinel://h1:26379,h2:26380,h3/ringfence", "sentinel ringfence -> ? db 0" },
		{ "sentinel://:pw@10.0.0.1:26379/mymaster?db=4", "sentinel mymaster -> ? db 4" },
		{ "sentinel://app:p%40w@[::1]:26379,h2:1/m.x-1", "sentinel m.x-1 -> ? db 0" },
	};
	char err[256];
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		if (rds_url_check(bad[i].url, err, sizeof(err)) != -1 || rds_open(bad[i].url) != NULL)
			fail_msg("accepted %s", bad[i].url);
		if (strstr(err, bad[i].reason) == NULL)
			fail_msg("%s: \"%s\" does not say \"%s\"", bad[i].url, err, bad[i].reason);
		assert_null(strstr(err, "topsecret"));
		assert_null(strchr(err, '\n'));
	}
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		struct rds *r;
		if (rds_url_check(good[i][0], err, sizeof(err)) != 0)
			fail_msg("refused %s: %s", good[i][0], err);
		r = rds_open(good[i][0]);
		assert_non_null(r);
		assert_string_equal(rds_endpoint(r), good[i][1]);
		assert_true(rds_is_sentinel(r));
		rds_close(r);
	}
}

/* Discovery, the password, the database, writes on the master only. */
static void test_discovery(void **state)
{
	(void)state;
	assert_int_equal(write_once(), 1);
	check_endpoint(0);
	/* Replicated before the master is killed below, so that what
	 * Sentinel promotes has every write (async replication otherwise). */
	{
		const char *argv[] = { "WAIT", "2", "800" };
		redisReply *rep = rds_command(rds, 3, argv, NULL);
		assert_non_null(rep);
		assert_int_equal(rep->integer, 2);
		freeReplyObject(rep);
	}
	check_servers(0);
	assert_int_equal(counter_on(1), writes);
	assert_int_equal(counter_on(2), writes);
}

static int master_now;

/* SIGKILL the master: Sentinel promotes a replica, the same rds writes
 * there without being opened again. */
static void test_master_killed(void **state)
{
	long long t0;
	(void)state;

	assert_int_equal(kill(pid_of("node0"), SIGKILL), 0);
	t0 = util_now_ms();
	write_until_ok();
	master_now = wait_new_master(port_of(0));
	print_message("# sentinel: first write after the master's SIGKILL: %lld ms\n",
		util_now_ms() - t0);
	check_endpoint(master_now);
	check_servers(master_now);
	assert_int_equal(write_once(), 1);
	check_servers(master_now);
}

/* Waits until node n says role (ROLE). */
static void wait_role(int n, const char *role)
{
	long long until = util_now_ms() + WAIT_MS;
	char got[16];

	for (role_of(n, got); strcmp(got, role) != 0; role_of(n, got)) {
		if (util_now_ms() > until)
			fail_msg("node %d is \"%s\", not %s, after %d ms", n, got, role, WAIT_MS);
		sleep_ms(100);
	}
}

static void on_all_sentinels(int argc, const char **argv)
{
	for (int s = 0; s < 3; s++) {
		redisReply *rep = ask(base + 10 + s, argc, argv);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
			fail_msg("sentinel %d: %s %s: %s", s, argv[0], argv[1],
				rep ? rep->str : "no answer");
		freeReplyObject(rep);
	}
}

static void on_node(int n, int argc, const char **argv)
{
	redisReply *rep = ask(port_of(n), argc, argv);
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
		fail_msg("node %d: %s: %s", n, argv[0], rep ? rep->str : "no answer");
	freeReplyObject(rep);
}

/* The old master comes back and Sentinel makes it a replica; then the
 * master is switched by hand (the sentinels told, the clients of the old
 * master not disconnected): the rds still holds its connection to a
 * server that is now a replica, gets READONLY, finds the master again
 * and applies the write there once. */
static void test_readonly(void **state)
{
	int old = master_now, next;
	char oldp[16], nextp[16];
	(void)state;

	tool(SET_TOOL " node %s 0", dir);
	wait_role(0, "slave");
	next = old == 1 ? 2 : 1; /* the replica that was never the master */
	snprintf(oldp, sizeof(oldp), "%d", port_of(old));
	snprintf(nextp, sizeof(nextp), "%d", port_of(next));
	assert_int_equal(write_once(), 1); /* the rds's connection is to old */
	{
		const char *wait[] = { "WAIT", "2", "800" };
		redisReply *rep = rds_command(rds, 3, wait, NULL);
		assert_non_null(rep);
		freeReplyObject(rep);
	}
	{
		const char *rm[] = { "SENTINEL", "REMOVE", MASTER_NAME };
		const char *none[] = { "REPLICAOF", "NO", "ONE" };
		const char *to_next[] = { "REPLICAOF", "127.0.0.1", nextp };
		const char *mon[] = { "SENTINEL", "MONITOR", MASTER_NAME, "127.0.0.1", nextp, "2" };
		const char *set[] = { "SENTINEL", "SET", MASTER_NAME, "down-after-milliseconds", "1000",
			"failover-timeout", "3000", "auth-pass", PASSWORD };
		on_all_sentinels(3, rm);
		on_node(next, 3, none);
		on_node(old, 3, to_next);
		on_node(0, 3, to_next);
		on_all_sentinels(6, mon);
		on_all_sentinels(9, set);
	}
	wait_role(old, "slave");
	assert_int_equal(write_once(), 1);
	master_now = next;
	check_endpoint(next);
	check_servers(next);
	(void)oldp;
}

/* SENTINEL failover, a clean switchover: the same. */
static void test_switchover(void **state)
{
	int old = master_now;
	long long until = util_now_ms() + WAIT_MS;
	(void)state;

	/* The sentinels, told of the master afresh, first find its replicas. */
	for (;;) {
		const char *argv[] = { "SENTINEL", "replicas", MASTER_NAME };
		redisReply *rep = ask(base + 10, 3, argv);
		size_t n = rep && rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0;
		if (rep)
			freeReplyObject(rep);
		if (n == 2)
			break;
		if (util_now_ms() > until)
			fail_msg("the sentinels do not see both replicas");
		sleep_ms(200);
	}
	{
		const char *argv[] = { "SENTINEL", "failover", MASTER_NAME };
		redisReply *rep = NULL;
		/* Refused while a replica is not yet fit (its link too new): again. */
		while ((rep = ask(base + 10, 3, argv)) == NULL || rep->type == REDIS_REPLY_ERROR) {
			if (rep)
				freeReplyObject(rep);
			if (util_now_ms() > until)
				fail_msg("SENTINEL failover refused");
			sleep_ms(300);
		}
		freeReplyObject(rep);
	}
	master_now = wait_new_master(port_of(old));
	wait_role(old, "slave");
	write_until_ok();
	check_endpoint(master_now);
	check_servers(master_now);
}

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Microseconds per audit_record of a small record through r. */
static double per_record_us(struct rds *r)
{
	struct audit *au = audit_open(r, NULL);
	long long t0 = now_us();

	for (int i = 0; i < COST_RECORDS; i++)
		if (audit_record(au, "sentinel_cost", "CAcost", "42", json_pack("{s:i}", "i", i)) != 0)
			fail_msg("audit_record failed: %s", rds_last_error(r));
	audit_close(au);
	return (double)(now_us() - t0) / COST_RECORDS;
}

/* The cost of the WAIT, before/after in one run: the same records to the
 * same master, straight (redis://) and through Sentinel (with WAIT). */
static void measure_wait(void)
{
	char url[128];
	struct rds *direct;
	double plain, waited;

	snprintf(url, sizeof(url), "redis://:" PASSWORD_URL "@127.0.0.1:%d/" DB, port_of(master_now));
	direct = rds_open(url);
	assert_non_null(direct);
	per_record_us(direct); /* warm */
	plain = per_record_us(direct);
	waited = per_record_us(rds);
	print_message("# sentinel: audit_record %.1f us straight, %.1f us through Sentinel with "
		"WAIT 1 (%d records each)\n", plain, waited, COST_RECORDS);
	rds_close(direct);
}

/* The audit's WAIT: with both replicas stopped a record is written to
 * the master and to the fallback log; a replay finds it in Redis and
 * leaves it out.  With the replicas back, nothing goes to the log. */
static void test_audit_wait(void **state)
{
	char fallback[128];
	struct audit *au;
	struct audit_replay_stats st;
	pid_t replicas[2];
	int k = 0;
	(void)state;

	snprintf(fallback, sizeof(fallback), "%s/audit-fallback.log", dir);
	measure_wait();
	au = audit_open(rds, fallback);
	assert_int_equal(audit_record(au, "sentinel_test", "CA0123456789abcdef0123456789abcdef",
		"42", json_pack("{s:s}", "step", "replicated")), 0);
	assert_int_equal(file_size(fallback), 0);

	for (int n = 0; n < 3; n++)
		if (n != master_now) {
			char name[16];
			snprintf(name, sizeof(name), "node%d", n);
			replicas[k++] = pid_of(name);
		}
	assert_int_equal(kill(replicas[0], SIGSTOP), 0);
	assert_int_equal(kill(replicas[1], SIGSTOP), 0);
	audit_record(au, "sentinel_test", "CA0123456789abcdef0123456789abcdef", "42",
		json_pack("{s:s}", "step", "unreplicated"));
	kill(replicas[0], SIGCONT);
	kill(replicas[1], SIGCONT);
	{
		json_t *recs = audit_fallback_read(fallback, 0, &k);
		assert_non_null(recs);
		assert_int_equal(json_array_size(recs), 1);
		assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "step")),
			"unreplicated");
		json_decref(recs);
	}
	/* In Redis too, once: the call's stream has both records. */
	{
		json_t *recs = audit_read(rds, "call", "CA0123456789abcdef0123456789abcdef", 10);
		assert_non_null(recs);
		assert_int_equal(json_array_size(recs), 2);
		json_decref(recs);
	}
	assert_int_equal(audit_replay(rds, fallback, &st), 0);
	assert_int_equal(st.added, 0);
	assert_int_equal(st.present, 1);
	assert_int_equal(audit_replay(rds, fallback, &st), 0);
	assert_int_equal(st.already, 1);
	{
		json_t *recs = audit_read(rds, "call", "CA0123456789abcdef0123456789abcdef", 10);
		assert_int_equal(json_array_size(recs), 2);
		json_decref(recs);
	}
	audit_close(au);
}

int sentinel_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_master_killed),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_switchover),
		cmocka_unit_test(test_audit_wait),
	};
	return cmocka_run_group_tests_name("sentinel", tests, group_setup, group_teardown);
}

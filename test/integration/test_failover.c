/* Integration: PostgreSQL failover as db.c sees it, on a real pair of
 * servers (test/tools/pg_pair: a primary A and its streaming standby B on
 * the two ports after the stack's, RINGFENCE_PG_PORT + 10 and + 11).
 *
 * A multi-host URL with target_session_attrs=read-write finds the
 * primary whatever the order; the keepalive defaults are set and the
 * URL's own values win; a read-only answer (25006) drops the connection;
 * the read handle reaches the standby and falls back to the primary;
 * /readyz (the real route, in this process) names a standby; a retry-safe
 * statement whose connection broke runs exactly once more, a plain one or
 * one inside a transaction never (counted by a sequence on the server);
 * and after A is killed and B promoted, the retried ping answers from B
 * without showing the failure. */
#include "harness.h"

#include "app.h"
#include "dash_client.h"
#include "arena.h"
#include "db.h"
#include "http.h"
#include "rds.h"
#include "routes.h"
#include "scheduler.h"
#include "outbound.h"
#include "worker.h"
#include "util.h"

#include <curl/curl.h>
#include <libgen.h>
#include <unistd.h>

static char *pair_tool, *pair_dir;
static char port_a[16], port_b[16];

/* Runs pg_pair sub on node; fails the test on a non-zero exit. */
static void pair_or_fail(const char *sub, const char *node)
{
	struct buf out;
	char *cmd = xasprintf("'%s' %s '%s' %s 2>&1", pair_tool, sub, pair_dir, node);
	int rc;

	buf_init(&out);
	rc = hx_shell(cmd, &out, 60);
	if (rc != 0)
		fail_msg("%s: exit %d: %s", cmd, rc, buf_str(&out));
	buf_free(&out);
	free(cmd);
}

/* A URL to the pair's postgres database as postgres on the hosts listed
 * (ports, comma-separated), with extra query parameters. */
static char *pair_url(const char *ports, const char *extra)
{
	struct buf b;
	char *list = xstrdup(ports), *save = NULL, *url;
	int first = 1;

	buf_init(&b);
	buf_puts(&b, "postgresql://");
	for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		buf_printf(&b, "%s127.0.0.1:%s", first ? "" : ",", p);
		first = 0;
	}
	buf_printf(&b, "/postgres?user=postgres%s%s", extra ? "&" : "", extra ? extra : "");
	url = xstrdup(buf_str(&b));
	buf_free(&b);
	free(list);
	return url;
}

/* One row's first column as a new string, from a statement on db. */
static char *one_value_or_fail(struct db *db, const char *sql)
{
	PGresult *r = db_exec(db, sql, 0, NULL);
	char *v;

	if (r == NULL || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, r ? "not one row" : db_last_error(db));
	v = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* The value libpq used for keyword on db's connection. */
static char *conn_option_or_fail(struct db *db, const char *keyword)
{
	PQconninfoOption *opts = PQconninfo(db_pgconn(db));
	char *v = NULL;

	assert_non_null(opts);
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0 && o->val)
			v = xstrdup(o->val);
	PQconninfoFree(opts);
	if (v == NULL)
		fail_msg("the connection has no %s", keyword);
	return v;
}

static void assert_option(struct db *db, const char *keyword, const char *want)
{
	char *v = conn_option_or_fail(db, keyword);
	if (strcmp(v, want) != 0)
		fail_msg("%s is %s, not %s", keyword, v, want);
	free(v);
}

/* The standby listed first: the connection is A's, the primary's; the
 * keepalive defaults are on it, and a value the URL sets wins. */
static void test_multi_host_finds_primary(void **state)
{
	char *ports = xasprintf("%s,%s", port_b, port_a);
	char *url = pair_url(ports, "target_session_attrs=read-write");
	char *own = pair_url(ports, "target_session_attrs=read-write&keepalives_idle=7"
		"&tcp_user_timeout=4000&application_name=mine");
	struct db *db = db_open(url), *db2 = db_open(own);
	char *v, *want = xasprintf("%s false", port_a);

	(void)state;
	v = one_value_or_fail(db, "SELECT inet_server_port()::text || ' ' || pg_is_in_recovery()::text");
	assert_string_equal(v, want);
	free(v);
	free(want);
	assert_option(db, "keepalives", "1");
	assert_option(db, "keepalives_idle", "5");
	assert_option(db, "keepalives_interval", "2");
	assert_option(db, "keepalives_count", "3");
	assert_option(db, "tcp_user_timeout", "10000");
	v = one_value_or_fail(db, "SELECT current_setting('application_name')");
	assert_string_equal(v, "ringfence");
	free(v);

	v = one_value_or_fail(db2, "SELECT current_setting('application_name')");
	assert_string_equal(v, "mine");
	free(v);
	assert_option(db2, "keepalives_idle", "7");
	assert_option(db2, "tcp_user_timeout", "4000");
	assert_option(db2, "keepalives_interval", "2");
	db_close(db);
	db_close(db2);
	free(url);
	free(own);
	free(ports);
}

/* A plain URL to the standby: a write is refused with 25006 and the
 * connection is dropped (a demoted primary answers the same way). */
static void test_standby_read_only_drops(void **state)
{
	char *url = pair_url(port_b, NULL);
	struct db *db = db_open(url);
	PGresult *r;

	(void)state;
	r = db_exec(db, "SELECT pg_is_in_recovery()::text", 0, NULL);
	assert_non_null(r);
	assert_string_equal(PQgetvalue(r, 0, 0), "true");
	PQclear(r);
	assert_non_null(db_pgconn(db));
	assert_null(db_exec(db, "CREATE TABLE failover_never (x int)", 0, NULL));
	assert_string_equal(db_last_sqlstate(db), "25006");
	assert_null(db_pgconn(db));
	assert_int_equal(db_conn_lost(db), 1);
	/* Another error keeps the connection. */
	r = db_exec(db, "SELECT 1", 0, NULL);
	assert_non_null(r);
	PQclear(r);
	assert_null(db_exec(db, "SELECT 1/0", 0, NULL));
	assert_string_equal(db_last_sqlstate(db), "22012");
	assert_non_null(db_pgconn(db));
	assert_int_equal(db_conn_lost(db), 0);
	db_close(db);
	free(url);
}

/* The read handle answers from the standby; a read handle that cannot
 * connect falls back to the primary's; no read handle: the primary. */
static void test_read_url(void **state)
{
	char *ru = pair_url(port_b, "target_session_attrs=prefer-standby");
	char *pu = pair_url(port_a, "target_session_attrs=read-write");
	char *dead = pair_url("1", "connect_timeout=2");
	struct db *read = db_open(ru), *primary = db_open(pu), *gone = db_open(dead);
	const char *sql = "SELECT inet_server_port()::text";
	struct arena *a = arena_new(1024);
	const char *v[1];
	PGresult *r;

	(void)state;
	r = db_read_exec(read, primary, "failover_read", sql, 0, NULL);
	assert_non_null(r);
	assert_string_equal(PQgetvalue(r, 0, 0), port_b);
	PQclear(r);
	assert_int_equal(db_read_row(gone, primary, a, "failover_read", sql, 0, NULL, 1, v), 1);
	assert_string_equal(v[0], port_a);
	assert_int_equal(db_read_row(primary, primary, a, "failover_read", sql, 0, NULL, 1, v), 1);
	assert_string_equal(v[0], port_a);
	assert_int_equal(db_read_row(NULL, primary, a, "failover_read", sql, 0, NULL, 1, v), 1);
	assert_string_equal(v[0], port_a);
	arena_free(a);
	db_close(read);
	db_close(primary);
	db_close(gone);
	free(ru);
	free(pu);
	free(dead);
}

/* The application in this process with the variable var set to url (NULL:
 * unset) until app_done. */
static char *app_saved;
static const char *app_var;

static void app_with(struct app *app, const char *var, const char *url)
{
	const char *old = getenv(var);
	char err[512];

	app_var = var;
	app_saved = old ? xstrdup(old) : NULL;
	if (url)
		setenv(var, url, 1);
	else
		unsetenv(var);
	if (app_init(app, err, sizeof(err)) < 0)
		fail_msg("app_init with %s=%s: %s", var, url ? url : "(unset)", err);
}

static void app_done(struct app *app)
{
	app_free(app);
	if (app_saved)
		setenv(app_var, app_saved, 1);
	else
		unsetenv(app_var);
	free(app_saved);
	app_saved = NULL;
}

/* GET path from 127.0.0.1 (with cookie, NULL: none) through the route
 * table: the status, and the body copied into body. */
static int app_get(struct app *app, const char *path, const char *cookie, struct buf *body)
{
	struct arena *a = arena_new(16384);
	struct http_request req;
	struct http_response res;
	int status;

	memset(&req, 0, sizeof(req));
	req.arena = a;
	req.method = "GET";
	req.request_uri = req.path = path;
	req.query = req.content_type = req.user_agent = req.body = "";
	req.remote_addr = "127.0.0.1";
	req.cookie = cookie;
	req.content_length = -1;
	snprintf(req.request_id, sizeof(req.request_id), "failover-test");
	req.query_ok = form_parse(a, "", 0, NULL, &req.query_params) == FORM_OK;
	http_response_init(&res, a);
	routes_dispatch(app, &req, &res);
	status = res.status;
	buf_reset(body);
	buf_puts(body, buf_str(&res.body));
	arena_free(a);
	return status;
}

/* GET /readyz with RINGFENCE_DATABASE_URL set to url: the status and
 * the JSON document. */
static json_t *readyz_with(const char *url, int *status)
{
	struct app app;
	struct buf body = BUF_INIT;
	json_t *doc;

	app_with(&app, "RINGFENCE_DATABASE_URL", url);
	*status = app_get(&app, "/readyz", NULL, &body);
	doc = json_loads(buf_str(&body), 0, NULL);
	if (doc == NULL)
		fail_msg("/readyz answered %d, not JSON: %s", *status, buf_str(&body));
	app_done(&app);
	buf_free(&body);
	return doc;
}

/* On the standby the node is unready and says why; the multi-host URL
 * listing the standby first is ready on the primary. */
static void test_readyz_standby(void **state)
{
	char *sb = pair_url(port_b, NULL), *ports = xasprintf("%s,%s", port_b, port_a);
	char *multi = pair_url(ports, "target_session_attrs=read-write");
	json_t *doc, *why;
	int status;

	(void)state;
	doc = readyz_with(sb, &status);
	assert_int_equal(status, 503);
	assert_string_equal(json_string_value(json_object_get(doc, "status")), "unready");
	assert_string_equal(json_string_value(json_object_get(doc, "database")), "standby");
	why = json_object_get(doc, "reasons");
	assert_true(json_is_array(why));
	assert_string_equal(json_string_value(json_array_get(why, 0)),
		"database: connected to a standby (read-only)");
	json_decref(doc);

	doc = readyz_with(multi, &status);
	assert_string_equal(json_string_value(json_object_get(doc, "database")), "primary");
	assert_null(json_object_get(doc, "reasons"));
	assert_int_equal(status, 200);
	json_decref(doc);
	free(sb);
	free(ports);
	free(multi);
}

/* ringfence doctor with a multi-host URL holding a password: a standby
 * reached is a FAIL naming it, no primary among the hosts a FAIL naming
 * the hosts; the password is in neither. */
static void test_doctor_multi_host(void **state)
{
	static const char pw[] = "Canary9s3cretpw";
	const char *bin = hx_ringfence_bin("failover");
	struct buf out = BUF_INIT;
	char *ports = xasprintf("1,%s", port_b), *u1, *u2, *cmd;
	int rc;

	(void)state;
	u1 = pair_url(ports, NULL);
	u2 = pair_url(ports, "target_session_attrs=read-write");
	for (int i = 0; i < 2; i++) {
		char *url = i ? u2 : u1, *withpw = xasprintf("postgresql://postgres:%s@%s", pw,
			url + strlen("postgresql://"));
		cmd = xasprintf("RINGFENCE_DATABASE_URL='%s' '%s' doctor --timeout 5 2>&1", withpw, bin);
		rc = hx_shell(cmd, &out, 60);
		assert_int_not_equal(rc, 0);
		if (strstr(buf_str(&out), pw) || strstr(buf_str(&out), "Canary9"))
			fail_msg("doctor showed the password:\n%s", buf_str(&out));
		if (strstr(buf_str(&out), i ? "FAIL  database: cannot connect"
				: "FAIL  database: connected to a standby (read-only)") == NULL)
			fail_msg("doctor with %s:\n%s", url, buf_str(&out));
		free(cmd);
		free(withpw);
	}
	buf_free(&out);
	free(u1);
	free(u2);
	free(ports);
}

/* The session cookie the dashboard client holds, "name=value". */
static char *session_cookie_or_fail(struct dc *c)
{
	struct curl_slist *list = NULL;
	char *cookie = NULL;

	if (curl_easy_getinfo(c->curl, CURLINFO_COOKIELIST, &list) != CURLE_OK)
		fail_msg("no cookie list");
	for (struct curl_slist *l = list; l && !cookie; l = l->next) {
		/* Netscape format: domain, flag, path, secure, expiry, name, value */
		char *f[7], *line = xstrdup(l->data), *save = NULL;
		int n = 0;
		for (char *t = strtok_r(line, "\t", &save); t && n < 7; t = strtok_r(NULL, "\t", &save))
			f[n++] = t;
		if (n == 7 && strstr(f[5], "rf_session"))
			cookie = xasprintf("%s=%s", f[5], f[6]);
		free(line);
	}
	curl_slist_free_all(list);
	if (cookie == NULL)
		fail_msg("the client holds no session cookie");
	return cookie;
}

/* The dashboard's appointment list reads through the read handle
 * (RINGFENCE_DATABASE_READ_URL, its own connection); when that cannot
 * connect the page still answers, from the primary; unset, the list
 * reads on the primary handle. */
static void test_dashboard_reads(void **state)
{
	struct dc_account acc;
	struct dc *c;
	struct app app;
	struct buf body = BUF_INIT;
	char *cookie, *dead = pair_url("1", "connect_timeout=2");
	unsigned long long trips;

	(void)state;
	dc_account_or_fail(&acc, "owner", NULL);
	c = dc_login_or_fail(acc.email, acc.password);
	cookie = session_cookie_or_fail(c);

	app_with(&app, "RINGFENCE_DATABASE_READ_URL", hx_env.database_url);
	assert_true(app.read_db != app.db);
	assert_int_equal(db_round_trips(app.read_db), 0);
	assert_int_equal(app_get(&app, "/today", cookie, &body), 200);
	assert_non_null(strstr(buf_str(&body), "today-list"));
	assert_true(db_round_trips(app.read_db) > 0);
	assert_non_null(db_pgconn(app.read_db));
	app_done(&app);

	app_with(&app, "RINGFENCE_DATABASE_READ_URL", dead);
	assert_int_equal(app_get(&app, "/today", cookie, &body), 200);
	assert_non_null(strstr(buf_str(&body), "today-list"));
	assert_null(db_pgconn(app.read_db));
	app_done(&app);

	app_with(&app, "RINGFENCE_DATABASE_READ_URL", NULL);
	assert_true(app.read_db == app.db);
	trips = db_round_trips(app.db);
	assert_int_equal(app_get(&app, "/today", cookie, &body), 200);
	assert_true(db_round_trips(app.db) > trips);
	app_done(&app);

	buf_free(&body);
	free(cookie);
	free(dead);
	dc_free(c);
}

/* The statement kills its own connection the first time it runs (the
 * sequence counts every run on the server, whatever the transaction). */
#define SELF_KILL(seq) "SELECT CASE WHEN nextval('" seq "') = 1" \
	" THEN pg_terminate_backend(pg_backend_pid()) ELSE true END::text"
#define SELF_KILL_ALWAYS "SELECT pg_terminate_backend(pg_backend_pid())::text"

/* A retry-safe statement whose connection broke runs exactly once more
 * and the caller sees its answer; a plain statement is never re-run; a
 * retry-safe one inside a transaction is not re-run either. */
static void test_retry_only_where_safe(void **state)
{
	char *url = pair_url(port_a, NULL);
	struct db *admin = db_open(url), *db = db_open(url);
	PGresult *r;
	char *v;

	(void)state;
	assert_int_equal(db_exec_script(admin, "DROP SEQUENCE IF EXISTS failover_safe,"
		" failover_unsafe, failover_tx; CREATE SEQUENCE failover_safe;"
		" CREATE SEQUENCE failover_unsafe; CREATE SEQUENCE failover_tx"), 0);

	r = db_exec_retry(db, "failover_safe", SELF_KILL("failover_safe"), 0, NULL);
	assert_non_null(r);
	assert_string_equal(PQgetvalue(r, 0, 0), "true");
	PQclear(r);
	v = one_value_or_fail(admin, "SELECT last_value::text FROM failover_safe");
	assert_string_equal(v, "2");
	free(v);

	assert_null(db_exec(db, SELF_KILL("failover_unsafe"), 0, NULL));
	assert_int_equal(db_conn_lost(db), 1);
	assert_null(db_pgconn(db));
	v = one_value_or_fail(admin, "SELECT last_value::text FROM failover_unsafe");
	assert_string_equal(v, "1");
	free(v);

	assert_int_equal(db_begin(db), 0);
	assert_null(db_exec_retry(db, "failover_tx", SELF_KILL("failover_tx"), 0, NULL));
	/* The transaction went with its connection: until it is rolled back,
	 * nothing runs (the rest of its unit would otherwise run on a new
	 * connection, outside any transaction), neither a plain statement, a
	 * prepared one nor a pipeline that does not begin anew. */
	assert_null(db_exec(db, "SELECT nextval('failover_tx')", 0, NULL));
	assert_string_equal(db_last_sqlstate(db), "08007");
	assert_null(db_exec_prepared(db, "failover_tx_next", "SELECT nextval('failover_tx')", 0, NULL));
	assert_string_equal(db_last_sqlstate(db), "08007");
	{
		PGresult *pr[1];
		assert_int_equal(db_pipe_begin(db), 0);
		db_pipe_send(db, NULL, "SELECT nextval('failover_tx')", 0, NULL);
		assert_int_equal(db_pipe_run(db, pr, 1), -1);
		assert_string_equal(db_last_sqlstate(db), "08007");
	}
	/* The end of the unit (what the pool does after each request, the
	 * worker after each job, the scheduler after each tick) forgets it. */
	db_end_unit(db);
	v = one_value_or_fail(admin, "SELECT last_value::text FROM failover_tx");
	assert_string_equal(v, "1");
	free(v);
	/* The handle works again afterwards. */
	v = one_value_or_fail(db, "SELECT 'again'");
	assert_string_equal(v, "again");
	free(v);
	db_close(admin);
	db_close(db);
	free(url);
}

/* Opens a transaction on db, lets admin end db's backend under it (a
 * failover between a unit's last statement and its COMMIT) and commits:
 * the COMMIT fails with its connection lost. */
static void commit_lost_or_fail(struct db *db, struct db *admin)
{
	char *pid, *kill;

	assert_int_equal(db_begin(db), 0);
	pid = one_value_or_fail(db, "SELECT pg_backend_pid()::text");
	kill = xasprintf("SELECT pg_terminate_backend(%s)::text", pid);
	free(one_value_or_fail(admin, kill));
	assert_int_equal(db_commit(db), -1);
	assert_int_equal(db_conn_lost(db), 1);
	free(kill);
	free(pid);
}

/* A COMMIT lost with its connection ends the unit: the next unit runs on
 * a new connection.  The worker's settle, the scheduler's tick and the
 * reconciler give up after a failed COMMIT without a rollback of their
 * own; were the lost transaction still pending there, their process
 * would refuse every statement (08007) from then on, the scheduler's
 * advisory lock and the worker's claim included, and never begin again.
 * The same after a COMMIT refused because the transaction was already
 * lost (08007). */
static void test_commit_lost_ends_unit(void **state)
{
	struct db *admin = db_open(hx_env.database_url), *db = db_open(hx_env.database_url);
	struct rds *r = rds_open(hx_env.redis_url);
	struct arena *job = arena_new(4096);
	struct worker_limits lim = { 100, 100, 100 };
	struct outbound_attempt at;
	struct scheduler_tick t;
	const char *reason = NULL;
	char *v;

	(void)state;
	assert_non_null(r);
	commit_lost_or_fail(db, admin);
	v = one_value_or_fail(db, "SELECT 'plain'");
	assert_string_equal(v, "plain");
	free(v);

	/* The scheduler's tick (a clock before anything is due: nothing
	 * queued), twice: it goes on ticking. */
	for (int i = 0; i < 2; i++) {
		commit_lost_or_fail(db, admin);
		memset(&t, 0, sizeof(t));
		if (scheduler_run_tick(db, r, 86400, &t) < 0)
			fail_msg("tick %d after a lost COMMIT: %s [%s]", i, t.error,
				db_last_sqlstate(db));
	}
	/* The worker's claim of a reminder that does not exist: dropped,
	 * not a database error. */
	commit_lost_or_fail(db, admin);
	memset(&at, 0, sizeof(at));
	if (worker_claim(db, job, 9000000000000000LL, 86400, "failover", 60, NULL, &lim, &at,
		    &reason) < 0)
		fail_msg("claim after a lost COMMIT: %s [%s]", db_last_error(db),
			db_last_sqlstate(db));

	/* Refused (the transaction went with its connection before it). */
	assert_int_equal(db_begin(db), 0);
	assert_null(db_exec(db, SELF_KILL_ALWAYS, 0, NULL));
	assert_int_equal(db_commit(db), -1);
	assert_string_equal(db_last_sqlstate(db), "08007");
	v = one_value_or_fail(db, "SELECT 'again'");
	assert_string_equal(v, "again");
	free(v);

	arena_free(job);
	rds_close(r);
	db_close(admin);
	db_close(db);
}

/* A is killed (immediate shutdown: a crash) and B promoted: the next
 * retried ping on a handle that was connected to A answers from B; the
 * caller never sees the lost connection.  Last: it changes the pair. */
static void test_failover_ping(void **state)
{
	char *ports = xasprintf("%s,%s", port_a, port_b);
	char *url = pair_url(ports, "target_session_attrs=read-write");
	struct db *db = db_open(url);
	struct arena *a = arena_new(1024);
	const char *ping = "SELECT inet_server_port()::text || ' ' || pg_is_in_recovery()::text";
	const char *v[1];
	char *want;

	(void)state;
	assert_int_equal(db_row_retry(db, a, "failover_ping", ping, 0, NULL, 1, v), 1);
	want = xasprintf("%s false", port_a);
	assert_string_equal(v[0], want);
	free(want);
	pair_or_fail("kill", "a");
	pair_or_fail("promote", "b");
	assert_int_equal(db_row_retry(db, a, "failover_ping", ping, 0, NULL, 1, v), 1);
	want = xasprintf("%s false", port_b);
	assert_string_equal(v[0], want);
	free(want);
	/* And a write goes to B now. */
	assert_int_equal(db_exec_script(db, "CREATE TABLE failover_after (x int)"), 0);
	arena_free(a);
	db_close(db);
	free(url);
	free(ports);
}

static int group_setup(void **state)
{
	const char *pg = getenv("RINGFENCE_PG_PORT");
	char *root;
	struct buf out;

	if (hx_group_setup(state) < 0)
		return -1;
	if (pg == NULL || atoi(pg) <= 0 || atoi(pg) > 65000) {
		fprintf(stderr, "failover: RINGFENCE_PG_PORT is not set (the pair uses it + 10, + 11)\n");
		return -1;
	}
	snprintf(port_a, sizeof(port_a), "%d", atoi(pg) + 10);
	snprintf(port_b, sizeof(port_b), "%d", atoi(pg) + 11);
	root = xstrdup(hx_env.stack_script);
	pair_tool = xasprintf("%s/../test/tools/pg_pair", dirname(root));
	free(root);
	pair_dir = xasprintf("%s/pg-pair", hx_env.stack_dir);
	buf_init(&out);
	{
		char *cmd = xasprintf("'%s' stop '%s' && '%s' start '%s' %s %s 2>&1", pair_tool,
			pair_dir, pair_tool, pair_dir, port_a, port_b);
		int rc = hx_shell(cmd, &out, 60);
		free(cmd);
		if (rc != 0) {
			fprintf(stderr, "failover: pg_pair start failed: %s\n", buf_str(&out));
			buf_free(&out);
			return -1;
		}
	}
	buf_free(&out);
	return 0;
}

static int group_teardown(void **state)
{
	struct buf out;
	char *cmd = xasprintf("'%s' stop '%s' 2>&1", pair_tool, pair_dir);

	buf_init(&out);
	hx_shell(cmd, &out, 30);
	buf_free(&out);
	free(cmd);
	free(pair_tool);
	free(pair_dir);
	return hx_group_teardown(state);
}

int failover_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multi_host_finds_primary),
		cmocka_unit_test(test_standby_read_only_drops),
		cmocka_unit_test(test_read_url),
		cmocka_unit_test(test_readyz_standby),
		cmocka_unit_test(test_dashboard_reads),
		cmocka_unit_test(test_doctor_multi_host),
		cmocka_unit_test(test_retry_only_where_safe),
		cmocka_unit_test(test_commit_lost_ends_unit),
		cmocka_unit_test(test_failover_ping),
	};
	return cmocka_run_group_tests_name("integration: failover", tests, group_setup,
		group_teardown);
}

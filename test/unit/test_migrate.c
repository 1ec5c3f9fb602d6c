/* Unit tests for migrate against a real PostgreSQL
 * (RINGFENCE_DATABASE_URL).  Everything runs in a scratch database
 * rf_migrate_test_<pid>, created here and dropped at the end, so the
 * shared database is never touched: the shipped sql/ directory applied
 * fresh and re-run, broken files rolled back whole (table-driven), files
 * that look like transaction control but are not, refusals (duplicate
 * numbers, out of order), status output, concurrent runs serialised by
 * the advisory lock, and the simulator's own set (sql/sim/ recorded in
 * twilio_sim.schema_migrations, never applied by the product's run). */
#include "unit.h"

#include "db.h"
#include "migrate.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dbname[64];
static char *scratch_conninfo;
static PGconn *admin;
static struct db *db;

static const char *database_url(void)
{
	const char *url = getenv("RINGFENCE_DATABASE_URL");
	if (url == NULL || *url == '\0')
		fail_msg("RINGFENCE_DATABASE_URL is not set; these tests need a running PostgreSQL");
	return url;
}

/* conninfo with its database (and user, when not NULL) replaced, as
 * key='value' pairs (works for both URI and key=value input). */
static char *with_db_user(const char *conninfo, const char *name, const char *user)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	char *out = xstrdup(""), *next;
	if (opts == NULL)
		fail_msg("cannot parse RINGFENCE_DATABASE_URL: %s", err ? err : "?");
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		const char *val = o->val;
		char *q, *p;
		if (strcmp(o->keyword, "dbname") == 0 || (user && strcmp(o->keyword, "user") == 0))
			continue;
		if (val == NULL)
			continue;
		q = xmalloc(2 * strlen(val) + 1);
		p = q;
		for (const char *s = val; *s; s++) {
			if (*s == '\\' || *s == '\'')
				*p++ = '\\';
			*p++ = *s;
		}
		*p = '\0';
		next = xasprintf("%s%s='%s' ", out, o->keyword, q);
		free(q);
		free(out);
		out = next;
	}
	PQconninfoFree(opts);
	next = user ? xasprintf("%sdbname='%s' user='%s'", out, name, user) :
		xasprintf("%sdbname='%s'", out, name);
	free(out);
	return next;
}

static void admin_exec(const char *sql)
{
	PGresult *res = PQexec(admin, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(admin));
	PQclear(res);
}

/* Creates the scratch database.  The test stack's role may lack
 * CREATEDB (it runs migrations without superuser rights, as in
 * production); then the local superuser "postgres" creates the database
 * on its behalf, owned by that role, so the migrations still run with the
 * role's own rights. */
static int setup(void **state)
{
	char *sql, *conninfo;
	PGresult *res;
	(void)state;
	admin = PQconnectdb(database_url());
	if (PQstatus(admin) != CONNECTION_OK)
		fail_msg("cannot connect to RINGFENCE_DATABASE_URL: %s", PQerrorMessage(admin));
	char *role = PQescapeIdentifier(admin, PQuser(admin), strlen(PQuser(admin)));
	char *user = xstrdup(PQuser(admin));
	snprintf(dbname, sizeof(dbname), "rf_migrate_test_%d", (int)getpid());
	sql = xasprintf("CREATE DATABASE %s", dbname);
	res = PQexec(admin, sql);
	free(sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (sqlstate == NULL || strcmp(sqlstate, "42501") != 0)
			fail_msg("CREATE DATABASE %s: %s", dbname, PQerrorMessage(admin));
		PQfinish(admin);
		conninfo = with_db_user(database_url(), "postgres", "postgres");
		admin = PQconnectdb(conninfo);
		free(conninfo);
		if (PQstatus(admin) != CONNECTION_OK)
			fail_msg("role %s may not create databases, and the superuser postgres cannot "
				"connect: %s", user, PQerrorMessage(admin));
		sql = xasprintf("CREATE DATABASE %s OWNER %s", dbname, role);
		admin_exec(sql);
		free(sql);
	}
	PQclear(res);
	PQfreemem(role);
	scratch_conninfo = with_db_user(database_url(), dbname, user);
	free(user);
	db = db_open(scratch_conninfo);
	if (db_connect(db) < 0)
		fail_msg("cannot connect to the scratch database: %s", db_last_error(db));
	return 0;
}

static int teardown(void **state)
{
	char *sql;
	(void)state;
	db_close(db);
	sql = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
	admin_exec(sql);
	free(sql);
	PQfinish(admin);
	free(scratch_conninfo);
	return 0;
}

/* An empty public schema: no tables, no schema_migrations. */
static void reset_schema(void)
{
	assert_int_equal(db_exec_script(db, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"), 0);
}

/* The single value of a one-row query. */
static char *query1(const char *sql)
{
	PGresult *res = db_exec(db, sql, 0, NULL);
	char *v;
	if (res == NULL)
		fail_msg("%s: %s", sql, db_last_error(db));
	assert_int_equal(PQntuples(res), 1);
	v = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* Whether the one-parameter yes/no query sql is true for arg. */
static int is_true(const char *sql, const char *arg)
{
	const char *p[] = { arg };
	PGresult *res = db_exec(db, sql, 1, p);
	int yes;
	assert_non_null(res);
	yes = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return yes;
}

static int exists(const char *relation)
{
	return is_true("SELECT to_regclass($1) IS NOT NULL", relation);
}

/* The recorded versions, comma-separated in order ("" when none or no
 * table). */
static char *recorded(void)
{
	if (!exists("schema_migrations"))
		return xstrdup("");
	return query1("SELECT coalesce(string_agg(version, ',' ORDER BY version), '') FROM schema_migrations");
}

static char *tmpdir(void)
{
	char *d = xasprintf("/tmp/rf-test-migrate-%d-XXXXXX", (int)getpid());
	assert_non_null(mkdtemp(d));
	return d;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	unit_write_file(dir, name, text);
}

static void rm_rf(const char *path)
{
	char *cmd = xasprintf("rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* Runs migrate_apply or migrate_status with fd (1 or 2) going to a file;
 * *out gets what was written (caller frees). */
static int capture(int fd, int status, const char *dir, char **out)
{
	char path[] = "/tmp/rf-test-migrate-out-XXXXXX";
	int tmp = mkstemp(path), saved, rc;
	size_t len;
	assert_true(tmp >= 0);
	fflush(stdout);
	fflush(stderr);
	saved = dup(fd);
	assert_int_equal(dup2(tmp, fd), fd);
	rc = status ? migrate_status(db, dir, NULL) : migrate_apply(db, dir, NULL);
	fflush(stdout);
	fflush(stderr);
	assert_int_equal(dup2(saved, fd), fd);
	close(saved);
	close(tmp);
	*out = util_read_file(path, 1 << 20, &len);
	assert_non_null(*out);
	unlink(path);
	return rc;
}

static const char *sql_dir(void)
{
	static char dir[4096];
	const char *root = getenv("RINGFENCE_ROOT");
	struct stat st;
	snprintf(dir, sizeof(dir), "%s/sql", root && *root ? root : ".");
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		fail_msg("%s not found (run from the source tree or set RINGFENCE_ROOT)", dir);
	return dir;
}

/* The shipped migrations apply to an empty database and re-running
 * applies nothing. */
static void test_shipped_sql(void **state)
{
	const char *dir = sql_dir();
	char *cmd = xasprintf("ls '%s' | grep -cE '^[0-9]{3}_[A-Za-z0-9_-]+\\.sql$'", dir);
	FILE *p = popen(cmd, "r");
	int nfiles = 0;
	char *out, *rec, *n;
	(void)state;

	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &nfiles), 1);
	pclose(p);
	free(cmd);
	assert_true(nfiles >= 1);

	reset_schema();
	assert_int_equal(capture(1, 1, dir, &out), 0);
	assert_non_null(strstr(out, "pending 001_init.sql\n"));
	assert_null(strstr(out, "applied"));
	free(out);
	assert_false(exists("schema_migrations")); /* status changes nothing */

	assert_int_equal(migrate_apply(db, dir, NULL), nfiles);
	assert_true(exists("businesses"));
	assert_true(exists("call_events"));
	n = query1("SELECT count(*) FROM schema_migrations WHERE applied_at <= now()");
	assert_int_equal(atoi(n), nfiles);
	free(n);
	rec = recorded();
	assert_non_null(strstr(rec, "001_init.sql"));

	assert_int_equal(migrate_apply(db, dir, NULL), 0);
	assert_int_equal(migrate_apply(db, dir, NULL), 0);
	char *rec2 = recorded();
	assert_string_equal(rec, rec2);
	free(rec);
	free(rec2);

	assert_int_equal(capture(1, 1, dir, &out), 0);
	assert_non_null(strstr(out, "applied 001_init.sql\n"));
	assert_null(strstr(out, "pending"));
	free(out);
}

struct bad_case {
	const char *name;
	const char *sql;     /* 002_bad.sql; its first statement creates bad_t */
	const char *message; /* in the log, besides the file name */
};

/* A failing file leaves nothing of itself behind, the files before it
 * stay applied, the files after it are not tried, and the log names the
 * file and PostgreSQL's reason. */
static void test_broken_rolled_back(void **state)
{
	static const struct bad_case cases[] = {
		{ "syntax error", "CREATE TABLE bad_t (id int);\nINSERT INTO bad_t VALUES (1);\nSELEC 1;\n", "syntax error" },
		{ "constraint", "CREATE TABLE bad_t (id int NOT NULL);\nINSERT INTO bad_t VALUES (NULL);\n", "violates not-null" },
		{ "missing table", "CREATE TABLE bad_t (id int);\nALTER TABLE nope ADD COLUMN x int;\n", "does not exist" },
		{ "error in function body at create", "CREATE TABLE bad_t (id int);\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT nope FROM bad_t $$;\n", "does not exist" },
		{ "empty file", "", "no statements" },
		{ "comments only", "-- nothing yet\n/* still nothing */\n", "no statements" },
		{ "own transaction", "BEGIN;\nCREATE TABLE bad_t (id int);\nCOMMIT;\n", "contains BEGIN" },
		{ "own commit mid-file", "CREATE TABLE bad_t (id int);\nCOMMIT;\nSELEC 1;\n", "contains COMMIT" },
		{ "start transaction", "START TRANSACTION;\nCREATE TABLE bad_t (id int);\nEND;\n", "contains START" },
		{ "rollback", "CREATE TABLE bad_t (id int);\n  rollback ;\n", "contains ROLLBACK" },
		{ "after a comment", "CREATE TABLE bad_t (id int); -- ok\n/* c */ commit", "contains COMMIT" },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct bad_case *c = &cases[i];
		char *dir = tmpdir(), *log, *rec;
		int rc;

		reset_schema();
		write_file(dir, "001_ok.sql", "CREATE TABLE ok_t (id int);\n");
		write_file(dir, "002_bad.sql", c->sql);
		write_file(dir, "003_after.sql", "CREATE TABLE after_t (id int);\n");
		rc = capture(2, 0, dir, &log);
		if (rc != -1)
			fail_msg("%s: migrate_apply returned %d", c->name, rc);
		if (strstr(log, "002_bad.sql") == NULL || strstr(log, c->message) == NULL)
			fail_msg("%s: log does not name the file and '%s': %s", c->name, c->message, log);
		free(log);
		if (exists("bad_t"))
			fail_msg("%s: part of the failing file was applied", c->name);
		assert_true(exists("ok_t"));
		assert_false(exists("after_t"));
		rec = recorded();
		if (strcmp(rec, "001_ok.sql") != 0)
			fail_msg("%s: recorded '%s'", c->name, rec);
		free(rec);

		/* Fixed, the rest applies. */
		write_file(dir, "002_bad.sql", "CREATE TABLE bad_t (id int);\n");
		assert_int_equal(migrate_apply(db, dir, NULL), 2);
		assert_true(exists("bad_t"));
		assert_true(exists("after_t"));
		assert_int_equal(migrate_apply(db, dir, NULL), 0);
		rm_rf(dir);
		free(dir);
	}
}

struct good_case {
	const char *name;
	const char *sql;
	const char *check; /* a query that must return 't' afterwards */
};

/* Files whose text contains transaction words where they are not
 * statements apply normally. */
static void test_tricky_but_valid(void **state)
{
	static const struct good_case cases[] = {
		{ "plpgsql body", "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$;\n",
			"SELECT f() = 1" },
		{ "tagged dollar quote", "CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $fn$\nBEGIN\n  RETURN 'x;'; -- $$ COMMIT;\nEND;\n$fn$;\n",
			"SELECT f() = 'x;'" },
		{ "begin atomic", "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN a ELSE 0 END;\nEND;\nCREATE TABLE t (id int);\n",
			"SELECT f(3) = 3 AND to_regclass('t') IS NOT NULL" },
		{ "strings", "CREATE TABLE t (s text);\nINSERT INTO t VALUES ('COMMIT;'), ('it''s; ROLLBACK'), (E'a\\'; BEGIN');\n",
			"SELECT count(*) = 3 FROM t" },
		{ "comments", "-- BEGIN;\n/* COMMIT; /* nested ROLLBACK; */ END; */\nCREATE TABLE t (id int);\n-- COMMIT;\n",
			"SELECT to_regclass('t') IS NOT NULL" },
		{ "quoted identifiers", "CREATE TABLE \"begin\" (\"commit;\" int);\nINSERT INTO \"begin\" VALUES (1);\n",
			"SELECT count(*) = 1 FROM \"begin\"" },
		{ "case in a view", "CREATE TABLE t (n int);\nCREATE VIEW v AS SELECT CASE WHEN n > 1 THEN 'big' ELSE 'small' END AS size FROM t;\nCREATE TABLE u (id int);\n",
			"SELECT to_regclass('v') IS NOT NULL AND to_regclass('u') IS NOT NULL" },
		{ "column named like a word", "CREATE TABLE t (begin_at timestamptz, end_at timestamptz);\n",
			"SELECT to_regclass('t') IS NOT NULL" },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *dir = tmpdir(), *ok;
		reset_schema();
		write_file(dir, "001_case.sql", cases[i].sql);
		if (migrate_apply(db, dir, NULL) != 1)
			fail_msg("%s: not applied: %s", cases[i].name, db_last_error(db));
		ok = query1(cases[i].check);
		if (strcmp(ok, "t") != 0)
			fail_msg("%s: check failed", cases[i].name);
		free(ok);
		rm_rf(dir);
		free(dir);
	}
}

/* What is refused before anything is applied, and what is ignored. */
static void test_refusals(void **state)
{
	char *dir = tmpdir(), *log, *rec, *out;
	(void)state;

	/* Two files with one number. */
	reset_schema();
	write_file(dir, "001_a.sql", "CREATE TABLE a (id int);\n");
	write_file(dir, "001_b.sql", "CREATE TABLE b (id int);\n");
	assert_int_equal(capture(2, 0, dir, &log), -1);
	assert_non_null(strstr(log, "same number"));
	free(log);
	assert_false(exists("a"));
	assert_false(exists("b"));
	rm_rf(dir);
	free(dir);

	/* Out of order: 002 appears after 003 was applied. */
	dir = tmpdir();
	reset_schema();
	write_file(dir, "001_a.sql", "CREATE TABLE a (id int);\n");
	write_file(dir, "003_c.sql", "CREATE TABLE c (id int);\n");
	assert_int_equal(migrate_apply(db, dir, NULL), 2);
	write_file(dir, "002_b.sql", "CREATE TABLE b (id int);\n");
	write_file(dir, "004_d.sql", "CREATE TABLE d (id int);\n");
	assert_int_equal(capture(2, 0, dir, &log), -1);
	assert_non_null(strstr(log, "002_b.sql"));
	free(log);
	assert_false(exists("b"));
	assert_false(exists("d"));
	rec = recorded();
	assert_string_equal(rec, "001_a.sql,003_c.sql");
	free(rec);
	assert_int_equal(capture(1, 1, dir, &out), 0);
	assert_string_equal(out, "applied 001_a.sql\npending 002_b.sql\napplied 003_c.sql\npending 004_d.sql\n");
	free(out);

	/* A recorded migration whose file is gone is reported. */
	char *gone = xasprintf("%s/001_a.sql", dir);
	assert_int_equal(unlink(gone), 0);
	free(gone);
	assert_int_equal(capture(1, 1, dir, &out), 0);
	assert_non_null(strstr(out, "applied 001_a.sql (no file)\n"));
	free(out);
	rm_rf(dir);
	free(dir);

	/* Other files are ignored; an empty directory applies nothing. */
	dir = tmpdir();
	reset_schema();
	write_file(dir, "README.md", "not sql");
	write_file(dir, "01_short.sql", "CREATE TABLE x1 (id int);\n");
	write_file(dir, "0001_long.sql", "CREATE TABLE x2 (id int);\n");
	write_file(dir, "001_x.sql.bak", "CREATE TABLE x3 (id int);\n");
	write_file(dir, "001_bad name.sql", "CREATE TABLE x4 (id int);\n");
	write_file(dir, ".001_hidden.sql", "CREATE TABLE x5 (id int);\n");
	assert_int_equal(migrate_apply(db, dir, NULL), 0);
	assert_false(exists("x1") || exists("x2") || exists("x3") || exists("x4") || exists("x5"));
	write_file(dir, "001_real.sql", "CREATE TABLE x6 (id int);\n");
	assert_int_equal(migrate_apply(db, dir, NULL), 1);
	assert_true(exists("x6"));
	rm_rf(dir);

	/* A directory that does not exist. */
	assert_int_equal(capture(2, 0, dir, &log), -1);
	assert_non_null(strstr(log, dir));
	free(log);
	assert_int_equal(migrate_status(db, dir, NULL), -1);
	free(dir);
}

/* Two runs at once: one applies, the other waits for the lock and then
 * finds nothing to do. */
static void test_concurrent_runs(void **state)
{
	char *dir = tmpdir(), *rec, *n;
	int pipefd[2], status, mine;
	pid_t pid;
	char c;
	(void)state;

	reset_schema();
	write_file(dir, "001_slow.sql", "CREATE TABLE slow (id int);\nSELECT pg_sleep(1);\nINSERT INTO slow VALUES (1);\n");
	write_file(dir, "002_next.sql", "INSERT INTO slow VALUES (2);\n");
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The parent's connections are not touched here: closing
		 * them would end the parent's sessions. */
		struct db *own = db_open(scratch_conninfo);
		close(pipefd[0]);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(100);
		int rc = migrate_apply(own, dir, NULL);
		db_close(own);
		_exit(rc < 0 ? 100 : rc);
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	mine = migrate_apply(db, dir, NULL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (mine < 0 || WEXITSTATUS(status) == 100)
		fail_msg("a run failed: parent %d, child exit %d", mine, WEXITSTATUS(status));
	assert_int_equal(mine + WEXITSTATUS(status), 2);
	rec = recorded();
	assert_string_equal(rec, "001_slow.sql,002_next.sql");
	free(rec);
	n = query1("SELECT string_agg(id::text, ',' ORDER BY id) FROM slow");
	assert_string_equal(n, "1,2");
	free(n);

	/* The lock is released when a run ends. */
	n = query1("SELECT pg_try_advisory_lock(" MIGRATE_LOCK_KEY ")");
	assert_string_equal(n, "t");
	free(n);
	n = query1("SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")");
	assert_string_equal(n, "t");
	free(n);
	rm_rf(dir);
	free(dir);
}

/* While another session holds the lock, a run waits for it, longer than
 * the connection's lock_timeout (3 s). */
static void test_waits_for_lock(void **state)
{
	char *dir = tmpdir();
	int pipefd[2], status;
	long long t0, took;
	pid_t pid;
	char c;
	(void)state;

	reset_schema();
	write_file(dir, "001_a.sql", "CREATE TABLE a (id int);\n");
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		PGconn *conn = PQconnectdb(scratch_conninfo);
		PGresult *res = PQexec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")");
		int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
		PQclear(res);
		close(pipefd[0]);
		if (!ok || write(pipefd[1], "x", 1) != 1)
			_exit(1);
		usleep(3500 * 1000);
		PQfinish(conn); /* releases the lock */
		_exit(0);
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	t0 = util_now_ms();
	assert_int_equal(migrate_apply(db, dir, NULL), 1);
	took = util_now_ms() - t0;
	if (took < 3200)
		fail_msg("applied after %lld ms while the lock was held for 3500", took);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	rm_rf(dir);
	free(dir);
}

static int schema_exists(const char *name)
{
	return is_true("SELECT to_regnamespace($1) IS NOT NULL", name);
}

/* The product's sql/ never creates the simulator's schema; sql/sim/ is
 * applied as its own set, recorded inside twilio_sim; a database that ran
 * the retired product migration 002_twilio_sim.sql keeps its simulator
 * data, the product's run tolerates the retired version, and the
 * simulator's first run adopts the schema. */
/* The simulator's own set, sql/sim/, in order. */
#define SIM_FILES "001_twilio_sim.sql,002_inbound_recordings.sql,003_incoming_numbers.sql,004_fallback_url.sql"
#define SIM_NFILES 4

static void test_sim_set(void **state)
{
	const char *dir = sql_dir();
	char *simdir = xasprintf("%s/sim", dir), *path = xasprintf("%s/001_twilio_sim.sql", simdir);
	char *text, *old, *v;
	size_t len;
	int nproduct;
	(void)state;

	assert_int_equal(db_exec_script(db, "DROP SCHEMA IF EXISTS twilio_sim CASCADE;"), 0);
	reset_schema();
	nproduct = migrate_apply(db, dir, NULL);
	assert_true(nproduct >= 1);
	assert_false(schema_exists("twilio_sim"));
	v = recorded();
	assert_null(strstr(v, "twilio_sim"));
	free(v);

	assert_int_equal(migrate_apply(db, simdir, "twilio_sim"), SIM_NFILES);
	assert_true(exists("twilio_sim.calls"));
	v = query1("SELECT string_agg(version, ',' ORDER BY version) FROM twilio_sim.schema_migrations");
	assert_string_equal(v, SIM_FILES);
	free(v);
	assert_int_equal(migrate_apply(db, simdir, "twilio_sim"), 0);
	assert_int_equal(migrate_apply(db, dir, NULL), 0);
	assert_int_equal(migrate_apply(db, simdir, "no such schema"), -1);

	/* A database from before the split: the file ran as the product's
	 * 002 (with its own CREATE SCHEMA) and holds simulator data. */
	assert_int_equal(db_exec_script(db, "DROP SCHEMA twilio_sim CASCADE;"), 0);
	reset_schema();
	text = util_read_file(path, 1 << 20, &len);
	assert_non_null(text);
	old = xasprintf("CREATE SCHEMA twilio_sim;\n%s", text);
	assert_int_equal(migrate_apply(db, dir, NULL), nproduct);
	assert_int_equal(db_exec_script(db, old), 0);
	assert_int_equal(db_exec_script(db,
		"INSERT INTO schema_migrations (version) VALUES ('002_twilio_sim.sql');"
		"INSERT INTO twilio_sim.callees (number, behaviour) VALUES ('+15550100001', 'person');"), 0);
	assert_int_equal(migrate_apply(db, dir, NULL), 0);
	assert_int_equal(migrate_apply(db, simdir, "twilio_sim"), SIM_NFILES);
	v = query1("SELECT behaviour FROM twilio_sim.callees WHERE number = '+15550100001'");
	assert_string_equal(v, "person");
	free(v);
	assert_int_equal(db_exec_script(db, "DROP SCHEMA twilio_sim CASCADE;"), 0);
	free(old);
	free(text);
	free(path);
	free(simdir);
}

static void remove_file(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
	free(path);
}

/* The expand lint: each unsafe statement is one problem; comments,
 * strings, quoted identifiers and dollar-quoted bodies are skipped; a
 * table the file creates is exempt. */
static void test_lint(void **state)
{
	static const struct {
		const char *sql;
		int problems;
	} cases[] = {
		{ "CREATE TABLE t (id int NOT NULL);", 0 },
		{ "ALTER TABLE a ADD COLUMN b int;", 0 },
		{ "ALTER TABLE a ADD COLUMN b int NOT NULL DEFAULT 0;", 0 },
		{ "ALTER TABLE a ADD COLUMN b int GENERATED ALWAYS AS (1) STORED NOT NULL;", 0 },
		{ "ALTER TABLE a ALTER COLUMN b DROP NOT NULL, ALTER COLUMN c SET DEFAULT 1;", 0 },
		{ "ALTER TABLE a DROP CONSTRAINT a_k, ADD CONSTRAINT a_k CHECK (k IN (1, 2, 3));", 0 },
		{ "CREATE INDEX a_b ON a (b);", 0 },
		{ "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ DROP TABLE x; SELECT 1 $$;", 0 },
		{ "-- DROP TABLE a;\n/* TRUNCATE a; /* nested */ */ SELECT 'DROP TABLE a';", 0 },
		{ "INSERT INTO a VALUES (E'it''s \\' ; DROP TABLE a');", 0 },
		{ "SELECT \"DROP\" FROM a;", 0 },
		{ "ALTER TYPE mood ADD VALUE 'c';", 0 },
		{ "CREATE TABLE n (id int); ALTER TABLE n ADD COLUMN c int NOT NULL; "
		  "CREATE UNIQUE INDEX n_c ON n (c); ALTER TABLE n DROP COLUMN c;", 0 },
		{ "DROP TABLE a;", 1 },
		{ "drop function f();", 1 },
		{ "DROP VIEW v; DROP TYPE t; DROP MATERIALIZED VIEW m;", 3 },
		{ "ALTER TABLE a DROP COLUMN b;", 1 },
		{ "ALTER TABLE a DROP b;", 1 },
		{ "ALTER TABLE IF EXISTS ONLY public.a RENAME COLUMN b TO c;", 1 },
		{ "ALTER TABLE a RENAME TO b;", 1 },
		{ "ALTER TABLE a ALTER COLUMN b TYPE bigint;", 1 },
		{ "ALTER TABLE a ALTER b SET DATA TYPE bigint;", 1 },
		{ "ALTER TABLE a ALTER COLUMN b SET NOT NULL;", 1 },
		{ "ALTER TABLE a ALTER COLUMN b DROP DEFAULT;", 1 },
		{ "ALTER TABLE a ADD COLUMN b int NOT NULL;", 1 },
		{ "ALTER TABLE a ADD COLUMN b int CHECK (b IS NOT NULL) NOT NULL;", 1 },
		{ "ALTER TABLE a ADD CONSTRAINT k CHECK (k > 0);", 1 },
		{ "ALTER TABLE a ADD CHECK (k > 0) NOT VALID;", 1 },
		{ "ALTER TABLE a DROP CONSTRAINT k;", 1 },
		{ "ALTER TABLE a ADD FOREIGN KEY (b) REFERENCES c (id);", 1 },
		{ "CREATE UNIQUE INDEX a_b ON a (b);", 1 },
		{ "TRUNCATE a;", 1 },
		{ "REVOKE SELECT ON a FROM ringfence;", 1 },
		{ "ALTER TYPE mood RENAME VALUE 'a' TO 'b';", 1 },
		{ "ALTER DOMAIN d SET NOT NULL;", 1 },
		{ "ALTER TABLE a ADD COLUMN x int, DROP COLUMN y, RENAME z TO w;", 2 },
		{ "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; DROP TABLE q;", 1 },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int n = migrate_lint_text("t.sql", cases[i].sql, NULL);
		if (n != cases[i].problems)
			fail_msg("%s: %d problems, expected %d", cases[i].sql, n, cases[i].problems);
	}
}

/* Phases: a file from 024 on without a phase line is a lint problem; the
 * applied phase is recorded; plain migrate stops before a contract file
 * once anything is applied, and a new database takes everything. */
static void test_phases(void **state)
{
	char *dir = tmpdir(), *log, *v;
	(void)state;

	write_file(dir, "001_a.sql", "CREATE TABLE a (id int);\n");
	write_file(dir, "024_b.sql", "-- phase: expand\nCREATE TABLE b (id int);\n");
	write_file(dir, "025_c.sql", "-- header\n-- phase: contract\nDROP TABLE a;\n");
	assert_int_equal(migrate_lint_dir(dir, NULL), 0);
	write_file(dir, "026_d.sql", "CREATE TABLE d (id int);\n");
	assert_int_equal(migrate_lint_dir(dir, NULL), 1);
	write_file(dir, "026_d.sql", "-- phase: expnad\nCREATE TABLE d (id int);\n");
	assert_int_equal(migrate_lint_dir(dir, NULL), 1);
	write_file(dir, "026_d.sql", "-- phase: expand\nALTER TABLE b DROP COLUMN id;\n");
	assert_int_equal(migrate_lint_dir(dir, NULL), 1);
	remove_file(dir, "026_d.sql");

	/* A new database: everything, the contract file too. */
	reset_schema();
	assert_int_equal(migrate_apply(db, dir, NULL), 3);
	v = query1("SELECT string_agg(version || ':' || phase, ',' ORDER BY version) FROM schema_migrations");
	assert_string_equal(v, "001_a.sql:expand,024_b.sql:expand,025_c.sql:contract");
	free(v);

	/* A database in use: the contract file waits for --contract. */
	reset_schema();
	remove_file(dir, "025_c.sql");
	assert_int_equal(migrate_apply(db, dir, NULL), 2);
	write_file(dir, "025_c.sql", "-- phase: contract\nDROP TABLE a;\n");
	assert_int_equal(capture(2, 0, dir, &log), -1);
	assert_non_null(strstr(log, "025_c.sql is a contract migration"));
	free(log);
	assert_true(exists("a"));

	/* A version table of an older release gets the column; its rows
	 * are history (expand). */
	reset_schema();
	assert_int_equal(db_exec_script(db, "CREATE TABLE schema_migrations (version text PRIMARY KEY, "
		"applied_at timestamptz NOT NULL DEFAULT now());"
		"INSERT INTO schema_migrations (version) VALUES ('001_a.sql');"
		"CREATE TABLE a (id int);"), 0);
	write_file(dir, "025_c.sql", "-- phase: expand\nCREATE TABLE c (id int);\n");
	assert_int_equal(migrate_apply(db, dir, NULL), 2);
	v = query1("SELECT string_agg(version || ':' || phase, ',' ORDER BY version) FROM schema_migrations");
	assert_string_equal(v, "001_a.sql:expand,024_b.sql:expand,025_c.sql:expand");
	free(v);
	rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_sql),
		cmocka_unit_test(test_broken_rolled_back),
		cmocka_unit_test(test_tricky_but_valid),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_concurrent_runs),
		cmocka_unit_test(test_waits_for_lock),
		cmocka_unit_test(test_sim_set),
		cmocka_unit_test(test_lint),
		cmocka_unit_test(test_phases),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

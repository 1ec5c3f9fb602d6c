/* db: one PostgreSQL connection per process, reconnecting after failure. */
#include "db.h"
#include "arena.h"
#include "log.h"
#include "metrics.h"
#include "secret.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A request must never wait long on the database: Twilio gives a webhook
 * 15 s in all, and a stuck statement would hold a FastCGI worker. */
#define DB_STATEMENT_TIMEOUT "SET statement_timeout = '5s'; SET lock_timeout = '3s'; SET idle_in_transaction_session_timeout = '30s'"

/* The statement timeout above is the server's: it cannot end a wait on a
 * host that is dead or cut off, where the kernel would retransmit for
 * many minutes.  TCP keepalives notice a silent idle connection within
 * 5 + 2 * 3 s, and tcp_user_timeout ends a send that nobody acknowledges
 * after 10 s.  Set on every connection unless the conninfo sets them. */
static const char *const db_default_keys[] = {
	"connect_timeout", "application_name", "keepalives", "keepalives_idle",
	"keepalives_interval", "keepalives_count", "tcp_user_timeout",
};
static const char *const db_default_vals[] = {
	"3", "ringfence", "1", "5", "2", "3", "10000",
};

struct db {
	char *conninfo;         /* owned */
	PGconn *conn;           /* NULL when not connected */
	/* The statements prepared on conn: name and text, both literals
	 * (owned by the program), in an array that grows (owned). */
	struct db_stmt {
		const char *name;
		const char *sql;
	} *prepared;
	size_t nprepared, cap;
	char sqlstate[6];
	char error[512];
	int down_logged;        /* log an outage once, not per statement */
	int lost;               /* the last failure dropped the connection (db_conn_lost) */
	/* A transaction was open on the connection when it was dropped: its
	 * outcome is unknown (a COMMIT in flight may or may not have landed)
	 * and its statements are gone.  Until the owner rolls back (or begins
	 * anew), every statement is refused, so that the rest of the unit can
	 * never run on a fresh connection outside any transaction. */
	int open_tx;            /* the connection was inside a transaction */
	int tx_lost;            /* ...and was dropped there (see above) */
	int connected_before;   /* a connection after this one is a reconnect (metrics) */
	unsigned long long round_trips; /* statements sent and answered (db_round_trips) */
	/* The pipeline being built (db_pipe_*): what each result will be. */
	struct db_pipe_item {
		const char *prepare;  /* a PQsendPrepare of this name, else a statement */
	} pipe[DB_PIPE_MAX * 2];
	int npipe;              /* items sent */
	int pipe_failed;        /* a send failed (or no pipeline is open) */
	size_t pipe_prepared0;  /* nprepared when the pipeline began */
};

/* One request sent and its answer awaited: counted for this connection
 * and for the process's metrics. */
static void db_trip(struct db *db)
{
	db->round_trips++;
	metrics_db_round_trip();
}

unsigned long long db_round_trips(const struct db *db)
{
	return db->round_trips;
}

struct db *db_open(const char *conninfo)
{
	struct db *db = xcalloc(1, sizeof(*db));
	db->conninfo = xstrdup(conninfo);
	return db;
}

void db_close(struct db *db)
{
	if (db == NULL)
		return;
	if (db->conn)
		PQfinish(db->conn);
	free(db->prepared);
	free(db->conninfo);
	free(db);
}

static void db_set_error(struct db *db, const char *sqlstate, const char *msg)
{
	size_t n;
	db->lost = 0; /* set again by whoever drops the connection for it */
	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", sqlstate ? sqlstate : "");
	snprintf(db->error, sizeof(db->error), "%s", msg ? msg : "unknown error");
	/* libpq messages end in newlines; keep the log to one line */
	n = strlen(db->error);
	while (n > 0 && (db->error[n - 1] == '\n' || db->error[n - 1] == ' '))
		db->error[--n] = '\0';
	for (char *p = db->error; *p; p++)
		if (*p == '\n')
			*p = ' ';
	/* libpq may quote the conninfo (a malformed one, a URI's host). */
	secret_scrub_conninfo(db->error, sizeof(db->error), db->conninfo);
}

static void db_drop(struct db *db)
{
	if (db->open_tx)
		db->tx_lost = 1;
	db->open_tx = 0;
	if (db->conn)
		PQfinish(db->conn);
	db->conn = NULL;
	db->nprepared = 0;
}

/* Records whether the connection is inside a transaction now (after a
 * statement or a pipeline), for db_drop. */
static void db_note_tx(struct db *db)
{
	PGTransactionStatusType t;
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return;
	t = PQtransactionStatus(db->conn);
	/* PQTRANS_ACTIVE (inside a pipeline): what it was before stands. */
	if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR)
		db->open_tx = 1;
	else if (t == PQTRANS_IDLE)
		db->open_tx = 0;
}

/* 0 when a statement may run; -1 (error 08007 kept for db_last_error)
 * while a transaction lost with its connection has not been rolled back.
 * A BEGIN starts a new unit and clears it. */
static int db_tx_guard(struct db *db, const char *sql)
{
	if (!db->tx_lost)
		return 0;
	if (sql && strcmp(sql, "BEGIN") == 0) {
		db->tx_lost = 0;
		return 0;
	}
	db_set_error(db, "08007", "the transaction was lost with its connection; "
		"its outcome is unknown and it must be rolled back before anything else runs");
	log_error("db: %s", db->error);
	metrics_db_error();
	return -1;
}

/* libpq notices (RAISE NOTICE, "relation already exists, skipping")
 * belong in our log, on one line, not on stderr. */
static void db_notice(void *arg, const char *message)
{
	char line[512];
	size_t n;
	(void)arg;
	snprintf(line, sizeof(line), "%s", message ? message : "");
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = '\0';
	for (char *p = line; *p; p++)
		if (*p == '\n')
			*p = ' ';
	log_info("db: %s", line);
}

/* An idle connection that the server has closed (restart, administrator
 * command, idle timeout) still says CONNECTION_OK until libpq reads from
 * it. Nothing is expected from the server between statements, so any
 * readable byte there is either a notice or the server's goodbye: an
 * ErrorResponse ('E') followed by end of file. Either of those means the
 * connection is gone and the next statement would fail for no reason. */
static int db_idle_conn_alive(struct db *db)
{
	struct pollfd pfd;
	char first;
	ssize_t n;

	if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		return 1; /* inside a transaction: a reconnect would lose it */
	pfd.fd = PQsocket(db->conn);
	if (pfd.fd < 0)
		return 0;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) <= 0)
		return 1;
	if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
		return 0;
	n = recv(pfd.fd, &first, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return 0;
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
	if (first == 'E')
		return 0;
	/* A notice or parameter status: let libpq take it. */
	if (!PQconsumeInput(db->conn))
		return 0;
	return PQstatus(db->conn) == CONNECTION_OK;
}

int db_connect(struct db *db)
{
	const char *keys[ARRAY_LEN(db_default_keys) + 2], *vals[ARRAY_LEN(db_default_keys) + 2];
	size_t k;
	PGresult *res;

	if (db->conn && PQstatus(db->conn) == CONNECTION_OK) {
		if (db_idle_conn_alive(db))
			return 0;
		log_warn("db: the server closed the idle connection; reconnecting");
	}
	db_drop(db);
	/* expand_dbname=1: libpq processes the keywords in order and the
	 * last value of a keyword wins, so the conninfo comes last: its own
	 * settings win over ours, which fill in what it leaves out. */
	for (k = 0; k < ARRAY_LEN(db_default_keys); k++) {
		keys[k] = db_default_keys[k];
		vals[k] = db_default_vals[k];
	}
	keys[k] = "dbname";
	vals[k++] = db->conninfo;
	keys[k] = vals[k] = NULL;
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		db_set_error(db, "08006", db->conn ? PQerrorMessage(db->conn) : "out of memory");
		if (!db->down_logged)
			log_error("db: cannot connect: %s", db->error);
		db->down_logged = 1;
		db_drop(db);
		metrics_db_error();
		return -1;
	}
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	/* Errors are logged: their DETAIL ("Failing row contains ...") and
	 * CONTEXT (parameter values) could carry confidential fields such as
	 * appointment notes, so only the primary message is kept. */
	PQsetErrorVerbosity(db->conn, PQERRORS_TERSE);
	PQsetErrorContextVisibility(db->conn, PQSHOW_CONTEXT_NEVER);
	db_trip(db);
	res = PQexec(db->conn, DB_STATEMENT_TIMEOUT);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_set_error(db, PQresultErrorField(res, PG_DIAG_SQLSTATE), PQerrorMessage(db->conn));
		log_error("db: cannot set timeouts: %s", db->error);
		PQclear(res);
		db_drop(db);
		return -1;
	}
	PQclear(res);
	if (db->connected_before)
		metrics_db_reconnect();
	db->connected_before = 1;
	if (db->down_logged)
		log_info("db: connected again");
	db->down_logged = 0;
	return 0;
}

/* An answer that says this connection is no use for what we run: class
 * 08 (connection exception), 57P01..57P03 (the server is shutting down
 * or starting), 25006 (read-only: a standby, or a primary demoted under
 * us).  libpq's multi-host target_session_attrs=read-write finds the
 * primary again on the next connection, this one never will. */
static int db_sqlstate_drops(const char *s)
{
	return strncmp(s, "08", 2) == 0 || strcmp(s, "25006") == 0 ||
		strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 || strcmp(s, "57P03") == 0;
}

/* Checks res; on failure records the error, drops a broken (or
 * standby's, db_sqlstate_drops) connection so the next call reconnects,
 * and returns NULL. */
static PGresult *db_result(struct db *db, PGresult *res, const char *what)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		db->sqlstate[0] = '\0';
		db->error[0] = '\0';
		db->lost = 0;
		db_note_tx(db);
		return res;
	}
	db_set_error(db, res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : "08006",
		db->conn ? PQerrorMessage(db->conn) : "no connection");
	if (res)
		PQclear(res);
	metrics_db_error();
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		log_error("db: connection lost during %s: %s", what, db->error);
		db_drop(db);
		db->lost = 1;
	} else if (db_sqlstate_drops(db->sqlstate)) {
		log_error("db: %s: [%s] %s; dropping the connection", what, db->sqlstate, db->error);
		db_drop(db);
		db->lost = 1;
	} else {
		log_warn("db: %s failed: [%s] %s", what, db->sqlstate, db->error);
		db_note_tx(db);
	}
	return NULL;
}

PGresult *db_exec(struct db *db, const char *sql, int n, const char *const *params)
{
	if (db_tx_guard(db, sql) < 0)
		return NULL;
	if (db_connect(db) < 0)
		return NULL;
	db_trip(db);
	return db_result(db, PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0), "statement");
}

/* The index of the statement name prepared on this connection,
 * db->nprepared when it is not, or -1 (logged, kept for db_last_error)
 * when name was prepared with another text: running either would run
 * the wrong one for somebody.  A bug, refused every time. */
static long stmt_find(struct db *db, const char *name, const char *sql)
{
	size_t i;

	for (i = 0; i < db->nprepared; i++)
		if (db->prepared[i].name == name || strcmp(db->prepared[i].name, name) == 0)
			break;
	if (i < db->nprepared && db->prepared[i].sql != sql &&
		strcmp(db->prepared[i].sql, sql) != 0) {
		snprintf(db->error, sizeof(db->error),
			"two different statements are named %s", name);
		db->sqlstate[0] = '\0';
		log_error("db: %s", db->error);
		return -1;
	}
	return (long)i;
}

static void stmt_add(struct db *db, const char *name, const char *sql)
{
	if (db->nprepared == db->cap) {
		db->cap = db->cap ? db->cap * 2 : 64;
		db->prepared = xrealloc(db->prepared, db->cap * sizeof(*db->prepared));
	}
	db->prepared[db->nprepared].name = name;
	db->prepared[db->nprepared].sql = sql;
	db->nprepared++;
}

PGresult *db_exec_prepared(struct db *db, const char *name, const char *sql,
	int n, const char *const *params)
{
	long i;

	if (db_tx_guard(db, NULL) < 0)
		return NULL;
	if (db_connect(db) < 0)
		return NULL;
	i = stmt_find(db, name, sql);
	if (i < 0)
		return NULL;
	if ((size_t)i == db->nprepared) {
		PGresult *res;
		db_trip(db);
		res = db_result(db, PQprepare(db->conn, name, sql, n, NULL), name);
		if (res == NULL)
			return NULL;
		PQclear(res);
		stmt_add(db, name, sql);
	}
	db_trip(db);
	return db_result(db, PQexecPrepared(db->conn, name, n, params, NULL, NULL, 0), name);
}

static int db_simple(struct db *db, const char *sql)
{
	PGresult *res = db_exec(db, sql, 0, NULL);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int db_begin(struct db *db)
{
	return db_simple(db, "BEGIN");
}

/* A COMMIT that fails ends its unit all the same: refused (08007), lost
 * with its connection (outcome unknown: db_conn_lost) or answered with
 * an error, nothing of the unit is left to run.  It is rolled back here
 * (db_rollback: nothing when the connection is gone or idle) so that a
 * caller that gives up after a failed COMMIT (the worker's settle, the
 * scheduler's tick, the reconciler, the voice step) leaves the handle
 * usable; the COMMIT's error stays db_last_error's. */
int db_commit(struct db *db)
{
	if (db_simple(db, "COMMIT") == 0)
		return 0;
	db_rollback(db);
	return -1;
}

void db_rollback(struct db *db)
{
	PGresult *res;
	db->tx_lost = 0; /* the owner has given the unit up */
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return;
	if (PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return;
	db_trip(db);
	res = PQexec(db->conn, "ROLLBACK");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		/* A connection that cannot roll back cannot be trusted. */
		log_error("db: rollback failed, dropping connection");
		db->open_tx = 0;
		db_drop(db);
	}
	db->open_tx = 0;
	PQclear(res);
}

void db_end_unit(struct db *db)
{
	if (db)
		db_rollback(db);
}

void db_finish(struct db *db, int in_tx, PGresult *res)
{
	if (in_tx)
		db_rollback(db);
	if (res)
		PQclear(res);
}

const char *db_last_sqlstate(const struct db *db)
{
	return db->sqlstate;
}

const char *db_last_error(const struct db *db)
{
	return db->error;
}

int db_exec_script(struct db *db, const char *sql)
{
	if (db_connect(db) < 0)
		return -1;
	db_trip(db);
	PGresult *res = db_result(db, PQexec(db->conn, sql), "script");
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

PGconn *db_pgconn(struct db *db)
{
	return db->conn;
}

static PGresult *db_run(struct db *db, const char *name, const char *sql, int n,
	const char *const *params)
{
	return name ? db_exec_prepared(db, name, sql, n, params) : db_exec(db, sql, n, params);
}

/* Copies res's one row of ncols columns into out (db_row_prepared). */
static int db_row_copy(PGresult *res, struct arena *a, int ncols, const char **out)
{
	int found = 0;

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1 && PQnfields(res) == ncols) {
		for (int i = 0; i < ncols; i++)
			out[i] = PQgetisnull(res, 0, i) ? NULL : arena_strdup(a, PQgetvalue(res, 0, i));
		found = 1;
	}
	PQclear(res);
	return found;
}

/* See db.h. */
int db_row_prepared(struct db *db, struct arena *a, const char *name, const char *sql,
	int n, const char *const *params, int ncols, const char **out)
{
	return db_row_copy(db_run(db, name, sql, n, params), a, ncols, out);
}

int db_cmd_prepared(struct db *db, const char *name, const char *sql, int n,
	const char *const *params)
{
	PGresult *res = db_exec_prepared(db, name, sql, n, params);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* ---- re-running after a lost connection ---------------------------------------- */

int db_conn_lost(const struct db *db)
{
	return db->lost;
}

/* Inside a transaction that this handle began (or that is failing): a
 * statement there must not be re-run on another connection, where it
 * would run outside the transaction. */
static int db_in_transaction(struct db *db)
{
	PGTransactionStatusType t;
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return 0;
	t = PQtransactionStatus(db->conn);
	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

/* See db.h. */
PGresult *db_exec_retry(struct db *db, const char *name, const char *sql, int n,
	const char *const *params)
{
	int in_tx = db_in_transaction(db);
	PGresult *res = db_run(db, name, sql, n, params);

	if (res != NULL || in_tx || !db->lost)
		return res;
	log_warn("db: %s: the connection was lost; reconnecting to run it once more",
		name ? name : "statement");
	metrics_db_retry();
	return db_run(db, name, sql, n, params);
}

/* See db.h. */
int db_row_retry(struct db *db, struct arena *a, const char *name, const char *sql,
	int n, const char *const *params, int ncols, const char **out)
{
	return db_row_copy(db_exec_retry(db, name, sql, n, params), a, ncols, out);
}

/* See db.h. */
PGresult *db_read_exec(struct db *read, struct db *primary, const char *name,
	const char *sql, int n, const char *const *params)
{
	PGresult *res;

	if (read != NULL && read != primary) {
		res = db_exec_retry(read, name, sql, n, params);
		if (res != NULL)
			return res;
		log_warn("db: the read connection failed (%s); reading from the primary",
			db_last_error(read));
	}
	return db_exec_retry(primary, name, sql, n, params);
}

/* See db.h. */
int db_read_row(struct db *read, struct db *primary, struct arena *a, const char *name,
	const char *sql, int n, const char *const *params, int ncols, const char **out)
{
	return db_row_copy(db_read_exec(read, primary, name, sql, n, params), a, ncols, out);
}

/* ---- pipelines -------------------------------------------------------------- */

int db_pipe_begin(struct db *db)
{
	db->npipe = 0;
	db->pipe_failed = 1;
	if (db_connect(db) < 0)
		return -1;
	if (!PQenterPipelineMode(db->conn)) {
		db_set_error(db, "", PQerrorMessage(db->conn));
		log_error("db: cannot enter pipeline mode: %s", db->error);
		return -1;
	}
	db->pipe_failed = 0;
	db->pipe_prepared0 = db->nprepared;
	return 0;
}

/* Queues one item that was sent (sent 1) or not; 0, or -1 (the
 * pipeline is then failed). */
static int pipe_item(struct db *db, const char *prepare, int sent)
{
	if (!sent) {
		db_set_error(db, "", PQerrorMessage(db->conn));
		log_error("db: cannot send in a pipeline: %s", db->error);
		db->pipe_failed = 1;
		return -1;
	}
	db->pipe[db->npipe++].prepare = prepare;
	return 0;
}

void db_pipe_send(struct db *db, const char *name, const char *sql, int n,
	const char *const *params)
{
	long i;

	if (db->pipe_failed)
		return;
	if (db->npipe == 0 && db_tx_guard(db, name == NULL ? sql : NULL) < 0) {
		db->pipe_failed = 1;
		return;
	}
	if (db->npipe + 2 > (int)ARRAY_LEN(db->pipe)) {
		snprintf(db->error, sizeof(db->error), "more than %d statements in a pipeline",
			DB_PIPE_MAX);
		db->sqlstate[0] = '\0';
		log_error("db: %s", db->error);
		db->pipe_failed = 1;
		return;
	}
	if (name == NULL) {
		pipe_item(db, NULL, PQsendQueryParams(db->conn, sql, n, NULL, params, NULL, NULL, 0));
		return;
	}
	i = stmt_find(db, name, sql);
	if (i < 0) {
		db->pipe_failed = 1;
		return;
	}
	if ((size_t)i == db->nprepared) {
		if (pipe_item(db, name, PQsendPrepare(db->conn, name, sql, n, NULL)) < 0)
			return;
		stmt_add(db, name, sql);
	}
	pipe_item(db, NULL, PQsendQueryPrepared(db->conn, name, n, params, NULL, NULL, 0));
}

/* A statement this pipeline was to prepare was not prepared: forget it. */
static void pipe_unprepare(struct db *db, const char *name)
{
	for (size_t i = db->pipe_prepared0; i < db->nprepared; i++)
		if (db->prepared[i].name == name) {
			memmove(&db->prepared[i], &db->prepared[i + 1],
				(db->nprepared - i - 1) * sizeof(*db->prepared));
			db->nprepared--;
			return;
		}
}

int db_pipe_run(struct db *db, PGresult **res, int nres)
{
	int item = 0, stmt = 0, got = 0, nulls = 0, synced = 0, failed = db->pipe_failed;

	for (int k = 0; k < nres; k++)
		res[k] = NULL;
	if (db->conn == NULL || PQpipelineStatus(db->conn) != PQ_PIPELINE_ON)
		return -1;
	db_trip(db);
	if (!PQpipelineSync(db->conn)) {
		db_set_error(db, "08006", PQerrorMessage(db->conn));
		log_error("db: cannot send a pipeline: %s", db->error);
		metrics_db_error();
		db_drop(db);
		db->lost = 1;
		return -1;
	}
	/* Each item's results end with a NULL; the sync's result ends all. */
	while (db->conn != NULL) {
		PGresult *r = PQgetResult(db->conn);
		const char *prep;
		ExecStatusType st;

		if (r == NULL) {
			if (PQstatus(db->conn) != CONNECTION_OK)
				break;
			if (got) {
				item++;
				got = 0;
			} else if (++nulls > 2) {
				break;
			}
			continue;
		}
		st = PQresultStatus(r);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			synced = 1;
			break;
		}
		if (got || item >= db->npipe) {
			PQclear(r); /* a second result of one item */
			continue;
		}
		got = 1;
		prep = db->pipe[item].prepare;
		if (st == PGRES_PIPELINE_ABORTED) {
			/* skipped after an earlier error */
			failed = 1;
			if (prep)
				pipe_unprepare(db, prep);
			else
				stmt++;
			PQclear(r);
			continue;
		}
		if (prep && st != PGRES_COMMAND_OK)
			pipe_unprepare(db, prep);
		r = db_result(db, r, prep ? prep : "pipelined statement");
		if (r == NULL)
			failed = 1;
		else if (prep || stmt >= nres)
			PQclear(r);
		else
			res[stmt] = r;
		if (!prep)
			stmt++;
	}
	if (db->conn == NULL || !synced || !PQexitPipelineMode(db->conn)) {
		if (!failed || db->error[0] == '\0')
			db_set_error(db, "08006", db->conn ? PQerrorMessage(db->conn) : "no connection");
		if (db->conn) {
			log_error("db: a pipeline did not finish: %s", db->error);
			metrics_db_error();
			db_drop(db);
		}
		db->lost = 1;
		failed = 1;
	}
	db->npipe = 0;
	db->pipe_failed = 1;
	db_note_tx(db);
	if (failed) {
		for (int k = 0; k < nres; k++) {
			if (res[k])
				PQclear(res[k]);
			res[k] = NULL;
		}
		return -1;
	}
	return 0;
}

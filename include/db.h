/* db: one PostgreSQL connection per process, opened lazily (after fork)
 * and re-opened after a failure.
 *
 * Every statement goes through db_exec (parameters only, never pasted
 * SQL).  Statements named with db_exec_prepared are prepared once per
 * connection and re-prepared after a reconnect.  A connection timeout and
 * a statement timeout are set on every connection so that a request never
 * waits on the database for long. */
#ifndef RF_DB_H
#define RF_DB_H

#include <libpq-fe.h>

struct arena;

struct db;

/* A handle for conninfo (copied).  Does not connect yet.  Owner: the
 * caller, released with db_close. */
struct db *db_open(const char *conninfo);
void db_close(struct db *db);

/* Connects if needed (or reconnects when the connection is bad).  Returns
 * 0, or -1 with the reason logged. */
int db_connect(struct db *db);

/* Runs sql with n text parameters (NULL entries are SQL NULL).  Returns a
 * result whose status is PGRES_COMMAND_OK or PGRES_TUPLES_OK, which the
 * caller PQclear()s, or NULL on any error (logged; the message is kept for
 * db_last_error).  A broken connection is reset so the next call
 * reconnects. */
PGresult *db_exec(struct db *db, const char *sql, int n, const char *const *params);

/* Like db_exec, but the statement is prepared under name on first use on
 * each connection.  name must be a string literal (it is not copied). */
PGresult *db_exec_prepared(struct db *db, const char *name, const char *sql,
	int n, const char *const *params);

/* db_exec_prepared for a statement whose rows are not needed: 0, or -1
 * on a database error. */
int db_cmd_prepared(struct db *db, const char *name, const char *sql, int n,
	const char *const *params);

/* Runs the prepared statement name (as db_exec_prepared; name NULL: sql
 * unprepared, as db_exec) and, when it returns exactly one row of ncols
 * columns, copies the row into out[0..ncols-1] as strings in arena a
 * (NULL for SQL NULL).  Returns 1 copied, 0 no such row (or not that
 * shape), -1 database error.  For "lock and read one row" statements
 * whose values outlive the PGresult. */
int db_row_prepared(struct db *db, struct arena *a, const char *name, const char *sql,
	int n, const char *const *params, int ncols, const char **out);

/* Failover.  RINGFENCE_DATABASE_URL may list several hosts with
 * target_session_attrs=read-write: each (re)connection finds the current
 * primary.  Every connection gets TCP keepalives (idle 5 s, interval 2 s,
 * 3 probes) and tcp_user_timeout=10000 unless the conninfo sets them, so
 * a dead or cut-off host fails a statement in about 10 s.  A statement
 * answered with SQLSTATE class 08, 57P01/57P02/57P03 (shutdown, crash,
 * starting) or 25006 (read-only: a standby, or a demoted primary), or
 * whose connection broke, drops the connection: the next call
 * reconnects.
 *
 * A statement whose connection broke may or may not have run (its
 * COMMIT may have been lost on the way back).  The plain calls above
 * never run it again.  db_exec_retry and db_row_retry are db_exec_prepared
 * and db_row_prepared (name NULL: unprepared) that run the statement ONCE
 * more, on a new connection, when the first run dropped the connection
 * (db_conn_lost) and no transaction was open on the handle when the call
 * began (inside one they never retry: the second run would be outside
 * it).  Only for statements whose second run changes nothing twice:
 * reads, and functions that re-check the state they change (the
 * readiness ping, rf_status_step's rank/seq guard, rf_sms_step's
 * MessageSid dedupe, the dashboard's reads).  Never for the worker's
 * claim or anything that sends. */
PGresult *db_exec_retry(struct db *db, const char *name, const char *sql, int n,
	const char *const *params);
int db_row_retry(struct db *db, struct arena *a, const char *name, const char *sql,
	int n, const char *const *params, int ncols, const char **out);

/* 1 when the last failed call dropped its connection (the outcome of
 * what it sent is unknown; the next call reconnects), else 0.  For a
 * caller whose whole unit (a BEGIN..COMMIT pipeline) re-checks its state
 * and may therefore be run once more. */
int db_conn_lost(const struct db *db);

/* Reads where a second of staleness is harmless (the dashboard's lists):
 * run with db_exec_retry on read, the handle of
 * RINGFENCE_DATABASE_READ_URL (a standby), or on primary when read is
 * NULL or the same handle, or when the read failed (a standby outage
 * must not break a page).  db_read_row: the same, as db_row_prepared. */
PGresult *db_read_exec(struct db *read, struct db *primary, const char *name,
	const char *sql, int n, const char *const *params);
int db_read_row(struct db *read, struct db *primary, struct arena *a, const char *name,
	const char *sql, int n, const char *const *params, int ncols, const char **out);

/* Transactions; each returns 0 or -1.  db_rollback is safe to call when no
 * transaction is open or the connection is gone.  A failed db_commit
 * (refused, lost with its connection, or an error) has ended its unit
 * and rolled back whatever remained: the next statement is a new unit's. */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
/* The end of a unit of work (a request, a job, a tick): whatever it left
 * open is rolled back, and a transaction lost with its connection (08007)
 * is forgotten, so one unit's failure never refuses the next's
 * statements.  db may be NULL. */
void db_end_unit(struct db *db);
/* A handler's one exit path: rolls back when in_tx (the transaction it
 * began is still open) and frees res (NULL: none). */
void db_finish(struct db *db, int in_tx, PGresult *res);

/* The SQLSTATE of the last failed statement ("" if none or unknown), and a
 * one-line message.  Valid until the next call on db. */
const char *db_last_sqlstate(const struct db *db);
const char *db_last_error(const struct db *db);

/* Runs a whole script (several statements, no parameters) with PQexec. */
int db_exec_script(struct db *db, const char *sql);

/* The raw connection for tools that need it (NULL when not connected). */
PGconn *db_pgconn(struct db *db);

/* Round trips to the server on this handle so far (every connection it
 * had): each statement run, each statement prepared, each pipeline.
 * Also counted per process in /metrics (ringfence_db_round_trips_total). */
unsigned long long db_round_trips(const struct db *db);

/* Pipelines: statements that do not depend on each other's answers, sent
 * together and answered in one round trip (libpq pipeline mode).
 *
 *   db_pipe_begin(db);                      connects; 0 or -1
 *   db_pipe_send(db, "name", sql, n, p);    queued (name NULL: sql not
 *   db_pipe_send(db, NULL, "COMMIT", 0, NULL);  prepared, as BEGIN)
 *   db_pipe_run(db, res, nres);             the round trip
 *
 * Named statements are prepared in the same round trip when this
 * connection has not prepared them yet (db_exec_prepared's rules).
 * db_pipe_run puts each statement's result (in the order sent, prepares
 * not counted) into res[0..nres) for the caller to PQclear, and returns
 * 0 when every statement succeeded, else -1 with every res NULL and the
 * first error kept for db_last_error (a statement after a failed one is
 * not run; a transaction the pipeline began is then left failed, for
 * db_rollback).  At most DB_PIPE_MAX statements. */
#define DB_PIPE_MAX 12
int db_pipe_begin(struct db *db);
void db_pipe_send(struct db *db, const char *name, const char *sql, int n,
	const char *const *params);
int db_pipe_run(struct db *db, PGresult **res, int nres);

#endif

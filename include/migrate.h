/* migrate: applies the NNN_name.sql files of one directory in order, each
 * in its own transaction, recording each in that set's version table.
 * Re-running applies nothing new.  Concurrent runs are serialised by an
 * advisory lock.
 *
 * Two sets use it: the product's sql/ recorded in schema_migrations
 * (schema NULL), and the local Twilio's sql/sim/ recorded in
 * twilio_sim.schema_migrations (bin/ringfence-sim), so that a production
 * database never holds the simulator's schema. */
#ifndef RF_MIGRATE_H
#define RF_MIGRATE_H

#include <stddef.h>
#include <stdio.h>

struct db;

/* The pg_advisory_lock key a migration run holds ("rfmigrat" in ASCII);
 * other advisory locks in ringfence must use different keys. */
#define MIGRATE_LOCK_KEY "8243396467422814580"

/* The phase a migration declares in its header ("-- phase: expand" or
 * "-- phase: contract"; files before 024 are history and count as
 * expand):
 *   expand    safe while the previous release runs: new tables, columns
 *             nullable or with a default, indexes, functions restated
 *             compatibly, CHECKs widened;
 *   contract  removes or narrows what an older release uses; applied only
 *             by `migrate --contract`, once no process runs such a release.
 * A release refuses to start (migrate_guard) when the database holds a
 * contract migration newer than its own newest file. */
enum { MIGRATE_EXPAND = 1, MIGRATE_CONTRACT = 2 };

/* Applies every pending file in sql_dir, recorded in
 * SCHEMA.schema_migrations (the schema created first when missing), or in
 * schema_migrations when schema is NULL.  Returns the number applied, or
 * -1 (reason logged; the failing file's transaction is rolled back).
 * Files are named NNN_name.sql and must not contain BEGIN/COMMIT/ROLLBACK
 * of their own.  Refused without applying anything: two files with one
 * number, and a pending file that sorts before an applied one. */
int migrate_apply(struct db *db, const char *sql_dir, const char *schema);

/* Lints the text of one expand migration (file names it in messages):
 * statements unsafe while the previous release runs (DROP, RENAME,
 * ALTER COLUMN TYPE / SET NOT NULL / DROP DEFAULT, ADD COLUMN NOT NULL
 * without DEFAULT, a constraint or unique index added to an existing
 * table, TRUNCATE, REVOKE), found by a lexer that skips comments,
 * strings, quoted identifiers and dollar-quoted bodies.  Tables the file
 * creates itself are exempt.  Returns the number of problems, each
 * printed to out ("FILE:LINE: what ...") unless out is NULL. */
int migrate_lint_text(const char *file, const char *sql, FILE *out);

/* Lints every migration file of dir: the phase line of each file from
 * 024 on, and the statements of the expand ones.  The number of problems
 * (printed to out), or -1 when dir cannot be read. */
int migrate_lint_dir(const char *dir, FILE *out);

/* The start of every long-running command (fcgi, scheduler, worker,
 * calsync): refuses, with one line on stderr naming prog, when the
 * database holds a contract migration newer than the newest file in
 * RINGFENCE_ROOT/sql (the release was rolled back past it; no sql/: any
 * contract migration).  One query;
 * an unreachable database is logged and let through (the commands wait
 * out outages).  0 start, -1 refuse. */
int migrate_guard(const char *prog);

/* Prints each known migration and whether it is applied ("applied
 * 001_init.sql", "pending 002_x.sql", "applied 000_old.sql (no file)") on
 * stdout; changes nothing in the database.  0 or -1. */
int migrate_status(struct db *db, const char *sql_dir, const char *schema);

/* Counts what migrate_status prints: *pending files not applied (the
 * first one's name in first, "" when none) and *missing applied ones
 * with no file.  Changes nothing.  0 or -1. */
int migrate_pending(struct db *db, const char *sql_dir, const char *schema, int *pending,
	int *missing, char *first, size_t firstlen);

/* The `migrate [--status]` command of a binary: prog names it in
 * messages ("ringfence migrate"), subdir is the set's directory under
 * RINGFENCE_ROOT ("sql"), schema as for migrate_apply.  after, unless
 * NULL, is a statement run in its own transaction after every successful
 * apply (plain or --contract, whether or not a file was pending; not
 * --status, --check or --lint): what the database derives from its
 * server's environment and must follow it (the time zone names).  Its
 * exit status: 0, 1 (failed, reason on stderr), 2 (bad arguments). */
int migrate_command(int argc, char **argv, const char *prog, const char *subdir,
	const char *schema, const char *after);

#endif

/* migrate: applies sql/NNN_name.sql files in order, each in its own
 * transaction, recording each in schema_migrations.  Re-running applies
 * nothing new.  Concurrent runs are serialised by an advisory lock. */
#ifndef RF_MIGRATE_H
#define RF_MIGRATE_H

struct db;

/* The pg_advisory_lock key a migration run holds ("rfmigrat" in ASCII);
 * other advisory locks in ringfence must use different keys. */
#define MIGRATE_LOCK_KEY "8243396467422814580"

/* Applies every pending file in sql_dir.  Returns the number applied, or
 * -1 (reason logged; the failing file's transaction is rolled back).
 * Files are named NNN_name.sql and must not contain BEGIN/COMMIT/ROLLBACK
 * of their own.  Refused without applying anything: two files with one
 * number, and a pending file that sorts before an applied one. */
int migrate_apply(struct db *db, const char *sql_dir);

/* Prints each known migration and whether it is applied ("applied
 * 001_init.sql", "pending 002_x.sql", "applied 000_old.sql (no file)") on
 * stdout; changes nothing in the database.  0 or -1. */
int migrate_status(struct db *db, const char *sql_dir);

#endif

/* migrate: applies sql/NNN_name.sql files in order, each in its own
 * transaction, recording each in schema_migrations.  Re-running applies
 * nothing new.  Concurrent runs are serialised by an advisory lock. */
#ifndef RF_MIGRATE_H
#define RF_MIGRATE_H

struct db;

/* Applies every pending file in sql_dir.  Returns the number applied, or
 * -1 (reason logged; the failing file's transaction is rolled back). */
int migrate_apply(struct db *db, const char *sql_dir);

/* Prints each known migration and whether it is applied; 0 or -1. */
int migrate_status(struct db *db, const char *sql_dir);

#endif

/* migrate: ordered, transactional, recorded schema migrations. */
#include "migrate.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MIGRATE_MAX_FILE (16u << 20)
/* A migration may rebuild an index on a big table, so the per-statement
 * limit of request code does not fit; lock_timeout stays short so that a
 * migration never queues the application behind a lock it waits for. */
#define MIGRATE_STATEMENT_TIMEOUT "SET LOCAL statement_timeout = '30min'"
#define MIGRATE_LOCK_WAIT_MS (30 * 60 * 1000)
#define MIGRATE_LOCK_POLL_MS 200

struct migrate_list {
	char **v;
	size_t n;
};

static void migrate_list_free(struct migrate_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void migrate_list_add(struct migrate_list *l, const char *s)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
}

static int migrate_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int migrate_has(const struct migrate_list *l, const char *s)
{
	return l->n > 0 && bsearch(&s, l->v, l->n, sizeof(*l->v), migrate_cmp) != NULL;
}

/* NNN_name.sql with a name of letters, digits, '_' and '-'. */
static int migrate_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len < 9 || strcmp(name + len - 4, ".sql") != 0)
		return 0;
	for (int i = 0; i < 3; i++)
		if (!isdigit((unsigned char)name[i]))
			return 0;
	if (name[3] != '_')
		return 0;
	for (size_t i = 4; i < len - 4; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
			return 0;
	return 1;
}

/* The version table of a set: schema_migrations (found through the
 * search_path, the product's) when schema is NULL, else
 * SCHEMA.schema_migrations.  A schema name cannot be a query parameter,
 * so only [a-z_][a-z0-9_]* (at most 63 bytes) is accepted.  The name
 * (free it), or NULL (logged). */
static char *migrate_table(const char *schema)
{
	size_t len;

	if (schema == NULL)
		return xstrdup("schema_migrations");
	len = strlen(schema);
	if (len == 0 || len > 63 || !(islower((unsigned char)schema[0]) || schema[0] == '_') ||
		strspn(schema, "abcdefghijklmnopqrstuvwxyz0123456789_") != len) {
		log_error("migrate: '%s' is not a schema name ([a-z_][a-z0-9_]*)", schema);
		return NULL;
	}
	return xasprintf("%s.schema_migrations", schema);
}

/* The migration files of dir, sorted by name.  Two files with one number
 * are refused: they come from branches merged without renumbering, and
 * their order would be an accident.  0 or -1 (logged). */
static int migrate_files(const char *dir, struct migrate_list *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = -1;

	out->v = NULL;
	out->n = 0;
	if (d == NULL) {
		log_error("migrate: cannot read %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.')
			continue;
		if (migrate_name_ok(e->d_name))
			migrate_list_add(out, e->d_name);
		else if (len > 4 && strcmp(e->d_name + len - 4, ".sql") == 0)
			log_warn("migrate: ignoring %s/%s (not named NNN_name.sql)", dir, e->d_name);
	}
	closedir(d);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), migrate_cmp);
	for (size_t i = 1; i < out->n; i++) {
		if (strncmp(out->v[i - 1], out->v[i], 3) == 0) {
			log_error("migrate: %s and %s have the same number", out->v[i - 1], out->v[i]);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc < 0)
		migrate_list_free(out);
	return rc;
}

/* The versions recorded in the version table, sorted; an absent table
 * means none.  0 or -1. */
static int migrate_applied(struct db *db, const char *table, struct migrate_list *out)
{
	const char *params[1] = { table };
	char *sql = NULL;
	PGresult *res;
	int rc = -1;

	out->v = NULL;
	out->n = 0;
	res = db_exec(db, "SELECT to_regclass($1) IS NOT NULL", 1, params);
	if (res == NULL)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		return 0;
	}
	PQclear(res);
	sql = xasprintf("SELECT version FROM %s", table);
	res = db_exec(db, sql, 0, NULL);
	if (res == NULL)
		goto out;
	for (int i = 0; i < PQntuples(res); i++)
		migrate_list_add(out, PQgetvalue(res, i, 0));
	PQclear(res);
	/* bsearch needs C order whatever the database collation is. */
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), migrate_cmp);
	rc = 0;
out:
	free(sql);
	return rc;
}

/* Skips a quoted section starting at s (after its opening quote q);
 * returns the position after the closing quote, or the end. */
static const char *migrate_skip_quoted(const char *s, char q, int backslash)
{
	for (; *s; s++) {
		if (backslash && *s == '\\' && s[1]) {
			s++;
		} else if (*s == q) {
			if (s[1] == q) /* doubled quote */
				s++;
			else
				return s + 1;
		}
	}
	return s;
}

/* The first word of each top-level statement of sql, checked against the
 * words that end or open a transaction: a file that commits by itself
 * would be half-applied when it fails later.  Comments, string literals,
 * quoted identifiers and dollar-quoted bodies are skipped; BEGIN ATOMIC
 * bodies and CASE ... END do not end a statement at their ';'.  Returns
 * NULL, or the offending word (a string literal). */
static const char *migrate_txn_word(const char *sql)
{
	static const char *const words[] = {
		"BEGIN", "COMMIT", "ROLLBACK", "END", "START", "ABORT", "SAVEPOINT", "RELEASE",
		"PREPARE",
	};
	const char *s = sql;
	int at_start = 1, depth = 0;

	while (*s) {
		if (s[0] == '-' && s[1] == '-') {
			s += strcspn(s, "\n");
		} else if (s[0] == '/' && s[1] == '*') {
			int nest = 1;
			for (s += 2; *s && nest; s++) {
				if (s[0] == '/' && s[1] == '*')
					nest++, s++;
				else if (s[0] == '*' && s[1] == '/')
					nest--, s++;
			}
		} else if (*s == '\'') {
			/* E'...' strings honour backslashes. */
			int esc = s > sql && (s[-1] == 'E' || s[-1] == 'e') &&
				(s - 1 == sql || !isalnum((unsigned char)s[-2]));
			s = migrate_skip_quoted(s + 1, '\'', esc);
			at_start = 0;
		} else if (*s == '"') {
			s = migrate_skip_quoted(s + 1, '"', 0);
			at_start = 0;
		} else if (*s == '$' && (s == sql || !(isalnum((unsigned char)s[-1]) || s[-1] == '_'))) {
			/* $tag$ ... $tag$ (a $1 parameter has no closing '$') */
			const char *t = s + 1;
			while (isalnum((unsigned char)*t) || *t == '_')
				t++;
			if (*t == '$' && !isdigit((unsigned char)s[1])) {
				size_t taglen = (size_t)(t - s) + 1;
				const char *end;
				for (end = t + 1; *end && strncmp(end, s, taglen) != 0; end++)
					;
				s = *end ? end + taglen : end;
			} else {
				s = t;
			}
			at_start = 0;
		} else if (*s == ';') {
			if (depth == 0)
				at_start = 1;
			s++;
		} else if (isalpha((unsigned char)*s) || *s == '_') {
			const char *w = s;
			size_t n;
			while (isalnum((unsigned char)*s) || *s == '_' || *s == '$')
				s++;
			n = (size_t)(s - w);
			if (at_start) {
				for (size_t i = 0; i < ARRAY_LEN(words); i++) {
					if (strlen(words[i]) == n && strncasecmp(w, words[i], n) == 0)
						return words[i];
				}
			} else if ((n == 5 && strncasecmp(w, "BEGIN", 5) == 0) ||
					(n == 4 && strncasecmp(w, "CASE", 4) == 0)) {
				depth++;
			} else if (n == 3 && strncasecmp(w, "END", 3) == 0 && depth > 0) {
				depth--;
			}
			at_start = 0;
		} else {
			if (!isspace((unsigned char)*s))
				at_start = 0;
			s++;
		}
	}
	return NULL;
}

/* Applies one file in its own transaction and records it.  0, or -1 with
 * everything of the file rolled back (logged, naming the file). */
static int migrate_one(struct db *db, const char *dir, const char *table, const char *name,
	int backend)
{
	const char *params[1] = { name };
	char *path = xasprintf("%s/%s", dir, name);
	char *sql = NULL, *record = NULL;
	const char *word;
	PGresult *res;
	size_t len;
	int rc = -1;

	sql = util_read_file(path, MIGRATE_MAX_FILE, &len);
	if (sql == NULL) {
		log_error("migrate: cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (strlen(sql) != len) {
		log_error("migrate: %s contains a NUL byte", name);
		goto out;
	}
	if ((word = migrate_txn_word(sql)) != NULL) {
		log_error("migrate: %s failed: it contains %s; each file already runs in its own transaction",
			name, word);
		goto out;
	}
	/* The advisory lock belongs to one backend: if the connection was
	 * replaced since it was taken, this run no longer holds it. */
	if (db_pgconn(db) == NULL || PQbackendPID(db_pgconn(db)) != backend) {
		log_error("migrate: %s not applied: the database connection was lost", name);
		goto out;
	}
	if (db_begin(db) < 0)
		goto fail;
	if ((res = db_exec(db, MIGRATE_STATEMENT_TIMEOUT, 0, NULL)) == NULL)
		goto fail;
	PQclear(res);
	if (db_exec_script(db, sql) < 0)
		goto fail;
	if (db_pgconn(db) == NULL || PQtransactionStatus(db_pgconn(db)) != PQTRANS_INTRANS) {
		log_error("migrate: %s ended the transaction itself: its changes are committed "
			"but not recorded in %s", name, table);
		goto out;
	}
	record = xasprintf("INSERT INTO %s (version) VALUES ($1)", table);
	res = db_exec(db, record, 1, params);
	if (res == NULL)
		goto fail;
	PQclear(res);
	if (db_commit(db) < 0)
		goto fail;
	log_info("migrate: applied %s", name);
	rc = 0;
	goto out;
fail:
	/* An empty file (or only comments) is an "empty query" to libpq,
	 * which has no message of its own. */
	log_error("migrate: %s failed: %s", name,
		db_last_error(db)[0] ? db_last_error(db) : "the file has no statements");
out:
	if (rc < 0)
		db_rollback(db);
	free(record);
	free(sql);
	free(path);
	return rc;
}

/* Takes the migration lock, serialising concurrent runs (deploys on
 * several hosts): a second run waits here, then finds the work done.  It
 * polls with pg_try_advisory_lock because a blocking pg_advisory_lock
 * would be cut off by the connection's short lock_timeout while the
 * other run is still busy.  0, or -1 (logged). */
static int migrate_lock(struct db *db)
{
	const char *key[1] = { MIGRATE_LOCK_KEY };
	long long start = util_now_ms();
	int waiting = 0;

	for (;;) {
		PGresult *res = db_exec(db, "SELECT pg_try_advisory_lock($1::bigint)", 1, key);
		int got;
		if (res == NULL) {
			log_error("migrate: cannot take the migration lock: %s", db_last_error(db));
			return -1;
		}
		got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (got)
			return 0;
		if (util_now_ms() - start > MIGRATE_LOCK_WAIT_MS) {
			log_error("migrate: another migration run has held the lock for %d minutes; giving up",
				MIGRATE_LOCK_WAIT_MS / 60000);
			return -1;
		}
		if (!waiting)
			log_info("migrate: waiting for another migration run to finish");
		waiting = 1;
		usleep(MIGRATE_LOCK_POLL_MS * 1000);
	}
}

int migrate_apply(struct db *db, const char *sql_dir, const char *schema)
{
	const char *lock[1] = { MIGRATE_LOCK_KEY };
	struct migrate_list files = { NULL, 0 }, applied = { NULL, 0 };
	char *table = migrate_table(schema), *sql = NULL;
	const char *params[1] = { table };
	PGresult *res;
	int locked = 0, backend = 0, count = 0, rc = -1;

	if (table == NULL)
		goto out;
	if (migrate_files(sql_dir, &files) < 0)
		goto out;
	if (files.n == 0)
		log_warn("migrate: no NNN_name.sql files in %s", sql_dir);
	if (db_connect(db) < 0)
		goto out;
	if (migrate_lock(db) < 0)
		goto out;
	locked = 1;
	backend = PQbackendPID(db_pgconn(db));
	/* Checked first (under the lock) rather than IF NOT EXISTS, which
	 * sends a NOTICE on every run. */
	if (schema) {
		const char *sp[1] = { schema };
		res = db_exec(db, "SELECT to_regnamespace($1) IS NULL", 1, sp);
		if (res && strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
			PQclear(res);
			sql = xasprintf("CREATE SCHEMA %s", schema);
			res = db_exec(db, sql, 0, NULL);
		}
		if (res == NULL) {
			log_error("migrate: cannot create the schema %s: %s", schema, db_last_error(db));
			goto out;
		}
		PQclear(res);
		free(sql);
		sql = NULL;
	}
	res = db_exec(db, "SELECT to_regclass($1) IS NULL", 1, params);
	if (res && strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		PQclear(res);
		sql = xasprintf("CREATE TABLE %s ("
			"version text PRIMARY KEY, "
			"applied_at timestamptz NOT NULL DEFAULT now())", table);
		res = db_exec(db, sql, 0, NULL);
	}
	if (res == NULL) {
		log_error("migrate: cannot create %s: %s", table, db_last_error(db));
		goto out;
	}
	PQclear(res);
	if (migrate_applied(db, table, &applied) < 0) {
		log_error("migrate: cannot read %s: %s", table, db_last_error(db));
		goto out;
	}
	/* A pending file that sorts before an applied one was written
	 * against an older schema than the database has; applying it now
	 * could do anything, so a person decides. */
	for (size_t i = 0; i < files.n; i++) {
		if (migrate_has(&applied, files.v[i]))
			continue;
		if (applied.n && strcmp(files.v[i], applied.v[applied.n - 1]) < 0) {
			log_error("migrate: %s is pending but the later %s is already applied",
				files.v[i], applied.v[applied.n - 1]);
			goto out;
		}
	}
	for (size_t i = 0; i < files.n; i++) {
		if (migrate_has(&applied, files.v[i]))
			continue;
		if (migrate_one(db, sql_dir, table, files.v[i], backend) < 0)
			goto out;
		count++;
	}
	rc = count;
out:
	if (locked && db_pgconn(db) && PQbackendPID(db_pgconn(db)) == backend) {
		res = db_exec(db, "SELECT pg_advisory_unlock($1::bigint)", 1, lock);
		if (res)
			PQclear(res);
	}
	migrate_list_free(&files);
	migrate_list_free(&applied);
	free(sql);
	free(table);
	return rc;
}

int migrate_status(struct db *db, const char *sql_dir, const char *schema)
{
	struct migrate_list files = { NULL, 0 }, applied = { NULL, 0 };
	char *table = migrate_table(schema);
	int rc = -1;

	if (table == NULL)
		goto out;
	if (migrate_files(sql_dir, &files) < 0)
		goto out;
	if (migrate_applied(db, table, &applied) < 0) {
		log_error("migrate: cannot read %s: %s", table, db_last_error(db));
		goto out;
	}
	for (size_t i = 0; i < files.n; i++)
		printf("%s %s\n", migrate_has(&applied, files.v[i]) ? "applied" : "pending", files.v[i]);
	/* Recorded but gone from the tree: worth a look, not an error. */
	for (size_t i = 0; i < applied.n; i++)
		if (!migrate_has(&files, applied.v[i]))
			printf("applied %s (no file)\n", applied.v[i]);
	fflush(stdout);
	rc = 0;
out:
	migrate_list_free(&files);
	migrate_list_free(&applied);
	free(table);
	return rc;
}

int migrate_pending(struct db *db, const char *sql_dir, const char *schema, int *pending,
	int *missing, char *first, size_t firstlen)
{
	struct migrate_list files = { NULL, 0 }, applied = { NULL, 0 };
	char *table = migrate_table(schema);
	int rc = -1;

	*pending = *missing = 0;
	snprintf(first, firstlen, "%s", "");
	if (table == NULL || migrate_files(sql_dir, &files) < 0 ||
		migrate_applied(db, table, &applied) < 0)
		goto out;
	for (size_t i = 0; i < files.n; i++)
		if (!migrate_has(&applied, files.v[i]) && (*pending)++ == 0)
			snprintf(first, firstlen, "%s", files.v[i]);
	for (size_t i = 0; i < applied.n; i++)
		if (!migrate_has(&files, applied.v[i]))
			(*missing)++;
	rc = 0;
out:
	migrate_list_free(&files);
	migrate_list_free(&applied);
	free(table);
	return rc;
}

int migrate_command(int argc, char **argv, const char *prog, const char *subdir,
	const char *schema)
{
	struct config cfg;
	char err[512];
	int status_only = 0, rc;
	char *dir;
	struct db *db;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: %s [--status]\n\n"
			       "Applies the pending %s/NNN_*.sql files under RINGFENCE_ROOT in order,\n"
			       "each in its own transaction, and records them in %s%sschema_migrations.\n"
			       "Re-running applies nothing new.  --status lists applied and pending files.\n"
			       "Needs RINGFENCE_DATABASE_URL.\n",
			       prog, subdir, schema ? schema : "", schema ? "." : "");
			return 0;
		} else if (strcmp(argv[i], "--status") == 0) {
			status_only = 1;
		} else {
			fprintf(stderr, "%s: unknown argument '%s' (see --help)\n", prog, argv[i]);
			return 2;
		}
	}
	if (config_load(&cfg, CFG_NEED_DB, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	dir = xasprintf("%s/%s", cfg.root, subdir);
	db = db_open(cfg.database_url);
	if (db_connect(db) < 0) {
		fprintf(stderr, "%s: cannot connect to the database: %s\n", prog, db_last_error(db));
		rc = 1;
	} else if (status_only) {
		rc = migrate_status(db, dir, schema) < 0 ? 1 : 0;
	} else {
		int n = migrate_apply(db, dir, schema);
		if (n < 0) {
			fprintf(stderr, "%s: failed, see the message above; nothing of the failing file was applied\n",
				prog);
			rc = 1;
		} else {
			printf("migrate: %d applied\n", n);
			rc = 0;
		}
	}
	db_close(db);
	free(dir);
	return rc;
}

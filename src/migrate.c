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

/* Skips a comment starting at s: "--" to the end of the line, or a block
 * comment (nested ones too).  Returns the position after it, or NULL when
 * no comment starts at s. */
static const char *migrate_skip_comment(const char *s)
{
	if (s[0] == '-' && s[1] == '-')
		return s + strcspn(s, "\n");
	if (s[0] == '/' && s[1] == '*') {
		int nest = 1;
		for (s += 2; *s && nest; s++) {
			if (s[0] == '/' && s[1] == '*')
				nest++, s++;
			else if (s[0] == '*' && s[1] == '/')
				nest--, s++;
		}
		return s;
	}
	return NULL;
}

/* Whether the quote at s (inside sql) opens an E'...' string, which
 * honours backslashes. */
static int migrate_is_estring(const char *sql, const char *s)
{
	return s > sql && (s[-1] == 'E' || s[-1] == 'e') &&
		(s - 1 == sql || !isalnum((unsigned char)s[-2]));
}

/* Skips a dollar-quoted body $tag$ ... $tag$ starting at s (inside sql;
 * a '$' after a word character starts none).  A '$' that ends no tag (a
 * $1 parameter) is passed with the word after it.  Returns the position
 * after it, or NULL when no '$' starts one at s. */
static const char *migrate_skip_dollar(const char *sql, const char *s)
{
	const char *t = s + 1;

	if (*s != '$' || (s > sql && (isalnum((unsigned char)s[-1]) || s[-1] == '_')))
		return NULL;
	while (isalnum((unsigned char)*t) || *t == '_')
		t++;
	if (*t == '$' && !isdigit((unsigned char)s[1])) {
		size_t taglen = (size_t)(t - s) + 1;
		const char *end;
		for (end = t + 1; *end && strncmp(end, s, taglen) != 0; end++)
			;
		return *end ? end + taglen : end;
	}
	return t;
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
		const char *skip;

		if ((skip = migrate_skip_comment(s)) != NULL) {
			s = skip;
		} else if (*s == '\'') {
			s = migrate_skip_quoted(s + 1, '\'', migrate_is_estring(sql, s));
			at_start = 0;
		} else if (*s == '"') {
			s = migrate_skip_quoted(s + 1, '"', 0);
			at_start = 0;
		} else if ((skip = migrate_skip_dollar(sql, s)) != NULL) {
			s = skip;
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

/* ---- phases and the expand lint ------------------------------------- */

/* The first number from which a migration must declare its phase; the
 * files before it are history, applied everywhere, and count as expand. */
#define MIGRATE_PHASE_FROM 24

/* The phase a file declares in its header (the comment lines before its
 * first statement): "-- phase: expand" or "-- phase: contract".  Returns
 * MIGRATE_EXPAND, MIGRATE_CONTRACT, 0 (no phase line; expand for files
 * before MIGRATE_PHASE_FROM) or -1 (a phase line with another word). */
static int migrate_header_phase(const char *sql)
{
	const char *s = sql;

	for (;;) {
		s += strspn(s, " \t\r\n");
		if (s[0] != '-' || s[1] != '-')
			return 0;
		const char *p = s + 2, *end = s + strcspn(s, "\n");
		p += strspn(p, " \t");
		if (strncasecmp(p, "phase:", 6) == 0) {
			size_t n;
			p += 6;
			p += strspn(p, " \t");
			n = strcspn(p, " \t\r\n");
			if (p + n > end)
				return -1;
			if (n == 6 && strncasecmp(p, "expand", 6) == 0)
				return MIGRATE_EXPAND;
			if (n == 8 && strncasecmp(p, "contract", 8) == 0)
				return MIGRATE_CONTRACT;
			return -1;
		}
		s = end;
	}
}

static int migrate_number(const char *name)
{
	return (name[0] - '0') * 100 + (name[1] - '0') * 10 + (name[2] - '0');
}

/* One token of a statement: a word (unquoted identifier or keyword,
 * upper-cased), a quoted identifier (as written), a punctuation mark, or
 * a literal (string, number, dollar-quoted body) whose text is dropped. */
enum lint_kind { LT_WORD, LT_QIDENT, LT_PUNCT, LT_LITERAL };

struct lint_tok {
	enum lint_kind kind;
	int depth;  /* parentheses around it */
	int line;
	char text[64];
};

struct lint_stmt {
	struct lint_tok *t;
	size_t n, cap;
	int line;   /* of its first token */
};

struct lint {
	const char *file;
	FILE *out;
	int problems;
	struct migrate_list created;  /* tables this file creates (lower case) */
};

static int tok_is(const struct lint_stmt *st, size_t i, const char *word)
{
	return i < st->n && st->t[i].kind == LT_WORD && strcmp(st->t[i].text, word) == 0;
}

static int tok_punct(const struct lint_stmt *st, size_t i, char c)
{
	return i < st->n && st->t[i].kind == LT_PUNCT && st->t[i].text[0] == c;
}

static void lint_problem(struct lint *l, int line, const char *what)
{
	l->problems++;
	if (l->out)
		fprintf(l->out, "%s:%d: %s: unsafe in an expand migration (the previous release "
			"still runs); make it a contract migration or change it\n", l->file, line, what);
}

/* The table a name at st->t[i] (schema.name or name) names, in lower
 * case for a word; sets *next past it.  "" when there is none. */
static const char *lint_name(const struct lint_stmt *st, size_t i, size_t *next, char *buf,
	size_t bufsz)
{
	buf[0] = '\0';
	if (i < st->n && (st->t[i].kind == LT_WORD || st->t[i].kind == LT_QIDENT)) {
		if (tok_punct(st, i + 1, '.') && i + 2 < st->n)
			i += 2;
		snprintf(buf, bufsz, "%s", st->t[i].text);
		if (st->t[i].kind == LT_WORD)
			for (char *p = buf; *p; p++)
				*p = (char)tolower((unsigned char)*p);
		i++;
	}
	*next = i;
	return buf;
}

static int lint_created(const struct lint *l, const char *name)
{
	for (size_t i = 0; i < l->created.n; i++)
		if (strcmp(l->created.v[i], name) == 0)
			return 1;
	return 0;
}

/* Whether the actions [from, to) of an ALTER TABLE verb ("ADD" or
 * "DROP") a constraint named name: DROP CONSTRAINT x, ADD CONSTRAINT x
 * ... in one statement restates it (the way a CHECK is widened).  The
 * lint cannot tell a widened CHECK from a narrowed one; the author's
 * phase line and the trial run of --check are what stand behind it. */
static int lint_restates(const struct lint_stmt *st, size_t from, size_t to, const char *verb,
	const char *name)
{
	for (size_t i = from; i + 2 < to; i++) {
		size_t k = i + 2;
		if (st->t[i].depth != 0 || !tok_is(st, i, verb) || !tok_is(st, i + 1, "CONSTRAINT"))
			continue;
		if (tok_is(st, k, "IF") && tok_is(st, k + 1, "EXISTS"))
			k += 2;
		if (k < to && strcasecmp(st->t[k].text, name) == 0)
			return 1;
	}
	return 0;
}

/* One action of ALTER TABLE, tokens [a, b) at depth 0 split by commas. */
static void lint_alter_action(struct lint *l, const struct lint_stmt *st, size_t a, size_t b,
	size_t first, size_t last)
{
	size_t i = a;
	int line = st->t[a].line;

	if (tok_is(st, i, "DROP")) {
		if (tok_is(st, i + 1, "CONSTRAINT")) {
			size_t k = i + 2;
			if (tok_is(st, k, "IF") && tok_is(st, k + 1, "EXISTS"))
				k += 2;
			if (k < b && lint_restates(st, first, last, "ADD", st->t[k].text))
				return;
			lint_problem(l, line, "DROP CONSTRAINT (without adding it back)");
		} else {
			lint_problem(l, line, "DROP COLUMN");
		}
		return;
	}
	if (tok_is(st, i, "RENAME")) {
		lint_problem(l, line, "RENAME");
		return;
	}
	if (tok_is(st, i, "SET") && tok_is(st, i + 1, "SCHEMA")) {
		lint_problem(l, line, "SET SCHEMA");
		return;
	}
	if (tok_is(st, i, "ALTER")) {
		for (size_t k = i + 1; k < b; k++) {
			if (st->t[k].depth != 0)
				continue;
			if (tok_is(st, k, "TYPE")) {
				lint_problem(l, line, "ALTER COLUMN ... TYPE");
				return;
			}
			if (tok_is(st, k, "SET") && tok_is(st, k + 1, "NOT") && tok_is(st, k + 2, "NULL")) {
				lint_problem(l, line, "ALTER COLUMN ... SET NOT NULL");
				return;
			}
			if (tok_is(st, k, "DROP") && !(tok_is(st, k + 1, "NOT") && tok_is(st, k + 2, "NULL"))) {
				lint_problem(l, line, tok_is(st, k + 1, "DEFAULT") ?
					"ALTER COLUMN ... DROP DEFAULT" : "ALTER COLUMN ... DROP");
				return;
			}
		}
		return;
	}
	if (tok_is(st, i, "ADD")) {
		static const char *const cons[] = {
			"CONSTRAINT", "CHECK", "UNIQUE", "PRIMARY", "FOREIGN", "EXCLUDE",
		};
		int notnull = 0, deflt = 0;
		i++;
		for (size_t c = 0; c < ARRAY_LEN(cons); c++) {
			if (tok_is(st, i, cons[c])) {
				size_t k = i;
				if (tok_is(st, k, "CONSTRAINT")) {
					if (k + 1 < b && lint_restates(st, first, last, "DROP", st->t[k + 1].text))
						return;
					k += 2;
				}
				lint_problem(l, line, tok_is(st, k, "CHECK") ?
					"ADD CHECK on an existing table (narrows what it accepts)" :
					"ADD CONSTRAINT on an existing table (narrows what it accepts)");
				return;
			}
		}
		for (size_t k = i; k < b; k++) {
			if (st->t[k].depth != 0)
				continue;
			if (tok_is(st, k, "NOT") && tok_is(st, k + 1, "NULL"))
				notnull = 1;
			if (tok_is(st, k, "DEFAULT") || tok_is(st, k, "GENERATED"))
				deflt = 1;
			if (tok_is(st, k, "PRIMARY") || tok_is(st, k, "UNIQUE")) {
				lint_problem(l, line, "ADD COLUMN ... PRIMARY KEY/UNIQUE on an existing table");
				return;
			}
		}
		if (notnull && !deflt)
			lint_problem(l, line, "ADD COLUMN ... NOT NULL without DEFAULT");
	}
}

/* One statement of an expand migration. */
static void lint_statement(struct lint *l, const struct lint_stmt *st)
{
	char name[64];
	size_t i = 0;

	if (st->n == 0)
		return;
	if (tok_is(st, 0, "TRUNCATE")) {
		lint_problem(l, st->line, "TRUNCATE");
	} else if (tok_is(st, 0, "DROP")) {
		char what[160];
		snprintf(what, sizeof(what), "DROP %s%s%s", st->n > 1 ? st->t[1].text : "",
			tok_is(st, 1, "MATERIALIZED") ? " " : "",
			tok_is(st, 1, "MATERIALIZED") && st->n > 2 ? st->t[2].text : "");
		lint_problem(l, st->line, what);
	} else if (tok_is(st, 0, "REVOKE")) {
		lint_problem(l, st->line, "REVOKE");
	} else if (tok_is(st, 0, "CREATE")) {
		i = 1;
		if (tok_is(st, i, "UNLOGGED") || tok_is(st, i, "TEMP") || tok_is(st, i, "TEMPORARY"))
			i++;
		if (tok_is(st, i, "TABLE")) {
			i++;
			if (tok_is(st, i, "IF") && tok_is(st, i + 1, "NOT") && tok_is(st, i + 2, "EXISTS"))
				i += 3;
			lint_name(st, i, &i, name, sizeof(name));
			if (name[0])
				migrate_list_add(&l->created, name);
		} else if (tok_is(st, i, "UNIQUE") && tok_is(st, i + 1, "INDEX")) {
			for (i += 2; i < st->n && !tok_is(st, i, "ON"); i++)
				;
			i++;
			if (tok_is(st, i, "ONLY"))
				i++;
			lint_name(st, i, &i, name, sizeof(name));
			if (!lint_created(l, name))
				lint_problem(l, st->line, "CREATE UNIQUE INDEX on an existing table (narrows what it accepts)");
		}
	} else if (tok_is(st, 0, "ALTER") && tok_is(st, 1, "TABLE")) {
		size_t a;
		i = 2;
		if (tok_is(st, i, "IF") && tok_is(st, i + 1, "EXISTS"))
			i += 2;
		if (tok_is(st, i, "ONLY"))
			i++;
		lint_name(st, i, &i, name, sizeof(name));
		if (tok_punct(st, i, '*'))
			i++;
		if (lint_created(l, name))
			return;
		a = i;
		for (size_t k = i; k <= st->n; k++) {
			if (k == st->n || (st->t[k].depth == 0 && tok_punct(st, k, ','))) {
				if (k > a)
					lint_alter_action(l, st, a, k, i, st->n);
				a = k + 1;
			}
		}
	} else if (tok_is(st, 0, "ALTER")) {
		/* ALTER TYPE, DOMAIN, VIEW, FUNCTION, SEQUENCE, ... */
		for (size_t k = 1; k < st->n; k++) {
			if (st->t[k].depth != 0)
				continue;
			if (tok_is(st, k, "RENAME")) {
				lint_problem(l, st->line, "RENAME");
				return;
			}
			if (tok_is(st, k, "DROP") && !(tok_is(st, k + 1, "NOT") && tok_is(st, k + 2, "NULL"))) {
				lint_problem(l, st->line, "ALTER ... DROP");
				return;
			}
			if (tok_is(st, k, "SET") && tok_is(st, k + 1, "NOT") && tok_is(st, k + 2, "NULL")) {
				lint_problem(l, st->line, "SET NOT NULL");
				return;
			}
			if (tok_is(st, k, "SET") && tok_is(st, k + 1, "SCHEMA")) {
				lint_problem(l, st->line, "SET SCHEMA");
				return;
			}
			if (tok_is(st, k, "ADD") && (tok_is(st, k + 1, "CONSTRAINT") || tok_is(st, k + 1, "CHECK"))) {
				lint_problem(l, st->line, "ADD CONSTRAINT (narrows what it accepts)");
				return;
			}
			if (tok_is(st, 1, "TYPE") && tok_is(st, k, "ALTER") && tok_is(st, k + 1, "ATTRIBUTE")) {
				lint_problem(l, st->line, "ALTER TYPE ... ALTER ATTRIBUTE");
				return;
			}
		}
	}
}

static void lint_push(struct lint_stmt *st, enum lint_kind kind, int depth, int line,
	const char *text, size_t len)
{
	struct lint_tok *t;

	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 64;
		st->t = xrealloc(st->t, st->cap * sizeof(*st->t));
	}
	if (st->n == 0)
		st->line = line;
	t = &st->t[st->n++];
	t->kind = kind;
	t->depth = depth;
	t->line = line;
	if (len >= sizeof(t->text))
		len = sizeof(t->text) - 1;
	memcpy(t->text, text, len);
	t->text[len] = '\0';
	if (kind == LT_WORD)
		for (char *p = t->text; *p; p++)
			*p = (char)toupper((unsigned char)*p);
}

static int lint_count_lines(const char *from, const char *to)
{
	int n = 0;
	for (; from < to; from++)
		n += *from == '\n';
	return n;
}

/* Lints the text of one expand migration: splits it into statements
 * (comments, strings, quoted identifiers and dollar-quoted bodies
 * skipped; a ';' inside parentheses or BEGIN ... END does not end one)
 * and checks each.  Returns the number of problems (each printed to out
 * when out is not NULL, "FILE:LINE: what ..."). */
int migrate_lint_text(const char *file, const char *sql, FILE *out)
{
	struct lint l = { file, out, 0, { NULL, 0 } };
	struct lint_stmt st = { NULL, 0, 0, 0 };
	const char *s = sql, *mark = sql;
	int line = 1, depth = 0, block = 0;

	while (*s) {
		const char *skip;

		line += lint_count_lines(mark, s);
		mark = s;
		if ((skip = migrate_skip_comment(s)) != NULL) {
			s = skip;
		} else if (*s == '\'') {
			int esc = migrate_is_estring(sql, s);
			if (esc && st.n > 0 && st.t[st.n - 1].kind == LT_WORD &&
				strcmp(st.t[st.n - 1].text, "E") == 0)
				st.n--;
			s = migrate_skip_quoted(s + 1, '\'', esc);
			lint_push(&st, LT_LITERAL, depth, line, "'", 1);
		} else if (*s == '"') {
			const char *start = s + 1;
			s = migrate_skip_quoted(start, '"', 0);
			lint_push(&st, LT_QIDENT, depth, line, start,
				(size_t)(s - start) - (s > start && s[-1] == '"'));
		} else if ((skip = migrate_skip_dollar(sql, s)) != NULL) {
			s = skip;
			lint_push(&st, LT_LITERAL, depth, line, "$", 1);
		} else if (*s == ';' && depth == 0 && block == 0) {
			lint_statement(&l, &st);
			st.n = 0;
			s++;
		} else if (isalpha((unsigned char)*s) || *s == '_') {
			const char *w = s;
			while (isalnum((unsigned char)*s) || *s == '_' || *s == '$')
				s++;
			lint_push(&st, LT_WORD, depth, line, w, (size_t)(s - w));
			/* BEGIN ATOMIC ... END and CASE ... END hold ';' */
			if (st.n >= 2 && strcmp(st.t[st.n - 1].text, "ATOMIC") == 0 &&
				strcmp(st.t[st.n - 2].text, "BEGIN") == 0)
				block++;
			else if (strcmp(st.t[st.n - 1].text, "CASE") == 0)
				block++;
			else if (strcmp(st.t[st.n - 1].text, "END") == 0 && block > 0)
				block--;
		} else if (isdigit((unsigned char)*s)) {
			while (isalnum((unsigned char)*s) || *s == '.')
				s++;
			lint_push(&st, LT_LITERAL, depth, line, "0", 1);
		} else if (*s == '(') {
			lint_push(&st, LT_PUNCT, depth, line, s, 1);
			depth++;
			s++;
		} else if (*s == ')') {
			if (depth > 0)
				depth--;
			lint_push(&st, LT_PUNCT, depth, line, s, 1);
			s++;
		} else if (isspace((unsigned char)*s)) {
			s++;
		} else {
			lint_push(&st, LT_PUNCT, depth, line, s, 1);
			s++;
		}
	}
	lint_statement(&l, &st);
	free(st.t);
	migrate_list_free(&l.created);
	return l.problems;
}

/* Lints one file of dir: its phase line (required from
 * MIGRATE_PHASE_FROM on) and, for an expand one, its statements.  The
 * phase (MIGRATE_EXPAND or MIGRATE_CONTRACT) in *phase; returns the
 * number of problems (printed to out), or -1 when it cannot be read. */
static int migrate_lint_file(const char *dir, const char *name, FILE *out, int *phase)
{
	char *path = xasprintf("%s/%s", dir, name);
	size_t len;
	char *sql = util_read_file(path, MIGRATE_MAX_FILE, &len);
	int n = 0, p;

	*phase = MIGRATE_EXPAND;
	if (sql == NULL) {
		if (out)
			fprintf(out, "%s: cannot read: %s\n", path, strerror(errno));
		free(path);
		return -1;
	}
	p = migrate_header_phase(sql);
	if (p < 0) {
		if (out)
			fprintf(out, "%s:1: the phase line must say \"-- phase: expand\" or \"-- phase: contract\"\n", name);
		n++;
	} else if (p == 0 && migrate_number(name) >= MIGRATE_PHASE_FROM) {
		if (out)
			fprintf(out, "%s:1: no \"-- phase: expand\" or \"-- phase: contract\" line in its header\n", name);
		n++;
	} else if (p == MIGRATE_CONTRACT) {
		*phase = MIGRATE_CONTRACT;
	}
	if (*phase == MIGRATE_EXPAND && migrate_number(name) >= MIGRATE_PHASE_FROM)
		n += migrate_lint_text(name, sql, out);
	free(sql);
	free(path);
	return n;
}

int migrate_lint_dir(const char *dir, FILE *out)
{
	struct migrate_list files;
	int problems = 0;

	if (migrate_files(dir, &files) < 0)
		return -1;
	for (size_t i = 0; i < files.n; i++) {
		int phase, n = migrate_lint_file(dir, files.v[i], out, &phase);
		problems += n < 0 ? 1 : n;
	}
	migrate_list_free(&files);
	return problems;
}

/* Runs one file inside the transaction the caller opened and records
 * it with its phase.  0, or -1 (logged, naming the file; the caller rolls
 * back). */
static int migrate_run_file(struct db *db, const char *dir, const char *table,
	const char *name, int phase)
{
	const char *params[2] = { name, phase == MIGRATE_CONTRACT ? "contract" : "expand" };
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
	if (db_exec_script(db, sql) < 0)
		goto fail;
	if (db_pgconn(db) == NULL || PQtransactionStatus(db_pgconn(db)) != PQTRANS_INTRANS) {
		log_error("migrate: %s ended the transaction itself: its changes are committed "
			"but not recorded in %s", name, table);
		goto out;
	}
	record = xasprintf("INSERT INTO %s (version, phase) VALUES ($1, $2)", table);
	res = db_exec(db, record, 2, params);
	if (res == NULL)
		goto fail;
	PQclear(res);
	rc = 0;
	goto out;
fail:
	/* An empty file (or only comments) is an "empty query" to libpq,
	 * which has no message of its own. */
	log_error("migrate: %s failed: %s", name,
		db_last_error(db)[0] ? db_last_error(db) : "the file has no statements");
out:
	free(record);
	free(sql);
	free(path);
	return rc;
}

/* Applies one file in its own transaction and records it.  0, or -1 with
 * everything of the file rolled back (logged, naming the file). */
static int migrate_one(struct db *db, const char *dir, const char *table, const char *name,
	int phase, int backend)
{
	PGresult *res;

	/* The advisory lock belongs to one backend: if the connection was
	 * replaced since it was taken, this run no longer holds it. */
	if (db_pgconn(db) == NULL || PQbackendPID(db_pgconn(db)) != backend) {
		log_error("migrate: %s not applied: the database connection was lost", name);
		return -1;
	}
	if (db_begin(db) < 0)
		goto fail;
	if ((res = db_exec(db, MIGRATE_STATEMENT_TIMEOUT, 0, NULL)) == NULL)
		goto fail;
	PQclear(res);
	if (migrate_run_file(db, dir, table, name, phase) < 0)
		goto rollback;
	if (db_commit(db) < 0)
		goto fail;
	log_info("migrate: applied %s (%s)", name, phase == MIGRATE_CONTRACT ? "contract" : "expand");
	return 0;
fail:
	log_error("migrate: %s failed: %s", name, db_last_error(db));
rollback:
	db_rollback(db);
	return -1;
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

/* Runs ddl when the check query (with the one parameter param) answers
 * missing: how the version table and its parts are made without the
 * NOTICE that IF NOT EXISTS sends on every run.  0, or -1 (logged as
 * "cannot <what> <name>"). */
static int migrate_ensure(struct db *db, const char *check, const char *param,
	const char *missing, const char *ddl, const char *what, const char *name)
{
	const char *params[1] = { param };
	PGresult *res = db_exec(db, check, 1, params);

	if (res && strcmp(PQgetvalue(res, 0, 0), missing) == 0) {
		PQclear(res);
		res = db_exec(db, ddl, 0, NULL);
	}
	if (res == NULL) {
		log_error("migrate: cannot %s %s: %s", what, name, db_last_error(db));
		return -1;
	}
	PQclear(res);
	return 0;
}

/* Creates the version table when missing, with the phase column (added
 * to a table an older release created: its rows are history, expand).
 * 0 or -1 (logged). */
static int migrate_version_table(struct db *db, const char *schema, const char *table)
{
	char *schema_sql = schema ? xasprintf("CREATE SCHEMA %s", schema) : NULL;
	char *table_sql = xasprintf("CREATE TABLE %s ("
		"version text PRIMARY KEY, "
		"applied_at timestamptz NOT NULL DEFAULT now())", table);
	char *phase_sql = xasprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS phase text NOT NULL "
		"DEFAULT 'expand' CHECK (phase IN ('expand', 'contract'))", table);
	int rc = -1;

	/* Checked first (under the lock) rather than IF NOT EXISTS. */
	if (schema && migrate_ensure(db, "SELECT to_regnamespace($1) IS NULL", schema, "t",
			schema_sql, "create the schema", schema) < 0)
		goto out;
	if (migrate_ensure(db, "SELECT to_regclass($1) IS NULL", table, "t",
			table_sql, "create", table) < 0)
		goto out;
	if (migrate_ensure(db, "SELECT count(*) FROM pg_attribute "
			"WHERE attrelid = to_regclass($1) AND attname = 'phase' AND NOT attisdropped",
			table, "0", phase_sql, "add the phase column to", table) < 0)
		goto out;
	rc = 0;
out:
	free(schema_sql);
	free(table_sql);
	free(phase_sql);
	return rc;
}

enum migrate_mode {
	MIGRATE_MODE_APPLY,     /* the pending expand ones; stops before a contract one */
	MIGRATE_MODE_CONTRACT,  /* every pending one */
	MIGRATE_MODE_CHECK,     /* report, lint, apply all in one transaction, roll back */
};

/* --check: each pending file with its phase and a verdict on stdout, all
 * of them applied in one transaction that is rolled back.  0 when every
 * pending file is expand, passes the lint and applies; else -1. */
static int migrate_check_pending(struct db *db, const char *dir, const char *table,
	const struct migrate_list *pending, const int *phases)
{
	int ok = 1, failed = 0;

	for (size_t i = 0; i < pending->n; i++) {
		const char *name = pending->v[i];
		int lint_phase, problems = migrate_lint_file(dir, name, stdout, &lint_phase);
		const char *ph = phases[i] == MIGRATE_CONTRACT ? "contract" : "expand";

		if (failed) {
			printf("pending %s %s: not tried (an earlier file failed)\n", name, ph);
			continue;
		}
		if (migrate_run_file(db, dir, table, name, phases[i]) < 0) {
			printf("pending %s %s: FAILS to apply: %s\n", name, ph,
				db_last_error(db)[0] ? db_last_error(db) : "see the message above");
			failed = 1;
			ok = 0;
			continue;
		}
		if (problems != 0) {
			printf("pending %s %s: UNSAFE for the running release (%d problem%s above)\n",
				name, ph, problems < 0 ? 1 : problems, problems == 1 ? "" : "s");
			ok = 0;
		} else if (phases[i] == MIGRATE_CONTRACT) {
			printf("pending %s contract: applies, but only with `ringfence migrate --contract` "
				"once every process runs a release that no longer needs what it removes\n", name);
			ok = 0;
		} else {
			printf("pending %s expand: ok (applies; safe while the previous release runs)\n", name);
		}
	}
	return ok ? 0 : -1;
}

static int migrate_run(struct db *db, const char *sql_dir, const char *schema,
	enum migrate_mode mode)
{
	const char *lock[1] = { MIGRATE_LOCK_KEY };
	struct migrate_list files = { NULL, 0 }, applied = { NULL, 0 }, pending = { NULL, 0 };
	char *table = migrate_table(schema);
	int *phases = NULL;
	PGresult *res;
	int locked = 0, backend = 0, count = 0, rc = -1, in_tx = 0;

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
	if (mode == MIGRATE_MODE_CHECK) {
		/* Everything, the version table too, is rolled back. */
		if (db_begin(db) < 0)
			goto out;
		in_tx = 1;
		if ((res = db_exec(db, MIGRATE_STATEMENT_TIMEOUT, 0, NULL)) == NULL)
			goto out;
		PQclear(res);
	}
	if (migrate_version_table(db, schema, table) < 0)
		goto out;
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
		migrate_list_add(&pending, files.v[i]);
	}
	phases = xcalloc(pending.n + 1, sizeof(*phases));
	for (size_t i = 0; i < pending.n; i++) {
		int problems = migrate_lint_file(sql_dir, pending.v[i], NULL, &phases[i]);
		if (problems < 0)
			goto out;
	}
	if (mode == MIGRATE_MODE_CHECK) {
		if (pending.n == 0)
			printf("nothing pending\n");
		rc = migrate_check_pending(db, sql_dir, table, &pending, phases) < 0 ? -1 : (int)pending.n;
		goto out;
	}
	for (size_t i = 0; i < pending.n; i++) {
		/* A database with nothing applied runs no older release, so a
		 * new install applies everything. */
		if (phases[i] == MIGRATE_CONTRACT && mode != MIGRATE_MODE_CONTRACT && applied.n > 0) {
			log_error("migrate: %s is a contract migration: apply it with `migrate --contract` "
				"once every process runs a release that no longer needs what it removes "
				"(%d applied before it)", pending.v[i], count);
			goto out;
		}
		if (migrate_one(db, sql_dir, table, pending.v[i], phases[i], backend) < 0)
			goto out;
		count++;
	}
	rc = count;
out:
	if (in_tx)
		db_rollback(db);
	if (locked && db_pgconn(db) && PQbackendPID(db_pgconn(db)) == backend) {
		res = db_exec(db, "SELECT pg_advisory_unlock($1::bigint)", 1, lock);
		if (res)
			PQclear(res);
	}
	migrate_list_free(&files);
	migrate_list_free(&applied);
	migrate_list_free(&pending);
	free(phases);
	free(table);
	return rc;
}

int migrate_apply(struct db *db, const char *sql_dir, const char *schema)
{
	return migrate_run(db, sql_dir, schema, MIGRATE_MODE_APPLY);
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

/* The newest migration file of dir (its name, to free), NULL when none. */
static char *migrate_newest(const char *dir)
{
	struct migrate_list files;
	char *newest = NULL;

	if (access(dir, F_OK) != 0 || migrate_files(dir, &files) < 0)
		return NULL;
	if (files.n)
		newest = xstrdup(files.v[files.n - 1]);
	migrate_list_free(&files);
	return newest;
}

int migrate_guard(const char *prog)
{
	struct config cfg;
	char err[512];
	char *dir, *newest;
	struct db *db;
	int rc = 0;

	/* Without a database the command reports its own configuration
	 * error. */
	if (config_load(&cfg, CFG_NEED_DB, err, sizeof(err)) < 0)
		return 0;
	dir = xasprintf("%s/sql", cfg.root);
	newest = migrate_newest(dir);
	db = db_open(cfg.database_url);
	if (db_connect(db) < 0) {
		/* The long-running commands wait out a database outage; the
		 * check runs again at their next start. */
		log_warn("%s: cannot check the database's migrations (%s); starting anyway",
			prog, db_last_error(db));
	} else {
		/* One query; to_jsonb reads the phase of a version table an
		 * older release created without that column. */
		/* A root without sql/ knows no migration: any contract one
		 * is newer than what it knows. */
		const char *params[1] = { newest ? newest : "" };
		PGresult *res = db_exec(db,
			"SELECT max(m.version) FROM schema_migrations m "
			"WHERE to_jsonb(m)->>'phase' = 'contract' AND m.version > $1", 1, params);
		if (res == NULL) {
			if (strcmp(db_last_sqlstate(db), "42P01") != 0) /* no table: a new database */
				log_warn("%s: cannot check the database's migrations (%s); starting anyway",
					prog, db_last_error(db));
		} else {
			if (!PQgetisnull(res, 0, 0)) {
				fprintf(stderr, "%s: refusing to start: the database holds the contract migration "
					"%s, newer than this release's newest (%s); run a release that has it\n",
					prog, PQgetvalue(res, 0, 0), newest ? newest : "none");
				rc = -1;
			}
			PQclear(res);
		}
	}
	db_close(db);
	free(newest);
	free(dir);
	return rc;
}

/* The statement run after every successful apply run (n files applied,
 * none too), in its own transaction.  0 or -1 (reason in db_last_error). */
static int migrate_after(struct db *db, const char *sql)
{
	PGresult *res;

	if (db_begin(db) < 0)
		return -1;
	if ((res = db_exec(db, MIGRATE_STATEMENT_TIMEOUT, 0, NULL)) == NULL)
		goto fail;
	PQclear(res);
	if ((res = db_exec(db, sql, 0, NULL)) == NULL)
		goto fail;
	PQclear(res);
	if (db_commit(db) < 0)
		goto fail;
	return 0;
fail:
	db_rollback(db);
	return -1;
}

int migrate_command(int argc, char **argv, const char *prog, const char *subdir,
	const char *schema, const char *after)
{
	enum migrate_mode mode = MIGRATE_MODE_APPLY;
	struct config cfg;
	char err[512];
	int status_only = 0, rc;
	const char *lint_dir = NULL;
	char *dir;
	struct db *db;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: %s [--status | --check | --contract | --lint [DIR]]\n\n"
			       "Applies the pending %s/NNN_*.sql files under RINGFENCE_ROOT in order,\n"
			       "each in its own transaction, and records them with their phase in\n"
			       "%s%sschema_migrations.  Re-running applies nothing new.\n"
			       "Each file from %03d on says in its header \"-- phase: expand\" (safe while\n"
			       "the previous release runs) or \"-- phase: contract\" (removes what an older\n"
			       "release uses).  Without options a contract file is not applied: the run\n"
			       "stops before it (a database with nothing applied yet takes everything).\n"
			       "  --status    lists applied and pending files\n"
			       "  --check     prints each pending file with its phase and a verdict, lints\n"
			       "              the expand ones, applies them all in one transaction and rolls\n"
			       "              it back; exit 0 only when every one is expand, safe and applies\n"
			       "  --contract  applies the pending files, contract ones too\n"
			       "  --lint DIR  checks the files of DIR (default %s/ under RINGFENCE_ROOT) for\n"
			       "              their phase line and the expand ones for unsafe statements\n"
			       "              (no database)\n"
			       "Needs RINGFENCE_DATABASE_URL (not for --lint).\n",
			       prog, subdir, schema ? schema : "", schema ? "." : "", MIGRATE_PHASE_FROM, subdir);
			if (after)
				printf("After every apply run (with or without pending files): %s\n", after);
			return 0;
		} else if (strcmp(argv[i], "--status") == 0) {
			status_only = 1;
		} else if (strcmp(argv[i], "--check") == 0) {
			mode = MIGRATE_MODE_CHECK;
		} else if (strcmp(argv[i], "--contract") == 0) {
			mode = MIGRATE_MODE_CONTRACT;
		} else if (strcmp(argv[i], "--lint") == 0) {
			lint_dir = i + 1 < argc && argv[i + 1][0] != '-' ? argv[++i] : "";
		} else {
			fprintf(stderr, "%s: unknown argument '%s' (see --help)\n", prog, argv[i]);
			return 2;
		}
	}
	if (lint_dir) {
		char *d = lint_dir[0] ? xstrdup(lint_dir) : NULL;
		int n;
		if (d == NULL) {
			const char *root = getenv("RINGFENCE_ROOT");
			d = xasprintf("%s/%s", root && *root ? root : ".", subdir);
		}
		n = migrate_lint_dir(d, stdout);
		if (n < 0)
			fprintf(stderr, "%s: cannot read the migrations in %s\n", prog, d);
		else
			printf("migrate --lint: %s: %d problem%s\n", d, n, n == 1 ? "" : "s");
		free(d);
		return n == 0 ? 0 : 1;
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
	} else if (mode == MIGRATE_MODE_CHECK) {
		int n = migrate_run(db, dir, schema, mode);
		fflush(stdout);
		if (n < 0)
			fprintf(stderr, "%s --check: refused: not every pending migration is expand, safe and "
				"applying (see above); nothing was changed\n", prog);
		else
			printf("migrate --check: %d pending, all expand and applying; nothing was changed\n", n);
		rc = n < 0 ? 1 : 0;
	} else {
		int n = migrate_run(db, dir, schema, mode);
		if (n < 0) {
			fprintf(stderr, "%s: failed, see the message above; nothing of the failing file was applied\n",
				prog);
			rc = 1;
		} else if (after && migrate_after(db, after) < 0) {
			fprintf(stderr, "%s: %d applied, but the step after them failed: %s\n", prog, n,
				db_last_error(db));
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

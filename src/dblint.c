/* dblint: the unprepared-statement lint of `ringfence check`; see
 * include/dblint.h. */
#include "dblint.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

const char *dblint_exempt(const char *base)
{
	static const struct {
		const char *file, *why;
	} exempt[] = {
		{ "db.c", "the database layer itself (BEGIN, COMMIT, db_exec_prepared)" },
		{ "migrate.c", "ringfence migrate: DDL, run once by hand" },
		{ "demo.c", "ringfence demo: seeds once, by hand" },
		{ "doctor.c", "ringfence doctor: run by hand" },
		{ "scheduler.c", "the scheduler's own process: its lock and settings per tick" },
	};

	for (size_t i = 0; i < sizeof(exempt) / sizeof(exempt[0]); i++)
		if (strcmp(base, exempt[i].file) == 0)
			return exempt[i].why;
	return NULL;
}

/* Whether the comment "unprepared:" is on line (text from line_start to
 * its end) or on the line before it. */
static int has_reason(const char *text, const char *line_start)
{
	const char *end = strchr(line_start, '\n');
	const char *prev = line_start;
	size_t n;
	char *both;
	int found;

	if (prev > text) {
		prev--; /* the previous line's newline */
		while (prev > text && prev[-1] != '\n')
			prev--;
	}
	n = end ? (size_t)(end - prev) : strlen(prev);
	both = xstrndup(prev, n);
	found = strstr(both, "unprepared:") != NULL;
	free(both);
	return found;
}

/* Whether the call whose arguments start at args (after the opening
 * parenthesis) has NULL as its third argument (db_row_prepared's name). */
static int third_arg_null(const char *args)
{
	int depth = 0, commas = 0;

	for (const char *s = args; *s; s++) {
		if (*s == '(')
			depth++;
		else if (*s == ')' && depth-- == 0)
			return 0;
		else if (*s == ',' && depth == 0 && ++commas == 2) {
			s++;
			while (isspace((unsigned char)*s))
				s++;
			return strncmp(s, "NULL", 4) == 0 &&
				!(isalnum((unsigned char)s[4]) || s[4] == '_');
		}
	}
	return 0;
}

int dblint_text(const char *file, const char *text, FILE *out)
{
	const char *s = text, *line_start = text;
	int line = 1, problems = 0;

	while (*s) {
		if (s[0] == '/' && s[1] == '*') {
			const char *e = strstr(s + 2, "*/");
			const char *stop = e ? e + 2 : s + strlen(s);
			for (; s < stop; s++)
				if (*s == '\n') {
					line++;
					line_start = s + 1;
				}
			continue;
		}
		if (s[0] == '/' && s[1] == '/') {
			while (*s && *s != '\n')
				s++;
			continue;
		}
		if (*s == '"' || *s == '\'') {
			char q = *s++;
			while (*s && *s != q && *s != '\n') {
				if (*s == '\\' && s[1])
					s++;
				s++;
			}
			if (*s == q)
				s++;
			continue;
		}
		if (*s == '\n') {
			line++;
			line_start = ++s;
			continue;
		}
		if ((s == text || !(isalnum((unsigned char)s[-1]) || s[-1] == '_'))) {
			const char *what = NULL;
			if (strncmp(s, "db_exec(", 8) == 0)
				what = "db_exec( runs its statement unprepared";
			else if (strncmp(s, "db_row_prepared(", 16) == 0 && third_arg_null(s + 16))
				what = "db_row_prepared( with a NULL name runs its statement unprepared";
			if (what && !has_reason(text, line_start)) {
				problems++;
				if (out)
					fprintf(out, "%s:%d: %s: name it (db_exec_prepared, prepared once"
						" per connection), or say why its text varies in a comment"
						" \"unprepared: ...\"\n", file, line, what);
			}
		}
		s++;
	}
	return problems;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dblint_dir(const char *dir, FILE *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int problems = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 3 || strcmp(e->d_name + len - 2, ".c") != 0 || dblint_exempt(e->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]);
		size_t len;
		char *text = util_read_file(path, (size_t)4 << 20, &len);

		if (text == NULL) {
			if (out)
				fprintf(out, "%s: cannot read it\n", path);
			problems = -1;
		} else if (problems >= 0) {
			problems += dblint_text(path, text, out);
		}
		free(text);
		free(path);
		free(names[i]);
	}
	free(names);
	return problems;
}

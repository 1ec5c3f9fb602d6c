/* Unit tests: dblint (the unprepared-statement lint of `ringfence check`):
 * what it finds, what it lets through, and the repository's own src/,
 * where the pool and the workers must run prepared statements only. */
#include "unit.h"

#include "dblint.h"

/* dblint_text's count for text, its messages into *msgs (caller frees). */
static int lint(const char *text, char **msgs)
{
	size_t len = 0;
	FILE *m = open_memstream(msgs, &len);
	int n;

	assert_non_null(m);
	n = dblint_text("x.c", text, m);
	fclose(m);
	return n;
}

static void test_finds_unprepared(void **state)
{
	static const struct {
		const char *text;
		int problems;
		const char *line; /* the first message's "x.c:LINE:", or NULL */
	} cases[] = {
		{ "res = db_exec(db, \"SELECT 1\", 0, NULL);\n", 1, "x.c:1:" },
		{ "\n\nres = db_exec(db,\n  sql, 0, NULL);\n", 1, "x.c:3:" },
		{ "rc = db_row_prepared(db, a, NULL, \"SELECT 1\", 0, NULL, 1, v);\n", 1, "x.c:1:" },
		{ "rc = db_row_prepared(db, a,\n\tNULL, \"SELECT 1\", 0, NULL, 1, v);\n", 1, "x.c:1:" },
		{ "rc = db_row_prepared(f(db, 1), a, NULL, sql, 0, NULL, 1, v);\n", 1, "x.c:1:" },
		/* Prepared, named: fine. */
		{ "res = db_exec_prepared(db, \"n\", \"SELECT 1\", 0, NULL);\n", 0, NULL },
		{ "rc = db_row_prepared(db, a, \"n\", \"SELECT 1\", 0, NULL, 1, v);\n", 0, NULL },
		{ "rc = db_row_prepared(db, a, name, sql, 0, NULL, 1, v);\n", 0, NULL },
		{ "rc = db_row_prepared(db, a, NULLABLE, sql, 0, NULL, 1, v);\n", 0, NULL },
		/* Comments, strings and other names are not calls. */
		{ "/* db_exec( runs it */ x = 1;\n", 0, NULL },
		{ "// db_exec(db, sql)\n", 0, NULL },
		{ "puts(\"db_exec(\");\n", 0, NULL },
		{ "my_db_exec(db, sql);\n", 0, NULL },
		/* The reason, on the line or the line before. */
		{ "/* unprepared: the ORDER BY is the user's column */\nres = db_exec(db, sql, 0, NULL);\n",
			0, NULL },
		{ "res = db_exec(db, sql, 0, NULL); /* unprepared: built per filter */\n", 0, NULL },
		{ "/* unprepared: too far */\n\nres = db_exec(db, sql, 0, NULL);\n", 1, "x.c:3:" },
		{ "res = db_exec(db, a, 0, NULL);\nres = db_exec(db, b, 0, NULL);\n", 2, "x.c:1:" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *msgs = NULL;
		int n = lint(cases[i].text, &msgs);

		if (n != cases[i].problems)
			fail_msg("case %zu: %d problems, want %d: %s", i, n, cases[i].problems, msgs);
		if (cases[i].line && strncmp(msgs, cases[i].line, strlen(cases[i].line)) != 0)
			fail_msg("case %zu: %s, want %s", i, msgs, cases[i].line);
		if (n)
			assert_non_null(strstr(msgs, "unprepared"));
		free(msgs);
	}
}

static void test_exempt(void **state)
{
	assert_non_null(dblint_exempt("db.c"));
	assert_non_null(dblint_exempt("migrate.c"));
	assert_null(dblint_exempt("sms.c"));
	assert_null(dblint_exempt("status.c"));
	assert_null(dblint_exempt("worker.c"));
	assert_null(dblint_exempt("api.c"));
}

/* The pool's and the workers' sources (run from the repository, as
 * test/run does): a new unprepared statement there fails this test and
 * `ringfence check`. */
static void test_repository_clean(void **state)
{
	char *msgs = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&msgs, &len);
	int n;

	assert_non_null(m);
	n = dblint_dir("src", m);
	fclose(m);
	if (n != 0)
		fail_msg("dblint src: %d\n%s", n, msgs);
	free(msgs);
	assert_int_equal(dblint_dir("no/such/dir", NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_unprepared),
		cmocka_unit_test(test_exempt),
		cmocka_unit_test(test_repository_clean),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

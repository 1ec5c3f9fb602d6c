/* Unit tests: csv_parse, the RFC 4180 parser of uploaded files. */
#include "unit.h"

#include "arena.h"
#include "buf.h"
#include "csv.h"

static struct arena *arena;

static int setup(void **state)
{
	(void)state;
	arena = arena_new(0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	arena_free(arena);
	return 0;
}

/* Parses s (length n, 0: strlen) and checks the result against want: the
 * records as "line:f1|f2|...;" one after another. */
static void expect(const char *s, size_t n, const char *want)
{
	struct csv_table t;
	size_t line = 99;
	struct buf got;
	enum csv_err e;

	buf_init_arena(&got, arena);
	e = csv_parse(arena, s, n ? n : strlen(s), NULL, &t, &line);
	if (e != CSV_OK)
		fail_msg("'%s': error %d on line %zu", s, (int)e, line);
	assert_int_equal(line, 0);
	for (size_t i = 0; i < t.nrecords; i++) {
		buf_printf(&got, "%zu:", t.records[i].line);
		for (size_t j = 0; j < t.records[i].nfields; j++)
			buf_printf(&got, "%s%s", j ? "|" : "", t.records[i].fields[j]);
		buf_puts(&got, ";");
	}
	if (strcmp(buf_str(&got), want) != 0)
		fail_msg("'%s': got '%s', want '%s'", s, buf_str(&got), want);
}

static void expect_error(const char *s, size_t n, const struct csv_limits *lim,
	enum csv_err want, size_t want_line)
{
	struct csv_table t;
	size_t line = 0;
	enum csv_err e = csv_parse(arena, s, n ? n : strlen(s), lim, &t, &line);
	if (e != want || line != want_line)
		fail_msg("'%s': got error %d line %zu, want %d line %zu", s, (int)e, line,
			(int)want, want_line);
	assert_null(t.records);
	assert_int_equal(t.nrecords, 0);
	assert_string_not_equal(csv_strerror(e), "");
}

static void test_records(void **state)
{
	(void)state;
	expect("", 0, "");
	expect("a,b,c", 0, "1:a|b|c;");
	expect("a,b\n1,2\n", 0, "1:a|b;2:1|2;");
	expect("a,b\r\n1,2\r\n", 0, "1:a|b;2:1|2;");
	expect("a,b\r1,2\r", 0, "1:a|b;2:1|2;");
	expect("\xef\xbb\xbf" "name,phone\n", 0, "1:name|phone;");
	expect("a,,c\n,\n", 0, "1:a||c;2:|;");
	expect("a,", 0, "1:a|;");
	expect("\n\r\n\na\n\n\nb\n", 0, "4:a;7:b;");
	/* quoting: commas, line breaks and "" inside; lines count on */
	expect("\"a,b\",\"say \"\"hi\"\"\"\n", 0, "1:a,b|say \"hi\";");
	expect("\"two\nlines\",x\r\nnext\n", 0, "1:two\nlines|x;3:next;");
	expect("\"cr\r\nlf\",x\nnext", 0, "1:cr\r\nlf|x;3:next;");
	expect("\"\",\"\"\n", 0, "1:|;");
	/* values verbatim: SQL, markup, emoji, spaces */
	expect("Robert'); DROP TABLE clients;--, <b>x</b> ,\xf0\x9f\x98\x80\n", 0,
		"1:Robert'); DROP TABLE clients;--| <b>x</b> |\xf0\x9f\x98\x80;");
}

static void test_errors(void **state)
{
	struct csv_limits small = { 16, 4, 3, 2 };
	(void)state;
	expect_error("a,b\nc\"d,e\n", 0, NULL, CSV_STRAY_QUOTE, 2);
	expect_error("a\n\"b\"c,d\n", 0, NULL, CSV_AFTER_QUOTE, 2);
	expect_error("a\nb\n\"c,\nd\n", 0, NULL, CSV_UNCLOSED_QUOTE, 3);
	expect_error("a\nb\xff\n", 0, NULL, CSV_BAD_UTF8, 2);
	expect_error("a\r\nb\r\n\xc3\x28", 0, NULL, CSV_BAD_UTF8, 3);
	expect_error("a\nb\0c\n", 6, NULL, CSV_BAD_UTF8, 2);
	expect_error("\xed\xa0\x80", 0, NULL, CSV_BAD_UTF8, 1); /* a surrogate */
	expect_error("ab\nabcde\n", 0, &small, CSV_FIELD_TOO_LONG, 2);
	expect_error("ab\n\"abc\"\"d\"\n", 0, &small, CSV_FIELD_TOO_LONG, 2);
	expect_error("a,b,c,d\n", 0, &small, CSV_TOO_MANY_FIELDS, 1);
	expect_error("a\nb\nc\n", 0, &small, CSV_TOO_MANY_RECORDS, 3);
	expect_error("a\n\"abc\n\nabc\n\nabc\n\nabc\"\n", 0, &(struct csv_limits){ 16, 64, 3, 8 },
		CSV_RECORD_TOO_LONG, 2);
	expect_error("a\n\"x\ny\nz\" \n", 0, NULL, CSV_AFTER_QUOTE, 2);
	expect_error("a\nab,ab,ab\n", 0, &(struct csv_limits){ 6, 4, 8, 8 },
		CSV_RECORD_TOO_LONG, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests of db.c against the test stack's PostgreSQL: prepared
 * statements are prepared once per connection, any number of them, and
 * two different statements under one name are refused (running either
 * would run the wrong one for somebody). */
#include "unit.h"
#include "db.h"

#include <stdio.h>
#include <string.h>

#define MANY 200

/* More statements than any fixed table would hold, each run twice (the
 * second time from the record of what is prepared). */
static void test_many_statements(void **state)
{
	static char names[MANY][32], sqls[MANY][48];
	struct db *db = unit_db();

	(void)state;
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < MANY; i++) {
			PGresult *r;
			if (round == 0) {
				snprintf(names[i], sizeof(names[i]), "unit_db_%d", i);
				snprintf(sqls[i], sizeof(sqls[i]), "SELECT %d + $1::int", i);
			}
			r = db_exec_prepared(db, names[i], sqls[i], 1,
				(const char *const[]){ "1" });
			assert_non_null(r);
			assert_int_equal(atoi(PQgetvalue(r, 0, 0)), i + 1);
			PQclear(r);
		}
	db_close(db);
}

/* The same name for another statement: NULL with the reason, every time;
 * the first statement keeps working. */
static void test_name_collision_refused(void **state)
{
	struct db *db = unit_db();
	PGresult *r;

	(void)state;
	r = db_exec_prepared(db, "unit_db_same", "SELECT 1", 0, NULL);
	assert_non_null(r);
	PQclear(r);
	for (int i = 0; i < 2; i++) {
		assert_null(db_exec_prepared(db, "unit_db_same", "SELECT 2", 0, NULL));
		assert_non_null(strstr(db_last_error(db), "unit_db_same"));
	}
	r = db_exec_prepared(db, "unit_db_same", "SELECT 1", 0, NULL);
	assert_non_null(r);
	assert_string_equal(PQgetvalue(r, 0, 0), "1");
	PQclear(r);
	db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_statements),
		cmocka_unit_test(test_name_collision_refused),
	};
	return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}

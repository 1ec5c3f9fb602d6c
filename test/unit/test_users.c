/* Unit tests: password hashing, random passwords, and users_upsert against
 * the test stack's PostgreSQL (RINGFENCE_DATABASE_URL). */
#include "unit.h"

#include "db.h"
#include "users.h"

#include <ctype.h>

static void test_hash_and_verify(void **state)
{
	char h1[USERS_HASH_MAX], h2[USERS_HASH_MAX];
	(void)state;
	assert_int_equal(users_hash_password("correct horse battery", h1), 0);
	assert_int_equal(users_hash_password("correct horse battery", h2), 0);
	assert_true(strncmp(h1, "$y$", 3) == 0);
	/* A fresh salt each time. */
	assert_string_not_equal(h1, h2);
	assert_int_equal(users_verify_password("correct horse battery", h1), 1);
	assert_int_equal(users_verify_password("correct horse battery", h2), 1);
	assert_int_equal(users_verify_password("correct horse batterY", h1), 0);
	assert_int_equal(users_verify_password("correct horse battery ", h1), 0);
	assert_int_equal(users_verify_password("", h1), 0);
	assert_int_equal(users_verify_password(NULL, h1), 0);
}

static void test_bad_hashes(void **state)
{
	static const char *const bad[] = {
		"", "*", "*0", "$1$abc$def", "plaintext", "$y$", "$y$j9T$", "$2b$10$abcdefghijklmnopqrstuv",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(users_verify_password("whatever12345", bad[i]), 0);
	assert_int_equal(users_verify_password("whatever12345", NULL), 0);
}

static void test_hash_limits(void **state)
{
	char h[USERS_HASH_MAX];
	char longpw[USERS_MAX_PASSWORD + 2];
	(void)state;
	assert_int_equal(users_hash_password("", h), -1);
	assert_int_equal(users_hash_password(NULL, h), -1);
	memset(longpw, 'a', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';
	assert_int_equal(users_hash_password(longpw, h), -1);
	longpw[USERS_MAX_PASSWORD] = '\0';
	assert_int_equal(users_hash_password(longpw, h), 0);
}

static void test_random_password(void **state)
{
	char a[17], b[17];
	(void)state;
	assert_int_equal(users_random_password(a, 16), 0);
	assert_int_equal(users_random_password(b, 16), 0);
	assert_int_equal(strlen(a), 16);
	assert_string_not_equal(a, b);
	for (int i = 0; i < 16; i++) {
		assert_true(isalnum((unsigned char)a[i]));
		/* No look-alikes. */
		assert_null(strchr("0O1lI", a[i]));
	}
}

static void test_upsert(void **state)
{
	struct db *db = unit_db();
	char err[256], email[64], upper[64], rnd[9];
	PGresult *res;
	long long bid, id, id2;
	(void)state;

	bid = unit_business(db, "users unit test");
	assert_int_equal(users_random_password(rnd, 8), 0);
	snprintf(email, sizeof(email), "user-%s@example.test", rnd);
	snprintf(upper, sizeof(upper), "USER-%s@Example.TEST", rnd);

	/* Too short: refused before the database is touched. */
	assert_int_equal(users_upsert(db, bid, email, "short", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "at least"));
	/* No such business. */
	assert_int_equal(users_upsert(db, 999999999, email, "long enough pw", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no business"));
	/* Malformed e-mail. */
	assert_int_equal(users_upsert(db, bid, "not-an-address", "long enough pw", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "e-mail"));

	id = users_upsert(db, bid, email, "first password", err, sizeof(err));
	assert_true(id > 0);
	/* The same address in other case is the same login: the password changes. */
	id2 = users_upsert(db, bid, upper, "second password", err, sizeof(err));
	assert_int_equal(id, id2);
	{
		char idbuf[24];
		const char *p[] = { idbuf };
		snprintf(idbuf, sizeof(idbuf), "%lld", id);
		res = db_exec(db, "SELECT password_hash FROM users WHERE id = $1::bigint", 1, p);
		assert_non_null(res);
		assert_int_equal(users_verify_password("second password", PQgetvalue(res, 0, 0)), 1);
		assert_int_equal(users_verify_password("first password", PQgetvalue(res, 0, 0)), 0);
		PQclear(res);
	}
	db_close(db);
}

/* The login's business id and whether password is its password. */
static void login_state(struct db *db, long long id, long long *business, const char *password,
	int *matches)
{
	char idbuf[24];
	const char *p[] = { idbuf };
	PGresult *res;
	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	res = db_exec(db, "SELECT business_id, password_hash FROM users WHERE id = $1::bigint", 1, p);
	assert_non_null(res);
	assert_int_equal(PQntuples(res), 1);
	*business = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*matches = users_verify_password(password, PQgetvalue(res, 0, 1));
	PQclear(res);
}

/* `user add` never moves a login to another business nor resets its
 * password; `user passwd` does the reset and keeps the business. */
static void test_add_refuses_existing(void **state)
{
	struct db *db = unit_db();
	char err[256], email[64], upper[64], rnd[9];
	long long a, b, id, business, got;
	int matches;
	(void)state;

	a = unit_business(db, "users unit test A");
	b = unit_business(db, "users unit test B");
	assert_int_equal(users_random_password(rnd, 8), 0);
	snprintf(email, sizeof(email), "login-%s@example.test", rnd);
	snprintf(upper, sizeof(upper), "LOGIN-%s@Example.TEST", rnd);

	id = users_add(db, a, email, "first password", err, sizeof(err));
	assert_true(id > 0);
	/* Another business, in any case: refused, the login untouched. */
	err[0] = '\0';
	assert_int_equal(users_add(db, b, upper, "stolen password", err, sizeof(err)), -1);
	if (strstr(err, "already the login of business") == NULL)
		fail_msg("reason: '%s'", err);
	login_state(db, id, &business, "first password", &matches);
	assert_int_equal(business, a);
	assert_int_equal(matches, 1);
	/* The same business: refused too, pointing at user passwd. */
	err[0] = '\0';
	assert_int_equal(users_add(db, a, email, "second password", err, sizeof(err)), -1);
	if (strstr(err, "user passwd") == NULL)
		fail_msg("reason: '%s'", err);
	login_state(db, id, &business, "first password", &matches);
	assert_int_equal(matches, 1);
	/* No such business is said as such, even for a taken address. */
	assert_int_equal(users_add(db, 999999999, email, "long enough pw", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no business"));
	/* The upsert (the demo's refresh) does not move it either. */
	assert_int_equal(users_upsert(db, b, email, "stolen password", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already the login of business"));
	login_state(db, id, &business, "first password", &matches);
	assert_int_equal(business, a);
	assert_int_equal(matches, 1);
	/* passwd: a new password, the same business. */
	got = -1;
	assert_int_equal(users_set_password(db, upper, "second password", &got, err, sizeof(err)), id);
	assert_int_equal(got, a);
	login_state(db, id, &business, "second password", &matches);
	assert_int_equal(business, a);
	assert_int_equal(matches, 1);
	assert_int_equal(users_set_password(db, email, "short", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "at least"));
	snprintf(email, sizeof(email), "nobody-%s@example.test", rnd);
	assert_int_equal(users_set_password(db, email, "long enough pw", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no login"));
	db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_and_verify),
		cmocka_unit_test(test_bad_hashes),
		cmocka_unit_test(test_hash_limits),
		cmocka_unit_test(test_random_password),
		cmocka_unit_test(test_upsert),
		cmocka_unit_test(test_add_refuses_existing),
	};
	return cmocka_run_group_tests_name("users", tests, NULL, NULL);
}

/* Unit tests: API key format, hashing and parsing, then create, verify
 * and revoke against the test stack's PostgreSQL (RINGFENCE_DATABASE_URL). */
#include "unit.h"

#include "apikey.h"
#include "arena.h"
#include "db.h"

#include <ctype.h>

static void test_generate_format(void **state)
{
	char a[APIKEY_LEN + 1], b[APIKEY_LEN + 1], pa[APIKEY_PREFIX_LEN + 1];
	(void)state;
	assert_int_equal(apikey_generate(a), 0);
	assert_int_equal(apikey_generate(b), 0);
	assert_int_equal(strlen(a), APIKEY_LEN);
	assert_string_not_equal(a, b);
	assert_memory_equal(a, "rf_", 3);
	for (int i = 3; i < 15; i++)
		assert_true(isdigit((unsigned char)a[i]) || (a[i] >= 'a' && a[i] <= 'f'));
	assert_int_equal(a[15], '_');
	for (int i = 16; i < APIKEY_LEN; i++)
		assert_true(isalnum((unsigned char)a[i]));
	assert_int_equal(apikey_parse(a, pa), 1);
	assert_memory_equal(pa, a + 3, 12);
	assert_int_equal(pa[12], '\0');
}

/* The secret's letters are spread over the whole alphabet. */
static void test_generate_spread(void **state)
{
	int seen[256] = { 0 }, distinct = 0;
	char k[APIKEY_LEN + 1];
	(void)state;
	for (int n = 0; n < 200; n++) {
		assert_int_equal(apikey_generate(k), 0);
		for (int i = 16; i < APIKEY_LEN; i++)
			seen[(unsigned char)k[i]]++;
	}
	for (int c = 0; c < 256; c++)
		distinct += seen[c] > 0;
	assert_int_equal(distinct, 62);
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"rf_",
		"rf_0123456789ab",
		"rf_0123456789ab_",
		"rf_0123456789ab_short",
		/* 31 secret characters: one too few */
		"rf_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		/* upper-case prefix */
		"rf_0123456789AB_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		/* prefix too short */
		"rf_0123456789a_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		/* wrong scheme */
		"sk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		/* punctuation and spaces in the secret */
		"rf_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-A",
		"rf_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA A",
		"rf_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
	};
	char p[APIKEY_PREFIX_LEN + 1];
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(apikey_parse(bad[i], p), 0);
	assert_int_equal(apikey_parse(NULL, p), 0);
	/* 32 characters is the least. */
	assert_int_equal(apikey_parse("rf_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", p), 1);
	assert_string_equal(p, "0123456789ab");
}

static void test_hash(void **state)
{
	char h[65];
	(void)state;
	/* SHA-256("abc"), FIPS 180-2's example. */
	assert_int_equal(apikey_hash("abc", h), 0);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(apikey_hash("", h), 0);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(apikey_hash(NULL, h), -1);
}

static void test_create_verify_revoke(void **state)
{
	struct db *db = unit_db();
	char key[APIKEY_LEN + 1], key2[APIKEY_LEN + 1], prefix[APIKEY_PREFIX_LEN + 1];
	char err[256], h[65], wrong[APIKEY_LEN + 1];
	long long bid = unit_business(db, "apikey unit test"), id, id2, kid = 0;
	PGresult *res;
	(void)state;

	id = apikey_create(db, bid, "front desk", key, err, sizeof(err));
	assert_true(id > 0);
	id2 = apikey_create(db, bid, NULL, key2, err, sizeof(err));
	assert_true(id2 > 0 && id2 != id);
	assert_string_not_equal(key, key2);

	/* Only the prefix and the hash are stored. */
	assert_int_equal(apikey_parse(key, prefix), 1);
	assert_int_equal(apikey_hash(key, h), 0);
	{
		const char *p[] = { prefix };
		res = db_exec(db, "SELECT key_sha256, label, business_id FROM api_keys WHERE prefix = $1",
			1, p);
		assert_non_null(res);
		assert_int_equal(PQntuples(res), 1);
		assert_string_equal(PQgetvalue(res, 0, 0), h);
		assert_string_equal(PQgetvalue(res, 0, 1), "front desk");
		assert_int_equal(strtoll(PQgetvalue(res, 0, 2), NULL, 10), bid);
		PQclear(res);
		res = db_exec(db, "SELECT count(*) FROM api_keys WHERE key_sha256 LIKE '%' || $1 || '%' "
			"OR label LIKE '%' || $1 || '%'", 1, (const char *const[]){ key + 16 });
		assert_non_null(res);
		assert_string_equal(PQgetvalue(res, 0, 0), "0");
		PQclear(res);
	}

	assert_int_equal(apikey_verify(db, key, &kid), bid);
	assert_int_equal(kid, id);
	assert_int_equal(apikey_verify(db, key2, NULL), bid);

	/* One letter of the secret changed: refused. */
	memcpy(wrong, key, sizeof(wrong));
	wrong[APIKEY_LEN - 1] = wrong[APIKEY_LEN - 1] == 'A' ? 'B' : 'A';
	assert_int_equal(apikey_verify(db, wrong, NULL), 0);
	/* Another key's secret under this prefix: refused. */
	memcpy(wrong + 16, key2 + 16, APIKEY_SECRET_LEN);
	assert_int_equal(apikey_verify(db, wrong, NULL), 0);
	/* Unknown prefix, malformed, empty, NULL. */
	memcpy(wrong, key, sizeof(wrong));
	memcpy(wrong + 3, "000000000000", 12);
	assert_int_equal(apikey_verify(db, wrong, NULL), 0);
	assert_int_equal(apikey_verify(db, "Bearer", NULL), 0);
	assert_int_equal(apikey_verify(db, "", NULL), 0);
	assert_int_equal(apikey_verify(db, NULL, NULL), 0);

	/* Revoked: refused; the other key still works. */
	assert_int_equal(apikey_revoke_prefix(db, prefix), 1);
	assert_int_equal(apikey_revoke_prefix(db, prefix), 0);
	assert_int_equal(apikey_verify(db, key, NULL), 0);
	assert_int_equal(apikey_verify(db, key2, NULL), bid);
	db_close(db);
}

static void test_create_refusals(void **state)
{
	struct db *db = unit_db();
	char key[APIKEY_LEN + 1], err[256], label[APIKEY_LABEL_MAX + 2];
	long long bid = unit_business(db, "apikey unit test");
	(void)state;

	assert_int_equal(apikey_create(db, 999999999999LL, "x", key, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no business"));
	memset(label, 'x', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	assert_int_equal(apikey_create(db, bid, label, key, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "label"));
	label[APIKEY_LABEL_MAX] = '\0';
	assert_true(apikey_create(db, bid, label, key, err, sizeof(err)) > 0);
	assert_int_equal(apikey_create(db, bid, "tab\tbad", key, err, sizeof(err)), -1);
	assert_int_equal(apikey_create(db, bid, "bad \xff utf-8", key, err, sizeof(err)), -1);
	/* 200 characters of two bytes each are fine. */
	{
		char wide[2 * APIKEY_LABEL_MAX + 1];
		for (int i = 0; i < APIKEY_LABEL_MAX; i++)
			memcpy(wide + 2 * i, "\xc3\xa9", 2);
		wide[2 * APIKEY_LABEL_MAX] = '\0';
		assert_true(apikey_create(db, bid, wide, key, err, sizeof(err)) > 0);
	}
	db_close(db);
}

/* The dashboard's view: list, revoke by id, scoped to the business. */
static void test_list_revoke_by_id(void **state)
{
	struct db *db = unit_db();
	struct arena *a = arena_new(4096);
	char key[APIKEY_LEN + 1], key2[APIKEY_LEN + 1], err[256];
	long long bid = unit_business(db, "apikey unit test"), id, id2;
	long long other = unit_business(db, "apikey unit test");
	struct apikey_info *v;
	size_t n;
	(void)state;

	assert_int_equal(apikey_list(db, a, bid, &v, &n), 0);
	assert_int_equal(n, 0);
	id = apikey_create(db, bid, "booking system", key, err, sizeof(err));
	id2 = apikey_create(db, bid, "", key2, err, sizeof(err));
	assert_true(id > 0 && id2 > id);
	assert_int_equal(apikey_list(db, a, bid, &v, &n), 0);
	assert_int_equal(n, 2);
	/* Newest first; only the prefix, never the secret. */
	assert_int_equal(v[0].id, id2);
	assert_int_equal(v[1].id, id);
	assert_string_equal(v[1].label, "booking system");
	assert_memory_equal(v[1].prefix, key + 3, APIKEY_PREFIX_LEN);
	assert_true(v[1].created_at > 0);
	assert_int_equal(v[1].revoked_at, 0);
	assert_int_equal(v[1].last_used_at, 0);
	/* A use is noted. */
	assert_int_equal(apikey_verify(db, key, NULL), bid);
	assert_int_equal(apikey_list(db, a, bid, &v, &n), 0);
	assert_true(v[1].last_used_at > 0);

	/* Another business cannot revoke it, nor see it. */
	assert_int_equal(apikey_revoke(db, other, id), -1);
	assert_int_equal(apikey_revoke(db, bid, 999999999999LL), -1);
	assert_int_equal(apikey_list(db, a, other, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(apikey_verify(db, key, NULL), bid);
	/* Its own business can, twice, and the key stops working. */
	assert_int_equal(apikey_revoke(db, bid, id), 0);
	assert_int_equal(apikey_revoke(db, bid, id), 0);
	assert_int_equal(apikey_verify(db, key, NULL), 0);
	assert_int_equal(apikey_verify(db, key2, NULL), bid);
	assert_int_equal(apikey_list(db, a, bid, &v, &n), 0);
	assert_true(v[1].revoked_at > 0);
	assert_int_equal(v[0].revoked_at, 0);
	arena_free(a);
	db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_format),
		cmocka_unit_test(test_generate_spread),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_create_verify_revoke),
		cmocka_unit_test(test_create_refusals),
		cmocka_unit_test(test_list_revoke_by_id),
	};
	return cmocka_run_group_tests_name("apikey", tests, NULL, NULL);
}

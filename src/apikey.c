/* apikey: per-business API keys, stored hashed. */
#include "apikey.h"
#include "arena.h"
#include "cli.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "util.h"
#include "valid.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APIKEY_SECRET_MIN 32
#define APIKEY_SECRET_MAX 128

static const char apikey_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

int apikey_generate(char out[APIKEY_LEN + 1])
{
	unsigned char prefix[APIKEY_PREFIX_LEN / 2], rnd[64];
	size_t n = 0;
	int rc = -1;

	if (util_random(prefix, sizeof(prefix)) < 0)
		goto out;
	memcpy(out, "rf_", 3);
	util_hex(prefix, sizeof(prefix), out + 3);
	out[3 + APIKEY_PREFIX_LEN] = '_';
	/* Rejection sampling: 248 = 4 x 62, so every letter is equally
	 * likely. */
	while (n < APIKEY_SECRET_LEN) {
		if (util_random(rnd, sizeof(rnd)) < 0)
			goto out;
		for (size_t i = 0; i < sizeof(rnd) && n < APIKEY_SECRET_LEN; i++)
			if (rnd[i] < 248)
				out[3 + APIKEY_PREFIX_LEN + 1 + n++] = apikey_alphabet[rnd[i] % 62];
	}
	out[APIKEY_LEN] = '\0';
	rc = 0;
out:
	explicit_bzero(rnd, sizeof(rnd));
	return rc;
}

int apikey_parse(const char *key, char prefix[APIKEY_PREFIX_LEN + 1])
{
	size_t len, i;

	if (key == NULL || strncmp(key, "rf_", 3) != 0)
		return 0;
	len = strlen(key);
	if (len < 3 + APIKEY_PREFIX_LEN + 1 + APIKEY_SECRET_MIN ||
		len > 3 + APIKEY_PREFIX_LEN + 1 + APIKEY_SECRET_MAX)
		return 0;
	for (i = 3; i < 3 + APIKEY_PREFIX_LEN; i++)
		if (!((key[i] >= '0' && key[i] <= '9') || (key[i] >= 'a' && key[i] <= 'f')))
			return 0;
	if (key[i++] != '_')
		return 0;
	for (; i < len; i++)
		if (strchr(apikey_alphabet, key[i]) == NULL)
			return 0;
	memcpy(prefix, key + 3, APIKEY_PREFIX_LEN);
	prefix[APIKEY_PREFIX_LEN] = '\0';
	return 1;
}

int apikey_hash(const char *key, char out[65])
{
	if (key == NULL)
		return -1;
	return util_sha256_hex(key, strlen(key), out);
}

/* A label is short, printable UTF-8 (it shows on the dashboard). */
static int apikey_label_ok(const char *label)
{
	size_t len = strlen(label), chars = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)label[i] & 0xC0) != 0x80)
			chars++;
	return chars <= APIKEY_LABEL_MAX && valid_utf8(label, len) &&
		valid_no_controls(label, len, NULL);
}

long long apikey_create(struct db *db, long long business_id, const char *label,
	char key_out[APIKEY_LEN + 1], char *err, size_t errlen)
{
	char bid[24], prefix[APIKEY_PREFIX_LEN + 1], hash[65];
	PGresult *res = NULL;
	long long id = -1;

	if (label == NULL)
		label = "";
	if (!apikey_label_ok(label)) {
		snprintf(err, errlen, "the label must be at most %d printable characters",
			APIKEY_LABEL_MAX);
		goto out;
	}
	snprintf(bid, sizeof(bid), "%lld", business_id);
	{
		const char *p[] = { bid };
		res = db_exec_prepared(db, "apikey_business", "SELECT 1 FROM businesses WHERE id = $1::bigint",
			1, p);
		if (res == NULL) {
			snprintf(err, errlen, "database error: %s", db_last_error(db));
			goto out;
		}
		if (PQntuples(res) != 1) {
			snprintf(err, errlen, "no business %lld", business_id);
			goto out;
		}
		PQclear(res);
		res = NULL;
	}
	/* A prefix collision (48 random bits) is unlikely; try again once or
	 * twice rather than fail. */
	for (int tries = 0; tries < 3 && id < 0; tries++) {
		if (apikey_generate(key_out) < 0 || !apikey_parse(key_out, prefix) ||
			apikey_hash(key_out, hash) < 0) {
			snprintf(err, errlen, "no random bytes or no SHA-256 for a key");
			goto out;
		}
		const char *p[] = { bid, prefix, hash, label };
		res = db_exec_prepared(db, "apikey_insert",
			"INSERT INTO api_keys (business_id, prefix, key_sha256, label) "
			"VALUES ($1::bigint, $2, $3, $4) RETURNING id",
			4, p);
		if (res == NULL) {
			if (strcmp(db_last_sqlstate(db), "23505") == 0)
				continue;
			snprintf(err, errlen, "database error: %s", db_last_error(db));
			goto out;
		}
		id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		res = NULL;
	}
	if (id < 0)
		snprintf(err, errlen, "could not find a free key prefix");
out:
	if (res)
		PQclear(res);
	if (id < 0 && key_out)
		explicit_bzero(key_out, APIKEY_LEN + 1);
	explicit_bzero(hash, sizeof(hash));
	return id;
}

long long apikey_verify(struct db *db, const char *key, long long *key_id)
{
	/* Compared against when the prefix is unknown, so that an unknown
	 * prefix costs the same work as a wrong secret. */
	static const char dummy[65] =
		"0000000000000000000000000000000000000000000000000000000000000000";
	char prefix[APIKEY_PREFIX_LEN + 1], hash[65];
	PGresult *res = NULL;
	long long business = 0;
	int same;

	if (!apikey_parse(key, prefix) || apikey_hash(key, hash) < 0)
		goto out;
	{
		const char *p[] = { prefix };
		res = db_exec_prepared(db, "apikey_verify",
			"SELECT id, business_id, key_sha256, revoked_at IS NOT NULL, "
			"  last_used_at IS NULL OR last_used_at < now() - interval '1 minute' "
			"FROM api_keys WHERE prefix = $1",
			1, p);
	}
	if (res == NULL) {
		business = -1;
		goto out;
	}
	if (PQntuples(res) != 1) {
		(void)util_ct_equal(hash, 64, dummy, 64);
		goto out;
	}
	same = util_ct_equal(hash, 64, PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2));
	if (!same || strcmp(PQgetvalue(res, 0, 3), "f") != 0)
		goto out;
	business = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	if (key_id)
		*key_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (strcmp(PQgetvalue(res, 0, 4), "t") == 0) {
		/* "Last used" is a hint for the dashboard, not a rule: a
		 * failure to note it refuses nothing. */
		const char *p[] = { PQgetvalue(res, 0, 0) };
		PGresult *u = db_exec_prepared(db, "apikey_used",
			"UPDATE api_keys SET last_used_at = now() WHERE id = $1::bigint", 1, p);
		if (u)
			PQclear(u);
		else
			log_error("apikey: noting the use of key %s: %s", prefix, db_last_error(db));
	}
out:
	if (res)
		PQclear(res);
	return business;
}

/* Unix seconds of a column written as extract(epoch ...)::bigint, 0 for
 * NULL. */
static long long apikey_secs(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int apikey_list(struct db *db, struct arena *a, long long business_id,
	struct apikey_info **out, size_t *n)
{
	char bid[24];
	const char *p[] = { bid };
	PGresult *res;
	struct apikey_info *v;
	size_t rows;

	*out = NULL;
	*n = 0;
	snprintf(bid, sizeof(bid), "%lld", business_id);
	res = db_exec_prepared(db, "apikey_list",
		"SELECT id, label, prefix, extract(epoch FROM created_at)::bigint, "
		"  extract(epoch FROM last_used_at)::bigint, extract(epoch FROM revoked_at)::bigint "
		"FROM api_keys WHERE business_id = $1::bigint ORDER BY created_at DESC, id DESC",
		1, p);
	if (res == NULL)
		return -1;
	rows = (size_t)PQntuples(res);
	v = arena_calloc(a, (rows ? rows : 1) * sizeof(*v));
	for (size_t i = 0; i < rows; i++) {
		int r = (int)i;
		v[i].id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
		v[i].label = arena_strdup(a, PQgetvalue(res, r, 1));
		snprintf(v[i].prefix, sizeof(v[i].prefix), "%s", PQgetvalue(res, r, 2));
		v[i].created_at = apikey_secs(res, r, 3);
		v[i].last_used_at = apikey_secs(res, r, 4);
		v[i].revoked_at = apikey_secs(res, r, 5);
	}
	PQclear(res);
	*out = v;
	*n = rows;
	return 0;
}

int apikey_revoke(struct db *db, long long business_id, long long id)
{
	char bid[24], kid[24];
	const char *p[] = { kid, bid };
	PGresult *res;
	int rc;

	snprintf(bid, sizeof(bid), "%lld", business_id);
	snprintf(kid, sizeof(kid), "%lld", id);
	res = db_exec_prepared(db, "apikey_revoke",
		"UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) "
		"WHERE id = $1::bigint AND business_id = $2::bigint",
		2, p);
	if (res == NULL)
		return -2;
	rc = atoi(PQcmdTuples(res)) == 1 ? 0 : -1;
	PQclear(res);
	return rc;
}

int apikey_revoke_prefix(struct db *db, const char *prefix)
{
	const char *p[] = { prefix };
	PGresult *res = db_exec_prepared(db, "apikey_revoke_prefix",
		"UPDATE api_keys SET revoked_at = now() WHERE prefix = $1 AND revoked_at IS NULL",
		1, p);
	int rc = -1;
	if (res == NULL)
		goto out;
	rc = atoi(PQcmdTuples(res)) == 1;
	PQclear(res);
out:
	return rc;
}

static void apikey_usage(FILE *out)
{
	fprintf(out,
		"usage: ringfence apikey create --business ID [--label TEXT]\n"
		"       ringfence apikey revoke PREFIX\n"
		"\n"
		"create makes a key for the JSON API (/api/v1/) of business ID and prints\n"
		"it once: only its prefix and SHA-256 are stored, so it cannot be shown\n"
		"again.  Clients send it as 'Authorization: Bearer KEY'.  revoke refuses\n"
		"the key whose prefix (the 12 hex digits after 'rf_') is given from now on.\n"
		"Needs RINGFENCE_DATABASE_URL.\n");
}

int apikey_main(int argc, char **argv)
{
	struct config cfg;
	char err[512], key[APIKEY_LEN + 1] = "", prefix[APIKEY_PREFIX_LEN + 1] = "";
	const char *label = NULL, *target = NULL;
	long long business = -1, id;
	int create, rc = 1;
	struct db *db = NULL;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		apikey_usage(stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "create") != 0 && strcmp(argv[1], "revoke") != 0)) {
		fprintf(stderr, "ringfence apikey: expected 'create' or 'revoke' (see --help)\n");
		return 2;
	}
	create = strcmp(argv[1], "create") == 0;
	for (int i = 2; i < argc; i++) {
		if (create && strcmp(argv[i], "--business") == 0) {
			long v;
			if (cli_int_arg("ringfence apikey", "--business (a business id)",
				    i + 1 < argc ? argv[++i] : NULL, 1, LONG_MAX, &v) < 0)
				return 2;
			business = v;
		} else if (create && strcmp(argv[i], "--label") == 0 && i + 1 < argc) {
			label = argv[++i];
		} else if (!create && target == NULL && argv[i][0] != '-') {
			target = argv[i];
		} else {
			fprintf(stderr, "ringfence apikey: unknown argument '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (create && business < 1) {
		fprintf(stderr, "ringfence apikey create: --business is required\n");
		return 2;
	}
	if (!create) {
		/* The whole key is accepted too, so that its holder can revoke it. */
		if (target && strlen(target) == APIKEY_PREFIX_LEN &&
			strspn(target, "0123456789abcdef") == APIKEY_PREFIX_LEN) {
			memcpy(prefix, target, sizeof(prefix));
		} else if (!apikey_parse(target, prefix)) {
			fprintf(stderr, "ringfence apikey revoke: give the key's prefix (the 12 hex digits after 'rf_')\n");
			return 2;
		}
	}
	if (config_load(&cfg, CFG_NEED_DB, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence apikey: %s\n", err);
		goto out;
	}
	db = db_open(cfg.database_url);
	if (db_connect(db) < 0) {
		fprintf(stderr, "ringfence apikey: cannot connect to the database: %s\n", db_last_error(db));
		goto out;
	}
	if (create) {
		id = apikey_create(db, business, label, key, err, sizeof(err));
		if (id < 0) {
			fprintf(stderr, "ringfence apikey: %s\n", err);
			goto out;
		}
		fprintf(stderr, "api key %lld for business %lld (shown once; only its hash is kept)\n",
			id, business);
		printf("%s\n", key);
		rc = 0;
	} else {
		int r = apikey_revoke_prefix(db, prefix);
		if (r < 0)
			fprintf(stderr, "ringfence apikey: database error: %s\n", db_last_error(db));
		else if (r == 0)
			fprintf(stderr, "ringfence apikey: no unrevoked key with prefix %s\n", prefix);
		else {
			printf("revoked: rf_%s_...\n", prefix);
			rc = 0;
		}
	}
out:
	db_close(db);
	explicit_bzero(key, sizeof(key));
	return rc;
}

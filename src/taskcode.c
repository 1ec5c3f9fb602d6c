/* taskcode: making, hashing and checking task codes; see taskcode.h. */
#include "taskcode.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "rds.h"
#include "util.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

/* The derived key's label: no other HMAC ringfence makes under the same
 * secret can collide with a code's. */
#define TASKCODE_KEY_LABEL "ringfence task code v1"
/* One lock for making and checking codes, so that two checks never both
 * take the last slot of a throttle and two new codes never share a hash. */
#define TASKCODE_LOCK "SELECT pg_advisory_xact_lock(hashtextextended('ringfence task codes', 0))"
/* The largest multiple of 10^6 that fits in 32 bits: draws at or above it
 * are thrown away, so every code is equally likely. */
#define TASKCODE_DRAW_LIMIT 4294000000u
/* Draws of a code until one is not live; with a million codes and a
 * handful live, the second draw almost never happens. */
#define TASKCODE_MAX_DRAWS 32

int taskcode_purpose_valid(const char *purpose)
{
	return purpose != NULL && strcmp(purpose, "greeting") == 0;
}

/* hex HMAC-SHA256 of code under the key derived from secret; 0 or -1. */
static int code_hash(const char *secret, const char *code, char hex[65])
{
	unsigned char mac[32];
	int rc = -1;

	if (secret == NULL || secret[0] == '\0')
		goto out;
	if (util_hmac_labelled(secret, TASKCODE_KEY_LABEL, code, strlen(code), mac) < 0)
		goto out;
	util_hex(mac, sizeof(mac), hex);
	rc = 0;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

/* Six uniformly random digits into code; 0 or -1 (no randomness). */
static int code_draw(char code[TASKCODE_DIGITS + 1])
{
	for (;;) {
		unsigned char b[4];
		uint32_t v;
		if (RAND_bytes(b, sizeof(b)) != 1)
			return -1;
		v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		if (v >= TASKCODE_DRAW_LIMIT)
			continue;
		snprintf(code, TASKCODE_DIGITS + 1, "%06u", (unsigned)(v % 1000000u));
		return 0;
	}
}

/* Whether s is exactly TASKCODE_DIGITS decimal digits. */
static int code_well_formed(const char *s)
{
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n == TASKCODE_DIGITS && s[n] == '\0';
}

/* Runs sql and reports 0, or -1 with the database's reason in err. */
static int run(struct db *db, const char *name, const char *sql, int n, const char *const *p,
	PGresult **out, char *err, size_t errlen)
{
	PGresult *res = db_exec_prepared(db, name, sql, n, p);

	if (res == NULL) {
		snprintf(err, errlen, "database error: %s", db_last_error(db));
		return -1;
	}
	if (out)
		*out = res;
	else
		PQclear(res);
	return 0;
}

int taskcode_create(struct db *db, const char *secret, long long business_id,
	const char *purpose, long long user_id, long long now_s, char code[TASKCODE_DIGITS + 1],
	long long *expires_s, char *err, size_t errlen)
{
	char now[32], exp[32], biz[24], user[24], hash[65];
	PGresult *res = NULL;
	int in_tx = 0, rc = -1, found = 0;

	code[0] = '\0';
	if (!taskcode_purpose_valid(purpose)) {
		snprintf(err, errlen, "unknown purpose '%s' (the only one is 'greeting')",
			purpose ? purpose : "");
		return -1;
	}
	clock_sql(now_s, now);
	clock_sql(now_s + TASKCODE_TTL_S, exp);
	snprintf(biz, sizeof(biz), "%lld", business_id);
	snprintf(user, sizeof(user), "%lld", user_id);
	if (db_begin(db) < 0) {
		snprintf(err, errlen, "database unavailable: %s", db_last_error(db));
		return -1;
	}
	in_tx = 1;
	if (run(db, "taskcode_lock", TASKCODE_LOCK, 0, NULL, NULL, err, errlen) < 0)
		goto out;
	{
		const char *p[1] = { biz };
		if (run(db, "taskcode_business", "SELECT 1 FROM businesses WHERE id = $1::bigint", 1, p,
			    &res, err, errlen) < 0)
			goto out;
		found = PQntuples(res) == 1;
		PQclear(res);
		res = NULL;
		if (!found) {
			snprintf(err, errlen, "no business with id %s", biz);
			goto out;
		}
	}
	for (int i = 0;; i++) {
		const char *p[2] = { hash, now };
		if (i == TASKCODE_MAX_DRAWS) {
			snprintf(err, errlen, "no free code after %d draws", TASKCODE_MAX_DRAWS);
			goto out;
		}
		if (code_draw(code) < 0 || code_hash(secret, code, hash) < 0) {
			snprintf(err, errlen, "no randomness or no server secret for the code");
			goto out;
		}
		if (run(db, "taskcode_live", "SELECT 1 FROM task_codes WHERE code_hash = $1"
			    " AND expires_at > $2::timestamptz", 2, p, &res, err, errlen) < 0)
			goto out;
		found = PQntuples(res) > 0;
		PQclear(res);
		res = NULL;
		if (!found)
			break;
	}
	{
		const char *p[3] = { biz, purpose, now };
		if (run(db, "taskcode_revoke", "UPDATE task_codes SET revoked_at = $3::timestamptz"
			    " WHERE business_id = $1::bigint AND purpose = $2 AND used_at IS NULL"
			    " AND revoked_at IS NULL AND expires_at > $3::timestamptz", 3, p, NULL, err,
			    errlen) < 0)
			goto out;
	}
	{
		const char *p[6] = { biz, purpose, hash, user_id > 0 ? user : NULL, now, exp };
		if (run(db, "taskcode_insert", "INSERT INTO task_codes"
			    " (business_id, purpose, code_hash, created_by, created_at, expires_at)"
			    " VALUES ($1::bigint, $2, $3, $4::bigint, $5::timestamptz, $6::timestamptz)", 6, p,
			    NULL, err, errlen) < 0)
			goto out;
	}
	if (db_commit(db) < 0) {
		snprintf(err, errlen, "commit failed: %s", db_last_error(db));
		in_tx = 0;
		goto out;
	}
	in_tx = 0;
	*expires_s = now_s + TASKCODE_TTL_S;
	rc = 0;
out:
	if (in_tx)
		db_rollback(db);
	if (rc < 0)
		explicit_bzero(code, TASKCODE_DIGITS + 1);
	explicit_bzero(hash, sizeof(hash));
	return rc;
}

/* ---- the throttles ------------------------------------------------------------ */

/* The Redis counter of one throttle for the hour of now_s.  The key names
 * only signed values (From, To) and the hour. */
static void rkey(char *out, size_t n, const char *scope, const char *who, long long now_s)
{
	snprintf(out, n, "rf:tc:fail:%s:%s:%lld", scope, who, now_s / TASKCODE_WINDOW_S);
}

/* Whether Redis already counts a full throttle this hour: 1 full, 0 not
 * (or Redis cannot say: PostgreSQL decides). */
static int redis_full(struct rds *r, const struct taskcode_try *t)
{
	char k1[128], k2[128], k3[64];
	const char *argv[4] = { "MGET", k1, k2, k3 };
	const long limit[3] = { TASKCODE_LIMIT_CALLER, TASKCODE_LIMIT_CALLED, TASKCODE_LIMIT_ALL };
	redisReply *rep;
	int full = 0;

	if (r == NULL)
		return 0;
	rkey(k1, sizeof(k1), "caller", t->caller, t->now_s);
	rkey(k2, sizeof(k2), "called", t->called, t->now_s);
	rkey(k3, sizeof(k3), "all", "-", t->now_s);
	rep = rds_command(r, 4, argv, NULL);
	if (rep == NULL)
		return 0;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3)
		for (size_t i = 0; i < 3; i++)
			if (rep->element[i]->type == REDIS_REPLY_STRING &&
				strtol(rep->element[i]->str, NULL, 10) >= limit[i])
				full = 1;
	freeReplyObject(rep);
	return full;
}

/* Counts one wrong code in Redis; a failure only weakens the pre-check. */
static void redis_count(struct rds *r, const struct taskcode_try *t)
{
	char k1[128], k2[128], k3[64];
	const char *ttl = "7200";
	const char *c1[] = { "INCR", k1 }, *c2[] = { "EXPIRE", k1, ttl };
	const char *c3[] = { "INCR", k2 }, *c4[] = { "EXPIRE", k2, ttl };
	const char *c5[] = { "INCR", k3 }, *c6[] = { "EXPIRE", k3, ttl };
	const char **argvs[6] = { c1, c2, c3, c4, c5, c6 };
	const int argcs[6] = { 2, 3, 2, 3, 2, 3 };

	if (r == NULL)
		return;
	rkey(k1, sizeof(k1), "caller", t->caller, t->now_s);
	rkey(k2, sizeof(k2), "called", t->called, t->now_s);
	rkey(k3, sizeof(k3), "all", "-", t->now_s);
	if (rds_pipeline(r, 6, argcs, argvs, NULL) < 0)
		log_warn("taskcode: cannot count a wrong code in Redis: %s", rds_last_error(r));
}

/* Whether PostgreSQL counts a full throttle over the last window: 1 full,
 * 0 not, -1 database error. */
static int pg_full(struct db *db, const struct taskcode_try *t, const char *now)
{
	char window[16];
	const char *p[4] = { t->caller, t->called, now, window };
	PGresult *res;
	int full;

	snprintf(window, sizeof(window), "%d", TASKCODE_WINDOW_S);
	res = db_exec_prepared(db, "taskcode_window",
		"SELECT count(*) FILTER (WHERE caller = $1), count(*) FILTER (WHERE called = $2),"
		" count(*) FROM task_code_attempts WHERE outcome = 'wrong'"
		" AND attempted_at > $3::timestamptz - make_interval(secs => $4::int)"
		" AND attempted_at <= $3::timestamptz", 4, p);

	if (res == NULL)
		return -1;
	full = atol(PQgetvalue(res, 0, 0)) >= TASKCODE_LIMIT_CALLER ||
		atol(PQgetvalue(res, 0, 1)) >= TASKCODE_LIMIT_CALLED ||
		atol(PQgetvalue(res, 0, 2)) >= TASKCODE_LIMIT_ALL;
	PQclear(res);
	return full;
}

/* Records an attempt; 0 or -1. */
static int record_attempt(struct db *db, const struct taskcode_try *t, const char *outcome,
	const char *code_id, const char *now)
{
	const char *p[6] = { t->call_id, t->caller, t->called, outcome, code_id, now };

	return db_cmd_prepared(db, "taskcode_attempt",
		"INSERT INTO task_code_attempts (call_id, caller, called, outcome, task_code_id,"
		" attempted_at) VALUES ($1::bigint, $2, $3, $4, $5::bigint, $6::timestamptz)", 6, p);
}

/* The call's wrong codes so far, or -1. */
static long call_wrong(struct db *db, const char *call_id)
{
	const char *p[1] = { call_id };
	PGresult *res = db_exec_prepared(db, "taskcode_call_wrong",
		"SELECT count(*) FROM task_code_attempts WHERE call_id = $1::bigint"
		" AND outcome = 'wrong'", 1, p);
	long n;

	if (res == NULL)
		return -1;
	n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

enum taskcode_verdict taskcode_verify(struct db *db, struct rds *r, const char *secret,
	const struct taskcode_try *t, char business_id[24], char code_id[24])
{
	char now[32], hash[65] = "";
	PGresult *res = NULL;
	enum taskcode_verdict v = TASKCODE_ERROR;
	int full;
	long wrong;

	business_id[0] = code_id[0] = '\0';
	clock_sql(t->now_s, now);
	if (db_cmd_prepared(db, "taskcode_lock", TASKCODE_LOCK, 0, NULL) < 0)
		goto out;
	full = redis_full(r, t) ? 1 : pg_full(db, t, now);
	if (full < 0)
		goto out;
	if (full) {
		if (record_attempt(db, t, "throttled", NULL, now) == 0)
			v = TASKCODE_THROTTLED;
		goto out;
	}
	if (code_well_formed(t->digits) && code_hash(secret, t->digits, hash) == 0) {
		const char *p[3] = { hash, t->purpose, now };
		res = db_exec_prepared(db, "taskcode_find",
			"SELECT id, business_id FROM task_codes WHERE code_hash = $1 AND purpose = $2"
			" AND used_at IS NULL AND revoked_at IS NULL AND created_at <= $3::timestamptz"
			" AND expires_at > $3::timestamptz FOR UPDATE", 3, p);
		if (res == NULL)
			goto out;
		if (PQntuples(res) == 1) {
			const char *q[3];
			snprintf(code_id, 24, "%s", PQgetvalue(res, 0, 0));
			snprintf(business_id, 24, "%s", PQgetvalue(res, 0, 1));
			q[0] = code_id;
			q[1] = t->call_id;
			q[2] = now;
			if (db_cmd_prepared(db, "taskcode_use",
				    "UPDATE task_codes SET used_at = $3::timestamptz, used_by_call = $2::bigint"
				    " WHERE id = $1::bigint", 3, q) < 0)
				goto out;
			q[0] = t->call_id;
			q[1] = business_id;
			if (db_cmd_prepared(db, "taskcode_bind_call",
				    "UPDATE calls SET business_id = $2::bigint, updated_at = now()"
				    " WHERE id = $1::bigint AND direction = 'inbound' AND business_id IS NULL",
				    2, q) < 0)
				goto out;
			if (record_attempt(db, t, "valid", code_id, now) < 0)
				goto out;
			v = TASKCODE_VALID;
			goto out;
		}
	}
	if (record_attempt(db, t, "wrong", NULL, now) < 0)
		goto out;
	redis_count(r, t);
	wrong = call_wrong(db, t->call_id);
	if (wrong < 0)
		goto out;
	v = wrong >= TASKCODE_TRIES_PER_CALL ? TASKCODE_LAST_WRONG : TASKCODE_WRONG;
out:
	if (res)
		PQclear(res);
	explicit_bzero(hash, sizeof(hash));
	if (v != TASKCODE_VALID)
		business_id[0] = code_id[0] = '\0';
	return v;
}

/* ---- the command --------------------------------------------------------------- */

static void taskcode_usage(FILE *f)
{
	fprintf(f,
		"usage: ringfence taskcode create --business ID --purpose greeting\n\n"
		"Makes a one-time task code for business ID: 6 digits, valid for 15 minutes,\n"
		"for one use on a call to the business's number.  Purpose 'greeting': the caller\n"
		"records the greeting the business's reminder calls open with.  Prints the code\n"
		"and when it expires (UTC); only a keyed hash of it is stored.  A newer code for\n"
		"the same business and purpose replaces an unused older one.\n"
		"Needs RINGFENCE_DATABASE_URL and TWILIO_AUTH_TOKEN (the code's hash key).\n");
}

int taskcode_main(int argc, char **argv)
{
	struct config cfg;
	char err[512], code[TASKCODE_DIGITS + 1] = "", when[32];
	const char *purpose = NULL;
	long long business = -1, expires = 0;
	struct db *db = NULL;
	int rc = 1;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		taskcode_usage(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "create") != 0) {
		fprintf(stderr, "ringfence taskcode: expected 'create' (see --help)\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--business") == 0) {
			long v;
			if (cli_int_arg("ringfence taskcode", "--business (a business id)",
				    i + 1 < argc ? argv[++i] : NULL, 1, LONG_MAX, &v) < 0)
				return 2;
			business = v;
		} else if (strcmp(argv[i], "--purpose") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "ringfence taskcode: --purpose needs a value (greeting)\n");
				return 2;
			}
			purpose = argv[++i];
		} else {
			fprintf(stderr, "ringfence taskcode: unknown argument '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (business < 1) {
		fprintf(stderr, "ringfence taskcode create: --business is required\n");
		return 2;
	}
	if (purpose == NULL) {
		fprintf(stderr, "ringfence taskcode create: --purpose is required (greeting)\n");
		return 2;
	}
	if (!taskcode_purpose_valid(purpose)) {
		fprintf(stderr, "ringfence taskcode create: unknown purpose '%s' (the only one is greeting)\n",
			purpose);
		return 2;
	}
	if (cli_open_db("ringfence taskcode", &cfg, CFG_NEED_DB | CFG_NEED_TWILIO, &db) < 0)
		goto out;
	if (taskcode_create(db, cfg.auth_token, business, purpose, 0, clock_now_s(), code, &expires,
		    err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence taskcode: %s\n", err);
		goto out;
	}
	clock_sql(expires, when);
	printf("code %s for business %lld (%s), expires %s\n", code, business, purpose, when);
	rc = 0;
out:
	db_close(db);
	explicit_bzero(code, sizeof(code));
	return rc;
}

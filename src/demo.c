/* demo: seeds the demo business for `make run`, once.
 *
 * The demo's clients are called, texted and mailed by the running stack,
 * so seeding is the one thing a restart must not repeat: a start that
 * finds the demo business adds nothing, and only --reset starts over. */
#include "demo.h"
#include "apikey.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "reminders.h"
#include "users.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEMO_BUSINESS "Riverside Dental (demo)"
#define DEMO_TIME_ZONE "America/New_York"
#define DEMO_CALLBACK "+15555550100"
#define DEMO_USER "owner@riverside-dental.test"
#define DEMO_MAX_CLIENTS 32

struct demo_client {
	char phone[17];
	char name[128];
};

/* Reads the callee script: "+NUMBER BEHAVIOUR" lines, each named by the
 * comment line just above it ("# Name: what they do").  Returns the
 * number of clients, or -1 with a reason in err. */
static int demo_read_callees(const char *path, struct demo_client *out, int max, char *err,
	size_t errlen)
{
	char line[1024], name[128] = "";
	int n = 0, lineno = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		snprintf(err, errlen, "cannot open %s", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line;
		size_t k = 0;
		lineno++;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0') {
			name[0] = '\0'; /* a blank line ends a comment's claim */
			continue;
		}
		if (*p == '#') {
			p++;
			while (isspace((unsigned char)*p))
				p++;
			k = strcspn(p, ":\n");
			while (k > 0 && isspace((unsigned char)p[k - 1]))
				k--;
			if (k >= sizeof(name))
				k = 0;
			memcpy(name, p, k);
			name[k] = '\0';
			continue;
		}
		if (n == max) {
			snprintf(err, errlen, "%s: more than %d numbers", path, max);
			n = -1;
			break;
		}
		while (p[k] && !isspace((unsigned char)p[k]) && k < sizeof(out[n].phone) - 1)
			k++;
		memcpy(out[n].phone, p, k);
		out[n].phone[k] = '\0';
		if (out[n].phone[0] != '+' || name[0] == '\0') {
			snprintf(err, errlen,
				"%s:%d: expected '+NUMBER BEHAVIOUR' just below a '# Name: description' line",
				path, lineno);
			n = -1;
			break;
		}
		snprintf(out[n].name, sizeof(out[n].name), "%s", name);
		name[0] = '\0';
		n++;
	}
	fclose(f);
	return n;
}

/* One statement that must return one row; its first column, copied. */
static char *demo_one(struct db *db, const char *sql, int n, const char *const *params)
{
	PGresult *res = db_exec(db, sql, n, params);
	char *v = NULL;
	if (res == NULL)
		return NULL;
	if (PQntuples(res) == 1)
		v = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static void demo_usage(FILE *out)
{
	fprintf(out,
		"usage: ringfence demo [--callees FILE] [--reset]\n"
		"\n"
		"Seeds the demo business \"%s\" once: the first run creates it,\n"
		"one client per number in the callee script (default deploy/demo-callees\n"
		"under RINGFENCE_ROOT) and an appointment in a few hours for each, with its\n"
		"reminders.  A later run finds the business and adds nothing, so\n"
		"restarting the demo contacts nobody again.\n"
		"\n"
		"Every run prints the login as NAME=value lines: RINGFENCE_DEMO_USER\n"
		"(%s), RINGFENCE_DEMO_PASSWORD, RINGFENCE_DEMO_BUSINESS_ID and\n"
		"RINGFENCE_DEMO_API_KEY.  The password and API key given in those\n"
		"environment variables (as the stack's ringfence.env holds them) are kept\n"
		"when they are still the demo's; otherwise a new password and a new key\n"
		"(the old demo key revoked) are made.\n"
		"\n"
		"--reset  starts over: the demo business is retired (its name freed, its\n"
		"         status 'suspended', its booked appointments and pending\n"
		"         reminders cancelled, its logins deleted, its API keys revoked;\n"
		"         its contact history stays, so the contact limits still count\n"
		"         it) and a new one is seeded.  A client who had opted out stays\n"
		"         opted out.\n"
		"\n"
		"Refused in production.  Needs RINGFENCE_DATABASE_URL.\n",
		DEMO_BUSINESS, DEMO_USER);
}

/* Runs a statement whose result is not needed; 0 or -1. */
static int demo_do(struct db *db, const char *sql, int n, const char *const *params)
{
	PGresult *res = db_exec(db, sql, n, params);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* Retires demo business bid (see the usage): nothing of it can be sent
 * any more, its name is free for the new one, and what it did stays. */
static int demo_retire(struct db *db, const char *bid)
{
	const char *p[] = { bid };
	return demo_do(db,
		       "UPDATE reminders SET status = 'cancelled', status_reason = 'demo reset',"
		       " updated_at = now() WHERE business_id = $1::bigint AND status = 'pending'",
		       1, p) < 0 ||
			demo_do(db,
				"UPDATE appointments SET status = 'cancelled', cancelled_at = now(),"
				" updated_at = now() WHERE business_id = $1::bigint"
				" AND status IN ('booked', 'confirmed')",
				1, p) < 0 ||
			demo_do(db,
				"UPDATE api_keys SET revoked_at = now() WHERE business_id = $1::bigint"
				" AND revoked_at IS NULL",
				1, p) < 0 ||
			demo_do(db, "DELETE FROM users WHERE business_id = $1::bigint", 1, p) < 0 ||
			demo_do(db,
				"UPDATE businesses SET status = 'suspended', name = left(name || ' reset '"
				" || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC #'"
				" || id, 200) WHERE id = $1::bigint",
				1, p) < 0
		? -1
		: 0;
}

/* Creates the demo business with its clients, appointments and
 * reminders.  retired (NULL: none) is the business a reset just retired:
 * its clients' opt-outs carry over by phone number.  The new business's
 * id into *bid (caller frees).  0, -1 on a database error, -2 with a
 * reason printed. */
static int demo_create(struct db *db, const struct demo_client *clients, int n,
	const char *retired, char **bid)
{
	char err[512];
	const char *p[] = { DEMO_BUSINESS, DEMO_TIME_ZONE, DEMO_CALLBACK };

	*bid = demo_one(db,
		"INSERT INTO businesses (name, time_zone, callback_phone, status, verified) "
		"VALUES ($1, $2, $3, 'active', true) RETURNING id",
		3, p);
	if (*bid == NULL)
		return -1;
	/* The demo must show reminders going out whatever the hour `make
	 * run` starts at, so its calling window is the whole day; a real
	 * business keeps the default 09:00-20:00. */
	if (demo_do(db, "UPDATE businesses SET window_start = '00:00', window_end = '23:59:59'"
			" WHERE id = $1::bigint", 1, (const char *const[]){ *bid }) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char slot[16];
		const char *cp[] = { *bid, clients[i].name, clients[i].phone, retired };
		char *cid;
		PGresult *res;
		snprintf(slot, sizeof(slot), "%d", i);
		cid = demo_one(db,
			"INSERT INTO clients (business_id, name, phone, opted_out_at) VALUES ($1::bigint,"
			" $2, $3::text, (SELECT max(opted_out_at) FROM clients WHERE business_id = $4::bigint"
			" AND phone = $3::text)) RETURNING id",
			4, cp);
		if (cid == NULL)
			return -1;
		/* From the hour after next (two to three hours ahead), half
		 * an hour apart: whatever the hour `make run` starts at, the 24-hour
		 * call is already late but worth sending (reminders.c sends a
		 * passed reminder at once while an hour remains), so the demo's
		 * calls go out within a minute, and the 2-hour text follows an
		 * hour later.  (A fixed "tomorrow at 10:00" left the demo silent
		 * from midnight to 10:00 in its time zone.) */
		res = db_exec(db,
			"INSERT INTO appointments (business_id, client_id, starts_at) "
			"SELECT $1::bigint, $2::bigint, "
			"  date_trunc('hour', now()) + interval '3 hours' "
			"    + $3::int * interval '30 minutes' "
			"FROM businesses b WHERE b.id = $1::bigint RETURNING id",
			3, (const char *const[]){ *bid, cid, slot });
		free(cid);
		if (res == NULL)
			return -1;
		/* A new booking gets its reminders, as one made through the API. */
		if (PQntuples(res) == 1 &&
			reminders_plan(db, strtoll(PQgetvalue(res, 0, 0), NULL, 10), clock_now_s(), err,
				sizeof(err)) < 0) {
			PQclear(res);
			fprintf(stderr, "ringfence demo: %s\n", err);
			return -2;
		}
		PQclear(res);
	}
	return 0;
}

/* 1 when password (may be NULL) is the current password of the demo
 * owner of business bid, 0 otherwise, -1 on a database error. */
static int demo_password_kept(struct db *db, const char *bid, const char *password)
{
	const char *p[] = { bid, DEMO_USER };
	PGresult *res;
	int ok = 0;

	if (password == NULL || password[0] == '\0' || strlen(password) > USERS_MAX_PASSWORD)
		return 0;
	res = db_exec(db, "SELECT password_hash FROM users WHERE business_id = $1::bigint"
			  " AND lower(email) = lower($2)", 2, p);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		ok = users_verify_password(password, PQgetvalue(res, 0, 0));
	PQclear(res);
	return ok;
}

/* 1 when key (may be NULL) is an unrevoked demo API key of business bid,
 * 0 otherwise, -1 on a database error. */
static int demo_key_kept(struct db *db, const char *bid, const char *key)
{
	long long key_id = 0, b;
	char id[24];
	char *label;
	int ok;

	if (key == NULL || strlen(key) != APIKEY_LEN)
		return 0;
	b = apikey_verify(db, key, &key_id);
	if (b < 0)
		return -1;
	if (b != strtoll(bid, NULL, 10))
		return 0;
	snprintf(id, sizeof(id), "%lld", key_id);
	label = demo_one(db, "SELECT label FROM api_keys WHERE id = $1::bigint", 1,
		(const char *const[]){ id });
	if (label == NULL)
		return -1;
	ok = strcmp(label, "demo") == 0;
	free(label);
	return ok;
}

int demo_main(int argc, char **argv)
{
	struct config cfg;
	struct demo_client clients[DEMO_MAX_CLIENTS];
	char err[512], password[USERS_MAX_PASSWORD + 1] = "", key[APIKEY_LEN + 1] = "";
	char *path = NULL, *bid = NULL, *retired = NULL;
	const char *callees = NULL, *env_password, *env_key;
	struct db *db = NULL;
	int n, rc = 1, reset = 0, kept, found = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			demo_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--callees") == 0 && i + 1 < argc) {
			callees = argv[++i];
		} else if (strcmp(argv[i], "--reset") == 0) {
			reset = 1;
		} else {
			fprintf(stderr, "ringfence demo: unknown argument '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (config_load(&cfg, CFG_NEED_DB, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence demo: %s\n", err);
		return 1;
	}
	if (config_is_production(&cfg)) {
		fprintf(stderr, "ringfence demo: refused: RINGFENCE_ENV is production\n");
		return 1;
	}
	if (clock_init(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence demo: %s\n", err);
		return 1;
	}
	path = callees ? xstrdup(callees) : xasprintf("%s/deploy/demo-callees", cfg.root);
	n = demo_read_callees(path, clients, DEMO_MAX_CLIENTS, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "ringfence demo: %s\n", err);
		goto out;
	}
	db = db_open(cfg.database_url);
	if (db_connect(db) < 0) {
		fprintf(stderr, "ringfence demo: cannot connect to the database: %s\n", db_last_error(db));
		goto out;
	}
	if (db_begin(db) < 0)
		goto db_failed;
	/* The advisory lock keeps two concurrent runs from making two demo
	 * businesses. */
	if (demo_do(db, "SELECT pg_advisory_xact_lock(8243396467422814581)", 0, NULL) < 0)
		goto db_failed;
	{
		PGresult *res = db_exec(db,
			"SELECT id FROM businesses WHERE name = $1 ORDER BY id LIMIT 1", 1,
			(const char *const[]){ DEMO_BUSINESS });
		if (res == NULL)
			goto db_failed;
		if (PQntuples(res) == 1)
			bid = xstrdup(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	if (bid != NULL && reset) {
		if (demo_retire(db, bid) < 0)
			goto db_failed;
		retired = bid;
		bid = NULL;
	}
	if (bid == NULL) {
		int r = demo_create(db, clients, n, retired, &bid);
		if (r == -1)
			goto db_failed;
		if (r < 0) {
			db_rollback(db);
			goto out;
		}
	} else {
		found = 1;
	}
	/* The login: the one the caller has, while it is still the demo's. */
	env_password = getenv("RINGFENCE_DEMO_PASSWORD");
	kept = demo_password_kept(db, bid, env_password);
	if (kept < 0)
		goto db_failed;
	if (kept) {
		snprintf(password, sizeof(password), "%s", env_password);
	} else {
		if (users_random_password(password, 16) < 0) {
			fprintf(stderr, "ringfence demo: no random bytes for a password\n");
			db_rollback(db);
			goto out;
		}
		if (users_upsert(db, strtoll(bid, NULL, 10), DEMO_USER, password, err, sizeof(err)) < 0) {
			fprintf(stderr, "ringfence demo: %s\n", err);
			db_rollback(db);
			goto out;
		}
	}
	env_key = getenv("RINGFENCE_DEMO_API_KEY");
	kept = demo_key_kept(db, bid, env_key);
	if (kept < 0)
		goto db_failed;
	if (kept) {
		snprintf(key, sizeof(key), "%s", env_key);
	} else {
		/* One demo key at a time: the previous one stops working. */
		if (demo_do(db, "UPDATE api_keys SET revoked_at = now() WHERE business_id = $1::bigint "
				"AND label = 'demo' AND revoked_at IS NULL", 1,
			    (const char *const[]){ bid }) < 0)
			goto db_failed;
		if (apikey_create(db, strtoll(bid, NULL, 10), "demo", key, err, sizeof(err)) < 0) {
			fprintf(stderr, "ringfence demo: %s\n", err);
			db_rollback(db);
			goto out;
		}
	}
	if (db_commit(db) < 0)
		goto db_failed;
	if (found)
		fprintf(stderr, "ringfence demo: the demo business (#%s) is already seeded: nothing added,"
				" nobody new to contact (ringfence demo --reset starts over)\n", bid);
	else if (retired)
		fprintf(stderr, "ringfence demo: retired the demo business #%s and seeded #%s\n",
			retired, bid);
	else
		fprintf(stderr, "ringfence demo: seeded the demo business #%s\n", bid);
	printf("RINGFENCE_DEMO_USER=%s\nRINGFENCE_DEMO_PASSWORD=%s\nRINGFENCE_DEMO_BUSINESS_ID=%s\n"
	       "RINGFENCE_DEMO_API_KEY=%s\n",
		DEMO_USER, password, bid, key);
	rc = 0;
	goto out;
db_failed:
	fprintf(stderr, "ringfence demo: database error: %s\n", db_last_error(db));
	db_rollback(db);
out:
	explicit_bzero(password, sizeof(password));
	explicit_bzero(key, sizeof(key));
	free(bid);
	free(retired);
	free(path);
	db_close(db);
	return rc;
}

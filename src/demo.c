/* demo: seeds the demo business for `make run`. */
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
		"usage: ringfence demo [--callees FILE]\n"
		"\n"
		"Creates (or finds) the demo business \"%s\", gives its owner\n"
		"%s a new random password, adds one client per number in the\n"
		"callee script (default deploy/demo-callees under RINGFENCE_ROOT), and\n"
		"books each client without a future appointment one for tomorrow (with its\n"
		"reminders, planned from the default policy), and replaces the demo API\n"
		"key.  Prints RINGFENCE_DEMO_USER, RINGFENCE_DEMO_PASSWORD,\n"
		"RINGFENCE_DEMO_BUSINESS_ID and RINGFENCE_DEMO_API_KEY as NAME=value lines.\n"
		"Refused in production.\n"
		"Needs RINGFENCE_DATABASE_URL.\n",
		DEMO_BUSINESS, DEMO_USER);
}

int demo_main(int argc, char **argv)
{
	struct config cfg;
	struct demo_client clients[DEMO_MAX_CLIENTS];
	char err[512], password[17], key[APIKEY_LEN + 1] = "";
	char *path = NULL, *bid = NULL;
	const char *callees = NULL;
	struct db *db = NULL;
	int n, rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			demo_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--callees") == 0 && i + 1 < argc) {
			callees = argv[++i];
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
	{
		const char *p[] = { DEMO_BUSINESS, DEMO_TIME_ZONE, DEMO_CALLBACK };
		/* The advisory lock keeps two concurrent runs from making two
		 * demo businesses. */
		PGresult *res = db_exec(db, "SELECT pg_advisory_xact_lock(8243396467422814581)", 0, NULL);
		if (res == NULL)
			goto db_failed;
		PQclear(res);
		bid = demo_one(db, "SELECT id FROM businesses WHERE name = $1 ORDER BY id LIMIT 1", 1, p);
		if (bid == NULL)
			bid = demo_one(db,
				"INSERT INTO businesses (name, time_zone, callback_phone, status, verified) "
				"VALUES ($1, $2, $3, 'active', true) RETURNING id",
				3, p);
		if (bid == NULL)
			goto db_failed;
		/* The demo must show reminders going out whatever the hour
		 * `make run` starts at, so its calling window is the whole day;
		 * a real business keeps the default 09:00-20:00. */
		res = db_exec(db, "UPDATE businesses SET window_start = '00:00', window_end = '23:59:59'"
			" WHERE id = $1::bigint", 1, (const char *const[]){ bid });
		if (res == NULL)
			goto db_failed;
		PQclear(res);
	}
	for (int i = 0; i < n; i++) {
		char slot[16];
		const char *p[] = { bid, clients[i].name, clients[i].phone, slot };
		char *cid;
		PGresult *res;
		snprintf(slot, sizeof(slot), "%d", i);
		cid = demo_one(db, "SELECT id FROM clients WHERE business_id = $1::bigint AND phone = $2",
			2, (const char *const[]){ bid, clients[i].phone });
		if (cid == NULL)
			cid = demo_one(db,
				"INSERT INTO clients (business_id, name, phone) VALUES ($1::bigint, $2, $3) "
				"RETURNING id",
				3, p);
		if (cid == NULL)
			goto db_failed;
		/* Tomorrow at 10:00 in the business's time zone, half an hour
		 * apart, unless the client already has a future booking. */
		res = db_exec(db,
			"INSERT INTO appointments (business_id, client_id, starts_at) "
			"SELECT $1::bigint, $2::bigint, "
			"  ((date_trunc('day', now() AT TIME ZONE b.time_zone) + interval '1 day 10 hours' "
			"    + $3::int * interval '30 minutes') AT TIME ZONE b.time_zone) "
			"FROM businesses b WHERE b.id = $1::bigint AND NOT EXISTS ("
			"  SELECT 1 FROM appointments a WHERE a.client_id = $2::bigint "
			"  AND a.status = 'booked' AND a.starts_at > now()) RETURNING id",
			3, (const char *const[]){ bid, cid, slot });
		free(cid);
		if (res == NULL)
			goto db_failed;
		/* A new booking gets its reminders, as one made through the API. */
		if (PQntuples(res) == 1 &&
			reminders_plan(db, strtoll(PQgetvalue(res, 0, 0), NULL, 10), clock_now_s(), err,
				sizeof(err)) < 0) {
			PQclear(res);
			fprintf(stderr, "ringfence demo: %s\n", err);
			db_rollback(db);
			goto out;
		}
		PQclear(res);
	}
	{
		/* One demo key at a time: the previous one stops working. */
		PGresult *res = db_exec(db,
			"UPDATE api_keys SET revoked_at = now() WHERE business_id = $1::bigint "
			"AND label = 'demo' AND revoked_at IS NULL",
			1, (const char *const[]){ bid });
		if (res == NULL)
			goto db_failed;
		PQclear(res);
		if (apikey_create(db, strtoll(bid, NULL, 10), "demo", key, err, sizeof(err)) < 0) {
			fprintf(stderr, "ringfence demo: %s\n", err);
			db_rollback(db);
			goto out;
		}
	}
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
	if (db_commit(db) < 0)
		goto db_failed;
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
	free(path);
	db_close(db);
	return rc;
}

/* users: dashboard logins and their yescrypt password hashes. */
#include "users.h"
#include "cli.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "util.h"

#include <crypt.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* yescrypt's default cost in libxcrypt ("j9T"): about 10 ms a hash. */
#define USERS_COST 0

int users_hash_password(const char *password, char out[USERS_HASH_MAX])
{
	char salt_rnd[16];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = NULL;
	size_t n = password ? strlen(password) : 0;
	int rc = -1;

	if (n == 0 || n > USERS_MAX_PASSWORD)
		goto out;
	if (util_random(salt_rnd, sizeof(salt_rnd)) < 0)
		goto out;
	if (crypt_gensalt_rn("$y$", USERS_COST, salt_rnd, sizeof(salt_rnd), setting,
		    sizeof(setting)) == NULL)
		goto out;
	cd = xcalloc(1, sizeof(*cd));
	if (crypt_rn(password, setting, cd, sizeof(*cd)) == NULL || cd->output[0] == '*')
		goto out;
	if (strlen(cd->output) >= USERS_HASH_MAX)
		goto out;
	memcpy(out, cd->output, strlen(cd->output) + 1);
	rc = 0;
out:
	if (cd)
		explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

int users_verify_password(const char *password, const char *hash)
{
	struct crypt_data *cd;
	int ok = 0;
	size_t n;

	if (password == NULL || hash == NULL || strncmp(hash, "$y$", 3) != 0)
		return 0;
	n = strlen(password);
	if (n == 0 || n > USERS_MAX_PASSWORD)
		return 0;
	cd = xcalloc(1, sizeof(*cd));
	if (crypt_rn(password, hash, cd, sizeof(*cd)) != NULL && cd->output[0] != '*')
		ok = util_ct_equal(cd->output, strlen(cd->output), hash, strlen(hash));
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int users_random_password(char *out, size_t len)
{
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	const size_t na = sizeof(alphabet) - 1;
	size_t i = 0;

	while (i < len) {
		unsigned char b;
		if (util_random(&b, 1) < 0)
			return -1;
		/* Rejection sampling keeps every character equally likely. */
		if (b >= 256 - (256 % na))
			continue;
		out[i++] = alphabet[b % na];
	}
	out[len] = '\0';
	return 0;
}

/* Checks the password's length and hashes it into hash; 0, or -1 with a
 * reason in err. */
static int hash_checked(const char *password, char hash[USERS_HASH_MAX], char *err,
	size_t errlen)
{
	if (password == NULL || strlen(password) < USERS_MIN_PASSWORD) {
		snprintf(err, errlen, "the password must have at least %d characters", USERS_MIN_PASSWORD);
		return -1;
	}
	if (strlen(password) > USERS_MAX_PASSWORD) {
		snprintf(err, errlen, "the password must have at most %d characters", USERS_MAX_PASSWORD);
		return -1;
	}
	if (users_hash_password(password, hash) < 0) {
		snprintf(err, errlen, "cannot hash the password (libcrypt failed)");
		return -1;
	}
	return 0;
}

/* The reason a login could not be written for business_id: the e-mail
 * is another business's login (or, when same_business_too, this
 * business's), or there is no such business.  Into err. */
static void explain_refusal(struct db *db, long long business_id, const char *email,
	int same_business_too, char *err, size_t errlen)
{
	char bid[24];
	const char *p[2] = { email, bid };
	PGresult *res;
	long long owner;

	snprintf(bid, sizeof(bid), "%lld", business_id);
	res = db_exec_prepared(db, "users_refusal",
		"SELECT EXISTS (SELECT 1 FROM businesses WHERE id = $2::bigint),"
		" (SELECT business_id FROM users WHERE lower(email) = lower($1))", 2, p);
	if (res == NULL) {
		snprintf(err, errlen, "database error: %s", db_last_error(db));
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0 || PQgetisnull(res, 0, 1)) {
		if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
			snprintf(err, errlen, "no business with id %lld", business_id);
		else
			snprintf(err, errlen, "cannot write the login '%s'", email);
		PQclear(res);
		return;
	}
	owner = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	if (owner != business_id)
		snprintf(err, errlen,
			"'%s' is already the login of business %lld; a login belongs to one business"
			" and is not moved (pick another e-mail address)", email, owner);
	else if (same_business_too)
		snprintf(err, errlen,
			"'%s' is already a login of business %lld; to set a new password use"
			" 'ringfence user passwd --email %s'", email, owner, email);
	else
		snprintf(err, errlen, "cannot write the login '%s'", email);
}

/* Runs the INSERT (or upsert) sql, prepared as name (a literal), with ($1 business, $2 e-mail, $3 hash
 * and, when role is not NULL, $4 role) and returns the id it returned, 0
 * when it returned no row, or -1 on an error (reason in err). */
static long long write_login(struct db *db, const char *name, const char *sql,
	long long business_id,
	const char *email, const char *hash, const char *role, char *err, size_t errlen)
{
	char bid[24];
	const char *params[4] = { bid, email, hash, role };
	PGresult *res;
	long long id = 0;

	snprintf(bid, sizeof(bid), "%lld", business_id);
	res = db_exec_prepared(db, name, sql, role ? 4 : 3, params);
	if (res == NULL) {
		if (strcmp(db_last_sqlstate(db), "23514") == 0)
			snprintf(err, errlen, "'%s' is not a valid e-mail address", email);
		else
			snprintf(err, errlen, "database error: %s", db_last_error(db));
		return -1;
	}
	if (PQntuples(res) == 1)
		id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return id;
}

/* users_add (only_new 1, sql inserts or does nothing) and users_upsert
 * (only_new 0, sql updates a login of the same business): hashes
 * password, runs sql ($1 business, $2 email, $3 hash, RETURNING id) and,
 * when it wrote nothing, says whose the login is.  The id, or -1 with err
 * set. */
static long long login_put(struct db *db, const char *name, const char *sql, int only_new,
	long long business_id,
	const char *email, const char *password, const char *role, char *err, size_t errlen)
{
	char hash[USERS_HASH_MAX];
	long long id = -1;

	if (hash_checked(password, hash, err, errlen) < 0)
		goto out;
	id = write_login(db, name, sql, business_id, email, hash, role, err, errlen);
	if (id == 0) {
		explain_refusal(db, business_id, email, only_new, err, errlen);
		id = -1;
	}
out:
	explicit_bzero(hash, sizeof(hash));
	return id;
}

/* See users.h. */
int users_valid_role(const char *role)
{
	return role && (strcmp(role, "owner") == 0 || strcmp(role, "staff") == 0 ||
		strcmp(role, "operator") == 0);
}

/* See users.h.  ON CONFLICT DO NOTHING: an existing login is left
 * exactly as it was, and the refusal says whose it is. */
long long users_add_role(struct db *db, long long business_id, const char *email,
	const char *password, const char *role, char *err, size_t errlen)
{
	if (!users_valid_role(role)) {
		snprintf(err, errlen, "the role must be owner, staff or operator");
		return -1;
	}
	return login_put(db, "users_add",
		"INSERT INTO users (business_id, email, password_hash, role) "
		"SELECT b.id, $2, $3, $4 FROM businesses b WHERE b.id = $1::bigint "
		"ON CONFLICT (lower(email)) DO NOTHING RETURNING id",
		1, business_id, email, password, role, err, errlen);
}

/* See users.h. */
long long users_add(struct db *db, long long business_id, const char *email,
	const char *password, char *err, size_t errlen)
{
	return users_add_role(db, business_id, email, password, "owner", err, errlen);
}

/* See users.h.  The conflict update applies only within the same
 * business, so another business's login is left alone. */
long long users_upsert(struct db *db, long long business_id, const char *email,
	const char *password, char *err, size_t errlen)
{
	return login_put(db, "users_upsert",
		"INSERT INTO users (business_id, email, password_hash) "
		"SELECT b.id, $2, $3 FROM businesses b WHERE b.id = $1::bigint "
		"ON CONFLICT (lower(email)) DO UPDATE SET password_hash = EXCLUDED.password_hash,"
		"  updated_at = now() WHERE users.business_id = EXCLUDED.business_id "
		"RETURNING id",
		0, business_id, email, password, NULL, err, errlen);
}

/* See users.h. */
long long users_set_password(struct db *db, const char *email, const char *password,
	long long *business_id, char *err, size_t errlen)
{
	char hash[USERS_HASH_MAX];
	const char *params[2] = { email, hash };
	PGresult *res = NULL;
	long long id = -1;

	if (hash_checked(password, hash, err, errlen) < 0)
		goto out;
	res = db_exec_prepared(db, "users_passwd",
		"UPDATE users SET password_hash = $2, updated_at = now() "
		"WHERE lower(email) = lower($1) RETURNING id, business_id",
		2, params);
	if (res == NULL) {
		snprintf(err, errlen, "database error: %s", db_last_error(db));
		goto out;
	}
	if (PQntuples(res) != 1) {
		snprintf(err, errlen, "no login '%s' (create one with 'ringfence user add')", email);
		goto out;
	}
	id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (business_id)
		*business_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
out:
	if (res)
		PQclear(res);
	explicit_bzero(hash, sizeof(hash));
	return id;
}

static void users_usage(FILE *out)
{
	fprintf(out,
		"usage: ringfence user add --business ID --email EMAIL [--role ROLE] [--password-stdin]\n"
		"       ringfence user passwd --email EMAIL [--password-stdin]\n"
		"\n"
		"add creates a dashboard login for the business.  ROLE is owner (the\n"
		"default), staff, or operator: an operator runs the deployment and sees\n"
		"every business (the dashboard's Businesses page picks the one shown;\n"
		"--business is the one shown first).  An e-mail address that\n"
		"is already a login (of any business, in any case) is refused: a login is\n"
		"never moved to another business, and its password is changed only by\n"
		"passwd, which sets a new password for an existing login and leaves its\n"
		"business alone.  The password is read from the first line of standard\n"
		"input with --password-stdin (at least %d characters); otherwise a random\n"
		"one is made and printed once.  Needs RINGFENCE_DATABASE_URL.\n",
		USERS_MIN_PASSWORD);
}

/* Reads one line (without its newline) into out; 0, or -1 when the line
 * is empty or longer than the limit. */
static int read_password_line(char *out, size_t size)
{
	size_t n;
	if (fgets(out, (int)size, stdin) == NULL)
		return -1;
	n = strlen(out);
	if (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	else if (!feof(stdin))
		return -1; /* longer than the buffer */
	if (n > 0 && out[n - 1] == '\r')
		out[--n] = '\0';
	return n > 0 ? 0 : -1;
}

int users_main(int argc, char **argv)
{
	struct config cfg;
	char err[512];
	char password[USERS_MAX_PASSWORD + 2];
	const char *email = NULL, *cmd, *role = "owner";
	long long business = -1, id;
	int from_stdin = 0, generated = 0, rc = 1, is_add;
	struct db *db = NULL;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		users_usage(stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "add") != 0 && strcmp(argv[1], "passwd") != 0)) {
		fprintf(stderr, "ringfence user: expected 'add' or 'passwd' (see --help)\n");
		return 2;
	}
	cmd = argv[1];
	is_add = strcmp(cmd, "add") == 0;
	for (int i = 2; i < argc; i++) {
		if (is_add && strcmp(argv[i], "--business") == 0) {
			long v;
			if (cli_int_arg("ringfence user", "--business (a business id)",
				    i + 1 < argc ? argv[++i] : NULL, 1, LONG_MAX, &v) < 0)
				return 2;
			business = v;
		} else if (is_add && strcmp(argv[i], "--role") == 0) {
			role = i + 1 < argc ? argv[++i] : "";
			if (!users_valid_role(role)) {
				fprintf(stderr, "ringfence user add: --role must be owner, staff or operator\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--email") == 0 && i + 1 < argc) {
			email = argv[++i];
		} else if (strcmp(argv[i], "--password-stdin") == 0) {
			from_stdin = 1;
		} else {
			fprintf(stderr, "ringfence user %s: unknown argument '%s' (see --help)\n", cmd,
				argv[i]);
			return 2;
		}
	}
	if (is_add && (business < 1 || email == NULL)) {
		fprintf(stderr, "ringfence user add: --business and --email are required\n");
		return 2;
	}
	if (!is_add && email == NULL) {
		fprintf(stderr, "ringfence user passwd: --email is required\n");
		return 2;
	}
	if (config_load(&cfg, CFG_NEED_DB, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence user: %s\n", err);
		return 1;
	}
	if (from_stdin) {
		if (read_password_line(password, sizeof(password)) < 0) {
			fprintf(stderr, "ringfence user: no password on standard input, or longer than %d characters\n",
				USERS_MAX_PASSWORD);
			goto out;
		}
	} else {
		if (users_random_password(password, 16) < 0) {
			fprintf(stderr, "ringfence user: no random bytes for a password\n");
			goto out;
		}
		generated = 1;
	}
	db = db_open(cfg.database_url);
	if (db_connect(db) < 0) {
		fprintf(stderr, "ringfence user: cannot connect to the database: %s\n", db_last_error(db));
		goto out;
	}
	if (is_add)
		id = users_add_role(db, business, email, password, role, err, sizeof(err));
	else
		id = users_set_password(db, email, password, &business, err, sizeof(err));
	if (id < 0) {
		fprintf(stderr, "ringfence user %s: %s\n", cmd, err);
		goto out;
	}
	if (is_add)
		printf("user %lld: %s (business %lld, %s)\n", id, email, business, role);
	else
		printf("user %lld: %s (business %lld): new password set\n", id, email, business);
	if (generated)
		printf("password: %s\n", password);
	rc = 0;
out:
	explicit_bzero(password, sizeof(password));
	db_close(db);
	return rc;
}

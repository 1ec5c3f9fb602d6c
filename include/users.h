/* users: dashboard logins.  Passwords are hashed with yescrypt through
 * libcrypt and checked in constant time; a clear password is never stored
 * or logged. */
#ifndef RF_USERS_H
#define RF_USERS_H

#include <stddef.h>

struct db;

/* Room for a yescrypt hash ("$y$j9T$<salt>$<43 chars>") and its NUL. */
#define USERS_HASH_MAX 128
/* Passwords shorter than this are refused. */
#define USERS_MIN_PASSWORD 10
#define USERS_MAX_PASSWORD 256

/* Hashes password with a fresh random salt into out.  0, or -1 when the
 * password is empty, too long, or libcrypt fails. */
int users_hash_password(const char *password, char out[USERS_HASH_MAX]);

/* 1 when password matches hash, 0 otherwise (also for a malformed hash). */
int users_verify_password(const char *password, const char *hash);

/* Writes a random password of len characters (letters and digits, no
 * look-alikes such as 0/O, 1/l) and a NUL into out; len + 1 bytes.  0 or -1. */
int users_random_password(char *out, size_t len);

/* Creates a login for the business.  Returns the user's id, or -1 with a
 * one-line reason in err: unknown business, malformed e-mail, password
 * too short, database error, or an e-mail address (case-insensitive)
 * that is already a login, of this business (the reason points at
 * `ringfence user passwd`) or of another (a login is never moved). */
long long users_add(struct db *db, long long business_id, const char *email,
	const char *password, char *err, size_t errlen);

/* 1 when role is a user's role: "owner", "staff" or "operator" (an
 * operator sees every business on the dashboard). */
int users_valid_role(const char *role);

/* users_add with the login's role (users_add: "owner"); an unknown role
 * is refused (-1, reason in err) before the database is touched. */
long long users_add_role(struct db *db, long long business_id, const char *email,
	const char *password, const char *role, char *err, size_t errlen);

/* Creates the business's login, or resets the password of that
 * business's existing login with the same e-mail (case-insensitive): what
 * the demo's refresh needs.  A login of another business is refused
 * (-1, reason in err), never moved.  Returns the user's id or -1. */
long long users_upsert(struct db *db, long long business_id, const char *email,
	const char *password, char *err, size_t errlen);

/* Sets a new password for the existing login email (case-insensitive);
 * its business is unchanged and stored in *business_id when not NULL.
 * Returns the user's id, or -1 with a reason in err (no such login,
 * password too short, database error). */
long long users_set_password(struct db *db, const char *email, const char *password,
	long long *business_id, char *err, size_t errlen);

/* `ringfence user add --business ID --email EMAIL [--role ROLE] [--password-stdin]`
 * and `ringfence user passwd --email EMAIL [--password-stdin]`. */
int users_main(int argc, char **argv);

#endif

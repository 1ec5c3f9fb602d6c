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

/* Creates the user, or resets the password and business of an existing
 * one with the same e-mail (case-insensitive).  Returns the user's id, or
 * -1 with a one-line reason in err (unknown business, malformed e-mail,
 * password too short, database error). */
long long users_upsert(struct db *db, long long business_id, const char *email,
	const char *password, char *err, size_t errlen);

/* `ringfence user add --business ID --email EMAIL [--password-stdin]`. */
int users_main(int argc, char **argv);

#endif

/* apikey: per-business keys for the JSON API.
 *
 * A key is "rf_<prefix>_<secret>": prefix is 12 lowercase hex digits that
 * find the key's row, secret is APIKEY_SECRET_LEN random letters and
 * digits.  Only the prefix and the SHA-256 (hex) of the whole key are
 * stored (table api_keys); the key itself is shown once, when created.
 * Verification looks the prefix up and compares the hashes in constant
 * time; a revoked key is refused like an unknown one. */
#ifndef RF_APIKEY_H
#define RF_APIKEY_H

#include <stddef.h>

struct arena;
struct db;

#define APIKEY_PREFIX_LEN 12
#define APIKEY_SECRET_LEN 40
/* "rf_" prefix "_" secret */
#define APIKEY_LEN (3 + APIKEY_PREFIX_LEN + 1 + APIKEY_SECRET_LEN)
#define APIKEY_LABEL_MAX 200

/* A fresh random key into out.  0, or -1 when no random bytes. */
int apikey_generate(char out[APIKEY_LEN + 1]);

/* 1 when key has the form of a key (and then its prefix is copied into
 * prefix), 0 otherwise.  key may be NULL. */
int apikey_parse(const char *key, char prefix[APIKEY_PREFIX_LEN + 1]);

/* Lowercase hex SHA-256 of key (OpenSSL EVP).  0 or -1. */
int apikey_hash(const char *key, char out[65]);

/* Creates a key for business_id with label (NULL: "") and writes it into
 * key_out: the dashboard and the CLI show it once, it is never stored.
 * Returns the key's row id, or -1 with a one-line reason in err (no such
 * business, label too long or not printable, database error). */
long long apikey_create(struct db *db, long long business_id, const char *label,
	char key_out[APIKEY_LEN + 1], char *err, size_t errlen);

/* One key as the dashboard lists it.  Times are unix seconds (0: never /
 * not revoked); strings live in the arena apikey_list was given. */
struct apikey_info {
	long long id;
	const char *label;
	char prefix[APIKEY_PREFIX_LEN + 1]; /* shown as rf_<prefix>_... */
	long long created_at;
	long long last_used_at;     /* to the minute: updated at most once a minute */
	long long revoked_at;
};

/* The keys of business_id, newest first, revoked ones included, into
 * *out (an array of *n in arena a).  0, or -1 on a database error. */
int apikey_list(struct db *db, struct arena *a, long long business_id,
	struct apikey_info **out, size_t *n);

/* Revokes key id of business_id (another business's id is "not found").
 * Revoking a revoked key again is a success that changes nothing.
 * 0 revoked, -1 no such key of this business, -2 on a database error. */
int apikey_revoke(struct db *db, long long business_id, long long id);

/* Checks key.  Returns the business id (> 0) of a valid, unrevoked key,
 * 0 for a malformed, unknown or revoked key, -1 when the database cannot
 * tell (the caller must refuse then too).  key_id, when not NULL, gets
 * the row id of a valid key.  Notes the key's last use (at most once a
 * minute per key). */
long long apikey_verify(struct db *db, const char *key, long long *key_id);

/* Revokes the key with prefix (the CLI's way).  1 revoked now, 0 no such
 * (unrevoked) key, -1 on a database error. */
int apikey_revoke_prefix(struct db *db, const char *prefix);

/* `ringfence apikey create --business ID [--label TEXT]` and
 * `ringfence apikey revoke PREFIX`. */
int apikey_main(int argc, char **argv);

#endif

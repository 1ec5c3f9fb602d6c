/* util: allocation that never returns NULL, and small string helpers.
 *
 * Out of memory aborts the process: a worker dying is cheap, the master
 * respawns it, and no caller has to handle a NULL it cannot recover from. */
#ifndef RF_UTIL_H
#define RF_UTIL_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* At most n bytes of s, stopping at its NUL, as strndup. */
char *xstrndup(const char *s, size_t n);
/* Formats into a new malloc'd string (caller frees). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Points jansson (json_set_alloc_funcs) and libxml2 (xmlMemSetup) at
 * xmalloc, xrealloc, xstrdup and free, so that out of memory in a
 * library aborts like out of memory in ringfence (arena.h's rule 5).
 * Called once at the start of every binary (command_dispatch), before
 * either library allocates; calling it again does nothing more. */
void util_alloc_hooks_install(void);
/* 1 when both libraries' allocators are util's (for the unit test). */
int util_alloc_hooks_installed(void);

/* Constant-time comparison of two byte strings; 1 when equal. */
int util_ct_equal(const void *a, size_t alen, const void *b, size_t blen);
/* Reads a whole file into a new malloc'd, NUL-terminated buffer (caller
 * frees); *len gets the length.  Returns NULL with errno set on failure or
 * when the file is larger than max bytes. */
char *util_read_file(const char *path, size_t max, size_t *len);
/* Fills buf with n cryptographically random bytes; 0 or -1. */
int util_random(void *buf, size_t n);
/* Writes 2n lowercase hex digits of src and a NUL into dst. */
void util_hex(const unsigned char *src, size_t n, char *dst);
/* Writes the SHA-256 of data[0..len) as 64 lowercase hex digits and a
 * NUL into hex; 0, or -1 when libcrypto fails. */
int util_sha256_hex(const void *data, size_t len, char hex[65]);
/* HMAC-SHA256 of msg[0..len) under a key derived for one purpose,
 * HMAC-SHA256(secret, label): no two HMACs ringfence makes under the same
 * secret for different labels can collide.  Writes 32 bytes into mac
 * (the caller cleanses it when it is secret; the derived key is
 * cleansed here); 0, or -1 when secret is NULL or libcrypto fails. */
int util_hmac_labelled(const char *secret, const char *label, const void *msg, size_t len,
	unsigned char mac[32]);
/* Milliseconds from a monotonic clock. */
long long util_now_ms(void);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif

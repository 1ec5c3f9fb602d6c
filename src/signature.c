/* signature: computing and checking X-Twilio-Signature.
 *
 * The rules are Twilio's, as its official validators implement them (see
 * ../shared/twilio/TWILIO.md); anything ringfence added is a stricter
 * refusal, never a looser acceptance. */
#include "signature.h"
#include "buf.h"
#include "form.h"
#include "util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#define SHA256_HEX_LEN 64

/* Decodes the code point at s[*i..len) and advances *i.  The input is
 * well-formed UTF-8 (form.c refuses anything else); a stray byte is taken
 * as itself so that the order stays total. */
static unsigned long next_code_point(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char c = s[*i];
	size_t n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
	unsigned long cp = n == 3 ? c & 0x07u : n == 2 ? c & 0x0fu : n == 1 ? c & 0x1fu : c;
	if (c < 0x80 || *i + n >= len) {
		(*i)++;
		return c;
	}
	for (size_t k = 1; k <= n; k++)
		cp = (cp << 6) | (s[*i + k] & 0x3fu);
	*i += n + 1;
	return cp;
}

/* The position of code point cp in UTF-16 code-unit order: a code point
 * above U+FFFF is written with a leading surrogate (0xD800-0xDBFF), so it
 * sorts after U+D7FF and before U+E000, where byte (and code point) order
 * puts it after U+FFFF.  Within each group the order is the code point's. */
static unsigned long utf16_rank(unsigned long cp)
{
	if (cp >= 0x10000)
		return 0xd800 + (cp - 0x10000);
	if (cp >= 0xe000)
		return cp + 0x100000;
	return cp;
}

/* JavaScript's default sort order (Array.prototype.sort without a
 * comparator, which twilio-node uses for names and for repeated values):
 * by UTF-16 code units, a proper prefix first. */
static int utf16_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	size_t i = 0, j = 0;
	while (i < alen && j < blen) {
		unsigned long ra = utf16_rank(next_code_point(x, alen, &i));
		unsigned long rb = utf16_rank(next_code_point(y, blen, &j));
		if (ra != rb)
			return ra < rb ? -1 : 1;
	}
	if (i < alen || j < blen)
		return (i < alen) - (j < blen);
	/* Only malformed input decodes alike from different bytes; keep
	 * such strings apart so that neither is dropped as a duplicate. */
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

/* twilio-node's order of two parameters: by name, then (for a repeated
 * name) by value, both in UTF-16 code-unit order.  Two parameters compare
 * equal only when their names and values are the same bytes. */
static int param_cmp(const void *x, const void *y)
{
	const struct param *a = *(const struct param *const *)x;
	const struct param *b = *(const struct param *const *)y;
	int c = utf16_cmp(a->name, strlen(a->name), b->name, strlen(b->name));
	if (c != 0)
		return c;
	return utf16_cmp(a->value, a->value_len, b->value, b->value_len);
}

/* Appends the sorted parameters to s.  An identical (name, value) pair is
 * signed once, as the official validators do (they sort a set of values;
 * TWILIO.md's repeated-Digits vector depends on it). */
static void append_params(struct buf *s, const struct params *params)
{
	const struct param **sorted;
	if (params == NULL || params->n == 0)
		return;
	sorted = xcalloc(params->n, sizeof(*sorted));
	for (size_t i = 0; i < params->n; i++)
		sorted[i] = &params->v[i];
	qsort(sorted, params->n, sizeof(*sorted), param_cmp);
	for (size_t i = 0; i < params->n; i++) {
		if (i > 0 && param_cmp(&sorted[i - 1], &sorted[i]) == 0)
			continue;
		buf_puts(s, sorted[i]->name);
		buf_append(s, sorted[i]->value, sorted[i]->value_len);
	}
	free(sorted);
}

/* The process's one keyed HMAC (hmac_sha1).  A pool worker is single
 * threaded, but the library also signs from threads (the load tools,
 * the tests' floods): the lock makes the shared context safe there and
 * costs a pool worker one uncontended lock. */
static pthread_mutex_t hmac_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_MAC *hmac;
static EVP_MAC_CTX *keyed;
static char *keyed_with;

/* hmac_sha1 with hmac_lock held. */
static int hmac_sha1_locked(const char *key, const unsigned char *data, size_t len,
	unsigned char mac[EVP_MAX_MD_SIZE], size_t *mac_len)
{

	if (hmac == NULL && (hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return -1;
	if (keyed == NULL || strcmp(keyed_with, key) != 0) {
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0),
			OSSL_PARAM_construct_end(),
		};
		EVP_MAC_CTX_free(keyed);
		if (keyed_with) {
			OPENSSL_cleanse(keyed_with, strlen(keyed_with));
			free(keyed_with);
			keyed_with = NULL;
		}
		keyed = EVP_MAC_CTX_new(hmac);
		if (keyed == NULL ||
			EVP_MAC_init(keyed, (const unsigned char *)key, strlen(key), params) != 1) {
			EVP_MAC_CTX_free(keyed);
			keyed = NULL;
			return -1;
		}
		keyed_with = xstrdup(key);
	} else if (EVP_MAC_init(keyed, NULL, 0, NULL) != 1) {
		return -1; /* the same key again: only the state is reset */
	}
	if (EVP_MAC_update(keyed, data, len) != 1 ||
		EVP_MAC_final(keyed, mac, mac_len, EVP_MAX_MD_SIZE) != 1)
		return -1;
	return 0;
}

/* HMAC-SHA1 of data under key into mac (20 bytes); 0 or -1.  The MAC is
 * fetched once per process and keyed once per token (the pads hashed
 * once): a webhook costs the two hashes of its data, not a lookup of the
 * algorithm and a key schedule each time. */
static int hmac_sha1(const char *key, const unsigned char *data, size_t len,
	unsigned char mac[EVP_MAX_MD_SIZE], size_t *mac_len)
{
	int rc;

	pthread_mutex_lock(&hmac_lock);
	rc = hmac_sha1_locked(key, data, len, mac, mac_len);
	pthread_mutex_unlock(&hmac_lock);
	return rc;
}

/* See signature.h.  An empty or NULL token is refused: HMAC with an empty
 * key is computable by anyone. */
int signature_compute(const char *auth_token, const char *url,
	const struct params *params, char out[SIGNATURE_LEN + 1])
{
	struct buf s = BUF_INIT;
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t mac_len = 0;
	int rc = -1;

	out[0] = '\0';
	if (auth_token == NULL || auth_token[0] == '\0' || url == NULL)
		goto out;
	buf_puts(&s, url);
	append_params(&s, params);
	if (hmac_sha1(auth_token, (const unsigned char *)buf_str(&s), s.len, mac, &mac_len) < 0 ||
		mac_len != 20)
		goto out;
	if (EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len) != SIGNATURE_LEN)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		out[0] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
	buf_free(&s);
	return rc;
}

/* The URL's other accepted form (the port quirk), as a new malloc'd string
 * (caller frees), or NULL when it has none: with an explicit port, the URL
 * without it; without one, the URL with :443 (https) or :80 (http).  Only
 * the authority is touched; userinfo and IPv6 literals are respected. */
static char *port_variant(const char *url)
{
	const char *sep = strstr(url, "://");
	const char *auth, *end, *host, *colon = NULL;
	size_t scheme_len;

	if (sep == NULL)
		return NULL;
	scheme_len = (size_t)(sep - url);
	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	host = auth;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			host = p + 1;
	if (host < end && *host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));
		if (close == NULL)
			return NULL;
		if (close + 1 < end && close[1] == ':')
			colon = close + 1;
		else if (close + 1 != end)
			return NULL;
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
	}
	if (colon != NULL)
		return xasprintf("%.*s%s", (int)(colon - url), url, end);
	if (host == end)
		return NULL;
	if (scheme_len == 5 && strncasecmp(url, "https", 5) == 0)
		return xasprintf("%.*s:443%s", (int)(end - url), url, end);
	if (scheme_len == 4 && strncasecmp(url, "http", 4) == 0)
		return xasprintf("%.*s:80%s", (int)(end - url), url, end);
	return NULL;
}

/* Finds the first bodySHA256 in url's query string; sets *val and *len
 * and returns 1, or returns 0 when there is none. */
static int find_body_hash(const char *url, const char **val, size_t *len)
{
	static const char key[] = "bodySHA256=";
	const char *q = strchr(url, '?');
	const char *end;
	if (q == NULL)
		return 0;
	q++;
	end = q + strcspn(q, "#");
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *piece_end = amp ? amp : end;
		size_t n = (size_t)(piece_end - q);
		if (n >= sizeof(key) - 1 && memcmp(q, key, sizeof(key) - 1) == 0) {
			*val = q + sizeof(key) - 1;
			*len = n - (sizeof(key) - 1);
			return 1;
		}
		q = amp ? amp + 1 : end;
	}
	return 0;
}

/* 1 when hex (len bytes) is the SHA-256 of body in lower-case hex, the
 * only form twilio-node accepts (it compares the value with Node's
 * lower-case hex digest; an upper-case one is refused).  The comparison
 * is constant-time over the digest. */
static int body_hash_matches(const char *hex, size_t len, const char *body, size_t body_len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char want[SHA256_HEX_LEN + 1];

	if (len != SHA256_HEX_LEN || (body == NULL && body_len > 0))
		return 0;
	if (EVP_Digest(body_len ? body : "", body_len, md, &md_len, EVP_sha256(), NULL) != 1 ||
		md_len != 32)
		return 0;
	util_hex(md, md_len, want);
	return CRYPTO_memcmp(hex, want, SHA256_HEX_LEN) == 0;
}

/* 1 when header is the signature of url and params; a failure to compute
 * counts as a mismatch. */
static int signature_matches(const char *auth_token, const char *url,
	const struct params *params, const char *header, size_t header_len)
{
	char want[SIGNATURE_LEN + 1];
	if (signature_compute(auth_token, url, params, want) != 0)
		return 0;
	return util_ct_equal(want, SIGNATURE_LEN, header, header_len);
}

/* See signature.h.  Two refusals beyond the official validators: an
 * empty auth token never validates, and a non-form body that the URL
 * does not cover with bodySHA256 is SIGNATURE_BODY_MISMATCH, since
 * nothing would authenticate it.  The body hash is judged only once the
 * URL's signature is good, so a forged request is always "invalid". */
enum signature_verdict signature_validate(const char *auth_token, const char *url,
	const struct params *form, int is_form, const char *body, size_t body_len,
	const char *header)
{
	enum signature_verdict v = SIGNATURE_INVALID;
	const struct params *signed_params = is_form ? form : NULL;
	const char *hash = NULL;
	size_t hash_len = 0;
	int have_hash = 0, ok;
	char *variant = NULL;

	if (header == NULL || header[0] == '\0') {
		v = SIGNATURE_MISSING;
		goto out;
	}
	if (auth_token == NULL || auth_token[0] == '\0' || url == NULL)
		goto out;
	if (!is_form)
		have_hash = find_body_hash(url, &hash, &hash_len);
	variant = port_variant(url);
	/* Both forms are always computed so timing does not say which one
	 * matched. */
	ok = signature_matches(auth_token, url, signed_params, header, strlen(header));
	if (variant != NULL)
		ok |= signature_matches(auth_token, variant, signed_params, header,
			strlen(header));
	if (!ok)
		goto out;
	if (!is_form && (have_hash ? !body_hash_matches(hash, hash_len, body, body_len)
				   : body_len > 0)) {
		v = SIGNATURE_BODY_MISMATCH;
		goto out;
	}
	v = SIGNATURE_VALID;
out:
	free(variant);
	return v;
}

const char *signature_verdict_name(enum signature_verdict v)
{
	switch (v) {
	case SIGNATURE_VALID:
		return "valid";
	case SIGNATURE_MISSING:
		return "missing";
	case SIGNATURE_INVALID:
		return "invalid";
	case SIGNATURE_BODY_MISMATCH:
		return "body_mismatch";
	}
	return "unknown";
}

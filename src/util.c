/* util: allocation that aborts on failure, and small helpers. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libxml/xmlmemory.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
	static const char msg[] = "ringfence: out of memory\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		oom();
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p;
	n = strnlen(s, n); /* as strndup: never past the string's end */
	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	va_end(ap);
	return s;
}

void util_alloc_hooks_install(void)
{
	static int done;

	if (done)
		return;
	json_set_alloc_funcs(xmalloc, free);
	/* libxml2 may only change its allocators before it allocates. */
	if (xmlMemSetup(free, xmalloc, xrealloc, xstrdup) != 0) {
		static const char msg[] = "ringfence: cannot install libxml2's allocators\n";
		ssize_t r = write(2, msg, sizeof(msg) - 1);
		(void)r;
		abort();
	}
	done = 1;
}

int util_alloc_hooks_installed(void)
{
	json_malloc_t jm = NULL;
	json_free_t jf = NULL;
	xmlFreeFunc xf = NULL;
	xmlMallocFunc xm = NULL;
	xmlReallocFunc xr = NULL;
	xmlStrdupFunc xs = NULL;

	json_get_alloc_funcs(&jm, &jf);
	if (xmlMemGet(&xf, &xm, &xr, &xs) != 0)
		return 0;
	return jm == xmalloc && jf == free && xf == free && xm == xmalloc && xr == xrealloc &&
		xs == xstrdup;
}

int util_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const unsigned char *x = a, *y = b;
	unsigned char diff = (unsigned char)(alen != blen);
	size_t n = alen < blen ? alen : blen;
	for (size_t i = 0; i < n; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

char *util_read_file(const char *path, size_t max, size_t *len)
{
	char *data = NULL;
	struct stat st;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if ((size_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	data = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		got += (size_t)r;
	}
	data[got] = '\0';
	if (len)
		*len = got;
	close(fd);
	return data;
fail:
	{
		int e = errno;
		free(data);
		close(fd);
		errno = e;
	}
	return NULL;
}

int util_random(void *buf, size_t n)
{
	unsigned char *p = buf;
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

void util_hex(const unsigned char *src, size_t n, char *dst)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = digits[src[i] >> 4];
		dst[2 * i + 1] = digits[src[i] & 15];
	}
	dst[2 * n] = '\0';
}

int util_sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -1;
	util_hex(md, 32, hex);
	return 0;
}

int util_hmac_labelled(const char *secret, const char *label, const void *msg, size_t len,
	unsigned char mac[32])
{
	unsigned char key[EVP_MAX_MD_SIZE], out[EVP_MAX_MD_SIZE];
	unsigned int key_len = 0, out_len = 0;
	int rc = -1;

	if (secret == NULL)
		goto out;
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)label,
		    strlen(label), key, &key_len) == NULL || key_len != 32)
		goto out;
	if (HMAC(EVP_sha256(), key, (int)key_len, msg, len, out, &out_len) == NULL ||
		out_len != 32)
		goto out;
	memcpy(mac, out, 32);
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(out, sizeof(out));
	return rc;
}

long long util_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* secret: redaction of passwords and tokens in anything printed. */
#include "secret.h"
#include "form.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

int url_pct_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int v = form_pct_escape(s + i, n - i);
			if (v < 0)
				return -1;
			c = (char)v;
			i += 2;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

/* Where the userinfo's password of url lies: [*start, *end), or 0 when it
 * has none.  A userinfo without a colon counts whole as the password. */
static int url_password_span(const char *url, size_t *start, size_t *end)
{
	const char *s = strstr(url, "://"), *auth, *at, *colon;
	size_t n;

	if (s == NULL)
		return 0;
	auth = s + 3;
	/* The authority ends at the first '/', '?' or '#'; the userinfo at
	 * its last '@' (a password may hold an unescaped '@'). */
	n = strcspn(auth, "/?#");
	at = NULL;
	for (const char *p = auth; p < auth + n; p++)
		if (*p == '@')
			at = p;
	if (at == NULL) {
		/* unix://user:pass@/path: the authority is empty up to '@'. */
		const char *a2 = strchr(auth, '@');
		if (a2 == NULL || auth[0] == '/')
			return 0;
		at = a2;
	}
	colon = memchr(auth, ':', (size_t)(at - auth));
	*start = (size_t)((colon ? colon + 1 : auth) - url);
	*end = (size_t)(at - url);
	return *end > *start;
}

void url_redact(const char *url, char *out, size_t outlen)
{
	size_t st, en, o = 0, i = 0, len;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (url == NULL)
		return;
	len = strlen(url);
	if (!url_password_span(url, &st, &en))
		st = en = len + 1;
	while (i < len && o + 1 < outlen) {
		if (i == st) {
			for (const char *m = SECRET_MASK; *m && o + 1 < outlen; m++)
				out[o++] = *m;
			i = en;
			continue;
		}
		/* password=VALUE in a query (unix:///path?password=...) or in a
		 * keyword=value conninfo. */
		if (strncmp(url + i, "password=", 9) == 0 &&
			(i == 0 || url[i - 1] == '?' || url[i - 1] == '&' || url[i - 1] == ' ')) {
			for (size_t k = 0; k < 9 && o + 1 < outlen; k++)
				out[o++] = url[i++];
			for (const char *m = SECRET_MASK; *m && o + 1 < outlen; m++)
				out[o++] = *m;
			if (url[i] == '\'') {
				i++;
				while (i < len && url[i] != '\'')
					i += url[i] == '\\' && i + 1 < len ? 2 : 1;
				if (i < len)
					i++;
			} else {
				while (i < len && url[i] != '&' && url[i] != ' ' && url[i] != '#')
					i++;
			}
			continue;
		}
		out[o++] = url[i++];
	}
	out[o] = '\0';
}

void secret_scrub(char *buf, size_t buflen, const char *secret)
{
	size_t sl, ml = strlen(SECRET_MASK);
	char *p;

	if (buf == NULL || secret == NULL || (sl = strlen(secret)) == 0)
		return;
	p = buf;
	while ((p = strstr(p, secret)) != NULL) {
		size_t tail = strlen(p + sl);
		size_t pos = (size_t)(p - buf);
		/* The message may only shrink or stay within buflen. */
		if (pos + ml + tail + 1 > buflen)
			tail = buflen > pos + ml + 1 ? buflen - pos - ml - 1 : 0;
		if (pos + ml + 1 > buflen) {
			*p = '\0';
			return;
		}
		memmove(p + ml, p + sl, tail);
		p[ml + tail] = '\0';
		memcpy(p, SECRET_MASK, ml);
		p += ml;
	}
}

/* Scrubs the raw text of a password=VALUE keyword in s from buf. */
static void scrub_keyword_password(char *buf, size_t buflen, const char *s)
{
	const char *p = s;
	char raw[1024];

	while ((p = strstr(p, "password")) != NULL) {
		const char *v = p + 8;
		size_t n;
		while (*v == ' ')
			v++;
		if (*v != '=') {
			p += 8;
			continue;
		}
		v++;
		while (*v == ' ')
			v++;
		if (*v == '\'') {
			v++;
			n = strcspn(v, "'");
		} else {
			n = strcspn(v, " &#");
		}
		if (n > 0 && n < sizeof(raw)) {
			memcpy(raw, v, n);
			raw[n] = '\0';
			secret_scrub(buf, buflen, raw);
		}
		p = v;
	}
}

void secret_scrub_url(char *buf, size_t buflen, const char *url)
{
	char red[1024], raw[1024], dec[1024];
	size_t st, en;

	if (url == NULL || *url == '\0')
		return;
	url_redact(url, red, sizeof(red));
	if (strcmp(red, url) != 0) {
		/* The whole URL first, then any piece of it. */
		secret_scrub(buf, buflen, url);
		if (url_password_span(url, &st, &en) && en - st < sizeof(raw)) {
			memcpy(raw, url + st, en - st);
			raw[en - st] = '\0';
			secret_scrub(buf, buflen, raw);
			if (url_pct_decode(raw, strlen(raw), dec, sizeof(dec)) == 0)
				secret_scrub(buf, buflen, dec);
		}
		scrub_keyword_password(buf, buflen, url);
	}
}

void secret_scrub_conninfo(char *buf, size_t buflen, const char *conninfo)
{
	PQconninfoOption *opts;

	if (conninfo == NULL || *conninfo == '\0')
		return;
	secret_scrub_url(buf, buflen, conninfo);
	scrub_keyword_password(buf, buflen, conninfo);
	opts = PQconninfoParse(conninfo, NULL);
	if (opts) {
		for (PQconninfoOption *o = opts; o->keyword; o++)
			if (strcmp(o->keyword, "password") == 0 && o->val)
				secret_scrub(buf, buflen, o->val);
		PQconninfoFree(opts);
	}
}

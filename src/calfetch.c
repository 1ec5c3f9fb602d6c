/* calfetch: fetching a calendar feed with libcurl, safely (calfetch.h).
 *
 * Each hop is one request on a handle set up by curl_easy_defaults (no
 * redirects followed by libcurl, timeouts, TLS verification), so that
 * this module sees every redirect and checks the next address as it
 * checked the first.  The address a connection goes to is checked in
 * CURLOPT_OPENSOCKETFUNCTION, after the name is resolved and before the
 * socket exists: a name that resolves to 127.0.0.1 or 10.x (DNS
 * rebinding included) reaches nothing.  Proxies from the environment are
 * not used (the check would then see the proxy's address). */
#include "calfetch.h"

#include "curl_easy.h"
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define URL_MAX 2048

/* One hop's state, shared with libcurl's callbacks. */
struct hop {
	CURL *c;
	const struct calfetch_req *req;
	struct calfetch_res *res;
	char *body;
	size_t len, cap;
	int too_big, not_calendar, blocked, checked_type;
	char type[128];
};

static void set_error(struct calfetch_res *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_error(struct calfetch_res *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof res->error, fmt, ap);
	va_end(ap);
}

/* 1 when an IPv4 address (host order) must not be reached. */
static int ipv4_blocked(uint32_t a)
{
	return (a >> 24) == 0 ||           /* 0.0.0.0/8: unspecified, "this network" */
		(a >> 24) == 127 ||         /* loopback */
		(a >> 24) == 10 ||          /* RFC 1918 */
		(a >> 20) == 0xac1 ||       /* 172.16.0.0/12 */
		(a >> 16) == 0xc0a8 ||      /* 192.168.0.0/16 */
		(a >> 16) == 0xa9fe ||      /* 169.254.0.0/16: link-local (cloud metadata) */
		(a >> 22) == 0x191 ||       /* 100.64.0.0/10: shared address space */
		(a >> 8) == 0xc00000 ||     /* 192.0.0.0/24: IETF protocol assignments */
		(a >> 17) == 0x6309 ||      /* 198.18.0.0/15: benchmarking */
		(a >> 28) >= 0xe;           /* multicast, reserved, broadcast */
}

/* 1 when an address must not be reached from a feed URL.  The address
 * is copied out of sa by bytes (sa points to a sockaddr_in or
 * sockaddr_in6, not to a struct sockaddr). */
int calfetch_address_blocked(const struct sockaddr *sa)
{
	sa_family_t family;
	memcpy(&family, (const char *)sa + offsetof(struct sockaddr, sa_family), sizeof family);
	if (family == AF_INET) {
		struct sockaddr_in in;
		memcpy(&in, sa, sizeof in);
		return ipv4_blocked(ntohl(in.sin_addr.s_addr));
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 in6;
		const unsigned char *b;
		static const unsigned char zero[16];
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		memcpy(&in6, sa, sizeof in6);
		b = in6.sin6_addr.s6_addr;
		if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1)) /* :: and ::1 */
			return 1;
		if (memcmp(b, mapped, 12) == 0 || memcmp(b, zero, 12) == 0) {
			/* ::ffff:a.b.c.d and ::a.b.c.d: the IPv4 address decides */
			uint32_t a = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
				(uint32_t)b[14] << 8 | b[15];
			return ipv4_blocked(a);
		}
		return (b[0] & 0xfe) == 0xfc ||                /* fc00::/7: unique local */
			(b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* fe80::/10: link-local */
			(b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) || /* fec0::/10: site-local */
			b[0] == 0xff ||                        /* multicast */
			(b[0] == 0x20 && b[1] == 0x02) ||      /* 6to4: may wrap any IPv4 */
			(b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) || /* Teredo */
			(b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b); /* NAT64 */
	}
	return 1; /* anything but IP */
}

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct hop *h = clientp;
	if (purpose != CURLSOCKTYPE_IPCXN || calfetch_address_blocked(&addr->addr)) {
		h->blocked = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* 1 for a Content-Type a calendar may come with. */
static int calendar_type(const char *type)
{
	static const char *const ok[] = { "text/calendar", "text/plain", "application/octet-stream",
		"application/ics", "application/x-ics", "text/x-vcalendar", "application/calendar",
		"text/x-calendar" };
	size_t n = strcspn(type, "; \t");
	if (n == 0)
		return 1;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strlen(ok[i]) == n && strncasecmp(type, ok[i], n) == 0)
			return 1;
	return 0;
}

/* Checks the final response's Content-Type once; 0 when refused. */
static int check_type(struct hop *h)
{
	char *type = NULL;
	if (h->checked_type)
		return !h->not_calendar;
	h->checked_type = 1;
	if (curl_easy_getinfo(h->c, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != NULL) {
		snprintf(h->type, sizeof h->type, "%s", type);
		if (!calendar_type(type))
			h->not_calendar = 1;
	}
	return !h->not_calendar;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct hop *h = userdata;
	size_t n = size * nmemb;
	long code = 0;

	curl_easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299)
		return n; /* a redirect's or an error's body: not kept */
	if (!check_type(h))
		return 0;
	if (n > h->req->max_bytes - h->len) {
		h->too_big = 1;
		return 0; /* stops the transfer at the cap */
	}
	if (h->len + n + 1 > h->cap) {
		size_t cap = h->cap ? h->cap : 64 * 1024;
		while (cap < h->len + n + 1)
			cap *= 2;
		if (cap > h->req->max_bytes + 1)
			cap = h->req->max_bytes + 1;
		h->body = xrealloc(h->body, cap);
		h->cap = cap;
	}
	memcpy(h->body + h->len, data, n);
	h->len += n;
	h->body[h->len] = '\0';
	return n;
}

/* Copies a header's value (trimmed) into out when it fits, else "". */
static void header_value(const char *v, size_t n, char *out, size_t outlen)
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= outlen) {
		out[0] = '\0';
		return;
	}
	memcpy(out, v, n);
	out[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f) {
			/* Stored (a text column: UTF-8 only) and sent back later:
			 * only printable ASCII.  HTTP's obs-text (a Latin-1 byte)
			 * drops the validator; the content's hash still spares a
			 * needless apply. */
			out[0] = '\0';
			return;
		}
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct hop *h = userdata;
	size_t n = size * nmemb;
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		h->res->etag[0] = '\0';
		h->res->last_modified[0] = '\0';
	} else if (n > 5 && strncasecmp(data, "ETag:", 5) == 0) {
		header_value(data + 5, n - 5, h->res->etag, sizeof h->res->etag);
	} else if (n > 14 && strncasecmp(data, "Last-Modified:", 14) == 0) {
		header_value(data + 14, n - 14, h->res->last_modified, sizeof h->res->last_modified);
	}
	return n;
}

/* Checks url and writes the URL to request into out (webcal:// as
 * https://).  -1 with res->error set when it is refused. */
static int check_url(const char *url, int allow_http, char *out, size_t outlen,
	struct calfetch_res *res)
{
	CURLU *u;
	char *scheme = NULL, *user = NULL, *pass = NULL, *full = NULL;
	int rc = -1;

	if (url == NULL || *url == '\0' || strlen(url) > URL_MAX) {
		set_error(res, "the address is empty or longer than %d characters", URL_MAX);
		return -1;
	}
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			set_error(res, "the address holds a space or a control character");
			return -1;
		}
	u = curl_url();
	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		set_error(res, "the address is not a web address");
		goto out;
	}
	if (strcasecmp(scheme, "webcal") == 0 || strcasecmp(scheme, "webcals") == 0) {
		if (curl_url_set(u, CURLUPART_SCHEME, "https", 0) != CURLUE_OK) {
			set_error(res, "the address is not a web address");
			goto out;
		}
	} else if (strcasecmp(scheme, "https") != 0 &&
		!(allow_http && strcasecmp(scheme, "http") == 0)) {
		set_error(res, "only https:// (or webcal://) addresses are accepted, not %.20s://", scheme);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
		curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
		set_error(res, "the address holds a user name or password; use the calendar's secret address instead");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK || strlen(full) >= outlen) {
		set_error(res, "the address is not a web address");
		goto out;
	}
	memcpy(out, full, strlen(full) + 1);
	rc = 0;
out:
	curl_free(scheme);
	curl_free(user);
	curl_free(pass);
	curl_free(full);
	curl_url_cleanup(u);
	return rc;
}

/* One request to url within ms; fills h; the curl result. */
static CURLcode one_hop(struct hop *h, const char *url, long ms, char *errbuf)
{
	const struct calfetch_req *req = h->req;
	struct curl_slist *hdr = NULL;
	char line[512];
	CURLcode rc;
	long connect_ms = req->connect_ms < ms ? req->connect_ms : ms;

	h->c = curl_easy_new();
	if (h->c == NULL)
		return CURLE_FAILED_INIT;
	if (curl_easy_defaults(h->c, CURL_EASY_HTTP, connect_ms, ms, errbuf) < 0) {
		curl_easy_cleanup(h->c);
		h->c = NULL;
		return CURLE_FAILED_INIT;
	}
	hdr = curl_slist_append(hdr, "Accept: text/calendar, text/plain;q=0.5, */*;q=0.1");
	if (req->etag != NULL && *req->etag && strlen(req->etag) < 400 && !strpbrk(req->etag, "\r\n")) {
		snprintf(line, sizeof line, "If-None-Match: %s", req->etag);
		hdr = curl_slist_append(hdr, line);
	}
	if (req->last_modified != NULL && *req->last_modified && strlen(req->last_modified) < 100 &&
		!strpbrk(req->last_modified, "\r\n")) {
		snprintf(line, sizeof line, "If-Modified-Since: %s", req->last_modified);
		hdr = curl_slist_append(hdr, line);
	}
	if (curl_easy_setopt(h->c, CURLOPT_URL, url) != CURLE_OK ||
		curl_easy_setopt(h->c, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
		curl_easy_setopt(h->c, CURLOPT_USERAGENT, "ringfence-calsync/1") != CURLE_OK ||
		curl_easy_setopt(h->c, CURLOPT_PROXY, "") != CURLE_OK ||
		curl_easy_setopt(h->c, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK ||
		curl_easy_setopt(h->c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_bytes) != CURLE_OK ||
		curl_easy_setopt(h->c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
		curl_easy_setopt(h->c, CURLOPT_WRITEDATA, h) != CURLE_OK ||
		curl_easy_setopt(h->c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
		curl_easy_setopt(h->c, CURLOPT_HEADERDATA, h) != CURLE_OK ||
		(!req->allow_http &&
			(curl_easy_setopt(h->c, CURLOPT_OPENSOCKETFUNCTION, open_socket) != CURLE_OK ||
				curl_easy_setopt(h->c, CURLOPT_OPENSOCKETDATA, h) != CURLE_OK))) {
		rc = CURLE_FAILED_INIT;
	} else {
		rc = curl_easy_perform(h->c);
	}
	curl_slist_free_all(hdr);
	return rc;
}

static void hop_error(struct hop *h, CURLcode rc, const char *errbuf, long total_ms)
{
	struct calfetch_res *res = h->res;
	if (h->blocked)
		set_error(res, "the address leads to a private or local network, which a calendar feed may not use");
	else if (h->not_calendar && strncasecmp(h->type, "text/html", 9) == 0)
		set_error(res, "the address gives a web page, not a calendar");
	else if (h->not_calendar)
		set_error(res, "the address gives %.60s, not a calendar", h->type);
	else if (h->too_big || rc == CURLE_FILESIZE_EXCEEDED)
		set_error(res, "the calendar is larger than %zu bytes", h->req->max_bytes);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		set_error(res, "the calendar server did not answer within %ld ms", total_ms);
	else if (rc == CURLE_COULDNT_RESOLVE_HOST)
		set_error(res, "the server's name cannot be found");
	else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
		rc == CURLE_SSL_CACERT_BADFILE)
		set_error(res, "no secure connection to the server (%.120s)",
			errbuf[0] ? errbuf : curl_easy_strerror(rc));
	else
		set_error(res, "cannot fetch the calendar: %.180s",
			errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

int calfetch_get(const struct calfetch_req *req, struct calfetch_res *res)
{
	char url[URL_MAX + 64], next[URL_MAX + 64], errbuf[CURL_ERROR_SIZE];
	char **seen;
	int hops = 0, rc = -1;
	long long start = util_now_ms();

	memset(res, 0, sizeof *res);
	if (req == NULL || req->max_bytes == 0 || req->connect_ms <= 0 || req->total_ms <= 0 ||
		req->max_redirects < 0 || req->max_redirects > CALFETCH_MAX_REDIRECTS) {
		set_error(res, "the request has no size limit or timeout, or too many redirects allowed");
		return -1;
	}
	if (check_url(req->url, req->allow_http, url, sizeof url, res) < 0)
		return -1;
	seen = xcalloc((size_t)req->max_redirects + 2, sizeof *seen);
	seen[0] = xstrdup(url);
	for (;;) {
		struct hop h;
		long code = 0, left = req->total_ms - (long)(util_now_ms() - start);
		char *loc = NULL;
		CURLcode cr;

		if (left <= 0) {
			set_error(res, "the calendar server did not answer within %ld ms", req->total_ms);
			break;
		}
		memset(&h, 0, sizeof h);
		next[0] = '\0';
		h.req = req;
		h.res = res;
		errbuf[0] = '\0';
		cr = one_hop(&h, url, left, errbuf);
		if (h.c != NULL)
			curl_easy_getinfo(h.c, CURLINFO_RESPONSE_CODE, &code);
		res->status = (int)code;
		if (cr == CURLE_OK && code >= 200 && code <= 299 && !check_type(&h))
			cr = CURLE_WRITE_ERROR;
		if (cr != CURLE_OK) {
			hop_error(&h, cr, errbuf, req->total_ms);
		} else if (code == 304) {
			res->not_modified = 1;
			rc = 0;
		} else if (code >= 200 && code <= 299) {
			res->body = h.body ? h.body : xstrdup("");
			res->len = h.len;
			h.body = NULL;
			rc = 0;
		} else if (code >= 300 && code <= 399 && code != 304 &&
			curl_easy_getinfo(h.c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc != NULL) {
			if (strlen(loc) < sizeof next)
				memcpy(next, loc, strlen(loc) + 1);
			else
				next[0] = '\0';
		} else if (code >= 300 && code <= 399) {
			set_error(res, "HTTP %ld without a Location to go to", code);
		} else {
			set_error(res, "HTTP %ld%s", code,
				code == 404 || code == 410 ? ": no calendar at this address (was it reset?)" :
				code == 401 || code == 403 ? ": the calendar is not public at this address" : "");
		}
		free(h.body);
		if (h.c != NULL)
			curl_easy_cleanup(h.c);
		if (rc == 0 || res->error[0] != '\0')
			break;
		/* a redirect: the next address is checked like the first */
		if (next[0] == '\0' || check_url(next, req->allow_http, url, sizeof url, res) < 0) {
			if (res->error[0] == '\0')
				set_error(res, "the redirect's address is too long");
			break;
		}
		for (int i = 0; i <= hops; i++)
			if (strcmp(seen[i], url) == 0) {
				set_error(res, "the address redirects in a loop");
				break;
			}
		if (res->error[0] != '\0')
			break;
		if (++hops > req->max_redirects) {
			set_error(res, "the address redirects more than %d times", req->max_redirects);
			break;
		}
		seen[hops] = xstrdup(url);
	}
	for (int i = 0; i <= req->max_redirects + 1; i++)
		free(seen[i]);
	free(seen);
	if (rc < 0) {
		free(res->body);
		res->body = NULL;
		res->len = 0;
		res->not_modified = 0;
	}
	return rc;
}

void calfetch_res_free(struct calfetch_res *res)
{
	if (res == NULL)
		return;
	free(res->body);
	res->body = NULL;
	res->len = 0;
}

void calfetch_mask_url(const char *url, char *out, size_t outlen)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL;
	if (outlen == 0)
		return;
	out[0] = '\0';
	if (url == NULL || strlen(url) > URL_MAX)
		return;
	u = curl_url();
	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		int n = snprintf(out, outlen, "%s://%s/\xe2\x80\xa6", scheme, host);
		if (n < 0 || (size_t)n >= outlen)
			out[0] = '\0';
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
}

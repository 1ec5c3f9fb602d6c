/* calfetch: fetching a calendar feed (the secret iCalendar address a
 * business pastes in) with libcurl, safely.
 *
 * The URL comes from a customer, so the request is treated as hostile:
 * https only (webcal:// is https://), no credentials in the URL, the
 * address connected to never loopback, private, link-local or
 * unspecified (a feed must not reach the server's own network), every
 * redirect hop checked again, the body capped while it is read, the
 * time bounded.  Conditional GET (ETag / Last-Modified) so that an
 * unchanged feed costs a 304. */
#ifndef RF_CALFETCH_H
#define RF_CALFETCH_H

#include <stddef.h>

#define CALFETCH_MAX_REDIRECTS 20

struct calfetch_req {
	const char *url;           /* https://, webcal:// (as https://), http:// when allow_http */
	const char *etag;          /* sent as If-None-Match; NULL/"" for none */
	const char *last_modified; /* sent as If-Modified-Since; NULL/"" for none */
	size_t max_bytes;          /* the largest body accepted */
	long connect_ms, total_ms; /* timeouts (positive); total_ms covers every hop */
	int max_redirects;         /* hops followed (0: none; at most CALFETCH_MAX_REDIRECTS) */
	int allow_http;            /* development/test: http:// and loopback allowed */
};

struct calfetch_res {
	int status;             /* HTTP status of the final response; 0 = none */
	int not_modified;       /* 304 */
	char *body;             /* NUL-terminated copy; NULL on 304/error */
	size_t len;
	char etag[256], last_modified[64]; /* of the final response, "" when absent */
	char error[256];        /* "" on success; else one line a business owner understands */
};

/* Conditional GET (If-None-Match / If-Modified-Since), through
 * curl_easy.h's defaults (curl_easy_new/curl_easy_defaults; extend
 * curl_easy if needed, do not bypass it).  Redirects followed by hand
 * or by libcurl up to max_redirects; every hop re-checked.  Refusals
 * (error set, body NULL, returns -1): a scheme other than https (http
 * too when allow_http), credentials in the URL, a body over max_bytes
 * (stop reading at the cap, do not buffer 50 MB), a non-2xx/304
 * status ("HTTP 500"), a timeout, a redirect loop or too many
 * redirects, a Content-Type that is clearly not a calendar (text/html:
 * "the address gives a web page, not a calendar"; accept text/calendar,
 * text/plain, application/octet-stream, application/ics and none).
 * Unless allow_http, the address connected to must not be loopback,
 * private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10) or
 * unspecified (CURLOPT_OPENSOCKETFUNCTION or the resolved address
 * checked before connecting): a feed URL must not reach the server's
 * own network.  webcal:// is accepted as https://.  Returns 0/-1.
 * res is cleared first; free it with calfetch_res_free either way. */
int calfetch_get(const struct calfetch_req *req, struct calfetch_res *res);
void calfetch_res_free(struct calfetch_res *res);

/* 1 when sa (AF_INET or AF_INET6) is an address a feed URL must not
 * reach: unspecified, loopback, private (RFC 1918, 100.64/10, fc00::/7),
 * link-local (169.254/16, fe80::/10), multicast or reserved, or an IPv6
 * form that wraps such an IPv4 address (::ffff:10.0.0.1).  Any other
 * family: 1. */
struct sockaddr;
int calfetch_address_blocked(const struct sockaddr *sa);

/* A URL shown to people: scheme and host and "…" (the path of a
 * secret iCalendar address is the secret).  "https://calendar.google.com/…";
 * out is "" when url is not a URL.  outlen >= 1. */
void calfetch_mask_url(const char *url, char *out, size_t outlen);

#endif

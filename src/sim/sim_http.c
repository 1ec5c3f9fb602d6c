/* sim_http: the simulator's outgoing requests, made as Twilio makes them.
 *
 * One curl easy handle per request: the simulator makes a few requests
 * per call, and a fresh handle carries no state (cookies, connections,
 * redirects) from one call into another.  Every request has a total
 * timeout, follows no redirect (Twilio does not either: a 3xx is an
 * answer like any other), speaks only http and https, and keeps at most
 * SIM_HTTP_MAX_RESPONSE bytes of the answer. */
#include "sim/sim_http.h"
#include "curl_easy.h"
#include "form.h"
#include "signature.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define USER_AGENT "TwilioProxy/1.1"

void sim_http_response_init(struct sim_http_response *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
}

void sim_http_response_free(struct sim_http_response *r)
{
	buf_free(&r->body);
	buf_init(&r->body);
}

/* Empties r for a new request, keeping its body's memory. */
static void response_reset(struct sim_http_response *r)
{
	buf_reset(&r->body);
	r->status = 0;
	r->content_type[0] = '\0';
	r->timed_out = 0;
	r->no_connection = 0;
	r->error[0] = '\0';
	r->elapsed_ms = 0;
}

struct sink {
	struct buf *body;
	size_t max;
	int too_large;
	int keep_going; /* 1: drop what is over max and read on */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb;
	if (s->body->len + n > s->max) {
		size_t room = s->max - s->body->len;
		buf_append(s->body, data, room);
		s->too_large = 1;
		return s->keep_going ? n : 0;
	}
	buf_append(s->body, data, n);
	return n;
}

static int is_http_url(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* Performs one request.  body NULL: a GET.  signature NULL: unsigned.
 * keep_going: a body over the cap is cut, not a failure.  0 when an
 * HTTP answer came, -1 otherwise (r->error). */
static int perform(const char *url, const char *body, const char *signature, int timeout_ms,
	int keep_going, struct sim_http_response *r)
{
	CURL *c = NULL;
	struct curl_slist *hdrs = NULL;
	struct sink sink = { &r->body, SIM_HTTP_MAX_RESPONSE, 0, keep_going };
	char errbuf[CURL_ERROR_SIZE] = "";
	long long t0 = util_now_ms();
	CURLcode rc;
	long status = 0;
	char *ct = NULL;
	int ret = -1;

	if (!is_http_url(url)) {
		snprintf(r->error, sizeof(r->error), "not an http(s) URL: %.200s", url);
		goto out;
	}
	if (timeout_ms <= 0) {
		snprintf(r->error, sizeof(r->error), "timeout must be positive");
		goto out;
	}
	if ((c = curl_easy_new()) == NULL) {
		snprintf(r->error, sizeof(r->error), "curl could not be initialised");
		goto out;
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	hdrs = curl_slist_append(hdrs, "Accept: */*");
	if (body)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
	if (signature) {
		char h[64];
		snprintf(h, sizeof(h), "X-Twilio-Signature: %s", signature);
		hdrs = curl_slist_append(hdrs, h);
	}
	if (hdrs == NULL) {
		snprintf(r->error, sizeof(r->error), "curl could not build the headers");
		goto out;
	}
	if (curl_easy_defaults(c, CURL_EASY_HTTP, timeout_ms, timeout_ms, errbuf) != 0 ||
		curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink) != CURLE_OK) {
		snprintf(r->error, sizeof(r->error), "curl refused an option");
		goto out;
	}
	if (body) {
		if (curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body)) != CURLE_OK) {
			snprintf(r->error, sizeof(r->error), "curl refused the body");
			goto out;
		}
	}
	rc = curl_easy_perform(c);
	r->elapsed_ms = util_now_ms() - t0;
	if (rc == CURLE_WRITE_ERROR && sink.too_large) {
		snprintf(r->error, sizeof(r->error), "response larger than %d bytes", SIM_HTTP_MAX_RESPONSE);
		goto out;
	}
	if (rc != CURLE_OK) {
		r->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
		r->no_connection = rc == CURLE_COULDNT_CONNECT;
		snprintf(r->error, sizeof(r->error), "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status <= 0) {
		snprintf(r->error, sizeof(r->error), "no HTTP status in the answer");
		goto out;
	}
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(r->content_type, sizeof(r->content_type), "%s", ct);
	r->status = (int)status;
	ret = 0;
out:
	if (ret < 0)
		r->status = 0;
	if (r->elapsed_ms == 0)
		r->elapsed_ms = util_now_ms() - t0;
	curl_slist_free_all(hdrs);
	if (c)
		curl_easy_cleanup(c);
	return ret;
}

/* See sim_http.h.  For GET the URL signed is the URL requested, with the
 * parameters in its query; for POST it is url followed by the sorted
 * parameters (signature_compute). */
int sim_http_request(const char *method, const char *url, const struct params *params,
	const char *auth_token, int timeout_ms, struct sim_http_response *r)
{
	struct buf form = BUF_INIT, full = BUF_INIT;
	char sig[SIGNATURE_LEN + 1];
	int is_get, ret = -1;

	response_reset(r);
	if (method == NULL || (strcmp(method, "POST") != 0 && strcmp(method, "GET") != 0)) {
		snprintf(r->error, sizeof(r->error), "method must be GET or POST, not '%.20s'",
			method ? method : "(none)");
		goto out;
	}
	is_get = method[0] == 'G';
	form_encode_params(&form, params);
	buf_puts(&full, url);
	if (is_get && form.len > 0) {
		buf_putc(&full, strchr(url, '?') ? '&' : '?');
		buf_puts(&full, buf_str(&form));
	}
	if (auth_token && signature_compute(auth_token, buf_str(&full), is_get ? NULL : params, sig) < 0) {
		snprintf(r->error, sizeof(r->error), "cannot compute the request's signature");
		goto out;
	}
	ret = perform(buf_str(&full), is_get ? NULL : buf_str(&form), auth_token ? sig : NULL,
		timeout_ms, 0, r);
out:
	buf_free(&form);
	buf_free(&full);
	return ret;
}

/* See sim_http.h.  Audio may be larger than SIM_HTTP_MAX_RESPONSE: the
 * body is kept up to the cap and the rest read and dropped, which is no
 * failure (Play needs the answer's status and type, not the sound). */
int sim_http_get(const char *url, int timeout_ms, struct sim_http_response *r)
{
	response_reset(r);
	return perform(url, NULL, NULL, timeout_ms, 1, r);
}

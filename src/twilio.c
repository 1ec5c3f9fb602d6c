/* twilio: the REST client for Calls.json and Messages.json.
 *
 * One curl easy handle per request, like sim_http: a few requests per
 * second at most, and a fresh handle carries no state between them.
 * Nothing here decides whether a contact may happen; see twilio.h. */
#include "twilio.h"
#include "curl_easy.h"
#include "audit.h"
#include "buf.h"
#include "config.h"
#include "form.h"
#include "log.h"
#include "outbound_grant.h"
#include "util.h"
#include "valid.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The product's one E.164 rule (valid_e164) for a C string; NULL is not. */
static int e164(const char *s)
{
	return s != NULL && valid_e164(s, strlen(s));
}

#define TWILIO_CONNECT_TIMEOUT_MS 5000L
#define TWILIO_TOTAL_TIMEOUT_MS 15000L
#define TWILIO_MAX_RESPONSE (1024 * 1024)
#define TWILIO_MAX_BODY 1600        /* characters Twilio accepts in a message Body */
#define TWILIO_FIND_PAGE_SIZE_STR "100"
#define TWILIO_LIST_MAX_PAGES 5000
#define TWILIO_FIND_MAX_PAGES 50
#define TWILIO_USER_AGENT "ringfence/1 (libcurl)"
#define TWILIO_NO_GRANT "no grant from outbound_send for this number: only the send function," \
	" past its guards, may contact anyone"

/* See twilio.h. */
void twilio_result_free(struct twilio_result *r)
{
	if (r == NULL)
		return;
	free(r->request_redacted);
	free(r->response_body);
	memset(r, 0, sizeof(*r));
}

static void twilio_param(struct buf *b, const char *name, const char *value)
{
	if (b->len > 0)
		buf_putc(b, '&');
	form_encode(b, name, strlen(name));
	buf_putc(b, '=');
	form_encode(b, value, strlen(value));
}

/* A copy of s with every occurrence of secret (when non-empty) and every
 * secret registered with audit_add_secret replaced by "[redacted]";
 * caller frees. */
static char *twilio_redact(const char *s, const char *secret)
{
	struct buf b = BUF_INIT;
	char *out;
	size_t sl = secret ? strlen(secret) : 0;
	const char *p = s, *hit;

	if (sl > 0) {
		while ((hit = strstr(p, secret)) != NULL) {
			buf_append(&b, p, (size_t)(hit - p));
			buf_puts(&b, "[redacted]");
			p = hit + sl;
		}
	}
	buf_puts(&b, p);
	out = audit_redact(buf_str(&b));
	buf_free(&b);
	return out;
}

/* Characters (UTF-8 code points) in s. */
static size_t twilio_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static int twilio_is_http_url(const char *s)
{
	return s && (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0);
}

/* cfg has what every request needs; 0, or -1 with the reason in why. */
static int twilio_check_cfg(const struct config *cfg, char *why, size_t whylen)
{
	if (cfg == NULL || cfg->account_sid == NULL || cfg->account_sid[0] == '\0' ||
		cfg->auth_token == NULL || cfg->auth_token[0] == '\0') {
		snprintf(why, whylen, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required");
		return -1;
	}
	if (!twilio_is_http_url(cfg->api_url)) {
		snprintf(why, whylen, "TWILIO_API_URL is not an http(s) URL");
		return -1;
	}
	for (const char *p = cfg->account_sid; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
			snprintf(why, whylen, "TWILIO_ACCOUNT_SID is malformed");
			return -1;
		}
	return 0;
}

struct twilio_sink {
	struct buf *body;
	int too_large;
};

static size_t twilio_on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct twilio_sink *s = userdata;
	size_t n = size * nmemb;
	if (s->body->len + n > TWILIO_MAX_RESPONSE) {
		s->too_large = 1;
		return 0;
	}
	buf_append(s->body, data, n);
	return n;
}

/* One HTTP exchange with Twilio: a POST of form when form != NULL, else a
 * GET.  Returns 0 with *status and body filled when an HTTP answer came,
 * -1 with the reason in why (and *timed_out) otherwise. */
static int twilio_http(const struct config *cfg, const char *url, const char *form,
	long *status, struct buf *body, long long *elapsed_ms, int *timed_out,
	char *why, size_t whylen)
{
	CURL *c = NULL;
	struct curl_slist *hdrs = NULL;
	struct twilio_sink sink = { body, 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	long long t0 = util_now_ms();
	CURLcode rc;
	int ret = -1;

	*status = 0;
	*timed_out = 0;
	if ((c = curl_easy_new()) == NULL) {
		snprintf(why, whylen, "curl could not be initialised");
		goto out;
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (form)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
	if (hdrs == NULL) {
		snprintf(why, whylen, "curl could not build the headers");
		goto out;
	}
	if (curl_easy_defaults(c, CURL_EASY_HTTP, TWILIO_CONNECT_TIMEOUT_MS, TWILIO_TOTAL_TIMEOUT_MS,
		    errbuf) < 0 ||
		curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_USERNAME, cfg->account_sid) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->auth_token) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_USERAGENT, TWILIO_USER_AGENT) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, twilio_on_body) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink) != CURLE_OK) {
		snprintf(why, whylen, "curl refused an option");
		goto out;
	}
	if (form && (curl_easy_setopt(c, CURLOPT_POSTFIELDS, form) != CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(form)) != CURLE_OK)) {
		snprintf(why, whylen, "curl refused the body");
		goto out;
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		*timed_out = rc == CURLE_OPERATION_TIMEDOUT;
		if (rc == CURLE_WRITE_ERROR && sink.too_large)
			snprintf(why, whylen, "answer larger than %d bytes", TWILIO_MAX_RESPONSE);
		else
			snprintf(why, whylen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status) != CURLE_OK || *status <= 0) {
		snprintf(why, whylen, "no HTTP status in the answer");
		goto out;
	}
	ret = 0;
out:
	*elapsed_ms = util_now_ms() - t0;
	curl_slist_free_all(hdrs);
	if (c)
		curl_easy_cleanup(c);
	return ret;
}

/* Classifies one answer into out (see twilio.h for the rules). */
static void twilio_classify(long status, const char *body, struct twilio_result *out)
{
	json_error_t jerr;
	json_t *j = json_loads(body, 0, &jerr);
	json_t *v;

	out->http_status = (int)status;
	if (status >= 200 && status < 300) {
		v = json_is_object(j) ? json_object_get(j, "sid") : NULL;
		if (json_is_string(v) && json_string_length(v) > 0 &&
			json_string_length(v) < sizeof(out->sid)) {
			out->outcome = TWILIO_OK;
			snprintf(out->sid, sizeof(out->sid), "%s", json_string_value(v));
			v = json_object_get(j, "status");
			if (json_is_string(v))
				snprintf(out->status, sizeof(out->status), "%s", json_string_value(v));
		} else {
			out->outcome = TWILIO_UNKNOWN;
			snprintf(out->error_message, sizeof(out->error_message),
				"HTTP %ld without a readable sid", status);
		}
		goto out;
	}
	if (status >= 400 && status < 500) {
		v = json_is_object(j) ? json_object_get(j, "code") : NULL;
		if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < 1000000) {
			out->outcome = TWILIO_REJECTED;
			out->error_code = (int)json_integer_value(v);
			v = json_object_get(j, "message");
			snprintf(out->error_message, sizeof(out->error_message), "%s",
				json_is_string(v) ? json_string_value(v) : "");
		} else if (status == 429) {
			/* Too many requests is a refusal whatever the body says. */
			out->outcome = TWILIO_REJECTED;
			out->error_code = 20429;
			snprintf(out->error_message, sizeof(out->error_message), "Too Many Requests");
		} else {
			out->outcome = TWILIO_UNKNOWN;
			snprintf(out->error_message, sizeof(out->error_message),
				"HTTP %ld without Twilio's error JSON", status);
		}
		goto out;
	}
	out->outcome = TWILIO_UNKNOWN;
	snprintf(out->error_message, sizeof(out->error_message), "HTTP %ld from Twilio", status);
out:
	json_decref(j);
}

/* See twilio.h. */
int twilio_sid_valid(const char *kind, const char *s)
{
	if (kind == NULL || s == NULL || strlen(s) != 34)
		return 0;
	if (strcmp(kind, "calls") == 0 ? strncmp(s, "CA", 2) != 0
		: strcmp(kind, "messages") == 0 ? strncmp(s, "SM", 2) != 0 && strncmp(s, "MM", 2) != 0
		: 1)
		return 0;
	for (size_t i = 2; i < 34; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
			    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

/* An unknown outcome whose answer still names the new resource (a 5xx
 * that carries its JSON, a 2xx whose body is cut short but parses): the
 * sid goes to out->sid so the reconciler can fetch it.  Only a whole,
 * well-formed sid of the right kind is kept. */
static void twilio_keep_sid(const char *kind, const char *body, struct twilio_result *out)
{
	json_t *j = json_loads(body, 0, NULL);
	json_t *v = json_is_object(j) ? json_object_get(j, "sid") : NULL;

	if (json_is_string(v) && twilio_sid_valid(kind, json_string_value(v)))
		snprintf(out->sid, sizeof(out->sid), "%s", json_string_value(v));
	json_decref(j);
}

/* POSTs form to {api_url}/2010-04-01/Accounts/{sid}/{resource} and fills
 * out.  Always returns 0 (the request was attempted). */
static int twilio_post(const struct config *cfg, const char *resource, const char *form,
	struct twilio_result *out)
{
	struct buf body = BUF_INIT;
	char *url = xasprintf("%s/2010-04-01/Accounts/%s/%s", cfg->api_url, cfg->account_sid, resource);
	char why[200];
	long status;
	int timed_out;

	out->request_redacted = twilio_redact(form, cfg->auth_token);
	if (twilio_http(cfg, url, form, &status, &body, &out->elapsed_ms, &timed_out, why,
		    sizeof(why)) < 0) {
		out->outcome = TWILIO_UNKNOWN;
		snprintf(out->error_message, sizeof(out->error_message), "%s%s",
			timed_out ? "timed out: " : "no answer: ", why);
		log_warn("twilio: POST %s: outcome unknown (%s)", resource, out->error_message);
	} else {
		twilio_classify(status, buf_str(&body), out);
		if (out->outcome == TWILIO_UNKNOWN) {
			twilio_keep_sid(strcmp(resource, "Calls.json") == 0 ? "calls" : "messages",
				buf_str(&body), out);
			log_warn("twilio: POST %s: outcome unknown (%s)%s%s", resource,
				out->error_message, out->sid[0] ? ", the answer names " : "", out->sid);
		}
	}
	if (body.len > 0)
		out->response_body = twilio_redact(buf_str(&body), cfg->auth_token);
	buf_free(&body);
	free(url);
	return 0;
}

/* Refuses a request before anything is sent: outcome REJECTED, code 0. */
static int twilio_refuse(struct twilio_result *out, const char *why)
{
	out->outcome = TWILIO_REJECTED;
	out->error_code = 0;
	snprintf(out->error_message, sizeof(out->error_message), "%s", why);
	log_error("twilio: request refused before sending: %s", why);
	return -1;
}

/* See twilio.h. */
int twilio_call_create(const struct outbound_grant *grant, const struct config *cfg,
	const struct twilio_call_request *rq, struct twilio_result *out)
{
	static const char *const events[] = { "initiated", "ringing", "answered", "completed" };
	struct buf form = BUF_INIT;
	char why[200], num[16];
	int ret;

	memset(out, 0, sizeof(*out));
	if (rq == NULL || !outbound_grant_covers(grant, rq->to)) {
		ret = twilio_refuse(out, TWILIO_NO_GRANT);
		goto out;
	}
	if (twilio_check_cfg(cfg, why, sizeof(why)) < 0) {
		ret = twilio_refuse(out, why);
		goto out;
	}
	if (!e164(rq->to) || !e164(rq->from)) {
		ret = twilio_refuse(out, "To and From must be E.164 numbers");
		goto out;
	}
	if (!twilio_is_http_url(rq->url) ||
		(rq->status_callback && !twilio_is_http_url(rq->status_callback))) {
		ret = twilio_refuse(out, "Url and StatusCallback must be http(s) URLs");
		goto out;
	}
	if (rq->timeout_s < 0 || rq->timeout_s > 600) {
		ret = twilio_refuse(out, "Timeout must be from 1 to 600 seconds");
		goto out;
	}
	twilio_param(&form, "To", rq->to);
	twilio_param(&form, "From", rq->from);
	twilio_param(&form, "Url", rq->url);
	twilio_param(&form, "Method", "POST");
	if (rq->status_callback) {
		twilio_param(&form, "StatusCallback", rq->status_callback);
		twilio_param(&form, "StatusCallbackMethod", "POST");
		for (size_t i = 0; i < ARRAY_LEN(events); i++)
			twilio_param(&form, "StatusCallbackEvent", events[i]);
	}
	if (rq->timeout_s > 0) {
		snprintf(num, sizeof(num), "%d", rq->timeout_s);
		twilio_param(&form, "Timeout", num);
	}
	if (rq->machine_detection)
		twilio_param(&form, "MachineDetection", "Enable");
	/* Another node answers when this one cannot (Twilio's FallbackUrl:
	 * fetched after an 11200/11205/12100/12300 on any of the call's TwiML
	 * requests, never on a status callback). */
	if (cfg->fallback_url) {
		char fb[600];
		snprintf(fb, sizeof(fb), "%s%s", cfg->fallback_url, TWILIO_FALLBACK_PATH);
		twilio_param(&form, "FallbackUrl", fb);
		twilio_param(&form, "FallbackMethod", "POST");
	}
	ret = twilio_post(cfg, "Calls.json", buf_str(&form), out);
out:
	buf_free(&form);
	return ret;
}

/* See twilio.h. */
int twilio_message_create(const struct outbound_grant *grant, const struct config *cfg,
	const char *to, const char *from, const char *body, const char *status_callback,
	struct twilio_result *out)
{
	struct buf form = BUF_INIT;
	char why[200];
	int ret;

	memset(out, 0, sizeof(*out));
	if (!outbound_grant_covers(grant, to)) {
		ret = twilio_refuse(out, TWILIO_NO_GRANT);
		goto out;
	}
	if (twilio_check_cfg(cfg, why, sizeof(why)) < 0) {
		ret = twilio_refuse(out, why);
		goto out;
	}
	if (!e164(to) || !e164(from)) {
		ret = twilio_refuse(out, "To and From must be E.164 numbers");
		goto out;
	}
	if (body == NULL || body[0] == '\0' || twilio_chars(body) > TWILIO_MAX_BODY) {
		ret = twilio_refuse(out, "Body must be 1 to 1600 characters");
		goto out;
	}
	if (status_callback && !twilio_is_http_url(status_callback)) {
		ret = twilio_refuse(out, "StatusCallback must be an http(s) URL");
		goto out;
	}
	twilio_param(&form, "To", to);
	twilio_param(&form, "From", from);
	twilio_param(&form, "Body", body);
	if (status_callback)
		twilio_param(&form, "StatusCallback", status_callback);
	ret = twilio_post(cfg, "Messages.json", buf_str(&form), out);
out:
	buf_free(&form);
	return ret;
}

/* Parses Twilio's RFC 2822 date ("Wed, 25 Nov 2026 10:00:00 +0000") into
 * Unix seconds; 0 or -1. */
static int twilio_parse_date(const char *s, long long *out)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char mon[4] = "", zone[6] = "";
	int d, y, h, mi, se, m = -1, off;
	struct tm tm;
	time_t t;

	if (sscanf(s, "%*3s, %d %3s %d %d:%d:%d %5s", &d, mon, &y, &h, &mi, &se, zone) != 7)
		return -1;
	for (int i = 0; i < 12; i++)
		if (strcmp(mon, months[i]) == 0)
			m = i;
	if (m < 0 || d < 1 || d > 31 || y < 1970 || y > 9999 || h > 23 || mi > 59 || se > 60 ||
		h < 0 || mi < 0 || se < 0 || (zone[0] != '+' && zone[0] != '-') || strlen(zone) != 5)
		return -1;
	for (int i = 1; i < 5; i++)
		if (zone[i] < '0' || zone[i] > '9')
			return -1;
	off = ((zone[1] - '0') * 10 + (zone[2] - '0')) * 3600 + ((zone[3] - '0') * 10 + (zone[4] - '0')) * 60;
	if (zone[0] == '-')
		off = -off;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = (long long)t - off;
	return 0;
}

/* One entry of a list or a fetch into f; 0, or -1 when its sid or
 * date_created cannot be read. */
static int twilio_entry(json_t *item, struct twilio_found *f)
{
	json_t *sid = json_object_get(item, "sid"), *st = json_object_get(item, "status"),
	       *dc = json_object_get(item, "date_created");

	if (!json_is_string(sid) || json_string_length(sid) >= sizeof(f->sid) ||
		!json_is_string(dc) || twilio_parse_date(json_string_value(dc), &f->created_s) < 0)
		return -1;
	snprintf(f->sid, sizeof(f->sid), "%s", json_string_value(sid));
	snprintf(f->status, sizeof(f->status), "%s", json_is_string(st) ? json_string_value(st) : "");
	return 0;
}

/* GETs url; 0 with the HTTP status and body, -1 (logged) without an answer. */
static int twilio_get(const struct config *cfg, const char *url, const char *what, long *status,
	struct buf *body)
{
	char why[200];
	long long elapsed;
	int timed_out;

	buf_reset(body);
	if (twilio_http(cfg, url, NULL, status, body, &elapsed, &timed_out, why, sizeof(why)) < 0) {
		log_error("twilio: %s: %s%s", what, timed_out ? "timed out: " : "", why);
		return -1;
	}
	return 0;
}

/* See twilio.h.  Follows next_page_uri up to TWILIO_FIND_MAX_PAGES pages;
 * more than that is doubt rather than a guess. */
int twilio_find(const struct config *cfg, const char *kind, const char *to, long long since_s,
	struct twilio_found *found, size_t max, size_t *n)
{
	struct buf q = BUF_INIT, body = BUF_INIT;
	char why[200];
	char *url = NULL;
	json_t *j = NULL;
	int calls, ret = -1, pages = 0;

	if (n)
		*n = 0;
	if (n == NULL || (found == NULL && max > 0) || kind == NULL || since_s < 0) {
		log_error("twilio: find: bad arguments");
		goto out;
	}
	if (twilio_check_cfg(cfg, why, sizeof(why)) < 0) {
		log_error("twilio: find: %s", why);
		goto out;
	}
	calls = strcmp(kind, "calls") == 0;
	if (!calls && strcmp(kind, "messages") != 0) {
		log_error("twilio: find: kind must be calls or messages");
		goto out;
	}
	if (!e164(to)) {
		log_error("twilio: find: To must be an E.164 number");
		goto out;
	}
	twilio_param(&q, "To", to);
	twilio_param(&q, "PageSize", TWILIO_FIND_PAGE_SIZE_STR);
	url = xasprintf("%s/2010-04-01/Accounts/%s/%s?%s", cfg->api_url, cfg->account_sid,
		calls ? "Calls.json" : "Messages.json", buf_str(&q));
	for (;;) {
		long status;
		json_t *items, *item, *next;
		size_t i;

		if (++pages > TWILIO_FIND_MAX_PAGES) {
			log_error("twilio: find: more than %d pages of %s to %s: cannot tell",
				TWILIO_FIND_MAX_PAGES, kind, to);
			goto out;
		}
		if (twilio_get(cfg, url, calls ? "list calls" : "list messages", &status, &body) < 0)
			goto out;
		if (status != 200) {
			log_error("twilio: find %s: HTTP %ld", kind, status);
			goto out;
		}
		json_decref(j);
		j = json_loads(buf_str(&body), 0, NULL);
		items = json_is_object(j) ? json_object_get(j, kind) : NULL;
		if (!json_is_array(items)) {
			log_error("twilio: find %s: no %s list in the answer", kind, kind);
			goto out;
		}
		json_array_foreach(items, i, item) {
			json_t *tov = json_object_get(item, "to");
			struct twilio_found f;
			if (!json_is_object(item) || twilio_entry(item, &f) < 0) {
				log_error("twilio: find %s: an entry without a readable sid or date_created", kind);
				goto out;
			}
			if (f.created_s < since_s || (json_is_string(tov) && strcmp(json_string_value(tov), to) != 0))
				continue;
			if (*n >= max) {
				log_error("twilio: find %s: more than %zu to %s since the attempt: cannot tell",
					kind, max, to);
				goto out;
			}
			found[(*n)++] = f;
		}
		next = json_object_get(j, "next_page_uri");
		if (json_is_null(next) || next == NULL)
			break;
		if (!json_is_string(next) || json_string_value(next)[0] != '/') {
			log_error("twilio: find %s: next_page_uri is not a path", kind);
			goto out;
		}
		free(url);
		url = xasprintf("%s%s", cfg->api_url, json_string_value(next));
	}
	ret = 0;
out:
	if (ret < 0 && n)
		*n = 0;
	json_decref(j);
	free(url);
	buf_free(&q);
	buf_free(&body);
	return ret;
}

/* See twilio.h.  Pages of 200 (a 1000-entry page could pass the 1 MiB
 * answer cap); the walk
 * stops after the first page whose every entry is older than since_s, so
 * an order by date_created or by date_sent, newest first, both end it in
 * time, and entries of no date order are still all seen. */
int twilio_list(const struct config *cfg, const char *kind, long long since_s,
	int (*each)(void *ctx, json_t *item, const struct twilio_found *f), void *ctx)
{
	struct buf body = BUF_INIT;
	char why[200];
	char *url = NULL;
	json_t *j = NULL;
	int calls, ret = -1, pages = 0;

	if (kind == NULL || each == NULL || since_s < 0) {
		log_error("twilio: list: bad arguments");
		goto out;
	}
	if (twilio_check_cfg(cfg, why, sizeof(why)) < 0) {
		log_error("twilio: list: %s", why);
		goto out;
	}
	calls = strcmp(kind, "calls") == 0;
	if (!calls && strcmp(kind, "messages") != 0) {
		log_error("twilio: list: kind must be calls or messages");
		goto out;
	}
	url = xasprintf("%s/2010-04-01/Accounts/%s/%s?PageSize=200", cfg->api_url,
		cfg->account_sid, calls ? "Calls.json" : "Messages.json");
	for (;;) {
		long status;
		json_t *items, *item, *next;
		size_t i;
		int recent = 0;

		if (++pages > TWILIO_LIST_MAX_PAGES) {
			log_error("twilio: list: more than %d pages of %s: cannot tell",
				TWILIO_LIST_MAX_PAGES, kind);
			goto out;
		}
		if (twilio_get(cfg, url, calls ? "list calls" : "list messages", &status, &body) < 0)
			goto out;
		if (status != 200) {
			log_error("twilio: list %s: HTTP %ld", kind, status);
			goto out;
		}
		json_decref(j);
		j = json_loads(buf_str(&body), 0, NULL);
		items = json_is_object(j) ? json_object_get(j, kind) : NULL;
		if (!json_is_array(items)) {
			log_error("twilio: list %s: no %s list in the answer", kind, kind);
			goto out;
		}
		json_array_foreach(items, i, item) {
			struct twilio_found f;
			if (!json_is_object(item) || twilio_entry(item, &f) < 0) {
				log_error("twilio: list %s: an entry without a readable sid or date_created", kind);
				goto out;
			}
			if (f.created_s < since_s)
				continue;
			recent++;
			if (each(ctx, item, &f) < 0)
				goto out;
		}
		next = json_object_get(j, "next_page_uri");
		if (next == NULL || json_is_null(next) || (recent == 0 && json_array_size(items) > 0))
			break;
		if (!json_is_string(next) || json_string_value(next)[0] != '/') {
			log_error("twilio: list %s: next_page_uri is not a path", kind);
			goto out;
		}
		free(url);
		url = xasprintf("%s%s", cfg->api_url, json_string_value(next));
	}
	ret = 0;
out:
	json_decref(j);
	free(url);
	buf_free(&body);
	return ret;
}

/* See twilio.h. */
int twilio_fetch(const struct config *cfg, const char *kind, const char *sid,
	struct twilio_found *out)
{
	struct buf body = BUF_INIT;
	char why[200];
	char *url = NULL;
	json_t *j = NULL, *code;
	long status;
	int ret = TWILIO_LOOKUP_DOUBT;

	memset(out, 0, sizeof(*out));
	if (twilio_check_cfg(cfg, why, sizeof(why)) < 0) {
		log_error("twilio: fetch: %s", why);
		goto out;
	}
	if (!twilio_sid_valid(kind, sid)) {
		log_error("twilio: fetch: '%s' is not a sid of %s", sid ? sid : "", kind ? kind : "?");
		goto out;
	}
	url = xasprintf("%s/2010-04-01/Accounts/%s/%s/%s.json", cfg->api_url, cfg->account_sid,
		strcmp(kind, "calls") == 0 ? "Calls" : "Messages", sid);
	if (twilio_get(cfg, url, "fetch", &status, &body) < 0)
		goto out;
	j = json_loads(buf_str(&body), 0, NULL);
	if (status == 404) {
		/* Only Twilio's own answer says the sid does not exist. */
		code = json_is_object(j) ? json_object_get(j, "code") : NULL;
		if (json_is_integer(code) && json_integer_value(code) == 20404)
			ret = TWILIO_LOOKUP_NOT_FOUND;
		else
			log_error("twilio: fetch %s: HTTP 404 without Twilio's 20404", sid);
		goto out;
	}
	if (status != 200) {
		log_error("twilio: fetch %s: HTTP %ld", sid, status);
		goto out;
	}
	if (!json_is_object(j) || twilio_entry(j, out) < 0 || strcmp(out->sid, sid) != 0) {
		log_error("twilio: fetch %s: the answer does not describe it", sid);
		memset(out, 0, sizeof(*out));
		goto out;
	}
	ret = TWILIO_LOOKUP_FOUND;
out:
	json_decref(j);
	free(url);
	buf_free(&body);
	return ret;
}

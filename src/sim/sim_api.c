/* sim_api: Twilio's REST subset and the simulator's own API. */
#include "sim/sim_api.h"
#include "arena.h"
#include "db.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "sim/sim_audio.h"
#include "sim/sim_call.h"
#include "sim/sim_callee.h"
#include "sim/sim_store.h"
#include "util.h"
#include "valid.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define API_PREFIX "/2010-04-01/Accounts/"
#define SID_LEN 34
#define URL_MAX 4000
#define TWIML_MAX 4000
#define BODY_MAX_CHARS 1600
#define PAGE_SIZE_DEFAULT 50
#define PAGE_SIZE_MAX 1000

/* Form bodies of API calls: a Twiml document or a behaviour line is
 * longer than a webhook's values. */
static const struct form_limits api_limits = {
	.max_input = HTTP_MAX_BODY,
	.max_pairs = 128,
	.max_name = 64,
	.max_value = 32768,
};

int sim_api_init(struct sim_api *api, char *err, size_t errlen)
{
	memset(api, 0, sizeof(*api));
	if (config_load(&api->cfg, CFG_NEED_DB | CFG_NEED_TWILIO, err, errlen) < 0)
		return -1;
	api->db = db_open(api->cfg.database_url);
	return 0;
}

void sim_api_free(struct sim_api *api)
{
	db_close(api->db);
	api->db = NULL;
}

/* Answers status with doc (NULL: out of memory, a 500) as JSON text; takes
 * doc's reference. */
static void api_json_doc(struct http_response *res, int status, json_t *doc)
{
	char *text = doc ? json_dumps(doc, 0) : NULL;
	res->content_type = "application/json; charset=utf-8";
	buf_reset(&res->body);
	if (text == NULL) {
		res->status = 500;
		buf_puts(&res->body, "{\"code\": 20500, \"message\": \"Internal Server Error\", "
				     "\"more_info\": \"https://www.twilio.com/docs/errors/20500\", "
				     "\"status\": 500}\n");
		goto out;
	}
	res->status = status;
	buf_puts(&res->body, text);
	buf_putc(&res->body, '\n');
out:
	free(text);
	json_decref(doc);
}

/* Twilio's error document with HTTP status. */
static void api_error(struct http_response *res, int status, int code, const char *message)
{
	char more[64];
	snprintf(more, sizeof(more), "https://www.twilio.com/docs/errors/%d", code);
	api_json_doc(res, status, json_pack("{s:i, s:s, s:s, s:i}", "code", code, "message", message,
		"more_info", more, "status", status));
}

static void api_db_error(struct http_response *res)
{
	api_error(res, 500, 20500, "Internal Server Error: the simulator's database failed");
}

static void api_json(struct http_response *res, int status, const char *json)
{
	res->status = status;
	res->content_type = "application/json; charset=utf-8";
	buf_reset(&res->body);
	buf_puts(&res->body, json);
	buf_putc(&res->body, '\n');
}

/* HTTP Basic with the account's sid and token, compared in constant time. */
static int api_authorised(const struct sim_api *api, const char *header)
{
	unsigned char decoded[512];
	char want[512];
	const char *b64;
	size_t n, pad = 0;
	int len;

	if (header == NULL || strncasecmp(header, "Basic ", 6) != 0)
		return 0;
	b64 = header + 6;
	while (*b64 == ' ')
		b64++;
	n = strlen(b64);
	if (n == 0 || n % 4 != 0 || n / 4 * 3 >= sizeof(decoded))
		return 0;
	len = EVP_DecodeBlock(decoded, (const unsigned char *)b64, (int)n);
	if (len < 0)
		return 0;
	if (b64[n - 1] == '=')
		pad++;
	if (n > 1 && b64[n - 2] == '=')
		pad++;
	len -= (int)pad;
	snprintf(want, sizeof(want), "%s:%s", api->cfg.account_sid, api->cfg.auth_token);
	return util_ct_equal(decoded, (size_t)len, want, strlen(want));
}

/* An absolute http(s) URL with a host, no spaces or control characters. */
static int valid_abs_url(const char *u)
{
	const char *host;
	size_t n = strlen(u);
	if (n == 0 || n > URL_MAX)
		return 0;
	if (strncmp(u, "https://", 8) == 0)
		host = u + 8;
	else if (strncmp(u, "http://", 7) == 0)
		host = u + 7;
	else
		return 0;
	if (*host == '\0' || *host == '/' || *host == ':' || *host == '?')
		return 0;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int is_e164(const char *v)
{
	return v && valid_e164(v, strlen(v));
}

/* Whether To or From of a new call or message is no E.164 number; the
 * error (21211 or 21212, as Twilio answers both) is then written. */
static int numbers_invalid(struct http_response *res, const char *to, const char *from)
{
	if (!is_e164(to)) {
		api_error(res, 400, 21211, "Invalid 'To' Phone Number");
		return 1;
	}
	if (!is_e164(from)) {
		api_error(res, 400, 21212, "Invalid 'From' Phone Number");
		return 1;
	}
	return 0;
}

/* YYYY-MM-DD, or an RFC 3339 date-time with Z or an offset. */
static int valid_date_filter(const char *v)
{
	size_t n = strlen(v);
	const char *p;
	for (int i = 0; i < 10; i++) {
		char c = v[i];
		if (c == '\0')
			return 0;
		if ((i == 4 || i == 7) ? c != '-' : !isdigit((unsigned char)c))
			return 0;
	}
	if (n == 10)
		return 1;
	if (v[10] != 'T' && v[10] != ' ')
		return 0;
	p = v + 11;
	for (int i = 0; i < 8; i++) {
		if ((i == 2 || i == 5) ? p[i] != ':' : !isdigit((unsigned char)p[i]))
			return 0;
	}
	p += 8;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (strcmp(p, "Z") == 0)
		return 1;
	return (p[0] == '+' || p[0] == '-') && isdigit((unsigned char)p[1]) &&
		isdigit((unsigned char)p[2]) && p[3] == ':' && isdigit((unsigned char)p[4]) &&
		isdigit((unsigned char)p[5]) && p[6] == '\0';
}

static int one_of(const char *v, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(v, *set) == 0)
			return 1;
	return 0;
}

static const char *const call_statuses[] = { "queued", "ringing", "in-progress", "completed",
	"busy", "failed", "no-answer", "canceled", NULL };
static const char *const message_statuses[] = { "queued", "sending", "sent", "failed",
	"delivered", "undelivered", "receiving", "received", "accepted", "scheduled", "read",
	"partially_delivered", "canceled", NULL };

/* Parses an integer parameter within [lo, hi]; 0 or -1. */
static int int_param(const char *v, long lo, long hi, long *out)
{
	char *end;
	long n;
	if (v == NULL || *v == '\0' || !(isdigit((unsigned char)*v) || *v == '-'))
		return -1;
	n = strtol(v, &end, 10);
	if (*end || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

/* Parses a form-encoded POST body into p; answers 400 itself on failure. */
static int api_form(struct http_request *req, struct http_response *res, struct params *p)
{
	enum form_err e;
	memset(p, 0, sizeof(*p));
	if (req->body_too_large) {
		api_error(res, 413, 20001, "Request body too large");
		return -1;
	}
	if (req->body_len > 0 && strncasecmp(req->content_type,
		"application/x-www-form-urlencoded", 33) != 0) {
		api_error(res, 400, 20001,
			"Request body must be application/x-www-form-urlencoded");
		return -1;
	}
	e = form_parse(req->arena, req->body, req->body_len, &api_limits, p);
	if (e != FORM_OK) {
		char msg[128];
		snprintf(msg, sizeof(msg), "Malformed form body: %s", form_strerror(e));
		api_error(res, 400, 20001, msg);
		return -1;
	}
	return 0;
}

/* A parameter's value, NULL when absent or empty (Twilio treats an empty
 * parameter as not given). */
static const char *param(const struct params *p, const char *name)
{
	const char *v = form_get(p, name);
	return (v && *v) ? v : NULL;
}

/* A magic test number, the error Twilio answers for it and the message. */
struct magic {
	const char *number;
	int code;
	const char *msg;
};

/* The code of number in table m[0..n) (and *msg), or 0 when it is an
 * ordinary number. */
static int magic_lookup(const struct magic *m, size_t n, const char *number, const char **msg)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(number, m[i].number) == 0) {
			*msg = m[i].msg;
			return m[i].code;
		}
	return 0;
}

/* The test-credential magic numbers for calls (Twilio's "Make calls"
 * table): 0 when the number is an ordinary one. */
static int call_magic_to(const char *to, const char **msg)
{
	static const struct magic m[] = {
		{ "+15005550001", 21217, "Phone number does not appear to be valid" },
		{ "+15005550002", 21214, "'To' phone number cannot be reached" },
		{ "+15005550003", 21215, "Account not authorized to call this number (international permissions)" },
		{ "+15005550004", 21216, "Call blocked by Twilio blocklist" },
	};
	return magic_lookup(m, ARRAY_LEN(m), to, msg);
}

/* The magic numbers for messages (Twilio's "Send SMS" table). */
static int message_magic_to(const char *to, const char **msg)
{
	static const struct magic m[] = {
		{ "+15005550001", 21211, "Invalid 'To' Phone Number" },
		{ "+15005550002", 21612, "The 'To' phone number is not currently reachable via SMS" },
		{ "+15005550003", 21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number" },
		{ "+15005550004", 21610, "Attempt to send to unsubscribed recipient" },
		{ "+15005550009", 21614, "'To' number is not a valid mobile number" },
	};
	return magic_lookup(m, ARRAY_LEN(m), to, msg);
}

/* The magic From numbers, for calls (sms 0) and messages (sms 1). */
static int magic_from(const char *from, int sms, const char **msg)
{
	if (strcmp(from, "+15005550001") == 0) {
		*msg = "Invalid 'From' Phone Number";
		return 21212;
	}
	if (strcmp(from, "+15005550007") == 0) {
		*msg = sms ? "The 'From' phone number is not a valid, SMS-capable inbound phone number or short code for your account"
			   : "'From' phone number not verified";
		return sms ? 21606 : 21210;
	}
	if (sms && strcmp(from, "+15005550008") == 0) {
		*msg = "This 'From' number has exceeded the maximum number of queued messages";
		return 21611;
	}
	return 0;
}

/* A new sid with prefix (sim_store_new_sid) into sid: 0, or -1 with the
 * 500 answered. */
static int api_new_sid(struct http_response *res, const char *prefix, char sid[35])
{
	if (sim_store_new_sid(prefix, sid) < 0) {
		api_error(res, 500, 20500, "Internal Server Error: no random bytes for a sid");
		return -1;
	}
	return 0;
}

/* A call's Method, FallbackUrl, FallbackMethod, StatusCallback and
 * StatusCallbackMethod from p into c
 * (pointers into p): 0, or -1 with the 400 answered. */
static int call_callback_params(struct http_response *res, const struct params *p,
	struct sim_store_call_new *c)
{
	c->method = param(p, "Method");
	if (c->method && strcmp(c->method, "GET") != 0 && strcmp(c->method, "POST") != 0) {
		api_error(res, 400, 20001, "Method must be GET or POST");
		return -1;
	}
	c->fallback_url = param(p, "FallbackUrl");
	if (c->fallback_url && !valid_abs_url(c->fallback_url)) {
		api_error(res, 400, 21205, "FallbackUrl is not a valid absolute http(s) URL");
		return -1;
	}
	c->fallback_method = param(p, "FallbackMethod");
	if (c->fallback_method && strcmp(c->fallback_method, "GET") != 0 &&
		strcmp(c->fallback_method, "POST") != 0) {
		api_error(res, 400, 20001, "FallbackMethod must be GET or POST");
		return -1;
	}
	c->status_callback = param(p, "StatusCallback");
	if (c->status_callback && !valid_abs_url(c->status_callback)) {
		api_error(res, 400, 21205, "StatusCallback is not a valid absolute http(s) URL");
		return -1;
	}
	c->status_callback_method = param(p, "StatusCallbackMethod");
	if (c->status_callback_method && strcmp(c->status_callback_method, "GET") != 0 &&
		strcmp(c->status_callback_method, "POST") != 0) {
		api_error(res, 400, 20001, "StatusCallbackMethod must be GET or POST");
		return -1;
	}
	return 0;
}

static void calls_create(struct sim_api *api, struct http_request *req, struct http_response *res)
{
	struct params p;
	struct sim_store_call_new c;
	struct buf json = BUF_INIT;
	const char *to, *from, *url, *twiml, *v, *msg;
	char sid[35];
	long n;
	int code;

	if (api_form(req, res, &p) < 0)
		goto out;
	memset(&c, 0, sizeof(c));
	to = param(&p, "To");
	from = param(&p, "From");
	url = param(&p, "Url");
	twiml = param(&p, "Twiml");
	if (to == NULL) {
		api_error(res, 400, 21201, "No 'To' number is specified");
		goto out;
	}
	if (from == NULL) {
		api_error(res, 400, 21213, "No 'From' number is specified");
		goto out;
	}
	if (url == NULL && twiml == NULL) {
		api_error(res, 400, 21205, param(&p, "ApplicationSid")
			? "Url parameter is required: the simulator has no applications (ApplicationSid)"
			: "Url parameter is required");
		goto out;
	}
	if (url && twiml) {
		api_error(res, 400, 21205, "Give either Url or Twiml, not both");
		goto out;
	}
	if (url && !valid_abs_url(url)) {
		api_error(res, 400, 21205, "Url is not a valid absolute http(s) URL");
		goto out;
	}
	if (twiml && strlen(twiml) > TWIML_MAX) {
		api_error(res, 400, 21205, "Twiml is longer than 4000 characters");
		goto out;
	}
	if (numbers_invalid(res, to, from))
		goto out;
	if ((code = magic_from(from, 0, &msg)) != 0 || (code = call_magic_to(to, &msg)) != 0) {
		api_error(res, 400, code, msg);
		goto out;
	}
	if (call_callback_params(res, &p, &c) < 0)
		goto out;
	/* Repeated parameters, or several values in one separated by spaces
	 * (as some helper libraries send them). */
	for (size_t i = 0; i < p.n; i++) {
		char *copy, *tok, *save = NULL;
		if (strcmp(p.v[i].name, "StatusCallbackEvent") != 0)
			continue;
		copy = arena_strdup(req->arena, p.v[i].value);
		for (tok = strtok_r(copy, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
			if (strcmp(tok, "initiated") == 0)
				c.status_events |= SIM_STATUS_INITIATED;
			else if (strcmp(tok, "ringing") == 0)
				c.status_events |= SIM_STATUS_RINGING;
			else if (strcmp(tok, "answered") == 0)
				c.status_events |= SIM_STATUS_ANSWERED;
			else if (strcmp(tok, "completed") == 0)
				c.status_events |= SIM_STATUS_COMPLETED;
			else {
				api_error(res, 400, 20001,
					"StatusCallbackEvent must be initiated, ringing, answered or completed");
				goto out;
			}
		}
	}
	c.machine_detection = param(&p, "MachineDetection");
	if (c.machine_detection && strcmp(c.machine_detection, "Enable") != 0 &&
		strcmp(c.machine_detection, "DetectMessageEnd") != 0) {
		api_error(res, 400, 20001, "MachineDetection must be Enable or DetectMessageEnd");
		goto out;
	}
	v = param(&p, "AsyncAmd");
	if (v && strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
		api_error(res, 400, 20001, "AsyncAmd must be true or false");
		goto out;
	}
	/* Answering machine detection is ignored when SendDigits is set. */
	if (param(&p, "SendDigits"))
		c.machine_detection = NULL;
	c.timeout_s = 60;
	v = param(&p, "Timeout");
	if (v) {
		if (int_param(v, 1, 600, &n) < 0) {
			api_error(res, 400, 20001, "Timeout must be a whole number of seconds from 1 to 600");
			goto out;
		}
		c.timeout_s = (int)n;
	}
	c.time_limit_s = 14400;
	v = param(&p, "TimeLimit");
	if (v) {
		if (int_param(v, 1, 14400, &n) < 0) {
			api_error(res, 400, 20001, "TimeLimit must be a whole number of seconds from 1 to 14400");
			goto out;
		}
		c.time_limit_s = (int)n;
	}
	if (api_new_sid(res, "CA", sid) < 0)
		goto out;
	c.sid = sid;
	c.account_sid = api->cfg.account_sid;
	c.to = to;
	c.from = from;
	c.url = url;
	c.twiml = twiml;
	if (sim_store_call_insert(api->db, &c, &json) < 0) {
		api_db_error(res);
		goto out;
	}
	api_json(res, 201, buf_str(&json));
out:
	buf_free(&json);
}

/* Decodes the UTF-8 code point at *s (text already validated by the form
 * parser) and advances *s past it. */
static unsigned utf8_next(const char **s)
{
	const unsigned char *p = (const unsigned char *)*s;
	unsigned cp;
	int more;

	if (p[0] < 0x80) {
		cp = p[0];
		more = 0;
	} else if ((p[0] & 0xE0) == 0xC0) {
		cp = p[0] & 0x1F;
		more = 1;
	} else if ((p[0] & 0xF0) == 0xE0) {
		cp = p[0] & 0x0F;
		more = 2;
	} else {
		cp = p[0] & 0x07;
		more = 3;
	}
	p++;
	while (more-- > 0 && (*p & 0xC0) == 0x80)
		cp = (cp << 6) | (*p++ & 0x3F);
	*s = (const char *)p;
	return cp;
}

/* Septets cp takes in the GSM 03.38 alphabet: 1 (basic set), 2 (an
 * extension reached by an escape), 0 (not GSM-7: the message goes UCS-2). */
static int gsm7_septets(unsigned cp)
{
	static const unsigned basic[] = {
		0xA3, 0xA5, 0xE8, 0xE9, 0xF9, 0xEC, 0xF2, 0xC7, 0xD8, 0xF8, 0xC5, 0xE5, 0x394, 0x3A6,
		0x393, 0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398, 0x39E, 0xC6, 0xE6, 0xDF, 0xC9, 0xA4,
		0xA1, 0xC4, 0xD6, 0xD1, 0xDC, 0xA7, 0xBF, 0xE4, 0xF6, 0xF1, 0xFC, 0xE0,
	};
	if (cp == '\n' || cp == '\r')
		return 1;
	if (cp < 0x80) {
		if (cp < 0x20 || cp == 0x7F || cp == '`')
			return cp == '\f' ? 2 : 0;
		return strchr("^{}\\[]~|", (int)cp) ? 2 : 1;
	}
	if (cp == 0x20AC) /* the euro sign, an extension */
		return 2;
	for (size_t i = 0; i < sizeof(basic) / sizeof(basic[0]); i++)
		if (basic[i] == cp)
			return 1;
	return 0;
}

int sim_api_segments(const char *body)
{
	size_t septets = 0, units = 0;
	int gsm = 1;

	for (const char *s = body; *s;) {
		unsigned cp = utf8_next(&s);
		int n = gsm7_septets(cp);
		if (n == 0)
			gsm = 0;
		septets += (size_t)n;
		/* UCS-2 counts UTF-16 code units: a character beyond the
		 * Basic Multilingual Plane (an emoji) takes two. */
		units += cp > 0xFFFF ? 2 : 1;
	}
	if (gsm)
		return septets <= 160 ? 1 : (int)((septets + 152) / 153);
	return units <= 70 ? 1 : (int)((units + 66) / 67);
}

static void messages_create(struct sim_api *api, struct http_request *req,
	struct http_response *res)
{
	struct params p;
	struct sim_store_message_new m;
	struct buf json = BUF_INIT;
	const char *to, *from, *body, *msg;
	char sid[35];
	int code, r;

	if (api_form(req, res, &p) < 0)
		goto out;
	memset(&m, 0, sizeof(m));
	to = param(&p, "To");
	from = param(&p, "From");
	body = param(&p, "Body");
	if (to == NULL) {
		api_error(res, 400, 21604, "A 'To' phone number is required");
		goto out;
	}
	if (from == NULL) {
		api_error(res, 400, 21603, param(&p, "MessagingServiceSid")
			? "A 'From' phone number is required: the simulator has no Messaging Services"
			: "A 'From' phone number is required");
		goto out;
	}
	if (numbers_invalid(res, to, from))
		goto out;
	if (body == NULL) {
		api_error(res, 400, 21602, "Message body is required");
		goto out;
	}
	if (valid_chars(body) > BODY_MAX_CHARS) {
		api_error(res, 400, 21617, "The concatenated message body exceeds the 1600 character limit");
		goto out;
	}
	m.status_callback = param(&p, "StatusCallback");
	if (m.status_callback && !valid_abs_url(m.status_callback)) {
		api_error(res, 400, 21609, "Invalid StatusCallback url");
		goto out;
	}
	if ((code = magic_from(from, 1, &msg)) != 0 || (code = message_magic_to(to, &msg)) != 0) {
		api_error(res, 400, code, msg);
		goto out;
	}
	r = sim_store_opted_out(api->db, to, from);
	if (r < 0) {
		api_db_error(res);
		goto out;
	}
	if (r > 0) {
		api_error(res, 400, 21610, "Attempt to send to unsubscribed recipient");
		goto out;
	}
	if (api_new_sid(res, "SM", sid) < 0)
		goto out;
	m.sid = sid;
	m.account_sid = api->cfg.account_sid;
	m.to = to;
	m.from = from;
	m.body = body;
	m.num_segments = sim_api_segments(body);
	if (sim_store_message_insert(api->db, &m, &json) < 0) {
		api_db_error(res);
		goto out;
	}
	api_json(res, 201, buf_str(&json));
out:
	buf_free(&json);
}

struct list_filter_param {
	const char *name;            /* as Twilio spells it in the query */
	const char **slot;
};

/* A page URI of the listing as Twilio writes it: the filters given, then
 * PageSize, Page and, past the first page, PageToken. */
static void page_uri(struct buf *b, const char *path, const struct list_filter_param *fp,
	size_t nfp, long page_size, long page, const char *token_dir, const char *token_sid)
{
	buf_puts(b, path);
	buf_putc(b, '?');
	for (size_t i = 0; i < nfp; i++) {
		if (*fp[i].slot == NULL)
			continue;
		form_encode(b, fp[i].name, strlen(fp[i].name));
		buf_putc(b, '=');
		form_encode(b, *fp[i].slot, strlen(*fp[i].slot));
		buf_putc(b, '&');
	}
	buf_printf(b, "PageSize=%ld&Page=%ld", page_size, page);
	if (token_dir)
		buf_printf(b, "&PageToken=%s%s", token_dir, token_sid);
}

/* A PageToken this simulator can have written: PA or PB, then a sid of
 * the listed resource. */
static int valid_page_token(const char *v, int calls)
{
	if (strlen(v) != 2 + SID_LEN || (strncmp(v, "PA", 2) != 0 && strncmp(v, "PB", 2) != 0))
		return 0;
	if (calls ? strncmp(v + 2, "CA", 2) != 0 : strncmp(v + 2, "SM", 2) != 0)
		return 0;
	for (int i = 4; i < 2 + SID_LEN; i++)
		if (!isxdigit((unsigned char)v[i]))
			return 0;
	return 1;
}

/* A page URI member: the text, or null when uri is NULL. */
static json_t *json_uri(const char *uri)
{
	return uri ? json_string(uri) : json_null();
}

static void list(struct sim_api *api, struct http_request *req, struct http_response *res,
	const char *kind, const char *path)
{
	struct sim_store_filter f;
	struct sim_store_page pg = { 0, NULL };
	struct sim_store_page_out po;
	struct buf items = BUF_INIT, uri = BUF_INIT, first = BUF_INIT, next = BUF_INIT,
		   prev = BUF_INIT;
	json_t *list_items;
	int calls = strcmp(kind, "calls") == 0, count = 0, r;
	long page = 0, page_size = PAGE_SIZE_DEFAULT, start;
	const char *v;
	char msg[160];

	memset(&f, 0, sizeof(f));
	const struct list_filter_param call_fp[] = {
		{ "To", &f.to }, { "From", &f.from }, { "Status", &f.status },
		{ "StartTime", &f.on }, { "StartTime>", &f.after }, { "StartTime<", &f.before },
		{ "EndTime", &f.end_on }, { "EndTime>", &f.end_after }, { "EndTime<", &f.end_before },
	};
	const struct list_filter_param msg_fp[] = {
		{ "To", &f.to }, { "From", &f.from }, { "Status", &f.status },
		{ "DateSent", &f.on }, { "DateSent>", &f.after }, { "DateSent<", &f.before },
	};
	const struct list_filter_param *fp = calls ? call_fp : msg_fp;
	size_t nfp = calls ? ARRAY_LEN(call_fp) : ARRAY_LEN(msg_fp);

	if (!req->query_ok) {
		api_error(res, 400, 20001, "Malformed query string");
		goto out;
	}
	for (size_t i = 0; i < nfp; i++) {
		v = param(&req->query_params, fp[i].name);
		*fp[i].slot = v;
		if (v == NULL)
			continue;
		if (i < 2 ? !is_e164(v) : i == 2 ? !one_of(v, calls ? call_statuses : message_statuses)
			  : !valid_date_filter(v)) {
			snprintf(msg, sizeof(msg), "Invalid value for %s: %s", fp[i].name,
				i < 2 ? "an E.164 phone number is expected"
				: i == 2 ? "not a status of this resource"
				: "expected YYYY-MM-DD or an RFC 3339 date-time");
			api_error(res, 400, 20001, msg);
			goto out;
		}
	}
	v = param(&req->query_params, "PageSize");
	if (v && int_param(v, 1, PAGE_SIZE_MAX, &page_size) < 0) {
		api_error(res, 400, 20001, "PageSize must be from 1 to 1000");
		goto out;
	}
	v = param(&req->query_params, "Page");
	if (v && int_param(v, 0, 1000000, &page) < 0) {
		api_error(res, 400, 20001, "Page must be a whole number from 0");
		goto out;
	}
	pg.token = param(&req->query_params, "PageToken");
	if (pg.token && !valid_page_token(pg.token, calls)) {
		api_error(res, 400, 20001, "Invalid PageToken");
		goto out;
	}
	/* Twilio dropped absolute paging: a page past the first is reached
	 * only through the PageToken of next_page_uri. */
	if (page > 0 && pg.token == NULL) {
		api_error(res, 400, 20001, "PageToken is required for paging.");
		goto out;
	}
	pg.page_size = page_size;
	r = sim_store_list_json(api->db, kind, api->cfg.account_sid, &f, &pg, &items, &po);
	if (r == -2) {
		api_error(res, 400, 20001, "Invalid PageToken");
		goto out;
	}
	if (r < 0) {
		api_db_error(res);
		goto out;
	}
	count = po.count;
	start = page * page_size;
	page_uri(&uri, path, fp, nfp, page_size, page, pg.token ? "" : NULL, pg.token ? pg.token : "");
	page_uri(&first, path, fp, nfp, page_size, 0, NULL, NULL);
	if (po.older && count > 0)
		page_uri(&next, path, fp, nfp, page_size, page + 1, "PA", po.last_sid);
	if (po.newer && count > 0 && page > 0)
		page_uri(&prev, path, fp, nfp, page_size, page - 1, "PB", po.first_sid);
	if ((list_items = json_loads(buf_str(&items), 0, NULL)) == NULL) {
		api_db_error(res);
		goto out;
	}
	api_json_doc(res, 200, json_pack("{s:o, s:I, s:o, s:o, s:I, s:I, s:o, s:I, s:o}", kind,
		list_items, "end", (json_int_t)(count > 0 ? start + count - 1 : start),
		"first_page_uri", json_uri(buf_str(&first)),
		"next_page_uri", json_uri(next.len ? buf_str(&next) : NULL),
		"page", (json_int_t)page, "page_size", (json_int_t)page_size,
		"previous_page_uri", json_uri(prev.len ? buf_str(&prev) : NULL),
		"start", (json_int_t)start, "uri", json_uri(buf_str(&uri))));
out:
	buf_free(&items);
	buf_free(&uri);
	buf_free(&first);
	buf_free(&next);
	buf_free(&prev);
}

/* Answers a lookup of one resource: r is the store's answer (-1 database
 * error, 0 no such resource, 1 found with its JSON in json). */
static void api_found(struct http_response *res, int r, const struct buf *json)
{
	if (r < 0)
		api_db_error(res);
	else if (r == 0)
		api_error(res, 404, 20404, "The requested resource was not found");
	else
		api_json(res, 200, buf_str(json));
}

static void fetch(struct sim_api *api, struct http_response *res, const char *kind,
	const char *sid)
{
	struct buf json = BUF_INIT;
	api_found(res, sim_store_get_json(api->db, kind, api->cfg.account_sid, sid, &json), &json);
	buf_free(&json);
}

/* ---- recordings ------------------------------------------------------- */

static int is_sid(const char *s, const char *prefix)
{
	return strlen(s) >= SID_LEN && strncmp(s, prefix, 2) == 0 &&
		strspn(s + 2, "0123456789abcdefABCDEF") >= SID_LEN - 2;
}

/* GET /2010-04-01/Accounts/{AC}/Recordings/{RE} (WAV), .wav or .mp3:
 * the media, without credentials, as Twilio serves it unless the account
 * enforces HTTP authentication on media (off by default).  Returns 1
 * when path is a media path (answered), 0 when it is not. */
static int recording_media(struct sim_api *api, struct http_request *req, struct http_response *res)
{
	const char *rest, *ext;
	char sid[SID_LEN + 1], *words = NULL;
	int secs, r, mp3;

	if (strncmp(req->path, API_PREFIX, strlen(API_PREFIX)) != 0)
		return 0;
	rest = req->path + strlen(API_PREFIX);
	if (strlen(rest) < SID_LEN || strncmp(rest + SID_LEN, "/Recordings/", 12) != 0)
		return 0;
	ext = rest + SID_LEN + 12;
	if (!is_sid(ext, "RE"))
		return 0;
	memcpy(sid, ext, SID_LEN);
	sid[SID_LEN] = '\0';
	ext += SID_LEN;
	if (*ext != '\0' && strcmp(ext, ".wav") != 0 && strcmp(ext, ".mp3") != 0)
		return 0;   /* .json and the like: the authenticated API */
	mp3 = strcmp(ext, ".mp3") == 0;
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		api_error(res, 405, 20004, "Method not allowed");
		return 1;
	}
	if (strncmp(rest, api->cfg.account_sid, SID_LEN) != 0) {
		api_error(res, 404, 20404, "The requested resource was not found");
		return 1;
	}
	r = sim_store_recording_media(api->db, api->cfg.account_sid, sid, &secs, &words);
	if (r < 0) {
		api_db_error(res);
	} else if (r == 0) {
		api_error(res, 404, 20404, "The requested resource was not found");
	} else {
		res->status = 200;
		res->content_type = mp3 ? "audio/mpeg" : "audio/x-wav";
		buf_reset(&res->body);
		if (mp3)
			sim_audio_mp3(secs, &res->body);
		else
			sim_audio_wav(secs, words, &res->body);
	}
	free(words);
	return 1;
}

/* GET Recordings.json (and Calls/{CA}/Recordings.json: call_sid): the
 * newest PageSize recordings, one page. */
static void recordings_list(struct sim_api *api, struct http_request *req,
	struct http_response *res, const char *call_sid)
{
	struct buf items = BUF_INIT;
	json_t *arr;
	long page_size = PAGE_SIZE_DEFAULT;
	const char *v;

	if (strcmp(req->method, "GET") != 0) {
		api_error(res, 405, 20004, "Method not allowed");
		return;
	}
	if (!req->query_ok) {
		api_error(res, 400, 20001, "Malformed query string");
		return;
	}
	v = param(&req->query_params, "PageSize");
	if (v && int_param(v, 1, PAGE_SIZE_MAX, &page_size) < 0) {
		api_error(res, 400, 20001, "PageSize must be a whole number from 1 to 1000");
		return;
	}
	v = param(&req->query_params, "CallSid");
	if (v && call_sid == NULL) {
		if (strlen(v) != SID_LEN || !is_sid(v, "CA")) {
			api_error(res, 400, 20001, "CallSid must be CA and 32 hex digits");
			return;
		}
		call_sid = v;
	}
	if (sim_store_recordings_list(api->db, api->cfg.account_sid, call_sid, page_size, &items) < 0 ||
		(arr = json_loads(buf_str(&items), 0, NULL)) == NULL) {
		api_db_error(res);
	} else {
		char *uri = xasprintf("%s?PageSize=%ld&Page=0", req->path, page_size);
		api_json_doc(res, 200, json_pack("{s:o, s:i, s:i, s:s, s:s, s:n, s:n}", "recordings", arr,
			"page", 0, "page_size", (int)page_size, "uri", uri, "first_page_uri", uri,
			"next_page_uri", "previous_page_uri"));
		free(uri);
	}
	buf_free(&items);
}

/* GET or DELETE Recordings/{RE}.json. */
static void recording_one(struct sim_api *api, struct http_request *req, struct http_response *res,
	const char *sid)
{
	struct buf json = BUF_INIT;
	int r;
	if (strcmp(req->method, "DELETE") == 0) {
		r = sim_store_recording_delete(api->db, api->cfg.account_sid, sid);
		if (r < 0) {
			api_db_error(res);
		} else if (r == 0) {
			api_error(res, 404, 20404, "The requested resource was not found");
		} else {
			res->status = 204;
			buf_reset(&res->body);
		}
		return;
	}
	if (strcmp(req->method, "GET") != 0) {
		api_error(res, 405, 20004, "Method not allowed");
		return;
	}
	r = sim_store_recording_json(api->db, api->cfg.account_sid, sid, &json);
	api_found(res, r, &json);
	buf_free(&json);
}

/* The Recordings routes under /2010-04-01/Accounts/{AC}: 1 when tail
 * was one of them (answered). */
static int recording_routes(struct sim_api *api, struct http_request *req,
	struct http_response *res, const char *tail)
{
	if (strcmp(tail, "/Recordings.json") == 0) {
		recordings_list(api, req, res, NULL);
		return 1;
	}
	if (strncmp(tail, "/Recordings/", 12) == 0 && is_sid(tail + 12, "RE") &&
		strcmp(tail + 12 + SID_LEN, ".json") == 0) {
		recording_one(api, req, res, arena_strndup(req->arena, tail + 12, SID_LEN));
		return 1;
	}
	if (strncmp(tail, "/Calls/", 7) == 0 && is_sid(tail + 7, "CA") &&
		strcmp(tail + 7 + SID_LEN, "/Recordings.json") == 0) {
		recordings_list(api, req, res, arena_strndup(req->arena, tail + 7, SID_LEN));
		return 1;
	}
	return 0;
}

/* ---- the account and its phone numbers -------------------------------- */

/* GET Accounts/{AC}.json, or POST it with FriendlyName and Status. */
static void account_route(struct sim_api *api, struct http_request *req, struct http_response *res)
{
	static const char *const statuses[] = { "active", "suspended", "closed", NULL };
	struct buf json = BUF_INIT;
	struct params p;
	const char *name = NULL, *status = NULL;

	if (strcmp(req->method, "POST") == 0) {
		if (api_form(req, res, &p) < 0)
			goto out;
		name = param(&p, "FriendlyName");
		status = param(&p, "Status");
		if (name && strlen(name) > 64) {
			api_error(res, 400, 20001, "FriendlyName must be at most 64 characters");
			goto out;
		}
		if (status && !one_of(status, statuses)) {
			api_error(res, 400, 20001, "Status must be active, suspended or closed");
			goto out;
		}
	} else if (strcmp(req->method, "GET") != 0) {
		api_error(res, 405, 20004, "Method not allowed");
		goto out;
	}
	if (sim_store_account_json(api->db, api->cfg.account_sid, api->cfg.auth_token, name, status,
		    &json) < 0)
		api_db_error(res);
	else
		api_json(res, 200, buf_str(&json));
out:
	buf_free(&json);
}

/* The number fields of a create or update form into v (NULL: not given):
 * a URL empty (clears it) or absolute http(s) (else 21402), a method GET
 * or POST (else 21403), a friendly name of at most 64 characters.  0, or
 * -1 with the 400 answered. */
static int number_fields(const struct params *p, struct http_response *res,
	const char *v[SNF_N])
{
	char msg[160];
	for (int i = 0; i < SNF_N; i++) {
		const char *name = sim_number_params[i];
		const char *x = form_get(p, name);
		size_t n = strlen(name);
		int is_method = n > 6 && strcmp(name + n - 6, "Method") == 0;
		v[i] = NULL;
		if (x == NULL)
			continue;
		if (i == SNF_FRIENDLY_NAME) {
			if (*x == '\0' || strlen(x) > 64) {
				api_error(res, 400, 20001, "FriendlyName must be 1 to 64 characters");
				return -1;
			}
		} else if (is_method) {
			if (*x == '\0')
				continue;   /* an empty parameter is not given */
			if (strcmp(x, "GET") != 0 && strcmp(x, "POST") != 0) {
				snprintf(msg, sizeof(msg), "%s is not valid: GET or POST", name);
				api_error(res, 400, 21403, msg);
				return -1;
			}
		} else if (*x != '\0' && !valid_abs_url(x)) {
			snprintf(msg, sizeof(msg), "%s is not a valid URL", name);
			api_error(res, 400, 21402, msg);
			return -1;
		}
		v[i] = x;
	}
	return 0;
}

/* GET IncomingPhoneNumbers.json (PhoneNumber, FriendlyName ignored but
 * checked, PageSize, Page, PageToken) or POST it to buy PhoneNumber. */
static void numbers_route(struct sim_api *api, struct http_request *req, struct http_response *res)
{
	struct buf items = BUF_INIT, json = BUF_INIT, uri = BUF_INIT, first = BUF_INIT,
		   next = BUF_INIT;
	struct params p;
	const char *v[SNF_N], *pattern, *token, *number;
	long page = 0, page_size = PAGE_SIZE_DEFAULT;
	char last[35], sid[35];
	int more = 0, r;
	json_t *arr;

	if (strcmp(req->method, "POST") == 0) {
		if (api_form(req, res, &p) < 0 || number_fields(&p, res, v) < 0)
			goto out;
		number = param(&p, "PhoneNumber");
		if (number == NULL) {
			api_error(res, 400, 20001, param(&p, "AreaCode")
				? "The simulator does not choose numbers: give PhoneNumber"
				: "A PhoneNumber or AreaCode is required");
			goto out;
		}
		if (!is_e164(number)) {
			api_error(res, 400, 21421, "PhoneNumber is invalid");
			goto out;
		}
		if (api_new_sid(res, "PN", sid) < 0)
			goto out;
		r = sim_store_number_insert(api->db, api->cfg.account_sid, sid, number, v, &json);
		if (r < 0)
			api_db_error(res);
		else if (r == 0)
			api_error(res, 400, 21422, "PhoneNumber Requested is not available");
		else
			api_json(res, 201, buf_str(&json));
		goto out;
	}
	if (strcmp(req->method, "GET") != 0) {
		api_error(res, 405, 20004, "Method not allowed");
		goto out;
	}
	if (!req->query_ok) {
		api_error(res, 400, 20001, "Malformed query string");
		goto out;
	}
	pattern = param(&req->query_params, "PhoneNumber");
	if (pattern && (strlen(pattern) > 16 || strspn(pattern, "+0123456789*") != strlen(pattern))) {
		api_error(res, 400, 20001, "Invalid value for PhoneNumber: digits, + and * expected");
		goto out;
	}
	if ((token = param(&req->query_params, "PageSize")) &&
		int_param(token, 1, PAGE_SIZE_MAX, &page_size) < 0) {
		api_error(res, 400, 20001, "PageSize must be from 1 to 1000");
		goto out;
	}
	if ((token = param(&req->query_params, "Page")) && int_param(token, 0, 1000000, &page) < 0) {
		api_error(res, 400, 20001, "Page must be a whole number from 0");
		goto out;
	}
	token = param(&req->query_params, "PageToken");
	if (token && (strlen(token) != 2 + SID_LEN || strncmp(token, "PA", 2) != 0 ||
			     !is_sid(token + 2, "PN"))) {
		api_error(res, 400, 20001, "Invalid PageToken");
		goto out;
	}
	if (page > 0 && token == NULL) {
		api_error(res, 400, 20001, "PageToken is required for paging.");
		goto out;
	}
	if (sim_store_numbers_list(api->db, api->cfg.account_sid, pattern, page_size,
		    token ? token + 2 : NULL, &items, &more, last) < 0 ||
		(arr = json_loads(buf_str(&items), 0, NULL)) == NULL) {
		api_db_error(res);
		goto out;
	}
	const struct list_filter_param fp[] = { { "PhoneNumber", &pattern } };
	page_uri(&uri, req->path, fp, 1, page_size, page, token ? "" : NULL, token ? token : "");
	page_uri(&first, req->path, fp, 1, page_size, 0, NULL, NULL);
	if (more)
		page_uri(&next, req->path, fp, 1, page_size, page + 1, "PA", last);
	size_t count = json_array_size(arr);
	api_json_doc(res, 200, json_pack("{s:o, s:I, s:s, s:o, s:I, s:I, s:n, s:I, s:s}",
		"incoming_phone_numbers", arr,
		"end", (json_int_t)(count > 0 ? page * page_size + (long)count - 1 : page * page_size),
		"first_page_uri", buf_str(&first), "next_page_uri",
		json_uri(next.len ? buf_str(&next) : NULL), "page", (json_int_t)page,
		"page_size", (json_int_t)page_size, "previous_page_uri",
		"start", (json_int_t)(page * page_size), "uri", buf_str(&uri)));
out:
	buf_free(&items);
	buf_free(&json);
	buf_free(&uri);
	buf_free(&first);
	buf_free(&next);
}

/* GET, POST (update) or DELETE (release) IncomingPhoneNumbers/{PN}.json. */
static void number_route(struct sim_api *api, struct http_request *req, struct http_response *res,
	const char *sid)
{
	struct buf json = BUF_INIT;
	struct params p;
	const char *v[SNF_N];
	int r;

	if (strcmp(req->method, "GET") == 0) {
		r = sim_store_number_json(api->db, api->cfg.account_sid, sid, &json);
	} else if (strcmp(req->method, "POST") == 0) {
		if (api_form(req, res, &p) < 0 || number_fields(&p, res, v) < 0)
			goto out;
		r = sim_store_number_update(api->db, api->cfg.account_sid, sid, v, &json);
	} else if (strcmp(req->method, "DELETE") == 0) {
		r = sim_store_number_delete(api->db, api->cfg.account_sid, sid);
		if (r == 1) {
			res->status = 204;
			buf_reset(&res->body);
			goto out;
		}
	} else {
		api_error(res, 405, 20004, "Method not allowed");
		goto out;
	}
	api_found(res, r, &json);
out:
	buf_free(&json);
}

/* The IncomingPhoneNumbers routes under /2010-04-01/Accounts/{AC}: 1
 * when tail was one of them (answered). */
static int number_routes(struct sim_api *api, struct http_request *req,
	struct http_response *res, const char *tail)
{
	static const char pre[] = "/IncomingPhoneNumbers";
	size_t n = sizeof(pre) - 1;
	if (strncmp(tail, pre, n) != 0)
		return 0;
	if (strcmp(tail + n, ".json") == 0) {
		numbers_route(api, req, res);
		return 1;
	}
	if (tail[n] == '/' && is_sid(tail + n + 1, "PN") && strlen(tail + n + 1) == SID_LEN + 5 &&
		strcmp(tail + n + 1 + SID_LEN, ".json") == 0) {
		number_route(api, req, res, arena_strndup(req->arena, tail + n + 1, SID_LEN));
		return 1;
	}
	return 0;
}

/* /2010-04-01/Accounts/{AccountSid}/... */
static void twilio_routes(struct sim_api *api, struct http_request *req, struct http_response *res)
{
	const char *rest = req->path + strlen(API_PREFIX);
	const char *tail;
	int get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
	const char *kind = NULL, *list_path = NULL;

	if (strlen(rest) == SID_LEN + 5 && strcmp(rest + SID_LEN, ".json") == 0 &&
		strncmp(rest, api->cfg.account_sid, SID_LEN) == 0) {
		account_route(api, req, res);
		return;
	}
	if (strlen(rest) < SID_LEN || rest[SID_LEN] != '/' ||
		strncmp(rest, api->cfg.account_sid, SID_LEN) != 0) {
		api_error(res, 401, 20003, "Authenticate: the URL names another account");
		return;
	}
	tail = rest + SID_LEN;
	if (recording_routes(api, req, res, tail) || number_routes(api, req, res, tail))
		return;
	if (strcmp(tail, "/Calls.json") == 0)
		kind = "calls";
	else if (strcmp(tail, "/Messages.json") == 0)
		kind = "messages";
	if (kind) {
		list_path = arena_strdup(req->arena, req->path);
		if (post && strcmp(kind, "calls") == 0)
			calls_create(api, req, res);
		else if (post)
			messages_create(api, req, res);
		else if (get)
			list(api, req, res, kind, list_path);
		else
			api_error(res, 405, 20004, "Method not allowed");
		return;
	}
	/* /Calls/{CallSid}.json, /Messages/{MessageSid}.json */
	const char *sidp = NULL, *prefix = NULL;
	if (strncmp(tail, "/Calls/", 7) == 0) {
		kind = "calls";
		sidp = tail + 7;
		prefix = "CA";
	} else if (strncmp(tail, "/Messages/", 10) == 0) {
		kind = "messages";
		sidp = tail + 10;
		prefix = "SM";
	}
	if (sidp && strlen(sidp) == SID_LEN + 5 && strcmp(sidp + SID_LEN, ".json") == 0 &&
		strncmp(sidp, prefix, 2) == 0) {
		if (!get) {
			api_error(res, 405, 20004, "Method not allowed");
			return;
		}
		fetch(api, res, kind, arena_strndup(req->arena, sidp, SID_LEN));
		return;
	}
	api_error(res, 404, 20404, "The requested resource was not found");
}

static void callees(struct sim_api *api, struct http_request *req, struct http_response *res)
{
	struct params p;
	struct buf json = BUF_INIT;
	struct sim_callee *c = NULL;
	const char *number, *behaviour;
	char err[256], msg[320];

	if (strcmp(req->method, "GET") == 0) {
		json_t *list = sim_store_callees_json(api->db, &json) < 0 ? NULL :
			json_loads(buf_str(&json), 0, NULL);
		if (list == NULL)
			api_db_error(res);
		else
			api_json_doc(res, 200, json_pack("{s:o}", "callees", list));
		goto out;
	}
	if (strcmp(req->method, "POST") != 0) {
		api_error(res, 405, 20004, "Method not allowed");
		goto out;
	}
	if (api_form(req, res, &p) < 0)
		goto out;
	number = param(&p, "Number");
	behaviour = param(&p, "Behaviour");
	if (!is_e164(number)) {
		api_error(res, 400, 21211, "Number must be an E.164 phone number");
		goto out;
	}
	if (behaviour == NULL) {
		api_error(res, 400, 20001, "Behaviour is required");
		goto out;
	}
	c = xmalloc(sizeof(*c));
	if (sim_callee_parse(behaviour, c, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "Behaviour is not valid: %s", err);
		api_error(res, 400, 20001, msg);
		goto out;
	}
	if (sim_store_callee_set(api->db, number, behaviour) < 0) {
		api_db_error(res);
		goto out;
	}
	json_t *doc = json_pack("{s:s, s:s}", "number", number, "behaviour", behaviour);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (text == NULL)
		abort(); /* out of memory, as xmalloc would */
	api_json(res, 201, text);
	free(text);
	json_decref(doc);
out:
	free(c);
	buf_free(&json);
}

/* The voice URL of the account's numbers: RINGFENCE_SIM_VOICE_URL, else
 * RINGFENCE_PUBLIC_URL/twilio/voice/inbound; NULL when neither is set. */
static char *voice_url(const struct sim_api *api)
{
	const char *v = getenv("RINGFENCE_SIM_VOICE_URL"), *pub = api->cfg.public_url;
	size_t n;
	if (v && *v)
		return xstrdup(v);
	if (pub == NULL || *pub == '\0')
		return NULL;
	n = strlen(pub);
	while (n > 0 && pub[n - 1] == '/')
		n--;
	return xasprintf("%.*s/twilio/voice/inbound", (int)n, pub);
}

/* POST /sim/inbound-calls: From (the person calling), To (the account's
 * number called), Behaviour (what the caller does, a sim_callee line:
 * person or machine), optional Url (else the numbers' voice URL), Method,
 * StatusCallback, StatusCallbackMethod.  Queues an inbound call the
 * driver plays: 201 with the call's JSON. */
static void inbound_call(struct sim_api *api, struct http_request *req, struct http_response *res)
{
	struct params p;
	struct sim_store_call_new c;
	struct sim_callee *who = NULL;
	struct buf json = BUF_INIT;
	char sid[35], err[256], msg[320], *url = NULL;
	const char *v;

	if (strcmp(req->method, "POST") != 0) {
		api_error(res, 405, 20004, "Method not allowed");
		return;
	}
	if (api_form(req, res, &p) < 0)
		return;
	memset(&c, 0, sizeof(c));
	c.to = param(&p, "To");
	c.from = param(&p, "From");
	c.caller_behaviour = param(&p, "Behaviour");
	if (c.to == NULL || c.from == NULL) {
		api_error(res, 400, c.to ? 21213 : 21201, c.to ? "No 'From' number is specified"
			: "No 'To' number is specified");
		goto out;
	}
	if (numbers_invalid(res, c.to, c.from))
		goto out;
	if (c.caller_behaviour == NULL) {
		api_error(res, 400, 20001, "Behaviour is required (what the caller does, e.g."
			" \"person; press 123456\")");
		goto out;
	}
	who = xmalloc(sizeof(*who));
	if (sim_callee_parse(c.caller_behaviour, who, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "Behaviour is not valid: %s", err);
		api_error(res, 400, 20001, msg);
		goto out;
	}
	if (who->answer != SIM_ANSWER_PERSON && who->answer != SIM_ANSWER_MACHINE) {
		api_error(res, 400, 20001, "Behaviour: a caller is a person or a machine");
		goto out;
	}
	v = param(&p, "Url");
	url = v ? xstrdup(v) : voice_url(api);
	if (url == NULL) {
		api_error(res, 400, 21205, "Url is required: neither RINGFENCE_SIM_VOICE_URL nor"
			" RINGFENCE_PUBLIC_URL gives the number's voice URL");
		goto out;
	}
	if (!valid_abs_url(url)) {
		api_error(res, 400, 21205, "Url is not a valid absolute http(s) URL");
		goto out;
	}
	c.url = url;
	if (call_callback_params(res, &p, &c) < 0)
		goto out;
	if (api_new_sid(res, "CA", sid) < 0)
		goto out;
	c.sid = sid;
	c.account_sid = api->cfg.account_sid;
	c.direction = "inbound";
	c.timeout_s = 60;
	c.time_limit_s = 14400;
	if (sim_store_call_insert(api->db, &c, &json) < 0) {
		api_db_error(res);
		goto out;
	}
	api_json(res, 201, buf_str(&json));
out:
	free(who);
	free(url);
	buf_free(&json);
}

/* /sim/calls/{Sid}/transcript|events.json, /sim/messages/{Sid}/... */
static void transcript(struct sim_api *api, struct http_request *req, struct http_response *res)
{
	const char *rest, *prefix, *what;
	struct buf body = BUF_INIT;
	int r, as_json;
	char sid[SID_LEN + 1];

	if (strncmp(req->path, "/sim/calls/", 11) == 0) {
		rest = req->path + 11;
		prefix = "CA";
	} else {
		rest = req->path + 14;
		prefix = "SM";
	}
	if (strlen(rest) <= SID_LEN || rest[SID_LEN] != '/' || strncmp(rest, prefix, 2) != 0) {
		api_error(res, 404, 20404, "The requested resource was not found");
		goto out;
	}
	what = rest + SID_LEN + 1;
	if (strcmp(what, "transcript") == 0)
		as_json = 0;
	else if (strcmp(what, "events.json") == 0)
		as_json = 1;
	else {
		api_error(res, 404, 20404, "The requested resource was not found");
		goto out;
	}
	if (strcmp(req->method, "GET") != 0) {
		api_error(res, 405, 20004, "Method not allowed");
		goto out;
	}
	memcpy(sid, rest, SID_LEN);
	sid[SID_LEN] = '\0';
	r = sim_store_transcript(api->db, sid, as_json, &body);
	if (r < 0) {
		api_db_error(res);
	} else if (r == 0) {
		api_error(res, 404, 20404, "The requested resource was not found");
	} else if (as_json) {
		json_t *events = json_loads(buf_str(&body), 0, NULL);
		if (events == NULL)
			api_db_error(res);
		else
			api_json_doc(res, 200, json_pack("{s:s, s:o}", "sid", sid, "events", events));
	} else {
		res->status = 200;
		res->content_type = "text/plain; charset=utf-8";
		buf_reset(&res->body);
		buf_puts(&res->body, buf_str(&body));
	}
out:
	buf_free(&body);
}

static void health(struct sim_api *api, struct http_response *res)
{
	PGresult *pg = db_exec(api->db, "SELECT 1", 0, NULL);
	if (pg)
		PQclear(pg);
	api_json(res, pg ? 200 : 503, pg ? "{\"status\": \"ok\", \"database\": \"ok\"}"
					 : "{\"status\": \"degraded\", \"database\": \"unavailable\"}");
}

void sim_api_handle(struct sim_api *api, struct http_request *req, struct http_response *res)
{
	if (strcmp(req->path, "/healthz") == 0) {
		health(api, res);
		return;
	}
	if (recording_media(api, req, res))
		return;
	if (!api_authorised(api, req->authorization)) {
		api_error(res, 401, 20003, "Authenticate");
		http_response_header(res, "WWW-Authenticate", "Basic realm=\"Twilio API\"");
		return;
	}
	if (strncmp(req->path, API_PREFIX, strlen(API_PREFIX)) == 0)
		twilio_routes(api, req, res);
	else if (strcmp(req->path, "/sim/callees") == 0)
		callees(api, req, res);
	else if (strcmp(req->path, "/sim/inbound-calls") == 0)
		inbound_call(api, req, res);
	else if (strncmp(req->path, "/sim/calls/", 11) == 0 ||
		strncmp(req->path, "/sim/messages/", 14) == 0)
		transcript(api, req, res);
	else
		api_error(res, 404, 20404, "The requested resource was not found");
}

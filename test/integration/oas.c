/* oas: Twilio's OpenAPI description as a response checker.  See oas.h. */
#include "oas.h"
#include "util.h"

#include <ctype.h>
#include <jansson.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The loaded spec; owned here from oas_load to oas_unload. */
static json_t *spec;

/* Compiled patterns, keyed by the spec's own pattern strings (which live
 * as long as the spec). */
#define OAS_REGEX_CACHE 64
static struct {
	const char *pattern;
	regex_t re;
} regex_cache[OAS_REGEX_CACHE];
static size_t nregex;

/* Deeper than this a schema is taken for a $ref loop. */
#define OAS_MAX_DEPTH 32

/* Where the check is in the document, and where the first problem goes. */
struct ctx {
	char path[512];
	size_t len;
	char *err;
	size_t errlen;
};

static void regex_cache_clear(void)
{
	for (size_t i = 0; i < nregex; i++)
		regfree(&regex_cache[i].re);
	nregex = 0;
}

void oas_unload(void)
{
	regex_cache_clear();
	json_decref(spec);
	spec = NULL;
}

int oas_load(const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc;
	int rc = -1;

	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		snprintf(err, errlen, "%s: %s (line %d, column %d)", path, jerr.text, jerr.line,
			jerr.column);
		goto out;
	}
	if (!json_is_object(json_object_get(doc, "paths")) ||
		!json_is_object(json_object_get(doc, "components"))) {
		snprintf(err, errlen, "%s: not an OpenAPI document (no paths or components)", path);
		json_decref(doc);
		goto out;
	}
	oas_unload();
	spec = doc;
	rc = 0;
out:
	return rc;
}

/* ---- messages ------------------------------------------------------------ */

/* Appends ".key" (or "key" at the top) to the document path and returns
 * the length to restore afterwards. */
static size_t path_key(struct ctx *c, const char *key)
{
	size_t old = c->len;
	int n = snprintf(c->path + c->len, sizeof(c->path) - c->len, "%s%s",
		c->len ? "." : "", key);
	if (n > 0)
		c->len = c->len + (size_t)n < sizeof(c->path) ? c->len + (size_t)n : sizeof(c->path) - 1;
	return old;
}

static size_t path_index(struct ctx *c, size_t i)
{
	size_t old = c->len;
	int n = snprintf(c->path + c->len, sizeof(c->path) - c->len, "[%zu]", i);
	if (n > 0)
		c->len = c->len + (size_t)n < sizeof(c->path) ? c->len + (size_t)n : sizeof(c->path) - 1;
	return old;
}

static void path_restore(struct ctx *c, size_t old)
{
	c->len = old;
	c->path[old] = '\0';
}

/* Records "path: message" as the problem; always returns -1. */
static int problem(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int problem(struct ctx *c, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s: %s", c->len ? c->path : "response", msg);
	return -1;
}

/* A short printable rendering of a string value, quoted, into out. */
static void quote(const char *s, char *out, size_t n)
{
	size_t j = 0, i;

	if (n < 8) {
		if (n)
			out[0] = '\0';
		return;
	}
	out[j++] = '\'';
	for (i = 0; s[i] && j + 5 < n && i < 80; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[j++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	if (s[i] && j + 4 < n) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	out[j++] = '\'';
	out[j] = '\0';
}

/* What v is, for messages: "'text'", "integer 15", "null", ... */
static void describe(const json_t *v, char *out, size_t n)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		quote(json_string_value(v), out, n);
		break;
	case JSON_INTEGER:
		snprintf(out, n, "integer %" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(out, n, "number %g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(out, n, "boolean true");
		break;
	case JSON_FALSE:
		snprintf(out, n, "boolean false");
		break;
	case JSON_NULL:
		snprintf(out, n, "null");
		break;
	case JSON_OBJECT:
		snprintf(out, n, "an object");
		break;
	case JSON_ARRAY:
		snprintf(out, n, "an array");
		break;
	}
}

/* ---- formats ------------------------------------------------------------- */

static void why_set(char *why, size_t whylen, const char *msg)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", msg);
}

/* Reads min..max decimal digits at *p into *out; 0 or -1. */
static int digits(const char **p, int min, int max, int *out)
{
	int n = 0, v = 0;
	while (n < max && isdigit((unsigned char)(*p)[n])) {
		v = v * 10 + ((*p)[n] - '0');
		n++;
	}
	if (n < min || isdigit((unsigned char)(*p)[n]))
		return -1;
	*p += n;
	*out = v;
	return 0;
}

static int days_in_month(int month, int year)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 1 && leap ? 29 : days[month];
}

/* 0 = Sunday, for month 0..11 (Sakamoto's method). */
static int weekday(int year, int month, int day)
{
	static const int t[] = { 0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4 };
	if (month < 2)
		year--;
	return (year + year / 4 - year / 100 + year / 400 + t[month] + day) % 7;
}

static const char *const wday_names[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const month_names[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

int oas_is_rfc2822_date(const char *s, char *why, size_t whylen)
{
	const char *p = s;
	int wday = -1, day, month = -1, year, hh, mm, ss = 0, zone, ok = 0;
	char msg[96];

	if (isalpha((unsigned char)*p)) {
		for (int i = 0; i < 7; i++)
			if (strncmp(p, wday_names[i], 3) == 0)
				wday = i;
		if (wday < 0) {
			why_set(why, whylen, "unknown weekday");
			goto out;
		}
		p += 3;
		if (p[0] != ',' || p[1] != ' ') {
			why_set(why, whylen, "the weekday must be followed by \", \"");
			goto out;
		}
		p += 2;
	}
	if (digits(&p, 1, 2, &day) < 0 || *p++ != ' ') {
		why_set(why, whylen, "no day of the month");
		goto out;
	}
	for (int i = 0; i < 12; i++)
		if (strncmp(p, month_names[i], 3) == 0)
			month = i;
	if (month < 0 || p[3] != ' ') {
		why_set(why, whylen, "no month name");
		goto out;
	}
	p += 4;
	if (digits(&p, 4, 4, &year) < 0 || *p++ != ' ') {
		why_set(why, whylen, "no four-digit year");
		goto out;
	}
	if (digits(&p, 2, 2, &hh) < 0 || *p++ != ':' || digits(&p, 2, 2, &mm) < 0) {
		why_set(why, whylen, "no hh:mm time");
		goto out;
	}
	if (*p == ':' && (p++, digits(&p, 2, 2, &ss) < 0)) {
		why_set(why, whylen, "bad seconds");
		goto out;
	}
	if (*p++ != ' ') {
		why_set(why, whylen, "no zone");
		goto out;
	}
	if ((*p == '+' || *p == '-') && (p++, digits(&p, 4, 4, &zone) == 0)) {
		if (zone % 100 > 59) {
			why_set(why, whylen, "zone minutes above 59");
			goto out;
		}
	} else if (strcmp(p, "GMT") == 0 || strcmp(p, "UT") == 0) {
		p += strlen(p);
	} else {
		why_set(why, whylen, "the zone is not +hhmm, -hhmm, GMT or UT");
		goto out;
	}
	if (*p != '\0') {
		why_set(why, whylen, "text after the zone");
		goto out;
	}
	if (day < 1 || day > days_in_month(month, year)) {
		snprintf(msg, sizeof(msg), "%s %d has no day %d", month_names[month], year, day);
		why_set(why, whylen, msg);
		goto out;
	}
	if (hh > 23 || mm > 59 || ss > 60) {
		why_set(why, whylen, "time out of range");
		goto out;
	}
	if (wday >= 0 && weekday(year, month, day) != wday) {
		snprintf(msg, sizeof(msg), "%d %s %d is a %s, not a %s", day, month_names[month],
			year, wday_names[weekday(year, month, day)], wday_names[wday]);
		why_set(why, whylen, msg);
		goto out;
	}
	ok = 1;
out:
	return ok;
}

static int is_date(const char *s, char *why, size_t whylen)
{
	const char *p = s;
	int y, m, d;

	if (digits(&p, 4, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, 2, &m) < 0 ||
		*p++ != '-' || digits(&p, 2, 2, &d) < 0 || *p != '\0') {
		why_set(why, whylen, "not YYYY-MM-DD");
		return 0;
	}
	if (m < 1 || m > 12 || d < 1 || d > days_in_month(m - 1, y)) {
		why_set(why, whylen, "no such day");
		return 0;
	}
	return 1;
}

/* An absolute URI (scheme ":" something) or a path from api.twilio.com
 * ("/2010-04-01/..."), ASCII with nothing a URI must escape. */
static int is_uri(const char *s, char *why, size_t whylen)
{
	const char *p;

	if (*s == '\0') {
		why_set(why, whylen, "empty");
		return 0;
	}
	for (p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch <= 0x20 || ch >= 0x7f || strchr("\"<>\\^`{|}", ch)) {
			why_set(why, whylen, "holds a space or a character a URI must escape");
			return 0;
		}
	}
	if (s[0] == '/')
		return s[1] != '/' ? 1 : (why_set(why, whylen, "starts with //"), 0);
	if (!isalpha((unsigned char)s[0])) {
		why_set(why, whylen, "neither an absolute URI nor a path");
		return 0;
	}
	for (p = s + 1; isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.'; p++)
		;
	if (*p != ':' || p[1] == '\0') {
		why_set(why, whylen, "neither an absolute URI nor a path");
		return 0;
	}
	return 1;
}

/* "http(s)://" and a host. */
static int is_http_url(const char *s)
{
	const char *host;

	if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		return 0;
	return isalnum((unsigned char)*host) && is_uri(s, NULL, 0);
}

static int is_upper_n(const char *s, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return 0;
	return s[n] == '\0';
}

static int is_currency(const char *s, char *why, size_t whylen)
{
	if (is_upper_n(s, 3))
		return 1;
	why_set(why, whylen, "not three capital letters");
	return 0;
}

static int is_country(const char *s, char *why, size_t whylen)
{
	if (is_upper_n(s, 2))
		return 1;
	why_set(why, whylen, "not two capital letters");
	return 0;
}

static int is_http_method(const char *s, char *why, size_t whylen)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH",
		"OPTIONS" };
	for (size_t i = 0; i < ARRAY_LEN(methods); i++)
		if (strcmp(s, methods[i]) == 0)
			return 1;
	why_set(why, whylen, "not an upper-case HTTP method");
	return 0;
}

static const struct {
	const char *name;
	const char *what; /* "'x' is not <what>" */
	int (*valid)(const char *s, char *why, size_t whylen);
} formats[] = {
	{ "date-time-rfc-2822", "an RFC 2822 date", oas_is_rfc2822_date },
	{ "date", "a date", is_date },
	{ "uri", "a URI", is_uri },
	{ "currency", "a currency code", is_currency },
	{ "iso-country-code", "an ISO country code", is_country },
	{ "http-method", "an HTTP method", is_http_method },
};

/* ---- schemas ------------------------------------------------------------- */

/* The value a local $ref ("#/components/schemas/x") points at, or NULL. */
static json_t *ref_target(const char *ref)
{
	json_t *cur = spec;
	const char *p;
	char tok[256];

	if (strncmp(ref, "#/", 2) != 0)
		return NULL;
	for (p = ref + 2; *p && cur;) {
		size_t n = strcspn(p, "/"), j = 0;
		for (size_t i = 0; i < n; i++) {
			if (j + 1 >= sizeof(tok))
				return NULL;
			if (p[i] == '~' && i + 1 < n && (p[i + 1] == '0' || p[i + 1] == '1')) {
				tok[j++] = p[i + 1] == '0' ? '~' : '/';
				i++;
			} else {
				tok[j++] = p[i];
			}
		}
		tok[j] = '\0';
		cur = json_object_get(cur, tok);
		p += n;
		if (*p == '/')
			p++;
	}
	return cur;
}

/* schema with every $ref followed, or NULL with the problem recorded. */
static json_t *resolve(struct ctx *c, json_t *schema)
{
	for (int hops = 0; hops < OAS_MAX_DEPTH; hops++) {
		json_t *ref;
		if (!json_is_object(schema)) {
			problem(c, "the spec's schema here is not an object");
			return NULL;
		}
		ref = json_object_get(schema, "$ref");
		if (ref == NULL)
			return schema;
		if (!json_is_string(ref) || (schema = ref_target(json_string_value(ref))) == NULL) {
			problem(c, "the spec's $ref %s leads nowhere",
				json_is_string(ref) ? json_string_value(ref) : "(not a string)");
			return NULL;
		}
	}
	problem(c, "the spec's $refs loop");
	return NULL;
}

static int type_ok(const char *type, const json_t *v)
{
	if (strcmp(type, "string") == 0)
		return json_is_string(v);
	if (strcmp(type, "integer") == 0)
		return json_is_integer(v);
	if (strcmp(type, "number") == 0)
		return json_is_number(v);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(type, "object") == 0)
		return json_is_object(v);
	if (strcmp(type, "array") == 0)
		return json_is_array(v);
	return -1;
}

/* The compiled form of pattern, or NULL when it does not compile. */
static regex_t *regex_for(const char *pattern, regex_t *scratch, int *scratch_used)
{
	regex_t *re;

	for (size_t i = 0; i < nregex; i++)
		if (regex_cache[i].pattern == pattern)
			return &regex_cache[i].re;
	re = nregex < OAS_REGEX_CACHE ? &regex_cache[nregex].re : scratch;
	if (regcomp(re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return NULL;
	if (re == scratch)
		*scratch_used = 1;
	else
		regex_cache[nregex++].pattern = pattern;
	return re;
}

static int check_value(struct ctx *c, json_t *schema, json_t *v, int depth);

static int check_string(struct ctx *c, json_t *schema, json_t *v)
{
	const char *s = json_string_value(v), *fmt;
	json_t *min = json_object_get(schema, "minLength"), *max = json_object_get(schema, "maxLength");
	json_t *pattern = json_object_get(schema, "pattern");
	char shown[128], why[128];
	size_t chars = 0;

	for (const char *p = s; *p; p++)
		if (((unsigned char)*p & 0xc0) != 0x80)
			chars++;
	quote(s, shown, sizeof(shown));
	if (json_is_integer(min) && (json_int_t)chars < json_integer_value(min))
		return problem(c, "%s is shorter than %" JSON_INTEGER_FORMAT " characters", shown,
			json_integer_value(min));
	if (json_is_integer(max) && (json_int_t)chars > json_integer_value(max))
		return problem(c, "%s is longer than %" JSON_INTEGER_FORMAT " characters", shown,
			json_integer_value(max));
	if (json_is_string(pattern)) {
		regex_t scratch, *re;
		int scratch_used = 0, match;
		re = regex_for(json_string_value(pattern), &scratch, &scratch_used);
		if (re == NULL)
			return problem(c, "the spec's pattern %s does not compile",
				json_string_value(pattern));
		match = regexec(re, s, 0, NULL, 0) == 0;
		if (scratch_used)
			regfree(&scratch);
		if (!match)
			return problem(c, "%s does not match %s", shown, json_string_value(pattern));
	}
	fmt = json_string_value(json_object_get(schema, "format"));
	if (fmt == NULL)
		return 0;
	for (size_t i = 0; i < ARRAY_LEN(formats); i++) {
		if (strcmp(fmt, formats[i].name) != 0)
			continue;
		why[0] = '\0';
		if (!formats[i].valid(s, why, sizeof(why)))
			return problem(c, "%s is not %s (%s)", shown, formats[i].what, why);
	}
	return 0;
}

static int check_object(struct ctx *c, json_t *schema, json_t *v, int depth)
{
	json_t *props = json_object_get(schema, "properties");
	json_t *addl = json_object_get(schema, "additionalProperties");
	const char *key, *fmt = json_string_value(json_object_get(schema, "format"));
	json_t *val, *ps;
	size_t old;

	if (json_is_object(props)) {
		json_object_foreach(v, key, val) {
			if (json_object_get(props, key) != NULL)
				continue;
			old = path_key(c, key);
			if (json_is_object(addl)) {
				if (check_value(c, addl, val, depth + 1) < 0)
					return -1;
			} else {
				return problem(c, "a field the schema does not have");
			}
			path_restore(c, old);
		}
		json_object_foreach(props, key, ps) {
			int rc;
			old = path_key(c, key);
			val = json_object_get(v, key);
			if (val == NULL)
				return problem(c, "missing (Twilio sends every field, null when empty)");
			rc = check_value(c, ps, val, depth + 1);
			if (rc < 0)
				return -1;
			path_restore(c, old);
		}
		return 0;
	}
	json_object_foreach(v, key, val) {
		old = path_key(c, key);
		if (fmt && strcmp(fmt, "uri-map") == 0) {
			char why[128], shown[128];
			if (!json_is_string(val)) {
				describe(val, shown, sizeof(shown));
				return problem(c, "expected a URI string, got %s", shown);
			}
			if (!is_uri(json_string_value(val), why, sizeof(why))) {
				quote(json_string_value(val), shown, sizeof(shown));
				return problem(c, "%s is not a URI (%s)", shown, why);
			}
		} else if (json_is_object(addl)) {
			if (check_value(c, addl, val, depth + 1) < 0)
				return -1;
		} else if (json_is_false(addl)) {
			return problem(c, "a field the schema does not have");
		}
		path_restore(c, old);
	}
	return 0;
}

static int check_array(struct ctx *c, json_t *schema, json_t *v, int depth)
{
	json_t *items = json_object_get(schema, "items");
	json_t *min = json_object_get(schema, "minItems"), *max = json_object_get(schema, "maxItems");
	json_t *val;
	size_t i, old;

	if (json_is_integer(min) && (json_int_t)json_array_size(v) < json_integer_value(min))
		return problem(c, "%zu items, fewer than %" JSON_INTEGER_FORMAT, json_array_size(v),
			json_integer_value(min));
	if (json_is_integer(max) && (json_int_t)json_array_size(v) > json_integer_value(max))
		return problem(c, "%zu items, more than %" JSON_INTEGER_FORMAT, json_array_size(v),
			json_integer_value(max));
	if (items == NULL)
		return 0;
	json_array_foreach(v, i, val) {
		old = path_index(c, i);
		if (check_value(c, items, val, depth + 1) < 0)
			return -1;
		path_restore(c, old);
	}
	return 0;
}

/* Checks v against schema; 0, or -1 with the problem recorded. */
static int check_value(struct ctx *c, json_t *schema, json_t *v, int depth)
{
	const char *type;
	json_t *en, *min, *max;
	char shown[128];
	int ok;

	if (depth > OAS_MAX_DEPTH)
		return problem(c, "nested deeper than %d levels", OAS_MAX_DEPTH);
	schema = resolve(c, schema);
	if (schema == NULL)
		return -1;
	describe(v, shown, sizeof(shown));
	if (json_is_null(v))
		return json_is_true(json_object_get(schema, "nullable")) ? 0 :
			problem(c, "null, but the schema does not allow null");
	type = json_string_value(json_object_get(schema, "type"));
	if (type) {
		ok = type_ok(type, v);
		if (ok < 0)
			return problem(c, "the spec names an unknown type '%s'", type);
		if (!ok)
			return problem(c, "expected %s%s, got %s", type,
				json_is_true(json_object_get(schema, "nullable")) ? " or null" : "", shown);
	}
	en = json_object_get(schema, "enum");
	if (json_is_array(en)) {
		size_t i;
		json_t *e;
		char list[512];
		size_t n = 0;
		json_array_foreach(en, i, e)
			if (json_equal(e, v))
				break;
		if (i == json_array_size(en)) {
			list[0] = '\0';
			json_array_foreach(en, i, e) {
				int w = snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
					json_is_string(e) ? json_string_value(e) : "?");
				if (w < 0 || (size_t)w >= sizeof(list) - n)
					break;
				n += (size_t)w;
			}
			return problem(c, "%s is not one of: %s", shown, list);
		}
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		return check_string(c, schema, v);
	case JSON_INTEGER:
	case JSON_REAL:
		min = json_object_get(schema, "minimum");
		max = json_object_get(schema, "maximum");
		if (json_is_number(min) && json_number_value(v) < json_number_value(min))
			return problem(c, "%s is below the minimum %g", shown, json_number_value(min));
		if (json_is_number(max) && json_number_value(v) > json_number_value(max))
			return problem(c, "%s is above the maximum %g", shown, json_number_value(max));
		return 0;
	case JSON_OBJECT:
		return check_object(c, schema, v, depth);
	case JSON_ARRAY:
		return check_array(c, schema, v, depth);
	default:
		return 0;
	}
}

/* ---- error documents ----------------------------------------------------- */

/* Twilio's error body: code, message, more_info and status, and an
 * optional details object (the helper libraries read it), nothing else. */
static int check_error_doc(struct ctx *c, json_t *doc, int status)
{
	static const char *const fields[] = { "code", "message", "more_info", "status" };
	json_t *details = json_object_get(doc, "details");
	const char *key;
	json_t *val, *code, *message, *more_info, *st;
	char shown[128];
	size_t old;

	if (!json_is_object(doc)) {
		describe(doc, shown, sizeof(shown));
		return problem(c, "a %d error must be a JSON object like Twilio's "
			"{code, message, more_info, status}, got %s", status, shown);
	}
	json_object_foreach(doc, key, val) {
		size_t i;
		for (i = 0; i < ARRAY_LEN(fields); i++)
			if (strcmp(key, fields[i]) == 0)
				break;
		if (i == ARRAY_LEN(fields) && strcmp(key, "details") != 0) {
			path_key(c, key);
			return problem(c, "a field Twilio's error document does not have");
		}
	}
	for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
		if (json_object_get(doc, fields[i]) == NULL) {
			path_key(c, fields[i]);
			return problem(c, "missing from the error document");
		}
	}
	if (details != NULL && !json_is_object(details)) {
		path_key(c, "details");
		describe(details, shown, sizeof(shown));
		return problem(c, "expected object, got %s", shown);
	}
	code = json_object_get(doc, "code");
	message = json_object_get(doc, "message");
	more_info = json_object_get(doc, "more_info");
	st = json_object_get(doc, "status");

	old = path_key(c, "code");
	describe(code, shown, sizeof(shown));
	if (!json_is_integer(code))
		return problem(c, "expected integer, got %s", shown);
	if (json_integer_value(code) < 10000 || json_integer_value(code) > 99999)
		return problem(c, "%s is not a Twilio error code (five digits)", shown);
	path_restore(c, old);

	path_key(c, "message");
	describe(message, shown, sizeof(shown));
	if (!json_is_string(message))
		return problem(c, "expected string, got %s", shown);
	if (json_string_length(message) == 0)
		return problem(c, "empty");
	path_restore(c, old);

	path_key(c, "more_info");
	describe(more_info, shown, sizeof(shown));
	if (!json_is_string(more_info))
		return problem(c, "expected string, got %s", shown);
	if (!is_http_url(json_string_value(more_info)))
		return problem(c, "%s is not an http(s) URL", shown);
	path_restore(c, old);

	path_key(c, "status");
	describe(st, shown, sizeof(shown));
	if (!json_is_integer(st))
		return problem(c, "expected integer, got %s", shown);
	if (json_integer_value(st) != status)
		return problem(c, "%s, but the HTTP status is %d", shown, status);
	path_restore(c, old);
	return 0;
}

/* ---- the check ----------------------------------------------------------- */

static int blank(const char *s)
{
	while (s && isspace((unsigned char)*s))
		s++;
	return s == NULL || *s == '\0';
}

int oas_check(const char *method, const char *path_template, int status, const char *json,
	char *err, size_t errlen)
{
	struct ctx c;
	char m[16], code[16], listed[128];
	json_t *op, *resp, *schema, *doc = NULL;
	json_error_t jerr;
	size_t i, n;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	c.err = err;
	c.errlen = errlen;
	if (spec == NULL && oas_load(OAS_SPEC_PATH, err, errlen) < 0)
		goto out;
	n = strlen(method);
	if (n == 0 || n >= sizeof(m)) {
		snprintf(err, errlen, "'%.20s' is not an HTTP method", method);
		goto out;
	}
	for (i = 0; i <= n; i++)
		m[i] = (char)tolower((unsigned char)method[i]);
	op = json_object_get(json_object_get(spec, "paths"), path_template);
	if (op == NULL) {
		snprintf(err, errlen, "%s is not a path in the spec", path_template);
		goto out;
	}
	op = json_object_get(op, m);
	if (!json_is_object(op)) {
		snprintf(err, errlen, "the spec has no %s %s", method, path_template);
		goto out;
	}
	if (!blank(json)) {
		doc = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
		if (doc == NULL) {
			snprintf(err, errlen, "response is not JSON: %s (line %d, column %d)", jerr.text,
				jerr.line, jerr.column);
			goto out;
		}
	}
	if (status >= 400) {
		if (doc == NULL) {
			snprintf(err, errlen, "response: a %d error with an empty body; Twilio sends "
				"{code, message, more_info, status}", status);
			goto out;
		}
		rc = check_error_doc(&c, doc, status);
		goto out;
	}
	snprintf(code, sizeof(code), "%d", status);
	resp = json_object_get(json_object_get(op, "responses"), code);
	if (resp == NULL) {
		const char *k;
		json_t *ignored;
		n = 0;
		listed[0] = '\0';
		json_object_foreach(json_object_get(op, "responses"), k, ignored) {
			int w = snprintf(listed + n, sizeof(listed) - n, "%s%s", n ? ", " : "", k);
			if (w < 0 || (size_t)w >= sizeof(listed) - n)
				break;
			n += (size_t)w;
		}
		snprintf(err, errlen, "%s %s answered %d; the spec gives %s", method, path_template,
			status, n ? listed : "no response");
		goto out;
	}
	if ((resp = resolve(&c, resp)) == NULL)
		goto out;
	schema = json_object_get(json_object_get(json_object_get(resp, "content"),
		"application/json"), "schema");
	if (json_object_get(resp, "content") == NULL) {
		if (doc != NULL) {
			snprintf(err, errlen, "response: %s %s answers %d with no body, got one",
				method, path_template, status);
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (schema == NULL) {
		snprintf(err, errlen, "the spec gives no application/json schema for %s %s %d",
			method, path_template, status);
		goto out;
	}
	if (doc == NULL) {
		snprintf(err, errlen, "response: empty body, a JSON document was expected");
		goto out;
	}
	rc = check_value(&c, schema, doc, 0);
out:
	json_decref(doc);
	return rc;
}

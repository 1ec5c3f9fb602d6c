/* oas: Twilio's OpenAPI description as a response checker.  See oas.h. */
#include "oas.h"
#include "rfc3339.h"
#include "util.h"

#include <ctype.h>
#include <jansson.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* The value a local $ref ("#/components/schemas/x") points at in the
 * document root, or NULL. */
static json_t *ref_target_in(json_t *root, const char *ref)
{
	json_t *cur = root;
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

/* The same in Twilio's spec. */
static json_t *ref_target(const char *ref)
{
	return ref_target_in(spec, ref);
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

/* ---- ringfence's own API description --------------------------------------- */

/* The loaded description of /api/v1 (src/www/openapi.json); owned here
 * from oas_api_load to oas_api_unload. */
static json_t *api_spec;

void oas_api_unload(void)
{
	json_decref(api_spec);
	api_spec = NULL;
}

int oas_api_load(const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

	if (doc == NULL) {
		snprintf(err, errlen, "%s: %s (line %d, column %d)", path, jerr.text, jerr.line,
			jerr.column);
		return -1;
	}
	oas_api_unload();
	api_spec = doc;
	return 0;
}

/* Every "$ref" under v must be a local reference that resolves in root. */
static int api_refs_resolve(struct ctx *c, json_t *root, json_t *v, int depth)
{
	const char *key;
	json_t *m;
	size_t i, old;

	if (depth > 64)
		return problem(c, "nested too deeply");
	if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			old = path_index(c, i);
			if (api_refs_resolve(c, root, m, depth + 1) < 0)
				return -1;
			path_restore(c, old);
		}
		return 0;
	}
	if (!json_is_object(v))
		return 0;
	json_object_foreach(v, key, m) {
		old = path_key(c, key);
		if (strcmp(key, "$ref") == 0) {
			if (!json_is_string(m) || ref_target_in(root, json_string_value(m)) == NULL)
				return problem(c, "%s does not resolve",
					json_is_string(m) ? json_string_value(m) : "(not a string)");
		} else if (api_refs_resolve(c, root, m, depth + 1) < 0) {
			return -1;
		}
		path_restore(c, old);
	}
	return 0;
}

/* schema with its $refs followed in api_spec, or NULL with the problem. */
static json_t *api_resolve(struct ctx *c, json_t *schema)
{
	for (int hops = 0; hops < OAS_MAX_DEPTH; hops++) {
		json_t *ref;
		if (!json_is_object(schema)) {
			problem(c, "the description's schema here is not an object");
			return NULL;
		}
		ref = json_object_get(schema, "$ref");
		if (ref == NULL)
			return schema;
		if (!json_is_string(ref) ||
			(schema = ref_target_in(api_spec, json_string_value(ref))) == NULL) {
			problem(c, "$ref %s leads nowhere",
				json_is_string(ref) ? json_string_value(ref) : "(not a string)");
			return NULL;
		}
	}
	problem(c, "the description's $refs loop");
	return NULL;
}

static const char *const api_methods[] = { "get", "put", "post", "delete", "options", "head",
	"patch", "trace", NULL };

int oas_api_check_doc(char *err, size_t errlen)
{
	struct ctx c;
	json_t *paths, *item, *op, *names = json_object();
	const char *path, *key;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	c.err = err;
	c.errlen = errlen;
	if (api_spec == NULL && oas_api_load(OAS_API_SPEC_PATH, err, errlen) < 0)
		goto out;
	if (!json_is_string(json_object_get(api_spec, "openapi")) ||
		strcmp(json_string_value(json_object_get(api_spec, "openapi")), "3.1.0") != 0) {
		problem(&c, "\"openapi\" is not \"3.1.0\"");
		goto out;
	}
	if (!json_is_string(json_object_get(json_object_get(api_spec, "info"), "title")) ||
		!json_is_string(json_object_get(json_object_get(api_spec, "info"), "version"))) {
		problem(&c, "info needs a title and a version");
		goto out;
	}
	if (api_refs_resolve(&c, api_spec, api_spec, 0) < 0)
		goto out;
	paths = json_object_get(api_spec, "paths");
	if (!json_is_object(paths) || json_object_size(paths) == 0) {
		problem(&c, "no paths");
		goto out;
	}
	json_object_foreach(paths, path, item) {
		size_t old = path_key(&c, path), nops = 0;
		if (path[0] != '/') {
			problem(&c, "a path must start with /");
			goto out;
		}
		json_object_foreach(item, key, op) {
			size_t k, o2;
			json_t *responses, *r;
			const char *code;
			for (k = 0; api_methods[k] && strcmp(api_methods[k], key) != 0; k++)
				;
			if (api_methods[k] == NULL) {
				if (strcmp(key, "parameters") == 0 || strcmp(key, "summary") == 0 ||
					strcmp(key, "description") == 0)
					continue;
				path_key(&c, key);
				problem(&c, "not an operation or path item field");
				goto out;
			}
			nops++;
			o2 = path_key(&c, key);
			if (!json_is_string(json_object_get(op, "operationId"))) {
				problem(&c, "no operationId");
				goto out;
			}
			if (json_object_get(names, json_string_value(json_object_get(op, "operationId")))) {
				problem(&c, "operationId used twice");
				goto out;
			}
			json_object_set_new(names, json_string_value(json_object_get(op, "operationId")),
				json_true());
			responses = json_object_get(op, "responses");
			if (!json_is_object(responses) || json_object_size(responses) == 0) {
				problem(&c, "no responses");
				goto out;
			}
			json_object_foreach(responses, code, r) {
				size_t o3 = path_key(&c, code);
				json_t *res = api_resolve(&c, r);
				if (res == NULL)
					goto out;
				if (strlen(code) != 3 || code[0] < '1' || code[0] > '5' ||
					strspn(code, "0123456789") != 3) {
					problem(&c, "a response key must be an HTTP status");
					goto out;
				}
				if (!json_is_string(json_object_get(res, "description"))) {
					problem(&c, "a response needs a description");
					goto out;
				}
				path_restore(&c, o3);
			}
			path_restore(&c, o2);
		}
		if (nops == 0) {
			problem(&c, "a path without operations");
			goto out;
		}
		/* Every {param} of the path is declared as a path parameter. */
		for (const char *b = strchr(path, '{'); b; b = strchr(b + 1, '{')) {
			const char *e = strchr(b, '}');
			json_t *params = json_object_get(item, "parameters"), *pm;
			size_t i;
			int found = 0;
			if (e == NULL) {
				problem(&c, "unbalanced {");
				goto out;
			}
			json_array_foreach(params, i, pm) {
				json_t *rp = api_resolve(&c, pm);
				const char *nm = rp ? json_string_value(json_object_get(rp, "name")) : NULL;
				const char *in = rp ? json_string_value(json_object_get(rp, "in")) : NULL;
				if (nm && in && strcmp(in, "path") == 0 && strlen(nm) == (size_t)(e - b - 1) &&
					strncmp(nm, b + 1, (size_t)(e - b - 1)) == 0)
					found = 1;
			}
			if (!found) {
				problem(&c, "path parameter %.*s is not declared", (int)(e - b - 1), b + 1);
				goto out;
			}
		}
		path_restore(&c, old);
	}
	rc = 0;
out:
	json_decref(names);
	return rc;
}

/* Keywords api_check_schema knows; any other keyword that constrains
 * (oneOf, not, ...) fails the check instead of being ignored. */
static const char *const api_keywords[] = { "$ref", "type", "enum", "const", "required",
	"properties", "additionalProperties", "minProperties", "maxProperties", "items",
	"minLength", "maxLength", "pattern", "minimum", "maximum", "format", "description",
	"default", "title", "examples", NULL };

/* Code points of UTF-8 s. */
static size_t api_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* 1 when v is of JSON Schema type name. */
static int api_type_is(const char *name, const json_t *v)
{
	if (strcmp(name, "null") == 0)
		return json_is_null(v);
	return type_ok(name, v) == 1;
}

static int api_check_schema(struct ctx *c, json_t *schema, json_t *v, int depth)
{
	json_t *t, *k, *m;
	const char *key;
	char shown[128];
	size_t i;

	if (depth > OAS_MAX_DEPTH)
		return problem(c, "the description's schemas nest too deeply");
	if ((schema = api_resolve(c, schema)) == NULL)
		return -1;
	json_object_foreach(schema, key, m) {
		for (i = 0; api_keywords[i] && strcmp(api_keywords[i], key) != 0; i++)
			;
		if (api_keywords[i] == NULL)
			return problem(c, "the description uses '%s', which this checker does not know",
				key);
	}
	describe(v, shown, sizeof(shown));
	t = json_object_get(schema, "type");
	if (t) {
		int ok = 0;
		if (json_is_string(t))
			ok = api_type_is(json_string_value(t), v);
		json_array_foreach(t, i, k)
			ok |= json_is_string(k) && api_type_is(json_string_value(k), v);
		if (!ok)
			return problem(c, "%s is not of the type the description gives", shown);
	}
	if ((k = json_object_get(schema, "enum")) != NULL) {
		int ok = 0;
		json_array_foreach(k, i, m)
			ok |= json_equal(m, v);
		if (!ok)
			return problem(c, "%s is not one of the values the description lists", shown);
	}
	if ((k = json_object_get(schema, "const")) != NULL && !json_equal(k, v))
		return problem(c, "%s is not the value the description gives", shown);
	if (json_is_string(v)) {
		const char *s = json_string_value(v), *fmt;
		size_t len = api_chars(s);
		if ((k = json_object_get(schema, "minLength")) && len < (size_t)json_integer_value(k))
			return problem(c, "%s is shorter than %lld", shown, (long long)json_integer_value(k));
		if ((k = json_object_get(schema, "maxLength")) && len > (size_t)json_integer_value(k))
			return problem(c, "%s is longer than %lld", shown, (long long)json_integer_value(k));
		if ((k = json_object_get(schema, "pattern")) != NULL) {
			regex_t re;
			int hit;
			if (regcomp(&re, json_string_value(k), REG_EXTENDED | REG_NOSUB) != 0)
				return problem(c, "the pattern %s does not compile", json_string_value(k));
			hit = regexec(&re, s, 0, NULL, 0) == 0;
			regfree(&re);
			if (!hit)
				return problem(c, "%s does not match %s", shown, json_string_value(k));
		}
		fmt = json_string_value(json_object_get(schema, "format"));
		if (fmt && strcmp(fmt, "date-time") == 0) {
			long long t0;
			if (rfc3339_parse(s, &t0) < 0)
				return problem(c, "%s is not an RFC 3339 date-time", shown);
		} else if (fmt && strcmp(fmt, "email") == 0) {
			const char *at = strchr(s, '@');
			if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@'))
				return problem(c, "%s is not an e-mail address", shown);
		} else if (fmt) {
			return problem(c, "the description uses format '%s', which this checker does not "
				"know", fmt);
		}
	}
	if (json_is_number(v)) {
		double d = json_number_value(v);
		if ((k = json_object_get(schema, "minimum")) && d < json_number_value(k))
			return problem(c, "%s is below the minimum", shown);
		if ((k = json_object_get(schema, "maximum")) && d > json_number_value(k))
			return problem(c, "%s is above the maximum", shown);
	}
	if (json_is_object(v)) {
		json_t *props = json_object_get(schema, "properties");
		json_t *extra = json_object_get(schema, "additionalProperties");
		json_array_foreach(json_object_get(schema, "required"), i, k) {
			if (json_object_get(v, json_string_value(k)) == NULL) {
				size_t old = path_key(c, json_string_value(k));
				int r = problem(c, "missing (the description requires it)");
				path_restore(c, old);
				return r;
			}
		}
		if ((k = json_object_get(schema, "minProperties")) &&
			json_object_size(v) < (size_t)json_integer_value(k))
			return problem(c, "fewer than %lld members", (long long)json_integer_value(k));
		if ((k = json_object_get(schema, "maxProperties")) &&
			json_object_size(v) > (size_t)json_integer_value(k))
			return problem(c, "more than %lld members", (long long)json_integer_value(k));
		json_object_foreach(v, key, m) {
			json_t *ps = json_object_get(props, key);
			size_t old = path_key(c, key);
			if (ps == NULL && json_is_false(extra))
				return problem(c, "a member the description does not have");
			if (ps == NULL && json_is_object(extra))
				ps = extra;
			if (ps && api_check_schema(c, ps, m, depth + 1) < 0)
				return -1;
			path_restore(c, old);
		}
	}
	if (json_is_array(v) && (k = json_object_get(schema, "items")) != NULL) {
		json_array_foreach(v, i, m) {
			size_t old = path_index(c, i);
			if (api_check_schema(c, k, m, depth + 1) < 0)
				return -1;
			path_restore(c, old);
		}
	}
	return 0;
}

/* The path item of the description whose template matches path ("{x}"
 * matching one non-empty segment), or NULL. */
static json_t *api_path_item(const char *path, const char **template)
{
	const char *tpl;
	json_t *item;

	json_object_foreach(json_object_get(api_spec, "paths"), tpl, item) {
		const char *a = tpl, *b = path;
		while (*a && *b) {
			if (*a == '{') {
				const char *e = strchr(a, '}');
				size_t seg = strcspn(b, "/");
				if (e == NULL || seg == 0)
					break;
				a = e + 1;
				b += seg;
			} else if (*a == *b) {
				a++;
				b++;
			} else {
				break;
			}
		}
		if (*a == '\0' && *b == '\0') {
			*template = tpl;
			return item;
		}
	}
	return NULL;
}

/* 1 when header name (any case) is in headers (NULL-terminated). */
static int api_has_header(const char *const *headers, const char *name)
{
	for (size_t i = 0; headers && headers[i]; i++)
		if (strcasecmp(headers[i], name) == 0)
			return 1;
	return 0;
}

/* The body text against schema ("request" or "response" in messages). */
static int api_check_body(struct ctx *c, json_t *schema, const char *text, const char *what)
{
	json_error_t jerr;
	json_t *doc;
	int rc;

	if (blank(text))
		return problem(c, "%s: empty, a JSON document was expected", what);
	doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		return problem(c, "%s is not JSON: %s", what, jerr.text);
	c->len = 0;
	path_key(c, what);
	rc = api_check_schema(c, schema, doc, 0);
	json_decref(doc);
	return rc;
}

int oas_api_check(const char *method, const char *path, int status, const char *req_body,
	const char *resp_body, const char *const *headers, char *err, size_t errlen)
{
	struct ctx c;
	char m[16], code[8];
	const char *tpl = NULL, *hname;
	json_t *item, *op, *resp, *schema, *h;
	size_t n = strlen(method);

	memset(&c, 0, sizeof(c));
	c.err = err;
	c.errlen = errlen;
	if (api_spec == NULL && oas_api_load(OAS_API_SPEC_PATH, err, errlen) < 0)
		return -1;
	if (n == 0 || n >= sizeof(m))
		return problem(&c, "'%.20s' is not an HTTP method", method);
	for (size_t i = 0; i <= n; i++)
		m[i] = (char)tolower((unsigned char)method[i]);
	item = api_path_item(path, &tpl);
	op = item ? json_object_get(item, m) : NULL;
	snprintf(code, sizeof(code), "%d", status);
	if (item == NULL || op == NULL) {
		/* A path or method the description does not have: only the
		 * API's own 404 or 405 error document may answer it. */
		int want = item == NULL ? 404 : 405;
		if (status != want)
			return problem(&c, "%s %s is not in the description (%s), yet it answered %d, "
				"not %d", method, path, item ? "no such operation" : "no such path",
				status, want);
		if (want == 405 && !api_has_header(headers, "Allow"))
			return problem(&c, "a 405 without an Allow header");
		schema = ref_target_in(api_spec, "#/components/schemas/Error");
		if (schema == NULL)
			return problem(&c, "the description has no #/components/schemas/Error");
		return api_check_body(&c, schema, resp_body, "response");
	}
	resp = json_object_get(json_object_get(op, "responses"), code);
	if (resp == NULL)
		return problem(&c, "%s %s answered %d, which the description does not list", method,
			tpl, status);
	if ((resp = api_resolve(&c, resp)) == NULL)
		return -1;
	json_object_foreach(json_object_get(resp, "headers"), hname, h) {
		if (json_is_true(json_object_get(h, "required")) && !api_has_header(headers, hname))
			return problem(&c, "%s %s %d: header %s is missing", method, tpl, status, hname);
	}
	schema = json_object_get(json_object_get(json_object_get(resp, "content"),
		"application/json"), "schema");
	if (schema == NULL) {
		if (!blank(resp_body))
			return problem(&c, "%s %s %d has a body the description does not give", method,
				tpl, status);
	} else if (api_check_body(&c, schema, resp_body, "response") < 0) {
		return -1;
	}
	/* What a 2xx accepted must be what the description says it takes. */
	if (status >= 200 && status < 300) {
		json_t *rb = json_object_get(op, "requestBody");
		if (rb == NULL) {
			if (!blank(req_body))
				return problem(&c, "%s %s took a body the description does not give", method,
					tpl);
		} else if (!blank(req_body)) {
			json_t *rs = json_object_get(json_object_get(json_object_get(api_resolve(&c, rb),
				"content"), "application/json"), "schema");
			if (rs == NULL)
				return problem(&c, "%s %s: the description gives no request schema", method,
					tpl);
			if (api_check_body(&c, rs, req_body, "request") < 0)
				return -1;
		} else if (json_is_true(json_object_get(rb, "required"))) {
			return problem(&c, "%s %s accepted no body, which the description requires",
				method, tpl);
		}
	}
	return 0;
}

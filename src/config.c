/* config: environment variables, validated once at start. */
#include "config.h"
#include "metrics.h"
#include "allowlist.h"
#include "calsync.h"
#include "rds.h"
#include "secret.h"
#include "valid.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

extern char **environ;

static const char *env_str(const char *name)
{
	const char *v = getenv(name);
	return (v && *v) ? v : NULL;
}

static int is_hex32(const char *s)
{
	size_t i;
	for (i = 0; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return i == 32;
}

static int host_char(unsigned char c)
{
	return isalnum(c) || c == '.' || c == '-';
}

/* host[:port] at p, ending at end: a name, dotted address or bracketed
 * IPv6 literal, and a port from 1 to 65535.  1 or 0. */
static int valid_hostport(const char *p, const char *end)
{
	const char *h = p;

	if (p < end && *p == '[') {
		for (p++; p < end && *p != ']'; p++)
			if (!(isxdigit((unsigned char)*p) || *p == ':' || *p == '.'))
				return 0;
		if (p >= end || p == h + 1)
			return 0;
		p++;
	} else {
		while (p < end && host_char((unsigned char)*p))
			p++;
		if (p == h || p - h > 253)
			return 0;
	}
	if (p < end && *p == ':') {
		long port = 0;
		const char *q = ++p;
		while (p < end && isdigit((unsigned char)*p) && p - q < 6)
			port = port * 10 + (*p++ - '0');
		if (p == q || port < 1 || port > 65535)
			return 0;
	}
	return p == end;
}

/* What follows the scheme at the start of url, one of two (a secure
 * one and a plain one, "https://" and "http://"); NULL for any other. */
static const char *after_scheme(const char *url, const char *secure, const char *plain)
{
	size_t n = strlen(secure);
	if (strncmp(url, secure, n) == 0)
		return url + n;
	n = strlen(plain);
	if (strncmp(url, plain, n) == 0)
		return url + n;
	return NULL;
}

/* [p, end) is printable ASCII with no spaces. */
static int visible_ascii(const char *p, const char *end)
{
	for (; p < end; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

/* scheme://host[:port] with no path, query or trailing slash: the URL
 * Twilio is given is this plus the request URI, byte for byte. */
int config_valid_origin(const char *url)
{
	const char *p = after_scheme(url, "https://", "http://");
	if (p == NULL)
		return 0;
	return valid_hostport(p, p + strlen(p));
}

/* An http(s) URL with a host and any path: printable ASCII, no spaces. */
static int valid_http_url(const char *url)
{
	const char *p = after_scheme(url, "https://", "http://"), *e;
	if (p == NULL)
		return 0;
	e = p + strcspn(p, "/?#");
	if (!valid_hostport(p, e))
		return 0;
	return visible_ascii(e, e + strlen(e));
}

int config_valid_smtp_url(const char *url)
{
	const char *p = after_scheme(url, "smtps://", "smtp://"), *auth_end, *at = NULL;

	if (p == NULL)
		return 0;
	auth_end = p + strcspn(p, "/?#");
	for (const char *q = p; q < auth_end; q++)
		if (*q == '@')
			at = q;
	if (at) {
		/* user[:password]: printable, no spaces; '@' written %40. */
		if (!visible_ascii(p, at) || at == p)
			return 0;
		p = at + 1;
	}
	if (!valid_hostport(p, auth_end))
		return 0;
	/* An optional "/" and the domain given in EHLO (curl's SMTP URL). */
	if (*auth_end == '\0')
		return 1;
	if (*auth_end != '/')
		return 0;
	for (p = auth_end + 1; *p; p++)
		if (!host_char((unsigned char)*p))
			return 0;
	return 1;
}

/* A path: not empty, no control characters. */
static int valid_path(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 0;
	return 1;
}

/* Whole number in [min, max] (no blanks, no sign but '-' for negatives). */
static int parse_long(const char *v, long min, long max, long *out)
{
	char *end;
	long n;
	if (!(isdigit((unsigned char)v[0]) || (v[0] == '-' && isdigit((unsigned char)v[1]))))
		return -1;
	n = strtol(v, &end, 10);
	if (*end || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

/* An integer variable in [min, max], def when unset; 0 or -1 with err. */
static int env_int(int *out, const char *name, int def, int min, int max, char *err, size_t errlen)
{
	const char *v = env_str(name);
	long n;
	*out = def;
	if (v == NULL)
		return 0;
	if (parse_long(v, min, max, &n) < 0) {
		snprintf(err, errlen, "%s must be a whole number from %d to %d, not '%.40s'", name, min,
			max, v);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/* A decimal variable in [min, max] (above min when open), def when unset. */
static int env_double(double *out, const char *name, double def, double min, int open_min,
	double max, char *err, size_t errlen)
{
	const char *v = env_str(name);
	char *end;
	double d;
	*out = def;
	if (v == NULL)
		return 0;
	d = strtod(v, &end);
	if (!(isdigit((unsigned char)v[0]) || v[0] == '.') || *end || !isfinite(d) ||
		!(open_min ? d > min : d >= min) || !(d <= max)) {
		snprintf(err, errlen, "%s must be a number %s %g to %g, not '%.40s'", name,
			open_min ? "above" : "from", min, max, v);
		return -1;
	}
	*out = d;
	return 0;
}

/* The variables ringfence knows (README's configuration table).  Others
 * starting RINGFENCE_ get a warning naming the closest of these. */
static const char *const known_vars[] = {
	"RINGFENCE_ENV", "RINGFENCE_DATABASE_URL", "RINGFENCE_DATABASE_READ_URL", "RINGFENCE_REDIS_URL",
	"RINGFENCE_PUBLIC_URL", "RINGFENCE_FALLBACK_URL",
	"RINGFENCE_ROOT", "RINGFENCE_RUN_DIR", "RINGFENCE_AUDIT_FALLBACK", "RINGFENCE_FCGI_WORKERS",
	"RINGFENCE_ALLOWED_CONTACTS", "RINGFENCE_SMTP_URL", "RINGFENCE_MAIL_FROM", "RINGFENCE_NOW",
	"RINGFENCE_CPS", "RINGFENCE_LIMIT_RECIPIENT_DAY", "RINGFENCE_LIMIT_RECIPIENT_ALL_DAY",
	"RINGFENCE_LIMIT_BUSINESS_HOUR", "RINGFENCE_FAILSAFE_FLOOR", "RINGFENCE_FAILSAFE_FACTOR",
	"RINGFENCE_API_RATE_PER_MIN", "RINGFENCE_LOG", "RINGFENCE_CALENDAR_POLL_S",
	"RINGFENCE_CALENDAR_HORIZON_DAYS", "RINGFENCE_DEMO_PASSWORD", "RINGFENCE_DEMO_API_KEY",
	"RINGFENCE_SIM_CPS", "RINGFENCE_SIM_QUEUE_DELAY_MS", "RINGFENCE_SIM_WORKERS",
	"RINGFENCE_SIM_TIME_SCALE", "RINGFENCE_SIM_SCRIPT", "RINGFENCE_SIM_VOICE_URL",
	"RINGFENCE_FCGI_RELOAD_TIMEOUT", "RINGFENCE_FCGI_READY_FD", "RINGFENCE_MONITORING_ADDRESSES",
	"RINGFENCE_WORKER_LEASE", "RINGFENCE_WORKER_RECONCILE_INTERVAL",
	/* Read by the scripts around the binaries (deploy/stack, tests). */
	"RINGFENCE_BIN", "RINGFENCE_NGINX_PORT", "RINGFENCE_PG_PORT", "RINGFENCE_REDIS_PORT",
	"RINGFENCE_SIM_PORT", "RINGFENCE_SMTP_PORT", "RINGFENCE_UPDATE_GOLDEN",
	"RINGFENCE_MAKE_RUN_WAIT", "RINGFENCE_OPS_TIMEOUT", "RINGFENCE_DEMO_USER",
	"RINGFENCE_DEMO_BUSINESS_ID", "RINGFENCE_UPGRADE_LOAD_SECONDS",
};
/* Prefixes of the tools' own variables: never warned about. */
static const char *const tool_prefixes[] = { "RINGFENCE_TEST_", "RINGFENCE_STACK_", "RINGFENCE_CLUSTER_" };

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64], prev, tmp;
	if (lb >= sizeof(row) / sizeof(row[0]))
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

int config_unknown_vars(void (*report)(void *ctx, const char *var, const char *closest), void *ctx)
{
	int n = 0;

	for (char **e = environ; e && *e; e++) {
		char name[128];
		size_t len = strcspn(*e, "=");
		int known = 0;
		const char *closest = NULL;
		size_t best = (size_t)-1;

		if (strncmp(*e, "RINGFENCE_", 10) != 0 || len >= sizeof(name))
			continue;
		memcpy(name, *e, len);
		name[len] = '\0';
		for (size_t i = 0; i < sizeof(tool_prefixes) / sizeof(tool_prefixes[0]); i++)
			if (strncmp(name, tool_prefixes[i], strlen(tool_prefixes[i])) == 0)
				known = 1;
		for (size_t i = 0; !known && i < sizeof(known_vars) / sizeof(known_vars[0]); i++) {
			size_t d = edit_distance(name, known_vars[i]);
			if (d == 0)
				known = 1;
			else if (d < best) {
				best = d;
				closest = known_vars[i];
			}
		}
		if (known)
			continue;
		report(ctx, name, best <= 4 ? closest : NULL);
		n++;
	}
	return n;
}

int config_log_level(const char *v)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	if (v == NULL || *v == '\0')
		return 1; /* info */
	for (int i = 0; i < 4; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	return -1;
}

/* Case-insensitive: host is name or a subdomain of it. */
static int host_is(const char *host, size_t n, const char *name)
{
	size_t l = strlen(name);
	if (n == l)
		return strncasecmp(host, name, n) == 0;
	return n > l && host[n - l - 1] == '.' && strncasecmp(host + n - l, name, l) == 0;
}

/* The host of scheme://[userinfo@]host[:port]/..., as [*h, *h + *n). */
static void url_host(const char *url, const char **h, size_t *n)
{
	const char *p = strstr(url, "://"), *end, *at = NULL;
	*h = url;
	*n = 0;
	if (p == NULL)
		return;
	p += 3;
	end = p + strcspn(p, "/?#");
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (at)
		p = at + 1;
	*h = p;
	*n = *p == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":/?#");
}

static int placeholder_host(const char *url)
{
	static const char *const hosts[] = { "example.com", "example.org", "example.net", "example",
		"invalid", "test", "localhost" };
	const char *h;
	size_t n;
	url_host(url, &h, &n);
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		if (host_is(h, n, hosts[i]))
			return 1;
	return (n >= 4 && strncmp(h, "127.", 4) == 0) || (n == 5 && strncmp(h, "[::1]", 5) == 0);
}

/* Values an example file or a tutorial fills in. */
static int placeholder_secret(const char *v)
{
	static const char *const words[] = { "change-me", "changeme", "change_me", "secret",
		"password", "token", "your_auth_token", "your-auth-token" };
	size_t n = strlen(v), same = 0;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(v, words[i]) == 0)
			return 1;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)v[i]) == tolower((unsigned char)v[0]))
			same++;
	/* xxxx..., 0000..., ffff...: one character over and over. */
	return n > 0 && same == n;
}

/* The password in a URL (percent-decoded) or a conninfo's password. */
static int url_secret_is_placeholder(const char *url)
{
	char red[1024], dec[512];
	const char *p, *at, *colon;
	if (url == NULL)
		return 0;
	url_redact(url, red, sizeof(red));
	if (strcmp(red, url) == 0)
		return 0;
	p = strstr(url, "://");
	if (p == NULL)
		return 0;
	p += 3;
	at = strrchr(p, '@');
	if (at == NULL)
		return 0;
	colon = memchr(p, ':', (size_t)(at - p));
	if (colon == NULL)
		colon = p - 1;
	if (url_pct_decode(colon + 1, (size_t)(at - colon - 1), dec, sizeof(dec)) < 0)
		return 0;
	return placeholder_secret(dec);
}

static int conninfo_password_is_placeholder(const char *conninfo)
{
	PQconninfoOption *opts;
	int bad = 0;
	if (conninfo == NULL || (opts = PQconninfoParse(conninfo, NULL)) == NULL)
		return 0;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			bad = placeholder_secret(o->val);
	PQconninfoFree(opts);
	return bad;
}

/* Twilio's magic numbers of the test credentials (+15005550000 to
 * +15005550009): a live account cannot send from them. */
static int twilio_magic_number(const char *v)
{
	return strncmp(v, "+1500555000", 11) == 0 && isdigit((unsigned char)v[11]) && v[12] == '\0';
}

/* Account SIDs of this project's templates and local stack. */
static int placeholder_sid(const char *v)
{
	static const char *const sids[] = { "AC0123456789abcdef0123456789abcdef",
		"AC10ca15ac00000000000000000000beef" };
	for (size_t i = 0; i < sizeof(sids) / sizeof(sids[0]); i++)
		if (strcasecmp(v, sids[i]) == 0)
			return 1;
	return placeholder_secret(v + 2);
}

int config_problems(const struct config *cfg,
	void (*report)(void *ctx, const char *var, const char *problem), void *ctx)
{
	int n = 0;
#define PROBLEM(var, text) do { report(ctx, var, text); n++; } while (0)

	if (cfg->auth_token == NULL)
		PROBLEM("TWILIO_AUTH_TOKEN", "is not set");
	else if (placeholder_secret(cfg->auth_token) || !is_hex32(cfg->auth_token))
		PROBLEM("TWILIO_AUTH_TOKEN", "is a placeholder, not the account's auth token");
	if (cfg->account_sid == NULL)
		PROBLEM("TWILIO_ACCOUNT_SID", "is not set");
	else if (strlen(cfg->account_sid) < 2 || placeholder_sid(cfg->account_sid))
		PROBLEM("TWILIO_ACCOUNT_SID", "is a placeholder or the local stack's made-up account");
	if (cfg->from_number == NULL)
		PROBLEM("TWILIO_FROM_NUMBER", "is not set: no reminder could be sent");
	else if (twilio_magic_number(cfg->from_number))
		PROBLEM("TWILIO_FROM_NUMBER", "is one of Twilio's test-credential magic numbers "
			"(+15005550000 to +15005550009), not a number of a live account");
	if (strcmp(cfg->api_url, "https://api.twilio.com") != 0)
		PROBLEM("TWILIO_API_URL", "must be https://api.twilio.com (the simulator or any other "
			"endpoint is for development, tests and staging)");
	if (cfg->public_url == NULL)
		PROBLEM("RINGFENCE_PUBLIC_URL", "is not set");
	else if (strncmp(cfg->public_url, "https://", 8) != 0)
		PROBLEM("RINGFENCE_PUBLIC_URL", "must be https");
	else if (placeholder_host(cfg->public_url))
		PROBLEM("RINGFENCE_PUBLIC_URL", "names an example or local host Twilio cannot reach");
	if (cfg->fallback_url && strncmp(cfg->fallback_url, "https://", 8) != 0)
		PROBLEM("RINGFENCE_FALLBACK_URL", "must be https");
	else if (cfg->fallback_url && placeholder_host(cfg->fallback_url))
		PROBLEM("RINGFENCE_FALLBACK_URL", "names an example or local host Twilio cannot reach");
	/* The default (reminders@ the public URL's host) is the public URL's
	 * problem, not this one's. */
	if (cfg->mail_from && cfg->mail_from != cfg->mail_from_default) {
		char url[320];
		snprintf(url, sizeof(url), "x://%s", strchr(cfg->mail_from, '@') + 1);
		if (placeholder_host(url))
			PROBLEM("RINGFENCE_MAIL_FROM", "is an address at an example or local domain");
	}
	if (cfg->smtp_url && url_secret_is_placeholder(cfg->smtp_url))
		PROBLEM("RINGFENCE_SMTP_URL", "holds a placeholder password");
	if (cfg->redis_url && url_secret_is_placeholder(cfg->redis_url))
		PROBLEM("RINGFENCE_REDIS_URL", "holds a placeholder password");
	if (cfg->database_url && conninfo_password_is_placeholder(cfg->database_url))
		PROBLEM("RINGFENCE_DATABASE_URL", "holds a placeholder password");
	if (cfg->database_read_url && conninfo_password_is_placeholder(cfg->database_read_url))
		PROBLEM("RINGFENCE_DATABASE_READ_URL", "holds a placeholder password");
	if (cfg->now)
		PROBLEM("RINGFENCE_NOW", "is for tests and is refused in production");
#undef PROBLEM
	return n;
}

struct first_problem {
	char *err;
	size_t errlen;
	int seen;
};

static void keep_first(void *ctx, const char *var, const char *problem)
{
	struct first_problem *f = ctx;
	if (f->seen++ == 0)
		snprintf(f->err, f->errlen, "%s %s (refused in production, RINGFENCE_ENV=production)",
			var, problem);
}

/* Every variable of the simulator and the calendar sync: read by one
 * process, checked by all. */
static int check_others(const struct config *cfg, char *err, size_t errlen)
{
	const char *v;
	int i;
	double d;

	if (env_int(&i, "RINGFENCE_CALENDAR_POLL_S", CALSYNC_DEFAULT_POLL_S,
		    cfg->env == RF_ENV_TEST ? 1 : CALSYNC_MIN_POLL_S, 86400, err, errlen) < 0 ||
		env_int(&i, "RINGFENCE_CALENDAR_HORIZON_DAYS", CALSYNC_DEFAULT_HORIZON_DAYS, 1, 366, err,
			errlen) < 0 ||
		env_int(&i, "RINGFENCE_SIM_CPS", 0, 0, CFG_SIM_MAX_CPS, err, errlen) < 0 ||
		env_int(&i, "RINGFENCE_SIM_QUEUE_DELAY_MS", 0, 0, CFG_SIM_MAX_QUEUE_DELAY_MS, err,
			errlen) < 0 ||
		env_int(&i, "RINGFENCE_SIM_WORKERS", 2, 1, CFG_SIM_MAX_WORKERS, err, errlen) < 0 ||
		env_double(&d, "RINGFENCE_SIM_TIME_SCALE", 1, 0, 1, CFG_SIM_MAX_TIME_SCALE, err,
			errlen) < 0 ||
		env_int(&i, "RINGFENCE_FCGI_RELOAD_TIMEOUT", 30, 1, 3600, err, errlen) < 0)
		return -1;
	v = env_str("RINGFENCE_SIM_SCRIPT");
	if (v && !valid_path(v)) {
		snprintf(err, errlen, "RINGFENCE_SIM_SCRIPT must be a file path without control characters");
		return -1;
	}
	v = env_str("RINGFENCE_SIM_VOICE_URL");
	if (v && !valid_http_url(v)) {
		snprintf(err, errlen, "RINGFENCE_SIM_VOICE_URL must be an http(s) URL with a host");
		return -1;
	}
	v = getenv("RINGFENCE_LOG");
	if (v && *v && config_log_level(v) < 0) {
		snprintf(err, errlen, "RINGFENCE_LOG must be debug, info, warn or error, not '%.20s'", v);
		return -1;
	}
	v = env_str("RINGFENCE_MONITORING_ADDRESSES");
	if (v && metrics_addr_list_check(v, err, errlen) < 0)
		return -1;
	return 0;
}

/* The URLs, addresses and credentials, when set. */
static int check_formats(struct config *cfg, char *err, size_t errlen)
{
	char why[256];
	PQconninfoOption *opts;
	struct stat st;
	int bad;

	/* libpq's own message quotes the string: not passed on. */
	for (int i = 0; i < 2; i++) {
		const char *v = i ? cfg->database_read_url : cfg->database_url;
		if (v == NULL)
			continue;
		opts = PQconninfoParse(v, NULL);
		if (opts == NULL) {
			snprintf(err, errlen, "%s is not a libpq conninfo "
				"('host=/run/postgresql dbname=ringfence') or postgresql:// URI "
				"(several hosts: postgresql://h1:5432,h2:5432/ringfence"
				"?target_session_attrs=%s)",
				i ? "RINGFENCE_DATABASE_READ_URL" : "RINGFENCE_DATABASE_URL",
				i ? "prefer-standby" : "read-write");
			return -1;
		}
		PQconninfoFree(opts);
	}
	if (cfg->redis_url && rds_url_check(cfg->redis_url, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "RINGFENCE_REDIS_URL %s (redis://[[user]:password@]host[:port][/db] "
			"or unix://[[user]:password@]/path[?db=N])", why);
		return -1;
	}
	if (cfg->public_url && !config_valid_origin(cfg->public_url)) {
		snprintf(err, errlen, "RINGFENCE_PUBLIC_URL must be scheme://host[:port] with no path or "
			"trailing slash, not '%.200s'", cfg->public_url);
		return -1;
	}
	if (cfg->fallback_url && !config_valid_origin(cfg->fallback_url)) {
		snprintf(err, errlen, "RINGFENCE_FALLBACK_URL must be scheme://host[:port] with no path or "
			"trailing slash, not '%.200s'", cfg->fallback_url);
		return -1;
	}
	if (cfg->fallback_url && cfg->public_url && strcasecmp(cfg->fallback_url, cfg->public_url) == 0) {
		snprintf(err, errlen, "RINGFENCE_FALLBACK_URL must name another node than "
			"RINGFENCE_PUBLIC_URL (%.200s): Twilio falls back when this one fails", cfg->public_url);
		return -1;
	}
	if (!config_valid_origin(cfg->api_url)) {
		snprintf(err, errlen, "TWILIO_API_URL must be http(s)://host[:port] with no path, not '%.200s'",
			cfg->api_url);
		return -1;
	}
	if (cfg->smtp_url && !config_valid_smtp_url(cfg->smtp_url)) {
		char red[300];
		url_redact(cfg->smtp_url, red, sizeof(red));
		snprintf(err, errlen, "RINGFENCE_SMTP_URL must be smtp:// or smtps://[user[:password]@]host[:port], "
			"not '%s'", red);
		return -1;
	}
	if (cfg->account_sid && !(strncmp(cfg->account_sid, "AC", 2) == 0 && is_hex32(cfg->account_sid + 2))) {
		snprintf(err, errlen, "TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits");
		return -1;
	}
	if (cfg->auth_token && !is_hex32(cfg->auth_token)) {
		snprintf(err, errlen, "TWILIO_AUTH_TOKEN must be 32 hex digits (the account's auth token "
			"from the Twilio console)");
		return -1;
	}
	if (cfg->from_number && !valid_e164(cfg->from_number, strlen(cfg->from_number))) {
		snprintf(err, errlen, "TWILIO_FROM_NUMBER must be an E.164 number (+ and 8 to 15 digits), "
			"not '%.40s'", cfg->from_number);
		return -1;
	}
	if (cfg->allowed_contacts && (bad = allowlist_first_bad(cfg->allowed_contacts)) > 0) {
		snprintf(err, errlen, "RINGFENCE_ALLOWED_CONTACTS: entry %d is neither an E.164 phone number "
			"nor an email address", bad);
		return -1;
	}
	if (stat(cfg->root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "RINGFENCE_ROOT is not a directory: '%.200s'", cfg->root);
		return -1;
	}
	if (!valid_path(cfg->root) || (cfg->audit_fallback && !valid_path(cfg->audit_fallback)) ||
		!valid_path(cfg->run_dir)) {
		snprintf(err, errlen, "%s has control characters", !valid_path(cfg->root) ? "RINGFENCE_ROOT" :
			!valid_path(cfg->run_dir) ? "RINGFENCE_RUN_DIR" : "RINGFENCE_AUDIT_FALLBACK");
		return -1;
	}
	return 0;
}

static int load(struct config *cfg, unsigned need, char *err, size_t errlen)
{
	const char *v;
	memset(cfg, 0, sizeof(*cfg));

	v = env_str("RINGFENCE_ENV");
	cfg->env_name = v ? v : "development";
	if (v == NULL || strcmp(v, "development") == 0)
		cfg->env = RF_ENV_DEVELOPMENT;
	else if (strcmp(v, "test") == 0)
		cfg->env = RF_ENV_TEST;
	else if (strcmp(v, "staging") == 0)
		cfg->env = RF_ENV_STAGING;
	else if (strcmp(v, "production") == 0)
		cfg->env = RF_ENV_PRODUCTION;
	else {
		snprintf(err, errlen, "RINGFENCE_ENV must be production, staging, development or test, not '%.40s'", v);
		return -1;
	}

	cfg->database_url = env_str("RINGFENCE_DATABASE_URL");
	cfg->database_read_url = env_str("RINGFENCE_DATABASE_READ_URL");
	cfg->redis_url = env_str("RINGFENCE_REDIS_URL");
	cfg->public_url = env_str("RINGFENCE_PUBLIC_URL");
	cfg->fallback_url = env_str("RINGFENCE_FALLBACK_URL");
	cfg->account_sid = env_str("TWILIO_ACCOUNT_SID");
	cfg->auth_token = env_str("TWILIO_AUTH_TOKEN");
	cfg->api_url = env_str("TWILIO_API_URL");
	if (cfg->api_url == NULL)
		cfg->api_url = "https://api.twilio.com";
	cfg->allowed_contacts = env_str("RINGFENCE_ALLOWED_CONTACTS");
	cfg->smtp_url = env_str("RINGFENCE_SMTP_URL");
	cfg->root = env_str("RINGFENCE_ROOT");
	if (cfg->root == NULL)
		cfg->root = ".";
	cfg->audit_fallback = env_str("RINGFENCE_AUDIT_FALLBACK");
	cfg->run_dir = env_str("RINGFENCE_RUN_DIR");
	if (cfg->run_dir == NULL) {
		snprintf(cfg->run_dir_default, sizeof(cfg->run_dir_default), "%s/var/run", cfg->root);
		cfg->run_dir = cfg->run_dir_default;
	} else if (strlen(cfg->run_dir) >= sizeof(cfg->run_dir_default) - 32) {
		snprintf(err, errlen, "RINGFENCE_RUN_DIR is longer than %zu characters",
			sizeof(cfg->run_dir_default) - 32);
		return -1;
	}
	if (env_int(&cfg->fcgi_workers, "RINGFENCE_FCGI_WORKERS", 4, 1, 256, err, errlen) < 0)
		return -1;
	cfg->log_level = config_log_level(getenv("RINGFENCE_LOG"));

	cfg->from_number = env_str("TWILIO_FROM_NUMBER");
	cfg->mail_from = env_str("RINGFENCE_MAIL_FROM");
	if (cfg->mail_from && (strchr(cfg->mail_from, '@') == NULL ||
		    strpbrk(cfg->mail_from, " <>\r\n\"") != NULL || strlen(cfg->mail_from) > 254)) {
		/* Not echoed: it may hold line breaks. */
		snprintf(err, errlen, "RINGFENCE_MAIL_FROM must be a plain address such as reminders@example.com "
			"(no display name, spaces, quotes or line breaks)");
		return -1;
	}
	if (cfg->mail_from == NULL && cfg->public_url && config_valid_origin(cfg->public_url)) {
		/* reminders@<host of the public URL>, without its port. */
		const char *h = strstr(cfg->public_url, "://") + 3;
		size_t n = strcspn(h, ":/");
		if (h[0] == '[')
			n = strcspn(h, "]") + 1; /* an IPv6 literal keeps its brackets */
		if (n > 0 && n < sizeof(cfg->mail_from_default) - 16) {
			snprintf(cfg->mail_from_default, sizeof(cfg->mail_from_default), "reminders@%.*s",
				(int)n, h);
			cfg->mail_from = cfg->mail_from_default;
		}
	}
	cfg->now = env_str("RINGFENCE_NOW");
	if (cfg->now && cfg->env == RF_ENV_PRODUCTION) {
		snprintf(err, errlen, "RINGFENCE_NOW is for tests and is refused in production");
		return -1;
	}
	if (env_double(&cfg->cps, "RINGFENCE_CPS", 1.0, 0.01, 0, 100, err, errlen) < 0 ||
		env_int(&cfg->limit_recipient_day, "RINGFENCE_LIMIT_RECIPIENT_DAY", 3, 0, 1000, err, errlen) < 0 ||
		env_int(&cfg->limit_recipient_all_day, "RINGFENCE_LIMIT_RECIPIENT_ALL_DAY", 6, 0, 1000, err,
			errlen) < 0 ||
		env_int(&cfg->limit_business_hour, "RINGFENCE_LIMIT_BUSINESS_HOUR", 60, 0, 100000, err, errlen) < 0 ||
		env_int(&cfg->failsafe_floor, "RINGFENCE_FAILSAFE_FLOOR", 50, 1, 1000000, err, errlen) < 0 ||
		env_double(&cfg->failsafe_factor, "RINGFENCE_FAILSAFE_FACTOR", 3.0, 1.0, 0, 1000, err,
			errlen) < 0 ||
		env_int(&cfg->api_rate_per_min, "RINGFENCE_API_RATE_PER_MIN", 600, 1, 1000000, err,
			errlen) < 0)
		return -1;
	if (check_formats(cfg, err, errlen) < 0 || check_others(cfg, err, errlen) < 0)
		return -1;

	if ((need & CFG_NEED_DB) && cfg->database_url == NULL) {
		snprintf(err, errlen, "RINGFENCE_DATABASE_URL is not set (a libpq conninfo, e.g. 'host=/run/postgresql dbname=ringfence')");
		return -1;
	}
	if ((need & CFG_NEED_REDIS) && cfg->redis_url == NULL) {
		snprintf(err, errlen, "RINGFENCE_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)");
		return -1;
	}
	if ((need & CFG_NEED_PUBLIC_URL) && cfg->public_url == NULL) {
		snprintf(err, errlen, "RINGFENCE_PUBLIC_URL is not set (the base URL Twilio calls, e.g. https://reminders.example.com)");
		return -1;
	}
	if (need & CFG_NEED_TWILIO) {
		if (cfg->auth_token == NULL) {
			snprintf(err, errlen, "TWILIO_AUTH_TOKEN is not set: webhook signatures cannot be checked");
			return -1;
		}
		if (cfg->account_sid == NULL) {
			snprintf(err, errlen, "TWILIO_ACCOUNT_SID is not set");
			return -1;
		}
	}
	if ((need & CFG_NEED_FROM) && cfg->from_number == NULL) {
		snprintf(err, errlen, "TWILIO_FROM_NUMBER is not set: the caller id of calls and texts "
			"(E.164, a number of the Twilio account)");
		return -1;
	}
	if (cfg->env == RF_ENV_PRODUCTION && !(need & CFG_FORMAT_ONLY)) {
		struct first_problem f = { err, errlen, 0 };
		if (config_problems(cfg, keep_first, &f) > 0)
			return -1;
	}
	return 0;
}

/* A refusal quotes the value it refuses: its line breaks, control
 * characters and bytes outside printable ASCII are written as \xNN, so
 * that the refusal stays one line (none forged after it in a log) and
 * puts nothing raw on a terminal. */
int config_load(struct config *cfg, unsigned need, char *err, size_t errlen)
{
	char raw[1024];
	size_t o = 0;

	if (load(cfg, need, err, errlen) == 0)
		return 0;
	if (errlen == 0)
		return -1;
	snprintf(raw, sizeof(raw), "%s", err);
	for (const unsigned char *p = (const unsigned char *)raw; *p && o + 1 < errlen; p++) {
		if (*p >= 0x20 && *p < 0x7f) {
			err[o++] = (char)*p;
		} else if (o + 4 < errlen) {
			snprintf(err + o, errlen - o, "\\x%02x", *p);
			o += 4;
		} else {
			break;
		}
	}
	err[o] = '\0';
	return -1;
}

int config_is_production(const struct config *cfg)
{
	return cfg->env == RF_ENV_PRODUCTION;
}

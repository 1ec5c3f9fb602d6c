/* config: environment variables, validated once at start. */
#include "config.h"
#include "valid.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* scheme://host[:port] with no path, query or trailing slash: the URL
 * Twilio is given is this plus the request URI, byte for byte. */
static int valid_origin(const char *url)
{
	const char *p;
	if (strncmp(url, "https://", 8) == 0)
		p = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		p = url + 7;
	else
		return 0;
	if (*p == '\0' || *p == ':')
		return 0;
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
			return 0;
	}
	return 1;
}

/* An integer variable in [min, max], def when unset; 0 or -1 with err. */
static int env_int(int *out, const char *name, int def, int min, int max, char *err, size_t errlen)
{
	const char *v = env_str(name);
	char *end;
	long n;
	*out = def;
	if (v == NULL)
		return 0;
	n = strtol(v, &end, 10);
	if (*end || end == v || n < min || n > max) {
		snprintf(err, errlen, "%s must be a whole number from %d to %d, not '%s'", name, min, max, v);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/* A decimal variable in [min, max], def when unset; 0 or -1 with err. */
static int env_double(double *out, const char *name, double def, double min, double max,
	char *err, size_t errlen)
{
	const char *v = env_str(name);
	char *end;
	double d;
	*out = def;
	if (v == NULL)
		return 0;
	d = strtod(v, &end);
	if (*end || end == v || !(d >= min && d <= max)) {
		snprintf(err, errlen, "%s must be a number from %g to %g, not '%s'", name, min, max, v);
		return -1;
	}
	*out = d;
	return 0;
}

int config_load(struct config *cfg, unsigned need, char *err, size_t errlen)
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
		snprintf(err, errlen, "RINGFENCE_ENV must be production, staging, development or test, not '%s'", v);
		return -1;
	}

	cfg->database_url = env_str("RINGFENCE_DATABASE_URL");
	cfg->redis_url = env_str("RINGFENCE_REDIS_URL");
	cfg->public_url = env_str("RINGFENCE_PUBLIC_URL");
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

	cfg->fcgi_workers = 4;
	v = env_str("RINGFENCE_FCGI_WORKERS");
	if (v) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || n < 1 || n > 256) {
			snprintf(err, errlen, "RINGFENCE_FCGI_WORKERS must be a number from 1 to 256, not '%s'", v);
			return -1;
		}
		cfg->fcgi_workers = (int)n;
	}

	cfg->from_number = env_str("TWILIO_FROM_NUMBER");
	if (cfg->from_number && !valid_e164(cfg->from_number, strlen(cfg->from_number))) {
		snprintf(err, errlen, "TWILIO_FROM_NUMBER must be an E.164 number such as +15005550006, not '%s'",
			cfg->from_number);
		return -1;
	}
	cfg->mail_from = env_str("RINGFENCE_MAIL_FROM");
	if (cfg->mail_from && (strchr(cfg->mail_from, '@') == NULL ||
		    strpbrk(cfg->mail_from, " <>\r\n\"") != NULL || strlen(cfg->mail_from) > 254)) {
		/* Not echoed: it may hold line breaks. */
		snprintf(err, errlen, "RINGFENCE_MAIL_FROM must be a plain address such as reminders@example.com "
			"(no display name, spaces, quotes or line breaks)");
		return -1;
	}
	if (cfg->mail_from == NULL && cfg->public_url && valid_origin(cfg->public_url)) {
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
	if (env_double(&cfg->cps, "RINGFENCE_CPS", 1.0, 0.01, 100, err, errlen) < 0 ||
		env_int(&cfg->limit_recipient_day, "RINGFENCE_LIMIT_RECIPIENT_DAY", 3, 0, 1000, err, errlen) < 0 ||
		env_int(&cfg->limit_recipient_all_day, "RINGFENCE_LIMIT_RECIPIENT_ALL_DAY", 6, 0, 1000, err,
			errlen) < 0 ||
		env_int(&cfg->limit_business_hour, "RINGFENCE_LIMIT_BUSINESS_HOUR", 60, 0, 100000, err, errlen) < 0 ||
		env_int(&cfg->failsafe_floor, "RINGFENCE_FAILSAFE_FLOOR", 50, 1, 1000000, err, errlen) < 0 ||
		env_double(&cfg->failsafe_factor, "RINGFENCE_FAILSAFE_FACTOR", 3.0, 1.0, 1000, err, errlen) < 0 ||
		env_int(&cfg->api_rate_per_min, "RINGFENCE_API_RATE_PER_MIN", 600, 1, 1000000, err,
			errlen) < 0)
		return -1;

	if ((need & CFG_NEED_DB) && cfg->database_url == NULL) {
		snprintf(err, errlen, "RINGFENCE_DATABASE_URL is not set (a libpq conninfo, e.g. 'host=/run/postgresql dbname=ringfence')");
		return -1;
	}
	if ((need & CFG_NEED_REDIS) && cfg->redis_url == NULL) {
		snprintf(err, errlen, "RINGFENCE_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)");
		return -1;
	}
	if (cfg->redis_url && strncmp(cfg->redis_url, "redis://", 8) != 0 &&
		strncmp(cfg->redis_url, "unix://", 7) != 0) {
		snprintf(err, errlen, "RINGFENCE_REDIS_URL must start with redis:// or unix://, not '%s'", cfg->redis_url);
		return -1;
	}
	if ((need & CFG_NEED_PUBLIC_URL) && cfg->public_url == NULL) {
		snprintf(err, errlen, "RINGFENCE_PUBLIC_URL is not set (the base URL Twilio calls, e.g. https://reminders.example.com)");
		return -1;
	}
	if (cfg->public_url && !valid_origin(cfg->public_url)) {
		snprintf(err, errlen, "RINGFENCE_PUBLIC_URL must be scheme://host[:port] with no path or trailing slash, not '%s'", cfg->public_url);
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
	if (cfg->account_sid && !(strncmp(cfg->account_sid, "AC", 2) == 0 && is_hex32(cfg->account_sid + 2))) {
		snprintf(err, errlen, "TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits");
		return -1;
	}
	if (strncmp(cfg->api_url, "https://", 8) != 0 && strncmp(cfg->api_url, "http://", 7) != 0) {
		snprintf(err, errlen, "TWILIO_API_URL must be an http(s) URL, not '%s'", cfg->api_url);
		return -1;
	}
	if (cfg->env == RF_ENV_PRODUCTION && cfg->public_url &&
		strncmp(cfg->public_url, "https://", 8) != 0) {
		snprintf(err, errlen, "RINGFENCE_PUBLIC_URL must be https in production");
		return -1;
	}
	return 0;
}

int config_is_production(const struct config *cfg)
{
	return cfg->env == RF_ENV_PRODUCTION;
}

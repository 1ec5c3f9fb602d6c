/* Unit tests: config validation, table-driven.  Each case sets the
 * environment from scratch and expects success or an error mentioning a
 * given variable. */
#include "unit.h"

#include "config.h"

static const char *const vars[] = {
	"RINGFENCE_ENV", "RINGFENCE_DATABASE_URL", "RINGFENCE_REDIS_URL", "RINGFENCE_PUBLIC_URL",
	"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_URL", "RINGFENCE_FCGI_WORKERS",
	"RINGFENCE_ROOT", "RINGFENCE_AUDIT_FALLBACK", "TWILIO_FROM_NUMBER", "RINGFENCE_MAIL_FROM",
	"RINGFENCE_NOW", "RINGFENCE_CPS", "RINGFENCE_LIMIT_RECIPIENT_DAY", "RINGFENCE_LIMIT_BUSINESS_HOUR",
	"RINGFENCE_LIMIT_RECIPIENT_ALL_DAY",
	"RINGFENCE_FAILSAFE_FLOOR", "RINGFENCE_FAILSAFE_FACTOR", "RINGFENCE_API_RATE_PER_MIN", NULL,
};

#define SID "AC0123456789abcdef0123456789abcdef"
#define ALL (CFG_NEED_DB | CFG_NEED_REDIS | CFG_NEED_PUBLIC_URL | CFG_NEED_TWILIO)

struct config_case {
	const char *name;
	const char *env[8][2]; /* overrides on top of a complete valid set */
	unsigned need;
	const char *error;     /* NULL: must load; else a substring of err */
};

static const struct config_case cases[] = {
	{ "complete", { { NULL, NULL } }, ALL, NULL },
	{ "no database", { { "RINGFENCE_DATABASE_URL", "" } }, ALL, "RINGFENCE_DATABASE_URL" },
	{ "database not needed", { { "RINGFENCE_DATABASE_URL", "" } }, CFG_NEED_REDIS, NULL },
	{ "no redis", { { "RINGFENCE_REDIS_URL", "" } }, ALL, "RINGFENCE_REDIS_URL" },
	{ "bad redis scheme", { { "RINGFENCE_REDIS_URL", "http://x" } }, ALL, "RINGFENCE_REDIS_URL" },
	{ "no public url", { { "RINGFENCE_PUBLIC_URL", "" } }, ALL, "RINGFENCE_PUBLIC_URL" },
	{ "public url with path", { { "RINGFENCE_PUBLIC_URL", "https://x.example/app" } }, ALL, "RINGFENCE_PUBLIC_URL" },
	{ "public url trailing slash", { { "RINGFENCE_PUBLIC_URL", "https://x.example/" } }, ALL, "RINGFENCE_PUBLIC_URL" },
	{ "public url ftp", { { "RINGFENCE_PUBLIC_URL", "ftp://x.example" } }, ALL, "RINGFENCE_PUBLIC_URL" },
	{ "public url with port", { { "RINGFENCE_PUBLIC_URL", "http://127.0.0.1:8080" } }, ALL, NULL },
	{ "no auth token", { { "TWILIO_AUTH_TOKEN", "" } }, ALL, "TWILIO_AUTH_TOKEN" },
	{ "no account sid", { { "TWILIO_ACCOUNT_SID", "" } }, ALL, "TWILIO_ACCOUNT_SID" },
	{ "short account sid", { { "TWILIO_ACCOUNT_SID", "AC123" } }, ALL, "TWILIO_ACCOUNT_SID" },
	{ "account sid not AC", { { "TWILIO_ACCOUNT_SID", "XX0123456789abcdef0123456789abcdef" } }, ALL, "TWILIO_ACCOUNT_SID" },
	{ "bad env", { { "RINGFENCE_ENV", "prod" } }, ALL, "RINGFENCE_ENV" },
	{ "from number", { { "TWILIO_FROM_NUMBER", "+15005550006" } }, ALL, NULL },
	{ "from number not e164", { { "TWILIO_FROM_NUMBER", "5005550006" } }, ALL, "TWILIO_FROM_NUMBER" },
	{ "from number letters", { { "TWILIO_FROM_NUMBER", "+1500555000x" } }, ALL, "TWILIO_FROM_NUMBER" },
	{ "from number too short", { { "TWILIO_FROM_NUMBER", "+123456" } }, ALL, "TWILIO_FROM_NUMBER" },
	{ "mail from", { { "RINGFENCE_MAIL_FROM", "reminders@example.com" } }, ALL, NULL },
	{ "mail from with name", { { "RINGFENCE_MAIL_FROM", "Reminders <r@example.com>" } }, ALL, "RINGFENCE_MAIL_FROM" },
	{ "mail from no at", { { "RINGFENCE_MAIL_FROM", "reminders" } }, ALL, "RINGFENCE_MAIL_FROM" },
	{ "mail from header injection", { { "RINGFENCE_MAIL_FROM", "a@b.c\r\nBcc: x@y.z" } }, ALL, "RINGFENCE_MAIL_FROM" },
	{ "now in test", { { "RINGFENCE_ENV", "test" }, { "RINGFENCE_NOW", "2026-11-25T10:00:00Z" } }, ALL, NULL },
	{ "now refused in production", { { "RINGFENCE_ENV", "production" }, { "RINGFENCE_PUBLIC_URL", "https://x.example" }, { "RINGFENCE_NOW", "2026-11-25T10:00:00Z" } }, ALL, "RINGFENCE_NOW" },
	{ "cps decimal", { { "RINGFENCE_CPS", "0.5" } }, ALL, NULL },
	{ "cps zero", { { "RINGFENCE_CPS", "0" } }, ALL, "RINGFENCE_CPS" },
	{ "cps junk", { { "RINGFENCE_CPS", "1x" } }, ALL, "RINGFENCE_CPS" },
	{ "cps nan", { { "RINGFENCE_CPS", "nan" } }, ALL, "RINGFENCE_CPS" },
	{ "recipient limit", { { "RINGFENCE_LIMIT_RECIPIENT_DAY", "5" } }, ALL, NULL },
	{ "recipient limit negative", { { "RINGFENCE_LIMIT_RECIPIENT_DAY", "-1" } }, ALL, "RINGFENCE_LIMIT_RECIPIENT_DAY" },
	{ "recipient ceiling", { { "RINGFENCE_LIMIT_RECIPIENT_ALL_DAY", "9" } }, ALL, NULL },
	{ "recipient ceiling zero", { { "RINGFENCE_LIMIT_RECIPIENT_ALL_DAY", "0" } }, ALL, NULL },
	{ "recipient ceiling negative", { { "RINGFENCE_LIMIT_RECIPIENT_ALL_DAY", "-1" } }, ALL, "RINGFENCE_LIMIT_RECIPIENT_ALL_DAY" },
	{ "recipient ceiling junk", { { "RINGFENCE_LIMIT_RECIPIENT_ALL_DAY", "6x" } }, ALL, "RINGFENCE_LIMIT_RECIPIENT_ALL_DAY" },
	{ "recipient ceiling too big", { { "RINGFENCE_LIMIT_RECIPIENT_ALL_DAY", "1001" } }, ALL, "RINGFENCE_LIMIT_RECIPIENT_ALL_DAY" },
	{ "business limit junk", { { "RINGFENCE_LIMIT_BUSINESS_HOUR", "ten" } }, ALL, "RINGFENCE_LIMIT_BUSINESS_HOUR" },
	{ "failsafe floor zero", { { "RINGFENCE_FAILSAFE_FLOOR", "0" } }, ALL, "RINGFENCE_FAILSAFE_FLOOR" },
	{ "failsafe factor below 1", { { "RINGFENCE_FAILSAFE_FACTOR", "0.5" } }, ALL, "RINGFENCE_FAILSAFE_FACTOR" },
	{ "production needs https", { { "RINGFENCE_ENV", "production" }, { "RINGFENCE_PUBLIC_URL", "http://x.example" } }, ALL, "https" },
	{ "production https", { { "RINGFENCE_ENV", "production" }, { "RINGFENCE_PUBLIC_URL", "https://x.example" } }, ALL, NULL },
	{ "workers zero", { { "RINGFENCE_FCGI_WORKERS", "0" } }, ALL, "RINGFENCE_FCGI_WORKERS" },
	{ "workers junk", { { "RINGFENCE_FCGI_WORKERS", "4x" } }, ALL, "RINGFENCE_FCGI_WORKERS" },
	{ "workers ok", { { "RINGFENCE_FCGI_WORKERS", "8" } }, ALL, NULL },
	{ "api rate", { { "RINGFENCE_API_RATE_PER_MIN", "120" } }, ALL, NULL },
	{ "api rate zero", { { "RINGFENCE_API_RATE_PER_MIN", "0" } }, ALL, "RINGFENCE_API_RATE_PER_MIN" },
	{ "api rate junk", { { "RINGFENCE_API_RATE_PER_MIN", "600/min" } }, ALL, "RINGFENCE_API_RATE_PER_MIN" },
	{ "api rate too big", { { "RINGFENCE_API_RATE_PER_MIN", "1000001" } }, ALL, "RINGFENCE_API_RATE_PER_MIN" },
	{ "bad api url", { { "TWILIO_API_URL", "api.twilio.com" } }, ALL, "TWILIO_API_URL" },
};

static void set_base_env(void)
{
	for (int i = 0; vars[i]; i++)
		unsetenv(vars[i]);
	setenv("RINGFENCE_DATABASE_URL", "dbname=ringfence", 1);
	setenv("RINGFENCE_REDIS_URL", "redis://127.0.0.1:6379/0", 1);
	setenv("RINGFENCE_PUBLIC_URL", "https://reminders.example.com", 1);
	setenv("TWILIO_ACCOUNT_SID", SID, 1);
	setenv("TWILIO_AUTH_TOKEN", "12345", 1);
}

static void test_config_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct config_case *c = &cases[i];
		struct config cfg;
		char err[512] = "";
		int rc;
		set_base_env();
		for (int j = 0; j < 8 && c->env[j][0]; j++)
			setenv(c->env[j][0], c->env[j][1], 1);
		rc = config_load(&cfg, c->need, err, sizeof(err));
		if (c->error == NULL) {
			if (rc != 0)
				fail_msg("case '%s': expected success, got '%s'", c->name, err);
		} else {
			if (rc == 0)
				fail_msg("case '%s': expected an error about %s", c->name, c->error);
			if (strstr(err, c->error) == NULL)
				fail_msg("case '%s': error '%s' does not mention %s", c->name, err, c->error);
			if (strchr(err, '\n'))
				fail_msg("case '%s': error is not one line", c->name);
		}
	}
}

static void test_config_defaults(void **state)
{
	struct config cfg;
	char err[256];
	(void)state;
	set_base_env();
	assert_int_equal(config_load(&cfg, ALL, err, sizeof(err)), 0);
	/* An unset RINGFENCE_ENV is not production: the allow-list applies. */
	assert_false(config_is_production(&cfg));
	assert_int_equal(cfg.env, RF_ENV_DEVELOPMENT);
	assert_string_equal(cfg.api_url, "https://api.twilio.com");
	assert_string_equal(cfg.root, ".");
	assert_int_equal(cfg.fcgi_workers, 4);
	assert_null(cfg.now);
	assert_null(cfg.from_number);
	/* The base environment's public URL is https://reminders.example.com. */
	assert_string_equal(cfg.mail_from, "reminders@reminders.example.com");
	setenv("RINGFENCE_PUBLIC_URL", "http://127.0.0.1:8080", 1);
	assert_int_equal(config_load(&cfg, ALL, err, sizeof(err)), 0);
	assert_string_equal(cfg.mail_from, "reminders@127.0.0.1");
	setenv("RINGFENCE_MAIL_FROM", "desk@example.org", 1);
	assert_int_equal(config_load(&cfg, ALL, err, sizeof(err)), 0);
	assert_string_equal(cfg.mail_from, "desk@example.org");
	unsetenv("RINGFENCE_MAIL_FROM");
	setenv("RINGFENCE_PUBLIC_URL", "https://reminders.example.com", 1);
	assert_true(cfg.cps == 1.0);
	assert_int_equal(cfg.limit_recipient_day, 3);
	assert_int_equal(cfg.limit_recipient_all_day, 6);
	assert_int_equal(cfg.limit_business_hour, 60);
	assert_int_equal(cfg.failsafe_floor, 50);
	assert_true(cfg.failsafe_factor == 3.0);
	setenv("RINGFENCE_ENV", "staging", 1);
	assert_int_equal(config_load(&cfg, ALL, err, sizeof(err)), 0);
	assert_false(config_is_production(&cfg));
	setenv("RINGFENCE_ENV", "production", 1);
	assert_int_equal(config_load(&cfg, ALL, err, sizeof(err)), 0);
	assert_true(config_is_production(&cfg));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_cases),
		cmocka_unit_test(test_config_defaults),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}

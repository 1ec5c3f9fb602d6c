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
	"RINGFENCE_FAILSAFE_FLOOR", "RINGFENCE_FAILSAFE_FACTOR", "RINGFENCE_API_RATE_PER_MIN",
	"RINGFENCE_SMTP_URL", "RINGFENCE_LOG", "RINGFENCE_ALLOWED_CONTACTS", "RINGFENCE_RUN_DIR",
	"RINGFENCE_CALENDAR_POLL_S", "RINGFENCE_CALENDAR_HORIZON_DAYS", "RINGFENCE_SIM_CPS",
	"RINGFENCE_SIM_QUEUE_DELAY_MS", "RINGFENCE_SIM_WORKERS", "RINGFENCE_SIM_TIME_SCALE",
	"RINGFENCE_SIM_SCRIPT", "RINGFENCE_SIM_VOICE_URL", "RINGFENCE_FCGI_RELOAD_TIMEOUT",
	"RINGFENCE_FALLBACK_URL", NULL,
};

#define SID "AC0123456789abcdef0123456789abcdef"
#define LIVE_SID "AC5e1f0c2d3b4a59687a8b9c0d1e2f3a4b"
#define TOKEN "9f86d081884c7d659a2feaa0c55ad015"
#define ALL (CFG_NEED_DB | CFG_NEED_REDIS | CFG_NEED_PUBLIC_URL | CFG_NEED_TWILIO)
/* A production set with nothing to refuse: each production case changes one value. */
#define PROD { "RINGFENCE_ENV", "production" }, { "RINGFENCE_PUBLIC_URL", "https://reminders.dentist.co.uk" }, \
	{ "TWILIO_ACCOUNT_SID", LIVE_SID }, { "TWILIO_FROM_NUMBER", "+442071838750" }

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
	{ "now refused in production", { PROD, { "RINGFENCE_NOW", "2026-11-25T10:00:00Z" } }, ALL, "RINGFENCE_NOW" },
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
	{ "production needs https", { PROD, { "RINGFENCE_PUBLIC_URL", "http://reminders.dentist.co.uk" } }, ALL, "https" },
	{ "production https", { PROD }, ALL, NULL },
	{ "production example host", { PROD, { "RINGFENCE_PUBLIC_URL", "https://reminders.example.com" } }, ALL, "RINGFENCE_PUBLIC_URL" },
	{ "production localhost", { PROD, { "RINGFENCE_PUBLIC_URL", "https://127.0.0.1:8443" } }, ALL, "RINGFENCE_PUBLIC_URL" },
	{ "production template sid", { PROD, { "TWILIO_ACCOUNT_SID", SID } }, ALL, "TWILIO_ACCOUNT_SID" },
	{ "production stack sid", { PROD, { "TWILIO_ACCOUNT_SID", "AC10ca15ac00000000000000000000beef" } }, ALL, "TWILIO_ACCOUNT_SID" },
	{ "production zero sid", { PROD, { "TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000" } }, ALL, "TWILIO_ACCOUNT_SID" },
	{ "production zero token", { PROD, { "TWILIO_AUTH_TOKEN", "00000000000000000000000000000000" } }, ALL, "TWILIO_AUTH_TOKEN" },
	{ "production no token", { PROD, { "TWILIO_AUTH_TOKEN", "" } }, CFG_NEED_DB, "TWILIO_AUTH_TOKEN" },
	{ "production magic from 0006", { PROD, { "TWILIO_FROM_NUMBER", "+15005550006" } }, ALL, "TWILIO_FROM_NUMBER" },
	{ "production magic from 0000", { PROD, { "TWILIO_FROM_NUMBER", "+15005550000" } }, ALL, "TWILIO_FROM_NUMBER" },
	{ "production magic from 0009", { PROD, { "TWILIO_FROM_NUMBER", "+15005550009" } }, ALL, "TWILIO_FROM_NUMBER" },
	{ "production near-magic from", { PROD, { "TWILIO_FROM_NUMBER", "+15005550010" } }, ALL, NULL },
	{ "production no from", { PROD, { "TWILIO_FROM_NUMBER", "" } }, CFG_NEED_DB, "TWILIO_FROM_NUMBER" },
	{ "production simulator", { PROD, { "TWILIO_API_URL", "http://127.0.0.1:8081" } }, ALL, "TWILIO_API_URL" },
	{ "production other https api", { PROD, { "TWILIO_API_URL", "https://api.twilio.example" } }, ALL, "TWILIO_API_URL" },
	{ "production mail from example", { PROD, { "RINGFENCE_MAIL_FROM", "r@example.org" } }, ALL, "RINGFENCE_MAIL_FROM" },
	{ "production redis change-me", { PROD, { "RINGFENCE_REDIS_URL", "redis://:change-me@127.0.0.1" } }, ALL, "RINGFENCE_REDIS_URL" },
	{ "production smtp change-me", { PROD, { "RINGFENCE_SMTP_URL", "smtp://u:change-me@mail.dentist.co.uk" } }, ALL, "RINGFENCE_SMTP_URL" },
	{ "production db change-me", { PROD, { "RINGFENCE_DATABASE_URL", "dbname=rf password=change-me" } }, ALL, "RINGFENCE_DATABASE_URL" },
	{ "production format only", { PROD, { "TWILIO_FROM_NUMBER", "+15005550006" } }, CFG_FORMAT_ONLY, NULL },
	{ "staging keeps test numbers", { { "RINGFENCE_ENV", "staging" }, { "TWILIO_FROM_NUMBER", "+15005550006" }, { "TWILIO_API_URL", "http://127.0.0.1:8081" } }, ALL, NULL },
	{ "token short", { { "TWILIO_AUTH_TOKEN", "12345" } }, ALL, "TWILIO_AUTH_TOKEN" },
	{ "token change-me", { { "TWILIO_AUTH_TOKEN", "change-me" } }, 0, "TWILIO_AUTH_TOKEN" },
	{ "token 33", { { "TWILIO_AUTH_TOKEN", TOKEN "0" } }, 0, "TWILIO_AUTH_TOKEN" },
	{ "token upper hex", { { "TWILIO_AUTH_TOKEN", "9F86D081884C7D659A2FEAA0C55AD015" } }, ALL, NULL },
	{ "sid template x", { { "TWILIO_ACCOUNT_SID", "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" } }, 0, "TWILIO_ACCOUNT_SID" },
	{ "smtp notaurl", { { "RINGFENCE_SMTP_URL", "notaurl" } }, 0, "RINGFENCE_SMTP_URL" },
	{ "smtp ok", { { "RINGFENCE_SMTP_URL", "smtp://127.0.0.1:25" } }, 0, NULL },
	{ "smtps credentials", { { "RINGFENCE_SMTP_URL", "smtps://desk%40x.org:pa%24s@mail.x.org:465/x.org" } }, 0, NULL },
	{ "smtp no host", { { "RINGFENCE_SMTP_URL", "smtp://" } }, 0, "RINGFENCE_SMTP_URL" },
	{ "smtp port 0", { { "RINGFENCE_SMTP_URL", "smtp://mail.x.org:0" } }, 0, "RINGFENCE_SMTP_URL" },
	{ "smtp http", { { "RINGFENCE_SMTP_URL", "http://mail.x.org" } }, 0, "RINGFENCE_SMTP_URL" },
	{ "smtp query", { { "RINGFENCE_SMTP_URL", "smtp://mail.x.org?x=1" } }, 0, "RINGFENCE_SMTP_URL" },
	{ "redis password", { { "RINGFENCE_REDIS_URL", "redis://:s3cret@127.0.0.1:6379/1" } }, ALL, NULL },
	{ "redis acl", { { "RINGFENCE_REDIS_URL", "unix://ringfence:s3cret@/run/redis/redis-server.sock?db=2" } }, ALL, NULL },
	{ "redis bad port", { { "RINGFENCE_REDIS_URL", "redis://127.0.0.1:99999" } }, 0, "RINGFENCE_REDIS_URL" },
	{ "redis user only", { { "RINGFENCE_REDIS_URL", "redis://s3cret@127.0.0.1" } }, 0, "RINGFENCE_REDIS_URL" },
	{ "database junk", { { "RINGFENCE_DATABASE_URL", "host=x password=s3cret dbname" } }, 0, "RINGFENCE_DATABASE_URL" },
	{ "database uri", { { "RINGFENCE_DATABASE_URL", "postgresql://rf:s3cret@db.internal/ringfence" } }, ALL, NULL },
	{ "api url path", { { "TWILIO_API_URL", "https://api.twilio.com/2010-04-01" } }, 0, "TWILIO_API_URL" },
	{ "api url port", { { "TWILIO_API_URL", "http://127.0.0.1:8081" } }, 0, NULL },
	{ "public url bad port", { { "RINGFENCE_PUBLIC_URL", "https://x.org:70000" } }, 0, "RINGFENCE_PUBLIC_URL" },
	{ "fallback url", { { "RINGFENCE_FALLBACK_URL", "http://127.0.0.1:9000" } }, ALL, NULL },
	{ "fallback url with path", { { "RINGFENCE_FALLBACK_URL", "https://b.dentist.co.uk/twilio" } }, 0, "RINGFENCE_FALLBACK_URL" },
	{ "fallback url ftp", { { "RINGFENCE_FALLBACK_URL", "ftp://b.dentist.co.uk" } }, 0, "RINGFENCE_FALLBACK_URL" },
	{ "fallback url is the public url", { { "RINGFENCE_PUBLIC_URL", "https://a.dentist.co.uk" },
		{ "RINGFENCE_FALLBACK_URL", "https://A.dentist.co.uk" } }, 0, "another node" },
	{ "production fallback", { PROD, { "RINGFENCE_FALLBACK_URL", "https://b.dentist.co.uk" } }, ALL, NULL },
	{ "production fallback needs https", { PROD, { "RINGFENCE_FALLBACK_URL", "http://b.dentist.co.uk" } }, ALL, "RINGFENCE_FALLBACK_URL" },
	{ "production fallback localhost", { PROD, { "RINGFENCE_FALLBACK_URL", "https://127.0.0.1:8443" } }, ALL, "RINGFENCE_FALLBACK_URL" },
	{ "log debug", { { "RINGFENCE_LOG", "debug" } }, 0, NULL },
	{ "log warn", { { "RINGFENCE_LOG", "warn" } }, 0, NULL },
	{ "log error", { { "RINGFENCE_LOG", "error" } }, 0, NULL },
	{ "log info", { { "RINGFENCE_LOG", "info" } }, 0, NULL },
	{ "log verbose", { { "RINGFENCE_LOG", "verbose" } }, 0, "debug, info, warn or error" },
	{ "log upper", { { "RINGFENCE_LOG", "DEBUG" } }, 0, "RINGFENCE_LOG" },
	{ "allowed ok", { { "RINGFENCE_ALLOWED_CONTACTS", "+15551234567, owner@x.org" } }, 0, NULL },
	{ "allowed bad", { { "RINGFENCE_ALLOWED_CONTACTS", "+15551234567,5551234" } }, 0, "entry 2" },
	{ "calendar poll test", { { "RINGFENCE_ENV", "test" }, { "RINGFENCE_CALENDAR_POLL_S", "1" } }, 0, NULL },
	{ "calendar poll low", { { "RINGFENCE_CALENDAR_POLL_S", "30" } }, 0, "RINGFENCE_CALENDAR_POLL_S" },
	{ "calendar horizon", { { "RINGFENCE_CALENDAR_HORIZON_DAYS", "367" } }, 0, "RINGFENCE_CALENDAR_HORIZON_DAYS" },
	{ "sim cps", { { "RINGFENCE_SIM_CPS", "1001" } }, 0, "RINGFENCE_SIM_CPS" },
	{ "sim delay", { { "RINGFENCE_SIM_QUEUE_DELAY_MS", "x" } }, 0, "RINGFENCE_SIM_QUEUE_DELAY_MS" },
	{ "sim workers", { { "RINGFENCE_SIM_WORKERS", "0" } }, 0, "RINGFENCE_SIM_WORKERS" },
	{ "sim scale zero", { { "RINGFENCE_SIM_TIME_SCALE", "0" } }, 0, "RINGFENCE_SIM_TIME_SCALE" },
	{ "sim scale", { { "RINGFENCE_SIM_TIME_SCALE", "0.05" } }, 0, NULL },
	{ "sim voice url", { { "RINGFENCE_SIM_VOICE_URL", "notaurl" } }, 0, "RINGFENCE_SIM_VOICE_URL" },
	{ "sim voice url ok", { { "RINGFENCE_SIM_VOICE_URL", "http://127.0.0.1:8080/twilio/voice/inbound" } }, 0, NULL },
	{ "root missing", { { "RINGFENCE_ROOT", "/nonexistent/ringfence" } }, 0, "RINGFENCE_ROOT" },
	{ "reload timeout", { { "RINGFENCE_FCGI_RELOAD_TIMEOUT", "0" } }, 0, "RINGFENCE_FCGI_RELOAD_TIMEOUT" },
	{ "from required", { { "TWILIO_FROM_NUMBER", "" } }, CFG_NEED_FROM, "TWILIO_FROM_NUMBER" },
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
	setenv("TWILIO_AUTH_TOKEN", TOKEN, 1);
}

/* Whatever a case sets, no reason quotes a password or the token. */
static void assert_no_secret(const char *name, const char *err)
{
	if (strstr(err, "s3cret") || strstr(err, TOKEN) || strstr(err, "change-me") ||
		strstr(err, "pa%24s"))
		fail_msg("case '%s': the reason quotes a secret: '%s'", name, err);
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
		assert_no_secret(c->name, err);
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
	setenv("RINGFENCE_PUBLIC_URL", "https://reminders.dentist.co.uk", 1);
	setenv("TWILIO_ACCOUNT_SID", LIVE_SID, 1);
	setenv("TWILIO_FROM_NUMBER", "+442071838750", 1);
	assert_int_equal(config_load(&cfg, ALL, err, sizeof(err)), 0);
	assert_true(config_is_production(&cfg));
	assert_int_equal(cfg.log_level, 1);
}

struct problems {
	char text[2048];
	int n;
};

static void collect(void *ctx, const char *var, const char *problem)
{
	struct problems *p = ctx;
	size_t len = strlen(p->text);
	snprintf(p->text + len, sizeof(p->text) - len, "%s %s\n", var, problem);
	p->n++;
}

/* config_problems lists every refusal at once, in any environment, and
 * none of them quotes a secret. */
static void test_config_problems(void **state)
{
	struct config cfg;
	struct problems p = { "", 0 };
	char err[512];
	(void)state;

	set_base_env();
	setenv("RINGFENCE_ENV", "staging", 1);
	setenv("TWILIO_AUTH_TOKEN", "ffffffffffffffffffffffffffffffff", 1);
	setenv("TWILIO_FROM_NUMBER", "+15005550006", 1);
	setenv("TWILIO_API_URL", "http://127.0.0.1:8081", 1);
	setenv("RINGFENCE_REDIS_URL", "redis://:change-me@127.0.0.1:6379", 1);
	setenv("RINGFENCE_MAIL_FROM", "desk@example.org", 1);
	assert_int_equal(config_load(&cfg, ALL, err, sizeof(err)), 0);
	assert_int_equal(config_problems(&cfg, collect, &p), 7);
	assert_non_null(strstr(p.text, "TWILIO_AUTH_TOKEN"));
	assert_non_null(strstr(p.text, "TWILIO_ACCOUNT_SID"));
	assert_non_null(strstr(p.text, "TWILIO_FROM_NUMBER"));
	assert_non_null(strstr(p.text, "TWILIO_API_URL"));
	assert_non_null(strstr(p.text, "RINGFENCE_PUBLIC_URL"));
	assert_non_null(strstr(p.text, "RINGFENCE_MAIL_FROM"));
	assert_non_null(strstr(p.text, "RINGFENCE_REDIS_URL"));
	assert_null(strstr(p.text, "change-me"));
	assert_null(strstr(p.text, "ffffffff"));

	/* A clean production set has none. */
	set_base_env();
	setenv("RINGFENCE_ENV", "production", 1);
	setenv("RINGFENCE_PUBLIC_URL", "https://reminders.dentist.co.uk", 1);
	setenv("TWILIO_ACCOUNT_SID", LIVE_SID, 1);
	setenv("TWILIO_FROM_NUMBER", "+442071838750", 1);
	assert_int_equal(config_load(&cfg, ALL, err, sizeof(err)), 0);
	p.text[0] = '\0';
	p.n = 0;
	assert_int_equal(config_problems(&cfg, collect, &p), 0);
	/* An example public URL is one problem, not two: the default From
	 * address that follows it is not reported again. */
	setenv("RINGFENCE_PUBLIC_URL", "https://reminders.example.com", 1);
	assert_int_equal(config_load(&cfg, CFG_FORMAT_ONLY, err, sizeof(err)), 0);
	assert_int_equal(config_problems(&cfg, collect, &p), 1);
	assert_non_null(strstr(p.text, "RINGFENCE_PUBLIC_URL"));
	unsetenv("RINGFENCE_ENV");
}

static void collect_unknown(void *ctx, const char *var, const char *closest)
{
	struct problems *p = ctx;
	size_t len = strlen(p->text);
	snprintf(p->text + len, sizeof(p->text) - len, "%s>%s\n", var, closest ? closest : "-");
	p->n++;
}

static void test_unknown_vars(void **state)
{
	struct problems p = { "", 0 };
	(void)state;

	set_base_env();
	setenv("RINGFENCE_FCGI_WORKER", "4", 1);
	setenv("RINGFENCE_TEST_ANYTHING", "1", 1);
	setenv("RINGFENCE_STACK_DIR", "/tmp/x", 1);
	setenv("RINGFENCE_ZZZZZZZZZZZZZZZZZZZZZZ", "1", 1);
	config_unknown_vars(collect_unknown, &p);
	assert_non_null(strstr(p.text, "RINGFENCE_FCGI_WORKER>RINGFENCE_FCGI_WORKERS\n"));
	assert_non_null(strstr(p.text, "RINGFENCE_ZZZZZZZZZZZZZZZZZZZZZZ>-\n"));
	assert_null(strstr(p.text, "RINGFENCE_TEST_"));
	assert_null(strstr(p.text, "RINGFENCE_STACK_"));
	assert_null(strstr(p.text, "RINGFENCE_DATABASE_URL"));
	unsetenv("RINGFENCE_FCGI_WORKER");
	unsetenv("RINGFENCE_TEST_ANYTHING");
	unsetenv("RINGFENCE_ZZZZZZZZZZZZZZZZZZZZZZ");
}

static void test_log_level(void **state)
{
	(void)state;
	assert_int_equal(config_log_level(NULL), 1);
	assert_int_equal(config_log_level(""), 1);
	assert_int_equal(config_log_level("debug"), 0);
	assert_int_equal(config_log_level("info"), 1);
	assert_int_equal(config_log_level("warn"), 2);
	assert_int_equal(config_log_level("error"), 3);
	assert_int_equal(config_log_level("verbose"), -1);
	assert_int_equal(config_log_level("warning"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_cases),
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_problems),
		cmocka_unit_test(test_unknown_vars),
		cmocka_unit_test(test_log_level),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}

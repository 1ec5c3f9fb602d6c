/* Integration group "config": every command of bin/ringfence checks every
 * configuration value at start, against the live stack's environment with
 * one value changed: a bad value stops it with one line naming the
 * variable and never the password or token it was given; production
 * refuses placeholders and Twilio's test credentials; RINGFENCE_LOG sets
 * the level; an unknown RINGFENCE_* name is warned about. */
#include "harness.h"
#include "groups.h"

#include "buf.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* A password or token given in a bad value: never in any output. */
#define CANARY "Zq7canaryPw"

static const char *bin;

/* The commands a bad value must stop, each with arguments that would do
 * one bounded thing if the value were accepted. */
static const char *const commands[] = {
	"fcgi </dev/null", "worker --once", "scheduler --once", "calsync --once", "migrate",
	"audit all --max 1", "failsafe status", "check", "apikey revoke nosuchprefix", "diagram reminder",
};

/* Runs "env bin args" and returns its exit status, its output in out. */
static int run(const char *env, const char *args, struct buf *out)
{
	char *cmd = xasprintf("%s '%s' %s 2>&1", env, bin, args);
	int rc;

	buf_reset(out);
	rc = hx_shell(cmd, out, 60);
	free(cmd);
	return rc;
}

static int lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* One refusal: exit non-zero, exactly one line, naming var (and want when
 * given), without the canary. */
static void refused_or_fail(const char *env, const char *args, const char *var, const char *want)
{
	struct buf out = BUF_INIT;
	int rc = run(env, args, &out);
	const char *s = buf_str(&out);

	if (rc == 0 || rc == -1)
		fail_msg("%s ringfence %s: exit %d, want a refusal:\n%s", env, args, rc, s);
	if (lines(s) != 1)
		fail_msg("%s ringfence %s: %d lines, want one:\n%s", env, args, lines(s), s);
	if (strstr(s, var) == NULL)
		fail_msg("%s ringfence %s: the refusal does not name %s:\n%s", env, args, var, s);
	if (want && strstr(s, want) == NULL)
		fail_msg("%s ringfence %s: the refusal does not say '%s':\n%s", env, args, want, s);
	if (strstr(s, CANARY))
		fail_msg("%s ringfence %s: the output quotes the secret:\n%s", env, args, s);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p >= 0x7f)
			fail_msg("%s ringfence %s: the refusal carries the raw byte 0x%02x:\n%s", env,
				args, *p, s);
	buf_free(&out);
}

struct bad_value {
	const char *env;  /* shell assignments */
	const char *var;  /* the variable the line must name */
	const char *want; /* and this, or NULL */
};

static const struct bad_value bad_values[] = {
	{ "RINGFENCE_SMTP_URL=notaurl", "RINGFENCE_SMTP_URL", "smtp://" },
	{ "RINGFENCE_SMTP_URL='smtp://desk:" CANARY "@'", "RINGFENCE_SMTP_URL", NULL },
	{ "RINGFENCE_SMTP_URL='smtp://desk:" CANARY "@mail.x.org:0'", "RINGFENCE_SMTP_URL", NULL },
	{ "RINGFENCE_REDIS_URL=notaurl", "RINGFENCE_REDIS_URL", "redis://" },
	{ "RINGFENCE_REDIS_URL='redis://:" CANARY "@127.0.0.1:99999/0'", "RINGFENCE_REDIS_URL", NULL },
	{ "RINGFENCE_REDIS_URL='redis://" CANARY "@127.0.0.1/0'", "RINGFENCE_REDIS_URL", NULL },
	{ "RINGFENCE_REDIS_URL='unix://:" CANARY "/run/redis.sock'", "RINGFENCE_REDIS_URL", NULL },
	{ "RINGFENCE_DATABASE_URL='host=127.0.0.1 password=" CANARY " dbname'", "RINGFENCE_DATABASE_URL", NULL },
	{ "RINGFENCE_DATABASE_URL='postgresql://rf:" CANARY "@127.0.0.1:5432/x?nosuchoption=1'",
		"RINGFENCE_DATABASE_URL", NULL },
	{ "TWILIO_AUTH_TOKEN=" CANARY, "TWILIO_AUTH_TOKEN", "32 hex" },
	{ "TWILIO_AUTH_TOKEN=change-me", "TWILIO_AUTH_TOKEN", NULL },
	{ "TWILIO_ACCOUNT_SID=ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "TWILIO_ACCOUNT_SID", NULL },
	{ "TWILIO_API_URL=api.twilio.com", "TWILIO_API_URL", NULL },
	{ "TWILIO_FROM_NUMBER=5551234", "TWILIO_FROM_NUMBER", "E.164" },
	{ "RINGFENCE_PUBLIC_URL=https://x.org/app", "RINGFENCE_PUBLIC_URL", NULL },
	{ "RINGFENCE_LOG=verbose", "RINGFENCE_LOG", "debug, info, warn or error" },
	{ "RINGFENCE_MONITORING_ADDRESSES=10.0.0.0/33", "RINGFENCE_MONITORING_ADDRESSES", "CIDR" },
	{ "RINGFENCE_CPS=0", "RINGFENCE_CPS", NULL },
	{ "RINGFENCE_FCGI_WORKERS=0", "RINGFENCE_FCGI_WORKERS", NULL },
	{ "RINGFENCE_ALLOWED_CONTACTS=bogus", "RINGFENCE_ALLOWED_CONTACTS", NULL },
	{ "RINGFENCE_CALENDAR_POLL_S=soon", "RINGFENCE_CALENDAR_POLL_S", NULL },
	{ "RINGFENCE_SIM_TIME_SCALE=0", "RINGFENCE_SIM_TIME_SCALE", NULL },
	{ "RINGFENCE_SIM_VOICE_URL=notaurl", "RINGFENCE_SIM_VOICE_URL", NULL },
	{ "RINGFENCE_ENV=prod", "RINGFENCE_ENV", NULL },
	{ "RINGFENCE_ROOT=/nonexistent/ringfence", "RINGFENCE_ROOT", NULL },
	/* A value's line breaks and bytes that are not printable ASCII never
	 * reach the refusal raw: it stays one line, no second one forged. */
	{ "RINGFENCE_PUBLIC_URL=\"$(printf 'https://x.org\\nERROR forged line')\"", "RINGFENCE_PUBLIC_URL",
		"\\x0a" },
	{ "RINGFENCE_LOG=\"$(printf 'info\\r\\nforged')\"", "RINGFENCE_LOG", NULL },
	{ "RINGFENCE_ENV=\"$(printf 'test\\nforged')\"", "RINGFENCE_ENV", NULL },
	{ "RINGFENCE_CPS=\"$(printf '1\\nforged')\"", "RINGFENCE_CPS", NULL },
	{ "TWILIO_FROM_NUMBER=\"$(printf '+1555\\377\\376\\033[2J')\"", "TWILIO_FROM_NUMBER", NULL },
};

/* Every bad value stops every command, whether it reads the value or not. */
static void test_bad_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad_values); i++)
		for (size_t j = 0; j < ARRAY_LEN(commands); j++)
			refused_or_fail(bad_values[i].env, commands[j], bad_values[i].var, bad_values[i].want);
}

/* The simulator's binary checks the same values. */
static void test_simulator_checks_too(void **state)
{
	struct buf out = BUF_INIT;
	const char *slash = strrchr(bin, '/');
	char *cmd = xasprintf("RINGFENCE_SMTP_URL=notaurl '%.*sringfence-sim' migrate 2>&1",
		slash ? (int)(slash - bin + 1) : 0, bin);
	int rc = hx_shell(cmd, &out, 60);
	(void)state;

	free(cmd);
	assert_int_not_equal(rc, 0);
	assert_int_equal(lines(buf_str(&out)), 1);
	assert_non_null(strstr(buf_str(&out), "RINGFENCE_SMTP_URL"));
	buf_free(&out);
}

/* No caller id, no reminder: the worker and the scheduler refuse at start. */
static void test_from_number_required(void **state)
{
	(void)state;
	refused_or_fail("TWILIO_FROM_NUMBER=", "worker --once", "TWILIO_FROM_NUMBER", "not set");
	refused_or_fail("TWILIO_FROM_NUMBER=", "scheduler --once", "TWILIO_FROM_NUMBER", "not set");
}

/* A production set with nothing to refuse, on the stack's database and
 * Redis; each case below spoils one value of it. */
#define PROD "RINGFENCE_ENV=production RINGFENCE_PUBLIC_URL=https://reminders.dentist.co.uk " \
	"TWILIO_ACCOUNT_SID=AC5e1f0c2d3b4a59687a8b9c0d1e2f3a4b TWILIO_API_URL=https://api.twilio.com " \
	"TWILIO_FROM_NUMBER=+442071838750 RINGFENCE_ALLOWED_CONTACTS= RINGFENCE_NOW= "

static const struct bad_value production[] = {
	{ PROD "TWILIO_AUTH_TOKEN=00000000000000000000000000000000", "TWILIO_AUTH_TOKEN", "production" },
	{ PROD "TWILIO_ACCOUNT_SID=AC0123456789abcdef0123456789abcdef", "TWILIO_ACCOUNT_SID", "production" },
	{ PROD "TWILIO_FROM_NUMBER=+15005550006", "TWILIO_FROM_NUMBER", "magic" },
	{ PROD "TWILIO_FROM_NUMBER=+15005550001", "TWILIO_FROM_NUMBER", "magic" },
	{ PROD "TWILIO_API_URL=http://127.0.0.1:8081", "TWILIO_API_URL", "https://api.twilio.com" },
	{ PROD "RINGFENCE_PUBLIC_URL=https://reminders.example.com", "RINGFENCE_PUBLIC_URL", "production" },
	{ PROD "RINGFENCE_PUBLIC_URL=http://reminders.dentist.co.uk", "RINGFENCE_PUBLIC_URL", "https" },
	{ PROD "RINGFENCE_MAIL_FROM=reminders@example.com", "RINGFENCE_MAIL_FROM", "production" },
	{ PROD "RINGFENCE_SMTP_URL=smtp://desk:change-me@mail.dentist.co.uk", "RINGFENCE_SMTP_URL", "placeholder" },
	{ PROD "TWILIO_AUTH_TOKEN=", "TWILIO_AUTH_TOKEN", "not set" },
};

static void test_production_refusals(void **state)
{
	static const char *const prod_commands[] = { "fcgi </dev/null", "worker --once",
		"scheduler --once", "calsync --once", "migrate", "audit all --max 1", "failsafe status" };
	struct buf out = BUF_INIT;
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(production); i++)
		for (size_t j = 0; j < ARRAY_LEN(prod_commands); j++)
			refused_or_fail(production[i].env, prod_commands[j], production[i].var,
				production[i].want);
	/* The stack's own test environment is not production-ready. */
	refused_or_fail("RINGFENCE_ENV=production RINGFENCE_NOW=", "failsafe status", "TWILIO", "production");
	/* The clean set itself runs. */
	if (run(PROD, "failsafe status", &out) != 0)
		fail_msg("the clean production set was refused:\n%s", buf_str(&out));
	buf_free(&out);
}

/* RINGFENCE_LOG: warn hides the scheduler's info line, the default and
 * debug show it. */
static void test_log_levels(void **state)
{
	struct buf out = BUF_INIT;
	(void)state;

	assert_int_equal(run("RINGFENCE_LOG=", "scheduler --once", &out), 0);
	assert_non_null(strstr(buf_str(&out), " info ringfence["));
	assert_int_equal(run("RINGFENCE_LOG=debug", "scheduler --once", &out), 0);
	assert_non_null(strstr(buf_str(&out), " info ringfence["));
	assert_int_equal(run("RINGFENCE_LOG=warn", "scheduler --once", &out), 0);
	assert_null(strstr(buf_str(&out), " info ringfence["));
	assert_int_equal(run("RINGFENCE_LOG=error", "scheduler --once", &out), 0);
	assert_null(strstr(buf_str(&out), " info ringfence["));
	buf_free(&out);
}

/* A typo'd name is a warning naming the closest known one, not an error;
 * the tools' own RINGFENCE_TEST_* names pass silently. */
static void test_unknown_name_warning(void **state)
{
	struct buf out = BUF_INIT;
	(void)state;

	assert_int_equal(run("RINGFENCE_FCGI_WORKER=8", "failsafe status", &out), 0);
	assert_non_null(strstr(buf_str(&out), "RINGFENCE_FCGI_WORKER is not a ringfence variable "
		"(did you mean RINGFENCE_FCGI_WORKERS?)"));
	assert_int_equal(run("RINGFENCE_TEST_ANYTHING=1", "failsafe status", &out), 0);
	assert_null(strstr(buf_str(&out), "warning"));
	buf_free(&out);
}

/* Secrets never echoed by the connections: a password Redis refuses (the
 * stack's Redis has none) and one PostgreSQL refuses. */
static void test_refused_passwords(void **state)
{
	const char *redis = getenv("RINGFENCE_REDIS_URL"), *port = getenv("RINGFENCE_PG_PORT");
	char *env;
	(void)state;

	assert_non_null(redis);
	assert_non_null(port);
	assert_int_equal(strncmp(redis, "redis://", 8), 0);
	env = xasprintf("RINGFENCE_REDIS_URL='redis://:" CANARY "@%s'", redis + 8);
	refused_or_fail(env, "audit all --max 1", "RINGFENCE_REDIS_URL", "Redis refused the password");
	refused_or_fail(env, "worker --once", "RINGFENCE_REDIS_URL", "Redis refused the password");
	refused_or_fail(env, "scheduler --once", "RINGFENCE_REDIS_URL", "Redis refused the password");
	refused_or_fail(env, "fcgi </dev/null", "RINGFENCE_REDIS_URL", "Redis refused the password");
	free(env);
	{
		struct buf out = BUF_INIT;
		int rc;
		env = xasprintf("RINGFENCE_DATABASE_URL='postgresql://nobody:" CANARY
			"@127.0.0.1:%s/nodb'", port);
		rc = run(env, "migrate", &out);
		assert_int_not_equal(rc, 0);
		if (strstr(buf_str(&out), CANARY))
			fail_msg("migrate quoted the database password:\n%s", buf_str(&out));
		rc = run(env, "failsafe status", &out);
		assert_int_not_equal(rc, 0);
		if (strstr(buf_str(&out), CANARY))
			fail_msg("failsafe quoted the database password:\n%s", buf_str(&out));
		buf_free(&out);
		free(env);
	}
}

static int group_setup(void **state)
{
	if (hx_group_setup(state) < 0)
		return -1;
	bin = hx_ringfence_bin("config");
	return bin ? 0 : -1;
}

int config_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_simulator_checks_too),
		cmocka_unit_test(test_from_number_required),
		cmocka_unit_test(test_production_refusals),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_unknown_name_warning),
		cmocka_unit_test(test_refused_passwords),
	};
	return cmocka_run_group_tests_name("integration: config", tests, group_setup,
		hx_group_teardown);
}

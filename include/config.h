/* config: the environment, read and validated once at start.
 *
 * A missing or malformed required value stops the process with a one-line
 * reason (config_load fills err).  The struct owns nothing: its strings
 * point into the environment, which lives as long as the process. */
#ifndef RF_CONFIG_H
#define RF_CONFIG_H

#include <stddef.h>

enum rf_env { RF_ENV_DEVELOPMENT, RF_ENV_TEST, RF_ENV_STAGING, RF_ENV_PRODUCTION };

/* What a subcommand needs; config_load fails when one of these is absent. */
enum config_need {
	CFG_NEED_DB = 1 << 0,         /* RINGFENCE_DATABASE_URL */
	CFG_NEED_REDIS = 1 << 1,      /* RINGFENCE_REDIS_URL */
	CFG_NEED_PUBLIC_URL = 1 << 2, /* RINGFENCE_PUBLIC_URL */
	CFG_NEED_TWILIO = 1 << 3,     /* TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN */
	CFG_NEED_FROM = 1 << 4,       /* TWILIO_FROM_NUMBER (worker, scheduler) */
	/* Check the formats only, not the production refusals (the check
	 * every command runs before its own; see command.c). */
	CFG_FORMAT_ONLY = 1 << 30,
};

/* The simulator's limits (src/sim/twilio_sim.c), checked by every process. */
#define CFG_SIM_MAX_WORKERS 64
#define CFG_SIM_MAX_CPS 1000
#define CFG_SIM_MAX_QUEUE_DELAY_MS 3600000
#define CFG_SIM_MAX_TIME_SCALE 100

struct config {
	enum rf_env env;              /* RINGFENCE_ENV; unset = development */
	const char *env_name;         /* as given, or "development" */
	const char *database_url;     /* RINGFENCE_DATABASE_URL (libpq conninfo) */
	const char *database_read_url; /* RINGFENCE_DATABASE_READ_URL (libpq conninfo), or NULL */
	const char *redis_url;        /* RINGFENCE_REDIS_URL redis://host:port[/db] or unix:///path */
	const char *public_url;       /* RINGFENCE_PUBLIC_URL scheme://host[:port], no trailing slash */
	const char *fallback_url;     /* RINGFENCE_FALLBACK_URL: another node's origin, or NULL */
	const char *account_sid;      /* TWILIO_ACCOUNT_SID, AC + 32 hex */
	const char *auth_token;       /* TWILIO_AUTH_TOKEN */
	const char *api_url;          /* TWILIO_API_URL, default https://api.twilio.com */
	const char *allowed_contacts; /* RINGFENCE_ALLOWED_CONTACTS, comma/space separated */
	const char *smtp_url;         /* RINGFENCE_SMTP_URL */
	const char *root;             /* RINGFENCE_ROOT: state_tables/, audio/, sql/ live here; default "." */
	const char *audit_fallback;   /* RINGFENCE_AUDIT_FALLBACK: log file used when Redis is down;
	                                 default "var/log/audit-fallback.log" under root */
	const char *run_dir;          /* RINGFENCE_RUN_DIR: the folder of the processes' run-time
	                                 files (the pool's status, metrics segments); default
	                                 "var/run" under root; /run/ringfence under systemd */
	int fcgi_workers;             /* RINGFENCE_FCGI_WORKERS, default 4, 1..256 */
	int log_level;                /* RINGFENCE_LOG: enum log_level, default info */

	/* The outbound pipeline (scheduler, worker). */
	const char *from_number;      /* TWILIO_FROM_NUMBER: E.164 caller id for calls and texts
	                                 of businesses that have none of their own */
	const char *mail_from;        /* RINGFENCE_MAIL_FROM: the From address of reminder emails;
	                                 default reminders@<host of RINGFENCE_PUBLIC_URL> */
	const char *now;              /* RINGFENCE_NOW: a fixed "current time" (RFC 3339) for
	                                 tests; refused in production.  NULL: the real clock */
	double cps;                   /* RINGFENCE_CPS: calls/messages per second per Twilio
	                                 account, default 1, 0.01..100 */
	int limit_recipient_day;      /* RINGFENCE_LIMIT_RECIPIENT_DAY: contacts per recipient
	                                 address per 24 h from one business, default 3 */
	int limit_recipient_all_day;  /* RINGFENCE_LIMIT_RECIPIENT_ALL_DAY: contacts per recipient
	                                 address per 24 h from all businesses together, default 6 */
	int limit_business_hour;      /* RINGFENCE_LIMIT_BUSINESS_HOUR: contacts per business per
	                                 hour unless the business overrides it, default 60 */
	int failsafe_floor;           /* RINGFENCE_FAILSAFE_FLOOR: never trip below this many
	                                 contacts in a window, default 50 */
	double failsafe_factor;       /* RINGFENCE_FAILSAFE_FACTOR: trip above factor x the
	                                 historical maximum of the window, default 3 */
	int api_rate_per_min;         /* RINGFENCE_API_RATE_PER_MIN: JSON API requests per key per
	                                 minute, default 600, 1..1000000 (api_rate.h) */
	char mail_from_default[300];  /* storage for the default of mail_from */
	char run_dir_default[4096];   /* storage for the default of run_dir */
};

/* Reads the environment into cfg.  Returns 0, or -1 with a one-line reason
 * in err ("RINGFENCE_PUBLIC_URL is not set", ...).  Every RINGFENCE_* and
 * TWILIO_* variable that is set is checked, whether or not the caller uses
 * it; need adds the ones that must be set.  In production the first of
 * config_problems() is refused too (unless CFG_FORMAT_ONLY).  No reason
 * ever quotes a password, a token or a URL holding one. */
int config_load(struct config *cfg, unsigned need, char *err, size_t errlen);

/* Every value production refuses (placeholders, test credentials, the
 * simulator, example hosts, unset Twilio settings): report(ctx, variable,
 * problem) once per problem, the problem a phrase that never quotes a
 * secret ("is a placeholder, not the account's auth token").  Returns the
 * number reported.  Works in any environment (the doctor lists them
 * before a deployment goes live); cfg from config_load. */
int config_problems(const struct config *cfg,
	void (*report)(void *ctx, const char *var, const char *problem), void *ctx);

/* Each RINGFENCE_* variable of the environment that ringfence does not
 * know (tools' RINGFENCE_TEST_* and RINGFENCE_STACK_* aside): report(ctx,
 * name, closest known name or NULL).  Returns the number reported. */
int config_unknown_vars(void (*report)(void *ctx, const char *var, const char *closest), void *ctx);

/* RINGFENCE_LOG: 0 debug, 1 info (also when unset or empty), 2 warn,
 * 3 error; -1 for anything else. */
int config_log_level(const char *v);

/* scheme://host[:port] (http or https), nothing after: 1 or 0. */
int config_valid_origin(const char *url);

/* smtp:// or smtps://[user[:password]@]host[:port][/ehlo-domain]: 1 or 0. */
int config_valid_smtp_url(const char *url);

/* Whether this is production (an unset RINGFENCE_ENV is not). */
int config_is_production(const struct config *cfg);

#endif

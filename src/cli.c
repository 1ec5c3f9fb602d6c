/* cli: the integer-argument parser, the start of an administration
 * command and the stop signals of every command. */
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "rds.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_open_db(const char *prog, struct config *cfg, unsigned need, struct db **db)
{
	char err[512];

	*db = NULL;
	if (config_load(cfg, need, err, sizeof(err)) < 0 || clock_init(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return -1;
	}
	*db = db_open(cfg->database_url);
	if (db_connect(*db) < 0) {
		fprintf(stderr, "%s: cannot connect to the database: %s\n", prog, db_last_error(*db));
		return -1;
	}
	return 0;
}

int cli_check_redis(const char *prog, const struct config *cfg)
{
	struct rds *r;
	char err[512];
	int rc = 0;

	if (cfg->redis_url == NULL)
		return 0;
	r = rds_open(cfg->redis_url);
	if (r == NULL) {
		fprintf(stderr, "%s: RINGFENCE_REDIS_URL is malformed\n", prog);
		return -1;
	}
	if (rds_start_check(r, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		rc = -1;
	}
	rds_close(r);
	return rc;
}

static volatile sig_atomic_t cli_stop;

int cli_int_arg(const char *prog, const char *name, const char *v, long lo, long hi, long *out)
{
	char *end;
	long n;

	if (v == NULL) {
		fprintf(stderr, "%s: %s needs a value, a whole number from %ld to %ld\n", prog, name,
			lo, hi);
		return -1;
	}
	/* strtol would skip leading blanks: only a sign or a digit starts
	 * a number here. */
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || !(*v == '-' || *v == '+' || (*v >= '0' && *v <= '9')) || *end != '\0' || n < lo || n > hi) {
		fprintf(stderr, "%s: %s must be a whole number from %ld to %ld, not '%s'\n", prog,
			name, lo, hi, v);
		return -1;
	}
	*out = n;
	return 0;
}

static void cli_on_stop(int sig)
{
	(void)sig;
	cli_stop = 1;
}

void cli_catch_stop(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

int cli_stopping(void)
{
	return cli_stop != 0;
}

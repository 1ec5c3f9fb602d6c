/* cli: what every command's main shares: one parser for a whole-number
 * argument (or environment value) with bounds and a one-line error, one
 * start of an administration command (configuration, clock, database),
 * and one set-up of the stop signals (SIGTERM, SIGINT) that sets a flag
 * the command's loop reads between units of work. */
#ifndef RF_CLI_H
#define RF_CLI_H

struct config;
struct db;

/* Parses v, a whole number from lo to hi, into *out.  Returns 0, or -1
 * with one line on stderr naming prog (the command, "ringfence worker"),
 * name (the flag or variable, "--lease") and the bounds, and *out left
 * unchanged.  v NULL means the flag came without its value (the caller
 * passes `i + 1 < argc ? argv[++i] : NULL`). */
int cli_int_arg(const char *prog, const char *name, const char *v, long lo, long hi, long *out);
/* At the start of a process that uses Redis: a refused password
 * (WRONGPASS, NOAUTH) stops it with one line on stderr naming
 * RINGFENCE_REDIS_URL (never the password); -1.  Redis being down is not
 * a refusal (the process runs and recovers with it): 0. */
int cli_check_redis(const char *prog, const struct config *cfg);

/* An administration command's start: loads cfg (need: config.h's
 * CFG_NEED_* flags), sets the clock (clock_init) and connects to the
 * database.  Returns 0 with *db connected, or -1 with one line on stderr
 * naming prog ("ringfence business").  *db is NULL or open either way:
 * the caller db_closes it. */
int cli_open_db(const char *prog, struct config *cfg, unsigned need, struct db **db);

/* Makes sig (SIGTERM or SIGINT) set the stop flag instead of ending the
 * process.  No SA_RESTART: a blocking call (accept, poll, nanosleep) is
 * interrupted so the loop notices the flag at once. */
void cli_catch_stop(int sig);

/* 1 once a signal given to cli_catch_stop arrived in this process. */
int cli_stopping(void);

#endif

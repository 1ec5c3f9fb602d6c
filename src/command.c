/* command: the subcommand dispatch of a binary. */
#include "command.h"
#include "config.h"
#include "version.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void command_usage(FILE *out, const char *prog, const struct command *cmds, size_t n,
	const char *note)
{
	fprintf(out, "usage: %s COMMAND [ARGS]   (%s COMMAND --help for more)\n\n", prog, prog);
	for (size_t i = 0; i < n; i++)
		if (cmds[i].summary) /* NULL: an internal command, not listed */
			fprintf(out, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(out, "\n%sConfiguration is read from environment variables; see README.md.\n",
		note ? note : "");
}

static void warn_unknown(void *ctx, const char *var, const char *closest)
{
	const char *prog = ctx;
	if (closest)
		fprintf(stderr, "%s: warning: %s is not a ringfence variable (did you mean %s?)\n", prog,
			var, closest);
	else
		fprintf(stderr, "%s: warning: %s is not a ringfence variable (see README.md)\n", prog, var);
}

/* Before any command: every RINGFENCE_* and TWILIO_* variable that is set
 * is checked, whichever command runs and whether or not it reads it, so a
 * typo'd value stops every process, not only the one that uses it.  The
 * production refusals come with each command's own config_load. */
static int command_check_env(const char *prog, const char *cmd)
{
	struct config cfg;
	char err[512];

	if (config_load(&cfg, CFG_FORMAT_ONLY, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s %s: %s\n", prog, cmd, err);
		return -1;
	}
	log_set_level((enum log_level)cfg.log_level);
	config_unknown_vars(warn_unknown, (void *)prog);
	return 0;
}

int command_dispatch(const char *prog, const struct command *cmds, size_t n, const char *note,
	int argc, char **argv)
{
	util_alloc_hooks_install();
	if (argc < 2) {
		command_usage(stderr, prog, cmds, n, note);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
		strcmp(argv[1], "help") == 0) {
		command_usage(stdout, prog, cmds, n, note);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("%s %s\n", prog, rf_version);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(argv[1], cmds[i].name) == 0) {
			/* A command's --help answers whatever the environment. */
			if (!(argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) &&
				command_check_env(prog, argv[1]) < 0)
				return 1;
			return cmds[i].main(argc - 1, argv + 1);
		}
	fprintf(stderr, "%s: unknown command '%s' (see %s --help)\n", prog, argv[1], prog);
	return 2;
}

/* command: the subcommand dispatch of a binary. */
#include "command.h"
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

int command_dispatch(const char *prog, const struct command *cmds, size_t n, const char *note,
	int argc, char **argv)
{
	const char *level = getenv("RINGFENCE_LOG");

	util_alloc_hooks_install();
	if (level && strcmp(level, "debug") == 0)
		log_set_level(LOG_DEBUG);
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
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].main(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s' (see %s --help)\n", prog, argv[1], prog);
	return 2;
}

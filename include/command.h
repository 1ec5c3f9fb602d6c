/* command: the subcommand dispatch of a binary ("ringfence COMMAND
 * [ARGS]", "ringfence-sim COMMAND [ARGS]"): one table of commands, the
 * usage text, --help, and RINGFENCE_LOG=debug. */
#ifndef RF_COMMAND_H
#define RF_COMMAND_H

#include <stddef.h>

struct command {
	const char *name;
	int (*main)(int argc, char **argv); /* gets argv from the command's name on */
	const char *summary;                /* one line for the usage text; NULL: not listed */
};

/* Runs the command of cmds (n of them) named by argv[1] and returns its
 * exit status.  No command: the usage on stderr, 2; --help, -h or help:
 * the usage on stdout, 0; an unknown name: one line on stderr, 2.  prog
 * names the binary in messages; note (may be NULL) is printed after the
 * list of commands. */
int command_dispatch(const char *prog, const struct command *cmds, size_t n, const char *note,
	int argc, char **argv);

#endif

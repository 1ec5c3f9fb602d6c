/* ringfence-sim: the local Twilio, its own binary beside bin/ringfence.
 * The product never links anything under src/sim/ (the Makefile's wall
 * check and test/unit/test_wall.c hold it to that). */
#include "sim/twilio_sim.h"
#include "sim/simulate.h"
#include "log.h"
#include "migrate.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sim_migrate_main(int argc, char **argv)
{
	return migrate_command(argc, argv, "ringfence-sim migrate", SIM_SQL_DIR, SIM_SCHEMA);
}

struct command {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "twilio-sim", twilio_sim_main, "the local Twilio stand-in: REST API and call driver (under spawn-fcgi -n)" },
	{ "simulate", simulate_main, "play one call from the phone side against a deployment" },
	{ "migrate", sim_migrate_main, "apply the simulator's own migrations (sql/sim/, schema twilio_sim)" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: ringfence-sim COMMAND [ARGS]   (ringfence-sim COMMAND --help for more)\n\n");
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nThe local Twilio for development, tests and staging; never in production.\n"
		     "Configuration is read from environment variables; see README.md.\n");
}

int main(int argc, char **argv)
{
	const char *level = getenv("RINGFENCE_LOG");
	if (level && strcmp(level, "debug") == 0)
		log_set_level(LOG_DEBUG);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
		strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].main(argc - 1, argv + 1);
	fprintf(stderr, "ringfence-sim: unknown command '%s' (see ringfence-sim --help)\n", argv[1]);
	return 2;
}

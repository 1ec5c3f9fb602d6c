/* ringfence-sim: the local Twilio, its own binary beside bin/ringfence.
 * The product never links anything under src/sim/ (the Makefile's wall
 * check and test/nm_wall hold it to that). */
#include "sim/call_in.h"
#include "sim/twilio_sim.h"
#include "sim/simulate.h"
#include "command.h"
#include "migrate.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `ringfence-sim migrate`: the simulator's schema never enters a
 * production database, whatever runs this. */
static int sim_migrate_main(int argc, char **argv)
{
	const char *env = getenv("RINGFENCE_ENV");

	if (env && strcmp(env, "production") == 0) {
		fprintf(stderr, "ringfence-sim migrate: refusing to run with RINGFENCE_ENV=production:"
				" the simulator's schema does not belong in a production database\n");
		return 1;
	}
	return migrate_command(argc, argv, "ringfence-sim migrate", SIM_SQL_DIR, SIM_SCHEMA, NULL);
}

static const struct command commands[] = {
	{ "twilio-sim", twilio_sim_main, "the local Twilio stand-in: REST API and call driver (under spawn-fcgi -n)" },
	{ "simulate", simulate_main, "play one call from the phone side against a deployment" },
	{ "call-in", call_in_main, "a simulated person calls one of the account's numbers (inbound call)" },
	{ "migrate", sim_migrate_main, "apply the simulator's own migrations (sql/sim/, schema twilio_sim)" },
};

int main(int argc, char **argv)
{
	return command_dispatch("ringfence-sim", commands, ARRAY_LEN(commands),
		"The local Twilio for development, tests and staging; never in production.\n",
		argc, argv);
}

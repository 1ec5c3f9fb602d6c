/* twilio_sim: `ringfence-sim twilio-sim [--workers N] [--script FILE]`, the
 * local Twilio stand-in: the REST API (sim_api.h) served by a pre-forked
 * FastCGI pool (fcgi.h) whose supervised extra child is the driver that
 * plays queued calls and messages (sim_driver.h). */
#ifndef RF_TWILIO_SIM_H
#define RF_TWILIO_SIM_H

/* The simulator's own migration set: the NNN_name.sql files of
 * RINGFENCE_ROOT/SIM_SQL_DIR, recorded in SIM_SCHEMA.schema_migrations,
 * applied by twilio_sim_main at start and by `ringfence-sim migrate`;
 * bin/ringfence migrate never sees them. */
#define SIM_SQL_DIR "sql/sim"
#define SIM_SCHEMA "twilio_sim"

/* `ringfence-sim twilio-sim`: applies the simulator's migrations, loads
 * the callee script, then serves.  Its exit status. */
int twilio_sim_main(int argc, char **argv);

#endif

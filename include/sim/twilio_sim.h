/* twilio_sim: `ringfence twilio-sim [--workers N] [--script FILE]`, the
 * local Twilio stand-in: the REST API (sim_api.h) served by a pre-forked
 * FastCGI pool (fcgi.h) whose supervised extra child is the driver that
 * plays queued calls and messages (sim_driver.h). */
#ifndef RF_TWILIO_SIM_H
#define RF_TWILIO_SIM_H

int twilio_sim_main(int argc, char **argv);

#endif

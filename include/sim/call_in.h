/* call_in: `ringfence-sim call-in --from E164 --to E164 --behaviour SCRIPT
 * [--url URL] [--method M] [--wait] [--timeout S]`: a simulated person
 * calls one of the account's numbers through the running simulator
 * (POST TWILIO_API_URL/sim/inbound-calls, see sim_api.h); prints the
 * call's sid and, with --wait, its transcript once it ends.  Exit status
 * 0, 1 (refused, or it ended with an error), 2 (usage, configuration). */
#ifndef RF_CALL_IN_H
#define RF_CALL_IN_H

int call_in_main(int argc, char **argv);

#endif

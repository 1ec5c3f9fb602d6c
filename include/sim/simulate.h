/* simulate: `ringfence-sim simulate`, the phone side of one call from the
 * command line, against any deployment (the staging smoke test runs it).
 *
 *   ringfence-sim simulate [--base-url URL] [--flow FLOW] [--call-token TOKEN]
 *                          [--from E164] [--to E164] [--time-scale X] [--quiet] SCRIPT
 *
 * SCRIPT is one sim_callee behaviour line.  The call's Url is
 * BASE/twilio/voice/FLOW?c=TOKEN; without --call-token a fixture call is
 * made in RINGFENCE_DATABASE_URL (never in production).  Exit status 0
 * when the call ran and every expectation held, 1 when an expectation
 * failed or the call ended with an error, 2 for a usage or configuration
 * error. */
#ifndef RF_SIMULATE_H
#define RF_SIMULATE_H

int simulate_main(int argc, char **argv);

#endif

/* sim_driver: the process that plays what the simulator's API queued.
 *
 * It runs as the supervised extra child of the `ringfence-sim twilio-sim`
 * master (fcgi.h).  Only one driver works on a database at a time (a
 * PostgreSQL advisory lock); at start it ends as failed, with a
 * transcript note, every call and message a dead driver left in flight.
 * Then it loops: it claims queued calls and messages (FOR UPDATE SKIP
 * LOCKED), forks one child per call or message (at most 64 at once) and
 * reaps them.  Like Twilio, it keeps a call queued (status queued, no
 * start_time) until its turn under the calls-per-second limit, and every
 * call and message queued for at least the queue hold; claiming a call
 * starts its start_time.  A call's child opens its own database connection, plays
 * the call with sim_call_run (the callee from twilio_sim.callees, or
 * sim_callee_default), writes every event to the transcript and the
 * outcome to the call row.  A message's child marks it sent, then
 * delivered or undelivered (the callee's sms-undelivered code) with
 * signed status callbacks, and for a callee with an sms-reply posts the
 * reply, signed, to RINGFENCE_PUBLIC_URL/twilio/sms/inbound a few scaled
 * seconds later, recording it as an inbound message and honouring the
 * opt-out keywords.  It wakes on LISTEN twilio_sim or every 200 ms.  On
 * SIGTERM it stops claiming, stops its children and marks what they were
 * playing as failed. */
#ifndef RF_SIM_DRIVER_H
#define RF_SIM_DRIVER_H

struct sim_driver_opts {
	double time_scale;   /* RINGFENCE_SIM_TIME_SCALE: 1.0 is real time */
	int cps;             /* RINGFENCE_SIM_CPS / --cps: calls dialled per second,
	                      * one every 1/cps s; 0 means no limit */
	long queue_delay_ms; /* RINGFENCE_SIM_QUEUE_DELAY_MS: a call or message stays
	                      * queued at least this long after its creation */
};

/* The driver's main loop; ctx is a struct sim_driver_opts.  Returns the
 * exit status when SIGTERM stopped it (0) or it could not work (1). */
int sim_driver_run(void *ctx);

#endif

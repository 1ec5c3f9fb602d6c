/* doctor: `ringfence doctor` checks a deployment end to end and says what
 * is wrong in plain words, one line per check (ok, WARN, FAIL and what to
 * do): the configuration, the database and its migrations, Redis
 * (eviction policy, maxmemory, persistence, memory), the Twilio
 * credentials (GET Accounts/{Sid}.json), every number's webhooks
 * (IncomingPhoneNumbers), that RINGFENCE_PUBLIC_URL reaches this
 * deployment with a valid certificate, the audio the flows play, the
 * scheduler's and the workers' heartbeats, the failsafe and the pool.
 *
 * The public URL check asks GET /.well-known/ringfence/doctor?nonce=N
 * (N: 32 lowercase hex digits, fresh each run); only a server holding
 * this deployment's TWILIO_AUTH_TOKEN answers doctor_proof(N).  The
 * route keeps nothing and reads no database: constant cost. */
#ifndef RF_DOCTOR_H
#define RF_DOCTOR_H

#include "valid.h"

struct app;
struct route_input;
struct outcome;

#define DOCTOR_PATH "/.well-known/ringfence/doctor"

/* The proof for nonce: 64 lowercase hex digits of HMAC-SHA256(nonce)
 * under HMAC-SHA256(auth_token, "ringfence doctor").  0, or -1. */
int doctor_proof(const char *auth_token, const char *nonce, char out[65]);

/* The route's query (nonce, required, 32 lowercase hex) and handler:
 * {"proof": "<hex>"}, or 400 when the query is anything else. */
extern const struct valid_field doctor_query[1];
void doctor_route_handle(struct app *app, const struct route_input *in, struct outcome *out);

/* `ringfence doctor [--json] [--timeout S]`: 0 when nothing FAILs, 1
 * otherwise, 2 for bad arguments. */
int doctor_main(int argc, char **argv);

#endif

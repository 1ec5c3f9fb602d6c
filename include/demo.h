/* demo: the demo data `make run` starts with: a business, its owner's
 * login, clients whose phone numbers the local Twilio simulator answers
 * with scripted behaviours (deploy/demo-callees), their appointments with
 * their reminders, and an API key.
 *
 * Seeded once: a run that finds the demo business adds no client,
 * appointment or reminder, so restarting the demo contacts nobody the
 * previous run reminded; it keeps the login and key the caller already
 * has (RINGFENCE_DEMO_PASSWORD, RINGFENCE_DEMO_API_KEY) while they are
 * still the demo's.  `--reset` retires the demo business and seeds a new
 * one. */
#ifndef RF_DEMO_H
#define RF_DEMO_H

/* `ringfence demo [--callees FILE] [--reset]`. */
int demo_main(int argc, char **argv);

#endif

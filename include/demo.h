/* demo: the demo data `make run` starts with: a business, its owner's
 * login, clients whose phone numbers the local Twilio simulator answers
 * with scripted behaviours (deploy/demo-callees), their appointments with
 * their reminders, and an API key (the previous demo key is revoked).
 * Idempotent: running it again reuses what exists and gives the owner a
 * new password. */
#ifndef RF_DEMO_H
#define RF_DEMO_H

/* `ringfence demo [--callees FILE]`. */
int demo_main(int argc, char **argv);

#endif

/* scheduler_replay: the outage-replay fixture (test_scheduler.c), for any
 * integration test that replays an outage: a few businesses in different
 * time zones and calling windows, a few hundred clients (some in their
 * own zone, some falling back to the business's, a few opted out), and one
 * pending reminder per appointment with due and stale times spread over
 * the hours after start_s (a few appointments cancelled while their
 * reminder stays pending, to prove the checks).  Every row is kept in
 * memory with what an independent oracle needs, so a test can say, for
 * any moment, which reminders a scheduler tick must queue.
 *
 * Uses the harness's database connection; not thread-safe. */
#ifndef RF_SCHEDULER_REPLAY_H
#define RF_SCHEDULER_REPLAY_H

#include <stddef.h>

struct replay_reminder {
	long long id;            /* reminders.id */
	long long appointment_id;
	long long business_id;
	long long client_id;
	int client;              /* index into the fixture's clients */
	const char *channel;     /* "voice", "sms" or "email" */
	char to[64];             /* the recipient's address (phone or email) */
	long long due_s, stale_s, starts_s;
	const char *tz;          /* the zone that decides the window */
	int win_start_s, win_end_s;  /* the business's window, seconds of the day */
	int eligible;            /* 0: opted-out client or cancelled appointment */
};

struct replay_fixture {
	long long start_s;
	unsigned seed;
	size_t n;                /* reminders */
	struct replay_reminder *r;   /* owned */
	size_t nbusinesses;
	long long business_ids[8];
	size_t nclients;
	char tag[9];             /* in every business name: "replay <tag> ..." */
};

/* Creates the rows: nreminders reminders (one per appointment) over
 * nclients clients, due between start_s - 30 min and start_s + hours h,
 * each stale 10 to 150 minutes after it is due.  seed makes the fixture
 * reproducible.  Returns 0, or -1 with a one-line reason in err. */
int scheduler_replay_fixture(long long start_s, int hours, int nclients, int nreminders,
	unsigned seed, struct replay_fixture *f, char *err, size_t errlen);
void scheduler_replay_free(struct replay_fixture *f);

/* Whether a tick at now_s must queue reminder i (eligible, due_at <= now
 * < stale_at, inside its window): computed from the fixture's own values
 * and the C library's time zone data, not from SQL. */
int scheduler_replay_due(const struct replay_fixture *f, size_t i, long long now_s);

/* Seconds since local midnight in tz at t (TZ switched and restored). */
int scheduler_local_seconds(const char *tz, long long t);

#endif

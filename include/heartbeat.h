/* heartbeat: a long-running process's row in process_heartbeats
 * (sql/024_ops.sql), which /metrics, `ringfence doctor` and `ringfence
 * status` read to tell which processes are alive.
 *
 * The process upserts its row (kind, host, pid) when it starts and then
 * at least every beat_every_s seconds; it deletes the row when it stops
 * cleanly.  Every time is the database's now(), never RINGFENCE_NOW.  A
 * beat that fails (PostgreSQL down) is only skipped: the row then ages,
 * which is what the readers are for. */
#ifndef RF_HEARTBEAT_H
#define RF_HEARTBEAT_H

struct db;

struct heartbeat {
	struct db *db;
	const char *kind;       /* "scheduler", "worker", "calsync", "fcgi", "office-mail" */
	int every_s;            /* the promised interval: beat_every_s */
	long long last_ms;      /* monotonic time of the last beat written, 0: none yet */
	char host[256];
	char pid[16];
};

/* Prepares hb (no database call). */
void heartbeat_init(struct heartbeat *hb, struct db *db, const char *kind, int every_s);

/* What the loop just did, for the row. */
enum heartbeat_what {
	HEARTBEAT_ALIVE,  /* only alive (nothing to say about the last round) */
	HEARTBEAT_OK,     /* a round that succeeded: last_ok_at, last_error cleared */
	HEARTBEAT_TICK,   /* the scheduler's tick that held the lock: last_tick_at and last_ok_at */
	HEARTBEAT_ERROR,  /* a round that failed: last_error (error) */
};

/* Writes the row when 0.9 x every_s seconds have passed since the last beat
 * written (or none was), or at once for HEARTBEAT_TICK and HEARTBEAT_ERROR.
 * 1 written, 0 not due, -1 the database failed. */
int heartbeat_beat(struct heartbeat *hb, enum heartbeat_what what, const char *error);

/* Deletes the row (a clean stop). */
void heartbeat_stop(struct heartbeat *hb);

/* Deletes the rows of every kind that have not beaten for a day (the
 * scheduler, once a tick at most an hour apart).  The number deleted, or -1. */
long long heartbeat_prune(struct db *db);

/* systemd's notification protocol (sd_notify(3), without libsystemd):
 * sends msg ("READY=1", "WATCHDOG=1", "STOPPING=1") as one datagram to
 * $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).  Nothing
 * when the variable is unset (not run by systemd with Type=notify).
 * 1 sent, 0 no socket, -1 failed. */
int heartbeat_notify(const char *msg);

#endif

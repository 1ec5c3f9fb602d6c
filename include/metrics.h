/* metrics: the counters every process adds to, and GET /metrics.
 *
 * Each process kind (fcgi, worker, scheduler, calsync) has one shared,
 * file-backed segment in RINGFENCE_RUN_DIR ("metrics-<kind>.seg"): a
 * header with the layout version and an array of 64-bit counters,
 * mmap(MAP_SHARED) by every process of that kind, so that the pool's
 * workers add into the same numbers and the numbers survive a worker's
 * respawn and a reload.  An add is one relaxed __atomic_fetch_add: no
 * lock, no system call, no Redis.  A segment whose header names another
 * layout (a release that counts other things) is replaced by a fresh one,
 * which Prometheus sees as a counter reset.
 *
 * Every label value is from a fixed set chosen here (the route kind from
 * the path's first segment, a status code from a short list, "other"),
 * never a path, id or text of a request.
 *
 * GET /metrics (metrics_render) reads every segment and adds the gauges
 * read at scrape time from PostgreSQL (queue, heartbeats, failsafe,
 * unknown outcomes), Redis (ready set) and files (the pool's status, the
 * audit fallback log); a source that does not answer leaves its gauges
 * out and sets ringfence_scrape_errors{source} to 1. */
#ifndef RF_METRICS_H
#define RF_METRICS_H

#include <stddef.h>

enum metrics_proc { METRICS_FCGI, METRICS_WORKER, METRICS_SCHEDULER, METRICS_CALSYNC,
	METRICS_PROC_N };

/* The route kinds of ringfence_http_requests_total. */
enum metrics_route { MR_WEBHOOK, MR_DASHBOARD, MR_API, MR_STATIC, MR_HEALTH, MR_N };

/* The outcomes of ringfence_webhook_outcomes_total. */
enum metrics_webhook {
	MW_TRANSITION,         /* handled: a transition, a reply, a status recorded */
	MW_REPLAY,             /* a callback already handled: answered the same again */
	MW_REJECTED_SIGNATURE, /* 403: missing or wrong X-Twilio-Signature */
	MW_INVALID,            /* signed but malformed (fields, method, size) */
	MW_DB_DOWN_APOLOGY,    /* PostgreSQL did not answer: the caller heard the apology */
	MW_ERROR,              /* any other failure the handler reported */
	MW_N
};

/* The channels and outcomes of ringfence_contacts_total. */
enum metrics_channel { MC_VOICE, MC_SMS, MC_EMAIL, MC_N };
/* Indexed by enum outbound_status (outbound.h). */
#define METRICS_CONTACT_STATUS_N 8

/* The claim outcomes of ringfence_claims_total. */
enum metrics_claim { MCL_CLAIMED, MCL_DROPPED, MCL_HELD, MCL_DEFERRED, MCL_SKIPPED, MCL_ERROR,
	MCL_N };

/* The limits of ringfence_limit_refusals_total. */
enum metrics_limit { ML_RECIPIENT_DAY, ML_RECIPIENT_ALL_DAY, ML_BUSINESS_HOUR, ML_RATE, ML_OTHER,
	ML_N };

/* The reconciler's verdicts (ringfence_reconciliations_total); the
 * status_* ones are its sweep of calls whose status callbacks were lost
 * (reconcile.h): final status applied, not final at Twilio yet, 20404. */
enum metrics_reconcile { MRC_EXPIRED, MRC_PLACED, MRC_NOT_PLACED, MRC_STILL_UNKNOWN,
	MRC_STATUS_SETTLED, MRC_STATUS_PENDING, MRC_STATUS_LOST, MRC_N };

/* Opens (creating or replacing as needed) this process's segment in
 * run_dir; until then, and when it fails (logged once), every add is a
 * no-op: counting never stops the service.  0, or -1. */
int metrics_open(const char *run_dir, enum metrics_proc kind);
/* Unmaps the segment (the file stays, for the next process). */
void metrics_close(void);

void metrics_http(enum metrics_route kind, int status, long long duration_us);
void metrics_webhook(const char *path, enum metrics_webhook outcome);
/* A voice webhook answered with the hold document (engine.h); a held
 * call that got the apology after the last hold. */
void metrics_webhook_hold(void);
void metrics_webhook_hold_exhausted(void);
void metrics_db_error(void);
void metrics_db_reconnect(void);
/* A retry-safe statement run again after its connection was lost (db.c). */
void metrics_db_retry(void);
/* One round trip to PostgreSQL (db.c). */
void metrics_db_round_trip(void);
void metrics_redis_error(void);
void metrics_redis_reconnect(void);
/* The master found through Sentinel differs from the one before. */
void metrics_redis_master_change(void);
/* n audit records no replica acknowledged (audit.c's WAIT). */
void metrics_audit_unreplicated(long n);
/* A STOP (or other opt-out keyword) whose database write failed. */
void metrics_optout_unrecorded(void);
/* A signed request to the voice fallback webhook (webhook.h). */
void metrics_webhook_fallback(void);
void metrics_claim(enum metrics_claim outcome);
/* channel "voice", "sms", "email" (contact_attempts.channel); status an enum
 * outbound_status (outbound.h). */
void metrics_contact(const char *channel, int status);
/* From the claim's reason ("deferred: business limit ..."). */
void metrics_limit_refusal(const char *reason);
void metrics_reconcile(enum metrics_reconcile verdict, int n);

/* A monotonic clock in microseconds, for durations. */
long long metrics_now_us(void);

/* The route kind of a request path (fixed prefixes only). */
enum metrics_route metrics_route_of(const char *path);

/* 1 when addr (REMOTE_ADDR, textual IPv4 or IPv6) may read /healthz,
 * /readyz and /metrics: loopback, or inside one of the CIDR blocks of
 * list (RINGFENCE_MONITORING_ADDRESSES, comma or space separated; NULL:
 * none). */
int metrics_addr_allowed(const char *list, const char *addr);
/* Checks a RINGFENCE_MONITORING_ADDRESSES value: 0, or -1 with a
 * one-line reason naming the bad entry. */
int metrics_addr_list_check(const char *list, char *err, size_t errlen);

struct app;
struct buf;
/* The first call flow readiness needs that is not loaded ("all" when the
 * engine is not), or NULL when they all are. */
const char *metrics_flow_missing(const struct app *app);
/* Appends the whole exposition (format 0.0.4) to out. */
void metrics_render(struct app *app, struct buf *out);

#endif

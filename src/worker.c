/* worker: `ringfence worker`; see include/worker.h. */
#include "worker.h"
#include "arena.h"
#include "audit.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "flow.h"
#include "heartbeat.h"
#include "log.h"
#include "metrics.h"
#include "office_mail.h"
#include "proc_pool.h"
#include "outbound.h"
#include "queue.h"
#include "rds.h"
#include "reconcile.h"
#include "util.h"
#include "wording.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKER_MAX_CONCURRENCY 64
#define WORKER_FLOW "reminder_call"

/* A worker's heartbeat: at most this often, and each loop is shorter. */
#define WORKER_BEAT_S 10

/* The claim: one statement calling reminder_claim (sql/006_limits.sql),
 * which re-validates with reminder_block, counts the contact limits under
 * a lock on the recipient and writes the attempt row (see worker.h).
 * $1 reminder id, $2 now, $3 worker name, $4 lease seconds,
 * $5 TWILIO_FROM_NUMBER, $6..$8 the limits. */
static const char claim_sql[] =
	"SELECT outcome, reason, attempt_id, reminder_id, business_id, appointment_id, attempt,"
	" channel, to_address, from_number, machine_detection, hourly_limit, stale_s,"
	" business_name, callback_phone, when_date, when_time, not_before_s"
	" FROM reminder_claim($1::bigint, $2::timestamptz, $3, $4::int, $5, $6::int, $7::int, $8::int)";

/* Column col of the claim's one row, copied whole into the job's arena. */
static const char *claim_str(struct arena *job, const PGresult *res, int col)
{
	return arena_strdup(job, PQgetvalue(res, 0, col));
}

/* See worker.h. */
int worker_claim(struct db *db, struct arena *job, long long reminder_id, long long now_s,
	const char *worker, int lease_s, const char *from_default, const struct worker_limits *lim,
	struct outbound_attempt *at, const char **reason)
{
	char id[24], now[32], lease[16], day[16], all[16], hour[16];
	const char *p[8] = { id, now, worker, lease, from_default && from_default[0] ? from_default : NULL,
		day, all, hour };
	const char *outcome;
	PGresult *res;
	int rc = -1;

	snprintf(id, sizeof(id), "%lld", reminder_id);
	snprintf(lease, sizeof(lease), "%d", lease_s);
	snprintf(day, sizeof(day), "%d", lim->recipient_day);
	snprintf(all, sizeof(all), "%d", lim->recipient_all_day);
	snprintf(hour, sizeof(hour), "%d", lim->business_hour);
	clock_sql(now_s, now);
	*reason = "";
	/* Deliberately db_exec_prepared, not db_exec_retry (db.h): when the
	 * connection breaks after the claim was sent (a failover), it may
	 * have committed an attempt whose answer was lost.  It is not run
	 * again: this job fails, and the attempt, if it exists, is taken
	 * back by reconcile after its lease ends and never sent twice. */
	res = db_exec_prepared(db, "worker_claim", claim_sql, 8, p);
	if (res == NULL)
		goto out;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		*reason = arena_printf(job, "unexpected answer from reminder_claim for reminder %lld",
			reminder_id);
		goto out;
	}
	outcome = PQgetvalue(res, 0, 0);
	if (strcmp(outcome, "dropped") == 0) {
		/* The explanation is the eligibility rule's own reason
		 * (reminder_block), read in the same transaction. */
		*reason = claim_str(job, res, 1);
		PQclear(res);
		rc = WORKER_DROPPED;
		goto out;
	}
	memset(at, 0, sizeof(*at));
	at->attempt_id = atoll(PQgetvalue(res, 0, 2));
	at->reminder_id = atoll(PQgetvalue(res, 0, 3));
	at->business_id = atoll(PQgetvalue(res, 0, 4));
	at->appointment_id = atoll(PQgetvalue(res, 0, 5));
	at->attempt = atoi(PQgetvalue(res, 0, 6));
	at->channel = claim_str(job, res, 7);
	at->to = claim_str(job, res, 8);
	at->from = claim_str(job, res, 9);
	at->machine_detection = PQgetvalue(res, 0, 10)[0] == 't';
	at->hourly_limit = atoi(PQgetvalue(res, 0, 11));
	at->stale_s = atoll(PQgetvalue(res, 0, 12));
	at->business_name = claim_str(job, res, 13);
	at->callback_phone = claim_str(job, res, 14);
	at->when_date = claim_str(job, res, 15);
	at->when_time = claim_str(job, res, 16);
	if (strcmp(outcome, "claimed") == 0) {
		rc = WORKER_CLAIMED;
	} else if (strcmp(outcome, "deferred") == 0 || strcmp(outcome, "skipped") == 0) {
		*reason = claim_str(job, res, 1);
		rc = outcome[0] == 'd' ? WORKER_DEFERRED : WORKER_SKIPPED;
	} else if (strcmp(outcome, "held") == 0) {
		*reason = claim_str(job, res, 1);
		rc = WORKER_HELD;
	} else {
		*reason = arena_printf(job, "unexpected outcome '%s' from reminder_claim for reminder %lld",
			outcome, reminder_id);
	}
	PQclear(res);
out:
	return rc;
}

/* ---- the processes ---------------------------------------------------------- */

/* A dropped claim leaves the reminder pending (the scheduler offers it
 * again); its reason is kept on the row, as a deferral's is, so the
 * dashboard and the API can say why it has not gone (for instance the
 * client opted out).  The claim that sends it clears it.  A reason the
 * claim itself recorded in fuller words ("blocked: not allowed — " and
 * the rule's reason, sql/016_trial.sql) is kept.  A failure here
 * changes nothing that matters and is only logged. */
static void worker_note_drop(struct db *db, struct arena *job, long long id, const char *reason)
{
	const char *p[2] = { arena_printf(job, "%lld", id), reason };

	if (reason == NULL || reason[0] == '\0')
		return;
	if (db_cmd_prepared(db, "worker_note_drop",
		    "UPDATE reminders SET status_reason = $2, updated_at = now()"
		    " WHERE id = $1::bigint AND status = 'pending'"
		    " AND (status_reason IS NULL OR right(status_reason, length($2)) <> $2)",
		    2, p) < 0)
		log_warn("worker: reminder %lld: cannot keep why it was dropped: %s", id,
			db_last_error(db));
}

static void on_crash_timer(int sig)
{
	(void)sig;
	_exit(137);
}

struct worker_opts {
	int concurrency;
	int once;
	int reconcile_once;
	int office_mail_once;
	int lease_s;
	int reconcile_s;
};

static const char *crash_at; /* RINGFENCE_TEST_CRASH_AT outside production, else NULL */

/* Fault injection: dies at point when RINGFENCE_TEST_CRASH_AT names it. */
static void crash_point(const char *point)
{
	if (crash_at && strcmp(crash_at, "during_request") == 0 &&
		strcmp(point, "before_record") == 0) {
		/* The answer beat the timer: die before recording it all the
		 * same, as a worker killed as the answer arrived would. */
		for (;;)
			pause();
	}
	if (crash_at == NULL || strcmp(crash_at, point) != 0)
		return;
	if (strcmp(point, "during_request") == 0) {
		const char *d = getenv("RINGFENCE_TEST_CRASH_DELAY_MS");
		long ms = d ? atol(d) : 5;
		struct itimerval it;
		if (ms < 1 || ms > 60000)
			ms = 5;
		memset(&it, 0, sizeof(it));
		it.it_value.tv_sec = ms / 1000;
		it.it_value.tv_usec = (ms % 1000) * 1000;
		signal(SIGALRM, on_crash_timer);
		setitimer(ITIMER_REAL, &it, NULL);
		return;
	}
	log_warn("worker: RINGFENCE_TEST_CRASH_AT=%s: killing myself", point);
	raise(SIGKILL);
	_exit(137);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL); /* a signal cuts it short: the loop checks */
}

/* One pass of the office's email (office_mail.h); a line when it did
 * anything. */
static void run_office_mail(const struct outbound_ctx *ctx, struct heartbeat *hb)
{
	struct office_mail_stats st;
	int rc = office_mail_pass(ctx, clock_now_s(), &st);

	heartbeat_beat(hb, rc == 0 ? HEARTBEAT_OK : HEARTBEAT_ERROR, db_last_error(ctx->db));
	if (rc == 0 &&
		(st.sent || st.failed || st.unknown || st.blocked || st.held || st.skipped || st.lost))
		log_info("office mail: %d sent, %d failed, %d unknown, %d blocked, %d held,"
			 " %d skipped, %d lost", st.sent, st.failed, st.unknown, st.blocked, st.held,
			st.skipped, st.lost);
}

/* One reconcile pass, counted in the worker's metrics; what it did is
 * logged when it settled anything, or printed with print (the
 * --reconcile-once command).  0, or -1 when the database failed. */
static int run_reconcile(const struct config *cfg, struct db *db, struct audit *au,
	struct arena *job, int print)
{
	struct reconcile_stats st;
	char line[200];

	if (reconcile_run(cfg, db, au, job, clock_now_s(), &st) < 0)
		return -1;
	metrics_reconcile(MRC_EXPIRED, st.expired);
	metrics_reconcile(MRC_PLACED, st.placed);
	metrics_reconcile(MRC_NOT_PLACED, st.not_placed);
	metrics_reconcile(MRC_STILL_UNKNOWN, st.still_unknown);
	metrics_reconcile(MRC_STATUS_SETTLED, st.status_settled);
	metrics_reconcile(MRC_STATUS_PENDING, st.status_pending);
	metrics_reconcile(MRC_STATUS_LOST, st.status_lost);
	snprintf(line, sizeof(line), "reconcile: %d expired, %d placed, %d not placed,"
		" %d still unknown; calls: %d status settled, %d pending, %d lost", st.expired,
		st.placed, st.not_placed, st.still_unknown, st.status_settled, st.status_pending,
		st.status_lost);
	if (print)
		printf("%s\n", line);
	else if (st.expired || st.placed || st.not_placed || st.status_settled || st.status_lost)
		log_info("%s", line);
	return 0;
}

/* One worker process: pop, claim, send, until stopped (or, with --once,
 * until the set is empty).  Returns the exit status. */
static int worker_child(const struct config *cfg, const struct worker_opts *o, int index,
	const char *start_state)
{
	struct db *db = db_open(cfg->database_url);
	struct rds *r = rds_open(cfg->redis_url);
	struct audit *au = audit_open(r, cfg->audit_fallback);
	/* Each job's allocations (the claim's values, everything
	 * outbound_send and the reconciler build) live here until the next
	 * job: arena_reset at the top of the loop is the jobs' only free. */
	struct arena *job = arena_new(0);
	struct outbound_ctx ctx = { .cfg = cfg, .db = db, .rds = r, .audit = au, .job = job,
		.call_flow = WORKER_FLOW, .call_start_state = start_state,
		.crash_hook = crash_at ? crash_point : NULL };
	struct worker_limits lim = { cfg->limit_recipient_day, cfg->limit_recipient_all_day,
		cfg->limit_business_hour };
	char name[64], host[48] = "";
	long long last_reconcile = 0, last_office_mail = 0;
	int rc = 0, redis_down = 0;
	struct heartbeat hb, hb_mail;

	metrics_open(cfg->run_dir, METRICS_WORKER);
	heartbeat_init(&hb, db, "worker", WORKER_BEAT_S);
	heartbeat_init(&hb_mail, db, "office-mail", OFFICE_MAIL_INTERVAL_S);
	gethostname(host, sizeof(host) - 1);
	snprintf(name, sizeof(name), "%s:%d", host, (int)getpid());
	while (!cli_stopping()) {
		struct outbound_attempt at;
		const char *reason = "";
		long long id, now_ms = util_now_ms();
		int got, claimed;

		arena_reset(job);
		db_end_unit(db); /* what the last job left open, if anything */
		if (!o->once) {
			/* systemd's watchdog (NotifyAccess=all: any process of the pool). */
			heartbeat_notify("WATCHDOG=1");
			heartbeat_beat(&hb, redis_down ? HEARTBEAT_ERROR : HEARTBEAT_ALIVE,
				redis_down ? "Redis does not answer: nothing is taken" : NULL);
		}
		if (index == 0 && !o->once && now_ms - last_reconcile >= o->reconcile_s * 1000LL) {
			run_reconcile(cfg, db, au, job, 0);
			arena_reset(job);
			last_reconcile = now_ms;
		}
		/* The office's email: the first process, every few seconds. */
		if (index == 0 && !o->once &&
			now_ms - last_office_mail >= OFFICE_MAIL_INTERVAL_S * 1000LL) {
			run_office_mail(&ctx, &hb_mail);
			arena_reset(job);
			last_office_mail = now_ms;
		}
		got = queue_pop(r, &id);
		if (got < 0) {
			if (!redis_down)
				log_error("worker: cannot take from the ready set (Redis %s: %s);"
					  " nothing is sent until it answers", rds_endpoint(r),
					rds_last_error(r));
			redis_down = 1;
			if (o->once) {
				rc = 1;
				break;
			}
			sleep_ms(1000);
			continue;
		}
		if (redis_down)
			log_info("worker: Redis answers again");
		redis_down = 0;
		if (got == 0) {
			if (o->once)
				break;
			sleep_ms(500);
			continue;
		}
		crash_point("after_pop");
		claimed = worker_claim(db, job, id, clock_now_s(), name, o->lease_s, cfg->from_number,
			&lim, &at, &reason);
		metrics_claim(claimed < 0 ? MCL_ERROR : claimed == WORKER_DROPPED ? MCL_DROPPED
			: claimed == WORKER_HELD ? MCL_HELD : claimed == WORKER_DEFERRED ? MCL_DEFERRED
			: claimed == WORKER_SKIPPED ? MCL_SKIPPED : MCL_CLAIMED);
		if (claimed < 0) {
			if (!o->once)
				heartbeat_beat(&hb, HEARTBEAT_ERROR, db_last_error(db));
			if (reason[0])
				log_error("worker: %s", reason);
			log_error("worker: cannot claim reminder %lld (database: %s); dropped, the"
				  " scheduler offers it again", id, db_last_error(db));
			if (o->once)
				rc = 1;
			else
				sleep_ms(1000);
			continue;
		}
		if (claimed == WORKER_DROPPED) {
			log_info("worker: reminder %lld dropped: %s", id, reason);
			worker_note_drop(db, job, id, reason);
			continue;
		}
		if (claimed == WORKER_HELD) {
			char bid[24];
			snprintf(bid, sizeof(bid), "%lld", at.business_id);
			log_warn("worker: reminder %lld of business %lld not sent: %s", id,
				at.business_id, reason);
			audit_record(au, "failsafe", NULL, bid, json_pack("{s:s, s:I, s:s}", "action",
				"business_held", "reminder_id", (json_int_t)id, "reason", reason));
			continue;
		}
		if (claimed == WORKER_DEFERRED || claimed == WORKER_SKIPPED) {
			metrics_limit_refusal(reason);
			outbound_over_limit(&ctx, &at, claimed == WORKER_SKIPPED, reason);
			continue;
		}
		crash_point("after_claim");
		metrics_contact(at.channel, (int)outbound_send(&ctx, &at, clock_now_s()));
	}
	heartbeat_stop(&hb_mail);
	heartbeat_stop(&hb);
	arena_free(job);
	audit_close(au);
	rds_close(r);
	db_close(db);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ringfence worker [--concurrency N] [--once] [--reconcile-once]\n"
		"                        [--office-mail-once]\n"
		"                        [--lease SECONDS] [--reconcile-interval SECONDS]\n\n"
		"Takes reminder ids from the Redis ready set, claims each in PostgreSQL with one\n"
		"conditional statement, then places the call, sends the text or the email\n"
		"through the single send function (allow-list, rate limits, failsafe, pacer).\n"
		"  --concurrency N        worker processes (1..%d, default 1)\n"
		"  --once                 drain the ready set, then exit\n"
		"  --reconcile-once       settle unknown outcomes once (never sends), then exit\n"
		"  --office-mail-once     send the office's notification emails once, then exit\n"
		"                         (the first worker process does it every %d s)\n"
		"  --lease S              seconds a claimed attempt may stay 'dialing' (1..3600,\n"
		"                         default %d, or RINGFENCE_WORKER_LEASE); after it the\n"
		"                         reconciler calls it unknown\n"
		"  --reconcile-interval S seconds between reconciler passes (default %d, or\n"
		"                         RINGFENCE_WORKER_RECONCILE_INTERVAL)\n"
		"SIGTERM: each process finishes the attempt in hand, then exits.\n"
		"Needs RINGFENCE_DATABASE_URL, RINGFENCE_REDIS_URL, RINGFENCE_PUBLIC_URL,\n"
		"TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN (TWILIO_API_URL, TWILIO_FROM_NUMBER,\n"
		"RINGFENCE_SMTP_URL, RINGFENCE_ALLOWED_CONTACTS as configured).\n",
		WORKER_MAX_CONCURRENCY, OFFICE_MAIL_INTERVAL_S, WORKER_LEASE_S, WORKER_RECONCILE_S);
}

/* The value of flag argv[*i] (moving *i past it), a whole number from lo
 * to hi, into *out; 0, or -1 with the reason on stderr. */
static int int_arg(int argc, char **argv, int *i, long lo, long hi, int *out)
{
	const char *name = argv[*i];
	long n;

	if (cli_int_arg("ringfence worker", name, *i + 1 < argc ? argv[++*i] : NULL, lo, hi, &n) < 0)
		return -1;
	*out = (int)n;
	return 0;
}

/* What a worker process gets from the master (copied at fork). */
struct worker_pool {
	const struct config *cfg;
	const struct worker_opts *o;
	const char *start;
};

static int worker_pool_run(void *ctx, int slot)
{
	const struct worker_pool *wp = ctx;
	return worker_child(wp->cfg, wp->o, slot, wp->start);
}

static const char *worker_pool_what(void *ctx, int slot)
{
	(void)ctx;
	(void)slot;
	return "process";
}

int worker_main(int argc, char **argv)
{
	struct worker_opts o = { 1, 0, 0, 0, WORKER_LEASE_S, WORKER_RECONCILE_S };
	struct config cfg;
	struct flow_diag d;
	struct flow *f = NULL;
	struct worker_pool wp;
	struct proc_pool pp;
	struct proc_pool_report rep;
	char err[512], start[72];
	int rc = 1;

	memset(&d, 0, sizeof(d));
	/* The defaults of --lease and --reconcile-interval from the
	 * environment (a unit's or a test cluster's ringfence.env); the
	 * flags win. */
	for (int k = 0; k < 2; k++) {
		const char *name = k ? "RINGFENCE_WORKER_RECONCILE_INTERVAL" : "RINGFENCE_WORKER_LEASE";
		const char *v = getenv(name);
		long n;
		if (v == NULL || *v == '\0')
			continue;
		if (cli_int_arg("ringfence worker", name, v, 1, k ? 86400 : 3600, &n) < 0)
			return 2;
		*(k ? &o.reconcile_s : &o.lease_s) = (int)n;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--once") == 0) {
			o.once = 1;
		} else if (strcmp(argv[i], "--reconcile-once") == 0) {
			o.reconcile_once = 1;
		} else if (strcmp(argv[i], "--office-mail-once") == 0) {
			o.office_mail_once = 1;
		} else if (strcmp(argv[i], "--concurrency") == 0) {
			if (int_arg(argc, argv, &i, 1, WORKER_MAX_CONCURRENCY, &o.concurrency) < 0)
				return 2;
		} else if (strcmp(argv[i], "--lease") == 0) {
			if (int_arg(argc, argv, &i, 1, 3600, &o.lease_s) < 0)
				return 2;
		} else if (strcmp(argv[i], "--reconcile-interval") == 0) {
			if (int_arg(argc, argv, &i, 1, 86400, &o.reconcile_s) < 0)
				return 2;
		} else {
			fprintf(stderr, "ringfence worker: unknown argument '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (config_load(&cfg, CFG_NEED_DB | CFG_NEED_REDIS | CFG_NEED_PUBLIC_URL | CFG_NEED_TWILIO |
			CFG_NEED_FROM, err, sizeof(err)) < 0 || clock_init(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence worker: %s\n", err);
		return 1;
	}
	if (cli_check_redis("ringfence worker", &cfg) < 0)
		return 1;
	audit_add_secret(cfg.auth_token);
	crash_at = getenv("RINGFENCE_TEST_CRASH_AT");
	if (crash_at && (crash_at[0] == '\0' || config_is_production(&cfg))) {
		if (crash_at[0])
			log_warn("worker: RINGFENCE_TEST_CRASH_AT ignored in production");
		crash_at = NULL;
	}
	if (o.reconcile_once) {
		struct db *db = db_open(cfg.database_url);
		struct rds *r = rds_open(cfg.redis_url);
		struct audit *au = audit_open(r, cfg.audit_fallback);
		struct arena *job = arena_new(0);
		metrics_open(cfg.run_dir, METRICS_WORKER);
		rc = run_reconcile(&cfg, db, au, job, 1) < 0 ? 1 : 0;
		metrics_close();
		arena_free(job);
		audit_close(au);
		rds_close(r);
		db_close(db);
		return rc;
	}
	if (o.office_mail_once) {
		struct db *db = db_open(cfg.database_url);
		struct rds *r = rds_open(cfg.redis_url);
		struct audit *au = audit_open(r, cfg.audit_fallback);
		struct arena *job = arena_new(0);
		struct outbound_ctx ctx = { .cfg = &cfg, .db = db, .rds = r, .audit = au, .job = job };
		struct office_mail_stats st;
		rc = office_mail_pass(&ctx, clock_now_s(), &st) < 0 ? 1 : 0;
		if (rc == 0)
			printf("office mail: %d sent, %d failed, %d unknown, %d blocked, %d held,"
			       " %d skipped, %d lost\n", st.sent, st.failed, st.unknown, st.blocked,
				st.held, st.skipped, st.lost);
		arena_free(job);
		audit_close(au);
		rds_close(r);
		db_close(db);
		return rc;
	}
	f = flow_load(cfg.root, WORKER_FLOW, &d);
	if (f == NULL) {
		fprintf(stderr, "ringfence worker: cannot load the %s flow under %s/state_tables\n",
			WORKER_FLOW, cfg.root);
		goto out;
	}
	snprintf(start, sizeof(start), "%s", f->states[f->start].name);
	/* The text and email templates, once for every process of the pool. */
	if (wording_init(cfg.root, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence worker: %s\n", err);
		goto out;
	}

	log_info("worker: %d process(es)%s, lease %d s, env %s", o.concurrency,
		o.once ? ", draining once" : "", o.lease_s, cfg.env_name);
	/* The master waits; SIGTERM is passed on and each process finishes
	 * the attempt in hand.  A process that died (not --once) is started
	 * again, with the pool's back-off. */
	wp.cfg = &cfg;
	wp.o = &o;
	wp.start = start;
	memset(&pp, 0, sizeof(pp));
	pp.name = "worker";
	pp.n = o.concurrency;
	pp.run = worker_pool_run;
	pp.ctx = &wp;
	pp.what = worker_pool_what;
	pp.respawn = !o.once;
	if (!o.once)
		heartbeat_notify("READY=1");
	if (proc_pool_run(&pp, &rep) < 0)
		goto out;
	rc = !rep.stopped && (rep.failed > 0 || rep.fork_failed > 0) ? 1 : 0;
out:
	if (f)
		flow_free(f);
	flow_diag_free(&d);
	return rc;
}

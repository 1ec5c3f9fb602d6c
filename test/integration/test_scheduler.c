/* Integration: the ready queue and `ringfence scheduler` against the test
 * stack's PostgreSQL and Redis.  Fixtures are SQL rows at simulated times
 * years ahead of the real clock; each scheduler run is the real binary
 * (bin/ringfence scheduler --once) with RINGFENCE_NOW in its environment.
 *
 * The ready set is shared with anything else using the stack's Redis, so
 * the tests look only at their own ids, and every test cancels its own
 * leftover pending reminders and removes their ids from the set, so that
 * no later test (or worker) finds them.  No worker may run against the
 * stack while these tests run: it would take ids out of the set. */
#include "harness.h"
#include "scheduler_replay.h"

#include "buf.h"
#include "clock.h"
#include "queue.h"
#include "rds.h"
#include "scheduler.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* 2031-11-25T15:00:00Z: 10:00 in New York, 04:00 next day in Auckland,
 * 00:00 next day in Tokyo. */
#define T_NOV 1953385200LL
#define MIN 60LL
#define HOUR 3600LL

static struct rds *ready;      /* the tests' own Redis connection */
static const char *bin;        /* RINGFENCE_BIN, default bin/ringfence */
static int redis_stopped, pg_stopped;

/* Every reminder id a test created, for the cleanup. */
static long long *created;
static size_t ncreated;

/* ---- running the scheduler ------------------------------------------ */

/* Runs bin/ringfence scheduler with args at now_s (0: the real clock),
 * with the extra environment assignments env ("" for none).  Returns the
 * exit status (-1 when killed by a signal, which fails the caller's
 * checks); the output (stdout and stderr) is appended to out. */
static int sched_run_env(const char *env, long long now_s, const char *args, struct buf *out)
{
	char now[32];
	char *cmd;
	int rc;

	if (now_s > 0)
		clock_sql(now_s, now);
	cmd = xasprintf("%s %s%s '%s' scheduler %s 2>&1", env, now_s > 0 ? "RINGFENCE_NOW=" : "",
		now_s > 0 ? now : "", bin, args);
	rc = hx_shell(cmd, out, 120);
	free(cmd);
	return rc;
}

/* One tick at now_s that must succeed. */
static void tick_or_fail(long long now_s)
{
	struct buf out = BUF_INIT;
	int rc = sched_run_env("", now_s, "--once", &out);
	if (rc != 0 || strstr(buf_str(&out), "scheduler: tick at ") == NULL ||
		strstr(buf_str(&out), " queued, ") == NULL) {
		char now[32];
		clock_sql(now_s, now);
		fail_msg("scheduler --once at %s: exit %d:\n%s", now, rc, buf_str(&out));
	}
	buf_free(&out);
}

/* ---- the ready set ------------------------------------------------------ */

static int ready_has(long long id)
{
	char s[24];
	const char *argv[] = { "SISMEMBER", QUEUE_KEY, s };
	redisReply *rep;
	int has;

	snprintf(s, sizeof(s), "%lld", id);
	rep = rds_command(ready, 3, argv, NULL);
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
		fail_msg("SISMEMBER failed: %s", rds_last_error(ready));
	has = rep->integer == 1;
	freeReplyObject(rep);
	return has;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

/* Every member of the ready set, sorted (caller frees). */
static long long *ready_members(size_t *n)
{
	const char *argv[] = { "SMEMBERS", QUEUE_KEY };
	redisReply *rep = rds_command(ready, 2, argv, NULL);
	long long *v;

	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		fail_msg("SMEMBERS failed: %s", rds_last_error(ready));
	v = xmalloc((rep->elements + 1) * sizeof(*v));
	for (size_t i = 0; i < rep->elements; i++)
		v[i] = atoll(rep->element[i]->str);
	*n = rep->elements;
	freeReplyObject(rep);
	qsort(v, *n, sizeof(*v), cmp_ll);
	return v;
}

static void ready_clear(void)
{
	const char *argv[] = { "DEL", QUEUE_KEY };
	redisReply *rep = rds_command(ready, 2, argv, NULL);
	if (rep == NULL)
		fail_msg("DEL failed: %s", rds_last_error(ready));
	freeReplyObject(rep);
}

/* ---- fixtures --------------------------------------------------------- */

static void insert_or_fail(char out[24], const char *sql, int n, const char *const *p)
{
	char *v = hx_db_value_or_fail(sql, n, p);
	if (v == NULL)
		fail_msg("no id returned by: %s", sql);
	snprintf(out, 24, "%s", v);
	free(v);
}

static void business_or_fail(char out[24], const char *tz, const char *status, const char *wstart,
	const char *wend)
{
	char name[64], phone[13], tag[9];
	hx_random_hex(tag, 4);
	hx_random_phone(phone);
	snprintf(name, sizeof(name), "scheduler test %s", tag);
	const char *p[6] = { name, tz, phone, status, wstart, wend };
	insert_or_fail(out, "INSERT INTO businesses (name, time_zone, callback_phone, status, verified,"
		" window_start, window_end) VALUES ($1, $2, $3, $4, true, $5::time, $6::time) RETURNING id", 6, p);
}

/* tz NULL: the client has no zone of its own. */
static void client_or_fail(char out[24], const char *business, const char *tz)
{
	char phone[13], email[64], tag[9];
	hx_random_phone(phone);
	hx_random_hex(tag, 4);
	snprintf(email, sizeof(email), "client-%s@example.com", tag);
	const char *p[4] = { business, phone, email, tz };
	insert_or_fail(out, "INSERT INTO clients (business_id, name, phone, email, time_zone)"
		" VALUES ($1, 'Scheduler Client', $2, $3, $4) RETURNING id", 4, p);
}

static void appointment_or_fail(char out[24], const char *business, const char *client, long long starts_s)
{
	char starts[32];
	clock_sql(starts_s, starts);
	const char *p[3] = { business, client, starts };
	insert_or_fail(out, "INSERT INTO appointments (business_id, client_id, starts_at)"
		" VALUES ($1, $2, $3::timestamptz) RETURNING id", 3, p);
}

/* A pending reminder; not_before_s 0: none.  offset must differ between
 * the reminders of one appointment and channel. */
static long long reminder_or_fail(const char *business, const char *appointment, const char *channel,
	int offset, long long due_s, long long stale_s, long long not_before_s)
{
	char due[32], stale[32], nb[32], off[16], id[24];
	clock_sql(due_s, due);
	clock_sql(stale_s, stale);
	clock_sql(not_before_s, nb);
	snprintf(off, sizeof(off), "%d", offset);
	const char *p[7] = { business, appointment, channel, off, due, stale, not_before_s ? nb : NULL };
	/* The recipient's address, as src/reminders.c fixes it at creation:
	 * without one the claim (and so the scheduler) refuses the reminder. */
	insert_or_fail(id, "INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes,"
		" due_at, stale_at, not_before, to_address) SELECT $1, $2, $3, $4::int, $5::timestamptz,"
		" $6::timestamptz, $7::timestamptz, CASE WHEN $3 = 'email' THEN c.email ELSE c.phone END"
		" FROM appointments a JOIN clients c ON c.id = a.client_id WHERE a.id = $2::bigint"
		" RETURNING id", 7, p);
	created = xrealloc(created, (ncreated + 1) * sizeof(*created));
	created[ncreated++] = atoll(id);
	return atoll(id);
}

/* The status of reminder id (caller frees). */
static char *status_of(long long id)
{
	char s[24];
	snprintf(s, sizeof(s), "%lld", id);
	const char *p[1] = { s };
	char *v = hx_db_value_or_fail("SELECT status FROM reminders WHERE id = $1::bigint", 1, p);
	if (v == NULL)
		fail_msg("reminder %lld does not exist", id);
	return v;
}

static void status_is_or_fail(long long id, const char *want)
{
	char *st = status_of(id);
	if (strcmp(st, want) != 0)
		fail_msg("reminder %lld is %s, expected %s", id, st, want);
	free(st);
}

static void queued_or_fail(long long id, int want, const char *why)
{
	int has = ready_has(id);
	if (has != want)
		fail_msg("reminder %lld (%s) %s the ready set", id, why, has ? "is in" : "is not in");
}

/* A quick fixture: a business with window 09:00-20:00, one client and one
 * appointment starting at starts_s. */
struct fx {
	char business[24], client[24], appointment[24];
};

static void fx_or_fail(struct fx *x, const char *business_tz, const char *client_tz, long long starts_s)
{
	business_or_fail(x->business, business_tz, "active", "09:00", "20:00");
	client_or_fail(x->client, x->business, client_tz);
	appointment_or_fail(x->appointment, x->business, x->client, starts_s);
}

/* Cancels every reminder a test created that is still pending and removes
 * the ids from the ready set, so nothing later sends them. */
static int cleanup(void **state)
{
	char err[256];
	(void)state;
	for (size_t i = 0; i < ncreated; i++) {
		char s[24];
		const char *argv[] = { "SREM", QUEUE_KEY, s };
		redisReply *rep;
		snprintf(s, sizeof(s), "%lld", created[i]);
		const char *p[1] = { s };
		PGresult *res = hx_db_exec("UPDATE reminders SET status = 'cancelled',"
			" status_reason = 'scheduler test cleanup' WHERE id = $1::bigint AND status = 'pending'",
			1, p, err, sizeof(err));
		if (res)
			PQclear(res);
		rep = rds_command(ready, 3, argv, NULL);
		if (rep)
			freeReplyObject(rep);
	}
	free(created);
	created = NULL;
	ncreated = 0;
	return 0;
}

/* ---- the queue module ------------------------------------------------ */

static void test_queue_idempotent(void **state)
{
	long long ids[3000], id;
	size_t n;
	long long *m;
	(void)state;

	ready_clear();
	assert_int_equal(queue_size(ready), 0);
	assert_int_equal(queue_pop(ready, &id), 0);
	/* Three batches, every id a hundred times over. */
	for (int i = 0; i < 3000; i++)
		ids[i] = 1000000000LL + i % 30;
	for (int k = 0; k < 100; k++)
		assert_int_equal(queue_push(ready, ids, 3000), 0);
	assert_int_equal(queue_size(ready), 30);
	m = ready_members(&n);
	assert_int_equal(n, 30);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(m[i], 1000000000LL + (long long)i);
	free(m);
	/* Popping empties it, each id exactly once. */
	int seen[30] = { 0 };
	for (int i = 0; i < 30; i++) {
		assert_int_equal(queue_pop(ready, &id), 1);
		assert_true(id >= 1000000000LL && id < 1000000030LL);
		assert_int_equal(seen[id - 1000000000LL]++, 0);
	}
	assert_int_equal(queue_pop(ready, &id), 0);
	assert_int_equal(queue_size(ready), 0);
	assert_int_equal(queue_push(ready, NULL, 0), 0);

	/* Not an id: refused on the way in, dropped on the way out. */
	id = 0;
	assert_int_equal(queue_push(ready, &id, 1), -1);
	id = -5;
	assert_int_equal(queue_push(ready, &id, 1), -1);
	assert_int_equal(queue_size(ready), 0);
	{
		const char *argv[] = { "SADD", QUEUE_KEY, "12abc" };
		redisReply *rep = rds_command(ready, 3, argv, NULL);
		assert_non_null(rep);
		freeReplyObject(rep);
	}
	assert_int_equal(queue_pop(ready, &id), -1);
	assert_int_equal(queue_size(ready), 0);
}

/* ---- due, not due, stale, not_before --------------------------------- */

static void test_due_and_not_due(void **state)
{
	struct fx x;
	long long t = T_NOV;
	(void)state;

	fx_or_fail(&x, "UTC", NULL, t + 6 * HOUR);
	long long due = reminder_or_fail(x.business, x.appointment, "voice", 360, t - 10 * MIN, t + HOUR, 0);
	long long due_now = reminder_or_fail(x.business, x.appointment, "voice", 361, t, t + HOUR, 0);
	long long later = reminder_or_fail(x.business, x.appointment, "sms", 120, t + 10 * MIN, t + HOUR, 0);
	long long deferred = reminder_or_fail(x.business, x.appointment, "email", 300, t - 5 * MIN, t + HOUR,
		t + 20 * MIN);

	tick_or_fail(t);
	queued_or_fail(due, 1, "due 10 minutes ago");
	queued_or_fail(due_now, 1, "due this second");
	queued_or_fail(later, 0, "due in 10 minutes");
	queued_or_fail(deferred, 0, "not_before in 20 minutes");
	status_is_or_fail(later, "pending");
	status_is_or_fail(deferred, "pending");
	status_is_or_fail(due, "pending"); /* queueing changes nothing in PostgreSQL */

	/* Re-running the same tick is harmless. */
	tick_or_fail(t);
	tick_or_fail(t);
	queued_or_fail(due, 1, "due, ticked three times");

	tick_or_fail(t + 10 * MIN);
	queued_or_fail(later, 1, "due this second");
	queued_or_fail(deferred, 0, "not_before in 10 minutes");
	tick_or_fail(t + 20 * MIN);
	queued_or_fail(deferred, 1, "not_before reached");
}

static void test_stale(void **state)
{
	struct fx x;
	long long t = T_NOV + 1 * 86400;
	struct buf out = BUF_INIT;
	(void)state;

	fx_or_fail(&x, "UTC", NULL, t + 6 * HOUR);
	long long old = reminder_or_fail(x.business, x.appointment, "voice", 400, t - 3 * HOUR, t - HOUR, 0);
	long long edge = reminder_or_fail(x.business, x.appointment, "voice", 401, t - HOUR, t, 0);
	long long last = reminder_or_fail(x.business, x.appointment, "voice", 402, t - HOUR, t + 1, 0);
	/* Would be due at t but its window already closed: never queued. */
	long long never = reminder_or_fail(x.business, x.appointment, "sms", 403, t - 20 * MIN, t - 5 * MIN, 0);

	assert_int_equal(sched_run_env("", t, "--once", &out), 0);
	queued_or_fail(old, 0, "stale for an hour");
	queued_or_fail(edge, 0, "stale this second");
	queued_or_fail(never, 0, "stale 5 minutes ago");
	queued_or_fail(last, 1, "one second left");
	status_is_or_fail(old, "skipped_stale");
	status_is_or_fail(edge, "skipped_stale");
	status_is_or_fail(never, "skipped_stale");
	status_is_or_fail(last, "pending");
	{
		char s[24];
		snprintf(s, sizeof(s), "%lld", old);
		const char *p[1] = { s };
		char *why = hx_db_value_or_fail("SELECT status_reason FROM reminders WHERE id = $1::bigint", 1, p);
		assert_non_null(why);
		if (strstr(why, "stale") == NULL || strstr(why, "latest useful time") == NULL)
			fail_msg("status_reason does not say why: '%s'", why);
		free(why);
	}
	/* The tick's line counts what it did. */
	if (strstr(buf_str(&out), "marked skipped_stale") == NULL)
		fail_msg("no count of stale reminders in: %s", buf_str(&out));

	/* One second later the last one is stale too and leaves pending; a
	 * stale id already in the set stays there for the worker's claim to
	 * refuse, but nothing new is added. */
	tick_or_fail(t + 1);
	status_is_or_fail(last, "skipped_stale");
	buf_free(&out);
}

/* ---- calling windows ---------------------------------------------------- */

static void test_window_client_zone(void **state)
{
	struct fx ny, akl, tyo_fallback, tyo_client_ny;
	long long t = T_NOV;    /* NY 10:00, Auckland 04:00, Tokyo 00:00 */
	(void)state;

	/* Business in New York; client without a zone: New York decides. */
	fx_or_fail(&ny, "America/New_York", NULL, t + 24 * HOUR);
	/* Business in New York; client in Auckland: Auckland decides. */
	fx_or_fail(&akl, "America/New_York", "Pacific/Auckland", t + 24 * HOUR);
	/* Business in Tokyo; client without a zone: Tokyo decides. */
	fx_or_fail(&tyo_fallback, "Asia/Tokyo", NULL, t + 24 * HOUR);
	/* Business in Tokyo; client in New York: New York decides. */
	fx_or_fail(&tyo_client_ny, "Asia/Tokyo", "America/New_York", t + 24 * HOUR);

	long long r_ny = reminder_or_fail(ny.business, ny.appointment, "voice", 1440, t, t + 12 * HOUR, 0);
	long long r_akl = reminder_or_fail(akl.business, akl.appointment, "voice", 1440, t, t + 12 * HOUR, 0);
	long long r_akl_stale = reminder_or_fail(akl.business, akl.appointment, "sms", 1440, t,
		t + 4 * HOUR, 0);
	long long r_tyo = reminder_or_fail(tyo_fallback.business, tyo_fallback.appointment, "voice", 1440, t,
		t + 12 * HOUR, 0);
	long long r_tyo_ny = reminder_or_fail(tyo_client_ny.business, tyo_client_ny.appointment, "voice",
		1440, t, t + 12 * HOUR, 0);

	tick_or_fail(t);
	queued_or_fail(r_ny, 1, "New York business, client without a zone, 10:00 there");
	queued_or_fail(r_tyo_ny, 1, "Tokyo business, New York client, 10:00 for the client");
	queued_or_fail(r_akl, 0, "Auckland client at 04:00");
	queued_or_fail(r_akl_stale, 0, "Auckland client at 04:00");
	queued_or_fail(r_tyo, 0, "Tokyo business, client without a zone, 00:00 there");

	/* 19:59:59Z: Auckland 08:59:59, Tokyo 04:59:59: both still wait; the
	 * reminder whose stale time came first is skipped, never sent late. */
	tick_or_fail(t + 5 * HOUR - 1);
	queued_or_fail(r_akl, 0, "Auckland client at 08:59:59");
	queued_or_fail(r_tyo, 0, "Tokyo at 04:59:59");
	status_is_or_fail(r_akl, "pending");
	status_is_or_fail(r_akl_stale, "skipped_stale");

	/* 20:00Z: Auckland opens at 09:00. */
	tick_or_fail(t + 5 * HOUR);
	queued_or_fail(r_akl, 1, "Auckland client at 09:00");
	queued_or_fail(r_akl_stale, 0, "went stale while the window was closed");
	queued_or_fail(r_tyo, 0, "Tokyo at 05:00");

	/* 00:00Z: Tokyo opens at 09:00. */
	tick_or_fail(t + 9 * HOUR);
	queued_or_fail(r_tyo, 1, "Tokyo at 09:00");
}

/* The window follows the wall clock across a daylight-saving change:
 * 16:30Z is 08:30 in Los Angeles the day before the change (PST) and
 * 09:30 on the day of it (PDT). */
static void test_window_dst(void **state)
{
	struct fx la;
	long long before = 1930694400LL + 16 * HOUR + 30 * MIN; /* 2031-03-08T16:30Z */
	long long after = before + 86400;                       /* 2031-03-09T16:30Z */
	long long end_day = 1930694400LL + 86400 + 86400 + 2 * HOUR + 59 * MIN; /* 2031-03-10T02:59Z */
	char s[32];
	(void)state;

	clock_sql(1930694400LL, s);
	assert_string_equal(s, "2031-03-08T00:00:00Z");
	fx_or_fail(&la, "America/Los_Angeles", NULL, after + 24 * HOUR);
	long long r1 = reminder_or_fail(la.business, la.appointment, "voice", 2000, before, before + 20 * MIN, 0);
	long long r2 = reminder_or_fail(la.business, la.appointment, "voice", 2001, after, after + 20 * MIN, 0);
	/* 19:59 PDT on the 9th is 02:59Z on the 10th: still open; 20:00 is not. */
	long long r3 = reminder_or_fail(la.business, la.appointment, "sms", 2002, end_day, end_day + 2 * MIN, 0);
	long long r4 = reminder_or_fail(la.business, la.appointment, "sms", 2003, end_day + MIN,
		end_day + 10 * MIN, 0);

	tick_or_fail(before);
	queued_or_fail(r1, 0, "08:30 PST");
	tick_or_fail(after);
	queued_or_fail(r2, 1, "09:30 PDT");
	tick_or_fail(end_day);
	queued_or_fail(r3, 1, "19:59 PDT");
	tick_or_fail(end_day + MIN);
	queued_or_fail(r4, 0, "20:00 PDT, window closed");
}

/* ---- not sendable: appointment, business, recipient -------------------- */

static void test_not_eligible(void **state)
{
	long long t = T_NOV + 2 * 86400;
	char err[256];
	struct fx ok, cancelled, optout, suspended, invalid, past, completed, trial;
	(void)state;

	fx_or_fail(&ok, "UTC", NULL, t + 6 * HOUR);
	fx_or_fail(&cancelled, "UTC", NULL, t + 6 * HOUR);
	fx_or_fail(&optout, "UTC", NULL, t + 6 * HOUR);
	fx_or_fail(&suspended, "UTC", NULL, t + 6 * HOUR);
	fx_or_fail(&invalid, "UTC", NULL, t + 6 * HOUR);
	fx_or_fail(&past, "UTC", NULL, t - MIN);
	fx_or_fail(&completed, "UTC", NULL, t + 6 * HOUR);
	business_or_fail(trial.business, "UTC", "trial", "09:00", "20:00");
	client_or_fail(trial.client, trial.business, NULL);
	appointment_or_fail(trial.appointment, trial.business, trial.client, t + 6 * HOUR);

	long long r_ok = reminder_or_fail(ok.business, ok.appointment, "voice", 300, t - MIN, t + HOUR, 0);
	long long r_trial = reminder_or_fail(trial.business, trial.appointment, "voice", 300, t - MIN, t + HOUR, 0);
	long long r_cancelled = reminder_or_fail(cancelled.business, cancelled.appointment, "voice", 300,
		t - MIN, t + HOUR, 0);
	long long r_optout = reminder_or_fail(optout.business, optout.appointment, "email", 300, t - MIN,
		t + HOUR, 0);
	long long r_suspended = reminder_or_fail(suspended.business, suspended.appointment, "voice", 300,
		t - MIN, t + HOUR, 0);
	long long r_invalid_voice = reminder_or_fail(invalid.business, invalid.appointment, "voice", 300,
		t - MIN, t + HOUR, 0);
	long long r_invalid_sms = reminder_or_fail(invalid.business, invalid.appointment, "sms", 300,
		t - MIN, t + HOUR, 0);
	long long r_invalid_email = reminder_or_fail(invalid.business, invalid.appointment, "email", 300,
		t - MIN, t + HOUR, 0);
	/* A stale bound past the appointment (a bad row): the appointment's
	 * start still stops it. */
	long long r_past = reminder_or_fail(past.business, past.appointment, "voice", 300, t - 30 * MIN,
		t + HOUR, 0);
	long long r_completed = reminder_or_fail(completed.business, completed.appointment, "voice", 300,
		t - MIN, t + HOUR, 0);

	{
		const char *p[1] = { cancelled.appointment };
		PGresult *res = hx_db_exec("UPDATE appointments SET status = 'cancelled', cancelled_at = now()"
			" WHERE id = $1::bigint", 1, p, err, sizeof(err));
		if (res == NULL)
			fail_msg("%s", err);
		PQclear(res);
	}
	{
		const char *p[1] = { completed.appointment };
		PGresult *res = hx_db_exec("UPDATE appointments SET status = 'completed' WHERE id = $1::bigint",
			1, p, err, sizeof(err));
		if (res == NULL)
			fail_msg("%s", err);
		PQclear(res);
	}
	{
		const char *p[1] = { optout.client };
		PGresult *res = hx_db_exec("UPDATE clients SET opted_out_at = now() WHERE id = $1::bigint",
			1, p, err, sizeof(err));
		if (res == NULL)
			fail_msg("%s", err);
		PQclear(res);
	}
	{
		const char *p[1] = { suspended.business };
		PGresult *res = hx_db_exec("UPDATE businesses SET status = 'suspended' WHERE id = $1::bigint",
			1, p, err, sizeof(err));
		if (res == NULL)
			fail_msg("%s", err);
		PQclear(res);
	}
	{
		const char *p[1] = { invalid.client };
		PGresult *res = hx_db_exec("UPDATE clients SET phone_invalid_at = now(),"
			" phone_invalid_reason = '21211' WHERE id = $1::bigint", 1, p, err, sizeof(err));
		if (res == NULL)
			fail_msg("%s", err);
		PQclear(res);
	}

	struct buf out = BUF_INIT;
	assert_int_equal(sched_run_env("", t, "--once", &out), 0);
	queued_or_fail(r_ok, 1, "active business, booked");
	queued_or_fail(r_trial, 1, "trial business, booked");
	queued_or_fail(r_cancelled, 0, "appointment cancelled");
	queued_or_fail(r_optout, 0, "client opted out");
	queued_or_fail(r_suspended, 0, "business suspended");
	queued_or_fail(r_invalid_voice, 0, "phone number invalid");
	queued_or_fail(r_invalid_sms, 0, "phone number invalid");
	queued_or_fail(r_invalid_email, 1, "email still valid when the phone is not");
	queued_or_fail(r_past, 0, "appointment already started");
	queued_or_fail(r_completed, 0, "appointment completed");
	status_is_or_fail(r_optout, "pending");
	if (strstr(buf_str(&out), " not eligible") == NULL)
		fail_msg("no count of ineligible reminders in: %s", buf_str(&out));
	buf_free(&out);
}

/* Runs sql with its parameters; fails the test with the error. */
static void sql_or_fail(const char *sql, int n, const char *const *p)
{
	char err[256];
	PGresult *res = hx_db_exec(sql, n, p, err, sizeof(err));
	if (res == NULL)
		fail_msg("%s\n%s", err, sql);
	PQclear(res);
}

/* The scheduler and the claim apply one rule (reminder_block): at the same
 * instant every reminder the tick queues is claimable, and every one it
 * leaves out is refused by the claim with the reason the rule gives.  The
 * claims run in a transaction that is rolled back. */
static void test_scheduler_claim_agree(void **state)
{
	enum { N = 12 };
	long long t = T_NOV + 3 * 86400; /* 15:00 UTC */
	struct fx x[N];
	static const struct {
		const char *channel, *want; /* want: NULL claimable, else the reason's start */
	} c[N] = {
		{ "voice", NULL },
		{ "email", NULL },
		{ "voice", "appointment is cancelled" },
		{ "sms", "recipient opted out" },
		{ "voice", "business suspended" },
		{ "sms", "recipient number invalid" },
		{ "voice", "unverified business: only its own number" },
		{ "voice", "deferred until " },
		{ "voice", "outside the calling window" },
		{ "email", "outside the calling window" },
		{ "voice", "no address" },
		{ "voice", "appointment is in the past" },
	};
	long long id[N];
	char ids[N][24], now[32], outcome[N][16], reason[N][128], rule[N][128];
	int claim_failed = 0;
	(void)state;

	for (int i = 0; i < N; i++) {
		if (i == 8 || i == 9)
			business_or_fail(x[i].business, "UTC", "active", "16:00", "20:00");
		else
			business_or_fail(x[i].business, "UTC", i == 6 ? "trial" : "active", "09:00", "20:00");
		client_or_fail(x[i].client, x[i].business, NULL);
		appointment_or_fail(x[i].appointment, x[i].business, x[i].client,
			i == 11 ? t - MIN : t + 6 * HOUR);
		id[i] = reminder_or_fail(x[i].business, x[i].appointment, c[i].channel, 300,
			i == 11 ? t - 30 * MIN : t - MIN, t + HOUR, i == 7 ? t + 20 * MIN : 0);
		snprintf(ids[i], sizeof(ids[i]), "%lld", id[i]);
	}
	{
		const char *p[1];
		p[0] = x[2].appointment;
		sql_or_fail("UPDATE appointments SET status = 'cancelled', cancelled_at = now()"
			" WHERE id = $1::bigint", 1, p);
		p[0] = x[3].client;
		sql_or_fail("UPDATE clients SET opted_out_at = now() WHERE id = $1::bigint", 1, p);
		p[0] = x[4].business;
		sql_or_fail("UPDATE businesses SET status = 'suspended' WHERE id = $1::bigint", 1, p);
		p[0] = x[5].client;
		sql_or_fail("UPDATE clients SET phone_invalid_at = now() WHERE id = $1::bigint", 1, p);
		p[0] = x[6].business;
		sql_or_fail("UPDATE businesses SET verified = false WHERE id = $1::bigint", 1, p);
		p[0] = ids[10];
		sql_or_fail("UPDATE reminders SET to_address = NULL WHERE id = $1::bigint", 1, p);
	}
	tick_or_fail(t);
	clock_sql(t, now);
	/* Collected first, asserted after the rollback. */
	sql_or_fail("BEGIN", 0, NULL);
	for (int i = 0; i < N; i++) {
		const char *p[2] = { ids[i], now };
		char err[256];
		PGresult *res = hx_db_exec("SELECT k.reason,"
			" (SELECT outcome || '|' || COALESCE(reason, '') FROM reminder_claim($1::bigint,"
			"  $2::timestamptz, 'scheduler test', 60, NULL, 1000, 1000, 100000))"
			" FROM reminder_block($1::bigint, $2::timestamptz) k", 2, p, err, sizeof(err));
		if (res == NULL || PQntuples(res) != 1) {
			claim_failed = 1;
			if (res)
				PQclear(res);
			break;
		}
		snprintf(rule[i], sizeof(rule[i]), "%s", PQgetvalue(res, 0, 0));
		snprintf(outcome[i], sizeof(outcome[i]), "%.*s", (int)strcspn(PQgetvalue(res, 0, 1), "|"),
			PQgetvalue(res, 0, 1));
		snprintf(reason[i], sizeof(reason[i]), "%s", strchr(PQgetvalue(res, 0, 1), '|') + 1);
		PQclear(res);
	}
	sql_or_fail("ROLLBACK", 0, NULL);
	assert_false(claim_failed);
	for (int i = 0; i < N; i++) {
		if (c[i].want == NULL) {
			queued_or_fail(id[i], 1, "eligible");
			if (strcmp(outcome[i], "claimed") != 0)
				fail_msg("case %d: queued but the claim says %s: %s", i, outcome[i], reason[i]);
			assert_string_equal(rule[i], "");
		} else {
			queued_or_fail(id[i], 0, c[i].want);
			if (strcmp(outcome[i], "dropped") != 0)
				fail_msg("case %d (%s): not queued but the claim says %s", i, c[i].want, outcome[i]);
			if (strncmp(reason[i], c[i].want, strlen(c[i].want)) != 0)
				fail_msg("case %d: the claim says '%s', expected '%s'", i, reason[i], c[i].want);
			assert_string_equal(reason[i], rule[i]);
		}
	}
}

/* ---- several schedulers -------------------------------------------------- */

static void test_lock(void **state)
{
	struct fx x;
	long long t = T_NOV + 3 * 86400;
	char err[256], now[32];
	const char *key[1] = { SCHEDULER_LOCK_KEY };
	PGresult *res;
	struct buf out = BUF_INIT;
	(void)state;

	fx_or_fail(&x, "UTC", NULL, t + 6 * HOUR);
	long long r = reminder_or_fail(x.business, x.appointment, "voice", 300, t - MIN, t + HOUR, 0);
	long long old = reminder_or_fail(x.business, x.appointment, "voice", 301, t - 3 * HOUR, t - HOUR, 0);

	/* Another scheduler holds the lock: this one skips, and says so. */
	res = hx_db_exec("SELECT pg_advisory_lock($1::bigint)", 1, key, err, sizeof(err));
	if (res == NULL)
		fail_msg("%s", err);
	PQclear(res);
	int rc = sched_run_env("", t, "--once", &out);
	res = hx_db_exec("SELECT pg_advisory_unlock($1::bigint)", 1, key, err, sizeof(err));
	if (res == NULL)
		fail_msg("%s", err);
	assert_string_equal(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	if (rc != 0 || strstr(buf_str(&out), "skipped: another scheduler holds the lock") == NULL)
		fail_msg("exit %d:\n%s", rc, buf_str(&out));
	queued_or_fail(r, 0, "tick skipped");
	status_is_or_fail(old, "pending");

	/* Four at once: every one exits 0, each either ticks or skips, and
	 * the outcome is the same as one tick. */
	clock_sql(t, now);
	char *cmd = xasprintf("for i in 1 2 3 4; do RINGFENCE_NOW=%s \"%s\" scheduler --once"
		" > /dev/null 2>&1 & pids=\"$pids $!\"; done; fail=0; for p in $pids; do wait $p || fail=1; done;"
		" exit $fail", now, bin);
	char *full = xasprintf("bash -c '%s'", cmd);
	int st = hx_shell(full, &out, 180);
	free(cmd);
	free(full);
	assert_int_equal(st, 0);
	queued_or_fail(r, 1, "due");
	status_is_or_fail(old, "skipped_stale");
	/* The lock is free again afterwards. */
	res = hx_db_exec("SELECT pg_try_advisory_lock($1::bigint)", 1, key, err, sizeof(err));
	if (res == NULL)
		fail_msg("%s", err);
	assert_string_equal(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	res = hx_db_exec("SELECT pg_advisory_unlock($1::bigint)", 1, key, err, sizeof(err));
	if (res)
		PQclear(res);
	buf_free(&out);
}

/* ---- outages ---------------------------------------------------------------- */

static int restore_services(void **state)
{
	int rc = 0;
	if (hx_stack_start_stopped("redis", &redis_stopped, 60) != 0)
		rc = -1;
	if (hx_stack_start_stopped("pg", &pg_stopped, 90) != 0)
		rc = -1;
	/* The harness's connection reconnects on its next statement. */
	for (int i = 0; i < 100 && rc == 0; i++) {
		char err[256];
		PGresult *res = hx_db_exec("SELECT 1", 0, NULL, err, sizeof(err));
		if (res) {
			PQclear(res);
			break;
		}
		hx_sleep_ms(100);
	}
	cleanup(state);
	return rc;
}

static void test_redis_down(void **state)
{
	struct fx x;
	long long t = T_NOV + 4 * 86400;
	struct buf out = BUF_INIT;
	int rc;
	(void)state;

	fx_or_fail(&x, "UTC", NULL, t + 6 * HOUR);
	long long r = reminder_or_fail(x.business, x.appointment, "voice", 300, t - MIN, t + HOUR, 0);
	long long old = reminder_or_fail(x.business, x.appointment, "voice", 301, t - 3 * HOUR, t - HOUR, 0);

	redis_stopped = 1;
	if (hx_stack("redis-stop", NULL, 60) != 0)
		fail_msg("deploy/stack redis-stop failed");
	rc = sched_run_env("", t, "--once", &out);
	if (rc != 1 || strstr(buf_str(&out), "failed, nothing queued") == NULL ||
		strstr(buf_str(&out), "ready set") == NULL)
		fail_msg("with Redis down: exit %d (want 1, no crash):\n%s", rc, buf_str(&out));
	/* PostgreSQL still works: stale reminders are still marked, the due
	 * one stays pending for the next tick. */
	status_is_or_fail(old, "skipped_stale");
	status_is_or_fail(r, "pending");

	/* The loop survives an outage tick and keeps going. */
	buf_reset(&out);
	{
		char now[32], *cmd;
		clock_sql(t, now);
		/* TERM to the scheduler alone (--foreground), as systemd's
		 * stop would reach it, not to timeout's whole process group:
		 * under the sanitizers that group signal could also reach the
		 * leak checker's tracer at exit and leave the process hung
		 * (seen once in CI: killed 30 s later). */
		cmd = xasprintf("RINGFENCE_NOW=%s timeout --foreground --preserve-status -k 30 -s TERM"
			" 2.5 '%s' scheduler --interval 1 2>&1", now, bin);
		int st = hx_shell(cmd, &out, 120);
		free(cmd);
		if (st != 0)
			fail_msg("loop under a Redis outage did not stop cleanly (status %d):\n%s", st,
				buf_str(&out));
		const char *first = strstr(buf_str(&out), "failed, nothing queued");
		if (first == NULL || strstr(first + 1, "failed, nothing queued") == NULL ||
			strstr(buf_str(&out), "scheduler: stopped") == NULL)
			fail_msg("expected two failed ticks and a clean stop:\n%s", buf_str(&out));
	}

	if (hx_stack("redis-start", NULL, 60) != 0)
		fail_msg("deploy/stack redis-start failed");
	redis_stopped = 0;
	queued_or_fail(r, 0, "nothing queued while Redis was down");
	tick_or_fail(t);
	queued_or_fail(r, 1, "queued once Redis is back");
	buf_free(&out);
}

static void test_postgres_down(void **state)
{
	struct buf out = BUF_INIT;
	size_t before, after;
	long long *m;
	int rc;
	(void)state;

	m = ready_members(&before);
	free(m);
	pg_stopped = 1;
	if (hx_stack("pg-stop", NULL, 90) != 0)
		fail_msg("deploy/stack pg-stop failed");
	rc = sched_run_env("", T_NOV, "--once", &out);
	if (rc != 1 || strstr(buf_str(&out), "failed, nothing queued") == NULL ||
		strstr(buf_str(&out), "scheduler lock") == NULL)
		fail_msg("with PostgreSQL down: exit %d (want 1, no crash):\n%s", rc, buf_str(&out));
	m = ready_members(&after);
	free(m);
	assert_int_equal(before, after);
	buf_free(&out);
	if (hx_stack("pg-start", NULL, 90) != 0)
		fail_msg("deploy/stack pg-start failed");
	pg_stopped = 0;
}

/* ---- the command line and the loop ---------------------------------------- */

static void test_command_line(void **state)
{
	struct buf out = BUF_INIT;
	(void)state;

	assert_int_equal(sched_run_env("", 0, "--help", &out), 0);
	assert_non_null(strstr(buf_str(&out), "usage: ringfence scheduler"));
	buf_reset(&out);
	assert_int_equal(sched_run_env("", 0, "--interval 0", &out), 2);
	assert_non_null(strstr(buf_str(&out), "--interval must be"));
	buf_reset(&out);
	assert_int_equal(sched_run_env("", 0, "--interval 5x", &out), 2);
	buf_reset(&out);
	assert_int_equal(sched_run_env("", 0, "--interval", &out), 2);
	buf_reset(&out);
	assert_int_equal(sched_run_env("", 0, "--fast", &out), 2);
	assert_non_null(strstr(buf_str(&out), "unknown argument '--fast'"));
	buf_reset(&out);
	assert_int_equal(sched_run_env("RINGFENCE_NOW='2031-11-25 10:00'", 0, "--once", &out), 1);
	assert_non_null(strstr(buf_str(&out), "RINGFENCE_NOW is not an RFC 3339 time"));
	buf_reset(&out);
	assert_int_equal(sched_run_env("RINGFENCE_ENV=production RINGFENCE_PUBLIC_URL=https://x.example"
		" RINGFENCE_NOW=2031-11-25T10:00:00Z", 0, "--once", &out), 1);
	assert_non_null(strstr(buf_str(&out), "RINGFENCE_NOW"));
	buf_reset(&out);
	assert_int_equal(sched_run_env("RINGFENCE_REDIS_URL=", 0, "--once", &out), 1);
	assert_non_null(strstr(buf_str(&out), "RINGFENCE_REDIS_URL"));
	buf_free(&out);
}

/* The loop ticks every --interval and stops at SIGTERM or SIGINT between
 * ticks, promptly, with status 0. */
static void test_loop_signals(void **state)
{
	static const int sigs[] = { SIGTERM, SIGINT };
	(void)state;

	for (size_t k = 0; k < 2; k++) {
		int fds[2], st;
		pid_t pid;
		struct buf out = BUF_INIT;
		char b[512];
		ssize_t n;
		long long t0;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			dup2(fds[1], 1);
			dup2(fds[1], 2);
			close(fds[0]);
			close(fds[1]);
			setenv("RINGFENCE_NOW", "2031-11-25T15:00:00Z", 1);
			execl(bin, "ringfence", "scheduler", "--interval", "1", (char *)NULL);
			fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
			_exit(127);
		}
		close(fds[1]);
		hx_sleep_ms(1500);
		t0 = hx_now_ms();
		assert_int_equal(kill(pid, sigs[k]), 0);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		while ((n = read(fds[0], b, sizeof(b) - 1)) > 0) {
			b[n] = '\0';
			buf_puts(&out, b);
		}
		close(fds[0]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("signal %d: status %d:\n%s", sigs[k], st, buf_str(&out));
		assert_true(hx_now_ms() - t0 < 1500);
		const char *first = strstr(buf_str(&out), "scheduler: tick at 2031-11-25T15:00:00Z");
		if (first == NULL || strstr(first + 1, "scheduler: tick at") == NULL ||
			strstr(buf_str(&out), "scheduler: stopped") == NULL)
			fail_msg("expected two ticks and a stop:\n%s", buf_str(&out));
		buf_free(&out);
	}
}

/* ---- the outage replay (scheduler half) ---------------------------------- */

static const char *const replay_zones[] = {
	"America/New_York", "America/Los_Angeles", "Pacific/Auckland", "Europe/London",
	"Asia/Tokyo", "America/Chicago",
};

static const struct {
	const char *tz, *status;
	int start_s, end_s;
} replay_businesses[] = {
	{ "America/New_York", "active", 9 * 3600, 20 * 3600 },
	{ "Pacific/Auckland", "active", 9 * 3600, 20 * 3600 },
	{ "Europe/London", "trial", 8 * 3600, 21 * 3600 + 1800 },
	{ "America/Los_Angeles", "active", 10 * 3600, 18 * 3600 },
};

static unsigned replay_rand(unsigned *s)
{
	/* xorshift32: reproducible from the seed, good enough for spreading */
	unsigned x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

int scheduler_local_seconds(const char *tz, long long t)
{
	static struct {
		const char *tz;
		long long t;
		int secs;
	} cache[32];
	static unsigned next;
	char *saved = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;
	time_t tt = (time_t)t;
	struct tm tm;
	int secs;

	for (size_t i = 0; i < ARRAY_LEN(cache); i++)
		if (cache[i].tz && cache[i].t == t && strcmp(cache[i].tz, tz) == 0) {
			free(saved);
			return cache[i].secs;
		}
	setenv("TZ", tz, 1);
	tzset();
	localtime_r(&tt, &tm);
	secs = tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	cache[next % ARRAY_LEN(cache)].tz = tz;
	cache[next % ARRAY_LEN(cache)].t = t;
	cache[next % ARRAY_LEN(cache)].secs = secs;
	next++;
	return secs;
}

int scheduler_replay_due(const struct replay_fixture *f, size_t i, long long now_s)
{
	const struct replay_reminder *r = &f->r[i];
	int local;

	if (!r->eligible || r->due_s > now_s || r->stale_s <= now_s || r->starts_s <= now_s)
		return 0;
	local = scheduler_local_seconds(r->tz, now_s);
	return local >= r->win_start_s && local < r->win_end_s;
}

void scheduler_replay_free(struct replay_fixture *f)
{
	free(f->r);
	memset(f, 0, sizeof(*f));
}

/* Appends s to a PostgreSQL array literal being built in b (NULL: SQL
 * NULL).  Fixture values hold no quotes or backslashes. */
static void replay_array_add(struct buf *b, const char *s)
{
	buf_puts(b, b->len == 0 ? "{" : ",");
	if (s == NULL) {
		buf_puts(b, "NULL");
	} else {
		buf_puts(b, "\"");
		buf_puts(b, s);
		buf_puts(b, "\"");
	}
}

static const char *replay_array_end(struct buf *b)
{
	buf_puts(b, b->len == 0 ? "{}" : "}");
	return buf_str(b);
}

int scheduler_replay_fixture(long long start_s, int hours, int nclients, int nreminders,
	unsigned seed, struct replay_fixture *f, char *err, size_t errlen)
{
	struct buf a[8];
	struct client_row {
		long long id, business;
		int bi;
		const char *tz;     /* NULL: the business's */
		int opted_out;
		char phone[13];
		char email[64];
	} *clients = NULL;
	long long *appt_ids = NULL;
	PGresult *res = NULL;
	unsigned s = seed ? seed : 1;
	int rc = -1;

	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < ARRAY_LEN(a); i++)
		buf_init(&a[i]);
	if (nclients < 1 || nreminders < 1 || hours < 1) {
		snprintf(err, errlen, "replay fixture: bad sizes");
		goto out;
	}
	f->start_s = start_s;
	f->seed = seed;
	hx_random_hex(f->tag, 4);

	/* Businesses. */
	f->nbusinesses = ARRAY_LEN(replay_businesses);
	for (size_t b = 0; b < f->nbusinesses; b++) {
		char name[64], phone[13], ws[16], we[16];
		hx_random_phone(phone);
		snprintf(name, sizeof(name), "replay %s business %zu", f->tag, b);
		snprintf(ws, sizeof(ws), "%02d:%02d", replay_businesses[b].start_s / 3600,
			replay_businesses[b].start_s % 3600 / 60);
		snprintf(we, sizeof(we), "%02d:%02d", replay_businesses[b].end_s / 3600,
			replay_businesses[b].end_s % 3600 / 60);
		const char *p[6] = { name, replay_businesses[b].tz, phone, replay_businesses[b].status, ws, we };
		res = hx_db_exec("INSERT INTO businesses (name, time_zone, callback_phone, status, verified,"
			" window_start, window_end) VALUES ($1, $2, $3, $4, true, $5::time, $6::time) RETURNING id",
			6, p, err, errlen);
		if (res == NULL)
			goto out;
		f->business_ids[b] = atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
		res = NULL;
	}

	/* Clients: a third without a zone of their own, about 3% opted out.
	 * The index is in the name, so that rows map back without relying
	 * on the order RETURNING gives them in. */
	clients = xcalloc((size_t)nclients, sizeof(*clients));
	f->nclients = (size_t)nclients;
	for (int i = 0; i < nclients; i++) {
		struct client_row *c = &clients[i];
		char name[64], idx[16];
		c->bi = (int)(replay_rand(&s) % f->nbusinesses);
		c->business = f->business_ids[c->bi];
		c->tz = replay_rand(&s) % 3 == 0 ? NULL : replay_zones[replay_rand(&s) % ARRAY_LEN(replay_zones)];
		c->opted_out = replay_rand(&s) % 33 == 0;
		hx_random_phone(c->phone);
		snprintf(c->email, sizeof(c->email), "replay-%s-%d@example.com", f->tag, i);
		snprintf(name, sizeof(name), "%d", i);
		snprintf(idx, sizeof(idx), "%lld", c->business);
		replay_array_add(&a[0], idx);
		replay_array_add(&a[1], name);
		replay_array_add(&a[2], c->phone);
		replay_array_add(&a[3], c->email);
		replay_array_add(&a[4], c->tz);
		replay_array_add(&a[5], c->opted_out ? "t" : "f");
	}
	{
		const char *p[6] = { replay_array_end(&a[0]), replay_array_end(&a[1]), replay_array_end(&a[2]),
			replay_array_end(&a[3]), replay_array_end(&a[4]), replay_array_end(&a[5]) };
		res = hx_db_exec("INSERT INTO clients (business_id, name, phone, email, time_zone, opted_out_at)"
			" SELECT b, 'replay ' || n, ph, em, tz, CASE WHEN o THEN now() END"
			" FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[])"
			" AS u(b, n, ph, em, tz, o) RETURNING id, substr(name, 8)::int", 6, p, err, errlen);
		if (res == NULL)
			goto out;
		if (PQntuples(res) != nclients) {
			snprintf(err, errlen, "replay fixture: %d clients inserted, not %d", PQntuples(res), nclients);
			goto out;
		}
		for (int i = 0; i < PQntuples(res); i++)
			clients[atoi(PQgetvalue(res, i, 1))].id = atoll(PQgetvalue(res, i, 0));
		PQclear(res);
		res = NULL;
	}

	/* One appointment and one reminder each; about 2% of the
	 * appointments cancelled with their reminder left pending. */
	f->n = (size_t)nreminders;
	f->r = xcalloc(f->n, sizeof(*f->r));
	for (size_t i = 0; i < ARRAY_LEN(a); i++)
		buf_reset(&a[i]);
	static const char *const channels[] = { "voice", "sms", "email" };
	for (int i = 0; i < nreminders; i++) {
		struct replay_reminder *r = &f->r[i];
		const struct client_row *c;
		char v[32], notes[16];
		int cancelled;
		r->client = (int)(replay_rand(&s) % (unsigned)nclients);
		c = &clients[r->client];
		r->client_id = c->id;
		r->business_id = c->business;
		r->channel = channels[replay_rand(&s) % 3];
		snprintf(r->to, sizeof(r->to), "%s", strcmp(r->channel, "email") == 0 ? c->email : c->phone);
		r->due_s = start_s - 30 * MIN + (long long)(replay_rand(&s) % (unsigned)((hours * 60 + 30) * 60));
		r->stale_s = r->due_s + 10 * MIN + (long long)(replay_rand(&s) % (140 * 60));
		r->starts_s = r->stale_s + (long long)(replay_rand(&s) % (120 * 60));
		r->tz = c->tz ? c->tz : replay_businesses[c->bi].tz;
		r->win_start_s = replay_businesses[c->bi].start_s;
		r->win_end_s = replay_businesses[c->bi].end_s;
		cancelled = replay_rand(&s) % 50 == 0;
		r->eligible = !c->opted_out && !cancelled;
		snprintf(v, sizeof(v), "%lld", c->business);
		replay_array_add(&a[0], v);
		snprintf(v, sizeof(v), "%lld", c->id);
		replay_array_add(&a[1], v);
		clock_sql(r->starts_s, v);
		replay_array_add(&a[2], v);
		replay_array_add(&a[3], cancelled ? "cancelled" : "booked");
		snprintf(notes, sizeof(notes), "%d", i);
		replay_array_add(&a[4], notes);
	}
	{
		const char *p[5] = { replay_array_end(&a[0]), replay_array_end(&a[1]), replay_array_end(&a[2]),
			replay_array_end(&a[3]), replay_array_end(&a[4]) };
		res = hx_db_exec("INSERT INTO appointments (business_id, client_id, starts_at, status, cancelled_at, notes)"
			" SELECT b, c, s, st, CASE WHEN st = 'cancelled' THEN now() END, n"
			" FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[])"
			" AS u(b, c, s, st, n) RETURNING id, notes::int", 5, p, err, errlen);
		if (res == NULL)
			goto out;
		if (PQntuples(res) != nreminders) {
			snprintf(err, errlen, "replay fixture: %d appointments inserted, not %d", PQntuples(res),
				nreminders);
			goto out;
		}
		appt_ids = xcalloc((size_t)nreminders, sizeof(*appt_ids));
		for (int i = 0; i < PQntuples(res); i++)
			appt_ids[atoi(PQgetvalue(res, i, 1))] = atoll(PQgetvalue(res, i, 0));
		PQclear(res);
		res = NULL;
	}
	for (size_t i = 0; i < ARRAY_LEN(a); i++)
		buf_reset(&a[i]);
	for (int i = 0; i < nreminders; i++) {
		struct replay_reminder *r = &f->r[i];
		char v[32];
		r->appointment_id = appt_ids[i];
		snprintf(v, sizeof(v), "%lld", r->business_id);
		replay_array_add(&a[0], v);
		snprintf(v, sizeof(v), "%lld", r->appointment_id);
		replay_array_add(&a[1], v);
		replay_array_add(&a[2], r->channel);
		snprintf(v, sizeof(v), "%lld", (r->starts_s - r->due_s) / 60);
		replay_array_add(&a[3], v);
		clock_sql(r->due_s, v);
		replay_array_add(&a[4], v);
		clock_sql(r->stale_s, v);
		replay_array_add(&a[5], v);
		replay_array_add(&a[6], r->to);
	}
	{
		const char *p[7] = { replay_array_end(&a[0]), replay_array_end(&a[1]), replay_array_end(&a[2]),
			replay_array_end(&a[3]), replay_array_end(&a[4]), replay_array_end(&a[5]),
			replay_array_end(&a[6]) };
		res = hx_db_exec("INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes,"
			" due_at, stale_at, to_address)"
			" SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::timestamptz[],"
			" $6::timestamptz[], $7::text[]) RETURNING id, appointment_id", 7, p, err, errlen);
		if (res == NULL)
			goto out;
		if (PQntuples(res) != nreminders) {
			snprintf(err, errlen, "replay fixture: %d reminders inserted, not %d", PQntuples(res),
				nreminders);
			goto out;
		}
		/* Appointment ids are increasing in index order only by
		 * accident; search. */
		for (int i = 0; i < PQntuples(res); i++) {
			long long id = atoll(PQgetvalue(res, i, 0)), ap = atoll(PQgetvalue(res, i, 1));
			int found = 0;
			for (int j = 0; j < nreminders && !found; j++) {
				if (appt_ids[j] == ap) {
					f->r[j].id = id;
					found = 1;
				}
			}
			if (!found) {
				snprintf(err, errlen, "replay fixture: reminder %lld for an unknown appointment", id);
				goto out;
			}
		}
	}
	rc = 0;
out:
	if (res)
		PQclear(res);
	for (size_t i = 0; i < ARRAY_LEN(a); i++)
		buf_free(&a[i]);
	free(clients);
	free(appt_ids);
	if (rc < 0)
		scheduler_replay_free(f);
	return rc;
}

static int cmp_id(const void *a, const void *b)
{
	return cmp_ll(a, b);
}

/* 2,000 reminders over 300 clients, due and stale times spread over 8
 * hours; 96 ticks 5 minutes apart.  After every tick the fixture's ids in
 * the ready set are exactly those the oracle says were due at some tick
 * so far (nothing consumes the set); at the end everything whose stale
 * time passed is skipped_stale and everything else pending. */
static void test_outage_replay(void **state)
{
	struct replay_fixture f;
	char err[512];
	/* 2031-03-04T20:00Z: New York 15:00 (closes at 01:00Z), Los Angeles
	 * 12:00 (closes at 02:00Z), London 20:00 (closes at 21:30Z),
	 * Auckland 09:00 next day (open throughout), Tokyo 05:00 (opens at
	 * 00:00Z). */
	long long start = 1930420800LL;
	unsigned seed = (unsigned)time(NULL);
	unsigned char *expect;
	long long *mine, t0;
	size_t nqueued_total = 0;
	(void)state;

	if (scheduler_replay_fixture(start, 8, 300, 2000, seed, &f, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	for (size_t i = 0; i < f.n; i++) {
		created = xrealloc(created, (ncreated + 1) * sizeof(*created));
		created[ncreated++] = f.r[i].id;
	}
	mine = xmalloc(f.n * sizeof(*mine));
	for (size_t i = 0; i < f.n; i++)
		mine[i] = f.r[i].id;
	qsort(mine, f.n, sizeof(*mine), cmp_id);
	expect = xcalloc(f.n, 1);
	ready_clear();
	t0 = hx_now_ms();

	for (int k = 0; k < 96; k++) {
		long long now = start + (long long)k * 5 * MIN;
		size_t nm, got = 0, want = 0;
		long long *m;

		tick_or_fail(now);
		for (size_t i = 0; i < f.n; i++)
			if (scheduler_replay_due(&f, i, now))
				expect[i] = 1;
		m = ready_members(&nm);
		for (size_t i = 0; i < f.n; i++) {
			int in = bsearch(&f.r[i].id, m, nm, sizeof(*m), cmp_id) != NULL;
			want += expect[i];
			got += in;
			if (in != expect[i]) {
				char when[32], due[32], stale[32];
				clock_sql(now, when);
				clock_sql(f.r[i].due_s, due);
				clock_sql(f.r[i].stale_s, stale);
				fail_msg("seed %u, tick %d at %s: reminder %lld (due %s, stale %s, %s, window %d-%d s,"
					" local %d s, eligible %d) %s the ready set", seed, k, when, f.r[i].id, due, stale,
					f.r[i].tz, f.r[i].win_start_s, f.r[i].win_end_s,
					scheduler_local_seconds(f.r[i].tz, now), f.r[i].eligible,
					in ? "is wrongly in" : "is missing from");
			}
		}
		free(m);
		assert_int_equal(got, want);
		nqueued_total = want;
	}
	/* The fixture must exercise both sides: some queued, some never. */
	assert_true(nqueued_total > 200);
	assert_true(nqueued_total < f.n - 200);

	/* Past the end: stale means skipped_stale, never pending or sent. */
	{
		long long end = start + 95 * 5 * MIN;
		PGresult *res;
		char first[24], last[24];
		snprintf(first, sizeof(first), "%lld", mine[0]);
		snprintf(last, sizeof(last), "%lld", mine[f.n - 1]);
		const char *p[2] = { first, last };
		res = hx_db_exec("SELECT id, status FROM reminders WHERE id BETWEEN $1::bigint AND $2::bigint",
			2, p, err, sizeof(err));
		if (res == NULL)
			fail_msg("%s", err);
		size_t stale = 0, checked = 0;
		for (int i = 0; i < PQntuples(res); i++) {
			long long id = atoll(PQgetvalue(res, i, 0));
			const char *st = PQgetvalue(res, i, 1);
			for (size_t j = 0; j < f.n; j++) {
				if (f.r[j].id != id)
					continue;
				checked++;
				const char *want = f.r[j].stale_s <= end ? "skipped_stale" : "pending";
				if (strcmp(st, want) != 0)
					fail_msg("seed %u: reminder %lld is %s, expected %s", seed, id, st, want);
				stale += f.r[j].stale_s <= end;
			}
		}
		PQclear(res);
		assert_int_equal(checked, f.n);
		assert_true(stale > f.n / 2);
	}
	fprintf(stderr, "# scheduler replay: 96 ticks in %lld ms, %zu of %zu reminders queued, seed %u\n",
		hx_now_ms() - t0, nqueued_total, f.n, seed);
	free(expect);
	free(mine);
	scheduler_replay_free(&f);
}

/* ---- the group -------------------------------------------------------- */

static int group_setup(void **state)
{
	if (hx_group_setup(state) < 0)
		return -1;
	ready = rds_open(hx_env.redis_url);
	if (ready == NULL) {
		fprintf(stderr, "# scheduler: RINGFENCE_REDIS_URL is malformed\n");
		return -1;
	}
	if ((bin = hx_ringfence_bin("scheduler")) == NULL)
		return -1;
	if (strchr(bin, '\'') || strchr(bin, '"')) {
		fprintf(stderr, "# scheduler: RINGFENCE_BIN %s has a quote in it\n", bin);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	int rc = restore_services(state);
	rds_close(ready);
	ready = NULL;
	hx_fini();
	return rc;
}

int scheduler_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_queue_idempotent, cleanup),
		cmocka_unit_test_teardown(test_command_line, cleanup),
		cmocka_unit_test_teardown(test_due_and_not_due, cleanup),
		cmocka_unit_test_teardown(test_stale, cleanup),
		cmocka_unit_test_teardown(test_window_client_zone, cleanup),
		cmocka_unit_test_teardown(test_window_dst, cleanup),
		cmocka_unit_test_teardown(test_not_eligible, cleanup),
		cmocka_unit_test_teardown(test_scheduler_claim_agree, cleanup),
		cmocka_unit_test_teardown(test_lock, cleanup),
		cmocka_unit_test_teardown(test_loop_signals, cleanup),
		cmocka_unit_test_teardown(test_redis_down, restore_services),
		cmocka_unit_test_teardown(test_postgres_down, restore_services),
		cmocka_unit_test_teardown(test_outage_replay, cleanup),
	};
	return cmocka_run_group_tests_name("integration: scheduler", tests, group_setup, group_teardown);
}

/* Integration: the scheduler's set-based verdict (reminder_block_due,
 * sql/031_scheduler_set.sql, read by the tick's scheduler_due_sql) against
 * the claim's rule, reminder_block, row by row.  Varied data (every rule
 * reminder_block checks, calling windows in several zones, test and reply
 * reminders) is built inside one transaction on the harness's connection
 * and rolled back at the end, so no worker or other test ever sees it; at
 * several clocks the two verdicts must agree on every due reminder, and
 * the data must have given every verdict reminder_block can give a due
 * reminder (so that a rule dropped from the set version shows). */
#include "harness.h"

#include "clock.h"
#include "scheduler.h"
#include "util.h"

/* 2033-06-14T12:00:00Z: the fixture's base time, far from the other
 * groups' clocks. */
#define T_BASE 2002363200LL
#define HOUR 3600LL

/* The fixture: 24 businesses (six zones, trial, suspended, unverified,
 * four calling windows, paused, held), 120 clients (own zones, opted out,
 * proposed and confirmed or not, do not call, number invalid), 600
 * appointments (booked, confirmed, cancelled, completed; from 6 hours
 * before $1 to 65 after) and 2,400 reminders (voice, sms, email; plan,
 * test, reply, resend; due from 2 hours before $1 to 18 after; some
 * deferred, without an address, to the business's own number, already
 * attempted, already refused, cancelled).  Test reminders are written
 * cancelled and made pending afterwards: the insert guard would refuse
 * one outside business hours, which is the verdict to test. */
static const char *const fixture_sql[] = {
	"CREATE TEMP TABLE sx_b ON COMMIT DROP AS "
	"SELECT b, nextval('businesses_id_seq') AS id FROM generate_series(1, 24) b",
	"INSERT INTO businesses (id, name, time_zone, callback_phone, status, verified, window_start, "
	"                        window_end, paused_at, paused_by, paused_reason) "
	"SELECT id, 'Set verdict ' || b, "
	"       (ARRAY['America/New_York', 'Europe/Berlin', 'Asia/Tokyo', 'Australia/Sydney', "
	"              'America/Los_Angeles', 'Asia/Kolkata'])[1 + b % 6], "
	"       '+1557' || lpad((id % 10000000)::text, 7, '0'), "
	"       CASE WHEN b % 12 = 5 THEN 'suspended' WHEN b % 4 = 1 THEN 'trial' ELSE 'active' END, "
	"       b % 5 <> 2, "
	"       (ARRAY[time '09:00', time '07:30', time '13:00', time '00:00'])[1 + b % 4], "
	"       (ARRAY[time '20:00', time '12:00', time '23:59', time '23:59:59'])[1 + b % 4], "
	"       CASE WHEN b % 11 = 7 THEN $1::timestamptz - interval '1 day' END, "
	"       CASE WHEN b % 11 = 7 THEN 'set verdict test' END, "
	"       CASE WHEN b % 11 = 7 THEN 'paused by the test' END "
	"FROM sx_b",
	"INSERT INTO business_holds (business_id, reason, held_at) "
	"SELECT id, 'set verdict test hold ' || b, $1::timestamptz - interval '2 hours' FROM sx_b WHERE b % 13 = 4",
	"CREATE TEMP TABLE sx_c ON COMMIT DROP AS "
	"SELECT c, nextval('clients_id_seq') AS id, (SELECT id FROM sx_b WHERE b = (c - 1) / 5 + 1) AS bid "
	"FROM generate_series(1, 120) c",
	"INSERT INTO clients (id, business_id, name, phone, email, time_zone, opted_out_at, proposed_at, "
	"                     proposed_from, confirmed_at, confirmed_by, do_not_call, phone_invalid_at) "
	"SELECT id, bid, 'Set client ' || c, '+1558' || lpad((id % 10000000)::text, 7, '0'), "
	"       'set-' || id || '@example.com', "
	"       CASE WHEN c % 3 = 0 THEN (ARRAY['Europe/London', 'America/Chicago', 'Asia/Tokyo', "
	"                                      'Pacific/Auckland'])[1 + (c / 3) % 4] END, "
	"       CASE WHEN c % 17 = 3 THEN $1::timestamptz - interval '3 days' END, "
	"       CASE WHEN c % 19 IN (4, 5) THEN $1::timestamptz - interval '5 days' END, "
	"       CASE WHEN c % 19 IN (4, 5) THEN 'a calendar event' END, "
	"       CASE WHEN c % 19 = 5 THEN $1::timestamptz - interval '4 days' END, "
	"       CASE WHEN c % 19 = 5 THEN 'set verdict test' END, "
	"       c % 7 = 2, "
	"       CASE WHEN c % 23 = 6 THEN $1::timestamptz - interval '6 days' END "
	"FROM sx_c",
	"CREATE TEMP TABLE sx_a ON COMMIT DROP AS "
	"SELECT g, nextval('appointments_id_seq') AS id, c.id AS cid, c.bid, "
	"       CASE WHEN g % 9 = 4 THEN 'cancelled' WHEN g % 9 = 7 THEN 'completed' "
	"            WHEN g % 3 = 0 THEN 'confirmed' ELSE 'booked' END AS st, "
	"       $1::timestamptz + ((g * 37) % 72 - 6) * interval '1 hour' AS starts "
	"FROM generate_series(1, 600) g JOIN sx_c c ON c.c = (g - 1) % 120 + 1",
	"INSERT INTO appointments (id, business_id, client_id, starts_at, status, confirmed_at, cancelled_at) "
	"SELECT id, bid, cid, starts, st, "
	"       CASE WHEN st = 'confirmed' THEN $1::timestamptz - interval '1 day' END, "
	"       CASE WHEN st = 'cancelled' THEN $1::timestamptz - interval '1 day' END "
	"FROM sx_a",
	"CREATE TEMP TABLE sx_r ON COMMIT DROP AS "
	"SELECT nextval('reminders_id_seq') AS id, a.id AS aid, a.bid, a.cid, g, k, "
	"       CASE WHEN (g + k) % 29 = 3 THEN 'test' WHEN (g + k) % 31 = 5 THEN 'reply' "
	"            WHEN (g + k) % 37 = 8 THEN 'resend' ELSE 'plan' END AS kind, "
	"       $1::timestamptz - interval '2 hours' + ((g * 53 + k * 211) % 1200) * interval '1 minute' AS due "
	"FROM sx_a a CROSS JOIN generate_series(0, 3) k",
	"INSERT INTO reminders (id, business_id, appointment_id, channel, offset_minutes, attempt, kind, body, "
	"                       due_at, stale_at, not_before, to_address, status) "
	"SELECT r.id, r.bid, r.aid, ch, 97 * r.k + 1, CASE WHEN kind = 'plan' THEN 1 ELSE 5 END, kind, "
	"       CASE WHEN kind = 'reply' THEN 'A reply from the set verdict test' END, "
	"       due, due + (1 + (g + k) % 5) * interval '3 hours', "
	"       CASE WHEN (g + k) % 11 = 2 THEN due + (g % 4) * interval '3 hours' END, "
	"       CASE WHEN (g + k) % 43 = 9 THEN NULL "
	"            WHEN (g + k) % 6 = 1 THEN b.callback_phone::text "
	"            WHEN ch = 'email' THEN cl.email::text ELSE cl.phone::text END, "
	"       CASE WHEN kind = 'test' OR (g + k) % 53 = 11 THEN 'cancelled' ELSE 'pending' END "
	"FROM sx_r r JOIN businesses b ON b.id = r.bid JOIN clients cl ON cl.id = r.cid "
	"CROSS JOIN LATERAL (SELECT CASE WHEN kind = 'reply' THEN 'sms' "
	"                                ELSE (ARRAY['voice', 'sms', 'email', 'voice'])[1 + k] END) v(ch)",
	"UPDATE reminders r SET status = 'pending' FROM sx_r x "
	"WHERE x.id = r.id AND x.kind = 'test' AND (x.g + x.k) % 53 <> 11",
	"UPDATE reminders r "
	"SET status_reason = 'blocked: not allowed — unverified business: only its own number' "
	"FROM sx_r x WHERE x.id = r.id AND x.g % 2 = 0",
	"INSERT INTO contact_attempts (reminder_id, business_id, channel, to_address, status, lease_until) "
	"SELECT r.id, r.business_id, r.channel, COALESCE(r.to_address, '+15550000000'), 'failed', "
	"       $1::timestamptz "
	"FROM reminders r JOIN sx_r x ON x.id = r.id WHERE (x.g + x.k) % 47 = 10",
};

/* Every due reminder whose two verdicts differ at $1 (at most 20 listed). */
static const char mismatch_sql[] =
	"WITH o AS (SELECT r.id, k.code, k.reason FROM reminders r"
	"           CROSS JOIN LATERAL reminder_block(r.id, $1::timestamptz) k"
	"           WHERE r.status = 'pending' AND r.due_at <= $1::timestamptz"
	"             AND r.stale_at > $1::timestamptz),"
	" s AS (SELECT id, code, reason FROM reminder_block_due($1::timestamptz)),"
	" d AS (SELECT format('%s: %s / %s against %s / %s', COALESCE(o.id, s.id),"
	"              COALESCE(o.code, '-'), COALESCE(o.reason, '-'),"
	"              COALESCE(s.code, '-'), COALESCE(s.reason, '-')) AS line"
	"       FROM o FULL JOIN s ON s.id = o.id"
	"       WHERE o.id IS NULL OR s.id IS NULL OR o.code IS DISTINCT FROM s.code"
	"          OR o.reason IS DISTINCT FROM s.reason)"
	" SELECT (SELECT count(*) FROM d),"
	"        (SELECT COALESCE(string_agg(line, '; '), '') FROM (SELECT line FROM d LIMIT 20) l)";

/* The same for the tick's own query (its code and refusal flag) against
 * reminder_block and the refusal rule as the tick used to compute them. */
#define SCHED_MISMATCH_SQL \
	"WITH o AS (SELECT r.id, k.code, k.reason = 'unverified business: only its own number'" \
	"              AND r.status_reason IS DISTINCT FROM" \
	"                  'blocked: not allowed — unverified business: only its own number' AS refusal" \
	"           FROM reminders r CROSS JOIN LATERAL reminder_block(r.id, $1::timestamptz) k" \
	"           WHERE r.status = 'pending' AND r.due_at <= $1::timestamptz" \
	"             AND r.stale_at > $1::timestamptz)," \
	" s AS (SELECT * FROM (%s) q(id, code, refusal))" \
	" SELECT count(*), count(*) FILTER (WHERE o.refusal) FROM o FULL JOIN s ON s.id = o.id" \
	" WHERE o.id IS NULL OR s.id IS NULL OR o.code IS DISTINCT FROM s.code" \
	"    OR o.refusal IS DISTINCT FROM s.refusal"

/* The fixture's due reminders at $1: each distinct reason reminder_block
 * gives ('' for none), and for the calling window the zone it was judged
 * in. */
static const char coverage_sql[] =
	"SELECT DISTINCT COALESCE(k.reason, ''),"
	"       CASE WHEN k.code IS NULL OR k.code = 'window' THEN COALESCE(cl.time_zone, b.time_zone) END"
	" FROM sx_r x JOIN reminders r ON r.id = x.id"
	" JOIN appointments a ON a.id = r.appointment_id JOIN clients cl ON cl.id = a.client_id"
	" JOIN businesses b ON b.id = r.business_id"
	" CROSS JOIN LATERAL reminder_block(r.id, $1::timestamptz) k"
	" WHERE r.status = 'pending' AND r.due_at <= $1::timestamptz AND r.stale_at > $1::timestamptz";

/* Every verdict reminder_block can give a due reminder the fixture can
 * hold ('appointment, business or client missing' needs a broken foreign
 * key), and whether it is a prefix. */
static const struct {
	const char *reason;
	int prefix;
} verdicts[] = {
	{ "", 0 },
	{ "failsafe tripped", 0 },
	{ "appointment is cancelled", 0 },
	{ "appointment is completed", 0 },
	{ "appointment is in the past", 0 },
	{ "business suspended", 0 },
	{ "automatic messages are off", 0 },
	{ "held by the failsafe: ", 1 },
	{ "no address", 0 },
	{ "unverified business: only its own number", 0 },
	{ "recipient opted out", 0 },
	{ "client not confirmed (proposed from a calendar event)", 0 },
	{ "do not call", 0 },
	{ "recipient number invalid", 0 },
	{ "already attempted", 0 },
	{ "deferred until ", 1 },
	{ "outside the calling window", 0 },
	{ "test reminder outside business hours (09:00-18:00)", 0 },
};
#define NVERDICTS (sizeof(verdicts) / sizeof(verdicts[0]))

/* The zones seen with each window outcome (may go now, outside it). */
#define MAX_ZONES 16
struct zones {
	char name[MAX_ZONES][64];
	int n;
};

static void zone_add(struct zones *z, const char *name)
{
	for (int i = 0; i < z->n; i++)
		if (strcmp(z->name[i], name) == 0)
			return;
	if (z->n < MAX_ZONES)
		snprintf(z->name[z->n++], sizeof(z->name[0]), "%s", name);
}

struct seen {
	int verdict[NVERDICTS];
	struct zones open, shut;
	long long compared;
};

static void sql_or_fail(const char *sql)
{
	hx_db_cmd_or_fail(sql, 0, NULL);
}

/* Both comparisons at now_s, and the fixture's verdicts added to s. */
static void compare_at_or_fail(long long now_s, struct seen *s)
{
	char now[32], *sched_sql;
	const char *p[1] = { now };
	PGresult *res;

	clock_sql(now_s, now);
	res = hx_db_exec_or_fail(mismatch_sql, 1, p);
	if (atoll(PQgetvalue(res, 0, 0)) != 0)
		fail_msg("at %s, %s due reminder(s) where reminder_block_due and reminder_block differ"
			" (id: reminder_block's code / reason against the set's): %s", now,
			PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	PQclear(res);

	sched_sql = xasprintf(SCHED_MISMATCH_SQL, scheduler_due_sql);
	res = hx_db_exec_or_fail(sched_sql, 1, p);
	free(sched_sql);
	if (atoll(PQgetvalue(res, 0, 0)) != 0)
		fail_msg("at %s, the tick's query (scheduler_due_sql) and reminder_block differ on %s due"
			" reminder(s)", now, PQgetvalue(res, 0, 0));
	PQclear(res);

	res = hx_db_exec_or_fail(coverage_sql, 1, p);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *why = PQgetvalue(res, i, 0);
		for (size_t v = 0; v < NVERDICTS; v++)
			if (verdicts[v].prefix ? strncmp(why, verdicts[v].reason, strlen(verdicts[v].reason)) == 0
					: strcmp(why, verdicts[v].reason) == 0)
				s->verdict[v] = 1;
		if (!PQgetisnull(res, i, 1))
			zone_add(why[0] ? &s->shut : &s->open, PQgetvalue(res, i, 1));
	}
	PQclear(res);
	s->compared++;
}

static void test_set_verdict_equal(void **state)
{
	struct seen s;
	char base[32];
	const char *p[1] = { base };
	/* Through the day at the base: the windows open and shut in turn in
	 * the Americas, Europe, India, Tokyo, Sydney and Auckland. */
	static const long long at[] = { 0, 1 * HOUR + 1, 4 * HOUR, 7 * HOUR + 30 * 60, 10 * HOUR,
		13 * HOUR + 59 * 60, 16 * HOUR, 19 * HOUR, 22 * HOUR };
	(void)state;

	memset(&s, 0, sizeof(s));
	clock_sql(T_BASE, base);
	sql_or_fail("BEGIN");
	/* Not tripped, whatever an earlier group left (rolled back below). */
	sql_or_fail("INSERT INTO failsafe_state (id) VALUES (1)"
		" ON CONFLICT (id) DO UPDATE SET tripped = false");
	for (size_t i = 0; i < sizeof(fixture_sql) / sizeof(fixture_sql[0]); i++)
		hx_db_cmd_or_fail(fixture_sql[i], strstr(fixture_sql[i], "$1") ? 1 : 0, p);
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		compare_at_or_fail(T_BASE + at[i], &s);
	/* The failsafe tripped, then its row missing: every reminder refused. */
	sql_or_fail("UPDATE failsafe_state SET tripped = true, reason = 'set verdict test',"
		" tripped_at = now()");
	compare_at_or_fail(T_BASE + 4 * HOUR, &s);
	sql_or_fail("DELETE FROM failsafe_state");
	compare_at_or_fail(T_BASE + 4 * HOUR, &s);
	sql_or_fail("ROLLBACK");

	for (size_t v = 0; v < NVERDICTS; v++)
		if (!s.verdict[v])
			fail_msg("the fixture gave no due reminder the verdict '%s'%s: the comparison"
				" would not see that rule", verdicts[v].reason, verdicts[v].prefix ? "..." : "");
	if (s.open.n < 3 || s.shut.n < 3)
		fail_msg("the calling window was judged open in %d zone(s) and shut in %d: want 3 each",
			s.open.n, s.shut.n);
}

/* A failed check leaves the fixture's transaction open on the harness's
 * connection: rolled back here (a warning only when none is open). */
static int rollback(void **state)
{
	char err[256];
	PGresult *res = hx_db_exec("ROLLBACK", 0, NULL, err, sizeof(err));
	(void)state;
	if (res)
		PQclear(res);
	return 0;
}

int scheduler_set_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_set_verdict_equal, rollback),
	};
	return cmocka_run_group_tests_name("integration: scheduler_set", tests, hx_group_setup,
		hx_group_teardown);
}

/* Unit tests: the reminder planning rules (reminders_compute, no
 * database), then reminders_plan and reminders_cancel_unsent against the
 * test stack's PostgreSQL (RINGFENCE_DATABASE_URL), rescheduling
 * included. */
#include "unit.h"

#include "clock.h"
#include "db.h"
#include "reminders.h"

#define H 3600LL
#define M 60LL
/* An arbitrary "now": 2026-11-25T10:00:00Z. */
#define NOW 1795600800LL

static const struct reminders_recipient both = { "+15555550123", "a@example.test", 0 };

static void test_default_policy(void **state)
{
	struct reminders_line l[2];
	struct reminders_row r[4];
	(void)state;
	assert_int_equal(reminders_default_policy(l), 2);
	assert_string_equal(l[0].channel, "voice");
	assert_int_equal(l[0].offset_minutes, 1440);
	assert_int_equal(l[0].stale_after_minutes, 120);
	assert_string_equal(l[1].channel, "sms");
	assert_int_equal(l[1].offset_minutes, 120);
	assert_int_equal(l[1].stale_after_minutes, 120);
	assert_int_equal(reminders_default_stale("voice"), 120);
	assert_int_equal(reminders_default_stale("sms"), 120);
	assert_int_equal(reminders_default_stale("email"), 720);
	assert_int_equal(reminders_default_stale("fax"), -1);

	/* Booked three days ahead: both at their offsets. */
	assert_int_equal(reminders_compute(l, 2, &both, NOW + 72 * H, NOW, r, 4), 2);
	assert_string_equal(r[0].channel, "voice");
	assert_int_equal(r[0].due_s, NOW + 48 * H);
	assert_int_equal(r[0].stale_s, NOW + 50 * H);
	assert_string_equal(r[0].to_address, "+15555550123");
	assert_string_equal(r[1].channel, "sms");
	assert_int_equal(r[1].due_s, NOW + 70 * H);
	/* Stale bound never after the appointment. */
	assert_int_equal(r[1].stale_s, NOW + 72 * H);
}

/* The rules table: appointment at starts, booked at NOW. */
static void test_late_bookings(void **state)
{
	struct reminders_line l[2];
	struct reminders_row r[4];
	(void)state;
	reminders_default_policy(l);

	/* 3 h ahead: the 24 h call is due at once, the 2 h text on time. */
	assert_int_equal(reminders_compute(l, 2, &both, NOW + 3 * H, NOW, r, 4), 2);
	assert_string_equal(r[0].channel, "voice");
	assert_int_equal(r[0].due_s, NOW);
	assert_int_equal(r[0].stale_s, NOW + 2 * H);
	assert_int_equal(r[1].due_s, NOW + H);
	assert_int_equal(r[1].stale_s, NOW + 3 * H);

	/* 90 min ahead: both passed, both still useful: due now, stale at
	 * the appointment at the latest. */
	assert_int_equal(reminders_compute(l, 2, &both, NOW + 90 * M, NOW, r, 4), 2);
	assert_int_equal(r[0].due_s, NOW);
	assert_int_equal(r[0].stale_s, NOW + 90 * M);
	assert_int_equal(r[1].due_s, NOW);

	/* Exactly 1 h ahead: still useful. */
	assert_int_equal(reminders_compute(l, 2, &both, NOW + H, NOW, r, 4), 2);
	assert_int_equal(r[0].stale_s, NOW + H);
	/* 59 minutes ahead: nothing. */
	assert_int_equal(reminders_compute(l, 2, &both, NOW + 59 * M, NOW, r, 4), 0);
	/* In the past: nothing. */
	assert_int_equal(reminders_compute(l, 2, &both, NOW - H, NOW, r, 4), 0);
}

static void test_addresses(void **state)
{
	struct reminders_line l[3] = { { "voice", 1440, 120 }, { "sms", 120, 120 },
		{ "email", 2880, 720 } };
	struct reminders_row r[4];
	struct reminders_recipient rc;
	(void)state;

	assert_int_equal(reminders_compute(l, 3, &both, NOW + 72 * H, NOW, r, 4), 3);
	assert_string_equal(r[2].channel, "email");
	assert_string_equal(r[2].to_address, "a@example.test");
	assert_int_equal(r[2].due_s, NOW + 24 * H);
	assert_int_equal(r[2].stale_s, NOW + 36 * H);

	/* Opted out or invalid phone: email only. */
	rc = both;
	rc.phone_blocked = 1;
	assert_int_equal(reminders_compute(l, 3, &rc, NOW + 72 * H, NOW, r, 4), 1);
	assert_string_equal(r[0].channel, "email");

	/* No email: phone channels only. */
	rc = both;
	rc.email = NULL;
	assert_int_equal(reminders_compute(l, 3, &rc, NOW + 72 * H, NOW, r, 4), 2);
	assert_string_equal(r[0].channel, "voice");
	assert_string_equal(r[1].channel, "sms");

	/* No phone (and an empty string is no phone). */
	rc = both;
	rc.phone = "";
	assert_int_equal(reminders_compute(l, 3, &rc, NOW + 72 * H, NOW, r, 4), 1);
	assert_string_equal(r[0].channel, "email");
}

/* Two passed lines of one channel make one reminder, not two calls. */
static void test_passed_lines_collapse(void **state)
{
	struct reminders_line l[3] = { { "voice", 1440, 120 }, { "voice", 180, 60 },
		{ "sms", 120, 120 } };
	struct reminders_row r[4];
	(void)state;

	/* 2.5 h ahead: both voice lines passed; the 3 h one stands for both. */
	assert_int_equal(reminders_compute(l, 3, &both, NOW + 150 * M, NOW, r, 4), 2);
	assert_string_equal(r[0].channel, "voice");
	assert_int_equal(r[0].offset_minutes, 180);
	assert_int_equal(r[0].due_s, NOW);
	assert_int_equal(r[0].stale_s, NOW + H);
	assert_string_equal(r[1].channel, "sms");
	assert_int_equal(r[1].due_s, NOW + 30 * M);

	/* 5 h ahead: only the 24 h line passed. */
	assert_int_equal(reminders_compute(l, 3, &both, NOW + 5 * H, NOW, r, 4), 3);
	assert_int_equal(r[0].offset_minutes, 1440);
	assert_int_equal(r[0].due_s, NOW);
	assert_int_equal(r[1].offset_minutes, 180);
	assert_int_equal(r[1].due_s, NOW + 2 * H);
}

static void test_bad_lines(void **state)
{
	struct reminders_line bad[] = { { "fax", 60, 60 }, { "voice", -1, 60 },
		{ "voice", 43201, 60 }, { "sms", 60, 4 }, { "sms", 60, 10081 } };
	struct reminders_line l[2];
	struct reminders_row r[4];
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(reminders_compute(&bad[i], 1, &both, NOW + 72 * H, NOW, r, 4), -1);
	/* Too little room. */
	reminders_default_policy(l);
	assert_int_equal(reminders_compute(l, 2, &both, NOW + 72 * H, NOW, r, 1), -1);
	/* Offset 0: due and stale at the appointment itself. */
	struct reminders_line zero = { "sms", 0, 30 };
	assert_int_equal(reminders_compute(&zero, 1, &both, NOW + 72 * H, NOW, r, 4), 1);
	assert_int_equal(r[0].due_s, NOW + 72 * H);
	assert_int_equal(r[0].stale_s, NOW + 72 * H);
}

/* ---- against PostgreSQL -------------------------------------------------- */

static char *one(struct db *db, const char *sql, int n, const char *const *p)
{
	PGresult *res = db_exec(db, sql, n, p);
	char *v;
	if (res == NULL)
		fail_msg("%s: %s", sql, db_last_error(db));
	if (PQntuples(res) != 1)
		fail_msg("%s: %d rows", sql, PQntuples(res));
	v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* A business (with the policy lines given as "channel offset stale;...",
 * or NULL for none), a client and an appointment starting at starts. */
static long long fixture(struct db *db, const char *policy, const char *phone, const char *email,
	int opted_out, long long starts)
{
	char st[32], *bid, *cid, *aid;
	long long id;
	clock_sql(starts, st);
	bid = one(db, "INSERT INTO businesses (name, time_zone, callback_phone) "
		"VALUES ('reminders unit test', 'Europe/Paris', '+33123456789') RETURNING id", 0, NULL);
	if (policy) {
		const char *p[] = { bid, policy };
		PGresult *res = db_exec(db,
			"INSERT INTO reminder_policies (business_id, channel, offset_minutes, stale_after_minutes) "
			"SELECT $1::bigint, split_part(l, ' ', 1), split_part(l, ' ', 2)::int, "
			"split_part(l, ' ', 3)::int FROM unnest(string_to_array($2, ';')) l",
			2, p);
		assert_non_null(res);
		PQclear(res);
	}
	{
		const char *p[] = { bid, phone, email, opted_out ? "t" : "f" };
		cid = one(db, "INSERT INTO clients (business_id, name, phone, email, opted_out_at) "
			"VALUES ($1::bigint, 'Client', $2, $3, CASE WHEN $4::boolean THEN now() END) "
			"RETURNING id", 4, p);
	}
	{
		const char *p[] = { bid, cid, st };
		aid = one(db, "INSERT INTO appointments (business_id, client_id, starts_at) "
			"VALUES ($1::bigint, $2::bigint, $3::timestamptz) RETURNING id", 3, p);
	}
	id = strtoll(aid, NULL, 10);
	free(bid);
	free(cid);
	free(aid);
	return id;
}

/* The appointment's rows as "channel/offset/attempt/status/due-now/stale-now/to/superseded"
 * lines in id order (times relative to now in minutes). */
static char *rows(struct db *db, long long aid, long long now)
{
	char a[24], n[32];
	snprintf(a, sizeof(a), "%lld", aid);
	clock_sql(now, n);
	const char *p[] = { a, n };
	return one(db,
		"SELECT coalesce(string_agg(format('%s/%s/%s/%s/%s/%s/%s/%s', channel, offset_minutes, attempt, "
		"status, extract(epoch FROM due_at - $2::timestamptz)::bigint / 60, "
		"extract(epoch FROM stale_at - $2::timestamptz)::bigint / 60, to_address, "
		"superseded_at IS NOT NULL), ' ' ORDER BY id), '') "
		"FROM reminders WHERE appointment_id = $1::bigint",
		2, p);
}

static void test_plan_default(void **state)
{
	struct db *db = unit_db();
	long long now = clock_now_s();
	char err[256], *s;
	long long aid = fixture(db, NULL, "+15555550111", "x@example.test", 0, now + 48 * H);
	(void)state;

	assert_int_equal(db_begin(db), 0);
	assert_int_equal(reminders_plan(db, aid, now, err, sizeof(err)), 2);
	assert_int_equal(db_commit(db), 0);
	s = rows(db, aid, now);
	assert_string_equal(s, "voice/1440/1/pending/1440/1560/+15555550111/f "
			       "sms/120/1/pending/2760/2880/+15555550111/f");
	free(s);
	/* Planning again while reminders are pending is refused. */
	assert_int_equal(reminders_plan(db, aid, now, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "pending"));
	db_close(db);
}

static void test_plan_policy_and_reschedule(void **state)
{
	struct db *db = unit_db();
	long long now = clock_now_s();
	char err[256], *s, a[24], st[32];
	long long aid = fixture(db, "email 2880 720;sms 60 30", "+15555550112", "y@example.test", 0,
		now + 72 * H);
	(void)state;

	assert_int_equal(db_begin(db), 0);
	assert_int_equal(reminders_plan(db, aid, now, err, sizeof(err)), 2);
	assert_int_equal(db_commit(db), 0);
	s = rows(db, aid, now);
	assert_string_equal(s, "email/2880/1/pending/1440/2160/y@example.test/f "
			       "sms/60/1/pending/4260/4290/+15555550112/f");
	free(s);

	/* The email went out; then the appointment moves 2 h earlier. */
	snprintf(a, sizeof(a), "%lld", aid);
	clock_sql(now + 70 * H, st);
	{
		const char *p[] = { a, st };
		PGresult *res = db_exec(db, "UPDATE reminders SET status = 'placed' "
			"WHERE appointment_id = $1::bigint AND channel = 'email'", 1, p);
		assert_non_null(res);
		PQclear(res);
		assert_int_equal(db_begin(db), 0);
		res = db_exec(db, "UPDATE appointments SET starts_at = $2::timestamptz "
			"WHERE id = $1::bigint", 2, p);
		assert_non_null(res);
		PQclear(res);
	}
	assert_int_equal(reminders_cancel_unsent(db, aid, "rescheduled"), 1);
	assert_int_equal(reminders_plan(db, aid, now, err, sizeof(err)), 2);
	assert_int_equal(db_commit(db), 0);
	s = rows(db, aid, now);
	assert_string_equal(s, "email/2880/1/placed/1440/2160/y@example.test/t "
			       "sms/60/1/cancelled/4260/4290/+15555550112/t "
			       "email/2880/1/pending/1320/2040/y@example.test/f "
			       "sms/60/1/pending/4140/4170/+15555550112/f");
	free(s);
	{
		const char *p[] = { a };
		s = one(db, "SELECT string_agg(coalesce(status_reason, '-'), ',' ORDER BY id) "
			"FROM reminders WHERE appointment_id = $1::bigint", 1, p);
		assert_string_equal(s, "-,rescheduled,-,-");
		free(s);
	}
	/* Cancelling touches only the pending ones. */
	assert_int_equal(reminders_cancel_unsent(db, aid, "appointment cancelled"), 2);
	assert_int_equal(reminders_cancel_unsent(db, aid, "appointment cancelled"), 0);
	db_close(db);
}

static void test_plan_refusals(void **state)
{
	struct db *db = unit_db();
	long long now = clock_now_s();
	char err[256], *s, a[24];
	long long aid;
	(void)state;

	/* Opted out, phone only: nothing to create. */
	aid = fixture(db, NULL, "+15555550113", NULL, 1, now + 48 * H);
	assert_int_equal(reminders_plan(db, aid, now, err, sizeof(err)), 0);
	s = rows(db, aid, now);
	assert_string_equal(s, "");
	free(s);

	/* Less than an hour away: nothing. */
	aid = fixture(db, NULL, "+15555550114", NULL, 0, now + 30 * M);
	assert_int_equal(reminders_plan(db, aid, now, err, sizeof(err)), 0);

	/* A cancelled appointment gets no plan. */
	aid = fixture(db, NULL, "+15555550115", NULL, 0, now + 48 * H);
	snprintf(a, sizeof(a), "%lld", aid);
	{
		const char *p[] = { a };
		PGresult *res = db_exec(db, "UPDATE appointments SET status = 'cancelled', "
			"cancelled_at = now() WHERE id = $1::bigint", 1, p);
		assert_non_null(res);
		PQclear(res);
	}
	assert_int_equal(reminders_plan(db, aid, now, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cancelled"));

	/* No such appointment. */
	assert_int_equal(reminders_plan(db, 999999999999LL, now, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no appointment"));
	db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_policy),
		cmocka_unit_test(test_late_bookings),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_passed_lines_collapse),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_plan_default),
		cmocka_unit_test(test_plan_policy_and_reschedule),
		cmocka_unit_test(test_plan_refusals),
	};
	return cmocka_run_group_tests_name("reminders", tests, NULL, NULL);
}

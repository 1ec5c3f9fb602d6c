/* Integration: the outage replay, whole (issue 4's reason to exist).
 *
 * Workers are down for 8 hours while the scheduler keeps ticking every 5
 * minutes over 2,000 reminders of a few hundred clients; then workers
 * start.  Nobody may be contacted twice for one reminder, nothing stale
 * may go out, no recipient may get more than the per-recipient limit, and
 * the simulator's own call and message logs must agree with the database.
 * The scheduler half (the ready set after every tick against an oracle)
 * is test_scheduler.c's; this file adds the workers and the simulator. */
#include "harness.h"

#include "buf.h"
#include "clock.h"
#include "rds.h"
#include "scheduler_replay.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIN 60LL
#define RECIPIENT_LIMIT 3

static const char *bin;

/* Runs a shell command line; its output goes to out.  The exit status,
 * or -1 when it was killed. */
static int outage_run(const char *cmd, struct buf *out)
{
	return hx_shell(cmd, out, 300);
}

/* How many calls (or messages) the simulator has to number, each sid
 * listed in sids (appended, one per line). */
static size_t outage_sim_count(const char *kind, const char *number, struct buf *sids)
{
	struct hx_sim_res r;
	char *esc, *path;
	json_t *doc, *list;
	size_t n;
	CURL *c = curl_easy_init();

	esc = curl_easy_escape(c, number, 0);
	path = xasprintf("/2010-04-01/Accounts/%s/%s.json?To=%s&PageSize=1000", hx_env.account_sid,
		kind, esc);
	curl_free(esc);
	curl_easy_cleanup(c);
	if (hx_sim_request(path, NULL, NULL, NULL, &r) < 0 || r.status != 200)
		fail_msg("GET %s: %s %s", path, r.error, buf_str(&r.body));
	doc = r.json;
	list = doc ? json_object_get(doc, strcmp(kind, "Calls") == 0 ? "calls" : "messages") : NULL;
	if (!json_is_array(list))
		fail_msg("GET %s: no list in %s", path, buf_str(&r.body));
	n = json_array_size(list);
	for (size_t i = 0; i < n; i++) {
		const char *sid = json_string_value(json_object_get(json_array_get(list, i), "sid"));
		buf_printf(sids, "%s\n", sid ? sid : "?");
	}
	hx_sim_res_free(&r);
	free(path);
	return n;
}

static int outage_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_outage_replay_with_workers(void **state)
{
	/* 2031-03-04T20:00Z, as the scheduler half: windows open and close
	 * in different zones during the 8 hours. */
	long long start = 1930420800LL, end = start + 95 * 5 * MIN;
	unsigned seed = (unsigned)time(NULL) ^ 0x5eedu;
	struct replay_fixture f;
	struct buf out = BUF_INIT, allowed = BUF_INIT, ids = BUF_INIT;
	char err[512], when[32];
	const char **addrs;
	size_t naddrs = 0, contacted = 0, stale = 0;
	PGresult *res, *maxima;
	char *cmd;
	int rc;
	(void)state;

	hx_db_value_or_fail("SELECT 1", 0, NULL);
	{
		/* Only this test's reminders in the ready set. */
		const char *argv[] = { "DEL", "rf:ready" };
		struct rds *r = rds_open(hx_env.redis_url);
		redisReply *rep = r ? rds_command(r, 2, argv, NULL) : NULL;
		if (rep == NULL)
			fail_msg("cannot empty the ready set");
		freeReplyObject(rep);
		rds_close(r);
	}
	if (scheduler_replay_fixture(start, 8, 300, 2000, seed, &f, err, sizeof(err)) < 0)
		fail_msg("%s", err);

	/* Eight hours of ticks with the workers down. */
	for (int k = 0; k < 96; k++) {
		long long now = start + (long long)k * 5 * MIN;
		clock_sql(now, when);
		cmd = xasprintf("RINGFENCE_NOW=%s '%s' scheduler --once 2>&1", when, bin);
		buf_reset(&out);
		if ((rc = outage_run(cmd, &out)) != 0)
			fail_msg("scheduler --once at %s: exit %d\n%s", when, rc, buf_str(&out));
		free(cmd);
	}

	/* Every address of the fixture is allowed (this is not production)
	 * and answers as a line that fails at once, so that hundreds of
	 * calls cost the simulator nothing but their records. */
	addrs = xcalloc(f.n, sizeof(*addrs));
	for (size_t i = 0; i < f.n; i++)
		addrs[naddrs++] = f.r[i].to;
	qsort(addrs, naddrs, sizeof(*addrs), outage_cmp_str);
	for (size_t i = 0; i < naddrs; i++) {
		if (i > 0 && strcmp(addrs[i], addrs[i - 1]) == 0)
			continue;
		buf_printf(&allowed, "%s%s", allowed.len ? "," : "", addrs[i]);
		if (addrs[i][0] == '+')
			hx_sim_callee_or_fail(addrs[i], "fail");
	}

	/* The workers come back, at the end of the outage. */
	clock_sql(end, when);
	/* The failsafe is not what this test is about (test_guards.c and
	 * test_worker.c trip it): its floor is raised so that what limits the
	 * burst here is staleness and the per-recipient and per-business
	 * limits, and the largest windows it records are put back after. */
	{
		char e2[256];
		maxima = hx_db_exec("SELECT coalesce(json_agg(m), '[]')::text FROM failsafe_maxima m", 0, NULL,
			e2, sizeof(e2));
		if (maxima == NULL)
			fail_msg("%s", e2);
	}
	cmd = xasprintf("RINGFENCE_NOW=%s RINGFENCE_CPS=100 RINGFENCE_FAILSAFE_FLOOR=1000000 "
			"RINGFENCE_ALLOWED_CONTACTS='%s' '%s' worker --once --concurrency 4 2>&1",
		when, buf_str(&allowed), bin);
	buf_reset(&out);
	rc = outage_run(cmd, &out);
	free(cmd);
	{
		const char *p[] = { PQgetvalue(maxima, 0, 0) };
		/* Two statements: a data-modifying CTE would not let the
		 * INSERT see the DELETE. */
		PGresult *x = hx_db_exec("DELETE FROM failsafe_maxima", 0, NULL, err, sizeof(err));
		if (x == NULL)
			fail_msg("cannot put failsafe_maxima back: %s", err);
		PQclear(x);
		x = hx_db_exec("INSERT INTO failsafe_maxima (window_seconds, max_count, updated_at)"
			       " SELECT window_seconds, max_count, updated_at"
			       " FROM json_populate_recordset(NULL::failsafe_maxima, $1::json)",
			1, p, err, sizeof(err));
		if (x == NULL)
			fail_msg("cannot put failsafe_maxima back: %s", err);
		PQclear(x);
		PQclear(maxima);
	}
	if (rc != 0)
		fail_msg("worker --once at %s: exit %d\n%s", when, rc, buf_str(&out));
	if (hx_db_int_or_fail("SELECT count(*) FROM failsafe_state WHERE tripped", 0, NULL) != 0)
		fail_msg("the failsafe tripped during the replay:\n%s", buf_str(&out));

	for (size_t i = 0; i < f.n; i++)
		buf_printf(&ids, "%s%lld", i ? "," : "{", f.r[i].id);
	buf_puts(&ids, "}");
	{
		const char *p[] = { buf_str(&ids) };
		res = hx_db_exec("SELECT r.id, r.status, a.status, a.provider_sid, a.to_address, a.channel"
				 " FROM reminders r LEFT JOIN contact_attempts a ON a.reminder_id = r.id"
				 " WHERE r.id = ANY($1::bigint[]) ORDER BY r.id",
			1, p, err, sizeof(err));
		if (res == NULL)
			fail_msg("%s", err);
	}
	assert_int_equal(PQntuples(res), (int)f.n);
	for (int row = 0; row < PQntuples(res); row++) {
		long long id = atoll(PQgetvalue(res, row, 0));
		const char *rst = PQgetvalue(res, row, 1), *ast = PQgetvalue(res, row, 2);
		const struct replay_reminder *r = NULL;
		for (size_t i = 0; i < f.n && r == NULL; i++)
			if (f.r[i].id == id)
				r = &f.r[i];
		assert_non_null(r);
		/* Stale before the workers came back: skipped, never sent. */
		if (r->stale_s <= end) {
			if (strcmp(rst, "skipped_stale") != 0 || !PQgetisnull(res, row, 2))
				fail_msg("seed %u: reminder %lld went stale during the outage but is %s with attempt '%s'",
					seed, id, rst, ast);
			stale++;
			continue;
		}
		/* Nothing is left half done. */
		if (strcmp(rst, "dialing") == 0 || strcmp(ast, "dialing") == 0 || strcmp(ast, "unknown") == 0)
			fail_msg("seed %u: reminder %lld is %s, its attempt %s", seed, id, rst, ast);
		if (strcmp(ast, "placed") == 0)
			contacted++;
	}

	/* Per recipient: at most the limit, and the simulator agrees with the
	 * database call for call and message for message. */
	for (size_t i = 0; i < naddrs; i++) {
		size_t placed_voice = 0, placed_sms = 0, placed_mail = 0;
		struct buf sids = BUF_INIT;
		if (i > 0 && strcmp(addrs[i], addrs[i - 1]) == 0)
			continue;
		for (int row = 0; row < PQntuples(res); row++) {
			if (strcmp(PQgetvalue(res, row, 2), "placed") != 0 ||
				strcmp(PQgetvalue(res, row, 4), addrs[i]) != 0)
				continue;
			const char *ch = PQgetvalue(res, row, 5);
			placed_voice += strcmp(ch, "voice") == 0;
			placed_sms += strcmp(ch, "sms") == 0;
			placed_mail += strcmp(ch, "email") == 0;
		}
		if (placed_voice + placed_sms + placed_mail > RECIPIENT_LIMIT)
			fail_msg("seed %u: %s was contacted %zu times (limit %d)", seed, addrs[i],
				placed_voice + placed_sms + placed_mail, RECIPIENT_LIMIT);
		if (addrs[i][0] != '+')
			continue;
		if (outage_sim_count("Calls", addrs[i], &sids) != placed_voice)
			fail_msg("seed %u: the simulator has %zu calls to %s, the database %zu placed",
				seed, outage_sim_count("Calls", addrs[i], &sids), addrs[i], placed_voice);
		if (outage_sim_count("Messages", addrs[i], &sids) != placed_sms)
			fail_msg("seed %u: the simulator has messages to %s that the database does not agree with",
				seed, addrs[i]);
		/* Every sid the simulator gave is the one the database holds. */
		for (char *line = strtok((char *)buf_str(&sids), "\n"); line; line = strtok(NULL, "\n")) {
			int found = 0;
			for (int row = 0; row < PQntuples(res) && !found; row++)
				found = strcmp(PQgetvalue(res, row, 3), line) == 0;
			if (!found)
				fail_msg("seed %u: the simulator's %s (to %s) is in no attempt", seed, line, addrs[i]);
		}
		buf_free(&sids);
	}
	PQclear(res);
	/* The run must have exercised both sides. */
	assert_true(stale > 0);
	assert_true(contacted > 0);
	fprintf(stderr, "# outage replay: %zu reminders, %zu stale, %zu contacts placed, seed %u\n", f.n,
		stale, contacted, seed);

	{
		const char *p[] = { buf_str(&ids) };
		PGresult *c = hx_db_exec("UPDATE reminders SET status = 'cancelled', status_reason = 'test cleanup'"
					 " WHERE id = ANY($1::bigint[]) AND status = 'pending'",
			1, p, err, sizeof(err));
		if (c)
			PQclear(c);
	}
	free(addrs);
	buf_free(&out);
	buf_free(&allowed);
	buf_free(&ids);
	scheduler_replay_free(&f);
}

static int outage_setup(void **state)
{
	if (hx_group_setup(state) < 0 || (bin = hx_ringfence_bin("outage")) == NULL)
		return -1;
	if (strchr(bin, '\'')) {
		fprintf(stderr, "# outage: RINGFENCE_BIN %s has a quote in it\n", bin);
		return -1;
	}
	return 0;
}

int outage_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outage_replay_with_workers),
	};
	return cmocka_run_group_tests_name("integration: the outage replay with workers", tests,
		outage_setup, hx_group_teardown);
}

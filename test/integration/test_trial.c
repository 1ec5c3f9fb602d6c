/* Group "trial": the trial and abuse rules (DESIGN.md rule 13) through the
 * real stack: workers sending through the simulator, the CLI, the
 * dashboard.
 *
 * An unverified business reaches its own callback number and nobody
 * else (the refusal recorded on the reminder and shown on its
 * dashboard; verified in time, the reminder goes); an operator verifies it from the CLI or the dashboard (an
 * owner cannot); a newly verified business's spike is held at its limit
 * while an established business's reminders all go, the hold survives a
 * Redis restart and lifts only on resume, after which fresh reminders go
 * and stale ones do not; test reminders are limited and kept to business
 * hours on every path that writes them. */
#include "harness.h"
#include "dash_client.h"
#include "groups.h"
#include "queue.h"
#include "rds.h"
#include "util.h"

#include <sys/wait.h>
#include <unistd.h>

#define T_MAX 64
#define T_TIMEOUT_S 120

static const char *api_url;
static char api_base[300];
static const char *bin_path;
static struct rds *t_rds;
static int t_initialised;

/* A business's due text reminders, one per client with a fresh phone. */
struct tbiz {
	char id[24];
	int n;
	char phone[T_MAX][13];
	char reminder[T_MAX][24];
	char appt[T_MAX][24];
};

/* A business (UTC, open all day, sending from +15005550006, no hourly
 * limit to speak of), verified or not, with no reminders yet. */
static void tbiz_new_or_fail(struct tbiz *t, const char *name, int verified)
{
	const char *p[2] = { name, verified ? "t" : "f" };
	char *v;

	memset(t, 0, sizeof(*t));
	v = hx_db_value_or_fail("INSERT INTO businesses (name, time_zone, callback_phone, status,"
		" verified, window_start, window_end, twilio_from, hourly_limit)"
		" VALUES ($1, 'UTC', '+15005550006', 'active', $2::boolean, '00:00', '23:59:59',"
		" '+15005550006', 100000) RETURNING id", 2, p);
	snprintf(t->id, sizeof(t->id), "%s", v);
	free(v);
}

/* One more client of t with phone (NULL: a fresh one), an appointment
 * tomorrow and its text reminder due a minute ago, stale in two hours. */
static void tbiz_add_or_fail(struct tbiz *t, const char *phone)
{
	PGresult *r;
	int i = t->n++;

	assert_true(i < T_MAX);
	if (phone)
		snprintf(t->phone[i], sizeof(t->phone[i]), "%s", phone);
	else
		hx_random_phone(t->phone[i]);
	{
		const char *p[2] = { t->id, t->phone[i] };
		r = hx_db_exec_or_fail(
			"WITH c AS (INSERT INTO clients (business_id, name, phone, time_zone)"
			"  VALUES ($1::bigint, 'Trial client', $2, 'UTC') RETURNING id, business_id),"
			" a AS (INSERT INTO appointments (business_id, client_id, starts_at)"
			"  SELECT business_id, id, now() + interval '1 day' FROM c RETURNING id, business_id),"
			" r AS (INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes,"
			"  due_at, stale_at, to_address) SELECT business_id, id, 'sms', 1440,"
			"  now() - interval '1 minute', now() + interval '2 hours', $2 FROM a RETURNING id)"
			" SELECT r.id, a.id FROM r, a", 2, p);
	}
	assert_int_equal(PQntuples(r), 1);
	snprintf(t->reminder[i], sizeof(t->reminder[i]), "%s", PQgetvalue(r, 0, 0));
	snprintf(t->appt[i], sizeof(t->appt[i]), "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
}

static void enqueue_all_or_fail(const struct tbiz *t)
{
	for (int i = 0; i < t->n; i++) {
		long long id = atoll(t->reminder[i]);
		assert_int_equal(queue_push(t_rds, &id, 1), 0);
	}
}

/* Appends t's phones to the allow-list being built in b. */
static void allow_add(struct buf *b, const struct tbiz *t)
{
	for (int i = 0; i < t->n; i++) {
		buf_append(b, t->phone[i], strlen(t->phone[i]));
		buf_append(b, ",", 1);
	}
}

/* Runs `ringfence worker --concurrency 4 --once` with allowed as the
 * allow-list; its exit status. */
static int worker_drain(const char *allowed)
{
	const char *const args[] = { "--concurrency", "4", "--once", NULL };
	pid_t pid = fork();

	if (pid == 0) {
		setenv("RINGFENCE_ALLOWED_CONTACTS", allowed, 1);
		unsetenv("RINGFENCE_TEST_CRASH_AT");
		hx_exec_worker(bin_path, args);
	}
	assert_true(pid > 0);
	return hx_wait_child(pid, T_TIMEOUT_S);
}

/* How many texts the simulator has to phone. */
static size_t sim_texts_or_fail(const char *phone)
{
	json_t *arr = hx_sim_messages_to_or_fail(phone);
	size_t n = json_array_size(arr);

	json_decref(arr);
	return n;
}

/* The texts the simulator has to all of t's phones. */
static size_t sim_texts_all_or_fail(const struct tbiz *t)
{
	size_t n = 0;
	for (int i = 0; i < t->n; i++)
		n += sim_texts_or_fail(t->phone[i]);
	return n;
}

/* Contacts (attempts 'dialing', 'placed', 'unknown') of business id. */
static long long contacts_of(const char *id)
{
	return hx_db_int_or_fail("SELECT count(*) FROM contact_attempts WHERE business_id ="
		" $1::bigint AND status IN ('dialing', 'placed', 'unknown')", 1, (const char *[]){ id });
}

/* Runs `ringfence ARGS` (a shell fragment) with the stack's environment;
 * its exit status, its output (stdout and stderr) into out. */
static int ringfence_cli(struct buf *out, const char *args)
{
	char *cmd = xasprintf("'%s' %s 2>&1", bin_path, args);
	int rc;

	buf_reset(out);
	rc = hx_shell(cmd, out, 60);
	free(cmd);
	return rc;
}

static void has_or_fail(const char *body, const char *needle, const char *what)
{
	if (strstr(body, needle) == NULL)
		fail_msg("%s: '%s' is missing from:\n%.3000s", what, needle, body);
}

/* The audit stream of business id has a "business" record of action
 * made via via. */
static void audit_has_or_fail(const char *id, const char *action, const char *via)
{
	char key[64], err[256];
	json_t *recs;

	snprintf(key, sizeof(key), "audit:business:%s", id);
	recs = hx_audit_read(key, 0, err, sizeof(err));
	if (recs == NULL)
		fail_msg("audit of business %s: %s", id, err);
	if (hx_audit_count(recs, "kind", "business", "action", action, "via", via, NULL) != 1)
		fail_msg("audit of business %s: no %s record via %s", id, action, via);
	json_decref(recs);
}

/* ---- tests ------------------------------------------------------------------------- */

/* Unverified: its own callback number is texted, another number is not;
 * the refusal is recorded on the reminder (claim and scheduler paths)
 * and shown on the business's dashboard with the banner. */
static void test_unverified_only_own_number(void **state)
{
	struct dc_owner o;
	struct tbiz t;
	struct buf allowed = BUF_INIT;
	char own[13], *page, *path;
	PGresult *r;
	(void)state;

	dc_owner_or_fail(&o, "owner", "UTC");
	memset(&t, 0, sizeof(t));
	snprintf(t.id, sizeof(t.id), "%s", o.biz);
	hx_random_phone(own);
	hx_db_cmd_or_fail("UPDATE businesses SET verified = false, callback_phone = $2,"
		" window_start = '00:00', window_end = '23:59:59', twilio_from = '+15005550006',"
		" hourly_limit = 100000 WHERE id = $1::bigint", 2, (const char *[]){ o.biz, own });
	tbiz_add_or_fail(&t, own);   /* 0: its own number */
	tbiz_add_or_fail(&t, NULL);  /* 1: someone else, through a worker's claim */
	tbiz_add_or_fail(&t, NULL);  /* 2: someone else, through the scheduler */
	/* Even allowed outside production, the other numbers are refused. */
	allow_add(&allowed, &t);
	{
		long long ids[2] = { atoll(t.reminder[0]), atoll(t.reminder[1]) };
		assert_int_equal(queue_push(t_rds, ids, 2), 0);
	}
	assert_int_equal(worker_drain(buf_str(&allowed)), 0);
	assert_int_equal(sim_texts_or_fail(own), 1);
	assert_int_equal(sim_texts_or_fail(t.phone[1]), 0);
	r = hx_db_exec_or_fail("SELECT status, status_reason FROM reminders WHERE id = $1::bigint",
		1, (const char *[]){ t.reminder[1] });
	assert_string_equal(PQgetvalue(r, 0, 0), "pending");
	assert_string_equal(PQgetvalue(r, 0, 1),
		"blocked: not allowed — unverified business: only its own number");
	PQclear(r);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM contact_attempts WHERE"
		" reminder_id = $1::bigint", 1, (const char *[]){ t.reminder[1] }), 0);

	/* The scheduler records its refusal and queues nothing for it. */
	{
		struct buf out = BUF_INIT;
		assert_int_equal(ringfence_cli(&out, "scheduler --once"), 0);
		buf_free(&out);
	}
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminders WHERE id = $1::bigint"
		" AND status = 'pending' AND status_reason = 'blocked: not allowed — unverified"
		" business: only its own number'", 1, (const char *[]){ t.reminder[2] }), 1);
	assert_int_equal(worker_drain(buf_str(&allowed)), 0);
	assert_int_equal(sim_texts_or_fail(t.phone[2]), 0);

	/* The dashboard: the banner, and the appointment says blocked. */
	page = dc_get_or_fail(o.c, "/today", 200);
	has_or_fail(page, "This business is not verified yet.", "the unverified banner");
	has_or_fail(page, own, "the banner names its own number");
	free(page);
	path = xasprintf("/appointments/%s", t.appt[1]);
	page = dc_get_or_fail(o.c, path, 200);
	has_or_fail(page, "blocked (not allowed)", "the refused reminder");
	free(page);
	free(path);

	/* Verified while still fresh, the refused reminder goes, once. */
	{
		struct buf out = BUF_INIT;
		char *cmd = xasprintf("business verify %s --reason 'owner identified' --by tester",
			o.biz);
		assert_int_equal(ringfence_cli(&out, cmd), 0);
		free(cmd);
		buf_free(&out);
	}
	{
		long long id = atoll(t.reminder[1]);
		assert_int_equal(queue_push(t_rds, &id, 1), 0);
		assert_int_equal(queue_push(t_rds, &id, 1), 0);
	}
	assert_int_equal(worker_drain(buf_str(&allowed)), 0);
	assert_int_equal(sim_texts_or_fail(t.phone[1]), 1);
	page = dc_get_or_fail(o.c, "/today", 200);
	if (strstr(page, "This business is not verified yet.") != NULL)
		fail_msg("the unverified banner is still shown after verification");
	free(page);
	buf_free(&allowed);
	dc_owner_free(&o);
}

/* An unverified business cannot make another number "its own": the
 * settings form refuses a new callback number (422, nothing changed)
 * but saves the rest with the same number; once verified, the number
 * can change. */
static void test_unverified_callback_fixed(void **state)
{
	struct dc_owner o;
	struct dc_response r;
	char own[13], other[13], *v;
	(void)state;

	dc_owner_or_fail(&o, "owner", "UTC");
	hx_random_phone(own);
	hx_random_phone(other);
	hx_db_cmd_or_fail("UPDATE businesses SET verified = false, callback_phone = $2"
		" WHERE id = $1::bigint", 2, (const char *[]){ o.biz, own });
	assert_int_equal(dc_post_form(o.c, "/settings/business", &r, "name", "Renamed Clinic",
		"time_zone", "UTC", "window_start", "08:00", "window_end", "20:00",
		"callback_phone", other, NULL), 0);
	if (r.status != 422 || strstr(buf_str(&r.body), "until an operator verifies") == NULL)
		fail_msg("a new callback number of an unverified business: HTTP %ld\n%s", r.status,
			buf_str(&r.body));
	dc_response_free(&r);
	v = hx_db_value_or_fail("SELECT concat_ws('|', name, callback_phone) FROM businesses"
		" WHERE id = $1::bigint", 1, (const char *[]){ o.biz });
	if (strstr(v, "Renamed Clinic") != NULL || strstr(v, own) == NULL)
		fail_msg("the refused form changed the business: %s", v);
	free(v);
	assert_int_equal(dc_post_form(o.c, "/settings/business", &r, "name", "Renamed Clinic",
		"time_zone", "UTC", "window_start", "08:00", "window_end", "20:00",
		"callback_phone", own, NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	hx_db_cmd_or_fail("UPDATE businesses SET verified = true WHERE id = $1::bigint", 1,
		(const char *[]){ o.biz });
	assert_int_equal(dc_post_form(o.c, "/settings/business", &r, "name", "Renamed Clinic",
		"time_zone", "UTC", "window_start", "08:00", "window_end", "20:00",
		"callback_phone", other, NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	v = hx_db_value_or_fail("SELECT concat_ws('|', name, callback_phone) FROM businesses"
		" WHERE id = $1::bigint", 1, (const char *[]){ o.biz });
	if (strstr(v, "Renamed Clinic") == NULL || strstr(v, other) == NULL)
		fail_msg("the verified business's form did not save: %s", v);
	free(v);
	dc_owner_free(&o);
}

/* The CLI verifies with who, when and why; bad input is a one-line
 * reason and a non-zero exit; the dashboard's form is an operator's
 * (an owner gets 404 and nothing changes). */
static void test_verify_cli_and_dashboard(void **state)
{
	struct dc_owner owner, op;
	struct dc_response r;
	struct tbiz a, b;
	struct buf out = BUF_INIT;
	char *cmd, *page, *path;
	(void)state;

	tbiz_new_or_fail(&a, "Trial CLI verify", 0);
	assert_int_equal(ringfence_cli(&out, "business verify 999999999 --reason x --by tester"), 1);
	has_or_fail(buf_str(&out), "no business 999999999", "unknown id");
	cmd = xasprintf("business verify %s --reason '' --by tester", a.id);
	assert_int_equal(ringfence_cli(&out, cmd), 2);
	has_or_fail(buf_str(&out), "needs --reason", "empty reason");
	free(cmd);
	assert_int_equal(ringfence_cli(&out, "business verify nope --reason x"), 2);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM businesses WHERE id = $1::bigint"
		" AND NOT verified", 1, (const char *[]){ a.id }), 1);
	cmd = xasprintf("business verify %s --reason 'called the clinic back' --by tester", a.id);
	assert_int_equal(ringfence_cli(&out, cmd), 0);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM businesses WHERE id = $1::bigint"
		" AND verified AND verified_by = 'tester' AND verify_reason = 'called the clinic back'"
		" AND verified_at > now() - interval '5 minutes'", 1, (const char *[]){ a.id }), 1);
	assert_int_equal(ringfence_cli(&out, cmd), 1);
	has_or_fail(buf_str(&out), "already verified", "already verified");
	free(cmd);
	cmd = xasprintf("business status %s", a.id);
	assert_int_equal(ringfence_cli(&out, cmd), 0);
	has_or_fail(buf_str(&out), "verify by tester: called the clinic back", "the history");
	free(cmd);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM business_events WHERE business_id"
		" = $1::bigint AND event = 'verify' AND actor = 'tester'", 1, (const char *[]){ a.id }),
		1);
	audit_has_or_fail(a.id, "verify", "cli");

	/* The dashboard. */
	tbiz_new_or_fail(&b, "Trial dashboard verify", 0);
	dc_owner_or_fail(&owner, "owner", NULL);
	dc_owner_or_fail(&op, "operator", NULL);
	free(dc_get_or_fail(owner.c, "/today", 200));
	path = xasprintf("/operator/businesses/%s/verify", b.id);
	assert_int_equal(dc_post_form(owner.c, path, &r, "reason", "I say so", NULL), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM businesses WHERE id = $1::bigint"
		" AND NOT verified", 1, (const char *[]){ b.id }), 1);

	/* Found by its number (an operator with many businesses searches:
	 * the page shows at most DASH_BUSINESSES_SHOWN). */
	{
		char *search = xasprintf("/operator/businesses?q=%s", b.id);
		page = dc_get_or_fail(op.c, search, 200);
		free(search);
	}
	{
		char *form = xasprintf("action=\"/operator/businesses/%s/verify\"", b.id);
		has_or_fail(page, form, "the verify form");
		free(form);
	}
	{
		char *other = dc_get_or_fail(op.c, "/operator/businesses?q=no%25such_business%25here",
			200);
		has_or_fail(other, "No business matches.", "a search that finds nothing");
		free(other);
	}
	has_or_fail(page, "Not verified", "the state");
	free(page);
	assert_int_equal(dc_post_form(op.c, path, &r, "reason", " \r\n", NULL), 0);
	assert_int_equal(r.status, 422);
	has_or_fail(buf_str(&r.body), "Give a reason", "no reason");
	dc_response_free(&r);
	assert_int_equal(dc_post_form(op.c, path, &r, "csrf", "wrong", "reason", "ok", NULL), 0);
	assert_int_equal(r.status, 403);
	dc_response_free(&r);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM businesses WHERE id = $1::bigint"
		" AND NOT verified", 1, (const char *[]){ b.id }), 1);
	dc_post_see_other_or_fail(op.c, path, "/operator/businesses?notice=business_verified",
		"reason", "documents checked", NULL);
	{
		const char *p[2] = { b.id, op.acc.email };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM businesses WHERE id ="
			" $1::bigint AND verified AND verified_by = $2 AND verify_reason ="
			" 'documents checked'", 2, p), 1);
	}
	audit_has_or_fail(b.id, "verify", "dashboard");
	assert_int_equal(dc_post_form(op.c, path, &r, "reason", "again", NULL), 0);
	assert_int_equal(r.status, 409);
	dc_response_free(&r);
	free(path);
	path = xasprintf("/operator/businesses/%s/unverify", b.id);
	dc_post_see_other_or_fail(op.c, path, "/operator/businesses?notice=business_unverified",
		"reason", "wrong documents", NULL);
	free(path);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM businesses WHERE id = $1::bigint"
		" AND NOT verified AND verified_at IS NULL", 1, (const char *[]){ b.id }), 1);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM business_events WHERE business_id"
		" = $1::bigint", 1, (const char *[]){ b.id }), 2);
	buf_free(&out);
	dc_owner_free(&owner);
	dc_owner_free(&op);
}

/* A business verified just now sends 60 at once while an established one
 * sends 20: the new one stops at 50 and is held (row, reason, event,
 * dashboards); the other's all go.  The hold survives a Redis restart;
 * resume lets the fresh ones go, never the stale one. */
static void test_new_business_spike_held(void **state)
{
	struct tbiz n, e;
	struct buf allowed = BUF_INIT, out = BUF_INIT;
	struct dc_owner op;
	char *cmd, *page;
	PGresult *r;
	(void)state;

	tbiz_new_or_fail(&n, "Trial new business", 0);
	tbiz_new_or_fail(&e, "Trial established business", 1);
	cmd = xasprintf("business verify %s --reason 'new customer' --by tester", n.id);
	assert_int_equal(ringfence_cli(&out, cmd), 0);
	free(cmd);
	for (int i = 0; i < 60; i++)
		tbiz_add_or_fail(&n, NULL);
	for (int i = 0; i < 20; i++)
		tbiz_add_or_fail(&e, NULL);
	allow_add(&allowed, &n);
	allow_add(&allowed, &e);
	/* Both businesses due together, in one ready set. */
	enqueue_all_or_fail(&n);
	enqueue_all_or_fail(&e);
	assert_int_equal(worker_drain(buf_str(&allowed)), 0);

	assert_int_equal(contacts_of(n.id), 50);
	assert_int_equal(sim_texts_all_or_fail(&n), 50);
	assert_int_equal(contacts_of(e.id), 20);
	assert_int_equal(sim_texts_all_or_fail(&e), 20);
	r = hx_db_exec_or_fail("SELECT reason FROM business_holds WHERE business_id = $1::bigint",
		1, (const char *[]){ n.id });
	assert_int_equal(PQntuples(r), 1);
	has_or_fail(PQgetvalue(r, 0, 0), "new business: 50 contacts on", "the hold's reason");
	has_or_fail(PQgetvalue(r, 0, 0), "= 50", "the threshold");
	PQclear(r);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM business_holds WHERE business_id"
		" = $1::bigint", 1, (const char *[]){ e.id }), 0);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM business_events WHERE business_id"
		" = $1::bigint AND event = 'hold' AND actor = 'failsafe'", 1, (const char *[]){ n.id }), 1);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminders WHERE business_id ="
		" $1::bigint AND status = 'pending'", 1, (const char *[]){ n.id }), 10);
	{
		char key[64], err[256];
		json_t *recs;
		snprintf(key, sizeof(key), "audit:business:%s", n.id);
		recs = hx_audit_read(key, 0, err, sizeof(err));
		assert_non_null(recs);
		assert_int_equal(hx_audit_count(recs, "kind", "failsafe", "action", "business_held",
			NULL), 1);
		json_decref(recs);
	}

	/* Redis loses everything: the hold is PostgreSQL's. */
	assert_int_equal(hx_stack("redis-stop", NULL, 60), 0);
	assert_int_equal(hx_stack("redis-start", NULL, 60), 0);
	hx_disconnect();
	rds_close(t_rds);
	t_rds = rds_open(hx_env.redis_url);
	assert_non_null(t_rds);
	enqueue_all_or_fail(&n);
	assert_int_equal(worker_drain(buf_str(&allowed)), 0);
	assert_int_equal(contacts_of(n.id), 50);
	assert_int_equal(sim_texts_all_or_fail(&n), 50);

	/* The dashboards show it. */
	dc_owner_or_fail(&op, "operator", NULL);
	page = dc_get_or_fail(op.c, "/operator/businesses", 200);
	has_or_fail(page, "Held by their own failsafe", "the held list");
	{
		char *form = xasprintf("action=\"/operator/businesses/%s/resume\"", n.id);
		has_or_fail(page, form, "the resume form");
		free(form);
	}
	free(page);
	dc_post_see_other_or_fail(op.c, "/operator/business", "/today?notice=business_chosen",
		"business_id", n.id, NULL);
	page = dc_get_or_fail(op.c, "/today", 200);
	has_or_fail(page, "messages are held by the failsafe", "the business's banner");
	has_or_fail(page, "new business: 50 contacts", "the banner's reason");
	free(page);
	{
		/* A held reminder: the last one, never claimed. */
		char *path = NULL;
		for (int i = 0; i < n.n && path == NULL; i++)
			if (hx_db_int_or_fail("SELECT count(*) FROM reminders WHERE id = $1::bigint AND"
				" status = 'pending'", 1, (const char *[]){ n.reminder[i] }) == 1)
				path = xasprintf("/appointments/%s", n.appt[i]);
		assert_non_null(path);
		page = dc_get_or_fail(op.c, path, 200);
		has_or_fail(page, "held by the failsafe", "the held reminder's state");
		free(page);
		free(path);
	}

	/* Resume: one held reminder has gone stale meanwhile and is not sent. */
	hx_db_cmd_or_fail("UPDATE reminders SET stale_at = now() - interval '1 second' WHERE id ="
		" (SELECT min(id) FROM reminders WHERE business_id = $1::bigint AND status ="
		" 'pending')", 1, (const char *[]){ n.id });
	cmd = xasprintf("business resume %s --reason '' --by tester", n.id);
	assert_int_equal(ringfence_cli(&out, cmd), 2);
	free(cmd);
	cmd = xasprintf("business resume %s --reason 'a real campaign' --by tester", n.id);
	assert_int_equal(ringfence_cli(&out, cmd), 0);
	assert_int_equal(ringfence_cli(&out, cmd), 1);
	has_or_fail(buf_str(&out), "not held", "resume twice");
	free(cmd);
	enqueue_all_or_fail(&n);
	assert_int_equal(worker_drain(buf_str(&allowed)), 0);
	assert_int_equal(contacts_of(n.id), 59);
	assert_int_equal(sim_texts_all_or_fail(&n), 59);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM business_holds WHERE business_id"
		" = $1::bigint", 1, (const char *[]){ n.id }), 0);
	buf_free(&allowed);
	buf_free(&out);
	dc_owner_free(&op);
}

/* An established business (verified before the rules, or more than 7
 * days ago) is not held by the new business's failsafe. */
static void test_established_not_held(void **state)
{
	struct tbiz t;
	struct buf allowed = BUF_INIT;
	(void)state;

	tbiz_new_or_fail(&t, "Trial verified long ago", 1);
	hx_db_cmd_or_fail("UPDATE businesses SET verified_at = now() - interval '8 days',"
		" verified_by = 'tester', verify_reason = 'long ago' WHERE id = $1::bigint", 1,
		(const char *[]){ t.id });
	for (int i = 0; i < 55; i++)
		tbiz_add_or_fail(&t, NULL);
	allow_add(&allowed, &t);
	enqueue_all_or_fail(&t);
	assert_int_equal(worker_drain(buf_str(&allowed)), 0);
	assert_int_equal(contacts_of(t.id), 55);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM business_holds WHERE business_id"
		" = $1::bigint", 1, (const char *[]){ t.id }), 0);
	buf_free(&allowed);
}

/* The time zone (SQL) where it is 03:00 now, as HX_MIDDAY_TZ_SQL is
 * where it is 13:00. */
#define T_NIGHT_TZ_SQL \
	"(SELECT 'Etc/GMT' || CASE WHEN n > 0 THEN '-' || n WHEN n < 0 THEN '+' || -n ELSE '' END" \
	" FROM (SELECT ((3 - extract(hour FROM now() AT TIME ZONE 'UTC')::int + 36) % 24) - 12" \
	" AS n) h)"

/* A test row for appointment appt written straight into the table (as
 * any writer but the dashboard would) is refused with a reason holding
 * want. */
static void test_row_refused_or_fail(const char *appt, const char *want, const char *what)
{
	char err[512];
	PGresult *r = hx_db_exec("INSERT INTO reminders (business_id, appointment_id, channel,"
		" offset_minutes, attempt, due_at, stale_at, to_address, kind) SELECT business_id, id,"
		" 'sms', 60, 5, now(), now() + interval '10 minutes', 'x', 'test' FROM appointments"
		" WHERE id = $1::bigint", 1, (const char *[]){ appt }, err, sizeof(err));

	if (r != NULL) {
		PQclear(r);
		fail_msg("%s: the test row was taken", what);
	}
	has_or_fail(err, want, what);
}

/* Puts the reminder ids of r's first column on the ready queue. */
static void queue_rows_or_fail(const PGresult *r)
{
	for (int i = 0; i < PQntuples(r); i++) {
		long long id = atoll(PQgetvalue(r, i, 0));
		assert_int_equal(queue_push(t_rds, &id, 1), 0);
	}
}

/* Test reminders: the dashboard refuses outside business hours of the
 * client's zone; any other writer of a test row meets the same rule
 * (the trigger): the sixth in an hour and one at night are refused. */
static void test_test_reminder_rules(void **state)
{
	struct dc_owner o;
	struct tbiz t;
	char *path, *body;
	PGresult *r;
	long st;
	(void)state;

	dc_owner_or_fail(&o, "owner", "UTC");
	memset(&t, 0, sizeof(t));
	snprintf(t.id, sizeof(t.id), "%s", o.biz);
	hx_db_cmd_or_fail("UPDATE businesses SET window_start = '00:00', window_end = '23:59:59'"
		" WHERE id = $1::bigint", 1, (const char *[]){ o.biz });
	tbiz_add_or_fail(&t, NULL);
	/* The client lives where it is 03:00. */
	hx_db_cmd_or_fail("UPDATE clients SET time_zone = " T_NIGHT_TZ_SQL
		" WHERE business_id = $1::bigint", 1, (const char *[]){ o.biz });
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM clients WHERE business_id ="
		" $1::bigint AND NOT rf_business_hours(now(), time_zone)", 1,
		(const char *[]){ o.biz }), 1);
	free(dc_get_or_fail(o.c, "/today", 200));
	path = xasprintf("/appointments/%s/test-reminder", t.appt[0]);
	{
		struct dc_response rs;
		assert_int_equal(dc_post_form(o.c, path, &rs, "channel", "sms", NULL), 0);
		st = rs.status;
		body = xstrdup(buf_str(&rs.body));
		dc_response_free(&rs);
	}
	assert_int_equal(st, 422);
	has_or_fail(body, "only in business hours, 09:00 to 18:00", "the hours refusal");
	free(body);
	free(path);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminders WHERE business_id ="
		" $1::bigint AND kind = 'test'", 1, (const char *[]){ o.biz }), 0);

	/* Another writer, at night: refused by the trigger. */
	test_row_refused_or_fail(t.appt[0], "outside business hours", "the trigger's hours refusal");
	/* At midday: five go, the sixth in the hour is refused. */
	hx_db_cmd_or_fail("UPDATE clients SET time_zone = " HX_MIDDAY_TZ_SQL
		" WHERE business_id = $1::bigint", 1, (const char *[]){ o.biz });
	for (int i = 0; i < 5; i++)
		hx_db_cmd_or_fail("INSERT INTO reminders (business_id, appointment_id, channel,"
			" offset_minutes, attempt, due_at, stale_at, to_address, kind) SELECT business_id,"
			" id, 'sms', 60, 5, now() - interval '1 minute', now() + interval '10 minutes', $2,"
			" 'test'"
			" FROM appointments WHERE id = $1::bigint", 2,
			(const char *[]){ t.appt[0], t.phone[0] });
	test_row_refused_or_fail(t.appt[0], "5 an hour", "the trigger's hourly refusal");
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminders WHERE business_id ="
		" $1::bigint AND kind = 'test'", 1, (const char *[]){ o.biz }), 5);

	/* Queued at midday, claimed at night (the client "moved"): the
	 * claim keeps them waiting; back in business hours they go. */
	hx_db_cmd_or_fail("UPDATE clients SET time_zone = " T_NIGHT_TZ_SQL
		" WHERE business_id = $1::bigint", 1, (const char *[]){ o.biz });
	r = hx_db_exec_or_fail("SELECT id FROM reminders WHERE business_id = $1::bigint AND kind ="
		" 'test'", 1, (const char *[]){ o.biz });
	queue_rows_or_fail(r);
	assert_int_equal(worker_drain(t.phone[0]), 0);
	assert_int_equal(sim_texts_or_fail(t.phone[0]), 0);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminders r, reminder_block(r.id,"
		" now()) k WHERE r.business_id = $1::bigint AND r.kind = 'test' AND r.status ="
		" 'pending' AND k.reason LIKE 'test reminder outside business hours%'", 1,
		(const char *[]){ o.biz }), 5);
	hx_db_cmd_or_fail("UPDATE clients SET time_zone = " HX_MIDDAY_TZ_SQL
		" WHERE business_id = $1::bigint", 1, (const char *[]){ o.biz });
	queue_rows_or_fail(r);
	PQclear(r);
	assert_int_equal(worker_drain(t.phone[0]), 0);
	assert_true(sim_texts_or_fail(t.phone[0]) > 0);
	dc_owner_free(&o);
}

static int group_setup(void **state)
{
	(void)state;
	if (hx_init_sim_api("trial tests", &api_url, api_base, sizeof(api_base)) < 0)
		return -1;
	if ((bin_path = hx_ringfence_bin("trial")) == NULL)
		return -1;
	t_rds = rds_open(hx_env.redis_url);
	if (t_rds == NULL)
		return -1;
	t_initialised = 1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (t_initialised)
		rds_close(t_rds);
	hx_fini();
	return 0;
}

int trial_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unverified_only_own_number),
		cmocka_unit_test(test_unverified_callback_fixed),
		cmocka_unit_test(test_verify_cli_and_dashboard),
		cmocka_unit_test(test_new_business_spike_held),
		cmocka_unit_test(test_established_not_held),
		cmocka_unit_test(test_test_reminder_rules),
	};
	return cmocka_run_group_tests_name("integration: trial", tests, group_setup,
		group_teardown);
}

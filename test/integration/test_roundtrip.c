/* Integration tests: what a voice webhook costs in PostgreSQL round trips.
 *
 * engine_handle is called directly, with its own struct db on the stack's
 * PostgreSQL, and db_round_trips is read before and after: a call's
 * first request (the CallSid bound), a Gather action moving to a plain
 * state and a replay must each be one round trip on a warm connection
 * (its statements prepared); an action transition's count is printed.
 * The same guarantees as over HTTP are checked on the way: one transition
 * per input when two identical webhooks race, a replay answered with the
 * current state, the apology with nothing changed for an unknown call,
 * a CallSid that does not match, and a database that is down. */
#include "harness.h"
#include "groups.h"

#include "arena.h"
#include "db.h"
#include "engine.h"
#include "util.h"

#include <pthread.h>
#include <unistd.h>

static struct engine *rt_engine;

static int rt_setup(void **state)
{
	char err[512];
	const char *root = getenv("RINGFENCE_ROOT");

	if (hx_group_setup(state) != 0)
		return -1;
	rt_engine = engine_new(root && root[0] ? root : ".", hx_env.public_url, err, sizeof(err));
	if (rt_engine == NULL) {
		fprintf(stderr, "# run_integration: roundtrip: %s\n", err);
		return -1;
	}
	return 0;
}

static int rt_teardown(void **state)
{
	engine_free(rt_engine);
	rt_engine = NULL;
	return hx_group_teardown(state);
}

/* A connection of the test's own, connected (fails the test otherwise). */
static struct db *db_or_fail(void)
{
	struct db *db = db_open(hx_env.database_url);
	if (db_connect(db) < 0)
		fail_msg("cannot connect: %s", db_last_error(db));
	return db;
}

/* What each test works with: a connection of its own, an arena, and the
 * last webhook's TwiML, outcome and engine_handle's return. */
struct rt {
	struct db *db;
	struct arena *a;
	struct buf out;
	struct engine_outcome oc;
	int rc;
};

static void rt_open(struct rt *t, struct db *db)
{
	memset(t, 0, sizeof(*t));
	t->db = db;
	t->a = arena_new(0);
	buf_init(&t->out);
}

static void rt_close(struct rt *t)
{
	buf_free(&t->out);
	arena_free(t->a);
	db_close(t->db);
}

/* The webhook Twilio sends for call c: its first request (state NULL),
 * or the Gather action of state at seq with digits. */
static struct engine_input voice_input(const struct hx_call *c, const char *state, long long seq,
	const char *digits)
{
	struct engine_input in;

	memset(&in, 0, sizeof(in));
	in.flow = "reminder_call";
	in.call_sid = c->call_sid;
	in.token = c->token;
	in.state = state;
	in.seq = state ? seq : -1;
	in.digits = digits;
	in.call_status = "in-progress";
	in.direction = "outbound-api";
	in.from = c->from_number;
	in.to = c->client_phone;
	return in;
}

/* One webhook: its round trips on t's connection; the TwiML in t->out
 * (reset first), the outcome in t->oc, engine_handle's return in t->rc. */
static unsigned long long handle(struct rt *t, const struct engine_input *in)
{
	char err[512] = "";
	unsigned long long before = db_round_trips(t->db);

	buf_reset(&t->out);
	t->rc = engine_handle(rt_engine, t->db, t->a, in, &t->out, &t->oc, err, sizeof(err));
	if (t->rc < 0)
		print_message("# engine_handle: %s\n", err);
	return db_round_trips(t->db) - before;
}

/* The Gather action of the TwiML in out must be for state at seq. */
static void expect_gather_for(const struct buf *out, const char *state, int seq)
{
	struct hx_twiml t;
	char want[96];

	hx_twiml_parse(buf_str(out), out->len, &t);
	snprintf(want, sizeof(want), "&s=%s&n=%d", state, seq);
	if (!t.well_formed || !t.has_gather || t.gather_action == NULL ||
		strstr(t.gather_action, want) == NULL) {
		hx_twiml_free(&t);
		fail_msg("expected a Gather for %s at %d, got %.400s", state, seq, buf_str(out));
	}
	hx_twiml_free(&t);
}

/* The last webhook of r must have been answered with the apology. */
static void expect_apology(const struct rt *r, const char *what)
{
	struct hx_twiml t;

	hx_twiml_parse(buf_str(&r->out), r->out.len, &t);
	if (r->rc != -1 || !t.well_formed || !t.root_response || t.has_gather) {
		hx_twiml_free(&t);
		fail_msg("%s: expected the apology (rc -1), got rc %d: %.300s", what, r->rc,
			buf_str(&r->out));
	}
	hx_twiml_free(&t);
}

static void expect_trips(unsigned long long got, unsigned long long want, const char *what)
{
	print_message("# %s: %llu round trip%s\n", what, got, got == 1 ? "" : "s");
	if (got != want)
		fail_msg("%s cost %llu round trips, not %llu", what, got, want);
}

/* A first request and a press of 1 on a fresh call, so that every
 * statement of those steps is prepared on t's connection. */
static void warm_or_fail(struct rt *t)
{
	struct hx_call w;
	struct engine_input in;

	hx_fixture_call_or_fail(&w);
	in = voice_input(&w, NULL, -1, NULL);
	handle(t, &in);
	assert_int_equal(t->rc, 0);
	in = voice_input(&w, "announce", 0, "1");
	handle(t, &in);
	assert_int_equal(t->rc, 0);
	handle(t, &in);
	assert_int_equal(t->rc, 0);
	in = voice_input(&w, "details", 1, "1");
	handle(t, &in);
	assert_int_equal(t->rc, 0);
	handle(t, &in);
	assert_int_equal(t->rc, 0);
}

static void test_reminder_call_trips(void **state)
{
	struct rt t;
	struct engine_input in;
	struct hx_call c;
	struct hx_snapshot s0, s1;
	unsigned long long n;

	(void)state;
	rt_open(&t, db_or_fail());
	warm_or_fail(&t);
	hx_fixture_call_or_fail(&c);

	in = voice_input(&c, NULL, -1, NULL);
	n = handle(&t, &in);
	assert_int_equal(t.rc, 0);
	expect_gather_for(&t.out, "announce", 0);
	hx_snapshot_or_fail(&c, &s0);
	assert_string_equal(s0.call_sid, c.call_sid);
	expect_trips(n, 1, "first request (CallSid bound)");

	in = voice_input(&c, "announce", 0, "1");
	n = handle(&t, &in);
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.oc.replay, 0);
	assert_string_equal(t.oc.input, "1");
	expect_gather_for(&t.out, "details", 1);
	hx_snapshot_or_fail(&c, &s0);
	assert_string_equal(s0.state, "details");
	assert_int_equal(s0.seq, 1);
	assert_int_equal(s0.events, 1);
	expect_trips(n, 1, "Gather action to a plain state (announce 1 -> details)");

	n = handle(&t, &in);
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.oc.replay, 1);
	assert_null(t.oc.input);
	expect_gather_for(&t.out, "details", 1);
	hx_snapshot_or_fail(&c, &s1);
	hx_snapshot_same_or_fail(&s0, &s1, "a replay");
	expect_trips(n, 1, "replay");

	in = voice_input(&c, "details", 1, "1");
	n = handle(&t, &in);
	assert_int_equal(t.rc, 0);
	assert_string_equal(t.oc.action, "confirm");
	hx_snapshot_or_fail(&c, &s0);
	assert_string_equal(s0.state, "confirmed");
	assert_int_equal(s0.seq, 2);
	assert_int_equal(s0.events, 2);
	assert_string_equal(s0.appointment_status, "confirmed");
	print_message("# action transition (details 1 -> confirmed, confirm): %llu round trips"
		" (BEGIN with the step, the action's own statements, the event, the call's move"
		" and COMMIT)\n", n);
	if (n < 3)
		fail_msg("an action transition cannot take %llu round trips", n);

	n = handle(&t, &in);
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.oc.replay, 1);
	assert_null(t.oc.action);
	hx_snapshot_or_fail(&c, &s1);
	hx_snapshot_same_or_fail(&s0, &s1, "a replay of an action's URL");
	print_message("# replay of an action's URL: %llu round trips (the step in its"
		" transaction, COMMIT)\n", n);
	if (n > 2)
		fail_msg("a replay of an action's URL cost %llu round trips", n);

	rt_close(&t);
}

/* The first request of a call to a business's number makes the call's
 * row in the same round trip. */
static void test_inbound_first_request(void **state)
{
	struct rt t;
	struct engine_input in;
	char sid[2][35], from[13], to[13];
	unsigned long long n = 0;

	(void)state;
	rt_open(&t, db_or_fail());
	hx_random_phone(from);
	hx_random_phone(to);
	for (int i = 0; i < 2; i++) {
		hx_random_call_sid(sid[i]);
		memset(&in, 0, sizeof(in));
		in.flow = ENGINE_INBOUND_FLOW;
		in.call_sid = sid[i];
		in.seq = -1;
		in.call_status = "ringing";
		in.direction = "inbound";
		in.from = from;
		in.to = to;
		n = handle(&t, &in);
		assert_int_equal(t.rc, 0);
		expect_gather_for(&t.out, "ask_code", 0);
	}
	{
		const char *p[1] = { sid[1] };
		char *v = hx_db_value_or_fail("SELECT state || ' ' || seq || ' ' || direction"
			" FROM calls WHERE call_sid = $1", 1, p);
		assert_string_equal(v, "ask_code 0 inbound");
		free(v);
	}
	expect_trips(n, 1, "inbound call's first request (its row made)");
	rt_close(&t);
}

/* An unknown token, an unknown CallSid, a CallSid that is not the call's
 * and a URL of another flow: the apology, and nothing changed. */
static void test_refusals(void **state)
{
	struct rt t;
	struct engine_input in;
	struct hx_call c, other;
	struct hx_snapshot s0, s1;
	char token[33], sid[35];
	unsigned long long n;

	(void)state;
	rt_open(&t, db_or_fail());
	hx_fixture_call_or_fail(&c);
	hx_fixture_call_or_fail(&other);
	in = voice_input(&c, NULL, -1, NULL);
	handle(&t, &in);
	assert_int_equal(t.rc, 0);
	hx_snapshot_or_fail(&c, &s0);

	hx_random_hex(token, 16);
	in = voice_input(&c, "announce", 0, "1");
	in.token = token;
	n = handle(&t, &in);
	expect_apology(&t, "an unknown token");
	expect_trips(n, 1, "unknown token");

	hx_random_call_sid(sid);
	in = voice_input(&c, "announce", 0, "1");
	in.token = NULL;
	in.call_sid = sid;
	handle(&t, &in);
	expect_apology(&t, "an unknown CallSid");

	in = voice_input(&c, "announce", 0, "1");
	in.call_sid = other.call_sid;
	handle(&t, &in);
	expect_apology(&t, "another call's CallSid");

	in = voice_input(&c, "announce", 0, "1");
	in.flow = ENGINE_INBOUND_FLOW;
	handle(&t, &in);
	expect_apology(&t, "another flow's URL");

	hx_snapshot_or_fail(&c, &s1);
	hx_snapshot_same_or_fail(&s0, &s1, "refused webhooks");
	{
		/* The other call's CallSid was not bound to it either. */
		const char *p[1] = { other.call_id };
		char *v = hx_db_value_or_fail("SELECT COALESCE(call_sid, '') FROM calls WHERE id = $1",
			1, p);
		assert_string_equal(v, "");
		free(v);
	}
	rt_close(&t);
}

/* Two identical presses at once. */
struct racer {
	const struct hx_call *c;
	pthread_barrier_t *go;
	struct rt t;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct engine_input in = voice_input(r->c, "announce", 0, "1");
	char err[512];

	pthread_barrier_wait(r->go);
	r->t.rc = engine_handle(rt_engine, r->t.db, r->t.a, &in, &r->t.out, &r->t.oc, err,
		sizeof(err));
	return NULL;
}

static void test_identical_presses_race(void **state)
{
	struct racer r[2];
	pthread_barrier_t go;

	(void)state;
	memset(r, 0, sizeof(r));
	for (int k = 0; k < 2; k++)
		rt_open(&r[k].t, db_or_fail());
	for (int round = 0; round < 10; round++) {
		struct hx_call c;
		struct hx_snapshot s;
		pthread_t th[2];
		struct engine_input in;
		int moved = 0, replays = 0;

		hx_fixture_call_or_fail(&c);
		in = voice_input(&c, NULL, -1, NULL);
		r[0].t.oc.replay = 0;
		handle(&r[0].t, &in);
		assert_int_equal(r[0].t.rc, 0);
		pthread_barrier_init(&go, NULL, 2);
		for (int k = 0; k < 2; k++) {
			r[k].c = &c;
			r[k].go = &go;
			buf_reset(&r[k].t.out);
			pthread_create(&th[k], NULL, race, &r[k]);
		}
		for (int k = 0; k < 2; k++)
			pthread_join(th[k], NULL);
		pthread_barrier_destroy(&go);
		for (int k = 0; k < 2; k++) {
			assert_int_equal(r[k].t.rc, 0);
			/* Both answer with the state the call is in now. */
			expect_gather_for(&r[k].t.out, "details", 1);
			moved += r[k].t.oc.input != NULL;
			replays += r[k].t.oc.replay;
		}
		assert_int_equal(moved, 1);
		assert_int_equal(replays, 1);
		hx_snapshot_or_fail(&c, &s);
		assert_string_equal(s.state, "details");
		assert_int_equal(s.seq, 1);
		assert_int_equal(s.events, 1);
	}
	for (int k = 0; k < 2; k++)
		rt_close(&r[k].t);
}

/* An action transition whose last round trip fails (the call cannot
 * move past seq 1000): the apology, and the action's change is rolled
 * back with everything else; the connection serves the next webhook. */
static void test_action_rolled_back(void **state)
{
	struct rt t;
	struct engine_input in;
	struct hx_call c;
	struct hx_snapshot s0, s1;

	(void)state;
	rt_open(&t, db_or_fail());
	hx_fixture_call_or_fail(&c);
	{
		const char *p[2] = { c.call_id, c.call_sid };
		PGresult *res = hx_db_exec_or_fail("UPDATE calls SET state = 'details', seq = 1000,"
			" call_sid = $2 WHERE id = $1", 2, p);
		PQclear(res);
	}
	hx_snapshot_or_fail(&c, &s0);
	in = voice_input(&c, "details", 1000, "1");
	handle(&t, &in);
	expect_apology(&t, "a transition that cannot be saved");
	hx_snapshot_or_fail(&c, &s1);
	hx_snapshot_same_or_fail(&s0, &s1, "a rolled-back action");
	assert_string_equal(s1.appointment_status, "booked");
	{
		const char *p[1] = { c.appointment_id };
		char *v = hx_db_value_or_fail("SELECT count(*) FROM office_notifications"
			" WHERE appointment_id = $1", 1, p);
		assert_string_equal(v, "0");
		free(v);
	}
	handle(&t, &in);
	expect_apology(&t, "the same again");
	in = voice_input(&c, "announce", 0, "1");
	handle(&t, &in);
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.oc.replay, 1);
	expect_gather_for(&t.out, "details", 1000);
	rt_close(&t);
}

/* A database nobody listens on: the apology, a connection error. */
static void test_database_down(void **state)
{
	struct rt t;
	struct engine_input in;
	struct hx_call c;

	(void)state;
	rt_open(&t, db_open("postgresql://127.0.0.1:1/ringfence?connect_timeout=2"));
	hx_fixture_call_or_fail(&c);
	in = voice_input(&c, "announce", 0, "1");
	handle(&t, &in);
	/* Held: the same URL again with hold=1 and the press carried. */
	assert_int_equal(t.rc, 1);
	assert_int_equal(t.oc.hold, 1);
	assert_memory_equal(db_last_sqlstate(t.db), "08", 2);
	{
		char *want = xasprintf("%s/twilio/voice/reminder_call?c=%s&s=announce&n=0&hold=1"
			"&digits=1", hx_env.public_url, c.token);
		hx_expect_hold(buf_str(&t.out), t.out.len, want, ENGINE_HOLD_PAUSE_S,
			"database down");
		free(want);
	}
	/* The last hold used: the apology. */
	in.hold = ENGINE_HOLD_MAX;
	handle(&t, &in);
	expect_apology(&t, "database down after every hold");
	assert_int_equal(t.oc.hold_exhausted, 1);
	/* A <Record>'s action is never held: its recording is not carried. */
	in.hold = 0;
	in.digits = NULL;
	in.recording_url = "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE0";
	handle(&t, &in);
	expect_apology(&t, "a recording with the database down");
	assert_int_equal(t.oc.hold, 0);
	rt_close(&t);
}

/* Closes db's connection from the server's side, as a restart does. */
static void server_closes(struct db *db)
{
	char pid[16];
	const char *p[1] = { pid };
	PGresult *res;

	snprintf(pid, sizeof(pid), "%d", PQbackendPID(db_pgconn(db)));
	res = hx_db_exec_or_fail("SELECT pg_terminate_backend($1::integer)", 1, p);
	PQclear(res);
	/* The backend's goodbye reaches the socket before the next webhook. */
	for (int i = 0; i < 100; i++) {
		char *v = hx_db_value_or_fail("SELECT count(*) FROM pg_stat_activity"
			" WHERE pid = $1::integer", 1, p);
		int gone = strcmp(v, "0") == 0;
		free(v);
		if (gone)
			break;
		usleep(20000);
	}
}

/* The server closes the connection between two webhooks of one call
 * (a restart): each next webhook, the one-statement step and an action's
 * pipeline, reconnects, prepares its statements again and is served. */
static void test_server_closed_between_webhooks(void **state)
{
	struct rt t;
	struct engine_input in;
	struct hx_call c;
	struct hx_snapshot s;

	(void)state;
	rt_open(&t, db_or_fail());
	warm_or_fail(&t);
	hx_fixture_call_or_fail(&c);
	in = voice_input(&c, NULL, -1, NULL);
	handle(&t, &in);
	assert_int_equal(t.rc, 0);

	server_closes(t.db);
	in = voice_input(&c, "announce", 0, "1");
	handle(&t, &in);
	assert_int_equal(t.rc, 0);
	expect_gather_for(&t.out, "details", 1);

	server_closes(t.db);
	in = voice_input(&c, "details", 1, "1");
	handle(&t, &in);
	assert_int_equal(t.rc, 0);
	assert_string_equal(t.oc.action, "confirm");
	hx_snapshot_or_fail(&c, &s);
	assert_string_equal(s.state, "confirmed");
	assert_int_equal(s.seq, 2);
	assert_string_equal(s.appointment_status, "confirmed");
	rt_close(&t);
}

/* A webhook served on another thread (the step re-run test). */
struct blocked {
	struct rt *t;
	struct engine_input in;
};

static void *serve_blocked(void *arg)
{
	struct blocked *b = arg;
	handle(b->t, &b->in);
	return NULL;
}

/* Webhook in for call c blocks on the call's row (holder has it); the
 * server then ends the webhook's connection under the statement (a
 * failover: 57P01) and lets the row go: the engine reconnects, runs the
 * step once more and is served; the press lands once, nothing is held. */
static void press_connection_broken(struct rt *t, struct db *holder, const struct hx_call *c,
	const struct engine_input *in, const char *what)
{
	const char *p[1] = { c->call_id };
	char pid[16];
	const char *pp[1] = { pid };
	struct blocked b = { t, *in };
	pthread_t th;
	PGresult *res;
	int waiting = 0;

	warm_or_fail(t);
	snprintf(pid, sizeof(pid), "%d", PQbackendPID(db_pgconn(t->db)));
	assert_int_equal(db_begin(holder), 0);
	res = db_exec(holder, "SELECT id FROM calls WHERE id = $1::bigint FOR UPDATE", 1, p);
	assert_non_null(res);
	PQclear(res);
	pthread_create(&th, NULL, serve_blocked, &b);
	for (int i = 0; i < 200 && !waiting; i++) {
		char *v = hx_db_value_or_fail("SELECT count(*) FROM pg_stat_activity"
			" WHERE pid = $1::integer AND wait_event_type = 'Lock'", 1, pp);
		waiting = strcmp(v, "1") == 0;
		free(v);
		if (!waiting)
			usleep(5000);
	}
	if (!waiting) {
		db_rollback(holder);
		pthread_join(th, NULL);
		fail_msg("%s: the step never waited for the row", what);
	}
	PQclear(hx_db_exec_or_fail("SELECT pg_terminate_backend($1::integer)", 1, pp));
	usleep(100000);
	db_rollback(holder);
	pthread_join(th, NULL);
	if (t->rc != 0 || t->oc.hold != 0)
		fail_msg("%s: rc %d, hold %d: %s", what, t->rc, t->oc.hold, buf_str(&t->out));
}

/* The connection breaks under the step, the plain one and an action's:
 * the step is run once more on a new connection, the press lands once. */
static void test_step_rerun_after_broken_connection(void **state)
{
	struct rt t;
	struct db *holder = db_or_fail();
	struct engine_input in;
	struct hx_call c;
	struct hx_snapshot s;

	(void)state;
	rt_open(&t, db_or_fail());
	hx_fixture_call_or_fail(&c);
	in = voice_input(&c, NULL, -1, NULL);
	handle(&t, &in);
	assert_int_equal(t.rc, 0);
	in = voice_input(&c, "announce", 0, "1");
	press_connection_broken(&t, holder, &c, &in, "a plain press");
	expect_gather_for(&t.out, "details", 1);
	in = voice_input(&c, "details", 1, "1");
	press_connection_broken(&t, holder, &c, &in, "an action's press");
	assert_string_equal(t.oc.action, "confirm");
	hx_snapshot_or_fail(&c, &s);
	assert_string_equal(s.state, "confirmed");
	assert_int_equal(s.seq, 2);
	assert_int_equal(s.events, 2);
	assert_string_equal(s.appointment_status, "confirmed");
	db_close(holder);
	rt_close(&t);
}

/* Webhook in for call c while another transaction (holder) holds the
 * call's row past the lock timeout: the apology, SQLSTATE 55P03, nothing
 * changed; then the row is let go. */
static void press_while_locked(struct rt *t, struct db *holder, const struct hx_call *c,
	const struct engine_input *in, const char *what)
{
	const char *p[1] = { c->call_id };
	struct hx_snapshot s0, s1;
	PGresult *res;

	hx_snapshot_or_fail(c, &s0);
	assert_int_equal(db_begin(holder), 0);
	res = db_exec(holder, "SELECT id FROM calls WHERE id = $1::bigint FOR UPDATE", 1, p);
	assert_non_null(res);
	PQclear(res);
	handle(t, in);
	expect_apology(t, what);
	assert_string_equal(db_last_sqlstate(t->db), "55P03");
	hx_snapshot_or_fail(c, &s1);
	hx_snapshot_same_or_fail(&s0, &s1, what);
	db_rollback(holder);
}

/* Another transaction holds the call's row past the lock timeout: the
 * step fails inside the statement (plain) and inside the pipeline
 * (action): the apology, nothing changed, and the same connection takes
 * the same presses once the row is free. */
static void test_lock_timeout_inside_step(void **state)
{
	struct rt t;
	struct db *holder = db_or_fail();
	struct engine_input in;
	struct hx_call c;
	struct hx_snapshot s1;

	(void)state;
	rt_open(&t, db_or_fail());
	hx_fixture_call_or_fail(&c);
	in = voice_input(&c, NULL, -1, NULL);
	handle(&t, &in);
	assert_int_equal(t.rc, 0);
	in = voice_input(&c, "announce", 0, "1");
	press_while_locked(&t, holder, &c, &in, "a plain press on a locked call");

	handle(&t, &in);
	assert_int_equal(t.rc, 0);
	expect_gather_for(&t.out, "details", 1);
	in = voice_input(&c, "details", 1, "1");
	press_while_locked(&t, holder, &c, &in, "an action's press on a locked call");
	hx_snapshot_or_fail(&c, &s1);
	assert_string_equal(s1.appointment_status, "booked");

	handle(&t, &in);
	assert_int_equal(t.rc, 0);
	assert_string_equal(t.oc.action, "confirm");
	hx_snapshot_or_fail(&c, &s1);
	assert_string_equal(s1.state, "confirmed");
	assert_string_equal(s1.appointment_status, "confirmed");
	db_close(holder);
	rt_close(&t);
}

/* Call c must still be in the final status "completed" after what did. */
static void expect_status_completed(const struct hx_call *c, const char *what)
{
	const char *p[1] = { c->call_id };
	char *v = hx_db_value_or_fail("SELECT COALESCE(call_status, '') FROM calls WHERE id = $1",
		1, p);

	if (strcmp(v, "completed") != 0) {
		char got[64];
		snprintf(got, sizeof(got), "%s", v);
		free(v);
		fail_msg("%s from completed to '%s'", what, got);
	}
	free(v);
}

/* A press whose webhook is served after the call's final status callback
 * (the two raced on two workers): the press's transition is kept, but
 * its CallStatus "in-progress" does not take the call back from its
 * final status, on a plain transition or an action's. */
static void test_final_status_kept(void **state)
{
	struct rt t;
	struct engine_input in;
	struct hx_call c;

	(void)state;
	rt_open(&t, db_or_fail());
	hx_fixture_call_or_fail(&c);
	in = voice_input(&c, NULL, -1, NULL);
	handle(&t, &in);
	assert_int_equal(t.rc, 0);
	{
		/* What rf_status_step writes on the call for "completed". */
		const char *p[1] = { c.call_id };
		PGresult *res = hx_db_exec_or_fail("UPDATE calls SET call_status = 'completed'"
			" WHERE id = $1", 1, p);
		PQclear(res);
	}
	in = voice_input(&c, "announce", 0, "1");
	handle(&t, &in);
	assert_int_equal(t.rc, 0);
	assert_string_equal(t.oc.input, "1");
	expect_status_completed(&c, "a late press moved the call");
	in = voice_input(&c, "details", 1, "1");
	handle(&t, &in);
	assert_int_equal(t.rc, 0);
	assert_string_equal(t.oc.action, "confirm");
	expect_status_completed(&c, "a late action moved the call");
	rt_close(&t);
}

/* A flow whose state is named "null" (a valid name, and PostgreSQL's
 * NULL when an array literal leaves it unquoted): a call in that state
 * is served like any other.  The reminder call's flow with details_retry
 * renamed, in a root of the test's own. */
static void test_state_named_null(void **state)
{
	const char *root = getenv("RINGFENCE_ROOT");
	char dir[] = "/tmp/rf-roundtrip-XXXXXX", cmd[1024], err[512];
	struct engine *saved = rt_engine, *e;
	struct rt t;
	struct engine_input in;
	struct hx_call c;
	struct hx_snapshot s;

	(void)state;
	rt_open(&t, db_or_fail());
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		"set -e; r='%s'; d='%s'; mkdir -p \"$d/state_tables\" \"$d/audio\";"
		" cp -r \"$r/state_tables/reminder_call\" \"$d/state_tables/\";"
		" cp -r \"$r/audio/reminder_call\" \"$d/audio/\";"
		" cp -r \"$r/audio/hold\" \"$d/audio/\";"
		" mv \"$d/state_tables/reminder_call/details_retry.xml\""
		"  \"$d/state_tables/reminder_call/null.xml\";"
		" mv \"$d/audio/reminder_call/details_retry\" \"$d/audio/reminder_call/null\";"
		" sed -i 's/\\<details_retry\\>/null/g' \"$d/state_tables/reminder_call/transitions\"",
		root && root[0] ? root : ".", dir);
	if (system(cmd) != 0)
		fail_msg("cannot make the flow: %s", cmd);
	e = engine_new(dir, hx_env.public_url, err, sizeof(err));
	if (e == NULL)
		fail_msg("engine_new: %s", err);
	rt_engine = e;

	hx_fixture_call_or_fail(&c);
	{
		const char *p[2] = { c.call_id, c.call_sid };
		PGresult *res = hx_db_exec_or_fail("UPDATE calls SET state = 'null', seq = 2,"
			" call_sid = $2 WHERE id = $1", 2, p);
		PQclear(res);
	}
	in = voice_input(&c, "null", 2, "9");
	handle(&t, &in);
	rt_engine = saved;
	engine_free(e);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		print_message("# cannot remove %s\n", dir);
	if (t.rc != 0)
		fail_msg("a call in state 'null' got the apology: %.200s", buf_str(&t.out));
	assert_non_null(t.oc.input);
	hx_snapshot_or_fail(&c, &s);
	assert_string_equal(s.state, "goodbye_invalid");
	assert_int_equal(s.seq, 3);
	rt_close(&t);
}

/* The pool's own count, on /metrics. */
static void test_metrics_counter(void **state)
{
	struct hx_response rs;
	const char *want = "ringfence_db_round_trips_total{process=\"fcgi\"} ";
	const char *p;

	(void)state;
	/* /readyz asks PostgreSQL: at least one round trip of the pool. */
	if (hx_get("/readyz", &rs) < 0)
		fail_msg("GET /readyz: %s", rs.error);
	hx_response_free(&rs);
	if (hx_get("/metrics", &rs) < 0)
		fail_msg("GET /metrics: %s", rs.error);
	p = strstr(buf_str(&rs.body), want);
	if (rs.status != 200 || p == NULL || atoll(p + strlen(want)) <= 0) {
		hx_response_free(&rs);
		fail_msg("/metrics has no positive %s", want);
	}
	hx_response_free(&rs);
}

int roundtrip_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reminder_call_trips),
		cmocka_unit_test(test_inbound_first_request),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_identical_presses_race),
		cmocka_unit_test(test_action_rolled_back),
		cmocka_unit_test(test_database_down),
		cmocka_unit_test(test_server_closed_between_webhooks),
		cmocka_unit_test(test_final_status_kept),
		cmocka_unit_test(test_lock_timeout_inside_step),
		cmocka_unit_test(test_step_rerun_after_broken_connection),
		cmocka_unit_test(test_state_named_null),
		cmocka_unit_test(test_metrics_counter),
	};
	return cmocka_run_group_tests_name("roundtrip", tests, rt_setup, rt_teardown);
}

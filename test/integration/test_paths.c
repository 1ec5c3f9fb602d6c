/* Integration tests: every path of every call flow, played (issue 10).
 *
 * flow_paths lists each path of a flow's state table with the callee's
 * behaviour that takes it.  For each path of reminder_call a due voice
 * reminder is made for a fresh phone whose simulated callee behaves so;
 * one `ringfence worker --once` places all the calls, which the stack's
 * simulator plays side by side through nginx.  Each path then passes
 * when the simulator's call completed with no error (the simulator
 * refuses TwiML that Twilio would refuse, and says so as an error
 * event), the application hung up, and PostgreSQL holds the path's end
 * state and exactly its call_events, in order.
 *
 * Every path of the inbound flow is a simulated inbound call (POST
 * /sim/inbound-calls) to a business's number with a greeting code, and
 * every path of reminder_sms a text reminder sent by a worker followed by
 * the client's signed texts.  The group fails for a flow under
 * state_tables/ that it does not play.  Each flow's line reads
 * "paths: FLOW N paths, M passed". */
#include "harness.h"
#include "fakeapp.h"

#include "db.h"
#include "flow.h"
#include "flow_paths.h"
#include "queue.h"
#include "rds.h"
#include "greeting.h"
#include "taskcode.h"
#include "util.h"

#include <dirent.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define P_DEADLINE_S 150          /* the worker's start to the last call's end */
#define P_POLL_MS 250

static const char *api_url;
static char api_base[300];
static const char *bin_path;
static struct rds *p_rds;
static int p_initialised;

/* ---- the simulator's view of a call ---------------------------------------- */

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int is_final(const char *status)
{
	static const char *const fin[] = { "completed", "busy", "no-answer", "failed", "canceled" };
	for (size_t i = 0; status && i < ARRAY_LEN(fin); i++)
		if (strcmp(status, fin[i]) == 0)
			return 1;
	return 0;
}

/* The simulator's final status of call sid into status (waiting until
 * deadline_ms); 0, or -1 when it was not final by then. */
static int sim_final(const char *sid, long long deadline_ms, char status[24])
{
	char *url = xasprintf("%s/Calls/%s.json", api_base, sid);
	int rc = -1;

	status[0] = '\0';
	for (;;) {
		json_t *j = hx_sim_json_or_fail(url, NULL);
		snprintf(status, 24, "%s", jstr(j, "status") ? jstr(j, "status") : "");
		json_decref(j);
		if (is_final(status)) {
			rc = 0;
			break;
		}
		if (hx_now_ms() >= deadline_ms)
			break;
		hx_sleep_ms(P_POLL_MS);
	}
	free(url);
	return rc;
}

/* What the simulator says went wrong in call sid, appended to why: every
 * error event (a refused TwiML document is one), and the application's
 * hang-up when it never came. */
static void sim_problems(const char *sid, struct buf *why)
{
	char *url = xasprintf("%s/sim/calls/%s/events.json", api_url, sid);
	json_t *j = hx_sim_json_or_fail(url, NULL), *ev;
	json_t *events = json_object_get(j, "events");
	int hung_up = 0;
	size_t i;

	if (!json_is_array(events) || json_array_size(events) == 0)
		buf_printf(why, "; the simulator has no events for %s", sid);
	json_array_foreach(events, i, ev) {
		const char *kind = jstr(ev, "kind") ? jstr(ev, "kind") : "";
		const char *text = jstr(ev, "text") ? jstr(ev, "text") : "";
		if (strcmp(kind, "error") == 0)
			buf_printf(why, "; simulator error %lld: %s",
				(long long)json_integer_value(json_object_get(ev, "code")), text);
		else if (strcmp(kind, "hangup") == 0 && strcmp(text, "application") == 0)
			hung_up = 1;
	}
	if (!hung_up)
		buf_printf(why, "; the application never hung up");
	json_decref(j);
	free(url);
}

/* Appends to why how call_id's state and call_events differ from path p
 * of f. */
static void db_problems(const struct flow *f, const struct flow_path *p, const char *call_id,
	const char *const *inputs, struct buf *why)
{
	const char *q[1] = { call_id };
	PGresult *r = hx_db_exec_or_fail("SELECT from_state, input, to_state, COALESCE(action, ''), seq"
		" FROM call_events WHERE call_id = $1::bigint ORDER BY seq", 1, q);
	char *state = hx_db_value_or_fail("SELECT state FROM calls WHERE id = $1::bigint", 1, q);
	const char *want_end = f->states[p->end].name;

	if (state == NULL || strcmp(state, want_end) != 0)
		buf_printf(why, "; the call ended in '%s', not '%s'", state ? state : "(none)", want_end);
	if ((size_t)PQntuples(r) != p->nsteps)
		buf_printf(why, "; %d call_events, want %zu", PQntuples(r), p->nsteps);
	for (size_t i = 0; i < p->nsteps && i < (size_t)PQntuples(r); i++) {
		const struct flow_transition *t = p->steps[i].t;
		/* The engine records the key pressed, also when `other` took it
		 * (several keys are `other`); inputs may say what was pressed. */
		const char *on = inputs && inputs[i] ? inputs[i] :
			p->steps[i].way == FLOW_WAY_PRESS ? p->steps[i].key : t->on;
		const char *want[4] = { f->states[t->from].name, on, f->states[t->to].name,
			t->action ? t->action : "" };
		for (int k = 0; k < 4; k++)
			if (strcmp(PQgetvalue(r, (int)i, k), want[k]) != 0) {
				buf_printf(why, "; call_events seq %s is %s -%s-> %s [%s], want %s -%s-> %s [%s]",
					PQgetvalue(r, (int)i, 4), PQgetvalue(r, (int)i, 0),
					PQgetvalue(r, (int)i, 1), PQgetvalue(r, (int)i, 2),
					PQgetvalue(r, (int)i, 3), want[0], want[1], want[2], want[3]);
				break;
			}
	}
	free(state);
	PQclear(r);
}

/* ---- playing a flow's paths ------------------------------------------------- */

/* One path being played: its fixture and, once placed, its call. */
struct played {
	struct hx_rfix fx;
	char sid[64];
	char call_id[24];
};

/* Runs `ringfence worker --once --concurrency 4` allowed to call
 * allowed; its exit status. */
static int worker_once(const char *allowed)
{
	static const char *const args[] = { "--once", "--concurrency", "4", NULL };
	pid_t pid = fork();

	if (pid == 0) {
		hx_worker_child_env(allowed);
		hx_exec_worker(bin_path, args);
	}
	assert_true(pid > 0);
	return hx_wait_child(pid, 120);
}

/* Plays every path of the voice flow f as reminder calls placed by a
 * real worker; prints "paths: FLOW N paths, M passed" and fails the test
 * listing each path that did not pass. */
static void play_voice_flow_or_fail(const struct flow *f, const struct flow_paths *ps)
{
	struct played *pl = xcalloc(ps->n, sizeof(*pl));
	struct buf allowed = BUF_INIT, failures = BUF_INIT;
	size_t passed = 0;
	long long deadline;

	for (size_t i = 0; i < ps->n; i++) {
		const struct hx_rfix_opts o = { .business_name = "Paths Test Clinic",
			.client_name = "Paths Test Client", .channel = "voice", .retry_count = 0,
			.retry_delay_minutes = 5, .stale_min = 120 };
		char *beh = flow_path_behaviour(f, &ps->v[i]);
		long long id;
		hx_rfix_or_fail(&pl[i].fx, &o);
		if (ps->v[i].nsteps > 0 && ps->v[i].steps[0].way == FLOW_WAY_MACHINE) {
			/* Twilio reports AnsweredBy only when the call asked for detection. */
			const char *p[1] = { pl[i].fx.business };
			hx_db_cmd_or_fail("UPDATE businesses SET machine_detection = true WHERE id = $1::bigint",
				1, p);
		}
		hx_sim_callee_or_fail(pl[i].fx.phone, beh);
		buf_printf(&allowed, "%s%s", i ? "," : "", pl[i].fx.phone);
		id = atoll(pl[i].fx.reminder);
		assert_int_equal(queue_push(p_rds, &id, 1), 0);
		free(beh);
	}
	assert_int_equal(worker_once(buf_str(&allowed)), 0);
	deadline = hx_now_ms() + P_DEADLINE_S * 1000LL;
	for (size_t i = 0; i < ps->n; i++) {
		struct buf why = BUF_INIT;
		struct hx_rstate s;
		char status[24];
		hx_rstate_or_fail(&pl[i].fx, &s);
		if (strcmp(s.attempt, "placed") != 0 || s.sid[0] == '\0') {
			buf_printf(&why, "; not placed: attempt '%s', reminder %s (%s)", s.attempt, s.reminder,
				s.reason);
		} else if (sim_final(s.sid, deadline, status) < 0) {
			buf_printf(&why, "; %s still '%s' after %d s", s.sid, status, P_DEADLINE_S);
		} else {
			const char *q[1] = { pl[i].fx.reminder };
			char *call_id = hx_db_value_or_fail("SELECT id FROM calls WHERE reminder_id = $1::bigint",
				1, q);
			if (strcmp(status, "completed") != 0)
				buf_printf(&why, "; the call ended '%s'", status);
			sim_problems(s.sid, &why);
			if (call_id == NULL)
				buf_printf(&why, "; no calls row");
			else
				db_problems(f, &ps->v[i], call_id, NULL, &why);
			free(call_id);
		}
		if (why.len == 0) {
			passed++;
		} else {
			char *beh = flow_path_behaviour(f, &ps->v[i]);
			char *desc = flow_path_describe(f, &ps->v[i]);
			buf_printf(&failures, "%s path %zu (%s; %s) %s: %s\n", f->name, i + 1, beh, desc,
				s.sid, buf_str(&why) + 2);
			free(beh);
			free(desc);
		}
		buf_free(&why);
	}
	printf("paths: %s %zu paths, %zu passed\n", f->name, ps->n, passed);
	fflush(stdout);
	if (passed != ps->n)
		fail_msg("%s", buf_str(&failures));
	buf_free(&allowed);
	buf_free(&failures);
	free(pl);
}

static const char *root(void)
{
	const char *r = getenv("RINGFENCE_ROOT");
	return r && *r ? r : ".";
}

/* Loads flow name and builds its paths; fails the test on any problem
 * (a state on no path, an ending without goodbye). */
static struct flow *paths_or_fail(const char *name, struct flow_paths *ps)
{
	struct flow_diag d = { NULL, 0 };
	struct flow *f = flow_load(root(), name, &d);

	if (f == NULL || d.n)
		fail_msg("flow %s does not load: %s", name, d.n ? d.msgs[0] : "");
	if (flow_paths_build(f, ps, &d, NULL) < 0)
		fail_msg("flow %s: %s", name, d.msgs[0]);
	if (ps->n == 0)
		fail_msg("flow %s has no paths", name);
	flow_diag_free(&d);
	return f;
}

static void test_reminder_call_paths(void **state)
{
	struct flow_paths ps = { NULL, 0 };
	struct flow *f = paths_or_fail("reminder_call", &ps);
	(void)state;

	play_voice_flow_or_fail(f, &ps);
	flow_paths_free(&ps);
	flow_free(f);
}

/* ---- the inbound flow ---------------------------------------------------- */

/* A business with a fresh greeting code (taskcode_create, as `ringfence
 * taskcode create` makes it) into code. */
static void inbound_code_or_fail(char code[TASKCODE_DIGITS + 1], char business[24])
{
	struct db *db = db_open(hx_env.database_url);
	char phone[13], *biz, err[256];
	const char *p[1] = { phone };
	long long expires;

	hx_random_phone(phone);
	biz = hx_db_value_or_fail("INSERT INTO businesses (name, time_zone, callback_phone, status,"
		" verified) VALUES ('Paths Greeting Test', 'UTC', $1, 'active', true) RETURNING id", 1, p);
	if (db_connect(db) < 0 || taskcode_create(db, hx_env.auth_token, atoll(biz), "greeting", 0,
		    (long long)time(NULL), code, &expires, err, sizeof(err)) < 0)
		fail_msg("taskcode_create: %s", db_connect(db) < 0 ? db_last_error(db) : err);
	db_close(db);
	snprintf(business, 24, "%s", biz);
	free(biz);
}

/* Keys a caller enters for the code step before event setup: the code
 * for a right one, a code one off it for a wrong one. */
static const char *inbound_keys(const char *setup, const char *code, char wrong[8])
{
	if (strcmp(setup, "task_code") == 0)
		return code;
	snprintf(wrong, 8, "%06d", (int)((atol(code) + 1) % 1000000));
	return wrong;
}

/* Whether setup is a precondition of the code the caller enters. */
static int inbound_code_setup(const char *setup)
{
	static const char *const code_setups[] = { "task_code", "wrong_code", "third_wrong_code",
		"throttle_full" };
	for (size_t i = 0; i < ARRAY_LEN(code_setups); i++)
		if (strcmp(setup, code_setups[i]) == 0)
			return 1;
	return 0;
}

/* A new inbound call row (sid, in state) from from to to; its id (caller
 * frees). */
static char *inbound_call_or_fail(const char *sid, const char *state, const char *from,
	const char *to)
{
	char token[33];
	const char *q[5] = { token, sid, state, from, to };

	hx_random_hex(token, 16);
	return hx_db_value_or_fail("INSERT INTO calls (token, call_sid, direction, flow, state,"
		" seq, caller, called) VALUES ($1, $2, 'inbound', 'inbound', $3, 0, $4, $5)"
		" RETURNING id", 5, q);
}

/* n wrong code attempts made on call id a minute ago (the throttles
 * count whole seconds up to the application's now). */
static void inbound_wrongs_or_fail(const char *id, const char *from, const char *to, int n)
{
	for (int k = 0; k < n; k++) {
		const char *a[3] = { id, from, to };
		hx_db_cmd_or_fail("INSERT INTO task_code_attempts (call_id, caller, called, outcome,"
			" attempted_at) VALUES ($1::bigint, $2, $3, 'wrong', now() - interval '1 minute')", 3, a);
	}
}

/* n takes already recorded on call id with business's greeting code. */
static void inbound_takes_or_fail(const char *id, const char *business, int n)
{
	for (int k = 0; k < n; k++) {
		char re[35], take[12];
		char *url;
		const char *a[5];
		re[0] = 'R';
		re[1] = 'E';
		hx_random_hex(re + 2, 16);
		snprintf(take, sizeof(take), "%d", k + 1);
		url = xasprintf("%s/2010-04-01/Accounts/%s/Recordings/%s", api_url, hx_env.account_sid, re);
		a[0] = id;
		a[1] = business;
		a[2] = take;
		a[3] = re;
		a[4] = url;
		hx_db_cmd_or_fail("INSERT INTO greeting_takes (call_id, business_id, task_code_id, take,"
			" recording_sid, recording_url) SELECT $1::bigint, $2::bigint, id, $3::int, $4, $5"
			" FROM task_codes WHERE business_id = $2::bigint AND purpose = 'greeting'"
			" AND revoked_at IS NULL", 5, a);
		free(url);
	}
}

/* One inbound path being played. */
struct inbound_run {
	const struct flow_path *p;
	char code[TASKCODE_DIGITS + 1];
	char business[24];
	char from[13], to[13];
	char sid[64];
	struct buf behaviour;
	const char **inputs;   /* per step: the input the engine records, NULL: the line's */
	int prior;             /* the call's wrong codes before its first */
	int pre_takes;         /* the call's takes before its first */
	int throttle;          /* the caller's wrong codes on another call */
	int wrongs;            /* task code attempts the path makes or has made for it */
	int ready;             /* the call's own preconditions are in place */
};

/* Works out r's behaviour and preconditions from its path. */
static void inbound_plan(struct inbound_run *r, const struct flow_path *p)
{
	char wrong[8];
	int takes = 0, own = 0;

	memset(r, 0, sizeof(*r));
	r->p = p;
	buf_init(&r->behaviour);
	r->inputs = xcalloc(p->nsteps + 1, sizeof(*r->inputs));
	inbound_code_or_fail(r->code, r->business);
	hx_random_phone(r->from);
	hx_random_phone(r->to);
	for (size_t i = 0; i < p->nsteps; i++) {
		const struct flow_path_step *s = &p->steps[i];
		const char *next = i + 1 < p->nsteps && p->steps[i + 1].way == FLOW_WAY_EVENT ?
			p->steps[i + 1].setup : "";
		if (s->way == FLOW_WAY_PRESS && inbound_code_setup(next)) {
			buf_printf(&r->behaviour, "; press %s", inbound_keys(next, r->code, wrong));
			r->inputs[i] = "other";
			if (strcmp(next, "wrong_code") == 0) {
				own++;
			} else if (strcmp(next, "third_wrong_code") == 0) {
				r->prior = TASKCODE_TRIES_PER_CALL - 1 - own;
				own++;
			} else if (strcmp(next, "throttle_full") == 0) {
				r->throttle = TASKCODE_LIMIT_CALLER - own;
			}
		} else if (s->way == FLOW_WAY_PRESS) {
			buf_printf(&r->behaviour, "; press %s", s->key);
		} else if (s->way == FLOW_WAY_SILENCE) {
			buf_puts(&r->behaviour, "; silence");
		} else if (s->way == FLOW_WAY_SPEAK) {
			buf_puts(&r->behaviour, "; speak 2; silence");
			takes++;
		} else if (s->way == FLOW_WAY_EVENT && strcmp(s->setup, "takes_used_up") == 0) {
			r->pre_takes = GREETING_MAX_TAKES - takes;
		}
	}
	r->wrongs = own + r->prior + r->throttle;
	r->ready = r->prior == 0 && r->pre_takes == 0;
}

/* Places r's call: the simulator's person calls the number; with
 * preconditions of the call's own to make first, it waits 3 seconds
 * before its first key (inbound_ready makes them meanwhile). */
static void inbound_launch_or_fail(struct inbound_run *r)
{
	struct hx_form form;
	char *beh = xasprintf("person; %s%s; expect-hangup", r->ready ? "wait 1" : "wait 3",
		buf_str(&r->behaviour));
	char *body;
	json_t *j;

	if (r->throttle > 0) {
		char other[35];
		char *id;
		hx_random_call_sid(other);
		id = inbound_call_or_fail(other, "no_code", r->from, r->to);
		inbound_wrongs_or_fail(id, r->from, r->to, r->throttle);
		free(id);
	}
	hx_form_init(&form);
	hx_form_add(&form, "From", r->from);
	hx_form_add(&form, "To", r->to);
	hx_form_add(&form, "Behaviour", beh);
	body = hx_form_encode(&form);
	j = hx_sim_json_or_fail("/sim/inbound-calls", body);
	if (jstr(j, "sid") == NULL)
		fail_msg("/sim/inbound-calls answered no sid");
	snprintf(r->sid, sizeof(r->sid), "%s", jstr(j, "sid"));
	buf_reset(&r->behaviour);
	buf_puts(&r->behaviour, beh);
	json_decref(j);
	free(body);
	free(beh);
	hx_form_free(&form);
}

/* Once r's call has its row, makes its own preconditions; 1 when they
 * are in place. */
static int inbound_ready_or_fail(struct inbound_run *r)
{
	const char *q[1] = { r->sid };
	char *id;

	if (r->ready)
		return 1;
	id = hx_db_value_or_fail("SELECT id FROM calls WHERE call_sid = $1", 1, q);
	if (id == NULL)
		return 0;
	inbound_wrongs_or_fail(id, r->from, r->to, r->prior);
	inbound_takes_or_fail(id, r->business, r->pre_takes);
	free(id);
	r->ready = 1;
	return 1;
}

/* Appends to why what went wrong with r's call, once it ended. */
static void inbound_check(const struct flow *f, struct inbound_run *r, long long deadline,
	struct buf *why)
{
	char status[24], *call_id;
	const char *q[1] = { r->sid };

	if (sim_final(r->sid, deadline, status) < 0) {
		buf_printf(why, "; %s still '%s'", r->sid, status);
		return;
	}
	if (strcmp(status, "completed") != 0)
		buf_printf(why, "; the call ended '%s'", status);
	sim_problems(r->sid, why);
	call_id = hx_db_value_or_fail("SELECT id FROM calls WHERE call_sid = $1", 1, q);
	if (call_id == NULL)
		buf_puts(why, "; no calls row");
	else
		db_problems(f, r->p, call_id, r->inputs, why);
	free(call_id);
}

/* Plays runs[0..n) side by side; counts the passes into *passed and
 * appends each failure to failures. */
static void inbound_batch(const struct flow *f, struct inbound_run *runs, size_t n, size_t first,
	size_t *passed, struct buf *failures)
{
	long long deadline = hx_now_ms() + P_DEADLINE_S * 1000LL;
	size_t waiting;

	hx_taskcode_reset_or_fail();
	for (size_t i = 0; i < n; i++)
		inbound_launch_or_fail(&runs[i]);
	do {
		waiting = 0;
		for (size_t i = 0; i < n; i++)
			waiting += !inbound_ready_or_fail(&runs[i]);
		if (waiting)
			hx_sleep_ms(50);
	} while (waiting && hx_now_ms() < deadline);
	for (size_t i = 0; i < n; i++) {
		struct buf why = BUF_INIT;
		if (!runs[i].ready)
			buf_puts(&why, "; the call's row never came for its preconditions");
		inbound_check(f, &runs[i], deadline, &why);
		if (why.len == 0) {
			(*passed)++;
		} else {
			char *desc = flow_path_describe(f, runs[i].p);
			buf_printf(failures, "inbound path %zu (%s; %s) %s: %s\n", first + i + 1, desc,
				buf_str(&runs[i].behaviour), runs[i].sid, buf_str(&why) + 2);
			free(desc);
		}
		buf_free(&why);
	}
}

/* Every path of the inbound flow, each a call from a fresh number to a
 * fresh number of the account (the per-number throttles stay apart)
 * placed through the simulator, side by side in batches whose wrong
 * codes stay under the global throttle; the attempts are forgotten
 * before each batch. */
static void test_inbound_paths(void **state)
{
	struct flow_paths ps = { NULL, 0 };
	struct flow *f = paths_or_fail("inbound", &ps);
	struct inbound_run *runs = xcalloc(ps.n, sizeof(*runs));
	struct buf failures = BUF_INIT;
	size_t passed = 0, start = 0;
	int budget = 0;
	(void)state;

	for (size_t i = 0; i < ps.n; i++)
		inbound_plan(&runs[i], &ps.v[i]);
	for (size_t i = 0; i <= ps.n; i++) {
		if (i == ps.n || budget + runs[i].wrongs >= TASKCODE_LIMIT_ALL) {
			inbound_batch(f, runs + start, i - start, start, &passed, &failures);
			start = i;
			budget = 0;
		}
		if (i < ps.n)
			budget += runs[i].wrongs;
	}
	hx_taskcode_reset_or_fail();
	printf("paths: inbound %zu paths, %zu passed\n", ps.n, passed);
	fflush(stdout);
	if (passed != ps.n)
		fail_msg("%s", buf_str(&failures));
	for (size_t i = 0; i < ps.n; i++) {
		buf_free(&runs[i].behaviour);
		free(runs[i].inputs);
	}
	free(runs);
	buf_free(&failures);
	flow_paths_free(&ps);
	flow_free(f);
}

/* ---- the text flow ----------------------------------------------------------- */

#define SMS_SENDER "+15005550006"   /* every fixture business texts from it */

/* Makes the precondition setup true for fx's reminder before a text. */
static void sms_setup_or_fail(const struct hx_rfix *fx, const char *setup)
{
	const char *appt[1] = { fx->appt }, *rem[1] = { fx->reminder };

	if (strcmp(setup, "reminder_pending") == 0)
		hx_db_cmd_or_fail("UPDATE appointments SET status = 'booked' WHERE id = $1::bigint", 1, appt);
	else if (strcmp(setup, "nothing_pending") == 0)
		hx_db_cmd_or_fail("UPDATE appointments SET status = 'completed' WHERE id = $1::bigint", 1,
			appt);
	else if (strcmp(setup, "no_hint_yet") == 0)
		hx_db_cmd_or_fail("UPDATE sms_conversations SET help_sent = false"
			" WHERE reminder_id = $1::bigint", 1, rem);
	else if (strcmp(setup, "hint_given") == 0)
		hx_db_cmd_or_fail("INSERT INTO sms_conversations (reminder_id, business_id, state, help_sent)"
			" SELECT id, business_id, 'sent', true FROM reminders WHERE id = $1::bigint"
			" ON CONFLICT (reminder_id) DO UPDATE SET help_sent = true", 1, rem);
	else
		fail_msg("no way to set up '%s' for a text", setup);
}

/* Texts body from fx's client to the business's number, signed; appends
 * to why when the answer is not 200 TwiML with one <Message> or none. */
static void sms_text(const struct hx_rfix *fx, const char *body, struct buf *why)
{
	struct hx_form form;
	struct hx_response rs;
	struct hx_twiml t;
	char sid[35], *url = xasprintf("%s/twilio/sms/inbound", hx_env.public_url);

	hx_random_message_sid(sid);
	hx_sms_form(&form, sid, fx->phone, SMS_SENDER, body);
	if (hx_post_form(url, &form, HX_SIGNED, &rs) < 0) {
		buf_printf(why, "; text '%s': %s", body, rs.error);
	} else {
		hx_twiml_parse(rs.body.data, rs.body.len, &t);
		if (rs.status != 200 || !t.well_formed || !t.root_response || t.nverbs > 1 ||
		    (t.nverbs == 1 && strcmp(t.verbs[0], "Message") != 0))
			buf_printf(why, "; text '%s': HTTP %ld, not one <Message> or none: %.300s", body,
				rs.status, buf_str(&rs.body));
		hx_twiml_free(&t);
	}
	hx_response_free(&rs);
	hx_form_free(&form);
	free(url);
}

/* Appends to why how fx's conversation differs from path p of f. */
static void sms_db_problems(const struct flow *f, const struct flow_path *p,
	const struct hx_rfix *fx, struct buf *why)
{
	const char *q[1] = { fx->reminder };
	char *state = hx_db_value_or_fail("SELECT state FROM sms_conversations"
		" WHERE reminder_id = $1::bigint", 1, q);
	PGresult *r = hx_db_exec_or_fail("SELECT from_state, input, to_state, COALESCE(action, '')"
		" FROM sms_events WHERE reminder_id = $1::bigint ORDER BY seq, id", 1, q);
	const char *want_end = f->states[p->end].name;

	if (state == NULL || strcmp(state, want_end) != 0)
		buf_printf(why, "; the conversation is in '%s', not '%s'", state ? state : "(none)", want_end);
	if ((size_t)PQntuples(r) != p->nsteps)
		buf_printf(why, "; %d sms_events, want %zu", PQntuples(r), p->nsteps);
	for (size_t i = 0; i < p->nsteps && i < (size_t)PQntuples(r); i++) {
		const struct flow_transition *t = p->steps[i].t;
		const char *want[4] = { f->states[t->from].name, t->on, f->states[t->to].name,
			t->action ? t->action : "" };
		for (int k = 0; k < 4; k++)
			if (strcmp(PQgetvalue(r, (int)i, k), want[k]) != 0) {
				buf_printf(why, "; sms_events %zu is %s -%s-> %s [%s], want %s -%s-> %s [%s]", i + 1,
					PQgetvalue(r, (int)i, 0), PQgetvalue(r, (int)i, 1),
					PQgetvalue(r, (int)i, 2), PQgetvalue(r, (int)i, 3), want[0], want[1],
					want[2], want[3]);
				break;
			}
	}
	free(state);
	PQclear(r);
}

/* Every path of the text flow: one text reminder per path sent by a real
 * worker through the simulator, then the path's texts from its client,
 * signed, each after the precondition of the event it leads to. */
static void test_reminder_sms_paths(void **state)
{
	struct flow_paths ps = { NULL, 0 };
	struct flow *f = paths_or_fail("reminder_sms", &ps);
	struct hx_rfix *fx = xcalloc(ps.n, sizeof(*fx));
	struct buf allowed = BUF_INIT, failures = BUF_INIT;
	size_t passed = 0;
	(void)state;

	for (size_t i = 0; i < ps.n; i++) {
		const struct hx_rfix_opts o = { .business_name = "Paths Text Clinic",
			.client_name = "Paths Text Client", .channel = "sms", .retry_count = 0,
			.retry_delay_minutes = 5, .stale_min = 120 };
		long long id;
		hx_rfix_or_fail(&fx[i], &o);
		buf_printf(&allowed, "%s%s", i ? "," : "", fx[i].phone);
		id = atoll(fx[i].reminder);
		assert_int_equal(queue_push(p_rds, &id, 1), 0);
	}
	assert_int_equal(worker_once(buf_str(&allowed)), 0);
	for (size_t i = 0; i < ps.n; i++) {
		const struct flow_path *p = &ps.v[i];
		struct buf why = BUF_INIT;
		struct hx_rstate rs;
		hx_rstate_or_fail(&fx[i], &rs);
		if (strcmp(rs.attempt, "placed") != 0 || rs.sid[0] != 'S')
			buf_printf(&why, "; the reminder text was not sent: '%s' (%s)", rs.attempt, rs.reason);
		for (size_t k = 0; k < p->nsteps && why.len == 0; k++) {
			if (p->steps[k].way != FLOW_WAY_TEXT)
				continue;
			if (k + 1 < p->nsteps && p->steps[k + 1].way == FLOW_WAY_EVENT)
				sms_setup_or_fail(&fx[i], p->steps[k + 1].setup);
			sms_text(&fx[i], p->steps[k].text, &why);
		}
		if (why.len == 0)
			sms_db_problems(f, p, &fx[i], &why);
		if (why.len == 0) {
			passed++;
		} else {
			char *desc = flow_path_describe(f, p), *beh = flow_path_behaviour(f, p);
			buf_printf(&failures, "reminder_sms path %zu (%s; %s): %s\n", i + 1, beh, desc,
				buf_str(&why) + 2);
			free(desc);
			free(beh);
		}
		buf_free(&why);
	}
	printf("paths: reminder_sms %zu paths, %zu passed\n", ps.n, passed);
	fflush(stdout);
	if (passed != ps.n)
		fail_msg("%s", buf_str(&failures));
	buf_free(&allowed);
	buf_free(&failures);
	free(fx);
	flow_paths_free(&ps);
	flow_free(f);
}

/* Every flow under state_tables/ has its paths played here, or this
 * fails and names it. */
static void test_every_flow_played(void **state)
{
	static const char *const played[] = { "reminder_call", "inbound", "reminder_sms" };
	char *dir = xasprintf("%s/state_tables", root());
	DIR *d = opendir(dir);
	struct dirent *e;
	struct buf missing = BUF_INIT;
	(void)state;

	if (d == NULL)
		fail_msg("cannot read %s", dir);
	while ((e = readdir(d)) != NULL) {
		int known = 0;
		if (!flow_dir_is_flow(e->d_name))
			continue;
		for (size_t i = 0; i < ARRAY_LEN(played); i++)
			known |= strcmp(e->d_name, played[i]) == 0;
		if (!known)
			buf_printf(&missing, " %s", e->d_name);
	}
	closedir(d);
	free(dir);
	if (missing.len)
		fail_msg("flows whose paths nobody plays:%s", buf_str(&missing));
	buf_free(&missing);
}

/* A call whose TwiML the simulator refuses does not pass: the verdict
 * names the error.  The document comes from fakeapp (ringfence's own
 * templates are valid, so they cannot show it). */
static void test_refused_twiml_fails_a_path(void **state)
{
	struct fakeapp *fa = NULL;
	struct hx_form form;
	struct buf why = BUF_INIT;
	char err[128], to[13], status[24], *url, *body, *calls;
	json_t *j;
	(void)state;

	if (fakeapp_start(&fa, err, sizeof(err)) < 0)
		fail_msg("fakeapp: %s", err);
	/* Dial inside Gather: Twilio answers 12200 (schema validation). */
	assert_int_equal(fakeapp_serve(fa, "/paths/start", 200, "text/xml",
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Gather><Dial>+15005550006</Dial>"
		"</Gather></Response>", 0), 0);
	hx_random_phone(to);
	hx_sim_callee_or_fail(to, "person; press 1");
	url = xasprintf("%s/paths/start", fakeapp_url(fa));
	hx_form_init(&form);
	hx_form_add(&form, "To", to);
	hx_form_add(&form, "From", "+15005550006");
	hx_form_add(&form, "Url", url);
	body = hx_form_encode(&form);
	calls = xasprintf("%s/Calls.json", api_base);
	j = hx_sim_json_or_fail(calls, body);
	assert_non_null(jstr(j, "sid"));
	assert_int_equal(sim_final(jstr(j, "sid"), hx_now_ms() + 60000, status), 0);
	sim_problems(jstr(j, "sid"), &why);
	if (strstr(buf_str(&why), "simulator error 12") == NULL)
		fail_msg("the refused document went unnoticed: '%s'", buf_str(&why));
	assert_non_null(strstr(buf_str(&why), "the application never hung up"));
	json_decref(j);
	buf_free(&why);
	free(calls);
	free(body);
	free(url);
	hx_form_free(&form);
	fakeapp_stop(fa);
}

static int group_setup(void **state)
{
	if (hx_init_sim_api("paths tests", &api_url, api_base, sizeof(api_base)) < 0)
		return -1;
	if ((bin_path = hx_ringfence_bin("paths")) == NULL)
		return -1;
	p_rds = rds_open(hx_env.redis_url);
	if (p_rds == NULL)
		return -1;
	p_initialised = 1;
	return 0;
}

static int group_teardown(void **state)
{
	if (p_initialised)
		rds_close(p_rds);
	p_initialised = 0;
	hx_fini();
	return 0;
}

int paths_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_twiml_fails_a_path),
		cmocka_unit_test(test_reminder_call_paths),
		cmocka_unit_test(test_inbound_paths),
		cmocka_unit_test(test_reminder_sms_paths),
		cmocka_unit_test(test_every_flow_played),
	};
	return cmocka_run_group_tests_name("integration: every path of every flow", tests, group_setup,
		group_teardown);
}

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
 * The inbound flow's paths are built and counted, and the test skipped
 * until its runner is here; the group fails for a flow under
 * state_tables/ that it does not know. */
#include "harness.h"
#include "fakeapp.h"

#include "flow.h"
#include "flow_paths.h"
#include "queue.h"
#include "rds.h"
#include "util.h"

#include <dirent.h>
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
	struct buf *why)
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
		/* The engine records the key pressed, also when `other` took it. */
		const char *on = p->steps[i].way == FLOW_WAY_PRESS ? p->steps[i].key : t->on;
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
				db_problems(f, &ps->v[i], call_id, &why);
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

/* The inbound flow's paths build (every state on a path, every ending a
 * goodbye, every event with its precondition), but are not played yet:
 * its runner needs the simulator to place inbound calls and to set up
 * per-call preconditions (two wrong codes or two takes already made on
 * the call) before the call reaches them.  Skipped, saying so. */
static void test_inbound_paths(void **state)
{
	struct flow_paths ps = { NULL, 0 };
	struct flow *f = paths_or_fail("inbound", &ps);
	(void)state;

	printf("paths: inbound %zu paths, not played (no runner yet)\n", ps.n);
	fflush(stdout);
	flow_paths_free(&ps);
	flow_free(f);
	skip();
}

/* Every flow under state_tables/ has a test here: a new flow's paths are
 * played (or at least built and listed), or this fails and names it. */
static void test_every_flow_played(void **state)
{
	static const char *const played[] = { "reminder_call", "inbound" };
	char *dir = xasprintf("%s/state_tables", root());
	DIR *d = opendir(dir);
	struct dirent *e;
	struct buf missing = BUF_INIT;
	(void)state;

	if (d == NULL)
		fail_msg("cannot read %s", dir);
	while ((e = readdir(d)) != NULL) {
		int known = 0;
		if (e->d_name[0] == '.')
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
		cmocka_unit_test(test_every_flow_played),
	};
	return cmocka_run_group_tests_name("integration: every path of every flow", tests, group_setup,
		group_teardown);
}

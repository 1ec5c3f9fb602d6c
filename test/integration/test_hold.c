/* Integration: a call held while PostgreSQL is unreachable (engine.h,
 * ENGINE_HOLD_MAX), through nginx, the pool, the stack's PostgreSQL and
 * the Twilio simulator, which plays the hold as Twilio does: the Play,
 * the Pause, then a POST to the Redirect's URL.
 *
 * The simulator keeps its own state in the same PostgreSQL, so the
 * server cannot be stopped while it plays a call.  Instead the group
 * restarts the pool with RINGFENCE_DATABASE_URL pointing at a TCP relay
 * of its own in front of the server (the port the kernel gives it;
 * deploy/stack's RINGFENCE_STACK_FCGI_DATABASE_URL) and
 * cuts the relay: every connection of the pool is dropped and new ones
 * are closed at once, which is what a failover looks like from the
 * pool (the old primary gone, the new one not yet there).  The group
 * puts the pool back on the stack's own URL when it ends.
 *
 * - PostgreSQL stops before an outbound call's first request: the caller
 *   hears "One moment, please.", and once PostgreSQL is back the call
 *   goes on from its start; the presses land once each.
 * - PostgreSQL stops mid-call, before a press: the press is carried in
 *   the hold's URL (digits=) and lands exactly once after the recovery.
 * - PostgreSQL stays down past every hold: the apology, the call ends,
 *   nothing changed.
 * - A hold URL whose hold= or digits= was changed after signing is
 *   refused by the signature check; a held URL replayed after recovery
 *   is a replay and changes nothing. */
#include "harness.h"
#include "groups.h"

#include "engine.h"
#include "util.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HOLD_CALL_DEADLINE_MS 60000
/* Every hold (ENGINE_HOLD_MAX x ENGINE_HOLD_PAUSE_S) and the rest of
 * the call, in real time. */
#define HOLD_EXHAUST_DEADLINE_MS ((ENGINE_HOLD_MAX * ENGINE_HOLD_PAUSE_S + 40) * 1000LL)

static int initialised, pg_stopped, pool_moved;

/* ---- the relay between the pool and PostgreSQL ------------------------------ */

#define RELAY_MAX 128

static struct {
	int lfd, port, pg_port;
	atomic_int up, stop;
	int a[RELAY_MAX], b[RELAY_MAX]; /* pairs: the pool's side, the server's */
	int n;
	pthread_t thread;
	int running;
} relay;

static void relay_close(int i)
{
	close(relay.a[i]);
	close(relay.b[i]);
	relay.a[i] = relay.a[relay.n - 1];
	relay.b[i] = relay.b[relay.n - 1];
	relay.n--;
}

/* A new connection to the server's TCP port, or -1. */
static int relay_dial(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)relay.pg_port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void *relay_run(void *arg)
{
	struct pollfd p[1 + 2 * RELAY_MAX];
	char buf[16384];

	(void)arg;
	while (!atomic_load(&relay.stop)) {
		int n = relay.n;
		if (!atomic_load(&relay.up))
			while (relay.n > 0)
				relay_close(0);
		n = relay.n;
		p[0] = (struct pollfd){ .fd = relay.lfd, .events = POLLIN };
		for (int i = 0; i < n; i++) {
			p[1 + 2 * i] = (struct pollfd){ .fd = relay.a[i], .events = POLLIN };
			p[2 + 2 * i] = (struct pollfd){ .fd = relay.b[i], .events = POLLIN };
		}
		if (poll(p, (nfds_t)(1 + 2 * n), 50) <= 0)
			continue;
		for (int i = n - 1; i >= 0; i--) {
			for (int side = 0; side < 2; side++) {
				short ev = p[1 + 2 * i + side].revents;
				int from = side ? relay.b[i] : relay.a[i], to = side ? relay.a[i] : relay.b[i];
				ssize_t got;
				if (!ev)
					continue;
				got = read(from, buf, sizeof(buf));
				if (got <= 0 || write(to, buf, (size_t)got) != got) {
					relay_close(i);
					break;
				}
			}
		}
		if (p[0].revents & POLLIN) {
			int c = accept4(relay.lfd, NULL, NULL, SOCK_CLOEXEC), d = -1;
			if (c < 0)
				continue;
			if (atomic_load(&relay.up) && relay.n < RELAY_MAX)
				d = relay_dial();
			if (d < 0) {
				close(c); /* cut: the pool sees the server hang up */
				continue;
			}
			relay.a[relay.n] = c;
			relay.b[relay.n] = d;
			relay.n++;
		}
	}
	while (relay.n > 0)
		relay_close(0);
	return NULL;
}

/* Listens on a loopback port of the kernel's choosing; 0 or -1. */
static int relay_start(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	const char *pg_port = getenv("RINGFENCE_PG_PORT");

	relay.pg_port = pg_port && pg_port[0] ? atoi(pg_port) : 15432;
	relay.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (relay.lfd < 0 || bind(relay.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		listen(relay.lfd, 64) < 0 || getsockname(relay.lfd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	relay.port = ntohs(sa.sin_port);
	atomic_store(&relay.up, 1);
	if (pthread_create(&relay.thread, NULL, relay_run, NULL) != 0)
		return -1;
	relay.running = 1;
	return 0;
}

static void relay_stop(void)
{
	if (relay.running) {
		atomic_store(&relay.stop, 1);
		pthread_join(relay.thread, NULL);
		relay.running = 0;
	}
	if (relay.lfd > 0)
		close(relay.lfd);
	relay.lfd = -1;
}

/* Cuts (up 0) or restores (up 1) the pool's way to PostgreSQL. */
static void relay_set(int up)
{
	atomic_store(&relay.up, up);
	hx_sleep_ms(200); /* a poll round: the cut is complete */
}

/* Restarts the pool with RINGFENCE_DATABASE_URL url (NULL: the stack's
 * own), through deploy/stack's RINGFENCE_STACK_FCGI_DATABASE_URL.  0 or
 * -1 (reason on stderr). */
static int pool_restart(const char *url)
{
	char err[256];
	int rc;

	if (url)
		setenv("RINGFENCE_STACK_FCGI_DATABASE_URL", url, 1);
	else
		unsetenv("RINGFENCE_STACK_FCGI_DATABASE_URL");
	rc = hx_stack("fcgi-restart", NULL, 60) == 0 ? 0 : -1;
	unsetenv("RINGFENCE_STACK_FCGI_DATABASE_URL");
	if (rc < 0)
		fprintf(stderr, "hold: deploy/stack fcgi-restart failed\n");
	else if (hx_wait_healthy(30000, err, sizeof(err)) < 0) {
		fprintf(stderr, "hold: the pool is not ready: %s\n", err);
		rc = -1;
	}
	return rc;
}

/* ---- PostgreSQL itself ------------------------------------------------------- */

static void pg_stop_or_fail(void)
{
	pg_stopped = 1; /* first: a stop that fails half-way is still undone */
	if (hx_stack("pg-stop", NULL, 90) != 0)
		fail_msg("deploy/stack pg-stop failed");
}

/* Starts PostgreSQL and waits (bounded) until it takes connections. */
static int pg_start(void)
{
	long long deadline;
	char err[256];
	PGresult *res;

	if (hx_stack_start_stopped("pg", &pg_stopped, 90) != 0)
		return -1;
	deadline = hx_now_ms() + 30000;
	while ((res = hx_db_exec("SELECT 1", 0, NULL, err, sizeof(err))) == NULL &&
		hx_now_ms() < deadline)
		hx_sleep_ms(100);
	if (res == NULL) {
		fprintf(stderr, "hold: PostgreSQL did not come back: %s\n", err);
		return -1;
	}
	PQclear(res);
	return 0;
}

static void pg_start_or_fail(void)
{
	if (pg_start() != 0)
		fail_msg("PostgreSQL did not start again");
}

/* After a test: the relay up, PostgreSQL running. */
static int restore_pg(void **state)
{
	(void)state;
	atomic_store(&relay.up, 1);
	return pg_stopped ? pg_start() : 0;
}

/* A fixture call dialled through the simulator's API to a callee that
 * behaves as behaviour says; its CallSid into sid. */
static void launch_or_fail(struct hx_call *c, const char *behaviour, char sid[35])
{
	struct hx_form f;
	char *body, *path = xasprintf("/2010-04-01/Accounts/%s/Calls.json", hx_env.account_sid);
	json_t *j;
	const char *s;

	hx_fixture_call_or_fail(c);
	hx_sim_callee_or_fail(c->client_phone, behaviour);
	hx_form_init(&f);
	hx_form_add(&f, "To", c->client_phone);
	hx_form_add(&f, "From", c->from_number);
	hx_form_add(&f, "Url", c->first_url);
	body = hx_form_encode(&f);
	j = hx_sim_json_or_fail(path, body);
	s = json_string_value(json_object_get(j, "sid"));
	if (s == NULL || strlen(s) != 34 || strncmp(s, "CA", 2) != 0)
		fail_msg("the simulator's new call has no sid");
	snprintf(sid, 35, "%s", s);
	json_decref(j);
	hx_form_free(&f);
	free(body);
	free(path);
}

/* The simulator's events of call sid, oldest first (caller decrefs). */
static json_t *events_or_fail(const char *sid)
{
	char *path = xasprintf("/sim/calls/%s/events.json", sid);
	json_t *j = hx_sim_json_or_fail(path, NULL);
	json_t *ev = json_incref(json_object_get(j, "events"));

	json_decref(j);
	free(path);
	if (!json_is_array(ev))
		fail_msg("the simulator's events of %s are not a list", sid);
	return ev;
}

/* How many events of kind have needle in their text (case-insensitive). */
static size_t ev_count(json_t *events, const char *kind, const char *needle)
{
	size_t i, n = 0;
	json_t *ev;

	json_array_foreach(events, i, ev) {
		const char *k = json_string_value(json_object_get(ev, "kind"));
		const char *t = json_string_value(json_object_get(ev, "text"));
		n += k && strcmp(k, kind) == 0 && t && strcasestr(t, needle) != NULL;
	}
	return n;
}

/* Waits until call sid has an event of kind whose text holds needle. */
static void wait_event_or_fail(const char *sid, const char *kind, const char *needle,
	long timeout_ms)
{
	long long deadline = hx_now_ms() + timeout_ms;

	for (;;) {
		json_t *ev = events_or_fail(sid);
		size_t n = ev_count(ev, kind, needle);
		json_decref(ev);
		if (n > 0)
			return;
		if (hx_now_ms() > deadline)
			fail_msg("call %s: no %s event with '%s' within %ld ms", sid, kind, needle,
				timeout_ms);
		hx_sleep_ms(200);
	}
}

/* Waits until the simulator says call sid ended; its status. */
static char *wait_end_or_fail(const char *sid, long long timeout_ms)
{
	char *path = xasprintf("/2010-04-01/Accounts/%s/Calls/%s.json", hx_env.account_sid, sid);
	long long deadline = hx_now_ms() + timeout_ms;

	for (;;) {
		json_t *j = hx_sim_json_or_fail(path, NULL);
		const char *st = json_string_value(json_object_get(j, "status"));
		if (st && strcmp(st, "queued") != 0 && strcmp(st, "ringing") != 0 &&
			strcmp(st, "in-progress") != 0) {
			char *r = xstrdup(st);
			json_decref(j);
			free(path);
			return r;
		}
		json_decref(j);
		if (hx_now_ms() > deadline)
			fail_msg("call %s did not end within %lld ms", sid, timeout_ms);
		hx_sleep_ms(250);
	}
}

/* The call's state and sequence number, "state/seq". */
static char *call_state_or_fail(const struct hx_call *c)
{
	const char *p[1] = { c->call_id };
	return hx_db_value_or_fail("SELECT state || '/' || seq FROM calls WHERE id = $1", 1, p);
}

/* How many of the call's recorded transitions went from -> to on input. */
static long transitions_or_fail(const struct hx_call *c, const char *from, const char *input,
	const char *to)
{
	const char *p[4] = { c->call_id, from, input, to };
	char *v = hx_db_value_or_fail("SELECT count(*) FROM call_events WHERE call_id = $1"
		" AND from_state = $2 AND input = $3 AND to_state = $4", 4, p);
	long n = atol(v);
	free(v);
	return n;
}

static long call_events_or_fail(const struct hx_call *c)
{
	const char *p[1] = { c->call_id };
	char *v = hx_db_value_or_fail("SELECT count(*) FROM call_events WHERE call_id = $1", 1, p);
	long n = atol(v);
	free(v);
	return n;
}

/* Waits until the call is in state/seq (PostgreSQL up). */
static void wait_state_or_fail(const struct hx_call *c, const char *want, long timeout_ms)
{
	long long deadline = hx_now_ms() + timeout_ms;

	for (;;) {
		char *v = call_state_or_fail(c);
		int ok = strcmp(v, want) == 0;
		if (!ok && hx_now_ms() > deadline)
			fail_msg("call %s is %s, not %s, after %ld ms", c->call_id, v, want, timeout_ms);
		free(v);
		if (ok)
			return;
		hx_sleep_ms(100);
	}
}

/* The audit records of call sid that say they were a hold (its number
 * in "hold"), waited for (the audit is written after the answer). */
static size_t audited_holds(const char *sid, size_t want)
{
	char *key = xasprintf("audit:call:%s", sid), err[256];
	long long deadline = hx_now_ms() + 5000;
	size_t n = 0;

	for (;;) {
		json_t *arr = hx_audit_read(key, 0, err, sizeof(err)), *rec;
		size_t i;
		n = 0;
		json_array_foreach(arr, i, rec)
			n += json_integer_value(json_object_get(rec, "hold")) > 0;
		json_decref(arr);
		if (n >= want || hx_now_ms() > deadline)
			break;
		hx_sleep_ms(100);
	}
	free(key);
	return n;
}

static void expect_confirmed_once(const struct hx_call *c)
{
	wait_state_or_fail(c, "confirmed/2", 5000);
	if (transitions_or_fail(c, "announce", "1", "details") != 1 ||
		transitions_or_fail(c, "details", "1", "confirmed") != 1 || call_events_or_fail(c) != 2)
		fail_msg("call %s: want one press at announce and one at details, got %ld events",
			c->call_id, call_events_or_fail(c));
}

/* PostgreSQL is down at an outbound call's first request. */
static void test_hold_first_request(void **state)
{
	struct hx_call c;
	char sid[35], *held, *status;
	double holds0 = hx_metric("ringfence_webhook_holds_total");
	json_t *ev;

	(void)state;
	relay_set(0);
	launch_or_fail(&c, "person; press 1; press 1", sid);
	held = xasprintf("POST %s&hold=1", c.first_url);
	wait_event_or_fail(sid, "request", held, 30000);
	relay_set(1);
	status = wait_end_or_fail(sid, HOLD_CALL_DEADLINE_MS);
	ev = events_or_fail(sid);
	if (strcmp(status, "completed") != 0)
		fail_msg("call %s ended %s", sid, status);
	if (ev_count(ev, "note", "prompt: One moment, please.") < 1 ||
		ev_count(ev, "pause", "") < 1 || ev_count(ev, "say", "sorry") != 0)
		fail_msg("call %s: the caller did not hear the hold (or heard the apology)", sid);
	expect_confirmed_once(&c);
	if (audited_holds(sid, 1) < 1)
		fail_msg("call %s: no audit record of its hold", sid);
	if (hx_metric("ringfence_webhook_holds_total") < holds0 + 1)
		fail_msg("ringfence_webhook_holds_total did not count the hold");
	json_decref(ev);
	free(status);
	free(held);
}

/* PostgreSQL stops mid-call, before the caller's second press. */
static void test_hold_mid_call(void **state)
{
	struct hx_call c;
	char sid[35], *held, *status;
	json_t *ev;

	(void)state;
	/* The second press comes 4 s into the details Gather (timeout 5). */
	launch_or_fail(&c, "person; press 1; wait 4; press 1", sid);
	wait_state_or_fail(&c, "details/1", 30000);
	relay_set(0);
	held = xasprintf("c=%s&s=details&n=1&hold=1&digits=1", c.token);
	wait_event_or_fail(sid, "request", held, 30000);
	relay_set(1);
	status = wait_end_or_fail(sid, HOLD_CALL_DEADLINE_MS);
	if (strcmp(status, "completed") != 0)
		fail_msg("call %s ended %s", sid, status);
	ev = events_or_fail(sid);
	if (ev_count(ev, "note", "prompt: One moment, please.") < 1 ||
		ev_count(ev, "say", "sorry") != 0)
		fail_msg("call %s: the caller did not hear the hold (or heard the apology)", sid);
	/* The simulator pressed 1 twice in all: once at announce, once at
	 * details (carried by the hold). */
	if (ev_count(ev, "press", "") != 2)
		fail_msg("call %s: %zu presses, not 2", sid, ev_count(ev, "press", ""));
	expect_confirmed_once(&c);
	json_decref(ev);
	free(status);
	free(held);
}

/* PostgreSQL stays down past every hold: the apology, nothing changed. */
static void test_hold_exhausted(void **state)
{
	struct hx_call c;
	char sid[35], *status, *v, want[32];
	double holds0 = hx_metric("ringfence_webhook_holds_total");
	double done0 = hx_metric("ringfence_webhook_hold_exhausted_total");
	json_t *ev;

	(void)state;
	relay_set(0);
	launch_or_fail(&c, "person; press 1; press 1", sid);
	status = wait_end_or_fail(sid, HOLD_EXHAUST_DEADLINE_MS);
	ev = events_or_fail(sid);
	relay_set(1);
	if (strcmp(status, "completed") != 0)
		fail_msg("call %s ended %s", sid, status);
	for (int k = 1; k <= ENGINE_HOLD_MAX; k++) {
		snprintf(want, sizeof(want), "&hold=%d", k);
		if (ev_count(ev, "request", want) != 1)
			fail_msg("call %s: %zu requests with hold=%d, not 1", sid,
				ev_count(ev, "request", want), k);
	}
	snprintf(want, sizeof(want), "&hold=%d", ENGINE_HOLD_MAX + 1);
	if (ev_count(ev, "request", want) != 0 ||
		ev_count(ev, "note", "prompt: One moment, please.") != ENGINE_HOLD_MAX ||
		ev_count(ev, "say", "We are sorry") != 1 || ev_count(ev, "hangup", "application") != 1)
		fail_msg("call %s: want %d holds then the apology and a hang-up", sid, ENGINE_HOLD_MAX);
	v = call_state_or_fail(&c);
	if (strcmp(v, "announce/0") != 0 || call_events_or_fail(&c) != 0)
		fail_msg("call %s changed while PostgreSQL was down: %s", c.call_id, v);
	if (hx_metric("ringfence_webhook_holds_total") < holds0 + ENGINE_HOLD_MAX ||
		hx_metric("ringfence_webhook_hold_exhausted_total") < done0 + 1)
		fail_msg("the holds or the exhausted hold were not counted");
	json_decref(ev);
	free(status);
	free(v);
}

/* PostgreSQL itself stopped (deploy/stack pg-stop) at a press that runs
 * an action, the requests posted as Twilio would: the press is held with
 * its digits, and the held URL, once the server is back, confirms once. */
static void test_hold_pg_stopped(void **state)
{
	struct hx_call c;
	struct hx_form f;
	struct hx_response rs;
	char *press, *held, *v;

	(void)state;
	hx_fixture_call_or_fail(&c);
	hx_form_init(&f);
	hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
	if (hx_post_form(c.first_url, &f, HX_SIGNED, &rs) < 0 || rs.status != 200)
		fail_msg("the first request: HTTP %ld %s", rs.status, rs.error);
	hx_response_free(&rs);
	press = xasprintf("%s/twilio/voice/reminder_call?c=%s&s=announce&n=0", hx_env.public_url,
		c.token);
	hx_form_add(&f, "Digits", "1");
	if (hx_post_form(press, &f, HX_SIGNED, &rs) < 0 || rs.status != 200)
		fail_msg("the press at announce: HTTP %ld %s", rs.status, rs.error);
	hx_response_free(&rs);
	free(press);
	press = xasprintf("%s/twilio/voice/reminder_call?c=%s&s=details&n=1", hx_env.public_url,
		c.token);
	held = xasprintf("%s&hold=1&digits=1", press);
	pg_stop_or_fail();
	if (hx_post_form(press, &f, HX_SIGNED, &rs) < 0 || rs.status != 200)
		fail_msg("the press with PostgreSQL stopped: HTTP %ld %s", rs.status, rs.error);
	hx_expect_hold(buf_str(&rs.body), rs.body.len, held, ENGINE_HOLD_PAUSE_S,
		"the press with PostgreSQL stopped");
	hx_response_free(&rs);
	pg_start_or_fail();
	/* Twilio's Redirect: the same form without Digits. */
	hx_form_free(&f);
	hx_form_init(&f);
	hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
	for (int i = 0; i < 2; i++) {
		if (hx_post_form(held, &f, HX_SIGNED, &rs) < 0 || rs.status != 200)
			fail_msg("the held press: HTTP %ld %s", rs.status, rs.error);
		if (strstr(buf_str(&rs.body), "<Hangup/>") == NULL ||
			strstr(buf_str(&rs.body), "sorry") != NULL)
			fail_msg("the held press (%d): want the confirmation, got %s", i + 1,
				buf_str(&rs.body));
		hx_response_free(&rs);
	}
	v = call_state_or_fail(&c);
	if (strcmp(v, "confirmed/2") != 0 || transitions_or_fail(&c, "details", "1", "confirmed") != 1)
		fail_msg("after the held press the call is %s with %ld confirmations", v,
			transitions_or_fail(&c, "details", "1", "confirmed"));
	free(v);
	hx_form_free(&f);
	free(held);
	free(press);
}

/* Posts form f to url with the signature computed for signed_url. */
static void post_signed_for(const char *url, const char *signed_url, const struct hx_form *f,
	struct hx_response *rs)
{
	char sig[SIGNATURE_LEN + 1], *body = hx_form_encode(f);
	struct hx_request rq = { .method = "POST", .url = url, .body = body,
		.body_len = strlen(body), .signature = sig };

	if (hx_sign(NULL, signed_url, f, sig) < 0)
		fail_msg("cannot sign %s", signed_url);
	if (hx_http(NULL, &rq, rs) < 0)
		fail_msg("POST %s: %s", url, rs->error);
	free(body);
}

/* A hold URL changed after it was signed (another hold count, digits
 * added or changed) is refused: 403, nothing changed. */
static void test_hold_tampered(void **state)
{
	struct hx_call c;
	struct hx_form f;
	struct hx_response rs;
	char *held, *bad[3];
	char *v;

	(void)state;
	hx_fixture_call_or_fail(&c);
	held = xasprintf("%s&hold=1", c.first_url);
	bad[0] = xasprintf("%s&hold=1&digits=2", c.first_url);
	bad[1] = xasprintf("%s&hold=%d", c.first_url, ENGINE_HOLD_MAX);
	bad[2] = xasprintf("%s&hold=0", c.first_url);
	hx_form_init(&f);
	hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
	for (int i = 0; i < 3; i++) {
		post_signed_for(bad[i], held, &f, &rs);
		if (rs.status != 403)
			fail_msg("%s signed as %s: HTTP %ld, not 403", bad[i], held, rs.status);
		hx_response_free(&rs);
		free(bad[i]);
	}
	v = call_state_or_fail(&c);
	if (strcmp(v, "announce/0") != 0)
		fail_msg("a refused request moved the call to %s", v);
	free(v);
	/* Signed as it is, the held URL is served like the first request. */
	post_signed_for(held, held, &f, &rs);
	if (rs.status != 200 || strstr(buf_str(&rs.body), "<Gather") == NULL)
		fail_msg("the signed hold URL: HTTP %ld %s", rs.status, buf_str(&rs.body));
	hx_response_free(&rs);
	hx_form_free(&f);
	free(held);
}

/* The held request of a press, replayed after the recovery: the press
 * lands once (the first time), the replay changes nothing; Digits in the
 * body win over digits= in the query. */
static void test_hold_replay_after_recovery(void **state)
{
	struct hx_call c;
	struct hx_form f;
	struct hx_response rs;
	struct hx_twiml t;
	char *press, *held;

	(void)state;
	hx_fixture_call_or_fail(&c);
	hx_form_init(&f);
	hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
	press = xasprintf("%s/twilio/voice/reminder_call?c=%s&s=announce&n=0", hx_env.public_url,
		c.token);
	held = xasprintf("%s&hold=1&digits=1", press);
	/* The held press, as Twilio's Redirect posts it: no Digits. */
	for (int i = 0; i < 2; i++) {
		if (hx_post_form(held, &f, HX_SIGNED, &rs) < 0 || rs.status != 200)
			fail_msg("POST %s: HTTP %ld %s", held, rs.status, rs.error);
		hx_twiml_parse(buf_str(&rs.body), rs.body.len, &t);
		if (!t.has_gather || t.gather_action == NULL ||
			strstr(t.gather_action, "&s=details&n=1") == NULL)
			fail_msg("the held press (%d): want the details Gather, got %s", i + 1,
				buf_str(&rs.body));
		hx_twiml_free(&t);
		hx_response_free(&rs);
	}
	wait_state_or_fail(&c, "details/1", 1000);
	if (transitions_or_fail(&c, "announce", "1", "details") != 1 || call_events_or_fail(&c) != 1)
		fail_msg("the held press replayed landed %ld times", call_events_or_fail(&c));
	/* The body's Digits win over the query's digits=: 3 is "call me
	 * back" at details, never the 1 in the URL. */
	free(held);
	held = xasprintf("%s/twilio/voice/reminder_call?c=%s&s=details&n=1&hold=2&digits=1",
		hx_env.public_url, c.token);
	hx_form_add(&f, "Digits", "3");
	if (hx_post_form(held, &f, HX_SIGNED, &rs) < 0 || rs.status != 200)
		fail_msg("POST %s: HTTP %ld %s", held, rs.status, rs.error);
	hx_response_free(&rs);
	if (transitions_or_fail(&c, "details", "3", "callback") != 1 ||
		transitions_or_fail(&c, "details", "1", "confirmed") != 0)
		fail_msg("the body's Digits=3 did not win over digits=1 in the query");
	hx_form_free(&f);
	free(held);
	free(press);
}

static int group_setup(void **state)
{
	char err[512], *url;
	int rc;

	(void)state;
	relay.lfd = -1;
	if (hx_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "hold: %s\n", err);
		return -1;
	}
	initialised = 1;
	if (relay_start() < 0) {
		fprintf(stderr, "hold: cannot start the relay: %s\n", strerror(errno));
		return -1;
	}
	url = xasprintf("host=127.0.0.1 port=%d dbname=ringfence user=ringfence connect_timeout=5",
		relay.port);
	pool_moved = 1;
	rc = pool_restart(url);
	free(url);
	return rc;
}

static int group_teardown(void **state)
{
	int rc = initialised ? restore_pg(state) : 0;
	if (pool_moved && pool_restart(NULL) < 0)
		rc = -1;
	relay_stop();
	hx_fini();
	return rc;
}

int hold_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_tampered),
		cmocka_unit_test(test_hold_replay_after_recovery),
		cmocka_unit_test_teardown(test_hold_pg_stopped, restore_pg),
		cmocka_unit_test_teardown(test_hold_first_request, restore_pg),
		cmocka_unit_test_teardown(test_hold_mid_call, restore_pg),
		cmocka_unit_test_teardown(test_hold_exhausted, restore_pg),
	};
	return cmocka_run_group_tests_name("integration: calls held while PostgreSQL is down", tests,
		group_setup, group_teardown);
}

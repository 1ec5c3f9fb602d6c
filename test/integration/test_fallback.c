/* Integration tests: Twilio's FallbackUrl (RINGFENCE_FALLBACK_URL and
 * POST /twilio/fallback/voice), through the stack's simulator.
 *
 * The stack is the node that stays up.  A worker started with another
 * RINGFENCE_PUBLIC_URL places calls whose Url is a node that fails: a
 * closed port (a dead node), a small proxy that passes a press on to the
 * stack and then drops the connection without answering (a node that
 * committed the step and died), or, as the fallback, a server answering
 * garbage.  The route itself is then checked with signed requests: a bad,
 * absent or foreign ErrorUrl gets the apology, unsigned and wrongly
 * signed requests are refused. */
#include "harness.h"

#include "arena.h"
#include "flow.h"
#include "flow_paths.h"
#include "queue.h"
#include "rds.h"
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define F_DEADLINE_S 90
#define F_POLL_MS 250

static const char *api_url;
static char api_base[300];
static const char *bin_path;
static struct rds *f_rds;
static int f_initialised;

/* ---- small HTTP servers: the failing nodes ----------------------------------- */

enum node_mode {
	NODE_GARBAGE,   /* 200 text/xml that is not XML */
	NODE_PROXY,     /* passes every request on to the stack, re-signed; a voice
	                 * webhook carrying Digits is passed on and then dropped unanswered,
	                 * anything else answered with the stack's answer, the stack's
	                 * public URL in it replaced by the proxy's */
};

/* Reads one request from fd: its URI and body (malloc'd); 0 or -1. */
static int read_request(int fd, char **uri, char **body)
{
	struct buf b = BUF_INIT;
	char chunk[4096], *end, *cl, *sp;
	size_t head, want = 0;
	ssize_t n;

	*uri = *body = NULL;
	while ((end = strstr(buf_str(&b), "\r\n\r\n")) == NULL) {
		if ((n = read(fd, chunk, sizeof(chunk))) <= 0 || b.len > 65536)
			goto fail;
		buf_append(&b, chunk, (size_t)n);
	}
	head = (size_t)(end - b.data) + 4;
	cl = strcasestr(b.data, "\r\ncontent-length:");
	if (cl && cl < end)
		want = (size_t)strtoul(cl + 17, NULL, 10);
	while (b.len < head + want) {
		if ((n = read(fd, chunk, sizeof(chunk))) <= 0)
			goto fail;
		buf_append(&b, chunk, (size_t)n);
	}
	sp = strchr(b.data, ' ');
	if (sp == NULL)
		goto fail;
	*uri = xstrndup(sp + 1, strcspn(sp + 1, " \r\n"));
	*body = xstrndup(b.data + head, want);
	buf_free(&b);
	return 0;
fail:
	buf_free(&b);
	return -1;
}

static void write_answer(int fd, long status, const char *type, const char *body)
{
	char *head = xasprintf("HTTP/1.1 %ld X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		"Connection: close\r\n\r\n", status, type, strlen(body));
	if (write(fd, head, strlen(head)) < 0 || write(fd, body, strlen(body)) < 0)
		_exit(3);
	free(head);
}

/* The proxy's answer to one request (uri, form body). */
static void proxy_one(int fd, const char *uri, const char *body, const char *self)
{
	struct arena *a = arena_new(0);
	struct params p;
	struct hx_form f;
	struct hx_response rs;
	char *url = xasprintf("%s%s", hx_env.public_url, uri);

	hx_form_init(&f);
	if (form_parse(a, body, strlen(body), NULL, &p) != FORM_OK)
		_exit(4);
	for (size_t i = 0; i < p.n; i++)
		hx_form_add(&f, p.v[i].name, p.v[i].value);
	if (hx_post_form(url, &f, HX_SIGNED, &rs) < 0)
		_exit(5);
	if (strncmp(uri, "/twilio/voice/", 14) == 0 && form_get(&p, "Digits")) {
		/* Committed, then gone before answering. */
		shutdown(fd, SHUT_RDWR);
	} else {
		struct buf out = BUF_INIT;
		const char *s = buf_str(&rs.body), *hit;
		char *hook = xasprintf("%s/twilio/", hx_env.public_url);
		size_t n = strlen(hx_env.public_url);
		while ((hit = strstr(s, hook)) != NULL) {
			buf_append(&out, s, (size_t)(hit - s));
			buf_puts(&out, self);
			s = hit + n;
		}
		free(hook);
		buf_puts(&out, s);
		write_answer(fd, rs.status, rs.content_type[0] ? rs.content_type : "text/plain",
			buf_str(&out));
		buf_free(&out);
	}
	hx_response_free(&rs);
	hx_form_free(&f);
	free(url);
	arena_free(a);
}

/* Starts a node on 127.0.0.1 (a port of the kernel's choosing, put in
 * *portp) in a child process; its pid. */
static pid_t node_start(int *portp, enum node_mode mode)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	int ls = socket(AF_INET, SOCK_STREAM, 0), port;
	pid_t pid;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(ls >= 0);
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 16) < 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &salen) < 0)
		fail_msg("cannot listen on 127.0.0.1");
	port = *portp = ntohs(sa.sin_port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *self = xasprintf("http://127.0.0.1:%d", port);
		for (;;) {
			char *uri, *body;
			int fd = accept(ls, NULL, NULL);
			if (fd < 0)
				continue;
			if (read_request(fd, &uri, &body) == 0) {
				if (mode == NODE_GARBAGE)
					write_answer(fd, 200, "text/xml", "<Response><Say>broken");
				else
					proxy_one(fd, uri, body, self);
			}
			close(fd);
			free(uri);
			free(body);
		}
	}
	close(ls);
	return pid;
}

static void node_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* ---- a reminder call placed by a worker of another node ------------------------ */

/* Runs `ringfence worker --once` as a node whose public URL is public and
 * whose fallback is fallback; its exit status. */
static int worker_once(const char *allowed, const char *public, const char *fallback)
{
	static const char *const args[] = { "--once", NULL };
	pid_t pid = fork();

	if (pid == 0) {
		hx_worker_child_env(allowed);
		setenv("RINGFENCE_PUBLIC_URL", public, 1);
		setenv("RINGFENCE_FALLBACK_URL", fallback, 1);
		hx_exec_worker(bin_path, args);
	}
	assert_true(pid > 0);
	return hx_wait_child(pid, 120);
}

/* The first path of reminder_call that starts with a press and has more
 * steps after it; its behaviour (free it) and *nsteps, *end. */
static char *press_path_or_fail(size_t *nsteps, char end[72])
{
	const char *root = getenv("RINGFENCE_ROOT") && *getenv("RINGFENCE_ROOT") ?
		getenv("RINGFENCE_ROOT") : ".";
	struct flow_diag d = { NULL, 0 };
	struct flow_paths ps = { NULL, 0 };
	struct flow *f = flow_load(root, "reminder_call", &d);
	char *beh = NULL;

	if (f == NULL || flow_paths_build(f, &ps, &d, NULL) < 0)
		fail_msg("reminder_call does not load: %s", d.n ? d.msgs[0] : "");
	for (size_t i = 0; i < ps.n && beh == NULL; i++)
		if (ps.v[i].nsteps >= 2 && ps.v[i].steps[0].way == FLOW_WAY_PRESS &&
			ps.v[i].steps[1].way == FLOW_WAY_PRESS) {
			beh = flow_path_behaviour(f, &ps.v[i]);
			*nsteps = ps.v[i].nsteps;
			snprintf(end, 72, "%s", f->states[ps.v[i].end].name);
		}
	if (beh == NULL)
		fail_msg("reminder_call has no path of two presses");
	flow_paths_free(&ps);
	flow_free(f);
	flow_diag_free(&d);
	return beh;
}

struct placed {
	struct hx_rfix fx;
	char sid[64];
	char status[24];
	json_t *events;     /* the simulator's events of the call */
};

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : "";
}

/* A voice reminder for a fresh phone behaving as beh, placed by a worker
 * of the node (public, fallback), played to its end by the simulator. */
static void place_or_fail(struct placed *c, const char *beh, const char *public,
	const char *fallback)
{
	const struct hx_rfix_opts o = { .business_name = "Fallback Test Clinic",
		.client_name = "Fallback Test Client", .channel = "voice", .retry_delay_minutes = 5,
		.stale_min = 120 };
	struct hx_rstate s;
	long long id, deadline;
	char *url;

	memset(c, 0, sizeof(*c));
	hx_rfix_or_fail(&c->fx, &o);
	hx_sim_callee_or_fail(c->fx.phone, beh);
	id = atoll(c->fx.reminder);
	assert_int_equal(queue_push(f_rds, &id, 1), 0);
	assert_int_equal(worker_once(c->fx.phone, public, fallback), 0);
	hx_rstate_or_fail(&c->fx, &s);
	if (strcmp(s.attempt, "placed") != 0 || s.sid[0] == '\0')
		fail_msg("not placed: attempt '%s', reminder %s (%s)", s.attempt, s.reminder, s.reason);
	snprintf(c->sid, sizeof(c->sid), "%s", s.sid);
	url = xasprintf("%s/Calls/%s.json", api_base, c->sid);
	deadline = hx_now_ms() + F_DEADLINE_S * 1000LL;
	for (;;) {
		json_t *j = hx_sim_json_or_fail(url, NULL);
		const char *st = jstr(j, "status");
		snprintf(c->status, sizeof(c->status), "%s", st);
		json_decref(j);
		if (strcmp(c->status, "completed") == 0 || strcmp(c->status, "failed") == 0 ||
			strcmp(c->status, "busy") == 0 || strcmp(c->status, "no-answer") == 0)
			break;
		if (hx_now_ms() >= deadline)
			fail_msg("%s still '%s' after %d s", c->sid, c->status, F_DEADLINE_S);
		hx_sleep_ms(F_POLL_MS);
	}
	free(url);
	url = xasprintf("%s/sim/calls/%s/events.json", api_url, c->sid);
	{
		json_t *j = hx_sim_json_or_fail(url, NULL);
		c->events = json_incref(json_object_get(j, "events"));
		json_decref(j);
	}
	free(url);
	assert_true(json_is_array(c->events));
}

static void placed_free(struct placed *c)
{
	json_decref(c->events);
}

/* How many of the call's events are of kind and have text starting with
 * prefix (and, when code is not 0, that code). */
static size_t events_count(const struct placed *c, const char *kind, const char *prefix, long code)
{
	size_t i, n = 0;
	json_t *ev;

	json_array_foreach(c->events, i, ev) {
		if (strcmp(jstr(ev, "kind"), kind) == 0 &&
			strncmp(jstr(ev, "text"), prefix, strlen(prefix)) == 0 &&
			(code == 0 || json_integer_value(json_object_get(ev, "code")) == code))
			n++;
	}
	return n;
}

/* The call's row: its state and how many call_events it has (the state is
 * "" without a row). */
static long long call_events_or_fail(const struct placed *c, char state[72])
{
	const char *q[1] = { c->fx.reminder };
	char *st = hx_db_value_or_fail("SELECT state FROM calls WHERE reminder_id = $1::bigint", 1, q);
	snprintf(state, 72, "%s", st ? st : "");
	free(st);
	return hx_db_int_or_fail("SELECT count(*) FROM call_events e JOIN calls c ON c.id = e.call_id"
		" WHERE c.reminder_id = $1::bigint", 1, q);
}

/* ---- flows ----------------------------------------------------------------------- */

/* The Url is a dead node: every TwiML request of the call's first
 * document goes to the fallback, which answers it with the stack's URLs;
 * the call completes on the stack, each press landing once. */
static void test_dead_node(void **state)
{
	struct placed c;
	size_t nsteps;
	char end[72], got[72], *beh = press_path_or_fail(&nsteps, end);
	double before = hx_metric("ringfence_webhook_fallbacks_total");
	char *key;

	(void)state;
	place_or_fail(&c, beh, hx_dead_origin(), hx_env.public_url);
	assert_string_equal(c.status, "completed");
	assert_int_equal(events_count(&c, "error", "", 0), 0);
	assert_int_equal(events_count(&c, "note", "error 11205", 11205), 1);
	{
		char *want = xasprintf("POST %s/twilio/voice/", hx_dead_origin());
		assert_int_equal(events_count(&c, "request", want, 0), 1);
		free(want);
		/* Status callbacks have no fallback: they went to the dead node only. */
		want = xasprintf("POST %s/twilio/status/call", hx_dead_origin());
		assert_true(events_count(&c, "callback", want, 0) >= 3);
		free(want);
	}
	assert_int_equal(events_count(&c, "hangup", "application", 0), 1);
	{
		char *want = xasprintf("POST %s/twilio/fallback/voice", hx_env.public_url);
		assert_int_equal(events_count(&c, "request", want, 0), 1);
		free(want);
	}
	assert_int_equal(call_events_or_fail(&c, got), (long long)nsteps);
	assert_string_equal(got, end);
	assert_true(hx_metric("ringfence_webhook_fallbacks_total") >= before + 1);
	key = xasprintf("audit:call:%s", c.sid);
	if (hx_audit_wait(key, 1, 5000, "kind", "fallback", "error_code", "11205",
		    "error_url_path", "/twilio/voice/reminder_call", NULL) != 1)
		fail_msg("no one fallback record for %s", c.sid);
	free(key);
	placed_free(&c);
	free(beh);
}

/* The Url is a node that passes the press on (the stack commits it) and
 * dies before answering: the fallback's answer is the replay of the
 * step, and the transition is taken once. */
static void test_committed_then_died(void **state)
{
	struct placed c;
	size_t nsteps;
	char end[72], got[72], *beh = press_path_or_fail(&nsteps, end), *key;
	char node[64];
	int port;
	pid_t pid = node_start(&port, NODE_PROXY);

	(void)state;
	snprintf(node, sizeof(node), "http://127.0.0.1:%d", port);
	place_or_fail(&c, beh, node, hx_env.public_url);
	node_stop(pid);
	assert_string_equal(c.status, "completed");
	assert_int_equal(events_count(&c, "error", "", 0), 0);
	assert_int_equal(events_count(&c, "note", "error 11200", 11200), 1);
	assert_int_equal(call_events_or_fail(&c, got), (long long)nsteps);
	assert_string_equal(got, end);
	key = xasprintf("audit:call:%s", c.sid);
	if (hx_audit_wait(key, 1, 5000, "kind", "fallback", "error_code", "11200", NULL) != 1)
		fail_msg("no one fallback record for %s", c.sid);
	/* The fallback's answer was the replay of the step the node took. */
	{
		char err[256];
		json_t *arr = hx_audit_read(key, 0, err, sizeof(err)), *rec;
		size_t i, replays = 0;
		if (arr == NULL)
			fail_msg("audit: %s", err);
		json_array_foreach(arr, i, rec)
			replays += strcmp(jstr(rec, "kind"), "fallback") == 0 &&
				json_is_true(json_object_get(rec, "replay"));
		json_decref(arr);
		assert_int_equal(replays, 1);
	}
	free(key);
	{
		const char *q[1] = { c.fx.reminder };
		/* The first step (announce's press) once, though two nodes ran it. */
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM call_events e JOIN calls c"
			" ON c.id = e.call_id WHERE c.reminder_id = $1::bigint AND e.seq = 1", 1, q), 1);
	}
	placed_free(&c);
	free(beh);
}

/* The fallback answers garbage too: the caller hears the application
 * error and the call ends; nothing moved. */
static void test_fallback_garbage(void **state)
{
	struct placed c;
	char got[72], fb[64];
	int port;
	pid_t pid = node_start(&port, NODE_GARBAGE);

	(void)state;
	snprintf(fb, sizeof(fb), "http://127.0.0.1:%d", port);
	place_or_fail(&c, "person; press 1; press 1", hx_dead_origin(), fb);
	node_stop(pid);
	assert_int_equal(events_count(&c, "error", "HTTP connection failure", 11205), 1);
	{
		char *want = xasprintf("POST %s/twilio/fallback/voice", fb);
		assert_int_equal(events_count(&c, "request", want, 0), 1);
		free(want);
	}
	assert_int_equal(events_count(&c, "hangup", "application", 0), 0);
	assert_int_equal(call_events_or_fail(&c, got), 0);
	placed_free(&c);
}

/* ---- the route with signed requests ---------------------------------------------- */

static char *fallback_url(void)
{
	return xasprintf("%s/twilio/fallback/voice", hx_env.public_url);
}

/* POSTs f to the fallback route signed per mode; its status and body. */
static long post_fallback(const struct hx_form *f, enum hx_sign_mode mode, struct buf *body)
{
	struct hx_response rs;
	char *url = fallback_url();
	long st;

	if (hx_post_form(url, f, mode, &rs) < 0)
		fail_msg("POST %s: %s", url, rs.error);
	st = rs.status;
	if (body)
		buf_puts(body, buf_str(&rs.body));
	hx_response_free(&rs);
	free(url);
	return st;
}

/* A webhook's answer to a signed post of f to url. */
static void post_voice(const char *url, const struct hx_form *f, struct buf *body)
{
	struct hx_response rs;
	if (hx_post_form(url, f, HX_SIGNED, &rs) < 0 || rs.status != 200)
		fail_msg("POST %s: %ld %s", url, rs.status, rs.error);
	buf_puts(body, buf_str(&rs.body));
	hx_response_free(&rs);
}

/* Call c's first request through the voice webhook, with the form f
 * (initialised here, kept for the next requests) and its answer in a:
 * the Gather's action URL it answered (owned by the caller). */
static char *first_action_or_fail(const struct hx_call *c, struct hx_form *f, struct buf *a)
{
	struct hx_twiml t;
	char *action;

	hx_form_init(f);
	hx_form_voice(f, c->call_sid, c->from_number, c->client_phone);
	post_voice(c->first_url, f, a);
	hx_twiml_parse(a->data, a->len, &t);
	assert_non_null(t.gather_action);
	action = xstrdup(t.gather_action);
	hx_twiml_free(&t);
	return action;
}

/* The webhook a node committed and the same request through the
 * fallback: the same TwiML, the call unchanged; a step the dead node
 * never took is taken by the fallback, once. */
static void test_route_replay(void **state)
{
	struct hx_call c;
	struct hx_form f;
	struct hx_snapshot s0, s1;
	struct hx_twiml t;
	struct buf a = BUF_INIT, b = BUF_INIT;
	char *action;

	(void)state;
	hx_fixture_call_or_fail(&c);
	action = first_action_or_fail(&c, &f, &a);

	/* The press, committed by the node that then died. */
	hx_form_set(&f, "Digits", "1");
	buf_reset(&a);
	post_voice(action, &f, &a);
	hx_snapshot_or_fail(&c, &s0);
	assert_int_equal(s0.events, 1);
	hx_form_set(&f, "ErrorCode", "11200");
	hx_form_set(&f, "ErrorUrl", action);
	assert_int_equal(post_fallback(&f, HX_SIGNED, &b), 200);
	assert_string_equal(buf_str(&b), buf_str(&a));
	hx_snapshot_or_fail(&c, &s1);
	hx_snapshot_same_or_fail(&s0, &s1, "the fallback's replay");

	/* The next press, which the dead node never saw: taken here. */
	hx_twiml_parse(a.data, a.len, &t);
	assert_non_null(t.gather_action);
	free(action);
	action = xstrdup(t.gather_action);
	hx_twiml_free(&t);
	hx_form_set(&f, "ErrorUrl", action);
	buf_reset(&b);
	assert_int_equal(post_fallback(&f, HX_SIGNED, &b), 200);
	hx_snapshot_or_fail(&c, &s1);
	assert_int_equal(s1.events, 2);
	buf_reset(&a);
	hx_form_del(&f, "ErrorCode");
	hx_form_del(&f, "ErrorUrl");
	post_voice(action, &f, &a);
	assert_string_equal(buf_str(&b), buf_str(&a));
	hx_snapshot_or_fail(&c, &s0);
	hx_snapshot_same_or_fail(&s0, &s1, "the voice webhook's replay of the fallback's step");
	hx_form_free(&f);
	buf_free(&a);
	buf_free(&b);
	free(action);
}

/* A missing, malformed or foreign ErrorUrl: the apology (the answer of an
 * unknown /twilio/ path), the call unchanged, a fallback record without
 * the token. */
static void test_route_bad_error_url(void **state)
{
	struct hx_call c;
	struct hx_form f;
	struct hx_snapshot s0, s1;
	struct hx_response rs;
	struct buf apology = BUF_INIT, b = BUF_INIT;
	char *unknown = xasprintf("%s/twilio/no-such-hook", hx_env.public_url);
	char *key, *host_only;
	const char *path;
	(void)state;

	hx_fixture_call_or_fail(&c);
	path = strchr(c.first_url + 8, '/');
	host_only = xstrndup(c.first_url, (size_t)(path - c.first_url));
	hx_form_init(&f);
	hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
	if (hx_post_form(unknown, &f, HX_SIGNED, &rs) < 0 || rs.status != 200)
		fail_msg("POST %s: %ld", unknown, rs.status);
	buf_puts(&apology, buf_str(&rs.body));
	hx_response_free(&rs);
	hx_snapshot_or_fail(&c, &s0);

	const char *bad[] = {
		NULL,                                                  /* absent */
		"",
		"not a url",
		"ftp://node-a.example.com/twilio/voice/reminder_call",
		"https:///twilio/voice/reminder_call",
		"https://node-a.example.com/twilio/status/call?a=1",   /* foreign path */
		"https://node-a.example.com/twilio/voice/",
		"https://node-a.example.com/twilio/voice/../status/call",
		"https://node-a.example.com/twilio/voice/reminder_call?c=nothex&s=announce&n=0",
		"https://node-a.example.com/twilio/voice/reminder_call?n=%zz",
	};
	hx_form_set(&f, "ErrorCode", "11205");
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		if (bad[i])
			hx_form_set(&f, "ErrorUrl", bad[i]);
		else
			hx_form_del(&f, "ErrorUrl");
		buf_reset(&b);
		assert_int_equal(post_fallback(&f, HX_SIGNED, &b), 200);
		if (strcmp(buf_str(&b), buf_str(&apology)) != 0)
			fail_msg("ErrorUrl '%s': not the apology: %s", bad[i] ? bad[i] : "(absent)",
				buf_str(&b));
	}
	hx_snapshot_or_fail(&c, &s1);
	hx_snapshot_same_or_fail(&s0, &s1, "a refused fallback");
	key = xasprintf("audit:call:%s", c.call_sid);
	if (hx_audit_wait(key, ARRAY_LEN(bad), 5000, "kind", "fallback", "error_code", "11205",
		    NULL) != (long)ARRAY_LEN(bad))
		fail_msg("not %zu fallback records for %s", ARRAY_LEN(bad), c.call_sid);
	if (hx_audit_wait(key, 1, 2000, "kind", "fallback", "error_url_path",
		    "/twilio/status/call", "error", "fallback: ErrorUrl is not a voice webhook of ringfence",
		    NULL) != 1)
		fail_msg("the foreign path's record is missing");
	free(key);

	/* A good ErrorUrl on another host: the stack answers it (the host is
	 * the dead node's, never this one's), its record holds no token. */
	{
		char *other = xasprintf("https://node-a.example.com%s", path);
		char err[256];
		json_t *arr, *rec;
		size_t i;
		hx_form_set(&f, "ErrorUrl", other);
		buf_reset(&b);
		assert_int_equal(post_fallback(&f, HX_SIGNED, &b), 200);
		assert_string_not_equal(buf_str(&b), buf_str(&apology));
		key = xasprintf("audit:call:%s", c.call_sid);
		arr = hx_audit_read(key, 0, err, sizeof(err));
		if (arr == NULL)
			fail_msg("audit: %s", err);
		json_array_foreach(arr, i, rec) {
			char *text = json_dumps(rec, 0);
			if (strcmp(jstr(rec, "kind"), "fallback") == 0 && strstr(text, c.token))
				fail_msg("a fallback record holds the call's token: %s", text);
			free(text);
		}
		json_decref(arr);
		free(key);
		free(other);
	}
	hx_form_free(&f);
	buf_free(&apology);
	buf_free(&b);
	free(unknown);
	free(host_only);
}

/* ErrorUrls twisted every way an attacker or a proxy might (another
 * path, encoded separators, a doubled '?', a fragment, repeated c= or s=,
 * hold= and digits= smuggled in, huge values, a fallback's own URL): a
 * 200 with a well-formed <Response> each time, never a 500, and the call
 * moved at most by its own press, once. */
static void test_route_tricks(void **state)
{
	struct hx_call c, other;
	struct hx_form f;
	struct hx_snapshot s0, s1, o0, o1;
	struct hx_twiml t;
	struct buf a = BUF_INIT, b = BUF_INIT;
	char *action, *host, *q, *big;
	const char *path;

	(void)state;
	hx_fixture_call_or_fail(&c);
	hx_fixture_call_or_fail(&other);
	action = first_action_or_fail(&c, &f, &a);
	path = strchr(action + 8, '/');
	host = xstrndup(action, (size_t)(path - action));
	q = strchr(action, '?');
	assert_non_null(q);
	/* Long, but inside the body's cap (a larger body is refused with
	 * 413 before its signature is read, as on every webhook). */
	big = xmalloc(8001);
	memset(big, '9', 8000);
	big[8000] = '\0';
	hx_snapshot_or_fail(&c, &s0);
	hx_snapshot_or_fail(&other, &o0);

	char *bad[] = {
		xasprintf("%s#frag", action),
		xasprintf("%s/twilio/voice/reminder_call?%s", host, q),
		xasprintf("%s/twilio/voice/reminder_call%%2F..%%2Fstatus%s", host, q),
		xasprintf("%s/twilio/voice/../voice/reminder_call%s", host, q),
		xasprintf("%s/twilio/voice/reminder_call/%s", host, q),
		xasprintf("%s/TWILIO/voice/reminder_call%s", host, q),
		xasprintf("%s/twilio/voice/reminder_call?c=%s&%s", host, other.token, q + 1),
		xasprintf("%s/twilio/fallback/voice%s", host, q),
		xasprintf("%s/twilio/voice/reminder_call%s&n=%s", host, q, big),
		xasprintf("%s/twilio/voice/reminder_call?n=%s&%s", host, big, q + 1),
		xasprintf("%s/twilio/voice/reminder_call?hold=-1&%s", host, q + 1),
		xasprintf("%s/twilio/voice/reminder_call?hold=99999999999999999999&%s", host, q + 1),
		xasprintf("%s/twilio/voice/reminder_call?digits=1%%00&%s", host, q + 1),
		xasprintf("%s/twilio/voice/reminder_call?%s&x=%s", host, q + 1, big),
	};
	hx_form_set(&f, "Digits", "1");
	hx_form_set(&f, "ErrorCode", "11200");
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		long st;
		hx_form_set(&f, "ErrorUrl", bad[i]);
		buf_reset(&b);
		st = post_fallback(&f, HX_SIGNED, &b);
		hx_twiml_parse(b.data, b.len, &t);
		if (st != 200 || !t.well_formed || !t.root_response)
			fail_msg("ErrorUrl #%zu %.80s: HTTP %ld, not a <Response>: %.200s", i,
				bad[i] + strlen(host), st, buf_str(&b));
		hx_twiml_free(&t);
	}
	/* The press moved the call at most once (a doubled '?' hides c=, and
	 * the call is then found by its CallSid, as on the voice webhook);
	 * the other call's token moved nothing of either. */
	hx_snapshot_or_fail(&c, &s1);
	assert_true(s1.events <= s0.events + 1);
	hx_snapshot_or_fail(&other, &o1);
	hx_snapshot_same_or_fail(&o0, &o1, "another call's token in ErrorUrl");
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		free(bad[i]);
	hx_form_free(&f);
	buf_free(&a);
	buf_free(&b);
	free(action);
	free(host);
	free(big);
}

/* Unsigned or wrongly signed: refused as every webhook is, nothing runs. */
static void test_route_unsigned(void **state)
{
	struct hx_call c;
	struct hx_form f;
	struct hx_snapshot s0, s1;
	double before = hx_metric("ringfence_webhook_fallbacks_total");

	(void)state;
	hx_fixture_call_or_fail(&c);
	hx_snapshot_or_fail(&c, &s0);
	hx_form_init(&f);
	hx_form_voice(&f, c.call_sid, c.from_number, c.client_phone);
	hx_form_set(&f, "ErrorCode", "11200");
	hx_form_set(&f, "ErrorUrl", c.first_url);
	assert_int_equal(post_fallback(&f, HX_NO_SIG, NULL), 403);
	assert_int_equal(post_fallback(&f, HX_BAD_SIG, NULL), 403);
	hx_snapshot_or_fail(&c, &s1);
	hx_snapshot_same_or_fail(&s0, &s1, "a refused fallback");
	assert_true(hx_metric("ringfence_webhook_fallbacks_total") == before);
	hx_form_free(&f);
}

static int group_setup(void **state)
{
	(void)state;
	if (hx_init_sim_api("fallback tests", &api_url, api_base, sizeof(api_base)) < 0)
		return -1;
	if ((bin_path = hx_ringfence_bin("fallback")) == NULL)
		return -1;
	if ((f_rds = rds_open(hx_env.redis_url)) == NULL)
		return -1;
	f_initialised = 1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (f_initialised)
		rds_close(f_rds);
	f_initialised = 0;
	hx_fini();
	return 0;
}

int fallback_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_replay),
		cmocka_unit_test(test_route_bad_error_url),
		cmocka_unit_test(test_route_unsigned),
		cmocka_unit_test(test_route_tricks),
		cmocka_unit_test(test_dead_node),
		cmocka_unit_test(test_committed_then_died),
		cmocka_unit_test(test_fallback_garbage),
	};
	return cmocka_run_group_tests_name("fallback", tests, group_setup, group_teardown);
}

/* Integration tests of the local Twilio simulator end to end: calls and
 * messages created through its REST API (TWILIO_API_URL, Basic auth),
 * played by its driver, and judged by their REST resources, their
 * transcripts (/sim/calls/{Sid}/events.json and /transcript), what the
 * application saw, and what PostgreSQL and Redis hold afterwards.
 *
 * The application is either ringfence itself through nginx (the
 * reminder_call flow on a fixture call) or fakeapp, a programmable HTTP
 * server inside this binary that records every request the simulator
 * makes (so its signatures, parameters and order can be checked).
 *
 * The stack's simulator may run in real time (RINGFENCE_SIM_TIME_SCALE=1),
 * so every call and message is launched at once by the group's first
 * test and played side by side; each later test waits for its own to
 * end and checks it.  The longest is the application that answers after
 * 16 s, which Twilio gives up on after 15. */
#include "harness.h"
#include "oas.h"
#include "fakeapp.h"

#include "arena.h"
#include "form.h"
#include "signature.h"
#include "util.h"

#include <curl/curl.h>
#include <strings.h>

#define SC_FROM "+15005550006"      /* the test credentials' valid sender */
#define SC_DEADLINE_S 60            /* launch to end, for any one call */
#define SC_POLL_MS 250
#define SC_SLOW_MS 16000            /* over Twilio's 15 s */
#define SC_AUDIT_SCAN 5000          /* newest audit:all records searched */

static const char *api_url;         /* TWILIO_API_URL, no trailing slash */
static char api_base[300];          /* api_url + /2010-04-01/Accounts/AC... */
static struct fakeapp *fa;
static int sc_initialised;

static const char *const CALL_TMPL = "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json";
static const char *const CALLS_TMPL = "/2010-04-01/Accounts/{AccountSid}/Calls.json";
static const char *const MSG_TMPL = "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json";
static const char *const MSGS_TMPL = "/2010-04-01/Accounts/{AccountSid}/Messages.json";

/* ---- the REST API ---------------------------------------------------------- */

/* GET url (form NULL) or POST form to it with the stack's credentials.
 * Fails the test when no HTTP answer comes. */
static void api_or_fail(const char *url, const struct hx_form *form, struct hx_sim_res *r)
{
	char *body = form ? hx_form_encode(form) : NULL;
	if (hx_sim_request(url, NULL, NULL, body, r) < 0)
		fail_msg("%s: %s", url, r->error);
	free(body);
}

/* A Twilio REST answer must be what Twilio would send (oas.h). */
static void schema_or_fail(const char *method, const char *tmpl, const struct hx_sim_res *r)
{
	char err[512];
	if (oas_check(method, tmpl, (int)r->status, buf_str(&r->body), err, sizeof(err)) != 0)
		fail_msg("%s %s (HTTP %ld): %s\n%s", method, tmpl, r->status, err, buf_str(&r->body));
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Whether a and b are both there and equal. */
static int eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static const char *or_none(const char *s)
{
	return s ? s : "(none)";
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ---- scenarios ----------------------------------------------------------------- */

enum sc_kind {
	SC_FLOW,     /* a call to the reminder_call flow through nginx */
	SC_APP,      /* a call whose Url is fakeapp's /NAME/start */
	SC_MESSAGE,  /* a message */
};

struct scenario;
typedef void (*sc_fn)(struct scenario *s, struct hx_form *f);

struct scenario {
	const char *name;           /* also fakeapp's folder: [a-z0-9-] */
	enum sc_kind kind;
	const char *behaviour;      /* the callee's line; NULL: none stored */
	sc_fn prepare;              /* fakeapp's documents, more form fields */
	void (*check)(struct scenario *s);

	/* the launch */
	int launched;
	long long launched_ms;
	struct hx_call fx;          /* SC_FLOW: the fixture rows */
	char to[16];
	char from[16];
	char sid[35];
	/* the end (wait_call_or_fail, wait_message_or_fail) */
	json_t *resource;           /* the final call or message */
	json_t *events;             /* its transcript events, oldest first */
	char *transcript;           /* the text transcript */
};

static char *app_path(const struct scenario *s, const char *leaf)
{
	return xasprintf("/%s/%s", s->name, leaf);
}

static char *app_url(const struct scenario *s, const char *leaf)
{
	return xasprintf("%s/%s/%s", fakeapp_url(fa), s->name, leaf);
}

/* fakeapp serves /NAME/leaf. */
static void serve_or_fail(const struct scenario *s, const char *leaf, int status,
	const char *content_type, const char *body, long delay_ms)
{
	char *path = app_path(s, leaf);
	if (fakeapp_serve(fa, path, status, content_type, body, delay_ms) != 0)
		fail_msg("fakeapp refused to serve %s", path);
	free(path);
}

static void serve_twiml_or_fail(const struct scenario *s, const char *leaf, const char *twiml)
{
	serve_or_fail(s, leaf, 200, "text/xml; charset=utf-8", twiml, 0);
}

/* Fails the test, naming the scenario and showing its transcript. */
static void sc_fail(const struct scenario *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sc_fail(const struct scenario *s, const char *fmt, ...)
{
	char what[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fail_msg("%s (%s): %s\ntranscript:\n%.6000s", s->name, s->sid[0] ? s->sid : "no sid", what,
		s->transcript ? s->transcript : "(none read)");
}

#define SC_CHECK(s, cond, ...)                 \
	do {                                   \
		if (!(cond))                   \
			sc_fail((s), __VA_ARGS__); \
	} while (0)

/* ---- transcripts ---------------------------------------------------------------- */

/* Reads sid's events and text transcript into s (replacing earlier ones). */
static void read_transcript_or_fail(struct scenario *s, const char *sid)
{
	const char *what = strncmp(sid, "CA", 2) == 0 ? "calls" : "messages";
	char url[512];
	struct hx_sim_res r;

	snprintf(url, sizeof(url), "%s/sim/%s/%s/events.json", api_url, what, sid);
	api_or_fail(url, NULL, &r);
	if (r.status != 200 || !json_is_array(json_object_get(r.json, "events")))
		fail_msg("%s: HTTP %ld %s", url, r.status, buf_str(&r.body));
	if (strcmp(jstr(r.json, "sid") ? jstr(r.json, "sid") : "", sid) != 0)
		fail_msg("%s names another sid: %s", url, buf_str(&r.body));
	json_decref(s->events);
	s->events = json_incref(json_object_get(r.json, "events"));
	hx_sim_res_free(&r);

	snprintf(url, sizeof(url), "%s/sim/%s/%s/transcript", api_url, what, sid);
	api_or_fail(url, NULL, &r);
	if (r.status != 200)
		fail_msg("%s: HTTP %ld %s", url, r.status, buf_str(&r.body));
	free(s->transcript);
	s->transcript = xstrdup(buf_str(&r.body));
	hx_sim_res_free(&r);
	/* The text is the events, one line each (read second, it may have
	 * more while the message's player is still at work). */
	if (json_array_size(s->events) == 0 || count_lines(s->transcript) < json_array_size(s->events))
		sc_fail(s, "the text transcript has fewer lines than the %zu events",
			json_array_size(s->events));
}

static const char *ev_kind(json_t *ev)
{
	return jstr(ev, "kind") ? jstr(ev, "kind") : "";
}

static const char *ev_text(json_t *ev)
{
	return jstr(ev, "text") ? jstr(ev, "text") : "";
}

static const char *ev_detail(json_t *ev)
{
	return jstr(ev, "detail") ? jstr(ev, "detail") : "";
}

static long ev_code(json_t *ev)
{
	return (long)json_integer_value(json_object_get(ev, "code"));
}

/* The n-th (from 0) event of kind, or NULL. */
static json_t *ev_nth(const struct scenario *s, const char *kind, size_t n)
{
	size_t i;
	json_t *ev;
	json_array_foreach(s->events, i, ev) {
		if (strcmp(ev_kind(ev), kind) == 0 && n-- == 0)
			return ev;
	}
	return NULL;
}

static size_t ev_count(const struct scenario *s, const char *kind)
{
	size_t i, n = 0;
	json_t *ev;
	json_array_foreach(s->events, i, ev)
		n += strcmp(ev_kind(ev), kind) == 0;
	return n;
}

/* The index of the first event of kind whose text contains needle
 * (ASCII case-insensitive; NULL: any text), or -1. */
static long ev_find(const struct scenario *s, const char *kind, const char *needle)
{
	size_t i;
	json_t *ev;
	json_array_foreach(s->events, i, ev) {
		if (strcmp(ev_kind(ev), kind) == 0 && (needle == NULL || strcasestr(ev_text(ev), needle)))
			return (long)i;
	}
	return -1;
}

/* The kind texts ("status") of every event of kind, joined by ','. */
static void ev_texts(const struct scenario *s, const char *kind, struct buf *out)
{
	size_t i;
	json_t *ev;
	buf_reset(out);
	json_array_foreach(s->events, i, ev) {
		if (strcmp(ev_kind(ev), kind) != 0)
			continue;
		if (out->len)
			buf_putc(out, ',');
		buf_puts(out, ev_text(ev));
	}
}

/* What the callee heard from event index from on: every Say, and every
 * recorded prompt's text, one a line. */
static void heard_from(const struct scenario *s, size_t from, struct buf *out)
{
	size_t i;
	json_t *ev;
	buf_reset(out);
	json_array_foreach(s->events, i, ev) {
		if (i < from)
			continue;
		if (strcmp(ev_kind(ev), "say") == 0)
			buf_printf(out, "%s\n", ev_text(ev));
		else if (strcmp(ev_kind(ev), "note") == 0 && strncmp(ev_text(ev), "prompt: ", 8) == 0)
			buf_printf(out, "%s\n", ev_text(ev) + 8);
	}
}

/* ---- waiting for the end -------------------------------------------------------- */

static int call_final(const char *status)
{
	return status && strcmp(status, "queued") != 0 && strcmp(status, "ringing") != 0 &&
		strcmp(status, "in-progress") != 0;
}

/* Polls GET <collection>/{Sid}.json (a resource of schema tmpl, named
 * noun in messages) until final() says its status is final or
 * deadline_s seconds after the launch have passed, then keeps it in
 * s->resource and reads the scenario's transcript. */
static void wait_resource_or_fail(struct scenario *s, const char *collection, const char *noun,
	const char *tmpl, int (*final)(const char *), long deadline_s)
{
	char url[512];
	struct hx_sim_res r;
	long long deadline = s->launched_ms + deadline_s * 1000;

	if (!s->launched)
		fail_msg("%s: the %s was not launched (see the launch test)", s->name, noun);
	snprintf(url, sizeof(url), "%s/%s/%s.json", api_base, collection, s->sid);
	for (;;) {
		api_or_fail(url, NULL, &r);
		schema_or_fail("GET", tmpl, &r);
		if (r.status != 200)
			fail_msg("%s: GET %s: HTTP %ld %s", s->name, url, r.status, buf_str(&r.body));
		if (final(jstr(r.json, "status")))
			break;
		hx_sim_res_free(&r);
		if (hx_now_ms() > deadline) {
			read_transcript_or_fail(s, s->sid);
			sc_fail(s, "no final status %ld s after the launch", deadline_s);
		}
		hx_sleep_ms(SC_POLL_MS);
	}
	json_decref(s->resource);
	s->resource = json_incref(r.json);
	hx_sim_res_free(&r);
	read_transcript_or_fail(s, s->sid);
}

/* Waits for the call to end and reads its transcript. */
static void wait_call_or_fail(struct scenario *s, long deadline_s)
{
	wait_resource_or_fail(s, "Calls", "call", CALL_TMPL, call_final, deadline_s);
	SC_CHECK(s, eq(jstr(s->resource, "sid"), s->sid), "GET answered another call");
	SC_CHECK(s, jstr(s->resource, "end_time") != NULL, "an ended call has no end_time");
	SC_CHECK(s, jstr(s->resource, "duration") != NULL, "an ended call has no duration");
}

static int message_final(const char *status)
{
	return status && (strcmp(status, "delivered") == 0 || strcmp(status, "undelivered") == 0 ||
		strcmp(status, "failed") == 0);
}

/* Waits for the message's final status. */
static void wait_message_or_fail(struct scenario *s)
{
	wait_resource_or_fail(s, "Messages", "message", MSG_TMPL, message_final, SC_DEADLINE_S);
}

/* ---- what fakeapp saw ------------------------------------------------------------ */

/* A request's parameters: the form body of a POST, the query of a GET. */
struct rq_params {
	struct arena *a;
	struct params p;
};

static void rq_params_or_fail(const struct fakeapp_request *r, struct rq_params *q)
{
	const char *data = r->body;
	size_t len = r->body_len;
	q->a = arena_new(0);
	memset(&q->p, 0, sizeof(q->p));
	if (strcmp(r->method, "GET") == 0) {
		const char *qs = strchr(r->target, '?');
		data = qs ? qs + 1 : "";
		len = strlen(data);
	}
	if (form_parse(q->a, data, len, NULL, &q->p) != FORM_OK)
		fail_msg("%s %s: parameters that do not parse: %s", r->method, r->target, data);
}

static void rq_params_free(struct rq_params *q)
{
	arena_free(q->a);
	q->a = NULL;
}

static const char *rq_get(const struct rq_params *q, const char *name)
{
	return form_get(&q->p, name);
}

/* The request must carry Twilio's User-Agent and a valid X-Twilio-Signature
 * over the URL fakeapp was given (its base plus the target as sent) and,
 * for a form POST, its parameters; the same check with another token
 * must fail. */
static void signed_or_fail(const struct scenario *s, const struct fakeapp_request *r)
{
	char *url = xasprintf("%s%s", fakeapp_url(fa), r->target);
	const char *sig = fakeapp_header(r, "X-Twilio-Signature");
	const char *ua = fakeapp_header(r, "User-Agent");
	int is_post = strcmp(r->method, "POST") == 0;
	struct rq_params q;
	enum signature_verdict v, wrong;

	SC_CHECK(s, sig != NULL, "%s %s came without X-Twilio-Signature", r->method, r->target);
	SC_CHECK(s, ua && strncmp(ua, "TwilioProxy/", 12) == 0, "%s %s: User-Agent '%s'", r->method,
		r->target, ua ? ua : "(none)");
	if (is_post) {
		const char *ct = fakeapp_header(r, "Content-Type");
		SC_CHECK(s, ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0,
			"POST %s: Content-Type '%s'", r->target, ct ? ct : "(none)");
	} else {
		SC_CHECK(s, r->body_len == 0, "GET %s came with a body", r->target);
	}
	rq_params_or_fail(r, &q);
	v = signature_validate(hx_env.auth_token, url, is_post ? &q.p : NULL, is_post, r->body,
		r->body_len, sig);
	wrong = signature_validate("not-the-auth-token", url, is_post ? &q.p : NULL, is_post,
		r->body, r->body_len, sig);
	rq_params_free(&q);
	SC_CHECK(s, v == SIGNATURE_VALID, "%s %s: signature %s (%s) for the URL %s", r->method,
		r->target, signature_verdict_name(v), sig, url);
	SC_CHECK(s, wrong != SIGNATURE_VALID, "%s %s: another token's check passes too", r->method,
		r->target);
	free(url);
}

/* The requests fakeapp got at /NAME/leaf; exactly n of them, each signed. */
static size_t requests_or_fail(const struct scenario *s, const char *leaf, size_t n,
	struct fakeapp_request **out)
{
	char *path = app_path(s, leaf);
	size_t got = fakeapp_requests(fa, path, out);
	if (got != n) {
		fakeapp_requests_free(*out, got);
		*out = NULL;
		sc_fail(s, "%zu requests to %s, not %zu", got, path, n);
	}
	free(path);
	return got;
}

/* ---- common checks --------------------------------------------------------------- */

static void status_is(struct scenario *s, const char *want)
{
	SC_CHECK(s, eq(jstr(s->resource, "status"), want), "status %s, not %s",
		or_none(jstr(s->resource, "status")), want);
}

static void no_error(struct scenario *s)
{
	SC_CHECK(s, ev_count(s, "error") == 0, "an error event");
}

/* The call ended with Twilio error code (as Twilio does: the call
 * completes after the error recording), message containing needle, and
 * nothing after it but the end. */
static void error_is(struct scenario *s, int code, const char *needle)
{
	json_t *ev = ev_nth(s, "error", 0);
	long at = ev_find(s, "error", NULL);
	SC_CHECK(s, ev != NULL, "no error event (expected %d)", code);
	SC_CHECK(s, ev_count(s, "error") == 1, "%zu error events", ev_count(s, "error"));
	SC_CHECK(s, ev_code(ev) == code, "error %ld, not %d", ev_code(ev), code);
	SC_CHECK(s, strcasestr(ev_text(ev), needle) != NULL, "the error says '%s', not '%s'",
		ev_text(ev), needle);
	status_is(s, "completed");
	/* The text transcript names the code. */
	{
		char line[32];
		snprintf(line, sizeof(line), "error %d ", code);
		SC_CHECK(s, strstr(s->transcript, line) != NULL, "the text transcript has no '%s'", line);
	}
	for (size_t i = (size_t)at + 1; i < json_array_size(s->events); i++) {
		const char *k = ev_kind(json_array_get(s->events, i));
		SC_CHECK(s, strcmp(k, "status") == 0 || strcmp(k, "callback") == 0 || strcmp(k, "note") == 0,
			"a %s event after the error", k);
	}
	SC_CHECK(s, ev_count(s, "hangup") == 0, "a hangup after an error that ended the call");
}

/* ---- a. the reminder flow through nginx ------------------------------------------ */

static void flow_snapshot(struct scenario *s, struct hx_snapshot *snap, const char *state,
	const char *appointment_status)
{
	hx_snapshot_or_fail(&s->fx, snap);
	SC_CHECK(s, strcmp(snap->state, state) == 0, "calls.state %s, not %s", snap->state, state);
	SC_CHECK(s, strcmp(snap->appointment_status, appointment_status) == 0,
		"appointment %s, not %s", snap->appointment_status, appointment_status);
}

/* A call that was answered and ended by the flow: the simulator's sid is
 * the one ringfence bound, every document was fetched signed and
 * answered 200, and the flow hung up. */
static void flow_answered(struct scenario *s, int presses)
{
	struct hx_snapshot snap;
	struct buf b = BUF_INIT;
	size_t i;
	json_t *ev;

	status_is(s, "completed");
	no_error(s);
	ev_texts(s, "status", &b);
	SC_CHECK(s, strcmp(buf_str(&b), "initiated,ringing,in-progress,completed") == 0,
		"statuses %s", buf_str(&b));
	SC_CHECK(s, (int)ev_count(s, "press") == presses, "%zu presses, not %d", ev_count(s, "press"),
		presses);
	SC_CHECK(s, ev_count(s, "request") >= 1 && ev_count(s, "request") == ev_count(s, "response"),
		"%zu requests, %zu responses", ev_count(s, "request"), ev_count(s, "response"));
	json_array_foreach(s->events, i, ev) {
		if (strcmp(ev_kind(ev), "request") == 0)
			SC_CHECK(s, strncmp(ev_text(ev), "POST ", 5) == 0 &&
				strstr(ev_text(ev), hx_env.public_url) != NULL &&
				strstr(ev_detail(ev), s->sid) != NULL,
				"request '%s' is not a POST to the application with the CallSid", ev_text(ev));
		if (strcmp(ev_kind(ev), "response") == 0)
			SC_CHECK(s, ev_code(ev) == 200, "the application answered %ld", ev_code(ev));
	}
	SC_CHECK(s, ev_find(s, "hangup", "application") >= 0, "the flow did not hang up");
	SC_CHECK(s, ev_find(s, "hangup", "callee") < 0, "the callee hung up");
	/* The business name comes through the TwiML as text. */
	SC_CHECK(s, ev_find(s, "say", s->fx.business_name) >= 0 || strstr(s->transcript,
		s->fx.business_name), "the business name was not heard");
	SC_CHECK(s, atoi(jstr(s->resource, "duration")) >= 0, "duration %s",
		jstr(s->resource, "duration"));
	hx_snapshot_or_fail(&s->fx, &snap);
	SC_CHECK(s, strcmp(snap.call_sid, s->sid) == 0, "calls.call_sid %s, not the simulator's %s",
		snap.call_sid, s->sid);
	buf_free(&b);
}

static void flow_confirm(struct scenario *s)
{
	struct hx_snapshot snap;
	flow_answered(s, 2);
	flow_snapshot(s, &snap, "confirmed", "confirmed");
	SC_CHECK(s, snap.confirmed_at[0] != '\0', "confirmed_at is not set");
	SC_CHECK(s, json_is_null(json_object_get(s->resource, "answered_by")),
		"answered_by without detection");
	SC_CHECK(s, ev_find(s, "note", "prompt:") >= 0 && strcasestr(s->transcript, "confirmed"),
		"the confirmation was not heard");
}

static void flow_cancel(struct scenario *s)
{
	struct hx_snapshot snap;
	flow_answered(s, 2);
	flow_snapshot(s, &snap, "cancelled", "cancelled");
	SC_CHECK(s, snap.cancelled_at[0] != '\0', "cancelled_at is not set");
	SC_CHECK(s, snap.reminders_pending == 0, "%lld reminders still pending", snap.reminders_pending);
	SC_CHECK(s, snap.reminders_cancelled == s->fx.nreminders_pending, "%lld reminders cancelled",
		snap.reminders_cancelled);
}

static void flow_callback(struct scenario *s)
{
	struct hx_snapshot snap;
	flow_answered(s, 2);
	flow_snapshot(s, &snap, "callback", "booked");
	SC_CHECK(s, snap.callback_requested_at[0] != '\0', "callback_requested_at is not set");
	SC_CHECK(s, snap.confirmed_at[0] == '\0' && snap.cancelled_at[0] == '\0',
		"a callback request confirmed or cancelled");
}

/* The machine's message: the appointment and the callback number, and no
 * keypress asked for. */
static void machine_message_heard(struct scenario *s, size_t from)
{
	struct buf heard = BUF_INIT;
	heard_from(s, from, &heard);
	SC_CHECK(s, strcasestr(buf_str(&heard), "reminder") != NULL, "no reminder heard:\n%s",
		buf_str(&heard));
	SC_CHECK(s, strstr(buf_str(&heard), s->fx.callback_phone) != NULL,
		"the callback number %s was not heard", s->fx.callback_phone);
	SC_CHECK(s, strcasestr(buf_str(&heard), "press") == NULL,
		"the machine's message asks for a key:\n%s", buf_str(&heard));
	buf_free(&heard);
}

static void flow_machine_detected_prepare(struct scenario *s, struct hx_form *f)
{
	(void)s;
	hx_form_add(f, "MachineDetection", "Enable");
}

static void flow_machine_detected(struct scenario *s)
{
	struct hx_snapshot snap;
	json_t *rq;

	flow_answered(s, 0);
	SC_CHECK(s, jstr(s->resource, "answered_by") &&
		strcmp(jstr(s->resource, "answered_by"), "machine_start") == 0,
		"answered_by %s", jstr(s->resource, "answered_by") ? jstr(s->resource, "answered_by") : "null");
	rq = ev_nth(s, "request", 0);
	SC_CHECK(s, rq && strstr(ev_detail(rq), "AnsweredBy=machine_start"),
		"the first request has no AnsweredBy=machine_start");
	/* Straight to the machine's message: nothing asked, nothing awaited. */
	SC_CHECK(s, ev_count(s, "gather") == 0, "a Gather for a machine");
	SC_CHECK(s, ev_count(s, "silence") == 0, "a silence for a machine");
	machine_message_heard(s, 0);
	flow_snapshot(s, &snap, "machine_message", "booked");
}

static void flow_machine_undetected(struct scenario *s)
{
	struct hx_snapshot snap;
	long silence;

	flow_answered(s, 0);
	SC_CHECK(s, json_is_null(json_object_get(s->resource, "answered_by")),
		"answered_by without detection");
	SC_CHECK(s, ev_count(s, "silence") == 1, "%zu silences", ev_count(s, "silence"));
	silence = ev_find(s, "silence", NULL);
	machine_message_heard(s, (size_t)silence);
	flow_snapshot(s, &snap, "machine_message", "booked");
}

static void flow_silence(struct scenario *s)
{
	struct hx_snapshot snap;
	flow_answered(s, 1);
	SC_CHECK(s, ev_count(s, "silence") == 1, "%zu silences", ev_count(s, "silence"));
	SC_CHECK(s, ev_find(s, "press", NULL) < ev_find(s, "silence", NULL), "the silence came first");
	flow_snapshot(s, &snap, "no_choice", "booked");
	SC_CHECK(s, snap.reminders_pending == s->fx.nreminders_pending, "%lld reminders pending",
		snap.reminders_pending);
	SC_CHECK(s, snap.confirmed_at[0] == '\0' && snap.cancelled_at[0] == '\0' &&
		snap.callback_requested_at[0] == '\0', "silence changed the appointment");
}

static void flow_invalid(struct scenario *s)
{
	struct hx_snapshot snap;
	flow_answered(s, 2);
	SC_CHECK(s, strcasestr(s->transcript, "not a valid choice") != NULL ||
		ev_find(s, "note", "not a valid choice") >= 0, "'not a valid choice' was not heard");
	flow_snapshot(s, &snap, "goodbye_invalid", "booked");
	SC_CHECK(s, snap.confirmed_at[0] == '\0' && snap.cancelled_at[0] == '\0',
		"invalid keys changed the appointment");
}

/* Whether any Play of the call came from state's audio. */
static int played_state(const struct scenario *s, const char *state)
{
	char *needle = xasprintf("/reminder_call/%s/", state);
	int found = ev_find(s, "play", needle) >= 0;
	free(needle);
	return found;
}

/* '#' at the first prompt is a wrong key, not silence: the Gathers take
 * one key with finishOnKey="", so the person hears "not a valid choice",
 * can still press 1, and never hears the answering machine's message. */
static void flow_hash_at_announce(struct scenario *s)
{
	struct hx_snapshot snap;
	flow_answered(s, 3);
	SC_CHECK(s, ev_count(s, "silence") == 0, "%zu silences", ev_count(s, "silence"));
	SC_CHECK(s, played_state(s, "announce_retry"), "'#' did not lead to the wrong-key prompt");
	SC_CHECK(s, !played_state(s, "machine_message"),
		"'#' at the first prompt got the answering machine's message");
	flow_snapshot(s, &snap, "confirmed", "confirmed");
}

/* '#' at the menu, twice: the wrong-key path (the menu once more, then a
 * polite goodbye), never "no choice"; the appointment is unchanged. */
static void flow_hash_at_menu(struct scenario *s)
{
	struct hx_snapshot snap;
	flow_answered(s, 3);
	SC_CHECK(s, ev_count(s, "silence") == 0, "%zu silences", ev_count(s, "silence"));
	SC_CHECK(s, played_state(s, "details_retry") && played_state(s, "goodbye_invalid"),
		"'#' at the menu did not take the wrong-key path");
	SC_CHECK(s, !played_state(s, "no_choice") && !played_state(s, "machine_message"),
		"'#' at the menu was taken for silence");
	flow_snapshot(s, &snap, "goodbye_invalid", "booked");
	SC_CHECK(s, snap.confirmed_at[0] == '\0' && snap.cancelled_at[0] == '\0' &&
		snap.callback_requested_at[0] == '\0', "'#' changed the appointment");
}

static void flow_hangup(struct scenario *s)
{
	struct hx_snapshot snap;
	struct buf b = BUF_INIT;

	status_is(s, "completed");
	no_error(s);
	ev_texts(s, "hangup", &b);
	SC_CHECK(s, strcmp(buf_str(&b), "callee") == 0, "hang-ups: %s", buf_str(&b));
	SC_CHECK(s, ev_count(s, "press") == 1, "%zu presses", ev_count(s, "press"));
	SC_CHECK(s, ev_count(s, "request") == 2, "%zu requests (the Url and the first action)",
		ev_count(s, "request"));
	flow_snapshot(s, &snap, "details", "booked");
	SC_CHECK(s, strcmp(snap.call_sid, s->sid) == 0, "calls.call_sid %s", snap.call_sid);
	SC_CHECK(s, snap.confirmed_at[0] == '\0' && snap.cancelled_at[0] == '\0' &&
		snap.callback_requested_at[0] == '\0', "a hang-up changed the appointment");
	buf_free(&b);
}

/* Busy, no answer, failed: the Url is never fetched and ringfence's rows
 * are untouched. */
static void flow_unanswered(struct scenario *s, const char *status, const char *statuses)
{
	struct hx_snapshot snap;
	struct buf b = BUF_INIT;

	status_is(s, status);
	ev_texts(s, "status", &b);
	SC_CHECK(s, strcmp(buf_str(&b), statuses) == 0, "statuses %s, not %s", buf_str(&b), statuses);
	SC_CHECK(s, ev_count(s, "request") == 0, "the Url was fetched");
	SC_CHECK(s, eq(jstr(s->resource, "duration"), "0"), "duration %s",
		jstr(s->resource, "duration"));
	SC_CHECK(s, json_is_null(json_object_get(s->resource, "answered_by")), "answered_by set");
	flow_snapshot(s, &snap, "announce", "booked");
	SC_CHECK(s, snap.call_sid[0] == '\0', "calls.call_sid bound to %s", snap.call_sid);
	SC_CHECK(s, snap.seq == 0 && snap.events == 0, "seq %lld, %lld call events", snap.seq,
		snap.events);
	SC_CHECK(s, snap.reminders_pending == s->fx.nreminders_pending, "%lld reminders pending",
		snap.reminders_pending);
	buf_free(&b);
}

static void cb_prepare_common(struct scenario *s, struct hx_form *f);
static void callbacks_are(struct scenario *s, const char *const *want, size_t n);

/* A busy line still gets its status callback, with the final status. */
static void flow_busy(struct scenario *s)
{
	static const char *const want[] = { "busy" };
	flow_unanswered(s, "busy", "initiated,ringing,busy");
	callbacks_are(s, want, 1);
}

static void flow_no_answer(struct scenario *s)
{
	flow_unanswered(s, "no-answer", "initiated,ringing,no-answer");
}

static void flow_fail(struct scenario *s)
{
	flow_unanswered(s, "failed", "initiated,failed");
}

/* ---- b. status callbacks ---------------------------------------------------------- */

static const char *const HELLO_TWIML =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	"<Response><Say>Hello from the fake application</Say><Hangup/></Response>";

static void cb_prepare_common(struct scenario *s, struct hx_form *f)
{
	char *url = app_url(s, "status");
	char *with_query = xasprintf("%s?leg=first&n=%%2B1", url);
	serve_twiml_or_fail(s, "start", HELLO_TWIML);
	serve_or_fail(s, "status", 204, NULL, "", 0);
	hx_form_add(f, "StatusCallback", with_query);
	free(url);
	free(with_query);
}

static void cb_all_prepare(struct scenario *s, struct hx_form *f)
{
	cb_prepare_common(s, f);
	hx_form_add(f, "StatusCallbackEvent", "initiated");
	hx_form_add(f, "StatusCallbackEvent", "ringing");
	hx_form_add(f, "StatusCallbackEvent", "answered");
	hx_form_add(f, "StatusCallbackEvent", "completed");
	hx_form_add(f, "StatusCallbackMethod", "POST");
}

/* The status callbacks fakeapp got: want[i] is the i-th one's CallStatus. */
static void callbacks_are(struct scenario *s, const char *const *want, size_t n)
{
	struct fakeapp_request *rq = NULL;
	char num[24];

	requests_or_fail(s, "status", n, &rq);
	for (size_t i = 0; i < n; i++) {
		struct rq_params q;
		const char *v;
		SC_CHECK(s, strcmp(rq[i].method, "POST") == 0, "callback %zu is a %s", i, rq[i].method);
		SC_CHECK(s, eq(strchr(rq[i].target, '?'), "?leg=first&n=%2B1"),
			"callback %zu went to %s, not the URL given", i, rq[i].target);
		signed_or_fail(s, &rq[i]);
		rq_params_or_fail(&rq[i], &q);
		v = rq_get(&q, "CallStatus");
		SC_CHECK(s, v && strcmp(v, want[i]) == 0, "callback %zu: CallStatus %s, not %s", i,
			v ? v : "(none)", want[i]);
		snprintf(num, sizeof(num), "%zu", i);
		v = rq_get(&q, "SequenceNumber");
		SC_CHECK(s, v && strcmp(v, num) == 0, "callback %zu: SequenceNumber %s", i, v ? v : "(none)");
		v = rq_get(&q, "CallSid");
		SC_CHECK(s, v && strcmp(v, s->sid) == 0, "callback %zu: CallSid %s", i, v ? v : "(none)");
		v = rq_get(&q, "AccountSid");
		SC_CHECK(s, v && strcmp(v, hx_env.account_sid) == 0, "callback %zu: AccountSid", i);
		SC_CHECK(s, rq_get(&q, "To") && strcmp(rq_get(&q, "To"), s->to) == 0, "callback %zu: To", i);
		SC_CHECK(s, eq(rq_get(&q, "From"), s->from), "callback %zu: From", i);
		v = rq_get(&q, "Timestamp");
		SC_CHECK(s, v && oas_is_rfc2822_date(v, NULL, 0), "callback %zu: Timestamp %s", i,
			v ? v : "(none)");
		v = rq_get(&q, "CallDuration");
		if (i == n - 1)
			SC_CHECK(s, eq(v, jstr(s->resource, "duration")),
				"callback %zu: CallDuration %s, the call's duration %s", i, v ? v : "(none)",
				jstr(s->resource, "duration"));
		else
			SC_CHECK(s, v == NULL, "callback %zu (%s) has a CallDuration", i, want[i]);
		rq_params_free(&q);
		/* In order, one after the other. */
		if (i > 0)
			SC_CHECK(s, rq[i].at_ms >= rq[i - 1].at_ms, "callback %zu arrived before %zu", i, i - 1);
	}
	SC_CHECK(s, ev_count(s, "callback") == n, "%zu callback events, not %zu",
		ev_count(s, "callback"), n);
	SC_CHECK(s, ev_code(ev_nth(s, "callback", n - 1)) == 204, "the last callback's answer %ld",
		ev_code(ev_nth(s, "callback", n - 1)));
	fakeapp_requests_free(rq, n);
}

/* The application's document itself: one signed POST with the call's
 * voice parameters. */
static void app_fetched_once(struct scenario *s)
{
	struct fakeapp_request *rq = NULL;
	struct rq_params q;
	requests_or_fail(s, "start", 1, &rq);
	SC_CHECK(s, strcmp(rq[0].method, "POST") == 0, "the Url was requested with %s", rq[0].method);
	signed_or_fail(s, &rq[0]);
	rq_params_or_fail(&rq[0], &q);
	SC_CHECK(s, rq_get(&q, "CallSid") && strcmp(rq_get(&q, "CallSid"), s->sid) == 0, "CallSid");
	SC_CHECK(s, rq_get(&q, "CallStatus") && strcmp(rq_get(&q, "CallStatus"), "in-progress") == 0,
		"CallStatus");
	SC_CHECK(s, rq_get(&q, "Direction") && strcmp(rq_get(&q, "Direction"), "outbound-api") == 0,
		"Direction");
	SC_CHECK(s, rq_get(&q, "ApiVersion") && strcmp(rq_get(&q, "ApiVersion"), "2010-04-01") == 0,
		"ApiVersion");
	rq_params_free(&q);
	fakeapp_requests_free(rq, 1);
}

static void cb_all(struct scenario *s)
{
	static const char *const want[] = { "initiated", "ringing", "in-progress", "completed" };
	status_is(s, "completed");
	no_error(s);
	app_fetched_once(s);
	callbacks_are(s, want, 4);
}

static void cb_default(struct scenario *s)
{
	static const char *const want[] = { "completed" };
	status_is(s, "completed");
	no_error(s);
	app_fetched_once(s);
	callbacks_are(s, want, 1);
}

/* ---- c. fakeapp as the application -------------------------------------------------- */

static void app_html_prepare(struct scenario *s, struct hx_form *f)
{
	(void)f;
	serve_or_fail(s, "start", 200, "text/html; charset=utf-8",
		"<html><body><p>Not TwiML</p></body></html>", 0);
}

static void app_html(struct scenario *s)
{
	app_fetched_once(s);
	error_is(s, 12300, "text/html");
}

static void app_500_prepare(struct scenario *s, struct hx_form *f)
{
	(void)f;
	serve_or_fail(s, "start", 500, "text/xml", HELLO_TWIML, 0);
}

static void app_500(struct scenario *s)
{
	app_fetched_once(s);
	error_is(s, 11200, "HTTP 500");
	SC_CHECK(s, ev_count(s, "say") == 0, "the TwiML of a 500 was played");
}

static void app_slow_prepare(struct scenario *s, struct hx_form *f)
{
	(void)f;
	serve_or_fail(s, "start", 200, "text/xml", HELLO_TWIML, SC_SLOW_MS);
}

static void app_slow(struct scenario *s)
{
	json_t *rq, *rs;
	app_fetched_once(s);
	error_is(s, 11200, "within 15 s");
	SC_CHECK(s, ev_count(s, "say") == 0, "the late TwiML was played");
	SC_CHECK(s, ev_count(s, "response") == 0, "a response event for a request that timed out");
	/* The simulated clock moved by the 15 s it waited, not 16. */
	rq = ev_nth(s, "request", 0);
	rs = ev_nth(s, "error", 0);
	{
		long long waited = json_integer_value(json_object_get(rs, "at_ms")) -
			json_integer_value(json_object_get(rq, "at_ms"));
		SC_CHECK(s, waited >= 14500 && waited < SC_SLOW_MS, "the error came %lld ms after the request",
			waited);
	}
}

static void app_badxml_prepare(struct scenario *s, struct hx_form *f)
{
	(void)f;
	serve_twiml_or_fail(s, "start", "<?xml version=\"1.0\"?><Response><Say>never closed</Response>");
}

static void app_badxml(struct scenario *s)
{
	app_fetched_once(s);
	error_is(s, 12100, "Document parse failure");
	SC_CHECK(s, ev_count(s, "say") == 0, "a broken document was played");
}

static void app_dial_prepare(struct scenario *s, struct hx_form *f)
{
	(void)f;
	serve_twiml_or_fail(s, "start",
		"<?xml version=\"1.0\"?><Response><Say>Connecting you</Say><Dial>+15005550006</Dial></Response>");
}

static void app_dial(struct scenario *s)
{
	app_fetched_once(s);
	error_is(s, 12100, "Dial");
	SC_CHECK(s, ev_count(s, "say") == 0, "a document the simulator refuses was partly played");
}

/* <Play> of fakeapp's /NAME/sound, then a Say that must never be heard. */
static void play_prepare(struct scenario *s)
{
	char *sound = app_url(s, "sound");
	char *twiml = xasprintf("<?xml version=\"1.0\"?><Response><Play>%s</Play>"
		"<Say>after the sound</Say><Hangup/></Response>", sound);
	serve_twiml_or_fail(s, "start", twiml);
	free(twiml);
	free(sound);
}

static void app_play_text_prepare(struct scenario *s, struct hx_form *f)
{
	(void)f;
	play_prepare(s);
	serve_or_fail(s, "sound", 200, "text/plain", "this is not a sound\n", 0);
}

/* The audio was fetched once with GET; the call ended at the Play. */
static void play_failed(struct scenario *s, const char *needle)
{
	struct fakeapp_request *rq = NULL;
	app_fetched_once(s);
	requests_or_fail(s, "sound", 1, &rq);
	SC_CHECK(s, strcmp(rq[0].method, "GET") == 0, "the audio was requested with %s", rq[0].method);
	fakeapp_requests_free(rq, 1);
	error_is(s, 11200, needle);
	SC_CHECK(s, ev_count(s, "play") == 0, "a Play event for audio that failed");
	SC_CHECK(s, ev_count(s, "say") == 0, "the call went on after the Play failed");
}

static void app_play_text(struct scenario *s)
{
	play_failed(s, "not audio");
}

static void app_play_404_prepare(struct scenario *s, struct hx_form *f)
{
	(void)f;
	play_prepare(s);
	/* Nothing at /NAME/sound: fakeapp answers 404. */
}

static void app_play_404(struct scenario *s)
{
	play_failed(s, "HTTP 404");
}

static void app_redirect_prepare(struct scenario *s, struct hx_form *f)
{
	(void)f;
	/* A relative Redirect: resolved against the document's URL. */
	serve_twiml_or_fail(s, "start",
		"<?xml version=\"1.0\"?><Response><Say>first document</Say><Redirect>next?step=2</Redirect>"
		"<Say>never after a redirect</Say></Response>");
	serve_twiml_or_fail(s, "next",
		"<?xml version=\"1.0\"?><Response><Say>second document</Say><Hangup/></Response>");
}

static void app_redirect(struct scenario *s)
{
	struct fakeapp_request *rq = NULL;
	struct buf says = BUF_INIT;

	status_is(s, "completed");
	no_error(s);
	app_fetched_once(s);
	requests_or_fail(s, "next", 1, &rq);
	SC_CHECK(s, strcmp(rq[0].method, "POST") == 0, "the Redirect was followed with %s", rq[0].method);
	SC_CHECK(s, eq(strchr(rq[0].target, '?'), "?step=2"), "the Redirect went to %s",
		rq[0].target);
	signed_or_fail(s, &rq[0]);
	fakeapp_requests_free(rq, 1);
	ev_texts(s, "say", &says);
	SC_CHECK(s, strcmp(buf_str(&says), "first document,second document") == 0, "heard %s",
		buf_str(&says));
	SC_CHECK(s, ev_find(s, "hangup", "application") >= 0, "no Hangup");
	buf_free(&says);
}

static void app_record_prepare(struct scenario *s, struct hx_form *f)
{
	(void)f;
	serve_twiml_or_fail(s, "start",
		"<?xml version=\"1.0\"?><Response><Say>Leave a message after the beep</Say>"
		"<Record action=\"done\" timeout=\"3\" maxLength=\"20\"/></Response>");
	serve_twiml_or_fail(s, "done",
		"<?xml version=\"1.0\"?><Response><Say>Thank you</Say><Hangup/></Response>");
}

static void app_record(struct scenario *s)
{
	struct fakeapp_request *rq = NULL;
	struct rq_params q;
	const char *url, *sid, *dur, *digits;
	json_t *rec;
	char want_prefix[400];

	status_is(s, "completed");
	no_error(s);
	app_fetched_once(s);
	requests_or_fail(s, "done", 1, &rq);
	SC_CHECK(s, strcmp(rq[0].method, "POST") == 0, "the Record action was requested with %s",
		rq[0].method);
	signed_or_fail(s, &rq[0]);
	rq_params_or_fail(&rq[0], &q);
	url = rq_get(&q, "RecordingUrl");
	sid = rq_get(&q, "RecordingSid");
	dur = rq_get(&q, "RecordingDuration");
	digits = rq_get(&q, "Digits");
	snprintf(want_prefix, sizeof(want_prefix), "%s/Recordings/", api_base);
	SC_CHECK(s, sid && strlen(sid) == 34 && strncmp(sid, "RE", 2) == 0 &&
		strspn(sid + 2, "0123456789abcdef") == 32, "RecordingSid %s", sid ? sid : "(none)");
	SC_CHECK(s, url && strncmp(url, want_prefix, strlen(want_prefix)) == 0 &&
		strcmp(url + strlen(want_prefix), sid) == 0, "RecordingUrl %s", url ? url : "(none)");
	SC_CHECK(s, dur && strcmp(dur, "2") == 0, "RecordingDuration %s, not the 2 s spoken (the silence before is trimmed)",
		dur ? dur : "(none)");
	SC_CHECK(s, digits && strcmp(digits, "#") == 0, "Digits %s, not the key that ended it",
		digits ? digits : "(none)");
	rec = ev_nth(s, "record", 0);
	SC_CHECK(s, rec && strcmp(ev_text(rec), url) == 0 && ev_code(rec) == 2,
		"the transcript's record event is not the recording posted");
	SC_CHECK(s, ev_find(s, "say", "Thank you") > ev_find(s, "record", NULL),
		"the action's document was not played after the recording");
	rq_params_free(&q);
	fakeapp_requests_free(rq, 1);
}

static const char *const GATHER_FMT =
	"<?xml version=\"1.0\"?><Response>"
	"<Gather numDigits=\"1\" timeout=\"2\" action=\"gathered\"%s><Say>Press a key</Say></Gather>"
	"<Say>We did not get your answer</Say><Hangup/></Response>";

/* The start serves GATHER_FMT with attrs, its action a document that
 * says hello. */
static void serve_gather_or_fail(struct scenario *s, const char *attrs)
{
	char *twiml = xasprintf(GATHER_FMT, attrs);
	serve_twiml_or_fail(s, "start", twiml);
	serve_twiml_or_fail(s, "gathered", HELLO_TWIML);
	free(twiml);
}

/* The call completed without an error and the Gather's action was
 * requested once: that request in *rq, its parameters in q. */
static void gathered_once_or_fail(struct scenario *s, struct fakeapp_request **rq,
	struct rq_params *q)
{
	status_is(s, "completed");
	no_error(s);
	requests_or_fail(s, "gathered", 1, rq);
	rq_params_or_fail(&(*rq)[0], q);
}

static void app_gather_fall_prepare(struct scenario *s, struct hx_form *f)
{
	(void)f;
	serve_gather_or_fail(s, "");
}

static void app_gather_fall(struct scenario *s)
{
	struct buf says = BUF_INIT;
	status_is(s, "completed");
	no_error(s);
	app_fetched_once(s);
	{
		char *gathered = app_path(s, "gathered");
		size_t n = fakeapp_count(fa, gathered);
		free(gathered);
		SC_CHECK(s, n == 0, "the action was requested without actionOnEmptyResult");
	}
	SC_CHECK(s, ev_count(s, "silence") == 1, "%zu silences", ev_count(s, "silence"));
	ev_texts(s, "say", &says);
	SC_CHECK(s, strcmp(buf_str(&says), "Press a key,We did not get your answer") == 0,
		"heard %s", buf_str(&says));
	SC_CHECK(s, ev_find(s, "say", "did not get") > ev_find(s, "silence", NULL),
		"the verb after the Gather came before the timeout");
	buf_free(&says);
}

static void app_gather_empty_prepare(struct scenario *s, struct hx_form *f)
{
	(void)f;
	serve_gather_or_fail(s, " actionOnEmptyResult=\"true\"");
}

static void app_gather_empty(struct scenario *s)
{
	struct fakeapp_request *rq = NULL;
	struct rq_params q;
	const char *digits;

	gathered_once_or_fail(s, &rq, &q);
	signed_or_fail(s, &rq[0]);
	digits = rq_get(&q, "Digits");
	SC_CHECK(s, digits == NULL || digits[0] == '\0', "Digits '%s' when nothing was pressed",
		or_none(digits));
	SC_CHECK(s, ev_find(s, "say", "did not get") < 0, "fell through despite actionOnEmptyResult");
	SC_CHECK(s, ev_find(s, "say", "fake application") >= 0, "the action's document was not played");
	rq_params_free(&q);
	fakeapp_requests_free(rq, 1);
}

/* '#' with the default finishOnKey ends the Gather before any digit:
 * an empty result, so without actionOnEmptyResult the action is not
 * requested and the verb after the Gather runs (no silence: a key was
 * pressed). */
static void app_gather_hash_falls(struct scenario *s)
{
	char *gathered = app_path(s, "gathered");
	size_t n = fakeapp_count(fa, gathered);
	free(gathered);
	status_is(s, "completed");
	no_error(s);
	SC_CHECK(s, n == 0, "the action was requested for an empty result without actionOnEmptyResult");
	SC_CHECK(s, ev_count(s, "silence") == 0, "%zu silences", ev_count(s, "silence"));
	SC_CHECK(s, ev_find(s, "say", "did not get") > ev_find(s, "press", NULL),
		"the verb after the Gather did not run after '#'");
}

/* The same with actionOnEmptyResult: the action gets empty Digits. */
static void app_gather_hash_empty(struct scenario *s)
{
	struct fakeapp_request *rq = NULL;
	struct rq_params q;
	const char *digits;

	gathered_once_or_fail(s, &rq, &q);
	digits = rq_get(&q, "Digits");
	SC_CHECK(s, digits != NULL && digits[0] == '\0', "Digits '%s' after '#' alone, not empty",
		or_none(digits));
	SC_CHECK(s, ev_find(s, "say", "did not get") < 0, "fell through despite actionOnEmptyResult");
	rq_params_free(&q);
	fakeapp_requests_free(rq, 1);
}

/* finishOnKey="": '#' is a key like any other, and with numDigits="1"
 * the action gets Digits=#. */
static void app_gather_hash_key_prepare(struct scenario *s, struct hx_form *f)
{
	(void)f;
	serve_gather_or_fail(s, " finishOnKey=\"\"");
}

static void app_gather_hash_key(struct scenario *s)
{
	struct fakeapp_request *rq = NULL;
	struct rq_params q;
	const char *digits;

	gathered_once_or_fail(s, &rq, &q);
	digits = rq_get(&q, "Digits");
	SC_CHECK(s, eq(digits, "#"), "Digits '%s', not '#'", or_none(digits));
	SC_CHECK(s, ev_find(s, "say", "fake application") >= 0, "the action's document was not played");
	rq_params_free(&q);
	fakeapp_requests_free(rq, 1);
}

static void app_get_prepare(struct scenario *s, struct hx_form *f)
{
	char *url = app_url(s, "start");
	char *with_query = xasprintf("%s?tenant=a%%20b", url);
	serve_twiml_or_fail(s, "start",
		"<?xml version=\"1.0\"?><Response><Gather numDigits=\"1\" method=\"GET\" action=\"next\">"
		"<Say>Press five</Say></Gather></Response>");
	serve_twiml_or_fail(s, "next", "<?xml version=\"1.0\"?><Response><Say>Got it</Say><Hangup/></Response>");
	hx_form_set(f, "Url", with_query);
	hx_form_add(f, "Method", "GET");
	free(url);
	free(with_query);
}

/* A GET: the parameters in the query after the URL's own, signed over
 * that URL with no body. */
static void get_request_is(struct scenario *s, const struct fakeapp_request *r, const char *prefix,
	const char *digits)
{
	struct rq_params q;
	SC_CHECK(s, strcmp(r->method, "GET") == 0, "%s was requested with %s", r->target, r->method);
	SC_CHECK(s, strncmp(r->target, prefix, strlen(prefix)) == 0, "%s does not start with %s",
		r->target, prefix);
	SC_CHECK(s, fakeapp_header(r, "Content-Type") == NULL, "a GET with a Content-Type");
	signed_or_fail(s, r);
	rq_params_or_fail(r, &q);
	SC_CHECK(s, rq_get(&q, "CallSid") && strcmp(rq_get(&q, "CallSid"), s->sid) == 0,
		"%s: CallSid", r->target);
	SC_CHECK(s, rq_get(&q, "CallStatus") && strcmp(rq_get(&q, "CallStatus"), "in-progress") == 0,
		"%s: CallStatus", r->target);
	if (digits)
		SC_CHECK(s, rq_get(&q, "Digits") && strcmp(rq_get(&q, "Digits"), digits) == 0,
			"%s: Digits %s", r->target, rq_get(&q, "Digits") ? rq_get(&q, "Digits") : "(none)");
	rq_params_free(&q);
}

static void app_get(struct scenario *s)
{
	struct fakeapp_request *rq = NULL;
	char prefix[128];

	status_is(s, "completed");
	no_error(s);
	requests_or_fail(s, "start", 1, &rq);
	snprintf(prefix, sizeof(prefix), "/%s/start?tenant=a%%20b&", s->name);
	get_request_is(s, &rq[0], prefix, NULL);
	fakeapp_requests_free(rq, 1);
	requests_or_fail(s, "next", 1, &rq);
	snprintf(prefix, sizeof(prefix), "/%s/next?", s->name);
	get_request_is(s, &rq[0], prefix, "5");
	fakeapp_requests_free(rq, 1);
	SC_CHECK(s, ev_find(s, "request", "GET ") >= 0 && ev_find(s, "request", "POST ") < 0,
		"the transcript's requests are not GETs");
	SC_CHECK(s, ev_find(s, "say", "Got it") >= 0, "the action's document was not played");
}

/* ---- d. messages ------------------------------------------------------------------- */

static void msg_callback_prepare(struct scenario *s, struct hx_form *f)
{
	char *url = app_url(s, "status");
	serve_or_fail(s, "status", 200, "text/plain", "", 0);
	hx_form_add(f, "StatusCallback", url);
	free(url);
}

/* The message's status callbacks: want[i] the i-th MessageStatus, the
 * last with ErrorCode error_code (0: none). */
static void msg_callbacks_are(struct scenario *s, const char *const *want, size_t n, int error_code)
{
	struct fakeapp_request *rq = NULL;
	char *path = app_path(s, "status"), code[16];

	fakeapp_wait(fa, path, n, 10000);
	free(path);
	requests_or_fail(s, "status", n, &rq);
	snprintf(code, sizeof(code), "%d", error_code);
	for (size_t i = 0; i < n; i++) {
		struct rq_params q;
		const char *v;
		SC_CHECK(s, strcmp(rq[i].method, "POST") == 0, "callback %zu is a %s", i, rq[i].method);
		signed_or_fail(s, &rq[i]);
		rq_params_or_fail(&rq[i], &q);
		v = rq_get(&q, "MessageStatus");
		SC_CHECK(s, v && strcmp(v, want[i]) == 0, "callback %zu: MessageStatus %s, not %s", i,
			v ? v : "(none)", want[i]);
		v = rq_get(&q, "MessageSid");
		SC_CHECK(s, v && strcmp(v, s->sid) == 0, "callback %zu: MessageSid %s", i, v ? v : "(none)");
		SC_CHECK(s, rq_get(&q, "To") && strcmp(rq_get(&q, "To"), s->to) == 0, "callback %zu: To", i);
		SC_CHECK(s, eq(rq_get(&q, "From"), s->from), "callback %zu: From", i);
		v = rq_get(&q, "ErrorCode");
		if (error_code && i == n - 1)
			SC_CHECK(s, v && strcmp(v, code) == 0, "callback %zu: ErrorCode %s, not %d", i,
				v ? v : "(none)", error_code);
		else
			SC_CHECK(s, v == NULL, "callback %zu: ErrorCode %s", i, v);
		rq_params_free(&q);
	}
	fakeapp_requests_free(rq, n);
}

static void msg_delivered(struct scenario *s)
{
	static const char *const want[] = { "sent", "delivered" };
	wait_message_or_fail(s);
	status_is(s, "delivered");
	SC_CHECK(s, json_is_null(json_object_get(s->resource, "error_code")), "an error_code");
	SC_CHECK(s, jstr(s->resource, "date_sent") != NULL, "no date_sent");
	msg_callbacks_are(s, want, 2, 0);
	SC_CHECK(s, ev_find(s, "status", "sent") >= 0 && ev_find(s, "status", "delivered") >
		ev_find(s, "status", "sent"), "the transcript has not sent then delivered");
	/* The callbacks are in the transcript with fakeapp's answer. */
	SC_CHECK(s, ev_count(s, "callback") >= 1 && ev_code(ev_nth(s, "callback", 0)) == 200,
		"the callbacks' answers are not in the transcript");
}

static void msg_undelivered(struct scenario *s)
{
	static const char *const want[] = { "sent", "undelivered" };
	json_t *code;
	wait_message_or_fail(s);
	status_is(s, "undelivered");
	code = json_object_get(s->resource, "error_code");
	SC_CHECK(s, json_integer_value(code) == 30003, "error_code %lld, not 30003",
		(long long)json_integer_value(code));
	SC_CHECK(s, jstr(s->resource, "error_message") != NULL, "no error_message");
	msg_callbacks_are(s, want, 2, 30003);
	SC_CHECK(s, ev_find(s, "status", "undelivered") >= 0 &&
		ev_code(ev_nth(s, "status", 1)) == 30003, "the transcript has no undelivered 30003");
}

/* The inbound reply the callee sent, as the API lists it (waits for it). */
static json_t *reply_or_fail(struct scenario *s)
{
	char url[512];
	struct hx_sim_res r;
	long long deadline = s->launched_ms + SC_DEADLINE_S * 1000;
	json_t *m = NULL;

	const char *from = SC_FROM;
	snprintf(url, sizeof(url), "%s/Messages.json?From=%%2B%s&To=%%2B%s", api_base, s->to + 1,
		from + 1);
	for (;;) {
		api_or_fail(url, NULL, &r);
		schema_or_fail("GET", MSGS_TMPL, &r);
		if (r.status != 200)
			fail_msg("GET %s: HTTP %ld %s", url, r.status, buf_str(&r.body));
		m = json_array_get(json_object_get(r.json, "messages"), 0);
		if (m) {
			m = json_incref(m);
			SC_CHECK(s, json_array_size(json_object_get(r.json, "messages")) == 1,
				"%zu replies listed", json_array_size(json_object_get(r.json, "messages")));
			hx_sim_res_free(&r);
			return m;
		}
		hx_sim_res_free(&r);
		if (hx_now_ms() > deadline)
			sc_fail(s, "no reply from %s was listed within %d s", s->to, SC_DEADLINE_S);
		hx_sleep_ms(SC_POLL_MS);
	}
}

/* The newest audit:all webhook record of the inbound SMS sid, or NULL. */
static json_t *inbound_audit(const char *sid)
{
	char err[256];
	json_t *all = hx_audit_read_newest("audit:all", SC_AUDIT_SCAN, err, sizeof(err)), *rec, *found = NULL;
	size_t i;
	if (all == NULL)
		fail_msg("audit:all: %s", err);
	json_array_foreach(all, i, rec) {
		const char *kind = jstr(rec, "kind"), *path = jstr(rec, "path");
		const char *msid = jstr(json_object_get(rec, "params"), "MessageSid");
		if (kind && strcmp(kind, "webhook") == 0 && path && strcmp(path, "/twilio/sms/inbound") == 0 &&
			msid && strcmp(msid, sid) == 0) {
			found = json_incref(rec);
			break;
		}
	}
	json_decref(all);
	return found;
}

static void msg_reply(struct scenario *s)
{
	json_t *reply, *audit = NULL, *post = NULL, *params;
	char reply_sid[35], inbound[600];
	long long deadline;

	wait_message_or_fail(s);
	status_is(s, "delivered");
	reply = reply_or_fail(s);
	SC_CHECK(s, eq(jstr(reply, "direction"), "inbound"), "the reply's direction %s",
		or_none(jstr(reply, "direction")));
	SC_CHECK(s, eq(jstr(reply, "body"), "YES"), "the reply says %s", or_none(jstr(reply, "body")));
	SC_CHECK(s, eq(jstr(reply, "status"), "received"), "the reply is %s",
		or_none(jstr(reply, "status")));
	SC_CHECK(s, eq(jstr(reply, "to"), SC_FROM), "the reply went to %s", or_none(jstr(reply, "to")));
	snprintf(reply_sid, sizeof(reply_sid), "%s", or_none(jstr(reply, "sid")));
	json_decref(reply);

	/* The outbound message's transcript names its reply. */
	deadline = hx_now_ms() + 10000;
	for (;;) {
		read_transcript_or_fail(s, s->sid);
		if (ev_find(s, "note", reply_sid) >= 0 || hx_now_ms() > deadline)
			break;
		hx_sleep_ms(SC_POLL_MS);
	}
	SC_CHECK(s, ev_find(s, "note", reply_sid) >= 0,
		"the message's transcript does not name the reply %s", reply_sid);

	/* The reply was posted, signed, to ringfence's inbound SMS webhook;
	 * its transcript has what ringfence answered, and the audit trail
	 * has the same request and answer. */
	snprintf(inbound, sizeof(inbound), "POST %s/twilio/sms/inbound -> ", hx_env.public_url);
	deadline = hx_now_ms() + 15000;
	for (;;) {
		read_transcript_or_fail(s, reply_sid);
		post = ev_nth(s, "request", 0);
		if (post || hx_now_ms() > deadline)
			break;
		hx_sleep_ms(SC_POLL_MS);
	}
	SC_CHECK(s, post != NULL, "the reply %s was not posted to the application", reply_sid);
	SC_CHECK(s, strncmp(ev_text(post), inbound, strlen(inbound)) == 0, "the reply went to '%s'",
		ev_text(post));
	SC_CHECK(s, ev_code(post) >= 100, "no HTTP answer from ringfence: %s", ev_text(post));
	SC_CHECK(s, strstr(ev_detail(post), "Body=YES") && strstr(ev_detail(post), reply_sid),
		"the posted form: %s", ev_detail(post));
	deadline = hx_now_ms() + 10000;
	while ((audit = inbound_audit(reply_sid)) == NULL && hx_now_ms() < deadline)
		hx_sleep_ms(SC_POLL_MS);
	SC_CHECK(s, audit != NULL, "no audit record of the inbound webhook for %s", reply_sid);
	SC_CHECK(s, eq(jstr(audit, "signature"), "valid"), "ringfence found the reply's signature %s",
		or_none(jstr(audit, "signature")));
	SC_CHECK(s, json_integer_value(json_object_get(audit, "status")) == ev_code(post),
		"ringfence answered %lld, the transcript says %ld",
		(long long)json_integer_value(json_object_get(audit, "status")), ev_code(post));
	params = json_object_get(audit, "params");
	SC_CHECK(s, eq(jstr(params, "Body"), "YES") && eq(jstr(params, "From"), s->to) &&
		eq(jstr(params, "To"), SC_FROM), "the audited parameters are not the reply's");
	json_decref(audit);
}

/* ---- the table --------------------------------------------------------------------- */

/* One scenario of the table. */
#define SC(name_, kind_, behaviour_, prepare_, check_) \
	{ .name = (name_), .kind = (kind_), .behaviour = (behaviour_), .prepare = (prepare_), \
		.check = (check_) }

static struct scenario scenarios[] = {
	/* a. the reminder flow, each scripted callee */
	SC("flow-confirm", SC_FLOW, "person; press 1; press 1", NULL, flow_confirm),
	SC("flow-cancel", SC_FLOW, "person; press 1; press 2", NULL, flow_cancel),
	SC("flow-callback", SC_FLOW, "person; press 1; press 3", NULL, flow_callback),
	SC("flow-machine-detected", SC_FLOW, "machine answered_by=machine_start", flow_machine_detected_prepare,
		flow_machine_detected),
	SC("flow-machine-undetected", SC_FLOW, "machine", NULL, flow_machine_undetected),
	SC("flow-silence-after-press", SC_FLOW, "person; press 1; silence", NULL, flow_silence),
	SC("flow-invalid-keys", SC_FLOW, "person; press 7; press 8", NULL, flow_invalid),
	SC("flow-callee-hangs-up", SC_FLOW, "person; press 1; hangup", NULL, flow_hangup),
	SC("flow-hash-at-announce", SC_FLOW, "person; press #; press 1; press 1", NULL,
		flow_hash_at_announce),
	SC("flow-hash-at-menu", SC_FLOW, "person; press 1; press #; press #", NULL, flow_hash_at_menu),
	SC("flow-busy", SC_FLOW, "busy", cb_prepare_common, flow_busy),
	SC("flow-no-answer", SC_FLOW, "no-answer", NULL, flow_no_answer),
	SC("flow-fail", SC_FLOW, "fail", NULL, flow_fail),
	/* b. status callbacks */
	SC("cb-all-events", SC_APP, NULL, cb_all_prepare, cb_all),
	SC("cb-default", SC_APP, NULL, cb_prepare_common, cb_default),
	/* c. fakeapp as the application */
	SC("app-html", SC_APP, NULL, app_html_prepare, app_html),
	SC("app-500", SC_APP, NULL, app_500_prepare, app_500),
	SC("app-bad-xml", SC_APP, NULL, app_badxml_prepare, app_badxml),
	SC("app-dial", SC_APP, NULL, app_dial_prepare, app_dial),
	SC("app-play-text", SC_APP, NULL, app_play_text_prepare, app_play_text),
	SC("app-play-404", SC_APP, NULL, app_play_404_prepare, app_play_404),
	SC("app-redirect", SC_APP, NULL, app_redirect_prepare, app_redirect),
	SC("app-record", SC_APP, "person; wait 1; speak 2; press #", app_record_prepare, app_record),
	SC("app-gather-fall", SC_APP, "person; silence", app_gather_fall_prepare, app_gather_fall),
	SC("app-gather-empty", SC_APP, "person; silence", app_gather_empty_prepare, app_gather_empty),
	SC("app-gather-hash-falls", SC_APP, "person; press #", app_gather_fall_prepare,
		app_gather_hash_falls),
	SC("app-gather-hash-empty", SC_APP, "person; press #", app_gather_empty_prepare,
		app_gather_hash_empty),
	SC("app-gather-hash-key", SC_APP, "person; press #", app_gather_hash_key_prepare,
		app_gather_hash_key),
	SC("app-get", SC_APP, "person; press 5", app_get_prepare, app_get),
	/* d. messages */
	SC("msg-delivered", SC_MESSAGE, NULL, msg_callback_prepare, msg_delivered),
	SC("msg-undelivered", SC_MESSAGE, "person; sms-undelivered 30003", msg_callback_prepare, msg_undelivered),
	SC("msg-reply", SC_MESSAGE, "person; sms-reply \"YES\"", NULL, msg_reply),
	/* last: it takes longest (the 15 s timeout) */
	SC("app-slow", SC_APP, NULL, app_slow_prepare, app_slow),
};

#define NSCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static void launch_or_fail(struct scenario *s)
{
	struct hx_form f;
	struct hx_sim_res r;
	char url[400], *start = NULL;
	const char *from = SC_FROM, *sid;
	int message = s->kind == SC_MESSAGE;

	if (s->kind == SC_FLOW) {
		hx_fixture_call_or_fail(&s->fx);
		snprintf(s->to, sizeof(s->to), "%s", s->fx.client_phone);
		from = s->fx.from_number;
	} else {
		hx_random_phone(s->to);
	}
	snprintf(s->from, sizeof(s->from), "%s", from);
	if (s->behaviour)
		hx_sim_callee_or_fail(s->to, s->behaviour);
	hx_form_init(&f);
	hx_form_add(&f, "To", s->to);
	hx_form_add(&f, "From", from);
	if (s->kind == SC_FLOW) {
		hx_form_add(&f, "Url", s->fx.first_url);
	} else if (s->kind == SC_APP) {
		start = app_url(s, "start");
		hx_form_add(&f, "Url", start);
	} else {
		hx_form_add(&f, "Body", "Your appointment is tomorrow at 10:00. Reply YES to confirm.");
	}
	if (s->prepare)
		s->prepare(s, &f);
	snprintf(url, sizeof(url), "%s/%s", api_base, message ? "Messages.json" : "Calls.json");
	s->launched_ms = hx_now_ms();
	api_or_fail(url, &f, &r);
	schema_or_fail("POST", message ? MSGS_TMPL : CALLS_TMPL, &r);
	if (r.status != 201)
		fail_msg("%s: POST %s: HTTP %ld %s", s->name, url, r.status, buf_str(&r.body));
	sid = jstr(r.json, "sid");
	if (sid == NULL || strlen(sid) != 34 || strncmp(sid, message ? "SM" : "CA", 2) != 0)
		fail_msg("%s: the new resource's sid is %s", s->name, sid ? sid : "missing");
	if (!eq(jstr(r.json, "status"), "queued"))
		fail_msg("%s: a new resource is %s, not queued", s->name, or_none(jstr(r.json, "status")));
	snprintf(s->sid, sizeof(s->sid), "%s", sid);
	s->launched = 1;
	hx_sim_res_free(&r);
	hx_form_free(&f);
	free(start);
}

/* The first test: every call and message, created through the API. */
static void test_launch(void **state)
{
	(void)state;
	for (size_t i = 0; i < NSCENARIOS; i++)
		launch_or_fail(&scenarios[i]);
}

static void test_scenario(void **state)
{
	struct scenario *s = *state;
	if (s->kind != SC_MESSAGE)
		wait_call_or_fail(s, SC_DEADLINE_S);
	s->check(s);
}

/* ---- the group ---------------------------------------------------------------------- */

static int group_setup(void **state)
{
	char err[512];
	(void)state;
	if (hx_init_sim_api("simulator calls", &api_url, api_base, sizeof(api_base)) < 0)
		return -1;
	sc_initialised = 1;
	if (fakeapp_start(&fa, err, sizeof(err)) < 0) {
		fprintf(stderr, "# simulator calls: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	fakeapp_stop(fa);
	fa = NULL;
	for (size_t i = 0; i < NSCENARIOS; i++) {
		json_decref(scenarios[i].resource);
		json_decref(scenarios[i].events);
		free(scenarios[i].transcript);
		scenarios[i].resource = scenarios[i].events = NULL;
		scenarios[i].transcript = NULL;
	}
	if (sc_initialised)
		hx_fini();
	sc_initialised = 0;
	return 0;
}

int sim_calls_tests(void)
{
	struct CMUnitTest tests[NSCENARIOS + 1];
	char names[NSCENARIOS][64];

	tests[0] = (struct CMUnitTest){ "launch every call and message through the REST API", test_launch,
		NULL, NULL, NULL };
	for (size_t i = 0; i < NSCENARIOS; i++) {
		snprintf(names[i], sizeof(names[i]), "%s", scenarios[i].name);
		tests[i + 1] = (struct CMUnitTest){ names[i], test_scenario, NULL, NULL, &scenarios[i] };
	}
	return _cmocka_run_group_tests("integration: simulator calls through the REST API", tests,
		NSCENARIOS + 1, group_setup, group_teardown);
}

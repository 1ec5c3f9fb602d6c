/* Integration tests of the simulator's inbound calls and <Record>: a
 * simulated person calls a number (POST /sim/inbound-calls), the
 * simulator asks the number's voice URL (fakeapp, inside this binary,
 * records every request) with Twilio's inbound parameters, signed; the
 * caller presses a 6-digit code into a Gather and speaks into a Record;
 * the Record's action and recordingStatusCallback get the recording, and
 * the simulator serves it (WAV, MP3, JSON, lists, DELETE).  Also: the
 * caller hanging up while recording, an empty recording, silence ending
 * a recording, a Record attribute Twilio refuses, and a later call that
 * <Play>s the recording and is heard saying what was recorded; and
 * `ringfence-sim call-in`.
 *
 * Every call is launched by the first test and played side by side; each
 * later test waits for its own. */
#include "harness.h"
#include "fakeapp.h"

#include "arena.h"
#include "form.h"
#include "signature.h"
#include "util.h"

#include <openssl/evp.h>
#include <strings.h>
#include <sys/wait.h>

#define SR_TO "+15005550006"        /* the account's number called */
#define SR_DEADLINE_MS 60000
#define SR_POLL_MS 250
#define SR_WORDS "Hello, this is Anna's salon"
/* 200 bytes: two of them are more than a recording keeps (256). */
#define LONG_WORDS "Twenty bytes of it. Twenty bytes of it. Twenty bytes of it. Twenty bytes of it. " \
	"Twenty bytes of it. Twenty bytes of it. Twenty bytes of it. Twenty bytes of it. " \
	"Twenty bytes of it. Twenty bytes of it."

static const char *api_url;         /* TWILIO_API_URL */
static char api_base[300];          /* api_url + /2010-04-01/Accounts/AC... */
static struct fakeapp *fa;
static int sr_initialised;

struct call {
	const char *name;               /* fakeapp serves /NAME/... */
	const char *behaviour;          /* the caller */
	const char *start;              /* TwiML of /NAME/start */
	const char *next;               /* TwiML of /NAME/next, NULL: none */
	char sid[35];
	char from[13];
	json_t *resource;               /* the call's JSON once ended */
	json_t *events;                 /* its transcript */
};

#define XML "<?xml version=\"1.0\"?>"

static struct call calls[] = {
	{ "code", "person; wait 1; press 123456; speak 2 \"" SR_WORDS "\"; press #",
		XML "<Response><Gather numDigits=\"6\" action=\"next\"><Say>Enter your code</Say></Gather>"
		"<Say>No code</Say><Hangup/></Response>",
		XML "<Response><Say>Record after the beep</Say><Record finishOnKey=\"#\" maxLength=\"60\""
		" action=\"saved\" recordingStatusCallback=\"rs\"/><Say>Nothing</Say><Hangup/></Response>",
		"", "", NULL, NULL },
	{ "hangup", "person; speak 1.5; hangup",
		XML "<Response><Record action=\"saved\" recordingStatusCallback=\"rs\"/></Response>", NULL,
		"", "", NULL, NULL },
	{ "empty", "person",
		XML "<Response><Record action=\"saved\" timeout=\"2\" recordingStatusCallback=\"rs\""
		" recordingStatusCallbackEvent=\"completed absent\"/><Say>You said nothing</Say><Hangup/></Response>",
		NULL, "", "", NULL, NULL },
	{ "silence", "person; speak 1 \"" LONG_WORDS "\"; speak 2 \"" LONG_WORDS "\"; wait 10",
		XML "<Response><Record action=\"saved\" timeout=\"2\" trim=\"do-not-trim\"/></Response>", NULL,
		"", "", NULL, NULL },
	{ "bad-attribute", "person; speak 2; press #",
		XML "<Response><Record maxLength=\"1\" action=\"saved\"/></Response>", NULL, "", "", NULL, NULL },
};

#define NCALLS (sizeof(calls) / sizeof(calls[0]))

/* ---- helpers ---------------------------------------------------------------- */

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static struct call *call_named(const char *name)
{
	for (size_t i = 0; i < NCALLS; i++)
		if (strcmp(calls[i].name, name) == 0)
			return &calls[i];
	fail_msg("no call %s", name);
	return NULL;
}

static void serve_or_fail(const char *name, const char *leaf, const char *twiml)
{
	char path[128];
	snprintf(path, sizeof(path), "/%s/%s", name, leaf);
	if (fakeapp_serve(fa, path, 200, "text/xml", twiml, 0) < 0)
		fail_msg("fakeapp would not serve %s", path);
}

/* POSTs form to /sim/inbound-calls: the HTTP status, the JSON in *out
 * (caller decrefs; NULL when not JSON). */
static long inbound(const struct hx_form *form, json_t **out)
{
	struct hx_sim_res r;
	char *body = hx_form_encode(form);
	long status;
	if (hx_sim_request("/sim/inbound-calls", NULL, NULL, body, &r) < 0)
		fail_msg("POST /sim/inbound-calls: %s", r.error);
	free(body);
	status = r.status;
	*out = json_incref(r.json);
	hx_sim_res_free(&r);
	return status;
}

/* Launches c: its documents served, the caller calling SR_TO. */
static void launch(struct call *c, const char *start_twiml)
{
	struct hx_form f;
	json_t *j;
	char *url;
	long st;

	serve_or_fail(c->name, "start", start_twiml);
	if (c->next)
		serve_or_fail(c->name, "next", c->next);
	serve_or_fail(c->name, "saved", XML "<Response><Say>Saved</Say><Hangup/></Response>");
	serve_or_fail(c->name, "rs", XML "<Response/>");
	hx_random_phone(c->from);
	url = xasprintf("%s/%s/start", fakeapp_url(fa), c->name);
	hx_form_init(&f);
	hx_form_add(&f, "From", c->from);
	hx_form_add(&f, "To", SR_TO);
	hx_form_add(&f, "Behaviour", c->behaviour);
	hx_form_add(&f, "Url", url);
	st = inbound(&f, &j);
	if (st != 201 || !eq(jstr(j, "direction"), "inbound") || !eq(jstr(j, "status"), "queued") ||
		!eq(jstr(j, "from"), c->from) || !eq(jstr(j, "to"), SR_TO) || jstr(j, "sid") == NULL)
		fail_msg("%s: POST /sim/inbound-calls answered %ld %s", c->name, st,
			j ? json_dumps(j, 0) : "(not JSON)");
	snprintf(c->sid, sizeof(c->sid), "%s", jstr(j, "sid"));
	json_decref(j);
	hx_form_free(&f);
	free(url);
}

/* Waits for c to end; its resource and transcript into c. */
static void wait_or_fail(struct call *c)
{
	long long deadline = hx_now_ms() + SR_DEADLINE_MS;
	char url[512];
	const char *st;

	if (c->sid[0] == '\0')
		fail_msg("%s was not launched", c->name);
	snprintf(url, sizeof(url), "%s/Calls/%s.json", api_base, c->sid);
	for (;;) {
		json_decref(c->resource);
		c->resource = hx_sim_json_or_fail(url, NULL);
		st = jstr(c->resource, "status");
		if (st && strcmp(st, "queued") != 0 && strcmp(st, "ringing") != 0 &&
			strcmp(st, "in-progress") != 0)
			break;
		if (hx_now_ms() > deadline)
			fail_msg("%s: still %s after %d s", c->name, st ? st : "?", SR_DEADLINE_MS / 1000);
		hx_sleep_ms(SR_POLL_MS);
	}
	snprintf(url, sizeof(url), "%s/sim/calls/%s/events.json", api_url, c->sid);
	json_t *doc = hx_sim_json_or_fail(url, NULL);
	json_decref(c->events);
	c->events = json_incref(json_object_get(doc, "events"));
	json_decref(doc);
	if (!eq(jstr(c->resource, "direction"), "inbound"))
		fail_msg("%s: Calls/%s.json says direction %s", c->name, c->sid,
			jstr(c->resource, "direction"));
}

/* The first event of kind whose text contains needle (NULL: any), or NULL. */
static json_t *event(const struct call *c, const char *kind, const char *needle)
{
	size_t i;
	json_t *ev;
	json_array_foreach(c->events, i, ev) {
		const char *t = jstr(ev, "text");
		if (eq(jstr(ev, "kind"), kind) && (needle == NULL || (t && strstr(t, needle))))
			return ev;
	}
	return NULL;
}

/* A request's parameters (the form of a POST). */
struct rq {
	struct arena *a;
	struct params p;
};

/* The one request fakeapp got at /NAME/leaf (n: how many there must be;
 * the last is parsed into q), checked to be a signed form POST. */
static void request_or_fail(const struct call *c, const char *leaf, size_t n, struct rq *q)
{
	char path[128], *url;
	struct fakeapp_request *r = NULL;
	size_t got;
	const char *sig, *ct;

	snprintf(path, sizeof(path), "/%s/%s", c->name, leaf);
	got = fakeapp_requests(fa, path, &r);
	if (got != n) {
		fakeapp_requests_free(r, got);
		fail_msg("%s: %zu requests to %s, not %zu", c->name, got, path, n);
	}
	if (n == 0)
		return;
	r += n - 1;
	sig = fakeapp_header(r, "X-Twilio-Signature");
	ct = fakeapp_header(r, "Content-Type");
	if (strcmp(r->method, "POST") != 0 || ct == NULL ||
		strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
		fail_msg("%s: %s %s with Content-Type %s", c->name, r->method, path, ct ? ct : "(none)");
	q->a = arena_new(0);
	if (form_parse(q->a, r->body, r->body_len, NULL, &q->p) != FORM_OK)
		fail_msg("%s: %s: a body that does not parse: %s", c->name, path, r->body);
	url = xasprintf("%s%s", fakeapp_url(fa), r->target);
	if (sig == NULL || signature_validate(hx_env.auth_token, url, &q->p, 1, r->body, r->body_len,
		sig) != SIGNATURE_VALID)
		fail_msg("%s: POST %s: signature %s does not match", c->name, path, sig ? sig : "(none)");
	free(url);
	r -= n - 1;
	fakeapp_requests_free(r, n);
}

static const char *rq_get(const struct rq *q, const char *name)
{
	return form_get(&q->p, name);
}

static void rq_expect(const struct call *c, const struct rq *q, const char *name, const char *want)
{
	const char *v = rq_get(q, name);
	if (want == NULL ? v != NULL : !eq(v, want))
		fail_msg("%s: %s=%s, not %s", c->name, name, v ? v : "(absent)", want ? want : "(absent)");
}

static int is_sid(const char *v, const char *prefix)
{
	return v && strlen(v) == 34 && strncmp(v, prefix, 2) == 0 &&
		strspn(v + 2, "0123456789abcdef") == 32;
}

/* GET url without credentials: status, content type and body. */
static long get_public(const char *url, struct hx_response *rs)
{
	struct hx_request rq = { .method = "GET", .url = url };
	if (hx_http(NULL, &rq, rs) < 0)
		fail_msg("GET %s: %s", url, rs->error);
	return rs->status;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_launch(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCALLS; i++)
		launch(&calls[i], calls[i].start);
}

/* The caller's code reaches the Gather; the Record's action, status
 * callback and the served recording. */
static void test_code_and_record(void **state)
{
	struct call *c = call_named("code");
	struct rq q;
	char prefix[400], *u;
	const char *url, *sid;
	struct hx_response rs;
	json_t *j, *list;
	(void)state;

	wait_or_fail(c);
	if (!eq(jstr(c->resource, "status"), "completed") || jstr(c->resource, "duration") == NULL)
		fail_msg("code: status %s", jstr(c->resource, "status"));
	/* The inbound webhook: Twilio's parameters, CallStatus ringing. */
	request_or_fail(c, "start", 1, &q);
	rq_expect(c, &q, "CallSid", c->sid);
	rq_expect(c, &q, "AccountSid", hx_env.account_sid);
	rq_expect(c, &q, "From", c->from);
	rq_expect(c, &q, "To", SR_TO);
	rq_expect(c, &q, "Caller", c->from);
	rq_expect(c, &q, "Called", SR_TO);
	rq_expect(c, &q, "CallStatus", "ringing");
	rq_expect(c, &q, "Direction", "inbound");
	rq_expect(c, &q, "ApiVersion", "2010-04-01");
	arena_free(q.a);
	/* Six digits in one press fill numDigits=6. */
	request_or_fail(c, "next", 1, &q);
	rq_expect(c, &q, "Digits", "123456");
	rq_expect(c, &q, "CallStatus", "in-progress");
	rq_expect(c, &q, "Direction", "inbound");
	arena_free(q.a);
	/* The Record's action. */
	request_or_fail(c, "saved", 1, &q);
	url = rq_get(&q, "RecordingUrl");
	sid = rq_get(&q, "RecordingSid");
	snprintf(prefix, sizeof(prefix), "%s/Recordings/", api_base);
	if (!is_sid(sid, "RE") || url == NULL || strncmp(url, prefix, strlen(prefix)) != 0 ||
		strcmp(url + strlen(prefix), sid) != 0)
		fail_msg("code: RecordingSid %s, RecordingUrl %s", sid ? sid : "-", url ? url : "-");
	rq_expect(c, &q, "RecordingDuration", "2");
	rq_expect(c, &q, "Digits", "#");
	rq_expect(c, &q, "CallSid", c->sid);
	url = arena_strdup(q.a, url);
	sid = arena_strdup(q.a, sid);
	{
		/* The recording status callback, signed, about the same recording. */
		struct rq cb;
		request_or_fail(c, "rs", 1, &cb);
		rq_expect(c, &cb, "AccountSid", hx_env.account_sid);
		rq_expect(c, &cb, "CallSid", c->sid);
		rq_expect(c, &cb, "RecordingSid", sid);
		rq_expect(c, &cb, "RecordingUrl", url);
		rq_expect(c, &cb, "RecordingStatus", "completed");
		rq_expect(c, &cb, "RecordingDuration", "2");
		rq_expect(c, &cb, "RecordingChannels", "1");
		rq_expect(c, &cb, "RecordingSource", "RecordVerb");
		if (rq_get(&cb, "RecordingStartTime") == NULL ||
			strstr(rq_get(&cb, "RecordingStartTime"), " +0000") == NULL)
			fail_msg("code: RecordingStartTime %s", rq_get(&cb, "RecordingStartTime"));
		arena_free(cb.a);
	}
	if (event(c, "say", "Saved") == NULL || event(c, "say", "Nothing") != NULL)
		fail_msg("code: the action's document was not what played after the Record");

	/* The media: public, WAV by default and .wav, MP3 with .mp3. */
	if (get_public(url, &rs) != 200 || strcmp(rs.content_type, "audio/x-wav") != 0 ||
		rs.body.len < 44 + 2 * 8000 || memcmp(rs.body.data, "RIFF", 4) != 0 ||
		memmem(rs.body.data, rs.body.len, SR_WORDS, strlen(SR_WORDS)) == NULL)
		fail_msg("code: GET %s: %ld %s, %zu bytes", url, rs.status, rs.content_type, rs.body.len);
	hx_response_free(&rs);
	u = xasprintf("%s.wav", url);
	if (get_public(u, &rs) != 200 || strcmp(rs.content_type, "audio/x-wav") != 0)
		fail_msg("code: GET %s: %ld %s", u, rs.status, rs.content_type);
	hx_response_free(&rs);
	free(u);
	u = xasprintf("%s.mp3", url);
	if (get_public(u, &rs) != 200 || strcmp(rs.content_type, "audio/mpeg") != 0 ||
		rs.body.len < 4 || (unsigned char)rs.body.data[0] != 0xFF)
		fail_msg("code: GET %s: %ld %s", u, rs.status, rs.content_type);
	hx_response_free(&rs);
	free(u);
	/* The JSON needs the credentials. */
	u = xasprintf("%s.json", url);
	if (get_public(u, &rs) != 401)
		fail_msg("code: GET %s without credentials: %ld", u, rs.status);
	hx_response_free(&rs);
	j = hx_sim_json_or_fail(u, NULL);
	if (!eq(jstr(j, "sid"), sid) || !eq(jstr(j, "call_sid"), c->sid) ||
		!eq(jstr(j, "duration"), "2") || !eq(jstr(j, "status"), "completed") ||
		!eq(jstr(j, "source"), "RecordVerb"))
		fail_msg("code: %s: %s", u, json_dumps(j, 0));
	json_decref(j);
	free(u);
	/* Listed for the account (by CallSid) and under the call. */
	u = xasprintf("%s/Recordings.json?CallSid=%s", api_base, c->sid);
	list = hx_sim_json_or_fail(u, NULL);
	if (json_array_size(json_object_get(list, "recordings")) != 1 ||
		!eq(jstr(json_array_get(json_object_get(list, "recordings"), 0), "sid"), sid))
		fail_msg("code: %s: %s", u, json_dumps(list, 0));
	json_decref(list);
	free(u);
	u = xasprintf("%s/Calls/%s/Recordings.json", api_base, c->sid);
	list = hx_sim_json_or_fail(u, NULL);
	if (json_array_size(json_object_get(list, "recordings")) != 1)
		fail_msg("code: %s: %s", u, json_dumps(list, 0));
	json_decref(list);
	free(u);

	/* A later call plays the recording: the caller hears its words. */
	{
		struct call later = { "later", "person; expect \"" SR_WORDS "\"; expect-hangup", NULL, NULL,
			"", "", NULL, NULL };
		char *twiml = xasprintf(XML "<Response><Play>%s</Play><Hangup/></Response>", url);
		launch(&later, twiml);
		wait_or_fail(&later);
		if (!eq(jstr(later.resource, "status"), "completed") || event(&later, "error", NULL) ||
			event(&later, "play", sid) == NULL)
			fail_msg("later: the recording was not played and heard: status %s, %s",
				jstr(later.resource, "status"), json_dumps(later.events, 0));
		free(twiml);
		json_decref(later.resource);
		json_decref(later.events);
	}

	/* DELETE: 204, then the media and the JSON are gone. */
	{
		struct hx_request rq = { .method = "DELETE", .authorization = NULL };
		char *auth = NULL, *raw = xasprintf("%s:%s", hx_env.account_sid, hx_env.auth_token);
		char b64[256];
		u = xasprintf("%s/Recordings/%s.json", api_base, sid);
		EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)raw, (int)strlen(raw));
		auth = xasprintf("Basic %s", b64);
		rq.url = u;
		rq.authorization = auth;
		if (hx_http(NULL, &rq, &rs) < 0 || rs.status != 204)
			fail_msg("code: DELETE %s: %ld %s", u, rs.status, buf_str(&rs.body));
		hx_response_free(&rs);
		if (get_public(url, &rs) != 404)
			fail_msg("code: GET %s after DELETE: %ld", url, rs.status);
		hx_response_free(&rs);
		{
			struct hx_sim_res r;
			if (hx_sim_request(u, NULL, NULL, NULL, &r) < 0 || r.status != 404 ||
				json_integer_value(json_object_get(r.json, "code")) != 20404)
				fail_msg("code: GET %s after DELETE: %ld %s", u, r.status, buf_str(&r.body));
			hx_sim_res_free(&r);
		}
		free(u);
		free(auth);
		free(raw);
	}
	arena_free(q.a);
}

/* The caller hangs up while recording: the action still hears of it,
 * with Digits=hangup. */
static void test_hangup(void **state)
{
	struct call *c = call_named("hangup");
	struct rq q;
	(void)state;

	wait_or_fail(c);
	if (!eq(jstr(c->resource, "status"), "completed") || event(c, "hangup", "callee") == NULL)
		fail_msg("hangup: status %s, no callee hangup", jstr(c->resource, "status"));
	request_or_fail(c, "saved", 1, &q);
	rq_expect(c, &q, "Digits", "hangup");
	rq_expect(c, &q, "RecordingDuration", "2");
	if (!is_sid(rq_get(&q, "RecordingSid"), "RE"))
		fail_msg("hangup: RecordingSid %s", rq_get(&q, "RecordingSid"));
	arena_free(q.a);
	request_or_fail(c, "rs", 1, &q);
	rq_expect(c, &q, "RecordingStatus", "completed");
	arena_free(q.a);
	if (event(c, "say", "Saved") != NULL)
		fail_msg("hangup: the action's answer was played to nobody");
}

/* Nothing said: no action request, the next verb runs; the absent
 * event was asked for, so the status callback says so. */
static void test_empty(void **state)
{
	struct call *c = call_named("empty");
	struct rq q;
	(void)state;

	wait_or_fail(c);
	if (!eq(jstr(c->resource, "status"), "completed") || event(c, "error", NULL) ||
		event(c, "record", NULL) != NULL)
		fail_msg("empty: status %s or a recording was made", jstr(c->resource, "status"));
	request_or_fail(c, "saved", 0, &q);
	if (event(c, "say", "You said nothing") == NULL || event(c, "hangup", "application") == NULL)
		fail_msg("empty: the verbs after the Record did not run");
	request_or_fail(c, "rs", 1, &q);
	rq_expect(c, &q, "RecordingStatus", "absent");
	rq_expect(c, &q, "RecordingDuration", "0");
	arena_free(q.a);
}

/* Silence (timeout 2) ends a recording; do-not-trim keeps the silence
 * in its length; no key: no Digits; more words than a recording keeps
 * are cut, and it is still stored and served. */
static void test_silence(void **state)
{
	struct call *c = call_named("silence");
	struct rq q;
	(void)state;

	wait_or_fail(c);
	request_or_fail(c, "saved", 1, &q);
	rq_expect(c, &q, "RecordingDuration", "5");
	rq_expect(c, &q, "Digits", NULL);
	{
		/* Served, with the words cut to what a recording keeps. */
		struct hx_response rs;
		const char *url = rq_get(&q, "RecordingUrl");
		if (url == NULL || get_public(url, &rs) != 200 ||
			memmem(rs.body.data, rs.body.len, LONG_WORDS " / Twenty", strlen(LONG_WORDS) + 9) == NULL ||
			memmem(rs.body.data, rs.body.len, LONG_WORDS " / " LONG_WORDS, 2 * strlen(LONG_WORDS) + 3))
			fail_msg("silence: the recording %s is not served with its words cut", url ? url : "-");
		hx_response_free(&rs);
	}
	arena_free(q.a);
	if (event(c, "note", "2 s of silence") == NULL)
		fail_msg("silence: the transcript does not say silence ended the recording");
}

/* maxLength="1" is outside Twilio's range (above 1, at most 14400): the
 * document is refused (12100) and the call ends; nothing is recorded. */
static void test_bad_attribute(void **state)
{
	struct call *c = call_named("bad-attribute");
	struct rq q;
	json_t *e;
	(void)state;

	wait_or_fail(c);
	e = event(c, "error", "maxLength");
	if (e == NULL || json_integer_value(json_object_get(e, "code")) != 12100)
		fail_msg("bad-attribute: no 12100 naming maxLength: %s", json_dumps(c->events, 0));
	if (!eq(jstr(c->resource, "status"), "completed") || event(c, "record", NULL) != NULL ||
		event(c, "press", NULL) != NULL)
		fail_msg("bad-attribute: status %s, or the caller was recorded",
			jstr(c->resource, "status"));
	request_or_fail(c, "saved", 0, &q);
}

/* /sim/inbound-calls refuses what it cannot play, with a reason. */
static void test_inbound_refusals(void **state)
{
	static const struct {
		const char *from, *to, *behaviour, *url;
		long status;
		const char *needle;
		const char *name, *value;   /* one more parameter, or NULL */
	} cases[] = {
		{ "+15551230001", SR_TO, NULL, "http://127.0.0.1:9/x", 400, "Behaviour is required",
		  NULL, NULL },
		{ "+15551230001", SR_TO, "busy", "http://127.0.0.1:9/x", 400, "person or a machine",
		  NULL, NULL },
		{ "+15551230001", SR_TO, "person; jump", "http://127.0.0.1:9/x", 400, "not valid",
		  NULL, NULL },
		{ "555", SR_TO, "person", "http://127.0.0.1:9/x", 400, "From", NULL, NULL },
		{ "+15551230001", SR_TO, "person", "ftp://x/y", 400, "Url", NULL, NULL },
		{ NULL, SR_TO, "person", "http://127.0.0.1:9/x", 400, "From", NULL, NULL },
		{ "+15551230001", SR_TO, "person", "http://127.0.0.1:9/x", 400,
		  "Method must be GET or POST", "Method", "PUT" },
		{ "+15551230001", SR_TO, "person", "http://127.0.0.1:9/x", 400,
		  "StatusCallback is not a valid", "StatusCallback", "ftp://x/y" },
		{ "+15551230001", SR_TO, "person", "http://127.0.0.1:9/x", 400,
		  "StatusCallbackMethod must be GET or POST", "StatusCallbackMethod", "PUT" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hx_form f;
		json_t *j;
		long st;
		const char *msg;
		hx_form_init(&f);
		if (cases[i].from)
			hx_form_add(&f, "From", cases[i].from);
		hx_form_add(&f, "To", cases[i].to);
		if (cases[i].behaviour)
			hx_form_add(&f, "Behaviour", cases[i].behaviour);
		hx_form_add(&f, "Url", cases[i].url);
		if (cases[i].name)
			hx_form_add(&f, cases[i].name, cases[i].value);
		st = inbound(&f, &j);
		msg = jstr(j, "message");
		if (st != cases[i].status || msg == NULL || strstr(msg, cases[i].needle) == NULL)
			fail_msg("case %zu: %ld %s", i, st, msg ? msg : "(no message)");
		json_decref(j);
		hx_form_free(&f);
	}
	{
		struct hx_sim_res r;
		if (hx_sim_request("/sim/inbound-calls", hx_env.account_sid, "wrong-token",
			"From=%2B15551230001&To=%2B15005550006&Behaviour=person", &r) < 0 || r.status != 401)
			fail_msg("wrong credentials: %ld", r.status);
		hx_sim_res_free(&r);
	}
}

/* Runs bin/ringfence-sim call-in with args (shell-quoted); its exit
 * status, its output (stdout and stderr) into out. */
static int run_call_in(const char *args, struct buf *out)
{
	char *cmd = xasprintf("bin/ringfence-sim call-in %s 2>&1", args);
	char line[512];
	FILE *f = popen(cmd, "r");
	int st;
	free(cmd);
	if (f == NULL)
		fail_msg("cannot run bin/ringfence-sim call-in");
	while (fgets(line, sizeof(line), f))
		buf_puts(out, line);
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The command line: a call that records and ends cleanly (0, its sid and
 * transcript), one that the application breaks (1), a refused caller (1)
 * and a usage error (2). */
static void test_call_in_command(void **state)
{
	struct buf out = BUF_INIT;
	char *args;
	int rc;
	(void)state;

	serve_or_fail("cli", "start", XML "<Response><Gather numDigits=\"6\" action=\"next\"/></Response>");
	serve_or_fail("cli", "next", XML "<Response><Record action=\"saved\" finishOnKey=\"#\"/></Response>");
	serve_or_fail("cli", "saved", XML "<Response><Say>Saved</Say><Hangup/></Response>");
	serve_or_fail("cli", "broken", XML "<Response><Record maxLength=\"99999\"/></Response>");
	args = xasprintf("--from +15551230009 --to " SR_TO " --url %s/cli/start --wait --timeout 60"
		" --behaviour 'person; press 654321; speak 1 \"Hi\"; press #'", fakeapp_url(fa));
	rc = run_call_in(args, &out);
	free(args);
	if (rc != 0 || strncmp(buf_str(&out), "CA", 2) != 0 || !strstr(buf_str(&out), "status completed") ||
		!strstr(buf_str(&out), "press 654321") || !strstr(buf_str(&out), "record 1 ") ||
		!strstr(buf_str(&out), "say Saved"))
		fail_msg("call-in: exit %d:\n%s", rc, buf_str(&out));
	buf_reset(&out);
	args = xasprintf("--from +15551230009 --to " SR_TO " --url %s/cli/broken --wait --timeout 60"
		" --behaviour person", fakeapp_url(fa));
	rc = run_call_in(args, &out);
	free(args);
	if (rc != 1 || !strstr(buf_str(&out), "error 12100"))
		fail_msg("call-in of a broken document: exit %d:\n%s", rc, buf_str(&out));
	buf_reset(&out);
	rc = run_call_in("--from +15551230009 --to " SR_TO " --url http://127.0.0.1:9/x --behaviour busy",
		&out);
	if (rc != 1 || !strstr(buf_str(&out), "person or a machine"))
		fail_msg("call-in of a busy caller: exit %d:\n%s", rc, buf_str(&out));
	buf_reset(&out);
	rc = run_call_in("--from +15551230009", &out);
	if (rc != 2 || !strstr(buf_str(&out), "required"))
		fail_msg("call-in without --to: exit %d:\n%s", rc, buf_str(&out));
	buf_free(&out);
}

/* ---- the group ---------------------------------------------------------------------- */

static int group_setup(void **state)
{
	char err[512];
	(void)state;
	if (hx_init_sim_api("simulator recordings", &api_url, api_base, sizeof(api_base)) < 0)
		return -1;
	sr_initialised = 1;
	if (fakeapp_start(&fa, err, sizeof(err)) < 0) {
		fprintf(stderr, "# simulator recordings: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	fakeapp_stop(fa);
	fa = NULL;
	for (size_t i = 0; i < NCALLS; i++) {
		json_decref(calls[i].resource);
		json_decref(calls[i].events);
		calls[i].resource = calls[i].events = NULL;
	}
	if (sr_initialised)
		hx_fini();
	sr_initialised = 0;
	return 0;
}

int sim_record_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_launch),
		cmocka_unit_test(test_inbound_refusals),
		cmocka_unit_test(test_code_and_record),
		cmocka_unit_test(test_hangup),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_silence),
		cmocka_unit_test(test_bad_attribute),
		cmocka_unit_test(test_call_in_command),
	};
	return cmocka_run_group_tests_name("integration: simulator inbound calls and recordings", tests,
		group_setup, group_teardown);
}

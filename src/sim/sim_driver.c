/* sim_driver: plays the simulator's queued calls and messages. */
#include "sim/sim_driver.h"
#include "cli.h"
#include "sms.h"
#include "config.h"
#include "db.h"
#include "form.h"
#include "log.h"
#include "sim/sim_call.h"
#include "sim/sim_callee.h"
#include "sim/sim_http.h"
#include "sim/sim_store.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DRIVER_MAX_CHILDREN 64
#define DRIVER_POLL_MS 200
#define DRIVER_STOP_GRACE_MS 5000
#define DRIVER_HTTP_TIMEOUT_MS 15000
/* One lock number for "the driver of this database". */
#define DRIVER_LOCK_SQL "SELECT pg_try_advisory_lock(hashtext('ringfence.twilio_sim.driver'))"

struct child {
	pid_t pid;
	char sid[35];   /* CA... or SM... */
};

struct driver {
	struct config cfg;
	const struct sim_driver_opts *opts;
	struct db *db;
	PGconn *listening;      /* the connection LISTEN and the lock were taken on */
	struct child kids[DRIVER_MAX_CHILDREN];
	int nkids;
	long long next_dial_ms; /* with a CPS limit: no call is dialled before this */
};

/* Sleeps seconds x the time scale. */
static void scaled_sleep(const struct sim_driver_opts *o, double seconds)
{
	double s = seconds * o->time_scale;
	struct timespec ts;
	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- a call's child ---------------------------------------------------- */

struct call_ctx {
	struct db *db;
	const char *sid;
	const char *account_sid;
};

/* Every event goes to the transcript; a live status also to the row, so
 * that GET Calls/{Sid}.json shows the call ringing or in progress. */
static void call_event(void *ctx, const struct sim_event *ev)
{
	struct call_ctx *c = ctx;
	if (sim_store_event_add(c->db, c->sid, sim_event_name(ev->kind), ev->text, ev->detail,
		    ev->code, ev->at_ms) < 0)
		log_warn("driver: call %s: a transcript line was lost", c->sid);
	if (ev->kind == SIM_EV_STATUS && sim_store_call_status(c->db, c->sid, ev->text) < 0)
		log_warn("driver: call %s: status %s not stored", c->sid, ev->text);
	/* A recording exists (and is served) from the moment it ends, before
	 * its action is requested; its URL ends with its sid. */
	if (ev->kind == SIM_EV_RECORD && strlen(ev->text) > 34 &&
		sim_store_recording_insert(c->db, ev->text + strlen(ev->text) - 34, c->account_sid,
			c->sid, ev->code, ev->detail, "completed") < 0)
		log_warn("driver: call %s: recording %s not stored", c->sid, ev->text);
}

/* Loads number's callee: its stored behaviour, or the default. */
static void callee_for(struct db *db, const char *number, struct sim_callee *out,
	const char *sid)
{
	char *spec = NULL;
	char err[256];
	int r = sim_store_callee_get(db, number, &spec);
	if (r == 1 && sim_callee_parse(spec, out, err, sizeof(err)) == 0)
		goto out;
	if (r == 1) {
		char *note = xasprintf("the stored behaviour of %s is not valid (%s); the default callee answers", number, err);
		sim_store_event_add(db, sid, "note", note, spec, 0, 0);
		free(note);
	} else if (r < 0) {
		sim_store_event_add(db, sid, "note", "the callee could not be read; the default callee answers", "", 0, 0);
	}
	sim_callee_default(out);
out:
	free(spec);
}

/* The child playing one call; never returns. */
static void call_child(const struct driver *d, struct sim_store_call *call)
{
	struct db *db = db_open(d->cfg.database_url);
	struct sim_callee *callee = xcalloc(1, sizeof(*callee));
	struct sim_call_params p;
	struct sim_call_result r;
	struct call_ctx ctx = { db, call->sid, call->account_sid };
	char err[256];

	/* An inbound call's "callee" is the person calling in. */
	if (call->caller_behaviour == NULL)
		callee_for(db, call->to, callee, call->sid);
	else if (sim_callee_parse(call->caller_behaviour, callee, err, sizeof(err)) < 0) {
		sim_store_event_add(db, call->sid, "note", "the caller's behaviour is not valid",
			err, 0, 0);
		sim_callee_default(callee);
	}
	memset(&p, 0, sizeof(p));
	p.call_sid = call->sid;
	p.account_sid = call->account_sid;
	p.auth_token = d->cfg.auth_token;
	p.from = call->from;
	p.to = call->to;
	p.direction = call->direction ? call->direction : "outbound-api";
	p.api_url = d->cfg.api_url;
	p.url = call->url;
	p.method = call->method;
	p.twiml = call->twiml;
	p.fallback_url = call->fallback_url;
	p.fallback_method = call->fallback_method;
	p.status_callback = call->status_callback;
	p.status_callback_method = call->status_callback_method;
	p.status_events = call->status_events;
	p.machine_detection = call->machine_detection;
	p.timeout_s = call->timeout_s;
	p.time_limit_s = call->time_limit_s;
	p.time_scale = d->opts->time_scale;
	p.http_timeout_s = 15;
	memset(&r, 0, sizeof(r));
	if (sim_call_run(&p, callee, call_event, &ctx, &r) < 0) {
		snprintf(r.status, sizeof(r.status), "failed");
		sim_store_event_add(db, call->sid, "note", "the simulator could not play the call",
			r.error_message, 0, 0);
	}
	if (sim_store_call_finish(db, call->sid, &r) < 0) {
		log_error("driver: call %s: the outcome (%s) could not be stored", call->sid, r.status);
		_exit(1);
	}
	log_info("driver: call %s to %s: %s", call->sid, call->to, r.status);
	db_close(db);
	_exit(0);
}

/* ---- a message's child ------------------------------------------------- */

struct form_out {
	struct param v[16];
	size_t n;
};

static void form_add(struct form_out *f, const char *name, const char *value)
{
	if (f->n < ARRAY_LEN(f->v)) {
		f->v[f->n].name = name;
		f->v[f->n].value = value;
		f->v[f->n].value_len = strlen(value);
		f->n++;
	}
}

/* POSTs form f to url signed, and writes the request and the answer to
 * sid's transcript as a kind line; a 200 answer's body is appended to
 * answer unless it is NULL.  Returns the HTTP status (0: none). */
static int post_signed(const struct driver *d, struct db *db, const char *sid, const char *kind,
	const char *url, struct form_out *f, long long t0, struct buf *answer)
{
	struct params params = { f->v, f->n };
	struct sim_http_response r;
	struct buf sent = BUF_INIT;
	char *line;
	int status;

	for (size_t i = 0; i < f->n; i++)
		buf_printf(&sent, "%s%s=%s", i ? "&" : "", f->v[i].name, f->v[i].value);
	sim_http_response_init(&r);
	sim_http_request("POST", url, &params, d->cfg.auth_token, DRIVER_HTTP_TIMEOUT_MS, &r);
	status = r.status;
	if (answer && status == 200)
		buf_append(answer, r.body.data ? r.body.data : "", r.body.len);
	line = xasprintf("POST %s -> %s", url, status ? "answered" : r.error);
	sim_store_event_add(db, sid, kind, line, buf_str(&sent), status, util_now_ms() - t0);
	free(line);
	buf_free(&sent);
	sim_http_response_free(&r);
	return status;
}

/* A status callback of message m, when it asked for them. */
static void message_callback(const struct driver *d, struct db *db,
	const struct sim_store_message *m, const char *status, int error_code, long long t0)
{
	struct form_out f = { .n = 0 };
	char code[16];
	if (m->status_callback == NULL)
		return;
	snprintf(code, sizeof(code), "%d", error_code);
	form_add(&f, "AccountSid", m->account_sid);
	form_add(&f, "ApiVersion", "2010-04-01");
	if (error_code)
		form_add(&f, "ErrorCode", code);
	form_add(&f, "From", m->from);
	form_add(&f, "MessageSid", m->sid);
	form_add(&f, "MessageStatus", status);
	form_add(&f, "SmsSid", m->sid);
	form_add(&f, "SmsStatus", status);
	form_add(&f, "To", m->to);
	post_signed(d, db, m->sid, "callback", m->status_callback, &f, t0, NULL);
}

static int message_set(struct db *db, const struct sim_store_message *m, const char *status,
	int code, const char *msg, long long t0)
{
	sim_store_event_add(db, m->sid, "status", status, msg ? msg : "", code, util_now_ms() - t0);
	return sim_store_message_status(db, m->sid, status, code, msg);
}

/* Sends one <Message> of the application's answer to the text in_sid (a
 * reply to message m) as Twilio does: from the number texted to the
 * callee, as an outbound-reply message, unless the callee opted out of
 * that number (Twilio does not deliver it: error 21610).  The text of the
 * Message (or of its Body) is the reply. */
static void message_send_reply(struct db *db, const struct sim_store_message *m,
	const char *in_sid, xmlNodePtr msg)
{
	struct sim_store_message_new out;
	struct buf json = BUF_INIT;
	xmlChar *text = xmlNodeGetContent(msg);
	char sid[35], *note;
	int opted = sim_store_opted_out(db, m->to, m->from);

	if (opted != 0) {
		sim_store_event_add(db, in_sid, "note", opted > 0
			? "TwiML reply not sent: error 21610, the recipient opted out"
			: "TwiML reply not sent: the opt-outs could not be read",
			text ? (const char *)text : "", opted > 0 ? 21610 : 0, 0);
		goto out;
	}
	if (sim_store_new_sid("SM", sid) < 0)
		goto out;
	memset(&out, 0, sizeof(out));
	out.sid = sid;
	out.account_sid = m->account_sid;
	out.to = m->to;
	out.from = m->from;
	out.body = text ? (const char *)text : "";
	out.direction = "outbound-reply";
	out.status = "delivered";
	out.num_segments = 1;
	if (sim_store_message_insert(db, &out, &json) < 0) {
		log_error("driver: the TwiML reply to %s could not be stored", in_sid);
		goto out;
	}
	note = xasprintf("TwiML reply %s to %s", sid, m->to);
	sim_store_event_add(db, in_sid, "note", note, out.body, 0, 0);
	free(note);
out:
	xmlFree(text);
	buf_free(&json);
}

/* The application's answer to the text in_sid: valid TwiML (root
 * Response) whose <Message> verbs are sent back to the callee; anything
 * else is noted with Twilio's error (12100: not XML, 12200: not a
 * Response) and sends nothing. */
static void message_twiml_reply(struct db *db, const struct sim_store_message *m,
	const char *in_sid, const char *answer)
{
	xmlDocPtr doc = xmlReadMemory(answer, (int)strlen(answer), "reply.xml", NULL,
		XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;

	if (root == NULL) {
		sim_store_event_add(db, in_sid, "note", "error 12100: the answer is not XML", answer,
			12100, 0);
	} else if (strcmp((const char *)root->name, "Response") != 0) {
		sim_store_event_add(db, in_sid, "note", "error 12200: the answer's root is not <Response>",
			answer, 12200, 0);
	} else {
		for (xmlNodePtr c = root->children; c; c = c->next)
			if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "Message") == 0)
				message_send_reply(db, m, in_sid, c);
	}
	xmlFreeDoc(doc);
}

/* The callee's reply to m: an inbound message, opt-out keywords honoured,
 * posted signed to the application; the <Message> of its answer is sent
 * back to the callee (message_twiml_reply). */
static void message_reply(const struct driver *d, struct db *db, const struct sim_store_message *m,
	const char *body, long long t0)
{
	struct sim_store_message_new in;
	struct buf json = BUF_INIT, answer = BUF_INIT;
	struct form_out f = { .n = 0 };
	char sid[35], segs[12], *url = NULL, *note;
	int kw = sms_opt_keyword(body);

	if (sim_store_new_sid("SM", sid) < 0)
		goto out;
	memset(&in, 0, sizeof(in));
	in.sid = sid;
	in.account_sid = m->account_sid;
	in.to = m->from;
	in.from = m->to;
	in.body = body;
	in.direction = "inbound";
	in.status = "received";
	in.num_segments = 1;
	if (sim_store_message_insert(db, &in, &json) < 0) {
		log_error("driver: the reply to %s could not be stored", m->sid);
		goto out;
	}
	note = xasprintf("reply %s from %s", sid, m->to);
	sim_store_event_add(db, m->sid, "note", note, body, 0, util_now_ms() - t0);
	free(note);
	note = xasprintf("reply to %s", m->sid);
	sim_store_event_add(db, sid, "note", note, body, 0, 0);
	free(note);
	if (kw != 0 && sim_store_opt(db, m->to, m->from, body, kw > 0) == 0)
		sim_store_event_add(db, sid, "note", kw > 0 ? "opted out" : "opted back in", "", 0, 0);
	snprintf(segs, sizeof(segs), "%d", 1);
	url = xasprintf("%s/twilio/sms/inbound", d->cfg.public_url);
	form_add(&f, "AccountSid", m->account_sid);
	form_add(&f, "ApiVersion", "2010-04-01");
	form_add(&f, "Body", body);
	form_add(&f, "From", m->to);
	form_add(&f, "MessageSid", sid);
	form_add(&f, "NumMedia", "0");
	form_add(&f, "NumSegments", segs);
	if (kw != 0)
		form_add(&f, "OptOutType", kw > 0 ? "STOP" : "START");
	form_add(&f, "SmsMessageSid", sid);
	form_add(&f, "SmsSid", sid);
	form_add(&f, "SmsStatus", "received");
	form_add(&f, "To", m->from);
	if (post_signed(d, db, sid, "request", url, &f, t0, &answer) == 200)
		message_twiml_reply(db, m, sid, buf_str(&answer));
out:
	free(url);
	buf_free(&answer);
	buf_free(&json);
}

/* The child delivering one message; never returns. */
static void message_child(const struct driver *d, struct sim_store_message *m)
{
	struct db *db = db_open(d->cfg.database_url);
	struct sim_callee *callee = xcalloc(1, sizeof(*callee));
	long long t0 = util_now_ms();
	char msg[64];

	callee_for(db, m->to, callee, m->sid);
	scaled_sleep(d->opts, 0.5);
	if (message_set(db, m, "sent", 0, NULL, t0) < 0)
		_exit(1);
	message_callback(d, db, m, "sent", 0, t0);
	scaled_sleep(d->opts, 1.0);
	if (callee->sms_error_code) {
		snprintf(msg, sizeof(msg), "Undelivered: carrier error %d", callee->sms_error_code);
		if (message_set(db, m, "undelivered", callee->sms_error_code, msg, t0) < 0)
			_exit(1);
		message_callback(d, db, m, "undelivered", callee->sms_error_code, t0);
	} else {
		if (message_set(db, m, "delivered", 0, NULL, t0) < 0)
			_exit(1);
		message_callback(d, db, m, "delivered", 0, t0);
		for (int i = 0; i < callee->nsms_replies; i++) {
			scaled_sleep(d->opts, callee->sms_replies[i].wait_s);
			message_reply(d, db, m, callee->sms_replies[i].text, t0);
		}
	}
	db_close(db);
	_exit(0);
}

/* ---- the loop ---------------------------------------------------------- */

/* Forks a child for sid running fn; 0, or -1 when fork failed. */
static int spawn(struct driver *d, const char *sid, void (*run)(struct driver *, void *), void *arg)
{
	pid_t pid = fork();
	if (pid == 0) {
		/* A call must not outlive its driver: the next driver would
		 * fail it while it still runs. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		signal(SIGTERM, SIG_DFL);
		run(d, arg);
		_exit(0);
	}
	if (pid < 0) {
		log_error("driver: fork failed: %s", strerror(errno));
		return -1;
	}
	d->kids[d->nkids].pid = pid;
	snprintf(d->kids[d->nkids].sid, sizeof(d->kids[d->nkids].sid), "%s", sid);
	d->nkids++;
	return 0;
}

static void run_call(struct driver *d, void *arg)
{
	call_child(d, arg);
}

static void run_message(struct driver *d, void *arg)
{
	message_child(d, arg);
}

/* Ends what a child that died abnormally left in flight. */
static void child_died(struct driver *d, const struct child *k, int status)
{
	char *note;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if (WIFSIGNALED(status))
		note = xasprintf("the simulator's player of this %s was killed by signal %d",
			k->sid[0] == 'C' ? "call" : "message", WTERMSIG(status));
	else
		note = xasprintf("the simulator's player of this %s exited with status %d",
			k->sid[0] == 'C' ? "call" : "message", WEXITSTATUS(status));
	log_warn("driver: %s: %s", k->sid, note);
	if (k->sid[0] == 'C')
		sim_store_call_fail_inflight(d->db, k->sid, note);
	else
		sim_store_message_fail_inflight(d->db, k->sid, note);
	free(note);
}

static void reap(struct driver *d, int block)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, block ? 0 : WNOHANG)) > 0) {
		for (int i = 0; i < d->nkids; i++) {
			if (d->kids[i].pid != pid)
				continue;
			struct child k = d->kids[i];
			d->kids[i] = d->kids[--d->nkids];
			child_died(d, &k, status);
			break;
		}
		block = 0;
	}
}

/* Takes the driver lock and LISTENs on the current connection, when it
 * is new.  1 when this driver may work, 0 when another holds the lock,
 * -1 when the database is not there. */
static int ensure_session(struct driver *d)
{
	PGresult *res;
	int held;

	if (db_connect(d->db) < 0)
		return -1;
	if (db_pgconn(d->db) == d->listening)
		return 1;
	res = db_exec(d->db, DRIVER_LOCK_SQL, 0, NULL);
	if (res == NULL)
		return -1;
	held = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!held)
		return 0;
	res = db_exec(d->db, "LISTEN twilio_sim", 0, NULL);
	if (res == NULL)
		return -1;
	PQclear(res);
	d->listening = db_pgconn(d->db);
	return 1;
}

/* Waits up to DRIVER_POLL_MS (less when the next call's turn under the
 * CPS limit comes sooner) for a notification, draining them. */
static void wait_for_work(struct driver *d)
{
	PGconn *conn = db_pgconn(d->db);
	struct pollfd pfd;
	PGnotify *n;
	long long turn = d->next_dial_ms - util_now_ms();
	int ms = DRIVER_POLL_MS;

	if (d->opts->cps > 0 && turn > 0 && turn < ms)
		ms = (int)turn;
	if (conn == NULL || PQsocket(conn) < 0) {
		poll(NULL, 0, ms);
		return;
	}
	pfd.fd = PQsocket(conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, ms) > 0) {
		PQconsumeInput(conn);
		while ((n = PQnotifies(conn)) != NULL)
			PQfreemem(n);
	}
}

/* Claims and starts work until none is left or the children are full.
 * 0, or -1 when the database failed. */
static int start_work(struct driver *d)
{
	while (!cli_stopping() && d->nkids < DRIVER_MAX_CHILDREN) {
		struct sim_store_call call;
		struct sim_store_message m;
		int r = 0;
		/* Under a calls-per-second limit a call waits in the queue
		 * (status queued, no start_time) until its turn, as at Twilio. */
		if (d->opts->cps <= 0 || util_now_ms() >= d->next_dial_ms)
			r = sim_store_call_claim(d->db, (int)getpid(), d->opts->queue_delay_ms, &call);
		if (r < 0)
			return -1;
		if (r == 1) {
			if (d->opts->cps > 0) {
				long long now = util_now_ms();
				d->next_dial_ms = (d->next_dial_ms > now ? d->next_dial_ms : now) +
					(1000 + d->opts->cps - 1) / d->opts->cps;
			}
			if (spawn(d, call.sid, run_call, &call) < 0) {
				sim_store_call_fail_inflight(d->db, call.sid, "the simulator could not start a player (fork failed)");
				sim_store_call_free(&call);
				return 0;
			}
			sim_store_call_free(&call);
			continue;
		}
		r = sim_store_message_claim(d->db, (int)getpid(), d->opts->queue_delay_ms, &m);
		if (r <= 0)
			return r;
		if (spawn(d, m.sid, run_message, &m) < 0) {
			sim_store_message_fail_inflight(d->db, m.sid, "the simulator could not start a player (fork failed)");
			sim_store_message_free(&m);
			return 0;
		}
		sim_store_message_free(&m);
	}
	return 0;
}

/* Stops the children still playing and fails what they played. */
static void stop_children(struct driver *d)
{
	long long deadline = util_now_ms() + DRIVER_STOP_GRACE_MS;
	for (int i = 0; i < d->nkids; i++)
		kill(d->kids[i].pid, SIGTERM);
	while (d->nkids > 0 && util_now_ms() < deadline) {
		reap(d, 0);
		poll(NULL, 0, 50);
	}
	for (int i = 0; i < d->nkids; i++)
		kill(d->kids[i].pid, SIGKILL);
	while (d->nkids > 0)
		reap(d, 1);
	/* What the children were playing when they were stopped. */
	sim_store_call_fail_inflight(d->db, NULL, "the simulator stopped during this call");
	sim_store_message_fail_inflight(d->db, NULL, "the simulator stopped while delivering this message");
}

int sim_driver_run(void *ctx)
{
	struct driver *d = xcalloc(1, sizeof(*d));
	char err[512];
	int recovered = 0, waiting_logged = 0, rc = 1;

	cli_catch_stop(SIGTERM);
	d->opts = ctx;
	if (config_load(&d->cfg, CFG_NEED_DB | CFG_NEED_TWILIO | CFG_NEED_PUBLIC_URL, err,
		    sizeof(err)) < 0) {
		log_error("driver: %s", err);
		goto out;
	}
	d->db = db_open(d->cfg.database_url);
	log_info("driver: started (time scale %g, %d calls per second%s, queue hold %ld ms)",
		d->opts->time_scale, d->opts->cps, d->opts->cps > 0 ? "" : " (no limit)",
		d->opts->queue_delay_ms);
	while (!cli_stopping()) {
		int s = ensure_session(d);
		reap(d, 0);
		if (s <= 0) {
			if (s == 0 && !waiting_logged) {
				log_warn("driver: another driver holds this database's lock; waiting");
				waiting_logged = 1;
			}
			poll(NULL, 0, 1000);
			continue;
		}
		if (!recovered) {
			/* Only the lock holder gets here, so whatever is in
			 * flight was left by a driver that is gone. */
			int nc = sim_store_call_fail_inflight(d->db, NULL,
				"the simulator's driver stopped during this call; ended as failed at restart");
			int nm = sim_store_message_fail_inflight(d->db, NULL,
				"the simulator's driver stopped while delivering this message; ended as failed at restart");
			if (nc < 0 || nm < 0) {
				poll(NULL, 0, 1000);
				continue;
			}
			if (nc > 0 || nm > 0)
				log_warn("driver: %d calls and %d messages left in flight by a dead driver ended as failed", nc, nm);
			recovered = 1;
		}
		if (start_work(d) < 0)
			poll(NULL, 0, 1000); /* the database failed: do not spin on it */
		wait_for_work(d);
	}
	log_info("driver: stopping (%d calls or messages in play)", d->nkids);
	stop_children(d);
	rc = 0;
out:
	db_close(d->db);
	free(d);
	return rc;
}

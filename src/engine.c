/* engine: one webhook, one transition, one transaction. */
#include "engine.h"
#include "actions.h"
#include "arena.h"
#include "buf.h"
#include "check.h"
#include "clock.h"
#include "db.h"
#include "flow.h"
#include "log.h"
#include "twiml.h"
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENGINE_MAX_FLOWS 32
/* An action may answer with an event that leads to another action; a
 * table can never make the engine loop for ever. */
#define ENGINE_MAX_CHAIN 8

struct engine {
	char *public_url;                       /* owned */
	struct flow *flows[ENGINE_MAX_FLOWS];   /* owned, loaded once */
	char *states[ENGINE_MAX_FLOWS];         /* owned: flows[i]'s state names, "{a,b}" */
	size_t nflows;
	struct rds *rds;                        /* engine_attach: the caller's */
	char *secret;                           /* owned */
	char *recordings_prefix;                /* owned */
	char *hold_audio;                       /* owned: the hold's recording, its URL */
};

void engine_attach(struct engine *e, struct rds *r, const char *secret,
	const char *recordings_prefix)
{
	e->rds = r;
	free(e->secret);
	free(e->recordings_prefix);
	e->secret = secret ? xstrdup(secret) : NULL;
	e->recordings_prefix = recordings_prefix ? xstrdup(recordings_prefix) : NULL;
}

/* The names of f's states as a PostgreSQL array literal, "{a,b}" (state
 * names are [a-z][a-z0-9_]*: nothing to quote).  Owned by the caller. */
static char *state_list(const struct flow *f)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "{");
	for (size_t i = 0; i < f->nstates; i++) {
		if (i)
			buf_puts(&b, ",");
		buf_puts(&b, f->states[i].name);
	}
	buf_puts(&b, "}");
	return b.data;
}

struct engine *engine_new(const char *root, const char *public_url, char *err, size_t errlen)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	char *dir = xasprintf("%s/state_tables", root);
	DIR *d = opendir(dir);
	struct dirent *de;
	int ok = 0;

	e->public_url = xstrdup(public_url);
	e->hold_audio = xasprintf("%s/audio/%s", root, ENGINE_HOLD_AUDIO);
	if (access(e->hold_audio, R_OK) != 0) {
		snprintf(err, errlen, "%s is missing (`make audio` makes it from its .txt)",
			e->hold_audio);
		goto out;
	}
	free(e->hold_audio);
	e->hold_audio = xasprintf("%s/audio/%s", public_url, ENGINE_HOLD_AUDIO);
	if (d == NULL) {
		snprintf(err, errlen, "cannot open %s (set RINGFENCE_ROOT to the directory holding state_tables/)", dir);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		struct flow_diag diag = { NULL, 0 };
		struct flow *f;
		if (!flow_dir_is_flow(de->d_name))
			continue;
		if (e->nflows == ENGINE_MAX_FLOWS) {
			snprintf(err, errlen, "more than %d flows in %s", ENGINE_MAX_FLOWS, dir);
			goto out;
		}
		f = flow_load(root, de->d_name, &diag);
		if (f != NULL)
			check_flow(f, root, 0, &diag);
		if (f == NULL || diag.n > 0) {
			snprintf(err, errlen, "flow %s does not pass ringfence check: %s", de->d_name,
				diag.n ? diag.msgs[0] : "cannot load");
			flow_diag_free(&diag);
			flow_free(f);
			goto out;
		}
		flow_diag_free(&diag);
		e->states[e->nflows] = state_list(f);
		e->flows[e->nflows++] = f;
	}
	if (e->nflows == 0) {
		snprintf(err, errlen, "no flows in %s", dir);
		goto out;
	}
	ok = 1;
out:
	if (d)
		closedir(d);
	free(dir);
	if (!ok) {
		engine_free(e);
		return NULL;
	}
	return e;
}

void engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->nflows; i++) {
		flow_free(e->flows[i]);
		free(e->states[i]);
	}
	free(e->public_url);
	free(e->secret);
	free(e->recordings_prefix);
	free(e->hold_audio);
	free(e);
}

const char *engine_recordings_prefix(const struct engine *e)
{
	return e->recordings_prefix;
}

const struct flow *engine_flow(const struct engine *e, const char *name)
{
	for (size_t i = 0; i < e->nflows; i++)
		if (strcmp(e->flows[i]->name, name) == 0)
			return e->flows[i];
	return NULL;
}

/* The call row and the allow-listed fields its templates may speak, as
 * rf_voice_step (sql/025_voice_step.sql) returns them after its first
 * column.  The date and time are formatted in the client's time zone
 * (else the business's) by PostgreSQL, which has the tz database.  An
 * inbound call has no business until a task code binds one. */
enum { C_ID, C_TOKEN, C_SID, C_BUSINESS, C_APPT, C_FLOW, C_STATE, C_SEQ, C_BNAME,
	C_CALLBACK, C_DATE, C_TIME, C_DIRECTION, C_CALLER, C_CALLED, C_GREETING, C_NCOLS };

/* rf_voice_step's columns: what it did, the call, this call's take. */
enum { S_OUTCOME, S_ROW, S_TAKE = S_ROW + C_NCOLS, S_NCOLS };

/* One round trip: lock the call (by token, else by CallSid; the first
 * request of an inbound call makes its row), bind the CallSid, decide
 * whether the webhook is for the call's current state and sequence
 * number, take the transition when it is, read what the TwiML needs. */
#define STEP_SQL "SELECT * FROM rf_voice_step($1, $2, $3, $4::text[], $5, $6::integer, $7, $8," \
	" $9, $10::boolean, $11, $12, $13, $14, $15)"
enum { P_TOKEN, P_SID, P_FLOW, P_STATES, P_STATE, P_SEQ, P_INPUT, P_TO, P_DIGITS, P_ACT,
	P_CALL_STATUS, P_ANSWERED_BY, P_NEW_TOKEN, P_CALLER, P_CALLED, P_N };

struct call_row {
	const char *v[C_NCOLS]; /* copied into the request arena; NULL for SQL NULL */
};

#define EVENT_SQL "INSERT INTO call_events (call_id, seq, from_state, input, to_state, action," \
	" digits) VALUES ($1, $2, $3, $4, $5, $6, $7)"
#define ADVANCE_SQL "UPDATE calls SET state = $2, seq = $3, updated_at = now()," \
	" call_status = COALESCE($4, call_status), answered_by = COALESCE($5, answered_by)" \
	" WHERE id = $1"
/* The latest recording this call made, for its playback. */
#define TAKE_SQL "SELECT recording_url FROM greeting_takes WHERE call_id = $1::bigint" \
	" ORDER BY take DESC LIMIT 1"

/* What the webhook's URL says: the state and sequence number it was
 * rendered for (a call's first request: the start state and 0; -1 when
 * the URL has no n=, which is never the call's) and the input it brings
 * there: a key, "timeout", "other", "recorded", "machine", or NULL when
 * it brings none (the first request of a call answered by a person). */
static const char *url_input(const struct engine_input *in, const struct flow *f,
	const char **state, long long *seq)
{
	if (in->state == NULL) {
		/* The call's first request.  Twilio's answering-machine
		 * detection may say it is a machine; the flow never depends
		 * on it, but uses it when given. */
		*state = f->states[f->start].name;
		*seq = 0;
		if (in->answered_by && (strncmp(in->answered_by, "machine", 7) == 0 ||
					  strcmp(in->answered_by, "fax") == 0))
			return "machine";
		return NULL;
	}
	*state = in->state;
	*seq = in->seq < 0 ? -1 : in->seq;
	/* A <Record>'s action: what was pressed only ended the recording. */
	if (in->recording_url != NULL)
		return "recorded";
	if (in->digits == NULL || in->digits[0] == '\0')
		return "timeout";
	if (in->digits[1] == '\0' && flow_is_key(in->digits))
		return in->digits;
	return "other";
}

/* Copies rf_voice_step's row from res into v[0..S_NCOLS) (arena a).  1,
 * or 0 when res is not one such row. */
static int step_copy(PGresult *res, struct arena *a, const char **v)
{
	if (res == NULL || PQntuples(res) != 1 || PQnfields(res) != S_NCOLS)
		return 0;
	for (int i = 0; i < S_NCOLS; i++)
		v[i] = PQgetisnull(res, 0, i) ? NULL : arena_strdup(a, PQgetvalue(res, 0, i));
	return 1;
}

/* The step in the transaction an action's transition needs: BEGIN and
 * rf_voice_step in one round trip; the transaction stays open (failed
 * when the step failed: the caller rolls back).  As db_row_prepared. */
static int step_begin(struct db *db, struct arena *a, const char *const *p, const char **v)
{
	PGresult *res[2];
	int found;

	if (db_pipe_begin(db) < 0)
		return -1;
	db_pipe_send(db, NULL, "BEGIN", 0, NULL);
	db_pipe_send(db, "engine_step", STEP_SQL, P_N, p);
	if (db_pipe_run(db, res, 2) < 0)
		return -1;
	found = step_copy(res[1], a, v);
	PQclear(res[0]);
	PQclear(res[1]);
	return found;
}

/* A transition taken in an action's transaction, written when the
 * actions are done. */
struct event {
	const char *from, *on, *to, *action, *digits;
};

/* Writes the events ev[0..n) (the call's sequence numbers after seq0),
 * moves the call to state at seq, reads this call's latest take (inbound
 * calls: into *take) and commits: one round trip.  0 or -1 (the
 * transaction is then left for db_rollback). */
static int step_finish(struct db *db, struct arena *a, const struct engine_input *in,
	const struct call_row *row, int seq0, const struct event *ev, int n, const char *state,
	int seq, const char **take)
{
	PGresult *res[DB_PIPE_MAX];
	int inbound = strcmp(row->v[C_DIRECTION], "inbound") == 0, nres = 0, rc;

	if (db_pipe_begin(db) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const char *p[7] = { row->v[C_ID], arena_printf(a, "%d", seq0 + 1 + i), ev[i].from,
			ev[i].on, ev[i].to, ev[i].action, ev[i].digits };
		db_pipe_send(db, "engine_event", EVENT_SQL, 7, p);
		nres++;
	}
	{
		const char *p[5] = { row->v[C_ID], state, arena_printf(a, "%d", seq),
			in->call_status, in->answered_by };
		db_pipe_send(db, "engine_advance", ADVANCE_SQL, 5, p);
		nres++;
	}
	if (inbound) {
		const char *p[1] = { row->v[C_ID] };
		db_pipe_send(db, "engine_call_take", TAKE_SQL, 1, p);
		nres++;
	}
	db_pipe_send(db, NULL, "COMMIT", 0, NULL);
	nres++;
	rc = db_pipe_run(db, res, nres);
	if (rc == 0 && inbound && PQntuples(res[nres - 2]) == 1)
		*take = arena_strdup(a, PQgetvalue(res[nres - 2], 0, 0));
	for (int i = 0; i < nres; i++)
		if (res[i])
			PQclear(res[i]);
	return rc;
}

/* Renders state of flow f (its template compiled when the flow was
 * loaded; no libxml2 here) into out with the allow-listed field values
 * v[0..4) (business name, date, time, callback number; NULL: the call has
 * none), the recordings rec[0..2) (the business's greeting, this call's
 * take; NULL: none) and Gather actions for token and seq; 0 or -1. */
static int render_values(struct engine *e, struct arena *a, const struct flow *f, int state,
	const char *const v[4], const char *const rec[2], const char *token, int seq,
	struct buf *out)
{
	const struct flow_state *st = &f->states[state];
	/* twiml_fields' own pointers: twiml_run matches them without a
	 * string compare. */
	struct twiml_var vars[] = {
		{ twiml_fields[0], v[0] },
		{ twiml_fields[1], v[1] },
		{ twiml_fields[2], v[2] },
		{ twiml_fields[3], v[3] },
	};
	struct twiml_render_opts opts;
	size_t nvars = 0, action, audio, callback;
	struct twiml_var present[ARRAY_LEN(vars)];
	char digits[16];
	int nd = 0;
	struct buf u;

	/* A field the call does not have (no appointment) is left out, so a
	 * template that needs it fails to render rather than saying "". */
	for (size_t i = 0; i < ARRAY_LEN(vars); i++)
		if (vars[i].value)
			present[nvars++] = vars[i];
	/* The engine's URLs, one after the other in one arena buffer (no
	 * printf on the request path): the Gather action, the state's audio
	 * base and the recording status callback. */
	for (unsigned n = seq < 0 ? 0u - (unsigned)seq : (unsigned)seq; nd == 0 || n > 0; n /= 10)
		digits[sizeof(digits) - 1 - nd++] = (char)('0' + n % 10);
	if (seq < 0)
		digits[sizeof(digits) - 1 - nd++] = '-';
	buf_init_arena(&u, a);
	action = u.len;
	buf_puts(&u, e->public_url);
	buf_puts(&u, "/twilio/voice/");
	buf_puts(&u, f->name);
	buf_puts(&u, "?c=");
	buf_puts(&u, token);
	buf_puts(&u, "&s=");
	buf_puts(&u, st->name);
	buf_puts(&u, "&n=");
	buf_append(&u, digits + sizeof(digits) - nd, (size_t)nd);
	buf_append(&u, "", 1);
	audio = u.len;
	buf_puts(&u, e->public_url);
	buf_puts(&u, "/audio/");
	buf_puts(&u, f->name);
	buf_puts(&u, "/");
	buf_puts(&u, st->name);
	buf_append(&u, "", 1);
	callback = u.len;
	buf_puts(&u, e->public_url);
	buf_puts(&u, "/twilio/status/recording");
	opts.vars = present;
	opts.nvars = nvars;
	opts.gather_action = u.data + action;
	opts.audio_base = u.data + audio;
	opts.greeting_url = rec[0];
	opts.this_call_url = rec[1];
	opts.recording_callback = u.data + callback;
	return twiml_run(st->prog, &opts, out);
}

/* Renders state of flow f for the call in row into out; 0 or -1. */
static int render_state(struct engine *e, struct arena *a, const struct flow *f, int state,
	const struct call_row *row, const char *take_url, int seq, struct buf *out)
{
	const char *const v[4] = { row->v[C_BNAME], row->v[C_DATE], row->v[C_TIME],
		row->v[C_CALLBACK] };
	const char *const rec[2] = { row->v[C_GREETING], take_url };

	return render_values(e, a, f, state, v, rec, row->v[C_TOKEN], seq, out);
}

int engine_render_preview(struct engine *e, struct arena *a, const char *flow,
	const char *state, const char *const values[4], struct buf *out)
{
	const struct flow *f = engine_flow(e, flow);
	int i = f ? flow_state_index(f, state) : -1;

	const char *const rec[2] = { NULL, NULL };

	if (i < 0)
		return -1;
	return render_values(e, a, f, i, values, rec, "00000000000000000000000000000000", 0, out);
}

/* Takes the transition t (which runs an action) from state in the
 * transaction step_begin opened, and any the action's events lead to:
 * the actions run, then step_finish.  0, or -1 with err (the caller
 * rolls back). */
static int run_actions(struct engine *e, struct db *db, struct arena *a, const struct flow *f,
	const struct engine_input *in, struct call_row *row, const struct flow_transition *t,
	const char *input, int *state, int *seq, const char **take, struct engine_outcome *oc,
	char *err, size_t errlen)
{
	struct event ev[ENGINE_MAX_CHAIN];
	const char *on = input;
	int hops = 0, seq0 = *seq;

	for (; t != NULL; hops++) {
		const char *event = NULL;
		if (hops == ENGINE_MAX_CHAIN) {
			snprintf(err, errlen, "action events chain too long");
			return -1;
		}
		if (t->action) {
			const struct action_def *ad = actions_find(t->action);
			struct action_ctx ctx = { .db = db, .arena = a, .call_id = row->v[C_ID],
				.business_id = row->v[C_BUSINESS], .appointment_id = row->v[C_APPT],
				.digits = in->digits ? in->digits : "", .rds = e->rds,
				.secret = e->secret, .recordings_prefix = e->recordings_prefix,
				.now_s = clock_now_s(), .caller = row->v[C_CALLER],
				.called = row->v[C_CALLED], .recording_url = in->recording_url,
				.recording_sid = in->recording_sid,
				.recording_duration = in->recording_duration };
			if (ad == NULL || ad->fn(&ctx, &event) < 0) {
				snprintf(err, errlen, "action %s failed", t->action);
				return -1;
			}
			if (ctx.bound_business_id)
				row->v[C_BUSINESS] = ctx.bound_business_id;
			oc->action = t->action;
		}
		ev[hops] = (struct event){ f->states[*state].name, on, f->states[t->to].name,
			t->action, hops == 0 ? in->digits : NULL };
		*state = t->to;
		if (event == NULL) {
			hops++;
			break;
		}
		on = event;
		t = flow_next(f, *state, event);
		if (t == NULL) {
			snprintf(err, errlen, "no transition from %s on event %s",
				f->states[*state].name, event);
			return -1;
		}
	}
	*seq = seq0 + hops;
	if (step_finish(db, a, in, row, seq0, ev, hops, f->states[*state].name, *seq, take) < 0) {
		snprintf(err, errlen, "cannot record the transition: %s", db_last_error(db));
		return -1;
	}
	oc->input = input;
	return 0;
}

/* Whether to hold the call: 1 when the last statement on db failed (even
 * after its re-run) because PostgreSQL could not be reached or cannot
 * take a write: the connection broke or is gone (class
 * 08; db.c says 08006 for a result libpq never got), the server is
 * shutting down or not yet accepting (57P01..57P03), or it is a standby
 * (25006, a read-only transaction).  Not a constraint, lock or logic
 * error: those are answered with the apology, never held. */
static int db_unreachable(struct db *db)
{
	static const char *const states[] = { "57P01", "57P02", "57P03", "25006" };
	const char *st = db_last_sqlstate(db);
	PGconn *c = db_pgconn(db);

	if (c == NULL || PQstatus(c) != CONNECTION_OK || strncmp(st, "08", 2) == 0)
		return 1;
	for (size_t i = 0; i < ARRAY_LEN(states); i++)
		if (strcmp(st, states[i]) == 0)
			return 1;
	return 0;
}

/* Appends to out the hold document for in (the webhook of flow f that
 * could not reach PostgreSQL): the same URL with hold=in->hold+1 and the
 * request's Digits as digits= (escaped: '#' and '*' are not left bare
 * in a query).  The token and state are validated names: nothing there
 * needs escaping. */
static void render_hold(struct engine *e, struct arena *a, const struct flow *f,
	const struct engine_input *in, struct buf *out)
{
	struct buf u;

	buf_init_arena(&u, a);
	buf_printf(&u, "%s/twilio/voice/%s?", e->public_url, f->name);
	if (in->token)
		buf_printf(&u, "c=%s&", in->token);
	if (in->state)
		buf_printf(&u, "s=%s&", in->state);
	if (in->seq >= 0)
		buf_printf(&u, "n=%lld&", in->seq);
	buf_printf(&u, "hold=%d", in->hold + 1);
	if (in->digits && in->digits[0]) {
		buf_puts(&u, "&digits=");
		for (const char *d = in->digits; *d; d++)
			if (*d == '#')
				buf_puts(&u, "%23");
			else if (*d == '*')
				buf_puts(&u, "%2A");
			else
				buf_append(&u, d, 1);
	}
	twiml_hold(out, e->hold_audio, ENGINE_HOLD_PAUSE_S, buf_str(&u));
}

int engine_handle(struct engine *e, struct db *db, struct arena *a,
	const struct engine_input *in, struct buf *out, struct engine_outcome *oc, char *err,
	size_t errlen)
{
	const struct flow *f = NULL;
	const struct flow_transition *t = NULL;
	struct call_row row;
	const char *v[S_NCOLS], *p[P_N] = { NULL }, *input, *url_state, *outcome;
	const char *take_url;
	long long url_seq;
	int state, seq, found, from, act;
	size_t mark = out->len, fi;

	memset(oc, 0, sizeof(*oc));
	for (fi = 0; fi < e->nflows && f == NULL; fi++)
		if (strcmp(e->flows[fi]->name, in->flow) == 0)
			f = e->flows[fi];
	if (f == NULL) {
		snprintf(err, errlen, "no such flow");
		goto fail;
	}
	if (in->digits && strcmp(in->digits, ENGINE_DIGITS_HANGUP) == 0 &&
		in->recording_url == NULL) {
		snprintf(err, errlen, "Digits=hangup outside a <Record>'s action");
		goto fail;
	}
	/* The flow's table decides, from what the URL says; the statement
	 * takes the transition only while the call is still where the URL
	 * was rendered. */
	input = url_input(in, f, &url_state, &url_seq);
	from = flow_state_index(f, url_state);
	if (input && from >= 0)
		t = flow_next(f, from, input);
	act = t && t->action;
	p[P_TOKEN] = in->token;
	p[P_SID] = in->call_sid;
	p[P_FLOW] = f->name;
	p[P_STATES] = e->states[fi - 1];
	p[P_STATE] = url_state;
	p[P_SEQ] = arena_printf(a, "%lld", url_seq);
	if (t && !act) {
		p[P_INPUT] = input;
		p[P_TO] = f->states[t->to].name;
		p[P_DIGITS] = in->digits;
	}
	p[P_ACT] = act ? "true" : "false";
	p[P_CALL_STATUS] = in->call_status;
	p[P_ANSWERED_BY] = in->answered_by;
	if (in->token == NULL && in->state == NULL && strcmp(f->name, ENGINE_INBOUND_FLOW) == 0 &&
		in->direction && strcmp(in->direction, "inbound") == 0 && in->from && in->to) {
		/* The first request of a call to a business's number: its row
		 * is made (no business yet, a fresh token for its action URLs)
		 * unless a retry of the same request already did. */
		unsigned char raw[16];
		char *token = arena_alloc(a, 33);
		if (util_random(raw, sizeof(raw)) < 0) {
			snprintf(err, errlen, "cannot make the inbound call: no randomness");
			goto fail;
		}
		util_hex(raw, sizeof(raw), token);
		p[P_NEW_TOKEN] = token;
		p[P_CALLER] = in->from;
		p[P_CALLED] = in->to;
	}
	/* When the connection broke under the step it is run once more on a
	 * new one (db.h's db_row_retry; db_conn_lost for an action's BEGIN
	 * pipeline): harmless, for a step that did land is now a replay (the
	 * call is no longer where the URL was rendered), and an action's
	 * step ran in a transaction that never committed. */
	if (act) {
		found = step_begin(db, a, p, v);
		if (found < 0 && db_conn_lost(db)) {
			db_rollback(db);
			found = step_begin(db, a, p, v);
		}
	} else {
		found = db_row_retry(db, a, "engine_step", STEP_SQL, P_N, p, S_NCOLS, v);
	}
	if (found < 0 && db_unreachable(db) && in->recording_url == NULL) {
		db_rollback(db);
		if (in->hold >= ENGINE_HOLD_MAX) {
			snprintf(err, errlen, "database unreachable after %d holds: %s",
				ENGINE_HOLD_MAX, db_last_error(db));
			oc->hold_exhausted = 1;
			goto fail;
		}
		snprintf(err, errlen, "database unreachable, call held (%d of %d): %s",
			in->hold + 1, ENGINE_HOLD_MAX, db_last_error(db));
		oc->hold = in->hold + 1;
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
		render_hold(e, a, f, in, out);
		return 1;
	}
	if (found <= 0) {
		snprintf(err, errlen, "database error reading the call: %s",
			found < 0 ? db_last_error(db) : "no step");
		goto rollback;
	}
	outcome = v[S_OUTCOME];
	if (strcmp(outcome, "unknown") == 0) {
		snprintf(err, errlen, "%s", in->token ? "unknown call token" : "unknown CallSid");
		goto rollback;
	}
	memcpy(row.v, &v[S_ROW], sizeof(row.v));
	take_url = v[S_TAKE];
	oc->call_id = row.v[C_ID];
	oc->business_id = row.v[C_BUSINESS];
	oc->state_before = row.v[C_STATE];
	oc->state_after = row.v[C_STATE];
	state = flow_state_index(f, row.v[C_STATE]);
	seq = atoi(row.v[C_SEQ]);
	if (strcmp(outcome, "flow") == 0) {
		snprintf(err, errlen, "webhook flow does not match the call's flow");
		goto rollback;
	}
	if (strcmp(outcome, "sid") == 0) {
		/* A signed request for someone else's call token. */
		snprintf(err, errlen, "CallSid does not match the call");
		goto rollback;
	}
	if (strcmp(outcome, "state") == 0 || state < 0) {
		snprintf(err, errlen, "call is in a state its flow does not have");
		goto rollback;
	}
	if (strcmp(outcome, "moved") == 0) {
		/* The statement took t: the row is after it already. */
		oc->state_before = f->states[from].name;
		oc->input = input;
	} else if (strcmp(outcome, "act") == 0) {
		if (run_actions(e, db, a, f, in, &row, t, input, &state, &seq, &take_url, oc, err,
			    errlen) < 0)
			goto rollback;
	} else {
		oc->replay = strcmp(outcome, "replay") == 0;
		if (act && db_commit(db) < 0) {
			snprintf(err, errlen, "commit failed: %s", db_last_error(db));
			goto fail;
		}
	}
	oc->business_id = row.v[C_BUSINESS];
	oc->state_after = f->states[state].name;
	if (render_state(e, a, f, state, &row, take_url, seq, out) < 0) {
		snprintf(err, errlen, "cannot render state %s", f->states[state].name);
		goto fail;
	}
	return 0;
rollback:
	db_rollback(db);
fail:
	out->len = mark;
	if (out->data)
		out->data[mark] = '\0';
	twiml_apology(out);
	return -1;
}

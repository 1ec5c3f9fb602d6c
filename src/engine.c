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

#define ENGINE_MAX_FLOWS 32
/* An action may answer with an event that leads to another action; a
 * table can never make the engine loop for ever. */
#define ENGINE_MAX_CHAIN 8

struct engine {
	char *public_url;                       /* owned */
	struct flow *flows[ENGINE_MAX_FLOWS];   /* owned, loaded once */
	size_t nflows;
	struct rds *rds;                        /* engine_attach: the caller's */
	char *secret;                           /* owned */
	char *recordings_prefix;                /* owned */
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

struct engine *engine_new(const char *root, const char *public_url, char *err, size_t errlen)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	char *dir = xasprintf("%s/state_tables", root);
	DIR *d = opendir(dir);
	struct dirent *de;
	int ok = 0;

	e->public_url = xstrdup(public_url);
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
	for (size_t i = 0; i < e->nflows; i++)
		flow_free(e->flows[i]);
	free(e->public_url);
	free(e->secret);
	free(e->recordings_prefix);
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

/* The call row and the allow-listed fields its templates may speak.  The
 * date and time are formatted in the client's time zone (else the
 * business's) by PostgreSQL, which has the tz database.  An inbound call
 * has no business until a task code binds one. */
#define CALL_COLUMNS \
	"SELECT c.id, c.token, c.call_sid, c.business_id, c.appointment_id, c.flow," \
	" c.state, c.seq, b.name, b.callback_phone," \
	" to_char(a.starts_at AT TIME ZONE COALESCE(cl.time_zone, b.time_zone), 'FMDay, FMMonth FMDD')," \
	" to_char(a.starts_at AT TIME ZONE COALESCE(cl.time_zone, b.time_zone), 'FMHH12:MI AM')," \
	" c.direction, c.caller, c.called," \
	" (SELECT g.recording_url FROM greeting_takes g WHERE g.id = b.greeting_take_id)" \
	" FROM calls c LEFT JOIN businesses b ON b.id = c.business_id" \
	" LEFT JOIN appointments a ON a.id = c.appointment_id AND a.business_id = c.business_id" \
	" LEFT JOIN clients cl ON cl.id = a.client_id"

enum { C_ID, C_TOKEN, C_SID, C_BUSINESS, C_APPT, C_FLOW, C_STATE, C_SEQ, C_BNAME,
	C_CALLBACK, C_DATE, C_TIME, C_DIRECTION, C_CALLER, C_CALLED, C_GREETING, C_NCOLS };

struct call_row {
	const char *v[C_NCOLS]; /* copied into the request arena; NULL for SQL NULL */
};

/* Locks and reads the call: by token when the URL carries one (the first
 * webhook of a call arrives before ringfence can know its CallSid), else
 * by CallSid.  Returns 1 found, 0 not found, -1 database error. */
static int call_lock(struct db *db, struct arena *a, const char *token, const char *call_sid,
	struct call_row *row)
{
	const char *param[1] = { token ? token : call_sid };

	if (token)
		return db_row_prepared(db, a, "engine_call_by_token",
			CALL_COLUMNS " WHERE c.token = $1 FOR UPDATE OF c", 1, param, C_NCOLS, row->v);
	return db_row_prepared(db, a, "engine_call_by_sid",
		CALL_COLUMNS " WHERE c.call_sid = $1 FOR UPDATE OF c", 1, param, C_NCOLS, row->v);
}

/* The first request of a call to a business's number: makes its row (no
 * business yet, a fresh token for its action URLs), unless a retry of
 * the same request already did.  0 or -1. */
static int call_create_inbound(struct db *db, struct arena *a, const struct flow *f,
	const struct engine_input *in)
{
	unsigned char raw[16];
	char *token = arena_alloc(a, 33);
	const char *p[5];

	if (util_random(raw, sizeof(raw)) < 0)
		return -1;
	util_hex(raw, sizeof(raw), token);
	p[0] = token;
	p[1] = in->call_sid;
	p[2] = f->states[f->start].name;
	p[3] = in->from;
	p[4] = in->to;
	return db_cmd_prepared(db, "engine_inbound_call",
		"INSERT INTO calls (token, call_sid, direction, flow, state, seq, caller, called)"
		" VALUES ($1, $2, 'inbound', '" ENGINE_INBOUND_FLOW "', $3, 0, $4, $5)"
		" ON CONFLICT (call_sid) DO NOTHING", 5, p);
}

/* The latest recording this call made, for its playback, or NULL. */
static const char *call_take_url(struct db *db, struct arena *a, const char *call_id)
{
	const char *p[1] = { call_id }, *v[1] = { NULL };

	if (db_row_prepared(db, a, "engine_call_take",
		    "SELECT recording_url FROM greeting_takes WHERE call_id = $1::bigint"
		    " ORDER BY take DESC LIMIT 1", 1, p, 1, v) != 1)
		return NULL;
	return v[0];
}

static int record_event(struct db *db, struct arena *a, const char *call_id, int seq,
	const char *from, const char *input, const char *to, const char *action, const char *digits)
{
	const char *p[7] = { call_id, arena_printf(a, "%d", seq), from, input, to, action, digits };
	return db_cmd_prepared(db, "engine_event",
		"INSERT INTO call_events (call_id, seq, from_state, input, to_state, action, digits)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, p);
}

/* What input this webhook brings: a key, "timeout", "machine", or NULL
 * when it brings none (the first request of a call answered by a
 * person, or a replay). */
static const char *decide_input(const struct engine_input *in, const struct flow *f,
	const struct call_row *row, int seq, int *replay)
{
	*replay = 0;
	if (in->state == NULL) {
		/* The call's first request.  Twilio's answering-machine
		 * detection may say it is a machine; the flow never depends
		 * on it, but uses it when given. */
		if (seq != 0 || strcmp(row->v[C_STATE], f->states[f->start].name) != 0) {
			*replay = 1;
			return NULL;
		}
		if (in->answered_by && (strncmp(in->answered_by, "machine", 7) == 0 ||
					  strcmp(in->answered_by, "fax") == 0))
			return "machine";
		return NULL;
	}
	if (in->seq < 0 || strcmp(in->state, row->v[C_STATE]) != 0 || in->seq != seq) {
		*replay = 1;
		return NULL;
	}
	/* A <Record>'s action: what was pressed only ended the recording. */
	if (in->recording_url != NULL)
		return "recorded";
	if (in->digits == NULL || in->digits[0] == '\0')
		return "timeout";
	if (in->digits[1] == '\0' && flow_is_key(in->digits))
		return in->digits;
	return "other";
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

int engine_handle(struct engine *e, struct db *db, struct arena *a,
	const struct engine_input *in, struct buf *out, struct engine_outcome *oc, char *err,
	size_t errlen)
{
	const struct flow *f;
	struct call_row row;
	int state, seq, found, replay, rc = -1;
	const char *input, *take_url = NULL;
	size_t mark = out->len;

	memset(oc, 0, sizeof(*oc));
	f = engine_flow(e, in->flow);
	if (f == NULL) {
		snprintf(err, errlen, "no such flow");
		goto fail;
	}
	if (db_begin(db) < 0) {
		snprintf(err, errlen, "database unavailable: %s", db_last_error(db));
		goto fail;
	}
	found = call_lock(db, a, in->token, in->call_sid, &row);
	if (found == 0 && in->token == NULL && in->state == NULL &&
		strcmp(f->name, ENGINE_INBOUND_FLOW) == 0 && in->direction &&
		strcmp(in->direction, "inbound") == 0 && in->from && in->to) {
		if (call_create_inbound(db, a, f, in) < 0) {
			snprintf(err, errlen, "cannot make the inbound call: %s", db_last_error(db));
			goto rollback;
		}
		found = call_lock(db, a, NULL, in->call_sid, &row);
	}
	if (found < 0) {
		snprintf(err, errlen, "database error reading the call: %s", db_last_error(db));
		goto rollback;
	}
	if (found == 0) {
		snprintf(err, errlen, "%s", in->token ? "unknown call token" : "unknown CallSid");
		goto rollback;
	}
	oc->call_id = row.v[C_ID];
	oc->business_id = row.v[C_BUSINESS];
	oc->state_before = row.v[C_STATE];
	oc->state_after = row.v[C_STATE];
	if (strcmp(row.v[C_FLOW], f->name) != 0) {
		snprintf(err, errlen, "webhook flow does not match the call's flow");
		goto rollback;
	}
	if (row.v[C_SID] == NULL) {
		const char *p[2] = { row.v[C_ID], in->call_sid };
		if (db_cmd_prepared(db, "engine_bind_sid",
			    "UPDATE calls SET call_sid = $2, updated_at = now() WHERE id = $1", 2, p) < 0) {
			snprintf(err, errlen, "cannot bind CallSid: %s", db_last_error(db));
			goto rollback;
		}
	} else if (strcmp(row.v[C_SID], in->call_sid) != 0) {
		/* A signed request for someone else's call token. */
		snprintf(err, errlen, "CallSid does not match the call");
		goto rollback;
	}
	state = flow_state_index(f, row.v[C_STATE]);
	seq = atoi(row.v[C_SEQ]);
	if (state < 0) {
		snprintf(err, errlen, "call is in a state its flow does not have");
		goto rollback;
	}
	if (in->digits && strcmp(in->digits, ENGINE_DIGITS_HANGUP) == 0 &&
		in->recording_url == NULL) {
		snprintf(err, errlen, "Digits=hangup outside a <Record>'s action");
		goto rollback;
	}
	input = decide_input(in, f, &row, seq, &replay);
	oc->replay = replay;
	if (input) {
		const struct flow_transition *t = flow_next(f, state, input);
		const char *on = input;
		for (int hops = 0; t != NULL; hops++) {
			const char *event = NULL;
			const char *from = f->states[state].name;
			if (hops == ENGINE_MAX_CHAIN) {
				snprintf(err, errlen, "action events chain too long");
				goto rollback;
			}
			if (t->action) {
				const struct action_def *ad = actions_find(t->action);
				struct action_ctx ctx = { .db = db, .arena = a, .call_id = row.v[C_ID],
					.business_id = row.v[C_BUSINESS], .appointment_id = row.v[C_APPT],
					.digits = in->digits ? in->digits : "", .rds = e->rds,
					.secret = e->secret, .recordings_prefix = e->recordings_prefix,
					.now_s = clock_now_s(), .caller = row.v[C_CALLER],
					.called = row.v[C_CALLED], .recording_url = in->recording_url,
					.recording_sid = in->recording_sid,
					.recording_duration = in->recording_duration };
				if (ad == NULL || ad->fn(&ctx, &event) < 0) {
					snprintf(err, errlen, "action %s failed", t->action);
					goto rollback;
				}
				if (ctx.bound_business_id)
					row.v[C_BUSINESS] = ctx.bound_business_id;
				oc->action = t->action;
			}
			seq++;
			if (record_event(db, a, row.v[C_ID], seq, from, on, f->states[t->to].name,
				    t->action, hops == 0 ? in->digits : NULL) < 0) {
				snprintf(err, errlen, "cannot record the transition: %s", db_last_error(db));
				goto rollback;
			}
			if (oc->input == NULL)
				oc->input = input;
			state = t->to;
			if (event == NULL)
				break;
			on = event;
			t = flow_next(f, state, event);
			if (t == NULL) {
				snprintf(err, errlen, "no transition from %s on event %s",
					f->states[state].name, event);
				goto rollback;
			}
		}
		if (oc->input) {
			const char *p[5] = { row.v[C_ID], f->states[state].name,
				arena_printf(a, "%d", seq), in->call_status, in->answered_by };
			if (db_cmd_prepared(db, "engine_advance",
				    "UPDATE calls SET state = $2, seq = $3, updated_at = now(),"
				    " call_status = COALESCE($4, call_status),"
				    " answered_by = COALESCE($5, answered_by) WHERE id = $1", 5, p) < 0) {
				snprintf(err, errlen, "cannot save the call state: %s", db_last_error(db));
				goto rollback;
			}
		}
	}
	/* This call's own recording, for a state that plays it back. */
	if (strcmp(row.v[C_DIRECTION], "inbound") == 0)
		take_url = call_take_url(db, a, row.v[C_ID]);
	if (db_commit(db) < 0) {
		snprintf(err, errlen, "commit failed: %s", db_last_error(db));
		goto fail;
	}
	oc->business_id = row.v[C_BUSINESS];
	oc->state_after = f->states[state].name;
	if (render_state(e, a, f, state, &row, take_url, seq, out) < 0) {
		snprintf(err, errlen, "cannot render state %s", f->states[state].name);
		goto fail;
	}
	rc = 0;
	goto done;
rollback:
	db_rollback(db);
fail:
	out->len = mark;
	if (out->data)
		out->data[mark] = '\0';
	twiml_apology(out);
done:
	return rc;
}

/* sms: inbound texts and opt-out keywords. */
#include "sms.h"
#include "actions.h"
#include "app.h"
#include "arena.h"
#include "buf.h"
#include "engine.h"
#include "flow.h"
#include "form.h"
#include "http.h"
#include "inbox.h"
#include "log.h"
#include "db.h"
#include "metrics.h"
#include "valid.h"
#include "wording.h"

/* The flow that answers texts, and how many action events one text may
 * chain (a table can never make a text loop for ever). */
#define SMS_FLOW "reminder_sms"
#define SMS_MAX_CHAIN 8
/* What a text nobody can be answered for does. */
#define SMS_NOBODY "no business texting from that number knows this phone: no reply"

#include <ctype.h>
#include <stdio.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The whole message as one word in word (size bytes), surrounding white
 * space dropped; "" when it is empty, longer than a keyword or more than
 * one word. */
static void one_word(const char *body, char *word, size_t size)
{
	size_t n = 0;

	while (isspace((unsigned char)*body))
		body++;
	while (*body && n + 1 < size && !isspace((unsigned char)*body))
		word[n++] = *body++;
	word[n] = '\0';
	while (isspace((unsigned char)*body))
		body++;
	if (*body)
		word[0] = '\0';
}

/* Whether word is in the NULL-terminated list, ignoring case. */
static int word_in(const char *word, const char *const *list)
{
	for (int i = 0; list[i]; i++)
		if (strcasecmp(word, list[i]) == 0)
			return 1;
	return 0;
}

/* Twilio's default opt-out keywords for long codes (its Advanced
 * Opt-Out page): REVOKE and OPTOUT joined the older six. */
static const char *const opt_out_words[] = { "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END",
	"QUIT", "REVOKE", "OPTOUT", NULL };

int sms_opt_keyword(const char *body)
{
	static const char *const in[] = { "START", "YES", "UNSTOP", NULL };
	char word[16];

	one_word(body, word, sizeof(word));
	if (word_in(word, opt_out_words))
		return 1;
	if (word_in(word, in))
		return -1;
	return 0;
}

const char *sms_classify(const char *body, const char *opt_out_type)
{
	static const char *const start[] = { "START", "UNSTOP", NULL };
	static const char *const help[] = { "HELP", "INFO", NULL };
	static const char *const digits[] = { "1", "2", "3", "4", NULL };
	char word[16];

	one_word(body ? body : "", word, sizeof(word));
	if ((opt_out_type && strcmp(opt_out_type, "STOP") == 0) || word_in(word, opt_out_words))
		return "stop";
	if (strcasecmp(word, "YES") == 0)
		return "yes";
	if ((opt_out_type && strcmp(opt_out_type, "START") == 0) || word_in(word, start))
		return "start";
	if ((opt_out_type && strcmp(opt_out_type, "HELP") == 0) || word_in(word, help))
		return "help";
	if (word_in(word, digits))
		return word[0] == '1' ? "1" : word[0] == '2' ? "2" : word[0] == '3' ? "3" : "4";
	if (strcasecmp(word, "CONFIRM") == 0)
		return "confirm";
	if (strcasecmp(word, "NO") == 0)
		return "no";
	return "other";
}

/* OptOutType: Twilio documents STOP, START and HELP; a value it may add
 * later (or an account's own keyword set) must not make the whole text
 * refused, its STOP in the body included, so any short upper-case word
 * passes and only the three known ones mean anything (sms_classify). */
static int valid_opt_out_type(const char *v, size_t len)
{
	if (len < 1 || len > 32)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '_'))
			return 0;
	return 1;
}

const struct valid_field sms_inbound_fields[SMS_NFIELDS] = {
	[SMS_SID] = { "MessageSid", valid_message_sid, 1, VALID_TEXT },
	[SMS_ACCOUNT] = { "AccountSid", valid_account_sid, 1, VALID_TEXT },
	[SMS_FROM] = { "From", valid_e164, 1, VALID_TEXT },
	[SMS_TO] = { "To", valid_e164, 1, VALID_TEXT },
	[SMS_BODY] = { "Body", valid_sms_body, 0, VALID_TEXT },
	[SMS_OPT] = { "OptOutType", valid_opt_out_type, 0, VALID_TEXT },
};

/* See sms.h.  Records the inbound text sid (from, to, body, keyword: "stop",
 * "start" or NULL) in inbound_texts, a replayed sid adding nothing, and,
 * when stop is set, in the same statement opts from out with every
 * business that texts from to: its own twilio_from, or
 * TWILIO_FROM_NUMBER (default_from, may be NULL) when it has none
 * (rf_business_sms_from), the caller id the worker gives its texts.
 * Sets *text_id to the new row's id (NULL for a replay, in a), and
 * *businesses / *clients to how many businesses send from to (0 unless
 * stop) and how many client rows now carry the opt-out.  Returns 0, or
 * -1 on a database error (nothing recorded, nobody opted out). */
int sms_text_record(struct db *db, struct arena *a, const char *sid, const char *from,
	const char *to, const char *body, const char *keyword, int stop, const char *default_from,
	const char **text_id, long *businesses, long *clients)
{
	const char *p[7] = { from, to, default_from, sid, body, keyword, stop ? "true" : "false" };
	const char *v[3];
	int rc = db_row_prepared(db, a, "sms_inbound",
		"SELECT * FROM rf_sms_record($4, $1, $2, $5, $6, $7::boolean, $3)", 7, p, 3, v);
	if (rc <= 0)
		return -1;
	*text_id = v[0];
	*businesses = atol(v[1]);
	*clients = atol(v[2]);
	return 0;
}

/* What a reply acts on, and the fields its reply may say. */
enum { K_REMINDER, K_BUSINESS, K_APPT, K_BNAME, K_CALLBACK, K_DATE, K_TIME, K_NCOLS };

/* Finds what a text from phone to sender answers: the most recent SMS
 * reminder Twilio accepted (a MessageSid) for phone from a business that
 * texts from sender (K_APPT NULL once its appointment has begun: a late
 * answer has nothing to act on); else, with no reminder (K_REMINDER
 * NULL), a business texting from sender that has phone as a client (the
 * one that last contacted it, else the first) for the reply's name and
 * number.  1 found, 0 none (a stranger, or a number no business texts
 * from: no reply names anyone), -1 database error. */
static int sms_context(struct db *db, struct arena *a, const char *phone, const char *sender,
	const char *default_from, const char *v[K_NCOLS])
{
	const char *p[3] = { phone, sender, default_from };
	return db_row_prepared(db, a, "sms_context",
		"SELECT * FROM rf_sms_context($1, $2, $3)", 3, p, K_NCOLS, v);
}

/* sms_context, and for a reminder its conversation, created at state
 * start when it has none and locked for the transaction, in one
 * statement (rf_sms_context_lock): the context into v, the state into
 * *state, the seq into *seq (start and 0 without a reminder).  1, 0 for
 * nobody, -1 on a database error. */
static int sms_context_lock(struct db *db, struct arena *a, const char *phone,
	const char *sender, const char *default_from, const char *start, const char *v[K_NCOLS],
	const char **state, int *seq)
{
	const char *p[4] = { phone, sender, default_from, start };
	const char *row[K_NCOLS + 2];
	int rc = db_row_prepared(db, a, "sms_context_lock",
		"SELECT * FROM rf_sms_context_lock($1, $2, $3, $4)", 4, p, K_NCOLS + 2, row);

	if (rc <= 0)
		return rc;
	memcpy(v, row, K_NCOLS * sizeof(*v));
	*state = row[K_NCOLS];
	*seq = atoi(row[K_NCOLS + 1]);
	return 1;
}

/* The hops one text took through the flow, as the PostgreSQL arrays
 * rf_sms_finish reads (every text element quoted; NULL for no action). */
struct sms_hops {
	struct buf seqs, froms, inputs, tos, actions;
};

static void hops_add(struct buf *b, const char *v, int quote)
{
	buf_putc(b, b->len ? ',' : '{');
	if (v == NULL) {
		buf_puts(b, "NULL");
		return;
	}
	if (quote)
		buf_putc(b, '"');
	for (; *v; v++) {
		if (quote && (*v == '"' || *v == '\\'))
			buf_putc(b, '\\');
		buf_putc(b, *v);
	}
	if (quote)
		buf_putc(b, '"');
}

static const char *hops_array(struct buf *b)
{
	if (b->len == 0)
		buf_putc(b, '{');
	buf_putc(b, '}');
	return buf_str(b);
}

/* What the flow did with one text, for the outcome and the reply. */
struct sms_step {
	int state;           /* the state to answer from */
	const char *action;  /* the last action run, or NULL */
};

/* Applies input to flow f from state *st (sequence *seq): takes each
 * transition, runs its action, adds the hop to h (its sms_events row,
 * written with the rest by rf_sms_finish), follows the action's event.  A missing
 * transition leaves the state as it is.  0, or -1 (reason in err) on an
 * action or database failure: the caller rolls back. */
static int sms_apply(struct db *db, struct arena *a, const struct flow *f, const char *input,
	struct sms_hops *h, struct action_ctx *ctx, int *seq, struct sms_step *st, char *err,
	size_t errlen)
{
	const struct flow_transition *t = flow_next(f, st->state, input);
	const char *on = input;

	for (int hops = 0; t != NULL; hops++) {
		const char *event = NULL;

		if (hops == SMS_MAX_CHAIN) {
			snprintf(err, errlen, "action events chain too long at %s", f->states[t->from].name);
			return -1;
		}
		if (t->action) {
			const struct action_def *ad = actions_find(t->action);
			if (ad == NULL || ad->fn(ctx, &event) < 0) {
				snprintf(err, errlen, "action %s failed: %s", t->action, db_last_error(db));
				return -1;
			}
			st->action = t->action;
		}
		++*seq;
		hops_add(&h->seqs, arena_printf(a, "%d", *seq), 0);
		hops_add(&h->froms, f->states[t->from].name, 1);
		hops_add(&h->inputs, on, 1);
		hops_add(&h->tos, f->states[t->to].name, 1);
		hops_add(&h->actions, t->action, 1);
		st->state = t->to;
		if (event == NULL)
			break;
		on = event;
		t = flow_next(f, st->state, event);
		if (t == NULL) {
			snprintf(err, errlen, "no transition from %s on event %s", f->states[st->state].name,
				event);
			return -1;
		}
	}
	return 0;
}

static int sms_render(struct app *app, struct arena *a, const char *state, const char *name,
	const char *date, const char *time, const char *callback, struct outcome *out);

/* The conversation part of a text, in its own transaction (the text and
 * any opt-out are already committed): finds what it answers, applies
 * input through the reminder_sms flow and renders the reply into
 * out->twiml.  0, or -1 with the reason in out->error (nothing changed). */
static int sms_converse(struct app *app, const struct route_input *in, struct outcome *out,
	const char *input, const char *text_id)
{
	const struct valid_value *f = in->form.v;
	struct arena *a = in->req->arena;
	struct db *db = app->db;
	const struct flow *fl = app->engine ? engine_flow(app->engine, SMS_FLOW) : NULL;
	const char *v[K_NCOLS], *state_name, *kept[3];
	struct sms_step st = { 0, NULL };
	struct sms_hops h;
	struct action_ctx ctx;
	char err[256];
	int seq = 0, found;

	if (fl == NULL) {
		out->error = "the reminder_sms flow is not loaded";
		return -1;
	}
	if (db_begin(db) < 0)
		goto db_fail;
	found = sms_context_lock(db, a, f[SMS_FROM].s, f[SMS_TO].s, app->cfg.from_number,
		fl->states[fl->start].name, v, &state_name, &seq);
	if (found < 0)
		goto db_fail;
	if (found == 0) {
		db_rollback(db);
		out->action = SMS_NOBODY;
		return 0;
	}
	out->business_id = v[K_BUSINESS];
	st.state = flow_state_index(fl, state_name);
	if (st.state < 0) {
		/* A state the table no longer has: start again. */
		log_warn("sms: reminder %s was in state %s, which %s has no more", v[K_REMINDER],
			state_name, SMS_FLOW);
		st.state = fl->start;
	}
	out->state_before = fl->states[st.state].name;
	memset(&ctx, 0, sizeof(ctx));
	ctx.db = db;
	ctx.arena = a;
	ctx.business_id = v[K_BUSINESS];
	ctx.appointment_id = v[K_APPT];
	ctx.reminder_id = v[K_REMINDER];
	ctx.phone = f[SMS_FROM].s;
	ctx.sender = f[SMS_TO].s;
	ctx.default_from = app->cfg.from_number;
	ctx.message_sid = f[SMS_SID].s;
	ctx.digits = "";
	buf_init_arena(&h.seqs, a);
	buf_init_arena(&h.froms, a);
	buf_init_arena(&h.inputs, a);
	buf_init_arena(&h.tos, a);
	buf_init_arena(&h.actions, a);
	if (sms_apply(db, a, fl, input, &h, &ctx, &seq, &st, err, sizeof(err)) < 0) {
		out->error = arena_strdup(a, err);
		db_rollback(db);
		return -1;
	}
	/* The transitions, the conversation, and the client's conversation
	 * in one statement; then the inbox tells the office when nobody
	 * acted on the text. */
	{
		const char *state = fl->states[st.state].name;
		const char *p[14] = { text_id, v[K_REMINDER], v[K_BUSINESS], v[K_APPT],
			hops_array(&h.seqs), hops_array(&h.froms), hops_array(&h.inputs),
			hops_array(&h.tos), hops_array(&h.actions), state, arena_printf(a, "%d", seq),
			f[SMS_FROM].s, inbox_needs_answer(state) ? "true" : "false",
			arena_printf(a, "%d", INBOX_NOTIFY_CHARS) };
		if (db_row_prepared(db, a, "sms_finish",
			    "SELECT * FROM rf_sms_finish($1::bigint, $2::bigint, $3::bigint, $4::bigint,"
			    " $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10, $11::int,"
			    " $12, $13::boolean, $14::int)", 14, p, 3, kept) <= 0 ||
			inbox_tell_office(db, v[K_BUSINESS], state, kept) < 0)
			goto db_fail;
	}
	if (db_commit(db) < 0)
		goto db_fail;
	out->state_after = fl->states[st.state].name;
	out->input = input;
	out->action = st.action ? st.action : "no action";
	return sms_render(app, a, out->state_after, v[K_BNAME], v[K_DATE], v[K_TIME],
		v[K_CALLBACK], out);
db_fail:
	out->error = arena_printf(a, "database error: %s", db_last_error(db));
	db_rollback(db);
	return -1;
}

/* After the flow failed on the text text_id (rolled back): keeps it in
 * the client's conversation as waiting for a person, in its own
 * transaction, so a text is never lost to the inbox.  Logs a failure. */
static void sms_inbox_unanswered(struct app *app, const struct route_input *in,
	const char *text_id)
{
	const struct valid_value *f = in->form.v;
	const char *v[K_NCOLS];
	struct db *db = app->db;
	int found = -1;

	if (db_begin(db) == 0) {
		found = sms_context(db, in->req->arena, f[SMS_FROM].s, f[SMS_TO].s,
			app->cfg.from_number, v);
		if (found > 0 && inbox_record(db, in->req->arena, text_id, v[K_BUSINESS],
				     v[K_REMINDER], f[SMS_FROM].s, NULL) < 0)
			found = -1;
		if (found < 0 || db_commit(db) < 0)
			found = -1;
	}
	if (found < 0) {
		log_error("sms: text %s could not be kept for the inbox either: %s", f[SMS_SID].s,
			db_last_error(db));
		db_rollback(db);
	}
}

/* The flow's transitions on input as rf_sms_step reads them: for every
 * state, in p[0], its name; in p[1], where input takes it (NULL: it
 * stays); in p[2], whether rf_sms_step may take it by itself: no action
 * (so no event follows) and a state after it that waits for nobody (the
 * inbox tells the office about those, sms_converse).  PostgreSQL array
 * literals in a, every name quoted. */
static void sms_fast_arrays(struct arena *a, const struct flow *f, const char *input,
	const char *p[3])
{
	struct buf names = BUF_INIT, next = BUF_INIT, fast = BUF_INIT;

	buf_puts(&names, "{");
	buf_puts(&next, "{");
	buf_puts(&fast, "{");
	for (size_t i = 0; i < f->nstates; i++) {
		const struct flow_transition *t = flow_next(f, (int)i, input);
		const char *after = f->states[t ? t->to : (int)i].name;
		const char *sep = i ? "," : "";

		buf_printf(&names, "%s\"%s\"", sep, f->states[i].name);
		if (t)
			buf_printf(&next, "%s\"%s\"", sep, after);
		else
			buf_printf(&next, "%sNULL", sep);
		buf_printf(&fast, "%s%s", sep,
			(t == NULL || t->action == NULL) && !inbox_needs_answer(after) ? "t" : "f");
	}
	buf_puts(&names, "}");
	buf_puts(&next, "}");
	buf_puts(&fast, "}");
	p[0] = arena_strdup(a, buf_str(&names));
	p[1] = arena_strdup(a, buf_str(&next));
	p[2] = arena_strdup(a, buf_str(&fast));
	buf_free(&names);
	buf_free(&next);
	buf_free(&fast);
}

/* What rf_sms_step answers. */
enum { S_RESULT, S_ERROR, S_TEXT, S_BUSINESSES, S_CLIENTS, S_BUSINESS, S_REMINDER, S_BNAME,
	S_CALLBACK, S_DATE, S_TIME, S_BEFORE, S_AFTER, S_NCOLS };

/* Renders state's reply for the context v (the name as texts carry it:
 * GSM, at most 30 characters, as check counts it; the reply stays within
 * two segments) into out->twiml.  0, or -1 with out->error set. */
static int sms_render(struct app *app, struct arena *a, const char *state, const char *name,
	const char *date, const char *time, const char *callback, struct outcome *out)
{
	const char *const vals[4] = { wording_sms_name(a, name), date, time, callback };

	if (engine_render_preview(app->engine, a, SMS_FLOW, state, vals, &out->twiml) < 0) {
		buf_reset(&out->twiml);
		out->error = arena_printf(a, "cannot render state %s", state);
		return -1;
	}
	return 0;
}

/* The text in one statement (rf_sms_step, sql/026_status_step.sql): kept,
 * its opt-out applied, and, when the flow's transition is a fast one,
 * its conversation moved and its inbox row written, all committed
 * together; else only the text is kept (and any opt-out) and *result
 * says what is left to do ("slow": the flow in sms_converse; "failed":
 * the inbox alone, *error why).  0, or -1 on a database error (nothing
 * recorded). */
static int sms_step(struct app *app, const struct route_input *in, const struct flow *fl,
	const char *input, int stop, int start, const char *v[S_NCOLS])
{
	const struct valid_value *f = in->form.v;
	struct arena *a = in->req->arena;
	const char *p[12];

	p[0] = f[SMS_SID].s;
	p[1] = f[SMS_FROM].s;
	p[2] = f[SMS_TO].s;
	p[3] = f[SMS_BODY].s ? f[SMS_BODY].s : "";
	p[4] = stop ? "stop" : start ? "start" : NULL;
	p[5] = stop ? "true" : "false";
	p[6] = app->cfg.from_number;
	p[7] = input;
	p[8] = fl->states[fl->start].name;
	sms_fast_arrays(a, fl, input, p + 9);
	if (db_row_retry(app->db, a, "sms_step",
		    "SELECT * FROM rf_sms_step($1, $2, $3, $4, $5, $6::boolean, $7, $8, $9,"
		    " $10::text[], $11::text[], $12::boolean[])", 12, p, S_NCOLS, v) <= 0)
		return -1;
	return 0;
}

/* See sms.h. */
void sms_inbound_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	const struct valid_value *f = in->form.v;
	struct arena *a = in->req->arena;
	const char *from = f[SMS_FROM].s, *to = f[SMS_TO].s;
	const char *body = f[SMS_BODY].s ? f[SMS_BODY].s : "";
	const char *input = sms_classify(body, f[SMS_OPT].s);
	int stop = strcmp(input, "stop") == 0, start = strcmp(input, "start") == 0;
	const struct flow *fl = app->engine ? engine_flow(app->engine, SMS_FLOW) : NULL;
	const char *text_id = NULL, *v[S_NCOLS], *result = "slow";
	long businesses = 0, clients = 0;
	const char *stopped = "";
	int rc;

	/* The flow not loaded: the text is kept all the same, and
	 * sms_converse says why it has no answer. */
	if (fl)
		rc = sms_step(app, in, fl, input, stop, start, v);
	else
		rc = sms_text_record(app->db, a, f[SMS_SID].s, from, to, body,
			stop ? "stop" : start ? "start" : NULL, stop, app->cfg.from_number, &text_id,
			&businesses, &clients);
	if (rc < 0) {
		out->error = out->action = arena_printf(a,
			"%s from %s to %s received but could not be recorded: %s",
			stop ? "opt-out keyword" : "text", from, to, db_last_error(app->db));
		log_error("sms: %s", out->error);
		if (stop)
			metrics_optout_unrecorded(); /* pages: the client may be contacted again */
		return;
	}
	if (fl) {
		result = v[S_RESULT];
		text_id = v[S_TEXT];
		businesses = atol(v[S_BUSINESSES]);
		clients = atol(v[S_CLIENTS]);
	}
	out->replay = text_id == NULL;
	if (out->replay) {
		out->action = "inbound text already recorded (a replay); nothing done, nothing said";
		return;
	}
	if (stop && businesses == 0) {
		out->error = arena_printf(a,
			"opt-out keyword from %s to %s, a number no business texts from: nobody"
			" opted out", from, to);
		log_warn("sms: %s", out->error);
	} else if (stop) {
		stopped = arena_printf(a,
			"opt-out keyword from %s to %s: opted out of %ld business(es) texting from it"
			" (%ld client record(s)); ", from, to, businesses, clients);
		log_info("sms: %s", stopped);
	}
	if (strcmp(result, "none") == 0) {
		out->action = arena_printf(a, "%s%s: %s", stopped, input, SMS_NOBODY);
		return;
	}
	if (strcmp(result, "fast") == 0) {
		out->business_id = v[S_BUSINESS];
		out->state_before = v[S_BEFORE];
		out->state_after = v[S_AFTER];
		out->input = input;
		out->action = "no action";
		if (sms_render(app, a, v[S_AFTER], v[S_BNAME], v[S_DATE], v[S_TIME], v[S_CALLBACK],
			    out) < 0)
			goto failed;
	} else if (strcmp(result, "failed") == 0) {
		out->error = arena_printf(a, "database error: %s", v[S_ERROR]);
		goto failed;
	} else if (sms_converse(app, in, out, input, text_id) < 0) {
		goto failed;
	}
	out->action = arena_printf(a, "%s%s: %s", stopped, input, out->action);
	return;
failed:
	log_error("sms: text %s from %s (%s): %s", f[SMS_SID].s, from, input, out->error);
	sms_inbox_unanswered(app, in, text_id);
	out->action = arena_printf(a, "%stext recorded; its reply failed: %s", stopped, out->error);
}

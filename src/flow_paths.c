/* flow_paths: every path through a flow's state table (see flow_paths.h). */
#include "flow_paths.h"
#include "buf.h"
#include "flow.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <libxml/tree.h>

/* How a runner makes an action answer each event.  The name is what the
 * runner sets up before the path is played; a flow whose table names an
 * event missing here fails to build, so a new flow's events are added
 * here with the runner's set-up for them. */
static const struct {
	const char *flow;
	const char *event;
	const char *setup;
} event_setups[] = {
	/* The reply actions (confirm_reply, cancel_reply, callback_reply,
	 * reschedule_reply):
	 * `done` when the appointment changed, `none` when nothing was
	 * pending.  hint_once: `first` once per reminder, `again` after. */
	{ "reminder_sms", "done", "reminder_pending" },
	{ "reminder_sms", "none", "nothing_pending" },
	{ "reminder_sms", "first", "no_hint_yet" },
	{ "reminder_sms", "again", "hint_given" },
	/* verify_task_code and retake. */
	{ "inbound", "valid", "task_code" },
	{ "inbound", "invalid", "wrong_code" },
	{ "inbound", "refused", "third_wrong_code" },
	{ "inbound", "throttled", "throttle_full" },
	{ "inbound", "again", "take_left" },
	{ "inbound", "enough", "takes_used_up" },
};

/* The inputs of a text flow: what src/sms.c classifies a text as, and a
 * text that it classifies so. */
static const struct {
	const char *on;
	const char *text;
} text_inputs[] = {
	{ "1", "1" }, { "2", "2" }, { "3", "3" }, { "4", "4" }, { "confirm", "CONFIRM" }, { "yes", "YES" },
	{ "no", "NO" }, { "help", "HELP" }, { "start", "START" }, { "stop", "STOP" },
	{ "other", "What time is it?" },
};

/* The keys tried, in order, for `other`: digits before * and #, which
 * some Gathers take as finishOnKey. */
static const char other_keys[] = "9876543210*#";

const char *flow_event_setup(const char *flow, const char *event)
{
	for (size_t i = 0; i < ARRAY_LEN(event_setups); i++)
		if (strcmp(event_setups[i].flow, flow) == 0 && strcmp(event_setups[i].event, event) == 0)
			return event_setups[i].setup;
	return NULL;
}

/* The text that makes a text flow's input on, or NULL when on is no
 * input of a text flow (an event). */
static const char *text_for(const char *on)
{
	for (size_t i = 0; i < ARRAY_LEN(text_inputs); i++)
		if (strcmp(text_inputs[i].on, on) == 0)
			return text_inputs[i].text;
	return NULL;
}

/* Whether on is an event of f: what an action answers, not an input. */
static int is_event(const struct flow *f, const char *on)
{
	if (flow_is_text(f))
		return text_for(on) == NULL && !flow_is_key(on);
	return !flow_is_builtin_input(on);
}

static int has_events(const struct flow *f, int state)
{
	for (size_t i = 0; i < f->ntrans; i++)
		if (f->trans[i].from == state && is_event(f, f->trans[i].on))
			return 1;
	return 0;
}

/* Whether a line with an action goes to state. */
static int entered_by_action(const struct flow *f, int state)
{
	for (size_t i = 0; i < f->ntrans; i++)
		if (f->trans[i].to == state && f->trans[i].action)
			return 1;
	return 0;
}

/* A key state takes as `other` (none of its lines names it), or '\0'. */
static char other_key(const struct flow *f, int state)
{
	for (const char *k = other_keys; *k; k++) {
		char key[2] = { *k, '\0' };
		const struct flow_transition *t = flow_next(f, state, key);
		if (t && strcmp(t->on, "other") == 0)
			return *k;
	}
	return '\0';
}

/* The walk's working state: the path being built and what the paths
 * emitted so far took. */
struct walk {
	const struct flow *f;
	struct flow_paths *out;
	struct flow_diag *errs;
	int *count;                    /* per state: times on the current path */
	struct flow_path_step *stack;  /* the current path */
	size_t depth, cap;
	unsigned char *taken;          /* per line: on an emitted path */
	unsigned char *reached;        /* per state: on an emitted path */
	int full;                      /* FLOW_PATHS_MAX reached */
};

/* Adds the current path (stack[0..depth) then extra[0..nextra)),
 * ending in end, to the output. */
static void emit(struct walk *w, const struct flow_path_step *extra, size_t nextra, int end)
{
	struct flow_path *p;
	size_t n = w->depth + nextra;

	if (w->out->n == FLOW_PATHS_MAX) {
		if (!w->full)
			flow_diag_add(w->errs, "%s: more than %d paths", w->f->trans_path, FLOW_PATHS_MAX);
		w->full = 1;
		return;
	}
	if (w->out->n % 64 == 0)
		w->out->v = xrealloc(w->out->v, (w->out->n + 64) * sizeof(*w->out->v));
	p = &w->out->v[w->out->n++];
	p->steps = xcalloc(n ? n : 1, sizeof(*p->steps));
	if (w->depth)
		memcpy(p->steps, w->stack, w->depth * sizeof(*p->steps));
	if (nextra)
		memcpy(p->steps + w->depth, extra, nextra * sizeof(*p->steps));
	p->nsteps = n;
	p->end = end;
	w->reached[w->f->start] = 1;
	for (size_t i = 0; i < n; i++) {
		w->taken[p->steps[i].t - w->f->trans] = 1;
		w->reached[p->steps[i].t->to] = 1;
	}
}

static void push(struct walk *w, const struct flow_path_step *s)
{
	if (w->depth == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 32;
		w->stack = xrealloc(w->stack, w->cap * sizeof(*w->stack));
	}
	w->stack[w->depth++] = *s;
}

/* Fills step s for line t of a voice flow, taken from state; 0, or -1
 * when the line is no branch there (noted elsewhere as not taken). */
static int voice_step(struct walk *w, const struct flow_transition *t, int state, int machine,
	struct flow_path_step *s)
{
	const struct flow *f = w->f;

	memset(s, 0, sizeof(*s));
	s->t = t;
	if (machine && strcmp(t->on, "timeout") != 0)
		return -1;
	if (strcmp(t->on, "machine") == 0) {
		if (state != f->start || w->depth != 0)
			return -1;
		s->way = FLOW_WAY_MACHINE;
	} else if (strcmp(t->on, "timeout") == 0) {
		s->way = FLOW_WAY_SILENCE;
	} else if (strcmp(t->on, "other") == 0) {
		s->way = FLOW_WAY_PRESS;
		s->key[0] = other_key(f, state);
		if (s->key[0] == '\0') {
			flow_diag_add(w->errs, "%s:%d: '%s' on 'other': every key is named, none is left"
				" to press", f->trans_path, t->line, f->states[state].name);
			return -1;
		}
	} else if (strcmp(t->on, "recorded") == 0) {
		s->way = FLOW_WAY_SPEAK;
	} else if (flow_is_key(t->on)) {
		s->way = FLOW_WAY_PRESS;
		s->key[0] = t->on[0];
	} else {
		flow_diag_add(w->errs, "%s:%d: input '%s' has no way to be played", f->trans_path,
			t->line, t->on);
		return -1;
	}
	return 0;
}

/* Fills step s for event line t; 0, or -1 (with the reason in errs)
 * when the event has no precondition. */
static int event_step(struct walk *w, const struct flow_transition *t, struct flow_path_step *s)
{
	memset(s, 0, sizeof(*s));
	s->t = t;
	s->way = FLOW_WAY_EVENT;
	s->setup = flow_event_setup(w->f->name, t->on);
	if (s->setup == NULL) {
		flow_diag_add(w->errs, "%s:%d: event '%s' has no precondition (flow_paths.c's"
			" event_setups names how a runner provokes each event)", w->f->trans_path, t->line,
			t->on);
		return -1;
	}
	return 0;
}

/* Walks a voice flow from state, which the path entered by a line with
 * an action when by_action, after an answering machine when machine. */
static void voice_walk(struct walk *w, int state, int by_action, int machine)
{
	const struct flow *f = w->f;
	int events = by_action && has_events(f, state);

	if (w->full)
		return;
	if (f->states[state].terminal) {
		emit(w, NULL, 0, state);
		return;
	}
	for (size_t i = 0; i < f->ntrans; i++) {
		const struct flow_transition *t = &f->trans[i];
		struct flow_path_step s;
		if (t->from != state || is_event(f, t->on) != events)
			continue;
		if ((events ? event_step(w, t, &s) : voice_step(w, t, state, machine, &s)) < 0)
			continue;
		if (w->count[t->to] == 2)
			continue;
		push(w, &s);
		w->count[t->to]++;
		voice_walk(w, t->to, t->action != NULL, machine || s.way == FLOW_WAY_MACHINE);
		w->count[t->to]--;
		w->depth--;
	}
}

/* One text's steps from a resting state: the input line, then events
 * through pass-through states until a resting state. */
struct text_run {
	struct flow_path_step steps[2 * FLOW_MAX_STATES];
	size_t n;
};

/* Emits, after the prefix on w's stack, every way the text whose steps
 * so far are r leaves state; each end becomes a resting state's prefix
 * (prefix[end], when it has none yet) and joins the breadth-first queue. */
static void text_expand(struct walk *w, struct text_run *r, int state, int *seen,
	struct flow_path_step **prefix, size_t *prefix_n, int *queue, size_t *qn)
{
	const struct flow *f = w->f;

	if (!has_events(f, state)) {
		emit(w, r->steps, r->n, state);
		if (!seen[state]) {
			seen[state] = 1;
			prefix_n[state] = w->depth + r->n;
			prefix[state] = xcalloc(prefix_n[state] + 1, sizeof(**prefix));
			if (w->depth)
				memcpy(prefix[state], w->stack, w->depth * sizeof(**prefix));
			memcpy(prefix[state] + w->depth, r->steps, r->n * sizeof(**prefix));
			queue[(*qn)++] = state;
		}
		return;
	}
	for (size_t i = 0; i < f->ntrans && !w->full; i++) {
		const struct flow_transition *t = &f->trans[i];
		struct flow_path_step s;
		if (t->from != state || !is_event(f, t->on) || w->count[t->to] == 2 ||
		    r->n == ARRAY_LEN(r->steps) || event_step(w, t, &s) < 0)
			continue;
		r->steps[r->n++] = s;
		w->count[t->to]++;
		text_expand(w, r, t->to, seen, prefix, prefix_n, queue, qn);
		w->count[t->to]--;
		r->n--;
	}
}

/* The paths of a text flow: breadth first over resting states, each
 * resting state's every text after the shortest conversation to it. */
static void text_walk(struct walk *w)
{
	const struct flow *f = w->f;
	int *seen = xcalloc(f->nstates, sizeof(int));
	int *queue = xcalloc(f->nstates, sizeof(int));
	struct flow_path_step **prefix = xcalloc(f->nstates, sizeof(*prefix));
	size_t *prefix_n = xcalloc(f->nstates, sizeof(size_t));
	size_t qh = 0, qn = 0;

	seen[f->start] = 1;
	queue[qn++] = f->start;
	while (qh < qn && !w->full) {
		int r = queue[qh++];
		w->depth = 0;
		for (size_t i = 0; i < prefix_n[r]; i++)
			push(w, &prefix[r][i]);
		for (size_t i = 0; i < f->ntrans && !w->full; i++) {
			const struct flow_transition *t = &f->trans[i];
			struct text_run run;
			if (t->from != r || is_event(f, t->on))
				continue;
			memset(&run.steps[0], 0, sizeof(run.steps[0]));
			run.steps[0].t = t;
			run.steps[0].way = FLOW_WAY_TEXT;
			/* A key beyond the table's is texted as itself. */
			run.steps[0].text = text_for(t->on) ? text_for(t->on) : t->on;
			run.n = 1;
			memset(w->count, 0, f->nstates * sizeof(int));
			text_expand(w, &run, t->to, seen, prefix, prefix_n, queue, &qn);
		}
	}
	for (size_t i = 0; i < f->nstates; i++)
		free(prefix[i]);
	free(prefix);
	free(prefix_n);
	free(queue);
	free(seen);
}

/* Whether state's template says goodbye: a voice template ends with
 * <Hangup/>; a text template is one <Message> or nothing at all. */
static int says_goodbye(const struct flow *f, int state)
{
	xmlDocPtr doc = f->states[state].tmpl;
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL, n, last = NULL;
	int elements = 0;

	if (root == NULL || xmlStrcmp(root->name, BAD_CAST "Response") != 0)
		return 0;
	for (n = root->children; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE) {
			elements++;
			last = n;
		}
	if (flow_is_text(f))
		return elements == 0 || (elements == 1 && xmlStrcmp(last->name, BAD_CAST "Message") == 0);
	return last != NULL && xmlStrcmp(last->name, BAD_CAST "Hangup") == 0;
}

int flow_paths_build(const struct flow *f, struct flow_paths *out, struct flow_diag *errs,
	struct flow_diag *notes)
{
	struct flow_diag e0 = { NULL, 0 }, n0 = { NULL, 0 };
	struct walk w;
	unsigned char *checked = xcalloc(f->nstates, 1);
	size_t nerr;

	if (errs == NULL)
		errs = &e0;
	if (notes == NULL)
		notes = &n0;
	nerr = errs->n;
	memset(&w, 0, sizeof(w));
	w.f = f;
	w.out = out;
	w.errs = errs;
	w.count = xcalloc(f->nstates, sizeof(int));
	w.taken = xcalloc(f->ntrans, 1);
	w.reached = xcalloc(f->nstates, 1);
	if (flow_is_text(f)) {
		text_walk(&w);
	} else {
		w.count[f->start] = 1;
		voice_walk(&w, f->start, 0, 0);
	}
	for (size_t i = 0; i < f->nstates; i++)
		if (!w.reached[i])
			flow_diag_add(errs, "%s: state '%s' is on no path from '%s'", f->trans_path,
				f->states[i].name, f->states[f->start].name);
	for (size_t i = 0; i < out->n; i++) {
		int end = out->v[i].end;
		if (checked[end])
			continue;
		checked[end] = 1;
		if (!says_goodbye(f, end))
			flow_diag_add(errs, "%s/%s.xml: path %zu ends in '%s', whose template does not say"
				" goodbye (%s)", f->dir ? f->dir : f->trans_path, f->states[end].name, i + 1,
				f->states[end].name, flow_is_text(f) ?
				"a text flow's resting state answers with one <Message> or an empty <Response/>" :
				"a terminal state's TwiML must end with <Hangup/>");
	}
	for (size_t i = 0; i < f->ntrans; i++) {
		const struct flow_transition *t = &f->trans[i];
		if (w.taken[i] || !w.reached[t->from])
			continue;
		flow_diag_add(notes, "%s:%d: '%s' on '%s' is taken by no path (%s)", f->trans_path, t->line,
			f->states[t->from].name, t->on,
			strcmp(t->on, "machine") == 0 ? "Twilio reports a machine on the call's first request"
			" only, at the start state" : is_event(f, t->on) && !entered_by_action(f, t->from) ?
			"no line with an action enters the state" : "no way on from it ends within the"
			" repetition bound");
	}
	free(w.stack);
	free(w.count);
	free(w.taken);
	free(w.reached);
	free(checked);
	flow_diag_free(&e0);
	flow_diag_free(&n0);
	return errs->n > nerr ? -1 : 0;
}

void flow_paths_free(struct flow_paths *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		free(ps->v[i].steps);
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

/* b's contents as a new string. */
static char *buf_take(struct buf *b)
{
	char *s = xstrdup(buf_str(b));
	buf_free(b);
	return s;
}

char *flow_path_behaviour(const struct flow *f, const struct flow_path *p)
{
	struct buf b = BUF_INIT;
	int text = flow_is_text(f), machine = p->nsteps > 0 && p->steps[0].way == FLOW_WAY_MACHINE;

	if (!text)
		buf_puts(&b, machine ? "machine answered_by=machine_end_beep" : "person");
	for (size_t i = 0; i < p->nsteps; i++) {
		const struct flow_path_step *s = &p->steps[i];
		const char *sep = b.len ? "; " : "";
		if (s->way == FLOW_WAY_PRESS)
			buf_printf(&b, "%spress %s", sep, s->key);
		else if (s->way == FLOW_WAY_SPEAK)
			/* Two seconds of speech, then silence ends the Record. */
			buf_printf(&b, "%sspeak 2; silence", sep);
		else if (s->way == FLOW_WAY_SILENCE && !machine)
			buf_printf(&b, "%ssilence", sep);
		else if (s->way == FLOW_WAY_TEXT)
			buf_printf(&b, "%stext \"%s\"", sep, s->text);
	}
	if (!text)
		buf_puts(&b, "; expect-hangup");
	return buf_take(&b);
}

char *flow_path_setups(const struct flow_path *p)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < p->nsteps; i++)
		if (p->steps[i].way == FLOW_WAY_EVENT)
			buf_printf(&b, "%s%s", b.len ? "," : "", p->steps[i].setup);
	return buf_take(&b);
}

char *flow_path_describe(const struct flow *f, const struct flow_path *p)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < p->nsteps; i++) {
		const struct flow_transition *t = p->steps[i].t;
		buf_printf(&b, "%s%s -%s-> %s", i ? ", " : "", f->states[t->from].name, t->on,
			f->states[t->to].name);
		if (t->action)
			buf_printf(&b, " [%s]", t->action);
	}
	return buf_take(&b);
}

/* ---- ringfence paths ---------------------------------------------------- */

static const char paths_usage[] =
	"usage: ringfence paths [--root DIR] [--out DIR] FLOW\n"
	"\n"
	"Lists every path through FLOW's state table (DIR/state_tables/FLOW, default\n"
	"DIR: RINGFENCE_ROOT, else .): for a call flow, from the start state to each\n"
	"terminal state, every key, `other` (a key the state does not name), timeout\n"
	"and answering machine at every state, a state at most twice on a path; for a\n"
	"text flow, each text at each resting state.  Each path shows the callee's\n"
	"behaviour for ringfence-sim, the preconditions its events need, and the\n"
	"transitions it takes.  With --out, writes one script per path into DIR\n"
	"(FLOW-NNN.sim) instead.\n"
	"\n"
	"Exit status 1, each reason on a line, when a state is on no path, a path ends\n"
	"in a state that does not say goodbye (a call: <Hangup/> last; a text: one\n"
	"<Message> or an empty <Response/>), or an event has no precondition; 2 for a\n"
	"usage error or a flow that does not load.\n";

/* Writes path i of f into dir/FLOW-NNN.sim: comments saying what it
 * expects, then the callee's line for a call ("NUMBER BEHAVIOUR", a
 * number of the fictional 555 range) or the texts for a text flow.
 * 0, or -1 with the reason printed. */
static int write_script(const char *dir, const struct flow *f, const struct flow_paths *ps,
	size_t i)
{
	const struct flow_path *p = &ps->v[i];
	char *path = xasprintf("%s/%s-%03zu.sim", dir, f->name, i + 1);
	char *beh = flow_path_behaviour(f, p), *setups = flow_path_setups(p);
	char *desc = flow_path_describe(f, p);
	FILE *fp = fopen(path, "w");
	int rc = -1;

	if (fp == NULL) {
		fprintf(stderr, "ringfence paths: %s: %s\n", path, strerror(errno));
		goto out;
	}
	fprintf(fp, "# %s path %zu of %zu, ends in %s\n# setup: %s\n# transitions: %s\n", f->name,
		i + 1, ps->n, f->states[p->end].name, setups[0] ? setups : "none", desc);
	if (flow_is_text(f))
		fprintf(fp, "# texts: %s\n", beh);
	else
		fprintf(fp, "+1555%07zu %s\n", i + 1, beh);
	if (fclose(fp) != 0) {
		fprintf(stderr, "ringfence paths: %s: %s\n", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(path);
	free(beh);
	free(setups);
	free(desc);
	return rc;
}

int paths_main(int argc, char **argv)
{
	const char *root = getenv("RINGFENCE_ROOT"), *out_dir = NULL, *name = NULL;
	struct flow_diag d = { NULL, 0 }, notes = { NULL, 0 };
	struct flow_paths ps = { NULL, 0 };
	struct flow *f = NULL;
	int rc = 2;

	if (root == NULL || root[0] == '\0')
		root = ".";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(paths_usage, stdout);
			rc = 0;
			goto out;
		} else if (strcmp(a, "--root") == 0 || strcmp(a, "--out") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "ringfence paths: %s needs a directory\n", a);
				goto out;
			}
			if (a[2] == 'r')
				root = argv[++i];
			else
				out_dir = argv[++i];
		} else if (a[0] == '-') {
			fprintf(stderr, "ringfence paths: unknown option '%s' (see --help)\n", a);
			goto out;
		} else if (name == NULL) {
			name = a;
		} else {
			fprintf(stderr, "ringfence paths: one FLOW only (see --help)\n");
			goto out;
		}
	}
	if (name == NULL) {
		fprintf(stderr, "ringfence paths: which FLOW? (see --help)\n");
		goto out;
	}
	f = flow_load(root, name, &d);
	if (f == NULL) {
		fprintf(stderr, "ringfence paths: %s\n", d.n ? d.msgs[0] : "cannot load the flow");
		goto out;
	}
	rc = flow_paths_build(f, &ps, &d, &notes) < 0 ? 1 : 0;
	for (size_t i = 0; i < notes.n; i++)
		fprintf(stderr, "ringfence paths: note: %s\n", notes.msgs[i]);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "ringfence paths: %s\n", d.msgs[i]);
	if (rc != 0)
		goto out;
	if (out_dir && mkdir(out_dir, 0777) < 0 && errno != EEXIST) {
		fprintf(stderr, "ringfence paths: %s: %s\n", out_dir, strerror(errno));
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < ps.n; i++) {
		if (out_dir) {
			if (write_script(out_dir, f, &ps, i) < 0) {
				rc = 1;
				goto out;
			}
		} else {
			char *beh = flow_path_behaviour(f, &ps.v[i]), *setups = flow_path_setups(&ps.v[i]);
			char *desc = flow_path_describe(f, &ps.v[i]);
			printf("%s path %zu: ends in %s\n  %s: %s\n  setup: %s\n  transitions: %s\n", f->name,
				i + 1, f->states[ps.v[i].end].name, flow_is_text(f) ? "texts" : "callee",
				beh, setups[0] ? setups : "none", desc);
			free(beh);
			free(setups);
			free(desc);
		}
	}
	printf("%s: %zu paths%s%s\n", f->name, ps.n, out_dir ? " written to " : "", out_dir ? out_dir : "");
out:
	flow_paths_free(&ps);
	flow_free(f);
	flow_diag_free(&d);
	flow_diag_free(&notes);
	return rc;
}

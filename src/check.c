/* check: `ringfence check` and `ringfence diagram` (DESIGN.md section 3).
 *
 * check is the build's guard against a flow that could strand a caller,
 * leak a field, or ask a voicemail box to press keys; the FastCGI pool
 * runs check_flow on every flow at start and refuses to serve a flow
 * that fails it. */
#include "check.h"
#include "actions.h"
#include "dblint.h"
#include "diag.h"
#include "flow.h"
#include "migrate.h"
#include "twiml.h"
#include "util.h"
#include "wording.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A prompt's text source is a sentence or two. */
#define CHECK_MAX_TXT (64 * 1024)

/* Whether path is a regular file. */
static int file_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Line of the first transition that leaves state i (or, with any set,
 * that mentions it at all); 0 when there is none. */
static int first_line(const struct flow *f, int i, int any)
{
	for (size_t k = 0; k < f->ntrans; k++)
		if (f->trans[k].from == i || (any && f->trans[k].to == i))
			return f->trans[k].line;
	return 0;
}

/* Whether state i waits for the caller: it has an exit on a key,
 * timeout, machine or other.  A state left only by events an action
 * returns is passed through by the engine in the same request. */
static int waits_for_input(const struct flow *f, int i)
{
	for (size_t k = 0; k < f->ntrans; k++)
		if (f->trans[k].from == i && flow_is_builtin_input(f->trans[k].on))
			return 1;
	return 0;
}

/* Whether state i has a transition on on. */
static int has_exit(const struct flow *f, int i, const char *on)
{
	for (size_t k = 0; k < f->ntrans; k++)
		if (f->trans[k].from == i && strcmp(f->trans[k].on, on) == 0)
			return 1;
	return 0;
}

/* The text source of recorded prompt file (audio/<flow>/<state>/x.mp3 ->
 * x.txt) as a new string, or NULL when there is none. */
static char *prompt_text(const char *adir, const char *state, const char *file)
{
	const char *dot = strrchr(file, '.');
	size_t base = dot ? (size_t)(dot - file) : strlen(file);
	char *path = xasprintf("%s/%s/%.*s.txt", adir, state, (int)base, file);
	char *text = util_read_file(path, CHECK_MAX_TXT, NULL);

	free(path);
	return text;
}

/* Why state i's template asks for a keypress, as a new string, or NULL
 * when it does not. */
static char *keypress_reason(const struct twiml_facts *fx, const char *adir, const char *state)
{
	if (fx->has_gather)
		return xstrdup("its template has a <Gather>");
	if (fx->asks_keypress)
		return xstrdup("its <Say> text says 'press'");
	for (size_t k = 0; k < fx->nplay; k++) {
		char *text = prompt_text(adir, state, fx->play_files[k]);
		int asks = text && twiml_text_asks_keypress(text);
		free(text);
		if (asks)
			return xasprintf("its prompt %s says 'press'", fx->play_files[k]);
	}
	return NULL;
}

/* The SMS rules (wording.h) on every <Message> (or <Sms>) body of state
 * name's template at path: a reply a flow texts is held to the reminder
 * text's rules but the STOP line, and may use only the appointment's
 * four fields. */
static void check_messages(xmlNodePtr el, const char *path, const char *state,
	struct flow_diag *d)
{
	for (xmlNodePtr c = el ? el->children : NULL; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (xmlStrcmp(c->name, (const xmlChar *)"Message") == 0 ||
			xmlStrcmp(c->name, (const xmlChar *)"Sms") == 0) {
			xmlNodePtr body = NULL;
			xmlChar *raw;
			char *where = xasprintf("%s:%ld: state '%s': <%s>", path, xmlGetLineNo(c),
				state, (const char *)c->name);
			for (xmlNodePtr b = c->children; b; b = b->next)
				if (b->type == XML_ELEMENT_NODE &&
					xmlStrcmp(b->name, (const xmlChar *)"Body") == 0)
					body = b;
			raw = xmlNodeGetContent(body ? body : c);
			wording_check_sms_text(raw ? (const char *)raw : "", WORDING_SMS_REPLY, where, d);
			xmlFree(raw);
			free(where);
		} else {
			check_messages(c, path, state, d);
		}
	}
}

/* State i's template: the loaded one, else the one check loaded. */
static xmlDocPtr st_doc(const struct flow *f, xmlDocPtr *owned, size_t i)
{
	return f->states[i].tmpl ? f->states[i].tmpl : owned[i];
}

/* The rules of a state that records (Twilio: an empty recording makes no
 * action request and the next verb runs): its template has one input,
 * the <Record>, whose action is the 'recorded' exit, and what follows
 * the <Record> ends the call, so silence hangs up instead of falling
 * off the end.  A 'recorded' exit needs a <Record> to come from. */
static void check_record_state(const struct flow *f, int i, const struct twiml_facts *fx,
	const char *path, const char *tp, struct flow_diag *d)
{
	const char *name = f->states[i].name;
	int recorded = has_exit(f, i, "recorded");

	if (recorded && !fx->has_record)
		flow_diag_add(d, "%s:%d: state '%s' has a 'recorded' exit but its template has no "
			"<Record>", tp, first_line(f, i, 0), name);
	if (!fx->has_record)
		return;
	if (!recorded)
		flow_diag_add(d, "%s: state '%s' records but has no 'recorded' exit "
			"(the recording would go nowhere)", path, name);
	if (fx->has_gather)
		flow_diag_add(d, "%s: state '%s' has both <Gather> and <Record> "
			"(one input per state)", path, name);
	if (fx->nrecord > 1)
		flow_diag_add(d, "%s: state '%s' has more than one <Record>", path, name);
	if (!fx->ends_with_hangup)
		flow_diag_add(d, "%s: state '%s' records but does not end with <Hangup/> after the "
			"<Record> (Twilio goes on to the next verb when the caller says nothing)",
			path, name);
}

/* Reports the .xml files in state_tables/<flow> that are not states of f. */
static void check_stray_templates(const struct flow *f, const char *dir, struct flow_diag *d)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);

	for (int k = 0; k < n; k++) {
		const char *name = ents[k]->d_name;
		size_t len = strlen(name);
		if (name[0] != '.' && len > 4 && strcmp(name + len - 4, ".xml") == 0) {
			char *state = xstrndup(name, len - 4);
			if (flow_state_index(f, state) < 0)
				flow_diag_add(d, "%s/%s: no transition mentions state '%s' (unreachable template)",
					dir, name, state);
			free(state);
		}
		free(ents[k]);
	}
	free(ents);
}

/* A text flow's own rules for state i's template (see check.h): a
 * Response holding nothing but at most one Message, with text and no
 * attributes (Twilio sends the reply to the texter from the number
 * texted); no voice verb.  Its length and wording are check_messages'
 * (the reminder text's rules). */
static void check_text_template(xmlDocPtr doc, const char *path, const char *state,
	struct flow_diag *d)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	int messages = 0;

	if (root == NULL || strcmp((const char *)root->name, "Response") != 0)
		return; /* twiml_validate has said so */
	for (xmlNodePtr c = root->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)c->name, "Message") != 0) {
			flow_diag_add(d, "%s:%ld: state '%s' of a text flow uses <%s>; a text reply "
				"holds only <Message> (no Gather, Play, Say or Record)", path,
				xmlGetLineNo(c), state, (const char *)c->name);
			continue;
		}
		if (++messages == 2)
			flow_diag_add(d, "%s:%ld: state '%s' sends more than one <Message> "
				"(one reply per text)", path, xmlGetLineNo(c), state);
		if (c->properties != NULL)
			flow_diag_add(d, "%s:%ld: state '%s': <Message> must have no attributes "
				"(the reply goes to the texter, from the number texted)", path,
				xmlGetLineNo(c), state);
		if (c->children == NULL || c->children->type != XML_TEXT_NODE ||
			c->children->next != NULL)
			flow_diag_add(d, "%s:%ld: state '%s': <Message> must hold its text only", path,
				xmlGetLineNo(c), state);
	}
}

/* A text flow's rules for state i beyond its template: a state that
 * waits for a text has an `other` exit (any text gets an answer, or
 * deliberate silence, never an error). */
static void check_text_state(const struct flow *f, int i, const char *tp, struct flow_diag *d)
{
	if (!f->states[i].terminal && waits_for_input(f, i) && !has_exit(f, i, "other"))
		flow_diag_add(d, "%s:%d: state '%s' of a text flow has no 'other' exit "
			"(an unrecognised text would have no answer)", tp, first_line(f, i, 0),
			f->states[i].name);
}

int check_flow(const struct flow *f, const char *root, int production, struct flow_diag *d)
{
	int is_text = flow_is_text(f);
	size_t before = d->n;
	char *rel = xasprintf("state_tables/%s", f->name);
	char *dir = flow_path(root, rel);
	char *adir;
	const char *tp = f->trans_path ? f->trans_path : "transitions";
	xmlDocPtr *owned = xcalloc(f->nstates, sizeof(*owned));
	struct twiml_facts *fx = xcalloc(f->nstates, sizeof(*fx));
	char **paths = xcalloc(f->nstates, sizeof(*paths));
	int *have = xcalloc(f->nstates, sizeof(*have));
	int *seen = xcalloc(f->nstates, sizeof(*seen));
	int *queue = xcalloc(f->nstates, sizeof(*queue));
	size_t qh = 0, qt = 0;

	free(rel);
	rel = xasprintf("audio/%s", f->name);
	adir = flow_path(root, rel);
	free(rel);

	for (size_t k = 0; k < f->ntrans; k++) {
		const struct flow_transition *t = &f->trans[k];
		if (t->action && actions_find(t->action) == NULL)
			flow_diag_add(d, "%s:%d: unknown action '%s' (from '%s' on '%s')", tp, t->line,
				t->action, f->states[t->from].name, t->on);
	}

	/* Templates: the loaded one, else load it here so that check also
	 * works on a flow that only went through flow_parse. */
	for (size_t i = 0; i < f->nstates; i++) {
		const struct flow_state *st = &f->states[i];
		struct flow_diag tmp = { NULL, 0 };
		xmlDocPtr doc = st->tmpl;

		paths[i] = st->tmpl_path ? xstrdup(st->tmpl_path) : xasprintf("%s/%s.xml", dir, st->name);
		if (doc == NULL && file_exists(paths[i]))
			doc = owned[i] = twiml_load(paths[i], &tmp);
		else if (doc == NULL)
			flow_note_template(f, (int)i, paths[i], d);
		if (doc != NULL) {
			twiml_validate(doc, paths[i], &tmp);
			twiml_inspect(doc, &fx[i]);
			check_messages((xmlNodePtr)doc, paths[i], st->name, d);
			have[i] = 1;
		}
		/* Template problems name the state, like every other rule's. */
		flow_diag_merge_state(d, &tmp, paths[i], st->name);
		flow_diag_free(&tmp);
	}

	/* Reachability from the start over every transition. */
	seen[f->start] = 1;
	queue[qt++] = f->start;
	while (qh < qt) {
		int s = queue[qh++];
		for (size_t k = 0; k < f->ntrans; k++) {
			int to = f->trans[k].to;
			if (f->trans[k].from == s && !seen[to]) {
				seen[to] = 1;
				queue[qt++] = to;
			}
		}
	}

	for (size_t i = 0; i < f->nstates; i++) {
		const char *name = f->states[i].name;
		int terminal = f->states[i].terminal;

		if (!seen[i])
			flow_diag_add(d, "%s:%d: state '%s' is unreachable from the start state '%s'", tp,
				first_line(f, (int)i, 1), name, f->states[f->start].name);
		if (is_text) {
			check_text_state(f, (int)i, tp, d);
			if (have[i])
				check_text_template(st_doc(f, owned, i), paths[i], name, d);
			continue;
		}
		/* A <Record> state's silence is its template's fallback
		 * (checked below), never a request. */
		if (!terminal && waits_for_input(f, (int)i) && !has_exit(f, (int)i, "timeout") &&
			!(have[i] && fx[i].has_record))
			flow_diag_add(d, "%s:%d: state '%s' has no 'timeout' exit "
				"(a caller who presses nothing would be stuck)", tp,
				first_line(f, (int)i, 0), name);
		if (!have[i])
			continue;
		if (!terminal && waits_for_input(f, (int)i) && !fx[i].has_gather && !fx[i].has_record)
			flow_diag_add(d, "%s: state '%s' has exits but its template has no <Gather> "
				"or <Record> (it could never receive input)", paths[i], name);
		check_record_state(f, (int)i, &fx[i], paths[i], tp, d);
		if (terminal && !fx[i].ends_with_hangup)
			flow_diag_add(d, "%s: terminal state '%s' does not end with <Hangup/> or <Reject/>",
				paths[i], name);
		if (terminal && fx[i].has_gather)
			flow_diag_add(d, "%s: terminal state '%s' has a <Gather> but no exits "
				"(its input could never be used)", paths[i], name);
		for (size_t k = 0; k < fx[i].nplay; k++) {
			const char *file = fx[i].play_files[k];
			char *apath;
			/* twiml_validate has reported a name that is not bare; do
			 * not turn it into a path. */
			if (strchr(file, '/') || file[0] == '.' || file[0] == '\0')
				continue;
			apath = xasprintf("%s/%s/%s", adir, name, file);
			if (!file_exists(apath)) {
				char *text = prompt_text(adir, name, file);
				flow_diag_add(d, "%s:%ld: state '%s' plays '%s' but %s is missing%s", paths[i],
					fx[i].play_lines[k], name, file, apath,
					text ? " (`make audio` makes it from its .txt)" : "");
				free(text);
			}
			free(apath);
		}
		if (production && fx[i].has_fixed_say)
			flow_diag_add(d, "%s:%ld: state '%s' speaks a fixed prompt with <Say>; "
				"production needs recorded audio (<Play>)", paths[i],
				fx[i].fixed_say_line, name);
	}

	/* A voicemail greeting or silence leads here: asking for a key would
	 * only be recorded (or swallowed) by the machine. */
	for (size_t k = 0; k < f->ntrans && !is_text; k++) {
		const struct flow_transition *t = &f->trans[k];
		char *why;
		if (strcmp(t->on, "machine") != 0 && strcmp(t->on, "timeout") != 0)
			continue;
		if (!have[t->to])
			continue;
		why = keypress_reason(&fx[t->to], adir, f->states[t->to].name);
		if (why)
			flow_diag_add(d, "%s:%d: state '%s' is reached on '%s' from '%s' but asks for a "
				"keypress (%s); an answering machine cannot press keys", tp, t->line,
				f->states[t->to].name, t->on, f->states[t->from].name, why);
		free(why);
	}

	check_stray_templates(f, dir, d);

	for (size_t i = 0; i < f->nstates; i++) {
		twiml_facts_free(&fx[i]);
		if (owned[i])
			xmlFreeDoc(owned[i]);
		free(paths[i]);
	}
	free(owned);
	free(fx);
	free(paths);
	free(have);
	free(seen);
	free(queue);
	free(adir);
	free(dir);
	return (int)(d->n - before);
}

/* Whether path is a directory. */
static int is_dir(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Checks the message templates and prints their problems on out;
 * returns their number. */
static int check_templates(const char *root, FILE *out)
{
	struct flow_diag d = { NULL, 0 };
	int n = wording_check_templates(root, &d);

	for (size_t i = 0; i < d.n; i++)
		fprintf(out, "%s\n", d.msgs[i]);
	flow_diag_free(&d);
	return n;
}

/* Checks one flow and prints its problems on out; returns their number. */
static int check_one(const char *root, const char *name, int production, FILE *out,
	struct check_stats *st)
{
	struct flow_diag d = { NULL, 0 };
	struct flow *f;
	int n;

	f = flow_load(root, name, &d);
	if (f) {
		check_flow(f, root, production, &d);
		st->states += (int)f->nstates;
	}
	st->flows++;
	for (size_t i = 0; i < d.n; i++)
		fprintf(out, "%s\n", d.msgs[i]);
	n = (int)d.n;
	flow_diag_free(&d);
	flow_free(f);
	return n;
}

int check_run(const char *root, int production, char *const *flows, int nflows,
	FILE *out, struct check_stats *st)
{
	char *sdir = flow_path(root, "state_tables");
	struct dirent **ents = NULL;
	int n = 0, problems = -1;

	memset(st, 0, sizeof(*st));
	if (!is_dir(sdir))
		goto out;
	problems = 0;
	if (nflows > 0) {
		for (int i = 0; i < nflows; i++) {
			char *rel = xasprintf("state_tables/%s", flows[i]);
			char *fdir = flow_path(root, rel);
			if (strcmp(flows[i], WORDING_DIR) == 0 && is_dir(fdir)) {
				problems += check_templates(root, out);
			} else if (flow_name_valid(flows[i]) && is_dir(fdir)) {
				problems += check_one(root, flows[i], production, out, st);
			} else {
				fprintf(out, "%s: no such flow\n", fdir);
				problems++;
			}
			free(fdir);
			free(rel);
		}
		goto out;
	}
	n = scandir(sdir, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char *fdir = xasprintf("%s/%s", sdir, name);
		if (strcmp(name, WORDING_DIR) == 0 && is_dir(fdir)) {
			/* Not a flow: the reminder text's and email's templates. */
			problems += check_templates(root, out);
		} else if (name[0] != '.' && is_dir(fdir)) {
			if (flow_name_valid(name)) {
				problems += check_one(root, name, production, out, st);
			} else {
				/* The engine skips such a directory, so its calls
				 * would never work: say so rather than skip it too. */
				fprintf(out, "%s: not a valid flow name (want [a-z][a-z0-9_]{0,63})\n", fdir);
				problems++;
			}
		}
		free(fdir);
	}
out:
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	free(sdir);
	if (problems >= 0)
		st->problems = problems;
	fflush(out);
	return problems;
}

int check_all(const char *root, int production, FILE *out)
{
	struct check_stats st;
	return check_run(root, production, NULL, 0, out, &st);
}

/* Prints s as a dot quoted string. */
static void dot_quote(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if ((unsigned char)*s < 0x20)
			fputc(' ', out);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

void check_diagram(const struct flow *f, FILE *out)
{
	fprintf(out, "digraph ");
	dot_quote(out, f->name);
	fprintf(out, " {\n"
		"\trankdir=LR;\n"
		"\tnode [shape=circle, fontname=\"Helvetica\"];\n"
		"\tedge [fontname=\"Helvetica\"];\n"
		"\t\"__start\" [shape=point, label=\"\"];\n"
		"\t\"__start\" -> ");
	dot_quote(out, f->states[f->start].name);
	fprintf(out, " [label=\"start\"];\n");
	for (size_t i = 0; i < f->nstates; i++) {
		fputc('\t', out);
		dot_quote(out, f->states[i].name);
		if (f->states[i].terminal)
			fprintf(out, " [shape=doublecircle]");
		else if ((int)i == f->start)
			fprintf(out, " [style=bold]");
		fprintf(out, ";\n");
	}
	for (size_t k = 0; k < f->ntrans; k++) {
		const struct flow_transition *t = &f->trans[k];
		char *label = t->action ? xasprintf("%s / %s", t->on, t->action) : xstrdup(t->on);
		fputc('\t', out);
		dot_quote(out, f->states[t->from].name);
		fprintf(out, " -> ");
		dot_quote(out, f->states[t->to].name);
		fprintf(out, " [label=");
		dot_quote(out, label);
		fprintf(out, "];\n");
		free(label);
	}
	fprintf(out, "}\n");
}

/* RINGFENCE_ROOT, else the current directory, as the engine uses. */
static const char *default_root(void)
{
	const char *r = getenv("RINGFENCE_ROOT");
	return r && *r ? r : ".";
}

/* Runs lint on root/sub when root has it: its problems (1 when sub
 * cannot be read), printed to stdout. */
static int check_lint_sub(const char *root, const char *sub, int (*lint)(const char *, FILE *))
{
	char *dir = xasprintf("%s/%s", root, sub);
	struct stat sb;
	int m = 0;

	if (stat(dir, &sb) == 0) {
		m = lint(dir, stdout);
		m = m < 0 ? 1 : m;
	}
	free(dir);
	return m;
}

int check_main(int argc, char **argv)
{
	const char *root = default_root();
	char **flows = xcalloc((size_t)argc + 1, sizeof(*flows));
	int nflows = 0, production = 0, list_actions = 0, rc = 2, n, i;
	struct check_stats st;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			printf("usage: ringfence check [--root DIR] [--production] [FLOW...]\n"
			       "       ringfence check --list-actions\n\n"
			       "Checks each call flow under DIR/state_tables (default: RINGFENCE_ROOT, else .):\n"
			       "transitions name existing states and registered actions, every state has\n"
			       "valid TwiML, played audio exists under DIR/audio, every state is reachable,\n"
			       "states that wait for input have a Gather and a timeout exit, terminal states\n"
			       "hang up, templates use only allow-listed fields, and no state reached on\n"
			       "'machine' or 'timeout' asks for a keypress.  --production also requires\n"
			       "fixed prompts to be recorded audio rather than Say.  A text flow (a name\n"
			       "ending in _sms, as reminder_sms) instead answers each state with at most one\n"
			       "<Message> of text and no voice verb, and a state waiting for a text needs\n"
			       "an 'other' exit.  Without FLOW, also the reminder text and email templates\n"
			       "under DIR/state_tables/messages: allowed fields only, the STOP line and the\n"
			       "unsubscribe link present, a text within 2 SMS segments at its longest, and\n"
			       "carrier keywords (STOP, CANCEL, END, HELP, ...) suggested only for what they\n"
			       "do; every <Message> a flow texts is held to the same segment, field and\n"
			       "keyword rules.\n\n"
			       "Prints one line per problem, then \"check: N flows, N states, N problems\".\n"
			       "Exit status: 0 clean, 1 problems, 2 usage error.\n");
			rc = 0;
			goto out;
		} else if (strcmp(a, "--root") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "ringfence check: --root needs a directory\n");
				goto out;
			}
			root = argv[++i];
		} else if (strncmp(a, "--root=", 7) == 0) {
			root = a + 7;
		} else if (strcmp(a, "--production") == 0) {
			production = 1;
		} else if (strcmp(a, "--list-actions") == 0) {
			list_actions = 1;
		} else if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++)
				flows[nflows++] = argv[i];
		} else if (a[0] == '-') {
			fprintf(stderr, "ringfence check: unknown option '%s' (see --help)\n", a);
			goto out;
		} else {
			flows[nflows++] = argv[i];
		}
	}
	if (list_actions) {
		for (const struct action_def *ad = actions_table; ad->name; ad++)
			printf("%-20s %s\n", ad->name, ad->doc ? ad->doc : "");
		rc = 0;
		goto out;
	}
	n = check_run(root, production, flows, nflows, stdout, &st);
	if (n < 0) {
		fprintf(stderr, "ringfence check: no state_tables directory in %s\n", root);
		rc = 1;
		goto out;
	}
	if (nflows == 0) {
		/* The migrations' phase lines and the expand lint (sql/), and
		 * every statement of the pool and the workers prepared (src/). */
		int m = check_lint_sub(root, "sql", migrate_lint_dir) +
			check_lint_sub(root, "src", dblint_dir);
		st.problems += m;
		n += m;
	}
	printf("check: %d flows, %d states, %d problems\n", st.flows, st.states, st.problems);
	rc = n == 0 ? 0 : 1;
out:
	fflush(stdout);
	free(flows);
	return rc;
}

int diagram_main(int argc, char **argv)
{
	const char *root = default_root();
	const char *name = NULL;
	struct flow_diag d = { NULL, 0 };
	struct flow *f = NULL;
	int rc = 2;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			printf("usage: ringfence diagram [--root DIR] FLOW\n\n"
			       "Prints the state table of FLOW (DIR/state_tables/FLOW, default DIR:\n"
			       "RINGFENCE_ROOT, else .) as a Graphviz dot digraph: one node per state,\n"
			       "terminal states as double circles, the start state marked by an arrow,\n"
			       "edges labelled \"input / action\".  For example:\n"
			       "  ringfence diagram reminder_call | dot -Tsvg > reminder_call.svg\n");
			rc = 0;
			goto out;
		} else if (strcmp(a, "--root") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "ringfence diagram: --root needs a directory\n");
				goto out;
			}
			root = argv[++i];
		} else if (strncmp(a, "--root=", 7) == 0) {
			root = a + 7;
		} else if (a[0] == '-') {
			fprintf(stderr, "ringfence diagram: unknown option '%s' (see --help)\n", a);
			goto out;
		} else if (name == NULL) {
			name = a;
		} else {
			fprintf(stderr, "ringfence diagram: one FLOW only (see --help)\n");
			goto out;
		}
	}
	if (name == NULL) {
		fprintf(stderr, "ringfence diagram: which FLOW? (see --help)\n");
		goto out;
	}
	f = flow_load(root, name, &d);
	if (f == NULL) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", d.msgs[i]);
		rc = 1;
		goto out;
	}
	/* Template problems do not change the graph; check reports them. */
	check_diagram(f, stdout);
	rc = 0;
out:
	fflush(stdout);
	flow_free(f);
	flow_diag_free(&d);
	return rc;
}

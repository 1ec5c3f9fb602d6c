/* flow: call flows loaded from state_tables/<flow>/ (see flow.h). */
#include "flow.h"
#include "twiml.h"
#include "twiml_ref.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A transitions file is a few dozen lines; FLOW_MAX_TRANSITIONS lines of
 * three 64-character names stay well below this. */
#define FLOW_MAX_FILE (512 * 1024)

/* Fields a transitions line may have, plus one to notice a fifth. */
#define FLOW_MAX_FIELDS 5

/* After this many bad lines a file is not a transitions file at all;
 * listing every line would only bury the first, useful message. */
#define FLOW_MAX_ERRORS 50

/* Loads the template of state at path, its problems naming the state. */
static xmlDocPtr load_template(const char *path, const char *state, struct flow_diag *d)
{
	struct flow_diag tmp = { NULL, 0 };
	xmlDocPtr doc = twiml_load(path, &tmp);

	flow_diag_merge_state(d, &tmp, path, state);
	flow_diag_free(&tmp);
	return doc;
}

/* Compiles st's template and holds the result to libxml2's rendering
 * (twiml_ref.h).  A template that does not validate is left to `ringfence
 * check`, which says why in twiml_validate's words; one that validates
 * and still does not compile, or renders otherwise than libxml2 would, is
 * noted here (no worker serves it: engine_new refuses a noted flow). */
static void compile_template(struct flow_state *st, struct flow_diag *d)
{
	char err[256];
	struct flow_diag tmp = { NULL, 0 };
	int valid;

	if (st->tmpl == NULL)
		return;
	valid = twiml_validate(st->tmpl, st->tmpl_path, &tmp) == 0;
	flow_diag_free(&tmp);
	st->prog = twiml_compile(st->tmpl, err, sizeof(err));
	if (!valid)
		return;
	if (st->prog == NULL) {
		flow_diag_add(d, "%s: state '%s': the template cannot be compiled: %s",
			st->tmpl_path, st->name, err);
	} else if (twiml_ref_verify(st->tmpl, st->prog, err, sizeof(err)) < 0) {
		flow_diag_add(d, "%s: state '%s': the compiled template renders otherwise than "
			"libxml2: %s", st->tmpl_path, st->name, err);
		twiml_prog_free(st->prog);
		st->prog = NULL;
	}
}

/* Whether the n bytes at s are a name: [a-z][a-z0-9_]{0,63}. */
static int name_ok(const char *s, size_t n)
{
	if (n == 0 || n > FLOW_MAX_NAME || s[0] < 'a' || s[0] > 'z')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

int flow_name_valid(const char *s)
{
	return s != NULL && name_ok(s, strnlen(s, FLOW_MAX_NAME + 1));
}

int flow_dir_is_flow(const char *name)
{
	return flow_name_valid(name) && strcmp(name, FLOW_MESSAGES_DIR) != 0;
}

int flow_is_key(const char *on)
{
	return on != NULL && on[0] != '\0' && on[1] == '\0' && strchr("0123456789*#", on[0]) != NULL;
}

int flow_is_builtin_input(const char *on)
{
	return flow_is_key(on) || (on != NULL && (strcmp(on, "timeout") == 0 ||
		strcmp(on, "machine") == 0 || strcmp(on, "other") == 0 ||
		strcmp(on, "recorded") == 0));
}

/* Copies a field for a message: at most 64 bytes, anything that is not
 * printable ASCII shown as '?', so a broken file cannot put control
 * characters on the operator's terminal. */
static void field_show(char out[FLOW_MAX_NAME + 4], const char *s, size_t n)
{
	size_t i, m = n > FLOW_MAX_NAME ? FLOW_MAX_NAME : n;

	for (i = 0; i < m; i++)
		out[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (m < n) {
		out[i++] = '.';
		out[i++] = '.';
		out[i++] = '.';
	}
	out[i] = '\0';
}

/* The index of the state called name (n bytes), added when new; -1 when
 * the flow already has FLOW_MAX_STATES states. */
static int state_intern(struct flow *f, const char *name, size_t n)
{
	for (size_t i = 0; i < f->nstates; i++)
		if (strlen(f->states[i].name) == n && memcmp(f->states[i].name, name, n) == 0)
			return (int)i;
	if (f->nstates == FLOW_MAX_STATES)
		return -1;
	f->states[f->nstates].name = xstrndup(name, n);
	return (int)f->nstates++;
}

struct field {
	const char *s;
	size_t n;
};

/* Parses one line (n bytes, no newline) into f.  Returns 0 for a
 * transition or a blank/comment line, -1 after adding a message to d. */
static int parse_line(struct flow *f, const char *line, size_t n, int lineno,
	const char *file, struct flow_diag *d)
{
	struct field fl[FLOW_MAX_FIELDS];
	size_t nf = 0, i = 0;
	char show[FLOW_MAX_NAME + 4];
	int from, to;
	struct flow_transition *t;

	while (i < n) {
		size_t start;
		while (i < n && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && line[i] != ' ' && line[i] != '\t')
			i++;
		/* '#' is a comment unless it is the `on` field's key. */
		if (line[start] == '#' && !(nf == 1 && i - start == 1))
			break;
		if (nf == FLOW_MAX_FIELDS)
			break;
		fl[nf].s = line + start;
		fl[nf].n = i - start;
		nf++;
	}
	if (nf == 0)
		return 0;
	if (nf < 3 || nf > 4) {
		flow_diag_add(d, "%s:%d: expected 'from on to [action]', found %s%zu field%s", file,
			lineno, nf == FLOW_MAX_FIELDS ? "more than " : "",
			nf == FLOW_MAX_FIELDS ? nf - 1 : nf, nf == 1 ? "" : "s");
		return -1;
	}
	for (size_t k = 0; k < nf; k++) {
		if (k == 1) {
			char on[FLOW_MAX_NAME + 1];
			int ok = 0;
			if (fl[1].n <= FLOW_MAX_NAME) {
				memcpy(on, fl[1].s, fl[1].n);
				on[fl[1].n] = '\0';
				ok = strlen(on) == fl[1].n && (flow_is_builtin_input(on) || name_ok(on, fl[1].n));
			}
			if (!ok) {
				field_show(show, fl[1].s, fl[1].n);
				flow_diag_add(d, "%s:%d: bad input '%s' (a key 0-9 * #, timeout, machine, "
					"other, or an event name [a-z][a-z0-9_]*)", file, lineno, show);
				return -1;
			}
		} else if (!name_ok(fl[k].s, fl[k].n)) {
			field_show(show, fl[k].s, fl[k].n);
			flow_diag_add(d, "%s:%d: bad %s name '%s' (want [a-z][a-z0-9_]{0,63})", file, lineno,
				k == 3 ? "action" : "state", show);
			return -1;
		}
	}
	if (f->ntrans == FLOW_MAX_TRANSITIONS) {
		flow_diag_add(d, "%s:%d: more than %d transitions", file, lineno, FLOW_MAX_TRANSITIONS);
		return -1;
	}
	from = state_intern(f, fl[0].s, fl[0].n);
	to = from < 0 ? -1 : state_intern(f, fl[2].s, fl[2].n);
	if (from < 0 || to < 0) {
		flow_diag_add(d, "%s:%d: more than %d states", file, lineno, FLOW_MAX_STATES);
		return -1;
	}
	for (size_t k = 0; k < f->ntrans; k++) {
		const struct flow_transition *o = &f->trans[k];
		if (o->from == from && strlen(o->on) == fl[1].n && memcmp(o->on, fl[1].s, fl[1].n) == 0) {
			flow_diag_add(d, "%s:%d: duplicate transition from '%s' on '%s' (first on line %d)",
				file, lineno, f->states[from].name, o->on, o->line);
			return -1;
		}
	}
	t = &f->trans[f->ntrans++];
	t->from = from;
	t->to = to;
	t->on = xstrndup(fl[1].s, fl[1].n);
	t->action = nf == 4 ? xstrndup(fl[3].s, fl[3].n) : NULL;
	t->line = lineno;
	return 0;
}

struct flow *flow_parse(const char *name, const char *text, size_t len,
	const char *file, struct flow_diag *d)
{
	struct flow *f = xcalloc(1, sizeof(*f));
	size_t pos = 0;
	int lineno = 0, errors = 0;

	f->name = xstrdup(name);
	f->trans_path = xstrdup(file);
	f->states = xcalloc(FLOW_MAX_STATES, sizeof(*f->states));
	f->trans = xcalloc(FLOW_MAX_TRANSITIONS, sizeof(*f->trans));
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;

		pos += nl ? n + 1 : n;
		lineno++;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (parse_line(f, line, n, lineno, file, d) < 0) {
			errors++;
			/* Past the limit every further line would fail too. */
			if (f->ntrans == FLOW_MAX_TRANSITIONS || f->nstates == FLOW_MAX_STATES)
				break;
			if (errors == FLOW_MAX_ERRORS) {
				flow_diag_add(d, "%s:%d: too many errors, stopping", file, lineno);
				break;
			}
		}
	}
	if (errors == 0 && f->ntrans == 0) {
		flow_diag_add(d, "%s: no transitions", file);
		errors++;
	}
	if (errors) {
		flow_free(f);
		return NULL;
	}
	for (size_t i = 0; i < f->nstates; i++)
		f->states[i].terminal = 1;
	for (size_t i = 0; i < f->ntrans; i++)
		f->states[f->trans[i].from].terminal = 0;
	f->start = f->trans[0].from;
	return f;
}

char *flow_path(const char *root, const char *rel)
{
	size_t n;

	if (root == NULL || root[0] == '\0' || strcmp(root, ".") == 0)
		return xstrdup(rel);
	n = strlen(root);
	return xasprintf("%s%s%s", root, root[n - 1] == '/' ? "" : "/", rel);
}

void flow_note_template(const struct flow *f, int i, const char *path, struct flow_diag *d)
{
	const struct flow_state *st = &f->states[i];
	struct stat sb;

	if (stat(path, &sb) == 0) {
		/* It exists, so it did not parse: twiml_load says why. */
		xmlDocPtr doc = load_template(path, st->name, d);
		xmlFreeDoc(doc);
		return;
	}
	if (st->terminal) {
		/* Only named as a destination: the transition is what is wrong
		 * (a misspelt state), so point at it. */
		for (size_t k = 0; k < f->ntrans; k++) {
			const struct flow_transition *t = &f->trans[k];
			if (t->to == i) {
				flow_diag_add(d, "%s:%d: '%s' on '%s' goes to missing state '%s' (no %s.xml)",
					f->trans_path, t->line, f->states[t->from].name, t->on,
					st->name, st->name);
				return;
			}
		}
	}
	flow_diag_add(d, "%s: state '%s' has no template (file missing)", path, st->name);
}

struct flow *flow_load(const char *root, const char *name, struct flow_diag *d)
{
	struct flow *f = NULL;
	char *dir = NULL, *tpath = NULL, *text = NULL, *rel;
	size_t len = 0;

	if (!flow_name_valid(name)) {
		char show[FLOW_MAX_NAME + 4];
		field_show(show, name, strlen(name));
		rel = xasprintf("state_tables/%s", show);
		dir = flow_path(root, rel);
		free(rel);
		flow_diag_add(d, "%s: not a valid flow name (want [a-z][a-z0-9_]{0,63})", dir);
		goto out;
	}
	rel = xasprintf("state_tables/%s", name);
	dir = flow_path(root, rel);
	free(rel);
	tpath = xasprintf("%s/transitions", dir);
	text = util_read_file(tpath, FLOW_MAX_FILE, &len);
	if (text == NULL) {
		flow_diag_add(d, "%s: cannot read: %s", tpath,
			errno == EFBIG ? "file too large" : strerror(errno));
		goto out;
	}
	f = flow_parse(name, text, len, tpath, d);
	if (f == NULL)
		goto out;
	f->dir = dir;
	dir = NULL;
	rel = xasprintf("audio/%s", name);
	f->audio_dir = flow_path(root, rel);
	free(rel);
	for (size_t i = 0; i < f->nstates; i++) {
		struct flow_state *st = &f->states[i];
		struct stat sb;
		st->tmpl_path = xasprintf("%s/%s.xml", f->dir, st->name);
		if (stat(st->tmpl_path, &sb) == 0) {
			st->tmpl = load_template(st->tmpl_path, st->name, d);
			compile_template(st, d);
		} else
			flow_note_template(f, (int)i, st->tmpl_path, d);
	}
out:
	free(text);
	free(tpath);
	free(dir);
	return f;
}

void flow_free(struct flow *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nstates; i++) {
		free(f->states[i].name);
		free(f->states[i].tmpl_path);
		if (f->states[i].tmpl)
			xmlFreeDoc(f->states[i].tmpl);
		twiml_prog_free(f->states[i].prog);
	}
	for (size_t i = 0; i < f->ntrans; i++) {
		free(f->trans[i].on);
		free(f->trans[i].action);
	}
	free(f->states);
	free(f->trans);
	free(f->name);
	free(f->dir);
	free(f->audio_dir);
	free(f->trans_path);
	free(f);
}

int flow_state_index(const struct flow *f, const char *name)
{
	if (f == NULL || name == NULL)
		return -1;
	for (size_t i = 0; i < f->nstates; i++)
		if (strcmp(f->states[i].name, name) == 0)
			return (int)i;
	return -1;
}

const struct flow_transition *flow_next(const struct flow *f, int state, const char *input)
{
	if (f == NULL || input == NULL || state < 0 || (size_t)state >= f->nstates)
		return NULL;
	for (size_t i = 0; i < f->ntrans; i++)
		if (f->trans[i].from == state && strcmp(f->trans[i].on, input) == 0)
			return &f->trans[i];
	/* "other" stands for any key the table does not name; never for
	 * timeout, machine or an event, which must be handled explicitly. */
	if (flow_is_key(input))
		for (size_t i = 0; i < f->ntrans; i++)
			if (f->trans[i].from == state && strcmp(f->trans[i].on, "other") == 0)
				return &f->trans[i];
	return NULL;
}

int flow_is_text(const struct flow *f)
{
	size_t n = strlen(f->name);
	return n > 4 && strcmp(f->name + n - 4, "_sms") == 0;
}

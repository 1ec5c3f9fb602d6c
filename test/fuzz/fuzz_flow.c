/* libFuzzer harness for flow_parse (the transitions file parser).
 *
 * Any input either fails with at least one message naming the file, or
 * gives a flow that keeps every promise of flow.h.  An accepted flow is
 * written back out as a table and parsed again, which must give the same
 * flow: what the parser accepts means one thing.  It is also drawn with
 * check_diagram and walked with flow_next.  Any broken promise aborts. */
#include "fuzz.h"

#include "check.h"
#include "flow.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const probes[] = {
	"0", "1", "9", "*", "#", "timeout", "machine", "other", "valid", "x", "", "12",
};

static void check_flow_promises(const struct flow *f)
{
	CHECK(f->nstates >= 1 && f->nstates <= FLOW_MAX_STATES);
	CHECK(f->ntrans >= 1 && f->ntrans <= FLOW_MAX_TRANSITIONS);
	CHECK(f->start >= 0 && (size_t)f->start < f->nstates);
	CHECK(f->start == f->trans[0].from);
	for (size_t i = 0; i < f->nstates; i++) {
		int has_exit = 0;
		CHECK(flow_name_valid(f->states[i].name));
		CHECK(flow_state_index(f, f->states[i].name) == (int)i);
		CHECK(f->states[i].tmpl == NULL);
		for (size_t k = 0; k < f->ntrans; k++)
			has_exit |= f->trans[k].from == (int)i;
		CHECK(f->states[i].terminal == !has_exit);
	}
	for (size_t k = 0; k < f->ntrans; k++) {
		const struct flow_transition *t = &f->trans[k];
		CHECK(t->from >= 0 && (size_t)t->from < f->nstates);
		CHECK(t->to >= 0 && (size_t)t->to < f->nstates);
		CHECK(flow_is_builtin_input(t->on) || flow_name_valid(t->on));
		CHECK(t->action == NULL || flow_name_valid(t->action));
		CHECK(t->line >= 1);
		CHECK(k == 0 || t->line > f->trans[k - 1].line);
		/* (from, on) is unique, so the exact match is this line. */
		CHECK(flow_next(f, t->from, t->on) == t);
	}
	for (size_t i = 0; i < f->nstates; i++) {
		for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
			const struct flow_transition *t = flow_next(f, (int)i, probes[p]);
			if (t == NULL)
				continue;
			CHECK(t->from == (int)i);
			CHECK(strcmp(t->on, probes[p]) == 0 ||
				(strcmp(t->on, "other") == 0 && flow_is_key(probes[p])));
		}
	}
}

/* Writes f as a transitions text (caller frees). */
static char *write_table(const struct flow *f, size_t *len)
{
	char *text = NULL;
	FILE *m = open_memstream(&text, len);

	CHECK(m != NULL);
	fprintf(m, "# written back by fuzz_flow\n");
	for (size_t k = 0; k < f->ntrans; k++) {
		const struct flow_transition *t = &f->trans[k];
		fprintf(m, "%s\t%s\t%s%s%s\n", f->states[t->from].name, t->on,
			f->states[t->to].name, t->action ? " " : "", t->action ? t->action : "");
	}
	CHECK(fclose(m) == 0);
	return text;
}

static void check_same(const struct flow *a, const struct flow *b)
{
	CHECK(a->nstates == b->nstates && a->ntrans == b->ntrans && a->start == b->start);
	for (size_t i = 0; i < a->nstates; i++) {
		CHECK(strcmp(a->states[i].name, b->states[i].name) == 0);
		CHECK(a->states[i].terminal == b->states[i].terminal);
	}
	for (size_t k = 0; k < a->ntrans; k++) {
		const struct flow_transition *s = &a->trans[k], *t = &b->trans[k];
		CHECK(s->from == t->from && s->to == t->to && strcmp(s->on, t->on) == 0);
		CHECK((s->action == NULL) == (t->action == NULL));
		CHECK(s->action == NULL || strcmp(s->action, t->action) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flow_diag d = { NULL, 0 };
	struct flow *f = flow_parse("fuzz", (const char *)data, size, "fuzz/transitions", &d);

	if (f == NULL) {
		CHECK(d.n >= 1);
		for (size_t i = 0; i < d.n; i++)
			CHECK(strncmp(d.msgs[i], "fuzz/transitions", 16) == 0);
	} else {
		struct flow_diag d2 = { NULL, 0 };
		size_t len = 0;
		char *text;
		struct flow *g;
		char *dot = NULL;
		size_t dotlen = 0;
		FILE *m;

		CHECK(d.n == 0);
		check_flow_promises(f);
		text = write_table(f, &len);
		g = flow_parse("fuzz", text, len, "again", &d2);
		CHECK(g != NULL && d2.n == 0);
		check_same(f, g);
		flow_free(g);
		free(text);
		m = open_memstream(&dot, &dotlen);
		CHECK(m != NULL);
		check_diagram(f, m);
		CHECK(fclose(m) == 0);
		CHECK(dotlen > 0 && dot[dotlen - 1] == '\n');
		free(dot);
		flow_diag_free(&d2);
	}
	flow_free(f);
	flow_diag_free(&d);
	return 0;
}

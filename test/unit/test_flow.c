/* Unit tests: flow (transitions parser, loader, flow_next). */
#include "unit.h"

#include "flow.h"
#include "util.h"


static struct flow *parse(const char *text, struct flow_diag *d)
{
	return flow_parse("t", text, strlen(text), "t", d);
}

/* Syntax errors: each text gives exactly one message and no flow. */
static void test_parse_errors(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "", "t: no transitions" },
		{ "# just a comment\n\n   \t\n", "t: no transitions" },
		{ "a 1", "t:1: expected 'from on to [action]', found 2 fields" },
		{ "a", "t:1: expected 'from on to [action]', found 1 field" },
		{ "a 1 b c d", "t:1: expected 'from on to [action]', found more than 4 fields" },
		{ "a 1 b c d e f", "t:1: expected 'from on to [action]', found more than 4 fields" },
		{ "\n\nA 1 b", "t:3: bad state name 'A' (want [a-z][a-z0-9_]{0,63})" },
		{ "a 1 B", "t:1: bad state name 'B' (want [a-z][a-z0-9_]{0,63})" },
		{ "a 1 9b", "t:1: bad state name '9b' (want [a-z][a-z0-9_]{0,63})" },
		{ "a-b 1 c", "t:1: bad state name 'a-b' (want [a-z][a-z0-9_]{0,63})" },
		{ "_a 1 c", "t:1: bad state name '_a' (want [a-z][a-z0-9_]{0,63})" },
		{ "a 12 b", "t:1: bad input '12' (a key 0-9 * #, timeout, machine, other, or an event name [a-z][a-z0-9_]*)" },
		{ "a Timeout b", "t:1: bad input 'Timeout' (a key 0-9 * #, timeout, machine, other, or an event name [a-z][a-z0-9_]*)" },
		{ "a ** b", "t:1: bad input '**' (a key 0-9 * #, timeout, machine, other, or an event name [a-z][a-z0-9_]*)" },
		{ "a 1 b Confirm", "t:1: bad action name 'Confirm' (want [a-z][a-z0-9_]{0,63})" },
		{ "a 1 b\na 1 c", "t:2: duplicate transition from 'a' on '1' (first on line 1)" },
		{ "a timeout b\nc 1 d\na timeout d", "t:3: duplicate transition from 'a' on 'timeout' (first on line 1)" },
		{ "a\x01 1 b", "t:1: bad state name 'a?' (want [a-z][a-z0-9_]{0,63})" },
		{ "a 1 b\xc3\xa9", "t:1: bad state name 'b?" "?' (want [a-z][a-z0-9_]{0,63})" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct flow_diag d = { NULL, 0 };
		struct flow *f = parse(cases[i].text, &d);
		if (f != NULL || d.n != 1 || strcmp(d.msgs[0], cases[i].msg) != 0) {
			print_error("case %zu (%s): got %zu messages, first '%s'\n", i, cases[i].text,
				d.n, d.n ? d.msgs[0] : "");
			fail();
		}
		flow_diag_free(&d);
	}
}

static void test_parse_reports_every_bad_line(void **state)
{
	struct flow_diag d = { NULL, 0 };
	struct flow *f = parse("a 1 b\nA 1 b\na 2\na 3 b\n", &d);
	(void)state;
	assert_null(f);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.msgs[0], "t:2: bad state name 'A' (want [a-z][a-z0-9_]{0,63})");
	assert_string_equal(d.msgs[1], "t:3: expected 'from on to [action]', found 2 fields");
	flow_diag_free(&d);
}

/* A file that is not a transitions file gives a bounded list. */
static void test_parse_stops_after_many_errors(void **state)
{
	struct flow_diag d = { NULL, 0 };
	struct flow *f;
	char text[60 * 4 + 1];

	(void)state;
	for (int i = 0; i < 60; i++)
		memcpy(text + 4 * i, "X y\n", 4);
	f = flow_parse("t", text, 240, "t", &d);
	assert_null(f);
	assert_int_equal(d.n, 51);
	assert_string_equal(d.msgs[0], "t:1: expected 'from on to [action]', found 2 fields");
	assert_string_equal(d.msgs[49], "t:50: expected 'from on to [action]', found 2 fields");
	assert_string_equal(d.msgs[50], "t:50: too many errors, stopping");
	flow_diag_free(&d);
}

static void test_parse_ok(void **state)
{
	const char *text =
		"# comment line\n"
		"start  1        next   confirm   # trailing comment\n"
		"\n"
		"start\ttimeout\tend\r\n"
		"  start  #  next  #  '#' in the on field is the key\n"
		"start  *        end\n"
		"start  other    start\n"
		"next   valid    end\n"
		"next   timeout  end\n";
	struct flow_diag d = { NULL, 0 };
	struct flow *f = parse(text, &d);
	const char *name64 =
		"a123456789012345678901234567890123456789012345678901234567890123";

	(void)state;
	assert_non_null(f);
	assert_int_equal(d.n, 0);
	assert_int_equal(f->nstates, 3);
	assert_int_equal(f->ntrans, 7);
	assert_string_equal(f->states[f->start].name, "start");
	assert_string_equal(f->trans_path, "t");
	assert_string_equal(f->trans[0].on, "1");
	assert_string_equal(f->trans[0].action, "confirm");
	assert_int_equal(f->trans[0].line, 2);
	assert_string_equal(f->trans[1].on, "timeout");
	assert_null(f->trans[1].action);
	assert_int_equal(f->trans[1].line, 4);
	assert_string_equal(f->trans[2].on, "#");
	assert_null(f->trans[2].action);
	assert_string_equal(f->trans[3].on, "*");
	assert_string_equal(f->trans[5].on, "valid");
	assert_false(f->states[flow_state_index(f, "start")].terminal);
	assert_false(f->states[flow_state_index(f, "next")].terminal);
	assert_true(f->states[flow_state_index(f, "end")].terminal);
	assert_null(f->states[0].tmpl);
	flow_free(f);

	/* The longest name the header allows. */
	char *t = xasprintf("%s 1 b\n", name64);
	f = parse(t, &d);
	assert_non_null(f);
	assert_string_equal(f->states[0].name, name64);
	flow_free(f);
	free(t);
	assert_int_equal(d.n, 0);

	/* One longer is refused, and the message shows 64 bytes of it. */
	t = xasprintf("a 1 %sx\n", name64);
	f = parse(t, &d);
	assert_null(f);
	assert_int_equal(d.n, 1);
	char *want = xasprintf("t:1: bad state name '%s...' (want [a-z][a-z0-9_]{0,63})", name64);
	assert_string_equal(d.msgs[0], want);
	free(want);
	free(t);
	flow_diag_free(&d);
}

/* len bounds the text: what follows is never read (ASan would see it if
 * the parser ran past the end of a heap copy). */
static void test_parse_uses_len(void **state)
{
	const char *text = "a 1 b\na 2 c\n";
	char *copy = xmalloc(6);
	struct flow_diag d = { NULL, 0 };
	struct flow *f;

	(void)state;
	memcpy(copy, text, 6);
	f = flow_parse("t", copy, 6, "t", &d);
	assert_non_null(f);
	assert_int_equal(f->ntrans, 1);
	flow_free(f);
	/* An embedded NUL is a bad byte, not the end of the text. */
	f = flow_parse("t", "a 1 b\0c\n", 8, "t", &d);
	assert_null(f);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], "t:1: bad state name 'b?c' (want [a-z][a-z0-9_]{0,63})");
	flow_diag_free(&d);
	free(copy);
}

static void test_parse_limits(void **state)
{
	struct flow_diag d = { NULL, 0 };
	struct buf_s {
		char *p;
		size_t n;
	} b = { NULL, 0 };
	struct flow *f;
	FILE *m;

	(void)state;
	/* 256 states are fine, the 257th is not. */
	m = open_memstream(&b.p, &b.n);
	for (int i = 0; i < 255; i++)
		fprintf(m, "s0 k%d s%d\n", i, i + 1);
	fclose(m);
	f = flow_parse("t", b.p, b.n, "t", &d);
	assert_non_null(f);
	assert_int_equal(f->nstates, FLOW_MAX_STATES);
	flow_free(f);
	free(b.p);
	m = open_memstream(&b.p, &b.n);
	for (int i = 0; i < 256; i++)
		fprintf(m, "s0 k%d s%d\n", i, i + 1);
	fclose(m);
	f = flow_parse("t", b.p, b.n, "t", &d);
	assert_null(f);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], "t:256: more than 256 states");
	flow_diag_free(&d);
	free(b.p);

	/* 1024 transitions are fine, the 1025th is not. */
	m = open_memstream(&b.p, &b.n);
	for (int i = 0; i < 1025; i++)
		fprintf(m, "s%d k%d s%d\n", i % 4, i, (i + 1) % 4);
	fclose(m);
	f = flow_parse("t", b.p, b.n, "t", &d);
	assert_null(f);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], "t:1025: more than 1024 transitions");
	flow_diag_free(&d);
	free(b.p);
}

static void test_next(void **state)
{
	const char *text =
		"menu 1 one\n"
		"menu other bad\n"
		"menu timeout quiet\n"
		"menu checked good\n"
		"nokeys 1 one\n"
		"nokeys timeout quiet\n";
	static const struct {
		const char *from, *input, *to; /* to NULL: no transition */
	} cases[] = {
		{ "menu", "1", "one" },        /* exact */
		{ "menu", "2", "bad" },        /* any other key: "other" */
		{ "menu", "#", "bad" },
		{ "menu", "*", "bad" },
		{ "menu", "other", "bad" },    /* "other" itself is exact */
		{ "menu", "timeout", "quiet" },
		{ "menu", "machine", NULL },   /* never falls back to "other" */
		{ "menu", "checked", "good" }, /* an event */
		{ "menu", "unchecked", NULL }, /* an unknown event: no fallback */
		{ "menu", "12", NULL },        /* not a key, and not "other" */
		{ "menu", "", NULL },
		{ "nokeys", "2", NULL },       /* no "other" line: stay */
		{ "nokeys", "1", "one" },
		{ "one", "1", NULL },          /* terminal */
	};
	struct flow_diag d = { NULL, 0 };
	struct flow *f = parse(text, &d);

	(void)state;
	assert_non_null(f);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int s = flow_state_index(f, cases[i].from);
		const struct flow_transition *t = flow_next(f, s, cases[i].input);
		assert_true(s >= 0);
		if (cases[i].to == NULL) {
			if (t != NULL) {
				print_error("case %zu: %s on '%s' went to %s\n", i, cases[i].from,
					cases[i].input, f->states[t->to].name);
				fail();
			}
		} else {
			if (t == NULL || strcmp(f->states[t->to].name, cases[i].to) != 0) {
				print_error("case %zu: %s on '%s' did not go to %s\n", i, cases[i].from,
					cases[i].input, cases[i].to);
				fail();
			}
		}
	}
	assert_null(flow_next(f, -1, "1"));
	assert_null(flow_next(f, (int)f->nstates, "1"));
	assert_null(flow_next(f, 0, NULL));
	assert_null(flow_next(NULL, 0, "1"));
	assert_int_equal(flow_state_index(f, "nope"), -1);
	assert_int_equal(flow_state_index(f, NULL), -1);
	flow_free(f);
}

static void test_names_and_inputs(void **state)
{
	static const struct {
		const char *s;
		int key, builtin, name;
	} cases[] = {
		{ "0", 1, 1, 0 }, { "9", 1, 1, 0 }, { "*", 1, 1, 0 }, { "#", 1, 1, 0 },
		{ "timeout", 0, 1, 1 }, { "machine", 0, 1, 1 }, { "other", 0, 1, 1 },
		{ "recorded", 0, 1, 1 },
		{ "10", 0, 0, 0 }, { "", 0, 0, 0 }, { "a", 0, 0, 1 }, { "valid", 0, 0, 1 },
		{ "Timeout", 0, 0, 0 }, { "a_b9", 0, 0, 1 }, { "a-b", 0, 0, 0 },
		{ "a b", 0, 0, 0 }, { "../x", 0, 0, 0 },
		{ "a123456789012345678901234567890123456789012345678901234567890123", 0, 0, 1 },
		{ "a1234567890123456789012345678901234567890123456789012345678901234", 0, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		if (flow_is_key(cases[i].s) != cases[i].key ||
			flow_is_builtin_input(cases[i].s) != cases[i].builtin ||
			flow_name_valid(cases[i].s) != cases[i].name) {
			print_error("case %zu: '%s'\n", i, cases[i].s);
			fail();
		}
	}
	assert_false(flow_is_key(NULL));
	assert_false(flow_is_builtin_input(NULL));
	assert_false(flow_name_valid(NULL));
}

static void test_diag(void **state)
{
	struct flow_diag d = { NULL, 0 }, from = { NULL, 0 };

	(void)state;
	flow_diag_add(&d, "a %d", 1);
	flow_diag_add(&d, "a %d", 2);
	flow_diag_add(&d, "a %d", 1); /* the same problem again: kept once */
	assert_int_equal(d.n, 2);
	flow_diag_free(&d);
	assert_int_equal(d.n, 0);
	assert_null(d.msgs);

	flow_diag_add(&from, "dir/s.xml:3: bad thing");
	flow_diag_add(&from, "dir/s.xml: no line");
	flow_diag_add(&from, "dir/s.xmlx: another file");
	flow_diag_add(&from, "elsewhere: untouched");
	flow_diag_merge_state(&d, &from, "dir/s.xml", "s");
	assert_int_equal(d.n, 4);
	assert_string_equal(d.msgs[0], "dir/s.xml:3: state 's': bad thing");
	assert_string_equal(d.msgs[1], "dir/s.xml: state 's': no line");
	assert_string_equal(d.msgs[2], "dir/s.xmlx: another file");
	assert_string_equal(d.msgs[3], "elsewhere: untouched");
	flow_diag_free(&d);
	flow_diag_free(&from);
}

static void test_path(void **state)
{
	static const struct {
		const char *root, *out;
	} cases[] = {
		{ ".", "state_tables" }, { "", "state_tables" }, { NULL, "state_tables" },
		{ "/srv/rf", "/srv/rf/state_tables" }, { "/srv/rf/", "/srv/rf/state_tables" },
		{ "..", "../state_tables" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *p = flow_path(cases[i].root, "state_tables");
		assert_string_equal(p, cases[i].out);
		free(p);
	}
}

static void test_load_shipped(void **state)
{
	static const char *const terminal[] = {
		"confirmed", "cancelled", "callback", "reschedule", "machine_message", "no_choice",
		"goodbye_invalid",
	};
	static const char *const waiting[] = { "announce", "announce_retry", "details", "details_retry" };
	struct flow_diag d = { NULL, 0 };
	struct flow *f = flow_load(".", "reminder_call", &d);
	const struct flow_transition *t;
	int s;

	(void)state;
	assert_non_null(f);
	for (size_t i = 0; i < d.n; i++)
		print_error("%s\n", d.msgs[i]);
	assert_int_equal(d.n, 0);
	assert_string_equal(f->name, "reminder_call");
	assert_string_equal(f->dir, "state_tables/reminder_call");
	assert_string_equal(f->audio_dir, "audio/reminder_call");
	assert_string_equal(f->trans_path, "state_tables/reminder_call/transitions");
	assert_int_equal(f->nstates, 11);
	assert_string_equal(f->states[f->start].name, "announce");
	for (size_t i = 0; i < ARRAY_LEN(terminal); i++) {
		s = flow_state_index(f, terminal[i]);
		assert_true(s >= 0);
		assert_true(f->states[s].terminal);
	}
	for (size_t i = 0; i < ARRAY_LEN(waiting); i++) {
		s = flow_state_index(f, waiting[i]);
		assert_true(s >= 0);
		assert_false(f->states[s].terminal);
	}
	for (size_t i = 0; i < f->nstates; i++) {
		char *want = xasprintf("state_tables/reminder_call/%s.xml", f->states[i].name);
		assert_non_null(f->states[i].tmpl);
		assert_string_equal(f->states[i].tmpl_path, want);
		free(want);
	}

	/* The call as DESIGN.md describes it. */
	s = flow_state_index(f, "announce");
	assert_string_equal(f->states[flow_next(f, s, "1")->to].name, "details");
	assert_string_equal(f->states[flow_next(f, s, "timeout")->to].name, "machine_message");
	assert_string_equal(f->states[flow_next(f, s, "machine")->to].name, "machine_message");
	assert_string_equal(f->states[flow_next(f, s, "7")->to].name, "announce_retry");
	s = flow_state_index(f, "announce_retry");
	assert_string_equal(f->states[flow_next(f, s, "1")->to].name, "details");
	assert_string_equal(f->states[flow_next(f, s, "2")->to].name, "goodbye_invalid");
	assert_string_equal(f->states[flow_next(f, s, "timeout")->to].name, "machine_message");
	for (int retry = 0; retry < 2; retry++) {
		s = flow_state_index(f, retry ? "details_retry" : "details");
		t = flow_next(f, s, "1");
		assert_string_equal(f->states[t->to].name, "confirmed");
		assert_string_equal(t->action, "confirm");
		t = flow_next(f, s, "2");
		assert_string_equal(f->states[t->to].name, "cancelled");
		assert_string_equal(t->action, "cancel");
		t = flow_next(f, s, "3");
		assert_string_equal(f->states[t->to].name, "callback");
		assert_string_equal(t->action, "request_callback");
		t = flow_next(f, s, "timeout");
		assert_string_equal(f->states[t->to].name, "no_choice");
		assert_null(t->action);
		t = flow_next(f, s, "4");
		assert_string_equal(f->states[t->to].name, "reschedule");
		assert_string_equal(t->action, "request_reschedule");
		t = flow_next(f, s, "5");
		assert_string_equal(f->states[t->to].name, retry ? "goodbye_invalid" : "details_retry");
		assert_null(t->action);
	}
	flow_free(f);
}

static void test_load_failures(void **state)
{
	struct flow_diag d = { NULL, 0 };
	struct flow *f;

	(void)state;
	f = flow_load(".", "no_such_flow", &d);
	assert_null(f);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0],
		"state_tables/no_such_flow/transitions: cannot read: No such file or directory");
	flow_diag_free(&d);

	/* The name becomes a path: nothing but a valid name gets that far. */
	f = flow_load(".", "../reminder_call", &d);
	assert_null(f);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0],
		"state_tables/../reminder_call: not a valid flow name (want [a-z][a-z0-9_]{0,63})");
	flow_diag_free(&d);

	f = flow_load("test/fixtures/flows/bad_transitions", "x", &d);
	assert_null(f);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], "test/fixtures/flows/bad_transitions/state_tables/x/"
		"transitions:2: expected 'from on to [action]', found 2 fields");
	flow_diag_free(&d);
}

/* A missing or broken template leaves tmpl NULL and says why. */
static void test_load_notes_templates(void **state)
{
	static const struct {
		const char *root, *state, *msg;
	} cases[] = {
		{ "test/fixtures/flows/missing_state", "dnoe",
		  "test/fixtures/flows/missing_state/state_tables/x/transitions:1: 'ask' on '1' goes to "
		  "missing state 'dnoe' (no dnoe.xml)" },
		{ "test/fixtures/flows/missing_template", "middle",
		  "test/fixtures/flows/missing_template/state_tables/x/middle.xml: state 'middle' has no "
		  "template (file missing)" },
		{ "test/fixtures/flows/malformed_xml", "done",
		  "test/fixtures/flows/malformed_xml/state_tables/x/done.xml:5: state 'done': not "
		  "well-formed XML: Opening and ending tag mismatch: Say line 3 and Response" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct flow_diag d = { NULL, 0 };
		struct flow *f = flow_load(cases[i].root, "x", &d);
		int s;
		assert_non_null(f);
		s = flow_state_index(f, cases[i].state);
		assert_true(s >= 0);
		assert_null(f->states[s].tmpl);
		assert_int_equal(d.n, 1);
		assert_string_equal(d.msgs[0], cases[i].msg);
		/* Noting it again adds nothing. */
		flow_note_template(f, s, f->states[s].tmpl_path, &d);
		assert_int_equal(d.n, 1);
		flow_diag_free(&d);
		flow_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_reports_every_bad_line),
		cmocka_unit_test(test_parse_stops_after_many_errors),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_uses_len),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_names_and_inputs),
		cmocka_unit_test(test_diag),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_load_shipped),
		cmocka_unit_test(test_load_failures),
		cmocka_unit_test(test_load_notes_templates),
	};
	return cmocka_run_group_tests(tests, unit_go_to_repo_root, NULL);
}

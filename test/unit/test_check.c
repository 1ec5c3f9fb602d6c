/* Unit tests: check (every rule against a broken fixture, the shipped
 * flow, the diagram, the subcommands' arguments and exit statuses).
 *
 * The shipped flow's Play files are build products: run `make audio`
 * first (test/run does). */
#include "unit.h"

#include "buf.h"
#include "check.h"
#include "flow.h"
#include "util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX "test/fixtures/flows/"
#define FX(rule) FIX rule "/state_tables/x/"

/* Runs check_run on root into a string (caller frees); *rc gets its
 * return value. */
static char *run_check(const char *root, int production, char *const *flows, int nflows,
	int *rc, struct check_stats *st)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);

	assert_non_null(m);
	*rc = check_run(root, production, flows, nflows, m, st);
	fclose(m);
	return out;
}

static const struct {
	const char *rule;
	int production;
	const char *want; /* the whole output: one line per problem */
} rule_cases[] = {
	{ "fixed_say", 0, "" },
	{ "event_state", 0, "" },
	{ "fixed_say", 1,
	  FX("fixed_say") "ask.xml:4: state 'ask' speaks a fixed prompt with <Say>; production needs "
	  "recorded audio (<Play>)\n"
	  FX("fixed_say") "done.xml:3: state 'done' speaks a fixed prompt with <Say>; production needs "
	  "recorded audio (<Play>)\n"
	  FX("fixed_say") "bye.xml:3: state 'bye' speaks a fixed prompt with <Say>; production needs "
	  "recorded audio (<Play>)\n" },
	{ "missing_state", 0,
	  FX("missing_state") "transitions:1: 'ask' on '1' goes to missing state 'dnoe' (no dnoe.xml)\n" },
	{ "unknown_action", 0,
	  FX("unknown_action") "transitions:1: unknown action 'confrim' (from 'ask' on '1')\n" },
	{ "missing_template", 0,
	  FX("missing_template") "middle.xml: state 'middle' has no template (file missing)\n" },
	{ "invalid_twiml", 0,
	  FX("invalid_twiml") "done.xml:3: state 'done': <Speak> is not a TwiML voice verb\n" },
	{ "malformed_xml", 0,
	  FX("malformed_xml") "done.xml:5: state 'done': not well-formed XML: Opening and ending tag "
	  "mismatch: Say line 3 and Response\n" },
	{ "gather_action", 0,
	  FX("gather_action") "ask.xml:3: state 'ask': <Gather> must not set action= (the engine sets "
	  "it when rendering)\n" },
	{ "missing_audio", 0,
	  FX("missing_audio") "ask.xml:4: state 'ask' plays 'press_1.mp3' but "
	  FIX "missing_audio/audio/x/ask/press_1.mp3 is missing\n" },
	{ "unreachable_state", 0,
	  FX("unreachable_state") "transitions:3: state 'orphan' is unreachable from the start state 'ask'\n" },
	{ "dead_end", 0,
	  FX("dead_end") "transitions:1: state 'ask' has no 'timeout' exit (a caller who presses nothing "
	  "would be stuck)\n" },
	{ "no_gather", 0,
	  FX("no_gather") "ask.xml: state 'ask' has exits but its template has no <Gather> or <Record> "
	  "(it could never receive input)\n" },
	{ "record_no_hangup", 0,
	  FX("record_no_hangup") "rec.xml: state 'rec' records but does not end with <Hangup/> after "
	  "the <Record> (Twilio goes on to the next verb when the caller says nothing)\n" },
	{ "record_no_input", 0,
	  FX("record_no_input") "transitions:1: state 'ask' has a 'recorded' exit but its template "
	  "has no <Record>\n" },
	{ "no_hangup", 0,
	  FX("no_hangup") "done.xml: terminal state 'done' does not end with <Hangup/> or <Reject/>\n" },
	{ "terminal_gather", 0,
	  FX("terminal_gather") "done.xml: terminal state 'done' has a <Gather> but no exits (its input "
	  "could never be used)\n" },
	{ "bad_field", 0,
	  FX("bad_field") "done.xml:4: state 'done': placeholder {{notes}} is not an allowed field "
	  "(business_name, appointment_date, appointment_time, callback_number)\n" },
	{ "machine_keypress", 0,
	  FX("machine_keypress") "transitions:3: state 'voicemail' is reached on 'machine' from 'ask' but "
	  "asks for a keypress (its <Say> text says 'press'); an answering machine cannot press keys\n" },
	{ "timeout_keypress_audio", 0,
	  FX("timeout_keypress_audio") "transitions:2: state 'bye' is reached on 'timeout' from 'ask' but "
	  "asks for a keypress (its prompt call_us.mp3 says 'press'); an answering machine cannot "
	  "press keys\n" },
	{ "stray_template", 0,
	  FX("stray_template") "old_goodbye.xml: no transition mentions state 'old_goodbye' "
	  "(unreachable template)\n" },
	{ "bad_transitions", 0,
	  FX("bad_transitions") "transitions:2: expected 'from on to [action]', found 2 fields\n" },
};

/* Each fixture breaks one rule and gets exactly that rule's message. */
static void test_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(rule_cases); i++) {
		char *root = xasprintf(FIX "%s", rule_cases[i].rule);
		struct check_stats st;
		int rc, lines = 0;
		char *out = run_check(root, rule_cases[i].production, NULL, 0, &rc, &st);

		for (const char *p = rule_cases[i].want; *p; p++)
			lines += *p == '\n';
		if (strcmp(out, rule_cases[i].want) != 0 || rc != lines || st.problems != lines ||
			st.flows != 1) {
			print_error("%s%s: rc %d, output:\n%s\nwant:\n%s\n", rule_cases[i].rule,
				rule_cases[i].production ? " (production)" : "", rc, out, rule_cases[i].want);
			fail();
		}
		free(out);
		free(root);
	}
}

/* check_flow on its own: the engine calls it after flow_load with the
 * same diag, and a problem flow_load noted is not counted twice.  It also
 * checks a flow that went only through flow_parse, loading templates
 * itself. */
static void test_check_flow_direct(void **state)
{
	static const char *const rules[] = {
		"missing_state", "missing_template", "malformed_xml", "invalid_twiml", "dead_end",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(rules); i++) {
		char *root = xasprintf(FIX "%s", rules[i]);
		char *tpath = xasprintf(FIX "%s/state_tables/x/transitions", rules[i]);
		struct flow_diag d1 = { NULL, 0 }, d2 = { NULL, 0 };
		struct flow *f = flow_load(root, "x", &d1);
		size_t len = 0;
		char *text = util_read_file(tpath, 1 << 16, &len);
		struct flow *g;
		size_t loaded;
		int n;

		assert_non_null(f);
		loaded = d1.n;
		n = check_flow(f, root, 0, &d1);
		assert_int_equal(d1.n, 1);
		assert_int_equal(n, 1 - (int)loaded);
		assert_non_null(text);
		g = flow_parse("x", text, len, tpath, &d2);
		assert_non_null(g);
		assert_int_equal(check_flow(g, root, 0, &d2), 1);
		assert_string_equal(d1.msgs[0], d2.msgs[0]);
		flow_free(g);
		flow_free(f);
		flow_diag_free(&d1);
		flow_diag_free(&d2);
		free(text);
		free(tpath);
		free(root);
	}
}

static void test_shipped_flow_passes(void **state)
{
	(void)state;
	for (int production = 0; production < 2; production++) {
		struct check_stats st;
		int rc;
		char *out = run_check(".", production, NULL, 0, &rc, &st);
		if (rc != 0 || strcmp(out, "") != 0) {
			print_error("check%s found problems (run `make audio` first):\n%s",
				production ? " --production" : "", out);
			fail();
		}
		assert_true(st.flows >= 1);
		assert_true(st.states >= 10);
		assert_int_equal(st.problems, 0);
		free(out);
	}
}

static void test_named_flows(void **state)
{
	char *named[] = { "reminder_call", "no_such_flow", "../state_tables" };
	struct check_stats st;
	int rc;
	char *out;

	(void)state;
	out = run_check(".", 0, named, 3, &rc, &st);
	assert_string_equal(out,
		"state_tables/no_such_flow: no such flow\n"
		"state_tables/../state_tables: no such flow\n");
	assert_int_equal(rc, 2);
	assert_int_equal(st.flows, 1);
	assert_int_equal(st.states, 11);
	assert_int_equal(st.problems, 2);
	free(out);

	out = run_check(FIX "no_such_root", 0, NULL, 0, &rc, &st);
	assert_int_equal(rc, -1);
	assert_string_equal(out, "");
	free(out);
}

/* A flow directory the engine would skip is reported, not skipped. */
static void test_bad_flow_dir_name(void **state)
{
	char tmpl[] = "/tmp/rf_check_XXXXXX";
	char *root = mkdtemp(tmpl);
	char *p;
	struct check_stats st;
	int rc;
	char *out;

	(void)state;
	assert_non_null(root);
	p = xasprintf("%s/state_tables", root);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/state_tables/Bad-Flow", root);
	assert_int_equal(mkdir(p, 0700), 0);
	out = run_check(root, 0, NULL, 0, &rc, &st);
	{
		char *want = xasprintf("%s: not a valid flow name (want [a-z][a-z0-9_]{0,63})\n", p);
		assert_string_equal(out, want);
		free(want);
	}
	assert_int_equal(rc, 1);
	assert_int_equal(st.flows, 0);
	free(out);
	assert_int_equal(rmdir(p), 0);
	free(p);
	/* An empty state_tables is zero flows and no problem. */
	out = run_check(root, 0, NULL, 0, &rc, &st);
	assert_int_equal(rc, 0);
	assert_int_equal(st.flows, 0);
	free(out);
	p = xasprintf("%s/state_tables", root);
	assert_int_equal(rmdir(p), 0);
	free(p);
	assert_int_equal(rmdir(root), 0);
}

static void test_diagram(void **state)
{
	struct flow_diag d = { NULL, 0 };
	struct flow *f = flow_load(".", "reminder_call", &d);
	char *out = NULL, *golden;
	size_t len = 0, glen = 0;
	FILE *m;

	(void)state;
	assert_non_null(f);
	m = open_memstream(&out, &len);
	check_diagram(f, m);
	fclose(m);
	if (getenv("RINGFENCE_UPDATE_GOLDEN")) {
		FILE *fp = fopen("test/golden/reminder_call.dot", "w");
		assert_non_null(fp);
		fputs(out, fp);
		assert_int_equal(fclose(fp), 0);
	}
	golden = util_read_file("test/golden/reminder_call.dot", 1 << 20, &glen);
	assert_non_null(golden);
	if (glen != len || memcmp(golden, out, len) != 0) {
		print_error("test/golden/reminder_call.dot differs:\n%s", out);
		fail();
	}
	/* The parts the brief names, independently of the golden file. */
	assert_non_null(strstr(out, "digraph \"reminder_call\" {\n"));
	assert_non_null(strstr(out, "\t\"__start\" -> \"announce\""));
	assert_non_null(strstr(out, "\t\"confirmed\" [shape=doublecircle];\n"));
	assert_non_null(strstr(out, "\t\"machine_message\" [shape=doublecircle];\n"));
	assert_null(strstr(out, "\t\"details\" [shape=doublecircle]"));
	assert_non_null(strstr(out, "\t\"details\" -> \"confirmed\" [label=\"1 / confirm\"];\n"));
	assert_non_null(strstr(out, "\t\"announce\" -> \"machine_message\" [label=\"timeout\"];\n"));
	free(golden);
	free(out);
	flow_free(f);
	flow_diag_free(&d);

	/* Names are quoted for dot. */
	f = flow_parse("we\"ird", "a # b\n", 6, "t", &d);
	assert_non_null(f);
	out = NULL;
	m = open_memstream(&out, &len);
	check_diagram(f, m);
	fclose(m);
	assert_non_null(strstr(out, "digraph \"we\\\"ird\" {\n"));
	assert_non_null(strstr(out, "\t\"a\" -> \"b\" [label=\"#\"];\n"));
	free(out);
	flow_free(f);
}

/* Runs fn(argc, argv) with stdout and stderr sent to files; returns its
 * exit status and the captured text (caller frees). */
static int run_main(int (*fn)(int, char **), char **argv, char **out, char **err)
{
	char opath[] = "/tmp/rf_check_out_XXXXXX", epath[] = "/tmp/rf_check_err_XXXXXX";
	int ofd = mkstemp(opath), efd = mkstemp(epath);
	int saved_out = dup(1), saved_err = dup(2);
	int argc = 0, rc;

	assert_true(ofd >= 0 && efd >= 0 && saved_out >= 0 && saved_err >= 0);
	while (argv[argc])
		argc++;
	fflush(stdout);
	fflush(stderr);
	dup2(ofd, 1);
	dup2(efd, 2);
	rc = fn(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	close(ofd);
	close(efd);
	*out = util_read_file(opath, 1 << 20, NULL);
	*err = util_read_file(epath, 1 << 20, NULL);
	unlink(opath);
	unlink(epath);
	assert_non_null(*out);
	assert_non_null(*err);
	return rc;
}

/* One command line of a CLI entry point: what it must exit with, a text
 * its stdout must contain ("": stdout must be empty) and its whole
 * stderr. */
struct main_case {
	char *argv[6];
	int rc;
	const char *out_has;
	const char *err;
};

/* Runs fn on every case; fails the test, naming the case, at the first
 * that does not behave. */
static void run_cases(int (*fn)(int, char **), const struct main_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *out, *err;
		int rc = run_main(fn, (char **)cases[i].argv, &out, &err);
		int out_ok = cases[i].out_has[0] ? strstr(out, cases[i].out_has) != NULL : out[0] == '\0';
		if (rc != cases[i].rc || !out_ok || strcmp(err, cases[i].err) != 0) {
			print_error("case %zu: rc %d\nstdout:\n%s\nstderr:\n%s\n", i, rc, out, err);
			fail();
		}
		free(out);
		free(err);
	}
}

static void test_check_main(void **state)
{
	static const struct main_case cases[] = {
		{ { "check", "--help", NULL }, 0, "usage: ringfence check [--root DIR] [--production] [FLOW...]", "" },
		{ { "check", "-h", NULL }, 0, "usage: ringfence check", "" },
		{ { "check", "--bogus", NULL }, 2, "", "ringfence check: unknown option '--bogus' (see --help)\n" },
		{ { "check", "--root", NULL }, 2, "", "ringfence check: --root needs a directory\n" },
		{ { "check", "--root", ".", NULL }, 0, "check: 3 flows, 41 states, 0 problems\n", "" },
		{ { "check", "--production", "reminder_call", NULL }, 0, "check: 1 flows, 11 states, 0 problems\n", "" },
		{ { "check", "--root=" FIX "dead_end", NULL }, 1,
		  "has no 'timeout' exit (a caller who presses nothing would be stuck)\n"
		  "check: 1 flows, 3 states, 1 problems\n", "" },
		{ { "check", "--root", FIX "fixed_say", "--production", "x", NULL }, 1,
		  "check: 1 flows, 3 states, 3 problems\n", "" },
		{ { "check", "--root", FIX "fixed_say", "--", "x", NULL }, 0, "check: 1 flows, 3 states, 0 problems\n", "" },
		/* A text flow: its own rules, and no voice rule (no timeout
		 * exit, no hang-up) asked of it. */
		{ { "check", "--root", FIX "bad_text", NULL }, 1,
		  "placeholder {{notes}} is not an allowed field", "" },
		{ { "check", "--root", FIX "bad_text", NULL }, 1,
		  "of a text flow uses <Say>; a text reply holds only <Message>", "" },
		{ { "check", "--root", FIX "bad_text", NULL }, 1,
		  "sends more than one <Message> (one reply per text)", "" },
		{ { "check", "--root", FIX "bad_text", NULL }, 1,
		  "<Message> must have no attributes", "" },
		{ { "check", "--root", FIX "bad_text", NULL }, 1,
		  "state 'long': <Message>: at its longest (business name 30 characters", "" },
		{ { "check", "--root", FIX "bad_text", NULL }, 1,
		  "state 'two' of a text flow has no 'other' exit", "" },
		{ { "check", "--root", FIX "bad_text", NULL }, 1,
		  "check: 1 flows, 5 states, 8 problems\n", "" },
		{ { "check", "reminder_sms", NULL }, 0, "check: 1 flows, 17 states, 0 problems\n", "" },
		{ { "check", "--root", FIX "no_such_root", NULL }, 1, "",
		  "ringfence check: no state_tables directory in " FIX "no_such_root\n" },
		{ { "check", "--list-actions", NULL }, 0, "request_callback", "" },
	};

	(void)state;
	run_cases(check_main, cases, ARRAY_LEN(cases));
}

static void test_diagram_main(void **state)
{
	static const struct main_case cases[] = {
		{ { "diagram", "--help", NULL }, 0, "usage: ringfence diagram [--root DIR] FLOW", "" },
		{ { "diagram", NULL }, 2, "", "ringfence diagram: which FLOW? (see --help)\n" },
		{ { "diagram", "--nope", "reminder_call", NULL }, 2, "",
		  "ringfence diagram: unknown option '--nope' (see --help)\n" },
		{ { "diagram", "a", "b", NULL }, 2, "", "ringfence diagram: one FLOW only (see --help)\n" },
		{ { "diagram", "reminder_call", NULL }, 0, "\"details\" -> \"cancelled\" [label=\"2 / cancel\"];", "" },
		{ { "diagram", "--root", FIX "missing_state", "x", NULL }, 0, "\"ask\" -> \"dnoe\" [label=\"1\"];", "" },
		{ { "diagram", "nope", NULL }, 1, "",
		  "state_tables/nope/transitions: cannot read: No such file or directory\n" },
	};

	(void)state;
	run_cases(diagram_main, cases, ARRAY_LEN(cases));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_check_flow_direct),
		cmocka_unit_test(test_shipped_flow_passes),
		cmocka_unit_test(test_named_flows),
		cmocka_unit_test(test_bad_flow_dir_name),
		cmocka_unit_test(test_diagram),
		cmocka_unit_test(test_check_main),
		cmocka_unit_test(test_diagram_main),
	};
	/* The subcommands read RINGFENCE_ROOT; the tests name their roots. */
	unsetenv("RINGFENCE_ROOT");
	return cmocka_run_group_tests(tests, unit_go_to_repo_root, NULL);
}

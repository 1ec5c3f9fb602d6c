/* Unit tests: flow_paths (every path through small hand-written tables:
 * a loop, an unreachable state, a terminal without goodbye, events with
 * and without preconditions, the machine answer, a text flow). */
#include "unit.h"

#include "flow.h"
#include "flow_paths.h"
#include "util.h"

#include <libxml/parser.h>

#define BYE "<Response><Say>Goodbye.</Say><Hangup/></Response>"
#define ASK "<Response><Gather numDigits=\"1\" timeout=\"5\"><Say>Press 1.</Say></Gather></Response>"

/* Parses text as flow name; every state gets the template of the first
 * of tmpls ("state", "xml", ... NULL) naming it, else BYE when terminal
 * and ASK when not.  Fails the test when the table does not parse. */
static struct flow *table(const char *name, const char *text, const char *const *tmpls)
{
	struct flow_diag d = { NULL, 0 };
	struct flow *f = flow_parse(name, text, strlen(text), "t", &d);

	if (f == NULL)
		fail_msg("table does not parse: %s", d.n ? d.msgs[0] : "");
	for (size_t i = 0; i < f->nstates; i++) {
		const char *xml = f->states[i].terminal ? BYE : ASK;
		for (size_t k = 0; tmpls && tmpls[k]; k += 2)
			if (strcmp(tmpls[k], f->states[i].name) == 0) {
				xml = tmpls[k + 1];
				break;
			}
		f->states[i].tmpl = xmlReadMemory(xml, (int)strlen(xml), "t.xml", NULL, XML_PARSE_NONET);
		assert_non_null(f->states[i].tmpl);
	}
	flow_diag_free(&d);
	return f;
}

/* Path i's transitions, behaviour and preconditions must be as given. */
static void path_is(const struct flow *f, const struct flow_paths *ps, size_t i, const char *desc,
	const char *behaviour, const char *setups)
{
	char *d, *b, *s;

	if (i >= ps->n)
		fail_msg("no path %zu (%zu paths)", i + 1, ps->n);
	d = flow_path_describe(f, &ps->v[i]);
	b = flow_path_behaviour(f, &ps->v[i]);
	s = flow_path_setups(&ps->v[i]);
	if (strcmp(d, desc) != 0 || strcmp(b, behaviour) != 0 || strcmp(s, setups) != 0)
		fail_msg("path %zu:\n  %s\n  %s\n  %s\nwant\n  %s\n  %s\n  %s", i + 1, d, b, s, desc,
			behaviour, setups);
	free(d);
	free(b);
	free(s);
}

/* Whether d holds a message that contains needle. */
static int has_msg(const struct flow_diag *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->msgs[i], needle))
			return 1;
	return 0;
}

/* A loop between a and b: cut when a state would come a third time; a
 * wrong key is one the state does not name. */
static void test_loop_cut_at_one_repetition(void **state)
{
	struct flow *f = table("t", "a 1 b\na timeout end\nb other a\nb timeout end\n", NULL);
	struct flow_paths ps = { NULL, 0 };
	struct flow_diag errs = { NULL, 0 }, notes = { NULL, 0 };
	(void)state;

	assert_int_equal(flow_paths_build(f, &ps, &errs, &notes), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(notes.n, 0);
	assert_int_equal(ps.n, 4);
	path_is(f, &ps, 0, "a -1-> b, b -other-> a, a -1-> b, b -timeout-> end",
		"person; press 1; press 9; press 1; silence; expect-hangup", "");
	path_is(f, &ps, 1, "a -1-> b, b -other-> a, a -timeout-> end",
		"person; press 1; press 9; silence; expect-hangup", "");
	path_is(f, &ps, 2, "a -1-> b, b -timeout-> end", "person; press 1; silence; expect-hangup", "");
	path_is(f, &ps, 3, "a -timeout-> end", "person; silence; expect-hangup", "");
	assert_string_equal(f->states[ps.v[3].end].name, "end");
	flow_paths_free(&ps);
	assert_int_equal(ps.n, 0);
	flow_free(f);
}

/* `other` takes the first key the state leaves to it: 9 is named here. */
static void test_other_key_skips_named_keys(void **state)
{
	struct flow *f = table("t", "a 9 end\na other end2\na timeout end\n", NULL);
	struct flow_paths ps = { NULL, 0 };
	(void)state;

	assert_int_equal(flow_paths_build(f, &ps, NULL, NULL), 0);
	assert_int_equal(ps.n, 3);
	path_is(f, &ps, 1, "a -other-> end2", "person; press 8; expect-hangup", "");
	flow_paths_free(&ps);
	flow_free(f);
}

/* A state no path reaches fails the build, naming it. */
static void test_unreachable_state(void **state)
{
	struct flow *f = table("t", "a 1 b\na timeout b\nc 1 b\nc timeout b\n", NULL);
	struct flow_paths ps = { NULL, 0 };
	struct flow_diag errs = { NULL, 0 };
	(void)state;

	assert_int_equal(flow_paths_build(f, &ps, &errs, NULL), -1);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msgs[0], "t: state 'c' is on no path from 'a'");
	assert_int_equal(ps.n, 2);
	flow_paths_free(&ps);
	flow_diag_free(&errs);
	flow_free(f);
}

/* A terminal state whose TwiML does not end with Hangup: no goodbye. */
static void test_terminal_without_goodbye(void **state)
{
	static const char *const tmpls[] = { "quiet", "<Response><Say>Bye.</Say></Response>",
		"odd", "<Response><Hangup/><Say>Bye.</Say></Response>", NULL };
	struct flow *f = table("t", "a 1 quiet\na 2 odd\na timeout end\n", tmpls);
	struct flow_paths ps = { NULL, 0 };
	struct flow_diag errs = { NULL, 0 };
	(void)state;

	assert_int_equal(flow_paths_build(f, &ps, &errs, NULL), -1);
	assert_int_equal(errs.n, 2);
	assert_string_equal(errs.msgs[0], "t/quiet.xml: path 1 ends in 'quiet', whose template does not"
		" say goodbye (a terminal state's TwiML must end with <Hangup/>)");
	assert_true(has_msg(&errs, "path 2 ends in 'odd'"));
	flow_paths_free(&ps);
	flow_diag_free(&errs);
	flow_free(f);
}

/* Events an action answers: each a branch with its precondition, from
 * the flow's table (inbound's task code). */
static void test_events_with_preconditions(void **state)
{
	struct flow *f = table("inbound", "ask other check verify_task_code\nask timeout bye\n"
		"check valid ok\ncheck invalid ask\n", NULL);
	struct flow_paths ps = { NULL, 0 };
	struct flow_diag errs = { NULL, 0 };
	(void)state;

	assert_int_equal(flow_paths_build(f, &ps, &errs, NULL), 0);
	assert_int_equal(ps.n, 4);
	path_is(f, &ps, 0, "ask -other-> check [verify_task_code], check -valid-> ok",
		"person; press 9; expect-hangup", "task_code");
	path_is(f, &ps, 1, "ask -other-> check [verify_task_code], check -invalid-> ask,"
		" ask -other-> check [verify_task_code], check -valid-> ok",
		"person; press 9; press 9; expect-hangup", "wrong_code,task_code");
	path_is(f, &ps, 2, "ask -other-> check [verify_task_code], check -invalid-> ask,"
		" ask -timeout-> bye", "person; press 9; silence; expect-hangup", "wrong_code");
	path_is(f, &ps, 3, "ask -timeout-> bye", "person; silence; expect-hangup", "");
	assert_string_equal(flow_event_setup("inbound", "valid"), "task_code");
	assert_null(flow_event_setup("inbound", "nonsense"));
	flow_paths_free(&ps);
	flow_free(f);
}

/* An event with no precondition in the table fails the build; an event
 * of a state no action enters is a note. */
static void test_event_without_precondition(void **state)
{
	struct flow *f = table("t", "a 1 b go\na timeout end\nb yes end\nb no a\n"
		"a 2 c\nc yes end\nc timeout end\n", NULL);
	struct flow_paths ps = { NULL, 0 };
	struct flow_diag errs = { NULL, 0 }, notes = { NULL, 0 };
	(void)state;

	assert_int_equal(flow_paths_build(f, &ps, &errs, &notes), -1);
	assert_true(has_msg(&errs, "t:3: event 'yes' has no precondition"));
	assert_true(has_msg(&errs, "t:4: event 'no' has no precondition"));
	assert_true(has_msg(&notes, "t:6: 'c' on 'yes' is taken by no path (no line with an action"
		" enters the state)"));
	flow_paths_free(&ps);
	flow_diag_free(&errs);
	flow_diag_free(&notes);
	flow_free(f);
}

/* The machine answer: a branch of the start state alone, silent after;
 * elsewhere a note. */
static void test_machine_only_at_start(void **state)
{
	struct flow *f = table("t", "a 1 b\na machine m\na timeout m\nb machine m\nb timeout m\n", NULL);
	struct flow_paths ps = { NULL, 0 };
	struct flow_diag errs = { NULL, 0 }, notes = { NULL, 0 };
	(void)state;

	assert_int_equal(flow_paths_build(f, &ps, &errs, &notes), 0);
	assert_int_equal(ps.n, 3);
	path_is(f, &ps, 0, "a -1-> b, b -timeout-> m", "person; press 1; silence; expect-hangup", "");
	path_is(f, &ps, 1, "a -machine-> m", "machine answered_by=machine_end_beep; expect-hangup", "");
	assert_int_equal(notes.n, 1);
	assert_true(has_msg(&notes, "t:4: 'b' on 'machine' is taken by no path"));
	flow_paths_free(&ps);
	flow_diag_free(&notes);
	flow_free(f);
}

/* A machine that answers goes on silently: only timeouts follow it. */
static void test_machine_presses_nothing(void **state)
{
	struct flow *f = table("t", "a machine b\na timeout end\nb 1 end\nb timeout end2\n", NULL);
	struct flow_paths ps = { NULL, 0 };
	(void)state;

	assert_int_equal(flow_paths_build(f, &ps, NULL, NULL), 0);
	assert_int_equal(ps.n, 2);
	path_is(f, &ps, 0, "a -machine-> b, b -timeout-> end2",
		"machine answered_by=machine_end_beep; expect-hangup", "");
	flow_paths_free(&ps);
	flow_free(f);
}

/* `recorded`: the person speaks into the <Record>, then silence ends it. */
static void test_recorded_is_speech(void **state)
{
	struct flow *f = table("t", "a 1 rec\na timeout end\nrec recorded end2\n", NULL);
	struct flow_paths ps = { NULL, 0 };
	(void)state;

	assert_int_equal(flow_paths_build(f, &ps, NULL, NULL), 0);
	assert_int_equal(ps.n, 2);
	path_is(f, &ps, 0, "a -1-> rec, rec -recorded-> end2",
		"person; press 1; speak 2; silence; expect-hangup", "");
	assert_int_equal(ps.v[0].steps[1].way, FLOW_WAY_SPEAK);
	flow_paths_free(&ps);
	flow_free(f);
}

/* A text flow: each text at each resting state after the shortest
 * conversation to it; a resting state says one Message or nothing. */
static void test_text_flow(void **state)
{
	static const char *const tmpls[] = {
		"sent", "<Response/>",
		"confirmed", "<Response><Message>Confirmed.</Message></Response>",
		"nothing_pending", "<Response><Message>Nothing to confirm.</Message></Response>",
		"help", "<Response><Message>Help.</Message><Message>More help.</Message></Response>",
		NULL };
	struct flow *f = table("reminder_sms", "sent 1 check confirm_reply\nsent help help\n"
		"check done confirmed\ncheck none nothing_pending\n"
		"confirmed 1 check confirm_reply\nnothing_pending 1 check confirm_reply\n"
		"help 1 check confirm_reply\n", tmpls);
	struct flow_paths ps = { NULL, 0 };
	struct flow_diag errs = { NULL, 0 };
	(void)state;

	assert_true(flow_is_text(f));
	assert_int_equal(flow_paths_build(f, &ps, &errs, NULL), -1);
	assert_int_equal(errs.n, 1);
	assert_true(has_msg(&errs, "ends in 'help', whose template does not say goodbye (a text"
		" flow's resting state answers with one <Message> or an empty <Response/>)"));
	/* sent: 3 ways; confirmed, nothing_pending, help: 2 each. */
	assert_int_equal(ps.n, 9);
	path_is(f, &ps, 0, "sent -1-> check [confirm_reply], check -done-> confirmed", "text \"1\"",
		"reminder_pending");
	path_is(f, &ps, 2, "sent -help-> help", "text \"HELP\"", "");
	path_is(f, &ps, 4, "sent -1-> check [confirm_reply], check -done-> confirmed,"
		" confirmed -1-> check [confirm_reply], check -none-> nothing_pending",
		"text \"1\"; text \"1\"", "reminder_pending,nothing_pending");
	flow_paths_free(&ps);
	flow_diag_free(&errs);
	flow_free(f);
}

/* The flows as shipped: every state on a path, every ending says
 * goodbye, every event has its precondition; a call's paths end in
 * terminal states. */
static void test_shipped_flows(void **state)
{
	static const char *const flows[] = { "reminder_call", "inbound", "reminder_sms" };
	(void)state;

	for (size_t k = 0; k < ARRAY_LEN(flows); k++) {
		struct flow_diag d = { NULL, 0 }, notes = { NULL, 0 };
		struct flow *f = flow_load(".", flows[k], &d);
		struct flow_paths ps = { NULL, 0 };
		if (f == NULL || flow_paths_build(f, &ps, &d, &notes) < 0 || d.n)
			fail_msg("%s: %s", flows[k], d.n ? d.msgs[0] : "does not load");
		assert_true(ps.n >= 10);
		for (size_t i = 0; i < ps.n && !flow_is_text(f); i++)
			assert_true(f->states[ps.v[i].end].terminal);
		flow_paths_free(&ps);
		flow_diag_free(&notes);
		flow_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_cut_at_one_repetition),
		cmocka_unit_test(test_other_key_skips_named_keys),
		cmocka_unit_test(test_unreachable_state),
		cmocka_unit_test(test_terminal_without_goodbye),
		cmocka_unit_test(test_events_with_preconditions),
		cmocka_unit_test(test_event_without_precondition),
		cmocka_unit_test(test_machine_only_at_start),
		cmocka_unit_test(test_machine_presses_nothing),
		cmocka_unit_test(test_recorded_is_speech),
		cmocka_unit_test(test_text_flow),
		cmocka_unit_test(test_shipped_flows),
	};
	return cmocka_run_group_tests_name("flow_paths", tests, NULL, NULL);
}

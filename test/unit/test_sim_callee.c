/* Unit tests: sim_callee_parse and sim_callee_load_file, table-driven.
 * Each good case gives the line and what it must parse to (the answer,
 * the ring, the steps as a compact string); each bad case gives a piece
 * of the one-line reason it must produce. */
#include "unit.h"

#include "buf.h"
#include "sim/sim_callee.h"

#include <unistd.h>

struct good_case {
	const char *spec;
	enum sim_answer answer;
	double ring_s;
	const char *answered_by;
	const char *steps; /* kinds as "w1.5 p12 s h e[text] H", space separated */
	const char *sms_reply; /* NULL: none */
	int sms_error_code;
};

static const struct good_case good_cases[] = {
	{ "person", SIM_ANSWER_PERSON, 1.0, "human", "", NULL, 0 },
	{ "person; ring 2; wait 1; press 1; wait 1.5; press 2", SIM_ANSWER_PERSON, 2.0, "human",
		"w1 p1 w1.5 p2", NULL, 0 },
	{ "person; press 1; hangup", SIM_ANSWER_PERSON, 1.0, "human", "p1 h", NULL, 0 },
	{ "person; press 123456; speak 2.5 \"Hello, it's Anna\"; press #", SIM_ANSWER_PERSON, 1.0,
		"human", "p123456 v2.5[Hello, it's Anna] p#", NULL, 0 },
	{ "person; speak 3", SIM_ANSWER_PERSON, 1.0, "human", "v3[]", NULL, 0 },
	{ "person; silence; press 1", SIM_ANSWER_PERSON, 1.0, "human", "s p1", NULL, 0 },
	{ "machine", SIM_ANSWER_MACHINE, 1.0, "machine_start", "", NULL, 0 },
	{ "machine answered_by=machine_end_beep", SIM_ANSWER_MACHINE, 1.0, "machine_end_beep", "",
		NULL, 0 },
	{ "busy", SIM_ANSWER_BUSY, 1.0, "human", "", NULL, 0 },
	{ "no-answer; ring 30", SIM_ANSWER_NO_ANSWER, 30.0, "human", "", NULL, 0 },
	{ "fail", SIM_ANSWER_FAIL, 1.0, "human", "", NULL, 0 },
	{ "person; sms-reply \"C\"", SIM_ANSWER_PERSON, 1.0, "human", "", "C", 0 },
	{ "person; sms-undelivered 30003", SIM_ANSWER_PERSON, 1.0, "human", "", NULL, 30003 },
	{ "busy; sms-reply \"YES\"", SIM_ANSWER_BUSY, 1.0, "human", "", "YES", 0 },
	{ "person; expect \"press 1\"; press 1; expect \"to confirm\"; press 1; expect-hangup",
		SIM_ANSWER_PERSON, 1.0, "human", "e[press 1] p1 e[to confirm] p1 H", NULL, 0 },
	{ "  person ;press 12#*;  wait 0  ", SIM_ANSWER_PERSON, 1.0, "human", "p12#* w0", NULL, 0 },
	{ "person; expect \"a;b \\\"c\\\" \\\\\"", SIM_ANSWER_PERSON, 1.0, "human",
		"e[a;b \"c\" \\]", NULL, 0 },
	{ "machine; expect \"reminder\"; wait 3; hangup", SIM_ANSWER_MACHINE, 1.0, "machine_start",
		"e[reminder] w3 h", NULL, 0 },
	{ "person; ring 0.25", SIM_ANSWER_PERSON, 0.25, "human", "", NULL, 0 },
	{ "person;\tpress\t5", SIM_ANSWER_PERSON, 1.0, "human", "p5", NULL, 0 },
};

struct bad_case {
	const char *spec;
	const char *reason; /* must occur in the error */
};

static const struct bad_case bad_cases[] = {
	{ "", "step 1 is empty" },
	{ "   ", "step 1 is empty" },
	{ "robot", "'robot' is not an answer" },
	{ "Person", "is not an answer" },
	{ "person extra", "'person' takes no argument" },
	{ "busy now", "'busy' takes no argument" },
	{ "machine answered_by=robot", "not one of Twilio's AnsweredBy values" },
	{ "machine beep", "takes only answered_by" },
	{ "person;", "step 2 is empty" },
	{ "person;; press 1", "step 2 is empty" },
	{ "person; press", "'press' needs keys" },
	{ "person; press 1a", "'press' needs keys" },
	{ "person; press -1", "'press' needs keys" },
	{ "person; wait", "'wait' needs seconds" },
	{ "person; speak", "'speak' needs seconds" },
	{ "person; speak 0", "'speak' needs seconds" },
	{ "person; speak x \"hi\"", "'speak' needs seconds" },
	{ "person; speak 2 hi", "'speak'" },
	{ "person; speak 2 \"\"", "'speak'" },
	{ "person; wait -1", "'wait' needs seconds" },
	{ "person; wait 1e3", "'wait' needs seconds" },
	{ "person; wait nan", "'wait' needs seconds" },
	{ "person; wait inf", "'wait' needs seconds" },
	{ "person; wait 3601", "'wait' needs seconds" },
	{ "person; wait 1.", "'wait' needs seconds" },
	{ "person; wait .5", "'wait' needs seconds" },
	{ "person; wait 0x10", "'wait' needs seconds" },
	{ "person; wait 1.2345", "'wait' needs seconds" },
	{ "person; wait 99999999999999999999", "'wait' needs seconds" },
	{ "person; ring 1; ring 2", "'ring' comes once" },
	{ "person; press 1; ring 2", "'ring' comes once" },
	{ "person; ring two", "'ring' needs seconds" },
	{ "person; dance", "unknown step 'dance'" },
	{ "person; silence now", "'silence' takes no argument" },
	{ "person; hangup 1", "'hangup' takes no argument" },
	{ "person; expect-hangup x", "'expect-hangup' takes no argument" },
	{ "person; expect press 1", "double quotes" },
	{ "person; expect \"press 1", "unterminated" },
	{ "person; expect \"\"", "empty" },
	{ "person; expect \"a\" b", "after the closing quote" },
	{ "person; expect \"a\\nb\"", "unknown escape" },
	{ "person; expect \"a\tb\"", "control character" },
	{ "person\n; press 1", "control character" },
	{ "person; press 1\r", "control character" },
	{ "busy; press 1", "does not answer" },
	{ "no-answer; expect \"x\"", "does not answer" },
	{ "fail; hangup", "does not answer" },
	{ "machine; press 1", "presses nothing" },
	{ "machine; silence", "presses nothing" },
	{ "person; sms-reply C", "double quotes" },
	{ "person; sms-reply \"a\"; sms-reply \"b\"; sms-reply \"c\"; sms-reply \"d\";"
	  " sms-reply \"e\"", "more than 4 'sms-reply' steps" },
	{ "person; sms-wait 1; sms-wait 2; sms-reply \"a\"", "comes once before" },
	{ "person; sms-reply \"a\"; sms-wait 1", "must come before an 'sms-reply'" },
	{ "person; sms-wait soon; sms-reply \"a\"", "needs seconds" },
	{ "person; sms-undelivered", "5-digit" },
	{ "person; sms-undelivered 3", "5-digit" },
	{ "person; sms-undelivered 030003", "5-digit" },
	{ "person; sms-undelivered 30003x", "5-digit" },
	{ "person; sms-undelivered 300030", "5-digit" },
	{ "person; sms-undelivered 30003; sms-undelivered 30005", "given twice" },
};

static void steps_string(const struct sim_callee *c, struct buf *b)
{
	for (int i = 0; i < c->nsteps; i++) {
		const struct sim_step *s = &c->steps[i];
		if (i > 0)
			buf_putc(b, ' ');
		switch (s->kind) {
		case SIM_STEP_WAIT: buf_printf(b, "w%g", s->seconds); break;
		case SIM_STEP_PRESS: buf_printf(b, "p%s", s->text); break;
		case SIM_STEP_SILENCE: buf_puts(b, "s"); break;
		case SIM_STEP_HANGUP: buf_puts(b, "h"); break;
		case SIM_STEP_EXPECT: buf_printf(b, "e[%s]", s->text); break;
		case SIM_STEP_EXPECT_HANGUP: buf_puts(b, "H"); break;
		case SIM_STEP_SPEAK: buf_printf(b, "v%g[%s]", s->seconds, s->text); break;
		}
	}
}

static void test_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		const struct good_case *g = &good_cases[i];
		struct sim_callee c;
		struct buf b = BUF_INIT;
		char err[256] = "";
		if (sim_callee_parse(g->spec, &c, err, sizeof(err)) != 0)
			fail_msg("'%s' refused: %s", g->spec, err);
		steps_string(&c, &b);
		if (c.answer != g->answer || c.ring_s != g->ring_s ||
			strcmp(c.answered_by, g->answered_by) != 0 || strcmp(buf_str(&b), g->steps) != 0 ||
			c.nsms_replies != (g->sms_reply != NULL) ||
			(g->sms_reply && strcmp(c.sms_replies[0].text, g->sms_reply) != 0) ||
			c.sms_error_code != g->sms_error_code)
			fail_msg("'%s': answer %d ring %g by %s steps '%s' reply %d '%s' code %d",
				g->spec, (int)c.answer, c.ring_s, c.answered_by, buf_str(&b),
				c.nsms_replies, c.sms_replies[0].text, c.sms_error_code);
		buf_free(&b);
	}
}

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct sim_callee c;
		char err[256] = "";
		if (sim_callee_parse(bc->spec, &c, err, sizeof(err)) != -1)
			fail_msg("'%s' accepted", bc->spec);
		if (strstr(err, bc->reason) == NULL)
			fail_msg("'%s': reason '%s' lacks '%s'", bc->spec, err, bc->reason);
		if (strchr(err, '\n') != NULL)
			fail_msg("'%s': reason is not one line", bc->spec);
		/* A refused line leaves the default behaviour, never half a parse. */
		assert_int_equal(c.answer, SIM_ANSWER_PERSON);
		assert_int_equal(c.nsteps, 0);
	}
}

static void test_limits(void **state)
{
	struct buf b = BUF_INIT;
	struct sim_callee c;
	char err[256];
	(void)state;

	/* Exactly the maximum number of steps, then one more. */
	buf_puts(&b, "person");
	for (int i = 0; i < SIM_CALLEE_MAX_STEPS; i++)
		buf_puts(&b, "; press 1");
	assert_int_equal(sim_callee_parse(buf_str(&b), &c, err, sizeof(err)), 0);
	assert_int_equal(c.nsteps, SIM_CALLEE_MAX_STEPS);
	buf_puts(&b, "; press 1");
	assert_int_equal(sim_callee_parse(buf_str(&b), &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 64 steps"));

	/* Texts at and over their size. */
	buf_reset(&b);
	buf_puts(&b, "person; expect \"");
	for (int i = 0; i < SIM_CALLEE_MAX_TEXT - 1; i++)
		buf_putc(&b, 'x');
	buf_puts(&b, "\"");
	assert_int_equal(sim_callee_parse(buf_str(&b), &c, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.steps[0].text), SIM_CALLEE_MAX_TEXT - 1);
	buf_reset(&b);
	buf_puts(&b, "person; expect \"");
	for (int i = 0; i < SIM_CALLEE_MAX_TEXT; i++)
		buf_putc(&b, 'x');
	buf_puts(&b, "\"");
	assert_int_equal(sim_callee_parse(buf_str(&b), &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than"));

	buf_reset(&b);
	buf_puts(&b, "person; sms-reply \"");
	for (int i = 0; i < 1600; i++)
		buf_putc(&b, 'y');
	buf_puts(&b, "\"");
	assert_int_equal(sim_callee_parse(buf_str(&b), &c, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.sms_replies[0].text), 1600);
	buf_reset(&b);
	buf_puts(&b, "person; sms-reply \"");
	for (int i = 0; i < 1601; i++)
		buf_putc(&b, 'y');
	buf_puts(&b, "\"");
	assert_int_equal(sim_callee_parse(buf_str(&b), &c, err, sizeof(err)), -1);

	/* A huge line is refused without being split. */
	buf_reset(&b);
	for (int i = 0; i < 100000; i++)
		buf_putc(&b, ';');
	assert_int_equal(sim_callee_parse(buf_str(&b), &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than"));
	assert_int_equal(sim_callee_parse(NULL, &c, err, sizeof(err)), -1);

	/* Hostile bytes: high bytes are text, DEL and escapes are not. */
	assert_int_equal(sim_callee_parse("person; expect \"caf\xc3\xa9\"", &c, err, sizeof(err)), 0);
	assert_int_equal(sim_callee_parse("person; expect \"a\x7f\"", &c, err, sizeof(err)), -1);
	assert_int_equal(sim_callee_parse("person; expect \"\\", &c, err, sizeof(err)), -1);
	assert_int_equal(sim_callee_parse("\"person\"", &c, err, sizeof(err)), -1);
	/* A tiny error buffer is still a terminated string. */
	assert_int_equal(sim_callee_parse("robot", &c, err, 4), -1);
	assert_int_equal(strlen(err), 3);
	buf_free(&b);
}

/* Several texts, in order, 2 seconds apart unless an sms-wait says
 * otherwise; wait steps of the call are not theirs. */
static void test_sms_replies(void **state)
{
	struct sim_callee c;
	char err[256] = "";
	(void)state;

	if (sim_callee_parse("person; wait 3; sms-reply \"STOP\"; sms-wait 5.5; sms-reply \"START\";"
		    " sms-reply \"1\"", &c, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(c.nsms_replies, 3);
	assert_string_equal(c.sms_replies[0].text, "STOP");
	assert_true(c.sms_replies[0].wait_s == SIM_CALLEE_SMS_GAP_S);
	assert_string_equal(c.sms_replies[1].text, "START");
	assert_true(c.sms_replies[1].wait_s == 5.5);
	assert_string_equal(c.sms_replies[2].text, "1");
	assert_true(c.sms_replies[2].wait_s == SIM_CALLEE_SMS_GAP_S);
	assert_int_equal(c.nsteps, 1);
	assert_int_equal(sim_callee_parse("person; sms-wait 0; sms-reply \"a\"", &c, err,
		sizeof(err)), 0);
	assert_true(c.sms_replies[0].wait_s == 0);
}

static void test_default(void **state)
{
	struct sim_callee c;
	(void)state;
	memset(&c, 0x55, sizeof(c));
	sim_callee_default(&c);
	assert_int_equal(c.answer, SIM_ANSWER_PERSON);
	assert_true(c.ring_s == 1.0);
	assert_int_equal(c.nsteps, 0);
	assert_int_equal(c.nsms_replies, 0);
	assert_int_equal(c.sms_error_code, 0);
	assert_string_equal(c.answered_by, "human");
}

struct seen {
	int n;
	char numbers[8][24];
	char specs[8][128];
	enum sim_answer answers[8];
	int stop_at; /* refuse the nth line (1-based); 0: accept all */
};

static int collect(void *ctx, const char *number, const char *spec, const struct sim_callee *c)
{
	struct seen *s = ctx;
	if (s->stop_at && s->n + 1 == s->stop_at)
		return 1;
	snprintf(s->numbers[s->n], sizeof(s->numbers[0]), "%s", number);
	snprintf(s->specs[s->n], sizeof(s->specs[0]), "%s", spec);
	s->answers[s->n] = c->answer;
	s->n++;
	return 0;
}

static char *write_temp(const char *text, size_t len)
{
	char *path = strdup("/tmp/test_sim_callee.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_file(void **state)
{
	static const char good[] =
		"# callees for the demo\n"
		"\n"
		"+15551230001 person; press 1; press 1\r\n"
		"   # an indented comment\n"
		"+15551230002\tmachine\n"
		"+15551230003   busy";
	struct seen s;
	char err[256];
	char *path;
	(void)state;

	memset(&s, 0, sizeof(s));
	path = write_temp(good, sizeof(good) - 1);
	assert_int_equal(sim_callee_load_file(path, collect, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.numbers[0], "+15551230001");
	assert_string_equal(s.specs[0], "person; press 1; press 1");
	assert_int_equal(s.answers[1], SIM_ANSWER_MACHINE);
	assert_string_equal(s.numbers[2], "+15551230003");
	assert_int_equal(s.answers[2], SIM_ANSWER_BUSY);

	/* The callback refusing a line stops there, naming it. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(sim_callee_load_file(path, collect, &s, err, sizeof(err)), -1);
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(err, ":5: +15551230002"));
	unlink(path);
	free(path);

	{
		static const struct { const char *text; const char *reason; } bad[] = {
			{ "+15551230001 person\n5551230002 person\n", ":2: '5551230002' is not an E.164" },
			{ "+15551230001 person; dance\n", ":1: step 2: unknown step 'dance'" },
			{ "+15551230001\n", ":1: +15551230001 has no behaviour" },
			{ "+0551230001 person\n", "not an E.164" },
			{ "+1555123000123456789 person\n", "not an E.164" },
			{ "+1555 person\n", "not an E.164" },
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memset(&s, 0, sizeof(s));
			path = write_temp(bad[i].text, strlen(bad[i].text));
			assert_int_equal(sim_callee_load_file(path, collect, &s, err, sizeof(err)), -1);
			if (strstr(err, bad[i].reason) == NULL || strncmp(err, path, strlen(path)) != 0)
				fail_msg("'%s': reason '%s' lacks '%s'", bad[i].text, err, bad[i].reason);
			unlink(path);
			free(path);
		}
	}
	/* A NUL byte, and a file that is not there. */
	path = write_temp("+15551230001 person\0x\n", 22);
	assert_int_equal(sim_callee_load_file(path, collect, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NUL"));
	unlink(path);
	free(path);
	assert_int_equal(sim_callee_load_file("/nonexistent/callees", collect, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/callees: cannot read"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_sms_replies),
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests_name("sim_callee", tests, NULL, NULL);
}

/* Unit tests: sim_twiml (TwiML answers as the simulator reads them) and
 * sim_twiml_resolve (relative URLs), table-driven.  Every golden
 * reminder_call document is read back; broken documents must give 12100
 * with a message naming what is wrong. */
#include "unit.h"

#include "buf.h"
#include "sim/sim_twiml.h"
#include "util.h"

#define DOC "https://rf.example.com/twilio/voice/reminder_call?c=abc&s=announce&n=1"

/* ---- URL resolution --------------------------------------------------- */

struct resolve_case {
	const char *base;
	const char *ref;
	const char *want; /* NULL: refused */
};

static const struct resolve_case resolve_cases[] = {
	{ "https://h.example/a/b/c?x=1", "https://o.example/p?q", "https://o.example/p?q" },
	{ "https://h.example/a/b/c?x=1", "HTTP://o.example/p", "HTTP://o.example/p" },
	{ "https://h.example/a/b/c?x=1", "/audio/x.mp3", "https://h.example/audio/x.mp3" },
	{ "https://h.example:8443/a/b/c?x=1", "/audio/x.mp3", "https://h.example:8443/audio/x.mp3" },
	{ "https://h.example/a/b/c?x=1", "x.mp3", "https://h.example/a/b/x.mp3" },
	{ "https://h.example/a/b/c?x=1", "d/x.mp3?v=2", "https://h.example/a/b/d/x.mp3?v=2" },
	{ "https://h.example/a/b/c?x=1", "../x.mp3", "https://h.example/a/x.mp3" },
	{ "https://h.example/a/b/c?x=1", "../../../../x.mp3", "https://h.example/x.mp3" },
	{ "https://h.example/a/b/c?x=1", "./x.mp3", "https://h.example/a/b/x.mp3" },
	{ "https://h.example/a/b/c?x=1", "d/./e/../x", "https://h.example/a/b/d/x" },
	{ "https://h.example/a/b/c?x=1", "..", "https://h.example/a/" },
	{ "https://h.example/a/b/c?x=1", ".", "https://h.example/a/b/" },
	{ "https://h.example/a/b/c?x=1", "?y=2", "https://h.example/a/b/c?y=2" },
	{ "https://h.example/a/b/c?x=1", "?", "https://h.example/a/b/c?" },
	{ "https://h.example/a/b/c?x=1", "", "https://h.example/a/b/c?x=1" },
	{ "https://h.example/a/b/c?x=1#f", "#g", "https://h.example/a/b/c?x=1" },
	{ "https://h.example/a/b/c?x=1", "x.mp3#t=1", "https://h.example/a/b/x.mp3" },
	{ "https://h.example/a/b/c?x=1", "//cdn.example/s.mp3", "https://cdn.example/s.mp3" },
	{ "http://h.example", "x", "http://h.example/x" },
	{ "http://h.example", "?a=1", "http://h.example?a=1" },
	{ "http://h.example?z", "/p", "http://h.example/p" },
	{ "http://h.example/a?b/c", "d", "http://h.example/d" },
	{ "https://h.example/a/b/c", "/a/../../b", "https://h.example/b" },
	/* refused */
	{ "https://h.example/a", "ftp://o.example/x", NULL },
	{ "https://h.example/a", "javascript:alert(1)", NULL },
	{ "https://h.example/a", "mailto:x@y", NULL },
	{ "https://h.example/a", "file:///etc/passwd", NULL },
	{ "https://h.example/a", "http:///nohost", NULL },
	{ "https://h.example/a", "//", NULL },
	{ "https://h.example/a", "a b.mp3", NULL },
	{ "https://h.example/a", "a\nb", NULL },
	{ "https://h.example/a", "a\x7f", NULL },
	{ "/relative/base", "x", NULL },
	{ "ftp://h.example/a", "x", NULL },
	{ "https://", "x", NULL },
	{ "https:///a", "x", NULL },
};

static void test_resolve(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(resolve_cases); i++) {
		const struct resolve_case *rc = &resolve_cases[i];
		char *got = sim_twiml_resolve(rc->base, rc->ref);
		if ((got == NULL) != (rc->want == NULL) || (got && strcmp(got, rc->want) != 0))
			fail_msg("resolve('%s', '%s') = '%s', want '%s'", rc->base, rc->ref,
				got ? got : "(refused)", rc->want ? rc->want : "(refused)");
		free(got);
	}
	assert_null(sim_twiml_resolve(NULL, "x"));
	assert_null(sim_twiml_resolve("https://h.example/", NULL));
}

/* ---- the golden reminder_call documents -------------------------------- */

/* A compact description of a parsed document: one token per verb,
 * Gathers with their attributes and children in brackets. */
static void describe(const struct sim_verb *v, size_t n, struct buf *b)
{
	for (size_t i = 0; i < n; i++) {
		const struct sim_verb *x = &v[i];
		if (b->len > 0 && b->data[b->len - 1] != '[')
			buf_putc(b, ' ');
		switch (x->kind) {
		case SIM_VERB_SAY: buf_printf(b, "Say(%s)", x->text); break;
		case SIM_VERB_PLAY: buf_printf(b, "Play(%s)", x->text); break;
		case SIM_VERB_PAUSE: buf_printf(b, "Pause(%d)", x->length); break;
		case SIM_VERB_GATHER:
			buf_printf(b, "Gather(%s %s t=%d n=%d f=%s e=%d)[", x->action, x->method, x->timeout,
				x->num_digits, x->finish_on_key, x->action_on_empty_result);
			describe(x->children, x->nchildren, b);
			buf_putc(b, ']');
			break;
		case SIM_VERB_RECORD:
			buf_printf(b, "Record(%s %s t=%d m=%d f=%s b=%d trim=%d cb=%s %s ev=%u)", x->action,
				x->method, x->timeout, x->max_length, x->finish_on_key, x->play_beep, x->trim,
				x->rec_callback, x->rec_callback_method, x->rec_events);
			break;
		case SIM_VERB_REDIRECT: buf_printf(b, "Redirect(%s %s)", x->method, x->text); break;
		case SIM_VERB_HANGUP: buf_puts(b, "Hangup"); break;
		case SIM_VERB_REJECT: buf_printf(b, "Reject(%s)", x->reason); break;
		}
	}
}

static void test_golden(void **state)
{
	static const struct { const char *name; const char *want; } cases[] = {
		{ "announce", "Gather(https://rf.example.com/twilio/voice/reminder_call?c=0123456789abcdef0123456789abcdef&s=announce&n=3 POST t=5 n=1 f= e=1)["
			"Play(https://rf.example.com/audio/reminder_call/announce/automated_message_from.mp3) "
			"Say(Bright Smile Dental) "
			"Play(https://rf.example.com/audio/reminder_call/announce/to_hear_it_press_1.mp3)]" },
		{ "announce_retry", "Gather(" },
		{ "details", "Gather(" },
		{ "details_retry", "Gather(" },
		{ "confirmed", "Play(https://rf.example.com/audio/reminder_call/confirmed/confirmed.mp3) Hangup" },
		{ "cancelled", "Play(https://rf.example.com/audio/reminder_call/cancelled/cancelled.mp3) Hangup" },
		{ "callback", "Play(" },
		{ "reschedule", "Play(https://rf.example.com/audio/reminder_call/reschedule/new_time_call_from.mp3)"
			" Say(Bright Smile Dental) "
			"Play(https://rf.example.com/audio/reminder_call/reschedule/to_find_new_time_goodbye.mp3)"
			" Hangup" },
		{ "goodbye_invalid", "Play(" },
		{ "machine_message", "Play(" },
		{ "no_choice", "Play(" },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *path = xasprintf("test/golden/reminder_call/%s.xml", cases[i].name);
		size_t len;
		char *text = util_read_file(path, 1 << 20, &len);
		struct sim_twiml t;
		struct buf b = BUF_INIT;
		char err[256];
		int gathers = 0;

		if (text == NULL)
			fail_msg("cannot read %s", path);
		if (sim_twiml_parse(text, len, DOC, &t, err, sizeof(err)) != 0)
			fail_msg("%s: %s", path, err);
		describe(t.verbs, t.n, &b);
		if (strncmp(buf_str(&b), cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("%s: got %s", path, buf_str(&b));
		/* Every golden Gather posts back with actionOnEmptyResult and
		 * takes one key with no finishing key, so that '#' is a key
		 * (a wrong one) and not the end of an empty input that the
		 * engine would take for silence; every document without one
		 * ends in Hangup. */
		for (size_t k = 0; k < t.n; k++)
			if (t.verbs[k].kind == SIM_VERB_GATHER) {
				gathers++;
				assert_int_equal(t.verbs[k].action_on_empty_result, 1);
				assert_int_equal(t.verbs[k].num_digits, 1);
				assert_string_equal(t.verbs[k].finish_on_key, "");
				assert_true(t.verbs[k].nchildren > 0);
			}
		if (gathers == 0)
			assert_int_equal(t.verbs[t.n - 1].kind, SIM_VERB_HANGUP);
		sim_twiml_free(&t);
		buf_free(&b);
		free(text);
		free(path);
	}
}

/* ---- valid documents and their defaults -------------------------------- */

struct good_case {
	const char *what;
	const char *xml;
	const char *want;
};

static const struct good_case good_cases[] = {
	{ "empty response", "<Response/>", "" },
	{ "declaration and blanks", "<?xml version=\"1.0\"?>\n<Response>\n  <Hangup/>\n</Response>\n", "Hangup" },
	{ "gather defaults", "<Response><Gather><Say>Hi</Say></Gather></Response>",
		"Gather(" DOC " POST t=5 n=0 f=# e=0)[Say(Hi)]" },
	{ "gather attributes", "<Response><Gather action=\"/next?x=1\" method=\"get\" timeout=\"3\" numDigits=\"4\" finishOnKey=\"*\" actionOnEmptyResult=\"TRUE\" input=\"dtmf speech\"><Pause length=\"2\"/><Play>a.mp3</Play></Gather></Response>",
		"Gather(https://rf.example.com/next?x=1 GET t=3 n=4 f=* e=1)[Pause(2) Play(https://rf.example.com/twilio/voice/a.mp3)]" },
	{ "gather no finish key", "<Response><Gather finishOnKey=\"\"/></Response>",
		"Gather(" DOC " POST t=5 n=0 f= e=0)[]" },
	{ "gather finish key # given", "<Response><Gather numDigits=\"1\" finishOnKey=\"#\"/></Response>",
		"Gather(" DOC " POST t=5 n=1 f=# e=0)[]" },
	{ "gather finish key 0", "<Response><Gather finishOnKey=\"0\"/></Response>",
		"Gather(" DOC " POST t=5 n=0 f=0 e=0)[]" },
	{ "record defaults", "<Response><Record/></Response>",
		"Record(" DOC " POST t=5 m=3600 f=1234567890*# b=1 trim=1 cb= POST ev=2)" },
	{ "record attributes", "<Response><Record action=\"rec\" timeout=\"0\" maxLength=\"30\" finishOnKey=\"#\" playBeep=\"false\"/></Response>",
		"Record(https://rf.example.com/twilio/voice/rec POST t=0 m=30 f=# b=0 trim=1 cb= POST ev=2)" },
	{ "record callbacks", "<Response><Record trim=\"do-not-trim\" recordingStatusCallback=\"/rs\""
		" recordingStatusCallbackMethod=\"GET\" recordingStatusCallbackEvent=\"in-progress completed absent\""
		" transcribe=\"false\"/></Response>",
		"Record(" DOC " POST t=5 m=3600 f=1234567890*# b=1 trim=0 cb=https://rf.example.com/rs GET ev=7)" },
	{ "redirect", "<Response><Redirect>?s=next</Redirect></Response>",
		"Redirect(POST https://rf.example.com/twilio/voice/reminder_call?s=next)" },
	{ "redirect get", "<Response><Redirect method=\"GET\">  https://o.example/x  </Redirect></Response>",
		"Redirect(GET https://o.example/x)" },
	{ "reject", "<Response><Reject reason=\"busy\"/></Response>", "Reject(busy)" },
	{ "reject default", "<Response><Reject/></Response>", "Reject(rejected)" },
	{ "say trimmed, entities", "<Response><Say voice=\"alice\">\n  Smith &amp; O&apos;Hara  </Say></Response>",
		"Say(Smith & O'Hara)" },
	{ "say cdata", "<Response><Say><![CDATA[a < b]]></Say></Response>", "Say(a < b)" },
	{ "pause default", "<Response><Pause/></Response>", "Pause(1)" },
	{ "play digits only", "<Response><Play digits=\"ww12#\"/></Response>", "Play()" },
	{ "unknown attribute ignored", "<Response><Say foo=\"bar\">x</Say></Response>", "Say(x)" },
	{ "comments ignored", "<Response><!-- hi --><Hangup/></Response>", "Hangup" },
};

static void test_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(good_cases); i++) {
		struct sim_twiml t;
		struct buf b = BUF_INIT;
		char err[256];
		const struct good_case *g = &good_cases[i];
		if (sim_twiml_parse(g->xml, strlen(g->xml), DOC, &t, err, sizeof(err)) != 0)
			fail_msg("%s: refused: %s", g->what, err);
		describe(t.verbs, t.n, &b);
		if (strcmp(buf_str(&b), g->want) != 0)
			fail_msg("%s: got '%s', want '%s'", g->what, buf_str(&b), g->want);
		sim_twiml_free(&t);
		buf_free(&b);
	}
}

/* ---- broken documents ---------------------------------------------------- */

struct bad_case {
	const char *xml;
	const char *reason;
};

static const struct bad_case bad_cases[] = {
	{ "", "empty" },
	{ "hello", "not well-formed XML" },
	{ "<Response>", "not well-formed XML" },
	{ "<Response><Say>x</Response>", "line 1: not well-formed XML" },
	{ "<Response></Response><Response/>", "not well-formed XML" },
	{ "<Response>\n<Say>&foo;</Say></Response>", "not well-formed XML" },
	{ "<!DOCTYPE Response [<!ENTITY a \"b\">]><Response><Say>&a;</Say></Response>", "DOCTYPE" },
	{ "<!DOCTYPE Response SYSTEM \"http://evil.example/x.dtd\"><Response/>", "DOCTYPE" },
	{ "<Respons/>", "root element is <Respons>, not <Response>" },
	{ "<response/>", "not <Response>" },
	{ "<x:Response xmlns:x=\"urn:x\"/>", "not <Response>" },
	{ "<Response>hello</Response>", "text outside a verb" },
	{ "<Response><Foo/></Response>", "<Foo> is not a TwiML verb" },
	{ "<Response>\n\n<Dial>+15551234567</Dial></Response>", "line 3: <Dial> is a TwiML verb the simulator does not support" },
	{ "<Response><Enqueue>q</Enqueue></Response>", "does not support" },
	{ "<Response><Connect/></Response>", "does not support" },
	{ "<Response><Message>x</Message></Response>", "does not support" },
	{ "<Response><Gather><Record/></Gather></Response>", "<Record> is not allowed inside <Gather>" },
	{ "<Response><Gather><Gather/></Gather></Response>", "<Gather> is not allowed inside <Gather>" },
	{ "<Response><Gather><Hangup/></Gather></Response>", "not allowed inside <Gather>" },
	{ "<Response><Gather><Dial/></Gather></Response>", "not allowed inside <Gather>" },
	{ "<Response><Gather>press 1</Gather></Response>", "<Gather> holds text outside a verb" },
	{ "<Response><Say><Play>x</Play></Say></Response>", "<Say> cannot contain <Play>" },
	{ "<Response><Hangup><Say>x</Say></Hangup></Response>", "<Hangup> cannot contain <Say>" },
	{ "<Response><Say/></Response>", "<Say> is empty" },
	{ "<Response><Say>   </Say></Response>", "<Say> is empty" },
	{ "<Response><Play/></Response>", "neither an audio URL nor digits" },
	{ "<Response><Play digits=\"12a\"/></Response>", "digits=\"12a\"" },
	{ "<Response><Play>ftp://x/y.mp3</Play></Response>", "not an http(s) URL" },
	{ "<Response><Play>a b.mp3</Play></Response>", "not an http(s) URL" },
	{ "<Response><Play loop=\"-1\">a.mp3</Play></Response>", "loop=\"-1\" is not a whole number" },
	{ "<Response><Say loop=\"1001\">x</Say></Response>", "from 0 to 1000" },
	{ "<Response><Pause length=\"x\"/></Response>", "length=\"x\"" },
	{ "<Response><Pause length=\"1.5\"/></Response>", "length=\"1.5\"" },
	{ "<Response><Pause>x</Pause></Response>", "<Pause> holds text" },
	{ "<Response><Gather timeout=\"0\"/></Response>", "timeout=\"0\"" },
	{ "<Response><Gather timeout=\"5s\"/></Response>", "timeout=\"5s\"" },
	{ "<Response><Gather timeout=\"99999999999999999999\"/></Response>", "is not a whole number" },
	{ "<Response><Gather numDigits=\"0\"/></Response>", "numDigits=\"0\"" },
	{ "<Response><Gather finishOnKey=\"##\"/></Response>", "finishOnKey=\"##\"" },
	{ "<Response><Gather finishOnKey=\"a\"/></Response>", "finishOnKey=\"a\"" },
	{ "<Response><Gather finishOnKey=\" \"/></Response>", "finishOnKey=\" \"" },
	{ "<Response><Gather finishOnKey=\"#*\"/></Response>", "finishOnKey=\"#*\"" },
	{ "<Response><Gather method=\"PUT\"/></Response>", "method=\"PUT\" is not GET or POST" },
	{ "<Response><Gather actionOnEmptyResult=\"yes\"/></Response>", "is not true or false" },
	{ "<Response><Gather input=\"speech\"/></Response>", "speech input is not supported" },
	{ "<Response><Gather action=\"mailto:x@y\"/></Response>", "action \"mailto:x@y\"" },
	{ "<Response><Record maxLength=\"0\"/></Response>", "maxLength=\"0\"" },
	{ "<Response><Record maxLength=\"1\"/></Response>", "maxLength=\"1\"" },
	{ "<Response><Record maxLength=\"14401\"/></Response>", "maxLength=\"14401\"" },
	{ "<Response><Record trim=\"yes\"/></Response>", "trim=\"yes\"" },
	{ "<Response><Record transcribe=\"true\"/></Response>", "transcription is not supported" },
	{ "<Response><Record recordingStatusCallbackMethod=\"PUT\"/></Response>",
		"recordingStatusCallbackMethod=\"PUT\"" },
	{ "<Response><Record recordingStatusCallbackEvent=\"done\"/></Response>", "\"done\" is not" },
	{ "<Response><Record recordingStatusCallbackEvent=\" \"/></Response>", "is empty" },
	{ "<Response><Record recordingStatusCallback=\"ftp://x/y\"/></Response>",
		"recordingStatusCallback" },
	{ "<Response><Record finishOnKey=\"1x\"/></Response>", "finishOnKey=\"1x\"" },
	{ "<Response><Record playBeep=\"1\"/></Response>", "playBeep=\"1\"" },
	{ "<Response><Redirect/></Response>", "<Redirect> has no URL" },
	{ "<Response><Redirect method=\"DELETE\">/x</Redirect></Response>", "method=\"DELETE\"" },
	{ "<Response><Reject reason=\"nope\"/></Response>", "reason=\"nope\"" },
	{ "<Response><x:Say xmlns:x=\"urn:x\">a</x:Say></Response>", "namespace" },
	{ "<Response>\n  <Say>ok</Say>\n  <Pause length=\"1\"/>\n  <Bogus/>\n</Response>", "line 4: <Bogus> is not a TwiML verb" },
};

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad_cases); i++) {
		struct sim_twiml t;
		char err[256] = "";
		int rc = sim_twiml_parse(bad_cases[i].xml, strlen(bad_cases[i].xml), DOC, &t, err, sizeof(err));
		if (rc != SIM_TWIML_INVALID)
			fail_msg("'%s' gave %d, not 12100", bad_cases[i].xml, rc);
		if (strstr(err, bad_cases[i].reason) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'", bad_cases[i].xml, err, bad_cases[i].reason);
		if (strchr(err, '\n') != NULL)
			fail_msg("'%s': message is not one line", bad_cases[i].xml);
		assert_int_equal(t.n, 0);
		assert_null(t.verbs);
		sim_twiml_free(&t);
	}
}

static void test_edges(void **state)
{
	struct sim_twiml t;
	char err[256];
	struct buf b = BUF_INIT;
	(void)state;

	/* The document URL must be absolute. */
	assert_int_equal(sim_twiml_parse("<Response/>", 11, "/twilio/voice", &t, err, sizeof(err)), 12100);
	assert_non_null(strstr(err, "URL"));
	assert_int_equal(sim_twiml_parse("<Response/>", 11, NULL, &t, err, sizeof(err)), 12100);
	assert_int_equal(sim_twiml_parse(NULL, 0, DOC, &t, err, sizeof(err)), 12100);
	/* A NUL inside the document. */
	assert_int_equal(sim_twiml_parse("<Response>\0</Response>", 22, DOC, &t, err, sizeof(err)), 12100);
	/* Deep nesting is refused, not recursed into. */
	buf_puts(&b, "<Response>");
	for (int i = 0; i < 5000; i++)
		buf_puts(&b, "<Say>");
	assert_int_equal(sim_twiml_parse(b.data, b.len, DOC, &t, err, sizeof(err)), 12100);
	buf_reset(&b);
	/* Many verbs are fine. */
	buf_puts(&b, "<Response>");
	for (int i = 0; i < 1000; i++)
		buf_puts(&b, "<Pause length=\"0\"/>");
	buf_puts(&b, "</Response>");
	assert_int_equal(sim_twiml_parse(b.data, b.len, DOC, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, 1000);
	sim_twiml_free(&t);
	sim_twiml_free(&t);
	/* A message that does not fit is still terminated. */
	assert_int_equal(sim_twiml_parse("<Foo/>", 6, DOC, &t, err, 8), 12100);
	assert_true(strlen(err) < 8);
	buf_free(&b);
	assert_string_equal(sim_verb_name(SIM_VERB_GATHER), "Gather");
	assert_string_equal(sim_verb_name((enum sim_verb_kind)99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_edges),
	};
	return cmocka_run_group_tests_name("sim_twiml", tests, NULL, NULL);
}

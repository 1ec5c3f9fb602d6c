/* Unit tests: the compiled TwiML renderer against the libxml2 reference.
 *
 * For every state of every shipped flow, and for templates built to reach
 * each corner of libxml2's writer (CDATA, comments, entities in
 * attributes, empty elements, deep nesting, the engine's attributes
 * already present), twiml_run on the compiled template must write exactly
 * the bytes twiml_ref_render (a filled-in libxml2 document, serialised by
 * libxml2) writes, and fail exactly when it fails, for hostile values:
 * quotes, markup, "]]>", control bytes, invalid UTF-8, very long, empty
 * and blank values, and hostile engine strings (URLs with quotes, tabs,
 * newlines, carriage returns and markup). */
#include "unit.h"

#include "buf.h"
#include "flow.h"
#include "twiml.h"
#include "twiml_ref.h"
#include "util.h"

#include <dirent.h>
#include <libxml/parser.h>

/* Values a field may hold (NULL: the field is not given). */
static const char *const hostile[] = {
	"Bright Smile Dental",
	"Smith & Sons",
	"O'Brien \"Dr\" <b>bold</b>",
	"]]><Hangup/>",
	"]]>",
	"{{business_name}}",
	"&amp; &#13; &lt;",
	"a\x01" "b\x1f" "c\td\ne\rf\x7f",
	"bad\xff" "utf\xc0\xaf" "over\xe6\x97" "cut\xed\xa0\x80" "sur\xef\xbf\xbe" "nc\xf4\x90\x80\x80" "big",
	"\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80 caf\xc3\xa9",
	"",
	" \t\n\r",
	"\x01",
	NULL,
	"\xe2\x80\xa8line sep\xc2\x85",
};

/* Engine strings (Gather action, audio base, recordings, callback). */
static const char *const engine_strings[] = {
	"https://rf.example.com/twilio/voice/reminder_call?c=0123456789abcdef&s=details&n=3",
	"https://h/a?x=\"q\"&y='s'&z=<t>",
	"tab\there\nnew\rret \xc3\xa9 \x01 ]]>",
	"",
	NULL,
};

static char *long_value(void)
{
	size_t n = 100000;
	char *s = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++)
		s[i] = "ab<&>\"' \xc3\xa9"[i % 10];
	/* Never cut a two-byte character in half at the end. */
	if ((unsigned char)s[n - 1] == 0xc3)
		s[n - 1] = 'x';
	s[n] = '\0';
	return s;
}

static int compared;

/* Renders tmpl both ways with opts and requires the same result. */
static void same(xmlDocPtr tmpl, const struct twiml_prog *prog, const struct twiml_render_opts *opts,
	const char *what)
{
	struct buf want = BUF_INIT, got = BUF_INIT;
	int rw, rg;

	buf_puts(&want, "kept");
	buf_puts(&got, "kept");
	rw = twiml_ref_render(tmpl, opts, &want);
	rg = twiml_run(prog, opts, &got);
	if (rw != rg || want.len != got.len || memcmp(want.data, got.data, want.len) != 0) {
		print_error("%s: libxml2 %d, compiled %d\n--- libxml2:\n%.2000s\n--- compiled:\n%.2000s\n",
			what, rw, rg, buf_str(&want), buf_str(&got));
		fail();
	}
	compared++;
	buf_free(&want);
	buf_free(&got);
}

/* Every combination worth making for one template: each hostile value in
 * each field (the others plain), each engine string in each slot. */
static void same_everywhere(xmlDocPtr tmpl, const char *what)
{
	char err[256];
	struct twiml_prog *prog = twiml_compile(tmpl, err, sizeof(err));
	char *lv = long_value();
	const char *plain[TWIML_NFIELDS] = { "Bright Smile Dental", "Tuesday, March 4", "10:30 AM",
		"+15551234567" };
	struct twiml_var vars[TWIML_NFIELDS];
	struct twiml_render_opts opts;
	size_t nh = ARRAY_LEN(hostile), ne = ARRAY_LEN(engine_strings);

	if (prog == NULL) {
		print_error("%s: does not compile: %s\n", what, err);
		fail();
	}
	for (size_t f = 0; f < TWIML_NFIELDS; f++) {
		for (size_t h = 0; h <= nh; h++) {
			size_t nv = 0;
			for (size_t k = 0; k < TWIML_NFIELDS; k++) {
				const char *v = k != f ? plain[k] : h == nh ? lv : hostile[h];
				if (v == NULL)
					continue;
				vars[nv].name = twiml_fields[k];
				vars[nv++].value = v;
			}
			opts = (struct twiml_render_opts){ vars, nv, engine_strings[0],
				"https://rf.example.com/audio/f/s", NULL, "https://h/rec/RE1",
				"https://rf.example.com/twilio/status/recording" };
			same(tmpl, prog, &opts, what);
		}
	}
	for (size_t k = 0; k < TWIML_NFIELDS; k++) {
		vars[k].name = twiml_fields[k];
		vars[k].value = plain[k];
	}
	for (size_t slot = 0; slot < 5; slot++) {
		for (size_t e = 0; e < ne; e++) {
			const char *s[5] = { engine_strings[0], "https://rf.example.com/audio/f/s",
				"https://h/rec/RE0", NULL, "https://h/cb" };
			s[slot] = engine_strings[e];
			opts = (struct twiml_render_opts){ vars, TWIML_NFIELDS, s[0], s[1], s[2], s[3],
				s[4] };
			same(tmpl, prog, &opts, what);
		}
	}
	same(tmpl, prog, NULL, what);
	twiml_prog_free(prog);
	free(lv);
}

/* Every state of every flow under state_tables/. */
static void test_shipped_flows(void **state)
{
	DIR *dir = opendir("state_tables");
	struct dirent *de;
	size_t states = 0;

	(void)state;
	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL) {
		struct flow_diag d = { NULL, 0 };
		struct flow *f;
		if (!flow_dir_is_flow(de->d_name))
			continue;
		f = flow_load(".", de->d_name, &d);
		assert_non_null(f);
		assert_int_equal(d.n, 0);
		for (size_t i = 0; i < f->nstates; i++) {
			/* The flow compiled its own copy at load. */
			assert_non_null(f->states[i].prog);
			same_everywhere(f->states[i].tmpl, f->states[i].tmpl_path);
			states++;
		}
		flow_free(f);
	}
	closedir(dir);
	/* reminder_call, reminder_sms and inbound at least. */
	assert_true(states >= 30);
}

/* Templates that reach the corners of the writer. */
static void test_corners(void **state)
{
	static const char *const templates[] = {
		"<Response/>",
		"<?xml version=\"1.0\" standalone=\"yes\"?><Response><Hangup/></Response>",
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<!-- top -->\n"
		"<?pi x?>\n<Response>\n  <Say>Hi</Say>\n</Response>\n<!-- after -->\n",
		"<Response><Say/></Response>",
		"<Response><Say>   </Say></Response>",
		"<Response><Say>a<!-- c -->{{busi<!-- split -->ness_name}}</Say></Response>",
		"<Response><Say>x<![CDATA[<&>{{business_name}}]]>y</Say></Response>",
		"<Response><Say voice=\"alice\" language=\"en-US\">  {{business_name}}\n"
		"  at {{appointment_time}} &amp; &lt;&gt; &#13; &#9; \xc3\xa9 </Say></Response>",
		"<Response><Message>{{business_name}}: see you {{appointment_date}}.</Message></Response>",
		"<Response><Message><Body>Hi {{business_name}}</Body><Media>https://x/y?a=1&amp;b=2</Media></Message></Response>",
		"<Response><Message><!-- c -->Hi {{business_name}}</Message></Response>",
		"<Response><Message>Hi <Body>{{business_name}}</Body></Message></Response>",
		"<Response><Gather actionOnEmptyResult=\"false\" numDigits=\"1\" timeout=\"5\">"
		"<Say>{{business_name}}</Say></Gather></Response>",
		"<Response><Gather method=\"GET\" action=\"x\"><Say>a</Say></Gather></Response>",
		"<Response><Gather/><Gather></Gather><Gather><!-- only --></Gather></Response>",
		"<Response><Record maxLength=\"60\" playBeep=\"true\"/><Record method=\"GET\" "
		"recordingStatusCallback=\"x\" trim=\"do-not-trim\"/></Response>",
		"<Response><Play>a.mp3</Play><Play loop=\"2\"><![CDATA[b-c_D.wav]]></Play>"
		"<Play>x<!-- c -->y.mp3</Play></Response>",
		"<Response><Gather numDigits=\"1\"><PlayRecording of=\"greeting\"><Play>a.mp3</Play>"
		"<Say>{{business_name}}</Say></PlayRecording><Play>b.mp3</Play></Gather>"
		"<PlayRecording of=\"this_call\"><!-- c --><Pause length=\"1\"/></PlayRecording>"
		"<PlayRecording of=\"other\"><Say>x</Say></PlayRecording><Hangup/></Response>",
		"<Response><Redirect method=\"POST\">https://x/y?a=1&amp;b=&quot;2&quot; ]]&gt;"
		"</Redirect><Redirect><![CDATA[a]]]]><![CDATA[>b]]><![CDATA[]]></Redirect></Response>",
		"<Response><Dial callerId=\"&quot;+1&amp;2&lt;&#9;&#10;&#13;\xc3\xa9\">"
		"<Number sendDigits=\"w1\">+15551234567</Number><Client><Identity>x</Identity>"
		"<Parameter name=\"a\" value=\"b\"/></Client></Dial></Response>",
		"<Response><Pause length=\"2\"/>\n\n   <Hangup/>  </Response>",
		"<Response>text at the top<Hangup/></Response>",
		"<Response><Dial><Dial><Dial><Dial><Dial><Dial><Dial><Dial><Dial><Dial><Dial>"
		"<Dial><Dial><Dial><Dial><Dial><Dial><Dial><Dial><Dial><Dial><Dial><Dial><Dial>"
		"<Dial><Dial><Dial><Dial><Dial><Dial><Dial><Dial><Dial><Hangup/><Say>{{business_name}}</Say>"
		"</Dial></Dial></Dial></Dial></Dial></Dial></Dial></Dial></Dial></Dial></Dial>"
		"</Dial></Dial></Dial></Dial></Dial></Dial></Dial></Dial></Dial></Dial></Dial>"
		"</Dial></Dial></Dial></Dial></Dial></Dial></Dial></Dial></Dial></Dial></Dial>"
		"</Response>",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(templates); i++) {
		struct flow_diag d = { NULL, 0 };
		xmlDocPtr doc = twiml_parse(templates[i], strlen(templates[i]), "t.xml", &d);
		char *what = xasprintf("corner %zu", i);
		if (doc == NULL) {
			print_error("%s does not parse: %s\n", what, d.n ? d.msgs[0] : "?");
			fail();
		}
		same_everywhere(doc, what);
		free(what);
		xmlFreeDoc(doc);
		flow_diag_free(&d);
	}
}

/* What cannot render at all does not compile, and says why; twiml_run
 * of nothing fails and leaves the buffer alone. */
static void test_not_compiled(void **state)
{
	static const char *const templates[] = {
		"<Say>x</Say>",
		"<Response><Say>{{notes}}</Say></Response>",
		"<Response><Say>{{business_name</Say></Response>",
		"<Response><Play>../x.mp3</Play></Response>",
		"<Response><Play><Say>a.mp3</Say></Play></Response>",
		"<Response><PlayRecording><Play>a.mp3</Play></PlayRecording></Response>",
		"<Response><PlayRecording of=\"greeting\"/></Response>",
		"<Response><PlayRecording of=\"greeting\">text</PlayRecording></Response>",
		"<Response xmlns=\"urn:x\"><Hangup/></Response>",
		"<!DOCTYPE Response [<!ENTITY e \"x\">]><Response><Redirect>&e;</Redirect></Response>",
	};
	struct buf b = BUF_INIT;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(templates); i++) {
		struct flow_diag d = { NULL, 0 };
		xmlDocPtr doc = twiml_parse(templates[i], strlen(templates[i]), "t.xml", &d);
		char err[256];
		struct twiml_prog *p;

		assert_non_null(doc);
		p = twiml_compile(doc, err, sizeof(err));
		if (p != NULL) {
			print_error("case %zu compiled\n", i);
			fail();
		}
		assert_true(err[0] != '\0');
		xmlFreeDoc(doc);
		flow_diag_free(&d);
	}
	buf_puts(&b, "kept");
	assert_int_equal(twiml_run(NULL, NULL, &b), -1);
	assert_string_equal(buf_str(&b), "kept");
	buf_free(&b);
}

/* A failed rendering leaves what the buffer held, also after a value
 * was already written into it. */
static void test_failure_rolls_back(void **state)
{
	static const char tmpl[] =
		"<Response><Say>{{business_name}}</Say><Say>{{appointment_date}}</Say></Response>";
	struct flow_diag d = { NULL, 0 };
	xmlDocPtr doc = twiml_parse(tmpl, strlen(tmpl), "t.xml", &d);
	char err[256];
	struct twiml_prog *p = twiml_compile(doc, err, sizeof(err));
	struct twiml_var v = { "business_name", "Acme" };
	struct twiml_render_opts opts = { &v, 1, NULL, NULL, NULL, NULL, NULL };
	struct arena *a = arena_new(0);
	struct buf b;

	(void)state;
	assert_non_null(p);
	buf_init_arena(&b, a);
	buf_puts(&b, "before");
	assert_int_equal(twiml_run(p, &opts, &b), -1);
	assert_string_equal(buf_str(&b), "before");
	assert_int_equal(b.len, 6);
	twiml_prog_free(p);
	arena_free(a);
	xmlFreeDoc(doc);
}

static void test_count(void **state)
{
	(void)state;
	/* The comparisons above did run (a loop that never ran proves
	 * nothing). */
	assert_true(compared > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_flows),
		cmocka_unit_test(test_corners),
		cmocka_unit_test(test_not_compiled),
		cmocka_unit_test(test_failure_rolls_back),
		cmocka_unit_test(test_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests: twiml (validation, facts, rendering, golden files).
 *
 * The golden files test/golden/reminder_call/<state>.xml are the exact
 * bytes twiml_render writes for each shipped state with the variables
 * below.  After an intended change to a template or to the renderer,
 * RINGFENCE_UPDATE_GOLDEN=1 bin/unit/test_twiml rewrites them; review the
 * diff before committing it. */
#include "unit.h"

#include "buf.h"
#include "flow.h"
#include "twiml.h"
#include "util.h"

#include <errno.h>
#include <libxml/parser.h>

static xmlDocPtr parse(const char *text, struct flow_diag *d)
{
	return twiml_parse(text, strlen(text), "t.xml", d);
}

/* Renders text (a template) with opts; returns the output (caller frees)
 * or NULL when twiml_render fails. */
static char *render(const char *text, const struct twiml_render_opts *opts)
{
	struct flow_diag d = { NULL, 0 };
	xmlDocPtr doc = parse(text, &d);
	struct buf b = BUF_INIT;
	char *out = NULL;

	assert_non_null(doc);
	assert_int_equal(d.n, 0);
	if (twiml_render(doc, opts, &b) == 0)
		out = xstrdup(buf_str(&b));
	buf_free(&b);
	xmlFreeDoc(doc);
	return out;
}

static const struct twiml_var golden_vars[] = {
	{ "business_name", "Bright Smile Dental" },
	{ "appointment_date", "Tuesday, March 4" },
	{ "appointment_time", "10:30 AM" },
	{ "callback_number", "+15551234567" },
};

static void test_golden(void **state)
{
	struct flow_diag d = { NULL, 0 };
	struct flow *f = flow_load(".", "reminder_call", &d);
	int update = getenv("RINGFENCE_UPDATE_GOLDEN") != NULL;

	(void)state;
	assert_non_null(f);
	assert_int_equal(d.n, 0);
	for (size_t i = 0; i < f->nstates; i++) {
		const char *name = f->states[i].name;
		char *action = xasprintf("https://rf.example.com/twilio/voice/reminder_call"
			"?c=0123456789abcdef0123456789abcdef&s=%s&n=3", name);
		char *audio = xasprintf("https://rf.example.com/audio/reminder_call/%s", name);
		char *path = xasprintf("test/golden/reminder_call/%s.xml", name);
		struct twiml_render_opts opts = { golden_vars, ARRAY_LEN(golden_vars), action, audio,
			NULL, NULL, NULL };
		struct buf b = BUF_INIT;
		size_t glen = 0;
		char *golden;

		assert_int_equal(twiml_render(f->states[i].tmpl, &opts, &b), 0);
		if (update) {
			FILE *fp = fopen(path, "w");
			assert_non_null(fp);
			assert_int_equal(fwrite(b.data, 1, b.len, fp), b.len);
			assert_int_equal(fclose(fp), 0);
		}
		golden = util_read_file(path, 1 << 20, &glen);
		if (golden == NULL) {
			print_error("%s: %s (RINGFENCE_UPDATE_GOLDEN=1 writes it)\n", path, strerror(errno));
			fail();
		}
		if (glen != b.len || memcmp(golden, b.data, glen) != 0) {
			print_error("%s differs from the rendering:\n%s", path, buf_str(&b));
			fail();
		}
		free(golden);
		buf_free(&b);
		free(path);
		free(audio);
		free(action);
	}
	flow_free(f);
}

/* Every rendered state is TwiML Twilio accepts: the XML declaration, root
 * Response, engine-owned Gather attributes, absolute Play URLs. */
static void test_rendered_states_are_twiml(void **state)
{
	struct flow_diag d = { NULL, 0 };
	struct flow *f = flow_load(".", "reminder_call", &d);

	(void)state;
	assert_non_null(f);
	for (size_t i = 0; i < f->nstates; i++) {
		struct twiml_render_opts opts = { golden_vars, ARRAY_LEN(golden_vars),
			"https://h/twilio/voice/reminder_call?c=t&s=x&n=1",
			"https://h/audio/reminder_call/x", NULL, NULL, NULL };
		struct buf b = BUF_INIT;
		xmlDocPtr out;
		xmlNodePtr root;
		int gathers = 0;

		assert_int_equal(twiml_render(f->states[i].tmpl, &opts, &b), 0);
		assert_true(strncmp(buf_str(&b), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 39) == 0);
		assert_null(strstr(buf_str(&b), "{{"));
		assert_null(strstr(buf_str(&b), "<!--"));
		out = xmlReadMemory(b.data, (int)b.len, "out.xml", NULL, XML_PARSE_NONET);
		assert_non_null(out);
		root = xmlDocGetRootElement(out);
		assert_string_equal((const char *)root->name, "Response");
		for (xmlNodePtr c = root->children; c; c = c->next) {
			if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "Gather") != 0)
				continue;
			gathers++;
			xmlChar *a = xmlGetProp(c, (const xmlChar *)"action");
			xmlChar *m = xmlGetProp(c, (const xmlChar *)"method");
			xmlChar *e = xmlGetProp(c, (const xmlChar *)"actionOnEmptyResult");
			assert_string_equal((const char *)a, opts.gather_action);
			assert_string_equal((const char *)m, "POST");
			assert_string_equal((const char *)e, "true");
			xmlFree(a);
			xmlFree(m);
			xmlFree(e);
			for (xmlNodePtr p = c->children; p; p = p->next) {
				if (p->type == XML_ELEMENT_NODE && strcmp((const char *)p->name, "Play") == 0) {
					xmlChar *u = xmlNodeGetContent(p);
					assert_true(strncmp((const char *)u, "https://h/audio/reminder_call/x/",
						32) == 0);
					xmlFree(u);
				}
			}
		}
		assert_int_equal(gathers, f->states[i].terminal ? 0 : 1);
		xmlFreeDoc(out);
		buf_free(&b);
	}
	flow_free(f);
}

/* Values are text: markup in them is escaped, and a value that looks like
 * a placeholder is never expanded. */
static void test_render_escapes(void **state)
{
	static const struct {
		const char *value, *xml, *text;
	} cases[] = {
		{ "Smith & Sons", "<Say>Hi Smith &amp; Sons.</Say>", "Hi Smith & Sons." },
		{ "<b>bold</b>", "<Say>Hi &lt;b&gt;bold&lt;/b&gt;.</Say>", "Hi <b>bold</b>." },
		{ "O'Brien \"Dr\"", "<Say>Hi O'Brien \"Dr\".</Say>", "Hi O'Brien \"Dr\"." },
		{ "{{business_name}}", "<Say>Hi {{business_name}}.</Say>", "Hi {{business_name}}." },
		{ "{{callback_number}}", "<Say>Hi {{callback_number}}.</Say>", "Hi {{callback_number}}." },
		{ "]]><Hangup/>", "<Say>Hi ]]&gt;&lt;Hangup/&gt;.</Say>", "Hi ]]><Hangup/>." },
		{ "&amp;", "<Say>Hi &amp;amp;.</Say>", "Hi &amp;." },
		{ "Caf\xc3\xa9 \xe6\x97\xa5", "<Say>Hi Caf\xc3\xa9 \xe6\x97\xa5.</Say>", "Hi Caf\xc3\xa9 \xe6\x97\xa5." },
		{ "a\x01" "b\x1f" "c\td", "<Say>Hi a b c\td.</Say>", "Hi a b c\td." },
		{ "bad\xff" "utf", "<Say>Hi bad\xef\xbf\xbdutf.</Say>", "Hi bad\xef\xbf\xbdutf." },
		{ "over\xc0\xaflong", "<Say>Hi over\xef\xbf\xbd\xef\xbf\xbdlong.</Say>",
		  "Hi over\xef\xbf\xbd\xef\xbf\xbdlong." },
		{ "cut\xe6\x97", "<Say>Hi cut\xef\xbf\xbd.</Say>", "Hi cut\xef\xbf\xbd." },
		{ "sur\xed\xa0\x80", "<Say>Hi sur\xef\xbf\xbd.</Say>", "Hi sur\xef\xbf\xbd." },
		{ "nc\xef\xbf\xbe", "<Say>Hi nc\xef\xbf\xbd.</Say>", "Hi nc\xef\xbf\xbd." },
	};
	const char *tmpl = "<Response><Say>Hi {{business_name}}.</Say></Response>";

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct twiml_var v = { "business_name", cases[i].value };
		struct twiml_render_opts opts = { &v, 1, NULL, NULL, NULL, NULL, NULL };
		char *out = render(tmpl, &opts);
		xmlDocPtr doc;
		xmlChar *text;

		assert_non_null(out);
		if (strstr(out, cases[i].xml) == NULL) {
			print_error("case %zu: %s", i, out);
			fail();
		}
		/* Reading the output back gives the value, not markup. */
		doc = xmlReadMemory(out, (int)strlen(out), "out.xml", NULL, XML_PARSE_NONET);
		assert_non_null(doc);
		assert_int_equal(xmlChildElementCount(xmlDocGetRootElement(doc)), 1);
		text = xmlNodeGetContent(xmlFirstElementChild(xmlDocGetRootElement(doc)));
		assert_string_equal((const char *)text, cases[i].text);
		xmlFree(text);
		xmlFreeDoc(doc);
		free(out);
	}
}

static void test_render_fails_closed(void **state)
{
	static const struct {
		const char *tmpl;
		const char *value; /* business_name; NULL: not given */
	} cases[] = {
		{ "<Response><Say>{{business_name}}</Say></Response>", NULL },
		{ "<Response><Say>{{business_name}}</Say></Response>", "" },
		{ "<Response><Say>{{business_name}}</Say></Response>", " \t\n" },
		{ "<Response><Say>{{appointment_date}}</Say></Response>", "x" },
		/* Not on the allow-list, even when the caller offers a value. */
		{ "<Response><Say>{{notes}}</Say></Response>", "x" },
		{ "<Response><Say>{{business_name</Say></Response>", "x" },
		{ "<Response><Gather><Say>{{business_name}}</Say><Say>{{nope}}</Say></Gather></Response>", "x" },
		{ "<Response><Play>../secret.mp3</Play></Response>", "x" },
		{ "<Response><Play>https://evil.example/x.mp3</Play></Response>", "x" },
		{ "<Say>x</Say>", "x" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct twiml_var v[] = { { "business_name", cases[i].value }, { "notes", "secret" } };
		struct twiml_render_opts opts = { v, cases[i].value ? 2 : 0, "https://h/a", "https://h/b",
			NULL, NULL, NULL };
		struct flow_diag d = { NULL, 0 };
		xmlDocPtr doc = parse(cases[i].tmpl, &d);
		struct buf b = BUF_INIT;

		assert_non_null(doc);
		buf_puts(&b, "kept");
		if (twiml_render(doc, &opts, &b) != -1 || strcmp(buf_str(&b), "kept") != 0) {
			print_error("case %zu rendered: %s\n", i, buf_str(&b));
			fail();
		}
		buf_free(&b);
		xmlFreeDoc(doc);
		flow_diag_free(&d);
	}
	{
		struct buf b = BUF_INIT;
		assert_int_equal(twiml_render(NULL, NULL, &b), -1);
		assert_int_equal(b.len, 0);
	}
}

static void test_render_options(void **state)
{
	const char *tmpl =
		"<?xml version=\"1.0\"?>\n"
		"<!-- a note for the template's readers -->\n"
		"<Response>\n"
		"  <!-- inside too -->\n"
		"  <Gather numDigits=\"1\">\n"
		"    <Play>a.mp3</Play>\n"
		"    <Say>  two  spaces  </Say>\n"
		"  </Gather>\n"
		"  <Pause length=\"2\"/>\n"
		"</Response>\n";
	struct twiml_render_opts none = { NULL, 0, NULL, NULL, NULL, NULL, NULL };
	struct twiml_render_opts both = { NULL, 0, "https://h/v?c=1&s=a&n=2", "https://h/audio/f/a",
		NULL, NULL, NULL };
	char *out;

	(void)state;
	out = render(tmpl, &none);
	assert_non_null(out);
	assert_string_equal(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<Response>\n"
		"  <Gather numDigits=\"1\">\n"
		"    <Play>a.mp3</Play>\n"
		"    <Say>  two  spaces  </Say>\n"
		"  </Gather>\n"
		"  <Pause length=\"2\"/>\n"
		"</Response>\n");
	free(out);
	out = render(tmpl, &both);
	assert_non_null(out);
	assert_string_equal(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<Response>\n"
		"  <Gather numDigits=\"1\" action=\"https://h/v?c=1&amp;s=a&amp;n=2\" method=\"POST\" "
		"actionOnEmptyResult=\"true\">\n"
		"    <Play>https://h/audio/f/a/a.mp3</Play>\n"
		"    <Say>  two  spaces  </Say>\n"
		"  </Gather>\n"
		"  <Pause length=\"2\"/>\n"
		"</Response>\n");
	free(out);
	/* Rendering works on a copy: the template is unchanged, so a second
	 * rendering with other values does not see the first's. */
	{
		struct flow_diag d = { NULL, 0 };
		xmlDocPtr doc = parse("<Response><Say>{{business_name}}</Say></Response>", &d);
		struct twiml_var v1 = { "business_name", "First" }, v2 = { "business_name", "Second" };
		struct twiml_render_opts o1 = { &v1, 1, NULL, NULL, NULL, NULL, NULL },
			o2 = { &v2, 1, NULL, NULL, NULL, NULL, NULL };
		struct buf b = BUF_INIT;
		assert_int_equal(twiml_render(doc, &o1, &b), 0);
		assert_non_null(strstr(buf_str(&b), "<Say>First</Say>"));
		buf_reset(&b);
		assert_int_equal(twiml_render(doc, &o2, &b), 0);
		assert_non_null(strstr(buf_str(&b), "<Say>Second</Say>"));
		buf_free(&b);
		xmlFreeDoc(doc);
	}
}

/* PlayRecording plays the recording when there is one, else its own
 * prompts; a Record gets the engine's action and status callback. */
static void test_render_recordings(void **state)
{
	static const char tmpl[] =
		"<Response><Gather numDigits=\"1\"><PlayRecording of=\"greeting\"><Play>a.mp3</Play>"
		"<Say>{{business_name}}</Say></PlayRecording><Play>b.mp3</Play></Gather>"
		"<Record maxLength=\"60\"/><Hangup/></Response>";
	struct twiml_var v = { "business_name", "Acme" };
	struct twiml_render_opts without = { &v, 1, "https://h/v?c=1&s=a&n=2", "https://h/au",
		NULL, NULL, "https://h/twilio/status/recording" };
	struct twiml_render_opts with = without;
	char *out;

	(void)state;
	out = render(tmpl, &without);
	assert_non_null(out);
	assert_string_equal(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<Response>\n"
		"  <Gather numDigits=\"1\" action=\"https://h/v?c=1&amp;s=a&amp;n=2\" method=\"POST\" "
		"actionOnEmptyResult=\"true\">\n"
		"    <Play>https://h/au/a.mp3</Play>\n"
		"    <Say>Acme</Say>\n"
		"    <Play>https://h/au/b.mp3</Play>\n"
		"  </Gather>\n"
		"  <Record maxLength=\"60\" action=\"https://h/v?c=1&amp;s=a&amp;n=2\" method=\"POST\" "
		"recordingStatusCallback=\"https://h/twilio/status/recording\" "
		"recordingStatusCallbackMethod=\"POST\"/>\n"
		"  <Hangup/>\n"
		"</Response>\n");
	free(out);
	with.greeting_url = "https://api.example/Recordings/RE1?a=1&b=<2>";
	out = render(tmpl, &with);
	assert_non_null(out);
	assert_non_null(strstr(out, "    <Play>https://api.example/Recordings/RE1?a=1&amp;b=&lt;2&gt;</Play>\n"
		"    <Play>https://h/au/b.mp3</Play>\n"));
	assert_null(strstr(out, "Acme"));
	assert_null(strstr(out, "PlayRecording"));
	free(out);
}

/* The hold document: well-formed, its URLs escaped, Play, Pause and
 * Redirect in that order (the simulator checks it as Twilio does). */
static void test_hold(void **state)
{
	struct buf b = BUF_INIT;
	const char *xml;
	xmlDocPtr doc;
	xmlNodePtr root;
	xmlChar *u;
	const char *names[3] = { "Play", "Pause", "Redirect" };
	int n = 0;

	(void)state;
	buf_puts(&b, "prefix");
	twiml_hold(&b, "https://h/audio/hold/one_moment_please.mp3", 5,
		"https://h/twilio/voice/f?c=1&s=a<b>&n=2&hold=3&digits=%23");
	xml = buf_str(&b) + 6;
	assert_string_equal(xml,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<Response>\n"
		"  <Play>https://h/audio/hold/one_moment_please.mp3</Play>\n"
		"  <Pause length=\"5\"/>\n"
		"  <Redirect method=\"POST\">https://h/twilio/voice/f?c=1&amp;s=a&lt;b&gt;&amp;n=2"
		"&amp;hold=3&amp;digits=%23</Redirect>\n"
		"</Response>\n");
	doc = xmlReadMemory(xml, (int)strlen(xml), "hold.xml", NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	root = xmlDocGetRootElement(doc);
	for (xmlNodePtr c = root->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE) {
			assert_true(n < 3);
			assert_string_equal((const char *)c->name, names[n++]);
			if (n == 3) {
				u = xmlNodeGetContent(c);
				assert_string_equal((const char *)u,
					"https://h/twilio/voice/f?c=1&s=a<b>&n=2&hold=3&digits=%23");
				xmlFree(u);
			}
		}
	assert_int_equal(n, 3);
	xmlFreeDoc(doc);
	buf_free(&b);
}

static void test_apology(void **state)
{
	struct buf b = BUF_INIT;
	const char *xml;
	xmlDocPtr doc;
	xmlNodePtr root, last = NULL;
	struct flow_diag d = { NULL, 0 };
	struct twiml_facts fx;

	(void)state;
	buf_puts(&b, "prefix");
	twiml_apology(&b);
	xml = buf_str(&b) + 6;
	assert_string_equal(xml,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<Response>\n"
		"  <Say>We are sorry, we cannot take your call right now. Goodbye.</Say>\n"
		"  <Hangup/>\n"
		"</Response>\n");
	doc = xmlReadMemory(xml, (int)strlen(xml), "apology.xml", NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	root = xmlDocGetRootElement(doc);
	assert_string_equal((const char *)root->name, "Response");
	for (xmlNodePtr c = root->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			last = c;
	assert_string_equal((const char *)last->name, "Hangup");
	/* It passes the same validator as the templates. */
	assert_int_equal(twiml_validate(doc, "apology.xml", &d), 0);
	twiml_inspect(doc, &fx);
	assert_true(fx.ends_with_hangup);
	assert_false(fx.asks_keypress);
	twiml_facts_free(&fx);
	xmlFreeDoc(doc);
	buf_free(&b);
}

/* Each template gives exactly the listed problems (one per line of want,
 * "" for none). */
static void test_validate(void **state)
{
	static const struct {
		const char *tmpl;
		const char *want;
	} cases[] = {
		{ "<Response/>", "" },
		{ "<Response><Say voice=\"alice\" language=\"en-US\" loop=\"2\">Hi {{business_name}}</Say>"
		  "<Play loop=\"1\">a-b_C9.mp3</Play><Play>x.wav</Play><Pause length=\"3\"/><Hangup/></Response>", "" },
		{ "<Response><Gather numDigits=\"1\" timeout=\"5\" finishOnKey=\"#\" input=\"dtmf\" "
		  "actionOnEmptyResult=\"true\" speechTimeout=\"auto\" language=\"en-US\" hints=\"yes\" "
		  "bargeIn=\"false\"><Say>x</Say><Play>a.mp3</Play><Pause/></Gather><Reject reason=\"busy\"/></Response>", "" },
		{ "<Response><Gather finishOnKey=\"\"><Say>x</Say></Gather></Response>", "" },
		{ "<Response><Dial><Number>+15551234567</Number></Dial><Redirect>https://x/y</Redirect></Response>", "" },
		{ "<Response><!-- note --><Say>x</Say></Response>", "" },
		{ "<Reponse><Say>x</Say></Reponse>", "t.xml:1: root element is <Reponse>, not <Response>" },
		{ "<Response xmlns=\"urn:x\"><Say>x</Say></Response>", "t.xml:1: root element is <Response>, not <Response>" },
		{ "<!DOCTYPE Response [<!ENTITY e \"x\">]><Response><Say>&e;</Say></Response>",
		  "t.xml: a template must not have a DOCTYPE\n"
		  "t.xml:1: unexpected XML content inside <Say>\n"
		  "t.xml:1: <Say> is empty" },
		{ "<Response><Speak>x</Speak></Response>", "t.xml:1: <Speak> is not a TwiML voice verb" },
		{ "<Response><say>x</say></Response>", "t.xml:1: <say> is not a TwiML voice verb" },
		{ "<Response><Response/></Response>", "t.xml:1: <Response> is not a TwiML voice verb" },
		{ "<Response>\n<Number>1</Number></Response>", "t.xml:2: <Number> is not allowed inside <Response>" },
		{ "<Response><Gather><Hangup/></Gather></Response>",
		  "t.xml:1: <Hangup> is not allowed inside <Gather> (only Say, Play, Pause and PlayRecording)" },
		{ "<Response><Gather><Gather/></Gather></Response>",
		  "t.xml:1: <Gather> is not allowed inside <Gather> (only Say, Play, Pause and PlayRecording)" },
		{ "<Response><Gather><Redirect>x</Redirect></Gather></Response>",
		  "t.xml:1: <Redirect> is not allowed inside <Gather> (only Say, Play, Pause and PlayRecording)" },
		{ "<Response><Say><break/>x</Say></Response>", "t.xml:1: <break> is not a TwiML voice verb" },
		{ "<Response><Say><Play>a.mp3</Play>x</Say></Response>", "t.xml:1: <Play> is not allowed inside <Say>" },
		{ "<Response>hello<Hangup/></Response>", "t.xml:1: <Response> cannot hold text ('hello')" },
		{ "<Response><Hangup>now</Hangup></Response>", "t.xml:1: <Hangup> cannot hold text ('now')" },
		{ "<Response><Say></Say></Response>", "t.xml:1: <Say> is empty" },
		{ "<Response><Say>  </Say></Response>", "t.xml:1: <Say> is empty" },
		{ "<Response><Gather action=\"https://evil/\"><Say>x</Say></Gather></Response>",
		  "t.xml:1: <Gather> must not set action= (the engine sets it when rendering)" },
		{ "<Response><Gather method=\"GET\"><Say>x</Say></Gather></Response>",
		  "t.xml:1: <Gather> must not set method= (the engine sets it when rendering)" },
		{ "<Response><Gather partialResultCallback=\"https://evil/\"/></Response>",
		  "t.xml:1: <Gather> has unknown attribute 'partialResultCallback'" },
		{ "<Response><Gather numDigits=\"one\"/></Response>",
		  "t.xml:1: <Gather numDigits=\"one\">: must be a whole number from 1 to 100" },
		{ "<Response><Gather numDigits=\"0\"/></Response>",
		  "t.xml:1: <Gather numDigits=\"0\">: must be a whole number from 1 to 100" },
		{ "<Response><Gather timeout=\"-1\"/></Response>",
		  "t.xml:1: <Gather timeout=\"-1\">: must be a whole number from 1 to 600" },
		{ "<Response><Gather timeout=\"5s\"/></Response>",
		  "t.xml:1: <Gather timeout=\"5s\">: must be a whole number from 1 to 600" },
		{ "<Response><Gather timeout=\"\"/></Response>",
		  "t.xml:1: <Gather timeout=\"\">: must be a whole number from 1 to 600" },
		{ "<Response><Gather timeout=\"99999999999999999999\"/></Response>",
		  "t.xml:1: <Gather timeout=\"99999999999999999999\">: must be a whole number from 1 to 600" },
		{ "<Response><Gather speechTimeout=\"soon\"/></Response>",
		  "t.xml:1: <Gather speechTimeout=\"soon\">: must be \"auto\" or a whole number from 0 to 600" },
		{ "<Response><Gather finishOnKey=\"12\"/></Response>",
		  "t.xml:1: <Gather finishOnKey=\"12\">: must be one key (0-9, *, #) or empty" },
		{ "<Response><Gather input=\"voice\"/></Response>",
		  "t.xml:1: <Gather input=\"voice\">: not an allowed value" },
		{ "<Response><Gather actionOnEmptyResult=\"yes\"/></Response>",
		  "t.xml:1: <Gather actionOnEmptyResult=\"yes\">: must be true or false" },
		{ "<Response><Pause length=\"long\"/></Response>",
		  "t.xml:1: <Pause length=\"long\">: must be a whole number from 1 to 600" },
		{ "<Response><Say loop=\"x\">a</Say></Response>",
		  "t.xml:1: <Say loop=\"x\">: must be a whole number from 0 to 1000" },
		{ "<Response><Say rate=\"fast\">a</Say></Response>", "t.xml:1: <Say> has unknown attribute 'rate'" },
		{ "<Response><Hangup reason=\"x\"/></Response>", "t.xml:1: <Hangup> has unknown attribute 'reason'" },
		{ "<Response><Reject reason=\"later\"/></Response>", "t.xml:1: <Reject reason=\"later\">: not an allowed value" },
		{ "<Response><Play digits=\"123\">a.mp3</Play></Response>", "t.xml:1: <Play> has unknown attribute 'digits'" },
		{ "<Response><Record maxLength=\"60\" timeout=\"5\" finishOnKey=\"#*\" playBeep=\"true\""
		  " trim=\"do-not-trim\"/><Hangup/></Response>", "" },
		{ "<Response><Record transcribe=\"true\"/></Response>",
		  "t.xml:1: <Record> has unknown attribute 'transcribe'" },
		{ "<Response><Record recordingStatusCallback=\"https://evil/\"/></Response>",
		  "t.xml:1: <Record> must not set recordingStatusCallback= (the engine sets it when rendering)" },
		{ "<Response><Record maxLength=\"0\" finishOnKey=\"a\"/></Response>",
		  "t.xml:1: <Record maxLength=\"0\">: must be a whole number from 2 to 14400\n"
		  "t.xml:1: <Record finishOnKey=\"a\">: must be keys (0-9, * and #) or empty" },
		{ "<Response><Gather><PlayRecording of=\"greeting\"><Play>a.mp3</Play></PlayRecording>"
		  "</Gather></Response>", "" },
		{ "<Response><PlayRecording of=\"voicemail\"><Say>x</Say></PlayRecording></Response>",
		  "t.xml:1: <PlayRecording of=\"voicemail\">: not an allowed value" },
		{ "<Response><PlayRecording of=\"greeting\"/></Response>",
		  "t.xml:1: <PlayRecording> needs the prompts to play when there is no recording (Say, Play"
		  " or Pause inside it)" },
		{ "<Response><PlayRecording of=\"greeting\"><PlayRecording of=\"greeting\"><Say>x</Say>"
		  "</PlayRecording></PlayRecording></Response>",
		  "t.xml:1: <PlayRecording> is not allowed inside <PlayRecording>" },
		{ "<Response><Say>{{notes}}</Say></Response>",
		  "t.xml:1: placeholder {{notes}} is not an allowed field (business_name, appointment_date, "
		  "appointment_time, callback_number)" },
		{ "<Response><Say>{{Business_Name}}</Say></Response>",
		  "t.xml:1: malformed placeholder near '{{Business_Name}}' in <Say> (write {{field}})" },
		{ "<Response><Say>{{ business_name }}</Say></Response>",
		  "t.xml:1: malformed placeholder near '{{ business_name }}' in <Say> (write {{field}})" },
		{ "<Response><Say>Hi {{business_name</Say></Response>",
		  "t.xml:1: malformed placeholder near '{{business_name' in <Say> (write {{field}})" },
		{ "<Response><Say>{{}}</Say></Response>", "t.xml:1: malformed placeholder near '{{}}' in <Say> (write {{field}})" },
		{ "<Response><Say>{single} braces are fine}</Say></Response>", "" },
		{ "<Response><Say>{<!-- split -->{notes}}</Say></Response>",
		  "t.xml:1: placeholder {{notes}} is not an allowed field (business_name, appointment_date, "
		  "appointment_time, callback_number)" },
		{ "<Response><Say>{<![CDATA[{notes}}]]></Say></Response>",
		  "t.xml:1: placeholder {{notes}} is not an allowed field (business_name, appointment_date, "
		  "appointment_time, callback_number)" },
		{ "<Response><Say>Hi <![CDATA[{{business_name}}]]> <!-- c --></Say></Response>", "" },
		{ "<Response><Say>{{business_name}}{{callback_number}}</Say></Response>", "" },
		{ "<Response><Redirect>https://x/{{business_name}}</Redirect></Response>",
		  "t.xml:1: placeholder in <Redirect> text (only Say and Message text may hold placeholders)" },
		{ "<Response><Say voice=\"{{business_name}}\">x</Say></Response>",
		  "t.xml:1: placeholder in attribute voice= of <Say> (only Say and Message text may hold placeholders)" },
		{ "<Response><Dial callerId=\"{{callback_number}}\">1</Dial></Response>",
		  "t.xml:1: placeholder in attribute callerId= of <Dial> (only Say and Message text may hold placeholders)" },
		{ "<Response><Play>{{business_name}}.mp3</Play></Response>",
		  "t.xml:1: <Play> must hold a bare audio file name such as prompt.mp3 (letters, digits, _ and -, "
		  "then .mp3 or .wav), not '{{business_name}}.mp3'\n"
		  "t.xml:1: placeholder in <Play> text (only Say and Message text may hold placeholders)" },
		{ "<Response><Play>https://evil.example/a.mp3</Play></Response>",
		  "t.xml:1: <Play> must hold a bare audio file name such as prompt.mp3 (letters, digits, _ and -, "
		  "then .mp3 or .wav), not 'https://evil.example/a.mp3'" },
		{ "<Response><Play>../a.mp3</Play></Response>",
		  "t.xml:1: <Play> must hold a bare audio file name such as prompt.mp3 (letters, digits, _ and -, "
		  "then .mp3 or .wav), not '../a.mp3'" },
		{ "<Response><Play>a.ogg</Play></Response>",
		  "t.xml:1: <Play> must hold a bare audio file name such as prompt.mp3 (letters, digits, _ and -, "
		  "then .mp3 or .wav), not 'a.ogg'" },
		{ "<Response><Play> a.mp3</Play></Response>",
		  "t.xml:1: <Play> must hold a bare audio file name such as prompt.mp3 (letters, digits, _ and -, "
		  "then .mp3 or .wav), not ' a.mp3'" },
		{ "<Response><Play/></Response>",
		  "t.xml:1: <Play> must hold a bare audio file name such as prompt.mp3 (letters, digits, _ and -, "
		  "then .mp3 or .wav), not ''" },
		{ "<Response><Play>.mp3</Play></Response>",
		  "t.xml:1: <Play> must hold a bare audio file name such as prompt.mp3 (letters, digits, _ and -, "
		  "then .mp3 or .wav), not '.mp3'" },
		{ "<Response><x:Say xmlns:x=\"urn:x\">a</x:Say></Response>",
		  "t.xml:1: <Say> is in an XML namespace; TwiML has none" },
		{ "<Response><?pi data?><Hangup/></Response>", "t.xml:1: unexpected XML content inside <Response>" },
		{ "<Response>\n  <Say>a</Say>\n  <Speak/>\n  <Gather>\n    <Dial/>\n  </Gather>\n</Response>",
		  "t.xml:3: <Speak> is not a TwiML voice verb\n"
		  "t.xml:5: <Dial> is not allowed inside <Gather> (only Say, Play, Pause and PlayRecording)" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct flow_diag d = { NULL, 0 };
		xmlDocPtr doc = parse(cases[i].tmpl, &d);
		struct buf got = BUF_INIT;
		int n;

		if (doc == NULL) {
			print_error("case %zu does not parse: %s\n", i, d.n ? d.msgs[0] : "");
			fail();
		}
		n = twiml_validate(doc, "t.xml", &d);
		for (size_t k = 0; k < d.n; k++)
			buf_printf(&got, "%s%s", k ? "\n" : "", d.msgs[k]);
		if (strcmp(buf_str(&got), cases[i].want) != 0 || n != (int)d.n) {
			print_error("case %zu: %s\n got:  %s\n want: %s\n", i, cases[i].tmpl, buf_str(&got),
				cases[i].want);
			fail();
		}
		buf_free(&got);
		flow_diag_free(&d);
		xmlFreeDoc(doc);
	}
	{
		/* Not TwiML at all: a bounded list. */
		struct buf t = BUF_INIT;
		struct flow_diag d = { NULL, 0 };
		xmlDocPtr doc;
		buf_puts(&t, "<Response>");
		for (int i = 0; i < 60; i++)
			buf_printf(&t, "\n<Speak%d/>", i);
		buf_puts(&t, "</Response>");
		doc = parse(buf_str(&t), &d);
		assert_non_null(doc);
		assert_int_equal(twiml_validate(doc, "t.xml", &d), 51);
		assert_string_equal(d.msgs[0], "t.xml:2: <Speak0> is not a TwiML voice verb");
		assert_string_equal(d.msgs[49], "t.xml:51: <Speak49> is not a TwiML voice verb");
		assert_string_equal(d.msgs[50], "t.xml: too many problems, stopping");
		flow_diag_free(&d);
		xmlFreeDoc(doc);
		buf_free(&t);
	}
	{
		struct flow_diag d = { NULL, 0 };
		assert_int_equal(twiml_validate(NULL, "t.xml", &d), 1);
		assert_string_equal(d.msgs[0], "t.xml: empty template (no root element)");
		flow_diag_free(&d);
	}
}

static void test_parse_and_load_errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "", "t.xml:1: not well-formed XML: Document is empty" },
		{ "<Response>", "t.xml:1: not well-formed XML: Premature end of data in tag Response line 1" },
		{ "<Response>\n<Say>x</Response>",
		  "t.xml:2: not well-formed XML: Opening and ending tag mismatch: Say line 2 and Response" },
		{ "<Response>&nbsp;</Response>", "t.xml:1: not well-formed XML: Entity 'nbsp' not defined" },
		{ "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><Response>&x;</Response>", NULL },
	};
	struct flow_diag d = { NULL, 0 };
	xmlDocPtr doc;
	char *big;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		doc = parse(cases[i].text, &d);
		if (cases[i].msg == NULL) {
			/* External entities are never loaded: at most an
			 * unexpanded reference that validation refuses. */
			if (doc) {
				xmlChar *c = xmlNodeGetContent(xmlDocGetRootElement(doc));
				assert_null(strstr((const char *)c, "root:"));
				xmlFree(c);
				assert_true(twiml_validate(doc, "t.xml", &d) > 0);
				xmlFreeDoc(doc);
			}
			flow_diag_free(&d);
			continue;
		}
		assert_null(doc);
		assert_int_equal(d.n, 1);
		assert_string_equal(d.msgs[0], cases[i].msg);
		flow_diag_free(&d);
	}
	big = xcalloc(70000, 1);
	memset(big, ' ', 69999);
	assert_null(twiml_parse(big, 69999, "big.xml", &d));
	assert_string_equal(d.msgs[0], "big.xml: template larger than 65536 bytes");
	free(big);
	flow_diag_free(&d);
	assert_null(twiml_load("test/golden/no_such_file.xml", &d));
	assert_string_equal(d.msgs[0], "test/golden/no_such_file.xml: cannot read: No such file or directory");
	flow_diag_free(&d);
	doc = twiml_load("state_tables/reminder_call/announce.xml", &d);
	assert_non_null(doc);
	assert_int_equal(d.n, 0);
	xmlFreeDoc(doc);
}

static void test_inspect(void **state)
{
	static const struct {
		const char *tmpl;
		int gather, hangup, press, fixed;
		long fixed_line;
		const char *plays;
	} cases[] = {
		{ "<Response/>", 0, 0, 0, 0, 0, "" },
		{ "<Response><Hangup/></Response>", 0, 1, 0, 0, 0, "" },
		{ "<Response><Reject/></Response>", 0, 1, 0, 0, 0, "" },
		{ "<Response><Hangup/><Pause/></Response>", 0, 0, 0, 0, 0, "" },
		{ "<Response><Say>{{business_name}}</Say><Hangup/><!-- c --></Response>", 0, 1, 0, 0, 0, "" },
		{ "<Response>\n<Say>Goodbye</Say></Response>", 0, 0, 0, 1, 2, "" },
		{ "<Response><Say>Please PRESS 1</Say></Response>", 0, 0, 1, 1, 1, "" },
		{ "<Response><Say>an impressive {{business_name}}</Say></Response>", 0, 0, 0, 0, 0, "" },
		{ "<Response><Gather><Play>a.mp3</Play></Gather>\n<Play>b.mp3</Play></Response>",
		  1, 0, 1, 0, 0, "a.mp3@1 b.mp3@2" },
		{ "<Response><Gather><Say>{{callback_number}}</Say>\n<Say>x</Say></Gather></Response>",
		  1, 0, 1, 1, 2, "" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct flow_diag d = { NULL, 0 };
		xmlDocPtr doc = parse(cases[i].tmpl, &d);
		struct twiml_facts fx;
		struct buf plays = BUF_INIT;

		assert_non_null(doc);
		twiml_inspect(doc, &fx);
		for (size_t k = 0; k < fx.nplay; k++)
			buf_printf(&plays, "%s%s@%ld", k ? " " : "", fx.play_files[k], fx.play_lines[k]);
		if (fx.has_gather != cases[i].gather || fx.ends_with_hangup != cases[i].hangup ||
			fx.asks_keypress != cases[i].press || fx.has_fixed_say != cases[i].fixed ||
			fx.fixed_say_line != cases[i].fixed_line ||
			strcmp(buf_str(&plays), cases[i].plays) != 0) {
			print_error("case %zu: gather %d hangup %d press %d fixed %d@%ld plays '%s'\n", i,
				fx.has_gather, fx.ends_with_hangup, fx.asks_keypress, fx.has_fixed_say,
				fx.fixed_say_line, buf_str(&plays));
			fail();
		}
		twiml_facts_free(&fx);
		assert_int_equal(fx.nplay, 0);
		buf_free(&plays);
		xmlFreeDoc(doc);
	}
	{
		struct twiml_facts fx;
		twiml_inspect(NULL, &fx);
		assert_false(fx.has_gather);
		twiml_facts_free(&fx);
	}
}

static void test_keypress_words(void **state)
{
	static const struct {
		const char *text;
		int asks;
	} cases[] = {
		{ "press 1", 1 }, { "Press 1.", 1 }, { "PRESS", 1 }, { "then pressing 2", 1 },
		{ "(press 3)", 1 }, { "1-press", 1 }, { "express", 0 }, { "impressed", 0 },
		{ "pres 1", 0 }, { "", 0 }, { "please call 555", 0 }, { "compress\npress", 1 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		if (twiml_text_asks_keypress(cases[i].text) != cases[i].asks) {
			print_error("case %zu: '%s'\n", i, cases[i].text);
			fail();
		}
	}
}

static void test_fields(void **state)
{
	(void)state;
	assert_true(twiml_field_allowed("business_name"));
	assert_true(twiml_field_allowed("appointment_date"));
	assert_true(twiml_field_allowed("appointment_time"));
	assert_true(twiml_field_allowed("callback_number"));
	assert_false(twiml_field_allowed("notes"));
	assert_false(twiml_field_allowed("client_name"));
	assert_false(twiml_field_allowed(""));
	assert_false(twiml_field_allowed("business_name "));
	assert_null(twiml_fields[4]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_rendered_states_are_twiml),
		cmocka_unit_test(test_render_escapes),
		cmocka_unit_test(test_render_fails_closed),
		cmocka_unit_test(test_render_options),
		cmocka_unit_test(test_render_recordings),
		cmocka_unit_test(test_apology),
		cmocka_unit_test(test_hold),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_parse_and_load_errors),
		cmocka_unit_test(test_inspect),
		cmocka_unit_test(test_keypress_words),
		cmocka_unit_test(test_fields),
	};
	return cmocka_run_group_tests(tests, unit_go_to_repo_root, NULL);
}

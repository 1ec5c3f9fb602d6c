/* libFuzzer harness for TwiML templates: twiml_parse, twiml_validate,
 * twiml_inspect and twiml_render.
 *
 * Promises checked: a template that fails to parse says why, naming the
 * file; a template that validates renders with every allow-listed field
 * given, into one XML document with root Response, no placeholder left
 * and the engine's attributes on every Gather; rendering never changes
 * the template; and a template that validates renders, compiled, to
 * exactly the bytes the libxml2 reference renderer writes.  Any broken
 * promise aborts. */
#include "fuzz.h"

#include "buf.h"
#include "flow.h"
#include "twiml.h"
#include "twiml_ref.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>

static const struct twiml_var vars[] = {
	{ "business_name", "Smith & <Sons> {{callback_number}}" },
	{ "appointment_date", "Tuesday, March 4" },
	{ "appointment_time", "10:30 AM" },
	{ "callback_number", "+15551234567" },
};

static void check_gathers(xmlNodePtr el, const char *action)
{
	for (xmlNodePtr c = el->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)c->name, "Gather") == 0) {
			xmlChar *a = xmlGetProp(c, (const xmlChar *)"action");
			xmlChar *e = xmlGetProp(c, (const xmlChar *)"actionOnEmptyResult");
			CHECK(a && strcmp((const char *)a, action) == 0);
			CHECK(e && strcmp((const char *)e, "true") == 0);
			xmlFree(a);
			xmlFree(e);
		}
		check_gathers(c, action);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flow_diag d = { NULL, 0 };
	xmlDocPtr doc = twiml_parse((const char *)data, size, "fuzz.xml", &d);
	struct twiml_facts fx;
	struct buf out = BUF_INIT, again = BUF_INIT;
	/* A kept greeting and a take, so <PlayRecording> renders both ways:
	 * "greeting" plays the URL, "this_call" its own prompts. */
	struct twiml_render_opts opts = {
		.vars = vars,
		.nvars = sizeof(vars) / sizeof(vars[0]),
		.gather_action = "https://h/twilio/voice/f?c=t&s=a&n=1",
		.audio_base = "https://h/audio/f/a",
		.greeting_url = "https://h/2010-04-01/Accounts/AC1/Recordings/RE1",
		.this_call_url = NULL,
		.recording_callback = "https://h/twilio/status/recording",
	};
	int problems, rc;

	if (doc == NULL) {
		CHECK(d.n == 1);
		CHECK(strncmp(d.msgs[0], "fuzz.xml", 8) == 0);
		goto out;
	}
	CHECK(d.n == 0);
	problems = twiml_validate(doc, "fuzz.xml", &d);
	CHECK(problems == (int)d.n);
	twiml_inspect(doc, &fx);
	CHECK(!fx.has_gather || fx.asks_keypress);
	twiml_facts_free(&fx);
	rc = twiml_render(doc, &opts, &out);
	if (problems == 0) {
		struct buf ref = BUF_INIT;
		CHECK(twiml_ref_render(doc, &opts, &ref) == rc);
		CHECK(ref.len == out.len && (ref.len == 0 || memcmp(ref.data, out.data, ref.len) == 0));
		buf_free(&ref);
	}
	if (rc < 0) {
		CHECK(out.len == 0);
		CHECK(problems > 0);
		goto out;
	}
	/* The template is unchanged: the same rendering again. */
	CHECK(twiml_render(doc, &opts, &again) == 0);
	CHECK(out.len == again.len && memcmp(out.data, again.data, out.len) == 0);
	if (problems == 0) {
		xmlDocPtr res = xmlReadMemory(out.data, (int)out.len, "out.xml", NULL,
			XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
		CHECK(res != NULL);
		CHECK(strcmp((const char *)xmlDocGetRootElement(res)->name, "Response") == 0);
		check_gathers(xmlDocGetRootElement(res), opts.gather_action);
		CHECK(strstr(out.data, "{{business_name}}") == NULL);
		xmlFreeDoc(res);
	}
out:
	buf_free(&out);
	buf_free(&again);
	xmlFreeDoc(doc);
	flow_diag_free(&d);
	return 0;
}

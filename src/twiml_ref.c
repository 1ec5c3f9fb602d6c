/* twiml_ref: the libxml2 reference renderer (see include/twiml_ref.h).
 *
 * This is how ringfence rendered TwiML before templates were compiled:
 * copy the parsed template, fill it in as a document (values only ever
 * as text nodes and attribute values) and let libxml2 serialise it.  It
 * is kept as the specification the compiled renderer is proved against,
 * never called on the request path. */
#include "twiml_ref.h"
#include "twiml.h"
#include "arena.h"
#include "buf.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>

/* Whether n is the element called name. */
static int is_name(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The value given for field name (n bytes), or NULL. */
static const char *var_value(const struct twiml_render_opts *opts, const char *name, size_t n)
{
	for (size_t i = 0; opts && i < opts->nvars; i++) {
		const char *vn = opts->vars[i].name;
		if (vn && strlen(vn) == n && strncmp(vn, name, n) == 0)
			return opts->vars[i].value;
	}
	return NULL;
}

/* Expands the placeholders of a Say text into b.  -1 when a placeholder
 * is malformed, not on the allow-list, or has no (or a blank) value. */
static int expand(const char *text, const struct twiml_render_opts *opts, struct arena *a,
	struct buf *b)
{
	const char *p = text, *s;
	size_t n;
	int k, rc = 0;

	while ((k = twiml_placeholder_next(&p, &s, &n)) != TWIML_PH_END) {
		if (k == TWIML_PH_TEXT) {
			buf_append(b, s, n);
		} else if (k == TWIML_PH_FIELD) {
			const char *name = arena_strndup(a, s, n);
			const char *val = var_value(opts, s, n);
			if (!twiml_field_allowed(name) || val == NULL || twiml_is_blank(val))
				rc = -1;
			else
				twiml_put_value(b, val, 0);
		} else {
			rc = -1;
		}
	}
	return rc;
}

/* Aborts: libxml2 is out of memory (util.h's one policy). */
static void oom(void)
{
	fprintf(stderr, "ringfence: out of memory\n");
	abort();
}

/* Replaces el's children with one text node holding s. */
static void set_text(xmlNodePtr el, const char *s)
{
	xmlNodePtr t;

	while (el->children) {
		xmlNodePtr c = el->children;
		xmlUnlinkNode(c);
		xmlFreeNode(c);
	}
	t = xmlNewDocText(el->doc, (const xmlChar *)s);
	if (t == NULL)
		oom();
	xmlAddChild(el, t);
}

static void set_prop(xmlNodePtr el, const char *name, const char *value)
{
	if (xmlSetProp(el, (const xmlChar *)name, (const xmlChar *)value) == NULL)
		oom();
}

static int render_node(xmlNodePtr el, const struct twiml_render_opts *opts, struct arena *a);

/* The URL opts gives for recording of ("greeting", "this_call"), or NULL. */
static const char *recording_url(const struct twiml_render_opts *opts, const char *of)
{
	if (opts == NULL)
		return NULL;
	if (strcmp(of, "greeting") == 0)
		return opts->greeting_url;
	if (strcmp(of, "this_call") == 0)
		return opts->this_call_url;
	return NULL;
}

/* Replaces the PlayRecording c with <Play>URL</Play> when opts has that
 * recording, else with its own prompts, rendered.  0 or -1. */
static int render_play_recording(xmlNodePtr c, const struct twiml_render_opts *opts,
	struct arena *a)
{
	xmlChar *of = xmlGetProp(c, (const xmlChar *)"of");
	const char *url = of ? recording_url(opts, (const char *)of) : NULL;
	int rc = 0;

	if (of == NULL) {
		rc = -1;
	} else if (url && *url) {
		xmlNodePtr play = xmlNewDocNode(c->doc, NULL, (const xmlChar *)"Play", NULL);
		if (play == NULL)
			oom();
		set_text(play, url);
		xmlAddPrevSibling(c, play);
	} else if (render_node(c, opts, a) < 0) {
		rc = -1;
	} else {
		while (c->children) {
			xmlNodePtr k = c->children;
			xmlUnlinkNode(k);
			xmlAddPrevSibling(c, k);
		}
	}
	xmlFree(of);
	xmlUnlinkNode(c);
	xmlFreeNode(c);
	return rc;
}

/* Fills in the copy of a template below el.  0 or -1. */
static int render_node(xmlNodePtr el, const struct twiml_render_opts *opts, struct arena *a)
{
	xmlNodePtr c, next;
	int rc = 0;

	for (c = el->children; c; c = next) {
		next = c->next;
		if (c->type == XML_COMMENT_NODE ||
			(c->type == XML_TEXT_NODE && !is_name(el, "Say") &&
			 (c->content == NULL || twiml_is_blank((const char *)c->content)))) {
			xmlUnlinkNode(c);
			xmlFreeNode(c);
			continue;
		}
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (is_name(c, "Say") || (is_name(c, "Message") && c->children &&
					     c->children->type == XML_TEXT_NODE)) {
			struct buf b;
			xmlChar *raw = xmlNodeGetContent(c);
			buf_init_arena(&b, a);
			if (expand(raw ? (const char *)raw : "", opts, a, &b) < 0)
				rc = -1;
			else
				set_text(c, buf_str(&b));
			xmlFree(raw);
		} else if (is_name(c, "Play")) {
			xmlChar *raw = xmlNodeGetContent(c);
			const char *name = raw ? (const char *)raw : "";
			if (!twiml_play_name_ok(name))
				rc = -1;
			else if (opts && opts->audio_base)
				set_text(c, arena_printf(a, "%s/%s", opts->audio_base, name));
			xmlFree(raw);
		} else if (is_name(c, TWIML_PLAY_RECORDING)) {
			if (render_play_recording(c, opts, a) < 0)
				rc = -1;
		} else {
			if (is_name(c, "Gather") && opts && opts->gather_action) {
				set_prop(c, "action", opts->gather_action);
				set_prop(c, "method", "POST");
				set_prop(c, "actionOnEmptyResult", "true");
			}
			if (is_name(c, "Record") && opts && opts->gather_action) {
				set_prop(c, "action", opts->gather_action);
				set_prop(c, "method", "POST");
				if (opts->recording_callback) {
					set_prop(c, "recordingStatusCallback", opts->recording_callback);
					set_prop(c, "recordingStatusCallbackMethod", "POST");
				}
			}
			if (render_node(c, opts, a) < 0)
				rc = -1;
		}
	}
	return rc;
}

int twiml_ref_render(xmlDocPtr tmpl, const struct twiml_render_opts *opts, struct buf *out)
{
	struct arena *a = arena_new(0);
	xmlDocPtr doc = NULL;
	xmlNodePtr root;
	xmlChar *mem = NULL;
	int size = 0, rc = -1;

	if (tmpl == NULL || xmlDocGetRootElement(tmpl) == NULL)
		goto out;
	doc = xmlCopyDoc(tmpl, 1);
	if (doc == NULL)
		goto out;
	root = xmlDocGetRootElement(doc);
	if (!is_name(root, "Response") || render_node(root, opts, a) < 0)
		goto out;
	for (xmlNodePtr c = doc->children, next; c; c = next) {
		next = c->next;
		if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE) {
			xmlUnlinkNode(c);
			xmlFreeNode(c);
		}
	}
	xmlDocDumpFormatMemoryEnc(doc, &mem, &size, "UTF-8", 1);
	if (mem == NULL || size <= 0)
		goto out;
	buf_append(out, mem, (size_t)size);
	rc = 0;
out:
	xmlFree(mem);
	xmlFreeDoc(doc);
	arena_free(a);
	return rc;
}

/* The renderings twiml_ref_verify compares: values with markup, quotes,
 * control bytes and invalid UTF-8, and engine strings present (with
 * markup of their own) or absent, recordings played or not. */
static const struct twiml_var verify_hostile[] = {
	{ "business_name", "A & B <b>\"q\" 'a' ]]> \xc3\xa9 \x01\r\n\tz" },
	{ "appointment_date", "Tuesday, March 4 \xff\xc0\xaf" },
	{ "appointment_time", "10:30 AM &amp;" },
	{ "callback_number", "+15551234567" },
};
static const struct twiml_var verify_plain[] = {
	{ "business_name", "Bright Smile Dental" },
	{ "appointment_date", "Tuesday, March 4" },
	{ "appointment_time", "10:30 AM" },
	{ "callback_number", "+15551234567" },
};

int twiml_ref_verify(xmlDocPtr tmpl, const struct twiml_prog *p, char *err, size_t errlen)
{
	const struct twiml_render_opts cases[] = {
		{ verify_hostile, 4, "https://h/v?c=\"1\"&s=<a>&n=2\t", "https://h/audio/f/a&b",
		  "https://h/Recordings/RE1?x=<1>&y=\"2\"", "https://h/Recordings/RE2",
		  "https://h/twilio/status/recording?a=1&b=2" },
		{ verify_plain, 4, NULL, NULL, NULL, NULL, NULL },
		{ verify_plain, 4, "https://h/v?c=1&s=a&n=2", "https://h/audio/f/a", "", NULL, NULL },
	};
	int rc = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) && rc == 0; i++) {
		struct buf want = BUF_INIT, got = BUF_INIT;
		int rw = twiml_ref_render(tmpl, &cases[i], &want);
		int rg = twiml_run(p, &cases[i], &got);
		size_t at = 0;
		if (rw != rg || want.len != got.len || (want.len && memcmp(want.data, got.data, want.len))) {
			while (at < want.len && at < got.len && want.data[at] == got.data[at])
				at++;
			snprintf(err, errlen, "rendering %zu differs from libxml2's at byte %zu", i + 1, at);
			rc = -1;
		}
		buf_free(&want);
		buf_free(&got);
	}
	return rc;
}

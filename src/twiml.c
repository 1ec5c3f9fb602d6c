/* twiml: TwiML templates, validated with libxml2, compiled once.
 *
 * Templates are trusted files in the repository, but everything they say
 * reaches a stranger's phone or voicemail, so they go through the same
 * kind of validator as untrusted input: a closed list of verbs, nesting,
 * attributes and placeholder names.  Compiling writes everything fixed
 * once, as libxml2 would serialise it; a rendering only adds the values,
 * through the same escaping libxml2 applies to text and attributes. */
#include "twiml.h"
#include "arena.h"
#include "buf.h"
#include "diag.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>

/* A template is a few hundred bytes; anything near this is a mistake. */
#define TWIML_MAX_FILE (64 * 1024)

const char *const twiml_fields[] = {
	"business_name",
	"appointment_date",
	"appointment_time",
	"callback_number",
	NULL,
};

int twiml_field_allowed(const char *name)
{
	for (size_t i = 0; twiml_fields[i]; i++)
		if (strcmp(twiml_fields[i], name) == 0)
			return 1;
	return 0;
}

/* ---- placeholders ---------------------------------------------------- */

/* Characters of a placeholder name. */
static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

int twiml_placeholder_next(const char **pp, const char **start, size_t *len)
{
	const char *p = *pp, *q;

	if (*p == '\0')
		return TWIML_PH_END;
	if (p[0] == '{' && p[1] == '{') {
		q = p + 2;
		while (is_name_char(*q))
			q++;
		if (q == p + 2 || q[0] != '}' || q[1] != '}') {
			*start = p;
			*len = 2;
			*pp = p + 2;
			return TWIML_PH_BAD;
		}
		*start = p + 2;
		*len = (size_t)(q - (p + 2));
		*pp = q + 2;
		return TWIML_PH_FIELD;
	}
	q = strstr(p, "{{");
	if (q == NULL)
		q = p + strlen(p);
	*start = p;
	*len = (size_t)(q - p);
	*pp = q;
	return TWIML_PH_TEXT;
}

/* Whether the element called name speaks or sends its text with
 * placeholders filled in: a Say (voice) or a Message (a text reply). */
static int holds_fields(const char *name)
{
	return strcmp(name, "Say") == 0 || strcmp(name, "Message") == 0;
}

/* Whether text holds at least one well-formed {{field}}. */
static int has_placeholder(const char *text)
{
	const char *p = text, *s;
	size_t n;
	int k;

	while ((k = twiml_placeholder_next(&p, &s, &n)) != TWIML_PH_END)
		if (k == TWIML_PH_FIELD)
			return 1;
	return 0;
}

int twiml_text_asks_keypress(const char *text)
{
	static const char word[] = "press";

	for (const char *p = text; *p; p++) {
		int at_word_start = p == text ||
			!((p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z'));
		if (at_word_start && strncasecmp(p, word, sizeof(word) - 1) == 0)
			return 1;
	}
	return 0;
}

/* ---- the TwiML vocabulary ------------------------------------------- */

enum attr_kind { A_ANY, A_INT, A_BOOL, A_ENUM, A_KEY, A_KEYS, A_INT_OR_AUTO, A_ENGINE };

struct attr_rule {
	const char *name;
	enum attr_kind kind;
	long lo, hi;                  /* A_INT, A_INT_OR_AUTO */
	const char *const *values;    /* A_ENUM */
};

struct elem_rule {
	const char *name;
	const char *const *children;  /* elements allowed inside */
	int text;                     /* may hold text */
	const struct attr_rule *attrs; /* NULL: attributes not checked */
};

static const char *const top_verbs[] = {
	"Say", "Play", "Pause", "Gather", "Record", "Redirect", "Hangup", "Reject",
	"Dial", "Sms", "Message", "Enqueue", "Leave", "Connect", "Start", "Stop",
	"Pay", "Refer", TWIML_PLAY_RECORDING, NULL,
};
static const char *const prompt_kids[] = { "Say", "Play", "Pause", NULL };
/* What Twilio allows in a Gather, and the engine's element that becomes
 * a Play or its fallback prompts. */
static const char *const gather_kids[] = { "Say", "Play", "Pause", TWIML_PLAY_RECORDING, NULL };
static const char *const dial_kids[] = {
	"Number", "Client", "Conference", "Queue", "Sip", "Sim", "Application", NULL,
};
static const char *const connect_kids[] = {
	"Stream", "Room", "Conversation", "VirtualAgent", "Autopilot", "ConversationRelay", NULL,
};
static const char *const start_kids[] = { "Stream", "Siprec", "Transcription", NULL };
static const char *const pay_kids[] = { "Prompt", "Parameter", NULL };
static const char *const refer_kids[] = { "Sip", NULL };
static const char *const enqueue_kids[] = { "Task", NULL };
static const char *const message_kids[] = { "Body", "Media", NULL };
static const char *const client_kids[] = { "Identity", "Parameter", NULL };
static const char *const param_kids[] = { "Parameter", NULL };
static const char *const no_kids[] = { NULL };

static const char *const input_values[] = { "dtmf", "speech", "dtmf speech", "speech dtmf", NULL };
static const char *const reject_values[] = { "rejected", "busy", NULL };
static const char *const trim_values[] = { "trim-silence", "do-not-trim", NULL };
static const char *const recording_values[] = { "greeting", "this_call", NULL };

static const struct attr_rule gather_attrs[] = {
	{ "action", A_ENGINE, 0, 0, NULL },
	{ "method", A_ENGINE, 0, 0, NULL },
	{ "numDigits", A_INT, 1, 100, NULL },
	{ "timeout", A_INT, 1, 600, NULL },
	{ "finishOnKey", A_KEY, 0, 0, NULL },
	{ "input", A_ENUM, 0, 0, input_values },
	{ "language", A_ANY, 0, 0, NULL },
	{ "hints", A_ANY, 0, 0, NULL },
	{ "speechTimeout", A_INT_OR_AUTO, 0, 600, NULL },
	{ "maxSpeechTime", A_INT, 1, 600, NULL },
	{ "speechModel", A_ANY, 0, 0, NULL },
	{ "actionOnEmptyResult", A_BOOL, 0, 0, NULL },
	{ "bargeIn", A_BOOL, 0, 0, NULL },
	{ "profanityFilter", A_BOOL, 0, 0, NULL },
	{ "enhanced", A_BOOL, 0, 0, NULL },
	{ NULL, A_ANY, 0, 0, NULL },
};
static const struct attr_rule say_attrs[] = {
	{ "voice", A_ANY, 0, 0, NULL },
	{ "language", A_ANY, 0, 0, NULL },
	{ "loop", A_INT, 0, 1000, NULL },
	{ NULL, A_ANY, 0, 0, NULL },
};
static const struct attr_rule play_attrs[] = {
	{ "loop", A_INT, 0, 1000, NULL },
	{ NULL, A_ANY, 0, 0, NULL },
};
static const struct attr_rule pause_attrs[] = {
	{ "length", A_INT, 1, 600, NULL },
	{ NULL, A_ANY, 0, 0, NULL },
};
static const struct attr_rule reject_attrs[] = {
	{ "reason", A_ENUM, 0, 0, reject_values },
	{ NULL, A_ANY, 0, 0, NULL },
};
/* Twilio's <Record> attributes less the transcription ones (a
 * transcript would go to a third URL nobody checks).  The engine sets
 * where the recording and its status go. */
static const struct attr_rule record_attrs[] = {
	{ "action", A_ENGINE, 0, 0, NULL },
	{ "method", A_ENGINE, 0, 0, NULL },
	{ "recordingStatusCallback", A_ENGINE, 0, 0, NULL },
	{ "recordingStatusCallbackMethod", A_ENGINE, 0, 0, NULL },
	{ "recordingStatusCallbackEvent", A_ENGINE, 0, 0, NULL },
	{ "timeout", A_INT, 1, 600, NULL },
	{ "finishOnKey", A_KEYS, 0, 0, NULL },
	{ "maxLength", A_INT, 2, 14400, NULL },
	{ "playBeep", A_BOOL, 0, 0, NULL },
	{ "trim", A_ENUM, 0, 0, trim_values },
	{ NULL, A_ANY, 0, 0, NULL },
};
static const struct attr_rule play_recording_attrs[] = {
	{ "of", A_ENUM, 0, 0, recording_values },
	{ NULL, A_ANY, 0, 0, NULL },
};
static const struct attr_rule no_attrs[] = {
	{ NULL, A_ANY, 0, 0, NULL },
};

/* Verbs a reminder flow uses have their attributes checked; the rest are
 * known (a template may use them) but passed through as written. */
static const struct elem_rule elem_rules[] = {
	{ "Response", top_verbs, 0, no_attrs },
	{ "Say", no_kids, 1, say_attrs },
	{ "Play", no_kids, 1, play_attrs },
	{ "Pause", no_kids, 0, pause_attrs },
	{ "Gather", gather_kids, 0, gather_attrs },
	{ "Hangup", no_kids, 0, no_attrs },
	{ "Reject", no_kids, 0, reject_attrs },
	{ "Record", no_kids, 0, record_attrs },
	{ TWIML_PLAY_RECORDING, prompt_kids, 0, play_recording_attrs },
	{ "Redirect", no_kids, 1, NULL },
	{ "Dial", dial_kids, 1, NULL },
	{ "Sms", no_kids, 1, NULL },
	{ "Message", message_kids, 1, NULL },
	{ "Enqueue", enqueue_kids, 1, NULL },
	{ "Leave", no_kids, 0, NULL },
	{ "Connect", connect_kids, 0, NULL },
	{ "Start", start_kids, 0, NULL },
	{ "Stop", start_kids, 0, NULL },
	{ "Pay", pay_kids, 0, NULL },
	{ "Refer", refer_kids, 0, NULL },
	{ "Prompt", prompt_kids, 0, NULL },
	{ "Number", no_kids, 1, NULL },
	{ "Client", client_kids, 1, NULL },
	{ "Identity", no_kids, 1, NULL },
	{ "Conference", no_kids, 1, NULL },
	{ "Queue", no_kids, 1, NULL },
	{ "Sip", param_kids, 1, NULL },
	{ "Sim", no_kids, 1, NULL },
	{ "Application", param_kids, 1, NULL },
	{ "Stream", param_kids, 0, NULL },
	{ "Siprec", param_kids, 0, NULL },
	{ "Transcription", param_kids, 0, NULL },
	{ "Room", no_kids, 1, NULL },
	{ "Conversation", no_kids, 1, NULL },
	{ "VirtualAgent", param_kids, 0, NULL },
	{ "Autopilot", no_kids, 1, NULL },
	{ "ConversationRelay", param_kids, 0, NULL },
	{ "Parameter", no_kids, 0, NULL },
	{ "Task", no_kids, 1, NULL },
	{ "Body", no_kids, 1, NULL },
	{ "Media", no_kids, 1, NULL },
};

/* The rule for element name, or NULL for a name TwiML does not have. */
static const struct elem_rule *elem_rule_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(elem_rules); i++)
		if (strcmp(elem_rules[i].name, name) == 0)
			return &elem_rules[i];
	return NULL;
}

/* Whether s is in the NULL-terminated list. */
static int in_list(const char *const *list, const char *s)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/* Whether n is the element called name. */
static int is_name(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

int twiml_is_blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return 0;
	return 1;
}

int twiml_play_name_ok(const char *s)
{
	size_t n = 0;

	while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		(s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '-')
		n++;
	if (n == 0 || n > 128)
		return 0;
	return strcmp(s + n, ".mp3") == 0 || strcmp(s + n, ".wav") == 0;
}

/* ---- validation ------------------------------------------------------ */

/* Problems reported per template; a file that is not TwiML at all would
 * otherwise give one per line. */
#define TWIML_MAX_PROBLEMS 50

struct vctx {
	const char *path;
	struct flow_diag *d;
	int count;
};

/* Adds "path:line: message" (or "path: message" when line is unknown). */
static void problem(struct vctx *v, const xmlNode *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(struct vctx *v, const xmlNode *node, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	long line = node ? xmlGetLineNo(node) : -1;

	if (v->count > TWIML_MAX_PROBLEMS)
		return;
	if (++v->count > TWIML_MAX_PROBLEMS) {
		flow_diag_add(v->d, "%s: too many problems, stopping", v->path);
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg == NULL)
		msg = xstrdup("(out of memory formatting a message)");
	if (line > 0)
		flow_diag_add(v->d, "%s:%ld: %s", v->path, line, msg);
	else
		flow_diag_add(v->d, "%s: %s", v->path, msg);
	free(msg);
}

/* Checks every placeholder in a Say or Message text: well-formed and
 * allow-listed. */
static void check_say_text(struct vctx *v, const xmlNode *node, const char *text)
{
	const char *el = (const char *)node->name;
	const char *p = text, *s;
	size_t n;
	int k;

	while ((k = twiml_placeholder_next(&p, &s, &n)) != TWIML_PH_END) {
		if (k == TWIML_PH_BAD) {
			problem(v, node, "malformed placeholder near '%.20s' in <%s> (write {{field}})", s,
				el);
		} else if (k == TWIML_PH_FIELD) {
			char *name = xstrndup(s, n);
			if (!twiml_field_allowed(name))
				problem(v, node, "placeholder {{%s}} is not an allowed field "
					"(business_name, appointment_date, appointment_time, callback_number)",
					name);
			free(name);
		}
	}
}

/* Whether s is a plain decimal number (no sign, no spaces) from lo to hi. */
static int int_in_range(const char *s, long lo, long hi)
{
	long val = 0;

	if (*s == '\0' || strlen(s) > 6)
		return 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		val = val * 10 + (*p - '0');
	}
	return val >= lo && val <= hi;
}

/* Checks attribute name=val of el against its rule r. */
static void check_attr(struct vctx *v, const xmlNode *el, const struct attr_rule *r,
	const char *name, const char *val)
{
	const char *el_name = (const char *)el->name;

	switch (r->kind) {
	case A_ANY:
		break;
	case A_ENGINE:
		problem(v, el, "<%s> must not set %s= (the engine sets it when rendering)",
			el_name, name);
		break;
	case A_INT:
		if (!int_in_range(val, r->lo, r->hi))
			problem(v, el, "<%s %s=\"%s\">: must be a whole number from %ld to %ld",
				el_name, name, val, r->lo, r->hi);
		break;
	case A_INT_OR_AUTO:
		if (strcmp(val, "auto") != 0 && !int_in_range(val, r->lo, r->hi))
			problem(v, el, "<%s %s=\"%s\">: must be \"auto\" or a whole number from %ld to %ld",
				el_name, name, val, r->lo, r->hi);
		break;
	case A_BOOL:
		if (strcmp(val, "true") != 0 && strcmp(val, "false") != 0)
			problem(v, el, "<%s %s=\"%s\">: must be true or false", el_name, name, val);
		break;
	case A_KEYS:
		if (strspn(val, "0123456789*#") != strlen(val))
			problem(v, el, "<%s %s=\"%s\">: must be keys (0-9, * and #) or empty",
				el_name, name, val);
		break;
	case A_KEY:
		if (!(val[0] == '\0' || (val[1] == '\0' && strchr("0123456789*#", val[0]))))
			problem(v, el, "<%s %s=\"%s\">: must be one key (0-9, *, #) or empty",
				el_name, name, val);
		break;
	case A_ENUM:
		if (!in_list(r->values, val))
			problem(v, el, "<%s %s=\"%s\">: not an allowed value", el_name, name, val);
		break;
	}
}

/* Checks every attribute of el: no placeholders anywhere, and, for the
 * verbs whose attributes are listed, only known names and values. */
static void check_attrs(struct vctx *v, const xmlNode *el, const struct elem_rule *rule)
{
	for (const xmlAttr *a = el->properties; a; a = a->next) {
		const char *name = (const char *)a->name;
		xmlChar *raw = xmlNodeGetContent((const xmlNode *)a);
		const char *val = raw ? (const char *)raw : "";
		const struct attr_rule *r = NULL;

		if (a->ns != NULL) {
			problem(v, el, "<%s> has a namespaced attribute '%s'", (const char *)el->name, name);
			goto next;
		}
		if (strstr(val, "{{"))
			problem(v, el, "placeholder in attribute %s= of <%s> (only Say and Message text may hold placeholders)",
				name, (const char *)el->name);
		if (rule->attrs == NULL)
			goto next;
		for (const struct attr_rule *ar = rule->attrs; ar->name; ar++)
			if (strcmp(ar->name, name) == 0)
				r = ar;
		if (r == NULL)
			problem(v, el, "<%s> has unknown attribute '%s'", (const char *)el->name, name);
		else
			check_attr(v, el, r, name, val);
next:
		xmlFree(raw);
	}
}

/* Checks that a Play holds a bare file name. */
static void check_play(struct vctx *v, const xmlNode *el)
{
	xmlChar *raw = xmlNodeGetContent(el);
	const char *name = raw ? (const char *)raw : "";

	if (!twiml_play_name_ok(name))
		problem(v, el, "<Play> must hold a bare audio file name such as prompt.mp3 "
			"(letters, digits, _ and -, then .mp3 or .wav), not '%.60s'", name);
	xmlFree(raw);
}

/* Checks a PlayRecording: which recording (of=) and a fallback of at
 * least one prompt, played when there is no such recording. */
static void check_play_recording(struct vctx *v, const xmlNode *el)
{
	xmlChar *of = xmlGetProp(el, (const xmlChar *)"of");
	int kids = 0;

	for (const xmlNode *c = el->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			kids++;
	if (of == NULL)
		problem(v, el, "<" TWIML_PLAY_RECORDING "> needs of=\"greeting\" or of=\"this_call\"");
	if (kids == 0)
		problem(v, el, "<" TWIML_PLAY_RECORDING "> needs the prompts to play when there is "
			"no recording (Say, Play or Pause inside it)");
	xmlFree(of);
}

/* Checks the children of el, which follows rule. */
static void check_children(struct vctx *v, const xmlNode *el, const struct elem_rule *rule)
{
	int has_text = 0;

	for (const xmlNode *c = el->children; c; c = c->next) {
		switch (c->type) {
		case XML_ELEMENT_NODE: {
			const char *name = (const char *)c->name;
			const struct elem_rule *cr;
			if (c->ns != NULL) {
				problem(v, c, "<%s> is in an XML namespace; TwiML has none", name);
				break;
			}
			cr = elem_rule_find(name);
			if (cr == NULL || cr == &elem_rules[0]) {
				problem(v, c, "<%s> is not a TwiML voice verb", name);
				break;
			}
			if (!in_list(rule->children, name)) {
				if (strcmp(rule->name, "Gather") == 0)
					problem(v, c, "<%s> is not allowed inside <Gather> (only Say, Play, "
						"Pause and " TWIML_PLAY_RECORDING ")", name);
				else
					problem(v, c, "<%s> is not allowed inside <%s>", name, rule->name);
				break;
			}
			check_attrs(v, c, cr);
			if (strcmp(name, "Play") == 0)
				check_play(v, c);
			if (strcmp(name, TWIML_PLAY_RECORDING) == 0)
				check_play_recording(v, c);
			check_children(v, c, cr);
			break;
		}
		case XML_TEXT_NODE:
		case XML_CDATA_SECTION_NODE: {
			const char *text = (const char *)c->content;
			if (text == NULL || twiml_is_blank(text))
				break;
			if (!rule->text)
				problem(v, c, "<%s> cannot hold text ('%.30s')", rule->name, text);
			else if (holds_fields(rule->name))
				; /* checked whole below, as the renderer reads it */
			else if (strstr(text, "{{"))
				problem(v, c, "placeholder in <%s> text (only Say and Message text may hold placeholders)",
					rule->name);
			if (rule->text)
				has_text = 1;
			break;
		}
		case XML_COMMENT_NODE:
			break;
		default:
			problem(v, c, "unexpected XML content inside <%s>", rule->name);
			break;
		}
	}
	if (holds_fields(rule->name) && (has_text || strcmp(rule->name, "Say") == 0)) {
		/* The renderer expands the whole text, so a placeholder split
		 * by a comment or a CDATA section is one placeholder.  A
		 * Message may instead hold Body and Media. */
		xmlChar *raw = xmlNodeGetContent(el);
		if (!has_text)
			problem(v, el, "<Say> is empty");
		else
			check_say_text(v, el, raw ? (const char *)raw : "");
		xmlFree(raw);
	}
}

int twiml_validate(xmlDocPtr doc, const char *path, struct flow_diag *d)
{
	struct vctx v = { path, d, 0 };
	size_t before = d->n;
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;

	if (root == NULL) {
		problem(&v, NULL, "empty template (no root element)");
		goto out;
	}
	if (doc->intSubset != NULL || doc->extSubset != NULL)
		problem(&v, NULL, "a template must not have a DOCTYPE");
	if (root->ns != NULL || strcmp((const char *)root->name, "Response") != 0) {
		problem(&v, root, "root element is <%s>, not <Response>", (const char *)root->name);
		goto out;
	}
	check_attrs(&v, root, &elem_rules[0]);
	check_children(&v, root, &elem_rules[0]);
out:
	return (int)(d->n - before);
}

/* ---- loading --------------------------------------------------------- */

/* Drops whitespace-only text outside Say (the template's indentation),
 * so that the writer can indent the output itself. */
static void strip_blanks(xmlNodePtr el)
{
	xmlNodePtr c = el->children, next;

	for (; c; c = next) {
		next = c->next;
		if (c->type == XML_TEXT_NODE && !is_name(el, "Say") &&
			(c->content == NULL || twiml_is_blank((const char *)c->content))) {
			xmlUnlinkNode(c);
			xmlFreeNode(c);
		} else if (c->type == XML_ELEMENT_NODE) {
			strip_blanks(c);
		}
	}
}

/* The first error of a parse: libxml2 keeps only the last one, which
 * after a missing end tag is a less helpful "premature end of data". */
struct first_error {
	int set;
	int line;
	char *msg;
};

static void keep_first_error(void *data, xmlErrorPtr err)
{
	xmlParserCtxtPtr ctxt = data;
	struct first_error *fe = ctxt->_private;

	if (fe->set || err == NULL || err->level < XML_ERR_ERROR)
		return;
	fe->set = 1;
	fe->line = err->line;
	fe->msg = xstrdup(err->message ? err->message : "unknown error");
}

xmlDocPtr twiml_parse(const char *text, size_t len, const char *path, struct flow_diag *d)
{
	xmlParserCtxtPtr ctxt = NULL;
	xmlDocPtr doc = NULL;
	struct first_error fe = { 0, 0, NULL };

	if (len > TWIML_MAX_FILE) {
		flow_diag_add(d, "%s: template larger than %d bytes", path, TWIML_MAX_FILE);
		goto out;
	}
	ctxt = xmlNewParserCtxt();
	if (ctxt == NULL) {
		fprintf(stderr, "ringfence: out of memory\n");
		abort();
	}
	/* Errors go to keep_first_error (userData is the context), not to
	 * stderr.  No network, no external entities (no NOENT, no DTDLOAD). */
	ctxt->_private = &fe;
	ctxt->sax->serror = keep_first_error;
	doc = xmlCtxtReadMemory(ctxt, text, (int)len, path, NULL,
		XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL || xmlDocGetRootElement(doc) == NULL) {
		char *msg = fe.msg ? fe.msg : xstrdup("no root element");
		size_t n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		if (fe.line > 0)
			flow_diag_add(d, "%s:%d: not well-formed XML: %s", path, fe.line, msg);
		else
			flow_diag_add(d, "%s: not well-formed XML: %s", path, msg);
		fe.msg = msg;
		xmlFreeDoc(doc);
		doc = NULL;
		goto out;
	}
	strip_blanks(xmlDocGetRootElement(doc));
out:
	if (ctxt)
		xmlFreeParserCtxt(ctxt);
	free(fe.msg);
	return doc;
}

xmlDocPtr twiml_load(const char *path, struct flow_diag *d)
{
	size_t len = 0;
	char *text = util_read_file(path, TWIML_MAX_FILE, &len);
	xmlDocPtr doc;

	if (text == NULL) {
		if (errno == EFBIG)
			flow_diag_add(d, "%s: template larger than %d bytes", path, TWIML_MAX_FILE);
		else
			flow_diag_add(d, "%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	doc = twiml_parse(text, len, path, d);
	free(text);
	return doc;
}

/* ---- facts ----------------------------------------------------------- */

static void inspect_node(const xmlNode *el, struct twiml_facts *f)
{
	for (const xmlNode *c = el->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (is_name(c, "Gather")) {
			f->has_gather = 1;
		} else if (is_name(c, "Record")) {
			f->has_record = 1;
			f->nrecord++;
		} else if (is_name(c, "Say")) {
			xmlChar *raw = xmlNodeGetContent(c);
			const char *text = raw ? (const char *)raw : "";
			if (twiml_text_asks_keypress(text))
				f->asks_keypress = 1;
			if (!has_placeholder(text) && !f->has_fixed_say) {
				f->has_fixed_say = 1;
				f->fixed_say_line = xmlGetLineNo(c);
			}
			xmlFree(raw);
		} else if (is_name(c, "Play")) {
			xmlChar *raw = xmlNodeGetContent(c);
			f->play_files = xrealloc(f->play_files, (f->nplay + 1) * sizeof(*f->play_files));
			f->play_lines = xrealloc(f->play_lines, (f->nplay + 1) * sizeof(*f->play_lines));
			f->play_files[f->nplay] = xstrdup(raw ? (const char *)raw : "");
			f->play_lines[f->nplay] = xmlGetLineNo(c);
			f->nplay++;
			xmlFree(raw);
		}
		inspect_node(c, f);
	}
}

void twiml_inspect(xmlDocPtr doc, struct twiml_facts *facts)
{
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
	xmlNodePtr last = NULL;

	memset(facts, 0, sizeof(*facts));
	if (root == NULL)
		return;
	inspect_node(root, facts);
	for (xmlNodePtr c = root->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			last = c;
	facts->ends_with_hangup = last && (is_name(last, "Hangup") || is_name(last, "Reject"));
	if (facts->has_gather)
		facts->asks_keypress = 1;
}

void twiml_facts_free(struct twiml_facts *facts)
{
	for (size_t i = 0; i < facts->nplay; i++)
		free(facts->play_files[i]);
	free(facts->play_files);
	free(facts->play_lines);
	memset(facts, 0, sizeof(*facts));
}

/* ---- rendering: the escaping writers ---------------------------------- */

/* Appends s[0..n) escaped as libxml2 escapes text content: & < > and a
 * carriage return (which XML would read back as a newline). */
static void put_text(struct buf *b, const char *s, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		const char *rep;
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '\r': rep = "&#13;"; break;
		default: continue;
		}
		buf_append(b, s + run, i - run);
		buf_puts(b, rep);
		run = i + 1;
	}
	buf_append(b, s + run, n - run);
}

/* Appends s escaped as libxml2 escapes an attribute value: as text, and
 * the double quote, tab and newline too (an attribute value normalises
 * raw white space away). */
static void put_attr(struct buf *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep;
		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\r': rep = "&#13;"; break;
		case '\n': rep = "&#10;"; break;
		case '\t': rep = "&#9;"; break;
		default: continue;
		}
		buf_append(b, run, (size_t)(s - run));
		buf_puts(b, rep);
		run = s + 1;
	}
	buf_append(b, run, (size_t)(s - run));
}

/* The length of the valid UTF-8 sequence at p that XML can carry (no
 * surrogate, no U+FFFE or U+FFFF), or 0; *used gets the bytes an invalid
 * one spans (its lead and the continuation bytes before the break). */
static size_t utf8_ok(const unsigned char *p, size_t *used)
{
	unsigned c = p[0], cp, min;
	size_t n;

	if (c >= 0xC2 && c <= 0xDF) {
		n = 2; cp = c & 0x1F; min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3; cp = c & 0x0F; min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4; cp = c & 0x07; min = 0x10000;
	} else {
		*used = 1;
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80) {
			*used = i;
			return 0;
		}
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	*used = n;
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE ||
		cp == 0xFFFF)
		return 0;
	return n;
}

void twiml_put_value(struct buf *b, const char *value, int escape)
{
	static const char repl[] = "\xEF\xBF\xBD";
	const unsigned char *p = (const unsigned char *)value, *run = p;

	while (*p) {
		unsigned c = *p;
		const char *rep;
		size_t used = 1;

		if (c >= 0x80) {
			if (utf8_ok(p, &used) > 0) {
				p += used;
				continue;
			}
			rep = repl;
		} else if (c < 0x20) {
			if (c == '\t' || c == '\n') {
				p++;
				continue;
			}
			rep = " ";
		} else if (escape && (c == '&' || c == '<' || c == '>')) {
			rep = c == '&' ? "&amp;" : c == '<' ? "&lt;" : "&gt;";
		} else {
			p++;
			continue;
		}
		buf_append(b, run, (size_t)(p - run));
		buf_puts(b, rep);
		p += used;
		run = p;
	}
	buf_append(b, run, (size_t)(p - run));
}

/* ---- rendering: compiled templates ------------------------------------ */

/* What an op writes or decides.  A program is a flat list of ops; the
 * only branches are on which of the engine's strings a rendering has. */
enum op_kind {
	OP_LIT,    /* lit[off, off + len): already serialised and escaped */
	OP_FIELD,  /* the value of twiml_fields[arg], cleaned and escaped as text */
	OP_TEXT,   /* engine string arg, escaped as text */
	OP_ATTR,   /* engine string arg, escaped as an attribute value */
	OP_UNLESS, /* engine string arg absent: go to op len */
	OP_JUMP,   /* go to op len */
};

/* The engine's strings a rendering may have (twiml_render_opts); a
 * recording's URL counts as absent when empty. */
enum { S_GATHER_ACTION, S_AUDIO_BASE, S_GREETING, S_THIS_CALL, S_REC_CALLBACK, S_N };

struct twiml_op {
	unsigned char kind;
	unsigned char arg;
	unsigned off;
	unsigned len;
};

/* Owner: whoever compiled it (a flow state holds its own). */
struct twiml_prog {
	struct twiml_op *ops;
	size_t nops;
	size_t cap;
	struct buf lit;
	int barrier; /* the next literal may not extend the last op (a jump lands here) */
};

struct cc {
	struct twiml_prog *p;
	char *err;
	size_t errlen;
	int failed;
};

static void cc_fail(struct cc *c, const xmlNode *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void cc_fail(struct cc *c, const xmlNode *n, const char *fmt, ...)
{
	va_list ap;
	int off = 0;

	if (c->failed++)
		return;
	if (n != NULL && xmlGetLineNo(n) > 0)
		off = snprintf(c->err, c->errlen, "line %ld: ", xmlGetLineNo(n));
	if (off < 0 || (size_t)off >= c->errlen)
		off = 0;
	va_start(ap, fmt);
	vsnprintf(c->err + off, c->errlen - (size_t)off, fmt, ap);
	va_end(ap);
}

static size_t op_add(struct cc *c, int kind, int arg, size_t off, size_t len)
{
	struct twiml_prog *p = c->p;

	if (p->nops == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 32;
		p->ops = xrealloc(p->ops, p->cap * sizeof(*p->ops));
	}
	p->ops[p->nops] = (struct twiml_op){ (unsigned char)kind, (unsigned char)arg,
		(unsigned)off, (unsigned)len };
	p->barrier = 0;
	return p->nops++;
}

/* Makes the literal bytes appended to lit since start an op, or part of
 * the last one when it ends where they begin. */
static void lit_close(struct cc *c, size_t start)
{
	struct twiml_prog *p = c->p;
	struct twiml_op *last = p->nops ? &p->ops[p->nops - 1] : NULL;

	if (p->lit.len == start)
		return;
	if (last && !p->barrier && last->kind == OP_LIT && last->off + last->len == start)
		last->len += (unsigned)(p->lit.len - start);
	else
		op_add(c, OP_LIT, 0, start, p->lit.len - start);
}

static void lit(struct cc *c, const char *s)
{
	size_t start = c->p->lit.len;

	buf_puts(&c->p->lit, s);
	lit_close(c, start);
}

static void lit_text(struct cc *c, const char *s, size_t n)
{
	size_t start = c->p->lit.len;

	put_text(&c->p->lit, s, n);
	lit_close(c, start);
}

/* libxml2's indentation: two spaces a level, at most 30 levels. */
static void lit_indent(struct cc *c, int level)
{
	static const char spaces[] = "                                                            ";
	size_t start = c->p->lit.len;

	buf_append(&c->p->lit, spaces, 2 * (size_t)(level > 30 ? 30 : level));
	lit_close(c, start);
}

/* Starts "if engine string s is present"; returns the op to patch. */
static size_t cc_unless(struct cc *c, int s)
{
	return op_add(c, OP_UNLESS, s, 0, 0);
}

/* Makes op at point here (a jump target). */
static void cc_land(struct cc *c, size_t op)
{
	c->p->ops[op].len = (unsigned)c->p->nops;
	c->p->barrier = 1;
}

/* An attribute the engine sets: name and either a fixed value or one of
 * its strings. */
struct set_attr {
	const char *name;
	const char *value; /* NULL: engine string s */
	int s;
};

/* Writes el's attributes as libxml2 would after xmlSetProp of each of
 * set[0..n): an attribute already there keeps its place with the new
 * value, the others follow in order. */
static void cc_attrs(struct cc *c, const xmlNode *el, const struct set_attr *set, size_t n)
{
	int done[8] = { 0 };

	for (const xmlAttr *a = el->properties; a; a = a->next) {
		size_t k;
		if (a->ns != NULL) {
			cc_fail(c, el, "<%s> has a namespaced attribute", (const char *)el->name);
			return;
		}
		lit(c, " ");
		lit(c, (const char *)a->name);
		lit(c, "=\"");
		for (k = 0; k < n; k++)
			if (!done[k] && strcmp(set[k].name, (const char *)a->name) == 0)
				break;
		if (k < n) {
			done[k] = 1;
			if (set[k].value)
				lit(c, set[k].value);
			else
				op_add(c, OP_ATTR, set[k].s, 0, 0);
		} else {
			for (const xmlNode *t = a->children; t; t = t->next) {
				size_t start = c->p->lit.len;
				if (t->type != XML_TEXT_NODE) {
					cc_fail(c, el, "attribute %s= of <%s> holds an entity",
						(const char *)a->name, (const char *)el->name);
					return;
				}
				put_attr(&c->p->lit, t->content ? (const char *)t->content : "");
				lit_close(c, start);
			}
		}
		lit(c, "\"");
	}
	for (size_t k = 0; k < n; k++) {
		if (done[k])
			continue;
		lit(c, " ");
		lit(c, set[k].name);
		lit(c, "=\"");
		if (set[k].value)
			lit(c, set[k].value);
		else
			op_add(c, OP_ATTR, set[k].s, 0, 0);
		lit(c, "\"");
	}
}

/* el's attributes as rendered: the engine's on a Gather and a Record
 * when the rendering has a Gather action (and a recording callback). */
static void cc_attrs_rendered(struct cc *c, const xmlNode *el)
{
	static const struct set_attr gather[] = {
		{ "action", NULL, S_GATHER_ACTION },
		{ "method", "POST", 0 },
		{ "actionOnEmptyResult", "true", 0 },
	};
	static const struct set_attr record[] = {
		{ "action", NULL, S_GATHER_ACTION },
		{ "method", "POST", 0 },
		{ "recordingStatusCallback", NULL, S_REC_CALLBACK },
		{ "recordingStatusCallbackMethod", "POST", 0 },
	};
	size_t without, with, end, end2;

	if (is_name(el, "Gather")) {
		without = cc_unless(c, S_GATHER_ACTION);
		cc_attrs(c, el, gather, ARRAY_LEN(gather));
		end = op_add(c, OP_JUMP, 0, 0, 0);
		cc_land(c, without);
		cc_attrs(c, el, NULL, 0);
		cc_land(c, end);
	} else if (is_name(el, "Record")) {
		without = cc_unless(c, S_GATHER_ACTION);
		with = cc_unless(c, S_REC_CALLBACK);
		cc_attrs(c, el, record, 4);
		end2 = op_add(c, OP_JUMP, 0, 0, 0);
		cc_land(c, with);
		cc_attrs(c, el, record, 2);
		cc_land(c, end2);
		end = op_add(c, OP_JUMP, 0, 0, 0);
		cc_land(c, without);
		cc_attrs(c, el, NULL, 0);
		cc_land(c, end);
	} else {
		cc_attrs(c, el, NULL, 0);
	}
}

/* Whether the renderer fills el's whole text in: a Say, or a Message
 * whose first child is text (a text reply). */
static int fills_text(const xmlNode *el)
{
	return is_name(el, "Say") || (is_name(el, "Message") && el->children &&
		el->children->type == XML_TEXT_NODE);
}

/* Whether child k of a rendered element stays in the rendering: comments
 * go, and so does blank text outside a Say. */
static int kept(const xmlNode *parent, const xmlNode *k)
{
	if (k->type == XML_COMMENT_NODE)
		return 0;
	if (k->type == XML_TEXT_NODE && !is_name(parent, "Say"))
		return k->content != NULL && !twiml_is_blank((const char *)k->content);
	return 1;
}

/* A CDATA section as libxml2 writes it: "]]>" inside splits it. */
static void cc_cdata(struct cc *c, const char *s)
{
	const char *start = s, *end = s;

	if (*s == '\0') {
		lit(c, "<![CDATA[]]>");
		return;
	}
	while (*end) {
		if (end[0] == ']' && end[1] == ']' && end[2] == '>') {
			size_t at;
			end += 2;
			lit(c, "<![CDATA[");
			at = c->p->lit.len;
			buf_append(&c->p->lit, start, (size_t)(end - start));
			lit_close(c, at);
			lit(c, "]]>");
			start = end;
		}
		end++;
	}
	if (start != end) {
		lit(c, "<![CDATA[");
		lit(c, start);
		lit(c, "]]>");
	}
}

static void cc_element(struct cc *c, const xmlNode *el, int level, int format, int root);

/* The rendered children of el (element at level, the children at
 * level + 1, format: whether they are indented).  as_is: el is one the
 * renderer leaves as written (a Play without an audio base), comments
 * included. */
static void cc_children(struct cc *c, const xmlNode *el, int level, int format, int as_is)
{
	for (const xmlNode *k = el->children; k && !c->failed; k = k->next) {
		if (!as_is && !kept(el, k))
			continue;
		switch (k->type) {
		case XML_ELEMENT_NODE:
			cc_element(c, k, level + 1, format, 0);
			break;
		case XML_TEXT_NODE:
			lit_text(c, k->content ? (const char *)k->content : "",
				k->content ? strlen((const char *)k->content) : 0);
			break;
		case XML_CDATA_SECTION_NODE:
			cc_cdata(c, k->content ? (const char *)k->content : "");
			break;
		case XML_COMMENT_NODE:
			if (k->content != NULL) {
				lit(c, "<!--");
				lit(c, (const char *)k->content);
				lit(c, "-->");
			}
			break;
		default:
			cc_fail(c, k, "unexpected XML content inside <%s>", (const char *)el->name);
			break;
		}
	}
}

/* Whether el, rendered, holds text (then libxml2 indents nothing inside
 * it): what the renderer fills in, or kept text or CDATA. */
static int holds_text(const xmlNode *el)
{
	if (fills_text(el))
		return 1;
	for (const xmlNode *k = el->children; k; k = k->next)
		if (kept(el, k) && (k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE))
			return 1;
	return 0;
}

/* Whether el, rendered, has children at all. */
static int has_children(const xmlNode *el)
{
	if (fills_text(el))
		return 1;
	for (const xmlNode *k = el->children; k; k = k->next)
		if (kept(el, k))
			return 1;
	return 0;
}

/* A Say's (or text reply's) text: its literal runs and value slots. */
static void cc_fill(struct cc *c, const xmlNode *el)
{
	xmlChar *raw = xmlNodeGetContent(el);
	const char *p = raw ? (const char *)raw : "", *s;
	size_t n;
	int k;

	while (!c->failed && (k = twiml_placeholder_next(&p, &s, &n)) != TWIML_PH_END) {
		if (k == TWIML_PH_TEXT) {
			lit_text(c, s, n);
		} else if (k == TWIML_PH_BAD) {
			cc_fail(c, el, "malformed placeholder in <%s>", (const char *)el->name);
		} else {
			int f = -1;
			for (int i = 0; twiml_fields[i]; i++)
				if (strlen(twiml_fields[i]) == n && strncmp(twiml_fields[i], s, n) == 0)
					f = i;
			if (f < 0)
				cc_fail(c, el, "placeholder {{%.*s}} is not an allowed field", (int)n, s);
			else
				op_add(c, OP_FIELD, f, 0, 0);
		}
	}
	xmlFree(raw);
}

/* A Play: the state's audio URL and the file name when the rendering
 * has an audio base, else the name as written. */
static void cc_play(struct cc *c, const xmlNode *el, int level, int format)
{
	xmlChar *raw = xmlNodeGetContent(el);
	const char *name = raw ? (const char *)raw : "";
	size_t without, end;

	for (const xmlNode *k = el->children; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE)
			cc_fail(c, el, "<Play> holds an element");
	if (!twiml_play_name_ok(name))
		cc_fail(c, el, "<Play> must hold a bare audio file name");
	if (c->failed)
		goto out;
	if (format)
		lit_indent(c, level);
	lit(c, "<Play");
	cc_attrs(c, el, NULL, 0);
	lit(c, ">");
	without = cc_unless(c, S_AUDIO_BASE);
	op_add(c, OP_TEXT, S_AUDIO_BASE, 0, 0);
	lit(c, "/");
	lit_text(c, name, strlen(name));
	end = op_add(c, OP_JUMP, 0, 0, 0);
	cc_land(c, without);
	cc_children(c, el, level, 0, 1);
	cc_land(c, end);
	lit(c, "</Play>");
	if (format)
		lit(c, "\n");
out:
	xmlFree(raw);
}

/* A PlayRecording at level: <Play>URL</Play> of the recording when the
 * rendering has it, else its own prompts in its place. */
static void cc_play_recording(struct cc *c, const xmlNode *el, int level, int format)
{
	xmlChar *of = xmlGetProp(el, (const xmlChar *)"of");
	int s = -1, prompts = 0;
	size_t without = 0, end = 0;

	for (const xmlNode *k = el->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE && !is_name(k, TWIML_PLAY_RECORDING))
			prompts++;
		else if (k->type == XML_ELEMENT_NODE || (kept(el, k) && k->type != XML_COMMENT_NODE))
			cc_fail(c, el, "<" TWIML_PLAY_RECORDING "> may hold only prompts");
	}
	if (of == NULL)
		cc_fail(c, el, "<" TWIML_PLAY_RECORDING "> needs of=");
	else if (prompts == 0)
		cc_fail(c, el, "<" TWIML_PLAY_RECORDING "> needs its prompts");
	if (c->failed)
		goto out;
	if (strcmp((const char *)of, "greeting") == 0)
		s = S_GREETING;
	else if (strcmp((const char *)of, "this_call") == 0)
		s = S_THIS_CALL;
	if (s >= 0) {
		without = cc_unless(c, s);
		if (format)
			lit_indent(c, level);
		lit(c, "<Play>");
		op_add(c, OP_TEXT, s, 0, 0);
		lit(c, "</Play>");
		if (format)
			lit(c, "\n");
		end = op_add(c, OP_JUMP, 0, 0, 0);
		cc_land(c, without);
	}
	cc_children(c, el, level - 1, format, 0);
	if (s >= 0)
		cc_land(c, end);
out:
	xmlFree(of);
}

/* Element el at level (the root at 0) inside a parent whose children
 * are indented when format is set, as libxml2 writes it rendered. */
static void cc_element(struct cc *c, const xmlNode *el, int level, int format, int root)
{
	const char *name = (const char *)el->name;
	int inner;

	if (el->ns != NULL || el->nsDef != NULL) {
		cc_fail(c, el, "<%s> is in an XML namespace", name);
		return;
	}
	if (is_name(el, "Play")) {
		cc_play(c, el, level, format);
		return;
	}
	if (is_name(el, TWIML_PLAY_RECORDING)) {
		cc_play_recording(c, el, level, format);
		return;
	}
	if (format && !root)
		lit_indent(c, level);
	lit(c, "<");
	lit(c, name);
	cc_attrs_rendered(c, el);
	if (!has_children(el)) {
		lit(c, "/>");
	} else {
		inner = format && !holds_text(el);
		lit(c, inner ? ">\n" : ">");
		if (fills_text(el))
			cc_fill(c, el);
		else
			cc_children(c, el, level, inner, 0);
		if (inner)
			lit_indent(c, level);
		lit(c, "</");
		lit(c, name);
		lit(c, ">");
	}
	if (format && !root)
		lit(c, "\n");
}

struct twiml_prog *twiml_compile(xmlDocPtr tmpl, char *err, size_t errlen)
{
	struct twiml_prog *p = xcalloc(1, sizeof(*p));
	struct cc c = { p, err, errlen, 0 };
	xmlNodePtr root = tmpl ? xmlDocGetRootElement(tmpl) : NULL;

	buf_init(&p->lit);
	if (errlen)
		err[0] = '\0';
	if (root == NULL) {
		cc_fail(&c, NULL, "no root element");
		goto out;
	}
	if (tmpl->intSubset != NULL || tmpl->extSubset != NULL)
		cc_fail(&c, NULL, "a template must not have a DOCTYPE");
	if (!is_name(root, "Response"))
		cc_fail(&c, root, "root element is <%s>, not <Response>", (const char *)root->name);
	if (c.failed)
		goto out;
	/* xmlDocDumpFormatMemoryEnc's declaration, then the root alone:
	 * comments and processing instructions around it are dropped. */
	lit(&c, "<?xml version=\"");
	lit(&c, tmpl->version ? (const char *)tmpl->version : "1.0");
	lit(&c, "\" encoding=\"UTF-8\"");
	if (tmpl->standalone == 0)
		lit(&c, " standalone=\"no\"");
	else if (tmpl->standalone == 1)
		lit(&c, " standalone=\"yes\"");
	lit(&c, "?>\n");
	cc_element(&c, root, 0, 1, 1);
	lit(&c, "\n");
out:
	if (c.failed) {
		twiml_prog_free(p);
		return NULL;
	}
	return p;
}

void twiml_prog_free(struct twiml_prog *p)
{
	if (p == NULL)
		return;
	free(p->ops);
	buf_free(&p->lit);
	free(p);
}

int twiml_run(const struct twiml_prog *p, const struct twiml_render_opts *opts, struct buf *out)
{
	const char *val[TWIML_NFIELDS] = { NULL };
	const char *s[S_N] = { NULL };
	size_t mark = out->len, i = 0;

	if (p == NULL)
		return -1;
	if (opts) {
		/* The first value given for a field counts, as before. */
		for (size_t k = opts->nvars; k-- > 0;) {
			const char *name = opts->vars[k].name;
			for (int f = 0; name && f < TWIML_NFIELDS; f++)
				if (name == twiml_fields[f] || strcmp(twiml_fields[f], name) == 0) {
					val[f] = opts->vars[k].value;
					break;
				}
		}
		s[S_GATHER_ACTION] = opts->gather_action;
		s[S_AUDIO_BASE] = opts->audio_base;
		s[S_GREETING] = opts->greeting_url && *opts->greeting_url ? opts->greeting_url : NULL;
		s[S_THIS_CALL] = opts->this_call_url && *opts->this_call_url ?
			opts->this_call_url : NULL;
		s[S_REC_CALLBACK] = opts->recording_callback;
	}
	while (i < p->nops) {
		const struct twiml_op *op = &p->ops[i++];
		switch (op->kind) {
		case OP_LIT:
			buf_append(out, p->lit.data + op->off, op->len);
			break;
		case OP_FIELD:
			/* An empty or blank value is no value: Twilio reports an
			 * empty Say as invalid. */
			if (val[op->arg] == NULL || twiml_is_blank(val[op->arg]))
				goto fail;
			twiml_put_value(out, val[op->arg], 1);
			break;
		case OP_TEXT:
			put_text(out, s[op->arg], strlen(s[op->arg]));
			break;
		case OP_ATTR:
			put_attr(out, s[op->arg]);
			break;
		case OP_UNLESS:
			if (s[op->arg] == NULL)
				i = op->len;
			break;
		case OP_JUMP:
			i = op->len;
			break;
		}
	}
	return 0;
fail:
	out->len = mark;
	if (out->data)
		out->data[mark] = '\0';
	return -1;
}

int twiml_render(xmlDocPtr tmpl, const struct twiml_render_opts *opts, struct buf *out)
{
	char err[200];
	struct twiml_prog *p = twiml_compile(tmpl, err, sizeof(err));
	int rc = twiml_run(p, opts, out);

	twiml_prog_free(p);
	return rc;
}

void twiml_apology(struct buf *out)
{
	/* A constant in exactly the form twiml_render writes, so that it
	 * cannot fail; test_twiml parses it to prove it is valid. */
	buf_puts(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<Response>\n"
		"  <Say>We are sorry, we cannot take your call right now. Goodbye.</Say>\n"
		"  <Hangup/>\n"
		"</Response>\n");
}

void twiml_hold(struct buf *out, const char *play_url, int pause_s, const char *redirect_url)
{
	/* The form twiml_render writes, the URLs escaped as libxml2 escapes
	 * an attribute's value and a text. */
	buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>\n  <Play>");
	put_text(out, play_url, strlen(play_url));
	buf_printf(out, "</Play>\n  <Pause length=\"%d\"/>\n  <Redirect method=\"POST\">", pause_s);
	put_text(out, redirect_url, strlen(redirect_url));
	buf_puts(out, "</Redirect>\n</Response>\n");
}

void twiml_empty(struct buf *out)
{
	buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response/>\n");
}

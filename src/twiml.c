/* twiml: TwiML templates, validated and rendered with libxml2.
 *
 * Templates are trusted files in the repository, but everything they say
 * reaches a stranger's phone or voicemail, so they go through the same
 * kind of validator as untrusted input: a closed list of verbs, nesting,
 * attributes and placeholder names.  Rendering works on a copy of the
 * parsed template and only ever inserts text nodes. */
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

/* Whether s is empty or only XML whitespace. */
static int is_blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return 0;
	return 1;
}

/* Whether s is a bare audio file name: [A-Za-z0-9_-]+ then .mp3 or .wav.
 * No slash, no scheme, no "..": a template can only play its own state's
 * recorded prompts. */
static int play_name_ok(const char *s)
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

	if (!play_name_ok(name))
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
			if (text == NULL || is_blank(text))
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
			(c->content == NULL || is_blank((const char *)c->content))) {
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

/* ---- rendering ------------------------------------------------------- */

/* Appends value to b as text XML can carry: valid UTF-8 is copied,
 * control characters other than tab and newline become spaces, and
 * anything else (invalid or overlong sequences, surrogates, U+FFFE and
 * U+FFFF) becomes U+FFFD. */
static void append_clean(struct buf *b, const char *value)
{
	static const char repl[] = "\xEF\xBF\xBD";
	const unsigned char *p = (const unsigned char *)value;

	while (*p) {
		unsigned c = *p;
		size_t n;
		unsigned cp, min;

		if (c < 0x80) {
			buf_putc(b, (c < 0x20 && c != '\t' && c != '\n') ? ' ' : (char)c);
			p++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 2; cp = c & 0x1F; min = 0x80;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 3; cp = c & 0x0F; min = 0x800;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 4; cp = c & 0x07; min = 0x10000;
		} else {
			buf_puts(b, repl);
			p++;
			continue;
		}
		for (size_t i = 1; i < n; i++) {
			if ((p[i] & 0xC0) != 0x80) {
				n = i;
				cp = 0; /* marks the sequence invalid */
				min = 1;
				break;
			}
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
			cp == 0xFFFE || cp == 0xFFFF)
			buf_puts(b, repl);
		else
			buf_append(b, p, n);
		p += n;
	}
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

/* Expands the placeholders of a Say text into b.  Values are inserted
 * once and never scanned again, so a value that looks like a placeholder
 * stays literal.  Returns -1 when a placeholder is malformed, not on the
 * allow-list, or has no (or a blank) value. */
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
			if (!twiml_field_allowed(name) || val == NULL || is_blank(val))
				rc = -1;
			else
				append_clean(b, val);
		} else {
			rc = -1;
		}
	}
	return rc;
}

/* Replaces el's children with one text node holding s (raw text: the
 * writer escapes it). */
static void set_text(xmlNodePtr el, const char *s)
{
	xmlNodePtr t;

	while (el->children) {
		xmlNodePtr c = el->children;
		xmlUnlinkNode(c);
		xmlFreeNode(c);
	}
	t = xmlNewDocText(el->doc, (const xmlChar *)s);
	if (t == NULL) {
		fprintf(stderr, "ringfence: out of memory\n");
		abort();
	}
	xmlAddChild(el, t);
}

/* Sets an attribute (the writer escapes value); aborts when out of memory. */
static void set_prop(xmlNodePtr el, const char *name, const char *value)
{
	if (xmlSetProp(el, (const xmlChar *)name, (const xmlChar *)value) == NULL) {
		fprintf(stderr, "ringfence: out of memory\n");
		abort();
	}
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
		if (play == NULL) {
			fprintf(stderr, "ringfence: out of memory\n");
			abort();
		}
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

/* Fills in the copy of a template below el, its scratch strings in a.
 * Returns 0 or -1. */
static int render_node(xmlNodePtr el, const struct twiml_render_opts *opts, struct arena *a)
{
	xmlNodePtr c, next;
	int rc = 0;

	for (c = el->children; c; c = next) {
		next = c->next;
		if (c->type == XML_COMMENT_NODE ||
			(c->type == XML_TEXT_NODE && !is_name(el, "Say") &&
			 (c->content == NULL || is_blank((const char *)c->content)))) {
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
			if (!play_name_ok(name)) {
				rc = -1;
			} else if (opts && opts->audio_base) {
				set_text(c, arena_printf(a, "%s/%s", opts->audio_base, name));
			}
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

/* libxml2's copy of the template and its text (xmlNodeGetContent, the
 * dumped document) are freed where they are made; the dumped text is
 * copied into out.  Our own scratch lives in out's arena, or in one of
 * our own when out is a plain buf (ringfence check, tests). */
int twiml_render(xmlDocPtr tmpl, const struct twiml_render_opts *opts, struct buf *out)
{
	struct arena *own = out->arena ? NULL : arena_new(0);
	struct arena *a = out->arena ? out->arena : own;
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
	/* Comments and processing instructions around the root are notes
	 * for the template's readers, not for Twilio. */
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
	arena_free(own);
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

void twiml_empty(struct buf *out)
{
	buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response/>\n");
}

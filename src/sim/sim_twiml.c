/* sim_twiml: TwiML answers parsed and checked as Twilio does, with
 * Twilio's attribute defaults, for the simulator's call player. */
#include "sim/sim_twiml.h"
#include "buf.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

/* A TwiML answer larger than this is not read (Twilio's own limit on a
 * document is far smaller than the simulator's response cap). */
#define DOC_MAX (1024 * 1024)

static const char *const unsupported_verbs[] = {
	"Dial", "Sms", "Message", "Enqueue", "Leave", "Connect", "Start", "Stop", "Pay",
	"Refer", "Prompt", "Number", "Client", "Conference", "Queue", "Sip", "Stream",
	"Siprec", NULL,
};

static const char *const verb_names[] = {
	[SIM_VERB_SAY] = "Say",
	[SIM_VERB_PLAY] = "Play",
	[SIM_VERB_PAUSE] = "Pause",
	[SIM_VERB_GATHER] = "Gather",
	[SIM_VERB_RECORD] = "Record",
	[SIM_VERB_REDIRECT] = "Redirect",
	[SIM_VERB_HANGUP] = "Hangup",
	[SIM_VERB_REJECT] = "Reject",
};

const char *sim_verb_name(enum sim_verb_kind kind)
{
	if ((size_t)kind < ARRAY_LEN(verb_names) && verb_names[kind])
		return verb_names[kind];
	return "?";
}

/* ---- URL resolution ------------------------------------------------- */

static int has_bad_char(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* Length of "scheme://authority" at the start of an absolute http(s)
 * URL, or 0 when url is not one. */
static size_t origin_len(const char *url)
{
	size_t n;
	if (strncasecmp(url, "http://", 7) == 0)
		n = 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		n = 8;
	else
		return 0;
	if (url[n] == '\0' || url[n] == '/' || url[n] == '?' || url[n] == '#')
		return 0;
	return n + strcspn(url + n, "/?#");
}

/* Whether ref starts with a scheme ("x:" before any '/', '?' or '#'). */
static int has_scheme(const char *ref)
{
	const char *p = ref;
	if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
		return 0;
	while (*p && strchr("/?#:", *p) == NULL)
		p++;
	return *p == ':';
}

/* RFC 3986 section 5.2.4: removes "." and ".." segments of path (which
 * starts with '/') into out. */
static void remove_dot_segments(const char *path, size_t len, struct buf *out)
{
	const char *p = path, *end = path + len;
	buf_reset(out);
	while (p < end) {
		size_t seg;
		const char *q;
		/* p points at a '/'. */
		q = p + 1;
		seg = 0;
		while (q + seg < end && q[seg] != '/')
			seg++;
		if (seg == 1 && q[0] == '.') {
			if (q + 1 == end)
				buf_putc(out, '/');
		} else if (seg == 2 && q[0] == '.' && q[1] == '.') {
			while (out->len > 0 && out->data[out->len - 1] != '/')
				out->len--;
			if (out->len > 0)
				out->len--;
			if (q + 2 == end)
				buf_putc(out, '/');
			if (out->data)
				out->data[out->len] = '\0';
		} else {
			buf_putc(out, '/');
			buf_append(out, q, seg);
		}
		p = q + seg;
	}
	if (out->len == 0)
		buf_putc(out, '/');
}

/* See sim_twiml.h. */
char *sim_twiml_resolve(const char *base, const char *ref)
{
	struct buf path = BUF_INIT, clean = BUF_INIT, res = BUF_INIT;
	size_t olen, rlen;
	char *out = NULL;

	if (base == NULL || ref == NULL || has_bad_char(base) || has_bad_char(ref))
		goto out;
	olen = origin_len(base);
	if (olen == 0)
		goto out;
	rlen = strcspn(ref, "#");
	if (has_scheme(ref)) {
		if (origin_len(ref) == 0)
			goto out;
		out = xstrndup(ref, rlen);
		goto out;
	}
	if (ref[0] == '/' && ref[1] == '/') {
		const char *colon = strchr(base, ':');
		struct buf abs = BUF_INIT;
		buf_append(&abs, base, (size_t)(colon - base) + 1);
		buf_append(&abs, ref, rlen);
		if (origin_len(buf_str(&abs)) != 0)
			out = xstrdup(buf_str(&abs));
		buf_free(&abs);
		goto out;
	}
	{
		/* base's path and query */
		const char *bpath = base + olen;
		size_t bplen = strcspn(bpath, "?#");
		size_t bqlen = strcspn(bpath + bplen, "#");
		const char *rq;
		size_t rplen = strcspn(ref, "?#");

		buf_append(&res, base, olen);
		if (rlen == 0) {
			/* Empty reference: the base itself. */
			buf_append(&res, bpath, bplen + bqlen);
		} else if (rplen == 0) {
			/* Query only: the base's path, the new query. */
			buf_append(&res, bpath, bplen);
			buf_append(&res, ref, rlen);
		} else {
			if (ref[0] == '/') {
				buf_append(&path, ref, rplen);
			} else {
				size_t dir = bplen;
				while (dir > 0 && bpath[dir - 1] != '/')
					dir--;
				if (dir == 0)
					buf_putc(&path, '/');
				else
					buf_append(&path, bpath, dir);
				buf_append(&path, ref, rplen);
			}
			remove_dot_segments(path.data, path.len, &clean);
			buf_append(&res, clean.data, clean.len);
			rq = ref + rplen;
			buf_append(&res, rq, rlen - rplen);
		}
		out = xstrdup(buf_str(&res));
	}
out:
	buf_free(&path);
	buf_free(&clean);
	buf_free(&res);
	return out;
}

/* ---- parsing ---------------------------------------------------------- */

struct ctx {
	const char *doc_url;
	char *err;
	size_t errlen;
};

static int fail(struct ctx *c, xmlNodePtr node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, xmlNodePtr node, const char *fmt, ...)
{
	va_list ap;
	int n = 0;
	if (c->errlen == 0)
		return -1;
	if (node)
		n = snprintf(c->err, c->errlen, "line %ld: ", (long)xmlGetLineNo(node));
	if (n < 0 || (size_t)n >= c->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	/* Quoted document text may hold line breaks: the message is one line. */
	for (char *p = c->err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return -1;
}

static int is_name(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The attribute's value (malloc'd), or NULL when absent. */
static char *attr(xmlNodePtr el, const char *name)
{
	xmlChar *v = xmlGetNoNsProp(el, (const xmlChar *)name);
	char *s;
	if (v == NULL)
		return NULL;
	s = xstrdup((const char *)v);
	xmlFree(v);
	return s;
}

/* An integer attribute in [min, max]; *out keeps def when absent. */
static int attr_int(struct ctx *c, xmlNodePtr el, const char *name, int min, int max, int def, int *out)
{
	char *v = attr(el, name), *end;
	long x;
	int rc = 0;
	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	x = strtol(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno || x < min || x > max)
		rc = fail(c, el, "<%s> %s=\"%.30s\" is not a whole number from %d to %d",
			(const char *)el->name, name, v, min, max);
	else
		*out = (int)x;
	free(v);
	return rc;
}

static int attr_bool(struct ctx *c, xmlNodePtr el, const char *name, int def, int *out)
{
	char *v = attr(el, name);
	int rc = 0;
	*out = def;
	if (v == NULL)
		return 0;
	if (strcasecmp(v, "true") == 0)
		*out = 1;
	else if (strcasecmp(v, "false") == 0)
		*out = 0;
	else
		rc = fail(c, el, "<%s> %s=\"%.30s\" is not true or false", (const char *)el->name, name, v);
	free(v);
	return rc;
}

/* A method attribute (method, recordingStatusCallbackMethod): GET or
 * POST, default POST. */
static int attr_method_named(struct ctx *c, xmlNodePtr el, const char *name, char out[5])
{
	char *v = attr(el, name);
	int rc = 0;
	snprintf(out, 5, "POST");
	if (v == NULL)
		return 0;
	if (strcasecmp(v, "GET") == 0)
		snprintf(out, 5, "GET");
	else if (strcasecmp(v, "POST") != 0)
		rc = fail(c, el, "<%s> %s=\"%.30s\" is not GET or POST", (const char *)el->name, name, v);
	free(v);
	return rc;
}

static int attr_method(struct ctx *c, xmlNodePtr el, char out[5])
{
	return attr_method_named(c, el, "method", out);
}

/* A URL attribute or text resolved against the document's URL; absent
 * (NULL ref) gives the document's URL when use_doc, else "". */
static int resolve(struct ctx *c, xmlNodePtr el, const char *what, const char *ref, int use_doc,
	char **out)
{
	if (ref == NULL) {
		*out = xstrdup(use_doc ? c->doc_url : "");
		return 0;
	}
	*out = sim_twiml_resolve(c->doc_url, ref);
	if (*out == NULL)
		return fail(c, el, "<%s> %s \"%.60s\" is not an http(s) URL or a path",
			(const char *)el->name, what, ref);
	return 0;
}

/* The element's text, trimmed (malloc'd).  Elements inside are refused. */
static int text_of(struct ctx *c, xmlNodePtr el, char **out)
{
	struct buf b = BUF_INIT;
	const char *s, *e;
	*out = NULL;
	for (xmlNodePtr k = el->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE) {
			buf_free(&b);
			return fail(c, k, "<%s> cannot contain <%s>", (const char *)el->name,
				(const char *)k->name);
		}
		if (k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE)
			buf_puts(&b, (const char *)k->content);
	}
	s = buf_str(&b);
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	*out = xstrndup(s, (size_t)(e - s));
	buf_free(&b);
	return 0;
}

static int valid_keys(const char *s)
{
	return strspn(s, "0123456789*#") == strlen(s);
}

static int parse_verb(struct ctx *c, xmlNodePtr el, struct sim_verb *v, int in_gather);

static int parse_gather(struct ctx *c, xmlNodePtr el, struct sim_verb *v)
{
	char *a = attr(el, "action"), *fk = attr(el, "finishOnKey"), *input = attr(el, "input");
	size_t n = 0;
	int rc = -1;

	if (resolve(c, el, "action", a, 1, &v->action) < 0 || attr_method(c, el, v->method) < 0 ||
		attr_int(c, el, "timeout", 1, 3600, 5, &v->timeout) < 0 ||
		attr_int(c, el, "numDigits", 1, 1000, 0, &v->num_digits) < 0 ||
		attr_bool(c, el, "actionOnEmptyResult", 0, &v->action_on_empty_result) < 0)
		goto out;
	if (fk == NULL) {
		snprintf(v->finish_on_key, sizeof(v->finish_on_key), "#");
	} else if (strlen(fk) > 1 || !valid_keys(fk)) {
		fail(c, el, "<Gather> finishOnKey=\"%.20s\" is not one key (0-9, *, #) or empty", fk);
		goto out;
	} else {
		snprintf(v->finish_on_key, sizeof(v->finish_on_key), "%s", fk);
	}
	if (input && strstr(input, "dtmf") == NULL) {
		fail(c, el, "<Gather> input=\"%.30s\": speech input is not supported by the simulator"
			" (only dtmf)", input);
		goto out;
	}
	for (xmlNodePtr k = el->children; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE)
			n++;
	v->children = n ? xcalloc(n, sizeof(*v->children)) : NULL;
	for (xmlNodePtr k = el->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE) {
			if (!is_name(k, "Say") && !is_name(k, "Play") && !is_name(k, "Pause")) {
				fail(c, k, "<%s> is not allowed inside <Gather> (only Say, Play and Pause)",
					(const char *)k->name);
				goto out;
			}
			if (parse_verb(c, k, &v->children[v->nchildren++], 1) < 0)
				goto out;
		} else if (k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) {
			if (strspn((const char *)k->content, " \t\r\n") != strlen((const char *)k->content)) {
				fail(c, el, "<Gather> holds text outside a verb");
				goto out;
			}
		}
	}
	rc = 0;
out:
	free(a);
	free(fk);
	free(input);
	return rc;
}

static int parse_record(struct ctx *c, xmlNodePtr el, struct sim_verb *v)
{
	char *a = attr(el, "action"), *fk = attr(el, "finishOnKey"), *trim = attr(el, "trim");
	char *cb = attr(el, "recordingStatusCallback"), *ev = attr(el, "recordingStatusCallbackEvent");
	int transcribe, rc = -1;
	if (resolve(c, el, "action", a, 1, &v->action) < 0 || attr_method(c, el, v->method) < 0 ||
		attr_int(c, el, "timeout", 0, 3600, 5, &v->timeout) < 0 ||
		attr_int(c, el, "maxLength", 2, 14400, 3600, &v->max_length) < 0 ||
		attr_bool(c, el, "playBeep", 1, &v->play_beep) < 0 ||
		attr_bool(c, el, "transcribe", 0, &transcribe) < 0 ||
		attr_method_named(c, el, "recordingStatusCallbackMethod", v->rec_callback_method) < 0)
		goto out;
	if (transcribe) {
		fail(c, el, "<Record> transcribe=\"true\": transcription is not supported by the simulator");
		goto out;
	}
	if (fk == NULL) {
		snprintf(v->finish_on_key, sizeof(v->finish_on_key), "1234567890*#");
	} else if (strlen(fk) >= sizeof(v->finish_on_key) || !valid_keys(fk)) {
		fail(c, el, "<Record> finishOnKey=\"%.20s\" holds something other than keys 0-9, * and #", fk);
		goto out;
	} else {
		snprintf(v->finish_on_key, sizeof(v->finish_on_key), "%s", fk);
	}
	v->trim = 1;
	if (trim && strcmp(trim, "do-not-trim") == 0) {
		v->trim = 0;
	} else if (trim && strcmp(trim, "trim-silence") != 0) {
		fail(c, el, "<Record> trim=\"%.30s\" is not trim-silence or do-not-trim", trim);
		goto out;
	}
	if (resolve(c, el, "recordingStatusCallback", cb, 0, &v->rec_callback) < 0)
		goto out;
	v->rec_events = SIM_REC_COMPLETED;
	if (ev) {
		/* Several events separated by spaces (or commas, as helper
		 * libraries join a list). */
		char *save = NULL;
		v->rec_events = 0;
		for (char *t = strtok_r(ev, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
			if (strcmp(t, "in-progress") == 0)
				v->rec_events |= SIM_REC_IN_PROGRESS;
			else if (strcmp(t, "completed") == 0)
				v->rec_events |= SIM_REC_COMPLETED;
			else if (strcmp(t, "absent") == 0)
				v->rec_events |= SIM_REC_ABSENT;
			else {
				fail(c, el, "<Record> recordingStatusCallbackEvent \"%.30s\" is not in-progress,"
					" completed or absent", t);
				goto out;
			}
		}
		if (v->rec_events == 0) {
			fail(c, el, "<Record> recordingStatusCallbackEvent is empty");
			goto out;
		}
	}
	rc = 0;
out:
	free(a);
	free(fk);
	free(trim);
	free(cb);
	free(ev);
	return rc;
}

/* Parses one verb element into v (zeroed by the caller). */
static int parse_verb(struct ctx *c, xmlNodePtr el, struct sim_verb *v, int in_gather)
{
	const char *name = (const char *)el->name;
	char *text = NULL;
	int rc = -1;

	v->line = (long)xmlGetLineNo(el);
	if (el->ns != NULL) {
		fail(c, el, "<%s> is in an XML namespace; TwiML verbs have none", name);
		goto out;
	}
	for (size_t i = 0; unsupported_verbs[i]; i++) {
		if (strcmp(name, unsupported_verbs[i]) == 0) {
			fail(c, el, "<%s> is a TwiML verb the simulator does not support", name);
			goto out;
		}
	}
	if (strcmp(name, "Say") == 0) {
		v->kind = SIM_VERB_SAY;
		v->voice = attr(el, "voice");
		v->language = attr(el, "language");
		if (!v->voice)
			v->voice = xstrdup("");
		if (!v->language)
			v->language = xstrdup("");
		if (attr_int(c, el, "loop", 0, 1000, 1, &v->loop) < 0 || text_of(c, el, &v->text) < 0)
			goto out;
		if (v->text[0] == '\0') {
			fail(c, el, "<Say> is empty");
			goto out;
		}
	} else if (strcmp(name, "Play") == 0) {
		v->kind = SIM_VERB_PLAY;
		v->digits = attr(el, "digits");
		if (!v->digits)
			v->digits = xstrdup("");
		if (attr_int(c, el, "loop", 0, 1000, 1, &v->loop) < 0 || text_of(c, el, &text) < 0)
			goto out;
		if (strspn(v->digits, "0123456789*#w") != strlen(v->digits)) {
			fail(c, el, "<Play> digits=\"%.30s\" holds something other than 0-9, *, # and w",
				v->digits);
			goto out;
		}
		if (text[0] == '\0') {
			if (v->digits[0] == '\0') {
				fail(c, el, "<Play> has neither an audio URL nor digits");
				goto out;
			}
			v->text = xstrdup("");
		} else if (resolve(c, el, "URL", text, 0, &v->text) < 0) {
			goto out;
		}
	} else if (strcmp(name, "Pause") == 0) {
		v->kind = SIM_VERB_PAUSE;
		if (attr_int(c, el, "length", 0, 3600, 1, &v->length) < 0 || text_of(c, el, &text) < 0)
			goto out;
		if (text[0] != '\0') {
			fail(c, el, "<Pause> holds text");
			goto out;
		}
	} else if (strcmp(name, "Gather") == 0) {
		v->kind = SIM_VERB_GATHER;
		if (in_gather) {
			fail(c, el, "<Gather> is not allowed inside <Gather> (only Say, Play and Pause)");
			goto out;
		}
		if (parse_gather(c, el, v) < 0)
			goto out;
	} else if (strcmp(name, "Record") == 0) {
		v->kind = SIM_VERB_RECORD;
		if (parse_record(c, el, v) < 0 || text_of(c, el, &text) < 0)
			goto out;
	} else if (strcmp(name, "Redirect") == 0) {
		v->kind = SIM_VERB_REDIRECT;
		if (attr_method(c, el, v->method) < 0 || text_of(c, el, &text) < 0)
			goto out;
		if (text[0] == '\0') {
			fail(c, el, "<Redirect> has no URL");
			goto out;
		}
		if (resolve(c, el, "URL", text, 0, &v->text) < 0)
			goto out;
	} else if (strcmp(name, "Hangup") == 0) {
		v->kind = SIM_VERB_HANGUP;
		if (text_of(c, el, &text) < 0)
			goto out;
	} else if (strcmp(name, "Reject") == 0) {
		v->kind = SIM_VERB_REJECT;
		v->reason = attr(el, "reason");
		if (v->reason == NULL) {
			v->reason = xstrdup("rejected");
		} else if (strcmp(v->reason, "rejected") != 0 && strcmp(v->reason, "busy") != 0) {
			fail(c, el, "<Reject> reason=\"%.30s\" is not rejected or busy", v->reason);
			goto out;
		}
		if (text_of(c, el, &text) < 0)
			goto out;
	} else {
		fail(c, el, "<%s> is not a TwiML verb", name);
		goto out;
	}
	rc = 0;
out:
	free(text);
	return rc;
}

static void verb_free(struct sim_verb *v)
{
	free(v->text);
	free(v->voice);
	free(v->language);
	free(v->digits);
	free(v->action);
	free(v->rec_callback);
	free(v->reason);
	for (size_t i = 0; i < v->nchildren; i++)
		verb_free(&v->children[i]);
	free(v->children);
}

void sim_twiml_free(struct sim_twiml *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		verb_free(&t->verbs[i]);
	free(t->verbs);
	t->verbs = NULL;
	t->n = 0;
}

/* See sim_twiml.h. */
int sim_twiml_parse(const char *body, size_t len, const char *doc_url, struct sim_twiml *out,
	char *err, size_t errlen)
{
	struct ctx c = { doc_url, err, errlen };
	xmlParserCtxtPtr pc = NULL;
	xmlDocPtr doc = NULL;
	xmlNodePtr root;
	size_t n = 0;
	int rc = SIM_TWIML_INVALID;

	out->verbs = NULL;
	out->n = 0;
	if (errlen > 0)
		err[0] = '\0';
	if (doc_url == NULL || origin_len(doc_url) == 0 || has_bad_char(doc_url)) {
		fail(&c, NULL, "the document's URL is not an absolute http(s) URL");
		goto out;
	}
	if (body == NULL || len == 0) {
		fail(&c, NULL, "the document is empty");
		goto out;
	}
	if (len > DOC_MAX) {
		fail(&c, NULL, "the document is larger than %d bytes", DOC_MAX);
		goto out;
	}
	pc = xmlNewParserCtxt();
	if (pc == NULL) {
		fail(&c, NULL, "libxml2 could not make a parser");
		goto out;
	}
	doc = xmlCtxtReadMemory(pc, body, (int)len, doc_url, NULL,
		XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (doc == NULL) {
		const xmlError *e = xmlCtxtGetLastError(pc);
		char msg[160] = "not well-formed XML";
		if (e && e->message) {
			snprintf(msg, sizeof(msg), "%s", e->message);
			msg[strcspn(msg, "\n")] = '\0';
		}
		fail(&c, NULL, "line %d: not well-formed XML: %s", e ? e->line : 0, msg);
		goto out;
	}
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		fail(&c, NULL, "the document has a DOCTYPE; TwiML has none");
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (root == NULL || !is_name(root, "Response") || root->ns != NULL) {
		fail(&c, root, "the root element is <%s>, not <Response>",
			root ? (const char *)root->name : "");
		goto out;
	}
	for (xmlNodePtr k = root->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE) {
			n++;
		} else if (k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) {
			if (strspn((const char *)k->content, " \t\r\n") != strlen((const char *)k->content)) {
				fail(&c, k, "<Response> holds text outside a verb");
				goto out;
			}
		} else if (k->type == XML_ENTITY_REF_NODE) {
			fail(&c, k, "<Response> holds an entity reference");
			goto out;
		}
	}
	out->verbs = n ? xcalloc(n, sizeof(*out->verbs)) : NULL;
	for (xmlNodePtr k = root->children; k; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		if (parse_verb(&c, k, &out->verbs[out->n], 0) < 0) {
			out->n++;
			goto out;
		}
		out->n++;
	}
	rc = 0;
out:
	if (rc != 0)
		sim_twiml_free(out);
	if (doc)
		xmlFreeDoc(doc);
	if (pc)
		xmlFreeParserCtxt(pc);
	return rc;
}

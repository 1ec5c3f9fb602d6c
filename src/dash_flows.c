/* dash_flows: the call flow diagrams; see include/dash_flows.h. */
#include "dash_flows.h"
#include "app.h"
#include "arena.h"
#include "engine.h"
#include "flow.h"
#include "http.h"
#include "log.h"
#include "page.h"
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

/* Flows listed and diagrams kept per process. */
#define FLOWS_MAX 32
/* A diagram larger than this is not served (dot's output for a flow of
 * FLOW_MAX_STATES states stays far below it). */
#define FLOWS_SVG_MAX (2 * 1024 * 1024)

int dash_flows_svg_param(const char *v, size_t len)
{
	char name[FLOW_MAX_NAME + 1];

	if (len < 5 || len - 4 > FLOW_MAX_NAME || memcmp(v + len - 4, ".svg", 4) != 0)
		return 0;
	memcpy(name, v, len - 4);
	name[len - 4] = '\0';
	return flow_name_valid(name);
}

/* 1 when an attribute or element could run something. */
static int attr_unsafe(xmlAttrPtr at)
{
	const char *name = (const char *)at->name;
	xmlChar *val;
	const char *p;
	int bad = 0;

	if (strncasecmp(name, "on", 2) == 0)
		return 1;
	if (strcasecmp(name, "href") != 0 && strcasecmp(name, "src") != 0)
		return 0;
	val = xmlNodeListGetString(at->doc, at->children, 1);
	for (p = val ? (const char *)val : ""; *p == ' ' || *p == '\t' || *p == '\n'; p++)
		;
	bad = strncasecmp(p, "javascript:", 11) == 0 || strncasecmp(p, "data:", 5) == 0 ||
		strncasecmp(p, "vbscript:", 9) == 0;
	xmlFree(val);
	return bad;
}

static int tree_unsafe(xmlNodePtr n)
{
	static const char *const banned[] = { "script", "foreignObject", "iframe", "object",
		"embed", "handler", "listener" };

	for (; n; n = n->next) {
		if (n->type == XML_ENTITY_REF_NODE || n->type == XML_PI_NODE)
			return 1;
		if (n->type != XML_ELEMENT_NODE)
			continue;
		for (size_t i = 0; i < ARRAY_LEN(banned); i++)
			if (strcasecmp((const char *)n->name, banned[i]) == 0)
				return 1;
		for (xmlAttrPtr at = n->properties; at; at = at->next)
			if (attr_unsafe(at))
				return 1;
		if (tree_unsafe(n->children))
			return 1;
	}
	return 0;
}

int dash_flows_svg_safe(const char *svg, size_t len)
{
	xmlDocPtr doc;
	xmlNodePtr root;
	int ok = 0;

	if (svg == NULL || len == 0 || len > FLOWS_SVG_MAX || len > 0x7fffffff)
		return 0;
	/* No network, no entity substitution, no DTD loading: what is
	 * checked is what a browser gets. */
	doc = xmlReadMemory(svg, (int)len, "diagram.svg", NULL,
		XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL)
		return 0;
	root = xmlDocGetRootElement(doc);
	ok = root != NULL && strcmp((const char *)root->name, "svg") == 0 &&
		!tree_unsafe(root);
	xmlFreeDoc(doc);
	return ok;
}

/* The diagrams read so far by this process (owner: the process; never
 * freed, at most FLOWS_MAX of them).  svg NULL: missing or refused, and
 * not read again. */
static struct {
	char name[FLOW_MAX_NAME + 1];
	char *svg;
	size_t len;
	char hash[17];   /* FNV-1a 64 of the file, hex: the URL's ?v= and the ETag */
} cache[FLOWS_MAX];
static size_t ncache;

/* FNV-1a, 64 bits, as 16 hex digits: a cache key for a file we built,
 * not a defence against anyone. */
static void fnv_hex(const char *s, size_t n, char out[17])
{
	unsigned long long h = 14695981039346656037ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	snprintf(out, 17, "%016llx", h);
}

/* The diagram of flow name (its SVG, length and hash), loaded on first
 * use from root/build/diagrams/<name>.svg; NULL when there is none. */
static const char *diagram(const char *root, const char *name, size_t *len,
	const char **hash)
{
	char path[4096];
	FILE *f;
	size_t i;
	long n;

	for (i = 0; i < ncache; i++)
		if (strcmp(cache[i].name, name) == 0)
			goto out;
	if (ncache == FLOWS_MAX)
		return NULL;
	i = ncache++;
	snprintf(cache[i].name, sizeof(cache[i].name), "%s", name);
	snprintf(path, sizeof(path), "%s/build/diagrams/%s.svg", root, name);
	f = fopen(path, "rb");
	if (f == NULL) {
		log_error("flows: no diagram %s (run make)", path);
		goto out;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n <= FLOWS_SVG_MAX &&
		fseek(f, 0, SEEK_SET) == 0) {
		char *buf = xmalloc((size_t)n + 1);
		if (fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
			if (dash_flows_svg_safe(buf, (size_t)n)) {
				cache[i].svg = buf;
				cache[i].len = (size_t)n;
				fnv_hex(buf, (size_t)n, cache[i].hash);
				buf = NULL;
			} else {
				log_error("flows: %s holds something that could run; not served",
					path);
			}
		}
		free(buf);
	}
	fclose(f);
out:
	*len = cache[i].len;
	*hash = cache[i].hash;
	return cache[i].svg;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the flows under root/state_tables, sorted, in arena a;
 * returns how many (at most FLOWS_MAX), or -1. */
static int flow_names(struct arena *a, const char *root, const char **names)
{
	char path[4096];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/state_tables", root);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL && n < FLOWS_MAX)
		if (flow_dir_is_flow(e->d_name))
			names[n++] = arena_strdup(a, e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(*names), cmp_str);
	return n;
}

/* A state's or action's name as words: "machine_message" -> "machine
 * message" (in arena a). */
static const char *words(struct arena *a, const char *name)
{
	char *t = arena_strdup(a, name);
	for (char *p = t; *p; p++)
		if (*p == '_')
			*p = ' ';
	return t;
}

/* "reminder_call" -> "Reminder call". */
static const char *flow_title(struct arena *a, const char *name)
{
	char *t = (char *)words(a, name);
	if (t[0] >= 'a' && t[0] <= 'z')
		t[0] = (char)(t[0] - 'a' + 'A');
	return t;
}

/* What the client texted, in words (sms.c's sms_classify); NULL for an
 * action's event. */
static const char *text_words(struct arena *a, const char *on)
{
	static const char *const said[][2] = {
		{ "confirm", "texted CONFIRM" }, { "yes", "texted YES" }, { "no", "texted NO" },
		{ "help", "texted HELP or INFO" }, { "start", "texted START or UNSTOP" },
		{ "stop", "texted STOP, CANCEL or another opt-out word" },
		{ "other", "texted anything else" },
	};
	if (flow_is_key(on))
		return arena_printf(a, "texted %s", on);
	for (size_t i = 0; i < sizeof(said) / sizeof(said[0]); i++)
		if (strcmp(on, said[i][0]) == 0)
			return said[i][1];
	return NULL;
}

/* What the caller (or, in a text flow, the texter) did, in words. */
static const char *input_words(struct arena *a, const struct flow *f, const char *on)
{
	const char *t = flow_is_text(f) ? text_words(a, on) : NULL;

	if (t)
		return t;
	if (strcmp(on, "timeout") == 0)
		return "nothing pressed in time";
	if (strcmp(on, "machine") == 0)
		return "an answering machine answered";
	if (strcmp(on, "other") == 0)
		return "any other key or keys (a code)";
	if (strcmp(on, "recorded") == 0)
		return "a recording was made";
	if (flow_is_key(on))
		return arena_printf(a, "pressed %s", on);
	return arena_printf(a, "the step's check said \"%s\"", on);
}

static const char tmpl_head[] =
	"<h1>Call flows</h1>\n"
	"<p class=\"hint\">What a person hears and can do on a reminder call, and how a reply to"
	" a reminder text is answered, step by step. The diagrams are drawn from the same tables"
	" the calls and texts run on.</p>\n";
static const char tmpl_flow[] =
	"<section class=\"card\" id=\"{{name}}\"><h2>{{title}}</h2>\n"
	"<p><a href=\"/flows/{{name}}.svg?v={{hash}}\"><img class=\"diagram\""
	" src=\"/flows/{{name}}.svg?v={{hash}}\" alt=\"Diagram of the {{title}} flow; its steps"
	" are listed below.\"></a></p>\n"
	"<p class=\"hint\">Open the diagram on its own to zoom in.</p>\n";
static const char tmpl_no_diagram[] =
	"<section class=\"card\" id=\"{{name}}\"><h2>{{title}}</h2>\n"
	"<p class=\"muted\">The diagram has not been built (run make).</p>\n";
static const char tmpl_steps[] =
	"<div class=\"table-wrap\"><table class=\"table\"><thead><tr>"
	"<th scope=\"col\">At step</th><th scope=\"col\">When</th>"
	"<th scope=\"col\">Next step</th><th scope=\"col\">What happens</th>"
	"</tr></thead><tbody>\n";
static const char tmpl_step[] =
	"<tr><td data-label=\"At step\">{{from}}</td><td data-label=\"When\">{{on}}</td>"
	"<td data-label=\"Next step\">{{to}}</td><td data-label=\"What happens\">{{action}}</td>"
	"</tr>\n";
static const char tmpl_end[] = "</tbody></table></div></section>\n";
static const char tmpl_none[] = "<p class=\"empty\">No call flows are installed.</p>\n";

void dash_flows_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	const char *names[FLOWS_MAX];
	int n = flow_names(a, app->cfg.root ? app->cfg.root : ".", names);

	page_begin(out, "Call flows", "flows");
	page_add(out, tmpl_head, NULL);
	if (n <= 0)
		page_add(out, tmpl_none, NULL);
	for (int i = 0; i < n; i++) {
		const struct flow *f = app->engine ? engine_flow(app->engine, names[i]) : NULL;
		const char *title = flow_title(a, names[i]);
		const char *svg, *hash = "";
		size_t len;

		if (f == NULL)
			continue;
		svg = diagram(app->cfg.root ? app->cfg.root : ".", names[i], &len, &hash);
		const char *const fv[] = { "name", names[i], "title", title, "hash", hash, NULL };
		page_add(out, svg ? tmpl_flow : tmpl_no_diagram, fv);
		page_add(out, tmpl_steps, NULL);
		for (size_t t = 0; t < f->ntrans; t++) {
			const struct flow_transition *tr = &f->trans[t];
			const char *const sv[] = { "from", words(a, f->states[tr->from].name),
				"on", input_words(a, f, tr->on), "to", words(a, f->states[tr->to].name),
				"action", tr->action ? words(a, tr->action) : "", NULL };
			page_add(out, tmpl_step, sv);
		}
		page_add(out, tmpl_end, NULL);
	}
}

/* Served like the stylesheet (cacheable: its URL carries its hash), with
 * a CSP of its own: no script, no fetches, sandboxed even when opened on
 * its own.  The flows are the product's, the same for every business. */
void dash_flows_svg_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	char name[FLOW_MAX_NAME + 1];
	const char *svg, *hash;
	size_t len, n = strlen(in->param) - 4;

	memcpy(name, in->param, n);
	name[n] = '\0';
	if (app->engine == NULL || engine_flow(app->engine, name) == NULL ||
		(svg = diagram(app->cfg.root ? app->cfg.root : ".", name, &len, &hash)) == NULL) {
		page_not_found(out);
		return;
	}
	buf_append(&out->page_body, svg, len);
	out->asset_type = "image/svg+xml";
	out->asset_etag = arena_printf(in->req->arena, "\"%s\"", hash);
	out->asset_csp = DASH_FLOWS_SVG_CSP;
}

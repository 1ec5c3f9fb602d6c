/* dispatch: matching, authentication, validation, rendering and auditing
 * of every route; see include/dispatch.h. */
#include "dispatch.h"
#include "api_idem.h"
#include "api_rate.h"
#include "apikey.h"
#include "app.h"
#include "arena.h"
#include "audit.h"
#include "clock.h"
#include "db.h"
#include "html.h"
#include "http.h"
#include "log.h"
#include "multipart.h"
#include "page.h"
#include "session.h"
#include "metrics.h"
#include "signature.h"
#include "twiml.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What the dispatcher learnt about the request before and around the
 * handler, for the audit record. */
struct dispatch_state {
	const struct route *row;       /* the route that serves it, or NULL (405) */
	const char *verdict;           /* the signature verdict of a signed webhook */
	const struct params *form;     /* the signed, parsed form, or NULL */
	long long business_id;         /* the API key's business, 0 until known */
	char business[24];             /* the same as text, "" until known */
	char key_prefix[APIKEY_PREFIX_LEN + 1];
	long long nfields;             /* of an unverified form, -1 when none */
};

/* ---- matching ---------------------------------------------------------- */

/* 1 when path matches pattern; *param gets the text of its {name} (checked
 * by check) or NULL.  A final {name} takes the rest of the path; a {name}
 * followed by more pattern ("/clients/{id}/edit") takes one non-empty
 * segment, and the rest must follow literally. */
static int pattern_matches(const char *pattern, valid_fn check, struct arena *a,
	const char *path, const char **param)
{
	const char *brace = strchr(pattern, '{'), *close, *suffix;
	size_t n = strlen(pattern), len, slen;

	*param = NULL;
	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(pattern, path, n - 1) == 0;
	if (brace == NULL)
		return strcmp(pattern, path) == 0;
	n = (size_t)(brace - pattern);
	if (strncmp(pattern, path, n) != 0)
		return 0;
	path += n;
	close = strchr(brace, '}');
	suffix = close ? close + 1 : "";
	slen = strlen(suffix);
	len = strlen(path);
	if (slen > 0) {
		if (len <= slen || strcmp(path + len - slen, suffix) != 0)
			return 0;
		len -= slen;
		if (memchr(path, '/', len) != NULL)
			return 0;
	}
	*param = arena_strndup(a, path, len);
	if (check && !check(*param, len)) {
		*param = NULL;
		return 0;
	}
	return 1;
}

/* 1 when r's pattern ends in "*". */
static int is_catch_all(const struct route *r)
{
	size_t n = strlen(r->pattern);
	return n > 0 && r->pattern[n - 1] == '*';
}

/* A catch-all row serves only paths no other row has, so that a known
 * path with another method is a 405 and not the catch-all's answer. */
const struct route *dispatch_match(const struct route *table, size_t n, struct arena *a,
	const char *method, const char *path, const char **param, const struct route **path_row)
{
	const struct route *found = NULL;

	*path_row = NULL;
	*param = NULL;
	for (int pass = 0; pass < 2 && *path_row == NULL; pass++) {
		for (size_t i = 0; i < n && found == NULL; i++) {
			const char *p;
			if (is_catch_all(&table[i]) != pass ||
				!pattern_matches(table[i].pattern, table[i].param_check, a, path, &p))
				continue;
			/* Among catch-alls the first that matches owns the path
			 * (the POST-only Twilio catch-all keeps a GET /twilio/x
			 * from the dashboard's catch-all): later rows count only
			 * when they repeat its pattern. */
			if (*path_row && pass == 1 && strcmp(table[i].pattern, (*path_row)->pattern) != 0)
				continue;
			if (*path_row == NULL)
				*path_row = &table[i];
			if (table[i].method == NULL || strcmp(table[i].method, method) == 0) {
				found = &table[i];
				*param = p;
			}
		}
	}
	return found;
}

/* "GET, PATCH": the methods of the rows serving path (a catch-all's
 * rows excluded once a specific row matched). */
static const char *allowed_methods(const struct route *table, size_t n, struct arena *a,
	const char *path)
{
	const char *allow = NULL, *p;

	for (size_t i = 0; i < n; i++) {
		if (table[i].method == NULL ||
			!pattern_matches(table[i].pattern, table[i].param_check, a, path, &p))
			continue;
		allow = allow ? arena_printf(a, "%s, %s", allow, table[i].method) : table[i].method;
	}
	return allow ? allow : "GET";
}

/* ---- outcomes ------------------------------------------------------------ */

/* See dispatch.h. */
void outcome_error(struct outcome *out, int status, const char *code, const char *field,
	const char *message)
{
	out->status = status;
	out->error_code = code;
	out->error_field = field;
	out->error_message = message;
}

/* An empty outcome: status 0 (200), nothing planned or cancelled; its
 * TwiML grows in the request arena a. */
static void outcome_init(struct outcome *out, struct arena *a)
{
	memset(out, 0, sizeof(*out));
	buf_init_arena(&out->twiml, a);
	buf_init_arena(&out->page_body, a);
	out->planned = out->cancelled = -1;
}

/* Releases the jansson values the outcome still holds (its JSON and
 * record); everything else is in the request arena. */
static void outcome_free(struct outcome *out)
{
	json_decref(out->json);
	json_decref(out->audit);
}

/* ---- renderers ----------------------------------------------------------- */

/* 200 TwiML, always: the handler's document, else the empty document
 * for an ROUTE_RENDER_TWIML_EMPTY route (a status callback, a text: no
 * voice apology), else the apology. */
static void render_twiml(const struct route *r, struct outcome *out, struct http_response *res)
{
	res->status = 200;
	res->content_type = "text/xml; charset=utf-8";
	buf_reset(&res->body);
	if (out->twiml.len > 0)
		buf_append(&res->body, out->twiml.data, out->twiml.len);
	else if (r->render == ROUTE_RENDER_TWIML_EMPTY)
		twiml_empty(&res->body);
	else
		twiml_apology(&res->body);
}

/* out->json (consumed), or {"error": {"code", "message", "field"}} when
 * out->error_code is set; a handler that set neither is a 500.  The text
 * is written into the request arena a. */
static void render_json(struct arena *a, struct outcome *out, struct http_response *res)
{
	json_t *body = out->json;
	const char *s;

	out->json = NULL;
	if (body == NULL && out->error_code == NULL) {
		log_error("dispatch: a JSON route's handler answered nothing");
		outcome_error(out, 500, "internal", NULL, "internal error");
	}
	if (out->error_code) {
		json_t *e = json_pack("{s:s, s:s}", "code", out->error_code, "message",
			out->error_message ? out->error_message : out->error_code);
		if (e && out->error_field)
			json_object_set_new(e, "field", json_string(out->error_field));
		json_decref(body);
		body = json_pack("{s:o}", "error", e);
	}
	s = arena_json(a, body, out->json_spaced ? JSON_PRESERVE_ORDER : JSON_COMPACT);
	json_decref(body);
	if (s == NULL)
		abort(); /* the JSON is ours: only a bug in building it */
	res->status = out->status ? out->status : 200;
	res->content_type = "application/json";
	buf_reset(&res->body);
	buf_puts(&res->body, s);
	buf_putc(&res->body, '\n');
}

/* The body of a page that says one thing: {{title}} and {{message}}. */
const char dispatch_page_message[] = "<h1>{{title}}</h1>\n<p>{{message}}</p>\n";

/* A whole page in the minimal shell: the handler's template with its
 * fields.  A template that does not render is a bug; the answer is then
 * a plain 500 and nothing else. */
static void render_html(const struct outcome *out, struct http_response *res)
{
	/* Pages may carry secrets in their links (the unsubscribe token):
	 * keep them out of referrers, indexes and frames (http.c already
	 * forbids caching), and let no script or foreign form near them. */
	page_headers(res, "no-referrer");
	if (page_render_plain(out, res) < 0) {
		log_error("dispatch: a page template does not render");
		http_response_text(res, 500, "internal error");
		return;
	}
	res->status = out->status ? out->status : 200;
	res->content_type = "text/html; charset=utf-8";
}

/* A compiled-in static file: its bytes, cacheable for a year (its URL
 * carries its content's hash), or the handler's 404 page. */
static void render_asset(struct app *app, const struct route_input *in, struct outcome *out,
	struct http_response *res)
{
	if (out->asset_type == NULL) {
		page_render(app, in, out, res);
		return;
	}
	res->status = 200;
	res->content_type = out->asset_type;
	res->cache_control = "public, max-age=31536000, immutable";
	buf_reset(&res->body);
	buf_append(&res->body, out->page_body.data, out->page_body.len);
	if (out->asset_etag)
		http_response_header(res, "ETag", out->asset_etag);
	if (out->asset_csp)
		http_response_header(res, "Content-Security-Policy", out->asset_csp);
}

/* Writes out into res with r's renderer, and the headers out asks for;
 * scratch in the request arena a.  A page's shell needs app and in (the
 * logged-in user, the query's notice). */
static void render(struct app *app, const struct route *r, const struct route_input *in,
	struct arena *a, struct outcome *out, struct http_response *res)
{
	switch (r->render) {
	case ROUTE_RENDER_TWIML:
	case ROUTE_RENDER_TWIML_EMPTY:
		render_twiml(r, out, res);
		break;
	case ROUTE_RENDER_JSON:
		render_json(a, out, res);
		break;
	case ROUTE_RENDER_HTML:
		render_html(out, res);
		break;
	case ROUTE_RENDER_PAGE:
		page_render(app, in, out, res);
		break;
	case ROUTE_RENDER_ASSET:
		render_asset(app, in, out, res);
		break;
	case ROUTE_RENDER_TEXT:
		res->status = out->status ? out->status : 200;
		res->content_type = out->asset_type;
		buf_reset(&res->body);
		buf_append(&res->body, out->page_body.data, out->page_body.len);
		break;
	}
	for (size_t i = 0; i < ARRAY_LEN(out->set_cookie); i++)
		if (out->set_cookie[i])
			http_response_header(res, "Set-Cookie", out->set_cookie[i]);
	if (out->allow)
		http_response_header(res, "Allow", out->allow);
	if (out->location)
		http_response_header(res, "Location", out->location);
	if (out->www_authenticate)
		http_response_header(res, "WWW-Authenticate", out->www_authenticate);
}

/* A wrong method on a known path, in the route's own kind. */
static void method_not_allowed(const struct route *r, struct http_request *req, const char *allow,
	struct outcome *out)
{
	out->allow = allow;
	switch (r->render) {
	case ROUTE_RENDER_TWIML:
	case ROUTE_RENDER_TWIML_EMPTY:
		out->allow = NULL; /* Twilio gets TwiML, whatever it did */
		out->error = arena_printf(req->arena, "method %.16s is not %s", req->method, allow);
		break;
	case ROUTE_RENDER_JSON:
		outcome_error(out, 405, "method_not_allowed", NULL,
			arena_printf(req->arena, "%.16s is not allowed here; use %s", req->method, allow));
		break;
	case ROUTE_RENDER_PAGE:
	case ROUTE_RENDER_ASSET:
		page_error(out, 405, "This action is not available here",
			arena_printf(req->arena, "This address does not take a %.16s request; "
				"nothing was changed.", req->method));
		break;
	case ROUTE_RENDER_TEXT:
		out->status = 405;
		out->asset_type = "text/plain; charset=utf-8";
		buf_puts(&out->page_body, "method not allowed\n");
		break;
	case ROUTE_RENDER_HTML: {
		static const char *const f[] = { "title", "Method not allowed", "message",
			"Open the link from the email.", NULL };
		out->status = 405;
		out->page_title = f[1];
		out->page_tmpl = dispatch_page_message;
		out->page_fields = f;
		break;
	}
	}
}

/* ---- audit ----------------------------------------------------------------- */

/* Sets obj[key] to the string value, unless value is NULL. */
static void json_set_str(json_t *obj, const char *key, const char *value)
{
	if (value)
		json_object_set_new(obj, key, json_string(value));
}

/* A refused, unverified request as a bounded summary: nothing from its
 * body but sizes and a digest, and no key named by it. */
static void audit_summary(struct app *app, struct http_request *req, int status,
	const char *verdict, long long nfields)
{
	struct audit_rejection rj;

	memset(&rj, 0, sizeof(rj));
	rj.request_id = req->request_id;
	rj.method = req->method;
	rj.path = req->path;
	rj.remote_addr = req->remote_addr;
	rj.verdict = verdict;
	rj.status = status;
	rj.body_len = req->body_too_large ? req->body_received : (long long)req->body_len;
	rj.nfields = nfields;
	rj.body_sha256 = http_request_digest(req);
	audit_rejected(app->audit, &rj);
}

/* What the record of a signed webhook needs once the answer is out:
 * copied from the request, response and outcome, whose structs end with
 * dispatch (the strings they point to live in the request arena, reset
 * only after dispatch_after). */
struct webhook_record {
	char request_id[HTTP_REQUEST_ID_MAX + 1];
	const char *method, *path, *query, *remote_addr, *verdict;
	struct params form;
	int has_form;
	int status;
	const char *response;
	long long latency_ms;
	const char *call_sid, *business_id, *call_id, *attempt_id, *state_before, *state_after;
	const char *input, *action, *error;
	int replay;
	int hold;               /* the hold document's number, 0: none */
	struct arena *arena;
};

/* Writes w's records (the full one, and an error record when it went
 * wrong) under its verified CallSid, in one Redis round trip.  Records
 * are never dropped: audit_flush falls back to a file when Redis is
 * down. */
static void webhook_record_write(struct app *app, const struct webhook_record *w)
{
	struct audit_json j;

	audit_json_begin(&j, w->arena);
	audit_json_str(&j, "request_id", w->request_id);
	audit_json_str(&j, "method", w->method);
	audit_json_str(&j, "path", w->path);
	audit_json_str(&j, "query", w->query);
	audit_json_str(&j, "remote_addr", w->remote_addr);
	audit_json_str(&j, "signature", w->verdict);
	if (w->has_form)
		audit_json_params(&j, "params", &w->form);
	audit_json_int(&j, "status", w->status);
	audit_json_str(&j, "response", w->response);
	audit_json_int(&j, "latency_ms", w->latency_ms);
	audit_json_str(&j, "call_id", w->call_id);
	audit_json_str(&j, "attempt_id", w->attempt_id);
	audit_json_str(&j, "state_before", w->state_before);
	audit_json_str(&j, "state_after", w->state_after);
	audit_json_str(&j, "input", w->input);
	audit_json_str(&j, "action", w->action);
	if (w->replay)
		audit_json_true(&j, "replay");
	if (w->hold)
		audit_json_int(&j, "hold", w->hold);
	audit_json_str(&j, "error", w->error);
	audit_defer(app->audit, "webhook", w->call_sid, w->business_id, &j);

	if (w->error) {
		audit_json_begin(&j, w->arena);
		audit_json_str(&j, "request_id", w->request_id);
		audit_json_str(&j, "path", w->path);
		audit_json_str(&j, "error", w->error);
		audit_json_int(&j, "status", w->status);
		audit_defer(app->audit, "error", w->call_sid, w->business_id, &j);
	}
	audit_flush(app->audit);
}

/* The record of a signed webhook: taken down now, written by
 * dispatch_after once the answer is out when the app defers
 * (app->defer_audit, the pool's workers), else at once. */
static void audit_webhook(struct app *app, struct http_request *req,
	const struct http_response *res, const struct dispatch_state *st, struct outcome *out)
{
	struct webhook_record *w = arena_calloc(req->arena, sizeof(*w));

	snprintf(w->request_id, sizeof(w->request_id), "%s", req->request_id);
	w->method = req->method;
	w->path = req->path;
	w->query = req->query;
	w->remote_addr = req->remote_addr;
	w->verdict = st->verdict;
	if (st->form) {
		w->form = *st->form;
		w->has_form = 1;
	}
	w->status = res->status;
	w->response = buf_str(&res->body);
	w->latency_ms = util_now_ms() - req->start_ms;
	w->call_sid = out->call_sid;
	w->business_id = out->business_id;
	w->call_id = out->call_id;
	w->attempt_id = out->attempt_id;
	w->state_before = out->state_before;
	w->state_after = out->state_after;
	w->input = out->input;
	w->action = out->action;
	w->replay = out->replay;
	w->hold = out->hold;
	w->error = out->error ? arena_strdup(req->arena, out->error) : NULL;
	w->arena = req->arena;
	if (out->error)
		log_warn("webhook %s %s: %s", req->request_id, req->path, out->error);
	if (app->defer_audit) {
		app->deferred = w;
		return;
	}
	webhook_record_write(app, w);
}

/* See dispatch.h. */
void dispatch_after(struct app *app)
{
	struct webhook_record *w = app->deferred;

	app->deferred = NULL;
	if (w)
		webhook_record_write(app, w);
}

/* The record of an authenticated API request: what was asked and
 * answered, never the body (an appointment's notes are confidential) nor
 * the key. */
static void audit_api(struct app *app, struct http_request *req, const struct http_response *res,
	const struct dispatch_state *st, const struct outcome *out)
{
	json_t *rec = json_object();

	json_object_set_new(rec, "request_id", json_string(req->request_id));
	json_object_set_new(rec, "method", json_string(req->method));
	json_object_set_new(rec, "path", json_string(req->path));
	json_object_set_new(rec, "remote_addr", json_string(req->remote_addr));
	json_object_set_new(rec, "status", json_integer(res->status));
	json_object_set_new(rec, "latency_ms", json_integer(util_now_ms() - req->start_ms));
	if (st->key_prefix[0])
		json_object_set_new(rec, "key_prefix", json_string(st->key_prefix));
	json_set_str(rec, "action", out->action);
	if (out->client_id > 0)
		json_object_set_new(rec, "client_id", json_integer(out->client_id));
	if (out->appointment_id > 0)
		json_object_set_new(rec, "appointment_id", json_integer(out->appointment_id));
	if (out->planned >= 0)
		json_object_set_new(rec, "reminders_planned", json_integer(out->planned));
	if (out->cancelled >= 0)
		json_object_set_new(rec, "reminders_cancelled", json_integer(out->cancelled));
	json_set_str(rec, "error", out->error_code);
	json_set_str(rec, "error_field", out->error_field);
	audit_record(app->audit, "api", NULL, st->business, rec);
}

/* A handler's own full record (ROUTE_AUTH_NONE): its members, with the
 * request's id and address. */
static void audit_own(struct app *app, struct http_request *req, struct outcome *out)
{
	json_t *rec = out->audit ? out->audit : json_object();

	out->audit = NULL;
	json_object_set_new(rec, "remote_addr", json_string(req->remote_addr ? req->remote_addr : ""));
	json_object_set_new(rec, "request_id", json_string(req->request_id));
	audit_record(app->audit, out->audit_kind, NULL, out->business_id, rec);
}

/* ---- authentication and input ----------------------------------------------- */

/* 1 when the Content-Type ct is type, parameters (";charset=...") aside. */
static int content_type_is(const char *ct, const char *type)
{
	size_t n = strlen(type);
	return strncasecmp(ct, type, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* The signature of a /twilio/ request.  0 when signed (st->verdict,
 * st->form set); -1 after answering 403 text/plain, with *refused the
 * verdict for the summary. */
static int twilio_verify(struct app *app, struct http_request *req, struct http_response *res,
	struct dispatch_state *st, struct params *form, const char **refused)
{
	int form_body = strcmp(req->method, "POST") == 0 &&
		content_type_is(req->content_type, "application/x-www-form-urlencoded");
	enum signature_verdict verdict;
	const char *url;

	/* Twilio signs a form POST over its parameters, anything else over
	 * the URL (and bodySHA256); a form that cannot be parsed cannot be
	 * signed. */
	if (form_body &&
		form_parse(req->arena, req->body, req->body_len, NULL, form) != FORM_OK) {
		http_response_text(res, 403, "forbidden: the body cannot be parsed, so it is not signed");
		*refused = "body unparsable";
		return -1;
	}
	/* The URL Twilio signed is the public base URL plus the request URI,
	 * never anything taken from the Host header. */
	url = arena_printf(req->arena, "%s%s", app->cfg.public_url, req->request_uri);
	verdict = signature_validate(app->cfg.auth_token, url, form, form_body, req->body,
		req->body_len, req->twilio_signature);
	if (verdict != SIGNATURE_VALID) {
		http_response_text(res, 403, "forbidden: invalid Twilio signature");
		*refused = arena_printf(req->arena, "signature %s", signature_verdict_name(verdict));
		st->nfields = form_body ? (long long)form->n : -1;
		return -1;
	}
	st->verdict = signature_verdict_name(verdict);
	if (form_body)
		st->form = form;
	return 0;
}

/* The API key of the request.  0 when it names a business (st->business
 * set); -1 after answering 401 (or 503 when the database cannot tell). */
static int api_key_verify(struct app *app, struct http_request *req, struct dispatch_state *st,
	struct outcome *out)
{
	const char *h = req->authorization, *key;
	long long bid;

	if (h == NULL || *h == '\0') {
		out->www_authenticate = "Bearer realm=\"ringfence\"";
		outcome_error(out, 401, "unauthorized", NULL,
			"an API key is required: Authorization: Bearer <key>");
		return -1;
	}
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		out->www_authenticate = "Bearer realm=\"ringfence\", error=\"invalid_request\"";
		outcome_error(out, 401, "unauthorized", NULL,
			"the Authorization header must be 'Bearer <key>'");
		return -1;
	}
	key = h + 7;
	while (*key == ' ')
		key++;
	bid = apikey_verify(app->db, key, NULL);
	if (bid < 0) {
		log_error("api: request %s %s %s: database error: %s", req->request_id, req->method,
			req->path, db_last_error(app->db));
		outcome_error(out, 503, "unavailable", NULL,
			"the database is unavailable; nothing was changed, try again later");
		return -1;
	}
	if (bid == 0) {
		out->www_authenticate = "Bearer realm=\"ringfence\", error=\"invalid_token\"";
		outcome_error(out, 401, "unauthorized", NULL, "the API key is not valid or was revoked");
		return -1;
	}
	(void)apikey_parse(key, st->key_prefix);
	st->business_id = bid;
	snprintf(st->business, sizeof(st->business), "%lld", bid);
	return 0;
}

/* The JSON object body of an ROUTE_BODY_JSON route.  NULL after setting
 * a 415, 413 or 400 error. */
static json_t *json_body(const struct route *r, struct http_request *req, struct outcome *out)
{
	size_t max = r->body_max ? r->body_max : HTTP_MAX_BODY;
	json_error_t jerr;
	json_t *body;

	if (!content_type_is(req->content_type, "application/json")) {
		outcome_error(out, 415, "unsupported_media_type", NULL,
			"the body must be JSON with Content-Type: application/json");
		return NULL;
	}
	if (req->body_too_large || req->body_len > max) {
		outcome_error(out, 413, "body_too_large", NULL,
			arena_printf(req->arena, "the body must be at most %zu bytes", max));
		return NULL;
	}
	body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (body == NULL) {
		outcome_error(out, 400, "invalid_json", NULL,
			arena_printf(req->arena, "the body is not valid JSON: %s (line %d)", jerr.text,
				jerr.line));
		return NULL;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		outcome_error(out, 400, "invalid_json", NULL, "the body must be a JSON object");
		return NULL;
	}
	return body;
}

/* The declared members of a JSON body, checked and converted into
 * in->members as valid_params does for a form: undeclared members,
 * then presence and JSON type in declaration order, then the string
 * validators.  0, or -1 with a 422 naming the field. */
static int json_members(const struct route *r, struct http_request *req, json_t *body,
	struct route_input *in, struct outcome *out)
{
	struct arena *a = req->arena;
	struct valid_value *v = arena_calloc(a, (r->njson + 1) * sizeof(*v));
	const char *name;
	json_t *m;

	json_object_foreach(body, name, m) {
		size_t i, len = strlen(name);
		int plain;
		for (i = 0; i < r->njson && strcmp(name, r->json_fields[i].name) != 0; i++)
			;
		if (i < r->njson)
			continue;
		/* The name is the client's own input: name it, but only when
		 * it is short and plain. */
		plain = len <= 64 && valid_no_controls(name, len, NULL);
		outcome_error(out, 422, "unknown_field", plain ? arena_strdup(a, name) : NULL,
			arena_printf(a, "unknown field '%s'", plain ? name : "(unprintable)"));
		return -1;
	}
	for (size_t i = 0; i < r->njson; i++) {
		const struct json_field *f = &r->json_fields[i];
		m = json_object_get(body, f->name);
		if (m == NULL || json_is_null(m)) {
			if (!f->required)
				continue;
			outcome_error(out, 422, "missing_field", f->name,
				arena_printf(a, "field '%s' is required", f->name));
			return -1;
		}
		if (f->type == JSON_MEMBER_BOOLEAN) {
			if (!json_is_boolean(m)) {
				outcome_error(out, 422, "invalid_field", f->name, arena_printf(a,
					"field '%s' must be true or false", f->name));
				return -1;
			}
			v[i].i = json_is_true(m);
			v[i].s = v[i].i ? "true" : "false";
			v[i].len = strlen(v[i].s);
			continue;
		}
		if (f->type == JSON_MEMBER_ID) {
			if (!json_is_integer(m) || json_integer_value(m) < 1) {
				outcome_error(out, 422, "invalid_field", f->name, arena_printf(a,
					"field '%s' must be a positive integer id", f->name));
				return -1;
			}
			v[i].i = json_integer_value(m);
			v[i].s = arena_printf(a, "%lld", v[i].i);
			v[i].len = strlen(v[i].s);
			continue;
		}
		if (!json_is_string(m)) {
			outcome_error(out, 422, "invalid_field", f->name,
				arena_printf(a, "field '%s' must be a string", f->name));
			return -1;
		}
		v[i].len = json_string_length(m);
		v[i].s = arena_strndup(a, json_string_value(m), v[i].len);
	}
	for (size_t i = 0; i < r->njson; i++) {
		const struct json_field *f = &r->json_fields[i];
		if (v[i].s == NULL || f->type != JSON_MEMBER_STRING)
			continue;
		if ((f->check && !f->check(v[i].s, v[i].len)) ||
			(f->conv == VALID_TIME && !valid_to_time(v[i].s, v[i].len, &v[i].i))) {
			outcome_error(out, 422, "invalid_field", f->name, f->invalid);
			return -1;
		}
	}
	in->members.v = v;
	in->members.n = r->njson;
	return 0;
}

/* The validated form and query of a signed webhook.  0, or -1 with
 * out->error set. */
static int twilio_fields(struct app *app, const struct route *r, struct http_request *req,
	const struct params *form, struct route_input *in, struct outcome *out)
{
	char err[160];

	if (form == NULL) {
		out->error = "webhook body is not form-encoded";
		return -1;
	}
	if (valid_params(req->arena, r->form_fields, r->nform, form, &in->form, err,
		    sizeof(err)) < 0) {
		out->error = arena_strdup(req->arena, err);
		return -1;
	}
	if (!req->query_ok) {
		out->error = "malformed query string";
		return -1;
	}
	if (valid_params(req->arena, r->query_fields, r->nquery, &req->query_params, &in->query,
		    err, sizeof(err)) < 0) {
		out->error = arena_printf(req->arena, "query: %s", err);
		return -1;
	}
	/* A signature proves the request is for this auth token; the
	 * account named in it must be this deployment's too. */
	for (size_t i = 0; i < r->nform; i++)
		if (strcmp(r->form_fields[i].name, "AccountSid") == 0 && in->form.v[i].s &&
			strcmp(in->form.v[i].s, app->cfg.account_sid) != 0) {
			out->error = "AccountSid is not this deployment's account";
			return -1;
		}
	return 0;
}

/* The query of a route that is not a webhook: 1 when it validates (and,
 * for a query_strict row, holds exactly the declared fields, each once);
 * 0 otherwise, and the handler says how to answer. */
static int query_fields(const struct route *r, struct http_request *req, struct valid_result *q)
{
	const struct params *p = &req->query_params;

	if (!req->query_ok || (r->query_strict && p->n != r->nquery))
		return 0;
	for (size_t i = 0; r->query_strict && i < r->nquery; i++)
		if (form_count(p, r->query_fields[i].name) != 1)
			return 0;
	return valid_params(req->arena, r->query_fields, r->nquery, p, q, NULL, 0) == 0;
}

/* 1 when req's body is over what r takes: a body http.c did not keep,
 * or a kept upload (multipart bodies are kept up to HTTP_MAX_UPLOAD)
 * over HTTP_MAX_BODY that r does not take, or a dashboard form or
 * upload over r's body_max. */
static int body_over_cap(const struct route *r, const struct http_request *req)
{
	size_t max = r->body_max ? r->body_max : HTTP_MAX_BODY;
	int page_body = r->auth != ROUTE_AUTH_TWILIO &&
		(r->body == ROUTE_BODY_FORM || r->body == ROUTE_BODY_MULTIPART);

	return req->body_too_large || (req->body_len > HTTP_MAX_BODY && req->body_len > max) ||
		(page_body && req->body_len > max);
}

/* The pairs of a dashboard form (application/x-www-form-urlencoded) or
 * upload (multipart/form-data), as r's body kind says, into form.  NULL,
 * or what is wrong, in words for the 400 page. */
static const char *body_form(const struct route *r, struct http_request *req,
	struct params *form)
{
	const char *ct = req->content_type;

	form->v = NULL;
	form->n = 0;
	if (req->body_len == 0 && ct[0] == '\0')
		return NULL; /* no body at all: no fields */
	if (r->body == ROUTE_BODY_MULTIPART) {
		enum multipart_err e = multipart_parse(req->arena, ct, req->body, req->body_len,
			NULL, form);
		return e == MULTIPART_OK ? NULL : multipart_strerror(e);
	}
	if (!content_type_is(ct, "application/x-www-form-urlencoded"))
		return "the form was not sent as a form";
	if (form_parse(req->arena, req->body, req->body_len, NULL, form) != FORM_OK)
		return "the form is malformed";
	return NULL;
}

/* The declared fields of a dashboard form or upload (parsed by body_form
 * into in->form_all, or refused with body_err) into in->form.  0, or -1
 * with the 400 page (malformed) or the 422 page naming the field. */
static int form_fields(const struct route *r, struct http_request *req, const char *body_err,
	struct route_input *in, struct outcome *out)
{
	static const struct params none = { NULL, 0 };
	char err[160];

	if (body_err) {
		if (r->render == ROUTE_RENDER_PAGE)
			page_error(out, 400, "This form could not be read",
				arena_printf(req->arena, "Nothing was changed: %s.", body_err));
		else
			outcome_error(out, 400, "invalid_body", NULL, body_err);
		return -1;
	}
	if (valid_params(req->arena, r->form_fields, r->nform, in->form_all ? in->form_all : &none,
		    &in->form, err, sizeof(err)) == 0)
		return 0;
	if (r->render == ROUTE_RENDER_PAGE)
		page_error(out, 422, "Please check the form",
			arena_printf(req->arena, "Nothing was changed: %s.", err));
	else
		outcome_error(out, 422, "invalid_field", NULL, arena_strdup(req->arena, err));
	return -1;
}

/* ---- dashboard sessions ------------------------------------------------------ */

/* The dashboard's answer to a form that fails its CSRF check. */
static const char csrf_refused[] = "This form has expired or did not come from ringfence;"
	" nothing was changed. Reload the page and try again.";

/* ROUTE_AUTH_SESSION and ROUTE_AUTH_PUBLIC_PAGE (dispatch.h): the session
 * (in->user, in->business_id; none: a GET goes to /login?next=<this
 * path>, anything else is a 403 page; the database down: 503), then on
 * every request that is not GET or HEAD the CSRF token of the form
 * (in->form_all, parsed by body_form; the session's token, or the login
 * form's double-submit cookie).  A form that could not be parsed
 * (body_err) is left to form_fields, which refuses it before any
 * handler runs.  0 to go on, -1 when out holds the answer (nothing was
 * changed). */
static int dashboard_gate(struct app *app, const struct route *r, struct http_request *req,
	const char *body_err, struct route_input *in, struct outcome *out)
{
	int changes = strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0;
	const char *want = NULL;
	int db_err = 0;

	if (r->auth == ROUTE_AUTH_SESSION) {
		in->user = session_load(app, req, &db_err);
		if (db_err) {
			log_error("dispatch: %s %s: cannot read the session: %s", req->method, req->path,
				db_last_error(app->db));
			if (r->render == ROUTE_RENDER_JSON)
				outcome_error(out, 503, "unavailable", NULL,
					"the database is unavailable; try again in a minute");
			else
				page_unavailable(out);
			return -1;
		}
		/* A dashboard script's JSON (app.js): no page to go to, a 401. */
		if (in->user == NULL && r->render == ROUTE_RENDER_JSON) {
			outcome_error(out, 401, "unauthorized", NULL, "not logged in");
			out->rejected = "no session";
			return -1;
		}
		if (in->user == NULL && !changes) {
			struct buf next;
			buf_init_arena(&next, req->arena);
			form_encode(&next, req->request_uri, strlen(req->request_uri));
			if (session_valid_next(req->request_uri, strlen(req->request_uri)))
				page_redirect(out, "/login?next=%s", buf_str(&next));
			else
				page_redirect(out, "/login");
			return -1;
		}
		if (in->user == NULL) {
			page_error(out, 403, "You are not logged in",
				"Your session has ended; nothing was changed. Log in and try again.");
			out->rejected = "no session";
			return -1;
		}
		in->business_id = in->user->business_id;
		in->business = in->user->business;
		out->business_id = in->business;
		want = in->user->csrf;
	} else if (changes) {
		if (session_login_csrf(app, req, out, &want) < 0) {
			page_error(out, 500, "Something went wrong", "Reload the page and try again.");
			return -1;
		}
	}
	if (!changes || body_err)
		return 0;
	if (!session_csrf_ok(want, in->form_all ? form_get(in->form_all, SESSION_CSRF_FIELD) : NULL)) {
		page_error(out, 403, "This form has expired", csrf_refused);
		out->rejected = "csrf token mismatch";
		return -1;
	}
	return 0;
}

/* ---- the request ------------------------------------------------------------ */

/* See dispatch.h: match, refuse an oversized body, authenticate, validate,
 * run the handler, render, audit. */
void dispatch(struct app *app, const struct route *table, size_t n, struct http_request *req,
	struct http_response *res)
{
	struct dispatch_state st;
	struct route_input in;
	struct outcome out;
	struct params form = { NULL, 0 };
	const struct route *r, *path_row;
	const char *refused = NULL, *param, *body_err = NULL;
	json_t *body = NULL;
	struct api_idem idem;
	int retry_after = 0, handled = 0;

	memset(&st, 0, sizeof(st));
	memset(&idem, 0, sizeof(idem));
	memset(&in, 0, sizeof(in));
	outcome_init(&out, req->arena);
	st.nfields = -1;
	in.req = req;
	if (strcmp(req->method, "HEAD") == 0)
		req->method = "GET";
	st.row = dispatch_match(table, n, req->arena, req->method, req->path, &param, &path_row);
	r = st.row ? st.row : path_row;
	if (r == NULL) {
		http_response_text(res, 404, "not found");
		goto done;
	}
	in.param = param;
	if (param && r->param_type == VALID_INT64 &&
		!valid_to_id(param, strlen(param), &in.param_id)) {
		/* A declaration bug: an int64 param must be checked as an id. */
		http_response_text(res, 500, "internal error");
		goto done;
	}
	/* Nothing is answered before the caller is known, and a body over
	 * the cap is never kept: refused, summarised. */
	if (body_over_cap(r, req) && (r->auth != ROUTE_AUTH_NONE || r->body != ROUTE_BODY_NONE)) {
		refused = "body too large";
		if (r->auth == ROUTE_AUTH_TWILIO) {
			http_response_text(res, 413, "request body too large");
			goto done;
		}
		if (r->render == ROUTE_RENDER_PAGE) {
			size_t max = r->body_max ? r->body_max : HTTP_MAX_BODY;
			page_error(&out, 413, "This is too large", arena_printf(req->arena,
				"What you sent is larger than the %zu KiB this page accepts; nothing was "
				"changed.", max / 1024));
		} else if (r->render == ROUTE_RENDER_HTML) {
			static const char *const f[] = { "title", "This request is too large",
				"message", "Nothing was changed.", NULL };
			out.status = 413;
			out.page_title = f[1];
			out.page_tmpl = dispatch_page_message;
			out.page_fields = f;
		} else {
			outcome_error(&out, 413, "body_too_large", NULL, arena_printf(req->arena,
				"the body must be at most %zu bytes", r->body_max ? r->body_max
										  : (size_t)HTTP_MAX_BODY));
		}
		goto answer;
	}
	/* A dashboard form or upload is parsed before the session is
	 * checked, so that its CSRF token can be read (in.form_all); a
	 * malformed one is refused only once the caller is known. */
	if (r->auth != ROUTE_AUTH_TWILIO &&
		(r->body == ROUTE_BODY_FORM || r->body == ROUTE_BODY_MULTIPART)) {
		body_err = body_form(r, req, &form);
		if (body_err == NULL)
			in.form_all = &form;
	}
	switch (r->auth) {
	case ROUTE_AUTH_TWILIO:
		if (twilio_verify(app, req, res, &st, &form, &refused) < 0)
			goto done;
		/* Signed: from here on the answer is TwiML, whatever is wrong,
		 * and the request is recorded in full under its (now
		 * verified) CallSid, never an unvalidated one. */
		if (st.form) {
			out.call_sid = form_get(st.form, "CallSid");
			if (out.call_sid && !valid_call_sid(out.call_sid, strlen(out.call_sid)))
				out.call_sid = NULL;
		}
		if (st.row == NULL) {
			method_not_allowed(r, req, "POST", &out);
			goto answer;
		}
		if (r->body == ROUTE_BODY_FORM &&
			twilio_fields(app, r, req, st.form, &in, &out) < 0)
			goto answer;
		in.form_all = st.form;
		break;
	case ROUTE_AUTH_API_KEY:
		if (api_key_verify(app, req, &st, &out) < 0)
			goto answer;
		in.business_id = st.business_id;
		in.business = st.business;
		out.business_id = st.business;
		if (!api_rate_allow(app, st.key_prefix, app->cfg.api_rate_per_min, clock_now_s(),
			    &retry_after)) {
			outcome_error(&out, 429, "rate_limited", NULL, arena_printf(req->arena,
				"too many requests: a key may make %d a minute; retry in %d seconds",
				app->cfg.api_rate_per_min, retry_after));
			goto answer;
		}
		if (st.row == NULL) {
			method_not_allowed(r, req, allowed_methods(table, n, req->arena, req->path), &out);
			goto answer;
		}
		if (api_idem_begin(app, req, st.business_id, &idem, &out) != 0) {
			if (idem.replay)
				out.action = "idempotent_replay";
			goto answer;
		}
		break;
	case ROUTE_AUTH_SESSION:
	case ROUTE_AUTH_PUBLIC_PAGE:
		if (st.row == NULL) {
			method_not_allowed(r, req, allowed_methods(table, n, req->arena, req->path), &out);
			goto answer;
		}
		if (dashboard_gate(app, r, req, body_err, &in, &out) < 0)
			goto answer;
		break;
	case ROUTE_AUTH_NONE:
		if (st.row == NULL) {
			method_not_allowed(r, req, allowed_methods(table, n, req->arena, req->path), &out);
			goto answer;
		}
		break;
	}
	if (r->auth != ROUTE_AUTH_TWILIO &&
		(r->body == ROUTE_BODY_FORM || r->body == ROUTE_BODY_MULTIPART) &&
		form_fields(r, req, body_err, &in, &out) < 0)
		goto answer;
	if (r->body == ROUTE_BODY_JSON) {
		body = json_body(r, req, &out);
		if (body == NULL || json_members(r, req, body, &in, &out) < 0)
			goto answer;
		in.json = body;
	}
	if ((r->auth != ROUTE_AUTH_TWILIO || r->body != ROUTE_BODY_FORM) && r->nquery > 0)
		in.query_valid = query_fields(r, req, &in.query);
	handled = 1;
	r->handler(app, &in, &out);
answer:
	if (idem.replay) {
		api_idem_replay(&idem, res);
	} else {
		render(app, r, &in, req->arena, &out, res);
		if (retry_after > 0) {
			char ra[16];
			snprintf(ra, sizeof(ra), "%d", retry_after);
			http_response_header(res, "Retry-After", ra);
		}
	}
	api_idem_finish(app, &idem, res, out.location, handled);
	if (refused) {
		audit_summary(app, req, res->status, refused, st.nfields);
	} else if (r->auth == ROUTE_AUTH_TWILIO) {
		audit_webhook(app, req, res, &st, &out);
		if (!out.hold)
			metrics_webhook(req->path, !handled ? MW_INVALID : out.replay ? MW_REPLAY
				: out.error == NULL ? MW_TRANSITION
				: strncmp(db_last_sqlstate(app->db), "08", 2) == 0 ? MW_DB_DOWN_APOLOGY
				: MW_ERROR);
	} else if (r->auth == ROUTE_AUTH_API_KEY) {
		/* Only an authenticated request is recorded in full, under
		 * its business; anything else is a summary. */
		if (st.business[0])
			audit_api(app, req, res, &st, &out);
		else
			audit_summary(app, req, res->status, res->status == 401 ? "unauthenticated"
				: "not authenticated", -1);
	} else if (out.rejected) {
		audit_summary(app, req, res->status, out.rejected, -1);
	} else if (out.audit_kind) {
		audit_own(app, req, &out);
	}
	goto out;
done:
	if (refused)
		audit_summary(app, req, res->status, refused, st.nfields);
	if (r && r->auth == ROUTE_AUTH_TWILIO)
		metrics_webhook(req->path, res->status == 403 ? MW_REJECTED_SIGNATURE : MW_INVALID);
out:
	json_decref(body);
	outcome_free(&out);
}

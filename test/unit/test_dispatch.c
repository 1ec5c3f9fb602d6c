/* Unit tests: the route table's declarations (each route's authentication
 * and renderer) and the dispatcher on a table of the test's own
 * (matching, parameters, 404 / 405, typed query, renderers, the session
 * kind that no route may use yet). */
#include "unit.h"

#include "app.h"
#include "arena.h"
#include "dispatch.h"
#include "form.h"
#include "http.h"
#include "util.h"

#include <jansson.h>

/* ---- the product's table ---------------------------------------------------- */

static const struct route *row(const char *method, const char *pattern)
{
	for (size_t i = 0; i < routes_count; i++)
		if (strcmp(routes_table[i].pattern, pattern) == 0 &&
			((method == NULL && routes_table[i].method == NULL) ||
				(method && routes_table[i].method &&
					strcmp(method, routes_table[i].method) == 0)))
			return &routes_table[i];
	fail_msg("no route %s %s", method ? method : "*", pattern);
	return NULL;
}

static void test_table_auth(void **state)
{
	static const struct {
		const char *method, *pattern;
		enum route_auth auth;
		enum route_render render;
	} want[] = {
		{ "GET", "/healthz", ROUTE_AUTH_NONE, ROUTE_RENDER_TEXT },
		{ "GET", "/readyz", ROUTE_AUTH_NONE, ROUTE_RENDER_JSON },
		{ "GET", "/metrics", ROUTE_AUTH_NONE, ROUTE_RENDER_TEXT },
		{ "POST", "/twilio/voice/{flow}", ROUTE_AUTH_TWILIO, ROUTE_RENDER_TWIML },
		{ "POST", "/twilio/status/call", ROUTE_AUTH_TWILIO, ROUTE_RENDER_TWIML_EMPTY },
		{ "POST", "/twilio/status/sms", ROUTE_AUTH_TWILIO, ROUTE_RENDER_TWIML_EMPTY },
		{ "POST", "/twilio/sms/inbound", ROUTE_AUTH_TWILIO, ROUTE_RENDER_TWIML_EMPTY },
		{ "POST", "/twilio/*", ROUTE_AUTH_TWILIO, ROUTE_RENDER_TWIML },
		{ "POST", "/api/v1/clients", ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON },
		{ "POST", "/api/v1/appointments", ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON },
		{ "GET", "/api/v1/appointments/{id}", ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON },
		{ "PATCH", "/api/v1/appointments/{id}", ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON },
		{ "GET", "/api/v1/openapi.json", ROUTE_AUTH_NONE, ROUTE_RENDER_JSON },
		{ "GET", "/api/v1/clients", ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON },
		{ "GET", "/api/v1/clients/{id}", ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON },
		{ "PATCH", "/api/v1/clients/{id}", ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON },
		{ "GET", "/api/v1/appointments", ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON },
		{ "POST", "/api/v1/appointments/{id}/cancel", ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON },
		{ NULL, "/api/v1/*", ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON },
		{ NULL, "/api/v1", ROUTE_AUTH_NONE, ROUTE_RENDER_JSON },
		{ "GET", "/unsubscribe", ROUTE_AUTH_NONE, ROUTE_RENDER_HTML },
		{ "POST", "/unsubscribe", ROUTE_AUTH_NONE, ROUTE_RENDER_HTML },
		{ "GET", "/", ROUTE_AUTH_PUBLIC_PAGE, ROUTE_RENDER_PAGE },
		{ "GET", "/login", ROUTE_AUTH_PUBLIC_PAGE, ROUTE_RENDER_PAGE },
		{ "POST", "/login", ROUTE_AUTH_PUBLIC_PAGE, ROUTE_RENDER_PAGE },
		{ "POST", "/logout", ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE },
		{ "GET", "/account/password", ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE },
		{ "POST", "/account/password", ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE },
		{ "GET", "/settings/sessions", ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE },
		{ "POST", "/settings/sessions/{id}/revoke", ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE },
		{ "GET", "/operator/businesses", ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE },
		{ "POST", "/operator/business", ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE },
		{ "GET", "/static/{name}", ROUTE_AUTH_NONE, ROUTE_RENDER_ASSET },
		{ NULL, "/*", ROUTE_AUTH_NONE, ROUTE_RENDER_PAGE },
	};
	(void)state;
	/* The rows named above are there, of their kinds; the dashboard's
	 * helpers add rows of their own, so the count is not fixed. */
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		const struct route *r = row(want[i].method, want[i].pattern);
		if (r->auth != want[i].auth || r->render != want[i].render)
			fail_msg("%s %s: auth %d render %d, want %d %d", want[i].method,
				want[i].pattern, r->auth, r->render, want[i].auth, want[i].render);
	}
	for (size_t i = 0; i < routes_count; i++) {
		const struct route *r = &routes_table[i];
		if (r->handler == NULL)
			fail_msg("%s has no handler", r->pattern);
		/* Every path under /twilio/ is signed, and every one under
		 * /api/v1/ needs a key. */
		if (strncmp(r->pattern, "/twilio/", 8) == 0 && r->auth != ROUTE_AUTH_TWILIO)
			fail_msg("%s is not signature-checked", r->pattern);
		/* (but its public description) */
		if (strncmp(r->pattern, "/api/v1/", 8) == 0 && r->auth != ROUTE_AUTH_API_KEY &&
			strcmp(r->pattern, "/api/v1/openapi.json") != 0)
			fail_msg("%s is not key-checked", r->pattern);
		/* A dashboard row answers pages; but a GET of the dashboard
		 * script's JSON (a path ending in ".json": 401 JSON without a
		 * session, never a redirect to the login page). */
		if ((r->auth == ROUTE_AUTH_SESSION || r->auth == ROUTE_AUTH_PUBLIC_PAGE) &&
			r->render != ROUTE_RENDER_PAGE &&
			!(r->auth == ROUTE_AUTH_SESSION && r->render == ROUTE_RENDER_JSON &&
				r->method && strcmp(r->method, "GET") == 0 && strlen(r->pattern) > 5 &&
				strcmp(r->pattern + strlen(r->pattern) - 5, ".json") == 0))
			fail_msg("%s is a dashboard row that does not render a page", r->pattern);
		/* A webhook that reads a form declares its fields. */
		if (r->auth == ROUTE_AUTH_TWILIO && r->body == ROUTE_BODY_FORM && r->nform == 0 &&
			strcmp(r->pattern, "/twilio/*") != 0)
			fail_msg("%s declares no fields", r->pattern);
		/* The dashboard's catch-all is the last row. */
		if (strcmp(r->pattern, "/*") == 0 && i != routes_count - 1)
			fail_msg("the catch-all is row %zu of %zu", i, routes_count);
	}
}

/* The product's table routes what it should where it should. */
static void test_table_matching(void **state)
{
	static const struct {
		const char *method, *path, *pattern, *path_row, *param;
	} cases[] = {
		{ "GET", "/healthz", "/healthz", "/healthz", NULL },
		{ "POST", "/healthz", NULL, "/healthz", NULL },
		{ "POST", "/twilio/voice/reminder_call", "/twilio/voice/{flow}",
			"/twilio/voice/{flow}", "reminder_call" },
		{ "POST", "/twilio/voice/", "/twilio/voice/{flow}", "/twilio/voice/{flow}", "" },
		{ "GET", "/twilio/voice/x", NULL, "/twilio/voice/{flow}", NULL },
		{ "POST", "/twilio/elsewhere", "/twilio/*", "/twilio/*", NULL },
		{ "GET", "/twilio/status/call", NULL, "/twilio/status/call", NULL },
		{ "GET", "/api/v1/appointments/12", "/api/v1/appointments/{id}",
			"/api/v1/appointments/{id}", "12" },
		{ "DELETE", "/api/v1/appointments/12", NULL, "/api/v1/appointments/{id}", NULL },
		{ "GET", "/api/v1/appointments/012", "/api/v1/*", "/api/v1/*", NULL },
		{ "GET", "/api/v1/appointments/x", "/api/v1/*", "/api/v1/*", NULL },
		{ "PUT", "/api/v1/clients", NULL, "/api/v1/clients", NULL },
		{ "GET", "/api/v1/clients", "/api/v1/clients", "/api/v1/clients", NULL },
		{ "POST", "/api/v1/appointments/12/cancel", "/api/v1/appointments/{id}/cancel",
			"/api/v1/appointments/{id}/cancel", "12" },
		{ "GET", "/api/v1/appointments/12/cancel", NULL, "/api/v1/appointments/{id}/cancel",
			NULL },
		{ "POST", "/api/v1/appointments/012/cancel", "/api/v1/*", "/api/v1/*", NULL },
		{ "POST", "/api/v1/appointments/1/2/cancel", "/api/v1/*", "/api/v1/*", NULL },
		{ "POST", "/api/v1/appointments//cancel", "/api/v1/*", "/api/v1/*", NULL },
		{ "POST", "/api/v1/appointments/12/cancelx", "/api/v1/*", "/api/v1/*", NULL },
		{ "GET", "/api/v1/openapi.json", "/api/v1/openapi.json", "/api/v1/openapi.json",
			NULL },
		{ "GET", "/api/v1", "/api/v1", "/api/v1", NULL },
		{ "PUT", "/unsubscribe", NULL, "/unsubscribe", NULL },
		{ "GET", "/nowhere", "/*", "/*", NULL },
		{ "GET", "/api/v1x", "/*", "/*", NULL },
		/* the first catch-all that matches owns the path */
		{ "GET", "/twilio/elsewhere", NULL, "/twilio/*", NULL },
		{ "GET", "/static/app.css", "/static/{name}", "/static/{name}", "app.css" },
		{ "GET", "/static/other.css", "/*", "/*", NULL },
		/* a {param} with more after it takes one segment */
		{ "GET", "/clients/5/edit", "/clients/{id}/edit", "/clients/{id}/edit", "5" },
		{ "GET", "/clients/5", "/clients/{id}", "/clients/{id}", "5" },
		{ "GET", "/clients/5/x/edit", "/*", "/*", NULL },
		{ "GET", "/clients//edit", "/*", "/*", NULL },
		{ "GET", "/clients/5/editx", "/*", "/*", NULL },
		{ "POST", "/settings/sessions/7/revoke", "/settings/sessions/{id}/revoke",
			"/settings/sessions/{id}/revoke", "7" },
	};
	struct arena *a = arena_new(0);
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct route *r, *pr;
		const char *param;
		r = dispatch_match(routes_table, routes_count, a, cases[i].method, cases[i].path,
			&param, &pr);
		if ((r == NULL) != (cases[i].pattern == NULL) ||
			(r && strcmp(r->pattern, cases[i].pattern) != 0))
			fail_msg("%s %s: row %s, want %s", cases[i].method, cases[i].path,
				r ? r->pattern : "none", cases[i].pattern ? cases[i].pattern : "none");
		if ((pr == NULL) != (cases[i].path_row == NULL) ||
			(pr && strcmp(pr->pattern, cases[i].path_row) != 0))
			fail_msg("%s %s: path row %s, want %s", cases[i].method, cases[i].path,
				pr ? pr->pattern : "none", cases[i].path_row ? cases[i].path_row : "none");
		if ((param == NULL) != (cases[i].param == NULL) ||
			(param && strcmp(param, cases[i].param) != 0))
			fail_msg("%s %s: param %s, want %s", cases[i].method, cases[i].path,
				param ? param : "(null)", cases[i].param ? cases[i].param : "(null)");
	}
	arena_free(a);
}

/* ---- a table of the test's own -------------------------------------------------- */

static int handler_calls;

static void thing_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	(void)app;
	handler_calls++;
	out->json = json_pack("{s:I, s:s}", "id", (json_int_t)in->param_id, "method",
		in->req->method);
}

enum { TQ_C, TQ_N };
static const struct valid_field thing_query[TQ_N] = {
	[TQ_C] = { "c", valid_id, 1, VALID_INT64 },
};

static void query_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	(void)app;
	handler_calls++;
	if (!in->query_valid)
		outcome_error(out, 400, "bad_query", "c", "c must be an id, once");
	else
		out->json = json_pack("{s:I}", "c", (json_int_t)in->query.v[TQ_C].i);
}

static void page_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	static const char *const f[] = { "title", "A & B", "message", "<hello>", NULL };
	(void)app;
	(void)in;
	handler_calls++;
	out->page_title = f[1];
	out->page_tmpl = dispatch_page_message;
	out->page_fields = f;
}

static void missing_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	(void)app;
	(void)in;
	handler_calls++;
	outcome_error(out, 404, "not_found", NULL, "no such thing");
}

enum { TJ_ID, TJ_AT, TJ_NAME, TJ_N };
static const struct json_field echo_fields[TJ_N] = {
	[TJ_ID] = { "id", JSON_MEMBER_ID, 1, NULL, VALID_TEXT, NULL },
	[TJ_AT] = { "at", JSON_MEMBER_STRING, 0, valid_timestamp, VALID_TIME, "at: a timestamp" },
	[TJ_NAME] = { "name", JSON_MEMBER_STRING, 0, valid_state_name, VALID_TEXT, "name: a name" },
};

static void echo_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	const struct valid_value *m = in->members.v;
	(void)app;
	handler_calls++;
	out->json = json_pack("{s:I, s:I, s:s}", "id", (json_int_t)m[TJ_ID].i, "at",
		(json_int_t)m[TJ_AT].i, "name", m[TJ_NAME].s ? m[TJ_NAME].s : "-");
}

static const struct route test_table[] = {
	{ "GET", "/things/{id}", valid_id, VALID_INT64, ROUTE_AUTH_NONE, ROUTE_RENDER_JSON,
		ROUTE_BODY_NONE, 0, NULL, 0, NULL, 0, 0, thing_handle, NULL, 0 },
	{ "POST", "/things/{id}", valid_id, VALID_INT64, ROUTE_AUTH_NONE, ROUTE_RENDER_JSON,
		ROUTE_BODY_NONE, 0, NULL, 0, NULL, 0, 0, thing_handle, NULL, 0 },
	{ NULL, "/things/*", NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_JSON,
		ROUTE_BODY_NONE, 0, NULL, 0, NULL, 0, 0, missing_handle, NULL, 0 },
	{ "GET", "/query", NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_JSON,
		ROUTE_BODY_NONE, 0, NULL, 0, thing_query, TQ_N, 1, query_handle, NULL, 0 },
	{ "GET", "/page", NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_HTML,
		ROUTE_BODY_NONE, 0, NULL, 0, NULL, 0, 0, page_handle, NULL, 0 },
	{ "GET", "/dashboard", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_HTML,
		ROUTE_BODY_NONE, 0, NULL, 0, NULL, 0, 0, page_handle, NULL, 0 },
	{ "POST", "/echo", NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_JSON,
		ROUTE_BODY_JSON, 64, NULL, 0, NULL, 0, 0, echo_handle, echo_fields, TJ_N },
};

/* Dispatches method uri (with a JSON body, or NULL) through test_table
 * into res (initialised). */
static void run(struct arena *a, const char *method, const char *uri, const char *json,
	struct http_response *res)
{
	static struct app app; /* the test routes touch none of it */
	struct http_request req;

	unit_request(&req, a, method, uri);
	req.content_type = json ? "application/json" : "";
	req.body = json ? json : "";
	req.body_len = strlen(req.body);
	req.content_length = -1;
	http_response_init(res, a);
	dispatch(&app, test_table, ARRAY_LEN(test_table), &req, res);
}

static void test_dispatch_own_table(void **state)
{
	static const struct {
		const char *method, *uri, *json;
		int status, called;
		const char *type, *body, *header; /* body and header: substrings, or NULL */
	} cases[] = {
		{ "GET", "/things/42", NULL, 200, 1, "application/json", "{\"id\":42,\"method\":\"GET\"}", NULL },
		{ "POST", "/things/7", NULL, 200, 1, "application/json", "\"id\":7", NULL },
		/* HEAD is the GET (nginx drops the body). */
		{ "HEAD", "/things/42", NULL, 200, 1, "application/json", "\"method\":\"GET\"", NULL },
		{ "HEAD", "/echo", NULL, 405, 0, "application/json", "method_not_allowed", NULL },
		{ "DELETE", "/things/7", NULL, 405, 0, "application/json", "method_not_allowed",
			"Allow: GET, POST\r\n" },
		{ "GET", "/things/0", NULL, 404, 1, "application/json", "no such thing", NULL },
		{ "GET", "/things/x/y", NULL, 404, 1, "application/json", "no such thing", NULL },
		{ "GET", "/nowhere", NULL, 404, 0, "text/plain; charset=utf-8", "not found", NULL },
		{ "GET", "/query?c=5", NULL, 200, 1, "application/json", "{\"c\":5}", NULL },
		{ "GET", "/query?c=5&c=6", NULL, 400, 1, "application/json", "\"field\":\"c\"", NULL },
		{ "GET", "/query?c=5&d=1", NULL, 400, 1, "application/json", "bad_query", NULL },
		{ "GET", "/query?c=x", NULL, 400, 1, "application/json", "bad_query", NULL },
		{ "GET", "/query?c=%", NULL, 400, 1, "application/json", "bad_query", NULL },
		{ "GET", "/page", NULL, 200, 1, "text/html; charset=utf-8",
			"<h1>A &amp; B</h1>\n<p>&lt;hello&gt;</p>", "Content-Security-Policy: " },
		{ "POST", "/page", NULL, 405, 0, "text/html; charset=utf-8", "Method not allowed",
			"Allow: GET\r\n" },
		{ "GET", "/dashboard", NULL, 500, 0, "text/plain; charset=utf-8", "internal error", NULL },
		{ "POST", "/echo", "{\"id\": 3, \"at\": \"1970-01-01T00:01:00Z\", \"name\": \"ab\"}",
			200, 1, "application/json", "{\"id\":3,\"at\":60,\"name\":\"ab\"}", NULL },
		{ "POST", "/echo", "{\"id\": 3}", 200, 1, "application/json", "\"name\":\"-\"", NULL },
		{ "POST", "/echo", "{\"id\": 3, \"x\": 1}", 422, 0, "application/json",
			"\"code\":\"unknown_field\",\"message\":\"unknown field 'x'\",\"field\":\"x\"", NULL },
		{ "POST", "/echo", "{\"at\": \"1970-01-01T00:01:00Z\"}", 422, 0, "application/json",
			"missing_field", NULL },
		{ "POST", "/echo", "{\"id\": null}", 422, 0, "application/json", "missing_field", NULL },
		{ "POST", "/echo", "{\"id\": \"3\"}", 422, 0, "application/json",
			"field 'id' must be a positive integer id", NULL },
		{ "POST", "/echo", "{\"id\": 0}", 422, 0, "application/json", "positive integer", NULL },
		{ "POST", "/echo", "{\"id\": 1, \"name\": 7}", 422, 0, "application/json",
			"field 'name' must be a string", NULL },
		{ "POST", "/echo", "{\"id\": 1, \"name\": \"A\"}", 422, 0, "application/json",
			"\"message\":\"name: a name\",\"field\":\"name\"", NULL },
		/* jansson refuses an encoded NUL (no JSON_ALLOW_NUL) */
		{ "POST", "/echo", "{\"id\": 1, \"name\": \"a\\u0000b\"}", 400, 0, "application/json",
			"invalid_json", NULL },
		{ "POST", "/echo", "{\"id\": 1, \"at\": \"soon\"}", 422, 0, "application/json",
			"at: a timestamp", NULL },
		{ "POST", "/echo", "[1]", 400, 0, "application/json", "invalid_json", NULL },
		{ "POST", "/echo", "{\"id\": 1, \"name\": \"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij\"}",
			413, 0, "application/json", "at most 64 bytes", NULL },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct arena *a = arena_new(0);
		struct http_response res;
		const char *type;
		handler_calls = 0;
		run(a, cases[i].method, cases[i].uri, cases[i].json, &res);
		type = res.content_type ? res.content_type : "text/plain; charset=utf-8";
		if (res.status != cases[i].status || strcmp(type, cases[i].type) != 0)
			fail_msg("%s %s: %d %s, want %d %s", cases[i].method, cases[i].uri, res.status,
				type, cases[i].status, cases[i].type);
		if (handler_calls != cases[i].called)
			fail_msg("%s %s: handler called %d times", cases[i].method, cases[i].uri,
				handler_calls);
		if (cases[i].body && strstr(buf_str(&res.body), cases[i].body) == NULL)
			fail_msg("%s %s: body '%s' lacks '%s'", cases[i].method, cases[i].uri,
				buf_str(&res.body), cases[i].body);
		if (cases[i].header && strstr(buf_str(&res.headers), cases[i].header) == NULL)
			fail_msg("%s %s: headers '%s' lack '%s'", cases[i].method, cases[i].uri,
				buf_str(&res.headers), cases[i].header);
		arena_free(a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_auth),
		cmocka_unit_test(test_table_matching),
		cmocka_unit_test(test_dispatch_own_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

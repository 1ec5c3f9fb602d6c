/* Unit tests: the dashboard's shell (page.c): redirects only to local
 * paths, the shell around a body with and without a user, escaping, the
 * notice table, error pages, a template bug as the 500 page, headers,
 * times in a business's zone and the compiled-in static files.  The
 * failsafe banner is read from a database that does not answer here
 * (the "cannot be read" banner); test_shell (integration) sees the real
 * one. */
#include "unit.h"

#include "app.h"
#include "arena.h"
#include "audit.h"
#include "buf.h"
#include "dispatch.h"
#include "form.h"
#include "http.h"
#include "page.h"
#include "session.h"
#include "util.h"

static struct app app;
static char audit_log[64];

static int setup(void **state)
{
	if (unit_go_to_repo_root(state) != 0)
		return -1;
	/* Nothing listens on port 1: every query fails at once, and the
	 * dispatcher's records go to the fallback file. */
	app.db = db_open("host=127.0.0.1 port=1 connect_timeout=1");
	app.rds = rds_open("redis://127.0.0.1:1");
	snprintf(audit_log, sizeof(audit_log), "/tmp/rf-test-page-%ld.log", (long)getpid());
	app.audit = audit_open(app.rds, audit_log);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	audit_close(app.audit);
	rds_close(app.rds);
	db_close(app.db);
	unlink(audit_log);
	return 0;
}

/* One request through the renderer, in the arena a (the caller's). */
struct rq {
	struct arena *a;
	struct http_request req;
	struct route_input in;
	struct outcome out;
	struct http_response res;
};

/* (Re)starts t as a GET of uri in t->a, with an empty outcome. */
static void request(struct rq *t, const char *uri)
{
	unit_request(&t->req, t->a, "GET", uri);
	memset(&t->in, 0, sizeof(t->in));
	memset(&t->out, 0, sizeof(t->out));
	t->in.req = &t->req;
	buf_init_arena(&t->out.page_body, t->a);
	buf_init_arena(&t->out.twiml, t->a);
	http_response_init(&t->res, t->a);
}

/* Renders t's outcome into its response; the body. */
static const char *render(struct rq *t)
{
	page_render(&app, &t->in, &t->out, &t->res);
	return buf_str(&t->res.body);
}

static const struct session_user owner = {
	.session_id = 1, .user_id = 2, .email = "owner@example.com", .role = "owner",
	.operator = 0, .business_id = 3, .business = "3",
	.business_name = "Dr <Smith> & \"Sons\"", .business_tz = "Europe/London",
	.own_business_id = 3,
	.csrf = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
};

static void has(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("lacks '%s' in: %.300s", needle, hay);
}

static void lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		fail_msg("has '%s' in: %.300s", needle, hay);
}

/* Only a path on this site is a redirect target. */
static void test_local_path(void **state)
{
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
		{ "/", 1 }, { "/today", 1 }, { "/appointments/12?notice=saved", 1 },
		{ "/a/b%2F/c?x=%20y#frag", 1 },
		{ NULL, 0 }, { "", 0 }, { "today", 0 }, { "//evil.example", 0 },
		{ "/\\evil.example", 0 }, { "\\\\evil.example", 0 }, { "https://evil.example", 0 },
		{ "/a\\b", 0 }, { "/a b", 0 }, { "/a\r\nSet-Cookie: x=1", 0 }, { "/a\tb", 0 },
		{ "/caf\xc3\xa9", 0 }, { "/x\x7f", 0 }, { " /today", 0 },
		{ "javascript:alert(1)", 0 },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		if (page_local_path(cases[i].s) != cases[i].ok)
			fail_msg("page_local_path(%s): %d", cases[i].s ? cases[i].s : "NULL",
				!cases[i].ok);
}

/* page_redirect: a 303 to a local path; anything else is the 500 page
 * and no Location at all. */
static void test_redirect(void **state)
{
	static const char *const bad[] = { "//evil.example/%d", "/\\evil.example/%d",
		"https://evil.example/%d", "/x%d\r\nLocation: //evil" };
	struct rq t = { .a = arena_new(0) };
	(void)state;

	request(&t, "/x");
	t.in.user = &owner;
	page_redirect(&t.out, "/appointments/%d?notice=%s", 12, "saved");
	render(&t);
	assert_int_equal(t.res.status, 303);
	has(buf_str(&t.res.headers), "Location: /appointments/12?notice=saved\r\n");
	has(buf_str(&t.res.headers), "Content-Security-Policy: ");
	assert_int_equal(t.res.body.len, 0);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		request(&t, "/x");
		t.in.user = &owner;
		page_redirect(&t.out, bad[i], 1);
		render(&t);
		assert_int_equal(t.res.status, 500);
		lacks(buf_str(&t.res.headers), "Location");
		lacks(buf_str(&t.res.body), "evil");
		has(buf_str(&t.res.body), "Something went wrong");
	}
	/* A redirect set by hand is checked by the renderer too. */
	request(&t, "/x");
	t.out.redirect = "//evil.example";
	render(&t);
	assert_int_equal(t.res.status, 500);
	lacks(buf_str(&t.res.headers), "Location");
	arena_free(t.a);
}

/* The shell of a logged-in page: the head, the business's name escaped,
 * the menu with the current item, logout with the CSRF token, the
 * notice, the body, the footer; the headers of every HTML answer. */
static void test_shell_user(void **state)
{
	static const char *const f[] = { "name", "<script>alert(1)</script>", NULL };
	struct rq t = { .a = arena_new(0) };
	const char *b, *h;
	(void)state;

	request(&t, "/clients?notice=saved");
	t.in.user = &owner;
	page_begin(&t.out, "Clients & more", "clients");
	page_add(&t.out, "<h1>{{name}}</h1>\n", f);
	page_text(&t.out, "\"'<>&");
	b = render(&t);
	h = buf_str(&t.res.headers);
	assert_int_equal(t.res.status, 200);
	assert_string_equal(t.res.content_type, "text/html; charset=utf-8");
	assert_null(t.res.cache_control); /* http.c's no-store */
	has(b, "<!DOCTYPE html>\n<html lang=\"en\">");
	has(b, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
	has(b, "<title>Clients &amp; more - ringfence</title>");
	has(b, "<link rel=\"stylesheet\" href=\"/static/app.css?v=");
	has(b, "<script src=\"/static/app.js?v=");
	has(b, "<link rel=\"icon\" href=\"data:,\">");
	has(b, "\" defer></script>");
	has(b, "<a class=\"brand\" href=\"/today\">Dr &lt;Smith&gt; &amp; &quot;Sons&quot;</a>");
	has(b, "<a href=\"/clients\" aria-current=\"page\">Clients</a>");
	has(b, "<a href=\"/today\">Today</a>");
	has(b, "<a href=\"/decisions\">Needs a decision</a>");
	lacks(b, "/operator/failsafe\">");
	has(b, "<form class=\"logout\" method=\"post\" action=\"/logout\">"
		"<input type=\"hidden\" name=\"csrf\" value=\"" "00112233445566778899aabbccddeeff"
		"00112233445566778899aabbccddeeff\">");
	has(b, "<p class=\"notice\" role=\"status\">Your changes were saved.</p>");
	has(b, "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>");
	has(b, "&quot;&#39;&lt;&gt;&amp;");
	lacks(b, "<script>alert");
	has(b, "The failsafe's state cannot be read");
	has(b, "<footer");
	has(b, "</html>\n");
	has(h, "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "
		"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
		"object-src 'none'\r\n");
	has(h, "X-Frame-Options: DENY\r\n");
	has(h, "Referrer-Policy: same-origin\r\n");
	arena_free(t.a);
}

/* An operator's menu has the operator's items; an unknown notice code
 * shows nothing, and nothing of it. */
static void test_shell_operator(void **state)
{
	struct session_user op = owner;
	struct rq t = { .a = arena_new(0) };
	const char *b;
	(void)state;

	op.operator = 1;
	op.role = "operator";
	request(&t, "/operator/failsafe?notice=%3Cb%3Ezzq");
	t.in.user = &op;
	page_begin(&t.out, "Failsafe", "failsafe");
	b = render(&t);
	has(b, "<a href=\"/operator/businesses\">Businesses</a>");
	has(b, "<a href=\"/operator/failsafe\" aria-current=\"page\">Failsafe</a>");
	lacks(b, "class=\"notice\"");
	lacks(b, "zzq");
	arena_free(t.a);
}

/* Without a user (the login page, errors before login): the minimal
 * shell, no menu, no banner, no logout. */
static void test_shell_plain(void **state)
{
	struct rq t = { .a = arena_new(0) };
	const char *b;
	(void)state;

	request(&t, "/login?notice=logged_out");
	page_begin(&t.out, "Log in", NULL);
	page_add(&t.out, "<h1>Log in</h1>\n", NULL);
	b = render(&t);
	assert_int_equal(t.res.status, 200);
	has(b, "<title>Log in - ringfence</title>");
	has(b, "<a class=\"brand\" href=\"/\">ringfence</a>");
	has(b, "You are logged out.");
	has(b, "<h1>Log in</h1>");
	lacks(b, "<nav");
	lacks(b, "logout");
	lacks(b, "failsafe");
	has(buf_str(&t.res.headers), "Content-Security-Policy: ");
	arena_free(t.a);
}

/* Error pages replace the body; a template bug is the 500 page with
 * nothing of the template, the body or the reason in it. */
static void test_errors(void **state)
{
	static const char *const f[] = { "a", "secret-value", NULL };
	struct rq t = { .a = arena_new(0) };
	const char *b;
	(void)state;

	request(&t, "/clients/9");
	t.in.user = &owner;
	page_add(&t.out, "<p>{{a}}</p>", f);
	page_not_found(&t.out);
	b = render(&t);
	assert_int_equal(t.res.status, 404);
	has(b, "<title>Page not found - ringfence</title>");
	has(b, "<h1>Page not found</h1>");
	lacks(b, "secret-value");
	has(b, "<nav"); /* still the logged-in shell */

	request(&t, "/clients/9");
	t.in.user = &owner;
	page_add(&t.out, "<p>{{a}}</p>", f);
	page_add(&t.out, "<p>{{missing}} SELECT * FROM clients</p>", f);
	page_add(&t.out, "<p>{{a}}</p>", f); /* ignored after the failure */
	b = render(&t);
	assert_int_equal(t.res.status, 500);
	has(b, "Something went wrong");
	lacks(b, "secret-value");
	lacks(b, "SELECT");
	lacks(b, "missing");
	has(buf_str(&t.res.headers), "Content-Security-Policy: ");

	request(&t, "/x");
	page_error(&t.out, 422, "Please check the form", "Phone: a <number> please");
	render(&t);
	assert_int_equal(t.res.status, 422);
	has(buf_str(&t.res.body), "Phone: a &lt;number&gt; please");

	request(&t, "/x");
	page_unavailable(&t.out);
	render(&t);
	assert_int_equal(t.res.status, 503);
	has(buf_str(&t.res.body), "nothing was changed");

	/* The catch-all's handler. */
	request(&t, "/nowhere");
	page_not_found_handle(&app, &t.in, &t.out);
	render(&t);
	assert_int_equal(t.res.status, 404);
	arena_free(t.a);
}

/* Every notice code is unique and has words; the table ends in NULL. */
static void test_notices(void **state)
{
	size_t n = 0;
	(void)state;
	for (; page_notices[n].code; n++) {
		assert_true(strlen(page_notices[n].text) > 3);
		assert_ptr_equal(page_notice_text(page_notices[n].code), page_notices[n].text);
		for (size_t j = 0; j < n; j++)
			if (strcmp(page_notices[j].code, page_notices[n].code) == 0)
				fail_msg("notice %s twice", page_notices[n].code);
	}
	assert_true(n >= 6);
	assert_non_null(page_notice_text("password_changed"));
	assert_null(page_notice_text("nope"));
	assert_null(page_notice_text(NULL));
}

static void test_times(void **state)
{
	struct arena *a = arena_new(0);
	long long t = 1796758200; /* 2026-12-08T19:30:00Z */
	(void)state;

	assert_string_equal(page_time(a, t, "America/New_York"), "Tue 8 Dec 2026, 14:30");
	assert_string_equal(page_time(a, t, "Europe/Berlin"), "Tue 8 Dec 2026, 20:30");
	assert_string_equal(page_time(a, t, "Asia/Tokyo"), "Wed 9 Dec 2026, 04:30");
	assert_string_equal(page_time(a, t, "UTC"), "Tue 8 Dec 2026, 19:30");
	assert_string_equal(page_time_input(a, t, "America/New_York"), "2026-12-08T14:30");
	assert_string_equal(page_time_input(a, t, "Australia/Adelaide"), "2026-12-09T06:00");
	/* Not a zone name: UTC, never a file. */
	assert_string_equal(page_time(a, t, "../../etc/passwd"), "Tue 8 Dec 2026, 19:30");
	assert_string_equal(page_time(a, t, "/etc/localtime"), "Tue 8 Dec 2026, 19:30");
	assert_string_equal(page_time(a, t, NULL), "Tue 8 Dec 2026, 19:30");
	assert_string_equal(page_time(a, t, ""), "Tue 8 Dec 2026, 19:30");
	/* The process's own zone is left as it was. */
	setenv("TZ", "Asia/Kolkata", 1);
	(void)page_time(a, t, "America/New_York");
	assert_string_equal(getenv("TZ"), "Asia/Kolkata");
	unsetenv("TZ");
	(void)page_time(a, t, "America/New_York");
	assert_null(getenv("TZ"));
	arena_free(a);
}

/* Reads path into a malloc'd buffer; *len gets its size. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *s = malloc(1 << 20);
	if (f == NULL)
		fail_msg("cannot open %s", path);
	*len = fread(s, 1, 1 << 20, f);
	fclose(f);
	return s;
}

/* The served files are src/www/ byte for byte, with a hash that the
 * shell's links carry. */
static void test_static(void **state)
{
	static const char *const names[] = { "app.css", "app.js" };
	struct arena *a = arena_new(0);
	(void)state;

	assert_false(page_static_name("app.cs", 6));
	assert_false(page_static_name("../Makefile", 11));
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		struct rq t = { .a = a }, pg = { .a = a };
		size_t len;
		char *file = slurp(arena_printf(a, "src/www/%s", names[i]), &len);
		char link[64];
		assert_true(page_static_name(names[i], strlen(names[i])));
		request(&t, "/static/x");
		t.in.param = names[i];
		page_static_handle(&app, &t.in, &t.out);
		assert_non_null(t.out.asset_type);
		assert_int_equal(t.out.page_body.len, len);
		assert_memory_equal(t.out.page_body.data, file, len);
		assert_int_equal(strlen(t.out.asset_etag), 18);
		/* The page links to ?v=<the ETag's hash>. */
		request(&pg, "/x");
		snprintf(link, sizeof(link), "/static/%s?v=%.16s\"", names[i], t.out.asset_etag + 1);
		has(render(&pg), link);
		free(file);
	}
	arena_free(a);
}

/* The unsubscribe page's shell: the handler's template and fields. */
static void test_plain(void **state)
{
	static const char *const f[] = { "who", "<b>", NULL };
	struct rq t = { .a = arena_new(0) };
	(void)state;

	request(&t, "/unsubscribe");
	t.out.page_title = "Done";
	t.out.page_tmpl = "<h1>Bye {{who}}</h1>";
	t.out.page_fields = f;
	assert_int_equal(page_render_plain(&t.out, &t.res), 0);
	has(buf_str(&t.res.body), "<title>Done - ringfence</title>");
	has(buf_str(&t.res.body), "<h1>Bye &lt;b&gt;</h1>");
	t.out.page_tmpl = "<h1>{{nope}}</h1>";
	assert_int_equal(page_render_plain(&t.out, &t.res), -1);
	t.out.page_tmpl = NULL;
	assert_int_equal(page_render_plain(&t.out, &t.res), -1);
	page_headers(&t.res, "no-referrer");
	has(buf_str(&t.res.headers), "Referrer-Policy: no-referrer\r\n");
	arena_free(t.a);
}

/* ---- forms and uploads through the dispatcher ----------------------------------- */

static int up_calls;
static char up_seen[256];

enum { UP_KIND, UP_FILE, UP_N };
static const struct valid_field up_fields[UP_N] = {
	[UP_KIND] = { "kind", valid_state_name, 1, VALID_TEXT },
	[UP_FILE] = { "file", valid_any, 0, VALID_TEXT },
};

static void up_handle(struct app *a, const struct route_input *in, struct outcome *out)
{
	(void)a;
	up_calls++;
	snprintf(up_seen, sizeof(up_seen), "%s|%zu|%s", in->form.v[UP_KIND].s,
		in->form.v[UP_FILE].len, in->form_all && form_get(in->form_all, "file.filename") ? form_get(in->form_all, "file.filename") : "-");
	page_redirect(out, "/done?notice=imported");
}

static const struct route up_table[] = {
	{ "POST", "/up", NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_PAGE, ROUTE_BODY_MULTIPART,
		1024, up_fields, UP_N, NULL, 0, 0, up_handle, NULL, 0 },
	{ "POST", "/form", NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_PAGE, ROUTE_BODY_FORM,
		0, up_fields, UP_N, NULL, 0, 0, up_handle, NULL, 0 },
};

#define UP_CT "multipart/form-data; boundary=B"
#define UP_PART(n, v) "--B\r\nContent-Disposition: form-data; name=\"" n "\"\r\n\r\n" v "\r\n"
#define UP_FILEPART(v) "--B\r\nContent-Disposition: form-data; name=\"file\"; " \
	"filename=\"c.csv\"\r\nContent-Type: text/csv\r\n\r\n" v "\r\n"

/* The dispatcher parses a multipart body (or a form) into the route's
 * fields: the handler gets them typed; a malformed body is a 400 page, a
 * missing or invalid field a 422 page, a body over the route's cap a
 * 413 page, and none of them reaches the handler. */
static void test_dispatch_bodies(void **state)
{
	static char over[2048];
	static const struct {
		const char *path, *ct, *body;
		int status, called;
		const char *seen, *text;
	} cases[] = {
		{ "/up", UP_CT, UP_PART("kind", "clients") UP_FILEPART("a,b\r\n1,2") "--B--\r\n",
			303, 1, "clients|8|c.csv", NULL },
		{ "/up", UP_CT, UP_PART("kind", "clients") "--B--\r\n", 303, 1, "clients|0|-",
			NULL },
		{ "/up", UP_CT, UP_PART("kind", "clients") "--B\r\nbroken", 400, 0, NULL,
			"the upload is malformed" },
		{ "/up", "multipart/form-data", UP_PART("kind", "x") "--B--\r\n", 400, 0, NULL,
			"not multipart/form-data with a boundary" },
		{ "/up", "text/plain", "kind=x", 400, 0, NULL, "This form could not be read" },
		{ "/up", UP_CT, UP_FILEPART("x") "--B--\r\n", 422, 0, NULL, "kind" },
		{ "/up", UP_CT, UP_PART("kind", "Not A State") "--B--\r\n", 422, 0, NULL, "kind" },
		{ "/up", UP_CT, over, 413, 0, NULL, "larger than the 1 KiB" },
		{ "/form", "application/x-www-form-urlencoded", "kind=ok&file=abc", 303, 1,
			"ok|3|-", NULL },
		{ "/form", "application/x-www-form-urlencoded", "kind=ok&file=%zz", 400, 0, NULL,
			"the form is malformed" },
		{ "/form", UP_CT, UP_PART("kind", "ok") "--B--\r\n", 400, 0, NULL,
			"the form was not sent as a form" },
	};
	(void)state;

	memset(over, 'x', sizeof(over) - 1);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct rq t = { .a = arena_new(0) };
		request(&t, cases[i].path);
		t.req.method = "POST";
		t.req.content_type = cases[i].ct;
		t.req.body = cases[i].body;
		t.req.body_len = strlen(cases[i].body);
		up_calls = 0;
		up_seen[0] = '\0';
		dispatch(&app, up_table, ARRAY_LEN(up_table), &t.req, &t.res);
		if (t.res.status != cases[i].status || up_calls != cases[i].called)
			fail_msg("case %zu: %d, called %d: %s", i, t.res.status, up_calls,
				buf_str(&t.res.body));
		if (cases[i].seen && strcmp(up_seen, cases[i].seen) != 0)
			fail_msg("case %zu: the handler saw %s", i, up_seen);
		if (cases[i].text)
			has(buf_str(&t.res.body), cases[i].text);
		if (t.res.status != 303)
			has(buf_str(&t.res.headers), "Content-Security-Policy: ");
		arena_free(t.a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_path),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_shell_user),
		cmocka_unit_test(test_shell_operator),
		cmocka_unit_test(test_shell_plain),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_notices),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_static),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_dispatch_bodies),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

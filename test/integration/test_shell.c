/* Group "shell": the dashboard's shell over HTTP through nginx: the
 * headers of every kind of HTML answer, the 404 page for unknown paths,
 * no open redirect, the static files, body limits (nginx's and
 * ringfence's), a malformed form, and the failsafe banner: tripped with
 * `ringfence failsafe trip`, resumed from the page by an operator.
 *
 * The failsafe is global: every test that trips it resumes it, and the
 * group's teardown re-arms it whatever happened. */
#include "harness.h"
#include "dash_client.h"
#include "groups.h"
#include "page.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>

static const char want_csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
	"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
	"object-src 'none'";

/* Fails unless hay holds needle. */
static void has(const char *what, const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("%s: lacks '%s' in:\n%.600s", what, needle, hay);
}

static void lacks(const char *what, const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		fail_msg("%s: has '%s' in:\n%.600s", what, needle, hay);
}

/* The headers every HTML answer carries; referrer: its Referrer-Policy. */
static void html_headers_or_fail(const char *what, const struct dc_response *r,
	const char *referrer)
{
	char v[256];

	if (strncmp(r->content_type, "text/html", 9) != 0)
		fail_msg("%s: Content-Type %s", what, r->content_type);
	if (strcmp(r->csp, want_csp) != 0)
		fail_msg("%s: Content-Security-Policy '%s'", what, r->csp);
	if (!dc_header(r, "X-Content-Type-Options", v, sizeof(v)) || strcmp(v, "nosniff") != 0)
		fail_msg("%s: no X-Content-Type-Options: nosniff", what);
	if (!dc_header(r, "X-Frame-Options", v, sizeof(v)) || strcmp(v, "DENY") != 0)
		fail_msg("%s: no X-Frame-Options: DENY", what);
	if (!dc_header(r, "Referrer-Policy", v, sizeof(v)) || strcmp(v, referrer) != 0)
		fail_msg("%s: Referrer-Policy is not %s", what, referrer);
	if (!dc_header(r, "Cache-Control", v, sizeof(v)) || strcmp(v, "no-store") != 0)
		fail_msg("%s: Cache-Control is not no-store", what);
}

/* Nothing internal in an error page: no SQL, no file path, no trace. */
static void nothing_internal_or_fail(const char *what, const char *body)
{
	static const char *const words[] = { "SELECT", "INSERT", "UPDATE ", "ERROR:", "src/",
		".c:", "/tmp/", "/work/", "PGRES", "libpq", "Traceback", "sqlstate" };
	for (size_t i = 0; i < ARRAY_LEN(words); i++)
		lacks(what, body, words[i]);
}

/* GET path with c (a new anonymous client when c is NULL) into r,
 * failing the test on a transport error. */
static void get_or_fail(struct dc *c, const char *path, struct dc_response *r)
{
	struct dc *own = c ? NULL : dc_new();

	if (dc_get(c ? c : own, path, r) != 0)
		fail_msg("GET %s: %s", path, r->error);
	if (own)
		dc_free(own);
}

/* `ringfence failsafe <args...>` (NULL-terminated): its exit status. */
static int ringfence_failsafe(const char *const *args)
{
	const char *bin = hx_ringfence_bin("shell");
	const char *argv[12] = { NULL, "failsafe" };
	pid_t pid;
	int n = 2;

	if (bin == NULL)
		fail_msg("no ringfence binary");
	argv[0] = bin;
	for (int i = 0; args[i] && n < 11; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return hx_wait_child(pid, 30);
}

/* 1 when the failsafe is tripped. */
static int tripped(void)
{
	return hx_db_int_or_fail("SELECT count(*) FROM failsafe_state WHERE tripped", 0, NULL) > 0;
}

/* Re-arms the failsafe if a test left it tripped. */
static void rearm(void)
{
	static const char *const args[] = { "resume", "--reason", "test_shell clean-up", "--by",
		"test_shell", NULL };
	if (tripped() && ringfence_failsafe(args) != 0)
		fail_msg("ringfence failsafe resume failed");
}

static int shell_setup(void **state)
{
	if (hx_group_setup(state) != 0)
		return -1;
	dc_throttle_reset_or_fail();
	rearm();
	return 0;
}

static int shell_teardown(void **state)
{
	rearm();
	return hx_group_teardown(state);
}

/* ---- headers and error pages ---------------------------------------------------- */

/* Every kind of HTML answer: the 404 page before login, the login page,
 * a logged-in page, the 404 page after login, a 403 (no CSRF token),
 * a refused form, the unsubscribe page; and a redirect is no page. */
static void test_headers(void **state)
{
	struct dc_account acc;
	struct dc *c;
	struct dc_response r;
	(void)state;

	get_or_fail(NULL, "/no/such/page", &r);
	assert_int_equal(r.status, 404);
	html_headers_or_fail("404 before login", &r, "same-origin");
	dc_response_free(&r);

	get_or_fail(NULL, "/login", &r);
	assert_int_equal(r.status, 200);
	html_headers_or_fail("the login page", &r, "same-origin");
	dc_response_free(&r);

	dc_account_or_fail(&acc, "owner", NULL);
	c = dc_login_or_fail(acc.email, acc.password);
	get_or_fail(c, "/settings/sessions", &r);
	assert_int_equal(r.status, 200);
	html_headers_or_fail("a logged-in page", &r, "same-origin");
	has("a logged-in page", buf_str(&r.body), "<link rel=\"stylesheet\" href=\"/static/app.css?v=");
	has("a logged-in page", buf_str(&r.body), "action=\"/logout\"");
	dc_response_free(&r);

	get_or_fail(c, "/settings/no-such-thing", &r);
	assert_int_equal(r.status, 404);
	html_headers_or_fail("404 after login", &r, "same-origin");
	dc_response_free(&r);

	assert_int_equal(dc_post_form(c, "/operator/failsafe", &r, "csrf", NULL, "action", "trip",
				 "reason", "x", NULL), 0);
	assert_int_equal(r.status, 403);
	html_headers_or_fail("403 without a CSRF token", &r, "same-origin");
	dc_response_free(&r);

	get_or_fail(NULL, "/unsubscribe?t=0", &r);
	assert_true(r.status >= 400 && r.status < 500);
	html_headers_or_fail("the unsubscribe page", &r, "no-referrer");
	dc_response_free(&r);

	/* A 303 carries no page. */
	get_or_fail(NULL, "/operator/failsafe", &r);
	assert_int_equal(r.status, 303);
	assert_int_equal(strncmp(r.location, "/login", 6), 0);
	dc_response_free(&r);
	dc_free(c);
}

/* Unknown paths get the product's 404 page, before and after login,
 * whatever the method; the operator's page is a 404 for an owner; the
 * other kinds of routes keep their own answers. */
static void test_not_found(void **state)
{
	static const char *const paths[] = { "/nowhere", "/clients/../../etc/passwd",
		"/static/other.css", "/static/", "/%3Cscript%3E", "/a/b/c?x=1" };
	struct dc_account acc;
	struct dc *c;
	struct dc_response r;
	struct hx_response h;
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		get_or_fail(NULL, paths[i], &r);
		if (r.status != 404)
			fail_msg("GET %s: %ld", paths[i], r.status);
		has(paths[i], buf_str(&r.body), "<h1>Page not found</h1>");
		has(paths[i], buf_str(&r.body), "<a class=\"btn\" href=\"/\">");
		lacks(paths[i], buf_str(&r.body), "<script>");
		nothing_internal_or_fail(paths[i], buf_str(&r.body));
		dc_response_free(&r);
	}
	dc_account_or_fail(&acc, "owner", NULL);
	c = dc_login_or_fail(acc.email, acc.password);
	get_or_fail(c, "/operator/failsafe", &r);
	assert_int_equal(r.status, 404);
	has("an owner at the failsafe page", buf_str(&r.body), "<h1>Page not found</h1>");
	dc_response_free(&r);
	assert_int_equal(dc_post_form(c, "/nowhere", &r, "a", "1", NULL), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	dc_free(c);

	/* /twilio/ and /api/v1/ answer in their own kinds. */
	assert_int_equal(hx_get("/twilio/unknown", &h), 0);
	assert_int_equal(h.status, 403);
	hx_response_free(&h);
	assert_int_equal(hx_get("/api/v1/nothing", &h), 0);
	assert_int_equal(h.status, 401);
	assert_int_equal(strncmp(h.content_type, "application/json", 16), 0);
	hx_response_free(&h);
}

/* No redirect leaves the site: logging in with a foreign next, and the
 * redirects of the failsafe form, go to local paths only; a notice code
 * from the URL is never reflected. */
static void test_no_open_redirect(void **state)
{
	static const char *const nexts[] = { "//evil.example/", "/\\evil.example",
		"https://evil.example/", "/%2F%2Fevil.example", "javascript:alert(1)" };
	struct dc_account acc;
	struct dc *c;
	struct dc_response r;
	(void)state;

	dc_account_or_fail(&acc, "owner", NULL);
	for (size_t i = 0; i < ARRAY_LEN(nexts); i++) {
		c = dc_new();
		get_or_fail(c, "/login", &r);
		dc_response_free(&r);
		assert_int_equal(dc_post_form(c, "/login", &r, "email", acc.email, "password",
					 acc.password, "next", nexts[i], NULL), 0);
		if (r.status == 303 && !page_local_path(r.location))
			fail_msg("next %s: redirected to %s", nexts[i], r.location);
		dc_response_free(&r);
		dc_free(c);
	}
	get_or_fail(NULL, "/operator/failsafe?next=//evil.example", &r);
	assert_int_equal(r.status, 303);
	if (!page_local_path(r.location))
		fail_msg("the login redirect goes to %s", r.location);
	dc_response_free(&r);

	c = dc_login_or_fail(acc.email, acc.password);
	get_or_fail(c, "/settings/sessions?notice=%3Cscript%3Ealert(1)%3C/script%3E", &r);
	assert_int_equal(r.status, 200);
	lacks("an unknown notice", buf_str(&r.body), "alert(1)");
	lacks("an unknown notice", buf_str(&r.body), "class=\"notice\"");
	dc_response_free(&r);
	dc_free(c);
}

/* The stylesheet and script: the bytes of src/www/, cacheable for a
 * year under the hash the pages link to. */
static void test_static(void **state)
{
	static const char *const names[] = { "app.css", "app.js" };
	struct dc_response page;
	(void)state;

	get_or_fail(NULL, "/login", &page);
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		struct dc_response r;
		char path[64], cc[128], etag[64], link[96];
		FILE *f;
		char *file = malloc(1 << 20);
		size_t len;
		snprintf(path, sizeof(path), "src/www/%s", names[i]);
		f = fopen(path, "rb");
		if (f == NULL)
			fail_msg("cannot read %s (run from the repository)", path);
		len = fread(file, 1, 1 << 20, f);
		fclose(f);
		snprintf(path, sizeof(path), "/static/%s", names[i]);
		get_or_fail(NULL, path, &r);
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body.len, len);
		assert_memory_equal(r.body.data, file, len);
		assert_true(dc_header(&r, "Cache-Control", cc, sizeof(cc)));
		has(path, cc, "max-age=31536000");
		assert_true(dc_header(&r, "ETag", etag, sizeof(etag)));
		assert_int_equal(strlen(etag), 18);
		snprintf(link, sizeof(link), "%s?v=%.16s\"", path, etag + 1);
		has("the login page's links", buf_str(&page.body), link);
		has(path, r.content_type, i == 0 ? "text/css" : "javascript");
		dc_response_free(&r);
		free(file);
	}
	dc_response_free(&page);
}

/* Body limits: nginx stops a dashboard form over 64 KiB and an upload
 * over 2 MiB with the HTML 413 page (the dashboard's headers); an
 * upload under 2 MiB reaches ringfence.  A malformed form is a 400 page
 * and changes nothing. */
static void test_body_limits(void **state)
{
	size_t big = 70 * 1024, huge = 2 * 1024 * 1024 + 4096, upload = 1536 * 1024;
	char *bytes = malloc(huge);
	struct dc_account acc;
	struct dc *c, *op;
	struct dc_response r;
	(void)state;

	memset(bytes, 'a', huge);
	bytes[huge - 1] = '\0';
	dc_account_or_fail(&acc, "operator", NULL);
	op = dc_login_or_fail(acc.email, acc.password);
	get_or_fail(op, "/operator/failsafe", &r);
	assert_int_equal(r.status, 200);
	dc_response_free(&r);
	bytes[big] = '\0';
	assert_int_equal(dc_post_form(op, "/operator/failsafe", &r, "action", "trip", "reason",
				 bytes, NULL), 0);
	assert_int_equal(r.status, 413);
	html_headers_or_fail("nginx's 413", &r, "same-origin");
	has("nginx's 413", buf_str(&r.body), "nothing was changed");
	dc_response_free(&r);
	assert_false(tripped());

	c = dc_new();
	bytes[huge - 1] = 'a';
	assert_int_equal(dc_post_multipart(c, "/import", "file", "big.csv", bytes, huge, &r,
				 "csrf", "x", NULL), 0);
	assert_int_equal(r.status, 413);
	html_headers_or_fail("an upload over 2 MiB", &r, "same-origin");
	dc_response_free(&r);
	assert_int_equal(dc_post_multipart(c, "/import", "file", "ok.csv", bytes, upload, &r,
				 "csrf", "x", NULL), 0);
	/* ringfence's own answer (no session here), not nginx's 413. */
	assert_int_not_equal(r.status, 413);
	assert_true(r.status >= 300);
	html_headers_or_fail("an upload under 2 MiB", &r, "same-origin");
	dc_response_free(&r);
	dc_free(c);

	/* A malformed form (a value that is not UTF-8): 400, nothing tripped. */
	assert_int_equal(dc_post_form(op, "/operator/failsafe", &r, "action", "trip", "reason",
				 "ok", "bad\xff", "x", NULL), 0);
	assert_int_equal(r.status, 400);
	html_headers_or_fail("a malformed form", &r, "same-origin");
	has("a malformed form", buf_str(&r.body), "Nothing was changed");
	dc_response_free(&r);
	assert_false(tripped());
	dc_free(op);
	free(bytes);
}

/* ---- the failsafe --------------------------------------------------------------- */

/* Tripped from the CLI: every logged-in page shows the banner (the
 * reason only to an operator); the operator's page shows it with its
 * history; an empty reason is refused with 422 and changes nothing; an
 * owner cannot resume; the operator resumes with a reason (recorded as
 * the CLI records it) and the banner is gone. */
static void test_failsafe_banner(void **state)
{
	static const char *const trip[] = { "trip", "--reason", "test_shell: <b>volume</b> spike",
		"--by", "test_shell", NULL };
	struct dc_account own, opa;
	struct dc *c, *op;
	struct dc_response r;
	const char *p[1];
	(void)state;

	rearm();
	dc_account_or_fail(&own, "owner", "America/New_York");
	dc_account_or_fail(&opa, "operator", NULL);
	c = dc_login_or_fail(own.email, own.password);
	op = dc_login_or_fail(opa.email, opa.password);

	get_or_fail(c, "/settings/sessions", &r);
	lacks("armed", buf_str(&r.body), "Outbound messages are paused");
	dc_response_free(&r);

	assert_int_equal(ringfence_failsafe(trip), 0);
	assert_true(tripped());

	get_or_fail(c, "/settings/sessions", &r);
	assert_int_equal(r.status, 200);
	has("the owner's banner", buf_str(&r.body), "class=\"banner\" role=\"alert\"");
	has("the owner's banner", buf_str(&r.body),
		"Outbound messages are paused:</strong> the failsafe tripped at ");
	lacks("the owner's banner", buf_str(&r.body), "volume");
	lacks("the owner's banner", buf_str(&r.body), "/operator/failsafe");
	dc_response_free(&r);
	/* The 404 page of a logged-in user has it too. */
	get_or_fail(c, "/nowhere", &r);
	has("the banner on a 404", buf_str(&r.body), "Outbound messages are paused");
	dc_response_free(&r);

	get_or_fail(op, "/operator/businesses", &r);
	has("the operator's banner", buf_str(&r.body),
		"Reason: test_shell: &lt;b&gt;volume&lt;/b&gt; spike");
	has("the operator's banner", buf_str(&r.body), "href=\"/operator/failsafe\"");
	dc_response_free(&r);

	get_or_fail(op, "/operator/failsafe", &r);
	assert_int_equal(r.status, 200);
	has("the failsafe page", buf_str(&r.body), "badge badge-bad\">Paused");
	has("the failsafe page", buf_str(&r.body), "<dd>test_shell</dd>");
	has("the failsafe page", buf_str(&r.body), "value=\"resume\"");
	has("the failsafe page", buf_str(&r.body), "data-confirm=");
	has("the failsafe page", buf_str(&r.body), "Tripped</span>");
	dc_response_free(&r);

	/* No reason: 422, the form again with the message, still tripped. */
	assert_int_equal(dc_post_form(op, "/operator/failsafe", &r, "action", "resume", "reason",
				 "  \r\n ", NULL), 0);
	assert_int_equal(r.status, 422);
	has("no reason", buf_str(&r.body), "class=\"field-error\"");
	has("no reason", buf_str(&r.body), "Give a reason");
	dc_response_free(&r);
	assert_true(tripped());

	/* An owner: the page does not exist, nothing changes. */
	assert_int_equal(dc_post_form(c, "/operator/failsafe", &r, "action", "resume", "reason",
				 "I want my texts", NULL), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	assert_true(tripped());

	dc_post_see_other_or_fail(op, "/operator/failsafe", "/operator/failsafe?notice=failsafe_resumed",
		"action", "resume", "reason", "checked the\r\nvolume: a real campaign", NULL);
	assert_false(tripped());
	p[0] = opa.email;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM failsafe_events WHERE event = 'resume'"
			 " AND actor = $1 AND reason = 'checked the' || chr(10) || 'volume: a real campaign'",
			 1, p), 1);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM failsafe_state WHERE resumed_by = $1",
			 1, p), 1);

	get_or_fail(op, "/operator/failsafe?notice=failsafe_resumed", &r);
	has("after the resume", buf_str(&r.body), "Outbound messages are running again.");
	has("after the resume", buf_str(&r.body), "badge badge-ok\">Running");
	lacks("after the resume", buf_str(&r.body), "class=\"banner\"");
	dc_response_free(&r);
	get_or_fail(c, "/settings/sessions", &r);
	lacks("the owner after the resume", buf_str(&r.body), "Outbound messages are paused");
	dc_response_free(&r);
	dc_free(c);
	dc_free(op);
}

/* After deploy/restore (a 'restore' deployment event with no
 * 'restore_reconciled' after it) the operator's resume is refused with
 * 409 and the reason, and so is the CLI's; once the reconciliation is
 * recorded both are accepted again. */
static void test_failsafe_resume_after_restore(void **state)
{
	static const char *const trip[] = { "trip", "--reason", "test_shell: restored", "--by",
		"test_shell", NULL };
	static const char *const resume[] = { "resume", "--reason", "test_shell: too early", "--by",
		"test_shell", NULL };
	struct dc_account opa;
	struct dc *op;
	struct dc_response r;
	(void)state;

	rearm();
	dc_account_or_fail(&opa, "operator", NULL);
	op = dc_login_or_fail(opa.email, opa.password);
	assert_int_equal(ringfence_failsafe(trip), 0);
	PQclear(hx_db_exec_or_fail("INSERT INTO deployment_events (kind, actor) VALUES ('restore', 'test_shell')",
		0, NULL));

	assert_int_equal(dc_post_form(op, "/operator/failsafe", &r, "action", "resume", "reason",
				 "looks fine", NULL), 0);
	assert_int_equal(r.status, 409);
	has("resume before the reconciliation", buf_str(&r.body), "ringfence restore-reconcile");
	dc_response_free(&r);
	assert_true(tripped());
	assert_int_not_equal(ringfence_failsafe(resume), 0);
	assert_true(tripped());

	PQclear(hx_db_exec_or_fail("INSERT INTO deployment_events (kind, actor) VALUES"
		" ('restore_reconciled', 'test_shell')", 0, NULL));
	dc_post_see_other_or_fail(op, "/operator/failsafe", "/operator/failsafe?notice=failsafe_resumed",
		"action", "resume", "reason", "reconciled", NULL);
	assert_false(tripped());
	dc_free(op);
}

/* An operator trips it by hand from the page: the same state and event
 * as the CLI's trip; `ringfence failsafe status` then says tripped. */
static void test_failsafe_trip_by_hand(void **state)
{
	static const char *const status[] = { "status", NULL };
	struct dc_account opa;
	struct dc *op;
	struct dc_response r;
	const char *p[1];
	(void)state;

	rearm();
	dc_account_or_fail(&opa, "operator", NULL);
	op = dc_login_or_fail(opa.email, opa.password);
	get_or_fail(op, "/operator/failsafe", &r);
	has("armed", buf_str(&r.body), "value=\"trip\"");
	dc_response_free(&r);
	dc_post_see_other_or_fail(op, "/operator/failsafe", "/operator/failsafe?notice=failsafe_tripped",
		"action", "trip", "reason", "test_shell: by hand", NULL);
	assert_true(tripped());
	p[0] = opa.email;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM failsafe_state WHERE tripped AND"
			 " tripped_by = $1 AND reason = 'test_shell: by hand'", 1, p), 1);
	assert_int_equal(ringfence_failsafe(status), 3);
	rearm();
	assert_false(tripped());
	dc_free(op);
}

int shell_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_no_open_redirect),
		cmocka_unit_test(test_static),
		cmocka_unit_test(test_body_limits),
		cmocka_unit_test(test_failsafe_banner),
		cmocka_unit_test(test_failsafe_trip_by_hand),
		cmocka_unit_test(test_failsafe_resume_after_restore),
	};
	return cmocka_run_group_tests_name("integration: shell", tests, shell_setup,
		shell_teardown);
}

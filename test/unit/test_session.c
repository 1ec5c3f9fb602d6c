/* Unit tests of session.c's pure parts (cookies by environment, the
 * throttle's waits, address keys, CSRF comparison, the local "next"
 * path) and of users.c's roles. */
#include "unit.h"
#include "app.h"
#include "arena.h"
#include "audit.h"
#include "dispatch.h"
#include "http.h"
#include "page.h"
#include "session.h"
#include "users.h"
#include "util.h"

#include <openssl/evp.h>

/* The session cookie and the login form's cookie in each environment:
 * plain names and no Secure in development and test, the __Host- prefix
 * and Secure in staging and production; always HttpOnly, SameSite=Lax,
 * Path=/ and a Max-Age. */
static void test_cookie_by_env(void **state)
{
	struct arena *a = arena_new(1024);
	(void)state;

	assert_string_equal(session_cookie(a, RF_ENV_TEST, 0, "abc", 43200),
		"rf_session=abc; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax");
	assert_string_equal(session_cookie(a, RF_ENV_DEVELOPMENT, 1, "t", 7200),
		"rf_login=t; Path=/; Max-Age=7200; HttpOnly; SameSite=Lax");
	assert_string_equal(session_cookie(a, RF_ENV_PRODUCTION, 0, "abc", 43200),
		"__Host-rf_session=abc; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax; Secure");
	assert_string_equal(session_cookie(a, RF_ENV_STAGING, 1, "t", 7200),
		"__Host-rf_login=t; Path=/; Max-Age=7200; HttpOnly; SameSite=Lax; Secure");
	/* Deleting. */
	assert_string_equal(session_cookie(a, RF_ENV_PRODUCTION, 0, "", 0),
		"__Host-rf_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure");
	assert_int_equal(session_cookie_plain(RF_ENV_TEST), 1);
	assert_int_equal(session_cookie_plain(RF_ENV_DEVELOPMENT), 1);
	assert_int_equal(session_cookie_plain(RF_ENV_STAGING), 0);
	assert_int_equal(session_cookie_plain(RF_ENV_PRODUCTION), 0);
	assert_string_equal(session_cookie_name(RF_ENV_PRODUCTION, 0), SESSION_COOKIE_SECURE);
	assert_string_equal(session_cookie_name(RF_ENV_TEST, 0), SESSION_COOKIE_PLAIN);
	arena_free(a);
}

/* The environment as config_load reads it decides the cookie: an unset
 * RINGFENCE_ENV is development (plain), "production" is Secure. */
static void test_cookie_from_config(void **state)
{
	struct config cfg;
	char err[256];
	const char *url = getenv("RINGFENCE_PUBLIC_URL");
	char *saved = url ? strdup(url) : NULL;
	(void)state;

	/* Production wants an https public URL. */
	setenv("RINGFENCE_PUBLIC_URL", "https://reminders.example.com", 1);
	unsetenv("RINGFENCE_NOW");
	unsetenv("RINGFENCE_ENV");
	assert_int_equal(config_load(&cfg, 0, err, sizeof(err)), 0);
	assert_int_equal(session_cookie_plain(cfg.env), 1);
	setenv("RINGFENCE_ENV", "production", 1);
	/* Formats only: the production refusals (example host, no Twilio
	 * account) are test_config's. */
	assert_int_equal(config_load(&cfg, CFG_FORMAT_ONLY, err, sizeof(err)), 0);
	assert_int_equal(session_cookie_plain(cfg.env), 0);
	setenv("RINGFENCE_ENV", "test", 1);
	assert_int_equal(config_load(&cfg, 0, err, sizeof(err)), 0);
	assert_int_equal(session_cookie_plain(cfg.env), 1);
	if (saved)
		setenv("RINGFENCE_PUBLIC_URL", saved, 1);
	else
		unsetenv("RINGFENCE_PUBLIC_URL");
	free(saved);
}

/* No wait under 5 failures; then 1, 2, 4, 8 minutes since the last
 * failure, then the window; from 20 failures the whole window. */
static void test_throttle_wait(void **state)
{
	(void)state;
	assert_int_equal(session_throttle_wait(0, 0), 0);
	assert_int_equal(session_throttle_wait(SESSION_THROTTLE_SOFT - 1, 0), 0);
	assert_int_equal(session_throttle_wait(SESSION_THROTTLE_SOFT, 0), 60);
	assert_int_equal(session_throttle_wait(SESSION_THROTTLE_SOFT, 59), 1);
	assert_int_equal(session_throttle_wait(SESSION_THROTTLE_SOFT, 60), 0);
	assert_int_equal(session_throttle_wait(SESSION_THROTTLE_SOFT + 1, 0), 120);
	assert_int_equal(session_throttle_wait(SESSION_THROTTLE_SOFT + 2, 10), 230);
	assert_int_equal(session_throttle_wait(SESSION_THROTTLE_SOFT + 3, 0), 480);
	assert_int_equal(session_throttle_wait(SESSION_THROTTLE_SOFT + 4, 0), SESSION_THROTTLE_WINDOW);
	assert_int_equal(session_throttle_wait(SESSION_THROTTLE_LOCK - 1, 0), SESSION_THROTTLE_WINDOW);
	assert_int_equal(session_throttle_wait(SESSION_THROTTLE_LOCK, 0), SESSION_THROTTLE_WINDOW);
	assert_int_equal(session_throttle_wait(SESSION_THROTTLE_LOCK, 300), SESSION_THROTTLE_WINDOW - 300);
	assert_int_equal(session_throttle_wait(1000, SESSION_THROTTLE_WINDOW), 0);
	/* A clock step backwards never makes a negative "since". */
	assert_int_equal(session_throttle_wait(SESSION_THROTTLE_SOFT, -5), 60);
}

/* IPv4 as it is; IPv6 by its /64; IPv4-mapped IPv6 as IPv4; anything
 * else one shared key. */
static void test_address_key(void **state)
{
	char k[64];
	(void)state;

	session_address_key("192.0.2.7", k);
	assert_string_equal(k, "addr:192.0.2.7");
	session_address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k);
	assert_string_equal(k, "addr:2001:db8:1:2::/64");
	session_address_key("2001:db8:1:2::1", k);
	assert_string_equal(k, "addr:2001:db8:1:2::/64");
	session_address_key("2001:db8:1:3::1", k);
	assert_string_equal(k, "addr:2001:db8:1:3::/64");
	session_address_key("::ffff:192.0.2.9", k);
	assert_string_equal(k, "addr:192.0.2.9");
	session_address_key("not an address", k);
	assert_string_equal(k, "addr:other");
	session_address_key(NULL, k);
	assert_string_equal(k, "addr:other");
}

/* The CSRF comparison: exactly the session's 64 hex digits. */
static void test_csrf_ok(void **state)
{
	const char *t = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	(void)state;

	assert_int_equal(session_csrf_ok(t, t), 1);
	assert_int_equal(session_csrf_ok(t, NULL), 0);
	assert_int_equal(session_csrf_ok(t, ""), 0);
	assert_int_equal(session_csrf_ok(t,
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdee"), 0);
	assert_int_equal(session_csrf_ok(t,
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"), 0);
	/* No token on the session side never matches, not even an empty form. */
	assert_int_equal(session_csrf_ok(NULL, ""), 0);
	assert_int_equal(session_csrf_ok("", ""), 0);
	assert_int_equal(session_csrf_ok("abc", "abc"), 0);
}

/* "next" is a local path only: never another site. */
static void test_valid_next(void **state)
{
	static const char *const ok[] = { "/", "/today", "/appointments/12?tab=timeline",
		"/clients?q=a%20b" };
	static const char *const bad[] = { "", "today", "//evil.example/", "/\\evil.example",
		"https://evil.example/", "/a b", "/a\nb", "/\\", "javascript:alert(1)",
		/* Not printable ASCII: page_redirect would refuse it after the
		 * login succeeded (the 500 page with a new session). */
		"/\xe2\x80\xae", "/caf\xc3\xa9", "/a\x7f", "/\xff" };
	char longp[600];
	(void)state;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(session_valid_next(ok[i], strlen(ok[i])), 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(session_valid_next(bad[i], strlen(bad[i])), 0);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(session_valid_next(longp, strlen(longp)), 0);
}

/* Roles: owner, staff and operator, nothing else. */
static void test_roles(void **state)
{
	char err[256];
	(void)state;

	assert_int_equal(users_valid_role("owner"), 1);
	assert_int_equal(users_valid_role("staff"), 1);
	assert_int_equal(users_valid_role("operator"), 1);
	assert_int_equal(users_valid_role("admin"), 0);
	assert_int_equal(users_valid_role("Operator"), 0);
	assert_int_equal(users_valid_role(""), 0);
	assert_int_equal(users_valid_role(NULL), 0);
	/* Refused before the database is asked (no connection needed). */
	assert_int_equal(users_add_role(NULL, 1, "a@example.com", "long enough pw", "root", err,
				 sizeof(err)), -1);
	assert_non_null(strstr(err, "owner, staff or operator"));
}

/* ---- the dispatcher's session gate, against PostgreSQL ---------------------- */

static int gate_calls;
static long long gate_user, gate_business;

/* A page that records who asked. */
static void gate_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	gate_calls++;
	gate_user = in->user ? in->user->user_id : 0;
	gate_business = in->business_id;
	page_begin(out, "Gate", NULL);
	page_text(out, "ok");
}

static const struct valid_field gate_fields[] = {
	{ "file", valid_any, 1, VALID_TEXT },
};

static const struct route gate_table[] = {
	{ "GET", "/gate", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE, ROUTE_BODY_NONE,
		0, NULL, 0, NULL, 0, 0, gate_handle, NULL, 0 },
	{ "POST", "/gate", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE, ROUTE_BODY_FORM,
		0, NULL, 0, NULL, 0, 0, gate_handle, NULL, 0 },
	{ "POST", "/upload", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_MULTIPART, 0, gate_fields, 1, NULL, 0, 0, gate_handle, NULL, 0 },
};

/* Dispatches method uri with cookie (or NULL), content type and body
 * through gate_table into res. */
static void gate_run(struct app *app, struct arena *a, const char *method, const char *uri,
	const char *cookie, const char *ct, const char *body, struct http_response *res)
{
	struct http_request req;

	unit_request(&req, a, method, uri);
	req.content_type = ct ? ct : "";
	req.remote_addr = "192.0.2.1";
	req.user_agent = "unit";
	req.cookie = cookie;
	req.body = body ? body : "";
	req.body_len = strlen(req.body);
	req.content_length = (long long)req.body_len;
	http_response_init(res, a);
	gate_calls = 0;
	dispatch(app, gate_table, ARRAY_LEN(gate_table), &req, res);
}

/* A multipart body: a "csrf" part (unless csrf is NULL) and a file. */
static const char *upload_body(struct arena *a, const char *csrf)
{
	const char *file = "--XyZ\r\nContent-Disposition: form-data; name=\"file\";"
		" filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\nname,phone\r\n--XyZ--\r\n";
	if (csrf == NULL)
		return file;
	return arena_printf(a, "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n"
		"%s\r\n%s", csrf, file);
}

/* The dispatcher's gate with a real session row: no cookie (GET: 303 to
 * /login with the path to return to; POST: 403), a valid session (the
 * handler sees the user and business), and on POST the CSRF token of a
 * urlencoded form and of a multipart upload: missing or wrong, 403 and
 * the handler is never called. */
static void test_gate(void **state)
{
	static const char csrf[] = "aaaabbbbccccddddaaaabbbbccccddddaaaabbbbccccddddaaaabbbbccccdddd";
	static const char mp[] = "multipart/form-data; boundary=XyZ";
	static const char form[] = "application/x-www-form-urlencoded";
	struct app app;
	struct arena *a = arena_new(0);
	struct http_response res;
	char token[65], hash[65], email[64], rnd[9], err[256], bid[24], uid[24];
	unsigned char raw[32], md[32];
	unsigned int mdlen = 0;
	const char *cookie, *p[4];
	PGresult *r;
	long long business, user;
	(void)state;

	memset(&app, 0, sizeof(app));
	app.cfg.env = RF_ENV_TEST;
	app.db = unit_db();
	app.rds = rds_open(unit_redis_url());
	app.audit = audit_open(app.rds, NULL);
	business = unit_business(app.db, "gate unit test");
	assert_int_equal(users_random_password(rnd, 8), 0);
	snprintf(email, sizeof(email), "gate-%s@example.test", rnd);
	user = users_add(app.db, business, email, "long enough pw", err, sizeof(err));
	assert_true(user > 0);
	assert_int_equal(util_random(raw, sizeof(raw)), 0);
	util_hex(raw, sizeof(raw), token);
	assert_int_equal(EVP_Digest(token, 64, md, &mdlen, EVP_sha256(), NULL), 1);
	util_hex(md, sizeof(md), hash);
	snprintf(uid, sizeof(uid), "%lld", user);
	snprintf(bid, sizeof(bid), "%lld", business);
	p[0] = hash;
	p[1] = uid;
	p[2] = csrf;
	r = db_exec(app.db, "INSERT INTO sessions (token_sha256, user_id, csrf_token, expires_at)"
		" VALUES ($1, $2::bigint, $3, now() + interval '1 hour')", 3, p);
	assert_non_null(r);
	PQclear(r);
	cookie = arena_printf(a, "other=1; %s=%s", SESSION_COOKIE_PLAIN, token);

	/* No session. */
	gate_run(&app, a, "GET", "/gate?a=1", NULL, NULL, NULL, &res);
	assert_int_equal(res.status, 303);
	assert_non_null(strstr(buf_str(&res.headers), "Location: /login?next=%2Fgate%3Fa%3D1\r\n"));
	assert_int_equal(gate_calls, 0);
	gate_run(&app, a, "POST", "/gate", "rf_session=nonsense", form,
		arena_printf(a, "csrf=%s", csrf), &res);
	assert_int_equal(res.status, 403);
	assert_int_equal(gate_calls, 0);
	/* A session: its user and business. */
	gate_run(&app, a, "GET", "/gate", cookie, NULL, NULL, &res);
	assert_int_equal(res.status, 200);
	assert_int_equal(gate_calls, 1);
	assert_int_equal(gate_user, user);
	assert_int_equal(gate_business, business);
	/* A form: the token decides. */
	gate_run(&app, a, "POST", "/gate", cookie, form, arena_printf(a, "csrf=%s", csrf), &res);
	assert_int_equal(res.status, 200);
	assert_int_equal(gate_calls, 1);
	gate_run(&app, a, "POST", "/gate", cookie, form, "x=1", &res);
	assert_int_equal(res.status, 403);
	assert_non_null(strstr(buf_str(&res.body), "This form has expired or did not come from ringfence"));
	assert_int_equal(gate_calls, 0);
	gate_run(&app, a, "POST", "/gate", cookie, form,
		"csrf=aaaabbbbccccddddaaaabbbbccccddddaaaabbbbccccddddaaaabbbbccccddde", &res);
	assert_int_equal(res.status, 403);
	assert_int_equal(gate_calls, 0);
	/* An upload: the token is read from its parts. */
	gate_run(&app, a, "POST", "/upload", cookie, mp, upload_body(a, csrf), &res);
	assert_int_equal(res.status, 200);
	assert_int_equal(gate_calls, 1);
	gate_run(&app, a, "POST", "/upload", cookie, mp, upload_body(a, NULL), &res);
	assert_int_equal(res.status, 403);
	assert_int_equal(gate_calls, 0);
	gate_run(&app, a, "POST", "/upload", cookie, mp, upload_body(a, "0123"), &res);
	assert_int_equal(res.status, 403);
	assert_int_equal(gate_calls, 0);
	/* Revoked: the same as none. */
	r = db_exec(app.db, "UPDATE sessions SET revoked_at = now() WHERE token_sha256 = $1", 1, p);
	assert_non_null(r);
	PQclear(r);
	gate_run(&app, a, "POST", "/upload", cookie, mp, upload_body(a, csrf), &res);
	assert_int_equal(res.status, 403);
	assert_int_equal(gate_calls, 0);

	audit_close(app.audit);
	rds_close(app.rds);
	db_close(app.db);
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie_by_env),
		cmocka_unit_test(test_cookie_from_config),
		cmocka_unit_test(test_throttle_wait),
		cmocka_unit_test(test_address_key),
		cmocka_unit_test(test_csrf_ok),
		cmocka_unit_test(test_valid_next),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_gate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Group "session": dashboard logins, sessions, CSRF and the login
 * throttle, over HTTP through nginx (dash_client.h), checked against
 * PostgreSQL and Redis. */
#include "harness.h"
#include "audit.h"
#include "dash_client.h"
#include "groups.h"
#include "session.h"
#include "util.h"

#include <sys/wait.h>

static const char csrf_refused[] = "This form has expired or did not come from ringfence";

/* The login form's token and cookie for a new client c. */
static void login_form_or_fail(struct dc *c)
{
	struct dc_response r;

	assert_int_equal(dc_get(c, "/login", &r), 0);
	assert_int_equal(r.status, 200);
	assert_true(c->csrf[0] != '\0');
	dc_response_free(&r);
}

/* The user's password hash (to prove nothing changed). */
static char *password_hash(long long user_id)
{
	char uid[24];
	const char *p[1] = { uid };

	snprintf(uid, sizeof(uid), "%lld", user_id);
	return hx_db_value_or_fail("SELECT password_hash FROM users WHERE id = $1::bigint", 1, p);
}

/* The number of the user's sessions still open. */
static long long open_sessions(long long user_id)
{
	char uid[24];
	const char *p[1] = { uid };

	snprintf(uid, sizeof(uid), "%lld", user_id);
	return hx_db_int_or_fail("SELECT count(*) FROM sessions WHERE user_id = $1::bigint"
				 " AND revoked_at IS NULL", 1, p);
}

/* Runs sql ($1: the user's id) on the user's sessions. */
static void sessions_sql(long long user_id, const char *sql)
{
	char uid[24];
	const char *p[1] = { uid };

	snprintf(uid, sizeof(uid), "%lld", user_id);
	hx_db_cmd_or_fail(sql, 1, p);
}

/* A login answers 303 to /today with the session cookie's attributes of
 * the test environment (no Secure, no __Host- prefix), and the pages
 * then open. */
static void test_login_ok(void **state)
{
	struct dc_account a;
	struct dc *c = dc_new();
	struct dc_response r;
	const char *sc;

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&a, "owner", NULL);
	login_form_or_fail(c);
	assert_int_equal(dc_post_form(c, "/login", &r, "email", a.email, "password", a.password,
				 NULL), 0);
	assert_int_equal(r.status, 303);
	assert_string_equal(r.location, "/today");
	sc = buf_str(&r.set_cookie);
	assert_non_null(strstr(sc, SESSION_COOKIE_PLAIN "="));
	assert_non_null(strstr(sc, "; Path=/"));
	assert_non_null(strstr(sc, "; HttpOnly"));
	assert_non_null(strstr(sc, "; SameSite=Lax"));
	assert_null(strstr(sc, "Secure"));
	/* The login form's cookie is deleted. */
	assert_non_null(strstr(sc, SESSION_LOGIN_COOKIE_PLAIN "=; Path=/; Max-Age=0"));
	dc_response_free(&r);
	assert_int_equal(dc_get(c, "/settings/sessions", &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(buf_str(&r.body), "This session"));
	{
		char cc[64];
		assert_int_equal(dc_header(&r, "Cache-Control", cc, sizeof(cc)), 1);
		assert_string_equal(cc, "no-store");
		assert_true(r.csp[0] != '\0');
	}
	dc_response_free(&r);
	/* GET / sends a logged-in user to the day's page. */
	assert_int_equal(dc_get(c, "/", &r), 0);
	assert_int_equal(r.status, 303);
	assert_string_equal(r.location, "/today");
	dc_response_free(&r);
	assert_int_equal(open_sessions(a.user_id), 1);
	dc_post_form(c, "/logout", &r, NULL);
	dc_response_free(&r);
	/* Recorded under the business: the login, the logout and a failure,
	 * never the password. */
	{
		struct dc *bad = dc_login(a.email, "a wrong password", NULL);
		char *key = xasprintf("%s%lld", AUDIT_KEY_BUSINESS_PREFIX, a.business_id);
		char err[256];
		json_t *recs;
		char *text;
		assert_null(bad);
		assert_int_equal(hx_audit_wait(key, 1, 3000, "kind", "session", "event", "login",
					 NULL), 1);
		assert_int_equal(hx_audit_wait(key, 1, 3000, "kind", "session", "event", "logout",
					 NULL), 1);
		assert_int_equal(hx_audit_wait(key, 1, 3000, "kind", "session", "event",
					 "login_failed", NULL), 1);
		recs = hx_audit_read(key, 0, err, sizeof(err));
		assert_non_null(recs);
		text = json_dumps(recs, 0);
		assert_null(strstr(text, a.password));
		assert_null(strstr(text, "a wrong password"));
		free(text);
		json_decref(recs);
		free(key);
	}
	dc_free(c);
	dc_throttle_reset_or_fail();
}

/* The same answer for a wrong password and an unknown login: status and
 * body (the typed e-mail aside), no session cookie. */
static void test_wrong_and_unknown_alike(void **state)
{
	struct dc_account a;
	struct dc *c = dc_new();
	struct dc_response r1, r2;
	char unknown[96];
	char *b1, *b2, *p;

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&a, "owner", NULL);
	/* An unknown address of the same length as the real one. */
	snprintf(unknown, sizeof(unknown), "%s", a.email);
	unknown[0] = unknown[0] == 'x' ? 'y' : 'x';
	login_form_or_fail(c);
	assert_int_equal(dc_post_form(c, "/login", &r1, "email", a.email, "password",
				 "not the password", NULL), 0);
	assert_int_equal(dc_post_form(c, "/login", &r2, "email", unknown, "password",
				 "not the password", NULL), 0);
	assert_int_equal(r1.status, 200);
	assert_int_equal(r2.status, r1.status);
	assert_string_equal(buf_str(&r1.set_cookie), "");
	assert_string_equal(buf_str(&r2.set_cookie), "");
	b1 = xstrdup(buf_str(&r1.body));
	b2 = xstrdup(buf_str(&r2.body));
	while ((p = strstr(b1, a.email)) != NULL)
		memset(p, '*', strlen(a.email));
	while ((p = strstr(b2, unknown)) != NULL)
		memset(p, '*', strlen(unknown));
	assert_string_equal(b1, b2);
	assert_non_null(strstr(b1, "The e-mail address or the password is not right."));
	free(b1);
	free(b2);
	dc_response_free(&r1);
	dc_response_free(&r2);
	assert_int_equal(open_sessions(a.user_id), 0);
	dc_free(c);
	dc_throttle_reset_or_fail();
}

/* A login POST without the login form's token (or with another's) is
 * refused with the 403 page, and logs nobody in. */
static void test_login_needs_its_csrf(void **state)
{
	struct dc_account a;
	struct dc *c = dc_new(), *other = dc_new();
	struct dc_response r;

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&a, "owner", NULL);
	assert_int_equal(dc_post_form(c, "/login", &r, "csrf", NULL, "email", a.email, "password",
				 a.password, NULL), 0);
	assert_int_equal(r.status, 403);
	dc_response_free(&r);
	login_form_or_fail(c);
	login_form_or_fail(other);
	assert_int_equal(dc_post_form(c, "/login", &r, "csrf", other->csrf, "email", a.email,
				 "password", a.password, NULL), 0);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(buf_str(&r.body), csrf_refused));
	dc_response_free(&r);
	assert_int_equal(open_sessions(a.user_id), 0);
	dc_free(c);
	dc_free(other);
}

/* 20 wrong passwords: the account and the address are throttled (429,
 * "Too many attempts"), the right password then waits too, also for
 * another account from the same address, and all of it survives
 * FLUSHALL (PostgreSQL's login_failures). */
static void test_throttle(void **state)
{
	struct dc_account a, b;
	struct dc *c = dc_new(), *d;
	struct dc_response r;
	const char *flush[] = { "FLUSHALL" };
	char err[256];
	int throttled = 0;
	long st;

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&a, "owner", NULL);
	dc_account_or_fail(&b, "owner", NULL);
	login_form_or_fail(c);
	for (int i = 0; i < SESSION_THROTTLE_LOCK; i++) {
		assert_int_equal(dc_post_form(c, "/login", &r, "email", a.email, "password",
					 "a wrong password", NULL), 0);
		if (i < SESSION_THROTTLE_SOFT)
			assert_int_equal(r.status, 200);
		else
			assert_int_equal(r.status, 429);
		throttled += r.status == 429;
		dc_response_free(&r);
	}
	assert_int_equal(throttled, SESSION_THROTTLE_LOCK - SESSION_THROTTLE_SOFT);
	/* The right password waits. */
	assert_int_equal(dc_post_form(c, "/login", &r, "email", a.email, "password", a.password,
				 NULL), 0);
	assert_int_equal(r.status, 429);
	assert_non_null(strstr(buf_str(&r.body), "Too many attempts; try again in 15 minutes"));
	assert_string_equal(buf_str(&r.set_cookie), "");
	dc_response_free(&r);
	/* So does another account from the same address. */
	d = dc_login(b.email, b.password, &st);
	assert_null(d);
	assert_int_equal(st, 429);
	/* Redis forgets; PostgreSQL does not. */
	assert_int_equal(hx_redis(1, flush, NULL, err, sizeof(err)), 0);
	d = dc_login(a.email, a.password, &st);
	assert_null(d);
	assert_int_equal(st, 429);
	assert_int_equal(open_sessions(a.user_id), 0);
	/* No row names the typed login. */
	{
		const char *p[1] = { a.email };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM login_failures"
						   " WHERE strpos(key, $1) > 0", 1, p), 0);
	}
	dc_throttle_reset_or_fail();
	d = dc_login_or_fail(a.email, a.password);
	dc_free(d);
	dc_free(c);
}

/* Unknown logins are throttled like accounts (their keyed bucket), with
 * the same answer. */
static void test_throttle_unknown(void **state)
{
	struct dc *c = dc_new();
	struct dc_response r;
	char email[64], hex[17];

	dc_throttle_reset_or_fail();
	hx_random_hex(hex, 8);
	snprintf(email, sizeof(email), "nobody-%s@example.com", hex);
	login_form_or_fail(c);
	for (int i = 0; i <= SESSION_THROTTLE_SOFT; i++) {
		assert_int_equal(dc_post_form(c, "/login", &r, "email", email, "password",
					 "a wrong password", NULL), 0);
		assert_int_equal(r.status, i < SESSION_THROTTLE_SOFT ? 200 : 429);
		dc_response_free(&r);
	}
	/* The bucket's key, not the address's alone, holds failures. */
	assert_true(hx_db_int_or_fail("SELECT count(*) FROM login_failures"
				      " WHERE key LIKE 'unknown:%'", 0, NULL) >= SESSION_THROTTLE_SOFT);
	dc_throttle_reset_or_fail();
	dc_free(c);
}

/* Logging in makes a new session id: the cookie sent before is revoked
 * and no longer accepted. */
static void test_new_id_at_login(void **state)
{
	struct dc_account a;
	struct dc *c, *old = dc_new();
	struct dc_response r;
	char *first, *second;

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&a, "owner", NULL);
	c = dc_login_or_fail(a.email, a.password);
	first = dc_cookie(c, SESSION_COOKIE_PLAIN);
	assert_non_null(first);
	login_form_or_fail(c);
	assert_int_equal(dc_post_form(c, "/login", &r, "email", a.email, "password", a.password,
				 NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	second = dc_cookie(c, SESSION_COOKIE_PLAIN);
	assert_non_null(second);
	assert_string_not_equal(first, second);
	dc_set_cookie(old, SESSION_COOKIE_PLAIN, first);
	assert_int_equal(dc_get_page(old, "/settings/sessions", NULL), 303);
	assert_int_equal(dc_get_page(c, "/settings/sessions", NULL), 200);
	assert_int_equal(open_sessions(a.user_id), 1);
	free(first);
	free(second);
	dc_free(c);
	dc_free(old);
}

/* Idle expiry, absolute expiry and revocation each end a session: a GET
 * goes to /login with the page to return to, a POST is a 403. */
static void test_expiry_and_revocation(void **state)
{
	static const char *const ends[] = {
		"UPDATE sessions SET last_seen_at = now() - interval '31 minutes'"
		" WHERE user_id = $1::bigint",
		"UPDATE sessions SET expires_at = now() - interval '1 second'"
		" WHERE user_id = $1::bigint",
		"UPDATE sessions SET revoked_at = now() WHERE user_id = $1::bigint",
	};
	struct dc_account a;

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&a, "owner", NULL);
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		struct dc *c = dc_login_or_fail(a.email, a.password);
		struct dc_response r;
		char *before = password_hash(a.user_id);
		char *after;

		/* Just short of idle: still open, and seen again. */
		sessions_sql(a.user_id, "UPDATE sessions SET last_seen_at = now() -"
			" interval '29 minutes' WHERE user_id = $1::bigint AND revoked_at IS NULL");
		assert_int_equal(dc_get_page(c, "/settings/sessions", NULL), 200);
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM sessions WHERE"
			" last_seen_at > now() - interval '1 minute' AND revoked_at IS NULL AND"
			" user_id = (SELECT id FROM users WHERE email = $1)", 1,
			(const char *const[]){ a.email }), 1);
		sessions_sql(a.user_id, ends[i]);
		assert_int_equal(dc_get(c, "/account/password", &r), 0);
		assert_int_equal(r.status, 303);
		assert_string_equal(r.location, "/login?next=%2Faccount%2Fpassword");
		dc_response_free(&r);
		assert_int_equal(dc_post_form(c, "/account/password", &r, "old", a.password, "new",
					 "a brand new password", "new2", "a brand new password", NULL), 0);
		assert_int_equal(r.status, 403);
		dc_response_free(&r);
		after = password_hash(a.user_id);
		assert_string_equal(before, after);
		free(before);
		free(after);
		sessions_sql(a.user_id, "UPDATE sessions SET revoked_at = now()"
			" WHERE user_id = $1::bigint AND revoked_at IS NULL");
		dc_free(c);
	}
}

/* A POST without the CSRF token, or with another session's, is a 403
 * page and changes nothing. */
static void test_csrf(void **state)
{
	struct dc_account a, b;
	struct dc *c, *other;
	struct dc_response r;
	char *before, *after;

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&a, "owner", NULL);
	dc_account_or_fail(&b, "owner", NULL);
	c = dc_login_or_fail(a.email, a.password);
	other = dc_login_or_fail(b.email, b.password);
	before = password_hash(a.user_id);
	assert_int_equal(dc_post_form(c, "/account/password", &r, "csrf", NULL, "old", a.password,
				 "new", "a brand new password", "new2", "a brand new password", NULL), 0);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(buf_str(&r.body), csrf_refused));
	dc_response_free(&r);
	assert_int_equal(dc_post_form(c, "/account/password", &r, "csrf", other->csrf, "old",
				 a.password, "new", "a brand new password", "new2",
				 "a brand new password", NULL), 0);
	assert_int_equal(r.status, 403);
	dc_response_free(&r);
	assert_int_equal(dc_post_form(c, "/logout", &r, "csrf", "", NULL), 0);
	assert_int_equal(r.status, 403);
	dc_response_free(&r);
	/* An upload where a form is expected: refused, nothing changed. */
	assert_int_equal(dc_post_multipart(c, "/logout", "file", "a.csv", "x,y\n", 4, &r, NULL), 0);
	assert_int_equal(r.status, 400);
	dc_response_free(&r);
	after = password_hash(a.user_id);
	assert_string_equal(before, after);
	assert_int_equal(dc_get_page(c, "/settings/sessions", NULL), 200);
	free(before);
	free(after);
	dc_free(c);
	dc_free(other);
}

/* POST /logout ends the session and deletes the cookie; the old cookie
 * is refused afterwards. */
static void test_logout(void **state)
{
	struct dc_account a;
	struct dc *c, *old = dc_new();
	struct dc_response r;
	char *cookie;

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&a, "owner", NULL);
	c = dc_login_or_fail(a.email, a.password);
	cookie = dc_cookie(c, SESSION_COOKIE_PLAIN);
	assert_non_null(cookie);
	assert_int_equal(dc_post_form(c, "/logout", &r, NULL), 0);
	assert_int_equal(r.status, 303);
	assert_string_equal(r.location, "/login?notice=logged_out");
	assert_non_null(strstr(buf_str(&r.set_cookie), SESSION_COOKIE_PLAIN "=; Path=/; Max-Age=0"));
	dc_response_free(&r);
	assert_int_equal(open_sessions(a.user_id), 0);
	dc_set_cookie(old, SESSION_COOKIE_PLAIN, cookie);
	assert_int_equal(dc_get_page(old, "/settings/sessions", NULL), 303);
	free(cookie);
	dc_free(c);
	dc_free(old);
}

/* Changing the password: the old one is needed, the new one twice and
 * long enough (422 naming the field otherwise, nothing changed); then
 * every other session ends and only the new password logs in. */
static void test_password_change(void **state)
{
	static const char fresh[] = "a brand new password";
	struct dc_account a;
	struct dc *c, *elsewhere, *d, *stale;
	struct dc_response r;
	char *before, *after, *old_id, *new_id;
	long st;

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&a, "owner", NULL);
	c = dc_login_or_fail(a.email, a.password);
	elsewhere = dc_login_or_fail(a.email, a.password);
	before = password_hash(a.user_id);
	const struct {
		const char *old, *new1, *new2, *says;
	} bad[] = {
		{ "not my password", fresh, fresh, "Current password" },
		{ a.password, "short", "short", "New password: it must have at least" },
		{ a.password, fresh, "a brand new passwore", "New password again" },
	};
	assert_int_equal(dc_get_page(c, "/account/password", NULL), 200);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		assert_int_equal(dc_post_form(c, "/account/password", &r, "old", bad[i].old, "new",
					 bad[i].new1, "new2", bad[i].new2, NULL), 0);
		if (r.status != 422 || strstr(buf_str(&r.body), bad[i].says) == NULL)
			fail_msg("case %zu: HTTP %ld, no '%s' in the page", i, r.status, bad[i].says);
		dc_response_free(&r);
	}
	after = password_hash(a.user_id);
	assert_string_equal(before, after);
	free(after);
	old_id = dc_cookie(c, SESSION_COOKIE_PLAIN);
	assert_non_null(old_id);
	dc_post_see_other_or_fail(c, "/account/password", "/account/password?notice=password_changed",
		"old", a.password, "new", fresh, "new2", fresh, NULL);
	after = password_hash(a.user_id);
	assert_string_not_equal(before, after);
	assert_int_equal(dc_get_page(elsewhere, "/settings/sessions", NULL), 303);
	/* This browser goes on with a new session id; the old one is dead. */
	new_id = dc_cookie(c, SESSION_COOKIE_PLAIN);
	assert_non_null(new_id);
	assert_string_not_equal(old_id, new_id);
	assert_int_equal(dc_get_page(c, "/settings/sessions", NULL), 200);
	stale = dc_new();
	dc_set_cookie(stale, SESSION_COOKIE_PLAIN, old_id);
	assert_int_equal(dc_get_page(stale, "/settings/sessions", NULL), 303);
	dc_free(stale);
	free(old_id);
	free(new_id);
	d = dc_login(a.email, a.password, &st);
	assert_null(d);
	d = dc_login_or_fail(a.email, fresh);
	free(before);
	free(after);
	dc_free(d);
	dc_free(c);
	dc_free(elsewhere);
	dc_throttle_reset_or_fail();
}

/* The current password on the password form is under the login
 * throttle: a stolen session cannot guess it, and the guesses count
 * against the account's logins too. */
static void test_password_change_throttled(void **state)
{
	static const char fresh[] = "a brand new password";
	struct dc_account a;
	struct dc *c, *d;
	struct dc_response r;
	char *before, *after;
	long st;

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&a, "owner", NULL);
	c = dc_login_or_fail(a.email, a.password);
	before = password_hash(a.user_id);
	for (int i = 0; i < SESSION_THROTTLE_SOFT; i++) {
		assert_int_equal(dc_post_form(c, "/account/password", &r, "old", "a wrong guess",
					 "new", fresh, "new2", fresh, NULL), 0);
		assert_int_equal(r.status, 422);
		dc_response_free(&r);
	}
	/* The right password now waits, and changes nothing. */
	assert_int_equal(dc_post_form(c, "/account/password", &r, "old", a.password, "new", fresh,
				 "new2", fresh, NULL), 0);
	assert_int_equal(r.status, 429);
	assert_non_null(strstr(buf_str(&r.body), "Too many attempts; try again in"));
	dc_response_free(&r);
	after = password_hash(a.user_id);
	assert_string_equal(before, after);
	free(after);
	/* The account's logins wait too. */
	d = dc_login(a.email, a.password, &st);
	assert_null(d);
	assert_int_equal(st, 429);
	/* Once the throttle has passed, the right password works. */
	dc_throttle_reset_or_fail();
	assert_int_equal(dc_post_form(c, "/account/password", &r, "old", a.password, "new", fresh,
				 "new2", fresh, NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	after = password_hash(a.user_id);
	assert_string_not_equal(before, after);
	free(before);
	free(after);
	dc_free(c);
	dc_throttle_reset_or_fail();
}

/* The sessions page lists the user's sessions; one of them can be
 * ended from another; another user's session id is a 404. */
static void test_sessions_page(void **state)
{
	struct dc_account a, b;
	struct dc *c, *elsewhere, *stranger;
	struct dc_response r;
	char path[96], uid[24];
	long long other_id, stranger_id;
	const char *p[1] = { uid };

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&a, "owner", NULL);
	dc_account_or_fail(&b, "owner", NULL);
	c = dc_login_or_fail(a.email, a.password);
	elsewhere = dc_login_or_fail(a.email, a.password);
	stranger = dc_login_or_fail(b.email, b.password);
	snprintf(uid, sizeof(uid), "%lld", b.user_id);
	stranger_id = hx_db_int_or_fail("SELECT max(id) FROM sessions WHERE user_id = $1::bigint",
		1, p);
	snprintf(uid, sizeof(uid), "%lld", a.user_id);
	other_id = hx_db_int_or_fail("SELECT max(id) FROM sessions WHERE user_id = $1::bigint",
		1, p);
	assert_int_equal(dc_get(c, "/settings/sessions", &r), 0);
	assert_int_equal(r.status, 200);
	snprintf(path, sizeof(path), "/settings/sessions/%lld/revoke", other_id);
	assert_non_null(strstr(buf_str(&r.body), path));
	assert_non_null(strstr(buf_str(&r.body), "This session"));
	dc_response_free(&r);
	snprintf(path, sizeof(path), "/settings/sessions/%lld/revoke", stranger_id);
	assert_int_equal(dc_post_form(c, path, &r, NULL), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	assert_int_equal(dc_get_page(stranger, "/settings/sessions", NULL), 200);
	snprintf(path, sizeof(path), "/settings/sessions/%lld/revoke", other_id);
	assert_int_equal(dc_post_form(c, path, &r, NULL), 0);
	assert_int_equal(r.status, 303);
	assert_string_equal(r.location, "/settings/sessions?notice=revoked");
	dc_response_free(&r);
	assert_int_equal(dc_get_page(elsewhere, "/settings/sessions", NULL), 303);
	assert_int_equal(dc_get_page(c, "/settings/sessions", NULL), 200);
	dc_free(c);
	dc_free(elsewhere);
	dc_free(stranger);
}

/* An operator lists every business and picks the one the pages show;
 * anyone else gets 404 for both. */
static void test_operator(void **state)
{
	struct dc_account op, owner, shown;
	struct dc *c, *o;
	struct dc_response r;
	char bid[24], uid[24];
	const char *p[1] = { uid };

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&op, "operator", NULL);
	dc_account_or_fail(&owner, "owner", NULL);
	dc_account_or_fail(&shown, "owner", NULL);
	c = dc_login_or_fail(op.email, op.password);
	o = dc_login_or_fail(owner.email, owner.password);
	snprintf(bid, sizeof(bid), "%lld", shown.business_id);
	assert_int_equal(dc_get(c, "/operator/businesses", &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(buf_str(&r.body), "name=\"business_id\" value=\""));
	dc_response_free(&r);
	assert_int_equal(dc_post_form(c, "/operator/business", &r, "business_id", bid, NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	snprintf(uid, sizeof(uid), "%lld", op.user_id);
	assert_int_equal(hx_db_int_or_fail("SELECT acting_business_id FROM sessions"
					   " WHERE user_id = $1::bigint AND revoked_at IS NULL", 1, p),
		shown.business_id);
	assert_int_equal(dc_post_form(c, "/operator/business", &r, "business_id",
				 "999999999999", NULL), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	assert_int_equal(dc_get_page(o, "/operator/businesses", NULL), 404);
	assert_int_equal(dc_post_form(o, "/operator/business", &r, "business_id", bid, NULL), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	snprintf(uid, sizeof(uid), "%lld", owner.user_id);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM sessions WHERE user_id = $1::bigint"
					   " AND acting_business_id IS NOT NULL", 1, p), 0);
	dc_free(c);
	dc_free(o);
}

/* The page to return to after logging in is a local path only. */
static void test_next_is_local(void **state)
{
	struct dc_account a;
	struct dc *c = dc_new();
	struct dc_response r;

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&a, "owner", NULL);
	login_form_or_fail(c);
	assert_int_equal(dc_post_form(c, "/login", &r, "email", a.email, "password", a.password,
				 "next", "//evil.example/", NULL), 0);
	assert_int_not_equal(r.status, 303);
	dc_response_free(&r);
	/* A path with bytes outside printable ASCII is refused before the
	 * login, never a login answered with the 500 page. */
	assert_int_equal(dc_post_form(c, "/login", &r, "email", a.email, "password", a.password,
				 "next", "/\xe2\x80\xae", NULL), 0);
	assert_int_equal(r.status, 422);
	dc_response_free(&r);
	assert_int_equal(dc_get(c, "/today", &r), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	assert_int_equal(dc_post_form(c, "/login", &r, "email", a.email, "password", a.password,
				 "next", "/settings/sessions", NULL), 0);
	assert_int_equal(r.status, 303);
	assert_string_equal(r.location, "/settings/sessions");
	dc_response_free(&r);
	dc_free(c);
}

/* Runs `ringfence user add` with args (a shell-quoted string of plain
 * words) and the password on standard input; its exit status, and its
 * output's first line into out. */
static int user_add(const char *args, const char *password, char *out, size_t size)
{
	const char *bin = hx_ringfence_bin("session");
	struct buf b = BUF_INIT;
	char *cmd;
	int st;

	assert_non_null(bin);
	cmd = xasprintf("echo '%s' | %s user add %s --password-stdin 2>&1", password, bin, args);
	st = hx_shell(cmd, &b, 120);
	free(cmd);
	snprintf(out, size, "%.*s", (int)strcspn(buf_str(&b), "\n") + 1, buf_str(&b));
	buf_free(&b);
	return st;
}

/* `ringfence user add --role operator` makes an operator, who can pick
 * a business; an unknown role is refused with a reason and makes no
 * login. */
static void test_cli_roles(void **state)
{
	struct dc_account shown;
	char args[256], out[512], hex[17], email[64];
	const char *p[1] = { email };
	struct dc *c;

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&shown, "owner", NULL);
	hx_random_hex(hex, 8);
	snprintf(email, sizeof(email), "op-%s@example.com", hex);
	snprintf(args, sizeof(args), "--business %lld --email %s --role admin", shown.business_id,
		email);
	assert_int_equal(user_add(args, "a long enough password", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "--role must be owner, staff or operator"));
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM users WHERE email = $1", 1, p), 0);
	snprintf(args, sizeof(args), "--business %lld --email %s --role operator",
		shown.business_id, email);
	assert_int_equal(user_add(args, "a long enough password", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "operator"));
	{
		char *role = hx_db_value_or_fail("SELECT role FROM users WHERE email = $1", 1, p);
		assert_string_equal(role, "operator");
		free(role);
	}
	c = dc_login_or_fail(email, "a long enough password");
	assert_int_equal(dc_get_page(c, "/operator/businesses", NULL), 200);
	dc_free(c);
	/* The default role is owner. */
	snprintf(email, sizeof(email), "owner-%s@example.com", hex);
	snprintf(args, sizeof(args), "--business %lld --email %s", shown.business_id, email);
	assert_int_equal(user_add(args, "a long enough password", out, sizeof(out)), 0);
	{
		char *role = hx_db_value_or_fail("SELECT role FROM users WHERE email = $1", 1, p);
		assert_string_equal(role, "owner");
		free(role);
	}
}

/* Set while the test stopped PostgreSQL; restore_pg starts it again. */
static int pg_stopped;

/* Teardown: PostgreSQL running again, and answering the harness. */
static int restore_pg(void **state)
{
	int rc = hx_stack_start_stopped("pg", &pg_stopped, 90);

	for (int i = 0; i < 100 && rc == 0; i++) {
		char err[256];
		PGresult *res = hx_db_exec("SELECT 1", 0, NULL, err, sizeof(err));
		if (res) {
			PQclear(res);
			break;
		}
		hx_sleep_ms(100);
	}
	return rc;
}

/* With PostgreSQL down a session cannot be checked: 503 pages, never
 * "log in" (which would look like a logout) and never a change; the
 * session works again once it is back. */
static void test_database_down(void **state)
{
	struct dc_account a;
	struct dc *c, *fresh = dc_new();
	struct dc_response r;
	long st = 0;

	dc_throttle_reset_or_fail();
	dc_account_or_fail(&a, "owner", NULL);
	c = dc_login_or_fail(a.email, a.password);
	login_form_or_fail(fresh);
	pg_stopped = 1;
	if (hx_stack("pg-stop", NULL, 90) != 0)
		fail_msg("deploy/stack pg-stop failed");
	assert_int_equal(dc_get(c, "/settings/sessions", &r), 0);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(buf_str(&r.body), "The database is unavailable"));
	dc_response_free(&r);
	assert_int_equal(dc_post_form(c, "/account/password", &r, "old", a.password, "new",
				 "a brand new password", "new2", "a brand new password", NULL), 0);
	assert_int_equal(r.status, 503);
	dc_response_free(&r);
	assert_int_equal(dc_get_page(c, "/", NULL), 503);
	assert_int_equal(dc_post_form(fresh, "/login", &r, "email", a.email, "password",
				 a.password, NULL), 0);
	assert_int_equal(r.status, 503);
	assert_string_equal(buf_str(&r.set_cookie), "");
	dc_response_free(&r);
	if (hx_stack("pg-start", NULL, 90) != 0)
		fail_msg("deploy/stack pg-start failed");
	pg_stopped = 0;
	assert_int_equal(restore_pg(state), 0);
	/* Each pool worker reconnects on its next request. */
	for (int i = 0; i < 100 && st != 200; i++) {
		st = dc_get_page(c, "/settings/sessions", NULL);
		if (st != 200)
			hx_sleep_ms(50);
	}
	assert_int_equal(st, 200);
	dc_free(c);
	dc_free(fresh);
}

int session_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_ok),
		cmocka_unit_test(test_wrong_and_unknown_alike),
		cmocka_unit_test(test_login_needs_its_csrf),
		cmocka_unit_test(test_throttle),
		cmocka_unit_test(test_throttle_unknown),
		cmocka_unit_test(test_new_id_at_login),
		cmocka_unit_test(test_expiry_and_revocation),
		cmocka_unit_test(test_csrf),
		cmocka_unit_test(test_logout),
		cmocka_unit_test(test_password_change),
		cmocka_unit_test(test_password_change_throttled),
		cmocka_unit_test(test_sessions_page),
		cmocka_unit_test(test_operator),
		cmocka_unit_test(test_next_is_local),
		cmocka_unit_test(test_cli_roles),
		cmocka_unit_test_teardown(test_database_down, restore_pg),
	};
	return cmocka_run_group_tests_name("integration: session", tests, hx_group_setup,
		hx_group_teardown);
}

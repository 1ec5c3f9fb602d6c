/* session: dashboard logins, sessions and CSRF tokens.
 *
 * A session is a row of PostgreSQL's `sessions` (sql/007_sessions.sql):
 * the cookie carries a random 256-bit id, the table only its SHA-256, so
 * a database dump logs nobody in.  The cookie is HttpOnly, SameSite=Lax,
 * and outside development and test also Secure with the __Host- prefix
 * (SESSION_COOKIE_SECURE / SESSION_COOKIE_PLAIN).  A session ends at
 * logout, at revocation (settings), after SESSION_IDLE_SECONDS without a
 * request, and SESSION_ABSOLUTE_SECONDS after login, whichever is first.
 * Logging in always makes a new id (no fixation) and a new CSRF token.
 *
 * Logins are throttled per account and per source address: Redis counts
 * failures, PostgreSQL's `login_failures` keeps them too, so a Redis
 * restart resets nothing.  An unknown login and a wrong password get the
 * same answer after the same work (a yescrypt hash is always computed).
 * No storage is keyed by the typed login: an account's failures are
 * keyed by its user id, an unknown login's by a keyed hash in a bounded
 * number of buckets. */
#ifndef RF_SESSION_H
#define RF_SESSION_H

#include <stddef.h>

#include "config.h"

struct app;
struct arena;
struct http_request;
struct outcome;

#define SESSION_COOKIE_SECURE "__Host-rf_session"
#define SESSION_COOKIE_PLAIN "rf_session"
#define SESSION_IDLE_SECONDS (30 * 60)
#define SESSION_ABSOLUTE_SECONDS (12 * 3600)
/* The form field that carries the CSRF token on every dashboard form. */
#define SESSION_CSRF_FIELD "csrf"

/* Who is logged in, as a dashboard handler sees it (in->user).  Every
 * string lives in the request arena. */
struct session_user {
	long long session_id;
	long long user_id;
	const char *email;
	const char *role;           /* "owner", "staff" or "operator" */
	int operator;               /* role is "operator": sees every business */
	long long business_id;      /* the business the pages show: the user's own,
	                               or for an operator the one chosen */
	const char *business;       /* the same as text */
	const char *business_name;
	const char *business_tz;    /* IANA zone: how the pages show times */
	long long own_business_id;  /* the business the user belongs to */
	const char *csrf;           /* this session's CSRF token (64 hex), for forms */
};

/* The session of req's cookie, touched (idle expiry moves on), or NULL
 * when there is none or it is unknown, expired or revoked.  -1 in *db_err
 * when the database could not be asked (the caller answers 503, never
 * "log in"). */
const struct session_user *session_load(struct app *app, struct http_request *req, int *db_err);

/* 1 when the request carries in its form field SESSION_CSRF_FIELD the
 * token csrf (constant-time), else 0. */
int session_csrf_ok(const char *csrf, const char *sent);

/* The login form's CSRF token (before anyone is logged in): a
 * double-submit token bound to a pre-session cookie, set on out when
 * missing; *token gets the value to put in the form.  0, or -1. */
int session_login_csrf(struct app *app, struct http_request *req, struct outcome *out,
	const char **token);

/* 1 when v (len bytes) is a local path to return to after logging in:
 * "/" then no second '/' or '\\', no spaces, control characters, '\\' or
 * bytes outside printable ASCII (a path page_redirect accepts, so that a
 * login never ends on the 500 page), at most 512 bytes (never another
 * site: no open redirect). */
int session_valid_next(const char *v, size_t len);

/* ---- cookies -------------------------------------------------------------- */

/* The login form's pre-session cookie (the double-submit CSRF token). */
#define SESSION_LOGIN_COOKIE_SECURE "__Host-rf_login"
#define SESSION_LOGIN_COOKIE_PLAIN "rf_login"
#define SESSION_LOGIN_COOKIE_SECONDS (2 * 3600)

/* 1 when cookies in env are plain (development and test: served over
 * http://), 0 when Secure with the __Host- prefix (staging, production). */
int session_cookie_plain(enum rf_env env);

/* The session cookie's name (login 0) or the login form's (login 1) in env. */
const char *session_cookie_name(enum rf_env env, int login);

/* A Set-Cookie value in arena a: name=value; Path=/; Max-Age=max_age;
 * HttpOnly; SameSite=Lax and, unless session_cookie_plain(env), Secure.
 * max_age 0 with value "" deletes the cookie. */
const char *session_cookie(struct arena *a, enum rf_env env, int login, const char *value,
	long max_age);

/* ---- the login throttle ------------------------------------------------------ */

/* Redis counters: SESSION_FAIL_KEY_PREFIX + a login_failures key
 * ("user:<id>", "unknown:<bucket>", "addr:<address>"). */
#define SESSION_FAIL_KEY_PREFIX "login:fail:"
#define SESSION_THROTTLE_WINDOW (15 * 60) /* failures count this long */
#define SESSION_THROTTLE_SOFT 5           /* from here each attempt waits */
#define SESSION_THROTTLE_LOCK 20          /* from here the key is locked */
#define SESSION_UNKNOWN_BUCKETS 4096

/* Seconds an attempt must still wait with failures failures counted in
 * the window, the last one since_last seconds ago: 0 under
 * SESSION_THROTTLE_SOFT; then 60 s doubling per failure up to the
 * window; from SESSION_THROTTLE_LOCK the whole window. */
long session_throttle_wait(long long failures, long long since_last);

/* The throttle key of a source address into out: "addr:<IPv4>", or for
 * IPv6 "addr:<the /64 prefix>::/64" (an IPv4-mapped address as IPv4); an
 * unparsable address as "addr:other".  out has room for 64 bytes. */
void session_address_key(const char *remote_addr, char out[64]);

/* ---- logins and sessions ------------------------------------------------------ */

enum session_login_result {
	SESSION_LOGIN_OK,        /* a new session: its cookies are on out */
	SESSION_LOGIN_REFUSED,   /* unknown login or wrong password (the same answer) */
	SESSION_LOGIN_THROTTLED, /* too many failures: *wait_s seconds to wait */
	SESSION_LOGIN_ERROR,     /* the database could not be asked (503) */
};

/* Checks email and password against the throttle and users, records a
 * failure, or makes a new session (revoking the one of req's cookie, if
 * any) and puts its cookie and the login cookie's deletion on out.
 * *user_id and *business_id get the account's ids when the login names
 * one (0 otherwise: for the audit), *wait_s the wait of a throttled
 * attempt. */
enum session_login_result session_login(struct app *app, struct http_request *req,
	struct outcome *out, const char *email, const char *password, long long *user_id,
	long long *business_id, long *wait_s);

/* Checks password (the logged-in user u's, whose stored hash is hash)
 * under the same throttle as a login: u's account key and req's source
 * address.  SESSION_LOGIN_OK (u's failures are forgotten), _REFUSED (a
 * failure recorded for both keys), _THROTTLED (*wait_s seconds to wait;
 * counted as a failure too, the password not checked) or _ERROR.  So a
 * stolen session cannot guess the password by re-entering it. */
enum session_login_result session_reauth(struct app *app, struct http_request *req,
	const struct session_user *u, const char *password, const char *hash, long *wait_s);

/* Revokes the session u (logout) and puts the cookie's deletion on out.
 * 0, or -1 on a database error. */
int session_logout(struct app *app, struct http_request *req, const struct session_user *u,
	struct outcome *out);

/* A new session id for u (after a password change): a new session of the
 * same user, showing the same business, whose cookie goes on out, and
 * every other session of the user revoked, u's own included, so a
 * session id that may have leaked before the change is dead after it.
 * 0, or -1 on a database error (the old session then still works). */
int session_renew(struct app *app, struct http_request *req, struct outcome *out,
	const struct session_user *u);

/* Revokes every session of u's user but u's own.  The number revoked, or
 * -1 on a database error. */
long long session_revoke_others(struct app *app, const struct session_user *u);

/* Revokes the session id when it is one of u's user's: 1 revoked (or
 * already ended), 0 not the user's (or no such session), -1 database
 * error. */
int session_revoke_own(struct app *app, const struct session_user *u, long long id);

/* Sets the business an operator's session shows: 1 set, 0 u is not an
 * operator or there is no such business, -1 database error. */
int session_set_acting(struct app *app, const struct session_user *u, long long business_id);

#endif

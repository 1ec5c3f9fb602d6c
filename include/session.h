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

struct app;
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

#endif

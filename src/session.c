/* session: dashboard logins, sessions, CSRF tokens and the login
 * throttle; see include/session.h. */
#include "session.h"
#include "app.h"
#include "arena.h"
#include "db.h"
#include "dispatch.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "rds.h"
#include "users.h"
#include "util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A yescrypt hash of no one's password: an unknown login is checked
 * against it, so that it costs what a wrong password costs. */
static const char dummy_hash[] = "$y$j9T$0mnq.6WcKDlegzJ/rq2XO1$fddQrRKXI8HhYS0XShFeG6hFD9E7BcyhIZrLOdrTwOB";

/* The label of the key that buckets unknown logins (derived from
 * TWILIO_AUTH_TOKEN, the deployment's one secret). */
#define UNKNOWN_KEY_LABEL "ringfence login throttle v1"

/* ---- tokens --------------------------------------------------------------- */

/* 1 when s is 64 lower-case hex digits. */
static int is_token(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 64;
}

/* 32 random bytes as 64 hex digits into out.  0, or -1. */
static int new_token(char out[65])
{
	unsigned char b[32];

	if (util_random(b, sizeof(b)) < 0)
		return -1;
	util_hex(b, sizeof(b), out);
	explicit_bzero(b, sizeof(b));
	return 0;
}

/* The hex SHA-256 of s into out.  0, or -1. */
static int sha256_hex(const char *s, char out[65])
{
	return util_sha256_hex(s, strlen(s), out);
}

/* See session.h. */
int session_valid_next(const char *v, size_t len)
{
	if (len < 1 || len > 512 || v[0] != '/' || (len > 1 && (v[1] == '/' || v[1] == '\\')))
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f || v[i] == '\\')
			return 0;
	return 1;
}

/* ---- cookies ---------------------------------------------------------------- */

/* See session.h. */
int session_cookie_plain(enum rf_env env)
{
	return env == RF_ENV_DEVELOPMENT || env == RF_ENV_TEST;
}

/* See session.h. */
const char *session_cookie_name(enum rf_env env, int login)
{
	if (session_cookie_plain(env))
		return login ? SESSION_LOGIN_COOKIE_PLAIN : SESSION_COOKIE_PLAIN;
	return login ? SESSION_LOGIN_COOKIE_SECURE : SESSION_COOKIE_SECURE;
}

/* See session.h. */
const char *session_cookie(struct arena *a, enum rf_env env, int login, const char *value,
	long max_age)
{
	return arena_printf(a, "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s",
		session_cookie_name(env, login), value, max_age,
		session_cookie_plain(env) ? "" : "; Secure");
}

/* The value of req's cookie name, or NULL (also for a malformed header). */
static const char *cookie_value(struct http_request *req, const char *name)
{
	struct params p = { NULL, 0 };

	if (req->cookie == NULL ||
		form_parse_cookies(req->arena, req->cookie, NULL, &p) != FORM_OK)
		return NULL;
	return form_get(&p, name);
}

/* Puts the Set-Cookie value c into the first free slot of out. */
static void add_cookie(struct outcome *out, const char *c)
{
	if (out->set_cookie[0] == NULL)
		out->set_cookie[0] = c;
	else
		out->set_cookie[1] = c;
}

/* ---- CSRF --------------------------------------------------------------------- */

/* See session.h. */
int session_csrf_ok(const char *csrf, const char *sent)
{
	if (!is_token(csrf) || sent == NULL)
		return 0;
	return util_ct_equal(csrf, strlen(csrf), sent, strlen(sent));
}

/* See session.h.  The token is the pre-session cookie's value itself
 * (double submit): a form posted from elsewhere cannot read it. */
int session_login_csrf(struct app *app, struct http_request *req, struct outcome *out,
	const char **token)
{
	const char *have = cookie_value(req, session_cookie_name(app->cfg.env, 1));
	char fresh[65];

	if (is_token(have)) {
		*token = have;
		return 0;
	}
	if (new_token(fresh) < 0)
		return -1;
	*token = arena_strdup(req->arena, fresh);
	add_cookie(out, session_cookie(req->arena, app->cfg.env, 1, *token,
		SESSION_LOGIN_COOKIE_SECONDS));
	return 0;
}

/* ---- loading a session ---------------------------------------------------------- */

/* See session.h.  One statement reads the session with its user and the
 * business it shows; last_seen_at is written at most once a minute. */
const struct session_user *session_load(struct app *app, struct http_request *req, int *db_err)
{
	static const char sql[] =
		"WITH s AS ("
		"  SELECT s.id, u.id AS user_id, u.email, u.role, s.csrf_token, u.business_id,"
		"    CASE WHEN u.role = 'operator' THEN COALESCE(s.acting_business_id, u.business_id)"
		"      ELSE u.business_id END AS shown, s.last_seen_at"
		"  FROM sessions s JOIN users u ON u.id = s.user_id"
		"  WHERE s.token_sha256 = $1 AND s.revoked_at IS NULL AND s.expires_at > now()"
		"    AND s.last_seen_at > now() - $2::int * interval '1 second'),"
		" t AS (UPDATE sessions SET last_seen_at = now() FROM s"
		"  WHERE sessions.id = s.id AND s.last_seen_at < now() - interval '60 seconds')"
		" SELECT s.id, s.user_id, s.email, s.role, s.csrf_token, s.business_id, s.shown,"
		"  b.name, b.time_zone FROM s JOIN businesses b ON b.id = s.shown";
	const char *token = cookie_value(req, session_cookie_name(app->cfg.env, 0));
	char hash[65], idle[16];
	const char *p[2] = { hash, idle };
	struct session_user *u = NULL;
	PGresult *res = NULL;

	*db_err = 0;
	if (!is_token(token) || sha256_hex(token, hash) < 0)
		goto out;
	snprintf(idle, sizeof(idle), "%d", SESSION_IDLE_SECONDS);
	res = db_exec_prepared(app->db, "session_load", sql, 2, p);
	if (res == NULL) {
		*db_err = -1;
		goto out;
	}
	if (PQntuples(res) != 1)
		goto out;
	u = arena_calloc(req->arena, sizeof(*u));
	u->session_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	u->user_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	u->email = arena_strdup(req->arena, PQgetvalue(res, 0, 2));
	u->role = arena_strdup(req->arena, PQgetvalue(res, 0, 3));
	u->operator = strcmp(u->role, "operator") == 0;
	u->csrf = arena_strdup(req->arena, PQgetvalue(res, 0, 4));
	u->own_business_id = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	u->business_id = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
	u->business = arena_strdup(req->arena, PQgetvalue(res, 0, 6));
	u->business_name = arena_strdup(req->arena, PQgetvalue(res, 0, 7));
	u->business_tz = arena_strdup(req->arena, PQgetvalue(res, 0, 8));
out:
	if (res)
		PQclear(res);
	return u;
}

/* ---- the throttle ------------------------------------------------------------------ */

/* See session.h. */
long session_throttle_wait(long long failures, long long since_last)
{
	long long wait;

	if (failures < SESSION_THROTTLE_SOFT)
		return 0;
	if (failures >= SESSION_THROTTLE_LOCK || failures - SESSION_THROTTLE_SOFT >= 4)
		wait = SESSION_THROTTLE_WINDOW;
	else
		wait = 60LL << (failures - SESSION_THROTTLE_SOFT);
	if (wait > SESSION_THROTTLE_WINDOW)
		wait = SESSION_THROTTLE_WINDOW;
	if (since_last < 0)
		since_last = 0;
	return wait > since_last ? (long)(wait - since_last) : 0;
}

/* See session.h. */
void session_address_key(const char *remote_addr, char out[64])
{
	unsigned char a6[16];
	struct in_addr a4;
	char text[INET6_ADDRSTRLEN];

	if (remote_addr && inet_pton(AF_INET, remote_addr, &a4) == 1 &&
		inet_ntop(AF_INET, &a4, text, sizeof(text))) {
		snprintf(out, 64, "addr:%s", text);
		return;
	}
	if (remote_addr && inet_pton(AF_INET6, remote_addr, a6) == 1) {
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(a6, mapped, sizeof(mapped)) == 0) {
			memcpy(&a4, a6 + 12, 4);
			if (inet_ntop(AF_INET, &a4, text, sizeof(text))) {
				snprintf(out, 64, "addr:%s", text);
				return;
			}
		}
		memset(a6 + 8, 0, 8);
		if (inet_ntop(AF_INET6, a6, text, sizeof(text))) {
			snprintf(out, 64, "addr:%s/64", text);
			return;
		}
	}
	snprintf(out, 64, "addr:other");
}

/* The throttle key of an unknown login: "unknown:<bucket>", the bucket a
 * keyed hash of the lower-cased login, so that the typed text is never
 * stored and the keys are bounded. */
static void unknown_key(const struct app *app, const char *email, char out[64])
{
	unsigned char mac[32];
	const char *secret = app->cfg.auth_token ? app->cfg.auth_token : "";
	size_t n = strlen(email);
	char *lower = xmalloc(n + 1);
	unsigned bucket = 0;

	for (size_t i = 0; i <= n; i++)
		lower[i] = (email[i] >= 'A' && email[i] <= 'Z') ? (char)(email[i] + 32) : email[i];
	if (util_hmac_labelled(secret, UNKNOWN_KEY_LABEL, lower, n, mac) == 0)
		bucket = ((unsigned)mac[0] << 8 | mac[1]) % SESSION_UNKNOWN_BUCKETS;
	snprintf(out, 64, "unknown:%u", bucket);
	explicit_bzero(mac, sizeof(mac));
	free(lower);
}

/* The failures of key counted in the window: the larger of Redis's
 * counter and PostgreSQL's rows (*since_last: seconds since the last
 * row, 0 when only Redis knows).  0, or -1 on a database error. */
static int failures_of(struct app *app, const char *key, long long *count, long long *since_last)
{
	char window[16], rkey[96];
	const char *p[2] = { key, window };
	const char *argv[2] = { "GET", rkey };
	PGresult *res;
	redisReply *r;
	long long pg, redis = 0;

	snprintf(window, sizeof(window), "%d", SESSION_THROTTLE_WINDOW);
	res = db_exec_prepared(app->db, "session_failures",
		"SELECT count(*), COALESCE(extract(epoch FROM now() - max(failed_at))::bigint, -1)"
		" FROM login_failures WHERE key = $1"
		"  AND failed_at > now() - $2::int * interval '1 second'", 2, p);
	if (res == NULL)
		return -1;
	pg = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*since_last = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	snprintf(rkey, sizeof(rkey), "%s%s", SESSION_FAIL_KEY_PREFIX, key);
	r = rds_command(app->rds, 2, argv, NULL);
	if (r && r->type == REDIS_REPLY_STRING)
		redis = strtoll(r->str, NULL, 10);
	if (r)
		freeReplyObject(r);
	*count = pg > redis ? pg : redis;
	if (*since_last < 0)
		*since_last = 0;
	return 0;
}

/* Counts one failure of key in both stores (Redis: INCR, and EXPIRE
 * when the counter is new) and prunes rows older than the window.  A
 * Redis failure is logged and left: PostgreSQL's row is the authority. */
static void failure_add(struct app *app, const char *key)
{
	char window[16], rkey[96];
	const char *p[2] = { key, window };
	const char *incr[2] = { "INCR", rkey };
	const char *expire[3] = { "EXPIRE", rkey, window };
	PGresult *res;
	redisReply *r;

	snprintf(window, sizeof(window), "%d", SESSION_THROTTLE_WINDOW);
	res = db_exec_prepared(app->db, "session_failure_add",
		"WITH d AS (DELETE FROM login_failures"
		"  WHERE failed_at < now() - $2::int * interval '1 second')"
		" INSERT INTO login_failures (key) VALUES ($1)", 2, p);
	if (res)
		PQclear(res);
	else
		log_error("session: cannot record a failed login: %s", db_last_error(app->db));
	snprintf(rkey, sizeof(rkey), "%s%s", SESSION_FAIL_KEY_PREFIX, key);
	r = rds_command(app->rds, 2, incr, NULL);
	if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
		freeReplyObject(r);
		r = rds_command(app->rds, 3, expire, NULL);
	}
	if (r)
		freeReplyObject(r);
}

/* Forgets key's failures (an account after a successful login). */
static void failures_clear(struct app *app, const char *key)
{
	char rkey[96];
	const char *p[1] = { key };
	const char *del[2] = { "DEL", rkey };
	PGresult *res;
	redisReply *r;

	res = db_exec_prepared(app->db, "session_failures_clear",
		"DELETE FROM login_failures WHERE key = $1", 1, p);
	if (res)
		PQclear(res);
	snprintf(rkey, sizeof(rkey), "%s%s", SESSION_FAIL_KEY_PREFIX, key);
	r = rds_command(app->rds, 2, del, NULL);
	if (r)
		freeReplyObject(r);
}

/* The longer wait of the keys (0: none).  0, or -1 on a database error. */
static int throttle_wait(struct app *app, const char *const *keys, int nkeys, long *wait_s)
{
	*wait_s = 0;
	for (int i = 0; i < nkeys; i++) {
		long long count, since;
		long w;
		if (failures_of(app, keys[i], &count, &since) < 0)
			return -1;
		w = session_throttle_wait(count, since);
		if (w > *wait_s)
			*wait_s = w;
	}
	return 0;
}

/* ---- logging in and out -------------------------------------------------------------- */

/* A new session of user_id (showing business acting, 0: the user's own)
 * inserts the row and puts its cookie on out.  The new session's id, or
 * -1 on a database (or randomness) error. */
static long long session_create(struct app *app, struct http_request *req, struct outcome *out,
	long long user_id, long long acting)
{
	char token[65], hash[65], csrf[65], uid[24], absolute[16], act[24];
	const char *p[7] = { hash, uid, csrf, absolute, req->remote_addr ? req->remote_addr : "",
		req->user_agent ? req->user_agent : "", acting > 0 ? act : NULL };
	PGresult *res;
	long long id = -1;

	if (new_token(token) < 0 || new_token(csrf) < 0 || sha256_hex(token, hash) < 0)
		goto out;
	snprintf(uid, sizeof(uid), "%lld", user_id);
	snprintf(absolute, sizeof(absolute), "%d", SESSION_ABSOLUTE_SECONDS);
	snprintf(act, sizeof(act), "%lld", acting);
	res = db_exec_prepared(app->db, "session_create",
		"INSERT INTO sessions (token_sha256, user_id, csrf_token, expires_at, remote_addr,"
		"  user_agent, acting_business_id)"
		" VALUES ($1, $2::bigint, $3, now() + $4::int * interval '1 second', left($5, 64),"
		"  left($6, 256), $7::bigint) RETURNING id", 7, p);
	if (res == NULL)
		goto out;
	if (PQntuples(res) == 1)
		id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (id > 0)
		add_cookie(out, session_cookie(req->arena, app->cfg.env, 0, token,
			SESSION_ABSOLUTE_SECONDS));
out:
	explicit_bzero(token, sizeof(token));
	return id;
}

/* Revokes the session of req's cookie, if it names one, and prunes
 * sessions that ended long ago. */
static void revoke_cookie_session(struct app *app, struct http_request *req)
{
	const char *token = cookie_value(req, session_cookie_name(app->cfg.env, 0));
	char hash[65];
	const char *p[1] = { hash };
	PGresult *res;

	if (is_token(token) && sha256_hex(token, hash) == 0) {
		res = db_exec_prepared(app->db, "session_revoke_token",
			"UPDATE sessions SET revoked_at = now() WHERE token_sha256 = $1"
			" AND revoked_at IS NULL", 1, p);
		if (res)
			PQclear(res);
	}
	res = db_exec_prepared(app->db, "session_prune",
		"DELETE FROM sessions WHERE expires_at < now() - interval '30 days'", 0, NULL);
	if (res)
		PQclear(res);
}

/* See session.h.  The same work for an unknown login and a wrong
 * password: one lookup, the throttle, one yescrypt hash, one failure. */
enum session_login_result session_login(struct app *app, struct http_request *req,
	struct outcome *out, const char *email, const char *password, long long *user_id,
	long long *business_id, long *wait_s)
{
	const char *p[1] = { email };
	char ukey[64], akey[64];
	const char *keys[2] = { ukey, akey };
	const char *hash = dummy_hash;
	PGresult *res;
	long long uid = 0;
	int ok;
	enum session_login_result rc = SESSION_LOGIN_ERROR;

	*user_id = *business_id = 0;
	*wait_s = 0;
	res = db_exec_prepared(app->db, "session_user",
		"SELECT id, password_hash, business_id FROM users WHERE lower(email) = lower($1)",
		1, p);
	if (res == NULL)
		goto out;
	if (PQntuples(res) == 1) {
		uid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		hash = arena_strdup(req->arena, PQgetvalue(res, 0, 1));
		*business_id = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
		snprintf(ukey, sizeof(ukey), "user:%lld", uid);
	} else {
		unknown_key(app, email, ukey);
	}
	PQclear(res);
	*user_id = uid;
	session_address_key(req->remote_addr, akey);
	if (throttle_wait(app, keys, 2, wait_s) < 0)
		goto out;
	if (*wait_s > 0) {
		/* A throttled attempt counts too: hammering keeps it locked. */
		failure_add(app, ukey);
		failure_add(app, akey);
		rc = SESSION_LOGIN_THROTTLED;
		goto out;
	}
	ok = users_verify_password(password, hash);
	if (!ok || uid == 0) {
		failure_add(app, ukey);
		failure_add(app, akey);
		rc = SESSION_LOGIN_REFUSED;
		goto out;
	}
	revoke_cookie_session(app, req);
	if (session_create(app, req, out, uid, 0) < 0)
		goto out;
	add_cookie(out, session_cookie(req->arena, app->cfg.env, 1, "", 0));
	failures_clear(app, ukey);
	rc = SESSION_LOGIN_OK;
out:
	return rc;
}

/* See session.h.  The keys are those of session_login, so that failures
 * here and at the login form count together. */
enum session_login_result session_reauth(struct app *app, struct http_request *req,
	const struct session_user *u, const char *password, const char *hash, long *wait_s)
{
	char ukey[64], akey[64];
	const char *keys[2] = { ukey, akey };

	*wait_s = 0;
	snprintf(ukey, sizeof(ukey), "user:%lld", u->user_id);
	session_address_key(req->remote_addr, akey);
	if (throttle_wait(app, keys, 2, wait_s) < 0)
		return SESSION_LOGIN_ERROR;
	if (*wait_s > 0 || !users_verify_password(password, hash)) {
		failure_add(app, ukey);
		failure_add(app, akey);
		return *wait_s > 0 ? SESSION_LOGIN_THROTTLED : SESSION_LOGIN_REFUSED;
	}
	failures_clear(app, ukey);
	return SESSION_LOGIN_OK;
}

/* See session.h. */
int session_logout(struct app *app, struct http_request *req, const struct session_user *u,
	struct outcome *out)
{
	char sid[24];
	const char *p[1] = { sid };
	PGresult *res;

	snprintf(sid, sizeof(sid), "%lld", u->session_id);
	res = db_exec_prepared(app->db, "session_logout",
		"UPDATE sessions SET revoked_at = now() WHERE id = $1::bigint AND revoked_at IS NULL",
		1, p);
	if (res == NULL)
		return -1;
	PQclear(res);
	add_cookie(out, session_cookie(req->arena, app->cfg.env, 0, "", 0));
	return 0;
}

/* Runs the prepared statement name (sql, an UPDATE of sessions taking
 * the ids a and b as $1 and $2).  The number of rows it changed, or -1 on
 * a database error. */
static long long session_update(struct app *app, const char *name, const char *sql,
	long long a, long long b)
{
	char as[24], bs[24];
	const char *p[2] = { as, bs };
	PGresult *res;
	long long n;

	snprintf(as, sizeof(as), "%lld", a);
	snprintf(bs, sizeof(bs), "%lld", b);
	res = db_exec_prepared(app->db, name, sql, 2, p);
	if (res == NULL)
		return -1;
	n = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n;
}

/* See session.h.  The new session first: a failure leaves the old one
 * working; then every other session of the user ends, this one too. */
int session_renew(struct app *app, struct http_request *req, struct outcome *out,
	const struct session_user *u)
{
	long long id = session_create(app, req, out, u->user_id,
		u->operator && u->business_id != u->own_business_id ? u->business_id : 0);
	struct session_user fresh;

	if (id < 0)
		return -1;
	fresh = *u;
	fresh.session_id = id;
	return session_revoke_others(app, &fresh) < 0 ? -1 : 0;
}

/* See session.h. */
long long session_revoke_others(struct app *app, const struct session_user *u)
{
	return session_update(app, "session_revoke_others",
		"UPDATE sessions SET revoked_at = now() WHERE user_id = $2::bigint"
		" AND id <> $1::bigint AND revoked_at IS NULL", u->session_id, u->user_id);
}

/* See session.h.  id is the key: at most one row changes. */
int session_revoke_own(struct app *app, const struct session_user *u, long long id)
{
	return (int)session_update(app, "session_revoke_own",
		"UPDATE sessions SET revoked_at = COALESCE(revoked_at, now())"
		" WHERE id = $1::bigint AND user_id = $2::bigint", id, u->user_id);
}

/* See session.h.  The session's id is the key: at most one row changes. */
int session_set_acting(struct app *app, const struct session_user *u, long long business_id)
{
	if (!u->operator)
		return 0;
	return (int)session_update(app, "session_set_acting",
		"UPDATE sessions s SET acting_business_id = b.id FROM businesses b"
		" WHERE s.id = $1::bigint AND b.id = $2::bigint", u->session_id, business_id);
}

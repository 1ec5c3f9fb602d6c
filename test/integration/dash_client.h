/* dash_client: a browser-like client of the dashboard for the
 * integration tests (over libcurl, through nginx like a browser).
 *
 * A struct dc is one browser: its own cookie jar (libcurl's in-memory
 * cookie engine: Set-Cookie is kept and sent back, Max-Age=0 deletes)
 * and the CSRF token of the last page it fetched that had one (the
 * value of the page's hidden <input name="csrf">; error pages have none
 * and leave it as it was).  Redirects are never followed:
 * a 303 is answered as it is (look at r.location).
 *
 * Typical use, in a test after hx_init:
 *
 *     struct dc_account acc;
 *     struct dc_response r;
 *     dc_account_or_fail(&acc, "owner");            // a new business + login
 *     struct dc *c = dc_login_or_fail(acc.email, acc.password);
 *     assert_int_equal(dc_get(c, "/settings/sessions", &r), 0);
 *     assert_int_equal(r.status, 200);
 *     dc_response_free(&r);
 *     // a form: name, value pairs, NULL-terminated; "csrf" is added with
 *     // the current token unless a pair names it ("csrf", NULL: leave it out)
 *     dc_post_form(c, "/account/password", &r, "old", acc.password,
 *         "new", "another long password", "new2", "another long password", NULL);
 *     assert_int_equal(r.status, 303);
 *     dc_response_free(&r);
 *     dc_free(c);
 *
 * Every function here may be called only from the test's own thread. */
#ifndef RF_DASH_CLIENT_H
#define RF_DASH_CLIENT_H

#include <stdarg.h>
#include <stddef.h>

#include "buf.h"

/* One answer.  status is 0 when no HTTP answer came back (error set). */
struct dc_response {
	long status;
	char location[1024];        /* Location, "" when none */
	char csp[1024];             /* Content-Security-Policy, "" when none */
	char content_type[128];     /* "" when none */
	struct buf set_cookie;      /* every Set-Cookie value, each ending in '\n' (owned) */
	struct buf headers;         /* every header line as received (owned) */
	struct buf body;            /* owned; buf_str(&r.body) is the text */
	char error[256];            /* transport error, "" when none */
};

struct dc {
	void *curl;                 /* the handle; its cookie engine is the jar */
	char csrf[128];             /* the last csrf input seen, "" before any */
};

/* A new client with an empty jar (fails the test when libcurl cannot). */
struct dc *dc_new(void);
void dc_free(struct dc *c);

/* GET path (joined to RINGFENCE_PUBLIC_URL).  0 when an answer came back,
 * -1 on a transport error (r->error).  r must be freed either way. */
int dc_get(struct dc *c, const char *path, struct dc_response *r);

/* POST path as application/x-www-form-urlencoded from the name, value
 * pairs (NULL-terminated; a NULL value leaves the pair out), with
 * csrf=<c->csrf> first unless the pairs name "csrf".  As dc_get. */
int dc_post_form(struct dc *c, const char *path, struct dc_response *r, ...)
	__attribute__((sentinel));

/* dc_post_form with the pairs in ap (consumed). */
int dc_post_formv(struct dc *c, const char *path, struct dc_response *r, va_list ap);

/* POST path as multipart/form-data: the file part field (filename, the
 * len bytes) and the name, value pairs as text parts (csrf as
 * dc_post_form).  As dc_get. */
int dc_post_multipart(struct dc *c, const char *path, const char *field, const char *filename,
	const void *bytes, size_t len, struct dc_response *r, ...) __attribute__((sentinel));

void dc_response_free(struct dc_response *r);

/* The value of the first header name (case-insensitive) of r into out
 * (size bytes); 1 found, 0 not. */
int dc_header(const struct dc_response *r, const char *name, char *out, size_t size);

/* The value of the jar's cookie name, as a new string (free it), or NULL. */
char *dc_cookie(struct dc *c, const char *name);
/* Puts the cookie name=value into the jar (as the server would have). */
void dc_set_cookie(struct dc *c, const char *name, const char *value);

/* ---- page helpers: each fails the test on a transport error. */

/* GET path: its status; the body (a new string, "" when there is none;
 * free it) into *body when body is not NULL. */
long dc_get_page(struct dc *c, const char *path, char **body);

/* GET path, failing unless the status is want; the body (free it). */
char *dc_get_or_fail(struct dc *c, const char *path, long want);

/* POSTs the form pairs (as dc_post_form) and fails unless the answer is
 * a 303 to exactly location. */
void dc_post_see_other_or_fail(struct dc *c, const char *path, const char *location, ...)
	__attribute__((sentinel));

/* POSTs the form pairs (as dc_post_form) and fails unless the answer is
 * a 303 to a Location of prefix, a positive id and then exactly notice
 * (anything when notice is NULL), as "/clients/" "42" "?notice=created";
 * the id. */
long long dc_post_id_or_fail(struct dc *c, const char *path, const char *prefix,
	const char *notice, ...) __attribute__((sentinel));

/* Logs in from a new client: GET /login (the login form's token and
 * cookie), then POST /login, then GET /settings/sessions for the
 * session's CSRF token.  The client (with the session's cookie and
 * token) when the login answered 303, else NULL (*status, when not NULL,
 * gets the login's status, or the sessions page's when that failed). */
struct dc *dc_login(const char *email, const char *password, long *status);
/* The same, failing the test unless the login works. */
struct dc *dc_login_or_fail(const char *email, const char *password);

/* A business of its own (time zone tz, NULL: "UTC") and a login of it
 * with role ("owner", "staff" or "operator") and a random 16-character
 * password, made through the database and users_add_role; fails the test on
 * an error.  Each call makes a new business and e-mail address. */
struct dc_account {
	long long business_id;
	long long user_id;
	char email[96];
	char password[32];
};
void dc_account_or_fail(struct dc_account *a, const char *role, const char *tz);

/* A logged-in user of a business of its own: the account (as
 * dc_account_or_fail with role and tz), the client logged in as it (after
 * dc_throttle_reset_or_fail, so earlier tests' failures do not throttle
 * it), and the business's id as text (a query parameter). */
struct dc_owner {
	struct dc_account acc;
	struct dc *c;
	char biz[24];
};
void dc_owner_or_fail(struct dc_owner *o, const char *role, const char *tz);
void dc_owner_free(struct dc_owner *o);

/* The number sql gives with the business's id as $1 (fails the test on
 * an error), as "SELECT count(*) FROM clients WHERE business_id = $1::bigint". */
long long dc_biz_count(long long business_id, const char *sql);

/* Forgets every failed login recorded for the throttle (PostgreSQL's
 * login_failures and Redis's counters), so that one test's failures do
 * not throttle the next test's logins from the same address. */
void dc_throttle_reset_or_fail(void);

#endif

/* unsubscribe: the one-click unsubscribe link and its page; see
 * include/unsubscribe.h.
 *
 * The token is checked before anything else is read or looked up, and
 * nothing from a request whose token does not verify names an audit key
 * or reaches the database. */
#include "unsubscribe.h"
#include "app.h"
#include "arena.h"
#include "audit.h"
#include "buf.h"
#include "config.h"
#include "db.h"
#include "form.h"
#include "html.h"
#include "http.h"
#include "log.h"
#include "util.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What the derived key is for; a new purpose or format gets a new label,
 * so no other HMAC ringfence makes under the same secret can collide. */
#define UNSUB_KEY_LABEL "ringfence unsubscribe v1"
/* The form field and value of RFC 8058's one-click POST. */
#define UNSUB_FIELD "List-Unsubscribe"
#define UNSUB_VALUE "One-Click"

/* See unsubscribe.h. */
int unsubscribe_token(const char *secret, long long client_id, long long business_id,
	char out[UNSUBSCRIBE_TOKEN_LEN + 1])
{
	unsigned char mac[32];
	char msg[64];
	int n, rc = -1;

	out[0] = '\0';
	if (secret == NULL || secret[0] == '\0' || client_id <= 0 || business_id <= 0)
		goto out;
	n = snprintf(msg, sizeof(msg), "%lld:%lld", client_id, business_id);
	if (util_hmac_labelled(secret, UNSUB_KEY_LABEL, msg, (size_t)n, mac) < 0)
		goto out;
	util_hex(mac, sizeof(mac), out);
	rc = 0;
out:
	return rc;
}

/* See unsubscribe.h. */
int unsubscribe_verify(const char *secret, long long client_id, long long business_id,
	const char *token)
{
	char want[UNSUBSCRIBE_TOKEN_LEN + 1];
	int ok;

	if (token == NULL || strlen(token) != UNSUBSCRIBE_TOKEN_LEN ||
		unsubscribe_token(secret, client_id, business_id, want) < 0)
		return 0;
	ok = CRYPTO_memcmp(want, token, UNSUBSCRIBE_TOKEN_LEN) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

/* See unsubscribe.h. */
char *unsubscribe_url(const struct config *cfg, long long client_id, long long business_id)
{
	char token[UNSUBSCRIBE_TOKEN_LEN + 1];

	if (cfg == NULL || cfg->public_url == NULL || cfg->public_url[0] == '\0' ||
		unsubscribe_token(cfg->auth_token, client_id, business_id, token) < 0)
		return NULL;
	return xasprintf("%s/unsubscribe?c=%lld&b=%lld&t=%s", cfg->public_url, client_id,
		business_id, token);
}

/* ---- the page -------------------------------------------------------------------- */

static const char tmpl_confirm[] =
	"<h1>Stop appointment reminders?</h1>\n"
	"<p>{{business}} sends you reminders of your appointments by phone call, text message "
	"and email. Press the button to stop all of them.</p>\n"
	"<form method=\"post\" action=\"{{action}}\">"
	"<input type=\"hidden\" name=\"" UNSUB_FIELD "\" value=\"" UNSUB_VALUE "\">"
	"<button type=\"submit\">Unsubscribe</button></form>\n"
	"<p>Nothing changes until you press it.</p>\n";
static const char tmpl_already[] =
	"<h1>You are unsubscribed</h1>\n"
	"<p>{{business}} no longer sends you appointment reminders. To have them again, "
	"ask {{business}}.</p>\n";
static const char tmpl_done[] =
	"<h1>You are unsubscribed</h1>\n"
	"<p>{{business}} will send you no more appointment reminders by call, text or email. "
	"To have them again, ask {{business}}.</p>\n";

/* The page to answer: status, title, and tmpl with fields (a
 * NULL-terminated list of name, value pairs, copied into the arena). */
static void page(struct outcome *out, struct arena *a, int status, const char *title,
	const char *tmpl, const char *const *fields)
{
	size_t n = 0;
	const char **f;

	while (fields[n])
		n++;
	f = arena_alloc(a, (n + 1) * sizeof(*f));
	for (size_t i = 0; i < n; i++)
		f[i] = arena_strdup(a, fields[i]);
	f[n] = NULL;
	out->status = status;
	out->page_title = arena_strdup(a, title);
	out->page_tmpl = tmpl;
	out->page_fields = f;
}

/* An error page: status, a title and one sentence. */
static void error_page(struct outcome *out, struct arena *a, int status, const char *title,
	const char *message)
{
	const char *const f[] = { "title", title, "message", message, NULL };
	page(out, a, status, title, dispatch_page_message, f);
}

/* ---- the request ----------------------------------------------------------------- */

/* The link's token: the length is all that is checked before the HMAC
 * (unsubscribe_verify, in constant time) says whether it is ours. */
static int valid_link_token(const char *v, size_t len)
{
	return v != NULL && len == UNSUBSCRIBE_TOKEN_LEN && memchr(v, '\0', len) == NULL;
}

const struct valid_field unsubscribe_query[UQ_NFIELDS] = {
	[UQ_CLIENT] = { "c", valid_id, 1, VALID_INT64 },
	[UQ_BUSINESS] = { "b", valid_id, 1, VALID_INT64 },
	[UQ_TOKEN] = { "t", valid_link_token, 1, VALID_TEXT },
};

/* 1 when the body is RFC 8058's "List-Unsubscribe=One-Click": form-
 * urlencoded, or multipart/form-data with that one field. */
static int one_click_body(const struct http_request *req)
{
	const char *ct = req->content_type ? req->content_type : "";

	if (strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
		struct params p;
		const char *v;
		if (form_parse(req->arena, req->body, req->body_len, NULL, &p) != FORM_OK ||
			form_count(&p, UNSUB_FIELD) != 1)
			return 0;
		v = form_get(&p, UNSUB_FIELD);
		return v != NULL && strcmp(v, UNSUB_VALUE) == 0;
	}
	if (strncasecmp(ct, "multipart/form-data", 19) == 0) {
		/* The part's headers name the field; its content follows the
		 * blank line and ends at the CRLF before the next boundary. */
		const char *name = strstr(req->body, "name=\"" UNSUB_FIELD "\"");
		const char *v = name ? strstr(name, "\r\n\r\n") : NULL;
		return v != NULL && strncmp(v + 4, UNSUB_VALUE "\r\n", strlen(UNSUB_VALUE) + 2) == 0;
	}
	return 0;
}

/* A refused request is recorded like every unverified one: a bounded
 * summary in audit:rejected (the dispatcher's audit_rejected), nothing
 * from the link or the body, no business or client named, so forged
 * links can neither flood audit:all nor push real records out of it. */
static void refuse(struct outcome *out, const struct http_request *req, int status,
	const char *reason)
{
	out->rejected = reason;
	log_warn("unsubscribe: request %s refused (%d): %s", req->request_id, status, reason);
}

/* See unsubscribe.h. */
void unsubscribe_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct http_request *req = in->req;
	struct arena *a = req->arena;
	const struct valid_value *q = in->query.v;
	const char *t;
	long long cid, bid;
	char ids[2][24];
	const char *p[2] = { ids[0], ids[1] };
	PGresult *r = NULL;
	int post = strcmp(req->method, "POST") == 0;

	if (!in->query_valid) {
		refuse(out, req, 400, "malformed link");
		error_page(out, a, 400, "This link is not complete",
			"Open the whole link from the email; nothing was changed.");
		goto out;
	}
	cid = q[UQ_CLIENT].i;
	bid = q[UQ_BUSINESS].i;
	t = q[UQ_TOKEN].s;
	if (!unsubscribe_verify(app->cfg.auth_token, cid, bid, t)) {
		refuse(out, req, 403, "token does not verify");
		error_page(out, a, 403, "This link is not valid",
			"It may have been changed or be out of date; nothing was changed. "
			"Ask the business that sent it to stop your reminders.");
		goto out;
	}
	if (post && !one_click_body(req)) {
		refuse(out, req, 400, "POST without List-Unsubscribe=One-Click");
		error_page(out, a, 400, "Nothing was changed",
			"This request did not ask to unsubscribe. Open the link from the email.");
		goto out;
	}
	snprintf(ids[0], sizeof(ids[0]), "%lld", cid);
	snprintf(ids[1], sizeof(ids[1]), "%lld", bid);
	if (post)
		/* One statement: the client is opted out (kept as it was if it
		 * already was) and we learn whether it already was. */
		r = db_exec_prepared(app->db, "unsubscribe_opt_out",
			"WITH old AS (SELECT id, opted_out_at FROM clients"
			" WHERE id = $1::bigint AND business_id = $2::bigint FOR UPDATE)"
			" UPDATE clients c SET opted_out_at = COALESCE(c.opted_out_at, now()),"
			/* Named, so that a texted START (which lifts only the
			 * opt-outs of texts and carriers) leaves it alone. */
			"  opted_out_by = CASE WHEN c.opted_out_at IS NULL THEN 'unsubscribe link'"
			"   ELSE c.opted_out_by END"
			" FROM old, businesses b WHERE c.id = old.id AND b.id = c.business_id"
			" RETURNING b.name, old.opted_out_at IS NOT NULL",
			2, p);
	else
		r = db_exec_prepared(app->db, "unsubscribe_look",
			"SELECT b.name, c.opted_out_at IS NOT NULL FROM clients c"
			" JOIN businesses b ON b.id = c.business_id"
			" WHERE c.id = $1::bigint AND c.business_id = $2::bigint",
			2, p);
	if (r == NULL) {
		log_error("unsubscribe: request %s client %lld business %lld: database error: %s",
			req->request_id, cid, bid, db_last_error(app->db));
		error_page(out, a, 503, "Please try again later",
			"We could not record this just now; nothing was changed.");
		goto out;
	}
	if (PQntuples(r) != 1) {
		error_page(out, a, 404, "Nothing to unsubscribe",
			"The business no longer has this client; nothing was changed.");
		goto out;
	}
	{
		const char *name = PQgetvalue(r, 0, 0);
		int already = PQgetvalue(r, 0, 1)[0] == 't';
		if (post) {
			const char *const f[] = { "business", name, NULL };
			out->audit_kind = "unsubscribe";
			out->business_id = arena_strdup(a, ids[1]);
			out->audit = json_pack("{s:s, s:I, s:I, s:b}", "verdict", "unsubscribed",
				"client_id", (json_int_t)cid, "business_id", (json_int_t)bid,
				"already_opted_out", already);
			log_info("unsubscribe: client %lld of business %lld opted out%s (request %s)",
				cid, bid, already ? " (already was)" : "", req->request_id);
			page(out, a, 200, "Unsubscribed", tmpl_done, f);
		} else if (already) {
			const char *const f[] = { "business", name, NULL };
			page(out, a, 200, "Unsubscribed", tmpl_already, f);
		} else {
			/* The form posts the one-click body to this same link. */
			const char *action = arena_printf(a, "/unsubscribe?c=%lld&b=%lld&t=%s", cid,
				bid, t);
			const char *const f[] = { "business", name, "action", action, NULL };
			page(out, a, 200, "Stop appointment reminders?", tmpl_confirm, f);
		}
	}
out:
	if (r)
		PQclear(r);
}

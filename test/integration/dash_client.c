/* dash_client: the dashboard's browser-like test client; see
 * dash_client.h. */
#include "harness.h"
#include "dash_client.h"
#include "db.h"
#include "session.h"
#include "users.h"
#include "util.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <strings.h>

/* ---- the client ------------------------------------------------------------ */

/* See dash_client.h. */
struct dc *dc_new(void)
{
	struct dc *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->curl = curl_easy_init()) == NULL)
		fail_msg("dash_client: no libcurl handle");
	/* An empty file name turns the cookie engine on without a file. */
	curl_easy_setopt(c->curl, CURLOPT_COOKIEFILE, "");
	return c;
}

void dc_free(struct dc *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

void dc_response_free(struct dc_response *r)
{
	buf_free(&r->set_cookie);
	buf_free(&r->headers);
	buf_free(&r->body);
}

/* libcurl's write callback: the body into the struct buf ud. */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	buf_append(ud, p, size * n);
	return size * n;
}

/* libcurl's header callback: every header line into the struct buf ud. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	buf_append(ud, p, size * n);
	return size * n;
}

/* See dash_client.h. */
int dc_header(const struct dc_response *r, const char *name, char *out, size_t size)
{
	const char *p = buf_str(&r->headers);
	size_t n = strlen(name);

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ')
				v++;
			len -= (size_t)(v - p);
			while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == ' '))
				len--;
			snprintf(out, size, "%.*s", (int)len, v);
			return 1;
		}
		p = eol ? eol + 1 : NULL;
	}
	if (size > 0)
		out[0] = '\0';
	return 0;
}

/* Every Set-Cookie value of r into r->set_cookie, one a line. */
static void collect_set_cookies(struct dc_response *r)
{
	const char *p = buf_str(&r->headers);

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > 11 && strncasecmp(p, "Set-Cookie:", 11) == 0) {
			const char *v = p + 11;
			while (*v == ' ')
				v++;
			len -= (size_t)(v - p);
			while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == ' '))
				len--;
			buf_append(&r->set_cookie, v, len);
			buf_putc(&r->set_cookie, '\n');
		}
		p = eol ? eol + 1 : NULL;
	}
}

/* The page's csrf input value into c->csrf; a page without one (an
 * error page) leaves the token as it was. */
static void take_csrf(struct dc *c, const struct dc_response *r)
{
	static const char needle[] = "name=\"csrf\" value=\"";
	const char *p = strstr(buf_str(&r->body), needle), *end;

	if (p == NULL)
		return;
	p += strlen(needle);
	end = strchr(p, '"');
	if (end && (size_t)(end - p) < sizeof(c->csrf))
		snprintf(c->csrf, sizeof(c->csrf), "%.*s", (int)(end - p), p);
}

/* Performs the request set up on c->curl (method, body, headers) for
 * path; fills r. */
static int perform(struct dc *c, const char *path, struct curl_slist *headers,
	struct dc_response *r)
{
	char *url = xasprintf("%s%s", hx_env.public_url, path);
	char errbuf[CURL_ERROR_SIZE] = "";
	char *ct = NULL;
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, 15000L);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "ringfence-integration dash_client");
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	cc = curl_easy_perform(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
	free(url);
	buf_str(&r->body);
	buf_str(&r->headers);
	if (cc != CURLE_OK) {
		snprintf(r->error, sizeof(r->error), "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
		return -1;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(r->content_type, sizeof(r->content_type), "%s", ct);
	dc_header(r, "Location", r->location, sizeof(r->location));
	dc_header(r, "Content-Security-Policy", r->csp, sizeof(r->csp));
	collect_set_cookies(r);
	if (strncmp(r->content_type, "text/html", 9) == 0)
		take_csrf(c, r);
	return 0;
}

int dc_get(struct dc *c, const char *path, struct dc_response *r)
{
	curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	return perform(c, path, NULL, r);
}

/* Appends name=value (encoded) to b, with '&' before all but the first. */
static void form_pair(struct buf *b, const char *name, const char *value)
{
	if (b->len > 0)
		buf_putc(b, '&');
	form_encode(b, name, strlen(name));
	buf_putc(b, '=');
	form_encode(b, value, strlen(value));
}

/* 1 when the NULL-terminated pairs of ap name "csrf". */
static int names_csrf(va_list ap)
{
	const char *name;
	int found = 0;

	while ((name = va_arg(ap, const char *)) != NULL) {
		(void)va_arg(ap, const char *);
		if (strcmp(name, "csrf") == 0)
			found = 1;
	}
	return found;
}

int dc_post_formv(struct dc *c, const char *path, struct dc_response *r, va_list ap)
{
	struct buf body = BUF_INIT;
	struct curl_slist *h = NULL;
	const char *name, *value;
	va_list aq;
	int rc;

	va_copy(aq, ap);
	if (!names_csrf(aq))
		form_pair(&body, "csrf", c->csrf);
	va_end(aq);
	while ((name = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		if (value)
			form_pair(&body, name, value);
	}
	h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded");
	curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(c->curl, CURLOPT_COPYPOSTFIELDS, buf_str(&body));
	rc = perform(c, path, h, r);
	curl_slist_free_all(h);
	buf_free(&body);
	return rc;
}

int dc_post_form(struct dc *c, const char *path, struct dc_response *r, ...)
{
	va_list ap;
	int rc;

	va_start(ap, r);
	rc = dc_post_formv(c, path, r, ap);
	va_end(ap);
	return rc;
}

int dc_post_multipart(struct dc *c, const char *path, const char *field, const char *filename,
	const void *bytes, size_t len, struct dc_response *r, ...)
{
	curl_mime *mime = curl_mime_init(c->curl);
	curl_mimepart *part;
	const char *name, *value;
	va_list ap;
	int rc;

	va_start(ap, r);
	if (!names_csrf(ap)) {
		part = curl_mime_addpart(mime);
		curl_mime_name(part, "csrf");
		curl_mime_data(part, c->csrf, CURL_ZERO_TERMINATED);
	}
	va_end(ap);
	va_start(ap, r);
	while ((name = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		if (value == NULL)
			continue;
		part = curl_mime_addpart(mime);
		curl_mime_name(part, name);
		curl_mime_data(part, value, CURL_ZERO_TERMINATED);
	}
	va_end(ap);
	part = curl_mime_addpart(mime);
	curl_mime_name(part, field);
	curl_mime_filename(part, filename);
	curl_mime_data(part, bytes, len);
	curl_easy_setopt(c->curl, CURLOPT_MIMEPOST, mime);
	rc = perform(c, path, NULL, r);
	curl_easy_setopt(c->curl, CURLOPT_MIMEPOST, NULL);
	curl_mime_free(mime);
	return rc;
}

/* ---- cookies ------------------------------------------------------------------- */

char *dc_cookie(struct dc *c, const char *name)
{
	struct curl_slist *list = NULL, *it;
	char *value = NULL;

	if (curl_easy_getinfo(c->curl, CURLINFO_COOKIELIST, &list) != CURLE_OK)
		return NULL;
	/* Netscape format: domain, flag, path, secure, expiry, name, value. */
	for (it = list; it && value == NULL; it = it->next) {
		const char *f = it->data;
		for (int i = 0; i < 5 && f; i++) {
			f = strchr(f, '\t');
			if (f)
				f++;
		}
		if (f && strncmp(f, name, strlen(name)) == 0 && f[strlen(name)] == '\t')
			value = xstrdup(f + strlen(name) + 1);
	}
	curl_slist_free_all(list);
	return value;
}

void dc_set_cookie(struct dc *c, const char *name, const char *value)
{
	const char *host = strstr(hx_env.public_url, "://");
	char hostname[256];
	char *line;
	size_t n;

	host = host ? host + 3 : hx_env.public_url;
	n = strcspn(host, ":/");
	snprintf(hostname, sizeof(hostname), "%.*s", (int)n, host);
	line = xasprintf("%s\tFALSE\t/\tFALSE\t0\t%s\t%s", hostname, name, value);
	curl_easy_setopt(c->curl, CURLOPT_COOKIELIST, line);
	free(line);
}

/* ---- logging in ------------------------------------------------------------------- */

struct dc *dc_login(const char *email, const char *password, long *status)
{
	struct dc *c = dc_new();
	struct dc_response r;
	long st = 0;

	if (dc_get(c, "/login", &r) == 0 && r.status == 200) {
		dc_response_free(&r);
		/* Every field of the form, as a browser sends it: the hidden
		 * "next" is empty on a plain visit to /login. */
		if (dc_post_form(c, "/login", &r, "email", email, "password", password, "next", "",
			    NULL) == 0)
			st = r.status;
		if (st == 303) {
			/* The page it was sent to may not exist yet: the token
			 * comes from the sessions page, which always does. */
			dc_response_free(&r);
			if (dc_get(c, "/settings/sessions", &r) != 0 || r.status != 200)
				st = r.status;
		}
	}
	dc_response_free(&r);
	if (status)
		*status = st;
	if (st != 303) {
		dc_free(c);
		return NULL;
	}
	return c;
}

struct dc *dc_login_or_fail(const char *email, const char *password)
{
	long st = 0;
	struct dc *c = dc_login(email, password, &st);

	if (c == NULL)
		fail_msg("dash_client: logging in as %s answered %ld, not 303", email, st);
	return c;
}

/* ---- page helpers ------------------------------------------------------------ */

long dc_get_page(struct dc *c, const char *path, char **body)
{
	struct dc_response r;
	long st;

	if (dc_get(c, path, &r) != 0)
		fail_msg("GET %s: %s", path, r.error);
	st = r.status;
	if (body)
		*body = xstrdup(r.body.data ? buf_str(&r.body) : "");
	dc_response_free(&r);
	return st;
}

char *dc_get_or_fail(struct dc *c, const char *path, long want)
{
	struct dc_response r;
	char *body;

	if (dc_get(c, path, &r) != 0)
		fail_msg("GET %s: %s", path, r.error);
	if (r.status != want)
		fail_msg("GET %s: HTTP %ld, want %ld:\n%.2000s", path, r.status, want,
			buf_str(&r.body));
	body = xstrdup(r.body.data ? buf_str(&r.body) : "");
	dc_response_free(&r);
	return body;
}

/* POSTs the pairs of ap to path and fails unless the answer is a 303;
 * its Location into loc (size bytes). */
static void post_see_other(struct dc *c, const char *path, char *loc, size_t size, va_list ap)
{
	struct dc_response r;

	if (dc_post_formv(c, path, &r, ap) != 0)
		fail_msg("POST %s: %s", path, r.error);
	if (r.status != 303)
		fail_msg("POST %s: HTTP %ld, want 303:\n%.2000s", path, r.status,
			buf_str(&r.body));
	snprintf(loc, size, "%s", r.location);
	dc_response_free(&r);
}

void dc_post_see_other_or_fail(struct dc *c, const char *path, const char *location, ...)
{
	char loc[1024];
	va_list ap;

	va_start(ap, location);
	post_see_other(c, path, loc, sizeof(loc), ap);
	va_end(ap);
	if (strcmp(loc, location) != 0)
		fail_msg("POST %s: 303 to '%s', want '%s'", path, loc, location);
}

long long dc_post_id_or_fail(struct dc *c, const char *path, const char *prefix,
	const char *notice, ...)
{
	char loc[1024], *end;
	size_t n = strlen(prefix);
	long long id;
	va_list ap;

	va_start(ap, notice);
	post_see_other(c, path, loc, sizeof(loc), ap);
	va_end(ap);
	if (strncmp(loc, prefix, n) != 0)
		fail_msg("POST %s: Location '%s' does not start with %s", path, loc, prefix);
	id = strtoll(loc + n, &end, 10);
	if (end == loc + n || id <= 0)
		fail_msg("POST %s: no id in Location '%s'", path, loc);
	if (notice && strcmp(end, notice) != 0)
		fail_msg("POST %s: Location '%s' does not end in '%s'", path, loc, notice);
	return id;
}

/* ---- fixtures ------------------------------------------------------------------------ */

void dc_account_or_fail(struct dc_account *a, const char *role, const char *tz)
{
	char phone[13], hex[17], err[256];
	const char *bp[3] = { NULL, tz ? tz : "UTC", phone };
	struct db *db;
	char *name;

	memset(a, 0, sizeof(*a));
	hx_random_phone(phone);
	hx_random_hex(hex, 8);
	name = xasprintf("Test business %s", hex);
	bp[0] = name;
	a->business_id = hx_db_int_or_fail(
		"INSERT INTO businesses (name, time_zone, callback_phone, status, verified)"
		" VALUES ($1, $2, $3, 'active', true) RETURNING id", 3, bp);
	free(name);
	snprintf(a->email, sizeof(a->email), "user-%s@example.com", hex);
	if (users_random_password(a->password, 16) < 0)
		fail_msg("dash_client: no random password");
	db = db_open(hx_env.database_url);
	a->user_id = users_add_role(db, a->business_id, a->email, a->password,
		role ? role : "owner", err, sizeof(err));
	db_close(db);
	if (a->user_id < 0)
		fail_msg("dash_client: users_add_role: %s", err);
}

void dc_throttle_reset_or_fail(void)
{
	static const char script[] =
		"local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do"
		" n = n + redis.call('DEL', k) end return n";
	const char *argv[] = { "EVAL", script, "0", SESSION_FAIL_KEY_PREFIX "*" };
	char err[256];

	hx_db_cmd_or_fail("DELETE FROM login_failures", 0, NULL);
	if (hx_redis(4, argv, NULL, err, sizeof(err)) < 0)
		fail_msg("dash_client: cannot reset the login throttle in Redis: %s", err);
}

void dc_owner_or_fail(struct dc_owner *o, const char *role, const char *tz)
{
	memset(o, 0, sizeof(*o));
	dc_throttle_reset_or_fail();
	dc_account_or_fail(&o->acc, role, tz);
	snprintf(o->biz, sizeof(o->biz), "%lld", o->acc.business_id);
	o->c = dc_login_or_fail(o->acc.email, o->acc.password);
}

void dc_owner_free(struct dc_owner *o)
{
	dc_free(o->c);
	o->c = NULL;
}

long long dc_biz_count(long long business_id, const char *sql)
{
	char bid[24];
	const char *p[1] = { bid };

	snprintf(bid, sizeof(bid), "%lld", business_id);
	return hx_db_int_or_fail(sql, 1, p);
}

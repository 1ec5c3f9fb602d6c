/* Integration tests of the JSON API (/api/v1/) through nginx, the
 * FastCGI pool, PostgreSQL and Redis, all real (see harness.h).
 *
 * Every test makes its own business and key, so tests neither see nor
 * disturb each other's rows.  Times come from the stack's real clock: the
 * tests bracket each request with their own clock readings. */
#include "harness.h"
#include "apikey.h"
#include "oas.h"
#include "clock.h"
#include "rfc3339.h"
#include "util.h"

#include <curl/curl.h>
#include <strings.h>
#include <time.h>

#define SECRET_NOTE "allergic to latex, secret-note-7f3a"
#define H 3600LL
/* Over the API's body cap (16 KiB), under nginx's (64 KiB). */
#define API_BIG (20 * 1024)

/* ---- HTTP with headers -------------------------------------------------- */

struct api_rs {
	long status;
	struct buf body;
	char content_type[128];
	char www_authenticate[256];
	char allow[64];
	char location[128];
	char retry_after[16];
	char replayed[16];          /* Idempotent-Replayed */
	char headers[32][48];       /* the names of the response's headers */
	const char *header_names[33]; /* the same, NULL-terminated, for oas_api_check */
	size_t nheaders;
	json_t *json;               /* the body parsed, NULL when not JSON */
};

static size_t api_body_cb(char *p, size_t sz, size_t n, void *ud)
{
	buf_append(ud, p, sz * n);
	return sz * n;
}

/* Copies "Name: value" into dst when the header line is name. */
static void api_header_take(const char *line, size_t len, const char *name, char *dst,
	size_t dstlen)
{
	size_t nl = strlen(name), vl;
	if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	line += nl + 1;
	len -= nl + 1;
	while (len && *line == ' ')
		line++, len--;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	vl = len < dstlen - 1 ? len : dstlen - 1;
	memcpy(dst, line, vl);
	dst[vl] = '\0';
}

static size_t api_header_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct api_rs *rs = ud;
	const char *colon = memchr(p, ':', sz * n);
	api_header_take(p, sz * n, "WWW-Authenticate", rs->www_authenticate,
		sizeof(rs->www_authenticate));
	api_header_take(p, sz * n, "Allow", rs->allow, sizeof(rs->allow));
	api_header_take(p, sz * n, "Location", rs->location, sizeof(rs->location));
	api_header_take(p, sz * n, "Retry-After", rs->retry_after, sizeof(rs->retry_after));
	api_header_take(p, sz * n, "Idempotent-Replayed", rs->replayed, sizeof(rs->replayed));
	if (colon && rs->nheaders < ARRAY_LEN(rs->headers) &&
		(size_t)(colon - p) < sizeof(rs->headers[0])) {
		memcpy(rs->headers[rs->nheaders], p, (size_t)(colon - p));
		rs->headers[rs->nheaders][colon - p] = '\0';
		rs->header_names[rs->nheaders] = rs->headers[rs->nheaders];
		rs->nheaders++;
	}
	return sz * n;
}

/* Every exchange of these tests is held to the API's OpenAPI description
 * (src/www/openapi.json, oas.h): the route, the method, the status and
 * its headers, the answer's schema and, for a 2xx, the request body.  In
 * api_call, so that no test can go around it. */
static void api_oas_or_fail(const char *method, const char *path, const char *body,
	size_t body_len, const struct api_rs *rs)
{
	char route[256], err[768], *req = NULL;
	size_t n = strcspn(path, "?");

	if (n >= sizeof(route))
		fail_msg("%s %.60s...: path too long for the check", method, path);
	memcpy(route, path, n);
	route[n] = '\0';
	if (body && body_len < 64 * 1024) {
		req = xmalloc(body_len + 1);
		memcpy(req, body, body_len);
		req[body_len] = '\0';
	}
	if (oas_api_check(method, route, (int)rs->status, req, buf_str(&rs->body),
		    rs->header_names, err, sizeof(err)) < 0)
		fail_msg("%s %s -> %ld does not agree with the OpenAPI description: %s\n%.400s",
			method, path, rs->status, err, buf_str(&rs->body));
	free(req);
}

static void api_rs_free(struct api_rs *rs)
{
	buf_free(&rs->body);
	json_decref(rs->json);
	memset(rs, 0, sizeof(*rs));
}

/* method path (under the public URL) with an optional Authorization
 * value (NULL: none), content type (NULL: none), Idempotency-Key (NULL:
 * none) and body.  Fails the test when no HTTP answer comes back, or when
 * the exchange does not agree with the OpenAPI description. */
static void api_call_idem(const char *method, const char *path, const char *auth,
	const char *ctype, const char *idem, const char *body, size_t body_len, struct api_rs *rs)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char *url = xasprintf("%s%s", hx_env.public_url, path), *hv = NULL, *cv = NULL, *iv = NULL;
	const char *ct = NULL;
	CURLcode rc;

	memset(rs, 0, sizeof(*rs));
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, api_body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &rs->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, api_header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
	if (auth) {
		hv = xasprintf("Authorization: %s", auth);
		h = curl_slist_append(h, hv);
	}
	/* Without a type curl would say form-urlencoded. */
	if (ctype)
		cv = xasprintf("Content-Type: %s", ctype);
	h = curl_slist_append(h, cv ? cv : "Content-Type:");
	h = curl_slist_append(h, "Expect:");
	if (idem) {
		iv = xasprintf("Idempotency-Key: %s", idem);
		h = curl_slist_append(h, iv);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(rs->content_type, sizeof(rs->content_type), "%s", ct);
	rs->json = json_loads(buf_str(&rs->body), 0, NULL);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(hv);
	free(cv);
	free(iv);
	free(url);
	api_oas_or_fail(method, path, body, body_len, rs);
}

static void api_call(const char *method, const char *path, const char *auth, const char *ctype,
	const char *body, size_t body_len, struct api_rs *rs)
{
	api_call_idem(method, path, auth, ctype, NULL, body, body_len, rs);
}

/* A JSON request with key k. */
static void api_json(const char *method, const char *path, const char *key, const char *body,
	struct api_rs *rs)
{
	char *auth = key ? xasprintf("Bearer %s", key) : NULL;
	api_call(method, path, auth, body ? "application/json" : NULL, body,
		body ? strlen(body) : 0, rs);
	free(auth);
}

/* Checks rs is an error with status, code and (when not NULL) field. */
static void api_expect_error(const struct api_rs *rs, long status, const char *code,
	const char *field, const char *what)
{
	json_t *e = json_object_get(rs->json, "error");
	const char *got_code = json_string_value(json_object_get(e, "code"));
	const char *got_field = json_string_value(json_object_get(e, "field"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (rs->status != status || got_code == NULL || strcmp(got_code, code) != 0)
		fail_msg("%s: got HTTP %ld %s (want %ld %s)", what, rs->status, buf_str(&rs->body),
			status, code);
	if (strncmp(rs->content_type, "application/json", 16) != 0)
		fail_msg("%s: Content-Type '%s'", what, rs->content_type);
	if (msg == NULL || *msg == '\0')
		fail_msg("%s: no message", what);
	if (field) {
		if (got_field == NULL || strcmp(got_field, field) != 0)
			fail_msg("%s: error names field '%s' (want '%s'): %s", what,
				got_field ? got_field : "(none)", field, buf_str(&rs->body));
		if (strstr(msg, field) == NULL)
			fail_msg("%s: message does not name '%s': %s", what, field, msg);
	}
}

static void api_expect_status(const struct api_rs *rs, long status, const char *what)
{
	if (rs->status != status || rs->json == NULL)
		fail_msg("%s: HTTP %ld (want %ld with JSON): %s", what, rs->status, status,
			buf_str(&rs->body));
}

/* GET path with key: fails unless the answer is a 200 whose "data"
 * array has n items (what names the request in the failure). */
static void api_list_or_fail(const char *key, const char *path, size_t n, const char *what)
{
	struct api_rs rs;

	api_json("GET", path, key, NULL, &rs);
	api_expect_status(&rs, 200, what);
	if (json_array_size(json_object_get(rs.json, "data")) != n)
		fail_msg("%s: %zu items, want %zu", what,
			json_array_size(json_object_get(rs.json, "data")), n);
	api_rs_free(&rs);
}

/* ---- fixtures ------------------------------------------------------------- */

struct api_biz {
	char id[24];
	char key[APIKEY_LEN + 1];
};

/* A business (with policy "channel offset stale;..." lines, or NULL) and
 * a key of its own. */
static void api_business(struct api_biz *b, const char *policy)
{
	char prefix[APIKEY_PREFIX_LEN + 1], hash[65], *id;
	const char *p[4];
	PGresult *res;
	char err[256];

	id = hx_db_value_or_fail("INSERT INTO businesses (name, time_zone, callback_phone, status, "
		"verified) VALUES ('API test', 'America/New_York', '+15555550100', 'active', true) "
		"RETURNING id", 0, NULL);
	snprintf(b->id, sizeof(b->id), "%s", id);
	free(id);
	assert_int_equal(apikey_generate(b->key), 0);
	assert_int_equal(apikey_parse(b->key, prefix), 1);
	assert_int_equal(apikey_hash(b->key, hash), 0);
	p[0] = b->id;
	p[1] = prefix;
	p[2] = hash;
	res = hx_db_exec("INSERT INTO api_keys (business_id, prefix, key_sha256, label) "
		"VALUES ($1::bigint, $2, $3, 'integration')", 3, p, err, sizeof(err));
	if (res == NULL)
		fail_msg("api key: %s", err);
	PQclear(res);
	if (policy) {
		p[1] = policy;
		res = hx_db_exec("INSERT INTO reminder_policies (business_id, channel, offset_minutes, "
			"stale_after_minutes) SELECT $1::bigint, split_part(l, ' ', 1), "
			"split_part(l, ' ', 2)::int, split_part(l, ' ', 3)::int "
			"FROM unnest(string_to_array($2, ';')) l", 2, p, err, sizeof(err));
		if (res == NULL)
			fail_msg("policy: %s", err);
		PQclear(res);
	}
}

/* Creates a client through the API; returns its id. */
static long long api_client(const struct api_biz *b, const char *email)
{
	char phone[13], *body;
	struct api_rs rs;
	long long id;

	hx_random_phone(phone);
	body = email ? xasprintf("{\"name\": \"Ann Example\", \"phone\": \"%s\", \"email\": \"%s\", "
				 "\"time_zone\": \"America/Chicago\"}", phone, email)
		     : xasprintf("{\"name\": \"Ann Example\", \"phone\": \"%s\"}", phone);
	api_json("POST", "/api/v1/clients", b->key, body, &rs);
	api_expect_status(&rs, 201, "create client");
	id = json_integer_value(json_object_get(rs.json, "id"));
	assert_true(id > 0);
	assert_string_equal(json_string_value(json_object_get(rs.json, "phone")), phone);
	if (email) {
		assert_string_equal(json_string_value(json_object_get(rs.json, "email")), email);
		assert_string_equal(json_string_value(json_object_get(rs.json, "time_zone")),
			"America/Chicago");
	}
	api_rs_free(&rs);
	free(body);
	return id;
}

/* RFC 3339 of unix time t in UTC, and the same instant with an offset. */
static void api_time(long long t, char out[32])
{
	clock_sql(t, out);
}

static void api_time_offset(long long t, char out[40])
{
	time_t tt = (time_t)(t - 5 * H);
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 40, "%Y-%m-%dT%H:%M:%S-05:00", &tm);
}

/* Books an appointment through the API; rs holds the answer. */
static void api_book(const struct api_biz *b, long long client, long long starts,
	struct api_rs *rs)
{
	char st[40];
	char *body;
	api_time_offset(starts, st);
	body = xasprintf("{\"client_id\": %lld, \"starts_at\": \"%s\", \"notes\": \"%s\"}", client,
		st, SECRET_NOTE);
	api_json("POST", "/api/v1/appointments", b->key, body, rs);
	free(body);
}

/* Books an appointment through the API (which must answer 201): its id,
 * as text in ids and as the appointment's API path in path. */
static long long api_booked_or_fail(const struct api_biz *b, long long client, long long starts,
	char ids[24], char path[64])
{
	struct api_rs rs;
	long long id;

	api_book(b, client, starts, &rs);
	api_expect_status(&rs, 201, "book");
	id = json_integer_value(json_object_get(rs.json, "id"));
	api_rs_free(&rs);
	snprintf(ids, 24, "%lld", id);
	snprintf(path, 64, "/api/v1/appointments/%lld", id);
	return id;
}

static long long api_ts(json_t *v)
{
	long long t = -1;
	if (!json_is_string(v) || rfc3339_parse(json_string_value(v), &t) < 0)
		fail_msg("not a timestamp: %s", json_is_string(v) ? json_string_value(v) : "(not a string)");
	return t;
}

/* The reminder of appointment JSON a (current plan, i.e. not superseded)
 * on channel, or NULL. */
static json_t *api_reminder(json_t *a, const char *channel, const char *status)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(a, "reminders"), i, r) {
		if (strcmp(json_string_value(json_object_get(r, "channel")), channel) == 0 &&
			json_is_null(json_object_get(r, "superseded_at")) &&
			(status == NULL ||
				strcmp(json_string_value(json_object_get(r, "status")), status) == 0))
			return r;
	}
	return NULL;
}

static long long api_count(const char *sql, const char *a)
{
	const char *p[] = { a };
	return hx_db_int_or_fail(sql, 1, p);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_auth(void **state)
{
	struct api_biz b;
	struct api_rs rs;
	char wrong[APIKEY_LEN + 1], prefix[APIKEY_PREFIX_LEN + 1], *bearer;
	static const char body[] = "{\"name\": \"X\", \"phone\": \"+15555550111\"}";
	(void)state;
	api_business(&b, NULL);

	api_call("POST", "/api/v1/clients", NULL, "application/json", body, strlen(body), &rs);
	api_expect_error(&rs, 401, "unauthorized", NULL, "no Authorization");
	assert_true(strncmp(rs.www_authenticate, "Bearer", 6) == 0);
	api_rs_free(&rs);

	bearer = xasprintf("Basic %s", b.key);
	api_call("POST", "/api/v1/clients", bearer, "application/json", body, strlen(body), &rs);
	api_expect_error(&rs, 401, "unauthorized", NULL, "Basic scheme");
	assert_true(strncmp(rs.www_authenticate, "Bearer", 6) == 0);
	api_rs_free(&rs);
	free(bearer);

	api_json("POST", "/api/v1/clients", "not-a-key", body, &rs);
	api_expect_error(&rs, 401, "unauthorized", NULL, "malformed key");
	assert_non_null(strstr(rs.www_authenticate, "invalid_token"));
	api_rs_free(&rs);

	/* The right prefix with a wrong secret. */
	memcpy(wrong, b.key, sizeof(wrong));
	wrong[APIKEY_LEN - 1] = wrong[APIKEY_LEN - 1] == 'x' ? 'y' : 'x';
	api_json("POST", "/api/v1/clients", wrong, body, &rs);
	api_expect_error(&rs, 401, "unauthorized", NULL, "wrong secret");
	api_rs_free(&rs);

	/* GET needs the key too, and says nothing about the resource. */
	api_json("GET", "/api/v1/appointments/1", NULL, NULL, &rs);
	api_expect_error(&rs, 401, "unauthorized", NULL, "GET without a key");
	api_rs_free(&rs);

	/* The real key works ... */
	api_json("POST", "/api/v1/clients", b.key, body, &rs);
	api_expect_status(&rs, 201, "good key");
	api_rs_free(&rs);
	/* ... until revoked. */
	assert_int_equal(apikey_parse(b.key, prefix), 1);
	{
		const char *p[] = { prefix };
		char err[256];
		PGresult *res = hx_db_exec("UPDATE api_keys SET revoked_at = now() WHERE prefix = $1", 1,
			p, err, sizeof(err));
		assert_non_null(res);
		PQclear(res);
	}
	api_json("POST", "/api/v1/clients", b.key, body, &rs);
	api_expect_error(&rs, 401, "unauthorized", NULL, "revoked key");
	api_rs_free(&rs);
}

struct api_case {
	const char *body;
	long status;
	const char *code;
	const char *field;
};

static void api_cases(const struct api_biz *b, const char *method, const char *path,
	const struct api_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct api_rs rs;
		char what[256];
		snprintf(what, sizeof(what), "%s %s %.120s", method, path, cases[i].body);
		api_json(method, path, b->key, cases[i].body, &rs);
		api_expect_error(&rs, cases[i].status, cases[i].code, cases[i].field, what);
		api_rs_free(&rs);
	}
}

static void test_client_validation(void **state)
{
	struct api_biz b;
	char *longname;
	(void)state;
	api_business(&b, NULL);
	longname = xmalloc(300);
	memset(longname, 0, 300);
	strcpy(longname, "{\"name\": \"");
	memset(longname + strlen(longname), 'n', 201);
	strcat(longname, "\", \"phone\": \"+15555550111\"}");
	const struct api_case cases[] = {
		{ "{\"phone\": \"+15555550111\"}", 422, "missing_field", "name" },
		{ "{\"name\": \"\", \"phone\": \"+15555550111\"}", 422, "invalid_field", "name" },
		{ "{\"name\": \"   \", \"phone\": \"+15555550111\"}", 422, "invalid_field", "name" },
		{ "{\"name\": 42, \"phone\": \"+15555550111\"}", 422, "invalid_field", "name" },
		{ "{\"name\": \"A\\u0007B\", \"phone\": \"+15555550111\"}", 422, "invalid_field", "name" },
		{ longname, 422, "invalid_field", "name" },
		{ "{\"name\": \"Ann\", \"phone\": \"5555550111\"}", 422, "invalid_field", "phone" },
		{ "{\"name\": \"Ann\", \"phone\": \"+0555\"}", 422, "invalid_field", "phone" },
		{ "{\"name\": \"Ann\", \"phone\": 15555550111}", 422, "invalid_field", "phone" },
		{ "{\"name\": \"Ann\", \"email\": \"ann-at-example.com\"}", 422, "invalid_field", "email" },
		{ "{\"name\": \"Ann\", \"email\": \"ann@example\"}", 422, "invalid_field", "email" },
		{ "{\"name\": \"Ann\", \"email\": \"a b@example.com\"}", 422, "invalid_field", "email" },
		/* what the mailer refuses, the API refuses (one validator) */
		{ "{\"name\": \"Ann\", \"email\": \"a,b@example.com\"}", 422, "invalid_field", "email" },
		{ "{\"name\": \"Ann\", \"email\": \"(x)@example.com\"}", 422, "invalid_field", "email" },
		{ "{\"name\": \"Ann\", \"email\": \"ann\\u00a0lee@example.com\"}", 422, "invalid_field",
			"email" },
		{ "{\"name\": \"Ann\"}", 422, "missing_field", "phone" },
		{ "{\"name\": \"Ann\", \"phone\": null, \"email\": null}", 422, "missing_field", "phone" },
		{ "{\"name\": \"Ann\", \"phone\": \"+15555550111\", \"time_zone\": \"Mars/Olympus\"}", 422,
			"invalid_field", "time_zone" },
		{ "{\"name\": \"Ann\", \"phone\": \"+15555550111\", \"time_zone\": \"+05:00\"}", 422,
			"invalid_field", "time_zone" },
		{ "{\"name\": \"Ann\", \"phone\": \"+15555550111\", \"nmae\": \"x\"}", 422,
			"unknown_field", "nmae" },
		{ "[]", 400, "invalid_json", NULL },
		{ "{\"name\": ", 400, "invalid_json", NULL },
		{ "", 400, "invalid_json", NULL },
		{ "{\"name\": \"A\", \"name\": \"B\", \"phone\": \"+15555550111\"}", 400, "invalid_json", NULL },
	};
	api_cases(&b, "POST", "/api/v1/clients", cases, sizeof(cases) / sizeof(cases[0]));
	free(longname);
	/* Nothing of that was created. */
	assert_int_equal(api_count("SELECT count(*) FROM clients WHERE business_id = $1::bigint", b.id), 0);
}

static void test_appointment_validation(void **state)
{
	struct api_biz b;
	long long client;
	char past[32], future[32], *notes_long, *b_past, *b_nonum, *b_notes, *b_notesnum;
	char *b_unknown, *b_zero, *b_str, *b_neg, *b_noclient, *b_missing_starts, *b_nooffset;
	char *b_words;
	(void)state;
	api_business(&b, NULL);
	client = api_client(&b, NULL);
	api_time((long long)time(NULL) - 60, past);
	api_time((long long)time(NULL) + 72 * H, future);
	notes_long = xmalloc(4002);
	memset(notes_long, 'n', 4001);
	notes_long[4001] = '\0';
	b_past = xasprintf("{\"client_id\": %lld, \"starts_at\": \"%s\"}", client, past);
	b_nooffset = xasprintf("{\"client_id\": %lld, \"starts_at\": \"2030-01-01T10:00:00\"}", client);
	b_words = xasprintf("{\"client_id\": %lld, \"starts_at\": \"tomorrow at ten\"}", client);
	b_nonum = xasprintf("{\"client_id\": %lld, \"starts_at\": 1900000000}", client);
	b_notes = xasprintf("{\"client_id\": %lld, \"starts_at\": \"%s\", \"notes\": \"%s\"}", client,
		future, notes_long);
	b_notesnum = xasprintf("{\"client_id\": %lld, \"starts_at\": \"%s\", \"notes\": 7}", client,
		future);
	b_unknown = xasprintf("{\"client_id\": %lld, \"start_at\": \"%s\"}", client, future);
	b_zero = xasprintf("{\"client_id\": 0, \"starts_at\": \"%s\"}", future);
	b_neg = xasprintf("{\"client_id\": -4, \"starts_at\": \"%s\"}", future);
	b_str = xasprintf("{\"client_id\": \"%lld\", \"starts_at\": \"%s\"}", client, future);
	b_noclient = xasprintf("{\"starts_at\": \"%s\"}", future);
	b_missing_starts = xasprintf("{\"client_id\": %lld}", client);
	const struct api_case cases[] = {
		{ b_past, 422, "invalid_field", "starts_at" },
		{ b_nooffset, 422, "invalid_field", "starts_at" },
		{ b_words, 422, "invalid_field", "starts_at" },
		{ b_nonum, 422, "invalid_field", "starts_at" },
		{ b_missing_starts, 422, "missing_field", "starts_at" },
		{ b_notes, 422, "invalid_field", "notes" },
		{ b_notesnum, 422, "invalid_field", "notes" },
		{ b_unknown, 422, "unknown_field", "start_at" },
		{ b_zero, 422, "invalid_field", "client_id" },
		{ b_neg, 422, "invalid_field", "client_id" },
		{ b_str, 422, "invalid_field", "client_id" },
		{ b_noclient, 422, "missing_field", "client_id" },
	};
	api_cases(&b, "POST", "/api/v1/appointments", cases, sizeof(cases) / sizeof(cases[0]));
	assert_int_equal(api_count("SELECT count(*) FROM appointments WHERE business_id = $1::bigint",
		b.id), 0);
	free(notes_long);
	free(b_past);
	free(b_nooffset);
	free(b_words);
	free(b_nonum);
	free(b_notes);
	free(b_notesnum);
	free(b_unknown);
	free(b_zero);
	free(b_neg);
	free(b_str);
	free(b_noclient);
	free(b_missing_starts);
}

/* Default policy: voice 24 h and sms 2 h before, in one transaction with
 * the appointment; the notes come back to the business and nowhere else. */
static void test_create_default_policy(void **state)
{
	struct api_biz b;
	struct api_rs rs, g;
	long long client, starts = (long long)time(NULL) + 72 * H, id;
	json_t *v, *s;
	char ids[24], key[64], err[256];
	json_t *audit;
	(void)state;
	api_business(&b, NULL);
	client = api_client(&b, "ann@example.com");
	api_book(&b, client, starts, &rs);
	api_expect_status(&rs, 201, "book");
	id = json_integer_value(json_object_get(rs.json, "id"));
	assert_true(id > 0);
	snprintf(ids, sizeof(ids), "%lld", id);
	{
		char want[64];
		snprintf(want, sizeof(want), "/api/v1/appointments/%lld", id);
		assert_string_equal(rs.location, want);
	}
	assert_int_equal(json_integer_value(json_object_get(rs.json, "client_id")), client);
	assert_int_equal(api_ts(json_object_get(rs.json, "starts_at")), starts);
	assert_string_equal(json_string_value(json_object_get(rs.json, "status")), "booked");
	assert_string_equal(json_string_value(json_object_get(rs.json, "notes")), SECRET_NOTE);
	assert_int_equal(json_array_size(json_object_get(rs.json, "reminders")), 2);
	v = api_reminder(rs.json, "voice", "pending");
	s = api_reminder(rs.json, "sms", "pending");
	assert_non_null(v);
	assert_non_null(s);
	assert_null(api_reminder(rs.json, "email", NULL));
	assert_int_equal(json_integer_value(json_object_get(v, "offset_minutes")), 1440);
	assert_int_equal(json_integer_value(json_object_get(v, "attempt")), 1);
	assert_int_equal(api_ts(json_object_get(v, "due_at")), starts - 24 * H);
	assert_int_equal(api_ts(json_object_get(v, "stale_at")), starts - 22 * H);
	assert_int_equal(api_ts(json_object_get(s, "due_at")), starts - 2 * H);
	assert_int_equal(api_ts(json_object_get(s, "stale_at")), starts);
	assert_int_equal(json_array_size(json_object_get(v, "contact_attempts")), 0);
	/* The rows agree. */
	assert_int_equal(api_count("SELECT count(*) FROM reminders WHERE appointment_id = $1::bigint "
		"AND status = 'pending' AND attempt = 1 AND to_address IS NOT NULL "
		"AND business_id = (SELECT business_id FROM appointments WHERE id = $1::bigint)", ids), 2);

	/* GET gives the same. */
	snprintf(key, sizeof(key), "/api/v1/appointments/%lld", id);
	api_json("GET", key, b.key, NULL, &g);
	api_expect_status(&g, 200, "get");
	assert_true(json_equal(g.json, rs.json));
	api_rs_free(&g);
	api_rs_free(&rs);

	/* Audited, without the notes. */
	snprintf(key, sizeof(key), "audit:business:%s", b.id);
	assert_true(hx_audit_wait(key, 1, 3000, "kind", "api", "action", "create_appointment",
		NULL) >= 1);
	assert_true(hx_audit_wait(key, 1, 3000, "kind", "api", "action", "get_appointment",
		NULL) >= 1);
	audit = hx_audit_read(key, 0, err, sizeof(err));
	assert_non_null(audit);
	{
		char *dump = json_dumps(audit, 0);
		assert_null(strstr(dump, "secret-note-7f3a"));
		assert_null(strstr(dump, b.key + 16));
		free(dump);
	}
	json_decref(audit);
}

static void test_create_custom_policy(void **state)
{
	struct api_biz b;
	struct api_rs rs;
	long long client, starts = (long long)time(NULL) + 96 * H;
	json_t *e, *s;
	(void)state;
	api_business(&b, "email 2880 720;sms 60 30");
	client = api_client(&b, "bob@example.com");
	api_book(&b, client, starts, &rs);
	api_expect_status(&rs, 201, "book");
	assert_int_equal(json_array_size(json_object_get(rs.json, "reminders")), 2);
	assert_null(api_reminder(rs.json, "voice", NULL));
	e = api_reminder(rs.json, "email", "pending");
	s = api_reminder(rs.json, "sms", "pending");
	assert_non_null(e);
	assert_non_null(s);
	assert_string_equal(json_string_value(json_object_get(e, "to_address")), "bob@example.com");
	assert_int_equal(api_ts(json_object_get(e, "due_at")), starts - 48 * H);
	assert_int_equal(api_ts(json_object_get(e, "stale_at")), starts - 36 * H);
	assert_int_equal(api_ts(json_object_get(s, "due_at")), starts - H);
	assert_int_equal(api_ts(json_object_get(s, "stale_at")), starts - H + 30 * 60);
	api_rs_free(&rs);

	/* A client without email gets no email reminder. */
	client = api_client(&b, NULL);
	api_book(&b, client, starts, &rs);
	api_expect_status(&rs, 201, "book without email");
	assert_int_equal(json_array_size(json_object_get(rs.json, "reminders")), 1);
	assert_non_null(api_reminder(rs.json, "sms", "pending"));
	api_rs_free(&rs);
}

/* The 24 h reminder already past: due at once; under an hour: nothing. */
static void test_late_bookings(void **state)
{
	struct api_biz b;
	struct api_rs rs;
	long long client, before, after, starts, id;
	json_t *v, *s;
	char ids[24];
	(void)state;
	api_business(&b, NULL);
	client = api_client(&b, NULL);

	before = (long long)time(NULL);
	starts = before + 3 * H;
	api_book(&b, client, starts, &rs);
	after = (long long)time(NULL);
	api_expect_status(&rs, 201, "book 3 h ahead");
	v = api_reminder(rs.json, "voice", "pending");
	s = api_reminder(rs.json, "sms", "pending");
	assert_non_null(v);
	assert_non_null(s);
	assert_in_range(api_ts(json_object_get(v, "due_at")), before, after);
	assert_in_range(api_ts(json_object_get(v, "stale_at")), before + 2 * H, after + 2 * H);
	assert_int_equal(api_ts(json_object_get(s, "due_at")), starts - 2 * H);
	api_rs_free(&rs);

	/* 40 minutes ahead: booked, but no reminder is worth sending. */
	starts = (long long)time(NULL) + 40 * 60;
	api_book(&b, client, starts, &rs);
	api_expect_status(&rs, 201, "book 40 min ahead");
	assert_int_equal(json_array_size(json_object_get(rs.json, "reminders")), 0);
	id = json_integer_value(json_object_get(rs.json, "id"));
	snprintf(ids, sizeof(ids), "%lld", id);
	assert_int_equal(api_count("SELECT count(*) FROM reminders WHERE appointment_id = $1::bigint",
		ids), 0);
	api_rs_free(&rs);
}

static void test_reschedule(void **state)
{
	struct api_biz b;
	struct api_rs rs;
	long long client, starts = (long long)time(NULL) + 72 * H, moved = starts + 24 * H;
	char path[64], ids[24], st[40], *body;
	json_t *r;
	size_t i;
	int seen_placed = 0, seen_cancelled = 0;
	(void)state;
	api_business(&b, NULL);
	client = api_client(&b, NULL);
	api_booked_or_fail(&b, client, starts, ids, path);
	/* The voice reminder went out already; the client confirmed. */
	{
		const char *p[] = { ids };
		char err[256];
		PGresult *res = hx_db_exec("UPDATE reminders SET status = 'placed' "
			"WHERE appointment_id = $1::bigint AND channel = 'voice'", 1, p, err, sizeof(err));
		assert_non_null(res);
		PQclear(res);
		res = hx_db_exec("UPDATE appointments SET status = 'confirmed', confirmed_at = now() "
			"WHERE id = $1::bigint", 1, p, err, sizeof(err));
		assert_non_null(res);
		PQclear(res);
	}

	api_time_offset(moved, st);
	body = xasprintf("{\"starts_at\": \"%s\"}", st);
	api_json("PATCH", path, b.key, body, &rs);
	api_expect_status(&rs, 200, "reschedule");
	assert_int_equal(api_ts(json_object_get(rs.json, "starts_at")), moved);
	/* The confirmation was for the old time. */
	assert_string_equal(json_string_value(json_object_get(rs.json, "status")), "booked");
	assert_true(json_is_null(json_object_get(rs.json, "confirmed_at")));
	assert_int_equal(json_array_size(json_object_get(rs.json, "reminders")), 4);
	json_array_foreach(json_object_get(rs.json, "reminders"), i, r) {
		const char *st2 = json_string_value(json_object_get(r, "status"));
		if (json_is_null(json_object_get(r, "superseded_at")))
			continue;
		if (strcmp(st2, "placed") == 0)
			seen_placed++;
		if (strcmp(st2, "cancelled") == 0) {
			seen_cancelled++;
			assert_string_equal(json_string_value(json_object_get(r, "status_reason")),
				"rescheduled");
		}
	}
	assert_int_equal(seen_placed, 1);
	assert_int_equal(seen_cancelled, 1);
	assert_int_equal(api_ts(json_object_get(api_reminder(rs.json, "voice", "pending"), "due_at")),
		moved - 24 * H);
	assert_int_equal(api_ts(json_object_get(api_reminder(rs.json, "sms", "pending"), "due_at")),
		moved - 2 * H);
	api_rs_free(&rs);

	/* The same PATCH again changes nothing. */
	api_json("PATCH", path, b.key, body, &rs);
	api_expect_status(&rs, 200, "reschedule again");
	assert_int_equal(json_array_size(json_object_get(rs.json, "reminders")), 4);
	api_rs_free(&rs);
	free(body);
	assert_int_equal(api_count("SELECT count(*) FROM reminders WHERE appointment_id = $1::bigint "
		"AND status = 'pending'", ids), 2);

	/* PATCH refusals, each naming its field. */
	{
		const struct api_case cases[] = {
			{ "{}", 422, "missing_field", "starts_at" },
			{ "{\"status\": \"booked\"}", 422, "invalid_field", "status" },
			{ "{\"status\": \"cancelled\", \"starts_at\": \"2030-01-01T10:00:00Z\"}", 422,
				"invalid_field", "status" },
			{ "{\"starts_at\": \"2001-01-01T10:00:00Z\"}", 422, "invalid_field", "starts_at" },
			{ "{\"starts_at\": \"soon\"}", 422, "invalid_field", "starts_at" },
			{ "{\"notes\": \"x\"}", 422, "unknown_field", "notes" },
			{ "\"cancelled\"", 400, "invalid_json", NULL },
		};
		api_cases(&b, "PATCH", path, cases, sizeof(cases) / sizeof(cases[0]));
	}
	assert_int_equal(api_count("SELECT count(*) FROM reminders WHERE appointment_id = $1::bigint",
		ids), 4);
}

static void test_cancel(void **state)
{
	struct api_biz b;
	struct api_rs rs;
	long long client;
	char path[64], ids[24];
	json_t *r;
	size_t i;
	(void)state;
	api_business(&b, NULL);
	client = api_client(&b, NULL);
	api_booked_or_fail(&b, client, (long long)time(NULL) + 72 * H, ids, path);

	api_json("PATCH", path, b.key, "{\"status\": \"cancelled\"}", &rs);
	api_expect_status(&rs, 200, "cancel");
	assert_string_equal(json_string_value(json_object_get(rs.json, "status")), "cancelled");
	assert_false(json_is_null(json_object_get(rs.json, "cancelled_at")));
	json_array_foreach(json_object_get(rs.json, "reminders"), i, r) {
		assert_string_equal(json_string_value(json_object_get(r, "status")), "cancelled");
		assert_string_equal(json_string_value(json_object_get(r, "status_reason")),
			"appointment cancelled");
	}
	api_rs_free(&rs);
	assert_int_equal(api_count("SELECT count(*) FROM reminders WHERE appointment_id = $1::bigint "
		"AND status = 'pending'", ids), 0);

	/* Cancelling again is harmless; rescheduling a cancelled one is 409. */
	api_json("PATCH", path, b.key, "{\"status\": \"cancelled\"}", &rs);
	api_expect_status(&rs, 200, "cancel again");
	api_rs_free(&rs);
	api_json("PATCH", path, b.key, "{\"starts_at\": \"2030-01-01T10:00:00Z\"}", &rs);
	api_expect_error(&rs, 409, "conflict", "starts_at", "reschedule a cancelled appointment");
	api_rs_free(&rs);
	assert_int_equal(api_count("SELECT count(*) FROM reminders WHERE appointment_id = $1::bigint "
		"AND status = 'pending'", ids), 0);
}

/* GET shows each reminder's contact attempt as the worker left it. */
static void test_get_with_attempts(void **state)
{
	struct api_biz b;
	struct api_rs rs;
	long long client;
	char path[64], ids[24], sid[35];
	json_t *v, *att;
	(void)state;
	api_business(&b, NULL);
	client = api_client(&b, NULL);
	api_booked_or_fail(&b, client, (long long)time(NULL) + 72 * H, ids, path);
	hx_random_call_sid(sid);
	{
		const char *p[] = { ids, sid };
		char err[256];
		PGresult *res = hx_db_exec(
			"WITH r AS (UPDATE reminders SET status = 'placed' WHERE appointment_id = $1::bigint "
			"  AND channel = 'voice' RETURNING id, business_id, channel, to_address) "
			"INSERT INTO contact_attempts (reminder_id, business_id, channel, to_address, status, "
			"  provider_sid, delivery_status, error_code, lease_until) "
			"SELECT id, business_id, channel, to_address, 'placed', $2, 'busy', NULL, now() FROM r",
			2, p, err, sizeof(err));
		if (res == NULL)
			fail_msg("%s", err);
		PQclear(res);
	}
	api_json("GET", path, b.key, NULL, &rs);
	api_expect_status(&rs, 200, "get");
	v = api_reminder(rs.json, "voice", "placed");
	assert_non_null(v);
	assert_int_equal(json_array_size(json_object_get(v, "contact_attempts")), 1);
	att = json_array_get(json_object_get(v, "contact_attempts"), 0);
	assert_string_equal(json_string_value(json_object_get(att, "status")), "placed");
	assert_string_equal(json_string_value(json_object_get(att, "provider_sid")), sid);
	assert_string_equal(json_string_value(json_object_get(att, "delivery_status")), "busy");
	assert_true(json_is_null(json_object_get(att, "error_code")));
	assert_true(api_ts(json_object_get(att, "created_at")) > 0);
	assert_int_equal(json_array_size(json_object_get(api_reminder(rs.json, "sms", "pending"),
		"contact_attempts")), 0);
	api_rs_free(&rs);
}

/* Another business's key sees nothing and changes nothing. */
static void test_cross_business(void **state)
{
	struct api_biz a, b;
	struct api_rs rs, none;
	long long client;
	char path[64], ids[24], *body, *before, *after;
	(void)state;
	api_business(&a, NULL);
	api_business(&b, NULL);
	client = api_client(&a, NULL);
	api_booked_or_fail(&a, client, (long long)time(NULL) + 72 * H, ids, path);
	{
		const char *p[] = { ids };
		before = hx_db_value_or_fail("SELECT a.starts_at || a.status || a.updated_at || "
			"(SELECT string_agg(r.status, ',' ORDER BY r.id) FROM reminders r "
			"WHERE r.appointment_id = a.id) FROM appointments a WHERE a.id = $1::bigint", 1, p);
	}

	api_json("GET", path, b.key, NULL, &rs);
	api_expect_error(&rs, 404, "not_found", NULL, "GET another business's appointment");
	assert_null(strstr(buf_str(&rs.body), SECRET_NOTE));
	/* Exactly what a missing appointment gets, apart from the id. */
	api_json("GET", "/api/v1/appointments/999999999999", b.key, NULL, &none);
	api_expect_error(&none, 404, "not_found", NULL, "GET a missing appointment");
	api_rs_free(&none);
	api_rs_free(&rs);

	api_json("PATCH", path, b.key, "{\"status\": \"cancelled\"}", &rs);
	api_expect_error(&rs, 404, "not_found", NULL, "cancel another business's appointment");
	api_rs_free(&rs);
	api_json("PATCH", path, b.key, "{\"starts_at\": \"2030-01-01T10:00:00Z\"}", &rs);
	api_expect_error(&rs, 404, "not_found", NULL, "reschedule another business's appointment");
	api_rs_free(&rs);

	body = xasprintf("{\"client_id\": %lld, \"starts_at\": \"2030-01-01T10:00:00Z\"}", client);
	api_json("POST", "/api/v1/appointments", b.key, body, &rs);
	api_expect_error(&rs, 404, "not_found", "client_id", "book another business's client");
	api_rs_free(&rs);
	free(body);
	api_json("POST", "/api/v1/appointments", b.key,
		"{\"client_id\": 999999999999, \"starts_at\": \"2030-01-01T10:00:00Z\"}", &rs);
	api_expect_error(&rs, 404, "not_found", "client_id", "book a missing client");
	api_rs_free(&rs);

	{
		const char *p[] = { ids };
		after = hx_db_value_or_fail("SELECT a.starts_at || a.status || a.updated_at || "
			"(SELECT string_agg(r.status, ',' ORDER BY r.id) FROM reminders r "
			"WHERE r.appointment_id = a.id) FROM appointments a WHERE a.id = $1::bigint", 1, p);
	}
	assert_string_equal(before, after);
	assert_int_equal(api_count("SELECT count(*) FROM appointments WHERE business_id = $1::bigint",
		b.id), 0);
	free(before);
	free(after);
}

static void test_body_and_routes(void **state)
{
	struct api_biz b;
	struct api_rs rs;
	char *big, *auth;
	size_t n = API_BIG;
	static const char ok[] = "{\"name\": \"Cy\", \"phone\": \"+15555550112\"}";
	(void)state;
	api_business(&b, NULL);
	auth = xasprintf("Bearer %s", b.key);

	/* Over the API's cap (but under nginx's): JSON 413. */
	big = xmalloc(n + 1);
	memset(big, ' ', n);
	memcpy(big, "{\"name\": \"", 10);
	memset(big + 10, 'x', n - 40);
	memcpy(big + n - 30, "\", \"phone\": \"+15555550112\"}", 27);
	big[n] = '\0';
	api_call("POST", "/api/v1/clients", auth, "application/json", big, strlen(big), &rs);
	api_expect_error(&rs, 413, "body_too_large", NULL, "20 KiB body");
	api_rs_free(&rs);
	free(big);

	api_call("POST", "/api/v1/clients", auth, "text/plain", ok, strlen(ok), &rs);
	api_expect_error(&rs, 415, "unsupported_media_type", NULL, "text/plain");
	api_rs_free(&rs);
	api_call("POST", "/api/v1/clients", auth, "application/x-www-form-urlencoded",
		"name=Cy&phone=%2B15555550112", 28, &rs);
	api_expect_error(&rs, 415, "unsupported_media_type", NULL, "form body");
	api_rs_free(&rs);
	api_call("POST", "/api/v1/clients", auth, "application/jsonx", ok, strlen(ok), &rs);
	api_expect_error(&rs, 415, "unsupported_media_type", NULL, "application/jsonx");
	api_rs_free(&rs);
	api_call("POST", "/api/v1/clients", auth, "application/json; charset=utf-8", ok, strlen(ok),
		&rs);
	api_expect_status(&rs, 201, "JSON with a charset");
	api_rs_free(&rs);

	/* Methods a resource does not take (405 with Allow), and paths that
	 * are not resources (404; without the slash, still the API's JSON). */
	{
		static const struct {
			const char *method, *path;
			long status;
			const char *code, *allow, *what;
		} cases[] = {
			{ "PUT", "/api/v1/clients", 405, "method_not_allowed", "POST, GET",
				"PUT clients" },
			{ "GET", "/api/v1/appointments/1/cancel", 405, "method_not_allowed", "POST",
				"GET cancel" },
			{ "DELETE", "/api/v1/appointments/1", 405, "method_not_allowed",
				"GET, PATCH", "DELETE appointment" },
			{ "GET", "/api/v1/nothing", 404, "not_found", NULL, "unknown resource" },
			{ "GET", "/api/v1/appointments/abc", 404, "not_found", NULL,
				"non-numeric id" },
			{ "GET", "/api/v1/appointments/0012", 404, "not_found", NULL,
				"id with leading zeros" },
			{ "GET", "/api/v1", 404, "not_found", NULL, "/api/v1 without the slash" },
		};
		for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
			api_json(cases[i].method, cases[i].path, b.key, NULL, &rs);
			api_expect_error(&rs, cases[i].status, cases[i].code, NULL, cases[i].what);
			if (cases[i].allow)
				assert_string_equal(rs.allow, cases[i].allow);
			api_rs_free(&rs);
		}
	}

	/* Over 64 KiB (ringfence refuses it, never keeping it) and over
	 * nginx's 1 MiB (nginx refuses it): JSON 413 both, never nginx's HTML. */
	{
		static const size_t sizes[] = { 200 * 1024, 2 * 1024 * 1024 };
		for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
			char what[64];
			snprintf(what, sizeof(what), "%zu KiB body", sizes[i] / 1024);
			big = xmalloc(sizes[i] + 1);
			memset(big, ' ', sizes[i]);
			big[0] = '{';
			big[sizes[i] - 1] = '}';
			big[sizes[i]] = '\0';
			api_call("POST", "/api/v1/clients", auth, "application/json", big, sizes[i], &rs);
			api_expect_error(&rs, 413, "body_too_large", NULL, what);
			api_rs_free(&rs);
			free(big);
		}
	}

	/* An unauthenticated request leaves only a summary: nothing from its
	 * body, nothing in any business's stream. */
	{
		char marker[33], *body, hex[65], digest[17], err[256];
		long long deadline = hx_now_ms() + 3000;
		size_t found = 0;
		hx_random_hex(marker, 16);
		body = xasprintf("{\"name\": \"%s\", \"phone\": \"+15555550112\"}", marker);
		hx_sha256_hex(body, strlen(body), hex);
		memcpy(digest, hex, 16);
		digest[16] = '\0';
		api_call("POST", "/api/v1/clients", "Bearer not-a-key", "application/json", body,
			strlen(body), &rs);
		api_expect_error(&rs, 401, "unauthorized", NULL, "a bad key");
		api_rs_free(&rs);
		while (found == 0 && hx_now_ms() < deadline) {
			json_t *arr = hx_audit_read_newest("audit:rejected", 500, err, sizeof(err));
			if (arr == NULL)
				fail_msg("cannot read audit:rejected: %s", err);
			found = hx_audit_count(arr, "path", "/api/v1/clients", "verdict",
				"unauthenticated", "body_sha256", digest, NULL);
			json_decref(arr);
			if (found == 0)
				hx_sleep_ms(50);
		}
		if (found != 1)
			fail_msg("the unauthenticated request is not summarised in audit:rejected");
		{
			json_t *arr = hx_audit_read_newest("audit:all", 200, err, sizeof(err));
			char *dump;
			if (arr == NULL)
				fail_msg("cannot read audit:all: %s", err);
			dump = json_dumps(arr, 0);
			if (strstr(dump, marker) || strstr(dump, digest))
				fail_msg("audit:all holds the unauthenticated request");
			free(dump);
			json_decref(arr);
		}
		free(body);
	}
	free(auth);
}

/* ---- lists, clients, cancel, idempotency, rate, the description ---------- */

/* A JSON request with key and Idempotency-Key idem. */
static void api_json_idem(const char *method, const char *path, const char *key, const char *idem,
	const char *body, struct api_rs *rs)
{
	char *auth = xasprintf("Bearer %s", key);
	api_call_idem(method, path, auth, body ? "application/json" : NULL, idem, body,
		body ? strlen(body) : 0, rs);
	free(auth);
}

/* GET path with key, expecting 200 and a page; returns the page's
 * next_cursor (a copy, NULL at the end) and appends its ids to ids. */
static char *api_page_or_fail(const char *key, const char *path, json_t *ids)
{
	struct api_rs rs;
	json_t *item, *next;
	size_t i;
	char *cur = NULL;

	api_json("GET", path, key, NULL, &rs);
	api_expect_status(&rs, 200, path);
	json_array_foreach(json_object_get(rs.json, "data"), i, item)
		json_array_append(ids, json_object_get(item, "id"));
	next = json_object_get(rs.json, "next_cursor");
	if (json_is_string(next))
		cur = xstrdup(json_string_value(next));
	api_rs_free(&rs);
	return cur;
}

/* Inserts n appointments of client (ids as text) starting hours ahead,
 * several at the same instant (the id breaks the tie).  In SQL, for
 * speed. */
static void api_insert_appointments(const char *bid, const char *client, int n, int hours)
{
	char ns[16], hs[16];
	const char *p[] = { bid, client, ns, hs };
	snprintf(ns, sizeof(ns), "%d", n);
	snprintf(hs, sizeof(hs), "%d", hours);
	hx_db_cmd_or_fail("INSERT INTO appointments (business_id, client_id, starts_at, notes) "
		"SELECT $1::bigint, $2::bigint, "
		"  date_trunc('hour', now()) + ($4::int + g / 3) * interval '1 hour', 'n' || g "
		"FROM generate_series(1, $3::int) g", 4, p);
}

static void test_list_appointments_paging(void **state)
{
	struct api_biz b, other;
	char cid[24], *cur, path[512];
	long long client;
	json_t *ids = json_array(), *want_ids;
	size_t i, pages = 0;
	json_t *v;
	(void)state;
	api_business(&b, NULL);
	api_business(&other, NULL);
	client = api_client(&b, NULL);
	snprintf(cid, sizeof(cid), "%lld", client);
	api_insert_appointments(b.id, cid, 1000, 48);
	{
		/* Another business's appointments never show. */
		long long oc = api_client(&other, NULL);
		char ocs[24];
		snprintf(ocs, sizeof(ocs), "%lld", oc);
		api_insert_appointments(other.id, ocs, 30, 48);
	}
	{
		char *dump;
		const char *p[] = { b.id };
		dump = hx_db_value_or_fail("SELECT json_agg(id ORDER BY id)::text FROM appointments "
			"WHERE business_id = $1::bigint", 1, p);
		want_ids = json_loads(dump, 0, NULL);
		free(dump);
		assert_int_equal(json_array_size(want_ids), 1000);
	}

	/* Page through with 37 a page; between pages rows are added both
	 * before the cursor (they are not owed) and after it (they show). */
	cur = api_page_or_fail(b.key, "/api/v1/appointments?limit=37", ids);
	while (cur) {
		pages++;
		if (pages % 5 == 0) {
			api_insert_appointments(b.id, cid, 2, 1);       /* before the cursor */
			api_insert_appointments(b.id, cid, 2, 48 + 400); /* after everything */
		}
		snprintf(path, sizeof(path), "/api/v1/appointments?limit=37&cursor=%s", cur);
		free(cur);
		cur = api_page_or_fail(b.key, path, ids);
		assert_true(pages < 200);
	}
	/* Nothing repeated, nothing of the first thousand missed. */
	{
		json_t *seen = json_object();
		json_array_foreach(ids, i, v) {
			char k[24];
			snprintf(k, sizeof(k), "%lld", (long long)json_integer_value(v));
			if (json_object_get(seen, k))
				fail_msg("appointment %s shown twice", k);
			json_object_set_new(seen, k, json_true());
		}
		json_array_foreach(want_ids, i, v) {
			char k[24];
			snprintf(k, sizeof(k), "%lld", (long long)json_integer_value(v));
			if (json_object_get(seen, k) == NULL)
				fail_msg("appointment %s never shown", k);
		}
		/* The rows added after the cursor showed up too. */
		assert_true(json_array_size(ids) > 1000);
		json_decref(seen);
	}
	json_decref(ids);
	json_decref(want_ids);

	/* The order is (starts_at, id) and the default page is 50. */
	{
		struct api_rs rs;
		long long prev_t = 0, prev_id = 0;
		api_json("GET", "/api/v1/appointments", b.key, NULL, &rs);
		api_expect_status(&rs, 200, "default page");
		assert_int_equal(json_array_size(json_object_get(rs.json, "data")), 50);
		json_array_foreach(json_object_get(rs.json, "data"), i, v) {
			long long t = api_ts(json_object_get(v, "starts_at"));
			long long id = json_integer_value(json_object_get(v, "id"));
			assert_true(t > prev_t || (t == prev_t && id > prev_id));
			assert_int_equal(json_integer_value(json_object_get(v, "client_id")), client);
			prev_t = t;
			prev_id = id;
		}
		api_rs_free(&rs);
		api_list_or_fail(b.key, "/api/v1/appointments?limit=200", 200, "limit 200");
	}
	/* Filters: a window of time, a status, a client. */
	{
		struct api_rs rs;
		long long now = (long long)time(NULL);
		char from[32], to[32];
		json_t *ids2 = json_array();
		api_time(now + 100 * H, from);
		api_time(now + 110 * H, to);
		snprintf(path, sizeof(path), "/api/v1/appointments?limit=200&from=%s&to=%s", from, to);
		free(api_page_or_fail(b.key, path, ids2));
		{
			const char *p[] = { b.id, from, to };
			assert_int_equal(json_array_size(ids2), hx_db_int_or_fail("SELECT count(*) FROM "
				"appointments WHERE business_id = $1::bigint AND starts_at >= $2::timestamptz "
				"AND starts_at < $3::timestamptz", 3, p));
		}
		assert_true(json_array_size(ids2) > 0);
		json_decref(ids2);
		{
			const char *p[] = { b.id };
			hx_db_cmd_or_fail("UPDATE appointments SET status = 'cancelled', cancelled_at = now() WHERE id IN "
				"(SELECT id FROM appointments WHERE business_id = $1::bigint ORDER BY id LIMIT 3)",
				1, p);
		}
		api_json("GET", "/api/v1/appointments?status=cancelled", b.key, NULL, &rs);
		api_expect_status(&rs, 200, "status filter");
		assert_int_equal(json_array_size(json_object_get(rs.json, "data")), 3);
		assert_true(json_is_null(json_object_get(rs.json, "next_cursor")));
		api_rs_free(&rs);
		api_json("GET", "/api/v1/appointments?status=completed,cancelled&limit=5", b.key, NULL,
			&rs);
		api_expect_status(&rs, 200, "status list");
		assert_int_equal(json_array_size(json_object_get(rs.json, "data")), 3);
		api_rs_free(&rs);
		snprintf(path, sizeof(path), "/api/v1/appointments?client_id=%lld&limit=1", client + 1000000);
		api_list_or_fail(b.key, path, 0, "another client");
		/* Another business sees none of these. */
		api_list_or_fail(other.key, "/api/v1/appointments?limit=200", 30, "other business");
	}
	/* Strict query validation, naming the parameter. */
	{
		static const struct {
			const char *query;
			long status;
			const char *code, *field;
		} cases[] = {
			{ "limit=0", 422, "invalid_parameter", "limit" },
			{ "limit=201", 422, "invalid_parameter", "limit" },
			{ "limit=ten", 422, "invalid_parameter", "limit" },
			{ "limit=-1", 422, "invalid_parameter", "limit" },
			{ "limit=5&limit=6", 400, "invalid_parameter", "limit" },
			{ "cursor=zz", 422, "invalid_parameter", "cursor" },
			{ "cursor=7631", 422, "invalid_parameter", "cursor" },
			{ "cursor=", 422, "invalid_parameter", "cursor" },
			/* Forged cursors: out of range (never the database's error,
			 * a 503) or not in the encoder's one form. */
			/* v1:9223372036854775807:1 */
			{ "cursor=76313a393232333337323033363835343737353830373a31", 422,
				"invalid_parameter", "cursor" },
			/* v1:-9223372036854775808:1 */
			{ "cursor=76313a2d393232333337323033363835343737353830383a31", 422,
				"invalid_parameter", "cursor" },
			/* v1:99999999999999999999999:1 */
			{ "cursor=76313a39393939393939393939393939393939393939393939393a31", 422,
				"invalid_parameter", "cursor" },
			/* v1:-300000000000000000:1 */
			{ "cursor=76313a2d3330303030303030303030303030303030303a31", 422,
				"invalid_parameter", "cursor" },
			/* v1:300000000000000000:1 */
			{ "cursor=76313a3330303030303030303030303030303030303a31", 422,
				"invalid_parameter", "cursor" },
			/* v1:+5:1 */
			{ "cursor=76313a2b353a31", 422,
				"invalid_parameter", "cursor" },
			/* v1: 5:1 */
			{ "cursor=76313a20353a31", 422,
				"invalid_parameter", "cursor" },
			/* v1:05:1 */
			{ "cursor=76313a30353a31", 422,
				"invalid_parameter", "cursor" },
			/* v1:5:99999999999999999999 */
			{ "cursor=76313a353a3939393939393939393939393939393939393939", 422,
				"invalid_parameter", "cursor" },
			{ "from=yesterday", 422, "invalid_parameter", "from" },
			{ "from=2030-01-01T00:00:00", 422, "invalid_parameter", "from" },
			{ "to=2030-13-01T00:00:00Z", 422, "invalid_parameter", "to" },
			{ "from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", 422, "invalid_parameter", "to" },
			{ "status=pending", 422, "invalid_parameter", "status" },
			{ "status=", 422, "invalid_parameter", "status" },
			{ "status=booked,", 422, "invalid_parameter", "status" },
			{ "client_id=abc", 422, "invalid_parameter", "client_id" },
			{ "client_id=0", 422, "invalid_parameter", "client_id" },
			{ "sort=starts_at", 400, "unknown_parameter", "sort" },
			{ "limit=%zz", 400, "invalid_query", NULL },
		};
		for (i = 0; i < ARRAY_LEN(cases); i++) {
			struct api_rs rs;
			snprintf(path, sizeof(path), "/api/v1/appointments?%s", cases[i].query);
			api_json("GET", path, b.key, NULL, &rs);
			api_expect_error(&rs, cases[i].status, cases[i].code, cases[i].field, path);
			api_rs_free(&rs);
		}
	}
}

/* A client's JSON from rs, checked against want (a JSON object of the
 * members to compare). */
static void api_client_is(const struct api_rs *rs, const char *want_json, const char *what)
{
	json_t *want = json_loads(want_json, 0, NULL);
	const char *k;
	json_t *v;
	assert_non_null(want);
	json_object_foreach(want, k, v) {
		if (!json_equal(json_object_get(rs->json, k), v))
			fail_msg("%s: member %s is %s", what, k, buf_str(&rs->body));
	}
	json_decref(want);
}

static void test_clients_read_update(void **state)
{
	struct api_biz b, other;
	struct api_rs rs;
	char path[128], opath[128], ids[24], apath[64], *body;
	long long id, appt;
	(void)state;
	api_business(&b, NULL);
	api_business(&other, NULL);

	/* "+1 555 010 0123" is taken and kept as E.164. */
	api_json("POST", "/api/v1/clients", b.key,
		"{\"name\": \"Dora Example\", \"phone\": \"+1 (555) 010-0123\", \"email\": "
		"\"dora@example.com\"}", &rs);
	api_expect_status(&rs, 201, "create with spaces");
	api_client_is(&rs, "{\"phone\": \"+15550100123\", \"do_not_call\": false, "
		"\"opted_out\": false, \"time_zone\": null}", "create");
	id = json_integer_value(json_object_get(rs.json, "id"));
	snprintf(path, sizeof(path), "/api/v1/clients/%lld", id);
	assert_string_equal(rs.location, path);
	api_rs_free(&rs);
	api_json("POST", "/api/v1/clients", b.key, "{\"name\": \"Eve\", \"phone\": \"555-0123\"}",
		&rs);
	api_expect_error(&rs, 422, "invalid_field", "phone", "local number");
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(rs.json, "error"),
		"message")), "country code"));
	api_rs_free(&rs);

	api_json("GET", path, b.key, NULL, &rs);
	api_expect_status(&rs, 200, "get client");
	api_client_is(&rs, "{\"name\": \"Dora Example\", \"email\": \"dora@example.com\"}", "get");
	api_rs_free(&rs);

	/* A booked appointment follows the client's new number. */
	appt = api_booked_or_fail(&b, id, (long long)time(NULL) + 72 * H, ids, apath);
	api_json("PATCH", path, b.key, "{\"phone\": \"+1 555 010 0199\", \"time_zone\": "
		"\"Europe/Paris\", \"name\": \"Dora E.\"}", &rs);
	api_expect_status(&rs, 200, "patch phone");
	api_client_is(&rs, "{\"phone\": \"+15550100199\", \"time_zone\": \"Europe/Paris\", "
		"\"name\": \"Dora E.\", \"email\": \"dora@example.com\"}", "patched");
	api_rs_free(&rs);
	assert_int_equal(api_count("SELECT count(*) FROM reminders WHERE appointment_id = $1::bigint "
		"AND status = 'pending' AND to_address = '+15550100199'", ids), 2);
	(void)appt;

	/* do_not_call and an opt-out set by the business. */
	api_json("PATCH", path, b.key, "{\"do_not_call\": true}", &rs);
	api_expect_status(&rs, 200, "do not call");
	api_client_is(&rs, "{\"do_not_call\": true, \"opted_out\": false}", "dnc");
	api_rs_free(&rs);
	/* The worker's rule: no call to this client, texts still go. */
	{
		const char *p[] = { ids };
		char *why = hx_db_value_or_fail("SELECT k.code || ':' || k.reason FROM reminders r "
			"CROSS JOIN LATERAL reminder_block(r.id, r.due_at + interval '1 second') k "
			"WHERE r.appointment_id = $1::bigint AND r.channel = 'voice' AND r.status = 'pending'",
			1, p);
		assert_non_null(why);
		assert_string_equal(why, "ineligible:do not call");
		free(why);
		why = hx_db_value_or_fail("SELECT coalesce(k.reason, 'sendable') FROM reminders r "
			"CROSS JOIN LATERAL reminder_block(r.id, r.due_at + interval '1 second') k "
			"WHERE r.appointment_id = $1::bigint AND r.channel = 'sms' AND r.status = 'pending'",
			1, p);
		assert_non_null(why);
		assert_string_not_equal(why, "do not call");
		free(why);
		/* The worker's claim drops it, and nothing is attempted. */
		why = hx_db_value_or_fail("SELECT k.outcome || ':' || k.reason FROM reminders r "
			"CROSS JOIN LATERAL reminder_claim(r.id, r.due_at + interval '1 second', 'test', 60, "
			"'+15555550100', 3, 6, 60) k "
			"WHERE r.appointment_id = $1::bigint AND r.channel = 'voice' AND r.status = 'pending'",
			1, p);
		assert_non_null(why);
		assert_string_equal(why, "dropped:do not call");
		free(why);
		assert_int_equal(api_count("SELECT count(*) FROM contact_attempts ca JOIN reminders r "
			"ON r.id = ca.reminder_id WHERE r.appointment_id = $1::bigint", ids), 0);
		assert_int_equal(api_count("SELECT count(*) FROM reminders WHERE appointment_id = "
			"$1::bigint AND status = 'pending'", ids), 2);
	}
	api_json("PATCH", path, b.key, "{\"opted_out\": true}", &rs);
	api_expect_status(&rs, 200, "opt out");
	api_client_is(&rs, "{\"opted_out\": true}", "opted out");
	assert_false(json_is_null(json_object_get(rs.json, "opted_out_at")));
	api_rs_free(&rs);
	{
		char cids[24], *by;
		snprintf(cids, sizeof(cids), "%lld", id);
		by = hx_db_value_or_fail("SELECT opted_out_by FROM clients WHERE id = $1::bigint", 1,
			(const char *const[]){ cids });
		assert_non_null(by);
		assert_string_equal(by, "the JSON API");
		free(by);
	}
	api_json("PATCH", path, b.key, "{\"opted_out\": false, \"name\": \"Changed\"}", &rs);
	api_expect_error(&rs, 422, "invalid_field", "opted_out", "clear an opt-out");
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(rs.json, "error"),
		"message")), "START"));
	api_rs_free(&rs);

	/* Clearing the phone cancels the calls and texts not sent yet. */
	api_json("PATCH", path, b.key, "{\"phone\": null}", &rs);
	api_expect_status(&rs, 200, "clear phone");
	api_client_is(&rs, "{\"phone\": null, \"name\": \"Dora E.\"}", "no phone");
	api_rs_free(&rs);
	assert_int_equal(api_count("SELECT count(*) FROM reminders WHERE appointment_id = $1::bigint "
		"AND status = 'cancelled' AND status_reason = 'client has no phone'", ids), 2);

	{
		const struct api_case cases[] = {
			{ "{}", 422, "missing_field", NULL },
			{ "{\"email\": null}", 422, "missing_field", "email" },
			{ "{\"phone\": \"555-0123\"}", 422, "invalid_field", "phone" },
			{ "{\"phone\": \"+1 555 010 0123 ext 4\"}", 422, "invalid_field", "phone" },
			{ "{\"phone\": 15550100123}", 422, "invalid_field", "phone" },
			{ "{\"email\": \"not an address\"}", 422, "invalid_field", "email" },
			{ "{\"time_zone\": \"Mars/Base\"}", 422, "invalid_field", "time_zone" },
			{ "{\"name\": \"\"}", 422, "invalid_field", "name" },
			{ "{\"name\": null}", 422, "invalid_field", "name" },
			{ "{\"do_not_call\": \"yes\"}", 422, "invalid_field", "do_not_call" },
			{ "{\"do_not_call\": 1}", 422, "invalid_field", "do_not_call" },
			{ "{\"do_not_call\": null}", 422, "invalid_field", "do_not_call" },
			{ "{\"opted_out\": \"true\"}", 422, "invalid_field", "opted_out" },
			{ "{\"nickname\": \"D\"}", 422, "unknown_field", "nickname" },
			{ "{\"name\": ", 400, "invalid_json", NULL },
			{ "[1]", 400, "invalid_json", NULL },
		};
		char *before, *after;
		const char *p[] = { b.id };
		before = hx_db_value_or_fail("SELECT row_to_json(c)::text FROM clients c "
			"WHERE business_id = $1::bigint", 1, p);
		api_cases(&b, "PATCH", path, cases, ARRAY_LEN(cases));
		after = hx_db_value_or_fail("SELECT row_to_json(c)::text FROM clients c "
			"WHERE business_id = $1::bigint", 1, p);
		assert_string_equal(before, after);
		free(before);
		free(after);
	}
	/* Over the body cap. */
	{
		char *big = xmalloc(API_BIG + 1);
		memset(big, ' ', API_BIG);
		memcpy(big, "{\"name\": \"x\"", 12);
		big[API_BIG - 1] = '}';
		big[API_BIG] = '\0';
		api_json("PATCH", path, b.key, big, &rs);
		api_expect_error(&rs, 413, "body_too_large", NULL, "big PATCH");
		api_rs_free(&rs);
		free(big);
	}

	/* Another business's client is 404 exactly like a missing one. */
	api_json("GET", path, other.key, NULL, &rs);
	api_expect_error(&rs, 404, "not_found", NULL, "GET another business's client");
	assert_null(strstr(buf_str(&rs.body), "Dora"));
	api_rs_free(&rs);
	api_json("PATCH", path, other.key, "{\"name\": \"Mallory\"}", &rs);
	api_expect_error(&rs, 404, "not_found", NULL, "PATCH another business's client");
	api_rs_free(&rs);
	snprintf(opath, sizeof(opath), "/api/v1/clients/999999999999");
	api_json("GET", opath, b.key, NULL, &rs);
	api_expect_error(&rs, 404, "not_found", NULL, "GET a missing client");
	api_rs_free(&rs);
	body = xasprintf("{\"name\": \"Dora E.\"}");
	api_json("PATCH", "/api/v1/clients/abc", b.key, body, &rs);
	api_expect_error(&rs, 404, "not_found", NULL, "PATCH a non-numeric id");
	api_rs_free(&rs);
	free(body);
	assert_int_equal(api_count("SELECT count(*) FROM clients WHERE business_id = $1::bigint "
		"AND name = 'Mallory'", other.id), 0);
}

static void test_list_clients(void **state)
{
	struct api_biz b, other;
	struct api_rs rs;
	json_t *ids = json_array();
	char *cur, path[256];
	size_t pages = 0;
	(void)state;
	api_business(&b, NULL);
	api_business(&other, NULL);
	hx_db_cmd_or_fail("INSERT INTO clients (business_id, name, phone, email) "
		"SELECT $1::bigint, 'Client ' || g, '+1555' || lpad(g::text, 7, '0'), "
		"  'c' || g || '@Example.com' FROM generate_series(1, 120) g", 1,
		(const char *const[]){ b.id });
	hx_db_cmd_or_fail("INSERT INTO clients (business_id, name, phone) VALUES "
		"($1::bigint, 'Zed Other', '+15550000001')", 1, (const char *const[]){ other.id });

	cur = api_page_or_fail(b.key, "/api/v1/clients?limit=50", ids);
	while (cur) {
		pages++;
		snprintf(path, sizeof(path), "/api/v1/clients?limit=50&cursor=%s", cur);
		free(cur);
		cur = api_page_or_fail(b.key, path, ids);
	}
	assert_int_equal(pages, 2);
	assert_int_equal(json_array_size(ids), 120);
	json_decref(ids);

	/* Client 11 and Client 110..119, ignoring case. */
	api_list_or_fail(b.key, "/api/v1/clients?name=client%2011", 11, "name prefix");
	/* "+1555000001": +15550000010 to +15550000019. */
	api_list_or_fail(b.key, "/api/v1/clients?phone=%2B1%20555%20000%20001", 10,
		"phone prefix");
	api_list_or_fail(b.key, "/api/v1/clients?email=C7%40example", 1, "email prefix");
	api_list_or_fail(b.key, "/api/v1/clients?name=Zed", 0, "other business's name");
	{
		const char *bad[][3] = {
			{ "phone=5550000", "422", "phone" },
			{ "phone=%2B1x", "422", "phone" },
			{ "name=", "422", "name" },
			{ "name=a%01b", "422", "name" },
			{ "limit=1000", "422", "limit" },
			{ "cursor=nope", "422", "cursor" },
			{ "status=booked", "400", "status" },
		};
		for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
			snprintf(path, sizeof(path), "/api/v1/clients?%s", bad[i][0]);
			api_json("GET", path, b.key, NULL, &rs);
			api_expect_error(&rs, atol(bad[i][1]), bad[i][1][0] == '4' && bad[i][1][2] == '0'
				? "unknown_parameter" : "invalid_parameter", bad[i][2], path);
			api_rs_free(&rs);
		}
	}
}

static void test_cancel_route(void **state)
{
	struct api_biz b, other;
	struct api_rs rs, again;
	long long client;
	char path[64], ids[24], cpath[96];
	(void)state;
	api_business(&b, NULL);
	api_business(&other, NULL);
	client = api_client(&b, NULL);
	api_booked_or_fail(&b, client, (long long)time(NULL) + 72 * H, ids, path);
	snprintf(cpath, sizeof(cpath), "%s/cancel", path);

	/* Refusals change nothing. */
	{
		const struct api_case cases[] = {
			{ "{\"reason\": \"x\"}", 422, "unknown_field", "reason" },
			{ "{", 400, "invalid_json", NULL },
			{ "[]", 400, "invalid_json", NULL },
		};
		api_cases(&b, "POST", cpath, cases, ARRAY_LEN(cases));
	}
	{
		char *auth = xasprintf("Bearer %s", b.key);
		api_call("POST", cpath, auth, "text/plain", "please", 6, &rs);
		api_expect_error(&rs, 415, "unsupported_media_type", NULL, "text body");
		api_rs_free(&rs);
		free(auth);
	}
	api_json("POST", cpath, other.key, NULL, &rs);
	api_expect_error(&rs, 404, "not_found", NULL, "cancel another business's appointment");
	api_rs_free(&rs);
	api_json("POST", "/api/v1/appointments/999999999999/cancel", b.key, NULL, &rs);
	api_expect_error(&rs, 404, "not_found", NULL, "cancel a missing appointment");
	api_rs_free(&rs);
	api_json("POST", cpath, NULL, NULL, &rs);
	api_expect_error(&rs, 401, "unauthorized", NULL, "cancel without a key");
	api_rs_free(&rs);
	assert_int_equal(api_count("SELECT count(*) FROM reminders WHERE appointment_id = $1::bigint "
		"AND status = 'pending'", ids), 2);

	/* No body, then "{}": cancelled once, the same answer twice. */
	api_json("POST", cpath, b.key, NULL, &rs);
	api_expect_status(&rs, 200, "cancel");
	assert_string_equal(json_string_value(json_object_get(rs.json, "status")), "cancelled");
	api_json("POST", cpath, b.key, "{}", &again);
	api_expect_status(&again, 200, "cancel again");
	assert_true(json_equal(rs.json, again.json));
	api_rs_free(&rs);
	api_rs_free(&again);
	assert_int_equal(api_count("SELECT count(*) FROM reminders WHERE appointment_id = $1::bigint "
		"AND status = 'cancelled' AND status_reason = 'appointment cancelled'", ids), 2);

	/* A completed appointment cannot be cancelled. */
	api_booked_or_fail(&b, client, (long long)time(NULL) + 80 * H, ids, path);
	snprintf(cpath, sizeof(cpath), "%s/cancel", path);
	hx_db_cmd_or_fail("UPDATE appointments SET status = 'completed' WHERE id = $1::bigint", 1,
		(const char *const[]){ ids });
	api_json("POST", cpath, b.key, NULL, &rs);
	api_expect_error(&rs, 409, "conflict", NULL, "cancel a completed appointment");
	api_rs_free(&rs);
}

/* The body of rs as a string copy. */
static char *api_body_copy(const struct api_rs *rs)
{
	return xstrdup(buf_str(&rs->body));
}

static void test_idempotency(void **state)
{
	struct api_biz b, other;
	struct api_rs rs, again;
	long long client;
	char key[40], *body, *body2, *first;
	const char *p[2];
	(void)state;
	api_business(&b, NULL);
	api_business(&other, NULL);
	client = api_client(&b, NULL);
	hx_random_hex(key, 16);
	body = xasprintf("{\"client_id\": %lld, \"starts_at\": \"2030-06-01T15:00:00Z\"}", client);
	body2 = xasprintf("{\"client_id\": %lld, \"starts_at\": \"2030-06-01T16:00:00Z\"}", client);

	/* The same key twice: one appointment, the same answer. */
	api_json_idem("POST", "/api/v1/appointments", b.key, key, body, &rs);
	api_expect_status(&rs, 201, "first");
	assert_string_equal(rs.replayed, "");
	first = api_body_copy(&rs);
	api_json_idem("POST", "/api/v1/appointments", b.key, key, body, &again);
	api_expect_status(&again, 201, "retry");
	assert_string_equal(buf_str(&again.body), first);
	assert_string_equal(again.location, rs.location);
	assert_string_equal(again.replayed, "true");
	api_rs_free(&rs);
	api_rs_free(&again);
	assert_int_equal(api_count("SELECT count(*) FROM appointments WHERE business_id = $1::bigint",
		b.id), 1);

	/* The same key with another body: 422, nothing booked. */
	api_json_idem("POST", "/api/v1/appointments", b.key, key, body2, &rs);
	api_expect_error(&rs, 422, "idempotency_key_reused", "Idempotency-Key", "other body");
	api_rs_free(&rs);
	/* ... or on another path. */
	api_json_idem("POST", "/api/v1/clients", b.key, key, "{\"name\": \"Q\", \"email\": "
		"\"q@example.com\"}", &rs);
	api_expect_error(&rs, 422, "idempotency_key_reused", "Idempotency-Key", "other path");
	api_rs_free(&rs);
	assert_int_equal(api_count("SELECT count(*) FROM appointments WHERE business_id = $1::bigint",
		b.id), 1);
	assert_int_equal(api_count("SELECT count(*) FROM clients WHERE business_id = $1::bigint",
		b.id), 1);

	/* Keys are per business: another's same key is its own request. */
	{
		long long oc = api_client(&other, NULL);
		char *ob = xasprintf("{\"client_id\": %lld, \"starts_at\": \"2030-06-01T15:00:00Z\"}", oc);
		api_json_idem("POST", "/api/v1/appointments", other.key, key, ob, &rs);
		api_expect_status(&rs, 201, "other business, same key");
		assert_string_equal(rs.replayed, "");
		api_rs_free(&rs);
		free(ob);
	}

	/* A refusal is an answer too: replayed, and nothing runs. */
	{
		char k2[40];
		hx_random_hex(k2, 16);
		api_json_idem("PATCH", "/api/v1/appointments/999999999999", b.key, k2,
			"{\"status\": \"cancelled\"}", &rs);
		api_expect_error(&rs, 404, "not_found", NULL, "404 first");
		api_json_idem("PATCH", "/api/v1/appointments/999999999999", b.key, k2,
			"{\"status\": \"cancelled\"}", &again);
		api_expect_error(&again, 404, "not_found", NULL, "404 replayed");
		assert_string_equal(again.replayed, "true");
		assert_string_equal(buf_str(&again.body), buf_str(&rs.body));
		api_rs_free(&rs);
		api_rs_free(&again);
	}

	/* A body refused before anything ran is not kept: the corrected
	 * retry with the same key runs. */
	{
		char k5[40], *auth = xasprintf("Bearer %s", b.key);
		static const char cbody[] = "{\"name\": \"Fixed\", \"email\": \"fixed@example.com\"}";
		hx_random_hex(k5, 16);
		api_call_idem("POST", "/api/v1/clients", auth, "text/plain", k5, cbody, strlen(cbody),
			&rs);
		api_expect_error(&rs, 415, "unsupported_media_type", NULL, "wrong type first");
		api_rs_free(&rs);
		api_call_idem("POST", "/api/v1/clients", auth, "application/json", k5, cbody,
			strlen(cbody), &rs);
		api_expect_status(&rs, 201, "corrected retry");
		assert_string_equal(rs.replayed, "");
		api_rs_free(&rs);
		free(auth);
	}

	/* Bad keys: 400, naming the header. */
	{
		char long_key[300];
		memset(long_key, 'k', 256);
		long_key[256] = '\0';
		api_json_idem("POST", "/api/v1/appointments", b.key, long_key, body2, &rs);
		api_expect_error(&rs, 400, "invalid_idempotency_key", "Idempotency-Key", "256 chars");
		api_rs_free(&rs);
		long_key[255] = '\0';
		api_json_idem("POST", "/api/v1/clients", b.key, long_key, "{\"name\": \"R\", "
			"\"email\": \"r@example.com\"}", &rs);
		api_expect_status(&rs, 201, "255 chars");
		api_rs_free(&rs);
		api_json_idem("POST", "/api/v1/appointments", b.key, "caf\xc3\xa9", body2, &rs);
		api_expect_error(&rs, 400, "invalid_idempotency_key", "Idempotency-Key", "not ASCII");
		api_rs_free(&rs);
	}

	/* While the first request with a key runs (it holds the key's lock;
	 * here this test holds it): 409, nothing runs. */
	{
		char k3[40];
		hx_random_hex(k3, 16);
		p[0] = b.id;
		p[1] = k3;
		hx_db_cmd_or_fail("SELECT pg_advisory_lock(hashtextextended($1 || ':' || $2, 0))", 2, p);
		api_json_idem("POST", "/api/v1/appointments", b.key, k3, body2, &rs);
		hx_db_cmd_or_fail("SELECT pg_advisory_unlock(hashtextextended($1 || ':' || $2, 0))", 2, p);
		api_expect_error(&rs, 409, "idempotency_key_in_use", "Idempotency-Key", "in progress");
		api_rs_free(&rs);
		/* A first request whose process died: unknown outcome, refused. */
		{
			/* The request's own digest: method, path and body, NUL-separated. */
			static const char head[] = "POST\0/api/v1/appointments";
			size_t hl = sizeof(head), bl = strlen(body2);
			char *all = xmalloc(hl + bl), hex[65];
			const char *q[3];
			memcpy(all, head, hl);
			memcpy(all + hl, body2, bl);
			hx_sha256_hex(all, hl + bl, hex);
			free(all);
			q[0] = b.id;
			q[1] = k3;
			q[2] = hex;
			hx_db_cmd_or_fail("INSERT INTO api_idempotency (business_id, key, request_sha256) "
				"VALUES ($1::bigint, $2, $3)", 3, q);
		}
		api_json_idem("POST", "/api/v1/appointments", b.key, k3, body2, &rs);
		api_expect_error(&rs, 409, "idempotency_key_in_use", "Idempotency-Key", "died");
		assert_non_null(strstr(buf_str(&rs.body), "unknown"));
		api_rs_free(&rs);
		assert_int_equal(api_count("SELECT count(*) FROM appointments WHERE business_id = "
			"$1::bigint", b.id), 1);
	}

	/* After 24 hours a key is forgotten: the same request runs again. */
	p[0] = b.id;
	p[1] = key;
	hx_db_cmd_or_fail("UPDATE api_idempotency SET created_at = now() - interval '25 hours' "
		"WHERE business_id = $1::bigint AND key = $2", 2, p);
	api_json_idem("POST", "/api/v1/appointments", b.key, key, body, &rs);
	api_expect_status(&rs, 201, "after expiry");
	assert_string_equal(rs.replayed, "");
	api_rs_free(&rs);
	assert_int_equal(api_count("SELECT count(*) FROM appointments WHERE business_id = $1::bigint",
		b.id), 2);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM api_idempotency "
		"WHERE created_at < now() - interval '24 hours'", 0, NULL), 0);

	/* PATCH with a key: replayed too, not run twice. */
	{
		char k4[40], ppath[96];
		long long cid = api_client(&b, NULL);
		hx_random_hex(k4, 16);
		snprintf(ppath, sizeof(ppath), "/api/v1/clients/%lld", cid);
		api_json_idem("PATCH", ppath, b.key, k4, "{\"name\": \"First\"}", &rs);
		api_expect_status(&rs, 200, "patch with key");
		api_json("PATCH", ppath, b.key, "{\"name\": \"Second\"}", &again);
		api_expect_status(&again, 200, "patch without key");
		api_rs_free(&again);
		api_json_idem("PATCH", ppath, b.key, k4, "{\"name\": \"First\"}", &again);
		assert_string_equal(again.replayed, "true");
		assert_string_equal(buf_str(&again.body), buf_str(&rs.body));
		api_rs_free(&rs);
		api_rs_free(&again);
		api_json("GET", ppath, b.key, NULL, &rs);
		api_expect_status(&rs, 200, "after replay");
		assert_string_equal(json_string_value(json_object_get(rs.json, "name")), "Second");
		api_rs_free(&rs);
	}
	free(first);
	free(body);
	free(body2);
}

/* Over RINGFENCE_API_RATE_PER_MIN in a minute: 429 with Retry-After;
 * another key is counted on its own. */
static void test_rate_limit(void **state)
{
	struct api_biz b, other;
	struct api_rs rs;
	int n, limited = 0;
	(void)state;
	api_business(&b, NULL);
	api_business(&other, NULL);
	/* Two windows' worth at most: a minute may turn during the loop. */
	for (n = 0; n < 1300 && !limited; n++) {
		api_json("GET", "/api/v1/clients?limit=1", b.key, NULL, &rs);
		if (rs.status == 429) {
			long ra = atol(rs.retry_after);
			api_expect_error(&rs, 429, "rate_limited", NULL, "over the limit");
			assert_true(ra >= 1 && ra <= 60);
			limited = 1;
		} else {
			api_expect_status(&rs, 200, "under the limit");
		}
		api_rs_free(&rs);
	}
	if (!limited)
		fail_msg("1300 requests in a row were never limited");
	/* The limit came after at least the configured default's worth. */
	assert_true(n > 600);
	/* Writes are refused before they run. */
	api_json("POST", "/api/v1/clients", b.key, "{\"name\": \"Late\", \"email\": "
		"\"late@example.com\"}", &rs);
	if (rs.status == 429) {
		api_expect_error(&rs, 429, "rate_limited", NULL, "POST over the limit");
		assert_int_equal(api_count("SELECT count(*) FROM clients WHERE business_id = $1::bigint",
			b.id), 0);
	}
	api_rs_free(&rs);
	api_json("GET", "/api/v1/clients?limit=1", other.key, NULL, &rs);
	api_expect_status(&rs, 200, "another key");
	api_rs_free(&rs);
}

/* SQL metacharacters and emoji go in and come back byte for byte. */
static void test_verbatim(void **state)
{
	static const char name[] = "Robert'); DROP TABLE clients;-- \\\" %_ \xf0\x9f\x98\x80 \xe5\x90\x8d";
	static const char name_json[] = "Robert'); DROP TABLE clients;-- \\\\\\\" %_ \\ud83d\\ude00 "
		"\\u540d";
	struct api_biz b;
	struct api_rs rs;
	char *body, path[96], ids[24], apath[64];
	long long id;
	json_t *got;
	(void)state;
	api_business(&b, NULL);
	body = xasprintf("{\"name\": \"%s\", \"email\": \"o'brien+%%test@example.com\"}", name_json);
	api_json("POST", "/api/v1/clients", b.key, body, &rs);
	free(body);
	api_expect_status(&rs, 201, "metacharacters");
	id = json_integer_value(json_object_get(rs.json, "id"));
	api_rs_free(&rs);
	snprintf(path, sizeof(path), "/api/v1/clients/%lld", id);
	api_json("GET", path, b.key, NULL, &rs);
	api_expect_status(&rs, 200, "read back");
	got = json_object_get(rs.json, "name");
	assert_string_equal(json_string_value(got), name);
	assert_string_equal(json_string_value(json_object_get(rs.json, "email")),
		"o'brien+%test@example.com");
	api_rs_free(&rs);
	{
		const char *p[] = { b.id };
		char *stored = hx_db_value_or_fail("SELECT name FROM clients WHERE business_id = "
			"$1::bigint", 1, p);
		assert_string_equal(stored, name);
		free(stored);
	}
	/* '%' and '_' in a filter are text, not wildcards. */
	api_list_or_fail(b.key, "/api/v1/clients?name=%25", 0, "percent filter");
	api_list_or_fail(b.key, "/api/v1/clients?name=robert')%3B%20drop", 1, "quote filter");

	/* Notes too. */
	body = xasprintf("{\"client_id\": %lld, \"starts_at\": \"2030-02-02T10:00:00Z\", "
		"\"notes\": \"%s\\nline 2\"}", id, name_json);
	api_json("POST", "/api/v1/appointments", b.key, body, &rs);
	free(body);
	api_expect_status(&rs, 201, "notes");
	snprintf(ids, sizeof(ids), "%lld", (long long)json_integer_value(json_object_get(rs.json, "id")));
	snprintf(apath, sizeof(apath), "/api/v1/appointments/%s", ids);
	api_rs_free(&rs);
	api_json("GET", apath, b.key, NULL, &rs);
	{
		char *want = xasprintf("%s\nline 2", name);
		assert_string_equal(json_string_value(json_object_get(rs.json, "notes")), want);
		free(want);
	}
	api_rs_free(&rs);
}

/* The description is served without a key, is the file in the tree, and
 * is OpenAPI 3.1 shaped. */
static void test_openapi_document(void **state)
{
	struct api_rs rs;
	json_t *file;
	json_error_t jerr;
	char err[512];
	(void)state;
	api_call("GET", "/api/v1/openapi.json", NULL, NULL, NULL, 0, &rs);
	api_expect_status(&rs, 200, "openapi.json");
	file = json_load_file(OAS_API_SPEC_PATH, 0, &jerr);
	assert_non_null(file);
	assert_true(json_equal(file, rs.json));
	json_decref(file);
	api_rs_free(&rs);
	if (oas_api_check_doc(err, sizeof(err)) < 0)
		fail_msg("the OpenAPI description: %s", err);
	/* Every route of the table under /api/v1/ is described. */
	{
		static const char *const routes[][2] = {
			{ "post", "/api/v1/clients" }, { "get", "/api/v1/clients" },
			{ "get", "/api/v1/clients/{id}" }, { "patch", "/api/v1/clients/{id}" },
			{ "post", "/api/v1/appointments" }, { "get", "/api/v1/appointments" },
			{ "get", "/api/v1/appointments/{id}" }, { "patch", "/api/v1/appointments/{id}" },
			{ "post", "/api/v1/appointments/{id}/cancel" }, { "get", "/api/v1/openapi.json" },
			{ "get", "/api/v1/calendar-feeds" }, { "post", "/api/v1/calendar-feeds" },
			{ "delete", "/api/v1/calendar-feeds/{id}" },
			{ "post", "/api/v1/clients/{id}/confirm" },
		};
		json_t *doc = json_load_file(OAS_API_SPEC_PATH, 0, &jerr);
		for (size_t i = 0; i < ARRAY_LEN(routes); i++)
			if (json_object_get(json_object_get(json_object_get(doc, "paths"), routes[i][1]),
				    routes[i][0]) == NULL)
				fail_msg("%s %s is not described", routes[i][0], routes[i][1]);
		json_decref(doc);
	}
}

/* Every route: without a key, with a wrong one and with a revoked one
 * 401; a body over the cap 413; a body route with broken JSON 400; and
 * none of it changes anything. */
static void test_every_route(void **state)
{
	static const struct {
		const char *method, *path, *body;
	} routes[] = {
		{ "POST", "/api/v1/clients", "{\"name\": \"x\", \"email\": \"x@example.com\"}" },
		{ "GET", "/api/v1/clients", NULL },
		{ "GET", "/api/v1/clients/%s", NULL },
		{ "PATCH", "/api/v1/clients/%s", "{\"name\": \"x\"}" },
		{ "POST", "/api/v1/appointments", "{\"client_id\": 1, \"starts_at\": "
			"\"2030-01-01T10:00:00Z\"}" },
		{ "GET", "/api/v1/appointments", NULL },
		{ "GET", "/api/v1/appointments/%s", NULL },
		{ "PATCH", "/api/v1/appointments/%s", "{\"status\": \"cancelled\"}" },
		{ "POST", "/api/v1/appointments/%s/cancel", "{}" },
	};
	struct api_biz b;
	struct api_rs rs;
	char prefix[APIKEY_PREFIX_LEN + 1], ids[24], apath[64], cid[24], *before, *after;
	char *big = xmalloc(API_BIG + 1), *auth;
	long long client;
	(void)state;
	api_business(&b, NULL);
	client = api_client(&b, NULL);
	snprintf(cid, sizeof(cid), "%lld", client);
	api_booked_or_fail(&b, client, (long long)time(NULL) + 72 * H, ids, apath);
	memset(big, ' ', API_BIG);
	big[0] = '{';
	big[API_BIG - 1] = '}';
	big[API_BIG] = '\0';
	auth = xasprintf("Bearer %s", b.key);
#define API_STATE_SQL "SELECT (SELECT string_agg(c.name || c.phone, ',' ORDER BY c.id) FROM " \
	"clients c WHERE c.business_id = $1::bigint) || (SELECT string_agg(a.status || " \
	"a.starts_at, ',' ORDER BY a.id) FROM appointments a WHERE a.business_id = $1::bigint)"
	before = hx_db_value_or_fail(API_STATE_SQL, 1, (const char *const[]){ b.id });
	for (size_t i = 0; i < ARRAY_LEN(routes); i++) {
		char path[128];
		snprintf(path, sizeof(path), routes[i].path,
			strstr(routes[i].path, "clients/") ? cid : ids);
		if (routes[i].body) {
			api_call(routes[i].method, path, auth, "application/json", big, API_BIG, &rs);
			api_expect_error(&rs, 413, "body_too_large", NULL, path);
			api_rs_free(&rs);
			api_json(routes[i].method, path, b.key, "{\"name\": ", &rs);
			api_expect_error(&rs, 400, "invalid_json", NULL, path);
			api_rs_free(&rs);
			api_json(routes[i].method, path, b.key, "{\"zzz\": 1}", &rs);
			api_expect_error(&rs, 422, "unknown_field", "zzz", path);
			api_rs_free(&rs);
		}
		api_json(routes[i].method, path, NULL, routes[i].body, &rs);
		api_expect_error(&rs, 401, "unauthorized", NULL, path);
		api_rs_free(&rs);
		api_json(routes[i].method, path,
			"rf_000000000000_wrongwrongwrongwrongwrongwrongwrongwrong", routes[i].body, &rs);
		api_expect_error(&rs, 401, "unauthorized", NULL, path);
		api_rs_free(&rs);
	}
	assert_int_equal(apikey_parse(b.key, prefix), 1);
	hx_db_cmd_or_fail("UPDATE api_keys SET revoked_at = now() WHERE prefix = $1", 1,
		(const char *const[]){ prefix });
	for (size_t i = 0; i < ARRAY_LEN(routes); i++) {
		char path[128];
		snprintf(path, sizeof(path), routes[i].path,
			strstr(routes[i].path, "clients/") ? cid : ids);
		api_json(routes[i].method, path, b.key, routes[i].body, &rs);
		api_expect_error(&rs, 401, "unauthorized", NULL, path);
		api_rs_free(&rs);
	}
	after = hx_db_value_or_fail(API_STATE_SQL, 1, (const char *const[]){ b.id });
	assert_string_equal(before, after);
#undef API_STATE_SQL
	free(before);
	free(after);
	free(big);
	free(auth);
}

int api_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_client_validation),
		cmocka_unit_test(test_appointment_validation),
		cmocka_unit_test(test_create_default_policy),
		cmocka_unit_test(test_create_custom_policy),
		cmocka_unit_test(test_late_bookings),
		cmocka_unit_test(test_reschedule),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_get_with_attempts),
		cmocka_unit_test(test_cross_business),
		cmocka_unit_test(test_body_and_routes),
		cmocka_unit_test(test_list_appointments_paging),
		cmocka_unit_test(test_clients_read_update),
		cmocka_unit_test(test_list_clients),
		cmocka_unit_test(test_cancel_route),
		cmocka_unit_test(test_idempotency),
		cmocka_unit_test(test_verbatim),
		cmocka_unit_test(test_openapi_document),
		cmocka_unit_test(test_every_route),
		cmocka_unit_test(test_rate_limit),
	};
	return cmocka_run_group_tests_name("integration: JSON API", tests, hx_group_setup,
		hx_group_teardown);
}

/* Integration tests of the JSON API (/api/v1/) through nginx, the
 * FastCGI pool, PostgreSQL and Redis, all real (see harness.h).
 *
 * Every test makes its own business and key, so tests neither see nor
 * disturb each other's rows.  Times come from the stack's real clock: the
 * tests bracket each request with their own clock readings. */
#include "harness.h"
#include "apikey.h"
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
	api_header_take(p, sz * n, "WWW-Authenticate", rs->www_authenticate,
		sizeof(rs->www_authenticate));
	api_header_take(p, sz * n, "Allow", rs->allow, sizeof(rs->allow));
	api_header_take(p, sz * n, "Location", rs->location, sizeof(rs->location));
	return sz * n;
}

static void api_rs_free(struct api_rs *rs)
{
	buf_free(&rs->body);
	json_decref(rs->json);
	memset(rs, 0, sizeof(*rs));
}

/* method path (under the public URL) with an optional Authorization
 * value (NULL: none), content type (NULL: none) and body.  Fails the test
 * when no HTTP answer comes back. */
static void api_call(const char *method, const char *path, const char *auth, const char *ctype,
	const char *body, size_t body_len, struct api_rs *rs)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char *url = xasprintf("%s%s", hx_env.public_url, path), *hv = NULL, *cv = NULL;
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
	free(url);
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

	api_json("GET", "/api/v1/clients", b.key, NULL, &rs);
	api_expect_error(&rs, 405, "method_not_allowed", NULL, "GET clients");
	assert_string_equal(rs.allow, "POST");
	api_rs_free(&rs);
	api_json("DELETE", "/api/v1/appointments/1", b.key, NULL, &rs);
	api_expect_error(&rs, 405, "method_not_allowed", NULL, "DELETE appointment");
	assert_string_equal(rs.allow, "GET, PATCH");
	api_rs_free(&rs);
	api_json("GET", "/api/v1/nothing", b.key, NULL, &rs);
	api_expect_error(&rs, 404, "not_found", NULL, "unknown resource");
	api_rs_free(&rs);
	api_json("GET", "/api/v1/appointments/abc", b.key, NULL, &rs);
	api_expect_error(&rs, 404, "not_found", NULL, "non-numeric id");
	api_rs_free(&rs);
	api_json("GET", "/api/v1/appointments/0012", b.key, NULL, &rs);
	api_expect_error(&rs, 404, "not_found", NULL, "id with leading zeros");
	api_rs_free(&rs);
	/* Without the slash, still the API's JSON. */
	api_json("GET", "/api/v1", b.key, NULL, &rs);
	api_expect_error(&rs, 404, "not_found", NULL, "/api/v1 without the slash");
	api_rs_free(&rs);

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
	};
	return cmocka_run_group_tests_name("integration: JSON API", tests, hx_group_setup,
		hx_group_teardown);
}

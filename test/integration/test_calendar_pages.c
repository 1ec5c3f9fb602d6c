/* Group "calendar_pages": what people see of calendar feeds and what they
 * decide, over HTTP through nginx with real sessions and API keys: the
 * Calendars settings page (feeds, country, automatic confirmation), held
 * syncs approved and rejected, clients proposed from calendars confirmed,
 * events without a contact, and the API's calendar-feeds and confirm
 * routes (every exchange held to src/www/openapi.json).  The sync's rows
 * are written with SQL, as `ringfence calsync` writes them.  Every bad
 * input is a 4xx with a reason and changes nothing; a feed's address
 * never comes back, nor reaches the audit stream or a log. */
#include "apikey.h"
#include "audit.h"
#include "db.h"
#include "harness.h"
#include "dash_client.h"
#include "groups.h"
#include "oas.h"
#include "util.h"

#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The secret part of the addresses these tests add: it must never come
 * back in a page, an API answer, the audit stream or a log. */
#define SECRET "private-3f9c1d7e5b2a"

/* ---- helpers ----------------------------------------------------------------- */

static struct dc *owner_or_fail(struct dc_account *a, const char *role)
{
	dc_throttle_reset_or_fail();
	dc_account_or_fail(a, role, "America/New_York");
	return dc_login_or_fail(a->email, a->password);
}

static char *idstr(long long id)
{
	return xasprintf("%lld", id);
}

/* The number sql gives with the business's id as $1. */
static long long biz_count(const struct dc_account *a, const char *sql)
{
	return dc_biz_count(a->business_id, sql);
}

/* One value of sql with the business's id as $1 (free it). */
static char *biz_value(const struct dc_account *a, const char *sql)
{
	char *b = idstr(a->business_id);
	const char *p[1] = { b };
	char *v = hx_db_value_or_fail(sql, 1, p);
	free(b);
	return v;
}

/* The number sql gives with the business's id as $1, then p2 and p3
 * (when not NULL) as $2 and $3. */
static long long biz_int(const struct dc_account *a, const char *sql, const char *p2,
	const char *p3)
{
	char *b = idstr(a->business_id);
	const char *p[3] = { b, p2, p3 };
	long long v = hx_db_int_or_fail(sql, p3 ? 3 : 2, p);
	free(b);
	return v;
}

/* A feed of the business, as the dashboard adds it; its id. */
static long long feed_or_fail(const struct dc_account *a, const char *name, const char *url)
{
	return biz_int(a, "INSERT INTO calendar_feeds (business_id, name, url,"
		" created_by) VALUES ($1::bigint, $2, $3, 'test') RETURNING id", name, url);
}

/* An open hold of feed, as the sync writes one; its id. */
static long long hold_or_fail(const struct dc_account *a, long long feed)
{
	char *f = idstr(feed);
	long long id = biz_int(a,
		"WITH h AS (INSERT INTO calendar_holds (business_id, feed_id, reason, creates,"
		"  reschedules, cancels, threshold, content_sha256, preview)"
		" VALUES ($1::bigint, $2::bigint, 'would change 540 reminders at once (limit 60:"
		"  3 x the largest day, 20)', 500, 30, 10, 60, repeat('ab', 32),"
		"  '[{\"action\": \"create\", \"summary\": \"Cleaning <b>Ann</b>\","
		"    \"client\": \"Ann Example\", \"from\": null, \"to\": \"2030-01-07T15:00:00Z\"},"
		"   {\"action\": \"cancel\", \"summary\": \"Checkup Bob\", \"client\": \"Bob\","
		"    \"from\": \"2030-01-08T14:00:00Z\", \"to\": null}]') RETURNING id),"
		" f AS (UPDATE calendar_feeds SET last_status = 'held' WHERE id = $2::bigint)"
		" SELECT id FROM h", f, NULL);
	free(f);
	return id;
}

/* A client the sync proposed from an event (unconfirmed); its id. */
static long long proposed_or_fail(const struct dc_account *a, const char *name,
	const char *phone)
{
	return biz_int(a, "INSERT INTO clients (business_id, name, phone,"
		" proposed_at, proposed_from) VALUES ($1::bigint, $2, $3, now(),"
		" 'calendar feed ''Front desk'', event ''Cleaning'' on 2030-01-07: phone in the"
		" description') RETURNING id", name, phone);
}

static long long client_or_fail(const struct dc_account *a, const char *name, const char *phone)
{
	return biz_int(a, "INSERT INTO clients (business_id, name, phone)"
		" VALUES ($1::bigint, $2, $3) RETURNING id", name, phone);
}

/* POSTs the pairs and fails unless the answer is status; the body (free). */
static char *post_status_or_fail(struct dc *c, const char *path, long want, ...)
{
	struct dc_response r;
	va_list ap;
	char *body;

	va_start(ap, want);
	assert_int_equal(dc_post_formv(c, path, &r, ap), 0);
	va_end(ap);
	if (r.status != want)
		fail_msg("POST %s: %ld, want %ld: %.400s", path, r.status, want, buf_str(&r.body));
	body = xstrdup(r.body.data ? buf_str(&r.body) : "");
	dc_response_free(&r);
	return body;
}

/* The whole state a refused request must leave as it was. */
static char *state_of(const struct dc_account *a)
{
	return biz_value(a, "SELECT md5(concat_ws('|',"
		" (SELECT string_agg(f::text, ',' ORDER BY id) FROM calendar_feeds f"
		"   WHERE business_id = $1::bigint),"
		" (SELECT string_agg(h::text, ',' ORDER BY id) FROM calendar_holds h"
		"   WHERE business_id = $1::bigint),"
		" (SELECT string_agg(c::text, ',' ORDER BY id) FROM clients c"
		"   WHERE business_id = $1::bigint),"
		" (SELECT concat_ws(':', country, auto_confirm_clients) FROM businesses"
		"   WHERE id = $1::bigint),"
		" (SELECT count(*) FROM business_events WHERE business_id = $1::bigint)))");
}

static void assert_unchanged(const struct dc_account *a, const char *before, const char *what)
{
	char *now = state_of(a);
	if (strcmp(before, now) != 0)
		fail_msg("%s changed something", what);
	free(now);
}

/* Fails when s holds the secret. */
static void assert_no_secret(const char *s, const char *where)
{
	if (s && strstr(s, SECRET))
		fail_msg("the feed's address is in %s", where);
}

/* ---- the API's exchanges ----------------------------------------------------- */

struct api_rs {
	long status;
	struct buf body;
	json_t *json;
	char headers[16][64];
	const char *names[17];
	size_t n;
};

static size_t api_hdr(char *p, size_t sz, size_t n, void *ud)
{
	struct api_rs *rs = ud;
	const char *colon = memchr(p, ':', sz * n);

	if (colon && rs->n < 16 && (size_t)(colon - p) < sizeof(rs->headers[0])) {
		memcpy(rs->headers[rs->n], p, (size_t)(colon - p));
		rs->headers[rs->n][colon - p] = '\0';
		rs->names[rs->n] = rs->headers[rs->n];
		rs->n++;
	}
	return sz * n;
}

static size_t api_body(char *p, size_t sz, size_t n, void *ud)
{
	buf_append(ud, p, sz * n);
	return sz * n;
}

/* method path with the key and JSON body (NULL: none); the exchange is
 * checked against the OpenAPI description. */
static void api(const char *key, const char *method, const char *path, const char *body,
	struct api_rs *rs)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char *url = xasprintf("%s%s", hx_env.public_url, path), *auth = xasprintf(
		"Authorization: Bearer %s", key), err[768];

	memset(rs, 0, sizeof(*rs));
	buf_init(&rs->body);
	h = curl_slist_append(h, auth);
	if (body)
		h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, api_hdr);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, api_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &rs->body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
	if (curl_easy_perform(c) != CURLE_OK)
		fail_msg("%s %s: no answer", method, path);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	rs->json = json_loads(buf_str(&rs->body), 0, NULL);
	{
		char *route = xstrndup(path, strcspn(path, "?"));
		if (oas_api_check(method, route, (int)rs->status, body, buf_str(&rs->body), rs->names,
			    err, sizeof(err)) < 0)
			fail_msg("%s %s -> %ld does not agree with the OpenAPI description: %s", method,
				path, rs->status, err);
		free(route);
	}
	assert_no_secret(buf_str(&rs->body), "an API answer");
	free(url);
	free(auth);
}

static void api_free(struct api_rs *rs)
{
	buf_free(&rs->body);
	json_decref(rs->json);
}

/* Expects status and, for an error, the field it names (NULL: any). */
static void api_expect(const char *key, const char *method, const char *path, const char *body,
	long status, const char *field)
{
	struct api_rs rs;

	api(key, method, path, body, &rs);
	if (rs.status != status)
		fail_msg("%s %s: %ld, want %ld: %s", method, path, rs.status, status,
			buf_str(&rs.body));
	if (field) {
		json_t *f = json_object_get(json_object_get(rs.json, "error"), "field");
		if (!json_is_string(f) || strcmp(json_string_value(f), field) != 0)
			fail_msg("%s %s: the error does not name '%s': %s", method, path, field,
				buf_str(&rs.body));
	}
	api_free(&rs);
}

/* ---- the Calendars page -------------------------------------------------------- */

static void test_feeds_added_and_refused(void **state)
{
	struct dc_account a;
	struct dc *c = owner_or_fail(&a, "owner");
	struct dc_response r;
	char *body, *before, long_url[2100];
	const char *url = "https://calendar.example.com/calendar/ical/" SECRET "/basic.ics";
	static const char *const bad[][2] = {
		{ "Front desk", "" },
		{ "Front desk", "ftp://calendar.example.com/" SECRET ".ics" },
		{ "Front desk", "https://me:" SECRET "@calendar.example.com/x.ics" },
		{ "Front desk", "https://calendar.example.com/" SECRET " x.ics" },
		{ "Front desk", "https:///" SECRET ".ics" },
		{ "Front desk", "calendar.example.com/" SECRET ".ics" },
		{ "", "https://calendar.example.com/" SECRET "/other.ics" },
		{ "Front\ndesk", "https://calendar.example.com/" SECRET "/other.ics" },
	};
	(void)state;

	assert_int_equal(dc_get_page(c, "/settings/calendars", &body), 200);
	assert_non_null(strstr(body, "action=\"/settings/calendars\""));
	assert_non_null(strstr(body, "name=\"csrf\""));
	assert_non_null(strstr(body, "No calendar yet"));
	free(body);

	dc_post_see_other_or_fail(c, "/settings/calendars",
		"/settings/calendars?notice=feed_added#feeds", "name", "Front desk", "url", url, NULL);
	assert_int_equal(biz_count(&a, "SELECT count(*) FROM calendar_feeds WHERE business_id ="
		" $1::bigint AND enabled AND name = 'Front desk' AND url LIKE '%" SECRET "%'"), 1);
	body = dc_get_or_fail(c, "/settings/calendars", 200);
	assert_non_null(strstr(body, "https://calendar.example.com/…"));
	assert_non_null(strstr(body, "Not synced yet"));
	assert_no_secret(body, "the Calendars page");
	free(body);

	/* Every bad input: 422 naming what is wrong, nothing stored, and the
	 * address typed is not on the page. */
	before = state_of(&a);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		assert_int_equal(dc_post_form(c, "/settings/calendars", &r, "name", bad[i][0], "url",
			bad[i][1], NULL), 0);
		if (r.status != 422)
			fail_msg("bad feed %zu: %ld", i, r.status);
		assert_non_null(strstr(buf_str(&r.body), "role=\"alert\""));
		assert_no_secret(buf_str(&r.body), "a refusal");
		dc_response_free(&r);
		assert_unchanged(&a, before, "a bad feed");
	}
	/* The same address again; one too long. */
	body = post_status_or_fail(c, "/settings/calendars", 422, "name", "Again", "url", url, NULL);
	assert_non_null(strstr(body, "already in the list"));
	assert_no_secret(body, "the duplicate's refusal");
	free(body);
	memset(long_url, 'a', sizeof(long_url) - 1);
	long_url[sizeof(long_url) - 1] = '\0';
	memcpy(long_url, "https://x.example/", 18);
	body = post_status_or_fail(c, "/settings/calendars", 422, "name", "Long", "url", long_url,
		NULL);
	assert_non_null(strstr(body, "2000"));
	free(body);
	/* Without the CSRF token: 403. */
	assert_int_equal(dc_post_form(c, "/settings/calendars", &r, "csrf", NULL, "name", "No csrf",
		"url", "https://calendar.example.com/nocsrf.ics", NULL), 0);
	assert_int_equal(r.status, 403);
	dc_response_free(&r);
	assert_unchanged(&a, before, "a POST without the token");
	free(before);
	dc_free(c);
}

static void test_feed_states_toggle_sync_remove(void **state)
{
	struct dc_account a, s;
	struct dc *c = owner_or_fail(&a, "owner"), *st;
	char *body, *path, *before;
	long long feed = feed_or_fail(&a, "Chair 2",
		"webcal://p59-caldav.icloud.com/published/2/" SECRET);
	char *fid = idstr(feed);
	const char *p[1] = { fid };
	(void)state;

	/* What the sync wrote is shown: failing, with why and since when. */
	hx_db_cmd_or_fail("UPDATE calendar_feeds SET last_status = 'failed', last_error ="
		" 'HTTP 500', failures = 3, last_polled_at = now(), events_in_feed = 41,"
		" next_poll_at = now() + interval '2 hours' WHERE id = $1::bigint", 1, p);
	body = dc_get_or_fail(c, "/settings/calendars", 200);
	assert_non_null(strstr(body, "webcal://p59-caldav.icloud.com/…"));
	assert_non_null(strstr(body, "Failing"));
	assert_non_null(strstr(body, "HTTP 500"));
	assert_non_null(strstr(body, "Last successful sync: never; 3 failed attempts"));
	assert_non_null(strstr(body, ">41<"));
	assert_no_secret(body, "the Calendars page");
	free(body);

	/* Sync now: due at once. */
	path = xasprintf("/settings/calendars/%lld/sync", feed);
	dc_post_see_other_or_fail(c, path, "/settings/calendars?notice=sync_requested#feeds", NULL);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM calendar_feeds WHERE id ="
		" $1::bigint AND next_poll_at <= now()", 1, p), 1);
	free(path);

	/* Off, on; a bad value changes nothing; sync now of an off feed 409. */
	path = xasprintf("/settings/calendars/%lld/enabled", feed);
	before = state_of(&a);
	free(post_status_or_fail(c, path, 422, "enabled", "maybe", NULL));
	free(post_status_or_fail(c, path, 422, NULL));
	assert_unchanged(&a, before, "a bad enabled value");
	free(before);
	dc_post_see_other_or_fail(c, path, "/settings/calendars?notice=saved#feeds", "enabled",
		"off", NULL);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM calendar_feeds WHERE id ="
		" $1::bigint AND NOT enabled", 1, p), 1);
	body = dc_get_or_fail(c, "/settings/calendars", 200);
	assert_non_null(strstr(body, "Turn on"));
	free(body);
	{
		char *sync = xasprintf("/settings/calendars/%lld/sync", feed);
		before = state_of(&a);
		body = post_status_or_fail(c, sync, 409, NULL);
		assert_non_null(strstr(body, "Turn it on first"));
		free(body);
		assert_unchanged(&a, before, "sync now of an off feed");
		free(before);
		free(sync);
	}
	hx_db_cmd_or_fail("UPDATE calendar_feeds SET next_poll_at = now() + interval '1 hour'"
		" WHERE id = $1::bigint", 1, p);
	dc_post_see_other_or_fail(c, path, "/settings/calendars?notice=saved#feeds", "enabled",
		"on", NULL);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM calendar_feeds WHERE id ="
		" $1::bigint AND enabled AND next_poll_at <= now()", 1, p), 1);
	free(path);

	/* Staff see the feeds, may sync, may not change them. */
	dc_account_or_fail(&s, "staff", NULL);
	{
		char *b = idstr(a.business_id), *u = idstr(s.user_id);
		const char *q[2] = { b, u };
		hx_db_cmd_or_fail("UPDATE users SET business_id = $1::bigint WHERE id = $2::bigint", 2,
			q);
		free(b);
		free(u);
	}
	st = dc_login_or_fail(s.email, s.password);
	body = dc_get_or_fail(st, "/settings/calendars", 200);
	assert_null(strstr(body, "action=\"/settings/calendars\""));
	assert_non_null(strstr(body, "Chair 2"));
	assert_null(strstr(body, "/remove\""));
	free(body);
	before = state_of(&a);
	free(post_status_or_fail(st, "/settings/calendars", 403, "name", "Staff's",
		"url", "https://calendar.example.com/staff.ics", NULL));
	path = xasprintf("/settings/calendars/%lld/remove", feed);
	free(post_status_or_fail(st, path, 403, NULL));
	free(post_status_or_fail(st, "/settings/calendars/country", 403, "country", "GB", NULL));
	free(post_status_or_fail(st, "/settings/calendars/auto-confirm", 403, "auto_confirm", "on",
		"reason", "staff", NULL));
	assert_unchanged(&a, before, "staff's changes");
	free(before);
	{
		char *sync = xasprintf("/settings/calendars/%lld/sync", feed);
		dc_post_see_other_or_fail(st, sync, "/settings/calendars?notice=sync_requested#feeds",
			NULL);
		free(sync);
	}
	/* Staff see a held sync but only an owner decides it; staff confirm
	 * clients. */
	{
		long long hold = hold_or_fail(&a, feed), pc = proposed_or_fail(&a, "Dee", "+15550100188");
		char *hp = xasprintf("/calendar-holds/%lld", hold), *cp, *want;
		body = dc_get_or_fail(st, hp, 200);
		assert_non_null(strstr(body, "Only an owner can approve or reject"));
		assert_null(strstr(body, "value=\"approve\""));
		free(body);
		before = state_of(&a);
		free(post_status_or_fail(st, hp, 403, "decision", "approve", NULL));
		assert_unchanged(&a, before, "staff's decision");
		free(before);
		cp = xasprintf("/clients/%lld/confirm", pc);
		want = xasprintf("/clients/%lld?notice=client_confirmed", pc);
		dc_post_see_other_or_fail(st, cp, want, NULL);
		free(cp);
		free(want);
		free(hp);
	}
	dc_free(st);

	/* Removed; again 404. */
	dc_post_see_other_or_fail(c, path, "/settings/calendars?notice=feed_removed#feeds", NULL);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM calendar_feeds WHERE id ="
		" $1::bigint", 1, p), 0);
	free(post_status_or_fail(c, path, 404, NULL));
	free(path);
	free(fid);
	dc_free(c);
}

static void test_country_and_auto_confirm(void **state)
{
	struct dc_account a;
	struct dc *c = owner_or_fail(&a, "owner");
	char *body, *before, *v;
	(void)state;

	body = dc_get_or_fail(c, "/settings/calendars", 200);
	assert_non_null(strstr(body, "value=\"GB\""));
	assert_non_null(strstr(body, "Confirm clients from calendars automatically: <strong>off"));
	assert_non_null(strstr(body, "Careful:"));
	free(body);

	dc_post_see_other_or_fail(c, "/settings/calendars/country",
		"/settings/calendars?notice=saved#country", "country", "GB", NULL);
	v = biz_value(&a, "SELECT country FROM businesses WHERE id = $1::bigint");
	assert_string_equal(v, "GB");
	free(v);
	before = state_of(&a);
	free(post_status_or_fail(c, "/settings/calendars/country", 422, "country", "XX", NULL));
	free(post_status_or_fail(c, "/settings/calendars/country", 422, "country", "gb'--", NULL));
	/* Automatic confirmation needs on/off and a reason. */
	free(post_status_or_fail(c, "/settings/calendars/auto-confirm", 422, "auto_confirm", "on",
		"reason", "", NULL));
	free(post_status_or_fail(c, "/settings/calendars/auto-confirm", 422, "auto_confirm", "yes",
		"reason", "why not", NULL));
	free(post_status_or_fail(c, "/settings/calendars/auto-confirm", 422, "auto_confirm", "off",
		"reason", "already off", NULL));
	assert_unchanged(&a, before, "bad country and confirmation changes");
	free(before);
	dc_post_see_other_or_fail(c, "/settings/calendars/country",
		"/settings/calendars?notice=saved#country", "country", "", NULL);
	assert_int_equal(biz_count(&a, "SELECT count(*) FROM businesses WHERE id = $1::bigint"
		" AND country IS NULL"), 1);

	dc_post_see_other_or_fail(c, "/settings/calendars/auto-confirm",
		"/settings/calendars?notice=saved#auto-confirm", "auto_confirm", "on", "reason",
		"our calendar is typed by the clients themselves", NULL);
	assert_int_equal(biz_count(&a, "SELECT count(*) FROM businesses WHERE id = $1::bigint"
		" AND auto_confirm_clients"), 1);
	{
		char *q = xasprintf("SELECT count(*) FROM business_events WHERE business_id ="
			" $1::bigint AND event = 'auto_confirm_on' AND actor = '%s' AND reason ="
			" 'our calendar is typed by the clients themselves'", a.email);
		assert_int_equal(biz_count(&a, q), 1);
		free(q);
	}
	free(post_status_or_fail(c, "/settings/calendars/auto-confirm", 422, "auto_confirm", "on",
		"reason", "twice", NULL));
	body = dc_get_or_fail(c, "/settings/calendars", 200);
	assert_non_null(strstr(body, "automatically: <strong>on"));
	assert_non_null(strstr(body, a.email));
	free(body);
	dc_post_see_other_or_fail(c, "/settings/calendars/auto-confirm",
		"/settings/calendars?notice=saved#auto-confirm", "auto_confirm", "off", "reason",
		"a stranger was texted", NULL);
	assert_int_equal(biz_count(&a, "SELECT count(*) FROM business_events WHERE business_id ="
		" $1::bigint AND event IN ('auto_confirm_on', 'auto_confirm_off')"), 2);
	assert_int_equal(biz_count(&a, "SELECT count(*) FROM businesses WHERE id = $1::bigint"
		" AND NOT auto_confirm_clients"), 1);
	dc_free(c);
}

/* ---- held changes ---------------------------------------------------------------- */

static void test_holds_approved_and_rejected(void **state)
{
	struct dc_account a;
	struct dc *c = owner_or_fail(&a, "owner");
	long long f1 = feed_or_fail(&a, "Front desk", "https://calendar.example.com/" SECRET "/1");
	long long f2 = feed_or_fail(&a, "Chair 2", "https://calendar.example.com/" SECRET "/2");
	long long h1 = hold_or_fail(&a, f1), h2 = hold_or_fail(&a, f2);
	char *body, *path, *before, *want, *hid = idstr(h1);
	const char *p[1] = { hid };
	(void)state;

	/* The banner on Today and on the Calendars page. */
	body = dc_get_or_fail(c, "/today", 200);
	want = xasprintf("href=\"/calendar-holds/%lld\"", h1);
	assert_non_null(strstr(body, want));
	assert_non_null(strstr(body, "are held for your approval"));
	free(body);
	body = dc_get_or_fail(c, "/settings/calendars", 200);
	assert_non_null(strstr(body, want));
	assert_non_null(strstr(body, "Changes held"));
	free(body);
	free(want);

	/* The hold's page: counts, reason, preview (escaped). */
	path = xasprintf("/calendar-holds/%lld", h1);
	body = dc_get_or_fail(c, path, 200);
	assert_non_null(strstr(body, "would change 540 reminders at once"));
	assert_non_null(strstr(body, "data-count=\"creates\">500 reminders"));
	assert_non_null(strstr(body, "data-count=\"reschedules\">30 reminders"));
	assert_non_null(strstr(body, "data-count=\"cancels\">10 reminders"));
	assert_non_null(strstr(body, "Cleaning &lt;b&gt;Ann&lt;/b&gt;"));
	assert_null(strstr(body, "<b>Ann</b>"));
	assert_non_null(strstr(body, "Checkup Bob"));
	/* 2030-01-07T15:00Z in New York is 10:00. */
	assert_non_null(strstr(body, "7 Jan 2030, 10:00"));
	assert_non_null(strstr(body, "value=\"approve\""));
	assert_non_null(strstr(body, "value=\"reject\""));
	assert_non_null(strstr(body, "name=\"seen\" value=\"abababab"));
	free(body);

	/* Bad decisions change nothing. */
	before = state_of(&a);
	free(post_status_or_fail(c, path, 422, "decision", "maybe", NULL));
	free(post_status_or_fail(c, path, 422, NULL));
	{
		char note[600];
		memset(note, 'n', sizeof(note) - 1);
		note[sizeof(note) - 1] = '\0';
		free(post_status_or_fail(c, path, 422, "decision", "approve", "reason", note, NULL));
	}
	free(post_status_or_fail(c, "/calendar-holds/999999999", 404, "decision", "approve",
		NULL));
	assert_unchanged(&a, before, "bad decisions");
	free(before);

	/* An approval of another preview than the one held now (the sync
	 * refreshed the hold since the page was shown): 409, nothing
	 * changed. */
	before = state_of(&a);
	body = post_status_or_fail(c, path, 409, "decision", "approve", "seen",
		"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", NULL);
	assert_non_null(strstr(body, "checked again"));
	free(body);
	free(post_status_or_fail(c, path, 409, "decision", "approve", NULL));
	assert_unchanged(&a, before, "approving a preview not shown");
	free(before);

	/* Approved: recorded, the feed stays on and is read at once. */
	want = xasprintf("/calendar-holds/%lld?notice=hold_approved", h1);
	hx_db_cmd_or_fail("UPDATE calendar_feeds SET next_poll_at = now() + interval '1 hour'"
		" WHERE id = (SELECT feed_id FROM calendar_holds WHERE id = $1::bigint)", 1, p);
	dc_post_see_other_or_fail(c, path, want, "decision", "approve", "reason", "the new term",
		"seen", "abababababababababababababababababababababababababababababababab", NULL);
	free(want);
	{
		char *q = xasprintf("SELECT count(*) FROM calendar_holds WHERE id = $1::bigint AND"
			" decision = 'approved' AND decided_by = '%s' AND decided_at IS NOT NULL", a.email);
		assert_int_equal(hx_db_int_or_fail(q, 1, p), 1);
		free(q);
	}
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM calendar_feeds f JOIN"
		" calendar_holds h ON h.feed_id = f.id WHERE h.id = $1::bigint AND f.enabled AND"
		" f.next_poll_at <= now()", 1, p), 1);
	body = dc_get_or_fail(c, path, 200);
	assert_non_null(strstr(body, "data-decision=\"approved\""));
	assert_null(strstr(body, "value=\"approve\""));
	free(body);
	/* Deciding again: 409, nothing changed. */
	before = state_of(&a);
	free(post_status_or_fail(c, path, 409, "decision", "reject", NULL));
	assert_unchanged(&a, before, "a second decision");
	free(before);
	free(path);

	/* Rejected: the feed is off in the same transaction. */
	path = xasprintf("/calendar-holds/%lld", h2);
	want = xasprintf("/calendar-holds/%lld?notice=hold_rejected", h2);
	dc_post_see_other_or_fail(c, path, want, "decision", "reject", NULL);
	free(want);
	{
		char *f2s = idstr(f2);
		const char *q[1] = { f2s };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM calendar_feeds f JOIN"
			" calendar_holds h ON h.feed_id = f.id WHERE f.id = $1::bigint AND NOT f.enabled"
			" AND h.decision = 'rejected'", 1, q), 1);
		free(f2s);
	}
	body = dc_get_or_fail(c, "/today", 200);
	assert_null(strstr(body, "are held for your approval"));
	free(body);
	free(path);
	free(hid);
	dc_free(c);
}

/* ---- proposed clients -------------------------------------------------------------- */

static void test_proposed_clients_confirmed(void **state)
{
	struct dc_account a;
	struct dc *c = owner_or_fail(&a, "owner");
	long long pc = proposed_or_fail(&a, "Ann From Calendar", "+15550100177");
	long long pc2 = proposed_or_fail(&a, "Bea From Calendar", "+15550100178");
	long long nc = client_or_fail(&a, "Carl Typed In", "+15550100179");
	char *body, *path, *before, *want, *pid = idstr(pc);
	const char *p[1] = { pid };
	struct dc_response r;
	(void)state;

	body = dc_get_or_fail(c, "/today", 200);
	assert_non_null(strstr(body, "2 clients from your calendar wait for confirmation"));
	assert_non_null(strstr(body, "href=\"/clients?show=to_confirm\""));
	free(body);

	body = dc_get_or_fail(c, "/clients", 200);
	assert_non_null(strstr(body, "To confirm (from your calendar)"));
	assert_non_null(strstr(body, "data-filter=\"to_confirm\""));
	assert_non_null(strstr(body, "Carl Typed In"));
	free(body);
	body = dc_get_or_fail(c, "/clients?show=to_confirm", 200);
	assert_non_null(strstr(body, "Ann From Calendar"));
	assert_null(strstr(body, "Carl Typed In"));
	free(body);
	assert_int_equal(dc_get(c, "/clients?show=everything", &r), 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(buf_str(&r.body), "show=to_confirm"));
	dc_response_free(&r);

	path = xasprintf("/clients/%lld", pc);
	body = dc_get_or_fail(c, path, 200);
	assert_non_null(strstr(body, "calendar feed &#39;Front desk&#39;"));
	want = xasprintf("action=\"/clients/%lld/confirm\"", pc);
	assert_non_null(strstr(body, want));
	free(want);
	want = xasprintf("href=\"/clients/%lld/edit\"", pc);
	assert_non_null(strstr(body, want));
	free(want);
	assert_null(strstr(body, "Receives reminders"));
	free(body);
	free(path);

	/* A client nobody proposed: 409; another business's or none: 404. */
	before = state_of(&a);
	path = xasprintf("/clients/%lld/confirm", nc);
	body = post_status_or_fail(c, path, 409, NULL);
	assert_non_null(strstr(body, "Nothing to confirm"));
	free(body);
	free(path);
	free(post_status_or_fail(c, "/clients/999999999/confirm", 404, NULL));
	assert_unchanged(&a, before, "a refused confirmation");
	free(before);

	path = xasprintf("/clients/%lld/confirm", pc);
	want = xasprintf("/clients/%lld?notice=client_confirmed", pc);
	dc_post_see_other_or_fail(c, path, want, NULL);
	{
		char *q = xasprintf("SELECT count(*) FROM clients WHERE id = $1::bigint AND"
			" confirmed_at IS NOT NULL AND confirmed_by = '%s'", a.email);
		assert_int_equal(hx_db_int_or_fail(q, 1, p), 1);
		free(q);
	}
	/* Again: the same answer, the first confirmation kept. */
	before = state_of(&a);
	dc_post_see_other_or_fail(c, path, want, NULL);
	assert_unchanged(&a, before, "confirming twice");
	free(before);
	free(want);
	free(path);
	body = dc_get_or_fail(c, "/today", 200);
	assert_non_null(strstr(body, "1 client from your calendar waits for confirmation"));
	free(body);
	(void)pc2;
	free(pid);
	dc_free(c);
}

/* ---- events without a contact -------------------------------------------------------- */

static void test_events_without_contact(void **state)
{
	struct dc_account a;
	struct dc *c = owner_or_fail(&a, "owner");
	long long f = feed_or_fail(&a, "Front desk", "https://calendar.example.com/" SECRET "/nc");
	char *b = idstr(a.business_id), *fs = idstr(f), *body;
	const char *p[2] = { b, fs };
	(void)state;

	hx_db_cmd_or_fail("INSERT INTO calendar_events (feed_id, business_id, uid, summary,"
		" starts_at, state, contact) VALUES"
		" ($2::bigint, $1::bigint, 'u1', 'Haircut <Dana>', now() + interval '1 day',"
		"  'no_contact', 'no phone number or e-mail in the event'),"
		" ($2::bigint, $1::bigint, 'u2', 'Massage', now() + interval '3 days', 'no_contact',"
		"  'a national number but no country set'),"
		" ($2::bigint, $1::bigint, 'u3', 'Far away', now() + interval '10 days', 'no_contact',"
		"  'none'),"
		" ($2::bigint, $1::bigint, 'u4', 'Long ago', now() - interval '1 day', 'no_contact',"
		"  'none')", 2, p);
	body = dc_get_or_fail(c, "/today", 200);
	assert_non_null(strstr(body, "2 events this week have no phone number"));
	assert_non_null(strstr(body, "href=\"/calendar-events/no-contact\""));
	free(body);
	body = dc_get_or_fail(c, "/settings/calendars", 200);
	assert_non_null(strstr(body, "2 events this week have no phone number"));
	free(body);
	body = dc_get_or_fail(c, "/calendar-events/no-contact", 200);
	assert_non_null(strstr(body, "Haircut &lt;Dana&gt;"));
	assert_non_null(strstr(body, "Massage"));
	assert_non_null(strstr(body, "a national number but no country set"));
	assert_non_null(strstr(body, "Front desk"));
	assert_null(strstr(body, "Far away"));
	assert_null(strstr(body, "Long ago"));
	free(body);
	free(b);
	free(fs);
	dc_free(c);
}

/* ---- the API ----------------------------------------------------------------------- */

static void test_api_feeds_and_confirm(void **state)
{
	struct dc_account a;
	char *key, *before, *loc;
	struct api_rs rs;
	long long id, pc, nc;
	const char *url = "{\"name\": \"Front desk\", \"url\": \"https://calendar.example.com/"
		"calendar/ical/" SECRET "/basic.ics\"}";
	(void)state;

	dc_account_or_fail(&a, "owner", NULL);
	key = hx_api_key_or_fail(a.business_id, "calendar");

	api(key, "POST", "/api/v1/calendar-feeds", url, &rs);
	assert_int_equal(rs.status, 201);
	id = json_integer_value(json_object_get(rs.json, "id"));
	assert_true(id > 0);
	assert_string_equal(json_string_value(json_object_get(rs.json, "url")),
		"https://calendar.example.com/…");
	assert_true(json_is_true(json_object_get(rs.json, "enabled")));
	api_free(&rs);
	assert_int_equal(biz_count(&a, "SELECT count(*) FROM calendar_feeds WHERE business_id ="
		" $1::bigint AND created_by LIKE 'API key %'"), 1);

	api(key, "GET", "/api/v1/calendar-feeds", NULL, &rs);
	assert_int_equal(rs.status, 200);
	assert_int_equal(json_array_size(json_object_get(rs.json, "data")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(
		rs.json, "data"), 0), "url")), "https://calendar.example.com/…");
	api_free(&rs);

	/* Every bad input: 4xx naming the field, nothing stored. */
	before = state_of(&a);
	api_expect(key, "POST", "/api/v1/calendar-feeds", url, 409, "url");
	api_expect(key, "POST", "/api/v1/calendar-feeds",
		"{\"name\": \"x\", \"url\": \"ftp://calendar.example.com/" SECRET "\"}", 422, "url");
	api_expect(key, "POST", "/api/v1/calendar-feeds",
		"{\"name\": \"x\", \"url\": \"https://u:" SECRET "@calendar.example.com/a\"}", 422,
		"url");
	api_expect(key, "POST", "/api/v1/calendar-feeds",
		"{\"name\": \"\", \"url\": \"https://calendar.example.com/" SECRET "/b\"}", 422, "name");
	api_expect(key, "POST", "/api/v1/calendar-feeds",
		"{\"url\": \"https://calendar.example.com/" SECRET "/c\"}", 422, "name");
	/* A name of spaces only: refused before the database (whose own check
	 * would answer 503 and write the address into its log). */
	api_expect(key, "POST", "/api/v1/calendar-feeds",
		"{\"name\": \"   \", \"url\": \"https://calendar.example.com/" SECRET "/e\"}", 422,
		"name");
	api_expect(key, "POST", "/api/v1/calendar-feeds",
		"{\"name\": \"x\", \"url\": \"https://calendar.example.com/" SECRET "/d\","
		" \"enabled\": true}", 422, "enabled");
	api_expect(key, "GET", "/api/v1/calendar-feeds?limit=0", NULL, 422, "limit");
	api_expect(key, "GET", "/api/v1/calendar-feeds?sort=name", NULL, 400, "sort");
	api_expect(key, "DELETE", "/api/v1/calendar-feeds/999999999", NULL, 404, NULL);
	assert_unchanged(&a, before, "bad API requests");
	free(before);

	/* DELETE answers the feed as it was; again 404. */
	loc = xasprintf("/api/v1/calendar-feeds/%lld", id);
	api(key, "DELETE", loc, NULL, &rs);
	assert_int_equal(rs.status, 200);
	assert_int_equal(json_integer_value(json_object_get(rs.json, "id")), id);
	api_free(&rs);
	assert_int_equal(biz_count(&a, "SELECT count(*) FROM calendar_feeds WHERE business_id ="
		" $1::bigint"), 0);
	api_expect(key, "DELETE", loc, NULL, 404, NULL);
	free(loc);

	/* Confirming a proposed client. */
	pc = proposed_or_fail(&a, "Ann From Calendar", "+15550100181");
	nc = client_or_fail(&a, "Carl Typed In", "+15550100182");
	before = state_of(&a);
	loc = xasprintf("/api/v1/clients/%lld/confirm", nc);
	api_expect(key, "POST", loc, NULL, 409, NULL);
	free(loc);
	loc = xasprintf("/api/v1/clients/%lld/confirm", pc);
	api_expect(key, "POST", loc, "{\"really\": true}", 422, NULL);
	api_expect(key, "POST", "/api/v1/clients/999999999/confirm", NULL, 404, NULL);
	assert_unchanged(&a, before, "refused confirmations");
	free(before);
	api(key, "POST", loc, "{}", &rs);
	assert_int_equal(rs.status, 200);
	assert_non_null(json_string_value(json_object_get(rs.json, "confirmed_at")));
	assert_non_null(strstr(json_string_value(json_object_get(rs.json, "confirmed_by")),
		"API key "));
	assert_non_null(json_string_value(json_object_get(rs.json, "proposed_from")));
	api_free(&rs);
	api(key, "POST", loc, NULL, &rs);
	assert_int_equal(rs.status, 200);
	api_free(&rs);
	free(loc);
	free(key);
}

/* The secret address added in this group reached neither the business's
 * audit streams nor any log of the stack. */
static void test_secret_nowhere(void **state)
{
	struct dc_account a;
	struct dc *c = owner_or_fail(&a, "owner");
	char *akey, err[256], *text, *dir;
	json_t *recs;
	DIR *d;
	struct dirent *e;
	(void)state;

	dc_post_see_other_or_fail(c, "/settings/calendars",
		"/settings/calendars?notice=feed_added#feeds", "name", "Audited",
		"url", "https://calendar.example.com/" SECRET "/audited.ics", NULL);
	free(post_status_or_fail(c, "/settings/calendars", 422, "name", "Audited",
		"url", "https://calendar.example.com/" SECRET "/audited.ics", NULL));
	akey = xasprintf("%s%lld", AUDIT_KEY_BUSINESS_PREFIX, a.business_id);
	assert_int_equal(hx_audit_wait(akey, 1, 3000, "kind", "settings", "event",
		"calendar_feed_added", "by_email", a.email, "feed_name", "Audited", NULL), 1);
	recs = hx_audit_read(akey, 0, err, sizeof(err));
	assert_non_null(recs);
	text = json_dumps(recs, 0);
	assert_no_secret(text, "the audit stream");
	free(text);
	json_decref(recs);
	free(akey);
	dir = xasprintf("%s/log", hx_env.stack_dir);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char *path = xasprintf("%s/%s", dir, e->d_name);
		FILE *f = e->d_name[0] == '.' ? NULL : fopen(path, "r");
		char line[8192];
		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, SECRET))
				fail_msg("the feed's address is in %s", path);
		if (f)
			fclose(f);
		free(path);
	}
	closedir(d);
	free(dir);
	dc_free(c);
}

int calendar_pages_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feeds_added_and_refused),
		cmocka_unit_test(test_feed_states_toggle_sync_remove),
		cmocka_unit_test(test_country_and_auto_confirm),
		cmocka_unit_test(test_holds_approved_and_rejected),
		cmocka_unit_test(test_proposed_clients_confirmed),
		cmocka_unit_test(test_events_without_contact),
		cmocka_unit_test(test_api_feeds_and_confirm),
		cmocka_unit_test(test_secret_nowhere),
	};
	return cmocka_run_group_tests_name("integration: calendar pages", tests, hx_group_setup,
		hx_group_teardown);
}

/* Group "isolation": one business can never see or change another's
 * rows, on any route.
 *
 * Business B gets one row of every kind a route can name by id (client,
 * appointment, reminder with an unknown-outcome attempt, a session, a
 * CSV upload, an API key, a second user, a reminder policy line).  Business A's owner, logged in
 * and with an API key of A's own, then asks every id route of the
 * dashboard and the API for B's ids, GET and POST, with a valid CSRF
 * token and plausible fields: every answer must be 404, exactly as for
 * an id that does not exist, and B's rows must be byte-identical
 * afterwards.  The walk is checked against the route table itself:
 * every row whose path takes an id must have been exercised, so a route
 * added later without a line here fails this test. */
#include "harness.h"
#include "dash_client.h"
#include "apikey.h"
#include "arena.h"
#include "db.h"
#include "dispatch.h"
#include "groups.h"
#include "util.h"

#include <string.h>

/* The other business's rows, as text ids. */
struct other {
	struct dc_account acc;
	char client[24], appt[24], reminder[24], attempt[24], session[24], upload[24], key[24],
		user2[24], policy[24], biz[24], feed[24], hold[24];
};

/* One request of the walk: method, path with one %s for the id (the
 * kind names which of B's ids), and the form or JSON body to send. */
struct target {
	const char *method;
	const char *path;
	const char *kind;
	const char *body; /* form pairs "a=b&c=d" (dashboard) or JSON (API) */
};

static const struct target targets[] = {
	/* dashboard */
	{ "GET", "/appointments/%s", "appt", NULL },
	{ "GET", "/appointments/%s/edit", "appt", NULL },
	{ "POST", "/appointments/%s", "appt", "starts_at=2030-01-02T10:00&notes=x" },
	{ "POST", "/appointments/%s/cancel", "appt", "" },
	{ "POST", "/appointments/%s/callback-done", "appt", "" },
	{ "POST", "/appointments/%s/reschedule-done", "appt", "" },
	{ "POST", "/appointments/%s/test-reminder", "appt", "channel=voice" },
	{ "POST", "/decisions/%s", "attempt", "decision=reached&reason=isolation" },
	{ "GET", "/clients/%s", "client", NULL },
	{ "GET", "/clients/%s/edit", "client", NULL },
	{ "POST", "/clients/%s", "client", "name=Changed&phone=%2B15550100000&email=&time_zone=" },
	{ "POST", "/clients/%s/opt-out", "client", "" },
	{ "POST", "/clients/%s/confirm", "client", "" },
	{ "POST", "/settings/calendars/%s/remove", "feed", "" },
	{ "POST", "/settings/calendars/%s/enabled", "feed", "enabled=off" },
	{ "POST", "/settings/calendars/%s/sync", "feed", "" },
	{ "GET", "/calendar-holds/%s", "hold", NULL },
	{ "POST", "/calendar-holds/%s", "hold", "decision=reject&reason=isolation" },
	{ "GET", "/clients/%s/messages", "client", NULL },
	{ "POST", "/clients/%s/messages", "client", "body=Isolation+reply" },
	{ "POST", "/clients/%s/messages/answered", "client", "" },
	{ "POST", "/import/%s/commit", "upload", "" },
	{ "POST", "/settings/sessions/%s/revoke", "session", "" },
	{ "POST", "/settings/api-keys/%s/revoke", "key", "" },
	{ "POST", "/settings/users/%s/remove", "user2", "" },
	{ "POST", "/settings/policy/%s/remove", "policy", "" },
	/* operators only: an owner gets 404 for any business, its own included */
	{ "POST", "/operator/businesses/%s/verify", "biz", "reason=isolation" },
	{ "POST", "/operator/businesses/%s/unverify", "biz", "reason=isolation" },
	{ "POST", "/operator/businesses/%s/resume", "biz", "reason=isolation" },
	/* API */
	{ "GET", "/api/v1/appointments/%s", "appt", NULL },
	{ "PATCH", "/api/v1/appointments/%s", "appt", "{\"starts_at\": \"2030-01-02T10:00:00Z\"}" },
	{ "POST", "/api/v1/appointments/%s/cancel", "appt", "{}" },
	{ "GET", "/api/v1/clients/%s", "client", NULL },
	{ "PATCH", "/api/v1/clients/%s", "client", "{\"name\": \"Changed\"}" },
	{ "POST", "/api/v1/clients/%s/confirm", "client", "{}" },
	{ "DELETE", "/api/v1/calendar-feeds/%s", "feed", NULL },
};

/* Rows whose {param} is a name, not another business's id. */
static const char *const name_routes[] = {
	"/static/{name}",
	"/import/template/{name}",
	"/flows/{name}",
	"/twilio/voice/{flow}",
};

static const char *other_id(const struct other *o, const char *kind)
{
	if (strcmp(kind, "appt") == 0)
		return o->appt;
	if (strcmp(kind, "client") == 0)
		return o->client;
	if (strcmp(kind, "attempt") == 0)
		return o->attempt;
	if (strcmp(kind, "upload") == 0)
		return o->upload;
	if (strcmp(kind, "session") == 0)
		return o->session;
	if (strcmp(kind, "key") == 0)
		return o->key;
	if (strcmp(kind, "user2") == 0)
		return o->user2;
	if (strcmp(kind, "policy") == 0)
		return o->policy;
	if (strcmp(kind, "biz") == 0)
		return o->biz;
	if (strcmp(kind, "feed") == 0)
		return o->feed;
	if (strcmp(kind, "hold") == 0)
		return o->hold;
	fail_msg("no id of kind %s", kind);
	return NULL;
}

/* Copies the i-th comma-separated field of s into out. */
static void field(const char *s, int i, char *out, size_t size)
{
	const char *p = s, *e;

	while (i-- > 0) {
		p = strchr(p, ',');
		assert_non_null(p);
		p++;
	}
	e = strchr(p, ',');
	snprintf(out, size, "%.*s", (int)(e ? (size_t)(e - p) : strlen(p)), p);
}

/* B's rows: one statement for the reminder chain, then a session (a real
 * login), an upload, a key and a second user. */
static void other_or_fail(struct other *o)
{
	struct dc_account second;
	const char *p[1];
	char biz[24], *v;
	struct dc *c;

	memset(o, 0, sizeof(*o));
	dc_account_or_fail(&o->acc, "owner", NULL);
	snprintf(biz, sizeof(biz), "%lld", o->acc.business_id);
	snprintf(o->biz, sizeof(o->biz), "%lld", o->acc.business_id);
	p[0] = biz;
	v = hx_db_value_or_fail(
		"WITH c AS (INSERT INTO clients (business_id, name, phone, email, proposed_at, "
		"  proposed_from) VALUES ($1, 'Other business client', '+15550109876', "
		"  'other@example.com', now(), 'a calendar event') RETURNING id), "
		"a AS (INSERT INTO appointments (business_id, client_id, starts_at, notes) "
		"  SELECT $1, id, now() + interval '3 days', 'private' FROM c RETURNING id), "
		"r AS (INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes, "
		"  due_at, stale_at, to_address, status) SELECT $1, id, 'voice', 60, "
		"  now() - interval '5 minutes', now() + interval '1 hour', '+15550109876', 'unknown' "
		"  FROM a RETURNING id), "
		"t AS (INSERT INTO contact_attempts (reminder_id, business_id, channel, to_address, "
		"  status, lease_until) SELECT id, $1, 'voice', '+15550109876', 'unknown', now() "
		"  FROM r RETURNING id), "
		"u AS (INSERT INTO csv_uploads (business_id, user_id, kind, sha256, rows, row_count) "
		"  SELECT $1, (SELECT id FROM users WHERE business_id = $1 LIMIT 1), 'clients', "
		"  repeat('ab', 32), '[]', 0 RETURNING id), "
		"k AS (INSERT INTO api_keys (business_id, prefix, key_sha256, label) "
		"  VALUES ($1, substr(md5(random()::text), 1, 12), repeat('cd', 32), 'other') "
		"  RETURNING id), "
		"pl AS (INSERT INTO reminder_policies (business_id, channel, offset_minutes, "
		"  stale_after_minutes) VALUES ($1, 'sms', 120, 60) RETURNING id), "
		"f AS (INSERT INTO calendar_feeds (business_id, name, url, created_by) "
		"  VALUES ($1, 'B calendar', 'https://calendar.example.com/b-secret.ics', 'b') "
		"  RETURNING id, business_id), "
		"h AS (INSERT INTO calendar_holds (business_id, feed_id, reason, creates, reschedules, "
		"  cancels, threshold, content_sha256) SELECT business_id, id, 'would change 99', 99, "
		"  0, 0, 20, repeat('ab', 32) FROM f RETURNING id) "
		"SELECT concat_ws(',', (SELECT id FROM c), (SELECT id FROM a), (SELECT id FROM r), "
		"  (SELECT id FROM t), (SELECT id FROM u), (SELECT id FROM k), (SELECT id FROM pl), "
		"  (SELECT id FROM f), (SELECT id FROM h))",
		1, p);
	field(v, 0, o->client, sizeof(o->client));
	field(v, 1, o->appt, sizeof(o->appt));
	field(v, 2, o->reminder, sizeof(o->reminder));
	field(v, 3, o->attempt, sizeof(o->attempt));
	field(v, 4, o->upload, sizeof(o->upload));
	field(v, 5, o->key, sizeof(o->key));
	field(v, 6, o->policy, sizeof(o->policy));
	field(v, 7, o->feed, sizeof(o->feed));
	field(v, 8, o->hold, sizeof(o->hold));
	free(v);
	/* A second user of B, and a live session of B's owner. */
	dc_account_or_fail(&second, "staff", NULL);
	{
		const char *q[] = { biz, "" };
		char uid[24];
		snprintf(uid, sizeof(uid), "%lld", second.user_id);
		q[1] = uid;
		hx_db_cmd_or_fail("UPDATE users SET business_id = $1 WHERE id = $2", 2, q);
		snprintf(o->user2, sizeof(o->user2), "%s", uid);
	}
	c = dc_login_or_fail(o->acc.email, o->acc.password);
	dc_free(c);
	{
		char uid[24];
		const char *q[1] = { uid };
		snprintf(uid, sizeof(uid), "%lld", o->acc.user_id);
		v = hx_db_value_or_fail("SELECT max(id) FROM sessions WHERE user_id = $1 "
					"AND revoked_at IS NULL", 1, q);
		snprintf(o->session, sizeof(o->session), "%s", v);
		free(v);
	}
}

/* Everything of B's that a route could change, as one digest. */
static char *fingerprint(const struct other *o)
{
	char biz[24];
	const char *p[1] = { biz };

	snprintf(biz, sizeof(biz), "%lld", o->acc.business_id);
	return hx_db_value_or_fail(
		"SELECT md5(concat_ws('|', "
		" (SELECT string_agg(c::text, ',' ORDER BY id) FROM clients c WHERE business_id = $1), "
		" (SELECT string_agg(a::text, ',' ORDER BY id) FROM appointments a WHERE business_id = $1), "
		" (SELECT string_agg(r::text, ',' ORDER BY id) FROM reminders r WHERE business_id = $1), "
		" (SELECT string_agg(t::text, ',' ORDER BY id) FROM contact_attempts t "
		"   WHERE business_id = $1), "
		" (SELECT string_agg(concat_ws(':', s.id, s.revoked_at, s.acting_business_id), ',' "
		"   ORDER BY s.id) FROM sessions s JOIN users u ON u.id = s.user_id "
		"   WHERE u.business_id = $1), "
		" (SELECT string_agg(u::text, ',' ORDER BY id) FROM csv_uploads u WHERE business_id = $1), "
		" (SELECT string_agg(k::text, ',' ORDER BY id) FROM api_keys k WHERE business_id = $1), "
		" (SELECT string_agg(concat_ws(':', id, email, role), ',' ORDER BY id) FROM users "
		"   WHERE business_id = $1), "
		" (SELECT count(*) FROM attempt_decisions WHERE business_id = $1), "
		" (SELECT string_agg(pl::text, ',' ORDER BY id) FROM reminder_policies pl "
		"   WHERE business_id = $1), "
		" (SELECT string_agg(f::text, ',' ORDER BY id) FROM calendar_feeds f "
		"   WHERE business_id = $1), "
		" (SELECT string_agg(h::text, ',' ORDER BY id) FROM calendar_holds h "
		"   WHERE business_id = $1), "
		" (SELECT string_agg(x::text, ',' ORDER BY id) FROM inbox_texts x WHERE business_id = $1)))",
		1, p);
}

/* The status of one API request as A. */
static long api_status(const char *method, const char *path, const char *auth, const char *body)
{
	struct hx_request rq;
	struct hx_response rs;
	char *url = xasprintf("%s%s", getenv("RINGFENCE_PUBLIC_URL"), path);
	long st;

	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = url;
	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	rq.content_type = body ? "application/json" : NULL;
	rq.authorization = auth;
	assert_int_equal(hx_http(NULL, &rq, &rs), 0);
	st = rs.status;
	if (st != 404)
		print_message("%s %s: %ld %s\n", method, path, st, rs.body.data ? buf_str(&rs.body) : "");
	hx_response_free(&rs);
	free(url);
	return st;
}

/* The status of one dashboard request as A: a GET, or a form POST built
 * from "a=b&c=d" (values already form-encoded) with A's CSRF token. */
static long page_status(struct dc *c, const char *method, const char *path, const char *body)
{
	struct dc_response r;
	const char *pairs[16] = { 0 };
	char *copy = NULL, *save = NULL, *tok;
	size_t n = 0;
	long st;

	if (strcmp(method, "GET") == 0) {
		assert_int_equal(dc_get(c, path, &r), 0);
	} else {
		copy = xstrdup(body ? body : "");
		for (tok = strtok_r(copy, "&", &save); tok && n + 2 < 14;
			tok = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(tok, '=');
			if (eq == NULL)
				continue;
			*eq = '\0';
			pairs[n++] = tok;
			pairs[n++] = eq + 1;
		}
		/* The values are written encoded ("%2B"): decode the one
		 * escape the table uses. */
		for (size_t i = 1; i < n; i += 2)
			if (strcmp(pairs[i], "%2B15550100000") == 0)
				pairs[i] = "+15550100000";
		assert_int_equal(dc_post_form(c, path, &r, pairs[0], pairs[1], pairs[2], pairs[3],
					 pairs[4], pairs[5], pairs[6], pairs[7], pairs[8], pairs[9],
					 NULL),
			0);
	}
	st = r.status;
	if (st != 404)
		print_message("%s %s: %ld %.300s\n", method, path, st,
			r.body.data ? buf_str(&r.body) : "");
	dc_response_free(&r);
	free(copy);
	return st;
}

static int is_name_route(const char *pattern)
{
	for (size_t i = 0; i < ARRAY_LEN(name_routes); i++)
		if (strcmp(pattern, name_routes[i]) == 0)
			return 1;
	return 0;
}

static void test_every_id_route_is_404(void **state)
{
	struct other o;
	struct dc_account a;
	struct dc *c;
	char *before, *after, *key, *auth;
	int *hit = xcalloc(routes_count, sizeof(int));
	struct arena *ar = arena_new(4096);
	size_t failures = 0, missing = 0;

	(void)state;
	dc_throttle_reset_or_fail();
	other_or_fail(&o);
	dc_account_or_fail(&a, "owner", NULL);
	c = dc_login_or_fail(a.email, a.password);
	key = hx_api_key_or_fail(a.business_id, "isolation");
	auth = xasprintf("Bearer %s", key);
	before = fingerprint(&o);

	for (size_t i = 0; i < ARRAY_LEN(targets); i++) {
		const struct target *t = &targets[i];
		char *path = xasprintf(t->path, other_id(&o, t->kind));
		const struct route *row, *path_row;
		const char *param;
		long st;

		row = dispatch_match(routes_table, routes_count, ar, t->method, path, &param,
			&path_row);
		if (row == NULL) {
			print_message("no route answers %s %s\n", t->method, path);
			failures++;
		} else {
			hit[row - routes_table] = 1;
		}
		st = strncmp(path, "/api/", 5) == 0 ? api_status(t->method, path, auth, t->body)
			: page_status(c, t->method, path, t->body);
		if (st != 404)
			failures++;
		free(path);
	}
	after = fingerprint(&o);
	assert_string_equal(before, after);

	/* Every id route of the table was walked. */
	for (size_t i = 0; i < routes_count; i++) {
		const struct route *r = &routes_table[i];
		if ((r->auth != ROUTE_AUTH_SESSION && r->auth != ROUTE_AUTH_API_KEY) ||
			strchr(r->pattern, '{') == NULL || is_name_route(r->pattern) || hit[i])
			continue;
		print_message("route %s %s takes an id but is not in the isolation walk\n",
			r->method ? r->method : "*", r->pattern);
		missing++;
	}
	assert_int_equal(failures, 0);
	assert_int_equal(missing, 0);
	free(before);
	free(after);
	free(key);
	free(auth);
	free(hit);
	arena_free(ar);
	dc_free(c);
}

int isolation_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_id_route_is_404),
	};
	return cmocka_run_group_tests_name("integration: isolation", tests, hx_group_setup,
		hx_group_teardown);
}

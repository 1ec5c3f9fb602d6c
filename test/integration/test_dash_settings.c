/* Group "dash_settings": the settings pages (business, reminder policy,
 * message wording and its preview), API keys, users and the call flow
 * diagrams, over HTTP through nginx with a real session (dash_client.h),
 * checked against PostgreSQL. */
#include "audit.h"
#include "harness.h"
#include "dash_client.h"
#include "groups.h"
#include "util.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------- */

/* An owner (or role) of a new business, logged in. */
static struct dc *login_as_or_fail(struct dc_account *a, const char *role)
{
	dc_throttle_reset_or_fail();
	dc_account_or_fail(a, role, "Europe/London");
	return dc_login_or_fail(a->email, a->password);
}

/* The business's settings as one comparable line. */
static char *business_row(long long id)
{
	char bid[24];
	const char *p[1] = { bid };

	snprintf(bid, sizeof(bid), "%lld", id);
	return hx_db_value_or_fail("SELECT concat_ws('|', name, time_zone, window_start,"
				   " window_end, callback_phone, machine_detection)"
				   " FROM businesses WHERE id = $1::bigint", 1, p);
}

/* POSTs the business form with these values (machine detection ticked
 * when md is not NULL) into r. */
static void post_business(struct dc *c, struct dc_response *r, const char *name, const char *tz,
	const char *ws, const char *we, const char *phone, const char *md)
{
	assert_int_equal(dc_post_form(c, "/settings/business", r, "name", name, "time_zone", tz,
		"window_start", ws, "window_end", we, "callback_phone", phone,
		"machine_detection", md, NULL), 0);
}

/* The text of the element with id="id" (a <pre>), or NULL; HTML entities
 * are left as they are (keys and made-up passwords have none). */
static char *pre_text(const char *body, const char *id)
{
	char *needle = xasprintf("id=\"%s\">", id), *out = NULL;
	const char *s = strstr(body, needle), *e;

	if (s) {
		s += strlen(needle);
		e = strchr(s, '<');
		if (e)
			out = xstrndup(s, (size_t)(e - s));
	}
	free(needle);
	return out;
}

/* ---- the business form ------------------------------------------------------ */

/* Valid input is stored and answered 303; the page shows it. */
static void test_business_saved(void **state)
{
	struct dc_account a;
	struct dc *c = login_as_or_fail(&a, "owner");
	struct dc_response r;
	char *row, *body;

	assert_int_equal(dc_get_page(c, "/settings", &body), 200);
	assert_non_null(strstr(body, "action=\"/settings/business\""));
	assert_non_null(strstr(body, "href=\"/settings/sessions\""));
	assert_non_null(strstr(body, "href=\"/account/password\""));
	free(body);
	post_business(c, &r, "  Dr. Smith & Co  ", "America/New_York", "08:30", "19:15",
		"+1 (555) 010-0199", "on");
	assert_int_equal(r.status, 303);
	assert_non_null(strstr(r.location, "/settings?notice=saved"));
	dc_response_free(&r);
	row = business_row(a.business_id);
	assert_string_equal(row, "Dr. Smith & Co|America/New_York|08:30:00|19:15:00|+15550100199|t");
	free(row);
	assert_int_equal(dc_get_page(c, "/settings", &body), 200);
	assert_non_null(strstr(body, "value=\"Dr. Smith &amp; Co\""));
	assert_non_null(strstr(body, "<option value=\"America/New_York\" selected>"));
	assert_non_null(strstr(body, "name=\"machine_detection\" value=\"on\" checked"));
	free(body);

	/* Unticked, the checkbox is not sent: detection goes off. */
	post_business(c, &r, "Dr. Smith & Co", "America/New_York", "08:30", "19:15",
		"+15550100199", NULL);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	row = business_row(a.business_id);
	assert_string_equal(row, "Dr. Smith & Co|America/New_York|08:30:00|19:15:00|+15550100199|f");
	free(row);
	dc_free(c);
}

/* Every invalid field: 422, the page again with what was typed and a
 * message naming the field, and nothing changed. */
static void test_business_invalid(void **state)
{
	static const struct {
		const char *name, *tz, *ws, *we, *phone, *says;
	} cases[] = {
		{ "", "UTC", "09:00", "17:00", "+15550100123", "Business name:" },
		{ "Line\x01two", "UTC", "09:00", "17:00", "+15550100123", "Business name:" },
		{ "OK", "Mars/Olympus", "09:00", "17:00", "+15550100123", "Time zone:" },
		{ "OK", "+05", "09:00", "17:00", "+15550100123", "Time zone:" },
		{ "OK", "UTC", "9am", "17:00", "+15550100123", "the start must be a time" },
		{ "OK", "UTC", "09:00", "24:00", "+15550100123", "the end must be a time" },
		{ "OK", "UTC", "17:00", "09:00", "+15550100123", "later than the start" },
		{ "OK", "UTC", "09:00", "09:00", "+15550100123", "later than the start" },
		{ "OK", "UTC", "09:00", "17:00", "555-0123", "Callback number:" },
		{ "OK", "UTC", "09:00", "17:00", "+44 (0)20 7946 0958", "Callback number:" },
	};
	struct dc_account a;
	struct dc *c = login_as_or_fail(&a, "owner");
	char *before = business_row(a.business_id), *after;
	struct dc_response r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		post_business(c, &r, cases[i].name, cases[i].tz, cases[i].ws, cases[i].we,
			cases[i].phone, NULL);
		if (r.status != 422 || strstr(buf_str(&r.body), cases[i].says) == NULL)
			fail_msg("case %zu: status %ld, no '%s' in the page", i, r.status,
				cases[i].says);
		dc_response_free(&r);
		after = business_row(a.business_id);
		assert_string_equal(after, before);
		free(after);
	}
	/* 200 characters is the bound, not 200 bytes: a name of 200 two-byte
	 * letters is taken. */
	{
		char name[401];
		for (int i = 0; i < 200; i++)
			memcpy(name + 2 * i, "\xc3\xa9", 2);
		name[400] = '\0';
		post_business(c, &r, name, "UTC", "09:00", "17:00", "+15550100123", NULL);
		assert_int_equal(r.status, 303);
		dc_response_free(&r);
		free(before);
		before = business_row(a.business_id);
	}
	/* What was typed comes back, escaped. */
	post_business(c, &r, "<b>New</b>", "UTC", "10:00", "09:00", "+15550100123", NULL);
	assert_int_equal(r.status, 422);
	assert_non_null(strstr(buf_str(&r.body), "value=\"&lt;b&gt;New&lt;/b&gt;\""));
	assert_null(strstr(buf_str(&r.body), "<b>New</b>"));
	dc_response_free(&r);
	free(before);
	dc_free(c);
}

/* Staff see the settings read-only and every change is a 403 that
 * changes nothing. */
static void test_staff_read_only(void **state)
{
	struct dc_account a;
	struct dc *c = login_as_or_fail(&a, "staff");
	char *before = business_row(a.business_id), *after, *body;
	struct dc_response r;
	static const char *const posts[] = { "/settings/business", "/settings/policy",
		"/settings/wording", "/settings/users", "/settings/api-keys" };

	assert_int_equal(dc_get_page(c, "/settings", &body), 200);
	assert_null(strstr(body, "action=\"/settings/business\""));
	assert_null(strstr(body, "action=\"/settings/policy\""));
	assert_null(strstr(body, "action=\"/settings/wording\""));
	assert_non_null(strstr(body, "only an owner can change them"));
	free(body);
	for (size_t i = 0; i < sizeof(posts) / sizeof(posts[0]); i++) {
		assert_int_equal(dc_post_form(c, posts[i], &r, "name", "Taken over", "time_zone",
			"UTC", "window_start", "00:00", "window_end", "23:59", "callback_phone",
			"+15550100123", "channel", "sms", "offset", "1", "offset_unit", "hours",
			"stale", "1", "stale_unit", "hours", "greeting", "Hi", "closing", "Bye",
			"do", "save", "email", "new-staff@example.com", "role", "owner",
			"label", "mine", NULL), 0);
		if (r.status != 403)
			fail_msg("%s: %ld, expected 403", posts[i], r.status);
		dc_response_free(&r);
	}
	after = business_row(a.business_id);
	assert_string_equal(after, before);
	assert_int_equal(dc_biz_count(a.business_id,
		"SELECT count(*) FROM reminder_policies WHERE business_id = $1::bigint"), 0);
	assert_int_equal(dc_biz_count(a.business_id,
		"SELECT count(*) FROM message_wording WHERE business_id = $1::bigint"), 0);
	assert_int_equal(dc_biz_count(a.business_id,
		"SELECT count(*) FROM users WHERE business_id = $1::bigint"), 1);
	assert_int_equal(dc_biz_count(a.business_id,
		"SELECT count(*) FROM api_keys WHERE business_id = $1::bigint"), 0);
	free(before);
	free(after);
	dc_free(c);
}

/* Without a session the settings page sends the browser to log in. */
static void test_needs_login(void **state)
{
	struct dc *c = dc_new();
	struct dc_response r;

	assert_int_equal(dc_get(c, "/settings", &r), 0);
	assert_int_equal(r.status, 303);
	assert_non_null(strstr(r.location, "/login"));
	dc_response_free(&r);
	assert_int_equal(dc_get(c, "/flows", &r), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	dc_free(c);
}

/* ---- the reminder policy ---------------------------------------------------- */

static void test_policy_lines(void **state)
{
	static const struct {
		const char *channel, *offset, *unit, *stale, *sunit, *says;
	} bad[] = {
		{ "fax", "1", "hours", "2", "hours", "Channel:" },
		{ "sms", "", "hours", "2", "hours", "How long before:" },
		{ "sms", "-1", "hours", "2", "hours", "How long before:" },
		{ "sms", "1.5", "hours", "2", "hours", "How long before:" },
		{ "sms", "31", "days", "2", "hours", "at most 30 days" },
		{ "sms", "1", "weeks", "2", "hours", "How long before:" },
		{ "sms", "1", "hours", "4", "minutes", "between 5 minutes" },
		{ "sms", "1", "hours", "169", "hours", "between 5 minutes" },
		{ "sms", "1", "hours", "1", "days", "Not sent if late by:" },
		{ "voice", "24", "hours", "2", "hours", "already a Phone call line 1 day" },
	};
	struct dc_account a, b;
	struct dc *c = login_as_or_fail(&a, "owner"), *d;
	struct dc_response r;
	char bid[24], *id, *path, *body;
	const char *p[1] = { bid };

	assert_int_equal(dc_get_page(c, "/settings", &body), 200);
	assert_non_null(strstr(body, "the default policy applies"));
	assert_non_null(strstr(body, "booked or rescheduled after it"));
	free(body);
	assert_int_equal(dc_post_form(c, "/settings/policy", &r, "channel", "voice", "offset",
		"1", "offset_unit", "days", "stale", "3", "stale_unit", "hours", NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	snprintf(bid, sizeof(bid), "%lld", a.business_id);
	id = hx_db_value_or_fail("SELECT id || '|' || channel || '|' || offset_minutes || '|' ||"
				 " stale_after_minutes FROM reminder_policies"
				 " WHERE business_id = $1::bigint", 1, p);
	assert_non_null(strstr(id, "|voice|1440|180"));
	*strchr(id, '|') = '\0';

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dc_post_form(c, "/settings/policy", &r, "channel", bad[i].channel,
			"offset", bad[i].offset, "offset_unit", bad[i].unit, "stale", bad[i].stale,
			"stale_unit", bad[i].sunit, NULL), 0);
		if (r.status != 422 || strstr(buf_str(&r.body), bad[i].says) == NULL)
			fail_msg("case %zu: status %ld, no '%s' in the page", i, r.status, bad[i].says);
		dc_response_free(&r);
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminder_policies"
						   " WHERE business_id = $1::bigint", 1, p), 1);
	}
	assert_int_equal(dc_get_page(c, "/settings", &body), 200);
	assert_non_null(strstr(body, "1 day before"));
	assert_non_null(strstr(body, "3 hours"));
	free(body);

	/* Another business cannot remove it: 404, as for an id that does not
	 * exist, and the line stays. */
	d = login_as_or_fail(&b, "owner");
	path = xasprintf("/settings/policy/%s/remove", id);
	assert_int_equal(dc_post_form(d, path, &r, NULL), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	assert_int_equal(dc_post_form(c, "/settings/policy/999999999/remove", &r, NULL), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminder_policies"
					   " WHERE business_id = $1::bigint", 1, p), 1);
	assert_int_equal(dc_post_form(c, path, &r, NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminder_policies"
					   " WHERE business_id = $1::bigint", 1, p), 0);
	free(path);
	free(id);
	dc_free(d);
	dc_free(c);
}

/* ---- message wording ---------------------------------------------------------- */

static void test_wording_refused(void **state)
{
	static const struct {
		const char *greeting, *closing, *says;
	} bad[] = {
		{ "Hi {notes}", "Bye", "{notes} cannot be used" },
		{ "Hi", "See you {notes}!", "Closing line: {notes} cannot be used" },
		{ "Hi {client_name}", "Bye {business}", "{client_name} is not a placeholder" },
		{ "Hi {business", "Bye", "opens no placeholder" },
		{ "", "Bye", "Greeting: it is empty" },
		{ "Hi", "two\nlines", "Closing line: it must be one line" },
		{ "Hi there", "Call {callback}", "put {business} in the greeting or the closing" },
		/* Carrier keywords only for what carriers do with them. */
		{ "Hi from {business}", "Reply CANCEL to cancel.",
		  "Closing line: it tells people to text CANCEL for something else" },
		{ "Text END, {business} here", "Bye", "Greeting: it tells people to text END" },
		/* The longest text these lines can make must fit 2 segments. */
		{ "Hi from {business} \xe2\x98\xba", "Bye",
		  "is not in the GSM alphabet" },
		{ "Hello from {business}, we look forward to seeing you again soon for your visit,"
		  " please bring your card and arrive ten minutes early to fill in the forms",
		  "Thank you for choosing us, call {callback} with any question you have.",
		  "the text message would take 3 SMS segments" },
	};
	struct dc_account a;
	struct dc *c = login_as_or_fail(&a, "owner");
	struct dc_response r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int save = 0; save < 2; save++) {
			assert_int_equal(dc_post_form(c, "/settings/wording", &r, "greeting",
				bad[i].greeting, "closing", bad[i].closing, "do",
				save ? "save" : "preview", NULL), 0);
			if (r.status != 422 || strstr(buf_str(&r.body), bad[i].says) == NULL)
				fail_msg("case %zu (%s): status %ld, no '%s' in the page", i,
					save ? "save" : "preview", r.status, bad[i].says);
			dc_response_free(&r);
		}
	}
	assert_int_equal(dc_biz_count(a.business_id,
		"SELECT count(*) FROM message_wording WHERE business_id = $1::bigint"), 0);
	dc_free(c);
}

/* A preview shows the text (with its segment count), the email and the
 * call's TwiML for lines not stored, and stores nothing; saving stores
 * them and the page then previews the stored ones. */
static void test_wording_preview_and_save(void **state)
{
	struct dc_account a;
	struct dc *c = login_as_or_fail(&a, "owner");
	struct dc_response r;
	char *name, *want, *body;
	char bid[24];
	const char *p[1] = { bid };
	const char *b;

	snprintf(bid, sizeof(bid), "%lld", a.business_id);
	name = hx_db_value_or_fail("SELECT name FROM businesses WHERE id = $1::bigint", 1, p);
	/* The default wording first. */
	assert_int_equal(dc_get_page(c, "/settings", &body), 200);
	want = xasprintf("This is a reminder from %s: you have an appointment on", name);
	assert_non_null(strstr(body, want));
	assert_non_null(strstr(body, "(GSM-7: 160 in one"));
	free(want);
	free(body);

	assert_int_equal(dc_post_form(c, "/settings/wording", &r, "greeting",
		"H\xc3\xa9llo from {business}", "closing", "Questions? {callback}", "do", "preview",
		NULL), 0);
	assert_int_equal(r.status, 200);
	b = buf_str(&r.body);
	want = xasprintf("H\xc3\xa9llo from %s you have an appointment on", name);
	assert_non_null(strstr(b, want));
	free(want);
	assert_non_null(strstr(b, "not saved yet"));
	/* The text names the replies that work, and its way out. */
	assert_non_null(strstr(b, "Reply 1 to confirm, 2 to cancel, 3 for a call back, 4 to"
		" reschedule. Reply STOP to stop these texts."));
	/* U+00E9 is GSM-7's own: the text stays GSM-7. */
	assert_non_null(strstr(b, "(GSM-7: 160 in one"));
	assert_non_null(strstr(b, "Subject: Appointment reminder from"));
	/* The TwiML is shown as text, escaped, never as markup. */
	assert_non_null(strstr(b, "&lt;Response&gt;"));
	assert_non_null(strstr(b, "&lt;Say&gt;"));
	assert_null(strstr(b, "<Response>"));
	dc_response_free(&r);
	assert_int_equal(dc_biz_count(a.business_id,
		"SELECT count(*) FROM message_wording WHERE business_id = $1::bigint"), 0);

	assert_int_equal(dc_post_form(c, "/settings/wording", &r, "greeting",
		"Hi from {business}!", "closing", "Questions? {callback}", "do", "save", NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	body = hx_db_value_or_fail("SELECT greeting || '|' || closing FROM message_wording"
				   " WHERE business_id = $1::bigint", 1, p);
	assert_string_equal(body, "Hi from {business}!|Questions? {callback}");
	free(body);
	assert_int_equal(dc_get_page(c, "/settings", &body), 200);
	want = xasprintf("Hi from %s! you have an appointment on", name);
	assert_non_null(strstr(body, want));
	assert_non_null(strstr(body, "value=\"Hi from {business}!\""));
	free(want);
	free(body);
	free(name);
	dc_free(c);
}

/* ---- users ---------------------------------------------------------------------- */

static long long user_count(long long business_id)
{
	return dc_biz_count(business_id, "SELECT count(*) FROM users WHERE business_id = $1::bigint");
}

static void test_users_add(void **state)
{
	static const struct {
		const char *email, *role, *pw, *pw2, *says;
	} bad[] = {
		{ "not-an-address", "staff", "", "", "Email:" },
		{ "ok-%s@example.com", "operator", "", "", "Role:" },
		{ "ok-%s@example.com", "", "", "", "Role:" },
		{ "ok-%s@example.com", "staff", "long enough pw 1", "long enough pw 2", "differ" },
		{ "ok-%s@example.com", "staff", "short", "short", "Password:" },
		{ "%s", "staff", "", "", "already has a login" },
	};
	struct dc_account a;
	struct dc *c = login_as_or_fail(&a, "owner"), *n;
	struct dc_response r;
	char hex[17], *email, *pw, *body;
	const char *p[1];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hx_random_hex(hex, 8);
		email = strcmp(bad[i].email, "%s") == 0 ? xstrdup(a.email)
			: strstr(bad[i].email, "%s") ? xasprintf("ok-%s@example.com", hex)
			: xstrdup(bad[i].email);
		assert_int_equal(dc_post_form(c, "/settings/users", &r, "email", email, "role",
			bad[i].role, "password", bad[i].pw, "password_confirm", bad[i].pw2, NULL), 0);
		if (r.status != 422 || strstr(buf_str(&r.body), bad[i].says) == NULL)
			fail_msg("case %zu: status %ld, no '%s' in the page", i, r.status, bad[i].says);
		dc_response_free(&r);
		free(email);
		assert_int_equal(user_count(a.business_id), 1);
	}

	/* Typed twice: 303, and the new login works with the staff role. */
	hx_random_hex(hex, 8);
	email = xasprintf("staff-%s@example.com", hex);
	assert_int_equal(dc_post_form(c, "/settings/users", &r, "email", email, "role", "staff",
		"password", "a long enough password", "password_confirm", "a long enough password",
		NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	p[0] = email;
	body = hx_db_value_or_fail("SELECT role FROM users WHERE email = $1", 1, p);
	assert_string_equal(body, "staff");
	free(body);
	n = dc_login_or_fail(email, "a long enough password");
	dc_free(n);
	free(email);

	/* Left empty: a made-up password shown once, on a page that is not
	 * stored anywhere. */
	hx_random_hex(hex, 8);
	email = xasprintf("owner-%s@example.com", hex);
	assert_int_equal(dc_post_form(c, "/settings/users", &r, "email", email, "role", "owner",
		"password", "", "password_confirm", "", NULL), 0);
	assert_int_equal(r.status, 200);
	{
		char cc[128];
		assert_true(dc_header(&r, "Cache-Control", cc, sizeof(cc)));
		assert_non_null(strstr(cc, "no-store"));
	}
	pw = pre_text(buf_str(&r.body), "new-password");
	assert_non_null(pw);
	assert_int_equal(strlen(pw), 16);
	dc_response_free(&r);
	n = dc_login_or_fail(email, pw);
	dc_free(n);
	/* The list shows it; the password is nowhere on it. */
	assert_int_equal(dc_get_page(c, "/settings/users", &body), 200);
	assert_non_null(strstr(body, email));
	assert_null(strstr(body, pw));
	free(body);
	p[0] = email;
	body = hx_db_value_or_fail("SELECT role FROM users WHERE email = $1", 1, p);
	assert_string_equal(body, "owner");
	free(body);
	free(pw);
	free(email);
	assert_int_equal(user_count(a.business_id), 3);
	dc_free(c);
}

static void test_users_remove(void **state)
{
	struct dc_account a, other, op;
	struct dc *c = login_as_or_fail(&a, "owner"), *s, *x, *o;
	struct dc_response r;
	char hex[17], *email, *path, *sid, uid[24];
	const char *p[1];
	long long staff_id;

	/* A staff login of a's business, logged in. */
	hx_random_hex(hex, 8);
	email = xasprintf("rm-%s@example.com", hex);
	assert_int_equal(dc_post_form(c, "/settings/users", &r, "email", email, "role", "staff",
		"password", "a long enough password", "password_confirm", "a long enough password",
		NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	p[0] = email;
	staff_id = hx_db_int_or_fail("SELECT id FROM users WHERE email = $1", 1, p);
	s = dc_login_or_fail(email, "a long enough password");
	assert_int_equal(dc_get_page(s, "/settings", NULL), 200);

	/* Not one's own login. */
	path = xasprintf("/settings/users/%lld/remove", a.user_id);
	assert_int_equal(dc_post_form(c, path, &r, NULL), 0);
	assert_int_equal(r.status, 422);
	assert_non_null(strstr(buf_str(&r.body), "your own login"));
	dc_response_free(&r);
	free(path);
	/* Another business's owner: 404, the user stays. */
	x = login_as_or_fail(&other, "owner");
	path = xasprintf("/settings/users/%lld/remove", staff_id);
	assert_int_equal(dc_post_form(x, path, &r, NULL), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	assert_int_equal(user_count(a.business_id), 2);
	/* The business's owner removes it: gone, and its session with it. */
	assert_int_equal(dc_post_form(c, path, &r, NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	assert_int_equal(user_count(a.business_id), 1);
	snprintf(uid, sizeof(uid), "%lld", staff_id);
	p[0] = uid;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM sessions WHERE user_id ="
					   " $1::bigint AND revoked_at IS NULL", 1, p), 0);
	assert_int_equal(dc_get_page(s, "/settings", NULL), 303);
	free(path);
	/* The addition and the removal are in the business's audit stream,
	 * with who did them, and never the password. */
	{
		char *akey = xasprintf("%s%lld", AUDIT_KEY_BUSINESS_PREFIX, a.business_id);
		char err[256];
		json_t *recs;
		char *text;
		assert_int_equal(hx_audit_wait(akey, 1, 3000, "kind", "settings", "event",
					 "user_added", "role", "staff", "by_email", a.email, NULL), 1);
		assert_int_equal(hx_audit_wait(akey, 1, 3000, "kind", "settings", "event",
					 "user_removed", "by_email", a.email, NULL), 1);
		recs = hx_audit_read(akey, 0, err, sizeof(err));
		assert_non_null(recs);
		text = json_dumps(recs, 0);
		assert_null(strstr(text, "a long enough password"));
		free(text);
		json_decref(recs);
		free(akey);
	}

	/* The last owner stays, even for an operator looking at the business. */
	o = login_as_or_fail(&op, "operator");
	sid = xasprintf("%lld", a.business_id);
	assert_int_equal(dc_get_page(o, "/operator/businesses", NULL), 200);
	assert_int_equal(dc_post_form(o, "/operator/business", &r, "business_id", sid, NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	path = xasprintf("/settings/users/%lld/remove", a.user_id);
	assert_int_equal(dc_post_form(o, path, &r, NULL), 0);
	assert_int_equal(r.status, 422);
	assert_non_null(strstr(buf_str(&r.body), "last owner"));
	dc_response_free(&r);
	assert_int_equal(user_count(a.business_id), 1);
	free(path);
	free(sid);

	/* The owner of the operator's own business cannot remove the
	 * operator's login (403, it stays and stays logged in); no Remove
	 * button is offered for it. */
	{
		struct dc *ow;
		char *ow_email, *op_path, *body = NULL;
		sid = xasprintf("%lld", op.business_id);
		assert_int_equal(dc_post_form(o, "/operator/business", &r, "business_id", sid,
					 NULL), 0);
		assert_int_equal(r.status, 303);
		dc_response_free(&r);
		free(sid);
		hx_random_hex(hex, 8);
		ow_email = xasprintf("op-owner-%s@example.com", hex);
		assert_int_equal(dc_post_form(o, "/settings/users", &r, "email", ow_email, "role",
			"owner", "password", "a long enough password", "password_confirm",
			"a long enough password", NULL), 0);
		assert_int_equal(r.status, 303);
		dc_response_free(&r);
		ow = dc_login_or_fail(ow_email, "a long enough password");
		op_path = xasprintf("/settings/users/%lld/remove", op.user_id);
		body = dc_get_or_fail(ow, "/settings/users", 200);
		assert_null(strstr(body, op_path));
		free(body);
		assert_int_equal(dc_post_form(ow, op_path, &r, NULL), 0);
		assert_int_equal(r.status, 403);
		dc_response_free(&r);
		snprintf(uid, sizeof(uid), "%lld", op.user_id);
		p[0] = uid;
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM users WHERE id = $1::bigint",
						   1, p), 1);
		free(dc_get_or_fail(o, "/operator/businesses", 200));
		free(op_path);
		free(ow_email);
		dc_free(ow);
	}
	free(email);
	dc_free(o);
	dc_free(x);
	dc_free(s);
	dc_free(c);
}

/* ---- API keys ------------------------------------------------------------------- */

/* GET /api/v1/appointments/1 with key: the status (401 for a key that is
 * refused; anything else means the key was taken). */
static long api_status(const char *key)
{
	struct hx_request rq;
	struct hx_response rs;
	char *url = xasprintf("%s/api/v1/appointments/1", hx_env.public_url);
	char *auth = xasprintf("Bearer %s", key);
	long st;

	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.url = url;
	rq.authorization = auth;
	assert_int_equal(hx_http(NULL, &rq, &rs), 0);
	st = rs.status;
	hx_response_free(&rs);
	free(auth);
	free(url);
	return st;
}

static void test_api_keys(void **state)
{
	struct dc_account a, b;
	struct dc *c = login_as_or_fail(&a, "owner"), *d;
	struct dc_response r;
	char bid[24], *key, *id, *path, *body, cc[128];
	const char *p[1] = { bid };

	assert_int_equal(dc_get_page(c, "/settings/api-keys", &body), 200);
	assert_non_null(strstr(body, "No API keys yet"));
	free(body);
	/* A label is required. */
	assert_int_equal(dc_post_form(c, "/settings/api-keys", &r, "label", "", NULL), 0);
	assert_int_equal(r.status, 422);
	assert_non_null(strstr(buf_str(&r.body), "Label:"));
	dc_response_free(&r);
	snprintf(bid, sizeof(bid), "%lld", a.business_id);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM api_keys WHERE business_id ="
					   " $1::bigint", 1, p), 0);

	/* Created: shown once on the answer, never stored. */
	assert_int_equal(dc_post_form(c, "/settings/api-keys", &r, "label", "Booking <site>",
		NULL), 0);
	assert_int_equal(r.status, 200);
	assert_true(dc_header(&r, "Cache-Control", cc, sizeof(cc)));
	assert_non_null(strstr(cc, "no-store"));
	key = pre_text(buf_str(&r.body), "new-key");
	assert_non_null(key);
	assert_int_equal(strncmp(key, "rf_", 3), 0);
	dc_response_free(&r);
	assert_int_not_equal(api_status(key), 401);
	assert_int_equal(dc_get_page(c, "/settings/api-keys", &body), 200);
	assert_null(strstr(body, key));
	assert_non_null(strstr(body, "Booking &lt;site&gt;"));
	assert_non_null(strstr(body, "data-confirm"));
	free(body);

	id = hx_db_value_or_fail("SELECT id::text FROM api_keys WHERE business_id = $1::bigint",
		1, p);
	path = xasprintf("/settings/api-keys/%s/revoke", id);
	/* Another business's owner: 404, the key still works. */
	d = login_as_or_fail(&b, "owner");
	assert_int_equal(dc_post_form(d, path, &r, NULL), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	assert_int_not_equal(api_status(key), 401);
	/* Revoked by its business: the API refuses it. */
	assert_int_equal(dc_post_form(c, path, &r, NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	assert_int_equal(api_status(key), 401);
	assert_int_equal(dc_get_page(c, "/settings/api-keys", &body), 200);
	assert_non_null(strstr(body, "revoked"));
	free(body);
	/* Both are in the business's audit stream, with who did it, and
	 * never the key itself. */
	{
		char *akey = xasprintf("%s%lld", AUDIT_KEY_BUSINESS_PREFIX, a.business_id);
		char prefix[16], err[256];
		json_t *recs;
		char *text;
		snprintf(prefix, sizeof(prefix), "%.12s", key + 3);
		assert_int_equal(hx_audit_wait(akey, 1, 3000, "kind", "settings", "event",
					 "api_key_created", "key_prefix", prefix, "by_email", a.email,
					 NULL), 1);
		assert_int_equal(hx_audit_wait(akey, 1, 3000, "kind", "settings", "event",
					 "api_key_revoked", "by_email", a.email, NULL), 1);
		recs = hx_audit_read(akey, 0, err, sizeof(err));
		assert_non_null(recs);
		text = json_dumps(recs, 0);
		assert_null(strstr(text, key));
		free(text);
		json_decref(recs);
		free(akey);
	}
	free(path);
	free(id);
	free(key);
	dc_free(d);
	dc_free(c);
}

/* ---- call flows ------------------------------------------------------------------ */

static void test_flows(void **state)
{
	struct dc_account a;
	struct dc *c = login_as_or_fail(&a, "staff");
	struct dc_response r;
	char *body, *src, *q;

	assert_int_equal(dc_get_page(c, "/flows", &body), 200);
	src = strstr(body, "src=\"/flows/reminder_call.svg?v=");
	assert_non_null(src);
	assert_non_null(strstr(body, "machine message"));
	assert_non_null(strstr(body, "nothing pressed in time"));
	src = xstrdup(src + 5);
	q = strchr(src, '"');
	assert_non_null(q);
	*q = '\0';
	free(body);

	assert_int_equal(dc_get(c, src, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "image/svg+xml");
	assert_non_null(strstr(r.csp, "default-src 'none'"));
	assert_null(strstr(r.csp, "script-src"));
	assert_non_null(strstr(buf_str(&r.body), "<svg"));
	assert_non_null(strstr(buf_str(&r.body), "announce"));
	assert_null(strstr(buf_str(&r.body), "<script"));
	dc_response_free(&r);
	free(src);

	assert_int_equal(dc_get(c, "/flows/no_such_flow.svg", &r), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	assert_int_equal(dc_get(c, "/flows/..%2Fsecret.svg", &r), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	dc_free(c);
}

int dash_settings_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_needs_login),
		cmocka_unit_test(test_business_saved),
		cmocka_unit_test(test_business_invalid),
		cmocka_unit_test(test_staff_read_only),
		cmocka_unit_test(test_policy_lines),
		cmocka_unit_test(test_wording_refused),
		cmocka_unit_test(test_wording_preview_and_save),
		cmocka_unit_test(test_users_add),
		cmocka_unit_test(test_users_remove),
		cmocka_unit_test(test_api_keys),
		cmocka_unit_test(test_flows),
	};
	return cmocka_run_group_tests_name("integration: dashboard settings", tests,
		hx_group_setup, hx_group_teardown);
}

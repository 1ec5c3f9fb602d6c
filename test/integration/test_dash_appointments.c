/* Integration tests of the dashboard's appointment pages, with a real
 * session (dash_client) through nginx: Today and upcoming and its
 * fragment, creating, editing, rescheduling and cancelling (the reminders
 * re-planned by reminders_plan), validation (422, nothing changed),
 * another business's ids (404 on every route), the call-back card, the
 * test reminder (queued, limits, the calling window), decisions (who and
 * why), and the timeline of a call with its key presses and audit
 * records, also while Redis is down. */
#include "harness.h"
#include "dash_client.h"
#include "util.h"

#include <unistd.h>

/* The flow the fixture calls run. */
#define FLOW "reminder_call"

/* Set while a test has Redis stopped: the group's teardown starts it
 * again when the test failed before it could. */
static int redis_stopped;

/* A logged-in owner of a new business (UTC unless tz), with one client. */
struct biz {
	struct dc_owner o;
	char client[24];
	char client_name[64];
	char phone[13];
};

static void biz_or_fail(struct biz *b, const char *tz)
{
	char hex[17];
	const char *p[3];
	char *v;

	memset(b, 0, sizeof(*b));
	dc_owner_or_fail(&b->o, "owner", tz);
	hx_random_hex(hex, 8);
	snprintf(b->client_name, sizeof(b->client_name), "Client <b>%s</b> & co", hex);
	hx_random_phone(b->phone);
	p[0] = b->o.biz;
	p[1] = b->client_name;
	p[2] = b->phone;
	/* The client lives where it is midday: test reminders need business
	 * hours in the recipient's zone. */
	v = hx_db_value_or_fail("INSERT INTO clients (business_id, name, phone, email, time_zone)"
		" VALUES ($1::bigint, $2, $3, 'c' || md5(random()::text) || '@example.com', "
		HX_MIDDAY_TZ_SQL ") RETURNING id", 3, p);
	snprintf(b->client, sizeof(b->client), "%s", v);
	free(v);
	/* Open all day: the test reminder's window is tested on its own. */
	hx_db_cmd_or_fail("UPDATE businesses SET window_start = '00:00', window_end = '23:59:59'"
		" WHERE id = $1::bigint", 1, p);
}

static void biz_free(struct biz *b)
{
	dc_owner_free(&b->o);
}

/* Fails when body lacks needle. */
static void has_or_fail(const char *body, const char *needle, const char *what)
{
	if (strstr(body, needle) == NULL)
		fail_msg("%s: '%s' is missing from:\n%.4000s", what, needle, body);
}

/* A datetime-local value days from now at hh:mm in the business's zone. */
static char *local_time_or_fail(const char *business, int days, const char *hhmm)
{
	char d[16];
	const char *p[3] = { business, d, hhmm };
	snprintf(d, sizeof(d), "%d", days);
	return hx_db_value_or_fail("SELECT to_char((now() AT TIME ZONE b.time_zone)::date"
		" + $2::int, 'YYYY-MM-DD') || 'T' || $3 FROM businesses b WHERE b.id = $1::bigint",
		3, p);
}

/* Creates an appointment through the form: its id (the 303's target). */
static long long create_or_fail(struct biz *b, int days, const char *hhmm, const char *notes)
{
	char *starts = local_time_or_fail(b->o.biz, days, hhmm);
	long long id;

	free(dc_get_or_fail(b->o.c, "/appointments/new", 200)); /* the form's token */
	id = dc_post_id_or_fail(b->o.c, "/appointments", "/appointments/", "?notice=created",
		"client_id", b->client, "starts_at", starts, "notes", notes, NULL);
	free(starts);
	return id;
}

/* POSTs a form (pairs, NULL-terminated), and fails unless the status is
 * want; the response's body (free it). */
static char *post_or_fail(struct dc *c, const char *path, long want, const char *n1,
	const char *v1, const char *n2, const char *v2)
{
	struct dc_response r;
	char *body;

	if (dc_post_form(c, path, &r, n1, v1, n2, v2, NULL) < 0)
		fail_msg("POST %s: %s", path, r.error);
	if (r.status != want)
		fail_msg("POST %s: HTTP %ld, want %ld:\n%.2000s", path, r.status, want,
			buf_str(&r.body));
	body = xstrdup(r.status == 303 ? r.location : buf_str(&r.body));
	dc_response_free(&r);
	return body;
}

static long long count_or_fail(const char *sql, const char *id)
{
	const char *p[1] = { id };
	return hx_db_int_or_fail(sql, 1, p);
}

/* ---- the pages ------------------------------------------------------------ */

static void test_create_and_pages(void **state)
{
	struct biz b;
	char ids[24], *body, *path;
	long long id;
	(void)state;

	biz_or_fail(&b, "America/New_York");
	body = dc_get_or_fail(b.o.c, "/today", 200);
	has_or_fail(body, "Today and upcoming", "today");
	has_or_fail(body, "No appointments in these days", "today, empty");
	free(body);
	body = dc_get_or_fail(b.o.c, "/appointments/new", 200);
	/* The client's name is text, never markup. */
	has_or_fail(body, "Client &lt;b&gt;", "new form");
	assert_null(strstr(body, "<b>"));
	free(body);

	id = create_or_fail(&b, 3, "15:30", "gate code 1234");
	snprintf(ids, sizeof(ids), "%lld", id);
	{
		const char *p[2] = { ids, b.o.biz };
		char *local = hx_db_value_or_fail("SELECT to_char(starts_at AT TIME ZONE"
			" 'America/New_York', 'HH24:MI') || '|' || status || '|' || notes FROM appointments"
			" WHERE id = $1::bigint AND business_id = $2::bigint", 2, p);
		assert_string_equal(local, "15:30|booked|gate code 1234");
		free(local);
	}
	/* The default policy (voice 24 h, sms 2 h before) through reminders_plan. */
	assert_int_equal(count_or_fail("SELECT count(*) FROM reminders WHERE appointment_id ="
		" $1::bigint AND status = 'pending' AND kind = 'plan'", ids), 2);

	path = xasprintf("/appointments/%lld", id);
	body = dc_get_or_fail(b.o.c, path, 200);
	has_or_fail(body, "Appointment created", "timeline");
	has_or_fail(body, "Call reminder planned for", "timeline");
	has_or_fail(body, "Text reminder planned for", "timeline");
	has_or_fail(body, "gate code 1234", "timeline notes");
	has_or_fail(body, "data-confirm=", "cancel asks first");
	free(body);
	free(path);

	body = dc_get_or_fail(b.o.c, "/today?from=&to=", 200);
	has_or_fail(body, "Client &lt;b&gt;", "today lists the appointment");
	has_or_fail(body, "scheduled", "today's reminder state");
	has_or_fail(body, "data-refresh=\"/today/fragment?", "today refreshes");
	free(body);
	body = dc_get_or_fail(b.o.c, "/today/fragment", 200);
	has_or_fail(body, "15:30", "fragment");
	assert_null(strstr(body, "<html"));
	assert_null(strstr(body, "<form"));
	free(body);
	/* Filters: another status, a search that matches nobody. */
	body = dc_get_or_fail(b.o.c, "/today?status=cancelled", 200);
	assert_null(strstr(body, "15:30"));
	free(body);
	body = dc_get_or_fail(b.o.c, "/today?q=nobody-by-this-name", 200);
	assert_null(strstr(body, "15:30"));
	free(body);
	body = dc_get_or_fail(b.o.c, "/today?q=client+%3Cb", 200);
	has_or_fail(body, "15:30", "search by name");
	/* The refresh keeps the search, encoded. */
	has_or_fail(body, "&amp;status=&amp;q=client%20%3Cb\"", "refresh keeps the filter");
	free(body);
	biz_free(&b);
}

static void test_validation_changes_nothing(void **state)
{
	struct biz b;
	char *body, *starts, *past, *path, ids[24], *longnotes;
	long long before, id;
	(void)state;

	biz_or_fail(&b, NULL);
	starts = local_time_or_fail(b.o.biz, 2, "10:00");
	past = local_time_or_fail(b.o.biz, -1, "10:00");
	before = count_or_fail("SELECT count(*) FROM appointments WHERE business_id = $1::bigint",
		b.o.biz);
	free(dc_get_or_fail(b.o.c, "/appointments/new", 200));

	body = post_or_fail(b.o.c, "/appointments", 422, "client_id", b.client, "starts_at",
		"next tuesday");
	has_or_fail(body, "starts_at", "422 names the field");
	has_or_fail(body, "next tuesday", "422 keeps the input");
	free(body);
	body = post_or_fail(b.o.c, "/appointments", 422, "client_id", b.client, "starts_at",
		"2026-02-30T10:00");
	has_or_fail(body, "starts_at", "no such day");
	free(body);
	body = post_or_fail(b.o.c, "/appointments", 422, "client_id", b.client, "starts_at", past);
	has_or_fail(body, "in the past", "past");
	free(body);
	body = post_or_fail(b.o.c, "/appointments", 422, "client_id", "", "starts_at", starts);
	has_or_fail(body, "client_id", "no client");
	free(body);
	body = post_or_fail(b.o.c, "/appointments", 422, "client_id", "abc", "starts_at", starts);
	has_or_fail(body, "client_id", "bad client");
	free(body);
	longnotes = xmalloc(4002);
	memset(longnotes, 'x', 4001);
	longnotes[4001] = '\0';
	{
		struct dc_response r;
		assert_int_equal(dc_post_form(b.o.c, "/appointments", &r, "client_id", b.client,
			"starts_at", starts, "notes", longnotes, NULL), 0);
		assert_int_equal(r.status, 422);
		has_or_fail(buf_str(&r.body), "notes", "long notes");
		dc_response_free(&r);
	}
	free(longnotes);
	assert_int_equal(count_or_fail("SELECT count(*) FROM appointments WHERE business_id ="
		" $1::bigint", b.o.biz), before);

	/* A bad filter: 422 with the message, the default days listed. */
	body = dc_get_or_fail(b.o.c, "/today?from=yesterday", 422);
	has_or_fail(body, "from", "bad filter");
	free(body);
	body = dc_get_or_fail(b.o.c, "/today?from=2026-12-10&to=2026-12-01", 422);
	has_or_fail(body, "field &#39;to&#39;", "to before from");
	free(body);

	/* Editing: a bad time changes nothing. */
	id = create_or_fail(&b, 2, "10:00", "");
	snprintf(ids, sizeof(ids), "%lld", id);
	path = xasprintf("/appointments/%lld", id);
	body = dc_get_or_fail(b.o.c, "/appointments/new", 200);
	free(body);
	body = post_or_fail(b.o.c, path, 422, "starts_at", "soon", "notes", "changed");
	has_or_fail(body, "starts_at", "edit 422");
	free(body);
	{
		const char *p[1] = { ids };
		char *n = hx_db_value_or_fail("SELECT notes FROM appointments WHERE id = $1::bigint",
			1, p);
		assert_string_equal(n, "");
		free(n);
	}
	free(path);
	free(starts);
	free(past);
	biz_free(&b);
}

static void test_reschedule_and_cancel(void **state)
{
	struct biz b;
	char ids[24], *path, *body, *newtime;
	long long id;
	(void)state;

	biz_or_fail(&b, "Europe/Berlin");
	id = create_or_fail(&b, 4, "09:00", "first");
	snprintf(ids, sizeof(ids), "%lld", id);
	hx_db_cmd_or_fail("UPDATE appointments SET status = 'confirmed', confirmed_at = now()"
		" WHERE id = $1::bigint", 1, (const char *[]){ ids });

	path = xasprintf("/appointments/%lld/edit", id);
	body = dc_get_or_fail(b.o.c, path, 200);
	has_or_fail(body, "T09:00", "edit form prefilled");
	has_or_fail(body, "first", "edit form notes");
	free(body);
	free(path);

	newtime = local_time_or_fail(b.o.biz, 5, "11:15");
	path = xasprintf("/appointments/%lld", id);
	body = post_or_fail(b.o.c, path, 303, "starts_at", newtime, "notes", "moved");
	has_or_fail(body, "notice=rescheduled", "reschedule redirect");
	free(body);
	{
		const char *p[1] = { ids };
		char *v = hx_db_value_or_fail("SELECT to_char(starts_at AT TIME ZONE 'Europe/Berlin',"
			" 'HH24:MI') || '|' || status || '|' || notes || '|' || (confirmed_at IS NULL)"
			" FROM appointments WHERE id = $1::bigint", 1, p);
		assert_string_equal(v, "11:15|booked|moved|true");
		free(v);
	}
	/* The old plan superseded, a new one pending for the new time. */
	assert_int_equal(count_or_fail("SELECT count(*) FROM reminders WHERE appointment_id ="
		" $1::bigint AND superseded_at IS NOT NULL AND status = 'cancelled'", ids), 2);
	assert_int_equal(count_or_fail("SELECT count(*) FROM reminders r JOIN appointments a"
		" ON a.id = r.appointment_id WHERE r.appointment_id = $1::bigint AND r.status ="
		" 'pending' AND r.superseded_at IS NULL AND r.due_at < a.starts_at"
		" AND r.due_at >= a.starts_at - interval '24 hours'", ids), 2);

	/* Only the notes: nothing re-planned. */
	body = post_or_fail(b.o.c, path, 303, "starts_at", newtime, "notes", "just notes");
	has_or_fail(body, "notice=saved", "save redirect");
	free(body);
	assert_int_equal(count_or_fail("SELECT count(*) FROM reminders WHERE appointment_id ="
		" $1::bigint", ids), 4);
	body = dc_get_or_fail(b.o.c, path, 200);
	has_or_fail(body, "replaced: the appointment moved", "timeline shows the move");
	free(body);
	free(path);

	path = xasprintf("/appointments/%lld/cancel", id);
	body = post_or_fail(b.o.c, path, 303, NULL, NULL, NULL, NULL);
	has_or_fail(body, "notice=cancelled", "cancel redirect");
	free(body);
	free(path);
	assert_int_equal(count_or_fail("SELECT count(*) FROM appointments WHERE id = $1::bigint"
		" AND status = 'cancelled' AND cancelled_at IS NOT NULL", ids), 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM reminders WHERE appointment_id ="
		" $1::bigint AND status = 'pending'", ids), 0);
	/* A cancelled appointment is not edited. */
	path = xasprintf("/appointments/%lld/edit", id);
	free(dc_get_or_fail(b.o.c, path, 409));
	free(path);
	path = xasprintf("/appointments/%lld", id);
	free(dc_get_or_fail(b.o.c, path, 200));
	body = post_or_fail(b.o.c, path, 422, "starts_at", newtime, "notes", "again");
	has_or_fail(body, "cancelled", "no edit of a cancelled appointment");
	free(body);
	free(path);
	free(newtime);
	biz_free(&b);
}

/* Another business's ids are 404 on every route, and change nothing. */
static void test_cross_business(void **state)
{
	struct biz a, b;
	char ids[24], attempt[24], *path, *body, *starts, *snap0, *snap1;
	long long id;
	const char *p[1];
	(void)state;

	biz_or_fail(&a, NULL);
	biz_or_fail(&b, NULL);
	id = create_or_fail(&a, 2, "12:00", "a's secret note");
	snprintf(ids, sizeof(ids), "%lld", id);
	p[0] = ids;
	{
		char *v = hx_db_value_or_fail("WITH r AS (SELECT id, business_id, channel, to_address"
			" FROM reminders WHERE appointment_id = $1::bigint LIMIT 1)"
			" INSERT INTO contact_attempts (reminder_id, business_id, channel, to_address,"
			" status, lease_until) SELECT id, business_id, channel, to_address, 'unknown', now()"
			" FROM r RETURNING id", 1, p);
		snprintf(attempt, sizeof(attempt), "%s", v);
		free(v);
	}
	hx_db_cmd_or_fail("UPDATE appointments SET callback_requested_at = now()"
		" WHERE id = $1::bigint", 1, p);
	starts = local_time_or_fail(a.o.biz, 3, "12:00");
#define SNAP "SELECT a.status || a.starts_at || a.notes || COALESCE(a.callback_done_at::text, '')" \
	" || COALESCE(a.reschedule_done_at::text, '')" \
	" || (SELECT count(*) FROM reminders r WHERE r.appointment_id = a.id)" \
	" || (SELECT string_agg(status, ',') FROM contact_attempts WHERE business_id = a.business_id)" \
	" FROM appointments a WHERE a.id = $1::bigint"
	snap0 = hx_db_value_or_fail(SNAP, 1, p);

	free(dc_get_or_fail(b.o.c, "/today", 200)); /* b's token */
	path = xasprintf("/appointments/%lld", id);
	body = dc_get_or_fail(b.o.c, path, 404);
	assert_null(strstr(body, "secret note"));
	free(body);
	free(post_or_fail(b.o.c, path, 404, "starts_at", starts, "notes", "b was here"));
	free(path);
	path = xasprintf("/appointments/%lld/edit", id);
	free(dc_get_or_fail(b.o.c, path, 404));
	free(path);
	path = xasprintf("/appointments/%lld/cancel", id);
	free(post_or_fail(b.o.c, path, 404, NULL, NULL, NULL, NULL));
	free(path);
	path = xasprintf("/appointments/%lld/callback-done", id);
	free(post_or_fail(b.o.c, path, 404, NULL, NULL, NULL, NULL));
	free(path);
	path = xasprintf("/appointments/%lld/reschedule-done", id);
	free(post_or_fail(b.o.c, path, 404, NULL, NULL, NULL, NULL));
	free(path);
	path = xasprintf("/appointments/%lld/test-reminder", id);
	free(post_or_fail(b.o.c, path, 404, "channel", "sms", NULL, NULL));
	free(path);
	path = xasprintf("/decisions/%s", attempt);
	free(post_or_fail(b.o.c, path, 404, "decision", "reached", "reason", "b decides"));
	free(path);
	body = dc_get_or_fail(b.o.c, "/decisions", 200);
	path = xasprintf("/decisions/%s\"", attempt);
	assert_null(strstr(body, path));
	free(path);
	free(body);
	/* a's client in b's form. */
	{
		struct dc_response r;
		free(dc_get_or_fail(b.o.c, "/appointments/new", 200));
		assert_int_equal(dc_post_form(b.o.c, "/appointments", &r, "client_id", a.client,
			"starts_at", starts, NULL), 0);
		assert_int_equal(r.status, 422);
		dc_response_free(&r);
		assert_int_equal(count_or_fail("SELECT count(*) FROM appointments WHERE business_id ="
			" $1::bigint", b.o.biz), 0);
	}
	snap1 = hx_db_value_or_fail(SNAP, 1, p);
	assert_string_equal(snap0, snap1);
#undef SNAP
	free(snap0);
	free(snap1);
	free(starts);
	biz_free(&a);
	biz_free(&b);
}

/* A business with one appointment in two days, for a request card: its
 * id, as text into ids and the owner's user id into uid. */
static long long card_fixture_or_fail(struct biz *b, char ids[24], char uid[24])
{
	long long id;

	biz_or_fail(b, NULL);
	id = create_or_fail(b, 2, "16:00", "");
	snprintf(ids, 24, "%lld", id);
	snprintf(uid, 24, "%lld", b->o.acc.user_id);
	return id;
}

static void test_callback_card(void **state)
{
	struct biz b;
	char ids[24], uid[24], *body, *path;
	long long id;
	(void)state;

	id = card_fixture_or_fail(&b, ids, uid);
	body = dc_get_or_fail(b.o.c, "/today", 200);
	assert_null(strstr(body, "id=\"callbacks\""));
	free(body);
	hx_db_cmd_or_fail("UPDATE appointments SET callback_requested_at = now()"
		" WHERE id = $1::bigint", 1, (const char *[]){ ids });
	body = dc_get_or_fail(b.o.c, "/today", 200);
	has_or_fail(body, "id=\"callbacks\"", "call back card");
	has_or_fail(body, b.phone, "call back card's number");
	free(body);
	path = xasprintf("/appointments/%lld/callback-done", id);
	body = post_or_fail(b.o.c, path, 303, NULL, NULL, NULL, NULL);
	assert_string_equal(body, "/today?notice=callback_done");
	free(body);
	free(path);
	{
		const char *p[2] = { ids, uid };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM appointments WHERE id ="
			" $1::bigint AND callback_done_at IS NOT NULL AND callback_done_by = $2::bigint",
			2, p), 1);
	}
	body = dc_get_or_fail(b.o.c, "/today", 200);
	assert_null(strstr(body, "id=\"callbacks\""));
	free(body);
	biz_free(&b);
}

/* An appointment whose client asked to reschedule (keypad or text 4)
 * shows in the "Reschedule requests" card, with a badge in the list and
 * on its page, and on its timeline; Done (with the CSRF token only)
 * records who and when and takes it off the card; a later request shows
 * again. */
static void test_reschedule_card(void **state)
{
	struct biz b;
	char ids[24], uid[24], *body, *path, *page;
	const char *p[2] = { ids, uid };
	long long id;
	struct dc_response r;
	(void)state;

	id = card_fixture_or_fail(&b, ids, uid);
	page = xasprintf("/appointments/%lld", id);
	path = xasprintf("/appointments/%lld/reschedule-done", id);
	body = dc_get_or_fail(b.o.c, "/today", 200);
	assert_null(strstr(body, "id=\"reschedules\""));
	assert_null(strstr(body, "asked to reschedule"));
	free(body);
	hx_db_cmd_or_fail("UPDATE appointments SET reschedule_requested_at = now()"
		" WHERE id = $1::bigint", 1, p);
	body = dc_get_or_fail(b.o.c, "/today", 200);
	has_or_fail(body, "id=\"reschedules\"", "reschedule card");
	has_or_fail(body, "<h2>Reschedule requests</h2>", "reschedule card's title");
	has_or_fail(body, b.phone, "reschedule card's number");
	has_or_fail(body, path, "reschedule card's Done form");
	has_or_fail(body, "asked to reschedule", "the list's badge");
	assert_null(strstr(body, "id=\"callbacks\""));
	free(body);
	body = dc_get_or_fail(b.o.c, page, 200);
	has_or_fail(body, "Asked to reschedule", "the appointment's badge");
	has_or_fail(body, "The client asked to reschedule", "timeline");
	free(body);

	/* Without the CSRF token: refused, nothing done. */
	assert_int_equal(dc_post_form(b.o.c, path, &r, "csrf", NULL, NULL), 0);
	assert_int_equal(r.status, 403);
	dc_response_free(&r);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM appointments WHERE id = $1::bigint"
		" AND reschedule_done_at IS NULL", 1, p), 1);

	free(dc_get_or_fail(b.o.c, "/today", 200)); /* the token */
	body = post_or_fail(b.o.c, path, 303, NULL, NULL, NULL, NULL);
	assert_string_equal(body, "/today?notice=reschedule_done");
	free(body);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM appointments WHERE id ="
		" $1::bigint AND reschedule_done_at IS NOT NULL AND reschedule_done_by = $2::bigint"
		" AND callback_done_at IS NULL", 2, p), 1);
	body = dc_get_or_fail(b.o.c, "/today?notice=reschedule_done", 200);
	assert_null(strstr(body, "id=\"reschedules\""));
	assert_null(strstr(body, "asked to reschedule"));
	has_or_fail(body, "The reschedule request was marked done.", "notice");
	free(body);
	body = dc_get_or_fail(b.o.c, page, 200);
	assert_null(strstr(body, "Asked to reschedule"));
	has_or_fail(body, "Reschedule request done (marked by ", "timeline");
	free(body);

	/* Asked again after that: open again. */
	hx_db_cmd_or_fail("UPDATE appointments SET reschedule_requested_at = now() + interval '1 second'"
		" WHERE id = $1::bigint", 1, p);
	body = dc_get_or_fail(b.o.c, "/today", 200);
	has_or_fail(body, "id=\"reschedules\"", "a later request");
	free(body);
	free(page);
	free(path);
	biz_free(&b);
}

/* ---- test reminders ------------------------------------------------------------ */

static long long tests_of(const char *business)
{
	return count_or_fail("SELECT count(*) FROM reminders WHERE business_id = $1::bigint"
		" AND kind = 'test'", business);
}

static void test_test_reminder(void **state)
{
	struct biz b;
	char ids[24], *path, *body;
	long long id;
	(void)state;

	biz_or_fail(&b, NULL);
	id = create_or_fail(&b, 2, "16:00", "");
	snprintf(ids, sizeof(ids), "%lld", id);
	path = xasprintf("/appointments/%lld/test-reminder", id);
	free(dc_get_or_fail(b.o.c, "/today", 200));

	/* Queued: a row due now, in the ready set; nothing placed here. */
	body = post_or_fail(b.o.c, path, 303, "channel", "sms", NULL, NULL);
	has_or_fail(body, "notice=queued", "queued");
	free(body);
	{
		const char *p[1] = { ids };
		PGresult *res = hx_db_exec_or_fail("SELECT id, status, attempt, channel, to_address,"
			" due_at <= now() + interval '1 minute', requested_by FROM reminders"
			" WHERE appointment_id = $1::bigint AND kind = 'test'", 1, p);
		long long one;
		const char *argv[3] = { "SISMEMBER", "rf:ready", NULL };
		assert_int_equal(PQntuples(res), 1);
		assert_string_equal(PQgetvalue(res, 0, 1), "pending");
		assert_string_equal(PQgetvalue(res, 0, 2), "5");
		assert_string_equal(PQgetvalue(res, 0, 3), "sms");
		assert_string_equal(PQgetvalue(res, 0, 4), b.phone);
		assert_string_equal(PQgetvalue(res, 0, 5), "t");
		assert_int_equal(atoll(PQgetvalue(res, 0, 6)), b.o.acc.user_id);
		argv[2] = PQgetvalue(res, 0, 0);
		assert_int_equal(hx_redis(3, argv, &one, NULL, 0), 0);
		assert_int_equal(one, 1);
		hx_redis(3, (const char *[]){ "SREM", "rf:ready", argv[2] }, NULL, NULL, 0);
		PQclear(res);
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM contact_attempts ca"
			" JOIN reminders r ON r.id = ca.reminder_id WHERE r.appointment_id = $1::bigint",
			1, p), 0);
	}
	body = xasprintf("/appointments/%lld", id);
	{
		char *page = dc_get_or_fail(b.o.c, body, 200);
		has_or_fail(page, "Test text reminder requested by", "timeline shows the test");
		free(page);
	}
	free(body);

	/* A bad channel: 422, nothing queued. */
	free(post_or_fail(b.o.c, path, 422, "channel", "fax", NULL, NULL));
	assert_int_equal(tests_of(b.o.biz), 1);

	/* A client proposed from a calendar event and not confirmed, or one
	 * who opted out, gets none: 409 saying why, nothing queued. */
	hx_db_cmd_or_fail("UPDATE clients SET proposed_at = now(), proposed_from = 'calendar'"
		" WHERE id = (SELECT client_id FROM appointments WHERE id = $1::bigint)", 1,
		(const char *[]){ ids });
	body = post_or_fail(b.o.c, path, 409, "channel", "sms", NULL, NULL);
	has_or_fail(body, "not confirmed", "unconfirmed client");
	free(body);
	hx_db_cmd_or_fail("UPDATE clients SET confirmed_at = now(), confirmed_by = 'owner',"
		" opted_out_at = now() WHERE id = (SELECT client_id FROM appointments"
		" WHERE id = $1::bigint)", 1, (const char *[]){ ids });
	body = post_or_fail(b.o.c, path, 409, "channel", "email", NULL, NULL);
	has_or_fail(body, "opted out", "opted-out client");
	free(body);
	hx_db_cmd_or_fail("UPDATE clients SET opted_out_at = NULL WHERE id = (SELECT client_id"
		" FROM appointments WHERE id = $1::bigint)", 1, (const char *[]){ ids });
	/* Automatic messages off: the test would be held, so it is refused. */
	hx_db_cmd_or_fail("UPDATE businesses SET paused_at = now(), paused_by = 'owner',"
		" paused_reason = 'test' WHERE id = $1::bigint", 1, (const char *[]){ b.o.biz });
	body = post_or_fail(b.o.c, path, 409, "channel", "sms", NULL, NULL);
	has_or_fail(body, "Automatic messages are off", "switch off");
	free(body);
	hx_db_cmd_or_fail("UPDATE businesses SET paused_at = NULL, paused_by = NULL,"
		" paused_reason = NULL WHERE id = $1::bigint", 1, (const char *[]){ b.o.biz });
	assert_int_equal(tests_of(b.o.biz), 1);

	/* 5 an hour. */
	for (int i = 0; i < 4; i++)
		free(post_or_fail(b.o.c, path, 303, "channel", i % 2 ? "voice" : "email", NULL, NULL));
	assert_int_equal(tests_of(b.o.biz), 5);
	body = post_or_fail(b.o.c, path, 429, "channel", "sms", NULL, NULL);
	has_or_fail(body, "5 test reminders an hour", "hourly limit");
	free(body);
	assert_int_equal(tests_of(b.o.biz), 5);

	/* 20 a day: the hour's five moved back two hours, 15 more earlier today. */
	hx_db_cmd_or_fail("UPDATE reminders SET due_at = due_at - interval '2 hours',"
		" stale_at = stale_at - interval '2 hours', status = 'cancelled'"
		" WHERE business_id = $1::bigint AND kind = 'test'", 1, (const char *[]){ b.o.biz });
	free(post_or_fail(b.o.c, path, 303, "channel", "sms", NULL, NULL));
	hx_db_cmd_or_fail("INSERT INTO reminders (business_id, appointment_id, channel,"
		" offset_minutes, attempt, due_at, stale_at, to_address, kind, status)"
		" SELECT business_id, id, 'sms', 60, 5, now() - interval '3 hours',"
		" now() - interval '2 hours', 'x', 'test', 'completed'"
		" FROM appointments, generate_series(1, 14) WHERE id = $1::bigint", 1,
		(const char *[]){ ids });
	hx_db_cmd_or_fail("UPDATE reminders SET status = 'cancelled' WHERE business_id = $1::bigint"
		" AND kind = 'test' AND status = 'pending'", 1, (const char *[]){ b.o.biz });
	assert_int_equal(tests_of(b.o.biz), 20);
	body = post_or_fail(b.o.c, path, 429, "channel", "sms", NULL, NULL);
	has_or_fail(body, "20 a day", "daily limit");
	free(body);
	assert_int_equal(tests_of(b.o.biz), 20);
	free(path);
	biz_free(&b);
}

static void test_test_reminder_window(void **state)
{
	struct biz b;
	char *path, *body;
	long long id;
	(void)state;

	biz_or_fail(&b, NULL);
	id = create_or_fail(&b, 2, "16:00", "");
	/* A one-minute window that is not now, in UTC (the client's zone is
	 * the business's). */
	hx_db_cmd_or_fail("UPDATE clients SET time_zone = NULL WHERE id = $1::bigint", 1,
		(const char *[]){ b.client });
	hx_db_cmd_or_fail("UPDATE businesses SET window_start = w.s, window_end = w.s + interval"
		" '1 minute' FROM (SELECT CASE WHEN (now() AT TIME ZONE 'UTC')::time < '06:00'"
		" THEN time '12:00' ELSE time '03:00' END AS s) w WHERE id = $1::bigint", 1,
		(const char *[]){ b.o.biz });
	path = xasprintf("/appointments/%lld/test-reminder", id);
	free(dc_get_or_fail(b.o.c, "/today", 200));
	body = post_or_fail(b.o.c, path, 422, "channel", "voice", NULL, NULL);
	has_or_fail(body, "outside the client", "window refusal");
	has_or_fail(body, ":00 (UTC)", "the time the window opens");
	free(body);
	assert_int_equal(tests_of(b.o.biz), 0);
	free(path);
	biz_free(&b);
}

/* The test reminder goes the normal way: a worker claims it from the
 * ready set and sends it through the simulator; the timeline and Today
 * show it. */
static void test_test_reminder_sent_by_worker(void **state)
{
	struct biz b;
	const char *bin = hx_ringfence_bin("dash_appointments");
	const char *const args[] = { "--once", NULL };
	char ids[24], *path, *body;
	long long id;
	pid_t pid;
	(void)state;

	assert_non_null(bin);
	biz_or_fail(&b, NULL);
	hx_db_cmd_or_fail("UPDATE businesses SET verified = true WHERE id = $1::bigint", 1,
		(const char *[]){ b.o.biz });
	id = create_or_fail(&b, 2, "16:00", "");
	snprintf(ids, sizeof(ids), "%lld", id);
	/* Only the test row may go. */
	hx_db_cmd_or_fail("UPDATE reminders SET status = 'cancelled', status_reason = 'test'"
		" WHERE appointment_id = $1::bigint AND status = 'pending'", 1, (const char *[]){ ids });
	path = xasprintf("/appointments/%lld/test-reminder", id);
	free(dc_get_or_fail(b.o.c, "/today", 200));
	free(post_or_fail(b.o.c, path, 303, "channel", "sms", NULL, NULL));
	free(path);

	pid = fork();
	if (pid == 0) {
		hx_worker_child_env(b.phone);
		hx_exec_worker(bin, args);
	}
	assert_true(pid > 0);
	assert_int_equal(hx_wait_child(pid, 60), 0);
	assert_int_equal(count_or_fail("SELECT count(*) FROM contact_attempts ca JOIN reminders r"
		" ON r.id = ca.reminder_id WHERE r.appointment_id = $1::bigint AND r.kind = 'test'"
		" AND ca.status = 'placed' AND ca.provider_sid LIKE 'SM%'", ids), 1);
	/* The simulator's status callbacks for the text, kept in the
	 * business's stream, show among the appointment's records. */
	{
		char key[64];
		snprintf(key, sizeof(key), "audit:business:%s", b.o.biz);
		if (hx_audit_wait(key, 1, 30000, "kind", "webhook", "path", "/twilio/status/sms",
			    NULL) < 1)
			fail_msg("no status callback of the test text reached %s", key);
	}
	path = xasprintf("/appointments/%lld", id);
	body = dc_get_or_fail(b.o.c, path, 200);
	has_or_fail(body, "Text placed with Twilio: SM", "the timeline shows the send");
	has_or_fail(body, "/twilio/status/sms", "the text's status callback record");
	has_or_fail(body, "MessageStatus", "the status callback's parameters");
	free(body);
	free(path);
	body = dc_get_or_fail(b.o.c, "/today/fragment", 200);
	has_or_fail(body, "Text (test)", "today lists the test");
	free(body);
	biz_free(&b);
}

/* ---- decisions -------------------------------------------------------------- */

/* An unknown-outcome attempt on a reminder of appointment ids: its id. */
static char *unknown_attempt_or_fail(const char *ids, const char *channel)
{
	const char *p[2] = { ids, channel };
	return hx_db_value_or_fail(
		"WITH r AS (INSERT INTO reminders (business_id, appointment_id, channel,"
		"  offset_minutes, attempt, due_at, stale_at, to_address, status)"
		"  SELECT a.business_id, a.id, $2, 30, 1, now() - interval '5 minutes',"
		"  now() + interval '1 hour', COALESCE(c.phone, c.email), 'unknown'"
		"  FROM appointments a JOIN clients c ON c.id = a.client_id WHERE a.id = $1::bigint"
		"  RETURNING id, business_id, channel, to_address)"
		" INSERT INTO contact_attempts (reminder_id, business_id, channel, to_address, status,"
		"  error_message, lease_until) SELECT id, business_id, channel, to_address, 'unknown',"
		"  'reconciled: Twilio did not answer', now() FROM r RETURNING id", 2, p);
}

static void test_decisions(void **state)
{
	struct biz b;
	char ids[24], *a1, *a2, *path, *body;
	long long id;
	(void)state;

	biz_or_fail(&b, NULL);
	id = create_or_fail(&b, 2, "16:00", "");
	snprintf(ids, sizeof(ids), "%lld", id);
	a1 = unknown_attempt_or_fail(ids, "voice");
	a2 = unknown_attempt_or_fail(ids, "sms");

	body = dc_get_or_fail(b.o.c, "/decisions", 200);
	has_or_fail(body, "reconciled: Twilio did not answer", "the reconciler's note");
	has_or_fail(body, b.phone, "the recipient");
	free(body);
	body = xasprintf("/appointments/%lld", id);
	{
		char *page = dc_get_or_fail(b.o.c, "/today", 200);
		has_or_fail(page, "outcome unknown — needs your decision", "today's word");
		free(page);
	}
	free(body);

	/* No reason, no decision: 422, nothing changed. */
	path = xasprintf("/decisions/%s", a1);
	body = post_or_fail(b.o.c, path, 422, "decision", "reached", "reason", "  ");
	has_or_fail(body, "reason", "reason required");
	free(body);
	body = post_or_fail(b.o.c, path, 422, "decision", "maybe", "reason", "x");
	has_or_fail(body, "decision", "decision required");
	free(body);
	assert_int_equal(count_or_fail("SELECT count(*) FROM attempt_decisions WHERE attempt_id ="
		" $1::bigint", a1), 0);
	assert_int_equal(count_or_fail("SELECT count(*) FROM contact_attempts WHERE id ="
		" $1::bigint AND status = 'unknown'", a1), 1);

	/* reached: who and why, the attempt placed. */
	body = post_or_fail(b.o.c, path, 303, "decision", "reached", "reason",
		"She called us back to confirm");
	assert_string_equal(body, "/decisions?notice=decided");
	free(body);
	{
		const char *p[2] = { a1, b.o.acc.email };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM attempt_decisions d"
			" JOIN contact_attempts ca ON ca.id = d.attempt_id WHERE d.attempt_id = $1::bigint"
			" AND d.decision = 'reached' AND d.reason = 'She called us back to confirm'"
			" AND d.user_email = $2 AND d.user_id IS NOT NULL AND ca.status = 'placed'",
			2, p), 1);
	}
	/* Once only. */
	free(post_or_fail(b.o.c, path, 409, "decision", "resend", "reason", "again"));
	free(path);

	/* resend: a new reminder through the normal path, the attempt not placed. */
	path = xasprintf("/decisions/%s", a2);
	free(post_or_fail(b.o.c, path, 303, "decision", "resend", "reason", "line was bad"));
	free(path);
	assert_int_equal(count_or_fail("SELECT count(*) FROM reminders r JOIN attempt_decisions d"
		" ON d.resend_reminder_id = r.id WHERE d.attempt_id = $1::bigint AND r.kind = 'resend'"
		" AND r.status = 'pending' AND r.channel = 'sms' AND r.attempt = 5", a2), 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM contact_attempts WHERE id ="
		" $1::bigint AND status = 'not_placed'", a2), 1);
	body = dc_get_or_fail(b.o.c, "/decisions", 200);
	has_or_fail(body, "Nothing needs a decision", "all decided");
	free(body);
	/* The timeline and the audit show the decisions. */
	path = xasprintf("/appointments/%lld", id);
	body = dc_get_or_fail(b.o.c, path, 200);
	has_or_fail(body, "the client was reached (She called us back to confirm)", "timeline");
	has_or_fail(body, "send once more (line was bad)", "timeline");
	free(body);
	free(path);
	{
		char key[64], err[128];
		json_t *arr;
		snprintf(key, sizeof(key), "audit:business:%s", b.o.biz);
		arr = hx_audit_read(key, 0, err, sizeof(err));
		assert_non_null(arr);
		assert_true(hx_audit_count(arr, "action", "decision", "reason", "line was bad",
			"user", b.o.acc.email, NULL) == 1);
		json_decref(arr);
	}
	free(a1);
	free(a2);
	biz_free(&b);
}

/* ---- the timeline of a call ----------------------------------------------------- */

/* A signed voice webhook of call c to url, with digits (NULL: none). */
static void voice_or_fail(const struct hx_call *c, const char *url, const char *digits)
{
	struct hx_form f;
	struct hx_response rs;

	hx_form_init(&f);
	hx_form_voice(&f, c->call_sid, c->from_number, c->client_phone);
	if (digits)
		hx_form_add(&f, "Digits", digits);
	if (hx_post_form(url, &f, HX_SIGNED, &rs) < 0 || rs.status != 200)
		fail_msg("webhook %s: HTTP %ld %s", url, rs.status, rs.error);
	hx_response_free(&rs);
	hx_form_free(&f);
}

static void test_timeline_key_press(void **state)
{
	struct hx_call c;
	struct biz b;
	char *url, *path, *body;
	(void)state;

	hx_fixture_call_or_fail(&c);
	/* A login of the call's business. */
	dc_account_or_fail(&b.o.acc, "owner", NULL);
	{
		char uid[24];
		const char *p[2] = { c.business_id, uid };
		snprintf(uid, sizeof(uid), "%lld", b.o.acc.user_id);
		hx_db_cmd_or_fail("UPDATE users SET business_id = $1::bigint WHERE id = $2::bigint",
			2, p);
	}
	b.o.c = dc_login_or_fail(b.o.acc.email, b.o.acc.password);

	voice_or_fail(&c, c.first_url, NULL);
	url = xasprintf("%s/twilio/voice/%s?c=%s&s=announce&n=0", hx_env.public_url, FLOW, c.token);
	voice_or_fail(&c, url, "1");
	free(url);
	url = xasprintf("%s/twilio/voice/%s?c=%s&s=details&n=1", hx_env.public_url, FLOW, c.token);
	voice_or_fail(&c, url, "1");
	free(url);

	path = xasprintf("/appointments/%s", c.appointment_id);
	body = dc_get_or_fail(b.o.c, path, 200);
	has_or_fail(body, "pressed 1 → details", "the first key");
	has_or_fail(body, "pressed 1 → confirmed", "the key press that confirmed");
	has_or_fail(body, "Appointment confirmed", "the confirmation");
	/* The call's audit records, escaped, secrets masked. */
	has_or_fail(body, c.call_sid, "the call's records");
	has_or_fail(body, "id=\"audit-", "the records' anchor");
	has_or_fail(body, "&lt;Response&gt;", "the TwiML answer, escaped");
	has_or_fail(body, "&quot;Digits&quot;: &quot;1&quot;", "the request's key press");
	assert_null(strstr(body, hx_env.auth_token));
	assert_null(strstr(body, "<Response>"));
	free(body);

	/* Redis down: the database's timeline, and a note. */
	assert_int_equal(hx_stack("redis-stop", NULL, 60), 0);
	redis_stopped = 1;
	body = dc_get_or_fail(b.o.c, path, 200);
	has_or_fail(body, "pressed 1 → confirmed", "timeline without Redis");
	has_or_fail(body, "audit records are unavailable", "the note");
	free(body);
	assert_int_equal(hx_stack_start_stopped("redis", &redis_stopped, 60), 0);
	free(path);
	dc_free(b.o.c);
}

/* ---- the client's replies by text -------------------------------------------- */

/* Gives business b its own number to text from (from) and a text reminder
 * of appointment ids placed with Twilio ten minutes ago. */
static void text_sent_or_fail(const struct biz *b, const char *ids, const char *from)
{
	{
		const char *p[2] = { b->o.biz, from };
		hx_db_cmd_or_fail("UPDATE businesses SET twilio_from = $2 WHERE id = $1::bigint", 2, p);
	}
	{
		const char *p[1] = { ids };
		hx_db_cmd_or_fail(
			"WITH r AS (INSERT INTO reminders (business_id, appointment_id, channel,"
			"  offset_minutes, attempt, due_at, stale_at, to_address, status)"
			"  SELECT a.business_id, a.id, 'sms', 30, 1, now() - interval '10 minutes',"
			"  now() + interval '1 hour', c.phone, 'placed'"
			"  FROM appointments a JOIN clients c ON c.id = a.client_id WHERE a.id = $1::bigint"
			"  RETURNING id, business_id, channel, to_address)"
			" INSERT INTO contact_attempts (reminder_id, business_id, channel, to_address,"
			"  status, provider_sid, lease_until, placed_at) SELECT id, business_id, channel,"
			"  to_address, 'placed', 'SM' || md5(random()::text), now(),"
			"  now() - interval '10 minutes' FROM r", 1, p);
	}
}

/* A signed inbound text from to to, through the webhook as Twilio sends
 * it: 200 with TwiML (empty, or the text flow's reply). */
static void reply_or_fail(const char *from, const char *to, const char *body)
{
	struct hx_form f;
	struct hx_response rs;
	char sid[35], *url = xasprintf("%s/twilio/sms/inbound", hx_env.public_url);

	hx_random_message_sid(sid);
	hx_sms_form(&f, sid, from, to, body);
	if (hx_post_form(url, &f, HX_SIGNED, &rs) < 0 || rs.status != 200 ||
		(strstr(buf_str(&rs.body), "<Response/>") == NULL &&
		 strstr(buf_str(&rs.body), "<Message>") == NULL))
		fail_msg("text to %s: HTTP %ld %s", url, rs.status, rs.error);
	hx_response_free(&rs);
	hx_form_free(&f);
	free(url);
}

/* One person is a client of A and of B, which text from their own
 * numbers.  A reply to A's number shows, escaped, on the timeline of A's
 * appointment that had a reminder text, never on A's appointment without
 * one nor on B's; a reply to B's number the other way round; a STOP says
 * "(opted out)". */
static void test_timeline_sms_replies(void **state)
{
	struct biz a, b;
	char from_a[13], from_b[13], ida[24], ida2[24], idb[24], *pa, *pa2, *pb, *body;
	(void)state;

	biz_or_fail(&a, NULL);
	biz_or_fail(&b, NULL);
	{
		const char *p[2] = { b.client, a.phone };
		hx_db_cmd_or_fail("UPDATE clients SET phone = $2 WHERE id = $1::bigint", 2, p);
	}
	hx_random_phone(from_a);
	hx_random_phone(from_b);
	snprintf(ida, sizeof(ida), "%lld", create_or_fail(&a, 2, "10:00", ""));
	snprintf(ida2, sizeof(ida2), "%lld", create_or_fail(&a, 5, "11:00", ""));
	snprintf(idb, sizeof(idb), "%lld", create_or_fail(&b, 2, "10:00", ""));
	text_sent_or_fail(&a, ida, from_a);
	text_sent_or_fail(&b, idb, from_b);
	pa = xasprintf("/appointments/%s", ida);
	pa2 = xasprintf("/appointments/%s", ida2);
	pb = xasprintf("/appointments/%s", idb);

	reply_or_fail(a.phone, from_a, "<i>Yes</i> & see you, A");
	reply_or_fail(a.phone, from_b, "Running late, B");
	reply_or_fail(a.phone, from_a, "STOP");

	body = dc_get_or_fail(a.o.c, pa, 200);
	has_or_fail(body, "Client replied by text: “&lt;i&gt;Yes&lt;/i&gt; &amp; see you, A”",
		"A's reply, escaped");
	has_or_fail(body, "Client replied by text: “STOP” (opted out)", "A's STOP");
	has_or_fail(body, "Text reply: not understood → hint", "the text flow's one hint to A");
	has_or_fail(body, "Text reply: stop → opted out", "the text flow's step on A's STOP");
	assert_null(strstr(body, "Running late, B"));
	assert_null(strstr(body, "<i>Yes"));
	free(body);
	body = dc_get_or_fail(a.o.c, pa2, 200);
	assert_null(strstr(body, "Client replied by text"));
	free(body);
	body = dc_get_or_fail(b.o.c, pb, 200);
	has_or_fail(body, "Client replied by text: “Running late, B”", "B's reply");
	assert_null(strstr(body, "see you, A"));
	assert_null(strstr(body, "STOP"));
	free(body);

	free(pa);
	free(pa2);
	free(pb);
	biz_free(&a);
	biz_free(&b);
}

static int group_setup(void **state)
{
	char err[256];
	(void)state;
	if (hx_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "dash_appointments: %s\n", err);
		return -1;
	}
	dc_throttle_reset_or_fail();
	return 0;
}

static int group_teardown(void **state)
{
	int rc = hx_stack_start_stopped("redis", &redis_stopped, 60);
	(void)state;
	hx_fini();
	return rc;
}

int dash_appointments_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_and_pages),
		cmocka_unit_test(test_validation_changes_nothing),
		cmocka_unit_test(test_reschedule_and_cancel),
		cmocka_unit_test(test_cross_business),
		cmocka_unit_test(test_callback_card),
		cmocka_unit_test(test_reschedule_card),
		cmocka_unit_test(test_test_reminder),
		cmocka_unit_test(test_test_reminder_window),
		cmocka_unit_test(test_test_reminder_sent_by_worker),
		cmocka_unit_test(test_decisions),
		cmocka_unit_test(test_timeline_key_press),
		cmocka_unit_test(test_timeline_sms_replies),
	};
	return cmocka_run_group_tests_name("integration: dash_appointments", tests, group_setup,
		group_teardown);
}

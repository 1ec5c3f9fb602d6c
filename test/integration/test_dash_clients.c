/* Group "dash_clients": the dashboard's clients pages and CSV import over
 * HTTP through nginx with a real session (dash_client.h), checked against
 * PostgreSQL. */
#include "harness.h"
#include "dash_client.h"
#include "groups.h"
#include "util.h"

/* A client name with SQL metacharacters, markup and an emoji, stored and
 * shown verbatim (escaped on the page). */
#define NASTY_NAME "Robert'); DROP TABLE clients;-- <b>\xf0\x9f\x98\x80</b>"
#define NASTY_NAME_HTML "Robert&#39;); DROP TABLE clients;-- &lt;b&gt;\xf0\x9f\x98\x80&lt;/b&gt;"

/* The number of the business's clients. */
static long long client_count(const struct dc_owner *o)
{
	return dc_biz_count(o->acc.business_id,
		"SELECT count(*) FROM clients WHERE business_id = $1::bigint");
}

/* The number sql gives with the business's id as $1. */
static long long biz_count(const struct dc_owner *o, const char *sql)
{
	return dc_biz_count(o->acc.business_id, sql);
}

/* Creates a client through the form; its id. */
static long long create_client_or_fail(struct dc_owner *o, const char *name, const char *phone,
	const char *email)
{
	assert_int_equal(dc_get_page(o->c, "/clients/new", NULL), 200);
	return dc_post_id_or_fail(o->c, "/clients", "/clients/", NULL, "name", name, "phone", phone,
		"email", email, "time_zone", "", NULL);
}

/* The form creates a client with the phone normalised and every value
 * verbatim; the list (search by name, e-mail or phone digits) and the
 * client's page show it escaped. */
static void test_create_and_show(void **state)
{
	struct dc_owner o;
	char path[64], *body, *v;
	long long id;
	char cid[24];
	const char *p[1] = { cid };
	(void)state;

	dc_owner_or_fail(&o, "owner", NULL);
	assert_int_equal(dc_get_page(o.c, "/clients/new", &body), 200);
	assert_non_null(strstr(body, "name=\"csrf\""));
	assert_non_null(strstr(body, "<optgroup label=\"Europe\">"));
	assert_non_null(strstr(body, "value=\"Europe/London\""));
	free(body);
	id = dc_post_id_or_fail(o.c, "/clients", "/clients/", "?notice=created", "name", NASTY_NAME,
		"phone", "+1 (555) 010-0123", "email", "ada+x@example.com", "time_zone",
		"Europe/London", "do_not_call", "1", NULL);
	snprintf(cid, sizeof(cid), "%lld", id);
	v = hx_db_value_or_fail("SELECT name || '|' || phone || '|' || email || '|' || time_zone"
				"  || '|' || do_not_call FROM clients WHERE id = $1::bigint", 1, p);
	assert_string_equal(v, NASTY_NAME "|+15550100123|ada+x@example.com|Europe/London|true");
	free(v);

	snprintf(path, sizeof(path), "/clients/%lld", id);
	assert_int_equal(dc_get_page(o.c, path, &body), 200);
	assert_non_null(strstr(body, NASTY_NAME_HTML));
	assert_null(strstr(body, "<b>\xf0\x9f\x98\x80"));
	assert_non_null(strstr(body, "+15550100123"));
	assert_non_null(strstr(body, "Do not call"));
	assert_non_null(strstr(body, "No appointments yet"));
	free(body);
	const char *const searches[] = { "/clients", "/clients?q=drop+table", "/clients?q=ADA%2BX",
		"/clients?q=555+010", "/clients?q=%F0%9F%98%80" };
	for (size_t i = 0; i < sizeof(searches) / sizeof(searches[0]); i++) {
		assert_int_equal(dc_get_page(o.c, searches[i], &body), 200);
		if (strstr(body, NASTY_NAME_HTML) == NULL)
			fail_msg("%s does not list the client", searches[i]);
		free(body);
	}
	assert_int_equal(dc_get_page(o.c, "/clients?q=nobody+at+all", &body), 200);
	assert_null(strstr(body, NASTY_NAME_HTML));
	assert_non_null(strstr(body, "No clients matching"));
	free(body);
	dc_owner_free(&o);
}

/* The list pages by 50 in name order; the search matches % and _ as
 * themselves and keeps the search in the page links. */
static void test_list_paging(void **state)
{
	/* Each page: what it shows and what it does not. */
	static const struct {
		const char *path, *has[3], *lacks[2];
	} pages[] = {
		{ "/clients?q=pat",
			{ ">Pat 001<", ">Pat 050<", "href=\"/clients?q=pat&amp;page=2\"" },
			{ ">Pat 051<", "Previous page" } },
		{ "/clients?q=pat&page=2", { ">Pat 051<", "Previous page" },
			{ ">Pat 050<", "Next page" } },
		{ "/clients?q=0%25", { "100% &amp; more_x" }, { "Pat 0" } },
		{ "/clients?q=e_x", { "100% &amp; more_x" }, { "Pat 0" } },
	};
	struct dc_owner o;
	char *body;
	(void)state;

	dc_owner_or_fail(&o, "owner", NULL);
	hx_db_cmd_or_fail("INSERT INTO clients (business_id, name, email)"
			  " SELECT $1::bigint, 'Pat ' || lpad(i::text, 3, '0'),"
			  "  'pat' || i || '@example.com' FROM generate_series(1, 51) i", 1,
		(const char *[]){ o.biz });
	hx_db_cmd_or_fail("INSERT INTO clients (business_id, name, email)"
			  " VALUES ($1::bigint, '100% & more_x', 'pct@example.com')", 1,
		(const char *[]){ o.biz });
	for (size_t i = 0; i < ARRAY_LEN(pages); i++) {
		assert_int_equal(dc_get_page(o.c, pages[i].path, &body), 200);
		for (size_t j = 0; j < ARRAY_LEN(pages[i].has) && pages[i].has[j]; j++)
			if (strstr(body, pages[i].has[j]) == NULL)
				fail_msg("%s lacks '%s'", pages[i].path, pages[i].has[j]);
		for (size_t j = 0; j < ARRAY_LEN(pages[i].lacks) && pages[i].lacks[j]; j++)
			if (strstr(body, pages[i].lacks[j]) != NULL)
				fail_msg("%s has '%s'", pages[i].path, pages[i].lacks[j]);
		free(body);
	}
	dc_owner_free(&o);
}

/* Bad input re-renders the form with the input, a message naming the
 * field and 422, and saves nothing. */
static void test_validation(void **state)
{
	static const struct {
		const char *name, *phone, *email, *tz, *message;
	} cases[] = {
		{ "Ann", "555-0123", "", "", "a phone number must start with + and the country code,"
			" e.g. +1 555 010 0123" },
		{ "Ann", "+44 (0)20 7946 0958", "", "", "must not hold (0)" },
		{ "Ann", "+1 555 CALL", "", "", "may hold only +, digits" },
		{ "", "+15550100123", "", "", "The name is required" },
		{ "   ", "+15550100123", "", "", "The name is required" },
		{ "Ann", "", "", "", "give a phone number or an e-mail address" },
		{ "Ann", "", "not an address", "", "The e-mail address is not an address" },
		{ "Ann", "+15550100123", "", "Mars/Olympus_Mons", "Time zone: choose one" },
		{ "Ann", "+15550100123", "", "+05", "Time zone: choose one" },
	};
	struct dc_owner o;
	(void)state;

	dc_owner_or_fail(&o, "owner", NULL);
	assert_int_equal(dc_get_page(o.c, "/clients/new", NULL), 200);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dc_response r;
		assert_int_equal(dc_post_form(o.c, "/clients", &r, "name", cases[i].name, "phone",
					 cases[i].phone, "email", cases[i].email, "time_zone",
					 cases[i].tz, NULL), 0);
		if (r.status != 422 || strstr(buf_str(&r.body), cases[i].message) == NULL)
			fail_msg("case %zu: %ld, no '%s' in the page", i, r.status, cases[i].message);
		assert_non_null(strstr(buf_str(&r.body), "Nothing was saved"));
		if (cases[i].phone[0] == '5')
			assert_non_null(strstr(buf_str(&r.body), "value=\"555-0123\""));
		dc_response_free(&r);
	}
	assert_int_equal(client_count(&o), 0);
	dc_owner_free(&o);
}

/* Editing saves the new values; a new number clears "number invalid";
 * the business's opt-out is recorded with who set it and cannot be
 * cleared from the pages. */
static void test_edit_and_opt_out(void **state)
{
	struct dc_owner o;
	struct dc_response r;
	char path[96], cid[24], *body, *v;
	const char *p[1] = { cid };
	long long id;
	(void)state;

	dc_owner_or_fail(&o, "owner", NULL);
	id = create_client_or_fail(&o, "Bea", "+15550100124", "");
	snprintf(cid, sizeof(cid), "%lld", id);
	hx_db_cmd_or_fail("UPDATE clients SET phone_invalid_at = now(),"
			  " phone_invalid_reason = 'Twilio error 21211' WHERE id = $1::bigint", 1, p);
	snprintf(path, sizeof(path), "/clients/%lld", id);
	assert_int_equal(dc_get_page(o.c, path, &body), 200);
	assert_non_null(strstr(body, "Number invalid"));
	free(body);
	assert_int_equal(dc_get_page(o.c, "/clients", &body), 200);
	assert_non_null(strstr(body, "Number invalid"));
	free(body);

	snprintf(path, sizeof(path), "/clients/%lld/edit", id);
	assert_int_equal(dc_get_page(o.c, path, &body), 200);
	assert_non_null(strstr(body, "value=\"Bea\""));
	assert_non_null(strstr(body, "value=\"+15550100124\""));
	free(body);
	snprintf(path, sizeof(path), "/clients/%lld", id);
	/* a bad edit changes nothing */
	assert_int_equal(dc_post_form(o.c, path, &r, "name", "Bea B", "phone", "555-0199", "email",
				 "", "time_zone", "", NULL), 0);
	assert_int_equal(r.status, 422);
	assert_non_null(strstr(buf_str(&r.body), "must start with + and the country code"));
	dc_response_free(&r);
	v = hx_db_value_or_fail("SELECT name || '|' || phone FROM clients WHERE id = $1::bigint", 1,
		p);
	assert_string_equal(v, "Bea|+15550100124");
	free(v);
	assert_int_equal(dc_post_form(o.c, path, &r, "name", "Bea B", "phone", "00 44 20 7946 0958",
				 "email", "bea@example.com", "time_zone", "America/New_York",
				 "do_not_call", "1", NULL), 0);
	assert_int_equal(r.status, 303);
	assert_true(strncmp(r.location, path, strlen(path)) == 0);
	dc_response_free(&r);
	v = hx_db_value_or_fail("SELECT name || '|' || phone || '|' || email || '|' || time_zone"
				" || '|' || do_not_call || '|' || (phone_invalid_at IS NULL)"
				" FROM clients WHERE id = $1::bigint", 1, p);
	assert_string_equal(v, "Bea B|+442079460958|bea@example.com|America/New_York|true|true");
	free(v);

	snprintf(path, sizeof(path), "/clients/%lld/opt-out", id);
	assert_int_equal(dc_get_page(o.c, "/clients", NULL), 200);
	assert_int_equal(dc_post_form(o.c, path, &r, NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	v = hx_db_value_or_fail("SELECT (opted_out_at IS NOT NULL) || '|' || opted_out_by"
				" FROM clients WHERE id = $1::bigint", 1, p);
	assert_true(strncmp(v, "true|", 5) == 0);
	assert_string_equal(v + 5, o.acc.email);
	free(v);
	snprintf(path, sizeof(path), "/clients/%lld", id);
	assert_int_equal(dc_get_page(o.c, path, &body), 200);
	assert_non_null(strstr(body, "Opted out"));
	assert_non_null(strstr(body, "cannot be cleared from the dashboard"));
	assert_null(strstr(body, "/opt-out\""));
	free(body);
	dc_owner_free(&o);
}

/* Another business's client is 404 on every route, exactly as an id that
 * does not exist, and nothing of it changes or shows. */
static void test_other_business(void **state)
{
	struct dc_owner a, b;
	struct dc_response r;
	char path[96], cid[24], *body, *before, *after;
	const char *p[1] = { cid };
	const char *row = "SELECT name || phone || do_not_call || (opted_out_at IS NULL)"
			  " FROM clients WHERE id = $1::bigint";
	long long id;
	(void)state;

	dc_owner_or_fail(&a, "owner", NULL);
	dc_owner_or_fail(&b, "owner", NULL);
	id = create_client_or_fail(&a, "Secret client of A", "+15550100125", "");
	snprintf(cid, sizeof(cid), "%lld", id);
	before = hx_db_value_or_fail(row, 1, p);
	const char *const gets[] = { "/clients/%lld", "/clients/%lld/edit", "/clients/99999999999",
		"/clients/99999999999/edit" };
	for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
		snprintf(path, sizeof(path), gets[i], id);
		assert_int_equal(dc_get_page(b.c, path, &body), 404);
		assert_null(strstr(body, "Secret client"));
		free(body);
	}
	assert_int_equal(dc_get_page(b.c, "/clients?q=secret", &body), 200);
	assert_null(strstr(body, "Secret client"));
	free(body);
	assert_int_equal(dc_get_page(b.c, "/clients", NULL), 200);
	snprintf(path, sizeof(path), "/clients/%lld", id);
	assert_int_equal(dc_post_form(b.c, path, &r, "name", "Taken", "phone", "+15550100126",
				 "email", "", "time_zone", "", NULL), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	snprintf(path, sizeof(path), "/clients/%lld/opt-out", id);
	assert_int_equal(dc_post_form(b.c, path, &r, NULL), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	after = hx_db_value_or_fail(row, 1, p);
	assert_string_equal(before, after);
	free(before);
	free(after);
	dc_owner_free(&a);
	dc_owner_free(&b);
}

/* Uploads csv as kind; the answer in r. */
static void upload(struct dc_owner *o, const char *kind, const char *csv, struct dc_response *r)
{
	assert_int_equal(dc_get_page(o->c, "/import", NULL), 200);
	assert_int_equal(dc_post_multipart(o->c, "/import", "file", "list.csv", csv, strlen(csv), r,
				 "kind", kind, NULL), 0);
}

/* The upload id of a preview's Import form, or 0 when it has none. */
static long long preview_id(const struct dc_response *r)
{
	const char *s = strstr(buf_str(&r->body), "action=\"/import/");
	return s ? strtoll(s + strlen("action=\"/import/"), NULL, 10) : 0;
}

/* Imports the preview id; the answer must be the 303 to /import. */
static void commit_or_fail(struct dc_owner *o, long long id)
{
	struct dc_response r;
	char path[64];

	snprintf(path, sizeof(path), "/import/%lld/commit", id);
	assert_int_equal(dc_post_form(o->c, path, &r, NULL), 0);
	if (r.status != 303)
		fail_msg("commit: %ld %s", r.status, buf_str(&r.body));
	assert_string_equal(r.location, "/import?notice=imported");
	dc_response_free(&r);
}

static const char clients_csv[] =
	"\xef\xbb\xbfName,Phone,Email,Time_Zone\r\n"
	"\"" "Robert'); DROP TABLE clients;-- <b>\xf0\x9f\x98\x80</b>" "\",+1 (555) 010-0130,,\r\n"
	"\"Smith, \"\"Jo\"\"\",,jo@example.com,Europe/London\r\n"
	",,,\r\n"
	"Cy,00 44 20 7946 0131,CY@example.com,\r\n";

/* A file with one bad row imports nothing and names the line and the
 * field; so do a bad header and a broken quote. */
static void test_import_bad_row(void **state)
{
	static const struct {
		const char *csv, *message;
	} cases[] = {
		{ "name,phone\nAnn,+15550100140\nBob,+15550100141\nCid,555-0123\n",
		  "line 4: phone &#39;555-0123&#39; must start with + and the country code" },
		{ "name,phone,email\nAnn,+15550100140,\nBob,,bob@@example.com\n",
		  "line 3: email &#39;bob@@example.com&#39; is not an address" },
		{ "name,phone,time_zone\nAnn,+15550100140,Mars/Base\n",
		  "line 2: time_zone &#39;Mars/Base&#39; is not a time zone" },
		{ "name,phone,time_zone\nAnn,+15550100140,america/new_york\n",
		  "line 2: time_zone &#39;america/new_york&#39; is not a time zone" },
		{ "name,phone\nAnn,+15550100140\nAnn Two,+1 555 010 0140\n",
		  "line 3: phone is the same as on line 2" },
		{ "name,fax\nAnn,123\n", "line 1: unknown column &#39;fax&#39;" },
		{ "name;phone\nAnn;+15550100140\n", "line 1: the columns are separated by semicolons" },
		{ "name,phone\nAnn,+15550100140\n\"Bob,+15550100141\n", "line 3: a quoted value is not"
		  " closed" },
		{ "name,phone\nAnn,+15550100140,extra\n", "line 2: has 3 values" },
		{ "name,phone\n,+15550100140\n", "line 2: name is required" },
	};
	struct dc_owner o;
	(void)state;

	dc_owner_or_fail(&o, "owner", NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dc_response r;
		upload(&o, "clients", cases[i].csv, &r);
		if (r.status != 422 || strstr(buf_str(&r.body), cases[i].message) == NULL)
			fail_msg("case %zu: %ld, no '%s' in %s", i, r.status, cases[i].message,
				buf_str(&r.body));
		assert_non_null(strstr(buf_str(&r.body), "Nothing was imported"));
		assert_int_equal(preview_id(&r), 0);
		dc_response_free(&r);
	}
	assert_int_equal(client_count(&o), 0);
	assert_int_equal(biz_count(&o, "SELECT count(*) FROM csv_uploads"
				       " WHERE business_id = $1::bigint"), 0);
	dc_owner_free(&o);
}

/* A good file: the preview creates nothing; Import creates the clients
 * verbatim; the same file again says "already imported" and creates
 * nothing, and importing the first preview again creates nothing. */
static void test_import_twice(void **state)
{
	struct dc_owner o, other;
	struct dc_response r;
	long long id;
	char *v, path[64];
	(void)state;

	dc_owner_or_fail(&o, "owner", NULL);
	dc_owner_or_fail(&other, "owner", NULL);
	/* a client already here (by e-mail, another case) is left alone */
	create_client_or_fail(&o, "Cy old", "", "cy@example.com");
	upload(&o, "clients", clients_csv, &r);
	if (r.status != 200)
		fail_msg("upload: %ld %s", r.status, buf_str(&r.body));
	assert_non_null(strstr(buf_str(&r.body), "3 clients: 2 new, 1 already imported"));
	assert_non_null(strstr(buf_str(&r.body), "Import 2 rows"));
	assert_non_null(strstr(buf_str(&r.body), NASTY_NAME_HTML));
	id = preview_id(&r);
	assert_true(id > 0);
	dc_response_free(&r);
	assert_int_equal(client_count(&o), 1);

	/* another business cannot import it */
	snprintf(path, sizeof(path), "/import/%lld/commit", id);
	assert_int_equal(dc_get_page(other.c, "/import", NULL), 200);
	assert_int_equal(dc_post_form(other.c, path, &r, NULL), 0);
	assert_int_equal(r.status, 404);
	dc_response_free(&r);
	assert_int_equal(client_count(&o), 1);

	commit_or_fail(&o, id);
	assert_int_equal(client_count(&o), 3);
	v = hx_db_value_or_fail("SELECT string_agg(name || '|' || COALESCE(phone, '-') || '|'"
				"  || COALESCE(email, '-') || '|' || COALESCE(time_zone, '-'), ';'"
				"  ORDER BY name) FROM clients WHERE business_id = $1::bigint", 1,
		(const char *[]){ o.biz });
	assert_string_equal(v, "Cy old|-|cy@example.com|-;" NASTY_NAME "|+15550100130|-|-;"
		"Smith, \"Jo\"|-|jo@example.com|Europe/London");
	free(v);

	/* the same preview again, and the same file again: nothing new */
	assert_int_equal(dc_get_page(o.c, "/import", NULL), 200);
	assert_int_equal(dc_post_form(o.c, path, &r, NULL), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(buf_str(&r.body), "Already imported"));
	dc_response_free(&r);
	upload(&o, "clients", clients_csv, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(buf_str(&r.body), "3 clients: 0 new, 3 already imported"));
	assert_non_null(strstr(buf_str(&r.body), "already imported: there is nothing to do"));
	assert_non_null(strstr(buf_str(&r.body), "This file was already imported on"));
	assert_int_equal(preview_id(&r), 0);
	dc_response_free(&r);
	assert_int_equal(client_count(&o), 3);
	dc_owner_free(&o);
	dc_owner_free(&other);
}

/* Appointments: the client must be here; "YYYY-MM-DD HH:MM" is in the
 * business's zone; reminders are planned; twice creates nothing; a
 * changed phone moves the reminders still to be sent to the new number. */
static void test_import_appointments(void **state)
{
	struct dc_owner o;
	struct dc_response r;
	char csv[512], *v, path[64], cid[24];
	long long id, client;
	(void)state;

	dc_owner_or_fail(&o, "owner", "America/New_York");
	client = create_client_or_fail(&o, "Dee", "+15550100150", "dee@example.com");
	snprintf(cid, sizeof(cid), "%lld", client);
	/* ten days ahead, local time of the business */
	v = hx_db_value_or_fail("SELECT to_char((now() + interval '10 days') AT TIME ZONE"
				" 'America/New_York', 'YYYY-MM-DD') || ' 09:30'", 0, NULL);
	snprintf(csv, sizeof(csv), "phone,email,starts_at,notes\n"
		"+1 555 010 0150,,%s,\"Check-up, \xf0\x9f\x98\x80 '; --\"\n"
		",nobody@example.com,%s,\n", v, v);
	upload(&o, "appointments", csv, &r);
	assert_int_equal(r.status, 422);
	assert_non_null(strstr(buf_str(&r.body), "line 3: no client here has the email"));
	assert_non_null(strstr(buf_str(&r.body), "add a name column"));
	dc_response_free(&r);
	snprintf(csv, sizeof(csv), "phone,email,starts_at,notes\n"
		"+1 555 010 0150,,%s,\"Check-up, \xf0\x9f\x98\x80 '; --\"\n"
		",DEE@example.com,2020-01-01 10:00,\n", v);
	upload(&o, "appointments", csv, &r);
	assert_int_equal(r.status, 422);
	assert_non_null(strstr(buf_str(&r.body), "line 3: starts_at"));
	assert_non_null(strstr(buf_str(&r.body), "is in the past"));
	dc_response_free(&r);
	snprintf(csv, sizeof(csv), "phone,email,starts_at,notes\n"
		"+1 555 010 0150,,%s,\"Check-up, \xf0\x9f\x98\x80 '; --\"\n", v);
	upload(&o, "appointments", csv, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(buf_str(&r.body), "1 appointment, all new"));
	id = preview_id(&r);
	dc_response_free(&r);
	assert_int_equal(biz_count(&o, "SELECT count(*) FROM appointments"
				       " WHERE business_id = $1::bigint"), 0);
	commit_or_fail(&o, id);
	{
		char *want = xasprintf("%s|Check-up, \xf0\x9f\x98\x80 '; --", v);
		char *got = hx_db_value_or_fail("SELECT to_char(starts_at AT TIME ZONE"
						" 'America/New_York', 'YYYY-MM-DD HH24:MI') || '|' || notes"
						" FROM appointments WHERE business_id = $1::bigint", 1,
			(const char *[]){ o.biz });
		assert_string_equal(got, want);
		free(want);
		free(got);
	}
	/* the default policy: a call and a text, to the client's phone */
	assert_int_equal(biz_count(&o, "SELECT count(*) FROM reminders WHERE business_id ="
				       " $1::bigint AND status = 'pending' AND to_address ="
				       " '+15550100150'"), 2);
	upload(&o, "appointments", csv, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(buf_str(&r.body), "0 new, 1 already imported"));
	assert_int_equal(preview_id(&r), 0);
	dc_response_free(&r);
	assert_int_equal(biz_count(&o, "SELECT count(*) FROM appointments"
				       " WHERE business_id = $1::bigint"), 1);

	/* a new phone: nothing pending stays addressed to the old one */
	snprintf(path, sizeof(path), "/clients/%lld/edit", client);
	assert_int_equal(dc_get_page(o.c, path, NULL), 200);
	snprintf(path, sizeof(path), "/clients/%lld", client);
	assert_int_equal(dc_post_form(o.c, path, &r, "name", "Dee", "phone", "+1 555 010 0151",
				 "email", "dee@example.com", "time_zone", "", NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	assert_int_equal(biz_count(&o, "SELECT count(*) FROM reminders WHERE business_id ="
				       " $1::bigint AND status = 'pending' AND to_address ="
				       " '+15550100150'"), 0);
	assert_int_equal(biz_count(&o, "SELECT count(*) FROM reminders WHERE business_id ="
				       " $1::bigint AND status = 'pending' AND to_address ="
				       " '+15550100151'"), 2);
	snprintf(path, sizeof(path), "/clients/%lld", client);
	assert_int_equal(dc_get_page(o.c, path, &v), 200);
	assert_non_null(strstr(v, "Booked"));
	free(v);

	/* a client "in the file": created from the row's name, once */
	v = hx_db_value_or_fail("SELECT to_char((now() + interval '11 days') AT TIME ZONE"
				" 'America/New_York', 'YYYY-MM-DD')", 0, NULL);
	snprintf(csv, sizeof(csv), "Name,Email,Starts_At\n"
		"Eli New,eli@example.com,%s 10:00\n"
		"Eli New,ELI@example.com,%s 11:00\n", v, v);
	free(v);
	upload(&o, "appointments", csv, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(buf_str(&r.body), "2 appointments, all new"));
	assert_non_null(strstr(buf_str(&r.body), "The file also adds 1 new client"));
	assert_non_null(strstr(buf_str(&r.body), "Eli New (new client)"));
	id = preview_id(&r);
	dc_response_free(&r);
	assert_int_equal(client_count(&o), 1);
	commit_or_fail(&o, id);
	assert_int_equal(biz_count(&o, "SELECT count(*) FROM clients WHERE business_id = $1::bigint"
				       " AND name = 'Eli New' AND email = 'eli@example.com'"), 1);
	assert_int_equal(biz_count(&o, "SELECT count(*) FROM appointments a JOIN clients c"
				       " ON c.id = a.client_id WHERE a.business_id = $1::bigint"
				       " AND c.name = 'Eli New'"), 2);
	upload(&o, "appointments", csv, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(buf_str(&r.body), "0 new, 2 already imported"));
	assert_null(strstr(buf_str(&r.body), "new client"));
	dc_response_free(&r);
	dc_owner_free(&o);
}

/* A preview past its hour imports nothing; its upload's rows are not
 * kept once imported. */
static void test_import_expired(void **state)
{
	struct dc_owner o;
	struct dc_response r;
	char path[64], sid[24];
	const char *p[1] = { sid };
	long long id;
	(void)state;

	dc_owner_or_fail(&o, "owner", NULL);
	upload(&o, "clients", "name,phone\nEve,+15550100160\n", &r);
	assert_int_equal(r.status, 200);
	id = preview_id(&r);
	dc_response_free(&r);
	snprintf(sid, sizeof(sid), "%lld", id);
	hx_db_cmd_or_fail("UPDATE csv_uploads SET created_at = now() - interval '2 hours',"
			  " expires_at = now() - interval '1 hour' WHERE id = $1::bigint", 1, p);
	snprintf(path, sizeof(path), "/import/%lld/commit", id);
	assert_int_equal(dc_post_form(o.c, path, &r, NULL), 0);
	assert_int_equal(r.status, 409);
	assert_non_null(strstr(buf_str(&r.body), "expired"));
	dc_response_free(&r);
	assert_int_equal(client_count(&o), 0);
	upload(&o, "clients", "name,phone\nEve,+15550100160\n", &r);
	id = preview_id(&r);
	dc_response_free(&r);
	commit_or_fail(&o, id);
	snprintf(sid, sizeof(sid), "%lld", id);
	assert_int_equal(hx_db_int_or_fail("SELECT jsonb_array_length(rows) FROM csv_uploads"
					   " WHERE id = $1::bigint", 1, p), 0);
	assert_int_equal(client_count(&o), 1);
	dc_owner_free(&o);
}

/* The templates download as CSV with the columns the page documents. */
static void test_templates(void **state)
{
	struct dc_owner o;
	struct dc_response r;
	char *body;
	(void)state;

	dc_owner_or_fail(&o, "owner", NULL);
	assert_int_equal(dc_get_page(o.c, "/import", &body), 200);
	assert_non_null(strstr(body, "href=\"/import/template/clients.csv\""));
	assert_non_null(strstr(body, "enctype=\"multipart/form-data\""));
	free(body);
	assert_int_equal(dc_get(o.c, "/import/template/clients.csv", &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.content_type, "text/csv"));
	assert_string_equal(buf_str(&r.body), "name,phone,email,time_zone\r\n");
	dc_response_free(&r);
	assert_int_equal(dc_get(o.c, "/import/template/appointments.csv", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(buf_str(&r.body), "phone,email,starts_at,notes,name\r\n");
	dc_response_free(&r);
	assert_int_equal(dc_get_page(o.c, "/import/template/other.csv", NULL), 404);
	dc_owner_free(&o);
}

/* rf_valid_time_zone of sql/001, the verdicts the table of sql/030 must
 * keep: made a temporary function inside the test's transaction. */
static const char tz_001_sql[] =
	"CREATE FUNCTION pg_temp.tz_001(tz text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$\n"
	"BEGIN\n"
	"    IF tz IS NULL OR tz = '' OR length(tz) > 64 THEN\n"
	"        RETURN false;\n"
	"    END IF;\n"
	"    PERFORM now() AT TIME ZONE tz;\n"
	"    RETURN EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz);\n"
	"EXCEPTION WHEN OTHERS THEN\n"
	"    RETURN false;\n"
	"END;\n"
	"$$";

/* The answer of rf_valid_time_zone (fast, from the table) and of the
 * function of 001 for tz (NULL for SQL NULL), each "t" or "f" in v. */
static void tz_verdicts(const char *tz, char v[3])
{
	const char *p[1] = { tz };
	PGresult *res = hx_db_exec_or_fail("SELECT rf_valid_time_zone($1), pg_temp.tz_001($1)", 1, p);
	v[0] = PQgetvalue(res, 0, 0)[0];
	v[1] = PQgetvalue(res, 0, 1)[0];
	v[2] = '\0';
	PQclear(res);
}

/* rf_valid_time_zone answers from rf_time_zone_names as the function of
 * 001 answered from pg_timezone_names: valid, invalid, a case variant,
 * '', NULL, an offset, an over-long name, and a zone deleted from the
 * table (the fallback to the view: a zone tzdata added since the last
 * migrate run), also through the CHECK of clients.  All in a transaction
 * rolled back. */
static void test_time_zone_verdicts(void **state)
{
	static const struct {
		const char *tz, *want;
	} cases[] = {
		{ "America/New_York", "tt" }, { "Europe/London", "tt" }, { "UTC", "tt" },
		{ "Mars/Base", "ff" }, { "america/new_york", "ff" }, { "AMERICA/NEW_YORK", "ff" },
		{ "", "ff" }, { NULL, "ff" }, { "+05", "ff" }, { "EST5EDT,M3.2.0,M11.1.0", "ff" },
		{ "America/New_York ", "ff" },
		{ "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ff" },
	};
	const char *chatham[1] = { "Pacific/Chatham" };
	char v[3];
	(void)state;

	/* The migration filled the table with the view's names, exactly. */
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM ((SELECT name FROM pg_timezone_names"
		" EXCEPT SELECT name FROM rf_time_zone_names) UNION ALL (SELECT name FROM rf_time_zone_names"
		" EXCEPT SELECT name FROM pg_timezone_names)) d", 0, NULL), 0);
	assert_true(hx_db_int_or_fail("SELECT count(*) FROM rf_time_zone_names", 0, NULL) > 300);

	hx_db_cmd_or_fail("BEGIN", 0, NULL);
	hx_db_cmd_or_fail(tz_001_sql, 0, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tz_verdicts(cases[i].tz, v);
		if (strcmp(v, cases[i].want) != 0)
			fail_msg("'%s': table %c, 001 %c; want %s", cases[i].tz ? cases[i].tz : "(null)",
				v[0], v[1], cases[i].want);
	}
	/* A zone the table lacks is still valid (found in the view). */
	assert_int_equal(hx_db_int_or_fail("WITH d AS (DELETE FROM rf_time_zone_names WHERE name = $1"
		" RETURNING 1) SELECT count(*) FROM d", 1, chatham), 1);
	tz_verdicts("Pacific/Chatham", v);
	assert_string_equal(v, "tt");
	assert_int_equal(hx_db_int_or_fail("WITH b AS (INSERT INTO businesses (name, time_zone,"
		" callback_phone) VALUES ('TZ fallback', $1, '+15005550006') RETURNING id),"
		" c AS (INSERT INTO clients (business_id, name, email, time_zone)"
		" SELECT id, 'Tz', 'tz@example.com', $1 FROM b RETURNING 1) SELECT count(*) FROM c",
		1, chatham), 1);
	/* The refresh `ringfence migrate` runs puts it back, and only it. */
	assert_int_equal(hx_db_int_or_fail("SELECT rf_refresh_time_zone_names()", 0, NULL), 1);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM rf_time_zone_names WHERE name = $1",
		1, chatham), 1);
	assert_int_equal(hx_db_int_or_fail("SELECT rf_refresh_time_zone_names()", 0, NULL), 0);
	hx_db_cmd_or_fail("ROLLBACK", 0, NULL);
}

/* `ringfence migrate` with nothing pending still refreshes the table: a
 * name missing from it (as after a tzdata update) is there afterwards. */
static void test_time_zone_migrate_refresh(void **state)
{
	const char *bin = hx_ringfence_bin("dash_clients");
	const char *chatham[1] = { "Pacific/Chatham" };
	struct buf out = BUF_INIT;
	char *cmd;
	int rc;
	(void)state;

	assert_non_null(bin);
	hx_db_cmd_or_fail("DELETE FROM rf_time_zone_names WHERE name = $1", 1, chatham);
	cmd = xasprintf("'%s' migrate 2>&1", bin);
	rc = hx_shell(cmd, &out, 60);
	free(cmd);
	if (rc != 0 || strstr(buf_str(&out), "migrate: 0 applied") == NULL)
		fail_msg("ringfence migrate: exit %d:\n%s", rc, buf_str(&out));
	buf_free(&out);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM rf_time_zone_names WHERE name = $1",
		1, chatham), 1);
}

int dash_clients_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_and_show),
		cmocka_unit_test(test_list_paging),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_edit_and_opt_out),
		cmocka_unit_test(test_other_business),
		cmocka_unit_test(test_import_bad_row),
		cmocka_unit_test(test_import_twice),
		cmocka_unit_test(test_import_appointments),
		cmocka_unit_test(test_import_expired),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_time_zone_verdicts),
		cmocka_unit_test(test_time_zone_migrate_refresh),
	};
	return cmocka_run_group_tests_name("integration: dash_clients", tests, hx_group_setup,
		hx_group_teardown);
}

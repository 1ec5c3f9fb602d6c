/* Unit tests: the pure half of the calendar sync: which contacts of an
 * event are taken, in what order, the proposed client's name and the
 * proposed_from text, and the guard's threshold and the back-off. */
#include "unit.h"

#include "calmatch.h"
#include "calparse.h"
#include "calsync.h"

static struct cal_occurrence occ(const char *summary, const char *description,
	const char *location, struct cal_attendee *at, size_t nat)
{
	struct cal_occurrence o;

	memset(&o, 0, sizeof(o));
	o.uid = (char *)"u@example.com";
	o.summary = (char *)summary;
	o.description = (char *)description;
	o.location = (char *)location;
	o.attendees = at;
	o.n_attendees = nat;
	return o;
}

static void test_collect_order(void **state)
{
	struct cal_attendee at[] = {
		{ (char *)"Sophie.Turner@Example.com", (char *)"Sophie Turner" },
		{ (char *)"bookings@studio.example", NULL },
	};
	struct cal_occurrence o = occ("Jane Doe - cleaning",
		"Call Jane 555-010-0123, or jane@example.org. Order 12345 on 2026-12-07 10:00",
		"Room 2, +44 20 7946 0958", at, 2);
	struct calmatch_found f;
	const struct calmatch_contact *first;
	(void)state;

	calmatch_collect(&o, "US", &f);
	assert_int_equal(f.n, 5);
	assert_string_equal(f.c[0].value, "+15550100123");
	assert_true(f.c[0].is_phone);
	assert_int_equal(f.c[0].field, CALMATCH_DESCRIPTION);
	assert_string_equal(f.c[1].value, "jane@example.org");
	assert_false(f.c[1].is_phone);
	assert_string_equal(f.c[2].value, "+442079460958");
	assert_int_equal(f.c[2].field, CALMATCH_LOCATION);
	assert_string_equal(f.c[3].value, "sophie.turner@example.com");
	assert_int_equal(f.c[3].field, CALMATCH_ATTENDEE);
	assert_string_equal(f.c[3].name, "Sophie Turner");
	assert_string_equal(f.c[4].value, "bookings@studio.example");
	assert_null(f.c[4].name);
	first = calmatch_first(&f);
	assert_ptr_equal(first, &f.c[0]);

	/* Without a country the national number is not taken. */
	calmatch_collect(&o, NULL, &f);
	assert_int_equal(f.n, 4);
	assert_string_equal(f.c[0].value, "jane@example.org");
	/* ... and the first phone still wins over an earlier email. */
	assert_string_equal(calmatch_first(&f)->value, "+442079460958");
}

static void test_collect_duplicates_and_none(void **state)
{
	struct cal_occurrence o = occ("Call +1 555 010 0123", "tel:+1-555-010-0123 again", "",
		NULL, 0);
	struct calmatch_found f;
	(void)state;

	calmatch_collect(&o, "US", &f);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.c[0].field, CALMATCH_SUMMARY);
	o = occ("Staff meeting", "", "", NULL, 0);
	calmatch_collect(&o, "US", &f);
	assert_int_equal(f.n, 0);
	assert_null(calmatch_first(&f));
}

static void test_trim(void **state)
{
	char out[8];
	(void)state;

	calmatch_trim("  Jane Doe \r\n", out, sizeof(out));
	assert_string_equal(out, "Jane Do");
	calmatch_trim(NULL, out, sizeof(out));
	assert_string_equal(out, "");
	calmatch_trim("\t\n ", out, sizeof(out));
	assert_string_equal(out, "");
	/* A cut never splits a UTF-8 sequence: 7 bytes of "ZoëZoë" would
	 * end inside the second "ë". */
	calmatch_trim("ZoëZoë", out, 8);
	assert_string_equal(out, "ZoëZo");
}

static void test_proposed_from(void **state)
{
	struct calmatch_contact c = { "+15550100123", 1, CALMATCH_DESCRIPTION, NULL };
	char out[2048], longer[1200];
	(void)state;

	calmatch_proposed_from("Front desk", "Jane cut", "2026-12-09", &c, out, sizeof(out));
	assert_string_equal(out, "calendar feed 'Front desk', event 'Jane cut' on 2026-12-09: "
				 "phone +15550100123 in the description");
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	snprintf(c.value, sizeof(c.value), "%s", "a.very.long.address@example.com");
	c.is_phone = 0;
	c.field = CALMATCH_ATTENDEE;
	calmatch_proposed_from("Front\ndesk", "Eve\r\nBcc: x", "2026-12-09", &c, out, sizeof(out));
	assert_string_equal(out, "calendar feed 'Front desk', event 'Eve Bcc: x' on 2026-12-09: "
				 "email a.very.long.address@example.com in the attendees");
	calmatch_proposed_from(longer, longer, "2026-12-09", &c, out, sizeof(out));
	/* The column holds 500 characters. */
	assert_true(strlen(out) <= 500);
	assert_non_null(strstr(out, "...' on 2026-12-09: email a.very.long.address@example.com "
				    "in the attendees"));
}

static void test_client_name(void **state)
{
	struct calmatch_contact c = { "sophie@example.com", 0, CALMATCH_ATTENDEE, "Sophie Turner" };
	char out[201], longer[400];
	(void)state;

	calmatch_client_name("Portrait session", &c, out, sizeof(out));
	assert_string_equal(out, "Sophie Turner");
	c.name = NULL;
	calmatch_client_name("  Portrait session ", &c, out, sizeof(out));
	assert_string_equal(out, "Portrait session");
	calmatch_client_name("   ", &c, out, sizeof(out));
	assert_string_equal(out, "sophie@example.com");
	memset(longer, 'y', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	calmatch_client_name(longer, &c, out, sizeof(out));
	assert_int_equal(strlen(out), 200);
	/* A name is one line: an iCalendar "\\n" (or a control character)
	 * in the summary or the CN becomes a space, so it can never end a
	 * mail header or a log line. */
	calmatch_client_name("Eve\nBcc: victim@example.com\r\n\x01", &c, out, sizeof(out));
	assert_string_equal(out, "Eve Bcc: victim@example.com");
	c.name = "\x01" "Eve\r\nBcc: victim@example.com\x7f";
	calmatch_client_name("x", &c, out, sizeof(out));
	assert_string_equal(out, "Eve Bcc: victim@example.com");
	c.name = "Sophie\n\n  Turner";
	calmatch_client_name("x", &c, out, sizeof(out));
	assert_string_equal(out, "Sophie Turner");
}

static void test_threshold_and_backoff(void **state)
{
	(void)state;
	assert_int_equal(calsync_threshold(0), 20);
	assert_int_equal(calsync_threshold(6), 20);
	assert_int_equal(calsync_threshold(7), 21);
	assert_int_equal(calsync_threshold(180), 540);
	assert_int_equal(calsync_threshold(-1), 20);
	assert_int_equal(calsync_backoff(300, 1), 600);
	assert_int_equal(calsync_backoff(300, 2), 1200);
	assert_int_equal(calsync_backoff(300, 3), 2400);
	assert_int_equal(calsync_backoff(300, 4), 3600);
	assert_int_equal(calsync_backoff(300, 1000), 3600);
	assert_int_equal(calsync_backoff(60, 0), 60);
	assert_int_equal(calsync_backoff(7200, 3), 7200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collect_order),
		cmocka_unit_test(test_collect_duplicates_and_none),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_proposed_from),
		cmocka_unit_test(test_client_name),
		cmocka_unit_test(test_threshold_and_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

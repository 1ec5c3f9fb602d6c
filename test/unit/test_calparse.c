/* Unit tests: calparse_feed, the occurrences of an iCalendar feed in a
 * window (test/fixtures/calendar/ holds exports written like Google's,
 * Outlook's and Apple's). */
#include "unit.h"

#include "calparse.h"
#include "valid.h"
#include "../integration/calfeed_gen.h"

#include <sys/resource.h>
#include <time.h>

#define FIX "test/fixtures/calendar/"

/* "20261208T150000Z" as epoch seconds. */
static long long utc(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	assert_non_null(strptime(s, "%Y%m%dT%H%M%SZ", &tm));
	return (long long)timegm(&tm);
}

static int parse_text(const char *text, const char *tz, const char *from, const char *until,
	size_t max, struct cal_feed *f, char *err)
{
	return calparse_feed(text, strlen(text), tz, utc(from), utc(until), max, f, err, 256);
}

static void parse_file(const char *name, const char *tz, const char *from, const char *until,
	struct cal_feed *f)
{
	char path[256], err[256];
	size_t len;
	char *data;
	snprintf(path, sizeof path, FIX "%s", name);
	data = util_read_file(path, 1 << 20, &len);
	assert_non_null(data);
	if (calparse_feed(data, len, tz, utc(from), utc(until), 10000, f, err, sizeof err) != 0)
		fail_msg("%s: %s", name, err);
	free(data);
}

static const struct cal_occurrence *find(const struct cal_feed *f, const char *uid_prefix,
	const char *rid)
{
	for (size_t i = 0; i < f->n; i++)
		if (strncmp(f->occ[i].uid, uid_prefix, strlen(uid_prefix)) == 0 &&
			strcmp(f->occ[i].recurrence_id, rid) == 0)
			return &f->occ[i];
	return NULL;
}

static void google_basic(void **state)
{
	struct cal_feed f;
	const struct cal_occurrence *o;
	parse_file("google_basic.ics", "Europe/London", "20261207T000000Z", "20270107T000000Z", &f);
	assert_string_equal(f.calendar_tz, "America/New_York");
	assert_int_equal(f.n, 4);
	assert_int_equal(f.all_day, 1);
	assert_int_equal(f.transparent, 1);
	assert_int_equal(f.outside, 0);

	o = &f.occ[0]; /* sorted by start */
	assert_string_equal(o->uid, "5t7m2k0q9v1c3b8n4e6r0a2d1f@google.com");
	assert_string_equal(o->recurrence_id, "");
	assert_int_equal(o->starts_s, utc("20261208T150000Z"));
	assert_int_equal(o->ends_s, utc("20261208T160000Z"));
	assert_string_equal(o->summary, "Jane Doe - cleaning");
	/* unfolded and unescaped */
	assert_string_equal(o->description,
		"Cleaning. Client phone: (555) 010-0123\nBooked by phone, pays cash.");
	assert_string_equal(o->location, "Bright Smile Dental, 12 Main St, Springfield");
	assert_int_equal(o->cancelled, 0);
	assert_int_equal(o->n_attendees, 0);

	o = &f.occ[1];
	assert_string_equal(o->summary, "Consultation: Tom Smith");
	assert_int_equal(o->starts_s, utc("20261209T193000Z"));
	assert_non_null(strstr(o->description, "email tom.smith@example.org"));
	assert_string_equal(o->location, "");

	o = &f.occ[2];
	assert_string_equal(o->summary, "Ana Lopez - whitening");
	assert_int_equal(o->starts_s, utc("20261210T140000Z"));
	assert_int_equal(o->cancelled, 1);

	o = &f.occ[3];
	assert_int_equal(o->starts_s, utc("20261211T150000Z"));
	assert_int_equal(o->ends_s, utc("20261211T153000Z"));
	calparse_free(&f);
	assert_null(f.occ);
	assert_int_equal(f.n, 0);
	calparse_free(&f); /* twice is harmless */

	/* A window that holds none of them: counted as outside. */
	parse_file("google_basic.ics", NULL, "20270101T000000Z", "20270201T000000Z", &f);
	assert_int_equal(f.n, 0);
	assert_int_equal(f.outside, 4);
	calparse_free(&f);
}

static void google_weekly(void **state)
{
	struct cal_feed f;
	const struct cal_occurrence *o;
	static const char *const uid = "1q3s5u7w9y1a3c5e7g9i1k3m5o@google.com";
	static const char *const want[][2] = {
		{ "20261201T210000Z", "20261201T210000Z" },
		{ "20261208T210000Z", "20261208T210000Z" },
		/* 12-15 is an EXDATE */
		{ "20261222T210000Z", "20261222T230000Z" }, /* the override: 16:00 -> 18:00 */
		{ "20261229T210000Z", "20261229T210000Z" },
		{ "20270105T210000Z", "20270105T210000Z" },
		{ "20270112T210000Z", "20270112T210000Z" },
		{ "20270119T210000Z", "20270119T210000Z" },
	};
	parse_file("google_weekly.ics", NULL, "20261201T000000Z", "20270301T000000Z", &f);
	assert_int_equal(f.n, 7);
	for (size_t i = 0; i < 7; i++) {
		o = &f.occ[i];
		assert_string_equal(o->uid, uid);
		assert_string_equal(o->recurrence_id, want[i][0]);
		assert_int_equal(o->starts_s, utc(want[i][1]));
		assert_int_equal(o->ends_s - o->starts_s, 50 * 60);
	}
	assert_non_null(strstr(f.occ[2].description, "moved to 6pm"));
	assert_null(strstr(f.occ[1].description, "moved"));
	/* occurrences of one series share their strings */
	assert_ptr_equal(f.occ[0].summary, f.occ[1].summary);
	calparse_free(&f);

	/* The override's original start (21:00) is before the window, its new
	 * one (23:00) inside: it counts. */
	parse_file("google_weekly.ics", NULL, "20261222T220000Z", "20261223T000000Z", &f);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.occ[0].recurrence_id, "20261222T210000Z");
	assert_int_equal(f.occ[0].starts_s, utc("20261222T230000Z"));
	calparse_free(&f);

	/* Its original start inside, its new one after the window: not there. */
	parse_file("google_weekly.ics", NULL, "20261222T200000Z", "20261222T220000Z", &f);
	assert_int_equal(f.n, 0);
	assert_int_equal(f.outside, 1);
	calparse_free(&f);

	/* The EXDATE's week alone: nothing. */
	parse_file("google_weekly.ics", NULL, "20261214T000000Z", "20261217T000000Z", &f);
	assert_int_equal(f.n, 0);
	calparse_free(&f);

	/* The same feed twice: the same keys. */
	struct cal_feed g;
	parse_file("google_weekly.ics", NULL, "20261201T000000Z", "20270301T000000Z", &f);
	parse_file("google_weekly.ics", NULL, "20261201T000000Z", "20270301T000000Z", &g);
	assert_int_equal(f.n, g.n);
	for (size_t i = 0; i < f.n; i++) {
		assert_string_equal(f.occ[i].uid, g.occ[i].uid);
		assert_string_equal(f.occ[i].recurrence_id, g.occ[i].recurrence_id);
		assert_int_equal(f.occ[i].starts_s, g.occ[i].starts_s);
	}
	calparse_free(&f);
	calparse_free(&g);
	(void)o;
}

static void dst_week(void **state)
{
	struct cal_feed f;
	const struct cal_occurrence *o;
	static const char *const tutoring[][2] = {
		{ "20270302T150000Z", "before the change: EST, UTC-5" },
		{ "20270309T150000Z", "" },
		{ "20270316T140000Z", "after it: EDT, UTC-4" },
		{ "20270323T140000Z", "" },
	};
	static const char *const checkin[] = {
		"20261029T140000Z", /* EDT */
		"20261105T150000Z", /* EST after 2026-11-01 */
		"20261112T150000Z",
	};
	parse_file("dst_week.ics", NULL, "20261001T000000Z", "20270401T000000Z", &f);
	assert_int_equal(f.n, 8);
	for (size_t i = 0; i < 4; i++) {
		o = find(&f, "4d6f8h0j", tutoring[i][0]);
		assert_non_null(o);
		assert_int_equal(o->starts_s, utc(tutoring[i][0]));
		assert_int_equal(o->ends_s - o->starts_s, 3600);
	}
	for (size_t i = 0; i < 3; i++) {
		o = find(&f, "6f8h0j2l", checkin[i]);
		assert_non_null(o);
		assert_int_equal(o->starts_s, utc(checkin[i]));
	}
	o = find(&f, "8h0j2l4n", "");
	assert_non_null(o);
	assert_int_equal(o->starts_s, utc("20270314T070000Z")); /* 03:00 EDT */
	calparse_free(&f);
}

static void outlook_windows_zones(void **state)
{
	struct cal_feed f;
	const struct cal_occurrence *o;
	parse_file("outlook_windows_tz.ics", NULL, "20261201T000000Z", "20270201T000000Z", &f);
	assert_int_equal(f.n, 8);
	assert_string_equal(f.calendar_tz, "");
	o = find(&f, "040000008200E00074C5B7101A82E0080000000010A6", "");
	assert_non_null(o);
	/* the folded UID comes out whole */
	assert_string_equal(o->uid, "040000008200E00074C5B7101A82E0080000000010A6C1D8D463DB0100000000000000"
				    "0010000000C2E9B3F1A4D5E84A9B1C2D3E4F5A6B7C8");
	assert_int_equal(o->starts_s, utc("20261214T143000Z"));
	assert_int_equal(o->ends_s, utc("20261214T151500Z"));
	assert_string_equal(o->description, "Annual review with Maria Garcia. Her cell is 555.010.0188.\n");
	o = find(&f, "040000008200E00074C5B7101A82E00800000000A0F3", "");
	assert_non_null(o);
	assert_int_equal(o->starts_s, utc("20261215T140000Z")); /* 15:00 CET */
	for (int w = 0; w < 6; w++) {
		char rid[17];
		time_t t = (time_t)(utc("20261207T133000Z") + w * 7 * 86400LL);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(rid, sizeof rid, "%Y%m%dT%H%M%SZ", &tm);
		o = find(&f, "040000008200E00074C5B7101A82E00800000000B1E4", rid);
		assert_non_null(o);
		assert_int_equal(o->starts_s, (long long)t);
	}
	calparse_free(&f);
}

static void apple_attendees(void **state)
{
	struct cal_feed f;
	const struct cal_occurrence *o;
	parse_file("apple_attendees.ics", NULL, "20261201T000000Z", "20270101T000000Z", &f);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.calendar_tz, "Europe/London");
	o = &f.occ[0];
	assert_string_equal(o->uid, "8B2C1F4E-3D5A-4F6B-9C7D-1E2F3A4B5C6D");
	assert_int_equal(o->starts_s, utc("20261216T100000Z"));
	assert_string_equal(o->location, "Studio North\n1 Canal St, London");
	assert_int_equal(o->n_attendees, 2);
	assert_string_equal(o->attendees[0].email, "Sophie.Turner@Example.com");
	assert_string_equal(o->attendees[0].name, "Sophie Turner");
	assert_string_equal(o->attendees[1].email, "bookings@studio-north.example");
	o = &f.occ[1];
	assert_int_equal(o->n_attendees, 2);
	assert_string_equal(o->attendees[0].email, "helen.wright@example.co.uk");
	assert_string_equal(o->attendees[0].name, "Helen Wright");
	assert_string_equal(o->attendees[1].email, "tom.wright@example.co.uk");
	assert_null(o->attendees[1].name);
	calparse_free(&f);
}

#define CAL_HEAD "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
#define CAL_TAIL "END:VCALENDAR\r\n"

static void zones(void **state)
{
	struct cal_feed f;
	char err[256];
	/* A Windows name with no VTIMEZONE: the CLDR table. */
	assert_int_equal(parse_text(CAL_HEAD "BEGIN:VEVENT\r\nUID:a\r\n"
			"DTSTART;TZID=Pacific Standard Time:20261214T090000\r\nEND:VEVENT\r\n"
			"BEGIN:VEVENT\r\nUID:b\r\nDTSTART;TZID=\"W. Europe Standard Time\":20260714T090000\r\n"
			"END:VEVENT\r\n" CAL_TAIL,
			NULL, "20260101T000000Z", "20270101T000000Z", 10, &f, err), 0);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.occ[0].starts_s, utc("20260714T070000Z")); /* CEST */
	assert_int_equal(f.occ[1].starts_s, utc("20261214T170000Z")); /* PST */
	assert_int_equal(f.occ[1].ends_s, f.occ[1].starts_s);
	calparse_free(&f);

	/* A vendor prefix before the IANA name. */
	assert_int_equal(parse_text(CAL_HEAD "BEGIN:VEVENT\r\nUID:a\r\n"
			"DTSTART;TZID=/mozilla.org/20050126_1/Europe/Paris:20261214T090000\r\n"
			"DURATION:PT45M\r\nEND:VEVENT\r\n" CAL_TAIL,
			NULL, "20260101T000000Z", "20270101T000000Z", 10, &f, err), 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.occ[0].starts_s, utc("20261214T080000Z"));
	assert_int_equal(f.occ[0].ends_s, utc("20261214T084500Z"));
	calparse_free(&f);

	/* The feed's own VTIMEZONE wins, even over a name the system knows. */
	assert_int_equal(parse_text(CAL_HEAD "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\n"
			"BEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0300\r\n"
			"TZOFFSETTO:+0300\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
			"BEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=Europe/Paris:20261214T090000\r\n"
			"END:VEVENT\r\n" CAL_TAIL,
			NULL, "20260101T000000Z", "20270101T000000Z", 10, &f, err), 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.occ[0].starts_s, utc("20261214T060000Z"));
	calparse_free(&f);

	/* Floating times: X-WR-TIMEZONE, else the business's zone. */
	assert_int_equal(parse_text(CAL_HEAD "X-WR-TIMEZONE:America/Chicago\r\n"
			"BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261214T090000\r\nEND:VEVENT\r\n" CAL_TAIL,
			"Europe/Paris", "20260101T000000Z", "20270101T000000Z", 10, &f, err), 0);
	assert_int_equal(f.occ[0].starts_s, utc("20261214T150000Z"));
	calparse_free(&f);
	assert_int_equal(parse_text(CAL_HEAD
			"BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261214T090000\r\nEND:VEVENT\r\n" CAL_TAIL,
			"Europe/Paris", "20260101T000000Z", "20270101T000000Z", 10, &f, err), 0);
	assert_int_equal(f.occ[0].starts_s, utc("20261214T080000Z"));
	calparse_free(&f);

	/* Unknown: refused, nothing returned. */
	assert_int_equal(parse_text(CAL_HEAD "BEGIN:VEVENT\r\nUID:a\r\n"
			"DTSTART;TZID=Mars Standard Time:20261214T090000\r\nEND:VEVENT\r\n" CAL_TAIL,
			NULL, "20260101T000000Z", "20270101T000000Z", 10, &f, err), -1);
	assert_string_equal(err, "unknown time zone \"Mars Standard Time\"");
	assert_null(f.occ);
	assert_int_equal(parse_text(CAL_HEAD "BEGIN:VEVENT\r\nUID:a\r\n"
			"DTSTART;TZID=../../../etc/passwd:20261214T090000\r\nEND:VEVENT\r\n" CAL_TAIL,
			NULL, "20260101T000000Z", "20270101T000000Z", 10, &f, err), -1);
	assert_int_equal(parse_text(CAL_HEAD CAL_TAIL, "Nowhere/Atlantis", "20260101T000000Z",
			"20270101T000000Z", 10, &f, err), -1);
	assert_non_null(strstr(err, "Nowhere/Atlantis"));

	/* Every zone of the Windows table exists here. */
	static const char *const names[] = { "Eastern Standard Time", "GMT Standard Time",
		"AUS Eastern Standard Time", "India Standard Time", "FLE Standard Time",
		"Greenland Standard Time", "Myanmar Standard Time", "UTC" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char text[512];
		snprintf(text, sizeof text, CAL_HEAD "BEGIN:VEVENT\r\nUID:a\r\n"
			"DTSTART;TZID=%s:20261214T090000\r\nEND:VEVENT\r\n" CAL_TAIL, names[i]);
		if (parse_text(text, NULL, "20260101T000000Z", "20270101T000000Z", 10, &f, err) != 0)
			fail_msg("%s (%s): %s", names[i], calparse_windows_zone(names[i]), err);
		assert_int_equal(f.n, 1);
		calparse_free(&f);
	}
	assert_string_equal(calparse_windows_zone("eastern standard time"), "America/New_York");
	assert_null(calparse_windows_zone("Atlantis Standard Time"));
}

static void recurrences(void **state)
{
	struct cal_feed f;
	char err[256];
	/* RDATE adds, a DATE EXDATE removes that day, COUNT bounds. */
	assert_int_equal(parse_text(CAL_HEAD "BEGIN:VEVENT\r\nUID:r\r\n"
			"DTSTART:20261201T090000Z\r\nDTEND:20261201T093000Z\r\n"
			"RRULE:FREQ=DAILY;COUNT=5\r\nRDATE:20261210T120000Z\r\n"
			"EXDATE;VALUE=DATE:20261203\r\nEND:VEVENT\r\n" CAL_TAIL,
			NULL, "20261201T000000Z", "20270101T000000Z", 100, &f, err), 0);
	assert_int_equal(f.n, 5);
	assert_string_equal(f.occ[0].recurrence_id, "20261201T090000Z");
	assert_string_equal(f.occ[1].recurrence_id, "20261202T090000Z");
	assert_string_equal(f.occ[2].recurrence_id, "20261204T090000Z");
	assert_string_equal(f.occ[4].recurrence_id, "20261210T120000Z");
	assert_int_equal(f.occ[4].ends_s - f.occ[4].starts_s, 1800);
	calparse_free(&f);

	/* A cancelled override of one occurrence; an override whose series is
	 * not in the feed; the same UID twice (the higher SEQUENCE wins). */
	assert_int_equal(parse_text(CAL_HEAD
			"BEGIN:VEVENT\r\nUID:s\r\nDTSTART:20261201T090000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n"
			"SUMMARY:series\r\nEND:VEVENT\r\n"
			"BEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID:20261208T090000Z\r\n"
			"DTSTART:20261208T090000Z\r\nSTATUS:CANCELLED\r\nSUMMARY:off\r\nEND:VEVENT\r\n"
			"BEGIN:VEVENT\r\nUID:orphan\r\nRECURRENCE-ID:20261205T100000Z\r\n"
			"DTSTART:20261205T110000Z\r\nEND:VEVENT\r\n"
			"BEGIN:VEVENT\r\nUID:dup\r\nSEQUENCE:2\r\nDTSTART:20261220T090000Z\r\n"
			"SUMMARY:new\r\nEND:VEVENT\r\n"
			"BEGIN:VEVENT\r\nUID:dup\r\nSEQUENCE:1\r\nDTSTART:20261219T090000Z\r\n"
			"SUMMARY:old\r\nEND:VEVENT\r\n" CAL_TAIL,
			NULL, "20261201T000000Z", "20270101T000000Z", 100, &f, err), 0);
	assert_int_equal(f.n, 5);
	assert_string_equal(f.occ[0].uid, "s");
	assert_int_equal(f.occ[0].cancelled, 0);
	assert_string_equal(f.occ[1].uid, "orphan");
	assert_string_equal(f.occ[1].recurrence_id, "20261205T100000Z");
	assert_int_equal(f.occ[1].starts_s, utc("20261205T110000Z"));
	assert_string_equal(f.occ[2].summary, "off");
	assert_int_equal(f.occ[2].cancelled, 1);
	assert_string_equal(f.occ[2].recurrence_id, "20261208T090000Z");
	assert_string_equal(f.occ[3].recurrence_id, "20261215T090000Z");
	assert_string_equal(f.occ[4].uid, "dup");
	assert_string_equal(f.occ[4].summary, "new");
	calparse_free(&f);

	/* A series that began long ago, without end: only the window. */
	assert_int_equal(parse_text(CAL_HEAD "BEGIN:VEVENT\r\nUID:d\r\n"
			"DTSTART;TZID=America/New_York:20000103T080000\r\nRRULE:FREQ=DAILY\r\n"
			"END:VEVENT\r\n" CAL_TAIL,
			NULL, "20261207T000000Z", "20261214T000000Z", 100, &f, err), 0);
	assert_int_equal(f.n, 7);
	assert_int_equal(f.occ[0].starts_s, utc("20261207T130000Z"));
	calparse_free(&f);

	/* Too many occurrences: refused, and max_occ is the bound. */
	assert_int_equal(parse_text(CAL_HEAD "BEGIN:VEVENT\r\nUID:d\r\n"
			"DTSTART:20261201T000000Z\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n" CAL_TAIL,
			NULL, "20261201T000000Z", "20261231T000000Z", 20, &f, err), -1);
	assert_string_equal(err, "more than 20 occurrences in the window");
	assert_null(f.occ);

	/* Rules that repeat more often than daily: skipped and counted, at
	 * once (libical can spend minutes on "every second in December"). */
	long long t0 = util_now_ms();
	assert_int_equal(parse_text(CAL_HEAD "BEGIN:VEVENT\r\nUID:d\r\n"
			"DTSTART:19900101T000000Z\r\nRRULE:FREQ=SECONDLY;BYMONTH=12\r\nEND:VEVENT\r\n"
			"BEGIN:VEVENT\r\nUID:h\r\nDTSTART:20261201T000000Z\r\nRRULE:FREQ=HOURLY\r\n"
			"END:VEVENT\r\n"
			"BEGIN:VEVENT\r\nUID:ok\r\nDTSTART:20261201T000000Z\r\nEND:VEVENT\r\n" CAL_TAIL,
			NULL, "20261201T000000Z", "20261231T000000Z", 100000, &f, err), 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.unsupported, 2);
	calparse_free(&f);
	/* A rule no date matches: no occurrence, at once. */
	assert_int_equal(parse_text(CAL_HEAD "BEGIN:VEVENT\r\nUID:d\r\n"
			"DTSTART:20000101T000000Z\r\nRRULE:FREQ=MONTHLY;BYMONTH=4,6;BYMONTHDAY=31\r\n"
			"END:VEVENT\r\nBEGIN:VEVENT\r\nUID:e\r\n"
			"DTSTART:20000101T000000Z\r\nRRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30,-30\r\n"
			"END:VEVENT\r\n" CAL_TAIL,
			NULL, "20261201T000000Z", "20261231T000000Z", 100000, &f, err), 0);
	assert_int_equal(f.n, 0);
	assert_int_equal(f.outside, 2);
	calparse_free(&f);
	/* A COUNT that takes too many steps to reach the window: refused. */
	assert_int_equal(parse_text(CAL_HEAD "BEGIN:VEVENT\r\nUID:d\r\n"
			"DTSTART:14000101T000000Z\r\nRRULE:FREQ=DAILY;COUNT=900000\r\nEND:VEVENT\r\n" CAL_TAIL,
			NULL, "20261201T000000Z", "20261231T000000Z", 100000, &f, err), -1);
	assert_non_null(strstr(err, "repeats too often"));
	assert_true(util_now_ms() - t0 < 30000); /* a runaway bound, not a speed claim */
}

/* A series that began years ago is expanded from shortly before the
 * window (fast_forward) with the same result as from its start: the same
 * rule with a COUNT it never reaches is expanded from its start. */
static void old_series(void **state)
{
	static const char *const rules[] = {
		"FREQ=DAILY", "FREQ=DAILY;INTERVAL=3", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH",
		"FREQ=WEEKLY;WKST=SU;INTERVAL=3;BYDAY=SU,SA", "FREQ=WEEKLY", "FREQ=WEEKLY;INTERVAL=5",
		"FREQ=MONTHLY;BYDAY=2TU", "FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=15",
		"FREQ=MONTHLY;BYDAY=-1FR", "FREQ=MONTHLY;INTERVAL=2", "FREQ=DAILY;BYDAY=MO,WE,FR",
		"FREQ=WEEKLY;BYMONTH=1,3", "FREQ=WEEKLY;BYDAY=2TU", "FREQ=DAILY;INTERVAL=7;BYHOUR=9,17",
	};
	static const char *const starts[] = { "20000103T080000", "20150331T233000", "20201115T020000",
		"20240229T100000", "20260309T013000" };
	size_t total = 0;
	for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++)
		for (size_t d = 0; d < sizeof starts / sizeof starts[0]; d++) {
			char a[512], b[512], err[256];
			struct cal_feed fa, fb;
			snprintf(a, sizeof a, CAL_HEAD "BEGIN:VEVENT\r\nUID:x\r\n"
				"DTSTART;TZID=America/New_York:%s\r\nRRULE:%s\r\nEND:VEVENT\r\n" CAL_TAIL,
				starts[d], rules[r]);
			snprintf(b, sizeof b, CAL_HEAD "BEGIN:VEVENT\r\nUID:x\r\n"
				"DTSTART;TZID=America/New_York:%s\r\nRRULE:%s;COUNT=60000\r\n"
				"END:VEVENT\r\n" CAL_TAIL, starts[d], rules[r]);
			if (parse_text(a, NULL, "20261201T000000Z", "20270401T000000Z", 1000, &fa, err) != 0)
				fail_msg("%s from %s: %s", rules[r], starts[d], err);
			if (parse_text(b, NULL, "20261201T000000Z", "20270401T000000Z", 1000, &fb, err) != 0)
				fail_msg("%s;COUNT from %s: %s", rules[r], starts[d], err);
			total += fa.n;
			if (fa.n != fb.n)
				fail_msg("%s from %s: %zu occurrences, %zu from the start", rules[r],
					starts[d], fa.n, fb.n);
			for (size_t i = 0; i < fa.n; i++)
				if (strcmp(fa.occ[i].recurrence_id, fb.occ[i].recurrence_id) != 0)
					fail_msg("%s from %s: %s, from the start %s", rules[r], starts[d],
						fa.occ[i].recurrence_id, fb.occ[i].recurrence_id);
			calparse_free(&fa);
			calparse_free(&fb);
		}
	assert_true(total > 1000);
}

static void invalid(void **state)
{
	struct cal_feed f;
	char err[256];
	char path[] = FIX "invalid.ics";
	size_t len;
	char *data = util_read_file(path, 1 << 20, &len);
	assert_non_null(data);
	assert_int_equal(calparse_feed(data, len, NULL, 0, 4102444800LL, 100, &f, err, sizeof err), -1);
	assert_non_null(strstr(err, "invalid iCalendar"));
	assert_null(f.occ);
	assert_int_equal(f.n, 0);
	free(data);

	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "", "not a calendar" },
		{ "<html><body>Sign in</body></html>", "not a calendar" },
		{ "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261201T000000Z\r\nEND:VEVENT\r\n", "not a calendar" },
		{ CAL_HEAD "BEGIN:VEVENT\r\nDTSTART:20261201T000000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\n" CAL_TAIL,
			"an event has no UID (SUMMARY x)" },
		{ CAL_HEAD "BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:x\r\nEND:VEVENT\r\n" CAL_TAIL,
			"an event has no DTSTART (UID a)" },
		{ CAL_HEAD "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261201T000000Z\r\nRRULE:FREQ=SOMETIMES\r\n"
			  "END:VEVENT\r\n" CAL_TAIL, "invalid iCalendar" },
		{ CAL_HEAD "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261201T000000Z\r\nEND:VEVENT\r\n" CAL_TAIL
			CAL_HEAD CAL_TAIL, "not a calendar" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = parse_text(bad[i].text, NULL, "20260101T000000Z", "20270101T000000Z", 10, &f, err);
		if (rc != -1 || strstr(err, bad[i].want) == NULL)
			fail_msg("case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err, bad[i].want);
		assert_null(f.occ);
	}
	/* The reason is one line of text even when the feed's UID is cut in
	 * the middle of a character. */
	char text[1024];
	snprintf(text, sizeof text, CAL_HEAD "BEGIN:VEVENT\r\nUID:x%s\r\nSUMMARY:x\r\nEND:VEVENT\r\n" CAL_TAIL,
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	assert_int_equal(parse_text(text, NULL, "20260101T000000Z", "20270101T000000Z", 10, &f, err), -1);
	assert_non_null(strstr(err, "an event has no DTSTART (UID x\xc3\xa9"));
	assert_non_null(strstr(err, "\xc3\xa9?)")); /* the cut character */
	assert_true(valid_utf8(err, strlen(err)));
	assert_null(strchr(err, '\n'));
	/* A NUL byte inside. */
	static const char nul[] = CAL_HEAD "BEGIN:VEVENT\r\nUID:a\0b\r\nEND:VEVENT\r\n" CAL_TAIL;
	assert_int_equal(calparse_feed(nul, sizeof nul - 1, NULL, 0, 4102444800LL, 10, &f, err,
				 sizeof err), -1);
	/* Text that is not UTF-8 comes out as UTF-8; control characters as spaces. */
	assert_int_equal(parse_text(CAL_HEAD "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261201T000000Z\r\n"
			"SUMMARY:Caf\xe9 \xc3\xa9t\xc3\xa9\x01!\r\nEND:VEVENT\r\n" CAL_TAIL,
			NULL, "20260101T000000Z", "20270101T000000Z", 10, &f, err), 0);
	assert_string_equal(f.occ[0].summary, "Caf? \xc3\xa9t\xc3\xa9 !");
	calparse_free(&f);
}

static long rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static long long cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The sanitizers make everything several times slower. */
#if defined(__SANITIZE_ADDRESS__)
#define CPU_MS_MAX 5000
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CPU_MS_MAX 5000
#endif
#endif
#ifndef CPU_MS_MAX
#define CPU_MS_MAX 1000
#endif

static void big_feed(void **state)
{
	struct cal_feed f;
	char err[256];
	size_t len;
	long long start = utc("20261208T130000Z");
	char *data = calfeed_gen(0, 5000, start, 600, &len);
	long before = rss_kb();
	long long t0 = cpu_ms();

	if (calparse_feed(data, len, NULL, start, start + 5000LL * 600, 20000, &f, err, sizeof err) != 0)
		fail_msg("%s", err);
	long long ms = cpu_ms() - t0;
	assert_int_equal(f.n, 5000);
	assert_string_equal(f.occ[42].uid, "gen-42@ringfence.test");
	assert_int_equal(f.occ[42].starts_s, start + 42 * 600);
	assert_int_equal(f.occ[42].ends_s, start + 42 * 600 + 1800);
	assert_non_null(strstr(f.occ[42].description, "+1 555 0000042"));
	calparse_free(&f);
	/* Well under a second of CPU (five with the sanitizers), and memory a
	 * few times the feed. */
	print_message("5000 events (%zu bytes): %lld ms of CPU, peak RSS +%ld kB\n", len, ms,
		rss_kb() - before);
	assert_true(ms < CPU_MS_MAX);
	assert_true(rss_kb() - before < 200 * 1024);

	/* The same feed grown by 500: the first 5,000 keep their keys. */
	free(data);
	data = calfeed_gen(0, 5500, start, 600, &len);
	assert_int_equal(calparse_feed(data, len, NULL, start, start + 5500LL * 600, 20000, &f, err,
				 sizeof err), 0);
	assert_int_equal(f.n, 5500);
	assert_string_equal(f.occ[4999].uid, "gen-4999@ringfence.test");
	calparse_free(&f);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(google_basic),
		cmocka_unit_test(google_weekly),
		cmocka_unit_test(dst_week),
		cmocka_unit_test(outlook_windows_zones),
		cmocka_unit_test(apple_attendees),
		cmocka_unit_test(zones),
		cmocka_unit_test(recurrences),
		cmocka_unit_test(old_series),
		cmocka_unit_test(invalid),
		cmocka_unit_test(big_feed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The calendar sync (`ringfence calsync`) against the live stack: feeds
 * written like real exports are served by bin/http-fixture (started
 * here on a socket of its own), synced with `calsync --feed N` at a
 * fixed RINGFENCE_NOW, and checked in the database: the appointments and
 * their local times, a second sync that changes nothing, moved and
 * deleted occurrences, the DST week, 5,000 events in bounded time and
 * memory, the mass-change guard and its approval, feeds that fail, and a
 * proposed client nobody contacts until a person confirms it. */
#include "harness.h"
#include "groups.h"

#include "buf.h"
#include "calfeed_gen.h"
#include "clock.h"
#include "rfc3339.h"
#include "util.h"
#include "valid.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *bin;
static char dir[64];
static int port;
static pid_t fixture_pid;

/* ---- the feed server ---------------------------------------------------- */

static int fixture_start(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0 ||
		getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		close(fd);
		return -1;
	}
	port = ntohs(sa.sin_port);
	fixture_pid = fork();
	if (fixture_pid == 0) {
		char fds[16];
		setpgid(0, 0);
		snprintf(fds, sizeof(fds), "%d", fd);
		execl("bin/http-fixture", "bin/http-fixture", "--fd", fds, "--dir", dir, (char *)NULL);
		_exit(127);
	}
	close(fd);
	return fixture_pid > 0 ? 0 : -1;
}

static int group_setup(void **state)
{
	if (hx_group_setup(state) != 0)
		return -1;
	bin = hx_ringfence_bin("calsync");
	if (bin == NULL)
		return -1;
	if (access("bin/http-fixture", X_OK) != 0) {
		fprintf(stderr, "# calsync: bin/http-fixture is not built (make bin/http-fixture)\n");
		return -1;
	}
	snprintf(dir, sizeof(dir), "/tmp/rf-calsync-feeds-XXXXXX");
	if (mkdtemp(dir) == NULL || fixture_start() < 0) {
		fprintf(stderr, "# calsync: cannot start the feed server: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	if (fixture_pid > 0) {
		kill(-fixture_pid, SIGTERM);
		kill(fixture_pid, SIGTERM);
		hx_wait_child(fixture_pid, 10);
	}
	if (dir[0]) {
		char *cmd = xasprintf("rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# calsync: could not remove %s\n", dir);
		free(cmd);
	}
	return hx_group_teardown(state);
}

/* Serves data as DIR/name (written aside and renamed into place). */
static void serve_or_fail(const char *name, const char *data, size_t len)
{
	char *tmp = xasprintf("%s/.%s.tmp", dir, name), *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(tmp, "wb");

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0 || rename(tmp, path) != 0)
		fail_msg("cannot write the feed %s: %s", path, strerror(errno));
	free(tmp);
	free(path);
}

/* The fixture test/fixtures/calendar/name, malloc'd. */
static char *fixture_or_fail(const char *name, size_t *len)
{
	char *path = xasprintf("test/fixtures/calendar/%s", name);
	char *s = util_read_file(path, 1 << 20, len);

	if (s == NULL)
		fail_msg("cannot read %s", path);
	free(path);
	return s;
}

static void serve_fixture_or_fail(const char *as, const char *name)
{
	size_t len;
	char *s = fixture_or_fail(name, &len);
	serve_or_fail(as, s, len);
	free(s);
}

/* s with every `from` replaced by `to` (at least one must be there). */
static char *replace_or_fail(const char *s, const char *from, const char *to)
{
	struct buf b = BUF_INIT;
	const char *p = s, *hit;
	char *res;
	int n = 0;

	while ((hit = strstr(p, from)) != NULL) {
		buf_append(&b, p, (size_t)(hit - p));
		buf_append(&b, to, strlen(to));
		p = hit + strlen(from);
		n++;
	}
	buf_append(&b, p, strlen(p));
	if (n == 0)
		fail_msg("'%s' is not in the feed", from);
	res = xstrdup(buf_str(&b));
	buf_free(&b);
	return res;
}

/* ---- rows ------------------------------------------------------------------ */

struct biz {
	char id[24];
	char feed[24];
	char file[64];
};

/* A business in time zone tz with default country country (NULL: none),
 * open all day, and a feed served as a file of its own. */
static void biz_or_fail(struct biz *b, const char *tz, const char *country)
{
	char hex[9], *v;
	char *name, *url;

	hx_random_hex(hex, 4);
	name = xasprintf("Calendar %s", hex);
	{
		const char *p[] = { name, tz, country };
		v = hx_db_value_or_fail(
			"INSERT INTO businesses (name, time_zone, callback_phone, status, verified,"
			" window_start, window_end, twilio_from, country)"
			" VALUES ($1, $2, '+15005550006', 'active', true, '00:00', '23:59:59',"
			" '+15005550006', $3) RETURNING id", 3, p);
	}
	snprintf(b->id, sizeof(b->id), "%s", v);
	free(v);
	snprintf(b->file, sizeof(b->file), "feed-%s.ics", hex);
	url = xasprintf("http://127.0.0.1:%d/%s", port, b->file);
	{
		const char *p[] = { b->id, url };
		v = hx_db_value_or_fail(
			"INSERT INTO calendar_feeds (business_id, name, url, created_by)"
			" VALUES ($1::bigint, 'Front desk', $2, 'test') RETURNING id", 2, p);
	}
	snprintf(b->feed, sizeof(b->feed), "%s", v);
	free(v);
	free(name);
	free(url);
}

/* Points the feed at path on the feed server. */
static void feed_url_or_fail(const struct biz *b, const char *path)
{
	char *url = xasprintf("http://127.0.0.1:%d%s", port, path);
	const char *p[] = { b->feed, url };
	hx_db_cmd_or_fail("UPDATE calendar_feeds SET url = $2 WHERE id = $1::bigint", 2, p);
	free(url);
}

static long long count_or_fail(const char *sql, const char *id)
{
	const char *p[] = { id };
	return hx_db_int_or_fail(sql, 1, p);
}

/* The business's appointments of the client that who (SQL on clients c)
 * names, at local (YYYY-MM-DD HH24:MI) in zone tz. */
static long long appts_at(const struct biz *b, const char *who, const char *tz, const char *local)
{
	char *sql = xasprintf("SELECT count(*) FROM appointments a JOIN clients c"
		" ON c.id = a.client_id WHERE a.business_id = $1::bigint AND %s"
		" AND to_char(a.starts_at AT TIME ZONE $2, 'YYYY-MM-DD HH24:MI') = $3", who);
	const char *p[] = { b->id, tz, local };
	long long n = hx_db_int_or_fail(sql, 3, p);
	free(sql);
	return n;
}

static long long appts(const struct biz *b, const char *status)
{
	const char *p[] = { b->id, status };
	return hx_db_int_or_fail("SELECT count(*) FROM appointments WHERE business_id = $1::bigint"
		" AND ($2::text IS NULL OR status = $2)", 2, p);
}

static char *feed_col(const struct biz *b, const char *col)
{
	char *sql = xasprintf("SELECT %s::text FROM calendar_feeds WHERE id = $1::bigint", col);
	const char *p[] = { b->feed };
	char *v = hx_db_value_or_fail(sql, 1, p);
	free(sql);
	return v;
}

/* The local start "YYYY-MM-DD HH24:MI" in the business's zone of the
 * appointment of the event uid/rid. */
static char *local_start(const struct biz *b, const char *uid, const char *rid)
{
	const char *p[] = { b->feed, uid, rid };
	return hx_db_value_or_fail(
		"SELECT to_char(a.starts_at AT TIME ZONE bz.time_zone, 'YYYY-MM-DD HH24:MI')"
		" FROM calendar_events e JOIN appointments a ON a.id = e.appointment_id"
		" JOIN businesses bz ON bz.id = a.business_id"
		" WHERE e.feed_id = $1::bigint AND e.uid = $2 AND e.recurrence_id = $3", 3, p);
}

static void local_start_is(const struct biz *b, const char *uid, const char *rid,
	const char *want)
{
	char *got = local_start(b, uid, rid);
	if (got == NULL || strcmp(got, want) != 0)
		fail_msg("event %s %s: local start %s, want %s", uid, rid, got ? got : "(none)", want);
	free(got);
}

/* ---- running calsync -------------------------------------------------------- */

/* `calsync --feed` at now (RFC 3339; NULL: the real clock); its exit
 * status, its output in out. */
static int sync_feed(const struct biz *b, const char *now, struct buf *out)
{
	char *cmd;
	int rc;

	buf_reset(out);
	if (now)
		cmd = xasprintf("RINGFENCE_NOW=%s '%s' calsync --feed %s 2>&1", now, bin, b->feed);
	else
		cmd = xasprintf("env -u RINGFENCE_NOW '%s' calsync --feed %s 2>&1", bin, b->feed);
	rc = hx_shell(cmd, out, 300);
	free(cmd);
	return rc;
}

static void sync_ok_or_fail(const struct biz *b, const char *now, const char *status)
{
	struct buf out = BUF_INIT;
	char *want = xasprintf("feed %s: %s", b->feed, status);
	int rc = sync_feed(b, now, &out);

	if (rc != 0 || strstr(buf_str(&out), want) == NULL)
		fail_msg("calsync --feed %s: exit %d, want '%s':\n%s", b->feed, rc, want,
			buf_str(&out));
	free(want);
	buf_free(&out);
}

/* The sync of a broken feed: non-zero, last_status failed with a reason
 * containing why, and nothing else changed. */
static void sync_fails_or_fail(const struct biz *b, const char *now, const char *why)
{
	struct buf out = BUF_INIT;
	int rc = sync_feed(b, now, &out);
	char *status, *err;

	if (rc == 0)
		fail_msg("calsync --feed %s succeeded on a broken feed:\n%s", b->feed, buf_str(&out));
	status = feed_col(b, "last_status");
	err = feed_col(b, "last_error");
	if (status == NULL || strcmp(status, "failed") != 0 || err == NULL ||
		strcasestr(err, why) == NULL)
		fail_msg("feed %s: status %s, error '%s', want failed with '%s' (output: %s)", b->feed,
			status ? status : "(null)", err ? err : "(null)", why, buf_str(&out));
	free(status);
	free(err);
	buf_free(&out);
}

/* A snapshot of what a sync may change. */
struct snap {
	long long appts, booked, reminders, pending, events, clients;
	char appts_updated[48], events_updated[48], reminders_updated[48];
};

static void snap_or_fail(const struct biz *b, struct snap *s)
{
	const char *p[] = { b->id };
	PGresult *r = hx_db_exec_or_fail(
		"SELECT (SELECT count(*) FROM appointments WHERE business_id = $1::bigint),"
		" (SELECT count(*) FROM appointments WHERE business_id = $1::bigint AND status = 'booked'),"
		" (SELECT count(*) FROM reminders WHERE business_id = $1::bigint),"
		" (SELECT count(*) FROM reminders WHERE business_id = $1::bigint AND status = 'pending'),"
		" (SELECT count(*) FROM calendar_events WHERE business_id = $1::bigint),"
		" (SELECT count(*) FROM clients WHERE business_id = $1::bigint),"
		" COALESCE((SELECT max(updated_at)::text FROM appointments WHERE business_id = $1::bigint), ''),"
		" COALESCE((SELECT max(updated_at)::text FROM calendar_events WHERE business_id = $1::bigint), ''),"
		" COALESCE((SELECT max(updated_at)::text FROM reminders WHERE business_id = $1::bigint), '')",
		1, p);
	s->appts = atoll(PQgetvalue(r, 0, 0));
	s->booked = atoll(PQgetvalue(r, 0, 1));
	s->reminders = atoll(PQgetvalue(r, 0, 2));
	s->pending = atoll(PQgetvalue(r, 0, 3));
	s->events = atoll(PQgetvalue(r, 0, 4));
	s->clients = atoll(PQgetvalue(r, 0, 5));
	snprintf(s->appts_updated, sizeof(s->appts_updated), "%s", PQgetvalue(r, 0, 6));
	snprintf(s->events_updated, sizeof(s->events_updated), "%s", PQgetvalue(r, 0, 7));
	snprintf(s->reminders_updated, sizeof(s->reminders_updated), "%s", PQgetvalue(r, 0, 8));
	PQclear(r);
}

static void snap_same_or_fail(const struct snap *a, const struct snap *b, const char *what)
{
	if (a->appts != b->appts || a->booked != b->booked || a->reminders != b->reminders ||
		a->pending != b->pending || a->events != b->events || a->clients != b->clients ||
		strcmp(a->appts_updated, b->appts_updated) != 0 ||
		strcmp(a->events_updated, b->events_updated) != 0 ||
		strcmp(a->reminders_updated, b->reminders_updated) != 0)
		fail_msg("%s changed something: appointments %lld/%lld, booked %lld/%lld, reminders "
			 "%lld/%lld, pending %lld/%lld, events %lld/%lld, clients %lld/%lld, updated "
			 "%s/%s %s/%s %s/%s",
			what, a->appts, b->appts, a->booked, b->booked, a->reminders, b->reminders,
			a->pending, b->pending, a->events, b->events, a->clients, b->clients,
			a->appts_updated, b->appts_updated, a->events_updated, b->events_updated,
			a->reminders_updated, b->reminders_updated);
}

static void approve_or_fail(const struct biz *b)
{
	const char *p[] = { b->feed };
	long long n = hx_db_int_or_fail(
		"WITH u AS (UPDATE calendar_holds SET decision = 'approved', decided_at = now(),"
		" decided_by = 'owner@example.com' WHERE feed_id = $1::bigint AND decision IS NULL"
		" AND applied_at IS NULL RETURNING id) SELECT count(*) FROM u", 1, p);
	if (n != 1)
		fail_msg("feed %s: %lld open holds to approve, want 1", b->feed, n);
}

#define NOW_DEC "2026-12-01T12:00:00Z"
#define UID_JANE "5t7m2k0q9v1c3b8n4e6r0a2d1f@google.com"
#define UID_TOM "0hq4c2l8p1s6t9u3v5w7x0y2z4@google.com"
#define UID_ANA "3c5e7g9i1k3m5o7q9s1u3w5y7a@google.com"
#define UID_RAJ "9d1f3h5j7l9n1p3r5t7v9x1z3b@google.com"
#define UID_WEEKLY "1q3s5u7w9y1a3c5e7g9i1k3m5o@google.com"

/* ---- tests --------------------------------------------------------------------- */

/* Google's export: an existing client found by the phone in the
 * description, new clients proposed (unconfirmed) from a UK number and a
 * tel: URI, the all-day and free events skipped, the cancelled one kept
 * without an appointment; the right local times; the same feed again
 * changes nothing; the audit has the counts and never the address. */
static void test_google(void **state)
{
	struct biz b;
	struct snap s1, s2;
	char *v, key[64], err[256];
	json_t *recs;
	(void)state;

	biz_or_fail(&b, "America/New_York", "US");
	hx_db_cmd_or_fail("INSERT INTO clients (business_id, name, phone) VALUES ($1::bigint,"
		" 'Jane Doe', '+15550100123')", 1, (const char *[]){ b.id });
	serve_fixture_or_fail(b.file, "google_basic.ics");
	sync_ok_or_fail(&b, NOW_DEC, "ok");

	assert_int_equal(appts(&b, "booked"), 3);
	local_start_is(&b, UID_JANE, "", "2026-12-08 10:00");
	local_start_is(&b, UID_TOM, "", "2026-12-09 14:30");
	local_start_is(&b, UID_RAJ, "", "2026-12-11 10:00");
	/* Jane is the existing client, not a new one. */
	assert_int_equal(count_or_fail("SELECT count(*) FROM clients WHERE business_id = $1::bigint"
		" AND phone = '+15550100123'", b.id), 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_events e JOIN clients c"
		" ON c.id = e.client_id WHERE e.business_id = $1::bigint AND c.name = 'Jane Doe'"
		" AND c.proposed_at IS NULL AND e.contact LIKE '%+15550100123%description%'", b.id), 1);
	/* Tom and Raj are proposed, unconfirmed, from the feed's name. */
	assert_int_equal(count_or_fail("SELECT count(*) FROM clients WHERE business_id = $1::bigint"
		" AND proposed_at IS NOT NULL AND confirmed_at IS NULL"
		" AND phone IN ('+442079460958', '+15550100177')"
		" AND proposed_from LIKE 'calendar feed ''Front desk'', event %'"
		" AND proposed_from NOT LIKE '%127.0.0.1%'", b.id), 2);
	v = hx_db_value_or_fail("SELECT proposed_from FROM clients WHERE business_id = $1::bigint"
		" AND phone = '+442079460958'", 1, (const char *[]){ b.id });
	if (v == NULL || strcmp(v, "calendar feed 'Front desk', event 'Consultation: Tom Smith' on "
			     "2026-12-09: phone +442079460958 in the description") != 0)
		fail_msg("proposed_from: %s", v ? v : "(null)");
	free(v);
	/* The cancelled event has a row and no appointment; the all-day and
	 * free ones have nothing. */
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_events WHERE feed_id = $1::bigint"
		" AND uid = '" UID_ANA "' AND state = 'cancelled' AND appointment_id IS NULL", b.feed), 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_events WHERE feed_id = $1::bigint",
		b.feed), 4);
	v = feed_col(&b, "events_in_feed");
	assert_string_equal(v, "4");
	free(v);
	assert_true(count_or_fail("SELECT count(*) FROM reminders WHERE business_id = $1::bigint"
		" AND status = 'pending'", b.id) >= 6);

	/* The same feed again: nothing changes (a 304), and again with the
	 * conditional GET lost: the same content is still nothing. */
	snap_or_fail(&b, &s1);
	sync_ok_or_fail(&b, NOW_DEC, "not_modified");
	snap_or_fail(&b, &s2);
	snap_same_or_fail(&s1, &s2, "a second sync (304)");
	hx_db_cmd_or_fail("UPDATE calendar_feeds SET etag = NULL, last_modified = NULL"
		" WHERE id = $1::bigint", 1, (const char *[]){ b.feed });
	sync_ok_or_fail(&b, NOW_DEC, "not_modified");
	snap_or_fail(&b, &s2);
	snap_same_or_fail(&s1, &s2, "a third sync (same content)");
	/* A day later the content is expanded again; still nothing changes. */
	sync_ok_or_fail(&b, "2026-12-02T13:00:00Z", "ok");
	snap_or_fail(&b, &s2);
	snap_same_or_fail(&s1, &s2, "the daily re-read of the same content");

	snprintf(key, sizeof(key), "audit:business:%s", b.id);
	recs = hx_audit_read(key, 0, err, sizeof(err));
	if (recs == NULL)
		fail_msg("audit: %s", err);
	assert_true(hx_audit_count(recs, "kind", "calendar", "status", "ok", NULL) >= 1);
	assert_true(hx_audit_count(recs, "kind", "calendar", "status", "not_modified", NULL) >= 2);
	{
		char *all = json_dumps(recs, JSON_COMPACT);
		if (strstr(all, b.file) != NULL)
			fail_msg("the audit holds the feed's address: %s", all);
		free(all);
	}
	json_decref(recs);
}

/* Outlook: Windows zone names; a series with no contact is listed as
 * such, with no appointment. */
static void test_outlook(void **state)
{
	struct biz b;
	(void)state;

	biz_or_fail(&b, "America/New_York", "US");
	serve_fixture_or_fail(b.file, "outlook_windows_tz.ics");
	sync_ok_or_fail(&b, NOW_DEC, "ok");
	assert_int_equal(appts(&b, "booked"), 2);
	assert_int_equal(appts_at(&b, "c.phone = '+15550100188'", "America/New_York",
		"2026-12-14 09:30"), 1);
	/* 15:00 in Berlin is 09:00 in New York. */
	assert_int_equal(appts_at(&b, "c.phone = '+49301234567'", "Europe/Berlin",
		"2026-12-15 15:00"), 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_events WHERE feed_id = $1::bigint"
		" AND state = 'no_contact' AND appointment_id IS NULL AND summary = 'Staff meeting'"
		" AND contact LIKE 'no phone number or email%'", b.feed), 6);
}

/* Apple: an attendee's email proposes a client named by its CN; a UK
 * national number with the business's country GB. */
static void test_apple(void **state)
{
	struct biz b;
	(void)state;

	biz_or_fail(&b, "Europe/London", "GB");
	serve_fixture_or_fail(b.file, "apple_attendees.ics");
	sync_ok_or_fail(&b, NOW_DEC, "ok");
	assert_int_equal(appts(&b, "booked"), 2);
	assert_int_equal(appts_at(&b, "c.name = 'Sophie Turner' AND lower(c.email) ="
		" 'sophie.turner@example.com' AND c.confirmed_at IS NULL", "Europe/London",
		"2026-12-16 10:00"), 1);
	assert_int_equal(appts_at(&b, "c.phone = '+447700900123'", "Europe/London",
		"2026-12-17 14:00"), 1);
}

/* A business that confirms proposed clients automatically (its setting). */
static void test_auto_confirm(void **state)
{
	struct biz b;
	(void)state;

	biz_or_fail(&b, "America/New_York", "US");
	hx_db_cmd_or_fail("UPDATE businesses SET auto_confirm_clients = true WHERE id = $1::bigint",
		1, (const char *[]){ b.id });
	serve_fixture_or_fail(b.file, "google_basic.ics");
	sync_ok_or_fail(&b, NOW_DEC, "ok");
	assert_int_equal(count_or_fail("SELECT count(*) FROM clients WHERE business_id = $1::bigint"
		" AND proposed_at IS NOT NULL AND confirmed_at IS NOT NULL"
		" AND confirmed_by = 'automatic (business setting)'", b.id), 3);
}

/* A weekly series: one client shared by every occurrence (the number
 * proposed once), the EXDATE left out, the override moved two hours;
 * then one occurrence deleted and another moved: only those change. */
static void test_weekly(void **state)
{
	struct biz b;
	size_t len;
	char *feed, *feed2, *feed3;
	const char *now = "2026-11-30T12:00:00Z";
	(void)state;

	biz_or_fail(&b, "America/New_York", "US");
	serve_fixture_or_fail(b.file, "google_weekly.ics");
	sync_ok_or_fail(&b, now, "ok");
	assert_int_equal(appts(&b, "booked"), 7);
	assert_int_equal(count_or_fail("SELECT count(*) FROM clients WHERE business_id = $1::bigint",
		b.id), 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_events WHERE feed_id = $1::bigint"
		" AND recurrence_id = '20261215T210000Z'", b.feed), 0);
	local_start_is(&b, UID_WEEKLY, "20261201T210000Z", "2026-12-01 16:00");
	local_start_is(&b, UID_WEEKLY, "20261222T210000Z", "2026-12-22 18:00");
	local_start_is(&b, UID_WEEKLY, "20270119T210000Z", "2027-01-19 16:00");

	/* Delete 29 December (an EXDATE) and move 5 January to 17:00. */
	feed = fixture_or_fail("google_weekly.ics", &len);
	feed2 = replace_or_fail(feed, "EXDATE;TZID=America/New_York:20261215T160000",
		"EXDATE;TZID=America/New_York:20261215T160000,20261229T160000");
	feed3 = replace_or_fail(feed2, "END:VCALENDAR",
		"BEGIN:VEVENT\r\n"
		"DTSTART;TZID=America/New_York:20270105T170000\r\n"
		"DTEND;TZID=America/New_York:20270105T175000\r\n"
		"DTSTAMP:20261130T090000Z\r\n"
		"UID:" UID_WEEKLY "\r\n"
		"RECURRENCE-ID;TZID=America/New_York:20270105T160000\r\n"
		"DESCRIPTION:Weekly physio. Mark Evans\\, 555-010-0155\r\n"
		"STATUS:CONFIRMED\r\n"
		"SUMMARY:Mark Evans - physio\r\n"
		"END:VEVENT\r\n"
		"END:VCALENDAR");
	serve_or_fail(b.file, feed3, strlen(feed3));
	sync_ok_or_fail(&b, now, "ok");
	assert_int_equal(appts(&b, "booked"), 6);
	assert_int_equal(appts(&b, "cancelled"), 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_events e JOIN appointments a"
		" ON a.id = e.appointment_id WHERE e.feed_id = $1::bigint AND e.state = 'gone'"
		" AND e.recurrence_id = '20261229T210000Z' AND a.status = 'cancelled'", b.feed), 1);
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_events WHERE feed_id = $1::bigint"
		" AND state = 'active'", b.feed), 6);
	local_start_is(&b, UID_WEEKLY, "20270105T210000Z", "2027-01-05 17:00");
	local_start_is(&b, UID_WEEKLY, "20261222T210000Z", "2026-12-22 18:00");
	/* The cancelled one has no pending reminder; the moved one has a new
	 * plan (the old rows superseded). */
	assert_int_equal(count_or_fail("SELECT count(*) FROM reminders r JOIN calendar_events e"
		" ON e.appointment_id = r.appointment_id WHERE e.feed_id = $1::bigint"
		" AND e.recurrence_id = '20261229T210000Z' AND r.status = 'pending'", b.feed), 0);
	assert_true(count_or_fail("SELECT count(*) FROM reminders r JOIN calendar_events e"
		" ON e.appointment_id = r.appointment_id WHERE e.feed_id = $1::bigint"
		" AND e.recurrence_id = '20270105T210000Z' AND r.superseded_at IS NOT NULL", b.feed) >= 1);
	free(feed);
	free(feed2);
	free(feed3);
}

/* The week of the March change: 10:00 stays 10:00 in New York. */
static void test_dst(void **state)
{
	struct biz b;
	static const char *const rid[] = { "20270302T150000Z", "20270309T150000Z",
		"20270316T140000Z", "20270323T140000Z" };
	static const char *const want[] = { "2027-03-02 10:00", "2027-03-09 10:00",
		"2027-03-16 10:00", "2027-03-23 10:00" };
	(void)state;

	biz_or_fail(&b, "America/New_York", "US");
	serve_fixture_or_fail(b.file, "dst_week.ics");
	sync_ok_or_fail(&b, "2027-03-01T12:00:00Z", "ok");
	for (size_t i = 0; i < 4; i++)
		local_start_is(&b, "4d6f8h0j2l4n6p8r0t2v4x6z8b@google.com", rid[i], want[i]);
	assert_int_equal(appts(&b, NULL), 4);
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_events WHERE feed_id = $1::bigint"
		" AND state = 'no_contact'", b.feed), 1);
}

/* `calsync --feed` at now, its peak RSS (KiB) and its time (ms). */
static int sync_measured(const struct biz *b, const char *now, long *rss_kb, long long *ms)
{
	struct rusage ru;
	long long t0 = hx_now_ms();
	int st = 0;
	pid_t pid = fork();

	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		setenv("RINGFENCE_NOW", now, 1);
		/* Under AddressSanitizer (make SAN=1) freed memory is kept in
		 * a quarantine of 256 MB by default, which would be measured
		 * as the program's own; a small one measures the program. */
		{
			const char *ao = getenv("ASAN_OPTIONS");
			char *opts = xasprintf("%s%squarantine_size_mb=8", ao ? ao : "",
				ao && ao[0] ? ":" : "");
			setenv("ASAN_OPTIONS", opts, 1);
			free(opts);
		}
		execl(bin, bin, "calsync", "--feed", b->feed, (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	memset(&ru, 0, sizeof(ru));
	for (;;) {
		pid_t w = wait4(pid, &st, WNOHANG, &ru);
		if (w == pid)
			break;
		if (w < 0 || hx_now_ms() - t0 > 300000) {
			kill(pid, SIGKILL);
			wait4(pid, &st, 0, &ru);
			return -1;
		}
		hx_sleep_ms(50);
	}
	*ms = hx_now_ms() - t0;
	*rss_kb = ru.ru_maxrss;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* 5,000 events: held at first (far more than 20 reminders at once for a
 * new business), applied once approved, in bounded time and memory; the
 * same feed grown by 500 events at once is held again and nothing is
 * applied until approved. */
static void test_big_feed(void **state)
{
	struct biz b;
	struct snap s1, s2;
	const char *now = NOW_DEC;
	long long now_s, ms;
	long rss;
	size_t len, len2;
	char *feed, *more, *grown, *v;
	int rc;
	(void)state;

	assert_int_equal(rfc3339_parse(now, &now_s), 0);
	biz_or_fail(&b, "America/New_York", "US");
	feed = calfeed_gen(0, 5000, now_s + 86400, 1000, &len);
	serve_or_fail(b.file, feed, len);
	rc = sync_measured(&b, now, &rss, &ms);
	assert_int_equal(rc, 0);
	v = feed_col(&b, "last_status");
	assert_string_equal(v, "held");
	free(v);
	assert_int_equal(appts(&b, NULL), 0);
	assert_int_equal(count_or_fail("SELECT count(*) FROM clients WHERE business_id = $1::bigint",
		b.id), 0);
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_holds WHERE feed_id = $1::bigint"
		" AND decision IS NULL AND creates >= 5000 AND threshold = 20"
		" AND jsonb_array_length(preview) = 200 AND reason LIKE 'would change %'", b.feed), 1);

	approve_or_fail(&b);
	rc = sync_measured(&b, now, &rss, &ms);
	assert_int_equal(rc, 0);
	print_message("# calsync: 5,000 events applied in %lld ms, peak RSS %ld KiB\n", ms, rss);
	/* Runaway bounds, not a performance claim: the machine may be
	 * shared and loaded. */
	if (rss > 200 * 1024 || ms > 150000)
		fail_msg("5,000 events: %lld ms and %ld KiB (bounds 150 s, 200 MiB)", ms, rss);
	assert_int_equal(appts(&b, "booked"), 5000);
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_holds WHERE feed_id = $1::bigint"
		" AND decision = 'approved' AND applied_at IS NOT NULL", b.feed), 1);
	v = feed_col(&b, "last_status");
	assert_string_equal(v, "ok");
	free(v);

	/* 500 more at once, within two days. */
	snap_or_fail(&b, &s1);
	more = calfeed_gen(5000, 500, now_s + 2 * 86400 - 5000LL * 300, 300, &len2);
	{
		const char *ev = strstr(more, "BEGIN:VEVENT");
		struct buf g = BUF_INIT;
		assert_non_null(ev);
		buf_append(&g, feed, len - strlen("END:VCALENDAR\r\n"));
		buf_append(&g, ev, strlen(ev));
		grown = xstrdup(buf_str(&g));
		buf_free(&g);
	}
	serve_or_fail(b.file, grown, strlen(grown));
	sync_ok_or_fail(&b, now, "held");
	snap_or_fail(&b, &s2);
	snap_same_or_fail(&s1, &s2, "a held sync");
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_holds WHERE feed_id = $1::bigint"
		" AND decision IS NULL AND creates >= 500 AND creates > threshold AND threshold > 20",
		b.feed), 1);
	/* Polled again: still held, the same one hold refreshed. */
	sync_ok_or_fail(&b, now, "held");
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_holds WHERE feed_id = $1::bigint"
		" AND applied_at IS NULL", b.feed), 1);
	approve_or_fail(&b);
	sync_ok_or_fail(&b, now, "ok");
	assert_int_equal(appts(&b, "booked"), 5500);
	free(feed);
	free(more);
	free(grown);
}

/* Starts `calsync ARGS...` at now in the background, output to
 * /dev/null; its pid. */
static pid_t calsync_start(const char *now, const char *a1, const char *a2)
{
	pid_t pid = fork();

	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		setenv("RINGFENCE_NOW", now, 1);
		execl(bin, bin, "calsync", a1, a2, (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	return pid;
}

static int calsync_wait(pid_t pid)
{
	int st = 0;
	long long t0 = hx_now_ms();

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (hx_now_ms() - t0 > 180000) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		hx_sleep_ms(20);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Reminders of b that exist twice (the same appointment, channel,
 * offset, attempt and kind). */
static long long twice(const struct biz *b)
{
	return count_or_fail("SELECT count(*) FROM (SELECT 1 FROM reminders WHERE business_id ="
		" $1::bigint AND superseded_at IS NULL AND status <> 'cancelled'"
		" GROUP BY appointment_id, channel, offset_minutes, attempt, kind"
		" HAVING count(*) > 1) d", b->id);
}

/* The feed applied again from scratch (its stored hash and validators
 * forgotten): the content already applied changes nothing. */
static void reapply_same(const struct biz *b, const char *now, const char *what)
{
	struct snap s1, s2;

	hx_db_cmd_or_fail("UPDATE calendar_feeds SET content_sha256 = NULL, etag = NULL,"
		" last_modified = NULL WHERE id = $1::bigint", 1, (const char *[]){ b->feed });
	snap_or_fail(b, &s1);
	sync_ok_or_fail(b, now, "ok, 2000 events, 0 new, 0 moved, 0 cancelled, 0 gone");
	snap_or_fail(b, &s2);
	snap_same_or_fail(&s1, &s2, what);
}

/* The 3 AM operator: calsync killed with SIGKILL in the middle of
 * applying 2,000 events leaves nothing half-applied, and run again
 * applies everything once; two runs at the same time (two --feed, two
 * --once) create nothing twice. */
static void test_killed_and_concurrent(void **state)
{
	struct biz b;
	const char *now = NOW_DEC;
	long long now_s, reminders;
	size_t len;
	char *feed, *moved;
	pid_t p1, p2;
	int rc1, rc2, seen = 0;
	(void)state;

	assert_int_equal(rfc3339_parse(now, &now_s), 0);
	biz_or_fail(&b, "America/New_York", "US");
	feed = calfeed_gen(0, 2000, now_s + 86400, 1000, &len);
	serve_or_fail(b.file, feed, len);
	sync_ok_or_fail(&b, now, "held");
	approve_or_fail(&b);

	/* Killed once its transaction has written appointments. */
	p1 = calsync_start(now, "--feed", b.feed);
	for (int i = 0; i < 3000 && !seen; i++) {
		seen = hx_db_int_or_fail("SELECT count(*) FROM pg_locks l JOIN pg_class c ON"
			" c.oid = l.relation WHERE c.relname = 'appointments' AND l.mode ="
			" 'RowExclusiveLock' AND l.pid <> pg_backend_pid()", 0, NULL) > 0;
		if (!seen)
			hx_sleep_ms(10);
	}
	kill(p1, SIGKILL);
	waitpid(p1, NULL, 0);
	if (!seen)
		fail_msg("calsync never began writing appointments");
	/* Its server process notices and rolls back. */
	for (int i = 0; i < 500 && hx_db_int_or_fail("SELECT count(*) FROM pg_locks l JOIN"
		     " pg_class c ON c.oid = l.relation WHERE c.relname = 'appointments' AND"
		     " l.pid <> pg_backend_pid()", 0, NULL) > 0; i++)
		hx_sleep_ms(20);
	assert_int_equal(appts(&b, NULL), 0);
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_events WHERE business_id ="
		" $1::bigint", b.id), 0);
	assert_int_equal(count_or_fail("SELECT count(*) FROM reminders WHERE business_id ="
		" $1::bigint", b.id), 0);
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_holds WHERE feed_id = $1::bigint"
		" AND decision = 'approved' AND applied_at IS NULL", b.feed), 1);
	sync_ok_or_fail(&b, now, "ok");
	assert_int_equal(appts(&b, "booked"), 2000);
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_events WHERE business_id ="
		" $1::bigint", b.id), 2000);
	assert_int_equal(twice(&b), 0);
	reminders = count_or_fail("SELECT count(*) FROM reminders WHERE business_id = $1::bigint",
		b.id);
	assert_true(reminders >= 2000);

	/* Two at once on the same changed feed: ten events moved by ten
	 * hours; then the same content again, one run: nothing left to do. */
	moved = xstrdup(feed);
	{
		char *at = moved;
		for (int i = 0; i < 10; i++) {
			char *ds;
			at = strstr(at, "BEGIN:VEVENT");
			assert_non_null(at);
			ds = strstr(at, "DTSTART");
			assert_non_null(ds);
			ds = strchr(ds, ':');
			assert_non_null(ds);
			/* YYYYMMDDTHH: the hour's first digit, 0 or 1, becomes 1 or 0 */
			ds[10] = ds[10] == '0' ? '1' : '0';
			at = ds;
		}
	}
	serve_or_fail(b.file, moved, len);
	p1 = calsync_start(now, "--feed", b.feed);
	p2 = calsync_start(now, "--feed", b.feed);
	rc1 = calsync_wait(p1);
	rc2 = calsync_wait(p2);
	assert_int_equal(rc1, 0);
	assert_int_equal(rc2, 0);
	assert_int_equal(appts(&b, "booked"), 2000);
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_events WHERE business_id ="
		" $1::bigint", b.id), 2000);
	assert_int_equal(count_or_fail("SELECT count(*) FROM appointments a JOIN calendar_events e"
		" ON e.appointment_id = a.id WHERE a.business_id = $1::bigint AND a.starts_at <>"
		" e.starts_at", b.id), 0);
	assert_int_equal(twice(&b), 0);
	reapply_same(&b, now, "a sync after two at once");

	/* Two --once at the same time, this feed the only one due, back to
	 * the first content: polled by one of them, applied once. */
	hx_db_cmd_or_fail("UPDATE calendar_feeds SET next_poll_at = '2099-01-01'"
		" WHERE id <> $1::bigint", 1, (const char *[]){ b.feed });
	hx_db_cmd_or_fail("UPDATE calendar_feeds SET next_poll_at = '2026-12-01T11:00:00Z'"
		" WHERE id = $1::bigint", 1, (const char *[]){ b.feed });
	serve_or_fail(b.file, feed, len);
	p1 = calsync_start(now, "--once", NULL);
	p2 = calsync_start(now, "--once", NULL);
	rc1 = calsync_wait(p1);
	rc2 = calsync_wait(p2);
	assert_int_equal(rc1, 0);
	assert_int_equal(rc2, 0);
	assert_int_equal(appts(&b, "booked"), 2000);
	assert_int_equal(twice(&b), 0);
	reapply_same(&b, now, "a sync after two --once at once");
	assert_int_equal(count_or_fail("SELECT count(*) FROM reminders WHERE business_id ="
		" $1::bigint AND superseded_at IS NULL", b.id), reminders);
	free(feed);
	free(moved);
}

/* An emptied feed cancels nothing until a person approves; then it
 * cancels every upcoming appointment. */
static void test_emptied(void **state)
{
	struct biz b;
	static const char empty[] = "BEGIN:VCALENDAR\r\n"
				    "PRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
				    "VERSION:2.0\r\n"
				    "X-WR-TIMEZONE:America/New_York\r\n"
				    "END:VCALENDAR\r\n";
	struct snap s1, s2;
	(void)state;

	biz_or_fail(&b, "America/New_York", "US");
	serve_fixture_or_fail(b.file, "google_basic.ics");
	sync_ok_or_fail(&b, NOW_DEC, "ok");
	assert_int_equal(appts(&b, "booked"), 3);
	snap_or_fail(&b, &s1);
	serve_or_fail(b.file, empty, sizeof(empty) - 1);
	sync_ok_or_fail(&b, NOW_DEC, "held");
	snap_or_fail(&b, &s2);
	snap_same_or_fail(&s1, &s2, "an emptied feed");
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_holds WHERE feed_id = $1::bigint"
		" AND decision IS NULL AND reason LIKE '%no longer has any%'"
		" AND jsonb_array_length(preview) = 3", b.feed), 1);
	approve_or_fail(&b);
	sync_ok_or_fail(&b, NOW_DEC, "ok");
	assert_int_equal(appts(&b, "booked"), 0);
	assert_int_equal(appts(&b, "cancelled"), 3);
	assert_int_equal(count_or_fail("SELECT count(*) FROM reminders WHERE business_id = $1::bigint"
		" AND status = 'pending'", b.id), 0);
}

/* A person cancelled one appointment on the dashboard: a later sync
 * that moves its event does not bring it back. */
static void test_not_resurrected(void **state)
{
	struct biz b;
	size_t len;
	char *feed, *moved;
	(void)state;

	biz_or_fail(&b, "America/New_York", "US");
	serve_fixture_or_fail(b.file, "google_basic.ics");
	sync_ok_or_fail(&b, NOW_DEC, "ok");
	hx_db_cmd_or_fail("UPDATE appointments SET status = 'cancelled', cancelled_at = now()"
		" WHERE id = (SELECT appointment_id FROM calendar_events WHERE feed_id = $1::bigint"
		" AND uid = '" UID_JANE "')", 1, (const char *[]){ b.feed });
	feed = fixture_or_fail("google_basic.ics", &len);
	moved = replace_or_fail(feed, "DTSTART;TZID=America/New_York:20261208T100000",
		"DTSTART;TZID=America/New_York:20261208T113000");
	serve_or_fail(b.file, moved, strlen(moved));
	sync_ok_or_fail(&b, NOW_DEC, "ok");
	assert_int_equal(count_or_fail("SELECT count(*) FROM appointments a JOIN calendar_events e"
		" ON e.appointment_id = a.id WHERE e.feed_id = $1::bigint AND e.uid = '" UID_JANE "'"
		" AND a.status = 'cancelled'", b.feed), 1);
	assert_int_equal(appts(&b, "booked"), 2);
	free(feed);
	free(moved);
}

/* Feeds that fail change nothing and say why. */
static void test_failures(void **state)
{
	struct biz b;
	struct snap s1, s2;
	char *v;
	(void)state;

	biz_or_fail(&b, "America/New_York", "US");
	serve_fixture_or_fail(b.file, "google_basic.ics");
	sync_ok_or_fail(&b, NOW_DEC, "ok");
	snap_or_fail(&b, &s1);

	feed_url_or_fail(&b, "/status/500");
	sync_fails_or_fail(&b, NOW_DEC, "500");
	feed_url_or_fail(&b, "/loop");
	sync_fails_or_fail(&b, NOW_DEC, "redirect");
	feed_url_or_fail(&b, "/huge");
	sync_fails_or_fail(&b, NOW_DEC, "larger than");
	feed_url_or_fail(&b, "/html");
	sync_fails_or_fail(&b, NOW_DEC, "web page");
	serve_fixture_or_fail("invalid.ics", "invalid.ics");
	feed_url_or_fail(&b, "/invalid.ics");
	sync_fails_or_fail(&b, NOW_DEC, "not a valid calendar");
	/* A reason quoting the feed (the summary of an event without a UID)
	 * is recorded on one line of valid UTF-8, even cut inside a
	 * character: "line\n" and 74 letters, then an "é" across byte 80. */
	{
		static const char nouid[] = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
			"BEGIN:VEVENT\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20261210T150000Z\r\n"
			"SUMMARY:line\\n"
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			"\xc3\xa9\xc3\xa9\xc3\xa9\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
		serve_or_fail("nouid.ics", nouid, strlen(nouid));
		feed_url_or_fail(&b, "/nouid.ics");
		sync_fails_or_fail(&b, NOW_DEC, "has no UID (SUMMARY line aaaa");
		v = feed_col(&b, "last_error");
		if (strchr(v, '\n') != NULL || !valid_utf8(v, strlen(v)))
			fail_msg("last_error is not one line of UTF-8: %s", v);
		free(v);
	}
	{
		long long t0 = hx_now_ms();
		feed_url_or_fail(&b, "/slow");
		sync_fails_or_fail(&b, NOW_DEC, "");
		/* The fetch gives up after 20 s; 90 s is a runaway bound. */
		if (hx_now_ms() - t0 > 90000)
			fail_msg("a slow feed took %lld ms (the fetch's limit is 20 s)",
				hx_now_ms() - t0);
	}
	snap_or_fail(&b, &s2);
	snap_same_or_fail(&s1, &s2, "failing feeds");
	v = feed_col(&b, "failures");
	assert_string_equal(v, "7");
	free(v);
	/* Backed off: the next poll an hour away at most, later than the
	 * interval. */
	assert_int_equal(count_or_fail("SELECT count(*) FROM calendar_feeds WHERE id = $1::bigint"
		" AND next_poll_at = '" NOW_DEC "'::timestamptz + interval '1 hour'", b.feed), 1);
	/* Good again: ok, failures cleared. */
	{
		char *path = xasprintf("/%s", b.file);
		feed_url_or_fail(&b, path);
		free(path);
	}
	sync_ok_or_fail(&b, NOW_DEC, "");
	v = feed_col(&b, "failures");
	assert_string_equal(v, "0");
	free(v);
}

/* --once polls every due feed once, claims none twice, and says which
 * failed by its exit status. */
static void test_once(void **state)
{
	struct biz a, b;
	struct buf out = BUF_INIT;
	char *cmd;
	int rc;
	(void)state;

	biz_or_fail(&a, "America/New_York", "US");
	biz_or_fail(&b, "America/New_York", "US");
	serve_fixture_or_fail(a.file, "google_basic.ics");
	feed_url_or_fail(&b, "/status/500");
	/* Every other feed of the stack is not due at this clock. */
	hx_db_cmd_or_fail("UPDATE calendar_feeds SET next_poll_at = '2099-01-01'"
		" WHERE id NOT IN ($1::bigint, $2::bigint)", 2, (const char *[]){ a.feed, b.feed });
	hx_db_cmd_or_fail("UPDATE calendar_feeds SET next_poll_at = '2026-12-01T11:00:00Z'"
		" WHERE id IN ($1::bigint, $2::bigint)", 2, (const char *[]){ a.feed, b.feed });
	cmd = xasprintf("RINGFENCE_NOW=" NOW_DEC " '%s' calsync --once 2>&1", bin);
	rc = hx_shell(cmd, &out, 120);
	if (rc == 0 || strstr(buf_str(&out), "failed: HTTP 500") == NULL ||
		strstr(buf_str(&out), ": ok, 4 events") == NULL)
		fail_msg("calsync --once: exit %d:\n%s", rc, buf_str(&out));
	assert_int_equal(appts(&a, "booked"), 3);
	/* Nothing due any more: a second run polls nothing and succeeds. */
	buf_reset(&out);
	rc = hx_shell(cmd, &out, 120);
	if (rc != 0 || strstr(buf_str(&out), "feed ") != NULL)
		fail_msg("calsync --once again: exit %d:\n%s", rc, buf_str(&out));
	free(cmd);
	buf_free(&out);
}

/* How many requests the feed server had for /name. */
static long requests_of(const char *name)
{
	struct hx_response rs;
	char *url = xasprintf("http://127.0.0.1:%d/_count?path=/%s", port, name);
	long n = -1;

	memset(&rs, 0, sizeof(rs));
	if (hx_get(url, &rs) == 0 && rs.status == 200)
		n = strtol(buf_str(&rs.body), NULL, 10);
	hx_response_free(&rs);
	free(url);
	return n;
}

/* Two calsync processes at once never poll one feed twice: each due
 * feed is claimed by one of them (FOR UPDATE SKIP LOCKED). */
static void test_two_processes(void **state)
{
	struct biz b[6];
	struct buf out = BUF_INIT;
	char *cmd;
	int rc;
	(void)state;

	hx_db_cmd_or_fail("UPDATE calendar_feeds SET next_poll_at = '2099-01-01'", 0, NULL);
	for (size_t i = 0; i < 6; i++) {
		biz_or_fail(&b[i], "America/New_York", "US");
		serve_fixture_or_fail(b[i].file, i % 2 ? "google_weekly.ics" : "google_basic.ics");
		hx_db_cmd_or_fail("UPDATE calendar_feeds SET next_poll_at = '2026-12-01T11:00:00Z'"
			" WHERE id = $1::bigint", 1, (const char *[]){ b[i].feed });
	}
	cmd = xasprintf("for i in 1 2; do RINGFENCE_NOW=" NOW_DEC " '%s' calsync --once &"
		" done; wait", bin);
	rc = hx_shell(cmd, &out, 300);
	free(cmd);
	if (rc != 0)
		fail_msg("two calsync --once: exit %d:\n%s", rc, buf_str(&out));
	for (size_t i = 0; i < 6; i++) {
		long n = requests_of(b[i].file);
		char *st = feed_col(&b[i], "last_status");
		if (n != 1 || st == NULL || strcmp(st, "ok") != 0)
			fail_msg("feed %s: %ld requests, status %s (want 1, ok):\n%s", b[i].feed, n,
				st ? st : "(null)", buf_str(&out));
		free(st);
		assert_int_equal(appts(&b[i], "booked"), i % 2 ? 7 : 3);
	}
	buf_free(&out);
}

/* The loop: SIGTERM while a feed is in hand (one that never answers)
 * finishes that feed, records it, and exits cleanly. */
static void test_sigterm(void **state)
{
	struct biz b;
	struct buf out = BUF_INIT;
	char *cmd, *v;
	int rc;
	(void)state;

	biz_or_fail(&b, "America/New_York", "US");
	feed_url_or_fail(&b, "/slow");
	/* Only this feed is due at the loop's clock. */
	hx_db_cmd_or_fail("UPDATE calendar_feeds SET next_poll_at = '2025-12-31T00:00:00Z'"
		" WHERE id = $1::bigint", 1, (const char *[]){ b.feed });
	cmd = xasprintf("RINGFENCE_NOW=2026-01-01T00:00:00Z RINGFENCE_CALENDAR_POLL_S=1"
		" timeout --foreground --preserve-status -k 90 -s TERM 3 '%s' calsync 2>&1", bin);
	rc = hx_shell(cmd, &out, 150);
	free(cmd);
	if (rc != 0 || strstr(buf_str(&out), "calsync: started") == NULL ||
		strstr(buf_str(&out), "calsync: stopped") == NULL)
		fail_msg("calsync under SIGTERM: exit %d:\n%s", rc, buf_str(&out));
	v = feed_col(&b, "last_status");
	if (v == NULL || strcmp(v, "failed") != 0)
		fail_msg("the feed in hand was not finished: status %s\n%s", v ? v : "(null)",
			buf_str(&out));
	free(v);
	buf_free(&out);
}

/* A client proposed from an event is never contacted until a person
 * confirms it: its due text stays unsent by the scheduler and a worker;
 * once confirmed, it goes. */
static void test_proposed_not_contacted(void **state)
{
	struct biz b;
	struct buf out = BUF_INIT;
	char phone[13], feed[2048], when[32], *cmd;
	const char *const args[] = { "--once", NULL };
	long long now_s = (long long)time(NULL) + 3 * 3600;
	time_t t = (time_t)now_s;
	struct tm tm;
	pid_t pid;
	(void)state;

	biz_or_fail(&b, "UTC", "US");
	hx_db_cmd_or_fail("INSERT INTO reminder_policies (business_id, channel, offset_minutes,"
		" stale_after_minutes) VALUES ($1::bigint, 'sms', 240, 120)", 1,
		(const char *[]){ b.id });
	hx_random_phone(phone);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M00Z", &tm);
	snprintf(feed, sizeof(feed),
		"BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
		"VERSION:2.0\r\nX-WR-TIMEZONE:UTC\r\n"
		"BEGIN:VEVENT\r\nDTSTART:%s\r\nDTEND:%s\r\nDTSTAMP:20261201T000000Z\r\n"
		"UID:proposed-%s@ringfence.test\r\nDESCRIPTION:Call %s\r\n"
		"SUMMARY:Walk-in\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		when, when, phone + 1, phone);
	serve_or_fail(b.file, feed, strlen(feed));
	sync_ok_or_fail(&b, NULL, "ok");
	assert_int_equal(count_or_fail("SELECT count(*) FROM reminders r JOIN clients c"
		" ON c.business_id = r.business_id WHERE r.business_id = $1::bigint"
		" AND r.status = 'pending' AND r.due_at <= now() AND c.confirmed_at IS NULL", b.id), 1);

	for (int round = 0; round < 2; round++) {
		if (round == 1)
			hx_db_cmd_or_fail("UPDATE clients SET confirmed_at = now(),"
				" confirmed_by = 'owner@example.com' WHERE business_id = $1::bigint",
				1, (const char *[]){ b.id });
		buf_reset(&out);
		cmd = xasprintf("env -u RINGFENCE_NOW '%s' scheduler --once 2>&1", bin);
		if (hx_shell(cmd, &out, 120) != 0)
			fail_msg("scheduler --once:\n%s", buf_str(&out));
		free(cmd);
		pid = fork();
		if (pid == 0) {
			hx_worker_child_env(phone);
			hx_exec_worker(bin, args);
		}
		assert_true(pid > 0);
		assert_int_equal(hx_wait_child(pid, 60), 0);
		if (round == 0) {
			assert_int_equal(count_or_fail("SELECT count(*) FROM contact_attempts ca JOIN"
				" reminders r ON r.id = ca.reminder_id WHERE r.business_id = $1::bigint",
				b.id), 0);
			assert_int_equal(count_or_fail("SELECT count(*) FROM reminders WHERE"
				" business_id = $1::bigint AND status = 'pending'", b.id), 1);
		}
	}
	assert_int_equal(count_or_fail("SELECT count(*) FROM contact_attempts ca JOIN reminders r"
		" ON r.id = ca.reminder_id WHERE r.business_id = $1::bigint AND ca.status = 'placed'"
		" AND ca.provider_sid LIKE 'SM%'", b.id), 1);
	buf_free(&out);
}

int calsync_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_google),
		cmocka_unit_test(test_outlook),
		cmocka_unit_test(test_apple),
		cmocka_unit_test(test_auto_confirm),
		cmocka_unit_test(test_weekly),
		cmocka_unit_test(test_dst),
		cmocka_unit_test(test_emptied),
		cmocka_unit_test(test_not_resurrected),
		cmocka_unit_test(test_once),
		cmocka_unit_test(test_two_processes),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_sigterm),
		cmocka_unit_test(test_big_feed),
		cmocka_unit_test(test_killed_and_concurrent),
		cmocka_unit_test(test_proposed_not_contacted),
	};
	return cmocka_run_group_tests_name("calsync", tests, group_setup, group_teardown);
}

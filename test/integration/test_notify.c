/* Group "notify": what the office is told (issue 11 part 5), through the
 * real stack.
 *
 * Notifications are made by the real flows where it matters (a client
 * confirming by keypad in a reminder call placed by a worker through the
 * simulator; the worker and the simulator's status callbacks for an
 * unreached client) and, for the volume and isolation tests, by
 * office_notify as the flows call it; the dashboard is read through
 * nginx like a browser; email goes through `ringfence worker
 * --office-mail-once` to the stack's SMTP sink.  Checked: an immediate
 * user gets one email (business, client, kind, appointment time, detail,
 * link; never the notes), a digest user one digest at their hour
 * (RINGFENCE_NOW), an "off" user nothing, twice run sends nothing twice;
 * 20 immediate emails an hour per user (the rest in the digest), 200 a
 * day per business; the last failed attempt of a reminder (no answer,
 * an invalid number, a refused email) tells the office once, a busy call with a retry left
 * does not; "Mark all seen" needs the CSRF token and marks up to the
 * newest shown; one business never sees or marks another's; the
 * failsafe holds the office's email too. */
#include "harness.h"
#include "dash_client.h"
#include "db.h"
#include "failsafe.h"
#include "groups.h"
#include "notify.h"
#include "queue.h"
#include "rds.h"
#include "util.h"

#include <ctype.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_TIMEOUT_S 60

static const char *bin_path;
static char *mail_dir;
static struct db *n_db;
static struct rds *n_rds;
static int n_hour; /* the digest hour: 12 hours from now, so the real clock never meets it */

/* A business with a logged-in owner (who chose "immediately" on the
 * settings page), a digest user and an "off" user, a client and an
 * appointment whose notes hold a secret. */
struct nfix {
	struct dc_owner o;
	char client[24], appt[24], user_digest[24], user_off[24];
	char name[48], secret[48], phone[13];
	char email_digest[96], email_off[96];
};

static char *db_text_or_fail(const char *sql, int n, const char *const *p)
{
	char *v = hx_db_value_or_fail(sql, n, p);
	if (v == NULL)
		fail_msg("no row: %s", sql);
	return v;
}

static void user_or_fail(const struct nfix *f, const char *mode, char id[24], char email[96])
{
	char hex[17], hour[8], *v;
	const char *p[4] = { NULL, email, mode, hour };
	char owner[24];

	hx_random_hex(hex, 8);
	snprintf(email, 96, "office-%s-%s@example.com", mode, hex);
	snprintf(owner, sizeof(owner), "%lld", f->o.acc.user_id);
	snprintf(hour, sizeof(hour), "%d", n_hour);
	p[0] = owner;
	v = db_text_or_fail("INSERT INTO users (business_id, email, password_hash, role, notify_mode,"
			    " notify_digest_hour) SELECT business_id, $2, password_hash, 'staff', $3,"
			    " $4::smallint FROM users WHERE id = $1::bigint RETURNING id", 4, p);
	snprintf(id, 24, "%s", v);
	free(v);
}

/* Runs `ringfence worker --once` for reminder (enqueued) with only phone
 * allowed. */
static void worker_once_or_fail(const char *reminder, const char *phone)
{
	long long id = atoll(reminder);
	pid_t pid;
	int rc;

	assert_int_equal(queue_push(n_rds, &id, 1), 0);
	pid = fork();
	if (pid == 0) {
		hx_worker_child_env(phone);
		execl(bin_path, bin_path, "worker", "--once", (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	rc = hx_wait_child(pid, N_TIMEOUT_S);
	assert_int_equal(rc, 0);
}

static void nfix_or_fail(struct nfix *f)
{
	char hex[17], phone[13], hour[8], *v;
	struct dc_response r;

	memset(f, 0, sizeof(*f));
	dc_owner_or_fail(&f->o, "owner", "UTC");
	hx_random_hex(hex, 8);
	hx_random_phone(phone);
	snprintf(f->phone, sizeof(f->phone), "%s", phone);
	snprintf(f->name, sizeof(f->name), "Nora %s", hex);
	snprintf(f->secret, sizeof(f->secret), "SECRETNOTE%s", hex);
	{
		const char *p[4] = { f->o.biz, f->name, phone, f->secret };
		PGresult *res = hx_db_exec_or_fail(
			"WITH c AS (INSERT INTO clients (business_id, name, phone, time_zone)"
			" VALUES ($1::bigint, $2, $3, 'UTC') RETURNING id, business_id)"
			" INSERT INTO appointments (business_id, client_id, starts_at, notes)"
			" SELECT business_id, id, date_trunc('hour', now()) + interval '1 day 2 hours', $4"
			" FROM c RETURNING client_id, id", 4, p);
		snprintf(f->client, sizeof(f->client), "%s", PQgetvalue(res, 0, 0));
		snprintf(f->appt, sizeof(f->appt), "%s", PQgetvalue(res, 0, 1));
		PQclear(res);
	}
	/* The owner chooses on the settings page, as a person would. */
	snprintf(hour, sizeof(hour), "%d", n_hour);
	v = dc_get_or_fail(f->o.c, "/settings/notifications", 200);
	assert_non_null(strstr(v, "My notifications"));
	free(v);
	assert_int_equal(dc_post_form(f->o.c, "/settings/notifications", &r, "mode", "immediate",
				 "hour", hour, NULL), 0);
	assert_int_equal(r.status, 303);
	assert_string_equal(r.location, "/settings/notifications?notice=saved");
	dc_response_free(&r);
	user_or_fail(f, "digest", f->user_digest, f->email_digest);
	user_or_fail(f, "off", f->user_off, f->email_off);
}

static long long notify_or_fail(const struct nfix *f, const char *kind, const char *detail)
{
	long long id = office_notify(n_db, atoll(f->o.biz), atoll(f->appt), atoll(f->client), kind,
		detail);
	if (id <= 0)
		fail_msg("office_notify failed: %s", db_last_error(n_db));
	return id;
}

/* The client confirms by keypad: a reminder call of f's appointment
 * placed by a real worker through the simulator, where the client
 * presses 1 to hear it and 1 to confirm; the reminder call flow's action
 * tells the office.  The notification's id. */
static long long keypad_confirm_or_fail(const struct nfix *f)
{
	const char *p[3] = { f->o.biz, f->appt, f->phone };
	long long deadline, id = 0;
	char *reminder;

	hx_db_cmd_or_fail("UPDATE businesses SET window_start = '00:00', window_end = '23:59:59',"
			  " twilio_from = '+15005550006', retry_count = 0 WHERE id = $1::bigint", 1, p);
	reminder = db_text_or_fail("INSERT INTO reminders (business_id, appointment_id, channel,"
				   " offset_minutes, due_at, stale_at, to_address) VALUES ($1::bigint,"
				   " $2::bigint, 'voice', 1440, now() - interval '1 minute',"
				   " now() + interval '2 hours', $3) RETURNING id", 3, p);
	hx_sim_callee_or_fail(f->phone, "person; press 1; press 1");
	worker_once_or_fail(reminder, f->phone);
	free(reminder);
	deadline = hx_now_ms() + 60000;
	while (id == 0 && hx_now_ms() < deadline) {
		PGresult *r = hx_db_exec_or_fail("SELECT id FROM office_notifications WHERE"
						 " appointment_id = $2::bigint AND kind = 'confirmed'"
						 " AND business_id = $1::bigint", 2, p);
		if (PQntuples(r) == 1)
			id = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
		if (id == 0)
			hx_sleep_ms(200);
	}
	if (id == 0)
		fail_msg("the client's keypad confirmation told the office nothing within 60 s");
	return id;
}

/* RFC 3339 of the next n_hour:30 UTC after now (within 24 hours). */
static void digest_time(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	if (tm.tm_hour >= n_hour)
		t += 86400;
	gmtime_r(&t, &tm);
	tm.tm_hour = n_hour;
	tm.tm_min = 30;
	tm.tm_sec = 0;
	t = timegm(&tm);
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* `ringfence worker --office-mail-once` with only f's users allowed and
 * the clock fixed at now (NULL: the real one); fails unless it exits 0. */
static void office_mail_once_or_fail(const struct nfix *f, const char *now)
{
	pid_t pid = fork();
	int rc;

	if (pid == 0) {
		char *allowed = xasprintf("%s,%s,%s", f->o.acc.email, f->email_digest, f->email_off);
		hx_worker_child_env(allowed);
		if (now)
			setenv("RINGFENCE_NOW", now, 1);
		execl(bin_path, bin_path, "worker", "--office-mail-once", (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	rc = hx_wait_child(pid, N_TIMEOUT_S);
	if (rc == -1)
		fail_msg("the office mail pass did not finish within %d s", N_TIMEOUT_S);
	assert_int_equal(rc, 0);
}

/* The sink's messages to address: how many, and the last one decoded
 * (quoted-printable soft breaks and =XX) into *text (free it) when text
 * is not NULL. */
static int mails_to(const char *address, char **text)
{
	char *cmd = xasprintf("grep -l -F -- '%s' '%s'/*.eml 2>/dev/null", address, mail_dir);
	char line[1024], last[1024] = "";
	FILE *pipe = popen(cmd, "r");
	int n = 0;

	assert_non_null(pipe);
	while (fgets(line, sizeof(line), pipe)) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(last, sizeof(last), "%s", line);
		n++;
	}
	pclose(pipe);
	free(cmd);
	if (text) {
		size_t len = 0;
		char *raw = n ? util_read_file(last, 1 << 20, &len) : xstrdup(""), *o;
		assert_non_null(raw);
		*text = xmalloc(len + 1);
		o = *text;
		for (size_t i = 0; i < len; i++) {
			if (raw[i] == '=' && i + 2 < len && raw[i + 1] == '\r' && raw[i + 2] == '\n') {
				i += 2;
			} else if (raw[i] == '=' && i + 2 < len && isxdigit((unsigned char)raw[i + 1]) &&
				isxdigit((unsigned char)raw[i + 2])) {
				char h[3] = { raw[i + 1], raw[i + 2], '\0' };
				*o++ = (char)strtol(h, NULL, 16);
				i += 2;
			} else {
				*o++ = raw[i];
			}
		}
		*o = '\0';
		free(raw);
	}
	return n;
}

static json_t *json_or_fail(struct dc *c, const char *path)
{
	struct dc_response r;
	json_t *j;
	json_error_t e;

	assert_int_equal(dc_get(c, path, &r), 0);
	if (r.status != 200)
		fail_msg("GET %s: %ld %s", path, r.status, buf_str(&r.body));
	assert_non_null(strstr(r.content_type, "application/json"));
	j = json_loads(buf_str(&r.body), 0, &e);
	dc_response_free(&r);
	if (j == NULL)
		fail_msg("GET %s: not JSON", path);
	return j;
}

static void nfix_free(struct nfix *f)
{
	dc_owner_free(&f->o);
}

/* ---- tests ------------------------------------------------------------------------ */

/* A client confirms by keypad through the simulator: the dashboard says so at once (Today's panel, the
 * JSON), the immediate user gets one email with what happened and never
 * the notes, the digest user one digest at their hour, the "off" user
 * nothing; running the pass again sends nothing again. */
static void test_confirm_told(void **state)
{
	struct nfix f;
	char *page, *mail, now[32], path[64];
	long long id;
	json_t *j, *n;

	(void)state;
	nfix_or_fail(&f);
	id = keypad_confirm_or_fail(&f);

	j = json_or_fail(f.o.c, "/notifications.json?after=0");
	assert_int_equal(json_integer_value(json_object_get(j, "unseen")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "last_id")), id);
	assert_int_equal(json_array_size(json_object_get(j, "notifications")), 1);
	n = json_array_get(json_object_get(j, "notifications"), 0);
	assert_int_equal(json_integer_value(json_object_get(n, "id")), id);
	assert_string_equal(json_string_value(json_object_get(n, "kind")), "confirmed");
	assert_string_equal(json_string_value(json_object_get(n, "client")), f.name);
	assert_non_null(strstr(json_string_value(json_object_get(n, "detail")), "(keypad)"));
	assert_int_equal(json_integer_value(json_object_get(n, "appointment_id")), atoll(f.appt));
	assert_true(json_is_false(json_object_get(n, "seen")));
	page = json_dumps(j, 0);
	assert_null(strstr(page, f.secret));
	free(page);
	json_decref(j);
	snprintf(path, sizeof(path), "/notifications.json?after=%lld", id);
	j = json_or_fail(f.o.c, path);
	assert_int_equal(json_array_size(json_object_get(j, "notifications")), 0);
	json_decref(j);

	page = dc_get_or_fail(f.o.c, "/today", 200);
	assert_non_null(strstr(page, "What clients said"));
	assert_non_null(strstr(page, "notify unseen"));
	assert_non_null(strstr(page, f.name));
	assert_non_null(strstr(page, "id=\"notify-count\">1<"));
	assert_null(strstr(page, f.secret));
	free(page);
	page = dc_get_or_fail(f.o.c, "/notifications", 200);
	assert_non_null(strstr(page, "(keypad)"));
	free(page);

	office_mail_once_or_fail(&f, NULL);
	assert_int_equal(mails_to(f.o.acc.email, &mail), 1);
	assert_non_null(strstr(mail, f.o.acc.email));
	assert_non_null(strstr(mail, f.name));
	assert_non_null(strstr(mail, "confirmed"));
	assert_non_null(strstr(mail, "(keypad)"));
	snprintf(path, sizeof(path), "/appointments/%s", f.appt);
	assert_non_null(strstr(mail, path));
	assert_null(strstr(mail, f.secret));
	free(mail);
	assert_int_equal(mails_to(f.email_digest, NULL), 0);
	assert_int_equal(mails_to(f.email_off, NULL), 0);
	{
		char uid[24];
		const char *p[1] = { uid };
		snprintf(uid, sizeof(uid), "%lld", f.o.acc.user_id);
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM office_mails WHERE"
						   " user_id = $1::bigint AND status = 'sent'"
						   " AND provider_id ~ '^EM[0-9a-f]{32}$'", 1, p), 1);
	}
	/* Exactly once. */
	office_mail_once_or_fail(&f, NULL);
	assert_int_equal(mails_to(f.o.acc.email, NULL), 1);

	/* The digest hour: one digest for the digest user, none for the
	 * others (the immediate user was told already), and only once. */
	digest_time(now);
	office_mail_once_or_fail(&f, now);
	assert_int_equal(mails_to(f.email_digest, &mail), 1);
	assert_non_null(strstr(mail, f.name));
	assert_non_null(strstr(mail, "1 thing clients said"));
	assert_null(strstr(mail, f.secret));
	free(mail);
	office_mail_once_or_fail(&f, now);
	assert_int_equal(mails_to(f.email_digest, NULL), 1);
	assert_int_equal(mails_to(f.o.acc.email, NULL), 1);
	assert_int_equal(mails_to(f.email_off, NULL), 0);
	nfix_free(&f);
}

/* 25 notifications at once: 20 immediate emails, the 5 others in the
 * user's digest; a business at 200 emails in a day sends none, and its
 * digest is recorded as skipped. */
static void test_limits(void **state)
{
	struct nfix f, g;
	char *mail, now[32];
	const char *p[2];

	(void)state;
	nfix_or_fail(&f);
	for (int i = 0; i < 25; i++)
		notify_or_fail(&f, NOTIFY_CALLBACK, "Asked for a call back by text");
	office_mail_once_or_fail(&f, NULL);
	assert_int_equal(mails_to(f.o.acc.email, NULL), 20);
	office_mail_once_or_fail(&f, NULL);
	assert_int_equal(mails_to(f.o.acc.email, NULL), 20);
	digest_time(now);
	office_mail_once_or_fail(&f, now);
	assert_int_equal(mails_to(f.o.acc.email, NULL), 21);
	{
		char uid[24];
		const char *q[1] = { uid };
		snprintf(uid, sizeof(uid), "%lld", f.o.acc.user_id);
		/* The owner's digest told the 5 the limit held back. */
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM office_mail_items i"
						   " JOIN office_mails m ON m.id = i.mail_id WHERE m.user_id ="
						   " $1::bigint AND m.kind = 'digest' AND m.status = 'sent'",
					 1, q), 5);
	}
	assert_int_equal(mails_to(f.email_digest, &mail), 1);
	assert_non_null(strstr(mail, "25 things clients said"));
	free(mail);
	nfix_free(&f);

	nfix_or_fail(&g);
	p[0] = g.o.biz;
	p[1] = g.user_off;
	hx_db_cmd_or_fail("INSERT INTO office_mails (business_id, user_id, kind, to_address, status)"
			  " SELECT $1::bigint, $2::bigint, 'immediate', 'x@example.com', 'sent'"
			  " FROM generate_series(1, 200)", 2, p);
	notify_or_fail(&g, NOTIFY_CANCELLED, "Cancelled by text");
	office_mail_once_or_fail(&g, NULL);
	assert_int_equal(mails_to(g.o.acc.email, NULL), 0);
	digest_time(now);
	office_mail_once_or_fail(&g, now);
	assert_int_equal(mails_to(g.email_digest, NULL), 0);
	assert_int_equal(mails_to(g.o.acc.email, NULL), 0);
	p[1] = g.user_digest;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM office_mails WHERE business_id ="
					   " $1::bigint AND user_id = $2::bigint AND kind = 'digest'"
					   " AND status = 'skipped'", 2, p), 1);
	nfix_free(&g);
}

/* The reminder's status once it is no longer in flight (waits for the
 * simulator's status callback). */
static char *settled_status_or_fail(const char *reminder)
{
	const char *p[1] = { reminder };
	long long deadline = hx_now_ms() + 60000;
	char *v = NULL;

	do {
		free(v);
		hx_sleep_ms(200);
		v = db_text_or_fail("SELECT status FROM reminders WHERE id = $1::bigint", 1, p);
	} while ((strcmp(v, "placed") == 0 || strcmp(v, "dialing") == 0) && hx_now_ms() < deadline);
	return v;
}

/* Fails unless f's reminder failed (once settled, when settle is set:
 * a callback decides it) and the office was told of it exactly once; what
 * the office was told (free it). */
static char *unreached_detail_or_fail(const struct hx_rfix *f, int settle)
{
	const char *p[2] = { f->business, f->reminder };
	char *v = settle ? settled_status_or_fail(f->reminder)
			 : db_text_or_fail("SELECT status FROM reminders WHERE id = $1::bigint", 1,
				   p + 1);

	assert_string_equal(v, "failed");
	free(v);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM office_notifications WHERE"
		" business_id = $1::bigint AND kind = 'unreached' AND reminder_id = $2::bigint",
		2, p), 1);
	return db_text_or_fail("SELECT detail FROM office_notifications WHERE reminder_id = $1::bigint",
		1, p + 1);
}

/* A call nobody answers, with no retry left: the office is told once,
 * with the reason; a busy call that still has a retry is not the end. */
static void test_unreached_call(void **state)
{
	struct hx_rfix f, g;
	const struct hx_rfix_opts o = { .business_name = "Unreached Clinic", .client_name =
		"Una Reached", .channel = "voice", .notes = "SECRET-UNREACHED", .retry_count = 0,
		.retry_delay_minutes = 30, .stale_min = 120 };
	const struct hx_rfix_opts o2 = { .business_name = "Busy Clinic", .client_name = "Bea Busy",
		.channel = "voice", .retry_count = 1, .retry_delay_minutes = 30, .stale_min = 120 };
	const char *p[1];
	char *v;

	(void)state;
	hx_rfix_or_fail(&f, &o);
	hx_sim_callee_or_fail(f.phone, "no-answer");
	worker_once_or_fail(f.reminder, f.phone);
	v = unreached_detail_or_fail(&f, 1);
	assert_non_null(strstr(v, "Call did not reach them"));
	assert_non_null(strstr(v, "no-answer"));
	assert_null(strstr(v, "SECRET"));
	free(v);

	hx_rfix_or_fail(&g, &o2);
	hx_sim_callee_or_fail(g.phone, "busy");
	worker_once_or_fail(g.reminder, g.phone);
	v = settled_status_or_fail(g.reminder);
	assert_string_equal(v, "failed");
	free(v);
	p[0] = g.business;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM office_notifications"
					   " WHERE business_id = $1::bigint", 1, p), 0);
}

/* A text to a number Twilio calls invalid (21211): refused at once, the
 * office told in the same transaction. */
static void test_unreached_invalid(void **state)
{
	struct hx_rfix f;
	const struct hx_rfix_opts o = { .business_name = "Invalid Number Clinic",
		.client_name = "Ivan Valid", .channel = "sms", .retry_count = 0,
		.retry_delay_minutes = 30, .stale_min = 120 };
	const char *p[2];
	char *v;

	(void)state;
	hx_rfix_or_fail(&f, &o);
	p[0] = f.client;
	p[1] = f.reminder;
	hx_db_cmd_or_fail("WITH c AS (UPDATE clients SET phone = '+15005550001', phone_invalid_at = NULL"
			  " WHERE id = $1::bigint RETURNING id)"
			  " UPDATE reminders SET to_address = '+15005550001' WHERE id = $2::bigint", 2, p);
	worker_once_or_fail(f.reminder, "+15005550001");
	v = unreached_detail_or_fail(&f, 0);
	assert_non_null(strstr(v, "Text did not reach them"));
	assert_non_null(strstr(v, "21211"));
	free(v);
}

/* A text the carrier does not deliver (30003): the status callback tells
 * the office, once. */
static void test_unreached_undelivered(void **state)
{
	struct hx_rfix f;
	const struct hx_rfix_opts o = { .business_name = "Undelivered Clinic",
		.client_name = "Una Delivered", .channel = "sms", .retry_count = 0,
		.retry_delay_minutes = 30, .stale_min = 120 };
	char *v;

	(void)state;
	hx_rfix_or_fail(&f, &o);
	hx_sim_callee_or_fail(f.phone, "person; sms-undelivered 30003");
	worker_once_or_fail(f.reminder, f.phone);
	v = unreached_detail_or_fail(&f, 1);
	assert_non_null(strstr(v, "Text did not reach them"));
	assert_non_null(strstr(v, "undelivered"));
	free(v);
}

/* An email the mail server refuses for good (550): the office is told. */
static void test_unreached_email(void **state)
{
	struct hx_rfix f;
	const struct hx_rfix_opts o = { .business_name = "Refused Mail Clinic",
		.client_name = "Rita Fused", .channel = "email", .email_prefix = "reject",
		.notes = "SECRET-REFUSED", .retry_count = 0, .retry_delay_minutes = 30,
		.stale_min = 120 };
	char *v;

	(void)state;
	hx_rfix_or_fail(&f, &o);
	worker_once_or_fail(f.reminder, f.email);
	v = unreached_detail_or_fail(&f, 0);
	assert_non_null(strstr(v, "Email did not reach them"));
	assert_non_null(strstr(v, "550"));
	assert_null(strstr(v, "SECRET"));
	free(v);
}

/* "Mark all seen": refused without the CSRF token; with it, marks the
 * rows up to the newest the page showed, by this user. */
static void test_mark_seen(void **state)
{
	struct nfix f;
	struct dc_response r;
	long long a, b;
	char upto[24], uid[24];
	const char *p[2] = { NULL, uid };
	json_t *j;

	(void)state;
	nfix_or_fail(&f);
	a = notify_or_fail(&f, NOTIFY_RESCHEDULE, "Asked to reschedule by keypad");
	b = notify_or_fail(&f, NOTIFY_CANCELLED, "Cancelled by keypad");
	snprintf(upto, sizeof(upto), "%lld", a);
	snprintf(uid, sizeof(uid), "%lld", f.o.acc.user_id);
	assert_int_equal(dc_post_form(f.o.c, "/notifications/seen", &r, "csrf", NULL, "upto", upto,
				 "back", "today", NULL), 0);
	assert_int_equal(r.status, 403);
	dc_response_free(&r);
	j = json_or_fail(f.o.c, "/notifications.json");
	assert_int_equal(json_integer_value(json_object_get(j, "unseen")), 2);
	json_decref(j);
	assert_int_equal(dc_post_form(f.o.c, "/notifications/seen", &r, "upto", upto, "back", "today",
				 NULL), 0);
	assert_int_equal(r.status, 303);
	assert_string_equal(r.location, "/today?notice=notifications_seen");
	dc_response_free(&r);
	p[0] = upto;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM office_notifications WHERE id ="
					   " $1::bigint AND seen_at IS NOT NULL AND seen_by = $2::bigint",
				 2, p), 1);
	snprintf(upto, sizeof(upto), "%lld", b);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM office_notifications WHERE id ="
					   " $1::bigint AND seen_at IS NULL", 1, p), 1);
	j = json_or_fail(f.o.c, "/notifications.json");
	assert_int_equal(json_integer_value(json_object_get(j, "unseen")), 1);
	json_decref(j);
	/* A bad value: a reason, nothing changed. */
	assert_int_equal(dc_post_form(f.o.c, "/notifications/seen", &r, "upto", "x1", NULL), 0);
	assert_int_equal(r.status, 422);
	dc_response_free(&r);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM office_notifications WHERE id ="
					   " $1::bigint AND seen_at IS NULL", 1, p), 1);
	nfix_free(&f);
}

/* One business never sees or marks another's notifications; the JSON
 * needs a session (401) and a valid after (400); the settings refuse a
 * mode or hour they do not know (422). */
static void test_isolation_and_input(void **state)
{
	struct nfix a, b;
	struct dc_response r;
	char other[24], *page;
	const char *p[1] = { other };
	json_t *j;
	struct dc *anon;

	(void)state;
	nfix_or_fail(&a);
	nfix_or_fail(&b);
	snprintf(other, sizeof(other), "%lld", notify_or_fail(&b, NOTIFY_CONFIRMED, "Confirmed"));
	j = json_or_fail(a.o.c, "/notifications.json?after=0");
	assert_int_equal(json_array_size(json_object_get(j, "notifications")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "unseen")), 0);
	json_decref(j);
	page = dc_get_or_fail(a.o.c, "/notifications", 200);
	assert_null(strstr(page, b.name));
	free(page);
	page = dc_get_or_fail(a.o.c, "/today", 200);
	assert_null(strstr(page, b.name));
	free(page);
	assert_int_equal(dc_post_form(a.o.c, "/notifications/seen", &r, "upto", other, NULL), 0);
	assert_int_equal(r.status, 303);
	dc_response_free(&r);
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM office_notifications WHERE id ="
					   " $1::bigint AND seen_at IS NULL", 1, p), 1);

	anon = dc_new();
	assert_int_equal(dc_get(anon, "/notifications.json?after=0", &r), 0);
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.content_type, "application/json"));
	dc_response_free(&r);
	dc_free(anon);
	assert_int_equal(dc_get(a.o.c, "/notifications.json?after=abc", &r), 0);
	assert_int_equal(r.status, 400);
	dc_response_free(&r);
	assert_int_equal(dc_post_form(a.o.c, "/settings/notifications", &r, "mode", "loud", "hour",
				 "8", NULL), 0);
	assert_int_equal(r.status, 422);
	dc_response_free(&r);
	assert_int_equal(dc_post_form(a.o.c, "/settings/notifications", &r, "mode", "digest", "hour",
				 "24", NULL), 0);
	assert_int_equal(r.status, 422);
	dc_response_free(&r);
	nfix_free(&a);
	nfix_free(&b);
}

/* The failsafe stops the office's email too; re-armed, it goes (the
 * notification is still fresh). */
static void test_failsafe_holds(void **state)
{
	struct nfix f;
	const char *p[1];

	(void)state;
	nfix_or_fail(&f);
	notify_or_fail(&f, NOTIFY_CALLBACK, "Asked for a call back by keypad");
	assert_int_equal(failsafe_trip(n_db, "notify test: office mail held", "notify-tests"), 0);
	office_mail_once_or_fail(&f, NULL);
	assert_int_equal(failsafe_resume(n_db, "notify test: done", "notify-tests"), 0);
	assert_int_equal(mails_to(f.o.acc.email, NULL), 0);
	p[0] = f.o.biz;
	assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM office_mails WHERE business_id ="
					   " $1::bigint", 1, p), 0);
	office_mail_once_or_fail(&f, NULL);
	assert_int_equal(mails_to(f.o.acc.email, NULL), 1);
	nfix_free(&f);
}

/* ---- the group ------------------------------------------------------------------ */

static int group_setup(void **state)
{
	char err[256];
	time_t t = time(NULL);
	struct tm tm;

	(void)state;
	if (hx_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "notify tests: %s\n", err);
		return -1;
	}
	if ((bin_path = hx_ringfence_bin("notify")) == NULL)
		return -1;
	if ((mail_dir = hx_mail_dir("notify")) == NULL)
		return -1;
	n_db = db_open(hx_env.database_url);
	n_rds = rds_open(hx_env.redis_url);
	if (n_db == NULL || n_rds == NULL || db_connect(n_db) < 0) {
		fprintf(stderr, "notify tests: cannot connect to the stack's database or Redis\n");
		return -1;
	}
	gmtime_r(&t, &tm);
	n_hour = (tm.tm_hour + 12) % 24;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (n_db)
		db_close(n_db);
	if (n_rds)
		rds_close(n_rds);
	free(mail_dir);
	hx_fini();
	return 0;
}

int notify_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_confirm_told),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_unreached_call),
		cmocka_unit_test(test_unreached_invalid),
		cmocka_unit_test(test_unreached_undelivered),
		cmocka_unit_test(test_unreached_email),
		cmocka_unit_test(test_mark_seen),
		cmocka_unit_test(test_isolation_and_input),
		cmocka_unit_test(test_failsafe_holds),
	};
	return cmocka_run_group_tests_name("integration: notify", tests, group_setup, group_teardown);
}

/* Integration tests: email reminders through the stack, from the worker
 * to the SMTP sink, and their one-click unsubscribe link (RFC 8058)
 * through nginx and the FastCGI pool: the email's own wording, both
 * headers, a link whose POST opts the client out and whose GET does not,
 * tampered links refused with nothing changed, and no reminder of any
 * channel after unsubscribing. */
#include "harness.h"
#include "config.h"
#include "queue.h"
#include "rds.h"
#include "unsubscribe.h"
#include "util.h"

#include <ctype.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define E_TIMEOUT_S 60
/* In the business's name: the HTML part must escape it, the text keep it. */
#define E_BUSINESS "Email <Test> & Clinic"

static const char *bin_path;
static char *mail_dir;
static struct rds *e_rds;
static int e_initialised;

/* A business (calling window all day), a client with a fresh phone and
 * email, an appointment tomorrow and one email reminder due a minute ago. */
static void fixture_or_fail(struct hx_rfix *f)
{
	const struct hx_rfix_opts o = { .business_name = E_BUSINESS,
		.client_name = "Email Test Client", .channel = "email", .email_prefix = "e",
		.notes = "CONFIDENTIAL-NOTE", .retry_count = 1, .retry_delay_minutes = 30,
		.stale_min = 120 };
	hx_rfix_or_fail(f, &o);
}

/* Another reminder of f's appointment on channel (offset 60), due now;
 * its id. */
static long long another_reminder_or_fail(const struct hx_rfix *f, const char *channel)
{
	const char *p[4] = { f->business, f->appt, channel,
		strcmp(channel, "email") == 0 ? f->email : f->phone };
	return hx_db_int_or_fail(
		"INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes, due_at,"
		" stale_at, to_address) VALUES ($1::bigint, $2::bigint, $3, 60,"
		" now() - interval '1 minute', now() + interval '2 hours', $4) RETURNING id", 4, p);
}

/* Whether the client is opted out. */
static int opted_out(const struct hx_rfix *f)
{
	const char *p[1] = { f->client };
	return hx_db_int_or_fail(
		"SELECT count(*) FROM clients WHERE id = $1::bigint AND opted_out_at IS NOT NULL", 1, p) ==
		1;
}

/* Runs `bin/ringfence worker --once` with only the fixture's addresses
 * allowed; fails the test unless it exits 0 within E_TIMEOUT_S. */
static void worker_once_or_fail(const struct hx_rfix *f, long long reminder_id)
{
	int rc;
	pid_t pid;

	assert_int_equal(queue_push(e_rds, &reminder_id, 1), 0);
	pid = fork();
	if (pid == 0) {
		char *allowed = xasprintf("%s,%s", f->email, f->phone);
		hx_worker_child_env(allowed);
		execl(bin_path, bin_path, "worker", "--once", (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	rc = hx_wait_child(pid, E_TIMEOUT_S);
	if (rc == -1)
		fail_msg("the worker did not finish within %d s", E_TIMEOUT_S);
	assert_int_equal(rc, 0);
}

/* The paths of the sink's messages to address, newline-separated
 * (caller frees), and their number. */
static char *mails_to(const char *address, int *count)
{
	/* The address is fresh and random: a file naming it is a message to it. */
	char *cmd = xasprintf("grep -l -F -- '%s' '%s'/*.eml 2>/dev/null", address, mail_dir);
	struct buf b = BUF_INIT;
	char line[1024];
	FILE *pipe = popen(cmd, "r");
	int n = 0;

	assert_non_null(pipe);
	while (fgets(line, sizeof(line), pipe)) {
		buf_puts(&b, line);
		n++;
	}
	pclose(pipe);
	free(cmd);
	*count = n;
	return xstrdup(buf_str(&b));
}

/* The message (headers unfolded, the body quoted-printable decoded) of
 * the one mail to address; fails unless there is exactly one. */
static char *the_mail_or_fail(const char *address)
{
	int n;
	char *paths = mails_to(address, &n), *raw, *out, *o;
	size_t len, body_at;

	if (n != 1)
		fail_msg("%d messages to %s in %s, expected 1", n, address, mail_dir);
	paths[strcspn(paths, "\n")] = '\0';
	raw = util_read_file(paths, 1 << 20, &len);
	assert_non_null(raw);
	out = xmalloc(len + 1);
	o = out;
	/* Headers are not quoted-printable: decode only after them. */
	body_at = strstr(raw, "\r\n\r\n") ? (size_t)(strstr(raw, "\r\n\r\n") - raw) : len;
	for (size_t i = 0; i < len; i++) {
		if (raw[i] == '\r' && i + 2 < len && raw[i + 1] == '\n' &&
			(raw[i + 2] == ' ' || raw[i + 2] == '\t')) {
			i += 1; /* a folded header line: CRLF dropped, the space kept */
			continue;
		}
		if (i < body_at) {
			*o++ = raw[i];
			continue;
		}
		if (raw[i] == '=' && i + 2 < len && raw[i + 1] == '\r' && raw[i + 2] == '\n') {
			i += 2; /* a soft line break */
			continue;
		}
		if (raw[i] == '=' && i + 2 < len && isxdigit((unsigned char)raw[i + 1]) &&
			isxdigit((unsigned char)raw[i + 2])) {
			char h[3] = { raw[i + 1], raw[i + 2], '\0' };
			*o++ = (char)strtol(h, NULL, 16);
			i += 2;
			continue;
		}
		*o++ = raw[i];
	}
	*o = '\0';
	free(raw);
	free(paths);
	return out;
}

/* The value of header name in msg (first one), malloc'd, or NULL. */
static char *header_value(const char *msg, const char *name)
{
	char *needle = xasprintf("\r\n%s: ", name);
	const char *h = strstr(msg, needle), *end;
	char *v = NULL;
	if (h) {
		h += strlen(needle);
		end = strstr(h, "\r\n");
		v = xstrndup(h, end ? (size_t)(end - h) : strlen(h));
	}
	free(needle);
	return v;
}

/* method on url (absolute) with an optional form body; status in *status
 * and the body (caller frees). */
static char *request_or_fail(const char *method, const char *url, const char *body,
	const char *content_type, long *status)
{
	struct hx_request rq;
	struct hx_response rs;
	char *out;

	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	rq.method = method;
	rq.url = url;
	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	rq.content_type = content_type;
	if (hx_http(NULL, &rq, &rs) < 0)
		fail_msg("%s %s: %s", method, url, rs.error);
	*status = rs.status;
	if (rs.status != 405)
		assert_non_null(strstr(rs.content_type, "text/html"));
	out = xstrdup(buf_str(&rs.body));
	hx_response_free(&rs);
	return out;
}

/* The fixture's link as ringfence makes it (the stack's auth token). */
static char *link_for(const struct hx_rfix *f)
{
	struct config cfg;
	char *url;
	memset(&cfg, 0, sizeof(cfg));
	cfg.public_url = hx_env.public_url;
	cfg.auth_token = hx_env.auth_token;
	url = unsubscribe_url(&cfg, atoll(f->client), atoll(f->business));
	assert_non_null(url);
	return url;
}

/* ---- tests ------------------------------------------------------------------ */

/* The email reminder says email things, carries both RFC 8058 headers and
 * the same link in its text and (escaped) HTML parts; a GET of the link
 * shows a confirm form and changes nothing; its one-click POST opts the
 * client out and is audited; afterwards no reminder of any channel goes
 * to that client. */
static void test_email_link_unsubscribes(void **state)
{
	struct hx_rfix f;
	char *msg, *lu, *lup, *url, *body, *want, *html_url, *key, err[256];
	long status;
	int n;
	json_t *audit;

	fixture_or_fail(&f);
	worker_once_or_fail(&f, atoll(f.reminder));
	msg = the_mail_or_fail(f.email);

	/* Wording: the email's own, no SMS instruction, no notes. */
	assert_non_null(strstr(msg, "This is a reminder from " E_BUSINESS ": you have an appointment"));
	assert_non_null(strstr(msg, "To stop all appointment reminders from " E_BUSINESS));
	assert_non_null(strstr(msg, "Email &lt;Test&gt; &amp; Clinic"));
	assert_null(strstr(msg, "Reply STOP"));
	assert_null(strstr(msg, "texts."));
	assert_null(strstr(msg, "CONFIDENTIAL"));

	/* Headers: one HTTP URI, and one-click. */
	lu = header_value(msg, "List-Unsubscribe");
	lup = header_value(msg, "List-Unsubscribe-Post");
	assert_non_null(lu);
	assert_non_null(lup);
	assert_string_equal(lup, "List-Unsubscribe=One-Click");
	assert_true(lu[0] == '<' && lu[strlen(lu) - 1] == '>');
	url = xstrndup(lu + 1, strlen(lu) - 2);
	want = link_for(&f);
	assert_string_equal(url, want);
	/* The same link in the text part, and &-escaped in the HTML's href. */
	{
		char *text_line = xasprintf("unsubscribe here:\r\n%s\r\n", url);
		struct buf esc = BUF_INIT;
		for (const char *p = url; *p; p++)
			if (*p == '&')
				buf_puts(&esc, "&amp;");
			else
				buf_putc(&esc, *p);
		html_url = xasprintf("href=\"%s\"", buf_str(&esc));
		assert_non_null(strstr(msg, text_line));
		assert_non_null(strstr(msg, html_url));
		free(text_line);
		buf_free(&esc);
	}

	/* GET, twice (a link scanner, then the person): a form, no change. */
	for (int i = 0; i < 2; i++) {
		body = request_or_fail("GET", url, NULL, NULL, &status);
		assert_int_equal(status, 200);
		assert_non_null(strstr(body, "<form method=\"post\""));
		assert_non_null(strstr(body, "name=\"List-Unsubscribe\" value=\"One-Click\""));
		assert_non_null(strstr(body, "Email &lt;Test&gt; &amp; Clinic"));
		assert_null(strstr(body, E_BUSINESS));
		free(body);
		assert_false(opted_out(&f));
	}

	/* The one-click POST, as a mail provider sends it. */
	body = request_or_fail("POST", url, "List-Unsubscribe=One-Click",
		"application/x-www-form-urlencoded", &status);
	assert_int_equal(status, 200);
	assert_non_null(strstr(body, "You are unsubscribed"));
	free(body);
	assert_true(opted_out(&f));
	/* Named as the link's, so that a texted START does not lift it. */
	{
		const char *p[1] = { f.client };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM clients WHERE id = $1::bigint"
			" AND opted_out_by = 'unsubscribe link'", 1, p), 1);
	}
	key = xasprintf("audit:business:%s", f.business);
	audit = hx_audit_read(key, 0, err, sizeof(err));
	assert_non_null(audit);
	assert_int_equal(hx_audit_count(audit, "kind", "unsubscribe", "verdict", "unsubscribed", NULL),
		1);
	json_decref(audit);
	/* Again: still 200, still opted out, the page says so. */
	body = request_or_fail("GET", url, NULL, NULL, &status);
	assert_int_equal(status, 200);
	assert_non_null(strstr(body, "You are unsubscribed"));
	assert_null(strstr(body, "<form"));
	free(body);

	/* No further reminder, by email or by phone. */
	{
		long long r_email = another_reminder_or_fail(&f, "email");
		long long r_sms = another_reminder_or_fail(&f, "sms");
		char ids[2][24];
		snprintf(ids[0], sizeof(ids[0]), "%lld", r_email);
		snprintf(ids[1], sizeof(ids[1]), "%lld", r_sms);
		worker_once_or_fail(&f, r_email);
		worker_once_or_fail(&f, r_sms);
		const char *p[2] = { ids[0], ids[1] };
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM contact_attempts"
						   " WHERE reminder_id IN ($1::bigint, $2::bigint)", 2, p), 0);
		assert_int_equal(hx_db_int_or_fail("SELECT count(*) FROM reminders WHERE id IN"
						   " ($1::bigint, $2::bigint) AND status = 'placed'", 2, p), 0);
		free(mails_to(f.email, &n));
		assert_int_equal(n, 1);
	}
	free(key);
	free(html_url);
	free(want);
	free(url);
	free(lu);
	free(lup);
	free(msg);
}

/* Tampered, foreign, incomplete or wrongly posted links are refused with
 * a 4xx page and change nothing; the multipart/form-data one-click body
 * some providers send works. */
static void test_tampered_refused(void **state)
{
	struct hx_rfix f, other;
	char *url, *bad, *body, *t;
	long status;
	struct {
		const char *method, *body;
		long status;
	} tries[] = { { "GET", NULL, 0 }, { "POST", "List-Unsubscribe=One-Click", 0 } };

	fixture_or_fail(&f);
	fixture_or_fail(&other);
	url = link_for(&f);
	t = strstr(url, "&t=") + 3;

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		const char *m = tries[i].method, *b = tries[i].body;
		const char *ct = b ? "application/x-www-form-urlencoded" : NULL;
		/* One hex digit of the token changed. */
		bad = xstrdup(url);
		bad[t - url] = t[0] == '0' ? '1' : '0';
		free(request_or_fail(m, bad, b, ct, &status));
		assert_int_equal(status, 403);
		free(bad);
		/* The token in upper case. */
		bad = xstrdup(url);
		for (char *p = bad + (t - url); *p; p++)
			*p = (char)toupper((unsigned char)*p);
		free(request_or_fail(m, bad, b, ct, &status));
		assert_int_equal(status, 403);
		free(bad);
		/* The token of f for the other client, and for the other business. */
		bad = xasprintf("%s/unsubscribe?c=%s&b=%s&t=%s", hx_env.public_url, other.client,
			f.business, t);
		free(request_or_fail(m, bad, b, ct, &status));
		assert_int_equal(status, 403);
		free(bad);
		bad = xasprintf("%s/unsubscribe?c=%s&b=%s&t=%s", hx_env.public_url, f.client,
			other.business, t);
		free(request_or_fail(m, bad, b, ct, &status));
		assert_int_equal(status, 403);
		free(bad);
		/* Incomplete or padded. */
		bad = xasprintf("%s/unsubscribe?c=%s&b=%s", hx_env.public_url, f.client, f.business);
		free(request_or_fail(m, bad, b, ct, &status));
		assert_int_equal(status, 400);
		free(bad);
		bad = xasprintf("%s&t=%s", url, t);
		free(request_or_fail(m, bad, b, ct, &status));
		assert_int_equal(status, 400);
		free(bad);
		bad = xasprintf("%s/unsubscribe?c=0%s&b=%s&t=%s", hx_env.public_url, f.client,
			f.business, t);
		free(request_or_fail(m, bad, b, ct, &status));
		assert_int_equal(status, 400);
		free(bad);
	}
	/* A valid link POSTed without the one-click body, or with another. */
	free(request_or_fail("POST", url, "", "application/x-www-form-urlencoded", &status));
	assert_int_equal(status, 400);
	free(request_or_fail("POST", url, "List-Unsubscribe=Yes", "application/x-www-form-urlencoded",
		&status));
	assert_int_equal(status, 400);
	free(request_or_fail("POST", url, "List-Unsubscribe=One-Click", "text/plain", &status));
	assert_int_equal(status, 400);
	/* Another method. */
	free(request_or_fail("PUT", url, "List-Unsubscribe=One-Click",
		"application/x-www-form-urlencoded", &status));
	assert_int_equal(status, 405);
	assert_false(opted_out(&f));
	assert_false(opted_out(&other));
	/* Refusals are unverified requests: summaries in audit:rejected only,
	 * nothing in audit:all, where a flood of forged links would push real
	 * records out. */
	{
		char err[256];
		json_t *rej = hx_audit_read_newest("audit:rejected", 200, err, sizeof(err));
		json_t *all = hx_audit_read_newest("audit:all", 200, err, sizeof(err));
		assert_non_null(rej);
		assert_non_null(all);
		if (hx_audit_count(rej, "path", "/unsubscribe", "verdict", "token does not verify",
			    NULL) < 8)
			fail_msg("refused unsubscribe links are not summarised in audit:rejected");
		assert_int_equal(hx_audit_count(all, "kind", "unsubscribe", "verdict", "refused",
					 NULL), 0);
		assert_int_equal(hx_audit_count(all, "reason", "token does not verify", NULL), 0);
		json_decref(rej);
		json_decref(all);
	}

	/* multipart/form-data, as some mail providers post it. */
	body = xstrdup("--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
		       "One-Click\r\n--XyZ--\r\n");
	free(request_or_fail("POST", url, body, "multipart/form-data; boundary=XyZ", &status));
	assert_int_equal(status, 200);
	assert_true(opted_out(&f));
	assert_false(opted_out(&other));
	free(body);
	free(url);
}

/* ---- the group --------------------------------------------------------------- */

static int group_setup(void **state)
{
	char err[256];
	if (hx_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "email tests: %s\n", err);
		return -1;
	}
	if ((bin_path = hx_ringfence_bin("email")) == NULL)
		return -1;
	if ((mail_dir = hx_mail_dir("email")) == NULL)
		return -1;
	e_rds = rds_open(hx_env.redis_url);
	if (e_rds == NULL)
		return -1;
	e_initialised = 1;
	return 0;
}

static int group_teardown(void **state)
{
	if (e_initialised)
		rds_close(e_rds);
	free(mail_dir);
	hx_fini();
	return 0;
}

int email_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_email_link_unsubscribes),
		cmocka_unit_test(test_tampered_refused),
	};
	return cmocka_run_group_tests_name("integration: email", tests, group_setup, group_teardown);
}

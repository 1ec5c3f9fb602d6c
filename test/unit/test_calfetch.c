/* Unit tests: calfetch_get against bin/http-fixture (started here on a
 * socket this program bound, serving a temporary directory), and every
 * refusal: HTTP errors, a timeout, a redirect loop and too many
 * redirects, a 50 MB body, a web page, http:// and local addresses when
 * not allowed, credentials in the URL. */
#include "unit.h"

#include "calfetch.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static pid_t fixture_pid;
static int fixture_port;
static char fixture_dir[] = "/tmp/calfetch-XXXXXX";

static const char feed_v1[] = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
			      "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261208T100000Z\r\nEND:VEVENT\r\n"
			      "END:VCALENDAR\r\n";
static const char feed_v2[] = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
			      "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261208T110000Z\r\nEND:VEVENT\r\n"
			      "END:VCALENDAR\r\n";

static void write_feed(const char *name, const char *text)
{
	char path[256], tmp[260];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", fixture_dir, name);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

static int start_fixture(void **state)
{
	int s = unit_bound_socket(&fixture_port);
	char fd[16];
	if (mkdtemp(fixture_dir) == NULL)
		return -1;
	assert_int_equal(listen(s, 64), 0);
	fixture_pid = fork();
	if (fixture_pid == 0) {
		int flags = fcntl(s, F_GETFD);
		fcntl(s, F_SETFD, flags & ~FD_CLOEXEC);
		snprintf(fd, sizeof fd, "%d", s);
		execl("bin/http-fixture", "http-fixture", "--fd", fd, "--dir", fixture_dir, (char *)NULL);
		fprintf(stderr, "cannot run bin/http-fixture (make bin/http-fixture): %s\n", strerror(errno));
		_exit(127);
	}
	close(s);
	write_feed("feed.ics", feed_v1);
	return fixture_pid > 0 ? 0 : -1;
}

static int stop_fixture(void **state)
{
	char cmd[300];
	if (fixture_pid > 0) {
		kill(fixture_pid, SIGTERM);
		waitpid(fixture_pid, NULL, 0);
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fixture_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *url_of(const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", fixture_port, path);
}

static struct calfetch_req req_for(const char *url)
{
	struct calfetch_req r = { url, NULL, NULL, 1 << 20, 2000, 5000, 3, 1 };
	return r;
}

/* How many requests the fixture saw for path. */
static long count_of(const char *path)
{
	char *url = xasprintf("http://127.0.0.1:%d/_count?path=%s", fixture_port, path);
	struct calfetch_req r = req_for(url);
	struct calfetch_res res;
	long n;
	assert_int_equal(calfetch_get(&r, &res), 0);
	n = strtol(res.body, NULL, 10);
	calfetch_res_free(&res);
	free(url);
	return n;
}

static void conditional_get(void **state)
{
	char *url = url_of("/feed.ics");
	struct calfetch_req r = req_for(url);
	struct calfetch_res res, res2;
	char etag[256], lm[64];

	assert_int_equal(calfetch_get(&r, &res), 0);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.not_modified, 0);
	assert_string_equal(res.error, "");
	assert_int_equal(res.len, strlen(feed_v1));
	assert_string_equal(res.body, feed_v1);
	assert_true(res.etag[0] == '"');
	assert_non_null(strstr(res.last_modified, " GMT"));
	strcpy(etag, res.etag);
	strcpy(lm, res.last_modified);
	calfetch_res_free(&res);
	assert_null(res.body);

	/* the second GET is conditional: 304, no body */
	r.etag = etag;
	r.last_modified = lm;
	assert_int_equal(calfetch_get(&r, &res2), 0);
	assert_int_equal(res2.status, 304);
	assert_int_equal(res2.not_modified, 1);
	assert_null(res2.body);
	assert_string_equal(res2.etag, etag);
	calfetch_res_free(&res2);
	/* Last-Modified alone */
	r.etag = NULL;
	assert_int_equal(calfetch_get(&r, &res2), 0);
	assert_int_equal(res2.not_modified, 1);
	calfetch_res_free(&res2);
	assert_int_equal(count_of("/feed.ics"), 3);

	/* the feed changes: the old ETag gets the new body */
	write_feed("feed.ics", feed_v2);
	r.etag = etag;
	r.last_modified = NULL;
	assert_int_equal(calfetch_get(&r, &res2), 0);
	assert_int_equal(res2.status, 200);
	assert_string_equal(res2.body, feed_v2);
	assert_string_not_equal(res2.etag, etag);
	calfetch_res_free(&res2);
	write_feed("feed.ics", feed_v1);
	free(url);
}

/* Expects a refusal whose error starts with (or, with a leading '*',
 * contains) want; returns the result's status. */
static int refused(const struct calfetch_req *r, const char *want)
{
	struct calfetch_res res;
	int status;
	memset(&res, 0x5a, sizeof res);
	assert_int_equal(calfetch_get(r, &res), -1);
	assert_null(res.body);
	assert_int_equal(res.len, 0);
	assert_int_equal(res.not_modified, 0);
	if (want[0] == '*' ? strstr(res.error, want + 1) == NULL :
			     strncmp(res.error, want, strlen(want)) != 0)
		fail_msg("%s: error \"%s\", want \"%s\"", r->url, res.error, want);
	status = res.status;
	calfetch_res_free(&res);
	return status;
}

static void http_errors(void **state)
{
	char *u500 = url_of("/status/500"), *u404 = url_of("/missing.ics"),
	     *u503 = url_of("/status/503");
	struct calfetch_req r = req_for(u500);
	assert_int_equal(refused(&r, "HTTP 500"), 500);
	r.url = u503;
	assert_int_equal(refused(&r, "HTTP 503"), 503);
	r.url = u404;
	assert_int_equal(refused(&r, "HTTP 404: no calendar at this address"), 404);
	free(u500);
	free(u404);
	free(u503);
}

static void timeout(void **state)
{
	char *url = url_of("/slow");
	struct calfetch_req r = req_for(url);
	long long t0 = util_now_ms();
	r.total_ms = 700;
	refused(&r, "the calendar server did not answer within 700 ms");
	assert_true(util_now_ms() - t0 < 20000); /* a runaway bound, not a speed claim */
	/* the slow answer blocks nobody else */
	struct calfetch_req r2 = req_for(url);
	char *ok = url_of("/feed.ics");
	struct calfetch_res res;
	r2.url = ok;
	assert_int_equal(calfetch_get(&r2, &res), 0);
	calfetch_res_free(&res);
	free(ok);
	free(url);
}

static void redirects(void **state)
{
	char *loop = url_of("/loop"), *two = url_of("/redirect/redirect/feed.ics"),
	     *abs = url_of("/absolute/feed.ics");
	struct calfetch_req r = req_for(loop);
	struct calfetch_res res;
	long before = count_of("/loop");

	refused(&r, "the address redirects in a loop");
	assert_int_equal(count_of("/loop") - before, 1);

	r.url = two;
	r.max_redirects = 1;
	assert_int_equal(refused(&r, "the address redirects more than 1 times"), 302);
	r.max_redirects = 0;
	refused(&r, "the address redirects more than 0 times");
	r.max_redirects = 2;
	assert_int_equal(calfetch_get(&r, &res), 0);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.body, feed_v1);
	calfetch_res_free(&res);

	r.url = abs;
	assert_int_equal(calfetch_get(&r, &res), 0);
	assert_string_equal(res.body, feed_v1);
	calfetch_res_free(&res);
	free(loop);
	free(two);
	free(abs);
}

static void huge(void **state)
{
	char *url = url_of("/huge"), *url2 = url_of("/huge-length");
	struct calfetch_req r = req_for(url);
	long long t0 = util_now_ms();
	r.max_bytes = 1 << 20;
	assert_int_equal(refused(&r, "the calendar is larger than 1048576 bytes"), 200);
	r.url = url2;
	refused(&r, "the calendar is larger than 1048576 bytes");
	/* stopped at the cap, not after reading 50 MB */
	assert_true(util_now_ms() - t0 < 20000); /* a runaway bound, not a speed claim */
	free(url);
	free(url2);
}

static void html(void **state)
{
	char *url = url_of("/html");
	struct calfetch_req r = req_for(url);
	refused(&r, "the address gives a web page, not a calendar");
	free(url);
}

/* Validators that are not UTF-8 (HTTP allows obs-text) are dropped, not
 * kept: they are stored in a text column and sent back later.  The body
 * is fetched all the same. */
static void latin1_validators(void **state)
{
	char *url = url_of("/latin1-validators");
	struct calfetch_req r = req_for(url);
	struct calfetch_res res;

	assert_int_equal(calfetch_get(&r, &res), 0);
	assert_int_equal(res.status, 200);
	assert_true(res.len > 0);
	assert_string_equal(res.etag, "");
	assert_string_equal(res.last_modified, "");
	calfetch_res_free(&res);
	free(url);
}

static void refused_addresses(void **state)
{
	char *url = url_of("/feed.ics");
	char *https_local = xasprintf("https://127.0.0.1:%d/feed.ics", fixture_port);
	char *webcal_local = xasprintf("webcal://localhost:%d/feed.ics", fixture_port);
	struct calfetch_req r = req_for(url);
	long before = count_of("/feed.ics");

	r.allow_http = 0;
	refused(&r, "only https:// (or webcal://) addresses are accepted, not http://");
	/* https to the server's own network: refused before connecting */
	r.url = https_local;
	refused(&r, "the address leads to a private or local network");
	/* webcal:// is https://, so the same */
	r.url = webcal_local;
	refused(&r, "the address leads to a private or local network");
	assert_int_equal(count_of("/feed.ics"), before);

	r.allow_http = 1;
	r.url = "ftp://example.com/feed.ics";
	refused(&r, "only https:// (or webcal://) addresses are accepted, not ftp://");
	r.url = "https://user:secret@calendar.example.com/feed.ics";
	refused(&r, "the address holds a user name or password");
	r.url = "https://calendar.example.com/feed ics";
	refused(&r, "the address holds a space");
	r.url = "";
	refused(&r, "the address is empty");
	r.url = "notaurl";
	refused(&r, "the address is not a web address");
	r.url = "https://";
	refused(&r, "the address is not a web address");
	r.url = url;
	r.total_ms = 0;
	refused(&r, "the request has no size limit or timeout");
	r.total_ms = 5000;
	r.max_redirects = CALFETCH_MAX_REDIRECTS + 1;
	refused(&r, "the request has no size limit or timeout, or too many redirects allowed");
	free(url);
	free(https_local);
	free(webcal_local);
}

static void blocked_addresses(void **state)
{
	static const struct {
		const char *addr;
		int blocked;
	} t[] = {
		{ "127.0.0.1", 1 }, { "127.9.9.9", 1 }, { "0.0.0.0", 1 }, { "10.1.2.3", 1 },
		{ "172.16.0.1", 1 }, { "172.31.255.255", 1 }, { "172.32.0.1", 0 },
		{ "192.168.1.1", 1 }, { "169.254.169.254", 1 }, { "100.64.0.1", 1 },
		{ "224.0.0.1", 1 }, { "255.255.255.255", 1 }, { "8.8.8.8", 0 },
		{ "142.250.1.1", 0 }, { "::1", 1 }, { "::", 1 }, { "fe80::1", 1 }, { "fc00::1", 1 },
		{ "fd12:3456::1", 1 }, { "::ffff:10.0.0.1", 1 }, { "::ffff:127.0.0.1", 1 },
		{ "::ffff:8.8.8.8", 0 }, { "ff02::1", 1 }, { "2001:4860:4860::8888", 0 },
		{ "2002:0a00:0001::1", 1 }, { "192.0.0.8", 1 }, { "192.0.2.1", 0 },
		{ "198.18.0.1", 1 }, { "198.19.255.255", 1 }, { "198.20.0.1", 0 },
		{ "2001:0:4136:e378::1", 1 },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof ss);
		if (strchr(t[i].addr, ':') != NULL) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			assert_int_equal(inet_pton(AF_INET6, t[i].addr, &s6->sin6_addr), 1);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			assert_int_equal(inet_pton(AF_INET, t[i].addr, &s4->sin_addr), 1);
		}
		if (calfetch_address_blocked((struct sockaddr *)&ss) != t[i].blocked)
			fail_msg("%s: blocked %d, want %d", t[i].addr, !t[i].blocked, t[i].blocked);
	}
}

static void mask(void **state)
{
	char out[128];
	calfetch_mask_url("https://calendar.google.com/calendar/ical/abc%40group.calendar.google.com/"
			  "private-0123456789abcdef/basic.ics", out, sizeof out);
	assert_string_equal(out, "https://calendar.google.com/\xe2\x80\xa6");
	calfetch_mask_url("webcal://p42-caldav.icloud.com/published/2/SECRET", out, sizeof out);
	assert_string_equal(out, "webcal://p42-caldav.icloud.com/\xe2\x80\xa6");
	calfetch_mask_url("https://outlook.office365.com/owa/calendar/x@y.com/secret/calendar.ics",
		out, sizeof out);
	assert_string_equal(out, "https://outlook.office365.com/\xe2\x80\xa6");
	calfetch_mask_url("https://user:pw@example.com/x", out, sizeof out);
	assert_string_equal(out, "https://example.com/\xe2\x80\xa6");
	calfetch_mask_url("not a url", out, sizeof out);
	assert_string_equal(out, "");
	calfetch_mask_url(NULL, out, sizeof out);
	assert_string_equal(out, "");
	calfetch_mask_url("https://calendar.google.com/x", out, 10); /* too small: nothing */
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(conditional_get),
		cmocka_unit_test(http_errors),
		cmocka_unit_test(timeout),
		cmocka_unit_test(redirects),
		cmocka_unit_test(huge),
		cmocka_unit_test(html),
		cmocka_unit_test(latin1_validators),
		cmocka_unit_test(refused_addresses),
		cmocka_unit_test(blocked_addresses),
		cmocka_unit_test(mask),
	};
	return cmocka_run_group_tests(tests, start_fixture, stop_fixture);
}

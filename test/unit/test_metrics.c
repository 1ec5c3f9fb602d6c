/* Unit tests: who may read /healthz, /readyz and /metrics
 * (metrics_addr_allowed, metrics_addr_list_check), the route kinds, and
 * the shared counter segment (processes adding at once, a segment of
 * another layout replaced). */
#include "unit.h"

#include "heartbeat.h"
#include "metrics.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

static void test_addr_allowed(void **state)
{
	static const struct {
		const char *list, *addr;
		int want;
	} t[] = {
		{ NULL, "127.0.0.1", 1 },
		{ NULL, "::1", 1 },
		{ NULL, "::ffff:127.0.0.1", 1 },
		{ NULL, "127.0.0.2", 0 },   /* loopback is 127.0.0.1 exactly, as in nginx */
		{ NULL, "10.1.2.3", 0 },
		{ NULL, "", 0 },
		{ NULL, NULL, 0 },
		{ NULL, "not an address", 0 },
		{ "", "10.1.2.3", 0 },
		{ "10.0.0.0/8", "10.1.2.3", 1 },
		{ "10.0.0.0/8", "11.1.2.3", 0 },
		{ "10.0.0.0/8", "::ffff:10.9.9.9", 1 },
		{ "192.0.2.7", "192.0.2.7", 1 },
		{ "192.0.2.7", "192.0.2.8", 0 },
		{ "192.0.2.0/25", "192.0.2.127", 1 },
		{ "192.0.2.0/25", "192.0.2.128", 0 },
		{ "10.0.0.0/8, fd00::/8", "fd12::5", 1 },
		{ "10.0.0.0/8 fd00::/8", "fe80::1", 0 },
		{ "0.0.0.0/0", "203.0.113.9", 1 },
		{ "0.0.0.0/0", "2001:db8::1", 0 },
		{ "2001:db8::/32", "2001:db8:ffff::1", 1 },
		{ "2001:db8::/33", "2001:db8:ffff::1", 0 },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		if (metrics_addr_allowed(t[i].list, t[i].addr) != t[i].want)
			fail_msg("list '%s' addr '%s': want %d", t[i].list ? t[i].list : "(null)",
				t[i].addr ? t[i].addr : "(null)", t[i].want);
}

static void test_addr_list_check(void **state)
{
	static const char *const good[] = { NULL, "", "10.0.0.0/8", "10.0.0.0/8,192.0.2.1",
		" 10.0.0.0/8 ,  fd00::/8 ", "::/0", "0.0.0.0/0", "192.0.2.1/32" };
	static const char *const bad[] = { "10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "fd00::/129",
		"example.com", "10.0.0.0/8;11.0.0.0/8", "10.0.0.0/-1", "10.0.0.0/8x",
		"10.0.0.0/8,bogus" };
	char err[256];
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		if (metrics_addr_list_check(good[i], err, sizeof(err)) != 0)
			fail_msg("'%s' refused: %s", good[i] ? good[i] : "(null)", err);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		if (metrics_addr_list_check(bad[i], err, sizeof(err)) != -1)
			fail_msg("'%s' accepted", bad[i]);
		assert_non_null(strstr(err, "RINGFENCE_MONITORING_ADDRESSES"));
	}
}

static void test_route_of(void **state)
{
	(void)state;
	assert_int_equal(metrics_route_of("/twilio/voice/reminder_call"), MR_WEBHOOK);
	assert_int_equal(metrics_route_of("/twilio/"), MR_WEBHOOK);
	assert_int_equal(metrics_route_of("/api/v1/clients/5"), MR_API);
	assert_int_equal(metrics_route_of("/static/app.css"), MR_STATIC);
	assert_int_equal(metrics_route_of("/healthz"), MR_HEALTH);
	assert_int_equal(metrics_route_of("/readyz"), MR_HEALTH);
	assert_int_equal(metrics_route_of("/metrics"), MR_HEALTH);
	assert_int_equal(metrics_route_of("/metrics/x"), MR_DASHBOARD);
	assert_int_equal(metrics_route_of("/"), MR_DASHBOARD);
	assert_int_equal(metrics_route_of("/clients/7/edit"), MR_DASHBOARD);
}

/* The sum of every counter of the segment file (after its 32-byte header). */
static unsigned long long segment_sum(const char *path, unsigned *layout)
{
	int fd = open(path, O_RDONLY);
	unsigned char head[32];
	uint64_t v;
	unsigned long long t = 0;

	assert_true(fd >= 0);
	assert_int_equal(read(fd, head, sizeof(head)), (ssize_t)sizeof(head));
	memcpy(layout, head + 8, 4);
	while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		t += v;
	close(fd);
	return t;
}

#define CHILDREN 8
#define ADDS 20000

static void test_segment_shared(void **state)
{
	char dir[] = "/tmp/rf-unit-metrics-XXXXXX", path[256];
	unsigned layout;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/metrics-worker.seg", dir);
	/* Adds before the segment is open count nowhere, and do not crash. */
	metrics_optout_unrecorded();
	for (int c = 0; c < CHILDREN; c++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (metrics_open(dir, METRICS_WORKER) < 0)
				_exit(2);
			for (int i = 0; i < ADDS; i++)
				metrics_optout_unrecorded();
			metrics_close();
			_exit(0);
		}
	}
	for (int c = 0; c < CHILDREN; c++) {
		int st;
		assert_true(wait(&st) > 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(segment_sum(path, &layout), (unsigned long long)CHILDREN * ADDS);

	/* Opened again (a respawn): the counts stay. */
	assert_int_equal(metrics_open(dir, METRICS_WORKER), 0);
	metrics_claim(MCL_CLAIMED);
	metrics_close();
	assert_int_equal(segment_sum(path, &layout), (unsigned long long)CHILDREN * ADDS + 1);

	/* Another layout: a fresh segment (a counter reset), never an add
	 * into numbers that mean something else. */
	{
		int fd = open(path, O_WRONLY);
		unsigned other = layout + 1;
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, &other, 4, 8), 4);
		close(fd);
	}
	assert_int_equal(metrics_open(dir, METRICS_WORKER), 0);
	metrics_optout_unrecorded();
	metrics_close();
	assert_int_equal(segment_sum(path, &layout), 1ULL);
	unlink(path);
	rmdir(dir);
}

/* sd_notify's protocol: one datagram to $NOTIFY_SOCKET; nothing without it. */
static void test_notify(void **state)
{
	char dir[] = "/tmp/rf-unit-notify-XXXXXX", path[64], got[64];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	ssize_t n;
	int fd;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(heartbeat_notify("READY=1"), 0);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(heartbeat_notify("WATCHDOG=1"), 1);
	n = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);
	assert_int_equal(n, 10);
	got[n] = '\0';
	assert_string_equal(got, "WATCHDOG=1");
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(heartbeat_notify("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");
	close(fd);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_allowed),
		cmocka_unit_test(test_addr_list_check),
		cmocka_unit_test(test_route_of),
		cmocka_unit_test(test_segment_shared),
		cmocka_unit_test(test_notify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

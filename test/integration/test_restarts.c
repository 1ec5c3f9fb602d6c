/* Integration: the contact limits across restarts (issue 7, item 3).
 *
 * A person may be contacted at most 3 times in 24 hours by one business,
 * and at most 6 times by all businesses together, whatever happens to
 * Redis or to the stack in between (DESIGN.md rule 6).  These tests book
 * more reminders than that through the JSON API for a few allow-listed
 * numbers (fresh random ones each run, so the simulator's log for them is
 * this run's alone), let real `ringfence worker` processes send them while
 * `ringfence scheduler --once` ticks, and between ticks restart Redis,
 * flush it, restart the whole stack (deploy/stack stop / start) three
 * times, or run two workers' masters as two hosts would while Redis is
 * flushed.  After each round more appointments are booked, as a business
 * (or a demo seeded at every start) would keep booking.
 *
 * What is checked uses only the public surfaces: the database's contact
 * attempts and the simulator's REST call and message logs.  No number is
 * contacted more than 3 times by one business or 6 times in all, no
 * reminder twice, every contact is the simulator's and the database's
 * alike (same SIDs, same numbers, same channel), and nothing is left
 * half done (`dialing`, `unknown`).  Each number is contacted at least
 * once, so the limits are not met by sending nothing.
 *
 * Child processes (workers, schedulers, CLI commands) run with the
 * binary in RINGFENCE_BIN (bin/ringfence when unset) and are stopped on
 * every path; deploy/stack keeps whatever RINGFENCE_BIN is in the
 * environment, so the pool comes back serving the same binary.  The
 * stack is left running and healthy. */
#include "harness.h"

#include "buf.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RS_NUMBERS 4            /* allow-listed numbers per test */
#define RS_MAX_BIZ 2
#define RS_LIMIT_BUSINESS 3     /* per recipient per 24 h from one business */
#define RS_LIMIT_ALL 6          /* per recipient per 24 h from all businesses */
#define RS_SETTLE_MS 60000      /* the workers drain the ready set within this */
#define RS_CHILD_MS 60000       /* a command finishes within this */
#define RS_STOP_MS 30000        /* a worker stops on SIGTERM within this */
#define RS_STACK_S 120          /* a deploy/stack command finishes within this */
#define RS_MAX_CHILDREN 8

static const char *rs_bin;
static char *rs_log;                    /* the children's log file */
static pid_t rs_children[RS_MAX_CHILDREN];
static char *rs_maxima;                 /* failsafe_maxima as JSON, put back at the end */
static int rs_tripped_before;           /* the failsafe was tripped when the group started */
static struct buf rs_businesses;        /* "{id,id,...}" of every business made here */
static int rs_seq;                      /* spreads the appointments' start times */

/* ---- child processes ---------------------------------------------------------------- */

static void rs_child_add(pid_t pid)
{
	for (int i = 0; i < RS_MAX_CHILDREN; i++)
		if (rs_children[i] == 0) {
			rs_children[i] = pid;
			return;
		}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("more than %d child processes at once", RS_MAX_CHILDREN);
}

static void rs_child_forget(pid_t pid)
{
	for (int i = 0; i < RS_MAX_CHILDREN; i++)
		if (rs_children[i] == pid)
			rs_children[i] = 0;
}

/* Waits for pid until deadline (ms, monotonic).  Its exit status, 128 +
 * the signal when killed, or -1 when it still runs at the deadline. */
static int rs_wait(pid_t pid, long long deadline)
{
	int status;

	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			rs_child_forget(pid);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		if (w < 0 && errno != EINTR) {
			rs_child_forget(pid);
			return -1;
		}
		if (hx_now_ms() >= deadline)
			return -1;
		hx_sleep_ms(20);
	}
}

/* SIGTERM, then SIGKILL when it has not stopped within RS_STOP_MS.  Its
 * exit status as rs_wait's, -1 when it had to be killed. */
static int rs_stop(pid_t pid)
{
	int rc;

	kill(pid, SIGTERM);
	rc = rs_wait(pid, hx_now_ms() + RS_STOP_MS);
	if (rc == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		rs_child_forget(pid);
	}
	return rc;
}

static void rs_stop_all(void)
{
	for (int i = 0; i < RS_MAX_CHILDREN; i++)
		if (rs_children[i] > 0)
			rs_stop(rs_children[i]);
}

/* Starts rs_bin with argv[1..] and the test's environment: only allowed
 * (a comma-separated list) may be contacted, the limits are ringfence's
 * defaults, the failsafe's floor is out of the way (test_guards.c and
 * test_worker.c trip it; here it must not hide a broken limit) and the
 * pacer is quick.  host, when not NULL, names the host the process plays
 * (its own audit fallback file).  Standard output goes to out_fd (-1:
 * the log), standard error to the log. */
static pid_t rs_spawn(const char *const *argv, const char *allowed, const char *host, int out_fd)
{
	pid_t pid = fork();

	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		int log = open(rs_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		/* Never outlive the test, whatever way it ends. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (log >= 0) {
			dup2(out_fd >= 0 ? out_fd : log, 1);
			dup2(log, 2);
		}
		hx_worker_child_env(allowed);
		unsetenv("RINGFENCE_LIMIT_RECIPIENT_DAY");
		unsetenv("RINGFENCE_LIMIT_RECIPIENT_ALL_DAY");
		unsetenv("RINGFENCE_LIMIT_BUSINESS_HOUR");
		if (host) {
			char *fb = xasprintf("%s/log/audit-fallback-%s.log", hx_env.stack_dir, host);
			setenv("RINGFENCE_AUDIT_FALLBACK", fb, 1);
			setenv("HOSTNAME", host, 1);
		}
		execv(rs_bin, (char *const *)argv);
		_exit(127);
	}
	rs_child_add(pid);
	return pid;
}

/* Runs rs_bin argv[1..] to completion (within RS_CHILD_MS); its standard
 * output into out when not NULL.  Fails the test unless it exits 0. */
static void rs_run_or_fail(const char *const *argv, const char *allowed, struct buf *out)
{
	int fds[2] = { -1, -1 }, rc, open_fd;
	long long deadline = hx_now_ms() + RS_CHILD_MS;
	pid_t pid;

	if (out && pipe2(fds, O_CLOEXEC) < 0)
		fail_msg("pipe: %s", strerror(errno));
	pid = rs_spawn(argv, allowed, NULL, fds[1]);
	open_fd = out != NULL;
	if (out)
		close(fds[1]);
	while (open_fd && hx_now_ms() < deadline) {
		struct pollfd pfd = { fds[0], POLLIN, 0 };
		char chunk[1024];
		ssize_t got;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		got = read(fds[0], chunk, sizeof(chunk));
		if (got > 0)
			buf_append(out, chunk, (size_t)got);
		else if (got == 0 || errno != EINTR)
			open_fd = 0;
	}
	if (out)
		close(fds[0]);
	rc = rs_wait(pid, deadline);
	if (rc == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		rs_child_forget(pid);
		fail_msg("ringfence %s did not finish in %d s (log: %s)", argv[1], RS_CHILD_MS / 1000,
			rs_log);
	}
	if (rc != 0)
		fail_msg("ringfence %s %s: exit %d (log: %s)", argv[1], argv[2] ? argv[2] : "", rc,
			rs_log);
}

/* ---- the stack ------------------------------------------------------------------------- */

static void rs_stack_or_fail(const char *sub)
{
	char *out = NULL;
	int rc = hx_stack(sub, &out, RS_STACK_S);

	if (rc != 0) {
		char tail[600];
		snprintf(tail, sizeof(tail), "%s", out ? out : "");
		free(out);
		fail_msg("deploy/stack %s: exit %d\n%s", sub, rc, tail);
	}
	free(out);
}

/* The program the FastCGI pool's master runs ("" when it cannot be
 * told). */
static void rs_pool_binary(char out[512])
{
	struct hx_pids pids;
	char path[64];
	ssize_t n = -1;

	out[0] = '\0';
	if (hx_fcgi_pids(&pids) == 0) {
		snprintf(path, sizeof(path), "/proc/%ld/exe", pids.master);
		n = readlink(path, out, 511);
	}
	out[n > 0 ? n : 0] = '\0';
}

/* After the servers were restarted: fresh harness connections, the whole
 * stack answering, and the pool serving the program it served before
 * (pool, when not ""). */
static void rs_healthy_or_fail(const char *pool)
{
	char err[400], now[512];

	hx_disconnect();
	if (hx_wait_healthy(RS_SETTLE_MS, err, sizeof(err)) < 0)
		fail_msg("the stack is not healthy after a restart: %s", err);
	rs_pool_binary(now);
	if (pool[0] && strcmp(pool, now) != 0)
		fail_msg("the pool served %s before the restart and %s after it", pool,
			now[0] ? now : "(unknown)");
}

static void rs_redis_or_fail(const char *cmd, const char *arg)
{
	const char *argv[2] = { cmd, arg };
	char err[256];

	if (hx_redis(arg ? 2 : 1, argv, NULL, err, sizeof(err)) < 0)
		fail_msg("Redis %s: %s", cmd, err);
}

/* ---- the scenario --------------------------------------------------------------------------- */

struct rs_biz {
	char id[24];
	char key[160];
	long long client[RS_NUMBERS];
};

struct rs_sc {
	const char *what;
	char phone[RS_NUMBERS][13];
	char allowed[RS_NUMBERS * 13 + 1];
	struct rs_biz biz[RS_MAX_BIZ];
	int nbiz;
	int booked;                     /* reminders booked due now, in all */
	char ids[RS_MAX_BIZ * 24 + 4];  /* "{id,id}" of its businesses */
};

/* One JSON API request with the business's key; the parsed answer
 * (caller decrefs).  Fails the test unless the status is want. */
static json_t *rs_api_or_fail(const struct rs_biz *b, const char *path, const char *body, long want)
{
	struct hx_request rq = { 0 };
	struct hx_response rs;
	char *url = xasprintf("%s%s", hx_env.public_url, path);
	char *auth = xasprintf("Bearer %s", b->key);
	json_t *j;

	rq.method = "POST";
	rq.url = url;
	rq.body = body;
	rq.body_len = strlen(body);
	rq.content_type = "application/json";
	rq.authorization = auth;
	if (hx_http(NULL, &rq, &rs) < 0)
		fail_msg("POST %s: %s", path, rs.error);
	if (rs.status != want)
		fail_msg("POST %s %s: HTTP %ld (want %ld) %s", path, body, rs.status, want,
			buf_str(&rs.body));
	j = json_loads(buf_str(&rs.body), 0, NULL);
	if (j == NULL)
		fail_msg("POST %s: not JSON: %s", path, buf_str(&rs.body));
	hx_response_free(&rs);
	free(url);
	free(auth);
	return j;
}

/* A business as a paying, verified customer has it: calling window all
 * day in UTC, voice and SMS reminders a day ahead (so that an appointment
 * a few hours away has both due at once), no retries, its API key made
 * with `ringfence apikey create`, and a client for each number. */
static void rs_business_or_fail(struct rs_sc *sc, struct rs_biz *b)
{
	const char *p[2];
	char *id, *body;
	struct buf out = BUF_INIT;

	memset(b, 0, sizeof(*b));
	p[0] = sc->what;
	id = hx_db_value_or_fail(
		"INSERT INTO businesses (name, time_zone, callback_phone, status, verified, window_start,"
		" window_end, twilio_from, retry_count, retry_delay_minutes)"
		" VALUES ('Restarts Test Clinic (' || $1 || ')', 'UTC', '+15005550006', 'active', true,"
		" '00:00', '23:59:59', '+15005550006', 0, 5) RETURNING id", 1, p);
	if (id == NULL)
		fail_msg("no business id");
	snprintf(b->id, sizeof(b->id), "%s", id);
	free(id);
	buf_printf(&rs_businesses, "%s%s", rs_businesses.len ? "," : "", b->id);
	p[0] = b->id;
	{
		char err[512];
		PGresult *r = hx_db_exec("INSERT INTO reminder_policies (business_id, channel,"
			" offset_minutes, stale_after_minutes) VALUES ($1::bigint, 'voice', 1440, 120),"
			" ($1::bigint, 'sms', 1440, 120)", 1, p, err, sizeof(err));
		if (r == NULL)
			fail_msg("reminder policy: %s", err);
		PQclear(r);
	}
	{
		const char *argv[] = { rs_bin, "apikey", "create", "--business", b->id, "--label",
			"restarts test", NULL };
		rs_run_or_fail(argv, sc->allowed, &out);
	}
	snprintf(b->key, sizeof(b->key), "%.*s", (int)strcspn(buf_str(&out), "\r\n"), buf_str(&out));
	buf_free(&out);
	if (strncmp(b->key, "rf_", 3) != 0)
		fail_msg("ringfence apikey create printed no key");
	for (int i = 0; i < RS_NUMBERS; i++) {
		json_t *j;
		body = xasprintf("{\"name\": \"Restarts Client %d\", \"phone\": \"%s\","
				 " \"time_zone\": \"UTC\"}", i, sc->phone[i]);
		j = rs_api_or_fail(b, "/api/v1/clients", body, 201);
		b->client[i] = json_integer_value(json_object_get(j, "id"));
		if (b->client[i] <= 0)
			fail_msg("POST /api/v1/clients: no id");
		json_decref(j);
		free(body);
	}
}

/* nbiz businesses and RS_NUMBERS fresh numbers, each a line that fails
 * at once in the simulator (a contact costs it nothing but its record). */
static void rs_scenario_or_fail(struct rs_sc *sc, const char *what, int nbiz)
{
	memset(sc, 0, sizeof(*sc));
	sc->what = what;
	sc->nbiz = nbiz;
	for (int i = 0; i < RS_NUMBERS; i++) {
		hx_random_phone(sc->phone[i]);
		hx_sim_callee_or_fail(sc->phone[i], "fail");
		snprintf(sc->allowed + strlen(sc->allowed), sizeof(sc->allowed) - strlen(sc->allowed),
			"%s%s", i ? "," : "", sc->phone[i]);
	}
	for (int b = 0; b < nbiz; b++)
		rs_business_or_fail(sc, &sc->biz[b]);
	snprintf(sc->ids, sizeof(sc->ids), "{%s%s%s}", sc->biz[0].id, nbiz > 1 ? "," : "",
		nbiz > 1 ? sc->biz[1].id : "");
}

/* Books per appointments for every number with every business through
 * the API, each a few hours ahead: each plans a voice call and a text,
 * both due at once. */
static void rs_book_or_fail(struct rs_sc *sc, int per)
{
	for (int b = 0; b < sc->nbiz; b++)
		for (int i = 0; i < RS_NUMBERS; i++)
			for (int k = 0; k < per; k++) {
				time_t t = time(NULL) + 3 * 3600 + (rs_seq++ % 600) * 15;
				struct tm tm;
				char when[40], *body;
				json_t *j, *r;
				size_t n, due = 0;

				gmtime_r(&t, &tm);
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
				body = xasprintf("{\"client_id\": %lld, \"starts_at\": \"%s\","
						 " \"notes\": \"restarts test\"}", sc->biz[b].client[i], when);
				j = rs_api_or_fail(&sc->biz[b], "/api/v1/appointments", body, 201);
				json_array_foreach(json_object_get(j, "reminders"), n, r) {
					const char *st = json_string_value(json_object_get(r, "status"));
					due += st && strcmp(st, "pending") == 0;
				}
				if (due != 2)
					fail_msg("an appointment at %s planned %zu pending reminders, not 2", when,
						due);
				sc->booked += 2;
				json_decref(j);
				free(body);
			}
}

/* One `ringfence scheduler --once` tick (two at once when two hosts run
 * them: the advisory lock elects one). */
static void rs_tick_or_fail(struct rs_sc *sc, int hosts)
{
	const char *argv[] = { rs_bin, "scheduler", "--once", NULL };
	pid_t pid[2];
	long long deadline = hx_now_ms() + RS_CHILD_MS;

	if (hosts < 2) {
		rs_run_or_fail(argv, sc->allowed, NULL);
		return;
	}
	pid[0] = rs_spawn(argv, sc->allowed, "host-a", -1);
	pid[1] = rs_spawn(argv, sc->allowed, "host-b", -1);
	for (int i = 0; i < 2; i++) {
		int rc = rs_wait(pid[i], deadline);
		if (rc != 0)
			fail_msg("scheduler --once on host %c: %s %d (log: %s)", 'a' + i,
				rc < 0 ? "still running after" : "exit", rc < 0 ? RS_CHILD_MS / 1000 : rc,
				rs_log);
	}
}

/* `ringfence worker --concurrency 2`, as host would run it. */
static pid_t rs_workers(const struct rs_sc *sc, const char *host)
{
	const char *argv[] = { rs_bin, "worker", "--concurrency", "2", NULL };
	return rs_spawn(argv, sc->allowed, host, -1);
}

static void rs_workers_stop_or_fail(pid_t pid)
{
	int rc = rs_stop(pid);
	if (rc != 0)
		fail_msg("ringfence worker (pid %ld) %s %d on SIGTERM (log: %s)", (long)pid,
			rc < 0 ? "did not stop; killed after" : "exited with",
			rc < 0 ? RS_STOP_MS / 1000 : rc, rs_log);
}

/* Waits until the workers have taken everything the scheduler queued and
 * none of this test's attempts is still being dialled. */
static void rs_settle_or_fail(const struct rs_sc *sc, pid_t *workers, int nworkers)
{
	long long deadline = hx_now_ms() + RS_SETTLE_MS, queued = -1, dialing = -1;
	const char *argv[2] = { "SCARD", "rf:ready" };
	const char *p[1] = { sc->ids };
	char err[256];

	for (;;) {
		if (hx_redis(2, argv, &queued, err, sizeof(err)) < 0)
			queued = -1;
		else
			dialing = hx_db_int_or_fail("SELECT count(*) FROM contact_attempts"
				" WHERE business_id = ANY($1::bigint[]) AND status = 'dialing'", 1, p);
		if (queued == 0 && dialing == 0)
			return;
		for (int i = 0; i < nworkers; i++) {
			int st;
			if (workers[i] > 0 && waitpid(workers[i], &st, WNOHANG) == workers[i]) {
				rs_child_forget(workers[i]);
				workers[i] = 0;
				fail_msg("%s: ringfence worker exited (status %d) with work queued (log: %s)",
					sc->what, st, rs_log);
			}
		}
		if (hx_now_ms() >= deadline)
			fail_msg("%s: the workers did not drain the ready set in %d s (%lld queued, %lld"
				 " dialing; log: %s)", sc->what, RS_SETTLE_MS / 1000, queued, dialing, rs_log);
		hx_sleep_ms(50);
	}
}

/* ---- the verdict ------------------------------------------------------------------------------ */

/* The simulator's calls ("Calls") or messages ("Messages") to number:
 * "sid channel" lines appended to out. */
static void rs_sim_list_or_fail(const char *kind, const char *number, struct buf *out)
{
	struct hx_sim_res r;
	char *esc = curl_easy_escape(NULL, number, 0);
	char *path = xasprintf("/2010-04-01/Accounts/%s/%s.json?To=%s&PageSize=1000",
		hx_env.account_sid, kind, esc);
	json_t *list, *item, *next;
	size_t i;

	curl_free(esc);
	if (hx_sim_request(path, NULL, NULL, NULL, &r) < 0 || r.status != 200)
		fail_msg("GET %s: %s HTTP %ld %s", path, r.error, r.status, buf_str(&r.body));
	list = json_object_get(r.json, strcmp(kind, "Calls") == 0 ? "calls" : "messages");
	if (!json_is_array(list))
		fail_msg("GET %s: no list in %s", path, buf_str(&r.body));
	next = json_object_get(r.json, "next_page_uri");
	if (next && !json_is_null(next))
		fail_msg("GET %s: more than one page", path);
	json_array_foreach(list, i, item) {
		const char *sid = json_string_value(json_object_get(item, "sid"));
		const char *to = json_string_value(json_object_get(item, "to"));
		if (sid == NULL || to == NULL || strcmp(to, number) != 0)
			fail_msg("GET %s: an entry without its sid or to another number", path);
		buf_printf(out, "%s %s\n", sid, strcmp(kind, "Calls") == 0 ? "voice" : "sms");
	}
	hx_sim_res_free(&r);
	free(path);
}

/* Every promise, from the database and from the simulator's logs. */
static void rs_verdict_or_fail(const struct rs_sc *sc)
{
	const char *p[1] = { sc->ids };
	char err[512];
	PGresult *res;
	int per_biz[RS_MAX_BIZ][RS_NUMBERS] = { { 0 } }, all[RS_NUMBERS] = { 0 }, contacts = 0;
	struct buf summary = BUF_INIT;

	if (hx_db_int_or_fail("SELECT count(*) FROM failsafe_state WHERE tripped", 0, NULL) != 0)
		fail_msg("%s: the failsafe tripped (log: %s)", sc->what, rs_log);
	res = hx_db_exec("SELECT a.id, a.reminder_id, a.business_id, a.to_address, a.channel,"
			 " a.status, COALESCE(a.provider_sid, '')"
			 " FROM contact_attempts a WHERE a.business_id = ANY($1::bigint[]) ORDER BY a.id",
		1, p, err, sizeof(err));
	if (res == NULL)
		fail_msg("%s: %s", sc->what, err);
	for (int row = 0; row < PQntuples(res); row++) {
		const char *st = PQgetvalue(res, row, 5), *sid = PQgetvalue(res, row, 6);
		const char *to = PQgetvalue(res, row, 3), *biz = PQgetvalue(res, row, 2);
		int b = -1, n = -1;

		if (strcmp(st, "dialing") == 0 || strcmp(st, "unknown") == 0)
			fail_msg("%s: attempt %s (reminder %s) is left %s", sc->what, PQgetvalue(res, row, 0),
				PQgetvalue(res, row, 1), st);
		if (strcmp(st, "placed") != 0 && sid[0] == '\0')
			continue;
		for (int i = 0; i < sc->nbiz; i++)
			if (strcmp(sc->biz[i].id, biz) == 0)
				b = i;
		for (int i = 0; i < RS_NUMBERS; i++)
			if (strcmp(sc->phone[i], to) == 0)
				n = i;
		if (b < 0 || n < 0)
			fail_msg("%s: attempt %s went to %s, not one of the test's numbers", sc->what,
				PQgetvalue(res, row, 0), to);
		/* A reminder has one attempt (a unique key), so a second contact
		 * for one reminder would be a second SID below. */
		if (sid[0] == '\0')
			fail_msg("%s: attempt %s is placed without a SID", sc->what, PQgetvalue(res, row, 0));
		per_biz[b][n]++;
		all[n]++;
		contacts++;
	}

	for (int n = 0; n < RS_NUMBERS; n++) {
		struct buf sim = BUF_INIT;
		size_t nsim = 0;
		char *save = NULL;

		buf_printf(&summary, " %s:", sc->phone[n]);
		for (int b = 0; b < sc->nbiz; b++) {
			buf_printf(&summary, "%s%d", b ? "+" : "", per_biz[b][n]);
			if (per_biz[b][n] > RS_LIMIT_BUSINESS)
				fail_msg("%s: %s was contacted %d times in 24 hours by business %s (limit %d)",
					sc->what, sc->phone[n], per_biz[b][n], sc->biz[b].id, RS_LIMIT_BUSINESS);
			if (per_biz[b][n] == 0)
				fail_msg("%s: %s was never contacted by business %s: the test proves nothing",
					sc->what, sc->phone[n], sc->biz[b].id);
		}
		if (all[n] > RS_LIMIT_ALL)
			fail_msg("%s: %s was contacted %d times in 24 hours by all businesses (limit %d)",
				sc->what, sc->phone[n], all[n], RS_LIMIT_ALL);

		/* The simulator's log, SID for SID. */
		rs_sim_list_or_fail("Calls", sc->phone[n], &sim);
		rs_sim_list_or_fail("Messages", sc->phone[n], &sim);
		for (char *line = strtok_r((char *)buf_str(&sim), "\n", &save); line;
			line = strtok_r(NULL, "\n", &save)) {
			char *channel = strchr(line, ' ');
			int found = 0;
			*channel++ = '\0';
			nsim++;
			for (int row = 0; row < PQntuples(res) && !found; row++)
				if (strcmp(PQgetvalue(res, row, 6), line) == 0) {
					found = 1;
					if (strcmp(PQgetvalue(res, row, 3), sc->phone[n]) != 0 ||
						strcmp(PQgetvalue(res, row, 4), channel) != 0)
						fail_msg("%s: the simulator's %s (%s to %s) is attempt %s, %s to %s",
							sc->what, line, channel, sc->phone[n], PQgetvalue(res, row, 0),
							PQgetvalue(res, row, 4), PQgetvalue(res, row, 3));
				}
			if (!found)
				fail_msg("%s: the simulator's %s (%s to %s) is in no contact attempt", sc->what,
					line, channel, sc->phone[n]);
		}
		if (nsim != (size_t)all[n])
			fail_msg("%s: the simulator has %zu calls and messages to %s, the database %d"
				 " contacts", sc->what, nsim, sc->phone[n], all[n]);
		if (nsim > RS_LIMIT_ALL)
			fail_msg("%s: the simulator has %zu contacts with %s (limit %d)", sc->what, nsim,
				sc->phone[n], RS_LIMIT_ALL);
		buf_free(&sim);
	}
	PQclear(res);
	/* Independently of the schema's unique key: one contact a reminder. */
	res = hx_db_exec("SELECT reminder_id, count(*) FROM contact_attempts"
			 " WHERE business_id = ANY($1::bigint[])"
			 " AND (status = 'placed' OR provider_sid IS NOT NULL)"
			 " GROUP BY reminder_id HAVING count(*) > 1", 1, p, err, sizeof(err));
	if (res == NULL)
		fail_msg("%s: %s", sc->what, err);
	if (PQntuples(res) > 0)
		fail_msg("%s: reminder %s was contacted %s times", sc->what, PQgetvalue(res, 0, 0),
			PQgetvalue(res, 0, 1));
	PQclear(res);
	fprintf(stderr, "# restarts: %s: %d reminders due, %d contacts; per number:%s\n", sc->what,
		sc->booked, contacts, buf_str(&summary));
	buf_free(&summary);
}

/* ---- tests ------------------------------------------------------------------------------------- */

/* Redis stopped and started between ticks while the workers run. */
static void test_redis_restart_between_ticks(void **state)
{
	struct rs_sc sc;
	pid_t w[1];
	(void)state;

	rs_scenario_or_fail(&sc, "Redis restarted between ticks", 1);
	rs_book_or_fail(&sc, 3);
	w[0] = rs_workers(&sc, NULL);
	rs_tick_or_fail(&sc, 1);
	rs_settle_or_fail(&sc, w, 1);
	for (int round = 0; round < 2; round++) {
		rs_stack_or_fail("redis-stop");
		rs_stack_or_fail("redis-start");
		rs_book_or_fail(&sc, 1);
		rs_tick_or_fail(&sc, 1);
		rs_settle_or_fail(&sc, w, 1);
	}
	rs_workers_stop_or_fail(w[0]);
	rs_verdict_or_fail(&sc);
}

/* Redis emptied (FLUSHALL) between ticks while the workers run. */
static void test_redis_flush_between_ticks(void **state)
{
	struct rs_sc sc;
	pid_t w[1];
	(void)state;

	rs_scenario_or_fail(&sc, "Redis flushed between ticks", 1);
	rs_book_or_fail(&sc, 3);
	w[0] = rs_workers(&sc, NULL);
	rs_tick_or_fail(&sc, 1);
	rs_settle_or_fail(&sc, w, 1);
	for (int round = 0; round < 2; round++) {
		rs_redis_or_fail("FLUSHALL", NULL);
		rs_book_or_fail(&sc, 1);
		rs_tick_or_fail(&sc, 1);
		rs_settle_or_fail(&sc, w, 1);
	}
	rs_workers_stop_or_fail(w[0]);
	rs_verdict_or_fail(&sc);
}

/* The whole stack stopped and started three times, as `make run` is:
 * the first time the workers keep running through it (as on a host the
 * stack does not manage), the other times they stop and start with it. */
static void test_stack_restarted_three_times(void **state)
{
	struct rs_sc sc;
	char pool[512];
	pid_t w[1];
	(void)state;

	rs_scenario_or_fail(&sc, "the stack restarted three times", 1);
	rs_pool_binary(pool);
	rs_book_or_fail(&sc, 3);
	w[0] = rs_workers(&sc, NULL);
	rs_tick_or_fail(&sc, 1);
	rs_settle_or_fail(&sc, w, 1);
	for (int round = 0; round < 3; round++) {
		if (round > 0)
			rs_workers_stop_or_fail(w[0]);
		rs_stack_or_fail("stop");
		rs_stack_or_fail("start");
		rs_healthy_or_fail(pool);
		if (round > 0)
			w[0] = rs_workers(&sc, NULL);
		rs_book_or_fail(&sc, 1);
		rs_tick_or_fail(&sc, 1);
		rs_settle_or_fail(&sc, w, 1);
	}
	rs_workers_stop_or_fail(w[0]);
	rs_verdict_or_fail(&sc);
}

/* Two workers' masters, as two hosts run them (each its own process tree
 * and environment, both schedulers ticking), sharing PostgreSQL and
 * Redis, for two businesses booking the same numbers; Redis is flushed
 * while both run. */
static void test_two_hosts_and_a_flush(void **state)
{
	struct rs_sc sc;
	pid_t w[2];
	(void)state;

	rs_scenario_or_fail(&sc, "two hosts' workers, Redis flushed", 2);
	rs_book_or_fail(&sc, 3);
	w[0] = rs_workers(&sc, "host-a");
	w[1] = rs_workers(&sc, "host-b");
	rs_tick_or_fail(&sc, 2);
	rs_settle_or_fail(&sc, w, 2);
	for (int round = 0; round < 2; round++) {
		rs_redis_or_fail("FLUSHALL", NULL);
		rs_book_or_fail(&sc, 2);
		rs_tick_or_fail(&sc, 2);
		rs_settle_or_fail(&sc, w, 2);
	}
	rs_workers_stop_or_fail(w[0]);
	rs_workers_stop_or_fail(w[1]);
	rs_verdict_or_fail(&sc);
}

/* ---- set-up and clean-up ------------------------------------------------------------------------ */

/* Whatever a test left: its children stopped, the stack running. */
static int rs_test_teardown(void **state)
{
	char *out = NULL;
	char err[400];
	(void)state;

	rs_stop_all();
	if (hx_stack("status", &out, RS_STACK_S) != 0) {
		free(out);
		out = NULL;
		if (hx_stack("start", &out, RS_STACK_S) != 0)
			fprintf(stderr, "# restarts: deploy/stack start failed:\n%s\n", out ? out : "");
	}
	free(out);
	hx_disconnect();
	if (hx_wait_healthy(RS_SETTLE_MS, err, sizeof(err)) < 0)
		fprintf(stderr, "# restarts: the stack is not healthy: %s\n", err);
	return 0;
}

static int rs_group_setup(void **state)
{
	char err[512];
	PGresult *r;
	(void)state;

	if (hx_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "# restarts: %s\n", err);
		return -1;
	}
	if ((rs_bin = hx_ringfence_bin("restarts")) == NULL)
		return -1;
	if (getenv("TWILIO_API_URL") == NULL) {
		fprintf(stderr, "# restarts: TWILIO_API_URL is not set (the stack's simulator)\n");
		return -1;
	}
	rs_log = xasprintf("%s/log/restarts-tests.log", hx_env.stack_dir);
	buf_init(&rs_businesses);
	rs_tripped_before = hx_db_int_or_fail("SELECT count(*) FROM failsafe_state WHERE tripped", 0,
		NULL) != 0;
	/* The largest windows the failsafe records are put back at the end,
	 * as test_outage.c does: this group's volume is not history. */
	r = hx_db_exec("SELECT coalesce(json_agg(m), '[]')::text FROM failsafe_maxima m", 0, NULL, err,
		sizeof(err));
	if (r) {
		rs_maxima = xstrdup(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	return 0;
}

static void rs_exec_quiet(const char *sql, int n, const char *const *p)
{
	char err[512];
	PGresult *r = hx_db_exec(sql, n, p, err, sizeof(err));
	if (r == NULL)
		fprintf(stderr, "# restarts: clean-up: %s\n", err);
	PQclear(r);
}

static int rs_group_teardown(void **state)
{
	(void)state;

	rs_stop_all();
	if (rs_businesses.len) {
		/* Nothing of this group's is left for a later worker to send. */
		char *ids = xasprintf("{%s}", buf_str(&rs_businesses));
		const char *p[1] = { ids };
		rs_exec_quiet("UPDATE reminders SET status = 'cancelled', status_reason = 'test cleanup'"
			      " WHERE business_id = ANY($1::bigint[]) AND status = 'pending'", 1, p);
		free(ids);
	}
	if (rs_maxima) {
		const char *p[1] = { rs_maxima };
		rs_exec_quiet("DELETE FROM failsafe_maxima", 0, NULL);
		rs_exec_quiet("INSERT INTO failsafe_maxima (window_seconds, max_count, updated_at)"
			      " SELECT window_seconds, max_count, updated_at"
			      " FROM json_populate_recordset(NULL::failsafe_maxima, $1::json)", 1, p);
	}
	if (!rs_tripped_before && hx_db_int_or_fail("SELECT count(*) FROM failsafe_state WHERE tripped",
					  0, NULL) != 0) {
		/* A test failed on it already; the groups after this one must
		 * not fail on it too. */
		const char *argv[] = { rs_bin, "failsafe", "resume", "--reason",
			"restarts test clean-up", "--by", "test_restarts", NULL };
		pid_t pid = rs_spawn(argv, "", NULL, -1);
		if (rs_wait(pid, hx_now_ms() + RS_CHILD_MS) != 0)
			fprintf(stderr, "# restarts: ringfence failsafe resume failed (log: %s)\n", rs_log);
	}
	free(rs_maxima);
	rs_maxima = NULL;
	buf_free(&rs_businesses);
	free(rs_log);
	rs_log = NULL;
	hx_fini();
	return 0;
}

int restarts_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_redis_restart_between_ticks, rs_test_teardown),
		cmocka_unit_test_teardown(test_redis_flush_between_ticks, rs_test_teardown),
		cmocka_unit_test_teardown(test_stack_restarted_three_times, rs_test_teardown),
		cmocka_unit_test_teardown(test_two_hosts_and_a_flush, rs_test_teardown),
	};
	return cmocka_run_group_tests_name("integration: the contact limits across restarts", tests,
		rs_group_setup, rs_group_teardown);
}

/* metrics: shared counter segments and the Prometheus exposition
 * (metrics.h). */
#include "metrics.h"
#include "app.h"
#include "buf.h"
#include "clock.h"
#include "db.h"
#include "engine.h"
#include "log.h"
#include "outbound.h"
#include "queue.h"
#include "rds.h"
#include "util.h"
#include "version.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the layout ------------------------------------------------------------- */

/* Bump when the slots below change meaning or number: a process of the new
 * release then starts a new segment instead of adding into the old one. */
#define METRICS_LAYOUT 4
#define METRICS_MAGIC "RFMETRIC"

static const int http_codes[] = { 200, 201, 204, 301, 302, 303, 304, 400, 401, 403, 404, 405,
	409, 413, 415, 422, 429, 500, 502, 503 };
#define NCODE (ARRAY_LEN(http_codes) + 1) /* the last: "other" */

/* Upper bounds (seconds) of the request-duration histogram. */
static const double dur_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NBOUND ARRAY_LEN(dur_bounds)
#define DUR_SLOTS (NBOUND + 2) /* per bucket (not cumulative), +Inf, sum in microseconds */

/* The webhook's "flow": which callback, from the path's fixed prefixes. */
static const char *const webhook_flows[] = { "voice", "call_status", "sms_status", "recording",
	"sms_inbound", "other" };
#define NFLOW ARRAY_LEN(webhook_flows)

enum {
	S_HTTP = 0,
	S_DUR = S_HTTP + MR_N * NCODE,
	S_WEBHOOK = S_DUR + MR_N * DUR_SLOTS,
	S_SIG_REJECT = S_WEBHOOK + NFLOW * MW_N,
	S_OPTOUT_UNRECORDED,
	S_WEBHOOK_FALLBACK,
	S_DB_ERROR,
	S_DB_RECONNECT,
	S_DB_RETRY,
	S_DB_ROUND_TRIP,
	S_REDIS_ERROR,
	S_REDIS_RECONNECT,
	S_REDIS_MASTER_CHANGE,
	S_AUDIT_UNREPLICATED,
	S_CLAIM,
	S_CONTACT = S_CLAIM + MCL_N,
	S_LIMIT = S_CONTACT + MC_N * METRICS_CONTACT_STATUS_N,
	S_RECONCILE = S_LIMIT + ML_N,
	S_HOLD = S_RECONCILE + MRC_N,
	S_HOLD_EXHAUSTED,
	S_N
};

struct segment {
	char magic[8];
	uint32_t layout;
	uint32_t nslots;
	int64_t created;        /* unix time the segment was started */
	uint64_t pad;
	uint64_t slot[S_N];
};

static const char *const proc_names[METRICS_PROC_N] = { "fcgi", "worker", "scheduler", "calsync" };
static const char *const route_names[MR_N] = { "webhook", "dashboard", "api", "static", "health" };
static const char *const webhook_names[MW_N] = { "transition", "replay", "rejected_signature",
	"invalid", "db_down_apology", "error" };
static const char *const channel_names[MC_N] = { "voice", "sms", "email" };
static const char *const contact_names[METRICS_CONTACT_STATUS_N] = { "placed", "failed",
	"unknown", "blocked", "skipped_rate", "deferred", "held", "error" };
static const char *const claim_names[MCL_N] = { "claimed", "dropped", "held", "deferred",
	"skipped", "error" };
static const char *const limit_names[ML_N] = { "recipient_day", "recipient_all_day",
	"business_hour", "rate", "other" };
static const char *const reconcile_names[MRC_N] = { "expired", "placed", "not_placed",
	"still_unknown", "status_settled", "status_pending", "status_lost" };

_Static_assert(OUTBOUND_ERROR == METRICS_CONTACT_STATUS_N - 1 && OUTBOUND_PLACED == 0,
	"contact_names follows enum outbound_status");

static struct segment *seg;

/* ---- the segment ------------------------------------------------------------ */

static char *segment_path(const char *run_dir, enum metrics_proc kind)
{
	return xasprintf("%s/metrics-%s.seg", run_dir, proc_names[kind]);
}

static int header_ok(const struct segment *s)
{
	return memcmp(s->magic, METRICS_MAGIC, 8) == 0 && s->layout == METRICS_LAYOUT &&
		s->nslots == S_N;
}

int metrics_open(const char *run_dir, enum metrics_proc kind)
{
	char *path = segment_path(run_dir, kind);
	struct segment *s = MAP_FAILED;
	struct stat st;
	int fd, rc = -1;

	metrics_close();
	(void)mkdir(run_dir, 0750);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 || flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0)
		goto out;
	/* Another layout (or a torn first start): start afresh.  The lock
	 * keeps two processes from initialising it at once; adds never take
	 * it. */
	if ((size_t)st.st_size != sizeof(struct segment)) {
		if (ftruncate(fd, 0) < 0 || ftruncate(fd, sizeof(struct segment)) < 0)
			goto out;
	}
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s == MAP_FAILED)
		goto out;
	if (!header_ok(s)) {
		memset(s, 0, sizeof(*s));
		s->layout = METRICS_LAYOUT;
		s->nslots = S_N;
		s->created = (int64_t)time(NULL);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		memcpy(s->magic, METRICS_MAGIC, 8);
	}
	seg = s;
	rc = 0;
out:
	if (rc < 0) {
		log_warn("metrics: cannot open %s: %s; this process's counters are not kept",
			path, strerror(errno));
		if (s != MAP_FAILED)
			munmap(s, sizeof(*s));
	}
	if (fd >= 0) {
		/* The mapping holds the open file, and with it a lock that is
		 * not released explicitly. */
		flock(fd, LOCK_UN);
		close(fd);
	}
	free(path);
	return rc;
}

void metrics_close(void)
{
	if (seg)
		munmap(seg, sizeof(*seg));
	seg = NULL;
}

static void add(size_t slot, uint64_t n)
{
	if (seg)
		__atomic_fetch_add(&seg->slot[slot], n, __ATOMIC_RELAXED);
}

/* A copy of kind's segment's counters, or -1 when there is none (no
 * process of that kind has started, or another layout). */
static int segment_read(const char *run_dir, enum metrics_proc kind, uint64_t *out)
{
	char *path = segment_path(run_dir, kind);
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
	struct segment *s;

	free(path);
	if (fd < 0)
		return -1;
	s = mmap(NULL, sizeof(*s), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (s == MAP_FAILED)
		return -1;
	if (header_ok(s)) {
		for (size_t i = 0; i < S_N; i++)
			out[i] = __atomic_load_n(&s->slot[i], __ATOMIC_RELAXED);
		rc = 0;
	}
	munmap(s, sizeof(*s));
	return rc;
}

/* ---- adding ----------------------------------------------------------------- */

static size_t code_index(int status)
{
	for (size_t i = 0; i < ARRAY_LEN(http_codes); i++)
		if (http_codes[i] == status)
			return i;
	return ARRAY_LEN(http_codes);
}

void metrics_http(enum metrics_route kind, int status, long long duration_us)
{
	size_t b = 0;
	double s = (double)duration_us / 1e6;

	if (duration_us < 0)
		duration_us = 0;
	while (b < NBOUND && s > dur_bounds[b])
		b++;
	add(S_HTTP + kind * NCODE + code_index(status), 1);
	add(S_DUR + kind * DUR_SLOTS + b, 1);
	add(S_DUR + kind * DUR_SLOTS + NBOUND + 1, (uint64_t)duration_us);
}

static size_t flow_index(const char *path)
{
	static const char *const prefix[] = { "/twilio/voice/", "/twilio/status/call",
		"/twilio/status/sms", "/twilio/status/recording", "/twilio/sms/inbound" };
	for (size_t i = 0; i < ARRAY_LEN(prefix); i++)
		if (strncmp(path, prefix[i], strlen(prefix[i])) == 0)
			return i;
	return NFLOW - 1;
}

void metrics_webhook(const char *path, enum metrics_webhook outcome)
{
	add(S_WEBHOOK + flow_index(path ? path : "") * MW_N + outcome, 1);
	if (outcome == MW_REJECTED_SIGNATURE)
		add(S_SIG_REJECT, 1);
}

void metrics_webhook_hold(void) { add(S_HOLD, 1); }
void metrics_webhook_hold_exhausted(void) { add(S_HOLD_EXHAUSTED, 1); }
void metrics_db_error(void) { add(S_DB_ERROR, 1); }
void metrics_db_reconnect(void) { add(S_DB_RECONNECT, 1); }
void metrics_db_retry(void) { add(S_DB_RETRY, 1); }
void metrics_db_round_trip(void) { add(S_DB_ROUND_TRIP, 1); }
void metrics_redis_error(void) { add(S_REDIS_ERROR, 1); }
void metrics_redis_reconnect(void) { add(S_REDIS_RECONNECT, 1); }
void metrics_redis_master_change(void) { add(S_REDIS_MASTER_CHANGE, 1); }
void metrics_audit_unreplicated(long n) { add(S_AUDIT_UNREPLICATED, (uint64_t)n); }
void metrics_optout_unrecorded(void) { add(S_OPTOUT_UNRECORDED, 1); }
void metrics_webhook_fallback(void) { add(S_WEBHOOK_FALLBACK, 1); }
void metrics_claim(enum metrics_claim outcome) { add(S_CLAIM + outcome, 1); }

void metrics_contact(const char *channel, int status)
{
	size_t c = 0;

	while (c < MC_N && strcmp(channel ? channel : "", channel_names[c]) != 0)
		c++;
	if (c < MC_N && status >= 0 && status < METRICS_CONTACT_STATUS_N)
		add(S_CONTACT + c * METRICS_CONTACT_STATUS_N + (size_t)status, 1);
}

void metrics_limit_refusal(const char *reason)
{
	enum metrics_limit k = ML_OTHER;

	if (reason == NULL)
		reason = "";
	/* The wording of reminder_claim (sql/006_limits.sql). */
	if (strstr(reason, "recipient limit across businesses"))
		k = ML_RECIPIENT_ALL_DAY;
	else if (strstr(reason, "recipient limit"))
		k = ML_RECIPIENT_DAY;
	else if (strstr(reason, "business limit"))
		k = ML_BUSINESS_HOUR;
	else if (strstr(reason, "rate"))
		k = ML_RATE;
	add(S_LIMIT + k, 1);
}

void metrics_reconcile(enum metrics_reconcile verdict, int n)
{
	if (n > 0)
		add(S_RECONCILE + verdict, (uint64_t)n);
}

long long metrics_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

enum metrics_route metrics_route_of(const char *path)
{
	if (path == NULL)
		return MR_DASHBOARD;
	if (strncmp(path, "/twilio/", 8) == 0)
		return MR_WEBHOOK;
	if (strncmp(path, "/api/", 5) == 0)
		return MR_API;
	if (strncmp(path, "/static/", 8) == 0 || strncmp(path, "/flows/", 7) == 0)
		return MR_STATIC;
	if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 ||
		strcmp(path, "/metrics") == 0)
		return MR_HEALTH;
	return MR_DASHBOARD;
}

/* ---- who may ask ------------------------------------------------------------ */

struct cidr {
	int family;
	unsigned char addr[16];
	int bits;
};

/* Parses "10.0.0.0/8", "192.0.2.7", "fd00::/8"; 0 or -1. */
static int cidr_parse(const char *s, size_t len, struct cidr *c)
{
	char text[64], *slash;
	int max;

	if (len == 0 || len >= sizeof(text))
		return -1;
	memcpy(text, s, len);
	text[len] = '\0';
	slash = strchr(text, '/');
	if (slash)
		*slash = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, text, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, text, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	c->bits = max;
	if (slash) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || b < 0 || b > max)
			return -1;
		c->bits = (int)b;
	}
	return 0;
}

static int cidr_contains(const struct cidr *c, int family, const unsigned char *addr)
{
	int full = c->bits / 8, rest = c->bits % 8;

	if (family != c->family)
		return 0;
	if (memcmp(c->addr, addr, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (addr[full] & mask);
}

/* Calls fn on each entry of list (comma or space separated); stops at the
 * first nonzero return and returns it. */
static int list_each(const char *list, int (*fn)(const char *s, size_t len, void *ctx), void *ctx)
{
	const char *p = list ? list : "";

	while (*p) {
		size_t n;
		int rc;
		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		rc = fn(p, n, ctx);
		if (rc)
			return rc;
		p += n;
	}
	return 0;
}

struct addr_probe {
	int family;
	unsigned char addr[16];
};

static int entry_matches(const char *s, size_t len, void *ctx)
{
	const struct addr_probe *a = ctx;
	struct cidr c;
	return cidr_parse(s, len, &c) == 0 && cidr_contains(&c, a->family, a->addr);
}

int metrics_addr_allowed(const char *list, const char *addr)
{
	struct addr_probe a;
	static const unsigned char v6_loopback[16] = { [15] = 1 };
	static const unsigned char v4_mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(&a, 0, sizeof(a));
	if (addr == NULL)
		return 0;
	if (inet_pton(AF_INET, addr, a.addr) == 1) {
		a.family = AF_INET;
	} else if (inet_pton(AF_INET6, addr, a.addr) == 1) {
		a.family = AF_INET6;
		if (memcmp(a.addr, v4_mapped, 12) == 0) {
			memmove(a.addr, a.addr + 12, 4);
			memset(a.addr + 4, 0, 12);
			a.family = AF_INET;
		}
	} else {
		return 0;
	}
	/* Loopback: 127.0.0.1 exactly and ::1, the addresses nginx itself
	 * allows; the rest of 127/8 is another host as far as this goes. */
	if (a.family == AF_INET && memcmp(a.addr, "\x7f\x00\x00\x01", 4) == 0)
		return 1;
	if (a.family == AF_INET6 && memcmp(a.addr, v6_loopback, 16) == 0)
		return 1;
	return list_each(list, entry_matches, &a) == 1;
}

struct check_ctx {
	char *err;
	size_t errlen;
};

static int entry_check(const char *s, size_t len, void *ctx)
{
	struct check_ctx *c = ctx;
	struct cidr cidr;

	if (cidr_parse(s, len, &cidr) == 0)
		return 0;
	snprintf(c->err, c->errlen, "RINGFENCE_MONITORING_ADDRESSES: '%.*s' is not an address"
		" or CIDR block (such as 10.0.0.0/8 or fd00::/8)", (int)(len > 64 ? 64 : len), s);
	return -1;
}

int metrics_addr_list_check(const char *list, char *err, size_t errlen)
{
	struct check_ctx c = { err, errlen };
	return list_each(list, entry_check, &c) ? -1 : 0;
}

/* ---- the exposition --------------------------------------------------------- */

static void family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u(struct buf *out, const char *name, const char *labels, unsigned long long v)
{
	buf_printf(out, "%s%s%s%s %llu\n", name, labels[0] ? "{" : "", labels,
		labels[0] ? "}" : "", v);
}

static void sample_d(struct buf *out, const char *name, const char *labels, double v)
{
	buf_printf(out, "%s%s%s%s %.9g\n", name, labels[0] ? "{" : "", labels,
		labels[0] ? "}" : "", v);
}

/* The sum over the process kinds of slot i. */
static uint64_t total(uint64_t (*all)[S_N], const int *have, size_t i)
{
	uint64_t t = 0;
	for (int k = 0; k < METRICS_PROC_N; k++)
		if (have[k])
			t += all[k][i];
	return t;
}

/* A counter family with one label: a sample for each of its n values,
 * the total of the slots from first on. */
static void counter_by(struct buf *out, uint64_t (*all)[S_N], const int *have,
	const char *name, const char *help, const char *label, const char *const *values,
	int n, size_t first)
{
	char l[160];

	family(out, name, "counter", help);
	for (int i = 0; i < n; i++) {
		snprintf(l, sizeof(l), "%s=\"%s\"", label, values[i]);
		sample_u(out, name, l, total(all, have, first + (size_t)i));
	}
}

static void render_counters(struct buf *out, uint64_t (*all)[S_N], const int *have)
{
	char l[160];

	family(out, "ringfence_http_requests_total", "counter",
		"HTTP requests answered, by route kind and status code.");
	for (int k = 0; k < MR_N; k++)
		for (size_t c = 0; c < NCODE; c++) {
			uint64_t v = total(all, have, S_HTTP + (size_t)k * NCODE + c);
			char code[8];
			if (v == 0)
				continue;
			if (c < ARRAY_LEN(http_codes))
				snprintf(code, sizeof(code), "%d", http_codes[c]);
			else
				snprintf(code, sizeof(code), "other");
			snprintf(l, sizeof(l), "kind=\"%s\",code=\"%s\"", route_names[k], code);
			sample_u(out, "ringfence_http_requests_total", l, v);
		}

	family(out, "ringfence_http_request_duration_seconds", "histogram",
		"Time from the request's arrival to its answer, by route kind.");
	for (int k = 0; k < MR_N; k++) {
		size_t base = S_DUR + (size_t)k * DUR_SLOTS;
		uint64_t cum = 0;
		for (size_t b = 0; b <= NBOUND; b++) {
			cum += total(all, have, base + b);
			if (b < NBOUND)
				snprintf(l, sizeof(l), "kind=\"%s\",le=\"%g\"", route_names[k], dur_bounds[b]);
			else
				snprintf(l, sizeof(l), "kind=\"%s\",le=\"+Inf\"", route_names[k]);
			sample_u(out, "ringfence_http_request_duration_seconds_bucket", l, cum);
		}
		snprintf(l, sizeof(l), "kind=\"%s\"", route_names[k]);
		sample_d(out, "ringfence_http_request_duration_seconds_sum", l,
			(double)total(all, have, base + NBOUND + 1) / 1e6);
		sample_u(out, "ringfence_http_request_duration_seconds_count", l, cum);
	}

	family(out, "ringfence_webhook_outcomes_total", "counter",
		"Twilio webhooks by callback and what became of them.");
	for (size_t f = 0; f < NFLOW; f++)
		for (int o = 0; o < MW_N; o++) {
			snprintf(l, sizeof(l), "flow=\"%s\",outcome=\"%s\"", webhook_flows[f],
				webhook_names[o]);
			sample_u(out, "ringfence_webhook_outcomes_total", l,
				total(all, have, S_WEBHOOK + f * MW_N + (size_t)o));
		}
	family(out, "ringfence_webhook_signature_rejections_total", "counter",
		"Webhooks refused for a missing or wrong X-Twilio-Signature.");
	sample_u(out, "ringfence_webhook_signature_rejections_total", "",
		total(all, have, S_SIG_REJECT));
	family(out, "ringfence_webhook_holds_total", "counter",
		"Voice webhooks answered with the hold document (\"One moment, please.\", a pause,"
		" the same URL again) because PostgreSQL could not be reached.");
	sample_u(out, "ringfence_webhook_holds_total", "", total(all, have, S_HOLD));
	family(out, "ringfence_webhook_hold_exhausted_total", "counter",
		"Held calls still without PostgreSQL after every hold: the caller heard the apology.");
	sample_u(out, "ringfence_webhook_hold_exhausted_total", "", total(all, have, S_HOLD_EXHAUSTED));
	family(out, "ringfence_optout_unrecorded_total", "counter",
		"Opt-out texts (STOP) whose database write failed: the client may be contacted"
		" again; pages.");
	sample_u(out, "ringfence_optout_unrecorded_total", "", total(all, have, S_OPTOUT_UNRECORDED));
	family(out, "ringfence_webhook_fallbacks_total", "counter",
		"Signed requests to the voice fallback webhook: another node failed to answer Twilio.");
	sample_u(out, "ringfence_webhook_fallbacks_total", "", total(all, have, S_WEBHOOK_FALLBACK));

	static const struct {
		const char *name, *help;
		size_t slot;
	} per_proc[] = {
		{ "ringfence_db_errors_total", "PostgreSQL statements or connections that failed.",
			S_DB_ERROR },
		{ "ringfence_db_reconnects_total", "PostgreSQL connections opened again after one"
			" was lost.", S_DB_RECONNECT },
		{ "ringfence_db_retries_total", "Retry-safe PostgreSQL statements run once more"
			" after their connection was lost (a failover).", S_DB_RETRY },
		{ "ringfence_db_round_trips_total", "Requests sent to PostgreSQL and answered"
			" (statements, prepares, pipelines).", S_DB_ROUND_TRIP },
		{ "ringfence_redis_errors_total", "Redis commands or connections that failed.",
			S_REDIS_ERROR },
		{ "ringfence_redis_reconnects_total", "Redis connections opened again after one"
			" was lost.", S_REDIS_RECONNECT },
		{ "ringfence_redis_master_changes_total", "Redis masters found through Sentinel"
			" that differ from the one before (failovers seen).", S_REDIS_MASTER_CHANGE },
		{ "ringfence_audit_unreplicated_total", "Audit records that no Redis replica"
			" acknowledged in time (Sentinel's WAIT), also written to the fallback log.",
			S_AUDIT_UNREPLICATED },
	};
	for (size_t i = 0; i < ARRAY_LEN(per_proc); i++) {
		family(out, per_proc[i].name, "counter", per_proc[i].help);
		for (int k = 0; k < METRICS_PROC_N; k++) {
			if (!have[k])
				continue;
			snprintf(l, sizeof(l), "process=\"%s\"", proc_names[k]);
			sample_u(out, per_proc[i].name, l, all[k][per_proc[i].slot]);
		}
	}

	counter_by(out, all, have, "ringfence_claims_total",
		"Reminders the workers took from the ready set, by what the claim decided.",
		"outcome", claim_names, MCL_N, S_CLAIM);
	family(out, "ringfence_contacts_total", "counter",
		"Contacts the workers attempted, by channel and outcome.");
	for (int c = 0; c < MC_N; c++)
		for (int s = 0; s < METRICS_CONTACT_STATUS_N; s++) {
			snprintf(l, sizeof(l), "channel=\"%s\",status=\"%s\"", channel_names[c],
				contact_names[s]);
			sample_u(out, "ringfence_contacts_total", l,
				total(all, have, S_CONTACT + (size_t)c * METRICS_CONTACT_STATUS_N + (size_t)s));
		}
	counter_by(out, all, have, "ringfence_limit_refusals_total",
		"Reminders deferred or skipped by a contact limit, by limit.",
		"limit", limit_names, ML_N, S_LIMIT);
	counter_by(out, all, have, "ringfence_reconciliations_total",
		"Contact attempts the reconciler looked at, by verdict.",
		"verdict", reconcile_names, MRC_N, S_RECONCILE);
}

/* One number from a one-row, one-column query, or -1 (the error counted). */
static long long sql_number(struct db *db, const char *name, const char *sql, int n,
	const char *const *p, int *failed)
{
	PGresult *res;
	long long v = -1;

	if (*failed)
		return -1;
	res = db_exec_prepared(db, name, sql, n, p);
	if (res == NULL) {
		*failed = 1;
		return -1;
	}
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		v = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* The counts are capped so that a scrape stays cheap whatever the backlog:
 * a partial-index range scan of at most METRICS_COUNT_CAP rows. */
#define METRICS_COUNT_CAP "100000"

static void render_database(struct buf *out, struct app *app, int *failed)
{
	char now[32];
	const char *p[1] = { now };
	long long v;
	PGresult *res;

	snprintf(now, sizeof(now), "%lld", clock_now_s());
	v = sql_number(app->db, "metrics_due",
		"SELECT count(*) FROM (SELECT 1 FROM reminders WHERE status = 'pending'"
		" AND due_at <= to_timestamp($1::bigint) LIMIT " METRICS_COUNT_CAP ") d", 1, p, failed);
	if (v >= 0) {
		family(out, "ringfence_reminders_due_pending", "gauge",
			"Pending reminders that are due (capped at " METRICS_COUNT_CAP ").");
		sample_u(out, "ringfence_reminders_due_pending", "", (unsigned long long)v);
	}
	v = sql_number(app->db, "metrics_unknown",
		"SELECT count(*) FROM (SELECT 1 FROM contact_attempts WHERE status = 'unknown'"
		" LIMIT " METRICS_COUNT_CAP ") u", 0, NULL, failed);
	if (v >= 0) {
		family(out, "ringfence_unknown_outcomes_waiting", "gauge",
			"Contact attempts whose outcome nobody knows yet, waiting for the reconciler"
			" (capped at " METRICS_COUNT_CAP ").");
		sample_u(out, "ringfence_unknown_outcomes_waiting", "", (unsigned long long)v);
	}
	v = sql_number(app->db, "metrics_failsafe",
		"SELECT tripped::int FROM failsafe_state WHERE id = 1", 0, NULL, failed);
	if (!*failed) {
		family(out, "ringfence_failsafe_tripped", "gauge",
			"1 while the failsafe is tripped (nothing is sent); the reason is on the"
			" operator's page only.");
		sample_u(out, "ringfence_failsafe_tripped", "", v == 1 ? 1 : 0);
	}
	if (*failed)
		return;
	/* Heartbeats: the database's clock, never RINGFENCE_NOW. */
	res = db_exec_prepared(app->db, "metrics_heartbeats",
		"SELECT k.kind,"
		" (SELECT extract(epoch FROM now() - max(h.beat_at)) FROM process_heartbeats h"
		"   WHERE h.kind = k.kind),"
		" (SELECT count(*) FROM process_heartbeats h WHERE h.kind = k.kind"
		"   AND h.beat_at > now() - 3 * make_interval(secs => h.beat_every_s)),"
		" (SELECT extract(epoch FROM now() - max(h.last_tick_at)) FROM process_heartbeats h"
		"   WHERE h.kind = k.kind)"
		" FROM unnest(ARRAY['scheduler', 'worker', 'calsync', 'fcgi', 'office-mail']) k(kind)",
		0, NULL);
	if (res == NULL) {
		*failed = 1;
		return;
	}
	family(out, "ringfence_processes_alive", "gauge",
		"Processes of each kind whose heartbeat is within 3 beats of now.");
	for (int i = 0; i < PQntuples(res); i++) {
		char l[64];
		snprintf(l, sizeof(l), "kind=\"%s\"", PQgetvalue(res, i, 0));
		sample_u(out, "ringfence_processes_alive", l, strtoull(PQgetvalue(res, i, 2), NULL, 10));
	}
	family(out, "ringfence_process_heartbeat_age_seconds", "gauge",
		"Seconds since the latest heartbeat of any process of each kind (absent: none).");
	for (int i = 0; i < PQntuples(res); i++) {
		char l[64];
		if (PQgetisnull(res, i, 1))
			continue;
		snprintf(l, sizeof(l), "kind=\"%s\"", PQgetvalue(res, i, 0));
		sample_d(out, "ringfence_process_heartbeat_age_seconds", l,
			strtod(PQgetvalue(res, i, 1), NULL));
	}
	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 0), "scheduler") == 0 && !PQgetisnull(res, i, 3)) {
			family(out, "ringfence_scheduler_last_tick_age_seconds", "gauge",
				"Seconds since a scheduler last ran a tick holding the lock.");
			sample_d(out, "ringfence_scheduler_last_tick_age_seconds", "",
				strtod(PQgetvalue(res, i, 3), NULL));
		}
	PQclear(res);
}

static void render_redis(struct buf *out, struct app *app, int *failed)
{
	const char *argv[] = { "ZCARD", QUEUE_KEY };
	redisReply *r = rds_command(app->rds, 2, argv, NULL);

	if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
		*failed = 1;
	} else {
		family(out, "ringfence_ready_queue_size", "gauge",
			"Reminder ids in Redis's ready set, waiting for a worker.");
		sample_u(out, "ringfence_ready_queue_size", "", (unsigned long long)r->integer);
	}
	if (r)
		freeReplyObject(r);
}

/* The pool's status file (written by the pool's master): its size,
 * restarts and generation; nothing when there is none. */
static void render_pool(struct buf *out, const char *run_dir, int *failed)
{
	char *path = xasprintf("%s/fcgi.status", run_dir);
	json_error_t e;
	json_t *j;

	if (access(path, F_OK) != 0) {
		free(path);
		return;
	}
	j = json_load_file(path, 0, &e);
	free(path);
	if (!json_is_object(j)) {
		*failed = 1;
		json_decref(j);
		return;
	}
	static const struct {
		const char *key, *name, *type, *help;
	} f[] = {
		{ "workers", "ringfence_pool_workers", "gauge", "FastCGI worker processes the pool runs." },
		{ "restarts", "ringfence_pool_restarts_total", "counter",
			"FastCGI workers the pool's master started again after one died." },
		{ "generation", "ringfence_pool_generation", "gauge",
			"The pool's generation: how many reloads it has gone through." },
	};
	for (size_t i = 0; i < ARRAY_LEN(f); i++) {
		json_t *v = json_object_get(j, f[i].key);
		if (!json_is_integer(v))
			continue;
		family(out, f[i].name, f[i].type, f[i].help);
		sample_u(out, f[i].name, "", (unsigned long long)json_integer_value(v));
	}
	json_decref(j);
}

/* Bytes in the audit fallback log and its rotated files. */
static long long fallback_bytes(const char *path)
{
	long long t = 0;
	struct stat st;

	if (stat(path, &st) == 0)
		t += st.st_size;
	for (int i = 1; i <= 100; i++) {
		char *p = xasprintf("%s.%d", path, i);
		int rc = stat(p, &st);
		free(p);
		if (rc < 0)
			break;
		t += st.st_size;
	}
	return t;
}

const char *metrics_flow_missing(const struct app *app)
{
	static const char *const flows[] = { "reminder_call", "reminder_sms", "inbound" };

	if (app->engine == NULL)
		return "all";
	for (size_t i = 0; i < ARRAY_LEN(flows); i++)
		if (engine_flow(app->engine, flows[i]) == NULL)
			return flows[i];
	return NULL;
}

void metrics_render(struct app *app, struct buf *out)
{
	uint64_t (*all)[S_N] = xcalloc(METRICS_PROC_N, sizeof(*all));
	int have[METRICS_PROC_N], db_failed = 0, redis_failed = 0, pool_failed = 0;
	/* The same default as app_init's. */
	char *fallback = app->cfg.audit_fallback ? xstrdup(app->cfg.audit_fallback)
		: xasprintf("%s/var/log/audit-fallback.log", app->cfg.root);
	char l[160];

	for (int k = 0; k < METRICS_PROC_N; k++)
		have[k] = segment_read(app->cfg.run_dir, (enum metrics_proc)k, all[k]) == 0;
	family(out, "ringfence_build_info", "gauge", "The running release (always 1).");
	char v[101];
	snprintf(v, sizeof(v), "%s", rf_version);
	for (char *p = v; *p; p++)
		if (*p == '"' || *p == '\\' || *p == '\n')
			*p = '_'; /* replaced, not escaped: git describe has none */
	snprintf(l, sizeof(l), "version=\"%s\"", v);
	sample_u(out, "ringfence_build_info", l, 1);
	render_counters(out, all, have);
	free(all);

	render_database(out, app, &db_failed);
	family(out, "ringfence_ready", "gauge",
		"1 when this process can serve webhooks (what GET /readyz answers 200 to): the"
		" call flows are loaded and PostgreSQL answered this scrape.");
	sample_u(out, "ringfence_ready", "", !db_failed && metrics_flow_missing(app) == NULL);
	render_redis(out, app, &redis_failed);
	render_pool(out, app->cfg.run_dir, &pool_failed);
	family(out, "ringfence_audit_fallback_bytes", "gauge",
		"Bytes in the audit fallback log (written while Redis is down), rotated files"
		" included.");
	sample_u(out, "ringfence_audit_fallback_bytes", "",
		(unsigned long long)fallback_bytes(fallback));
	free(fallback);

	family(out, "ringfence_scrape_errors", "gauge",
		"1 when a source did not answer this scrape (its gauges are absent).");
	sample_u(out, "ringfence_scrape_errors", "source=\"postgresql\"", (unsigned long long)db_failed);
	sample_u(out, "ringfence_scrape_errors", "source=\"redis\"", (unsigned long long)redis_failed);
	sample_u(out, "ringfence_scrape_errors", "source=\"pool_status\"",
		(unsigned long long)pool_failed);
}

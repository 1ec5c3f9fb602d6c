/* audit: records to bounded Redis streams, a fallback file, or stderr. */
#include "audit.h"
#include "arena.h"
#include "buf.h"
#include "form.h"
#include "log.h"
#include "metrics.h"
#include "rds.h"
#include "util.h"
#include "valid.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define AUDIT_REDACTED "[redacted]"
/* Stream lengths: MAXLEN x AUDIT_RECORD_MAX is each stream's byte budget
 * (the table in audit.h). */
#define AUDIT_CALL_MAXLEN "512"
#define AUDIT_BUSINESS_MAXLEN "8192"
#define AUDIT_ALL_MAXLEN "32768"
#define AUDIT_ERRORS_MAXLEN "8192"
#define AUDIT_REJECTED_MAXLEN "5000"
#define AUDIT_SOURCES_MAX_FIELDS "1000"
#define AUDIT_SOURCES_TTL "172800" /* 48 hours */
/* One call's history is only needed while somebody may ask about it. */
/* Through Sentinel, how long a write of records waits for one replica to
 * acknowledge them (WAIT 1 <ms>) before they are also kept in the
 * fallback log: a healthy replica on the same network acknowledges in
 * about a millisecond (measured by the sentinel test group).  A
 * webhook's deferred records wait after its response has gone
 * (FCGX_Finish_r): the wait holds the worker, not Twilio. */
#define AUDIT_WAIT_MS "20"
#define AUDIT_MAX_ID 64
#define AUDIT_MAX_STREAMS 4
/* What a truncated record keeps of each identifying string. */
#define AUDIT_KEEP_STRING 256
#define AUDIT_SUMMARY_PATH 128
#define AUDIT_SUMMARY_WORD 48
#define AUDIT_DIGEST_HEX 16

/* One record ready to store: its text and the streams it goes to. */
struct audit_pending {
	const char *json;
	const char *keys[AUDIT_MAX_STREAMS];
	int nkeys;
	const char *call_key;   /* the call's stream (one of keys), or NULL */
};

struct audit {
	struct rds *r;          /* shared, not owned */
	char *fallback_path;    /* owned; NULL: stderr only */
	int fallback_failing;   /* the fallback file's failure was logged */
	long long fallback_max_bytes;
	int fallback_max_files;
	/* The token bucket of summaries to the fallback log. */
	double rate, burst, tokens;
	long long tokens_ms;
	long long suppressed;   /* summaries not written since the last one */
	struct arena *scratch;  /* owned: one record's keys and text, reset after it */
	/* audit_defer's queue, in the arena of the records' audit_json. */
	struct audit_pending pending[AUDIT_DEFER_MAX];
	int npending;
};

/* The registered secrets, longest first so that a secret containing
 * another is replaced whole.  Process-wide and owned here: every audit
 * writer and every redaction must see the same set. */
static char **secrets;
static size_t nsecrets;

struct audit *audit_open(struct rds *r, const char *fallback_path)
{
	struct audit *au = xcalloc(1, sizeof(*au));
	au->r = r;
	au->fallback_path = fallback_path ? xstrdup(fallback_path) : NULL;
	au->fallback_max_bytes = 64LL * 1024 * 1024;
	au->fallback_max_files = 4;
	au->rate = 20;
	au->burst = au->tokens = 100;
	au->tokens_ms = util_now_ms();
	au->scratch = arena_new(0);
	return au;
}

void audit_set_fallback_limits(struct audit *au, long long max_bytes, int max_files)
{
	if (max_bytes > 0)
		au->fallback_max_bytes = max_bytes;
	if (max_files >= 1 && max_files <= 100)
		au->fallback_max_files = max_files;
}

void audit_set_summary_rate(struct audit *au, double per_second, double burst)
{
	au->rate = per_second;
	au->burst = au->tokens = burst;
	au->tokens_ms = util_now_ms();
}

void audit_close(struct audit *au)
{
	if (au == NULL)
		return;
	free(au->fallback_path);
	arena_free(au->scratch);
	free(au);
}

void audit_add_secret(const char *secret)
{
	size_t i, len;

	/* An empty secret would match everywhere and say nothing. */
	if (secret == NULL || *secret == '\0')
		return;
	for (i = 0; i < nsecrets; i++)
		if (strcmp(secrets[i], secret) == 0)
			return;
	len = strlen(secret);
	secrets = xrealloc(secrets, (nsecrets + 1) * sizeof(*secrets));
	for (i = nsecrets; i > 0 && strlen(secrets[i - 1]) < len; i--)
		secrets[i] = secrets[i - 1];
	secrets[i] = xstrdup(secret);
	nsecrets++;
}

/* The length of the registered secret starting at s, or 0. */
static size_t audit_secret_at(const char *s)
{
	for (size_t i = 0; i < nsecrets; i++) {
		size_t n = strlen(secrets[i]);
		if (strncmp(s, secrets[i], n) == 0)
			return n;
	}
	return 0;
}

static int audit_has_secret(const char *s, size_t len)
{
	for (size_t i = 0; i < nsecrets; i++)
		if (memmem(s, len, secrets[i], strlen(secrets[i])))
			return 1;
	return 0;
}

/* Appends s to b with every secret replaced. */
static void redact_into(struct buf *b, const char *s)
{
	for (const char *p = s; p && *p; ) {
		size_t n = audit_secret_at(p);
		if (n) {
			buf_puts(b, AUDIT_REDACTED);
			p += n;
		} else {
			buf_putc(b, *p++);
		}
	}
}

char *audit_redact(const char *s)
{
	struct buf b = BUF_INIT;

	redact_into(&b, s);
	/* The buffer's memory becomes the caller's. */
	return b.data ? b.data : xstrdup("");
}

const char *audit_redact_in(struct arena *a, const char *s)
{
	struct buf b;

	buf_init_arena(&b, a);
	redact_into(&b, s);
	return buf_str(&b);
}

/* Names that carry credentials by convention, compared case-insensitively
 * after dropping '_' and '-' (so API_KEY and api-key count too). */
static int audit_secret_name(const char *name)
{
	static const char *const words[] = {
		"authtoken", "password", "passwd", "token", "secret", "apikey",
		"authorization", "cookie",
	};
	char norm[128];
	size_t n = 0;

	/* Lower case once, then plain substring searches. */
	for (const char *p = name; *p && n < sizeof(norm) - 1; p++)
		if (*p != '_' && *p != '-')
			norm[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	norm[n] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(words); i++)
		if (strstr(norm, words[i]))
			return 1;
	return 0;
}

json_t *audit_params_json(const struct params *p)
{
	json_t *obj = json_object();

	for (size_t i = 0; p && i < p->n; i++) {
		const struct param *pa = &p->v[i];
		json_t *v, *old;

		if (audit_secret_name(pa->name) || audit_has_secret(pa->value, pa->value_len))
			v = json_string(AUDIT_REDACTED);
		else if ((v = json_stringn(pa->value, pa->value_len)) == NULL)
			/* Not UTF-8: the record must stay valid JSON. */
			v = json_sprintf("[%zu bytes, not UTF-8]", pa->value_len);
		/* A repeated name keeps every value, in order. */
		old = json_object_get(obj, pa->name);
		if (old == NULL) {
			json_object_set_new(obj, pa->name, v);
		} else if (json_is_array(old)) {
			json_array_append_new(old, v);
		} else {
			json_t *arr = json_array();
			json_array_append(arr, old);
			json_array_append_new(arr, v);
			json_object_set_new(obj, pa->name, arr);
		}
	}
	return obj;
}

/* Replaces registered secrets in every string of v, keys included,
 * its scratch in a; returns v or its replacement (a new reference
 * either way). */
static json_t *audit_scrub(struct arena *a, json_t *v)
{
	if (nsecrets == 0)
		return v;
	if (json_is_string(v)) {
		if (audit_has_secret(json_string_value(v), json_string_length(v))) {
			const char *s = audit_redact_in(a, json_string_value(v));
			json_decref(v);
			v = json_string(s);
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
			json_array_set_new(v, i, audit_scrub(a, json_incref(e)));
	} else if (json_is_object(v)) {
		json_t *copy = json_object();
		const char *k;
		json_t *e;
		json_object_foreach(v, k, e) {
			const char *rk = audit_has_secret(k, strlen(k)) ? audit_redact_in(a, k) : k;
			json_object_set_new(copy, rk, audit_scrub(a, json_incref(e)));
		}
		json_decref(v);
		v = copy;
	}
	return v;
}

/* An id used inside a Redis key: short and plain, so that a hostile value
 * cannot create unbounded keys or look like another key's suffix. */
static int audit_key_id_ok(const char *id)
{
	size_t n = 0;
	for (const char *p = id; *p; p++, n++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				(*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return 0;
	return n > 0 && n <= AUDIT_MAX_ID;
}

static void audit_timestamp(char out[40])
{
	struct timespec now;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%03dZ", (int)(now.tv_nsec / 1000000) % 1000);
}

/* Creates the parent directories of path (mode 0750); 0 or -1. */
static int audit_mkdirs(const char *path)
{
	char *dir = xstrdup(path);
	int rc = 0;

	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	free(dir);
	return rc;
}

/* Rotates the fallback log when len more bytes would take it over its
 * size: path.N-1 is
 * dropped, path.K becomes path.K+1, path becomes path.1.  Processes share
 * the log, so the rotation happens under an exclusive lock on path.lock
 * and only if the log is still that full once the lock is held
 * (another process may have rotated it meanwhile). */
static void audit_fallback_rotate(struct audit *au, size_t len)
{
	char *lock = xasprintf("%s.lock", au->fallback_path);
	struct stat st;
	int fd = open(lock, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);

	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		close(fd);
		fd = -1;
	}
	/* Without the lock, rotating anyway keeps the size bounded; the worst
	 * case is one rotation too many. */
	if (stat(au->fallback_path, &st) == 0 && st.st_size > 0 &&
			st.st_size + (long long)len > au->fallback_max_bytes) {
		for (int i = au->fallback_max_files - 1; i >= 1; i--) {
			char *from = i == 1 ? xstrdup(au->fallback_path)
				: xasprintf("%s.%d", au->fallback_path, i - 1);
			char *to = xasprintf("%s.%d", au->fallback_path, i);
			if (rename(from, to) < 0 && errno != ENOENT)
				log_warn("audit: cannot rotate %s: %s", from, strerror(errno));
			free(from);
			free(to);
		}
		if (au->fallback_max_files == 1 && truncate(au->fallback_path, 0) < 0)
			log_warn("audit: cannot truncate %s: %s", au->fallback_path, strerror(errno));
	}
	if (fd >= 0)
		close(fd); /* releases the lock */
	free(lock);
}

/* Opens the fallback log for appending, creating its folders; -1 with
 * errno on failure. */
static int audit_fallback_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 && errno == ENOENT && audit_mkdirs(path) == 0)
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	return fd;
}

/* Appends line to the fallback file with one write(), so that lines from
 * concurrent processes never interleave, rotating the file first when
 * this line would take it over its size; 0 or -1. */
static int audit_fallback(struct audit *au, const char *line, size_t len)
{
	int fd, rc = -1, err = 0;
	struct stat st;
	ssize_t w;

	if (au->fallback_path == NULL)
		return -1;
	fd = audit_fallback_open(au->fallback_path);
	if (fd >= 0 && fstat(fd, &st) == 0 &&
			st.st_size + (long long)len > au->fallback_max_bytes && st.st_size > 0) {
		close(fd);
		audit_fallback_rotate(au, len);
		fd = audit_fallback_open(au->fallback_path);
	}
	if (fd < 0) {
		err = errno;
		goto out;
	}
	do
		w = write(fd, line, len);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		err = errno;
	else if ((size_t)w != len)
		err = ENOSPC;
	else
		rc = 0;
	close(fd);
out:
	if (rc < 0 && !au->fallback_failing)
		log_error("audit: cannot write the fallback log %s: %s", au->fallback_path,
			strerror(err));
	au->fallback_failing = rc < 0;
	return rc;
}

/* See audit.h. */
const char *audit_stream_maxlen(const char *key)
{
	if (strcmp(key, AUDIT_KEY_REJECTED) == 0)
		return AUDIT_REJECTED_MAXLEN;
	if (strncmp(key, AUDIT_KEY_CALL_PREFIX, strlen(AUDIT_KEY_CALL_PREFIX)) == 0)
		return AUDIT_CALL_MAXLEN;
	if (strncmp(key, AUDIT_KEY_BUSINESS_PREFIX, strlen(AUDIT_KEY_BUSINESS_PREFIX)) == 0)
		return AUDIT_BUSINESS_MAXLEN;
	if (strcmp(key, AUDIT_KEY_ERRORS) == 0)
		return AUDIT_ERRORS_MAXLEN;
	return AUDIT_ALL_MAXLEN;
}

/* Appends the decimal form of v. */
static void json_int(struct buf *b, long long v)
{
	char tmp[24], *e = tmp + sizeof(tmp), *q = e;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do
		*--q = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--q = '-';
	buf_append(b, q, (size_t)(e - q));
}

/* Appends a string literal. */
#define BUF_LIT(b, lit) buf_append((b), (lit), sizeof(lit) - 1)

static int audit_spill(struct audit *au, struct arena *a, const char *json);

/* Appends one bulk string of Redis's protocol: $<len>\r\n<bytes>\r\n. */
static void resp_arg(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	buf_putc(b, '$');
	json_int(b, (long long)n);
	BUF_LIT(b, "\r\n");
	buf_append(b, s, n);
	BUF_LIT(b, "\r\n");
}

/* Through Sentinel: the records' commands in b (n of them) end with
 * WAIT for one replica, at most AUDIT_WAIT_MS.  A failover promotes a
 * replica, and what it had not received is lost: records no replica
 * acknowledged are also appended to the fallback log (a replay skips
 * those that did survive in Redis, audit_replay.c).  0 or -1. */
static int audit_store_replicated(struct audit *au, struct arena *a,
	const struct audit_pending *p, int np, struct buf *b, int n)
{
	long long acked;

	BUF_LIT(b, "*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n");
	resp_arg(b, AUDIT_WAIT_MS);
	if (rds_pipeline_resp_int(au->r, n + 1, b->data, b->len, &acked) < 0)
		return -1;
	if (acked < 1) {
		metrics_audit_unreplicated(np);
		for (int k = 0; k < np; k++)
			audit_spill(au, a, p[k].json);
	}
	return 0;
}

/* Adds each record to every stream of its keys (and refreshes the
 * expiry of a call's stream) in one round trip, the commands formatted
 * here in arena a; 0 or -1.  After a partial failure the caller writes
 * the records to the fallback log as well: a duplicate is better than a
 * gap. */
static int audit_store(struct audit *au, struct arena *a, const struct audit_pending *p, int np)
{
	struct buf b;
	size_t need = 0;
	int n = 0;

	if (au->r == NULL)
		return -1;
	buf_init_arena(&b, a);
	/* Every record's text once per stream, and the words around it. */
	for (int k = 0; k < np; k++)
		need += (size_t)p[k].nkeys * (strlen(p[k].json) + 160) + 100;
	buf_reserve(&b, need + 40);
	for (int k = 0; k < np; k++) {
		for (int i = 0; i < p[k].nkeys; i++, n++) {
			BUF_LIT(&b, "*8\r\n$4\r\nXADD\r\n");
			resp_arg(&b, p[k].keys[i]);
			BUF_LIT(&b, "$6\r\nMAXLEN\r\n$1\r\n~\r\n");
			resp_arg(&b, audit_stream_maxlen(p[k].keys[i]));
			BUF_LIT(&b, "$1\r\n*\r\n$4\r\njson\r\n");
			resp_arg(&b, p[k].json);
		}
		if (p[k].call_key) {
			BUF_LIT(&b, "*3\r\n$6\r\nEXPIRE\r\n");
			resp_arg(&b, p[k].call_key);
			resp_arg(&b, AUDIT_CALL_TTL);
			n++;
		}
	}
	if (!rds_is_sentinel(au->r))
		return rds_pipeline_resp(au->r, n, b.data, b.len);
	return audit_store_replicated(au, a, p, np, &b, n);
}

/* prefix then id, in arena a. */
static const char *audit_key_of(struct arena *a, const char *prefix, const char *id)
{
	size_t np = strlen(prefix), ni = strlen(id);
	char *k = arena_alloc(a, np + ni + 1);

	memcpy(k, prefix, np);
	memcpy(k + np, id, ni + 1);
	return k;
}

/* The streams of a record of kind about call_sid and business_id (keys
 * named in arena a) into p.  Only ids audit_key_id_ok takes name one. */
static void audit_route(struct arena *a, const char *kind, const char *call_sid,
	const char *business_id, struct audit_pending *p)
{
	p->nkeys = 0;
	p->call_key = NULL;
	p->keys[p->nkeys++] = AUDIT_KEY_ALL;
	if (strcmp(kind, "error") == 0)
		p->keys[p->nkeys++] = AUDIT_KEY_ERRORS;
	if (call_sid && audit_key_id_ok(call_sid)) {
		p->keys[p->nkeys] = audit_key_of(a, AUDIT_KEY_CALL_PREFIX, call_sid);
		p->call_key = p->keys[p->nkeys++];
	}
	if (business_id && audit_key_id_ok(business_id))
		p->keys[p->nkeys++] = audit_key_of(a, AUDIT_KEY_BUSINESS_PREFIX, business_id);
}

/* A record Redis did not take: one line of the fallback log, else of
 * stderr.  1 or -1, as audit_record returns. */
static int audit_spill(struct audit *au, struct arena *a, const char *json)
{
	const char *line = arena_printf(a, "%s\n", json);
	size_t len = strlen(line);
	ssize_t w;

	if (audit_fallback(au, line, len) == 0)
		return 1;
	/* Nowhere else to go: the operator's log still has it. */
	do
		w = write(2, line, len);
	while (w < 0 && errno == EINTR);
	return -1;
}

/* s cut to at most max bytes without splitting a UTF-8 sequence; a new
 * JSON string (s is valid UTF-8: it came out of a JSON string). */
static json_t *audit_cut_utf8(const char *s, size_t len, size_t max)
{
	return json_stringn(s, utf8_cut(s, len, max));
}

/* The fields that say what a record is about; a truncated record keeps
 * these and nothing else. */
static const char *const audit_identifying[] = {
	"kind", "ts", "pid", "call_sid", "business_id", "request_id", "method", "path", "query",
	"remote_addr", "status", "signature", "verdict", "error", "error_field", "call_id",
	"attempt_id", "reminder_id", "channel", "sid", "decision", "action", "state_before",
	"state_after", "input", "key_prefix", "latency_ms", "http_status", "outcome",
};

/* The record rec (of json_len bytes serialised) reduced to its
 * identifying fields, each string cut to AUDIT_KEEP_STRING bytes, marked
 * truncated with its original size; a new object. */
static json_t *audit_truncate(json_t *rec, size_t json_len)
{
	json_t *small = json_object();

	for (size_t i = 0; i < ARRAY_LEN(audit_identifying); i++) {
		json_t *v = json_object_get(rec, audit_identifying[i]);
		if (v == NULL)
			continue;
		if (json_is_string(v))
			json_object_set_new(small, audit_identifying[i],
				audit_cut_utf8(json_string_value(v), json_string_length(v),
					AUDIT_KEEP_STRING));
		else if (json_is_integer(v) || json_is_boolean(v) || json_is_real(v))
			json_object_set(small, audit_identifying[i], v);
	}
	json_object_set_new(small, "truncated", json_true());
	json_object_set_new(small, "original_bytes", json_integer((json_int_t)json_len));
	return small;
}

int audit_record(struct audit *au, const char *kind, const char *call_sid,
	const char *business_id, json_t *rec)
{
	struct arena *a = au->scratch;
	char ts[40];
	struct audit_pending p;
	const char *json;
	int rc;

	if (rec == NULL) {
		rec = json_object();
	} else if (!json_is_object(rec)) {
		json_t *wrap = json_object();
		json_object_set_new(wrap, "data", rec);
		rec = wrap;
	}
	if (kind == NULL || *kind == '\0')
		kind = "unknown";
	audit_timestamp(ts);
	json_object_set_new(rec, "kind", json_string(kind));
	json_object_set_new(rec, "ts", json_string(ts));
	json_object_set_new(rec, "pid", json_integer(getpid()));
	/* The request being served (log.h), so one id joins nginx's log,
	 * the process's log and every record the request wrote. */
	if (log_request_id()[0] && json_object_get(rec, "request_id") == NULL)
		json_object_set_new(rec, "request_id", json_string(log_request_id()));
	/* Ids that are not UTF-8 cannot be JSON strings; the record is kept
	 * without them rather than lost. */
	if (call_sid)
		json_object_set_new(rec, "call_sid", json_string(call_sid));
	if (business_id)
		json_object_set_new(rec, "business_id", json_string(business_id));
	/* The last line of defence: callers redact what they know about,
	 * this catches a token pasted into an error message or a body. */
	rec = audit_scrub(a, rec);
	json = arena_json(a, rec, JSON_COMPACT);
	if (json == NULL)
		abort(); /* an object of valid strings always encodes */
	if (strlen(json) > AUDIT_RECORD_MAX) {
		json_t *small = audit_truncate(rec, strlen(json));
		json_decref(rec);
		rec = small;
		json = arena_json(a, rec, JSON_COMPACT);
		if (json == NULL)
			abort();
	}

	p.json = json;
	audit_route(a, kind, call_sid, business_id, &p);
	rc = audit_store(au, a, &p, 1) == 0 ? 0 : audit_spill(au, a, json);
	json_decref(rec);
	arena_reset(a);
	return rc;
}

/* ---- records written straight as JSON text ------------------------------------ */

/* How many bytes each byte takes inside a JSON string, as jansson
 * escapes it: 1, 2 for \" \\ \b \f \n \r \t, 6 for another control byte. */
static const unsigned char json_width[256] = {
	6, 6, 6, 6, 6, 6, 6, 6, 2, 2, 2, 6, 2, 2, 6, 6,
	6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
	1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* s (len bytes) as a JSON string, escaped as jansson escapes it, in two
 * passes (its size, then its bytes) without a call per byte.  Returns
 * whether s has a byte over 0x7f (then the caller checks its UTF-8). */
static int json_quote(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	size_t need = 2;
	unsigned char high = 0;
	char *o;

	for (size_t i = 0; i < len; i++) {
		need += json_width[p[i]];
		high |= p[i];
	}
	buf_reserve(b, need);
	o = b->data + b->len;
	*o++ = '"';
	if (need == len + 2) {
		memcpy(o, s, len);
		o += len;
	} else {
		for (size_t i = 0; i < len; i++) {
			unsigned char c = p[i];
			if (json_width[c] == 1) {
				*o++ = (char)c;
				continue;
			}
			*o++ = '\\';
			switch (c) {
			case '"': *o++ = '"'; break;
			case '\\': *o++ = '\\'; break;
			case '\b': *o++ = 'b'; break;
			case '\f': *o++ = 'f'; break;
			case '\n': *o++ = 'n'; break;
			case '\r': *o++ = 'r'; break;
			case '\t': *o++ = 't'; break;
			default:
				*o++ = 'u';
				*o++ = '0';
				*o++ = '0';
				*o++ = hex[c >> 4];
				*o++ = hex[c & 15];
			}
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
	return (high & 0x80) != 0;
}


/* A string of the record (secrets replaced), as audit_scrub leaves it;
 * 0, or -1 (nothing written) when s is not UTF-8: jansson takes no such
 * string. */
static int json_quote_scrubbed(struct audit_json *j, const char *s, size_t len)
{
	size_t mark = j->b.len;
	const char *orig = s;
	size_t orig_len = len;

	if (audit_has_secret(s, len)) {
		s = audit_redact_in(j->a, s);
		len = strlen(s);
	}
	if (json_quote(&j->b, s, len) && !valid_utf8(orig, orig_len)) {
		j->b.len = mark;
		j->b.data[mark] = '\0';
		return -1;
	}
	return 0;
}

/* The separator and "key": of the next member (key: plain ASCII, as
 * audit.h asks of the caller's names). */
static void json_member(struct audit_json *j, const char *key)
{
	size_t n = strlen(key);
	char *o;

	buf_reserve(&j->b, n + 4);
	o = j->b.data + j->b.len;
	if (j->b.len > 1)
		*o++ = ',';
	*o++ = '"';
	memcpy(o, key, n);
	o += n;
	*o++ = '"';
	*o++ = ':';
	j->b.len = (size_t)(o - j->b.data);
	j->b.data[j->b.len] = '\0';
}

void audit_json_begin(struct audit_json *j, struct arena *a)
{
	buf_init_arena(&j->b, a);
	/* A webhook's record in one block of the arena. */
	buf_reserve(&j->b, 4096);
	j->a = a;
	j->has_request_id = 0;
	buf_putc(&j->b, '{');
}

void audit_json_str(struct audit_json *j, const char *key, const char *value)
{
	size_t mark = j->b.len;

	if (value == NULL)
		return;
	json_member(j, key);
	if (json_quote_scrubbed(j, value, strlen(value)) < 0) {
		/* jansson refuses a string that is not UTF-8: the member is
		 * left out. */
		j->b.len = mark;
		j->b.data[mark] = '\0';
		return;
	}
	if (strcmp(key, "request_id") == 0)
		j->has_request_id = 1;
}

void audit_json_int(struct audit_json *j, const char *key, long long value)
{
	json_member(j, key);
	json_int(&j->b, value);
}

void audit_json_true(struct audit_json *j, const char *key)
{
	json_member(j, key);
	buf_append(&j->b, "true", 4);
}

/* One parameter's value as audit_params_json gives it. */
static void json_param_value(struct audit_json *j, const struct param *pa)
{
	size_t mark = j->b.len;

	if (audit_secret_name(pa->name) || audit_has_secret(pa->value, pa->value_len)) {
		buf_puts(&j->b, "\"" AUDIT_REDACTED "\"");
	} else if (json_quote(&j->b, pa->value, pa->value_len) &&
		!valid_utf8(pa->value, pa->value_len)) {
		j->b.len = mark;
		buf_printf(&j->b, "\"[%zu bytes, not UTF-8]\"", pa->value_len);
	}
}

void audit_json_params(struct audit_json *j, const char *key, const struct params *p)
{
	int first = 1;

	json_member(j, key);
	buf_putc(&j->b, '{');
	for (size_t i = 0; p && i < p->n; i++) {
		const char *name = p->v[i].name;
		size_t k, count = 0;

		if (!valid_utf8(name, strlen(name)))
			continue; /* jansson takes no such key */
		for (k = 0; k < i && strcmp(p->v[k].name, name) != 0; k++)
			;
		if (k < i)
			continue; /* written with its first occurrence */
		for (k = i; k < p->n; k++)
			count += strcmp(p->v[k].name, name) == 0;
		if (!first)
			buf_putc(&j->b, ',');
		first = 0;
		json_quote_scrubbed(j, name, strlen(name)); /* UTF-8: checked above */
		buf_putc(&j->b, ':');
		/* A repeated name keeps every value, in order. */
		if (count > 1)
			buf_putc(&j->b, '[');
		for (k = i; k < p->n; k++) {
			if (strcmp(p->v[k].name, name) != 0)
				continue;
			if (k > i)
				buf_putc(&j->b, ',');
			json_param_value(j, &p->v[k]);
		}
		if (count > 1)
			buf_putc(&j->b, ']');
	}
	buf_putc(&j->b, '}');
}

void audit_defer(struct audit *au, const char *kind, const char *call_sid,
	const char *business_id, struct audit_json *j)
{
	struct audit_pending *p;
	char ts[40];
	const char *json;

	if (kind == NULL || *kind == '\0')
		kind = "unknown";
	audit_timestamp(ts);
	audit_json_str(j, "kind", kind);
	audit_json_str(j, "ts", ts);
	audit_json_int(j, "pid", getpid());
	if (log_request_id()[0] && !j->has_request_id)
		audit_json_str(j, "request_id", log_request_id());
	audit_json_str(j, "call_sid", call_sid);
	audit_json_str(j, "business_id", business_id);
	buf_putc(&j->b, '}');
	json = buf_str(&j->b);
	if (j->b.len > AUDIT_RECORD_MAX) {
		json_t *rec = json_loadb(json, j->b.len, 0, NULL), *small;
		if (rec == NULL)
			abort(); /* the text is ours: only a bug in writing it */
		small = audit_truncate(rec, j->b.len);
		json = arena_json(j->a, small, JSON_COMPACT);
		json_decref(rec);
		json_decref(small);
		if (json == NULL)
			abort();
	}
	if (au->npending == AUDIT_DEFER_MAX)
		audit_flush(au);
	p = &au->pending[au->npending++];
	p->json = json;
	audit_route(j->a, kind, call_sid, business_id, p);
}

int audit_flush(struct audit *au)
{
	int rc = 0, n = au->npending;

	if (n == 0)
		return 0;
	au->npending = 0;
	if (audit_store(au, au->scratch, au->pending, n) == 0) {
		arena_reset(au->scratch);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		int r = audit_spill(au, au->scratch, au->pending[i].json);
		if (r < rc || rc == 0)
			rc = r;
	}
	arena_reset(au->scratch);
	return rc;
}

/* s with every byte that is not printable ASCII replaced by '?', cut to
 * max bytes; a new JSON string.  A summary holds nothing it did not
 * clean. */
static json_t *audit_clean(const char *s, size_t max)
{
	char out[AUDIT_SUMMARY_PATH + 1];
	size_t n = 0;

	if (max > AUDIT_SUMMARY_PATH)
		max = AUDIT_SUMMARY_PATH;
	for (; s[n] && n < max; n++)
		out[n] = (s[n] >= 0x20 && s[n] < 0x7f) ? s[n] : '?';
	out[n] = '\0';
	return json_string(out);
}

/* Whether s looks like an IPv4 or IPv6 address (it names a hash field). */
static int audit_addr_ok(const char *s)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF:.");
	return n > 0 && n <= 45 && s[n] == '\0';
}

json_t *audit_rejection_json(const struct audit_rejection *rj)
{
	json_t *rec = json_object();
	char digest[AUDIT_DIGEST_HEX + 1];
	size_t n;

	if (rj->request_id)
		json_object_set_new(rec, "request_id", audit_clean(rj->request_id, AUDIT_SUMMARY_WORD));
	if (rj->method)
		json_object_set_new(rec, "method", audit_clean(rj->method, 16));
	if (rj->path)
		json_object_set_new(rec, "path", audit_clean(rj->path, AUDIT_SUMMARY_PATH));
	if (rj->remote_addr)
		json_object_set_new(rec, "remote_addr",
			audit_addr_ok(rj->remote_addr) ? json_string(rj->remote_addr)
						       : json_string("invalid"));
	if (rj->verdict)
		json_object_set_new(rec, "verdict", audit_clean(rj->verdict, AUDIT_SUMMARY_WORD));
	json_object_set_new(rec, "status", json_integer(rj->status));
	if (rj->body_len >= 0)
		json_object_set_new(rec, "body_len", json_integer(rj->body_len));
	if (rj->nfields >= 0)
		json_object_set_new(rec, "fields", json_integer(rj->nfields));
	if (rj->body_sha256) {
		n = strspn(rj->body_sha256, "0123456789abcdef");
		if (n >= AUDIT_DIGEST_HEX) {
			memcpy(digest, rj->body_sha256, AUDIT_DIGEST_HEX);
			digest[AUDIT_DIGEST_HEX] = '\0';
			json_object_set_new(rec, "body_sha256", json_string(digest));
		}
	}
	return rec;
}

/* Stores one summary and counts its source in one round trip: the
 * stream is capped, the hour's hash holds at most max_fields addresses
 * (the rest count under "other") and expires. */
static const char audit_rejected_lua[] =
	"redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'json', ARGV[2])\n"
	"local f = ARGV[3]\n"
	"if redis.call('HEXISTS', KEYS[2], f) == 0 and\n"
	"   redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then\n"
	"  f = 'other'\n"
	"end\n"
	"redis.call('HINCRBY', KEYS[2], f, 1)\n"
	"redis.call('EXPIRE', KEYS[2], ARGV[5])\n"
	"return 1\n";

/* Whether the token bucket of summaries to the fallback log has one. */
static int audit_summary_token(struct audit *au)
{
	long long now = util_now_ms();
	au->tokens += (double)(now - au->tokens_ms) * au->rate / 1000.0;
	au->tokens_ms = now;
	if (au->tokens > au->burst)
		au->tokens = au->burst;
	if (au->tokens < 1.0)
		return 0;
	au->tokens -= 1.0;
	return 1;
}

int audit_rejected(struct audit *au, const struct audit_rejection *rj)
{
	struct arena *a = au->scratch;
	json_t *rec = audit_rejection_json(rj);
	char ts[40], sources[AUDIT_SOURCES_KEY_SIZE];
	const char *json, *line;
	const char *args[7];
	redisReply *rep = NULL;
	int rc;

	audit_timestamp(ts);
	json_object_set_new(rec, "kind", json_string("rejected"));
	json_object_set_new(rec, "ts", json_string(ts));
	json_object_set_new(rec, "pid", json_integer(getpid()));
	if (au->suppressed > 0)
		json_object_set_new(rec, "suppressed", json_integer(au->suppressed));
	json = arena_json(a, rec, JSON_COMPACT);
	if (json == NULL)
		abort();
	audit_sources_key(time(NULL), sources);

	if (au->r) {
		args[0] = AUDIT_KEY_REJECTED;
		args[1] = sources;
		args[2] = AUDIT_REJECTED_MAXLEN;
		args[3] = json;
		args[4] = rj->remote_addr && audit_addr_ok(rj->remote_addr) ? rj->remote_addr
									    : "invalid";
		args[5] = AUDIT_SOURCES_MAX_FIELDS;
		args[6] = AUDIT_SOURCES_TTL;
		rep = rds_eval(au->r, audit_rejected_lua, 2, 7, args, NULL);
	}
	if (rep && rds_is_sentinel(au->r)) {
		/* As audit_store_replicated: kept in the fallback log too when
		 * no replica has it yet. */
		const char *wait[] = { "WAIT", "1", AUDIT_WAIT_MS };
		redisReply *acked = rds_command(au->r, 3, wait, NULL);
		int replicated = acked && acked->type == REDIS_REPLY_INTEGER && acked->integer >= 1;
		if (acked)
			freeReplyObject(acked);
		if (!replicated) {
			metrics_audit_unreplicated(1);
			freeReplyObject(rep);
			rep = NULL;
		}
	}
	if (rep) {
		freeReplyObject(rep);
		au->suppressed = 0;
		rc = 0;
		goto out;
	}
	/* Redis is down or full: a flood must not fill the disk either. */
	if (!audit_summary_token(au)) {
		au->suppressed++;
		rc = 2;
		goto out;
	}
	line = arena_printf(a, "%s\n", json);
	if (audit_fallback(au, line, strlen(line)) == 0) {
		rc = 1;
	} else {
		ssize_t w;
		do
			w = write(2, line, strlen(line));
		while (w < 0 && errno == EINTR);
		rc = -1;
	}
	au->suppressed = 0;
out:
	json_decref(rec);
	arena_reset(a);
	return rc;
}

/* See audit.h. */
char *audit_stream_key(const char *scope, const char *id)
{
	if (scope == NULL)
		return NULL;
	if (strcmp(scope, "all") == 0)
		return xstrdup(AUDIT_KEY_ALL);
	if (strcmp(scope, "errors") == 0)
		return xstrdup(AUDIT_KEY_ERRORS);
	if (strcmp(scope, "rejected") == 0)
		return xstrdup(AUDIT_KEY_REJECTED);
	if (strcmp(scope, "call") != 0 && strcmp(scope, "business") != 0)
		return NULL;
	if (id == NULL || !audit_key_id_ok(id))
		return xstrdup("");
	return xasprintf("%s%s", strcmp(scope, "call") == 0 ? AUDIT_KEY_CALL_PREFIX :
		AUDIT_KEY_BUSINESS_PREFIX, id);
}

/* See audit.h. */
void audit_sources_key(time_t t, char out[AUDIT_SOURCES_KEY_SIZE])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	memcpy(out, AUDIT_KEY_SOURCES_PREFIX, strlen(AUDIT_KEY_SOURCES_PREFIX));
	strftime(out + strlen(AUDIT_KEY_SOURCES_PREFIX),
		AUDIT_SOURCES_KEY_SIZE - strlen(AUDIT_KEY_SOURCES_PREFIX), "%Y%m%d%H", &tm);
}

/* The record in one stream entry ([id, [field, value, ...]]), or a note
 * saying what was there instead, so that a reader sees every entry. */
static json_t *audit_entry(const redisReply *e)
{
	const redisReply *fields;
	json_t *rec = NULL;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
			e->element[1]->type != REDIS_REPLY_ARRAY)
		return json_pack("{s:s}", "kind", "unreadable");
	fields = e->element[1];
	for (size_t i = 0; i + 1 < fields->elements; i += 2) {
		const redisReply *f = fields->element[i], *v = fields->element[i + 1];
		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
				strcmp(f->str, "json") != 0)
			continue;
		rec = json_loadb(v->str, v->len, JSON_REJECT_DUPLICATES, NULL);
		if (rec == NULL)
			rec = json_pack("{s:s,s:s%}", "kind", "unparsable", "raw", v->str, v->len);
		if (rec == NULL) /* not even UTF-8 */
			rec = json_pack("{s:s}", "kind", "unparsable");
		return rec;
	}
	return json_pack("{s:s}", "kind", "unreadable");
}

json_t *audit_read(struct rds *r, const char *scope, const char *id, int max)
{
	char *key = audit_stream_key(scope, id);
	char count[16];
	const char *argv[6];
	redisReply *rep = NULL;
	json_t *out = NULL;

	if (key == NULL || max < 1) {
		log_warn("audit: cannot read scope '%s' (max %d)", scope ? scope : "(null)", max);
		goto out;
	}
	if (*key == '\0') {
		out = json_array();
		goto out;
	}
	snprintf(count, sizeof(count), "%d", max);
	/* The newest max entries, newest first; returned oldest first. */
	argv[0] = "XREVRANGE";
	argv[1] = key;
	argv[2] = "+";
	argv[3] = "-";
	argv[4] = "COUNT";
	argv[5] = count;
	rep = rds_command(r, 6, argv, NULL);
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		goto out;
	out = json_array();
	for (size_t i = rep->elements; i > 0; i--)
		json_array_append_new(out, audit_entry(rep->element[i - 1]));
out:
	if (rep)
		freeReplyObject(rep);
	free(key);
	return out;
}

json_t *audit_sources(struct rds *r)
{
	json_t *out = json_array();
	time_t now = time(NULL);
	long hours = atol(AUDIT_SOURCES_TTL) / 3600;

	/* The hours are named by the clock, never listed with KEYS/SCAN. */
	for (long h = hours; h >= 0; h--) {
		char key[AUDIT_SOURCES_KEY_SIZE];
		const char *hour = key + strlen(AUDIT_KEY_SOURCES_PREFIX);
		const char *argv[2] = { "HGETALL", key };
		redisReply *rep;
		json_t *counts;

		audit_sources_key(now - h * 3600, key);
		rep = rds_command(r, 2, argv, NULL);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
			if (rep)
				freeReplyObject(rep);
			json_decref(out);
			out = NULL;
			goto out;
		}
		if (rep->elements > 0) {
			counts = json_object();
			for (size_t i = 0; i + 1 < rep->elements; i += 2)
				if (rep->element[i]->type == REDIS_REPLY_STRING &&
						rep->element[i + 1]->type == REDIS_REPLY_STRING)
					json_object_set_new(counts, rep->element[i]->str,
						json_integer(atoll(rep->element[i + 1]->str)));
			json_array_append_new(out, json_pack("{s:s,s:o}", "hour", hour, "counts", counts));
		}
		freeReplyObject(rep);
	}
out:
	return out;
}

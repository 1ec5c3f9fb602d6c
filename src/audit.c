/* audit: records to bounded Redis streams, a fallback file, or stderr. */
#include "audit.h"
#include "buf.h"
#include "form.h"
#include "log.h"
#include "rds.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define AUDIT_REDACTED "[redacted]"
#define AUDIT_CALL_MAXLEN "1000"
#define AUDIT_BUSINESS_MAXLEN "100000"
#define AUDIT_ALL_MAXLEN "1000000"
#define AUDIT_ERRORS_MAXLEN "100000"
/* One call's history is only needed while somebody may ask about it. */
#define AUDIT_CALL_TTL "2592000" /* 30 days */
#define AUDIT_MAX_ID 64
#define AUDIT_MAX_STREAMS 4

struct audit {
	struct rds *r;          /* shared, not owned */
	char *fallback_path;    /* owned; NULL: stderr only */
	int fallback_failing;   /* the fallback file's failure was logged */
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
	return au;
}

void audit_close(struct audit *au)
{
	if (au == NULL)
		return;
	free(au->fallback_path);
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

char *audit_redact(const char *s)
{
	struct buf b = BUF_INIT;
	const char *p;

	if (s == NULL)
		return xstrdup("");
	for (p = s; *p; ) {
		size_t n = audit_secret_at(p);
		if (n) {
			buf_puts(&b, AUDIT_REDACTED);
			p += n;
		} else {
			buf_putc(&b, *p++);
		}
	}
	/* The buffer's memory becomes the caller's. */
	return b.data ? b.data : xstrdup("");
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

	for (const char *p = name; *p && n < sizeof(norm) - 1; p++)
		if (*p != '_' && *p != '-')
			norm[n++] = *p;
	norm[n] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(words); i++)
		if (strcasestr(norm, words[i]))
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

/* Replaces registered secrets in every string of v, keys included;
 * returns v or its replacement (a new reference either way). */
static json_t *audit_scrub(json_t *v)
{
	if (nsecrets == 0)
		return v;
	if (json_is_string(v)) {
		if (audit_has_secret(json_string_value(v), json_string_length(v))) {
			char *s = audit_redact(json_string_value(v));
			json_decref(v);
			v = json_string(s);
			free(s);
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
			json_array_set_new(v, i, audit_scrub(json_incref(e)));
	} else if (json_is_object(v)) {
		json_t *copy = json_object();
		const char *k;
		json_t *e;
		json_object_foreach(v, k, e) {
			char *rk = audit_has_secret(k, strlen(k)) ? audit_redact(k) : xstrdup(k);
			json_object_set_new(copy, rk, audit_scrub(json_incref(e)));
			free(rk);
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

/* Appends line to the fallback file with one write(), so that lines from
 * concurrent processes never interleave; 0 or -1. */
static int audit_fallback(struct audit *au, const char *line, size_t len)
{
	int fd, rc = -1, err = 0;
	ssize_t w;

	if (au->fallback_path == NULL)
		return -1;
	fd = open(au->fallback_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 && errno == ENOENT && audit_mkdirs(au->fallback_path) == 0)
		fd = open(au->fallback_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
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

/* The stream a record goes to under key, with its length bound. */
static const char *audit_maxlen(const char *key)
{
	if (strncmp(key, "audit:call:", 11) == 0)
		return AUDIT_CALL_MAXLEN;
	if (strncmp(key, "audit:business:", 15) == 0)
		return AUDIT_BUSINESS_MAXLEN;
	if (strcmp(key, "audit:errors") == 0)
		return AUDIT_ERRORS_MAXLEN;
	return AUDIT_ALL_MAXLEN;
}

/* Adds json to every stream in keys (and refreshes the expiry of a call's
 * stream) in one round trip; 0 or -1.  After a partial failure the caller
 * writes the record to the fallback log as well: a duplicate is better
 * than a gap. */
static int audit_store(struct audit *au, char *const *keys, int nkeys,
	const char *call_key, const char *json)
{
	const char *argv[AUDIT_MAX_STREAMS + 1][8];
	const char **argvs[AUDIT_MAX_STREAMS + 1];
	int argcs[AUDIT_MAX_STREAMS + 1];
	int n = 0;

	if (au->r == NULL)
		return -1;
	for (int i = 0; i < nkeys; i++, n++) {
		argv[n][0] = "XADD";
		argv[n][1] = keys[i];
		argv[n][2] = "MAXLEN";
		argv[n][3] = "~";
		argv[n][4] = audit_maxlen(keys[i]);
		argv[n][5] = "*";
		argv[n][6] = "json";
		argv[n][7] = json;
		argvs[n] = argv[n];
		argcs[n] = 8;
	}
	if (call_key) {
		argv[n][0] = "EXPIRE";
		argv[n][1] = call_key;
		argv[n][2] = AUDIT_CALL_TTL;
		argvs[n] = argv[n];
		argcs[n] = 3;
		n++;
	}
	return rds_pipeline(au->r, n, argcs, argvs, NULL);
}

int audit_record(struct audit *au, const char *kind, const char *call_sid,
	const char *business_id, json_t *rec)
{
	char ts[40];
	char *keys[AUDIT_MAX_STREAMS];
	const char *call_key = NULL;
	int nkeys = 0, rc;
	char *json, *line;
	size_t len;
	ssize_t w;

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
	/* Ids that are not UTF-8 cannot be JSON strings; the record is kept
	 * without them rather than lost. */
	if (call_sid)
		json_object_set_new(rec, "call_sid", json_string(call_sid));
	if (business_id)
		json_object_set_new(rec, "business_id", json_string(business_id));
	/* The last line of defence: callers redact what they know about,
	 * this catches a token pasted into an error message or a body. */
	rec = audit_scrub(rec);
	json = json_dumps(rec, JSON_COMPACT);
	if (json == NULL)
		abort(); /* an object of valid strings only fails to encode without memory */

	keys[nkeys++] = xstrdup("audit:all");
	if (strcmp(kind, "error") == 0)
		keys[nkeys++] = xstrdup("audit:errors");
	if (call_sid && audit_key_id_ok(call_sid)) {
		keys[nkeys] = xasprintf("audit:call:%s", call_sid);
		call_key = keys[nkeys++];
	}
	if (business_id && audit_key_id_ok(business_id))
		keys[nkeys++] = xasprintf("audit:business:%s", business_id);

	if (audit_store(au, keys, nkeys, call_key, json) == 0) {
		rc = 0;
		goto out;
	}
	line = xasprintf("%s\n", json);
	len = strlen(line);
	if (audit_fallback(au, line, len) == 0) {
		rc = 1;
	} else {
		/* Nowhere else to go: the operator's log still has it. */
		do
			w = write(2, line, len);
		while (w < 0 && errno == EINTR);
		rc = -1;
	}
	free(line);
out:
	for (int i = 0; i < nkeys; i++)
		free(keys[i]);
	free(json);
	json_decref(rec);
	return rc;
}

/* The stream key for a scope ("call", "business", "all", "errors"); NULL
 * for an unknown scope, "" for an id no stream can have been written
 * under. */
static char *audit_scope_key(const char *scope, const char *id)
{
	if (scope == NULL)
		return NULL;
	if (strcmp(scope, "all") == 0)
		return xstrdup("audit:all");
	if (strcmp(scope, "errors") == 0)
		return xstrdup("audit:errors");
	if (strcmp(scope, "call") != 0 && strcmp(scope, "business") != 0)
		return NULL;
	if (id == NULL || !audit_key_id_ok(id))
		return xstrdup("");
	return xasprintf("audit:%s:%s", scope, id);
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
	char *key = audit_scope_key(scope, id);
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

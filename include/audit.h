/* audit: the record of everything that happened (DESIGN.md rule 12).
 *
 * Verified traffic (signed webhooks, authenticated API calls, the
 * worker's and reconciler's own records) is written to Redis in bounded
 * streams, each entry one field, "json", holding the record:
 *
 *   stream                   records (MAXLEN ~)  x record cap = budget
 *   audit:call:<CallSid>     512                  x 8 KiB     =   4 MiB
 *   audit:business:<id>      8192                 x 8 KiB     =  64 MiB
 *   audit:all                32768                x 8 KiB     = 256 MiB
 *   audit:errors             8192                 x 8 KiB     =  64 MiB
 *
 * ("~" trims in whole stream nodes of up to 100 entries, so a stream may
 * hold up to 100 more.)  A record whose JSON is longer than
 * AUDIT_RECORD_MAX keeps only its identifying fields, each cut to 256
 * bytes, with "truncated": true and "original_bytes": its size.
 *
 * What an unverified request sends (no or a bad signature, no valid API
 * key, a body too large or that cannot be parsed) is never stored: it is
 * summarised by audit_rejected (method, path cut to 128 bytes, source
 * address, verdict, status, sizes, 16 hex digits of the body's SHA-256,
 * request id, time; at most AUDIT_SUMMARY_MAX bytes) in
 *
 *   audit:rejected                 5000 x 1 KiB = 5 MiB
 *   audit:rejected:sources:<hour>  a hash, source address -> count, at
 *                                  most 1000 addresses an hour (the rest
 *                                  count under "other"), kept 48 hours
 *
 * and no key is ever named by anything in it.
 *
 * Records are never silently dropped: when Redis is unavailable the
 * record is appended as one JSON line to the fallback log file, and if
 * even that fails it is written to stderr.  The fallback log rotates at
 * 64 MiB and keeps 4 files (path, path.1 .. path.3: 256 MiB at most,
 * give or take the lines in flight).  Summaries of rejected requests go
 * to it at most 20 a second per process (a burst of 100); the number
 * left out is carried by the next summary written ("suppressed").
 *
 * Registered secrets are replaced in every string of every record
 * (keys included) before it is stored anywhere.  A call_sid or
 * business_id that is not 1-64 characters of [A-Za-z0-9_-] is kept in the
 * record but names no stream, so hostile input cannot create keys.  A
 * call's stream expires 30 days after its last record. */
#ifndef RF_AUDIT_H
#define RF_AUDIT_H

#include <jansson.h>
#include <time.h>

#include "buf.h"

struct rds;
struct params;
struct arena;

struct audit;

/* The Redis keys of the table above, for every reader (tests included),
 * so that nobody spells them by hand. */
#define AUDIT_KEY_ALL "audit:all"
#define AUDIT_KEY_ERRORS "audit:errors"
#define AUDIT_KEY_REJECTED "audit:rejected"
#define AUDIT_KEY_CALL_PREFIX "audit:call:"         /* then the CallSid */
#define AUDIT_KEY_BUSINESS_PREFIX "audit:business:" /* then the business id */
#define AUDIT_KEY_SOURCES_PREFIX "audit:rejected:sources:" /* then YYYYMMDDHH (UTC) */

/* How long a call's stream lives after its last record, seconds. */
#define AUDIT_CALL_TTL "2592000" /* 30 days */

/* The MAXLEN ~ bound of the stream named key (the table above); static
 * storage.  For the fallback log's replay (audit_replay.h). */
const char *audit_stream_maxlen(const char *key);

/* The stream key of a scope ("call" or "business" with id; "all",
 * "errors" and "rejected", id ignored), malloc'd (caller frees); NULL for
 * an unknown scope, "" for an id no stream can have been written under
 * (not 1-64 characters of [A-Za-z0-9_-]). */
char *audit_stream_key(const char *scope, const char *id);

/* Writes to out the key of the hash that counts rejected requests per
 * source address in the UTC hour holding t
 * ("audit:rejected:sources:2026112510"). */
#define AUDIT_SOURCES_KEY_SIZE 40
void audit_sources_key(time_t t, char out[AUDIT_SOURCES_KEY_SIZE]);

/* The most bytes one stored record's JSON takes. */
#define AUDIT_RECORD_MAX (8 * 1024)
/* The most bytes one summary of a rejected request takes. */
#define AUDIT_SUMMARY_MAX 1024

/* What may be recorded about a request that was not verified.  Every
 * string is cut and cleaned by audit_rejected; NULL strings are left out. */
struct audit_rejection {
	const char *request_id;
	const char *method;
	const char *path;        /* without the query */
	const char *remote_addr; /* REMOTE_ADDR from nginx */
	const char *verdict;     /* why it was refused: "signature missing", ... */
	int status;              /* the HTTP status answered */
	long long body_len;      /* bytes of body received (or announced), -1: unknown */
	long long nfields;       /* form fields parsed, -1: not parsed */
	const char *body_sha256; /* hex SHA-256 of the body (16 digits kept), NULL: none */
};

/* r may be shared with the caller (not owned).  fallback_path is copied. */
struct audit *audit_open(struct rds *r, const char *fallback_path);
void audit_close(struct audit *au);

/* Writes one record.  kind: "webhook", "error", "outbound", ...; call_sid
 * and business_id may be NULL.  rec is consumed (json_decref'd) and gets
 * "kind", "ts" (RFC 3339 UTC with milliseconds), "pid" added.  Returns 0
 * when stored in Redis, 1 when it went to the fallback log, -1 when only
 * stderr took it. */
int audit_record(struct audit *au, const char *kind, const char *call_sid,
	const char *business_id, json_t *rec);

/* A record written as JSON text straight into an arena, for the hot
 * path (a webhook's record): the same members audit_record would store
 * for the same jansson object, with registered secrets replaced in every
 * string (keys included), a string that is not UTF-8 left out as
 * jansson leaves it out, and no tree built.  Begin, add members, then
 * audit_defer. */
struct audit_json {
	struct buf b;           /* the text so far, in arena a */
	struct arena *a;
	int has_request_id;     /* a "request_id" member was written */
};
void audit_json_begin(struct audit_json *j, struct arena *a);
/* key: a plain ASCII name of the caller's (not escaped).  value NULL: nothing. */
void audit_json_str(struct audit_json *j, const char *key, const char *value);
void audit_json_int(struct audit_json *j, const char *key, long long value);
void audit_json_true(struct audit_json *j, const char *key);
/* The object audit_params_json builds for p, under key. */
void audit_json_params(struct audit_json *j, const char *key, const struct params *p);

/* Completes j's record as audit_record completes rec ("kind", "ts",
 * "pid", the request id when j has none, "call_sid", "business_id";
 * truncated when over AUDIT_RECORD_MAX) and queues it, in j's arena,
 * for audit_flush; at most AUDIT_DEFER_MAX records wait (the queue
 * flushes itself when full).  Nothing is stored before audit_flush,
 * which must run before that arena is reset. */
#define AUDIT_DEFER_MAX 4
void audit_defer(struct audit *au, const char *kind, const char *call_sid,
	const char *business_id, struct audit_json *j);
/* Stores every queued record in one Redis round trip (each record's
 * XADDs and its call stream's EXPIRE in one pipeline), or, when that
 * fails, appends each to the fallback log (or stderr), as audit_record
 * does.  Returns like audit_record for the worst of them; 0 when none
 * was queued. */
int audit_flush(struct audit *au);

/* Records the summary of a rejected request in audit:rejected and counts
 * it under its source address in this hour's hash, or appends the summary
 * to the fallback log (rate-capped) when Redis is unavailable.  Returns
 * like audit_record; 2 when the summary was left out by the rate cap
 * (and counted for the next one). */
int audit_rejected(struct audit *au, const struct audit_rejection *rj);

/* The summary audit_rejected stores (without ts and pid), for tests;
 * caller decrefs. */
json_t *audit_rejection_json(const struct audit_rejection *rj);

/* Sets the fallback log's rotation size and number of files kept (the
 * log itself included); for tests.  Defaults 64 MiB and 4. */
void audit_set_fallback_limits(struct audit *au, long long max_bytes, int max_files);

/* Sets the per-process rate cap of summaries written to the fallback log
 * (per second, and burst); for tests.  Defaults 20 and 100. */
void audit_set_summary_rate(struct audit *au, double per_second, double burst);

/* A JSON object of params with secrets redacted: any parameter whose name
 * looks secret (AuthToken, Password, Token, Secret, ApiKey, Authorization,
 * case-insensitive substring, '_' and '-' ignored) and any value
 * containing one of the secrets registered with audit_add_secret becomes
 * "[redacted]".  A repeated name maps to an array of its values. */
json_t *audit_params_json(const struct params *p);

/* Registers a secret value (for example TWILIO_AUTH_TOKEN) that must never
 * appear in a record; copied. */
void audit_add_secret(const char *secret);

/* Replaces every registered secret in s with "[redacted]"; returns a new
 * malloc'd string. */
char *audit_redact(const char *s);
/* The same, in arena a (the request path's form: nothing to free). */
const char *audit_redact_in(struct arena *a, const char *s);

/* Reads back up to max records of a stream ("call", sid) or ("business",
 * id), oldest first, as a JSON array (caller decrefs), or NULL when Redis
 * cannot be read.  Scopes "all", "errors" and "rejected" (id ignored) read
 * those streams.  When a stream holds more than max records, the newest max are
 * returned.  An entry that is not valid JSON is returned as
 * {"kind":"unparsable","raw":...}.  NULL also for an unknown scope or
 * max < 1. */
json_t *audit_read(struct rds *r, const char *scope, const char *id, int max);

/* The per-source counts of rejected requests of the hours still kept,
 * oldest hour first, as a JSON array of {"hour": "YYYYMMDDHH", "counts":
 * {address: n, ...}} (caller decrefs), or NULL when Redis cannot be
 * read. */
json_t *audit_sources(struct rds *r);

#endif

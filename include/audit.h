/* audit: the record of everything that happened (DESIGN.md rule 12).
 *
 * Every webhook request (parameters, signature verdict), the TwiML or
 * error returned, its latency, and every error is written to Redis in
 * bounded streams:
 *
 *   audit:call:<CallSid>     one call's history       (MAXLEN ~ 1000)
 *   audit:business:<id>      one business's history   (MAXLEN ~ 100000)
 *   audit:all                everything, newest kept  (MAXLEN ~ 1000000)
 *   audit:errors             errors only              (MAXLEN ~ 100000)
 *
 * each entry has one field, "json", holding the record.  Records are
 * never silently dropped: when Redis is unavailable the record is appended
 * as one JSON line to the fallback log file, and if even that fails it is
 * written to stderr.
 *
 * Registered secrets are replaced in every string of every record
 * (keys included) before it is stored anywhere.  A call_sid or
 * business_id that is not 1-64 characters of [A-Za-z0-9_-] is kept in the
 * record but names no stream, so hostile input cannot create keys.  A
 * call's stream expires 30 days after its last record. */
#ifndef RF_AUDIT_H
#define RF_AUDIT_H

#include <jansson.h>

struct rds;
struct params;

struct audit;

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

/* Reads back up to max records of a stream ("call", sid) or ("business",
 * id), oldest first, as a JSON array (caller decrefs), or NULL when Redis
 * cannot be read.  Scopes "all" and "errors" (id ignored) read those
 * streams.  When a stream holds more than max records, the newest max are
 * returned.  An entry that is not valid JSON is returned as
 * {"kind":"unparsable","raw":...}.  NULL also for an unknown scope or
 * max < 1. */
json_t *audit_read(struct rds *r, const char *scope, const char *id, int max);

#endif

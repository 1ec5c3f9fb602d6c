/* audit_replay: the audit fallback log read back and replayed into Redis.
 *
 * audit.c appends a record as one JSON line to RINGFENCE_AUDIT_FALLBACK
 * when Redis cannot take it, and rotates the log itself (path.1 ..
 * path.N-1, the highest the oldest); logrotate renames it weekly to
 * path-YYYYMMDD-<seconds>, older still.  `ringfence audit fallback` prints
 * the records of all those files, oldest first; `ringfence audit replay` puts each into
 * the streams audit_record would have written (audit:all, audit:errors
 * for kind "error", audit:call:<sid>, audit:business:<id>; audit:rejected
 * for kind "rejected"), with the same MAXLEN ~ bounds and a call stream's
 * expiry, plus "replayed": true.
 *
 * Idempotent without touching the files: each line's SHA-256 (first 32
 * hex digits) names a marker key, audit:replayed:<digest>, set with
 * SET NX EX in the same Lua script as the XADDs, so a record is added
 * once, whole or not at all; a crash between two records loses nothing
 * (the next replay adds the rest).  A marker lives AUDIT_REPLAY_TTL_S;
 * if Redis loses the markers it has lost the streams too, and a replay
 * adds the records again.  A last line without its newline is being
 * written and is left for the next replay.
 *
 * A record may be in the log and in Redis both: written through Sentinel
 * when no replica acknowledged it in time (audit.c's WAIT), or after a
 * partial failure.  Before adding one, the script looks for the very
 * same text in its most specific stream (the call's, else the
 * business's, else audit:all or audit:rejected) among the entries added
 * within AUDIT_REPLAY_WINDOW_MS of its "ts" (at most
 * AUDIT_REPLAY_SCAN entries); found, it is left out ("present") and
 * marked.  A record that survived but has been trimmed from its streams
 * since is added again. */
#ifndef RF_AUDIT_REPLAY_H
#define RF_AUDIT_REPLAY_H

#include <jansson.h>

struct rds;

#define AUDIT_REPLAY_MARKER_PREFIX "audit:replayed:"
#define AUDIT_REPLAY_TTL_S "7776000" /* 90 days */
/* The search for a record in Redis already: entries stamped within this
 * many ms of the record's "ts" (the clocks of Redis's host and the
 * writer's may differ that much), at most AUDIT_REPLAY_SCAN of them. */
#define AUDIT_REPLAY_WINDOW_MS 120000LL
#define AUDIT_REPLAY_SCAN "20000"
/* Rotated files looked for: path.1 .. path.AUDIT_REPLAY_MAX_ROTATED, and
 * logrotate's weekly renames path-YYYYMMDD-<seconds> (deploy/logrotate
 * keeps 8), the newest AUDIT_REPLAY_MAX_DATED of them. */
#define AUDIT_REPLAY_MAX_ROTATED 16
#define AUDIT_REPLAY_MAX_DATED 64
#define AUDIT_REPLAY_MAX_FILES (AUDIT_REPLAY_MAX_DATED + AUDIT_REPLAY_MAX_ROTATED + 1)

/* The records of the fallback log at path and its rotated files, oldest
 * first, at most the newest max (max < 1: all), as a JSON array (caller
 * decrefs); a line that is not JSON is {"kind":"unparsable","raw":...}.
 * *files gets how many files were read.  NULL when a file exists but
 * cannot be read (errno set).  No file at all is an empty array. */
json_t *audit_fallback_read(const char *path, int max, int *files);

struct audit_replay_stats {
	int files;      /* files read */
	int added;      /* records put into the streams */
	int already;    /* records replayed before (marker present) */
	int present;    /* records found in their stream already: left out */
	int skipped;    /* lines that are not a JSON object: left out */
};

/* Replays the log at path into Redis as above.  0, or -1 when a file
 * cannot be read or Redis fails (st holds what was done before; the
 * files are never changed). */
int audit_replay(struct rds *r, const char *path, struct audit_replay_stats *st);

#endif

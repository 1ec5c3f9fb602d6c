/* audit_replay: the audit fallback log read and replayed; see
 * include/audit_replay.h. */
#include "audit_replay.h"
#include "audit.h"
#include "rds.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Replays one record: the marker and every XADD in one script, so a
 * record is either added whole with its marker or not at all.  KEYS[1]
 * the marker, KEYS[2..] the streams; ARGV[1] the marker's TTL, ARGV[2]
 * the record, ARGV[3] the call stream's key or "", ARGV[4] its TTL,
 * ARGV[5] the line as logged, ARGV[6]/ARGV[7] the first and last stream
 * id to look for it in, ARGV[8] the index in KEYS of the stream looked
 * in, ARGV[9] how many entries at most, ARGV[10..] each stream's MAXLEN.
 * Returns 1 added, 0 already replayed, 2 found in the stream. */
static const char replay_lua[] =
	"if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
	"local seen = redis.call('XRANGE', KEYS[tonumber(ARGV[8])], ARGV[6], ARGV[7], 'COUNT', ARGV[9])\n"
	"for _, e in ipairs(seen) do\n"
	"  local f = e[2]\n"
	"  for j = 1, #f - 1, 2 do\n"
	"    if f[j] == 'json' and f[j + 1] == ARGV[5] then\n"
	"      redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])\n"
	"      return 2\n"
	"    end\n"
	"  end\n"
	"end\n"
	"redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])\n"
	"for i = 2, #KEYS do\n"
	"  redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[i + 8], '*', 'json', ARGV[2])\n"
	"end\n"
	"if ARGV[3] ~= '' then redis.call('EXPIRE', ARGV[3], ARGV[4]) end\n"
	"return 1\n";

/* The stream ids around a record's "ts" (YYYY-MM-DDTHH:MM:SS.mmmZ):
 * AUDIT_REPLAY_WINDOW_MS either side, or all ("-", "+") without one. */
static void replay_window(const char *ts, char lo[24], char hi[24])
{
	struct tm tm;
	const char *p;
	long long ms;
	int frac = 0;

	memset(&tm, 0, sizeof(tm));
	p = ts ? strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (p == NULL) {
		strcpy(lo, "-");
		strcpy(hi, "+");
		return;
	}
	if (p[0] == '.' && sscanf(p + 1, "%3d", &frac) != 1)
		frac = 0;
	ms = (long long)timegm(&tm) * 1000 + frac;
	snprintf(lo, 24, "%lld", ms > AUDIT_REPLAY_WINDOW_MS ? ms - AUDIT_REPLAY_WINDOW_MS : 0);
	snprintf(hi, 24, "%lld", ms + AUDIT_REPLAY_WINDOW_MS);
}

/* Whether name (in the log's folder) is one of logrotate's weekly renames
 * of the log called base: base-YYYYMMDD-<seconds> (deploy/logrotate). */
static int dated_name(const char *name, const char *base)
{
	size_t n = strlen(base), digits = 0;

	if (strncmp(name, base, n) != 0 || name[n] != '-')
		return 0;
	for (const char *p = name + n + 1; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (*p != '-' || p[1] == '\0')
			return 0;
	}
	return digits >= 8;
}

static int by_name(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The files of the log, oldest first: logrotate's dated renames (by
 * name, the older first; at most AUDIT_REPLAY_MAX_DATED, the newest),
 * then path.K .. path.1, path (those that exist).  Returns how many were
 * put in out (malloc'd names). */
static int replay_files(const char *path, char *out[AUDIT_REPLAY_MAX_FILES])
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xasprintf("%.*s", (int)(slash - path + (slash == path)), path) : xstrdup(".");
	const char *base = slash ? slash + 1 : path;
	char *dated[AUDIT_REPLAY_MAX_DATED];
	int n = 0, nd = 0;
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		if (!dated_name(e->d_name, base))
			continue;
		if (nd == AUDIT_REPLAY_MAX_DATED) {
			/* Full: the oldest name gives way to a newer one. */
			qsort(dated, (size_t)nd, sizeof(dated[0]), by_name);
			if (strcmp(e->d_name, strrchr(dated[0], '/') + 1) < 0)
				continue;
			free(dated[0]);
			dated[0] = dated[--nd];
		}
		dated[nd++] = xasprintf("%s/%s", dir, e->d_name);
	}
	if (d)
		closedir(d);
	free(dir);
	qsort(dated, (size_t)nd, sizeof(dated[0]), by_name);
	for (int i = 0; i < nd; i++)
		out[n++] = dated[i];
	for (int i = AUDIT_REPLAY_MAX_ROTATED; i >= 0; i--) {
		char *f = i ? xasprintf("%s.%d", path, i) : xstrdup(path);
		if (access(f, F_OK) == 0)
			out[n++] = f;
		else
			free(f);
	}
	return n;
}

/* Calls each(ctx, line, len) for every complete line of the log's files,
 * oldest first; the last line of a file without its newline is being
 * written and is left out.  *files: files read.  0, or -1 (errno) when a
 * file cannot be read or each returns -1. */
static int replay_lines(const char *path, int *files,
	int (*each)(void *ctx, const char *line, size_t len), void *ctx)
{
	char *names[AUDIT_REPLAY_MAX_FILES];
	int n = replay_files(path, names), rc = 0;
	char *line = NULL;
	size_t cap = 0;

	*files = 0;
	for (int i = 0; i < n; i++) {
		FILE *f = rc == 0 ? fopen(names[i], "r") : NULL;
		ssize_t len;

		if (rc == 0 && f == NULL && errno != ENOENT)
			rc = -1; /* rotated away meanwhile: ENOENT, its lines are in the next name */
		while (f && (len = getline(&line, &cap, f)) > 0) {
			if (line[len - 1] != '\n')
				break;
			if (len > 1 && each(ctx, line, (size_t)len - 1) < 0) {
				rc = -1;
				break;
			}
		}
		if (f) {
			if (ferror(f))
				rc = -1;
			fclose(f);
			++*files;
		}
		free(names[i]);
	}
	free(line);
	return rc;
}

struct reader {
	json_t *recs;
	int max;
};

/* One line as a record: the object, or a note with the raw text. */
static json_t *replay_parse(const char *line, size_t len)
{
	json_t *rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);

	if (json_is_object(rec))
		return rec;
	json_decref(rec);
	rec = json_pack("{s:s,s:s%}", "kind", "unparsable", "raw", line, len);
	return rec ? rec : json_pack("{s:s}", "kind", "unparsable");
}

static int read_one(void *ctx, const char *line, size_t len)
{
	struct reader *rd = ctx;

	json_array_append_new(rd->recs, replay_parse(line, len));
	if (rd->max > 0 && json_array_size(rd->recs) > (size_t)rd->max)
		json_array_remove(rd->recs, 0);
	return 0;
}

/* See audit_replay.h. */
json_t *audit_fallback_read(const char *path, int max, int *files)
{
	struct reader rd = { json_array(), max };

	if (replay_lines(path, files, read_one, &rd) < 0) {
		json_decref(rd.recs);
		return NULL;
	}
	return rd.recs;
}

struct replayer {
	struct rds *r;
	struct audit_replay_stats *st;
};

/* A string member of rec, or NULL. */
static const char *member(json_t *rec, const char *k)
{
	json_t *v = json_object_get(rec, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int replay_one(void *ctx, const char *line, size_t len)
{
	struct replayer *rp = ctx;
	json_t *rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	const char *kind, *args[2 * 5 + 10];
	size_t lens[2 * 5 + 10];
	char hex[65], lo[24], hi[24], look[8], *marker = NULL, *keys[4] = { NULL, NULL, NULL, NULL }, *json = NULL;
	const char *call_key = "";
	int nkeys = 0, call_at = -1, rc = -1;
	redisReply *rep = NULL;

	if (!json_is_object(rec)) {
		rp->st->skipped++;
		rc = 0;
		goto out;
	}
	kind = member(rec, "kind");
	if (kind && strcmp(kind, "rejected") == 0) {
		keys[nkeys++] = audit_stream_key("rejected", NULL);
	} else {
		const char *sid = member(rec, "call_sid"), *biz = member(rec, "business_id");
		keys[nkeys++] = audit_stream_key("all", NULL);
		if (kind && strcmp(kind, "error") == 0)
			keys[nkeys++] = audit_stream_key("errors", NULL);
		if (sid && (keys[nkeys] = audit_stream_key("call", sid))[0]) {
			call_at = nkeys;
			call_key = keys[nkeys++];
		} else {
			free(keys[nkeys]);
			keys[nkeys] = NULL;
		}
		if (biz && (keys[nkeys] = audit_stream_key("business", biz))[0]) {
			nkeys++;
		} else {
			free(keys[nkeys]);
			keys[nkeys] = NULL;
		}
	}
	replay_window(member(rec, "ts"), lo, hi);
	/* Looked for in the call's stream (the shortest), else the last. */
	snprintf(look, sizeof(look), "%d", call_at >= 0 ? call_at + 2 : nkeys + 1);
	json_object_set_new(rec, "replayed", json_true());
	json = json_dumps(rec, JSON_COMPACT);
	if (json == NULL || util_sha256_hex(line, len, hex) < 0)
		abort();
	hex[32] = '\0';
	marker = xasprintf(AUDIT_REPLAY_MARKER_PREFIX "%s", hex);
	args[0] = marker;
	for (int i = 0; i < nkeys; i++)
		args[1 + i] = keys[i];
	args[1 + nkeys] = AUDIT_REPLAY_TTL_S;
	args[2 + nkeys] = json;
	args[3 + nkeys] = call_key;
	args[4 + nkeys] = AUDIT_CALL_TTL;
	lens[5 + nkeys] = len;
	args[5 + nkeys] = line;
	args[6 + nkeys] = lo;
	args[7 + nkeys] = hi;
	args[8 + nkeys] = look;
	args[9 + nkeys] = AUDIT_REPLAY_SCAN;
	for (int i = 0; i < nkeys; i++)
		args[10 + nkeys + i] = audit_stream_maxlen(keys[i]);
	for (int i = 0; i < 10 + 2 * nkeys; i++)
		if (i != 5 + nkeys)
			lens[i] = strlen(args[i]);
	rep = rds_eval(rp->r, replay_lua, 1 + nkeys, 10 + 2 * nkeys, args, lens);
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
		goto out;
	if (rep->integer == 1)
		rp->st->added++;
	else if (rep->integer == 2)
		rp->st->present++;
	else
		rp->st->already++;
	rc = 0;
out:
	if (rep)
		freeReplyObject(rep);
	for (int i = 0; i < 4; i++)
		free(keys[i]);
	free(marker);
	free(json);
	json_decref(rec);
	return rc;
}

/* See audit_replay.h. */
int audit_replay(struct rds *r, const char *path, struct audit_replay_stats *st)
{
	struct replayer rp = { r, st };

	memset(st, 0, sizeof(*st));
	return replay_lines(path, &st->files, replay_one, &rp);
}

/* greeting: takes, the recording status callback and the business's
 * greeting; see include/greeting.h. */
#include "greeting.h"
#include "actions.h"
#include "app.h"
#include "arena.h"
#include "clock.h"
#include "engine.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORDING_URL_MAX 512

int valid_recording_url(const char *v, size_t len)
{
	if (v == NULL || len > RECORDING_URL_MAX || strlen(v) != len)
		return 0;
	if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f || v[i] == '"' ||
			v[i] == '<' || v[i] == '>' || v[i] == '\\')
			return 0;
	return 1;
}

int valid_recording_sid(const char *v, size_t len)
{
	if (v == NULL || len != 34 || v[0] != 'R' || v[1] != 'E')
		return 0;
	for (size_t i = 2; i < len; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
			return 0;
	return 1;
}

int valid_recording_duration(const char *v, size_t len)
{
	if (v == NULL)
		return 0;
	if (len == 2 && strcmp(v, "-1") == 0)
		return 1;
	return valid_uint(v, len);
}

int valid_recording_status(const char *v, size_t len)
{
	static const char *const ok[] = { "in-progress", "completed", "absent", "failed", NULL };

	if (v == NULL || strlen(v) != len)
		return 0;
	for (size_t i = 0; ok[i]; i++)
		if (strcmp(v, ok[i]) == 0)
			return 1;
	return 0;
}

/* ---- the inbound flow's actions ------------------------------------------------ */

/* The greeting code this call used, as text in the arena, or NULL (none:
 * the call never entered a valid greeting code). */
static const char *call_code(struct action_ctx *ctx)
{
	const char *p[2] = { ctx->call_id, ctx->business_id }, *v[1] = { NULL };

	if (ctx->business_id == NULL)
		return NULL;
	if (db_row_prepared(ctx->db, ctx->arena, "greeting_call_code",
		    "SELECT id::text FROM task_codes WHERE used_by_call = $1::bigint"
		    " AND business_id = $2::bigint AND purpose = 'greeting'", 2, p, 1, v) != 1)
		return NULL;
	return v[0];
}

/* The number of takes this call made, or -1. */
static long call_takes(struct action_ctx *ctx)
{
	const char *p[1] = { ctx->call_id }, *v[1] = { NULL };

	if (db_row_prepared(ctx->db, ctx->arena, "greeting_call_takes",
		    "SELECT count(*)::text FROM greeting_takes WHERE call_id = $1::bigint", 1, p, 1,
		    v) != 1)
		return -1;
	return atol(v[0]);
}

/* The recording url names (from a <Record>'s action or the recording
 * callback): it must be this account's recording prefix followed by the
 * sid (and recording_sid, when sent, the same).  The sid (in a), or
 * NULL. */
static const char *take_sid(struct arena *a, const char *prefix, const char *url,
	const char *recording_sid)
{
	size_t n;
	const char *sid;

	if (url == NULL || prefix == NULL)
		return NULL;
	n = strlen(prefix);
	if (strncmp(url, prefix, n) != 0)
		return NULL;
	sid = url + n;
	if (!valid_recording_sid(sid, strlen(sid)))
		return NULL;
	if (recording_sid && strcmp(recording_sid, sid) != 0)
		return NULL;
	return arena_strdup(a, sid);
}

/* Whether this call already has the take sid (its recording callback
 * came first and made it): 1 yes, 0 no, -1 database error or the
 * recording belongs to another call. */
static int take_exists(struct action_ctx *ctx, const char *sid)
{
	const char *p[1] = { sid }, *v[1] = { NULL };
	int r = db_row_prepared(ctx->db, ctx->arena, "greeting_take_of",
		"SELECT call_id::text FROM greeting_takes WHERE recording_sid = $1", 1, p, 1, v);

	if (r <= 0)
		return r;
	if (strcmp(v[0], ctx->call_id) != 0) {
		log_warn("greeting: call %s names recording %s of another call", ctx->call_id, sid);
		return -1;
	}
	return 1;
}

int greeting_store_take(struct action_ctx *ctx, const char **event)
{
	const char *code = call_code(ctx), *sid = take_sid(ctx->arena, ctx->recordings_prefix,
		ctx->recording_url, ctx->recording_sid);
	long n;
	int have;
	const char *p[7];

	*event = NULL;
	if (code == NULL) {
		log_warn("greeting: call %s recorded without a valid greeting code", ctx->call_id);
		return -1;
	}
	if (sid == NULL) {
		log_warn("greeting: call %s: RecordingUrl is not a recording of this account",
			ctx->call_id);
		return -1;
	}
	have = take_exists(ctx, sid);
	if (have != 0)
		return have > 0 ? 0 : -1;
	n = call_takes(ctx);
	if (n < 0 || n >= GREETING_MAX_TAKES)
		return -1;
	p[0] = ctx->call_id;
	p[1] = ctx->business_id;
	p[2] = code;
	p[3] = arena_printf(ctx->arena, "%ld", n + 1);
	p[4] = sid;
	p[5] = ctx->recording_url;
	p[6] = ctx->recording_duration && strcmp(ctx->recording_duration, "-1") != 0 ?
		ctx->recording_duration : NULL;
	return db_cmd_prepared(ctx->db, "greeting_take",
		"INSERT INTO greeting_takes (call_id, business_id, task_code_id, take, recording_sid,"
		" recording_url, duration_s) VALUES ($1::bigint, $2::bigint, $3::bigint, $4::int, $5,"
		" $6, $7::int)", 7, p);
}

int greeting_retake(struct action_ctx *ctx, const char **event)
{
	long n = call_takes(ctx);

	if (n < 0)
		return -1;
	*event = n < GREETING_MAX_TAKES ? "again" : "enough";
	return 0;
}

/* Makes take (decimal) the business's greeting when it is both kept and
 * completed (greeting_promote; a statement of its own, so that it sees
 * the change just made).  "t" changed, "f" not, NULL on an error. */
static const char *promote(struct db *db, struct arena *a, const char *take, const char *now)
{
	const char *p[2] = { take, now }, *v[1] = { NULL };

	if (db_row_prepared(db, a, "greeting_promote",
		    "SELECT greeting_promote($1::bigint, $2::timestamptz)::text", 2, p, 1, v) != 1)
		return NULL;
	return v[0];
}

int greeting_keep(struct action_ctx *ctx, const char **event)
{
	char now[32];
	const char *p[3] = { ctx->call_id, ctx->business_id, now }, *v[1] = { NULL };
	int r;

	*event = NULL;
	if (ctx->business_id == NULL)
		return -1;
	clock_sql(ctx->now_s, now);
	r = db_row_prepared(ctx->db, ctx->arena, "greeting_keep",
		"UPDATE greeting_takes SET kept_at = $3::timestamptz WHERE id = ("
		" SELECT id FROM greeting_takes WHERE call_id = $1::bigint AND business_id = $2::bigint"
		" ORDER BY take DESC LIMIT 1) RETURNING id::text", 3, p, 1, v);
	if (r == 0)
		log_warn("greeting: call %s kept a take it does not have", ctx->call_id);
	if (r != 1)
		return -1;
	return promote(ctx->db, ctx->arena, v[0], now) ? 0 : -1;
}

/* ---- the recording status callback ------------------------------------------------ */

const struct valid_field greeting_status_fields[GR_NFIELDS] = {
	[GR_CALL_SID] = { "CallSid", valid_call_sid, 1, VALID_TEXT },
	[GR_ACCOUNT_SID] = { "AccountSid", valid_account_sid, 1, VALID_TEXT },
	[GR_RECORDING_SID] = { "RecordingSid", valid_recording_sid, 1, VALID_TEXT },
	[GR_STATUS] = { "RecordingStatus", valid_recording_status, 1, VALID_TEXT },
	[GR_DURATION] = { "RecordingDuration", valid_recording_duration, 0, VALID_TEXT },
	[GR_URL] = { "RecordingUrl", valid_recording_url, 0, VALID_TEXT },
};

/* A "completed" callback that came before its <Record>'s action: the
 * take, made from it, of the inbound call that used a greeting code,
 * when its RecordingUrl is this account's recording of that sid and the
 * call has takes left.  The call row is already locked.  As
 * db_row_prepared, v getting the take's id, business and call. */
static int take_from_callback(struct app *app, struct arena *a, const struct valid_value *f,
	const char *now, const char *dur, const char *v[3])
{
	const char *prefix = app->engine ? engine_recordings_prefix(app->engine) : NULL;
	const char *sid = take_sid(a, prefix, f[GR_URL].s, f[GR_RECORDING_SID].s);
	const char *p[6] = { f[GR_CALL_SID].s, sid, f[GR_URL].s, dur, now, NULL };

	if (sid == NULL)
		return 0;
	p[5] = arena_printf(a, "%d", GREETING_MAX_TAKES);
	return db_row_prepared(app->db, a, "greeting_take_early",
		"WITH c AS (SELECT k.id, k.business_id,"
		"  (SELECT count(*) FROM greeting_takes g WHERE g.call_id = k.id) AS n"
		"  FROM calls k WHERE k.call_sid = $1 AND k.direction = 'inbound'"
		"  AND k.business_id IS NOT NULL),"
		" t AS (SELECT tc.id FROM task_codes tc JOIN c ON tc.used_by_call = c.id"
		"  AND tc.business_id = c.business_id WHERE tc.purpose = 'greeting')"
		" INSERT INTO greeting_takes (call_id, business_id, task_code_id, take, recording_sid,"
		"  recording_url, duration_s, completed_at)"
		" SELECT c.id, c.business_id, t.id, c.n + 1, $2, $3, $4::int, $5::timestamptz"
		" FROM c, t WHERE c.n < $6::int ON CONFLICT DO NOTHING"
		" RETURNING id::text, business_id::text, call_id::text", 6, p, 3, v);
}

/* Only a take of the very call the callback names changes, and only
 * once; the business's greeting changes only when the take was kept. */
void greeting_status_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	const struct valid_value *f = in->form.v;
	const char *dur = f[GR_DURATION].s && strcmp(f[GR_DURATION].s, "-1") != 0 ?
		f[GR_DURATION].s : NULL;
	char now[32];
	const char *p[4] = { f[GR_RECORDING_SID].s, f[GR_CALL_SID].s, now, dur }, *v[3], *set;
	struct arena *a = in->req->arena;
	int r;

	out->call_sid = f[GR_CALL_SID].s;
	if (strcmp(f[GR_STATUS].s, "completed") != 0) {
		out->error = arena_printf(in->req->arena, "recording %s: %s", f[GR_RECORDING_SID].s,
			f[GR_STATUS].s);
		return;
	}
	clock_sql(clock_now_s(), now);
	if (db_begin(app->db) < 0)
		goto dberr;
	/* The call's row first, as the engine locks it: an action being
	 * handled now has committed its take before this reads. */
	r = db_row_prepared(app->db, a, "greeting_call_lock",
		"SELECT id::text FROM calls WHERE call_sid = $1 FOR UPDATE", 1, p + 1, 1, v);
	if (r < 0)
		goto rollback;
	r = db_row_prepared(app->db, a, "greeting_completed",
		"UPDATE greeting_takes g SET completed_at = $3::timestamptz,"
		" duration_s = COALESCE($4::int, g.duration_s) FROM calls c"
		" WHERE g.recording_sid = $1 AND c.id = g.call_id AND c.call_sid = $2"
		" AND g.completed_at IS NULL RETURNING g.id::text, g.business_id::text, g.call_id::text",
		4, p, 3, v);
	if (r == 0)
		r = take_from_callback(app, a, f, now, dur, v);
	if (r < 0)
		goto rollback;
	if (r == 0) {
		db_rollback(app->db);
		out->error = "no take of this call has that recording (nothing changed)";
		return;
	}
	set = promote(app->db, a, v[0], now);
	if (set == NULL || db_commit(app->db) < 0)
		goto rollback;
	out->business_id = v[1];
	out->call_id = v[2];
	out->action = strcmp(set, "t") == 0 ? "greeting_set" : "take_completed";
	return;
rollback:
	db_rollback(app->db);
dberr:
	out->error = arena_printf(a, "database error: %s", db_last_error(app->db));
}

/* ---- the dashboard ---------------------------------------------------------------- */

int greeting_current(struct db *db, struct arena *a, long long business_id,
	struct greeting_info *g)
{
	char biz[24];
	const char *p[1] = { biz }, *v[4];
	int r;

	memset(g, 0, sizeof(*g));
	snprintf(biz, sizeof(biz), "%lld", business_id);
	r = db_row_prepared(db, a, "greeting_current",
		"SELECT g.id::text, g.recording_url, COALESCE(g.duration_s, -1)::text,"
		" extract(epoch FROM g.created_at)::bigint::text"
		" FROM businesses b JOIN greeting_takes g ON g.id = b.greeting_take_id"
		" WHERE b.id = $1::bigint", 1, p, 4, v);
	if (r != 1)
		return r;
	g->take_id = atoll(v[0]);
	g->url = v[1];
	g->duration_s = atoll(v[2]);
	g->recorded_at = atoll(v[3]);
	return 1;
}

int greeting_revert(struct db *db, long long business_id, long long user_id, long long now_s)
{
	char biz[24], user[24], now[32];
	const char *p[3] = { biz, user, now };
	PGresult *res;
	int n;

	snprintf(biz, sizeof(biz), "%lld", business_id);
	snprintf(user, sizeof(user), "%lld", user_id);
	clock_sql(now_s, now);
	res = db_exec_prepared(db, "greeting_revert",
		"WITH b AS (UPDATE businesses x SET greeting_take_id = NULL"
		" FROM businesses old WHERE x.id = $1::bigint AND old.id = x.id"
		" AND old.greeting_take_id IS NOT NULL RETURNING old.greeting_take_id AS take)"
		" UPDATE greeting_takes g SET retired_at = $3::timestamptz, retired_by = $2::bigint"
		" FROM b WHERE g.id = b.take RETURNING g.id", 3, p);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n > 0 ? 1 : 0;
}

/* actions: confirm, cancel and request a call back, as the reminder call
 * flow names them.  Each runs inside the engine's transaction. */
#include "actions.h"
#include "arena.h"
#include "db.h"
#include "greeting.h"
#include "log.h"
#include "taskcode.h"

#include <stddef.h>
#include <string.h>

/* Runs sql on the call's appointment and reports whether a row changed:
 * 0 when one did, -1 when none did (the appointment is gone or in a state
 * that does not allow the change) or the database failed. */
static int appointment_update(struct action_ctx *ctx, const char *name, const char *sql)
{
	const char *p[2] = { ctx->appointment_id, ctx->business_id };
	PGresult *res;
	int rc = -1;

	if (ctx->appointment_id == NULL) {
		log_warn("action %s: call %s has no appointment", name, ctx->call_id);
		return -1;
	}
	res = db_exec_prepared(ctx->db, name, sql, 2, p);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		rc = 0;
	else
		log_warn("action %s: appointment %s cannot change now", name, ctx->appointment_id);
	PQclear(res);
	return rc;
}

/* The client confirmed.  A cancelled appointment stays cancelled. */
static int action_confirm(struct action_ctx *ctx, const char **event)
{
	*event = NULL;
	return appointment_update(ctx, "action_confirm",
		"UPDATE appointments SET status = 'confirmed',"
		" confirmed_at = COALESCE(confirmed_at, now()), updated_at = now()"
		" WHERE id = $1 AND business_id = $2 AND status IN ('booked', 'confirmed')"
		" RETURNING id");
}

/* The client cancelled: the appointment and every reminder not yet sent
 * for it, so nobody is reminded of an appointment they cancelled. */
static int action_cancel(struct action_ctx *ctx, const char **event)
{
	const char *p[2] = { ctx->appointment_id, ctx->business_id };
	PGresult *res;

	*event = NULL;
	if (appointment_update(ctx, "action_cancel",
		    "UPDATE appointments SET status = 'cancelled',"
		    " cancelled_at = COALESCE(cancelled_at, now()), updated_at = now()"
		    " WHERE id = $1 AND business_id = $2 AND status IN ('booked', 'confirmed', 'cancelled')"
		    " RETURNING id") < 0)
		return -1;
	res = db_exec_prepared(ctx->db, "action_cancel_reminders",
		"UPDATE reminders SET status = 'cancelled', status_reason = 'appointment cancelled by client',"
		" updated_at = now() WHERE appointment_id = $1 AND business_id = $2 AND status = 'pending'",
		2, p);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* The client asked the business to call back. */
static int action_request_callback(struct action_ctx *ctx, const char **event)
{
	*event = NULL;
	return appointment_update(ctx, "action_request_callback",
		"UPDATE appointments SET callback_requested_at = now(), updated_at = now()"
		" WHERE id = $1 AND business_id = $2 RETURNING id");
}

/* The caller of an inbound call entered a task code for the greeting.
 * Events: valid (the call is now the code's business's), invalid (try
 * again), refused (that was the last try), throttled (not even looked
 * at: too many wrong codes lately). */
static int action_verify_task_code(struct action_ctx *ctx, const char **event)
{
	struct taskcode_try t = { ctx->call_id, ctx->caller, ctx->called, ctx->digits, "greeting",
		ctx->now_s };
	char *biz = arena_alloc(ctx->arena, 24), code[24];

	*event = NULL;
	if (ctx->caller == NULL || ctx->called == NULL)
		return -1;
	switch (taskcode_verify(ctx->db, ctx->rds, ctx->secret, &t, biz, code)) {
	case TASKCODE_VALID:
		ctx->bound_business_id = biz;
		*event = "valid";
		return 0;
	case TASKCODE_WRONG:
		*event = "invalid";
		return 0;
	case TASKCODE_LAST_WRONG:
		*event = "refused";
		return 0;
	case TASKCODE_THROTTLED:
		*event = "throttled";
		return 0;
	case TASKCODE_ERROR:
		break;
	}
	return -1;
}

const struct action_def actions_table[] = {
	{ "confirm", action_confirm, "confirm the call's appointment" },
	{ "cancel", action_cancel, "cancel the call's appointment and its unsent reminders" },
	{ "request_callback", action_request_callback, "note that the client asked for a call back" },
	{ "verify_task_code", action_verify_task_code,
		"check an inbound caller's greeting task code: valid, invalid, refused or throttled" },
	{ "store_take", greeting_store_take, "keep the recording just made as one take of this call" },
	{ "retake", greeting_retake, "another take (again) or this call's last one was made (enough)" },
	{ "keep_recording", greeting_keep,
		"the caller kept the last take: the business's greeting once Twilio has it" },
	{ NULL, NULL, NULL },
};

const struct action_def *actions_find(const char *name)
{
	for (const struct action_def *d = actions_table; d->name; d++)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

/* actions: confirm, cancel and request a call back, as the reminder call
 * and the reminder text flows name them, and the text flow's opt-in and
 * help-once.  Each runs inside the engine's (or sms.c's) transaction. */
#include "actions.h"
#include "arena.h"
#include "db.h"
#include "greeting.h"
#include "log.h"
#include "taskcode.h"

#include <stddef.h>
#include <string.h>

/* Runs sql on the call's appointment: 1 when a row changed, 0 when none
 * did (no appointment, or one in a state that does not allow the change),
 * -1 when the database failed. */
static int appointment_update(struct action_ctx *ctx, const char *name, const char *sql)
{
	const char *p[2] = { ctx->appointment_id, ctx->business_id };
	PGresult *res;
	int rc;

	if (ctx->appointment_id == NULL) {
		log_warn("action %s: %s %s has no appointment", name,
			ctx->reminder_id ? "reminder" : "call",
			ctx->reminder_id ? ctx->reminder_id : ctx->call_id);
		return 0;
	}
	res = db_exec_prepared(ctx->db, name, sql, 2, p);
	if (res == NULL)
		return -1;
	rc = PQntuples(res) == 1;
	if (!rc)
		log_warn("action %s: appointment %s cannot change now", name, ctx->appointment_id);
	PQclear(res);
	return rc;
}

/* Confirms the appointment; a cancelled one stays cancelled.  As
 * appointment_update. */
static int do_confirm(struct action_ctx *ctx)
{
	return appointment_update(ctx, "action_confirm",
		"UPDATE appointments SET status = 'confirmed',"
		" confirmed_at = COALESCE(confirmed_at, now()), updated_at = now()"
		" WHERE id = $1 AND business_id = $2 AND status IN ('booked', 'confirmed')"
		" RETURNING id");
}

/* Cancels the appointment and every reminder not yet sent for it, so
 * nobody is reminded of an appointment they cancelled.  As
 * appointment_update. */
static int do_cancel(struct action_ctx *ctx)
{
	const char *p[2] = { ctx->appointment_id, ctx->business_id };
	PGresult *res;
	int rc = appointment_update(ctx, "action_cancel",
		"UPDATE appointments SET status = 'cancelled',"
		" cancelled_at = COALESCE(cancelled_at, now()), updated_at = now()"
		" WHERE id = $1 AND business_id = $2 AND status IN ('booked', 'confirmed', 'cancelled')"
		" RETURNING id");

	if (rc <= 0)
		return rc;
	res = db_exec_prepared(ctx->db, "action_cancel_reminders",
		"UPDATE reminders SET status = 'cancelled', status_reason = 'appointment cancelled by client',"
		" updated_at = now() WHERE appointment_id = $1 AND business_id = $2 AND status = 'pending'",
		2, p);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 1;
}

/* Notes that the client asked for a call back about an appointment still
 * ahead (booked or confirmed): a cancelled or completed one is nothing
 * to call back about.  As appointment_update. */
static int do_callback(struct action_ctx *ctx)
{
	return appointment_update(ctx, "action_request_callback",
		"UPDATE appointments SET callback_requested_at = now(), updated_at = now()"
		" WHERE id = $1 AND business_id = $2 AND status IN ('booked', 'confirmed') RETURNING id");
}

/* A keypad action: 0 when the appointment changed, -1 when it could not
 * (the engine apologises). */
static int keypad(int rc, const char **event)
{
	*event = NULL;
	return rc == 1 ? 0 : -1;
}

/* A text reply's action: "done" or "none", -1 only on a database error. */
static int reply(int rc, const char **event)
{
	*event = rc == 1 ? "done" : "none";
	return rc < 0 ? -1 : 0;
}

static int action_confirm(struct action_ctx *ctx, const char **event)
{
	return keypad(do_confirm(ctx), event);
}

static int action_cancel(struct action_ctx *ctx, const char **event)
{
	return keypad(do_cancel(ctx), event);
}

static int action_request_callback(struct action_ctx *ctx, const char **event)
{
	return keypad(do_callback(ctx), event);
}

static int action_confirm_reply(struct action_ctx *ctx, const char **event)
{
	return reply(do_confirm(ctx), event);
}

static int action_cancel_reply(struct action_ctx *ctx, const char **event)
{
	return reply(do_cancel(ctx), event);
}

static int action_callback_reply(struct action_ctx *ctx, const char **event)
{
	return reply(do_callback(ctx), event);
}

/* The client texted an opt-in keyword: their text opt-out is lifted with
 * every business that texts from the number the text went to (the scope
 * an inbound STOP opts out of, sms.c), and the lift recorded (when, and
 * the MessageSid that asked).  An opt-out the business set on the
 * dashboard (opted_out_by) stays: that was the business's decision. */
static int action_opt_in(struct action_ctx *ctx, const char **event)
{
	const char *p[4] = { ctx->phone, ctx->sender, ctx->default_from, ctx->message_sid };
	PGresult *res;

	*event = NULL;
	if (ctx->phone == NULL || ctx->sender == NULL || ctx->message_sid == NULL)
		return -1;
	res = db_exec_prepared(ctx->db, "action_opt_in",
		"UPDATE clients SET opted_out_at = NULL, opted_in_at = now(),"
		" opted_in_by = 'text ' || $4"
		" WHERE phone = $1 AND opted_out_at IS NOT NULL AND opted_out_by IS NULL"
		" AND business_id IN (SELECT id FROM businesses"
		"  WHERE rf_business_sms_from(twilio_from, $3) = $2)", 4, p);
	if (res == NULL)
		return -1;
	log_info("action opt_in: %s opted back in to %s texts (%s client record(s))", ctx->phone,
		ctx->sender, PQcmdTuples(res));
	PQclear(res);
	return 0;
}

/* An unrecognised text: "first" the first time for this reminder (the
 * one help text), "again" after that and when there is no reminder
 * (silence: never a loop with an auto-responder). */
static int action_hint_once(struct action_ctx *ctx, const char **event)
{
	const char *p[1] = { ctx->reminder_id };
	PGresult *res;

	*event = "again";
	if (ctx->reminder_id == NULL)
		return 0;
	res = db_exec_prepared(ctx->db, "action_hint_once",
		"UPDATE sms_conversations SET help_sent = true WHERE reminder_id = $1"
		" AND NOT help_sent RETURNING reminder_id", 1, p);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		*event = "first";
	PQclear(res);
	return 0;
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
	{ "confirm_reply", action_confirm_reply, "confirm the texted reminder's appointment (done/none)" },
	{ "cancel_reply", action_cancel_reply,
		"cancel the texted reminder's appointment and its unsent reminders (done/none)" },
	{ "callback_reply", action_callback_reply,
		"note that the texting client asked for a call back (done/none)" },
	{ "opt_in", action_opt_in, "lift the texting client's opt-out (START, UNSTOP)" },
	{ "hint_once", action_hint_once, "first for the reminder's first unrecognised text, else again" },
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

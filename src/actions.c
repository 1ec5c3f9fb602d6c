/* actions: confirm, cancel, request a call back or a new time, as the
 * reminder call and the reminder text flows name them (each telling the
 * office, notify.h), and the text flow's opt-in and help-once.  Each runs
 * inside the engine's (or sms.c's) transaction. */
#include "actions.h"
#include "arena.h"
#include "db.h"
#include "greeting.h"
#include "log.h"
#include "notify.h"
#include "taskcode.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* How the client answered, for the office's line. */
#define BY_KEYPAD "keypad"
#define BY_TEXT "text"

/* Tells the office (notify.h) that the client of the action's
 * appointment did what verb says, by how: one line with the client's
 * name and the appointment's time in the business's zone ("Jane Doe
 * confirmed Tue 9 Dec 10:00 (keypad)"), never the notes.  In the
 * action's transaction.  0, or -1 on a database error. */
static int notify_office(struct action_ctx *ctx, const char *kind, const char *verb,
	const char *how)
{
	const char *p[2] = { ctx->appointment_id, ctx->business_id }, *v[3];
	const char *detail;
	int rc = db_row_prepared(ctx->db, ctx->arena, "action_notify_facts",
		"SELECT a.client_id, c.name,"
		" to_char(a.starts_at AT TIME ZONE b.time_zone, 'Dy FMDD Mon HH24:MI')"
		" FROM appointments a JOIN clients c ON c.id = a.client_id"
		" JOIN businesses b ON b.id = a.business_id"
		" WHERE a.id = $1::bigint AND a.business_id = $2::bigint", 2, p, 3, v);

	if (rc <= 0)
		return -1;
	detail = arena_printf(ctx->arena, "%s %s %s (%s)", v[1], verb, v[2], how);
	if (office_notify(ctx->db, atoll(ctx->business_id), atoll(ctx->appointment_id),
		    atoll(v[0]), kind, detail) < 0)
		return -1;
	return 0;
}

/* What an appointment change tells the office: its notification kind
 * and the words of its line. */
struct change {
	const char *stmt;  /* the prepared statement's name */
	const char *sql;   /* $1 appointment, $2 business; RETURNING id, news */
	const char *kind;  /* NOTIFY_* */
	const char *verb;  /* "confirmed" */
};

/* Runs c's sql on the action's appointment, and when its second column
 * says the change is news (not a confirmation of a confirmed
 * appointment, say), tells the office, by how.  1 when a row changed, 0
 * when none did (no appointment, or one in a state that does not allow
 * the change), -1 when the database failed. */
static int appointment_change(struct action_ctx *ctx, const struct change *c, const char *how)
{
	const char *p[2] = { ctx->appointment_id, ctx->business_id }, *v[2];
	int rc;

	if (ctx->appointment_id == NULL) {
		log_warn("action %s: %s %s has no appointment", c->stmt,
			ctx->reminder_id ? "reminder" : "call",
			ctx->reminder_id ? ctx->reminder_id : ctx->call_id);
		return 0;
	}
	rc = db_row_prepared(ctx->db, ctx->arena, c->stmt, c->sql, 2, p, 2, v);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		log_warn("action %s: appointment %s cannot change now", c->stmt, ctx->appointment_id);
		return 0;
	}
	if (strcmp(v[1], "t") == 0 && notify_office(ctx, c->kind, c->verb, how) < 0)
		return -1;
	return 1;
}

/* The appointment as it was before this statement, locked. */
#define OLD_APPT "WITH old AS (SELECT id, status, callback_requested_at, callback_done_at," \
	" reschedule_requested_at, reschedule_done_at FROM appointments" \
	" WHERE id = $1::bigint AND business_id = $2::bigint FOR UPDATE) "

/* Confirms the appointment; a cancelled one stays cancelled.  News when
 * it was not confirmed yet. */
static const struct change confirm_change = { "action_confirm",
	OLD_APPT "UPDATE appointments a SET status = 'confirmed',"
	" confirmed_at = COALESCE(a.confirmed_at, now()), updated_at = now() FROM old"
	" WHERE a.id = old.id AND old.status IN ('booked', 'confirmed')"
	" RETURNING a.id, old.status <> 'confirmed'", NOTIFY_CONFIRMED, "confirmed" };

/* Cancels the appointment (its unsent reminders: do_cancel).  News when
 * it was not cancelled yet. */
static const struct change cancel_change = { "action_cancel",
	OLD_APPT "UPDATE appointments a SET status = 'cancelled',"
	" cancelled_at = COALESCE(a.cancelled_at, now()), updated_at = now() FROM old"
	" WHERE a.id = old.id AND old.status IN ('booked', 'confirmed', 'cancelled')"
	" RETURNING a.id, old.status <> 'cancelled'", NOTIFY_CANCELLED, "cancelled" };

/* Whether old's request col (callback, reschedule) was still open: made
 * and not marked done since. */
#define OLD_OPEN(col) "(old." col "_requested_at IS NOT NULL AND (old." col "_done_at IS NULL" \
	" OR old." col "_done_at < old." col "_requested_at))"

/* A call back about an appointment still ahead (booked or confirmed): a
 * cancelled or completed one is nothing to call back about.  News unless
 * a request is still open (the office already knows). */
static const struct change callback_change = { "action_request_callback",
	OLD_APPT "UPDATE appointments a SET callback_requested_at = now(), updated_at = now()"
	" FROM old WHERE a.id = old.id AND old.status IN ('booked', 'confirmed')"
	" RETURNING a.id, NOT " OLD_OPEN("callback"), NOTIFY_CALLBACK,
	"asked for a call back about" };

/* A request to move an appointment still ahead, as a call back. */
static const struct change reschedule_change = { "action_request_reschedule",
	OLD_APPT "UPDATE appointments a SET reschedule_requested_at = now(), updated_at = now()"
	" FROM old WHERE a.id = old.id AND old.status IN ('booked', 'confirmed')"
	" RETURNING a.id, NOT " OLD_OPEN("reschedule"), NOTIFY_RESCHEDULE, "asked to reschedule" };

/* Confirms the appointment.  As appointment_change. */
static int do_confirm(struct action_ctx *ctx, const char *how)
{
	return appointment_change(ctx, &confirm_change, how);
}

/* Cancels the appointment and every reminder not yet sent for it, so
 * nobody is reminded of an appointment they cancelled.  As
 * appointment_change. */
static int do_cancel(struct action_ctx *ctx, const char *how)
{
	const char *p[2] = { ctx->appointment_id, ctx->business_id };
	PGresult *res;
	int rc = appointment_change(ctx, &cancel_change, how);

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

/* Notes that the client asked for a call back.  As appointment_change. */
static int do_callback(struct action_ctx *ctx, const char *how)
{
	return appointment_change(ctx, &callback_change, how);
}

/* Notes that the client asked to reschedule: the office calls to find a
 * new time (the dashboard's "Reschedule requests").  As
 * appointment_change. */
static int do_reschedule(struct action_ctx *ctx, const char *how)
{
	return appointment_change(ctx, &reschedule_change, how);
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
	return keypad(do_confirm(ctx, BY_KEYPAD), event);
}

static int action_cancel(struct action_ctx *ctx, const char **event)
{
	return keypad(do_cancel(ctx, BY_KEYPAD), event);
}

static int action_request_callback(struct action_ctx *ctx, const char **event)
{
	return keypad(do_callback(ctx, BY_KEYPAD), event);
}

static int action_confirm_reply(struct action_ctx *ctx, const char **event)
{
	return reply(do_confirm(ctx, BY_TEXT), event);
}

static int action_cancel_reply(struct action_ctx *ctx, const char **event)
{
	return reply(do_cancel(ctx, BY_TEXT), event);
}

static int action_callback_reply(struct action_ctx *ctx, const char **event)
{
	return reply(do_callback(ctx, BY_TEXT), event);
}

static int action_request_reschedule(struct action_ctx *ctx, const char **event)
{
	return keypad(do_reschedule(ctx, BY_KEYPAD), event);
}

static int action_reschedule_reply(struct action_ctx *ctx, const char **event)
{
	return reply(do_reschedule(ctx, BY_TEXT), event);
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
	{ "request_reschedule", action_request_reschedule,
		"note that the client asked to reschedule; the office is told" },
	{ "reschedule_reply", action_reschedule_reply,
		"note that the texting client asked to reschedule (done/none)" },
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

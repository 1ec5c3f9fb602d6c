/* actions: the business-logic side effects a flow's transitions name
 * (confirm, cancel, request_callback, request_reschedule, ...), registered
 * by name.  Each change a client makes to an appointment (confirmed,
 * cancelled, asked for a call back or to reschedule) is also an office
 * notification (notify.h) in the same transaction.
 *
 * An action runs inside the engine's transaction for the webhook, so its
 * changes commit together with the transition or not at all.  It may set
 * *event to the name of an event the engine then applies from the
 * transition's destination state (for example "valid" / "invalid").
 *
 * The text-reply actions (confirm_reply, cancel_reply, callback_reply,
 * reschedule_reply)
 * always answer an event: "done" when the appointment changed, "none"
 * when there was nothing to act on (no reminder, an appointment that can
 * no longer change), so a reply can say so instead of apologising. */
#ifndef RF_ACTIONS_H
#define RF_ACTIONS_H

struct db;
struct arena;
struct rds;

struct action_ctx {
	struct db *db;
	struct arena *arena;
	const char *call_id;        /* calls.id */
	const char *business_id;    /* NULL: an inbound call no code has bound yet */
	const char *appointment_id; /* NULL for calls with no appointment */
	const char *digits;         /* what was pressed, may be "" */
	/* Inbound calls (engine.h, engine_attach). */
	struct rds *rds;            /* may be NULL */
	const char *secret;
	const char *recordings_prefix;
	long long now_s;            /* clock_now_s() */
	const char *caller;         /* the call's From: a throttle key, never identity */
	const char *called;         /* the call's To */
	const char *recording_url;  /* a <Record>'s action: RecordingUrl, RecordingSid, */
	const char *recording_sid;  /* RecordingDuration; NULL otherwise */
	const char *recording_duration;
	/* Set by an action that binds the call to a business (a valid task
	 * code), so that the rest of the request knows it. */
	const char *bound_business_id;
	/* A text reply (src/sms.c): the reminder it answers (NULL when
	 * there is none), the client's phone, the number the text was sent
	 * to and TWILIO_FROM_NUMBER (may be NULL), for the opt-in's scope,
	 * and the text's MessageSid.  NULL for calls. */
	const char *reminder_id;
	const char *phone;
	const char *sender;
	const char *default_from;
	const char *message_sid;
};

/* Returns 0 (with *event NULL or an event name with static storage) or -1
 * when the action could not be done (the engine rolls back and
 * apologises). */
typedef int (*action_fn)(struct action_ctx *ctx, const char **event);

struct action_def {
	const char *name;
	action_fn fn;
	const char *doc; /* one line, for `ringfence check --list-actions` */
};

/* The registered action called name, or NULL. */
const struct action_def *actions_find(const char *name);
/* All of them, NULL-name terminated. */
extern const struct action_def actions_table[];

#endif

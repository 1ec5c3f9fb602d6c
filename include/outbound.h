/* outbound: THE single function that contacts anyone (DESIGN.md 1.5-1.8).
 *
 * outbound_send takes an attempt the worker has just claimed (the reminder
 * moved to 'dialing' and its contact_attempts row written as 'dialing' by
 * one statement) and, in this order:
 *
 *   1. allow-list (allowlist_permits): refused -> attempt and reminder
 *      'blocked_not_allowed'; Twilio and SMTP never see the address;
 *   2. rate limits' fast pre-check in Redis (ratelimit_take, the
 *      business's hourly_limit overriding the configured default; the
 *      claim already decided the limits in PostgreSQL, the authority):
 *      over a limit and the slot frees before the reminder goes stale ->
 *      deferred; otherwise -> attempt 'skipped_rate_limited', reminder
 *      'skipped' with the reason;
 *   3. failsafe (failsafe_check_and_count, counting contact_attempts, this
 *      attempt included): tripped (1) or cannot tell (-1) -> held;
 *   4. pacer (ratelimit_pace) for calls and texts: wait for this send's
 *      slot (a wait over OUTBOUND_MAX_PACE_MS defers instead);
 *   5. the request: Calls.json (after writing the `calls` row the engine
 *      serves the call's webhooks from), Messages.json, or SMTP; a staff
 *      reply from the inbox (reminders.kind 'reply') is the text
 *      "<business name>: <body>" instead of the business's wording;
 *   6. the record: 'placed' with the provider's id, 'failed' with the
 *      error (21610 opts the number out, 21211 marks it invalid), or
 *      'unknown' when the answer was lost (timeout, transport error, 5xx):
 *      never retried, only the reconciler settles it, by looking, not by
 *      sending.  20429 backs the account's pacer off and defers.
 *
 * "Deferred" and "held" both mean nothing was sent and the attempt never
 * happened: the attempt row is deleted and the reminder is back to
 * 'pending' in one statement, so "one attempt row per reminder" still
 * holds and the next claim re-checks everything.  Deferred sets
 * reminders.not_before to when the limit frees; held leaves the reminder
 * untouched apart from status_reason (a tripped failsafe keeps every
 * reminder pending for a person to decide after resume, and the claim
 * refuses them while it is tripped; a stale one becomes skipped_stale by
 * the scheduler, never sent late).  Redis unreachable at any guard holds.
 *
 * Every request and response (redacted by twilio.c/mail.c, and by the
 * audit's registered secrets) goes to the audit trail as kind "outbound",
 * keyed per attempt ("attempt-<id>") and per business. */
#ifndef RF_OUTBOUND_H
#define RF_OUTBOUND_H

#include <stddef.h>

struct arena;
struct config;
struct db;
struct rds;
struct audit;

/* A pacer wait longer than this defers the reminder instead of holding a
 * worker (and the attempt's lease) that long. */
#define OUTBOUND_MAX_PACE_MS 30000
/* How long a 20429 backs the account's pacer off, seconds. */
#define OUTBOUND_BACKOFF_S 60
/* Twilio's ring time for reminder calls, seconds. */
#define OUTBOUND_RING_S 30

/* What the worker hands over; every string is owned by the caller. */
struct outbound_ctx {
	const struct config *cfg;
	struct db *db;
	struct rds *rds;
	struct audit *audit;
	/* The worker's per-job arena (arena.h, rule 2): every string one
	 * send builds (URLs, texts, subject, reasons, the unsubscribe link)
	 * lives here until the worker resets it after the job, so a send
	 * frees nothing of its own. */
	struct arena *job;
	const char *call_flow;        /* "reminder_call" */
	const char *call_start_state; /* that flow's start state */
	/* Fault injection (tests, never production): called at
	 * "during_request" (just before the request) and "before_record";
	 * NULL: none. */
	void (*crash_hook)(const char *point);
};

/* One claimed attempt, as the claim statement returned it.  The strings
 * are copied at their full length into the worker's per-job arena (see
 * arena.h), never cut to fit a fixed array: what reaches a person or a
 * provider is what the database holds.  None is NULL ("" when the column
 * is NULL); they live until the worker resets the arena for the next
 * job. */
struct outbound_attempt {
	long long attempt_id;
	long long reminder_id;
	long long business_id;
	long long appointment_id;
	int attempt;                 /* reminders.attempt, 1 for the first */
	const char *channel;         /* "voice", "sms", "email" */
	const char *to;              /* E.164 or email address */
	const char *from;            /* caller id: businesses.twilio_from or TWILIO_FROM_NUMBER; "" none */
	int machine_detection;       /* businesses.machine_detection */
	int hourly_limit;            /* businesses.hourly_limit, -1: the configured default */
	long long stale_s;           /* reminders.stale_at, Unix seconds */
	const char *business_name;
	const char *callback_phone;
	const char *when_date;       /* "Tuesday, November 25" in the recipient's zone */
	const char *when_time;       /* "10:00 AM" */
};

enum outbound_status {
	OUTBOUND_PLACED,        /* the provider accepted it (sid recorded) */
	OUTBOUND_FAILED,        /* definitely refused (error recorded) */
	OUTBOUND_UNKNOWN,       /* the answer was lost: for the reconciler */
	OUTBOUND_BLOCKED,       /* not on the allow-list */
	OUTBOUND_SKIPPED_RATE,  /* over a rate limit until it goes stale */
	OUTBOUND_DEFERRED,      /* over a limit or backed off: pending again, not_before set */
	OUTBOUND_HELD,          /* failsafe tripped or a guard could not tell: pending again */
	OUTBOUND_ERROR,         /* the outcome could not be recorded (database): the
	                           attempt stays 'dialing' until its lease expires */
};

/* Sends (or refuses to send) at, and records the outcome in PostgreSQL and
 * the audit trail, as described above.  now_s is clock_now_s().  Returns
 * what happened. */
enum outbound_status outbound_send(const struct outbound_ctx *ctx, const struct outbound_attempt *at,
	long long now_s);

/* After the claim itself deferred at (skipped 0: no attempt row,
 * at->attempt_id 0) or skipped it (skipped 1: attempt
 * 'skipped_rate_limited') for a contact limit: writes the audit record
 * ("deferred" / "skipped_rate_limited" with reason, keyed per attempt, or
 * per reminder when there is no attempt) and the log line, as step 2
 * does for its own deferrals. */
void outbound_over_limit(const struct outbound_ctx *ctx, const struct outbound_attempt *at,
	int skipped, const char *reason);

/* ---- email to the office (office_mail.h) ---------------------------------- */

/* An email telling a person of the office what clients said, claimed by
 * office_mail.c (an office_mails row in 'claimed', written and committed
 * before this is called; the limits below decided in that claim, in
 * PostgreSQL).  Every string is owned by the caller. */
#define OUTBOUND_OFFICE_USER_HOUR 20     /* immediate emails per user per hour */
#define OUTBOUND_OFFICE_BUSINESS_DAY 200 /* emails per business per 24 h */
struct outbound_office_mail {
	long long mail_id;           /* office_mails.id */
	long long business_id;
	const char *to;              /* the user's address */
	const char *subject, *text, *html;
	const char *settings_url;    /* where the user changes it (List-Unsubscribe) */
};

/* Sends m, or refuses to, through the same guards and SMTP path as a
 * reminder email: the allow-list (refused: 'blocked_not_allowed', the
 * server never sees the address), the failsafe (tripped or unreadable:
 * held: the claim is deleted, nothing was sent, the next pass tries
 * again), a sender address (none: held), then mail_send with this
 * function's grant.  The row becomes 'sent' (provider_id the Message-ID's
 * local part), 'failed' (the server refused: 5xx, or the message could
 * not be built) or 'unknown' (the answer was lost: never sent again).
 * Audited as kind "outbound", keyed "office-mail-<id>" and by business.
 * Returns OUTBOUND_PLACED (sent), _FAILED, _UNKNOWN, _BLOCKED, _HELD, or
 * _ERROR when the outcome could not be recorded (the row stays
 * 'claimed' and office_mail.c later calls it 'unknown'). */
enum outbound_status outbound_office_mail(const struct outbound_ctx *ctx,
	const struct outbound_office_mail *m, long long now_s);

/* "placed", "failed", ... for logs. */
const char *outbound_status_name(enum outbound_status s);

/* After a definite refusal by Twilio of a contact for business_id:
 * 21610 (the number sent STOP to the sender number) opts the phone out
 * with every business sending from that business's number (its
 * twilio_from, else default_from, TWILIO_FROM_NUMBER), as an inbound STOP
 * does; 21211 / 21217 mark every client with the number invalid (the
 * number itself is wrong).  Fewer contacts, never more.  Returns 1 when
 * flagged, 0 for another code, -1 on a database error (logged). */
int outbound_flag_number(struct db *db, const char *phone, long long business_id,
	const char *default_from, int code, const char *message);
int outbound_code_opts_out(int code);  /* 21610 */
int outbound_code_invalid(int code);   /* 21211, 21217 */

/* Moves an attempt and its reminder on in one statement: the attempt (when
 * its status is one of from, a comma-separated list such as
 * "dialing,unknown") to attempt_status with provider_sid / error_code /
 * error_message (NULL / 0 / NULL keep what is there), and its reminder,
 * when 'dialing', 'unknown' or 'not_placed', to reminder_status with
 * error_message as status_reason.  Returns 1 when the attempt moved, 0
 * when it was not in one of from, -1 on a database error (its text is
 * db_last_error(db); nothing is logged: the caller decides).  The
 * statement's parameters are built in a, the caller's per-job arena.
 * Shared with the reconciler. */
int outbound_settle(struct db *db, struct arena *a, long long attempt_id, const char *from,
	const char *attempt_status, const char *provider_sid, int error_code,
	const char *error_message, const char *reminder_status);

#endif

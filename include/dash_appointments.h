/* dash_appointments: the dashboard's appointment pages.
 *
 *   GET  /today                          appointments by day, filtered, with
 *                                        each reminder's state in words and the
 *                                        "Call back" and "Reschedule requests"
 *                                        cards on top
 *   GET  /today/fragment                 the same list alone (live refresh)
 *   GET  /appointments/new               the form; POST /appointments creates
 *   GET  /appointments/{id}/edit         the form; POST /appointments/{id}
 *                                        saves (a new time re-plans reminders)
 *   POST /appointments/{id}/cancel       cancels it and its unsent reminders
 *   POST /appointments/{id}/callback-done  the call back was made
 *   POST /appointments/{id}/reschedule-done  the client asked to reschedule
 *                                        (keypad or text 4) and the office
 *                                        has handled it
 *   POST /appointments/{id}/test-reminder  "Send me a test reminder": a
 *                                        reminder row due now, queued for the
 *                                        workers (never sent in the request)
 *
 * Creating, rescheduling and cancelling go through reminders.h, as the
 * API does.  Every query is scoped by the session's business: another
 * business's id is 404 like an unknown one. */
#ifndef RF_DASH_APPOINTMENTS_H
#define RF_DASH_APPOINTMENTS_H

#include <stddef.h>

#include "valid.h"

struct app;
struct route_input;
struct outcome;

/* Test reminders: at most this many per business per hour and per day,
 * only 09:00-18:00 in the recipient's zone (decided in PostgreSQL by
 * rf_test_reminder_refusal, sql/016_trial.sql, which holds these numbers;
 * these are for the page's wording). */
#define DASH_TEST_PER_HOUR 5
#define DASH_TEST_PER_DAY 20
/* The list's longest range in days, and its default. */
#define DASH_RANGE_MAX_DAYS 92
#define DASH_RANGE_DEFAULT_DAYS 7

/* The list's statement (the bench runs it through pgbench): $1 business
 * id, $2 its time zone, $3 and $4 the first and last day, $5 status or
 * "", $6 client search or "", $7 the most appointments, $8 now. */
extern const char dash_list_sql[];

/* What is known about one reminder, as the page's one mapping reads it.
 * NULL strings are unknown / absent. */
struct dash_reminder_facts {
	const char *channel;            /* "voice", "sms", "email" */
	const char *reminder_status;    /* reminders.status */
	const char *reason;             /* reminders.status_reason */
	const char *block_code;         /* pending: reminder_block's code now
	                                   (NULL: may go, "deferred", "window",
	                                   "ineligible") */
	const char *block_reason;       /* its reason */
	const char *attempt_status;     /* contact_attempts.status, NULL: no attempt */
	const char *delivery_status;    /* contact_attempts.delivery_status */
	int error_code;                 /* contact_attempts.error_code, 0: none */
	const char *call_status;        /* calls.call_status */
	const char *answered_by;        /* calls.answered_by */
	const char *call_action;        /* the action a key press ran: "confirm",
	                                   "cancel", "request_callback",
	                                   "request_reschedule" */
	int voicemail;                  /* the call went to the machine's message */
};

/* The state of a reminder in an owner's words: one of "scheduled",
 * "sending", "sent", "delivered", "confirmed", "cancelled by client",
 * "asked for a call back", "asked to reschedule", "reached voicemail",
 * "no answer", "busy",
 * "failed", "opted out", "outside the calling window", "rate limited",
 * "blocked (not allowed)", "held by the failsafe", "outcome unknown —
 * needs your decision", and for rows no owner action explains,
 * "cancelled" (the business cancelled or moved the appointment) and "not
 * sent in time" (it went stale).  For "failed", detail gets Twilio's
 * reason ("error 21211: the number is not a valid phone number") or the
 * recorded one; otherwise "" (or a short note).  The only place these
 * words are chosen. */
const char *dash_reminder_state(const struct dash_reminder_facts *f, char *detail,
	size_t detlen);

/* The badge class of an appointment status ("booked", ...). */
const char *dash_appt_status_class(const char *status);

/* What a Twilio error code means, in a few words, or NULL for a code
 * the table does not hold. */
const char *dash_twilio_error_meaning(int code);

/* The forms' and queries' declared fields (validated loosely by the
 * dispatcher; the handlers check them and re-render with 422). */
enum { DQ_FROM, DQ_TO, DQ_STATUS, DQ_Q, DQ_NFIELDS };
extern const struct valid_field dash_today_query[DQ_NFIELDS];
enum { DF_CLIENT, DF_CLIENT_Q, DF_STARTS, DF_NOTES, DF_NFIELDS };
extern const struct valid_field dash_appt_fields[DF_NFIELDS];
enum { DT_CHANNEL, DT_NFIELDS };
extern const struct valid_field dash_test_fields[DT_NFIELDS];
enum { DN_CLIENT, DN_Q, DN_NFIELDS };
extern const struct valid_field dash_new_query[DN_NFIELDS];



/* Records a dashboard action in the business's audit stream (kind
 * "dashboard"): action, who (user id and email), the request id, the
 * appointment (when > 0) and extra's members (consumed; may be NULL). */
struct json_t;
void dash_audit(struct app *app, const struct route_input *in, const char *action,
	long long appointment_id, struct json_t *extra);

void dash_today_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_today_fragment_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_appt_new_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_appt_create_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_appt_edit_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_appt_update_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_appt_cancel_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_callback_done_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_reschedule_done_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_test_reminder_handle(struct app *app, const struct route_input *in,
	struct outcome *out);

#endif

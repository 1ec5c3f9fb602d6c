/* reminders: planning an appointment's reminder rows from its business's
 * reminder policy, and cancelling the ones not sent yet.
 *
 * A plan is one row per policy line (attempt 1): due at starts_at minus
 * the line's offset, stale at LEAST(due + stale_after, starts_at), sent to
 * the client's phone (voice, sms) or email (email) as it is when planned.
 * A business without policy lines uses the default policy: voice 1440
 * minutes (24 h) and sms 120 minutes before.  A reminder whose due time
 * has already passed is due at once when the appointment is still at
 * least REMINDERS_MIN_LEAD_S away, otherwise it is not created.  A client
 * who opted out, or whose phone Twilio refused as invalid, gets no voice
 * or sms row; a channel whose address the client lacks gets no row.
 *
 * Rescheduling is reminders_cancel_unsent and then reminders_plan in one
 * transaction.  The rows of the earlier plan stay as history with
 * superseded_at set (sql/005_reminder_plans.sql): the unique key
 * (appointment_id, channel, offset_minutes, attempt) holds among the rows
 * of the current plan (superseded_at IS NULL) only, so a retry is still
 * one row per attempt and the new plan's rows do not collide with the
 * old plan's. */
#ifndef RF_REMINDERS_H
#define RF_REMINDERS_H

#include <stddef.h>

struct db;

/* A reminder that would be due less than this before its appointment is
 * not created when its own due time has already passed. */
#define REMINDERS_MIN_LEAD_S 3600
/* Policy lines per business that reminders_plan reads (the rest are
 * ignored with a logged warning). */
#define REMINDERS_MAX_LINES 16

/* One line of a reminder policy. */
struct reminders_line {
	char channel[8];            /* "voice", "sms", "email" */
	int offset_minutes;         /* before the appointment, 0..43200 */
	int stale_after_minutes;    /* after the due time, 5..10080 */
};

/* Where the client can be reached, as far as planning is concerned. */
struct reminders_recipient {
	const char *phone;          /* E.164, NULL when none */
	const char *email;          /* NULL when none */
	int phone_blocked;          /* opted out or invalid: no voice or sms */
};

/* One planned row. */
struct reminders_row {
	char channel[8];
	int offset_minutes;
	long long due_s;            /* Unix seconds */
	long long stale_s;
	const char *to_address;     /* points into the recipient */
};

/* The default policy (voice 1440, sms 120; stale after 120 minutes) into
 * out[0..2); returns 2. */
size_t reminders_default_policy(struct reminders_line out[2]);

/* The default staleness bound of a channel in minutes (voice 120, sms
 * 120, email 720), -1 for an unknown channel. */
int reminders_default_stale(const char *channel);

/* The planning rules, without a database: fills out[0..max) with the rows
 * the lines give for an appointment at starts_s booked at now_s, in line
 * order.  Returns how many, or -1 when a line is malformed (unknown
 * channel, offset or staleness out of range) or max is too small. */
int reminders_compute(const struct reminders_line *lines, size_t nlines,
	const struct reminders_recipient *rc, long long starts_s, long long now_s,
	struct reminders_row *out, size_t max);

/* Inside the caller's transaction: creates the appointment's reminder rows
 * from the business's policy (the default when it has none) as of now_s
 * (clock_now_s()).  With the appointment's first plan (no earlier row of
 * kind 'plan', superseded or not) it also creates the booking
 * confirmation when the business sends them (businesses.booking_channel
 * 'sms' or 'email'): one row of kind 'booking', attempt 5, to the
 * client's phone or email, due booking_delay_minutes after now_s and
 * stale 12 hours later or at the appointment, whichever is first.  No
 * confirmation when it would not be due before the appointment, when the
 * client opted out (or for a text, the phone is invalid) or has no
 * address on that channel; a reschedule never makes another (and the
 * unique index reminders_booking_key keeps one per appointment).  It is
 * sent like any reminder: the same claim, guards, limits and window.  Earlier rows of the appointment are superseded; it
 * refuses (-1) while any of them is still pending (cancel them first with
 * reminders_cancel_unsent), or when the appointment is not booked or
 * confirmed.  Returns how many rows it created (0 is fine: nothing
 * useful to send), or -1 with a one-line reason in err. */
int reminders_plan(struct db *db, long long appointment_id, long long now_s, char *err,
	size_t errlen);

/* Inside the caller's transaction: the appointment's pending reminders
 * (and nothing else) become cancelled with reason as status_reason.
 * Returns how many, or -1 on a database error. */
int reminders_cancel_unsent(struct db *db, long long appointment_id, const char *reason);

/* The appointment state changes the API and the dashboard share; each
 * runs inside the caller's transaction, with the appointment locked (FOR
 * UPDATE) and its status checked by the caller. */

/* Cancels the appointment and its unsent reminders.  How many reminders
 * were cancelled, or -1 on a database error. */
int reminders_cancel_appointment(struct db *db, long long appointment_id);

/* Moves the appointment to starts_s (unix seconds) and back to booked (a
 * confirmation was for the old time), cancels its unsent reminders
 * (*cancelled: how many) and plans new ones as of now_s.  How many it
 * planned, or -1 with a one-line reason in err. */
int reminders_reschedule(struct db *db, long long appointment_id, long long starts_s,
	long long now_s, int *cancelled, char *err, size_t errlen);

/* One reminder outside the plan, due at now_s: kind "test" (the
 * dashboard's "send me a test reminder") or "resend" (a person's "send it
 * once more").  It goes to to_address on channel, stays worth sending for
 * the channel's default staleness bound (never past the appointment), is
 * attempt 5 so that nothing retries it, and records user_id (0: none) as
 * who asked.  offset_minutes is stored as given, or when -1 as the
 * minutes left until the appointment.  Inside the caller's transaction;
 * the caller queues it after committing.  The new reminder's id, or -1 on
 * a database error. */
long long reminders_add_now(struct db *db, long long appointment_id, const char *channel,
	int offset_minutes, const char *to_address, const char *kind, long long user_id,
	long long now_s);

#endif

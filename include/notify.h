/* notify: what the office is told (issue 11 part 5).
 *
 * office_notify records one office notification (office_notifications,
 * sql/017_office.sql): a client confirmed, cancelled, asked for a call
 * back or to reschedule, a reminder did not reach them, or a text came in
 * that the SMS flow does not understand.  It runs in the caller's
 * transaction, so the notification exists exactly when the thing it tells
 * of was committed.  The dashboard shows the rows at once; the people who
 * asked for email get them immediately or in a daily digest.
 *
 * detail is one line for a person ("Jane Doe confirmed by keypad") and
 * must never hold the appointment's notes. */
#ifndef RF_NOTIFY_H
#define RF_NOTIFY_H

struct db;

/* kind: one of the values below.  appointment_id and client_id may be 0
 * (none).  detail may be NULL ("").  Returns the new row's id, or -1 on a
 * database error or an unknown kind (nothing written). */
long long office_notify(struct db *db, long long business_id, long long appointment_id,
	long long client_id, const char *kind, const char *detail);

#define NOTIFY_CONFIRMED "confirmed"
#define NOTIFY_CANCELLED "cancelled"
#define NOTIFY_CALLBACK "callback"
#define NOTIFY_RESCHEDULE "reschedule"
#define NOTIFY_UNREACHED "unreached"
#define NOTIFY_INBOX "inbox"

/* Whether kind is one of the values above. */
int notify_kind_valid(const char *kind);

/* What a kind says after the client's name, in words the office reads on
 * the dashboard and in email: "confirmed", "cancelled", "asked for a call
 * back", "asked to reschedule", "was not reached", "sent a text";
 * "told us something" for anything else. */
const char *notify_kind_words(const char *kind);

/* After the outcome of reminder_id was recorded as 'failed' or
 * 'not_placed', in the caller's transaction: when that was the
 * reminder's last attempt (no later attempt of the same appointment,
 * channel and offset exists), it was a reminder to the client (a plan's,
 * a resend or a booking confirmation, not a test or a staff reply), the
 * appointment is still booked or confirmed and the client has not opted
 * out, records one NOTIFY_UNREACHED notification naming the reminder,
 * its detail "<Call|Text|Email> did not reach them: <reason>".  At most
 * one per reminder (sql/022_office_mail.sql), however often it is
 * called.  Returns the new row's id, 0 when nothing was recorded, -1 on a
 * database error. */
long long notify_unreached(struct db *db, long long reminder_id, const char *reason);

#endif

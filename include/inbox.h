/* inbox: the texts clients send, kept per client for the dashboard's
 * reply inbox (issue 11 part 7, sql/023_inbox.sql).
 *
 * The SMS flow (src/sms.c) answers a signed inbound text for one business:
 * the one texting from the number the text was sent to.  In the same
 * transaction it calls inbox_record, which keeps the text for the
 * business's client(s) with that phone (the client of the reminder the
 * text answers, when the flow found one and that client still has the
 * phone), so the conversation view shows it.  A text the flow did not act
 * on (inbox_needs_answer) waits in the inbox for a person, and the office
 * is told at once (office_notify NOTIFY_INBOX, "<client>: <first 80
 * characters>").  Every key comes from the database (the text's row, the
 * client rows), never from the request.  A staff reply is a reminders row
 * of kind 'reply' (src/dash_inbox.c); a worker sends it through
 * outbound_send with every guard. */
#ifndef RF_INBOX_H
#define RF_INBOX_H

struct arena;
struct db;

/* How many characters of a text the office's notification quotes. */
#define INBOX_NOTIFY_CHARS 80

/* Whether a text whose flow ended in state (the reminder_sms state the
 * text left the conversation in; NULL: the flow failed on it) waits for a
 * person's answer: an unrecognised text (hint, quiet), a reply with
 * nothing pending (nothing_pending), or a failure.  The keywords the flow
 * acted on (confirmed, cancelled, callback, reschedule, help, opted_in,
 * opted_out ...)
 * do not. */
int inbox_needs_answer(const char *state);

/* Inside the caller's transaction: keeps the inbound text text_id (the
 * inbound_texts row) from phone for business_id's client(s) with that
 * phone (only reminder_id's client when it is one of them; reminder_id
 * may be NULL), with the flow's state (may be NULL) and whether it needs
 * an answer (inbox_needs_answer), and, when it does, records one office
 * notification.  A text already kept adds nothing.  Returns how many
 * clients it was kept for (0: the phone is no client of the business), or
 * -1 on a database error (the caller rolls back). */
int inbox_record(struct db *db, struct arena *a, const char *text_id, const char *business_id,
	const char *reminder_id, const char *phone, const char *state);

/* The end of inbox_record for a caller that kept the text itself (sms.c,
 * through rf_inbox_record in one statement with the rest of the text):
 * kept is that function's row (how many rows, the first client, the
 * notice's text); when state needs an answer and the text was kept, the
 * office is told.  inbox_record's answer. */
int inbox_tell_office(struct db *db, const char *business_id, const char *state,
	const char *const kept[3]);

/* How many clients of business_id have texts waiting for an answer (the
 * menu's count), or -1 on a database error. */
long long inbox_open_clients(struct db *db, long long business_id);

#endif

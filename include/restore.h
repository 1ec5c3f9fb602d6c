/* restore: after deploy/restore, the reconciliation of the restored
 * database with Twilio, so that a restore never re-sends and never loses
 * an opt-out.
 *
 * deploy/restore records a 'backup' deployment event just before each
 * dump (so the restored database knows when its backup was taken), trips
 * the failsafe and records a 'restore' event after loading a dump.  Until
 * a 'restore_reconciled' event follows that 'restore', `ringfence
 * failsafe resume` is refused (failsafe.h).  `ringfence restore-reconcile`
 * reads every call and message of the account created since the backup
 * (less a margin, default 300 s, for the two clocks) from Twilio
 * (twilio_list), and, in one transaction:
 *
 *  - an outbound call or text from a business's number (its twilio_from,
 *    else TWILIO_FROM_NUMBER) that the database does not know (its sid is
 *    on no contact attempt) is matched to the reminder it was for: same
 *    business number, recipient, channel, due at or before the record
 *    (oldest due first, reminders still sendable at that time first);
 *    the reminder gets its contact attempt with Twilio's sid and is
 *    'placed' (outbound_settle, as the reconciler settles an unknown
 *    attempt), so the claim's unique key refuses a second contact.  One
 *    that matches no reminder is listed and changes nothing;
 *  - an outbound call answered (completed or in progress) since the
 *    backup, unless the restored database saw it end: the keypad choice
 *    is lost, so the appointment's remaining pending reminders are
 *    'skipped' with the reason, for a person;
 *  - an inbound text the database does not know: an opt-out keyword
 *    (sms_opt_keyword) is kept and applied again as the webhook does
 *    (sms_text_record); any other text (confirm, cancel, START, ...) is
 *    kept, listed, and the appointment of the latest SMS reminder to that
 *    phone from that number has its remaining reminders skipped;
 *  - email cannot be asked about: every pending email reminder due before
 *    the restore is 'skipped' ("may have been sent before the restore").
 *
 * It prints the report (counts, each decision) and records the
 * 'restore_reconciled' event with the same in its detail; then the
 * failsafe may be resumed.  If Twilio's lists cannot be read to their
 * end, nothing is changed and it exits 1. */
#ifndef RF_RESTORE_H
#define RF_RESTORE_H

/* The margin subtracted from the backup's time, seconds. */
#define RESTORE_MARGIN_S 300

/* `ringfence restore-reconcile [--margin S] [--by NAME]`: 0 reconciled
 * (or nothing to reconcile), 1 on any error (nothing changed), 2 usage. */
int restore_reconcile_main(int argc, char **argv);

#endif

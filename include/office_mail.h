/* office_mail: the office told by email (issue 11 part 5).
 *
 * Each user chooses for themselves (users.notify_mode, Settings -> My
 * notifications): off, immediately, or a daily digest at
 * users.notify_digest_hour in the business's time zone.  The worker's
 * first process runs office_mail_pass every OFFICE_MAIL_INTERVAL_S
 * seconds (never an HTTP request); `ringfence worker --office-mail-once`
 * runs one pass and exits.
 *
 * A pass (none while RINGFENCE_SMTP_URL or RINGFENCE_MAIL_FROM is unset or
 * the failsafe is tripped: nothing is claimed, nothing goes out):
 *   1. an email row still 'claimed' OFFICE_MAIL_LOST_S after its claim
 *      (the sender died before recording the outcome) becomes 'unknown':
 *      never sent again;
 *   2. immediate: each notification of the user's business created since
 *      the user chose (users.notify_since) and in the last
 *      OFFICE_MAIL_FRESH_S seconds, not yet mailed to that user, is
 *      claimed (an office_mails row
 *      'claimed' and its office_mail_items row, under the user's row lock
 *      taken FOR UPDATE SKIP LOCKED and the business's advisory lock) and
 *      sent with outbound_office_mail.  Over OUTBOUND_OFFICE_USER_HOUR
 *      immediate emails in the last hour, or OUTBOUND_OFFICE_BUSINESS_DAY
 *      emails of the business in 24 hours, nothing is claimed: the
 *      notification waits for the user's digest (and so does one that
 *      is no longer fresh, after an outage: news is not sent late);
 *   3. digest (users in 'digest' mode, and 'immediate' users for what
 *      their limit held back): during the user's digest hour, one email
 *      per user and local day listing the notifications of the last 24
 *      hours not yet mailed to them; nothing to tell, no email.  Over the
 *      business's daily limit the digest row is 'skipped' and nothing is
 *      sent.
 * A notification is mailed to a user at most once (office_mail_items'
 * unique key), whatever became of the email.  Content: the business's
 * name, the kind, the client's name, the appointment's date and time,
 * the notification's one-line detail and a link to the appointment;
 * never the appointment's notes. */
#ifndef RF_OFFICE_MAIL_H
#define RF_OFFICE_MAIL_H

struct outbound_ctx;

#define OFFICE_MAIL_INTERVAL_S 5
#define OFFICE_MAIL_LOST_S 600
#define OFFICE_MAIL_FRESH_S 600
/* At most this many emails per pass (the rest wait for the next). */
#define OFFICE_MAIL_BATCH 100

struct office_mail_stats {
	int sent, failed, unknown, blocked, held, skipped, lost;
};

/* One pass as described above, with now_s as the time (clock_now_s()).
 * ctx: the worker's send context (its database, audit and arena, which
 * this resets between emails).  0, or -1 when the database failed
 * (logged; what was done stays done). */
int office_mail_pass(const struct outbound_ctx *ctx, long long now_s,
	struct office_mail_stats *st);

#endif

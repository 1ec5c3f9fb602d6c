-- ringfence schema, version 22: the office told by email (issue 11 part 5).
--
--   office_notifications.reminder_id
--                             an 'unreached' notification names the
--                             reminder whose last attempt failed: one
--                             notification per reminder, whichever path
--                             (the send, a status callback, the
--                             reconciler) records the failure first.
--   users.notify_since        when the user last chose how to be told:
--                             nothing older is mailed (turning email on
--                             does not send the past).
--   office_mails              one row per email to a user, written (as
--                             'claimed') before the SMTP server is asked,
--                             then 'sent', 'failed', 'unknown' (the answer
--                             was lost: never sent again),
--                             'blocked_not_allowed' (not on the
--                             allow-list outside production) or 'skipped'
--                             (the business's daily limit).  A digest is
--                             one per user and local day.
--   office_mail_items         which notifications each email told: a
--                             notification is mailed to a user at most
--                             once, whatever became of the email.

ALTER TABLE office_notifications ADD COLUMN reminder_id bigint REFERENCES reminders(id);
CREATE UNIQUE INDEX office_notifications_reminder_key ON office_notifications (reminder_id);
CREATE INDEX office_notifications_unseen_idx ON office_notifications (business_id)
    WHERE seen_at IS NULL;

ALTER TABLE users ADD COLUMN notify_since timestamptz NOT NULL DEFAULT now();

CREATE TABLE office_mails (
    id              bigserial PRIMARY KEY,
    business_id     bigint NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    user_id         bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('immediate', 'digest')),
    -- The digest's day in the business's zone; NULL for an immediate one.
    digest_day      date,
    to_address      text NOT NULL CHECK (length(to_address) BETWEEN 3 AND 254),
    status          text NOT NULL DEFAULT 'claimed'
                    CHECK (status IN ('claimed', 'sent', 'failed', 'unknown',
                                      'blocked_not_allowed', 'skipped')),
    -- The Message-ID's local part ("EM" + 32 hex) once sent.
    provider_id     text,
    error           text CHECK (error IS NULL OR length(error) <= 1000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    settled_at      timestamptz,
    CHECK ((kind = 'digest') = (digest_day IS NOT NULL))
);
CREATE UNIQUE INDEX office_mails_digest_key ON office_mails (user_id, digest_day)
    WHERE kind = 'digest';
CREATE INDEX office_mails_user_idx ON office_mails (user_id, created_at);
CREATE INDEX office_mails_business_idx ON office_mails (business_id, created_at);
CREATE INDEX office_mails_claimed_idx ON office_mails (created_at) WHERE status = 'claimed';

CREATE TABLE office_mail_items (
    mail_id         bigint NOT NULL REFERENCES office_mails(id) ON DELETE CASCADE,
    user_id         bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    notification_id bigint NOT NULL REFERENCES office_notifications(id) ON DELETE CASCADE,
    PRIMARY KEY (mail_id, notification_id),
    UNIQUE (user_id, notification_id)
);

-- ringfence schema, version 9: what the dashboard's appointment pages
-- record.
--
--   appointments.callback_done_*  a client who asked for a call back
--                                 stands at the top of "Today" until
--                                 someone marks the call back done.  A
--                                 later request (callback_requested_at
--                                 after callback_done_at) shows again.
--   reminders.kind                'plan' (reminders_plan), 'test' ("Send me
--                                 a test reminder") or 'resend' (a person
--                                 decided an unknown outcome should be sent
--                                 once more).  A test or resend row is
--                                 outside the plan: the unique key
--                                 (appointment, channel, offset, attempt)
--                                 holds among the current plan's rows only,
--                                 so any number of them can sit beside it.
--                                 They carry attempt 5, the last: a status
--                                 callback's retry stops there, so each is
--                                 sent at most once.
--                                 INSERT ... ON CONFLICT on the plan's key
--                                 now names this predicate:
--                                   ON CONFLICT (appointment_id, channel,
--                                     offset_minutes, attempt)
--                                     WHERE superseded_at IS NULL
--                                     AND kind = 'plan' DO NOTHING
--   reminders.requested_by        who asked for a test or resend row.
--   attempt_decisions             "Needs a decision": one decision per
--                                 unknown-outcome attempt, with who and why.

ALTER TABLE appointments
    ADD COLUMN callback_done_at timestamptz,
    ADD COLUMN callback_done_by bigint REFERENCES users(id) ON DELETE SET NULL;
-- The "Call back" card: open requests of a business.
CREATE INDEX appointments_callback_idx ON appointments (business_id, callback_requested_at)
    WHERE callback_requested_at IS NOT NULL;

ALTER TABLE reminders
    ADD COLUMN kind text NOT NULL DEFAULT 'plan' CHECK (kind IN ('plan', 'test', 'resend')),
    ADD COLUMN requested_by bigint REFERENCES users(id) ON DELETE SET NULL,
    ADD CONSTRAINT reminders_kind_attempt_check CHECK (kind = 'plan' OR attempt = 5);
DROP INDEX reminders_current_key;
CREATE UNIQUE INDEX reminders_current_key
    ON reminders (appointment_id, channel, offset_minutes, attempt)
    WHERE superseded_at IS NULL AND kind = 'plan';
-- The test reminder's limits count a business's test rows by due time.
CREATE INDEX reminders_test_idx ON reminders (business_id, due_at) WHERE kind = 'test';

CREATE TABLE attempt_decisions (
    id              bigserial PRIMARY KEY,
    attempt_id      bigint NOT NULL UNIQUE REFERENCES contact_attempts(id),
    business_id     bigint NOT NULL REFERENCES businesses(id),
    decision        text NOT NULL CHECK (decision IN ('reached', 'resend')),
    reason          text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 1000),
    user_id         bigint REFERENCES users(id) ON DELETE SET NULL,
    -- Who, as they were known when deciding (a user may be removed later).
    user_email      text NOT NULL,
    -- "resend": the new reminder row.
    resend_reminder_id bigint REFERENCES reminders(id),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attempt_decisions_business_idx ON attempt_decisions (business_id, created_at);

-- ringfence schema, version 14: SMS conversations as a state-table flow
-- (state_tables/reminder_sms) and opt-in as carriers do it.
--
--   sms_conversations        one row per SMS reminder a client has
--                            answered: the reply flow's current state and
--                            sequence number, and whether the one help
--                            text for an unrecognised reply has been sent
--                            (never a second: no loop with an
--                            auto-responder).  Changed in the transaction
--                            that applies the reply's action.
--   sms_events               every transition an inbound text took, in
--                            order, tied to the text (inbound_texts) and,
--                            when it acted on one, to the reminder, its
--                            business and its appointment: the timeline
--                            shows them as it shows a call's keypresses.
--                            A text with no reminder to act on has
--                            reminder_id NULL.
--   clients.opted_in_at      when a client's own START (UNSTOP, YES with
--   clients.opted_in_by      nothing pending, OptOutType=START) cleared a
--                            text opt-out, and from which text (its
--                            MessageSid).  A START never clears an opt-out
--                            the business set on the dashboard
--                            (opted_out_by set).

CREATE TABLE sms_conversations (
    reminder_id     bigint PRIMARY KEY REFERENCES reminders(id) ON DELETE CASCADE,
    business_id     bigint NOT NULL REFERENCES businesses(id),
    state           text NOT NULL CHECK (state ~ '^[a-z][a-z0-9_]{0,63}$'),
    seq             integer NOT NULL DEFAULT 0 CHECK (seq >= 0),
    help_sent       boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sms_events (
    id              bigserial PRIMARY KEY,
    inbound_text_id bigint NOT NULL REFERENCES inbound_texts(id) ON DELETE CASCADE,
    reminder_id     bigint REFERENCES reminders(id) ON DELETE CASCADE,
    business_id     bigint REFERENCES businesses(id),
    appointment_id  bigint,
    seq             integer NOT NULL CHECK (seq >= 1),
    from_state      text NOT NULL,
    input           text NOT NULL CHECK (length(input) <= 64),
    to_state        text NOT NULL,
    action          text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sms_events_appointment_idx ON sms_events (appointment_id, created_at)
    WHERE appointment_id IS NOT NULL;
CREATE INDEX sms_events_text_idx ON sms_events (inbound_text_id);

ALTER TABLE clients ADD COLUMN opted_in_at timestamptz;
ALTER TABLE clients ADD COLUMN opted_in_by text
    CHECK (opted_in_by IS NULL OR length(opted_in_by) BETWEEN 1 AND 254);

-- The reply to a reminder text comes from the phone the text went to; the
-- reminder it answers is found by (to_address, channel) among the sent ones.
CREATE INDEX IF NOT EXISTS contact_attempts_sms_to_idx ON contact_attempts (to_address, created_at)
    WHERE channel = 'sms' AND provider_sid IS NOT NULL;

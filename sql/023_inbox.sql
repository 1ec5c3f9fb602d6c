-- ringfence schema, version 23: the reply inbox (issue 11 part 7).
--
--   inbox_texts              one row per inbound text and the client it
--                            came from: every signed text from a phone
--                            that is a client of the business the SMS flow
--                            answered for (the business texting from the
--                            number it was sent to, src/sms.c).  Keyed by
--                            the text's row (inbound_texts, itself keyed
--                            by Twilio's MessageSid) and the client found
--                            in the database, never by a value of an
--                            unsigned request: a replayed text adds
--                            nothing.  The flow's answer is kept
--                            (flow_state, NULL when the flow failed on
--                            it).  needs_answer: the flow did not act on
--                            it (an unrecognised text, hint or quiet; a
--                            text with nothing pending; free text after a
--                            handled reply; a text the flow failed on).
--                            Keywords it acted on (1, 2, 3, YES, STOP,
--                            START, HELP ...) are kept for the
--                            conversation with needs_answer false.
--   inbox_texts.answered_*   a person marked the client's texts answered,
--                            or replied from the dashboard (answered_how
--                            'marked' or 'replied').
--
-- A staff reply is a reminders row (kind 'reply', sql/017_office.sql),
-- sent by a worker like any other.

CREATE TABLE inbox_texts (
    id              bigserial PRIMARY KEY,
    business_id     bigint NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    client_id       bigint NOT NULL,
    inbound_text_id bigint NOT NULL REFERENCES inbound_texts(id) ON DELETE CASCADE,
    -- The reminder the flow took the text as an answer to, when any.
    reminder_id     bigint REFERENCES reminders(id) ON DELETE SET NULL,
    flow_state      text CHECK (flow_state IS NULL OR flow_state ~ '^[a-z][a-z0-9_]{0,63}$'),
    needs_answer    boolean NOT NULL,
    answered_at     timestamptz,
    answered_by     bigint REFERENCES users(id) ON DELETE SET NULL,
    answered_how    text CHECK (answered_how IS NULL OR answered_how IN ('marked', 'replied')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (client_id, business_id) REFERENCES clients (id, business_id) ON DELETE CASCADE,
    UNIQUE (inbound_text_id, client_id),
    CHECK (needs_answer OR answered_at IS NULL),
    CHECK ((answered_at IS NULL) = (answered_how IS NULL))
);
-- The conversation of one client, in time order.
CREATE INDEX inbox_texts_client_idx ON inbox_texts (client_id, created_at);
-- The inbox: the business's clients with unanswered texts, and the
-- menu's count of them.
CREATE INDEX inbox_texts_open_idx ON inbox_texts (business_id, client_id)
    WHERE needs_answer AND answered_at IS NULL;
CREATE INDEX inbox_texts_business_idx ON inbox_texts (business_id, created_at);

-- ringfence schema, version 13: the texts people send back, kept so that
-- an appointment's timeline can show a client's replies.
--
--   rf_business_sms_from(twilio_from, default_from)
--                            the number a business texts from: its own
--                            twilio_from, or TWILIO_FROM_NUMBER (passed as
--                            default_from, may be NULL) when it has none,
--                            as the worker picks the caller id.  The one
--                            definition that the opt-out of an inbound
--                            STOP and the timeline's replies both use.
--   inbound_texts            one row per signed, validated inbound text,
--                            keyed by Twilio's MessageSid: a replayed
--                            request (same MessageSid) inserts nothing.
--                            opt_keyword is 'stop' for an opt-out keyword
--                            (or OptOutType=STOP), 'start' for an opt-in
--                            one (or OptOutType=START), else NULL.
--
-- Nothing here says which business a text belongs to: a text is from a
-- phone to a number, and a business's replies are the texts from its
-- client's phone to the number it texts from (the index on (from_number,
-- received_at) finds them).

CREATE FUNCTION rf_business_sms_from(twilio_from text, default_from text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(twilio_from, default_from)
$$;

CREATE TABLE inbound_texts (
    id              bigserial PRIMARY KEY,
    message_sid     text NOT NULL UNIQUE CHECK (message_sid ~ '^(SM|MM)[0-9a-f]{32}$'),
    from_number     e164 NOT NULL,
    to_number       e164 NOT NULL,
    body            text NOT NULL DEFAULT '' CHECK (char_length(body) <= 1600),
    opt_keyword     text CHECK (opt_keyword IS NULL OR opt_keyword IN ('stop', 'start')),
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbound_texts_from_idx ON inbound_texts (from_number, received_at);

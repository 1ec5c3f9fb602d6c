-- ringfence schema, version 15: task codes, inbound calls, recorded
-- greetings (DESIGN.md rule 11: caller ID is not authentication).
--
--   task_codes          one-time 6-digit codes a logged-in user (or an
--                       operator) makes for one purpose of one business.
--                       Only an HMAC-SHA256 of the code is kept, keyed by
--                       a server secret (taskcode.h), so reading this table
--                       does not give the codes away.  Single use (used_at,
--                       used_by_call), 15 minutes at most.
--   task_code_attempts  every code a caller entered on an inbound call and
--                       what became of it.  The 'wrong' rows are the
--                       authority of the guess throttles (per caller
--                       number, per called number, overall), counted over
--                       a window as the contact limits count
--                       contact_attempts: Redis is only a pre-check, so
--                       losing it opens nothing.
--   greeting_takes      every recording made on an inbound call after a
--                       valid greeting code; the one a caller kept, and
--                       whose recording Twilio reported completed, becomes
--                       the business's greeting (businesses.greeting_take_id).
--
-- An inbound call has no business until a valid code names one:
-- calls.business_id becomes nullable for inbound calls only.

ALTER TABLE calls ALTER COLUMN business_id DROP NOT NULL;
ALTER TABLE calls
    -- From and To of an inbound call, as Twilio signed them: throttle keys
    -- only, never identity.
    ADD COLUMN caller text CHECK (caller IS NULL OR length(caller) <= 128),
    ADD COLUMN called text CHECK (called IS NULL OR length(called) <= 128),
    ADD CONSTRAINT calls_outbound_has_business
        CHECK (direction = 'inbound' OR business_id IS NOT NULL),
    ADD CONSTRAINT calls_inbound_no_appointment
        CHECK (direction = 'outbound' OR (appointment_id IS NULL AND reminder_id IS NULL));

CREATE TABLE task_codes (
    id              bigserial PRIMARY KEY,
    business_id     bigint NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    purpose         text NOT NULL CHECK (purpose IN ('greeting')),
    code_hash       text NOT NULL CHECK (code_hash ~ '^[0-9a-f]{64}$'),
    -- NULL: made by an operator with `ringfence taskcode create`.
    created_by      bigint REFERENCES users(id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    used_by_call    bigint REFERENCES calls(id) ON DELETE SET NULL,
    -- A newer code for the same business and purpose replaces this one.
    revoked_at      timestamptz,
    CHECK (expires_at > created_at AND expires_at <= created_at + interval '15 minutes'),
    CHECK (used_by_call IS NULL OR used_at IS NOT NULL)
);
-- "is this hash live": at most one unexpired row per hash (taskcode.c
-- checks under an advisory lock when it makes one).
CREATE INDEX task_codes_hash_idx ON task_codes (code_hash, expires_at);
CREATE INDEX task_codes_business_idx ON task_codes (business_id, created_at);

CREATE TABLE task_code_attempts (
    id              bigserial PRIMARY KEY,
    call_id         bigint NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    caller          text NOT NULL CHECK (length(caller) <= 128),
    called          text NOT NULL CHECK (length(called) <= 128),
    outcome         text NOT NULL CHECK (outcome IN ('valid', 'wrong', 'throttled')),
    task_code_id    bigint REFERENCES task_codes(id) ON DELETE SET NULL,
    attempted_at    timestamptz NOT NULL,
    CHECK ((outcome = 'valid') = (task_code_id IS NOT NULL))
);
CREATE INDEX task_code_attempts_caller_idx ON task_code_attempts (caller, attempted_at)
    WHERE outcome = 'wrong';
CREATE INDEX task_code_attempts_called_idx ON task_code_attempts (called, attempted_at)
    WHERE outcome = 'wrong';
CREATE INDEX task_code_attempts_wrong_idx ON task_code_attempts (attempted_at)
    WHERE outcome = 'wrong';
CREATE INDEX task_code_attempts_call_idx ON task_code_attempts (call_id);

CREATE TABLE greeting_takes (
    id              bigserial PRIMARY KEY,
    call_id         bigint NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    business_id     bigint NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    task_code_id    bigint NOT NULL REFERENCES task_codes(id),
    take            integer NOT NULL CHECK (take >= 1 AND take <= 10),
    -- From the signed <Record> action; checked to be a recording of our
    -- own account on the configured Twilio API (taskcode.c).
    recording_sid   text NOT NULL UNIQUE CHECK (recording_sid ~ '^RE[0-9a-f]{32}$'),
    recording_url   text NOT NULL CHECK (length(recording_url) <= 512),
    duration_s      integer CHECK (duration_s IS NULL OR duration_s >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    kept_at         timestamptz,
    -- The signed recording status callback said "completed".
    completed_at    timestamptz,
    -- Replaced by a newer greeting or reverted from the dashboard.
    retired_at      timestamptz,
    retired_by      bigint REFERENCES users(id) ON DELETE SET NULL,
    UNIQUE (call_id, take)
);
CREATE INDEX greeting_takes_business_idx ON greeting_takes (business_id, created_at);

ALTER TABLE businesses
    ADD COLUMN greeting_take_id bigint REFERENCES greeting_takes(id) ON DELETE SET NULL;

-- Makes take p_take the business's greeting once it is both kept and
-- completed, whichever of the two arrives last; retires the one before.
-- Returns whether the greeting changed.
CREATE FUNCTION greeting_promote(p_take bigint, p_now timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t greeting_takes%ROWTYPE;
    old bigint;
BEGIN
    SELECT * INTO t FROM greeting_takes WHERE id = p_take;
    IF NOT FOUND OR t.kept_at IS NULL OR t.completed_at IS NULL OR t.retired_at IS NOT NULL THEN
        RETURN false;
    END IF;
    SELECT greeting_take_id INTO old FROM businesses WHERE id = t.business_id FOR UPDATE;
    IF old IS NOT DISTINCT FROM t.id THEN
        RETURN false;
    END IF;
    UPDATE greeting_takes SET retired_at = p_now WHERE id = old AND retired_at IS NULL;
    UPDATE businesses SET greeting_take_id = t.id WHERE id = t.business_id;
    RETURN true;
END;
$$;

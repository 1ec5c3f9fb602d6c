-- ringfence schema, version 4: outbound reminders that cannot run away.
--
-- Reminder policy per business, calling windows, staleness bounds and the
-- retry policy; one contact attempt per reminder row (a retry is a new
-- reminder row with the next attempt number, so "each reminder is
-- attempted at most once" is a unique key, not a hope); the failsafe's
-- persistent state and historical maxima; per-business API keys.

-- ---- businesses: calling window, limits, retry policy, caller id --------

ALTER TABLE businesses
    ADD COLUMN window_start      time NOT NULL DEFAULT '09:00',
    ADD COLUMN window_end        time NOT NULL DEFAULT '20:00',
    ADD COLUMN hourly_limit      integer CHECK (hourly_limit IS NULL OR hourly_limit BETWEEN 0 AND 100000),
    ADD COLUMN retry_count       integer NOT NULL DEFAULT 1 CHECK (retry_count BETWEEN 0 AND 4),
    ADD COLUMN retry_delay_minutes integer NOT NULL DEFAULT 30 CHECK (retry_delay_minutes BETWEEN 5 AND 1440),
    -- The Twilio number calls and texts come from; NULL: TWILIO_FROM_NUMBER.
    ADD COLUMN twilio_from       e164,
    ADD CONSTRAINT businesses_window_check CHECK (window_start < window_end);

-- ---- clients: numbers Twilio refused for good ---------------------------

ALTER TABLE clients
    -- Twilio error 21211 (invalid 'To'): never dialled again until edited.
    ADD COLUMN phone_invalid_at  timestamptz,
    ADD COLUMN phone_invalid_reason text;

-- ---- reminder policy ----------------------------------------------------

-- One line per (channel, offset): "voice 24 h before", "sms 2 h before".
-- A business without lines uses the default policy (voice 1440, sms 120).
-- stale_after_minutes: how long after its due time a reminder is still
-- worth sending; past that it is skipped_stale, never sent late.
CREATE TABLE reminder_policies (
    id                  bigserial PRIMARY KEY,
    business_id         bigint NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    channel             text NOT NULL CHECK (channel IN ('voice', 'sms', 'email')),
    offset_minutes      integer NOT NULL CHECK (offset_minutes BETWEEN 0 AND 43200),
    stale_after_minutes integer NOT NULL CHECK (stale_after_minutes BETWEEN 5 AND 10080),
    UNIQUE (business_id, channel, offset_minutes)
);

-- ---- reminders: when a reminder stops being worth sending ---------------

ALTER TABLE reminders
    -- due_at + the policy's staleness bound, never after the appointment.
    ADD COLUMN stale_at         timestamptz,
    -- The recipient's address, fixed when the reminder is created.
    ADD COLUMN to_address       text,
    -- Set while a deferred reminder waits (window closed, rate limit).
    ADD COLUMN not_before       timestamptz;
UPDATE reminders r SET stale_at = LEAST(r.due_at + interval '2 hours', a.starts_at)
    FROM appointments a WHERE a.id = r.appointment_id AND r.stale_at IS NULL;
ALTER TABLE reminders ALTER COLUMN stale_at SET NOT NULL;
ALTER TABLE reminders ADD CONSTRAINT reminders_stale_check CHECK (stale_at >= due_at);
CREATE INDEX reminders_pending_due_idx ON reminders (due_at) WHERE status = 'pending';
DROP INDEX reminders_due_idx;

-- ---- contact attempts: at most one per reminder -------------------------

-- Written as 'dialing' by the claim (the same statement that moves the
-- reminder out of 'pending'), then 'placed' with the provider's id,
-- 'failed' with its error, or 'unknown' when the outcome could not be
-- known (timeout, 5xx, a worker that died).  Only the reconciler moves
-- 'unknown' on, to 'placed' or 'not_placed'; it never sends.
CREATE TABLE contact_attempts (
    id                  bigserial PRIMARY KEY,
    reminder_id         bigint NOT NULL UNIQUE REFERENCES reminders(id),
    business_id         bigint NOT NULL REFERENCES businesses(id),
    channel             text NOT NULL CHECK (channel IN ('voice', 'sms', 'email')),
    to_address          text NOT NULL,
    status              text NOT NULL DEFAULT 'dialing'
                        CHECK (status IN ('dialing', 'placed', 'failed', 'unknown', 'not_placed',
                                          'blocked_not_allowed', 'skipped_rate_limited',
                                          'skipped_failsafe')),
    -- Twilio's CallSid / MessageSid, or the email's Message-ID.
    provider_sid        text UNIQUE,
    -- The latest delivery status Twilio reported (status callbacks):
    -- queued ringing in-progress completed busy no-answer failed canceled;
    -- sent delivered undelivered ...
    delivery_status     text,
    delivery_seq        integer,
    error_code          integer,
    error_message       text CHECK (error_message IS NULL OR length(error_message) <= 1000),
    worker              text,
    lease_until         timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    placed_at           timestamptz,
    settled_at          timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_attempts_unknown_idx ON contact_attempts (created_at)
    WHERE status IN ('dialing', 'unknown');
CREATE INDEX contact_attempts_business_idx ON contact_attempts (business_id, created_at);

-- ---- failsafe -------------------------------------------------------------

-- One row: whether sending is stopped, why, since when, and who resumed it.
CREATE TABLE failsafe_state (
    id                  integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    tripped             boolean NOT NULL DEFAULT false,
    reason              text,
    tripped_at          timestamptz,
    tripped_by          text,
    resumed_at          timestamptz,
    resumed_by          text,
    resume_reason       text,
    CHECK (NOT tripped OR (reason IS NOT NULL AND tripped_at IS NOT NULL))
);
INSERT INTO failsafe_state (id) VALUES (1);

-- Every trip and resume, for the audit.
CREATE TABLE failsafe_events (
    id                  bigserial PRIMARY KEY,
    event               text NOT NULL CHECK (event IN ('trip', 'resume')),
    reason              text NOT NULL,
    actor               text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- The largest number of contacts ever sent in one window of each length.
CREATE TABLE failsafe_maxima (
    window_seconds      integer PRIMARY KEY CHECK (window_seconds > 0),
    max_count           integer NOT NULL DEFAULT 0 CHECK (max_count >= 0),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- ---- API keys -------------------------------------------------------------

-- "rf_<prefix>_<secret>": the prefix finds the row, the SHA-256 of the
-- whole key is compared in constant time; the key itself is never stored.
CREATE TABLE api_keys (
    id                  bigserial PRIMARY KEY,
    business_id         bigint NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    prefix              text NOT NULL UNIQUE CHECK (prefix ~ '^[0-9a-f]{12}$'),
    key_sha256          text NOT NULL CHECK (key_sha256 ~ '^[0-9a-f]{64}$'),
    label               text NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    created_at          timestamptz NOT NULL DEFAULT now(),
    revoked_at          timestamptz
);

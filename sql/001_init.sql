-- ringfence schema, version 1: businesses, clients, appointments,
-- reminders, calls (with their current flow state) and call events.
--
-- Constraints make bad rows impossible rather than merely unlikely:
-- phone numbers are E.164, time zones must exist in the tz database, a
-- client's appointment belongs to the client's own business, a reminder is
-- unique per (appointment, channel, offset, attempt), and a call event is
-- unique per (call, sequence number).

CREATE FUNCTION rf_valid_time_zone(tz text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF tz IS NULL OR tz = '' OR length(tz) > 64 THEN
        RETURN false;
    END IF;
    PERFORM now() AT TIME ZONE tz;
    -- Only named zones: offsets such as '+05' or POSIX strings would hide
    -- daylight-saving changes.
    RETURN EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz);
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END;
$$;

CREATE DOMAIN e164 AS text
    CHECK (VALUE ~ '^\+[1-9][0-9]{6,14}$');

CREATE DOMAIN email_address AS text
    CHECK (length(VALUE) <= 254 AND VALUE ~ '^[^@\s<>"]+@[^@\s<>"]+\.[^@\s<>"]+$');

CREATE TABLE businesses (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    time_zone       text NOT NULL CHECK (rf_valid_time_zone(time_zone)),
    callback_phone  e164 NOT NULL,
    status          text NOT NULL DEFAULT 'trial'
                    CHECK (status IN ('trial', 'active', 'suspended')),
    verified        boolean NOT NULL DEFAULT false,
    machine_detection boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE clients (
    id              bigserial PRIMARY KEY,
    business_id     bigint NOT NULL REFERENCES businesses(id) ON DELETE RESTRICT,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    phone           e164,
    email           email_address,
    time_zone       text CHECK (time_zone IS NULL OR rf_valid_time_zone(time_zone)),
    opted_out_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (phone IS NOT NULL OR email IS NOT NULL),
    UNIQUE (id, business_id)
);
CREATE INDEX clients_business_idx ON clients (business_id);
CREATE INDEX clients_phone_idx ON clients (phone);

CREATE TABLE appointments (
    id              bigserial PRIMARY KEY,
    business_id     bigint NOT NULL,
    client_id       bigint NOT NULL,
    starts_at       timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'booked'
                    CHECK (status IN ('booked', 'confirmed', 'cancelled', 'completed')),
    -- Confidential: never reaches TwiML, SMS or email.
    notes           text NOT NULL DEFAULT '' CHECK (length(notes) <= 4000),
    callback_requested_at timestamptz,
    confirmed_at    timestamptz,
    cancelled_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- The client must belong to the same business as the appointment.
    FOREIGN KEY (client_id, business_id) REFERENCES clients (id, business_id),
    UNIQUE (id, business_id),
    CHECK (status <> 'confirmed' OR confirmed_at IS NOT NULL),
    CHECK (status <> 'cancelled' OR cancelled_at IS NOT NULL)
);
CREATE INDEX appointments_business_starts_idx ON appointments (business_id, starts_at);

CREATE TABLE reminders (
    id              bigserial PRIMARY KEY,
    business_id     bigint NOT NULL,
    appointment_id  bigint NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('voice', 'sms', 'email')),
    offset_minutes  integer NOT NULL CHECK (offset_minutes BETWEEN 0 AND 43200),
    attempt         integer NOT NULL DEFAULT 1 CHECK (attempt BETWEEN 1 AND 5),
    due_at          timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'dialing', 'placed', 'completed',
                                      'failed', 'unknown', 'not_placed',
                                      'skipped_stale', 'cancelled',
                                      'blocked_not_allowed', 'skipped')),
    status_reason   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (appointment_id, business_id) REFERENCES appointments (id, business_id),
    UNIQUE (appointment_id, channel, offset_minutes, attempt)
);
CREATE INDEX reminders_due_idx ON reminders (due_at) WHERE status = 'pending';

-- One row per phone call.  token is the unguessable id carried in the
-- webhook URLs ringfence gives Twilio, so the first webhook can find its
-- call before the CallSid is known; call_sid binds on that first webhook.
CREATE TABLE calls (
    id              bigserial PRIMARY KEY,
    token           text NOT NULL UNIQUE CHECK (token ~ '^[0-9a-f]{32}$'),
    call_sid        text UNIQUE CHECK (call_sid ~ '^CA[0-9a-f]{32}$'),
    business_id     bigint NOT NULL REFERENCES businesses(id),
    appointment_id  bigint,
    reminder_id     bigint REFERENCES reminders(id),
    direction       text NOT NULL DEFAULT 'outbound'
                    CHECK (direction IN ('outbound', 'inbound')),
    flow            text NOT NULL CHECK (flow ~ '^[a-z][a-z0-9_]{0,63}$'),
    state           text NOT NULL CHECK (state ~ '^[a-z][a-z0-9_]{0,63}$'),
    seq             integer NOT NULL DEFAULT 0 CHECK (seq >= 0 AND seq <= 1000),
    call_status     text,
    answered_by     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (appointment_id, business_id) REFERENCES appointments (id, business_id)
);
CREATE INDEX calls_business_idx ON calls (business_id, created_at);

-- Every transition a call took, in order.
CREATE TABLE call_events (
    id              bigserial PRIMARY KEY,
    call_id         bigint NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    seq             integer NOT NULL CHECK (seq >= 1),
    from_state      text NOT NULL,
    input           text NOT NULL CHECK (length(input) <= 64),
    to_state        text NOT NULL,
    action          text,
    digits          text CHECK (digits IS NULL OR length(digits) <= 64),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (call_id, seq)
);

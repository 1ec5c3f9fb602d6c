-- ringfence schema, version 8: the JSON API completed.
--
--   clients.do_not_call       the business's "never call this client": no
--                             voice reminder is placed (reminder_block below);
--                             texts and emails are not affected.
--   api_keys.last_used_at     shown on the dashboard's key list; noted at
--                             most once a minute per key.
--   api_idempotency           the Idempotency-Key of POST and PATCH requests:
--                             per (business, key) the SHA-256 of the request
--                             and the first answer, kept 24 hours.

ALTER TABLE clients ADD COLUMN IF NOT EXISTS do_not_call boolean NOT NULL DEFAULT false;

ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
CREATE INDEX api_keys_business_idx ON api_keys (business_id, created_at);

-- The API's client list pages by (name, id) within a business (the
-- appointments' by (starts_at, id) uses appointments_business_starts_idx).
CREATE INDEX clients_business_name_idx ON clients (business_id, name, id);

-- status NULL: the first request with the key is still running (or its
-- process died: then nobody knows whether it changed anything, and the
-- key is refused until the row expires).
CREATE TABLE api_idempotency (
    business_id     bigint NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_sha256  text NOT NULL CHECK (request_sha256 ~ '^[0-9a-f]{64}$'),
    status          integer CHECK (status BETWEEN 100 AND 599),
    body            text,
    location        text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    PRIMARY KEY (business_id, key),
    CHECK ((status IS NULL) = (body IS NULL))
);
CREATE INDEX api_idempotency_created_idx ON api_idempotency (created_at);

-- The eligibility rule of 006 with one more condition: a voice reminder
-- to a client marked "do not call" is ineligible.  Everything else is
-- 006's text, unchanged.
CREATE OR REPLACE FUNCTION reminder_block(p_reminder bigint, p_now timestamptz)
RETURNS TABLE (code text, reason text)
LANGUAGE sql STABLE AS $$
SELECT v.x[1], v.x[2] FROM (SELECT CASE
    WHEN p_now IS NULL THEN ARRAY['ineligible', 'no clock']
    WHEN r.id IS NULL THEN ARRAY['ineligible', 'no such reminder']
    WHEN r.status <> 'pending' THEN ARRAY['ineligible', 'status is ' || r.status]
    WHEN (SELECT f.tripped FROM failsafe_state f WHERE f.id = 1) IS NOT FALSE
        THEN ARRAY['ineligible', 'failsafe tripped']
    WHEN r.due_at > p_now THEN ARRAY['ineligible', 'not due yet']
    WHEN r.stale_at <= p_now THEN ARRAY['ineligible', 'stale']
    WHEN a.id IS NULL OR b.id IS NULL OR cl.id IS NULL
        THEN ARRAY['ineligible', 'appointment, business or client missing']
    WHEN a.status NOT IN ('booked', 'confirmed') THEN ARRAY['ineligible', 'appointment is ' || a.status]
    WHEN a.starts_at <= p_now THEN ARRAY['ineligible', 'appointment is in the past']
    WHEN b.status NOT IN ('active', 'trial') THEN ARRAY['ineligible', 'business ' || b.status]
    WHEN r.to_address IS NULL THEN ARRAY['ineligible', 'no address']
    -- DESIGN rule 13: an unverified business reaches only its own number.
    WHEN (b.verified OR r.to_address = b.callback_phone::text) IS NOT TRUE
        THEN ARRAY['ineligible', 'unverified business: only its own number']
    WHEN cl.opted_out_at IS NOT NULL THEN ARRAY['ineligible', 'recipient opted out']
    -- 008: the business's own "do not call" on a client stops calls (texts
    -- and emails still go, unless the client opted out).
    WHEN r.channel = 'voice' AND cl.do_not_call IS NOT FALSE
        THEN ARRAY['ineligible', 'do not call']
    WHEN r.channel <> 'email' AND cl.phone_invalid_at IS NOT NULL
        THEN ARRAY['ineligible', 'recipient number invalid']
    WHEN EXISTS (SELECT 1 FROM contact_attempts x WHERE x.reminder_id = r.id)
        THEN ARRAY['ineligible', 'already attempted']
    WHEN r.not_before > p_now
        THEN ARRAY['deferred', 'deferred until '
            || to_char(r.not_before AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')]
    WHEN ((p_now AT TIME ZONE COALESCE(cl.time_zone, b.time_zone))::time >= b.window_start
          AND (p_now AT TIME ZONE COALESCE(cl.time_zone, b.time_zone))::time < b.window_end) IS NOT TRUE
        THEN ARRAY['window', 'outside the calling window']
    ELSE ARRAY[NULL, NULL]::text[] END AS x
  FROM (SELECT 1) one
  LEFT JOIN reminders r ON r.id = p_reminder
  LEFT JOIN appointments a ON a.id = r.appointment_id AND a.business_id = r.business_id
  LEFT JOIN businesses b ON b.id = r.business_id
  LEFT JOIN clients cl ON cl.id = a.client_id) v
$$;

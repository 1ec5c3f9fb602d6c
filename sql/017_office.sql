-- ringfence schema, version 17: what issue 11 (calendar feeds, booking
-- confirmations, the office told, one switch, a reply inbox) shares.
--
--   businesses.country        ISO 3166 alpha-2; the default country of
--                             national numbers found in calendar events
--                             (NULL: only international numbers are taken).
--                             Set here from callback_phone where the
--                             calling code names one country.
--   businesses.auto_confirm_clients
--                             clients proposed from calendar events are
--                             confirmed at once (the business chose it,
--                             knowingly: recorded in business_events).
--   businesses.paused_*       the "automatic messages" switch: paused_at
--                             set = off.  Every reminder of the business
--                             is held (reminder_block); one still held
--                             past its stale time becomes skipped_stale,
--                             never sent late.  Who and why: paused_by,
--                             paused_reason and business_events.
--   businesses.booking_*      booking confirmations: a message on
--                             booking_channel ('sms' or 'email'; NULL =
--                             off) booking_delay_minutes after an
--                             appointment is booked.
--   business_events.event     adds messages_off, messages_on,
--                             auto_confirm_on, auto_confirm_off.
--   clients.proposed_*        a client the calendar sync proposed from
--                             free text, and what it was found in.
--   clients.confirmed_*       a person (or auto_confirm_clients) confirmed
--                             a proposed client.  A proposed, unconfirmed
--                             client is never contacted (reminder_block).
--   appointments.reschedule_* a client asked to reschedule (keypad 4,
--                             SMS 4); _done_* when the office handled it.
--   reminders.kind            adds 'booking' (the booking confirmation)
--                             and 'reply' (a staff reply from the inbox,
--                             its text in reminders.body).  Both are sent
--                             once (attempt 5, like test and resend).
--   calendar_feeds            a business's iCalendar addresses and each
--                             one's polling state.
--   calendar_events           one row per (feed, UID, RECURRENCE-ID): the
--                             appointment it maps to, or why it has none.
--   calendar_holds            a sync that would change too much at once,
--                             held for a person's decision, with a preview.
--   office_notifications      what the office is told: confirmations,
--                             cancellations, call-back and reschedule
--                             requests, unreached clients, inbox texts.
--   users.notify_*            how each user wants to be told by email.
--   reminder_block            (replaced) the switch and the unconfirmed
--                             client; a reply is not held by the
--                             appointment's status or time.

ALTER TABLE businesses
    ADD COLUMN country text CHECK (country IS NULL OR country ~ '^[A-Z]{2}$'),
    ADD COLUMN auto_confirm_clients boolean NOT NULL DEFAULT false,
    ADD COLUMN paused_at timestamptz,
    ADD COLUMN paused_by text CHECK (paused_by IS NULL OR length(paused_by) BETWEEN 1 AND 254),
    ADD COLUMN paused_reason text
        CHECK (paused_reason IS NULL OR length(paused_reason) BETWEEN 1 AND 1000),
    ADD COLUMN booking_channel text CHECK (booking_channel IS NULL OR booking_channel IN ('sms', 'email')),
    ADD COLUMN booking_delay_minutes integer NOT NULL DEFAULT 5
        CHECK (booking_delay_minutes BETWEEN 0 AND 1440),
    ADD CONSTRAINT businesses_paused_check
        CHECK ((paused_at IS NULL) = (paused_by IS NULL) AND (paused_at IS NULL) = (paused_reason IS NULL));
UPDATE businesses SET country = CASE
    WHEN callback_phone::text LIKE '+1%' THEN 'US'
    WHEN callback_phone::text LIKE '+44%' THEN 'GB'
    WHEN callback_phone::text LIKE '+49%' THEN 'DE'
    WHEN callback_phone::text LIKE '+33%' THEN 'FR'
    WHEN callback_phone::text LIKE '+61%' THEN 'AU'
    WHEN callback_phone::text LIKE '+353%' THEN 'IE'
    WHEN callback_phone::text LIKE '+64%' THEN 'NZ'
    END;

ALTER TABLE business_events DROP CONSTRAINT business_events_event_check;
ALTER TABLE business_events ADD CONSTRAINT business_events_event_check
    CHECK (event IN ('verify', 'unverify', 'hold', 'resume', 'messages_off', 'messages_on',
                     'auto_confirm_on', 'auto_confirm_off'));

ALTER TABLE clients
    ADD COLUMN proposed_at timestamptz,
    ADD COLUMN proposed_from text
        CHECK (proposed_from IS NULL OR length(proposed_from) BETWEEN 1 AND 500),
    ADD COLUMN confirmed_at timestamptz,
    ADD COLUMN confirmed_by text CHECK (confirmed_by IS NULL OR length(confirmed_by) BETWEEN 1 AND 254),
    ADD CONSTRAINT clients_proposed_check
        CHECK ((proposed_at IS NULL) = (proposed_from IS NULL)
               AND (confirmed_at IS NULL OR proposed_at IS NOT NULL)
               AND (confirmed_at IS NULL) = (confirmed_by IS NULL));
CREATE INDEX clients_unconfirmed_idx ON clients (business_id, proposed_at)
    WHERE proposed_at IS NOT NULL AND confirmed_at IS NULL;

ALTER TABLE appointments
    ADD COLUMN reschedule_requested_at timestamptz,
    ADD COLUMN reschedule_done_at timestamptz,
    ADD COLUMN reschedule_done_by bigint REFERENCES users(id) ON DELETE SET NULL;
CREATE INDEX appointments_reschedule_idx ON appointments (business_id, reschedule_requested_at)
    WHERE reschedule_requested_at IS NOT NULL;

ALTER TABLE reminders DROP CONSTRAINT reminders_kind_check;
ALTER TABLE reminders ADD CONSTRAINT reminders_kind_check
    CHECK (kind IN ('plan', 'test', 'resend', 'booking', 'reply'));
ALTER TABLE reminders
    ADD COLUMN body text,
    ADD CONSTRAINT reminders_body_check
        CHECK ((kind = 'reply') = (body IS NOT NULL) AND char_length(body) BETWEEN 1 AND 1600),
    ADD CONSTRAINT reminders_kind_channel_check
        CHECK (kind NOT IN ('booking', 'reply') OR channel <> 'voice'
               AND (kind <> 'reply' OR channel = 'sms'));
-- One booking confirmation per appointment, whatever became of it.
CREATE UNIQUE INDEX reminders_booking_key ON reminders (appointment_id) WHERE kind = 'booking';
CREATE INDEX reminders_reply_idx ON reminders (appointment_id, created_at) WHERE kind = 'reply';

CREATE TABLE calendar_feeds (
    id              bigserial PRIMARY KEY,
    business_id     bigint NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    -- A secret (whoever has it reads the calendar): shown masked
    -- (calfetch_mask_url), never logged or audited in full.
    url             text NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    enabled         boolean NOT NULL DEFAULT true,
    created_by      text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 254),
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Conditional GET.
    etag            text CHECK (etag IS NULL OR length(etag) <= 255),
    last_modified   text CHECK (last_modified IS NULL OR length(last_modified) <= 63),
    -- The SHA-256 of the last body applied (a 200 with the same body is
    -- a no-op).
    content_sha256  text CHECK (content_sha256 IS NULL OR content_sha256 ~ '^[0-9a-f]{64}$'),
    next_poll_at    timestamptz NOT NULL DEFAULT now(),
    last_polled_at  timestamptz,
    last_ok_at      timestamptz,
    -- ok, not_modified, failed (last_error says why), held (an open
    -- calendar_holds row).
    last_status     text CHECK (last_status IS NULL
                        OR last_status IN ('ok', 'not_modified', 'failed', 'held')),
    last_error      text CHECK (last_error IS NULL OR length(last_error) <= 500),
    failures        integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    events_in_feed  integer CHECK (events_in_feed IS NULL OR events_in_feed >= 0),
    UNIQUE (business_id, url),
    UNIQUE (id, business_id)
);
CREATE INDEX calendar_feeds_poll_idx ON calendar_feeds (next_poll_at) WHERE enabled;

CREATE TABLE calendar_events (
    id              bigserial PRIMARY KEY,
    feed_id         bigint NOT NULL,
    business_id     bigint NOT NULL,
    uid             text NOT NULL CHECK (length(uid) BETWEEN 1 AND 1000),
    -- '' for a single event; else the occurrence's original start, UTC,
    -- 'YYYYMMDDTHHMMSSZ'.
    recurrence_id   text NOT NULL DEFAULT '' CHECK (recurrence_id ~ '^([0-9]{8}T[0-9]{6}Z)?$'),
    summary         text NOT NULL DEFAULT '' CHECK (length(summary) <= 1000),
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz,
    -- active: maps to appointment_id; cancelled: STATUS:CANCELLED;
    -- gone: no longer in the feed; no_contact: no client could be found
    -- (contact says why).
    state           text NOT NULL CHECK (state IN ('active', 'cancelled', 'gone', 'no_contact')),
    appointment_id  bigint,
    client_id       bigint,
    -- How the client was found ("phone +15550100123 in the description"),
    -- or why none was.
    contact         text NOT NULL DEFAULT '' CHECK (length(contact) <= 500),
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (feed_id, business_id) REFERENCES calendar_feeds (id, business_id) ON DELETE CASCADE,
    FOREIGN KEY (appointment_id, business_id) REFERENCES appointments (id, business_id),
    FOREIGN KEY (client_id, business_id) REFERENCES clients (id, business_id),
    UNIQUE (feed_id, uid, recurrence_id),
    CHECK (state <> 'active' OR appointment_id IS NOT NULL)
);
CREATE INDEX calendar_events_business_idx ON calendar_events (business_id, state, starts_at);
CREATE UNIQUE INDEX calendar_events_appointment_idx ON calendar_events (appointment_id)
    WHERE appointment_id IS NOT NULL;

CREATE TABLE calendar_holds (
    id              bigserial PRIMARY KEY,
    business_id     bigint NOT NULL,
    feed_id         bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- "would change 540 reminders at once (limit 60: 3 x the largest day, 20)".
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    creates         integer NOT NULL CHECK (creates >= 0),
    reschedules     integer NOT NULL CHECK (reschedules >= 0),
    cancels         integer NOT NULL CHECK (cancels >= 0),
    threshold       integer NOT NULL CHECK (threshold >= 0),
    -- The feed body the preview was computed from: an approval applies
    -- that content only (a feed that changed since is evaluated afresh).
    content_sha256  text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    -- Up to 200 changes: [{"action": "create"|"reschedule"|"cancel",
    -- "summary": ..., "client": ..., "from": rfc3339|null, "to": rfc3339|null}].
    preview         jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(preview) = 'array'),
    -- approved: the next sync applies that content; rejected: the feed is
    -- turned off (enabled = false) and nothing is applied.
    decision        text CHECK (decision IS NULL OR decision IN ('approved', 'rejected')),
    decided_at      timestamptz,
    decided_by      text CHECK (decided_by IS NULL OR length(decided_by) BETWEEN 1 AND 254),
    applied_at      timestamptz,
    FOREIGN KEY (feed_id, business_id) REFERENCES calendar_feeds (id, business_id) ON DELETE CASCADE,
    CHECK ((decision IS NULL) = (decided_at IS NULL) AND (decision IS NULL) = (decided_by IS NULL))
);
-- At most one undecided or approved-but-unapplied hold per feed.
CREATE UNIQUE INDEX calendar_holds_open_idx ON calendar_holds (feed_id)
    WHERE applied_at IS NULL AND (decision IS NULL OR decision = 'approved');
CREATE INDEX calendar_holds_business_idx ON calendar_holds (business_id, created_at);

CREATE TABLE office_notifications (
    id              bigserial PRIMARY KEY,
    business_id     bigint NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('confirmed', 'cancelled', 'callback', 'reschedule',
                                                  'unreached', 'inbox')),
    appointment_id  bigint,
    client_id       bigint,
    -- One line for a person; never the appointment's notes.
    detail          text NOT NULL DEFAULT '' CHECK (length(detail) <= 500),
    created_at      timestamptz NOT NULL DEFAULT now(),
    seen_at         timestamptz,
    seen_by         bigint REFERENCES users(id) ON DELETE SET NULL,
    FOREIGN KEY (appointment_id, business_id) REFERENCES appointments (id, business_id),
    FOREIGN KEY (client_id, business_id) REFERENCES clients (id, business_id)
);
CREATE INDEX office_notifications_business_idx ON office_notifications (business_id, id);

ALTER TABLE users
    ADD COLUMN notify_mode text NOT NULL DEFAULT 'off'
        CHECK (notify_mode IN ('off', 'immediate', 'digest')),
    ADD COLUMN notify_digest_hour smallint NOT NULL DEFAULT 8 CHECK (notify_digest_hour BETWEEN 0 AND 23);

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
    -- 017: a staff reply answers a client's text, whatever became of the
    -- appointment it hangs on.
    WHEN r.kind <> 'reply' AND a.status NOT IN ('booked', 'confirmed')
        THEN ARRAY['ineligible', 'appointment is ' || a.status]
    WHEN r.kind <> 'reply' AND a.starts_at <= p_now
        THEN ARRAY['ineligible', 'appointment is in the past']
    WHEN b.status NOT IN ('active', 'trial') THEN ARRAY['ineligible', 'business ' || b.status]
    -- 017: the business's "automatic messages" switch is off.  A staff
    -- reply from the inbox is not automatic: it still goes.
    WHEN b.paused_at IS NOT NULL AND r.kind <> 'reply'
        THEN ARRAY['ineligible', 'automatic messages are off']
    -- 016: the new business's own failsafe holds its outbound alone.
    WHEN (SELECT h.reason FROM business_holds h WHERE h.business_id = b.id) IS NOT NULL
        THEN ARRAY['ineligible', 'held by the failsafe: '
            || (SELECT h.reason FROM business_holds h WHERE h.business_id = b.id)]
    WHEN r.to_address IS NULL THEN ARRAY['ineligible', 'no address']
    -- DESIGN rule 13: an unverified business reaches only its own number.
    WHEN (b.verified OR r.to_address = b.callback_phone::text) IS NOT TRUE
        THEN ARRAY['ineligible', 'unverified business: only its own number']
    WHEN cl.opted_out_at IS NOT NULL THEN ARRAY['ineligible', 'recipient opted out']
    -- 017: a client proposed from free text (a calendar event) is not
    -- contacted until a person confirms it: a mistyped number calls a
    -- stranger.
    WHEN cl.proposed_at IS NOT NULL AND cl.confirmed_at IS NULL
        THEN ARRAY['ineligible', 'client not confirmed (proposed from a calendar event)']
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
    -- 016: a test reminder only in business hours of the recipient's zone.
    WHEN r.kind = 'test' AND rf_business_hours(p_now, COALESCE(cl.time_zone, b.time_zone)) IS NOT TRUE
        THEN ARRAY['window', 'test reminder outside business hours (09:00-18:00)']
    ELSE ARRAY[NULL, NULL]::text[] END AS x
  FROM (SELECT 1) one
  LEFT JOIN reminders r ON r.id = p_reminder
  LEFT JOIN appointments a ON a.id = r.appointment_id AND a.business_id = r.business_id
  LEFT JOIN businesses b ON b.id = r.business_id
  LEFT JOIN clients cl ON cl.id = a.client_id) v
$$;

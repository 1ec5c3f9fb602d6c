-- The local Twilio simulator (`ringfence-sim twilio-sim`): its calls,
-- messages, transcripts, scripted callees and opt-outs, in a schema of
-- their own so that nothing of the product's tables can be mistaken for
-- them.  This is the simulator's own migration set, applied by
-- bin/ringfence-sim (at start, or `ringfence-sim migrate`) and recorded in
-- twilio_sim.schema_migrations; the migrator creates the schema.
--
-- Until the simulator had its own set, this file was the product's
-- sql/002_twilio_sim.sql.  A database that ran it then already has every
-- object below, so each statement here tolerates an existing one (IF NOT
-- EXISTS, OR REPLACE): the first run adopts the schema and records 001.
--
-- Everything the simulator knows lives here, so a restarted simulator
-- carries on where it stopped.  The JSON of a call or a message is built
-- here, in one place, with Twilio's field names and RFC 2822 dates.

-- "Tue, 24 Nov 2026 14:31:20 +0000", as Twilio writes dates; NULL stays NULL.
CREATE OR REPLACE FUNCTION twilio_sim.rfc2822(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS') || ' +0000'
$$;

CREATE TABLE IF NOT EXISTS twilio_sim.calls (
    sid                 text PRIMARY KEY CHECK (sid ~ '^CA[0-9a-f]{32}$'),
    account_sid         text NOT NULL CHECK (account_sid ~ '^AC[0-9a-fA-F]{32}$'),
    to_number           text NOT NULL,
    from_number         text NOT NULL,
    status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'ringing', 'in-progress', 'completed',
                                          'busy', 'failed', 'no-answer', 'canceled')),
    direction           text NOT NULL DEFAULT 'outbound-api'
                        CHECK (direction IN ('inbound', 'outbound-api', 'outbound-dial')),
    answered_by         text,
    url                 text,
    method              text NOT NULL DEFAULT 'POST' CHECK (method IN ('GET', 'POST')),
    twiml               text,
    status_callback     text,
    status_callback_method text NOT NULL DEFAULT 'POST'
                        CHECK (status_callback_method IN ('GET', 'POST')),
    status_events       integer NOT NULL DEFAULT 0 CHECK (status_events BETWEEN 0 AND 15),
    machine_detection   text CHECK (machine_detection IN ('Enable', 'DetectMessageEnd')),
    timeout_s           integer NOT NULL DEFAULT 60 CHECK (timeout_s BETWEEN 1 AND 600),
    time_limit_s        integer NOT NULL DEFAULT 14400 CHECK (time_limit_s BETWEEN 1 AND 14400),
    date_created        timestamptz NOT NULL DEFAULT now(),
    date_updated        timestamptz NOT NULL DEFAULT now(),
    start_time          timestamptz,
    end_time            timestamptz,
    duration            integer CHECK (duration >= 0),
    error_code          integer,
    error_message       text,
    driver_pid          integer,     -- the driver's child playing the call
    CHECK ((url IS NULL) <> (twiml IS NULL))
);

CREATE INDEX IF NOT EXISTS calls_queued ON twilio_sim.calls (date_created) WHERE status = 'queued';
CREATE INDEX IF NOT EXISTS calls_created ON twilio_sim.calls (date_created DESC, sid DESC);
CREATE INDEX IF NOT EXISTS calls_to ON twilio_sim.calls (to_number, date_created DESC);

CREATE TABLE IF NOT EXISTS twilio_sim.messages (
    sid                 text PRIMARY KEY CHECK (sid ~ '^SM[0-9a-f]{32}$'),
    account_sid         text NOT NULL CHECK (account_sid ~ '^AC[0-9a-fA-F]{32}$'),
    to_number           text NOT NULL,
    from_number         text NOT NULL,
    body                text NOT NULL,
    direction           text NOT NULL DEFAULT 'outbound-api'
                        CHECK (direction IN ('inbound', 'outbound-api', 'outbound-call',
                                             'outbound-reply')),
    status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'delivered',
                                          'undelivered', 'receiving', 'received', 'accepted',
                                          'scheduled', 'read', 'partially_delivered',
                                          'canceled')),
    status_callback     text,
    num_segments        integer NOT NULL DEFAULT 1 CHECK (num_segments >= 1),
    date_created        timestamptz NOT NULL DEFAULT now(),
    date_updated        timestamptz NOT NULL DEFAULT now(),
    date_sent           timestamptz,
    error_code          integer,
    error_message       text,
    driver_pid          integer
);

CREATE INDEX IF NOT EXISTS messages_queued ON twilio_sim.messages (date_created) WHERE status = 'queued';
CREATE INDEX IF NOT EXISTS messages_created ON twilio_sim.messages (date_created DESC, sid DESC);

-- Transcript lines of a call (CA...) or a message (SM...), in order.
CREATE TABLE IF NOT EXISTS twilio_sim.events (
    id                  bigserial PRIMARY KEY,
    sid                 text NOT NULL CHECK (sid ~ '^(CA|SM)[0-9a-f]{32}$'),
    at_ms               bigint NOT NULL DEFAULT 0,
    kind                text NOT NULL CHECK (kind ~ '^[a-z_-]{1,24}$'),
    text                text NOT NULL DEFAULT '',
    detail              text NOT NULL DEFAULT '',
    code                integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS events_sid ON twilio_sim.events (sid, id);

-- Who answers a number, as a sim_callee behaviour line.
CREATE TABLE IF NOT EXISTS twilio_sim.callees (
    number              text PRIMARY KEY CHECK (number ~ '^\+[1-9][0-9]{6,14}$'),
    behaviour           text NOT NULL CHECK (length(behaviour) BETWEEN 1 AND 24576),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- A number that replied STOP (or the like) to a sender: sends from that
-- sender to it fail with 21610 until it replies START.
CREATE TABLE IF NOT EXISTS twilio_sim.opt_outs (
    number              text NOT NULL,
    sender              text NOT NULL,
    keyword             text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (number, sender)
);

CREATE OR REPLACE FUNCTION twilio_sim.call_json(c twilio_sim.calls) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'sid', c.sid,
        'date_created', twilio_sim.rfc2822(c.date_created),
        'date_updated', twilio_sim.rfc2822(c.date_updated),
        'parent_call_sid', NULL,
        'account_sid', c.account_sid,
        'to', c.to_number,
        'to_formatted', c.to_number,
        'from', c.from_number,
        'from_formatted', c.from_number,
        'phone_number_sid', NULL,
        'status', c.status,
        'start_time', twilio_sim.rfc2822(c.start_time),
        'end_time', twilio_sim.rfc2822(c.end_time),
        'duration', c.duration::text,
        'price', NULL,
        'price_unit', 'USD',
        'direction', c.direction,
        'answered_by', c.answered_by,
        'api_version', '2010-04-01',
        'forwarded_from', NULL,
        'group_sid', NULL,
        'caller_name', NULL,
        'queue_time', '0',
        'trunk_sid', NULL,
        'uri', '/2010-04-01/Accounts/' || c.account_sid || '/Calls/' || c.sid || '.json',
        'subresource_uris', jsonb_build_object(
            'notifications', '/2010-04-01/Accounts/' || c.account_sid || '/Calls/' || c.sid || '/Notifications.json',
            'recordings', '/2010-04-01/Accounts/' || c.account_sid || '/Calls/' || c.sid || '/Recordings.json',
            'events', '/2010-04-01/Accounts/' || c.account_sid || '/Calls/' || c.sid || '/Events.json'))
$$;

CREATE OR REPLACE FUNCTION twilio_sim.message_json(m twilio_sim.messages) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'sid', m.sid,
        'account_sid', m.account_sid,
        'api_version', '2010-04-01',
        'body', m.body,
        'date_created', twilio_sim.rfc2822(m.date_created),
        'date_updated', twilio_sim.rfc2822(m.date_updated),
        'date_sent', twilio_sim.rfc2822(m.date_sent),
        'direction', m.direction,
        'error_code', m.error_code,
        'error_message', m.error_message,
        'from', m.from_number,
        'to', m.to_number,
        'messaging_service_sid', NULL,
        'num_media', '0',
        'num_segments', m.num_segments::text,
        'price', NULL,
        'price_unit', 'USD',
        'status', m.status,
        'uri', '/2010-04-01/Accounts/' || m.account_sid || '/Messages/' || m.sid || '.json',
        'subresource_uris', jsonb_build_object(
            'media', '/2010-04-01/Accounts/' || m.account_sid || '/Messages/' || m.sid || '/Media.json'))
$$;

-- New work wakes the driver at once (it also polls, so a lost
-- notification only delays it).
CREATE OR REPLACE FUNCTION twilio_sim.notify_driver() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('twilio_sim', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER calls_notify AFTER INSERT ON twilio_sim.calls
    FOR EACH ROW EXECUTE FUNCTION twilio_sim.notify_driver();
CREATE OR REPLACE TRIGGER messages_notify AFTER INSERT ON twilio_sim.messages
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION twilio_sim.notify_driver();

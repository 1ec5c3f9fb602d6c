-- The simulated account and its phone numbers (IncomingPhoneNumbers).
--
-- The account is the one TWILIO_ACCOUNT_SID names; its row is made on
-- first use, so that its status (active, suspended, closed: POST
-- Accounts/{Sid}.json) and friendly name persist like Twilio's.  A number
-- belongs to the account once it is bought (POST IncomingPhoneNumbers.json
-- with PhoneNumber) or seeded at the simulator's start (TWILIO_FROM_NUMBER,
-- its webhooks pointed at RINGFENCE_PUBLIC_URL).  Its webhook URLs and
-- methods are what `ringfence doctor` reads back.  A URL never set is ''
-- in the table and null in the JSON (the OpenAPI description's uri
-- members are nullable; an empty string is no URI).

CREATE TABLE twilio_sim.accounts (
    sid                 text PRIMARY KEY CHECK (sid ~ '^AC[0-9a-fA-F]{32}$'),
    friendly_name       text NOT NULL CHECK (length(friendly_name) BETWEEN 1 AND 64),
    status              text NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'suspended', 'closed')),
    type                text NOT NULL DEFAULT 'Full' CHECK (type IN ('Trial', 'Full')),
    date_created        timestamptz NOT NULL DEFAULT now(),
    date_updated        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE twilio_sim.incoming_numbers (
    sid                     text PRIMARY KEY CHECK (sid ~ '^PN[0-9a-f]{32}$'),
    account_sid             text NOT NULL CHECK (account_sid ~ '^AC[0-9a-fA-F]{32}$'),
    phone_number            text NOT NULL UNIQUE CHECK (phone_number ~ '^\+[1-9][0-9]{1,14}$'),
    friendly_name           text NOT NULL CHECK (length(friendly_name) BETWEEN 1 AND 64),
    voice_url               text NOT NULL DEFAULT '' CHECK (length(voice_url) <= 4000),
    voice_method            text NOT NULL DEFAULT 'POST' CHECK (voice_method IN ('GET', 'POST')),
    voice_fallback_url      text NOT NULL DEFAULT '' CHECK (length(voice_fallback_url) <= 4000),
    voice_fallback_method   text NOT NULL DEFAULT 'POST'
                            CHECK (voice_fallback_method IN ('GET', 'POST')),
    sms_url                 text NOT NULL DEFAULT '' CHECK (length(sms_url) <= 4000),
    sms_method              text NOT NULL DEFAULT 'POST' CHECK (sms_method IN ('GET', 'POST')),
    sms_fallback_url        text NOT NULL DEFAULT '' CHECK (length(sms_fallback_url) <= 4000),
    sms_fallback_method     text NOT NULL DEFAULT 'POST'
                            CHECK (sms_fallback_method IN ('GET', 'POST')),
    status_callback         text NOT NULL DEFAULT '' CHECK (length(status_callback) <= 4000),
    status_callback_method  text NOT NULL DEFAULT 'POST'
                            CHECK (status_callback_method IN ('GET', 'POST')),
    date_created            timestamptz NOT NULL DEFAULT now(),
    date_updated            timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX incoming_numbers_account ON twilio_sim.incoming_numbers (account_sid, sid);

CREATE FUNCTION twilio_sim.account_json(a twilio_sim.accounts, token text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'sid', a.sid,
        'owner_account_sid', a.sid,
        'friendly_name', a.friendly_name,
        'status', a.status,
        'type', a.type,
        'auth_token', token,
        'date_created', twilio_sim.rfc2822(a.date_created),
        'date_updated', twilio_sim.rfc2822(a.date_updated),
        'uri', '/2010-04-01/Accounts/' || a.sid || '.json',
        'subresource_uris', jsonb_build_object(
            'calls', '/2010-04-01/Accounts/' || a.sid || '/Calls.json',
            'messages', '/2010-04-01/Accounts/' || a.sid || '/Messages.json',
            'recordings', '/2010-04-01/Accounts/' || a.sid || '/Recordings.json',
            'incoming_phone_numbers', '/2010-04-01/Accounts/' || a.sid || '/IncomingPhoneNumbers.json'))
$$;

CREATE OR REPLACE FUNCTION twilio_sim.incoming_number_json(n twilio_sim.incoming_numbers) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'sid', n.sid,
        'account_sid', n.account_sid,
        'phone_number', n.phone_number,
        'friendly_name', n.friendly_name,
        'api_version', '2010-04-01',
        'beta', false,
        'capabilities', jsonb_build_object('voice', true, 'sms', true, 'mms', true, 'fax', false),
        'voice_url', NULLIF(n.voice_url, ''),
        'voice_method', n.voice_method,
        'voice_fallback_url', NULLIF(n.voice_fallback_url, ''),
        'voice_fallback_method', n.voice_fallback_method,
        'voice_caller_id_lookup', false,
        'voice_application_sid', NULL,
        'voice_receive_mode', 'voice',
        'sms_url', NULLIF(n.sms_url, ''),
        'sms_method', n.sms_method,
        'sms_fallback_url', NULLIF(n.sms_fallback_url, ''),
        'sms_fallback_method', n.sms_fallback_method,
        'sms_application_sid', NULL,
        'status_callback', NULLIF(n.status_callback, ''),
        'status_callback_method', n.status_callback_method,
        'address_requirements', 'none',
        'address_sid', NULL,
        'identity_sid', NULL,
        'bundle_sid', NULL,
        'trunk_sid', NULL,
        'emergency_status', 'Inactive',
        'emergency_address_sid', NULL,
        'emergency_address_status', 'unregistered',
        'origin', 'twilio',
        'status', 'in-use',
        'type', 'local',
        'date_created', twilio_sim.rfc2822(n.date_created),
        'date_updated', twilio_sim.rfc2822(n.date_updated),
        'uri', '/2010-04-01/Accounts/' || n.account_sid || '/IncomingPhoneNumbers/' || n.sid || '.json')
$$;

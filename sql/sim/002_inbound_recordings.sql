-- Inbound calls and <Record> recordings in the local Twilio simulator.
--
-- An inbound call is a row of twilio_sim.calls with direction 'inbound':
-- its url is the voice URL of the number called, and the person calling
-- is the behaviour line in caller_behaviour (the driver plays it instead
-- of the callee of the To number).  A recording is what a <Record> kept;
-- its audio is generated when it is fetched, from its duration and the
-- words the caller "spoke" (speech, written into the WAV file's comment
-- so that a later <Play> of the recording is heard as those words).

ALTER TABLE twilio_sim.calls ADD COLUMN caller_behaviour text
    CHECK (caller_behaviour IS NULL OR length(caller_behaviour) BETWEEN 1 AND 24576);
ALTER TABLE twilio_sim.calls ADD CONSTRAINT calls_inbound_caller
    CHECK ((direction = 'inbound') = (caller_behaviour IS NOT NULL));

CREATE TABLE twilio_sim.recordings (
    sid                 text PRIMARY KEY CHECK (sid ~ '^RE[0-9a-f]{32}$'),
    account_sid         text NOT NULL CHECK (account_sid ~ '^AC[0-9a-fA-F]{32}$'),
    call_sid            text NOT NULL REFERENCES twilio_sim.calls (sid),
    duration            integer NOT NULL CHECK (duration BETWEEN 0 AND 14400),
    speech              text NOT NULL DEFAULT '' CHECK (length(speech) <= 256),
    status              text NOT NULL DEFAULT 'completed'
                        CHECK (status IN ('completed', 'absent')),
    start_time          timestamptz NOT NULL,
    date_created        timestamptz NOT NULL DEFAULT now(),
    date_updated        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX recordings_created ON twilio_sim.recordings (date_created DESC, sid DESC);
CREATE INDEX recordings_call ON twilio_sim.recordings (call_sid);

CREATE FUNCTION twilio_sim.recording_json(r twilio_sim.recordings) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'account_sid', r.account_sid,
        'api_version', '2010-04-01',
        'call_sid', r.call_sid,
        'conference_sid', NULL,
        'date_created', twilio_sim.rfc2822(r.date_created),
        'date_updated', twilio_sim.rfc2822(r.date_updated),
        'start_time', twilio_sim.rfc2822(r.start_time),
        'duration', r.duration::text,
        'sid', r.sid,
        'price', NULL,
        'price_unit', 'USD',
        'status', r.status,
        'channels', 1,
        'source', 'RecordVerb',
        'error_code', NULL,
        'track', 'both',
        'encryption_details', NULL,
        'media_url', NULL,
        'uri', '/2010-04-01/Accounts/' || r.account_sid || '/Recordings/' || r.sid || '.json',
        'subresource_uris', jsonb_build_object(
            'add_on_results', '/2010-04-01/Accounts/' || r.account_sid || '/Recordings/' || r.sid || '/AddOnResults.json',
            'transcriptions', '/2010-04-01/Accounts/' || r.account_sid || '/Recordings/' || r.sid || '/Transcriptions.json'))
$$;

-- A call's FallbackUrl and FallbackMethod (Calls.json): the URL the
-- simulator requests, with ErrorCode and ErrorUrl added, when it cannot
-- fetch or parse the TwiML of the call's Url, an action or a Redirect.
-- Status callbacks have no fallback.

ALTER TABLE twilio_sim.calls ADD COLUMN fallback_url text
    CHECK (fallback_url IS NULL OR fallback_url ~ '^https?://');
ALTER TABLE twilio_sim.calls ADD COLUMN fallback_method text NOT NULL DEFAULT 'POST'
    CHECK (fallback_method IN ('GET', 'POST'));

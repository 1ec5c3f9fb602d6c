-- ringfence schema, version 6: the contact limits decided in PostgreSQL.
--
-- The sliding windows of the contact limits lived only in Redis, which
-- keeps nothing across a restart, a flush or a failover: each new Redis
-- lifetime opened every window again.  Here contact_attempts is the
-- authority (DESIGN.md rules 3, 6, 7):
--
--   reminder_block(id, now)   the eligibility rule, written once: may this
--                             reminder be sent now, and if not, why.  Used
--                             by the scheduler's due query, the claim and
--                             the worker's explanation of a dropped id.
--   reminder_claim(...)       the claim, one statement: locks the reminder,
--                             checks eligibility, serialises on the
--                             recipient, counts the limits and either
--                             writes the attempt 'dialing', defers the
--                             reminder or skips it.
--
-- "now" is always a parameter (RINGFENCE_NOW in tests), never now().

-- ---- contact_attempts: the claim's clock and the normalised recipient ------

ALTER TABLE contact_attempts
    -- The claim's clock: the limits and the failsafe windows count on it.
    ADD COLUMN claimed_at timestamptz,
    -- Addresses differing only in case are one recipient.
    ADD COLUMN to_norm text GENERATED ALWAYS AS (lower(to_address)) STORED;
UPDATE contact_attempts SET claimed_at = created_at WHERE claimed_at IS NULL;
ALTER TABLE contact_attempts ALTER COLUMN claimed_at SET DEFAULT now(),
    ALTER COLUMN claimed_at SET NOT NULL;
-- "attempts to this address since T", "this business's attempts since T",
-- "all attempts since T" (the failsafe windows).
CREATE INDEX contact_attempts_to_claimed_idx ON contact_attempts (to_norm, claimed_at);
CREATE INDEX contact_attempts_business_claimed_idx ON contact_attempts (business_id, claimed_at);
CREATE INDEX contact_attempts_claimed_idx ON contact_attempts (claimed_at);

-- ---- failsafe_events: the clock of a trip ------------------------------------

-- A window in which the failsafe tripped never becomes history; the
-- windows are measured on the workers' clock, which this records.
ALTER TABLE failsafe_events ADD COLUMN clock_at timestamptz;
UPDATE failsafe_events SET clock_at = created_at WHERE clock_at IS NULL;
ALTER TABLE failsafe_events ALTER COLUMN clock_at SET DEFAULT now(),
    ALTER COLUMN clock_at SET NOT NULL;
CREATE INDEX failsafe_events_clock_idx ON failsafe_events (event, clock_at);

-- ---- the eligibility rule ----------------------------------------------------

-- One row: code NULL when the reminder may be sent at p_now; otherwise
-- code 'ineligible' (not sendable now for a reason of its own),
-- 'deferred' (not_before is later) or 'window' (outside the recipient's
-- calling window: the business's window in the client's time zone, else
-- the business's), and a short reason.  The ineligible reasons come first,
-- then deferred, then window, so that the scheduler can count each.  Every
-- condition is written so that a NULL blocks.  A set-returning SQL
-- function so that the planner can inline it into the scheduler's scan.
CREATE FUNCTION reminder_block(p_reminder bigint, p_now timestamptz)
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

-- ---- the limits ----------------------------------------------------------------

-- When the first slot of a limit frees: p_times are the claim times of
-- the contacts inside the window, oldest first.  NULL while under the
-- limit; a limit of 0 or less (or NULL) refuses for a whole window.
CREATE FUNCTION rf_slot_free(p_times timestamptz[], p_limit integer, p_window interval,
    p_now timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
SELECT CASE
    WHEN p_limit IS NULL OR p_limit <= 0 THEN p_now + p_window
    WHEN COALESCE(cardinality(p_times), 0) < p_limit THEN NULL
    ELSE p_times[cardinality(p_times) - p_limit + 1] + p_window END
$$;

-- ---- the claim -------------------------------------------------------------------

-- One transaction, one round trip.  Outcomes:
--   'claimed'  the reminder is 'dialing' and its attempt row written
--              'dialing' with a lease; the columns carry what
--              outbound_send needs;
--   'deferred' over a limit whose first slot frees before stale_at: the
--              reminder stays pending with not_before set and the reason;
--              no attempt row;
--   'skipped'  over a limit until after stale_at: an attempt row
--              'skipped_rate_limited', the reminder 'skipped';
--   'dropped'  not eligible now (reason from reminder_block); nothing
--              changed.
-- A contact is an attempt 'dialing', 'placed' or 'unknown' (an unknown
-- outcome may have reached the person: it counts).  The limits: this
-- recipient from this business in the 24 h before p_now
-- (p_recipient_day), from all businesses (p_recipient_all_day), and this
-- business in the last hour (businesses.hourly_limit, else
-- p_business_hour).  A transaction-scoped advisory lock on the
-- normalised address (then one on the business) serialises the count
-- and the insert, so two workers cannot both take the last slot.
CREATE FUNCTION reminder_claim(p_reminder bigint, p_now timestamptz, p_worker text,
    p_lease_s integer, p_from text, p_recipient_day integer, p_recipient_all_day integer,
    p_business_hour integer)
RETURNS TABLE (outcome text, reason text, attempt_id bigint, reminder_id bigint,
    business_id bigint, appointment_id bigint, attempt integer, channel text,
    to_address text, from_number text, machine_detection boolean, hourly_limit integer,
    stale_s bigint, business_name text, callback_phone text, when_date text,
    when_time text, not_before_s bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    r reminders%ROWTYPE;
    v_code text;
    v_why text;
    v_addr text;
    v_hour integer;
    v_free timestamptz;
    v_until timestamptz;
    v_limit text;
BEGIN
    outcome := 'dropped';
    SELECT * INTO r FROM reminders WHERE id = p_reminder FOR UPDATE;
    IF NOT FOUND THEN
        reason := 'no such reminder';
        RETURN NEXT;
        RETURN;
    END IF;
    -- A fresh statement after the row lock: it sees what a claim that
    -- held the lock before us committed.
    SELECT k.code, k.reason INTO v_code, v_why FROM reminder_block(p_reminder, p_now) k;
    IF v_code IS NOT NULL THEN
        reason := v_why;
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT r.id, r.business_id, r.appointment_id, r.attempt, r.channel, r.to_address,
        COALESCE(b.twilio_from::text, p_from, ''), b.machine_detection,
        COALESCE(b.hourly_limit, -1), floor(extract(epoch FROM r.stale_at))::bigint,
        b.name, b.callback_phone::text,
        to_char(a.starts_at AT TIME ZONE COALESCE(cl.time_zone, b.time_zone), 'FMDay, FMMonth FMDD'),
        to_char(a.starts_at AT TIME ZONE COALESCE(cl.time_zone, b.time_zone), 'FMHH12:MI AM')
    INTO reminder_id, business_id, appointment_id, attempt, channel, to_address,
        from_number, machine_detection, hourly_limit, stale_s, business_name,
        callback_phone, when_date, when_time
    FROM appointments a, businesses b, clients cl
    WHERE a.id = r.appointment_id AND b.id = r.business_id AND cl.id = a.client_id;
    v_hour := CASE WHEN hourly_limit >= 0 THEN hourly_limit ELSE p_business_hour END;

    v_addr := lower(r.to_address);
    PERFORM pg_advisory_xact_lock(hashtextextended('rf:to:' || v_addr, 7091));
    PERFORM pg_advisory_xact_lock(hashtextextended('rf:biz:' || r.business_id::text, 7091));

    -- Each statement below takes a new snapshot, after the locks: it sees
    -- every attempt committed by a claim that held them before.
    SELECT rf_slot_free(array_agg(x.claimed_at ORDER BY x.claimed_at), p_recipient_day,
        interval '24 hours', p_now)
    INTO v_free FROM contact_attempts x
    WHERE x.to_norm = v_addr AND x.business_id = r.business_id
        AND x.claimed_at > p_now - interval '24 hours'
        AND x.status IN ('dialing', 'placed', 'unknown');
    IF v_free IS NOT NULL THEN
        v_until := v_free;
        v_limit := format('recipient limit (%s contacts per 24 h from one business) reached',
            p_recipient_day);
    END IF;
    SELECT rf_slot_free(array_agg(x.claimed_at ORDER BY x.claimed_at), p_recipient_all_day,
        interval '24 hours', p_now)
    INTO v_free FROM contact_attempts x
    WHERE x.to_norm = v_addr AND x.claimed_at > p_now - interval '24 hours'
        AND x.status IN ('dialing', 'placed', 'unknown');
    IF v_free IS NOT NULL AND (v_until IS NULL OR v_free > v_until) THEN
        v_until := v_free;
        v_limit := format('recipient limit across businesses (%s contacts per 24 h) reached',
            p_recipient_all_day);
    END IF;
    SELECT rf_slot_free(array_agg(x.claimed_at ORDER BY x.claimed_at), v_hour,
        interval '1 hour', p_now)
    INTO v_free FROM contact_attempts x
    WHERE x.business_id = r.business_id AND x.claimed_at > p_now - interval '1 hour'
        AND x.status IN ('dialing', 'placed', 'unknown');
    IF v_free IS NOT NULL AND (v_until IS NULL OR v_free > v_until) THEN
        v_until := v_free;
        v_limit := format('business limit (%s contacts per hour) reached', v_hour);
    END IF;

    IF v_until IS NOT NULL THEN
        not_before_s := ceil(extract(epoch FROM v_until))::bigint;
        IF v_until < r.stale_at THEN
            reason := 'deferred: ' || v_limit;
            UPDATE reminders SET not_before = v_until, status_reason = reason, updated_at = now()
                WHERE id = r.id;
            outcome := 'deferred';
            attempt_id := 0;
        ELSE
            reason := 'skipped: ' || v_limit || ' until after the reminder goes stale';
            INSERT INTO contact_attempts (reminder_id, business_id, channel, to_address, status,
                error_message, worker, lease_until, claimed_at, settled_at)
            VALUES (r.id, r.business_id, r.channel, r.to_address, 'skipped_rate_limited',
                reason, p_worker, p_now, p_now, now())
            RETURNING id INTO attempt_id;
            UPDATE reminders SET status = 'skipped', status_reason = reason, updated_at = now()
                WHERE id = r.id;
            outcome := 'skipped';
        END IF;
        RETURN NEXT;
        RETURN;
    END IF;

    UPDATE reminders SET status = 'dialing', status_reason = NULL, updated_at = now()
        WHERE id = r.id;
    INSERT INTO contact_attempts (reminder_id, business_id, channel, to_address, status, worker,
        lease_until, claimed_at)
    VALUES (r.id, r.business_id, r.channel, r.to_address, 'dialing', p_worker,
        p_now + make_interval(secs => p_lease_s), p_now)
    RETURNING id INTO attempt_id;
    outcome := 'claimed';
    RETURN NEXT;
END;
$$;

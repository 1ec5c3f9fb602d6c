-- ringfence schema, version 16: the trial and abuse rules (DESIGN.md
-- rule 13, issue 10 part 4).
--
--   businesses.verified_at/_by/_reason
--                            who verified the business, when and why
--                            (`ringfence business verify`, the operator
--                            page).  A business verified before this
--                            version has verified_at NULL: it is not new.
--   business_events          every verify, unverify, hold and resume of a
--                            business: who, why, when (clock_at on the
--                            clock of whoever acted: RINGFENCE_NOW in tests).
--   business_holds           the new business's own failsafe: a row while
--                            that business's outbound is held.  Only an
--                            operator removes it (resume).
--   reminder_block           (replaced) refuses a held business's
--                            reminders, and a test reminder outside
--                            business hours.
--   reminder_claim           (replaced) counts a newly verified business's
--                            day under its advisory lock and holds it
--                            when the day goes above its threshold.
--   reminder_refuse_unverified
--                            records on a due reminder of an unverified
--                            business to someone else's number why it is
--                            not sent (it stays pending: verified in
--                            time, it goes).
--   rf_test_reminder_refusal the limits and hours of test reminders, one
--                            rule for the dashboard and a trigger under
--                            every path that writes kind = 'test'.

ALTER TABLE businesses
    ADD COLUMN verified_at timestamptz,
    ADD COLUMN verified_by text CHECK (verified_by IS NULL OR length(verified_by) BETWEEN 1 AND 254),
    ADD COLUMN verify_reason text
        CHECK (verify_reason IS NULL OR length(verify_reason) BETWEEN 1 AND 1000);

CREATE TABLE business_events (
    id              bigserial PRIMARY KEY,
    business_id     bigint NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    event           text NOT NULL CHECK (event IN ('verify', 'unverify', 'hold', 'resume')),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    actor           text NOT NULL CHECK (length(actor) BETWEEN 1 AND 254),
    clock_at        timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX business_events_business_idx ON business_events (business_id, event, id);

CREATE TABLE business_holds (
    business_id     bigint PRIMARY KEY REFERENCES businesses(id) ON DELETE CASCADE,
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    -- On the workers' clock (the claim's p_now).
    held_at         timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- ---- test reminders ------------------------------------------------------------

-- Test reminders go to a client only between 09:00 and 18:00 of the
-- recipient's time zone (any day of the week: businesses open at
-- weekends), inside the business's calling window as every reminder.
CREATE FUNCTION rf_business_hours(p_now timestamptz, p_tz text)
RETURNS boolean
LANGUAGE sql STABLE AS $$
SELECT (p_now AT TIME ZONE p_tz)::time >= time '09:00'
   AND (p_now AT TIME ZONE p_tz)::time < time '18:00'
$$;

-- Why a business may not add a test reminder for a recipient in p_tz at
-- p_now: 'hour' (5 in the last hour), 'day' (20 in the last 24 hours),
-- 'hours' (outside business hours), or NULL.  Counted over every
-- kind = 'test' row of the business, whatever became of it.  The caller
-- holds the business's test lock (rf_test_reminder_lock).
CREATE FUNCTION rf_test_reminder_refusal(p_business bigint, p_tz text, p_now timestamptz)
RETURNS text
LANGUAGE sql STABLE AS $$
SELECT CASE
    WHEN p_now IS NULL OR p_tz IS NULL THEN 'hours'
    WHEN (SELECT count(*) FROM reminders t WHERE t.business_id = p_business AND t.kind = 'test'
          AND t.due_at > p_now - interval '1 hour') >= 5 THEN 'hour'
    WHEN (SELECT count(*) FROM reminders t WHERE t.business_id = p_business AND t.kind = 'test'
          AND t.due_at > p_now - interval '24 hours') >= 20 THEN 'day'
    WHEN rf_business_hours(p_now, p_tz) IS NOT TRUE THEN 'hours'
    ELSE NULL END
$$;

-- The dashboard's lock: one test request of a business at a time.
CREATE FUNCTION rf_test_reminder_lock(p_business bigint)
RETURNS void
LANGUAGE sql AS $$
SELECT pg_advisory_xact_lock(hashtextextended('rf:test:' || p_business::text, 7091))
$$;

-- Under every path that writes a pending test reminder (the dashboard
-- today; any later one too): the same rule, decided on the row's due_at
-- (the writer's clock).
CREATE FUNCTION rf_test_reminder_guard()
RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_tz text;
    v_why text;
BEGIN
    PERFORM rf_test_reminder_lock(NEW.business_id);
    SELECT COALESCE(cl.time_zone, b.time_zone) INTO v_tz
    FROM appointments a JOIN clients cl ON cl.id = a.client_id
    JOIN businesses b ON b.id = a.business_id
    WHERE a.id = NEW.appointment_id AND a.business_id = NEW.business_id;
    v_why := rf_test_reminder_refusal(NEW.business_id, v_tz, NEW.due_at);
    IF v_why IS NOT NULL THEN
        RAISE EXCEPTION 'test reminder refused: %', CASE v_why
            WHEN 'hour' THEN '5 an hour per business'
            WHEN 'day' THEN '20 a day per business'
            ELSE 'outside business hours (09:00-18:00) of the recipient' END
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER reminders_test_guard BEFORE INSERT ON reminders
    FOR EACH ROW WHEN (NEW.kind = 'test' AND NEW.status = 'pending')
    EXECUTE FUNCTION rf_test_reminder_guard();

-- ---- the eligibility rule: 008's, with the hold and the test hours -----------

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
    -- 016: the new business's own failsafe holds its outbound alone.
    WHEN (SELECT h.reason FROM business_holds h WHERE h.business_id = b.id) IS NOT NULL
        THEN ARRAY['ineligible', 'held by the failsafe: '
            || (SELECT h.reason FROM business_holds h WHERE h.business_id = b.id)]
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

-- ---- the refusal of an unverified business's contact ------------------------------

-- Records on the due pending reminders (p_ids, or all) that reminder_block
-- refuses because their business is unverified and the address is not
-- its own callback number the refusal as their status_reason.  They stay
-- pending: the dashboard shows them "blocked (not allowed)" (the rule
-- read live), nobody is contacted, and if an operator verifies the
-- business before they go stale they go out like any reminder (the
-- claim clears the reason).  Returns the ids newly recorded.  Called by
-- the claim (one id) and by each scheduler tick (all due ones).
-- Only the reminders of unverified businesses are looked at, so that a
-- tick with thousands due pays little for it; without JIT, as the
-- scheduler's own scan (src/scheduler.c says why).
CREATE FUNCTION reminder_refuse_unverified(p_now timestamptz, p_ids bigint[])
RETURNS SETOF bigint
LANGUAGE sql SET jit = off AS $$
-- The cheap conditions first, materialised, so that reminder_block (the
-- whole eligibility rule) runs only for the due reminders of unverified
-- businesses addressed to another number, whatever plan the statistics
-- of a freshly filled table suggest.
WITH candidate AS MATERIALIZED (
    SELECT r.id FROM reminders r
    JOIN businesses b ON b.id = r.business_id AND b.verified IS NOT TRUE
    WHERE r.status = 'pending' AND r.due_at <= p_now AND r.stale_at > p_now
        AND (p_ids IS NULL OR r.id = ANY (p_ids))
        AND r.to_address IS DISTINCT FROM b.callback_phone::text
        AND r.status_reason IS DISTINCT FROM
            'blocked: not allowed — unverified business: only its own number'
    FOR UPDATE OF r SKIP LOCKED
)
UPDATE reminders
SET status_reason = 'blocked: not allowed — unverified business: only its own number',
    updated_at = now()
WHERE id IN (SELECT c.id FROM candidate c
        CROSS JOIN LATERAL reminder_block(c.id, p_now) k
        WHERE k.reason = 'unverified business: only its own number')
    AND status = 'pending'
RETURNING id
$$;

-- ---- the claim: 006's, with the refusal recorded and the new business's failsafe --

-- One more outcome than 006's: 'held' (the new business's failsafe held
-- this business now or before; nothing changed on the reminder, which
-- reminder_block refuses from now on).  A 'dropped' refusal of an
-- unverified business is recorded on the reminder.

CREATE OR REPLACE FUNCTION reminder_claim(p_reminder bigint, p_now timestamptz, p_worker text,
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
    v_tz text;
    v_verified timestamptz;
    v_day_start timestamptz;
    v_day_end timestamptz;
    v_resumed timestamptz;
    v_today bigint;
    v_largest bigint;
    v_threshold bigint;
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
        -- 016: a refused contact of an unverified business is recorded.
        IF v_why = 'unverified business: only its own number' THEN
            PERFORM reminder_refuse_unverified(p_now, ARRAY[p_reminder]);
        END IF;
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

    -- 016: the new business's own failsafe.  In the first 7 days after
    -- its verification, a day (the business's time zone) may hold at most
    -- max(50, 3 x its largest completed day) contacts; the one above
    -- holds the business.  Under the business's advisory lock taken
    -- above, so two workers cannot both pass.  A day in which it was held
    -- never becomes its largest (a spike must not loosen the brake), and
    -- only contacts written after the last resume count (a resume starts
    -- the day afresh instead of holding again at the next contact).
    SELECT b.verified_at, b.time_zone INTO v_verified, v_tz FROM businesses b
        WHERE b.id = r.business_id;
    IF v_verified IS NOT NULL AND p_now < v_verified + interval '7 days' THEN
        v_day_start := date_trunc('day', p_now AT TIME ZONE v_tz) AT TIME ZONE v_tz;
        v_day_end := (date_trunc('day', p_now AT TIME ZONE v_tz) + interval '1 day') AT TIME ZONE v_tz;
        SELECT COALESCE(max(e.created_at), '-infinity'::timestamptz) INTO v_resumed
        FROM business_events e WHERE e.business_id = r.business_id AND e.event = 'resume';
        SELECT count(*) INTO v_today FROM contact_attempts x
        WHERE x.business_id = r.business_id AND x.claimed_at >= v_day_start
            AND x.claimed_at < v_day_end AND x.status IN ('dialing', 'placed', 'unknown')
            AND x.created_at > v_resumed;
        SELECT COALESCE(max(d.n), 0) INTO v_largest FROM (
            SELECT (x.claimed_at AT TIME ZONE v_tz)::date AS day, count(*) AS n
            FROM contact_attempts x
            WHERE x.business_id = r.business_id AND x.claimed_at < v_day_start
                AND x.status IN ('dialing', 'placed', 'unknown')
            GROUP BY 1) d
        WHERE NOT EXISTS (SELECT 1 FROM business_events e WHERE e.business_id = r.business_id
            AND e.event = 'hold' AND (e.clock_at AT TIME ZONE v_tz)::date = d.day);
        v_threshold := GREATEST(50, 3 * v_largest);
        IF v_today >= v_threshold THEN
            reason := format('new business: %s contacts on %s (%s) reached max(50, 3 x its'
                ' largest day %s) = %s in its first 7 days after verification',
                v_today, to_char(p_now AT TIME ZONE v_tz, 'YYYY-MM-DD'), v_tz, v_largest,
                v_threshold);
            INSERT INTO business_holds (business_id, reason, held_at)
            VALUES (r.business_id, reason, p_now) ON CONFLICT (business_id) DO NOTHING;
            IF FOUND THEN
                INSERT INTO business_events (business_id, event, reason, actor, clock_at)
                VALUES (r.business_id, 'hold', reason, 'failsafe', p_now);
            END IF;
            reason := 'held by the failsafe: ' || reason;
            outcome := 'held';
            attempt_id := 0;
            RETURN NEXT;
            RETURN;
        END IF;
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

-- ringfence schema, version 27: the claim's contact limits read at most
-- limit rows (issue 13).
-- phase: expand
--
--   reminder_claim   (replaced) 016's, with each contact limit's first
--                    free slot read as the limit-th most recent contact
--                    of its window along its index (ORDER BY claimed_at
--                    DESC OFFSET limit - 1 LIMIT 1) instead of an
--                    ordered array_agg of every contact in the window
--                    handed to rf_slot_free: the same value, without a
--                    sort per limit, and a cost bounded by the limit
--                    instead of by how many contacts the business made
--                    in the last hour.  And a claim that finds the
--                    business already held by a concurrent claim (after
--                    its own eligibility check) is 'dropped' with the
--                    hold's reason, as reminder_block drops it from then
--                    on, instead of 'held' a second time (the worker
--                    audited one hold twice).  Every other statement,
--                    lock and rule of the claim is 016's, in the same
--                    order.
--
-- Expand only: one function replaced with the same signature and result;
-- rf_slot_free stays (nothing else changes).

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
    -- 027: the first free slot of each limit is the claimed_at of the
    -- limit-th most recent contact in its window, plus the window (none:
    -- under the limit), read backwards along the (to_norm, claimed_at) or
    -- (business_id, claimed_at) index: at most limit rows, no sort.  The
    -- same value 006's rf_slot_free took from the sorted array of every
    -- contact in the window (its times[count - limit + 1]).
    IF p_recipient_day IS NULL OR p_recipient_day <= 0 THEN
        v_free := p_now + interval '24 hours';
    ELSE
        SELECT x.claimed_at + interval '24 hours' INTO v_free FROM contact_attempts x
        WHERE x.to_norm = v_addr AND x.business_id = r.business_id
            AND x.claimed_at > p_now - interval '24 hours'
            AND x.status IN ('dialing', 'placed', 'unknown')
        ORDER BY x.claimed_at DESC OFFSET p_recipient_day - 1 LIMIT 1;
    END IF;
    IF v_free IS NOT NULL THEN
        v_until := v_free;
        v_limit := format('recipient limit (%s contacts per 24 h from one business) reached',
            p_recipient_day);
    END IF;
    IF p_recipient_all_day IS NULL OR p_recipient_all_day <= 0 THEN
        v_free := p_now + interval '24 hours';
    ELSE
        SELECT x.claimed_at + interval '24 hours' INTO v_free FROM contact_attempts x
        WHERE x.to_norm = v_addr AND x.claimed_at > p_now - interval '24 hours'
            AND x.status IN ('dialing', 'placed', 'unknown')
        ORDER BY x.claimed_at DESC OFFSET p_recipient_all_day - 1 LIMIT 1;
    END IF;
    IF v_free IS NOT NULL AND (v_until IS NULL OR v_free > v_until) THEN
        v_until := v_free;
        v_limit := format('recipient limit across businesses (%s contacts per 24 h) reached',
            p_recipient_all_day);
    END IF;
    IF v_hour IS NULL OR v_hour <= 0 THEN
        v_free := p_now + interval '1 hour';
    ELSE
        SELECT x.claimed_at + interval '1 hour' INTO v_free FROM contact_attempts x
        WHERE x.business_id = r.business_id AND x.claimed_at > p_now - interval '1 hour'
            AND x.status IN ('dialing', 'placed', 'unknown')
        ORDER BY x.claimed_at DESC OFFSET v_hour - 1 LIMIT 1;
    END IF;
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
                reason := 'held by the failsafe: ' || reason;
                outcome := 'held';
                attempt_id := 0;
            ELSE
                -- 027: another claim held the business after this one's
                -- eligibility check and before its lock.  Refused as
                -- reminder_block refuses it from now on ('dropped', the
                -- hold's own reason), so that the worker does not report
                -- the same hold a second time.
                reason := 'held by the failsafe: ' || COALESCE((SELECT h.reason
                    FROM business_holds h WHERE h.business_id = r.business_id), reason);
            END IF;
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

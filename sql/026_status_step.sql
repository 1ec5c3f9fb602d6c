-- ringfence schema, version 26: a status callback in one statement (issue 13).
-- phase: expand
--
--   rf_notify_unreached(reminder, why)
--                        the office is told that reminder did not reach the
--                        client (office_notifications kind 'unreached'),
--                        once per reminder, only when it failed or was not
--                        placed, no later attempt of it exists, the
--                        appointment is still booked or confirmed and the
--                        client has not opted out.  The new row's id, or
--                        NULL when nothing was added.  notify.c's
--                        notify_unreached and rf_status_step both use it.
--   rf_flag_number(phone, business, default_from, flag, reason)
--                        what a Twilio error code says about phone:
--                        flag 'opt_out' (21610) opts phone out with every
--                        business sending from the number business sends
--                        from (its twilio_from, else default_from), as an
--                        inbound STOP does; 'invalid' (21211, 21217) marks
--                        phone invalid with reason.  outbound.c decides the
--                        flag from the code; both the worker and
--                        rf_status_step use it.
--   rf_status_step(...)  one status callback, all of it in one statement
--                        (status.c explains the rules): the attempt locked
--                        by its id or its provider sid, the kind and the
--                        sid checked, the sid bound when the callback beat
--                        the worker, delivery_status moved only forward,
--                        and a final status's effects (the reminder's
--                        status, the attempt settled as placed, the
--                        number flagged, the retry reminder, the office
--                        told).  The caller passes what C decides (the
--                        status's rank and the rank table, whether it
--                        reached the client, whether it retries, the
--                        reason and the flag), the function what only the
--                        database knows.  result: 'missing' (no attempt),
--                        'kind' (the attempt's channel is not the
--                        callback's), 'sid' (another sid), 'unchanged'
--                        (duplicate or out of order; a bound sid stays
--                        bound), 'moved'.  Any error rolls all of it back.
--
-- Expand only: new functions; nothing an earlier release reads changes.

CREATE FUNCTION rf_notify_unreached(p_reminder bigint, p_why text) RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO office_notifications (business_id, appointment_id, client_id, kind, detail,
        reminder_id)
    SELECT r.business_id, a.id, c.id, 'unreached',
        CASE r.channel WHEN 'voice' THEN 'Call' WHEN 'sms' THEN 'Text' ELSE 'Email' END
        || ' did not reach them: ' || p_why, r.id
    FROM reminders r JOIN appointments a ON a.id = r.appointment_id
        AND a.business_id = r.business_id
    JOIN clients c ON c.id = a.client_id AND c.business_id = a.business_id
    WHERE r.id = p_reminder AND r.status IN ('failed', 'not_placed')
    AND r.kind IN ('plan', 'resend', 'booking')
    AND a.status IN ('booked', 'confirmed') AND c.opted_out_at IS NULL
    -- The last attempt: a busy or unanswered call that created its retry
    -- is not the end of the reminder; the retry's own outcome tells.
    AND NOT EXISTS (SELECT 1 FROM reminders n WHERE n.appointment_id = r.appointment_id
        AND n.channel = r.channel AND n.offset_minutes = r.offset_minutes
        AND n.kind = r.kind AND n.attempt > r.attempt)
    ON CONFLICT (reminder_id) DO NOTHING RETURNING id
$$;

CREATE FUNCTION rf_flag_number(p_phone text, p_business bigint, p_default_from text,
    p_flag text, p_reason text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_flag = 'opt_out' THEN
        UPDATE clients SET opted_out_at = COALESCE(opted_out_at, now())
        WHERE phone = p_phone AND business_id IN (
            SELECT b.id FROM businesses b,
                (SELECT COALESCE(twilio_from::text, p_default_from) AS n FROM businesses
                 WHERE id = p_business) s
            WHERE b.id = p_business OR COALESCE(b.twilio_from::text, p_default_from) = s.n);
    ELSIF p_flag = 'invalid' THEN
        UPDATE clients SET phone_invalid_at = COALESCE(phone_invalid_at, now()),
            phone_invalid_reason = left(p_reason, 500)
        WHERE phone = p_phone;
    ELSE
        RAISE EXCEPTION 'rf_flag_number: unknown flag %', p_flag;
    END IF;
END
$$;

CREATE FUNCTION rf_status_step(
    p_call boolean,         -- a call's callback (else a message's)
    p_attempt bigint,       -- the URL's a=, or NULL: found by p_sid
    p_sid text,
    p_status text,
    p_rank integer,         -- p_status's rank (status.h), final = p_final_rank
    p_seq bigint,           -- a call's SequenceNumber, or NULL
    p_error integer,        -- ErrorCode, or NULL
    p_names text[],         -- the rank table of the callback's kind:
    p_ranks integer[],      --   p_names[i] has rank p_ranks[i]
    p_final_rank integer,
    p_ok boolean,           -- a final status that reached the client
    p_retry boolean,        -- a final status the retry policy retries
    p_reason text,          -- "call busy, error 123" (reminder, notification)
    p_flag text,            -- rf_flag_number's flag for p_error, or NULL
    p_default_from text,    -- TWILIO_FROM_NUMBER, or NULL
    p_now timestamptz,      -- the application's clock (RINGFENCE_NOW in tests)
    OUT result text, OUT attempt_id bigint, OUT business_id bigint,
    OUT state_before text, OUT flagged boolean, OUT retried integer, OUT notified boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    a record;
    cur_rank integer;
    newer boolean;
BEGIN
    flagged := false;
    notified := false;
    IF p_attempt IS NOT NULL THEN
        SELECT * INTO a FROM contact_attempts ca WHERE ca.id = p_attempt FOR UPDATE;
    ELSE
        SELECT * INTO a FROM contact_attempts ca WHERE ca.provider_sid = p_sid FOR UPDATE;
    END IF;
    IF NOT FOUND THEN
        result := 'missing';
        RETURN;
    END IF;
    attempt_id := a.id;
    business_id := a.business_id;
    state_before := COALESCE(a.delivery_status, '');
    IF a.channel <> (CASE WHEN p_call THEN 'voice' ELSE 'sms' END) THEN
        result := 'kind';
        RETURN;
    END IF;
    IF a.provider_sid IS NOT NULL AND a.provider_sid <> p_sid THEN
        result := 'sid';
        RETURN;
    END IF;
    IF a.provider_sid IS NULL THEN
        -- The callback beat the worker's record: bind the sid now.
        UPDATE contact_attempts SET provider_sid = p_sid, updated_at = now()
        WHERE id = a.id AND provider_sid IS NULL;
    END IF;
    cur_rank := COALESCE(p_ranks[array_position(p_names, a.delivery_status)], -1);
    IF cur_rank = p_final_rank THEN
        newer := false; -- a final status never moves
    ELSIF p_call AND p_seq IS NOT NULL AND a.delivery_seq IS NOT NULL THEN
        newer := p_seq > a.delivery_seq;
    ELSE
        newer := p_rank > cur_rank;
    END IF;
    IF NOT newer THEN
        result := 'unchanged';
        RETURN;
    END IF;
    result := 'moved';
    UPDATE contact_attempts SET delivery_status = p_status,
        delivery_seq = COALESCE(CASE WHEN p_call THEN p_seq ELSE p_rank END::int, delivery_seq),
        error_code = COALESCE(p_error, error_code), updated_at = now()
    WHERE id = a.id;
    IF p_call THEN
        UPDATE calls SET call_status = p_status, updated_at = now() WHERE call_sid = p_sid;
    END IF;
    IF p_rank <> p_final_rank THEN
        RETURN;
    END IF;
    UPDATE reminders SET status = CASE WHEN p_ok THEN 'completed' ELSE 'failed' END,
        status_reason = p_reason, updated_at = now()
    WHERE id = a.reminder_id AND status IN ('dialing', 'placed', 'unknown', 'not_placed');
    -- The provider has it: an attempt we could not account for was placed.
    UPDATE contact_attempts SET status = 'placed', placed_at = COALESCE(placed_at, now()),
        settled_at = now(), error_message = 'settled by a status callback', updated_at = now()
    WHERE id = a.id AND status IN ('unknown', 'not_placed');
    IF p_flag IS NOT NULL THEN
        PERFORM rf_flag_number(a.to_address, a.business_id, p_default_from, p_flag, p_reason);
        flagged := true;
    END IF;
    IF p_retry THEN
        WITH n AS (
            INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes,
                attempt, due_at, stale_at, to_address)
            SELECT r.business_id, r.appointment_id, r.channel, r.offset_minutes, r.attempt + 1,
                p_now + make_interval(mins => b.retry_delay_minutes), r.stale_at, r.to_address
            FROM reminders r JOIN businesses b ON b.id = r.business_id
            JOIN appointments ap ON ap.id = r.appointment_id
            WHERE r.id = a.reminder_id AND r.attempt <= b.retry_count AND r.attempt < 5
            -- An earlier plan's reminder (the appointment moved) retries nothing.
            AND r.superseded_at IS NULL
            AND ap.status IN ('booked', 'confirmed')
            AND p_now + make_interval(mins => b.retry_delay_minutes) < r.stale_at
            ON CONFLICT DO NOTHING RETURNING id)
        SELECT count(*) INTO retried FROM n;
    END IF;
    -- The last attempt did not reach the client: the office is told, in
    -- this transaction (once per reminder; a retry just created means
    -- this was not the last).
    IF NOT p_ok THEN
        notified := rf_notify_unreached(a.reminder_id, p_reason) IS NOT NULL;
    END IF;
END
$$;

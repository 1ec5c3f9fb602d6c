-- ringfence schema, version 26: a status callback, and an inbound text's
-- common path, in one statement each (issue 13).
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
--   rf_sms_record(sid, from, to, body, keyword, stop, default_from)
--                        keeps an inbound text (a replayed sid adds
--                        nothing) and, with stop, opts from out with every
--                        business texting from to, all in one statement
--                        (sms.h's sms_text_record says the rest).  The new
--                        row's id (NULL for a replay), how many businesses
--                        text from to (0 unless stop), how many client rows
--                        now carry the opt-out.
--   rf_sms_context(phone, sender, default_from)
--                        what a text from phone to sender answers (sms.c's
--                        sms_context): the most recent SMS reminder Twilio
--                        accepted for phone from a business texting from
--                        sender, else a business texting from sender that
--                        has phone as a client; no row for neither.
--   rf_inbox_record(business, phone, reminder, text, state, needs, chars)
--                        keeps the text in the client's conversation for
--                        the reply inbox (inbox.h's inbox_record, which
--                        tells the office when needs is set): how many
--                        rows, the first client, and the notice's text.
--   rf_sms_context_lock(phone, sender, default_from, start)
--                        rf_sms_context, and for a reminder its
--                        conversation (created at start when it has none)
--                        locked for the transaction: its state and seq
--                        (start and 0 without a reminder).  No row: nobody.
--   rf_sms_finish(text, reminder, business, appointment, events..., state,
--                 seq, phone, needs, chars)
--                        what a text did to its conversation, after the
--                        flow's actions: the sms_events rows (one per hop,
--                        in order), the conversation moved to state and seq,
--                        and rf_inbox_record's row and answer.
--   rf_sms_step(...)     an inbound text in one statement when that is
--                        safe: rf_sms_record, then in a block of its own
--                        (an error there rolls back only the block, never
--                        the text or its opt-out) rf_sms_context_lock, and
--                        when the flow's transition from that state on this
--                        input is a fast one (sms.c decides, per state,
--                        from the loaded flow: no action, and a state after
--                        it that waits for nobody) rf_sms_finish.  result:
--                        'replay', 'none' (nobody to answer for), 'fast'
--                        (done), 'slow' (only the text was kept: sms.c
--                        runs the flow and its action in a transaction),
--                        'failed' (only the text was kept; error says why).
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

CREATE FUNCTION rf_sms_record(p_sid text, p_from text, p_to text, p_body text, p_keyword text,
    p_stop boolean, p_default_from text,
    OUT text_id bigint, OUT businesses bigint, OUT clients bigint)
LANGUAGE sql AS $$
    WITH i AS (INSERT INTO inbound_texts (message_sid, from_number, to_number, body, opt_keyword)
        VALUES (p_sid, p_from, p_to, p_body, p_keyword)
        ON CONFLICT (message_sid) DO NOTHING RETURNING id),
    b AS (SELECT id FROM businesses
        WHERE p_stop AND rf_business_sms_from(twilio_from, p_default_from) = p_to),
    u AS (UPDATE clients SET opted_out_at = COALESCE(opted_out_at, now())
        WHERE phone = p_from AND business_id IN (SELECT id FROM b) RETURNING id)
    SELECT (SELECT id FROM i), (SELECT count(*) FROM b), (SELECT count(*) FROM u)
$$;

CREATE FUNCTION rf_sms_context(p_phone text, p_sender text, p_default_from text)
RETURNS TABLE (reminder_id bigint, business_id bigint, appointment_id bigint, name text,
    callback_phone text, appointment_date text, appointment_time text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    -- The most recent SMS reminder Twilio accepted (a MessageSid); no
    -- appointment once it has begun (a late answer has nothing to act on).
    RETURN QUERY
    SELECT r.id, r.business_id, CASE WHEN ap.starts_at > now() THEN r.appointment_id END,
        b.name::text, b.callback_phone::text,
        to_char(ap.starts_at AT TIME ZONE COALESCE(cl.time_zone, b.time_zone), 'FMDay, FMMonth FMDD'),
        to_char(ap.starts_at AT TIME ZONE COALESCE(cl.time_zone, b.time_zone), 'FMHH12:MI AM')
    FROM contact_attempts ca JOIN reminders r ON r.id = ca.reminder_id
    JOIN businesses b ON b.id = ca.business_id
    JOIN appointments ap ON ap.id = r.appointment_id AND ap.business_id = r.business_id
    LEFT JOIN clients cl ON cl.id = ap.client_id
    WHERE ca.channel = 'sms' AND ca.to_address = p_phone AND ca.provider_sid IS NOT NULL
    AND rf_business_sms_from(b.twilio_from, p_default_from) = p_sender
    ORDER BY COALESCE(ca.placed_at, ca.created_at) DESC, ca.id DESC LIMIT 1;
    IF FOUND THEN
        RETURN;
    END IF;
    -- No reminder: a business texting from sender that has phone as a
    -- client (the one that last contacted it, else the first).
    RETURN QUERY
    SELECT NULL::bigint, b.id, NULL::bigint, b.name::text, b.callback_phone::text, NULL::text,
        NULL::text
    FROM businesses b
    WHERE rf_business_sms_from(b.twilio_from, p_default_from) = p_sender
    AND EXISTS (SELECT 1 FROM clients c WHERE c.business_id = b.id AND c.phone = p_phone)
    ORDER BY (SELECT max(ca.created_at) FROM contact_attempts ca
        WHERE ca.business_id = b.id AND ca.to_address = p_phone) DESC NULLS LAST, b.id
    LIMIT 1;
END
$$;

CREATE FUNCTION rf_inbox_record(p_business bigint, p_phone text, p_reminder bigint,
    p_text bigint, p_state text, p_needs boolean, p_chars integer,
    OUT n bigint, OUT client_id bigint, OUT detail text)
LANGUAGE sql AS $$
    WITH c0 AS (SELECT id, name FROM clients
        WHERE business_id = p_business AND phone = p_phone),
    r AS (SELECT ap.client_id FROM reminders rm JOIN appointments ap
        ON ap.id = rm.appointment_id AND ap.business_id = rm.business_id
        WHERE rm.id = p_reminder AND rm.business_id = p_business),
    c AS (SELECT id, name FROM c0 WHERE id IN (SELECT client_id FROM r)
        OR NOT EXISTS (SELECT 1 FROM c0 JOIN r ON r.client_id = c0.id)),
    i AS (INSERT INTO inbox_texts (business_id, client_id, inbound_text_id, reminder_id,
        flow_state, needs_answer)
        SELECT p_business, c.id, p_text, p_reminder, p_state, p_needs FROM c
        ON CONFLICT (inbound_text_id, client_id) DO NOTHING RETURNING client_id)
    SELECT count(*), min(i.client_id),
        string_agg(c.name, ', ' ORDER BY c.id) || ': '
        || (SELECT left(t.body, p_chars) FROM inbound_texts t WHERE t.id = p_text)
    FROM i JOIN c ON c.id = i.client_id
$$;

CREATE FUNCTION rf_sms_context_lock(p_phone text, p_sender text, p_default_from text,
    p_start text)
RETURNS TABLE (reminder_id bigint, business_id bigint, appointment_id bigint, name text,
    callback_phone text, appointment_date text, appointment_time text, state text,
    seq integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    SELECT * INTO reminder_id, business_id, appointment_id, name, callback_phone,
        appointment_date, appointment_time
    FROM rf_sms_context(p_phone, p_sender, p_default_from);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    state := p_start;
    seq := 0;
    IF reminder_id IS NOT NULL THEN
        -- A conflict's DO UPDATE locks the row that is there (its state
        -- unchanged) and returns it.
        INSERT INTO sms_conversations AS c (reminder_id, business_id, state)
        VALUES (rf_sms_context_lock.reminder_id, rf_sms_context_lock.business_id, p_start)
        ON CONFLICT (reminder_id) DO UPDATE SET state = c.state
        RETURNING c.state, c.seq INTO state, seq;
    END IF;
    RETURN NEXT;
END
$$;

CREATE FUNCTION rf_sms_finish(p_text bigint, p_reminder bigint, p_business bigint,
    p_appointment bigint,
    p_seqs integer[], p_froms text[], p_inputs text[], p_tos text[], p_actions text[],
    p_state text, p_seq integer, p_phone text, p_needs boolean, p_chars integer,
    OUT n bigint, OUT client_id bigint, OUT detail text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    INSERT INTO sms_events (inbound_text_id, reminder_id, business_id, appointment_id, seq,
        from_state, input, to_state, action)
    SELECT p_text, p_reminder, p_business, p_appointment, e.s, e.f, e.i, e.t, e.a
    FROM unnest(p_seqs, p_froms, p_inputs, p_tos, p_actions) AS e(s, f, i, t, a)
    ORDER BY e.s;
    IF p_reminder IS NOT NULL THEN
        UPDATE sms_conversations SET state = p_state, seq = p_seq, updated_at = now()
        WHERE reminder_id = p_reminder;
    END IF;
    SELECT r.n, r.client_id, r.detail INTO n, client_id, detail
    FROM rf_inbox_record(p_business, p_phone, p_reminder, p_text, p_state, p_needs, p_chars) r;
END
$$;

CREATE FUNCTION rf_sms_step(
    p_sid text, p_from text, p_to text, p_body text, p_keyword text, p_stop boolean,
    p_default_from text,
    p_input text,           -- the flow input the text is (sms_classify)
    p_start text,           -- the flow's start state
    p_states text[],        -- every state of the flow,
    p_next text[],          --   the state its transition on p_input goes to (NULL: stays),
    p_fast boolean[],       --   and whether that is done here (else: 'slow')
    OUT result text, OUT error text, OUT text_id bigint, OUT businesses bigint,
    OUT clients bigint, OUT business_id bigint, OUT reminder_id bigint, OUT name text,
    OUT callback_phone text, OUT appointment_date text, OUT appointment_time text,
    OUT state_before text, OUT state_after text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    k record;
    i integer;
    hop boolean;
BEGIN
    SELECT * INTO text_id, businesses, clients
    FROM rf_sms_record(p_sid, p_from, p_to, p_body, p_keyword, p_stop, p_default_from);
    IF text_id IS NULL THEN
        result := 'replay';
        RETURN;
    END IF;
    BEGIN
        SELECT * INTO k FROM rf_sms_context_lock(p_from, p_to, p_default_from, p_start);
        IF NOT FOUND THEN
            result := 'none';
            RETURN;
        END IF;
        SELECT k.business_id, k.reminder_id, k.name, k.callback_phone, k.appointment_date,
            k.appointment_time
        INTO business_id, reminder_id, name, callback_phone, appointment_date, appointment_time;
        i := array_position(p_states, k.state);
        -- A state the table no longer has, or a transition with an action
        -- or one that waits for a person: sms.c takes it from here.
        IF i IS NULL OR NOT p_fast[i] THEN
            result := 'slow';
            RETURN;
        END IF;
        hop := p_next[i] IS NOT NULL;
        state_before := k.state;
        state_after := COALESCE(p_next[i], k.state);
        PERFORM rf_sms_finish(text_id, k.reminder_id, k.business_id, k.appointment_id,
            CASE WHEN hop THEN ARRAY[k.seq + 1] ELSE '{}' END,
            CASE WHEN hop THEN ARRAY[k.state] ELSE '{}' END,
            CASE WHEN hop THEN ARRAY[p_input] ELSE '{}' END,
            CASE WHEN hop THEN ARRAY[p_next[i]] ELSE '{}' END,
            CASE WHEN hop THEN ARRAY[NULL::text] ELSE '{}' END,
            state_after, k.seq + hop::int, p_from, false, 0);
        result := 'fast';
    -- query_canceled too (a statement timeout): the text and its opt-out
    -- are kept whatever happens to its conversation.
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        result := 'failed';
        error := SQLERRM;
        state_before := NULL;
        state_after := NULL;
    END;
END
$$;

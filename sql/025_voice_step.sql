-- ringfence schema, version 25: a voice webhook's step in one statement (issue 13).
-- phase: expand
--
--   rf_voice_step        locks a call, binds its CallSid, decides whether
--                        the webhook is for the call's current state and
--                        sequence number and, when it is and the caller
--                        says so, takes the transition the flow's table
--                        gives for it (one call_events row, the calls row
--                        moved on); then returns everything the state's
--                        TwiML needs.  One round trip for the engine
--                        (src/engine.c), which keeps the flows' tables:
--                        it passes the state and sequence number the
--                        webhook's URL was rendered for and the
--                        transition that URL's input implies there, and
--                        the function applies it only while the row is
--                        still in that state at that sequence number
--                        (the row lock makes a second identical webhook
--                        wait and then find the call moved on: a replay).
--
--   Arguments:
--     p_token, p_call_sid  the call by its token (the URL's c=) or, with
--                          p_token NULL, by its CallSid
--     p_flow, p_states     the URL's flow and the names of its states
--     p_state, p_seq       what the URL was rendered for (the start state
--                          and 0 on a call's first request; p_seq -1 when
--                          the URL has none: never the current one)
--     p_input, p_to        the transition to take (NULL: none)
--     p_digits             the Digits to record with it
--     p_act                the transition runs an action: lock, bind and
--                          decide only (outcome 'act'); the caller's
--                          transaction runs the action and moves the call
--     p_call_status, p_answered_by  kept on the call with a transition
--     p_new_token, p_caller, p_called  the first request of an inbound
--                          call: the row to make (state p_state, seq 0)
--                          when no call has that CallSid yet
--
--   Outcomes (the first column): unknown (no such call; nothing
--   changed), flow (the call is another flow's), sid (the call has
--   another CallSid), state (the call is in a state its flow does not
--   have): nothing changed; replay (not the call's current state and
--   sequence number; only an unset CallSid bound), same (current, no
--   transition; CallSid bound), moved (the transition taken), act (see
--   p_act).  The other columns: the call after the step (the engine's
--   CALL_COLUMNS, in that order), then this inbound call's latest take.
--
-- Expand only: a new function; nothing an earlier release runs changes.

CREATE FUNCTION rf_voice_step(p_token text, p_call_sid text, p_flow text, p_states text[],
    p_state text, p_seq integer, p_input text, p_to text, p_digits text, p_act boolean,
    p_call_status text, p_answered_by text, p_new_token text, p_caller text, p_called text)
RETURNS TABLE (o_outcome text, o_id bigint, o_token text, o_call_sid text,
    o_business_id bigint, o_appointment_id bigint, o_flow text, o_state text, o_seq integer,
    o_business_name text, o_callback_phone text, o_date text, o_time text, o_direction text,
    o_caller text, o_called text, o_greeting text, o_take text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    c calls%ROWTYPE;
    v_outcome text;
BEGIN
    IF p_token IS NOT NULL THEN
        SELECT * INTO c FROM calls WHERE token = p_token FOR UPDATE;
    ELSE
        SELECT * INTO c FROM calls WHERE call_sid = p_call_sid FOR UPDATE;
        IF NOT FOUND AND p_new_token IS NOT NULL THEN
            INSERT INTO calls (token, call_sid, direction, flow, state, seq, caller, called)
                VALUES (p_new_token, p_call_sid, 'inbound', p_flow, p_state, 0, p_caller, p_called)
                ON CONFLICT (call_sid) DO NOTHING;
            SELECT * INTO c FROM calls WHERE call_sid = p_call_sid FOR UPDATE;
        END IF;
    END IF;
    IF NOT FOUND THEN
        o_outcome := 'unknown';
        RETURN NEXT;
        RETURN;
    END IF;

    IF c.flow <> p_flow THEN
        v_outcome := 'flow';
    ELSIF c.call_sid IS NOT NULL AND c.call_sid <> p_call_sid THEN
        v_outcome := 'sid';
    ELSIF NOT (c.state = ANY (p_states)) THEN
        v_outcome := 'state';
    ELSIF c.state = p_state AND c.seq = p_seq AND p_act THEN
        v_outcome := 'act';
    ELSIF c.state = p_state AND c.seq = p_seq AND p_input IS NOT NULL THEN
        v_outcome := 'moved';
        INSERT INTO call_events (call_id, seq, from_state, input, to_state, action, digits)
            VALUES (c.id, c.seq + 1, c.state, p_input, p_to, NULL, p_digits);
        UPDATE calls SET state = p_to, seq = c.seq + 1, updated_at = now(),
               call_sid = COALESCE(call_sid, p_call_sid),
               call_status = COALESCE(p_call_status, call_status),
               answered_by = COALESCE(p_answered_by, answered_by)
         WHERE id = c.id;
        c.state := p_to;
        c.seq := c.seq + 1;
        c.call_sid := COALESCE(c.call_sid, p_call_sid);
    ELSE
        v_outcome := CASE WHEN c.state = p_state AND c.seq = p_seq THEN 'same' ELSE 'replay' END;
    END IF;
    IF v_outcome IN ('act', 'same', 'replay') AND c.call_sid IS NULL THEN
        UPDATE calls SET call_sid = p_call_sid, updated_at = now() WHERE id = c.id;
        c.call_sid := p_call_sid;
    END IF;

    RETURN QUERY
    SELECT v_outcome, c.id, c.token, c.call_sid, c.business_id, c.appointment_id, c.flow,
           c.state, c.seq, b.name, b.callback_phone::text,
           to_char(a.starts_at AT TIME ZONE COALESCE(cl.time_zone, b.time_zone), 'FMDay, FMMonth FMDD'),
           to_char(a.starts_at AT TIME ZONE COALESCE(cl.time_zone, b.time_zone), 'FMHH12:MI AM'),
           c.direction, c.caller::text, c.called::text,
           (SELECT g.recording_url FROM greeting_takes g WHERE g.id = b.greeting_take_id),
           CASE WHEN c.direction = 'inbound' AND v_outcome <> 'act' THEN
               (SELECT t.recording_url FROM greeting_takes t WHERE t.call_id = c.id
                 ORDER BY t.take DESC LIMIT 1) END
      FROM (SELECT c.business_id AS business_id, c.appointment_id AS appointment_id) k
      LEFT JOIN businesses b ON b.id = k.business_id
      LEFT JOIN appointments a ON a.id = k.appointment_id AND a.business_id = k.business_id
      LEFT JOIN clients cl ON cl.id = a.client_id;
END;
$$;

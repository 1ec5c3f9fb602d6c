-- ringfence schema, version 31: the scheduler's verdict for every due
-- reminder in one set-based query (issue 13).
-- phase: expand
--
--   reminder_block_due   (new) for every pending reminder due at p_now and
--                        not yet stale, the code and reason
--                        reminder_block (sql/017_office.sql) gives it at
--                        p_now, computed with joins over the whole due set
--                        instead of one function call (and its ~27 buffer
--                        reads) per row.  The scheduler's tick reads it
--                        (src/scheduler.c); the worker's claim still asks
--                        reminder_block, the authority, for the one
--                        reminder it takes.  test/integration's
--                        scheduler_set group checks that both give the
--                        same verdict, rule by rule.
--
-- Expand only: a new function; nothing an earlier release reads changes.
--
-- A LANGUAGE sql, STABLE, non-strict function of one SELECT with no SET
-- clause, so that the planner inlines it into the calling query with the
-- p_now it is given (keep it so: a SET jit = off here would stop the
-- inlining; the scheduler turns JIT off for its transaction).
--
-- The plan.  The due reminders are a few per cent of the table at most
-- (1% in test/bench/scheduler), and the planner cannot see it: it prices
-- "pending and due_at <= now" as if pending reminders were spread over
-- time like all reminders (219,000 rows expected where 10,000 are due at
-- 1,000,000 appointments), so with plain joins it hashed the whole
-- appointments, clients and contact_attempts tables: 1.1-1.4 s against
-- 0.3-0.45 s for reminder_block per row, on the same data.  The
-- appointment (with its client) and the contact attempt are therefore
-- read by one index probe per due reminder, as parameterised subqueries
-- the planner may not flatten (OFFSET 0): about 12 buffer accesses a due
-- reminder (its own heap page, the appointment, the client, the attempt's
-- index) against about 26 through reminder_block, and no function call;
-- the backend's CPU for the 10,000: 0.18 s against 0.22 s.  What is left
-- is mostly reading those pages (the appointments and clients of the due
-- reminders do not stay in shared buffers at that size).
-- Businesses and holds (one per business) are plain joins.

CREATE FUNCTION reminder_block_due(p_now timestamptz)
RETURNS TABLE (id bigint, code text, reason text, status_reason text)
LANGUAGE sql STABLE AS $$
SELECT v.id, v.x[1], v.x[2], v.status_reason FROM (SELECT r.id, r.status_reason, CASE
    -- reminder_block's first rules (a clock, the reminder, pending, due,
    -- not stale) hold for every row of the WHERE below.
    WHEN (SELECT f.tripped FROM failsafe_state f WHERE f.id = 1) IS NOT FALSE
        THEN ARRAY['ineligible', 'failsafe tripped']
    WHEN ac.appointment_id IS NULL OR b.id IS NULL OR ac.client_id IS NULL
        THEN ARRAY['ineligible', 'appointment, business or client missing']
    WHEN r.kind <> 'reply' AND ac.appointment_status NOT IN ('booked', 'confirmed')
        THEN ARRAY['ineligible', 'appointment is ' || ac.appointment_status]
    WHEN r.kind <> 'reply' AND ac.starts_at <= p_now
        THEN ARRAY['ineligible', 'appointment is in the past']
    WHEN b.status NOT IN ('active', 'trial') THEN ARRAY['ineligible', 'business ' || b.status]
    WHEN b.paused_at IS NOT NULL AND r.kind <> 'reply'
        THEN ARRAY['ineligible', 'automatic messages are off']
    -- business_holds.reason is NOT NULL: a row is a hold.
    WHEN h.business_id IS NOT NULL THEN ARRAY['ineligible', 'held by the failsafe: ' || h.reason]
    WHEN r.to_address IS NULL THEN ARRAY['ineligible', 'no address']
    WHEN (b.verified OR r.to_address = b.callback_phone::text) IS NOT TRUE
        THEN ARRAY['ineligible', 'unverified business: only its own number']
    WHEN ac.opted_out_at IS NOT NULL THEN ARRAY['ineligible', 'recipient opted out']
    WHEN ac.proposed_at IS NOT NULL AND ac.confirmed_at IS NULL
        THEN ARRAY['ineligible', 'client not confirmed (proposed from a calendar event)']
    WHEN r.channel = 'voice' AND ac.do_not_call IS NOT FALSE
        THEN ARRAY['ineligible', 'do not call']
    WHEN r.channel <> 'email' AND ac.phone_invalid_at IS NOT NULL
        THEN ARRAY['ineligible', 'recipient number invalid']
    -- contact_attempts.reminder_id is unique: at most one row joined.
    WHEN x.reminder_id IS NOT NULL THEN ARRAY['ineligible', 'already attempted']
    WHEN r.not_before > p_now
        THEN ARRAY['deferred', 'deferred until '
            || to_char(r.not_before AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')]
    WHEN ((p_now AT TIME ZONE COALESCE(ac.time_zone, b.time_zone))::time >= b.window_start
          AND (p_now AT TIME ZONE COALESCE(ac.time_zone, b.time_zone))::time < b.window_end) IS NOT TRUE
        THEN ARRAY['window', 'outside the calling window']
    WHEN r.kind = 'test' AND rf_business_hours(p_now, COALESCE(ac.time_zone, b.time_zone)) IS NOT TRUE
        THEN ARRAY['window', 'test reminder outside business hours (09:00-18:00)']
    ELSE ARRAY[NULL, NULL]::text[] END AS x
  FROM reminders r
  -- The appointment with its client, and the contact attempt: one index
  -- probe per due reminder (OFFSET 0 keeps each a parameterised subquery;
  -- see the header).
  LEFT JOIN LATERAL (
      SELECT a.id AS appointment_id, a.status AS appointment_status, a.starts_at,
             cl.id AS client_id, cl.time_zone, cl.opted_out_at, cl.proposed_at, cl.confirmed_at,
             cl.do_not_call, cl.phone_invalid_at
      FROM appointments a LEFT JOIN clients cl ON cl.id = a.client_id
      WHERE a.id = r.appointment_id AND a.business_id = r.business_id
      OFFSET 0) ac ON true
  LEFT JOIN LATERAL (
      SELECT x.reminder_id FROM contact_attempts x WHERE x.reminder_id = r.id OFFSET 0) x ON true
  -- The businesses and their holds: few rows, hashed or cached by the
  -- planner.
  LEFT JOIN businesses b ON b.id = r.business_id
  LEFT JOIN business_holds h ON h.business_id = b.id
  WHERE r.status = 'pending' AND r.due_at <= p_now AND r.stale_at > p_now) v
$$;

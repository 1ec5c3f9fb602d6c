-- test/bench/pgbench/webhook.sql: the peer of a "press 1" webhook, the
-- transaction ringfence's engine runs for a key press that moves a call
-- (src/engine.c): lock and read the call with everything its template
-- needs (CALL_COLUMNS, by token), record the transition (INSERT INTO
-- call_events), save the new state (UPDATE calls), commit.  test/bench/run
-- runs it with `pgbench -n -M prepared` on the bench's PostgreSQL, as the
-- ringfence role on the ringfence database, with these -D variables:
--
--   token_prefix  the calls' tokens are md5(token_prefix || appointment id)
--                 (test/bench/run seeds them so: 'ringfence-bench:LABEL:')
--   appt_first    the first appointment id of the seeded calls; the ids run
--                 on without a gap
--   calls         how many calls were seeded (all bound to a CallSid, in
--                 the reminder call's start state `announce`, seq 0)
--   clients       pgbench's -c
--   i             0: a per-client counter this script advances
--
-- Each client visits its own calls in order (client_id, client_id +
-- clients, ...), so every transaction is a call's first key press, as the
-- webhook's is, and no two clients wait for the same row lock.  After
-- `calls` transactions in all it starts over; such a call has moved
-- already, and the transaction moves it again from the state it is in.
-- Only this file changes when the webhook's SQL does: the variables stay.
\set appt :appt_first + (:client_id + :clients * :i) % :calls
\set i :i + 1
BEGIN;
SELECT c.id, c.token, c.call_sid, c.business_id, c.appointment_id, c.flow,
       c.state, c.seq, b.name, b.callback_phone,
       to_char(a.starts_at AT TIME ZONE COALESCE(cl.time_zone, b.time_zone), 'FMDay, FMMonth FMDD'),
       to_char(a.starts_at AT TIME ZONE COALESCE(cl.time_zone, b.time_zone), 'FMHH12' || ':' || 'MI AM'),
       c.direction, c.caller, c.called,
       (SELECT g.recording_url FROM greeting_takes g WHERE g.id = b.greeting_take_id)
FROM calls c LEFT JOIN businesses b ON b.id = c.business_id
LEFT JOIN appointments a ON a.id = c.appointment_id AND a.business_id = c.business_id
LEFT JOIN clients cl ON cl.id = a.client_id
WHERE c.token = md5(:token_prefix::text || :appt) FOR UPDATE OF c
\gset call_
\set next_seq :call_seq + 1
INSERT INTO call_events (call_id, seq, from_state, input, to_state, action, digits)
VALUES (:call_id, :next_seq, :call_state, '1', 'details', NULL, '1');
UPDATE calls SET state = 'details', seq = :next_seq, updated_at = now(),
       call_status = COALESCE('in-progress', call_status),
       answered_by = COALESCE(NULL, answered_by) WHERE id = :call_id;
COMMIT;

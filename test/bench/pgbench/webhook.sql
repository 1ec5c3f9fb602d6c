-- test/bench/pgbench/webhook.sql: the peers of the webhooks, the
-- transactions ringfence's engine runs for a call's webhook
-- (src/engine.c), for pgbench.  test/bench/run runs it with
-- `pgbench -n -M prepared` on the bench's PostgreSQL, as the ringfence
-- role on the ringfence database, once for each kind of webhook, with
-- these -D variables:
--
--   kind          1: a call's first webhook (the callee answered): lock and
--                    read the call, bind Twilio's CallSid to it, commit;
--                 2: a key press that moves the call ("press 1" at the
--                    announcement): lock and read the call, record the
--                    transition, save the new state, commit;
--                 3: a replay (a request answered before, or a Gather
--                    action for a state the call has left): lock and read
--                    the call, commit
--   token_prefix  the calls' tokens are md5(token_prefix || appointment id)
--                 (test/bench/run seeds them so: 'ringfence-bench:LABEL:')
--   appt_first    the first appointment id of the seeded calls; the ids run
--                 on without a gap
--   calls         how many calls were seeded: in the reminder call's start
--                 state `announce`, seq 0; bound to a CallSid
--                 ('CA' || md5(token)) for kinds 2 and 3, unbound for 1
--   clients       pgbench's -c
--   i             0: a per-client counter this script advances
--
-- Each client visits its own calls in order (client_id, client_id +
-- clients, ...), so every transaction is a call's first of its kind, as
-- the webhook's is, and no two clients wait for the same row lock.  After
-- `calls` transactions in all it starts over; such a call has moved (or
-- been bound) already, and the transaction does the same again from where
-- the call is.  The read is the engine's CALL_COLUMNS, by token: the
-- call with everything its template needs.  When the webhook's SQL changes
-- (one statement for all three kinds, say), only this file changes: the
-- variables stay, and each kind keeps its own inputs.
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
\if :kind = 1
UPDATE calls SET call_sid = 'CA' || md5(:token_prefix::text || :appt || '/sid'), updated_at = now()
WHERE id = :call_id;
\elif :kind = 2
\set next_seq :call_seq + 1
INSERT INTO call_events (call_id, seq, from_state, input, to_state, action, digits)
VALUES (:call_id, :next_seq, :call_state, '1', 'details', NULL, '1');
UPDATE calls SET state = 'details', seq = :next_seq, updated_at = now(),
       call_status = COALESCE('in-progress', call_status),
       answered_by = COALESCE(NULL, answered_by) WHERE id = :call_id;
\endif
COMMIT;

-- test/bench/pgbench/bind.sql: the peer of a call's first webhook (the
-- callee answered): ringfence locks and reads the call with everything its
-- template needs (CALL_COLUMNS, by token), binds Twilio's CallSid to it
-- (UPDATE calls) and commits (src/engine.c).  Run by test/bench/run with
-- `pgbench -n -M prepared`; the -D variables are webhook.sql's (see there):
-- token_prefix, appt_first, calls, clients, i; the calls are seeded with
-- no CallSid.  A call visited again after `calls` transactions gets the
-- same CallSid again.
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
UPDATE calls SET call_sid = 'CA' || md5(:token_prefix::text || :appt || '/sid'), updated_at = now()
WHERE id = :call_id;
COMMIT;

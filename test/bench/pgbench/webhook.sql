-- test/bench/pgbench/webhook.sql: the peers of the webhooks, the
-- statement ringfence's engine runs for a call's webhook (src/engine.c:
-- rf_voice_step, sql/025_voice_step.sql, one round trip), for pgbench.  test/bench/run runs it with
-- `pgbench -n -M prepared` on the bench's PostgreSQL, as the ringfence
-- role on the ringfence database, once for each kind of webhook, with
-- these -D variables:
--
--   kind          1: a call's first webhook (the callee answered): lock and
--                    read the call, bind Twilio's CallSid to it;
--                 2: a key press that moves the call ("press 1"): lock
--                    and read the call, record the transition (one
--                    call_events row), save the new state;
--                 3: a replay (a request answered before): lock and read
--                    the call
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
-- the call is.  Kind 2 names the call's current state and sequence
-- number (read in the same statement), so that every transaction is a
-- real transition, as a fresh "press 1" is.  Each transaction is one
-- statement in autocommit, as the engine sends it.
\set appt :appt_first + (:client_id + :clients * :i) % :calls
\set i :i + 1
\if :kind = 1
SELECT * FROM rf_voice_step(md5(:token_prefix::text || :appt), 'CA' || md5(:token_prefix::text || :appt || '/sid'),
    'reminder_call',
    '{announce,announce_retry,details,details_retry,confirmed,cancelled,callback,reschedule,no_choice,machine_message,goodbye_invalid}',
    'announce', 0, NULL, NULL, NULL, false, 'in-progress', NULL, NULL, NULL, NULL);
\elif :kind = 2
SELECT s.* FROM calls c,
    rf_voice_step(c.token, c.call_sid, 'reminder_call',
        '{announce,announce_retry,details,details_retry,confirmed,cancelled,callback,reschedule,no_choice,machine_message,goodbye_invalid}',
        c.state, c.seq, '1', 'details', '1', false, 'in-progress', NULL, NULL, NULL, NULL) s
 WHERE c.token = md5(:token_prefix::text || :appt);
\else
SELECT * FROM rf_voice_step(md5(:token_prefix::text || :appt), 'CA' || md5(:token_prefix::text || :appt || '/sid'),
    'reminder_call',
    '{announce,announce_retry,details,details_retry,confirmed,cancelled,callback,reschedule,no_choice,machine_message,goodbye_invalid}',
    'announce', 0, NULL, NULL, NULL, false, 'in-progress', NULL, NULL, NULL, NULL);
\endif

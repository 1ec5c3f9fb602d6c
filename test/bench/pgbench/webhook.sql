-- test/bench/pgbench/webhook.sql: the voice webhook's statement, for pgbench.
--
-- What a "press 1" Gather action to a plain state costs PostgreSQL, as
-- the engine sends it (src/engine.c, one round trip): rf_voice_step
-- (sql/025_voice_step.sql) locks the call by its token, binds the
-- CallSid the webhooks of test/bench/gen_requests send ("CA" + token)
-- when none is bound yet, inserts the call_events row, moves the call on
-- and reads what the TwiML needs (business, appointment date and time in
-- the client's zone, greeting).  One pgbench transaction = one webhook.
--
-- Variables (pgbench -D): calls_from=ID calls_to=ID, the first and last
-- calls.id of the reminder_call calls to pick from at random, e.g. those
-- test/bench/run's seed_calls inserts for one business:
--
--   pgbench -n -f test/bench/pgbench/webhook.sql -M prepared \
--       -D calls_from=ID -D calls_to=ID -c 32 -j 2 -T 10 "$RINGFENCE_DATABASE_URL"
--
-- Setup: none beyond the schema (bin/ringfence migrate: 025 or later) and
-- the seeded calls.  A webhook's URL names the state and sequence number
-- it was rendered for; a call takes a press of 1 once, so each
-- transaction here names the call's current ones (read from the row in
-- the same statement: a primary-key lookup) and takes the transition
-- `1 -> details` from there, whatever state that is.  The work is the
-- webhook's: the lock, one call_events row, the calls row moved on (seq +
-- 1), the read.  A call can take 1000 transitions (calls.seq's CHECK):
-- with the 20,000 calls the bench seeds, that is 20 million transactions.
\set id random(:calls_from, :calls_to)
SELECT s.* FROM calls c,
    rf_voice_step(c.token, 'CA' || c.token, 'reminder_call',
        '{announce,announce_retry,details,details_retry,confirmed,cancelled,callback,reschedule,no_choice,machine_message,goodbye_invalid}',
        c.state, c.seq, '1', 'details', '1', false, 'in-progress', NULL, NULL, NULL, NULL) s
 WHERE c.id = :id;

-- ringfence schema, version 28: the scheduler's tick at millions of
-- reminders (issue 13).
-- phase: expand
--
--   reminders_pending_stale_idx   the pending reminders by stale_at: the
--                                 tick's stale marking (src/scheduler.c)
--                                 reads only the ones past their latest
--                                 useful time, instead of every due one
--                                 through reminders_pending_due_idx and
--                                 its heap row (with 100,000 reminders due
--                                 and none stale, that walk was most of
--                                 the marking's cost on every tick).
--   reminder_refuse_unverified    (replaced) the ids it is given are
--                                 looked up by primary key: written
--                                 (p_ids IS NULL OR r.id = ANY (p_ids)),
--                                 the plan of the SQL function (made once,
--                                 for any p_ids) scanned every due
--                                 reminder for each call, the claim's of
--                                 one id included.  NULL still means
--                                 every due reminder.

CREATE INDEX reminders_pending_stale_idx ON reminders (stale_at) WHERE status = 'pending';

-- sql/016_trial.sql's, with the ids condition the only change.
CREATE OR REPLACE FUNCTION reminder_refuse_unverified(p_now timestamptz, p_ids bigint[])
RETURNS SETOF bigint
LANGUAGE sql SET jit = off AS $$
-- The cheap conditions first, materialised, so that reminder_block (the
-- whole eligibility rule) runs only for the due reminders of unverified
-- businesses addressed to another number, whatever plan the statistics
-- of a freshly filled table suggest.
WITH candidate AS MATERIALIZED (
    SELECT r.id FROM reminders r
    JOIN businesses b ON b.id = r.business_id AND b.verified IS NOT TRUE
    WHERE r.status = 'pending' AND r.due_at <= p_now AND r.stale_at > p_now
        -- 028: one condition the planner can use on reminders_pkey (NULL:
        -- every due reminder, as before; the ids listed otherwise).
        AND r.id = ANY (COALESCE(p_ids, ARRAY(SELECT d.id FROM reminders d
            WHERE d.status = 'pending' AND d.due_at <= p_now AND d.stale_at > p_now)))
        AND r.to_address IS DISTINCT FROM b.callback_phone::text
        AND r.status_reason IS DISTINCT FROM
            'blocked: not allowed — unverified business: only its own number'
    FOR UPDATE OF r SKIP LOCKED
)
UPDATE reminders
SET status_reason = 'blocked: not allowed — unverified business: only its own number',
    updated_at = now()
WHERE id IN (SELECT c.id FROM candidate c
        CROSS JOIN LATERAL reminder_block(c.id, p_now) k
        WHERE k.reason = 'unverified business: only its own number')
    AND status = 'pending'
RETURNING id
$$;

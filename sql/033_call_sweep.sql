-- ringfence schema, version 33: calls whose status callbacks were lost
-- (issue 14).
-- phase: expand
--
--   contact_attempts.status_lost_at
--                        set by the reconciler when a placed call's status
--                        never became final and Twilio answers 20404 for
--                        its sid: Twilio no longer knows it, nobody can
--                        tell how it ended, a person decides (the
--                        reconciler logs and audits it once and looks at
--                        it no more).  NULL otherwise.
--   contact_attempts_sweep_idx
--                        the placed calls whose status is not final (no
--                        status yet, or queued, initiated, ringing,
--                        in-progress): the reconciler's sweep reads the
--                        oldest of them (reconcile.h); finished calls,
--                        texts and emails are not in it.  The final
--                        statuses are status.c's call_ranks of rank
--                        STATUS_FINAL_RANK, in that order (reconcile.c
--                        builds its query's condition from that table, so
--                        that it matches this predicate).
--
-- Expand only: a nullable column nobody else writes, and an index.
ALTER TABLE contact_attempts ADD COLUMN IF NOT EXISTS status_lost_at timestamptz;

CREATE INDEX IF NOT EXISTS contact_attempts_sweep_idx ON contact_attempts (updated_at)
    WHERE channel = 'voice' AND status = 'placed' AND provider_sid IS NOT NULL
    AND status_lost_at IS NULL
    AND (delivery_status IS NULL
         OR NOT (delivery_status = ANY ('{completed,busy,no-answer,failed,canceled}'::text[])));

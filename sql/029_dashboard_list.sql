-- ringfence schema, version 29: the dashboard's appointment list at scale
-- (issue 13).
-- phase: expand
--
--   calls_reminder_idx   a reminder's calls, newest first: the list and
--                        the appointment page read the last call of each
--                        reminder they show (its status, who answered,
--                        the key pressed).  Without it each reminder
--                        scanned the whole calls table.
--
-- Expand only: a new index; nothing an earlier release reads changes.

CREATE INDEX calls_reminder_idx ON calls (reminder_id, id) WHERE reminder_id IS NOT NULL;

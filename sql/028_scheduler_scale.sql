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

CREATE INDEX reminders_pending_stale_idx ON reminders (stale_at) WHERE status = 'pending';

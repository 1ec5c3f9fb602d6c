-- ringfence schema, version 5: reminder plans.
--
-- Rescheduling an appointment cancels its unsent reminders and plans new
-- ones.  The new rows must not collide with the old plan's under the
-- unique key (appointment_id, channel, offset_minutes, attempt): a voice
-- reminder 24 h before the old time may already have been placed, and
-- the new time needs its own.  The rows of an earlier plan stay as
-- history, marked superseded_at; the unique key holds among the rows of
-- the current plan (superseded_at IS NULL), where a retry is still one
-- row per attempt.  A superseded row is never pending, so nothing of an
-- old plan can be sent.
--
-- INSERT ... ON CONFLICT on this key names the index's predicate:
--   ON CONFLICT (appointment_id, channel, offset_minutes, attempt)
--       WHERE superseded_at IS NULL DO NOTHING

ALTER TABLE reminders ADD COLUMN superseded_at timestamptz;
ALTER TABLE reminders
    DROP CONSTRAINT reminders_appointment_id_channel_offset_minutes_attempt_key;
CREATE UNIQUE INDEX reminders_current_key
    ON reminders (appointment_id, channel, offset_minutes, attempt)
    WHERE superseded_at IS NULL;
ALTER TABLE reminders ADD CONSTRAINT reminders_superseded_check
    CHECK (superseded_at IS NULL OR status <> 'pending');
-- Every row of an appointment, superseded or not (the API lists them).
CREATE INDEX reminders_appointment_idx ON reminders (appointment_id);

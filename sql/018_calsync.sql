-- ringfence schema, version 18: what the calendar sync keeps for itself.
--
--   calendar_feeds.applied_at  when the feed's content was last read into
--                              calendar_events (a sync that applied it, or
--                              found it unchanged and the window had not
--                              moved).  An unchanged feed is read again
--                              (fetched without If-None-Match) once this
--                              is a day old, so that the occurrences of a
--                              recurring event that enter the 60-day
--                              horizon as the days pass get their
--                              reminders.

ALTER TABLE calendar_feeds ADD COLUMN applied_at timestamptz;

-- ringfence schema, version 24: what operations read (issue 12).
-- phase: expand
--
--   process_heartbeats   one row per long-running process (scheduler,
--                        worker, calsync, the FastCGI pool's master),
--                        keyed by (kind, host, pid): written when the
--                        process starts and again at least every
--                        beat_every_s seconds while it runs (each tick of
--                        the scheduler, each loop of a worker), with
--                        what it last did.  last_tick_at is the
--                        scheduler's last tick that ran (it held the
--                        lock), last_ok_at the last loop that succeeded.
--                        Readers (/metrics, `ringfence doctor`, `ringfence
--                        status`) call a process alive while beat_at is
--                        within 3 x beat_every_s of now.  A process that
--                        stops cleanly deletes its row; rows older than a
--                        day are deleted by the scheduler.  The clock is
--                        the database's (now()), never RINGFENCE_NOW, so
--                        that a test's fixed time cannot make a dead
--                        process look alive.
--   deployment_events    what the upgrade, rollback, backup and restore
--                        tools did (kind, release, detail), an append-only
--                        log the operator reads with `ringfence status`.
--
-- Expand only: new tables; nothing an earlier release reads changes.

CREATE TABLE process_heartbeats (
    kind          text NOT NULL CHECK (kind IN ('scheduler', 'worker', 'calsync', 'fcgi', 'office-mail')),
    host          text NOT NULL CHECK (length(host) BETWEEN 1 AND 255),
    pid           integer NOT NULL CHECK (pid > 0),
    version       text NOT NULL DEFAULT '' CHECK (length(version) <= 100),
    started_at    timestamptz NOT NULL DEFAULT now(),
    beat_at       timestamptz NOT NULL DEFAULT now(),
    beat_every_s  integer NOT NULL DEFAULT 60 CHECK (beat_every_s BETWEEN 1 AND 86400),
    last_tick_at  timestamptz,
    last_ok_at    timestamptz,
    last_error    text CHECK (last_error IS NULL OR length(last_error) <= 500),
    PRIMARY KEY (kind, host, pid)
);
CREATE INDEX process_heartbeats_beat ON process_heartbeats (kind, beat_at);

CREATE TABLE deployment_events (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL CHECK (kind IN ('upgrade', 'rollback', 'migrate', 'backup',
                                              'restore', 'restore_reconciled', 'reload')),
    release     text CHECK (release IS NULL OR length(release) <= 200),
    actor       text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX deployment_events_at ON deployment_events (at DESC);

-- ringfence schema, version 10: the dashboard's clients pages and CSV
-- import.
--
--   clients.do_not_call      the business's "never call this client" (voice
--                            only; 008_api.sql adds it the same way and
--                            makes reminder_block refuse voice for it).
--   clients.opted_out_by     who set opted_out_at from the dashboard (the
--                            user's login); NULL when the client did
--                            (STOP reply, Twilio 21610, unsubscribe link).
--   csv_uploads              a parsed, validated upload waiting for the
--                            owner's "Import" (one hour), then marked
--                            committed: nothing is imported from a preview.
--
-- Matching an import against what exists: clients by (business, phone) or
-- (business, lower(email)), appointments by (business, client, starts_at).
-- These are lookup indexes, not unique ones: the API and existing data may
-- hold two clients sharing a phone (a family) or an email, and a unique
-- index would refuse them (or fail this migration on data that has them).
-- The import takes a per-business lock (pg_advisory_xact_lock) so that two
-- imports cannot both find a row missing and both create it.

ALTER TABLE clients ADD COLUMN IF NOT EXISTS do_not_call boolean NOT NULL DEFAULT false;
ALTER TABLE clients ADD COLUMN IF NOT EXISTS opted_out_by text
    CHECK (opted_out_by IS NULL OR length(opted_out_by) BETWEEN 1 AND 254);

CREATE INDEX IF NOT EXISTS clients_business_phone_idx ON clients (business_id, phone)
    WHERE phone IS NOT NULL;
CREATE INDEX IF NOT EXISTS clients_business_email_idx ON clients (business_id, lower(email))
    WHERE email IS NOT NULL;
CREATE INDEX IF NOT EXISTS appointments_business_client_starts_idx
    ON appointments (business_id, client_id, starts_at);

CREATE TABLE csv_uploads (
    id              bigserial PRIMARY KEY,
    business_id     bigint NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    user_id         bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('clients', 'appointments')),
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- The validated rows, normalised: [{"line": 2, "name": ..., ...}, ...].
    rows            jsonb NOT NULL CHECK (jsonb_typeof(rows) = 'array'),
    row_count       integer NOT NULL CHECK (row_count BETWEEN 0 AND 100000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL DEFAULT now() + interval '1 hour',
    committed_at    timestamptz,
    created_clients integer,
    created_appointments integer,
    CHECK (expires_at > created_at)
);
CREATE INDEX csv_uploads_business_idx ON csv_uploads (business_id, sha256);
CREATE INDEX csv_uploads_expires_idx ON csv_uploads (expires_at) WHERE committed_at IS NULL;

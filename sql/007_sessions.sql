-- ringfence schema, version 7: dashboard sessions, operators and the
-- login throttle (include/session.h).
--
-- A session row holds only the SHA-256 of the cookie's random id, so a
-- dump of this table logs nobody in.  A session ends at expires_at
-- (absolute, set at login), after SESSION_IDLE_SECONDS without a request
-- (last_seen_at), or at revoked_at (logout, password change, the
-- sessions page), whichever comes first.

-- An operator runs the deployment: the pages show whichever business
-- the operator picks (sessions.acting_business_id).
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('owner', 'staff', 'operator'));

CREATE TABLE sessions (
    id                  bigserial PRIMARY KEY,
    token_sha256        text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    user_id             bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token          text NOT NULL CHECK (csrf_token ~ '^[0-9a-f]{64}$'),
    -- Operators only: the business the pages show; NULL: their own.
    acting_business_id  bigint REFERENCES businesses(id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    revoked_at          timestamptz,
    remote_addr         text NOT NULL DEFAULT '' CHECK (length(remote_addr) <= 64),
    user_agent          text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 256)
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Failed logins, one row each, for the throttle's PostgreSQL side
-- (Redis counts them too; the larger count wins, so a Redis restart or
-- flush resets nothing).  key names no typed login: "user:<id>" for an
-- account, "unknown:<bucket>" (a keyed hash of an unknown login into at
-- most 4096 buckets), "addr:<address>" (an IPv6 address by its /64).
-- Rows older than the throttle's window are pruned at each failure.
CREATE TABLE login_failures (
    id          bigserial PRIMARY KEY,
    key         text NOT NULL CHECK (key ~ '^(user|unknown|addr):[0-9A-Za-z.:/_-]{1,64}$'),
    failed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_key_idx ON login_failures (key, failed_at);
CREATE INDEX login_failures_time_idx ON login_failures (failed_at);

-- ringfence schema, version 3: the people who log in to the dashboard.
--
-- A user belongs to one business.  Passwords are stored only as yescrypt
-- hashes (libcrypt's "$y$" format); the e-mail address is the login, unique
-- regardless of case.

CREATE TABLE users (
    id              bigserial PRIMARY KEY,
    business_id     bigint NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    email           email_address NOT NULL,
    password_hash   text NOT NULL CHECK (password_hash ~ '^\$y\$[./0-9A-Za-z]+\$[./0-9A-Za-z]+\$[./0-9A-Za-z]{43}$'),
    role            text NOT NULL DEFAULT 'owner' CHECK (role IN ('owner', 'staff')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_idx ON users (lower(email));
CREATE INDEX users_business_idx ON users (business_id);

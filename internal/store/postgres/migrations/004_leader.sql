-- Leases of internal/leadership: one row per lease name, the coordinator's
-- being the only one so far. Every acquisition increments epoch; a
-- transaction that carries an epoch reads its row FOR SHARE first and writes
-- nothing unless that epoch is still the stored one and the lease is held
-- (holder is '' once released). Lease expiry is judged with the times the
-- acquirers pass in, never now().
CREATE TABLE platform.leader (
    name             text COLLATE "C" PRIMARY KEY,
    holder           text        NOT NULL,
    epoch            bigint      NOT NULL CHECK (epoch > 0),
    acquired_at      timestamptz NOT NULL,
    renewed_at       timestamptz NOT NULL,
    lease_expires_at timestamptz NOT NULL
);

-- FOR SHARE needs UPDATE as well as SELECT.
GRANT SELECT, INSERT, UPDATE ON platform.leader TO tricycle_app;

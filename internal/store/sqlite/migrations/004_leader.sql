-- Leases of internal/leadership: one row per lease name, the coordinator's
-- being the only one so far. Every acquisition increments epoch; a
-- transaction that carries an epoch reads its row first (under the write
-- lock every transaction holds) and writes nothing unless that epoch is
-- still the stored one and the lease is held (holder is '' once released).
-- Times are fixed-width RFC 3339 text, so their text order is time order.
CREATE TABLE platform_leader (
    name             TEXT    PRIMARY KEY,
    holder           TEXT    NOT NULL,
    epoch            INTEGER NOT NULL CHECK (epoch > 0),
    acquired_at      TEXT    NOT NULL,
    renewed_at       TEXT    NOT NULL,
    lease_expires_at TEXT    NOT NULL
);

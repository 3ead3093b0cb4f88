-- API bearer tokens: only the SHA-256 digest of each secret is stored.
CREATE TABLE platform.tokens (
    id         text COLLATE "C" PRIMARY KEY,
    hash       text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    data       json        NOT NULL
);
GRANT SELECT, INSERT, UPDATE ON platform.tokens TO tricycle_app;

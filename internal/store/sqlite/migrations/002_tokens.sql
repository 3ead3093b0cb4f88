-- API bearer tokens: only the SHA-256 digest of each secret is stored.
CREATE TABLE platform_tokens (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    data       TEXT NOT NULL
);

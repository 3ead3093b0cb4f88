-- Initial schema. Tables are named <postgres schema>_<table>; each row has real
-- columns for what is filtered or ordered on, and the object's JSON in data.
-- Times are fixed-width RFC 3339 UTC text (nanoseconds) supplied by the
-- caller, so that text order is time order.

CREATE TABLE experiments_v1_experiments (
    id         TEXT    PRIMARY KEY,
    state      TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    data       TEXT    NOT NULL
);
CREATE INDEX experiments_v1_experiments_state_idx ON experiments_v1_experiments (state, created_at, id);
CREATE INDEX experiments_v1_experiments_created_idx ON experiments_v1_experiments (created_at, id);

CREATE TABLE experiments_v1_proposals (
    id         TEXT    PRIMARY KEY,
    state      TEXT    NOT NULL,
    priority   REAL    NOT NULL,
    dedupe_key TEXT    NOT NULL,
    record_id  TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    data       TEXT    NOT NULL
);
CREATE INDEX experiments_v1_proposals_state_idx ON experiments_v1_proposals (state, priority DESC, created_at, id);
CREATE INDEX experiments_v1_proposals_priority_idx ON experiments_v1_proposals (priority DESC, created_at, id);
CREATE INDEX experiments_v1_proposals_dedupe_idx ON experiments_v1_proposals (dedupe_key);

CREATE TABLE production_promotions (
    id            TEXT    PRIMARY KEY,
    experiment_id TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    requested_at  TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    data          TEXT    NOT NULL
);
CREATE INDEX production_promotions_state_idx ON production_promotions (state, requested_at, id);
CREATE INDEX production_promotions_experiment_idx ON production_promotions (experiment_id, requested_at, id);
CREATE INDEX production_promotions_requested_idx ON production_promotions (requested_at, id);

CREATE TABLE production_releases (
    id            TEXT    PRIMARY KEY,
    state         TEXT    NOT NULL,
    experiment_id TEXT    NOT NULL,
    promotion_id  TEXT    NOT NULL,
    activated_at  TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    data          TEXT    NOT NULL
);
-- Exactly one release serves production.
CREATE UNIQUE INDEX production_releases_one_active ON production_releases (state) WHERE state = 'active';
CREATE INDEX production_releases_activated_idx ON production_releases (activated_at DESC, id DESC);

CREATE TABLE quarantine_records (
    id             TEXT PRIMARY KEY,
    experiment_id  TEXT NOT NULL,
    failure_type   TEXT NOT NULL,
    quarantined_at TEXT NOT NULL,
    next_review_at TEXT,
    content_hash   TEXT NOT NULL,
    data           TEXT NOT NULL
);
CREATE INDEX quarantine_records_experiment_idx ON quarantine_records (experiment_id, quarantined_at, id);
CREATE INDEX quarantine_records_quarantined_idx ON quarantine_records (quarantined_at, id);

CREATE TABLE quarantine_reviews (
    id             TEXT PRIMARY KEY,
    record_id      TEXT NOT NULL REFERENCES quarantine_records (id),
    reviewed_at    TEXT NOT NULL,
    next_review_at TEXT,
    data           TEXT NOT NULL
);
CREATE INDEX quarantine_reviews_record_idx ON quarantine_reviews (record_id, reviewed_at, id);

CREATE TABLE quarantine_blacklist (
    id         TEXT PRIMARY KEY,
    record_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    lifted_at  TEXT,
    lifted_by  TEXT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX quarantine_blacklist_active_key_idx ON quarantine_blacklist (key) WHERE lifted_at IS NULL;
CREATE INDEX quarantine_blacklist_record_idx ON quarantine_blacklist (record_id);
CREATE INDEX quarantine_blacklist_created_idx ON quarantine_blacklist (created_at, id);

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    role      TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL,
    data      TEXT    NOT NULL
);

CREATE TABLE platform_outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT    NOT NULL UNIQUE,
    type         TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    event_time   TEXT    NOT NULL,
    data         TEXT    NOT NULL,
    published_at TEXT
);
CREATE INDEX platform_outbox_pending_idx ON platform_outbox (seq) WHERE published_at IS NULL;

CREATE TABLE platform_consumer_events (
    consumer     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE platform_kv (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    updated_at TEXT NOT NULL
);

-- Quarantine records and reviews and the audit log are append-only: the
-- database itself refuses to change or remove them.
CREATE TRIGGER quarantine_records_no_update BEFORE UPDATE ON quarantine_records
BEGIN SELECT RAISE(ABORT, 'quarantine_records is append-only'); END;
CREATE TRIGGER quarantine_records_no_delete BEFORE DELETE ON quarantine_records
BEGIN SELECT RAISE(ABORT, 'quarantine_records is append-only'); END;
CREATE TRIGGER quarantine_reviews_no_update BEFORE UPDATE ON quarantine_reviews
BEGIN SELECT RAISE(ABORT, 'quarantine_reviews is append-only'); END;
CREATE TRIGGER quarantine_reviews_no_delete BEFORE DELETE ON quarantine_reviews
BEGIN SELECT RAISE(ABORT, 'quarantine_reviews is append-only'); END;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

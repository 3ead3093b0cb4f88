-- Initial schema. One PostgreSQL schema per part of the cycle: experiments_v1
-- (V1), production (V2), quarantine (V3), audit, platform. Each row has real
-- columns for what is filtered or ordered on and the object's JSON in data.
-- data is json, not jsonb: json keeps the text exactly as written (raw event
-- payloads read back byte for byte, strings may hold U+0000), and the ->, ->>
-- operators still work on it. Times are timestamptz written from the times
-- the application passes in; they order and filter at PostgreSQL's
-- microsecond precision, while data keeps nanoseconds. Text columns that
-- break ties in an ORDER BY use the "C" collation (code point order, as in
-- the other stores).

CREATE SCHEMA IF NOT EXISTS experiments_v1;
CREATE SCHEMA IF NOT EXISTS production;
CREATE SCHEMA IF NOT EXISTS quarantine;
CREATE SCHEMA IF NOT EXISTS audit;

CREATE TABLE experiments_v1.experiments (
    id         text COLLATE "C" PRIMARY KEY,
    state      text        NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version    bigint      NOT NULL,
    data       json        NOT NULL
);
CREATE INDEX experiments_state_idx ON experiments_v1.experiments (state, created_at, id);
CREATE INDEX experiments_created_idx ON experiments_v1.experiments (created_at, id);

CREATE TABLE experiments_v1.proposals (
    id         text COLLATE "C" PRIMARY KEY,
    state      text             NOT NULL,
    priority   double precision NOT NULL,
    dedupe_key text             NOT NULL,
    record_id  text             NOT NULL,
    created_at timestamptz      NOT NULL,
    updated_at timestamptz      NOT NULL,
    version    bigint           NOT NULL,
    data       json             NOT NULL
);
CREATE INDEX proposals_state_idx ON experiments_v1.proposals (state, priority DESC, created_at, id);
CREATE INDEX proposals_priority_idx ON experiments_v1.proposals (priority DESC, created_at, id);
CREATE INDEX proposals_dedupe_idx ON experiments_v1.proposals (dedupe_key);

CREATE TABLE production.promotions (
    id            text COLLATE "C" PRIMARY KEY,
    experiment_id text        NOT NULL,
    state         text        NOT NULL,
    requested_at  timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    version       bigint      NOT NULL,
    data          json        NOT NULL
);
CREATE INDEX promotions_state_idx ON production.promotions (state, requested_at, id);
CREATE INDEX promotions_experiment_idx ON production.promotions (experiment_id, requested_at, id);
CREATE INDEX promotions_requested_idx ON production.promotions (requested_at, id);

CREATE TABLE production.releases (
    id            text COLLATE "C" PRIMARY KEY,
    state         text        NOT NULL,
    experiment_id text        NOT NULL,
    promotion_id  text        NOT NULL,
    activated_at  timestamptz NOT NULL,
    version       bigint      NOT NULL,
    data          json        NOT NULL
);
-- Exactly one release serves production.
CREATE UNIQUE INDEX releases_one_active ON production.releases (state) WHERE state = 'active';
CREATE INDEX releases_activated_idx ON production.releases (activated_at DESC, id DESC);

CREATE TABLE quarantine.records (
    id             text COLLATE "C" PRIMARY KEY,
    experiment_id  text        NOT NULL,
    failure_type   text        NOT NULL,
    quarantined_at timestamptz NOT NULL,
    next_review_at timestamptz,
    content_hash   text        NOT NULL,
    data           json        NOT NULL
);
CREATE INDEX records_experiment_idx ON quarantine.records (experiment_id, quarantined_at, id);
CREATE INDEX records_quarantined_idx ON quarantine.records (quarantined_at, id);

CREATE TABLE quarantine.reviews (
    id             text COLLATE "C" PRIMARY KEY,
    record_id      text COLLATE "C" NOT NULL REFERENCES quarantine.records (id),
    reviewed_at    timestamptz NOT NULL,
    next_review_at timestamptz,
    data           json        NOT NULL
);
CREATE INDEX reviews_record_idx ON quarantine.reviews (record_id, reviewed_at, id);

CREATE TABLE quarantine.blacklist (
    id         text COLLATE "C" PRIMARY KEY,
    record_id  text        NOT NULL,
    kind       text        NOT NULL,
    key        text        NOT NULL,
    created_at timestamptz NOT NULL,
    lifted_at  timestamptz,
    lifted_by  text        NOT NULL,
    data       json        NOT NULL
);
CREATE INDEX blacklist_active_key_idx ON quarantine.blacklist (key) WHERE lifted_at IS NULL;
CREATE INDEX blacklist_record_idx ON quarantine.blacklist (record_id);
CREATE INDEX blacklist_created_idx ON quarantine.blacklist (created_at, id);

CREATE TABLE audit.log (
    seq       bigint PRIMARY KEY,
    at        timestamptz NOT NULL,
    actor     text        NOT NULL,
    role      text        NOT NULL,
    action    text        NOT NULL,
    target    text        NOT NULL,
    prev_hash text        NOT NULL,
    hash      text        NOT NULL,
    data      json        NOT NULL
);

-- The head of the audit chain. Appending locks this one row (SELECT … FOR
-- UPDATE) until commit, so two transactions cannot take the same seq and a
-- rolled-back append leaves no gap.
CREATE TABLE audit.chain_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seq       bigint  NOT NULL,
    hash      text    NOT NULL
);
INSERT INTO audit.chain_head (seq, hash) VALUES (0, '');

CREATE TABLE platform.outbox (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     text        NOT NULL UNIQUE,
    type         text        NOT NULL,
    subject      text        NOT NULL,
    event_time   timestamptz NOT NULL,
    data         json        NOT NULL,
    published_at timestamptz
);
CREATE INDEX outbox_pending_idx ON platform.outbox (seq) WHERE published_at IS NULL;

CREATE TABLE platform.consumer_events (
    consumer     text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE platform.kv (
    key        text PRIMARY KEY,
    value      bytea       NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Quarantine records and reviews and the audit log are append-only: the
-- database itself refuses to change or remove them, whoever asks. The
-- triggers are ENABLE ALWAYS, so session_replication_role = replica does not
-- switch them off; only the tables' owner can drop or disable them.
CREATE FUNCTION platform.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only: % refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER records_append_only BEFORE UPDATE OR DELETE ON quarantine.records
    FOR EACH ROW EXECUTE FUNCTION platform.refuse_change();
CREATE TRIGGER records_no_truncate BEFORE TRUNCATE ON quarantine.records
    FOR EACH STATEMENT EXECUTE FUNCTION platform.refuse_change();
CREATE TRIGGER reviews_append_only BEFORE UPDATE OR DELETE ON quarantine.reviews
    FOR EACH ROW EXECUTE FUNCTION platform.refuse_change();
CREATE TRIGGER reviews_no_truncate BEFORE TRUNCATE ON quarantine.reviews
    FOR EACH STATEMENT EXECUTE FUNCTION platform.refuse_change();
CREATE TRIGGER log_append_only BEFORE UPDATE OR DELETE ON audit.log
    FOR EACH ROW EXECUTE FUNCTION platform.refuse_change();
CREATE TRIGGER log_no_truncate BEFORE TRUNCATE ON audit.log
    FOR EACH STATEMENT EXECUTE FUNCTION platform.refuse_change();
ALTER TABLE quarantine.records ENABLE ALWAYS TRIGGER records_append_only;
ALTER TABLE quarantine.records ENABLE ALWAYS TRIGGER records_no_truncate;
ALTER TABLE quarantine.reviews ENABLE ALWAYS TRIGGER reviews_append_only;
ALTER TABLE quarantine.reviews ENABLE ALWAYS TRIGGER reviews_no_truncate;
ALTER TABLE audit.log ENABLE ALWAYS TRIGGER log_append_only;
ALTER TABLE audit.log ENABLE ALWAYS TRIGGER log_no_truncate;

-- tricycle_app holds exactly what the application needs. It cannot log in:
-- operators give it to the login role the servers use, for example
--
--     CREATE ROLE tricycle_server LOGIN PASSWORD '…' IN ROLE tricycle_app;
--     -- or, for an existing role: GRANT tricycle_app TO tricycle_server;
--
-- and run migrations as the role that owns the schemas (the servers then find
-- nothing to apply and need no DDL rights). The role is cluster-wide, so it
-- is created only when absent; two databases migrating at once may race to
-- create it, which the exception handler absorbs. Every later migration that
-- adds a table grants on it here too.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'tricycle_app') THEN
        BEGIN
            CREATE ROLE tricycle_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA experiments_v1, production, quarantine, audit, platform TO tricycle_app;
GRANT SELECT ON platform.schema_migrations TO tricycle_app;
GRANT SELECT, INSERT, UPDATE ON experiments_v1.experiments, experiments_v1.proposals,
    production.promotions, production.releases, quarantine.blacklist,
    platform.outbox, platform.kv TO tricycle_app;
-- Append-only tables: read and append, nothing else.
GRANT SELECT, INSERT ON quarantine.records, quarantine.reviews, audit.log,
    platform.consumer_events TO tricycle_app;
GRANT SELECT, UPDATE ON audit.chain_head TO tricycle_app;

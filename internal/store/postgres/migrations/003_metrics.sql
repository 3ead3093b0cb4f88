-- Persisted metric buckets of the data plane (one row per series and bucket
-- start; data is the recorder's encoded aggregate) and user feedback on
-- findings. A bucket's start is part of its identity and is read back, so it
-- keeps nanoseconds: start holds the microseconds PostgreSQL can, start_ns
-- the remaining 0–999 nanoseconds.
CREATE TABLE platform.metric_buckets (
    series     text COLLATE "C" NOT NULL,
    start      timestamptz NOT NULL,
    start_ns   smallint    NOT NULL CHECK (start_ns BETWEEN 0 AND 999),
    data       bytea       NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (series, start, start_ns)
);
CREATE INDEX metric_buckets_start_idx ON platform.metric_buckets (start);

CREATE TABLE production.feedback (
    id        text COLLATE "C" PRIMARY KEY,
    review_id text        NOT NULL,
    category  text        NOT NULL,
    verdict   text        NOT NULL,
    at        timestamptz NOT NULL,
    data      json        NOT NULL
);
CREATE INDEX feedback_at_idx ON production.feedback (at, id);

-- Buckets are replaced while they fill and deleted by retention; feedback is
-- only ever added.
GRANT SELECT, INSERT, UPDATE, DELETE ON platform.metric_buckets TO tricycle_app;
GRANT SELECT, INSERT ON production.feedback TO tricycle_app;

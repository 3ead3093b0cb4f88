-- Persisted metric buckets of the data plane (one row per series and bucket
-- start; data is the recorder's encoded aggregate) and user feedback on
-- findings.
CREATE TABLE platform_metric_buckets (
    series     TEXT NOT NULL,
    start      TEXT NOT NULL,
    data       BLOB NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (series, start)
) WITHOUT ROWID;

CREATE INDEX platform_metric_buckets_start ON platform_metric_buckets (start);

CREATE TABLE production_feedback (
    id        TEXT PRIMARY KEY,
    review_id TEXT NOT NULL,
    category  TEXT NOT NULL,
    verdict   TEXT NOT NULL,
    at        TEXT NOT NULL,
    data      TEXT NOT NULL
);

CREATE INDEX production_feedback_at ON production_feedback (at, id);

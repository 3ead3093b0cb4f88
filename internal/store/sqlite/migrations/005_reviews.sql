-- Answered production reviews, kept for their owners' later reads (one row
-- per review; data is the stored review as JSON, the gateway's review within
-- it). Rows are only added, and removed by retention on created_at.
-- Times are fixed-width RFC 3339 text, so their text order is time order.
CREATE TABLE production_reviews (
    id         TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    repository TEXT NOT NULL,
    arm        TEXT NOT NULL,
    variant    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    data       TEXT NOT NULL
);

CREATE INDEX production_reviews_created_at ON production_reviews (created_at);

-- Answered production reviews, kept for their owners' later reads (one row
-- per review; data is the stored review as JSON, the gateway's review within
-- it, and keeps created_at to the nanosecond). Rows are only added, and
-- removed by retention on created_at.
CREATE TABLE production.reviews (
    id         text COLLATE "C" PRIMARY KEY,
    owner      text        NOT NULL,
    repository text        NOT NULL,
    arm        text        NOT NULL,
    variant    text        NOT NULL,
    created_at timestamptz NOT NULL,
    data       json        NOT NULL
);
CREATE INDEX reviews_created_at_idx ON production.reviews (created_at);

GRANT SELECT, INSERT, DELETE ON production.reviews TO tricycle_app;

package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// splitNanos returns t truncated to the microsecond, as PostgreSQL stores
// it, and the nanoseconds below it.
func splitNanos(t time.Time) (time.Time, int16) {
	ns := t.Nanosecond() % 1000
	return t.Add(-time.Duration(ns)), int16(ns)
}

// MetricBucketPut stores b, replacing the bucket with the same series and start.
func (t *tx) MetricBucketPut(ctx context.Context, b coordination.MetricBucket, at time.Time) error {
	if err := coordination.ValidMetricSeries(b.Series); err != nil {
		return fmt.Errorf("put metric bucket: %w", err)
	}
	data := b.Data
	if data == nil {
		data = []byte{}
	}
	start, ns := splitNanos(b.Start)
	_, err := t.Exec(ctx, `INSERT INTO platform.metric_buckets (series, start, start_ns, data, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (series, start, start_ns) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
		col(b.Series), start, ns, data, at)
	if err != nil {
		return fmt.Errorf("put metric bucket %q at %s: %w", b.Series, b.Start.Format(time.RFC3339Nano), err)
	}
	return nil
}

// MetricBucketsDelete removes every bucket starting before before.
func (t *tx) MetricBucketsDelete(ctx context.Context, before time.Time) (int, error) {
	start, ns := splitNanos(before)
	tag, err := t.Exec(ctx, "DELETE FROM platform.metric_buckets WHERE (start, start_ns) < ($1, $2)", start, ns)
	if err != nil {
		return 0, fmt.Errorf("delete metric buckets before %s: %w", before.Format(time.RFC3339Nano), err)
	}
	return int(tag.RowsAffected()), nil
}

// MetricBuckets returns series' buckets starting at or after from, oldest first.
func (r reader) MetricBuckets(ctx context.Context, series string, from time.Time) ([]coordination.MetricBucket, error) {
	start, ns := splitNanos(from)
	rows, err := r.q.Query(ctx, `SELECT start, start_ns, data FROM platform.metric_buckets
		WHERE series = $1 AND (start, start_ns) >= ($2, $3) ORDER BY start, start_ns`, col(series), start, ns)
	if err != nil {
		return nil, fmt.Errorf("list metric buckets of %q: %w", series, err)
	}
	defer rows.Close()
	out := []coordination.MetricBucket{}
	for rows.Next() {
		var at time.Time
		var ns int16
		var data []byte
		if err := rows.Scan(&at, &ns, &data); err != nil {
			return nil, fmt.Errorf("list metric buckets of %q: %w", series, err)
		}
		if data == nil {
			data = []byte{}
		}
		out = append(out, coordination.MetricBucket{Series: series, Start: at.Add(time.Duration(ns)).UTC(), Data: data})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list metric buckets of %q: %w", series, err)
	}
	return out, nil
}

// MetricSeries returns every series with a stored bucket, sorted.
func (r reader) MetricSeries(ctx context.Context) ([]string, error) {
	rows, err := r.q.Query(ctx, "SELECT DISTINCT series FROM platform.metric_buckets ORDER BY series")
	if err != nil {
		return nil, fmt.Errorf("list metric series: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("list metric series: %w", err)
		}
		out = append(out, uncol(s))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list metric series: %w", err)
	}
	return out, nil
}

// FeedbackInsert stores f; a stored ID is an ErrConflict error.
func (t *tx) FeedbackInsert(ctx context.Context, f *coordination.FindingFeedback) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	return t.insert(ctx, row{kind: "feedback", table: "production.feedback", id: f.ID,
		cols: []string{"review_id", "category", "verdict", "at"},
		vals: []any{col(f.ReviewID), col(f.Category), col(f.Verdict), f.At}, obj: f})
}

// FeedbackSince returns the feedback given at or after since (compared at
// microsecond precision), oldest first.
func (r reader) FeedbackSince(ctx context.Context, since time.Time) ([]*coordination.FindingFeedback, error) {
	return list[coordination.FindingFeedback](ctx, r.q, "feedback",
		"SELECT id, data FROM production.feedback WHERE at >= $1 ORDER BY at, id", since)
}

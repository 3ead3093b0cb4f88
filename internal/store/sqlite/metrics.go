package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// MetricBucketPut stores b, replacing the bucket with the same series and start.
func (t *tx) MetricBucketPut(ctx context.Context, b coordination.MetricBucket, at time.Time) error {
	if err := coordination.ValidMetricSeries(b.Series); err != nil {
		return fmt.Errorf("put metric bucket: %w", err)
	}
	data := b.Data
	if data == nil {
		data = []byte{}
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO platform_metric_buckets (series, start, data, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (series, start) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
		b.Series, ts(b.Start), data, ts(at))
	if err != nil {
		return fmt.Errorf("put metric bucket %q at %s: %w", b.Series, ts(b.Start), err)
	}
	return nil
}

// MetricBucketsDelete removes every bucket starting before before.
func (t *tx) MetricBucketsDelete(ctx context.Context, before time.Time) (int, error) {
	res, err := t.q.ExecContext(ctx, "DELETE FROM platform_metric_buckets WHERE start < ?", ts(before))
	if err != nil {
		return 0, fmt.Errorf("delete metric buckets before %s: %w", ts(before), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete metric buckets before %s: %w", ts(before), err)
	}
	return int(n), nil
}

// MetricBuckets returns series' buckets starting at or after from, oldest first.
func (r reader) MetricBuckets(ctx context.Context, series string, from time.Time) ([]coordination.MetricBucket, error) {
	rows, err := r.q.QueryContext(ctx,
		"SELECT start, data FROM platform_metric_buckets WHERE series = ? AND start >= ? ORDER BY start", series, ts(from))
	if err != nil {
		return nil, fmt.Errorf("list metric buckets of %q: %w", series, err)
	}
	defer func() { _ = rows.Close() }()
	out := []coordination.MetricBucket{}
	for rows.Next() {
		var start string
		var data []byte
		if err := rows.Scan(&start, &data); err != nil {
			return nil, fmt.Errorf("list metric buckets of %q: %w", series, err)
		}
		at, err := time.Parse(time.RFC3339Nano, start)
		if err != nil {
			return nil, fmt.Errorf("list metric buckets of %q: start %q: %w", series, start, err)
		}
		if data == nil {
			data = []byte{}
		}
		out = append(out, coordination.MetricBucket{Series: series, Start: at.UTC(), Data: data})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list metric buckets of %q: %w", series, err)
	}
	return out, nil
}

// MetricSeries returns every series with a stored bucket, sorted.
func (r reader) MetricSeries(ctx context.Context) ([]string, error) {
	rows, err := r.q.QueryContext(ctx, "SELECT DISTINCT series FROM platform_metric_buckets ORDER BY series")
	if err != nil {
		return nil, fmt.Errorf("list metric series: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("list metric series: %w", err)
		}
		out = append(out, s)
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
	return t.insert(ctx, row{kind: "feedback", table: "production_feedback", id: f.ID,
		cols: []string{"review_id", "category", "verdict", "at"},
		vals: []any{f.ReviewID, f.Category, f.Verdict, ts(f.At)}, obj: f})
}

// FeedbackSince returns the feedback given at or after since, oldest first.
func (r reader) FeedbackSince(ctx context.Context, since time.Time) ([]*coordination.FindingFeedback, error) {
	return list[coordination.FindingFeedback](ctx, r.q, "feedback",
		"SELECT id, data FROM production_feedback WHERE at >= ? ORDER BY at, id", ts(since))
}

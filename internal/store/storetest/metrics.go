package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// testMetrics: metric buckets upsert by (series, start), read back by series
// from a time in start order, list their series, roll back with the
// transaction and are deleted by start for retention; feedback is unique by
// ID, validated, and read back since a time in time order.
func testMetrics(t *testing.T, s coordination.Store) {
	ctx := t.Context()
	hour := func(h int) time.Time { return at(time.Duration(h) * time.Hour) }
	put := func(series string, h int, data string) {
		t.Helper()
		tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
			return tx.MetricBucketPut(ctx, coordination.MetricBucket{Series: series, Start: hour(h), Data: []byte(data)}, hour(h))
		})
	}
	put("production", 2, "p2")
	put("production", 0, "p0")
	put("exp/exp-1", 1, "e1")
	put("production", 1, "p1")
	put("production", 1, "p1 again") // replaces

	starts := func(bs []coordination.MetricBucket) []string {
		out := make([]string, 0, len(bs))
		for _, b := range bs {
			out = append(out, b.Start.UTC().Format(time.RFC3339)+"="+string(b.Data))
		}
		return out
	}
	got, err := s.MetricBuckets(ctx, "production", hour(1))
	mustOK(t, "MetricBuckets", err)
	wantIDs(t, "production buckets from hour 1", starts(got),
		[]string{hour(1).Format(time.RFC3339) + "=p1 again", hour(2).Format(time.RFC3339) + "=p2"})
	for _, b := range got {
		if b.Series != "production" || b.Start.Location() != time.UTC {
			t.Errorf("bucket %+v: want series production and a UTC start", b)
		}
	}
	none, err := s.MetricBuckets(ctx, "exp/unknown", time.Time{})
	mustOK(t, "MetricBuckets of an unknown series", err)
	if none == nil || len(none) != 0 {
		t.Errorf("MetricBuckets of an unknown series = %#v, want an empty non-nil slice", none)
	}
	series, err := s.MetricSeries(ctx)
	mustOK(t, "MetricSeries", err)
	wantIDs(t, "MetricSeries", series, []string{"exp/exp-1", "production"})

	err = s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		if err := tx.MetricBucketPut(ctx, coordination.MetricBucket{Series: "exp/lost", Start: hour(5), Data: []byte("x")}, hour(5)); err != nil {
			return err
		}
		in, err := tx.MetricBuckets(ctx, "exp/lost", time.Time{})
		if err != nil || len(in) != 1 {
			t.Errorf("in tx: MetricBuckets = %v, %v; want the new bucket", in, err)
		}
		return errBoom
	})
	wantErr(t, "rolled-back put", err, errBoom)
	if lost, err := s.MetricBuckets(ctx, "exp/lost", time.Time{}); err != nil || len(lost) != 0 {
		t.Errorf("a rolled-back bucket was kept: %v, %v", lost, err)
	}
	err = s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		return tx.MetricBucketPut(ctx, coordination.MetricBucket{Series: "", Start: hour(1)}, hour(1))
	})
	wantErr(t, "empty series", err, coordination.ErrInvalidInput, "series")

	var removed int
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		removed, err = tx.MetricBucketsDelete(ctx, hour(2))
		return err
	})
	if removed != 3 {
		t.Errorf("MetricBucketsDelete(hour 2) removed %d buckets, want 3", removed)
	}
	got, err = s.MetricBuckets(ctx, "production", time.Time{})
	mustOK(t, "MetricBuckets after retention", err)
	wantIDs(t, "production buckets after retention", starts(got), []string{hour(2).Format(time.RFC3339) + "=p2"})
	series, err = s.MetricSeries(ctx)
	mustOK(t, "MetricSeries after retention", err)
	wantIDs(t, "MetricSeries after retention", series, []string{"production"})

	testFeedback(t, s)
}

func testFeedback(t *testing.T, s coordination.Store) {
	ctx := t.Context()
	fb := func(id string, m int, verdict string) *coordination.FindingFeedback {
		return &coordination.FindingFeedback{ID: id, ReviewID: "rev-1", Finding: m, Category: "security",
			Verdict: verdict, Text: "because " + id, By: "alice", At: at(time.Duration(m) * time.Minute)}
	}
	a, b, c := fb("fb-a", 3, coordination.VerdictAccepted), fb("fb-b", 1, coordination.VerdictDismissed), fb("fb-c", 2, coordination.VerdictAccepted)
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		return errors.Join(tx.FeedbackInsert(ctx, a), tx.FeedbackInsert(ctx, b), tx.FeedbackInsert(ctx, c))
	})
	got, err := s.FeedbackSince(ctx, at(2*time.Minute))
	mustOK(t, "FeedbackSince", err)
	same(t, "feedback since minute 2", got, []*coordination.FindingFeedback{c, a})
	all, err := s.FeedbackSince(ctx, time.Time{})
	mustOK(t, "FeedbackSince zero", err)
	if len(all) != 3 || all[0].ID != "fb-b" {
		t.Errorf("FeedbackSince(zero) = %d entries starting %v, want 3 starting fb-b", len(all), ids(all, fbID))
	}
	for _, tc := range []struct {
		name   string
		f      *coordination.FindingFeedback
		target error
		part   string
	}{
		{"duplicate id", fb("fb-a", 9, coordination.VerdictAccepted), coordination.ErrConflict, "fb-a"},
		{"empty id", fb("", 9, coordination.VerdictAccepted), coordination.ErrInvalidInput, "id"},
		{"unknown verdict", fb("fb-z", 9, "meh"), coordination.ErrInvalidInput, "verdict"},
	} {
		err := s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error { return tx.FeedbackInsert(ctx, tc.f) })
		wantErr(t, tc.name, err, tc.target, tc.part)
	}
	if n, err := s.FeedbackSince(ctx, time.Time{}); err != nil || len(n) != 3 {
		t.Errorf("after refused inserts FeedbackSince = %d entries, %v; want 3", len(n), err)
	}
}

func fbID(f *coordination.FindingFeedback) string { return f.ID }

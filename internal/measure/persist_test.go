package measure_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
	"github.com/tricyclehq/tricycle/coordination/decision"
	"github.com/tricyclehq/tricycle/internal/measure"
	"github.com/tricyclehq/tricycle/internal/store/sqlite"
)

// countingStore counts bucket writes and can fail the next transactions.
type countingStore struct {
	coordination.Store
	mu   sync.Mutex
	puts int
	fail int // transactions left to fail
}

var errInjected = errors.New("injected failure")

func (s *countingStore) InTx(ctx context.Context, fn func(ctx context.Context, tx coordination.Tx) error) error {
	s.mu.Lock()
	if s.fail > 0 {
		s.fail--
		s.mu.Unlock()
		return errInjected
	}
	s.mu.Unlock()
	return s.Store.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error { return fn(ctx, &countingTx{tx, s}) })
}

type countingTx struct {
	coordination.Tx
	s *countingStore
}

func (t *countingTx) MetricBucketPut(ctx context.Context, b coordination.MetricBucket, at time.Time) error {
	t.s.mu.Lock()
	t.s.puts++
	t.s.mu.Unlock()
	return t.Tx.MetricBucketPut(ctx, b, at)
}

func (s *countingStore) takePuts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.puts
	s.puts = 0
	return n
}

// fourteenDays records an experiment and its baseline over 14 days, hour
// by hour, with a few outcomes and feedback per hour.
func fourteenDays(r *measure.Recorder, clock *coordinationtest.ManualClock) {
	for h := range 14 * 24 {
		clock.Set(t0.Add(time.Duration(h) * time.Hour))
		for i := range 3 {
			at := clock.Now().Add(time.Duration(i) * 10 * time.Minute)
			c := ok(measure.ExperimentSeries("exp-1"), at, time.Duration(500+h+i*300)*time.Millisecond, 0.01*float64(1+i))
			c.Error = (h+i)%17 == 0
			c.Compared, c.Agreed = true, (h+i)%5 != 0
			c.TP, c.FP, c.FN = 1, i%2, (h%3)/2
			r.Record(c)
			r.Record(ok(measure.BaselineSeries("exp-1"), at, time.Duration(900+h)*time.Millisecond, 0.02))
		}
		if h%6 == 0 {
			r.RecordFeedback(clock.Now(), measure.ExperimentSeries("exp-1"), "bug", h%12 == 0, false)
		}
	}
	clock.Set(t0.Add(14*24*time.Hour - time.Minute))
}

// Record for 14 days, flush, restart over the same store and load: the
// 14-day aggregate is the same, on every store.
func TestFlushLoadKeepsFourteenDays(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) coordination.Store{
		"memory": func(*testing.T) coordination.Store { return coordination.NewMemoryStore() },
		"sqlite": func(t *testing.T) coordination.Store {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store := open(t)
			t.Cleanup(func() { _ = store.Close() })
			clock := coordinationtest.NewManualClock(t0)
			before, err := measure.New(store, clock, nil, measure.Options{})
			if err != nil {
				t.Fatal(err)
			}
			fourteenDays(before, clock)
			if err := before.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			after, err := measure.New(store, clock, nil, measure.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := after.Load(t.Context()); err != nil {
				t.Fatal(err)
			}
			exp := &coordination.Experiment{ID: "exp-1"}
			wc, wb, err1 := before.Measurements(t.Context(), exp, t0)
			gc, gb, err2 := after.Measurements(t.Context(), exp, t0)
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			if wc.Requests != 14*24*3 || wc.Feedback != 56 {
				t.Fatalf("before restart: %d requests, %d feedback; want %d and 56", wc.Requests, wc.Feedback, 14*24*3)
			}
			sameMeasured(t, "candidate", gc, wc)
			sameMeasured(t, "baseline", gb, wb)
			// A second Load must not count the stored buckets twice.
			if err := after.Load(t.Context()); err != nil {
				t.Fatal(err)
			}
			again, _, _ := after.Measurements(t.Context(), exp, t0)
			sameMeasured(t, "after a second Load", again, wc)
		})
	}
}

func sameMeasured(t *testing.T, what string, g, w decision.Measured) {
	t.Helper()
	gl, wl := g.Latency, w.Latency
	g.Latency, w.Latency = nil, nil
	if g != w {
		t.Errorf("%s: %+v, want %+v", what, g, w)
	}
	if (gl == nil) != (wl == nil) {
		t.Fatalf("%s: latency %v, want %v", what, gl, wl)
	}
	if gl == nil {
		return
	}
	if gl.Count() != wl.Count() {
		t.Errorf("%s: %d latency samples, want %d", what, gl.Count(), wl.Count())
	}
	for _, q := range []float64{0, 0.5, 0.95, 0.99, 1} {
		if gl.Quantile(q) != wl.Quantile(q) {
			t.Errorf("%s: latency q%v = %v, want %v", what, q, gl.Quantile(q), wl.Quantile(q))
		}
	}
}

// Flush writes only the buckets changed since the last flush.
func TestFlushWritesOnlyChangedBuckets(t *testing.T) {
	t.Parallel()
	store := &countingStore{Store: coordination.NewMemoryStore()}
	clock := coordinationtest.NewManualClock(t0)
	r, err := measure.New(store, clock, nil, measure.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for h := range 5 {
		r.Record(ok(measure.SeriesProduction, t0.Add(-time.Duration(h)*time.Hour), time.Second, 0.01))
	}
	mustFlush(t, r)
	if n := store.takePuts(); n != 5 {
		t.Errorf("first flush wrote %d buckets, want 5", n)
	}
	mustFlush(t, r)
	if n := store.takePuts(); n != 0 {
		t.Errorf("a flush with nothing new wrote %d buckets", n)
	}
	r.Record(ok(measure.SeriesProduction, t0, time.Second, 0.01))
	r.Record(ok(measure.ExperimentSeries("exp-1"), t0, time.Second, 0.01))
	mustFlush(t, r)
	if n := store.takePuts(); n != 2 {
		t.Errorf("flush after two new outcomes in two series wrote %d buckets, want 2", n)
	}
	// A failed flush keeps the buckets for the next one.
	r.Record(ok(measure.SeriesProduction, t0, time.Second, 0.01))
	store.fail = 1
	if err := r.Flush(t.Context()); !errors.Is(err, errInjected) {
		t.Fatalf("Flush with a failing store = %v", err)
	}
	mustFlush(t, r)
	if n := store.takePuts(); n != 1 {
		t.Errorf("flush after a failed one wrote %d buckets, want 1", n)
	}
	bs, err := store.MetricBuckets(t.Context(), measure.SeriesProduction, t0)
	if err != nil || len(bs) != 1 {
		t.Fatalf("stored buckets at t0: %v, %v", bs, err)
	}
}

// Stored buckets older than the coarse window are deleted, and series
// without recent data are forgotten.
func TestFlushRetention(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.r.Record(ok(measure.ExperimentSeries("old"), t0, time.Second, 0.01))
	b.r.Record(ok(measure.SeriesProduction, t0, time.Second, 0.01))
	mustFlush(t, b.r)
	b.clock.Advance(16 * 24 * time.Hour)
	b.r.Record(ok(measure.SeriesProduction, b.clock.Now(), time.Second, 0.01))
	mustFlush(t, b.r)
	series, err := b.store.MetricSeries(t.Context())
	if err != nil || len(series) != 1 || series[0] != measure.SeriesProduction {
		t.Errorf("stored series after 16 days: %v, %v; want only production", series, err)
	}
	if got := b.r.Series(); len(got) != 1 || got[0] != measure.SeriesProduction {
		t.Errorf("series held after 16 days: %v; want only production", got)
	}
}

// Run flushes when its context ends.
func TestRunFlushesOnCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.r.Run(ctx) }()
	b.r.Record(ok(measure.SeriesProduction, t0, time.Second, 0.01))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	bs, err := b.store.MetricBuckets(t.Context(), measure.SeriesProduction, time.Time{})
	if err != nil || len(bs) != 1 {
		t.Errorf("stored after Run ended: %v, %v; want one bucket", bs, err)
	}
}

// A corrupt stored bucket is skipped and named; the others load.
func TestLoadSkipsCorruptBuckets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.r.Record(ok(measure.SeriesProduction, t0.Add(-time.Hour), time.Second, 0.01))
	mustFlush(t, b.r)
	if err := b.store.InTx(t.Context(), func(ctx context.Context, tx coordination.Tx) error {
		return tx.MetricBucketPut(ctx, coordination.MetricBucket{Series: "exp/bad", Start: t0, Data: []byte{1, 2, 3}}, t0)
	}); err != nil {
		t.Fatal(err)
	}
	r := b.reopen(t)
	err := r.Load(t.Context())
	if err == nil || !strings.Contains(err.Error(), "exp/bad") {
		t.Errorf("Load = %v, want an error naming exp/bad", err)
	}
	if got := r.Stats(measure.SeriesProduction, 24*time.Hour).Aggregate.Requests; got != 1 {
		t.Errorf("production after a partial load: %d requests, want 1", got)
	}
}

func mustFlush(t *testing.T, r *measure.Recorder) {
	t.Helper()
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

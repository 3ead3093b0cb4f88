package dataplane

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/measure"
	"github.com/tricyclehq/tricycle/internal/store/sqlite"
)

var quiet = slog.New(slog.DiscardHandler)

// fixedClock is a clock that stands still.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func newRecorder(t *testing.T, st coordination.Store, clock coordination.Clock) *measure.Recorder {
	t.Helper()
	r, err := measure.New(st, clock, nil, measure.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// eventually polls cond until it holds or the test's failsafe passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// TestForwardedOutcomesReachTheCoordinator: outcomes recorded in a gateway
// process arrive, once each, in a coordinator's recorder over the bus, and
// stay in the gateway's own recorder too.
func TestForwardedOutcomesReachTheCoordinator(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openSQLite(t)
	clock := fixedClock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	bus := coordination.NewMemoryBus(coordination.MemoryBusOptions{Logger: quiet})
	defer bus.Close()

	local := newRecorder(t, localStore{st}, clock)
	coord := newRecorder(t, st, clock)
	in := newIntake(coord, quiet)
	var mu sync.Mutex
	var events []coordination.Event
	sub, err := bus.Subscribe(ctx, coordination.SubscribeOptions{Types: []string{EventOutcomesRecorded}},
		func(ctx context.Context, ev coordination.Event) error {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
			return in.handle(ctx, ev)
		})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	f := newForwarder(local, bus, clock, quiet, "gw-1")
	f.batch = 100
	const n = 1234
	for i := range n {
		f.Record(measure.Outcome{Series: measure.SeriesProduction, Variant: "v2", Latency: time.Duration(i) * time.Millisecond,
			Error: i%100 == 0, CostUSD: 0.001})
	}
	f.RecordFeedback(clock.Now(), measure.SeriesProduction, "security", true, false)
	f.RecordFeedback(clock.Now(), measure.SeriesProduction, "style", false, true)
	if err := f.flush(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "every outcome at the coordinator", func() bool {
		return coord.Stats(measure.SeriesProduction, time.Hour).Aggregate.Requests == n
	})
	mu.Lock()
	batches := len(events)
	first := events[0]
	mu.Unlock()
	if want := (n + 99) / 100; batches != want {
		t.Errorf("%d events for %d outcomes in batches of 100, want %d", batches, n, want)
	}
	// A redelivered batch is not counted twice.
	if err := in.handle(ctx, first); err != nil {
		t.Fatal(err)
	}
	got := coord.Stats(measure.SeriesProduction, time.Hour)
	if got.Aggregate.Requests != n || got.Aggregate.Errors != 13 || got.Feedback != 2 {
		t.Errorf("coordinator saw %d requests, %d errors, %d feedback; want %d, 13, 2",
			got.Aggregate.Requests, got.Aggregate.Errors, got.Feedback, n)
	}
	if l := local.Stats(measure.SeriesProduction, time.Hour).Aggregate.Requests; l != n {
		t.Errorf("the gateway's own recorder has %d requests, want %d", l, n)
	}
}

// failingBus fails the first publishes it is asked for.
type failingBus struct {
	coordination.Bus
	mu    sync.Mutex
	fails int
	ids   []string
}

func (b *failingBus) Publish(ctx context.Context, ev coordination.Event) error {
	b.mu.Lock()
	b.ids = append(b.ids, ev.ID)
	fail := b.fails > 0
	if fail {
		b.fails--
	}
	b.mu.Unlock()
	if fail {
		return errors.New("nats: timeout")
	}
	return b.Bus.Publish(ctx, ev)
}

// TestForwarderRetriesUnderTheSameEventID: a batch whose publish failed is
// published again with the same event ID (which the bus deduplicates), and
// nothing recorded meanwhile is lost.
func TestForwarderRetriesUnderTheSameEventID(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openSQLite(t)
	clock := fixedClock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	mem := coordination.NewMemoryBus(coordination.MemoryBusOptions{Logger: quiet})
	defer mem.Close()
	bus := &failingBus{Bus: mem, fails: 2}
	coord := newRecorder(t, st, clock)
	sub, err := mem.Subscribe(ctx, coordination.SubscribeOptions{}, newIntake(coord, quiet).handle)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	f := newForwarder(newRecorder(t, localStore{st}, clock), bus, clock, quiet, "exp-1")
	f.Record(measure.Outcome{Series: measure.ExperimentSeries("e1"), Variant: "cand"})
	for i := range 2 {
		if err := f.flush(ctx); err == nil {
			t.Fatalf("flush %d succeeded on a failing bus", i+1)
		}
	}
	f.Record(measure.Outcome{Series: measure.ExperimentSeries("e1"), Variant: "cand"})
	if err := f.flush(ctx); err != nil {
		t.Fatal(err)
	}
	bus.mu.Lock()
	ids := append([]string(nil), bus.ids...)
	bus.mu.Unlock()
	if len(ids) != 4 || ids[0] != ids[1] || ids[1] != ids[2] || ids[2] == ids[3] {
		t.Fatalf("published event ids %v, want one id three times, then a new one", ids)
	}
	eventually(t, "both outcomes", func() bool {
		return coord.Stats(measure.ExperimentSeries("e1"), time.Hour).Aggregate.Requests == 2
	})
}

// TestForwarderBacklogIsBounded: while the bus refuses everything, the
// queue stops growing at its bound and counts what it dropped.
func TestForwarderBacklogIsBounded(t *testing.T) {
	t.Parallel()
	st := openSQLite(t)
	clock := fixedClock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f := newForwarder(newRecorder(t, localStore{st}, clock), &failingBus{fails: 1 << 30}, clock, quiet, "gw")
	f.backlog = 10
	for range 15 {
		f.Record(measure.Outcome{Series: measure.SeriesProduction})
	}
	f.RecordFeedback(clock.Now(), measure.SeriesProduction, "x", true, false)
	if got := f.Dropped(); got != 6 {
		t.Fatalf("dropped %d, want 6", got)
	}
}

// TestOnlyTheActingCoordinatorWritesBuckets: a standby's flush writes no
// bucket, the acting coordinator's writes under its lease epoch, a deposed
// one's is refused, and a gateway's recorder neither writes nor loads.
func TestOnlyTheActingCoordinatorWritesBuckets(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openSQLite(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := fixedClock{now}
	var mu sync.Mutex
	epoch, acting := int64(0), false
	actingFn := func() (int64, bool) { mu.Lock(); defer mu.Unlock(); return epoch, acting }
	series := func() []string {
		names, err := st.MetricSeries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return names
	}

	standby := newRecorder(t, actingStore{Store: st, acting: actingFn}, clock)
	standby.Record(measure.Outcome{Series: measure.SeriesProduction, Variant: "v2"})
	if err := standby.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := series(); len(got) != 0 {
		t.Fatalf("a standby wrote series %v", got)
	}

	e, ok, err := st.Leases().TryAcquire(ctx, coordination.CoordinatorLease, "me", time.Now(), time.Minute)
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	mu.Lock()
	epoch, acting = e, true
	mu.Unlock()
	standby.Record(measure.Outcome{Series: measure.SeriesProduction, Variant: "v2"})
	if err := standby.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := series(); len(got) != 1 || got[0] != measure.SeriesProduction {
		t.Fatalf("the acting coordinator wrote series %v, want [production]", got)
	}

	mu.Lock()
	epoch = e - 1 // a deposed leader still believing it acts
	mu.Unlock()
	standby.Record(measure.Outcome{Series: measure.SeriesProduction, Variant: "v2"})
	if err := standby.Flush(ctx); !errors.Is(err, coordination.ErrConflict) {
		t.Fatalf("flush under a stale epoch = %v, want a conflict", err)
	}

	gw := newRecorder(t, localStore{st}, clock)
	if err := gw.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got := gw.Stats(measure.SeriesProduction, 24*time.Hour).Aggregate.Requests; got != 0 {
		t.Fatalf("a gateway loaded %d stored requests", got)
	}
	gw.Record(measure.Outcome{Series: "canary/p1", Variant: "v3"})
	if err := gw.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := series(); len(got) != 1 {
		t.Fatalf("a gateway's flush changed the stored series: %v", got)
	}
}

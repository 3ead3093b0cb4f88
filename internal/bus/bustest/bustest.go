// Package bustest is the conformance suite of coordination.Bus. Every
// implementation (the in-process bus, NATS JetStream) runs Run from its own
// tests and must pass it unchanged.
package bustest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// Deduplicator is implemented by buses that drop a second publish of an
// event ID (within some window), so that subscribers receive it once. A bus
// that does not declare it must still deliver a duplicate publish at least
// once, and consumers deduplicate by event ID (Store.ConsumerMarkProcessed).
type Deduplicator interface {
	DeduplicatesPublishes() bool
}

// timeout bounds every wait for a delivery.
const timeout = 20 * time.Second

// Run runs the conformance suite. open is called once per subtest and must
// return a new bus that shares nothing with the others (subtests run in
// parallel) and redelivers a failed event within a second or so; Run closes
// it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) coordination.Bus) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b coordination.Bus)
	}{
		{"DeliversMatchingEvents", testFilters},
		{"OrderPerSubscriber", testOrder},
		{"RedeliveryAfterHandlerError", testRedelivery},
		{"DuplicatePublish", testDuplicate},
		{"SubscriptionCloseStopsDelivery", testSubscriptionClose},
		{"BusCloseRefusesWork", testBusClose},
		{"InvalidSubscriptions", testInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Errorf("close bus: %v", err)
				}
			})
			tc.fn(t, b)
		})
	}
}

// Event returns an event of type typ with id and a small payload.
func Event(t testing.TB, id, typ string) coordination.Event {
	t.Helper()
	ev, err := coordination.NewEvent(typ, "subject-"+id, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), map[string]string{"id": id})
	if err != nil {
		t.Fatal(err)
	}
	ev.ID = id
	return ev
}

// recorder collects what a handler was given and signals each delivery.
type recorder struct {
	mu   sync.Mutex
	got  []coordination.Event // guarded by mu
	more chan struct{}        // receives after every delivery (buffered, never blocks)
}

func newRecorder() *recorder { return &recorder{more: make(chan struct{}, 1)} }

func (r *recorder) handle(_ context.Context, ev coordination.Event) error {
	r.mu.Lock()
	r.got = append(r.got, ev)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.got))
	for i, ev := range r.got {
		out[i] = ev.ID
	}
	return out
}

// waitFor waits until the recorder holds an event with id and returns the
// ids received so far; it fails the test after timeout.
func (r *recorder) waitFor(t *testing.T, what, id string) []string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if ids := r.ids(); slices.Contains(ids, id) {
			return ids
		}
		select {
		case <-r.more:
		case <-deadline.C:
			t.Fatalf("%s: %s not delivered within %v (got %v)", what, id, timeout, r.ids())
		}
	}
}

func subscribe(t *testing.T, b coordination.Bus, name string, h coordination.Handler, types ...string) coordination.Subscription {
	t.Helper()
	sub, err := b.Subscribe(t.Context(), coordination.SubscribeOptions{Name: name, Types: types}, h)
	if err != nil {
		t.Fatalf("subscribe %s %v: %v", name, types, err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

func publish(t *testing.T, b coordination.Bus, evs ...coordination.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := b.Publish(t.Context(), ev); err != nil {
			t.Fatalf("publish %s %s: %v", ev.Type, ev.ID, err)
		}
	}
}

// testFilters checks which subscriber gets which event: every event, an
// exact type, a prefix, several filters, a prefix inside a token. Each
// subscriber's last expected event is waited for; since order holds per
// subscriber, anything else it was wrongly given would have arrived before.
func testFilters(t *testing.T, b coordination.Bus) {
	subs := []struct {
		name  string
		types []string
		want  []string
	}{
		{"all", nil, []string{"e1", "p1", "q1", "p2", "s1", "e2"}},
		{"exact", []string{coordination.EventExperimentCreated}, []string{"e1", "e2"}},
		{"prefix", []string{"promotion.*"}, []string{"p1", "p2"}},
		{"several", []string{"quarantine.*", coordination.EventPromotionPhaseChanged, "promotion.*"}, []string{"p1", "q1", "p2"}},
		{"inside-a-token", []string{"sys*"}, []string{"s1"}},
	}
	recs := make([]*recorder, len(subs))
	for i, s := range subs {
		recs[i] = newRecorder()
		subscribe(t, b, s.name, recs[i].handle, s.types...)
	}
	publish(t, b, Event(t, "e1", coordination.EventExperimentCreated), Event(t, "p1", coordination.EventPromotionRequested),
		Event(t, "q1", coordination.EventQuarantineCompleted), Event(t, "p2", coordination.EventPromotionPhaseChanged),
		Event(t, "s1", coordination.EventAutoRemediation), Event(t, "e2", coordination.EventExperimentCreated))
	for i, s := range subs {
		got := recs[i].waitFor(t, s.name, s.want[len(s.want)-1])
		if !slices.Equal(got, s.want) {
			t.Errorf("subscriber %s (types %v) got %v, want %v", s.name, s.types, got, s.want)
		}
	}
	rec := recs[0]
	rec.mu.Lock()
	first := rec.got[0]
	rec.mu.Unlock()
	if want := Event(t, "e1", coordination.EventExperimentCreated); first.Type != want.Type || string(first.Data) != string(want.Data) ||
		!first.Time.Equal(want.Time) || first.Subject != want.Subject || first.Source != want.Source {
		t.Errorf("delivered event %+v differs from the published %+v", first, want)
	}
}

// testOrder publishes from one goroutine and checks that each subscriber
// sees publish order.
func testOrder(t *testing.T, b coordination.Bus) {
	const n = 200
	a, p := newRecorder(), newRecorder()
	subscribe(t, b, "order-all", a.handle)
	subscribe(t, b, "order-promotions", p.handle, "promotion.*")
	var wantAll, wantPromo []string
	for i := range n {
		typ := coordination.EventTypes[i%len(coordination.EventTypes)]
		ev := Event(t, fmt.Sprintf("evt-%03d", i), typ)
		publish(t, b, ev)
		wantAll = append(wantAll, ev.ID)
		if (coordination.SubscribeOptions{Types: []string{"promotion.*"}}).Matches(typ) {
			wantPromo = append(wantPromo, ev.ID)
		}
	}
	if got := a.waitFor(t, "order-all", wantAll[n-1]); !slices.Equal(got, wantAll) {
		t.Errorf("subscriber to every event got them out of order or incomplete:\n got %v\nwant %v", got, wantAll)
	}
	if got := p.waitFor(t, "order-promotions", wantPromo[len(wantPromo)-1]); !slices.Equal(got, wantPromo) {
		t.Errorf("subscriber to promotions got them out of order or incomplete:\n got %v\nwant %v", got, wantPromo)
	}
}

// testRedelivery fails the handler's first attempt at one event: the event
// comes again with the same ID, and the events after it are not lost.
func testRedelivery(t *testing.T, b coordination.Bus) {
	var mu sync.Mutex
	attempts := map[string]int{}
	rec := newRecorder()
	subscribe(t, b, "flaky", func(ctx context.Context, ev coordination.Event) error {
		mu.Lock()
		attempts[ev.ID]++
		n := attempts[ev.ID]
		mu.Unlock()
		if ev.ID == "evt-2" && n == 1 {
			return errors.New("temporary failure")
		}
		return rec.handle(ctx, ev)
	})
	publish(t, b, Event(t, "evt-1", "x.a"), Event(t, "evt-2", "x.a"), Event(t, "evt-3", "x.a"))
	rec.waitFor(t, "flaky", "evt-2")
	got := rec.waitFor(t, "flaky", "evt-3")
	slices.Sort(got)
	if !slices.Equal(got, []string{"evt-1", "evt-2", "evt-3"}) {
		t.Errorf("handled %v, want each event once", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts["evt-2"] != 2 {
		t.Errorf("evt-2 was delivered %d times, want 2 (a failure, then success)", attempts["evt-2"])
	}
}

// testDuplicate publishes one event ID twice. A Deduplicator delivers it
// once; any other bus delivers it at least once, and a consumer that marks
// event IDs processed in a store handles it once.
func testDuplicate(t *testing.T, b coordination.Bus) {
	store := coordination.NewMemoryStore()
	defer func() { _ = store.Close() }()
	var mu sync.Mutex
	handled := 0
	rec := newRecorder()
	subscribe(t, b, "dedupe", func(ctx context.Context, ev coordination.Event) error {
		if err := rec.handle(ctx, ev); err != nil {
			return err
		}
		first, err := store.ConsumerMarkProcessed(ctx, "dedupe", ev.ID, ev.Time)
		if err != nil {
			return err
		}
		if first && ev.ID == "evt-dup" {
			mu.Lock()
			handled++
			mu.Unlock()
		}
		return nil
	})
	dup := Event(t, "evt-dup", "x.a")
	publish(t, b, dup, dup, Event(t, "evt-after", "x.a"))
	got := rec.waitFor(t, "dedupe", "evt-after")
	n := 0
	for _, id := range got {
		if id == "evt-dup" {
			n++
		}
	}
	d, ok := b.(Deduplicator)
	switch {
	case ok && d.DeduplicatesPublishes() && n != 1:
		t.Errorf("a bus that deduplicates publishes delivered evt-dup %d times, want 1", n)
	case n < 1 || n > 2:
		t.Errorf("evt-dup published twice was delivered %d times, want 1 or 2", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if handled != 1 {
		t.Errorf("a consumer deduplicating by event ID handled evt-dup %d times, want 1", handled)
	}
}

// testSubscriptionClose checks that Close waits for a running handler
// (whose context it cancels) and that nothing reaches the handler after
// Close returned, while other subscribers go on.
func testSubscriptionClose(t *testing.T, b coordination.Bus) {
	started := make(chan struct{})
	var mu sync.Mutex
	running, closedReturned, lateCalls := false, false, 0
	sub := subscribe(t, b, "closing", func(ctx context.Context, ev coordination.Event) error {
		mu.Lock()
		if closedReturned {
			lateCalls++
		}
		running = true
		mu.Unlock()
		if ev.ID == "evt-block" {
			close(started)
			<-ctx.Done() // Close cancels the handler's context
		}
		mu.Lock()
		running = false
		mu.Unlock()
		return nil
	})
	other := newRecorder()
	subscribe(t, b, "other", other.handle)
	publish(t, b, Event(t, "evt-block", "x.a"))
	select {
	case <-started:
	case <-time.After(timeout):
		t.Fatal("handler never started")
	}
	if err := sub.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	mu.Lock()
	if running {
		t.Error("Close returned while the handler was still running")
	}
	closedReturned = true
	mu.Unlock()
	if err := sub.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	publish(t, b, Event(t, "evt-late-1", "x.a"), Event(t, "evt-late-2", "x.a"))
	other.waitFor(t, "other", "evt-late-2")
	mu.Lock()
	defer mu.Unlock()
	if lateCalls != 0 {
		t.Errorf("the handler ran %d times after Close returned", lateCalls)
	}
}

// testBusClose checks that a closed bus refuses Publish and Subscribe with
// ErrBusClosed and that Close is idempotent.
func testBusClose(t *testing.T, b coordination.Bus) {
	rec := newRecorder()
	subscribe(t, b, "before-close", rec.handle)
	publish(t, b, Event(t, "evt-1", "x.a"))
	rec.waitFor(t, "before-close", "evt-1")
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.Publish(t.Context(), Event(t, "evt-2", "x.a")); !errors.Is(err, coordination.ErrBusClosed) {
		t.Errorf("Publish after Close: %v, want ErrBusClosed", err)
	}
	if _, err := b.Subscribe(t.Context(), coordination.SubscribeOptions{Name: "late"}, rec.handle); !errors.Is(err, coordination.ErrBusClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrBusClosed", err)
	}
}

// testInvalid checks that a subscription without a handler is refused.
func testInvalid(t *testing.T, b coordination.Bus) {
	if _, err := b.Subscribe(t.Context(), coordination.SubscribeOptions{Name: "nil"}, nil); !errors.Is(err, coordination.ErrInvalidInput) {
		t.Errorf("Subscribe with a nil handler: %v, want ErrInvalidInput", err)
	}
}

// Benchmark measures publish-to-delivery throughput: b.N events published
// from one goroutine to one subscriber, timed until the last is handled.
func Benchmark(b *testing.B, bus coordination.Bus) {
	var mu sync.Mutex
	n, want := 0, 0
	done := make(chan struct{})
	sub, err := bus.Subscribe(b.Context(), coordination.SubscribeOptions{Name: "bench"}, func(context.Context, coordination.Event) error {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n == want {
			close(done)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = sub.Close() }()
	ev := Event(b, "bench", coordination.EventPromotionPhaseChanged)
	mu.Lock()
	want = b.N
	mu.Unlock()
	b.ResetTimer()
	for i := range b.N {
		ev.ID = fmt.Sprint("bench-", i)
		if err := bus.Publish(b.Context(), ev); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(timeout + time.Duration(b.N)*time.Millisecond):
		mu.Lock()
		defer mu.Unlock()
		b.Fatalf("only %d of %d events delivered", n, b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

package coordination_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

func mustEvent(t *testing.T, typ string, i int) coordination.Event {
	t.Helper()
	ev, err := coordination.NewEvent(typ, "s", t0, map[string]int{"i": i})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// collector is a handler that records events and signals each arrival.
type collector struct {
	mu   sync.Mutex
	got  []coordination.Event
	seen chan struct{}
}

func newCollector() *collector { return &collector{seen: make(chan struct{}, 1024)} }

func (c *collector) handle(_ context.Context, ev coordination.Event) error {
	c.mu.Lock()
	c.got = append(c.got, ev)
	c.mu.Unlock()
	c.seen <- struct{}{}
	return nil
}

func (c *collector) wait(t *testing.T, n int) []coordination.Event {
	t.Helper()
	for range n {
		select {
		case <-c.seen:
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for %d events", n)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]coordination.Event(nil), c.got...)
}

// TestMemoryBusOrderAndFilter: each subscriber gets the events its filter
// accepts, in publish order.
func TestMemoryBusOrderAndFilter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bus := coordination.NewMemoryBus(coordination.MemoryBusOptions{})
	defer bus.Close()
	all, promos := newCollector(), newCollector()
	if _, err := bus.Subscribe(ctx, coordination.SubscribeOptions{Name: "all"}, all.handle); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Subscribe(ctx, coordination.SubscribeOptions{Name: "p", Types: []string{"promotion.*"}}, promos.handle); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		typ := coordination.EventExperimentCreated
		if i%2 == 0 {
			typ = coordination.EventPromotionPhaseChanged
		}
		if err := bus.Publish(ctx, mustEvent(t, typ, i)); err != nil {
			t.Fatal(err)
		}
	}
	got := all.wait(t, 50)
	for i, ev := range got {
		var d struct{ I int }
		if err := ev.DecodeData(&d); err != nil || d.I != i {
			t.Fatalf("delivery %d carries event %d (%v): out of order", i, d.I, err)
		}
	}
	for _, ev := range promos.wait(t, 25) {
		if ev.Type != coordination.EventPromotionPhaseChanged {
			t.Fatalf("filter let through %s", ev.Type)
		}
	}
}

// TestMemoryBusRedeliversOnError: a handler error causes redelivery of the
// same event (same ID) until it succeeds.
func TestMemoryBusRedeliversOnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bus := coordination.NewMemoryBus(coordination.MemoryBusOptions{RetryDelay: time.Millisecond})
	defer bus.Close()
	var mu sync.Mutex
	var ids []string
	done := make(chan struct{})
	_, err := bus.Subscribe(ctx, coordination.SubscribeOptions{Name: "flaky"}, func(_ context.Context, ev coordination.Event) error {
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, ev.ID)
		if len(ids) < 3 {
			return errors.New("not yet")
		}
		close(done)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := mustEvent(t, coordination.EventMonitoringAlert, 1)
	if err := bus.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no successful delivery")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 3 || ids[0] != ev.ID || ids[2] != ev.ID {
		t.Fatalf("deliveries %v, want the same event three times", ids)
	}
}

// TestMemoryBusBackpressure: with a full queue, Publish waits and gives up
// when its context ends; after Close, Publish fails.
func TestMemoryBusBackpressure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bus := coordination.NewMemoryBus(coordination.MemoryBusOptions{QueueSize: 1})
	release := make(chan struct{})
	sub, err := bus.Subscribe(ctx, coordination.SubscribeOptions{Name: "slow"}, func(ctx context.Context, _ coordination.Event) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// One event in the handler, one in the queue; the third must wait.
	_ = bus.Publish(ctx, mustEvent(t, "x", 1))
	_ = bus.Publish(ctx, mustEvent(t, "x", 2))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	var errs []error
	for i := range 3 {
		errs = append(errs, bus.Publish(short, mustEvent(t, "x", 3+i)))
	}
	if errs[len(errs)-1] == nil {
		t.Fatal("publish into a full queue did not wait for the context")
	}
	close(release)
	_ = sub.Close()
	_ = bus.Close()
	if err := bus.Publish(ctx, mustEvent(t, "x", 9)); !errors.Is(err, coordination.ErrBusClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}

// TestRelayPublishesOutboxInOrder: Start's relay publishes committed events
// in commit order and Stop flushes what is left.
func TestRelayPublishesOutboxInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bus := coordination.NewMemoryBus(coordination.MemoryBusOptions{})
	defer bus.Close()
	col := newCollector()
	if _, err := bus.Subscribe(ctx, coordination.SubscribeOptions{Name: "rec"}, col.handle); err != nil {
		t.Fatal(err)
	}
	c, err := coordination.NewLifecycleCoordinator(coordination.Options{Bus: bus, PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := c.CreateExperiment(ctx, coordination.ExperimentSpec{Title: "relay"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartExperiment(ctx, p.ExperimentID, "admin"); err != nil {
		t.Fatal(err)
	}
	got := col.wait(t, 2)
	if got[0].Type != coordination.EventExperimentCreated || got[1].Type != coordination.EventExperimentStarted {
		t.Fatalf("order %s, %s", got[0].Type, got[1].Type)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if pending, _ := c.Store().OutboxPending(ctx, 0); len(pending) != 0 {
		t.Fatalf("%d events left in the outbox after Stop", len(pending))
	}
}

package natsbus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/bus/bustest"
	"github.com/tricyclehq/tricycle/internal/bus/natsbus"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T) coordination.Bus { return open(t, testOptions(t)) })
}

func BenchmarkPublishDeliver(b *testing.B) {
	bus := open(b, testOptions(b))
	defer func() { _ = bus.Close() }()
	bustest.Benchmark(b, bus)
}

// collector records delivered event IDs.
type collector struct {
	mu   sync.Mutex
	ids  []string
	more chan struct{}
}

func newCollector() *collector { return &collector{more: make(chan struct{}, 1)} }

func (c *collector) handle(_ context.Context, ev coordination.Event) error {
	c.mu.Lock()
	c.ids = append(c.ids, ev.ID)
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

// waitCount waits until the collectors together hold n events.
func waitCount(t *testing.T, n int, cs ...*collector) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		total := 0
		for _, c := range cs {
			total += c.count()
		}
		if total >= n {
			return
		}
		select {
		case <-cs[0].more:
		case <-cs[len(cs)-1].more:
		case <-time.After(50 * time.Millisecond): // collectors other than the first and last
		case <-deadline:
			t.Fatalf("%d of %d events delivered", total, n)
		}
	}
}

func event(t *testing.T, id string) coordination.Event {
	return bustest.Event(t, id, coordination.EventPromotionPhaseChanged)
}

// TestReplicasShareADurableConsumer subscribes twice under one name (two
// replicas of one consumer): every event reaches exactly one of them.
func TestReplicasShareADurableConsumer(t *testing.T) {
	t.Parallel()
	opts := testOptions(t)
	b1, b2 := open(t, opts), open(t, opts)
	defer func() { _ = b1.Close(); _ = b2.Close() }()
	c1, c2 := newCollector(), newCollector()
	for _, s := range []struct {
		b *natsbus.Bus
		c *collector
	}{{b1, c1}, {b2, c2}} {
		sub, err := s.b.Subscribe(t.Context(), coordination.SubscribeOptions{Name: "experiments-routing/shared"}, s.c.handle)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Close() }()
	}
	const n = 100
	for i := range n {
		if err := b1.Publish(t.Context(), event(t, fmt.Sprintf("evt-%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	waitCount(t, n, c1, c2)
	all := append(append([]string{}, c1.ids...), c2.ids...)
	slices.Sort(all)
	if len(slices.Compact(all)) != n || len(c1.ids)+len(c2.ids) != n {
		t.Errorf("replicas got %d and %d events (%d distinct), want %d in all, each once",
			len(c1.ids), len(c2.ids), len(slices.Compact(all)), n)
	}
}

// TestDurableConsumerResumes closes the only subscriber, publishes, and
// subscribes again under the same name: the events published meanwhile are
// delivered, those handled before are not.
func TestDurableConsumerResumes(t *testing.T) {
	t.Parallel()
	opts := testOptions(t)
	b := open(t, opts)
	defer func() { _ = b.Close() }()
	first := newCollector()
	sub, err := b.Subscribe(t.Context(), coordination.SubscribeOptions{Name: "audit-sink"}, first.handle)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(t.Context(), event(t, "evt-1")); err != nil {
		t.Fatal(err)
	}
	waitCount(t, 1, first)
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"evt-2", "evt-3"} {
		if err := b.Publish(t.Context(), event(t, id)); err != nil {
			t.Fatal(err)
		}
	}
	again := newCollector()
	sub, err = b.Subscribe(t.Context(), coordination.SubscribeOptions{Name: "audit-sink"}, again.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Close() }()
	waitCount(t, 2, again)
	again.mu.Lock()
	defer again.mu.Unlock()
	if !slices.Equal(again.ids, []string{"evt-2", "evt-3"}) {
		t.Errorf("resumed subscriber got %v, want the two events published while it was away", again.ids)
	}
}

// TestPrivateConsumerIsDeleted checks that a subscription without a name
// leaves no consumer behind.
func TestPrivateConsumerIsDeleted(t *testing.T) {
	t.Parallel()
	opts := testOptions(t)
	b := open(t, opts)
	defer func() { _ = b.Close() }()
	c := newCollector()
	sub, err := b.Subscribe(t.Context(), coordination.SubscribeOptions{}, c.handle)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(t.Context(), event(t, "evt-1")); err != nil {
		t.Fatal(err)
	}
	waitCount(t, 1, c)
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if n := consumers(t, opts.Stream); n != 0 {
		t.Errorf("stream holds %d consumers after the private subscription closed, want 0", n)
	}
}

// TestOpenRefusesBadOptions checks options are validated before connecting.
func TestOpenRefusesBadOptions(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]natsbus.Options{
		"negative AckWait":       {AckWait: -time.Second},
		"stream with a dot":      {Stream: "A.B"},
		"prefix with wildcard":   {SubjectPrefix: "tricycle.*"},
		"negative MaxAckPending": {MaxAckPending: -1},
	} {
		if _, err := natsbus.Open(t.Context(), "nats://127.0.0.1:1", opts); !errors.Is(err, coordination.ErrInvalidInput) {
			t.Errorf("%s: Open = %v, want ErrInvalidInput", name, err)
		}
	}
}

// TestPublishRefusesBadTypes checks that a type that cannot be a subject is
// refused rather than published somewhere unexpected.
func TestPublishRefusesBadTypes(t *testing.T) {
	t.Parallel()
	b := open(t, testOptions(t))
	defer func() { _ = b.Close() }()
	for _, typ := range []string{"", "a..b", "a.*", "a b", "a.>"} {
		ev := event(t, "evt-1")
		ev.Type = typ
		if err := b.Publish(t.Context(), ev); !errors.Is(err, coordination.ErrInvalidInput) {
			t.Errorf("Publish of type %q: %v, want ErrInvalidInput", typ, err)
		}
	}
	if _, err := b.Subscribe(t.Context(), coordination.SubscribeOptions{Name: "x", Types: []string{"a b"}},
		func(context.Context, coordination.Event) error { return nil }); !errors.Is(err, coordination.ErrInvalidInput) {
		t.Errorf("Subscribe to type %q: %v, want ErrInvalidInput", "a b", err)
	}
}

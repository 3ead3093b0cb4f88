// Package coordinationtest holds helpers for tests of code built on the
// coordination package: a manual clock, a recording bus subscriber and a
// scripted metrics source.
package coordinationtest

import (
	"context"
	"sync"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// ManualClock is a Clock that moves only when told to. It is safe for
// concurrent use.
type ManualClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

// NewManualClock returns a clock reading start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start.UTC()} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC()
}

var _ coordination.Clock = (*ManualClock)(nil)

// Recorder collects the events published on a bus, in delivery order.
type Recorder struct {
	mu     sync.Mutex // guards events
	events []coordination.Event
	sub    coordination.Subscription
}

// Record subscribes to every event on bus.
func Record(ctx context.Context, bus coordination.Bus) (*Recorder, error) {
	r := &Recorder{}
	sub, err := bus.Subscribe(ctx, coordination.SubscribeOptions{Name: "recorder"}, func(_ context.Context, ev coordination.Event) error {
		r.mu.Lock()
		r.events = append(r.events, ev)
		r.mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.sub = sub
	return r, nil
}

// Events returns a copy of what was recorded.
func (r *Recorder) Events() []coordination.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]coordination.Event(nil), r.events...)
}

// Types returns the recorded event types in order.
func (r *Recorder) Types() []string {
	var out []string
	for _, e := range r.Events() {
		out = append(out, e.Type)
	}
	return out
}

// Count returns how many events of typ were recorded.
func (r *Recorder) Count(typ string) int {
	n := 0
	for _, e := range r.Events() {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// Close stops recording.
func (r *Recorder) Close() error { return r.sub.Close() }

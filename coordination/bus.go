package coordination

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Handler handles one delivered event. Returning an error asks for
// redelivery; handlers must be idempotent by event ID because delivery is
// at-least-once.
type Handler func(ctx context.Context, ev Event) error

// Subscription is an active subscription; Close stops delivery and waits for
// the handler to return.
type Subscription interface {
	Close() error
}

// SubscribeOptions name a consumer and the event types it wants.
type SubscribeOptions struct {
	// Name is the durable consumer name (shared by replicas of one consumer).
	Name string
	// Types filters by event type: an exact type, or a prefix ending in "*"
	// ("promotion.*"). Empty means every type.
	Types []string
}

// Matches reports whether the options' type filter accepts typ.
func (o SubscribeOptions) Matches(typ string) bool {
	if len(o.Types) == 0 {
		return true
	}
	for _, t := range o.Types {
		if p, ok := strings.CutSuffix(t, "*"); ok {
			if strings.HasPrefix(typ, p) {
				return true
			}
		} else if t == typ {
			return true
		}
	}
	return false
}

// Bus carries events between components. See doc.go for the delivery
// contract. The in-process default is NewMemoryBus; NATS JetStream is the
// scale-out implementation.
type Bus interface {
	// Publish hands ev to the bus. It returns once the bus has accepted it
	// (for the memory bus: queued for every matching subscriber).
	Publish(ctx context.Context, ev Event) error
	// Subscribe delivers matching events to h until the subscription or the
	// bus is closed.
	Subscribe(ctx context.Context, opts SubscribeOptions, h Handler) (Subscription, error)
	// Close stops every subscription.
	Close() error
}

// ErrBusClosed is returned by Publish and Subscribe after Close.
var ErrBusClosed = errors.New("bus closed")

// MemoryBusOptions tune the in-process bus.
type MemoryBusOptions struct {
	// QueueSize bounds each subscriber's queue (default 1024). Publish blocks
	// while a matching subscriber's queue is full (backpressure).
	QueueSize int
	// RetryDelay is the pause before redelivering an event whose handler
	// failed (default 50ms); MaxAttempts caps deliveries (default 10), after
	// which the event is logged and dropped for that subscriber.
	RetryDelay  time.Duration
	MaxAttempts int
	Logger      *slog.Logger
}

// NewMemoryBus returns the in-process bus.
func NewMemoryBus(opts MemoryBusOptions) Bus {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 50 * time.Millisecond
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 10
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &memBus{opts: opts}
}

type memBus struct {
	opts   MemoryBusOptions
	mu     sync.RWMutex // guards subs and closed
	subs   []*memSub
	closed bool
}

type memSub struct {
	bus   *memBus
	opts  SubscribeOptions
	h     Handler
	queue chan Event
	done  chan struct{} // closed to stop the worker
	exit  chan struct{} // closed when the worker has returned
	once  sync.Once
}

func (b *memBus) Publish(ctx context.Context, ev Event) error {
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrBusClosed
	}
	subs := make([]*memSub, 0, len(b.subs))
	for _, s := range b.subs {
		if s.opts.Matches(ev.Type) {
			subs = append(subs, s)
		}
	}
	b.mu.RUnlock()
	for _, s := range subs {
		select {
		case s.queue <- ev:
		case <-s.done:
		case <-ctx.Done():
			return fmt.Errorf("publish %s %s: %w", ev.Type, ev.ID, ctx.Err())
		}
	}
	return nil
}

func (b *memBus) Subscribe(_ context.Context, opts SubscribeOptions, h Handler) (Subscription, error) {
	if h == nil {
		return nil, invalidInput("handler", "must not be nil")
	}
	s := &memSub{bus: b, opts: opts, h: h, queue: make(chan Event, b.opts.QueueSize),
		done: make(chan struct{}), exit: make(chan struct{})}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrBusClosed
	}
	b.subs = append(b.subs, s)
	b.mu.Unlock()
	go s.run()
	return s, nil
}

func (s *memSub) run() {
	defer close(s.exit)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-s.done:
			return
		case ev := <-s.queue:
			s.deliver(ctx, ev)
		}
	}
}

func (s *memSub) deliver(ctx context.Context, ev Event) {
	for attempt := 1; ; attempt++ {
		err := s.h(ctx, ev)
		if err == nil {
			return
		}
		if attempt >= s.bus.opts.MaxAttempts || ctx.Err() != nil {
			s.bus.opts.Logger.Error("event dropped after failed deliveries",
				"consumer", s.opts.Name, "type", ev.Type, "id", ev.ID, "attempts", attempt, "err", err)
			return
		}
		t := time.NewTimer(s.bus.opts.RetryDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

func (s *memSub) Close() error {
	s.once.Do(func() {
		s.bus.mu.Lock()
		for i, x := range s.bus.subs {
			if x == s {
				s.bus.subs = append(s.bus.subs[:i], s.bus.subs[i+1:]...)
				break
			}
		}
		s.bus.mu.Unlock()
		close(s.done)
	})
	<-s.exit
	return nil
}

func (b *memBus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	for _, s := range subs {
		s.once.Do(func() { close(s.done) })
		<-s.exit
	}
	return nil
}

package provider

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrCircuitOpen means a provider's circuit breaker refused the call without
// sending it.
var ErrCircuitOpen = errors.New("circuit breaker open")

// BreakerState is a circuit breaker's state; the package documentation
// describes the transitions.
type BreakerState string

const (
	// BreakerClosed lets calls through and counts failures.
	BreakerClosed BreakerState = "closed"
	// BreakerOpen refuses calls until the cooldown has passed.
	BreakerOpen BreakerState = "open"
	// BreakerHalfOpen lets one probe call through to test the provider.
	BreakerHalfOpen BreakerState = "half-open"
)

// Outcome is what one call told the breaker about the provider's health.
type Outcome int

const (
	// OutcomeSuccess means the provider answered.
	OutcomeSuccess Outcome = iota
	// OutcomeFailure means the provider failed: 429, 5xx, timeout or
	// connection error.
	OutcomeFailure
	// OutcomeIgnored means the call says nothing about the provider, for
	// example because the caller cancelled it.
	OutcomeIgnored
)

// BreakerConfig tunes a Breaker; zero fields take the documented defaults.
type BreakerConfig struct {
	// ConsecutiveFailures opens the circuit after this many failures in a
	// row. Default 5.
	ConsecutiveFailures int
	// FailureRatio, when above zero, also opens the circuit once this
	// fraction of the last Window outcomes failed. At most 1.
	FailureRatio float64
	// Window is how many recent outcomes FailureRatio looks at. Default 20.
	Window int
	// MinSamples is how many outcomes the window needs before FailureRatio
	// applies. Default 10; at most Window.
	MinSamples int
	// Cooldown is how long the circuit stays open before a probe. Default 30s.
	Cooldown time.Duration
}

// withDefaults fills zero fields and validates the rest.
func (c BreakerConfig) withDefaults() (BreakerConfig, error) {
	if c.ConsecutiveFailures == 0 {
		c.ConsecutiveFailures = 5
	}
	if c.Window == 0 {
		c.Window = 20
	}
	if c.MinSamples == 0 {
		c.MinSamples = min(10, c.Window)
	}
	if c.Cooldown == 0 {
		c.Cooldown = 30 * time.Second
	}
	switch {
	case c.ConsecutiveFailures < 0:
		return c, fmt.Errorf("breaker consecutive failures %d must be > 0", c.ConsecutiveFailures)
	case c.FailureRatio < 0 || c.FailureRatio > 1 || c.FailureRatio != c.FailureRatio:
		return c, fmt.Errorf("breaker failure ratio %v must be in [0, 1]", c.FailureRatio)
	case c.Window < 0:
		return c, fmt.Errorf("breaker window %d must be > 0", c.Window)
	case c.MinSamples < 0 || c.MinSamples > c.Window:
		return c, fmt.Errorf("breaker min samples %d must be in 1..window %d", c.MinSamples, c.Window)
	case c.Cooldown < 0:
		return c, fmt.Errorf("breaker cooldown %s must be > 0", c.Cooldown)
	}
	return c, nil
}

// Breaker is a circuit breaker for one provider. It is safe for concurrent use.
type Breaker struct {
	cfg   BreakerConfig // defaults applied
	clock Clock         // non-nil

	mu          sync.Mutex
	state       BreakerState // guarded by mu
	gen         uint64       // guarded by mu; bumped on every state change
	consecutive int          // guarded by mu; failures in a row while closed
	window      []bool       // guarded by mu; ring of outcomes, true = failure
	next        int          // guarded by mu; ring write position
	filled      int          // guarded by mu; outcomes in the ring
	failures    int          // guarded by mu; failures in the ring
	openedAt    time.Time    // guarded by mu; when the circuit last opened
	probing     bool         // guarded by mu; a half-open probe is in flight
}

// NewBreaker returns a closed breaker. A nil clock means the system clock.
func NewBreaker(cfg BreakerConfig, clock Clock) (*Breaker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Breaker{cfg: cfg, clock: clockOr(clock), state: BreakerClosed, window: make([]bool, cfg.Window)}, nil
}

// State returns the current state; an open circuit whose cooldown has passed
// reports half-open.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.current()
}

// Allow asks to make one call. When the circuit refuses, the error wraps
// ErrCircuitOpen. Otherwise the caller must report the call's outcome by
// calling done exactly once; later calls of done are ignored, as are
// outcomes of calls started before the last state change.
func (b *Breaker) Allow() (done func(Outcome), err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.current() {
	case BreakerOpen:
		wait := b.openedAt.Add(b.cfg.Cooldown).Sub(b.clock.Now())
		return nil, fmt.Errorf("%w: next probe in %s", ErrCircuitOpen, wait.Round(time.Millisecond))
	case BreakerHalfOpen:
		if b.probing {
			return nil, fmt.Errorf("%w: a probe call is in flight", ErrCircuitOpen)
		}
		b.probing = true
		return b.doneFunc(b.gen, true), nil
	default:
		return b.doneFunc(b.gen, false), nil
	}
}

// doneFunc returns the completion callback of a call allowed in generation gen.
func (b *Breaker) doneFunc(gen uint64, probe bool) func(Outcome) {
	var once sync.Once
	return func(o Outcome) {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.gen != gen {
				return
			}
			if probe {
				b.probing = false
				switch o {
				case OutcomeSuccess:
					b.setState(BreakerClosed)
				case OutcomeFailure:
					b.setState(BreakerOpen)
				}
				return
			}
			b.record(o)
		})
	}
}

// current returns the state, moving open to half-open once the cooldown has
// passed. Callers hold mu.
func (b *Breaker) current() BreakerState {
	if b.state == BreakerOpen && !b.clock.Now().Before(b.openedAt.Add(b.cfg.Cooldown)) {
		b.setState(BreakerHalfOpen)
	}
	return b.state
}

// record counts an outcome while closed and opens the circuit when a
// threshold is reached. Callers hold mu.
func (b *Breaker) record(o Outcome) {
	if o == OutcomeIgnored {
		return
	}
	failed := o == OutcomeFailure
	if b.filled == len(b.window) {
		if b.window[b.next] {
			b.failures--
		}
	} else {
		b.filled++
	}
	b.window[b.next] = failed
	b.next = (b.next + 1) % len(b.window)
	if failed {
		b.failures++
		b.consecutive++
	} else {
		b.consecutive = 0
	}
	ratioTrip := b.cfg.FailureRatio > 0 && b.filled >= b.cfg.MinSamples &&
		float64(b.failures) >= b.cfg.FailureRatio*float64(b.filled)
	if b.consecutive >= b.cfg.ConsecutiveFailures || ratioTrip {
		b.setState(BreakerOpen)
	}
}

// setState changes state, starting a new generation and clearing what the
// new state must not inherit. Callers hold mu.
func (b *Breaker) setState(s BreakerState) {
	b.state = s
	b.gen++
	b.probing = false
	switch s {
	case BreakerOpen:
		b.openedAt = b.clock.Now()
	case BreakerClosed:
		b.consecutive, b.next, b.filled, b.failures = 0, 0, 0, 0
		clear(b.window)
	}
}

package leadership

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// Leases is the store seam of the elector: leases named name, each held by
// at most one holder at a time, with an epoch that increments on every
// acquisition. Times are the caller's; the store never reads its own clock.
type Leases interface {
	// TryAcquire takes the lease for holder until now+ttl when it is free
	// (never taken, released, expired at now, or held by holder itself),
	// incrementing its epoch; it returns the new epoch and true, or the
	// current holder's epoch and false.
	TryAcquire(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (epoch int64, ok bool, err error)
	// Renew extends holder's lease under epoch until now+ttl; false means
	// holder no longer holds it under that epoch.
	Renew(ctx context.Context, name, holder string, epoch int64, now time.Time, ttl time.Duration) (bool, error)
	// Release frees holder's lease under epoch at now (a no-op when it is no
	// longer held); writes fenced with epoch are refused from then on.
	Release(ctx context.Context, name, holder string, epoch int64, now time.Time) error
}

// Clock tells the time. The elector compares the times it returns to decide
// when it stops acting, so a real clock must carry Go's monotonic reading
// (time.Now does; UTC() and Round(0) strip it).
type Clock interface {
	Now() time.Time
}

// DefaultTTL is the lease's default time to live.
const DefaultTTL = 15 * time.Second

// Options configure an Elector; zero fields take the defaults.
type Options struct {
	// Name is the lease's name (default coordination.CoordinatorLease, the
	// one the stores fence against).
	Name string
	// Holder names this process; it must be unique among the replicas and
	// across restarts (default NewHolder()).
	Holder string
	// TTL is how long a lease lasts after its last renewal (default 15 s).
	TTL time.Duration
	// RenewEvery is the period of RunOnce under Start (default TTL/3); it
	// also bounds each call to the store. It must be below TTL - Margin.
	RenewEvery time.Duration
	// Margin is how long before the lease could expire the holder stops
	// acting (default TTL/5); it must exceed the clock skew between
	// replicas (see the package documentation).
	Margin time.Duration
	// Clock is the elector's clock (default time.Now, monotonic).
	Clock Clock
	// Logger receives acquisitions, losses and failures (default: discard).
	Logger *slog.Logger
}

// withDefaults fills the zero fields and validates the result.
func (o Options) withDefaults() (Options, error) {
	if o.Name == "" {
		o.Name = coordination.CoordinatorLease
	}
	if o.Holder == "" {
		o.Holder = NewHolder()
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.Margin == 0 {
		o.Margin = o.TTL / 5
	}
	if o.RenewEvery == 0 {
		o.RenewEvery = o.TTL / 3
	}
	if o.Clock == nil {
		o.Clock = monotonic{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.TTL <= 0:
		return o, fmt.Errorf("%w: ttl: %v is not positive", coordination.ErrInvalidInput, o.TTL)
	case o.Margin <= 0 || o.Margin >= o.TTL:
		return o, fmt.Errorf("%w: margin: %v is not within (0, ttl %v)", coordination.ErrInvalidInput, o.Margin, o.TTL)
	case o.RenewEvery <= 0 || o.RenewEvery >= o.TTL-o.Margin:
		return o, fmt.Errorf("%w: renew_every: %v is not within (0, ttl - margin = %v)", coordination.ErrInvalidInput,
			o.RenewEvery, o.TTL-o.Margin)
	}
	return o, nil
}

// monotonic is the real clock with its monotonic reading.
type monotonic struct{}

func (monotonic) Now() time.Time { return time.Now() }

// NewHolder returns a holder name unique to this process: the host name,
// the process id and random bytes, so that a restarted process on the same
// host is a new holder and waits for its predecessor's lease to expire.
func NewHolder() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Status is a snapshot of an elector.
type Status struct {
	// Holder is this elector's holder name.
	Holder string `json:"holder"`
	// Acting reports whether it holds the lease now.
	Acting bool `json:"acting"`
	// Epoch is the epoch it holds when acting, else the epoch it last saw
	// another holder hold (0: none seen).
	Epoch int64 `json:"epoch"`
	// ActingUntil is when it stops acting unless it renews (zero when not
	// acting).
	ActingUntil time.Time `json:"acting_until,omitzero"`
}

// Elector acquires and renews one lease and tells whether this process may
// act (see the package documentation). It is a coordination.Leader with a
// lifecycle (Start, Stop) and safe for concurrent use.
type Elector struct {
	leases Leases // non-nil
	opts   Options

	step sync.Mutex // serializes RunOnce and the release in Stop

	mu    sync.Mutex // guards held, epoch, until, seen
	held  bool       // the lease was acquired and not given up
	epoch int64      // the epoch held (valid while held)
	until time.Time  // acting deadline: last success's start + TTL - Margin
	seen  int64      // the epoch last seen held by another holder

	life   sync.Mutex         // guards cancel, done
	cancel context.CancelFunc // non-nil while the loop runs
	done   chan struct{}      // closed when the loop ended
}

var _ coordination.Leader = (*Elector)(nil)

// New returns an elector for leases configured by opts. It starts nothing.
func New(leases Leases, opts Options) (*Elector, error) {
	if leases == nil {
		return nil, errors.New("new elector: no leases")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new elector: %w", err)
	}
	return &Elector{leases: leases, opts: o}, nil
}

// Holder returns this elector's holder name.
func (e *Elector) Holder() string { return e.opts.Holder }

// Options returns the effective options.
func (e *Elector) Options() Options { return e.opts }

// Acting reports whether this process holds the lease now and under which
// epoch. It reads only the clock: it turns false by itself once the acting
// deadline passes, even while a renewal hangs.
func (e *Elector) Acting() (int64, bool) {
	now := e.opts.Clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.held || !now.Before(e.until) {
		return 0, false
	}
	return e.epoch, true
}

// Status returns a snapshot of the elector.
func (e *Elector) Status() Status {
	now := e.opts.Clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held && now.Before(e.until) {
		return Status{Holder: e.opts.Holder, Acting: true, Epoch: e.epoch, ActingUntil: e.until}
	}
	return Status{Holder: e.opts.Holder, Epoch: e.seen}
}

// RunOnce does one step of the election: a holder whose deadline has not
// passed renews, anyone else tries to acquire. It returns the status after
// the step. A failed call leaves the status as it was, so a leader keeps
// acting until its deadline while the store is unreachable.
func (e *Elector) RunOnce(ctx context.Context) (Status, error) {
	e.step.Lock()
	defer e.step.Unlock()
	o := e.opts
	start := o.Clock.Now()
	e.mu.Lock()
	held, epoch := e.held, e.epoch
	if held && !start.Before(e.until) {
		e.held, held = false, false
		o.Logger.Warn("leader lease lapsed: stopped acting", "lease", o.Name, "epoch", epoch, "holder", o.Holder)
	}
	e.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, o.RenewEvery)
	defer cancel()
	if held {
		ok, err := e.leases.Renew(cctx, o.Name, o.Holder, epoch, start, o.TTL)
		if err != nil {
			return e.Status(), fmt.Errorf("renew lease %q epoch %d: %w", o.Name, epoch, err)
		}
		if ok {
			e.mu.Lock()
			if e.held && e.epoch == epoch {
				e.until = start.Add(o.TTL - o.Margin)
			}
			e.mu.Unlock()
			return e.Status(), nil
		}
		e.mu.Lock()
		e.held = false
		e.mu.Unlock()
		o.Logger.Warn("leader lease lost: stopped acting", "lease", o.Name, "epoch", epoch, "holder", o.Holder)
	}
	got, ok, err := e.leases.TryAcquire(cctx, o.Name, o.Holder, start, o.TTL)
	if err != nil {
		return e.Status(), fmt.Errorf("acquire lease %q: %w", o.Name, err)
	}
	e.mu.Lock()
	if ok {
		e.held, e.epoch, e.until = true, got, start.Add(o.TTL-o.Margin)
	} else {
		e.seen = got
	}
	e.mu.Unlock()
	if ok {
		o.Logger.Info("leader lease acquired: acting", "lease", o.Name, "epoch", got, "holder", o.Holder)
	}
	return e.Status(), nil
}

// Start runs a first step at once, so that a free lease is held when Start
// returns, then one every RenewEvery until ctx ends or Stop. A failing step
// is logged, not returned: the elector keeps trying. Start is idempotent.
func (e *Elector) Start(ctx context.Context) error {
	e.life.Lock()
	defer e.life.Unlock()
	if e.cancel != nil {
		return nil
	}
	if _, err := e.RunOnce(ctx); err != nil && ctx.Err() == nil {
		e.opts.Logger.Warn("leader election step failed", "err", err)
	}
	lctx, cancel := context.WithCancel(ctx)
	e.cancel, e.done = cancel, make(chan struct{})
	go e.loop(lctx, e.done)
	return nil
}

func (e *Elector) loop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(e.opts.RenewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := e.RunOnce(ctx); err != nil && ctx.Err() == nil {
			e.opts.Logger.Warn("leader election step failed", "err", err)
		}
	}
}

// Stop ends the loop and releases the lease when this elector holds it, so
// that another replica can take over at once. Acting is false from the
// moment Stop begins the release. Stop is idempotent.
func (e *Elector) Stop(ctx context.Context) error {
	e.life.Lock()
	defer e.life.Unlock()
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel, e.done = nil, nil
	}
	e.step.Lock()
	defer e.step.Unlock()
	e.mu.Lock()
	held, epoch := e.held, e.epoch
	e.held = false
	e.mu.Unlock()
	if !held {
		return nil
	}
	if err := e.leases.Release(ctx, e.opts.Name, e.opts.Holder, epoch, e.opts.Clock.Now()); err != nil {
		return fmt.Errorf("release lease %q epoch %d: %w", e.opts.Name, epoch, err)
	}
	e.opts.Logger.Info("leader lease released", "lease", e.opts.Name, "epoch", epoch, "holder", e.opts.Holder)
	return nil
}

package coordination

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tricyclehq/tricycle/coordination/decision"
)

// MeasurementFunc returns what the data plane measured for a running
// experiment (cand) and for V2 on the same shadowed requests (base) since
// since. It is how the evaluator decides from samples. It is called from
// several goroutines at once and must be safe for concurrent use.
type MeasurementFunc func(ctx context.Context, exp *Experiment, since time.Time) (cand, base decision.Measured, err error)

// CanaryMetricsFunc returns the canary's and the stable release's
// measurements over the same clock since since (the current phase's start).
type CanaryMetricsFunc func(ctx context.Context, p *PromotionRequest, since time.Time) (canary, stable decision.Measured, err error)

// Options configure a LifecycleCoordinator. Nil fields mean the embedded
// defaults: an in-memory store and bus, the real clock, a discarding logger,
// the design note's configuration and a builtin production variant.
type Options struct {
	Store  Store
	Bus    Bus
	Clock  Clock
	Logger *slog.Logger
	// Config holds the cycle's tunables; zero fields take DefaultConfig's values.
	Config Config
	// Production is the variant the first release serves when the store has
	// none (default: {Name: "baseline", Provider: "builtin"}).
	Production Variant
	// Measurements feeds sample-based evaluation; nil means point metrics only.
	Measurements MeasurementFunc
	// CanaryMetrics feeds canary analysis; nil means phases advance on time
	// with the analysis reporting no samples.
	CanaryMetrics CanaryMetricsFunc
	// HealthMetrics feeds the health monitor; nil means no data.
	HealthMetrics HealthMetricsFunc
	// Scaler carries out scale-ups; nil means a scaler that only logs.
	Scaler Scaler
	// Checks are promotion validation checks run after the default ones
	// (metrics, security); LoadTest is the load-test check (nil: skipped).
	Checks   []ValidationCheck
	LoadTest ValidationCheck
	// Sources feed the experiment generator in addition to the internal
	// signals and V3 re-evaluation sources, which are always on.
	Sources []ProposalSource
	// Catalog lists known models (the research source and V3 re-evaluation
	// read it); nil means none.
	Catalog CatalogFunc
	// Feedback returns aggregated user feedback; nil means none.
	Feedback FeedbackFunc
	// CostPerReview returns production's current cost per review (for
	// internal signals); nil means unknown.
	CostPerReview func(ctx context.Context) (float64, bool)
	// PollInterval is how often Start's loops run when nothing wakes them
	// (default 1s); loops read time from Clock, never from the ticker.
	PollInterval time.Duration
	// Leader gates the periodic work when replicas share the store (see
	// Leader); nil means this coordinator always acts. A Leader that also
	// has Start and Stop methods is started by Start and stopped by Stop.
	Leader Leader
}

// LifecycleCoordinator is the central orchestration of the cycle: experiment
// creation and approval, evaluation, routing decisions to the managers,
// emergency rollback and system status. It is safe for concurrent use.
type LifecycleCoordinator struct {
	store  Store        // non-nil
	bus    Bus          // non-nil
	clock  Clock        // non-nil
	log    *slog.Logger // non-nil
	cfg    Config
	opts   Options
	ownBus bool

	promotion  *PromotionManager
	quarantine *QuarantineManager
	health     *HealthMonitor
	generator  *ExperimentGenerator

	wake chan struct{} // buffered(1): a transaction committed events

	mu      sync.Mutex // guards running, cancel, loopsWG
	running bool
	cancel  context.CancelFunc
	loopsWG sync.WaitGroup
}

// NewLifecycleCoordinator builds a coordinator from opts (nil fields mean the
// embedded defaults). It validates the configuration but starts nothing.
func NewLifecycleCoordinator(opts Options) (*LifecycleCoordinator, error) {
	cfg := opts.Config.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new lifecycle coordinator: %w", err)
	}
	c := &LifecycleCoordinator{cfg: cfg, opts: opts, wake: make(chan struct{}, 1)}
	c.store = opts.Store
	if c.store == nil {
		c.store = NewMemoryStore()
	}
	c.log = opts.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.bus = opts.Bus
	if c.bus == nil {
		c.bus = NewMemoryBus(MemoryBusOptions{Logger: c.log})
		c.ownBus = true
	}
	c.clock = opts.Clock
	if c.clock == nil {
		c.clock = RealClock()
	}
	if c.opts.Production.IsZero() && c.opts.Production.Name == "" {
		c.opts.Production = Variant{Name: "baseline", Provider: ProviderBuiltin, Strategy: StrategySingle}
	}
	if err := c.opts.Production.Validate(); err != nil {
		return nil, fmt.Errorf("new lifecycle coordinator: production: %w", err)
	}
	if c.opts.PollInterval <= 0 {
		c.opts.PollInterval = time.Second
	}
	c.promotion = &PromotionManager{c: c}
	c.quarantine = &QuarantineManager{c: c}
	scaler := opts.Scaler
	if scaler == nil {
		scaler = NewLogScaler(c.log, 1)
	}
	c.health = newHealthMonitor(c, scaler)
	c.generator = newExperimentGenerator(c)
	return c, nil
}

// Promotion returns the promotion manager (V1 → V2).
func (c *LifecycleCoordinator) Promotion() *PromotionManager { return c.promotion }

// Quarantine returns the quarantine manager (V1 → V3).
func (c *LifecycleCoordinator) Quarantine() *QuarantineManager { return c.quarantine }

// Health returns the health monitor (V2).
func (c *LifecycleCoordinator) Health() *HealthMonitor { return c.health }

// Generator returns the experiment generator.
func (c *LifecycleCoordinator) Generator() *ExperimentGenerator { return c.generator }

// Store returns the store the coordinator uses.
func (c *LifecycleCoordinator) Store() Store { return c.store }

// Bus returns the bus the coordinator publishes to.
func (c *LifecycleCoordinator) Bus() Bus { return c.bus }

// Clock returns the coordinator's clock.
func (c *LifecycleCoordinator) Clock() Clock { return c.clock }

// Config returns the effective configuration.
func (c *LifecycleCoordinator) Config() Config { return c.cfg }

// Init makes sure a production release exists (creating the first one from
// Options.Production) without starting any loop. Start calls it; tests that
// drive the coordinator with RunOnce may call it alone. It is idempotent.
func (c *LifecycleCoordinator) Init(ctx context.Context) error {
	if _, err := c.store.ReleaseActive(ctx); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("init: read active release: %w", err)
	}
	now := c.clock.Now()
	err := c.tx(ctx, func(ctx context.Context, w *txw) error {
		if _, err := w.tx.ReleaseActive(ctx); err == nil {
			return nil // another replica won the race
		}
		r := &Release{ID: NewID(PrefixRelease, now), Variant: c.opts.Production, State: ReleaseActive,
			ActivatedAt: now, Note: "initial production release"}
		if err := w.tx.ReleaseInsert(ctx, r); err != nil {
			return err
		}
		return w.audit(SystemActor("coordinator"), "release.initialize", r.ID, map[string]any{"variant": r.Variant.Name})
	})
	if err != nil {
		return fmt.Errorf("init: create initial release: %w", err)
	}
	return nil
}

// Start initialises the store and starts the background loops: the outbox
// relay, the evaluator, canary phases and the health monitor. It is
// idempotent; the loops stop with Stop or when ctx is cancelled.
func (c *LifecycleCoordinator) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return nil
	}
	if err := c.Init(ctx); err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	if err := c.startLeader(lctx); err != nil {
		cancel()
		return err
	}
	c.running = true
	c.loop(lctx, "outbox relay", c.wake, func(ctx context.Context) error {
		_, err := c.RelayOnce(ctx)
		return err
	})
	c.loop(lctx, "cycle", nil, func(ctx context.Context) error {
		_, err := c.RunOnce(ctx)
		return err
	})
	go func() {
		select {
		case <-ctx.Done():
			_ = c.Stop(context.Background())
		case <-lctx.Done():
		}
	}()
	return nil
}

// loop runs fn every poll interval (and whenever wake fires) until ctx ends.
func (c *LifecycleCoordinator) loop(ctx context.Context, name string, wake <-chan struct{}, fn func(context.Context) error) {
	c.loopsWG.Add(1)
	go func() {
		defer c.loopsWG.Done()
		t := time.NewTicker(c.opts.PollInterval)
		defer t.Stop()
		for {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				c.log.Error("loop iteration failed", "loop", name, "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-wake:
			}
		}
	}()
}

// Stop stops the loops, publishes what is left in the outbox and closes the
// bus the coordinator created (a bus passed in Options stays open). It is
// idempotent.
func (c *LifecycleCoordinator) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return nil
	}
	c.running = false
	c.cancel()
	c.loopsWG.Wait()
	c.health.stop()
	var errs []error
	if err := c.stopLeader(ctx); err != nil {
		errs = append(errs, err)
	}
	for {
		n, err := c.RelayOnce(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("stop: flush outbox: %w", err))
			break
		}
		if n == 0 {
			break
		}
	}
	if c.ownBus {
		if err := c.bus.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RelayOnce publishes pending outbox events in commit order and marks them
// published; it returns how many it published.
func (c *LifecycleCoordinator) RelayOnce(ctx context.Context) (int, error) {
	events, err := c.store.OutboxPending(ctx, 256)
	if err != nil {
		return 0, fmt.Errorf("relay: read outbox: %w", err)
	}
	done := make([]int64, 0, len(events))
	var pubErr error
	for _, ev := range events {
		if err := c.bus.Publish(ctx, ev); err != nil {
			pubErr = fmt.Errorf("relay: publish %s %s: %w", ev.Type, ev.ID, err)
			break
		}
		done = append(done, ev.Seq)
	}
	if len(done) > 0 {
		if err := c.store.OutboxMarkPublished(ctx, done, c.clock.Now()); err != nil {
			return 0, fmt.Errorf("relay: mark published: %w", err)
		}
	}
	return len(done), pubErr
}

// CycleReport says what one pass of RunOnce did.
type CycleReport struct {
	Evaluated  []string            `json:"evaluated,omitempty"`
	Decisions  map[string]Decision `json:"decisions,omitempty"`
	Promotions PromotionReport     `json:"promotions"`
	Health     HealthReport        `json:"health"`
	// Standby means another replica's coordinator holds the lease: nothing ran.
	Standby bool `json:"standby,omitempty"`
}

// RunOnce runs one pass of every periodic duty: evaluate running experiments
// that are due, advance or roll back canary phases, and evaluate health. The
// loops started by Start call it; tests call it directly with an injected
// clock. While Options.Leader is not acting it does nothing and reports
// Standby; otherwise its transactions carry the leader epoch.
func (c *LifecycleCoordinator) RunOnce(ctx context.Context) (CycleReport, error) {
	var rep CycleReport
	ctx, ok := c.acting(ctx)
	if !ok {
		return CycleReport{Standby: true}, nil
	}
	var errs []error
	ev, err := c.evaluateDue(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	rep.Decisions = ev
	for id := range ev {
		rep.Evaluated = append(rep.Evaluated, id)
	}
	if rep.Promotions, err = c.promotion.RunOnce(ctx); err != nil {
		errs = append(errs, err)
	}
	if rep.Health, err = c.health.RunOnce(ctx); err != nil {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

// txw is a transaction with the helpers every change needs: emit events,
// append audit entries.
type txw struct {
	tx      Tx
	ctx     context.Context
	now     time.Time
	emitted bool
	audits  []*AuditEntry // flushed at the end of the transaction
}

// tx runs fn in a store transaction and wakes the relay when it emitted
// events.
func (c *LifecycleCoordinator) tx(ctx context.Context, fn func(ctx context.Context, w *txw) error) error {
	if err := c.checkEpoch(ctx); err != nil {
		return err
	}
	var emitted bool
	err := c.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		w := &txw{tx: tx, ctx: ctx, now: c.clock.Now()}
		if err := fn(ctx, w); err != nil {
			return err
		}
		if err := w.flushAudit(); err != nil {
			return err
		}
		emitted = w.emitted
		return nil
	})
	if err == nil && emitted {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return err
}

// emit appends an event to the outbox in this transaction.
func (w *txw) emit(typ, subject string, data any) error {
	ev, err := NewEvent(typ, subject, w.now, data)
	if err != nil {
		return err
	}
	if err := w.tx.OutboxAppend(w.ctx, ev); err != nil {
		return fmt.Errorf("append %s event: %w", typ, err)
	}
	w.emitted = true
	return nil
}

// audit records an audit entry for this transaction. Entries are written
// when the transaction's work is done: one entry per actor, the first action
// being the entry and the actor's later actions in the same transaction (the
// effects of one request, such as the quarantine a rollback causes) listed
// in its details under "effects". So one request by one actor is one entry,
// and every automatic decision by a system actor is its own entry.
func (w *txw) audit(a Actor, action, target string, details map[string]any) error {
	w.audits = append(w.audits, &AuditEntry{At: w.now, Actor: a.Name, Role: a.Role, Action: action, Target: target, Details: details})
	return nil
}

func (w *txw) flushAudit() error {
	var order []*AuditEntry
	primary := map[string]*AuditEntry{}
	for _, e := range w.audits {
		key := e.Actor + "\x00" + string(e.Role)
		p, ok := primary[key]
		if !ok {
			primary[key] = e
			order = append(order, e)
			continue
		}
		if p.Details == nil {
			p.Details = map[string]any{}
		}
		effects, _ := p.Details["effects"].([]any)
		p.Details["effects"] = append(effects, map[string]any{"action": e.Action, "target": e.Target, "details": e.Details})
	}
	for _, e := range order {
		if err := w.tx.AuditAppend(w.ctx, e); err != nil {
			return fmt.Errorf("append audit entry %s: %w", e.Action, err)
		}
	}
	if n := len(order); n > 0 {
		// The head remembers where the chain ends, so that removing its last
		// entries is detected too.
		last := order[n-1]
		head, _ := json.Marshal(auditHead{Seq: last.Seq, Hash: last.Hash})
		if err := w.tx.KVPut(w.ctx, kvAuditHead, head, w.now); err != nil {
			return fmt.Errorf("record audit head: %w", err)
		}
	}
	w.audits = nil
	return nil
}

package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
	"github.com/tricyclehq/tricycle/internal/flags"
	"github.com/tricyclehq/tricycle/internal/gateway"
	"github.com/tricyclehq/tricycle/internal/measure"
	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/builtin"
)

// This file wires the demo to the review data plane of `tricycle serve`
// (internal/dataplane): the gateway answers every synthetic request with
// the production release or, for the canary's share of repositories, the
// canary; it copies a sticky sample of production requests to each running
// experiment over the in-process bus, where the experiments worker runs the
// candidate; the measurement recorder aggregates every outcome and feeds the
// coordinator's hooks. Three things differ from serve so that a compressed
// clock tells the same story every time:
//
//   - the gateway and the worker read the routing state right after each
//     cycle pass instead of on bus events and timers;
//   - the worker's Process runs each shadow copy as one bus subscriber
//     delivers it, in order, and each slice of traffic waits until every
//     copy is processed before the clock moves;
//   - sticky buckets are salted by variant name rather than by the random
//     id of the promotion or experiment, and the recorder keeps a single
//     intake buffer so that its sums add up in the same order.

// Data plane settings of the demo.
const (
	// tick is the slice of simulated time whose requests share a timestamp.
	tick = 5 * time.Minute
	// costCap bounds one review's cost at the demo's prices and diffs (the
	// evaluator's CostMax); a test checks it.
	costCap = 0.01
	// quotaShare is the simulated quota of the third reviewer's provider
	// account over 24 hours, as a multiple of its expected shadow traffic:
	// enough for V1, not for a canary that takes twice as many requests.
	quotaShare = 1.5
	// shadowWait bounds the wall time to wait for the worker to process one
	// slice's shadow copies.
	shadowWait = time.Minute
)

// plane is the demo's data plane.
type plane struct {
	clock   *coordinationtest.ManualClock
	log     *slog.Logger
	rate    int // production requests an hour
	traffic *traffic
	rec     *measure.Recorder
	reg     *gateway.Registry
	quota   *quotaReviewer
	bus     coordination.Bus

	// Set by attach.
	gw     *gateway.Gateway
	worker *gateway.Worker
	sub    coordination.Subscription

	// Shadow copies the worker has processed, and a wake-up for awaitShadows.
	handled atomic.Int64
	notify  chan struct{}

	// Used by the script's goroutine only.
	carry          float64 // fraction of a request left over from the last slice
	served, canary int64   // requests answered, and of those by a canary

	mu      sync.Mutex // guards the fields below
	routing gateway.RoutingFunc
	salts   map[string]string // bucket salt by id → salt by variant name
}

// newPlane builds the recorder, the reviewer registry and the bus; attach
// adds the gateway and the worker once the coordinator exists.
func newPlane(clock *coordinationtest.ManualClock, store coordination.Store, vs variants, seed uint64, rate int, log *slog.Logger) (*plane, error) {
	p := &plane{clock: clock, log: log, rate: rate, traffic: newTraffic(seed), notify: make(chan struct{}, 1),
		salts: map[string]string{}}
	truth := newTruthCache(builtin.New(builtin.Options{}))
	inner, err := gateway.NewRegistry(gateway.RegistryOptions{Truth: truth})
	if err != nil {
		return nil, fmt.Errorf("data plane: %w", err)
	}
	fast, err := inner.Reviewer(vs.breaks.Variant)
	if err != nil {
		return nil, fmt.Errorf("data plane: %w", err)
	}
	p.quota = &quotaReviewer{next: fast, clock: clock, model: vs.breaks.Model,
		quota: int(quotaShare * float64(rate) * 24 * shadowPercent / 100)}
	if p.reg, err = gateway.NewRegistry(gateway.RegistryOptions{Variants: vs.all(), Truth: truth,
		Reviewers: map[string]review.Reviewer{vs.breaks.Name: p.quota}}); err != nil {
		return nil, fmt.Errorf("data plane: %w", err)
	}
	if p.rec, err = measure.New(store, clock, nil, measure.Options{
		FineBucket: time.Minute, FineBuckets: 5 * 60, CostCap: costCap,
		Shards: 1, BufferSize: 1 << 15, ActiveCanary: p.activeCanary, Logger: log}); err != nil {
		return nil, fmt.Errorf("data plane: %w", err)
	}
	p.bus = coordination.NewMemoryBus(coordination.MemoryBusOptions{Logger: log})
	return p, nil
}

// attach builds and starts the gateway and subscribes the experiments
// worker to shadow copies, both reading routing (the coordinator's Routing).
func (p *plane) attach(ctx context.Context, routing gateway.RoutingFunc) error {
	p.mu.Lock()
	p.routing = routing
	p.mu.Unlock()
	var err error
	if p.gw, err = gateway.New(gateway.Options{Routing: routing, Registry: p.reg, Recorder: p.rec, Bus: p.bus,
		Clock: p.clock, Logger: p.log, Store: gateway.NewMemoryStore(256), Bucket: p.bucket,
		ShadowQueue: 1 << 14, RefreshInterval: time.Hour, Instance: "demo"}); err != nil {
		return fmt.Errorf("data plane: %w", err)
	}
	if p.worker, err = gateway.NewWorker(gateway.WorkerOptions{Bus: p.bus, Routing: routing, Registry: p.reg,
		Recorder: p.rec, Clock: p.clock, Logger: p.log, RefreshInterval: time.Hour, Instance: "demo",
		Spent: func(_ context.Context, id string) (float64, error) { return p.rec.Spent(id), nil }}); err != nil {
		return fmt.Errorf("data plane: %w", err)
	}
	if err := p.gw.Start(ctx); err != nil {
		return fmt.Errorf("data plane: %w", err)
	}
	p.sub, err = p.bus.Subscribe(ctx, coordination.SubscribeOptions{Name: gateway.ConsumerExperiments,
		Types: []string{gateway.EventShadowRequested}}, p.handleShadow)
	if err != nil {
		return fmt.Errorf("data plane: subscribe the experiments worker: %w", err)
	}
	return nil
}

// close stops the gateway and the bus.
func (p *plane) close(ctx context.Context) error {
	var errs []error
	if p.gw != nil {
		errs = append(errs, p.gw.Stop(ctx))
	}
	if p.sub != nil {
		errs = append(errs, p.sub.Close())
	}
	errs = append(errs, p.bus.Close())
	return errors.Join(errs...)
}

// handleShadow runs one shadow copy on the experiment's variant.
func (p *plane) handleShadow(ctx context.Context, ev coordination.Event) error {
	if _, _, err := p.worker.Process(ctx, ev); err != nil {
		p.log.Warn("shadow request", "id", ev.ID, "err", err)
	}
	p.handled.Add(1)
	select {
	case p.notify <- struct{}{}:
	default:
	}
	return nil
}

// activeCanary names the promotion whose canary takes traffic ("" when
// none), for the recorder's canary health target.
func (p *plane) activeCanary() string {
	p.mu.Lock()
	routing := p.routing
	p.mu.Unlock()
	if routing == nil {
		return ""
	}
	r, err := routing(context.Background())
	if err != nil || r.Canary == nil || r.Canary.State.Phase() == 0 {
		return ""
	}
	return r.Canary.RequestID
}

// refresh reads the routing state and hands it to the gateway and the
// worker.
func (p *plane) refresh(ctx context.Context) (coordination.Routing, error) {
	p.mu.Lock()
	routing := p.routing
	p.mu.Unlock()
	r, err := routing(ctx)
	if err != nil {
		return r, fmt.Errorf("read routing: %w", err)
	}
	p.mu.Lock()
	for _, e := range r.Experiments {
		p.salts["shadow:"+e.ID] = "shadow:" + e.Variant.Name
	}
	if r.Canary != nil {
		p.salts["canary:"+r.Canary.RequestID] = "canary:" + r.Canary.Candidate.Name
	}
	p.mu.Unlock()
	if err := errors.Join(p.gw.Refresh(ctx), p.worker.Refresh(ctx)); err != nil {
		return r, fmt.Errorf("refresh the data plane's routing: %w", err)
	}
	return r, nil
}

// bucket is the gateway's sticky bucketing, salted by variant name.
func (p *plane) bucket(salt, key string) int {
	p.mu.Lock()
	if s, ok := p.salts[salt]; ok {
		salt = s
	}
	p.mu.Unlock()
	return flags.Bucket(salt, key)
}

// serve sends the production requests of [from, to) through the gateway,
// one slice of tick at a time: the clock stands in the middle of the slice
// while its requests are answered and their shadow copies processed.
func (p *plane) serve(ctx context.Context, from, to time.Time) error {
	for t := from; t.Before(to); {
		end := t.Add(tick)
		if end.After(to) {
			end = to
		}
		want := float64(p.rate)*end.Sub(t).Hours() + p.carry
		n := int(want)
		p.carry = want - float64(n)
		p.clock.Set(t.Add(end.Sub(t) / 2))
		for range n {
			res, err := p.gw.Review(ctx, p.traffic.next())
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, gateway.ErrUnavailable):
				return fmt.Errorf("data plane: %w", err)
			}
			p.served++
			if res.Arm == gateway.ArmCanary {
				p.canary++
			}
		}
		if err := p.awaitShadows(ctx); err != nil {
			return err
		}
		t = end
	}
	return nil
}

// awaitShadows waits until the worker has processed every shadow copy the
// gateway queued.
func (p *plane) awaitShadows(ctx context.Context) error {
	timer := time.NewTimer(shadowWait)
	defer timer.Stop()
	for {
		st := p.gw.ShadowStats()
		if st.Dropped > 0 {
			return fmt.Errorf("data plane: %d shadow copies dropped", st.Dropped)
		}
		if p.handled.Load()+st.Failed >= st.Queued {
			return nil
		}
		select {
		case <-p.notify:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("data plane: %d of %d shadow copies not processed after %s",
				st.Queued-st.Failed-p.handled.Load(), st.Queued, shadowWait)
		}
	}
}

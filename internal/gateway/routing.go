package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
)

// RoutingFunc returns the current routing state; in a server it is the
// coordinator's Routing method.
type RoutingFunc func(ctx context.Context) (coordination.Routing, error)

// ErrNoRouting means the routing state could not be read yet: there is no
// production release to send a review to.
var ErrNoRouting = errors.New("routing state unavailable")

// routingEventTypes are the bus events after which the routing state is read
// again.
var routingEventTypes = []string{"promotion.*", "experiment.*", "quarantine.*"}

// table is one immutable snapshot of the routing state, with the reviewers
// of production and the canary resolved.
type table struct {
	routing     coordination.Routing
	fetchedAt   time.Time
	experiments map[string]*coordination.Experiment // running, by ID

	prod       review.Reviewer // nil when prodErr is set
	prodErr    error
	canary     review.Reviewer // nil when there is no canary or canaryErr is set
	canaryErr  error
	canaryID   string  // promotion request ID, "" without a canary
	canaryPct  float64 // share of user traffic
	prodName   string
	canaryName string
}

// router keeps the routing snapshot fresh: it reads it at start, after every
// promotion, experiment and quarantine event, and periodically. Reviewers
// read the snapshot without locks.
type router struct {
	fetch RoutingFunc
	reg   *Registry
	clock coordination.Clock
	log   *slog.Logger

	cur atomic.Pointer[table]
	mu  sync.Mutex // serialises fetches so that an older answer never replaces a newer one

	failedAt time.Time // when the last fetch failed; guarded by mu
	failErr  error     // its error; guarded by mu

	bmu     sync.RWMutex
	blocked map[string]bool // "exp:<id>" and "prm:<id>" seen quarantined or rolled back; guarded by bmu
}

func newRouter(fetch RoutingFunc, reg *Registry, clock coordination.Clock, log *slog.Logger) *router {
	return &router{fetch: fetch, reg: reg, clock: clock, log: log, blocked: map[string]bool{}}
}

// retryAfterFailure is how long requests without a snapshot share the
// error of a failed read instead of each reading again.
const retryAfterFailure = time.Second

// current returns the snapshot, reading it first when there is none. While
// there is none and a read failed less than retryAfterFailure ago, it
// returns that failure: an unavailable coordinator is not hammered by every
// request.
func (r *router) current(ctx context.Context) (*table, error) {
	if t := r.cur.Load(); t != nil {
		return t, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.cur.Load(); t != nil {
		return t, nil // another request read it meanwhile
	}
	if r.failErr != nil && r.clock.Now().Sub(r.failedAt) < retryAfterFailure {
		return nil, r.failErr
	}
	if err := r.refreshLocked(ctx); err != nil {
		return nil, err
	}
	return r.cur.Load(), nil
}

// refresh reads the routing state and swaps the snapshot.
func (r *router) refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refreshLocked(ctx)
}

func (r *router) refreshLocked(ctx context.Context) error {
	rt, err := r.fetch(ctx)
	if err == nil && rt.Production == nil {
		err = errors.New("no production release")
	}
	if err != nil {
		r.failedAt, r.failErr = r.clock.Now(), fmt.Errorf("%w: %w", ErrNoRouting, err)
		return r.failErr
	}
	r.failErr = nil
	t := &table{routing: rt, fetchedAt: r.clock.Now(), experiments: make(map[string]*coordination.Experiment, len(rt.Experiments))}
	for _, e := range rt.Experiments {
		// An experiment created from a bare hypothesis has no variant to run:
		// it gets no shadow traffic.
		if e != nil && e.State == coordination.ExperimentRunning && !e.Variant.IsZero() {
			t.experiments[e.ID] = e
		}
	}
	t.prodName = rt.Production.Variant.Name
	t.prod, t.prodErr = r.reg.Reviewer(rt.Production.Variant)
	if c := rt.Canary; c != nil && c.State.Phase() > 0 && c.TrafficPercent > 0 {
		t.canaryID, t.canaryPct, t.canaryName = c.RequestID, float64(c.TrafficPercent), c.Candidate.Name
		t.canary, t.canaryErr = r.reg.Reviewer(c.Candidate)
		if t.canaryErr != nil {
			r.log.Error("canary variant cannot be built; its share goes to production",
				"promotion", c.RequestID, "variant", c.Candidate.Name, "err", t.canaryErr)
		}
	}
	if t.prodErr != nil {
		r.log.Error("production variant cannot be built", "variant", t.prodName, "err", t.prodErr)
	}
	r.cur.Store(t)
	return nil
}

// handle is the bus handler: it blocks what a quarantine or rollback names
// at once, then reads the routing state again.
func (r *router) handle(ctx context.Context, ev coordination.Event) error {
	var data struct {
		ExperimentID string `json:"experiment_id"`
		RequestID    string `json:"request_id"`
	}
	_ = ev.DecodeData(&data) // events without these fields only trigger a refresh
	switch ev.Type {
	case coordination.EventQuarantineRequested, coordination.EventQuarantineCompleted:
		r.block("exp:" + data.ExperimentID)
	case coordination.EventPromotionRollback:
		r.block("prm:" + data.RequestID)
	}
	if err := r.refresh(ctx); err != nil {
		r.log.Warn("routing refresh after event failed", "type", ev.Type, "id", ev.ID, "err", err)
	}
	return nil // the periodic refresh retries; redelivery would add nothing
}

func (r *router) block(key string) {
	if key == "exp:" || key == "prm:" {
		return
	}
	r.bmu.Lock()
	r.blocked[key] = true
	r.bmu.Unlock()
}

func (r *router) isBlocked(key string) bool {
	r.bmu.RLock()
	defer r.bmu.RUnlock()
	return r.blocked[key]
}

// canaryLive reports whether the canary of promotion id may still be
// invoked: the newest snapshot still has it and it was not rolled back.
func (r *router) canaryLive(id string) bool {
	t := r.cur.Load()
	return t != nil && t.canaryID == id && !r.isBlocked("prm:"+id)
}

// experiment returns the running experiment id from the newest snapshot,
// or nil when it is not running or was quarantined.
func (r *router) experiment(id string) *coordination.Experiment {
	if r.isBlocked("exp:" + id) {
		return nil
	}
	t := r.cur.Load()
	if t == nil {
		return nil
	}
	return t.experiments[id]
}

// subscribe asks the bus for routing events under a consumer name of this
// instance (every instance must see every event).
func (r *router) subscribe(ctx context.Context, bus coordination.Bus, name string) (coordination.Subscription, error) {
	sub, err := bus.Subscribe(ctx, coordination.SubscribeOptions{Name: name, Types: routingEventTypes}, r.handle)
	if err != nil {
		return nil, fmt.Errorf("subscribe to routing events: %w", err)
	}
	return sub, nil
}

// loop refreshes every interval until ctx ends.
func (r *router) loop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.refresh(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("periodic routing refresh failed; keeping the last state", "err", err)
			}
		}
	}
}

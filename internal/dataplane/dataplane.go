package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/app"
	"github.com/tricyclehq/tricycle/internal/gateway"
	"github.com/tricyclehq/tricycle/internal/httpapi"
	"github.com/tricyclehq/tricycle/internal/measure"
	"github.com/tricyclehq/tricycle/internal/promsource"
	"github.com/tricyclehq/tricycle/internal/review/golden"
	"github.com/tricyclehq/tricycle/internal/scale"
	"github.com/tricyclehq/tricycle/internal/web"
)

// Options tune the data plane.
type Options struct {
	// ProbesDir holds the labelled golden cases replayed through V2 as
	// probes ("testdata/golden" when empty; probes are off when the folder
	// does not exist).
	ProbesDir string
	// ProbeInterval is how often probes run (1 minute); ProbeCases how many
	// cases one run replays (5).
	ProbeInterval time.Duration
	ProbeCases    int
	// Instance names this replica's bus consumers ("": the server's
	// instance name, app.Deps.Instance).
	Instance string
	// LookupEnv reads provider API keys and the webhook scaler's secret; nil
	// means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// KubernetesClient returns the client of the kubernetes scaler; nil
	// means scale.InClusterClient, which works only inside a pod.
	KubernetesClient func() (scale.KubernetesClient, error)
	// CycleMetricsInterval is how often the cycle's gauges (experiments by
	// state, canary phase and weight, alerts, error budget) are refreshed
	// (15 seconds).
	CycleMetricsInterval time.Duration
	// ReviewRetention is how long answered reviews are kept in the store
	// (30 days); the coordinator role deletes older ones every hour.
	ReviewRetention time.Duration
}

// DefaultReviewRetention is how long answered reviews are kept.
const DefaultReviewRetention = 30 * 24 * time.Hour

// Plane is the running data plane.
type Plane struct {
	opts   Options
	deps   app.Deps
	log    *slog.Logger
	rec    *measure.Recorder
	reg    *gateway.Registry
	mets   *gateway.Metrics
	prom   *promsource.Source  // nil: health and canary metrics from rec
	scaler coordination.Scaler // non-nil
	role   app.Role            // never ""
	fwd    *forwarder          // non-nil in the gateway and experiments roles

	mu     sync.Mutex // guards the fields below
	coord  *coordination.LifecycleCoordinator
	gw     *gateway.Gateway
	worker *gateway.Worker
	prober *gateway.Prober
	sub    coordination.Subscription // the coordinator role's outcome intake
	cancel context.CancelFunc
	done   []chan struct{}
}

var _ app.DataPlane = (*Plane)(nil)

// New returns the builder app.Options.DataPlane expects.
func New(opts Options) func(ctx context.Context, deps app.Deps) (app.DataPlane, error) {
	return func(ctx context.Context, deps app.Deps) (app.DataPlane, error) {
		return Build(ctx, deps, opts)
	}
}

// Build creates the recorder and the reviewer registry; the gateway, worker
// and prober are built in Mount, once the coordinator exists.
func Build(_ context.Context, deps app.Deps, opts Options) (*Plane, error) {
	if opts.ProbesDir == "" {
		opts.ProbesDir = "testdata/golden"
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = time.Minute
	}
	if opts.ProbeCases <= 0 {
		opts.ProbeCases = 5
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.KubernetesClient == nil {
		opts.KubernetesClient = scale.InClusterClient
	}
	if opts.ReviewRetention <= 0 {
		opts.ReviewRetention = DefaultReviewRetention
	}
	if opts.CycleMetricsInterval <= 0 {
		opts.CycleMetricsInterval = 15 * time.Second
	}
	if opts.Instance == "" {
		opts.Instance = deps.Instance
	}
	p := &Plane{opts: opts, deps: deps, log: deps.Logger, role: deps.Role}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.role == "" {
		p.role = app.RoleAll
	}
	clock := deps.Clock
	if clock == nil {
		clock = coordination.RealClock()
	}
	var err error
	if p.rec, err = measure.New(recorderStore(deps, p.role), clock, deps.Registry, measure.Options{
		Logger: p.log, ActiveCanary: p.activeCanary}); err != nil {
		return nil, fmt.Errorf("data plane: recorder: %w", err)
	}
	if p.role == app.RoleGateway || p.role == app.RoleExperiments {
		if deps.Bus == nil {
			return nil, fmt.Errorf("data plane: role %s: %w: no bus to forward outcomes on", p.role, coordination.ErrInvalidInput)
		}
		inst := opts.Instance
		if inst == "" {
			inst = coordination.NewID(string(p.role), clock.Now())
		}
		p.fwd = newForwarder(p.rec, deps.Bus, clock, p.log, inst)
	}
	if p.reg, err = gateway.NewRegistry(gateway.RegistryOptions{Variants: deps.Config.Variants, LookupEnv: opts.LookupEnv}); err != nil {
		return nil, fmt.Errorf("data plane: variants: %w", err)
	}
	if deps.Registry != nil {
		if p.mets, err = gateway.NewMetrics(deps.Registry); err != nil {
			return nil, fmt.Errorf("data plane: metrics: %w", err)
		}
	}
	if p.prom, err = newMetricsSource(deps.Config.Health.MetricsSource, clock, p.log); err != nil {
		return nil, fmt.Errorf("data plane: %w", err)
	}
	if p.scaler, err = p.newScaler(deps.Config.Health.Scaler, clock); err != nil {
		return nil, fmt.Errorf("data plane: %w", err)
	}
	return p, nil
}

// recorderStore is the store the recorder persists through for role (see
// the package comment, Measurements across processes).
func recorderStore(deps app.Deps, role app.Role) coordination.Store {
	switch {
	case role == app.RoleGateway || role == app.RoleExperiments:
		return localStore{deps.Store}
	case role == app.RoleCoordinator && deps.Acting != nil:
		return actingStore{Store: deps.Store, acting: deps.Acting}
	default:
		return deps.Store
	}
}

// Role returns the role the plane runs in.
func (p *Plane) Role() app.Role { return p.role }

// ForwardDropped returns how many outcomes a gateway or experiments process
// dropped because the bus could not take them for too long (0 in the
// other roles).
func (p *Plane) ForwardDropped() int64 {
	if p.fwd == nil {
		return 0
	}
	return p.fwd.Dropped()
}

// Recorder returns the measurement recorder.
func (p *Plane) Recorder() *measure.Recorder { return p.rec }

// activeCanary names the promotion in its canary phases ("" when none), for
// the recorder's canary health target.
func (p *Plane) activeCanary() string {
	p.mu.Lock()
	c := p.coord
	p.mu.Unlock()
	if c == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := c.Routing(ctx)
	if err != nil || r.Canary == nil {
		return ""
	}
	return r.Canary.RequestID
}

// Hooks wires the recorder into the coordinator, with the health and canary
// metrics from Prometheus when health.metrics_source says so, and the
// configured scaler.
func (p *Plane) Hooks() app.Hooks {
	h := app.Hooks{Measurements: p.rec.Measurements, CanaryMetrics: p.rec.CanaryMetrics,
		HealthMetrics: p.rec.HealthMetrics, CostPerReview: p.rec.CostPerReview, Feedback: p.rec.Feedback,
		Scaler: p.scaler}
	if p.prom != nil {
		h.HealthMetrics, h.CanaryMetrics = p.prom.HealthMetrics, p.prom.CanaryMetrics
	}
	return h
}

// Mount builds what the role runs on the coordinator (the gateway, the
// worker, the prober) and registers the review and chat-completion routes
// on the API when the role serves reviews.
func (p *Plane) Mount(api *httpapi.Server) error {
	c := api.Coordinator()
	p.mu.Lock()
	p.coord = c
	p.mu.Unlock()
	clock := c.Clock()
	var rec gateway.Recorder = p.rec
	if p.fwd != nil {
		rec = p.fwd
	}
	var gw *gateway.Gateway
	var worker *gateway.Worker
	var err error
	if p.role.ServesReviews() {
		if gw, err = gateway.New(gateway.Options{Routing: c.Routing, Registry: p.reg, Recorder: rec, Bus: p.deps.Bus,
			Clock: clock, Logger: p.log, Metrics: p.mets, Instance: p.opts.Instance,
			Store: gateway.NewStoredReviews(c.Store())}); err != nil {
			return fmt.Errorf("data plane: gateway: %w", err)
		}
	}
	if p.role.RunsWorker() {
		if worker, err = gateway.NewWorker(gateway.WorkerOptions{Bus: p.deps.Bus, Routing: c.Routing, Registry: p.reg,
			Recorder: rec, Clock: clock, Logger: p.log, Metrics: p.mets,
			Processed: c.Store().ConsumerMarkProcessed,
			Spent:     func(_ context.Context, id string) (float64, error) { return p.rec.Spent(id), nil },
			Instance:  p.opts.Instance}); err != nil {
			return fmt.Errorf("data plane: worker: %w", err)
		}
	}
	var prober *gateway.Prober
	if gw == nil {
		// No gateway in this role: nothing to probe, no routes to mount.
		p.mu.Lock()
		p.worker = worker
		p.mu.Unlock()
		return nil
	}
	if cases, err := golden.Load(p.opts.ProbesDir); err == nil && len(cases) > 0 {
		if prober, err = gateway.NewProber(gw, gateway.ProberOptions{Cases: cases, N: p.opts.ProbeCases, Seed: 1}); err != nil {
			return fmt.Errorf("data plane: prober: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) && err != nil {
		return fmt.Errorf("data plane: probes in %s: %w", p.opts.ProbesDir, err)
	} else {
		p.log.Info("golden probes off: no labelled cases", "dir", p.opts.ProbesDir)
	}
	for _, e := range gw.Endpoints() {
		if err := api.Mount(httpapi.Route{Method: e.Method, Path: e.Path, Permission: e.Permission, Summary: e.Summary,
			Request: e.Request, Response: e.Response, Status: e.Status, Handler: e.Handler}); err != nil {
			return fmt.Errorf("data plane: mount %s %s: %w", e.Method, e.Path, err)
		}
	}
	p.mu.Lock()
	p.gw, p.worker, p.prober = gw, worker, prober
	p.mu.Unlock()
	return nil
}

// Start loads persisted measurements and starts what the role runs: the
// recorder, the gateway, the worker, the prober, the outcome forwarder (a
// gateway or experiments process) or the outcome intake (a coordinator).
func (p *Plane) Start(ctx context.Context) error {
	if p.role.RunsCoordinator() {
		if err := p.rec.Load(ctx); err != nil {
			p.log.Error("load persisted measurements", "err", err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.coord == nil {
		return errors.New("data plane: start before mount")
	}
	if p.role == app.RoleCoordinator {
		// Every coordinator records every forwarded outcome under its own
		// private consumer (a shared one would split them), from now on.
		sub, err := p.deps.Bus.Subscribe(ctx, coordination.SubscribeOptions{Types: []string{EventOutcomesRecorded}},
			newIntake(p.rec, p.log).handle)
		if err != nil {
			return fmt.Errorf("data plane: subscribe to forwarded outcomes: %w", err)
		}
		p.sub = sub
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	p.spawn(func() {
		if err := p.rec.Run(rctx); err != nil && rctx.Err() == nil {
			p.log.Error("measurement recorder stopped", "err", err)
		}
	})
	if p.fwd != nil {
		p.spawn(func() { p.fwd.run(rctx) })
	}
	if p.gw != nil {
		if err := p.gw.Start(rctx); err != nil {
			cancel()
			return fmt.Errorf("data plane: start gateway: %w", err)
		}
	}
	if p.worker != nil {
		if err := p.worker.Start(rctx); err != nil {
			cancel()
			return fmt.Errorf("data plane: start worker: %w", err)
		}
	}
	if m := p.rec.Metrics(); m != nil && p.role.RunsCoordinator() {
		c := p.coord
		p.spawn(func() { p.publishCycle(rctx, c, m) })
	}
	if p.role.RunsCoordinator() {
		c := p.coord
		p.spawn(func() { p.expireReviews(rctx, c) })
	}
	if p.prober != nil {
		p.spawn(func() {
			if err := p.prober.Run(rctx, p.opts.ProbeInterval); err != nil && rctx.Err() == nil {
				p.log.Error("golden probes stopped", "err", err)
			}
		})
	}
	return nil
}

func (p *Plane) spawn(fn func()) {
	done := make(chan struct{})
	p.done = append(p.done, done)
	go func() {
		defer close(done)
		fn()
	}()
}

// Stop stops the worker and the gateway, publishes the outcomes still to
// forward, stops the outcome intake, then the recorder (which flushes its
// buckets to the store).
func (p *Plane) Stop(ctx context.Context) error {
	p.mu.Lock()
	gw, worker, cancel, done, sub := p.gw, p.worker, p.cancel, p.done, p.sub
	p.cancel, p.done, p.sub = nil, nil, nil
	p.mu.Unlock()
	var errs []error
	if worker != nil {
		errs = append(errs, worker.Stop(ctx))
	}
	if gw != nil {
		errs = append(errs, gw.Stop(ctx))
	}
	if p.fwd != nil {
		if err := p.fwd.flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("data plane: forward the last outcomes: %w", err))
		}
	}
	if sub != nil {
		errs = append(errs, sub.Close())
	}
	if cancel != nil {
		cancel()
	}
	for _, d := range done {
		select {
		case <-d:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("data plane: stop: %w", ctx.Err()))
		}
	}
	return errors.Join(errs...)
}

// History serves the dashboard's charts from the recorder's hourly buckets.
func (p *Plane) History(_ context.Context, series string, from, to time.Time, _ time.Duration) ([]web.Point, error) {
	pts := p.rec.History(series, from, to)
	out := make([]web.Point, 0, len(pts))
	for _, h := range pts {
		a := h.Stats.Aggregate
		pt := web.Point{At: h.Start, Requests: a.Requests}
		if a.Requests > 0 {
			pt.ErrorRate = float64(a.Errors) / float64(a.Requests)
			pt.CostPerReview = a.CostSum / float64(a.Requests)
			pt.P95 = a.Quantile(0.95)
		}
		out = append(out, pt)
	}
	return out, nil
}

// Wire returns base with the data plane and the dashboard set: the
// dashboard's charts read the data plane's recorder.
func Wire(base app.Options, opts Options) app.Options {
	var mu sync.Mutex
	var plane *Plane
	base.DataPlane = func(ctx context.Context, deps app.Deps) (app.DataPlane, error) {
		p, err := Build(ctx, deps, opts)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		plane = p
		mu.Unlock()
		return p, nil
	}
	base.Dashboard = func(c *coordination.LifecycleCoordinator) (http.Handler, error) {
		mu.Lock()
		p := plane
		mu.Unlock()
		wo := web.Options{Logger: base.Logger, ChartStep: time.Hour}
		if p != nil {
			wo.History, wo.Measurements = p.History, p.rec.Measurements
		}
		return web.New(c, wo)
	}
	return base
}

// publishCycle keeps the cycle's Prometheus gauges (experiments by state,
// promotion phase and weight, alerts, error budget) current.
func (p *Plane) publishCycle(ctx context.Context, c *coordination.LifecycleCoordinator, m *measure.Metrics) {
	t := time.NewTicker(p.opts.CycleMetricsInterval)
	defer t.Stop()
	sys := coordination.WithActor(ctx, coordination.SystemActor("metrics"))
	for {
		if st, err := c.SystemStatus(sys); err == nil {
			m.SetCycle(st)
		} else if ctx.Err() == nil {
			p.log.Error("read system status for metrics", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh makes the gateway and the worker read the routing state now
// instead of waiting for the next event or periodic refresh.
func (p *Plane) Refresh(ctx context.Context) error {
	p.mu.Lock()
	gw, worker, c := p.gw, p.worker, p.coord
	p.mu.Unlock()
	if c == nil {
		return errors.New("data plane: refresh before mount")
	}
	var errs []error
	if gw != nil {
		errs = append(errs, gw.Refresh(ctx))
	}
	if worker != nil {
		errs = append(errs, worker.Refresh(ctx))
	}
	return errors.Join(errs...)
}

// expireReviews deletes answered reviews older than the retention, at start
// and then every hour.
func (p *Plane) expireReviews(ctx context.Context, c *coordination.LifecycleCoordinator) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := p.ExpireReviews(ctx, c); err != nil && ctx.Err() == nil {
			p.log.Error("expire old reviews", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ExpireReviews deletes the answered reviews created before the retention
// period (measured on the coordinator's clock) and returns how many.
func (p *Plane) ExpireReviews(ctx context.Context, c *coordination.LifecycleCoordinator) (int, error) {
	before := c.Clock().Now().Add(-p.opts.ReviewRetention)
	n := 0
	err := c.Store().InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		var err error
		n, err = tx.ReviewsDelete(ctx, before)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("expire reviews before %s: %w", before.Format(time.RFC3339), err)
	}
	return n, nil
}

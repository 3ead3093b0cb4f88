// Package dataplane composes the review data plane of `tricycle serve`: the
// measurement recorder (internal/measure) that feeds the coordinator's
// hooks, the V2 gateway and the V1 experiments worker (internal/gateway),
// and golden probes. It implements app.DataPlane; the CLI passes New to
// app.Options.DataPlane.
//
// The configuration's health section chooses two of the hooks: with
// health.metrics_source.kind prometheus the health monitor and the canary
// analysis read Prometheus (internal/promsource) instead of the recorder,
// and health.scaler picks the scaler of scale-ups (log, the Kubernetes
// scale subresource or a webhook, internal/scale).
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
	// Instance names this replica's bus consumers ("" : generated).
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
}

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

	mu     sync.Mutex // guards the fields below
	coord  *coordination.LifecycleCoordinator
	gw     *gateway.Gateway
	worker *gateway.Worker
	prober *gateway.Prober
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
	if opts.CycleMetricsInterval <= 0 {
		opts.CycleMetricsInterval = 15 * time.Second
	}
	p := &Plane{opts: opts, deps: deps, log: deps.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	clock := deps.Clock
	if clock == nil {
		clock = coordination.RealClock()
	}
	var err error
	if p.rec, err = measure.New(deps.Store, clock, deps.Registry, measure.Options{
		Logger: p.log, ActiveCanary: p.activeCanary}); err != nil {
		return nil, fmt.Errorf("data plane: recorder: %w", err)
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

// Mount builds the gateway on the running coordinator and registers the
// review and chat-completion routes on the API.
func (p *Plane) Mount(api *httpapi.Server) error {
	c := api.Coordinator()
	p.mu.Lock()
	p.coord = c
	p.mu.Unlock()
	clock := c.Clock()
	gw, err := gateway.New(gateway.Options{Routing: c.Routing, Registry: p.reg, Recorder: p.rec, Bus: p.deps.Bus,
		Clock: clock, Logger: p.log, Metrics: p.mets, Instance: p.opts.Instance})
	if err != nil {
		return fmt.Errorf("data plane: gateway: %w", err)
	}
	worker, err := gateway.NewWorker(gateway.WorkerOptions{Bus: p.deps.Bus, Routing: c.Routing, Registry: p.reg,
		Recorder: p.rec, Clock: clock, Logger: p.log, Metrics: p.mets,
		Processed: c.Store().ConsumerMarkProcessed,
		Spent:     func(_ context.Context, id string) (float64, error) { return p.rec.Spent(id), nil },
		Instance:  p.opts.Instance})
	if err != nil {
		return fmt.Errorf("data plane: worker: %w", err)
	}
	var prober *gateway.Prober
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

// Start loads persisted measurements and starts the recorder, the gateway,
// the worker and the prober.
func (p *Plane) Start(ctx context.Context) error {
	if err := p.rec.Load(ctx); err != nil {
		p.log.Error("load persisted measurements", "err", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gw == nil {
		return errors.New("data plane: start before mount")
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	p.spawn(func() {
		if err := p.rec.Run(rctx); err != nil && rctx.Err() == nil {
			p.log.Error("measurement recorder stopped", "err", err)
		}
	})
	if err := p.gw.Start(rctx); err != nil {
		cancel()
		return fmt.Errorf("data plane: start gateway: %w", err)
	}
	if err := p.worker.Start(rctx); err != nil {
		cancel()
		return fmt.Errorf("data plane: start worker: %w", err)
	}
	if m := p.rec.Metrics(); m != nil {
		c := p.coord
		p.spawn(func() { p.publishCycle(rctx, c, m) })
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

// Stop stops the worker and the gateway, then the recorder (which flushes
// its buckets to the store).
func (p *Plane) Stop(ctx context.Context) error {
	p.mu.Lock()
	gw, worker, cancel, done := p.gw, p.worker, p.cancel, p.done
	p.cancel, p.done = nil, nil
	p.mu.Unlock()
	var errs []error
	if worker != nil {
		errs = append(errs, worker.Stop(ctx))
	}
	if gw != nil {
		errs = append(errs, gw.Stop(ctx))
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
	gw, worker := p.gw, p.worker
	p.mu.Unlock()
	if gw == nil {
		return errors.New("data plane: refresh before mount")
	}
	return errors.Join(gw.Refresh(ctx), worker.Refresh(ctx))
}

package coordination_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
	"github.com/tricyclehq/tricycle/coordination/decision"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fakeSource is a hand-written fake for every metrics dependency: tests set
// the values each target should report.
type fakeSource struct {
	mu      sync.Mutex
	cand    map[string]decision.Measured // by experiment ID
	base    decision.Measured
	canary  decision.Measured
	stable  decision.Measured
	health  map[string]coordination.HealthSample
	healthE error
}

func (f *fakeSource) measurements(_ context.Context, e *coordination.Experiment, _ time.Time) (decision.Measured, decision.Measured, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cand[e.ID], f.base, nil
}

func (f *fakeSource) canaryMetrics(context.Context, *coordination.PromotionRequest, time.Time) (decision.Measured, decision.Measured, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.canary, f.stable, nil
}

func (f *fakeSource) healthMetrics(_ context.Context, target string, _ time.Duration) (coordination.HealthSample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.health[target], f.healthE
}

func (f *fakeSource) set(fn func(f *fakeSource)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// quantiles is a Quantiler over a fixed sample.
type quantiles []float64

func (q quantiles) Quantile(p float64) float64 {
	if len(q) == 0 {
		return 0
	}
	s := append([]float64(nil), q...)
	sort.Float64s(s)
	i := int(p * float64(len(s)-1))
	return s[i]
}

func (q quantiles) Count() int64 { return int64(len(q)) }

// constLatency returns n samples of v seconds.
func constLatency(n int, v float64) quantiles {
	q := make(quantiles, n)
	for i := range q {
		q[i] = v
	}
	return q
}

type bundle struct {
	c      *coordination.LifecycleCoordinator
	clock  *coordinationtest.ManualClock
	src    *fakeSource
	scaler *recordingScaler
	ctx    context.Context
}

type recordingScaler struct {
	mu       sync.Mutex
	replicas int
	calls    []int
}

func (s *recordingScaler) Replicas(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replicas, nil
}

func (s *recordingScaler) Scale(_ context.Context, n int, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replicas = n
	s.calls = append(s.calls, n)
	return nil
}

// setup builds a coordinator on the in-memory store with a manual clock and
// fake metric sources, initialised but with no background loop: tests drive
// it with RunOnce.
func setup(t *testing.T, mutate ...func(*coordination.Options)) *bundle {
	t.Helper()
	b := &bundle{clock: coordinationtest.NewManualClock(t0), ctx: context.Background(),
		src:    &fakeSource{cand: map[string]decision.Measured{}, health: map[string]coordination.HealthSample{}},
		scaler: &recordingScaler{replicas: 2}}
	opts := coordination.Options{Clock: b.clock, Measurements: b.src.measurements,
		CanaryMetrics: b.src.canaryMetrics, HealthMetrics: b.src.healthMetrics, Scaler: b.scaler}
	for _, m := range mutate {
		m(&opts)
	}
	c, err := coordination.NewLifecycleCoordinator(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Init(b.ctx); err != nil {
		t.Fatal(err)
	}
	b.c = c
	t.Cleanup(func() { _ = c.Store().Close() })
	return b
}

// events returns every event emitted so far (the outbox, since no relay runs).
func (b *bundle) events(t *testing.T) []coordination.Event {
	t.Helper()
	evs, err := b.c.Store().OutboxPending(b.ctx, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func (b *bundle) count(t *testing.T, typ string) int {
	n := 0
	for _, e := range b.events(t) {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func (b *bundle) auditLen(t *testing.T) int {
	t.Helper()
	es, err := b.c.Store().AuditList(b.ctx, coordination.AuditFilter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

var candidate = coordination.Variant{Name: "gpt-x", Provider: "openai", Model: "gpt-x-2026",
	BaseURL: "https://api.example.com/v1", APIKeyEnv: "OPENAI_API_KEY",
	Prices: coordination.Prices{InputPerMTok: 1, OutputPerMTok: 4}}

// promoted creates, starts and evaluates an experiment to PROMOTE and
// returns it with its promotion (awaiting approval).
func (b *bundle) promoted(t *testing.T, v coordination.Variant) (*coordination.Experiment, *coordination.PromotionRequest) {
	t.Helper()
	p, err := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: "candidate " + v.Name,
		SuccessCriteria: map[string]string{"accuracy": "> 90%"}, Variant: v})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.c.StartExperiment(b.ctx, p.ExperimentID, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	d, err := b.c.EvaluateExperiment(b.ctx, p.ExperimentID, map[string]float64{"accuracy": 0.95})
	if err != nil || d != coordination.Promote {
		t.Fatalf("evaluate = %v, %v", d, err)
	}
	e, err := b.c.GetExperiment(b.ctx, p.ExperimentID)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := b.c.Promotion().GetPromotion(b.ctx, e.PromotionID)
	if err != nil {
		t.Fatal(err)
	}
	if pr.State != coordination.PromotionAwaitingApproval {
		t.Fatalf("promotion state %s, validation %+v", pr.State, pr.Validation)
	}
	return e, pr
}

func (b *bundle) promotion(t *testing.T, id string) *coordination.PromotionRequest {
	t.Helper()
	p, err := b.c.Promotion().GetPromotion(b.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (b *bundle) experiment(t *testing.T, id string) *coordination.Experiment {
	t.Helper()
	e, err := b.c.GetExperiment(b.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (b *bundle) runOnce(t *testing.T) coordination.CycleReport {
	t.Helper()
	rep, err := b.c.RunOnce(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func wantErr(t *testing.T, err, target error, mention string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
	if mention != "" && !strings.Contains(err.Error(), mention) {
		t.Fatalf("error %q must mention %q", err, mention)
	}
}

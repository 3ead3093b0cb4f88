package gateway

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
	"github.com/tricyclehq/tricycle/internal/measure"
	"github.com/tricyclehq/tricycle/internal/review"
)

var _ Recorder = (*measure.Recorder)(nil)

// Review traffic through the gateway with two running experiments: shadow
// copies reach the experiments worker over the memory bus only, the measure
// recorder aggregates what both record, and the coordinator's evaluator
// decides from those samples — promoting the better variant, quarantining
// the broken one — after which the canary takes its share of user traffic.
func TestEndToEndShadowEvaluationAndCanary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := coordinationtest.NewManualClock(t0)
	store := coordination.NewMemoryStore()
	bus := coordination.NewMemoryBus(coordination.MemoryBusOptions{})
	defer bus.Close()
	mrec, err := measure.New(store, clock, nil, measure.Options{BufferSize: 1 << 14})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	rec.next = mrec
	prod := coordination.Variant{Name: "baseline", Provider: "simulated", Model: "sim-base",
		Simulated: &coordination.Simulated{LatencyP50: coordination.Duration(time.Second), LatencyP95: coordination.Duration(2 * time.Second),
			Accuracy: 1, Seed: 1}}
	c, err := coordination.NewLifecycleCoordinator(coordination.Options{Store: store, Bus: bus, Clock: clock,
		Production: prod, Measurements: mrec.Measurements})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	broken := &fakeReviewer{fn: func(context.Context, review.Request) (review.Result, error) {
		return review.Result{}, errors.New("upstream 503")
	}}
	// Fixed reviewers stand in for the providers (the registry tests cover
	// building them): both find the same issue, the candidate in less time.
	finding := review.Finding{File: "store/users.go", Line: 5, Severity: review.SeverityHigh, Category: "security"}
	answer := func(latency time.Duration) *fakeReviewer {
		return &fakeReviewer{fn: func(context.Context, review.Request) (review.Result, error) {
			return review.Result{Findings: []review.Finding{finding}, Latency: latency,
				Usage: review.Usage{InputTokens: 900, OutputTokens: 80, CostUSD: 0.002}}, nil
		}}
	}
	reg, err := NewRegistry(RegistryOptions{Reviewers: map[string]review.Reviewer{
		"broken": broken, "baseline": answer(time.Second), "faster": answer(400 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Routing: c.Routing, Registry: reg, Recorder: rec, Bus: bus, Clock: clock, ShadowQueue: 8192})
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWorker(WorkerOptions{Bus: bus, Routing: c.Routing, Registry: reg, Recorder: rec, Clock: clock,
		Processed: store.ConsumerMarkProcessed, QueueSize: 8192})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []interface{ Start(context.Context) error }{g, w} {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	defer g.Stop(ctx)
	defer w.Stop(ctx)

	good := coordination.Variant{Name: "faster", Provider: "simulated", Model: "sim-fast",
		Simulated: &coordination.Simulated{LatencyP50: coordination.Duration(400 * time.Millisecond),
			LatencyP95: coordination.Duration(800 * time.Millisecond), Accuracy: 1, Seed: 2}}
	bad := coordination.Variant{Name: "broken", Provider: "simulated", Model: "sim-broken",
		Simulated: &coordination.Simulated{ErrorRate: 1, Seed: 3}}
	criteria := map[string]string{"agreement": "> 80%", "error_rate": "< 5%", "latency_p95": "< 3s"}
	ids := map[string]string{}
	for name, v := range map[string]coordination.Variant{"good": good, "bad": bad} {
		p, err := c.CreateExperiment(ctx, coordination.ExperimentSpec{Title: "try " + v.Name, Hypothesis: "it is better",
			SuccessCriteria: criteria, Variant: v, ShadowPercent: 100})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.StartExperiment(ctx, p.ExperimentID, "admin@example.com"); err != nil {
			t.Fatal(err)
		}
		ids[name] = p.ExperimentID
	}
	relay(t, c, g, w)

	const n = 1500
	for i := range n {
		res, err := g.Review(ctx, review.Request{Repository: fmt.Sprintf("org/r%d", i), Diff: goDiff})
		if err != nil || res.Arm != ArmProduction {
			t.Fatalf("request %d: arm %s err %v", i, res.Arm, err)
		}
	}
	rec.waitFor(t, SeriesExperiment(ids["good"]), n)
	rec.waitFor(t, SeriesExperiment(ids["bad"]), n)
	rec.waitFor(t, SeriesExperimentBaseline(ids["bad"]), n)

	// The evaluator may quarantine early; it promotes after the minimum period.
	clock.Advance(7*24*time.Hour + time.Hour)
	rep, err := c.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Decisions[ids["good"]] != coordination.Promote || rep.Decisions[ids["bad"]] != coordination.Quarantine {
		e, _ := c.GetExperiment(ctx, ids["good"])
		t.Fatalf("decisions %v; good's evaluation: %+v", rep.Decisions, e.LastEvaluation)
	}
	relay(t, c, g, w)

	// The quarantined variant is never invoked again.
	calls := broken.n()
	for i := range 200 {
		if _, err := g.Review(ctx, review.Request{Repository: fmt.Sprintf("org/q%d", i), Diff: goDiff}); err != nil {
			t.Fatal(err)
		}
	}
	if broken.n() != calls {
		t.Errorf("quarantined variant invoked %d more times", broken.n()-calls)
	}

	// Approving the promotion starts the canary at 10% of user traffic.
	e, err := c.GetExperiment(ctx, ids["good"])
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ApprovePromotion(ctx, e.PromotionID, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	relay(t, c, g, w)
	canaries := 0
	const m = 2000
	for i := range m {
		res, err := g.Review(ctx, review.Request{Repository: fmt.Sprintf("org/c%d", i), Diff: goDiff})
		if err != nil {
			t.Fatal(err)
		}
		if res.Arm == ArmCanary {
			canaries++
			if res.Variant != "faster" {
				t.Fatalf("canary answered by %s", res.Variant)
			}
		}
	}
	if share := 100 * float64(canaries) / m; math.Abs(share-10) > 3 {
		t.Errorf("canary took %.1f%% of traffic, want about 10%%", share)
	}
	canary, stable, err := mrec.CanaryMetrics(ctx, &coordination.PromotionRequest{RequestID: e.PromotionID}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if canary.Requests != int64(canaries) || stable.Requests == 0 {
		t.Errorf("canary metrics: %d canary requests (want %d), %d stable", canary.Requests, canaries, stable.Requests)
	}
}

// relay publishes the coordinator's pending events and makes the gateway
// and the worker read the routing state they announce.
func relay(t *testing.T, c *coordination.LifecycleCoordinator, g *Gateway, w *Worker) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.RelayOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := g.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

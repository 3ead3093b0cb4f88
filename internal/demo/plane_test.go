package demo

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
	"github.com/tricyclehq/tricycle/internal/gateway"
	"github.com/tricyclehq/tricycle/internal/measure"
	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/builtin"
)

// testRouting is production on the baseline, a canary of the better
// reviewer at 10% and two running experiments at 5%.
func testRouting(vs variants) coordination.Routing {
	return coordination.Routing{
		Production: &coordination.Release{ID: "rel-1", Variant: vs.baseline.Variant},
		Canary: &coordination.PromotionRequest{RequestID: "prm-1", Candidate: vs.good.Variant, TrafficPercent: 10,
			State: coordination.PhaseState(1)},
		Experiments: []*coordination.Experiment{
			{ID: "exp-a", State: coordination.ExperimentRunning, Variant: vs.bad.Variant, ShadowPercent: shadowPercent},
			{ID: "exp-b", State: coordination.ExperimentRunning, Variant: vs.breaks.Variant, ShadowPercent: shadowPercent},
		},
	}
}

// startPlane returns a data plane serving r at rate requests an hour.
func startPlane(tb testing.TB, seed uint64, r coordination.Routing) *plane {
	tb.Helper()
	clock := coordinationtest.NewManualClock(day0)
	p, err := newPlane(clock, coordination.NewMemoryStore(), newVariants(), seed, reviewsPerHour, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	tb.Cleanup(func() { _ = p.close(ctx) })
	if err := p.attach(ctx, func(context.Context) (coordination.Routing, error) { return r, nil }); err != nil {
		tb.Fatal(err)
	}
	if _, err := p.refresh(ctx); err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestPlaneSplitsTheCanaryAndShadowsProductionOverTheBus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := startPlane(t, 3, testRouting(newVariants()))
	if err := p.serve(ctx, day0, day0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	p.clock.Set(day0.Add(2 * time.Hour))

	if p.served != 2*reviewsPerHour {
		t.Fatalf("served %d requests in two hours, want %d", p.served, 2*reviewsPerHour)
	}
	span := 3 * time.Hour
	prod := p.rec.Stats(measure.SeriesProduction, span).Aggregate.Requests
	canary := p.rec.Stats(measure.CanarySeries("prm-1"), span).Aggregate.Requests
	if canary != p.canary || prod+canary != p.served {
		t.Errorf("recorded %d production and %d canary requests; the gateway answered %d, %d by the canary", prod, canary, p.served, p.canary)
	}
	if share := float64(canary) / float64(p.served); share < 0.06 || share > 0.14 {
		t.Errorf("the canary answered %.1f%% of requests, want about 10%%", 100*share)
	}

	// Every shadow copy the gateway queued went over the bus and was run
	// by the worker before serve returned: each experiment's series and
	// its V2 baseline hold the same requests.
	var shadows int64
	for _, id := range []string{"exp-a", "exp-b"} {
		cand := p.rec.Stats(measure.ExperimentSeries(id), span)
		base := p.rec.Stats(measure.BaselineSeries(id), span)
		n := cand.Aggregate.Requests
		if n == 0 || n != base.Aggregate.Requests {
			t.Errorf("%s: %d shadow results and %d baseline outcomes, want the same non-zero count", id, n, base.Aggregate.Requests)
		}
		if share := float64(n) / float64(prod); share < 0.02 || share > 0.08 {
			t.Errorf("%s received %.1f%% of production requests, want about 5%%", id, 100*share)
		}
		if cand.Compared == 0 {
			t.Errorf("%s: no shadow result was compared with V2", id)
		}
		shadows += n
	}
	if st := p.gw.ShadowStats(); st.Queued != shadows || p.handled.Load() != shadows || st.Pending != 0 {
		t.Errorf("gateway queued %d shadow copies (%d pending), worker handled %d, recorder holds %d",
			st.Queued, st.Pending, p.handled.Load(), shadows)
	}
}

func TestPlaneIsDeterministicForASeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type figures struct {
		requests, errors, compared, agreed int64
		cost                               float64
		p95                                float64
	}
	measureRun := func(seed uint64) map[string]figures {
		p := startPlane(t, seed, testRouting(newVariants()))
		if err := p.serve(ctx, day0, day0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		p.clock.Set(day0.Add(time.Hour))
		out := map[string]figures{}
		for _, s := range p.rec.Series() {
			st := p.rec.Stats(s, 2*time.Hour)
			out[s] = figures{st.Aggregate.Requests, st.Aggregate.Errors, st.Compared, st.Agreed,
				st.Aggregate.CostSum, st.Aggregate.Quantile(0.95)}
		}
		return out
	}
	a, b, c := measureRun(5), measureRun(5), measureRun(6)
	if len(a) < 6 {
		t.Fatalf("only %d series recorded: %v", len(a), a)
	}
	for s, fa := range a {
		if fb := b[s]; fa != fb {
			t.Errorf("series %s differs between two runs with seed 5: %+v and %+v", s, fa, fb)
		}
	}
	same := true
	for s, fa := range a {
		same = same && fa == c[s]
	}
	if same {
		t.Error("seeds 5 and 6 measured exactly the same traffic")
	}
}

// countingReviewer answers every request with no findings and counts calls.
type countingReviewer struct{ calls atomic.Int64 }

func (c *countingReviewer) Review(context.Context, review.Request) (review.Result, error) {
	c.calls.Add(1)
	return review.Result{Model: "counting", Latency: time.Second}, nil
}

func TestQuotaReviewerRefusesOverQuotaUntilCallsAgeOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := coordinationtest.NewManualClock(day0)
	next := &countingReviewer{}
	q := &quotaReviewer{next: next, clock: clock, quota: 3, model: "sim"}
	steps := []struct {
		after   time.Duration // since day0
		refused bool
	}{
		{0, false},
		{time.Hour, false},
		{2 * time.Hour, false},
		{3 * time.Hour, true}, // fourth call within 24 hours
		{20 * time.Hour, true},
		{24 * time.Hour, false},                    // the first call aged out
		{24*time.Hour + 30*time.Minute, true},      // three calls in the last 24 hours again
		{25*time.Hour + time.Nanosecond, false},    // the second aged out
		{26*time.Hour + 2*time.Nanosecond, false},  // and the third
		{26*time.Hour + 3*time.Nanosecond, true},   // the refusals did not count
		{50*time.Hour + 3*time.Nanosecond, false},  // all aged out
		{50*time.Hour + 30*time.Nanosecond, false}, // two calls in the period
	}
	var refusedAt time.Time
	for i, st := range steps {
		clock.Set(day0.Add(st.after))
		res, err := q.Review(ctx, review.Request{ID: "r", Diff: "+x\n"})
		if refused := errors.Is(err, errQuotaExhausted); refused != st.refused {
			t.Fatalf("call %d at +%s: refused=%t (err %v), want %t", i, st.after, refused, err, st.refused)
		}
		if st.refused && res.Latency != quotaRefusalLatency {
			t.Errorf("call %d: refusal latency %s, want %s", i, res.Latency, quotaRefusalLatency)
		}
		if st.refused && refusedAt.IsZero() {
			refusedAt = clock.Now()
		}
	}
	want := int64(0)
	for _, st := range steps {
		if !st.refused {
			want++
		}
	}
	if got := next.calls.Load(); got != want {
		t.Errorf("the provider was called %d times, want %d", got, want)
	}
	if at, ok := q.takeExhausted(); !ok || !at.Equal(refusedAt) {
		t.Errorf("takeExhausted = %s, %t; want the first refusal %s", at, ok, refusedAt)
	}
	if _, ok := q.takeExhausted(); ok {
		t.Error("takeExhausted reported the exhaustion twice")
	}
}

func TestTruthCacheReviewsEachDiffOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	next := &countingReviewer{}
	c := newTruthCache(next)
	for _, d := range []string{"+a\n", "+b\n", "+a\n", "+a\n", "+b\n"} {
		if _, err := c.Review(ctx, review.Request{ID: "r", Diff: d}); err != nil {
			t.Fatal(err)
		}
	}
	if n := next.calls.Load(); n != 2 {
		t.Errorf("two distinct diffs reviewed %d times, want 2", n)
	}
	// Full files change the answer: such requests are not cached.
	for range 2 {
		if _, err := c.Review(ctx, review.Request{ID: "r", Diff: "+a\n", Files: map[string]string{"a.go": "package a"}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := next.calls.Load(); n != 4 {
		t.Errorf("requests with files reviewed %d times in all, want 4", n)
	}
}

func TestChangesAreValidDiffsWithAndWithoutFindings(t *testing.T) {
	t.Parallel()
	b := builtin.New(builtin.Options{})
	var clean, flawed int
	for _, c := range changes {
		res, err := b.Review(context.Background(), review.Request{ID: "r", Diff: c.diff()})
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if len(res.Findings) == 0 {
			clean++
		} else {
			flawed++
		}
	}
	if clean < 3 || flawed < 6 {
		t.Errorf("%d clean and %d flawed changes, want at least 3 and 6", clean, flawed)
	}
}

// TestReviewCostStaysUnderTheCap checks costCap, the evaluator's bound on
// one review's cost: every demo variant reporting every reference finding
// and a spurious one still costs less on every change.
func TestReviewCostStaysUnderTheCap(t *testing.T) {
	t.Parallel()
	reg, err := gateway.NewRegistry(gateway.RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range newVariants().all() {
		worst := v
		sim := *v.Simulated
		sim.Accuracy, sim.FalsePosRate, sim.ErrorRate = 1, 1, 0
		worst.Simulated = &sim
		rv, err := reg.Reviewer(worst)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range changes {
			res, err := rv.Review(context.Background(), review.Request{ID: "r", Diff: c.diff()})
			if err != nil {
				t.Fatalf("%s on %s: %v", v.Name, c.path, err)
			}
			if cost := res.Usage.CostUSD; !(cost > 0 && cost < costCap) {
				t.Errorf("%s on %s costs $%g, want within (0, $%g)", v.Name, c.path, cost, costCap)
			}
		}
	}
}

// BenchmarkServeHour measures an hour of the demo's traffic through the
// data plane: 300 reviews by production or a 10% canary, and shadow copies
// to two experiments over the bus.
func BenchmarkServeHour(b *testing.B) {
	p := startPlane(b, 1, testRouting(newVariants()))
	ctx := context.Background()
	at := day0
	for b.Loop() {
		if err := p.serve(ctx, at, at.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		at = at.Add(time.Hour)
	}
	b.ReportMetric(float64(p.served)/b.Elapsed().Seconds(), "reviews/s")
}

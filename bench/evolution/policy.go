package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/tricyclehq/tricycle/bench/internal/traffic"
	"github.com/tricyclehq/tricycle/coordination"
)

// roadmapSource names the proposal source that brings the year's variants.
const roadmapSource = "roadmap"

// roadmap proposes each variant once it has arrived. Its criteria are set
// from production's measured figures over the last 7 days: accuracy above
// production's, cost per review within 5% of production's, p95 under the
// 3 s SLO.
type roadmap struct{ w *world }

// Name returns the source's name.
func (roadmap) Name() string { return roadmapSource }

// Propose returns a candidate for every arrived variant not yet proposed.
func (r roadmap) Propose(_ context.Context, in coordination.GeneratorInput) ([]coordination.Candidate, error) {
	w := r.w
	a := w.trailing.Aggregate(in.Now, 7*24*time.Hour)
	if a.Labelled == 0 || a.Requests == 0 {
		return nil, nil
	}
	acc, cost := a.AccuracyRate(), a.MeanCost()
	var out []coordination.Candidate
	for _, v := range w.variants {
		if w.proposed[v.index] || v.arrival.After(in.Now) {
			continue
		}
		w.proposed[v.index] = true
		out = append(out, coordination.Candidate{
			Title:      "Try " + v.name,
			Hypothesis: fmt.Sprintf("%s reviews at least as accurately as production (%.1f%%) at no higher cost", v.name, 100*acc),
			SuccessCriteria: map[string]string{
				"accuracy":        fmt.Sprintf("> %.1f%%", 100*acc),
				"cost_per_review": fmt.Sprintf("< $%.4f", 1.05*cost),
				"latency_p95":     "< 3s",
			},
			Variant: coordination.Variant{Name: v.name, Provider: coordination.ProviderSimulated, Model: v.name,
				Strategy: coordination.StrategySingle},
			Source: roadmapSource, Impact: 0.5, Confidence: 0.5,
		})
	}
	return out, nil
}

// policy is one way of running the year: which hooks the coordinator gets,
// its canary plan, and what the simulation does around it.
type policy interface {
	// label names the policy in the report.
	label() string
	// config is the coordinator's configuration.
	config() coordination.Config
	// sequentialGate reports whether the coordinator decides experiments
	// from samples (the Measurements hook); canaryAnalysis whether it
	// analyses canaries (the CanaryMetrics hook).
	sequentialGate() bool
	canaryAnalysis() bool
	// gate applies the policy's own promotion gate, if it has one, at a
	// step.
	gate(ctx context.Context, w *world) error
	// minute runs after each simulated minute.
	minute(ctx context.Context, w *world, minuteIndex int) error
	// canaryStarted resets per-canary state.
	canaryStarted()
	// canaryHealthMin is the number of canary requests in the health
	// window below which the health hook reports no canary values (0: any).
	canaryHealthMin() int64
}

// tricyclePolicy is the product: the evaluator decides from samples in
// every coordinator pass, canaries are analysed by AnalyzeCanary, and the
// coordinator passes every canaryStep minutes while a canary is in its
// phases (every step otherwise). With healthMin set, the health hook
// reports no canary values until the window holds that many canary
// requests (a what-if, not the product's data plane).
type tricyclePolicy struct {
	canaryStep int
	healthMin  int64
}

func (p tricyclePolicy) label() string {
	if p.healthMin > 0 {
		return fmt.Sprintf("tricycle, canary health ≥ %d req (what-if)", p.healthMin)
	}
	return "tricycle"
}

func (p tricyclePolicy) canaryHealthMin() int64           { return p.healthMin }
func (tricyclePolicy) config() coordination.Config        { return coordination.DefaultConfig() }
func (tricyclePolicy) sequentialGate() bool               { return true }
func (tricyclePolicy) canaryAnalysis() bool               { return true }
func (tricyclePolicy) gate(context.Context, *world) error { return nil }
func (tricyclePolicy) canaryStarted()                     {}

func (p tricyclePolicy) minute(ctx context.Context, w *world, m int) error {
	if w.canary == nil || m%p.canaryStep != 0 {
		return nil
	}
	return w.runOnce(ctx)
}

// flaggerPolicy is a Flagger-style release: a point-metric gate (the
// experiment's criteria checked on point estimates after the minimum
// evaluation period, EvaluatePoint with the 5% tolerance), then Flagger's
// documented progression: canary weight 10%, 20% … 50% advancing one step
// per 1-minute interval, promotion to 100% after the 50% check passes. Each
// interval checks the canary's last minute: error rate above maxErrorRate,
// p95 above maxP95 or no requests fail the check, which also halts
// advancement; failed checks accumulate, and the interval that finds
// threshold of them rolls back.
type flaggerPolicy struct {
	maxErrorRate, maxP95 float64
	threshold            int
	failed               int
}

func (*flaggerPolicy) label() string { return "Flagger-style" }

func (*flaggerPolicy) config() coordination.Config {
	c := coordination.DefaultConfig()
	c.Phases = nil
	for _, pct := range []int{10, 20, 30, 40, 50} {
		c.Phases = append(c.Phases, coordination.Phase{Percent: pct, Duration: coordination.Duration(time.Minute)})
	}
	return c
}

func (*flaggerPolicy) sequentialGate() bool   { return false }
func (*flaggerPolicy) canaryAnalysis() bool   { return false }
func (f *flaggerPolicy) canaryStarted()       { f.failed = 0 }
func (*flaggerPolicy) canaryHealthMin() int64 { return 0 }

// gate evaluates experiments that have run the minimum period on their
// point estimates.
func (f *flaggerPolicy) gate(ctx context.Context, w *world) error {
	now := w.clock.Now()
	for _, id := range append([]string(nil), w.expOrder...) {
		x := w.exps[id]
		if now.Sub(x.started) < coordination.DefaultConfig().EvaluationMin.D() {
			continue
		}
		if _, err := w.coord.EvaluateExperiment(ctx, id, pointMetrics(x)); err != nil {
			return fmt.Errorf("point evaluation of %s: %w", id, err)
		}
	}
	return w.sync(ctx)
}

func (f *flaggerPolicy) minute(ctx context.Context, w *world, _ int) error {
	if w.canary == nil {
		return nil
	}
	if f.failed >= f.threshold {
		if err := w.coord.Promotion().Rollback(ctx, w.canary.id, fmt.Sprintf("%d failed checks", f.failed)); err != nil {
			return fmt.Errorf("roll back %s: %w", w.canary.id, err)
		}
		return w.sync(ctx)
	}
	m := &w.canaryMinute
	if m.Requests == 0 || m.ErrorRate() > f.maxErrorRate || m.Quantile(0.95) > f.maxP95 {
		f.failed++
		return nil // a failed check halts advancement
	}
	return w.runOnce(ctx)
}

// fixedPolicy is a fixed-horizon A/B gate followed by tricycle's canary:
// once an experiment has labels labelled reviews (sized for 80% power to
// detect mde points of accuracy at α = 5%, two-sided), two-sample z-tests
// on the shadowed requests decide once: accuracy significantly better with
// neither cost nor the share of requests slower than production's p95
// significantly worse → promotion request; accuracy significantly worse or
// a guardrail significantly worse → quarantine; otherwise the experiment
// is rejected (no significant difference). Canaries then run the product's
// phases with AnalyzeCanary.
type fixedPolicy struct {
	labels     int64
	canaryStep int
}

// newFixedPolicy sizes the test for an accuracy MDE (fraction) at base.
func newFixedPolicy(mde float64, canaryStep int) *fixedPolicy {
	p := initialProduction.Accuracy
	z := traffic.NormalQuantile(0.975) + traffic.NormalQuantile(0.80)
	return &fixedPolicy{labels: int64(math.Ceil(z * z * 2 * p * (1 - p) / (mde * mde))), canaryStep: canaryStep}
}

func (*fixedPolicy) label() string               { return "fixed-horizon A/B" }
func (*fixedPolicy) config() coordination.Config { return coordination.DefaultConfig() }
func (*fixedPolicy) sequentialGate() bool        { return false }
func (*fixedPolicy) canaryAnalysis() bool        { return true }
func (*fixedPolicy) canaryStarted()              {}
func (*fixedPolicy) canaryHealthMin() int64      { return 0 }

func (p *fixedPolicy) minute(ctx context.Context, w *world, m int) error {
	if w.canary == nil || m%p.canaryStep != 0 {
		return nil
	}
	return w.runOnce(ctx)
}

// zCrit is the two-sided 5% critical value.
var zCrit = traffic.NormalQuantile(0.975)

func (p *fixedPolicy) gate(ctx context.Context, w *world) error {
	for _, id := range append([]string(nil), w.expOrder...) {
		x := w.exps[id]
		if x.cand.Labelled < p.labels {
			continue
		}
		c, b := &x.cand, &x.base
		accZ := zProportions(c.Correct, c.Labelled, b.Correct, b.Labelled)
		costZ := zMeans(c.Requests, c.CostSum, c.CostSumSq, b.Requests, b.CostSum, b.CostSumSq)
		limit := time.Duration(b.Quantile(0.95) * float64(time.Second))
		latZ := zProportions(c.CountAbove(limit), c.Count(), b.CountAbove(limit), b.Count())
		var err error
		switch {
		case accZ < -zCrit || costZ > zCrit || latZ > zCrit:
			ft := coordination.FailureAccuracyDegradation
			switch {
			case accZ < -zCrit:
			case costZ > zCrit:
				ft = coordination.FailureCostOverrun
			default:
				ft = coordination.FailureLatencyRegression
			}
			w.gateDecision[id] = "QUARANTINE"
			_, err = w.coord.Quarantine().QuarantineExperiment(ctx, coordination.QuarantineSpec{ExperimentID: id,
				FailureType: string(ft), MetricsAtFailure: pointMetrics(x),
				FailureEvidence: map[string]any{"z_accuracy": accZ, "z_cost": costZ, "z_slow_share": latZ}})
		case accZ > zCrit:
			w.gateDecision[id] = "PROMOTE"
			_, err = w.coord.Promotion().RequestPromotion(ctx, coordination.PromotionSpec{ExperimentID: id,
				EvaluationMetrics: pointMetrics(x), ConfidenceScore: 0.95})
		default:
			w.gateDecision[id] = "HOLD"
			err = w.coord.RejectExperiment(ctx, id, fmt.Sprintf("no significant difference at n = %d labels (z = %.2f)", c.Labelled, accZ))
		}
		if err != nil {
			return fmt.Errorf("fixed-horizon decision on %s: %w", id, err)
		}
	}
	return w.sync(ctx)
}

// pointMetrics are an experiment's point estimates in base units.
func pointMetrics(x *shadowExp) map[string]float64 {
	m := map[string]float64{}
	if x.cand.Labelled > 0 {
		m["accuracy"] = x.cand.AccuracyRate()
	}
	if x.cand.Requests > 0 {
		m["cost_per_review"] = x.cand.MeanCost()
		m["error_rate"] = x.cand.ErrorRate()
	}
	if x.cand.Count() > 0 {
		m["latency_p95"] = x.cand.Quantile(0.95)
	}
	return m
}

// zProportions is the pooled two-proportion z statistic of k1/n1 against
// k2/n2; 0 when undefined.
func zProportions(k1, n1, k2, n2 int64) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 0
	}
	p := float64(k1+k2) / float64(n1+n2)
	se := math.Sqrt(p * (1 - p) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 0
	}
	return (float64(k1)/float64(n1) - float64(k2)/float64(n2)) / se
}

// zMeans is the unpooled two-sample z statistic of two means from counts,
// sums and sums of squares; 0 when undefined.
func zMeans(n1 int64, s1, ss1 float64, n2 int64, s2, ss2 float64) float64 {
	if n1 < 2 || n2 < 2 {
		return 0
	}
	f1, f2 := float64(n1), float64(n2)
	m1, m2 := s1/f1, s2/f2
	v1 := math.Max(0, (ss1-f1*m1*m1)/(f1-1))
	v2 := math.Max(0, (ss2-f2*m2*m2)/(f2-1))
	se := math.Sqrt(v1/f1 + v2/f2)
	if se == 0 {
		return 0
	}
	return (m1 - m2) / se
}

package measure_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/measure"
)

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// Measurements reads the experiment's series and its V2 baseline from the
// coarse window since the given time, with the fixed cost cap.
func TestMeasurements(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *measure.Options) { o.CostCap = 0.5 })
	exp := &coordination.Experiment{ID: "exp-1"}
	start := t0.Add(-72 * time.Hour)
	// Before the start: must not count.
	b.r.Record(ok(measure.ExperimentSeries("exp-1"), start.Add(-5*time.Hour), time.Second, 0.3))
	for i := range 100 {
		at := start.Add(time.Duration(i) * 30 * time.Minute)
		c := ok(measure.ExperimentSeries("exp-1"), at, 1200*time.Millisecond, 0.02)
		c.Error = i%20 == 0
		c.Compared, c.Agreed = true, i%10 != 0
		c.TP, c.FP, c.FN = 1, i%2, 0
		b.r.Record(c)
		b.r.Record(ok(measure.BaselineSeries("exp-1"), at, 2*time.Second, 0.05))
	}
	b.r.RecordFeedback(start.Add(time.Hour), measure.ExperimentSeries("exp-1"), "bug", true, false)

	cand, base, err := b.r.Measurements(t.Context(), exp, start)
	if err != nil {
		t.Fatal(err)
	}
	if cand.Requests != 100 || cand.Errors != 5 || cand.Compared != 100 || cand.Agreed != 90 {
		t.Errorf("cand requests %d errors %d compared %d agreed %d; want 100, 5, 100, 90", cand.Requests, cand.Errors, cand.Compared, cand.Agreed)
	}
	if cand.TruePositives != 100 || cand.FalsePositives != 50 || cand.Feedback != 1 || cand.Accepted != 1 {
		t.Errorf("cand TP %d FP %d feedback %d accepted %d", cand.TruePositives, cand.FalsePositives, cand.Feedback, cand.Accepted)
	}
	if !near(cand.CostSum, 2, 1e-9) || !near(cand.CostSumSq, 100*0.02*0.02, 1e-12) || cand.CostMax != 0.5 {
		t.Errorf("cand cost sum %v sumsq %v max %v; want 2, 0.04, the 0.5 cap", cand.CostSum, cand.CostSumSq, cand.CostMax)
	}
	if cand.Latency == nil || cand.Latency.Count() != 100 || !near(cand.Latency.Quantile(0.95), 1.2, 0.012*1.2+1e-9) {
		t.Errorf("cand latency %v", cand.Latency)
	}
	if base.Requests != 100 || base.Latency == nil || !near(base.Latency.Quantile(0.5), 2, 0.021) || base.CostMax != 0.5 {
		t.Errorf("base %+v", base)
	}
	// A zero since reads the whole window, including the early outcome.
	all, _, err := b.r.Measurements(t.Context(), exp, time.Time{})
	if err != nil || all.Requests != 101 {
		t.Errorf("Measurements(zero since) = %d requests, %v; want 101", all.Requests, err)
	}
	none, _, err := b.r.Measurements(t.Context(), &coordination.Experiment{ID: "exp-2"}, start)
	if err != nil || none.Requests != 0 || none.Latency != nil {
		t.Errorf("an experiment without data: %+v, %v; want zero requests and nil latency", none, err)
	}
	if _, _, err := b.r.Measurements(t.Context(), nil, start); !errors.Is(err, coordination.ErrInvalidInput) {
		t.Errorf("nil experiment: %v", err)
	}
}

// CanaryMetrics compares the canary with production over the same span,
// precisely (fine window) for short spans.
func TestCanaryMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := &coordination.PromotionRequest{RequestID: "prom-1"}
	// An hour-old burst of production errors lies outside a 5-minute phase.
	for range 10 {
		b.r.Record(failed(measure.SeriesProduction, t0.Add(-time.Hour)))
	}
	for i := range 40 {
		at := t0.Add(-time.Duration(i) * 5 * time.Second)
		b.r.Record(ok(measure.SeriesProduction, at, time.Second, 0.01))
		c := ok(measure.CanarySeries("prom-1"), at, 1500*time.Millisecond, 0.01)
		c.Error = i < 4
		b.r.Record(c)
	}
	canary, stable, err := b.r.CanaryMetrics(t.Context(), p, t0.Add(-5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if canary.Requests != 40 || canary.Errors != 4 || stable.Requests != 40 || stable.Errors != 0 {
		t.Errorf("5-minute phase: canary %d/%d, stable %d/%d; want 40/4 and 40/0", canary.Errors, canary.Requests, stable.Errors, stable.Requests)
	}
	// A two-day phase reads the coarse window and sees the older errors.
	_, stable, err = b.r.CanaryMetrics(t.Context(), p, t0.Add(-48*time.Hour))
	if err != nil || stable.Requests != 50 || stable.Errors != 10 {
		t.Errorf("2-day phase: stable %d/%d, %v; want 50/10", stable.Errors, stable.Requests, err)
	}
}

// HealthMetrics reports error rate, p95, slow requests, accuracy from
// probes and feedback, and CPU; only metrics with data appear.
func TestHealthMetrics(t *testing.T) {
	t.Parallel()
	active := "prom-9"
	b := setup(t, func(o *measure.Options) { o.ActiveCanary = func() string { return active } })
	ctx := t.Context()
	empty, err := b.r.HealthMetrics(ctx, coordination.TargetProduction, 5*time.Minute)
	if err != nil || len(empty.Values) != 0 || empty.Requests != 0 {
		t.Errorf("no data: %+v, %v; want no values", empty, err)
	}
	for i := range 100 {
		lat := time.Second
		if i >= 90 {
			lat = 4 * time.Second
		}
		o := ok(measure.SeriesProduction, t0.Add(-time.Duration(i)*time.Second), lat, 0.01)
		o.Error = i < 3
		b.r.Record(o)
	}
	for i := range 10 {
		p := ok(measure.SeriesProbe, t0.Add(-time.Duration(i)*10*time.Second), time.Second, 0)
		p.Labelled, p.Correct = true, i < 8
		b.r.Record(p)
	}
	b.r.RecordFeedback(t0, measure.SeriesProduction, "bug", true, false)
	b.r.RecordFeedback(t0, measure.SeriesProduction, "bug", false, false)
	// CPU: 2 cores busy half the time over 5 minutes, on GOMAXPROCS cores.
	b.clock.Advance(-5 * time.Minute)
	if err := b.r.SampleCPU(); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(5 * time.Minute)
	b.cpu.advance(5*time.Minute, 5*time.Minute)
	if err := b.r.SampleCPU(); err != nil {
		t.Fatal(err)
	}

	s, err := b.r.HealthMetrics(ctx, coordination.TargetProduction, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 100 || s.Errors != 3 || !near(s.Values["error_rate"], 0.03, 1e-12) {
		t.Errorf("requests %d errors %d error_rate %v; want 100, 3, 0.03", s.Requests, s.Errors, s.Values["error_rate"])
	}
	if s.SlowRequests != 10 || !near(s.LatencyP95, 4, 0.05) || s.Values["latency_p95"] != s.LatencyP95 {
		t.Errorf("slow %d p95 %v (value %v); want 10 and about 4s", s.SlowRequests, s.LatencyP95, s.Values["latency_p95"])
	}
	if got := s.Values["accuracy_rate"]; !near(got, 9.0/12, 1e-12) {
		t.Errorf("accuracy_rate %v, want 9/12 (8 of 10 probes, 1 of 2 verdicts)", got)
	}
	if got, ok := s.Values["cpu_utilization"]; !ok || !near(got, 1/float64(procs()), 1e-9) {
		t.Errorf("cpu_utilization %v (%t), want %v", got, ok, 1/float64(procs()))
	}

	// The canary reads the active promotion's series, and has no CPU.
	c := ok(measure.CanarySeries("prom-9"), t0, time.Second, 0.01)
	b.r.Record(c)
	cs, err := b.r.HealthMetrics(ctx, coordination.TargetCanary, 5*time.Minute)
	if err != nil || cs.Requests != 1 || cs.Values["error_rate"] != 0 {
		t.Errorf("canary sample %+v, %v", cs, err)
	}
	if _, has := cs.Values["cpu_utilization"]; has {
		t.Error("canary sample reports the process CPU")
	}
	if _, has := cs.Values["accuracy_rate"]; has {
		t.Error("canary sample reports accuracy without labelled data")
	}
	active = ""
	if cs, err := b.r.HealthMetrics(ctx, coordination.TargetCanary, 5*time.Minute); err != nil || cs.Requests != 0 {
		t.Errorf("no active canary: %+v, %v", cs, err)
	}
	if _, err := b.r.HealthMetrics(ctx, "staging", time.Minute); !errors.Is(err, coordination.ErrInvalidInput) {
		t.Errorf("unknown target: %v", err)
	}
	// The SLO window (30 days) is longer than any window: it reads the
	// coarse one whole.
	slo, err := b.r.HealthMetrics(ctx, coordination.TargetProduction, 30*24*time.Hour)
	if err != nil || slo.Requests != 100 {
		t.Errorf("30-day sample: %d requests, %v", slo.Requests, err)
	}
}

func TestCostPerReview(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, ok := b.r.CostPerReview(t.Context()); ok {
		t.Error("cost per review reported without requests")
	}
	b.r.Record(ok(measure.SeriesProduction, t0.Add(-30*time.Hour), time.Second, 9)) // older than a day
	b.r.Record(ok(measure.SeriesProduction, t0.Add(-2*time.Hour), time.Second, 0.10))
	b.r.Record(ok(measure.SeriesProduction, t0, time.Second, 0.20))
	b.r.Record(ok(measure.ExperimentSeries("exp-1"), t0, time.Second, 5)) // not production
	got, ok := b.r.CostPerReview(t.Context())
	if !ok || !near(got, 0.15, 1e-12) {
		t.Errorf("CostPerReview = %v, %t; want 0.15", got, ok)
	}
}

// Feedback aggregates stored verdicts by category; a complaint is a
// dismissal with a comment.
func TestFeedbackAggregates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fb := []*coordination.FindingFeedback{
		{ID: "f1", Category: "style", Verdict: coordination.VerdictDismissed, Text: "noise", At: t0},
		{ID: "f2", Category: "style", Verdict: coordination.VerdictDismissed, At: t0},
		{ID: "f3", Category: "security", Verdict: coordination.VerdictAccepted, Text: "thanks", At: t0},
		{ID: "f4", Category: "security", Verdict: coordination.VerdictAccepted, At: t0.Add(-48 * time.Hour)},
	}
	if err := b.store.InTx(t.Context(), func(ctx context.Context, tx coordination.Tx) error {
		for _, f := range fb {
			if err := tx.FeedbackInsert(ctx, f); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := b.r.Feedback(t.Context(), t0.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []coordination.FeedbackAggregate{{Category: "security", Accepted: 1}, {Category: "style", Dismissed: 2, Complaints: 1}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Feedback = %+v, want %+v", got, want)
	}
}

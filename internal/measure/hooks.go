package measure

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/decision"
)

// The hooks below have the signatures of coordination.Options' fields, so
// the recorder plugs into a coordinator as:
//
//	coordination.Options{Measurements: r.Measurements, CanaryMetrics: r.CanaryMetrics,
//		HealthMetrics: r.HealthMetrics, CostPerReview: r.CostPerReview, Feedback: r.Feedback}
var (
	_ coordination.MeasurementFunc   = (*Recorder)(nil).Measurements
	_ coordination.CanaryMetricsFunc = (*Recorder)(nil).CanaryMetrics
	_ coordination.HealthMetricsFunc = (*Recorder)(nil).HealthMetrics
	_ coordination.FeedbackFunc      = (*Recorder)(nil).Feedback
)

// Measurements returns experiment exp's shadow results since since (cand,
// series exp/<id>) and production's answers to the same requests (base,
// series exp/<id>/v2), from the coarse window: hour buckets, so the bucket
// holding since counts whole. A zero since means the whole coarse window.
func (r *Recorder) Measurements(_ context.Context, exp *coordination.Experiment, since time.Time) (cand, base decision.Measured, err error) {
	if exp == nil {
		return cand, base, fmt.Errorf("measurements: %w: experiment is nil", coordination.ErrInvalidInput)
	}
	r.sync()
	now := r.clock.Now()
	span := r.spanSince(now, since)
	r.mu.RLock()
	c := r.statsLocked(now, ExperimentSeries(exp.ID), span, true)
	b := r.statsLocked(now, BaselineSeries(exp.ID), span, true)
	r.mu.RUnlock()
	return c.Measured(r.opts.CostCap), b.Measured(r.opts.CostCap), nil
}

// CanaryMetrics returns the canary of p (series canary/<request id>) and the
// stable release (series production) over (since, now], from the fine
// window when the span fits in it, else from the coarse one.
func (r *Recorder) CanaryMetrics(_ context.Context, p *coordination.PromotionRequest, since time.Time) (canary, stable decision.Measured, err error) {
	if p == nil {
		return canary, stable, fmt.Errorf("canary metrics: %w: promotion is nil", coordination.ErrInvalidInput)
	}
	r.sync()
	now := r.clock.Now()
	span := r.spanSince(now, since)
	r.mu.RLock()
	c := r.statsLocked(now, CanarySeries(p.RequestID), span, false)
	s := r.statsLocked(now, SeriesProduction, span, false)
	r.mu.RUnlock()
	return c.Measured(r.opts.CostCap), s.Measured(r.opts.CostCap), nil
}

// HealthMetrics returns the health sample of target over the window ending
// now. Target "production" reads series production, with golden probes
// (probe/production) and user feedback for accuracy_rate and the process's
// CPU for cpu_utilization; target "canary" reads the series of
// Options.ActiveCanary's promotion (an empty sample when there is none).
// A value is present only when there are data for it. A window longer than
// the coarse window (such as a 30-day SLO window) reads all of it.
func (r *Recorder) HealthMetrics(_ context.Context, target string, window time.Duration) (coordination.HealthSample, error) {
	out := coordination.HealthSample{Values: map[string]float64{}}
	var series string
	switch target {
	case coordination.TargetProduction:
		series = SeriesProduction
	case coordination.TargetCanary:
		if r.opts.ActiveCanary == nil {
			return out, nil
		}
		id := r.opts.ActiveCanary()
		if id == "" {
			return out, nil
		}
		series = CanarySeries(id)
	default:
		return out, fmt.Errorf("health metrics: %w: unknown target %q (want %s or %s)",
			coordination.ErrInvalidInput, target, coordination.TargetProduction, coordination.TargetCanary)
	}
	r.sync()
	now := r.clock.Now()
	r.mu.RLock()
	st := r.statsLocked(now, series, window, false)
	var probe Stats
	if target == coordination.TargetProduction {
		probe = r.statsLocked(now, SeriesProbe, window, false)
	}
	cpu, hasCPU := r.cpu.utilization(now, window)
	r.mu.RUnlock()

	a := st.Aggregate
	out.Requests, out.Errors = a.Requests, a.Errors
	out.SlowRequests = a.CountAbove(r.opts.SlowThreshold)
	if a.Requests > 0 {
		out.Values["error_rate"] = a.ErrorRate()
	}
	if a.Count() > 0 {
		out.LatencyP95 = a.Quantile(0.95)
		out.Values["latency_p95"] = out.LatencyP95
	}
	labelled, correct := a.Labelled+st.Feedback, a.Correct+st.Accepted
	if probe.Aggregate != nil {
		labelled += probe.Aggregate.Labelled
		correct += probe.Aggregate.Correct
	}
	if labelled > 0 {
		out.Values["accuracy_rate"] = float64(correct) / float64(labelled)
	}
	if hasCPU && target == coordination.TargetProduction {
		out.Values["cpu_utilization"] = cpu
	}
	return out, nil
}

// CostPerReview returns production's mean cost per review over the last 24
// hours, and false when it answered no request.
func (r *Recorder) CostPerReview(context.Context) (float64, bool) {
	st := r.Stats(SeriesProduction, 24*time.Hour)
	if st.Aggregate.Requests == 0 {
		return 0, false
	}
	return st.Aggregate.MeanCost(), true
}

// Feedback aggregates the feedback stored since since by category, sorted
// by category. A complaint is a dismissal with a comment.
func (r *Recorder) Feedback(ctx context.Context, since time.Time) ([]coordination.FeedbackAggregate, error) {
	fs, err := r.store.FeedbackSince(ctx, since)
	if err != nil {
		return nil, fmt.Errorf("feedback since %s: %w", since.Format(time.RFC3339), err)
	}
	by := map[string]*coordination.FeedbackAggregate{}
	for _, f := range fs {
		a := by[f.Category]
		if a == nil {
			a = &coordination.FeedbackAggregate{Category: f.Category}
			by[f.Category] = a
		}
		switch f.Verdict {
		case coordination.VerdictAccepted:
			a.Accepted++
		case coordination.VerdictDismissed:
			a.Dismissed++
		}
		if f.Complaint() {
			a.Complaints++
		}
	}
	out := make([]coordination.FeedbackAggregate, 0, len(by))
	for _, a := range by {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b coordination.FeedbackAggregate) int { return cmp.Compare(a.Category, b.Category) })
	return out, nil
}

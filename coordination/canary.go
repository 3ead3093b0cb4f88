package coordination

import (
	"context"
	"fmt"
	"strings"

	"github.com/tricyclehq/tricycle/coordination/alerting"
	"github.com/tricyclehq/tricycle/coordination/decision"
	"github.com/tricyclehq/tricycle/internal/stats"
)

// CanaryStats are the figures of one side of a canary analysis.
type CanaryStats struct {
	Requests   int64   `json:"requests"`
	ErrorRate  float64 `json:"error_rate"`
	LatencyP95 float64 `json:"latency_p95"`
	Labelled   int64   `json:"labelled"`
	Accuracy   float64 `json:"accuracy"`
}

// CanaryVerdict is the outcome of a canary phase's analysis: canary against
// stable on the same clock, on error rate, p95 latency and accuracy.
type CanaryVerdict struct {
	// Pass means the phase may advance when its time has passed.
	Pass bool `json:"pass"`
	// Critical means roll back now.
	Critical bool        `json:"critical"`
	Reasons  []string    `json:"reasons"`
	Canary   CanaryStats `json:"canary"`
	Stable   CanaryStats `json:"stable"`
}

// Summary joins the verdict's reasons into one line.
func (v CanaryVerdict) Summary() string {
	if len(v.Reasons) == 0 {
		return "ok"
	}
	return strings.Join(v.Reasons, "; ")
}

// Metrics returns the canary's figures keyed by metric name (evidence).
func (v CanaryVerdict) Metrics() map[string]float64 {
	m := map[string]float64{"error_rate": v.Canary.ErrorRate, "latency_p95": v.Canary.LatencyP95}
	if v.Canary.Labelled > 0 {
		m["accuracy"] = v.Canary.Accuracy
	}
	return m
}

// CanaryPolicy holds the limits a canary is analysed against.
type CanaryPolicy struct {
	// ErrorWarning and ErrorCritical are error-rate thresholds (fractions).
	ErrorWarning, ErrorCritical float64
	// LatencyWarning and LatencyCritical are p95 thresholds (seconds).
	LatencyWarning, LatencyCritical float64
	// AccuracyWarning and AccuracyCritical are lower bounds (fractions).
	AccuracyWarning, AccuracyCritical float64
	// MinSamples is the canary request count below which error-rate and
	// latency cannot fail a phase.
	MinSamples int64
	// Alpha is the error probability of the sequential tests (1 - confidence).
	Alpha float64
}

// canaryPolicy derives the policy from the health thresholds.
func (c *LifecycleCoordinator) canaryPolicy() CanaryPolicy {
	p := CanaryPolicy{ErrorWarning: 0.02, ErrorCritical: 0.05, LatencyWarning: 3, LatencyCritical: 10,
		AccuracyWarning: 0.90, AccuracyCritical: 0.85, MinSamples: c.cfg.CanaryMinSamples,
		Alpha: 1 - c.cfg.Samples.Confidence}
	for _, t := range c.cfg.Health.Thresholds {
		switch t.Metric {
		case "error_rate":
			p.ErrorWarning, p.ErrorCritical = t.Warning, t.Critical
		case "latency_p95":
			p.LatencyWarning, p.LatencyCritical = t.Warning, t.Critical
		case "accuracy_rate":
			if t.Direction == alerting.Direction("below") {
				p.AccuracyWarning, p.AccuracyCritical = t.Warning, t.Critical
			}
		}
	}
	return p
}

// AnalyzeCanary is the pure canary analysis. Critical (roll back now) when,
// with the policy's confidence, the canary's error rate is above the
// critical threshold or above stable's by more than the gap between warning
// and critical, or its accuracy is below the critical bound; or when its p95
// exceeds the critical latency over at least MinSamples requests. Pass
// (advance when due) when nothing is critical and the canary's point figures
// are within the warning thresholds or no worse than stable's by a small
// margin. The sequential bounds stay valid however often the analysis runs.
func AnalyzeCanary(canary, stable decision.Measured, pol CanaryPolicy) CanaryVerdict {
	v := CanaryVerdict{Canary: canaryStats(canary), Stable: canaryStats(stable), Pass: true}
	fail := func(critical bool, format string, args ...any) {
		v.Pass = false
		v.Critical = v.Critical || critical
		v.Reasons = append(v.Reasons, fmt.Sprintf(format, args...))
	}
	if canary.Requests < pol.MinSamples {
		v.Reasons = append(v.Reasons, fmt.Sprintf("%d canary requests (< %d): not enough to judge error rate and latency", canary.Requests, pol.MinSamples))
	} else {
		ci := stats.ProportionCS(canary.Errors, canary.Requests, pol.Alpha)
		switch {
		case ci.Low > pol.ErrorCritical:
			fail(true, "canary error rate %.2f%% exceeds %.0f%% (%.0f%% CS low %.2f%%)", 100*v.Canary.ErrorRate, 100*pol.ErrorCritical, 100*(1-pol.Alpha), 100*ci.Low)
		case stable.Requests > 0 && stats.DiffProportionCS(canary.Errors, canary.Requests, stable.Errors, stable.Requests, pol.Alpha).Low > pol.ErrorCritical-pol.ErrorWarning:
			fail(true, "canary error rate %.2f%% is worse than stable %.2f%% by more than %.0f points", 100*v.Canary.ErrorRate, 100*v.Stable.ErrorRate, 100*(pol.ErrorCritical-pol.ErrorWarning))
		case v.Canary.ErrorRate > pol.ErrorWarning && v.Canary.ErrorRate > v.Stable.ErrorRate+0.01:
			fail(false, "canary error rate %.2f%% above warning %.0f%% and stable %.2f%%", 100*v.Canary.ErrorRate, 100*pol.ErrorWarning, 100*v.Stable.ErrorRate)
		}
		if canary.Latency != nil && canary.Latency.Count() >= pol.MinSamples {
			p95 := v.Canary.LatencyP95
			switch {
			case p95 > pol.LatencyCritical:
				fail(true, "canary p95 %.2fs exceeds %.0fs", p95, pol.LatencyCritical)
			case p95 > pol.LatencyWarning && p95 > 1.2*v.Stable.LatencyP95:
				fail(false, "canary p95 %.2fs above %.0fs and 20%% over stable %.2fs", p95, pol.LatencyWarning, v.Stable.LatencyP95)
			}
		}
	}
	if canary.Labelled > 0 {
		ci := stats.ProportionCS(canary.Correct, canary.Labelled, pol.Alpha)
		switch {
		case ci.High < pol.AccuracyCritical:
			fail(true, "canary accuracy %.1f%% below %.0f%% (CS high %.1f%%)", 100*v.Canary.Accuracy, 100*pol.AccuracyCritical, 100*ci.High)
		case canary.Labelled >= pol.MinSamples && v.Canary.Accuracy < pol.AccuracyWarning &&
			(stable.Labelled == 0 || v.Canary.Accuracy < v.Stable.Accuracy-0.02):
			fail(false, "canary accuracy %.1f%% below %.0f%%", 100*v.Canary.Accuracy, 100*pol.AccuracyWarning)
		}
	}
	if v.Pass && len(v.Reasons) == 0 {
		v.Reasons = append(v.Reasons, fmt.Sprintf("canary within limits over %d requests (error rate %.2f%%, p95 %.2fs)",
			canary.Requests, 100*v.Canary.ErrorRate, v.Canary.LatencyP95))
	}
	return v
}

func canaryStats(m decision.Measured) CanaryStats {
	s := CanaryStats{Requests: m.Requests, Labelled: m.Labelled}
	if m.Requests > 0 {
		s.ErrorRate = float64(m.Errors) / float64(m.Requests)
	}
	if m.Latency != nil && m.Latency.Count() > 0 {
		s.LatencyP95 = m.Latency.Quantile(0.95)
	}
	if m.Labelled > 0 {
		s.Accuracy = float64(m.Correct) / float64(m.Labelled)
	}
	return s
}

// Analyze runs the canary analysis of a promotion in its phases over the
// current phase so far.
func (m *PromotionManager) Analyze(ctx context.Context, p *PromotionRequest) (CanaryVerdict, error) {
	var canary, stable decision.Measured
	if m.c.opts.CanaryMetrics != nil {
		var err error
		if canary, stable, err = m.c.opts.CanaryMetrics(ctx, p, p.PhaseStartedAt); err != nil {
			return CanaryVerdict{}, fmt.Errorf("read canary metrics: %w", err)
		}
	}
	return AnalyzeCanary(canary, stable, m.c.canaryPolicy()), nil
}

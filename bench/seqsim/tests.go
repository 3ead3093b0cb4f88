package main

import (
	"fmt"
	"math"

	"github.com/tricyclehq/tricycle/bench/internal/traffic"
	"github.com/tricyclehq/tricycle/coordination/criteria"
	"github.com/tricyclehq/tricycle/coordination/decision"
	"github.com/tricyclehq/tricycle/internal/stats"
	"github.com/tricyclehq/tricycle/internal/window"
)

// alpha is the error level of every test compared here: the product's
// default confidence is 95%.
const alpha = 0.05

// costCap bounds one review's cost; it is fixed before the data arrive, as
// the cost sequence requires.
const costCap = 1.0

// verdict is a test's answer at one look.
type verdict int

// The verdicts.
const (
	undecided verdict = iota
	pass
	fail
)

// stream is one variant's samples so far: the aggregate the product reads
// and the exact count of latencies at or below the latency criterion's
// threshold (the fixed-horizon latency test counts them exactly; a sketch
// would blur the count near the threshold).
type stream struct {
	agg      window.Aggregate
	latBelow int64
	latLimit float64 // seconds
}

// add records one outcome.
func (s *stream) add(o window.Observation) {
	s.agg.Add(o)
	if o.Latency.Seconds() <= s.latLimit {
		s.latBelow++
	}
}

// measured is the stream as the evaluator reads it.
func (s *stream) measured() decision.Measured {
	a := &s.agg
	return decision.Measured{Requests: a.Requests, Errors: a.Errors, Labelled: a.Labelled, Correct: a.Correct,
		Latency: a, CostSum: a.CostSum, CostSumSq: a.CostSumSq, CostMax: costCap}
}

// samples is the criterion's own sample size: labelled reviews for
// accuracy, requests otherwise.
func samples(c criteria.Criterion, s *stream) int64 {
	if c.Metric == "accuracy" {
		return s.agg.Labelled
	}
	return s.agg.Requests
}

// mustCriterion parses a criterion fixed in the program.
func mustCriterion(metric, expr string) criteria.Criterion {
	c, err := criteria.Parse(metric, expr)
	if err != nil {
		panic(fmt.Sprintf("criterion %s %s: %v", metric, expr, err))
	}
	return c
}

// side places an interval on the metric against the criterion, as the
// evaluator does: wholly on the pass side, wholly on the fail side, or
// neither.
func side(c criteria.Criterion, iv stats.Interval) verdict {
	t := c.Threshold
	var ok, bad bool
	switch c.Op {
	case criteria.OpGreater:
		ok, bad = iv.Low > t, iv.High <= t
	case criteria.OpGreaterEqual:
		ok, bad = iv.Low >= t, iv.High < t
	case criteria.OpLess:
		ok, bad = iv.High < t, iv.Low >= t
	case criteria.OpLessEqual:
		ok, bad = iv.High <= t, iv.Low > t
	}
	switch {
	case ok:
		return pass
	case bad:
		return fail
	}
	return undecided
}

// sequential is the criterion's own (1-alpha) confidence sequence from
// package stats, with the whole alpha (no Bonferroni split).
func sequential(c criteria.Criterion, s *stream) verdict {
	a := &s.agg
	var iv stats.Interval
	switch c.Metric {
	case "accuracy":
		iv = stats.ProportionCS(a.Correct, a.Labelled, alpha)
	case "error_rate":
		iv = stats.ProportionCS(a.Errors, a.Requests, alpha)
	case "latency_p95":
		iv = stats.QuantileCS(0.95, a.Count(), a.Quantile, alpha)
	case "cost_per_review":
		iv = stats.MeanCS(a.Requests, a.CostSum, a.CostSumSq, 0, costCap, alpha)
	default:
		return undecided
	}
	return side(c, iv)
}

// fixedHorizon is the classical test at level alpha, valid at one
// pre-planned sample size: the Wilson interval (inverted z-test) for
// proportions, the same on the share of latencies at or below the
// threshold for a p95 criterion (p95 < t exactly when that share exceeds
// 95%), and the normal interval mean ± z·s/√n for cost.
func fixedHorizon(c criteria.Criterion, s *stream) verdict {
	a := &s.agg
	switch c.Metric {
	case "accuracy":
		return side(c, stats.FixedHorizonProportionCI(a.Correct, a.Labelled, alpha))
	case "error_rate":
		return side(c, stats.FixedHorizonProportionCI(a.Errors, a.Requests, alpha))
	case "latency_p95":
		iv := stats.FixedHorizonProportionCI(s.latBelow, a.Requests, alpha)
		below := criteria.Criterion{Metric: "share", Op: criteria.OpGreater, Threshold: 0.95}
		if c.Op == criteria.OpGreater || c.Op == criteria.OpGreaterEqual {
			below.Op = criteria.OpLess
		}
		return side(below, iv)
	case "cost_per_review":
		if a.Requests < 2 {
			return undecided
		}
		n := float64(a.Requests)
		mean := a.CostSum / n
		sd := math.Sqrt(math.Max(0, (a.CostSumSq-n*mean*mean)/(n-1)))
		half := traffic.NormalQuantile(1-alpha/2) * sd / math.Sqrt(n)
		return side(c, stats.Interval{Low: mean - half, High: mean + half})
	}
	return undecided
}

// product is the evaluator's decision on the single criterion with
// EvaluateSamples at its default configuration (95% overall, split over
// the criterion and the two non-inferiority comparisons), and the
// criterion's own status within it.
func product(c criteria.Criterion, cand, base *stream) (decision.Decision, decision.Status) {
	r := decision.EvaluateSamples([]criteria.Criterion{c}, cand.measured(), base.measured(), decision.SampleConfig{})
	return r.Decision, r.Explanation.Criteria[0].Status
}

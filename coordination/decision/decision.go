package decision

import (
	"errors"
	"fmt"
	"math"

	"github.com/tricyclehq/tricycle/coordination/criteria"
)

// Decision is the evaluator's verdict on an experiment.
type Decision string

// The decisions.
const (
	// Promote means every criterion passed (and, with samples, the candidate
	// is not worse than production): a promotion request follows.
	Promote Decision = "PROMOTE"
	// Hold means the evidence is not decisive either way: the experiment
	// may run longer, or be modified and started again.
	Hold Decision = "HOLD"
	// Quarantine means a criterion failed decisively: the variant goes to
	// the V3 archive with the evaluation as evidence.
	Quarantine Decision = "QUARANTINE"
)

// Decisions returns every decision.
func Decisions() []Decision { return []Decision{Promote, Hold, Quarantine} }

// Valid reports whether d is one of the three decisions.
func (d Decision) Valid() bool { return d == Promote || d == Hold || d == Quarantine }

// Status is the outcome for one criterion or comparison.
type Status string

// The statuses.
const (
	// StatusPass means the criterion is met (with samples: at the
	// configured confidence).
	StatusPass Status = "pass"
	// StatusFail means the criterion is missed (point metrics: by more than
	// the tolerance; samples: at the configured confidence).
	StatusFail Status = "fail"
	// StatusNearMiss means a point metric missed by no more than the
	// tolerance.
	StatusNearMiss Status = "near_miss"
	// StatusMissing means there is no value or no data for the metric.
	StatusMissing Status = "missing"
	// StatusInconclusive means the samples do not decide yet: too few, or
	// the confidence interval contains the threshold.
	StatusInconclusive Status = "inconclusive"
)

// Statuses returns every status.
func Statuses() []Status {
	return []Status{StatusPass, StatusFail, StatusNearMiss, StatusMissing, StatusInconclusive}
}

// Decisive reports whether the status settles the criterion (pass or fail).
func (s Status) Decisive() bool { return s == StatusPass || s == StatusFail }

// CriterionResult is the outcome of one criterion.
type CriterionResult struct {
	// Metric is the criterion's metric.
	Metric string `json:"metric"`
	// Criterion is the canonical text, e.g. "accuracy > 90%".
	Criterion string `json:"criterion"`
	// Op is the comparison.
	Op criteria.Op `json:"op"`
	// Threshold is in the metric's base unit.
	Threshold float64 `json:"threshold"`
	// Observed is the value (point metrics) or point estimate (samples) in
	// base units; nil when missing.
	Observed *float64 `json:"observed"`
	// Status is the outcome.
	Status Status `json:"status"`
	// Pass is Status == StatusPass.
	Pass bool `json:"pass"`
	// Samples is the candidate's sample size behind Observed; 0 for point
	// metrics.
	Samples int64 `json:"samples,omitempty"`
	// CILow and CIHigh bound the metric at the per-test confidence when
	// samples exist; a nil end is unbounded (too little data on that side).
	CILow  *float64 `json:"ci_low,omitempty"`
	CIHigh *float64 `json:"ci_high,omitempty"`
	// Note is one human sentence, e.g.
	// "91.2% > 90% holds at 99.17% confidence (n=1840, interval 90.3%–92.1%)".
	Note string `json:"note"`
}

// Comparison is a non-inferiority check of the candidate against production
// on the same requests.
type Comparison struct {
	// Metric is "error_rate" (absolute difference) or "latency_p95"
	// (relative difference, candidate/baseline - 1).
	Metric string `json:"metric"`
	// Candidate and Baseline are the point estimates in base units.
	Candidate float64 `json:"candidate"`
	Baseline  float64 `json:"baseline"`
	// CandidateSamples and BaselineSamples are the sample sizes.
	CandidateSamples int64 `json:"candidate_samples"`
	BaselineSamples  int64 `json:"baseline_samples"`
	// Margin is how much worse the candidate may be: absolute for the error
	// rate, relative for latency.
	Margin float64 `json:"margin"`
	// CILow and CIHigh bound the difference; a nil end is unbounded.
	CILow  *float64 `json:"ci_low,omitempty"`
	CIHigh *float64 `json:"ci_high,omitempty"`
	// Status is pass (shown not worse than the margin), fail (shown worse),
	// inconclusive or missing.
	Status Status `json:"status"`
	// Note is one human sentence.
	Note string `json:"note"`
}

// Explanation says why a decision was reached.
type Explanation struct {
	// Mode is "point" (metrics measured elsewhere) or "samples".
	Mode string `json:"mode"`
	// Confidence is the overall confidence of a samples decision; 0 in
	// point mode.
	Confidence float64 `json:"confidence,omitempty"`
	// TestConfidence is the confidence of each criterion and comparison
	// after the Bonferroni split; 0 in point mode.
	TestConfidence float64 `json:"test_confidence,omitempty"`
	// Tolerance is the near-miss tolerance in point mode, as a fraction of
	// the threshold; 0 in samples mode.
	Tolerance float64 `json:"tolerance,omitempty"`
	// MinSamples is the sample size below which a criterion is
	// inconclusive; 0 in point mode.
	MinSamples int64 `json:"min_samples,omitempty"`
	// Criteria holds one result per criterion, sorted by metric.
	Criteria []CriterionResult `json:"criteria"`
	// NonInferiority holds, in samples mode, the error_rate and latency_p95
	// comparisons with production.
	NonInferiority []Comparison `json:"non_inferiority,omitempty"`
	// Summary is one or two sentences saying why this decision.
	Summary string `json:"summary"`
}

// Result is a decision with its explanation.
type Result struct {
	Decision    Decision    `json:"decision"`
	Explanation Explanation `json:"explanation"`
}

// Mode names.
const (
	ModePoint   = "point"
	ModeSamples = "samples"
)

// DefaultTolerance is the point-mode near-miss tolerance: a criterion
// missed by at most 5% of its threshold holds rather than quarantines.
const DefaultTolerance = 0.05

// Quantiler is an empirical distribution, typically a sketch of latencies.
type Quantiler interface {
	// Quantile returns the order statistic X_(ceil(q*Count())), or a close
	// approximation, for q in [0, 1]; it is nondecreasing in q.
	Quantile(q float64) float64
	// Count returns the number of observations.
	Count() int64
}

// Measured is what was observed of one variant over its evaluation period.
// Candidate and baseline are measured on the same requests.
type Measured struct {
	// Requests and Errors give error_rate = Errors/Requests.
	Requests, Errors int64
	// Labelled and Correct give accuracy = Correct/Labelled.
	Labelled, Correct int64
	// TruePositives, FalsePositives and FalseNegatives give precision and
	// recall.
	TruePositives, FalsePositives, FalseNegatives int64
	// Feedback and Accepted give acceptance_rate = Accepted/Feedback.
	Feedback, Accepted int64
	// Compared and Agreed give agreement = Agreed/Compared (with V2).
	Compared, Agreed int64
	// Latency holds review latencies in seconds; nil when there are none.
	Latency Quantiler
	// CostSum and CostSumSq are the sum and sum of squares of per-review
	// costs in dollars over Requests reviews. CostMax bounds any one
	// review's cost; it must be fixed before the data arrive (a configured
	// cap), or the cost interval is only approximately valid.
	CostSum, CostSumSq, CostMax float64
}

// SampleConfig tunes EvaluateSamples.
type SampleConfig struct {
	// Confidence is the overall confidence of the decision, in (0, 1).
	Confidence float64 `json:"confidence" yaml:"confidence"`
	// ErrorRateMargin is how much higher, in absolute terms, the
	// candidate's error rate may be than production's.
	ErrorRateMargin float64 `json:"error_rate_margin" yaml:"error_rate_margin"`
	// LatencyMargin is how much higher, relative to production, the
	// candidate's p95 latency may be.
	LatencyMargin float64 `json:"latency_margin" yaml:"latency_margin"`
	// MinSamples is the sample size below which a criterion is
	// inconclusive.
	MinSamples int64 `json:"min_samples" yaml:"min_samples"`
}

// DefaultSampleConfig returns 95% confidence, an error-rate margin of one
// percentage point, a p95 latency margin of 10% and at least 30 samples.
//
// The error-rate margin decides how much shadow traffic a promotion needs:
// with the time-uniform bounds, showing "at most 0.5 points worse" at error
// rates near 2% takes about 80,000 requests per arm even when the rates are
// equal, which 5% shadow traffic rarely gives in 7-14 days; one point takes
// roughly a quarter of that. Teams with more traffic can tighten it.
func DefaultSampleConfig() SampleConfig {
	return SampleConfig{Confidence: 0.95, ErrorRateMargin: 0.01, LatencyMargin: 0.10, MinSamples: 30}
}

// Validate reports every field that is out of range. Zero fields are valid:
// they take their defaults.
func (c SampleConfig) Validate() error {
	var errs []error
	if c.Confidence != 0 && !(c.Confidence > 0 && c.Confidence < 1) {
		errs = append(errs, fmt.Errorf("confidence %v is outside (0, 1)", c.Confidence))
	}
	if !(c.ErrorRateMargin >= 0 && c.ErrorRateMargin < 1) {
		errs = append(errs, fmt.Errorf("error rate margin %v is outside [0, 1)", c.ErrorRateMargin))
	}
	if !(c.LatencyMargin >= 0) || math.IsInf(c.LatencyMargin, 0) {
		errs = append(errs, fmt.Errorf("latency margin %v is negative or not finite", c.LatencyMargin))
	}
	if c.MinSamples < 0 {
		errs = append(errs, fmt.Errorf("minimum samples %d is negative", c.MinSamples))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sample config: %w", err)
	}
	return nil
}

// withDefaults fills zero fields, and fields Validate would refuse, from
// DefaultSampleConfig. The values used are reported in the explanation.
func (c SampleConfig) withDefaults() SampleConfig {
	d := DefaultSampleConfig()
	if !(c.Confidence > 0 && c.Confidence < 1) {
		c.Confidence = d.Confidence
	}
	if c.ErrorRateMargin == 0 || !(c.ErrorRateMargin > 0 && c.ErrorRateMargin < 1) {
		c.ErrorRateMargin = d.ErrorRateMargin
	}
	if c.LatencyMargin == 0 || !(c.LatencyMargin > 0) || math.IsInf(c.LatencyMargin, 0) {
		c.LatencyMargin = d.LatencyMargin
	}
	if c.MinSamples <= 0 {
		c.MinSamples = d.MinSamples
	}
	return c
}

package measure

import (
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/internal/window"
)

// Outcome is one review as the data plane saw it. The gateway records one
// for every user request (series production or canary/<id>), the
// experiments worker one for every shadow result (exp/<id>) and one for V2's
// answer to the same request (exp/<id>/v2), and the prober one for every
// golden probe (probe/production).
type Outcome struct {
	// At is when the review finished; zero means when it is recorded.
	At time.Time
	// Series names what the outcome is counted in (see SeriesProduction,
	// CanarySeries, ExperimentSeries, BaselineSeries, SeriesProbe).
	Series string
	// Variant is the name of the variant that answered.
	Variant string
	// Latency is the end-to-end review latency.
	Latency time.Duration
	// Error is set for a provider error, a timeout or unparsable output.
	Error bool
	// InputTokens and OutputTokens are the provider's token counts.
	InputTokens, OutputTokens int64
	// CostUSD is the review's cost in dollars.
	CostUSD float64
	// Labelled is set when the review was checked against a label (a golden
	// probe); Correct when it matched.
	Labelled, Correct bool
	// TP, FP and FN count the review's findings against the labels: true
	// positives, false positives and false negatives.
	TP, FP, FN int
	// Compared is set when a shadow result was compared with V2's findings
	// on the same request; Agreed when they agreed.
	Compared, Agreed bool
}

// observation is the part of o the window aggregate keeps.
func (o *Outcome) observation() window.Observation {
	return window.Observation{Latency: o.Latency, Error: o.Error, CostUSD: o.CostUSD,
		InputTokens: o.InputTokens, OutputTokens: o.OutputTokens, Labelled: o.Labelled, Correct: o.Correct}
}

// The fixed series names.
const (
	// SeriesProduction counts every user request answered by the production
	// release.
	SeriesProduction = "production"
	// SeriesProbe counts golden probes replayed through production.
	SeriesProbe = "probe/production"
)

// CanarySeries names the series of user requests answered by the canary of
// promotion requestID.
func CanarySeries(requestID string) string { return "canary/" + requestID }

// ExperimentSeries names the series of experiment id's shadow results.
func ExperimentSeries(id string) string { return "exp/" + id }

// BaselineSeries names the series of production's answers to the requests
// shadowed to experiment id: the baseline the evaluator compares with.
func BaselineSeries(id string) string { return "exp/" + id + "/v2" }

// Kind is the bounded label a series is reported under in Prometheus.
type Kind string

// The kinds.
const (
	// KindProduction is the production series.
	KindProduction Kind = "production"
	// KindCanary is a canary series.
	KindCanary Kind = "canary"
	// KindShadow is an experiment's shadow series.
	KindShadow Kind = "shadow"
	// KindProbe is a golden probe series.
	KindProbe Kind = "probe"
)

// KindOf returns the kind of series, and false for a series not reported
// in Prometheus: a baseline (it repeats production requests) or an unknown
// name.
func KindOf(series string) (Kind, bool) {
	switch {
	case series == SeriesProduction:
		return KindProduction, true
	case strings.HasPrefix(series, "canary/"):
		return KindCanary, true
	case strings.HasPrefix(series, "probe/"):
		return KindProbe, true
	case strings.HasPrefix(series, "exp/") && !strings.HasSuffix(series, "/v2"):
		return KindShadow, true
	}
	return "", false
}

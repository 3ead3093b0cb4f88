package gateway

import (
	"time"

	"github.com/tricyclehq/tricycle/internal/flags"
	"github.com/tricyclehq/tricycle/internal/measure"
)

// Series names: the contract between the gateway, the experiments worker and
// the recorder that aggregates their outcomes (package measure).
const (
	// SeriesProduction is every user request answered by the production release.
	SeriesProduction = measure.SeriesProduction
	// SeriesProbe is golden probes replayed through the production release.
	SeriesProbe = measure.SeriesProbe
)

// SeriesCanary names user requests answered by the canary of a promotion.
func SeriesCanary(promotionID string) string { return measure.CanarySeries(promotionID) }

// SeriesExperiment names the shadow results of an experiment's variant.
func SeriesExperiment(experimentID string) string { return measure.ExperimentSeries(experimentID) }

// SeriesExperimentBaseline names V2's outcome on the requests shadowed to an
// experiment: the baseline the evaluator compares the experiment with.
func SeriesExperimentBaseline(experimentID string) string {
	return measure.BaselineSeries(experimentID)
}

// Outcome is what the data plane records about one review.
type Outcome = measure.Outcome

// Recorder receives outcomes and feedback; *measure.Recorder is the one a
// server uses. Record must be cheap, never block and be safe for concurrent
// use: the data plane calls it on the request path. A recorder that also has
// a ShadowDropped() method is told about every shadow copy dropped.
type Recorder interface {
	// Record notes one review's outcome.
	Record(o Outcome)
	// RecordFeedback notes a user's verdict on one finding of a review
	// answered in series.
	RecordFeedback(at time.Time, series, category string, accepted, complaint bool)
}

// discardRecorder drops everything.
type discardRecorder struct{}

// Record drops o.
func (discardRecorder) Record(Outcome) {}

// RecordFeedback drops the feedback.
func (discardRecorder) RecordFeedback(time.Time, string, string, bool, bool) {}

// BucketFunc maps a key to a sticky bucket in [0, flags.Buckets) under a
// salt: the same salt and key always land in the same bucket, and different
// salts shuffle keys independently. flags.Bucket is the default.
type BucketFunc func(salt, key string) int

// inPercent reports whether bucket b falls within the first percent of the
// buckets (percent in [0, 100], with hundredths honoured).
func inPercent(b int, percent float64) bool {
	return float64(b) < percent*flags.Buckets/100
}

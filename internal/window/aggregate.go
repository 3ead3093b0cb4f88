package window

import (
	"math"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// RelativeAccuracy is the latency sketch's relative accuracy: a reported
// quantile is within 1% of the value a sorted list of every sample would give.
const RelativeAccuracy = 0.01

// maxSketchBins bounds a latency sketch's memory. At 1% accuracy 2048 bins
// span over 17 orders of magnitude, so collapsing (of the lowest bins) never
// happens for latencies between a nanosecond and the largest time.Duration.
const maxSketchBins = 2048

// Observation is one review outcome recorded for a series.
type Observation struct {
	// Latency is the end-to-end review latency; zero or negative means the
	// observation carries no latency sample (e.g. a feedback-only check).
	Latency time.Duration
	// Error reports whether the review failed.
	Error bool
	// CostUSD is the review's cost; NaN, infinite or negative costs are
	// recorded as zero.
	CostUSD float64
	// InputTokens and OutputTokens are the provider's token counts.
	InputTokens, OutputTokens int64
	// Labelled reports whether the outcome was checked against a label
	// (golden probe or user feedback); Correct whether it matched.
	// Correct is ignored unless Labelled is set.
	Labelled, Correct bool
}

// Aggregate summarises observations. It is mergeable, and its zero value is
// an empty aggregate ready to use. It is not safe for concurrent use, and
// copying it by value shares the latency sketch: use Clone to copy.
type Aggregate struct {
	// Requests counts every observation.
	Requests int64
	// Errors counts observations with Error set.
	Errors int64
	// Labelled counts observations with Labelled set; Correct those also Correct.
	Labelled, Correct int64
	// InputTokens and OutputTokens are token sums.
	InputTokens, OutputTokens int64
	// CostSum, CostSumSq and CostMax are the sum, sum of squares and maximum
	// of CostUSD, enough for the mean and standard deviation of cost.
	CostSum, CostSumSq, CostMax float64

	latency *ddsketch.DDSketch // seconds; nil until the first latency sample or merge
}

func newSketch() *ddsketch.DDSketch {
	m, err := mapping.NewLogarithmicMapping(RelativeAccuracy)
	if err != nil {
		// RelativeAccuracy is a constant inside (0, 1); this cannot happen.
		panic("window: latency sketch mapping: " + err.Error())
	}
	return ddsketch.NewDDSketch(m, store.NewCollapsingLowestDenseStore(maxSketchBins), store.NewCollapsingLowestDenseStore(maxSketchBins))
}

// Add records one observation.
func (a *Aggregate) Add(o Observation) {
	a.Requests++
	if o.Error {
		a.Errors++
	}
	if o.Labelled {
		a.Labelled++
		if o.Correct {
			a.Correct++
		}
	}
	a.InputTokens += o.InputTokens
	a.OutputTokens += o.OutputTokens
	if c := o.CostUSD; c > 0 && !math.IsInf(c, 1) {
		a.CostSum += c
		a.CostSumSq += c * c
		a.CostMax = math.Max(a.CostMax, c)
	}
	if o.Latency > 0 {
		if a.latency == nil {
			a.latency = newSketch()
		}
		// Every positive time.Duration is within the mapping's indexable range.
		_ = a.latency.Add(o.Latency.Seconds())
	}
}

// Merge adds everything recorded in b to a. A nil b is a no-op.
func (a *Aggregate) Merge(b *Aggregate) {
	if b == nil {
		return
	}
	a.Requests += b.Requests
	a.Errors += b.Errors
	a.Labelled += b.Labelled
	a.Correct += b.Correct
	a.InputTokens += b.InputTokens
	a.OutputTokens += b.OutputTokens
	a.CostSum += b.CostSum
	a.CostSumSq += b.CostSumSq
	a.CostMax = math.Max(a.CostMax, b.CostMax)
	if b.latency == nil || b.latency.IsEmpty() {
		return
	}
	if a.latency == nil {
		a.latency = newSketch()
	}
	// Both sketches use the same mapping, the only condition MergeWith checks.
	_ = a.latency.MergeWith(b.latency)
}

// Reset empties a, keeping the sketch's memory for reuse.
func (a *Aggregate) Reset() {
	sk := a.latency
	*a = Aggregate{}
	if sk != nil {
		sk.Clear()
		a.latency = sk
	}
}

// Clone returns a deep copy of a.
func (a *Aggregate) Clone() *Aggregate {
	c := *a
	if a.latency != nil {
		c.latency = a.latency.Copy()
	}
	return &c
}

// Count returns the number of latency samples.
func (a *Aggregate) Count() int64 {
	if a.latency == nil {
		return 0
	}
	return int64(math.Round(a.latency.GetCount()))
}

// Quantile returns the q-quantile of latency in seconds, within
// RelativeAccuracy of the exact value. It returns 0 when there are no latency
// samples and NaN when q is outside [0, 1].
func (a *Aggregate) Quantile(q float64) float64 {
	if !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	if a.Count() == 0 {
		return 0
	}
	v, err := a.latency.GetValueAtQuantile(q)
	if err != nil {
		return 0
	}
	return v
}

// CountAbove returns the approximate number of latency samples greater than
// d, read from the sketch's bins: samples within RelativeAccuracy of d may be
// counted on either side.
func (a *Aggregate) CountAbove(d time.Duration) int64 {
	if a.Count() == 0 {
		return 0
	}
	limit := d.Seconds()
	var n float64
	a.latency.GetPositiveValueStore().ForEach(func(index int, count float64) bool {
		if a.latency.Value(index) > limit {
			n += count
		}
		return false
	})
	return int64(math.Round(n))
}

// ErrorRate returns Errors/Requests, or 0 with no requests.
func (a *Aggregate) ErrorRate() float64 { return ratio(a.Errors, a.Requests) }

// AccuracyRate returns Correct/Labelled, or 0 with no labelled checks.
func (a *Aggregate) AccuracyRate() float64 { return ratio(a.Correct, a.Labelled) }

// MeanCost returns the mean cost per request in USD, or 0 with no requests.
func (a *Aggregate) MeanCost() float64 {
	if a.Requests == 0 {
		return 0
	}
	return a.CostSum / float64(a.Requests)
}

// CostStdDev returns the population standard deviation of cost per request,
// or 0 with fewer than two requests.
func (a *Aggregate) CostStdDev() float64 {
	if a.Requests < 2 {
		return 0
	}
	n := float64(a.Requests)
	mean := a.CostSum / n
	return math.Sqrt(math.Max(0, a.CostSumSq/n-mean*mean))
}

func ratio(num, den int64) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}

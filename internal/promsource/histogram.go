package promsource

import (
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/prometheus/common/model"

	"github.com/tricyclehq/tricycle/coordination/decision"
)

// Bucket is one cumulative bucket of a Prometheus histogram: Count
// observations were at most UpperBound.
type Bucket struct {
	UpperBound float64
	Count      float64
}

// Histogram is a cumulative latency histogram in seconds, read from a
// Prometheus histogram's buckets. It implements decision.Quantiler with
// the accuracy described in the package documentation. The zero value is an
// empty histogram.
type Histogram struct {
	bounds []float64 // ascending, finite except a last +Inf
	counts []float64 // cumulative, nondecreasing, one per bound
}

var _ decision.Quantiler = (*Histogram)(nil)

// NewHistogram builds a histogram from cumulative buckets in any order.
// Buckets with a NaN bound or count are dropped, negative counts read as
// zero, duplicates keep the larger count, and counts are made
// nondecreasing as histogram_quantile does (buckets of one histogram read
// at slightly different times may disagree). Without a +Inf bucket the
// largest count is taken as the total.
func NewHistogram(buckets []Bucket) *Histogram {
	bs := make([]Bucket, 0, len(buckets)+1)
	for _, b := range buckets {
		if math.IsNaN(b.UpperBound) || math.IsNaN(b.Count) || math.IsInf(b.UpperBound, -1) {
			continue
		}
		bs = append(bs, Bucket{UpperBound: b.UpperBound, Count: max(b.Count, 0)})
	}
	sort.SliceStable(bs, func(i, j int) bool { return bs[i].UpperBound < bs[j].UpperBound })
	h := &Histogram{}
	for _, b := range bs {
		c := min(b.Count, math.MaxFloat64)
		if n := len(h.bounds); n > 0 && h.bounds[n-1] == b.UpperBound {
			h.counts[n-1] = max(h.counts[n-1], c)
			continue
		}
		h.bounds = append(h.bounds, b.UpperBound)
		h.counts = append(h.counts, c)
	}
	if n := len(h.bounds); n > 0 && !math.IsInf(h.bounds[n-1], 1) {
		h.bounds = append(h.bounds, math.Inf(1))
		h.counts = append(h.counts, slices.Max(h.counts))
	}
	for i := 1; i < len(h.counts); i++ {
		h.counts[i] = max(h.counts[i], h.counts[i-1])
	}
	return h
}

// total returns the number of observations as a float.
func (h *Histogram) total() float64 {
	if h == nil || len(h.counts) == 0 {
		return 0
	}
	return h.counts[len(h.counts)-1]
}

// Count returns the number of observations, rounded to an integer.
func (h *Histogram) Count() int64 { return roundCount(h.total()) }

// Buckets returns the cumulative buckets, ascending, the last one +Inf.
func (h *Histogram) Buckets() []Bucket {
	if h == nil {
		return nil
	}
	out := make([]Bucket, len(h.bounds))
	for i := range h.bounds {
		out[i] = Bucket{UpperBound: h.bounds[i], Count: h.counts[i]}
	}
	return out
}

// Quantile returns the q-quantile in seconds as histogram_quantile does:
// linear interpolation within the bucket holding rank q·Count, from 0 for
// the first bucket; in the +Inf bucket, the largest finite bound. q is
// clamped to [0, 1]; an empty histogram answers 0. It is nondecreasing in q.
func (h *Histogram) Quantile(q float64) float64 {
	total := h.total()
	if total <= 0 {
		return 0
	}
	if math.IsNaN(q) {
		q = 0
	}
	q = min(max(q, 0), 1)
	rank := q * total
	// The first bucket holding the rank; for rank 0 the first non-empty one.
	b := sort.Search(len(h.counts), func(i int) bool { return h.counts[i] >= rank && h.counts[i] > 0 })
	last := len(h.bounds) - 1
	if b >= last {
		if last == 0 {
			return 0
		}
		return h.bounds[last-1]
	}
	if b == 0 && h.bounds[0] <= 0 {
		return h.bounds[0]
	}
	start, prev := 0.0, 0.0
	if b > 0 {
		start, prev = h.bounds[b-1], h.counts[b-1]
	}
	end := h.bounds[b]
	width := h.counts[b] - prev
	if width <= 0 {
		return start
	}
	return lerp(start, end, (rank-prev)/width)
}

// lerp interpolates linearly from a to b at frac in [0, 1] without
// overflowing between huge bounds.
func lerp(a, b, frac float64) float64 {
	if math.IsNaN(frac) {
		frac = 0.5
	}
	frac = min(max(frac, 0), 1)
	v := a + (b-a)*frac
	if math.IsInf(v, 0) || math.IsNaN(v) {
		v = a*(1-frac) + b*frac
	}
	// Rounding must not step outside [a, b].
	return min(max(v, min(a, b)), max(a, b))
}

// CountAbove returns how many observations exceeded x seconds: exact when
// x is a bucket bound, otherwise interpolated linearly within its bucket.
func (h *Histogram) CountAbove(x float64) float64 {
	total := h.total()
	if total <= 0 || math.IsNaN(x) {
		return 0
	}
	var atMost float64
	prevBound, prevCount := 0.0, 0.0
	for i, ub := range h.bounds {
		if x >= ub {
			prevBound, prevCount = ub, h.counts[i]
			atMost = prevCount
			continue
		}
		if math.IsInf(ub, 1) || x <= prevBound {
			break
		}
		atMost = lerp(prevCount, h.counts[i], (x-prevBound)/(ub-prevBound))
		break
	}
	return max(total-atMost, 0)
}

// bucketsFrom groups the samples of a bucket query (labelled le, and
// grouped by key when key is not empty) into histograms by the value of
// key. Samples with a missing or malformed le are skipped.
func bucketsFrom(v model.Vector, key model.LabelName) map[string]*Histogram {
	by := map[string][]Bucket{}
	for _, s := range v {
		ub, err := parseBound(string(s.Metric[model.BucketLabel]))
		if err != nil {
			continue
		}
		k := ""
		if key != "" {
			k = string(s.Metric[key])
		}
		by[k] = append(by[k], Bucket{UpperBound: ub, Count: float64(s.Value)})
	}
	out := make(map[string]*Histogram, len(by))
	for k, bs := range by {
		out[k] = NewHistogram(bs)
	}
	return out
}

// parseBound parses an le label value ("0.25", "+Inf").
func parseBound(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(f) {
		return 0, strconv.ErrSyntax
	}
	return f, nil
}

// roundCount turns a count read as a float into an integer, non-negative.
func roundCount(f float64) int64 {
	if !(f > 0) {
		return 0
	}
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(math.Round(f))
}

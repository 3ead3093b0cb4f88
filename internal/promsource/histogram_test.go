package promsource

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/common/model"
)

// reviewBuckets is a histogram over the review latency bounds: 100
// observations, 10 of them above 3 s.
func reviewBuckets() *Histogram {
	bounds := []float64{0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, math.Inf(1)}
	counts := []float64{10, 30, 50, 70, 85, 90, 97, 100, 100, 100, 100, 100}
	bs := make([]Bucket, len(bounds))
	for i := range bounds {
		bs[i] = Bucket{UpperBound: bounds[i], Count: counts[i]}
	}
	return NewHistogram(bs)
}

func TestHistogramQuantileInterpolatesLikePrometheus(t *testing.T) {
	t.Parallel()
	h := reviewBuckets()
	tests := []struct {
		q, want float64
	}{
		{0, 0},                           // the start of the first non-empty bucket
		{0.05, 0.05},                     // rank 5 of the 10 in (0, 0.1]
		{0.10, 0.1},                      // exactly at a bound
		{0.5, 0.5},                       // rank 50 ends (0.25, 0.5]
		{0.6, 0.75},                      // halfway through (0.5, 1]
		{0.95, 3 + 2*5.0/7},              // (3, 5] holds ranks 91-97
		{0.99, 5 + 5*2.0/3},              // (5, 10] holds ranks 98-100
		{1, 10},                          // the last observation's bucket ends at 10
		{1.5, 10},                        // q is clamped
		{-1, 0},                          // q is clamped
		{math.NaN(), 0},                  // NaN reads as 0
		{0.999999, 5 + 5*(99.9999-97)/3}, // nondecreasing up to the top
	}
	for _, tt := range tests {
		if got := h.Quantile(tt.q); math.Abs(got-tt.want) > 1e-3 {
			t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if h.Count() != 100 {
		t.Errorf("Count() = %d, want 100", h.Count())
	}
}

func TestHistogramEdges(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	tests := []struct {
		name    string
		buckets []Bucket
		count   int64
		p95     float64
	}{
		{"empty", nil, 0, 0},
		{"zero counts", []Bucket{{1, 0}, {inf, 0}}, 0, 0},
		{"only +Inf", []Bucket{{inf, 7}}, 7, 0},
		{"all above the last bound", []Bucket{{1, 0}, {60, 0}, {inf, 4}}, 4, 60},
		{"unsorted", []Bucket{{inf, 10}, {2, 10}, {1, 0}}, 10, 1.95},
		{"no +Inf bucket", []Bucket{{1, 5}, {2, 10}}, 10, 1.9},
		{"not monotone", []Bucket{{1, 10}, {2, 8}, {inf, 10}}, 10, 0.95},
		{"duplicate bound", []Bucket{{1, 3}, {1, 10}, {inf, 10}}, 10, 0.95},
		{"NaN dropped", []Bucket{{math.NaN(), 50}, {1, math.NaN()}, {2, 10}, {inf, 10}}, 10, 1.9},
		{"negative count", []Bucket{{1, -5}, {2, 10}, {inf, 10}}, 10, 1.95},
		{"bound at zero", []Bucket{{0, 10}, {1, 10}, {inf, 10}}, 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := NewHistogram(tt.buckets)
			if h.Count() != tt.count {
				t.Errorf("Count() = %d, want %d", h.Count(), tt.count)
			}
			if got := h.Quantile(0.95); math.Abs(got-tt.p95) > 1e-9 {
				t.Errorf("Quantile(0.95) = %v, want %v", got, tt.p95)
			}
		})
	}
	var zero Histogram
	if zero.Count() != 0 || zero.Quantile(0.5) != 0 || zero.CountAbove(1) != 0 {
		t.Error("the zero Histogram is not empty")
	}
}

func TestHistogramCountAbove(t *testing.T) {
	t.Parallel()
	h := reviewBuckets()
	tests := []struct {
		x, want float64
	}{
		{3, 10},   // a bound: exact
		{10, 0},   // nothing above the bucket that holds the maximum
		{0, 100},  // everything
		{-1, 100}, // everything
		{4, 6.5},  // halfway through (3, 5]: 7 observations
		{0.05, 95},
		{100, 0}, // beyond the last finite bound
		{math.Inf(1), 0},
	}
	for _, tt := range tests {
		if got := h.CountAbove(tt.x); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("CountAbove(%v) = %v, want %v", tt.x, got, tt.want)
		}
	}
}

func TestBucketsFromSkipsBadBounds(t *testing.T) {
	t.Parallel()
	v := model.Vector{
		{Metric: model.Metric{"le": "1", "series_kind": "canary"}, Value: 4},
		{Metric: model.Metric{"le": "+Inf", "series_kind": "canary"}, Value: 5},
		{Metric: model.Metric{"le": "NaN", "series_kind": "canary"}, Value: 99},
		{Metric: model.Metric{"le": "fast", "series_kind": "canary"}, Value: 99},
		{Metric: model.Metric{"series_kind": "canary"}, Value: 99},
		{Metric: model.Metric{"le": "+Inf", "series_kind": "production"}, Value: 2},
	}
	hs := bucketsFrom(v, "series_kind")
	if len(hs) != 2 || hs["canary"].Count() != 5 || hs["production"].Count() != 2 {
		t.Fatalf("histograms %v", hs)
	}
	if got := hs["canary"].Buckets(); len(got) != 2 || got[0] != (Bucket{1, 4}) {
		t.Errorf("canary buckets %v, want (1, 4) and (+Inf, 5)", got)
	}
}

// FuzzHistogram checks the quantiler's contract on arbitrary buckets:
// finite, nondecreasing in q, within the bounds, and a count of
// observations above a point that never exceeds the total.
func FuzzHistogram(f *testing.F) {
	seed := func(vals ...float64) []byte {
		b := make([]byte, 0, 8*len(vals))
		for _, v := range vals {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		return b
	}
	f.Add(seed(0.1, 10, 0.25, 30, 3, 90, math.Inf(1), 100))
	f.Add(seed(math.Inf(1), 7))
	f.Add(seed(1, 10, 2, 8, math.Inf(1), 10))
	f.Add(seed(math.NaN(), 1, -1, 5, 0, 3))
	f.Add(seed(1e308, 1e308, math.Inf(1), math.Inf(1)))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		var bs []Bucket
		for len(data) >= 16 {
			ub := math.Float64frombits(binary.LittleEndian.Uint64(data))
			c := math.Float64frombits(binary.LittleEndian.Uint64(data[8:]))
			bs = append(bs, Bucket{UpperBound: ub, Count: c})
			data = data[16:]
		}
		h := NewHistogram(bs)
		lo, hi := 0.0, 0.0
		for _, b := range h.Buckets() {
			if !math.IsInf(b.UpperBound, 1) {
				lo, hi = min(lo, b.UpperBound), max(hi, b.UpperBound)
			}
		}
		prev := math.Inf(-1)
		for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.75, 0.95, 0.99, 1} {
			v := h.Quantile(q)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("Quantile(%v) = %v on %v", q, v, h.Buckets())
			}
			if v < prev {
				t.Fatalf("Quantile(%v) = %v < %v at a lower q on %v", q, v, prev, h.Buckets())
			}
			if h.Count() > 0 && (v < lo || v > hi) {
				t.Fatalf("Quantile(%v) = %v outside [%v, %v]", q, v, lo, hi)
			}
			prev = v
		}
		if h.Count() < 0 {
			t.Fatalf("Count() = %d", h.Count())
		}
		if a := h.CountAbove(1); a < 0 || a > h.total() || math.IsNaN(a) {
			t.Fatalf("CountAbove(1) = %v of %v", a, h.total())
		}
	})
}

func BenchmarkHistogramQuantile(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := reviewBuckets()
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Quantile(rng.Float64())
	}
}

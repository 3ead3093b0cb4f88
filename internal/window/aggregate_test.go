package window

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// latencies returns n log-normally distributed latencies around 800ms from
// a seeded generator.
func latencies(seed uint64, n int) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(math.Exp(rng.NormFloat64()*0.8) * float64(800*time.Millisecond))
		if out[i] <= 0 {
			out[i] = time.Millisecond
		}
	}
	return out
}

// exactQuantile mirrors the sketch's rank convention: the element at rank
// floor(q×(n−1)) of the sorted samples.
func exactQuantile(sorted []time.Duration, q float64) float64 {
	return sorted[int(q*float64(len(sorted)-1))].Seconds()
}

func within(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)+1e-12
}

func TestAggregateAddCounts(t *testing.T) {
	t.Parallel()
	var a Aggregate
	a.Add(Observation{Latency: time.Second, CostUSD: 0.01, InputTokens: 100, OutputTokens: 20})
	a.Add(Observation{Latency: 2 * time.Second, Error: true, CostUSD: 0.03, InputTokens: 50, OutputTokens: 5})
	a.Add(Observation{Labelled: true, Correct: true})               // feedback: no latency sample
	a.Add(Observation{Labelled: true, Correct: false, CostUSD: -1}) // invalid cost ignored
	a.Add(Observation{Correct: true, CostUSD: math.NaN()})          // Correct without Labelled ignored
	want := Aggregate{Requests: 5, Errors: 1, Labelled: 2, Correct: 1, InputTokens: 150, OutputTokens: 25, CostSum: 0.04, CostSumSq: 0.001, CostMax: 0.03}
	got := a
	got.latency = nil
	if !within(got.CostSum, want.CostSum, 1e-12) || !within(got.CostSumSq, want.CostSumSq, 1e-12) {
		t.Errorf("cost sums = %v, %v", got.CostSum, got.CostSumSq)
	}
	got.CostSum, got.CostSumSq = want.CostSum, want.CostSumSq
	if got != want {
		t.Errorf("counters = %+v, want %+v", got, want)
	}
	if a.Count() != 2 {
		t.Errorf("Count = %d, want 2 latency samples", a.Count())
	}
	if r := a.ErrorRate(); r != 0.2 {
		t.Errorf("ErrorRate = %v", r)
	}
	if r := a.AccuracyRate(); r != 0.5 {
		t.Errorf("AccuracyRate = %v", r)
	}
	if m := a.MeanCost(); !within(m, 0.008, 1e-9) {
		t.Errorf("MeanCost = %v", m)
	}
	// Costs 0.01, 0.03, 0, 0, 0: mean 0.008, variance 0.001/5 − 0.008² = 0.000136.
	if s := a.CostStdDev(); !within(s, math.Sqrt(0.000136), 1e-9) {
		t.Errorf("CostStdDev = %v", s)
	}
}

func TestAggregateEmpty(t *testing.T) {
	t.Parallel()
	var a Aggregate
	if a.Quantile(0.95) != 0 || a.Count() != 0 || a.CountAbove(0) != 0 {
		t.Errorf("empty aggregate: p95 %v count %d above %d", a.Quantile(0.95), a.Count(), a.CountAbove(0))
	}
	if a.ErrorRate() != 0 || a.AccuracyRate() != 0 || a.MeanCost() != 0 || a.CostStdDev() != 0 {
		t.Errorf("empty aggregate rates are not zero")
	}
	a.Add(Observation{Latency: time.Second})
	for _, q := range []float64{-0.1, 1.5, math.NaN()} {
		if !math.IsNaN(a.Quantile(q)) {
			t.Errorf("Quantile(%v) = %v, want NaN", q, a.Quantile(q))
		}
	}
}

func TestAggregateQuantileAccuracy(t *testing.T) {
	t.Parallel()
	samples := latencies(1, 20000)
	var a Aggregate
	for _, d := range samples {
		a.Add(Observation{Latency: d})
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
		got, want := a.Quantile(q), exactQuantile(sorted, q)
		if !within(got, want, RelativeAccuracy) {
			t.Errorf("Quantile(%v) = %v, exact %v: off by more than 1%%", q, got, want)
		}
	}
}

func TestAggregateCountAbove(t *testing.T) {
	t.Parallel()
	samples := latencies(2, 10000)
	var a Aggregate
	for _, d := range samples {
		a.Add(Observation{Latency: d})
	}
	for _, limit := range []time.Duration{100 * time.Millisecond, time.Second, 3 * time.Second, time.Minute} {
		lo, hi := int64(0), int64(0)
		for _, d := range samples {
			if float64(d) > float64(limit)*(1+RelativeAccuracy) {
				lo++
			}
			if float64(d) > float64(limit)*(1-RelativeAccuracy) {
				hi++
			}
		}
		if got := a.CountAbove(limit); got < lo || got > hi {
			t.Errorf("CountAbove(%s) = %d, want within [%d, %d]", limit, got, lo, hi)
		}
	}
}

func TestAggregateMergeEqualsSingle(t *testing.T) {
	t.Parallel()
	samples := latencies(3, 9000)
	var single Aggregate
	parts := make([]Aggregate, 7)
	rng := rand.New(rand.NewPCG(3, 3))
	for i, d := range samples {
		o := Observation{Latency: d, Error: i%17 == 0, CostUSD: float64(i%13) / 1000, InputTokens: int64(i % 500), OutputTokens: int64(i % 90), Labelled: i%5 == 0, Correct: i%10 == 0}
		single.Add(o)
		parts[rng.IntN(len(parts))].Add(o)
	}
	var merged Aggregate
	for i := range parts {
		merged.Merge(&parts[i])
	}
	merged.Merge(nil)
	merged.Merge(&Aggregate{})
	if merged.Requests != single.Requests || merged.Errors != single.Errors || merged.Labelled != single.Labelled ||
		merged.Correct != single.Correct || merged.InputTokens != single.InputTokens || merged.OutputTokens != single.OutputTokens ||
		merged.Count() != single.Count() || merged.CostMax != single.CostMax {
		t.Fatalf("merged counters %+v differ from single %+v", merged, single)
	}
	if !within(merged.CostSum, single.CostSum, 1e-9) || !within(merged.CostSumSq, single.CostSumSq, 1e-9) {
		t.Errorf("cost sums: merged %v/%v single %v/%v", merged.CostSum, merged.CostSumSq, single.CostSum, single.CostSumSq)
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	for _, q := range []float64{0.5, 0.95, 0.99} {
		if got, want := merged.Quantile(q), exactQuantile(sorted, q); !within(got, want, RelativeAccuracy) {
			t.Errorf("merged Quantile(%v) = %v, exact %v", q, got, want)
		}
		if merged.Quantile(q) != single.Quantile(q) {
			t.Errorf("merged Quantile(%v) = %v, single %v", q, merged.Quantile(q), single.Quantile(q))
		}
	}
}

func TestAggregateCloneAndReset(t *testing.T) {
	t.Parallel()
	var a Aggregate
	a.Add(Observation{Latency: time.Second, Error: true})
	c := a.Clone()
	a.Add(Observation{Latency: 5 * time.Second})
	if c.Requests != 1 || c.Count() != 1 || c.Quantile(1) > 1.02 {
		t.Errorf("clone changed with the original: requests %d count %d max %v", c.Requests, c.Count(), c.Quantile(1))
	}
	a.Reset()
	if a.Requests != 0 || a.Errors != 0 || a.Count() != 0 || a.Quantile(0.5) != 0 {
		t.Errorf("Reset left data: %+v count %d", a, a.Count())
	}
	a.Add(Observation{Latency: 2 * time.Second})
	if got := a.Quantile(0.5); !within(got, 2, RelativeAccuracy) {
		t.Errorf("after Reset, p50 = %v, want 2", got)
	}
}

func TestAggregateBinaryRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		obs  []Observation
	}{
		{"empty", nil},
		{"counters only", []Observation{{Error: true, Labelled: true, CostUSD: 0.2, InputTokens: 7}}},
		{"sub-second and long latencies", []Observation{{Latency: time.Microsecond}, {Latency: 300 * time.Millisecond}, {Latency: 45 * time.Minute, Error: true}}},
	}
	var many []Observation
	for i, d := range latencies(4, 5000) {
		many = append(many, Observation{Latency: d, Error: i%9 == 0, CostUSD: 0.001 * float64(i%7), Labelled: i%3 == 0, Correct: i%6 == 0, InputTokens: -3})
	}
	tests = append(tests, struct {
		name string
		obs  []Observation
	}{"many", many})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var a Aggregate
			for _, o := range tt.obs {
				a.Add(o)
			}
			data, err := a.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			var b Aggregate
			if err := b.UnmarshalBinary(data); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			assertSameAggregate(t, &b, &a)
			again, _ := b.MarshalBinary()
			if !bytes.Equal(again, data) {
				t.Errorf("re-encoding differs")
			}
		})
	}
}

func assertSameAggregate(t *testing.T, got, want *Aggregate) {
	t.Helper()
	g, w := *got, *want
	g.latency, w.latency = nil, nil
	if g != w {
		t.Fatalf("counters = %+v, want %+v", g, w)
	}
	if got.Count() != want.Count() {
		t.Fatalf("Count = %d, want %d", got.Count(), want.Count())
	}
	for _, q := range []float64{0, 0.5, 0.95, 0.99, 1} {
		if got.Quantile(q) != want.Quantile(q) {
			t.Errorf("Quantile(%v) = %v, want %v", q, got.Quantile(q), want.Quantile(q))
		}
	}
}

func TestAggregateUnmarshalRejects(t *testing.T) {
	t.Parallel()
	var a Aggregate
	a.Add(Observation{Latency: time.Second, Error: true})
	a.Add(Observation{Latency: 2 * time.Second})
	valid, _ := a.MarshalBinary()
	enc := func(counters [6]int64, costs [3]float64, bins ...[2]int64) []byte {
		var x Aggregate
		x.Requests, x.Errors, x.Labelled, x.Correct, x.InputTokens, x.OutputTokens = counters[0], counters[1], counters[2], counters[3], counters[4], counters[5]
		x.CostSum, x.CostSumSq, x.CostMax = costs[0], costs[1], costs[2]
		b, _ := x.MarshalBinary()
		b = b[:len(b)-1] // drop the zero bin count
		b = appendBins(b, bins...)
		return b
	}
	noBins := enc([6]int64{}, [3]float64{})
	tooMany := append(noBins[:len(noBins)-1:len(noBins)-1], 0xff, 0xff, 0x03)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"unknown format", append([]byte{9}, valid[1:]...), "unknown format 9"},
		{"truncated", valid[:len(valid)-2], "truncated"},
		{"trailing bytes", append(slices.Clone(valid), 0), "trailing"},
		{"errors exceed requests", enc([6]int64{1, 2, 0, 0, 0, 0}, [3]float64{}), "errors exceed"},
		{"correct exceeds labelled", enc([6]int64{3, 0, 1, 2, 0, 0}, [3]float64{}), "correct checks exceed"},
		{"negative requests", enc([6]int64{-1, 0, 0, 0, 0, 0}, [3]float64{}), "negative"},
		{"NaN cost", enc([6]int64{1, 0, 0, 0, 0, 0}, [3]float64{math.NaN(), 0, 0}), "invalid cost"},
		{"more samples than requests", enc([6]int64{1, 0, 0, 0, 0, 0}, [3]float64{}, [2]int64{0, 2}), "latency samples exceed"},
		{"zero count bin", enc([6]int64{1, 0, 0, 0, 0, 0}, [3]float64{}, [2]int64{0, 0}), "invalid count"},
		{"index out of range", enc([6]int64{1, 0, 0, 0, 0, 0}, [3]float64{}, [2]int64{1 << 40, 1}), "outside"},
		{"indexes not increasing", enc([6]int64{2, 0, 0, 0, 0, 0}, [3]float64{}, [2]int64{5, 1}, [2]int64{0, 1}), "not increasing"},
		{"too many bins", tooMany, "exceeds the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := a.Clone()
			err := b.UnmarshalBinary(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("UnmarshalBinary = %v, want error containing %q", err, tt.want)
			}
			assertSameAggregate(t, b, &a)
		})
	}
}

// appendBins appends a bin count and the bins, given as (index delta, count)
// pairs as MarshalBinary writes them.
func appendBins(b []byte, bins ...[2]int64) []byte {
	b = binary.AppendUvarint(b, uint64(len(bins)))
	for _, bin := range bins {
		b = binary.AppendVarint(b, bin[0])
		b = binary.AppendUvarint(b, uint64(bin[1]))
	}
	return b
}

// FuzzAggregateUnmarshalBinary checks that arbitrary bytes never panic, and
// that anything accepted re-encodes to an equivalent aggregate.
func FuzzAggregateUnmarshalBinary(f *testing.F) {
	var a Aggregate
	for i, d := range latencies(5, 200) {
		a.Add(Observation{Latency: d, Error: i%4 == 0, Labelled: i%2 == 0, Correct: i%3 == 0, CostUSD: 0.01})
	}
	seed, _ := a.MarshalBinary()
	f.Add(seed)
	empty, _ := (&Aggregate{}).MarshalBinary()
	f.Add(empty)
	f.Add([]byte{1, 2, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var x Aggregate
		if err := x.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := x.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary after accepted input: %v", err)
		}
		var y Aggregate
		if err := y.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded aggregate rejected: %v", err)
		}
		assertSameAggregate(t, &y, &x)
		if x.Count() > x.Requests || x.Quantile(0.5) < 0 {
			t.Fatalf("accepted inconsistent aggregate %+v", x)
		}
	})
}

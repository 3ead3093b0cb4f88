package stats

import (
	"math"
	"testing"
)

func TestProportionCS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		k, n    int64
		alpha   float64
		want    func(t *testing.T, iv Interval)
		wantAll bool // the uninformative [0, 1]
	}{
		{name: "no trials", k: 0, n: 0, alpha: 0.05, wantAll: true},
		{name: "negative n", k: 0, n: -3, alpha: 0.05, wantAll: true},
		{name: "k above n", k: 11, n: 10, alpha: 0.05, wantAll: true},
		{name: "negative k", k: -1, n: 10, alpha: 0.05, wantAll: true},
		{name: "alpha zero", k: 5, n: 10, alpha: 0, wantAll: true},
		{name: "alpha one", k: 5, n: 10, alpha: 1, wantAll: true},
		{name: "alpha NaN", k: 5, n: 10, alpha: math.NaN(), wantAll: true},
		{name: "no successes starts at zero", k: 0, n: 50, alpha: 0.05, want: func(t *testing.T, iv Interval) {
			if iv.Low != 0 || !(iv.High > 0 && iv.High < 0.2) {
				t.Errorf("got %+v, want [0, h] with 0 < h < 0.2", iv)
			}
		}},
		{name: "all successes ends at one", k: 50, n: 50, alpha: 0.05, want: func(t *testing.T, iv Interval) {
			if iv.High != 1 || !(iv.Low > 0.8 && iv.Low < 1) {
				t.Errorf("got %+v, want [l, 1] with 0.8 < l < 1", iv)
			}
		}},
		{name: "half of a thousand", k: 500, n: 1000, alpha: 0.05, want: func(t *testing.T, iv Interval) {
			// Anytime validity costs width: wider than Wilson, but not absurdly.
			w := FixedHorizonProportionCI(500, 1000, 0.05)
			if !(iv.Width() > w.Width() && iv.Width() < 2.5*w.Width()) {
				t.Errorf("width %.4f, want between 1x and 2.5x the Wilson width %.4f", iv.Width(), w.Width())
			}
		}},
		{name: "rare events stay near zero", k: 100, n: 10000, alpha: 0.05, want: func(t *testing.T, iv Interval) {
			if !(iv.Low > 0.005 && iv.High < 0.016) {
				t.Errorf("got %+v, want within (0.005, 0.016)", iv)
			}
		}},
		{name: "huge n stays finite and tight", k: 3e8, n: 1e9, alpha: 0.01, want: func(t *testing.T, iv Interval) {
			if !(iv.Contains(0.3) && iv.Width() < 2e-4 && iv.Width() > 0) {
				t.Errorf("got %+v, want a tight interval around 0.3", iv)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			iv := ProportionCS(tc.k, tc.n, tc.alpha)
			if tc.wantAll {
				if iv != (Interval{0, 1}) {
					t.Fatalf("ProportionCS(%d, %d, %v) = %+v, want [0, 1]", tc.k, tc.n, tc.alpha, iv)
				}
				return
			}
			if phat := float64(tc.k) / float64(tc.n); !iv.Contains(phat) {
				t.Errorf("interval %+v does not contain the observed rate %v", iv, phat)
			}
			tc.want(t, iv)
		})
	}
}

func TestProportionCSShape(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{1, 2, 7, 30, 100, 1000, 12345} {
		for _, k := range []int64{0, 1, n / 3, n / 2, n - 1, n} {
			if k < 0 || k > n {
				continue
			}
			iv := ProportionCS(k, n, 0.05)
			mirror := ProportionCS(n-k, n, 0.05)
			if math.Abs(iv.Low-(1-mirror.High)) > 1e-9 || math.Abs(iv.High-(1-mirror.Low)) > 1e-9 {
				t.Errorf("k=%d n=%d: %+v is not the mirror of %+v", k, n, iv, mirror)
			}
			if strict := ProportionCS(k, n, 0.001); !(strict.Low <= iv.Low && strict.High >= iv.High) {
				t.Errorf("k=%d n=%d: alpha 0.001 gives %+v, not wider than alpha 0.05 %+v", k, n, strict, iv)
			}
			if !(iv.Low >= 0 && iv.High <= 1 && iv.Low < iv.High) {
				t.Errorf("k=%d n=%d: %+v is not a proper sub-interval of [0, 1]", k, n, iv)
			}
		}
	}
	// More data at the same rate narrows the sequence.
	prev := 1.0
	for _, n := range []int64{10, 100, 1000, 10000, 100000} {
		w := ProportionCS(n/5, n, 0.05).Width()
		if w >= prev {
			t.Errorf("width at n=%d is %v, not below %v at the previous n", n, w, prev)
		}
		prev = w
	}
}

func TestDiffProportionCS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		k1, n1, k2, n2     int64
		alpha              float64
		wantLow, wantHigh  func(float64) bool
		wantExact          *Interval
		containsObservedOK bool
	}{
		{name: "invalid alpha", k1: 1, n1: 10, k2: 1, n2: 10, alpha: 2, wantExact: &Interval{-1, 1}},
		{name: "both empty", wantExact: &Interval{-1, 1}, alpha: 0.05},
		{name: "clearly higher", k1: 300, n1: 1000, k2: 100, n2: 1000, alpha: 0.05,
			wantLow: func(x float64) bool { return x > 0.1 }, wantHigh: func(x float64) bool { return x < 0.3 }, containsObservedOK: true},
		{name: "equal rates straddle zero", k1: 20, n1: 2000, k2: 20, n2: 2000, alpha: 0.05,
			wantLow: func(x float64) bool { return x < 0 && x > -0.02 }, wantHigh: func(x float64) bool { return x > 0 && x < 0.02 }, containsObservedOK: true},
		{name: "equal lengths with many trials pair up", k1: 2000, n1: 100000, k2: 2100, n2: 100000, alpha: 0.01,
			wantLow: func(x float64) bool { return x < -0.001 && x > -0.005 }, wantHigh: func(x float64) bool { return x > 0 && x < 0.003 }, containsObservedOK: true},
		{name: "unequal lengths", k1: 5, n1: 100, k2: 300, n2: 10000, alpha: 0.05,
			wantLow: func(x float64) bool { return x < 0.02 }, wantHigh: func(x float64) bool { return x > 0.02 }, containsObservedOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			iv := DiffProportionCS(tc.k1, tc.n1, tc.k2, tc.n2, tc.alpha)
			if tc.wantExact != nil {
				if iv != *tc.wantExact {
					t.Fatalf("got %+v, want %+v", iv, *tc.wantExact)
				}
				return
			}
			if !tc.wantLow(iv.Low) || !tc.wantHigh(iv.High) {
				t.Errorf("got %+v", iv)
			}
			if obs := float64(tc.k1)/float64(tc.n1) - float64(tc.k2)/float64(tc.n2); tc.containsObservedOK && !iv.Contains(obs) {
				t.Errorf("got %+v, does not contain the observed difference %v", iv, obs)
			}
			a, b := ProportionCS(tc.k1, tc.n1, tc.alpha/4), ProportionCS(tc.k2, tc.n2, tc.alpha/4)
			union := Interval{a.Low - b.High, a.High - b.Low}
			if iv.Low < union.Low || iv.High > union.High {
				t.Errorf("got %+v, wider than the combination %+v of the two sequences", iv, union)
			}
			if tc.n1 != tc.n2 && iv != union {
				t.Errorf("unequal lengths: got %+v, want the combination %+v", iv, union)
			}
			if tc.n1 == tc.n2 && tc.n1 >= 50000 && !(iv.Width() < 0.8*union.Width()) {
				t.Errorf("equal lengths: got %+v, want the paired sequence to narrow %+v", iv, union)
			}
		})
	}
}

func TestFixedHorizonProportionCI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		k, n      int64
		alpha     float64
		low, high float64 // Wilson score interval, reference values
	}{
		{k: 50, n: 100, alpha: 0.05, low: 0.4038, high: 0.5962},
		{k: 0, n: 20, alpha: 0.05, low: 0, high: 0.1611},
		{k: 9, n: 10, alpha: 0.05, low: 0.5958, high: 0.9821},
		{k: 5, n: 0, alpha: 0.05, low: 0, high: 1},
	}
	for _, tc := range tests {
		iv := FixedHorizonProportionCI(tc.k, tc.n, tc.alpha)
		if math.Abs(iv.Low-tc.low) > 5e-4 || math.Abs(iv.High-tc.high) > 5e-4 {
			t.Errorf("FixedHorizonProportionCI(%d, %d, %v) = %+v, want [%v, %v]", tc.k, tc.n, tc.alpha, iv, tc.low, tc.high)
		}
	}
}

func TestQuantileCS(t *testing.T) {
	t.Parallel()
	identity := func(u float64) float64 { return u }
	inf := math.Inf(1)
	tests := []struct {
		name     string
		q        float64
		n        int64
		quantile func(float64) float64
		alpha    float64
		check    func(iv Interval) bool
	}{
		{name: "no data", q: 0.5, n: 0, quantile: identity, alpha: 0.05,
			check: func(iv Interval) bool { return iv == Interval{-inf, inf} }},
		{name: "q out of range", q: 1, n: 100, quantile: identity, alpha: 0.05,
			check: func(iv Interval) bool { return iv == Interval{-inf, inf} }},
		{name: "nil quantile function", q: 0.5, n: 100, alpha: 0.05,
			check: func(iv Interval) bool { return iv == Interval{-inf, inf} }},
		{name: "too few samples leave p95 unbounded above", q: 0.95, n: 20, quantile: identity, alpha: 0.05,
			check: func(iv Interval) bool { return math.IsInf(iv.High, 1) && iv.Low < 0.95 }},
		{name: "p95 of a thousand brackets the empirical p95", q: 0.95, n: 1000, quantile: identity, alpha: 0.05,
			check: func(iv Interval) bool { return iv.Low < 0.95 && iv.High > 0.95 && iv.Low > 0.9 && iv.High < 0.99 }},
		{name: "median tightens with n", q: 0.5, n: 100000, quantile: identity, alpha: 0.05,
			check: func(iv Interval) bool { return iv.Contains(0.5) && iv.Width() < 0.02 }},
		{name: "reads follow the quantile function", q: 0.5, n: 1000, quantile: func(u float64) float64 { return 2 + 10*u }, alpha: 0.05,
			check: func(iv Interval) bool { return iv.Low > 6 && iv.Low < 7 && iv.High > 7 && iv.High < 8 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if iv := QuantileCS(tc.q, tc.n, tc.quantile, tc.alpha); !tc.check(iv) {
				t.Errorf("QuantileCS(%v, %d, ..., %v) = %+v", tc.q, tc.n, tc.alpha, iv)
			}
		})
	}
}

func TestAcceptedCountsMatchProportionCS(t *testing.T) {
	t.Parallel()
	// The count range QuantileCS uses is exactly where ProportionCS covers q.
	for _, n := range []int64{5, 40, 333, 2000} {
		for _, q := range []float64{0.05, 0.5, 0.95} {
			kLo, kHi, ok := acceptedCounts(q, n, 0.05)
			if !ok {
				t.Fatalf("n=%d q=%v: no accepted counts", n, q)
			}
			for k := int64(0); k <= n; k++ {
				in := ProportionCS(k, n, 0.05).Contains(q)
				want := k >= kLo && k <= kHi
				// ProportionCS returns the outer bracket end, so it may
				// include q a hair earlier; only disagreements far from the
				// edges matter.
				if in != want && k != kLo-1 && k != kHi+1 {
					t.Errorf("n=%d q=%v k=%d: ProportionCS contains q = %v, range [%d, %d]", n, q, k, in, kLo, kHi)
				}
			}
		}
	}
}

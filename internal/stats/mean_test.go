package stats

import (
	"math"
	"testing"
)

func TestMeanCS(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	// moments returns n, sum and sum of squares for n observations with the
	// given mean and standard deviation.
	moments := func(n int64, mean, sd float64) (int64, float64, float64) {
		fn := float64(n)
		return n, mean * fn, (sd*sd + mean*mean) * fn
	}
	narrowN, narrowSum, narrowSumSq := moments(10000, 0.12, 0.03)
	wideN, wideSum, wideSumSq := moments(10000, 0.5, 0.5)
	tests := []struct {
		name  string
		n     int64
		sum   float64
		sumSq float64
		lo    float64
		hi    float64
		alpha float64
		check func(t *testing.T, iv Interval)
	}{
		{name: "no data gives the bounds", lo: 0, hi: 0.4, alpha: 0.05, check: wantInterval(Interval{0, 0.4})},
		{name: "reversed bounds are unusable", n: 10, sum: 1, sumSq: 1, lo: 1, hi: 0, alpha: 0.05, check: wantInterval(Interval{-inf, inf})},
		{name: "infinite bound is unusable", n: 10, sum: 1, sumSq: 1, lo: 0, hi: inf, alpha: 0.05, check: wantInterval(Interval{-inf, inf})},
		{name: "NaN sum gives the bounds", n: 10, sum: math.NaN(), sumSq: 1, lo: 0, hi: 1, alpha: 0.05, check: wantInterval(Interval{0, 1})},
		{name: "bad alpha gives the bounds", n: 10, sum: 1, sumSq: 1, lo: 0, hi: 1, alpha: 0, check: wantInterval(Interval{0, 1})},
		{name: "degenerate range is exact", n: 10, sum: 20, sumSq: 40, lo: 2, hi: 2, alpha: 0.05, check: wantInterval(Interval{2, 2})},
		{name: "few samples stay inside the bounds", n: 3, sum: 0.3, sumSq: 0.05, lo: 0, hi: 0.4, alpha: 0.05, check: func(t *testing.T, iv Interval) {
			if iv.Low < 0 || iv.High > 0.4 || !iv.Contains(0.1) {
				t.Errorf("got %+v, want inside [0, 0.4] around 0.1", iv)
			}
		}},
		{name: "narrow spread beats the range", n: narrowN, sum: narrowSum, sumSq: narrowSumSq, lo: 0, hi: 0.4, alpha: 0.05, check: func(t *testing.T, iv Interval) {
			// sd 0.03 on a range of 0.4: a range-only (Hoeffding) sequence
			// would be about 0.2*sqrt(2*ln(40)/n) wide on each side.
			hoeffding := normalMixtureBound(10000*0.04, tunedRho(10000*0.04, 0.05), 0.05) / 10000
			if half := iv.Width() / 2; !(half < hoeffding/3) {
				t.Errorf("half-width %v, want below a third of the Hoeffding half-width %v", half, hoeffding)
			}
			if !iv.Contains(0.12) {
				t.Errorf("got %+v, want it to contain 0.12", iv)
			}
		}},
		{name: "wide spread is no worse than a proportion sequence", n: wideN, sum: wideSum, sumSq: wideSumSq, lo: 0, hi: 1, alpha: 0.05, check: func(t *testing.T, iv Interval) {
			p := ProportionCS(5000, 10000, 0.05)
			if iv.Width() > 1.1*p.Width() {
				t.Errorf("width %v, want within 10%% of the Bernoulli sequence %v", iv.Width(), p.Width())
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, MeanCS(tc.n, tc.sum, tc.sumSq, tc.lo, tc.hi, tc.alpha))
		})
	}
}

func wantInterval(want Interval) func(t *testing.T, iv Interval) {
	return func(t *testing.T, iv Interval) {
		t.Helper()
		if iv != want {
			t.Errorf("got %+v, want %+v", iv, want)
		}
	}
}

func TestMeanCSShrinks(t *testing.T) {
	t.Parallel()
	prev := math.Inf(1)
	for _, n := range []int64{10, 100, 1000, 10000, 100000, 1e7} {
		fn := float64(n)
		iv := MeanCS(n, 0.12*fn, (0.03*0.03+0.12*0.12)*fn, 0, 0.4, 0.05)
		if !(iv.Width() < prev) || !iv.Contains(0.12) {
			t.Errorf("n=%d: %+v, want narrower than %v and containing 0.12", n, iv, prev)
		}
		prev = iv.Width()
	}
}

func TestNewtonFromAboveStaysConservative(t *testing.T) {
	t.Parallel()
	// f(x) = x^2 on x >= 0; root of f = 2 is sqrt 2.
	f := func(x float64) (float64, float64) { return x * x, 2 * x }
	got := newtonFromAbove(f, 10, 2)
	if got < math.Sqrt2 || got > math.Sqrt2+1e-9 {
		t.Errorf("got %v, want sqrt 2 from above", got)
	}
}

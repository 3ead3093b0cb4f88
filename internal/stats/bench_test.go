package stats

import "testing"

// The benchmarks time one call at typical evaluator sample sizes; the
// proportion and mean benchmarks also report how much wider the anytime
// interval is than its fixed-horizon counterpart at the same alpha.

func BenchmarkProportionCS(b *testing.B) {
	var iv Interval
	for b.Loop() {
		iv = ProportionCS(1840, 2000, 0.01)
	}
	b.ReportMetric(iv.Width()/FixedHorizonProportionCI(1840, 2000, 0.01).Width(), "width/fixed")
}

func BenchmarkFixedHorizonProportionCI(b *testing.B) {
	for b.Loop() {
		FixedHorizonProportionCI(1840, 2000, 0.01)
	}
}

func BenchmarkDiffProportionCS(b *testing.B) {
	b.Run("paired", func(b *testing.B) {
		for b.Loop() {
			DiffProportionCS(210, 20000, 200, 20000, 0.01)
		}
	})
	b.Run("unequal", func(b *testing.B) {
		for b.Loop() {
			DiffProportionCS(210, 20000, 200, 19000, 0.01)
		}
	})
}

func BenchmarkMeanCS(b *testing.B) {
	const n, mean, sd = 10000, 0.12, 0.03
	var iv Interval
	for b.Loop() {
		iv = MeanCS(n, mean*n, (sd*sd+mean*mean)*n, 0, 0.4, 0.01)
	}
	// A fixed-horizon normal interval at alpha = 0.01 is mean +- 2.576 sd/sqrt(n).
	b.ReportMetric(iv.Width()/(2*2.576*sd/100), "width/fixed")
}

func BenchmarkQuantileCS(b *testing.B) {
	quantile := func(u float64) float64 { return 3 * u }
	for b.Loop() {
		QuantileCS(0.95, 20000, quantile, 0.01)
	}
}

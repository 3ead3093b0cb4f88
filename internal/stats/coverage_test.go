package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The A/A simulations below follow one stream per run, look at it after
// every batch of observations (100 looks per run) and count the runs in
// which the truth was ever outside the interval. A confidence sequence must
// keep that rate at or below alpha; a fixed-horizon interval peeked at the
// same way does not.
//
// Allowance: with R runs, a sequence whose true miss probability were
// exactly alpha would show a rate above alpha + 3*sqrt(alpha(1-alpha)/R) with
// probability about 0.13% (normal approximation to the binomial), so that is
// the bar. The seeds are fixed, so each run of the test is deterministic.

const (
	simAlpha = 0.05
	simLooks = 100
)

// simRuns returns the number of seeded runs: the full count normally, a
// quarter under -short or the race detector.
func simRuns(full int) int {
	if testing.Short() || raceEnabled {
		return full / 4
	}
	return full
}

// allowance returns the largest acceptable miss rate for runs runs.
func allowance(runs int) float64 {
	return simAlpha + 3*math.Sqrt(simAlpha*(1-simAlpha)/float64(runs))
}

// aaMissRate runs runs seeded streams; newRun returns a function that adds
// one observation and reports, for each method, whether its interval misses
// the truth after that batch. It returns the fraction of runs in which each
// method ever missed.
func aaMissRate(runs, perLook int, methods int, newRun func(r *rand.Rand) (observe func(), missed func() []bool)) []float64 {
	counts := make([]int, methods)
	for run := range runs {
		rng := rand.New(rand.NewPCG(uint64(run), 0x7a1c))
		observe, missed := newRun(rng)
		ever := make([]bool, methods)
		for range simLooks {
			for range perLook {
				observe()
			}
			for m, miss := range missed() {
				ever[m] = ever[m] || miss
			}
		}
		for m, e := range ever {
			if e {
				counts[m]++
			}
		}
	}
	rates := make([]float64, methods)
	for m, c := range counts {
		rates[m] = float64(c) / float64(runs)
	}
	return rates
}

func TestProportionCSAnytimeCoverage(t *testing.T) {
	t.Parallel()
	for _, p := range []float64{0.3, 0.02} {
		runs := simRuns(2000)
		rates := aaMissRate(runs, 20, 2, func(rng *rand.Rand) (func(), func() []bool) {
			var k, n int64
			observe := func() {
				n++
				if rng.Float64() < p {
					k++
				}
			}
			missed := func() []bool {
				return []bool{
					!ProportionCS(k, n, simAlpha).Contains(p),
					!FixedHorizonProportionCI(k, n, simAlpha).Contains(p),
				}
			}
			return observe, missed
		})
		t.Logf("p=%v runs=%d looks=%d: confidence sequence missed in %.2f%% of runs, fixed-horizon CI in %.2f%%",
			p, runs, simLooks, 100*rates[0], 100*rates[1])
		if rates[0] > allowance(runs) {
			t.Errorf("p=%v: confidence sequence missed the truth in %.2f%% of runs, want at most %.2f%%", p, 100*rates[0], 100*allowance(runs))
		}
		if rates[1] <= allowance(runs) {
			t.Errorf("p=%v: peeked fixed-horizon CI missed in only %.2f%% of runs; the simulation no longer shows the inflation", p, 100*rates[1])
		}
	}
}

func TestDiffProportionCSAnytimeCoverage(t *testing.T) {
	t.Parallel()
	const p = 0.05 // both arms alike: an A/A comparison
	runs := simRuns(600)
	rates := aaMissRate(runs, 30, 1, func(rng *rand.Rand) (func(), func() []bool) {
		var k1, k2, n int64
		observe := func() {
			n++
			if rng.Float64() < p {
				k1++
			}
			if rng.Float64() < p {
				k2++
			}
		}
		missed := func() []bool { return []bool{!DiffProportionCS(k1, n, k2, n, simAlpha).Contains(0)} }
		return observe, missed
	})
	t.Logf("A/A difference: missed zero in %.2f%% of %d runs", 100*rates[0], runs)
	if rates[0] > allowance(runs) {
		t.Errorf("difference sequence missed zero in %.2f%% of runs, want at most %.2f%%", 100*rates[0], 100*allowance(runs))
	}
}

func TestMeanCSAnytimeCoverage(t *testing.T) {
	t.Parallel()
	// A skewed cost-like distribution on [0, 0.4]: 0.4 U^3 has mean 0.1.
	const lo, hi, mean = 0.0, 0.4, 0.1
	runs := simRuns(600)
	rates := aaMissRate(runs, 20, 1, func(rng *rand.Rand) (func(), func() []bool) {
		var n int64
		var sum, sumSq float64
		observe := func() {
			u := rng.Float64()
			x := hi * u * u * u
			n++
			sum += x
			sumSq += x * x
		}
		missed := func() []bool { return []bool{!MeanCS(n, sum, sumSq, lo, hi, simAlpha).Contains(mean)} }
		return observe, missed
	})
	t.Logf("mean: missed in %.2f%% of %d runs", 100*rates[0], runs)
	if rates[0] > allowance(runs) {
		t.Errorf("mean sequence missed the truth in %.2f%% of runs, want at most %.2f%%", 100*rates[0], 100*allowance(runs))
	}
}

// levelCounts is an exact empirical distribution over the values
// 0, 1/levels, ..., (levels-1)/levels.
type levelCounts struct {
	counts []int64
	n      int64
}

// quantile returns the order statistic X_(ceil(u n)).
func (c *levelCounts) quantile(u float64) float64 {
	rank := int64(math.Ceil(u*float64(c.n) - 1e-9))
	rank = max(1, min(c.n, rank))
	var cum int64
	for j, cnt := range c.counts {
		cum += cnt
		if cum >= rank {
			return float64(j) / float64(len(c.counts))
		}
	}
	return 1
}

func TestQuantileCSAnytimeCoverage(t *testing.T) {
	t.Parallel()
	// X = floor(levels U^2)/levels: P(X <= j/levels) = sqrt((j+1)/levels),
	// so the q-quantile is (ceil(levels q^2) - 1)/levels.
	const levels, q = 500, 0.95
	truth := (math.Ceil(levels*q*q) - 1) / levels
	runs := simRuns(1000)
	rates := aaMissRate(runs, 20, 1, func(rng *rand.Rand) (func(), func() []bool) {
		c := &levelCounts{counts: make([]int64, levels)}
		observe := func() {
			u := rng.Float64()
			c.counts[int(levels*u*u)]++
			c.n++
		}
		missed := func() []bool { return []bool{!QuantileCS(q, c.n, c.quantile, simAlpha).Contains(truth)} }
		return observe, missed
	})
	t.Logf("p95: missed in %.2f%% of %d runs", 100*rates[0], runs)
	if rates[0] > allowance(runs) {
		t.Errorf("quantile sequence missed the truth in %.2f%% of runs, want at most %.2f%%", 100*rates[0], 100*allowance(runs))
	}
}

package decision

import (
	"math"
	"slices"
)

// sortedLatencies is an exact Quantiler over a sorted sample.
type sortedLatencies []float64

func (s sortedLatencies) Count() int64 { return int64(len(s)) }

func (s sortedLatencies) Quantile(q float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(q*float64(len(s)) - 1e-9))
	return s[max(1, min(len(s), rank))-1]
}

// evenLatencies returns n latencies spread evenly over [lo, hi].
func evenLatencies(n int, lo, hi float64) sortedLatencies {
	s := make(sortedLatencies, n)
	for i := range s {
		s[i] = lo + (hi-lo)*float64(i)/float64(n-1)
	}
	slices.Sort(s)
	return s
}

// gridLatencies is an exact Quantiler over latencies on a grid of values
// i*step, kept as counts so it can grow one observation at a time.
type gridLatencies struct {
	step   float64
	counts []int64
	n      int64
}

func (g *gridLatencies) add(i int) {
	g.counts[i]++
	g.n++
}

func (g *gridLatencies) Count() int64 { return g.n }

func (g *gridLatencies) Quantile(q float64) float64 {
	rank := int64(math.Ceil(q*float64(g.n) - 1e-9))
	rank = max(1, min(g.n, rank))
	var cum int64
	for i, c := range g.counts {
		cum += c
		if cum >= rank {
			return float64(i) * g.step
		}
	}
	return float64(len(g.counts)-1) * g.step
}

// measured returns a variant observed on n requests with the given rates,
// latencies spread over [latLo, latHi] and a fixed cost per review with a
// small spread.
func measured(n int64, errorRate, accuracy float64, latLo, latHi, cost float64) Measured {
	fn := float64(n)
	costSd := cost / 10
	return Measured{
		Requests:       n,
		Errors:         int64(errorRate * fn),
		Labelled:       n,
		Correct:        int64(accuracy * fn),
		TruePositives:  int64(accuracy * fn),
		FalsePositives: int64((1 - accuracy) * fn),
		FalseNegatives: int64((1 - accuracy) * fn),
		Feedback:       n,
		Accepted:       int64(accuracy * fn),
		Compared:       n,
		Agreed:         int64(accuracy * fn),
		Latency:        evenLatencies(int(n), latLo, latHi),
		CostSum:        cost * fn,
		CostSumSq:      (cost*cost + costSd*costSd) * fn,
		CostMax:        4 * cost,
	}
}

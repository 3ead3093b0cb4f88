// Package traffic is the seeded traffic model the benchmark programs share:
// review outcomes drawn from a version's profile (log-normal latency,
// Bernoulli errors and label checks, log-normal cost), Poisson arrivals and
// deterministic per-run random streams.
//
// Every draw takes the caller's *rand.Rand, so a run is reproducible from
// its seed whatever the number of goroutines running other runs.
package traffic

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tricyclehq/tricycle/internal/window"
)

// z95 is the standard normal 0.95 quantile.
const z95 = 1.6448536269514722

// Profile is how one version behaves on review requests.
type Profile struct {
	// ErrorRate is the probability that a review fails.
	ErrorRate float64
	// LatencyP50 and LatencyP95 are the median and 95th percentile review
	// latency in seconds; latency is log-normal with these two quantiles.
	LatencyP50, LatencyP95 float64
	// Accuracy is the probability that a labelled review is correct.
	Accuracy float64
	// LabelRate is the share of successful reviews checked against a label
	// (golden probes and user feedback).
	LabelRate float64
	// CostMean and CostSD are the mean and standard deviation of a review's
	// cost in dollars (log-normal); CostCap bounds any one review's cost.
	// A zero CostMean means reviews cost nothing.
	CostMean, CostSD, CostCap float64
}

// Validate reports the first field out of range.
func (p Profile) Validate() error {
	switch {
	case !(p.ErrorRate >= 0 && p.ErrorRate <= 1):
		return fmt.Errorf("error rate %v is not within [0, 1]", p.ErrorRate)
	case !(p.LatencyP50 > 0) || !(p.LatencyP95 >= p.LatencyP50) || math.IsInf(p.LatencyP95, 1):
		return fmt.Errorf("latency p50 %v and p95 %v must be positive, finite and ordered", p.LatencyP50, p.LatencyP95)
	case !(p.Accuracy >= 0 && p.Accuracy <= 1):
		return fmt.Errorf("accuracy %v is not within [0, 1]", p.Accuracy)
	case !(p.LabelRate >= 0 && p.LabelRate <= 1):
		return fmt.Errorf("label rate %v is not within [0, 1]", p.LabelRate)
	case !(p.CostMean >= 0) || !(p.CostSD >= 0) || math.IsInf(p.CostMean, 1) || math.IsInf(p.CostSD, 1):
		return fmt.Errorf("cost mean %v and sd %v must be non-negative and finite", p.CostMean, p.CostSD)
	case p.CostMean > 0 && !(p.CostCap > p.CostMean):
		return fmt.Errorf("cost cap %v must exceed the mean cost %v", p.CostCap, p.CostMean)
	}
	return nil
}

// Sampler draws outcomes from a profile. Build it once per profile with
// NewSampler; it holds no random state and is safe for concurrent use.
type Sampler struct {
	p                 Profile
	latMu, latSigma   float64
	costMu, costSigma float64
}

// NewSampler validates p and precomputes its distributions.
func NewSampler(p Profile) (*Sampler, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("traffic profile: %w", err)
	}
	s := &Sampler{p: p, latMu: math.Log(p.LatencyP50), latSigma: math.Log(p.LatencyP95/p.LatencyP50) / z95}
	if p.CostMean > 0 {
		s.costSigma = math.Sqrt(math.Log1p(p.CostSD * p.CostSD / (p.CostMean * p.CostMean)))
		s.costMu = math.Log(p.CostMean) - s.costSigma*s.costSigma/2
	}
	return s, nil
}

// MustSampler is NewSampler for profiles fixed in the program; it panics on
// an invalid profile.
func MustSampler(p Profile) *Sampler {
	s, err := NewSampler(p)
	if err != nil {
		panic(err)
	}
	return s
}

// Profile returns the sampler's profile.
func (s *Sampler) Profile() Profile { return s.p }

// Latency draws one latency in seconds.
func (s *Sampler) Latency(rng *rand.Rand) float64 {
	return math.Exp(s.latMu + s.latSigma*rng.NormFloat64())
}

// Error draws whether one review fails.
func (s *Sampler) Error(rng *rand.Rand) bool { return rng.Float64() < s.p.ErrorRate }

// Cost draws one review's cost in dollars, at most CostCap.
func (s *Sampler) Cost(rng *rand.Rand) float64 {
	if s.p.CostMean == 0 {
		return 0
	}
	return math.Min(s.p.CostCap, math.Exp(s.costMu+s.costSigma*rng.NormFloat64()))
}

// Observe draws one complete review outcome: error, latency, cost and, for
// a successful review, whether it was labelled and correct.
func (s *Sampler) Observe(rng *rand.Rand) window.Observation {
	o := window.Observation{
		Error:   s.Error(rng),
		Latency: seconds(s.Latency(rng)),
		CostUSD: s.Cost(rng),
	}
	if !o.Error && s.p.LabelRate > 0 && rng.Float64() < s.p.LabelRate {
		o.Labelled = true
		o.Correct = rng.Float64() < s.p.Accuracy
	}
	return o
}

// seconds converts seconds to a positive duration.
func seconds(x float64) time.Duration {
	return max(time.Nanosecond, time.Duration(x*float64(time.Second)))
}

// LatencyQuantile returns the profile's true latency quantile q in seconds.
func (s *Sampler) LatencyQuantile(q float64) float64 {
	return math.Exp(s.latMu + s.latSigma*NormalQuantile(q))
}

// LatencyCDF returns the true probability that a latency is at most x
// seconds.
func (s *Sampler) LatencyCDF(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return NormalCDF((math.Log(x) - s.latMu) / s.latSigma)
}

// NormalCDF is the standard normal distribution function.
func NormalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// NormalQuantile is the standard normal quantile function for p in (0, 1).
func NormalQuantile(p float64) float64 { return -math.Sqrt2 * math.Erfcinv(2*p) }

// Poisson draws a Poisson variate with the given mean: by inversion for
// small means and by Hörmann's transformed rejection (PTRS) above 10.
func Poisson(rng *rand.Rand, mean float64) int {
	switch {
	case !(mean > 0):
		return 0
	case mean < 10:
		// Inversion by sequential search.
		u := rng.Float64()
		p := math.Exp(-mean)
		k, cum := 0, p
		for u > cum && k < 1000 {
			k++
			p *= mean / float64(k)
			cum += p
		}
		return k
	}
	slam := math.Sqrt(mean)
	loglam := math.Log(mean)
	b := 0.931 + 2.53*slam
	a := -0.059 + 0.02483*b
	invAlpha := 1.1239 + 1.1328/(b-3.4)
	vr := 0.9277 - 3.6224/(b-2)
	for {
		u := rng.Float64() - 0.5
		v := rng.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + mean + 0.43)
		if us >= 0.07 && v <= vr {
			return int(k)
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(invAlpha)-math.Log(a/(us*us)+b) <= -mean+k*loglam-lg {
			return int(k)
		}
	}
}

// RNG returns a PCG generator for the stream named by seed and parts (for
// example a scenario and a run index). Distinct part lists give independent
// streams; the same list always gives the same stream.
func RNG(seed uint64, parts ...uint64) *rand.Rand {
	h := mix(seed ^ 0x9e3779b97f4a7c15)
	for _, p := range parts {
		h = mix(h ^ mix(p+0x632be59bd9b4e019))
	}
	return rand.New(rand.NewPCG(h, mix(h^0xd1b54a32d192ed03)))
}

// mix is the SplitMix64 finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

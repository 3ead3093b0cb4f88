package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tricyclehq/tricycle/bench/internal/traffic"
)

// costCap bounds one review's cost; the measurement hooks report it as
// Measured.CostMax (a configured cap, fixed before the data arrive).
const costCap = 1.0

// initialProduction is the first release: 1% errors, log-normal latency
// p50 0.8 s / p95 2 s, 91% accuracy on labelled reviews, 10% of reviews
// labelled (golden probes and feedback), $0.08 ± $0.03 per review.
var initialProduction = traffic.Profile{ErrorRate: 0.01, LatencyP50: 0.8, LatencyP95: 2, Accuracy: 0.91,
	LabelRate: 0.10, CostMean: 0.08, CostSD: 0.03, CostCap: costCap}

// Variant classes.
const (
	classBetter  = "better"
	classNeutral = "neutral"
	classWorse   = "worse"
	classInitial = "initial"
)

// effect is what a variant changes relative to the production release it is
// built on: factors on the share of labelled reviews it gets wrong (its miss
// rate, 1 - accuracy), on latency, on cost and on the error rate. Effects
// are relative, so improvements compound with diminishing returns in
// accuracy points.
type effect struct {
	miss, latency, cost, errorRate float64
}

// apply returns p changed by e.
func (e effect) apply(p traffic.Profile) traffic.Profile {
	p.Accuracy = math.Max(0, math.Min(1, 1-(1-p.Accuracy)*e.miss))
	p.LatencyP50 *= e.latency
	p.LatencyP95 *= e.latency
	p.CostMean *= e.cost
	p.CostSD *= e.cost
	p.ErrorRate = math.Min(1, p.ErrorRate*e.errorRate)
	return p
}

// variant is one candidate arriving during the year.
type variant struct {
	index   int
	name    string
	class   string
	arrival time.Time
	effect  effect
}

// drawEffect draws a class's effect (at the initial 91% accuracy a miss
// factor of 0.65 is +3.2 points, 0.90 is +0.9, 1.10 is −0.9 and 1.45 is
// −4.1):
//
//	better:  misses ×0.65–0.90, latency ×0.80–0.95, cost ×0.75–0.95, errors ×0.8–1.0
//	neutral: misses ×0.97–1.03, latency ×0.97–1.03, cost ×0.97–1.03, errors ×0.9–1.1
//	worse:   misses ×1.10–1.45, latency ×1.05–1.30, cost ×1.05–1.30, errors ×1.0–1.5
func drawEffect(rng *rand.Rand, class string) effect {
	u := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	switch class {
	case classBetter:
		return effect{miss: u(0.65, 0.90), latency: u(0.80, 0.95), cost: u(0.75, 0.95), errorRate: u(0.8, 1.0)}
	case classWorse:
		return effect{miss: u(1.10, 1.45), latency: u(1.05, 1.30), cost: u(1.05, 1.30), errorRate: u(1.0, 1.5)}
	}
	return effect{miss: u(0.97, 1.03), latency: u(0.97, 1.03), cost: u(0.97, 1.03), errorRate: u(0.9, 1.1)}
}

// drawVariants returns n variants, a quarter better, half neutral and a
// quarter worse (rounded), in a seeded random order, arriving one per
// n-th of the year at a random point within it.
func drawVariants(seed uint64, start time.Time, year time.Duration, n int) []variant {
	rng := traffic.RNG(seed, 100)
	better, worse := n/4, n/4
	classes := make([]string, 0, n)
	for i := range n {
		switch {
		case i < better:
			classes = append(classes, classBetter)
		case i < better+worse:
			classes = append(classes, classWorse)
		default:
			classes = append(classes, classNeutral)
		}
	}
	rng.Shuffle(len(classes), func(i, j int) { classes[i], classes[j] = classes[j], classes[i] })
	slot := year / time.Duration(n)
	out := make([]variant, n)
	for i := range out {
		at := start.Add(time.Duration(i)*slot + time.Duration(rng.Float64()*float64(slot))).Truncate(time.Hour)
		out[i] = variant{index: i, name: fmt.Sprintf("v%02d-%s", i+1, classes[i]), class: classes[i], arrival: at,
			effect: drawEffect(rng, classes[i])}
	}
	return out
}

// noise is one day's shared variation: provider-wide factors on latency
// and error rate that every version sees alike.
type noise struct{ latency, errorRate float64 }

// dayNoise draws day d's factors: log-normal with 5% spread on latency and
// 15% on the error rate.
func dayNoise(seed uint64, d int) noise {
	rng := traffic.RNG(seed, 200, uint64(d))
	return noise{latency: math.Exp(0.05 * rng.NormFloat64()), errorRate: math.Exp(0.15 * rng.NormFloat64())}
}

// withNoise applies a day's noise to a profile.
func (n noise) apply(p traffic.Profile) traffic.Profile {
	p.LatencyP50 *= n.latency
	p.LatencyP95 *= n.latency
	p.ErrorRate = math.Min(1, p.ErrorRate*n.errorRate)
	return p
}

// rate is the user request rate (per second) at t: a weekday profile
// peaking in the working day, weekends at 40%, scaled so that the weekly
// mean is mean.
type rate struct {
	mean  float64
	shape [7 * 24]float64 // relative rate per hour of the week (Monday 00:00 first)
}

func newRate(mean float64) rate {
	r := rate{mean: mean}
	var sum float64
	for h := range r.shape {
		day, hour := h/24, h%24
		v := 0.25
		if hour >= 6 && hour <= 22 {
			v += 1.5 * math.Sin(math.Pi*float64(hour-6)/16)
		}
		if day >= 5 {
			v *= 0.4
		}
		r.shape[h] = v
		sum += v
	}
	norm := float64(len(r.shape)) / sum
	for h := range r.shape {
		r.shape[h] *= norm
	}
	return r
}

// at returns the request rate per second at t.
func (r rate) at(t time.Time) float64 {
	wd := (int(t.Weekday()) + 6) % 7 // Monday = 0
	return r.mean * r.shape[wd*24+t.Hour()]
}

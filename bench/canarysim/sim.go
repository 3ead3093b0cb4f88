package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tricyclehq/tricycle/bench/internal/traffic"
	"github.com/tricyclehq/tricycle/internal/window"
)

// stableProfile is the stable release: 2% errors, log-normal latency with
// p50 0.8 s and p95 2 s.
var stableProfile = traffic.Profile{ErrorRate: 0.02, LatencyP50: 0.8, LatencyP95: 2}

// regression is how the canary differs from stable.
type regression struct {
	label string
	// errorRate is the canary's error rate; latencyFactor scales every
	// canary latency.
	errorRate, latencyFactor float64
	// kind is "errors", "latency" or "none".
	kind string
}

// regressions are the brief's regressions, plus none for the A/A runs.
var (
	regressions = []regression{
		{label: "errors 2%→5%", errorRate: 0.05, latencyFactor: 1, kind: "errors"},
		{label: "errors 2%→10%", errorRate: 0.10, latencyFactor: 1, kind: "errors"},
		{label: "errors 2%→20%", errorRate: 0.20, latencyFactor: 1, kind: "errors"},
		{label: "p95 +50%", errorRate: 0.02, latencyFactor: 1.5, kind: "latency"},
		{label: "p95 +100%", errorRate: 0.02, latencyFactor: 2, kind: "latency"},
	}
	noRegression = regression{label: "none (A/A)", errorRate: 0.02, latencyFactor: 1, kind: "none"}
)

// scenario is one traffic level, canary weight and regression.
type scenario struct {
	rps    float64
	weight float64
	reg    regression
}

func (s scenario) String() string {
	return fmt.Sprintf("%g rps, %g%% canary, %s", s.rps, 100*s.weight, s.reg.label)
}

// canaryProfile is the canary's profile under the scenario's regression.
func (s scenario) canaryProfile() traffic.Profile {
	p := stableProfile
	p.ErrorRate = s.reg.errorRate
	p.LatencyP50 *= s.reg.latencyFactor
	p.LatencyP95 *= s.reg.latencyFactor
	return p
}

// outcome is what one policy did in one run.
type outcome struct {
	// seconds and requests are the time and canary requests at rollback;
	// +Inf when the policy did not roll back within the cap.
	seconds, requests float64
}

// runResult holds every policy's outcome of one run, in policy order, and
// whether tricycle's last verdict blocked the phase (Pass false).
type runResult struct {
	outcomes      []outcome
	blockedAtStop bool
}

// policies returns fresh instances of the compared policies, in column order.
func policies() []policy {
	return []policy{
		newAnalysis(false),
		newAnalysis(true),
		&flagger{label: "Flagger defaults", interval: 60, threshold: 5, maxErrorRate: 0.01, maxP95: 3},
		&flagger{label: "Flagger, success ≥ 95%", interval: 60, threshold: 5, maxErrorRate: 0.05, maxP95: 3},
		newPeeking(10, 0.05),
	}
}

// policyNames lists the policies' names in column order.
func policyNames() []string {
	var out []string
	for _, p := range policies() {
		out = append(out, p.name())
	}
	return out
}

// simulate replays one seeded phase of at most capSeconds through every
// policy. Each second, Poisson(rps·weight) canary and Poisson(rps·(1-weight))
// stable requests arrive; then every policy ticks on the same counts.
func simulate(sc scenario, capSeconds int, seed uint64, run int) runResult {
	rng := traffic.RNG(seed, math.Float64bits(sc.rps), math.Float64bits(sc.weight),
		math.Float64bits(sc.reg.errorRate), math.Float64bits(sc.reg.latencyFactor), uint64(run))
	canary := traffic.MustSampler(sc.canaryProfile())
	stable := traffic.MustSampler(stableProfile)
	ps := policies()
	res := runResult{outcomes: make([]outcome, len(ps))}
	done := make([]bool, len(ps))
	for i := range res.outcomes {
		res.outcomes[i] = outcome{seconds: math.Inf(1), requests: math.Inf(1)}
	}
	var ph phase
	left := len(ps)
	for t := 1; t <= capSeconds && left > 0; t++ {
		slot := t % healthWindow
		ph.secReq[slot], ph.secErr[slot] = 0, 0
		for range traffic.Poisson(rng, sc.rps*sc.weight) {
			o := observation(canary, rng)
			ph.canary.Add(o)
			ph.minute.Add(o)
			ph.secReq[slot]++
			if o.Error {
				ph.secErr[slot]++
			}
		}
		for range traffic.Poisson(rng, sc.rps*(1-sc.weight)) {
			ph.stable.Add(observation(stable, rng))
		}
		for i, p := range ps {
			if done[i] || !p.tick(t, &ph) {
				continue
			}
			done[i] = true
			left--
			res.outcomes[i] = outcome{seconds: float64(t), requests: float64(ph.canary.Requests)}
		}
		if t%60 == 0 {
			ph.minute.Reset()
		}
	}
	if a, ok := ps[0].(*analysis); ok {
		res.blockedAtStop = !a.last.Pass
	}
	return res
}

// observation draws a request's error and latency (no labels, no cost).
func observation(s *traffic.Sampler, rng *rand.Rand) window.Observation {
	return window.Observation{Error: s.Error(rng), Latency: time.Duration(s.Latency(rng) * float64(time.Second))}
}

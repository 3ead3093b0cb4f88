package main

import (
	"github.com/tricyclehq/tricycle/bench/internal/traffic"
	"github.com/tricyclehq/tricycle/coordination/criteria"
	"github.com/tricyclehq/tricycle/coordination/decision"
)

// production is the profile of both variants in the A/A runs, and of the
// baseline in the power runs: 2% errors, p50 0.8 s / p95 2 s, accuracy 90%
// on labelled reviews (every successful review is labelled here), cost
// $0.08 ± $0.03.
var production = traffic.Profile{ErrorRate: 0.02, LatencyP50: 0.8, LatencyP95: 2, Accuracy: 0.90, LabelRate: 1,
	CostMean: 0.08, CostSD: 0.03, CostCap: costCap}

// aaCriteria have their thresholds at production's true values, so any
// PROMOTE or QUARANTINE is a false decision.
var aaCriteria = []criteria.Criterion{
	mustCriterion("accuracy", "> 90%"),
	mustCriterion("error_rate", "< 2%"),
	mustCriterion("latency_p95", "< 2s"),
	mustCriterion("cost_per_review", "< $0.08"),
}

// The methods compared under continuous looks, in column order.
const (
	mProduct          = iota // EvaluateSamples decides PROMOTE or QUARANTINE
	mProductCriterion        // the criterion's status within EvaluateSamples is decisive
	mSequential              // the criterion's confidence sequence at the whole alpha
	mPeeking                 // the fixed-horizon test at every look
	mFixedAtN                // the fixed-horizon test once, at N
	numMethods
)

// methodNames label the methods.
var methodNames = [numMethods]string{
	mProduct:          "tricycle decision (EvaluateSamples)",
	mProductCriterion: "criterion decisive inside EvaluateSamples",
	mSequential:       "confidence sequence, α = 5%",
	mPeeking:          "fixed-horizon test peeked every batch",
	mFixedAtN:         "fixed-horizon test once at N",
}

// aaRun is one A/A run: for each criterion and method, the sample count
// (requests) at the first false decision, or 0 for none.
type aaRun [][numMethods]int64

// simulateAA runs candidate and baseline, both drawn from production, for n
// requests each, looking every batch requests.
func simulateAA(seed uint64, run, n, batch int) aaRun {
	rng := traffic.RNG(seed, 1, uint64(run))
	s := traffic.MustSampler(production)
	cand := &stream{latLimit: 2}
	base := &stream{latLimit: 2}
	out := make(aaRun, len(aaCriteria))
	for i := 1; i <= n; i++ {
		cand.add(s.Observe(rng))
		base.add(s.Observe(rng))
		if i%batch != 0 && i != n {
			continue
		}
		for ci, c := range aaCriteria {
			first := &out[ci]
			note := func(m int, decisive bool) {
				if decisive && first[m] == 0 {
					first[m] = int64(i)
				}
			}
			if first[mProduct] == 0 || first[mProductCriterion] == 0 {
				d, st := product(c, cand, base)
				note(mProduct, d != decision.Hold)
				note(mProductCriterion, st.Decisive())
			}
			if first[mSequential] == 0 {
				note(mSequential, sequential(c, cand) != undecided)
			}
			if first[mPeeking] == 0 {
				note(mPeeking, fixedHorizon(c, cand) != undecided)
			}
			if i == n {
				note(mFixedAtN, fixedHorizon(c, cand) != undecided)
			}
		}
	}
	return out
}

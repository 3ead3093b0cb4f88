package main

import (
	"fmt"
	"math"

	"github.com/tricyclehq/tricycle/bench/internal/traffic"
	"github.com/tricyclehq/tricycle/coordination/criteria"
	"github.com/tricyclehq/tricycle/coordination/decision"
)

// power is the target power of the fixed-horizon designs.
const power = 0.80

// powerRow is a candidate better than the criterion's threshold by a
// multiple of the minimum detectable effect (MDE).
type powerRow struct {
	crit   criteria.Criterion
	effect float64 // multiple of the MDE
	cand   traffic.Profile
	// truth is the candidate's true value of the metric, for the report;
	// short is the same in a few characters, for plot labels.
	truth, short string
	// nFixed is the fixed-horizon sample size (in the criterion's own
	// samples) for 80% power at level alpha, two-sided.
	nFixed int64
}

// label is a short name for plots.
func (r powerRow) label() string {
	return fmt.Sprintf("%s %s (%g×)", r.crit.Metric, r.short, r.effect)
}

func (r powerRow) String() string {
	return fmt.Sprintf("%s %s, true %s (%g× MDE)", r.crit.Metric, r.crit.Expr(), r.truth, r.effect)
}

// proportionN is the one-sample fixed-horizon size for a two-sided test of
// p0 against p1 at level alpha with the given power.
func proportionN(p0, p1 float64) int64 {
	za := traffic.NormalQuantile(1 - alpha/2)
	zb := traffic.NormalQuantile(power)
	n := (za*math.Sqrt(p0*(1-p0)) + zb*math.Sqrt(p1*(1-p1))) / math.Abs(p1-p0)
	return int64(math.Ceil(n * n))
}

// meanN is the fixed-horizon size for a two-sided z-test of a mean shifted
// by delta with standard deviation sd.
func meanN(delta, sd float64) int64 {
	n := (traffic.NormalQuantile(1-alpha/2) + traffic.NormalQuantile(power)) * sd / delta
	return int64(math.Ceil(n * n))
}

// latencyP50For returns the median that, with production's latency
// spread, puts a share of latencies at or below limit seconds.
func latencyP50For(limit, share float64) float64 {
	sigma := math.Log(production.LatencyP95/production.LatencyP50) / traffic.NormalQuantile(0.95)
	return limit / math.Exp(sigma*traffic.NormalQuantile(share))
}

// powerRows builds the rows: MDEs of 2 points of accuracy at 90%, half a
// point of error rate at 2%, one point of the share of latencies under the
// p95 threshold (about 6% of p95), and 5% of the mean cost.
func powerRows() []powerRow {
	var rows []powerRow
	for _, k := range []float64{1, 2} {
		acc := production
		acc.Accuracy = 0.90 + k*0.02
		rows = append(rows, powerRow{crit: mustCriterion("accuracy", "> 90%"), effect: k, cand: acc,
			truth: fmt.Sprintf("%.0f%%", 100*acc.Accuracy), short: fmt.Sprintf("%.0f%%", 100*acc.Accuracy), nFixed: proportionN(0.90, acc.Accuracy)})
	}
	for _, k := range []float64{1, 2} {
		er := production
		er.ErrorRate = 0.02 - k*0.005
		rows = append(rows, powerRow{crit: mustCriterion("error_rate", "< 2%"), effect: k, cand: er,
			truth: fmt.Sprintf("%.1f%%", 100*er.ErrorRate), short: fmt.Sprintf("%.1f%%", 100*er.ErrorRate), nFixed: proportionN(0.02, er.ErrorRate)})
	}
	for _, k := range []float64{1, 2} {
		lat := production
		share := 0.95 + k*0.01
		lat.LatencyP50 = latencyP50For(2, share)
		lat.LatencyP95 = production.LatencyP95 * lat.LatencyP50 / production.LatencyP50
		rows = append(rows, powerRow{crit: mustCriterion("latency_p95", "< 2s"), effect: k, cand: lat,
			truth: fmt.Sprintf("%.2fs, %.0f%% under 2 s", lat.LatencyP95, 100*share), short: fmt.Sprintf("%.2fs", lat.LatencyP95), nFixed: proportionN(0.95, share)})
	}
	for _, k := range []float64{1, 2} {
		cost := production
		cost.CostMean = 0.08 * (1 - k*0.05)
		rows = append(rows, powerRow{crit: mustCriterion("cost_per_review", "< $0.08"), effect: k, cand: cost,
			truth: fmt.Sprintf("$%.3f", cost.CostMean), short: fmt.Sprintf("$%.3f", cost.CostMean), nFixed: meanN(0.08-cost.CostMean, production.CostSD)})
	}
	return rows
}

// powerRun is one run of a power row: samples (in the criterion's own
// units) until each method decided, 0 when it did not by the cap, and the
// direction of each decision.
type powerRun struct {
	seqN, productN       int64
	seqWrong, prodWrong  bool
	fixedPass, fixedDone bool
}

// simulatePower feeds the candidate and production side by side until both
// the confidence sequence and EvaluateSamples have decided or capRequests
// requests have been made, looking every batch requests; it also applies
// the fixed-horizon test once, when the criterion's sample count reaches
// nFixed.
func simulatePower(r powerRow, rowIndex int, seed uint64, run, batch, capRequests int) powerRun {
	rng := traffic.RNG(seed, 2, uint64(rowIndex), uint64(run))
	cs, bs := traffic.MustSampler(r.cand), traffic.MustSampler(production)
	cand := &stream{latLimit: 2}
	base := &stream{latLimit: 2}
	var out powerRun
	seqDone, prodDone := false, false
	for i := 1; i <= capRequests && !(seqDone && prodDone && out.fixedDone); i++ {
		cand.add(cs.Observe(rng))
		base.add(bs.Observe(rng))
		if !out.fixedDone && samples(r.crit, cand) >= r.nFixed {
			out.fixedDone = true
			out.fixedPass = fixedHorizon(r.crit, cand) == pass
		}
		if i%batch != 0 {
			continue
		}
		n := samples(r.crit, cand)
		if !seqDone {
			if v := sequential(r.crit, cand); v != undecided {
				seqDone, out.seqN, out.seqWrong = true, n, v == fail
			}
		}
		if !prodDone {
			if d, _ := product(r.crit, cand, base); d != decision.Hold {
				prodDone, out.productN, out.prodWrong = true, n, d == decision.Quarantine
			}
		}
	}
	return out
}

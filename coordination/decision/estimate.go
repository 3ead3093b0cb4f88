package decision

import (
	"fmt"
	"math"

	"github.com/tricyclehq/tricycle/internal/stats"
)

// estimate is a metric's point estimate and confidence sequence.
type estimate struct {
	value   float64
	iv      stats.Interval
	samples int64  // the candidate's sample size
	fewest  int64  // the smallest sample size involved (candidate or baseline)
	detail  string // sample sizes for notes, e.g. "n=1840"
	missing string // why there is no estimate; empty when there is one
}

// missingEstimate returns an estimate without data.
func missingEstimate(reason string) estimate { return estimate{missing: reason} }

// estimateMetric derives a metric and its (1-alpha) confidence sequence
// from the measurements:
//
//	accuracy = Correct/Labelled, precision = TP/(TP+FP), recall = TP/(TP+FN),
//	acceptance_rate = Accepted/Feedback, agreement = Agreed/Compared,
//	error_rate = Errors/Requests, latency_pXX = Latency.Quantile(XX/100),
//	cost_per_review = CostSum/Requests,
//	cost_reduction = 1 - candidate cost/baseline cost,
//	latency_reduction = 1 - candidate p95/baseline p95.
func estimateMetric(metric string, cand, base Measured, alpha float64) estimate {
	switch metric {
	case "accuracy":
		return proportionEstimate(cand.Correct, cand.Labelled, alpha, "labelled reviews")
	case "precision":
		return proportionEstimate(cand.TruePositives, cand.TruePositives+cand.FalsePositives, alpha, "positive findings")
	case "recall":
		return proportionEstimate(cand.TruePositives, cand.TruePositives+cand.FalseNegatives, alpha, "true positives or false negatives")
	case "acceptance_rate":
		return proportionEstimate(cand.Accepted, cand.Feedback, alpha, "findings with feedback")
	case "agreement":
		return proportionEstimate(cand.Agreed, cand.Compared, alpha, "requests compared with V2")
	case "error_rate":
		return proportionEstimate(cand.Errors, cand.Requests, alpha, "requests")
	case "latency_p50":
		return quantileEstimate(cand.Latency, 0.50, alpha)
	case "latency_p95":
		return quantileEstimate(cand.Latency, 0.95, alpha)
	case "latency_p99":
		return quantileEstimate(cand.Latency, 0.99, alpha)
	case "cost_per_review":
		return costEstimate(cand, alpha)
	case "cost_reduction":
		return reductionEstimate(costEstimate(cand, alpha/2), costEstimate(base, alpha/2))
	case "latency_reduction":
		return reductionEstimate(quantileEstimate(cand.Latency, 0.95, alpha/2), quantileEstimate(base.Latency, 0.95, alpha/2))
	}
	return missingEstimate(fmt.Sprintf("unknown metric %q", metric))
}

// countsProblem says what is wrong with k successes in n trials, or "".
func countsProblem(k, n int64, what string) string {
	switch {
	case n <= 0:
		return "no " + what
	case k < 0 || k > n:
		return fmt.Sprintf("inconsistent counts: %d of %d %s", k, n, what)
	}
	return ""
}

// proportionEstimate is the rate k/n with its beta-binomial sequence.
func proportionEstimate(k, n int64, alpha float64, what string) estimate {
	if reason := countsProblem(k, n, what); reason != "" {
		return missingEstimate(reason)
	}
	return estimate{
		value:   float64(k) / float64(n),
		iv:      stats.ProportionCS(k, n, alpha),
		samples: n,
		fewest:  n,
		detail:  fmt.Sprintf("n=%d", n),
	}
}

// quantileEstimate is the q-quantile of the latencies with its
// distribution-free sequence. Latencies are not negative, so the lower end
// is at least zero.
func quantileEstimate(lat Quantiler, q, alpha float64) estimate {
	if lat == nil || lat.Count() <= 0 {
		return missingEstimate("no latency data")
	}
	n := lat.Count()
	v := lat.Quantile(q)
	if math.IsNaN(v) || v < 0 {
		return missingEstimate(fmt.Sprintf("latency quantile %v is not a duration", v))
	}
	iv := stats.QuantileCS(q, n, lat.Quantile, alpha)
	iv.Low = math.Max(0, iv.Low)
	return estimate{value: v, iv: iv, samples: n, fewest: n, detail: fmt.Sprintf("n=%d", n)}
}

// costEstimate is the mean cost per review with its bounded-mean sequence
// over [0, CostMax].
func costEstimate(m Measured, alpha float64) estimate {
	if m.Requests <= 0 {
		return missingEstimate("no requests")
	}
	n := float64(m.Requests)
	mean := m.CostSum / n
	switch {
	case !(m.CostSum >= 0) || !(m.CostSumSq >= 0) || !(m.CostMax >= 0) ||
		math.IsInf(m.CostSum, 0) || math.IsInf(m.CostSumSq, 0) || math.IsInf(m.CostMax, 0):
		return missingEstimate("cost totals are negative or not finite")
	case mean > m.CostMax:
		return missingEstimate(fmt.Sprintf("mean cost $%g exceeds the per-review maximum $%g", mean, m.CostMax))
	}
	return estimate{
		value:   mean,
		iv:      stats.MeanCS(m.Requests, m.CostSum, m.CostSumSq, 0, m.CostMax, alpha),
		samples: m.Requests,
		fewest:  m.Requests,
		detail:  fmt.Sprintf("n=%d", m.Requests),
	}
}

// reductionEstimate is 1 - cand/base. Its interval combines the two
// sequences (each at half the test's alpha): it is conservative, valid
// whenever both hold.
func reductionEstimate(c, b estimate) estimate {
	switch {
	case c.missing != "":
		return missingEstimate("candidate: " + c.missing)
	case b.missing != "":
		return missingEstimate("baseline: " + b.missing)
	case !(b.value > 0):
		return missingEstimate("baseline value is zero, so a reduction is undefined")
	}
	iv := stats.Interval{Low: math.Inf(-1), High: 1 - c.iv.Low/b.iv.High}
	if b.iv.Low > 0 {
		iv.Low = 1 - c.iv.High/b.iv.Low
	}
	return estimate{
		value:   1 - c.value/b.value,
		iv:      iv,
		samples: c.samples,
		fewest:  min(c.samples, b.samples),
		detail:  fmt.Sprintf("n=%d, baseline n=%d", c.samples, b.samples),
	}
}

package decision

import (
	"fmt"
	"math"
	"strings"

	"github.com/tricyclehq/tricycle/coordination/criteria"
	"github.com/tricyclehq/tricycle/internal/stats"
)

// EvaluateSamples decides on measured samples of the candidate and of
// production (the baseline) on the same requests, at cfg.Confidence:
//
//   - PROMOTE when every criterion passes (its confidence sequence lies
//     wholly on the pass side of the threshold) and the candidate is shown
//     not worse than the baseline on error rate and p95 latency, within the
//     configured margins;
//   - QUARANTINE when any criterion fails (its sequence lies wholly on the
//     fail side);
//   - HOLD otherwise: a criterion is inconclusive (too few samples, or its
//     sequence contains the threshold), has no data ("missing"), or a
//     comparison with the baseline is not settled in the candidate's favour.
//
// The intervals are time-uniform confidence sequences (package stats), so
// calling EvaluateSamples again as data accumulate, and acting on the first
// decisive answer, keeps the chance of a wrong PROMOTE or QUARANTINE within
// 1 - Confidence. The error budget is split evenly (Bonferroni) over the
// criteria plus the two comparisons. An empty set of criteria holds.
//
// Zero fields of cfg, and fields SampleConfig.Validate would refuse, take
// their defaults; the explanation shows the values used.
func EvaluateSamples(cs []criteria.Criterion, cand, base Measured, cfg SampleConfig) Result {
	cfg = cfg.withDefaults()
	tests := len(cs) + 2
	alpha := (1 - cfg.Confidence) / float64(tests)
	results := make([]CriterionResult, 0, len(cs))
	for _, c := range sortedCriteria(cs) {
		results = append(results, judgeSamples(c, cand, base, alpha, cfg.MinSamples))
	}
	comparisons := []Comparison{
		compareErrorRate(cand, base, alpha, cfg),
		compareLatency(cand, base, alpha, cfg),
	}
	d := decide(results, comparisons)
	return Result{
		Decision: d,
		Explanation: Explanation{
			Mode:           ModeSamples,
			Confidence:     cfg.Confidence,
			TestConfidence: 1 - alpha,
			MinSamples:     cfg.MinSamples,
			Criteria:       results,
			NonInferiority: comparisons,
			Summary:        samplesSummary(d, results, comparisons, cfg, tests, 1-alpha),
		},
	}
}

// judgeSamples checks one criterion against its confidence sequence.
func judgeSamples(c criteria.Criterion, cand, base Measured, alpha float64, minSamples int64) CriterionResult {
	r := newResult(c)
	e := estimateMetric(c.Metric, cand, base, alpha)
	if e.missing != "" {
		r.Status = StatusMissing
		r.Note = fmt.Sprintf("no data (%s); needs %s", e.missing, c.Expr())
		return r
	}
	r.Observed = ptr(e.value)
	r.Samples = e.samples
	r.CILow, r.CIHigh = finitePtr(e.iv.Low), finitePtr(e.iv.High)
	level := percent(1 - alpha)
	interval := formatInterval(c, e.iv)
	if e.fewest < minSamples {
		r.Status = StatusInconclusive
		r.Note = fmt.Sprintf("%s vs %s: inconclusive with %s, at least %d needed",
			c.Format(e.value), c.Expr(), e.detail, minSamples)
		return r
	}
	r.Status = classify(c, e.iv)
	switch r.Status {
	case StatusPass:
		r.Pass = true
		r.Note = fmt.Sprintf("%s %s holds at %s confidence (%s, interval %s)",
			c.Format(e.value), c.Expr(), level, e.detail, interval)
	case StatusFail:
		r.Note = fmt.Sprintf("%s vs %s: fails at %s confidence (%s, interval %s)",
			c.Format(e.value), c.Expr(), level, e.detail, interval)
	default:
		r.Note = fmt.Sprintf("%s vs %s: inconclusive, the %s interval %s contains the threshold (%s)",
			c.Format(e.value), c.Expr(), level, interval, e.detail)
	}
	return r
}

// classify places an interval against a criterion: wholly on the pass side,
// wholly on the fail side, or neither.
func classify(c criteria.Criterion, iv stats.Interval) Status {
	t := c.Threshold
	var pass, fail bool
	switch c.Op {
	case criteria.OpGreater:
		pass, fail = iv.Low > t, iv.High <= t
	case criteria.OpGreaterEqual:
		pass, fail = iv.Low >= t, iv.High < t
	case criteria.OpLess:
		pass, fail = iv.High < t, iv.Low >= t
	case criteria.OpLessEqual:
		pass, fail = iv.High <= t, iv.Low > t
	}
	switch {
	case pass:
		return StatusPass
	case fail:
		return StatusFail
	}
	return StatusInconclusive
}

// formatInterval writes an interval in the criterion's unit.
func formatInterval(c criteria.Criterion, iv stats.Interval) string {
	end := func(v float64) string {
		switch {
		case math.IsInf(v, -1):
			return "-∞"
		case math.IsInf(v, 1):
			return "∞"
		}
		return c.Format(v)
	}
	return end(iv.Low) + "–" + end(iv.High)
}

// compareErrorRate checks that the candidate's error rate exceeds the
// baseline's by no more than the absolute margin.
func compareErrorRate(cand, base Measured, alpha float64, cfg SampleConfig) Comparison {
	c := Comparison{
		Metric:           "error_rate",
		Margin:           cfg.ErrorRateMargin,
		CandidateSamples: cand.Requests,
		BaselineSamples:  base.Requests,
	}
	if reason := countsProblem(cand.Errors, cand.Requests, "candidate requests"); reason != "" {
		c.Status, c.Note = StatusMissing, "no data ("+reason+")"
		return c
	}
	if reason := countsProblem(base.Errors, base.Requests, "baseline requests"); reason != "" {
		c.Status, c.Note = StatusMissing, "no data ("+reason+")"
		return c
	}
	c.Candidate = float64(cand.Errors) / float64(cand.Requests)
	c.Baseline = float64(base.Errors) / float64(base.Requests)
	iv := stats.DiffProportionCS(cand.Errors, cand.Requests, base.Errors, base.Requests, alpha)
	c.CILow, c.CIHigh = finitePtr(iv.Low), finitePtr(iv.High)
	head := fmt.Sprintf("error rate %s vs V2 %s", percent(c.Candidate), percent(c.Baseline))
	diff := fmt.Sprintf("difference interval %s to %s points", points(iv.Low), points(iv.High))
	return settle(c, iv, min(cand.Requests, base.Requests), alpha, cfg.MinSamples, head, diff,
		strings.TrimSuffix(percent(c.Margin), "%")+" points higher")
}

// compareLatency checks that the candidate's p95 latency exceeds the
// baseline's by no more than the relative margin. The ratio's interval
// combines a sequence for each p95 at half the test's alpha.
func compareLatency(cand, base Measured, alpha float64, cfg SampleConfig) Comparison {
	c := Comparison{Metric: "latency_p95", Margin: cfg.LatencyMargin}
	ce, be := quantileEstimate(cand.Latency, 0.95, alpha/2), quantileEstimate(base.Latency, 0.95, alpha/2)
	c.CandidateSamples, c.BaselineSamples = ce.samples, be.samples
	switch {
	case ce.missing != "":
		c.Status, c.Note = StatusMissing, "no data (candidate: "+ce.missing+")"
		return c
	case be.missing != "":
		c.Status, c.Note = StatusMissing, "no data (baseline: "+be.missing+")"
		return c
	}
	c.Candidate, c.Baseline = ce.value, be.value
	iv := stats.Interval{Low: ce.iv.Low/be.iv.High - 1, High: math.Inf(1)}
	if be.iv.Low > 0 {
		iv.High = ce.iv.High/be.iv.Low - 1
	}
	c.CILow, c.CIHigh = finitePtr(iv.Low), finitePtr(iv.High)
	head := fmt.Sprintf("p95 latency %s vs V2 %s", seconds(c.Candidate), seconds(c.Baseline))
	diff := fmt.Sprintf("relative difference interval %s to %s", signedPercent(iv.Low), signedPercent(iv.High))
	return settle(c, iv, min(ce.samples, be.samples), alpha, cfg.MinSamples, head, diff,
		percent(c.Margin)+" slower")
}

// settle sets a comparison's status and note from the interval on the
// difference (candidate worse is positive).
func settle(c Comparison, iv stats.Interval, fewest int64, alpha float64, minSamples int64, head, diff, margin string) Comparison {
	level := percent(1 - alpha)
	switch {
	case fewest < minSamples:
		c.Status = StatusInconclusive
		c.Note = fmt.Sprintf("%s: inconclusive with %d samples, at least %d needed", head, fewest, minSamples)
	case iv.High <= c.Margin:
		c.Status = StatusPass
		c.Note = fmt.Sprintf("%s: at most %s at %s confidence (%s)", head, margin, level, diff)
	case iv.Low > c.Margin:
		c.Status = StatusFail
		c.Note = fmt.Sprintf("%s: more than %s at %s confidence (%s)", head, margin, level, diff)
	default:
		c.Status = StatusInconclusive
		c.Note = fmt.Sprintf("%s: not yet shown to be at most %s at %s confidence (%s)", head, margin, level, diff)
	}
	return c
}

// samplesSummary explains a samples-mode decision in a sentence or two.
func samplesSummary(d Decision, results []CriterionResult, comparisons []Comparison, cfg SampleConfig, tests int, testLevel float64) string {
	if len(results) == 0 {
		return "There are no criteria, so there is nothing to judge; holding."
	}
	switch d {
	case Promote:
		return fmt.Sprintf("All %s at %s confidence (each of the %d tests at %s), and the candidate is not worse than V2 on error rate or p95 latency.",
			countNoun(len(results), "criterion passes", "criteria pass"), percent(cfg.Confidence), tests, percent(testLevel))
	case Quarantine:
		failed := filter(results, StatusFail)
		return fmt.Sprintf("Quarantine: %s %s at %s confidence (%s).",
			joinMetrics(failed), failFails(len(failed)), percent(cfg.Confidence), joinNotes(failed))
	}
	var parts []string
	if pending := filter(results, StatusInconclusive); len(pending) > 0 {
		parts = append(parts, fmt.Sprintf("%s %s inconclusive", joinMetrics(pending), isAre(len(pending))))
	}
	if missing := filter(results, StatusMissing); len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("%s %s no data", joinMetrics(missing), hasHave(len(missing))))
	}
	var worse, unsettled []string
	for _, c := range comparisons {
		switch c.Status {
		case StatusFail:
			worse = append(worse, c.Metric)
		case StatusInconclusive, StatusMissing:
			unsettled = append(unsettled, c.Metric)
		}
	}
	if len(worse) > 0 {
		parts = append(parts, "the candidate is worse than V2 beyond the margin on "+joinWords(worse))
	}
	if len(unsettled) > 0 {
		parts = append(parts, "the candidate is not yet shown to be no worse than V2 on "+joinWords(unsettled))
	}
	return "Hold: " + joinClauses(parts) + "."
}

func failFails(n int) string {
	if n == 1 {
		return "fails"
	}
	return "fail"
}

// points writes an absolute difference of proportions in percentage points.
func points(x float64) string {
	return strings.TrimSuffix(signedPercent(x), "%")
}

// signedPercent writes a fraction as a signed percentage: "+8%", "-5%".
func signedPercent(x float64) string {
	switch {
	case math.IsInf(x, 1):
		return "+∞"
	case math.IsInf(x, -1):
		return "-∞"
	case x > 0:
		return "+" + percent(x)
	}
	return percent(x)
}

// seconds writes a latency in seconds.
func seconds(v float64) string {
	return criteria.Criterion{Unit: criteria.UnitSeconds}.Format(v)
}

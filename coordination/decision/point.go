package decision

import (
	"fmt"
	"math"

	"github.com/tricyclehq/tricycle/coordination/criteria"
)

// EvaluatePoint decides on metrics measured elsewhere (one value per
// metric, in base units): every criterion met → PROMOTE; a criterion missed
// by more than tolerance (a fraction of its threshold) → QUARANTINE;
// otherwise (a near miss, or a criterion without a finite value) → HOLD. An
// empty set of criteria holds, with a summary saying there is nothing to
// judge.
//
// A tolerance of zero, or one that is negative or not finite, selects
// DefaultTolerance; Explanation.Tolerance shows the value used.
func EvaluatePoint(cs []criteria.Criterion, metrics map[string]float64, tolerance float64) Result {
	if !(tolerance > 0) || math.IsInf(tolerance, 0) {
		tolerance = DefaultTolerance
	}
	results := make([]CriterionResult, 0, len(cs))
	for _, c := range sortedCriteria(cs) {
		results = append(results, judgePoint(c, metrics, tolerance))
	}
	d := decide(results, nil)
	return Result{
		Decision: d,
		Explanation: Explanation{
			Mode:      ModePoint,
			Tolerance: tolerance,
			Criteria:  results,
			Summary:   pointSummary(d, results, tolerance),
		},
	}
}

// judgePoint checks one criterion against a reported value.
func judgePoint(c criteria.Criterion, metrics map[string]float64, tolerance float64) CriterionResult {
	r := newResult(c)
	v, ok := metrics[c.Metric]
	switch {
	case !ok:
		r.Status = StatusMissing
		r.Note = fmt.Sprintf("no value reported; needs %s", c.Expr())
		return r
	case math.IsNaN(v) || math.IsInf(v, 0):
		r.Status = StatusMissing
		r.Note = fmt.Sprintf("reported value %v is not a finite number; needs %s", v, c.Expr())
		return r
	}
	r.Observed = ptr(v)
	if c.Met(v) {
		r.Status, r.Pass = StatusPass, true
		r.Note = fmt.Sprintf("%s %s: met", c.Format(v), c.Expr())
		return r
	}
	miss := math.Abs(v - c.Threshold)
	allowed := tolerance * math.Abs(c.Threshold)
	if miss <= allowed {
		r.Status = StatusNearMiss
	} else {
		r.Status = StatusFail
	}
	if c.Threshold == 0 {
		r.Note = fmt.Sprintf("%s vs %s: missed by %s; a zero threshold leaves no tolerance",
			c.Format(v), c.Expr(), c.Format(miss))
		return r
	}
	within := "within"
	if r.Status == StatusFail {
		within = "beyond"
	}
	r.Note = fmt.Sprintf("%s vs %s: missed by %s of the threshold, %s the %s tolerance",
		c.Format(v), c.Expr(), percent(miss/math.Abs(c.Threshold)), within, percent(tolerance))
	return r
}

// pointSummary explains a point-mode decision in a sentence or two.
func pointSummary(d Decision, results []CriterionResult, tolerance float64) string {
	if len(results) == 0 {
		return "There are no criteria, so there is nothing to judge; holding."
	}
	switch d {
	case Promote:
		return fmt.Sprintf("All %s met.", countNoun(len(results), "criterion is", "criteria are"))
	case Quarantine:
		failed := filter(results, StatusFail)
		return fmt.Sprintf("Quarantine: %s missed by more than the %s tolerance (%s).",
			joinMetrics(failed), percent(tolerance), joinNotes(failed))
	}
	var parts []string
	if near := filter(results, StatusNearMiss); len(near) > 0 {
		parts = append(parts, fmt.Sprintf("%s %s a near miss within the %s tolerance",
			joinMetrics(near), isAre(len(near)), percent(tolerance)))
	}
	if missing := filter(results, StatusMissing); len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("%s %s no value", joinMetrics(missing), hasHave(len(missing))))
	}
	return "Hold: " + joinClauses(parts) + "."
}

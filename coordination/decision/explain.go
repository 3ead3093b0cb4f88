package decision

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tricyclehq/tricycle/coordination/criteria"
)

// decide turns the statuses into a decision: any failed criterion
// quarantines; every criterion and comparison passing promotes; anything
// else, including no criteria at all, holds.
func decide(results []CriterionResult, comparisons []Comparison) Decision {
	for _, r := range results {
		if r.Status == StatusFail {
			return Quarantine
		}
	}
	if len(results) == 0 {
		return Hold
	}
	for _, r := range results {
		if r.Status != StatusPass {
			return Hold
		}
	}
	for _, c := range comparisons {
		if c.Status != StatusPass {
			return Hold
		}
	}
	return Promote
}

// sortedCriteria returns a copy of cs sorted by metric, then by text.
func sortedCriteria(cs []criteria.Criterion) []criteria.Criterion {
	out := slices.Clone(cs)
	slices.SortStableFunc(out, func(a, b criteria.Criterion) int {
		return cmp.Or(strings.Compare(a.Metric, b.Metric), strings.Compare(a.String(), b.String()))
	})
	return out
}

// newResult starts the result for a criterion, without an outcome.
func newResult(c criteria.Criterion) CriterionResult {
	return CriterionResult{Metric: c.Metric, Criterion: c.String(), Op: c.Op, Threshold: c.Threshold}
}

// ptr returns a pointer to v.
func ptr(v float64) *float64 { return &v }

// finitePtr returns a pointer to v, or nil when v is infinite or NaN.
func finitePtr(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}

// percent writes a fraction as a percentage with at most two decimals:
// 0.05 as "5%", 0.991666 as "99.17%".
func percent(x float64) string {
	s := strconv.FormatFloat(100*x, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

// filter returns the results with the given status.
func filter(results []CriterionResult, s Status) []CriterionResult {
	var out []CriterionResult
	for _, r := range results {
		if r.Status == s {
			out = append(out, r)
		}
	}
	return out
}

// joinWords joins words as "a", "a and b", "a, b and c".
func joinWords(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// joinMetrics names the results' metrics.
func joinMetrics(results []CriterionResult) string {
	names := make([]string, len(results))
	for i, r := range results {
		names[i] = r.Metric
	}
	return joinWords(names)
}

// joinNotes joins the results' notes with semicolons.
func joinNotes(results []CriterionResult) string {
	notes := make([]string, len(results))
	for i, r := range results {
		notes[i] = r.Note
	}
	return strings.Join(notes, "; ")
}

// joinClauses joins clauses with semicolons.
func joinClauses(parts []string) string { return strings.Join(parts, "; ") }

// countNoun writes "1 criterion is" or "3 criteria are".
func countNoun(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func hasHave(n int) string {
	if n == 1 {
		return "has"
	}
	return "have"
}

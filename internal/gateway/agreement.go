package gateway

import "github.com/tricyclehq/tricycle/internal/review"

// AgreementThreshold is the Jaccard similarity at or above which a shadow
// result counts as agreeing with V2.
const AgreementThreshold = 0.5

// findingKey identifies a finding for agreement: its file, line and category.
// Severity, rule and wording are ignored, so two reviewers that flag the same
// problem on the same line in different words agree.
type findingKey struct {
	file     string
	line     int
	category string
}

// Agreement returns the Jaccard similarity of two sets of findings, each
// reduced to its (file, line, category) keys: |A ∩ B| / |A ∪ B|. Two empty
// sets agree fully (1): both reviewers found the change clean.
func Agreement(a, b []review.Finding) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	set := make(map[findingKey]uint8, len(a)+len(b))
	for _, f := range a {
		set[findingKey{f.File, f.Line, f.Category}] |= 1
	}
	for _, f := range b {
		set[findingKey{f.File, f.Line, f.Category}] |= 2
	}
	both := 0
	for _, v := range set {
		if v == 3 {
			both++
		}
	}
	return float64(both) / float64(len(set))
}

// Agrees reports whether a and b agree: Agreement(a, b) >= AgreementThreshold.
func Agrees(a, b []review.Finding) bool { return Agreement(a, b) >= AgreementThreshold }

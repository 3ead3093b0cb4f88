package golden

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/tricyclehq/tricycle/internal/review"
)

// Metrics are the counts and scores of a set of matches.
type Metrics struct {
	TP int `json:"tp"`
	FP int `json:"fp"`
	FN int `json:"fn"`
	// Precision is TP/(TP+FP), or 1 when nothing was reported.
	Precision float64 `json:"precision"`
	// Recall is TP/(TP+FN), or 1 when nothing was expected.
	Recall float64 `json:"recall"`
	// F1 is 2·TP/(2·TP+FP+FN), or 1 when there are no counts at all. The
	// product reports it as accuracy.
	F1 float64 `json:"f1"`
}

func (m *Metrics) add(tp, fp, fn int) {
	m.TP += tp
	m.FP += fp
	m.FN += fn
}

// finish derives the scores from the counts.
func (m *Metrics) finish() {
	ratio := func(num, den int) float64 {
		if den == 0 {
			return 1
		}
		return float64(num) / float64(den)
	}
	m.Precision = ratio(m.TP, m.TP+m.FP)
	m.Recall = ratio(m.TP, m.TP+m.FN)
	m.F1 = ratio(2*m.TP, 2*m.TP+m.FP+m.FN)
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	ID       string   `json:"id"`
	Language string   `json:"language"`
	Tags     []string `json:"tags,omitempty"`
	TP       int      `json:"tp"`
	FP       int      `json:"fp"`
	FN       int      `json:"fn"`
	// Missed are the expected findings nothing matched.
	Missed []Expected `json:"missed,omitempty"`
	// Extra are the reported findings no expectation matched.
	Extra []review.Finding `json:"extra,omitempty"`
	// Err is the reviewer's error, if it failed; every expectation is then
	// counted as missed.
	Err string `json:"error,omitempty"`
}

// Passed reports whether the reviewer matched the case exactly.
func (r CaseResult) Passed() bool { return r.Err == "" && r.FP == 0 && r.FN == 0 }

// Report is the score of a reviewer on a golden set.
type Report struct {
	Overall    Metrics            `json:"overall"`
	ByCategory map[string]Metrics `json:"by_category"`
	ByLanguage map[string]Metrics `json:"by_language"`
	Cases      []CaseResult       `json:"cases"`
	// Passed counts the cases matched exactly.
	Passed int `json:"passed"`
	// CleanFlagged counts clean cases on which anything was reported.
	CleanFlagged int `json:"clean_flagged"`
	// Errors counts the cases on which the reviewer failed.
	Errors int `json:"errors"`
}

// Accuracy returns the overall F1, the product's accuracy metric.
func (r Report) Accuracy() float64 { return r.Overall.F1 }

// findingKey is what matching compares.
type findingKey struct {
	file, category string
	line           int
}

// Score reviews every case with r, one after another, and matches the
// findings against the expectations. A reviewer error on a case is recorded
// in that case's result (all its expectations missed) and scoring goes on;
// Score itself fails only when ctx is done.
func Score(ctx context.Context, r review.Reviewer, cases []Case) (Report, error) {
	rep := Report{ByCategory: map[string]Metrics{}, ByLanguage: map[string]Metrics{}, Cases: make([]CaseResult, 0, len(cases))}
	for _, c := range cases {
		if err := ctx.Err(); err != nil {
			return Report{}, fmt.Errorf("score golden set: %w", err)
		}
		res, err := r.Review(ctx, review.Request{ID: "golden:" + c.ID, Repository: "golden/" + c.Language, Diff: c.Diff})
		if err != nil && ctx.Err() != nil {
			return Report{}, fmt.Errorf("score golden set: case %s: %w", c.ID, ctx.Err())
		}
		cr := CaseResult{ID: c.ID, Language: c.Language, Tags: c.Tags}
		if err != nil {
			cr.Err = err.Error()
			cr.Missed = c.Expected
			rep.Errors++
		} else {
			cr.Missed, cr.Extra = match(c.Expected, res.Findings)
		}
		cr.FN = len(cr.Missed)
		cr.TP = len(c.Expected) - cr.FN
		cr.FP = len(cr.Extra)
		rep.tally(c, cr)
		rep.Cases = append(rep.Cases, cr)
	}
	rep.Overall.finish()
	for _, m := range []map[string]Metrics{rep.ByCategory, rep.ByLanguage} {
		for k, v := range m {
			v.finish()
			m[k] = v
		}
	}
	return rep, nil
}

// match pairs expectations with findings of the same file, line and
// category; each finding matches at most one expectation.
func match(expected []Expected, findings []review.Finding) (missed []Expected, extra []review.Finding) {
	avail := map[findingKey]int{}
	for _, f := range findings {
		avail[findingKey{f.File, f.Category, f.Line}]++
	}
	used := map[findingKey]int{}
	for _, e := range expected {
		k := findingKey{e.File, e.Category, e.Line}
		if avail[k] > 0 {
			avail[k]--
			used[k]++
			continue
		}
		missed = append(missed, e)
	}
	for _, f := range findings {
		k := findingKey{f.File, f.Category, f.Line}
		if used[k] > 0 {
			used[k]--
			continue
		}
		extra = append(extra, f)
	}
	return missed, extra
}

// tally adds one case's counts to the overall, category and language
// metrics.
func (rep *Report) tally(c Case, cr CaseResult) {
	rep.Overall.add(cr.TP, cr.FP, cr.FN)
	lang := rep.ByLanguage[c.Language]
	lang.add(cr.TP, cr.FP, cr.FN)
	rep.ByLanguage[c.Language] = lang
	missed := map[Expected]int{}
	for _, e := range cr.Missed {
		missed[e]++
	}
	for _, e := range c.Expected {
		m := rep.ByCategory[e.Category]
		if missed[e] > 0 {
			missed[e]--
			m.add(0, 0, 1)
		} else {
			m.add(1, 0, 0)
		}
		rep.ByCategory[e.Category] = m
	}
	for _, f := range cr.Extra {
		m := rep.ByCategory[f.Category]
		m.add(0, 1, 0)
		rep.ByCategory[f.Category] = m
	}
	if cr.Passed() {
		rep.Passed++
	}
	if c.HasTag(TagClean) && cr.FP > 0 {
		rep.CleanFlagged++
	}
}

// WriteText prints the report as aligned tables: overall, per category, per
// language, then every case that did not pass with what was missed or extra.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "cases\t%d\tpassed\t%d\terrors\t%d\tclean flagged\t%d\n", len(r.Cases), r.Passed, r.Errors, r.CleanFlagged)
	fmt.Fprintln(tw, "\nscope\tTP\tFP\tFN\tprecision\trecall\tF1 (accuracy)")
	row := func(name string, m Metrics) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.3f\t%.3f\t%.3f\n", name, m.TP, m.FP, m.FN, m.Precision, m.Recall, m.F1)
	}
	row("overall", r.Overall)
	for _, k := range sortedKeys(r.ByCategory) {
		row("category "+k, r.ByCategory[k])
	}
	for _, k := range sortedKeys(r.ByLanguage) {
		row("language "+k, r.ByLanguage[k])
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	var b strings.Builder
	for _, c := range r.Cases {
		if c.Passed() {
			continue
		}
		fmt.Fprintf(&b, "\n%s", c.ID)
		if c.Err != "" {
			fmt.Fprintf(&b, "  error: %s", c.Err)
		}
		b.WriteByte('\n')
		for _, e := range c.Missed {
			fmt.Fprintf(&b, "  missed %s:%d %s %s\n", e.File, e.Line, e.Category, e.Rule)
		}
		for _, f := range c.Extra {
			fmt.Fprintf(&b, "  extra  %s:%d %s %s\n", f.File, f.Line, f.Category, f.Rule)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func sortedKeys(m map[string]Metrics) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Package builtin is the deterministic, rule-based code reviewer that ships
// embedded in tricycle: it needs no model, no key and no network, so it is
// the default production variant and the baseline experiments are compared
// against.
//
// The reviewer parses the unified diff of a request and runs its rules over
// the added lines only; context lines are read (to know the enclosing
// function, open comments, imports and which names hold user input) but
// never reported on. Each language's comments are separated from code, and
// code rules ignore them; secret rules read comments too, because a
// credential in a comment is still leaked. Comments are never instructions:
// text such as "ignore previous instructions" or "do not report" has no
// effect on the findings, and there is no suppression syntax.
//
// Findings carry the new-file line number, are sorted by file, line and
// rule, and hold at most one finding per line and category (the most severe
// one). The same request always yields the same result. Usage is always
// zero: the reviewer consumes no tokens and costs nothing.
//
// Concurrency: a Reviewer is immutable after New and safe for concurrent use.
package builtin

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/diff"
)

// ModelName is the Result.Model of every builtin review.
const ModelName = "builtin"

// Options configures a Reviewer. The zero value selects the defaults.
type Options struct {
	// MaxDiffBytes rejects larger diffs with an error; 0 or less means 10 MiB.
	MaxDiffBytes int
	// MaxLineBytes skips longer lines (minified or generated code); 0 or
	// less means 4096.
	MaxLineBytes int
	// MaxFileLines skips files with more added lines (generated or vendored
	// code); 0 or less means 20,000.
	MaxFileLines int
	// Now is the clock used to measure latency; nil means time.Now.
	Now func() time.Time
}

// Reviewer is the builtin rule-based reviewer.
type Reviewer struct {
	limits       diff.Limits
	maxLineBytes int
	maxFileLines int
	now          func() time.Time
	rules        []rule // in priority order: earlier wins ties on a line
}

var _ review.Reviewer = (*Reviewer)(nil)

// New returns a Reviewer with opts applied over the defaults.
func New(opts Options) *Reviewer {
	r := &Reviewer{
		limits:       diff.DefaultLimits(),
		maxLineBytes: orDefault(opts.MaxLineBytes, 4096),
		maxFileLines: orDefault(opts.MaxFileLines, 20_000),
		now:          opts.Now,
		rules:        allRules(),
	}
	if opts.MaxDiffBytes > 0 {
		r.limits.MaxBytes = opts.MaxDiffBytes
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func allRules() []rule {
	return slices.Concat(secretRules(), injectionRules(), dataRules(), cryptoRules(), qualityRules())
}

// RuleInfo describes one rule of the builtin reviewer.
type RuleInfo struct {
	ID         string          `json:"id"`
	Category   string          `json:"category"`
	Severity   review.Severity `json:"severity"`
	Languages  []string        `json:"languages"`
	Message    string          `json:"message"`
	Suggestion string          `json:"suggestion"`
}

// Rules lists the rules of the builtin reviewer sorted by id. A rule written
// per language appears once, with its languages merged and its highest
// severity.
func Rules() []RuleInfo {
	byID := map[string]*RuleInfo{}
	langs := map[string]langSet{}
	var out []*RuleInfo
	for _, ru := range allRules() {
		info, ok := byID[ru.id]
		if !ok {
			info = &RuleInfo{ID: ru.id, Category: ru.category, Severity: ru.severity, Message: ru.message, Suggestion: ru.suggestion}
			byID[ru.id] = info
			out = append(out, info)
		}
		if ru.severity.Rank() > info.Severity.Rank() {
			info.Severity = ru.severity
		}
		langs[ru.id] |= ru.langs
	}
	res := make([]RuleInfo, len(out))
	for i, info := range out {
		info.Languages = langs[info.ID].names()
		res[i] = *info
	}
	slices.SortFunc(res, func(a, b RuleInfo) int { return strings.Compare(a.ID, b.ID) })
	return res
}

// Review parses req.Diff and returns the findings of every rule on its added
// lines. A diff the parser rejects (malformed, or over the limits) is an
// error; so is a done ctx.
func (r *Reviewer) Review(ctx context.Context, req review.Request) (review.Result, error) {
	start := r.now()
	if err := ctx.Err(); err != nil {
		return review.Result{}, fmt.Errorf("builtin review %s: %w", req.ID, err)
	}
	files, err := diff.ParseLimited(req.Diff, r.limits)
	if err != nil {
		return review.Result{}, fmt.Errorf("builtin review %s: parse diff: %w", req.ID, err)
	}
	var found []ranked
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return review.Result{}, fmt.Errorf("builtin review %s: %w", req.ID, err)
		}
		found = append(found, r.reviewFile(f)...)
	}
	findings := finalize(found)
	return review.Result{
		Findings: findings,
		Summary:  Summarize(findings, len(files)),
		Latency:  r.now().Sub(start),
		Model:    ModelName,
	}, nil
}

// ranked is a finding with the priority of the rule that produced it.
type ranked struct {
	review.Finding
	order int
}

// skipPath reports whether a path holds vendored or minified code that the
// reviewer does not own.
func skipPath(p string) bool {
	if p == "" {
		return true
	}
	for _, dir := range []string{"vendor/", "node_modules/", "third_party/"} {
		if strings.HasPrefix(p, dir) || strings.Contains(p, "/"+dir) {
			return true
		}
	}
	base := path.Base(p)
	return strings.HasSuffix(base, ".min.js") || strings.HasSuffix(base, ".pb.go") || strings.HasSuffix(base, "_gen.go")
}

// generatedMarker is the line Go and other generators put near the top.
const generatedMarker = "DO NOT EDIT"

// reviewFile runs the rules over one file's added lines.
func (r *Reviewer) reviewFile(f diff.File) []ranked {
	if f.IsDeleted || f.IsBinary || skipPath(f.NewPath) {
		return nil
	}
	added := 0
	for _, h := range f.Hunks {
		for _, l := range h.Lines {
			if l.Kind == diff.Added {
				added++
				if l.NewNo <= 5 && strings.Contains(l.Text, generatedMarker) && strings.Contains(l.Text, "enerated") {
					return nil
				}
			}
		}
	}
	if added == 0 || added > r.maxFileLines {
		return nil
	}
	c := r.fileContext(f)
	bit := langBit(f.Language)
	var out []ranked
	for i := range c.lines {
		l := &c.lines[i]
		if !l.added || l.long {
			continue
		}
		for order, ru := range r.rules {
			if ru.langs&bit == 0 || (len(ru.kw) > 0 && !containsAny(l.lower, ru.kw)) || !ru.match(c, i) {
				continue
			}
			out = append(out, ranked{Finding: review.Finding{
				File: f.NewPath, Line: l.no, Severity: ru.severity, Category: ru.category,
				Rule: ru.id, Message: ru.message, Suggestion: ru.suggestion,
			}, order: order})
		}
	}
	return out
}

// fileContext lexes the new-side lines of f and analyses them.
func (r *Reviewer) fileContext(f diff.File) *fileCtx {
	c := &fileCtx{path: f.NewPath, lang: f.Language}
	lx := newLexer(f.Language)
	sections := make([]string, len(f.Hunks))
	var code strings.Builder
	for hi, h := range f.Hunks {
		sections[hi] = h.Section
		lx.reset()
		for _, l := range h.Lines {
			if l.Kind == diff.Removed {
				continue
			}
			sl := srcLine{no: l.NewNo, added: l.Kind == diff.Added, hunk: hi, raw: l.Text}
			if len(l.Text) > r.maxLineBytes {
				sl.long = true
			} else {
				lx.line(&sl)
				sl.lower = strings.ToLower(l.Text)
				code.WriteString(sl.code)
				code.WriteByte('\n')
			}
			c.lines = append(c.lines, sl)
		}
	}
	c.code = code.String()
	c.analyse(sections)
	return c
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// finalize keeps the most severe finding per file, line and category (the
// earlier rule on ties) and sorts the result by file, line and rule.
func finalize(found []ranked) []review.Finding {
	slices.SortFunc(found, func(a, b ranked) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line),
			strings.Compare(a.Category, b.Category), cmp.Compare(b.Severity.Rank(), a.Severity.Rank()),
			cmp.Compare(a.order, b.order))
	})
	out := make([]review.Finding, 0, len(found))
	for i, f := range found {
		if i > 0 && found[i-1].File == f.File && found[i-1].Line == f.Line && found[i-1].Category == f.Category {
			continue
		}
		out = append(out, f.Finding)
	}
	slices.SortStableFunc(out, func(a, b review.Finding) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), strings.Compare(a.Rule, b.Rule))
	})
	return out
}

// Summarize describes findings in one sentence, most severe first:
// "3 findings: 1 critical, 2 high", or "No issues found in 4 changed files".
func Summarize(findings []review.Finding, changedFiles int) string {
	if len(findings) == 0 {
		return fmt.Sprintf("No issues found in %d changed %s", changedFiles, plural(changedFiles, "file", "files"))
	}
	counts := map[review.Severity]int{}
	for _, f := range findings {
		counts[f.Severity]++
	}
	var parts []string
	for i := len(review.Severities) - 1; i >= 0; i-- {
		s := review.Severities[i]
		if n := counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return fmt.Sprintf("%d %s: %s", len(findings), plural(len(findings), "finding", "findings"), strings.Join(parts, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

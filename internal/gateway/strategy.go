package gateway

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/diff"
	"github.com/tricyclehq/tricycle/internal/review/provider"
)

// Route keys of the strategies.
const (
	// RouteCheap is the cascade's first reviewer.
	RouteCheap = "cheap"
	// RouteEscalate is the cascade's stronger reviewer.
	RouteEscalate = "escalate"
	// RouteDefault is by_language's reviewer for languages without a route.
	RouteDefault = "default"
)

// routeLanguages are the languages a by_language route may name.
var routeLanguages = []string{diff.LangGo, diff.LangPython, diff.LangJavaScript, diff.LangTypeScript, diff.LangJava}

// buildCascade makes a cascade reviewer from Routes["cheap"] and
// Routes["escalate"].
func (r *Registry) buildCascade(v coordination.Variant, depth int, chain []string, fail func(string, ...any) error) (review.Reviewer, error) {
	for k := range v.Routes {
		if k != RouteCheap && k != RouteEscalate {
			return nil, fail("cascade route %q is unknown (want cheap and escalate)", k)
		}
	}
	if v.Routes[RouteCheap] == "" || v.Routes[RouteEscalate] == "" {
		return nil, fail("cascade needs routes cheap and escalate")
	}
	cheap, _, err := r.route(v.Routes[RouteCheap], depth, chain, fail)
	if err != nil {
		return nil, err
	}
	esc, _, err := r.route(v.Routes[RouteEscalate], depth, chain, fail)
	if err != nil {
		return nil, err
	}
	return cascade{cheap: cheap, escalate: esc}, nil
}

// cascade reviews with a cheap reviewer and escalates to a stronger one:
//
//   - straight away when a changed file is security-sensitive (see
//     SecuritySensitive): the cheap answer would be discarded anyway;
//   - after the cheap review when it reports a high or critical finding, or
//     fails.
//
// An escalated result is the stronger reviewer's, with the usage and latency
// of both calls added up.
type cascade struct {
	cheap, escalate review.Reviewer
}

// Review runs the cascade on req.
func (c cascade) Review(ctx context.Context, req review.Request) (review.Result, error) {
	if sensitiveRequest(req) {
		return c.escalate.Review(ctx, req)
	}
	first, err := c.cheap.Review(ctx, req)
	if err == nil && !anyHigh(first.Findings) {
		return first, nil
	}
	if ctx.Err() != nil {
		return first, err
	}
	res, err := c.escalate.Review(ctx, req)
	res.Usage = addUsage(first.Usage, res.Usage)
	res.Latency += first.Latency
	if err != nil {
		return res, fmt.Errorf("cascade escalation: %w", err)
	}
	return res, nil
}

// sensitiveRequest reports whether any file the request changes or carries
// is security-sensitive.
func sensitiveRequest(req review.Request) bool {
	files, err := diff.Parse(req.Diff)
	if err == nil {
		for _, f := range files {
			added := f.Added()
			lines := make([]string, len(added))
			for i, l := range added {
				lines[i] = l.Text
			}
			if ok, _ := SecuritySensitive(f.Path(), lines); ok {
				return true
			}
		}
	}
	for p := range req.Files {
		if ok, _ := SecuritySensitive(p, nil); ok {
			return true
		}
	}
	return false
}

// anyHigh reports whether a finding is high or critical.
func anyHigh(fs []review.Finding) bool {
	for _, f := range fs {
		if f.Severity.Rank() >= review.SeverityHigh.Rank() {
			return true
		}
	}
	return false
}

func addUsage(a, b review.Usage) review.Usage {
	return review.Usage{InputTokens: a.InputTokens + b.InputTokens, OutputTokens: a.OutputTokens + b.OutputTokens,
		CostUSD: a.CostUSD + b.CostUSD}
}

// buildByLanguage makes a by_language reviewer from Routes[lang] and
// Routes["default"].
func (r *Registry) buildByLanguage(v coordination.Variant, depth int, chain []string, fail func(string, ...any) error) (review.Reviewer, error) {
	if len(v.Routes) == 0 {
		return nil, fail("by_language needs routes (a language or default)")
	}
	bl := byLanguage{routes: map[string]review.Reviewer{}, names: map[string]string{}}
	keys := make([]string, 0, len(v.Routes))
	for k := range v.Routes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k != RouteDefault && !slices.Contains(routeLanguages, k) {
			return nil, fail("by_language route %q is unknown (want default or one of %s)", k, strings.Join(routeLanguages, ", "))
		}
		rv, name, err := r.route(v.Routes[k], depth, chain, fail)
		if err != nil {
			return nil, err
		}
		bl.routes[k], bl.names[k] = rv, name
	}
	return bl, nil
}

// byLanguage reviews each file of the diff with the reviewer of its
// language (else the default route) and merges the results. Files routed to
// the same reviewer go in one call; calls run concurrently. A file whose
// language has no route and no default is an error.
type byLanguage struct {
	routes map[string]review.Reviewer // by route key
	names  map[string]string          // variant name by route key
}

// Review routes req's files by language and merges the answers.
func (b byLanguage) Review(ctx context.Context, req review.Request) (review.Result, error) {
	files, err := diff.Parse(req.Diff)
	if err != nil {
		return review.Result{}, fmt.Errorf("by_language: %w", err)
	}
	groups := map[string][]diff.File{} // by route key
	var order []string
	for _, f := range files {
		key := f.Language
		if _, ok := b.routes[key]; !ok || key == "" {
			key = RouteDefault
		}
		if _, ok := b.routes[key]; !ok {
			lang := f.Language
			if lang == "" {
				lang = "unknown"
			}
			return review.Result{}, fmt.Errorf("by_language: file %s (%s) has no route and there is no default", f.Path(), lang)
		}
		if _, seen := groups[key]; !seen {
			order = append(order, key)
		}
		groups[key] = append(groups[key], f)
	}
	if len(order) <= 1 {
		key := RouteDefault
		if len(order) == 1 {
			key = order[0]
		}
		rv, ok := b.routes[key]
		if !ok {
			return review.Result{}, fmt.Errorf("by_language: the diff changes no file and there is no default route")
		}
		return rv.Review(ctx, req)
	}
	results := make([]review.Result, len(order))
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	for i, key := range order {
		sub := review.Request{ID: req.ID + "/" + strconv.Itoa(i), Repository: req.Repository, Client: req.Client,
			Diff: renderDiff(groups[key]), Files: subFiles(req.Files, groups[key])}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = b.routes[key].Review(ctx, sub)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("by_language route %s (%s): %w", key, b.names[key], errs[i])
			}
		}()
	}
	wg.Wait()
	return mergeResults(results), firstError(errs)
}

// mergeResults combines the results of concurrent calls: findings in file
// and line order, usage added up, the latency of the slowest call.
func mergeResults(rs []review.Result) review.Result {
	var out review.Result
	var summaries, models []string
	for _, r := range rs {
		out.Findings = append(out.Findings, r.Findings...)
		out.Usage = addUsage(out.Usage, r.Usage)
		out.Latency = max(out.Latency, r.Latency)
		if r.Summary != "" {
			summaries = append(summaries, r.Summary)
		}
		if r.Model != "" && !slices.Contains(models, r.Model) {
			models = append(models, r.Model)
		}
	}
	slices.SortStableFunc(out.Findings, func(a, b review.Finding) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	out.Summary = strings.Join(summaries, " ")
	out.Model = strings.Join(models, "+")
	return out
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// renderDiff writes files back as a unified diff; line numbers are those of
// the original, so findings need no translation.
func renderDiff(files []diff.File) string {
	var b strings.Builder
	for _, f := range files {
		if f.IsBinary || len(f.Hunks) == 0 {
			continue
		}
		old, nw := "a/"+f.OldPath, "b/"+f.NewPath
		if f.OldPath == "" {
			old = "/dev/null"
		}
		if f.NewPath == "" {
			nw = "/dev/null"
		}
		fmt.Fprintf(&b, "--- %s\n+++ %s\n", old, nw)
		for _, h := range f.Hunks {
			fmt.Fprintf(&b, "@@ -%d,%d +%d,%d @@", h.OldStart, h.OldLines, h.NewStart, h.NewLines)
			if h.Section != "" {
				b.WriteString(" " + h.Section)
			}
			b.WriteByte('\n')
			for _, l := range h.Lines {
				switch l.Kind {
				case diff.Added:
					b.WriteByte('+')
				case diff.Removed:
					b.WriteByte('-')
				default:
					b.WriteByte(' ')
				}
				b.WriteString(l.Text)
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

// subFiles keeps the full contents of the given files only.
func subFiles(all map[string]string, files []diff.File) map[string]string {
	if len(all) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, f := range files {
		if c, ok := all[f.Path()]; ok {
			out[f.Path()] = c
		}
	}
	return out
}

// fixedTokens reports fixed token counts (a simulated variant's configured
// figures) and the cost they imply.
type fixedTokens struct {
	next    review.Reviewer
	in, out int64
	prices  provider.Prices
}

// Review calls the next reviewer and replaces its token counts and cost.
func (f fixedTokens) Review(ctx context.Context, req review.Request) (review.Result, error) {
	res, err := f.next.Review(ctx, req)
	if res.Usage.InputTokens == 0 && res.Usage.OutputTokens == 0 && err != nil {
		return res, err // the call never reached the model
	}
	if f.in > 0 {
		res.Usage.InputTokens = f.in
	}
	if f.out > 0 {
		res.Usage.OutputTokens = f.out
	}
	res.Usage.CostUSD = f.prices.Cost(res.Usage)
	return res, err
}

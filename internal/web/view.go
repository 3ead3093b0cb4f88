package web

import (
	"context"
	"errors"
	"html/template"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// page is everything the dashboard template shows. Each section loads on
// its own: one the actor's role may not read says so, one that fails to
// load says why, and the rest of the page still renders.
type page struct {
	Actor   coordination.Actor
	Now     string
	Refresh int // seconds; 0: no automatic reload

	Release     releaseBlock
	SLO         sloBlock
	Alerts      alertBlock
	Experiments experimentBlock
	Pending     pendingBlock
	Promotions  promotionBlock
	Quarantine  quarantineBlock
	Blacklist   blacklistBlock
	Proposals   proposalBlock
	Audit       auditBlock
	Charts      chartBlock
}

// section is the availability of one block of the page.
type section struct {
	// Forbidden means the actor's role may not read this block.
	Forbidden bool
	// Err says why the block could not be loaded.
	Err string
}

// Available reports whether the block loaded.
func (s section) Available() bool { return !s.Forbidden && s.Err == "" }

// fail records why a block is missing: forbidden for the role, or an error
// (logged; the message is shown to the operator).
func (h *Handler) fail(s *section, what string, err error) {
	if errors.Is(err, coordination.ErrForbidden) {
		s.Forbidden = true
		return
	}
	h.log.Error("dashboard section failed", "section", what, "err", err)
	s.Err = "Could not load " + what + ": " + err.Error()
}

// bar is a horizontal progress bar drawn as a small SVG: Fill is the filled
// share and Marks are tick positions, all in percent of the width.
type bar struct {
	Fill  float64
	Marks []float64
	// Tone colours the fill: "ok", "warn" or "bad".
	Tone string
}

func newBar(fraction float64, tone string, marks ...float64) bar {
	b := bar{Fill: clampPercent(100 * fraction), Tone: tone}
	for _, m := range marks {
		b.Marks = append(b.Marks, clampPercent(100*m))
	}
	return b
}

func clampPercent(p float64) float64 {
	if math.IsNaN(p) {
		return 0
	}
	return math.Round(10*math.Min(100, math.Max(0, p))) / 10
}

type releaseBlock struct {
	section
	ID, Variant, Provider, Model string
	Since, SinceAgo, Note        string
	Found                        bool
}

type sloBlock struct {
	section
	Compliant      bool
	Window         string
	Requests       int64
	Budget         string // e.g. "75%"
	BudgetFraction float64
	BudgetBar      bar
	Objectives     []objectiveRow
}

type objectiveRow struct {
	Name, Value, Target, Budget, Doc string
	Compliant                        bool
}

type alertBlock struct {
	section
	Items []alertRow
}

type alertRow struct {
	ID, Severity, State, Target, Metric, Value, Threshold, Since, SinceAgo, Remediation string
}

// build loads every block of the page on behalf of the actor carried by ctx.
func (h *Handler) build(ctx context.Context, actor coordination.Actor) page {
	now := h.c.Clock().Now()
	p := page{Actor: actor, Now: fmtTime(now)}
	if h.opts.Refresh > 0 {
		p.Refresh = max(1, int(h.opts.Refresh/time.Second))
	}
	p.Release = h.loadRelease(ctx, now)
	p.SLO = h.loadSLO(ctx)
	p.Alerts = h.loadAlerts(ctx, now)
	running := h.loadExperiments(ctx, now, &p.Experiments)
	p.Pending = h.loadPending(ctx)
	active := h.loadPromotions(ctx, now, &p.Promotions)
	p.Quarantine = h.loadQuarantine(ctx, now)
	p.Blacklist = h.loadBlacklist(ctx)
	p.Proposals = h.loadProposals(ctx)
	p.Audit = h.loadAudit(ctx)
	p.Charts = h.loadCharts(ctx, actor, now, p.Release, running, active)
	return p
}

func (h *Handler) loadRelease(ctx context.Context, now time.Time) releaseBlock {
	var b releaseBlock
	rels, err := h.c.Releases(ctx)
	if err != nil {
		h.fail(&b.section, "the production release", err)
		return b
	}
	for _, r := range rels {
		if r.State != coordination.ReleaseActive {
			continue
		}
		b.Found = true
		b.ID, b.Variant, b.Provider, b.Model = r.ID, r.Variant.Name, r.Variant.Provider, r.Variant.Model
		b.Since, b.SinceAgo, b.Note = fmtTime(r.ActivatedAt), fmtAgo(now, r.ActivatedAt), r.Note
		break
	}
	return b
}

func (h *Handler) loadSLO(ctx context.Context) sloBlock {
	var b sloBlock
	slo, err := h.c.Health().CalculateSLOCompliance(ctx)
	if err != nil {
		h.fail(&b.section, "SLO compliance", err)
		return b
	}
	b.Compliant, b.Window, b.Requests = slo.Compliant, fmtDuration(slo.Window.D()), slo.Requests
	b.BudgetFraction, b.Budget = slo.BudgetRemaining, fmtPercent(slo.BudgetRemaining)
	b.BudgetBar = newBar(slo.BudgetRemaining, budgetTone(slo.BudgetRemaining))
	names := make([]string, 0, len(slo.Details))
	for n := range slo.Details {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d := slo.Details[n]
		b.Objectives = append(b.Objectives, objectiveRow{Name: n, Value: fmtMetric(n, d.Value),
			Target: "< " + fmtMetric(n, d.Target), Budget: fmtPercent(d.BudgetRemaining), Doc: d.Doc, Compliant: d.Compliant})
	}
	return b
}

func budgetTone(left float64) string {
	switch {
	case left < 0.1:
		return "bad"
	case left < 0.5:
		return "warn"
	}
	return "ok"
}

func (h *Handler) loadAlerts(ctx context.Context, now time.Time) alertBlock {
	var b alertBlock
	alerts, err := h.c.Health().GetActiveAlerts(ctx)
	if err != nil {
		h.fail(&b.section, "active alerts", err)
		return b
	}
	sort.SliceStable(alerts, func(i, j int) bool {
		// Critical before warning, firing before pending.
		if alerts[i].Severity != alerts[j].Severity {
			return alerts[i].Severity == "critical"
		}
		return alerts[i].State == "firing" && alerts[j].State != "firing"
	})
	for _, a := range alerts {
		since := a.ActiveAt
		if !a.FiredAt.IsZero() {
			since = a.FiredAt
		}
		b.Items = append(b.Items, alertRow{ID: a.ID, Severity: string(a.Severity), State: string(a.State),
			Target: a.Target, Metric: a.Metric, Value: fmtMetric(a.Metric, a.Value),
			Threshold: fmtMetric(a.Metric, a.Threshold), Since: fmtTime(since), SinceAgo: fmtAgo(now, since),
			Remediation: string(a.Remediation)})
	}
	return b
}

// chartBlock holds the three charts, or says why there are none.
type chartBlock struct {
	section
	NoHistory bool
	Window    string
	Charts    []chartView
}

type chartView struct {
	Title  string
	SVG    template.HTML
	NoData bool
}

// loadCharts reads each series the actor may see once and draws p95
// latency, error rate and cost per review with them.
func (h *Handler) loadCharts(ctx context.Context, actor coordination.Actor, now time.Time,
	rel releaseBlock, running []*coordination.Experiment, active []*coordination.PromotionRequest) chartBlock {
	b := chartBlock{Window: fmtDuration(h.opts.ChartWindow)}
	if h.opts.History == nil {
		b.NoHistory = true
		return b
	}
	type named struct{ key, label string }
	var want []named
	if actor.Role.Allowed(coordination.PermHealthRead) {
		label := "V2 production"
		if rel.Variant != "" {
			label += " (" + rel.Variant + ")"
		}
		want = append(want, named{SeriesProduction, label})
	}
	for _, e := range running {
		want = append(want, named{ExperimentSeries(e.ID), "V1 " + experimentLabel(e)})
	}
	for _, p := range active {
		if p.State.InPhases() {
			want = append(want, named{CanarySeries(p.RequestID), "canary " + p.Candidate.Name})
		}
	}
	if len(want) == 0 {
		b.Forbidden = true
		return b
	}
	from := now.Add(-h.opts.ChartWindow)
	var lat, errs, cost []series
	var failed []string
	for _, s := range want {
		pts, err := h.opts.History(ctx, s.key, from, now, h.opts.ChartStep)
		if err != nil {
			h.log.Error("dashboard chart series failed", "series", s.key, "err", err)
			failed = append(failed, s.key)
			continue
		}
		l, e, c := series{Name: s.label}, series{Name: s.label}, series{Name: s.label}
		for _, pt := range pts {
			gap := pt.Requests <= 0
			l.Points = append(l.Points, sample{At: pt.At, V: pt.P95, Gap: gap})
			e.Points = append(e.Points, sample{At: pt.At, V: pt.ErrorRate, Gap: gap})
			c.Points = append(c.Points, sample{At: pt.At, V: pt.CostPerReview, Gap: gap})
		}
		lat, errs, cost = append(lat, l), append(errs, e), append(cost, c)
	}
	if len(failed) > 0 {
		b.Err = "Could not load the series " + joinComma(failed) + "."
	}
	for _, c := range []chart{
		{Title: "p95 latency", From: from, To: now, Series: lat, Format: fmtSeconds},
		{Title: "Error rate", From: from, To: now, Series: errs, Format: fmtPercent},
		{Title: "Cost per review", From: from, To: now, Series: cost, Format: fmtDollars},
	} {
		v := chartView{Title: c.Title, NoData: c.empty()}
		if !v.NoData {
			v.SVG = c.SVG()
		}
		b.Charts = append(b.Charts, v)
	}
	return b
}

func experimentLabel(e *coordination.Experiment) string {
	if e.Variant.Name != "" {
		return e.Variant.Name
	}
	return e.ID
}

func joinComma(xs []string) string { return strings.Join(xs, ", ") }

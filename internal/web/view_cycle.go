package web

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/criteria"
	"github.com/tricyclehq/tricycle/coordination/decision"
)

// How many rows the lists show.
const (
	maxRecords   = 50
	maxBlacklist = 50
	maxProposals = 20
	maxAudit     = 20
	maxPending   = 30
)

type experimentBlock struct {
	section
	Items []experimentRow
}

type experimentRow struct {
	ID, Title, Variant, Shadow      string
	Started, DecisionFrom, DecideBy string
	// Progress runs from the start to the maximum period with a mark at the
	// minimum.
	Progress     bar
	ProgressText string
	// Look says where the criteria's values come from; NoSamples means no
	// value has been measured yet.
	Look      string
	NoSamples bool
	Criteria  []criterionRow
	Spend     string
}

type criterionRow struct {
	Criterion, Observed, Status, Samples, Interval, Note string
	// Class is the status as a CSS class.
	Class string
}

// loadExperiments fills the running experiments and returns them for the
// charts (nil when the role may not read them).
func (h *Handler) loadExperiments(ctx context.Context, now time.Time, b *experimentBlock) []*coordination.Experiment {
	exps, err := h.c.ListExperiments(ctx, coordination.ExperimentFilter{States: []coordination.ExperimentState{coordination.ExperimentRunning}})
	if err != nil {
		h.fail(&b.section, "running experiments", err)
		return nil
	}
	for _, e := range exps {
		b.Items = append(b.Items, h.experimentRow(ctx, now, e))
	}
	return exps
}

func (h *Handler) experimentRow(ctx context.Context, now time.Time, e *coordination.Experiment) experimentRow {
	minD, maxD := e.EvaluationMin.D(), e.EvaluationMax.D()
	elapsed := now.Sub(e.StartedAt)
	r := experimentRow{ID: e.ID, Title: e.Title, Variant: experimentLabel(e),
		Shadow: fmtNumber(e.ShadowPercent) + "%", Started: fmtTime(e.StartedAt),
		DecisionFrom: fmtTime(e.StartedAt.Add(minD)), DecideBy: fmtTime(e.StartedAt.Add(maxD))}
	if maxD > 0 {
		tone := "warn"
		if elapsed >= minD {
			tone = "ok"
		}
		r.Progress = newBar(float64(elapsed)/float64(maxD), tone, float64(minD)/float64(maxD))
	}
	r.ProgressText = fmt.Sprintf("%s of %s–%s", fmtDuration(max(0, elapsed)), fmtDuration(minD), fmtDuration(maxD))
	if e.BudgetUSD > 0 {
		r.Spend = fmtDollars(e.SpentUSD) + " of " + fmtDollars(e.BudgetUSD)
	}
	cs, err := criteria.ParseSet(e.SuccessCriteria)
	if err != nil {
		r.Look = "The stored criteria cannot be read: " + err.Error()
		return r
	}
	res, look, ok := h.look(ctx, e, cs)
	r.Look = look
	if !ok {
		r.NoSamples = true
		for _, c := range cs {
			r.Criteria = append(r.Criteria, criterionRow{Criterion: c.String(), Observed: "—", Status: "no samples yet", Class: "status-none"})
		}
		return r
	}
	byMetric := map[string]criteria.Criterion{}
	for _, c := range cs {
		byMetric[c.Metric] = c
	}
	for _, cr := range res.Explanation.Criteria {
		row := criterionRow{Criterion: cr.Criterion, Observed: "—", Status: string(cr.Status), Note: cr.Note,
			Class: "status-" + string(cr.Status)}
		c, known := byMetric[cr.Metric]
		if cr.Observed != nil {
			row.Observed = fmtCriterion(c, known, cr.Metric, *cr.Observed)
		}
		if cr.Samples > 0 {
			row.Samples = strconv.FormatInt(cr.Samples, 10)
		}
		if cr.CILow != nil || cr.CIHigh != nil {
			lo, hi := "−∞", "+∞"
			if cr.CILow != nil {
				lo = fmtCriterion(c, known, cr.Metric, *cr.CILow)
			}
			if cr.CIHigh != nil {
				hi = fmtCriterion(c, known, cr.Metric, *cr.CIHigh)
			}
			row.Interval = lo + " – " + hi
		}
		r.Criteria = append(r.Criteria, row)
	}
	return r
}

// look returns the experiment's criteria judged now: live from the
// measurements when they are configured, else the last evaluation of the
// current run. ok is false when no value has been measured.
func (h *Handler) look(ctx context.Context, e *coordination.Experiment, cs []criteria.Criterion) (decision.Result, string, bool) {
	if h.opts.Measurements != nil {
		cand, base, err := h.opts.Measurements(ctx, e, e.StartedAt)
		if err != nil {
			h.log.Error("dashboard live look failed", "experiment", e.ID, "err", err)
			return decision.Result{}, "Live measurements are unavailable: " + err.Error(), false
		}
		res := decision.EvaluateSamples(cs, cand, base, h.c.Config().Samples)
		if !measured(res) {
			return res, "No samples yet.", false
		}
		return res, "Live look at the samples so far: " + res.Explanation.Summary, true
	}
	if ev := e.LastEvaluation; ev != nil && !ev.At.Before(e.StartedAt) && measured(decision.Result{Explanation: ev.Explanation}) {
		return decision.Result{Decision: ev.Decision, Explanation: ev.Explanation},
			"Last evaluation look at " + fmtTime(ev.At) + ": " + ev.Explanation.Summary, true
	}
	return decision.Result{}, "No samples yet.", false
}

// measured reports whether any criterion has an observed value.
func measured(r decision.Result) bool {
	for _, c := range r.Explanation.Criteria {
		if c.Observed != nil {
			return true
		}
	}
	return false
}

type pendingBlock struct {
	section
	Items []pendingRow
}

type pendingRow struct {
	ID, Title, Variant, State, Decision, Summary, Updated string
}

func (h *Handler) loadPending(ctx context.Context) pendingBlock {
	var b pendingBlock
	exps, err := h.c.ListExperiments(ctx, coordination.ExperimentFilter{States: []coordination.ExperimentState{
		coordination.ExperimentProposed, coordination.ExperimentHeld}})
	if err != nil {
		h.fail(&b.section, "proposed and held experiments", err)
		return b
	}
	slices.Reverse(exps) // newest first
	for _, e := range exps[:min(len(exps), maxPending)] {
		r := pendingRow{ID: e.ID, Title: e.Title, Variant: experimentLabel(e), State: string(e.State),
			Decision: string(e.Decision), Updated: fmtTime(e.UpdatedAt)}
		if e.LastEvaluation != nil {
			r.Summary = e.LastEvaluation.Explanation.Summary
		}
		b.Items = append(b.Items, r)
	}
	return b
}

type promotionBlock struct {
	section
	Items []promotionRow
}

type promotionRow struct {
	ID, ExperimentID, Candidate, State string
	InPhases                           bool
	Phase, Phases                      int
	CandidateWeight, StableWeight      int
	PhaseBar                           bar
	TimeLeft                           string
	TimeLeftSeconds                    int64
	DueAt, Plan, Confidence            string
	Checks                             []checkRow
	History                            []phaseRow
}

type checkRow struct {
	Name, Message string
	Passed        bool
}

type phaseRow struct {
	Phase                                int
	Percent                              int
	Started, Due, Ended, Analysis, State string
}

// loadPromotions fills the promotions under way and returns them for the
// charts (nil when the role may not read them).
func (h *Handler) loadPromotions(ctx context.Context, now time.Time, b *promotionBlock) []*coordination.PromotionRequest {
	ps, err := h.c.Promotion().GetActivePromotions(ctx)
	if err != nil {
		h.fail(&b.section, "active promotions", err)
		return nil
	}
	// The promotion in its phases first: it is the one taking traffic.
	slices.SortStableFunc(ps, func(a, c *coordination.PromotionRequest) int {
		switch {
		case a.State.InPhases() == c.State.InPhases():
			return 0
		case a.State.InPhases():
			return -1
		}
		return 1
	})
	for _, p := range ps {
		b.Items = append(b.Items, promotionRowOf(p, now))
	}
	return ps
}

func promotionRowOf(p *coordination.PromotionRequest, now time.Time) promotionRow {
	r := promotionRow{ID: p.RequestID, ExperimentID: p.ExperimentID, Candidate: p.Candidate.Name,
		State: string(p.State), InPhases: p.State.InPhases(), Phase: p.State.Phase(), Phases: len(p.Plan),
		CandidateWeight: p.TrafficPercent, StableWeight: 100 - p.TrafficPercent,
		Confidence: fmtPercent(p.ConfidenceScore)}
	steps := make([]string, 0, len(p.Plan))
	for _, ph := range p.Plan {
		steps = append(steps, strconv.Itoa(ph.Percent)+"% for "+fmtDuration(ph.Duration.D()))
	}
	r.Plan = strings.Join(steps, " → ")
	if r.Phase > 0 && !p.PhaseDueAt.IsZero() {
		left := p.Remaining(now)
		r.TimeLeft, r.TimeLeftSeconds, r.DueAt = fmtDuration(left), int64(left/time.Second), fmtTime(p.PhaseDueAt)
		if total := p.PhaseDueAt.Sub(p.PhaseStartedAt); total > 0 {
			r.PhaseBar = newBar(float64(now.Sub(p.PhaseStartedAt))/float64(total), "ok")
		}
	}
	for _, c := range p.Validation {
		r.Checks = append(r.Checks, checkRow{Name: c.Name, Message: c.Message, Passed: c.Passed})
	}
	for _, ph := range p.Phases {
		row := phaseRow{Phase: ph.Phase, Percent: ph.Percent, Started: fmtTime(ph.StartedAt), Due: fmtTime(ph.DueAt),
			Analysis: ph.Analysis, State: "current"}
		if !ph.EndedAt.IsZero() {
			row.Ended, row.State = fmtTime(ph.EndedAt), "ended"
		}
		r.History = append(r.History, row)
	}
	return r
}

type quarantineBlock struct {
	section
	Total int
	Items []recordRow
}

type recordRow struct {
	ID, ExperimentID, Title, FailureType          string
	Category, Summary, Confidence, Rule           string
	Factors                                       []string
	QuarantinedAt, NextReview, NextReviewRelative string
	ReviewDue                                     bool
}

func (h *Handler) loadQuarantine(ctx context.Context, now time.Time) quarantineBlock {
	var b quarantineBlock
	recs, err := h.c.Quarantine().ListRecords(ctx, coordination.QuarantineFilter{})
	if err != nil {
		h.fail(&b.section, "quarantine records", err)
		return b
	}
	b.Total = len(recs)
	slices.Reverse(recs) // newest first
	for _, rec := range recs[:min(len(recs), maxRecords)] {
		next := rec.NextReviewAt
		revs, err := h.c.Quarantine().Reviews(ctx, rec.RecordID)
		if err != nil {
			h.fail(&b.section, "quarantine reviews", err)
			return b
		}
		if n := len(revs); n > 0 {
			next = revs[n-1].NextReviewAt
		}
		b.Items = append(b.Items, recordRow{ID: rec.RecordID, ExperimentID: rec.ExperimentID, Title: rec.Snapshot.Title,
			FailureType: string(rec.FailureType), Category: rec.RootCause.Category, Summary: rec.RootCause.Summary,
			Confidence: fmtPercent(rec.RootCause.Confidence), Rule: rec.RootCause.Rule, Factors: rec.RootCause.ContributingFactors,
			QuarantinedAt: fmtTime(rec.QuarantinedAt), NextReview: fmtDate(next), NextReviewRelative: fmtUntil(now, next),
			ReviewDue: !next.After(now)})
	}
	return b
}

type blacklistBlock struct {
	section
	Items []blacklistRow
}

type blacklistRow struct {
	ID, RecordID, Kind, Key, Created string
}

func (h *Handler) loadBlacklist(ctx context.Context) blacklistBlock {
	var b blacklistBlock
	entries, err := h.c.Quarantine().Blacklist(ctx, true)
	if err != nil {
		h.fail(&b.section, "the blacklist", err)
		return b
	}
	slices.Reverse(entries)
	for _, e := range entries[:min(len(entries), maxBlacklist)] {
		b.Items = append(b.Items, blacklistRow{ID: e.ID, RecordID: e.RecordID, Kind: string(e.Kind),
			Key: shorten(e.Key, 24), Created: fmtTime(e.CreatedAt)})
	}
	return b
}

type proposalBlock struct {
	section
	Items []proposalRow
}

type proposalRow struct {
	ID, Title, Source, Priority, Hypothesis, Variant, Created string
	Rationale                                                 []string
}

func (h *Handler) loadProposals(ctx context.Context) proposalBlock {
	var b proposalBlock
	props, err := h.c.Generator().ListProposals(ctx, coordination.ProposalFilter{
		States: []coordination.ProposalState{coordination.ProposalSuggested}, Limit: maxProposals})
	if err != nil {
		h.fail(&b.section, "proposals", err)
		return b
	}
	for _, p := range props {
		b.Items = append(b.Items, proposalRow{ID: p.ProposalID, Title: p.Title, Source: p.Source,
			Priority: strconv.FormatFloat(p.Priority, 'f', 2, 64), Hypothesis: p.Hypothesis,
			Variant: p.Variant.Name, Created: fmtTime(p.CreatedAt), Rationale: p.Rationale})
	}
	return b
}

type auditBlock struct {
	section
	OK          bool
	Entries     int64
	FirstBadSeq int64
	Reason      string
	Items       []auditRow
}

type auditRow struct {
	Seq                             int64
	At, Actor, Role, Action, Target string
	Hash                            string
}

func (h *Handler) loadAudit(ctx context.Context) auditBlock {
	var b auditBlock
	v, err := h.c.VerifyAudit(ctx)
	if err != nil {
		h.fail(&b.section, "the audit log", err)
		return b
	}
	b.OK, b.Entries, b.FirstBadSeq, b.Reason = v.OK, v.Entries, v.FirstBadSeq, v.Reason
	entries, err := h.c.AuditLog(ctx, max(0, v.Entries-maxAudit), maxAudit)
	if err != nil {
		h.fail(&b.section, "the audit log", err)
		return b
	}
	slices.Reverse(entries) // newest first
	for _, e := range entries {
		b.Items = append(b.Items, auditRow{Seq: e.Seq, At: fmtTime(e.At), Actor: e.Actor, Role: string(e.Role),
			Action: e.Action, Target: e.Target, Hash: shorten(e.Hash, 12)})
	}
	return b
}

package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/bench/internal/traffic"
	"github.com/tricyclehq/tricycle/coordination"
)

// variantOutcome is what became of one variant under one policy.
type variantOutcome struct {
	state coordination.ExperimentState
	// decision is the evaluator's (or the gate's) verdict, empty if none.
	decision string
	// inExperiment is how long it ran as an experiment (0 if still running).
	inExperiment time.Duration
	// canary: approved into phases; reached100: took all traffic (a 100%
	// phase or completion); rolledBack: its promotion was rolled back.
	canary, reached100, rolledBack bool
	rolledBackFrom, rollbackCause  string
}

// Causes of a rollback, read from the promotion's reason.
const (
	causeAnalysis = "canary analysis"
	causeMonitor  = "health monitor"
	causeChecks   = "Flagger checks"
	causeOther    = "other"
)

// rollbackCause classifies a rolled-back promotion's reason.
func rollbackCause(reason string) string {
	switch {
	case strings.HasPrefix(reason, "critical breach"), strings.HasPrefix(reason, "analysis kept failing"):
		return causeAnalysis
	case strings.Contains(reason, "breached critical"):
		return causeMonitor
	case strings.HasSuffix(reason, "failed checks"):
		return causeChecks
	}
	return causeOther
}

// yearResult is one policy's year.
type yearResult struct {
	label    string
	outcomes []variantOutcome // by variant index
	tally    tally
	prodEnd  traffic.Profile
	prodName string
	passes   int
	took     time.Duration
}

// runYear simulates the year under pol, minute by minute: traffic, then
// the policy's per-minute duties, and every step the roadmap's proposals,
// the policy's gate and a coordinator pass.
func runYear(ctx context.Context, pol policy, seed uint64, start time.Time, days int, meanRate float64, step time.Duration, variants []variant) (yearResult, error) {
	began := time.Now()
	w, err := newWorld(pol, seed, start, days, meanRate, variants)
	if err != nil {
		return yearResult{}, err
	}
	if err := w.coord.Init(ctx); err != nil {
		return yearResult{}, fmt.Errorf("init coordinator: %w", err)
	}
	if err := w.sync(ctx); err != nil {
		return yearResult{}, err
	}
	stepMinutes := int(step / time.Minute)
	total := days * 24 * 60
	for m := range total {
		if m%64 == 0 && ctx.Err() != nil {
			return yearResult{}, ctx.Err()
		}
		t := start.Add(time.Duration(m) * time.Minute)
		if d := m / (24 * 60); d != w.day {
			w.newDay(d)
		}
		w.simulateMinute(t, m)
		end := t.Add(time.Minute)
		w.clock.Set(end)
		if err := pol.minute(ctx, w, m+1); err != nil {
			return yearResult{}, err
		}
		w.canaryMinute.Reset()
		if (m+1)%stepMinutes == 0 {
			if err := w.startExperiments(ctx, end); err != nil {
				return yearResult{}, err
			}
			if err := pol.gate(ctx, w); err != nil {
				return yearResult{}, err
			}
			if err := w.runOnce(ctx); err != nil {
				return yearResult{}, err
			}
		}
		if (m+1)%(24*60) == 0 {
			d := m / (24 * 60)
			p := w.profiles[w.prodName]
			w.tally.dayProdAccuracy[d], w.tally.dayProdCost[d] = p.Accuracy, p.CostMean
		}
	}
	res, err := w.collect(ctx)
	if err != nil {
		return yearResult{}, err
	}
	res.took = time.Since(began)
	return res, nil
}

// collect reads every experiment and promotion back from the store.
func (w *world) collect(ctx context.Context) (yearResult, error) {
	st := w.coord.Store()
	exps, err := st.ExperimentList(ctx, coordination.ExperimentFilter{})
	if err != nil {
		return yearResult{}, fmt.Errorf("list experiments: %w", err)
	}
	proms, err := st.PromotionList(ctx, coordination.PromotionFilter{})
	if err != nil {
		return yearResult{}, fmt.Errorf("list promotions: %w", err)
	}
	byExp := map[string][]*coordination.PromotionRequest{}
	for _, p := range proms {
		byExp[p.ExperimentID] = append(byExp[p.ExperimentID], p)
	}
	res := yearResult{label: w.pol.label(), outcomes: make([]variantOutcome, len(w.variants)), tally: w.tally,
		prodEnd: w.profiles[w.prodName], prodName: w.prodName, passes: w.passes}
	for _, e := range exps {
		i := w.indexOf(e.Variant.Name)
		if i < 0 {
			continue
		}
		o := variantOutcome{state: e.State, inExperiment: w.inExperiment[e.ID]}
		if e.LastEvaluation != nil {
			o.decision = string(e.LastEvaluation.Decision)
		}
		if o.decision == "" {
			o.decision = w.gateDecision[e.ID]
		}
		for _, p := range byExp[e.ID] {
			o.canary = o.canary || !p.ApprovedAt.IsZero()
			full := !p.CompletedAt.IsZero()
			for _, ph := range p.Phases {
				full = full || ph.Percent == 100
			}
			o.reached100 = o.reached100 || full
			if p.State == coordination.PromotionRolledBack {
				o.rolledBack = true
				o.rolledBackFrom = rolledBackFrom(p)
				o.rollbackCause = rollbackCause(p.Reason)
				o.rollbackCause = rollbackCause(p.Reason)
			}
		}
		res.outcomes[i] = o
	}
	return res, nil
}

// rolledBackFrom names the phase a promotion was rolled back from.
func rolledBackFrom(p *coordination.PromotionRequest) string {
	if !p.CompletedAt.IsZero() {
		return "production"
	}
	if n := len(p.Phases); n > 0 {
		return fmt.Sprintf("%d%% phase", p.Phases[n-1].Percent)
	}
	return "before its phases"
}

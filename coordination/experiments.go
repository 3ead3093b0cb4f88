package coordination

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tricyclehq/tricycle/coordination/criteria"
	"github.com/tricyclehq/tricycle/coordination/decision"
)

// Decision is the evaluator's verdict on an experiment.
type Decision = decision.Decision

// The three decisions of the Version Control AI.
const (
	Promote    = decision.Promote
	Hold       = decision.Hold
	Quarantine = decision.Quarantine
)

// ExperimentSpec describes an experiment to create.
type ExperimentSpec struct {
	Title           string
	Hypothesis      string
	SuccessCriteria map[string]string
	// Variant is the candidate configuration (optional: an experiment may
	// start as a bare hypothesis).
	Variant Variant
	// ShadowPercent overrides the configured shadow share (0: the default).
	ShadowPercent float64
	// BudgetUSD caps spend on shadow calls (0: no budget).
	BudgetUSD float64
	// EvaluationMin and EvaluationMax override the evaluation period.
	EvaluationMin, EvaluationMax time.Duration
}

// Limits on experiment fields.
const (
	maxTitleLen      = 200
	maxHypothesisLen = 4000
	maxCriteria      = 32
)

func (s ExperimentSpec) validate() ([]criteria.Criterion, error) {
	if strings.TrimSpace(s.Title) == "" {
		return nil, invalidInput("title", "must not be empty")
	}
	if utf8.RuneCountInString(s.Title) > maxTitleLen {
		return nil, invalidInput("title", "longer than %d characters", maxTitleLen)
	}
	if utf8.RuneCountInString(s.Hypothesis) > maxHypothesisLen {
		return nil, invalidInput("hypothesis", "longer than %d characters", maxHypothesisLen)
	}
	if len(s.SuccessCriteria) > maxCriteria {
		return nil, invalidInput("success_criteria", "more than %d criteria", maxCriteria)
	}
	cs, err := criteria.ParseSet(s.SuccessCriteria)
	if err != nil {
		return nil, fmt.Errorf("%w: success_criteria: %w", ErrInvalidInput, err)
	}
	if err := s.Variant.Validate(); err != nil {
		return nil, err
	}
	if s.ShadowPercent < 0 || s.ShadowPercent > 100 || math.IsNaN(s.ShadowPercent) {
		return nil, invalidInput("shadow_percent", "%v is not within 0-100", s.ShadowPercent)
	}
	if s.BudgetUSD < 0 || math.IsNaN(s.BudgetUSD) || math.IsInf(s.BudgetUSD, 0) {
		return nil, invalidInput("budget_usd", "%v must be a non-negative number", s.BudgetUSD)
	}
	if s.EvaluationMin < 0 || s.EvaluationMax < 0 || (s.EvaluationMax > 0 && s.EvaluationMax < s.EvaluationMin) {
		return nil, invalidInput("evaluation_max", "must be at least evaluation_min")
	}
	return cs, nil
}

// CreateExperiment creates a proposed experiment after checking its criteria
// and the blacklist, and returns it as an accepted proposal whose
// ExperimentID names it.
func (c *LifecycleCoordinator) CreateExperiment(ctx context.Context, spec ExperimentSpec) (*Proposal, error) {
	actor, err := authorize(ctx, PermExperimentsWrite, "")
	if err != nil {
		return nil, fmt.Errorf("create experiment: %w", err)
	}
	var exp *Experiment
	err = c.tx(ctx, func(ctx context.Context, w *txw) error {
		var err error
		exp, err = c.createExperimentTx(ctx, w, actor, spec, "", "")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create experiment: %w", err)
	}
	return &Proposal{ProposalID: exp.ProposalID, ExperimentID: exp.ID, Title: exp.Title,
		Hypothesis: exp.Hypothesis, SuccessCriteria: exp.SuccessCriteria, Variant: exp.Variant,
		Source: SourceManual, State: ProposalAccepted, CreatedAt: exp.CreatedAt, UpdatedAt: exp.CreatedAt}, nil
}

func (c *LifecycleCoordinator) createExperimentTx(ctx context.Context, w *txw, actor Actor, spec ExperimentSpec, proposalID, retryOf string) (*Experiment, error) {
	if _, err := spec.validate(); err != nil {
		return nil, err
	}
	if err := c.quarantine.checkBlacklist(ctx, w.tx, spec.Variant); err != nil {
		return nil, err
	}
	now := w.now
	e := &Experiment{
		ID: NewID(PrefixExperiment, now), Title: strings.TrimSpace(spec.Title), Hypothesis: spec.Hypothesis,
		SuccessCriteria: copyStrings(spec.SuccessCriteria), Variant: spec.Variant, State: ExperimentProposed,
		ShadowPercent: spec.ShadowPercent, BudgetUSD: spec.BudgetUSD,
		EvaluationMin: Duration(spec.EvaluationMin), EvaluationMax: Duration(spec.EvaluationMax),
		CreatedBy: actor.Name, CreatedAt: now, UpdatedAt: now, ProposalID: proposalID, RetryOf: retryOf,
	}
	if e.ShadowPercent == 0 {
		e.ShadowPercent = c.cfg.ShadowPercent
	}
	if e.EvaluationMin == 0 {
		e.EvaluationMin = c.cfg.EvaluationMin
	}
	if e.EvaluationMax == 0 {
		e.EvaluationMax = c.cfg.EvaluationMax
	}
	if e.EvaluationMax < e.EvaluationMin {
		e.EvaluationMax = e.EvaluationMin
	}
	if e.Variant.Name == "" && !e.Variant.IsZero() {
		e.Variant.Name = e.ID
	}
	if err := w.tx.ExperimentInsert(ctx, e); err != nil {
		return nil, err
	}
	if err := w.emit(EventExperimentCreated, e.ID, experimentEventData(e)); err != nil {
		return nil, err
	}
	return e, w.audit(actor, "experiment.create", e.ID, map[string]any{"title": e.Title, "variant": e.Variant.Name})
}

func experimentEventData(e *Experiment) map[string]any {
	return map[string]any{"experiment_id": e.ID, "title": e.Title, "state": e.State,
		"variant": e.Variant, "success_criteria": e.SuccessCriteria, "shadow_percent": e.ShadowPercent}
}

// StartExperiment starts a proposed (or held) experiment: it begins receiving
// shadow traffic and its evaluation period starts now. approver names the
// admin who started it.
func (c *LifecycleCoordinator) StartExperiment(ctx context.Context, experimentID, approver string) error {
	actor, err := authorize(ctx, PermExperimentsStart, approver)
	if err != nil {
		return fmt.Errorf("start experiment %s: %w", experimentID, err)
	}
	err = c.tx(ctx, func(ctx context.Context, w *txw) error {
		e, err := w.tx.ExperimentGet(ctx, experimentID)
		if err != nil {
			return err
		}
		next, err := ExperimentTransition(e.State, ActionStart)
		if err != nil {
			return err
		}
		if err := c.quarantine.checkBlacklist(ctx, w.tx, e.Variant); err != nil {
			return err
		}
		e.State, e.StartedAt, e.StartedBy, e.UpdatedAt = next, w.now, actor.Name, w.now
		e.Runs++
		if err := w.tx.ExperimentUpdate(ctx, e); err != nil {
			return err
		}
		data := experimentEventData(e)
		data["approver"] = actor.Name
		data["evaluation_due"] = w.now.Add(e.EvaluationMin.D())
		if err := w.emit(EventExperimentStarted, e.ID, data); err != nil {
			return err
		}
		return w.audit(actor, "experiment.start", e.ID, map[string]any{"approver": approver, "run": e.Runs})
	})
	if err != nil {
		return fmt.Errorf("start experiment %s: %w", experimentID, err)
	}
	return nil
}

// EvaluateExperiment decides PROMOTE, HOLD or QUARANTINE. With metrics (point
// values measured elsewhere) it is allowed from proposed or running; without,
// it decides from the samples measured since the experiment started (running
// only). PROMOTE creates a validated promotion request; QUARANTINE archives
// the experiment in V3 with the evaluation as evidence.
func (c *LifecycleCoordinator) EvaluateExperiment(ctx context.Context, experimentID string, metrics map[string]float64) (Decision, error) {
	ev, err := c.EvaluateExperimentDetailed(ctx, experimentID, metrics)
	if err != nil {
		return "", err
	}
	return ev.Decision, nil
}

// EvaluateExperimentDetailed is EvaluateExperiment returning the whole
// evaluation with its per-criterion explanation.
func (c *LifecycleCoordinator) EvaluateExperimentDetailed(ctx context.Context, experimentID string, metrics map[string]float64) (*Evaluation, error) {
	actor, err := authorize(ctx, PermExperimentsEvaluate, "")
	if err != nil {
		return nil, fmt.Errorf("evaluate experiment %s: %w", experimentID, err)
	}
	for k, v := range metrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("evaluate experiment %s: %w", experimentID, invalidInput("metrics."+k, "must be a finite number"))
		}
		if _, ok := criteria.Lookup(k); !ok {
			return nil, fmt.Errorf("evaluate experiment %s: %w", experimentID, invalidInput("metrics."+k, "unknown metric"))
		}
	}
	var res decision.Result
	if metrics == nil {
		// Measure outside the transaction: the source may be slow.
		e, err := c.store.ExperimentGet(ctx, experimentID)
		if err != nil {
			return nil, fmt.Errorf("evaluate experiment %s: %w", experimentID, err)
		}
		if e.State != ExperimentRunning {
			return nil, fmt.Errorf("evaluate experiment %s: %w: cannot evaluate from samples an experiment in state %q (only running; supply metrics to evaluate a proposed one)", experimentID, ErrInvalidTransition, e.State)
		}
		if res, err = c.measure(ctx, e); err != nil {
			return nil, fmt.Errorf("evaluate experiment %s: %w", experimentID, err)
		}
	}
	var out *Evaluation
	var promotionID string
	err = c.tx(ctx, func(ctx context.Context, w *txw) error {
		e, err := w.tx.ExperimentGet(ctx, experimentID)
		if err != nil {
			return err
		}
		if metrics == nil && e.State != ExperimentRunning {
			return fmt.Errorf("%w: experiment is now in state %q", ErrConflict, e.State)
		}
		r := res
		if metrics != nil {
			cs, err := criteria.ParseSet(e.SuccessCriteria)
			if err != nil {
				return fmt.Errorf("%w: stored criteria: %w", ErrInvalidInput, err)
			}
			r = decision.EvaluatePoint(cs, metrics, c.cfg.Tolerance)
		}
		out = &Evaluation{Decision: r.Decision, Explanation: r.Explanation, At: w.now, By: actor.Name, Metrics: copyFloats(metrics)}
		promotionID, err = c.applyDecisionTx(ctx, w, actor, e, out)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("evaluate experiment %s: %w", experimentID, err)
	}
	if promotionID != "" {
		if _, err := c.promotion.validate(ctx, actor, promotionID); err != nil {
			return out, fmt.Errorf("evaluate experiment %s: validate promotion %s: %w", experimentID, promotionID, err)
		}
	}
	return out, nil
}

// measure evaluates a running experiment from its measured samples.
func (c *LifecycleCoordinator) measure(ctx context.Context, e *Experiment) (decision.Result, error) {
	cs, err := criteria.ParseSet(e.SuccessCriteria)
	if err != nil {
		return decision.Result{}, fmt.Errorf("%w: stored criteria: %w", ErrInvalidInput, err)
	}
	var cand, base decision.Measured
	if c.opts.Measurements != nil {
		if cand, base, err = c.opts.Measurements(ctx, e, e.StartedAt); err != nil {
			return decision.Result{}, fmt.Errorf("read measurements: %w", err)
		}
	}
	return decision.EvaluateSamples(cs, cand, base, c.cfg.Samples), nil
}

// applyDecisionTx moves an experiment through evaluating to its decision and
// carries out the decision's effect. It returns the promotion request's ID on
// PROMOTE (validation is left to the caller, outside the transaction).
func (c *LifecycleCoordinator) applyDecisionTx(ctx context.Context, w *txw, actor Actor, e *Experiment, ev *Evaluation) (string, error) {
	evaluating, err := ExperimentTransition(e.State, ActionEvaluate)
	if err != nil {
		return "", err
	}
	if err := w.emit(EventExperimentEvaluationStarted, e.ID, map[string]any{
		"experiment_id": e.ID, "from_state": e.State, "mode": ev.Explanation.Mode}); err != nil {
		return "", err
	}
	e.State = evaluating
	e.Decision, e.LastEvaluation, e.UpdatedAt = ev.Decision, ev, w.now
	if err := w.emit(EventExperimentEvaluationCompleted, e.ID, map[string]any{
		"experiment_id": e.ID, "decision": ev.Decision, "explanation": ev.Explanation}); err != nil {
		return "", err
	}
	if err := w.audit(actor, "experiment.evaluate", e.ID, map[string]any{
		"decision": string(ev.Decision), "mode": ev.Explanation.Mode, "summary": ev.Explanation.Summary}); err != nil {
		return "", err
	}
	switch ev.Decision {
	case Promote:
		if e.State, err = ExperimentTransition(e.State, ActionDecidePromote); err != nil {
			return "", err
		}
		p, err := c.promotion.requestTx(ctx, w, actor, e, PromotionSpec{ExperimentID: e.ID,
			EvaluationMetrics: ev.Metrics, ConfidenceScore: c.confidenceOf(ev)})
		if err != nil {
			return "", err
		}
		return p.RequestID, nil
	case Quarantine:
		ft, failing := failureTypeOf(ev.Explanation)
		_, err := c.quarantine.quarantineTx(ctx, w, actor, e, ActionDecideQuarantine, QuarantineSpec{
			ExperimentID: e.ID, FailureType: string(ft), MetricsAtFailure: observed(ev.Explanation),
			FailureEvidence: map[string]any{"failing_criteria": failing, "summary": ev.Explanation.Summary},
		}, ev)
		return "", err
	default:
		if e.State, err = ExperimentTransition(e.State, ActionDecideHold); err != nil {
			return "", err
		}
		return "", w.tx.ExperimentUpdate(ctx, e)
	}
}

// confidenceOf is the confidence score passed to a promotion request: the
// configured confidence for sample decisions, 1 minus the tolerance for
// point decisions.
func (c *LifecycleCoordinator) confidenceOf(ev *Evaluation) float64 {
	if ev.Explanation.Mode == "samples" {
		return c.cfg.Samples.Confidence
	}
	return 1 - c.cfg.Tolerance
}

// failureTypeOf maps the failing criteria of an explanation to a failure type.
func failureTypeOf(x decision.Explanation) (FailureType, []string) {
	var failing []string
	ft := FailureType("")
	rank := map[FailureType]int{FailureErrorSpike: 4, FailureAccuracyDegradation: 3, FailureLatencyRegression: 2, FailureCostOverrun: 1}
	consider := func(metric string) {
		failing = append(failing, metric)
		t := metricFailureType(metric)
		if rank[t] > rank[ft] {
			ft = t
		}
	}
	for _, r := range x.Criteria {
		if r.Status == decision.Status("fail") {
			consider(r.Metric)
		}
	}
	for _, r := range x.NonInferiority {
		if r.Status == decision.Status("fail") {
			consider(r.Metric)
		}
	}
	if ft == "" {
		ft = FailureAccuracyDegradation
	}
	return ft, failing
}

func metricFailureType(metric string) FailureType {
	switch {
	case metric == "error_rate":
		return FailureErrorSpike
	case strings.HasPrefix(metric, "latency"):
		return FailureLatencyRegression
	case strings.HasPrefix(metric, "cost"):
		return FailureCostOverrun
	default:
		return FailureAccuracyDegradation
	}
}

func observed(x decision.Explanation) map[string]float64 {
	m := map[string]float64{}
	for _, r := range x.Criteria {
		if r.Observed != nil {
			m[r.Metric] = *r.Observed
		}
	}
	return m
}

// evaluateDue looks at every running experiment: it quarantines one whose
// budget is spent or that fails a criterion with confidence, promotes one
// that passes after the minimum period, and holds one that reached the
// maximum undecided. It returns the decisions it made.
func (c *LifecycleCoordinator) evaluateDue(ctx context.Context) (map[string]Decision, error) {
	running, err := c.store.ExperimentList(ctx, ExperimentFilter{States: []ExperimentState{ExperimentRunning}})
	if err != nil {
		return nil, fmt.Errorf("evaluate due: list running: %w", err)
	}
	// Looks are pure apart from reading measurements, so they run on every
	// core; decisions are then applied one transaction at a time.
	now := c.clock.Now()
	looks := make([]EvaluationLook, len(running))
	lookErrs := make([]error, len(running))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(running)/64))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(running); i += workers {
				looks[i], lookErrs[i] = c.look(ctx, running[i], now)
			}
		}()
	}
	wg.Wait()
	out := map[string]Decision{}
	var errs []error
	for i, e := range running {
		if lookErrs[i] != nil {
			errs = append(errs, fmt.Errorf("evaluate %s: %w", e.ID, lookErrs[i]))
			continue
		}
		if !looks[i].Decide {
			continue
		}
		d, err := c.applyLook(ctx, e, looks[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("evaluate %s: %w", e.ID, err))
			continue
		}
		out[e.ID] = d
	}
	return out, errors.Join(errs...)
}

// EvaluationLook is what the evaluator concludes about a running experiment
// at one look, without changing anything.
type EvaluationLook struct {
	Result decision.Result
	// Decide is true when the look is final (a decision must be applied).
	Decide bool
	// Budget is true when the experiment's budget is spent.
	Budget bool
	Spent  float64
}

// Look evaluates a running experiment from its samples at now and says
// whether a decision is due. It is pure apart from reading measurements.
func (c *LifecycleCoordinator) look(ctx context.Context, e *Experiment, now time.Time) (EvaluationLook, error) {
	var cand, base decision.Measured
	var err error
	if c.opts.Measurements != nil {
		if cand, base, err = c.opts.Measurements(ctx, e, e.StartedAt); err != nil {
			return EvaluationLook{}, fmt.Errorf("read measurements: %w", err)
		}
	}
	if e.BudgetUSD > 0 && cand.CostSum >= e.BudgetUSD {
		return EvaluationLook{Budget: true, Decide: true, Spent: cand.CostSum}, nil
	}
	cs, err := criteria.ParseSet(e.SuccessCriteria)
	if err != nil {
		return EvaluationLook{}, fmt.Errorf("%w: stored criteria: %w", ErrInvalidInput, err)
	}
	r := decision.EvaluateSamples(cs, cand, base, c.cfg.Samples)
	elapsed := now.Sub(e.StartedAt)
	l := EvaluationLook{Result: r, Spent: cand.CostSum}
	switch {
	case r.Decision == Quarantine:
		l.Decide = true // early quarantine: a criterion fails with confidence
	case elapsed >= e.EvaluationMax.D():
		l.Decide = true // must decide at the maximum: PROMOTE, HOLD or QUARANTINE
	case elapsed >= e.EvaluationMin.D() && r.Decision == Promote:
		l.Decide = true
	}
	return l, nil
}

// applyLook carries out a look that decided.
func (c *LifecycleCoordinator) applyLook(ctx context.Context, e *Experiment, l EvaluationLook) (Decision, error) {
	actor := SystemActor("evaluator")
	if l.Budget {
		_, err := c.quarantine.quarantine(ctx, actor, QuarantineSpec{ExperimentID: e.ID,
			FailureType:     string(FailureBudgetExhausted),
			FailureEvidence: map[string]any{"budget_usd": e.BudgetUSD, "spent_usd": l.Spent}}, e.Version)
		if err != nil {
			return "", err
		}
		return Quarantine, nil
	}
	var promotionID string
	var err error
	ev := &Evaluation{Decision: l.Result.Decision, Explanation: l.Result.Explanation, By: actor.Name}
	err = c.tx(ctx, func(ctx context.Context, w *txw) error {
		cur, err := w.tx.ExperimentGet(ctx, e.ID)
		if err != nil {
			return err
		}
		if cur.Version != e.Version {
			return fmt.Errorf("%w: experiment changed while it was being evaluated", ErrConflict)
		}
		ev.At = w.now
		promotionID, err = c.applyDecisionTx(ctx, w, actor, cur, ev)
		return err
	})
	if err != nil {
		return "", err
	}
	if promotionID != "" {
		if _, err := c.promotion.validate(ctx, actor, promotionID); err != nil {
			return ev.Decision, fmt.Errorf("validate promotion %s: %w", promotionID, err)
		}
	}
	return ev.Decision, nil
}

// RejectExperiment declines a proposed, running or held experiment, or one
// whose promotion awaits approval (the promotion is rejected with it).
func (c *LifecycleCoordinator) RejectExperiment(ctx context.Context, experimentID, reason string) error {
	actor, err := authorize(ctx, PermExperimentsWrite, "")
	if err != nil {
		return fmt.Errorf("reject experiment %s: %w", experimentID, err)
	}
	err = c.tx(ctx, func(ctx context.Context, w *txw) error {
		e, err := w.tx.ExperimentGet(ctx, experimentID)
		if err != nil {
			return err
		}
		if e.State == ExperimentPromoting && e.PromotionID != "" {
			return c.promotion.rejectTx(ctx, w, actor, e.PromotionID, reason)
		}
		next, err := ExperimentTransition(e.State, ActionReject)
		if err != nil {
			return err
		}
		e.State, e.UpdatedAt = next, w.now
		if err := w.tx.ExperimentUpdate(ctx, e); err != nil {
			return err
		}
		return w.audit(actor, "experiment.reject", e.ID, map[string]any{"reason": reason})
	})
	if err != nil {
		return fmt.Errorf("reject experiment %s: %w", experimentID, err)
	}
	return nil
}

// ModifyExperiment changes a held experiment's variant and criteria before it
// is started again. Zero fields of spec keep the current value.
func (c *LifecycleCoordinator) ModifyExperiment(ctx context.Context, experimentID string, spec ExperimentSpec) (*Experiment, error) {
	actor, err := authorize(ctx, PermExperimentsWrite, "")
	if err != nil {
		return nil, fmt.Errorf("modify experiment %s: %w", experimentID, err)
	}
	var out *Experiment
	err = c.tx(ctx, func(ctx context.Context, w *txw) error {
		e, err := w.tx.ExperimentGet(ctx, experimentID)
		if err != nil {
			return err
		}
		if _, err := ExperimentTransition(e.State, ActionModify); err != nil {
			return err
		}
		merged := ExperimentSpec{Title: e.Title, Hypothesis: e.Hypothesis, SuccessCriteria: e.SuccessCriteria,
			Variant: e.Variant, ShadowPercent: e.ShadowPercent, BudgetUSD: e.BudgetUSD,
			EvaluationMin: e.EvaluationMin.D(), EvaluationMax: e.EvaluationMax.D()}
		if spec.Title != "" {
			merged.Title = spec.Title
		}
		if spec.Hypothesis != "" {
			merged.Hypothesis = spec.Hypothesis
		}
		if spec.SuccessCriteria != nil {
			merged.SuccessCriteria = spec.SuccessCriteria
		}
		if !spec.Variant.IsZero() {
			merged.Variant = spec.Variant
		}
		if spec.BudgetUSD != 0 {
			merged.BudgetUSD = spec.BudgetUSD
		}
		if _, err := merged.validate(); err != nil {
			return err
		}
		if err := c.quarantine.checkBlacklist(ctx, w.tx, merged.Variant); err != nil {
			return err
		}
		e.Title, e.Hypothesis, e.SuccessCriteria = merged.Title, merged.Hypothesis, copyStrings(merged.SuccessCriteria)
		e.Variant, e.BudgetUSD, e.UpdatedAt = merged.Variant, merged.BudgetUSD, w.now
		if err := w.tx.ExperimentUpdate(ctx, e); err != nil {
			return err
		}
		out = e
		return w.audit(actor, "experiment.modify", e.ID, map[string]any{"variant": e.Variant.Name})
	})
	if err != nil {
		return nil, fmt.Errorf("modify experiment %s: %w", experimentID, err)
	}
	return out, nil
}

// GetExperiment returns one experiment.
func (c *LifecycleCoordinator) GetExperiment(ctx context.Context, id string) (*Experiment, error) {
	if _, err := authorize(ctx, PermExperimentsRead, ""); err != nil {
		return nil, fmt.Errorf("get experiment %s: %w", id, err)
	}
	e, err := c.store.ExperimentGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get experiment: %w", err)
	}
	return e, nil
}

// ListExperiments returns experiments, oldest first, optionally by state.
func (c *LifecycleCoordinator) ListExperiments(ctx context.Context, f ExperimentFilter) ([]*Experiment, error) {
	if _, err := authorize(ctx, PermExperimentsRead, ""); err != nil {
		return nil, fmt.Errorf("list experiments: %w", err)
	}
	for _, s := range f.States {
		if !s.Valid() {
			return nil, fmt.Errorf("list experiments: %w", invalidInput("state", "unknown state %q", s))
		}
	}
	return c.store.ExperimentList(ctx, f)
}

func copyStrings(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func copyFloats(m map[string]float64) map[string]float64 {
	if m == nil {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

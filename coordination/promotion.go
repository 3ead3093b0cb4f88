package coordination

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// PromotionManager handles V1 → V2 promotion: validation, admin approval,
// canary phases with per-phase analysis, rollback and finalization.
type PromotionManager struct {
	c *LifecycleCoordinator // non-nil
}

// PromotionSpec asks for a promotion of an experiment.
type PromotionSpec struct {
	ExperimentID      string
	EvaluationMetrics map[string]float64
	ConfidenceScore   float64
}

// RequestPromotion creates a promotion request for a running, held or
// evaluating experiment and validates it; when it returns, validation has
// run and the request is awaiting_approval or validation_failed.
func (m *PromotionManager) RequestPromotion(ctx context.Context, spec PromotionSpec) (*PromotionRequest, error) {
	actor, err := authorize(ctx, PermExperimentsEvaluate, "")
	if err != nil {
		return nil, fmt.Errorf("request promotion of %s: %w", spec.ExperimentID, err)
	}
	if math.IsNaN(spec.ConfidenceScore) || spec.ConfidenceScore < 0 || spec.ConfidenceScore > 1 {
		return nil, fmt.Errorf("request promotion of %s: %w", spec.ExperimentID,
			invalidInput("confidence_score", "%v is not within [0,1]", spec.ConfidenceScore))
	}
	for k, v := range spec.EvaluationMetrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("request promotion of %s: %w", spec.ExperimentID, invalidInput("evaluation_metrics."+k, "must be a finite number"))
		}
	}
	var id string
	err = m.c.tx(ctx, func(ctx context.Context, w *txw) error {
		e, err := w.tx.ExperimentGet(ctx, spec.ExperimentID)
		if err != nil {
			return err
		}
		if e.State == ExperimentPromoting {
			return fmt.Errorf("%w: experiment %s already has promotion %s", ErrConflict, e.ID, e.PromotionID)
		}
		if e.State, err = ExperimentTransition(e.State, ActionRequestPromotion); err != nil {
			return err
		}
		p, err := m.requestTx(ctx, w, actor, e, spec)
		if err != nil {
			return err
		}
		id = p.RequestID
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("request promotion of %s: %w", spec.ExperimentID, err)
	}
	p, err := m.validate(ctx, actor, id)
	if err != nil {
		return nil, fmt.Errorf("request promotion of %s: %w", spec.ExperimentID, err)
	}
	return p, nil
}

// requestTx stores a new promotion request for e (already moved to
// promoting by the caller) and links it to the experiment.
func (m *PromotionManager) requestTx(ctx context.Context, w *txw, actor Actor, e *Experiment, spec PromotionSpec) (*PromotionRequest, error) {
	rel, err := w.tx.ReleaseActive(ctx)
	if err != nil {
		return nil, fmt.Errorf("read production release: %w", err)
	}
	p := &PromotionRequest{
		RequestID: NewID(PrefixPromotion, w.now), ExperimentID: e.ID, State: PromotionRequested,
		Candidate: e.Variant, EvaluationMetrics: copyFloats(spec.EvaluationMetrics),
		ConfidenceScore: spec.ConfidenceScore, Plan: append([]Phase(nil), m.c.cfg.Phases...),
		FromReleaseID: rel.ID, RequestedAt: w.now, RequestedBy: actor.Name, UpdatedAt: w.now,
	}
	if p.Candidate.Name == "" {
		p.Candidate.Name = e.ID
	}
	if err := w.tx.PromotionInsert(ctx, p); err != nil {
		return nil, err
	}
	e.PromotionID, e.UpdatedAt = p.RequestID, w.now
	if err := w.tx.ExperimentUpdate(ctx, e); err != nil {
		return nil, err
	}
	if err := w.emit(EventPromotionRequested, p.RequestID, promotionEventData(p)); err != nil {
		return nil, err
	}
	return p, w.audit(actor, "promotion.request", p.RequestID, map[string]any{
		"experiment_id": e.ID, "confidence_score": spec.ConfidenceScore})
}

func promotionEventData(p *PromotionRequest) map[string]any {
	return map[string]any{"request_id": p.RequestID, "experiment_id": p.ExperimentID, "state": p.State,
		"traffic_percent": p.TrafficPercent, "candidate": p.Candidate.Name, "from_release_id": p.FromReleaseID}
}

// validate runs the validation checks of a requested (or interrupted
// validating) promotion and records the outcome.
func (m *PromotionManager) validate(ctx context.Context, actor Actor, id string) (*PromotionRequest, error) {
	var p *PromotionRequest
	var e *Experiment
	err := m.c.tx(ctx, func(ctx context.Context, w *txw) error {
		var err error
		if p, err = w.tx.PromotionGet(ctx, id); err != nil {
			return err
		}
		if e, err = w.tx.ExperimentGet(ctx, p.ExperimentID); err != nil {
			return err
		}
		if p.State == PromotionValidating {
			return nil // resumed after an interruption
		}
		if p.State, err = PromotionTransition(p.State, PromotionActionValidate, len(p.Plan)); err != nil {
			return err
		}
		p.UpdatedAt = w.now
		return w.tx.PromotionUpdate(ctx, p)
	})
	if err != nil {
		return nil, fmt.Errorf("start validation: %w", err)
	}
	results := m.runChecks(ctx, e, p)
	failed, safety := false, false
	for _, r := range results {
		if !r.Passed {
			failed = true
			if r.Name == CheckSecurity {
				safety = true
			}
		}
	}
	err = m.c.tx(ctx, func(ctx context.Context, w *txw) error {
		cur, err := w.tx.PromotionGet(ctx, id)
		if err != nil {
			return err
		}
		if cur.State == PromotionAwaitingApproval || cur.State == PromotionValidationFailed {
			// Another pass (a resumed validation) recorded the outcome first.
			p = cur
			return errValidated
		}
		if cur.State != PromotionValidating {
			return fmt.Errorf("%w: promotion %s is now %q", ErrConflict, id, cur.State)
		}
		action := PromotionActionValidationPassed
		if failed {
			action = PromotionActionValidationFailed
		}
		if cur.State, err = PromotionTransition(cur.State, action, len(cur.Plan)); err != nil {
			return err
		}
		cur.Validation, cur.UpdatedAt = results, w.now
		if failed {
			cur.Reason = "validation failed"
		}
		if err := w.tx.PromotionUpdate(ctx, cur); err != nil {
			return err
		}
		if err := w.audit(SystemActor("promotion-validation"), "promotion.validate", id, map[string]any{
			"passed": !failed, "checks": checkSummary(results)}); err != nil {
			return err
		}
		p = cur
		if !failed {
			return nil
		}
		exp, err := w.tx.ExperimentGet(ctx, cur.ExperimentID)
		if err != nil {
			return err
		}
		if safety {
			_, err := m.c.quarantine.quarantineTx(ctx, w, SystemActor("promotion-validation"), exp, ActionQuarantine, QuarantineSpec{
				ExperimentID: exp.ID, FailureType: string(FailureSafetyViolation),
				FailureEvidence: map[string]any{"validation": checkSummary(results)}}, exp.LastEvaluation)
			return err
		}
		if exp.State, err = ExperimentTransition(exp.State, ActionPromotionFailed); err != nil {
			return err
		}
		exp.UpdatedAt = w.now
		return w.tx.ExperimentUpdate(ctx, exp)
	})
	if errors.Is(err, errValidated) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("record validation: %w", err)
	}
	return p, nil
}

// errValidated stops a validation whose outcome another pass recorded.
var errValidated = errors.New("promotion already validated")

// resumeAfter is how long a promotion must have been requested or
// validating before a periodic pass takes its validation over: the request
// that created it validates it at once, and only an interrupted one is
// resumed.
const resumeAfter = 5 * time.Second

func checkSummary(rs []CheckResult) map[string]any {
	out := map[string]any{}
	for _, r := range rs {
		out[r.Name] = map[string]any{"passed": r.Passed, "message": r.Message}
	}
	return out
}

// ApprovePromotion is an admin's approval: the canary starts with phase 1.
// Approving twice is an ErrConflict, and so is approving while another
// promotion is in its phases.
func (m *PromotionManager) ApprovePromotion(ctx context.Context, requestID, approver string) error {
	actor, err := authorize(ctx, PermPromotionsApprove, approver)
	if err != nil {
		return fmt.Errorf("approve promotion %s: %w", requestID, err)
	}
	err = m.c.tx(ctx, func(ctx context.Context, w *txw) error {
		p, err := w.tx.PromotionGet(ctx, requestID)
		if err != nil {
			return err
		}
		if !p.ApprovedAt.IsZero() {
			return fmt.Errorf("%w: promotion %s was already approved by %s at %s (now %q)", ErrConflict,
				p.RequestID, p.ApprovedBy, p.ApprovedAt.Format(time.RFC3339), p.State)
		}
		next, err := PromotionTransition(p.State, PromotionActionApprove, len(p.Plan))
		if err != nil {
			return err
		}
		active, err := w.tx.PromotionList(ctx, PromotionFilter{States: phaseStates(MaxPhases)})
		if err != nil {
			return err
		}
		for _, o := range active {
			if o.RequestID != p.RequestID {
				return fmt.Errorf("%w: promotion %s is already in %q; only one promotion may be in phases at a time", ErrConflict, o.RequestID, o.State)
			}
		}
		// The canary is compared with, and rolls back to, the release that
		// serves production now (another promotion may have completed since
		// this one was requested).
		rel, err := w.tx.ReleaseActive(ctx)
		if err != nil {
			return fmt.Errorf("read production release: %w", err)
		}
		from := p.State
		p.FromReleaseID = rel.ID
		p.ApprovedAt, p.ApprovedBy = w.now, actor.Name
		m.enterPhase(p, next, w.now)
		if err := w.tx.PromotionUpdate(ctx, p); err != nil {
			return err
		}
		if err := w.emit(EventPromotionApproved, p.RequestID, map[string]any{
			"request_id": p.RequestID, "experiment_id": p.ExperimentID, "approver": actor.Name}); err != nil {
			return err
		}
		if err := w.emit(EventPromotionPhaseChanged, p.RequestID, phaseEventData(p, from)); err != nil {
			return err
		}
		return w.audit(actor, "promotion.approve", p.RequestID, map[string]any{"approver": approver, "state": string(p.State)})
	})
	if err != nil {
		return fmt.Errorf("approve promotion %s: %w", requestID, err)
	}
	return nil
}

// phaseStates lists phase_1 … phase_n and finalizing.
func phaseStates(n int) []PromotionState {
	out := make([]PromotionState, 0, n+1)
	for i := 1; i <= n; i++ {
		out = append(out, PhaseState(i))
	}
	return append(out, PromotionFinalizing)
}

// enterPhase moves p into state next at now, starting the phase's durable
// timer when next is a canary phase.
func (m *PromotionManager) enterPhase(p *PromotionRequest, next PromotionState, now time.Time) {
	if n := p.State.Phase(); n > 0 && len(p.Phases) > 0 {
		p.Phases[len(p.Phases)-1].EndedAt = now
	}
	p.State, p.UpdatedAt = next, now
	if n := next.Phase(); n > 0 {
		ph := p.Plan[n-1]
		p.TrafficPercent = ph.Percent
		p.PhaseStartedAt, p.PhaseDueAt = now, now.Add(ph.Duration.D())
		p.Phases = append(p.Phases, PhaseRecord{Phase: n, Percent: ph.Percent, StartedAt: now, DueAt: p.PhaseDueAt})
	}
}

func phaseEventData(p *PromotionRequest, from PromotionState) map[string]any {
	d := promotionEventData(p)
	d["from_state"] = from
	d["phase"] = p.State.Phase()
	if !p.PhaseDueAt.IsZero() && p.State.Phase() > 0 {
		d["phase_started_at"], d["phase_due_at"] = p.PhaseStartedAt, p.PhaseDueAt
	}
	return d
}

// RejectPromotion declines a promotion that has not started its canary; the
// experiment is rejected with it.
func (m *PromotionManager) RejectPromotion(ctx context.Context, requestID, reason string) error {
	actor, err := authorize(ctx, PermPromotionsApprove, "")
	if err != nil {
		return fmt.Errorf("reject promotion %s: %w", requestID, err)
	}
	if err := m.c.tx(ctx, func(ctx context.Context, w *txw) error {
		return m.rejectTx(ctx, w, actor, requestID, reason)
	}); err != nil {
		return fmt.Errorf("reject promotion %s: %w", requestID, err)
	}
	return nil
}

func (m *PromotionManager) rejectTx(ctx context.Context, w *txw, actor Actor, requestID, reason string) error {
	p, err := w.tx.PromotionGet(ctx, requestID)
	if err != nil {
		return err
	}
	if p.State, err = PromotionTransition(p.State, PromotionActionReject, len(p.Plan)); err != nil {
		return err
	}
	p.Reason, p.UpdatedAt = reason, w.now
	if err := w.tx.PromotionUpdate(ctx, p); err != nil {
		return err
	}
	e, err := w.tx.ExperimentGet(ctx, p.ExperimentID)
	if err != nil {
		return err
	}
	if e.State == ExperimentPromoting {
		e.State, e.UpdatedAt = ExperimentRejected, w.now
		if err := w.tx.ExperimentUpdate(ctx, e); err != nil {
			return err
		}
	}
	return w.audit(actor, "promotion.reject", p.RequestID, map[string]any{"reason": reason, "experiment_id": p.ExperimentID})
}

// Rollback sends all traffic back to the old release at once: a promotion in
// its phases, or a completed one (the old release becomes active again). The
// experiment is quarantined (failure type manual for an admin's rollback).
func (m *PromotionManager) Rollback(ctx context.Context, requestID, reason string) error {
	actor, err := authorize(ctx, PermPromotionsRollback, "")
	if err != nil {
		return fmt.Errorf("roll back promotion %s: %w", requestID, err)
	}
	if reason == "" {
		reason = "rolled back by " + actor.Name
	}
	err = m.c.tx(ctx, func(ctx context.Context, w *txw) error {
		p, err := w.tx.PromotionGet(ctx, requestID)
		if err != nil {
			return err
		}
		return m.rollbackTx(ctx, w, actor, p, reason, FailureManual, nil)
	})
	if err != nil {
		return fmt.Errorf("roll back promotion %s: %w", requestID, err)
	}
	return nil
}

// rollbackTx rolls p back in one routing update and quarantines its
// experiment with failure type ft.
func (m *PromotionManager) rollbackTx(ctx context.Context, w *txw, actor Actor, p *PromotionRequest, reason string, ft FailureType, evidence map[string]any) error {
	from := p.State
	next, err := PromotionTransition(p.State, PromotionActionRollback, len(p.Plan))
	if err != nil {
		return err
	}
	if from == PromotionCompleted {
		// Restore the old release and archive the candidate's.
		old, err := w.tx.ReleaseGet(ctx, p.FromReleaseID)
		if err != nil {
			return fmt.Errorf("read release to restore: %w", err)
		}
		cur, err := w.tx.ReleaseActive(ctx)
		if err != nil {
			return fmt.Errorf("read active release: %w", err)
		}
		if cur.ID != p.ToReleaseID {
			return fmt.Errorf("%w: production is release %s, not this promotion's %s", ErrConflict, cur.ID, p.ToReleaseID)
		}
		cur.State, cur.ArchivedAt, cur.Note = ReleaseArchived, w.now, cur.Note+"; rolled back: "+reason
		if err := w.tx.ReleaseUpdate(ctx, cur); err != nil {
			return err
		}
		old.State, old.ArchivedAt = ReleaseActive, time.Time{}
		old.Note = "restored by rollback of " + p.RequestID
		if err := w.tx.ReleaseUpdate(ctx, old); err != nil {
			return err
		}
	}
	if n := from.Phase(); n > 0 && len(p.Phases) > 0 {
		p.Phases[len(p.Phases)-1].EndedAt = w.now
	}
	p.State, p.TrafficPercent, p.RolledBackAt, p.Reason, p.UpdatedAt = next, 0, w.now, reason, w.now
	if err := w.tx.PromotionUpdate(ctx, p); err != nil {
		return err
	}
	if err := w.emit(EventPromotionRollback, p.RequestID, map[string]any{
		"request_id": p.RequestID, "experiment_id": p.ExperimentID, "from_state": from,
		"reason": reason, "restored_release_id": p.FromReleaseID, "traffic_percent": 0}); err != nil {
		return err
	}
	if err := w.audit(actor, "promotion.rollback", p.RequestID, map[string]any{"reason": reason, "from_state": string(from)}); err != nil {
		return err
	}
	e, err := w.tx.ExperimentGet(ctx, p.ExperimentID)
	if err != nil {
		return err
	}
	if e.State.Terminal() {
		return nil
	}
	if evidence == nil {
		evidence = map[string]any{}
	}
	evidence["rollback_reason"], evidence["promotion_id"], evidence["rolled_back_from"] = reason, p.RequestID, string(from)
	_, err = m.c.quarantine.quarantineTx(ctx, w, actor, e, ActionQuarantine, QuarantineSpec{
		ExperimentID: e.ID, FailureType: string(ft), FailureEvidence: evidence,
		MetricsAtFailure: floatsFrom(evidence["metrics"])}, e.LastEvaluation)
	return err
}

func floatsFrom(v any) map[string]float64 {
	m, _ := v.(map[string]float64)
	return m
}

// GetActivePromotions returns promotions still under way (requested through
// finalizing), oldest first.
func (m *PromotionManager) GetActivePromotions(ctx context.Context) ([]*PromotionRequest, error) {
	if _, err := authorize(ctx, PermPromotionsRead, ""); err != nil {
		return nil, fmt.Errorf("get active promotions: %w", err)
	}
	var states []PromotionState
	for _, s := range PromotionStates {
		if s.Active() {
			states = append(states, s)
		}
	}
	for i := 4; i <= MaxPhases; i++ {
		states = append(states, PhaseState(i))
	}
	ps, err := m.c.store.PromotionList(ctx, PromotionFilter{States: states})
	if err != nil {
		return nil, fmt.Errorf("get active promotions: %w", err)
	}
	return ps, nil
}

// GetPromotion returns one promotion request.
func (m *PromotionManager) GetPromotion(ctx context.Context, id string) (*PromotionRequest, error) {
	if _, err := authorize(ctx, PermPromotionsRead, ""); err != nil {
		return nil, fmt.Errorf("get promotion %s: %w", id, err)
	}
	p, err := m.c.store.PromotionGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get promotion: %w", err)
	}
	return p, nil
}

// ListPromotions returns promotion requests, oldest first.
func (m *PromotionManager) ListPromotions(ctx context.Context, f PromotionFilter) ([]*PromotionRequest, error) {
	if _, err := authorize(ctx, PermPromotionsRead, ""); err != nil {
		return nil, fmt.Errorf("list promotions: %w", err)
	}
	return m.c.store.PromotionList(ctx, f)
}

// PromotionReport says what one pass of PromotionManager.RunOnce did.
type PromotionReport struct {
	Advanced   []string `json:"advanced,omitempty"`
	Completed  []string `json:"completed,omitempty"`
	RolledBack []string `json:"rolled_back,omitempty"`
	Validated  []string `json:"validated,omitempty"`
}

// RunOnce drives every active promotion one step: it finishes interrupted
// validations, rolls back a canary whose analysis shows a critical breach,
// and advances a phase whose time has passed and whose analysis passes.
func (m *PromotionManager) RunOnce(ctx context.Context) (PromotionReport, error) {
	var rep PromotionReport
	var errs []error
	pending, err := m.c.store.PromotionList(ctx, PromotionFilter{States: []PromotionState{PromotionRequested, PromotionValidating}})
	if err != nil {
		return rep, fmt.Errorf("promotions: list pending: %w", err)
	}
	now := m.c.clock.Now()
	for _, p := range pending {
		if now.Sub(p.UpdatedAt) < resumeAfter {
			continue // its request is validating it right now
		}
		if _, err := m.validate(ctx, SystemActor("promotion-validation"), p.RequestID); err != nil {
			errs = append(errs, fmt.Errorf("resume validation of %s: %w", p.RequestID, err))
			continue
		}
		rep.Validated = append(rep.Validated, p.RequestID)
	}
	active, err := m.c.store.PromotionList(ctx, PromotionFilter{States: phaseStates(MaxPhases)})
	if err != nil {
		return rep, errors.Join(append(errs, fmt.Errorf("promotions: list active: %w", err))...)
	}
	for _, p := range active {
		if err := m.step(ctx, p, &rep); err != nil {
			errs = append(errs, fmt.Errorf("promotion %s: %w", p.RequestID, err))
		}
	}
	return rep, errors.Join(errs...)
}

// step analyses one promotion in its phases and acts on the verdict.
func (m *PromotionManager) step(ctx context.Context, p *PromotionRequest, rep *PromotionReport) error {
	now := m.c.clock.Now()
	if p.State == PromotionFinalizing {
		return m.change(ctx, p, func(ctx context.Context, w *txw, cur *PromotionRequest) error {
			rep.Completed = append(rep.Completed, cur.RequestID)
			return m.finalizeTx(ctx, w, cur)
		})
	}
	verdict, err := m.Analyze(ctx, p)
	if err != nil {
		return err
	}
	switch {
	case verdict.Critical:
		rep.RolledBack = append(rep.RolledBack, p.RequestID)
		return m.change(ctx, p, func(ctx context.Context, w *txw, cur *PromotionRequest) error {
			return m.rollbackTx(ctx, w, SystemActor("canary-analysis"), cur, "critical breach: "+verdict.Summary(),
				FailureCanarySLOBreach, map[string]any{"analysis": verdict, "metrics": verdict.Metrics()})
		})
	case now.Before(p.PhaseDueAt):
		return nil
	case verdict.Pass:
		return m.change(ctx, p, func(ctx context.Context, w *txw, cur *PromotionRequest) error {
			from := cur.State
			next, err := PromotionTransition(cur.State, PromotionActionAdvance, len(cur.Plan))
			if err != nil {
				return err
			}
			if len(cur.Phases) > 0 {
				cur.Phases[len(cur.Phases)-1].Analysis = verdict.Summary()
			}
			m.enterPhase(cur, next, w.now)
			rep.Advanced = append(rep.Advanced, cur.RequestID)
			if next == PromotionFinalizing {
				if err := w.emit(EventPromotionPhaseChanged, cur.RequestID, phaseEventData(cur, from)); err != nil {
					return err
				}
				rep.Completed = append(rep.Completed, cur.RequestID)
				return m.finalizeTx(ctx, w, cur)
			}
			if err := w.tx.PromotionUpdate(ctx, cur); err != nil {
				return err
			}
			if err := w.emit(EventPromotionPhaseChanged, cur.RequestID, phaseEventData(cur, from)); err != nil {
				return err
			}
			return w.audit(SystemActor("canary-analysis"), "promotion.advance", cur.RequestID, map[string]any{
				"from_state": string(from), "state": string(cur.State), "traffic_percent": cur.TrafficPercent,
				"analysis": verdict.Summary()})
		})
	case !now.Before(p.PhaseDueAt.Add(m.grace(p))):
		rep.RolledBack = append(rep.RolledBack, p.RequestID)
		return m.change(ctx, p, func(ctx context.Context, w *txw, cur *PromotionRequest) error {
			return m.rollbackTx(ctx, w, SystemActor("canary-analysis"), cur,
				"analysis kept failing past the phase's grace period: "+verdict.Summary(),
				FailureCanarySLOBreach, map[string]any{"analysis": verdict, "metrics": verdict.Metrics()})
		})
	}
	return nil
}

// grace is how long past its due time a failing phase may wait.
func (m *PromotionManager) grace(p *PromotionRequest) time.Duration {
	if g := m.c.cfg.CanaryGrace.D(); g > 0 {
		return g
	}
	if n := p.State.Phase(); n > 0 {
		return p.Plan[n-1].Duration.D() / 2
	}
	return 0
}

// change applies fn to the stored promotion in a transaction, only if it is
// still the version that was analysed: a concurrent pass (or a second
// replica) that already acted makes this one a no-op, so a phase changes
// exactly once.
func (m *PromotionManager) change(ctx context.Context, seen *PromotionRequest, fn func(ctx context.Context, w *txw, cur *PromotionRequest) error) error {
	err := m.c.tx(ctx, func(ctx context.Context, w *txw) error {
		cur, err := w.tx.PromotionGet(ctx, seen.RequestID)
		if err != nil {
			return err
		}
		if cur.Version != seen.Version {
			return errStale
		}
		return fn(ctx, w, cur)
	})
	if errors.Is(err, errStale) {
		return nil
	}
	return err
}

var errStale = errors.New("promotion changed since it was analysed")

// finalizeTx makes the candidate the production release, archives the old
// one with a release note, and completes the promotion and the experiment.
func (m *PromotionManager) finalizeTx(ctx context.Context, w *txw, p *PromotionRequest) error {
	old, err := w.tx.ReleaseActive(ctx)
	if err != nil {
		return fmt.Errorf("read production release: %w", err)
	}
	old.State, old.ArchivedAt = ReleaseArchived, w.now
	old.Note = fmt.Sprintf("%s; superseded by %s (promotion %s)", old.Note, p.Candidate.Name, p.RequestID)
	if err := w.tx.ReleaseUpdate(ctx, old); err != nil {
		return err
	}
	e, err := w.tx.ExperimentGet(ctx, p.ExperimentID)
	if err != nil {
		return err
	}
	rel := &Release{ID: NewID(PrefixRelease, w.now), Variant: p.Candidate, State: ReleaseActive,
		ExperimentID: p.ExperimentID, PromotionID: p.RequestID, ActivatedAt: w.now,
		Note: fmt.Sprintf("%s replaces %s: %s (phases %s)", p.Candidate.Name, old.Variant.Name, e.Title, phaseNote(p))}
	if err := w.tx.ReleaseInsert(ctx, rel); err != nil {
		return err
	}
	from := p.State
	if p.State, err = PromotionTransition(p.State, PromotionActionComplete, len(p.Plan)); err != nil {
		return err
	}
	p.TrafficPercent, p.ToReleaseID, p.CompletedAt, p.UpdatedAt = 100, rel.ID, w.now, w.now
	p.RollbackWindowEnds = w.now.Add(m.c.cfg.RollbackWindow.D())
	if err := w.tx.PromotionUpdate(ctx, p); err != nil {
		return err
	}
	if e.State, err = ExperimentTransition(e.State, ActionPromotionCompleted); err != nil {
		return err
	}
	e.UpdatedAt = w.now
	if err := w.tx.ExperimentUpdate(ctx, e); err != nil {
		return err
	}
	d := promotionEventData(p)
	d["from_state"], d["release_id"], d["archived_release_id"], d["release_note"] = from, rel.ID, old.ID, rel.Note
	if err := w.emit(EventPromotionCompleted, p.RequestID, d); err != nil {
		return err
	}
	return w.audit(SystemActor("canary-analysis"), "promotion.complete", p.RequestID, map[string]any{
		"release_id": rel.ID, "archived_release_id": old.ID})
}

func phaseNote(p *PromotionRequest) string {
	s := ""
	for i, ph := range p.Phases {
		if i > 0 {
			s += " → "
		}
		s += fmt.Sprintf("%d%%", ph.Percent)
	}
	return s
}

// ApprovePromotion approves a promotion request on behalf of approver: the
// canary starts with phase 1 (see PromotionManager.ApprovePromotion).
func (c *LifecycleCoordinator) ApprovePromotion(ctx context.Context, requestID, approver string) error {
	return c.promotion.ApprovePromotion(ctx, requestID, approver)
}

package coordination

import (
	"fmt"
	"time"

	"github.com/tricyclehq/tricycle/coordination/decision"
)

// ExperimentState is the state of a V1 experiment. The string values are
// persisted and appear in the API.
type ExperimentState string

const (
	// ExperimentProposed: created, waiting for an admin to start it.
	ExperimentProposed ExperimentState = "proposed"
	// ExperimentRunning: receiving shadow traffic and being measured.
	ExperimentRunning ExperimentState = "running"
	// ExperimentEvaluating: the evaluator is deciding (a transient state).
	ExperimentEvaluating ExperimentState = "evaluating"
	// ExperimentPromoting: decided PROMOTE; a promotion request exists.
	ExperimentPromoting ExperimentState = "promoting"
	// ExperimentPromoted: its canary finished; it is now V2. Terminal unless
	// rolled back within the rollback window.
	ExperimentPromoted ExperimentState = "promoted"
	// ExperimentHeld: decided HOLD; may be modified and started again.
	ExperimentHeld ExperimentState = "held"
	// ExperimentQuarantined: archived in V3. Terminal.
	ExperimentQuarantined ExperimentState = "quarantined"
	// ExperimentRejected: an admin declined the proposal or the promotion. Terminal.
	ExperimentRejected ExperimentState = "rejected"
)

// ExperimentStates lists every experiment state.
var ExperimentStates = []ExperimentState{
	ExperimentProposed, ExperimentRunning, ExperimentEvaluating, ExperimentPromoting,
	ExperimentPromoted, ExperimentHeld, ExperimentQuarantined, ExperimentRejected,
}

// Terminal reports whether no transition leaves the state (promoted may still
// be rolled back within its window, so it is not terminal).
func (s ExperimentState) Terminal() bool {
	return s == ExperimentQuarantined || s == ExperimentRejected
}

// Valid reports whether s is a known state.
func (s ExperimentState) Valid() bool {
	for _, v := range ExperimentStates {
		if v == s {
			return true
		}
	}
	return false
}

// ExperimentAction is what is asked of an experiment.
type ExperimentAction string

const (
	// ActionStart: an admin starts a proposed or held experiment.
	ActionStart ExperimentAction = "start"
	// ActionEvaluate: the evaluator begins a decision (from running, or from
	// proposed/running with metrics measured elsewhere).
	ActionEvaluate ExperimentAction = "evaluate"
	// ActionDecidePromote: the decision is PROMOTE.
	ActionDecidePromote ExperimentAction = "decide_promote"
	// ActionDecideHold: the decision is HOLD.
	ActionDecideHold ExperimentAction = "decide_hold"
	// ActionDecideQuarantine: the decision is QUARANTINE.
	ActionDecideQuarantine ExperimentAction = "decide_quarantine"
	// ActionPromotionCompleted: the canary finished; the variant is V2.
	ActionPromotionCompleted ExperimentAction = "promotion_completed"
	// ActionPromotionFailed: validation failed; the experiment goes back to held.
	ActionPromotionFailed ExperimentAction = "promotion_failed"
	// ActionQuarantine: quarantine by an admin, the system (budget, canary
	// breach, rollback) or the decision.
	ActionQuarantine ExperimentAction = "quarantine"
	// ActionReject: an admin declines the proposal or its promotion.
	ActionReject ExperimentAction = "reject"
	// ActionModify: an admin changes a held experiment's variant or criteria.
	ActionModify ExperimentAction = "modify"
	// ActionRequestPromotion: a promotion is requested directly with metrics
	// measured elsewhere (the seed's PromotionManager.request_promotion).
	ActionRequestPromotion ExperimentAction = "request_promotion"
)

// experimentEdges is the whole V1 state machine: from → action → to.
var experimentEdges = map[ExperimentState]map[ExperimentAction]ExperimentState{
	ExperimentProposed: {
		ActionStart:      ExperimentRunning,
		ActionEvaluate:   ExperimentEvaluating,
		ActionQuarantine: ExperimentQuarantined,
		ActionReject:     ExperimentRejected,
	},
	ExperimentRunning: {
		ActionEvaluate:         ExperimentEvaluating,
		ActionRequestPromotion: ExperimentPromoting,
		ActionQuarantine:       ExperimentQuarantined,
		ActionReject:           ExperimentRejected,
	},
	ExperimentEvaluating: {
		ActionRequestPromotion: ExperimentPromoting,
		ActionDecidePromote:    ExperimentPromoting,
		ActionDecideHold:       ExperimentHeld,
		ActionDecideQuarantine: ExperimentQuarantined,
		ActionQuarantine:       ExperimentQuarantined,
	},
	ExperimentPromoting: {
		ActionPromotionCompleted: ExperimentPromoted,
		ActionPromotionFailed:    ExperimentHeld,
		ActionQuarantine:         ExperimentQuarantined,
		ActionReject:             ExperimentRejected,
	},
	ExperimentPromoted: {
		ActionQuarantine: ExperimentQuarantined,
	},
	ExperimentHeld: {
		ActionStart:            ExperimentRunning,
		ActionRequestPromotion: ExperimentPromoting,
		ActionModify:           ExperimentHeld,
		ActionQuarantine:       ExperimentQuarantined,
		ActionReject:           ExperimentRejected,
	},
}

// ExperimentTransition is the V1 state machine as a pure function: it returns
// the state that action leads to from state, or an ErrInvalidTransition error
// naming the current state and the action.
func ExperimentTransition(state ExperimentState, action ExperimentAction) (ExperimentState, error) {
	if next, ok := experimentEdges[state][action]; ok {
		return next, nil
	}
	if !state.Valid() {
		return state, fmt.Errorf("%w: unknown experiment state %q", ErrInvalidTransition, state)
	}
	return state, fmt.Errorf("%w: cannot %s an experiment in state %q", ErrInvalidTransition, action, state)
}

// Experiment is a V1 candidate: a variant plus a title, a hypothesis and
// success criteria, and what has happened to it.
type Experiment struct {
	ID              string            `json:"experiment_id"`
	Title           string            `json:"title"`
	Hypothesis      string            `json:"hypothesis"`
	SuccessCriteria map[string]string `json:"success_criteria"`
	Variant         Variant           `json:"variant"`
	State           ExperimentState   `json:"state"`
	// ShadowPercent is the share of V2 requests copied to this experiment.
	ShadowPercent float64 `json:"shadow_percent"`
	// BudgetUSD caps the spend on shadow calls; 0 means no budget.
	BudgetUSD float64 `json:"budget_usd,omitempty"`
	// SpentUSD is the spend so far, as last recorded by the data plane.
	SpentUSD      float64  `json:"spent_usd,omitempty"`
	EvaluationMin Duration `json:"evaluation_min"`
	EvaluationMax Duration `json:"evaluation_max"`

	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// StartedAt is when the current run began (zero before the first start).
	StartedAt time.Time `json:"started_at,omitzero"`
	StartedBy string    `json:"started_by,omitempty"`
	// Runs counts starts (a held experiment may be started again).
	Runs int `json:"runs,omitempty"`

	Decision       decision.Decision `json:"decision,omitempty"`
	LastEvaluation *Evaluation       `json:"last_evaluation,omitempty"`
	PromotionID    string            `json:"promotion_id,omitempty"`
	RecordID       string            `json:"record_id,omitempty"`
	// ProposalID is the generator proposal this experiment was accepted from.
	ProposalID string `json:"proposal_id,omitempty"`
	// RetryOf is the quarantine record whose approved retry led here.
	RetryOf string `json:"retry_of,omitempty"`
	// Version increases by one with every stored change (optimistic locking).
	Version int64 `json:"version"`
}

// Evaluation is one decision of the evaluator with its explanation.
type Evaluation struct {
	Decision    decision.Decision    `json:"decision"`
	Explanation decision.Explanation `json:"explanation"`
	At          time.Time            `json:"at"`
	By          string               `json:"by"`
	// Metrics are the point metrics supplied, when the decision used them.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

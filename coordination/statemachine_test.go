package coordination

import (
	"errors"
	"strings"
	"testing"
)

// TestExperimentTransition checks every (state, action) pair: the allowed
// edges of PRODUCT.md lead where they should; every other pair is refused
// with ErrInvalidTransition naming the current state.
func TestExperimentTransition(t *testing.T) {
	t.Parallel()
	allowed := map[ExperimentState]map[ExperimentAction]ExperimentState{
		ExperimentProposed: {ActionStart: ExperimentRunning, ActionEvaluate: ExperimentEvaluating,
			ActionQuarantine: ExperimentQuarantined, ActionReject: ExperimentRejected},
		ExperimentRunning: {ActionEvaluate: ExperimentEvaluating, ActionRequestPromotion: ExperimentPromoting,
			ActionQuarantine: ExperimentQuarantined, ActionReject: ExperimentRejected},
		ExperimentEvaluating: {ActionDecidePromote: ExperimentPromoting, ActionDecideHold: ExperimentHeld,
			ActionDecideQuarantine: ExperimentQuarantined, ActionQuarantine: ExperimentQuarantined,
			ActionRequestPromotion: ExperimentPromoting},
		ExperimentPromoting: {ActionPromotionCompleted: ExperimentPromoted, ActionPromotionFailed: ExperimentHeld,
			ActionQuarantine: ExperimentQuarantined, ActionReject: ExperimentRejected},
		ExperimentPromoted: {ActionQuarantine: ExperimentQuarantined},
		ExperimentHeld: {ActionStart: ExperimentRunning, ActionModify: ExperimentHeld, ActionRequestPromotion: ExperimentPromoting,
			ActionQuarantine: ExperimentQuarantined, ActionReject: ExperimentRejected},
	}
	actions := []ExperimentAction{ActionStart, ActionEvaluate, ActionDecidePromote, ActionDecideHold,
		ActionDecideQuarantine, ActionPromotionCompleted, ActionPromotionFailed, ActionQuarantine,
		ActionReject, ActionModify, ActionRequestPromotion}
	for _, s := range ExperimentStates {
		for _, a := range actions {
			next, err := ExperimentTransition(s, a)
			want, ok := allowed[s][a]
			if ok {
				if err != nil || next != want {
					t.Errorf("%s --%s--> got (%s, %v), want %s", s, a, next, err, want)
				}
				continue
			}
			if !errors.Is(err, ErrInvalidTransition) {
				t.Errorf("%s --%s--> got (%s, %v), want ErrInvalidTransition", s, a, next, err)
				continue
			}
			if !strings.Contains(err.Error(), string(s)) || next != s {
				t.Errorf("%s --%s--> error %q must name the current state and keep it", s, a, err)
			}
		}
	}
	for _, s := range []ExperimentState{ExperimentQuarantined, ExperimentRejected} {
		if !s.Terminal() {
			t.Errorf("%s must be terminal", s)
		}
	}
	if _, err := ExperimentTransition("bogus", ActionStart); !errors.Is(err, ErrInvalidTransition) {
		t.Errorf("unknown state: %v", err)
	}
}

// TestPromotionTransition checks every (state, action) pair of the promotion
// state machine with the default three phases.
func TestPromotionTransition(t *testing.T) {
	t.Parallel()
	type edge struct {
		from PromotionState
		a    PromotionAction
	}
	allowed := map[edge]PromotionState{
		{PromotionRequested, PromotionActionValidate}:          PromotionValidating,
		{PromotionValidating, PromotionActionValidationPassed}: PromotionAwaitingApproval,
		{PromotionValidating, PromotionActionValidationFailed}: PromotionValidationFailed,
		{PromotionAwaitingApproval, PromotionActionApprove}:    PromotionPhase1,
		{PromotionRequested, PromotionActionReject}:            PromotionRejected,
		{PromotionValidating, PromotionActionReject}:           PromotionRejected,
		{PromotionAwaitingApproval, PromotionActionReject}:     PromotionRejected,
		{PromotionPhase1, PromotionActionAdvance}:              PromotionPhase2,
		{PromotionPhase2, PromotionActionAdvance}:              PromotionPhase3,
		{PromotionPhase3, PromotionActionAdvance}:              PromotionFinalizing,
		{PromotionFinalizing, PromotionActionComplete}:         PromotionCompleted,
		{PromotionPhase1, PromotionActionRollback}:             PromotionRolledBack,
		{PromotionPhase2, PromotionActionRollback}:             PromotionRolledBack,
		{PromotionPhase3, PromotionActionRollback}:             PromotionRolledBack,
		{PromotionFinalizing, PromotionActionRollback}:         PromotionRolledBack,
		{PromotionCompleted, PromotionActionRollback}:          PromotionRolledBack,
	}
	actions := []PromotionAction{PromotionActionValidate, PromotionActionValidationPassed, PromotionActionValidationFailed,
		PromotionActionApprove, PromotionActionReject, PromotionActionAdvance, PromotionActionComplete, PromotionActionRollback}
	for _, s := range PromotionStates {
		for _, a := range actions {
			next, err := PromotionTransition(s, a, 3)
			want, ok := allowed[edge{s, a}]
			if ok {
				if err != nil || next != want {
					t.Errorf("%s --%s--> got (%s, %v), want %s", s, a, next, err, want)
				}
				continue
			}
			if !errors.Is(err, ErrInvalidTransition) || !strings.Contains(err.Error(), string(s)) {
				t.Errorf("%s --%s--> got (%s, %v), want ErrInvalidTransition naming the state", s, a, next, err)
			}
		}
	}
	// A two-phase plan finalizes after phase 2; a phase beyond the plan is refused.
	if next, err := PromotionTransition(PromotionPhase2, PromotionActionAdvance, 2); err != nil || next != PromotionFinalizing {
		t.Errorf("two-phase plan: phase_2 advance = (%s, %v)", next, err)
	}
	if _, err := PromotionTransition(PromotionPhase3, PromotionActionAdvance, 2); !errors.Is(err, ErrInvalidTransition) {
		t.Errorf("phase_3 in a two-phase plan must be refused: %v", err)
	}
	if _, err := PromotionTransition(PromotionPhase1, PromotionActionAdvance, 0); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("zero-phase plan must be invalid input: %v", err)
	}
	for _, s := range []PromotionState{PromotionValidationFailed, PromotionRejected, PromotionRolledBack} {
		if !s.Terminal() || s.Active() {
			t.Errorf("%s must be terminal and inactive", s)
		}
	}
	if PromotionPhase2.Phase() != 2 || PromotionCompleted.Phase() != 0 || !PromotionFinalizing.InPhases() {
		t.Error("phase helpers disagree with the state names")
	}
}

func TestValidatePhases(t *testing.T) {
	t.Parallel()
	if err := ValidatePhases(DefaultPhases()); err != nil {
		t.Fatalf("default phases: %v", err)
	}
	bad := [][]Phase{
		nil,
		{{Percent: 0, Duration: 1}},
		{{Percent: 101, Duration: 1}},
		{{Percent: 50, Duration: 1}, {Percent: 10, Duration: 1}},
		{{Percent: 10, Duration: 0}},
	}
	for i, ps := range bad {
		if err := ValidatePhases(ps); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("case %d: %v, want ErrInvalidInput", i, err)
		}
	}
}

package coordination

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PromotionState is the state of a promotion request. The string values are
// persisted and appear in the API.
type PromotionState string

const (
	// PromotionRequested: created by a PROMOTE decision.
	PromotionRequested PromotionState = "requested"
	// PromotionValidating: metrics, load test and security checks running.
	PromotionValidating PromotionState = "validating"
	// PromotionAwaitingApproval: validation passed; an admin must approve.
	PromotionAwaitingApproval PromotionState = "awaiting_approval"
	// PromotionPhase1 is the first canary phase (10% for 24 h by default).
	PromotionPhase1 PromotionState = "phase_1"
	// PromotionPhase2 is the second canary phase (50% for 48 h by default).
	PromotionPhase2 PromotionState = "phase_2"
	// PromotionPhase3 is the third canary phase (100% for 7 days by default).
	PromotionPhase3 PromotionState = "phase_3"
	// PromotionFinalizing: the candidate is becoming the production release.
	PromotionFinalizing PromotionState = "finalizing"
	// PromotionCompleted: the candidate is V2. It may still be rolled back
	// within the rollback window.
	PromotionCompleted PromotionState = "completed"
	// PromotionValidationFailed: a validation check failed. Terminal.
	PromotionValidationFailed PromotionState = "validation_failed"
	// PromotionRejected: an admin declined it. Terminal.
	PromotionRejected PromotionState = "rejected"
	// PromotionRolledBack: traffic went back to the old release. Terminal.
	PromotionRolledBack PromotionState = "rolled_back"
)

// PromotionStates lists every promotion state with the default three phases.
var PromotionStates = []PromotionState{
	PromotionRequested, PromotionValidating, PromotionAwaitingApproval,
	PromotionPhase1, PromotionPhase2, PromotionPhase3, PromotionFinalizing,
	PromotionCompleted, PromotionValidationFailed, PromotionRejected, PromotionRolledBack,
}

// PhaseState returns the state of canary phase n (1-based): "phase_n".
func PhaseState(n int) PromotionState { return PromotionState("phase_" + strconv.Itoa(n)) }

// Phase returns the 1-based canary phase number of s, or 0 when s is not a phase.
func (s PromotionState) Phase() int {
	rest, ok := strings.CutPrefix(string(s), "phase_")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || n > MaxPhases {
		return 0
	}
	return n
}

// InPhases reports whether s is a canary phase or finalizing: the candidate
// takes real traffic.
func (s PromotionState) InPhases() bool { return s.Phase() > 0 || s == PromotionFinalizing }

// Terminal reports whether no transition leaves s (completed may still be
// rolled back, so it is not terminal).
func (s PromotionState) Terminal() bool {
	return s == PromotionValidationFailed || s == PromotionRejected || s == PromotionRolledBack
}

// Active reports whether the promotion is still under way (not completed and
// not terminal).
func (s PromotionState) Active() bool { return !s.Terminal() && s != PromotionCompleted }

// MaxPhases bounds the number of canary phases a plan may have.
const MaxPhases = 9

// PromotionAction is what is asked of a promotion request.
type PromotionAction string

const (
	// PromotionActionValidate starts validation.
	PromotionActionValidate PromotionAction = "validate"
	// PromotionActionValidationPassed ends validation successfully.
	PromotionActionValidationPassed PromotionAction = "validation_passed"
	// PromotionActionValidationFailed ends validation with a failed check.
	PromotionActionValidationFailed PromotionAction = "validation_failed"
	// PromotionActionApprove is an admin's approval: the canary starts.
	PromotionActionApprove PromotionAction = "approve"
	// PromotionActionReject is an admin declining the promotion.
	PromotionActionReject PromotionAction = "reject"
	// PromotionActionAdvance moves to the next phase (or to finalizing after the last).
	PromotionActionAdvance PromotionAction = "advance"
	// PromotionActionComplete finishes finalization.
	PromotionActionComplete PromotionAction = "complete"
	// PromotionActionRollback sends all traffic back to the old release.
	PromotionActionRollback PromotionAction = "rollback"
)

// PromotionTransition is the V2 state machine as a pure function. phases is
// the number of canary phases in the request's plan. It returns the next
// state or an ErrInvalidTransition error naming the current state.
func PromotionTransition(state PromotionState, action PromotionAction, phases int) (PromotionState, error) {
	refuse := func() (PromotionState, error) {
		return state, fmt.Errorf("%w: cannot %s a promotion in state %q", ErrInvalidTransition, action, state)
	}
	if phases < 1 || phases > MaxPhases {
		return state, fmt.Errorf("%w: plan has %d phases (want 1-%d)", ErrInvalidInput, phases, MaxPhases)
	}
	switch action {
	case PromotionActionValidate:
		if state == PromotionRequested {
			return PromotionValidating, nil
		}
	case PromotionActionValidationPassed:
		if state == PromotionValidating {
			return PromotionAwaitingApproval, nil
		}
	case PromotionActionValidationFailed:
		if state == PromotionValidating {
			return PromotionValidationFailed, nil
		}
	case PromotionActionApprove:
		if state == PromotionAwaitingApproval {
			return PhaseState(1), nil
		}
	case PromotionActionReject:
		if state == PromotionAwaitingApproval || state == PromotionRequested || state == PromotionValidating {
			return PromotionRejected, nil
		}
	case PromotionActionAdvance:
		if n := state.Phase(); n > 0 && n <= phases {
			if n == phases {
				return PromotionFinalizing, nil
			}
			return PhaseState(n + 1), nil
		}
	case PromotionActionComplete:
		if state == PromotionFinalizing {
			return PromotionCompleted, nil
		}
	case PromotionActionRollback:
		if state.InPhases() || state == PromotionCompleted {
			return PromotionRolledBack, nil
		}
	}
	return refuse()
}

// Phase is one step of a canary plan.
type Phase struct {
	// Percent of user traffic the candidate takes, 1-100.
	Percent int `json:"percent" yaml:"percent"`
	// Duration the phase lasts before its analysis may advance it.
	Duration Duration `json:"duration" yaml:"duration"`
}

// DefaultPhases is the design note's canary plan: 10% for 24 h, 50% for
// 48 h, 100% for 7 days.
func DefaultPhases() []Phase {
	return []Phase{
		{Percent: 10, Duration: Duration(24 * time.Hour)},
		{Percent: 50, Duration: Duration(48 * time.Hour)},
		{Percent: 100, Duration: Duration(7 * 24 * time.Hour)},
	}
}

// ValidatePhases checks a canary plan: 1-9 phases, percents within 1-100 and
// not decreasing, durations positive.
func ValidatePhases(ps []Phase) error {
	if len(ps) == 0 || len(ps) > MaxPhases {
		return invalidInput("cycle.phases", "want 1-%d phases, got %d", MaxPhases, len(ps))
	}
	prev := 0
	for i, p := range ps {
		if p.Percent < 1 || p.Percent > 100 {
			return invalidInput(fmt.Sprintf("cycle.phases[%d].percent", i), "%d is not within 1-100", p.Percent)
		}
		if p.Percent < prev {
			return invalidInput(fmt.Sprintf("cycle.phases[%d].percent", i), "%d is below the previous phase's %d", p.Percent, prev)
		}
		if p.Duration <= 0 {
			return invalidInput(fmt.Sprintf("cycle.phases[%d].duration", i), "must be positive")
		}
		prev = p.Percent
	}
	return nil
}

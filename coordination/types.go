package coordination

import (
	"time"
)

// Role is an actor's role in the RBAC table.
type Role string

const (
	// RoleAdmin may do everything.
	RoleAdmin Role = "admin"
	// RoleUser may submit code for review and read its own results.
	RoleUser Role = "user"
	// RoleSystem is the Version Control AI: evaluate, recommend, quarantine.
	RoleSystem Role = "system"
)

// Actor is who asked for a change: a person's or token's name and role, or
// "system:<component>" for automatic decisions.
type Actor struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
}

// SystemActor returns the actor for an automatic decision of component.
func SystemActor(component string) Actor {
	return Actor{Name: "system:" + component, Role: RoleSystem}
}

// AdminActor returns an admin actor named name (the seed's approver strings).
func AdminActor(name string) Actor { return Actor{Name: name, Role: RoleAdmin} }

// CheckResult is the outcome of one promotion validation check.
type CheckResult struct {
	Name    string `json:"name"`
	Passed  bool   `json:"passed"`
	Message string `json:"message"`
}

// PhaseRecord is what happened in one canary phase.
type PhaseRecord struct {
	Phase     int       `json:"phase"`
	Percent   int       `json:"percent"`
	StartedAt time.Time `json:"started_at"`
	DueAt     time.Time `json:"due_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	Analysis  string    `json:"analysis,omitempty"`
}

// PromotionRequest is a V1 → V2 promotion through validation, approval and
// canary phases.
type PromotionRequest struct {
	RequestID    string         `json:"request_id"`
	ExperimentID string         `json:"experiment_id"`
	State        PromotionState `json:"state"`
	// TrafficPercent is the share of user traffic the candidate takes now.
	TrafficPercent    int                `json:"traffic_percent"`
	Candidate         Variant            `json:"candidate"`
	EvaluationMetrics map[string]float64 `json:"evaluation_metrics,omitempty"`
	ConfidenceScore   float64            `json:"confidence_score"`
	Plan              []Phase            `json:"plan"`
	Validation        []CheckResult      `json:"validation,omitempty"`
	// FromReleaseID is the production release the canary is compared with and
	// rolled back to.
	FromReleaseID string `json:"from_release_id,omitempty"`
	// ToReleaseID is the release created at finalization.
	ToReleaseID string `json:"to_release_id,omitempty"`

	RequestedAt time.Time `json:"requested_at"`
	RequestedBy string    `json:"requested_by,omitempty"`
	ApprovedAt  time.Time `json:"approved_at,omitzero"`
	ApprovedBy  string    `json:"approved_by,omitempty"`
	// PhaseStartedAt and PhaseDueAt are the durable timer of the current phase:
	// after a restart the remaining time is PhaseDueAt - now.
	PhaseStartedAt time.Time     `json:"phase_started_at,omitzero"`
	PhaseDueAt     time.Time     `json:"phase_due_at,omitzero"`
	Phases         []PhaseRecord `json:"phases,omitempty"`
	CompletedAt    time.Time     `json:"completed_at,omitzero"`
	// RollbackWindowEnds is when a completed promotion can no longer be
	// rolled back automatically (completion + 7 days).
	RollbackWindowEnds time.Time `json:"rollback_window_ends,omitzero"`
	RolledBackAt       time.Time `json:"rolled_back_at,omitzero"`
	Reason             string    `json:"reason,omitempty"`
	UpdatedAt          time.Time `json:"updated_at"`
	Version            int64     `json:"version"`
}

// Remaining returns the time left in the current phase at now (0 when due or
// not in a phase).
func (p *PromotionRequest) Remaining(now time.Time) time.Duration {
	if p.State.Phase() == 0 || p.PhaseDueAt.IsZero() {
		return 0
	}
	if d := p.PhaseDueAt.Sub(now); d > 0 {
		return d
	}
	return 0
}

// ReleaseState is the state of a production release.
type ReleaseState string

const (
	// ReleaseActive serves production (exactly one at a time).
	ReleaseActive ReleaseState = "active"
	// ReleaseArchived is kept in the history for rollback and audit.
	ReleaseArchived ReleaseState = "archived"
)

// Release is a V2 production release.
type Release struct {
	ID           string       `json:"release_id"`
	Variant      Variant      `json:"variant"`
	State        ReleaseState `json:"state"`
	ExperimentID string       `json:"experiment_id,omitempty"`
	PromotionID  string       `json:"promotion_id,omitempty"`
	ActivatedAt  time.Time    `json:"activated_at"`
	ArchivedAt   time.Time    `json:"archived_at,omitzero"`
	Note         string       `json:"note,omitempty"`
	Version      int64        `json:"version"`
}

// FailureType classifies why an experiment was quarantined.
type FailureType string

// Failure types of PRODUCT.md.
const (
	FailureAccuracyDegradation FailureType = "accuracy_degradation"
	FailureLatencyRegression   FailureType = "latency_regression"
	FailureCostOverrun         FailureType = "cost_overrun"
	FailureErrorSpike          FailureType = "error_spike"
	FailureCanarySLOBreach     FailureType = "canary_slo_breach"
	FailureSafetyViolation     FailureType = "safety_violation"
	FailureBudgetExhausted     FailureType = "budget_exhausted"
	FailureManual              FailureType = "manual"
)

// FailureTypes lists every failure type.
var FailureTypes = []FailureType{
	FailureAccuracyDegradation, FailureLatencyRegression, FailureCostOverrun, FailureErrorSpike,
	FailureCanarySLOBreach, FailureSafetyViolation, FailureBudgetExhausted, FailureManual,
}

// Valid reports whether f is a known failure type.
func (f FailureType) Valid() bool {
	for _, v := range FailureTypes {
		if v == f {
			return true
		}
	}
	return false
}

// Snapshot is what an experiment was when it was quarantined.
type Snapshot struct {
	ExperimentID    string            `json:"experiment_id"`
	Title           string            `json:"title"`
	Hypothesis      string            `json:"hypothesis"`
	SuccessCriteria map[string]string `json:"success_criteria"`
	Variant         Variant           `json:"variant"`
	State           ExperimentState   `json:"state"`
	// Baseline is the production variant it was compared with.
	Baseline Variant `json:"baseline"`
}

// Evidence is what the failure looked like.
type Evidence struct {
	FailureEvidence  map[string]any     `json:"failure_evidence,omitempty"`
	MetricsAtFailure map[string]float64 `json:"metrics_at_failure,omitempty"`
	ErrorLogs        string             `json:"error_logs,omitempty"`
	// ErrorLogsTruncated is true when ErrorLogs was cut to MaxErrorLogBytes.
	ErrorLogsTruncated bool        `json:"error_logs_truncated,omitempty"`
	Evaluation         *Evaluation `json:"evaluation,omitempty"`
}

// MaxErrorLogBytes caps the error logs kept as evidence.
const MaxErrorLogBytes = 64 << 10

// RootCause is the rule-table analysis of a failure.
type RootCause struct {
	Category            string   `json:"category"`
	Summary             string   `json:"summary"`
	ContributingFactors []string `json:"contributing_factors"`
	Confidence          float64  `json:"confidence"`
	// Rule names the row of the rule table that matched.
	Rule string `json:"rule"`
}

// QuarantineRecord is a V3 archive entry. It is immutable: the store refuses
// UPDATE and DELETE on it; reviews are appended beside it.
type QuarantineRecord struct {
	RecordID      string      `json:"record_id"`
	ExperimentID  string      `json:"experiment_id"`
	Snapshot      Snapshot    `json:"snapshot"`
	FailureType   FailureType `json:"failure_type"`
	Evidence      Evidence    `json:"evidence"`
	RootCause     RootCause   `json:"root_cause"`
	QuarantinedAt time.Time   `json:"quarantined_at"`
	QuarantinedBy string      `json:"quarantined_by"`
	NextReviewAt  time.Time   `json:"next_review_at"`
	// ContentHash is the SHA-256 of the record's content (all fields above).
	ContentHash string `json:"content_hash"`
}

// QuarantineReview is a review appended to a quarantine record.
type QuarantineReview struct {
	ReviewID      string    `json:"review_id"`
	RecordID      string    `json:"record_id"`
	Reviewer      string    `json:"reviewer"`
	RetryApproved bool      `json:"retry_approved"`
	Notes         string    `json:"notes"`
	ReviewedAt    time.Time `json:"reviewed_at"`
	// NextReviewAt is the next quarterly review after this one.
	NextReviewAt time.Time `json:"next_review_at"`
	// ProposalID is the retry proposal created when RetryApproved.
	ProposalID string `json:"proposal_id,omitempty"`
}

// BlacklistKind is what a blacklist entry matches.
type BlacklistKind string

const (
	// BlacklistFingerprint matches the same normalised variant configuration.
	BlacklistFingerprint BlacklistKind = "fingerprint"
	// BlacklistModelPrompt matches the same model with the same prompt.
	BlacklistModelPrompt BlacklistKind = "model_prompt"
)

// BlacklistEntry blocks experiments similar to a quarantined one.
type BlacklistEntry struct {
	ID        string        `json:"id"`
	RecordID  string        `json:"record_id"`
	Kind      BlacklistKind `json:"kind"`
	Key       string        `json:"key"`
	CreatedAt time.Time     `json:"created_at"`
	LiftedAt  time.Time     `json:"lifted_at,omitzero"`
	LiftedBy  string        `json:"lifted_by,omitempty"`
}

// ProposalState is the state of a generator proposal.
type ProposalState string

const (
	// ProposalSuggested: waiting for an admin to accept it.
	ProposalSuggested ProposalState = "suggested"
	// ProposalAccepted: turned into a proposed experiment.
	ProposalAccepted ProposalState = "accepted"
	// ProposalDismissed: declined or superseded.
	ProposalDismissed ProposalState = "dismissed"
)

// Proposal is a suggested experiment (from the generator or a retry review),
// or the answer of CreateExperiment (then already accepted, with ExperimentID).
type Proposal struct {
	ProposalID      string            `json:"proposal_id"`
	ExperimentID    string            `json:"experiment_id,omitempty"`
	Title           string            `json:"title"`
	Hypothesis      string            `json:"hypothesis"`
	SuccessCriteria map[string]string `json:"success_criteria"`
	Variant         Variant           `json:"variant"`
	// Source is research, internal_signals, user_feedback, v3_reevaluation,
	// retry or manual.
	Source   string        `json:"source"`
	Priority float64       `json:"priority"`
	State    ProposalState `json:"state"`
	// Rationale lists the observations behind the proposal.
	Rationale []string `json:"rationale,omitempty"`
	// RecordID links a retry or re-evaluation proposal to its quarantine record.
	RecordID string `json:"record_id,omitempty"`
	// DedupeKey is equal for proposals that would test the same thing.
	DedupeKey string    `json:"dedupe_key"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// Proposal sources.
const (
	SourceResearch        = "research"
	SourceInternalSignals = "internal_signals"
	SourceUserFeedback    = "user_feedback"
	SourceV3Reevaluation  = "v3_reevaluation"
	SourceRetry           = "retry"
	SourceManual          = "manual"
)

// AuditEntry is one link of the hash-chained audit log.
type AuditEntry struct {
	// Seq is the entry's position, assigned by the store (1, 2, …).
	Seq     int64          `json:"seq"`
	At      time.Time      `json:"at"`
	Actor   string         `json:"actor"`
	Role    Role           `json:"role"`
	Action  string         `json:"action"`
	Target  string         `json:"target"`
	Details map[string]any `json:"details,omitempty"`
	// PrevHash is the previous entry's Hash ("" for the first).
	PrevHash string `json:"prev_hash"`
	// Hash is SHA-256 over PrevHash and this entry's content.
	Hash string `json:"hash"`
}

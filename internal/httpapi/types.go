package httpapi

import (
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/decision"
)

// List is the answer of every list endpoint: {"items": [...]}.
type List[T any] struct {
	Items []T `json:"items"`
}

func listOf[T any](items []T) List[T] {
	if items == nil {
		items = []T{}
	}
	return List[T]{Items: items}
}

// CreateExperimentRequest is the body of POST /api/v1/experiments.
type CreateExperimentRequest struct {
	Title           string               `json:"title"`
	Hypothesis      string               `json:"hypothesis"`
	SuccessCriteria map[string]string    `json:"success_criteria"`
	Variant         coordination.Variant `json:"variant"`
	// ShadowPercent overrides the configured shadow share (0: the default).
	ShadowPercent float64 `json:"shadow_percent,omitempty"`
	// BudgetUSD caps the spend on shadow calls (0: no budget).
	BudgetUSD float64 `json:"budget_usd,omitempty"`
	// EvaluationMin and EvaluationMax override the evaluation period.
	EvaluationMin coordination.Duration `json:"evaluation_min,omitempty"`
	EvaluationMax coordination.Duration `json:"evaluation_max,omitempty"`
}

// StartRequest is the optional body of POST /api/v1/experiments/{id}/start.
type StartRequest struct {
	// Approver names who approved the start (default: the token's name).
	Approver string `json:"approver,omitempty"`
}

// EvaluateRequest is the optional body of POST /api/v1/experiments/{id}/evaluate.
type EvaluateRequest struct {
	// Metrics are point values measured elsewhere; without them the
	// experiment is evaluated from its measured samples.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// EvaluateResponse is the evaluator's decision with its explanation and
// what it did to the experiment.
type EvaluateResponse struct {
	ExperimentID string                       `json:"experiment_id"`
	Decision     coordination.Decision        `json:"decision"`
	Explanation  decision.Explanation         `json:"explanation"`
	At           time.Time                    `json:"at"`
	By           string                       `json:"by"`
	Metrics      map[string]float64           `json:"metrics,omitempty"`
	State        coordination.ExperimentState `json:"state"`
	// PromotionID names the promotion request a PROMOTE created.
	PromotionID string `json:"promotion_id,omitempty"`
	// RecordID names the quarantine record a QUARANTINE created.
	RecordID string `json:"record_id,omitempty"`
}

// ReasonRequest is the optional body of the reject and dismiss endpoints.
type ReasonRequest struct {
	Reason string `json:"reason,omitempty"`
}

// ApproveRequest is the optional body of POST /api/v1/promotions/{id}/approve.
type ApproveRequest struct {
	// Approver names who approved (default: the token's name).
	Approver string `json:"approver,omitempty"`
}

// QuarantineRequest is the body of POST /api/v1/experiments/{id}/quarantine.
type QuarantineRequest struct {
	// FailureType is one of the failure types (default manual).
	FailureType      string             `json:"failure_type,omitempty"`
	FailureEvidence  map[string]any     `json:"failure_evidence,omitempty"`
	ErrorLogs        string             `json:"error_logs,omitempty"`
	MetricsAtFailure map[string]float64 `json:"metrics_at_failure,omitempty"`
}

// QuarantineRecordResponse is a quarantine record with its reviews.
type QuarantineRecordResponse struct {
	*coordination.QuarantineRecord
	Reviews []*coordination.QuarantineReview `json:"reviews"`
}

// ReviewRequest is the body of POST /api/v1/quarantine/{id}/review.
type ReviewRequest struct {
	// Reviewer names the reviewer (default: the token's name).
	Reviewer      string `json:"reviewer,omitempty"`
	RetryApproved bool   `json:"retry_approved"`
	Notes         string `json:"notes,omitempty"`
}

// RollbackRequest is the body of POST /api/v1/rollback (emergency) and the
// optional body of POST /api/v1/promotions/{id}/rollback.
type RollbackRequest struct {
	Reason string `json:"reason"`
}

// RollbackResponse answers an emergency rollback with the release now
// serving production.
type RollbackResponse struct {
	RolledBack bool                  `json:"rolled_back"`
	Reason     string                `json:"reason"`
	Production *coordination.Release `json:"production,omitempty"`
}

// AuditPage is a page of the audit log; NextAfter is the cursor for the next
// page (the last entry's seq), 0 when the page is empty.
type AuditPage struct {
	Items     []*coordination.AuditEntry `json:"items"`
	NextAfter int64                      `json:"next_after"`
}

// CreateTokenRequest is the body of POST /api/v1/tokens.
type CreateTokenRequest struct {
	Name string            `json:"name"`
	Role coordination.Role `json:"role"`
}

// TokenView is a token as the API shows it: never its hash.
type TokenView struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Role      coordination.Role `json:"role"`
	CreatedAt time.Time         `json:"created_at"`
	CreatedBy string            `json:"created_by,omitempty"`
	RevokedAt time.Time         `json:"revoked_at,omitzero"`
}

// TokenCreated answers POST /api/v1/tokens: the plaintext token, shown this
// once, and the token's record.
type TokenCreated struct {
	// Token is the bearer token; only its hash is kept.
	Token string `json:"token"`
	TokenView
}

func tokenView(t *coordination.Token) TokenView {
	return TokenView{ID: t.ID, Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy,
		RevokedAt: t.RevokedAt}
}

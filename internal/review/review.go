// Package review holds the data plane's vocabulary: a review request (a unified
// diff and optional full files), the findings a reviewer returns, token usage
// and cost, and the Reviewer interface that every provider implements.
//
// Code under review is hostile input: nothing in this package executes it, and
// providers must fence it as data when they build prompts.
package review

import (
	"context"
	"time"
)

// Severity ranks a finding. The values are persisted and sent over the API.
type Severity string

const (
	// SeverityInfo is a remark that needs no action.
	SeverityInfo Severity = "info"
	// SeverityLow is a minor issue.
	SeverityLow Severity = "low"
	// SeverityMedium is an issue worth fixing before merge.
	SeverityMedium Severity = "medium"
	// SeverityHigh is a likely bug or vulnerability.
	SeverityHigh Severity = "high"
	// SeverityCritical is an exploitable vulnerability or data loss.
	SeverityCritical Severity = "critical"
)

// Severities lists every severity from least to most severe.
var Severities = []Severity{SeverityInfo, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// Rank orders severities: info 0 … critical 4; an unknown value ranks -1.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return -1
}

// Valid reports whether s is one of Severities.
func (s Severity) Valid() bool { return s.Rank() >= 0 }

// Finding is one issue a reviewer reports on a line of the diff.
type Finding struct {
	File       string   `json:"file"`
	Line       int      `json:"line"`
	Severity   Severity `json:"severity"`
	Category   string   `json:"category"`
	Rule       string   `json:"rule"`
	Message    string   `json:"message"`
	Suggestion string   `json:"suggestion"`
}

// Request is one code review asked for by a user (or a shadow copy of one).
type Request struct {
	// ID identifies the request; shadow copies keep the production request's ID.
	ID string `json:"request_id"`
	// Repository is "org/repo"; it is the sticky routing key when set.
	Repository string `json:"repository"`
	// Client names the caller (token name); the routing key when Repository is empty.
	Client string `json:"client,omitempty"`
	// Diff is a unified diff.
	Diff string `json:"diff"`
	// Files optionally holds full file contents keyed by path.
	Files map[string]string `json:"files,omitempty"`
}

// Usage is what one review consumed.
type Usage struct {
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

// Result is what a reviewer returns for one request.
type Result struct {
	Findings []Finding     `json:"findings"`
	Summary  string        `json:"summary"`
	Usage    Usage         `json:"usage"`
	Latency  time.Duration `json:"-"`
	// Model names the model that produced the result (for cascades, the last one).
	Model string `json:"model,omitempty"`
}

// Reviewer reviews one request. Implementations must be safe for concurrent
// use and must honour ctx's deadline.
type Reviewer interface {
	Review(ctx context.Context, req Request) (Result, error)
}

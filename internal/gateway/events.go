package gateway

import (
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
)

// Event types the data plane adds to the cycle's bus. V1 and V2 never call
// each other: shadow copies and their results travel only as these events.
const (
	// EventShadowRequested carries a production request and V2's outcome on
	// it to the experiments worker (data: ShadowRequest).
	EventShadowRequested = "review.shadow.requested"
	// EventShadowCompleted reports an experiment variant's result on a
	// shadowed request (data: ShadowCompleted).
	EventShadowCompleted = "review.shadow.completed"
)

// Event sources of the data plane's events.
const (
	// SourceGateway is the source of EventShadowRequested.
	SourceGateway = "/tricycle/gateway"
	// SourceExperiments is the source of EventShadowCompleted.
	SourceExperiments = "/tricycle/experiments"
)

// ConsumerExperiments is the durable consumer name of the experiments worker.
const ConsumerExperiments = "experiments"

// ShadowOutcome is V2's outcome on a shadowed request.
type ShadowOutcome struct {
	// Variant names the production variant that answered.
	Variant      string           `json:"variant,omitempty"`
	Findings     []review.Finding `json:"findings"`
	LatencyMS    float64          `json:"latency_ms"`
	Error        bool             `json:"error"`
	InputTokens  int64            `json:"input_tokens"`
	OutputTokens int64            `json:"output_tokens"`
	CostUSD      float64          `json:"cost_usd"`
}

// ShadowRequest is the data of EventShadowRequested.
type ShadowRequest struct {
	RequestID    string         `json:"request_id"`
	ExperimentID string         `json:"experiment_id"`
	Request      review.Request `json:"request"`
	V2           ShadowOutcome  `json:"v2"`
}

// ShadowCompleted is the data of EventShadowCompleted.
type ShadowCompleted struct {
	RequestID    string  `json:"request_id"`
	ExperimentID string  `json:"experiment_id"`
	Variant      string  `json:"variant"`
	Error        bool    `json:"error"`
	LatencyMS    float64 `json:"latency_ms"`
	CostUSD      float64 `json:"cost_usd"`
	// Agreement is the Jaccard similarity of the variant's findings and
	// V2's (see Agreement); 0 when either side failed.
	Agreement float64 `json:"agreement"`
	Findings  int     `json:"findings"`
}

// newEvent builds a data-plane event from source about subject.
func newEvent(typ, source, subject string, now time.Time, data any) (coordination.Event, error) {
	ev, err := coordination.NewEvent(typ, subject, now, data)
	if err != nil {
		return ev, err
	}
	ev.Source = source
	return ev, nil
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fromMS converts float milliseconds to a duration.
func fromMS(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

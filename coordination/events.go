package coordination

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event types, verbatim from the design note. Each state change commits its
// event in the same transaction (outbox) and the relay publishes it on the bus.
const (
	EventExperimentCreated             = "experiment.created"
	EventExperimentStarted             = "experiment.started"
	EventExperimentEvaluationStarted   = "experiment.evaluation.started"
	EventExperimentEvaluationCompleted = "experiment.evaluation.completed"

	EventPromotionRequested    = "promotion.requested"
	EventPromotionApproved     = "promotion.approved"
	EventPromotionPhaseChanged = "promotion.phase.changed"
	EventPromotionCompleted    = "promotion.completed"
	EventPromotionRollback     = "promotion.rollback"

	EventQuarantineRequested = "quarantine.requested"
	EventQuarantineCompleted = "quarantine.completed"
	EventQuarantineReviewed  = "quarantine.reviewed"

	EventMonitoringAlert    = "monitoring.alert"
	EventMonitoringRecovery = "monitoring.recovery"
	EventAutoRemediation    = "system.auto_remediation"

	// EventSystemAutoRemediation is EventAutoRemediation under the name of
	// its type string.
	EventSystemAutoRemediation = EventAutoRemediation
)

// EventTypes lists the cycle's event types in the design note's order.
var EventTypes = []string{
	EventExperimentCreated, EventExperimentStarted, EventExperimentEvaluationStarted,
	EventExperimentEvaluationCompleted, EventPromotionRequested, EventPromotionApproved,
	EventPromotionPhaseChanged, EventPromotionCompleted, EventPromotionRollback,
	EventQuarantineRequested, EventQuarantineCompleted, EventQuarantineReviewed,
	EventMonitoringAlert, EventMonitoringRecovery, EventAutoRemediation,
}

// EventSource is the CloudEvents source of events emitted by the cycle.
const EventSource = "/tricycle/coordination"

// Event is a CloudEvents 1.0 envelope in its JSON form. ID is unique per event
// and is what consumers deduplicate on; Seq is the outbox position assigned by
// the store (not part of the envelope).
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            time.Time       `json:"time"`
	Subject         string          `json:"subject,omitempty"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
	Seq             int64           `json:"-"`
}

// NewEvent builds an event of type typ about subject with data marshalled to
// JSON. It fails only when data cannot be marshalled.
func NewEvent(typ, subject string, now time.Time, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("marshal %s event data: %w", typ, err)
	}
	return Event{
		SpecVersion:     "1.0",
		ID:              NewID(PrefixEvent, now),
		Source:          EventSource,
		Type:            typ,
		Time:            now.UTC(),
		Subject:         subject,
		DataContentType: "application/json",
		Data:            raw,
	}, nil
}

// DecodeData unmarshals the event's data into v.
func (e Event) DecodeData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("decode %s event %s data: %w", e.Type, e.ID, err)
	}
	return nil
}

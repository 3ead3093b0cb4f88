package coordination_test

import (
	"encoding/json"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/tricyclehq/tricycle/coordination"
)

// TestEveryEventTypeExactlyWhenDue runs the whole cycle once — a promotion
// through every phase, a quarantine with a review, an alert that fires,
// remediates and recovers, and a rolled-back canary — and checks how many
// events of each of the design note's types were emitted. Every envelope
// must also be a valid CloudEvent for the reference SDK.
func TestEveryEventTypeExactlyWhenDue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A promotion through all phases.
	_, pr := b.promoted(t, candidate)
	if err := b.c.ApprovePromotion(b.ctx, pr.RequestID, "admin"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b.clock.Advance(8 * 24 * time.Hour)
		b.runOnce(t)
	}
	// A quarantine with a review.
	p, err := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: "q"})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := b.c.Quarantine().QuarantineExperiment(b.ctx, coordination.QuarantineSpec{ExperimentID: p.ExperimentID})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.c.Quarantine().ReviewQuarantined(b.ctx, coordination.ReviewSpec{RecordID: rec.RecordID, Reviewer: "r"}); err != nil {
		t.Fatal(err)
	}
	// A canary rolled back by the health monitor; the alert then recovers.
	other := candidate
	other.Name, other.Model = "other", "other-model"
	_, pr2 := b.promoted(t, other)
	if err := b.c.ApprovePromotion(b.ctx, pr2.RequestID, "admin"); err != nil {
		t.Fatal(err)
	}
	b.src.set(func(f *fakeSource) { f.health["canary"] = sample(0.09, 1) })
	b.runOnce(t)
	b.clock.Advance(2 * time.Minute)
	b.runOnce(t) // fires, remediates (rollback); the canary is gone, so its alerts resolve next pass
	b.clock.Advance(time.Minute)
	b.runOnce(t)

	want := map[string]int{
		coordination.EventExperimentCreated:             3, // candidate, q, other
		coordination.EventExperimentStarted:             2, // promoted() starts its experiment
		coordination.EventExperimentEvaluationStarted:   2,
		coordination.EventExperimentEvaluationCompleted: 2,
		coordination.EventPromotionRequested:            2,
		coordination.EventPromotionApproved:             2,
		coordination.EventPromotionPhaseChanged:         5, // phase_1, phase_2, phase_3, finalizing; phase_1 of the second
		coordination.EventPromotionCompleted:            1,
		coordination.EventPromotionRollback:             1,
		coordination.EventQuarantineRequested:           2, // q, and the rolled-back canary
		coordination.EventQuarantineCompleted:           2,
		coordination.EventQuarantineReviewed:            1,
		coordination.EventMonitoringAlert:               2, // canary error_rate warning and critical
		coordination.EventMonitoringRecovery:            2,
		coordination.EventAutoRemediation:               1,
	}
	got := map[string]int{}
	for _, ev := range b.events(t) {
		got[ev.Type]++
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var ce cloudevents.Event
		if err := json.Unmarshal(raw, &ce); err != nil {
			t.Fatalf("%s is not a CloudEvent: %v", ev.Type, err)
		}
		if err := ce.Validate(); err != nil {
			t.Fatalf("%s: invalid CloudEvent: %v", ev.Type, err)
		}
	}
	for _, typ := range coordination.EventTypes {
		if got[typ] != want[typ] {
			t.Errorf("%s emitted %d times, want %d", typ, got[typ], want[typ])
		}
	}
}

package coordination_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/decision"
)

// TestCanaryAdvancesOverDays drives a promotion through 10% (24 h), 50%
// (48 h) and 100% (7 d) on the injected clock and checks each step.
func TestCanaryAdvancesOverDays(t *testing.T) {
	t.Parallel()
	b := setup(t)
	before, err := b.c.Store().ReleaseActive(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	exp, pr := b.promoted(t, candidate)
	if err := b.c.ApprovePromotion(b.ctx, pr.RequestID, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	p := b.promotion(t, pr.RequestID)
	if p.State != coordination.PromotionPhase1 || p.TrafficPercent != 10 || !p.PhaseDueAt.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("after approval: %s %d%% due %s", p.State, p.TrafficPercent, p.PhaseDueAt)
	}
	steps := []struct {
		advance time.Duration
		state   coordination.PromotionState
		percent int
	}{
		{23 * time.Hour, coordination.PromotionPhase1, 10},
		{time.Hour, coordination.PromotionPhase2, 50},
		{47 * time.Hour, coordination.PromotionPhase2, 50},
		{time.Hour, coordination.PromotionPhase3, 100},
		{7*24*time.Hour - time.Minute, coordination.PromotionPhase3, 100},
		{time.Minute, coordination.PromotionCompleted, 100},
		{time.Hour, coordination.PromotionCompleted, 100},
	}
	for i, s := range steps {
		b.clock.Advance(s.advance)
		b.runOnce(t)
		p := b.promotion(t, pr.RequestID)
		if p.State != s.state || p.TrafficPercent != s.percent {
			t.Fatalf("step %d (+%s): %s %d%%, want %s %d%%", i, s.advance, p.State, p.TrafficPercent, s.state, s.percent)
		}
	}
	if got := b.count(t, coordination.EventPromotionPhaseChanged); got != 4 {
		t.Errorf("phase.changed events = %d, want 4 (phase_1, phase_2, phase_3, finalizing)", got)
	}
	if got := b.count(t, coordination.EventPromotionCompleted); got != 1 {
		t.Errorf("promotion.completed events = %d, want 1", got)
	}
	if e := b.experiment(t, exp.ID); e.State != coordination.ExperimentPromoted {
		t.Errorf("experiment state %s, want promoted", e.State)
	}
	rels, err := b.c.Releases(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 2 || rels[0].State != coordination.ReleaseActive || rels[0].Variant.Name != "gpt-x" ||
		rels[1].ID != before.ID || rels[1].State != coordination.ReleaseArchived || rels[0].Note == "" {
		t.Fatalf("release history wrong: %+v", rels)
	}
}

// TestCanaryCriticalBreachRollsBack: a canary whose error rate is far above
// the critical threshold is rolled back on the next pass, whatever its phase
// time, and its experiment lands in V3 as canary_slo_breach.
func TestCanaryCriticalBreachRollsBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	exp, pr := b.promoted(t, candidate)
	if err := b.c.ApprovePromotion(b.ctx, pr.RequestID, "admin"); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(time.Hour)
	b.runOnce(t)
	if p := b.promotion(t, pr.RequestID); p.State != coordination.PromotionPhase1 {
		t.Fatalf("healthy canary moved to %s", p.State)
	}
	b.src.set(func(f *fakeSource) {
		f.canary = decision.Measured{Requests: 400, Errors: 80, Latency: constLatency(400, 1)}
		f.stable = decision.Measured{Requests: 3600, Errors: 18, Latency: constLatency(400, 1)}
	})
	b.clock.Advance(time.Minute)
	rep := b.runOnce(t)
	if len(rep.Promotions.RolledBack) != 1 {
		t.Fatalf("report %+v, want one rollback", rep.Promotions)
	}
	p := b.promotion(t, pr.RequestID)
	if p.State != coordination.PromotionRolledBack || p.TrafficPercent != 0 {
		t.Fatalf("promotion %s %d%%", p.State, p.TrafficPercent)
	}
	e := b.experiment(t, exp.ID)
	if e.State != coordination.ExperimentQuarantined {
		t.Fatalf("experiment %s", e.State)
	}
	rec, err := b.c.Quarantine().GetRecord(b.ctx, e.RecordID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.FailureType != coordination.FailureCanarySLOBreach || rec.Evidence.MetricsAtFailure["error_rate"] != 0.2 {
		t.Errorf("record %s %+v", rec.FailureType, rec.Evidence.MetricsAtFailure)
	}
	if b.count(t, coordination.EventPromotionRollback) != 1 || b.count(t, coordination.EventQuarantineCompleted) != 1 {
		t.Error("want exactly one promotion.rollback and one quarantine.completed")
	}
	// The variant cannot come back by accident.
	_, err = b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: "again", Variant: candidate})
	wantErr(t, err, coordination.ErrBlacklisted, rec.RecordID)
}

// TestApproveTwiceIsAConflict: a double approval is a clear conflict, not a
// second phase, and writes nothing.
func TestApproveTwiceIsAConflict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, pr := b.promoted(t, candidate)
	if err := b.c.ApprovePromotion(b.ctx, pr.RequestID, "alice"); err != nil {
		t.Fatal(err)
	}
	events, audits := len(b.events(t)), b.auditLen(t)
	err := b.c.ApprovePromotion(b.ctx, pr.RequestID, "bob")
	wantErr(t, err, coordination.ErrConflict, "already approved by alice")
	if len(b.events(t)) != events || b.auditLen(t) != audits {
		t.Error("a refused approval wrote events or audit entries")
	}
	if p := b.promotion(t, pr.RequestID); p.State != coordination.PromotionPhase1 || p.ApprovedBy != "alice" {
		t.Errorf("promotion %s approved by %s", p.State, p.ApprovedBy)
	}
}

// TestOnlyOnePromotionInPhases: approving a second promotion while one is in
// its phases is refused and names the first.
func TestOnlyOnePromotionInPhases(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, first := b.promoted(t, candidate)
	other := candidate
	other.Name, other.Model = "other", "other-model"
	_, second := b.promoted(t, other)
	if err := b.c.ApprovePromotion(b.ctx, first.RequestID, "admin"); err != nil {
		t.Fatal(err)
	}
	err := b.c.ApprovePromotion(b.ctx, second.RequestID, "admin")
	wantErr(t, err, coordination.ErrConflict, first.RequestID)
	if p := b.promotion(t, second.RequestID); p.State != coordination.PromotionAwaitingApproval {
		t.Errorf("second promotion moved to %s", p.State)
	}
}

// TestAdminRollbackAndEmergencyRollback: an admin rolls back a canary at any
// phase; after completion the emergency rollback restores the old release
// within the rollback window, and refuses when nothing can be rolled back.
func TestAdminRollbackAndEmergencyRollback(t *testing.T) {
	t.Parallel()
	b := setup(t)
	exp, pr := b.promoted(t, candidate)
	if err := b.c.ApprovePromotion(b.ctx, pr.RequestID, "admin"); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(25 * time.Hour)
	b.runOnce(t)
	if err := b.c.Promotion().Rollback(b.ctx, pr.RequestID, "looks wrong"); err != nil {
		t.Fatal(err)
	}
	if p := b.promotion(t, pr.RequestID); p.State != coordination.PromotionRolledBack {
		t.Fatalf("state %s", p.State)
	}
	rec, _ := b.c.Quarantine().ListRecords(b.ctx, coordination.QuarantineFilter{ExperimentID: exp.ID})
	if len(rec) != 1 || rec[0].FailureType != coordination.FailureManual {
		t.Fatalf("records %+v", rec)
	}
	err := b.c.EmergencyRollback(b.ctx, "nothing left", "admin")
	wantErr(t, err, coordination.ErrNotFound, "")

	// A completed promotion inside its 7-day window.
	other := candidate
	other.Name, other.Model = "other", "other-model"
	_, pr2 := b.promoted(t, other)
	if err := b.c.ApprovePromotion(b.ctx, pr2.RequestID, "admin"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b.clock.Advance(8 * 24 * time.Hour)
		b.runOnce(t)
	}
	if p := b.promotion(t, pr2.RequestID); p.State != coordination.PromotionCompleted {
		t.Fatalf("state %s", p.State)
	}
	active, _ := b.c.Store().ReleaseActive(b.ctx)
	if active.Variant.Name != "other" {
		t.Fatalf("production %s", active.Variant.Name)
	}
	if err := b.c.EmergencyRollback(b.ctx, "error spike", "oncall"); err != nil {
		t.Fatal(err)
	}
	active, _ = b.c.Store().ReleaseActive(b.ctx)
	if active.Variant.Name != "baseline" {
		t.Fatalf("after rollback production is %s, want baseline", active.Variant.Name)
	}
}

// TestValidationRefusesUnsafeVariant: a variant with a secret in its
// configuration fails validation and is quarantined as a safety violation.
func TestValidationRefusesUnsafeVariant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v := candidate
	v.Parameters = map[string]any{"api_key": "sk-abcdefghijklmnopqrstuvwx"}
	p, err := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: "leaky",
		SuccessCriteria: map[string]string{"accuracy": "> 90%"}, Variant: v})
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.c.EvaluateExperiment(b.ctx, p.ExperimentID, map[string]float64{"accuracy": 0.97})
	if err != nil || d != coordination.Promote {
		t.Fatalf("%v %v", d, err)
	}
	e := b.experiment(t, p.ExperimentID)
	pr := b.promotion(t, e.PromotionID)
	if pr.State != coordination.PromotionValidationFailed {
		t.Fatalf("promotion %s", pr.State)
	}
	if e.State != coordination.ExperimentQuarantined {
		t.Fatalf("experiment %s", e.State)
	}
	rec, _ := b.c.Quarantine().GetRecord(b.ctx, e.RecordID)
	if rec.FailureType != coordination.FailureSafetyViolation {
		t.Errorf("failure type %s", rec.FailureType)
	}
}

// TestRequestPromotionDirect covers the seed's PromotionManager example on
// a running experiment, and its refusals.
func TestRequestPromotionDirect(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, err := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: "direct",
		SuccessCriteria: map[string]string{"accuracy": "> 90%"}, Variant: candidate})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.c.Promotion().RequestPromotion(b.ctx, coordination.PromotionSpec{ExperimentID: p.ExperimentID,
		EvaluationMetrics: map[string]float64{"accuracy": 0.95}, ConfidenceScore: 0.92})
	wantErr(t, err, coordination.ErrInvalidTransition, "proposed")
	if err := b.c.StartExperiment(b.ctx, p.ExperimentID, "admin"); err != nil {
		t.Fatal(err)
	}
	req, err := b.c.Promotion().RequestPromotion(b.ctx, coordination.PromotionSpec{ExperimentID: p.ExperimentID,
		EvaluationMetrics: map[string]float64{"accuracy": 0.95}, ConfidenceScore: 0.92})
	if err != nil {
		t.Fatal(err)
	}
	if req.State != coordination.PromotionAwaitingApproval || len(req.Validation) < 3 {
		t.Fatalf("request %s validation %+v", req.State, req.Validation)
	}
	_, err = b.c.Promotion().RequestPromotion(b.ctx, coordination.PromotionSpec{ExperimentID: "exp-404"})
	wantErr(t, err, coordination.ErrNotFound, "exp-404")
	if err := b.c.ApprovePromotion(b.ctx, "prm-404", "admin"); !errors.Is(err, coordination.ErrNotFound) {
		t.Errorf("approve unknown: %v", err)
	}
}

// TestRestartResumesPhaseTimer: a coordinator built anew over the same store
// (a restart) finds the phase's durable timer and advances at the stored due
// time, exactly once.
func TestRestartResumesPhaseTimer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, pr := b.promoted(t, candidate)
	if err := b.c.ApprovePromotion(b.ctx, pr.RequestID, "admin"); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(10 * time.Hour)
	restarted, err := coordination.NewLifecycleCoordinator(coordination.Options{Store: b.c.Store(), Clock: b.clock})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := restarted.Promotion().GetPromotion(b.ctx, pr.RequestID)
	if got := p.Remaining(b.clock.Now()); got != 14*time.Hour {
		t.Fatalf("remaining after restart %s, want 14h", got)
	}
	b.clock.Advance(14*time.Hour - time.Second)
	if _, err := restarted.RunOnce(b.ctx); err != nil {
		t.Fatal(err)
	}
	if p, _ := restarted.Promotion().GetPromotion(b.ctx, pr.RequestID); p.State != coordination.PromotionPhase1 {
		t.Fatalf("advanced early: %s", p.State)
	}
	b.clock.Advance(time.Second)
	// Two replicas racing on the same due phase: exactly one phase change.
	if _, err := restarted.RunOnce(b.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.c.RunOnce(b.ctx); err != nil {
		t.Fatal(err)
	}
	if p, _ := restarted.Promotion().GetPromotion(b.ctx, pr.RequestID); p.State != coordination.PromotionPhase2 {
		t.Fatalf("state %s, want phase_2", p.State)
	}
	if n := b.count(t, coordination.EventPromotionPhaseChanged); n != 2 {
		t.Errorf("phase.changed events %d, want 2", n)
	}
}

// TestApprovalComparesWithTheCurrentRelease: a promotion requested while
// release A served production, and approved after another promotion made B
// production, rolls back to B, not to the archived A.
func TestApprovalComparesWithTheCurrentRelease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, first := b.promoted(t, candidate)
	other := candidate
	other.Name, other.Model = "other", "other-model"
	_, second := b.promoted(t, other)
	if err := b.c.ApprovePromotion(b.ctx, first.RequestID, "admin"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b.clock.Advance(8 * 24 * time.Hour)
		b.runOnce(t)
	}
	relB, err := b.c.Store().ReleaseActive(b.ctx)
	if err != nil || relB.Variant.Name != "gpt-x" {
		t.Fatalf("production after the first promotion: %+v %v", relB, err)
	}
	if err := b.c.ApprovePromotion(b.ctx, second.RequestID, "admin"); err != nil {
		t.Fatal(err)
	}
	if p := b.promotion(t, second.RequestID); p.FromReleaseID != relB.ID {
		t.Fatalf("canary compared with release %s, want the current %s", p.FromReleaseID, relB.ID)
	}
	if err := b.c.Promotion().Rollback(b.ctx, second.RequestID, "bad"); err != nil {
		t.Fatal(err)
	}
	if rel, _ := b.c.Store().ReleaseActive(b.ctx); rel.ID != relB.ID {
		t.Fatalf("production after rollback is %s, want %s", rel.ID, relB.ID)
	}
}

// TestInterruptedValidationIsResumed: a promotion left in "requested" (its
// request died before validating it) is validated by a periodic pass once
// it is a few seconds old, and never while its request may still be at it.
func TestInterruptedValidationIsResumed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, err := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: "interrupted",
		SuccessCriteria: map[string]string{"accuracy": "> 90%"}, Variant: candidate})
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := b.c.Store().ReleaseActive(b.ctx)
	now := b.clock.Now()
	pr := &coordination.PromotionRequest{RequestID: "prm-interrupted", ExperimentID: p.ExperimentID,
		State: coordination.PromotionRequested, Candidate: candidate, Plan: coordination.DefaultPhases(),
		EvaluationMetrics: map[string]float64{"accuracy": 0.95}, FromReleaseID: rel.ID,
		RequestedAt: now, UpdatedAt: now}
	err = b.c.Store().InTx(b.ctx, func(ctx context.Context, tx coordination.Tx) error {
		e, err := tx.ExperimentGet(ctx, p.ExperimentID)
		if err != nil {
			return err
		}
		e.State, e.PromotionID = coordination.ExperimentPromoting, pr.RequestID
		if err := tx.ExperimentUpdate(ctx, e); err != nil {
			return err
		}
		return tx.PromotionInsert(ctx, pr)
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := b.runOnce(t)
	if len(rep.Promotions.Validated) != 0 || b.promotion(t, pr.RequestID).State != coordination.PromotionRequested {
		t.Fatalf("validated a fresh request: %+v", rep.Promotions)
	}
	b.clock.Advance(10 * time.Second)
	rep = b.runOnce(t)
	if len(rep.Promotions.Validated) != 1 || b.promotion(t, pr.RequestID).State != coordination.PromotionAwaitingApproval {
		t.Fatalf("interrupted validation not resumed: %+v, state %s", rep.Promotions, b.promotion(t, pr.RequestID).State)
	}
}

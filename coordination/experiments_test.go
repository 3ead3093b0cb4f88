package coordination_test

import (
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/decision"
)

// TestEventsEmittedWhenProductSays walks one experiment through create,
// start, evaluate (HOLD), modify, restart and quarantine and checks the
// event stream after each step.
func TestEventsEmittedWhenProductSays(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, err := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: "t",
		SuccessCriteria: map[string]string{"accuracy": "> 90%"}, Variant: candidate})
	if err != nil {
		t.Fatal(err)
	}
	expect := func(types ...string) {
		t.Helper()
		var got []string
		for _, e := range b.events(t) {
			got = append(got, e.Type)
		}
		if len(got) != len(types) {
			t.Fatalf("events %v, want %v", got, types)
		}
		for i := range types {
			if got[i] != types[i] {
				t.Fatalf("events %v, want %v", got, types)
			}
		}
	}
	expect(coordination.EventExperimentCreated)
	if err := b.c.StartExperiment(b.ctx, p.ExperimentID, "admin"); err != nil {
		t.Fatal(err)
	}
	expect(coordination.EventExperimentCreated, coordination.EventExperimentStarted)
	d, err := b.c.EvaluateExperiment(b.ctx, p.ExperimentID, map[string]float64{"accuracy": 0.89})
	if err != nil || d != coordination.Hold {
		t.Fatalf("near miss: %v %v", d, err)
	}
	expect(coordination.EventExperimentCreated, coordination.EventExperimentStarted,
		coordination.EventExperimentEvaluationStarted, coordination.EventExperimentEvaluationCompleted)
	if e := b.experiment(t, p.ExperimentID); e.State != coordination.ExperimentHeld || e.LastEvaluation == nil {
		t.Fatalf("after HOLD: %s", e.State)
	}
	if err := b.c.StartExperiment(b.ctx, p.ExperimentID, "admin"); err != nil {
		t.Fatal(err)
	}
	rec, err := b.c.Quarantine().QuarantineExperiment(b.ctx, coordination.QuarantineSpec{ExperimentID: p.ExperimentID,
		FailureType: "latency_regression", ErrorLogs: "context deadline exceeded"})
	if err != nil {
		t.Fatal(err)
	}
	expect(coordination.EventExperimentCreated, coordination.EventExperimentStarted,
		coordination.EventExperimentEvaluationStarted, coordination.EventExperimentEvaluationCompleted,
		coordination.EventExperimentStarted, coordination.EventQuarantineRequested, coordination.EventQuarantineCompleted)
	if err := b.c.Quarantine().ReviewQuarantined(b.ctx, coordination.ReviewSpec{RecordID: rec.RecordID, Reviewer: "r"}); err != nil {
		t.Fatal(err)
	}
	if b.count(t, coordination.EventQuarantineReviewed) != 1 {
		t.Error("quarantine.reviewed not emitted")
	}
	for _, e := range b.events(t) {
		if e.SpecVersion != "1.0" || e.ID == "" || e.Source == "" || e.Time.IsZero() || e.Subject == "" || len(e.Data) == 0 {
			t.Errorf("incomplete CloudEvents envelope: %+v", e)
		}
	}
}

// TestBadInputChangesNothing: unknown ids, wrong states and malformed
// criteria each give the right error and write nothing.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, err := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: "ok",
		SuccessCriteria: map[string]string{"accuracy": "> 90%"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.c.Quarantine().QuarantineExperiment(b.ctx, coordination.QuarantineSpec{ExperimentID: p.ExperimentID}); err != nil {
		t.Fatal(err)
	}
	events, audits := len(b.events(t)), b.auditLen(t)
	cases := []struct {
		name    string
		call    func() error
		target  error
		mention string
	}{
		{"unknown experiment", func() error { return b.c.StartExperiment(b.ctx, "exp-missing", "a") }, coordination.ErrNotFound, "exp-missing"},
		{"evaluate unknown", func() error {
			_, err := b.c.EvaluateExperiment(b.ctx, "exp-nope", map[string]float64{"accuracy": 1})
			return err
		}, coordination.ErrNotFound, "exp-nope"},
		{"start quarantined", func() error { return b.c.StartExperiment(b.ctx, p.ExperimentID, "a") }, coordination.ErrInvalidTransition, "quarantined"},
		{"evaluate quarantined", func() error {
			_, err := b.c.EvaluateExperiment(b.ctx, p.ExperimentID, map[string]float64{"accuracy": 1})
			return err
		}, coordination.ErrInvalidTransition, "quarantined"},
		{"malformed criterion", func() error {
			_, err := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: "x",
				SuccessCriteria: map[string]string{"latency_p95": "< 3 parsecs"}})
			return err
		}, coordination.ErrInvalidInput, "parsecs"},
		{"unknown metric", func() error {
			_, err := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: "x",
				SuccessCriteria: map[string]string{"happiness": "> 90%"}})
			return err
		}, coordination.ErrInvalidInput, "happiness"},
		{"empty title", func() error {
			_, err := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{})
			return err
		}, coordination.ErrInvalidInput, "title"},
		{"unknown provider", func() error {
			_, err := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: "x", Variant: coordination.Variant{Name: "v", Provider: "magic"}})
			return err
		}, coordination.ErrInvalidInput, "variant.provider"},
		{"unknown record", func() error {
			return b.c.Quarantine().ReviewQuarantined(b.ctx, coordination.ReviewSpec{RecordID: "qr-none", Reviewer: "a"})
		}, coordination.ErrNotFound, "qr-none"},
		{"bad failure type", func() error {
			_, err := b.c.Quarantine().QuarantineExperiment(b.ctx, coordination.QuarantineSpec{ExperimentID: p.ExperimentID, FailureType: "gremlins"})
			return err
		}, coordination.ErrInvalidInput, "gremlins"},
		{"unknown metric in evaluation", func() error {
			_, err := b.c.EvaluateExperiment(b.ctx, p.ExperimentID, map[string]float64{"vibes": 1})
			return err
		}, coordination.ErrInvalidInput, "vibes"},
		{"user may not start", func() error {
			ctx := coordination.WithActor(b.ctx, coordination.Actor{Name: "u", Role: coordination.RoleUser})
			return b.c.StartExperiment(ctx, p.ExperimentID, "u")
		}, coordination.ErrForbidden, "experiments:start"},
	}
	for _, tc := range cases {
		wantErr(t, tc.call(), tc.target, tc.mention)
		if len(b.events(t)) != events || b.auditLen(t) != audits {
			t.Fatalf("%s: wrote events or audit entries", tc.name)
		}
	}
}

// TestEvaluatorFromSamples: the periodic evaluator waits for the minimum
// period before promoting, quarantines early on a confident failure, holds
// at the maximum when undecided, and quarantines a spent budget.
func TestEvaluatorFromSamples(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mk := func(title string, budget float64) string {
		v := candidate
		v.Name, v.Model = title, title+"-model"
		p, err := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: title, Variant: v, BudgetUSD: budget,
			SuccessCriteria: map[string]string{"accuracy": "> 80%", "latency_p95": "< 3s"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.c.StartExperiment(b.ctx, p.ExperimentID, "admin"); err != nil {
			t.Fatal(err)
		}
		return p.ExperimentID
	}
	good, bad, unsure, spender := mk("good", 0), mk("bad", 0), mk("unsure", 0), mk("spender", 5)
	base := decision.Measured{Requests: 4000, Errors: 20, Labelled: 4000, Correct: 3700, Latency: constLatency(4000, 1.5)}
	b.src.set(func(f *fakeSource) {
		f.base = base
		f.cand[good] = decision.Measured{Requests: 4000, Errors: 16, Labelled: 4000, Correct: 3760, Latency: constLatency(4000, 1.2), CostSum: 1}
		f.cand[bad] = decision.Measured{Requests: 4000, Errors: 16, Labelled: 4000, Correct: 2400, Latency: constLatency(4000, 1.2)}
		f.cand[unsure] = decision.Measured{Requests: 12, Errors: 0, Labelled: 12, Correct: 10, Latency: constLatency(12, 1.2)}
		f.cand[spender] = decision.Measured{Requests: 100, CostSum: 5.5}
	})
	rep := b.runOnce(t)
	if rep.Decisions[bad] != coordination.Quarantine || rep.Decisions[spender] != coordination.Quarantine {
		t.Fatalf("first look: %v (want early quarantine of bad and spender)", rep.Decisions)
	}
	if _, ok := rep.Decisions[good]; ok {
		t.Fatalf("good decided before the minimum period: %v", rep.Decisions)
	}
	e := b.experiment(t, spender)
	rec, _ := b.c.Quarantine().GetRecord(b.ctx, e.RecordID)
	if rec == nil || rec.FailureType != coordination.FailureBudgetExhausted {
		t.Fatalf("spender record %+v", rec)
	}
	if rec := b.experiment(t, bad); rec.LastEvaluation == nil || rec.LastEvaluation.Explanation.Mode != "samples" {
		t.Fatalf("bad experiment evaluation %+v", rec.LastEvaluation)
	}
	b.clock.Advance(7 * 24 * time.Hour)
	rep = b.runOnce(t)
	if rep.Decisions[good] != coordination.Promote {
		t.Fatalf("after 7 days: %v", rep.Decisions)
	}
	if _, ok := rep.Decisions[unsure]; ok {
		t.Fatalf("inconclusive experiment decided before the maximum: %v", rep.Decisions)
	}
	b.clock.Advance(7 * 24 * time.Hour)
	rep = b.runOnce(t)
	if rep.Decisions[unsure] != coordination.Hold {
		t.Fatalf("at the maximum: %v", rep.Decisions)
	}
	if e := b.experiment(t, good); e.State != coordination.ExperimentPromoting {
		t.Fatalf("good is %s", e.State)
	}
}

// TestRejectAndModify covers an admin declining a proposal and modifying a
// held experiment before starting it again.
func TestRejectAndModify(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, err := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: "r", SuccessCriteria: map[string]string{"accuracy": "> 90%"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.c.RejectExperiment(b.ctx, p.ExperimentID, "not now"); err != nil {
		t.Fatal(err)
	}
	if e := b.experiment(t, p.ExperimentID); e.State != coordination.ExperimentRejected {
		t.Fatalf("state %s", e.State)
	}
	p2, _ := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: "m", SuccessCriteria: map[string]string{"accuracy": "> 90%"}})
	_, err = b.c.ModifyExperiment(b.ctx, p2.ExperimentID, coordination.ExperimentSpec{Variant: candidate})
	wantErr(t, err, coordination.ErrInvalidTransition, "proposed")
	if _, err := b.c.EvaluateExperiment(b.ctx, p2.ExperimentID, map[string]float64{"accuracy": 0.88}); err != nil {
		t.Fatal(err)
	}
	e, err := b.c.ModifyExperiment(b.ctx, p2.ExperimentID, coordination.ExperimentSpec{Variant: candidate})
	if err != nil {
		t.Fatal(err)
	}
	if e.Variant.Model != candidate.Model || e.State != coordination.ExperimentHeld {
		t.Fatalf("modified %+v", e)
	}
	if err := b.c.StartExperiment(b.ctx, p2.ExperimentID, "admin"); err != nil {
		t.Fatal(err)
	}
	if e := b.experiment(t, p2.ExperimentID); e.Runs != 1 || e.State != coordination.ExperimentRunning {
		t.Fatalf("restart: %+v", e)
	}
}

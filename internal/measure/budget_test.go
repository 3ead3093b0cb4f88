package measure_test

import (
	"context"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/measure"
)

// An experiment whose shadow reviews cost more than its budget is
// quarantined as budget_exhausted by the coordinator's evaluator, reading
// the recorder through its Measurements hook.
func TestBudgetExhaustedQuarantines(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c, err := coordination.NewLifecycleCoordinator(coordination.Options{Store: b.store, Clock: b.clock,
		Measurements: b.r.Measurements, CanaryMetrics: b.r.CanaryMetrics, HealthMetrics: b.r.HealthMetrics,
		CostPerReview: b.r.CostPerReview, Feedback: b.r.Feedback})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	mk := func(title string) string {
		t.Helper()
		p, err := c.CreateExperiment(ctx, coordination.ExperimentSpec{Title: title, BudgetUSD: 2,
			SuccessCriteria: map[string]string{"error_rate": "< 5%"},
			Variant:         coordination.Variant{Name: title, Provider: coordination.ProviderSimulated}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.StartExperiment(ctx, p.ExperimentID, "admin"); err != nil {
			t.Fatal(err)
		}
		return p.ExperimentID
	}
	spender, saver := mk("spender"), mk("saver")
	shadow := func(id string, n int, cost float64) {
		for range n {
			b.clock.Advance(time.Second)
			o := ok(measure.ExperimentSeries(id), b.clock.Now(), time.Second, cost)
			o.Variant = id
			b.r.Record(o)
		}
	}
	shadow(spender, 15, 0.1) // $1.50 of $2
	shadow(saver, 15, 0.01)
	rep, err := c.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Decisions) != 0 {
		t.Fatalf("decisions before the budget is spent: %v", rep.Decisions)
	}
	shadow(spender, 6, 0.1) // $2.10
	shadow(saver, 6, 0.01)
	if got := b.r.Spent(spender); !near(got, 2.1, 1e-9) {
		t.Errorf("Spent(spender) = %v, want 2.10", got)
	}
	if rep, err = c.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if rep.Decisions[spender] != coordination.Quarantine {
		t.Fatalf("after spending $2.10 of $2: decisions %v, want spender quarantined", rep.Decisions)
	}
	if _, decided := rep.Decisions[saver]; decided {
		t.Errorf("the experiment within budget was decided: %v", rep.Decisions)
	}
	e, err := c.GetExperiment(ctx, spender)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := c.Quarantine().GetRecord(ctx, e.RecordID)
	if err != nil {
		t.Fatal(err)
	}
	if e.State != coordination.ExperimentQuarantined || rec.FailureType != coordination.FailureBudgetExhausted {
		t.Errorf("spender is %s with failure %s, want quarantined with budget_exhausted", e.State, rec.FailureType)
	}
}

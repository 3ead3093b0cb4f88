package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
	"github.com/tricyclehq/tricycle/coordination/decision"
	"github.com/tricyclehq/tricycle/internal/store/sqlite"
	"github.com/tricyclehq/tricycle/internal/window"
)

var start = time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)

func openCoordinator(t testing.TB, path string, clock coordination.Clock) (*coordination.LifecycleCoordinator, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := coordination.NewLifecycleCoordinator(coordination.Options{Store: st, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, st
}

func countEvents(t *testing.T, st coordination.Store, typ string) int {
	t.Helper()
	evs, err := st.OutboxPending(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// TestRestartMidPhaseResumesTimer closes the SQLite file in the middle of
// canary phase 1 and reopens it: the phase resumes with the right remaining
// time and changes exactly once, at its stored due time.
func TestRestartMidPhaseResumesTimer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cycle.db")
	clock := coordinationtest.NewManualClock(start)
	c, st := openCoordinator(t, path, clock)
	p, err := c.CreateExperiment(ctx, coordination.ExperimentSpec{Title: "restart",
		SuccessCriteria: map[string]string{"accuracy": "> 90%"},
		Variant:         coordination.Variant{Name: "cand", Provider: "simulated", Model: "sim-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EvaluateExperiment(ctx, p.ExperimentID, map[string]float64{"accuracy": 0.95}); err != nil {
		t.Fatal(err)
	}
	active, err := c.Promotion().GetActivePromotions(ctx)
	if err != nil || len(active) != 1 {
		t.Fatalf("active promotions %v %v", active, err)
	}
	id := active[0].RequestID
	if err := c.ApprovePromotion(ctx, id, "admin"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Hour)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	c, st = openCoordinator(t, path, clock)
	defer st.Close()
	pr, err := c.Promotion().GetPromotion(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if pr.State != coordination.PromotionPhase1 || pr.Remaining(clock.Now()) != 14*time.Hour {
		t.Fatalf("after reopening: %s with %s left, want phase_1 with 14h", pr.State, pr.Remaining(clock.Now()))
	}
	clock.Advance(14*time.Hour - time.Second)
	if _, err := c.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if pr, _ := c.Promotion().GetPromotion(ctx, id); pr.State != coordination.PromotionPhase1 {
		t.Fatalf("advanced a second early: %s", pr.State)
	}
	clock.Advance(time.Second)
	for range 3 {
		if _, err := c.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pr, _ = c.Promotion().GetPromotion(ctx, id)
	if pr.State != coordination.PromotionPhase2 || pr.TrafficPercent != 50 || !pr.PhaseDueAt.Equal(clock.Now().Add(48*time.Hour)) {
		t.Fatalf("after the due time: %s %d%% due %s", pr.State, pr.TrafficPercent, pr.PhaseDueAt)
	}
	if n := countEvents(t, st, coordination.EventPromotionPhaseChanged); n != 2 {
		t.Fatalf("promotion.phase.changed %d times, want 2 (phase_1 at approval, phase_2 once)", n)
	}
	v, err := c.VerifyAudit(ctx)
	if err != nil || !v.OK {
		t.Fatalf("audit chain after restart: %+v %v", v, err)
	}
}

// BenchmarkEvaluationPass10k measures one full evaluation pass (RunOnce)
// over 10,000 running experiments on SQLite, each looked at from measured
// samples (a DDSketch-backed latency distribution), before the minimum
// period so that no decision writes anything.
func BenchmarkEvaluationPass10k(b *testing.B) {
	ctx := context.Background()
	clock := coordinationtest.NewManualClock(start)
	agg := &window.Aggregate{}
	for i := range 5000 {
		agg.Add(window.Observation{Latency: time.Duration(800+i%1500) * time.Millisecond, Error: i%97 == 0,
			CostUSD: 0.01, Labelled: true, Correct: i%10 != 0})
	}
	base := decision.Measured{Requests: agg.Requests, Errors: agg.Errors, Labelled: agg.Labelled, Correct: agg.Correct,
		Latency: agg, CostSum: agg.CostSum, CostSumSq: agg.CostSumSq, CostMax: 0.05}
	measure := func(context.Context, *coordination.Experiment, time.Time) (decision.Measured, decision.Measured, error) {
		return base, base, nil
	}
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	c, err := coordination.NewLifecycleCoordinator(coordination.Options{Store: st, Clock: clock, Measurements: measure})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Init(ctx); err != nil {
		b.Fatal(err)
	}
	const n = 10000
	err = st.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		for i := range n {
			e := &coordination.Experiment{ID: fmt.Sprintf("exp-%05d", i), Title: "bench", State: coordination.ExperimentRunning,
				SuccessCriteria: map[string]string{"accuracy": "> 80%", "latency_p95": "< 3s", "cost_per_review": "< $0.05"},
				Variant:         coordination.Variant{Name: fmt.Sprintf("v%d", i), Provider: "simulated", Model: fmt.Sprintf("m%d", i)},
				ShadowPercent:   5, EvaluationMin: coordination.Duration(7 * 24 * time.Hour), EvaluationMax: coordination.Duration(14 * 24 * time.Hour),
				CreatedAt: start, UpdatedAt: start, StartedAt: start}
			if err := tx.ExperimentInsert(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		rep, err := c.RunOnce(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Decisions) != 0 {
			b.Fatalf("a decision was made: %v", rep.Decisions)
		}
	}
	b.ReportMetric(float64(n), "experiments/op")
}

// BenchmarkOutboxRelay measures the transactional outbox end to end on
// SQLite: events written in transactions of 100, then relayed by the
// coordinator to the in-process bus (one subscriber) and marked published.
func BenchmarkOutboxRelay(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "relay.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	bus := coordination.NewMemoryBus(coordination.MemoryBusOptions{QueueSize: 4096})
	defer bus.Close()
	delivered := make(chan struct{}, 4096)
	if _, err := bus.Subscribe(ctx, coordination.SubscribeOptions{Name: "sink"}, func(context.Context, coordination.Event) error {
		delivered <- struct{}{}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	c, err := coordination.NewLifecycleCoordinator(coordination.Options{Store: st, Bus: bus})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 100
	events := 0
	for b.Loop() {
		err := st.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
			for i := range batch {
				ev, err := coordination.NewEvent(coordination.EventMonitoringAlert, "bench", start, map[string]int{"i": i})
				if err != nil {
					return err
				}
				if err := tx.OutboxAppend(ctx, ev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		for sent := 0; sent < batch; {
			n, err := c.RelayOnce(ctx)
			if err != nil {
				b.Fatal(err)
			}
			sent += n
		}
		for range batch {
			<-delivered
		}
		events += batch
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// TestAuditTamperingIsNamed edits, deletes and reorders rows of the audit
// log directly in the SQLite file (dropping the triggers first, as an
// attacker with file access would) and checks that verification names the
// first entry that was touched.
func TestAuditTamperingIsNamed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name    string
		tamper  []string
		wantSeq int64
	}{
		{"edit", []string{`UPDATE audit_log SET data = json_set(data, '$.actor', 'mallory') WHERE seq = 3`}, 3},
		{"delete middle", []string{`DELETE FROM audit_log WHERE seq = 4`}, 4},
		{"delete last", []string{`DELETE FROM audit_log WHERE seq = 6`}, 6},
		{"reorder", []string{
			`UPDATE audit_log SET seq = -2 WHERE seq = 2`,
			`UPDATE audit_log SET seq = 2 WHERE seq = 3`,
			`UPDATE audit_log SET seq = 3 WHERE seq = -2`}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "audit.db")
			c, st := openCoordinator(t, path, coordinationtest.NewManualClock(start))
			for i := range 5 {
				if _, err := c.CreateExperiment(ctx, coordination.ExperimentSpec{Title: fmt.Sprintf("e%d", i)}); err != nil {
					t.Fatal(err)
				}
			}
			if v, err := c.VerifyAudit(ctx); err != nil || !v.OK || v.Entries != 6 {
				t.Fatalf("before tampering: %+v %v", v, err)
			}
			db := st.DB()
			for _, q := range append([]string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`}, tc.tamper...) {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			v, err := c.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v.OK || v.FirstBadSeq != tc.wantSeq || v.Reason == "" {
				t.Fatalf("verification %+v, want entry %d named", v, tc.wantSeq)
			}
			_ = st.Close()
		})
	}
}

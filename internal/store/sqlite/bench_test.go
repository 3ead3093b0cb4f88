package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

func benchExperiment(id string, state coordination.ExperimentState, created time.Time) *coordination.Experiment {
	return &coordination.Experiment{ID: id, Title: "Cheaper model for Go diffs", Hypothesis: "a smaller model keeps accuracy",
		SuccessCriteria: map[string]string{"accuracy": ">= 0.92", "cost_per_review": "<= 0.004"},
		Variant: coordination.Variant{Name: "small-go", Provider: coordination.ProviderSimulated, Model: "small",
			Prompt: "Review this diff.", Parameters: map[string]any{"temperature": 0.2}},
		State: state, ShadowPercent: 10, BudgetUSD: 50, CreatedAt: created, UpdatedAt: created}
}

// BenchmarkExperimentInsert measures one committed transaction inserting one
// experiment (synchronous=FULL: each commit is durable).
func BenchmarkExperimentInsert(b *testing.B) {
	s := open(b)
	defer func() { _ = s.Close() }()
	ctx := b.Context()
	i := 0
	for b.Loop() {
		i++
		e := benchExperiment(fmt.Sprintf("exp-%08d", i), coordination.ExperimentProposed, t0.Add(time.Duration(i)*time.Millisecond))
		if err := s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error { return tx.ExperimentInsert(ctx, e) }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOutboxAppendAndDrain writes batches of events in transactions and
// relays them: fetch pending, mark published. It reports events/s.
func BenchmarkOutboxAppendAndDrain(b *testing.B) {
	const perTx = 10
	s := open(b)
	defer func() { _ = s.Close() }()
	ctx := b.Context()
	n := 0
	start := time.Now()
	for b.Loop() {
		evs := make([]coordination.Event, perTx)
		for j := range evs {
			n++
			ev, err := coordination.NewEvent(coordination.EventPromotionPhaseChanged, "prm-1", t0, map[string]any{"phase": j})
			if err != nil {
				b.Fatal(err)
			}
			ev.ID = fmt.Sprintf("evt-%09d", n)
			evs[j] = ev
		}
		if err := s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error { return tx.OutboxAppend(ctx, evs...) }); err != nil {
			b.Fatal(err)
		}
		pending, err := s.OutboxPending(ctx, 100)
		if err != nil {
			b.Fatal(err)
		}
		seqs := make([]int64, len(pending))
		for j, ev := range pending {
			seqs[j] = ev.Seq
		}
		if err := s.OutboxMarkPublished(ctx, seqs, t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkExperimentListRunning lists the running experiments among 10,000
// running and 2,000 others.
func BenchmarkExperimentListRunning(b *testing.B) {
	const running, others = 10000, 2000
	s := open(b)
	defer func() { _ = s.Close() }()
	ctx := b.Context()
	err := s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		for i := range running + others {
			state := coordination.ExperimentRunning
			if i%6 == 5 && i/6 < others {
				state = coordination.ExperimentHeld
			}
			if err := tx.ExperimentInsert(ctx, benchExperiment(fmt.Sprintf("exp-%08d", i), state, t0.Add(time.Duration(i)*time.Second))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	f := coordination.ExperimentFilter{States: []coordination.ExperimentState{coordination.ExperimentRunning}}
	want, err := s.ExperimentList(ctx, f)
	if err != nil {
		b.Fatal(err)
	}
	if len(want) != running {
		b.Fatalf("setup: %d running experiments, want %d", len(want), running)
	}
	for b.Loop() {
		if _, err := s.ExperimentList(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
}

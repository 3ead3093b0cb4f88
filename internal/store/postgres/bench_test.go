package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tricyclehq/tricycle/coordination"
)

// BenchmarkStateChange measures one state change as the managers make it: a
// read, an optimistic update, an outbox event and an audit entry in one
// serializable transaction.
func BenchmarkStateChange(b *testing.B) {
	s := open(b)
	defer func() { _ = s.Close() }()
	ctx := b.Context()
	if err := s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		return tx.ExperimentInsert(ctx, &coordination.Experiment{ID: "exp-1", CreatedAt: t0})
	}); err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		n++
		err := s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
			e, err := tx.ExperimentGet(ctx, "exp-1")
			if err != nil {
				return err
			}
			e.Runs++
			if err := tx.ExperimentUpdate(ctx, e); err != nil {
				return err
			}
			ev, err := coordination.NewEvent(coordination.EventExperimentStarted, e.ID, t0, e.Runs)
			if err != nil {
				return err
			}
			ev.ID = fmt.Sprint("evt-", n)
			if err := tx.OutboxAppend(ctx, ev); err != nil {
				return err
			}
			return tx.AuditAppend(ctx, &coordination.AuditEntry{At: t0, Actor: "bench", Role: coordination.RoleSystem,
				Action: "increment", Target: e.ID})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExperimentGet measures a read outside a transaction.
func BenchmarkExperimentGet(b *testing.B) {
	s := open(b)
	defer func() { _ = s.Close() }()
	if err := s.InTx(b.Context(), func(ctx context.Context, tx coordination.Tx) error {
		return tx.ExperimentInsert(ctx, &coordination.Experiment{ID: "exp-1", CreatedAt: t0})
	}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.ExperimentGet(b.Context(), "exp-1"); err != nil {
			b.Fatal(err)
		}
	}
}

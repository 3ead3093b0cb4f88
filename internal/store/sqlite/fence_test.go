package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/leadership/leasetest"
	"github.com/tricyclehq/tricycle/internal/store/sqlite"
)

func TestLeases(t *testing.T) {
	t.Parallel()
	leasetest.Run(t, func(t *testing.T) leasetest.Backend {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "leases.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		waits := s.DB().Stats().WaitCount
		return leasetest.Backend{Store: s, Leases: s.Leases(), Waiting: func(context.Context) (bool, error) {
			return s.DB().Stats().WaitCount > waits, nil
		}}
	})
}

// BenchmarkInTx measures what the leader fence adds to a one-write
// transaction: the same write without and with an epoch in the context.
func BenchmarkInTx(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	epoch, ok, err := s.Leases().TryAcquire(b.Context(), coordination.CoordinatorLease, "bench", now, time.Hour)
	if err != nil || !ok {
		b.Fatalf("acquire: %v, %v", ok, err)
	}
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{
		{"unfenced", b.Context()},
		{"fenced", coordination.WithEpoch(b.Context(), epoch)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := s.InTx(bc.ctx, func(ctx context.Context, tx coordination.Tx) error {
					return tx.KVPut(ctx, "bench", []byte("v"), now)
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/leadership/leasetest"
)

// TestLeases runs the lease and fencing suite as tricycle_app, the role
// servers run as.
func TestLeases(t *testing.T) {
	t.Parallel()
	leasetest.Run(t, func(t *testing.T) leasetest.Backend {
		dsn := withParam(t, newDatabase(t), "pool_max_conns", "8")
		owner := openDSN(t, dsn)
		t.Cleanup(func() { _ = owner.Close() })
		s := openDSN(t, withParam(t, dsn, "options", "-c role=tricycle_app"))
		t.Cleanup(func() { _ = s.Close() })
		return leasetest.Backend{Store: s, Leases: s.Leases(), Waiting: func(ctx context.Context) (bool, error) {
			var n int
			err := owner.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
			return n > 0, err
		}}
	})
}

// BenchmarkInTxFence measures what the leader fence (a FOR SHARE read)
// adds to a one-write transaction.
func BenchmarkInTxFence(b *testing.B) {
	s := open(b)
	b.Cleanup(func() { _ = s.Close() })
	epoch, ok, err := s.Leases().TryAcquire(b.Context(), coordination.CoordinatorLease, "bench", t0, time.Hour)
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
					return tx.KVPut(ctx, "bench", []byte("v"), t0)
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

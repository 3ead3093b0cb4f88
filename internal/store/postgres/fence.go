package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tricyclehq/tricycle/coordination"
)

// Leases are the leader leases in platform.leader, the store side of
// internal/leadership's elector. Each method is one statement in its own
// transaction; lease expiry is judged with the now the caller passes in.
//
// Fencing: InTx, when its context carries an epoch (coordination.WithEpoch),
// first reads the coordinator lease's row FOR SHARE and fails with a
// coordination.StaleEpochError, writing nothing, unless the lease is held
// under that epoch. The share lock lasts until commit, so an acquisition
// (which updates the row) waits for a fenced transaction that began before
// it, and a fenced transaction that begins after it sees the new epoch (a
// transaction that met the update half-way fails to serialize and is run
// again, then refused).
type Leases struct {
	pool *pgxpool.Pool // non-nil
}

// Leases returns the store's leader leases.
func (s *Store) Leases() *Leases { return &Leases{pool: s.pool} }

// TryAcquire takes the lease name for holder until now+ttl when it is free:
// never taken, released, expired at now, or held by holder itself. It then
// increments the epoch and returns it with true; otherwise it returns the
// current holder's epoch and false.
func (l *Leases) TryAcquire(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (int64, bool, error) {
	if err := checkLease(name, holder, ttl); err != nil {
		return 0, false, fmt.Errorf("acquire lease: %w", err)
	}
	var epoch int64
	err := l.pool.QueryRow(ctx, `INSERT INTO platform.leader AS l
			(name, holder, epoch, acquired_at, renewed_at, lease_expires_at)
		VALUES ($1, $2, 1, $3, $3, $4)
		ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, epoch = l.epoch + 1,
			acquired_at = EXCLUDED.acquired_at, renewed_at = EXCLUDED.renewed_at,
			lease_expires_at = EXCLUDED.lease_expires_at
		WHERE l.holder = '' OR l.holder = EXCLUDED.holder OR l.lease_expires_at <= EXCLUDED.acquired_at
		RETURNING epoch`, name, holder, now, now.Add(ttl)).Scan(&epoch)
	if err == nil {
		return epoch, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("acquire lease %q for %q: %w", name, holder, err)
	}
	if err := l.pool.QueryRow(ctx, "SELECT epoch FROM platform.leader WHERE name = $1", name).Scan(&epoch); err != nil {
		return 0, false, fmt.Errorf("acquire lease %q for %q: read the holder's epoch: %w", name, holder, err)
	}
	return epoch, false, nil
}

// Renew extends holder's lease name under epoch until now+ttl. It returns
// false when holder no longer holds it under that epoch (released, or taken
// by another acquisition).
func (l *Leases) Renew(ctx context.Context, name, holder string, epoch int64, now time.Time, ttl time.Duration) (bool, error) {
	if err := checkLease(name, holder, ttl); err != nil {
		return false, fmt.Errorf("renew lease: %w", err)
	}
	tag, err := l.pool.Exec(ctx, `UPDATE platform.leader SET renewed_at = $4, lease_expires_at = $5
		WHERE name = $1 AND holder = $2 AND epoch = $3`, name, holder, epoch, now, now.Add(ttl))
	if err != nil {
		return false, fmt.Errorf("renew lease %q epoch %d for %q: %w", name, epoch, holder, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Release gives up holder's lease name under epoch at now, so that another
// holder may acquire it at once; the epoch stays, and writes fenced with it
// are refused from then on. Releasing a lease no longer held is a no-op.
func (l *Leases) Release(ctx context.Context, name, holder string, epoch int64, now time.Time) error {
	if err := checkLease(name, holder, time.Nanosecond); err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	if _, err := l.pool.Exec(ctx, `UPDATE platform.leader SET holder = '', lease_expires_at = $4
		WHERE name = $1 AND holder = $2 AND epoch = $3`, name, holder, epoch, now); err != nil {
		return fmt.Errorf("release lease %q epoch %d for %q: %w", name, epoch, holder, err)
	}
	return nil
}

// checkLease validates a lease call's arguments.
func checkLease(name, holder string, ttl time.Duration) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: name: must not be empty", coordination.ErrInvalidInput)
	case holder == "":
		return fmt.Errorf("%w: holder: must not be empty", coordination.ErrInvalidInput)
	case ttl <= 0:
		return fmt.Errorf("%w: ttl: %v is not positive", coordination.ErrInvalidInput, ttl)
	}
	return nil
}

// fence checks, as the first statement of a transaction whose context
// carries a leader epoch, that the coordinator lease is held under that
// epoch, and keeps the row share-locked until the transaction ends.
func fence(ctx context.Context, t *tx) error {
	epoch, ok := coordination.EpochFrom(ctx)
	if !ok {
		return nil
	}
	var cur int64
	var holder string
	err := t.QueryRow(ctx, "SELECT epoch, holder FROM platform.leader WHERE name = $1 FOR SHARE",
		coordination.CoordinatorLease).Scan(&cur, &holder)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return &coordination.StaleEpochError{Epoch: epoch}
	case err != nil:
		return fmt.Errorf("check leader epoch %d: %w", epoch, err)
	case holder == "":
		return &coordination.StaleEpochError{Epoch: epoch}
	case cur != epoch:
		return &coordination.StaleEpochError{Epoch: epoch, Current: cur}
	}
	return nil
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// Leases are the leader leases in platform_leader, the store side of
// internal/leadership's elector. Each method is one statement on the write
// connection, so it is serialized with every transaction, of this process
// and, through the database file's lock, of any other process on the same
// file; lease expiry is judged with the now the caller passes in.
//
// Fencing: InTx, when its context carries an epoch (coordination.WithEpoch),
// first reads the coordinator lease's row and fails with a
// coordination.StaleEpochError, writing nothing, unless the lease is held
// under that epoch. Transactions hold the write lock from BEGIN IMMEDIATE to
// commit, so no acquisition can come between the check and the commit.
type Leases struct {
	db *sql.DB // the write connection
}

// Leases returns the store's leader leases.
func (s *Store) Leases() *Leases { return &Leases{db: s.write} }

// TryAcquire takes the lease name for holder until now+ttl when it is free:
// never taken, released, expired at now, or held by holder itself. It then
// increments the epoch and returns it with true; otherwise it returns the
// current holder's epoch and false.
func (l *Leases) TryAcquire(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (int64, bool, error) {
	if err := checkLease(name, holder, ttl); err != nil {
		return 0, false, fmt.Errorf("acquire lease: %w", err)
	}
	var epoch int64
	err := l.db.QueryRowContext(ctx, `INSERT INTO platform_leader
			(name, holder, epoch, acquired_at, renewed_at, lease_expires_at)
		VALUES (?1, ?2, 1, ?3, ?3, ?4)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, epoch = platform_leader.epoch + 1,
			acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at,
			lease_expires_at = excluded.lease_expires_at
		WHERE platform_leader.holder = '' OR platform_leader.holder = excluded.holder
			OR platform_leader.lease_expires_at <= excluded.acquired_at
		RETURNING epoch`, name, holder, ts(now), ts(now.Add(ttl))).Scan(&epoch)
	if err == nil {
		return epoch, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("acquire lease %q for %q: %w", name, holder, err)
	}
	if err := l.db.QueryRowContext(ctx, "SELECT epoch FROM platform_leader WHERE name = ?", name).Scan(&epoch); err != nil {
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
	res, err := l.db.ExecContext(ctx, `UPDATE platform_leader SET renewed_at = ?, lease_expires_at = ?
		WHERE name = ? AND holder = ? AND epoch = ?`, ts(now), ts(now.Add(ttl)), name, holder, epoch)
	if err != nil {
		return false, fmt.Errorf("renew lease %q epoch %d for %q: %w", name, epoch, holder, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("renew lease %q epoch %d for %q: %w", name, epoch, holder, err)
	}
	return n == 1, nil
}

// Release gives up holder's lease name under epoch at now, so that another
// holder may acquire it at once; the epoch stays, and writes fenced with it
// are refused from then on. Releasing a lease no longer held is a no-op.
func (l *Leases) Release(ctx context.Context, name, holder string, epoch int64, now time.Time) error {
	if err := checkLease(name, holder, time.Nanosecond); err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	if _, err := l.db.ExecContext(ctx, `UPDATE platform_leader SET holder = '', lease_expires_at = ?
		WHERE name = ? AND holder = ? AND epoch = ?`, ts(now), name, holder, epoch); err != nil {
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
// epoch.
func fence(ctx context.Context, sqlTx *sql.Tx) error {
	epoch, ok := coordination.EpochFrom(ctx)
	if !ok {
		return nil
	}
	var cur int64
	var holder string
	err := sqlTx.QueryRowContext(ctx, "SELECT epoch, holder FROM platform_leader WHERE name = ?",
		coordination.CoordinatorLease).Scan(&cur, &holder)
	switch {
	case errors.Is(err, sql.ErrNoRows):
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

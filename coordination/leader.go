package coordination

import (
	"context"
	"fmt"
)

// CoordinatorLease is the name of the lease the acting coordinator holds
// and the SQL stores fence its transactions against.
const CoordinatorLease = "coordinator"

// Leader tells the coordinator whether this process may act now. A nil
// Options.Leader means the coordinator always acts, without an epoch.
//
// When several replicas share one store, exactly one coordinator acts at a
// time: the one whose Leader (internal/leadership's elector in the server)
// holds the coordinator's lease. The rules:
//
//   - RunOnce, the periodic work (evaluation of due experiments, canary
//     phases, health remediation), runs only while Acting reports true; on
//     a standby it returns at once with CycleReport.Standby set. The loop
//     started by Start calls it every poll interval on every replica, so a
//     standby takes over at its next poll after acquiring the lease.
//   - Every transaction of an acting pass carries the pass's epoch in its
//     context (WithEpoch). The coordinator refuses to begin it once its
//     Leader no longer reports that epoch, and the SQL stores check inside
//     the transaction that the stored lease still has it, so a deposed
//     leader that still runs cannot change state: its write fails with a
//     StaleEpochError (an ErrConflict) and writes nothing.
//   - Writes that users ask for through the API (create, approve, roll
//     back, …) carry no epoch and run on whichever replica received them:
//     they are user actions, serialized by the store's transactions and
//     guarded by optimistic versions, and need no leader.
//   - The outbox relay runs on every replica: publishing is idempotent
//     (at-least-once delivery, deduplicated by event ID), so two relays can
//     at worst publish an event twice, never lose one, and events written
//     by API calls on a standby go out without waiting for the leader.
//
// The in-memory store does not fence (it lives in one process); the
// coordinator's own check before each transaction still applies.
type Leader interface {
	// Acting reports whether this process holds the coordinator's lease now
	// and under which epoch. It is called before every periodic pass and
	// every fenced transaction, so it must be cheap and safe for concurrent
	// use; it must turn false by itself, without I/O, once the lease may
	// have lapsed.
	Acting() (epoch int64, ok bool)
}

// leaderService is a Leader with a lifecycle: the coordinator starts it in
// Start, before its loops, and stops it (releasing the lease) in Stop, after
// them.
type leaderService interface {
	Leader
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

type epochKey struct{}

// WithEpoch returns ctx marked as carrying the leader epoch epoch: a store
// transaction run with it commits only while epoch is the coordinator
// lease's current epoch.
func WithEpoch(ctx context.Context, epoch int64) context.Context {
	return context.WithValue(ctx, epochKey{}, epoch)
}

// EpochFrom returns the leader epoch ctx carries, if any.
func EpochFrom(ctx context.Context) (int64, bool) {
	e, ok := ctx.Value(epochKey{}).(int64)
	return e, ok
}

// StaleEpochError is the refusal of a write made under a leader epoch that
// is no longer current. It wraps ErrConflict.
type StaleEpochError struct {
	// Epoch is the epoch the write carried.
	Epoch int64
	// Current is the lease's current epoch when it is held, else 0.
	Current int64
	// Lapsed means this process's own Leader refused the write: it no longer
	// holds the lease (Current is then what it reports, or 0).
	Lapsed bool
}

// Error says which epoch was refused and why.
func (e *StaleEpochError) Error() string {
	switch {
	case e.Lapsed && e.Current == 0:
		return fmt.Sprintf("deposed: epoch %d is stale, this process no longer holds the coordinator lease", e.Epoch)
	case e.Current == 0:
		return fmt.Sprintf("deposed: epoch %d is stale, no coordinator holds the lease", e.Epoch)
	default:
		return fmt.Sprintf("deposed: epoch %d is stale, leader epoch is %d", e.Epoch, e.Current)
	}
}

// Unwrap returns ErrConflict.
func (e *StaleEpochError) Unwrap() error { return ErrConflict }

// Acting reports whether this coordinator runs its periodic work now and
// under which epoch (always true, with epoch 0, without a Leader).
func (c *LifecycleCoordinator) Acting() (epoch int64, ok bool) {
	if c.opts.Leader == nil {
		return 0, true
	}
	return c.opts.Leader.Acting()
}

// acting returns ctx carrying the current epoch when this coordinator may
// act now.
func (c *LifecycleCoordinator) acting(ctx context.Context) (context.Context, bool) {
	if c.opts.Leader == nil {
		return ctx, true
	}
	epoch, ok := c.opts.Leader.Acting()
	if !ok {
		return ctx, false
	}
	return WithEpoch(ctx, epoch), true
}

// checkEpoch refuses, before a transaction begins, a write whose epoch this
// process's Leader no longer reports.
func (c *LifecycleCoordinator) checkEpoch(ctx context.Context) error {
	epoch, ok := EpochFrom(ctx)
	if !ok || c.opts.Leader == nil {
		return nil
	}
	cur, acting := c.opts.Leader.Acting()
	if acting && cur == epoch {
		return nil
	}
	if !acting {
		cur = 0
	}
	return &StaleEpochError{Epoch: epoch, Current: cur, Lapsed: true}
}

// startLeader starts the Leader when it has a lifecycle.
func (c *LifecycleCoordinator) startLeader(ctx context.Context) error {
	if s, ok := c.opts.Leader.(leaderService); ok {
		if err := s.Start(ctx); err != nil {
			return fmt.Errorf("start leader election: %w", err)
		}
	}
	return nil
}

// stopLeader stops the Leader when it has a lifecycle, releasing its lease.
func (c *LifecycleCoordinator) stopLeader(ctx context.Context) error {
	if s, ok := c.opts.Leader.(leaderService); ok {
		if err := s.Stop(ctx); err != nil {
			return fmt.Errorf("stop leader election: %w", err)
		}
	}
	return nil
}

package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/store/postgres"
	"github.com/tricyclehq/tricycle/internal/store/storetest"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// open opens a store on a new, empty database.
func open(t testing.TB) *postgres.Store {
	t.Helper()
	return openDSN(t, withParam(t, newDatabase(t), "pool_max_conns", "4"))
}

func openDSN(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConformance runs the suite the way servers are deployed: the owner
// migrates, then the store runs as the tricycle_app role, whose grants must
// be enough for everything the store does.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) coordination.Store {
		dsn := withParam(t, newDatabase(t), "pool_max_conns", "4")
		owner := openDSN(t, dsn)
		_ = owner.Close()
		return openDSN(t, withParam(t, dsn, "options", "-c role=tricycle_app"))
	})
}

func FuzzStore(f *testing.F) {
	s := open(f)
	f.Cleanup(func() { _ = s.Close() })
	storetest.Fuzz(f, s)
}

func inTx(t *testing.T, s coordination.Store, fn func(ctx context.Context, tx coordination.Tx) error) {
	t.Helper()
	if err := s.InTx(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

// TestRetryAfterSerializationFailure makes the first attempt of a
// transaction lose a race with a committed update and checks that InTx runs
// fn again, with the caller's objects (versions, audit links) as they were
// before the first attempt.
func TestRetryAfterSerializationFailure(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer func() { _ = s.Close() }()
	ctx := t.Context()
	inTx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		return errors.Join(
			tx.ExperimentInsert(ctx, &coordination.Experiment{ID: "exp-1", State: coordination.ExperimentRunning, CreatedAt: t0}),
			tx.PromotionInsert(ctx, &coordination.PromotionRequest{RequestID: "prm-1", ExperimentID: "exp-1", RequestedAt: t0}))
	})
	prm, err := s.PromotionGet(ctx, "prm-1")
	if err != nil {
		t.Fatal(err)
	}
	audit := &coordination.AuditEntry{At: t0, Actor: "alice", Role: coordination.RoleAdmin, Action: "increment", Target: "exp-1"}
	attempts := 0
	err = s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		attempts++
		if prm.Version != 1 || audit.Seq != 0 {
			t.Errorf("attempt %d starts with promotion v%d and audit seq %d, want v1 and 0", attempts, prm.Version, audit.Seq)
		}
		prm.Reason = "approved"
		if err := tx.PromotionUpdate(ctx, prm); err != nil {
			return err
		}
		if err := tx.AuditAppend(ctx, audit); err != nil {
			return err
		}
		e, err := tx.ExperimentGet(ctx, "exp-1")
		if err != nil {
			return err
		}
		if attempts == 1 {
			// A writer outside InTx (raw SQL here; the write lock only orders
			// InTx calls) commits a change of exp-1 meanwhile.
			if _, err := s.Pool().Exec(ctx, `UPDATE experiments_v1.experiments SET version = version + 1,
				data = jsonb_set(jsonb_set(data::jsonb, '{runs}', '10'), '{version}', to_jsonb(version + 1))::json
				WHERE id = 'exp-1'`); err != nil {
				t.Fatal(err)
			}
		}
		e.Runs++
		return tx.ExperimentUpdate(ctx, e)
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if attempts != 2 {
		t.Errorf("fn ran %d times, want 2 (a serialization failure, then success)", attempts)
	}
	e, err := s.ExperimentGet(ctx, "exp-1")
	if err != nil || e.Runs != 11 || e.Version != 3 {
		t.Errorf("experiment after the retried increment = %+v, %v; want Runs 11 at v3", e, err)
	}
	if prm.Version != 2 || audit.Seq != 1 {
		t.Errorf("after commit: promotion v%d, audit seq %d; want v2 and 1", prm.Version, audit.Seq)
	}
	log, err := s.AuditList(ctx, coordination.AuditFilter{})
	if err != nil || len(log) != 1 || log[0].Hash != audit.Hash {
		t.Errorf("audit log = %v, %v; want the one entry of the committed attempt", log, err)
	}
}

// TestRetriesAreBounded checks that a transaction failing with a
// serialization failure every time gives up with ErrConflict.
func TestRetriesAreBounded(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer func() { _ = s.Close() }()
	attempts := 0
	err := s.InTx(t.Context(), func(ctx context.Context, tx coordination.Tx) error {
		attempts++
		if err := tx.KVPut(ctx, "k", []byte(fmt.Sprint(attempts)), t0); err != nil {
			return err
		}
		return &pgconn.PgError{Code: "40001", Message: "could not serialize access"}
	})
	if !errors.Is(err, coordination.ErrConflict) {
		t.Errorf("InTx = %v, want an error wrapping ErrConflict", err)
	}
	if attempts < 2 || attempts > 20 {
		t.Errorf("fn ran %d times, want a few retries and then a stop", attempts)
	}
	if _, err := s.KVGet(t.Context(), "k"); !errors.Is(err, coordination.ErrNotFound) {
		t.Errorf("KVGet after the failed transaction: %v, want ErrNotFound", err)
	}
}

// TestWritersQueue checks that InTx calls wait for each other instead of
// failing: many writers incrementing one experiment from stale reads inside
// their transactions never see a conflict, and fn runs once per call.
func TestWritersQueue(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer func() { _ = s.Close() }()
	inTx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		return tx.ExperimentInsert(ctx, &coordination.Experiment{ID: "exp-1", CreatedAt: t0})
	})
	const writers, increments = 6, 15
	var calls atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range increments {
				err := s.InTx(t.Context(), func(ctx context.Context, tx coordination.Tx) error {
					calls.Add(1)
					e, err := tx.ExperimentGet(ctx, "exp-1")
					if err != nil {
						return err
					}
					e.Runs++
					return tx.ExperimentUpdate(ctx, e)
				})
				if err != nil {
					t.Errorf("InTx: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	e, err := s.ExperimentGet(t.Context(), "exp-1")
	if err != nil || e.Runs != writers*increments {
		t.Errorf("after %d increments: %+v, %v", writers*increments, e, err)
	}
	if n := calls.Load(); n != writers*increments {
		t.Errorf("fn ran %d times for %d InTx calls, want once each", n, writers*increments)
	}
}

// TestOtherErrorsAreNotRetried checks that fn's own errors end InTx at once.
func TestOtherErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer func() { _ = s.Close() }()
	attempts := 0
	boom := errors.New("boom")
	err := s.InTx(t.Context(), func(context.Context, coordination.Tx) error { attempts++; return boom })
	if !errors.Is(err, boom) || attempts != 1 {
		t.Errorf("InTx = %v after %d attempts, want boom after 1", err, attempts)
	}
}

// TestTxUsableAfterConflict checks that an insert refused as a duplicate
// leaves the transaction usable, as in the other stores.
func TestTxUsableAfterConflict(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer func() { _ = s.Close() }()
	inTx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		return tx.ExperimentInsert(ctx, &coordination.Experiment{ID: "exp-1", CreatedAt: t0})
	})
	inTx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		err := tx.ExperimentInsert(ctx, &coordination.Experiment{ID: "exp-1", CreatedAt: t0})
		if !errors.Is(err, coordination.ErrConflict) {
			t.Errorf("duplicate insert: %v, want ErrConflict", err)
		}
		active := &coordination.Release{ID: "rel-1", State: coordination.ReleaseActive, ActivatedAt: t0}
		if err := tx.ReleaseInsert(ctx, active); err != nil {
			return err
		}
		old := &coordination.Release{ID: "rel-0", State: coordination.ReleaseArchived, ActivatedAt: t0}
		if err := tx.ReleaseInsert(ctx, old); err != nil {
			return err
		}
		old.State = coordination.ReleaseActive
		if err := tx.ReleaseUpdate(ctx, old); !errors.Is(err, coordination.ErrConflict) || old.Version != 1 {
			t.Errorf("second active release: %v (v%d), want ErrConflict leaving v1", err, old.Version)
		}
		return tx.ExperimentInsert(ctx, &coordination.Experiment{ID: "exp-2", CreatedAt: t0})
	})
	if _, err := s.ExperimentGet(t.Context(), "exp-2"); err != nil {
		t.Errorf("an insert after a refused one was lost: %v", err)
	}
}

// TestOutboxRelaysShareWork runs a second relay while the first holds a
// batch: the second skips the locked events instead of publishing them too.
func TestOutboxRelaysShareWork(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer func() { _ = s.Close() }()
	ctx := t.Context()
	inTx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		for i := range 10 {
			ev, err := coordination.NewEvent(coordination.EventExperimentCreated, "exp", t0, i)
			if err != nil {
				return err
			}
			ev.ID = fmt.Sprintf("evt-%02d", i)
			if err := tx.OutboxAppend(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	var first, second []string
	n, err := s.OutboxRelay(ctx, 4, t0, func(ctx context.Context, ev coordination.Event) error {
		if len(first) == 0 {
			m, err := s.OutboxRelay(ctx, 0, t0, func(_ context.Context, ev coordination.Event) error {
				second = append(second, ev.ID)
				return nil
			})
			if err != nil || m != 6 {
				t.Errorf("second relay published %d events, %v; want the 6 unlocked ones", m, err)
			}
		}
		first = append(first, ev.ID)
		return nil
	})
	if err != nil || n != 4 {
		t.Fatalf("first relay = %d, %v; want 4", n, err)
	}
	if fmt.Sprint(first) != "[evt-00 evt-01 evt-02 evt-03]" ||
		fmt.Sprint(second) != "[evt-04 evt-05 evt-06 evt-07 evt-08 evt-09]" {
		t.Errorf("relays published %v and %v, want the first four and the other six", first, second)
	}
	if pending, err := s.OutboxPending(ctx, 0); err != nil || len(pending) != 0 {
		t.Errorf("pending after both relays: %d, %v; want none", len(pending), err)
	}

	// A failed publish leaves that event and the rest of the batch pending.
	inTx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		a, _ := coordination.NewEvent("x", "", t0, nil)
		b, _ := coordination.NewEvent("x", "", t0, nil)
		a.ID, b.ID = "evt-a", "evt-b"
		return tx.OutboxAppend(ctx, a, b)
	})
	refused := errors.New("bus down")
	n, err = s.OutboxRelay(ctx, 0, t0, func(_ context.Context, ev coordination.Event) error {
		if ev.ID == "evt-b" {
			return refused
		}
		return nil
	})
	if n != 1 || !errors.Is(err, refused) {
		t.Errorf("relay with a failing publish = %d, %v; want 1 and the publish error", n, err)
	}
	if pending, err := s.OutboxPending(ctx, 0); err != nil || len(pending) != 1 || pending[0].ID != "evt-b" {
		t.Errorf("pending after a failed publish = %v, %v; want evt-b", pending, err)
	}
}

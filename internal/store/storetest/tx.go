package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

var errBoom = errors.New("boom")

func testKV(t *testing.T, s coordination.Store) {
	ctx := t.Context()
	for _, step := range []struct{ key, value string }{{"a", "1"}, {"b", "x"}, {"a", "22"}, {"empty", ""}} {
		tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
			return tx.KVPut(ctx, step.key, []byte(step.value), at(time.Minute))
		})
	}
	for key, want := range map[string]string{"a": "22", "b": "x", "empty": ""} {
		got, err := s.KVGet(ctx, key)
		mustOK(t, "KVGet "+key, err)
		if string(got) != want {
			t.Errorf("KVGet(%s) = %q, want %q", key, got, want)
		}
	}
}

func auditEntry(action string, n int) *coordination.AuditEntry {
	return &coordination.AuditEntry{At: at(time.Duration(n) * time.Minute), Actor: "alice", Role: coordination.RoleAdmin,
		Action: action, Target: fmt.Sprintf("exp-%d", n), Details: map[string]any{"n": float64(n), "ok": true, "note": "x"}}
}

func testAudit(t *testing.T, s coordination.Store) {
	ctx := t.Context()
	var appended []*coordination.AuditEntry
	appendTx := func(fail bool, actions ...string) error {
		return s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
			for _, a := range actions {
				e := auditEntry(a, len(appended)+1)
				if err := tx.AuditAppend(ctx, e); err != nil {
					return err
				}
				in, err := tx.AuditList(ctx, coordination.AuditFilter{AfterSeq: e.Seq - 1})
				if err != nil || len(in) != 1 || in[0].Hash != e.Hash {
					t.Errorf("in tx: AuditList after appending seq %d = %v, %v; want the new entry", e.Seq, in, err)
				}
				if !fail {
					appended = append(appended, e)
				}
			}
			if fail {
				return errBoom
			}
			return nil
		})
	}
	mustOK(t, "append", appendTx(false, "start", "approve", "promote"))
	wantErr(t, "rolled-back append", appendTx(true, "lost"), errBoom)
	mustOK(t, "append", appendTx(false, "quarantine", "review"))
	// Details that JSON does not carry as they are: struct field order,
	// integers beyond float64 precision, typed maps.
	odd := auditEntry("odd details", 6)
	odd.Details = map[string]any{"z": struct{ B, A int64 }{1 << 60, 3}, "typed": map[string]int{"y": 1, "x": 2}}
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error { return tx.AuditAppend(ctx, odd) })
	appended = append(appended, odd)

	got, err := s.AuditList(ctx, coordination.AuditFilter{})
	mustOK(t, "AuditList", err)
	same(t, "audit log", got, appended)
	for i, e := range appended {
		if e.Seq != int64(i+1) {
			t.Errorf("entry %d got Seq %d, want %d (a rolled-back append must leave no gap)", i, e.Seq, i+1)
		}
	}
	if v := coordination.VerifyAuditChain(got); !v.OK || v.Entries != 6 {
		t.Errorf("VerifyAuditChain on the stored log = %+v, want OK with 6 entries", v)
	}
	for _, c := range []struct {
		f    coordination.AuditFilter
		want []int64
	}{
		{coordination.AuditFilter{AfterSeq: 2, Limit: 2}, []int64{3, 4}},
		{coordination.AuditFilter{AfterSeq: 3}, []int64{4, 5, 6}},
		{coordination.AuditFilter{Limit: 1}, []int64{1}},
		{coordination.AuditFilter{AfterSeq: 6}, nil},
	} {
		page, err := s.AuditList(ctx, c.f)
		mustOK(t, "AuditList", err)
		var seqs []int64
		for _, e := range page {
			seqs = append(seqs, e.Seq)
		}
		if fmt.Sprint(seqs) != fmt.Sprint(c.want) {
			t.Errorf("AuditList(%+v) seqs = %v, want %v", c.f, seqs, c.want)
		}
	}
}

func testOutbox(t *testing.T, s coordination.Store) {
	ctx := t.Context()
	evs := []coordination.Event{event(t, "evt-1", coordination.EventExperimentCreated, at(0)),
		event(t, "evt-2", coordination.EventExperimentStarted, at(time.Second)),
		event(t, "evt-3", coordination.EventPromotionRequested, at(2*time.Second)),
		event(t, "evt-4", coordination.EventPromotionApproved, at(3*time.Second)),
		event(t, "evt-5", coordination.EventQuarantineCompleted, at(4*time.Second))}
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error { return tx.OutboxAppend(ctx, evs[0:2]...) })
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error { return tx.OutboxAppend(ctx, evs[2:3]...) })
	err := s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		if err := tx.OutboxAppend(ctx, evs[3:4]...); err != nil {
			return err
		}
		return errBoom
	})
	wantErr(t, "rolled-back append", err, errBoom)
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error { return tx.OutboxAppend(ctx, evs[4:]...) })
	if evs[0].Seq <= 0 || evs[1].Seq <= evs[0].Seq || evs[4].Seq <= evs[1].Seq {
		t.Errorf("OutboxAppend set seqs %d, %d, %d; want increasing positive", evs[0].Seq, evs[1].Seq, evs[4].Seq)
	}

	pending := func(limit int, want ...string) []coordination.Event {
		t.Helper()
		got, err := s.OutboxPending(ctx, limit)
		mustOK(t, "OutboxPending", err)
		wantIDs(t, fmt.Sprintf("OutboxPending(%d)", limit), ids(ptrs(got), func(e *coordination.Event) string { return e.ID }), want)
		return got
	}
	got := pending(0, "evt-1", "evt-2", "evt-3", "evt-5")
	same(t, "pending events", got, []coordination.Event{evs[0], evs[1], evs[2], evs[4]})
	pending(2, "evt-1", "evt-2")

	mustOK(t, "OutboxMarkPublished", s.OutboxMarkPublished(ctx, []int64{evs[0].Seq, evs[2].Seq}, at(time.Minute)))
	pending(0, "evt-2", "evt-5")
	mustOK(t, "OutboxMarkPublished again", s.OutboxMarkPublished(ctx, []int64{evs[0].Seq, 99999}, at(time.Minute)))
	mustOK(t, "OutboxMarkPublished of nothing", s.OutboxMarkPublished(ctx, nil, at(time.Minute)))
	pending(0, "evt-2", "evt-5")

	for name, batch := range map[string][]coordination.Event{
		"an event ID already in the outbox":  {evs[0]},
		"the same event twice in one append": {event(t, "evt-6", "x", at(0)), event(t, "evt-6", "x", at(0))},
	} {
		err := s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error { return tx.OutboxAppend(ctx, batch...) })
		wantErr(t, "appending "+name, err, coordination.ErrConflict)
	}
	pending(0, "evt-2", "evt-5")
	mustOK(t, "OutboxMarkPublished", s.OutboxMarkPublished(ctx, []int64{evs[1].Seq, evs[4].Seq}, at(time.Minute)))
	pending(0)
}

func ptrs[T any](xs []T) []*T {
	out := make([]*T, len(xs))
	for i := range xs {
		out[i] = &xs[i]
	}
	return out
}

func testConsumer(t *testing.T, s coordination.Store) {
	for i, c := range []struct {
		consumer, event string
		first           bool
	}{
		{"relay", "evt-1", true}, {"relay", "evt-1", false}, {"audit", "evt-1", true},
		{"relay", "evt-2", true}, {"audit", "evt-1", false},
	} {
		first, err := s.ConsumerMarkProcessed(t.Context(), c.consumer, c.event, at(time.Duration(i)*time.Second))
		mustOK(t, "ConsumerMarkProcessed", err)
		if first != c.first {
			t.Errorf("step %d: ConsumerMarkProcessed(%s, %s) = %v, want %v", i, c.consumer, c.event, first, c.first)
		}
	}
}

// testRollback makes one write of every kind in a transaction that fails and
// checks that none of them is visible afterwards.
func testRollback(t *testing.T, s coordination.Store) {
	ctx := t.Context()
	exp0, rel0 := experiment("exp-0", coordination.ExperimentRunning, at(0)), release("rel-0", coordination.ReleaseActive, at(0))
	insert(t, s, exp0, rel0, record("rec-0", "exp-0", at(0), at(90*day)), entry("bl-0", "rec-0", "k0", at(0)))
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		if err := tx.KVPut(ctx, "k", []byte("old"), at(0)); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, auditEntry("create", 1))
	})

	err := s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		upd, arch := *exp0, *rel0
		upd.Title = "changed"
		arch.State = coordination.ReleaseArchived
		steps := []func() error{
			func() error {
				return tx.ExperimentInsert(ctx, experiment("exp-1", coordination.ExperimentProposed, at(1)))
			},
			func() error { return tx.ExperimentUpdate(ctx, &upd) },
			func() error {
				return tx.PromotionInsert(ctx, promotion("prm-1", "exp-0", coordination.PromotionRequested, at(1)))
			},
			func() error { return tx.ReleaseUpdate(ctx, &arch) },
			func() error { return tx.ReleaseInsert(ctx, release("rel-1", coordination.ReleaseActive, at(1))) },
			func() error { return tx.QuarantineInsert(ctx, record("rec-1", "exp-0", at(1), at(2))) },
			func() error { return tx.QuarantineReviewInsert(ctx, review("rev-1", "rec-0", at(1), at(2))) },
			func() error { return tx.BlacklistInsert(ctx, entry("bl-1", "rec-1", "k1", at(1))) },
			func() error { _, err := tx.BlacklistLift(ctx, "rec-0", "alice", at(1)); return err },
			func() error {
				return tx.ProposalInsert(ctx, proposal("prop-1", coordination.ProposalSuggested, 1, at(1)))
			},
			func() error { return tx.KVPut(ctx, "k", []byte("new"), at(1)) },
			func() error { return tx.KVPut(ctx, "k2", []byte("new"), at(1)) },
			func() error {
				return tx.OutboxAppend(ctx, event(t, "evt-1", coordination.EventExperimentCreated, at(1)))
			},
			func() error { return tx.AuditAppend(ctx, auditEntry("lost", 2)) },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				return fmt.Errorf("step %d: %w", i, err)
			}
		}
		return errBoom
	})
	wantErr(t, "InTx", err, errBoom)

	for name, get := range map[string]func() error{
		"experiment exp-1": func() error { _, err := s.ExperimentGet(ctx, "exp-1"); return err },
		"promotion prm-1":  func() error { _, err := s.PromotionGet(ctx, "prm-1"); return err },
		"release rel-1":    func() error { _, err := s.ReleaseGet(ctx, "rel-1"); return err },
		"record rec-1":     func() error { _, err := s.QuarantineGet(ctx, "rec-1"); return err },
		"proposal prop-1":  func() error { _, err := s.ProposalGet(ctx, "prop-1"); return err },
		"kv k2":            func() error { _, err := s.KVGet(ctx, "k2"); return err },
	} {
		wantErr(t, "after rollback, "+name, get(), coordination.ErrNotFound)
	}
	gotExp, err := s.ExperimentGet(ctx, "exp-0")
	mustOK(t, "ExperimentGet", err)
	same(t, "experiment updated in the rolled-back tx", gotExp, exp0)
	active, err := s.ReleaseActive(ctx)
	mustOK(t, "ReleaseActive", err)
	same(t, "active release after rollback", active, rel0)
	revs, err := s.QuarantineReviews(ctx, "rec-0")
	mustOK(t, "QuarantineReviews", err)
	found, err := s.BlacklistFind(ctx, []string{"k0", "k1"})
	mustOK(t, "BlacklistFind", err)
	wantIDs(t, "reviews after rollback", ids(revs, revID), nil)
	wantIDs(t, "active blacklist after rollback", ids(found, blID), []string{"bl-0"})
	kv, err := s.KVGet(ctx, "k")
	mustOK(t, "KVGet", err)
	if string(kv) != "old" {
		t.Errorf("KV after rollback = %q, want %q", kv, "old")
	}
	evs, err := s.OutboxPending(ctx, 0)
	mustOK(t, "OutboxPending", err)
	auds, err := s.AuditList(ctx, coordination.AuditFilter{})
	mustOK(t, "AuditList", err)
	if len(evs) != 0 || len(auds) != 1 {
		t.Errorf("after rollback: %d pending events and %d audit entries, want 0 and 1", len(evs), len(auds))
	}
	insert(t, s, experiment("exp-1", coordination.ExperimentProposed, at(1)))
}

// testTxVisibility checks that a transaction reads its own writes and that
// reads outside it see only committed data meanwhile.
func testTxVisibility(t *testing.T, s coordination.Store) {
	insert(t, s, experiment("exp-0", coordination.ExperimentRunning, at(0)))
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		mustOK(t, "insert", tx.ExperimentInsert(ctx, experiment("exp-1", coordination.ExperimentRunning, at(1))))
		e0, err := tx.ExperimentGet(ctx, "exp-0")
		mustOK(t, "tx ExperimentGet", err)
		e0.Title = "changed in tx"
		mustOK(t, "update", tx.ExperimentUpdate(ctx, e0))
		mustOK(t, "release", tx.ReleaseInsert(ctx, release("rel-1", coordination.ReleaseActive, at(1))))
		mustOK(t, "kv", tx.KVPut(ctx, "k", []byte("v"), at(1)))

		inList, err := tx.ExperimentList(ctx, coordination.ExperimentFilter{States: []coordination.ExperimentState{coordination.ExperimentRunning}})
		mustOK(t, "tx ExperimentList", err)
		wantIDs(t, "in tx: ExperimentList", ids(inList, expID), []string{"exp-0", "exp-1"})
		if got, err := tx.ExperimentGet(ctx, "exp-0"); err != nil || got.Title != "changed in tx" || got.Version != 2 {
			t.Errorf("in tx: ExperimentGet(exp-0) = %+v, %v; want the tx's update at v2", got, err)
		}
		if _, err := tx.ReleaseActive(ctx); err != nil {
			t.Errorf("in tx: ReleaseActive: %v", err)
		}
		if v, err := tx.KVGet(ctx, "k"); err != nil || string(v) != "v" {
			t.Errorf("in tx: KVGet = %q, %v", v, err)
		}

		_, err = s.ExperimentGet(ctx, "exp-1")
		wantErr(t, "outside the tx: an uncommitted insert", err, coordination.ErrNotFound)
		if got, err := s.ExperimentGet(ctx, "exp-0"); err != nil || got.Version != 1 {
			t.Errorf("outside the tx: ExperimentGet(exp-0) = %+v, %v; want the committed v1", got, err)
		}
		outList, err := s.ExperimentList(ctx, coordination.ExperimentFilter{})
		mustOK(t, "ExperimentList", err)
		wantIDs(t, "outside the tx: ExperimentList", ids(outList, expID), []string{"exp-0"})
		_, err = s.ReleaseActive(ctx)
		wantErr(t, "outside the tx: ReleaseActive", err, coordination.ErrNotFound)
		_, err = s.KVGet(ctx, "k")
		wantErr(t, "outside the tx: KVGet", err, coordination.ErrNotFound)
		return nil
	})
	got, err := s.ExperimentGet(t.Context(), "exp-1")
	if err != nil || got.ID != "exp-1" {
		t.Errorf("after commit: ExperimentGet(exp-1) = %v, %v", got, err)
	}
}

// testTxAfterEnd checks that a Tx kept after InTx returned cannot write.
func testTxAfterEnd(t *testing.T, s coordination.Store) {
	var leaked coordination.Tx
	tx(t, s, func(_ context.Context, tx coordination.Tx) error { leaked = tx; return nil })
	ctx := t.Context()
	if err := leaked.ExperimentInsert(ctx, experiment("exp-1", coordination.ExperimentRunning, at(0))); err == nil {
		t.Error("ExperimentInsert through a finished Tx succeeded")
	}
	if err := leaked.KVPut(ctx, "k", []byte("v"), at(0)); err == nil {
		t.Error("KVPut through a finished Tx succeeded")
	}
	if _, err := leaked.ExperimentGet(ctx, "exp-1"); err == nil {
		t.Error("ExperimentGet through a finished Tx found an experiment")
	}
	_, err := s.ExperimentGet(ctx, "exp-1")
	wantErr(t, "ExperimentGet after a write through a finished Tx", err, coordination.ErrNotFound)
}

// testCanceled checks that a canceled context neither runs fn nor commits.
func testCanceled(t *testing.T, s coordination.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err := s.InTx(ctx, func(context.Context, coordination.Tx) error { called = true; return nil })
	wantErr(t, "InTx with a canceled context", err, context.Canceled)
	if called {
		t.Error("InTx ran fn with a canceled context")
	}

	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	err = s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		if err := tx.ExperimentInsert(ctx, experiment("exp-1", coordination.ExperimentRunning, at(0))); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if err == nil {
		t.Error("InTx committed although its context was canceled before commit")
	}
	_, err = s.ExperimentGet(t.Context(), "exp-1")
	wantErr(t, "ExperimentGet after a canceled commit", err, coordination.ErrNotFound)
}

// testConcurrent runs 8 writers × 50 increments of one experiment, half of
// them reading outside the transaction (so they hit conflicts and retry),
// each with an audit entry and an event, and checks that nothing was lost.
func testConcurrent(t *testing.T, s coordination.Store) {
	const writers, increments = 8, 50
	insert(t, s, experiment("exp-1", coordination.ExperimentRunning, at(0)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	for w := range writers {
		wg.Go(func() {
			for i := range increments {
				for attempt := 0; ; attempt++ {
					if attempt == 1000 {
						t.Errorf("writer %d: increment %d still conflicting after 1000 attempts", w, i)
						return
					}
					var stale *coordination.Experiment
					if w%2 == 0 {
						var err error
						if stale, err = s.ExperimentGet(t.Context(), "exp-1"); err != nil {
							t.Errorf("writer %d: %v", w, err)
							return
						}
					}
					err := s.InTx(t.Context(), func(ctx context.Context, tx coordination.Tx) error {
						// fn must not change state outside the Tx (a store may
						// run it more than once): work on a copy of the stale read.
						var e *coordination.Experiment
						if stale != nil {
							c := *stale
							e = &c
						} else {
							var err error
							if e, err = tx.ExperimentGet(ctx, "exp-1"); err != nil {
								return err
							}
						}
						e.Runs++
						if err := tx.ExperimentUpdate(ctx, e); err != nil {
							return err
						}
						if err := tx.AuditAppend(ctx, auditEntry("increment", e.Runs)); err != nil {
							return err
						}
						return tx.OutboxAppend(ctx, event(t, fmt.Sprintf("evt-%d-%d", w, i), "x", at(0)))
					})
					if errors.Is(err, coordination.ErrConflict) {
						mu.Lock()
						conflicts++
						mu.Unlock()
						continue
					}
					if err != nil {
						t.Errorf("writer %d: %v", w, err)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	ctx := t.Context()
	e, err := s.ExperimentGet(ctx, "exp-1")
	mustOK(t, "ExperimentGet", err)
	if e.Runs != writers*increments || e.Version != writers*increments+1 {
		t.Errorf("after %d increments: Runs %d, Version %d; want %d and %d (conflicts retried: %d)",
			writers*increments, e.Runs, e.Version, writers*increments, writers*increments+1, conflicts)
	}
	auds, err := s.AuditList(ctx, coordination.AuditFilter{})
	mustOK(t, "AuditList", err)
	if v := coordination.VerifyAuditChain(auds); !v.OK || v.Entries != writers*increments {
		t.Errorf("audit chain after concurrent appends: %+v, want OK with %d entries", v, writers*increments)
	}
	evs, err := s.OutboxPending(ctx, 0)
	mustOK(t, "OutboxPending", err)
	seen := map[string]bool{}
	for i, ev := range evs {
		if seen[ev.ID] || (i > 0 && ev.Seq <= evs[i-1].Seq) {
			t.Fatalf("outbox after concurrent appends: event %d (%s, seq %d) repeated or out of order", i, ev.ID, ev.Seq)
		}
		seen[ev.ID] = true
	}
	if len(evs) != writers*increments {
		t.Errorf("outbox holds %d events, want %d", len(evs), writers*increments)
	}
}

// Package leasetest is the conformance suite of the leadership.Leases seam
// and of the stores' fencing: every SQL store runs it from its tests.
package leasetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/leadership"
)

// Backend is one store under test: its Store and its Leases, on the same
// database.
type Backend struct {
	Store  coordination.Store
	Leases leadership.Leases
	// Waiting reports whether a session of the backend, other than those
	// holding them, waits for a lock or for the write connection.
	Waiting func(ctx context.Context) (bool, error)
}

// t0 is the suite's first instant; lease times are all relative to it.
var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

const (
	name = coordination.CoordinatorLease
	ttl  = 15 * time.Second
)

// Run runs the suite; open returns a backend on a new, empty database.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"AcquireRenewExpireTakeover", testTakeover},
		{"HolderReacquiresWithNewEpoch", testReacquire},
		{"ReleaseFreesAtOnce", testRelease},
		{"StaleEpochWriteRefused", testStaleWrite},
		{"NoLeaseRefusesEpochs", testNoLease},
		{"ReleasedEpochRefused", testReleasedEpoch},
		{"FencedTransactionBeforeTakeover", testInFlight},
		{"ConcurrentAcquireHasOneWinner", testConcurrentAcquire},
		{"InvalidInput", testInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

func acquire(t *testing.T, l leadership.Leases, holder string, now time.Time) (int64, bool) {
	t.Helper()
	epoch, ok, err := l.TryAcquire(t.Context(), name, holder, now, ttl)
	if err != nil {
		t.Fatalf("TryAcquire(%s at %v): %v", holder, now.Sub(t0), err)
	}
	return epoch, ok
}

func renew(t *testing.T, l leadership.Leases, holder string, epoch int64, now time.Time) bool {
	t.Helper()
	ok, err := l.Renew(t.Context(), name, holder, epoch, now, ttl)
	if err != nil {
		t.Fatalf("Renew(%s epoch %d at %v): %v", holder, epoch, now.Sub(t0), err)
	}
	return ok
}

func testTakeover(t *testing.T, b Backend) {
	l := b.Leases
	if e, ok := acquire(t, l, "a", t0); !ok || e != 1 {
		t.Fatalf("first acquisition = epoch %d, %v; want 1, true", e, ok)
	}
	if e, ok := acquire(t, l, "b", t0.Add(ttl-time.Millisecond)); ok || e != 1 {
		t.Fatalf("acquisition of a held lease = epoch %d, %v; want the holder's 1, false", e, ok)
	}
	if !renew(t, l, "a", 1, t0.Add(10*time.Second)) {
		t.Fatal("the holder could not renew")
	}
	// The renewal moved the expiry to 10s+ttl: b still cannot take it at ttl.
	if _, ok := acquire(t, l, "b", t0.Add(ttl)); ok {
		t.Fatal("b acquired a renewed lease before it expired")
	}
	if renew(t, l, "b", 1, t0.Add(11*time.Second)) || renew(t, l, "a", 2, t0.Add(11*time.Second)) {
		t.Fatal("a renewal by a non-holder or with a wrong epoch succeeded")
	}
	// Expired exactly at its expiry time: b takes over with a new epoch.
	if e, ok := acquire(t, l, "b", t0.Add(10*time.Second+ttl)); !ok || e != 2 {
		t.Fatalf("takeover after expiry = epoch %d, %v; want 2, true", e, ok)
	}
	if renew(t, l, "a", 1, t0.Add(26*time.Second)) {
		t.Fatal("the deposed holder renewed its old epoch")
	}
	if !renew(t, l, "b", 2, t0.Add(26*time.Second)) {
		t.Fatal("the new holder could not renew")
	}
	if e, ok := acquire(t, l, "a", t0.Add(27*time.Second)); ok || e != 2 {
		t.Fatalf("the deposed holder's acquisition = epoch %d, %v; want 2, false", e, ok)
	}
}

func testReacquire(t *testing.T, b Backend) {
	l := b.Leases
	acquire(t, l, "a", t0)
	// A holder that stopped acting (its deadline passed while it could not
	// renew) acquires again, under a new epoch that fences its old work.
	if e, ok := acquire(t, l, "a", t0.Add(time.Second)); !ok || e != 2 {
		t.Fatalf("re-acquisition by the holder = epoch %d, %v; want 2, true", e, ok)
	}
	if renew(t, l, "a", 1, t0.Add(2*time.Second)) {
		t.Fatal("the old epoch could still be renewed")
	}
}

func testRelease(t *testing.T, b Backend) {
	l := b.Leases
	acquire(t, l, "a", t0)
	if err := l.Release(t.Context(), name, "b", 1, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, ok := acquire(t, l, "b", t0.Add(2*time.Second)); ok {
		t.Fatal("a release by a non-holder freed the lease")
	}
	if err := l.Release(t.Context(), name, "a", 1, t0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if renew(t, l, "a", 1, t0.Add(3*time.Second)) {
		t.Fatal("a released lease was renewed")
	}
	if e, ok := acquire(t, l, "b", t0.Add(4*time.Second)); !ok || e != 2 {
		t.Fatalf("acquisition right after the release = epoch %d, %v; want 2, true", e, ok)
	}
	if err := l.Release(t.Context(), name, "a", 1, t0.Add(5*time.Second)); err != nil {
		t.Fatalf("releasing a lease no longer held: %v", err)
	}
	if !renew(t, l, "b", 2, t0.Add(5*time.Second)) {
		t.Fatal("a stale release freed the new holder's lease")
	}
}

// write runs a fenced transaction that stores key and reports whether fn
// ran at all.
func write(ctx context.Context, s coordination.Store, key string) (ran bool, err error) {
	err = s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		ran = true
		if err := tx.KVPut(ctx, key, []byte("v"), t0); err != nil {
			return err
		}
		ev, err := coordination.NewEvent("test.fenced", key, t0, map[string]any{"key": key})
		if err != nil {
			return err
		}
		return tx.OutboxAppend(ctx, ev)
	})
	return ran, err
}

// refused checks that a write under epoch was refused as stale, wrote
// nothing and said so.
func refused(t *testing.T, s coordination.Store, epoch int64, key, mention string) {
	t.Helper()
	ran, err := write(coordination.WithEpoch(t.Context(), epoch), s, key)
	var stale *coordination.StaleEpochError
	if !errors.Is(err, coordination.ErrConflict) || !errors.As(err, &stale) || stale.Epoch != epoch {
		t.Fatalf("write under epoch %d: %v; want a StaleEpochError wrapping ErrConflict", epoch, err)
	}
	if !strings.Contains(err.Error(), mention) {
		t.Errorf("error %q does not say %q", err, mention)
	}
	if ran {
		t.Error("the transaction's function ran although its epoch was stale")
	}
	if _, err := s.KVGet(t.Context(), key); !errors.Is(err, coordination.ErrNotFound) {
		t.Errorf("the refused write landed: KVGet(%s) = %v", key, err)
	}
	pending, err := s.OutboxPending(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range pending {
		if ev.Subject == key {
			t.Errorf("the refused write's event %s is in the outbox", ev.ID)
		}
	}
}

func accepted(t *testing.T, ctx context.Context, s coordination.Store, key string) {
	t.Helper()
	if _, err := write(ctx, s, key); err != nil {
		t.Fatalf("write %s: %v", key, err)
	}
	if _, err := s.KVGet(t.Context(), key); err != nil {
		t.Fatalf("write %s did not land: %v", key, err)
	}
}

func testStaleWrite(t *testing.T, b Backend) {
	acquire(t, b.Leases, "a", t0)
	accepted(t, coordination.WithEpoch(t.Context(), 1), b.Store, "epoch-1-while-current")
	if e, ok := acquire(t, b.Leases, "b", t0.Add(ttl)); !ok || e != 2 {
		t.Fatalf("takeover = %d, %v", e, ok)
	}
	refused(t, b.Store, 1, "epoch-1-after-takeover", "deposed: epoch 1 is stale, leader epoch is 2")
	refused(t, b.Store, 3, "epoch-3-from-the-future", "deposed: epoch 3 is stale, leader epoch is 2")
	accepted(t, coordination.WithEpoch(t.Context(), 2), b.Store, "epoch-2")
	// Writes without an epoch are users' actions: they need no lease.
	accepted(t, t.Context(), b.Store, "no-epoch")
}

func testNoLease(t *testing.T, b Backend) {
	refused(t, b.Store, 1, "before-any-lease", "no coordinator holds the lease")
	accepted(t, t.Context(), b.Store, "no-epoch")
}

func testReleasedEpoch(t *testing.T, b Backend) {
	acquire(t, b.Leases, "a", t0)
	if err := b.Leases.Release(t.Context(), name, "a", 1, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	refused(t, b.Store, 1, "after-release", "no coordinator holds the lease")
}

// testInFlight: a fenced transaction that began before a takeover commits
// (it is serialized before the acquisition), and the same epoch is refused
// once the acquisition is done.
func testInFlight(t *testing.T, b Backend) {
	acquire(t, b.Leases, "a", t0)
	inside, release := make(chan struct{}), make(chan struct{})
	txErr := make(chan error, 1)
	go func() {
		txErr <- b.Store.InTx(coordination.WithEpoch(context.WithoutCancel(t.Context()), 1), func(ctx context.Context, tx coordination.Tx) error {
			close(inside)
			<-release
			return tx.KVPut(ctx, "in-flight", []byte("v"), t0)
		})
	}()
	<-inside
	type result struct {
		epoch int64
		ok    bool
		err   error
	}
	acq := make(chan result, 1)
	go func() {
		e, ok, err := b.Leases.TryAcquire(context.WithoutCancel(t.Context()), name, "b", t0.Add(ttl), ttl)
		acq <- result{e, ok, err}
	}()
	// The acquisition must wait for the fenced transaction to end.
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	failsafe := time.After(10 * time.Second)
	for waiting := false; !waiting; {
		select {
		case r := <-acq:
			close(release)
			t.Fatalf("the acquisition (%+v) finished while a fenced transaction of the old epoch was open", r)
		case <-failsafe:
			close(release)
			t.Fatal("the acquisition neither waited nor finished")
		case <-tick.C:
		}
		var err error
		if waiting, err = b.Waiting(t.Context()); err != nil {
			close(release)
			t.Fatal(err)
		}
	}
	close(release)
	if err := <-txErr; err != nil {
		t.Fatalf("the transaction that began before the takeover: %v", err)
	}
	if r := <-acq; r.err != nil || !r.ok || r.epoch != 2 {
		t.Fatalf("takeover = %+v", r)
	}
	if _, err := b.Store.KVGet(t.Context(), "in-flight"); err != nil {
		t.Fatalf("the transaction that began before the takeover did not commit: %v", err)
	}
	refused(t, b.Store, 1, "after-takeover", "leader epoch is 2")
}

func testConcurrentAcquire(t *testing.T, b Backend) {
	const n = 6
	var wg sync.WaitGroup
	type result struct {
		epoch int64
		ok    bool
		err   error
	}
	results := make([]result, n)
	for i := range n {
		wg.Go(func() {
			e, ok, err := b.Leases.TryAcquire(t.Context(), name, fmt.Sprintf("h%d", i), t0, ttl)
			results[i] = result{e, ok, err}
		})
	}
	wg.Wait()
	winners := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("holder h%d: %v", i, r.err)
		}
		if r.epoch != 1 {
			t.Errorf("holder h%d saw epoch %d, want 1", i, r.epoch)
		}
		if r.ok {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d holders acquired the lease at once, want 1", winners)
	}
}

func testInvalidInput(t *testing.T, b Backend) {
	ctx := t.Context()
	checks := []struct {
		what string
		err  error
	}{
		{"empty name", func() error { _, _, err := b.Leases.TryAcquire(ctx, "", "a", t0, ttl); return err }()},
		{"empty holder", func() error { _, _, err := b.Leases.TryAcquire(ctx, name, "", t0, ttl); return err }()},
		{"zero ttl", func() error { _, _, err := b.Leases.TryAcquire(ctx, name, "a", t0, 0); return err }()},
		{"renew with negative ttl", func() error { _, err := b.Leases.Renew(ctx, name, "a", 1, t0, -ttl); return err }()},
		{"release without holder", b.Leases.Release(ctx, name, "", 1, t0)},
	}
	for _, c := range checks {
		if !errors.Is(c.err, coordination.ErrInvalidInput) {
			t.Errorf("%s: %v, want ErrInvalidInput", c.what, c.err)
		}
	}
	if _, ok := acquire(t, b.Leases, "a", t0); !ok {
		t.Fatal("a refused call left the lease taken")
	}
}

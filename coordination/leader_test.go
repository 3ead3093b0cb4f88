package coordination_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// fakeLeader is a Leader whose answers the test sets; acting, when set,
// decides each call in turn (call numbers start at 1).
type fakeLeader struct {
	mu      sync.Mutex
	epoch   int64
	ok      bool
	calls   int
	decide  func(call int) bool
	started int
	stopped int
}

func (f *fakeLeader) set(epoch int64, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.epoch, f.ok, f.decide = epoch, ok, nil
}

func (f *fakeLeader) Acting() (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	ok := f.ok
	if f.decide != nil {
		ok = f.decide(f.calls)
	}
	if !ok {
		return 0, false
	}
	return f.epoch, true
}

// lifecycleLeader is a fakeLeader with Start and Stop.
type lifecycleLeader struct{ fakeLeader }

func (l *lifecycleLeader) Start(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.started++
	l.ok, l.epoch = true, 1
	return nil
}

func (l *lifecycleLeader) Stop(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped++
	l.ok = false
	return nil
}

// approvedCanary returns a promotion in phase_1 whose phase is due.
func approvedCanary(t *testing.T, b *bundle) *coordination.PromotionRequest {
	t.Helper()
	_, pr := b.promoted(t, candidate)
	// An API write on a standby replica: it carries no epoch and needs no lease.
	if err := b.c.ApprovePromotion(b.ctx, pr.RequestID, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	p := b.promotion(t, pr.RequestID)
	if p.State != coordination.PromotionPhase1 {
		t.Fatalf("approved promotion is %s", p.State)
	}
	b.clock.Set(p.PhaseDueAt)
	return p
}

func TestStandbyDoesNothingUntilItActs(t *testing.T) {
	t.Parallel()
	leader := &fakeLeader{}
	b := setup(t, func(o *coordination.Options) { o.Leader = leader })
	p := approvedCanary(t, b)
	changed := b.count(t, coordination.EventPromotionPhaseChanged)
	audits := b.auditLen(t)

	rep := b.runOnce(t)
	if !rep.Standby || len(rep.Promotions.Advanced) != 0 {
		t.Fatalf("standby pass = %+v, want Standby and nothing done", rep)
	}
	if got := b.promotion(t, p.RequestID); got.State != coordination.PromotionPhase1 || got.Version != p.Version {
		t.Fatalf("a standby changed the promotion: %s v%d", got.State, got.Version)
	}
	if b.count(t, coordination.EventPromotionPhaseChanged) != changed || b.auditLen(t) != audits {
		t.Fatal("a standby emitted events or audit entries")
	}
	if _, ok := b.c.Acting(); ok {
		t.Fatal("Acting() = true on a standby")
	}

	leader.set(7, true)
	rep = b.runOnce(t)
	if rep.Standby || len(rep.Promotions.Advanced) != 1 {
		t.Fatalf("acting pass = %+v, want the phase advanced", rep)
	}
	if got := b.promotion(t, p.RequestID); got.State != coordination.PromotionPhase2 || got.TrafficPercent != 50 {
		t.Fatalf("after the acting pass the promotion is %s at %d%%", got.State, got.TrafficPercent)
	}
	if epoch, ok := b.c.Acting(); !ok || epoch != 7 {
		t.Fatalf("Acting() = %d, %v; want 7, true", epoch, ok)
	}
}

// TestDeposedDuringPassWritesNothing: a pass that began while acting and
// whose leader is deposed before its write is refused with a stale epoch;
// nothing changes.
func TestDeposedDuringPassWritesNothing(t *testing.T) {
	t.Parallel()
	leader := &fakeLeader{}
	b := setup(t, func(o *coordination.Options) { o.Leader = leader })
	p := approvedCanary(t, b)
	events, audits := len(b.events(t)), b.auditLen(t)
	leader.mu.Lock()
	leader.epoch, leader.decide = 4, func(call int) bool { return call == 1 } // only the pass's first look
	leader.mu.Unlock()

	_, err := b.c.RunOnce(b.ctx)
	var stale *coordination.StaleEpochError
	if !errors.Is(err, coordination.ErrConflict) || !errors.As(err, &stale) || stale.Epoch != 4 || !stale.Lapsed {
		t.Fatalf("RunOnce = %v, want a lapsed StaleEpochError for epoch 4", err)
	}
	wantErr(t, err, coordination.ErrConflict, "deposed: epoch 4 is stale")
	if got := b.promotion(t, p.RequestID); got.State != coordination.PromotionPhase1 || got.Version != p.Version {
		t.Fatalf("a deposed pass changed the promotion: %s v%d", got.State, got.Version)
	}
	if len(b.events(t)) != events || b.auditLen(t) != audits {
		t.Fatal("a deposed pass emitted events or audit entries")
	}
}

// TestEpochChangeDuringPassIsRefused: a pass under epoch 4 whose leader
// re-acquired under epoch 5 meanwhile does not write with epoch 4.
func TestEpochChangeDuringPassIsRefused(t *testing.T) {
	t.Parallel()
	leader := &fakeLeader{}
	b := setup(t, func(o *coordination.Options) { o.Leader = leader })
	p := approvedCanary(t, b)
	leader.set(4, true)
	epochs := []int64{4}
	leader.mu.Lock()
	leader.decide = func(call int) bool {
		if call > 1 {
			leader.epoch = 5
		}
		epochs = append(epochs, leader.epoch)
		return true
	}
	leader.mu.Unlock()
	_, err := b.c.RunOnce(b.ctx)
	wantErr(t, err, coordination.ErrConflict, "deposed: epoch 4 is stale, leader epoch is 5")
	if got := b.promotion(t, p.RequestID); got.Version != p.Version {
		t.Fatalf("the stale pass changed the promotion (epochs seen %v)", epochs)
	}
}

func TestStartAndStopRunTheLeader(t *testing.T) {
	t.Parallel()
	leader := &lifecycleLeader{}
	b := setup(t, func(o *coordination.Options) {
		o.Leader = leader
		o.PollInterval = time.Hour
	})
	if err := b.c.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	if epoch, ok := b.c.Acting(); !ok || epoch != 1 {
		t.Fatalf("after Start: Acting() = %d, %v; want the started leader's epoch 1", epoch, ok)
	}
	if err := b.c.Stop(b.ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.c.Stop(b.ctx); err != nil {
		t.Fatal(err)
	}
	leader.mu.Lock()
	defer leader.mu.Unlock()
	if leader.started != 1 || leader.stopped != 1 {
		t.Fatalf("leader started %d and stopped %d times, want once each", leader.started, leader.stopped)
	}
}

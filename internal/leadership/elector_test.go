package leadership_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
	"github.com/tricyclehq/tricycle/internal/leadership"
)

var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// errDown is what memLeases answers a holder whose connection is down.
var errDown = errors.New("connection refused")

// memLeases is a hand-written in-memory Leases with the stores' semantics,
// whose calls can fail per holder (a lost connection) or hang in Renew.
type memLeases struct {
	mu     sync.Mutex
	holder string
	epoch  int64
	until  time.Time
	down   map[string]bool // holders whose calls fail
	hang   chan struct{}   // when set, Renew signals entered and waits for release
	enter  chan struct{}
	calls  int
	events []string
}

func newMemLeases() *memLeases { return &memLeases{down: map[string]bool{}} }

func (m *memLeases) setDown(holder string, down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down[holder] = down
}

func (m *memLeases) TryAcquire(_ context.Context, _, holder string, now time.Time, ttl time.Duration) (int64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.down[holder] {
		return 0, false, errDown
	}
	if m.holder != "" && m.holder != holder && now.Before(m.until) {
		return m.epoch, false, nil
	}
	m.holder, m.epoch, m.until = holder, m.epoch+1, now.Add(ttl)
	m.events = append(m.events, fmt.Sprintf("%s acquired %d", holder, m.epoch))
	return m.epoch, true, nil
}

func (m *memLeases) Renew(ctx context.Context, _, holder string, epoch int64, now time.Time, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	hang, enter := m.hang, m.enter
	m.mu.Unlock()
	if hang != nil {
		close(enter)
		select {
		case <-hang:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.down[holder] {
		return false, errDown
	}
	if m.holder != holder || m.epoch != epoch {
		return false, nil
	}
	m.until = now.Add(ttl)
	return true, nil
}

func (m *memLeases) Release(_ context.Context, _, holder string, epoch int64, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down[holder] {
		return errDown
	}
	if m.holder == holder && m.epoch == epoch {
		m.holder, m.until = "", now
		m.events = append(m.events, fmt.Sprintf("%s released %d", holder, epoch))
	}
	return nil
}

func newElector(t *testing.T, l leadership.Leases, holder string, clock leadership.Clock) *leadership.Elector {
	t.Helper()
	e, err := leadership.New(l, leadership.Options{Holder: holder, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func step(t *testing.T, e *leadership.Elector) leadership.Status {
	t.Helper()
	st, err := e.RunOnce(t.Context())
	if err != nil {
		t.Fatalf("%s: RunOnce: %v", e.Holder(), err)
	}
	return st
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	e, err := leadership.New(newMemLeases(), leadership.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := e.Options()
	if o.Name != coordination.CoordinatorLease || o.TTL != 15*time.Second || o.RenewEvery != 5*time.Second || o.Margin != 3*time.Second {
		t.Errorf("defaults = name %q ttl %v renew %v margin %v; want coordinator, 15s, 5s, 3s", o.Name, o.TTL, o.RenewEvery, o.Margin)
	}
	if a, b := leadership.NewHolder(), leadership.NewHolder(); a == "" || a == b {
		t.Errorf("NewHolder() = %q then %q, want two distinct names", a, b)
	}
}

func TestInvalidOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts leadership.Options
		want string
	}{
		{"negative ttl", leadership.Options{TTL: -time.Second}, "ttl"},
		{"margin as long as the ttl", leadership.Options{TTL: 10 * time.Second, Margin: 10 * time.Second}, "margin"},
		{"renewal after the deadline", leadership.Options{TTL: 10 * time.Second, Margin: 2 * time.Second, RenewEvery: 8 * time.Second}, "renew_every"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := leadership.New(newMemLeases(), tt.opts)
			if !errors.Is(err, coordination.ErrInvalidInput) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New(%+v) = %v, want ErrInvalidInput naming %s", tt.opts, err, tt.want)
			}
		})
	}
}

// TestLostConnectionStopsActingBeforeTakeover follows a leader whose store
// becomes unreachable: it keeps acting through failed renewals, stops at
// last success + TTL - margin without any call, and the standby acquires
// only once the lease expired, margin later, under a new epoch.
func TestLostConnectionStopsActingBeforeTakeover(t *testing.T) {
	t.Parallel()
	clock := coordinationtest.NewManualClock(t0)
	l := newMemLeases()
	a, b := newElector(t, l, "a", clock), newElector(t, l, "b", clock)
	if st := step(t, a); !st.Acting || st.Epoch != 1 || !st.ActingUntil.Equal(t0.Add(12*time.Second)) {
		t.Fatalf("a after its first step = %+v, want acting under epoch 1 until 12s", st)
	}
	if st := step(t, b); st.Acting || st.Epoch != 1 {
		t.Fatalf("b = %+v, want standby having seen epoch 1", st)
	}
	clock.Advance(5 * time.Second)
	step(t, a) // renewed at 5s: acting until 17s, lease until 20s
	l.setDown("a", true)

	type probe struct {
		at       time.Duration
		stepA    bool // a runs a step (which fails)
		stepB    bool // b tries to acquire
		aActing  bool
		bActing  bool
		bEpochIs int64
	}
	probes := []probe{
		{at: 10 * time.Second, stepA: true, stepB: true, aActing: true},
		{at: 15 * time.Second, stepA: true, stepB: true, aActing: true},
		{at: 17*time.Second - time.Millisecond, aActing: true},
		{at: 17 * time.Second},                               // a stops by itself, without I/O
		{at: 20*time.Second - time.Millisecond, stepB: true}, // the lease has not expired
		{at: 20 * time.Second, stepB: true, bActing: true, bEpochIs: 2},
		{at: 21 * time.Second, stepA: true, bActing: true, bEpochIs: 2},
	}
	for _, p := range probes {
		clock.Set(t0.Add(p.at))
		if p.stepA {
			if _, err := a.RunOnce(t.Context()); err == nil && p.at < 21*time.Second {
				t.Fatalf("at %v: a's step succeeded with its connection down", p.at)
			}
			if p.at == 21*time.Second {
				l.setDown("a", false)
				if st := step(t, a); st.Acting || st.Epoch != 2 {
					t.Fatalf("at %v: a back online = %+v, want standby having seen epoch 2", p.at, st)
				}
			}
		}
		if p.stepB {
			step(t, b)
		}
		ea, aActing := a.Acting()
		eb, bActing := b.Acting()
		if aActing != p.aActing || bActing != p.bActing {
			t.Fatalf("at %v: a acting %v (epoch %d), b acting %v (epoch %d); want %v and %v",
				p.at, aActing, ea, bActing, eb, p.aActing, p.bActing)
		}
		if aActing && bActing {
			t.Fatalf("at %v: both act", p.at)
		}
		if p.bActing && eb != p.bEpochIs {
			t.Fatalf("at %v: b acts under epoch %d, want %d", p.at, eb, p.bEpochIs)
		}
	}
}

// TestRenewalFindingLeaseTakenDeposesAtOnce: a leader whose renewal finds
// another holder stops acting at once and stays standby.
func TestRenewalFindingLeaseTakenDeposesAtOnce(t *testing.T) {
	t.Parallel()
	clock := coordinationtest.NewManualClock(t0)
	l := newMemLeases()
	a := newElector(t, l, "a", clock)
	step(t, a)
	// Another holder took the lease (an operator's intervention, or a's
	// lease expiring while a was paused and its clock did not tell).
	l.mu.Lock()
	l.holder, l.epoch, l.until = "b", 2, t0.Add(time.Hour)
	l.mu.Unlock()
	clock.Advance(5 * time.Second)
	if st := step(t, a); st.Acting || st.Epoch != 2 {
		t.Fatalf("a after a renewal found the lease taken = %+v, want standby having seen epoch 2", st)
	}
	if _, ok := a.Acting(); ok {
		t.Fatal("a still acts")
	}
}

// TestActingEndsWhileRenewalHangs: Acting turns false at the deadline even
// while a renewal is stuck, and a renewal that succeeds late does not extend
// acting beyond its own start + TTL - margin.
func TestActingEndsWhileRenewalHangs(t *testing.T) {
	t.Parallel()
	clock := coordinationtest.NewManualClock(t0)
	l := newMemLeases()
	a := newElector(t, l, "a", clock)
	step(t, a) // acting until 12s
	clock.Advance(5 * time.Second)
	l.mu.Lock()
	l.hang, l.enter = make(chan struct{}), make(chan struct{})
	hang, enter := l.hang, l.enter
	l.mu.Unlock()
	done := make(chan leadership.Status, 1)
	go func() {
		st, _ := a.RunOnce(context.WithoutCancel(t.Context()))
		done <- st
	}()
	<-enter // the renewal (started at 5s) hangs
	clock.Set(t0.Add(12 * time.Second))
	if _, ok := a.Acting(); ok {
		t.Fatal("a acts past its deadline while its renewal hangs")
	}
	clock.Set(t0.Add(17 * time.Second))
	l.mu.Lock()
	l.hang = nil
	l.mu.Unlock()
	close(hang)
	<-done
	if _, ok := a.Acting(); ok {
		t.Fatal("a renewal that returned after start + TTL - margin made a act again")
	}
}

// TestStopReleasesForAnImmediateTakeover: Start holds a free lease when it
// returns; Stop releases it and the standby takes over at once.
func TestStopReleasesForAnImmediateTakeover(t *testing.T) {
	t.Parallel()
	clock := coordinationtest.NewManualClock(t0)
	l := newMemLeases()
	a, b := newElector(t, l, "a", clock), newElector(t, l, "b", clock)
	for range 2 { // idempotent
		if err := a.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if epoch, ok := a.Acting(); !ok || epoch != 1 {
		t.Fatalf("after Start: acting %v under %d, want epoch 1", ok, epoch)
	}
	if st := step(t, b); st.Acting {
		t.Fatal("b acquired a held lease")
	}
	for range 2 { // idempotent
		if err := a.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := a.Acting(); ok {
		t.Fatal("a acts after Stop")
	}
	if st := step(t, b); !st.Acting || st.Epoch != 2 {
		t.Fatalf("b right after a's release = %+v, want acting under epoch 2", st)
	}
	want := []string{"a acquired 1", "a released 1", "b acquired 2"}
	if got := l.events; strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("lease history %v, want %v", got, want)
	}
}

// TestLapsedHolderReacquiresUnderNewEpoch: a holder that stopped acting
// while the lease stayed its own acquires again under a new epoch, so that
// writes of its previous term are fenced.
func TestLapsedHolderReacquiresUnderNewEpoch(t *testing.T) {
	t.Parallel()
	clock := coordinationtest.NewManualClock(t0)
	l := newMemLeases()
	a := newElector(t, l, "a", clock)
	step(t, a)
	clock.Advance(12 * time.Second) // no renewal: the deadline passed
	if _, ok := a.Acting(); ok {
		t.Fatal("a acts past its deadline")
	}
	if st := step(t, a); !st.Acting || st.Epoch != 2 {
		t.Fatalf("a's next step = %+v, want acting under epoch 2", st)
	}
}

// BenchmarkActing measures the check made before every pass and every
// fenced transaction.
func BenchmarkActing(b *testing.B) {
	e, err := leadership.New(newMemLeases(), leadership.Options{Holder: "a"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.RunOnce(b.Context()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, ok := e.Acting(); !ok {
			b.Fatal("not acting")
		}
	}
}

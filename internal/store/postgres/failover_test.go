package postgres_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
	"github.com/tricyclehq/tricycle/internal/leadership"
	"github.com/tricyclehq/tricycle/internal/store/postgres"
)

// partition is a TCP proxy to the database that can cut a client off: Cut
// closes every connection through it and refuses new ones until Heal.
type partition struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newPartition(t *testing.T, target string) *partition {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &partition{ln: ln, target: target}
	t.Cleanup(func() {
		_ = ln.Close()
		p.Cut()
	})
	go p.serve()
	return p
}

func (p *partition) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
		go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
	}
}

// Cut closes every proxied connection and refuses new ones.
func (p *partition) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// Heal lets connections through again.
func (p *partition) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// through returns dsn connecting through the proxy instead.
func (p *partition) through(t *testing.T, dsn string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(p.ln.Addr().String())
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Host = net.JoinHostPort(host, port)
		return u.String()
	}
	return dsn + " host=" + host + " port=" + port
}

// zombie is a deposed leader that does not know it: while forced it claims
// the epoch it once held, as a paused process whose clock did not notice.
type zombie struct {
	*leadership.Elector
	mu     sync.Mutex
	forced int64
}

func (z *zombie) Acting() (int64, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.forced > 0 {
		return z.forced, true
	}
	return z.Elector.Acting()
}

// TestTerminatedLeaderStopsActing: two coordinators on one database. The
// leader's sessions are terminated (pg_terminate_backend) and it cannot
// reconnect: it stops acting on its own before its lease expires, the
// standby takes over when it does, and no write under the stale epoch
// lands, not even from the old leader once it reaches the database again.
func TestTerminatedLeaderStopsActing(t *testing.T) {
	t.Parallel()
	dsn := newDatabase(t)
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newPartition(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	storeA := openDSN(t, withParam(t, proxy.through(t, dsn), "application_name", "tricycle-leader-a"))
	storeB := openDSN(t, withParam(t, dsn, "application_name", "tricycle-leader-b"))
	t.Cleanup(func() { _ = storeA.Close(); _ = storeB.Close() })

	clock := coordinationtest.NewManualClock(t0)
	const ttl = 15 * time.Second // acting until 12s after a renewal; lease until 15s
	electorA, err := leadership.New(storeA.Leases(), leadership.Options{Holder: "a", TTL: ttl, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	electorB, err := leadership.New(storeB.Leases(), leadership.Options{Holder: "b", TTL: ttl, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	leaderA := &zombie{Elector: electorA}
	// Phases shorter than the acting deadline, so that the leader acts on a
	// due phase without having to renew first.
	phase := coordination.Duration(10 * time.Second)
	phases := []coordination.Phase{{Percent: 10, Duration: phase}, {Percent: 50, Duration: phase}, {Percent: 100, Duration: phase}}
	advanceTo := func(at time.Time) {
		if at.After(clock.Now()) {
			clock.Set(at)
		}
	}
	newCoord := func(s *postgres.Store, l coordination.Leader) *coordination.LifecycleCoordinator {
		c, err := coordination.NewLifecycleCoordinator(coordination.Options{Store: s, Clock: clock, Leader: l,
			Config: coordination.Config{Phases: phases}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Init(t.Context()); err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := newCoord(storeA, leaderA), newCoord(storeB, electorB)
	ctx := t.Context()
	elect := func(e *leadership.Elector) leadership.Status {
		t.Helper()
		st, err := e.RunOnce(ctx)
		if err != nil {
			t.Fatalf("%s: %v", e.Holder(), err)
		}
		return st
	}
	pass := func(c *coordination.LifecycleCoordinator) coordination.CycleReport {
		t.Helper()
		rep, err := c.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}

	// The canary is requested and approved through the standby: user
	// actions need no lease.
	p, err := b.CreateExperiment(ctx, coordination.ExperimentSpec{Title: "candidate",
		SuccessCriteria: map[string]string{"accuracy": "> 90%"},
		Variant:         coordination.Variant{Name: "cand", Provider: coordination.ProviderBuiltin}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.StartExperiment(ctx, p.ExperimentID, "admin"); err != nil {
		t.Fatal(err)
	}
	if d, err := b.EvaluateExperiment(ctx, p.ExperimentID, map[string]float64{"accuracy": 0.95}); err != nil || d != coordination.Promote {
		t.Fatalf("evaluate = %v, %v", d, err)
	}
	exp, err := b.GetExperiment(ctx, p.ExperimentID)
	if err != nil {
		t.Fatal(err)
	}
	if st := elect(electorA); !st.Acting || st.Epoch != 1 {
		t.Fatalf("a = %+v, want the leader under epoch 1", st)
	}
	if st := elect(electorB); st.Acting {
		t.Fatal("b acquired a held lease")
	}
	if err := b.ApprovePromotion(ctx, exp.PromotionID, "admin"); err != nil {
		t.Fatal(err)
	}
	state := func() *coordination.PromotionRequest {
		t.Helper()
		pr, err := storeB.PromotionGet(ctx, exp.PromotionID)
		if err != nil {
			t.Fatal(err)
		}
		return pr
	}

	// Phase 1 is due: the leader advances it, the standby does nothing.
	advanceTo(state().PhaseDueAt)
	if rep := pass(b); !rep.Standby {
		t.Fatalf("the standby's pass = %+v", rep)
	}
	if rep := pass(a); len(rep.Promotions.Advanced) != 1 || state().State != coordination.PromotionPhase2 {
		t.Fatalf("the leader's pass = %+v, promotion %s", rep, state().State)
	}
	renewedAt := clock.Now()
	if st := elect(electorA); !st.Acting || !st.ActingUntil.Equal(renewedAt.Add(12*time.Second)) {
		t.Fatalf("a after renewing = %+v", st)
	}

	// The leader's sessions are terminated and it cannot reconnect.
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close(context.Background()) }()
	rows, err := admin.Query(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'tricycle-leader-a'`)
	if err != nil {
		t.Fatal(err)
	}
	terminated := 0
	for rows.Next() {
		terminated++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if terminated == 0 {
		t.Fatal("the leader has no session to terminate")
	}
	proxy.Cut()

	clock.Set(renewedAt.Add(5 * time.Second))
	if _, err := electorA.RunOnce(ctx); err == nil {
		t.Fatal("the leader renewed without a connection")
	}
	if _, ok := electorA.Acting(); !ok {
		t.Fatal("one failed renewal deposed the leader")
	}
	// Its deadline passes: it stops acting by itself, 3s before the lease
	// expires, and its passes do nothing.
	clock.Set(renewedAt.Add(12 * time.Second))
	if _, ok := electorA.Acting(); ok {
		t.Fatal("the leader acts past last renewal + TTL - margin")
	}
	if rep := pass(a); !rep.Standby {
		t.Fatalf("the cut-off leader's pass = %+v, want Standby", rep)
	}
	clock.Set(renewedAt.Add(ttl - time.Millisecond))
	if st := elect(electorB); st.Acting {
		t.Fatal("the standby acquired the lease before it expired")
	}
	clock.Set(renewedAt.Add(ttl))
	if st := elect(electorB); !st.Acting || st.Epoch != 2 {
		t.Fatalf("the standby at the lease's expiry = %+v, want acting under epoch 2", st)
	}

	// The new leader carries on; the old one comes back believing it still
	// holds epoch 1 and runs a pass: the store refuses every write of it.
	advanceTo(state().PhaseDueAt)
	if rep := pass(b); len(rep.Promotions.Advanced) != 1 || state().State != coordination.PromotionPhase3 {
		t.Fatalf("the new leader's pass = %+v, promotion %s", rep, state().State)
	}
	proxy.Heal()
	storeA.Pool().Reset() // drop the connections the partition killed
	before := state()
	events, err := storeB.OutboxPending(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	advanceTo(before.PhaseDueAt)
	leaderA.mu.Lock()
	leaderA.forced = 1
	leaderA.mu.Unlock()
	_, err = a.RunOnce(ctx)
	var stale *coordination.StaleEpochError
	if !errors.As(err, &stale) || stale.Epoch != 1 || stale.Current != 2 || !errors.Is(err, coordination.ErrConflict) {
		t.Fatalf("the zombie's pass = %v, want the store's refusal of epoch 1 (leader epoch 2)", err)
	}
	if after := state(); after.Version != before.Version || after.State != coordination.PromotionPhase3 {
		t.Fatalf("a write under the stale epoch landed: %s v%d, was %s v%d", after.State, after.Version, before.State, before.Version)
	}
	if again, err := storeB.OutboxPending(ctx, 0); err != nil || len(again) != len(events) {
		t.Fatalf("the zombie's pass added events: %d, was %d (%v)", len(again), len(events), err)
	}
	leaderA.mu.Lock()
	leaderA.forced = 0
	leaderA.mu.Unlock()
	if st := elect(electorA); st.Acting || st.Epoch != 2 {
		t.Fatalf("the old leader back online = %+v, want standby having seen epoch 2", st)
	}
	changed := 0
	for _, ev := range events {
		if ev.Type == coordination.EventPromotionPhaseChanged {
			changed++
		}
	}
	if changed != 3 {
		t.Errorf("%d phase changes in the outbox, want 3 (approval, phase 2, phase 3)", changed)
	}
}

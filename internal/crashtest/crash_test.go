package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/tricyclehq/tricycle/internal/proctest"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// Shape of the crash loop.
const (
	envCrash = "TRICYCLE_CRASHTEST"
	envSeed  = "TRICYCLE_CRASHTEST_SEED"
	// kills is how many times each run kills the server.
	kills = 30
	// phase is the duration of each of the compressed canary's phases.
	phase = 10 * time.Second
	// leaderTTL is the lease of the servers: a restarted server acts once
	// its killed predecessor's lease expired.
	leaderTTL = "1s"
	// maxUptime bounds how long a server lives before it is killed.
	maxUptime = 2500 * time.Millisecond
	// failsafe bounds each wait for something that must happen.
	failsafe = 60 * time.Second
)

// plan is the compressed canary.
var plan = []coordination.Phase{
	{Percent: 10, Duration: coordination.Duration(phase)},
	{Percent: 50, Duration: coordination.Duration(phase)},
	{Percent: 100, Duration: coordination.Duration(phase)},
}

// TestCrashLoop kills `tricycle serve` with SIGKILL at random points of a
// canary, 30 times per store, restarting it each time, and then checks
// that the canary went through every phase exactly once on its durable
// timers, with no lost event and no duplicate promotion.
func TestCrashLoop(t *testing.T) {
	if testing.Short() || os.Getenv(envCrash) != "1" {
		t.Skipf("set %s=1 (without -short) to run the crash tests; they take minutes", envCrash)
	}
	seed := uint64(1)
	if v := os.Getenv(envSeed); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", envSeed, v, err)
		}
	}
	bin := proctest.BuildBinary(t)
	for _, tt := range []struct {
		name    string
		backend func(t *testing.T) backend
	}{
		{"sqlite", sqliteBackend},
		{"postgres", postgresBackend},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.backend(t)
			crashLoop(t, bin, b, rand.New(rand.NewPCG(seed, 0x7472696379636c65)))
		})
	}
}

// writeConfig writes the servers' configuration file.
func writeConfig(t *testing.T, dsn string) string {
	t.Helper()
	var phases []string
	for _, p := range plan {
		phases = append(phases, fmt.Sprintf("{percent: %d, duration: %s}", p.Percent, p.Duration))
	}
	cfg := fmt.Sprintf(`server:
  addr: 127.0.0.1:0
  shutdown_timeout: 10s
storage:
  dsn: %q
cycle:
  phases: [%s]
  poll_interval: 100ms
log:
  level: info
`, dsn, strings.Join(phases, ", "))
	path := filepath.Join(t.TempDir(), "tricycle.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func crashLoop(t *testing.T, bin string, b backend, rng *rand.Rand) {
	cfg := writeConfig(t, b.dsn)
	token := coordination.NewToken()
	env := []string{"TRICYCLE_ADMIN_TOKEN=" + token, "TRICYCLE_LEADER_TTL=" + leaderTTL}
	log := proctest.NewLog(t, filepath.Join(t.TempDir(), "server.log"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log (tail):\n%s", log.Tail(8000))
		}
	})
	ready := func(s *proctest.Proc) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), failsafe)
		defer cancel()
		if err := s.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	srv := proctest.Start(t, bin, cfg, "all", "serve", env, log, token)
	ready(srv)

	// A promotion through the API, approved: the canary starts.
	var exp coordination.Experiment
	srv.Do(t, "POST", "/api/v1/experiments", `{"title":"crash candidate","hypothesis":"survives kill -9",
		"success_criteria":{"accuracy":"> 90%"},"variant":{"name":"crash-candidate","provider":"builtin"}}`, 201, &exp)
	srv.Do(t, "POST", "/api/v1/experiments/"+exp.ID+"/start", "", 200, nil)
	var ev struct {
		Decision    coordination.Decision `json:"decision"`
		PromotionID string                `json:"promotion_id"`
	}
	srv.Do(t, "POST", "/api/v1/experiments/"+exp.ID+"/evaluate", `{"metrics":{"accuracy":0.95}}`, 200, &ev)
	if ev.Decision != coordination.Promote || ev.PromotionID == "" {
		t.Fatalf("evaluation = %+v, want PROMOTE with a promotion", ev)
	}
	id := ev.PromotionID
	srv.Do(t, "POST", "/api/v1/promotions/"+id+"/approve", `{"approver":"admin@example.com"}`, 200, nil)
	obs := &observer{due: map[coordination.PromotionState]time.Time{}}
	obs.see(t, srv, id)

	start := time.Now()
	early, atDue := 0, 0
	for i := range kills {
		// Kill at a random point: while starting (before or around
		// readiness), around the moment the current phase falls due (when
		// the next one begins), or after a random uptime.
		switch mode := rng.IntN(5); {
		case mode == 0:
			early++
			wait(t, time.Duration(rng.Int64N(int64(400*time.Millisecond))))
		default:
			ready(srv)
			p := obs.see(t, srv, id)
			uptime := time.Duration(rng.Int64N(int64(maxUptime)))
			if until := time.Until(p.PhaseDueAt); mode == 1 && p.State.Phase() > 0 && until > 0 && until < 3*maxUptime {
				atDue++
				uptime = until + time.Duration(rng.Int64N(int64(1500*time.Millisecond)))
			}
			wait(t, uptime)
		}
		srv.Kill(t)
		log.Line("test", fmt.Sprintf("---- kill %d after %v", i+1, time.Since(start).Round(time.Millisecond)))
		srv = proctest.Start(t, bin, cfg, "all", "serve", env, log, token)
	}
	ready(srv)
	t.Logf("%d kills (%d while starting, %d after a phase fell due) in %v; the promotion was %s at the last restart",
		kills, early, atDue, time.Since(start).Round(time.Millisecond), obs.last)
	obs.see(t, srv, id)

	// The last server finishes the canary.
	deadline := time.Now().Add(failsafe)
	for obs.last != coordination.PromotionCompleted {
		if time.Now().After(deadline) {
			t.Fatalf("the promotion is still %s", obs.last)
		}
		wait(t, 200*time.Millisecond)
		obs.see(t, srv, id)
	}
	var verify coordination.AuditVerification
	srv.Do(t, "GET", "/api/v1/audit/verify", "", 200, &verify)
	if !verify.OK {
		t.Errorf("the audit chain does not verify: %+v", verify)
	}
	srv.Shutdown(t, 30*time.Second)
	checkStore(t, b, id, obs)
}

// wait waits d of real time: the kill points are real instants.
func wait(t *testing.T, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-t.Context().Done():
	}
}

// observer checks each look at the promotion, as seen after a restart,
// against the ones before: the state never goes back, a phase keeps its due
// time across restarts, and the traffic is the plan's.
type observer struct {
	due  map[coordination.PromotionState]time.Time
	last coordination.PromotionState
	rank int
	seen int
}

// rank orders the states of a promotion going through its phases.
func rank(s coordination.PromotionState) int {
	if n := s.Phase(); n > 0 {
		return n
	}
	switch s {
	case coordination.PromotionFinalizing:
		return len(plan) + 1
	case coordination.PromotionCompleted:
		return len(plan) + 2
	}
	return -1
}

func (o *observer) see(t *testing.T, s *proctest.Proc, id string) *coordination.PromotionRequest {
	t.Helper()
	var p coordination.PromotionRequest
	s.Do(t, "GET", "/api/v1/promotions/"+id, "", 200, &p)
	o.seen++
	r := rank(p.State)
	if r < 0 {
		t.Fatalf("the promotion is %s (%s), want it in its phases or completed", p.State, p.Reason)
	}
	if r < o.rank {
		t.Fatalf("the promotion went back from %s to %s", o.last, p.State)
	}
	o.rank, o.last = r, p.State
	if n := p.State.Phase(); n > 0 {
		want := plan[n-1]
		if p.TrafficPercent != want.Percent {
			t.Errorf("%s takes %d%% of the traffic, want %d%%", p.State, p.TrafficPercent, want.Percent)
		}
		if !p.PhaseDueAt.Equal(p.PhaseStartedAt.Add(want.Duration.D())) {
			t.Errorf("%s is due at %v, %v after its start, want %v", p.State, p.PhaseDueAt,
				p.PhaseDueAt.Sub(p.PhaseStartedAt), want.Duration)
		}
		if prev, ok := o.due[p.State]; ok && !prev.Equal(p.PhaseDueAt) {
			t.Errorf("%s's phase_due_at changed across a restart: %v, then %v", p.State, prev, p.PhaseDueAt)
		}
		o.due[p.State] = p.PhaseDueAt
	}
	if p.State == coordination.PromotionCompleted && p.TrafficPercent != 100 {
		t.Errorf("the completed promotion takes %d%% of the traffic", p.TrafficPercent)
	}
	return &p
}

// checkStore reads the stopped server's store: every phase changed exactly
// once on its timer, each change's event is there and was published, one
// release came of the promotion, and the audit log agrees.
func checkStore(t *testing.T, b backend, id string, obs *observer) {
	ctx := t.Context()
	st, outbox, err := b.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	p, err := st.PromotionGet(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != coordination.PromotionCompleted || len(p.Phases) != len(plan) {
		t.Fatalf("promotion %s with %d phases, want completed after %d", p.State, len(p.Phases), len(plan))
	}
	for i, ph := range p.Phases {
		if !ph.DueAt.Equal(ph.StartedAt.Add(plan[i].Duration.D())) {
			t.Errorf("phase %d: due %v after its start, want %v", i+1, ph.DueAt.Sub(ph.StartedAt), plan[i].Duration)
		}
		if due, ok := obs.due[coordination.PhaseState(i+1)]; ok && !due.Equal(ph.DueAt) {
			t.Errorf("phase %d: stored due time %v, the API said %v", i+1, ph.DueAt, due)
		}
		if ph.EndedAt.Before(ph.DueAt) {
			t.Errorf("phase %d ended at %v, before its due time %v", i+1, ph.EndedAt, ph.DueAt)
		}
		t.Logf("phase %d (%d%%) ended %v after its due time", i+1, ph.Percent, ph.EndedAt.Sub(ph.DueAt).Round(time.Millisecond))
	}

	ids := map[string]bool{}
	changes := map[string]int{}
	counts := map[string]int{}
	for _, ev := range outbox {
		if ids[ev.ID] {
			t.Errorf("event id %s appears twice in the outbox", ev.ID)
		}
		ids[ev.ID] = true
		if !ev.Published {
			t.Errorf("event %s (%s) was never published", ev.ID, ev.Type)
		}
		if ev.Subject != id {
			continue
		}
		counts[ev.Type]++
		if ev.Type == coordination.EventPromotionPhaseChanged {
			var env coordination.Event
			var d struct {
				From  string `json:"from_state"`
				State string `json:"state"`
			}
			if err := json.Unmarshal(ev.Data, &env); err != nil {
				t.Fatalf("event %s: %v", ev.ID, err)
			}
			if err := json.Unmarshal(env.Data, &d); err != nil {
				t.Fatalf("event %s data: %v", ev.ID, err)
			}
			changes[d.From+" → "+d.State]++
		}
	}
	wantChanges := []string{"awaiting_approval → phase_1", "phase_1 → phase_2", "phase_2 → phase_3", "phase_3 → finalizing"}
	for _, c := range wantChanges {
		if changes[c] != 1 {
			t.Errorf("phase change %s: %d events, want exactly 1", c, changes[c])
		}
	}
	if len(changes) != len(wantChanges) {
		t.Errorf("phase changes %v, want exactly %v", changes, wantChanges)
	}
	for typ, want := range map[string]int{coordination.EventPromotionRequested: 1, coordination.EventPromotionApproved: 1,
		coordination.EventPromotionCompleted: 1, coordination.EventPromotionRollback: 0} {
		if counts[typ] != want {
			t.Errorf("%d %s events, want %d", counts[typ], typ, want)
		}
	}

	rels, err := st.ReleaseList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fromPromotion, active := 0, 0
	for _, r := range rels {
		if r.PromotionID == id {
			fromPromotion++
		}
		if r.State == coordination.ReleaseActive {
			active++
			if r.PromotionID != id {
				t.Errorf("active release %s is not the promotion's", r.ID)
			}
		}
	}
	if fromPromotion != 1 || active != 1 {
		t.Errorf("%d releases from the promotion and %d active, want 1 and 1", fromPromotion, active)
	}

	audit, err := st.AuditList(ctx, coordination.AuditFilter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if v := coordination.VerifyAuditChain(audit); !v.OK {
		t.Errorf("the stored audit chain does not verify: %+v", v)
	}
	actions := map[string]int{}
	for _, e := range audit {
		if e.Target == id {
			actions[e.Action]++
		}
	}
	for action, want := range map[string]int{"promotion.approve": 1, "promotion.advance": len(plan) - 1, "promotion.complete": 1} {
		if actions[action] != want {
			t.Errorf("%d %s audit entries, want %d", actions[action], action, want)
		}
	}
	t.Logf("%d looks at the promotion across restarts; %d events, %d audit entries", obs.seen, len(outbox), len(audit))
}

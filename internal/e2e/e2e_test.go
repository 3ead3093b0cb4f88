package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/tricyclehq/tricycle/internal/proctest"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// Shape of the run.
const (
	// phase is the duration of each compressed canary phase.
	phase = 5 * time.Second
	// leaderTTL is the coordinator lease.
	leaderTTL = 2 * time.Second
	// takeoverSlack is what a takeover may take beyond the lease: the
	// standby's next election step and the metrics scrape.
	takeoverSlack = 2 * time.Second
	// failsafe bounds each wait for something that must happen.
	failsafe = 60 * time.Second
)

const diff = "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1,1 +1,2 @@\n import os\n+os.system(\"rm -rf \" + user_input)\n"

func writeConfig(t *testing.T, dsn, natsURL string) string {
	t.Helper()
	cfg := fmt.Sprintf(`server:
  addr: 127.0.0.1:0
  shutdown_timeout: 10s
storage:
  dsn: %q
bus:
  url: %q
cycle:
  phases: [{percent: 10, duration: %s}, {percent: 50, duration: %s}, {percent: 100, duration: %s}]
  poll_interval: 100ms
log:
  level: info
`, dsn, natsURL, phase, phase, phase)
	path := filepath.Join(t.TempDir(), "tricycle.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// traffic sends reviews to the gateways in turn until stopped, and keeps
// the id of every answered review with the gateway that answered it.
type traffic struct {
	mu       sync.Mutex
	answered map[*proctest.Proc][]string
	failures []string
	stop     chan struct{}
	done     chan struct{}
}

func startTraffic(ctx context.Context, gws []*proctest.Proc, every time.Duration) *traffic {
	tr := &traffic{answered: map[*proctest.Proc][]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-tr.stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			gw := gws[i%len(gws)]
			body, _ := json.Marshal(map[string]string{"repository": fmt.Sprintf("org/repo-%d", i), "diff": diff})
			code, b, err := gw.Call(ctx, "POST", "/api/v1/reviews", string(body))
			var res struct {
				ReviewID string `json:"review_id"`
			}
			tr.mu.Lock()
			if err == nil && code == http.StatusOK && json.Unmarshal(b, &res) == nil && res.ReviewID != "" {
				tr.answered[gw] = append(tr.answered[gw], res.ReviewID)
			} else if ctx.Err() == nil {
				tr.failures = append(tr.failures, fmt.Sprintf("%s: %d %s %v", gw.Name, code, strings.TrimSpace(string(b)), err))
			}
			tr.mu.Unlock()
		}
	}()
	return tr
}

func (tr *traffic) finish() (answered map[*proctest.Proc][]string, total int, failures []string) {
	close(tr.stop)
	<-tr.done
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, ids := range tr.answered {
		total += len(ids)
	}
	return tr.answered, total, tr.failures
}

// TestSplitDeployment runs 2 coordinators, 2 gateways and 1 experiments
// worker as separate processes on PostgreSQL and NATS, promotes an
// experiment through every canary phase under review traffic, kills the
// acting coordinator with SIGKILL in phase 2, and checks that the other
// took over within the lease, that every phase changed exactly once, that
// no event and no review was lost, and that the audit chain verifies.
func TestSplitDeployment(t *testing.T) {
	pgURL, natsURL := services(t)
	start := time.Now()
	dsn := newDatabase(t, pgURL)
	stream, prefix := newStream(t, natsURL)
	bin := proctest.BuildBinary(t)
	cfg := writeConfig(t, dsn, natsURL)
	token := coordination.NewToken()
	env := []string{"TRICYCLE_ADMIN_TOKEN=" + token, "TRICYCLE_LEADER_TTL=" + leaderTTL.String(),
		"TRICYCLE_NATS_STREAM=" + stream, "TRICYCLE_NATS_SUBJECT_PREFIX=" + prefix}
	log := proctest.NewLog(t, filepath.Join(t.TempDir(), "processes.log"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("process log (tail):\n%s", log.Tail(12000))
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	ready := func(ps ...*proctest.Proc) {
		t.Helper()
		for _, p := range ps {
			wctx, wcancel := context.WithTimeout(ctx, failsafe)
			err := p.WaitReady(wctx)
			wcancel()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	// Coordinators first: they receive forwarded outcomes from their start.
	c1 := proctest.Start(t, bin, cfg, "coordinator", "coord-1", env, log, token)
	ready(c1)
	c2 := proctest.Start(t, bin, cfg, "coordinator", "coord-2", env, log, token)
	g1 := proctest.Start(t, bin, cfg, "gateway", "gw-1", env, log, token)
	g2 := proctest.Start(t, bin, cfg, "gateway", "gw-2", env, log, token)
	w1 := proctest.Start(t, bin, cfg, "experiments", "exp-1", env, log, token)
	ready(c2, g1, g2, w1)
	coords := []*proctest.Proc{c1, c2}
	t.Logf("5 processes ready after %v", time.Since(start).Round(time.Millisecond))

	// Roles serve only their routes.
	if code, _, _ := g1.Call(ctx, "GET", "/api/v1/experiments", ""); code != http.StatusNotFound {
		t.Errorf("a gateway answered the admin API with %d, want 404", code)
	}
	if code, _, _ := c1.Call(ctx, "POST", "/api/v1/reviews", `{"diff":"x"}`); code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
		t.Errorf("a coordinator answered a review with %d, want 404", code)
	}

	tr := startTraffic(ctx, []*proctest.Proc{g1, g2}, 15*time.Millisecond)

	// An experiment with a simulated variant on all shadow traffic.
	var exp coordination.Experiment
	c1.Do(t, "POST", "/api/v1/experiments", `{"title":"split candidate","hypothesis":"survives a coordinator crash",
		"success_criteria":{"accuracy":"> 90%"},"shadow_percent":100,
		"variant":{"name":"split-candidate","provider":"simulated",
		"simulated":{"latency_p50":"5ms","latency_p95":"15ms","accuracy":1,"seed":7}}}`, 201, &exp)
	c2.Do(t, "POST", "/api/v1/experiments/"+exp.ID+"/start", "", 200, nil)
	// Shadow results reach the experiment (both coordinators record them).
	waitFor(t, ctx, "shadow results at both coordinators", func() bool {
		for _, c := range coords {
			if n, err := c.Metric(ctx, "tricycle_reviews_total", `series_kind="shadow"`); err != nil || n < 20 {
				return false
			}
		}
		return true
	})

	var ev struct {
		Decision    coordination.Decision `json:"decision"`
		PromotionID string                `json:"promotion_id"`
	}
	c1.Do(t, "POST", "/api/v1/experiments/"+exp.ID+"/evaluate", `{"metrics":{"accuracy":0.95}}`, 200, &ev)
	if ev.Decision != coordination.Promote || ev.PromotionID == "" {
		t.Fatalf("evaluation = %+v, want PROMOTE with a promotion", ev)
	}
	id := ev.PromotionID
	c2.Do(t, "POST", "/api/v1/promotions/"+id+"/approve", `{"approver":"admin@example.com"}`, 200, nil)

	promotion := func(c *proctest.Proc) coordination.PromotionRequest {
		var p coordination.PromotionRequest
		c.Do(t, "GET", "/api/v1/promotions/"+id, "", 200, &p)
		return p
	}
	waitFor(t, ctx, "phase 2", func() bool { return promotion(c1).State == coordination.PhaseState(2) })
	p := promotion(c1)
	// Kill the acting coordinator in the middle of phase 2.
	if mid := p.PhaseStartedAt.Add(phase / 2); time.Until(mid) > 0 {
		sleepCtx(ctx, time.Until(mid))
	}
	var leader, standby *proctest.Proc
	waitFor(t, ctx, "exactly one acting coordinator", func() bool {
		leader, standby = nil, nil
		n := 0
		for _, c := range coords {
			v, err := c.Metric(ctx, "tricycle_coordinator_leader")
			if err != nil {
				return false
			}
			if v == 1 {
				n++
				leader = c
			} else {
				standby = c
			}
		}
		return n == 1
	})
	if st := promotion(leader).State; st != coordination.PhaseState(2) {
		t.Fatalf("the promotion is %s at the kill, want phase_2", st)
	}
	leader.Kill(t)
	killed := time.Now()
	t.Logf("killed the acting coordinator %s in phase 2", leader.Name)
	waitFor(t, ctx, "the standby acting", func() bool {
		v, err := standby.Metric(ctx, "tricycle_coordinator_leader")
		return err == nil && v == 1
	})
	takeover := time.Since(killed)
	t.Logf("%s acts %v after the kill (lease %v)", standby.Name, takeover.Round(time.Millisecond), leaderTTL)
	if takeover > leaderTTL+takeoverSlack {
		t.Errorf("takeover took %v, want within the lease %v (+%v)", takeover, leaderTTL, takeoverSlack)
	}

	waitFor(t, ctx, "the promotion completed", func() bool { return promotion(standby).State == coordination.PromotionCompleted })
	answered, total, failures := tr.finish()
	if len(failures) > 0 {
		t.Errorf("%d reviews failed, e.g. %s", len(failures), failures[0])
	}
	if len(answered[g1]) == 0 || len(answered[g2]) == 0 {
		t.Fatalf("answered %d reviews on gw-1 and %d on gw-2, want both > 0", len(answered[g1]), len(answered[g2]))
	}
	// No lost review: each is readable by id on the gateway that answered
	// it (reviews are kept per gateway), and the acting coordinator counted
	// every one in its production and canary windows.
	for gw, ids := range answered {
		for _, rid := range ids {
			if code, b, err := gw.Call(ctx, "GET", "/api/v1/reviews/"+rid, ""); err != nil || code != http.StatusOK {
				t.Fatalf("%s: review %s: %d %s %v", gw.Name, rid, code, b, err)
			}
		}
	}
	var counted float64
	waitFor(t, ctx, "every answered review counted by the acting coordinator", func() bool {
		prod, err1 := standby.Metric(ctx, "tricycle_reviews_total", `series_kind="production"`)
		canary, err2 := standby.Metric(ctx, "tricycle_reviews_total", `series_kind="canary"`)
		counted = prod + canary
		return err1 == nil && err2 == nil && int(counted) == total
	})
	if canary, _ := standby.Metric(ctx, "tricycle_reviews_total", `series_kind="canary"`); canary == 0 {
		t.Errorf("no review was answered by the canary: the gateways missed the routing changes")
	}
	var verify coordination.AuditVerification
	standby.Do(t, "GET", "/api/v1/audit/verify", "", 200, &verify)
	if !verify.OK {
		t.Errorf("the audit chain does not verify: %+v", verify)
	}
	for _, p := range []*proctest.Proc{g1, g2, w1, standby} {
		p.Shutdown(t, 30*time.Second)
	}
	checkOutbox(t, dsn, id)
	t.Logf("%d reviews (gw-1 %d, gw-2 %d) all counted; run took %v", total, len(answered[g1]), len(answered[g2]),
		time.Since(start).Round(time.Millisecond))
}

// checkOutbox reads the store after every process stopped: each outbox
// event once and published, and each phase change exactly once.
func checkOutbox(t *testing.T, dsn, id string) {
	t.Helper()
	rows, err := readOutbox(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	changes := map[string]int{}
	counts := map[string]int{}
	for _, r := range rows {
		if ids[r.ID] {
			t.Errorf("event id %s appears twice in the outbox", r.ID)
		}
		ids[r.ID] = true
		if !r.Published {
			t.Errorf("event %s (%s) was never published", r.ID, r.Type)
		}
		if r.Subject != id {
			continue
		}
		counts[r.Type]++
		if r.Type == coordination.EventPromotionPhaseChanged {
			var env coordination.Event
			var d struct {
				From  string `json:"from_state"`
				State string `json:"state"`
			}
			if err := json.Unmarshal([]byte(r.Data), &env); err != nil {
				t.Fatalf("event %s: %v", r.ID, err)
			}
			if err := env.DecodeData(&d); err != nil {
				t.Fatalf("event %s data: %v", r.ID, err)
			}
			changes[d.From+" → "+d.State]++
		}
	}
	want := []string{"awaiting_approval → phase_1", "phase_1 → phase_2", "phase_2 → phase_3", "phase_3 → finalizing"}
	for _, c := range want {
		if changes[c] != 1 {
			t.Errorf("phase change %s: %d events, want exactly 1", c, changes[c])
		}
	}
	if len(changes) != len(want) {
		t.Errorf("phase changes %v, want exactly %v", changes, want)
	}
	for typ, n := range map[string]int{coordination.EventPromotionApproved: 1, coordination.EventPromotionCompleted: 1,
		coordination.EventPromotionRollback: 0} {
		if counts[typ] != n {
			t.Errorf("%d %s events, want %d", counts[typ], typ, n)
		}
	}
	t.Logf("%d outbox events, all published once", len(rows))
}

// waitFor polls cond every 100 ms until it holds, or fails the test.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, failsafe)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-wctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// sleepCtx waits d of real time: the kill point is a real instant.
func sleepCtx(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

package gateway

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
)

// workerBundle adds an experiments worker to a gateway bundle.
func newTestWorker(t *testing.T, b *bundle, mutate func(*WorkerOptions)) *Worker {
	t.Helper()
	opts := WorkerOptions{Bus: b.bus, Routing: b.routing.fetch, Registry: b.reg, Recorder: b.rec,
		Clock: coordination.ClockFunc(func() time.Time { return t0 }), Timeout: 10 * time.Second}
	if mutate != nil {
		mutate(&opts)
	}
	w, err := NewWorker(opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func shadowEvent(t *testing.T, id, expID string, v2 ShadowOutcome) coordination.Event {
	t.Helper()
	ev, err := newEvent(EventShadowRequested, SourceGateway, expID, t0, ShadowRequest{RequestID: "req-" + id, ExperimentID: expID,
		Request: review.Request{ID: "req-" + id, Repository: "org/a", Diff: goDiff}, V2: v2})
	if err != nil {
		t.Fatal(err)
	}
	ev.ID = id
	return ev
}

func TestWorkerRecordsCandidateAndBaseline(t *testing.T) {
	t.Parallel()
	f := func(file string, line int) review.Finding {
		return review.Finding{File: file, Line: line, Category: "security", Severity: review.SeverityHigh}
	}
	tests := []struct {
		name          string
		cand          review.Reviewer
		v2            ShadowOutcome
		wantCompared  bool
		wantAgreed    bool
		wantAgreement float64
		wantError     bool
	}{
		{"same findings agree", returns(f("a.go", 1), f("b.go", 2)), ShadowOutcome{Findings: []review.Finding{f("a.go", 1), f("b.go", 2)}}, true, true, 1, false},
		{"half overlap agrees", returns(f("a.go", 1), f("b.go", 2)), ShadowOutcome{Findings: []review.Finding{f("a.go", 1)}}, true, true, 0.5, false},
		{"third overlap disagrees", returns(f("a.go", 1), f("b.go", 2)), ShadowOutcome{Findings: []review.Finding{f("a.go", 1), f("c.go", 3)}}, true, false, 1.0 / 3, false},
		{"both clean agree", returns(), ShadowOutcome{Findings: []review.Finding{}}, true, true, 1, false},
		{"v2 error is not compared", returns(f("a.go", 1)), ShadowOutcome{Error: true}, false, false, 0, false},
		{"candidate error", &fakeReviewer{fn: func(context.Context, review.Request) (review.Result, error) {
			return review.Result{}, errors.New("rate limited")
		}}, ShadowOutcome{Findings: []review.Finding{}}, false, false, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, map[string]review.Reviewer{"prod": returns(), "cand": tt.cand}, nil)
			b.routing.set(func(r *coordination.Routing) { r.Experiments = []*coordination.Experiment{running("exp-1", 5, candV)} })
			w := newTestWorker(t, b, nil)
			tt.v2.Variant, tt.v2.LatencyMS, tt.v2.CostUSD = "prod", 1500, 0.02
			got, ok, err := w.Process(context.Background(), shadowEvent(t, "evt-1", "exp-1", tt.v2))
			if err != nil || !ok {
				t.Fatalf("Process: ok %v err %v", ok, err)
			}
			if got.Agreement != tt.wantAgreement || got.Error != tt.wantError {
				t.Errorf("completed %+v, want agreement %v error %v", got, tt.wantAgreement, tt.wantError)
			}
			cand, base := b.rec.series(SeriesExperiment("exp-1")), b.rec.series(SeriesExperimentBaseline("exp-1"))
			if len(cand) != 1 || len(base) != 1 {
				t.Fatalf("recorded %d candidate and %d baseline outcomes", len(cand), len(base))
			}
			if c := cand[0]; c.Compared != tt.wantCompared || c.Agreed != tt.wantAgreed || c.Error != tt.wantError || c.Variant != "cand" {
				t.Errorf("candidate outcome %+v", c)
			}
			if bo := base[0]; bo.Latency != 1500*time.Millisecond || bo.CostUSD != 0.02 || bo.Error != tt.v2.Error || bo.Variant != "prod" {
				t.Errorf("baseline outcome %+v", bo)
			}
		})
	}
}

func TestWorkerSkipsStoppedQuarantinedAndOverBudgetExperiments(t *testing.T) {
	t.Parallel()
	cand := returns()
	b := setup(t, map[string]review.Reviewer{"prod": returns(), "cand": cand}, nil)
	budget := running("exp-budget", 5, candV)
	budget.BudgetUSD, budget.SpentUSD = 1, 1
	b.routing.set(func(r *coordination.Routing) {
		r.Experiments = []*coordination.Experiment{running("exp-q", 5, candV), budget}
	})
	w := newTestWorker(t, b, nil)
	ctx := context.Background()
	// Quarantine arrives as an event while the routing source still lists it.
	qev, err := coordination.NewEvent(coordination.EventQuarantineCompleted, "qr-1", t0, map[string]any{"experiment_id": "exp-q"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.router.current(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.router.handle(ctx, qev); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"exp-q", "exp-budget", "exp-gone"} {
		if _, ok, err := w.Process(ctx, shadowEvent(t, "evt-"+id, id, ShadowOutcome{})); ok || err != nil {
			t.Errorf("%s: ok %v err %v, want skipped", id, ok, err)
		}
	}
	if cand.n() != 0 {
		t.Errorf("the candidate was invoked %d times", cand.n())
	}
	if st := w.Stats(); st.NotRunning != 2 || st.OverBudget != 1 {
		t.Errorf("stats %+v, want 2 not running, 1 over budget", st)
	}
}

func TestWorkerBudgetFromSpentHook(t *testing.T) {
	t.Parallel()
	cand := returns()
	b := setup(t, map[string]review.Reviewer{"prod": returns(), "cand": cand}, nil)
	e := running("exp-1", 5, candV)
	e.BudgetUSD = 10
	b.routing.set(func(r *coordination.Routing) { r.Experiments = []*coordination.Experiment{e} })
	spent := 9.99
	w := newTestWorker(t, b, func(o *WorkerOptions) {
		o.Spent = func(context.Context, string) (float64, error) { return spent, nil }
	})
	ctx := context.Background()
	if _, ok, err := w.Process(ctx, shadowEvent(t, "evt-1", "exp-1", ShadowOutcome{})); !ok || err != nil {
		t.Fatalf("under budget: ok %v err %v", ok, err)
	}
	spent = 10
	if _, ok, err := w.Process(ctx, shadowEvent(t, "evt-2", "exp-1", ShadowOutcome{})); ok || err != nil {
		t.Fatalf("budget spent: ok %v err %v, want skipped", ok, err)
	}
	if cand.n() != 1 {
		t.Errorf("candidate called %d times, want 1", cand.n())
	}
}

func TestWorkerDeduplicatesByEventID(t *testing.T) {
	t.Parallel()
	cand := returns()
	b := setup(t, map[string]review.Reviewer{"prod": returns(), "cand": cand}, nil)
	b.routing.set(func(r *coordination.Routing) { r.Experiments = []*coordination.Experiment{running("exp-1", 5, candV)} })
	w := newTestWorker(t, b, nil)
	ctx := context.Background()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Stop(ctx)
	ev := shadowEvent(t, "evt-dup", "exp-1", ShadowOutcome{})
	for range 3 {
		if err := b.bus.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.bus.Publish(ctx, shadowEvent(t, "evt-other", "exp-1", ShadowOutcome{})); err != nil {
		t.Fatal(err)
	}
	b.rec.waitFor(t, SeriesExperiment("exp-1"), 2)
	if err := w.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := b.rec.count(SeriesExperiment("exp-1")); n != 2 || cand.n() != 2 {
		t.Errorf("recorded %d results, candidate called %d times; want 2 and 2", n, cand.n())
	}
	if st := w.Stats(); st.Duplicates != 2 {
		t.Errorf("stats %+v, want 2 duplicates", st)
	}
}

// A provider that hangs on every call must cost production nothing and keep
// goroutines and queues bounded; one that fails every call is recorded as
// failing.
func TestHangingShadowProviderStaysBounded(t *testing.T) {
	started := make(chan struct{}, 1000)
	hang := &fakeReviewer{fn: func(ctx context.Context, _ review.Request) (review.Result, error) {
		started <- struct{}{}
		<-ctx.Done()
		return review.Result{}, ctx.Err()
	}}
	b := setup(t, map[string]review.Reviewer{"prod": returns(), "cand": hang}, func(o *Options) { o.ShadowQueue = 16 })
	b.routing.set(func(r *coordination.Routing) {
		r.Experiments = []*coordination.Experiment{running("exp-hang", 100, candV)}
	})
	// The candidate never answers within the test: only Stop ends its calls.
	w := newTestWorker(t, b, func(o *WorkerOptions) { o.Concurrency, o.QueueSize, o.Timeout = 2, 8, time.Hour })
	ctx := context.Background()
	base := runtime.NumGoroutine()
	if err := b.g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Fill the pipeline first so the loop below sees it saturated.
	for i := range 2 {
		if _, err := b.g.Review(ctx, review.Request{Repository: fmt.Sprintf("org/x%d", i), Diff: goDiff}); err != nil {
			t.Fatal(err)
		}
	}
	<-started // a shadow copy reached the hanging provider
	maxG := 0
	for i := range 3000 {
		res, err := b.g.Review(ctx, review.Request{Repository: fmt.Sprintf("org/%d", i), Diff: goDiff})
		if err != nil || res.Arm != ArmProduction {
			t.Fatalf("request %d: arm %s err %v", i, res.Arm, err)
		}
		if i%100 == 0 {
			maxG = max(maxG, runtime.NumGoroutine())
			if st := b.g.ShadowStats(); st.Pending > st.Capacity {
				t.Fatalf("shadow queue %d over its capacity %d", st.Pending, st.Capacity)
			}
			if st := w.Stats(); st.Pending > st.Capacity || st.InFlight > 2 {
				t.Fatalf("worker stats %+v exceed its bounds", st)
			}
		}
	}
	// Gateway: drainer, refresher, routing subscription, watcher; worker:
	// 2 workers, refresher, 2 subscriptions, watcher; the bus's helpers.
	if grew := maxG - base; grew > 20 {
		t.Errorf("goroutines grew by %d under a hanging provider", grew)
	}
	gs, ws := b.g.ShadowStats(), w.Stats()
	if ws.Dropped == 0 && gs.Dropped == 0 {
		t.Errorf("nothing was dropped although the provider hangs: gateway %+v worker %+v", gs, ws)
	}
	if n := b.rec.count(SeriesProduction); n != 3002 {
		t.Errorf("production recorded %d answers, want 3002", n)
	}
	if err := w.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.g.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// Stopping releases every goroutine held by the hanging calls, and
	// cancelled calls are not recorded as the variant's errors.
	if n := b.rec.count(SeriesExperiment("exp-hang")); n != 0 {
		t.Errorf("%d cancelled shadow calls were recorded", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base+2 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if g := runtime.NumGoroutine(); g > base+2 {
		t.Errorf("%d goroutines left after Stop, %d before Start", g, base)
	}
}

func TestFailingShadowProviderIsRecordedNotFelt(t *testing.T) {
	t.Parallel()
	fail := &fakeReviewer{fn: func(context.Context, review.Request) (review.Result, error) {
		return review.Result{}, errors.New("500 internal error")
	}}
	b := setup(t, map[string]review.Reviewer{"prod": returns(), "cand": fail}, nil)
	b.routing.set(func(r *coordination.Routing) {
		r.Experiments = []*coordination.Experiment{running("exp-f", 100, candV)}
	})
	w := newTestWorker(t, b, func(o *WorkerOptions) { o.QueueSize = 1000 })
	ctx := context.Background()
	if err := b.g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.g.Stop(ctx)
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Stop(ctx)
	for i := range 100 {
		if _, err := b.g.Review(ctx, review.Request{Repository: fmt.Sprintf("org/%d", i), Diff: goDiff}); err != nil {
			t.Fatalf("production failed because the shadow provider does: %v", err)
		}
	}
	b.rec.waitFor(t, SeriesExperiment("exp-f"), 100)
	for _, o := range b.rec.series(SeriesExperiment("exp-f")) {
		if !o.Error || o.Compared {
			t.Fatalf("failed shadow recorded as %+v", o)
		}
	}
	if n := b.rec.count(SeriesExperimentBaseline("exp-f")); n != 100 {
		t.Errorf("baseline has %d outcomes, want 100", n)
	}
}

func TestAgreement(t *testing.T) {
	t.Parallel()
	f := func(file string, line int, cat string) review.Finding {
		return review.Finding{File: file, Line: line, Category: cat}
	}
	tests := []struct {
		a, b []review.Finding
		want float64
	}{
		{nil, nil, 1},
		{[]review.Finding{f("a", 1, "security")}, nil, 0},
		{[]review.Finding{f("a", 1, "security")}, []review.Finding{f("a", 1, "security")}, 1},
		{[]review.Finding{f("a", 1, "security")}, []review.Finding{f("a", 1, "correctness")}, 0},
		{[]review.Finding{f("a", 1, "security"), f("a", 1, "security")}, []review.Finding{f("a", 1, "security"), f("a", 2, "x")}, 0.5},
	}
	for _, tt := range tests {
		if got := Agreement(tt.a, tt.b); got != tt.want {
			t.Errorf("Agreement(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if Agreement(tt.a, tt.b) != Agreement(tt.b, tt.a) {
			t.Errorf("Agreement is not symmetric on %v, %v", tt.a, tt.b)
		}
	}
}

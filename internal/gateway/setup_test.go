package gateway

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/diff"
	"github.com/tricyclehq/tricycle/internal/review/golden"
)

var t0 = time.Date(2030, 1, 6, 9, 0, 0, 0, time.UTC)

// goDiff adds a Go file with a SQL query built by concatenation.
const goDiff = `diff --git a/store/users.go b/store/users.go
--- a/store/users.go
+++ b/store/users.go
@@ -1,3 +1,6 @@
 package store
 
 import "database/sql"
+func Find(db *sql.DB, name string) (*sql.Rows, error) {
+	return db.Query("SELECT * FROM users WHERE name = '" + name + "'")
+}
`

// pyDiff adds a Python file.
const pyDiff = `diff --git a/app/views.py b/app/views.py
--- a/app/views.py
+++ b/app/views.py
@@ -1,2 +1,4 @@
 import os
 
+def run(cmd):
+    os.system("ls " + cmd)
`

// recorder is a Recorder that keeps everything (and passes it on to next).
type recorder struct {
	mu       sync.Mutex
	outcomes []Outcome // guarded by mu
	feedback []feedbackCall
	notify   map[string]chan struct{} // series → signalled on each outcome
	next     Recorder                 // also receives everything when set
}

type feedbackCall struct {
	At                  time.Time
	Series, Category    string
	Accepted, Complaint bool
}

func newRecorder() *recorder { return &recorder{notify: map[string]chan struct{}{}} }

func (r *recorder) Record(o Outcome) {
	if r.next != nil {
		r.next.Record(o)
	}
	r.mu.Lock()
	r.outcomes = append(r.outcomes, o)
	ch := r.notify[o.Series]
	r.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (r *recorder) RecordFeedback(at time.Time, series, category string, accepted, complaint bool) {
	if r.next != nil {
		r.next.RecordFeedback(at, series, category, accepted, complaint)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.feedback = append(r.feedback, feedbackCall{at, series, category, accepted, complaint})
}

// series returns the outcomes of one series.
func (r *recorder) series(name string) []Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Outcome
	for _, o := range r.outcomes {
		if o.Series == name {
			out = append(out, o)
		}
	}
	return out
}

func (r *recorder) count(name string) int { return len(r.series(name)) }

// waitFor blocks until series holds n outcomes or the test's deadline
// approaches.
func (r *recorder) waitFor(t *testing.T, name string, n int) {
	t.Helper()
	r.mu.Lock()
	ch := r.notify[name]
	if ch == nil {
		ch = make(chan struct{}, 1)
		r.notify[name] = ch
	}
	r.mu.Unlock()
	timeout := time.After(20 * time.Second)
	for r.count(name) < n {
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("series %s has %d outcomes, want %d", name, r.count(name), n)
		}
	}
}

// fakeReviewer is a reviewer whose behaviour a test sets.
type fakeReviewer struct {
	fn    func(ctx context.Context, req review.Request) (review.Result, error)
	mu    sync.Mutex
	calls []review.Request
}

func (f *fakeReviewer) Review(ctx context.Context, req review.Request) (review.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, req)
	f.mu.Unlock()
	if f.fn == nil {
		return review.Result{Summary: "ok", Model: "fake"}, nil
	}
	return f.fn(ctx, req)
}

func (f *fakeReviewer) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// returns is a fakeReviewer answering findings.
func returns(fs ...review.Finding) *fakeReviewer {
	return &fakeReviewer{fn: func(context.Context, review.Request) (review.Result, error) {
		return review.Result{Findings: fs, Summary: fmt.Sprintf("%d findings", len(fs)), Model: "fake",
			Usage: review.Usage{InputTokens: 100, OutputTokens: 20, CostUSD: 0.001}}, nil
	}}
}

// routingState is a RoutingFunc a test changes.
type routingState struct {
	mu sync.Mutex
	r  coordination.Routing
	n  int // reads
}

func (s *routingState) fetch(context.Context) (coordination.Routing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.r, nil
}

func (s *routingState) set(fn func(r *coordination.Routing)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.r)
}

func release(v coordination.Variant) *coordination.Release {
	return &coordination.Release{ID: "rel-1", Variant: v, State: coordination.ReleaseActive}
}

func canary(id string, pct int, v coordination.Variant) *coordination.PromotionRequest {
	return &coordination.PromotionRequest{RequestID: id, ExperimentID: "exp-c", State: coordination.PromotionPhase1,
		TrafficPercent: pct, Candidate: v}
}

func running(id string, pct float64, v coordination.Variant) *coordination.Experiment {
	return &coordination.Experiment{ID: id, State: coordination.ExperimentRunning, ShadowPercent: pct, Variant: v}
}

// bundle is what most gateway tests need.
type bundle struct {
	g       *Gateway
	reg     *Registry
	rec     *recorder
	routing *routingState
	bus     coordination.Bus
}

// setup builds a gateway over fixed reviewers: "prod" serves production and
// "cand" is available for canaries and experiments.
func setup(t testing.TB, reviewers map[string]review.Reviewer, mutate func(*Options)) *bundle {
	t.Helper()
	reg, err := NewRegistry(RegistryOptions{Reviewers: reviewers})
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{reg: reg, rec: newRecorder(), bus: coordination.NewMemoryBus(coordination.MemoryBusOptions{}),
		routing: &routingState{r: coordination.Routing{Production: release(coordination.Variant{Name: "prod", Provider: "builtin"})}}}
	t.Cleanup(func() { _ = b.bus.Close() })
	opts := Options{Routing: b.routing.fetch, Registry: reg, Recorder: b.rec, Bus: b.bus,
		Clock: coordination.ClockFunc(func() time.Time { return t0 }), Timeout: 10 * time.Second}
	if mutate != nil {
		mutate(&opts)
	}
	b.g, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadGolden reads the project's golden set.
func loadGolden(t testing.TB) []golden.Case {
	t.Helper()
	cases, err := golden.Load("../../testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

func mustParse(t *testing.T, text string) []diff.File {
	t.Helper()
	fs, err := diff.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
)

// fixture is an API server over an in-memory coordinator with one token per
// role and a revoked one.
type fixture struct {
	t     testing.TB
	coord *coordination.LifecycleCoordinator
	srv   *Server
	bus   coordination.Bus
	clock *coordinationtest.ManualClock
	log   *syncBuffer
	tok   map[string]string // role name (and "revoked") → token
	seq   atomic.Int64
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// local is the embedding program's context: an admin named "local".
var local = context.Background()

func setup(t testing.TB, mods ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: coordinationtest.NewManualClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)),
		log: &syncBuffer{}, tok: map[string]string{}}
	f.bus = coordination.NewMemoryBus(coordination.MemoryBusOptions{})
	t.Cleanup(func() { _ = f.bus.Close() })
	var err error
	f.coord, err = coordination.NewLifecycleCoordinator(coordination.Options{Clock: f.clock, Bus: f.bus})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.coord.Init(local); err != nil {
		t.Fatal(err)
	}
	opts := Options{Coordinator: f.coord, Logger: slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, m := range mods {
		m(&opts)
	}
	f.srv, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.srv.Close() })
	for name, role := range map[string]coordination.Role{"admin": coordination.RoleAdmin, "user": coordination.RoleUser,
		"system": coordination.RoleSystem, "revoked": coordination.RoleAdmin} {
		plain, tok, err := f.coord.CreateToken(local, "t-"+name, role)
		if err != nil {
			t.Fatal(err)
		}
		f.tok[name] = plain
		if name == "revoked" {
			if err := f.coord.RevokeToken(local, tok.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	return f
}

// req builds a request as role ("" for no token) with an optional JSON body.
func (f *fixture) req(method, path, role, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		tok, ok := f.tok[role]
		if !ok {
			f.t.Fatalf("no token for role %q", role)
		}
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return r
}

// do serves one request in process.
func (f *fixture) do(method, path, role, body string) *httptest.ResponseRecorder {
	f.t.Helper()
	w := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(w, f.req(method, path, role, body))
	return w
}

// decodeBody decodes a recorded JSON answer.
func decodeBody[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%s", w.Code, err, w.Body)
	}
	return v
}

// errorOf returns the error code and message of an error answer.
func errorOf(t *testing.T, w *httptest.ResponseRecorder) (string, string) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("error answer has Content-Type %q", ct)
	}
	b := decodeBody[ErrorBody](t, w)
	return b.Error.Code, b.Error.Message
}

func (f *fixture) auditLen() int {
	f.t.Helper()
	es, err := f.coord.AuditLog(local, 0, 1_000_000)
	if err != nil {
		f.t.Fatal(err)
	}
	return len(es)
}

// criteria and metrics that PROMOTE.
var (
	promoteCriteria = map[string]string{"accuracy": "> 90%", "latency_p95": "< 3s"}
	promoteMetrics  = map[string]float64{"accuracy": 0.95, "latency_p95": 2}
)

// variant returns a variant no other experiment of the fixture shares, so
// that the blacklist never links two of them.
func (f *fixture) variant() coordination.Variant {
	n := f.seq.Add(1)
	return coordination.Variant{Name: fmt.Sprintf("cand-%d", n), Provider: coordination.ProviderSimulated,
		Model: fmt.Sprintf("model-%d", n)}
}

func (f *fixture) experiment() string {
	f.t.Helper()
	p, err := f.coord.CreateExperiment(local, coordination.ExperimentSpec{Title: "Try a model",
		Hypothesis: "It is better", SuccessCriteria: promoteCriteria, Variant: f.variant()})
	if err != nil {
		f.t.Fatal(err)
	}
	return p.ExperimentID
}

func (f *fixture) experimentState(id string) coordination.ExperimentState {
	f.t.Helper()
	e, err := f.coord.GetExperiment(local, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return e.State
}

// promotion returns a promotion awaiting approval.
func (f *fixture) promotion() string {
	f.t.Helper()
	id := f.experiment()
	d, err := f.coord.EvaluateExperiment(local, id, promoteMetrics)
	if err != nil || d != coordination.Promote {
		f.t.Fatalf("evaluate = %v, %v; want PROMOTE", d, err)
	}
	e, err := f.coord.GetExperiment(local, id)
	if err != nil {
		f.t.Fatal(err)
	}
	p, err := f.coord.Promotion().GetPromotion(local, e.PromotionID)
	if err != nil {
		f.t.Fatal(err)
	}
	if p.State != coordination.PromotionAwaitingApproval {
		f.t.Fatalf("promotion %s is %s, want awaiting_approval", p.RequestID, p.State)
	}
	return p.RequestID
}

// canary returns a promotion in its first canary phase.
func (f *fixture) canary() string {
	f.t.Helper()
	id := f.promotion()
	if err := f.coord.ApprovePromotion(local, id, "root"); err != nil {
		f.t.Fatal(err)
	}
	return id
}

// record returns a quarantine record.
func (f *fixture) record() string {
	f.t.Helper()
	r, err := f.coord.Quarantine().QuarantineExperiment(local, coordination.QuarantineSpec{
		ExperimentID: f.experiment(), FailureType: "manual"})
	if err != nil {
		f.t.Fatal(err)
	}
	return r.RecordID
}

// proposal returns a suggested proposal (a retry of a quarantine record).
func (f *fixture) proposal() string {
	f.t.Helper()
	rev, err := f.coord.Quarantine().Review(local, coordination.ReviewSpec{RecordID: f.record(),
		Reviewer: "root", RetryApproved: true, Notes: "new model out"})
	if err != nil {
		f.t.Fatal(err)
	}
	return rev.ProposalID
}

func (f *fixture) token() string {
	f.t.Helper()
	_, tok, err := f.coord.CreateToken(local, fmt.Sprintf("extra-%d", f.seq.Add(1)), coordination.RoleUser)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok.ID
}

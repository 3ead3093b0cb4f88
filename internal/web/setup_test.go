package web

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fakeHealth is the HealthMetrics hook: production reports a 3% error rate
// (a warning alert) over the health window and 0.5% over the SLO window.
func fakeHealth(_ context.Context, target string, _ time.Duration) (coordination.HealthSample, error) {
	if target != coordination.TargetProduction {
		return coordination.HealthSample{}, nil
	}
	return coordination.HealthSample{Values: map[string]float64{"error_rate": 0.03, "latency_p95": 1.2},
		Requests: 10000, Errors: 50, SlowRequests: 100, LatencyP95: 1.2}, nil
}

// proposalSource suggests one experiment.
type proposalSource struct{}

func (proposalSource) Name() string { return "research" }

func (proposalSource) Propose(context.Context, coordination.GeneratorInput) ([]coordination.Candidate, error) {
	return []coordination.Candidate{{Title: "Try model-z for Go diffs", Hypothesis: "model-z finds more bugs in Go code",
		SuccessCriteria: map[string]string{"accuracy": "> 92%"}, Source: "research",
		Variant: coordination.Variant{Name: "model-z", Provider: coordination.ProviderSimulated, Model: "model-z-1"},
		Impact:  0.5, Confidence: 0.8, Rationale: []string{"claimed accuracy 94%"}}}, nil
}

// history is a HistoryFunc with deterministic points; it records the series
// asked for.
type history struct {
	mu    sync.Mutex
	asked []string
	fail  map[string]bool
}

// points returns n points for series: production's p95 climbs from 1 s by
// 10 ms a step; other series are faster, and their third step has no traffic.
func historyPoints(series string, from time.Time, step time.Duration, n int) []Point {
	out := make([]Point, n)
	for i := range out {
		p := Point{At: from.Add(time.Duration(i) * step), P95: 1 + 0.01*float64(i), ErrorRate: 0.01, CostPerReview: 0.02, Requests: 100}
		switch {
		case strings.HasPrefix(series, "canary/"):
			p.P95, p.ErrorRate, p.CostPerReview = 1.1+0.004*float64(i), 0.008, 0.016
		case series != SeriesProduction:
			p.P95, p.ErrorRate, p.CostPerReview = 0.8+0.005*float64(i), 0.005, 0.012
			if i == 2 {
				p.Requests = 0
			}
		}
		out[i] = p
	}
	return out
}

func (h *history) fn(_ context.Context, series string, from, to time.Time, step time.Duration) ([]Point, error) {
	h.mu.Lock()
	h.asked = append(h.asked, series)
	fail := h.fail[series]
	h.mu.Unlock()
	if fail {
		return nil, fmt.Errorf("recorder unavailable for %s", series)
	}
	return historyPoints(series, from, step, int(to.Sub(from)/step)), nil
}

func (h *history) series() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.asked...)
}

// fixture is a coordinator in a known state with a dashboard over it: a
// promotion in phase 2, a running experiment, a held one, a quarantine
// record, a proposal and a firing alert.
type fixture struct {
	c       *coordination.LifecycleCoordinator
	clock   *coordinationtest.ManualClock
	h       *Handler
	hist    *history
	logs    *bytes.Buffer
	ctx     context.Context
	admin   string // token secrets
	user    string
	revoked string

	promotionID, runningID, heldID, recordID, proposalID string
}

func mustDo(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func setup(t testing.TB, mutate ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{clock: coordinationtest.NewManualClock(t0), ctx: context.Background(), hist: &history{fail: map[string]bool{}},
		logs: &bytes.Buffer{}}
	c, err := coordination.NewLifecycleCoordinator(coordination.Options{Clock: f.clock, HealthMetrics: fakeHealth,
		Sources: []coordination.ProposalSource{proposalSource{}}})
	mustDo(t, "new coordinator", err)
	f.c = c
	t.Cleanup(func() { _ = c.Store().Close() })
	ctx := f.ctx
	mustDo(t, "init", c.Init(ctx))

	// A promotion taken to phase 2, 5 hours in.
	p, err := c.CreateExperiment(ctx, coordination.ExperimentSpec{Title: "Cheaper simulated reviewer",
		SuccessCriteria: map[string]string{"accuracy": "> 90%"},
		Variant:         coordination.Variant{Name: "fast-sim", Provider: coordination.ProviderSimulated, Model: "fast-1"}})
	mustDo(t, "create promoted experiment", err)
	mustDo(t, "start", c.StartExperiment(ctx, p.ExperimentID, "ops@example.com"))
	d, err := c.EvaluateExperiment(ctx, p.ExperimentID, map[string]float64{"accuracy": 0.95})
	if err != nil || d != coordination.Promote {
		t.Fatalf("evaluate = %v, %v", d, err)
	}
	e, err := c.GetExperiment(ctx, p.ExperimentID)
	mustDo(t, "get experiment", err)
	f.promotionID = e.PromotionID
	mustDo(t, "approve", c.ApprovePromotion(ctx, f.promotionID, "ops@example.com"))
	f.clock.Advance(24 * time.Hour)
	_, err = c.RunOnce(ctx) // phase 1 is due: phase 2 starts; the alert goes pending
	mustDo(t, "run once", err)
	f.clock.Advance(5 * time.Hour)
	_, err = c.RunOnce(ctx) // the alert has held for its time: it fires
	mustDo(t, "run once", err)

	// A running experiment, 2 hours in.
	p, err = c.CreateExperiment(ctx, coordination.ExperimentSpec{Title: "Prompt with security focus",
		SuccessCriteria: map[string]string{"accuracy": "> 90%", "latency_p95": "< 3s"},
		Variant:         coordination.Variant{Name: "prompt-v2", Provider: coordination.ProviderSimulated, Model: "prompt-2"}})
	mustDo(t, "create running experiment", err)
	f.runningID = p.ExperimentID
	mustDo(t, "start", c.StartExperiment(ctx, f.runningID, "ops@example.com"))

	// A held experiment.
	p, err = c.CreateExperiment(ctx, coordination.ExperimentSpec{Title: "Cascade for large diffs",
		SuccessCriteria: map[string]string{"accuracy": "> 90%"},
		Variant:         coordination.Variant{Name: "cascade-1", Provider: coordination.ProviderSimulated, Model: "cascade-1"}})
	mustDo(t, "create held experiment", err)
	f.heldID = p.ExperimentID
	mustDo(t, "start", c.StartExperiment(ctx, f.heldID, "ops@example.com"))
	d, err = c.EvaluateExperiment(ctx, f.heldID, map[string]float64{"accuracy": 0.88})
	if err != nil || d != coordination.Hold {
		t.Fatalf("evaluate held = %v, %v", d, err)
	}

	// A quarantined experiment.
	p, err = c.CreateExperiment(ctx, coordination.ExperimentSpec{Title: "Slow large model",
		SuccessCriteria: map[string]string{"latency_p95": "< 3s"},
		Variant:         coordination.Variant{Name: "slow-sim", Provider: coordination.ProviderSimulated, Model: "slow-1"}})
	mustDo(t, "create quarantined experiment", err)
	rec, err := c.Quarantine().QuarantineExperiment(ctx, coordination.QuarantineSpec{ExperimentID: p.ExperimentID,
		FailureType: string(coordination.FailureLatencyRegression), MetricsAtFailure: map[string]float64{"latency_p95": 6.5},
		ErrorLogs: "upstream timeout after 30s"})
	mustDo(t, "quarantine", err)
	f.recordID = rec.RecordID

	props, err := c.Generator().GenerateProposals(ctx)
	mustDo(t, "generate proposals", err)
	for _, pr := range props {
		if pr.Title == "Try model-z for Go diffs" {
			f.proposalID = pr.ProposalID
		}
	}
	if f.proposalID == "" {
		t.Fatalf("the proposal source's candidate was not stored: %+v", props)
	}

	f.clock.Advance(2 * time.Hour)
	f.admin, _, err = c.CreateToken(ctx, "ops", coordination.RoleAdmin)
	mustDo(t, "create admin token", err)
	f.user, _, err = c.CreateToken(ctx, "dev", coordination.RoleUser)
	mustDo(t, "create user token", err)
	var tok *coordination.Token
	f.revoked, tok, err = c.CreateToken(ctx, "gone", coordination.RoleAdmin)
	mustDo(t, "create revoked token", err)
	mustDo(t, "revoke", c.RevokeToken(ctx, tok.ID))

	opts := Options{History: f.hist.fn, ChartWindow: 6 * time.Hour, ChartStep: 15 * time.Minute,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil))}
	for _, m := range mutate {
		m(&opts)
	}
	f.h, err = New(c, opts)
	mustDo(t, "new dashboard", err)
	return f
}

// get serves GET path with the given cookie value and Authorization header.
func (f *fixture) get(path, cookie, authz string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// post serves a form POST.
func (f *fixture) post(path string, form url.Values, mutate ...func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, m := range mutate {
		m(r)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// login posts the token and returns the session cookie it set.
func (f *fixture) login(t testing.TB, token string) string {
	t.Helper()
	w := f.post("/login", url.Values{"token": {token}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login: status %d: %s", w.Code, w.Body)
	}
	for _, ck := range w.Result().Cookies() {
		if ck.Name == cookieName {
			return ck.Value
		}
	}
	t.Fatal("login set no session cookie")
	return ""
}

// page renders the dashboard for token and parses it.
func (f *fixture) page(t testing.TB, token string) (*html.Node, string) {
	t.Helper()
	w := f.get("/", f.login(t, token), "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /: status %d: %s", w.Code, w.Body)
	}
	body := w.Body.String()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc, body
}

// find returns the first node (depth first) that match accepts.
func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	if match(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if m := find(c, match); m != nil {
			return m
		}
	}
	return nil
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// byAttr matches an element whose attribute key equals val.
func byAttr(key, val string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Type == html.ElementNode && attr(n, key) == val }
}

// byID matches the element with the id.
func byID(id string) func(*html.Node) bool { return byAttr("id", id) }

// byClass matches an element carrying the class.
func byClass(class string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		return n.Type == html.ElementNode && strings.Contains(" "+attr(n, "class")+" ", " "+class+" ")
	}
}

// text returns the text content of n with whitespace collapsed.
func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
		case html.ElementNode:
			if n.Data == "td" || n.Data == "th" || n.Data == "li" || n.Data == "br" {
				b.WriteByte(' ') // cells read apart
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

package dataplane_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/app"
	"github.com/tricyclehq/tricycle/internal/config"
	"github.com/tricyclehq/tricycle/internal/dataplane"
)

const adminToken = "tc_dataplane_test_admin_token_0123456789"

const diff = "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1,1 +1,2 @@\n import os\n+os.system(\"rm -rf \" + user_input)\n"

type server struct {
	t     *testing.T
	app   *app.App
	plane *dataplane.Plane
	base  string
	stop  func() // stops the server and waits for it (once)
}

// start runs `tricycle serve` in-process, wired as the CLI wires it, on a
// SQLite file in a temp dir.
func start(t *testing.T) *server {
	t.Helper()
	return startIn(t, t.TempDir())
}

// startIn is start on the SQLite file t.db of dir.
func startIn(t *testing.T, dir string) *server {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.DSN = "sqlite:" + filepath.Join(dir, "t.db")
	cfg.DataDir, cfg.Server.Addr, cfg.AdminToken = dir, "127.0.0.1:0", adminToken
	s := &server{t: t}
	opts := dataplane.Wire(app.Options{Stdout: io.Discard, Logger: slog.New(slog.DiscardHandler)}, dataplane.Options{ProbesDir: "../../testdata/golden", ProbeInterval: time.Hour})
	build := opts.DataPlane
	opts.DataPlane = func(ctx context.Context, deps app.Deps) (app.DataPlane, error) {
		dp, err := build(ctx, deps)
		if p, ok := dp.(*dataplane.Plane); ok {
			s.plane = p
		}
		return dp, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(s.stop)
	select {
	case <-a.Ready():
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	}
	s.app, s.base = a, "http://"+a.Addr()
	return s
}

func (s *server) do(method, path, token string, body any) (int, []byte, http.Header) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

// TestServeReviewsThroughTheDataPlane: a review answered by the builtin
// production variant, read back by its owner only, with feedback; the
// dashboard and the metrics are served by the same process.
func TestServeReviewsThroughTheDataPlane(t *testing.T) {
	t.Parallel()
	s := start(t)
	code, body, _ := s.do("POST", "/api/v1/reviews", adminToken, map[string]any{"repository": "org/repo", "diff": diff})
	if code != http.StatusOK {
		t.Fatalf("review: %d %s", code, body)
	}
	var res struct {
		ReviewID string `json:"review_id"`
		Findings []struct {
			File, Rule, Severity string
			Line                 int
		} `json:"findings"`
		Usage struct {
			CostUSD float64 `json:"cost_usd"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(body, &res); err != nil || res.ReviewID == "" || len(res.Findings) == 0 {
		t.Fatalf("review answer %s (%v)", body, err)
	}
	if f := res.Findings[0]; f.File != "app.py" || f.Line != 2 || f.Severity == "" {
		t.Fatalf("finding %+v", f)
	}
	if code, body, _ := s.do("GET", "/api/v1/reviews/"+res.ReviewID, adminToken, nil); code != http.StatusOK {
		t.Fatalf("get review: %d %s", code, body)
	}
	admin := coordination.WithActor(context.Background(), coordination.Actor{Name: "admin", Role: coordination.RoleAdmin})
	userToken, _, err := s.app.Coordinator().CreateToken(admin, "someone-else", coordination.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := s.do("GET", "/api/v1/reviews/"+res.ReviewID, userToken, nil); code != http.StatusNotFound {
		t.Fatalf("another user's review: %d, want 404", code)
	}
	fb := map[string]any{"items": []map[string]any{{"finding": 0, "verdict": "accepted"}}}
	if code, body, _ := s.do("POST", "/api/v1/reviews/"+res.ReviewID+"/feedback", adminToken, fb); code != http.StatusOK {
		t.Fatalf("feedback: %d %s", code, body)
	}
	if code, _, h := s.do("GET", "/", "", nil); code != http.StatusSeeOther || !strings.HasSuffix(h.Get("Location"), "/login") {
		t.Fatalf("dashboard without a token: %d %s", code, h.Get("Location"))
	}
	_, metrics, _ := s.do("GET", "/metrics", "", nil)
	if !strings.Contains(string(metrics), `tricycle_gateway_review_duration_seconds_count{arm="production"} 1`) {
		t.Fatalf("metrics lack the answered review:\n%s", metrics)
	}
	st := s.plane.Recorder().Stats("production", time.Hour)
	if st.Aggregate.Requests != 1 || st.Feedback != 1 {
		t.Fatalf("recorded production: %d requests, %d feedback", st.Aggregate.Requests, st.Feedback)
	}
}

// TestShadowTrafficReachesTheEvaluator: with a running experiment on 100%
// shadow traffic, user reviews are copied over the bus to the experiments
// worker, whose results become the experiment's measurements.
func TestShadowTrafficReachesTheEvaluator(t *testing.T) {
	t.Parallel()
	s := start(t)
	exp := map[string]any{"title": "simulated candidate", "shadow_percent": 100,
		"success_criteria": map[string]string{"agreement": "> 50%"},
		"variant": map[string]any{"name": "sim", "provider": "simulated",
			"simulated": map[string]any{"latency_p50": "10ms", "latency_p95": "30ms", "accuracy": 1, "seed": 7}}}
	code, body, _ := s.do("POST", "/api/v1/experiments", adminToken, exp)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var e struct {
		ID string `json:"experiment_id"`
	}
	_ = json.Unmarshal(body, &e)
	if code, body, _ := s.do("POST", "/api/v1/experiments/"+e.ID+"/start", adminToken, map[string]any{}); code != http.StatusOK {
		t.Fatalf("start: %d %s", code, body)
	}
	// Routing changes reach the gateway by events; read it now so that every
	// review below is shadowed.
	if err := s.plane.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		repo := "org/repo-" + string(rune('a'+i))
		if code, body, _ := s.do("POST", "/api/v1/reviews", adminToken, map[string]any{"repository": repo, "diff": diff}); code != http.StatusOK {
			t.Fatalf("review: %d %s", code, body)
		}
	}
	ex, err := s.app.Coordinator().Store().ExperimentGet(context.Background(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		cand, base, err := s.plane.Recorder().Measurements(context.Background(), ex, ex.StartedAt)
		if err != nil {
			t.Fatal(err)
		}
		if cand.Requests == 20 && base.Requests == 20 {
			if cand.Compared != 20 {
				t.Fatalf("compared %d of 20 shadow results with V2", cand.Compared)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shadow results: candidate %d, baseline %d of 20", cand.Requests, base.Requests)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReviewsSurviveARestart: an answered review and its feedback are read
// back after the server restarts on the same SQLite file, and the finding
// that already has a verdict refuses a second one.
func TestReviewsSurviveARestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startIn(t, dir)
	code, body, _ := s.do("POST", "/api/v1/reviews", adminToken, map[string]any{"repository": "org/repo", "diff": diff})
	if code != http.StatusOK {
		t.Fatalf("review: %d %s", code, body)
	}
	var res struct {
		ReviewID string            `json:"review_id"`
		Findings []json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal(body, &res); err != nil || res.ReviewID == "" || len(res.Findings) == 0 {
		t.Fatalf("review answer %s (%v)", body, err)
	}
	fb := map[string]any{"items": []map[string]any{{"finding": 0, "verdict": "dismissed", "text": "not reachable"}}}
	if code, body, _ := s.do("POST", "/api/v1/reviews/"+res.ReviewID+"/feedback", adminToken, fb); code != http.StatusOK {
		t.Fatalf("feedback: %d %s", code, body)
	}
	s.stop()

	s = startIn(t, dir)
	code, body, _ = s.do("GET", "/api/v1/reviews/"+res.ReviewID, adminToken, nil)
	if code != http.StatusOK {
		t.Fatalf("get review after a restart: %d %s", code, body)
	}
	var got struct {
		ReviewID   string            `json:"review_id"`
		Repository string            `json:"repository"`
		Owner      string            `json:"owner"`
		Findings   []json.RawMessage `json:"findings"`
		Feedback   []struct {
			Finding       int
			Verdict, Text string
		} `json:"feedback"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("review %s: %v", body, err)
	}
	if got.ReviewID != res.ReviewID || got.Repository != "org/repo" || got.Owner == "" || len(got.Findings) != len(res.Findings) {
		t.Errorf("review after a restart = %s, want %s of org/repo with %d findings and its owner", body, res.ReviewID, len(res.Findings))
	}
	if len(got.Feedback) != 1 || got.Feedback[0].Finding != 0 || got.Feedback[0].Verdict != "dismissed" || got.Feedback[0].Text != "not reachable" {
		t.Errorf("feedback after a restart = %+v, want the dismissal of finding 0", got.Feedback)
	}
	if code, body, _ := s.do("POST", "/api/v1/reviews/"+res.ReviewID+"/feedback", adminToken, fb); code != http.StatusConflict {
		t.Errorf("a second verdict on finding 0 after a restart: %d %s, want 409", code, body)
	}
	// Retention: a review is kept for its period, then deleted.
	c := s.app.Coordinator()
	if n, err := s.plane.ExpireReviews(context.Background(), c); err != nil || n != 0 {
		t.Fatalf("expire within the retention: %d, %v", n, err)
	}
	if _, err := c.Store().ReviewGet(context.Background(), res.ReviewID); err != nil {
		t.Fatalf("review gone within its retention: %v", err)
	}
}

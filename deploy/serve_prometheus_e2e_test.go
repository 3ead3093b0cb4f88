package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/decision"
	"github.com/tricyclehq/tricycle/deploy/deploytest"
	"github.com/tricyclehq/tricycle/internal/app"
	"github.com/tricyclehq/tricycle/internal/config"
	"github.com/tricyclehq/tricycle/internal/dataplane"
	"github.com/tricyclehq/tricycle/internal/promsource"
)

const e2eAdminToken = "tc_deploy_e2e_admin_token_0123456789abcdef"

// e2eDiff plants one finding, so that users have something to judge.
const e2eDiff = "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1,1 +1,2 @@\n import os\n+os.system(\"rm -rf \" + user_input)\n"

// latencyBounds are the finite bounds of tricycle_review_latency_seconds.
var latencyBounds = []float64{0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60}

// tricycleServer is `tricycle serve` running in-process.
type tricycleServer struct {
	t     *testing.T
	app   *app.App
	plane *dataplane.Plane
	base  string
}

// serveTricycle runs `tricycle serve` as the CLI wires it, on SQLite in a
// temp dir, with a simulated production variant (3% errors, p95 4 s, priced)
// and a 50% → 100% canary plan. Alerts never fire within the test (for: 1h),
// so nothing is remediated under it.
func serveTricycle(t *testing.T) *tricycleServer {
	t.Helper()
	cfg := config.Default()
	dir := t.TempDir()
	cfg.Storage.DSN = "sqlite:" + filepath.Join(dir, "t.db")
	cfg.DataDir, cfg.Server.Addr, cfg.AdminToken = dir, "127.0.0.1:0", e2eAdminToken
	cfg.Variants = []coordination.Variant{{Name: "prod-sim", Provider: coordination.ProviderSimulated,
		Simulated: &coordination.Simulated{LatencyP50: coordination.Duration(400 * time.Millisecond),
			LatencyP95: coordination.Duration(4 * time.Second), ErrorRate: 0.03, Accuracy: 0.9, Seed: 11},
		Prices: coordination.Prices{InputPerMTok: 0.15, OutputPerMTok: 0.60}}}
	cfg.Production.Variant = "prod-sim"
	cfg.Cycle.Phases = []coordination.Phase{{Percent: 50, Duration: coordination.Duration(time.Hour)},
		{Percent: 100, Duration: coordination.Duration(time.Hour)}}
	cfg.Health.For = config.Duration(time.Hour)
	s := &tricycleServer{t: t}
	opts := dataplane.Wire(app.Options{Stdout: io.Discard, Logger: slog.New(slog.DiscardHandler)},
		dataplane.Options{ProbesDir: "../testdata/golden", ProbeInterval: time.Hour, ProbeCases: 5,
			CycleMetricsInterval: 200 * time.Millisecond})
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
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case <-a.Ready():
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	}
	s.app, s.base = a, "http://"+a.Addr()
	return s
}

// do sends a JSON request as the admin and returns the status and body.
func (s *tricycleServer) do(method, path string, body any) (int, []byte) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.base+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// reviews sends n reviews of distinct repositories; it gives a verdict on
// the first finding of the first len(verdicts) reviews that have one.
func (s *tricycleServer) reviews(prefix string, n int, verdicts []string) {
	s.t.Helper()
	for i := range n {
		code, body := s.do("POST", "/api/v1/reviews", map[string]any{"repository": fmt.Sprintf("org/%s-%d", prefix, i), "diff": e2eDiff})
		if code != http.StatusOK {
			continue // a simulated provider error: recorded, answered 5xx
		}
		var res struct {
			ReviewID string            `json:"review_id"`
			Findings []json.RawMessage `json:"findings"`
		}
		if err := json.Unmarshal(body, &res); err != nil {
			s.t.Fatalf("review answer %s: %v", body, err)
		}
		if len(verdicts) == 0 || len(res.Findings) == 0 {
			continue
		}
		fb := map[string]any{"items": []map[string]any{{"finding": 0, "verdict": verdicts[0]}}}
		if code, body := s.do("POST", "/api/v1/reviews/"+res.ReviewID+"/feedback", fb); code != http.StatusOK {
			s.t.Fatalf("feedback: %d %s", code, body)
		}
		verdicts = verdicts[1:]
	}
	if len(verdicts) > 0 {
		s.t.Fatalf("%d verdicts left: too few reviews had findings", len(verdicts))
	}
}

// TestServeExportsToPrometheusAndPromsourceAgrees runs `tricycle serve`
// in-process under a real Prometheus that scrapes it every second with
// rules.yml loaded: production traffic, then a canary at 50%. It checks
// that the series the rules, the dashboard and promsource read are there,
// that every rule evaluates without error, and that promsource's figures
// from Prometheus agree with the in-process recorder's.
func TestServeExportsToPrometheusAndPromsourceAgrees(t *testing.T) {
	t.Parallel()
	deploytest.LookTool(t, "prometheus")
	s := serveTricycle(t)
	prom := deploytest.StartPrometheus(t, deploytest.PrometheusOptions{Targets: []string{s.app.Addr()},
		RuleFiles: []string{rulesFile}, Interval: time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	src, err := promsource.New(promsource.Options{URL: prom.URL, Timeout: 5 * time.Second, Window: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rec := s.plane.Recorder()

	// Production only: 120 reviews, six verdicts.
	s.reviews("a", 120, []string{"accepted", "accepted", "dismissed", "accepted", "accepted", "dismissed"})
	waitValue(ctx, t, prom, `sum(tricycle_reviews_total{series_kind="production"})`, 120)
	waitValue(ctx, t, prom, `sum(tricycle_gateway_probes_total)`, 5)
	waitValue(ctx, t, prom, `sum(tricycle_feedback_total)`, 6)
	// A CPU rate needs two scrapes of the process collector.
	if _, err := prom.WaitFor(ctx, `count_over_time(process_cpu_seconds_total[5m])`, func(s []deploytest.Sample) bool {
		return len(s) == 1 && s[0].Value >= 2
	}); err != nil {
		t.Fatal(err)
	}

	in, err := rec.HealthMetrics(ctx, coordination.TargetProduction, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	out, err := src.HealthMetrics(ctx, coordination.TargetProduction, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("production, in-process: %d requests, %d errors, %d slow, values %v", in.Requests, in.Errors, in.SlowRequests, in.Values)
	t.Logf("production, Prometheus: %d requests, %d errors, %d slow, values %v", out.Requests, out.Errors, out.SlowRequests, out.Values)
	if in.Requests != 120 || out.Requests != in.Requests || out.Errors != in.Errors {
		t.Errorf("requests/errors: Prometheus %d/%d, in-process %d/%d; want 120 and equal", out.Requests, out.Errors, in.Requests, in.Errors)
	}
	for _, k := range []string{"error_rate", "accuracy_rate"} {
		if iv, ok := in.Values[k]; !ok || math.Abs(out.Values[k]-iv) > 1e-9 {
			t.Errorf("%s: Prometheus %v, in-process %v (present %v); want equal", k, out.Values[k], iv, ok)
		}
	}
	if d := out.SlowRequests - in.SlowRequests; d < -2 || d > 2 {
		t.Errorf("slow requests: Prometheus %d, in-process %d; want within 2 (the sketch's 1%% near 3 s)", out.SlowRequests, in.SlowRequests)
	}
	checkSameBucket(t, "production p95", out.Values["latency_p95"], rec.Stats("production", 5*time.Minute).Aggregate)
	hq, err := prom.Query(ctx, `histogram_quantile(0.95, sum by (le) (tricycle_review_latency_seconds_bucket{series_kind="production"}))`)
	if err != nil || len(hq) != 1 || math.Abs(hq[0].Value-out.LatencyP95) > 1e-9 {
		t.Errorf("PromQL histogram_quantile = %v (%v), promsource p95 %v; want the same", hq, err, out.LatencyP95)
	}
	checkCPU(ctx, t, prom, out.Values)

	// A canary at 50%: created with a simulated variant, evaluated with
	// point metrics, approved.
	exp := map[string]any{"title": "faster simulated reviewer", "hypothesis": "same findings, lower latency",
		"success_criteria": map[string]string{"accuracy": "> 80%"},
		"variant": map[string]any{"name": "cand-sim", "provider": "simulated",
			"simulated": map[string]any{"latency_p50": "150ms", "latency_p95": "800ms", "accuracy": 0.95, "seed": 7}}}
	code, body := s.do("POST", "/api/v1/experiments", exp)
	if code != http.StatusCreated {
		t.Fatalf("create experiment: %d %s", code, body)
	}
	var e struct {
		ID string `json:"experiment_id"`
	}
	_ = json.Unmarshal(body, &e)
	code, body = s.do("POST", "/api/v1/experiments/"+e.ID+"/evaluate", map[string]any{"metrics": map[string]float64{"accuracy": 0.95}})
	var ev struct {
		Decision    coordination.Decision `json:"decision"`
		PromotionID string                `json:"promotion_id"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || code != http.StatusOK || ev.Decision != coordination.Promote {
		t.Fatalf("evaluate: %d %s", code, body)
	}
	code, body = s.do("POST", "/api/v1/promotions/"+ev.PromotionID+"/approve", map[string]any{"approver": "ops@example.com"})
	var promo coordination.PromotionRequest
	if err := json.Unmarshal(body, &promo); err != nil || code != http.StatusOK || promo.State != coordination.PromotionPhase1 {
		t.Fatalf("approve: %d %s", code, body)
	}
	if err := s.plane.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	s.reviews("b", 100, nil)

	canaryIn, stableIn, err := rec.CanaryMetrics(ctx, &promo, promo.PhaseStartedAt)
	if err != nil {
		t.Fatal(err)
	}
	prodIn, err := rec.HealthMetrics(ctx, coordination.TargetProduction, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	stableB := prodIn.Requests - 120
	if canaryIn.Requests < 20 || stableB < 20 || canaryIn.Requests+stableB != 100 {
		t.Fatalf("the 50%% canary took %d of 100 reviews, production %d", canaryIn.Requests, stableB)
	}
	waitValue(ctx, t, prom, `sum(tricycle_reviews_total{series_kind="canary"})`, float64(canaryIn.Requests))
	waitValue(ctx, t, prom, `sum(tricycle_reviews_total{series_kind="production"})`, float64(prodIn.Requests))
	waitValue(ctx, t, prom, `tricycle_canary_weight_percent`, 50)
	waitValue(ctx, t, prom, `tricycle_promotion_phase`, 1)

	canaryOut, stableOut, err := src.CanaryMetrics(ctx, &promo, promo.PhaseStartedAt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("canary, in-process: %d requests, %d errors, %d timed; stable %d requests (%d since the phase began)",
		canaryIn.Requests, canaryIn.Errors, canaryIn.Latency.Count(), stableIn.Requests, stableB)
	t.Logf("canary, Prometheus: %d requests, %d errors, %d timed; stable %d requests",
		canaryOut.Requests, canaryOut.Errors, latencyCount(canaryOut), stableOut.Requests)
	if canaryOut.Requests != canaryIn.Requests || canaryOut.Errors != canaryIn.Errors {
		t.Errorf("canary: Prometheus %d/%d, in-process %d/%d", canaryOut.Errors, canaryOut.Requests, canaryIn.Errors, canaryIn.Requests)
	}
	if stableOut.Requests != stableB {
		t.Errorf("stable since the phase began: Prometheus %d, want the %d production reviews sent since", stableOut.Requests, stableB)
	}
	if canaryOut.Latency == nil || canaryOut.Latency.Count() != canaryIn.Latency.Count() {
		t.Fatalf("canary latency: Prometheus %d observations, in-process %d", latencyCount(canaryOut), canaryIn.Latency.Count())
	}
	checkSameBucket(t, "canary p95", canaryOut.Latency.Quantile(0.95), canaryIn.Latency)
	hc, err := src.HealthMetrics(ctx, coordination.TargetCanary, 5*time.Minute)
	if err != nil || hc.Requests != canaryIn.Requests {
		t.Errorf("canary health from Prometheus: %+v, %v; want %d requests", hc, err, canaryIn.Requests)
	}

	checkSeriesExported(ctx, t, prom)
	checkRulesEvaluate(ctx, t, prom)
}

func latencyCount(m decision.Measured) int64 {
	if m.Latency == nil {
		return 0
	}
	return m.Latency.Count()
}

// checkCPU compares cpu_utilization from Prometheus with this process's
// own CPU time (the server runs in the test binary, younger than the window)
// over its age, per GOMAXPROCS core. The in-process recorder samples CPU
// every 10 s, too rarely for a test this short.
func checkCPU(ctx context.Context, t *testing.T, p *deploytest.Prometheus, values map[string]float64) {
	t.Helper()
	got, ok := values["cpu_utilization"]
	start, err := p.Query(ctx, "process_start_time_seconds")
	if err != nil || len(start) != 1 {
		t.Fatalf("process_start_time_seconds: %v, %v", start, err)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	age := time.Since(time.Unix(0, int64(start[0].Value*1e9)))
	want := used.Seconds() / age.Seconds() / float64(runtime.GOMAXPROCS(0))
	t.Logf("cpu_utilization: Prometheus %.4f, this process %.4f (%s of CPU in %s on %d cores)", got, want,
		used.Round(time.Millisecond), age.Round(time.Millisecond), runtime.GOMAXPROCS(0))
	if !ok || got < want/2 || got > want*2 {
		t.Errorf("cpu_utilization from Prometheus = %v (present %v), want within a factor 2 of %v", got, ok, want)
	}
}

// waitValue waits until expr yields one sample equal to want.
func waitValue(ctx context.Context, t *testing.T, p *deploytest.Prometheus, expr string, want float64) {
	t.Helper()
	if _, err := p.WaitFor(ctx, expr, func(s []deploytest.Sample) bool { return len(s) == 1 && s[0].Value == want }); err != nil {
		t.Fatalf("want %v: %v", want, err)
	}
}

// checkSameBucket checks that a p95 from the histogram (got) lies in the
// latency buckets of the in-process sketch's p95, give or take one rank (the
// two place the rank q·n differently) and the sketch's 1% relative error.
func checkSameBucket(t *testing.T, what string, got float64, in decision.Quantiler) {
	t.Helper()
	step := 1 / float64(max(in.Count(), 1))
	want := in.Quantile(0.95)
	lo, hi := bucketOf(in.Quantile(0.95-step)*0.99), bucketOf(in.Quantile(min(0.95+step, 1))*1.01)
	lower, upper := 0.0, math.Inf(1)
	if lo > 0 {
		lower = latencyBounds[lo-1]
	}
	if hi < len(latencyBounds) {
		upper = latencyBounds[hi]
	}
	t.Logf("%s: Prometheus %.4fs, in-process %.4fs, buckets (%v, %v]", what, got, want, lower, upper)
	if got < lower || got > upper {
		t.Errorf("%s: Prometheus %v outside (%v, %v], the buckets of the in-process %v", what, got, lower, upper, want)
	}
}

// bucketOf returns the index of the bucket holding x (len for +Inf).
func bucketOf(x float64) int {
	for i, b := range latencyBounds {
		if x <= b {
			return i
		}
	}
	return len(latencyBounds)
}

// checkSeriesExported checks that the series promsource, the rules and the
// dashboard read are in Prometheus, and logs what the rules read that a
// tricycle server does not export (Kubernetes' metrics).
func checkSeriesExported(ctx context.Context, t *testing.T, p *deploytest.Prometheus) {
	t.Helper()
	present := func(name string) bool {
		got, err := p.Query(ctx, fmt.Sprintf("count(%s)", name))
		if err != nil {
			t.Fatal(err)
		}
		return len(got) == 1 && got[0].Value > 0
	}
	for _, name := range []string{"tricycle_reviews_total", "tricycle_review_latency_seconds_bucket", "tricycle_review_latency_seconds_count",
		"tricycle_cost_usd_total", "tricycle_tokens_total", "tricycle_canary_weight_percent", "tricycle_promotion_phase",
		"tricycle_error_budget_remaining", "tricycle_active_alerts", "tricycle_experiments", "tricycle_gateway_probes_total",
		"tricycle_feedback_total", "process_cpu_seconds_total", "go_sched_gomaxprocs_threads"} {
		if !present(name) {
			t.Errorf("%s is not exported", name)
		}
	}
	var missing []string
	for _, r := range loadRules(t) {
		refs, err := parsePromQL(r.Expr)
		if err != nil {
			t.Fatal(err)
		}
		for _, sel := range refs.selectors {
			if strings.Contains(sel.name, ":") || sel.name == "ALERTS" || slices.Contains(missing, sel.name) || present(sel.name) {
				continue
			}
			if _, ours := tricycleMetrics[sel.name]; ours {
				t.Errorf("rule %s%s reads %s, which the server does not export", r.Alert, r.Record, sel.name)
			}
			missing = append(missing, sel.name)
		}
	}
	slices.Sort(missing)
	t.Logf("series the rules read that a tricycle server does not export: %v", missing)
}

// checkRulesEvaluate waits until every rule of rules.yml has been evaluated
// and checks that none failed.
func checkRulesEvaluate(ctx context.Context, t *testing.T, p *deploytest.Prometheus) {
	t.Helper()
	type ruleState struct {
		Name      string `json:"name"`
		Health    string `json:"health"`
		LastError string `json:"lastError"`
	}
	var rules []ruleState
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/api/v1/rules", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("rules API: %v", err)
		}
		var body struct {
			Data struct {
				Groups []struct {
					Rules []ruleState `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("rules API: %v", err)
		}
		rules = rules[:0]
		evaluated := true
		for _, g := range body.Data.Groups {
			for _, r := range g.Rules {
				rules = append(rules, r)
				evaluated = evaluated && r.Health != "unknown"
			}
		}
		if evaluated && len(rules) == len(loadRules(t)) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("rules not all evaluated: %+v", rules)
		case <-tick.C:
		}
	}
	for _, r := range rules {
		if r.Health != "ok" {
			t.Errorf("rule %s: health %s: %s", r.Name, r.Health, r.LastError)
		}
	}
	alerts, err := p.Query(ctx, "ALERTS")
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(alerts))
	for _, a := range alerts {
		names = append(names, a.Metric["alertname"]+"/"+a.Metric["severity"]+"/"+a.Metric["alertstate"])
	}
	t.Logf("%d rules evaluate without error; alerts: %v", len(rules), names)
}

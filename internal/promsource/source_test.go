package promsource

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

var latencyBounds = []string{"0.1", "0.25", "0.5", "1", "2", "3", "5", "10", "20", "30", "60", "+Inf"}

// productionData is a production window: 100 reviews, 5 failed, 10 slower
// than 3 s; 5 probes with a verdict (4 correct) and 5 verdicts of users (3
// accepted); a third of the cores busy.
func productionData() map[string][]sample {
	return map[string][]sample{
		"sum by (series_kind, outcome)": {
			{labels("series_kind", "production", "outcome", "ok"), 95},
			{labels("series_kind", "production", "outcome", "error"), 5},
		},
		metricLatency: buckets("production", latencyBounds, []float64{10, 30, 50, 70, 85, 90, 97, 100, 100, 100, 100, 100}),
		metricProbes: {
			{labels("result", "correct"), 4}, {labels("result", "incorrect"), 1}, {labels("result", "error"), 2},
		},
		metricFeedback: {{labels("verdict", "accepted"), 3}, {labels("verdict", "dismissed"), 2}},
		metricCPU:      {{nil, 0.35}},
	}
}

func TestHealthMetricsProduction(t *testing.T) {
	t.Parallel()
	f := newFakeProm(t, productionData())
	s := newSource(t, f, Options{})
	got, err := s.HealthMetrics(t.Context(), coordination.TargetProduction, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got.Requests != 100 || got.Errors != 5 || got.SlowRequests != 10 {
		t.Errorf("requests %d, errors %d, slow %d; want 100, 5, 10", got.Requests, got.Errors, got.SlowRequests)
	}
	// Rank 95 of 100 lies in (3, 5], which holds 7 observations after 90.
	wantP95 := 3 + 2*5.0/7
	want := map[string]float64{"error_rate": 0.05, "latency_p95": wantP95, "accuracy_rate": 0.7, "cpu_utilization": 0.35}
	if len(got.Values) != len(want) {
		t.Errorf("values %v, want %v", got.Values, want)
	}
	for k, v := range want {
		if math.Abs(got.Values[k]-v) > 1e-9 {
			t.Errorf("%s = %v, want %v", k, got.Values[k], v)
		}
	}
	if math.Abs(got.LatencyP95-wantP95) > 1e-9 {
		t.Errorf("LatencyP95 = %v, want %v", got.LatencyP95, wantP95)
	}
	reqs := f.seen()
	if len(reqs) != 5 {
		t.Fatalf("%d queries, want 5 (reviews, latency, probes, feedback, cpu)", len(reqs))
	}
	for _, r := range reqs {
		if !r.at.Equal(testNow) || r.timeout != "5s" {
			t.Errorf("query %q evaluated at %s with timeout %q; want the clock's %s and 5s", r.expr, r.at, r.timeout, testNow)
		}
		if strings.Contains(r.expr, metricCPU) {
			if !strings.Contains(r.expr, "offset 300000ms) / 300 >= 0") || !strings.Contains(r.expr, "time() - process_start_time_seconds") {
				t.Errorf("cpu query %q does not rate over the window", r.expr)
			}
		} else if !strings.Contains(r.expr, "offset 300000ms") {
			t.Errorf("query %q does not count over the window", r.expr)
		}
	}
	const wantReviews = `sum by (series_kind, outcome) (((tricycle_reviews_total{series_kind="production"} - tricycle_reviews_total{series_kind="production"} offset 300000ms) >= 0 or tricycle_reviews_total{series_kind="production"}))`
	if !hasQuery(reqs, wantReviews) {
		t.Errorf("no query %s among %v", wantReviews, reqs)
	}
}

func hasQuery(reqs []request, expr string) bool {
	for _, r := range reqs {
		if r.expr == expr {
			return true
		}
	}
	return false
}

func TestHealthMetricsCanaryReadsOnlyTheCanary(t *testing.T) {
	t.Parallel()
	data := productionData()
	data["sum by (series_kind, outcome)"] = []sample{{labels("series_kind", "canary", "outcome", "ok"), 40}}
	data[metricLatency] = buckets("canary", latencyBounds, []float64{40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40})
	f := newFakeProm(t, data)
	s := newSource(t, f, Options{})
	got, err := s.HealthMetrics(t.Context(), coordination.TargetCanary, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got.Requests != 40 || got.Errors != 0 || got.Values["error_rate"] != 0 {
		t.Errorf("canary sample %+v, want 40 requests without errors", got)
	}
	if _, ok := got.Values["accuracy_rate"]; ok {
		t.Errorf("canary has accuracy_rate %v; feedback carries no series kind", got.Values["accuracy_rate"])
	}
	if _, ok := got.Values["cpu_utilization"]; ok {
		t.Error("canary has cpu_utilization; the monitor reads CPU for production only")
	}
	if p95 := got.Values["latency_p95"]; p95 <= 0 || p95 > 0.1 {
		t.Errorf("latency_p95 = %v, want within the first bucket (0, 0.1]", p95)
	}
	reqs := f.seen()
	if len(reqs) != 2 {
		t.Fatalf("%d queries, want reviews and latency only", len(reqs))
	}
	for _, r := range reqs {
		if !strings.Contains(r.expr, `series_kind="canary"`) || strings.Contains(r.expr, `"production"`) {
			t.Errorf("canary query %q", r.expr)
		}
	}
}

func TestHealthMetricsWithoutDataIsEmpty(t *testing.T) {
	t.Parallel()
	f := newFakeProm(t, nil)
	s := newSource(t, f, Options{})
	got, err := s.HealthMetrics(t.Context(), coordination.TargetProduction, time.Minute)
	if err != nil {
		t.Fatalf("no data answered %v, want zero values", err)
	}
	if got.Requests != 0 || got.Errors != 0 || got.SlowRequests != 0 || got.LatencyP95 != 0 || len(got.Values) != 0 {
		t.Errorf("sample %+v, want zero values and no metric", got)
	}
	c, st, err := s.CanaryMetrics(t.Context(), &coordination.PromotionRequest{RequestID: "prm-1"}, testNow.Add(-time.Hour))
	if err != nil || c.Requests != 0 || st.Requests != 0 || c.Latency != nil || st.Latency != nil {
		t.Errorf("canary metrics without data: %+v, %+v, %v", c, st, err)
	}
}

func TestShortWindowsAreWidened(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   Options
		window time.Duration
		want   string
	}{
		{"default minimum", Options{}, time.Second, "offset 30000ms"},
		{"configured minimum", Options{Window: 2 * time.Second}, 500 * time.Millisecond, "offset 2000ms"},
		{"longer window kept", Options{Window: 2 * time.Second}, 720 * time.Hour, "offset 2592000000ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeProm(t, nil)
			s := newSource(t, f, tt.opts)
			if _, err := s.HealthMetrics(t.Context(), coordination.TargetCanary, tt.window); err != nil {
				t.Fatal(err)
			}
			for _, r := range f.seen() {
				if !strings.Contains(r.expr, tt.want) {
					t.Errorf("query %q lacks %q", r.expr, tt.want)
				}
			}
		})
	}
}

func TestCPUWindowIsCapped(t *testing.T) {
	t.Parallel()
	f := newFakeProm(t, nil)
	s := newSource(t, f, Options{})
	if _, err := s.HealthMetrics(t.Context(), coordination.TargetProduction, 720*time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.seen() {
		if strings.Contains(r.expr, metricCPU) && !strings.Contains(r.expr, "offset 3600000ms) / 3600 >= 0") {
			t.Errorf("cpu over a 30-day window: %q, want a one-hour rate", r.expr)
		}
	}
}

func TestCanaryMetrics(t *testing.T) {
	t.Parallel()
	f := newFakeProm(t, map[string][]sample{
		"sum by (series_kind, outcome)": {
			{labels("series_kind", "canary", "outcome", "ok"), 45},
			{labels("series_kind", "canary", "outcome", "error"), 5},
			{labels("series_kind", "production", "outcome", "ok"), 198},
			{labels("series_kind", "production", "outcome", "error"), 2},
		},
		metricLatency: append(
			buckets("canary", latencyBounds, []float64{0, 0, 0, 10, 20, 30, 40, 50, 50, 50, 50, 50}),
			buckets("production", latencyBounds, []float64{100, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200})...),
	})
	s := newSource(t, f, Options{})
	since := testNow.Add(-10 * time.Minute)
	canary, stable, err := s.CanaryMetrics(t.Context(), &coordination.PromotionRequest{RequestID: "prm-1"}, since)
	if err != nil {
		t.Fatal(err)
	}
	if canary.Requests != 50 || canary.Errors != 5 || stable.Requests != 200 || stable.Errors != 2 {
		t.Errorf("canary %d/%d, stable %d/%d; want 50/5 and 200/2", canary.Errors, canary.Requests, stable.Errors, stable.Requests)
	}
	if canary.Latency == nil || canary.Latency.Count() != 50 || stable.Latency == nil || stable.Latency.Count() != 200 {
		t.Fatalf("latency sources %v, %v; want 50 and 200 observations", canary.Latency, stable.Latency)
	}
	// Canary rank 47.5 lies in (5, 10], 10 observations after 40.
	if got, want := canary.Latency.Quantile(0.95), 5+5*7.5/10; math.Abs(got-want) > 1e-9 {
		t.Errorf("canary p95 = %v, want %v", got, want)
	}
	if got := stable.Latency.Quantile(0.95); got <= 0.1 || got > 0.25 {
		t.Errorf("stable p95 = %v, want within (0.1, 0.25]", got)
	}
	reqs := f.seen()
	if len(reqs) != 2 {
		t.Fatalf("%d queries, want reviews and latency of both arms at once", len(reqs))
	}
	for _, r := range reqs {
		if !strings.Contains(r.expr, "offset 600000ms") || !strings.Contains(r.expr, `series_kind=~"production|canary"`) {
			t.Errorf("query %q does not cover both arms since the phase began", r.expr)
		}
	}

	// A zero since reads all the counters hold.
	f2 := newFakeProm(t, nil)
	if _, _, err := newSource(t, f2, Options{}).CanaryMetrics(t.Context(), &coordination.PromotionRequest{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range f2.seen() {
		if strings.Contains(r.expr, "offset") {
			t.Errorf("zero since: query %q has an offset", r.expr)
		}
	}
}

func TestBadCallsAreRefused(t *testing.T) {
	t.Parallel()
	s := newSource(t, newFakeProm(t, nil), Options{})
	if _, err := s.HealthMetrics(t.Context(), "staging", time.Minute); !errors.Is(err, coordination.ErrInvalidInput) || !strings.Contains(err.Error(), "staging") {
		t.Errorf("unknown target: %v", err)
	}
	if _, _, err := s.CanaryMetrics(t.Context(), nil, testNow); !errors.Is(err, coordination.ErrInvalidInput) {
		t.Errorf("nil promotion: %v", err)
	}
}

func TestQueryErrorsNameTheQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"bad data", http.StatusBadRequest, errorJSON("bad_data", "parse error at char 3"), "bad_data"},
		{"server error", http.StatusServiceUnavailable, "overloaded", "503"},
		{"scalar result", http.StatusOK, `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"1"]}}`, "want a vector"},
		{"garbage", http.StatusOK, `{"status":`, "query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeProm(t, nil)
			f.answer = func(string) (int, string) { return tt.status, tt.body }
			s := newSource(t, f, Options{})
			_, err := s.HealthMetrics(t.Context(), coordination.TargetCanary, time.Minute)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range []string{tt.want, metricReviews, f.srv.URL, "health metrics of canary"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestQueriesTimeOut(t *testing.T) {
	t.Parallel()
	f := newFakeProm(t, nil)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the server closes (cleanups run last first)
	f.answer = func(string) (int, string) {
		<-release
		return http.StatusOK, vectorJSON(nil)
	}
	s := newSource(t, f, Options{Timeout: 50 * time.Millisecond})
	start := time.Now()
	_, _, err := s.CanaryMetrics(t.Context(), &coordination.PromotionRequest{RequestID: "prm-9"}, testNow.Add(-time.Hour))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hanging server: %v, want a deadline error", err)
	}
	if !strings.Contains(err.Error(), metricLatency) || !strings.Contains(err.Error(), "prm-9") {
		t.Errorf("error %q names neither the query nor the promotion", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s with a 50ms timeout", d)
	}
	for _, r := range f.seen() {
		if r.timeout != "50ms" {
			t.Errorf("query sent with timeout %q, want Prometheus to stop at 50ms too", r.timeout)
		}
	}
}

func TestNewChecksOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no url", Options{}, "url: must not be empty"},
		{"wrong scheme", Options{URL: "ftp://prom:9090"}, `scheme "ftp"`},
		{"no host", Options{URL: "http://"}, "names no host"},
		{"relative", Options{URL: "prometheus:9090"}, "scheme"},
		{"negative timeout", Options{URL: "http://p:9090", Timeout: -time.Second}, "timeout"},
		{"negative window", Options{URL: "http://p:9090", Window: -time.Second}, "window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.opts)
			if !errors.Is(err, coordination.ErrInvalidInput) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%+v) = %v, want ErrInvalidInput mentioning %q", tt.opts, err, tt.want)
			}
		})
	}
	if _, err := New(Options{URL: "https://prometheus.monitoring.svc:9090/"}); err != nil {
		t.Errorf("a valid URL: %v", err)
	}
}

func TestErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	f := newFakeProm(t, nil)
	f.answer = func(string) (int, string) { return http.StatusBadRequest, errorJSON("bad_data", "nope") }
	s, err := New(Options{URL: strings.Replace(f.srv.URL, "http://", "http://reader:hunter2@", 1)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.HealthMetrics(t.Context(), coordination.TargetCanary, time.Minute)
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "reader:xxxxx@") {
		t.Errorf("error %v, want the server named with its password redacted", err)
	}
}

func BenchmarkHealthMetrics(b *testing.B) {
	f := newFakeProm(b, productionData())
	s := newSource(b, f, Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.HealthMetrics(ctx, coordination.TargetProduction, 5*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

package deploy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tricyclehq/tricycle/deploy/deploytest"
)

// metricsServer serves reg at /metrics on loopback, calling beforeScrape
// (when set) on each scrape, and returns its host:port.
func metricsServer(t *testing.T, reg *prometheus.Registry, beforeScrape func()) string {
	t.Helper()
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		if beforeScrape != nil {
			beforeScrape()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestPrometheusHarnessScrapesACounter proves the harness: a real
// Prometheus scrapes an in-test /metrics endpoint and answers queries.
func TestPrometheusHarnessScrapesACounter(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "tricycle_harness_probe_total", Help: "A counter for the harness test."})
	reg.MustRegister(c)
	c.Add(42)
	target := metricsServer(t, reg, nil)

	p := deploytest.StartPrometheus(t, deploytest.PrometheusOptions{Targets: []string{target}})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	got, err := p.WaitFor(ctx, "tricycle_harness_probe_total", func(s []deploytest.Sample) bool { return len(s) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Value != 42 || got[0].Metric["job"] != "tricycle" || got[0].Metric["instance"] != target {
		t.Errorf("scraped %v, want 42 from job tricycle, instance %s", got[0], target)
	}
	up, err := p.Query(ctx, `up{job="tricycle"}`)
	if err != nil || len(up) != 1 || up[0].Value != 1 {
		t.Errorf("up = %v, %v; want one target up", up, err)
	}
	if _, err := p.Query(ctx, "sum(("); err == nil || !strings.Contains(err.Error(), "bad_data") {
		t.Errorf("a malformed query answered %v, want Prometheus's bad_data error", err)
	}
}

// TestAlertRulesFireInPrometheus loads rules.yml into a real Prometheus
// scraping series shaped like tricycle's, and waits for the canary's error
// rate alerts to go pending: the rules, the recording rules they read and
// the metric names work together outside promtool.
func TestAlertRulesFireInPrometheus(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	reviews := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tricycle_reviews_total", Help: "Reviews by series kind, variant and outcome.",
	}, []string{"series_kind", "variant", "outcome"})
	reg.MustRegister(reviews)
	// Every scrape sees 100 more canary reviews, 10 of them failed (9%):
	// above both the 2% warning and the 5% critical level.
	target := metricsServer(t, reg, func() {
		reviews.WithLabelValues("canary", "gpt", "ok").Add(90)
		reviews.WithLabelValues("canary", "gpt", "error").Add(10)
		reviews.WithLabelValues("production", "baseline", "ok").Add(100)
	})

	p := deploytest.StartPrometheus(t, deploytest.PrometheusOptions{Targets: []string{target}, RuleFiles: []string{rulesFile}})
	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second)
	defer cancel()
	got, err := p.WaitFor(ctx, `ALERTS{alertname="TricycleErrorRateHigh"}`, func(s []deploytest.Sample) bool { return len(s) >= 2 })
	if err != nil {
		t.Fatal(err)
	}
	severities := map[string]bool{}
	for _, s := range got {
		if s.Metric["series_kind"] != "canary" || s.Metric["variant"] != "gpt" || s.Metric["alertstate"] != "pending" {
			t.Errorf("alert %v, want a pending alert on the canary variant gpt", s.Metric)
		}
		severities[s.Metric["severity"]] = true
	}
	if !severities["warning"] || !severities["critical"] {
		t.Errorf("severities %v, want warning and critical", severities)
	}
}

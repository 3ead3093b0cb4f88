package dataplane_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/app"
	"github.com/tricyclehq/tricycle/internal/config"
	"github.com/tricyclehq/tricycle/internal/dataplane"
	"github.com/tricyclehq/tricycle/internal/scale"
)

// fakePrometheus answers every instant query with production reviews: ok
// of them fine and failed failing; it records the queries.
type fakePrometheus struct {
	srv *httptest.Server

	mu      sync.Mutex // guards queries
	queries []string
}

func newFakePrometheus(t *testing.T, ok, failed int) *fakePrometheus {
	t.Helper()
	f := &fakePrometheus{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		q := r.Form.Get("query")
		f.mu.Lock()
		f.queries = append(f.queries, q)
		f.mu.Unlock()
		result := []any{}
		if strings.HasPrefix(q, "sum by (series_kind, outcome)") {
			result = []any{
				map[string]any{"metric": map[string]string{"series_kind": "production", "outcome": "ok"}, "value": []any{1, itoa(ok)}},
				map[string]any{"metric": map[string]string{"series_kind": "production", "outcome": "error"}, "value": []any{1, itoa(failed)}},
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": result}})
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func itoa(n int) string {
	raw, _ := json.Marshal(n)
	return string(raw)
}

func (f *fakePrometheus) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queries)
}

// build builds a data plane on cfg without serving it.
func build(t *testing.T, cfg config.Config, opts dataplane.Options) (*dataplane.Plane, error) {
	t.Helper()
	return dataplane.Build(t.Context(), app.Deps{Config: cfg, Store: coordination.NewMemoryStore(),
		Logger: slog.New(slog.DiscardHandler)}, opts)
}

func TestMetricsSourceChoosesTheHealthHooks(t *testing.T) {
	t.Parallel()
	prom := newFakePrometheus(t, 97, 3)
	cfg := config.Default()
	p, err := build(t, cfg, dataplane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Hooks().HealthMetrics(t.Context(), coordination.TargetProduction, time.Minute)
	if err != nil || s.Requests != 0 || prom.count() != 0 {
		t.Fatalf("inprocess: %+v, %v, %d queries to Prometheus", s, err, prom.count())
	}

	cfg.Health.MetricsSource = config.MetricsSourceConfig{Kind: config.MetricsSourcePrometheus, URL: prom.srv.URL, Timeout: config.Duration(time.Second)}
	p, err = build(t, cfg, dataplane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := p.Hooks()
	s, err = h.HealthMetrics(t.Context(), coordination.TargetProduction, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 100 || s.Errors != 3 || s.Values["error_rate"] != 0.03 {
		t.Errorf("prometheus: %+v, want Prometheus's 100 requests with 3 errors", s)
	}
	canary, stable, err := h.CanaryMetrics(t.Context(), &coordination.PromotionRequest{RequestID: "prm-1"}, time.Now().Add(-time.Minute))
	if err != nil || stable.Requests != 100 || canary.Requests != 0 {
		t.Errorf("canary metrics %+v, stable %+v, %v; want the stable release from Prometheus", canary, stable, err)
	}
	if h.Measurements == nil || h.CostPerReview == nil || h.Feedback == nil {
		t.Error("the evaluator's hooks must stay on the recorder")
	}
}

// scaleReactor answers the deployments/scale subresource with replicas.
func scaleReactor(replicas int32) k8stesting.ReactionFunc {
	return func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "scale" {
			return false, nil, nil
		}
		return true, &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "gateway", Namespace: "platform-v2-stable"},
			Spec: autoscalingv1.ScaleSpec{Replicas: replicas}}, nil
	}
}

func TestScalerFromConfig(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("s", config.MinScalerSecretBytes)
	webhook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !scale.Verify([]byte(secret), nil, r.Header.Get(scale.SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"replicas": 2}`)
	}))
	t.Cleanup(webhook.Close)
	kube := func() (scale.KubernetesClient, error) {
		cs := fake.NewClientset()
		cs.PrependReactor("get", "deployments", scaleReactor(3))
		return scale.KubernetesClient{Apps: cs.AppsV1(), Core: cs.CoreV1()}, nil
	}
	tests := []struct {
		name     string
		scaler   config.ScalerConfig
		env      map[string]string
		replicas int
	}{
		{"log", config.ScalerConfig{Kind: config.ScalerLog, Timeout: config.Duration(time.Second)}, nil, 1},
		{"kubernetes", config.ScalerConfig{Kind: config.ScalerKubernetes, Namespace: "platform-v2-stable", Deployment: "gateway",
			Timeout: config.Duration(time.Second)}, nil, 3},
		{"webhook", config.ScalerConfig{Kind: config.ScalerWebhook, URL: webhook.URL, SecretEnv: "SCALE_HMAC",
			Timeout: config.Duration(time.Second)}, map[string]string{"SCALE_HMAC": secret}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			cfg.Health.Scaler = tt.scaler
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			p, err := build(t, cfg, dataplane.Options{KubernetesClient: kube,
				LookupEnv: func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }})
			if err != nil {
				t.Fatal(err)
			}
			sc := p.Hooks().Scaler
			if sc == nil {
				t.Fatal("no scaler")
			}
			if n, err := sc.Replicas(t.Context()); err != nil || n != tt.replicas {
				t.Errorf("Replicas() = %d, %v; want %d from the %s scaler", n, err, tt.replicas, tt.name)
			}
		})
	}
}

func TestScalerRefusals(t *testing.T) {
	t.Parallel()
	const short = "a-webhook-secret-too-short"
	tests := []struct {
		name   string
		scaler config.ScalerConfig
		env    map[string]string
		want   []string
	}{
		{"webhook secret unset", config.ScalerConfig{Kind: config.ScalerWebhook, URL: "http://127.0.0.1:1/scale", SecretEnv: "SCALE_HMAC",
			Timeout: config.Duration(time.Second)}, nil, []string{"health.scaler.secret_env", "SCALE_HMAC is not set"}},
		{"webhook secret short", config.ScalerConfig{Kind: config.ScalerWebhook, URL: "http://127.0.0.1:1/scale", SecretEnv: "SCALE_HMAC",
			Timeout: config.Duration(time.Second)}, map[string]string{"SCALE_HMAC": short}, []string{"SCALE_HMAC", "fewer than 32 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			cfg.Health.Scaler = tt.scaler
			_, err := build(t, cfg, dataplane.Options{LookupEnv: func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }})
			if err == nil {
				t.Fatal("built")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), short) {
				t.Errorf("error %q quotes the secret", err)
			}
		})
	}
}

func TestKubernetesScalerOutsideACluster(t *testing.T) {
	t.Parallel()
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		t.Skip("running inside a Kubernetes pod")
	}
	cfg := config.Default()
	cfg.Health.Scaler = config.ScalerConfig{Kind: config.ScalerKubernetes, Namespace: "platform-v2-stable", Deployment: "gateway",
		Timeout: config.Duration(time.Second)}
	_, err := build(t, cfg, dataplane.Options{})
	if err == nil || !strings.Contains(err.Error(), "health.scaler") || !strings.Contains(err.Error(), "inside a Kubernetes pod") {
		t.Fatalf("kubernetes scaler outside a cluster: %v, want a clear error", err)
	}
}

// TestServeReadsHealthFromPrometheus serves with
// health.metrics_source.kind prometheus: the SLO report the API answers
// counts Prometheus's requests, not the (empty) in-process windows.
func TestServeReadsHealthFromPrometheus(t *testing.T) {
	t.Parallel()
	prom := newFakePrometheus(t, 990, 10)
	cfg := config.Default()
	dir := t.TempDir()
	cfg.Storage.DSN = "sqlite:" + filepath.Join(dir, "t.db")
	cfg.DataDir, cfg.Server.Addr, cfg.AdminToken = dir, "127.0.0.1:0", adminToken
	cfg.Health.MetricsSource = config.MetricsSourceConfig{Kind: config.MetricsSourcePrometheus, URL: prom.srv.URL, Timeout: config.Duration(2 * time.Second)}
	opts := dataplane.Wire(app.Options{Stdout: io.Discard, Logger: slog.New(slog.DiscardHandler)},
		dataplane.Options{ProbesDir: filepath.Join(dir, "no-probes")})
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
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case <-a.Ready():
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	}
	s := &server{t: t, app: a, base: "http://" + a.Addr()}
	code, body, _ := s.do("GET", "/api/v1/slo", adminToken, nil)
	if code != http.StatusOK {
		t.Fatalf("slo: %d %s", code, body)
	}
	var slo coordination.SLOCompliance
	if err := json.Unmarshal(body, &slo); err != nil {
		t.Fatal(err)
	}
	if slo.Requests != 1000 || slo.Details["error_rate"].Value != 0.01 {
		t.Errorf("SLO over %d requests, error rate %v; want Prometheus's 1000 and 1%%: %s", slo.Requests, slo.Details["error_rate"].Value, body)
	}
}

package app

import (
	"bufio"
	"bytes"
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

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/config"
	"github.com/tricyclehq/tricycle/internal/httpapi"
)

// failsafe bounds how long a test waits for something that should happen.
const failsafe = 10 * time.Second

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.Storage.DSN = "sqlite:" + filepath.Join(t.TempDir(), "state", "tricycle.db")
	cfg.Cycle.PollInterval = config.Duration(time.Hour) // loops run on demand in tests
	return cfg
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newApp(t *testing.T, cfg config.Config, opts Options) *App {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	a, err := New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// call serves one request in process with a bearer token.
func call(a *App, method, path, token, body string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, r)
	return w
}

func TestAdminTokenFile(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	var out bytes.Buffer
	a := newApp(t, cfg, Options{Stdout: &out})
	_, dbPath, _ := cfg.Storage.StorageKind()
	want := filepath.Join(filepath.Dir(dbPath), AdminTokenFileName)
	if a.AdminTokenFile() != want {
		t.Fatalf("AdminTokenFile() = %q, want %q beside the SQLite file", a.AdminTokenFile(), want)
	}
	fi, err := os.Stat(want)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.token mode %v, want 0600", fi.Mode().Perm())
	}
	raw, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(token, coordination.PrefixToken) {
		t.Fatalf("admin.token holds %q", token)
	}
	if !strings.Contains(out.String(), want) || strings.Contains(out.String(), token) {
		t.Errorf("stdout %q must name the file and never the token", out.String())
	}
	if w := call(a, "GET", "/api/v1/status", token, ""); w.Code != 200 {
		t.Fatalf("the admin token does not work: %d %s", w.Code, w.Body)
	}
	if w := call(a, "POST", "/api/v1/tokens", token, `{"name":"ops","role":"admin"}`); w.Code != 201 {
		t.Fatalf("the admin token cannot manage tokens: %d %s", w.Code, w.Body)
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(want), ".admin.token-*"))
	if len(matches) != 0 {
		t.Errorf("temporary token files left behind: %v", matches)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	// A second start on the same store creates nothing; the token still works.
	if err := os.Remove(want); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	b := newApp(t, cfg, Options{Stdout: &out})
	if b.AdminTokenFile() != "" || out.Len() != 0 {
		t.Errorf("a restart generated a token again: %q %q", b.AdminTokenFile(), out.String())
	}
	if _, err := os.Stat(want); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a restart wrote admin.token again: %v", err)
	}
	if w := call(b, "GET", "/api/v1/status", token, ""); w.Code != 200 {
		t.Errorf("the first admin token stopped working after a restart: %d", w.Code)
	}
}

func TestAdminTokenInDataDir(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	a := newApp(t, cfg, Options{})
	if want := filepath.Join(cfg.DataDir, AdminTokenFileName); a.AdminTokenFile() != want {
		t.Fatalf("AdminTokenFile() = %q, want %q", a.AdminTokenFile(), want)
	}
}

func TestAdminTokenFromEnvironment(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg, err := config.ApplyEnv(cfg, func(k string) (string, bool) {
		if k == config.EnvAdminToken {
			return "tc_from_the_environment_0123", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a := newApp(t, cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if a.AdminTokenFile() != "" {
		t.Errorf("a token file was written although %s is set", config.EnvAdminToken)
	}
	if w := call(a, "GET", "/api/v1/status", "tc_from_the_environment_0123", ""); w.Code != 200 {
		t.Fatalf("the environment's admin token does not work: %d", w.Code)
	}
	if strings.Contains(logs.String(), "tc_from_the_environment_0123") {
		t.Error("the admin token appears in the log")
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(c *config.Config)
		is     error
		msg    string
	}{
		{"unreachable postgres", func(c *config.Config) { c.Storage.DSN = "postgres://u:p@127.0.0.1:1/tricycle" }, nil, "open postgres u@127.0.0.1:1/tricycle"},
		{"unreachable nats", func(c *config.Config) { c.Bus.URL = "nats://127.0.0.1:1" }, nil, "open bus nats://127.0.0.1:1"},
		{"gateway on the in-process bus", func(c *config.Config) { c.Bus.URL = "memory"; c.Cycle.PollInterval = config.Duration(2 * time.Hour) }, coordination.ErrInvalidInput, "NATS"},
		{"invalid config", func(c *config.Config) { c.Cycle.ShadowPercent = 500 }, nil, "cycle.shadow_percent"},
		{"memory store without a place for the token", func(c *config.Config) { c.Storage.DSN = "sqlite::memory:" }, nil, "data_dir"},
		{"address in use", nil, nil, "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			if tt.mutate != nil {
				tt.mutate(&cfg)
			} else {
				busy := newApp(t, testConfig(t), Options{})
				cfg.Server.Addr = busy.Addr()
			}
			var role Role
			if strings.HasPrefix(tt.name, "gateway") {
				role = RoleGateway
			}
			a, err := New(context.Background(), cfg, Options{Logger: quietLogger(), Role: role})
			if err == nil {
				_ = a.Close()
				t.Fatal("New succeeded")
			}
			if (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("New = %v, want %v naming %q", err, tt.is, tt.msg)
			}
		})
	}
}

// fakePlane is a data plane with one slow route.
type fakePlane struct {
	entered chan struct{} // closed when the slow request started
	release chan struct{} // closed to let it finish
	mu      sync.Mutex
	calls   []string
}

func (p *fakePlane) record(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, s)
}

func (p *fakePlane) Hooks() Hooks {
	p.record("hooks")
	return Hooks{HealthMetrics: func(context.Context, string, time.Duration) (coordination.HealthSample, error) {
		return coordination.HealthSample{Requests: 1234, Errors: 1, LatencyP95: 1.5}, nil
	}}
}

func (p *fakePlane) Mount(api *httpapi.Server) error {
	p.record("mount")
	return api.Mount(httpapi.Route{Method: "POST", Path: "/api/v1/reviews", Permission: coordination.PermReviewsSubmit,
		Summary: "Review a diff", Status: http.StatusCreated,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			close(p.entered)
			<-p.release
			httpapi.WriteJSON(w, http.StatusCreated, map[string]string{"review_id": "rev-1"})
		})})
}

func (p *fakePlane) Start(context.Context) error { p.record("start"); return nil }
func (p *fakePlane) Stop(context.Context) error  { p.record("stop"); return nil }

func TestRunServesAndShutsDownGracefully(t *testing.T) {
	t.Parallel()
	plane := &fakePlane{entered: make(chan struct{}), release: make(chan struct{})}
	cfg := testConfig(t)
	cfg.AdminToken = "tc_graceful_shutdown_token"
	a := newApp(t, cfg, Options{
		DataPlane: func(context.Context, Deps) (DataPlane, error) { return plane, nil },
		Dashboard: func(*coordination.LifecycleCoordinator) (http.Handler, error) {
			return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "<html>") }), nil
		},
	})
	base := "http://" + a.Addr()
	if w := call(a, "GET", "/readyz", "", ""); w.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before Run: %d, want 503", w.Code)
	}
	shutdownBegan := make(chan struct{})
	a.srv.RegisterOnShutdown(func() { close(shutdownBegan) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case <-time.After(failsafe):
		t.Fatal("not ready")
	}

	for path, want := range map[string]string{"/healthz": `"status":"ok"`, "/readyz": `"status":"ready"`, "/": "<html>",
		"/metrics": "go_goroutines", "/api/v1/openapi.json": `"/api/v1/reviews"`} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, body lacks %q", path, resp.StatusCode, want)
		}
	}
	if w := call(a, "GET", "/api/v1/slo", cfg.AdminToken, ""); !strings.Contains(w.Body.String(), `"requests":1234`) {
		t.Errorf("the data plane's health hook does not reach the SLO report: %s", w.Body)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, m := range []string{`tricycle_http_requests_total{code="200",route="GET /healthz"} 1`, "process_cpu_seconds_total"} {
		if !bytes.Contains(metrics, []byte(m)) {
			t.Errorf("/metrics lacks %s", m)
		}
	}

	// An event stream is open during the shutdown: it must end, not hold it.
	stream := openStream(t, base, cfg.AdminToken)
	// An in-flight request when the shutdown begins must finish.
	result := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", base+"/api/v1/reviews", strings.NewReader(`{"diff":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+cfg.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- 0
			return
		}
		_ = resp.Body.Close()
		result <- resp.StatusCode
	}()
	<-plane.entered
	cancel()
	select {
	case <-shutdownBegan:
	case <-time.After(failsafe):
		t.Fatal("shutdown did not begin")
	}
	close(plane.release)
	if code := <-result; code != http.StatusCreated {
		t.Errorf("the in-flight request got %d, want 201", code)
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(failsafe):
		t.Fatal("Run did not return")
	}
	if err := stream.wait(); err != nil {
		t.Errorf("the event stream: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the server still accepts connections after Run returned")
	}
	plane.mu.Lock()
	defer plane.mu.Unlock()
	if got := strings.Join(plane.calls, ","); got != "hooks,mount,start,stop" {
		t.Errorf("data plane calls %s, want hooks,mount,start,stop", got)
	}
	if err := a.Run(context.Background()); err == nil {
		t.Error("a second Run succeeded")
	}
}

func TestShutdownDeadlineCutsStuckRequests(t *testing.T) {
	t.Parallel()
	plane := &fakePlane{entered: make(chan struct{}), release: make(chan struct{})}
	defer close(plane.release)
	cfg := testConfig(t)
	cfg.AdminToken = "tc_stuck_request_token_0"
	cfg.Server.ShutdownTimeout = config.Duration(50 * time.Millisecond)
	a := newApp(t, cfg, Options{DataPlane: func(context.Context, Deps) (DataPlane, error) { return plane, nil }})
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	<-a.Ready()
	result := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+a.Addr()+"/api/v1/reviews", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+cfg.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		result <- err
	}()
	<-plane.entered
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(failsafe):
		t.Fatal("Run did not return after the shutdown deadline")
	}
	if err := <-result; err == nil {
		t.Error("the stuck request was not cut")
	}
}

// sseStream is an open event stream.
type sseStream struct {
	done chan error
}

func openStream(t *testing.T, base, token string) *sseStream {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	s := &sseStream{done: make(chan error, 1)}
	connected := make(chan struct{})
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sawShutdown, once := false, sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "connected") {
				once.Do(func() { close(connected) })
			}
			sawShutdown = sawShutdown || strings.Contains(sc.Text(), "shutting down")
		}
		if !sawShutdown {
			s.done <- errors.New("ended without the shutdown comment")
			return
		}
		s.done <- nil
	}()
	<-connected
	return s
}

func (s *sseStream) wait() error {
	select {
	case err := <-s.done:
		return err
	case <-time.After(failsafe):
		return errors.New("did not end")
	}
}

func TestHealthStatusJSON(t *testing.T) {
	t.Parallel()
	a := newApp(t, func() config.Config { c := testConfig(t); c.AdminToken = "tc_health_status_json_0"; return c }(), Options{})
	w := call(a, "GET", "/readyz", "", "")
	var st HealthStatus
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != "not_ready" || st.Checks["store"] != "ok" || st.Checks["coordinator"] != "not started" {
		t.Errorf("/readyz before Run = %+v", st)
	}
}

// Package deploytest runs the monitoring tools that the deployment and
// end-to-end tests need: promtool, and a real Prometheus server on the
// loopback interface that scrapes test servers and evaluates rule files.
//
// # Missing tools
//
// The tools come from the operating system (Debian's prometheus package
// provides both). LookTool skips a test when a tool is not on PATH, unless
// TRICYCLE_REQUIRE_SERVICES=1, as in CI, where a missing tool fails the
// test instead of hiding it.
//
// # Lifecycle
//
// StartPrometheus starts a server in a temporary directory, waits until it
// answers /-/ready and stops it (SIGTERM, then SIGKILL after ten seconds)
// when the test ends. Nothing is left behind: its data lives under the
// test's TempDir.
package deploytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// RequireServicesEnv names the variable that, set to "1", makes a missing
// tool a test failure rather than a skip.
const RequireServicesEnv = "TRICYCLE_REQUIRE_SERVICES"

// LookTool returns the path of the executable name on PATH. When it is
// missing it skips tb, or fails it when RequireServicesEnv is "1".
func LookTool(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv(RequireServicesEnv) == "1" {
		tb.Fatalf("%s is required (%s=1) but not on PATH: %v", name, RequireServicesEnv, err)
	}
	tb.Skipf("%s is not on PATH (install Debian's prometheus package, or set %s=1 to fail instead)", name, RequireServicesEnv)
	return ""
}

// PrometheusOptions configure StartPrometheus.
type PrometheusOptions struct {
	// Binary is the prometheus executable; empty means LookTool("prometheus").
	Binary string
	// Targets are host:port addresses scraped at /metrics as job "tricycle".
	Targets []string
	// RuleFiles are rule files to load, as paths relative to the test's
	// working directory or absolute.
	RuleFiles []string
	// Interval is both the scrape and the rule evaluation interval;
	// zero means one second.
	Interval time.Duration
	// ReadyTimeout bounds the wait for /-/ready; zero means 30 seconds.
	ReadyTimeout time.Duration
}

// Prometheus is a Prometheus server started for one test.
type Prometheus struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL string

	client *http.Client
	log    *syncBuffer
}

// syncBuffer is the server's output, written by the process and read by the
// test on failure.
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

// StartPrometheus starts a Prometheus server on a free loopback port with a
// configuration built from opts, waits until it is ready and registers its
// shutdown with tb.Cleanup. It fails tb if the server does not become ready.
func StartPrometheus(tb testing.TB, opts PrometheusOptions) *Prometheus {
	tb.Helper()
	if opts.Binary == "" {
		opts.Binary = LookTool(tb, "prometheus")
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 30 * time.Second
	}
	dir := tb.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	cfg, err := prometheusConfig(opts)
	if err != nil {
		tb.Fatalf("prometheus config: %v", err)
	}
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		tb.Fatalf("write prometheus config: %v", err)
	}
	// A free port can be taken by someone else between the probe and the
	// server's bind; try a few.
	var lastErr error
	for range 3 {
		p, err := startOnce(tb, opts, cfgPath, filepath.Join(dir, "data"))
		if err == nil {
			return p
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	tb.Fatalf("start prometheus: %v", lastErr)
	return nil
}

// prometheusConfig renders prometheus.yml for opts.
func prometheusConfig(opts PrometheusOptions) ([]byte, error) {
	var rules []string
	for _, f := range opts.RuleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, fmt.Errorf("rule file %s: %w", f, err)
		}
		rules = append(rules, abs)
	}
	interval := opts.Interval.String()
	targets := opts.Targets
	if targets == nil {
		targets = []string{}
	}
	doc := map[string]any{
		"global": map[string]any{
			"scrape_interval":     interval,
			"scrape_timeout":      interval,
			"evaluation_interval": interval,
		},
		"rule_files": rules,
		"scrape_configs": []any{map[string]any{
			"job_name":       "tricycle",
			"metrics_path":   "/metrics",
			"static_configs": []any{map[string]any{"targets": targets}},
		}},
	}
	return yaml.Marshal(doc)
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startOnce(tb testing.TB, opts PrometheusOptions, cfgPath, dataDir string) (*Prometheus, error) {
	tb.Helper()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	log := &syncBuffer{}
	cmd := exec.Command(opts.Binary,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+dataDir,
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", opts.Binary, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	p := &Prometheus{URL: "http://" + addr, client: &http.Client{Timeout: 5 * time.Second}, log: log}
	ctx, cancel := context.WithTimeout(context.Background(), opts.ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if p.ready(ctx) {
			tb.Cleanup(func() {
				stop()
				if tb.Failed() {
					tb.Logf("prometheus output:\n%s", log.String())
				}
			})
			return p, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("prometheus exited before it was ready (%v):\n%s", err, log.String())
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("prometheus not ready after %s:\n%s", opts.ReadyTimeout, log.String())
		case <-tick.C:
		}
	}
}

func (p *Prometheus) ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/-/ready", nil)
	if err != nil {
		return false
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// Output returns what the server has logged so far.
func (p *Prometheus) Output() string { return p.log.String() }

// Sample is one element of an instant vector.
type Sample struct {
	// Metric holds the series' labels, __name__ included when it has one.
	Metric map[string]string
	// Value is the sample's value.
	Value float64
}

// Query evaluates expr now and returns the instant vector it yields; any
// other result type is an error.
func (p *Prometheus) Query(ctx context.Context, expr string) ([]Sample, error) {
	u := p.URL + "/api/v1/query?" + url.Values{"query": {expr}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %q: status %d: decode: %w", expr, resp.StatusCode, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s: %s", expr, body.ErrorType, body.Error)
	}
	if body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: result type %q, want vector", expr, body.Data.ResultType)
	}
	out := make([]Sample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		s, ok := r.Value[1].(string)
		if !ok {
			return nil, fmt.Errorf("query %q: sample value %v is not a string", expr, r.Value[1])
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: sample value %q: %w", expr, s, err)
		}
		out = append(out, Sample{Metric: r.Metric, Value: v})
	}
	return out, nil
}

// ErrNotSatisfied means WaitFor's context ended before the condition held.
var ErrNotSatisfied = errors.New("condition not satisfied")

// WaitFor evaluates expr every 100ms until ok accepts the result, and
// returns that result. When ctx ends first it returns the last result with
// an error wrapping ErrNotSatisfied (and the last query error, if any).
func (p *Prometheus) WaitFor(ctx context.Context, expr string, ok func([]Sample) bool) ([]Sample, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var (
		last    []Sample
		lastErr error
	)
	for {
		last, lastErr = p.Query(ctx, expr)
		if lastErr == nil && ok(last) {
			return last, nil
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("wait for %q: %w (last result %v): %w", expr, ErrNotSatisfied, last, errors.Join(ctx.Err(), lastErr))
		case <-tick.C:
		}
	}
}

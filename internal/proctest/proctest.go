// Package proctest runs `tricycle` as real processes for the process-level
// tests (internal/crashtest, internal/e2e): it builds the binary, starts
// `serve` with a role, collects every process's output in one log, waits
// for readiness, calls the API with a token, reads /metrics, and kills
// (SIGKILL) or stops (SIGINT) a process. It is imported only by tests.
package proctest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BuildBinary builds cmd/tricycle into a temporary directory.
func BuildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tricycle")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/tricyclehq/tricycle/cmd/tricycle").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Log collects every process's output, each line prefixed by its name.
type Log struct {
	mu sync.Mutex
	f  *os.File // non-nil
}

// NewLog creates the log file at path; the test closes it at cleanup.
func NewLog(t testing.TB, path string) *Log {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return &Log{f: f}
}

// Line appends one line of process name's output.
func (l *Log) Line(name, s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.f, "%s | %s\n", name, s)
}

// Tail returns the last n bytes of the log.
func (l *Log) Tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := os.ReadFile(l.f.Name())
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Proc is one `tricycle serve` process.
type Proc struct {
	Name  string
	cmd   *exec.Cmd
	addr  chan string // receives the listen address once printed
	done  chan error  // receives Wait's result
	token string
	http  *http.Client
	base  string
}

// Start starts `tricycle serve --config cfg --role role` named name, with
// env added to the environment; token is the admin token its calls use.
func Start(t testing.TB, bin, cfg, role, name string, env []string, log *Log, token string) *Proc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", cfg, "--role", role)
	cmd.Env = append(append(os.Environ(), env...), "TRICYCLE_INSTANCE="+name)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Proc{Name: name, cmd: cmd, addr: make(chan string, 1), done: make(chan error, 1), token: token,
		http: &http.Client{Timeout: 10 * time.Second}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var wg sync.WaitGroup
	scan := func(r io.Reader, watch bool) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			log.Line(name, line)
			if _, rest, ok := strings.Cut(line, " serving on http://"); ok && watch {
				addr, _, _ := strings.Cut(rest, " ")
				select {
				case p.addr <- addr:
				default:
				}
			}
		}
	}
	wg.Add(2)
	go scan(stdout, true)
	go scan(stderr, false)
	go func() {
		wg.Wait() // Wait closes the pipes: read them to the end first
		p.done <- cmd.Wait()
	}()
	return p
}

// WaitReady waits until the process answers /readyz with 200.
func (p *Proc) WaitReady(ctx context.Context) error {
	if p.base == "" {
		select {
		case addr := <-p.addr:
			p.base = "http://" + addr
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("%s exited before listening: %v", p.Name, err)
		case <-ctx.Done():
			return fmt.Errorf("%s did not print its address: %w", p.Name, ctx.Err())
		}
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if code, _, err := p.Call(ctx, "GET", "/readyz", ""); err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("%s exited before it was ready: %v", p.Name, err)
		case <-ctx.Done():
			return fmt.Errorf("%s was not ready: %w", p.Name, ctx.Err())
		case <-tick.C:
		}
	}
}

// Call makes a request with the admin token.
func (p *Proc) Call(ctx context.Context, method, path, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Do makes a request that must answer want and decodes the answer into out
// (when non-nil).
func (p *Proc) Do(t testing.TB, method, path, body string, want int, out any) {
	t.Helper()
	code, b, err := p.Call(t.Context(), method, path, body)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", p.Name, method, path, err)
	}
	if code != want {
		t.Fatalf("%s: %s %s: %d %s, want %d", p.Name, method, path, code, bytes.TrimSpace(b), want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %s %s: decode %s: %v", p.Name, method, path, b, err)
		}
	}
}

// Metric returns the sum of the samples of the metric name whose labels
// contain every one of labels (`key="value"`), as /metrics reports them.
func (p *Proc) Metric(ctx context.Context, name string, labels ...string) (float64, error) {
	code, b, err := p.Call(ctx, "GET", "/metrics", "")
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("%s: /metrics: %d", p.Name, code)
	}
	var sum float64
	for line := range strings.SplitSeq(string(b), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				match = false
			}
		}
		if !match {
			continue
		}
		fields := strings.Fields(rest)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: metric line %q: %w", p.Name, line, err)
		}
		sum += v
	}
	return sum, nil
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	<-p.done
}

// Shutdown asks for a graceful shutdown and waits for a clean exit.
func (p *Proc) Shutdown(t testing.TB, timeout time.Duration) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("%s: graceful shutdown: %v", p.Name, err)
		}
	case <-time.After(timeout):
		p.Kill(t)
		t.Errorf("%s did not stop within %v", p.Name, timeout)
	}
}

// Base returns the process's base URL ("" before WaitReady succeeded).
func (p *Proc) Base() string { return p.base }

// Process returns the running process (to signal it directly).
func (p *Proc) Process() *os.Process { return p.cmd.Process }

package crashtest

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
	"strings"
	"sync"
	"testing"
	"time"
)

// buildBinary builds cmd/tricycle into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tricycle")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/tricyclehq/tricycle/cmd/tricycle")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// server is one `tricycle serve` process.
type server struct {
	cmd   *exec.Cmd
	addr  chan string // receives the listen address once printed
	done  chan error  // receives Wait's result
	token string
	http  *http.Client
	base  string
}

// logFile collects every server's output, with a header per start.
type logFile struct {
	mu sync.Mutex
	f  *os.File
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// tail returns the last n bytes of the log.
func (l *logFile) tail(n int64) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := os.ReadFile(l.f.Name())
	if err != nil {
		return err.Error()
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}

// startServer starts `tricycle serve --config cfg` with env added.
func startServer(t *testing.T, bin, cfg string, env []string, log *logFile, token string) *server {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = log
	s := &server{cmd: cmd, addr: make(chan string, 1), done: make(chan error, 1), token: token,
		http: &http.Client{Timeout: 10 * time.Second}}
	fmt.Fprintf(log, "---- start %s\n", time.Now().Format(time.RFC3339Nano))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(log, line)
			if _, rest, ok := strings.Cut(line, " serving on http://"); ok {
				addr, _, _ := strings.Cut(rest, " ")
				select {
				case s.addr <- addr:
				default:
				}
			}
		}
	}()
	go func() {
		<-scanned // Wait closes the pipe: read it to the end first
		s.done <- cmd.Wait()
	}()
	return s
}

// waitReady waits until the server answers /readyz with 200.
func (s *server) waitReady(ctx context.Context) error {
	if s.base == "" {
		select {
		case addr := <-s.addr:
			s.base = "http://" + addr
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("the server exited before listening: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("the server did not print its address: %w", ctx.Err())
		}
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if code, _, err := s.call(ctx, "GET", "/readyz", ""); err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("the server exited before it was ready: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("the server was not ready: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// call makes an API request with the admin token.
func (s *server) call(ctx context.Context, method, path, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// do makes an API request that must answer want, and decodes the answer
// into out (when non-nil).
func (s *server) do(t *testing.T, method, path, body string, want int, out any) {
	t.Helper()
	code, b, err := s.call(t.Context(), method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, code, bytes.TrimSpace(b), want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	<-s.done
}

// shutdown asks for a graceful shutdown and waits for a clean exit.
func (s *server) shutdown(t *testing.T, timeout time.Duration) {
	t.Helper()
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("graceful shutdown: %v", err)
		}
	case <-time.After(timeout):
		s.kill(t)
		t.Fatal("the server did not shut down in time")
	}
}

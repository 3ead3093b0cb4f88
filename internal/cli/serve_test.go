package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
)

func TestResolveConfigPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "tricycle.yaml")
	if err := os.WriteFile(file, []byte("server: {addr: \"127.0.0.1:7001\"}\nstorage: {dsn: \"sqlite:file.db\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("server: {adress: x}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		addr, dsn string
		err       string
	}{
		{name: "defaults", addr: "127.0.0.1:8080", dsn: "sqlite:tricycle.db"},
		{name: "file over defaults", args: []string{"--config", file}, addr: "127.0.0.1:7001", dsn: "sqlite:file.db"},
		{name: "TRICYCLE_CONFIG names the file", env: map[string]string{"TRICYCLE_CONFIG": file}, addr: "127.0.0.1:7001", dsn: "sqlite:file.db"},
		{name: "env over file", env: map[string]string{"TRICYCLE_ADDR": "127.0.0.1:7002"}, args: []string{"--config", file},
			addr: "127.0.0.1:7002", dsn: "sqlite:file.db"},
		{name: "flags over env", env: map[string]string{"TRICYCLE_ADDR": "127.0.0.1:7002", "TRICYCLE_DB": "sqlite:env.db"},
			args: []string{"--config", file, "--addr", "127.0.0.1:7003"}, addr: "127.0.0.1:7003", dsn: "sqlite:env.db"},
		{name: "db flag", args: []string{"--db", "sqlite:flag.db", "--data-dir", dir}, addr: "127.0.0.1:8080", dsn: "sqlite:flag.db"},
		{name: "unknown key in the file", args: []string{"--config", bad}, err: "adress"},
		{name: "missing file", args: []string{"--config", filepath.Join(dir, "none.yaml")}, err: "none.yaml"},
		{name: "bad env value", env: map[string]string{"TRICYCLE_CYCLE_SHADOW_PERCENT": "lots"}, err: "TRICYCLE_CYCLE_SHADOW_PERCENT"},
		{name: "bad bus", args: []string{"--bus", "carrier-pigeon"}, err: "bus"},
		{name: "gateway needs NATS", args: []string{"--role", "gateway"}, err: "nats://"},
		{name: "coordinator refuses an in-memory store", args: []string{"--role", "coordinator", "--bus", "nats://127.0.0.1:4222",
			"--db", "sqlite::memory:", "--data-dir", dir}, err: "in-memory store"},
		{name: "experiments on PostgreSQL and NATS", args: []string{"--role", "experiments", "--bus", "nats://127.0.0.1:4222",
			"--db", "postgres://u@127.0.0.1:5432/t"}, addr: "127.0.0.1:8080", dsn: "postgres://u@127.0.0.1:5432/t"},
		{name: "unknown role", args: []string{"--role", "janitor"}, err: "janitor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := &cobra.Command{Use: "serve"}
			f := bindServeFlags(cmd)
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := resolveConfig(cmd, *f, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Server.Addr != tt.addr || cfg.Storage.DSN != tt.dsn {
				t.Errorf("addr %q dsn %q, want %q %q", cfg.Server.Addr, cfg.Storage.DSN, tt.addr, tt.dsn)
			}
		})
	}
}

// signalWriter collects output and signals once a line matching re arrives.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	re    *regexp.Regexp
	match chan string // receives the first submatch once
	sent  bool
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := w.re.FindStringSubmatch(w.buf.String()); m != nil && !w.sent {
		w.sent = true
		w.match <- m[1]
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestServeRunsUntilCancelledAndTellsWhereTheTokenIs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := &signalWriter{re: regexp.MustCompile(`serving on (http://\S+)`), match: make(chan string, 1)}
	var errb bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- Execute(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(dir, "t.db")},
			Env{Stdout: out, Stderr: &errb, LookupEnv: func(string) (string, bool) { return "", false }})
	}()
	var base string
	select {
	case base = <-out.match:
	case code := <-done:
		t.Fatalf("serve exited with %d before serving: %s", code, errb.String())
	}
	tokenFile := filepath.Join(dir, "admin.token")
	if !strings.Contains(out.String(), tokenFile) {
		t.Errorf("serve did not say where the admin token is:\n%s", out.String())
	}
	if st, err := os.Stat(tokenFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v, %v", st, err)
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	r := execute(map[string]string{"TRICYCLE_SERVER": base, "TRICYCLE_TOKEN": strings.TrimSpace(string(token))}, "", "status")
	if r.code != 0 || !strings.Contains(r.stdout, "baseline") {
		t.Errorf("status against the served API: %+v", r)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited with %d after cancellation: %s", code, errb.String())
	}
}

func TestDemoCommand(t *testing.T) {
	t.Parallel()
	r := execute(nil, "", "demo", "--fast", "--seed", "3")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("demo --fast: exit %d, stderr %s", r.code, r.stderr)
	}
	for _, want := range []string{"== story 1", "== story 2", "== story 3", "ROLLED BACK", "refused", "chain verified=true"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
	"github.com/tricyclehq/tricycle/internal/httpapi"
)

// fixture is the real HTTP API over an in-memory coordinator, served by an
// httptest server, with an admin and a user token.
type fixture struct {
	t     *testing.T
	coord *coordination.LifecycleCoordinator
	srv   *httptest.Server
	admin string // admin token
	user  string // user token

	mu      sync.Mutex
	headers []http.Header     // of every request, in order
	reviews []json.RawMessage // bodies posted to the fake review route
}

func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t}
	clock := coordinationtest.NewManualClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	bus := coordination.NewMemoryBus(coordination.MemoryBusOptions{})
	t.Cleanup(func() { _ = bus.Close() })
	var err error
	f.coord, err = coordination.NewLifecycleCoordinator(coordination.Options{Clock: clock, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := f.coord.Init(ctx); err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Options{Coordinator: f.coord})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Close() })
	// The review data plane is another package's; a fake stands in for it.
	err = api.Mount(httpapi.Route{Method: http.MethodPost, Path: "/api/v1/reviews", Permission: coordination.PermReviewsSubmit,
		Summary: "Review a diff (test double)", Request: map[string]string{}, Response: map[string]any{},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var body json.RawMessage
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			f.mu.Lock()
			f.reviews = append(f.reviews, body)
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"review_id": "rvw-1", "summary": "One SQL injection.", "latency_ms": 812,
				"usage": {"input_tokens": 900, "output_tokens": 120, "cost_usd": 0.0042},
				"findings": [{"file": "db/query.go", "line": 12, "severity": "high", "category": "security",
				"rule": "sql-injection", "message": "query built from user input", "suggestion": "use a placeholder"}]}`))
		})})
	if err != nil {
		t.Fatal(err)
	}
	if f.admin, _, err = f.coord.CreateToken(ctx, "cli-admin", coordination.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if f.user, _, err = f.coord.CreateToken(ctx, "cli-user", coordination.RoleUser); err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.headers = append(f.headers, r.Header.Clone())
		f.mu.Unlock()
		api.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// result is what one command run produced.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the command line with TRICYCLE_SERVER and TRICYCLE_TOKEN (admin)
// pointing at the fixture; env entries override or add variables ("" as a
// value unsets one).
func (f *fixture) run(env map[string]string, args ...string) result {
	f.t.Helper()
	vars := map[string]string{"TRICYCLE_SERVER": f.srv.URL, "TRICYCLE_TOKEN": f.admin}
	for k, v := range env {
		vars[k] = v
	}
	return execute(vars, "", args...)
}

// execute runs args with exactly the variables in vars and stdin.
func execute(vars map[string]string, stdin string, args ...string) result {
	var out, errb bytes.Buffer
	code := Execute(context.Background(), args, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		LookupEnv: func(k string) (string, bool) {
			v, ok := vars[k]
			return v, ok && v != ""
		}})
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// ok runs args as admin and fails the test unless they succeed.
func (f *fixture) ok(args ...string) string {
	f.t.Helper()
	r := f.run(nil, args...)
	if r.code != 0 || r.stderr != "" {
		f.t.Fatalf("tricycle %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// okJSON runs args with -o json and decodes the answer.
func (f *fixture) okJSON(v any, args ...string) {
	f.t.Helper()
	out := f.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		f.t.Fatalf("tricycle %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// oneErrorLine checks that r failed with exit code want, printed nothing on
// stdout and exactly one "error: " line on stderr containing every part.
func oneErrorLine(t *testing.T, r result, want int, parts ...string) {
	t.Helper()
	if r.code != want {
		t.Errorf("exit code %d, want %d (stderr %q)", r.code, want, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	if !strings.HasPrefix(r.stderr, "error: ") || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr %q is not one line starting with \"error: \"", r.stderr)
	}
	for _, p := range parts {
		if !strings.Contains(r.stderr, p) {
			t.Errorf("stderr %q lacks %q", r.stderr, p)
		}
	}
}

// requests returns the headers of the requests seen so far.
func (f *fixture) requests() []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]http.Header(nil), f.headers...)
}

package provider_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/internal/review/provider"
	"github.com/tricyclehq/tricycle/internal/review/provider/providertest"
)

// callerBundle is a Caller wired to a fake server and a fake clock.
type callerBundle struct {
	caller *provider.Caller
	clock  *providertest.Clock
	server *providertest.Server
}

func setupCaller(t *testing.T, cfg provider.CallerConfig, replies ...providertest.Reply) callerBundle {
	t.Helper()
	clock := providertest.NewClock(epoch)
	cfg.Clock = clock
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	c, err := provider.NewCaller(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return callerBundle{caller: c, clock: clock, server: providertest.NewServer(t, replies...)}
}

func (b callerBundle) do(t *testing.T) (provider.HTTPResponse, error) {
	t.Helper()
	return b.caller.Do(t.Context(), provider.HTTPRequest{
		Method: http.MethodPost,
		URL:    b.server.URL + "/v1/x?key=hidden",
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   []byte(`{"q":1}`),
	})
}

var (
	okReply = providertest.Reply{Body: `{"ok":true}`}
	err500  = providertest.Reply{Status: 500, Body: `{"error":"boom"}`}
)

func TestCallerRetries(t *testing.T) {
	t.Parallel()
	base := provider.RetryPolicy{MaxAttempts: 3, BaseBackoff: time.Second, MaxBackoff: 8 * time.Second, PerCallTimeout: 5 * time.Second}
	dateIn30s := epoch.Add(30 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		name      string
		policy    provider.RetryPolicy
		replies   []providertest.Reply
		wantErr   bool
		wantCode  int // StatusError code expected, when wantErr
		requests  int
		wantWaits []time.Duration // exact waits; nil means check bounds below
		waitRange [][2]time.Duration
	}{
		{name: "success first time", policy: base, replies: []providertest.Reply{okReply}, requests: 1, wantWaits: []time.Duration{}},
		{name: "429 honours Retry-After seconds", policy: base, replies: []providertest.Reply{
			{Status: 429, Header: map[string]string{"Retry-After": "7"}}, okReply,
		}, requests: 2, wantWaits: []time.Duration{7 * time.Second}},
		{name: "429 honours Retry-After date", policy: base, replies: []providertest.Reply{
			{Status: 429, Header: map[string]string{"Retry-After": dateIn30s}}, okReply,
		}, requests: 2, wantWaits: []time.Duration{30 * time.Second}},
		{name: "429 without Retry-After backs off", policy: base, replies: []providertest.Reply{{Status: 429}, okReply},
			requests: 2, waitRange: [][2]time.Duration{{500 * time.Millisecond, time.Second}}},
		{name: "500 then success", policy: base, replies: []providertest.Reply{err500, okReply},
			requests: 2, waitRange: [][2]time.Duration{{500 * time.Millisecond, time.Second}}},
		{name: "503 until attempts run out", policy: base, replies: []providertest.Reply{{Status: 503}},
			wantErr: true, wantCode: 503, requests: 3,
			waitRange: [][2]time.Duration{{500 * time.Millisecond, time.Second}, {time.Second, 2 * time.Second}}},
		{name: "401 not retried", policy: base, replies: []providertest.Reply{{Status: 401, Body: `{"error":"bad key"}`}},
			wantErr: true, wantCode: 401, requests: 1, wantWaits: []time.Duration{}},
		{name: "400 not retried", policy: base, replies: []providertest.Reply{{Status: 400}}, wantErr: true, wantCode: 400, requests: 1, wantWaits: []time.Duration{}},
		{name: "404 not retried", policy: base, replies: []providertest.Reply{{Status: 404}}, wantErr: true, wantCode: 404, requests: 1, wantWaits: []time.Duration{}},
		{name: "truncated body retried", policy: base, replies: []providertest.Reply{{Body: `{"ok":`, Truncate: true}, okReply},
			requests: 2, waitRange: [][2]time.Duration{{500 * time.Millisecond, time.Second}}},
		{name: "Retry-After beyond the time budget gives up", policy: provider.RetryPolicy{MaxAttempts: 5, MaxTotal: time.Minute},
			replies: []providertest.Reply{{Status: 429, Header: map[string]string{"Retry-After": "120"}}},
			wantErr: true, wantCode: 429, requests: 1, wantWaits: []time.Duration{}},
		{name: "backoff is capped", policy: provider.RetryPolicy{MaxAttempts: 5, BaseBackoff: 4 * time.Second, MaxBackoff: 5 * time.Second},
			replies: []providertest.Reply{err500}, wantErr: true, wantCode: 500, requests: 5,
			waitRange: [][2]time.Duration{{2 * time.Second, 4 * time.Second}, {2500 * time.Millisecond, 5 * time.Second}, {2500 * time.Millisecond, 5 * time.Second}, {2500 * time.Millisecond, 5 * time.Second}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupCaller(t, provider.CallerConfig{Retry: tt.policy, Breaker: provider.BreakerConfig{ConsecutiveFailures: 100}}, tt.replies...)
			resp, err := b.do(t)
			if tt.wantErr {
				var se *provider.StatusError
				if !errors.As(err, &se) || se.StatusCode != tt.wantCode {
					t.Fatalf("err = %v, want a StatusError %d", err, tt.wantCode)
				}
				if strings.Contains(err.Error(), "hidden") {
					t.Errorf("error reveals the URL query: %v", err)
				}
			} else if err != nil || string(resp.Body) != `{"ok":true}` {
				t.Fatalf("Do = %q, %v", resp.Body, err)
			}
			if got := len(b.server.Requests()); got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
			waits := b.clock.Waits()
			if tt.wantWaits != nil {
				if len(waits) != len(tt.wantWaits) {
					t.Fatalf("waits %v, want %v", waits, tt.wantWaits)
				}
				for i := range waits {
					if waits[i] != tt.wantWaits[i] {
						t.Errorf("waits %v, want %v", waits, tt.wantWaits)
					}
				}
			}
			if tt.waitRange != nil {
				if len(waits) != len(tt.waitRange) {
					t.Fatalf("waits %v, want %d of them", waits, len(tt.waitRange))
				}
				for i, r := range tt.waitRange {
					if waits[i] < r[0] || waits[i] > r[1] {
						t.Errorf("wait %d = %s, want in [%s, %s]", i, waits[i], r[0], r[1])
					}
				}
			}
		})
	}
}

func TestCallerTimeout(t *testing.T) {
	t.Parallel()
	b := setupCaller(t, provider.CallerConfig{Retry: provider.RetryPolicy{MaxAttempts: 2, PerCallTimeout: 50 * time.Millisecond}},
		providertest.Reply{Hang: true}, okReply)
	resp, err := b.do(t)
	if err != nil {
		t.Fatalf("Do after one slow attempt: %v", err)
	}
	if string(resp.Body) != `{"ok":true}` || len(b.server.Requests()) != 2 {
		t.Errorf("got %q after %d requests", resp.Body, len(b.server.Requests()))
	}

	b = setupCaller(t, provider.CallerConfig{Retry: provider.RetryPolicy{MaxAttempts: 2, PerCallTimeout: 50 * time.Millisecond}},
		providertest.Reply{Hang: true})
	if _, err := b.do(t); !errors.Is(err, provider.ErrTimeout) {
		t.Fatalf("Do against a hanging server = %v, want ErrTimeout", err)
	}
	if got := len(b.server.Requests()); got != 2 {
		t.Errorf("%d requests, want 2", got)
	}
}

func TestCallerCancelled(t *testing.T) {
	t.Parallel()
	b := setupCaller(t, provider.CallerConfig{}, okReply)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.caller.Do(ctx, provider.HTTPRequest{Method: "POST", URL: b.server.URL})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Do with a cancelled context = %v", err)
	}
	if n := len(b.server.Requests()); n != 0 {
		t.Errorf("%d requests sent after cancellation", n)
	}
	if st := b.caller.Breaker().State(); st != provider.BreakerClosed {
		t.Errorf("breaker %s after a cancelled call", st)
	}
}

func TestCallerResponseTooLarge(t *testing.T) {
	t.Parallel()
	b := setupCaller(t, provider.CallerConfig{MaxResponseBytes: 10}, providertest.Reply{Body: strings.Repeat("x", 11)})
	if _, err := b.do(t); !errors.Is(err, provider.ErrBadResponse) {
		t.Errorf("Do = %v, want ErrBadResponse", err)
	}
	if n := len(b.server.Requests()); n != 1 {
		t.Errorf("%d requests, want 1 (not retried)", n)
	}
}

func TestCallerCircuitBreaker(t *testing.T) {
	t.Parallel()
	b := setupCaller(t, provider.CallerConfig{
		Retry:   provider.RetryPolicy{MaxAttempts: 5},
		Breaker: provider.BreakerConfig{ConsecutiveFailures: 2, Cooldown: time.Minute},
	}, err500, err500, okReply)
	if _, err := b.do(t); !errors.Is(err, provider.ErrCircuitOpen) {
		t.Fatalf("Do = %v, want ErrCircuitOpen once the circuit opens mid-run", err)
	}
	if n := len(b.server.Requests()); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
	// Open: fails fast without a request.
	if _, err := b.do(t); !errors.Is(err, provider.ErrCircuitOpen) {
		t.Fatalf("Do while open = %v", err)
	}
	if n := len(b.server.Requests()); n != 2 {
		t.Fatalf("a request reached the server while the circuit was open (%d)", n)
	}
	// After the cooldown a probe goes through and closes the circuit.
	b.clock.Advance(time.Minute)
	if st := b.caller.Breaker().State(); st != provider.BreakerHalfOpen {
		t.Fatalf("state %s after cooldown, want half-open", st)
	}
	if _, err := b.do(t); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if st := b.caller.Breaker().State(); st != provider.BreakerClosed {
		t.Errorf("state %s after successful probe, want closed", st)
	}
}

func TestCallerJitterIsSeeded(t *testing.T) {
	t.Parallel()
	waits := func() []time.Duration {
		b := setupCaller(t, provider.CallerConfig{
			Rand:  rand.New(rand.NewPCG(42, 7)),
			Retry: provider.RetryPolicy{MaxAttempts: 4, BaseBackoff: time.Second, MaxBackoff: time.Minute},
		}, err500)
		_, _ = b.do(t)
		return b.clock.Waits()
	}
	a, c := waits(), waits()
	if len(a) != 3 || a[0] != c[0] || a[1] != c[1] || a[2] != c[2] {
		t.Errorf("same seed gave waits %v and %v", a, c)
	}
}

func TestCallerConfigValidation(t *testing.T) {
	t.Parallel()
	bad := []provider.CallerConfig{
		{Retry: provider.RetryPolicy{MaxAttempts: -1}},
		{Retry: provider.RetryPolicy{PerCallTimeout: -time.Second}},
		{Retry: provider.RetryPolicy{BaseBackoff: 10 * time.Second, MaxBackoff: time.Second}},
		{MaxResponseBytes: -1},
		{Breaker: provider.BreakerConfig{FailureRatio: 2}},
	}
	for _, cfg := range bad {
		if _, err := provider.NewCaller(cfg); err == nil {
			t.Errorf("NewCaller(%+v) accepted an invalid config", cfg)
		}
	}
}

func TestParseBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://api.openai.com/v1/", "https://api.openai.com/v1", true},
		{"http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1", true},
		{"ftp://example.com", "", false},
		{"https://", "", false},
		{"https://user:pw@example.com", "", false},
		{"https://example.com/?key=x", "", false},
		{"://bad", "", false},
	}
	for _, tt := range tests {
		got, err := provider.ParseBaseURL(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseBaseURL(%q) = %q, %v", tt.in, got, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("error reveals credentials: %v", err)
		}
	}
}

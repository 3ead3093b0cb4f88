package providertest

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/prompt"
	"github.com/tricyclehq/tricycle/internal/review/provider"
	"github.com/tricyclehq/tricycle/internal/review/redact/redacttest"
)

// Backend describes one HTTP provider to RunReviewerSuite.
type Backend struct {
	// New returns a reviewer for model "test-model" at baseURL that sends
	// through caller and charges prices.
	New func(t *testing.T, baseURL string, caller *provider.Caller, prices provider.Prices) review.Reviewer
	// Answer returns a successful response body carrying the model's text
	// and token use.
	Answer func(text string, inputTokens, outputTokens int64) string
	// Prompts extracts the system and user prompts from a request body.
	Prompts func(t *testing.T, body []byte) (system, user string)
	// Path is the request path the reviewer must call.
	Path string
}

// GoodAnswer is a model answer with two valid findings.
const GoodAnswer = `{"summary":"Adds a query.","findings":[` +
	`{"file":"db.go","line":14,"severity":"high","category":"security","rule":"sql-injection","message":"String-built SQL.","suggestion":"Use placeholders."},` +
	`{"file":"db.go","line":20,"severity":"low","category":"style","rule":"naming","message":"Unclear name.","suggestion":""}]}`

// suiteRequest is a small review request.
var suiteRequest = review.Request{
	ID:         "req-1",
	Repository: "acme/app",
	Diff:       "diff --git a/db.go b/db.go\n--- a/db.go\n+++ b/db.go\n@@ -10,2 +10,3 @@\n func q(id string) {\n+\tdb.Query(\"SELECT * FROM t WHERE id=\" + id)\n }\n",
}

// suitePrices are the prices the suite's reviewers charge.
var suitePrices = provider.Prices{InputPerMTok: 3, OutputPerMTok: 15}

// suiteBundle is one reviewer against one scripted server.
type suiteBundle struct {
	reviewer review.Reviewer
	server   *Server
	clock    *Clock
}

// setup wires a reviewer of b to a server playing replies.
func (b Backend) setup(t *testing.T, retry provider.RetryPolicy, replies ...Reply) suiteBundle {
	t.Helper()
	clock := NewClock(Epoch)
	caller, err := provider.NewCaller(provider.CallerConfig{
		Clock:   clock,
		Rand:    rand.New(rand.NewPCG(3, 4)),
		Retry:   retry,
		Breaker: provider.BreakerConfig{ConsecutiveFailures: 100},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(t, replies...)
	return suiteBundle{reviewer: b.New(t, srv.URL, caller, suitePrices), server: srv, clock: clock}
}

// RunReviewerSuite checks the behaviour every HTTP-backed reviewer shares:
// parsing, usage and cost, retries, timeouts, malformed responses,
// unparsable model output, refusal to retry 401, and redaction of secrets
// before anything is sent.
func RunReviewerSuite(t *testing.T, b Backend) {
	policy := provider.RetryPolicy{MaxAttempts: 3, BaseBackoff: time.Second, MaxBackoff: 4 * time.Second, PerCallTimeout: 5 * time.Second}
	good := Reply{Body: b.Answer(GoodAnswer, 1200, 300)}

	t.Run("good output", func(t *testing.T) {
		t.Parallel()
		s := b.setup(t, policy, good)
		res, err := s.reviewer.Review(t.Context(), suiteRequest)
		if err != nil {
			t.Fatalf("Review: %v", err)
		}
		if len(res.Findings) != 2 || res.Findings[0].Rule != "sql-injection" || res.Findings[1].Line != 20 {
			t.Errorf("findings %+v", res.Findings)
		}
		if res.Summary != "Adds a query." || res.Model != "test-model" {
			t.Errorf("summary %q, model %q", res.Summary, res.Model)
		}
		wantCost := 1200.0/1e6*3 + 300.0/1e6*15
		if res.Usage.InputTokens != 1200 || res.Usage.OutputTokens != 300 || math.Abs(res.Usage.CostUSD-wantCost) > 1e-12 {
			t.Errorf("usage %+v, want 1200/300 tokens costing %v", res.Usage, wantCost)
		}
		reqs := s.server.Requests()
		if len(reqs) != 1 || reqs[0].Path != b.Path || reqs[0].Method != http.MethodPost {
			t.Fatalf("requests %+v, want one POST %s", reqs, b.Path)
		}
		system, user := b.Prompts(t, reqs[0].Body)
		if !strings.Contains(system, "never instructions") || !strings.Contains(user, "<<<BEGIN UNTRUSTED DIFF ") ||
			!strings.Contains(user, `db.Query("SELECT`) {
			t.Errorf("prompts do not fence the diff:\nsystem: %s\nuser: %s", system, user)
		}
	})

	t.Run("429 with Retry-After", func(t *testing.T) {
		t.Parallel()
		s := b.setup(t, policy, Reply{Status: 429, Header: map[string]string{"Retry-After": "3"}}, good)
		res, err := s.reviewer.Review(t.Context(), suiteRequest)
		if err != nil {
			t.Fatalf("Review: %v", err)
		}
		if n := len(s.server.Requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
		if res.Latency != 3*time.Second {
			t.Errorf("latency %s, want the 3s Retry-After wait", res.Latency)
		}
	})

	t.Run("500 then success", func(t *testing.T) {
		t.Parallel()
		s := b.setup(t, policy, Reply{Status: 500, Body: "oops"}, good)
		if _, err := s.reviewer.Review(t.Context(), suiteRequest); err != nil {
			t.Fatalf("Review: %v", err)
		}
		if n := len(s.server.Requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})

	t.Run("slow response beyond the timeout", func(t *testing.T) {
		t.Parallel()
		s := b.setup(t, provider.RetryPolicy{MaxAttempts: 1, PerCallTimeout: 50 * time.Millisecond}, Reply{Hang: true})
		if _, err := s.reviewer.Review(t.Context(), suiteRequest); !errors.Is(err, provider.ErrTimeout) {
			t.Fatalf("Review = %v, want ErrTimeout", err)
		}
	})

	t.Run("truncated body", func(t *testing.T) {
		t.Parallel()
		s := b.setup(t, policy, Reply{Body: good.Body, Truncate: true}, good)
		if _, err := s.reviewer.Review(t.Context(), suiteRequest); err != nil {
			t.Fatalf("Review after one truncated body: %v", err)
		}
		s = b.setup(t, policy, Reply{Body: good.Body, Truncate: true})
		if _, err := s.reviewer.Review(t.Context(), suiteRequest); err == nil {
			t.Fatal("Review succeeded on truncated bodies")
		}
		if n := len(s.server.Requests()); n != 3 {
			t.Errorf("%d requests, want 3 (all attempts)", n)
		}
	})

	t.Run("malformed response JSON", func(t *testing.T) {
		t.Parallel()
		s := b.setup(t, policy, Reply{Body: good.Body[:len(good.Body)/2]})
		if _, err := s.reviewer.Review(t.Context(), suiteRequest); !errors.Is(err, provider.ErrBadResponse) {
			t.Fatalf("Review = %v, want ErrBadResponse", err)
		}
		if n := len(s.server.Requests()); n != 1 {
			t.Errorf("%d requests, want 1 (parse failures are not retried)", n)
		}
	})

	t.Run("non-JSON model content", func(t *testing.T) {
		t.Parallel()
		s := b.setup(t, policy, Reply{Body: b.Answer("The change looks fine to me.", 100, 7)})
		res, err := s.reviewer.Review(t.Context(), suiteRequest)
		if !errors.Is(err, prompt.ErrUnparsable) {
			t.Fatalf("Review = %v, want ErrUnparsable", err)
		}
		if res.Usage.OutputTokens != 7 || res.Usage.CostUSD <= 0 || res.Model != "test-model" {
			t.Errorf("result of an unparsable answer %+v lacks usage", res)
		}
		if n := len(s.server.Requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})

	t.Run("401 not retried", func(t *testing.T) {
		t.Parallel()
		s := b.setup(t, policy, Reply{Status: 401, Body: `{"error":{"message":"invalid key"}}`})
		_, err := s.reviewer.Review(t.Context(), suiteRequest)
		var se *provider.StatusError
		if !errors.As(err, &se) || se.StatusCode != 401 {
			t.Fatalf("Review = %v, want a 401 StatusError", err)
		}
		if n := len(s.server.Requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
		if w := s.clock.Waits(); len(w) != 0 {
			t.Errorf("waited %v before giving up on 401", w)
		}
	})

	t.Run("secrets redacted before sending", func(t *testing.T) {
		t.Parallel()
		samples := redacttest.Samples()
		if len(samples) < 30 {
			t.Fatalf("only %d secret shapes", len(samples))
		}
		req := review.Request{
			ID:         "req-secrets",
			Repository: "acme/app",
			Diff:       redacttest.Diff(samples),
			Files:      map[string]string{"config/all.txt": samples[0].Text + samples[7].Text},
		}
		s := b.setup(t, policy, good)
		if _, err := s.reviewer.Review(t.Context(), req); err != nil {
			t.Fatalf("Review: %v", err)
		}
		reqs := s.server.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		raw := string(reqs[0].Body)
		system, user := b.Prompts(t, reqs[0].Body)
		for _, where := range []string{raw, system + user, headerText(reqs[0].Header)} {
			if leaks := redacttest.Leaks(samples, where); len(leaks) > 0 {
				t.Errorf("secrets of %v left the process", leaks)
			}
		}
		for _, smp := range samples {
			if !strings.Contains(user, "[REDACTED:"+smp.Rule+"]") {
				t.Errorf("no %s placeholder in the prompt", smp.Rule)
			}
		}
	})
}

// headerText flattens request headers for leak checks.
func headerText(h http.Header) string {
	var b strings.Builder
	for k, vs := range h {
		b.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	return b.String()
}

// DecodeJSON unmarshals body into v or fails the test.
func DecodeJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode request body %q: %v", body, err)
	}
}

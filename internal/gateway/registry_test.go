package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/builtin"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestRegistryRefusesWhatItCannotBuild(t *testing.T) {
	t.Parallel()
	reg, err := NewRegistry(RegistryOptions{
		LookupEnv: env(map[string]string{"SET_KEY": "sk-secret-value"}),
		Variants: []coordination.Variant{
			{Name: "cheap", Provider: "builtin"},
			{Name: "loop-a", Strategy: "cascade", Routes: map[string]string{"cheap": "loop-b", "escalate": "cheap"}},
			{Name: "loop-b", Strategy: "cascade", Routes: map[string]string{"cheap": "loop-a", "escalate": "cheap"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		v    coordination.Variant
		want string
	}{
		{"unknown provider", coordination.Variant{Name: "x", Provider: "gemini"}, "unknown provider"},
		{"unknown strategy", coordination.Variant{Name: "x", Strategy: "round_robin"}, "unknown strategy"},
		{"cascade missing route", coordination.Variant{Name: "x", Strategy: "cascade", Routes: map[string]string{"cheap": "cheap"}}, "needs routes cheap and escalate"},
		{"cascade unknown route key", coordination.Variant{Name: "x", Strategy: "cascade", Routes: map[string]string{"cheap": "cheap", "escalate": "cheap", "fast": "cheap"}}, `route "fast" is unknown`},
		{"route to unknown variant", coordination.Variant{Name: "x", Strategy: "cascade", Routes: map[string]string{"cheap": "cheap", "escalate": "gpt-9"}}, `"gpt-9" is not a known variant`},
		{"by_language unknown language", coordination.Variant{Name: "x", Strategy: "by_language", Routes: map[string]string{"cobol": "cheap"}}, `route "cobol" is unknown`},
		{"routes on single", coordination.Variant{Name: "x", Provider: "builtin", Routes: map[string]string{"cheap": "cheap"}}, "routes are set"},
		{"route cycle", coordination.Variant{Name: "x", Strategy: "cascade", Routes: map[string]string{"cheap": "loop-a", "escalate": "cheap"}}, "cycle"},
		{"missing key", coordination.Variant{Name: "x", Provider: "openai", Model: "m", APIKeyEnv: "UNSET_KEY"}, "UNSET_KEY (api_key_env) is not set"},
		{"anthropic needs a key", coordination.Variant{Name: "x", Provider: "anthropic", Model: "m"}, "needs api_key_env"},
		{"openai needs a model", coordination.Variant{Name: "x", Provider: "openai", APIKeyEnv: "SET_KEY"}, "model is required"},
		{"unknown parameter", coordination.Variant{Name: "x", Provider: "builtin", Parameters: map[string]any{"top_k": 3}}, `unknown parameter "top_k"`},
		{"bad parameter type", coordination.Variant{Name: "x", Provider: "openai", Model: "m", Parameters: map[string]any{"temperature": "hot"}}, "parameter temperature"},
		{"simulated without figures", coordination.Variant{Name: "x", Provider: "simulated"}, "needs a simulated block"},
		{"bad prompt", coordination.Variant{Name: "x", Provider: "openai", Model: "m", Prompt: "no diff here"}, "prompt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := reg.Reviewer(tt.v)
			if !errors.Is(err, ErrInvalidVariant) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalidVariant mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "sk-secret-value") {
				t.Fatalf("error leaks the API key: %v", err)
			}
		})
	}
}

func TestNewRegistryRefusesDuplicateNames(t *testing.T) {
	t.Parallel()
	_, err := NewRegistry(RegistryOptions{Variants: []coordination.Variant{{Name: "a", Provider: "builtin"}, {Name: "a", Provider: "builtin"}}})
	if !errors.Is(err, ErrInvalidVariant) {
		t.Fatalf("err = %v, want ErrInvalidVariant", err)
	}
}

// fakeUpstream is an OpenAI-compatible server answering fixed findings.
func fakeUpstream(t testing.TB, findings string) (*httptest.Server, *[]http.Header) {
	t.Helper()
	var mu sync.Mutex
	var headers []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		headers = append(headers, r.Header.Clone())
		mu.Unlock()
		content, _ := json.Marshal(`{"summary":"one issue","findings":` + findings + `}`)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"choices":[{"message":{"role":"assistant","content":`+string(content)+`}}],"usage":{"prompt_tokens":1000,"completion_tokens":100}}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &headers
}

func TestOpenAIVariantCallsItsEndpointWithTheKey(t *testing.T) {
	t.Parallel()
	srv, headers := fakeUpstream(t, `[{"file":"store/users.go","line":5,"severity":"high","category":"security","rule":"sqli","message":"m","suggestion":"s"}]`)
	reg, err := NewRegistry(RegistryOptions{LookupEnv: env(map[string]string{"K": "sk-test"})})
	if err != nil {
		t.Fatal(err)
	}
	v := coordination.Variant{Name: "gpt", Provider: "openai", Model: "gpt-x", BaseURL: srv.URL, APIKeyEnv: "K",
		Prices: coordination.Prices{InputPerMTok: 1, OutputPerMTok: 10}, Parameters: map[string]any{"temperature": 0.1, "max_attempts": 1}}
	rv, err := reg.Reviewer(v)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := reg.Reviewer(v); again != rv {
		t.Error("the registry built the same variant twice (its breaker would reset)")
	}
	res, err := rv.Review(context.Background(), review.Request{ID: "r1", Repository: "org/a", Diff: goDiff})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Line != 5 {
		t.Errorf("findings %+v", res.Findings)
	}
	if want := 1000.0/1e6*1 + 100.0/1e6*10; res.Usage.CostUSD != want {
		t.Errorf("cost %v, want %v", res.Usage.CostUSD, want)
	}
	if got := (*headers)[0].Get("Authorization"); got != "Bearer sk-test" {
		t.Errorf("Authorization = %q", got)
	}
}

func TestSimulatedVariantIsSeeded(t *testing.T) {
	t.Parallel()
	reg, err := NewRegistry(RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v := coordination.Variant{Name: "sim", Provider: "simulated", Model: "sim-1",
		Simulated: &coordination.Simulated{Accuracy: 0.5, ErrorRate: 0.2, OutputTokens: 77}}
	a, err := reg.Reviewer(v)
	if err != nil {
		t.Fatal(err)
	}
	reg2, _ := NewRegistry(RegistryOptions{})
	b, err := reg2.Reviewer(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"r1", "r2", "r3", "r4", "r5", "r6"} {
		req := review.Request{ID: id, Repository: "org/a", Diff: goDiff}
		ra, ea := a.Review(context.Background(), req)
		rb, eb := b.Review(context.Background(), req)
		if (ea == nil) != (eb == nil) || len(ra.Findings) != len(rb.Findings) {
			t.Fatalf("request %s: two registries disagree: %v/%v, %d/%d findings", id, ea, eb, len(ra.Findings), len(rb.Findings))
		}
		if ea == nil && ra.Usage.OutputTokens != 77 {
			t.Errorf("output tokens %d, want the configured 77", ra.Usage.OutputTokens)
		}
	}
}

func TestCascadeEscalates(t *testing.T) {
	t.Parallel()
	low := review.Finding{File: "a.go", Line: 1, Severity: review.SeverityLow, Category: "maintainability"}
	high := review.Finding{File: "a.go", Line: 1, Severity: review.SeverityHigh, Category: "security"}
	const sensitive = "--- a/internal/auth/login.go\n+++ b/internal/auth/login.go\n@@ -1,1 +1,2 @@\n package auth\n+var x = 1\n"
	tests := []struct {
		name                 string
		cheap                *fakeReviewer
		diff                 string
		wantCheap, wantEscal int
		wantTokens           int64
	}{
		{"low findings stay cheap", returns(low), goDiff, 1, 0, 100},
		{"high finding escalates", returns(high), goDiff, 1, 1, 200},
		{"sensitive path skips cheap", returns(low), sensitive, 0, 1, 100},
		{"cheap failure escalates", &fakeReviewer{fn: func(context.Context, review.Request) (review.Result, error) {
			return review.Result{}, errors.New("down")
		}}, goDiff, 1, 1, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			esc := returns(high)
			reg, err := NewRegistry(RegistryOptions{
				Variants:  []coordination.Variant{{Name: "c", Provider: "builtin"}, {Name: "e", Provider: "builtin"}},
				Reviewers: map[string]review.Reviewer{"c": tt.cheap, "e": esc},
			})
			if err != nil {
				t.Fatal(err)
			}
			rv, err := reg.Reviewer(coordination.Variant{Name: "casc", Strategy: "cascade", Routes: map[string]string{"cheap": "c", "escalate": "e"}})
			if err != nil {
				t.Fatal(err)
			}
			res, err := rv.Review(context.Background(), review.Request{ID: "r", Diff: tt.diff})
			if err != nil {
				t.Fatal(err)
			}
			if tt.cheap.n() != tt.wantCheap || esc.n() != tt.wantEscal {
				t.Errorf("cheap called %d, escalate %d; want %d, %d", tt.cheap.n(), esc.n(), tt.wantCheap, tt.wantEscal)
			}
			if res.Usage.InputTokens != tt.wantTokens {
				t.Errorf("input tokens %d, want %d (both calls counted)", res.Usage.InputTokens, tt.wantTokens)
			}
		})
	}
}

func TestByLanguageRoutesEachFileAndMerges(t *testing.T) {
	t.Parallel()
	goRv := &fakeReviewer{}
	goRv.fn = func(_ context.Context, req review.Request) (review.Result, error) {
		if strings.Contains(req.Diff, "views.py") {
			return review.Result{}, errors.New("python sent to the go reviewer")
		}
		return review.Result{Findings: []review.Finding{{File: "store/users.go", Line: 5, Category: "security"}}, Model: "go-model",
			Usage: review.Usage{InputTokens: 10}}, nil
	}
	def := &fakeReviewer{}
	def.fn = func(_ context.Context, req review.Request) (review.Result, error) {
		if strings.Contains(req.Diff, "users.go") {
			return review.Result{}, errors.New("go sent to the default reviewer")
		}
		return review.Result{Findings: []review.Finding{{File: "app/views.py", Line: 4, Category: "security"}}, Model: "default-model",
			Usage: review.Usage{InputTokens: 5}}, nil
	}
	reg, err := NewRegistry(RegistryOptions{
		Variants:  []coordination.Variant{{Name: "g", Provider: "builtin"}, {Name: "d", Provider: "builtin"}},
		Reviewers: map[string]review.Reviewer{"g": goRv, "d": def},
	})
	if err != nil {
		t.Fatal(err)
	}
	rv, err := reg.Reviewer(coordination.Variant{Name: "bl", Strategy: "by_language", Routes: map[string]string{"go": "g", "default": "d"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := rv.Review(context.Background(), review.Request{ID: "r", Diff: goDiff + pyDiff})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 2 || res.Findings[0].File != "app/views.py" || res.Findings[1].File != "store/users.go" {
		t.Errorf("merged findings %+v", res.Findings)
	}
	if res.Usage.InputTokens != 15 || res.Model != "go-model+default-model" && res.Model != "default-model+go-model" {
		t.Errorf("usage %+v model %q", res.Usage, res.Model)
	}
	// The routed sub-diff keeps the original line numbers.
	b := builtin.New(builtin.Options{})
	whole, _ := b.Review(context.Background(), review.Request{ID: "w", Diff: goDiff})
	part, _ := b.Review(context.Background(), review.Request{ID: "p", Diff: renderDiff(mustParse(t, goDiff+pyDiff)[:1])})
	if len(whole.Findings) == 0 || len(part.Findings) != len(whole.Findings) || part.Findings[0].Line != whole.Findings[0].Line {
		t.Errorf("sub-diff findings %+v, whole-diff findings %+v", part.Findings, whole.Findings)
	}
}

func TestByLanguageWithoutDefaultRefusesOtherLanguages(t *testing.T) {
	t.Parallel()
	reg, err := NewRegistry(RegistryOptions{Variants: []coordination.Variant{{Name: "g", Provider: "builtin"}}})
	if err != nil {
		t.Fatal(err)
	}
	rv, err := reg.Reviewer(coordination.Variant{Name: "bl", Strategy: "by_language", Routes: map[string]string{"go": "g"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rv.Review(context.Background(), review.Request{ID: "r", Diff: pyDiff}); err == nil || !strings.Contains(err.Error(), "no route") {
		t.Errorf("err = %v, want a missing-route error", err)
	}
}

func TestSecuritySensitive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path  string
		added []string
		want  bool
	}{
		{"internal/auth/session.go", nil, true},
		{"src/AuthService.java", nil, true},
		{"pkg/crypto/aes.go", nil, true},
		{"billing/invoice.py", nil, true},
		{"deploy/.env.production", nil, true},
		{"certs/server.pem", nil, true},
		{"config/app.yaml", []string{"  db_password: hunter2"}, true},
		{"config/app.yaml", []string{"  replicas: 3"}, false},
		{"docs/AUTHORS.md", nil, false},
		{"internal/render/page.go", nil, false},
		{"web/keyboard.ts", nil, false},
	}
	for _, tt := range tests {
		if got, why := SecuritySensitive(tt.path, tt.added); got != tt.want {
			t.Errorf("SecuritySensitive(%q, %q) = %v (%s), want %v", tt.path, tt.added, got, why, tt.want)
		}
	}
}

func TestEvalScoresAVariant(t *testing.T) {
	t.Parallel()
	reg, err := NewRegistry(RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cases := loadGolden(t)
	rep, err := Eval(context.Background(), reg, coordination.Variant{Name: "baseline", Provider: "builtin"}, cases)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Cases) != len(cases) || rep.Accuracy() < 0.8 {
		t.Errorf("builtin scored %d cases, accuracy %.3f", len(rep.Cases), rep.Accuracy())
	}
	if _, err := Eval(context.Background(), reg, coordination.Variant{Name: "x", Provider: "nope"}, cases); !errors.Is(err, ErrInvalidVariant) {
		t.Errorf("unknown provider: err = %v", err)
	}
}

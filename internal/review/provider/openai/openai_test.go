package openai_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/provider"
	"github.com/tricyclehq/tricycle/internal/review/provider/openai"
	"github.com/tricyclehq/tricycle/internal/review/provider/providertest"
)

// sentRequest is what the fake server decodes from a request body.
type sentRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Temperature    *float64 `json:"temperature"`
	MaxTokens      int      `json:"max_tokens"`
	ResponseFormat *struct {
		Type string `json:"type"`
	} `json:"response_format"`
}

func answer(text string, in, out int64) string {
	b, _ := json.Marshal(map[string]any{
		"id":      "chatcmpl-1",
		"object":  "chat.completion",
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "finish_reason": "stop"}},
		"usage":   map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out},
	})
	return string(b)
}

func prompts(t *testing.T, body []byte) (string, string) {
	t.Helper()
	var r sentRequest
	providertest.DecodeJSON(t, body, &r)
	if len(r.Messages) != 2 || r.Messages[0].Role != "system" || r.Messages[1].Role != "user" {
		t.Fatalf("messages %+v, want system then user", r.Messages)
	}
	return r.Messages[0].Content, r.Messages[1].Content
}

func TestReviewerSuite(t *testing.T) {
	t.Parallel()
	providertest.RunReviewerSuite(t, providertest.Backend{
		New: func(t *testing.T, baseURL string, caller *provider.Caller, prices provider.Prices) review.Reviewer {
			r, err := openai.New(openai.Config{BaseURL: baseURL + "/v1", Model: "test-model", APIKey: "k", Prices: prices, Caller: caller})
			if err != nil {
				t.Fatal(err)
			}
			return r
		},
		Answer:  answer,
		Prompts: prompts,
		Path:    "/v1/chat/completions",
	})
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	srv := providertest.NewServer(t, providertest.Reply{Body: answer(`{"findings":[]}`, 1, 1)})
	r, err := openai.New(openai.Config{
		BaseURL: srv.URL + "/v1/", Model: "gpt-test", APIKey: "key-123", Temperature: 0.2, MaxTokens: 900, JSONMode: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Review(t.Context(), review.Request{ID: "1", Diff: "+x\n"}); err != nil {
		t.Fatal(err)
	}
	got := srv.Requests()[0]
	if got.Path != "/v1/chat/completions" {
		t.Errorf("path %s", got.Path)
	}
	if h := got.Header.Get("Authorization"); h != "Bearer key-123" {
		t.Errorf("Authorization %q", h)
	}
	var body sentRequest
	providertest.DecodeJSON(t, got.Body, &body)
	if body.Model != "gpt-test" || body.Temperature == nil || *body.Temperature != 0.2 || body.MaxTokens != 900 ||
		body.ResponseFormat == nil || body.ResponseFormat.Type != "json_object" {
		t.Errorf("request body %s", got.Body)
	}
}

func TestNoKeyNoJSONMode(t *testing.T) {
	t.Parallel()
	srv := providertest.NewServer(t, providertest.Reply{Body: `{"choices":[{"message":{"content":"{\"findings\":[]}"}}]}`})
	r, err := openai.New(openai.Config{BaseURL: srv.URL, Model: "llama3"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Review(t.Context(), review.Request{ID: "1", Diff: "+x\n"})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Requests()[0]
	if h := got.Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization %q sent without a key", h)
	}
	if strings.Contains(string(got.Body), "response_format") || strings.Contains(string(got.Body), "max_tokens") {
		t.Errorf("optional fields sent: %s", got.Body)
	}
	// Without usage in the answer, tokens are estimated.
	if res.Usage.InputTokens <= 0 || res.Usage.OutputTokens <= 0 {
		t.Errorf("usage not estimated: %+v", res.Usage)
	}
}

func TestBadEnvelopes(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{"choices":[]}`, `{"choices":[{"message":{"content":null}}]}`} {
		srv := providertest.NewServer(t, providertest.Reply{Body: body})
		r, _ := openai.New(openai.Config{BaseURL: srv.URL, Model: "m"})
		if _, err := r.Review(t.Context(), review.Request{Diff: "+x\n"}); err == nil {
			t.Errorf("answer %s accepted", body)
		}
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	bad := []openai.Config{
		{Model: ""},
		{Model: "m", BaseURL: "ftp://x"},
		{Model: "m", Temperature: 3},
		{Model: "m", MaxTokens: -1},
		{Model: "m", Template: "{{.Repository}} only"},
		{Model: "m", Prices: provider.Prices{InputPerMTok: -1}},
	}
	for _, cfg := range bad {
		if _, err := openai.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted an invalid config", cfg)
		}
	}
	if _, err := openai.New(openai.Config{Model: "m"}); err != nil {
		t.Errorf("New with defaults: %v", err)
	}
}

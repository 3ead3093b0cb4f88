package anthropic_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/prompt"
	"github.com/tricyclehq/tricycle/internal/review/provider"
	"github.com/tricyclehq/tricycle/internal/review/provider/anthropic"
	"github.com/tricyclehq/tricycle/internal/review/provider/providertest"
)

// sentRequest is what the fake server decodes from a request body.
type sentRequest struct {
	Model     string `json:"model"`
	MaxTokens int    `json:"max_tokens"`
	System    string `json:"system"`
	Messages  []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Temperature *float64 `json:"temperature"`
}

func answer(text string, in, out int64) string {
	b, _ := json.Marshal(map[string]any{
		"id":          "msg_1",
		"type":        "message",
		"role":        "assistant",
		"model":       "test-model",
		"content":     []any{map[string]any{"type": "text", "text": text}},
		"stop_reason": "end_turn",
		"usage":       map[string]any{"input_tokens": in, "output_tokens": out},
	})
	return string(b)
}

func prompts(t *testing.T, body []byte) (string, string) {
	t.Helper()
	var r sentRequest
	providertest.DecodeJSON(t, body, &r)
	if len(r.Messages) != 1 || r.Messages[0].Role != "user" {
		t.Fatalf("messages %+v, want one user message", r.Messages)
	}
	return r.System, r.Messages[0].Content
}

func newReviewer(t *testing.T, cfg anthropic.Config) *anthropic.Reviewer {
	t.Helper()
	r, err := anthropic.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReviewerSuite(t *testing.T) {
	t.Parallel()
	providertest.RunReviewerSuite(t, providertest.Backend{
		New: func(t *testing.T, baseURL string, caller *provider.Caller, prices provider.Prices) review.Reviewer {
			return newReviewer(t, anthropic.Config{BaseURL: baseURL, Model: "test-model", APIKey: "k", Prices: prices, Caller: caller})
		},
		Answer:  answer,
		Prompts: prompts,
		Path:    "/v1/messages",
	})
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	srv := providertest.NewServer(t, providertest.Reply{Body: answer(`{"findings":[]}`, 1, 1)})
	r := newReviewer(t, anthropic.Config{BaseURL: srv.URL + "/", Model: "claude-test", APIKey: "key-123", Temperature: 0.3})
	if _, err := r.Review(t.Context(), review.Request{ID: "1", Diff: "+x\n"}); err != nil {
		t.Fatal(err)
	}
	got := srv.Requests()[0]
	if got.Path != "/v1/messages" {
		t.Errorf("path %s", got.Path)
	}
	if got.Header.Get("X-Api-Key") != "key-123" || got.Header.Get("Anthropic-Version") != "2023-06-01" {
		t.Errorf("headers %v", got.Header)
	}
	if got.Header.Get("Authorization") != "" {
		t.Error("Authorization header sent to Anthropic")
	}
	var body sentRequest
	providertest.DecodeJSON(t, got.Body, &body)
	if body.Model != "claude-test" || body.MaxTokens != anthropic.DefaultMaxTokens || body.System == "" ||
		body.Temperature == nil || *body.Temperature != 0.3 {
		t.Errorf("request body %s", got.Body)
	}
}

func TestContentBlocks(t *testing.T) {
	t.Parallel()
	body := `{"content":[{"type":"text","text":"{\"summary\":\"a\","},{"type":"tool_use","id":"x"},{"type":"text","text":"\"findings\":[]}"}],"usage":{"input_tokens":5,"output_tokens":6}}`
	srv := providertest.NewServer(t, providertest.Reply{Body: body})
	r := newReviewer(t, anthropic.Config{BaseURL: srv.URL, Model: "m", APIKey: "k"})
	res, err := r.Review(t.Context(), review.Request{Diff: "+x\n"})
	if err != nil || res.Summary != "a" || res.Usage.OutputTokens != 6 {
		t.Errorf("Review = %+v, %v; want text blocks joined", res, err)
	}

	// No text blocks at all is an unparsable answer.
	srv = providertest.NewServer(t, providertest.Reply{Body: `{"content":[],"usage":{"input_tokens":5,"output_tokens":0}}`})
	r = newReviewer(t, anthropic.Config{BaseURL: srv.URL, Model: "m", APIKey: "k"})
	if _, err := r.Review(t.Context(), review.Request{Diff: "+x\n"}); !errors.Is(err, prompt.ErrUnparsable) {
		t.Errorf("empty content: %v, want ErrUnparsable", err)
	}

	srv = providertest.NewServer(t, providertest.Reply{Body: `{"type":"message"}`})
	r = newReviewer(t, anthropic.Config{BaseURL: srv.URL, Model: "m", APIKey: "k"})
	if _, err := r.Review(t.Context(), review.Request{Diff: "+x\n"}); !errors.Is(err, provider.ErrBadResponse) {
		t.Errorf("missing content: %v, want ErrBadResponse", err)
	}
}

func TestOverloadedRetried(t *testing.T) {
	t.Parallel()
	srv := providertest.NewServer(t,
		providertest.Reply{Status: 529, Body: `{"type":"error","error":{"type":"overloaded_error"}}`},
		providertest.Reply{Body: answer(`{"findings":[]}`, 1, 1)})
	caller, err := provider.NewCaller(provider.CallerConfig{Clock: providertest.NewClock(providertest.Epoch)})
	if err != nil {
		t.Fatal(err)
	}
	r := newReviewer(t, anthropic.Config{BaseURL: srv.URL, Model: "m", APIKey: "k", Caller: caller})
	if _, err := r.Review(t.Context(), review.Request{Diff: "+x\n"}); err != nil {
		t.Fatalf("Review after 529: %v", err)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	bad := []anthropic.Config{
		{APIKey: "k"},
		{Model: "m"},
		{Model: "m", APIKey: "k", BaseURL: "file:///etc"},
		{Model: "m", APIKey: "k", Temperature: 1.5},
		{Model: "m", APIKey: "k", MaxTokens: -5},
		{Model: "m", APIKey: "k", Template: "{{.Nope}}"},
	}
	for _, cfg := range bad {
		if _, err := anthropic.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted an invalid config", cfg)
		}
	}
}

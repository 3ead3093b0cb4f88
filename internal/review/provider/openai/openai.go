// Package openai reviews code with any OpenAI-compatible chat completions
// endpoint (OpenAI, vLLM, Ollama, LiteLLM and others): POST
// {base_url}/chat/completions with a system and a user message.
//
// Requests are redacted and fenced by provider.Pipeline before they are
// sent; calls go through a provider.Caller, which retries transient failures
// and trips a circuit breaker. The answer in choices[0].message.content is
// parsed strictly with prompt.ParseFindings; token use comes from
// usage.prompt_tokens and usage.completion_tokens, or is estimated from the
// text length when the endpoint does not report it.
package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/prompt"
	"github.com/tricyclehq/tricycle/internal/review/provider"
)

// DefaultBaseURL is OpenAI's API.
const DefaultBaseURL = "https://api.openai.com/v1"

// Config configures a Reviewer.
type Config struct {
	// BaseURL is the API root, ending before /chat/completions; "" means
	// DefaultBaseURL.
	BaseURL string
	// Model is the model name sent with every request; required.
	Model string
	// APIKey is sent as a Bearer token when non-empty (the caller reads it
	// from the variant's api_key_env). Local servers often need none.
	APIKey string
	// Template is the user-prompt template; "" means prompt.DefaultTemplate.
	Template string
	// Temperature is the sampling temperature, from 0 to 2.
	Temperature float64
	// MaxTokens bounds the answer's length; 0 leaves it to the server.
	MaxTokens int
	// JSONMode sends response_format {"type": "json_object"}, which OpenAI
	// and most compatible servers use to force a JSON answer.
	JSONMode bool
	// Prices turn token use into cost.
	Prices provider.Prices
	// Caller sends requests; nil means a Caller with default settings.
	Caller *provider.Caller
}

// Reviewer is a review.Reviewer backed by a chat completions endpoint. It is
// safe for concurrent use.
type Reviewer struct {
	cfg    Config
	url    string           // {base}/chat/completions
	caller *provider.Caller // non-nil
	pipe   provider.Pipeline
}

var _ review.Reviewer = (*Reviewer)(nil)

// New validates cfg and returns a Reviewer.
func New(cfg Config) (*Reviewer, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	base, err := provider.ParseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("openai: %w", err)
	}
	if err := validate(cfg); err != nil {
		return nil, fmt.Errorf("openai: %w", err)
	}
	caller := cfg.Caller
	if caller == nil {
		if caller, err = provider.NewCaller(provider.CallerConfig{}); err != nil {
			return nil, fmt.Errorf("openai: %w", err)
		}
	}
	compiled, err := prompt.Compile(cfg.Template)
	if err != nil {
		return nil, fmt.Errorf("openai: prompt template: %w", err)
	}
	return &Reviewer{
		cfg:    cfg,
		url:    base + "/chat/completions",
		caller: caller,
		pipe:   provider.Pipeline{Template: cfg.Template, Compiled: compiled, Model: cfg.Model, Prices: cfg.Prices, Clock: caller.Clock()},
	}, nil
}

// validate checks the fields New does not default.
func validate(cfg Config) error {
	switch {
	case cfg.Model == "":
		return errors.New("model is required")
	case cfg.Temperature < 0 || cfg.Temperature > 2:
		return fmt.Errorf("temperature %v outside [0, 2]", cfg.Temperature)
	case cfg.MaxTokens < 0:
		return fmt.Errorf("max tokens %d must be >= 0", cfg.MaxTokens)
	}
	if err := cfg.Prices.Validate(); err != nil {
		return err
	}
	if err := prompt.Validate(cfg.Template); err != nil {
		return fmt.Errorf("prompt template: %w", err)
	}
	return nil
}

// Review asks the model to review req.
func (r *Reviewer) Review(ctx context.Context, req review.Request) (review.Result, error) {
	return r.pipe.Run(ctx, req, r.complete)
}

// chatRequest is the request body of /chat/completions.
type chatRequest struct {
	Model          string          `json:"model"`
	Messages       []message       `json:"messages"`
	Temperature    float64         `json:"temperature"`
	MaxTokens      int             `json:"max_tokens,omitempty"`
	ResponseFormat *responseFormat `json:"response_format,omitempty"`
}

// message is one chat message.
type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// responseFormat asks for a JSON answer.
type responseFormat struct {
	Type string `json:"type"`
}

// chatResponse is the part of a /chat/completions response that is used.
type chatResponse struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
}

// complete sends one chat completion.
func (r *Reviewer) complete(ctx context.Context, system, user string) (provider.Completion, error) {
	body := chatRequest{
		Model:       r.cfg.Model,
		Messages:    []message{{Role: "system", Content: system}, {Role: "user", Content: user}},
		Temperature: r.cfg.Temperature,
		MaxTokens:   r.cfg.MaxTokens,
	}
	if r.cfg.JSONMode {
		body.ResponseFormat = &responseFormat{Type: "json_object"}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return provider.Completion{}, fmt.Errorf("encode chat request: %w", err)
	}
	header := http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}
	if r.cfg.APIKey != "" {
		header.Set("Authorization", "Bearer "+r.cfg.APIKey)
	}
	resp, err := r.caller.Do(ctx, provider.HTTPRequest{Method: http.MethodPost, URL: r.url, Header: header, Body: raw})
	if err != nil {
		return provider.Completion{}, err
	}
	var cr chatResponse
	if err := json.Unmarshal(resp.Body, &cr); err != nil {
		return provider.Completion{}, fmt.Errorf("%w: decode chat completion: %w", provider.ErrBadResponse, err)
	}
	if len(cr.Choices) == 0 {
		return provider.Completion{}, fmt.Errorf("%w: chat completion has no choices", provider.ErrBadResponse)
	}
	var text string
	if c := cr.Choices[0].Message.Content; c != nil {
		text = *c
	}
	out := provider.Completion{Text: text}
	if cr.Usage != nil {
		out.InputTokens, out.OutputTokens = cr.Usage.PromptTokens, cr.Usage.CompletionTokens
	} else {
		out.InputTokens = provider.EstimateTokens(system) + provider.EstimateTokens(user)
		out.OutputTokens = provider.EstimateTokens(text)
	}
	return out, nil
}

// Package anthropic reviews code with Anthropic's Messages API: POST
// {base_url}/v1/messages with x-api-key and anthropic-version headers, a
// system prompt and one user message.
//
// Requests are redacted and fenced by provider.Pipeline before they are
// sent; calls go through a provider.Caller, which retries transient failures
// (429, 5xx including 529 "overloaded", timeouts) and trips a circuit
// breaker. The text blocks of content[] are joined and parsed strictly with
// prompt.ParseFindings; token use comes from usage.input_tokens and
// usage.output_tokens.
package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/prompt"
	"github.com/tricyclehq/tricycle/internal/review/provider"
)

// DefaultBaseURL is Anthropic's API.
const DefaultBaseURL = "https://api.anthropic.com"

// APIVersion is the anthropic-version header sent with every request.
const APIVersion = "2023-06-01"

// DefaultMaxTokens bounds the answer when Config.MaxTokens is zero; the API
// requires a bound.
const DefaultMaxTokens = 4096

// Config configures a Reviewer.
type Config struct {
	// BaseURL is the API root, ending before /v1/messages; "" means
	// DefaultBaseURL.
	BaseURL string
	// Model is the model name sent with every request; required.
	Model string
	// APIKey is sent as x-api-key (the caller reads it from the variant's
	// api_key_env); required.
	APIKey string
	// Template is the user-prompt template; "" means prompt.DefaultTemplate.
	Template string
	// Temperature is the sampling temperature, from 0 to 1.
	Temperature float64
	// MaxTokens bounds the answer's length; 0 means DefaultMaxTokens.
	MaxTokens int
	// Prices turn token use into cost.
	Prices provider.Prices
	// Caller sends requests; nil means a Caller with default settings.
	Caller *provider.Caller
}

// Reviewer is a review.Reviewer backed by the Messages API. It is safe for
// concurrent use.
type Reviewer struct {
	cfg    Config           // defaults applied
	url    string           // {base}/v1/messages
	caller *provider.Caller // non-nil
	pipe   provider.Pipeline
}

var _ review.Reviewer = (*Reviewer)(nil)

// New validates cfg and returns a Reviewer.
func New(cfg Config) (*Reviewer, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	base, err := provider.ParseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("anthropic: %w", err)
	}
	if err := validate(cfg); err != nil {
		return nil, fmt.Errorf("anthropic: %w", err)
	}
	caller := cfg.Caller
	if caller == nil {
		if caller, err = provider.NewCaller(provider.CallerConfig{}); err != nil {
			return nil, fmt.Errorf("anthropic: %w", err)
		}
	}
	compiled, err := prompt.Compile(cfg.Template)
	if err != nil {
		return nil, fmt.Errorf("anthropic: prompt template: %w", err)
	}
	return &Reviewer{
		cfg:    cfg,
		url:    base + "/v1/messages",
		caller: caller,
		pipe:   provider.Pipeline{Template: cfg.Template, Compiled: compiled, Model: cfg.Model, Prices: cfg.Prices, Clock: caller.Clock()},
	}, nil
}

// validate checks the fields New does not default.
func validate(cfg Config) error {
	switch {
	case cfg.Model == "":
		return errors.New("model is required")
	case cfg.APIKey == "":
		return errors.New("API key is required")
	case cfg.Temperature < 0 || cfg.Temperature > 1:
		return fmt.Errorf("temperature %v outside [0, 1]", cfg.Temperature)
	case cfg.MaxTokens < 0:
		return fmt.Errorf("max tokens %d must be > 0", cfg.MaxTokens)
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

// messagesRequest is the request body of /v1/messages.
type messagesRequest struct {
	Model       string    `json:"model"`
	MaxTokens   int       `json:"max_tokens"`
	System      string    `json:"system"`
	Messages    []message `json:"messages"`
	Temperature float64   `json:"temperature"`
}

// message is one conversation turn.
type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// messagesResponse is the part of a /v1/messages response that is used.
type messagesResponse struct {
	Content *[]struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	Usage struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	} `json:"usage"`
}

// complete sends one Messages API request.
func (r *Reviewer) complete(ctx context.Context, system, user string) (provider.Completion, error) {
	raw, err := json.Marshal(messagesRequest{
		Model:       r.cfg.Model,
		MaxTokens:   r.cfg.MaxTokens,
		System:      system,
		Messages:    []message{{Role: "user", Content: user}},
		Temperature: r.cfg.Temperature,
	})
	if err != nil {
		return provider.Completion{}, fmt.Errorf("encode messages request: %w", err)
	}
	header := http.Header{
		"Content-Type":      {"application/json"},
		"Accept":            {"application/json"},
		"X-Api-Key":         {r.cfg.APIKey},
		"Anthropic-Version": {APIVersion},
	}
	resp, err := r.caller.Do(ctx, provider.HTTPRequest{Method: http.MethodPost, URL: r.url, Header: header, Body: raw})
	if err != nil {
		return provider.Completion{}, err
	}
	var mr messagesResponse
	if err := json.Unmarshal(resp.Body, &mr); err != nil {
		return provider.Completion{}, fmt.Errorf("%w: decode messages response: %w", provider.ErrBadResponse, err)
	}
	if mr.Content == nil {
		return provider.Completion{}, fmt.Errorf("%w: messages response has no content", provider.ErrBadResponse)
	}
	var text strings.Builder
	for _, block := range *mr.Content {
		if block.Type == "text" {
			text.WriteString(block.Text)
		}
	}
	return provider.Completion{Text: text.String(), InputTokens: mr.Usage.InputTokens, OutputTokens: mr.Usage.OutputTokens}, nil
}

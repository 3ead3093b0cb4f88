package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tricyclehq/tricycle/internal/httpapi"
	"net/http"
	"strings"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
)

// ModelAlias is the model name that always means "the production review
// service" on the OpenAI-compatible endpoints; the production variant's
// name is accepted too.
const ModelAlias = "tricycle"

// RepositoryHeader optionally names the repository of a chat completion
// request: the sticky routing key, as "repository" is for the reviews API.
const RepositoryHeader = "X-Tricycle-Repository"

// ReviewIDHeader carries the review ID of a chat completion's answer, for
// GET /api/v1/reviews/{id} and feedback.
const ReviewIDHeader = "X-Tricycle-Review-Id"

// errModelNotFound means the model field names no alias of the service.
var errModelNotFound = errors.New("model not found")

// ChatMessage is one message of a chat completion request. Content is a
// string or an array of parts of which the "text" ones are read.
type ChatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	Name    string          `json:"name,omitempty"`
}

// ChatRequest is the body of POST /v1/chat/completions. Sampling fields are
// accepted for compatibility and ignored: the variant's configuration
// decides. Streaming and n > 1 are refused; unknown fields are refused.
type ChatRequest struct {
	Model               string            `json:"model"`
	Messages            []ChatMessage     `json:"messages"`
	Temperature         *float64          `json:"temperature,omitempty"`
	TopP                *float64          `json:"top_p,omitempty"`
	MaxTokens           *int              `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int              `json:"max_completion_tokens,omitempty"`
	N                   *int              `json:"n,omitempty"`
	Stream              bool              `json:"stream,omitempty"`
	Seed                *int64            `json:"seed,omitempty"`
	Stop                json.RawMessage   `json:"stop,omitempty"`
	PresencePenalty     *float64          `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64          `json:"frequency_penalty,omitempty"`
	ResponseFormat      json.RawMessage   `json:"response_format,omitempty"`
	User                string            `json:"user,omitempty"`
	Metadata            map[string]string `json:"metadata,omitempty"`
}

// ChatCompletion is the answer of POST /v1/chat/completions; the message
// content is the review as JSON: {"summary", "findings": [...]}.
type ChatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []ChatChoice `json:"choices"`
	Usage   ChatUsage    `json:"usage"`
}

// ChatChoice is the one choice of a ChatCompletion.
type ChatChoice struct {
	Index        int           `json:"index"`
	Message      ChatAnswerMsg `json:"message"`
	FinishReason string        `json:"finish_reason"`
}

// ChatAnswerMsg is the assistant's message.
type ChatAnswerMsg struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatUsage is a ChatCompletion's token use.
type ChatUsage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

// ModelList is the answer of GET /v1/models.
type ModelList struct {
	Object string      `json:"object"`
	Data   []ModelInfo `json:"data"`
}

// ModelInfo is one entry of a ModelList.
type ModelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// chatError is OpenAI's error body.
type chatError struct {
	Error chatErrorDetail `json:"error"`
}

type chatErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// chatGuard is guard with OpenAI's error format.
func (g *Gateway) chatGuard(perm coordination.Permission, h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body, err := func() (int, any, error) {
			if a := coordination.ActorFrom(r.Context()); !a.Role.Allowed(perm) {
				return 0, nil, fmt.Errorf("%w: role %q lacks permission %q", coordination.ErrForbidden, a.Role, perm)
			}
			return h(w, r)
		}()
		if err == nil {
			httpapi.WriteJSON(w, status, body)
			return
		}
		st, code := statusOf(err)
		if errors.Is(err, errModelNotFound) {
			st, code = http.StatusNotFound, "model_not_found"
		}
		typ := "invalid_request_error"
		if st >= 500 {
			typ = "api_error"
			g.log.Warn("chat completions error", "path", r.URL.Path, "status", st, "err", err)
		}
		httpapi.WriteJSON(w, st, chatError{Error: chatErrorDetail{Message: publicMessage(st, code, err), Type: typ, Code: code}})
	})
}

func (g *Gateway) handleChat(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var in ChatRequest
	if err := decodeBody(w, r, &in, g.maxBody()); err != nil {
		return 0, nil, err
	}
	diffText, err := in.diff()
	if err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	prod, err := g.ProductionVariant(ctx)
	if err != nil {
		return 0, nil, err
	}
	if in.Model != ModelAlias && in.Model != prod {
		return 0, nil, fmt.Errorf("%w: the model %q does not exist (use %q or %q)", errModelNotFound, in.Model, ModelAlias, prod)
	}
	repo := r.Header.Get(RepositoryHeader)
	if repo != "" && (len(repo) > 200 || !repositoryRE.MatchString(repo)) {
		return 0, nil, invalid(RepositoryHeader, "%q is not a repository name such as org/repo", repo)
	}
	res, err := g.Review(ctx, review.Request{Repository: repo, Client: coordination.ActorFrom(ctx).Name, Diff: diffText})
	if err != nil {
		return 0, nil, err
	}
	content, err := json.Marshal(struct {
		Summary  string           `json:"summary"`
		Findings []review.Finding `json:"findings"`
	}{res.Summary, res.Findings})
	if err != nil {
		return 0, nil, fmt.Errorf("encode chat answer: %w", err)
	}
	w.Header().Set(ReviewIDHeader, res.ReviewID)
	u := res.Usage
	return http.StatusOK, ChatCompletion{ID: "chatcmpl-" + res.ReviewID, Object: "chat.completion",
		Created: res.CreatedAt.Unix(), Model: in.Model,
		Choices: []ChatChoice{{Message: ChatAnswerMsg{Role: "assistant", Content: string(content)}, FinishReason: "stop"}},
		Usage:   ChatUsage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, TotalTokens: u.InputTokens + u.OutputTokens},
	}, nil
}

// diff checks the request and returns the content of its last user message.
func (in ChatRequest) diff() (string, error) {
	if in.Model == "" {
		return "", invalid("model", "is required")
	}
	if in.Stream {
		return "", invalid("stream", "streaming is not supported")
	}
	if in.N != nil && *in.N != 1 {
		return "", invalid("n", "only one choice is supported")
	}
	if len(in.Messages) == 0 {
		return "", invalid("messages", "at least one message is required")
	}
	for i := len(in.Messages) - 1; i >= 0; i-- {
		m := in.Messages[i]
		if m.Role != "user" {
			continue
		}
		text, err := messageText(m.Content)
		if err != nil {
			return "", invalid(fmt.Sprintf("messages[%d].content", i), "%v", err)
		}
		if strings.TrimSpace(text) == "" {
			return "", invalid(fmt.Sprintf("messages[%d].content", i), "the last user message must hold the diff")
		}
		return text, nil
	}
	return "", invalid("messages", "no user message holds a diff")
}

// messageText reads a message content: a string, or an array of parts whose
// "text" parts are joined.
func messageText(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("want a string or an array of text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("part type %q is not supported (want text)", p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

func (g *Gateway) handleModels(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	prod, err := g.ProductionVariant(r.Context())
	if err != nil {
		return 0, nil, err
	}
	list := ModelList{Object: "list", Data: []ModelInfo{{ID: ModelAlias, Object: "model", OwnedBy: "tricycle"}}}
	if prod != "" && prod != ModelAlias {
		list.Data = append(list.Data, ModelInfo{ID: prod, Object: "model", OwnedBy: "tricycle"})
	}
	return http.StatusOK, list, nil
}

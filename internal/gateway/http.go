package gateway

import (
	"context"
	"fmt"
	"github.com/tricyclehq/tricycle/internal/httpapi"
	"net/http"
	"regexp"
	"unicode/utf8"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
)

// Limits of the reviews API.
const (
	maxFiles        = 200
	maxFeedbackText = 2000
)

// repositoryRE is the shape of a repository name: "org/repo" and nested
// groups ("group/sub/repo").
var repositoryRE = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,7}$`)

// ReviewRequest is the body of POST /api/v1/reviews.
type ReviewRequest struct {
	Repository string            `json:"repository"`
	Diff       string            `json:"diff"`
	Files      map[string]string `json:"files,omitempty"`
}

// ReviewResponse is the answer of POST /api/v1/reviews.
type ReviewResponse struct {
	ReviewID  string           `json:"review_id"`
	Findings  []review.Finding `json:"findings"`
	Summary   string           `json:"summary"`
	Usage     review.Usage     `json:"usage"`
	LatencyMS float64          `json:"latency_ms"`
}

// FeedbackRequest is the body of POST /api/v1/reviews/{id}/feedback.
type FeedbackRequest struct {
	Items []FeedbackInput `json:"items"`
}

// FeedbackInput is one verdict in a FeedbackRequest.
type FeedbackInput struct {
	Finding *int   `json:"finding"`
	Verdict string `json:"verdict"`
	Text    string `json:"text,omitempty"`
}

// FeedbackResponse is the answer of POST /api/v1/reviews/{id}/feedback.
type FeedbackResponse struct {
	ReviewID string `json:"review_id"`
	Recorded int    `json:"recorded"`
}

// Endpoint is one route the data plane serves. The server mounts each behind
// authentication and the named permission; handlers read the caller with
// coordination.ActorFrom.
type Endpoint struct {
	Method     string
	Path       string
	Permission coordination.Permission
	Summary    string
	// Request and Response are zero values of the JSON bodies (nil: none).
	Request  any
	Response any
	// Status is the success status.
	Status  int
	Handler http.Handler
}

// Endpoints returns the reviews API and the OpenAI-compatible endpoints.
func (g *Gateway) Endpoints() []Endpoint {
	return []Endpoint{
		{Method: http.MethodPost, Path: "/api/v1/reviews", Permission: coordination.PermReviewsSubmit,
			Summary: "Review a unified diff", Request: ReviewRequest{}, Response: ReviewResponse{}, Status: http.StatusOK,
			Handler: g.guard(coordination.PermReviewsSubmit, g.handleCreate)},
		{Method: http.MethodGet, Path: "/api/v1/reviews/{id}", Permission: coordination.PermReviewsRead,
			Summary: "Get a review (its owner or an admin)", Response: StoredReview{}, Status: http.StatusOK,
			Handler: g.guard(coordination.PermReviewsRead, g.handleGet)},
		{Method: http.MethodPost, Path: "/api/v1/reviews/{id}/feedback", Permission: coordination.PermReviewsFeedback,
			Summary: "Accept or dismiss findings of a review", Request: FeedbackRequest{}, Response: FeedbackResponse{},
			Status: http.StatusOK, Handler: g.guard(coordination.PermReviewsFeedback, g.handleFeedback)},
		{Method: http.MethodPost, Path: "/v1/chat/completions", Permission: coordination.PermReviewsSubmit,
			Summary: "OpenAI-compatible chat completion: the last user message is the diff", Request: ChatRequest{},
			Response: ChatCompletion{}, Status: http.StatusOK, Handler: g.chatGuard(coordination.PermReviewsSubmit, g.handleChat)},
		{Method: http.MethodGet, Path: "/v1/models", Permission: coordination.PermReviewsRead,
			Summary: "OpenAI-compatible model list: the aliases of the production review service", Response: ModelList{},
			Status: http.StatusOK, Handler: g.chatGuard(coordination.PermReviewsRead, g.handleModels)},
	}
}

// Handler serves Endpoints on one mux, without authentication: the caller
// is whoever the request's context names (tests and embedding programs).
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, e := range g.Endpoints() {
		mux.Handle(e.Method+" "+e.Path, e.Handler)
	}
	return mux
}

// apiHandler answers with a status and a body, or an error.
type apiHandler func(w http.ResponseWriter, r *http.Request) (int, any, error)

// guard checks perm (again: the server already did) and writes the answer
// or the error as {"error": {"code", "message"}}.
func (g *Gateway) guard(perm coordination.Permission, h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body, err := func() (int, any, error) {
			if a := coordination.ActorFrom(r.Context()); !a.Role.Allowed(perm) {
				return 0, nil, fmt.Errorf("%w: role %q lacks permission %q", coordination.ErrForbidden, a.Role, perm)
			}
			return h(w, r)
		}()
		if err != nil {
			st, code := statusOf(err)
			if st >= 500 {
				g.log.Warn("review API error", "path", r.URL.Path, "status", st, "err", err)
			}
			httpapi.WriteJSON(w, st, ErrorBody{Error: ErrorDetail{Code: code, Message: publicMessage(st, code, err)}})
			return
		}
		httpapi.WriteJSON(w, status, body)
	})
}

func (g *Gateway) maxBody() int64 {
	if g.opts.MaxBodyBytes > 0 {
		return g.opts.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

func (g *Gateway) handleCreate(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var in ReviewRequest
	if err := decodeBody(w, r, &in, g.maxBody()); err != nil {
		return 0, nil, err
	}
	if err := in.validate(); err != nil {
		return 0, nil, err
	}
	req := review.Request{Repository: in.Repository, Client: coordination.ActorFrom(r.Context()).Name,
		Diff: in.Diff, Files: in.Files}
	res, err := g.Review(r.Context(), req)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, ReviewResponse{ReviewID: res.ReviewID, Findings: res.Findings, Summary: res.Summary,
		Usage: res.Usage, LatencyMS: res.LatencyMS}, nil
}

// validate checks a review request's fields.
func (in ReviewRequest) validate() error {
	if in.Repository != "" && (len(in.Repository) > 200 || !repositoryRE.MatchString(in.Repository)) {
		return invalid("repository", "%q is not a repository name such as org/repo", in.Repository)
	}
	if in.Diff == "" {
		return invalid("diff", "must not be empty")
	}
	if !utf8.ValidString(in.Diff) {
		return invalid("diff", "must be UTF-8 text")
	}
	if len(in.Files) > maxFiles {
		return invalid("files", "more than %d files", maxFiles)
	}
	for p := range in.Files {
		if p == "" || len(p) > 1024 {
			return invalid("files", "a file path must be 1-1024 bytes")
		}
	}
	return nil
}

func (g *Gateway) handleGet(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	rv, err := g.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rv, nil
}

func (g *Gateway) handleFeedback(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var in FeedbackRequest
	if err := decodeBody(w, r, &in, 1<<20); err != nil {
		return 0, nil, err
	}
	items := make([]FeedbackItem, len(in.Items))
	for i, it := range in.Items {
		if it.Finding == nil {
			return 0, nil, invalid(fmt.Sprintf("items[%d].finding", i), "is required")
		}
		items[i] = FeedbackItem{Finding: *it.Finding, Verdict: it.Verdict, Text: it.Text}
	}
	id := r.PathValue("id")
	n, err := g.Feedback(r.Context(), id, items)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, FeedbackResponse{ReviewID: id, Recorded: n}, nil
}

// Get returns the review id when the context's actor may read it: its owner
// or an admin. Anyone else gets an ErrNotFound error, exactly as for a review
// that does not exist, so review IDs cannot be probed.
func (g *Gateway) Get(ctx context.Context, id string) (*StoredReview, error) {
	rv, err := g.store.ReviewGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get review: %w", err)
	}
	if a := coordination.ActorFrom(ctx); a.Role != coordination.RoleAdmin && a.Name != rv.Owner {
		return nil, fmt.Errorf("get review: review %s: %w", id, coordination.ErrNotFound)
	}
	return rv, nil
}

// Feedback records the context's actor's verdicts on findings of the review
// id (which the actor must be allowed to read) and passes each to the
// recorder under the series that answered the review, with the finding's
// category. A dismissal with text counts as a complaint. Items are checked
// all before any is recorded; a finding may get one verdict only.
func (g *Gateway) Feedback(ctx context.Context, id string, items []FeedbackItem) (int, error) {
	rv, err := g.Get(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("feedback: %w", err)
	}
	if len(items) == 0 {
		return 0, fmt.Errorf("feedback: %w", invalid("items", "at least one item is required"))
	}
	now := g.clock.Now()
	seen := map[int]bool{}
	for i := range items {
		it := &items[i]
		field := fmt.Sprintf("items[%d]", i)
		switch {
		case it.Finding < 0 || it.Finding >= len(rv.Findings):
			return 0, fmt.Errorf("feedback: %w", invalid(field+".finding", "%d is not the index of a finding (the review has %d)", it.Finding, len(rv.Findings)))
		case seen[it.Finding]:
			return 0, fmt.Errorf("feedback: %w", invalid(field+".finding", "finding %d appears twice", it.Finding))
		case it.Verdict != VerdictAccepted && it.Verdict != VerdictDismissed:
			return 0, fmt.Errorf("feedback: %w", invalid(field+".verdict", "%q is not accepted or dismissed", it.Verdict))
		case utf8.RuneCountInString(it.Text) > maxFeedbackText || !utf8.ValidString(it.Text):
			return 0, fmt.Errorf("feedback: %w", invalid(field+".text", "must be UTF-8 text of at most %d characters", maxFeedbackText))
		}
		seen[it.Finding] = true
		it.At = now
	}
	if err := g.store.ReviewAddFeedback(ctx, id, items); err != nil {
		return 0, fmt.Errorf("feedback: %w", err)
	}
	for _, it := range items {
		g.rec.RecordFeedback(now, rv.Series, rv.Findings[it.Finding].Category, it.Verdict == VerdictAccepted,
			it.Verdict == VerdictDismissed && it.Text != "")
	}
	return len(items), nil
}

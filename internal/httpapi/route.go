package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tricyclehq/tricycle/coordination"
)

// Route is one endpoint: its method and path, the permission it needs, how
// it is documented and its handler.
type Route struct {
	// Method is GET, POST, PUT, PATCH or DELETE.
	Method string
	// Path is a net/http pattern path, e.g. "/api/v1/experiments/{id}/start".
	Path string
	// Permission is what the caller's role must allow; required unless Public.
	Permission coordination.Permission
	// Public routes need no token (health checks, the OpenAPI document).
	Public bool
	// Summary is a one-line description for the OpenAPI document.
	Summary string
	// Query lists the query parameters the route accepts; others are refused.
	Query []string
	// Request is a zero value of the JSON body type (nil: no body);
	// RequestOptional says the body may be omitted.
	Request         any
	RequestOptional bool
	// Response is a zero value of the JSON answer type (nil: no body).
	Response any
	// Status is the success status (0: 200).
	Status int
	// Stream marks a server-sent event stream.
	Stream bool
	// Handler serves the request once it is authorized. It reads the actor
	// with coordination.ActorFrom(r.Context()).
	Handler http.Handler
}

// Pattern returns the route's net/http pattern, "METHOD PATH".
func (rt Route) Pattern() string { return rt.Method + " " + rt.Path }

var routeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

func (rt Route) validate() error {
	if !slices.Contains(routeMethods, rt.Method) {
		return fmt.Errorf("method %q is not one of %s", rt.Method, strings.Join(routeMethods, ", "))
	}
	if !strings.HasPrefix(rt.Path, "/") || strings.ContainsAny(rt.Path, " \t") {
		return fmt.Errorf("path %q must start with / and contain no spaces", rt.Path)
	}
	if rt.Path == "/" {
		return errors.New("the root path is reserved for the fallback")
	}
	if rt.Handler == nil {
		return errors.New("a handler is required")
	}
	if rt.Public && rt.Permission != "" {
		return errors.New("a public route takes no permission")
	}
	if !rt.Public && rt.Permission == "" {
		return errors.New("a permission is required (or mark the route public)")
	}
	return nil
}

// apiFunc is a JSON handler: it returns the status and body of a success or
// an error that WriteError maps to a status.
type apiFunc func(w http.ResponseWriter, r *http.Request) (int, any, error)

func (f apiFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, body, err := f(w, r)
	switch {
	case err != nil:
		WriteError(w, r, err)
	case status == http.StatusNoContent || body == nil:
		w.WriteHeader(status)
	default:
		WriteJSON(w, status, body)
	}
}

// Path prefix of the API.
const apiPrefix = "/api/v1"

// apiRoutes is the route table of /api/v1. Reviews and chat completions
// belong to the data plane, which mounts them.
func (s *Server) apiRoutes() []Route {
	type (
		exp  = *coordination.Experiment
		prom = *coordination.PromotionRequest
		prop = *coordination.Proposal
		P    = coordination.Permission
	)
	r := func(method, path string, perm P, summary string, h apiFunc, status int, req, resp any, query ...string) Route {
		return Route{Method: method, Path: apiPrefix + path, Permission: perm, Summary: summary, Handler: h,
			Status: status, Request: req, Response: resp, Query: query}
	}
	opt := func(rt Route) Route { rt.RequestOptional = true; return rt }
	ok, created := http.StatusOK, http.StatusCreated
	routes := []Route{
		// V1: experiments.
		r("POST", "/experiments", coordination.PermExperimentsWrite, "Create an experiment (state proposed)",
			s.createExperiment, created, CreateExperimentRequest{}, exp(nil)),
		r("GET", "/experiments", coordination.PermExperimentsRead, "List experiments, oldest first; ?state= filters (comma-separated)",
			s.listExperiments, ok, nil, List[exp]{}, "state", "limit"),
		r("GET", "/experiments/{id}", coordination.PermExperimentsRead, "Get an experiment",
			s.getExperiment, ok, nil, exp(nil)),
		opt(r("POST", "/experiments/{id}/start", coordination.PermExperimentsStart, "Start a proposed or held experiment",
			s.startExperiment, ok, StartRequest{}, exp(nil))),
		opt(r("POST", "/experiments/{id}/evaluate", coordination.PermExperimentsEvaluate,
			"Decide PROMOTE, HOLD or QUARANTINE, from metrics when given, else from measured samples",
			s.evaluateExperiment, ok, EvaluateRequest{}, EvaluateResponse{})),
		opt(r("POST", "/experiments/{id}/reject", coordination.PermExperimentsWrite, "Reject an experiment",
			s.rejectExperiment, ok, ReasonRequest{}, exp(nil))),
		opt(r("POST", "/experiments/{id}/quarantine", coordination.PermQuarantineWrite, "Quarantine an experiment in V3",
			s.quarantineExperiment, created, QuarantineRequest{}, (*coordination.QuarantineRecord)(nil))),
		// V2: promotions and releases.
		r("GET", "/promotions", coordination.PermPromotionsRead, "List promotion requests, oldest first; ?state= filters",
			s.listPromotions, ok, nil, List[prom]{}, "state", "experiment_id", "limit"),
		r("GET", "/promotions/{id}", coordination.PermPromotionsRead, "Get a promotion request",
			s.getPromotion, ok, nil, prom(nil)),
		opt(r("POST", "/promotions/{id}/approve", coordination.PermPromotionsApprove, "Approve a promotion: the canary starts",
			s.approvePromotion, ok, ApproveRequest{}, prom(nil))),
		opt(r("POST", "/promotions/{id}/reject", coordination.PermPromotionsApprove, "Reject a promotion awaiting approval",
			s.rejectPromotion, ok, ReasonRequest{}, prom(nil))),
		opt(r("POST", "/promotions/{id}/rollback", coordination.PermPromotionsRollback, "Roll a promotion back to the old release",
			s.rollbackPromotion, ok, RollbackRequest{}, prom(nil))),
		r("GET", "/releases", coordination.PermPromotionsRead, "List production releases, newest first",
			s.listReleases, ok, nil, List[*coordination.Release]{}),
		r("POST", "/rollback", coordination.PermPromotionsRollback,
			"Emergency rollback: the active canary, or the latest promotion within its rollback window",
			s.emergencyRollback, ok, RollbackRequest{}, RollbackResponse{}),
		// V3: quarantine.
		r("GET", "/quarantine", coordination.PermQuarantineRead, "List quarantine records, oldest first",
			s.listQuarantine, ok, nil, List[*coordination.QuarantineRecord]{}, "experiment_id", "limit"),
		r("GET", "/quarantine/{id}", coordination.PermQuarantineRead, "Get a quarantine record with its reviews",
			s.getQuarantine, ok, nil, QuarantineRecordResponse{}),
		r("POST", "/quarantine/{id}/review", coordination.PermQuarantineReview,
			"Review a quarantine record; retry_approved lifts its blacklist and proposes a retry",
			s.reviewQuarantine, created, ReviewRequest{}, (*coordination.QuarantineReview)(nil)),
		// Proposals.
		r("GET", "/proposals", coordination.PermProposalsRead, "List proposals, highest priority first; ?state= filters",
			s.listProposals, ok, nil, List[prop]{}, "state", "limit"),
		r("GET", "/proposals/{id}", coordination.PermProposalsRead, "Get a proposal",
			s.getProposal, ok, nil, prop(nil)),
		r("POST", "/proposals/generate", coordination.PermProposalsGenerate, "Generate proposals from every source",
			s.generateProposals, ok, nil, List[prop]{}),
		r("POST", "/proposals/{id}/accept", coordination.PermProposalsAccept, "Accept a proposal into a proposed experiment",
			s.acceptProposal, created, nil, exp(nil)),
		opt(r("POST", "/proposals/{id}/dismiss", coordination.PermProposalsAccept, "Dismiss a proposal",
			s.dismissProposal, ok, ReasonRequest{}, prop(nil))),
		// Status and health.
		r("GET", "/status", coordination.PermStatusRead, "System status: V1, V2, V3, alerts and SLOs",
			s.status, ok, nil, coordination.SystemStatus{}),
		r("GET", "/alerts", coordination.PermHealthRead, "Active (pending and firing) alerts",
			s.alerts, ok, nil, List[coordination.Alert]{}),
		r("GET", "/slo", coordination.PermHealthRead, "SLO compliance of production",
			s.slo, ok, nil, coordination.SLOCompliance{}),
		// Audit.
		r("GET", "/audit", coordination.PermAuditRead, "Page through the audit log: ?after=<seq>&limit=<n>",
			s.audit, ok, nil, AuditPage{}, "after", "limit"),
		r("GET", "/audit/verify", coordination.PermAuditRead, "Verify the audit log's hash chain",
			s.verifyAudit, ok, nil, coordination.AuditVerification{}),
		// Tokens.
		r("POST", "/tokens", coordination.PermTokensManage, "Create a token; the answer shows it once",
			s.createToken, created, CreateTokenRequest{}, TokenCreated{}),
		r("GET", "/tokens", coordination.PermTokensManage, "List tokens (never their hashes)",
			s.listTokens, ok, nil, List[TokenView]{}),
		r("DELETE", "/tokens/{id}", coordination.PermTokensManage, "Revoke a token",
			s.revokeToken, http.StatusNoContent, nil, nil),
	}
	routes = append(routes,
		Route{Method: "GET", Path: apiPrefix + "/events", Permission: coordination.PermEventsRead, Stream: true,
			Summary: "Server-sent events: id, event type and CloudEvents JSON; ?type= filters (comma-separated, * suffix = prefix); Last-Event-ID resumes",
			Query:   []string{"type"}, Handler: http.HandlerFunc(s.streamEvents), Response: coordination.Event{}},
		Route{Method: "GET", Path: apiPrefix + "/openapi.json", Public: true, Summary: "This OpenAPI document",
			Handler: http.HandlerFunc(s.serveOpenAPI), Response: map[string]any{}},
	)
	return routes
}

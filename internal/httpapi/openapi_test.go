package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/coordination"
)

type openAPIDoc struct {
	OpenAPI    string                                 `json:"openapi"`
	Paths      map[string]map[string]openAPIOperation `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

type openAPIOperation struct {
	OperationID string          `json:"operationId"`
	Permission  string          `json:"x-permission"`
	Roles       []string        `json:"x-roles"`
	Security    []any           `json:"security"`
	RequestBody json.RawMessage `json:"requestBody"`
	Responses   map[string]any  `json:"responses"`
}

func fetchOpenAPI(t *testing.T, f *fixture) openAPIDoc {
	t.Helper()
	w := f.do("GET", "/api/v1/openapi.json", "", "")
	if w.Code != 200 {
		t.Fatalf("openapi.json: %d", w.Code)
	}
	return decodeBody[openAPIDoc](t, w)
}

var wildcardRE = regexp.MustCompile(`\{[^}]+\}`)

// TestOpenAPIMatchesRoutes fails when a registered route is missing from the
// document or the document names an operation the server does not serve.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if err := f.srv.Mount(Route{Method: "GET", Path: "/healthz", Public: true, Summary: "Liveness",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})}); err != nil {
		t.Fatal(err)
	}
	doc := fetchOpenAPI(t, f)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	var documented []string
	ids := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			pattern := strings.ToUpper(method) + " " + path
			documented = append(documented, pattern)
			if ids[op.OperationID] {
				t.Errorf("operationId %q is not unique", op.OperationID)
			}
			ids[op.OperationID] = true
			// Document → server: the operation reaches exactly this route.
			probe := httptest.NewRequest(strings.ToUpper(method), wildcardRE.ReplaceAllString(path, "x1"), nil)
			if _, got := f.srv.mux.Handler(probe); got != pattern {
				t.Errorf("documented %s is served by %q", pattern, got)
			}
		}
	}
	// Server → document: every pattern registered on the mux is documented.
	f.srv.mu.Lock()
	var registered []string
	for _, p := range f.srv.patterns {
		if p != "/" {
			registered = append(registered, p)
		}
	}
	f.srv.mu.Unlock()
	sort.Strings(documented)
	sort.Strings(registered)
	if !slices.Equal(documented, registered) {
		t.Errorf("document and server disagree:\ndocumented %v\nregistered %v", documented, registered)
	}
	for _, rt := range f.srv.Routes() {
		op := doc.Paths[rt.Path][strings.ToLower(rt.Method)]
		if rt.Public {
			if len(op.Security) != 0 || op.Permission != "" {
				t.Errorf("%s is public but documented with security %v / %q", rt.Pattern(), op.Security, op.Permission)
			}
			continue
		}
		if op.Permission != string(rt.Permission) {
			t.Errorf("%s: x-permission %q, want %q", rt.Pattern(), op.Permission, rt.Permission)
		}
		var roles []string
		for _, r := range []coordination.Role{coordination.RoleAdmin, coordination.RoleUser, coordination.RoleSystem} {
			if r.Allowed(rt.Permission) {
				roles = append(roles, string(r))
			}
		}
		if !slices.Equal(op.Roles, roles) {
			t.Errorf("%s: x-roles %v, want %v", rt.Pattern(), op.Roles, roles)
		}
		if _, ok := op.Responses["401"]; !ok {
			t.Errorf("%s does not document 401", rt.Pattern())
		}
		if (rt.Request != nil) != (op.RequestBody != nil) {
			t.Errorf("%s: request body documented %v, route has one %v", rt.Pattern(), op.RequestBody != nil, rt.Request != nil)
		}
	}
}

func TestOpenAPISchemas(t *testing.T) {
	t.Parallel()
	f := setup(t)
	doc := fetchOpenAPI(t, f)
	raw, _ := json.Marshal(f.srv.OpenAPI())
	for _, ref := range regexp.MustCompile(`"#/components/schemas/([^"]+)"`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := doc.Components.Schemas[ref[1]]; !ok {
			t.Errorf("dangling $ref %s", ref[0])
		}
	}
	for name, props := range map[string][]string{
		"CreateExperimentRequest":  {"title", "hypothesis", "success_criteria", "variant"},
		"Experiment":               {"experiment_id", "state", "success_criteria"},
		"ExperimentList":           {"items"},
		"EvaluateResponse":         {"experiment_id", "decision", "explanation"},
		"QuarantineRecordResponse": {"record_id", "failure_type", "reviews"},
		"TokenCreated":             {"token", "id", "role"},
		"ErrorBody":                {"error"},
	} {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s missing", name)
			continue
		}
		for _, p := range props {
			if _, ok := s.Properties[p]; !ok {
				t.Errorf("schema %s lacks property %q", name, p)
			}
		}
	}
}

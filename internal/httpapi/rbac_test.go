package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/coordination"
)

// prepared builds, for each route, a request that succeeds for a role that
// holds the route's permission: the path (with real ids) and the body.
var prepared = map[string]func(f *fixture) (path, body string){
	"POST /api/v1/experiments": func(f *fixture) (string, string) {
		return "/api/v1/experiments", `{"title":"Try GPT","hypothesis":"better","success_criteria":{"accuracy":"> 90%"},"variant":{"name":"gpt","provider":"openai","model":"gpt-x"}}`
	},
	"GET /api/v1/experiments": func(f *fixture) (string, string) { return "/api/v1/experiments?state=proposed", "" },
	"GET /api/v1/experiments/{id}": func(f *fixture) (string, string) {
		return "/api/v1/experiments/" + f.experiment(), ""
	},
	"POST /api/v1/experiments/{id}/start": func(f *fixture) (string, string) {
		return "/api/v1/experiments/" + f.experiment() + "/start", `{"approver":"root@example.com"}`
	},
	"POST /api/v1/experiments/{id}/evaluate": func(f *fixture) (string, string) {
		return "/api/v1/experiments/" + f.experiment() + "/evaluate", `{"metrics":{"accuracy":0.95,"latency_p95":2}}`
	},
	"POST /api/v1/experiments/{id}/reject": func(f *fixture) (string, string) {
		return "/api/v1/experiments/" + f.experiment() + "/reject", ""
	},
	"POST /api/v1/experiments/{id}/quarantine": func(f *fixture) (string, string) {
		return "/api/v1/experiments/" + f.experiment() + "/quarantine", `{"failure_type":"accuracy_degradation","error_logs":"hallucinated","metrics_at_failure":{"accuracy":0.7}}`
	},
	"GET /api/v1/promotions": func(f *fixture) (string, string) { return "/api/v1/promotions", "" },
	"GET /api/v1/promotions/{id}": func(f *fixture) (string, string) {
		return "/api/v1/promotions/" + f.promotion(), ""
	},
	"POST /api/v1/promotions/{id}/approve": func(f *fixture) (string, string) {
		return "/api/v1/promotions/" + f.promotion() + "/approve", ""
	},
	"POST /api/v1/promotions/{id}/reject": func(f *fixture) (string, string) {
		return "/api/v1/promotions/" + f.promotion() + "/reject", `{"reason":"not now"}`
	},
	"POST /api/v1/promotions/{id}/rollback": func(f *fixture) (string, string) {
		return "/api/v1/promotions/" + f.canary() + "/rollback", `{"reason":"regression"}`
	},
	"GET /api/v1/releases": func(f *fixture) (string, string) { return "/api/v1/releases", "" },
	"POST /api/v1/rollback": func(f *fixture) (string, string) {
		f.canary()
		return "/api/v1/rollback", `{"reason":"p95 doubled"}`
	},
	"GET /api/v1/quarantine": func(f *fixture) (string, string) { return "/api/v1/quarantine", "" },
	"GET /api/v1/quarantine/{id}": func(f *fixture) (string, string) {
		return "/api/v1/quarantine/" + f.record(), ""
	},
	"POST /api/v1/quarantine/{id}/review": func(f *fixture) (string, string) {
		return "/api/v1/quarantine/" + f.record() + "/review", `{"reviewer":"root","retry_approved":false,"notes":"still bad"}`
	},
	"GET /api/v1/proposals": func(f *fixture) (string, string) { return "/api/v1/proposals?state=suggested", "" },
	"GET /api/v1/proposals/{id}": func(f *fixture) (string, string) {
		return "/api/v1/proposals/" + f.proposal(), ""
	},
	"POST /api/v1/proposals/generate": func(f *fixture) (string, string) { return "/api/v1/proposals/generate", "" },
	"POST /api/v1/proposals/{id}/accept": func(f *fixture) (string, string) {
		return "/api/v1/proposals/" + f.proposal() + "/accept", ""
	},
	"POST /api/v1/proposals/{id}/dismiss": func(f *fixture) (string, string) {
		return "/api/v1/proposals/" + f.proposal() + "/dismiss", `{"reason":"duplicate"}`
	},
	"GET /api/v1/status":       func(f *fixture) (string, string) { return "/api/v1/status", "" },
	"GET /api/v1/alerts":       func(f *fixture) (string, string) { return "/api/v1/alerts", "" },
	"GET /api/v1/slo":          func(f *fixture) (string, string) { return "/api/v1/slo", "" },
	"GET /api/v1/audit":        func(f *fixture) (string, string) { return "/api/v1/audit?after=0&limit=10", "" },
	"GET /api/v1/audit/verify": func(f *fixture) (string, string) { return "/api/v1/audit/verify", "" },
	"POST /api/v1/tokens":      func(f *fixture) (string, string) { return "/api/v1/tokens", `{"name":"ci-bot","role":"system"}` },
	"GET /api/v1/tokens":       func(f *fixture) (string, string) { return "/api/v1/tokens", "" },
	"DELETE /api/v1/tokens/{id}": func(f *fixture) (string, string) {
		return "/api/v1/tokens/" + f.token(), ""
	},
	"GET /api/v1/events":       func(f *fixture) (string, string) { return "/api/v1/events?type=promotion.*", "" },
	"GET /api/v1/openapi.json": func(f *fixture) (string, string) { return "/api/v1/openapi.json", "" },
}

// granted is PRODUCT.md's role table spelled out per route, independently of
// the permission each route names: admin may call everything.
var granted = map[string][]string{
	"user": {"GET /api/v1/alerts", "GET /api/v1/slo"},
	"system": {
		"GET /api/v1/experiments", "GET /api/v1/experiments/{id}", "POST /api/v1/experiments/{id}/evaluate",
		"POST /api/v1/experiments/{id}/quarantine", "GET /api/v1/promotions", "GET /api/v1/promotions/{id}",
		"GET /api/v1/releases", "GET /api/v1/quarantine", "GET /api/v1/quarantine/{id}",
		"POST /api/v1/quarantine/{id}/review", "GET /api/v1/proposals", "GET /api/v1/proposals/{id}",
		"POST /api/v1/proposals/generate", "GET /api/v1/status", "GET /api/v1/alerts", "GET /api/v1/slo",
		"GET /api/v1/events",
	},
}

func mayCall(who string, rt Route) bool {
	if who == "admin" {
		return true
	}
	return slices.Contains(granted[who], rt.Pattern())
}

// cancelOnFlush ends an event stream's request at its first flush, so that
// a stream can be tested like any other request.
type cancelOnFlush struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (c *cancelOnFlush) Flush() {
	c.ResponseRecorder.Flush()
	c.cancel()
}

func (f *fixture) serve(r *http.Request) *httptest.ResponseRecorder {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	w := &cancelOnFlush{ResponseRecorder: httptest.NewRecorder(), cancel: cancel}
	f.srv.Handler().ServeHTTP(w, r.WithContext(ctx))
	return w.ResponseRecorder
}

// TestRoleTable checks every route for every role against the permission
// table of coordination: admin everything; user reviews and health; system
// reads V1/V2/V3, evaluates, quarantines, reviews quarantine, generates
// proposals and reads events; no token or a revoked one is a 401.
func TestRoleTable(t *testing.T) {
	t.Parallel()
	routes := setup(t).srv.Routes()
	for _, rt := range routes {
		if _, ok := prepared[rt.Pattern()]; !ok {
			t.Errorf("route %s has no case in the role table test", rt.Pattern())
		}
	}
	for _, rt := range routes {
		prep := prepared[rt.Pattern()]
		if prep == nil {
			continue
		}
		for _, who := range []string{"admin", "user", "system", "", "revoked"} {
			name := rt.Pattern() + " as " + who
			if who == "" {
				name = rt.Pattern() + " without token"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				f := setup(t)
				path, body := prep(f)
				before := f.auditLen()
				w := f.serve(f.req(rt.Method, path, who, body))
				if role := coordination.Role(who); role.Valid() && !rt.Public && role.Allowed(rt.Permission) != mayCall(who, rt) {
					t.Fatalf("route permission %q disagrees with the role table for %s", rt.Permission, who)
				}
				switch {
				case rt.Public:
					if w.Code != rt.Status {
						t.Fatalf("status %d, want %d: %s", w.Code, rt.Status, w.Body)
					}
				case who == "" || who == "revoked":
					if w.Code != http.StatusUnauthorized {
						t.Fatalf("status %d, want 401: %s", w.Code, w.Body)
					}
					if code, _ := errorOf(t, w); code != "unauthenticated" {
						t.Errorf("code %q, want unauthenticated", code)
					}
					if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("WWW-Authenticate = %q", w.Header().Get("WWW-Authenticate"))
					}
				case !mayCall(who, rt):
					if w.Code != http.StatusForbidden {
						t.Fatalf("status %d, want 403: %s", w.Code, w.Body)
					}
					code, msg := errorOf(t, w)
					if code != "forbidden" || !strings.Contains(msg, string(rt.Permission)) {
						t.Errorf("error %q %q, want forbidden naming %q", code, msg, rt.Permission)
					}
				default:
					if w.Code != rt.Status {
						t.Fatalf("status %d, want %d: %s", w.Code, rt.Status, w.Body)
					}
					if rt.Method != http.MethodGet {
						f.wantOneAuditEntry(before, "t-"+who)
					}
					return
				}
				if after := f.auditLen(); after != before {
					t.Errorf("a refused request changed the audit log: %d → %d entries", before, after)
				}
			})
		}
	}
}

// wantOneAuditEntry checks that the entries appended after the first
// `before` ones include exactly one by actor: one request, one entry
// (automatic decisions it set off are entries of system actors).
func (f *fixture) wantOneAuditEntry(before int, actor string) {
	f.t.Helper()
	es, err := f.coord.AuditLog(local, int64(before), 1_000_000)
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		switch {
		case e.Actor == actor:
			n++
		case !strings.HasPrefix(e.Actor, "system:"):
			f.t.Errorf("unexpected audit entry by %s: %s %s", e.Actor, e.Action, e.Target)
		}
	}
	if n != 1 {
		f.t.Errorf("%d audit entries by %s, want exactly 1 (%d new entries in all)", n, actor, len(es))
	}
}

package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/coordination"
)

func TestTokensNeverLogged(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w := f.do("POST", "/api/v1/tokens", "admin", `{"name":"ci","role":"user"}`)
	if w.Code != 201 {
		t.Fatalf("create token: %d %s", w.Code, w.Body)
	}
	created := decodeBody[TokenCreated](t, w)
	f.tok["ci"] = created.Token
	f.do("GET", "/api/v1/alerts", "ci", "")
	f.do("GET", "/api/v1/status", "revoked", "")
	f.do("GET", "/api/v1/status", "user", "")
	logs := f.log.String()
	for name, tok := range f.tok {
		if strings.Contains(logs, tok) {
			t.Errorf("the %s token appears in the log", name)
		}
	}
	if strings.Contains(strings.ToLower(logs), "bearer") || strings.Contains(logs, "Authorization") {
		t.Errorf("the log mentions the Authorization header:\n%s", logs)
	}
	if !strings.Contains(logs, "actor=ci") {
		t.Errorf("the log does not name the actor:\n%s", logs)
	}
}

func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w := f.do("POST", "/api/v1/tokens", "admin", `{"name":"reviewer-bot","role":"user"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	created := decodeBody[TokenCreated](t, w)
	if !strings.HasPrefix(created.Token, coordination.PrefixToken) || created.ID == "" || created.Role != coordination.RoleUser || created.CreatedBy != "t-admin" {
		t.Fatalf("created = %+v", created)
	}
	f.tok["bot"] = created.Token
	if w := f.do("GET", "/api/v1/slo", "bot", ""); w.Code != 200 {
		t.Fatalf("the new token does not work: %d %s", w.Code, w.Body)
	}
	if w := f.do("GET", "/api/v1/status", "bot", ""); w.Code != 403 {
		t.Fatalf("the new user token reads status: %d", w.Code)
	}
	list := f.do("GET", "/api/v1/tokens", "admin", "")
	if strings.Contains(list.Body.String(), created.Token) || strings.Contains(list.Body.String(), coordination.HashToken(created.Token)) {
		t.Fatal("the token list shows a secret or its hash")
	}
	if got := decodeBody[List[TokenView]](t, list); len(got.Items) != 5 {
		t.Errorf("token list has %d items, want 5", len(got.Items))
	}
	if w := f.do("DELETE", "/api/v1/tokens/"+created.ID, "admin", ""); w.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	if w := f.do("GET", "/api/v1/slo", "bot", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("a revoked token still works: %d", w.Code)
	}
}

func TestCovers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		creator, role coordination.Role
		ok            bool
	}{
		{coordination.RoleAdmin, coordination.RoleAdmin, true},
		{coordination.RoleAdmin, coordination.RoleSystem, true},
		{coordination.RoleAdmin, coordination.RoleUser, true},
		{coordination.RoleSystem, coordination.RoleAdmin, false},
		{coordination.RoleUser, coordination.RoleSystem, false},
		{coordination.RoleUser, coordination.RoleUser, true},
		{coordination.RoleSystem, coordination.RoleUser, false}, // user may give review feedback; system may not
	}
	for _, tt := range tests {
		if p, ok := covers(tt.creator, tt.role); ok != tt.ok {
			t.Errorf("covers(%s, %s) = %q, %v; want %v", tt.creator, tt.role, p, ok, tt.ok)
		}
	}
}

func TestBearerParsing(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name   string
		header []string
		status int
	}{
		{"lower-case scheme", []string{"bearer " + f.tok["admin"]}, 200},
		{"basic auth", []string{"Basic YWRtaW46YWRtaW4="}, 401},
		{"scheme only", []string{"Bearer "}, 401},
		{"two headers", []string{"Bearer " + f.tok["admin"], "Bearer " + f.tok["user"]}, 401},
		{"oversized token", []string{"Bearer " + strings.Repeat("x", 4096)}, 401},
		{"unknown token", []string{"Bearer tc_nope"}, 401},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/api/v1/status", nil)
		for _, h := range tt.header {
			r.Header.Add("Authorization", h)
		}
		w := httptest.NewRecorder()
		f.srv.Handler().ServeHTTP(w, r)
		if w.Code != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, w.Code, tt.status)
		}
	}
}

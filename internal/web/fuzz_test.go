package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzSignInInput sends arbitrary tokens through the form, the cookie and
// the Authorization header: none of them signs anyone in, none is a server
// error, and the posted token is never echoed.
func FuzzSignInInput(f *testing.F) {
	fx := setup(f)
	f.Add("tc_unknown_token_value", "dGNfdW5rbm93bg", "Bearer tc_unknown")
	f.Add("", "", "")
	f.Add(strings.Repeat("x", 5000), "%%%", "Bearer "+strings.Repeat("y", 600))
	f.Add("<script>alert(1)</script>", "PHNjcmlwdD4", "bearer   ")
	f.Add("tc_\x00\xff", "\x00", "Basic \xff")
	f.Fuzz(func(t *testing.T, form, cookie, authz string) {
		if form == fx.admin || form == fx.user || strings.Contains(authz, fx.admin) || strings.Contains(authz, fx.user) {
			t.Skip()
		}
		w := fx.post("/login", url.Values{"token": {form}})
		if w.Code == http.StatusSeeOther || w.Code >= 500 {
			t.Fatalf("POST /login with %q: status %d", form, w.Code)
		}
		if len(form) >= 16 && strings.Contains(w.Body.String(), form) {
			t.Fatalf("the login page echoes the posted token %q", form)
		}
		g := fx.get("/", cookie, authz)
		if g.Code != http.StatusSeeOther {
			t.Fatalf("GET / with cookie %q and Authorization %q: status %d", cookie, authz, g.Code)
		}
	})
}

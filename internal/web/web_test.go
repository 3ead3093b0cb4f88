package web

import (
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/tricyclehq/tricycle/coordination"
)

func TestUnauthenticatedRequestGetsLoginPage(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w := f.get("/", "", "")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
		t.Fatalf("status %d to %q, want 303 to /login", w.Code, w.Header().Get("Location"))
	}
	w = f.get("/login", "", "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /login: status %d", w.Code)
	}
	body := w.Body.String()
	if !strings.Contains(body, `action="/login"`) || !strings.Contains(body, `name="token"`) {
		t.Fatalf("not the login page:\n%s", body)
	}
	if strings.Contains(body, f.recordID) || strings.Contains(body, `id="v2"`) {
		t.Fatal("the login page leaks dashboard content")
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cookie := f.login(t, f.admin)
	for _, path := range []string{"/", "/login", "/static/style.css", "/nope"} {
		w := f.get(path, cookie, "")
		h := w.Header()
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"frame-ancestors 'none'", "default-src 'none'", "style-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") && !strings.Contains(csp, "script-src 'none'") {
			t.Errorf("%s: CSP %q allows scripts", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
	page := f.get("/", cookie, "")
	if cc := page.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("dashboard Cache-Control %q, want no-store", cc)
	}
	// No inline script or style attribute can run under the policy, so the
	// page must not contain any.
	for _, bad := range []string{"<script", " style=", " onclick=", " onload="} {
		if strings.Contains(page.Body.String(), bad) {
			t.Errorf("the dashboard contains %q, which the CSP blocks", bad)
		}
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cases := []struct {
		name       string
		token      string
		tls        bool
		origin     string
		fetchSite  string
		wantStatus int
		wantError  string
		wantSecure bool
	}{
		{name: "good token", token: f.admin, wantStatus: http.StatusSeeOther},
		{name: "good token over TLS", token: f.admin, tls: true, wantStatus: http.StatusSeeOther, wantSecure: true},
		{name: "same origin", token: f.user, origin: "http://example.com", wantStatus: http.StatusSeeOther},
		{name: "unknown token", token: "tc_this_token_does_not_exist", wantStatus: http.StatusUnauthorized, wantError: "not valid"},
		{name: "revoked token", token: f.revoked, wantStatus: http.StatusUnauthorized, wantError: "not valid"},
		{name: "empty", token: "  ", wantStatus: http.StatusBadRequest, wantError: "Enter a token"},
		{name: "cross-site form (Origin)", token: f.admin, origin: "https://evil.example", wantStatus: http.StatusForbidden, wantError: "must be posted from this dashboard"},
		{name: "cross-site form (Sec-Fetch-Site)", token: f.admin, fetchSite: "cross-site", wantStatus: http.StatusForbidden, wantError: "must be posted from this dashboard"},
		{name: "same-site is not same-origin", token: f.admin, fetchSite: "same-site", origin: "http://example.com", wantStatus: http.StatusForbidden, wantError: "must be posted from this dashboard"},
		{name: "same-origin (Sec-Fetch-Site)", token: f.admin, fetchSite: "same-origin", origin: "null", wantStatus: http.StatusSeeOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := f.post("/login", url.Values{"token": {tc.token}}, func(r *http.Request) {
				if tc.tls {
					r.TLS = &tls.ConnectionState{}
				}
				if tc.origin != "" {
					r.Header.Set("Origin", tc.origin)
				}
				if tc.fetchSite != "" {
					r.Header.Set("Sec-Fetch-Site", tc.fetchSite)
				}
			})
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantStatus, w.Body)
			}
			cookies := w.Result().Cookies()
			if tc.wantError != "" {
				if !strings.Contains(w.Body.String(), tc.wantError) {
					t.Errorf("body lacks %q:\n%s", tc.wantError, w.Body)
				}
				if strings.TrimSpace(tc.token) != "" && strings.Contains(w.Body.String(), tc.token) {
					t.Error("the login page echoes the token")
				}
				if len(cookies) != 0 {
					t.Errorf("a failed login set cookies %v", cookies)
				}
				return
			}
			if loc := w.Header().Get("Location"); loc != "/" {
				t.Errorf("redirect to %q, want /", loc)
			}
			if len(cookies) != 1 {
				t.Fatalf("cookies %v, want one", cookies)
			}
			ck := cookies[0]
			raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
			if err != nil || string(raw) != tc.token {
				t.Errorf("cookie does not hold the token: %q, %v", ck.Value, err)
			}
			if ck.Name != cookieName || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure != tc.wantSecure {
				t.Errorf("cookie attributes %+v (want HttpOnly, SameSite=Strict, Path=/, Secure=%t)", ck, tc.wantSecure)
			}
		})
	}
}

func TestSessionAndBearerAuthentication(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cookie := f.login(t, f.admin)
	cases := []struct {
		name, cookie, authz string
		want                int
		location            string
		clearsCookie        bool
	}{
		{name: "session cookie", cookie: cookie, want: http.StatusOK},
		{name: "bearer header", authz: "Bearer " + f.admin, want: http.StatusOK},
		{name: "bearer with a revoked token", authz: "Bearer " + f.revoked, want: http.StatusSeeOther, location: "/login?session=expired", clearsCookie: true},
		{name: "cookie of a revoked token", cookie: base64.RawURLEncoding.EncodeToString([]byte(f.revoked)), want: http.StatusSeeOther,
			location: "/login?session=expired", clearsCookie: true},
		{name: "garbled cookie", cookie: "%%%not-base64", want: http.StatusSeeOther, location: "/login?session=expired", clearsCookie: true},
		{name: "basic auth is not a token", authz: "Basic b3BzOnB3", want: http.StatusSeeOther, location: "/login"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := f.get("/", tc.cookie, tc.authz)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d", w.Code, tc.want)
			}
			if tc.want == http.StatusOK {
				if !strings.Contains(w.Body.String(), `id="actor">ops<`) {
					t.Error("the page does not name the signed-in actor")
				}
				return
			}
			if loc := w.Header().Get("Location"); loc != tc.location {
				t.Errorf("redirect to %q, want %q", loc, tc.location)
			}
			cleared := false
			for _, ck := range w.Result().Cookies() {
				cleared = cleared || (ck.Name == cookieName && ck.MaxAge < 0)
			}
			if cleared != tc.clearsCookie {
				t.Errorf("cookie cleared = %t, want %t", cleared, tc.clearsCookie)
			}
		})
	}
}

func TestRevokingATokenEndsItsSessions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cookie := f.login(t, f.admin)
	if w := f.get("/", cookie, ""); w.Code != http.StatusOK {
		t.Fatalf("before revocation: status %d", w.Code)
	}
	toks, err := f.c.ListTokens(f.ctx)
	mustDo(t, "list tokens", err)
	for _, tok := range toks {
		if tok.Name == "ops" {
			mustDo(t, "revoke", f.c.RevokeToken(f.ctx, tok.ID))
		}
	}
	w := f.get("/", cookie, "")
	if w.Code != http.StatusSeeOther {
		t.Fatalf("after revocation: status %d, want a redirect to the login page", w.Code)
	}
	if w := f.get(w.Header().Get("Location"), "", ""); !strings.Contains(w.Body.String(), "no longer valid") {
		t.Errorf("the login page does not say why: %s", w.Body)
	}
}

func TestLogoutClearsTheCookie(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w := f.post("/logout", nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
		t.Fatalf("status %d, location %q", w.Code, w.Header().Get("Location"))
	}
	cks := w.Result().Cookies()
	if len(cks) != 1 || cks[0].Name != cookieName || cks[0].MaxAge >= 0 || cks[0].Value != "" || !cks[0].HttpOnly {
		t.Fatalf("logout cookies %+v, want the session cookie expired", cks)
	}
	if w := f.get("/logout", "", ""); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /logout: %d, want 405 (sign-out is a form post)", w.Code)
	}
	if w := f.post("/logout", nil, func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }); w.Code != http.StatusForbidden {
		t.Errorf("cross-site logout: %d, want 403", w.Code)
	}
}

func TestDashboardShowsTheCoordinatorsNumbers(t *testing.T) {
	t.Parallel()
	f := setup(t)
	doc, body := f.page(t, f.admin)
	ctx := f.ctx
	now := f.c.Clock().Now()

	// Promotion: traffic split and the durable timer.
	pr, err := f.c.Promotion().GetPromotion(ctx, f.promotionID)
	mustDo(t, "get promotion", err)
	if pr.State != coordination.PromotionPhase2 {
		t.Fatalf("fixture: promotion in %s, want phase_2", pr.State)
	}
	card := find(doc, byAttr("data-promotion", f.promotionID))
	if card == nil {
		t.Fatal("no card for the promotion")
	}
	if got := attr(find(card, byClass("traffic-candidate")), "data-percent"); got != strconv.Itoa(pr.TrafficPercent) {
		t.Errorf("candidate weight %q, want %d", got, pr.TrafficPercent)
	}
	if got := text(find(card, byClass("traffic-stable"))); got != strconv.Itoa(100-pr.TrafficPercent)+"%" {
		t.Errorf("stable weight %q, want %d%%", got, 100-pr.TrafficPercent)
	}
	left := pr.Remaining(now)
	tl := find(card, byClass("time-left"))
	if got := attr(tl, "data-seconds"); got != strconv.FormatInt(int64(left/time.Second), 10) {
		t.Errorf("time left %s s, want %v", got, left)
	}
	if left != 41*time.Hour || text(tl) != "1d 17h" {
		t.Errorf("time left shows %q for %v (phase 2 of 48 h, 7 h in)", text(tl), left)
	}
	for _, want := range []string{"phase 2 of 3", "metrics", "security", "10% for 1d → 50% for 2d → 100% for 7d"} {
		if !strings.Contains(text(card), want) {
			t.Errorf("promotion card lacks %q: %s", want, text(card))
		}
	}
	if rows := findAll(card, byClass("ended")); len(rows) != 1 {
		t.Errorf("phase history shows %d ended phases, want 1", len(rows))
	}

	// SLO: error budget and each objective.
	slo, err := f.c.Health().CalculateSLOCompliance(ctx)
	mustDo(t, "SLO", err)
	budget := find(doc, byID("slo-budget"))
	if got := text(budget); got != fmtPercent(slo.BudgetRemaining) || got != "75%" {
		t.Errorf("error budget %q, want %s (75%%)", got, fmtPercent(slo.BudgetRemaining))
	}
	if got, _ := strconv.ParseFloat(attr(budget, "data-fraction"), 64); got != slo.BudgetRemaining {
		t.Errorf("error budget fraction %v, want %v", got, slo.BudgetRemaining)
	}
	if got := text(find(find(doc, byAttr("data-slo", "error_rate")), byClass("slo-value"))); got != "0.5%" {
		t.Errorf("error rate SLO value %q, want 0.5%%", got)
	}

	// The firing alert.
	alerts, err := f.c.Health().GetActiveAlerts(ctx)
	mustDo(t, "alerts", err)
	if len(alerts) != 1 || alerts[0].State != "firing" {
		t.Fatalf("fixture: alerts %+v, want one firing", alerts)
	}
	row := find(doc, byAttr("data-alert", alerts[0].ID))
	if row == nil || !strings.Contains(text(row), "warning firing production error_rate 3% 2%") {
		t.Errorf("alert row %q", text(row))
	}

	// Release.
	rels, err := f.c.Releases(ctx)
	mustDo(t, "releases", err)
	if got := text(find(doc, byID("release-id"))); got != rels[0].ID {
		t.Errorf("release %q, want %s", got, rels[0].ID)
	}

	// Running experiment: shadow share, evaluation period, criteria.
	exp := find(doc, byAttr("data-experiment", f.runningID))
	if exp == nil {
		t.Fatal("no card for the running experiment")
	}
	e, err := f.c.GetExperiment(ctx, f.runningID)
	mustDo(t, "get experiment", err)
	for _, want := range []string{fmtNumber(e.ShadowPercent) + "%", "2h of 7d–14d", "decision possible from " + fmtTime(e.StartedAt.Add(e.EvaluationMin.D())),
		"accuracy > 90%", "latency_p95 < 3s", "no samples yet"} {
		if !strings.Contains(text(exp), want) {
			t.Errorf("experiment card lacks %q: %s", want, text(exp))
		}
	}

	// Held experiment with its decision and explanation.
	held, err := f.c.GetExperiment(ctx, f.heldID)
	mustDo(t, "get held", err)
	hr := find(find(doc, byID("v1")), func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-experiment") == f.heldID })
	if hr == nil || !strings.Contains(text(hr), "HOLD") || !strings.Contains(text(hr), held.LastEvaluation.Explanation.Summary) {
		t.Errorf("held row %q", text(hr))
	}

	// Quarantine record and its root cause.
	rec, err := f.c.Quarantine().GetRecord(ctx, f.recordID)
	mustDo(t, "get record", err)
	rr := find(doc, byAttr("data-record", f.recordID))
	if rr == nil {
		t.Fatal("no row for the quarantine record")
	}
	if got := text(find(rr, byClass("rc-summary"))); got != rec.RootCause.Summary {
		t.Errorf("root cause %q, want %q", got, rec.RootCause.Summary)
	}
	for _, want := range []string{rec.RootCause.Category, string(rec.FailureType), fmtPercent(rec.RootCause.Confidence), fmtDate(rec.NextReviewAt)} {
		if !strings.Contains(text(rr), want) {
			t.Errorf("record row lacks %q: %s", want, text(rr))
		}
	}
	bl, err := f.c.Quarantine().Blacklist(ctx, true)
	mustDo(t, "blacklist", err)
	if len(bl) == 0 || find(doc, byAttr("data-blacklist", bl[0].ID)) == nil {
		t.Errorf("blacklist entries %d, not all shown", len(bl))
	}

	// Proposal with its priority.
	prop, err := f.c.Generator().GetProposal(ctx, f.proposalID)
	mustDo(t, "get proposal", err)
	pp := find(doc, byAttr("data-proposal", f.proposalID))
	if got := text(find(pp, byClass("priority"))); got != strconv.FormatFloat(prop.Priority, 'f', 2, 64) {
		t.Errorf("proposal priority %q, want %.2f", got, prop.Priority)
	}

	// Audit log: verified, newest entry first.
	v, err := f.c.VerifyAudit(ctx)
	mustDo(t, "verify audit", err)
	if !v.OK || text(find(doc, byID("audit-status"))) != "chain OK" {
		t.Errorf("audit status %q for %+v", text(find(doc, byID("audit-status"))), v)
	}
	if seqs := findAll(find(doc, byID("audit")), func(n *html.Node) bool { return attr(n, "data-seq") != "" }); len(seqs) == 0 ||
		attr(seqs[0], "data-seq") != strconv.FormatInt(v.Entries, 10) {
		t.Errorf("audit log does not start at the newest entry %d", v.Entries)
	}

	// The token never appears in the page.
	if strings.Contains(body, f.admin) || strings.Contains(body, base64.RawURLEncoding.EncodeToString([]byte(f.admin))) {
		t.Error("the dashboard renders the token")
	}
	if strings.Contains(f.logs.String(), f.admin) {
		t.Error("the token was logged")
	}
}

func TestUserRoleSeesOnlyWhatItMayRead(t *testing.T) {
	t.Parallel()
	f := setup(t)
	doc, body := f.page(t, f.user)
	for _, id := range []string{"release", "promotion", "v1", "v3", "proposals", "audit"} {
		sec := find(doc, byID(id))
		if find(sec, byAttr("data-unavailable", "role")) == nil {
			t.Errorf("section %s does not say it is not available for the role", id)
		}
	}
	for _, leak := range []string{f.promotionID, f.runningID, f.recordID, f.proposalID, "Cheaper simulated reviewer"} {
		if strings.Contains(body, leak) {
			t.Errorf("a user sees %q", leak)
		}
	}
	// Production's health is readable by users: SLO and alerts render.
	if text(find(doc, byID("slo-budget"))) != "75%" || find(doc, byAttr("data-alert", "production/error_rate/warning")) == nil {
		t.Error("a user does not see production's SLO and alerts")
	}
	// The charts show production only.
	for _, s := range f.hist.series() {
		if s != SeriesProduction {
			t.Errorf("charts read series %q for a user", s)
		}
	}
}

func TestStaticAssets(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w := f.get("/static/style.css", "", "")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") || !strings.Contains(w.Body.String(), ".card") {
		t.Fatalf("style.css: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	for _, path := range []string{"/static/", "/static/missing.css", "/static/templates/login.html", "/favicon.ico", "/web.go"} {
		if w := f.get(path, "", ""); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, w.Code)
		}
	}
	if w := f.get("/static/../web.go", "", ""); w.Code == http.StatusOK {
		t.Error("a path with .. escapes the static folder")
	}
	if body := f.get("/login", "", "").Body.String(); !strings.Contains(body, "/static/style.css?v="+f.h.assets["style.css"]) {
		t.Error("pages do not reference the stylesheet by its content hash")
	}
}

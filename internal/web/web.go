package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Point is one step of a measured series: what the data plane recorded
// between At and At plus the step.
type Point struct {
	At time.Time
	// P95 is the 95th percentile review latency in seconds.
	P95 float64
	// ErrorRate is the fraction of reviews that failed.
	ErrorRate float64
	// CostPerReview is the mean cost of one review in US dollars.
	CostPerReview float64
	// Requests is the number of reviews in the step; a step with none is
	// drawn as a gap.
	Requests int64
}

// HistoryFunc returns a series' points from from to to, one per step,
// oldest first. Series are named SeriesProduction, ExperimentSeries(id) and
// CanarySeries(id). It is called while a page is rendered and must be safe
// for concurrent use.
type HistoryFunc func(ctx context.Context, series string, from, to time.Time, step time.Duration) ([]Point, error)

// SeriesProduction names production's (V2) series.
const SeriesProduction = "production"

// ExperimentSeries names the series of a running experiment's shadow traffic.
func ExperimentSeries(id string) string { return "exp/" + id }

// CanarySeries names the series of a promotion's canary traffic.
func CanarySeries(id string) string { return "canary/" + id }

// Options configure the dashboard. Zero fields take the defaults noted.
type Options struct {
	// History feeds the charts; nil means the charts say "no data".
	History HistoryFunc
	// Measurements, when set, gives each running experiment a live look:
	// its criteria judged on the samples measured so far, exactly as the
	// evaluator would (nil: the last evaluation of the current run, if any).
	Measurements coordination.MeasurementFunc
	// ChartWindow is how far back the charts reach (default 24 h) and
	// ChartStep the width of one point (default ChartWindow/96).
	ChartWindow time.Duration
	ChartStep   time.Duration
	// Refresh is how often an open dashboard reloads itself (default 30 s;
	// negative: never).
	Refresh time.Duration
	// SecureCookie marks the session cookie Secure even on plain HTTP (for a
	// server behind a TLS-terminating proxy); it is always Secure over TLS.
	SecureCookie bool
	// Logger receives failures to load a section (nil: discard). Tokens are
	// never logged.
	Logger *slog.Logger
}

// Handler serves the dashboard at /, the login form at /login, /logout and
// the embedded assets under /static/. It is safe for concurrent use.
type Handler struct {
	c      *coordination.LifecycleCoordinator // non-nil
	opts   Options
	log    *slog.Logger       // non-nil
	tmpl   *template.Template // non-nil
	mux    *http.ServeMux
	assets map[string]string // asset path → content hash, for cache busting
}

// cookieName is the session cookie; its value is the token, base64url
// encoded so that any token secret fits a cookie.
const cookieName = "tricycle_session"

// maxLoginBody bounds the login form.
const maxLoginBody = 4 << 10

// contentSecurityPolicy allows only the page's own stylesheet and images:
// no script at all, no framing, forms posting only to the dashboard.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// New builds the dashboard for c.
func New(c *coordination.LifecycleCoordinator, opts Options) (*Handler, error) {
	if c == nil {
		return nil, errors.New("new dashboard: a coordinator is required")
	}
	if opts.ChartWindow <= 0 {
		opts.ChartWindow = 24 * time.Hour
	}
	if opts.ChartStep <= 0 {
		opts.ChartStep = opts.ChartWindow / 96
	}
	if opts.Refresh == 0 {
		opts.Refresh = 30 * time.Second
	}
	h := &Handler{c: c, opts: opts, log: opts.Logger, mux: http.NewServeMux(), assets: map[string]string{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("new dashboard: static assets: %w", err)
	}
	err = fs.WalkDir(static, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(static, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		h.assets[path] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("new dashboard: hash static assets: %w", err)
	}
	h.tmpl, err = template.New("").Funcs(template.FuncMap{"asset": h.assetURL}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("new dashboard: parse templates: %w", err)
	}
	files := http.FileServerFS(static)
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := h.assets[r.URL.Path]; !ok {
			h.notFound(w)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})))
	h.mux.HandleFunc("GET /{$}", h.dashboard)
	h.mux.HandleFunc("GET /login", h.loginForm)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.HandleFunc("POST /logout", h.logout)
	h.mux.HandleFunc("/login", methodNotAllowed("GET, HEAD, POST"))
	h.mux.HandleFunc("/logout", methodNotAllowed("POST"))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { h.notFound(w) })
	return h, nil
}

// Dashboard returns a constructor with the shape app.Options.Dashboard
// takes: the daemon calls it with its coordinator.
func Dashboard(opts Options) func(*coordination.LifecycleCoordinator) (http.Handler, error) {
	return func(c *coordination.LifecycleCoordinator) (http.Handler, error) {
		return New(c, opts)
	}
}

// ServeHTTP sets the security headers and serves the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

// assetURL returns the URL of a static asset with its content hash, so a
// new build is never served a stale cached copy.
func (h *Handler) assetURL(path string) string {
	return "/static/" + path + "?v=" + h.assets[path]
}

// authState is the outcome of reading a request's credentials.
type authState int

const (
	authNone    authState = iota // no cookie and no bearer header
	authInvalid                  // credentials given but unknown or revoked
	authOK
)

// authenticate resolves the session cookie, or else a bearer header, to an
// actor. A store failure is returned as an error.
func (h *Handler) authenticate(r *http.Request) (coordination.Actor, authState, error) {
	var secret string
	if ck, err := r.Cookie(cookieName); err == nil && ck.Value != "" {
		raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
		if err != nil {
			return coordination.Actor{}, authInvalid, nil
		}
		secret = string(raw)
	} else if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		secret = strings.TrimSpace(tok)
	} else {
		return coordination.Actor{}, authNone, nil
	}
	actor, err := h.c.Authenticate(r.Context(), secret)
	switch {
	case errors.Is(err, coordination.ErrNotFound):
		return coordination.Actor{}, authInvalid, nil
	case err != nil:
		return coordination.Actor{}, authNone, fmt.Errorf("authenticate: %w", err)
	}
	return actor, authOK, nil
}

// loginPage is what the login template shows.
type loginPage struct {
	Error string
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	var p loginPage
	if r.URL.Query().Get("session") == "expired" {
		p.Error = "Your session's token is no longer valid; sign in again."
	}
	h.render(w, http.StatusOK, "login.html", p)
}

// login checks the posted token and, when it is valid, stores it in the
// session cookie and goes to the dashboard.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		h.render(w, http.StatusForbidden, "login.html", loginPage{Error: "The sign-in form must be posted from this dashboard."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		h.render(w, http.StatusBadRequest, "login.html", loginPage{Error: "The form could not be read; paste the token and try again."})
		return
	}
	secret := strings.TrimSpace(r.PostForm.Get("token"))
	if secret == "" {
		h.render(w, http.StatusBadRequest, "login.html", loginPage{Error: "Enter a token."})
		return
	}
	actor, err := h.c.Authenticate(r.Context(), secret)
	switch {
	case errors.Is(err, coordination.ErrNotFound):
		w.Header().Set("WWW-Authenticate", `Bearer realm="tricycle"`)
		h.render(w, http.StatusUnauthorized, "login.html", loginPage{Error: "That token is not valid: it is unknown or was revoked."})
		return
	case err != nil:
		h.log.Error("dashboard sign-in failed", "err", err)
		h.render(w, http.StatusServiceUnavailable, "login.html", loginPage{Error: "The token could not be checked right now; try again."})
		return
	}
	http.SetCookie(w, h.cookie(r, base64.RawURLEncoding.EncodeToString([]byte(secret)), 0))
	h.log.Info("dashboard sign-in", "actor", actor.Name, "role", string(actor.Role))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout clears the session cookie.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		h.render(w, http.StatusForbidden, "login.html", loginPage{Error: "Sign out from this dashboard."})
		return
	}
	http.SetCookie(w, h.cookie(r, "", -1))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// cookie builds the session cookie; maxAge -1 deletes it.
func (h *Handler) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: cookieName, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || h.opts.SecureCookie}
}

// sameOrigin refuses a form posted from another site. Browsers say where a
// request comes from in Sec-Fetch-Site; older ones only in Origin, which
// must then name this host. A client that sends neither is not a browser
// acting for someone else.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// dashboard renders the page for an authenticated actor, and sends anyone
// else to the login page.
func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request) {
	actor, state, err := h.authenticate(r)
	switch {
	case err != nil:
		h.log.Error("dashboard authentication failed", "err", err)
		h.render(w, http.StatusServiceUnavailable, "login.html", loginPage{Error: "Your token could not be checked right now; reload in a moment."})
		return
	case state == authInvalid:
		http.SetCookie(w, h.cookie(r, "", -1))
		http.Redirect(w, r, "/login?session=expired", http.StatusSeeOther)
		return
	case state == authNone:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	ctx := coordination.WithActor(r.Context(), actor)
	h.render(w, http.StatusOK, "dashboard.html", h.build(ctx, actor))
}

// render executes a template into a buffer first, so that a failure is a
// clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		h.log.Error("render dashboard page", "template", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// methodNotAllowed answers 405 naming the allowed methods.
func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
	}
}

func (h *Handler) notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte("404 not found\n"))
}

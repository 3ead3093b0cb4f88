// Package httpapi is tricycle's HTTP API under /api/v1: experiments (V1),
// promotions and releases (V2), quarantine (V3), proposals, status, health,
// audit, tokens, the event stream and the OpenAPI document.
//
// # Routes and permissions
//
// Every endpoint is a Route in one table that says its method and path, the
// permission it needs and its request and response types. The table is the
// only way a handler is registered, and the OpenAPI document is generated
// from it, so the two cannot disagree. A request that matches no route is
// refused (404, or 405 with Allow when the path exists with other methods).
//
// # Authentication
//
// Each non-public route needs `Authorization: Bearer <token>`. The token is
// resolved by the coordinator (only its hash is stored); the request then
// runs with coordination.WithActor, so the domain checks the role again and
// writes the audit log. No token, an unknown one or a revoked one is a 401;
// a role without the route's permission is a 403 naming the permission.
// Tokens and Authorization headers are never logged.
//
// # Bodies and errors
//
// Request bodies are strict JSON (see DecodeJSON). Errors are
// {"error": {"code", "message"}} with the status of one table (StatusOf).
//
// # Extension
//
// The review data plane adds its endpoints with Mount, which applies the
// same authentication, permission check, metrics and logging, and documents
// them in the OpenAPI document. Options.Fallback serves what is outside the
// API (the dashboard).
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tricyclehq/tricycle/coordination"
)

// Options configure a Server.
type Options struct {
	// Coordinator serves every request; required.
	Coordinator *coordination.LifecycleCoordinator
	// Logger receives one line per request (nil: discard).
	Logger *slog.Logger
	// Registerer receives the request metrics (nil: none are registered).
	Registerer prometheus.Registerer
	// MaxBodyBytes bounds JSON request bodies (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// EventsHeartbeat is the interval of heartbeat comments on the event
	// stream (0: 15 s); EventsReplay the number of recent events kept for
	// Last-Event-ID (0: 1024); EventsWriteTimeout bounds one write to a
	// stream (0: 10 s).
	EventsHeartbeat    time.Duration
	EventsReplay       int
	EventsWriteTimeout time.Duration
	// Fallback serves requests outside /api/ that match no route (the
	// dashboard); nil means a JSON 404.
	Fallback http.Handler
}

// Server is the HTTP API. Build it with New, start its event stream with
// Start, serve Handler, and Close it before shutting the HTTP server down.
type Server struct {
	coord   *coordination.LifecycleCoordinator // non-nil
	log     *slog.Logger                       // non-nil
	maxBody int64
	mux     *http.ServeMux
	metrics *httpMetrics // non-nil
	hub     *hub         // non-nil
	events  eventsOptions

	mu       sync.Mutex // guards routes and patterns
	routes   []Route
	patterns []string // every pattern registered on mux, in order
	fallback http.Handler
}

// New builds the API server with every /api/v1 route registered.
func New(opts Options) (*Server, error) {
	if opts.Coordinator == nil {
		return nil, errors.New("new API server: a coordinator is required")
	}
	s := &Server{coord: opts.Coordinator, log: opts.Logger, maxBody: opts.MaxBodyBytes,
		mux: http.NewServeMux(), fallback: opts.Fallback}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	s.events = eventsOptions{heartbeat: opts.EventsHeartbeat, writeTimeout: opts.EventsWriteTimeout}
	if s.events.heartbeat <= 0 {
		s.events.heartbeat = 15 * time.Second
	}
	if s.events.writeTimeout <= 0 {
		s.events.writeTimeout = 10 * time.Second
	}
	replay := opts.EventsReplay
	if replay <= 0 {
		replay = 1024
	}
	s.hub = newHub(replay)
	var err error
	if s.metrics, err = newHTTPMetrics(opts.Registerer); err != nil {
		return nil, fmt.Errorf("new API server: %w", err)
	}
	s.register("/", http.HandlerFunc(s.unmatched))
	for _, rt := range s.apiRoutes() {
		if err := s.Mount(rt); err != nil {
			return nil, fmt.Errorf("new API server: %w", err)
		}
	}
	return s, nil
}

// Handler returns the HTTP handler of the API and of every mounted route.
func (s *Server) Handler() http.Handler { return s.mux }

// Coordinator returns the coordinator the server calls.
func (s *Server) Coordinator() *coordination.LifecycleCoordinator { return s.coord }

// Routes returns the route table, in registration order.
func (s *Server) Routes() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.routes)
}

// Mount registers a route with the API's authentication, permission check,
// query-parameter check, metrics and logging, and adds it to the OpenAPI
// document. It is how the review data plane adds /api/v1/reviews and
// /v1/chat/completions, and how the server adds /healthz. Mounting a path and
// method twice is an error.
func (s *Server) Mount(rt Route) error {
	if err := rt.validate(); err != nil {
		return fmt.Errorf("mount %s %s: %w", rt.Method, rt.Path, err)
	}
	if rt.Status == 0 {
		rt.Status = http.StatusOK
	}
	pattern := rt.Pattern()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.routes {
		if have.Pattern() == pattern {
			return fmt.Errorf("mount %s: already mounted", pattern)
		}
	}
	if err := s.registerLocked(pattern, s.wrap(rt)); err != nil {
		return fmt.Errorf("mount %s: %w", pattern, err)
	}
	s.routes = append(s.routes, rt)
	return nil
}

func (s *Server) register(pattern string, h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.registerLocked(pattern, h); err != nil {
		panic(err) // only fixed patterns come here
	}
}

// registerLocked is the only place that adds to the mux.
func (s *Server) registerLocked(pattern string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("register %q: %v", pattern, p)
		}
	}()
	s.mux.Handle(pattern, h)
	s.patterns = append(s.patterns, pattern)
	return nil
}

// reqInfo is what the request log line needs from deeper layers.
type reqInfo struct {
	route string
	actor coordination.Actor
	err   error // the cause of a 5xx
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	i, _ := ctx.Value(infoKey{}).(*reqInfo)
	return i
}

// wrap builds a route's handler: observe (log, metrics, recover) →
// authenticate → authorize → check the query → the route's handler.
func (s *Server) wrap(rt Route) http.Handler {
	pattern := rt.Pattern()
	inner := rt.Handler
	return s.observe(pattern, rt.Public, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rt.Public {
			actor, err := s.authenticate(r)
			if err != nil {
				WriteError(w, r, err)
				return
			}
			infoFrom(r.Context()).actor = actor
			if !actor.Role.Allowed(rt.Permission) {
				WriteError(w, r, fmt.Errorf("%w: role %q lacks permission %q", coordination.ErrForbidden, actor.Role, rt.Permission))
				return
			}
			r = r.WithContext(coordination.WithActor(r.Context(), actor))
		}
		for name := range r.URL.Query() {
			if !slices.Contains(rt.Query, name) {
				WriteError(w, r, invalid(name, "unknown query parameter (allowed: %s)", allowedList(rt.Query)))
				return
			}
		}
		inner.ServeHTTP(w, r)
	}))
}

func allowedList(q []string) string {
	if len(q) == 0 {
		return "none"
	}
	return strings.Join(q, ", ")
}

// maxTokenLen bounds a bearer token read from a request.
const maxTokenLen = 512

// authenticate resolves the request's bearer token to an actor.
func (s *Server) authenticate(r *http.Request) (coordination.Actor, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return coordination.Actor{}, fmt.Errorf("%w: send Authorization: Bearer <token>", ErrUnauthenticated)
	}
	if len(vals) > 1 {
		return coordination.Actor{}, fmt.Errorf("%w: more than one Authorization header", ErrUnauthenticated)
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return coordination.Actor{}, fmt.Errorf("%w: the Authorization header must be \"Bearer <token>\"", ErrUnauthenticated)
	}
	if len(tok) > maxTokenLen {
		return coordination.Actor{}, fmt.Errorf("%w: invalid or revoked token", ErrUnauthenticated)
	}
	actor, err := s.coord.Authenticate(r.Context(), tok)
	if err != nil {
		if errors.Is(err, coordination.ErrNotFound) || errors.Is(err, coordination.ErrForbidden) {
			return coordination.Actor{}, fmt.Errorf("%w: invalid or revoked token", ErrUnauthenticated)
		}
		return coordination.Actor{}, fmt.Errorf("authenticate: %w", err)
	}
	return actor, nil
}

// probeMethods are the methods tried to build a 405's Allow header.
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// unmatched answers requests no route matches: 405 with Allow when the path
// exists with other methods, the fallback outside /api/, else 404.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	s.observe("unmatched", true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range probeMethods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			if slices.Contains(allow, http.MethodGet) {
				allow = append(allow, http.MethodHead)
			}
			WriteError(w, r, &methodError{allow: allow})
			return
		}
		if s.fallback != nil && !strings.HasPrefix(r.URL.Path, "/api/") {
			s.fallback.ServeHTTP(w, r)
			return
		}
		WriteError(w, r, fmt.Errorf("%w: %s %s", ErrRouteNotFound, r.Method, r.URL.Path))
	})).ServeHTTP(w, r)
}

// observe logs and measures one request and turns a panic into a 500.
func (s *Server) observe(route string, quiet bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{route: route}
		rec := &recorder{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		s.metrics.inflight.Inc()
		defer func() {
			s.metrics.inflight.Dec()
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				info.err = fmt.Errorf("panic: %v", p)
				if !rec.wrote {
					WriteError(rec, r, info.err)
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			s.metrics.observe(route, status, d)
			level := slog.LevelInfo
			switch {
			case status >= 500:
				level = slog.LevelError
			case quiet && status < 400:
				level = slog.LevelDebug
			}
			attrs := []slog.Attr{slog.String("method", r.Method), slog.String("route", route),
				slog.String("path", r.URL.Path), slog.Int("status", status),
				slog.Duration("duration", d), slog.Int64("bytes", rec.bytes)}
			if info.actor.Name != "" {
				attrs = append(attrs, slog.String("actor", info.actor.Name), slog.String("role", string(info.actor.Role)))
			}
			if info.err != nil {
				attrs = append(attrs, slog.String("err", info.err.Error()))
			}
			s.log.LogAttrs(r.Context(), level, "http request", attrs...)
		}()
		next.ServeHTTP(rec, r)
	})
}

// recorder captures the status and size of a response. It unwraps to the
// underlying writer so that http.ResponseController reaches Flush and the
// deadlines.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap returns the underlying writer for http.ResponseController.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Start subscribes the event stream to the coordinator's bus. Events
// published before Start are not streamed.
func (s *Server) Start(ctx context.Context) error {
	return s.hub.start(ctx, s.coord.Bus())
}

// Close ends every event stream and unsubscribes from the bus; call it
// before shutting the HTTP server down so that streams do not hold the
// shutdown. It is idempotent.
func (s *Server) Close() error { return s.hub.close() }

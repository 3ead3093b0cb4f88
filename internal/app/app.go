// Package app is the `tricycle serve` daemon as a value: it opens the store
// and the bus named by the configuration, builds the coordinator, creates
// the first admin token, and serves the HTTP API, /healthz, /readyz and
// /metrics. Tests run it in process on 127.0.0.1:0.
//
// # Lifecycle
//
// New acquires everything (store, bus, listener) and fails without leaving
// anything open. Run starts the coordinator and serves until its context is
// cancelled, then shuts down in order: readiness goes false, event streams
// end, the HTTP server stops accepting and waits for in-flight requests (up
// to server.shutdown_timeout, after which they are cut), the data plane
// stops, the coordinator stops (publishing what is left in the outbox), and
// the bus and the store close. Signals are the caller's business: Run only
// watches its context. Close releases an App whose Run was never called.
//
// # Extension
//
// Options.DataPlane plugs in the review data plane: it feeds the
// coordinator's measurement hooks and mounts its routes on the API.
// Options.Dashboard serves the web dashboard at /.
//
// # Roles
//
// Options.Role splits the server into processes of one binary (see Role):
// gateways serving reviews, experiments workers and coordinators, meeting
// through a shared store and NATS JetStream. CheckRole says which stores and
// buses a role runs on. A gateway or experiments process builds the
// coordinator only to read routing and tokens from the store; it never
// starts its loops, its outbox relay or its event stream, and serves only
// its own routes.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/config"
	"github.com/tricyclehq/tricycle/internal/httpapi"
	"github.com/tricyclehq/tricycle/internal/store/postgres"
	"github.com/tricyclehq/tricycle/internal/store/sqlite"
)

// ErrNotAvailable means the configuration selects a store this build does
// not include.
var ErrNotAvailable = errors.New("not available in this build yet")

// Options are what the configuration file does not say: the process's
// writers, an injected clock and the pluggable parts.
type Options struct {
	// Logger receives the server's log; nil means NewLogger(cfg.Log, os.Stderr).
	Logger *slog.Logger
	// Stdout, when set, is told where a generated admin token was written
	// (the path, never the token).
	Stdout io.Writer
	// Clock is the coordinator's clock (nil: the real clock).
	Clock coordination.Clock
	// DataPlane builds the review data plane once the store, bus and
	// registry exist (nil: none; the coordinator then has no measurements).
	DataPlane func(ctx context.Context, deps Deps) (DataPlane, error)
	// Dashboard builds the handler served at / and every path outside the
	// API (nil: a JSON 404).
	Dashboard func(c *coordination.LifecycleCoordinator) (http.Handler, error)
	// Role is what this process runs ("" is RoleAll).
	Role Role
	// LookupEnv reads EnvInstance, EnvLeaderTTL and the NATS variables; nil
	// means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Deps are what the data plane is built from.
type Deps struct {
	Config   config.Config
	Store    coordination.Store
	Bus      coordination.Bus
	Registry prometheus.Registerer
	Logger   *slog.Logger
	Clock    coordination.Clock
	// Role is what this process runs (never "").
	Role Role
	// Instance is this replica's unique name, for its bus consumers.
	Instance string
	// Acting reports whether this process is the acting coordinator and
	// under which lease epoch; nil means it always acts (a store without
	// leases). Work that only the acting coordinator may do checks it.
	Acting func() (epoch int64, ok bool)
}

// DataPlane is the review data plane as the daemon sees it.
type DataPlane interface {
	// Hooks returns how the coordinator reads the data plane's
	// measurements; it is called once, before the coordinator is built.
	Hooks() Hooks
	// Mount registers the data plane's routes (reviews, chat completions)
	// on the API; api.Coordinator() is the running system's coordinator.
	Mount(api *httpapi.Server) error
	// Start starts the data plane's background work (shadow workers) once
	// the coordinator runs; Stop stops it after the HTTP server drained.
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Hooks are the coordinator's inputs from the data plane; nil fields mean
// no data (see coordination.Options).
type Hooks struct {
	Measurements  coordination.MeasurementFunc
	CanaryMetrics coordination.CanaryMetricsFunc
	HealthMetrics coordination.HealthMetricsFunc
	CostPerReview func(ctx context.Context) (float64, bool)
	Feedback      coordination.FeedbackFunc
	Catalog       coordination.CatalogFunc
	Sources       []coordination.ProposalSource
	LoadTest      coordination.ValidationCheck
	Scaler        coordination.Scaler
}

// App is a configured tricycle server.
type App struct {
	cfg   config.Config
	log   *slog.Logger
	out   io.Writer
	store coordination.Store
	bus   coordination.Bus
	coord *coordination.LifecycleCoordinator
	api   *httpapi.Server
	dp    DataPlane // may be nil
	reg   *prometheus.Registry
	srv   *http.Server
	ln    net.Listener
	role  Role
	inst  string
	lead  coordination.Leader // nil: no lease (in-memory store, or a role without the coordinator)
	env   func(string) (string, bool)

	adminTokenFile string
	ready          atomic.Bool   // serving and coordinator started
	readyCh        chan struct{} // closed once serving
	ran            atomic.Bool
	closeOnce      sync.Once
	closeErr       error
}

// New builds the server from a validated configuration: it opens the store
// and the bus, builds the coordinator, creates the first admin token on an
// empty store, and listens on server.addr. Nothing runs until Run.
func New(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	a := &App{cfg: cfg, log: opts.Logger, out: opts.Stdout, readyCh: make(chan struct{}), env: opts.LookupEnv}
	if a.env == nil {
		a.env = os.LookupEnv
	}
	var err error
	if a.role, err = ParseRole(string(opts.Role)); err != nil {
		return nil, err
	}
	if err := CheckRole(cfg, a.role); err != nil {
		return nil, err
	}
	a.inst = InstanceName(a.env)
	if a.log == nil {
		a.log = NewLogger(cfg.Log, os.Stderr)
	}
	if err := a.open(ctx, opts); err != nil {
		_ = a.Close()
		return nil, err
	}
	return a, nil
}

// open acquires and builds everything New promises; on error the caller
// closes what was acquired.
func (a *App) open(ctx context.Context, opts Options) (err error) {
	cfg := a.cfg
	if a.store, err = openStore(ctx, cfg); err != nil {
		return err
	}
	if a.bus, err = openBus(ctx, cfg, a.log, a.inst, a.env); err != nil {
		return err
	}
	a.reg = prometheus.NewRegistry()
	if err := a.reg.Register(collectors.NewGoCollector()); err != nil {
		return fmt.Errorf("register Go metrics: %w", err)
	}
	if err := a.reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return fmt.Errorf("register process metrics: %w", err)
	}
	if a.role.RunsCoordinator() {
		if a.lead, err = a.newLeader(); err != nil {
			return err
		}
	}
	if opts.DataPlane != nil {
		deps := Deps{Config: cfg, Store: a.store, Bus: a.bus, Registry: a.reg,
			Logger: a.log, Clock: opts.Clock, Role: a.role, Instance: a.inst}
		if a.lead != nil {
			deps.Acting = a.lead.Acting
		}
		if a.dp, err = opts.DataPlane(ctx, deps); err != nil {
			return fmt.Errorf("data plane: %w", err)
		}
	}
	if a.coord, err = a.buildCoordinator(ctx, opts.Clock); err != nil {
		return err
	}
	if err := a.bootstrapAdminToken(ctx); err != nil {
		return err
	}
	var fallback http.Handler
	if opts.Dashboard != nil && a.role.RunsCoordinator() {
		if fallback, err = opts.Dashboard(a.coord); err != nil {
			return fmt.Errorf("dashboard: %w", err)
		}
	}
	if a.api, err = httpapi.New(httpapi.Options{Coordinator: a.coord, Logger: a.log, Registerer: a.reg,
		MaxBodyBytes: cfg.Server.MaxBodyBytes, EventsHeartbeat: cfg.Server.EventsHeartbeat.D(),
		EventsReplay: cfg.Server.EventsReplay, EventsWriteTimeout: cfg.Server.WriteTimeout.D(), Fallback: fallback}); err != nil {
		return err
	}
	if err := a.mountOps(); err != nil {
		return err
	}
	if a.dp != nil {
		if err := a.dp.Mount(a.api); err != nil {
			return fmt.Errorf("data plane: mount routes: %w", err)
		}
	}
	var lc net.ListenConfig
	if a.ln, err = lc.Listen(ctx, "tcp", cfg.Server.Addr); err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Addr, err)
	}
	s := cfg.Server
	a.srv = &http.Server{
		Handler:           roleHandler(a.role, a.api.Handler()),
		ReadHeaderTimeout: s.ReadHeaderTimeout.D(),
		ReadTimeout:       s.ReadTimeout.D(),
		WriteTimeout:      s.WriteTimeout.D(),
		IdleTimeout:       s.IdleTimeout.D(),
		MaxHeaderBytes:    s.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// openStore opens the store the DSN names.
func openStore(ctx context.Context, cfg config.Config) (coordination.Store, error) {
	kind, path, err := cfg.Storage.StorageKind()
	if err != nil {
		return nil, err
	}
	switch kind {
	case config.StorageSQLite:
		if path != ":memory:" {
			if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
				return nil, fmt.Errorf("open store: create directory of %s: %w", path, err)
			}
		}
		st, err := sqlite.Open(ctx, "sqlite:"+path)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return st, nil
	case config.StoragePostgres:
		st, err := postgres.Open(ctx, cfg.Storage.DSN)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return st, nil
	default:
		return nil, fmt.Errorf("open store: %s is %w; use sqlite:PATH or postgres://…", kind, ErrNotAvailable)
	}
}

func (a *App) buildCoordinator(ctx context.Context, clock coordination.Clock) (*coordination.LifecycleCoordinator, error) {
	prod, err := a.cfg.ProductionVariant()
	if err != nil {
		return nil, err
	}
	o := coordination.Options{Store: a.store, Bus: a.bus, Clock: clock, Logger: a.log,
		Config: a.cfg.Coordination(), Production: prod, PollInterval: a.cfg.Cycle.PollInterval.D()}
	if a.dp != nil {
		h := a.dp.Hooks()
		o.Measurements, o.CanaryMetrics, o.HealthMetrics = h.Measurements, h.CanaryMetrics, h.HealthMetrics
		o.CostPerReview, o.Feedback, o.Catalog, o.Sources = h.CostPerReview, h.Feedback, h.Catalog, h.Sources
		o.LoadTest, o.Scaler = h.LoadTest, h.Scaler
	}
	o.Leader = a.lead
	c, err := coordination.NewLifecycleCoordinator(o)
	if err != nil {
		return nil, fmt.Errorf("build coordinator: %w", err)
	}
	if err := c.Init(ctx); err != nil {
		return nil, fmt.Errorf("initialise the store: %w", err)
	}
	return c, nil
}

// Handler returns the server's HTTP handler (API, health, metrics, mounted
// routes and dashboard), for tests that serve it themselves.
func (a *App) Handler() http.Handler { return a.srv.Handler }

// Coordinator returns the coordinator.
func (a *App) Coordinator() *coordination.LifecycleCoordinator { return a.coord }

// API returns the HTTP API server (to mount more routes before Run).
func (a *App) API() *httpapi.Server { return a.api }

// Role returns what this process runs.
func (a *App) Role() Role { return a.role }

// Instance returns this replica's name (EnvInstance, or host name and pid).
func (a *App) Instance() string { return a.inst }

// Registry returns the Prometheus registry served at /metrics.
func (a *App) Registry() *prometheus.Registry { return a.reg }

// Addr returns the address the server listens on (the actual port when
// server.addr asked for port 0).
func (a *App) Addr() string { return a.ln.Addr().String() }

// AdminTokenFile returns the file the first admin token was written to when
// New generated one, or "" (the store already had tokens, or the token came
// from TRICYCLE_ADMIN_TOKEN).
func (a *App) AdminTokenFile() string { return a.adminTokenFile }

// Ready returns a channel closed once Run serves requests.
func (a *App) Ready() <-chan struct{} { return a.readyCh }

// Close releases what New acquired: the listener, the bus and the store. Run
// calls it when it ends; call it yourself only when Run is never called. It
// is idempotent.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		var errs []error
		if a.ln != nil {
			if err := a.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, fmt.Errorf("close listener: %w", err))
			}
		}
		if a.api != nil {
			errs = append(errs, a.api.Close())
		}
		if a.bus != nil {
			errs = append(errs, a.bus.Close())
		}
		if a.store != nil {
			errs = append(errs, a.store.Close())
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}

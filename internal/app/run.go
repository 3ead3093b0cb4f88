package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/config"
	"github.com/tricyclehq/tricycle/internal/httpapi"
)

// Run starts the coordinator and the data plane and serves until ctx is
// cancelled, then shuts down gracefully (see the package comment). It
// returns nil after a shutdown asked for by ctx, or the error that stopped
// the server. An App runs once.
func (a *App) Run(ctx context.Context) error {
	if !a.ran.CompareAndSwap(false, true) {
		return errors.New("run: the server already ran")
	}
	// The coordinator's loops must outlive ctx until the HTTP server has
	// drained: shutdown stops them itself, in order.
	bg := context.WithoutCancel(ctx)
	if a.role.RunsCoordinator() {
		if err := a.api.Start(bg); err != nil {
			return errors.Join(err, a.Close())
		}
		if err := a.coord.Start(bg); err != nil {
			return errors.Join(fmt.Errorf("start coordinator: %w", err), a.Close())
		}
	}
	if a.dp != nil {
		if err := a.dp.Start(bg); err != nil {
			return errors.Join(fmt.Errorf("start data plane: %w", err), a.stop(nil))
		}
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- a.srv.Serve(a.ln) }()
	a.ready.Store(true)
	close(a.readyCh)
	a.log.Info("serving", "addr", a.Addr(), "role", a.role, "instance", a.inst, "bus", a.cfg.Bus.URL)

	var cause error
	select {
	case <-ctx.Done():
		a.log.Info("shutting down", "timeout", a.cfg.Server.ShutdownTimeout.D())
	case err := <-serveErr:
		cause = fmt.Errorf("serve: %w", err)
		a.log.Error("server failed; shutting down", "err", err)
	}
	return errors.Join(cause, a.stop(serveErr))
}

// stop shuts everything down in order; serveErr is the Serve goroutine's
// result channel (nil when Serve never started).
func (a *App) stop(serveErr <-chan error) error {
	a.ready.Store(false)
	timeout := a.cfg.Server.ShutdownTimeout.D()
	var errs []error
	// Event streams would hold the shutdown open: end them first.
	if err := a.api.Close(); err != nil {
		errs = append(errs, err)
	}
	if serveErr != nil {
		hctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := a.srv.Shutdown(hctx)
		cancel()
		if err != nil {
			a.log.Warn("requests still running at the shutdown deadline were cut", "err", err)
			_ = a.srv.Close()
		}
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("serve: %w", err))
		}
	}
	// The HTTP server had its share of the deadline; stopping the rest gets
	// its own, so that the outbox is flushed even after a slow drain.
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if a.dp != nil {
		if err := a.dp.Stop(sctx); err != nil {
			errs = append(errs, fmt.Errorf("stop data plane: %w", err))
		}
	}
	if err := a.coord.Stop(sctx); err != nil {
		errs = append(errs, fmt.Errorf("stop coordinator: %w", err))
	}
	errs = append(errs, a.Close())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	a.log.Info("stopped")
	return nil
}

// HealthStatus is the body of /healthz and /readyz.
type HealthStatus struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// readyTimeout bounds the store check of /readyz.
const readyTimeout = 2 * time.Second

// mountOps mounts /healthz, /readyz and /metrics: public, so that probes and
// scrapers need no token.
func (a *App) mountOps() error {
	metrics := promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)})
	routes := []httpapi.Route{
		{Method: http.MethodGet, Path: "/healthz", Public: true, Summary: "Liveness: the process is up",
			Response: HealthStatus{}, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				httpapi.WriteJSON(w, http.StatusOK, HealthStatus{Status: "ok"})
			})},
		{Method: http.MethodGet, Path: "/readyz", Public: true, Summary: "Readiness: the store is reachable and the process's role started",
			Response: HealthStatus{}, Handler: http.HandlerFunc(a.readyz)},
		{Method: http.MethodGet, Path: "/metrics", Public: true, Summary: "Prometheus metrics",
			Handler: metrics},
	}
	for _, rt := range routes {
		if err := a.api.Mount(rt); err != nil {
			return err
		}
	}
	return nil
}

func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	part := "coordinator"
	if !a.role.RunsCoordinator() {
		part = string(a.role)
	}
	st := HealthStatus{Status: "ready", Checks: map[string]string{part: "started", "store": "ok"}}
	if !a.ready.Load() {
		st.Status, st.Checks[part] = "not_ready", "not started"
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if _, err := a.store.ReleaseActive(ctx); err != nil && !errors.Is(err, coordination.ErrNotFound) {
		a.log.Warn("readiness: store unreachable", "err", err)
		st.Status, st.Checks["store"] = "not_ready", "unreachable"
	}
	code := http.StatusOK
	if st.Status != "ready" {
		code = http.StatusServiceUnavailable
	}
	httpapi.WriteJSON(w, code, st)
}

// AdminTokenFileName is the name of the file a generated admin token is
// written to.
const AdminTokenFileName = "admin.token"

// tokenDir is where a generated admin token is written: data_dir, else the
// SQLite file's directory.
func (a *App) tokenDir() (string, error) {
	if a.cfg.DataDir != "" {
		return a.cfg.DataDir, nil
	}
	if _, path, err := a.cfg.Storage.StorageKind(); err == nil && path != "" && path != ":memory:" {
		return filepath.Dir(path), nil
	}
	return "", errors.New("no place to write the admin token: set data_dir or TRICYCLE_ADMIN_TOKEN")
}

// bootstrapAdminToken creates the first admin token of an empty store:
// TRICYCLE_ADMIN_TOKEN when set, else a generated one written to
// admin.token (mode 0600). The token itself is never logged.
func (a *App) bootstrapAdminToken(ctx context.Context) error {
	if a.cfg.AdminToken != "" {
		created, err := a.coord.BootstrapAdminToken(ctx, a.cfg.AdminToken)
		if err != nil {
			return err
		}
		if created {
			a.log.Info("created the first admin token from " + config.EnvAdminToken)
		}
		return nil
	}
	toks, err := a.coord.ListTokens(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap admin token: %w", err)
	}
	if len(toks) > 0 {
		return nil
	}
	dir, err := a.tokenDir()
	if err != nil {
		return fmt.Errorf("bootstrap admin token: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("bootstrap admin token: %w", err)
	}
	// Write the secret to a private temporary file first, so that it is
	// never stored in the database without being reachable by the operator.
	secret := coordination.NewToken()
	tmp, err := os.CreateTemp(dir, "."+AdminTokenFileName+"-*")
	if err != nil {
		return fmt.Errorf("bootstrap admin token: %w", err)
	}
	tmpName := tmp.Name()
	cleanup := func() { _ = os.Remove(tmpName) }
	if err := writeSecret(tmp, secret); err != nil {
		cleanup()
		return fmt.Errorf("bootstrap admin token: write %s: %w", tmpName, err)
	}
	created, err := a.coord.BootstrapAdminToken(ctx, secret)
	if err != nil || !created {
		cleanup()
		return err
	}
	path := filepath.Join(dir, AdminTokenFileName)
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("bootstrap admin token: the token is in %s: %w", tmpName, err)
	}
	a.adminTokenFile = path
	a.log.Info("created the first admin token", "file", path)
	if a.out != nil {
		fmt.Fprintf(a.out, "The first admin token was written to %s (mode 0600).\n", path)
	}
	return nil
}

func writeSecret(f *os.File, secret string) error {
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := io.WriteString(f, secret+"\n"); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// NewLogger returns the server's logger as log configures it, writing to w.
func NewLogger(log config.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tricyclehq/tricycle/internal/app"
	"github.com/tricyclehq/tricycle/internal/config"
	"github.com/tricyclehq/tricycle/internal/dataplane"
)

// serveFlags are the flags of `serve` that override the configuration.
type serveFlags struct {
	config, addr, db, bus, dataDir, role string
}

func (r *runner) serveCommand() *cobra.Command {
	var f *serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server: API, gateway, cycle loops, dashboard and metrics",
		Long: `Run the tricycle server. Settings come from the defaults, then the --config file,
then TRICYCLE_* environment variables, then these flags (each overrides the one
before). Without a file the embedded defaults hold: a SQLite store
(tricycle.db), the in-process bus and the builtin production reviewer.

On the first start of an empty store the first admin token is created: the value
of TRICYCLE_ADMIN_TOKEN when set, else a generated one written to admin.token
(mode 0600) beside the SQLite file or in --data-dir.

--role splits the server into processes of this one binary: gateway (the
review routes, /healthz, /readyz, /metrics), experiments (the shadow worker),
coordinator (the cycle's loops under the leader lease, the outbox relay, the
admin API and the dashboard). The split roles meet through the store and NATS
JetStream: they need --bus nats://… and PostgreSQL (or a SQLite file on one
host). TRICYCLE_INSTANCE names the replica (default host name and pid);
TRICYCLE_NATS_STREAM and TRICYCLE_NATS_SUBJECT_PREFIX pick the JetStream
stream and subjects (default TRICYCLE and tricycle).`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := resolveConfig(cmd, *f, r.env.LookupEnv)
			if err != nil {
				return err
			}
			opts := dataplane.Wire(app.Options{Role: app.Role(f.role), LookupEnv: r.env.LookupEnv}, dataplane.Options{})
			return r.serve(cmd.Context(), cfg, opts)
		},
	}
	f = bindServeFlags(cmd)
	return cmd
}

// bindServeFlags declares serve's flags on cmd.
func bindServeFlags(cmd *cobra.Command) *serveFlags {
	f := &serveFlags{}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "configuration file (YAML; env TRICYCLE_CONFIG)")
	fl.StringVar(&f.addr, "addr", "", "listen address host:port (default 127.0.0.1:8080)")
	fl.StringVar(&f.db, "db", "", "store: sqlite:PATH or postgres://… (default sqlite:tricycle.db)")
	fl.StringVar(&f.bus, "bus", "", "event bus: memory or nats://… (default memory)")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory for the server's files (default: beside the SQLite file)")
	fl.StringVar(&f.role, "role", string(app.RoleAll), "what this process runs: all, gateway, experiments or coordinator")
	return f
}

// resolveConfig builds the configuration: defaults < file < TRICYCLE_*
// environment < flags, and validates it.
func resolveConfig(cmd *cobra.Command, f serveFlags, lookup func(string) (string, bool)) (config.Config, error) {
	role, err := app.ParseRole(f.role)
	if err != nil {
		return config.Config{}, usagef("--role %q: want all, gateway, experiments or coordinator", f.role)
	}
	path := f.config
	if !cmd.Flags().Changed("config") {
		if v, ok := lookup("TRICYCLE_CONFIG"); ok {
			path = strings.TrimSpace(v)
		}
	}
	cfg := config.Default()
	if path != "" {
		if cfg, err = config.Load(path); err != nil {
			return config.Config{}, err
		}
	}
	cfg, err = config.ApplyEnv(cfg, lookup)
	if err != nil {
		return config.Config{}, err
	}
	set := func(flag string, dst *string, value string) {
		if cmd.Flags().Changed(flag) {
			*dst = value
		}
	}
	set("addr", &cfg.Server.Addr, f.addr)
	set("db", &cfg.Storage.DSN, f.db)
	set("bus", &cfg.Bus.URL, f.bus)
	set("data-dir", &cfg.DataDir, f.dataDir)
	if err := cfg.Validate(); err != nil {
		return config.Config{}, fmt.Errorf("configuration: %w", err)
	}
	if err := app.CheckRole(cfg, role); err != nil {
		return config.Config{}, fmt.Errorf("--role %s: %w", role, err)
	}
	return cfg, nil
}

// serve builds the server, says where it listens and where the admin token
// is, and runs it until ctx is cancelled.
func (r *runner) serve(ctx context.Context, cfg config.Config, opts app.Options) error {
	if opts.Logger == nil {
		opts.Logger = app.NewLogger(cfg.Log, r.env.Stderr)
	}
	opts.Stdout = r.env.Stdout
	a, err := app.New(ctx, cfg, opts)
	if err != nil {
		return err
	}
	w := r.env.Stdout
	fmt.Fprintf(w, "tricycle %s serving on http://%s (role %s, instance %s, API /api/v1, metrics /metrics, store %s, bus %s)\n",
		Version(), a.Addr(), a.Role(), a.Instance(), redactDSN(cfg.Storage.DSN), cfg.Bus.URL)
	tokenFile := a.AdminTokenFile() // app.New has said where it wrote a new token
	switch {
	case tokenFile != "":
	case cfg.AdminToken != "":
		fmt.Fprintln(w, "The first admin token is the value of TRICYCLE_ADMIN_TOKEN.")
	default:
		if tokenFile = adminTokenPath(cfg); tokenFile != "" {
			fmt.Fprintf(w, "The admin token created at the first start is in %s.\n", tokenFile)
		}
	}
	if tokenFile != "" {
		fmt.Fprintf(w, "Client commands: export TRICYCLE_SERVER=http://%s TRICYCLE_TOKEN=$(cat %s)\n", a.Addr(), tokenFile)
	}
	if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// adminTokenPath returns where a generated admin token lives for cfg, when
// that file exists.
func adminTokenPath(cfg config.Config) string {
	dir := cfg.DataDir
	if dir == "" {
		if _, p, err := cfg.Storage.StorageKind(); err == nil && p != "" && p != ":memory:" {
			dir = filepath.Dir(p)
		}
	}
	if dir == "" {
		return ""
	}
	p := filepath.Join(dir, app.AdminTokenFileName)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// redactDSN hides a password in a store URL.
func redactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return dsn
	}
	user, _, _ := strings.Cut(rest[:at], ":")
	return scheme + "://" + user + ":***@" + rest[at+1:]
}

package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tricyclehq/tricycle/internal/app"
	"github.com/tricyclehq/tricycle/internal/config"
	"github.com/tricyclehq/tricycle/internal/dataplane"
	"github.com/tricyclehq/tricycle/internal/demo"
	"github.com/tricyclehq/tricycle/internal/store/sqlite"
)

// defaultDemoPace is the wall time the demo sleeps per simulated step: the
// whole story then takes well under a minute.
const defaultDemoPace = 6 * time.Millisecond

func (r *runner) demoCommand() *cobra.Command {
	var (
		serve bool
		addr  string
		seed  int64
		fast  bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Watch the whole cycle in about a minute on a compressed clock",
		Long: `Run the three-version cycle on a compressed clock with simulated reviewers and
synthetic traffic, printing a timeline: one experiment promoted through every
canary phase, one quarantined early whose retry the blacklist refuses, and one
rolled back by the health monitor when it breaks in production.

With --serve the dashboard and API stay up afterwards, on the demo's state,
until interrupted.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := demo.Options{Seed: seed, Pace: defaultDemoPace}
			if fast {
				opts.Pace, opts.Fast = 0, true
			}
			if !serve {
				return demo.Run(cmd.Context(), r.env.Stdout, opts)
			}
			return r.demoAndServe(cmd.Context(), opts, addr)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&serve, "serve", false, "keep the dashboard and API up afterwards until interrupted")
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "listen address with --serve")
	f.Int64Var(&seed, "seed", 1, "seed of the synthetic traffic")
	f.BoolVar(&fast, "fast", false, "no pacing and hourly cycle passes: the same stories in a few seconds")
	return cmd
}

// demoAndServe runs the demo on a SQLite store in a temporary directory,
// then serves that store until ctx is cancelled, and removes the directory.
func (r *runner) demoAndServe(ctx context.Context, opts demo.Options, addr string) error {
	dir, err := os.MkdirTemp("", "tricycle-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "demo.db")
	st, err := sqlite.Open(ctx, "sqlite:"+path)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	opts.Store = st
	err = demo.Run(ctx, r.env.Stdout, opts)
	if cerr := st.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("demo: close store: %w", cerr)
	}
	if err != nil {
		return err
	}
	cfg := config.Default()
	cfg.Storage.DSN, cfg.DataDir, cfg.Server.Addr = "sqlite:"+path, dir, addr
	fmt.Fprintf(r.env.Stdout, "\nServing the demo's state until interrupted (Ctrl-C); it is deleted afterwards.\n")
	return r.serve(ctx, cfg, dataplane.Wire(app.Options{}, dataplane.Options{}))
}

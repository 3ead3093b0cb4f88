// Command apiload measures the HTTP API of an embedded tricycle server: it
// starts the server in process on 127.0.0.1:0 with a SQLite file in a
// temporary directory, then runs concurrent clients against three
// operations in turn (create an experiment, list experiments, evaluate an
// experiment with point metrics) and prints requests per second and latency
// percentiles for each.
//
// Each phase is bounded both by a request count and by a duration.
//
//	go run ./bench/apiload [-clients 50] [-requests 2000] [-max-duration 60s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/tricyclehq/tricycle/bench/internal/apiload"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"text/tabwriter"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/app"
	"github.com/tricyclehq/tricycle/internal/config"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "apiload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("apiload", flag.ContinueOnError)
	clients := fs.Int("clients", 50, "concurrent clients")
	requests := fs.Int("requests", 2000, "requests per operation (upper bound)")
	maxDur := fs.Duration("max-duration", 60*time.Second, "time per operation (upper bound)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *clients < 1 || *requests < 1 || *maxDur <= 0 {
		return errors.New("-clients, -requests and -max-duration must be positive")
	}
	dir, err := os.MkdirTemp("", "apiload-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	cfg := config.Default()
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.Storage.DSN = "sqlite:" + filepath.Join(dir, "tricycle.db")
	cfg.AdminToken = coordination.NewToken()
	cfg.Cycle.PollInterval = config.Duration(time.Minute) // measure the API, not the background loops
	a, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(runCtx) }()
	<-a.Ready()

	results, err := apiload.Load(ctx, "http://"+a.Addr(), cfg.AdminToken, *clients, *requests, *maxDur)
	stop()
	if serr := <-runErr; serr != nil {
		err = errors.Join(err, fmt.Errorf("server: %w", serr))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "tricycle API load: %d clients, SQLite (WAL) in %s, %s/%s, %d CPU\n\n",
		*clients, dir, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\trequests\terrors\treq/s\tp50\tp99\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t\n", r.Name, r.OK, r.Fails,
			r.Rate(), apiload.Percentile(r.Lat, 0.50), apiload.Percentile(r.Lat, 0.99))
	}
	return tw.Flush()
}

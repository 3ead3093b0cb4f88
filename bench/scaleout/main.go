// Command scaleout measures what a split deployment rests on, against
// the single-file setup in the same run:
//
//  1. Outbox → bus: events written in transactions (one event per
//     transaction, 8 writers) and relayed by the coordinator's outbox relay
//     to the bus, on PostgreSQL + NATS JetStream and on SQLite + the
//     in-process bus. Reported: write, relay and end-to-end (written until
//     a subscriber received the last one) events per second.
//  2. API throughput (create / list / evaluate experiments at 50 clients,
//     as bench/apiload) of an embedded server on PostgreSQL + NATS and on
//     SQLite + the in-process bus, with the PostgreSQL/SQLite ratio.
//
// It needs TRICYCLE_TEST_POSTGRES and TRICYCLE_TEST_NATS (the test
// services of .ci/run); without them it says so and exits with status 2.
//
//	TRICYCLE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	TRICYCLE_TEST_NATS=nats://127.0.0.1:4222 go run ./bench/scaleout [-events 5000] [-clients 50] [-requests 2000]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"github.com/tricyclehq/tricycle/bench/internal/apiload"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/app"
	"github.com/tricyclehq/tricycle/internal/bus/natsbus"
	"github.com/tricyclehq/tricycle/internal/config"
	"github.com/tricyclehq/tricycle/internal/store/postgres"
	"github.com/tricyclehq/tricycle/internal/store/sqlite"
)

// errServices is returned when the services are not configured.
var errServices = errors.New("set TRICYCLE_TEST_POSTGRES (postgres://…) and TRICYCLE_TEST_NATS (nats://…) to the services .ci/run starts")

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout)
	if errors.Is(err, errServices) {
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("scaleout", flag.ContinueOnError)
	events := fs.Int("events", 5000, "outbox events per backend")
	writers := fs.Int("writers", 8, "concurrent outbox writers")
	clients := fs.Int("clients", 50, "concurrent API clients")
	requests := fs.Int("requests", 2000, "API requests per operation (upper bound)")
	maxDur := fs.Duration("max-duration", 60*time.Second, "time per API operation (upper bound)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *events < 1 || *writers < 1 || *clients < 1 || *requests < 1 || *maxDur <= 0 {
		return errors.New("-events, -writers, -clients, -requests and -max-duration must be positive")
	}
	pgURL, natsURL := os.Getenv("TRICYCLE_TEST_POSTGRES"), os.Getenv("TRICYCLE_TEST_NATS")
	if pgURL == "" || natsURL == "" {
		return errServices
	}
	dir, err := os.MkdirTemp("", "scaleout-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.DiscardHandler)

	fmt.Fprintf(out, "tricycle scale-out: %s/%s, %d CPU, PostgreSQL %s, NATS %s\n\n", runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), redact(pgURL), natsURL)

	// 1. Outbox → bus.
	var relays []relayResult
	for _, b := range []string{"sqlite", "postgres"} {
		st, bus, cleanup, err := openBackend(ctx, b, dir, pgURL, natsURL, log)
		if err != nil {
			return err
		}
		r, err := relay(ctx, st, bus, *events, *writers, log)
		cleanup()
		if err != nil {
			return fmt.Errorf("%s outbox: %w", b, err)
		}
		r.name = backendName(b)
		relays = append(relays, r)
	}
	fmt.Fprintf(out, "Outbox → bus: %d events, one per transaction, %d writers; one relay\n\n", *events, *writers)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\twrite ev/s\trelay ev/s\tend-to-end ev/s\t")
	for _, r := range relays {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t\n", r.name, r.write, r.relay, r.e2e)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	// 2. API throughput.
	var apis [][]apiload.Result
	for _, b := range []string{"sqlite", "postgres"} {
		res, err := apiLoad(ctx, b, dir, pgURL, natsURL, *clients, *requests, *maxDur, log)
		if err != nil {
			return fmt.Errorf("%s API: %w", b, err)
		}
		apis = append(apis, res)
	}
	fmt.Fprintf(out, "\nAPI throughput: %d clients, embedded server (role all)\n\n", *clients)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tSQLite req/s\tp99\tPostgreSQL req/s\tp99\tPG/SQLite\terrors\t")
	for i := range apis[0] {
		s, p := apis[0][i], apis[1][i]
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.0f\t%s\t%.2f\t%d\t\n", s.Name, s.Rate(), apiload.Percentile(s.Lat, 0.99), p.Rate(), apiload.Percentile(p.Lat, 0.99),
			p.Rate()/s.Rate(), s.Fails+p.Fails)
	}
	return tw.Flush()
}

func backendName(b string) string {
	if b == "postgres" {
		return "PostgreSQL + NATS JetStream"
	}
	return "SQLite (WAL) + in-process bus"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// openBackend opens a fresh store and bus: a SQLite file and the memory
// bus, or a new PostgreSQL database and a NATS stream of their own; cleanup
// closes them and drops the database and the stream.
func openBackend(ctx context.Context, b, dir, pgURL, natsURL string, log *slog.Logger) (coordination.Store, coordination.Bus, func(), error) {
	if b == "sqlite" {
		st, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(dir, "outbox-"+randomHex(4)+".db"))
		if err != nil {
			return nil, nil, nil, err
		}
		bus := coordination.NewMemoryBus(coordination.MemoryBusOptions{Logger: log, QueueSize: 1 << 16})
		return st, bus, func() { _ = bus.Close(); _ = st.Close() }, nil
	}
	dsn, drop, err := newDatabase(ctx, pgURL)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		drop()
		return nil, nil, nil, err
	}
	stream, prefix, delStream := streamName(natsURL)
	bus, err := natsbus.Open(ctx, natsURL, natsbus.Options{Stream: stream, SubjectPrefix: prefix, Logger: log})
	if err != nil {
		_ = st.Close()
		drop()
		return nil, nil, nil, err
	}
	return st, bus, func() { _ = bus.Close(); _ = st.Close(); delStream(); drop() }, nil
}

// newDatabase creates an empty database on the server of pgURL.
func newDatabase(ctx context.Context, pgURL string) (string, func(), error) {
	u, err := url.Parse(pgURL)
	if err != nil {
		return "", nil, fmt.Errorf("TRICYCLE_TEST_POSTGRES: %w", err)
	}
	admin, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL unreachable: %w", err)
	}
	defer func() { _ = admin.Close(context.Background()) }()
	name := "tricycle_scaleout_" + randomHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(dctx, pgURL); err == nil {
			_, _ = c.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(dctx)
		}
	}
	u.Path = "/" + name
	u.RawQuery = strings.ReplaceAll(u.Query().Encode(), "+", "%20")
	return u.String(), drop, nil
}

// streamName returns a stream and subject prefix of the run's own and a
// function that deletes the stream.
func streamName(natsURL string) (stream, prefix string, del func()) {
	id := randomHex(5)
	stream, prefix = "SCALEOUT_"+strings.ToUpper(id), "scaleout"+id
	return stream, prefix, func() {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			return
		}
		defer nc.Close()
		if js, err := jetstream.New(nc); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = js.DeleteStream(ctx, stream)
		}
	}
}

// redact hides a password in a URL.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// newConfig is the embedded server's configuration on backend b.
func newConfig(b, dir, dsn, natsURL string) config.Config {
	cfg := config.Default()
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.AdminToken = coordination.NewToken()
	cfg.Cycle.PollInterval = config.Duration(time.Minute) // measure the API, not the background loops
	cfg.Storage.DSN = "sqlite:" + filepath.Join(dir, "api-"+randomHex(4)+".db")
	if b == "postgres" {
		cfg.Storage.DSN, cfg.Bus.URL = dsn, natsURL
	}
	return cfg
}

// apiLoad runs the API phases against an embedded server on backend b.
func apiLoad(ctx context.Context, b, dir, pgURL, natsURL string, clients, requests int, maxDur time.Duration, log *slog.Logger) ([]apiload.Result, error) {
	dsn, drop := "", func() {}
	lookup := func(string) (string, bool) { return "", false }
	if b == "postgres" {
		var err error
		if dsn, drop, err = newDatabase(ctx, pgURL); err != nil {
			return nil, err
		}
		stream, prefix, del := streamName(natsURL)
		defer del()
		lookup = func(k string) (string, bool) {
			switch k {
			case app.EnvNATSStream:
				return stream, true
			case app.EnvNATSSubjectPrefix:
				return prefix, true
			}
			return "", false
		}
	}
	defer drop()
	cfg := newConfig(b, dir, dsn, natsURL)
	a, err := app.New(ctx, cfg, app.Options{Logger: log, LookupEnv: lookup})
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(runCtx) }()
	<-a.Ready()
	results, err := apiload.Load(ctx, "http://"+a.Addr(), cfg.AdminToken, clients, requests, maxDur)
	stop()
	if serr := <-runErr; serr != nil {
		err = errors.Join(err, fmt.Errorf("server: %w", serr))
	}
	return results, err
}

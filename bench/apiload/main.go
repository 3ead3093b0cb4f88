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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
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

// phase is one measured operation.
type phase struct {
	name string
	// request builds the i-th request.
	request func(i int) (method, path, body string)
	want    int
}

// result is what a phase measured.
type result struct {
	name      string
	ok, fails int
	wall      time.Duration
	lat       []time.Duration
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

	results, err := load(ctx, "http://"+a.Addr(), cfg.AdminToken, *clients, *requests, *maxDur)
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
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t\n", r.name, r.ok, r.fails,
			float64(r.ok)/r.wall.Seconds(), pct(r.lat, 0.50), pct(r.lat, 0.99))
	}
	return tw.Flush()
}

// load runs the three phases against base and returns their results.
func load(ctx context.Context, base, token string, clients, requests int, maxDur time.Duration) ([]result, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: clients, MaxIdleConnsPerHost: clients, IdleConnTimeout: time.Minute}}
	var created []string
	var mu sync.Mutex
	phases := []phase{
		{name: "create experiment", want: http.StatusCreated, request: func(i int) (string, string, string) {
			return "POST", "/api/v1/experiments", fmt.Sprintf(`{"title":"Load %d","hypothesis":"h",
				"success_criteria":{"accuracy":"> 90%%","latency_p95":"< 3s","cost_per_review":"< $0.15"},
				"variant":{"name":"load-%d","provider":"simulated","model":"sim-%d"}}`, i, i, i)
		}},
		{name: "list experiments (50)", want: http.StatusOK, request: func(int) (string, string, string) {
			return "GET", "/api/v1/experiments?state=proposed&limit=50", ""
		}},
		{name: "evaluate (point metrics)", want: http.StatusOK, request: func(i int) (string, string, string) {
			mu.Lock()
			id := created[i%len(created)]
			mu.Unlock()
			return "POST", "/api/v1/experiments/" + id + "/evaluate",
				`{"metrics":{"accuracy":0.92,"latency_p95":2.5,"cost_per_review":0.12}}`
		}},
	}
	onCreated := func(body []byte) {
		var e struct {
			ID string `json:"experiment_id"`
		}
		if json.Unmarshal(body, &e) == nil && e.ID != "" {
			mu.Lock()
			created = append(created, e.ID)
			mu.Unlock()
		}
	}
	var results []result
	for i, ph := range phases {
		hook := func([]byte) {}
		if i == 0 {
			hook = onCreated
		}
		n := requests
		if i == 2 {
			n = min(n, len(created)) // each experiment is evaluated once
		}
		if n == 0 {
			return nil, errors.New("no experiment was created")
		}
		results = append(results, measure(ctx, client, base, token, ph, clients, n, maxDur, hook))
	}
	return results, nil
}

// measure runs n requests of ph over clients workers, stopping early at maxDur.
func measure(ctx context.Context, client *http.Client, base, token string, ph phase, clients, n int,
	maxDur time.Duration, onBody func([]byte)) result {
	ctx, cancel := context.WithTimeout(ctx, maxDur)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	res := result{name: ph.name}
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			ok, fails := 0, 0
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					break
				}
				method, path, body := ph.request(i)
				t0 := time.Now()
				status, respBody, err := do(ctx, client, method, base+path, token, body)
				d := time.Since(t0)
				if err != nil || status != ph.want {
					fails++
					continue
				}
				ok++
				lat = append(lat, d)
				onBody(respBody)
			}
			mu.Lock()
			res.ok += ok
			res.fails += fails
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.wall = time.Since(start)
	slices.Sort(res.lat)
	return res
}

func do(ctx context.Context, client *http.Client, method, url, token, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// pct returns the q-quantile of sorted latencies, rounded for display.
func pct(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i].Round(10 * time.Microsecond)
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// relayResult is what the outbox measurement found, in events per second.
type relayResult struct {
	name              string
	write, relay, e2e float64
}

// relay writes n events in n transactions over writers goroutines, then
// relays them with the coordinator's outbox relay while a subscriber counts
// them, and returns the rates.
func relay(ctx context.Context, st coordination.Store, bus coordination.Bus, n, writers int, log *slog.Logger) (relayResult, error) {
	c, err := coordination.NewLifecycleCoordinator(coordination.Options{Store: st, Bus: bus, Logger: log,
		Production: coordination.Variant{Name: "builtin", Provider: coordination.ProviderBuiltin}})
	if err != nil {
		return relayResult{}, err
	}
	const typ = "bench.outbox.event"
	var got atomic.Int64
	all := make(chan struct{})
	seen := sync.Map{}
	sub, err := bus.Subscribe(ctx, coordination.SubscribeOptions{Types: []string{typ}}, func(_ context.Context, ev coordination.Event) error {
		if _, dup := seen.LoadOrStore(ev.ID, true); !dup && got.Add(1) == int64(n) {
			close(all)
		}
		return nil
	})
	if err != nil {
		return relayResult{}, err
	}
	defer func() { _ = sub.Close() }()

	start := time.Now()
	var next atomic.Int64
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				ev, err := coordination.NewEvent(typ, fmt.Sprintf("subject-%d", i), time.Now(), map[string]int64{"i": i})
				if err == nil {
					err = st.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error { return tx.OutboxAppend(ctx, ev) })
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return relayResult{}, fmt.Errorf("write: %w", err)
	}
	wrote := time.Since(start)

	rstart := time.Now()
	relayed := 0
	for relayed < n {
		k, err := c.RelayOnce(ctx)
		if err != nil {
			return relayResult{}, err
		}
		if k == 0 {
			return relayResult{}, fmt.Errorf("relay stalled at %d of %d events", relayed, n)
		}
		relayed += k
	}
	relayTime := time.Since(rstart)
	select {
	case <-all:
	case <-time.After(time.Minute):
		return relayResult{}, fmt.Errorf("the subscriber received %d of %d events", got.Load(), n)
	}
	total := time.Since(start)
	return relayResult{write: float64(n) / wrote.Seconds(), relay: float64(n) / relayTime.Seconds(),
		e2e: float64(n) / total.Seconds()}, nil
}

// phase is one measured API operation.
type phase struct {
	name    string
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

func (r result) rate() float64 { return float64(r.ok) / r.wall.Seconds() }

// load runs create, list and evaluate against base (as bench/apiload).
func load(ctx context.Context, base, token string, clients, requests int, maxDur time.Duration) ([]result, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: clients, MaxIdleConnsPerHost: clients, IdleConnTimeout: time.Minute}}
	defer client.CloseIdleConnections()
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
		wg.Go(func() {
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
		})
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
	defer func() { _ = resp.Body.Close() }()
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

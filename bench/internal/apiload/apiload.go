// Package apiload drives the API of a running tricycle server with
// concurrent clients: create, list and evaluate experiments, measuring
// requests per second and latency quantiles. bench/apiload and
// bench/scaleout both use it.
package apiload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Phase is one measured operation (unexported fields: Load builds them).
type Phase struct {
	name string
	// request builds the i-th request.
	request func(i int) (method, path, body string)
	want    int
}

// Result is what a Phase measured.
type Result struct {
	// Name names the operation.
	Name string
	// OK and Fails count answered and failed requests.
	OK, Fails int
	// Wall is the phase's duration.
	Wall time.Duration
	// Lat holds the successful requests' latencies, sorted.
	Lat []time.Duration
}

// Rate is the phase's successful requests per second.
func (r Result) Rate() float64 { return float64(r.OK) / r.Wall.Seconds() }

// Load runs the three phases against base and returns their results.
func Load(ctx context.Context, base, token string, clients, requests int, maxDur time.Duration) ([]Result, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: clients, MaxIdleConnsPerHost: clients, IdleConnTimeout: time.Minute}}
	var created []string
	var mu sync.Mutex
	phases := []Phase{
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
	var results []Result
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
func measure(ctx context.Context, client *http.Client, base, token string, ph Phase, clients, n int,
	maxDur time.Duration, onBody func([]byte)) Result {
	ctx, cancel := context.WithTimeout(ctx, maxDur)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	res := Result{Name: ph.name}
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
			res.OK += ok
			res.Fails += fails
			res.Lat = append(res.Lat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Wall = time.Since(start)
	slices.Sort(res.Lat)
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

// Percentile returns the q-quantile of sorted latencies, rounded for display.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i].Round(10 * time.Microsecond)
}

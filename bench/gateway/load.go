package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"
)

// benchDiff is the diff every request carries (about 1.3 KB, a typical
// small change).
const benchDiff = `diff --git a/store/users.go b/store/users.go
index 3b18e51..a9c2f4d 100644
--- a/store/users.go
+++ b/store/users.go
@@ -1,9 +1,22 @@
 package store
 
 import (
 	"context"
 	"database/sql"
+	"fmt"
 )
 
 // Store reads and writes users.
 type Store struct{ db *sql.DB }
+
+// FindByName returns the users called name.
+func (s *Store) FindByName(ctx context.Context, name string) ([]User, error) {
+	rows, err := s.db.QueryContext(ctx, "SELECT id, name, email FROM users WHERE name = '"+name+"'")
+	if err != nil {
+		return nil, fmt.Errorf("find user %s: %w", name, err)
+	}
+	defer rows.Close()
+	var out []User
+	for rows.Next() {
+		var u User
+		if err := rows.Scan(&u.ID, &u.Name, &u.Email); err != nil {
+			return nil, err
+		}
+		out = append(out, u)
+	}
+	return out, rows.Err()
+}
`

// loadResult is what one load run reports to the parent.
type loadResult struct {
	// LatenciesUS are the latencies of successful requests in microseconds.
	LatenciesUS []float64 `json:"latencies_us"`
	Errors      int       `json:"errors"`
	// Elapsed is the run's wall time.
	ElapsedMS float64 `json:"elapsed_ms"`
}

// load sends cfg.n chat completions to cfg.target and prints a loadResult.
func load(ctx context.Context, cfg config) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.runTimeout)
	defer cancel()
	client := &http.Client{Transport: transport(), Timeout: 30 * time.Second}
	body, err := json.Marshal(map[string]any{"model": "tricycle",
		"messages": []map[string]string{{"role": "system", "content": "Review this change."}, {"role": "user", "content": benchDiff}}})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	repo := func() string { return fmt.Sprintf("org/repo-%d", rng.Uint64()%1_000_000) }
	send := func(repo string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.target+"/v1/chat/completions", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Tricycle-Repository", repo)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	for range cfg.warmup {
		_ = send(repo())
	}
	var res loadResult
	start := time.Now()
	switch cfg.mode {
	case "seq":
		for range cfg.n {
			if ctx.Err() != nil {
				break
			}
			t := time.Now()
			if err := send(repo()); err != nil {
				res.Errors++
				continue
			}
			res.LatenciesUS = append(res.LatenciesUS, float64(time.Since(t).Microseconds()))
		}
	case "rate":
		res = constantRate(ctx, cfg, repo, send)
	default:
		return fmt.Errorf("unknown -mode %q", cfg.mode)
	}
	res.ElapsedMS = float64(time.Since(start).Milliseconds())
	return json.NewEncoder(os.Stdout).Encode(res)
}

// constantRate sends request i at start + i/rate whatever happened before,
// and measures each from that intended time.
func constantRate(ctx context.Context, cfg config, repo func() string, send func(string) error) loadResult {
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	interval := time.Duration(float64(time.Second) / cfg.rate)
	start := time.Now()
	for i := range cfg.n {
		intended := start.Add(time.Duration(i) * interval)
		waitUntil(ctx, intended)
		if ctx.Err() != nil {
			break
		}
		r := repo()
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := send(r)
			lat := time.Since(intended)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Errors++
				return
			}
			res.LatenciesUS = append(res.LatenciesUS, float64(lat.Microseconds()))
		}()
	}
	wg.Wait()
	return res
}

// waitUntil returns at t: it sleeps until shortly before (sleeps wake up
// late by up to a millisecond) and yields the processor for the rest.
func waitUntil(ctx context.Context, t time.Time) {
	if d := time.Until(t) - 1500*time.Microsecond; d > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
	for time.Now().Before(t) && ctx.Err() == nil {
		runtime.Gosched()
	}
}

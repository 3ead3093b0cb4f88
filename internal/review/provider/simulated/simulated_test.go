package simulated_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/provider"
	"github.com/tricyclehq/tricycle/internal/review/provider/providertest"
	"github.com/tricyclehq/tricycle/internal/review/provider/simulated"
)

// truthReviewer reports three fixed findings on every request.
type truthReviewer struct{ err error }

func (t truthReviewer) Review(_ context.Context, req review.Request) (review.Result, error) {
	if t.err != nil {
		return review.Result{}, t.err
	}
	return review.Result{Findings: []review.Finding{
		{File: "app/db.go", Line: 10, Severity: review.SeverityHigh, Category: "security", Rule: "sql-injection", Message: "m"},
		{File: "app/db.go", Line: 20, Severity: review.SeverityMedium, Category: "bug", Rule: "nil-deref", Message: "m"},
		{File: "app/api.go", Line: 5, Severity: review.SeverityLow, Category: "style", Rule: "naming", Message: "m"},
	}}, nil
}

const diff = "diff --git a/app/db.go b/app/db.go\n--- a/app/db.go\n+++ b/app/db.go\n@@ -1,2 +1,3 @@\n package app\n+var x = 1\n"

func newSim(t *testing.T, cfg simulated.Config) *simulated.Reviewer {
	t.Helper()
	r, err := simulated.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestStatisticsMatchConfiguration(t *testing.T) {
	t.Parallel()
	cfg := simulated.Config{
		LatencyP50: 800 * time.Millisecond, LatencyP95: 2 * time.Second,
		ErrorRate: 0.05, Accuracy: 0.8, FalsePositiveRate: 0.1,
		Seed: 7, Truth: truthReviewer{},
	}
	r := newSim(t, cfg)
	const n = 10_000
	var (
		latencies         = make([]time.Duration, 0, n)
		failures, ok      int
		truePos, falsePos int
		truthPerReview    = 3
		truthKeys         = map[string]bool{"app/db.go:10": true, "app/db.go:20": true, "app/api.go:5": true}
	)
	for i := range n {
		res, err := r.Review(t.Context(), review.Request{ID: fmt.Sprintf("req-%d", i), Diff: diff})
		latencies = append(latencies, res.Latency)
		if err != nil {
			if !errors.Is(err, simulated.ErrSimulatedFailure) {
				t.Fatalf("unexpected error: %v", err)
			}
			failures++
			continue
		}
		ok++
		for _, f := range res.Findings {
			if truthKeys[fmt.Sprintf("%s:%d", f.File, f.Line)] && f.Rule != "speculative" {
				truePos++
			} else {
				falsePos++
			}
		}
	}
	slices.Sort(latencies)
	p50, p95 := latencies[n/2], latencies[n*95/100]
	errRate := float64(failures) / n
	recall := float64(truePos) / float64(ok*truthPerReview)
	fpRate := float64(falsePos) / float64(ok)
	t.Logf("error rate %.4f, p50 %s, p95 %s, recall %.4f, false positives/review %.4f", errRate, p50, p95, recall, fpRate)

	within := func(name string, got, want, tol float64) {
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.4f, want %.4f ± %.4f", name, got, want, tol)
		}
	}
	within("error rate", errRate, cfg.ErrorRate, 0.01)
	within("p50 / configured", p50.Seconds()/cfg.LatencyP50.Seconds(), 1, 0.05)
	within("p95 / configured", p95.Seconds()/cfg.LatencyP95.Seconds(), 1, 0.08)
	within("accuracy", recall, cfg.Accuracy, 0.015)
	within("false-positive rate", fpRate, cfg.FalsePositiveRate, 0.015)
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	cfg := simulated.Config{LatencyP50: time.Second, LatencyP95: 3 * time.Second, ErrorRate: 0.2, Accuracy: 0.5, FalsePositiveRate: 0.5, Seed: 1, Truth: truthReviewer{}}
	a, b := newSim(t, cfg), newSim(t, cfg)
	cfg.Seed = 2
	other := newSim(t, cfg)
	differs := 0
	for i := range 100 {
		req := review.Request{ID: fmt.Sprintf("r%d", i), Diff: diff}
		// Ask in different orders: results depend only on seed and ID.
		ra, ea := a.Review(t.Context(), req)
		_, _ = b.Review(t.Context(), review.Request{ID: fmt.Sprintf("r%d", 99-i), Diff: diff})
		rb, eb := b.Review(t.Context(), req)
		if fmt.Sprint(ra) != fmt.Sprint(rb) || (ea == nil) != (eb == nil) {
			t.Fatalf("request %s: %+v/%v vs %+v/%v", req.ID, ra, ea, rb, eb)
		}
		ro, _ := other.Review(t.Context(), req)
		if ro.Latency != ra.Latency {
			differs++
		}
	}
	if differs < 90 {
		t.Errorf("another seed changed only %d of 100 latencies", differs)
	}
}

func TestUsageAndCost(t *testing.T) {
	t.Parallel()
	prices := provider.Prices{InputPerMTok: 0.15, OutputPerMTok: 0.60}
	r := newSim(t, simulated.Config{Accuracy: 1, Truth: truthReviewer{}, Prices: prices, OutputTokensBase: 10, OutputTokensPerFinding: 100, Model: "sim-a"})
	small, err := r.Review(t.Context(), review.Request{ID: "a", Diff: diff})
	if err != nil {
		t.Fatal(err)
	}
	big, err := r.Review(t.Context(), review.Request{ID: "a", Diff: diff + strings.Repeat("+line of code\n", 4000)})
	if err != nil {
		t.Fatal(err)
	}
	if len(small.Findings) != 3 || small.Usage.OutputTokens != 10+3*100 || small.Model != "sim-a" {
		t.Errorf("small review %+v", small)
	}
	// 4000 lines of 14 bytes at 4 bytes a token add 14,000 tokens.
	if grow := big.Usage.InputTokens - small.Usage.InputTokens; grow != 14000 {
		t.Errorf("input tokens grew by %d for 56,000 more bytes, want 14000", grow)
	}
	if want := prices.Cost(small.Usage); math.Abs(small.Usage.CostUSD-want) > 1e-15 || want == 0 {
		t.Errorf("cost %v, want %v", small.Usage.CostUSD, want)
	}
	if small.Latency != 0 {
		t.Errorf("latency %s with no latency configured", small.Latency)
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	cfg := simulated.Config{LatencyP50: time.Second, LatencyP95: 2 * time.Second}
	clock := providertest.NewClock(providertest.Epoch)
	cfg.Clock = clock
	res, err := newSim(t, cfg).Review(t.Context(), review.Request{ID: "x", Diff: diff})
	if err != nil {
		t.Fatal(err)
	}
	if w := clock.Waits(); len(w) != 0 {
		t.Errorf("waited %v without Sleep", w)
	}
	cfg.Sleep = true
	res2, err := newSim(t, cfg).Review(t.Context(), review.Request{ID: "x", Diff: diff})
	if err != nil {
		t.Fatal(err)
	}
	if w := clock.Waits(); len(w) != 1 || w[0] != res.Latency || res2.Latency != res.Latency {
		t.Errorf("waits %v, want one of %s", w, res.Latency)
	}
}

func TestDeadlineShorterThanLatency(t *testing.T) {
	t.Parallel()
	r := newSim(t, simulated.Config{LatencyP50: time.Hour, LatencyP95: 2 * time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := r.Review(ctx, review.Request{ID: "x", Diff: diff}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Review = %v, want DeadlineExceeded", err)
	}
}

func TestTruthAndFalsePositives(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	if _, err := newSim(t, simulated.Config{Truth: truthReviewer{err: boom}}).Review(t.Context(), review.Request{Diff: diff}); !errors.Is(err, boom) {
		t.Errorf("truth error lost: %v", err)
	}
	// No truth and certain false positives: exactly one finding, on a changed file.
	r := newSim(t, simulated.Config{FalsePositiveRate: 1})
	res, err := r.Review(t.Context(), review.Request{ID: "fp", Diff: diff})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].File != "app/db.go" || !res.Findings[0].Severity.Valid() {
		t.Errorf("findings %+v", res.Findings)
	}
	// Accuracy 0 reports nothing true.
	res, err = newSim(t, simulated.Config{Truth: truthReviewer{}}).Review(t.Context(), review.Request{ID: "z", Diff: diff})
	if err != nil || len(res.Findings) != 0 {
		t.Errorf("accuracy 0: %+v, %v", res.Findings, err)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	bad := []simulated.Config{
		{LatencyP50: 2 * time.Second, LatencyP95: time.Second},
		{LatencyP95: time.Second},
		{LatencyP50: -time.Second},
		{ErrorRate: 1.1},
		{Accuracy: -0.1},
		{FalsePositiveRate: math.NaN()},
		{BytesPerToken: -1},
		{Prices: provider.Prices{OutputPerMTok: -1}},
		{Template: "no diff"},
	}
	for _, cfg := range bad {
		if _, err := simulated.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted an invalid config", cfg)
		}
	}
}

func BenchmarkReview(b *testing.B) {
	r, err := simulated.New(simulated.Config{LatencyP50: time.Second, LatencyP95: 2 * time.Second, Accuracy: 0.9, Truth: truthReviewer{}})
	if err != nil {
		b.Fatal(err)
	}
	req := review.Request{ID: "bench", Diff: diff}
	for b.Loop() {
		if _, err := r.Review(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}

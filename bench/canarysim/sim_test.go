package main

import (
	"io"
	"math"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/internal/window"
)

// fill adds n canary requests to ph's current minute, errs of them failed,
// each with the given latency.
func fill(ph *phase, n, errs int, latency time.Duration) {
	for i := range n {
		ph.minute.Add(window.Observation{Error: i < errs, Latency: latency})
	}
}

func TestFlaggerRollsBackAtTheIntervalAfterTheFifthFailedCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// minute returns the requests, errors and latency of minute m (1-based).
		minute func(m int) (n, errs int, lat time.Duration)
		want   int // second of rollback; 0 for none within 10 minutes
	}{
		{"errors above 1% every minute", func(int) (int, int, time.Duration) { return 100, 2, time.Second }, 360},
		{"p95 above 3 s every minute", func(int) (int, int, time.Duration) { return 100, 0, 4 * time.Second }, 360},
		{"no canary traffic fails the check", func(int) (int, int, time.Duration) { return 0, 0, 0 }, 360},
		{"healthy minutes never roll back", func(int) (int, int, time.Duration) { return 100, 1, time.Second }, 0},
		{"failures accumulate across passing minutes", func(m int) (int, int, time.Duration) {
			if m%2 == 0 {
				return 100, 0, time.Second
			}
			return 100, 5, time.Second
		}, 600},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := &flagger{interval: 60, threshold: 5, maxErrorRate: 0.01, maxP95: 3}
			var ph phase
			got := 0
			for m := 1; m <= 10 && got == 0; m++ {
				n, errs, lat := c.minute(m)
				fill(&ph, n, errs, lat)
				for s := (m-1)*60 + 1; s <= m*60; s++ {
					if f.tick(s, &ph) {
						got = s
						break
					}
				}
				ph.minute.Reset()
			}
			if got != c.want {
				t.Fatalf("rolled back at second %d, want %d", got, c.want)
			}
		})
	}
}

func TestZTwoProportions(t *testing.T) {
	t.Parallel()
	// 20/100 against 10/100: pooled p = 0.15, se = sqrt(0.15·0.85·0.02).
	want := 0.1 / math.Sqrt(0.15*0.85*0.02)
	if got := zTwoProportions(20, 100, 10, 100); math.Abs(got-want) > 1e-12 {
		t.Fatalf("z = %v, want %v", got, want)
	}
	if got := zTwoProportions(0, 0, 1, 10); got != 0 {
		t.Fatalf("z without canary requests = %v, want 0", got)
	}
	if got := zTwoProportions(0, 10, 0, 10); got != 0 {
		t.Fatalf("z without any error = %v, want 0", got)
	}
}

func TestDefaultCanaryPolicyUsesTheSeedThresholds(t *testing.T) {
	t.Parallel()
	p := defaultCanaryPolicy()
	if p.ErrorWarning != 0.02 || p.ErrorCritical != 0.05 || p.LatencyWarning != 3 || p.LatencyCritical != 10 ||
		p.MinSamples != 50 || math.Abs(p.Alpha-0.05) > 1e-12 {
		t.Fatalf("policy = %+v", p)
	}
}

func TestSimulateIsDeterministicAndCatchesAGrossRegression(t *testing.T) {
	t.Parallel()
	sc := scenario{rps: 100, weight: 0.10, reg: regressions[2]} // 2% → 20%
	a, b := simulate(sc, 1800, 42, 3), simulate(sc, 1800, 42, 3)
	for i := range a.outcomes {
		if a.outcomes[i] != b.outcomes[i] {
			t.Fatalf("policy %d: %+v then %+v from the same seed", i, a.outcomes[i], b.outcomes[i])
		}
	}
	names := policyNames()
	for i, o := range a.outcomes {
		if math.IsInf(o.seconds, 1) {
			t.Errorf("%s did not roll back a 2%%→20%% regression in 30 minutes", names[i])
		}
	}
	if got := a.outcomes[0].seconds; got > 60 {
		t.Errorf("tricycle took %v s to roll back 2%%→20%% at 10 canary requests/s", got)
	}
}

func TestSimulateLeavesAnIdenticalCanaryAlone(t *testing.T) {
	t.Parallel()
	sc := scenario{rps: 100, weight: 0.10, reg: noRegression}
	for run := range 3 {
		r := simulate(sc, 600, 7, run)
		if o := r.outcomes[0]; !math.IsInf(o.seconds, 1) {
			t.Errorf("run %d: tricycle rolled back an identical canary at %v s", run, o.seconds)
		}
		// Flagger's default 99% success rate is below the 98% stable rate.
		if o := r.outcomes[2]; o.seconds != 360 {
			t.Errorf("run %d: Flagger defaults rolled back at %v s, want 360 (every check fails)", run, o.seconds)
		}
	}
}

func FuzzParseFlags(f *testing.F) {
	f.Add("-runs", "10", "-cap", "30m")
	f.Add("-aa-runs", "0", "-seed", "9")
	f.Add("-cap", "90s", "-runs-high", "-1")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		cfg, err := parseFlags([]string{a, b, c, d}, io.Discard)
		if err != nil {
			return
		}
		if cfg.runs < 1 || cfg.runsHigh < 1 || cfg.aaRuns < 1 || cfg.aaRunsHigh < 1 || cfg.capacity < time.Minute || cfg.capacity%time.Second != 0 {
			t.Fatalf("accepted an invalid configuration %+v", cfg)
		}
	})
}

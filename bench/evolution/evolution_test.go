package main

import (
	"context"
	"io"
	"math"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

var testStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

func TestDrawVariantsMixesClassesAndSpreadsArrivals(t *testing.T) {
	t.Parallel()
	span := 300 * 24 * time.Hour
	vs := drawVariants(9, testStart, span, 50)
	again := drawVariants(9, testStart, span, 50)
	counts := map[string]int{}
	for i, v := range vs {
		counts[v.class]++
		if v != again[i] {
			t.Fatalf("variant %d differs between two draws with the same seed", i)
		}
		slot := span / 50
		lo := testStart.Add(time.Duration(i) * slot).Truncate(time.Hour)
		if v.arrival.Before(lo) || !v.arrival.Before(lo.Add(slot)) {
			t.Errorf("%s arrives at %s, outside its slot from %s", v.name, v.arrival, lo)
		}
		e := v.effect
		switch v.class {
		case classBetter:
			if !(e.miss < 1 && e.latency < 1 && e.cost < 1 && e.errorRate <= 1) {
				t.Errorf("better variant %s has effect %+v", v.name, e)
			}
		case classWorse:
			if !(e.miss > 1 && e.latency > 1 && e.cost > 1 && e.errorRate >= 1) {
				t.Errorf("worse variant %s has effect %+v", v.name, e)
			}
		case classNeutral:
			if math.Abs(e.miss-1) > 0.03 || math.Abs(e.latency-1) > 0.03 || math.Abs(e.cost-1) > 0.03 {
				t.Errorf("neutral variant %s has effect %+v", v.name, e)
			}
		}
	}
	if counts[classBetter] != 12 || counts[classWorse] != 12 || counts[classNeutral] != 26 {
		t.Fatalf("classes = %v, want 12 better, 26 neutral, 12 worse", counts)
	}
}

func TestEffectIsRelativeToTheRelease(t *testing.T) {
	t.Parallel()
	p := effect{miss: 0.8, latency: 0.9, cost: 1.1, errorRate: 1.5}.apply(initialProduction)
	checks := []struct {
		name      string
		got, want float64
	}{
		{"accuracy", p.Accuracy, 1 - 0.09*0.8},
		{"p95", p.LatencyP95, 1.8},
		{"p50", p.LatencyP50, 0.72},
		{"cost", p.CostMean, 0.088},
		{"error rate", p.ErrorRate, 0.015},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestRateKeepsTheWeeklyMean(t *testing.T) {
	t.Parallel()
	r := newRate(2)
	var sum float64
	for h := range 7 * 24 {
		sum += r.at(testStart.Add(time.Duration(h) * time.Hour))
	}
	if got := sum / (7 * 24); math.Abs(got-2) > 1e-9 {
		t.Fatalf("weekly mean rate = %v, want 2", got)
	}
	if r.at(testStart.Add(14*time.Hour)) <= r.at(testStart.Add(3*time.Hour)) {
		t.Error("the afternoon is not busier than the night")
	}
	if r.at(testStart.Add(5*24*time.Hour+14*time.Hour)) >= r.at(testStart.Add(14*time.Hour)) {
		t.Error("Saturday afternoon is not quieter than Monday afternoon")
	}
}

func TestZStatistics(t *testing.T) {
	t.Parallel()
	if got, want := zProportions(20, 100, 10, 100), 0.1/math.Sqrt(0.15*0.85*0.02); math.Abs(got-want) > 1e-12 {
		t.Errorf("zProportions = %v, want %v", got, want)
	}
	// Means 1 and 0 with unit sample variances over 100 each: se = √0.02.
	n := int64(100)
	ss1 := 99.0 + 100 // (n-1)·s² + n·mean²
	if got, want := zMeans(n, 100, ss1, n, 0, 99), 1/math.Sqrt(0.02); math.Abs(got-want) > 1e-9 {
		t.Errorf("zMeans = %v, want %v", got, want)
	}
	if zMeans(1, 1, 1, 5, 1, 1) != 0 || zProportions(0, 0, 1, 2) != 0 {
		t.Error("undefined statistics are not 0")
	}
}

func TestRollbackCauseReadsTheReason(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"critical breach: canary error rate 9% exceeds 5%":       causeAnalysis,
		"analysis kept failing past the phase's grace period: x": causeAnalysis,
		"canary error_rate 0.1429 breached critical 0.05":        causeMonitor,
		"5 failed checks":      causeChecks,
		"rolled back by admin": causeOther,
	}
	for reason, want := range cases {
		if got := rollbackCause(reason); got != want {
			t.Errorf("rollbackCause(%q) = %q, want %q", reason, got, want)
		}
	}
}

// TestShortYearSeparatesABetterAndAWorseVariant runs three weeks with one
// clearly better and one clearly worse variant through tricycle and the
// Flagger-style policy.
func TestShortYearSeparatesABetterAndAWorseVariant(t *testing.T) {
	t.Parallel()
	vs := []variant{
		{index: 0, name: "v01-better", class: classBetter, arrival: testStart.Add(7 * 24 * time.Hour),
			effect: effect{miss: 0.5, latency: 0.8, cost: 0.7, errorRate: 0.8}},
		{index: 1, name: "v02-worse", class: classWorse, arrival: testStart.Add(8 * 24 * time.Hour),
			effect: effect{miss: 1.5, latency: 1.3, cost: 1.3, errorRate: 1.5}},
	}
	for _, pol := range []policy{tricyclePolicy{canaryStep: 5}, &flaggerPolicy{maxErrorRate: 0.01, maxP95: 3, threshold: 5}} {
		res, err := runYear(context.Background(), pol, 3, testStart, 21, 0.5, time.Hour, vs)
		if err != nil {
			t.Fatalf("%s: %v", pol.label(), err)
		}
		better, worse := res.outcomes[0], res.outcomes[1]
		if better.decision != "PROMOTE" || !better.canary {
			t.Errorf("%s: better variant: decision %q, canary %v; want PROMOTE and a canary", pol.label(), better.decision, better.canary)
		}
		if worse.state != coordination.ExperimentQuarantined || worse.canary {
			t.Errorf("%s: worse variant: state %q, canary %v; want quarantined without a canary", pol.label(), worse.state, worse.canary)
		}
		if res.tally.byClass[classWorse] != 0 {
			t.Errorf("%s: users were served %d reviews by the worse variant", pol.label(), res.tally.byClass[classWorse])
		}
	}
}

func FuzzParseFlags(f *testing.F) {
	f.Add("-rps", "2", "-step", "1h")
	f.Add("-canary-step", "7m", "-days", "10")
	f.Add("-mde", "0", "-variants", "3")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		cfg, err := parseFlags([]string{a, b, c, d}, io.Discard)
		if err != nil {
			return
		}
		if !(cfg.rps > 0) || cfg.variants < 4 || cfg.days < 30 || cfg.step < time.Minute || (24*time.Hour)%cfg.step != 0 ||
			(24*time.Hour)%cfg.canaryStep != 0 || !(cfg.mde > 0 && cfg.mde < 0.5) {
			t.Fatalf("accepted an invalid configuration %+v", cfg)
		}
	})
}

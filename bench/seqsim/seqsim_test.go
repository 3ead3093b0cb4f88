package main

import (
	"io"
	"math"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/internal/stats"
	"github.com/tricyclehq/tricycle/internal/window"
)

func TestFixedHorizonSampleSizes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		got  int64
		want int64
	}{
		// ((1.96·√(.9·.1) + 0.8416·√(.92·.08)) / 0.02)² = 1665.1
		{"accuracy 90% → 92%", proportionN(0.90, 0.92), 1666},
		// ((1.96 + 0.8416) · 0.03 / 0.004)² = 441.5
		{"cost $0.080 → $0.076", meanN(0.004, 0.03), 442},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: n = %d, want %d", c.name, c.got, c.want)
		}
	}
	if proportionN(0.90, 0.94) >= proportionN(0.90, 0.92) {
		t.Error("a larger effect does not need fewer samples")
	}
}

func TestLatencyRowsPutTheRightShareUnderTheThreshold(t *testing.T) {
	t.Parallel()
	for _, share := range []float64{0.96, 0.97} {
		p50 := latencyP50For(2, share)
		sigma := math.Log(production.LatencyP95/production.LatencyP50) / 1.6448536269514722
		got := 0.5 * math.Erfc(-(math.Log(2)-math.Log(p50))/sigma/math.Sqrt2)
		if math.Abs(got-share) > 1e-9 {
			t.Errorf("share under 2 s = %v, want %v", got, share)
		}
	}
}

func TestSideFollowsTheEvaluator(t *testing.T) {
	t.Parallel()
	gt := mustCriterion("accuracy", "> 90%")
	lt := mustCriterion("error_rate", "< 2%")
	cases := []struct {
		name string
		c    interface{ Expr() string }
		got  verdict
		want verdict
	}{
		{"above a > threshold passes", gt, side(gt, stats.Interval{Low: 0.91, High: 0.95}), pass},
		{"touching a > threshold from above is undecided", gt, side(gt, stats.Interval{Low: 0.90, High: 0.95}), undecided},
		{"below a > threshold fails", gt, side(gt, stats.Interval{Low: 0.85, High: 0.90}), fail},
		{"straddling is undecided", gt, side(gt, stats.Interval{Low: 0.89, High: 0.91}), undecided},
		{"below a < threshold passes", lt, side(lt, stats.Interval{Low: 0.01, High: 0.019}), pass},
		{"at or above a < threshold fails", lt, side(lt, stats.Interval{Low: 0.02, High: 0.03}), fail},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s (%s): got %v, want %v", c.name, c.c.Expr(), c.got, c.want)
		}
	}
}

func TestFixedHorizonLatencyTestsTheShareUnderTheThreshold(t *testing.T) {
	t.Parallel()
	c := mustCriterion("latency_p95", "< 2s")
	mk := func(below, n int) *stream {
		s := &stream{latLimit: 2}
		for i := range n {
			lat := 3 * time.Second
			if i < below {
				lat = time.Second
			}
			s.add(window.Observation{Latency: lat})
		}
		return s
	}
	if got := fixedHorizon(c, mk(9900, 10000)); got != pass {
		t.Errorf("99%% under 2 s: %v, want pass", got)
	}
	if got := fixedHorizon(c, mk(9000, 10000)); got != fail {
		t.Errorf("90%% under 2 s: %v, want fail", got)
	}
	if got := fixedHorizon(c, mk(9500, 10000)); got != undecided {
		t.Errorf("95%% under 2 s: %v, want undecided", got)
	}
}

func TestAARunsAreDeterministicAndPeekingInflatesErrors(t *testing.T) {
	t.Parallel()
	const runs, n, batch = 40, 2000, 100
	a, b := simulateAA(3, 0, n, batch), simulateAA(3, 0, n, batch)
	for ci := range a {
		if a[ci] != b[ci] {
			t.Fatalf("criterion %d: %v then %v from the same seed", ci, a[ci], b[ci])
		}
	}
	var peeking, once, product int
	for r := range runs {
		res := simulateAA(5, r, n, batch)
		for ci := range res {
			if res[ci][mPeeking] > 0 {
				peeking++
			}
			if res[ci][mFixedAtN] > 0 {
				once++
			}
			if res[ci][mProduct] > 0 {
				product++
			}
		}
	}
	if peeking <= once {
		t.Errorf("peeking gave %d false decisions, one look at N gave %d: peeking should inflate them", peeking, once)
	}
	if limit := int(0.05 * runs * float64(len(aaCriteria))); product > limit {
		t.Errorf("EvaluateSamples made %d false decisions over %d criterion-runs, more than 5%%", product, runs*len(aaCriteria))
	}
}

func FuzzParseFlags(f *testing.F) {
	f.Add("-runs", "10", "-n", "500")
	f.Add("-batch", "0", "-cap", "50")
	f.Add("-n", "10", "-batch", "100")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		cfg, err := parseFlags([]string{a, b, c, d}, io.Discard)
		if err != nil {
			return
		}
		if cfg.runs < 1 || cfg.powerRuns < 1 || cfg.batch < 1 || cfg.n < cfg.batch || cfg.capSamples < cfg.batch {
			t.Fatalf("accepted an invalid configuration %+v", cfg)
		}
	})
}

package traffic

import (
	"math"
	"testing"

	"github.com/tricyclehq/tricycle/internal/window"
)

var base = Profile{ErrorRate: 0.02, LatencyP50: 0.8, LatencyP95: 2, Accuracy: 0.9, LabelRate: 0.1,
	CostMean: 0.08, CostSD: 0.03, CostCap: 1}

func TestSamplerMatchesProfile(t *testing.T) {
	t.Parallel()
	s := MustSampler(base)
	rng := RNG(1, 2)
	var agg window.Aggregate
	const n = 200_000
	for range n {
		agg.Add(s.Observe(rng))
	}
	checks := []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"error rate", agg.ErrorRate(), 0.02, 0.002},
		{"p50 latency", agg.Quantile(0.5), 0.8, 0.02},
		{"p95 latency", agg.Quantile(0.95), 2, 0.05},
		{"label share", float64(agg.Labelled) / float64(agg.Requests-agg.Errors), 0.1, 0.005},
		{"accuracy", agg.AccuracyRate(), 0.9, 0.01},
		{"mean cost", agg.MeanCost(), 0.08, 0.001},
		{"cost sd", agg.CostStdDev(), 0.03, 0.002},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > c.tol {
			t.Errorf("%s = %.4f, want %.4f ± %.4f", c.name, c.got, c.want, c.tol)
		}
	}
	if agg.CostMax > base.CostCap {
		t.Errorf("a cost of %v exceeds the cap %v", agg.CostMax, base.CostCap)
	}
}

func TestLatencyQuantileAndCDFAgree(t *testing.T) {
	t.Parallel()
	s := MustSampler(base)
	if got := s.LatencyQuantile(0.95); math.Abs(got-2) > 1e-9 {
		t.Fatalf("true p95 = %v, want 2", got)
	}
	if got := s.LatencyCDF(2); math.Abs(got-0.95) > 1e-9 {
		t.Fatalf("P(latency <= 2s) = %v, want 0.95", got)
	}
}

func TestPoissonMeanAndVariance(t *testing.T) {
	t.Parallel()
	for _, mean := range []float64{0.5, 3, 9.9, 10, 90, 900} {
		rng := RNG(7, uint64(mean*10))
		const n = 40_000
		var sum, sumSq float64
		for range n {
			k := float64(Poisson(rng, mean))
			sum += k
			sumSq += k * k
		}
		m := sum / n
		v := sumSq/n - m*m
		se := math.Sqrt(mean / n)
		if math.Abs(m-mean) > 5*se {
			t.Errorf("mean %v: sample mean %.3f is more than 5 standard errors away", mean, m)
		}
		if math.Abs(v-mean)/mean > 0.05 {
			t.Errorf("mean %v: sample variance %.3f, want about %v", mean, v, mean)
		}
	}
	if got := Poisson(RNG(1), 0); got != 0 {
		t.Fatalf("Poisson(0) = %d, want 0", got)
	}
}

func TestRNGStreamsAreReproducibleAndDistinct(t *testing.T) {
	t.Parallel()
	a, b, c := RNG(5, 1, 2), RNG(5, 1, 2), RNG(5, 2, 1)
	same, differ := true, false
	for range 8 {
		x, y, z := a.Uint64(), b.Uint64(), c.Uint64()
		same = same && x == y
		differ = differ || x != z
	}
	if !same {
		t.Error("the same seed and parts gave different streams")
	}
	if !differ {
		t.Error("swapped parts gave the same stream")
	}
}

func TestValidateRefusesBadProfiles(t *testing.T) {
	t.Parallel()
	bad := map[string]func(*Profile){
		"error rate above 1":   func(p *Profile) { p.ErrorRate = 1.5 },
		"p95 below p50":        func(p *Profile) { p.LatencyP95 = 0.5 },
		"zero p50":             func(p *Profile) { p.LatencyP50 = 0 },
		"NaN accuracy":         func(p *Profile) { p.Accuracy = math.NaN() },
		"cap below mean cost":  func(p *Profile) { p.CostCap = 0.01 },
		"negative label share": func(p *Profile) { p.LabelRate = -0.1 },
	}
	for name, mutate := range bad {
		p := base
		mutate(&p)
		if _, err := NewSampler(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewSampler(base); err != nil {
		t.Fatalf("valid profile refused: %v", err)
	}
}

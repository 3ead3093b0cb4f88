package decision

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/coordination/criteria"
	"github.com/tricyclehq/tricycle/internal/stats"
)

func TestEvaluateSamples(t *testing.T) {
	t.Parallel()
	const n = 20000
	base := measured(n, 0.01, 0.90, 0.5, 3.0, 0.10)  // p95 about 2.9s
	good := measured(n, 0.005, 0.95, 0.4, 2.4, 0.07) // p95 about 2.3s, 30% cheaper, half the errors
	with := func(m Measured, change func(*Measured)) Measured {
		change(&m)
		return m
	}
	everything := map[string]string{
		"accuracy": "> 90%", "precision": "> 90%", "recall": "> 90%", "acceptance_rate": "> 90%",
		"agreement": ">= 90%", "error_rate": "< 2%", "latency_p50": "< 2s", "latency_p95": "< 3s",
		"latency_p99": "<= 3000ms", "cost_per_review": "< $0.15", "cost_reduction": "> 20%", "latency_reduction": "> 10%",
	}
	tests := []struct {
		name       string
		criteria   map[string]string
		extra      []criteria.Criterion // criteria built by hand
		cand, base Measured
		want       Decision
		statuses   map[string]Status
		comparison map[string]Status
		summary    []string
	}{
		{
			name: "clearly good candidate promotes", criteria: everything, cand: good, base: base, want: Promote,
			comparison: map[string]Status{"error_rate": StatusPass, "latency_p95": StatusPass},
			summary:    []string{"All 12 criteria pass at 95% confidence (each of the 14 tests at 99.64%)", "not worse than V2"},
		},
		{
			name: "clearly worse accuracy quarantines", criteria: map[string]string{"accuracy": "> 90%", "latency_p95": "< 3s"},
			cand: with(good, func(m *Measured) { m.Correct = m.Labelled * 8 / 10 }), base: base, want: Quarantine,
			statuses: map[string]Status{"accuracy": StatusFail, "latency_p95": StatusPass},
			summary:  []string{"Quarantine: accuracy fails at 95% confidence", "80% vs > 90%"},
		},
		{
			name: "latency above its bound quarantines", criteria: map[string]string{"latency_p95": "< 1s"},
			cand: good, base: base, want: Quarantine, statuses: map[string]Status{"latency_p95": StatusFail},
		},
		{
			name: "cost above its bound quarantines", criteria: map[string]string{"cost_per_review": "< $0.05"},
			cand: good, base: base, want: Quarantine, statuses: map[string]Status{"cost_per_review": StatusFail},
		},
		{
			name: "too few samples hold", criteria: map[string]string{"accuracy": "> 50%"},
			cand: measured(20, 0.01, 0.95, 0.4, 2.4, 0.07), base: measured(20, 0.01, 0.9, 0.5, 3, 0.1), want: Hold,
			statuses:   map[string]Status{"accuracy": StatusInconclusive},
			comparison: map[string]Status{"error_rate": StatusInconclusive, "latency_p95": StatusInconclusive},
			summary:    []string{"accuracy is inconclusive"},
		},
		{
			name: "interval containing the threshold holds", criteria: map[string]string{"accuracy": "> 90%"},
			cand: with(good, func(m *Measured) { m.Labelled, m.Correct = 2000, 1810 }), base: base, want: Hold,
			statuses: map[string]Status{"accuracy": StatusInconclusive},
		},
		{
			name: "no latency data holds", criteria: map[string]string{"latency_p95": "< 3s", "accuracy": "> 90%"},
			cand: with(good, func(m *Measured) { m.Latency = nil }), base: base, want: Hold,
			statuses:   map[string]Status{"latency_p95": StatusMissing, "accuracy": StatusPass},
			comparison: map[string]Status{"latency_p95": StatusMissing, "error_rate": StatusPass},
			summary:    []string{"latency_p95 has no data", "not yet shown to be no worse than V2 on latency_p95"},
		},
		{
			name: "higher error rate than V2 holds", criteria: map[string]string{"error_rate": "< 5%"},
			cand: with(good, func(m *Measured) { m.Errors = m.Requests * 3 / 100 }), base: base, want: Hold,
			statuses:   map[string]Status{"error_rate": StatusPass},
			comparison: map[string]Status{"error_rate": StatusFail, "latency_p95": StatusPass},
			summary:    []string{"worse than V2 beyond the margin on error_rate"},
		},
		{
			name: "slower p95 than V2 holds", criteria: map[string]string{"latency_p95": "< 5s"},
			cand: with(good, func(m *Measured) { m.Latency = evenLatencies(n, 0.5, 4.0) }), base: base, want: Hold,
			statuses:   map[string]Status{"latency_p95": StatusPass},
			comparison: map[string]Status{"latency_p95": StatusFail},
		},
		{
			name: "unknown metric is missing", extra: []criteria.Criterion{{Metric: "bogus", Op: criteria.OpGreater, Threshold: 1}},
			cand: good, base: base, want: Hold, statuses: map[string]Status{"bogus": StatusMissing},
		},
		{
			name: "inconsistent counts are missing", criteria: map[string]string{"accuracy": "> 90%"},
			cand: with(good, func(m *Measured) { m.Correct = m.Labelled + 1 }), base: base, want: Hold,
			statuses: map[string]Status{"accuracy": StatusMissing},
		},
		{
			name: "mean cost above the maximum is missing", criteria: map[string]string{"cost_per_review": "< $1"},
			cand: with(good, func(m *Measured) { m.CostMax = 0.01 }), base: base, want: Hold,
			statuses: map[string]Status{"cost_per_review": StatusMissing},
		},
		{
			name: "zero baseline cost leaves the reduction missing", criteria: map[string]string{"cost_reduction": "> 10%"},
			cand: good, base: with(base, func(m *Measured) { m.CostSum, m.CostSumSq = 0, 0 }), want: Hold,
			statuses: map[string]Status{"cost_reduction": StatusMissing},
		},
		{
			name: "baseline without requests leaves comparisons missing", criteria: map[string]string{"accuracy": "> 90%"},
			cand: good, base: Measured{}, want: Hold,
			statuses:   map[string]Status{"accuracy": StatusPass},
			comparison: map[string]Status{"error_rate": StatusMissing, "latency_p95": StatusMissing},
		},
		{
			name: "no criteria holds", criteria: map[string]string{}, cand: good, base: base, want: Hold,
			summary: []string{"nothing to judge"},
		},
		{
			// Equal error rates of 1% need many requests before a 0.5-point
			// margin is shown: the interval on the difference must shrink
			// below the margin.
			name: "equal error rates are not yet shown non-inferior on 20000 requests", criteria: map[string]string{"accuracy": "> 90%"},
			cand: with(good, func(m *Measured) { m.Errors = base.Errors }), base: base, want: Hold,
			comparison: map[string]Status{"error_rate": StatusInconclusive},
		},
		{
			name: "equal error rates are shown non-inferior on 100000 requests", criteria: map[string]string{"accuracy": "> 90%"},
			cand: measured(100000, 0.01, 0.95, 0.4, 2.4, 0.07), base: measured(100000, 0.01, 0.90, 0.5, 3.0, 0.10), want: Promote,
			comparison: map[string]Status{"error_rate": StatusPass},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cs := append(mustParseSet(t, tc.criteria), tc.extra...)
			cfg := DefaultSampleConfig()
			cfg.ErrorRateMargin = 0.005 // the table's cases are sized for a half-point margin
			res := EvaluateSamples(cs, tc.cand, tc.base, cfg)
			ex := res.Explanation
			if res.Decision != tc.want {
				t.Errorf("decision %s, want %s: %s", res.Decision, tc.want, ex.Summary)
				for _, r := range ex.Criteria {
					t.Logf("  %s: %s", r.Metric, r.Note)
				}
			}
			byMetric := map[string]CriterionResult{}
			for _, r := range ex.Criteria {
				byMetric[r.Metric] = r
				checkSampleResult(t, r)
			}
			for metric, want := range tc.statuses {
				if got := byMetric[metric]; got.Status != want {
					t.Errorf("%s: status %s, want %s (%s)", metric, got.Status, want, got.Note)
				}
			}
			if len(ex.NonInferiority) != 2 {
				t.Fatalf("%d comparisons, want 2", len(ex.NonInferiority))
			}
			for _, c := range ex.NonInferiority {
				if want, ok := tc.comparison[c.Metric]; ok && c.Status != want {
					t.Errorf("comparison %s: status %s, want %s (%s)", c.Metric, c.Status, want, c.Note)
				}
				if c.Note == "" {
					t.Errorf("comparison %s has no note", c.Metric)
				}
			}
			for _, s := range tc.summary {
				if !strings.Contains(ex.Summary, s) {
					t.Errorf("summary %q does not contain %q", ex.Summary, s)
				}
			}
			if _, err := json.Marshal(res); err != nil {
				t.Errorf("result does not encode as JSON: %v", err)
			}
		})
	}
}

// checkSampleResult checks the invariants of one samples-mode result.
func checkSampleResult(t *testing.T, r CriterionResult) {
	t.Helper()
	if r.Pass != (r.Status == StatusPass) {
		t.Errorf("%s: Pass %v with status %s", r.Metric, r.Pass, r.Status)
	}
	if r.Status == StatusMissing {
		if r.Observed != nil || r.Samples != 0 || r.CILow != nil || r.CIHigh != nil {
			t.Errorf("%s: missing result carries data: %+v", r.Metric, r)
		}
		return
	}
	if r.Observed == nil || r.Samples <= 0 {
		t.Fatalf("%s: no observation or samples: %+v", r.Metric, r)
	}
	if (r.CILow != nil && *r.CILow > *r.Observed+1e-12) || (r.CIHigh != nil && *r.CIHigh < *r.Observed-1e-12) {
		t.Errorf("%s: interval [%v, %v] excludes the estimate %v", r.Metric, deref(r.CILow), deref(r.CIHigh), *r.Observed)
	}
	if !strings.Contains(r.Note, "n=") {
		t.Errorf("%s: note %q lacks the sample size", r.Metric, r.Note)
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func TestEvaluateSamplesExplanation(t *testing.T) {
	t.Parallel()
	cs := mustParseSet(t, map[string]string{"latency_p95": "< 3s", "accuracy": "> 90%", "cost_per_review": "< $0.15"})
	cand := measured(5000, 0.01, 0.95, 0.4, 2.4, 0.07)
	base := measured(5000, 0.01, 0.90, 0.5, 3.0, 0.10)
	res := EvaluateSamples(cs, cand, base, SampleConfig{}) // zero config: defaults
	ex := res.Explanation
	if ex.Mode != ModeSamples || ex.Confidence != 0.95 || ex.MinSamples != 30 || ex.Tolerance != 0 {
		t.Errorf("mode %q confidence %v min samples %d tolerance %v", ex.Mode, ex.Confidence, ex.MinSamples, ex.Tolerance)
	}
	if want := 1 - 0.05/5; math.Abs(ex.TestConfidence-want) > 1e-12 {
		t.Errorf("test confidence %v, want %v (Bonferroni over 3 criteria and 2 comparisons)", ex.TestConfidence, want)
	}
	var metrics []string
	for _, r := range ex.Criteria {
		metrics = append(metrics, r.Metric)
	}
	if strings.Join(metrics, ",") != "accuracy,cost_per_review,latency_p95" {
		t.Errorf("criteria order %v, want sorted by metric", metrics)
	}
	acc := ex.Criteria[0]
	if acc.Criterion != "accuracy > 90%" || acc.Samples != 5000 || acc.Status != StatusPass {
		t.Errorf("accuracy result %+v", acc)
	}
	want := "95% > 90% holds at 99% confidence (n=5000, interval "
	if !strings.HasPrefix(acc.Note, want) {
		t.Errorf("accuracy note %q, want it to start %q", acc.Note, want)
	}
	iv := stats.ProportionCS(4750, 5000, 0.01)
	if *acc.CILow != iv.Low || *acc.CIHigh != iv.High {
		t.Errorf("accuracy interval [%v, %v], want the sequence at alpha/5 [%v, %v]", *acc.CILow, *acc.CIHigh, iv.Low, iv.High)
	}
	errCmp := ex.NonInferiority[0]
	if errCmp.Metric != "error_rate" || errCmp.Margin != DefaultSampleConfig().ErrorRateMargin || errCmp.Candidate != 0.01 || errCmp.Baseline != 0.01 {
		t.Errorf("error comparison %+v", errCmp)
	}
	if !strings.Contains(errCmp.Note, "error rate 1% vs V2 1%") {
		t.Errorf("error comparison note %q", errCmp.Note)
	}
	latCmp := ex.NonInferiority[1]
	if latCmp.Metric != "latency_p95" || latCmp.Margin != 0.10 || latCmp.Status != StatusPass {
		t.Errorf("latency comparison %+v", latCmp)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	iv := func(lo, hi float64) stats.Interval { return stats.Interval{Low: lo, High: hi} }
	tests := []struct {
		op   criteria.Op
		iv   stats.Interval
		want Status
	}{
		{criteria.OpGreater, iv(0.91, 0.95), StatusPass},
		{criteria.OpGreater, iv(0.90, 0.95), StatusInconclusive},
		{criteria.OpGreater, iv(0.85, 0.90), StatusFail},
		{criteria.OpGreater, iv(0.85, 0.91), StatusInconclusive},
		{criteria.OpGreaterEqual, iv(0.90, 0.95), StatusPass},
		{criteria.OpGreaterEqual, iv(0.85, 0.90), StatusInconclusive},
		{criteria.OpGreaterEqual, iv(0.85, 0.89), StatusFail},
		{criteria.OpLess, iv(0.85, 0.89), StatusPass},
		{criteria.OpLess, iv(0.85, 0.90), StatusInconclusive},
		{criteria.OpLess, iv(0.90, 0.95), StatusFail},
		{criteria.OpLessEqual, iv(0.85, 0.90), StatusPass},
		{criteria.OpLessEqual, iv(0.90, 0.95), StatusInconclusive},
		{criteria.OpLessEqual, iv(0.91, 0.95), StatusFail},
		{criteria.OpLess, iv(math.Inf(-1), math.Inf(1)), StatusInconclusive},
		{criteria.Op("=="), iv(0.91, 0.95), StatusInconclusive},
	}
	for _, tc := range tests {
		c := criteria.Criterion{Metric: "accuracy", Op: tc.op, Threshold: 0.90}
		if got := classify(c, tc.iv); got != tc.want {
			t.Errorf("%s 0.90 with %+v: %s, want %s", tc.op, tc.iv, got, tc.want)
		}
	}
}

func TestSampleConfig(t *testing.T) {
	t.Parallel()
	if err := DefaultSampleConfig().Validate(); err != nil {
		t.Errorf("default config invalid: %v", err)
	}
	if err := (SampleConfig{}).Validate(); err != nil {
		t.Errorf("zero config invalid: %v", err)
	}
	bad := SampleConfig{Confidence: 1.5, ErrorRateMargin: -0.1, LatencyMargin: math.NaN(), MinSamples: -1}
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, s := range []string{"confidence 1.5", "error rate margin -0.1", "latency margin NaN", "minimum samples -1"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if got := bad.withDefaults(); got != DefaultSampleConfig() {
		t.Errorf("invalid fields became %+v, want the defaults", got)
	}
	custom := SampleConfig{Confidence: 0.9, ErrorRateMargin: 0.01, LatencyMargin: 0.2, MinSamples: 100}
	if got := custom.withDefaults(); got != custom {
		t.Errorf("valid fields changed to %+v", got)
	}
}

func BenchmarkEvaluateSamples(b *testing.B) {
	cs := mustParseSet(b, map[string]string{"accuracy": "> 90%", "latency_p95": "< 3s", "cost_per_review": "< $0.15", "cost_reduction": "> 20%"})
	cand := measured(20000, 0.005, 0.95, 0.4, 2.4, 0.07)
	base := measured(20000, 0.01, 0.90, 0.5, 3.0, 0.10)
	cfg := DefaultSampleConfig()
	for b.Loop() {
		if EvaluateSamples(cs, cand, base, cfg).Decision != Promote {
			b.Fatal("not promoted")
		}
	}
}

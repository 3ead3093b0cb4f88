package decision

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/coordination/criteria"
)

// mustParseSet parses criteria for a test.
func mustParseSet(t testing.TB, m map[string]string) []criteria.Criterion {
	t.Helper()
	cs, err := criteria.ParseSet(m)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestEvaluatePoint(t *testing.T) {
	t.Parallel()
	seed := map[string]string{"accuracy": "> 90%", "latency_p95": "< 3s", "cost_per_review": "< $0.15"}
	tests := []struct {
		name      string
		criteria  map[string]string
		metrics   map[string]float64
		tolerance float64
		want      Decision
		statuses  map[string]Status
		summary   []string // substrings of the summary
	}{
		{
			name:     "seed example: all met",
			criteria: seed,
			metrics:  map[string]float64{"accuracy": 0.92, "latency_p95": 2.5, "cost_per_review": 0.12},
			want:     Promote,
			statuses: map[string]Status{"accuracy": StatusPass, "latency_p95": StatusPass, "cost_per_review": StatusPass},
			summary:  []string{"All 3 criteria are met."},
		},
		{
			name:     "seed example: cost reduction",
			criteria: map[string]string{"cost_reduction": "> 20%", "accuracy": "> 95%"},
			metrics:  map[string]float64{"cost_reduction": 0.28, "accuracy": 0.96},
			want:     Promote,
			statuses: map[string]Status{"cost_reduction": StatusPass, "accuracy": StatusPass},
		},
		{
			name:     "near miss holds",
			criteria: seed,
			metrics:  map[string]float64{"accuracy": 0.89, "latency_p95": 2.5, "cost_per_review": 0.12},
			want:     Hold,
			statuses: map[string]Status{"accuracy": StatusNearMiss, "latency_p95": StatusPass},
			summary:  []string{"Hold:", "accuracy is a near miss within the 5% tolerance"},
		},
		{
			name:     "big miss quarantines",
			criteria: seed,
			metrics:  map[string]float64{"accuracy": 0.70, "latency_p95": 2.5, "cost_per_review": 0.12},
			want:     Quarantine,
			statuses: map[string]Status{"accuracy": StatusFail},
			summary:  []string{"Quarantine: accuracy missed by more than the 5% tolerance", "70% vs > 90%"},
		},
		{
			name:     "missing metric holds",
			criteria: seed,
			metrics:  map[string]float64{"accuracy": 0.92, "cost_per_review": 0.12},
			want:     Hold,
			statuses: map[string]Status{"latency_p95": StatusMissing},
			summary:  []string{"latency_p95 has no value"},
		},
		{
			name:     "non-finite value counts as missing",
			criteria: map[string]string{"accuracy": "> 90%"},
			metrics:  map[string]float64{"accuracy": math.NaN()},
			want:     Hold,
			statuses: map[string]Status{"accuracy": StatusMissing},
		},
		{
			name:     "failure outranks missing and near miss",
			criteria: seed,
			metrics:  map[string]float64{"accuracy": 0.895, "cost_per_review": 0.30},
			want:     Quarantine,
			statuses: map[string]Status{"accuracy": StatusNearMiss, "cost_per_review": StatusFail, "latency_p95": StatusMissing},
			summary:  []string{"cost_per_review missed"},
		},
		{
			name:     "upper bound near miss",
			criteria: map[string]string{"latency_p95": "< 3s"},
			metrics:  map[string]float64{"latency_p95": 3.1},
			want:     Hold,
			statuses: map[string]Status{"latency_p95": StatusNearMiss},
		},
		{
			name:     "upper bound big miss",
			criteria: map[string]string{"latency_p95": "< 3000ms"},
			metrics:  map[string]float64{"latency_p95": 3.5},
			want:     Quarantine,
			statuses: map[string]Status{"latency_p95": StatusFail},
			summary:  []string{"3500ms vs < 3000ms"},
		},
		{
			name:     "strict operator at the threshold is a near miss",
			criteria: map[string]string{"accuracy": "> 90%"},
			metrics:  map[string]float64{"accuracy": 0.90},
			want:     Hold,
			statuses: map[string]Status{"accuracy": StatusNearMiss},
		},
		{
			name:     "inclusive operator at the threshold passes",
			criteria: map[string]string{"accuracy": ">= 90%"},
			metrics:  map[string]float64{"accuracy": 0.90},
			want:     Promote,
		},
		{
			name:     "zero threshold leaves no tolerance",
			criteria: map[string]string{"cost_reduction": "> 0%"},
			metrics:  map[string]float64{"cost_reduction": -0.001},
			want:     Quarantine,
			statuses: map[string]Status{"cost_reduction": StatusFail},
		},
		{
			name:      "wider tolerance turns a big miss into a near miss",
			criteria:  map[string]string{"accuracy": "> 90%"},
			metrics:   map[string]float64{"accuracy": 0.70},
			tolerance: 0.25,
			want:      Hold,
			statuses:  map[string]Status{"accuracy": StatusNearMiss},
			summary:   []string{"25% tolerance"},
		},
		{
			name:      "invalid tolerance uses the default",
			criteria:  map[string]string{"accuracy": "> 90%"},
			metrics:   map[string]float64{"accuracy": 0.85},
			tolerance: -1,
			want:      Quarantine,
		},
		{
			name:     "no criteria holds",
			criteria: map[string]string{},
			metrics:  map[string]float64{"accuracy": 0.99},
			want:     Hold,
			summary:  []string{"nothing to judge"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := EvaluatePoint(mustParseSet(t, tc.criteria), tc.metrics, tc.tolerance)
			if res.Decision != tc.want {
				t.Errorf("decision %s, want %s (%s)", res.Decision, tc.want, res.Explanation.Summary)
			}
			if res.Explanation.Mode != ModePoint {
				t.Errorf("mode %q", res.Explanation.Mode)
			}
			byMetric := map[string]CriterionResult{}
			for _, r := range res.Explanation.Criteria {
				byMetric[r.Metric] = r
				if r.Pass != (r.Status == StatusPass) {
					t.Errorf("%s: Pass %v with status %s", r.Metric, r.Pass, r.Status)
				}
				if (r.Observed == nil) != (r.Status == StatusMissing) {
					t.Errorf("%s: Observed %v with status %s", r.Metric, r.Observed, r.Status)
				}
				if r.Samples != 0 || r.CILow != nil || r.CIHigh != nil {
					t.Errorf("%s: point results carry samples or intervals", r.Metric)
				}
				if r.Note == "" {
					t.Errorf("%s: empty note", r.Metric)
				}
			}
			if len(byMetric) != len(tc.criteria) {
				t.Errorf("%d results for %d criteria", len(byMetric), len(tc.criteria))
			}
			for metric, want := range tc.statuses {
				if got := byMetric[metric].Status; got != want {
					t.Errorf("%s: status %s, want %s (%s)", metric, got, want, byMetric[metric].Note)
				}
			}
			for _, s := range tc.summary {
				if !strings.Contains(res.Explanation.Summary, s) {
					t.Errorf("summary %q does not contain %q", res.Explanation.Summary, s)
				}
			}
		})
	}
}

func TestEvaluatePointExplanation(t *testing.T) {
	t.Parallel()
	cs := mustParseSet(t, map[string]string{"latency_p95": "< 3s", "accuracy": "> 90%", "cost_per_review": "< $0.15"})
	res := EvaluatePoint(cs, map[string]float64{"accuracy": 0.89, "latency_p95": 2.5}, 0)
	ex := res.Explanation
	if ex.Tolerance != DefaultTolerance {
		t.Errorf("tolerance %v, want the default %v", ex.Tolerance, DefaultTolerance)
	}
	want := []struct {
		metric, criterion, note string
		threshold               float64
	}{
		{"accuracy", "accuracy > 90%", "89% vs > 90%: missed by 1.11% of the threshold, within the 5% tolerance", 0.9},
		{"cost_per_review", "cost_per_review < $0.15", "no value reported; needs < $0.15", 0.15},
		{"latency_p95", "latency_p95 < 3s", "2.5s < 3s: met", 3},
	}
	if len(ex.Criteria) != len(want) {
		t.Fatalf("%d results, want %d", len(ex.Criteria), len(want))
	}
	for i, w := range want {
		r := ex.Criteria[i]
		if r.Metric != w.metric || r.Criterion != w.criterion || r.Note != w.note || r.Threshold != w.threshold {
			t.Errorf("result %d = %+v, want %+v", i, r, w)
		}
	}
	if got, wantSummary := ex.Summary, "Hold: accuracy is a near miss within the 5% tolerance; cost_per_review has no value."; got != wantSummary {
		t.Errorf("summary %q, want %q", got, wantSummary)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("explanation does not encode as JSON: %v", err)
	}
}

func TestDecisionAndStatusValues(t *testing.T) {
	t.Parallel()
	for _, d := range Decisions() {
		if !d.Valid() {
			t.Errorf("%q is not valid", d)
		}
	}
	if Decision("MAYBE").Valid() {
		t.Error("an unknown decision is valid")
	}
	decisive := map[Status]bool{StatusPass: true, StatusFail: true}
	for _, s := range Statuses() {
		if s.Decisive() != decisive[s] {
			t.Errorf("%s: Decisive %v", s, s.Decisive())
		}
	}
}

func BenchmarkEvaluatePoint(b *testing.B) {
	cs := mustParseSet(b, map[string]string{"accuracy": "> 90%", "latency_p95": "< 3s", "cost_per_review": "< $0.15"})
	metrics := map[string]float64{"accuracy": 0.92, "latency_p95": 2.5, "cost_per_review": 0.12}
	for b.Loop() {
		if EvaluatePoint(cs, metrics, 0).Decision != Promote {
			b.Fatal("not promoted")
		}
	}
}

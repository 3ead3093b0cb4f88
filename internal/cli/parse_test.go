package cli

import (
	"math"
	"strings"
	"testing"
)

func TestParseCriterion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, metric, expr, err string
	}{
		{in: "accuracy=> 90%", metric: "accuracy", expr: "> 90%"},
		{in: "accuracy => 90%", metric: "accuracy", expr: "> 90%"},
		{in: "accuracy>90%", metric: "accuracy", expr: ">90%"},
		{in: "latency_p95=< 3s", metric: "latency_p95", expr: "< 3s"},
		{in: "latency_p95<=3000ms", metric: "latency_p95", expr: "<=3000ms"},
		{in: "accuracy=>= 0.9", metric: "accuracy", expr: ">= 0.9"},
		{in: "cost_per_review: < $0.15", metric: "cost_per_review", expr: "< $0.15"},
		{in: "  accuracy  =  >  90%  ", metric: "accuracy", expr: ">  90%"},
		{in: "", err: "must start with a metric name"},
		{in: "> 90%", err: "must start with a metric name"},
		{in: "accuracy", err: "missing the condition"},
		{in: "accuracy=", err: "missing the condition"},
		{in: "accuracy=90%", err: "must start with >, >=, < or <="},
		{in: "accuracy==0.9", err: "must start with >, >=, < or <="},
		{in: "accuracy 90%", err: "must start with >, >=, < or <="},
	}
	for _, tt := range tests {
		m, e, err := parseCriterion(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseCriterion(%q) error = %v, want it to contain %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || m != tt.metric || e != tt.expr {
			t.Errorf("parseCriterion(%q) = %q, %q, %v; want %q, %q", tt.in, m, e, err, tt.metric, tt.expr)
		}
	}
}

func TestParseCriteriaRefusesDuplicateMetric(t *testing.T) {
	t.Parallel()
	_, err := parseCriteria([]string{"accuracy=> 90%", "accuracy=> 95%"})
	if err == nil || !strings.Contains(err.Error(), `metric "accuracy" already has`) {
		t.Fatalf("err = %v, want a duplicate-metric error", err)
	}
	got, err := parseCriteria([]string{"accuracy=> 90%", "latency_p95=< 3s"})
	if err != nil || len(got) != 2 || got["latency_p95"] != "< 3s" {
		t.Fatalf("parseCriteria = %v, %v", got, err)
	}
}

func TestParseMetric(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		name string
		v    float64
		err  string
	}{
		{in: "accuracy=0.92", name: "accuracy", v: 0.92},
		{in: "accuracy=92%", name: "accuracy", v: 0.92},
		{in: " latency_p95 = 2.5 ", name: "latency_p95", v: 2.5},
		{in: "cost_per_review=1e-1", name: "cost_per_review", v: 0.1},
		{in: "accuracy", err: "want name=value"},
		{in: "=0.9", err: "want name=value"},
		{in: "accuracy=", err: "want name=value"},
		{in: "accuracy=high", err: "not a finite number"},
		{in: "accuracy=NaN", err: "not a finite number"},
		{in: "accuracy=Inf", err: "not a finite number"},
		{in: "acc-uracy=1", err: "may hold only"},
	}
	for _, tt := range tests {
		name, v, err := parseMetric(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseMetric(%q) error = %v, want it to contain %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || name != tt.name || math.Abs(v-tt.v) > 1e-12 {
			t.Errorf("parseMetric(%q) = %q, %v, %v; want %q, %v", tt.in, name, v, err, tt.name, tt.v)
		}
	}
	if _, err := parseMetrics([]string{"accuracy=1", "accuracy=0.5"}); err == nil {
		t.Error("parseMetrics accepted a metric given twice")
	}
}

func TestParseVariant(t *testing.T) {
	t.Parallel()
	v, err := parseVariant([]byte("name: fast-sim\nprovider: simulated\nmodel: m1\nsimulated: {latency_p50: 800ms, latency_p95: 2s, error_rate: 0.01}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "fast-sim" || v.Simulated == nil || v.Simulated.LatencyP95.D().Seconds() != 2 {
		t.Fatalf("parseVariant = %+v", v)
	}
	if _, err := parseVariant([]byte(`{"name": "x", "provider": "openai", "modle": "typo"}`)); err == nil || !strings.Contains(err.Error(), "modle") {
		t.Fatalf("unknown field: err = %v, want it named", err)
	}
	if _, err := parseVariant([]byte("name: x\nprovider: nope\n")); err == nil || !strings.Contains(err.Error(), "provider") {
		t.Fatalf("bad provider: err = %v", err)
	}
	if _, err := parseVariant(nil); err == nil {
		t.Fatal("empty file accepted")
	}
	if _, err := parseVariant([]byte("name: a\n---\nname: b\n")); err == nil {
		t.Fatal("two documents accepted")
	}
}

// FuzzParseCriterion checks that any accepted criterion splits into a
// metric of metric characters and an expression starting with an operator,
// and that the pieces parse back to themselves.
func FuzzParseCriterion(f *testing.F) {
	for _, s := range []string{"accuracy=> 90%", "latency_p95 < 3s", "x:>=1", "=", "a==b", "cost_per_review=< $0.15", "\x00>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, e, err := parseCriterion(s)
		if err != nil {
			return
		}
		if m == "" || e == "" || (e[0] != '<' && e[0] != '>') {
			t.Fatalf("parseCriterion(%q) = %q, %q", s, m, e)
		}
		for i := 0; i < len(m); i++ {
			if !isMetricChar(m[i]) {
				t.Fatalf("metric %q holds %q", m, m[i])
			}
		}
		m2, e2, err := parseCriterion(m + "=" + e)
		if err != nil || m2 != m || e2 != e {
			t.Fatalf("round trip of %q: %q, %q, %v", s, m2, e2, err)
		}
	})
}

// FuzzParseMetric checks that accepted metrics are finite and named.
func FuzzParseMetric(f *testing.F) {
	for _, s := range []string{"accuracy=0.92", "a=92%", "=", "x=1e400", "y=-0", "z= 5 %"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, v, err := parseMetric(s)
		if err != nil {
			return
		}
		if name == "" || math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("parseMetric(%q) = %q, %v", s, name, v)
		}
	})
}

// FuzzParseVariant checks that the variant parser never panics and that
// whatever it accepts is a valid variant.
func FuzzParseVariant(f *testing.F) {
	for _, s := range []string{"name: a\nprovider: builtin\n", `{"name":"b","provider":"openai","model":"m"}`, "", "- 1", "simulated: {error_rate: 2}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parseVariant(data)
		if err != nil {
			return
		}
		if err := v.Validate(); err != nil {
			t.Fatalf("accepted an invalid variant %+v: %v", v, err)
		}
	})
}

package criteria

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	ms := Metrics()
	want := []string{"acceptance_rate", "accuracy", "agreement", "cost_per_review", "cost_reduction", "error_rate",
		"latency_p50", "latency_p95", "latency_p99", "latency_reduction", "precision", "recall"}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
		if m.Doc == "" || len(m.Kind.Units()) == 0 {
			t.Errorf("metric %s lacks a doc or units", m.Name)
		}
		got, ok := Lookup(m.Name)
		if !ok || got != m {
			t.Errorf("Lookup(%q) = %+v, %v", m.Name, got, ok)
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("Metrics() = %v, want %v", names, want)
	}
	ms[0].Name = "changed"
	if Metrics()[0].Name != "acceptance_rate" {
		t.Error("changing the returned slice changed the table")
	}
	for _, name := range []string{"", "Accuracy", "latency", "accuracy "} {
		if _, ok := Lookup(name); ok {
			t.Errorf("Lookup(%q) found a metric", name)
		}
	}
	better := map[string]bool{"accuracy": true, "error_rate": false, "latency_p95": false, "cost_per_review": false, "cost_reduction": true}
	for name, want := range better {
		if m, _ := Lookup(name); m.HigherIsBetter != want {
			t.Errorf("%s HigherIsBetter = %v, want %v", name, m.HigherIsBetter, want)
		}
	}
}

func TestMet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr                       string
		below, at, above           bool
		higherIsBetter, strictSign bool
	}{
		{expr: "> 50%", below: false, at: false, above: true, higherIsBetter: true, strictSign: true},
		{expr: ">= 50%", below: false, at: true, above: true, higherIsBetter: true},
		{expr: "< 50%", below: true, at: false, above: false, strictSign: true},
		{expr: "<= 50%", below: true, at: true, above: false},
	}
	for _, tc := range tests {
		c, err := Parse("accuracy", tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		if c.Met(0.49) != tc.below || c.Met(0.5) != tc.at || c.Met(0.51) != tc.above {
			t.Errorf("%s: Met(0.49, 0.5, 0.51) = %v %v %v, want %v %v %v", tc.expr,
				c.Met(0.49), c.Met(0.5), c.Met(0.51), tc.below, tc.at, tc.above)
		}
		if c.Met(math.NaN()) {
			t.Errorf("%s: NaN met the criterion", tc.expr)
		}
		if c.HigherIsBetter() != tc.higherIsBetter || c.Op.Strict() != tc.strictSign {
			t.Errorf("%s: HigherIsBetter %v Strict %v", tc.expr, c.HigherIsBetter(), c.Op.Strict())
		}
	}
	if (Criterion{Op: "=", Threshold: 1}).Met(1) {
		t.Error("a criterion with an invalid operator was met")
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		metric, expr string
		value        float64
		want         string
	}{
		{"accuracy", "> 90%", 0.91234, "91.23%"},
		{"accuracy", "> 90%", 0.9, "90%"},
		{"accuracy", "> 0.9", 0.91234, "0.9123"},
		{"latency_p95", "< 3s", 2.5, "2.5s"},
		{"latency_p95", "< 3000ms", 2.5, "2500ms"},
		{"latency_p95", "< 3000ms", 0.01234567, "12.35ms"},
		{"cost_per_review", "< $0.15", 0.1234567, "$0.1235"},
		{"cost_per_review", "< $0.15", 0, "$0"},
		{"cost_reduction", "> 20%", -0.05, "-5%"},
		{"cost_reduction", "> 20%", math.Inf(-1), "-Inf"},
	}
	for _, tc := range tests {
		c, err := Parse(tc.metric, tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Format(tc.value); got != tc.want {
			t.Errorf("%s %s: Format(%v) = %q, want %q", tc.metric, tc.expr, tc.value, got, tc.want)
		}
	}
}

func TestFormatExactAwkwardValues(t *testing.T) {
	t.Parallel()
	// Values whose scaled form is not exact in binary still print short.
	for _, expr := range []string{"> 29%", "> 57%", "> 0.1%", "> 33.3%", "< 0.3s", "< 1.1ms", "< 0.07%"} {
		metric := "accuracy"
		if strings.HasSuffix(expr, "s") {
			metric = "latency_p95"
		}
		c, err := Parse(metric, expr)
		if err != nil {
			t.Fatal(err)
		}
		if c.Expr() != expr {
			t.Errorf("Expr() of %q = %q", expr, c.Expr())
		}
	}
}

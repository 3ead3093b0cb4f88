package criteria

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		metric, expr string
		op           Op
		threshold    float64
		unit         Unit
		canonical    string
	}{
		{"accuracy", "> 90%", OpGreater, 0.90, UnitPercent, "accuracy > 90%"},
		{"accuracy", ">=0.9", OpGreaterEqual, 0.9, UnitNone, "accuracy >= 0.9"},
		{"accuracy", " >  90 % ", OpGreater, 0.90, UnitPercent, "accuracy > 90%"},
		{"accuracy", "\t>\t95%\t", OpGreater, 0.95, UnitPercent, "accuracy > 95%"},
		{"accuracy", "> 0%", OpGreater, 0, UnitPercent, "accuracy > 0%"},
		{"accuracy", "<= 100%", OpLessEqual, 1, UnitPercent, "accuracy <= 100%"},
		{"accuracy", "> 1", OpGreater, 1, UnitNone, "accuracy > 1"},
		{"accuracy", "> .5", OpGreater, 0.5, UnitNone, "accuracy > 0.5"},
		{"latency_p95", "< 5.s", OpLess, 5, UnitSeconds, "latency_p95 < 5s"},
		{"precision", "> 29%", OpGreater, 0.29, UnitPercent, "precision > 29%"},
		{"recall", ">= 87.5%", OpGreaterEqual, 0.875, UnitPercent, "recall >= 87.5%"},
		{"acceptance_rate", "> 0.6", OpGreater, 0.6, UnitNone, "acceptance_rate > 0.6"},
		{"agreement", ">= 80%", OpGreaterEqual, 0.8, UnitPercent, "agreement >= 80%"},
		{"error_rate", "< 1%", OpLess, 0.01, UnitPercent, "error_rate < 1%"},
		{"error_rate", "<0.005", OpLess, 0.005, UnitNone, "error_rate < 0.005"},
		{"latency_p95", "< 3s", OpLess, 3, UnitSeconds, "latency_p95 < 3s"},
		{"latency_p95", "< 3000ms", OpLess, 3, UnitMillis, "latency_p95 < 3000ms"},
		{"latency_p95", "<3000 ms", OpLess, 3, UnitMillis, "latency_p95 < 3000ms"},
		{"latency_p50", "<= 800ms", OpLessEqual, 0.8, UnitMillis, "latency_p50 <= 800ms"},
		{"latency_p99", "< 2.5S", OpLess, 2.5, UnitSeconds, "latency_p99 < 2.5s"},
		{"latency_p99", "< 1500MS", OpLess, 1.5, UnitMillis, "latency_p99 < 1500ms"},
		{"cost_per_review", "< $0.15", OpLess, 0.15, UnitDollars, "cost_per_review < $0.15"},
		{"cost_per_review", "<$0.15", OpLess, 0.15, UnitDollars, "cost_per_review < $0.15"},
		{"cost_per_review", "< $ 0.15", OpLess, 0.15, UnitDollars, "cost_per_review < $0.15"},
		{"cost_per_review", "< 0.15", OpLess, 0.15, UnitNone, "cost_per_review < 0.15"},
		{"cost_per_review", "< $12", OpLess, 12, UnitDollars, "cost_per_review < $12"},
		{"cost_reduction", "> 20%", OpGreater, 0.20, UnitPercent, "cost_reduction > 20%"},
		{"latency_reduction", ">= 0.1", OpGreaterEqual, 0.1, UnitNone, "latency_reduction >= 0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.metric+" "+tc.expr, func(t *testing.T) {
			t.Parallel()
			c, err := Parse(tc.metric, tc.expr)
			if err != nil {
				t.Fatalf("Parse(%q, %q): %v", tc.metric, tc.expr, err)
			}
			if c.Metric != tc.metric || c.Op != tc.op || c.Unit != tc.unit || c.Raw != tc.expr {
				t.Errorf("got %+v, want metric %q op %q unit %q raw %q", c, tc.metric, tc.op, tc.unit, tc.expr)
			}
			if c.Threshold != tc.threshold {
				t.Errorf("threshold %v, want %v", c.Threshold, tc.threshold)
			}
			if got := c.String(); got != tc.canonical {
				t.Errorf("String() = %q, want %q", got, tc.canonical)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		metric, expr string
		pos          int
		reason       string // substring of Reason
		hint         string // substring of Hint
	}{
		{"latency_p95", "< 3 parsecs", 5, `unknown unit "parsecs"`, "s or ms"},
		{"accuracy", "", 1, "empty criterion", "> 90%"},
		{"accuracy", "   ", 4, "empty criterion", ""},
		{"accuracy", "90%", 1, "missing operator", ">="},
		{"accuracy", "≥ 90%", 1, "missing operator", ""},
		{"accuracy", "=> 90%", 1, `unknown operator "=>"`, "<="},
		{"accuracy", "== 90%", 1, `unknown operator "=="`, ""},
		{"accuracy", "!= 90%", 1, `unknown operator "!="`, ""},
		{"accuracy", ">> 90%", 1, `unknown operator ">>"`, ""},
		{"accuracy", "<> 90%", 1, `unknown operator "<>"`, ""},
		{"accuracy", ">", 2, "missing number", ""},
		{"accuracy", "> %", 3, "missing number", ""},
		{"accuracy", "> .", 3, "missing number", ""},
		{"accuracy", "> abc", 3, `missing number: found "abc"`, ""},
		{"accuracy", "> NaN", 3, "finite", ""},
		{"accuracy", "> inf%", 3, "finite", ""},
		{"latency_p95", "< Infinity s", 3, "finite", ""},
		{"accuracy", "> -5%", 3, "negative", ""},
		{"latency_p95", "< -3s", 3, "negative", ""},
		{"cost_per_review", "< $-0.15", 4, "negative", ""},
		{"accuracy", "> +5%", 3, "sign", ""},
		{"accuracy", "> 1.2.3%", 3, "malformed number", ""},
		{"accuracy", "> 1e-3", 4, `unknown unit "e"`, ""},
		{"accuracy", "> 90% extra", 7, `unexpected "extra"`, ""},
		{"accuracy", "> 9 0%", 5, `unexpected "0%"`, ""},
		{"accuracy", "> 90%%", 6, `unexpected "%"`, ""},
		{"accuracy", "> 90", 3, "within [0, 1]", "90% or 0.9"},
		{"accuracy", "> 1.5", 3, "within [0, 1]", ""},
		{"cost_reduction", "> 20", 3, "within [0, 1]", "20%"},
		{"accuracy", "> 150%", 3, "outside 0%–100%", ""},
		{"accuracy", "> 100.01%", 3, "outside 0%–100%", ""},
		{"latency_p95", "< 5%", 4, `unit "%" does not fit latency_p95 (a duration)`, "s or ms"},
		{"accuracy", "> 3s", 4, `unit "s" does not fit accuracy (a proportion)`, "%"},
		{"accuracy", "> 300ms", 6, `unit "ms" does not fit accuracy`, ""},
		{"accuracy", "> $0.9", 3, `unit "$" does not fit accuracy`, ""},
		{"cost_per_review", "< 15%", 5, `unit "%" does not fit cost_per_review (a dollar amount)`, "$"},
		{"cost_per_review", "< 3s", 4, `unit "s" does not fit cost_per_review`, ""},
		{"latency_p95", "< 3", 4, "a duration needs a unit", "3s or 3ms"},
		{"latency_p95", "< $3", 3, `unit "$" does not fit latency_p95`, ""},
		{"cost_per_review", "< $3s", 5, "a $ amount takes no other unit", ""},
		{"cost_per_review", "< $3%", 5, "a $ amount takes no other unit", ""},
		{"cost_per_review", "< 0.15$", 7, "misplaced $", "< $0.15"},
		{"cost_per_review", "< $$0.15", 4, "missing number", ""},
		{"accuracy", "> " + strings.Repeat("1", 40) + "%", 3, "at most 32", ""},
		{"accuracy", "> 90%" + strings.Repeat(" ", 60), 65, "at most 64 allowed", ""},
		{"accuracyy", "> 90%", 0, `unknown metric "accuracyy"`, "known metrics: acceptance_rate, accuracy,"},
		{"Accuracy", "> 90%", 0, `unknown metric "Accuracy"`, "latency_p95"},
		{"", "> 90%", 0, "missing metric name", "known metrics"},
		{strings.Repeat("m", 65), "> 90%", 0, "at most 64 allowed", ""},
	}
	for _, tc := range tests {
		t.Run(tc.metric+" "+tc.expr, func(t *testing.T) {
			t.Parallel()
			c, err := Parse(tc.metric, tc.expr)
			if err == nil {
				t.Fatalf("Parse(%q, %q) = %+v, want an error", tc.metric, tc.expr, c)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.Pos != tc.pos {
				t.Errorf("Pos = %d, want %d (%v)", pe.Pos, tc.pos, err)
			}
			if !strings.Contains(pe.Reason, tc.reason) {
				t.Errorf("Reason = %q, want it to contain %q", pe.Reason, tc.reason)
			}
			if !strings.Contains(pe.Hint, tc.hint) {
				t.Errorf("Hint = %q, want it to contain %q", pe.Hint, tc.hint)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, fmt.Sprintf("criterion %q: ", shorten(tc.metric, MaxMetricLen))) {
				t.Errorf("message %q does not start by naming the metric", msg)
			}
			if tc.pos > 0 && !strings.Contains(msg, fmt.Sprintf("at column %d", tc.pos)) {
				t.Errorf("message %q does not point at column %d", msg, tc.pos)
			}
		})
	}
}

func TestParseErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := Parse("latency_p95", "< 3 parsecs")
	const want = `criterion "latency_p95": "< 3 parsecs": unknown unit "parsecs" at column 5; use s or ms, e.g. "< 3s" or "< 3000ms"`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	// A very long expression is shown shortened, not echoed whole.
	_, err = Parse("accuracy", strings.Repeat("x", 10000))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("message for a 10000-byte expression is %d bytes long: %v", len(err.Error()), err)
	}
}

func TestParseSet(t *testing.T) {
	t.Parallel()
	t.Run("seed criteria", func(t *testing.T) {
		t.Parallel()
		cs, err := ParseSet(map[string]string{
			"latency_p95":     "< 3s",
			"accuracy":        "> 90%",
			"cost_per_review": "< $0.15",
		})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cs {
			got = append(got, c.String())
		}
		want := []string{"accuracy > 90%", "cost_per_review < $0.15", "latency_p95 < 3s"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		for _, m := range []map[string]string{nil, {}} {
			cs, err := ParseSet(m)
			if err != nil || len(cs) != 0 {
				t.Errorf("ParseSet(%v) = %v, %v; want no criteria and no error", m, cs, err)
			}
		}
	})
	t.Run("every error reported in metric order", func(t *testing.T) {
		t.Parallel()
		cs, err := ParseSet(map[string]string{
			"recall":      "> 80%",
			"latency_p95": "< 3 parsecs",
			"bogus":       "> 1",
			"accuracy":    "90%",
		})
		if err == nil || cs != nil {
			t.Fatalf("got %v, %v; want an error and no criteria", cs, err)
		}
		msg := err.Error()
		lines := strings.Split(msg, "\n")
		if len(lines) != 3 {
			t.Fatalf("got %d error lines, want 3:\n%s", len(lines), msg)
		}
		for i, metric := range []string{"accuracy", "bogus", "latency_p95"} {
			if !strings.HasPrefix(lines[i], fmt.Sprintf("criterion %q", metric)) {
				t.Errorf("line %d = %q, want it about %s", i, lines[i], metric)
			}
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Error("joined error does not unwrap to a *ParseError")
		}
	})
}

// equalCriteria compares the parts of two criteria that Parse decides.
func equalCriteria(a, b Criterion) bool {
	return a.Metric == b.Metric && a.Op == b.Op && a.Threshold == b.Threshold && a.Unit == b.Unit
}

// TestRoundTripProperty checks on seeded random criteria that the canonical
// text of a parsed criterion parses back to an equal criterion.
func TestRoundTripProperty(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	metrics := Metrics()
	for i := range 5000 {
		m := metrics[rng.IntN(len(metrics))]
		op := Ops()[rng.IntN(4)]
		units := m.Kind.Units()
		unit := units[rng.IntN(len(units))]
		var value float64
		switch unit {
		case UnitPercent:
			value = rng.Float64() * 100
		case UnitNone:
			value = rng.Float64()
			if m.Kind == KindDollars {
				value *= 50
			}
		default:
			value = rng.Float64() * 5000
		}
		digits := rng.IntN(10) - 1 // -1 is the shortest exact form
		num := strconv.FormatFloat(value, 'f', digits, 64)
		var expr string
		spaces := strings.Repeat(" ", rng.IntN(3))
		if unit == UnitDollars {
			expr = string(op) + spaces + "$" + num
		} else {
			expr = spaces + string(op) + spaces + num + spaces + string(unit)
		}
		c, err := Parse(m.Name, expr)
		if err != nil {
			t.Fatalf("case %d: Parse(%q, %q): %v", i, m.Name, expr, err)
		}
		back, err := Parse(c.Metric, c.Expr())
		if err != nil {
			t.Fatalf("case %d: canonical %q of %q does not parse: %v", i, c.String(), expr, err)
		}
		if !equalCriteria(c, back) {
			t.Fatalf("case %d: %q parsed to %+v, its canonical %q to %+v", i, expr, c, c.String(), back)
		}
	}
}

func FuzzParse(f *testing.F) {
	seeds := [][2]string{
		{"accuracy", "> 90%"}, {"latency_p95", "< 3s"}, {"latency_p95", "< 3000ms"},
		{"cost_per_review", "< $0.15"}, {"cost_reduction", "> 20%"}, {"accuracy", ">=0.9"},
		{"accuracy", " >  90 % "}, {"latency_p95", "< 3 parsecs"}, {"accuracy", "> NaN"},
		{"accuracy", "> -1"}, {"nope", "> 1"}, {"accuracy", "> 0.0000000000000000000000001%"},
		{"latency_p99", "<= 12345678901234567890123456789012ms"}, {"error_rate", "< .3%"},
		{"cost_per_review", "<$ 7."}, {"accuracy", ""}, {"accuracy", "\x00>\xff1"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, metric, expr string) {
		c, err := Parse(metric, expr)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.Pos < 0 || pe.Pos > MaxTextLen+1 {
				t.Fatalf("Pos %d out of range for %q", pe.Pos, expr)
			}
			return
		}
		if len(expr) > MaxTextLen {
			t.Fatalf("accepted %d-byte text", len(expr))
		}
		if c.Threshold < 0 || c.Threshold != c.Threshold {
			t.Fatalf("accepted threshold %v from %q", c.Threshold, expr)
		}
		back, err := Parse(c.Metric, c.Expr())
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", c.String(), expr, err)
		}
		if !equalCriteria(c, back) {
			t.Fatalf("%q parsed to %+v, its canonical %q to %+v", expr, c, c.String(), back)
		}
	})
}

func BenchmarkParseSet(b *testing.B) {
	m := map[string]string{
		"accuracy":        "> 90%",
		"latency_p95":     "< 3s",
		"cost_per_review": "< $0.15",
		"error_rate":      "< 1%",
		"cost_reduction":  "> 20%",
	}
	for b.Loop() {
		if _, err := ParseSet(m); err != nil {
			b.Fatal(err)
		}
	}
}

package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// A small reader of PromQL, enough to list the series selectors and the
// grouping labels of an expression so that the tests can check them against
// metricnames_test.go. It understands Grafana's $variables as well. It is
// not a validator of PromQL syntax: promtool does that for the rules.

// selector is one series selector: a metric name and its label matchers.
type selector struct {
	name     string
	matchers []matcher
}

// matcher is one label matcher of a selector.
type matcher struct {
	label, op, value string
}

// promqlRefs is what an expression refers to.
type promqlRefs struct {
	selectors []selector
	// grouping holds the labels of by, without, on, ignoring, group_left
	// and group_right clauses.
	grouping []string
	// functions holds the names of the functions and aggregations called.
	functions []string
}

var (
	promqlAggregations = []string{"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
		"count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
	promqlGroupingWords = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}
	promqlKeywords      = []string{"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
	metricNameRE        = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
)

// token is a lexical token of PromQL.
type token struct {
	kind string // "ident", "string", "number", "punct", "var"
	text string
}

// lexPromQL splits expr into tokens. Comments run to the end of the line.
// Grafana variables ($name, ${name}, ${name:format}) become "var" tokens.
func lexPromQL(expr string) ([]token, error) {
	var out []token
	rs := []rune(expr)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '#':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case r == '"' || r == '\'' || r == '`':
			j := i + 1
			var sb strings.Builder
			for ; j < len(rs) && rs[j] != r; j++ {
				if rs[j] == '\\' && r != '`' && j+1 < len(rs) {
					j++
				}
				sb.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			out = append(out, token{"string", sb.String()})
			i = j + 1
		case r == '$':
			j := i + 1
			if j < len(rs) && rs[j] == '{' {
				for j < len(rs) && rs[j] != '}' {
					j++
				}
				if j >= len(rs) {
					return nil, fmt.Errorf("unterminated ${ at offset %d", i)
				}
				j++
			} else {
				for j < len(rs) && (rs[j] == '_' || unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j])) {
					j++
				}
			}
			out = append(out, token{"var", string(rs[i:j])})
			i = j
		case r == '_' || r == ':' || (r < unicode.MaxASCII && unicode.IsLetter(r)):
			j := i
			for j < len(rs) && (rs[j] == '_' || rs[j] == ':' || (rs[j] < unicode.MaxASCII && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j])))) {
				j++
			}
			out = append(out, token{"ident", string(rs[i:j])})
			i = j
		case r < unicode.MaxASCII && (unicode.IsDigit(r) || r == '.'):
			j := i
			for j < len(rs) && rs[j] < unicode.MaxASCII && (unicode.IsDigit(rs[j]) || unicode.IsLetter(rs[j]) || rs[j] == '.' ||
				((rs[j] == '+' || rs[j] == '-') && (rs[j-1] == 'e' || rs[j-1] == 'E'))) {
				j++
			}
			out = append(out, token{"number", string(rs[i:j])})
			i = j
		default:
			// Two-character operators are split into single characters;
			// nothing here depends on them.
			out = append(out, token{"punct", string(r)})
			i++
		}
	}
	return out, nil
}

// parsePromQL lists the selectors, grouping labels and functions of expr.
func parsePromQL(expr string) (promqlRefs, error) {
	toks, err := lexPromQL(expr)
	if err != nil {
		return promqlRefs{}, err
	}
	var refs promqlRefs
	depth := map[string]int{"(": 0, "[": 0, "{": 0}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		next := func(k int) token {
			if i+k < len(toks) {
				return toks[i+k]
			}
			return token{}
		}
		switch {
		case t.kind == "punct" && (t.text == "(" || t.text == "["):
			depth[t.text]++
		case t.kind == "punct" && t.text == ")":
			depth["("]--
		case t.kind == "punct" && t.text == "]":
			depth["["]--
		case t.kind == "punct" && t.text == "{":
			// A selector without a metric name.
			return refs, fmt.Errorf("selector without a metric name at token %d", i)
		case t.kind == "punct" && t.text == "}":
			return refs, fmt.Errorf("unbalanced } at token %d", i)
		case t.kind != "ident" || depth["["] > 0:
			// Numbers, strings, variables, operators and range contents.
		case (t.text == "group_left" || t.text == "group_right") && next(1).text != "(":
			// A many-to-one match without extra labels.
		case slices.Contains(promqlGroupingWords, t.text):
			labels, end, err := labelList(toks, i+1)
			if err != nil {
				return refs, fmt.Errorf("%s: %w", t.text, err)
			}
			refs.grouping = append(refs.grouping, labels...)
			i = end
		case slices.Contains(promqlKeywords, strings.ToLower(t.text)):
		case next(1).text == "(" && next(1).kind == "punct",
			slices.Contains(promqlAggregations, t.text) && slices.Contains(promqlGroupingWords, next(1).text):
			refs.functions = append(refs.functions, t.text)
		default:
			sel := selector{name: t.text}
			if n := next(1); n.kind == "punct" && n.text == "{" {
				ms, end, err := matcherList(toks, i+2)
				if err != nil {
					return refs, fmt.Errorf("%s: %w", t.text, err)
				}
				sel.matchers = ms
				i = end
			}
			refs.selectors = append(refs.selectors, sel)
		}
		if depth["("] < 0 || depth["["] < 0 {
			return refs, fmt.Errorf("unbalanced %q at token %d", t.text, i)
		}
	}
	if depth["("] != 0 || depth["["] != 0 {
		return refs, fmt.Errorf("unbalanced brackets")
	}
	return refs, nil
}

// labelList reads "( a, b )" starting at toks[i] and returns the labels and
// the index of the closing parenthesis.
func labelList(toks []token, i int) ([]string, int, error) {
	if i >= len(toks) || toks[i].text != "(" {
		return nil, i, fmt.Errorf("want a label list in parentheses")
	}
	var labels []string
	for i++; i < len(toks); i++ {
		switch t := toks[i]; {
		case t.kind == "punct" && t.text == ")":
			return labels, i, nil
		case t.kind == "punct" && t.text == ",":
		case t.kind == "ident":
			labels = append(labels, t.text)
		default:
			return nil, i, fmt.Errorf("unexpected %q in a label list", t.text)
		}
	}
	return nil, i, fmt.Errorf("unterminated label list")
}

// matcherList reads `a="x", b=~"y" }` starting at toks[i] and returns the
// matchers and the index of the closing brace.
func matcherList(toks []token, i int) ([]matcher, int, error) {
	var ms []matcher
	for ; i < len(toks); i++ {
		t := toks[i]
		if t.kind == "punct" && t.text == "}" {
			return ms, i, nil
		}
		if t.kind == "punct" && t.text == "," {
			continue
		}
		if t.kind != "ident" {
			return nil, i, fmt.Errorf("unexpected %q in a matcher list", t.text)
		}
		var op strings.Builder
		j := i + 1
		for ; j < len(toks) && toks[j].kind == "punct" && strings.Contains("=!~", toks[j].text); j++ {
			op.WriteString(toks[j].text)
		}
		if !slices.Contains([]string{"=", "!=", "=~", "!~"}, op.String()) {
			return nil, i, fmt.Errorf("label %s: bad operator %q", t.text, op.String())
		}
		if j >= len(toks) || (toks[j].kind != "string") {
			return nil, i, fmt.Errorf("label %s: want a quoted value", t.text)
		}
		ms = append(ms, matcher{label: t.text, op: op.String(), value: toks[j].text})
		i = j
	}
	return nil, i, fmt.Errorf("unterminated matcher list")
}

// metricCatalog answers which labels a metric name has.
type metricCatalog struct {
	families map[string]metricDef
}

// newCatalog joins the exported, external and recorded metrics.
func newCatalog(recorded map[string][]string) metricCatalog {
	c := metricCatalog{families: map[string]metricDef{}}
	for n, d := range tricycleMetrics {
		c.families[n] = d
	}
	for n, d := range externalMetrics {
		c.families[n] = d
	}
	for n, labels := range recorded {
		c.families[n] = metricDef{kind: gauge, labels: labels, from: "recording rule"}
	}
	return c
}

// lookup returns the family of a series name and the labels the series
// may carry, and whether the name is known. Histogram families answer for
// their _bucket, _sum and _count series.
func (c metricCatalog) lookup(name string) (metricDef, []string, bool) {
	if d, ok := c.families[name]; ok && d.kind != histogram {
		return d, append(slices.Clone(d.labels), targetLabels...), true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if d, known := c.families[base]; ok && known && d.kind == histogram {
			labels := append(slices.Clone(d.labels), targetLabels...)
			if suffix == "_bucket" {
				labels = append(labels, "le")
			}
			return d, labels, true
		}
	}
	return metricDef{}, nil, false
}

// labelsOf returns the labels a series name may carry, and whether the
// name is known.
func (c metricCatalog) labelsOf(name string) ([]string, bool) {
	_, labels, ok := c.lookup(name)
	return labels, ok
}

// check reports every unknown metric, unknown label and unknown label value
// that expr refers to.
func (c metricCatalog) check(expr string) []error {
	refs, err := parsePromQL(expr)
	if err != nil {
		return []error{fmt.Errorf("parse %q: %w", expr, err)}
	}
	var errs []error
	inExpr := slices.Clone(targetLabels)
	for _, s := range refs.selectors {
		def, labels, ok := c.lookup(s.name)
		if !ok {
			errs = append(errs, fmt.Errorf("unknown metric %q", s.name))
			continue
		}
		inExpr = append(inExpr, labels...)
		for _, m := range s.matchers {
			if !slices.Contains(labels, m.label) {
				errs = append(errs, fmt.Errorf("%s has no label %q", s.name, m.label))
				continue
			}
			if err := checkLabelValue(def, m); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			}
		}
	}
	for _, l := range refs.grouping {
		if !slices.Contains(inExpr, l) {
			errs = append(errs, fmt.Errorf("grouping by %q, a label none of the expression's metrics has", l))
		}
	}
	return errs
}

// simpleAlternation matches a regular expression that is a plain list of
// alternatives, the only kind checked against known values.
var simpleAlternation = regexp.MustCompile(`^[a-z0-9_]+(\|[a-z0-9_]+)*$`)

// checkLabelValue checks a matcher on a label with known values.
func checkLabelValue(def metricDef, m matcher) error {
	known, ok := def.values[m.label]
	if !ok || strings.Contains(m.value, "$") {
		return nil
	}
	var values []string
	switch {
	case m.op == "=" || m.op == "!=":
		values = []string{m.value}
	case simpleAlternation.MatchString(m.value):
		values = strings.Split(m.value, "|")
	}
	for _, v := range values {
		if !slices.Contains(known, v) {
			return fmt.Errorf("label %s: unknown value %q (known: %s)", m.label, v, strings.Join(known, ", "))
		}
	}
	return nil
}

func TestParsePromQL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr      string
		selectors []string
		grouping  []string
		wantErr   bool
	}{
		{expr: `up`, selectors: []string{"up"}},
		{expr: `sum by (variant) (rate(tricycle_reviews_total{outcome="error", series_kind=~"production|canary"}[5m]))`,
			selectors: []string{`tricycle_reviews_total{outcome="error",series_kind=~"production|canary"}`}, grouping: []string{"variant"}},
		{expr: `histogram_quantile(0.95, sum without (pod) (rate(x_bucket[$__rate_interval])))`,
			selectors: []string{"x_bucket"}, grouping: []string{"pod"}},
		{expr: `a / on (ns) group_left (b) c > bool 0.5 and d offset 5m`, selectors: []string{"a", "c", "d"}, grouping: []string{"ns", "b"}},
		{expr: `label_replace(m{l="a\"b"}, "t", "$1", "l", "(.*)")`, selectors: []string{`m{l="a"b"}`}},
		{expr: "m{v=~\"$variant\"} # a comment naming not_a_metric\n", selectors: []string{`m{v=~"$variant"}`}},
		{expr: `1e3 + Inf - 2.5e-3`},
		{expr: `a * on (b) group_left c`, selectors: []string{"a", "c"}, grouping: []string{"b"}},
		{expr: `vector(1)`},
		{expr: `{__name__="x"}`, wantErr: true},
		{expr: `sum(rate(x[5m])`, wantErr: true},
		{expr: `x{a="b"`, wantErr: true},
		{expr: `x{a=b}`, wantErr: true},
		{expr: `x{a="b}`, wantErr: true},
	}
	for _, tc := range cases {
		refs, err := parsePromQL(tc.expr)
		if (err != nil) != tc.wantErr {
			t.Errorf("parsePromQL(%q) error = %v, want error %v", tc.expr, err, tc.wantErr)
			continue
		}
		if tc.wantErr {
			continue
		}
		var got []string
		for _, s := range refs.selectors {
			txt := s.name
			if len(s.matchers) > 0 {
				var ms []string
				for _, m := range s.matchers {
					ms = append(ms, fmt.Sprintf("%s%s%q", m.label, m.op, m.value))
				}
				txt += "{" + strings.ReplaceAll(strings.Join(ms, ","), `\"`, `"`) + "}"
			}
			got = append(got, txt)
		}
		if !slices.Equal(got, tc.selectors) {
			t.Errorf("parsePromQL(%q) selectors = %q, want %q", tc.expr, got, tc.selectors)
		}
		if !slices.Equal(refs.grouping, tc.grouping) {
			t.Errorf("parsePromQL(%q) grouping = %q, want %q", tc.expr, refs.grouping, tc.grouping)
		}
	}
}

func TestCatalogCheckCatchesMistakes(t *testing.T) {
	t.Parallel()
	c := newCatalog(map[string][]string{"tricycle:thing:rate5m": {"variant"}})
	cases := []struct {
		expr string
		want string // "" means no error
	}{
		{`sum by (variant) (rate(tricycle_reviews_total{outcome="error"}[5m]))`, ""},
		{`histogram_quantile(0.95, sum by (le) (rate(tricycle_review_latency_seconds_bucket{le="3"}[5m])))`, ""},
		{`rate(tricycle_review_latency_seconds_bucket{le="4"}[5m])`, `unknown value "4"`},
		{`sum by (variant) (rate(tricycle_review_latency_seconds_count[5m]))`, `grouping by "variant"`},
		{`tricycle:thing:rate5m{variant="x"} > 1`, ""},
		{`rate(tricycle_review_total[5m])`, `unknown metric "tricycle_review_total"`},
		{`rate(tricycle_reviews_total{result="error"}[5m])`, `has no label "result"`},
		{`rate(tricycle_gateway_probes_total{result="ok"}[5m])`, `unknown value "ok"`},
		{`rate(tricycle_reviews_total{outcome="failed"}[5m])`, `unknown value "failed"`},
		{`rate(tricycle_reviews_total{series_kind=~"production|experiment"}[5m])`, `unknown value "experiment"`},
		{`sum by (le) (rate(tricycle_review_latency_seconds_count[5m]))`, `grouping by "le"`},
		{`tricycle_review_latency_seconds`, `unknown metric`},
		{`sum by (model) (tricycle_cost_usd_total)`, `grouping by "model"`},
	}
	for _, tc := range cases {
		errs := c.check(tc.expr)
		switch {
		case tc.want == "" && len(errs) > 0:
			t.Errorf("check(%q) = %v, want no error", tc.expr, errs)
		case tc.want != "" && (len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), tc.want)):
			t.Errorf("check(%q) = %v, want an error containing %q", tc.expr, errs, tc.want)
		}
	}
}

// FuzzParsePromQL checks that the reader never panics and that every metric
// name it returns is a valid metric name.
func FuzzParsePromQL(f *testing.F) {
	for _, seed := range []string{
		`sum by (variant) (rate(tricycle_reviews_total{outcome="error"}[5m]))`,
		`histogram_quantile(0.95, sum by (le) (rate(x_bucket{a=~"$v"}[$__rate_interval])))`,
		`a / on (b) group_left c offset 1h`, `{`, `}`, `x{`, `"`, `${`, `x{a=`, `((`, `]`, `1e+`, "\xff",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		refs, err := parsePromQL(expr)
		if err != nil {
			return
		}
		for _, s := range refs.selectors {
			if !metricNameRE.MatchString(s.name) {
				t.Fatalf("parsePromQL(%q) returned metric name %q", expr, s.name)
			}
			for _, m := range s.matchers {
				if !metricNameRE.MatchString(m.label) {
					t.Fatalf("parsePromQL(%q) returned label %q", expr, m.label)
				}
			}
		}
	})
}

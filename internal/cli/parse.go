package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tricyclehq/tricycle/coordination"
)

// parseCriterion splits a --criterion value into its metric and expression.
// Accepted forms: "accuracy=> 90%", "accuracy => 90%", "accuracy>90%" and
// "accuracy: > 90%". The expression itself ("> 90%") is checked by the
// server, which names what is wrong with it.
func parseCriterion(s string) (metric, expr string, err error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && isMetricChar(t[i]) {
		i++
	}
	metric = t[:i]
	if metric == "" {
		return "", "", fmt.Errorf("criterion %q: must start with a metric name, as in 'accuracy=> 90%%'", s)
	}
	rest := strings.TrimSpace(t[i:])
	switch {
	case strings.HasPrefix(rest, ":"):
		rest = rest[1:]
	case strings.HasPrefix(rest, "=") && !strings.HasPrefix(rest, "=="):
		// "metric=> 90%": the '=' separates the metric from the expression,
		// unless what follows is not an operator at all ("metric=90%").
		if next := strings.TrimSpace(rest[1:]); next == "" || next[0] == '<' || next[0] == '>' {
			rest = next
		}
	}
	expr = strings.TrimSpace(rest)
	if expr == "" {
		return "", "", fmt.Errorf("criterion %q: missing the condition after %q, as in '%s=> 90%%'", s, metric, metric)
	}
	if expr[0] != '<' && expr[0] != '>' {
		return "", "", fmt.Errorf("criterion %q: the condition %q must start with >, >=, < or <=", s, expr)
	}
	return metric, expr, nil
}

func isMetricChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// parseCriteria parses repeated --criterion values into the API's
// success_criteria map, refusing a metric given twice.
func parseCriteria(values []string) (map[string]string, error) {
	out := make(map[string]string, len(values))
	for _, v := range values {
		m, e, err := parseCriterion(v)
		if err != nil {
			return nil, err
		}
		if prev, dup := out[m]; dup {
			return nil, fmt.Errorf("criterion %q: metric %q already has the criterion %q", v, m, prev)
		}
		out[m] = e
	}
	return out, nil
}

// parseMetric reads a --metric value "name=value" in base units (fractions,
// seconds, dollars); a value ending in '%' is a percentage (92% = 0.92).
func parseMetric(s string) (string, float64, error) {
	name, val, ok := strings.Cut(s, "=")
	name, val = strings.TrimSpace(name), strings.TrimSpace(val)
	if !ok || name == "" || val == "" {
		return "", 0, fmt.Errorf("metric %q: want name=value, as in accuracy=0.92", s)
	}
	for i := 0; i < len(name); i++ {
		if !isMetricChar(name[i]) {
			return "", 0, fmt.Errorf("metric %q: name %q may hold only letters, digits and '_'", s, name)
		}
	}
	scale := 1.0
	if p, isPct := strings.CutSuffix(val, "%"); isPct {
		val, scale = strings.TrimSpace(p), 0.01
	}
	v, err := strconv.ParseFloat(val, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return "", 0, fmt.Errorf("metric %q: value %q is not a finite number", s, val)
	}
	return name, v * scale, nil
}

// parseMetrics parses repeated --metric values, refusing a name given twice.
func parseMetrics(values []string) (map[string]float64, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := make(map[string]float64, len(values))
	for _, v := range values {
		name, x, err := parseMetric(v)
		if err != nil {
			return nil, err
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("metric %q given twice", name)
		}
		out[name] = x
	}
	return out, nil
}

// maxFileBytes bounds the files commands read (variants, experiments, diffs).
const maxFileBytes = 8 << 20

// readLimited reads at most maxFileBytes from r, naming what it read.
func readLimited(r io.Reader, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("read %s: larger than %d MiB", what, maxFileBytes>>20)
	}
	return data, nil
}

// parseVariant reads a variant in YAML or JSON (JSON is YAML). Unknown
// fields are refused, naming the line.
func parseVariant(data []byte) (coordination.Variant, error) {
	var v coordination.Variant
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return v, errors.New("variant file is empty")
		}
		return v, fmt.Errorf("variant: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return v, errors.New("variant: the file holds more than one document")
	}
	if err := v.Validate(); err != nil {
		return v, err
	}
	return v, nil
}

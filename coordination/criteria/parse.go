package criteria

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Limits on criterion text. Longer input is refused before it is read.
const (
	// MaxTextLen is the longest accepted expression, in bytes.
	MaxTextLen = 64
	// MaxMetricLen is the longest accepted metric name, in bytes.
	MaxMetricLen = 64
	// maxNumberLen keeps the canonical text within MaxTextLen.
	maxNumberLen = 32
)

// ParseError reports a criterion that could not be parsed. Error points at
// the offending text, e.g.
//
//	criterion "latency_p95": "< 3 parsecs": unknown unit "parsecs" at column 5
type ParseError struct {
	// Metric is the metric name as given (shortened when very long).
	Metric string
	// Text is the expression as given (shortened when very long).
	Text string
	// Pos is the 1-based byte column in Text where the problem starts, or 0
	// when the problem is not at a position (an unknown metric).
	Pos int
	// Reason says what is wrong.
	Reason string
	// Hint, when set, says how to write it instead.
	Hint string
}

// Error returns the message, naming the metric, the text and the column.
func (e *ParseError) Error() string {
	msg := fmt.Sprintf("criterion %q: %q: %s", e.Metric, e.Text, e.Reason)
	if e.Pos > 0 {
		msg += fmt.Sprintf(" at column %d", e.Pos)
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// shorten clips s for display in an error.
func shorten(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}

// Parse parses one criterion, metric → expr, e.g. ("accuracy", "> 90%").
//
// The expression is an operator (>, >=, <, <=), a non-negative number and a
// unit, with any spaces between them: "> 90%", ">=0.9", "< 3s", "< 3000ms",
// "< $0.15". The unit must fit the metric: % or none for proportions and
// relative metrics (a plain number is a fraction in [0, 1], a percentage
// lies in [0, 100]), s or ms for latencies, $ or none for cost. The threshold
// is stored in base units. Any problem is reported as a *ParseError.
func Parse(metric, expr string) (Criterion, error) {
	fail := func(pos int, hint, format string, args ...any) (Criterion, error) {
		return Criterion{}, &ParseError{
			Metric: shorten(metric, MaxMetricLen),
			Text:   shorten(expr, MaxTextLen),
			Pos:    pos,
			Reason: fmt.Sprintf(format, args...),
			Hint:   hint,
		}
	}
	if metric == "" {
		return fail(0, "known metrics: "+metricNames(), "missing metric name")
	}
	if len(metric) > MaxMetricLen {
		return fail(0, "", "metric name is %d bytes long, at most %d allowed", len(metric), MaxMetricLen)
	}
	info, ok := Lookup(metric)
	if !ok {
		return fail(0, "known metrics: "+metricNames(), "unknown metric %q", metric)
	}
	if len(expr) > MaxTextLen {
		return fail(MaxTextLen+1, "", "text is %d bytes long, at most %d allowed", len(expr), MaxTextLen)
	}

	s := scanner{text: expr}
	s.skipSpace()
	if s.done() {
		return fail(s.col(), `want an operator and a value, e.g. "> 90%"`, "empty criterion")
	}

	// Operator.
	opStart := s.pos
	run := s.takeWhile(isOpChar)
	op := Op(run)
	if run == "" {
		return fail(s.col(), "start with >, >=, < or <=", "missing operator")
	}
	if !op.Valid() {
		return fail(opStart+1, "use >, >=, < or <=", "unknown operator %q", run)
	}
	s.skipSpace()

	// Optional dollar prefix, then the number.
	dollar := s.peek() == '$'
	if dollar {
		s.pos++
		s.skipSpace()
	}
	numStart := s.pos
	switch c := s.peek(); {
	case s.done():
		return fail(s.col(), "", "missing number after %q", run)
	case c == '-':
		return fail(s.col(), "", "negative values are not allowed")
	case c == '+':
		return fail(s.col(), "write the number alone", "unexpected sign \"+\"")
	case isLetter(c):
		word := s.takeWhile(isLetter)
		switch strings.ToLower(word) {
		case "nan", "inf", "infinity":
			return fail(numStart+1, "", "value must be a finite number, not %q", word)
		}
		return fail(numStart+1, "", "missing number: found %q", shorten(word, 16))
	}
	num := s.takeWhile(isNumberChar)
	switch {
	case strings.Trim(num, ".") == "":
		return fail(numStart+1, "", "missing number: found %q", shorten(s.text[numStart:], 16))
	case strings.Count(num, ".") > 1:
		return fail(numStart+1, "", "malformed number %q", shorten(num, 16))
	case len(num) > maxNumberLen:
		return fail(numStart+1, "", "number is %d characters long, at most %d allowed", len(num), maxNumberLen)
	}
	value, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(value, 0) || math.IsNaN(value) {
		return fail(numStart+1, "", "malformed number %q", num)
	}
	s.skipSpace()

	// Unit suffix.
	unitStart := s.pos
	unit := UnitNone
	switch c := s.peek(); {
	case s.done():
	case c == '%':
		s.pos++
		unit = UnitPercent
	case c == '$':
		return fail(unitStart+1, `write it before the number, e.g. "< $0.15"`, "misplaced $")
	case isLetter(c):
		word := s.takeWhile(isLetter)
		switch strings.ToLower(word) {
		case "s":
			unit = UnitSeconds
		case "ms":
			unit = UnitMillis
		default:
			return fail(unitStart+1, "use "+unitHint(info.Kind), "unknown unit %q", shorten(word, 16))
		}
	}
	s.skipSpace()
	if !s.done() {
		return fail(s.col(), "", "unexpected %q after the value", shorten(s.rest(), 16))
	}
	if dollar {
		if unit != UnitNone {
			return fail(unitStart+1, "", "a $ amount takes no other unit")
		}
		unit = UnitDollars
	}

	threshold, reason, hint, atUnit := convert(info, unit, value)
	if reason != "" {
		pos := numStart + 1
		if atUnit {
			pos = unitStart + 1
			if unit == UnitDollars {
				pos = opEnd(expr, numStart)
			}
		}
		return fail(pos, hint, "%s", reason)
	}
	return Criterion{Metric: metric, Op: op, Threshold: threshold, Unit: unit, Raw: expr}, nil
}

// opEnd returns the 1-based column of the $ sign before numStart.
func opEnd(expr string, numStart int) int {
	return strings.LastIndexByte(expr[:numStart], '$') + 1
}

// convert checks that the unit fits the metric and the value its range, and
// returns the threshold in base units, or a reason for refusing it with a
// hint and whether the reason concerns the unit (rather than the number).
func convert(info MetricInfo, unit Unit, value float64) (threshold float64, reason, hint string, atUnit bool) {
	if !slices.Contains(info.Kind.Units(), unit) {
		if info.Kind == KindDuration && unit == UnitNone {
			return 0, "a duration needs a unit", fmt.Sprintf("write %gs or %gms", value, value), true
		}
		return 0, fmt.Sprintf("unit %q does not fit %s (%s)", unitName(unit), info.Name, info.Kind.phrase()),
			"use " + unitHint(info.Kind), true
	}
	switch {
	case unit == UnitPercent && value > 100:
		return 0, fmt.Sprintf("percentage %g%% is outside 0%%–100%%", value), "", false
	case unit == UnitNone && (info.Kind == KindProportion || info.Kind == KindRelative) && value > 1:
		return 0, fmt.Sprintf("plain value %g is a fraction and must be within [0, 1]", value),
			fmt.Sprintf("write %g%% or %g", value, value/100), false
	}
	return unit.fromUnit(value), "", "", false
}

// unitName returns how a unit is written in messages.
func unitName(u Unit) string {
	if u == UnitNone {
		return "none"
	}
	return string(u)
}

// unitHint says which units fit a kind of metric.
func unitHint(k Kind) string {
	switch k {
	case KindProportion, KindRelative:
		return `% or a plain fraction, e.g. "> 90%" or "> 0.9"`
	case KindDuration:
		return `s or ms, e.g. "< 3s" or "< 3000ms"`
	case KindDollars:
		return `a $ prefix or a plain number of dollars, e.g. "< $0.15"`
	}
	return "a unit that fits the metric"
}

// ParseSet parses a whole map of success criteria, metric → expression, and
// returns them sorted by metric. Every bad criterion is reported: the error
// joins one *ParseError per bad entry, in metric order.
func ParseSet(m map[string]string) ([]Criterion, error) {
	metrics := make([]string, 0, len(m))
	for metric := range m {
		metrics = append(metrics, metric)
	}
	slices.Sort(metrics)
	out := make([]Criterion, 0, len(m))
	var errs []error
	for _, metric := range metrics {
		c, err := Parse(metric, m[metric])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// scanner walks the bytes of an expression.
type scanner struct {
	text string
	pos  int
}

func (s *scanner) done() bool   { return s.pos >= len(s.text) }
func (s *scanner) col() int     { return s.pos + 1 }
func (s *scanner) rest() string { return s.text[s.pos:] }

// peek returns the current byte, or 0 at the end.
func (s *scanner) peek() byte {
	if s.done() {
		return 0
	}
	return s.text[s.pos]
}

func (s *scanner) skipSpace() {
	for !s.done() && (s.text[s.pos] == ' ' || s.text[s.pos] == '\t') {
		s.pos++
	}
}

// takeWhile consumes and returns the longest run of bytes satisfying ok.
func (s *scanner) takeWhile(ok func(byte) bool) string {
	start := s.pos
	for !s.done() && ok(s.text[s.pos]) {
		s.pos++
	}
	return s.text[start:s.pos]
}

func isOpChar(c byte) bool     { return c == '<' || c == '>' || c == '=' || c == '!' }
func isLetter(c byte) bool     { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isNumberChar(c byte) bool { return c >= '0' && c <= '9' || c == '.' }

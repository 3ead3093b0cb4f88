package criteria

import (
	"math"
	"strconv"
	"strings"
)

// Op is a comparison operator of a criterion.
type Op string

// The comparison operators.
const (
	// OpGreater passes values strictly above the threshold.
	OpGreater Op = ">"
	// OpGreaterEqual passes values at or above the threshold.
	OpGreaterEqual Op = ">="
	// OpLess passes values strictly below the threshold.
	OpLess Op = "<"
	// OpLessEqual passes values at or below the threshold.
	OpLessEqual Op = "<="
)

// Ops returns every operator.
func Ops() []Op { return []Op{OpGreater, OpGreaterEqual, OpLess, OpLessEqual} }

// Valid reports whether o is one of the four operators.
func (o Op) Valid() bool {
	switch o {
	case OpGreater, OpGreaterEqual, OpLess, OpLessEqual:
		return true
	}
	return false
}

// Upward reports whether larger values pass (> and >=).
func (o Op) Upward() bool { return o == OpGreater || o == OpGreaterEqual }

// Strict reports whether the threshold itself fails (> and <).
func (o Op) Strict() bool { return o == OpGreater || o == OpLess }

// Unit is the unit a criterion's threshold was written in. Thresholds are
// always stored in base units (fractions, seconds, dollars); the unit only
// decides how the criterion is written back.
type Unit string

// The units.
const (
	// UnitNone is a plain number in the metric's base unit.
	UnitNone Unit = ""
	// UnitPercent is a percentage: 90% is the fraction 0.90.
	UnitPercent Unit = "%"
	// UnitSeconds is seconds.
	UnitSeconds Unit = "s"
	// UnitMillis is milliseconds: 3000ms is 3 seconds.
	UnitMillis Unit = "ms"
	// UnitDollars is US dollars, written as a prefix: $0.15.
	UnitDollars Unit = "$"
)

// toUnit converts a base-unit value to u.
func (u Unit) toUnit(v float64) float64 {
	switch u {
	case UnitPercent:
		return v * 100
	case UnitMillis:
		return v * 1000
	}
	return v
}

// fromUnit converts a value written in u to base units.
func (u Unit) fromUnit(x float64) float64 {
	switch u {
	case UnitPercent:
		return x / 100
	case UnitMillis:
		return x / 1000
	}
	return x
}

// write returns the number text decorated with the unit.
func (u Unit) write(num string) string {
	if u == UnitDollars {
		return "$" + num
	}
	return num + string(u)
}

// Criterion is one parsed success criterion: the metric must compare to the
// threshold with the operator.
type Criterion struct {
	// Metric is a known metric name.
	Metric string
	// Op is the comparison.
	Op Op
	// Threshold is in the metric's base unit: a fraction, seconds or dollars.
	Threshold float64
	// Unit is the unit the threshold was written in.
	Unit Unit
	// Raw is the text the criterion was parsed from.
	Raw string
}

// Met reports whether the value v, in base units, satisfies the criterion.
// NaN never does.
func (c Criterion) Met(v float64) bool {
	switch c.Op {
	case OpGreater:
		return v > c.Threshold
	case OpGreaterEqual:
		return v >= c.Threshold
	case OpLess:
		return v < c.Threshold
	case OpLessEqual:
		return v <= c.Threshold
	}
	return false
}

// HigherIsBetter reports whether larger values pass, from the operator:
// > and >= mean higher passes.
func (c Criterion) HigherIsBetter() bool { return c.Op.Upward() }

// Expr returns the canonical expression without the metric, e.g. "> 90%".
// It parses back to an equal criterion.
func (c Criterion) Expr() string {
	return string(c.Op) + " " + c.Unit.write(formatExact(c.Threshold, c.Unit))
}

// String returns the canonical text, e.g. "accuracy > 90%".
func (c Criterion) String() string { return c.Metric + " " + c.Expr() }

// Format writes a base-unit value in the criterion's unit with about four
// significant digits, for explanations: 0.9123 as "91.23%" for a percentage
// criterion, 2.5 as "2500ms" for a millisecond one.
func (c Criterion) Format(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	x := c.Unit.toUnit(v)
	neg := x < 0
	if neg {
		x = -x
	}
	num := roundedDecimal(x, 4)
	if neg {
		num = "-" + num
	}
	return c.Unit.write(num)
}

// roundedDecimal writes x >= 0 with sig significant digits (at least the
// integer part) and no exponent, trimming trailing zeros.
func roundedDecimal(x float64, sig int) string {
	if x == 0 {
		return "0"
	}
	decimals := sig - 1 - int(math.Floor(math.Log10(x)))
	decimals = max(0, min(decimals, 12))
	s := strconv.FormatFloat(x, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// formatExact returns the shortest plain decimal (no exponent) that, read
// in unit u, gives exactly the base-unit value v, so a criterion written
// back parses to the same threshold.
func formatExact(v float64, u Unit) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	x := u.toUnit(v)
	roundTrips := func(s string) bool {
		y, err := strconv.ParseFloat(s, 64)
		return err == nil && u.fromUnit(y) == v
	}
	for prec := 1; prec <= 17; prec++ {
		y, err := strconv.ParseFloat(strconv.FormatFloat(x, 'e', prec-1, 64), 64)
		if err != nil {
			break
		}
		if s := strconv.FormatFloat(y, 'f', -1, 64); roundTrips(s) {
			return s
		}
	}
	// The scaled value can be an ulp or two away from every float that
	// maps back to v; try the neighbours.
	up, down := x, x
	for range 4 {
		up, down = math.Nextafter(up, math.Inf(1)), math.Nextafter(down, math.Inf(-1))
		for _, y := range []float64{up, down} {
			if s := strconv.FormatFloat(y, 'f', -1, 64); roundTrips(s) {
				return s
			}
		}
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

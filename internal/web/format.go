package web

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tricyclehq/tricycle/coordination/criteria"
)

// fmtTime writes an instant in UTC to the minute; the zero time is a dash.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// fmtDate writes the day of an instant in UTC.
func fmtDate(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02")
}

// fmtAgo writes how long before now t was ("3h 5m ago", or "in …").
func fmtAgo(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if t.After(now) {
		return "in " + fmtDuration(t.Sub(now))
	}
	return fmtDuration(now.Sub(t)) + " ago"
}

// fmtUntil writes how long until t ("in 89d 23h", or "overdue by …").
func fmtUntil(now, t time.Time) string {
	switch {
	case t.IsZero():
		return ""
	case t.After(now):
		return "in " + fmtDuration(t.Sub(now))
	case t.Equal(now):
		return "due now"
	}
	return "overdue by " + fmtDuration(now.Sub(t))
}

// fmtDuration writes d in days, hours, minutes and seconds, at most three
// units starting at the largest non-zero one, without trailing zero units:
// "1d 19h", "3d 0h 10m", "12m 5s", "45s". It truncates to the second.
func fmtDuration(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d <= 0 {
		return "0s"
	}
	units := []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	var parts []string
	for _, u := range units {
		n := d / u.size
		d -= n * u.size
		if len(parts) == 0 && n == 0 {
			continue
		}
		parts = append(parts, strconv.FormatInt(int64(n), 10)+u.name)
		if len(parts) == 3 {
			break
		}
	}
	for len(parts) > 1 && strings.HasPrefix(parts[len(parts)-1], "0") {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, " ")
}

// fmtNumber writes v with about three significant digits and no trailing
// zeros: 75, 3.12, 0.005.
func fmtNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	a := math.Abs(v)
	decimals := 0
	switch {
	case a == 0 || a >= 100:
		decimals = 0
	case a >= 10:
		decimals = 1
	case a >= 1:
		decimals = 2
	default:
		decimals = min(12, 2-int(math.Floor(math.Log10(a))))
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// fmtPercent writes a fraction as a percentage: 0.75 as "75%".
func fmtPercent(f float64) string { return fmtNumber(100*f) + "%" }

// fmtSeconds writes a latency: below a second in milliseconds.
func fmtSeconds(v float64) string {
	if v != 0 && math.Abs(v) < 1 {
		return fmtNumber(1000*v) + " ms"
	}
	return fmtNumber(v) + " s"
}

// fmtDollars writes an amount in US dollars: "$0.0123", "$12.3".
func fmtDollars(v float64) string {
	if v < 0 {
		return "-$" + fmtNumber(-v)
	}
	return "$" + fmtNumber(v)
}

// fmtMetric writes a value of a named metric in its natural unit: latency in
// seconds, cost in dollars, rates and utilisation as percentages.
func fmtMetric(metric string, v float64) string {
	switch {
	case strings.HasPrefix(metric, "latency_p"):
		return fmtSeconds(v)
	case strings.HasPrefix(metric, "cost_per"):
		return fmtDollars(v)
	case strings.HasSuffix(metric, "_rate"), strings.HasSuffix(metric, "_reduction"), strings.HasSuffix(metric, "_utilization"),
		metric == "accuracy", metric == "precision", metric == "recall", metric == "agreement":
		return fmtPercent(v)
	}
	return fmtNumber(v)
}

// fmtCriterion writes a value in its criterion's unit when the criterion
// is known, else in the metric's natural unit.
func fmtCriterion(c criteria.Criterion, known bool, metric string, v float64) string {
	if known {
		return c.Format(v)
	}
	return fmtMetric(metric, v)
}

// shorten cuts s to n runes with an ellipsis.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// Package report writes the benchmark programs' results: Markdown tables,
// summary statistics over runs (quantiles that treat a run that never
// reached its event as +Inf, Wilson intervals for rates) and result files.
package report

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// Table is a Markdown table. Cells are escaped when written, so any text is
// safe in them.
type Table struct {
	// Header names the columns; every row is padded or cut to its length.
	Header []string
	// Right marks the columns to right-align (numbers); it may be shorter
	// than Header.
	Right []bool
	// Rows holds the cells, row by row.
	Rows [][]string
}

// AddRow appends one row.
func (t *Table) AddRow(cells ...string) { t.Rows = append(t.Rows, cells) }

// Markdown returns the table in GitHub Markdown, one line per row, ending
// with a newline. A table without columns is empty.
func (t *Table) Markdown() string {
	if len(t.Header) == 0 {
		return ""
	}
	var b strings.Builder
	writeRow := func(cells []string) {
		b.WriteString("|")
		for i := range t.Header {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			b.WriteString(" " + EscapeCell(c) + " |")
		}
		b.WriteString("\n")
	}
	writeRow(t.Header)
	b.WriteString("|")
	for i := range t.Header {
		if i < len(t.Right) && t.Right[i] {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		writeRow(r)
	}
	return b.String()
}

// EscapeCell makes s safe inside one Markdown table cell: pipes are
// escaped, line breaks become spaces and an empty cell stays empty.
func EscapeCell(s string) string {
	s = strings.ReplaceAll(s, "\\", "\\\\")
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	return strings.TrimSpace(s)
}

// Quantile returns the q-quantile (nearest rank, q in [0, 1]) of xs; +Inf
// values count as larger than every finite value, so the quantile of runs
// in which an event never happened is +Inf once they make up more than
// 1-q of the runs. It returns NaN for an empty slice.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(len(s)-1, rank))]
}

// Wilson returns the 95% Wilson score interval for k successes in n trials,
// as fractions; n = 0 gives [0, 1].
func Wilson(k, n int) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	const z = 1.959963984540054
	p := float64(k) / float64(n)
	fn := float64(n)
	denom := 1 + z*z/fn
	center := (p + z*z/(2*fn)) / denom
	half := z * math.Sqrt(p*(1-p)/fn+z*z/(4*fn*fn)) / denom
	return math.Max(0, center-half), math.Min(1, center+half)
}

// Rate formats k of n as a percentage with its 95% Wilson interval, e.g.
// "0.4% (0.2–0.9%)".
func Rate(k, n int) string {
	if n == 0 {
		return "n/a"
	}
	lo, hi := Wilson(k, n)
	return fmt.Sprintf("%s (%s–%s)", Percent(float64(k)/float64(n)), Percent(lo), Percent(hi))
}

// Percent formats a fraction as a percentage with up to one decimal.
func Percent(x float64) string {
	switch {
	case math.IsNaN(x):
		return "n/a"
	case x == 0:
		return "0%"
	case x >= 0.1 || x == 1:
		return fmt.Sprintf("%.0f%%", 100*x)
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}

// Count formats a value that is +Inf when the event never happened:
// "> capText" then, otherwise the value with the given number of decimals.
func Count(x float64, decimals int, capText string) string {
	switch {
	case math.IsNaN(x):
		return "n/a"
	case math.IsInf(x, 1):
		return "> " + capText
	}
	return fmt.Sprintf("%.*f", decimals, x)
}

// WriteFile writes data to path, creating its directory; it writes nothing
// once ctx is done.
func WriteFile(ctx context.Context, path string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create results directory: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Machine describes the machine the results come from: CPU count and model
// (from /proc/cpuinfo where there is one), platform and Go version.
func Machine() string {
	return fmt.Sprintf("%d CPUs (%s), %s/%s, %s", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// cpuModel returns the CPU model named in /proc/cpuinfo, or "unknown CPU".
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

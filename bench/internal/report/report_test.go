package report

import (
	"math"
	"strings"
	"testing"
)

func TestMarkdownShapesEveryRowLikeTheHeader(t *testing.T) {
	t.Parallel()
	tb := Table{Header: []string{"scenario", "median s"}, Right: []bool{false, true}}
	tb.AddRow("a|b", "1.5")
	tb.AddRow("short")
	tb.AddRow("x", "2", "extra")
	got := tb.Markdown()
	want := "| scenario | median s |\n|---|---:|\n| a\\|b | 1.5 |\n| short |  |\n| x | 2 |\n"
	if got != want {
		t.Fatalf("Markdown() =\n%s\nwant\n%s", got, want)
	}
}

func TestQuantileTreatsInfAsLargest(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	cases := []struct {
		xs   []float64
		q    float64
		want float64
	}{
		{[]float64{3, 1, 2}, 0.5, 2},
		{[]float64{1, 2, 3, 4}, 0.9, 4},
		{[]float64{1, inf, inf}, 0.5, inf},
		{[]float64{1, 2, inf}, 0.5, 2},
		{[]float64{5}, 0, 5},
	}
	for _, c := range cases {
		if got := Quantile(c.xs, c.q); got != c.want {
			t.Errorf("Quantile(%v, %v) = %v, want %v", c.xs, c.q, got, c.want)
		}
	}
	if !math.IsNaN(Quantile(nil, 0.5)) {
		t.Error("Quantile of nothing is not NaN")
	}
}

func TestWilsonCoversTheRate(t *testing.T) {
	t.Parallel()
	lo, hi := Wilson(5, 1000)
	if !(lo < 0.005 && 0.005 < hi) || lo < 0.001 || hi > 0.013 {
		t.Fatalf("Wilson(5, 1000) = [%v, %v], want about [0.002, 0.012]", lo, hi)
	}
	if lo, hi := Wilson(0, 1000); lo != 0 || hi > 0.005 {
		t.Fatalf("Wilson(0, 1000) = [%v, %v], want [0, < 0.5%%]", lo, hi)
	}
	if got := Rate(0, 0); got != "n/a" {
		t.Fatalf("Rate(0, 0) = %q", got)
	}
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		Percent(0.004):                  "0.4%",
		Percent(0.25):                   "25%",
		Percent(0):                      "0%",
		Count(math.Inf(1), 0, "30 min"): "> 30 min",
		Count(12.345, 1, ""):            "12.3",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func FuzzEscapeCellKeepsOneCell(f *testing.F) {
	for _, s := range []string{"", "plain", "a|b", "line\nbreak", "\\|", "\r\n|\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tb := Table{Header: []string{"a", "b"}}
		tb.AddRow(s, "x")
		lines := strings.Split(strings.TrimSuffix(tb.Markdown(), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("cell %q produced %d lines", s, len(lines))
		}
		// Unescaped pipes delimit cells: a row of two cells has three.
		row := lines[2]
		unescaped := 0
		for i := 0; i < len(row); i++ {
			switch row[i] {
			case '\\':
				i++
			case '|':
				unescaped++
			}
		}
		if unescaped != 3 {
			t.Fatalf("cell %q produced row %q with %d cell delimiters", s, row, unescaped)
		}
	})
}

package svgplot

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

// wellFormed parses data as XML and returns the first error.
func wellFormed(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func TestChartDrawsSeriesLegendAndEscapedText(t *testing.T) {
	t.Parallel()
	c := New("Time <to> rollback & more", "scenario", "seconds")
	c.LogY = true
	c.XTicks = []Tick{{0, "2%→20%"}, {1, "p95 +50%"}}
	c.RotateX = true
	c.HLines = []HLine{{Y: 15, Label: "goal 15 s"}}
	c.Series = []Series{
		{Name: "tricycle", Marker: Circle, Points: []Point{{X: 0, Y: 8, Low: 6, High: 11}, P(1, math.Inf(1))}},
		{Name: "flagger", Marker: Square, Line: true, Dash: true, Points: []Point{P(0, 360), P(1, 600)}},
		{Marker: Triangle, Points: []Point{{X: 1, Y: 1800, Low: math.NaN(), High: math.NaN(), Hollow: true}}},
	}
	svg := c.SVG()
	if err := wellFormed(svg); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, svg)
	}
	s := string(svg)
	for _, want := range []string{"Time &lt;to&gt; rollback &amp; more", "tricycle", "flagger", "goal 15 s", "<circle", "<rect x=", "<polygon", "stroke-dasharray"} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
		t.Error("SVG contains NaN or Inf coordinates")
	}
}

func TestLogAxisSkipsNonPositivePoints(t *testing.T) {
	t.Parallel()
	c := New("t", "x", "y")
	c.LogY = true
	c.Series = []Series{{Name: "s", Line: true, Marker: Circle, Points: []Point{P(0, 0), P(1, -3), P(2, 10), P(3, 100)}}}
	s := string(c.SVG())
	if got := strings.Count(s, "<circle"); got != 3 { // two points plus the legend marker
		t.Fatalf("drew %d circles, want 3 (two drawable points and the legend)", got)
	}
}

func TestTickLabelsAreShort(t *testing.T) {
	t.Parallel()
	cases := map[float64]string{0.1 + 0.2: "0.3", 20000: "20000", 0: "0", 1e-4: "0.0001", 2.5e7: "2.5e+07"}
	for v, want := range cases {
		if got := formatTick(v); got != want {
			t.Errorf("formatTick(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestNiceTicksCoverTheRange(t *testing.T) {
	t.Parallel()
	ticks := niceTicks(0, 365, 8)
	if len(ticks) < 4 || ticks[0] != 0 || ticks[len(ticks)-1] > 365 {
		t.Fatalf("niceTicks(0, 365) = %v", ticks)
	}
	for i := 1; i < len(ticks); i++ {
		if ticks[i] <= ticks[i-1] {
			t.Fatalf("ticks not increasing: %v", ticks)
		}
	}
}

func FuzzChartIsWellFormed(f *testing.F) {
	f.Add("title", "series", 1.0, 2.0, false)
	f.Add("<&>\"'", "\x00\xff", math.NaN(), math.Inf(1), true)
	f.Add("", "", -1.0, 0.0, true)
	f.Fuzz(func(t *testing.T, title, name string, x, y float64, logY bool) {
		c := New(title, name, name)
		c.LogY = logY
		c.XTicks = []Tick{{Value: x, Label: name}}
		c.HLines = []HLine{{Y: y, Label: title}}
		c.Series = []Series{{Name: name, Line: true, Marker: Diamond, Points: []Point{{X: x, Y: y, Low: y / 2, High: y * 2}, P(x+1, y+1)}}}
		svg := c.SVG()
		if err := wellFormed(svg); err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if bytes.Contains(svg, []byte("NaN")) || bytes.Contains(svg, []byte("Inf")) {
			t.Fatalf("NaN or Inf in output:\n%s", svg)
		}
	})
}

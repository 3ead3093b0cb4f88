// Package svgplot draws the benchmark programs' charts as standalone SVG:
// line and marker series over a linear or logarithmic y axis, optional
// whiskers (an interval around each point), categorical x labels and
// horizontal reference lines. Text is escaped, so any titles and names are
// safe; points that cannot be drawn (NaN, infinite, or not positive on a
// logarithmic axis) are skipped.
package svgplot

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Marker is the shape drawn at each point of a series.
type Marker int

// The markers.
const (
	// NoMarker draws no shape (lines only).
	NoMarker Marker = iota
	// Circle draws a circle.
	Circle
	// Square draws a square.
	Square
	// Triangle draws an upward triangle.
	Triangle
	// Diamond draws a diamond.
	Diamond
)

// Point is one data point. Low and High, when both are finite, draw a
// whisker from Low to High; Hollow draws the marker unfilled (for example
// for a value censored at a cap).
type Point struct {
	X, Y      float64
	Low, High float64
	Hollow    bool
}

// P returns a point without a whisker.
func P(x, y float64) Point { return Point{X: x, Y: y, Low: math.NaN(), High: math.NaN()} }

// Series is one named set of points.
type Series struct {
	Name   string
	Points []Point
	// Line joins consecutive points; Dash draws the line dashed.
	Line, Dash bool
	Marker     Marker
	// Color is a CSS colour; empty picks one from the palette.
	Color string
}

// Tick is a labelled position on the x axis.
type Tick struct {
	Value float64
	Label string
}

// HLine is a horizontal reference line with a label.
type HLine struct {
	Y     float64
	Label string
}

// Chart is one plot.
type Chart struct {
	Title, XLabel, YLabel string
	// Width and Height are in pixels (defaults 900 × 500).
	Width, Height int
	// LogY selects a base-10 logarithmic y axis.
	LogY bool
	// YMin and YMax fix the y range when they are finite (NaN: fit the data).
	YMin, YMax float64
	// XTicks replaces the automatic x ticks with labelled positions; the
	// labels are drawn slanted when RotateX is set.
	XTicks  []Tick
	RotateX bool
	Series  []Series
	HLines  []HLine
}

// palette holds distinguishable colours for series without one.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"}

// New returns a chart with default size and a fitted y range.
func New(title, xLabel, yLabel string) *Chart {
	return &Chart{Title: title, XLabel: xLabel, YLabel: yLabel, YMin: math.NaN(), YMax: math.NaN()}
}

// layout is the plot area inside the margins and the data ranges.
type layout struct {
	left, right, top, bottom float64
	x0, x1, y0, y1           float64
	logY                     bool
}

func (l layout) px(x float64) float64 {
	if l.x1 == l.x0 {
		return (l.left + l.right) / 2
	}
	return l.left + (x-l.x0)/(l.x1-l.x0)*(l.right-l.left)
}

func (l layout) py(y float64) float64 {
	a, b, v := l.y0, l.y1, y
	if l.logY {
		a, b, v = math.Log10(a), math.Log10(b), math.Log10(y)
	}
	if b == a {
		return (l.top + l.bottom) / 2
	}
	return l.bottom - (v-a)/(b-a)*(l.bottom-l.top)
}

// drawable reports whether y can be placed on the axis.
func (c *Chart) drawable(y float64) bool {
	return !math.IsNaN(y) && !math.IsInf(y, 0) && (!c.LogY || y > 0)
}

// SVG renders the chart.
func (c *Chart) SVG() []byte {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 900
	}
	if h <= 0 {
		h = 500
	}
	// Slanted labels hang below and to the left of their ticks: make room
	// for the longest (about 6.5 px a character at 11 px).
	bottomMargin, leftMargin := 60.0, 80.0
	if c.RotateX {
		longest := 0
		for _, t := range c.XTicks {
			longest = max(longest, utf8.RuneCountInString(t.Label))
		}
		extent := 6.5 * float64(longest)
		bottomMargin = 45 + extent*math.Sin(35*math.Pi/180)
		leftMargin = math.Max(leftMargin, extent*math.Cos(35*math.Pi/180)-20)
	}
	legendRows := 0
	for _, s := range c.Series {
		if s.Name != "" {
			legendRows++
		}
	}
	legendH := float64((legendRows+2)/3) * 18
	l := layout{left: leftMargin, right: float64(w) - 20, top: 40 + legendH, bottom: float64(h) - bottomMargin, logY: c.LogY}
	l.x0, l.x1, l.y0, l.y1 = c.ranges()

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	text(&b, float64(w)/2, 20, "middle", 15, c.Title, 0)

	// Y grid and ticks.
	for _, t := range c.yTicks(l) {
		y := l.py(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", l.left, y, l.right, y)
		text(&b, l.left-6, y+4, "end", 11, formatTick(t), 0)
	}
	// X ticks.
	ticks := c.XTicks
	if len(ticks) == 0 {
		for _, v := range niceTicks(l.x0, l.x1, 8) {
			ticks = append(ticks, Tick{Value: v, Label: formatTick(v)})
		}
	}
	for _, t := range ticks {
		if !(t.Value >= l.x0 && t.Value <= l.x1) {
			continue
		}
		x := l.px(t.Value)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999"/>`+"\n", x, l.bottom, x, l.bottom+5)
		if c.RotateX {
			text(&b, x, l.bottom+14, "end", 11, t.Label, -35)
		} else {
			text(&b, x, l.bottom+18, "middle", 11, t.Label, 0)
		}
	}
	// Axes.
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", l.left, l.bottom, l.right, l.bottom)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", l.left, l.top, l.left, l.bottom)
	text(&b, (l.left+l.right)/2, float64(h)-10, "middle", 12, c.XLabel, 0)
	fmt.Fprintf(&b, `<text x="16" y="%.1f" text-anchor="middle" font-size="12" transform="rotate(-90 16 %.1f)">%s</text>`+"\n",
		(l.top+l.bottom)/2, (l.top+l.bottom)/2, escape(c.YLabel))

	for _, hl := range c.HLines {
		if !c.drawable(hl.Y) || hl.Y < l.y0 || hl.Y > l.y1 {
			continue
		}
		y := l.py(hl.Y)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#555" stroke-dasharray="2,3"/>`+"\n", l.left, y, l.right, y)
		text(&b, l.right-4, y-4, "end", 10, hl.Label, 0)
	}

	for i, s := range c.Series {
		color := s.Color
		if color == "" {
			color = palette[i%len(palette)]
		}
		c.drawSeries(&b, l, s, color)
		if s.Name != "" {
			c.drawLegend(&b, l, i, s, color)
		}
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// legendIndex counts named series before i, so unnamed ones leave no gap.
func (c *Chart) legendIndex(i int) int {
	n := 0
	for j := 0; j < i; j++ {
		if c.Series[j].Name != "" {
			n++
		}
	}
	return n
}

func (c *Chart) drawLegend(b *bytes.Buffer, l layout, i int, s Series, color string) {
	k := c.legendIndex(i)
	colW := (l.right - l.left) / 3
	x := l.left + float64(k%3)*colW
	y := 34 + float64(k/3)*18
	if s.Line {
		dash := ""
		if s.Dash {
			dash = ` stroke-dasharray="6,4"`
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", x, y, x+22, y, color, dash)
	}
	if s.Marker != NoMarker {
		marker(b, s.Marker, x+11, y, color, false)
	}
	text(b, x+28, y+4, "start", 11, s.Name, 0)
}

func (c *Chart) drawSeries(b *bytes.Buffer, l layout, s Series, color string) {
	if s.Line {
		var path bytes.Buffer
		pen := false
		for _, p := range s.Points {
			if !c.drawable(p.Y) || math.IsNaN(p.X) || math.IsInf(p.X, 0) {
				pen = false
				continue
			}
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f,%.1f ", cmd, l.px(p.X), l.py(clamp(p.Y, l.y0, l.y1)))
			pen = true
		}
		if path.Len() > 0 {
			dash := ""
			if s.Dash {
				dash = ` stroke-dasharray="6,4"`
			}
			fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", bytes.TrimSpace(path.Bytes()), color, dash)
		}
	}
	for _, p := range s.Points {
		if !c.drawable(p.Y) || math.IsNaN(p.X) || math.IsInf(p.X, 0) {
			continue
		}
		x := l.px(p.X)
		if c.drawable(p.Low) && c.drawable(p.High) {
			y0, y1 := l.py(clamp(p.Low, l.y0, l.y1)), l.py(clamp(p.High, l.y0, l.y1))
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x, y0, x, y1, color)
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x-3, y1, x+3, y1, color)
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x-3, y0, x+3, y0, color)
		}
		if s.Marker != NoMarker {
			marker(b, s.Marker, x, l.py(clamp(p.Y, l.y0, l.y1)), color, p.Hollow)
		}
	}
}

func marker(b *bytes.Buffer, m Marker, x, y float64, color string, hollow bool) {
	fill := color
	if hollow {
		fill = "white"
	}
	const r = 4.0
	switch m {
	case Circle:
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s" stroke="%s"/>`+"\n", x, y, r, fill, color)
	case Square:
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" stroke="%s"/>`+"\n", x-r, y-r, 2*r, 2*r, fill, color)
	case Triangle:
		fmt.Fprintf(b, `<polygon points="%.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="%s" stroke="%s"/>`+"\n", x, y-r-1, x-r, y+r, x+r, y+r, fill, color)
	case Diamond:
		fmt.Fprintf(b, `<polygon points="%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="%s" stroke="%s"/>`+"\n", x, y-r-1, x+r+1, y, x, y+r+1, x-r-1, y, fill, color)
	}
}

// ranges fits the axes to the data, the ticks and the reference lines.
func (c *Chart) ranges() (x0, x1, y0, y1 float64) {
	x0, x1, y0, y1 = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	addY := func(y float64) {
		if c.drawable(y) {
			y0, y1 = math.Min(y0, y), math.Max(y1, y)
		}
	}
	for _, s := range c.Series {
		for _, p := range s.Points {
			if !c.drawable(p.Y) || math.IsNaN(p.X) || math.IsInf(p.X, 0) {
				continue
			}
			x0, x1 = math.Min(x0, p.X), math.Max(x1, p.X)
			addY(p.Y)
			if c.drawable(p.Low) && c.drawable(p.High) {
				addY(p.Low)
				addY(p.High)
			}
		}
	}
	for _, t := range c.XTicks {
		if !math.IsNaN(t.Value) && !math.IsInf(t.Value, 0) {
			x0, x1 = math.Min(x0, t.Value), math.Max(x1, t.Value)
		}
	}
	for _, hl := range c.HLines {
		addY(hl.Y)
	}
	if math.IsInf(x0, 1) {
		x0, x1 = 0, 1
	}
	if len(c.XTicks) > 0 && x1 > x0 {
		pad := (x1 - x0) * 0.04
		x0, x1 = x0-pad, x1+pad
	} else if x0 == x1 {
		x0, x1 = x0-1, x1+1
	}
	if math.IsInf(y0, 1) {
		y0, y1 = 0, 1
		if c.LogY {
			y0, y1 = 1, 10
		}
	}
	if !math.IsNaN(c.YMin) && !math.IsInf(c.YMin, 0) && (!c.LogY || c.YMin > 0) {
		y0 = c.YMin
	}
	if !math.IsNaN(c.YMax) && !math.IsInf(c.YMax, 0) && (!c.LogY || c.YMax > 0) {
		y1 = c.YMax
	}
	if c.LogY {
		y0 = math.Pow(10, math.Floor(math.Log10(y0)))
		y1 = math.Pow(10, math.Ceil(math.Log10(y1)))
		if y1 <= y0 {
			y1 = y0 * 10
		}
	} else if y1 <= y0 {
		y0, y1 = y0-1, y0+1
	}
	return x0, x1, y0, y1
}

// yTicks returns the y tick values: decades (and 2, 5 when there are few)
// on a logarithmic axis, nice numbers on a linear one.
func (c *Chart) yTicks(l layout) []float64 {
	if !c.LogY {
		return niceTicks(l.y0, l.y1, 6)
	}
	var out []float64
	decades := math.Log10(l.y1 / l.y0)
	for e := math.Floor(math.Log10(l.y0)); e <= math.Ceil(math.Log10(l.y1)); e++ {
		for _, m := range []float64{1, 2, 5} {
			if m != 1 && decades > 3 {
				continue
			}
			v := m * math.Pow(10, e)
			if v >= l.y0*(1-1e-9) && v <= l.y1*(1+1e-9) {
				out = append(out, v)
			}
		}
	}
	return out
}

// niceTicks returns about n round values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if !(hi > lo) || n < 1 {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9 && len(out) < 100; v += step {
		out = append(out, math.Round(v/step)*step)
	}
	return out
}

func formatTick(v float64) string {
	if v == 0 {
		return "0"
	}
	// Six significant digits hide the binary rounding of tick arithmetic
	// (0.30000000000000004 prints as 0.3).
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func text(b *bytes.Buffer, x, y float64, anchor string, size int, s string, rotate float64) {
	if s == "" {
		return
	}
	rot := ""
	if rotate != 0 {
		rot = fmt.Sprintf(` transform="rotate(%.0f %.1f %.1f)"`, rotate, x, y)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d"%s>%s</text>`+"\n", x, y, anchor, size, rot, escape(s))
}

// escape returns s escaped for XML character data; invalid UTF-8 and
// characters XML forbids are replaced.
func escape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

package web

import (
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// chart is a line chart over time drawn as SVG on the server: axes with
// ticks, one line per series and a legend. It needs no script and no
// stylesheet: colours are presentation attributes, which a strict
// Content-Security-Policy allows.
type chart struct {
	// Title names the chart for screen readers (the page shows it as a heading).
	Title string
	// From and To bound the time axis.
	From, To time.Time
	// Format writes a value for the y-axis ticks and the legend.
	Format func(float64) string
	// Series are drawn in order; each gets the next colour of the palette.
	Series []series
}

// series is one line of a chart.
type series struct {
	Name   string
	Points []sample
}

// sample is one point of a series. A non-finite value or Gap breaks the line.
type sample struct {
	At  time.Time
	V   float64
	Gap bool
}

// Layout of the drawing, in SVG user units.
const (
	chartWidth    = 640
	plotHeight    = 200
	marginLeft    = 64
	marginRight   = 28
	marginTop     = 12
	axisHeight    = 24
	legendRow     = 20
	legendCharW   = 7.2
	legendSwatchW = 18
)

// palette is a colour-blind-friendly set (Okabe–Ito); production takes the
// first colour because it is always the first series.
var palette = []string{"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442"}

// plot maps data to the drawing's coordinates.
type plot struct {
	x0, x1, y0, y1 float64 // plot area: x0 left, x1 right, y0 top, y1 bottom
	from, to       time.Time
	vmax           float64
}

func (p plot) x(t time.Time) float64 {
	span := p.to.Sub(p.from)
	if span <= 0 {
		return p.x0
	}
	f := float64(t.Sub(p.from)) / float64(span)
	return p.x0 + f*(p.x1-p.x0)
}

// y maps a value to its height, clamped to the plot area (values below
// zero sit on the axis).
func (p plot) y(v float64) float64 {
	f := math.Min(1, math.Max(0, v/p.vmax))
	return p.y1 - f*(p.y1-p.y0)
}

// empty reports whether no series has a plottable point.
func (c chart) empty() bool {
	for _, s := range c.Series {
		for _, pt := range s.Points {
			if !pt.Gap && finite(pt.V) {
				return false
			}
		}
	}
	return true
}

// SVG renders the chart. Every piece of text is escaped for XML, so the
// result is well-formed whatever the series are called.
func (c chart) SVG() template.HTML {
	format := c.Format
	if format == nil {
		format = func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
	}
	vmax := 0.0
	for _, s := range c.Series {
		for _, pt := range s.Points {
			if !pt.Gap && finite(pt.V) {
				vmax = math.Max(vmax, pt.V)
			}
		}
	}
	ticks := niceTicks(vmax, 4)
	p := plot{x0: marginLeft, x1: chartWidth - marginRight, y0: marginTop, y1: marginTop + plotHeight,
		from: c.From, to: c.To, vmax: ticks[len(ticks)-1]}
	legend, rows := c.legendItems(format)
	height := marginTop + plotHeight + axisHeight + rows*legendRow + 4

	var b strings.Builder
	b.Grow(4096)
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 `)
	b.WriteString(itoa(chartWidth) + " " + itoa(height) + `" aria-label="` + xmlEscape(c.Title) + `">`)
	b.WriteString(`<title>` + xmlEscape(c.Title) + `</title>`)

	// Grid and y-axis ticks.
	b.WriteString(`<g class="y-axis" font-size="12" fill="#555" text-anchor="end">`)
	for _, v := range ticks {
		y := num(p.y(v))
		b.WriteString(`<line x1="` + num(p.x0) + `" x2="` + num(p.x1) + `" y1="` + y + `" y2="` + y + `" stroke="#e3e6ea"/>`)
		b.WriteString(`<text x="` + num(p.x0-6) + `" y="` + num(p.y(v)+4) + `">` + xmlEscape(format(v)) + `</text>`)
	}
	b.WriteString(`</g>`)

	// X-axis with time ticks.
	b.WriteString(`<g class="x-axis" font-size="12" fill="#555" text-anchor="middle">`)
	b.WriteString(`<line x1="` + num(p.x0) + `" x2="` + num(p.x1) + `" y1="` + num(p.y1) + `" y2="` + num(p.y1) + `" stroke="#8a9099"/>`)
	b.WriteString(`<line x1="` + num(p.x0) + `" x2="` + num(p.x0) + `" y1="` + num(p.y0) + `" y2="` + num(p.y1) + `" stroke="#8a9099"/>`)
	for _, t := range timeTicks(c.From, c.To, 6) {
		x := num(p.x(t.at))
		b.WriteString(`<line x1="` + x + `" x2="` + x + `" y1="` + num(p.y1) + `" y2="` + num(p.y1+4) + `" stroke="#8a9099"/>`)
		b.WriteString(`<text x="` + x + `" y="` + num(p.y1+17) + `">` + xmlEscape(t.label) + `</text>`)
	}
	b.WriteString(`</g>`)

	// One line per series, broken at gaps, with a marker on its last point.
	for i, s := range c.Series {
		color := palette[i%len(palette)]
		b.WriteString(`<g class="series" data-series="` + xmlEscape(s.Name) + `">`)
		for _, seg := range segments(s.Points) {
			if len(seg) == 1 {
				pt := seg[0]
				b.WriteString(`<circle cx="` + num(p.x(pt.At)) + `" cy="` + num(p.y(pt.V)) + `" r="2" fill="` + color + `"/>`)
				continue
			}
			b.WriteString(`<polyline fill="none" stroke="` + color + `" stroke-width="2" stroke-linejoin="round" points="`)
			for j, pt := range seg {
				if j > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(num(p.x(pt.At)) + "," + num(p.y(pt.V)))
			}
			b.WriteString(`"/>`)
		}
		if last, ok := lastPoint(s.Points); ok {
			b.WriteString(`<circle class="last" cx="` + num(p.x(last.At)) + `" cy="` + num(p.y(last.V)) + `" r="3.5" fill="` + color + `">`)
			b.WriteString(`<title>` + xmlEscape(s.Name+" at "+last.At.UTC().Format("Jan 2 15:04")+": "+format(last.V)) + `</title></circle>`)
		}
		b.WriteString(`</g>`)
	}

	// Legend: a swatch and the series' latest value, wrapped into rows.
	b.WriteString(`<g class="legend" font-size="13" fill="#222">`)
	for i, it := range legend {
		color := palette[i%len(palette)]
		y := float64(marginTop + plotHeight + axisHeight + it.row*legendRow + 10)
		b.WriteString(`<line x1="` + num(it.x) + `" x2="` + num(it.x+legendSwatchW-4) + `" y1="` + num(y) + `" y2="` + num(y) + `" stroke="` + color + `" stroke-width="3"/>`)
		b.WriteString(`<text x="` + num(it.x+legendSwatchW) + `" y="` + num(y+4) + `">` + xmlEscape(it.text) + `</text>`)
	}
	b.WriteString(`</g></svg>`)
	return template.HTML(b.String()) // every text above went through xmlEscape
}

// legendItem is one placed legend entry.
type legendItem struct {
	text string
	x    float64
	row  int
}

// legendItems lays the legend out left to right, wrapping at the chart's
// width; it returns the items and the number of rows.
func (c chart) legendItems(format func(float64) string) ([]legendItem, int) {
	var out []legendItem
	x, row := float64(marginLeft), 0
	for _, s := range c.Series {
		text := s.Name
		if last, ok := lastPoint(s.Points); ok {
			text += " " + format(last.V)
		} else {
			text += " (no data)"
		}
		w := legendSwatchW + float64(utf8.RuneCountInString(text))*legendCharW + 16
		if x > marginLeft && x+w > chartWidth-marginRight {
			x, row = marginLeft, row+1
		}
		out = append(out, legendItem{text: text, x: x, row: row})
		x += w
	}
	if len(out) == 0 {
		return nil, 0
	}
	return out, row + 1
}

// segments splits points into runs of plottable points.
func segments(pts []sample) [][]sample {
	var out [][]sample
	var cur []sample
	for _, pt := range pts {
		if pt.Gap || !finite(pt.V) {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, pt)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func lastPoint(pts []sample) (sample, bool) {
	for i := len(pts) - 1; i >= 0; i-- {
		if !pts[i].Gap && finite(pts[i].V) {
			return pts[i], true
		}
	}
	return sample{}, false
}

// niceTicks returns about n+1 evenly spaced "round" ticks from 0 to at
// least vmax (steps of 1, 2, 2.5 or 5 times a power of ten).
func niceTicks(vmax float64, n int) []float64 {
	if !(vmax > 1e-9) || math.IsInf(vmax, 0) {
		vmax = 1 // nothing to scale (or only rounding noise): a unit axis
	}
	vmax = math.Min(vmax, 1e300) // keeps the last tick finite
	raw := vmax / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag * 10
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	count := int(math.Ceil(vmax/step - 1e-9))
	ticks := make([]float64, 0, count+1)
	for i := 0; i <= count; i++ {
		ticks = append(ticks, float64(i)*step)
	}
	return ticks
}

// timeTick is one labelled tick of the time axis.
type timeTick struct {
	at    time.Time
	label string
}

var timeSteps = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour,
}

// timeTicks returns at most limit ticks between from and to on round UTC
// times, labelled with the clock time, or the date for steps of a day or more.
func timeTicks(from, to time.Time, limit int) []timeTick {
	span := to.Sub(from)
	if span <= 0 {
		return nil
	}
	// Beyond the table, whole days spread evenly.
	step := (span/time.Duration(limit)/(24*time.Hour) + 1) * 24 * time.Hour
	for _, s := range timeSteps {
		if span/s <= time.Duration(limit) {
			step = s
			break
		}
	}
	layout := "15:04"
	if step >= 24*time.Hour {
		layout = "Jan 2"
	}
	var out []timeTick
	for t := from.UTC().Truncate(step); !t.After(to); t = t.Add(step) {
		if t.Before(from) {
			continue
		}
		out = append(out, timeTick{at: t, label: t.Format(layout)})
	}
	return out
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func itoa(n int) string { return strconv.Itoa(n) }

// xmlEscape escapes s for XML text and attribute values and drops what XML
// cannot carry at all: invalid UTF-8 and control characters.
func xmlEscape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1, !xmlChar(r):
			// invalid UTF-8, or a character XML 1.0 cannot carry: dropped
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case r == '"':
			b.WriteString("&#34;")
		case r == '\'':
			b.WriteString("&#39;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// xmlChar reports whether r is a character of XML 1.0.
func xmlChar(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF, r > 0x10FFFF:
		return false
	}
	return true
}

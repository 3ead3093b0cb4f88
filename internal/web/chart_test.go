package web

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// svgDoc is the part of a chart's SVG the tests read.
type svgDoc struct {
	XMLName xml.Name   `xml:"svg"`
	ViewBox string     `xml:"viewBox,attr"`
	Title   string     `xml:"title"`
	Groups  []svgGroup `xml:"g"`
}

type svgGroup struct {
	Class     string        `xml:"class,attr"`
	Series    string        `xml:"data-series,attr"`
	Polylines []svgPolyline `xml:"polyline"`
	Circles   []svgCircle   `xml:"circle"`
	Texts     []string      `xml:"text"`
}

type svgPolyline struct {
	Points string `xml:"points,attr"`
	Stroke string `xml:"stroke,attr"`
}

type svgCircle struct {
	CX    float64 `xml:"cx,attr"`
	CY    float64 `xml:"cy,attr"`
	Title string  `xml:"title"`
}

// parseSVG checks that s is well-formed XML from start to end and decodes it.
func parseSVG(t testing.TB, s string) svgDoc {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("chart SVG is not well-formed XML: %v\n%s", err, s)
		}
	}
	var doc svgDoc
	if err := xml.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatalf("decode chart SVG: %v", err)
	}
	return doc
}

// vertices parses a polyline's points attribute.
func vertices(t testing.TB, points string) [][2]float64 {
	t.Helper()
	var out [][2]float64
	for _, pair := range strings.Fields(points) {
		xs, ys, ok := strings.Cut(pair, ",")
		x, err1 := strconv.ParseFloat(xs, 64)
		y, err2 := strconv.ParseFloat(ys, 64)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("bad vertex %q", pair)
		}
		out = append(out, [2]float64{x, y})
	}
	return out
}

func (d svgDoc) group(class string) []svgGroup {
	var out []svgGroup
	for _, g := range d.Groups {
		if g.Class == class {
			out = append(out, g)
		}
	}
	return out
}

func TestChartPlotsThePointsGiven(t *testing.T) {
	t.Parallel()
	from := t0
	vals := []float64{0.5, 1.5, 3.0, 2.0, 4.0}
	s := series{Name: "V2 production"}
	for i, v := range vals {
		s.Points = append(s.Points, sample{At: from.Add(time.Duration(i) * time.Hour), V: v})
	}
	gapped := series{Name: "V1 <prompt & \"v2\">", Points: []sample{
		{At: from, V: 1}, {At: from.Add(time.Hour), V: 1, Gap: true}, {At: from.Add(2 * time.Hour), V: 2}, {At: from.Add(3 * time.Hour), V: 2.5}}}
	c := chart{Title: "p95 latency", From: from, To: from.Add(4 * time.Hour), Format: fmtSeconds, Series: []series{s, gapped}}
	doc := parseSVG(t, string(c.SVG()))
	if doc.Title != "p95 latency" {
		t.Errorf("title %q", doc.Title)
	}
	lines := doc.group("series")
	if len(lines) != 2 || lines[0].Series != "V2 production" || lines[1].Series != `V1 <prompt & "v2">` {
		t.Fatalf("series groups %+v", lines)
	}

	// One polyline through every point, left to right, heights linear in the
	// values with 0 on the x-axis.
	if len(lines[0].Polylines) != 1 {
		t.Fatalf("production drawn as %d polylines, want 1", len(lines[0].Polylines))
	}
	vs := vertices(t, lines[0].Polylines[0].Points)
	if len(vs) != len(vals) {
		t.Fatalf("%d vertices for %d points", len(vs), len(vals))
	}
	p := plot{x0: marginLeft, x1: chartWidth - marginRight, y0: marginTop, y1: marginTop + plotHeight}
	if vs[0][0] != p.x0 || vs[len(vs)-1][0] != p.x1 {
		t.Errorf("x runs %v..%v, want the plot's %v..%v", vs[0][0], vs[len(vs)-1][0], p.x0, p.x1)
	}
	perUnit := (p.y1 - vs[0][1]) / vals[0]
	for i, v := range vs {
		if i > 0 && v[0] <= vs[i-1][0] {
			t.Errorf("x not increasing at %d: %v", i, vs)
		}
		if want := p.y1 - vals[i]*perUnit; math.Abs(v[1]-want) > 0.11 {
			t.Errorf("point %d (value %v) at y=%v, want %v", i, vals[i], v[1], want)
		}
	}
	// The y-axis ends at a round value at or above the maximum, 4 s: its
	// top tick is drawn at the top of the plot.
	ticks := doc.group("y-axis")[0].Texts
	if ticks[0] != "0 s" || ticks[len(ticks)-1] != "4 s" {
		t.Errorf("y ticks %v, want 0 s … 4 s", ticks)
	}
	if top := p.y1 - 4*perUnit; math.Abs(top-p.y0) > 0.11 {
		t.Errorf("4 s drawn at y=%v, want the top %v", top, p.y0)
	}

	// A gap breaks the line: a lone point, then a segment.
	if len(lines[1].Polylines) != 1 || len(vertices(t, lines[1].Polylines[0].Points)) != 2 {
		t.Errorf("gapped series polylines %+v, want one of 2 vertices after the gap", lines[1].Polylines)
	}
	if lines[0].Polylines[0].Stroke == lines[1].Polylines[0].Stroke {
		t.Error("two series share a colour")
	}
	// The last point is marked with its value, and the legend repeats it.
	last := lines[0].Circles[len(lines[0].Circles)-1]
	if !strings.Contains(last.Title, "4 s") {
		t.Errorf("last-point marker %q", last.Title)
	}
	legend := doc.group("legend")[0].Texts
	if len(legend) != 2 || legend[0] != "V2 production 4 s" || legend[1] != `V1 <prompt & "v2"> 2.5 s` {
		t.Errorf("legend %q", legend)
	}
	// Time ticks fall on round hours inside the window.
	xt := doc.group("x-axis")[0].Texts
	if len(xt) != 5 || xt[0] != "09:00" || xt[4] != "13:00" {
		t.Errorf("time ticks %v", xt)
	}
}

func TestDashboardChartsAreWellFormedSVG(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, body := f.page(t, f.admin)
	const open = `<svg xmlns="http://www.w3.org/2000/svg" class="chart"`
	var svgs []string
	for rest := body; ; {
		i := strings.Index(rest, open)
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "</svg>")
		svgs = append(svgs, rest[i:i+j+len("</svg>")])
		rest = rest[i+j:]
	}
	if len(svgs) != 3 {
		t.Fatalf("%d charts on the page, want 3", len(svgs))
	}
	n := int(6 * time.Hour / (15 * time.Minute))
	for i, s := range svgs {
		doc := parseSVG(t, s)
		lines := doc.group("series")
		// production, the running experiment and the canary.
		if len(lines) != 3 {
			t.Fatalf("chart %d has %d series, want 3", i, len(lines))
		}
		if !strings.HasPrefix(lines[0].Series, "V2 production") || len(lines[0].Polylines) != 1 ||
			len(vertices(t, lines[0].Polylines[0].Points)) != n {
			t.Errorf("chart %d: production %+v, want one line of %d points", i, lines[0].Series, n)
		}
		// The experiment's third step had no traffic: a 2-point line, a gap,
		// then the rest.
		exp := lines[1]
		if exp.Series != "V1 prompt-v2" || len(exp.Polylines) != 2 ||
			len(vertices(t, exp.Polylines[0].Points)) != 2 || len(vertices(t, exp.Polylines[1].Points)) != n-3 {
			t.Errorf("chart %d: experiment line %q with %d polylines", i, exp.Series, len(exp.Polylines))
		}
		if lines[2].Series != "canary fast-sim" {
			t.Errorf("chart %d: third series %q, want the canary", i, lines[2].Series)
		}
	}
	want := map[string]bool{SeriesProduction: true, ExperimentSeries(f.runningID): true, CanarySeries(f.promotionID): true}
	for _, s := range f.hist.series() {
		if !want[s] {
			t.Errorf("unexpected series %q read", s)
		}
		delete(want, s)
	}
	if len(want) != 0 {
		t.Errorf("series never read: %v", want)
	}
	// Legend values are the latest points: production's p95 ends at 1.23 s.
	if !strings.Contains(svgs[0], "V2 production (baseline) 1.23 s") {
		t.Error("the latency legend does not show production's latest p95")
	}
}

func TestChartsWithoutData(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		opts   func(*Options)
		want   string
		charts int
	}{
		{name: "no history configured", opts: func(o *Options) { o.History = nil },
			want: "No data: no metric history is configured."},
		{name: "a series fails", opts: func(o *Options) {
			h := &history{fail: map[string]bool{SeriesProduction: true}}
			o.History = h.fn
		}, want: "Could not load the series production.", charts: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := setup(t, tc.opts)
			_, body := fx.page(t, fx.admin)
			if !strings.Contains(body, tc.want) {
				t.Errorf("page lacks %q", tc.want)
			}
			if got := strings.Count(body, `class="chart"`); got != tc.charts {
				t.Errorf("%d charts drawn, want %d", got, tc.charts)
			}
		})
	}
	t.Run("no points", func(t *testing.T) {
		t.Parallel()
		c := chart{Title: "Error rate", From: t0, To: t0.Add(time.Hour), Series: []series{{Name: "V2", Points: []sample{{At: t0, Gap: true}}}}}
		if !c.empty() {
			t.Error("a chart of gaps only is not empty")
		}
	})
}

func TestNiceTicks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		max  float64
		want []float64
	}{
		{0, []float64{0, 0.25, 0.5, 0.75, 1}},
		{4, []float64{0, 1, 2, 3, 4}},
		{4.2, []float64{0, 2, 4, 6}},
		{0.031, []float64{0, 0.01, 0.02, 0.03, 0.04}},
		{95, []float64{0, 25, 50, 75, 100}},
		{math.NaN(), []float64{0, 0.25, 0.5, 0.75, 1}},
		{5e-324, []float64{0, 0.25, 0.5, 0.75, 1}},
	}
	for _, tc := range cases {
		got := niceTicks(tc.max, 4)
		if len(got) != len(tc.want) {
			t.Errorf("niceTicks(%v) = %v, want %v", tc.max, got, tc.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-12 {
				t.Errorf("niceTicks(%v) = %v, want %v", tc.max, got, tc.want)
				break
			}
		}
	}
	if got := niceTicks(math.MaxFloat64, 4); math.IsInf(got[len(got)-1], 0) {
		t.Errorf("niceTicks(MaxFloat64) ends at %v", got[len(got)-1])
	}
}

func TestTimeTicks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		span  time.Duration
		first string
		count int
	}{
		{6 * time.Hour, "09:00", 7},
		{24 * time.Hour, "12:00", 4},
		{14 * 24 * time.Hour, "Mar 9", 2},
		{30 * time.Minute, "09:00", 7},
		{200 * 24 * time.Hour * 365, "", 0},
	}
	for _, tc := range cases {
		got := timeTicks(t0, t0.Add(tc.span), 6)
		if tc.count == 0 {
			if len(got) > 7 {
				t.Errorf("span %v: %d ticks", tc.span, len(got))
			}
			continue
		}
		if len(got) != tc.count || got[0].label != tc.first {
			t.Errorf("span %v: %d ticks starting %+v, want %d from %s", tc.span, len(got), got[:min(1, len(got))], tc.count, tc.first)
		}
	}
}

// FuzzChartSVG renders charts with arbitrary names and values: the SVG must
// always be well-formed XML.
func FuzzChartSVG(f *testing.F) {
	f.Add("V2 production", 1.5, int64(3600), uint64(1))
	f.Add("<script>alert(1)</script>&", math.Inf(1), int64(60), uint64(2))
	f.Add("\x00\x1b\xff\xfe name ]]>", math.NaN(), int64(0), uint64(3))
	f.Add("exp/'quoted'\"", -4.0, int64(-100), uint64(4))
	f.Add("big", math.MaxFloat64, int64(1<<40), uint64(5))
	f.Add("tiny", 5e-324, int64(7200), uint64(6))
	f.Fuzz(func(t *testing.T, name string, v float64, spanSeconds int64, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 7))
		span := time.Duration(spanSeconds) * time.Second
		c := chart{Title: name, From: t0, To: t0.Add(span), Format: fmtPercent}
		for s := range 3 {
			sr := series{Name: name + strconv.Itoa(s)}
			for i := range 20 {
				pt := sample{At: t0.Add(time.Duration(i) * span / 20), V: v * rng.Float64(), Gap: rng.IntN(5) == 0}
				sr.Points = append(sr.Points, pt)
			}
			c.Series = append(c.Series, sr)
		}
		doc := parseSVG(t, string(c.SVG()))
		if len(doc.group("series")) != 3 {
			t.Fatalf("%d series drawn, want 3", len(doc.group("series")))
		}
	})
}

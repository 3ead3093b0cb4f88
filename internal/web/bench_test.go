package web

import (
	"net/http"
	"testing"
	"time"
)

// BenchmarkDashboardPage renders the whole page for an admin: every section
// from the in-memory coordinator and three charts of 96 points per series.
func BenchmarkDashboardPage(b *testing.B) {
	f := setup(b, func(o *Options) { o.ChartWindow, o.ChartStep = 24*time.Hour, 15*time.Minute })
	cookie := f.login(b, f.admin)
	b.ReportAllocs()
	for b.Loop() {
		if w := f.get("/", cookie, ""); w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkChartSVG draws one chart of four series of 96 points.
func BenchmarkChartSVG(b *testing.B) {
	c := chart{Title: "p95 latency", From: t0, To: t0.Add(24 * time.Hour), Format: fmtSeconds}
	for s := range 4 {
		sr := series{Name: "series " + string(rune('A'+s))}
		for _, p := range historyPoints("exp/x", t0, 15*time.Minute, 96) {
			sr.Points = append(sr.Points, sample{At: p.At, V: p.P95 + float64(s)/10, Gap: p.Requests == 0})
		}
		c.Series = append(c.Series, sr)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = c.SVG()
	}
}

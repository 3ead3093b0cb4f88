package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/bench/internal/report"
	"github.com/tricyclehq/tricycle/bench/internal/svgplot"
)

// aaStats counts, per criterion and method, the A/A runs with a false
// decision.
type aaStats struct {
	falses [][numMethods]int
	// curve[ci][m][k] is the share of runs with a false decision by look k.
	curve [][numMethods][]float64
}

// powerStats summarises one power row.
type powerStats struct {
	row                       powerRow
	seqMedian, seqP10, seqP90 float64
	prodMedian, prodP10       float64
	prodP90                   float64
	seqDecided, prodDecided   int
	seqWrong, prodWrong       int
	fixedPower                float64
	fixedRuns, runs           int
	seqRatio, prodRatio       float64
}

type summary struct {
	cfg    config
	aa     aaStats
	powers []powerStats
}

func summarize(cfg config, rows []powerRow, aa []aaRun, pw [][]powerRun) summary {
	s := summary{cfg: cfg}
	looks := (cfg.n + cfg.batch - 1) / cfg.batch
	s.aa.falses = make([][numMethods]int, len(aaCriteria))
	s.aa.curve = make([][numMethods][]float64, len(aaCriteria))
	for ci := range aaCriteria {
		for m := range numMethods {
			curve := make([]float64, looks)
			for _, r := range aa {
				first := r[ci][m]
				if first == 0 {
					continue
				}
				s.aa.falses[ci][m]++
				for k := int((first+int64(cfg.batch)-1)/int64(cfg.batch)) - 1; k < looks; k++ {
					curve[max(0, k)]++
				}
			}
			for k := range curve {
				curve[k] /= float64(len(aa))
			}
			s.aa.curve[ci][m] = curve
		}
	}
	for i, row := range rows {
		st := powerStats{row: row, runs: len(pw[i])}
		var seq, prod []float64
		fixedPass := 0
		for _, r := range pw[i] {
			seq = append(seq, orInf(r.seqN))
			prod = append(prod, orInf(r.productN))
			if r.seqN > 0 {
				st.seqDecided++
				if r.seqWrong {
					st.seqWrong++
				}
			}
			if r.productN > 0 {
				st.prodDecided++
				if r.prodWrong {
					st.prodWrong++
				}
			}
			if r.fixedDone {
				st.fixedRuns++
				if r.fixedPass {
					fixedPass++
				}
			}
		}
		st.seqMedian, st.seqP10, st.seqP90 = report.Quantile(seq, 0.5), report.Quantile(seq, 0.1), report.Quantile(seq, 0.9)
		st.prodMedian, st.prodP10, st.prodP90 = report.Quantile(prod, 0.5), report.Quantile(prod, 0.1), report.Quantile(prod, 0.9)
		if st.fixedRuns > 0 {
			st.fixedPower = float64(fixedPass) / float64(st.fixedRuns)
		}
		st.seqRatio = st.seqMedian / float64(row.nFixed)
		st.prodRatio = st.prodMedian / float64(row.nFixed)
		s.powers = append(s.powers, st)
	}
	return s
}

func orInf(n int64) float64 {
	if n == 0 {
		return math.Inf(1)
	}
	return float64(n)
}

func (s summary) markdown(args []string, took time.Duration) string {
	cfg := s.cfg
	var b strings.Builder
	b.WriteString("# Sequential decisions\n\n")
	fmt.Fprintf(&b, "Command: `%s` (seed %d). Machine: %s. Wall time %s.\n\n",
		strings.TrimSpace("go run ./bench/seqsim "+strings.Join(args, " ")), cfg.seed, report.Machine(), took.Round(time.Second))
	b.WriteString("Production: 2% errors, latency p50 0.8 s / p95 2 s (log-normal), accuracy 90% on labelled reviews (every successful review labelled), cost $0.08 ± $0.03 (log-normal, cap $1). Every test here is at α = 5% (the product's default 95% confidence).\n\n")

	fmt.Fprintf(&b, "## False decisions under continuous looks (A/A)\n\n")
	fmt.Fprintf(&b, "Candidate and production both drawn from production's profile, %d runs of N = %d requests each, a look after every %d requests (%d looks). Each criterion's threshold is the true value, so any PROMOTE or QUARANTINE is false. Cells: share of runs with a false decision at some look (95%% Wilson interval).\n\n",
		cfg.runs, cfg.n, cfg.batch, (cfg.n+cfg.batch-1)/cfg.batch)
	t := report.Table{Header: []string{"criterion (true value = threshold)"}}
	t.Right = []bool{false}
	for _, n := range methodNames {
		t.Header = append(t.Header, n)
		t.Right = append(t.Right, true)
	}
	for ci, c := range aaCriteria {
		row := []string{c.Metric + " " + c.Expr()}
		for m := range numMethods {
			row = append(row, report.Rate(s.aa.falses[ci][m], cfg.runs))
		}
		t.AddRow(row...)
	}
	b.WriteString(t.Markdown())
	b.WriteString("\n\"tricycle decision\" is what the evaluator does: PROMOTE also needs the two non-inferiority comparisons with production (error rate within 1 point, p95 within 10%), and the 5% error budget is split three ways (criterion and two comparisons). \"criterion decisive inside EvaluateSamples\" counts the criterion's own pass or fail at its share of the budget (α/3), whether or not the comparisons let PROMOTE through. \"confidence sequence, α = 5%\" is the same sequence from `internal/stats` with the whole budget on the one criterion: the like-for-like comparison with the fixed-horizon test at α = 5%.\n")

	b.WriteString("\n## Samples to a decision against a fixed-horizon test\n\n")
	fmt.Fprintf(&b, "The candidate beats the criterion by 1× or 2× the minimum detectable effect (MDE); production is the baseline. n(fixed) is the two-sided fixed-horizon sample size for %.0f%% power at α = 5%% (one-sample score test for proportions, z-test for the mean cost with the true sd), computed analytically; \"fixed power\" is that test's simulated power at n(fixed). Samples are the criterion's own (labelled reviews for accuracy, requests otherwise); looks every %d requests, %d runs per row, cap %d requests.\n\n",
		100*power, cfg.batch, cfg.powerRuns, cfg.capSamples)
	t2 := report.Table{Header: []string{"criterion, candidate", "n(fixed)", "fixed power", "CS median (p10–p90)", "CS / n(fixed)", "CS decided · wrong",
		"tricycle median (p10–p90)", "tricycle / n(fixed)", "tricycle decided · wrong"},
		Right: []bool{false, true, true, true, true, true, true, true, true}}
	for _, p := range s.powers {
		capText := fmt.Sprint(cfg.capSamples)
		t2.AddRow(p.row.String(), fmt.Sprint(p.row.nFixed), report.Percent(p.fixedPower),
			fmt.Sprintf("%s (%s–%s)", report.Count(p.seqMedian, 0, capText), report.Count(p.seqP10, 0, capText), report.Count(p.seqP90, 0, capText)),
			ratio(p.seqRatio),
			fmt.Sprintf("%s · %d", report.Percent(float64(p.seqDecided)/float64(p.runs)), p.seqWrong),
			fmt.Sprintf("%s (%s–%s)", report.Count(p.prodMedian, 0, capText), report.Count(p.prodP10, 0, capText), report.Count(p.prodP90, 0, capText)),
			ratio(p.prodRatio),
			fmt.Sprintf("%s · %d", report.Percent(float64(p.prodDecided)/float64(p.runs)), p.prodWrong))
	}
	b.WriteString(t2.Markdown())
	b.WriteString("\n\"CS\" is the criterion's confidence sequence at α = 5% (stopping at the first decisive look); \"tricycle\" is EvaluateSamples deciding PROMOTE, which also waits for the non-inferiority comparisons on error rate and p95. \"wrong\" counts decisions in the wrong direction (QUARANTINE of a better candidate). The fixed-horizon test stops at n(fixed) whatever it finds and misses about 20% of real effects; the sequential tests run until they decide.\n")

	b.WriteString("\n## Goals\n\n")
	for ci, c := range aaCriteria {
		k := s.aa.falses[ci][mProduct]
		rate := float64(k) / float64(cfg.runs)
		fmt.Fprintf(&b, "- %s %s: tricycle false decisions %s (goal ≤ α = 5%%: %s); confidence sequence alone %s; fixed-horizon test peeked %s.\n",
			c.Metric, c.Expr(), report.Rate(k, cfg.runs), goalText(rate <= alpha),
			report.Rate(s.aa.falses[ci][mSequential], cfg.runs), report.Rate(s.aa.falses[ci][mPeeking], cfg.runs))
	}
	return b.String()
}

func ratio(x float64) string {
	if math.IsInf(x, 1) || math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%.1f×", x)
}

func goalText(met bool) string {
	if met {
		return "met"
	}
	return "missed"
}

// charts returns the plots by file name.
func (s summary) charts() map[string]*svgplot.Chart {
	out := map[string]*svgplot.Chart{}
	c := svgplot.New("A/A: share of runs with a false decision by the n-th request (looks every batch)", "requests", "runs with a false decision")
	c.YMin, c.YMax = 0, math.NaN()
	c.HLines = []svgplot.HLine{{Y: alpha, Label: "α = 5%"}}
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"}
	for ci, cr := range aaCriteria {
		for _, m := range []int{mPeeking, mProduct} {
			ser := svgplot.Series{Line: true, Dash: m == mPeeking, Color: colors[ci%len(colors)]}
			if m == mPeeking {
				ser.Name = cr.Metric + ": fixed-horizon peeked"
			} else {
				ser.Name = cr.Metric + ": tricycle"
			}
			for k, v := range s.aa.curve[ci][m] {
				ser.Points = append(ser.Points, svgplot.P(float64(min((k+1)*s.cfg.batch, s.cfg.n)), v))
			}
			c.Series = append(c.Series, ser)
		}
	}
	out["seqsim-aa.svg"] = c

	d := svgplot.New("Samples to a decision: fixed-horizon n (80% power) vs sequential median (whiskers p10–p90)", "criterion and effect", "samples (log)")
	d.LogY, d.RotateX, d.Width, d.Height = true, true, 1000, 600
	fixed := svgplot.Series{Name: "fixed-horizon n (80% power)", Marker: svgplot.Square}
	seq := svgplot.Series{Name: "confidence sequence, α = 5%", Marker: svgplot.Circle}
	prod := svgplot.Series{Name: "tricycle EvaluateSamples → PROMOTE", Marker: svgplot.Diamond}
	capY := float64(s.cfg.capSamples)
	capped := func(x float64) float64 { return math.Min(x, capY) }
	for i, p := range s.powers {
		x := float64(i)
		d.XTicks = append(d.XTicks, svgplot.Tick{Value: x, Label: p.row.label()})
		fixed.Points = append(fixed.Points, svgplot.P(x-0.15, float64(p.row.nFixed)))
		seq.Points = append(seq.Points, svgplot.Point{X: x, Y: capped(p.seqMedian), Low: capped(p.seqP10), High: capped(p.seqP90), Hollow: math.IsInf(p.seqMedian, 1)})
		prod.Points = append(prod.Points, svgplot.Point{X: x + 0.15, Y: capped(p.prodMedian), Low: capped(p.prodP10), High: capped(p.prodP90), Hollow: math.IsInf(p.prodMedian, 1)})
	}
	d.Series = []svgplot.Series{fixed, seq, prod}
	out["seqsim-samples.svg"] = d
	return out
}

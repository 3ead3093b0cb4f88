package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/bench/internal/report"
	"github.com/tricyclehq/tricycle/bench/internal/svgplot"
)

// policyStats summarises one policy over a scenario's runs.
type policyStats struct {
	p10, median, p90 float64 // seconds to rollback (+Inf: not rolled back)
	medianRequests   float64
	detected, runs   int
}

// scenarioStats summarises one scenario.
type scenarioStats struct {
	sc       scenario
	policies []policyStats
	// blocked counts runs that tricycle did not roll back but whose last
	// verdict blocked the phase (it would roll back after the grace period).
	blocked, notRolledBack int
}

// summary is everything the report shows.
type summary struct {
	names      []string
	regs, aas  []scenarioStats
	capSeconds int
}

func summarize(regs []scenario, aas []aaSpec, results [][]runResult, capSeconds int) summary {
	s := summary{names: policyNames(), capSeconds: capSeconds}
	stats := func(sc scenario, rs []runResult) scenarioStats {
		st := scenarioStats{sc: sc}
		for i := range s.names {
			var secs, reqs []float64
			det := 0
			for _, r := range rs {
				o := r.outcomes[i]
				secs = append(secs, o.seconds)
				reqs = append(reqs, o.requests)
				if !math.IsInf(o.seconds, 1) {
					det++
				}
			}
			st.policies = append(st.policies, policyStats{
				p10: report.Quantile(secs, 0.1), median: report.Quantile(secs, 0.5), p90: report.Quantile(secs, 0.9),
				medianRequests: report.Quantile(reqs, 0.5), detected: det, runs: len(rs)})
		}
		for _, r := range rs {
			if math.IsInf(r.outcomes[0].seconds, 1) {
				st.notRolledBack++
				if r.blockedAtStop {
					st.blocked++
				}
			}
		}
		return st
	}
	for i, sc := range regs {
		s.regs = append(s.regs, stats(sc, results[i]))
	}
	for j, a := range aas {
		s.aas = append(s.aas, stats(a.sc, results[len(regs)+j]))
	}
	return s
}

func (s summary) capText() string {
	if s.capSeconds%60 == 0 {
		return fmt.Sprintf("%d min", s.capSeconds/60)
	}
	return fmt.Sprintf("%d s", s.capSeconds)
}

// markdown renders the results file.
func (s summary) markdown(cfg config, args []string, took time.Duration) string {
	var b strings.Builder
	b.WriteString("# Canary detection\n\n")
	fmt.Fprintf(&b, "Command: `%s` (seed %d; %d runs per regression scenario at 10 and 100 rps, %d at 1,000 rps; cap %s). ",
		strings.TrimSpace("go run ./bench/canarysim "+strings.Join(args, " ")), cfg.seed, cfg.runs, cfg.runsHigh, s.capText())
	fmt.Fprintf(&b, "Machine: %s. Wall time %s.\n\n", report.Machine(), took.Round(time.Second))
	b.WriteString("Stable: 2% errors, log-normal latency p50 0.8 s / p95 2 s. Time is virtual seconds since the phase started; ")
	b.WriteString("\"canary requests\" counts the canary's requests up to the rollback. A run that is not rolled back within the cap counts as not detected (`> cap`).\n\n")

	b.WriteString("## Seconds to rollback: median (p90)\n\n")
	t := report.Table{Header: append([]string{"scenario"}, s.names...)}
	for range s.names {
		t.Right = append(t.Right, true)
	}
	t.Right = append([]bool{false}, t.Right...)
	for _, st := range s.regs {
		row := []string{st.sc.String()}
		for _, p := range st.policies {
			row = append(row, fmt.Sprintf("%s (%s)", report.Count(p.median, 0, s.capText()), report.Count(p.p90, 0, s.capText())))
		}
		t.AddRow(row...)
	}
	b.WriteString(t.Markdown())

	b.WriteString("\n## Canary requests to rollback (median) and detection rate\n\n")
	t2 := report.Table{Header: append(append([]string{"scenario"}, s.names...), "tricycle: phase blocked at cap")}
	t2.Right = append([]bool{false}, repeat(true, len(s.names)+1)...)
	for _, st := range s.regs {
		row := []string{st.sc.String()}
		for _, p := range st.policies {
			row = append(row, fmt.Sprintf("%s · %s", report.Count(p.medianRequests, 0, "cap"), report.Percent(float64(p.detected)/float64(p.runs))))
		}
		blocked := "—"
		if st.notRolledBack > 0 {
			blocked = fmt.Sprintf("%d of %d", st.blocked, st.notRolledBack)
		}
		t2.AddRow(append(row, blocked)...)
	}
	b.WriteString(t2.Markdown())
	b.WriteString("\nThe last column counts, among runs tricycle did not roll back, those whose analysis at the cap was not passing: the phase cannot advance and is rolled back when its grace period (half the phase, 12 h for phase 1) ends.\n")

	b.WriteString("\n## False rollbacks (A/A: canary identical to stable, 10% canary)\n\n")
	t3 := report.Table{Header: append([]string{"traffic", "runs"}, s.names...)}
	t3.Right = append([]bool{false}, repeat(true, len(s.names)+1)...)
	for _, st := range s.aas {
		row := []string{fmt.Sprintf("%g rps for %s", st.sc.rps, s.capText()), fmt.Sprint(st.policies[0].runs)}
		for _, p := range st.policies {
			row = append(row, report.Rate(p.detected, p.runs))
		}
		t3.AddRow(row...)
	}
	b.WriteString(t3.Markdown())
	b.WriteString("\nRates with 95% Wilson intervals.\n")

	b.WriteString("\n## Goals\n\n")
	b.WriteString(s.goals())
	return b.String()
}

// goals compares tricycle with the brief's goals.
func (s summary) goals() string {
	var b strings.Builder
	for _, st := range s.regs {
		if st.sc.rps == 100 && st.sc.weight == 0.10 && st.sc.reg.errorRate == 0.20 {
			p := st.policies[0]
			fmt.Fprintf(&b, "- Gross regression (2%% → 20%%, 100 rps, 10%% canary): tricycle rolls back after a median %s s (goal ≤ 15 s: %s) and %s canary requests (goal ≤ 300: %s); p90 %s s.\n",
				report.Count(p.median, 0, s.capText()), verdict(p.median <= 15), report.Count(p.medianRequests, 0, "cap"),
				verdict(p.medianRequests <= 300), report.Count(p.p90, 0, s.capText()))
		}
	}
	for _, st := range s.aas {
		for i, p := range st.policies[:2] {
			rate := float64(p.detected) / float64(p.runs)
			fmt.Fprintf(&b, "- A/A at %g rps, %s: false rollbacks %s (goal ≤ 1%%: %s).\n", st.sc.rps, s.names[i],
				report.Rate(p.detected, p.runs), verdict(rate <= 0.01))
		}
	}
	return b.String()
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "missed"
}

func repeat(v bool, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// charts returns the time-to-rollback plots, by file name.
func (s summary) charts(capSeconds int) map[string]*svgplot.Chart {
	out := map[string]*svgplot.Chart{}
	for _, kind := range []string{"errors", "latency"} {
		var sts []scenarioStats
		for _, st := range s.regs {
			if st.sc.reg.kind == kind {
				sts = append(sts, st)
			}
		}
		c := svgplot.New(fmt.Sprintf("Time to rollback, %s regressions (median, whisker p10–p90; hollow: median not detected by %s)", kind, s.capText()),
			"scenario", "seconds to rollback (log)")
		c.LogY, c.Width, c.Height, c.RotateX = true, 1200, 620, true
		c.YMin, c.YMax = 1, float64(capSeconds)
		c.HLines = []svgplot.HLine{{Y: float64(capSeconds), Label: "cap " + s.capText()}}
		if kind == "errors" {
			c.HLines = append(c.HLines, svgplot.HLine{Y: 15, Label: "goal 15 s (2%→20%, 100 rps, 10%)"})
		}
		for i, st := range sts {
			c.XTicks = append(c.XTicks, svgplot.Tick{Value: float64(i), Label: st.sc.String()})
		}
		markers := []svgplot.Marker{svgplot.Circle, svgplot.Diamond, svgplot.Square, svgplot.Triangle, svgplot.Circle}
		for pi, name := range s.names {
			ser := svgplot.Series{Name: name, Marker: markers[pi%len(markers)]}
			off := (float64(pi) - float64(len(s.names)-1)/2) * 0.14
			for i, st := range sts {
				p := st.policies[pi]
				capped := func(x float64) float64 { return math.Min(x, float64(capSeconds)) }
				ser.Points = append(ser.Points, svgplot.Point{X: float64(i) + off, Y: capped(p.median),
					Low: capped(p.p10), High: capped(p.p90), Hollow: math.IsInf(p.median, 1)})
			}
			c.Series = append(c.Series, ser)
		}
		out["canarysim-"+kind+".svg"] = c
	}
	return out
}

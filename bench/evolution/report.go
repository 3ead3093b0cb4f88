package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/bench/internal/report"
	"github.com/tricyclehq/tricycle/bench/internal/svgplot"
	"github.com/tricyclehq/tricycle/coordination"
)

// classCount counts variants of a class that satisfy pred.
func classCount(vs []variant, r yearResult, class string, pred func(variantOutcome) bool) (k, n int) {
	for i, v := range vs {
		if v.class != class {
			continue
		}
		n++
		if pred(r.outcomes[i]) {
			k++
		}
	}
	return k, n
}

func frac(k, n int) string { return fmt.Sprintf("%d of %d", k, n) }

func markdown(cfg config, args []string, vs []variant, rs []yearResult, fixedLabels int64, took time.Duration) string {
	var b strings.Builder
	b.WriteString("# Evolution: a simulated year\n\n")
	fmt.Fprintf(&b, "Command: `%s` (seed %d). Machine: %s. Wall time %s (the years run in parallel).\n\n",
		strings.TrimSpace("go run ./bench/evolution "+strings.Join(args, " ")), cfg.seed, report.Machine(), took.Round(time.Second))
	fmt.Fprintf(&b, "%d days, %g user reviews/s on average (weekday peaks, weekends at 40%%), %d variants arriving after a one-week warm-up; coordinator pass every %s, every %s while a canary is in its phases (the Flagger-style canary: every minute). The fixed-horizon A/B test decides at %d labelled reviews per arm (80%% power for +%.1f accuracy points at α = 5%%).\n\n",
		cfg.days, cfg.rps, len(vs), cfg.step, cfg.canaryStep, fixedLabels, 100*cfg.mde)

	b.WriteString(`Policies (all on the coordinator with the memory store, the same health monitor and the same auto-approval):

- **tricycle**: the product with its defaults. The evaluator decides from samples in every pass (EvaluateSamples at 95%, PROMOTE after 7 days at the earliest, a decision at 14 days); canaries run 10% for 24 h, 50% for 48 h, 100% for 7 days, analysed by AnalyzeCanary on the canary against stable since the phase started; the health monitor watches production and the canary over 5-minute windows and rolls back on a critical error rate.
- **tricycle, canary health ≥ 50 req (what-if)**: the same, except that the health hook reports no canary figures while the canary's 5-minute window holds fewer than 50 requests (the product's data plane reports any non-empty window).
- **Flagger-style**: a point-metric gate (after the 7-day minimum, the experiment's criteria checked once on point estimates, EvaluatePoint with the 5% tolerance), then Flagger's documented progression: weight 10%, 20%, 30%, 40%, 50%, one step per 1-minute interval, promotion to 100% after the 50% check passes. Each interval checks the canary's last minute: error rate above 1% (success rate below 99%), p95 above 3 s or no requests fail the check and halt advancement; failed checks accumulate and the interval that finds 5 rolls back.
- **fixed-horizon A/B**: once an experiment has the planned number of labelled reviews, two-sample z-tests at α = 5% on the shadowed requests decide once: accuracy significantly better with neither cost nor the share of requests slower than production's p95 significantly worse → promotion request; accuracy or a guardrail significantly worse → quarantine; otherwise rejected. Canaries then run tricycle's phases and analysis.

`)
	t := report.Table{Header: []string{"outcome"}, Right: []bool{false}}
	for _, r := range rs {
		t.Header = append(t.Header, r.label)
		t.Right = append(t.Right, true)
	}
	row := func(name string, cell func(r yearResult) string) {
		cells := []string{name}
		for _, r := range rs {
			cells = append(cells, cell(r))
		}
		t.AddRow(cells...)
	}
	count := func(class string, pred func(variantOutcome) bool) func(yearResult) string {
		return func(r yearResult) string { return frac(classCount(vs, r, class, pred)) }
	}
	reached := func(o variantOutcome) bool { return o.reached100 }
	row("better variants reaching 100%", count(classBetter, reached))
	row("better variants in production at year end", func(r yearResult) string {
		return frac(classCount(vs, r, classBetter, func(o variantOutcome) bool { return o.state == coordination.ExperimentPromoted }))
	})
	row("neutral variants reaching 100%", count(classNeutral, reached))
	row("worse variants reaching a canary", count(classWorse, func(o variantOutcome) bool { return o.canary }))
	row("**worse variants reaching 100%** (goal 0)", count(classWorse, reached))
	row("canaries rolled back: better · neutral · worse", func(r yearResult) string {
		rb := func(o variantOutcome) bool { return o.rolledBack }
		kb, _ := classCount(vs, r, classBetter, rb)
		kn, _ := classCount(vs, r, classNeutral, rb)
		kw, _ := classCount(vs, r, classWorse, rb)
		return fmt.Sprintf("%d · %d · %d", kb, kn, kw)
	})
	row("canary rollbacks by cause: analysis · health monitor · Flagger checks", func(r yearResult) string {
		n := map[string]int{}
		for _, o := range r.outcomes {
			if o.rolledBack {
				n[o.rollbackCause]++
			}
		}
		return fmt.Sprintf("%d · %d · %d", n[causeAnalysis], n[causeMonitor], n[causeChecks])
	})
	row("**user traffic served by worse variants** (goal < 0.5%)", func(r yearResult) string {
		return pct(r.tally.byClass[classWorse], r.tally.total)
	})
	row("user traffic served by better variants", func(r yearResult) string { return pct(r.tally.byClass[classBetter], r.tally.total) })
	row("production at year end", func(r yearResult) string { return r.prodName })
	row("production accuracy at year end (true; start 91.0%)", func(r yearResult) string {
		return fmt.Sprintf("%.1f%%", 100*r.prodEnd.Accuracy)
	})
	row("production cost per review at year end (true; start $0.0800)", func(r yearResult) string {
		return fmt.Sprintf("$%.4f", r.prodEnd.CostMean)
	})
	row("production p95 at year end (true; start 2.00 s)", func(r yearResult) string {
		return fmt.Sprintf("%.2f s", r.prodEnd.LatencyP95)
	})
	row("mean accuracy served over the year (true)", func(r yearResult) string {
		return fmt.Sprintf("%.2f%%", 100*sum(r.tally.dayAccuracy)/sum(r.tally.dayRequests))
	})
	row("mean cost per review served over the year", func(r yearResult) string {
		return fmt.Sprintf("$%.4f", sum(r.tally.dayCost)/sum(r.tally.dayRequests))
	})
	row("decisions PROMOTE · HOLD/no difference · QUARANTINE", func(r yearResult) string {
		var p, h, q int
		for _, o := range r.outcomes {
			switch o.decision {
			case "PROMOTE":
				p++
			case "HOLD":
				h++
			case "QUARANTINE":
				q++
			}
		}
		return fmt.Sprintf("%d · %d · %d", p, h, q)
	})
	row("median days in experiment", func(r yearResult) string {
		var ds []float64
		for _, o := range r.outcomes {
			if o.inExperiment > 0 {
				ds = append(ds, o.inExperiment.Hours()/24)
			}
		}
		return fmt.Sprintf("%.1f", report.Quantile(ds, 0.5))
	})
	row("coordinator passes", func(r yearResult) string { return fmt.Sprint(r.passes) })
	row("simulation time", func(r yearResult) string { return r.took.Round(time.Second).String() })
	b.WriteString(t.Markdown())

	b.WriteString("\n## Goals (tricycle)\n\n")
	tri := rs[0]
	kw, nw := classCount(vs, tri, classWorse, reached)
	kb, nb := classCount(vs, tri, classBetter, reached)
	share := float64(tri.tally.byClass[classWorse]) / float64(tri.tally.total)
	fmt.Fprintf(&b, "- Worse variants reaching 100%%: %d of %d (goal 0: %s).\n", kw, nw, goal(kw == 0))
	fmt.Fprintf(&b, "- User traffic served by worse variants: %s (goal < 0.5%%: %s).\n", pct(tri.tally.byClass[classWorse], tri.tally.total), goal(share < 0.005))
	fmt.Fprintf(&b, "- Better variants reaching 100%%: %d of %d.\n", kb, nb)

	b.WriteString("\n## Every variant\n\n")
	b.WriteString("Effect relative to the production release it was built on: factors on the miss rate (1 − accuracy), latency, cost and error rate.\n\n")
	t2 := report.Table{Header: []string{"variant", "arrives (day)", "misses", "latency", "cost", "errors"}, Right: []bool{false, true, true, true, true, true}}
	for _, r := range rs {
		t2.Header = append(t2.Header, r.label)
		t2.Right = append(t2.Right, false)
	}
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for i, v := range vs {
		cells := []string{v.name, fmt.Sprintf("%.0f", v.arrival.Sub(start).Hours()/24),
			fmt.Sprintf("×%.2f", v.effect.miss), fmt.Sprintf("×%.2f", v.effect.latency),
			fmt.Sprintf("×%.2f", v.effect.cost), fmt.Sprintf("×%.2f", v.effect.errorRate)}
		for _, r := range rs {
			cells = append(cells, describe(r.outcomes[i]))
		}
		t2.AddRow(cells...)
	}
	b.WriteString(t2.Markdown())
	return b.String()
}

// describe says what became of a variant in a few words.
func describe(o variantOutcome) string {
	days := ""
	if o.inExperiment > 0 {
		days = fmt.Sprintf(" (%.1f d)", o.inExperiment.Hours()/24)
	}
	switch {
	case o.rolledBack:
		return "rolled back from " + o.rolledBackFrom + " by " + o.rollbackCause
	case o.state == coordination.ExperimentPromoted:
		return "promoted" + days
	case o.state == coordination.ExperimentPromoting:
		return "in promotion" + days
	case o.state == "":
		return "not started"
	case o.decision == "HOLD" && o.state == coordination.ExperimentRejected:
		return "no difference" + days
	}
	return string(o.state) + days
}

func pct(k, n int64) string {
	if n == 0 {
		return "n/a"
	}
	x := float64(k) / float64(n)
	switch {
	case x == 0:
		return "0%"
	case x < 0.001:
		return fmt.Sprintf("%.3f%%", 100*x)
	}
	return fmt.Sprintf("%.2f%%", 100*x)
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

func goal(met bool) string {
	if met {
		return "met"
	}
	return "missed"
}

// charts plots the production release's true accuracy and mean cost per
// review at the end of each day.
func charts(cfg config, rs []yearResult) map[string]*svgplot.Chart {
	q := svgplot.New("Production release: true accuracy at the end of each day", "day of the year", "accuracy")
	c := svgplot.New("Production release: true mean cost per review at the end of each day", "day of the year", "dollars per review")
	for _, r := range rs {
		qs := svgplot.Series{Name: r.label, Line: true}
		cs := svgplot.Series{Name: r.label, Line: true}
		for d := range cfg.days {
			qs.Points = append(qs.Points, svgplot.P(float64(d), r.tally.dayProdAccuracy[d]))
			cs.Points = append(cs.Points, svgplot.P(float64(d), r.tally.dayProdCost[d]))
		}
		q.Series = append(q.Series, qs)
		c.Series = append(c.Series, cs)
	}
	return map[string]*svgplot.Chart{"evolution-quality.svg": q, "evolution-cost.svg": c}
}

// Command canarysim measures canary detection: a seeded simulator on a
// virtual clock replays review traffic through tricycle's canary analysis
// (coordination.AnalyzeCanary with the default policy, evaluated every
// second on the phase's accumulated canary and stable counts) and, on the
// same streams, through a Flagger-style fixed-threshold policy and a
// fixed-horizon z-test peeked every 10 seconds. It reports seconds and
// canary requests until rollback for error-rate and latency regressions,
// and the false-rollback rate of A/A runs.
//
//	go run ./bench/canarysim [-seed 1] [-runs 100] [-runs-high 20] [-aa-runs 1000] [-aa-runs-high 50] [-cap 30m]
//
// It writes bench/results/canarysim.md and two SVG plots, and prints the
// tables.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tricyclehq/tricycle/bench/internal/pool"
	"github.com/tricyclehq/tricycle/bench/internal/report"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "canarysim:", err)
		os.Exit(1)
	}
}

// config holds the command's flags.
type config struct {
	seed       uint64
	runs       int
	runsHigh   int
	aaRuns     int
	aaRunsHigh int
	capacity   time.Duration
	out        string
	workers    int
}

func parseFlags(args []string, usage io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("canarysim", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.Uint64Var(&c.seed, "seed", 1, "base seed of every random stream")
	fs.IntVar(&c.runs, "runs", 100, "runs per regression scenario at 10 and 100 requests/s")
	fs.IntVar(&c.runsHigh, "runs-high", 20, "runs per regression scenario at 1,000 requests/s")
	fs.IntVar(&c.aaRuns, "aa-runs", 1000, "A/A runs at 10 and 100 requests/s")
	fs.IntVar(&c.aaRunsHigh, "aa-runs-high", 50, "A/A runs at 1,000 requests/s")
	fs.DurationVar(&c.capacity, "cap", 30*time.Minute, "virtual time after which a regression counts as not detected")
	fs.StringVar(&c.out, "out", filepath.Join("bench", "results"), "directory for the results")
	fs.IntVar(&c.workers, "workers", 0, "goroutines (0: GOMAXPROCS); results do not depend on it")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.runs < 1 || c.runsHigh < 1 || c.aaRuns < 1 || c.aaRunsHigh < 1:
		return c, fmt.Errorf("-runs, -runs-high, -aa-runs and -aa-runs-high must be at least 1")
	case c.capacity < time.Minute || c.capacity%time.Second != 0:
		return c, fmt.Errorf("-cap %s must be whole seconds and at least a minute", c.capacity)
	}
	return c, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	began := time.Now()
	capSeconds := int(cfg.capacity / time.Second)

	var regs []scenario
	for _, rps := range []float64{10, 100, 1000} {
		for _, w := range []float64{0.10, 0.50} {
			for _, r := range regressions {
				regs = append(regs, scenario{rps: rps, weight: w, reg: r})
			}
		}
	}
	aas := []aaSpec{
		{scenario{rps: 10, weight: 0.10, reg: noRegression}, cfg.aaRuns},
		{scenario{rps: 100, weight: 0.10, reg: noRegression}, cfg.aaRuns},
		{scenario{rps: 1000, weight: 0.10, reg: noRegression}, cfg.aaRunsHigh},
	}

	// One job per run, over every scenario, so both cores stay busy.
	type job struct{ sc, run int }
	var jobs []job
	results := make([][]runResult, len(regs)+len(aas))
	for i, sc := range regs {
		n := cfg.runs
		if sc.rps >= 1000 {
			n = cfg.runsHigh
		}
		results[i] = make([]runResult, n)
		for r := range n {
			jobs = append(jobs, job{i, r})
		}
	}
	for j, a := range aas {
		i := len(regs) + j
		results[i] = make([]runResult, a.runs)
		for r := range a.runs {
			jobs = append(jobs, job{i, r})
		}
	}
	scenarioOf := func(i int) scenario {
		if i < len(regs) {
			return regs[i]
		}
		return aas[i-len(regs)].sc
	}
	pool.Run(len(jobs), cfg.workers, func(k int) {
		if ctx.Err() != nil {
			return
		}
		j := jobs[k]
		results[j.sc][j.run] = simulate(scenarioOf(j.sc), capSeconds, cfg.seed, j.run)
	})
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("simulate: %w", err)
	}

	rep := summarize(regs, aas, results, capSeconds)
	md := rep.markdown(cfg, args, time.Since(began))
	if _, err := io.WriteString(out, md); err != nil {
		return fmt.Errorf("print results: %w", err)
	}
	if err := report.WriteFile(ctx, filepath.Join(cfg.out, "canarysim.md"), []byte(md)); err != nil {
		return err
	}
	for name, chart := range rep.charts(capSeconds) {
		if err := report.WriteFile(ctx, filepath.Join(cfg.out, name), chart.SVG()); err != nil {
			return err
		}
	}
	return nil
}

// aaSpec is an A/A traffic level and its number of runs.
type aaSpec struct {
	sc   scenario
	runs int
}

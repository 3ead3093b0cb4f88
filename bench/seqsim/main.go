// Command seqsim measures the evaluator's sequential decisions: the
// false-decision rate when an A/A experiment is looked at after every batch
// of samples (tricycle's EvaluateSamples and its confidence sequences
// against a fixed-horizon test peeked at the same looks), and the samples a
// confidence sequence needs to decide against a fixed-horizon test sized for
// 80% power at 1× and 2× the minimum detectable effect.
//
//	go run ./bench/seqsim [-seed 1] [-runs 500] [-n 20000] [-batch 100] [-power-runs 200] [-cap 100000]
//
// It writes bench/results/seqsim.md and two SVG plots, and prints the
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
		fmt.Fprintln(os.Stderr, "seqsim:", err)
		os.Exit(1)
	}
}

// config holds the command's flags.
type config struct {
	seed                  uint64
	runs, n, batch        int
	powerRuns, capSamples int
	out                   string
	workers               int
}

func parseFlags(args []string, usage io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("seqsim", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.Uint64Var(&c.seed, "seed", 1, "base seed of every random stream")
	fs.IntVar(&c.runs, "runs", 500, "A/A runs")
	fs.IntVar(&c.n, "n", 20000, "requests per A/A run (the horizon N)")
	fs.IntVar(&c.batch, "batch", 100, "requests between two looks")
	fs.IntVar(&c.powerRuns, "power-runs", 200, "runs per effect size")
	fs.IntVar(&c.capSamples, "cap", 100000, "requests after which a power run stops undecided")
	fs.StringVar(&c.out, "out", filepath.Join("bench", "results"), "directory for the results")
	fs.IntVar(&c.workers, "workers", 0, "goroutines (0: GOMAXPROCS); results do not depend on it")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.runs < 1 || c.powerRuns < 1 || c.batch < 1 || c.n < c.batch || c.capSamples < c.batch {
		return c, fmt.Errorf("need -runs and -power-runs >= 1, -batch >= 1, and -n and -cap at least -batch")
	}
	return c, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	began := time.Now()
	rows := powerRows()
	aa := make([]aaRun, cfg.runs)
	pw := make([][]powerRun, len(rows))
	for i := range pw {
		pw[i] = make([]powerRun, cfg.powerRuns)
	}
	jobs := cfg.runs + len(rows)*cfg.powerRuns
	pool.Run(jobs, cfg.workers, func(k int) {
		if ctx.Err() != nil {
			return
		}
		if k < cfg.runs {
			aa[k] = simulateAA(cfg.seed, k, cfg.n, cfg.batch)
			return
		}
		k -= cfg.runs
		ri, r := k/cfg.powerRuns, k%cfg.powerRuns
		pw[ri][r] = simulatePower(rows[ri], ri, cfg.seed, r, cfg.batch, cfg.capSamples)
	})
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	s := summarize(cfg, rows, aa, pw)
	md := s.markdown(args, time.Since(began))
	if _, err := io.WriteString(out, md); err != nil {
		return fmt.Errorf("print results: %w", err)
	}
	if err := report.WriteFile(ctx, filepath.Join(cfg.out, "seqsim.md"), []byte(md)); err != nil {
		return err
	}
	for name, c := range s.charts() {
		if err := report.WriteFile(ctx, filepath.Join(cfg.out, name), c.SVG()); err != nil {
			return err
		}
	}
	return nil
}

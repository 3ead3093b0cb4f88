// Command evolution simulates a year of the self-evolving cycle through the
// real coordination code: a LifecycleCoordinator on the memory store and a
// manual clock, with measurement hooks fed by per-request sampling into
// window.Aggregates. Fifty candidate variants arrive over the year (a
// quarter better than production, half neutral, a quarter worse on
// accuracy, latency and cost); a proposal source brings each one to the
// generator, an admin accepts and starts it, the evaluator decides, the
// admin approves promotions after validation and canaries run with the
// health monitor watching. The same year (same variants, same seeds) is run
// under a Flagger-style release (point-metric gate, fixed-threshold
// progressive canary) and a fixed-horizon A/B gate.
//
//	go run ./bench/evolution [-seed 1] [-rps 2] [-variants 50] [-days 365] [-step 1h] [-canary-step 5m]
//
// It writes bench/results/evolution.md and two SVG plots, and prints the
// tables.
package main

import (
	"context"
	"errors"
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
		fmt.Fprintln(os.Stderr, "evolution:", err)
		os.Exit(1)
	}
}

// config holds the command's flags.
type config struct {
	seed       uint64
	rps        float64
	variants   int
	days       int
	step       time.Duration
	canaryStep time.Duration
	mde        float64
	out        string
	workers    int
}

// warmUp is the first stretch of the year, before any variant arrives, so
// that production has a week of measurements to set criteria from.
const warmUp = 7 * 24 * time.Hour

func parseFlags(args []string, usage io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("evolution", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.Uint64Var(&c.seed, "seed", 1, "base seed of every random stream")
	fs.Float64Var(&c.rps, "rps", 2, "mean user review requests per second (weekly pattern around it)")
	fs.IntVar(&c.variants, "variants", 50, "candidate variants arriving over the year")
	fs.IntVar(&c.days, "days", 365, "simulated days")
	fs.DurationVar(&c.step, "step", time.Hour, "virtual time between coordinator passes")
	fs.DurationVar(&c.canaryStep, "canary-step", 5*time.Minute, "virtual time between coordinator passes while a canary is in its phases")
	fs.Float64Var(&c.mde, "mde", 0.015, "accuracy effect the fixed-horizon A/B test is sized for (fraction)")
	fs.StringVar(&c.out, "out", filepath.Join("bench", "results"), "directory for the results")
	fs.IntVar(&c.workers, "workers", 0, "goroutines (0: GOMAXPROCS); results do not depend on it")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	if !(c.rps > 0 && c.rps <= 1000) {
		errs = append(errs, fmt.Errorf("-rps %v must be within (0, 1000]", c.rps))
	}
	if c.variants < 4 || c.variants > 1000 {
		errs = append(errs, fmt.Errorf("-variants %d must be within 4-1000", c.variants))
	}
	if c.days < 30 || c.days > 3650 {
		errs = append(errs, fmt.Errorf("-days %d must be within 30-3650", c.days))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"-step", c.step}, {"-canary-step", c.canaryStep}} {
		if d.v < time.Minute || d.v%time.Minute != 0 || (24*time.Hour)%d.v != 0 {
			errs = append(errs, fmt.Errorf("%s %s must be whole minutes dividing a day", d.name, d.v))
		}
	}
	if !(c.mde > 0 && c.mde < 0.5) {
		errs = append(errs, fmt.Errorf("-mde %v must be within (0, 0.5)", c.mde))
	}
	return c, errors.Join(errs...)
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	began := time.Now()
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday
	year := time.Duration(cfg.days) * 24 * time.Hour
	// Arrivals leave the last two weeks free so every experiment can reach
	// its maximum evaluation period.
	variants := drawVariants(cfg.seed, start.Add(warmUp), year-warmUp-14*24*time.Hour, cfg.variants)
	canaryStep := int(cfg.canaryStep / time.Minute)
	policies := []func() policy{
		func() policy { return tricyclePolicy{canaryStep: canaryStep} },
		func() policy { return tricyclePolicy{canaryStep: canaryStep, healthMin: 50} },
		func() policy { return &flaggerPolicy{maxErrorRate: 0.01, maxP95: 3, threshold: 5} },
		func() policy { return newFixedPolicy(cfg.mde, canaryStep) },
	}
	results := make([]yearResult, len(policies))
	errs := make([]error, len(policies))
	pool.Run(len(policies), cfg.workers, func(i int) {
		results[i], errs[i] = runYear(ctx, policies[i](), cfg.seed, start, cfg.days, cfg.rps, cfg.step, variants)
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	fixed := newFixedPolicy(cfg.mde, canaryStep)
	md := markdown(cfg, args, variants, results, fixed.labels, time.Since(began))
	if _, err := io.WriteString(out, md); err != nil {
		return fmt.Errorf("print results: %w", err)
	}
	if err := report.WriteFile(ctx, filepath.Join(cfg.out, "evolution.md"), []byte(md)); err != nil {
		return err
	}
	for name, c := range charts(cfg, results) {
		if err := report.WriteFile(ctx, filepath.Join(cfg.out, name), c.SVG()); err != nil {
			return err
		}
	}
	return nil
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// clockTicks is the kernel's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat (100 on every mainstream Linux build).
const clockTicks = 100

// child is a started process of this program.
type child struct {
	cmd *exec.Cmd
	url string
}

// startChild runs this program with args and waits for its LISTEN line.
func startChild(ctx context.Context, exe string, args ...string) (*child, error) {
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %v: %w", args, err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%v exited before listening", args)
	}
	url, ok := strings.CutPrefix(sc.Text(), "LISTEN ")
	if !ok {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%v printed %q, want LISTEN <url>", args, sc.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return &child{cmd: cmd, url: url}, nil
}

// stop kills the child and waits for it: the program may exit right after
// run returns, before exec.CommandContext's own watcher would kill it.
func (c *child) stop() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// cpuSeconds reads a process's user+system CPU time.
func cpuSeconds(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (ut + st) / clockTicks, nil
}

// target is where the load generator sends requests.
type target struct {
	name string
	url  string
	pid  int // the proxy process (0 for direct)
}

// roundStat is one load run: its latency percentiles (µs), its proxy's CPU
// per request (µs) and its counts.
type roundStat struct {
	p50, p99, cpu    float64
	requests, errors int
}

// tally collects one (target, mode) over the rounds.
type tally struct {
	rounds []roundStat
}

func run(ctx context.Context, cfg config) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.maxTime)
	defer cancel()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	up, err := startChild(ctx, exe, "-role", "upstream")
	if err != nil {
		return err
	}
	defer up.stop()
	plain, err := startChild(ctx, exe, "-role", "proxy", "-kind", "plain", "-upstream", up.url)
	if err != nil {
		return err
	}
	defer plain.stop()
	tri, err := startChild(ctx, exe, "-role", "proxy", "-kind", "tricycle", "-upstream", up.url)
	if err != nil {
		return err
	}
	defer tri.stop()
	targets := []target{{"direct", up.url, 0}, {"plain proxy", plain.url, plain.cmd.Process.Pid},
		{"tricycle gateway", tri.url, tri.cmd.Process.Pid}}
	modes := []string{"seq", "rate"}
	tallies := map[string]*tally{}
	for round := range cfg.rounds {
		for k := range targets {
			tg := targets[(round+k)%len(targets)]
			for _, mode := range modes {
				res, cpu, err := loadRun(ctx, exe, cfg, tg, mode)
				if err != nil {
					return fmt.Errorf("round %d, %s, %s: %w", round+1, tg.name, mode, err)
				}
				t := tallies[tg.name+"/"+mode]
				if t == nil {
					t = &tally{}
					tallies[tg.name+"/"+mode] = t
				}
				n := len(res.LatenciesUS) + res.Errors
				t.rounds = append(t.rounds, roundStat{p50: quantile(res.LatenciesUS, 0.5), p99: quantile(res.LatenciesUS, 0.99),
					cpu: 1e6 * cpu / float64(max(n, 1)), requests: n, errors: res.Errors})
				fmt.Fprintf(os.Stderr, "round %d %-17s %-4s p50 %7.0f µs  p99 %7.0f µs  errors %d\n", round+1, tg.name, mode,
					quantile(res.LatenciesUS, 0.5), quantile(res.LatenciesUS, 0.99), res.Errors)
			}
		}
	}
	report(os.Stdout, cfg, targets, modes, tallies)
	return nil
}

// loadRun runs the load generator once and returns its result and the CPU
// the target's proxy used meanwhile.
func loadRun(ctx context.Context, exe string, cfg config, tg target, mode string) (loadResult, float64, error) {
	var before float64
	if tg.pid != 0 {
		var err error
		if before, err = cpuSeconds(tg.pid); err != nil {
			return loadResult{}, 0, err
		}
	}
	cmd := exec.CommandContext(ctx, exe, "-role", "load", "-target", tg.url, "-mode", mode, "-n", strconv.Itoa(cfg.n),
		"-rate", strconv.FormatFloat(cfg.rate, 'f', -1, 64), "-warmup", strconv.Itoa(cfg.warmup),
		"-run-timeout", cfg.runTimeout.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return loadResult{}, 0, fmt.Errorf("load generator: %w", err)
	}
	var res loadResult
	if err := json.Unmarshal(out, &res); err != nil {
		return loadResult{}, 0, fmt.Errorf("load generator output: %w", err)
	}
	var cpu float64
	if tg.pid != 0 {
		after, err := cpuSeconds(tg.pid)
		if err != nil {
			return loadResult{}, 0, err
		}
		// The warm-up requests ran in the same window.
		cpu = (after - before) * float64(cfg.n) / float64(cfg.n+cfg.warmup)
	}
	return res, cpu, nil
}

// quantile returns the q-quantile of xs (nearest rank).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// median returns the median of f over the rounds.
func median(rs []roundStat, f func(roundStat) float64) float64 {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = f(r)
	}
	return quantile(xs, 0.5)
}

// report prints the Markdown table of the README: for each target and mode
// the median over the rounds of each round's figure, and the added latency
// as the median over rounds of (target − direct in the same round).
func report(w io.Writer, cfg config, targets []target, modes []string, tallies map[string]*tally) {
	fmt.Fprintf(w, "\n%d rounds × %d requests per target and mode (+%d warm-up), rate mode at %.0f req/s; %s/%s, %d CPUs, %s\n",
		cfg.rounds, cfg.n, cfg.warmup, cfg.rate, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(w, "Figures are medians over the rounds of each round's value.\n\n")
	fmt.Fprintln(w, "| mode | target | requests | errors | p50 | p99 | added p50 | added p99 | proxy CPU / request |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|")
	type added struct{ p50, p99, cpu float64 }
	for _, mode := range modes {
		d := tallies["direct/"+mode].rounds
		adds := map[string]added{}
		for _, tg := range targets {
			rs := tallies[tg.name+"/"+mode].rounds
			var reqs, errs int
			for _, r := range rs {
				reqs, errs = reqs+r.requests, errs+r.errors
			}
			a50, a99, cpu := "—", "—", "—"
			if tg.pid != 0 {
				diff := make([]roundStat, len(rs))
				for i, r := range rs {
					diff[i] = roundStat{p50: r.p50 - d[i].p50, p99: r.p99 - d[i].p99, cpu: r.cpu}
				}
				ad := added{median(diff, func(r roundStat) float64 { return r.p50 }),
					median(diff, func(r roundStat) float64 { return r.p99 }), median(rs, func(r roundStat) float64 { return r.cpu })}
				adds[tg.name] = ad
				a50, a99, cpu = us(ad.p50), us(ad.p99), us(ad.cpu)
			}
			fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %s | %s | %s | %s |\n", modeName(mode), tg.name, reqs, errs,
				us(median(rs, func(r roundStat) float64 { return r.p50 })), us(median(rs, func(r roundStat) float64 { return r.p99 })),
				a50, a99, cpu)
		}
		p, g := adds["plain proxy"], adds["tricycle gateway"]
		fmt.Fprintf(w, "| %s | **gateway ÷ plain proxy** | | | | | **%s** | **%s** | **%s** |\n", modeName(mode),
			ratio(g.p50, p.p50), ratio(g.p99, p.p99), ratio(g.cpu, p.cpu))
	}
}

func modeName(m string) string {
	if m == "seq" {
		return "one at a time"
	}
	return "constant rate"
}

func us(v float64) string {
	if v >= 1000 || v <= -1000 {
		return fmt.Sprintf("%.2f ms", v/1000)
	}
	return fmt.Sprintf("%.0f µs", v)
}

func ratio(a, b float64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

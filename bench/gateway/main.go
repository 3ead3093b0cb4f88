// Command gateway measures what the tricycle gateway adds to a review
// request compared with a plain reverse proxy in front of the same
// OpenAI-compatible upstream.
//
// It runs as several processes of this one program, told apart by -role:
// a zero-delay fake upstream (an OpenAI-compatible server on loopback that
// answers a fixed JSON findings document), the proxy under test (either a
// plain httputil.ReverseProxy or the tricycle gateway with an openai-provider
// production variant pointing at the upstream, a canary at 10%, one running
// experiment shadowing 5% through the in-process bus to an experiments
// worker, and metrics on), and the load generator. The parent (-role run,
// the default) starts the upstream and both proxies, then runs the load
// generator against the upstream directly, the plain proxy and the gateway
// in rotating order over several rounds, each time one request at a time
// and at a constant arrival rate. Latency at a constant rate is measured
// from each request's intended send time, so a stall delays every request
// it holds up (coordinated omission corrected). CPU per request is the
// proxy process's utime+stime from /proc/<pid>/stat over a run, divided by
// its requests. The table reports, for each figure, the median over the
// rounds of each round's value, so that one disturbed round (the machine is
// shared) does not decide the result; added latency is taken against the
// direct run of the same round.
//
//	go run ./bench/gateway -rounds 5 -n 2000 -rate 300
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.role, "role", "run", "run | upstream | proxy | load")
	flag.StringVar(&cfg.kind, "kind", "plain", "proxy: plain | tricycle")
	flag.StringVar(&cfg.upstream, "upstream", "", "proxy: the upstream base URL")
	flag.StringVar(&cfg.target, "target", "", "load: the base URL to send chat completions to")
	flag.StringVar(&cfg.mode, "mode", "seq", "load: seq (one at a time) | rate (constant arrival rate)")
	flag.IntVar(&cfg.n, "n", 2000, "requests per load run")
	flag.Float64Var(&cfg.rate, "rate", 300, "requests per second in rate mode")
	flag.IntVar(&cfg.rounds, "rounds", 5, "interleaved rounds")
	flag.IntVar(&cfg.warmup, "warmup", 200, "requests sent to each target before measuring")
	flag.DurationVar(&cfg.runTimeout, "run-timeout", 90*time.Second, "bound of one load run")
	flag.DurationVar(&cfg.maxTime, "max-time", 10*time.Minute, "bound of the whole benchmark")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch cfg.role {
	case "run":
		err = run(ctx, cfg)
	case "upstream":
		err = serveUpstream(ctx)
	case "proxy":
		err = serveProxy(ctx, cfg)
	case "load":
		err = load(ctx, cfg)
	default:
		err = fmt.Errorf("unknown role %q", cfg.role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway bench:", err)
		os.Exit(1)
	}
}

// config is every role's flags.
type config struct {
	role, kind, upstream, target, mode string
	n, rounds, warmup                  int
	rate                               float64
	runTimeout, maxTime                time.Duration
}

package gateway

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/golden"
)

// DefaultProbeCases is how many golden cases one probe run replays.
const DefaultProbeCases = 3

// ProberOptions configure a Prober. Cases is required.
type ProberOptions struct {
	// Cases is the labelled set probes are drawn from (golden.Load).
	Cases []golden.Case
	// N is how many cases one run replays (DefaultProbeCases, at most
	// len(Cases)).
	N int
	// Seed makes the choice of cases reproducible: run k of a prober draws
	// from a generator seeded with (Seed, k).
	Seed uint64
	// Recorder receives the probe/production outcomes; nil means the
	// gateway's recorder.
	Recorder Recorder
	// Timeout bounds one probe review (the gateway's timeout when zero).
	Timeout time.Duration
}

// Prober replays a few labelled golden cases through the production variant
// on a schedule and records them as probe/production outcomes with
// Labelled, Correct and TP/FP/FN: the health monitor's accuracy_rate.
// Probes never go to the canary, are never shadowed and are not stored as
// user reviews. It is safe for concurrent use.
type Prober struct {
	g    *Gateway
	opts ProberOptions
	rec  Recorder

	mu   sync.Mutex // guards runs
	runs uint64
}

// ProbeResult is the outcome of one replayed case.
type ProbeResult struct {
	CaseID  string `json:"case_id"`
	Correct bool   `json:"correct"`
	TP      int    `json:"tp"`
	FP      int    `json:"fp"`
	FN      int    `json:"fn"`
	Error   string `json:"error,omitempty"`
}

// ProbeReport is what one run did.
type ProbeReport struct {
	Variant string        `json:"variant"`
	Results []ProbeResult `json:"results"`
}

// NewProber returns a prober replaying opts.Cases through g's production
// variant.
func NewProber(g *Gateway, opts ProberOptions) (*Prober, error) {
	if g == nil || len(opts.Cases) == 0 {
		return nil, errors.New("new prober: a gateway and at least one golden case are required")
	}
	if opts.N < 0 || opts.Timeout < 0 {
		return nil, errors.New("new prober: N and Timeout must not be negative")
	}
	if opts.N == 0 {
		opts.N = DefaultProbeCases
	}
	opts.N = min(opts.N, len(opts.Cases))
	if opts.Timeout == 0 {
		opts.Timeout = g.opts.Timeout
	}
	p := &Prober{g: g, opts: opts, rec: opts.Recorder}
	if p.rec == nil {
		p.rec = g.rec
	}
	return p, nil
}

// pick draws the cases of the next run without repetition.
func (p *Prober) pick() []golden.Case {
	p.mu.Lock()
	run := p.runs
	p.runs++
	p.mu.Unlock()
	rng := rand.New(rand.NewPCG(p.opts.Seed, run))
	idx := rng.Perm(len(p.opts.Cases))[:p.opts.N]
	out := make([]golden.Case, len(idx))
	for i, j := range idx {
		out[i] = p.opts.Cases[j]
	}
	return out
}

// RunOnce replays the next run's cases through the production variant and
// records one outcome per case. A reviewer error is recorded as an error
// (not as a wrong answer) and does not stop the run; RunOnce fails only when
// there is no production variant or ctx ends.
func (p *Prober) RunOnce(ctx context.Context) (ProbeReport, error) {
	t, err := p.g.router.current(ctx)
	if err != nil {
		return ProbeReport{}, fmt.Errorf("probe: %w: %w", ErrUnavailable, err)
	}
	if t.prod == nil {
		return ProbeReport{}, fmt.Errorf("probe: %w: production variant %s: %w", ErrUnavailable, t.prodName, t.prodErr)
	}
	rep := ProbeReport{Variant: t.prodName}
	for _, c := range p.pick() {
		cp := &capture{next: t.prod, timeout: p.opts.Timeout}
		scored, err := golden.Score(ctx, cp, []golden.Case{c})
		if err != nil {
			return rep, fmt.Errorf("probe case %s: %w", c.ID, err)
		}
		cr := scored.Cases[0]
		res := ProbeResult{CaseID: c.ID, Correct: cr.Passed(), TP: cr.TP, FP: cr.FP, FN: cr.FN, Error: cr.Err}
		ok := cr.Err == ""
		p.rec.Record(Outcome{At: p.g.clock.Now(), Series: SeriesProbe, Variant: t.prodName, Latency: cp.res.Latency,
			Error: !ok, InputTokens: cp.res.Usage.InputTokens, OutputTokens: cp.res.Usage.OutputTokens,
			CostUSD: cp.res.Usage.CostUSD, Labelled: ok, Correct: ok && res.Correct, TP: cr.TP, FP: cr.FP, FN: cr.FN})
		switch {
		case !ok:
			p.g.metrics.probeResult("error")
		case res.Correct:
			p.g.metrics.probeResult("correct")
		default:
			p.g.metrics.probeResult("incorrect")
		}
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

// Run calls RunOnce every interval until ctx ends; errors are logged.
func (p *Prober) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("run prober: interval %s must be positive", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := p.RunOnce(ctx); err != nil && ctx.Err() == nil {
			p.g.log.Warn("golden probe run failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// capture reviews under a timeout and keeps the last result.
type capture struct {
	next    review.Reviewer
	timeout time.Duration
	res     review.Result
}

// Review calls the next reviewer and keeps its result.
func (c *capture) Review(ctx context.Context, req review.Request) (review.Result, error) {
	res, err := invokeReviewer(ctx, c.next, req, c.timeout)
	c.res = res
	return res, err
}

// Eval scores variant v on labelled cases (tricycle eval --variant NAME):
// precision, recall and F1 (the product's accuracy) overall, by category and
// by language. A variant the registry cannot build is an error; a review
// that fails on a case is recorded in that case's result.
func Eval(ctx context.Context, reg *Registry, v coordination.Variant, cases []golden.Case) (golden.Report, error) {
	rv, err := reg.Reviewer(v)
	if err != nil {
		return golden.Report{}, fmt.Errorf("eval %s: %w", v.Name, err)
	}
	rep, err := golden.Score(ctx, rv, cases)
	if err != nil {
		return golden.Report{}, fmt.Errorf("eval %s: %w", v.Name, err)
	}
	return rep, nil
}

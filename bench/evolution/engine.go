package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tricyclehq/tricycle/bench/internal/traffic"
	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
	"github.com/tricyclehq/tricycle/coordination/decision"
	"github.com/tricyclehq/tricycle/internal/window"
)

// shadowShare is the share of production requests copied to each running
// experiment (the default shadow_percent, 5%).
const shadowShare = 0.05

// canaryRoute is the promotion in its phases, as routing sees it.
type canaryRoute struct {
	id, name   string
	percent    int
	phaseStart time.Time
}

// shadowExp is a running experiment's measurements: its shadow results
// (cand) and production's answers to the same requests (base), since it
// started.
type shadowExp struct {
	id, name   string
	started    time.Time
	cand, base window.Aggregate
}

// world is one simulated year under one policy: the coordinator on the
// memory store and a manual clock, the traffic model, the measurement
// hooks' aggregates and the tallies.
type world struct {
	pol      policy
	seed     uint64
	clock    *coordinationtest.ManualClock
	coord    *coordination.LifecycleCoordinator
	rate     rate
	variants []variant

	// profiles holds each version's true profile (before daily noise):
	// the initial release under "baseline", a variant from when its
	// experiment started (its effect applied to the production of then).
	profiles map[string]traffic.Profile
	classOf  map[string]string
	proposed map[int]bool

	// Routing, refreshed from the store after each coordinator pass.
	prodName string
	canary   *canaryRoute
	exps     map[string]*shadowExp
	expOrder []string

	// Measurement windows and aggregates behind the hooks.
	prodHealth, canaryHealth *window.Window
	phaseCanary, phaseStable *window.Aggregate
	canaryMinute             window.Aggregate
	trailing                 *window.Window
	userRNG                  *rand.Rand
	shadowRNG                map[string]*rand.Rand
	day                      int
	noise                    noise
	samplers                 map[string]*traffic.Sampler
	tally                    tally
	passes                   int
	// inExperiment is how long each finished experiment ran; gateDecision
	// the decision a policy's own gate took.
	inExperiment map[string]time.Duration
	gateDecision map[string]string
}

// tally counts what users were served.
type tally struct {
	byClass map[string]int64
	total   int64
	// daily series: requests, true accuracy sum, cost sum, and the
	// production release's true accuracy and mean cost at the day's end.
	dayRequests, dayAccuracy, dayCost []float64
	dayProdAccuracy, dayProdCost      []float64
}

// newWorld builds the coordinator with the policy's options and the hooks.
func newWorld(pol policy, seed uint64, start time.Time, days int, meanRate float64, variants []variant) (*world, error) {
	w := &world{
		pol: pol, seed: seed, clock: coordinationtest.NewManualClock(start), rate: newRate(meanRate), variants: variants,
		profiles: map[string]traffic.Profile{"baseline": initialProduction}, classOf: map[string]string{"baseline": classInitial},
		proposed: map[int]bool{}, prodName: "baseline", exps: map[string]*shadowExp{},
		prodHealth: window.NewWindow(time.Minute, 10), canaryHealth: window.NewWindow(time.Minute, 10),
		phaseCanary: &window.Aggregate{}, phaseStable: &window.Aggregate{},
		trailing: window.NewWindow(24*time.Hour, 7), userRNG: traffic.RNG(seed, 300),
		shadowRNG: map[string]*rand.Rand{}, day: -1, samplers: map[string]*traffic.Sampler{},
		inExperiment: map[string]time.Duration{}, gateDecision: map[string]string{},
		tally: tally{byClass: map[string]int64{}, dayRequests: make([]float64, days), dayAccuracy: make([]float64, days),
			dayCost: make([]float64, days), dayProdAccuracy: make([]float64, days), dayProdCost: make([]float64, days)},
	}
	for _, v := range variants {
		w.classOf[v.name] = v.class
	}
	opts := coordination.Options{
		Clock:         w.clock,
		Config:        pol.config(),
		Production:    coordination.Variant{Name: "baseline", Provider: coordination.ProviderSimulated, Model: "baseline", Strategy: coordination.StrategySingle},
		HealthMetrics: w.healthMetrics,
		Sources:       []coordination.ProposalSource{roadmap{w: w}},
		PollInterval:  time.Hour,
	}
	if pol.sequentialGate() {
		opts.Measurements = w.measurements
	}
	if pol.canaryAnalysis() {
		opts.CanaryMetrics = w.canaryMetrics
	}
	c, err := coordination.NewLifecycleCoordinator(opts)
	if err != nil {
		return nil, fmt.Errorf("new coordinator: %w", err)
	}
	w.coord = c
	return w, nil
}

// measured is an aggregate as the evaluator reads it.
func measured(a *window.Aggregate) decision.Measured {
	m := decision.Measured{Requests: a.Requests, Errors: a.Errors, Labelled: a.Labelled, Correct: a.Correct,
		CostSum: a.CostSum, CostSumSq: a.CostSumSq, CostMax: costCap}
	if a.Count() > 0 {
		m.Latency = a
	}
	return m
}

// measurements is the Measurements hook: an experiment's shadow results
// and production's answers to the same requests since it started.
func (w *world) measurements(_ context.Context, e *coordination.Experiment, _ time.Time) (cand, base decision.Measured, err error) {
	x := w.exps[e.ID]
	if x == nil {
		return cand, base, nil
	}
	return measured(&x.cand), measured(&x.base), nil
}

// canaryMetrics is the CanaryMetrics hook: the canary and the stable
// release since the current phase started.
func (w *world) canaryMetrics(_ context.Context, p *coordination.PromotionRequest, since time.Time) (canary, stable decision.Measured, err error) {
	if w.canary == nil || w.canary.id != p.RequestID || !w.canary.phaseStart.Equal(since) {
		return canary, stable, nil
	}
	return measured(w.phaseCanary), measured(w.phaseStable), nil
}

// healthMetrics is the HealthMetrics hook: a target's sample over the
// window ending now; a value is present only when there are data for it.
func (w *world) healthMetrics(_ context.Context, target string, span time.Duration) (coordination.HealthSample, error) {
	out := coordination.HealthSample{Values: map[string]float64{}}
	var win *window.Window
	switch target {
	case coordination.TargetProduction:
		win = w.prodHealth
	case coordination.TargetCanary:
		if w.canary == nil {
			return out, nil
		}
		win = w.canaryHealth
	default:
		return out, fmt.Errorf("health metrics: unknown target %q", target)
	}
	a := win.Aggregate(w.clock.Now(), span)
	if target == coordination.TargetCanary && a.Requests < w.pol.canaryHealthMin() {
		return out, nil
	}
	out.Requests, out.Errors = a.Requests, a.Errors
	out.SlowRequests = a.CountAbove(3 * time.Second)
	if a.Requests > 0 {
		out.Values["error_rate"] = a.ErrorRate()
	}
	if a.Count() > 0 {
		out.LatencyP95 = a.Quantile(0.95)
		out.Values["latency_p95"] = out.LatencyP95
	}
	if a.Labelled > 0 {
		out.Values["accuracy_rate"] = a.AccuracyRate()
	}
	return out, nil
}

// sampler returns name's sampler under the day's noise.
func (w *world) sampler(name string) *traffic.Sampler {
	if s, ok := w.samplers[name]; ok {
		return s
	}
	s := traffic.MustSampler(w.noise.apply(w.profiles[name]))
	w.samplers[name] = s
	return s
}

// newDay switches to day d's noise.
func (w *world) newDay(d int) {
	w.day = d
	w.noise = dayNoise(w.seed, d)
	clear(w.samplers)
}

// simulateMinute replays the user requests arriving in [t, t+1 min):
// routed to the canary by its traffic share, otherwise served by
// production and copied to each running experiment with probability 5%.
func (w *world) simulateMinute(t time.Time, minuteIndex int) {
	arrivals := traffic.RNG(w.seed, 400, uint64(minuteIndex))
	n := traffic.Poisson(arrivals, w.rate.at(t)*60)
	d := w.day
	for range n {
		ts := t.Add(time.Duration(arrivals.Float64() * float64(time.Minute)))
		if w.canary != nil && w.userRNG.Float64()*100 < float64(w.canary.percent) {
			o := w.sampler(w.canary.name).Observe(w.userRNG)
			w.canaryHealth.Observe(ts, o)
			w.phaseCanary.Add(o)
			w.canaryMinute.Add(o)
			w.count(d, w.canary.name, o)
			continue
		}
		o := w.sampler(w.prodName).Observe(w.userRNG)
		w.prodHealth.Observe(ts, o)
		if w.canary != nil {
			w.phaseStable.Add(o)
		}
		if o.Labelled || o.CostUSD > 0 {
			w.trailing.Observe(ts, window.Observation{Error: o.Error, CostUSD: o.CostUSD, Labelled: o.Labelled, Correct: o.Correct})
		}
		w.count(d, w.prodName, o)
		for _, id := range w.expOrder {
			x := w.exps[id]
			rng := w.shadowRNG[x.name]
			if rng.Float64() >= shadowShare {
				continue
			}
			x.cand.Add(w.sampler(x.name).Observe(rng))
			x.base.Add(o)
		}
	}
}

// count records one served request.
func (w *world) count(d int, name string, o window.Observation) {
	w.tally.byClass[w.classOf[name]]++
	w.tally.total++
	w.tally.dayRequests[d]++
	w.tally.dayAccuracy[d] += w.profiles[name].Accuracy
	w.tally.dayCost[d] += o.CostUSD
}

// sync refreshes routing from the store: the production release, the
// promotion in its phases (resetting the phase's aggregates when the phase
// changed) and the running experiments.
func (w *world) sync(ctx context.Context) error {
	st := w.coord.Store()
	rel, err := st.ReleaseActive(ctx)
	if err != nil {
		return fmt.Errorf("read production release: %w", err)
	}
	w.prodName = rel.Variant.Name
	var phases []coordination.PromotionState
	for i := 1; i <= coordination.MaxPhases; i++ {
		phases = append(phases, coordination.PhaseState(i))
	}
	ps, err := st.PromotionList(ctx, coordination.PromotionFilter{States: phases})
	if err != nil {
		return fmt.Errorf("list promotions in phases: %w", err)
	}
	var next *canaryRoute
	if len(ps) > 0 {
		p := ps[0]
		next = &canaryRoute{id: p.RequestID, name: p.Candidate.Name, percent: p.TrafficPercent, phaseStart: p.PhaseStartedAt}
	}
	switch {
	case next == nil:
		w.canary = nil
	case w.canary == nil || w.canary.id != next.id:
		w.canaryHealth = window.NewWindow(time.Minute, 10)
		w.phaseCanary, w.phaseStable = &window.Aggregate{}, &window.Aggregate{}
		w.canaryMinute.Reset()
		w.pol.canaryStarted()
		w.canary = next
	case !w.canary.phaseStart.Equal(next.phaseStart):
		w.phaseCanary, w.phaseStable = &window.Aggregate{}, &window.Aggregate{}
		w.canary = next
	default:
		w.canary.percent = next.percent
	}
	running, err := st.ExperimentList(ctx, coordination.ExperimentFilter{States: []coordination.ExperimentState{coordination.ExperimentRunning}})
	if err != nil {
		return fmt.Errorf("list running experiments: %w", err)
	}
	live := map[string]bool{}
	for _, e := range running {
		live[e.ID] = true
	}
	order := w.expOrder[:0]
	for _, id := range w.expOrder {
		if live[id] {
			order = append(order, id)
			continue
		}
		w.inExperiment[id] = w.clock.Now().Sub(w.exps[id].started)
		delete(w.exps, id)
	}
	w.expOrder = order
	return nil
}

// runOnce runs one coordinator pass at the clock's time, approves what
// awaits approval (an admin approving after validation) and refreshes
// routing.
func (w *world) runOnce(ctx context.Context) error {
	w.passes++
	if _, err := w.coord.RunOnce(ctx); err != nil {
		return fmt.Errorf("coordinator pass at %s: %w", w.clock.Now().Format(time.RFC3339), err)
	}
	if err := w.approve(ctx); err != nil {
		return err
	}
	return w.sync(ctx)
}

// approve approves the oldest promotion awaiting approval when no other is
// in its phases.
func (w *world) approve(ctx context.Context) error {
	ps, err := w.coord.Store().PromotionList(ctx, coordination.PromotionFilter{States: []coordination.PromotionState{coordination.PromotionAwaitingApproval}})
	if err != nil {
		return fmt.Errorf("list promotions awaiting approval: %w", err)
	}
	if len(ps) == 0 {
		return nil
	}
	var phases []coordination.PromotionState
	for i := 1; i <= coordination.MaxPhases; i++ {
		phases = append(phases, coordination.PhaseState(i))
	}
	busy, err := w.coord.Store().PromotionList(ctx, coordination.PromotionFilter{States: append(phases, coordination.PromotionFinalizing)})
	if err != nil {
		return fmt.Errorf("list promotions in phases: %w", err)
	}
	if len(busy) > 0 {
		return nil
	}
	if err := w.coord.ApprovePromotion(ctx, ps[0].RequestID, "admin@example.com"); err != nil {
		return fmt.Errorf("approve %s: %w", ps[0].RequestID, err)
	}
	return nil
}

// startExperiments accepts the roadmap's proposals for arrived variants and
// starts them (an admin accepting and starting each).
func (w *world) startExperiments(ctx context.Context, now time.Time) error {
	due := false
	for _, v := range w.variants {
		if !w.proposed[v.index] && !v.arrival.After(now) {
			due = true
			break
		}
	}
	if !due {
		return nil
	}
	props, err := w.coord.Generator().GenerateProposals(ctx)
	if err != nil {
		return fmt.Errorf("generate proposals: %w", err)
	}
	for _, p := range props {
		if p.Source != roadmapSource {
			continue
		}
		e, err := w.coord.Generator().AcceptProposal(ctx, p.ProposalID)
		if err != nil {
			return fmt.Errorf("accept proposal %s: %w", p.ProposalID, err)
		}
		if err := w.coord.StartExperiment(ctx, e.ID, "admin@example.com"); err != nil {
			return fmt.Errorf("start experiment %s: %w", e.ID, err)
		}
		name := e.Variant.Name
		if _, ok := w.profiles[name]; !ok {
			w.profiles[name] = w.effectOf(name).apply(w.profiles[w.prodName])
		}
		w.shadowRNG[name] = traffic.RNG(w.seed, 500, uint64(w.indexOf(name)))
		w.exps[e.ID] = &shadowExp{id: e.ID, name: name, started: now}
		w.expOrder = append(w.expOrder, e.ID)
	}
	return nil
}

func (w *world) indexOf(name string) int {
	for _, v := range w.variants {
		if v.name == name {
			return v.index
		}
	}
	return -1
}

func (w *world) effectOf(name string) effect {
	return w.variants[w.indexOf(name)].effect
}

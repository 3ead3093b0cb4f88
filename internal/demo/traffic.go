package demo

import (
	"context"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/decision"
	"github.com/tricyclehq/tricycle/internal/window"
)

// This file is the demo's synthetic data plane: a seeded generator of review
// outcomes per variant that feeds the coordinator's Measurements,
// CanaryMetrics and HealthMetrics hooks. The review data plane (gateway,
// shadow workers, providers) replaces it in a real deployment; the hooks and
// the window aggregates it reads stay the same.

// profile is how a simulated variant behaves.
type profile struct {
	// errorRate is the share of reviews that fail.
	errorRate float64
	// p50 and p95 shape a log-normal latency distribution.
	p50, p95 time.Duration
	// accuracy is the share of labelled reviews that match the label.
	accuracy float64
	// cost is the mean cost of one review in dollars.
	cost float64
	// quota, when positive, is how many requests a day the variant's
	// provider serves before answering "429 rate limit"; quotaErrorRate is
	// the error rate beyond it.
	quota          int
	quotaErrorRate float64
}

// Traffic shape.
const (
	// labelledShare is the share of reviews checked against a label (golden
	// probes and user feedback).
	labelledShare = 0.3
	// agreementRate is how often two successful reviews of one request agree.
	agreementRate = 0.9
	// costCap bounds one review's cost; the evaluator's cost intervals rely on it.
	costCap = 0.5
	// minHealthRequests is the fewest requests a health sample reports a
	// rate over: the window is widened (up to maxHealthSpan) to reach it.
	minHealthRequests = 400
	maxHealthSpan     = 2 * time.Hour
	// minLabelled is the fewest labelled checks accuracy_rate is reported over.
	minLabelled = 2000
	// accuracySpan is the window of the accuracy_rate health value: labelled
	// checks are sparse, so they are read over a day.
	accuracySpan = 24 * time.Hour
	// bucket is the width of the aggregation buckets; retention covers the
	// longest canary phase.
	bucket    = 10 * time.Minute
	retention = 8 * 24 * time.Hour
)

// Series names in the window set.
const (
	seriesStable = "v2/stable"
	seriesCanary = "v2/canary"
)

// measured accumulates what one side of a shadow comparison observed.
type measured struct {
	agg              window.Aggregate
	compared, agreed int64
}

// snapshot returns a copy of what m observed, for the evaluator.
func (m *measured) snapshot() decision.Measured {
	return toMeasured(m.agg.Clone(), m.compared, m.agreed)
}

// toMeasured converts an aggregate the caller owns.
func toMeasured(a *window.Aggregate, compared, agreed int64) decision.Measured {
	return decision.Measured{
		Requests: a.Requests, Errors: a.Errors, Labelled: a.Labelled, Correct: a.Correct,
		Compared: compared, Agreed: agreed, Latency: a,
		CostSum: a.CostSum, CostSumSq: a.CostSumSq, CostMax: costCap,
	}
}

// shadow is one running experiment's measurements: the candidate and
// production on the same shadowed requests.
type shadow struct {
	// rng draws this experiment's shadow sampling and outcomes, seeded by
	// the variant's name, so that the story does not depend on the order
	// of experiment ids.
	rng        *rand.Rand
	cand, base measured
}

// dataPlane simulates production traffic: requests served by the stable
// release or the canary, shadow copies to running experiments, and the
// aggregates the coordinator's hooks read. It is safe for concurrent use.
type dataPlane struct {
	rate     int                // production requests per hour
	profiles map[string]profile // by variant name
	clock    coordination.Clock // non-nil; the coordinator's clock

	seed uint64

	mu       sync.Mutex // guards the fields below
	rng      *rand.Rand
	windows  *window.Set
	stable   window.Aggregate // every stable request since the start (SLO)
	shadows  map[string]*shadow
	served   map[string]int // requests served per variant per day, for quotas
	servedOn int64          // the day served counts
	routing  coordination.Routing
}

func newDataPlane(seed uint64, rate int, profiles map[string]profile, clock coordination.Clock) *dataPlane {
	return &dataPlane{
		rate: rate, profiles: profiles, clock: clock, seed: seed,
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		windows: window.NewSet(bucket, int(retention/bucket)),
		shadows: map[string]*shadow{}, served: map[string]int{},
	}
}

// setRouting tells the data plane where traffic goes now.
func (d *dataPlane) setRouting(r coordination.Routing) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.routing = r
	for _, e := range r.Experiments {
		if _, ok := d.shadows[e.ID]; !ok {
			h := fnv.New64a()
			_, _ = h.Write([]byte(e.Variant.Name))
			d.shadows[e.ID] = &shadow{rng: rand.New(rand.NewPCG(d.seed, h.Sum64()))}
		}
	}
}

// outcome is one simulated review.
type outcome struct {
	err     bool
	latency time.Duration
	cost    float64
	label   bool
	correct bool
}

func (d *dataPlane) review(rng *rand.Rand, variant string, day int64) outcome {
	p := d.profiles[variant]
	if day != d.servedOn {
		d.servedOn, d.served = day, map[string]int{}
	}
	d.served[variant]++
	errRate := p.errorRate
	if p.quota > 0 && d.served[variant] > p.quota {
		errRate = p.quotaErrorRate
	}
	o := outcome{err: rng.Float64() < errRate}
	sigma := math.Log(float64(p.p95)/float64(p.p50)) / 1.645
	o.latency = time.Duration(float64(p.p50) * math.Exp(sigma*rng.NormFloat64()))
	if !o.err {
		o.cost = math.Min(costCap, p.cost*math.Exp(0.25*rng.NormFloat64()-0.03125))
		if rng.Float64() < labelledShare {
			o.label, o.correct = true, rng.Float64() < p.accuracy
		}
	}
	return o
}

func (o outcome) observation() window.Observation {
	return window.Observation{Latency: o.latency, Error: o.err, CostUSD: o.cost, Labelled: o.label, Correct: o.correct}
}

// simulate serves the production requests of (from, to]: each request goes
// to the canary or the stable release by a sticky hash of its repository,
// and running experiments receive their shadow share of copies.
func (d *dataPlane) simulate(from, to time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.routing.Production == nil {
		return
	}
	n := int(float64(d.rate) * to.Sub(from).Hours())
	if n <= 0 {
		return
	}
	stable := d.routing.Production.Variant.Name
	canary, canaryPct := "", 0
	if p := d.routing.Canary; p != nil {
		canary, canaryPct = p.Candidate.Name, p.TrafficPercent
	}
	exps := d.routing.Experiments
	step := to.Sub(from) / time.Duration(n)
	for i := range n {
		at := from.Add(step/2 + time.Duration(i)*step)
		day := at.Unix() / 86400
		repo := d.rng.IntN(1000)
		served, series := stable, seriesStable
		if canary != "" && repo%100 < canaryPct {
			served, series = canary, seriesCanary
		}
		prod := d.review(d.rng, served, day)
		d.windows.Observe(at, series, prod.observation())
		if series == seriesStable {
			d.stable.Add(prod.observation())
		}
		for _, e := range exps {
			s := d.shadows[e.ID]
			if s.rng.Float64()*100 >= e.ShadowPercent {
				continue
			}
			cand := d.review(s.rng, e.Variant.Name, day)
			s.cand.agg.Add(cand.observation())
			s.base.agg.Add(prod.observation())
			if !cand.err && !prod.err {
				s.cand.compared++
				s.base.compared++
				if s.rng.Float64() < agreementRate {
					s.cand.agreed++
					s.base.agreed++
				}
			}
		}
	}
}

// measurements is the coordinator's MeasurementFunc.
func (d *dataPlane) measurements(_ context.Context, e *coordination.Experiment, _ time.Time) (decision.Measured, decision.Measured, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.shadows[e.ID]
	if !ok {
		return decision.Measured{}, decision.Measured{}, nil
	}
	return s.cand.snapshot(), s.base.snapshot(), nil
}

// canaryMetrics is the coordinator's CanaryMetricsFunc: canary and stable
// over the same clock since the phase started.
func (d *dataPlane) canaryMetrics(_ context.Context, _ *coordination.PromotionRequest, since time.Time) (decision.Measured, decision.Measured, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock.Now()
	span := now.Sub(since)
	if span <= 0 {
		return decision.Measured{}, decision.Measured{}, nil
	}
	return toMeasured(d.windows.Aggregate(now, seriesCanary, span), 0, 0),
		toMeasured(d.windows.Aggregate(now, seriesStable, span), 0, 0), nil
}

// healthMetrics is the coordinator's HealthMetricsFunc. Rates are reported
// over at least minHealthRequests requests: the window is widened (doubling,
// up to maxHealthSpan) until it holds that many, and a target with fewer
// reports no values. Accuracy comes from the labelled checks of the last
// day. A window longer than the retention (the SLO window) reads every
// stable request since the start.
func (d *dataPlane) healthMetrics(_ context.Context, target string, span time.Duration) (coordination.HealthSample, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	series := seriesStable
	if target == coordination.TargetCanary {
		series = seriesCanary
	}
	now := d.clock.Now()
	var agg *window.Aggregate
	if span > retention && series == seriesStable {
		agg = d.stable.Clone()
	} else {
		agg = d.windows.Aggregate(now, series, span)
		for agg.Requests < minHealthRequests && span < maxHealthSpan {
			span *= 2
			agg = d.windows.Aggregate(now, series, span)
		}
	}
	s := coordination.HealthSample{Values: map[string]float64{}, Requests: agg.Requests, Errors: agg.Errors,
		SlowRequests: agg.CountAbove(3 * time.Second)}
	if agg.Count() > 0 {
		s.LatencyP95 = agg.Quantile(0.95)
	}
	if agg.Requests >= minHealthRequests/2 {
		s.Values["error_rate"] = agg.ErrorRate()
		s.Values["latency_p95"] = s.LatencyP95
		// The gateway's CPU follows its load: half its capacity at full
		// production traffic.
		perHour := float64(agg.Requests) / math.Max(span.Hours(), 1e-9)
		s.Values["cpu_utilization"] = 0.3 + 0.2*perHour/float64(d.rate)
	}
	if acc := d.windows.Aggregate(now, series, accuracySpan); acc.Labelled >= minLabelled {
		s.Values["accuracy_rate"] = acc.AccuracyRate()
	}
	return s, nil
}

// trafficReport summarises the last day of traffic for the timeline.
type trafficReport struct {
	stable, canary window.Aggregate
	shadows        map[string]window.Aggregate // by experiment id, since its start
}

// report returns the traffic of the day before now.
func (d *dataPlane) report() trafficReport {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock.Now()
	r := trafficReport{
		stable:  *d.windows.Aggregate(now, seriesStable, 24*time.Hour),
		canary:  *d.windows.Aggregate(now, seriesCanary, 24*time.Hour),
		shadows: map[string]window.Aggregate{},
	}
	for _, e := range d.routing.Experiments {
		if s, ok := d.shadows[e.ID]; ok {
			r.shadows[e.ID] = *s.cand.agg.Clone()
		}
	}
	return r
}

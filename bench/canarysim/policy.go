package main

import (
	"fmt"
	"math"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/alerting"
	"github.com/tricyclehq/tricycle/coordination/decision"
	"github.com/tricyclehq/tricycle/internal/window"
)

// phase is what the canary analysis sees at one second of a phase: the
// canary's and the stable release's requests since the phase started, the
// canary's requests in the current minute, and per-second canary counts for
// the health monitor's sliding window.
type phase struct {
	canary, stable window.Aggregate
	// minute holds the canary's requests since the last minute boundary;
	// the simulation empties it after the policies' ticks at each boundary.
	minute window.Aggregate
	// secReq and secErr are a ring of per-second canary counts; health
	// sums the last healthWindow seconds.
	secReq, secErr [healthWindow]int64
}

// healthWindow is the health monitor's window in seconds (HealthWindow, 5 min).
const healthWindow = 300

// policy decides, second by second, whether to roll the canary back.
type policy interface {
	// name labels the policy's columns.
	name() string
	// tick is called at second t (1-based) after that second's requests
	// were recorded; it reports whether the policy rolls back now.
	tick(t int, ph *phase) bool
}

// measured is the canary or stable side as the analysis reads it.
func measured(a *window.Aggregate) decision.Measured {
	return decision.Measured{Requests: a.Requests, Errors: a.Errors, Latency: a}
}

// defaultCanaryPolicy is the coordinator's canary policy under the default
// configuration: the health thresholds (error rate 2%/5%, p95 3 s/10 s,
// accuracy 90%/85%), the canary minimum sample count and the samples
// confidence. It mirrors how the coordinator derives its policy from Config.
func defaultCanaryPolicy() coordination.CanaryPolicy {
	cfg := coordination.DefaultConfig()
	p := coordination.CanaryPolicy{MinSamples: cfg.CanaryMinSamples, Alpha: 1 - cfg.Samples.Confidence}
	for _, t := range cfg.Health.Thresholds {
		switch t.Metric {
		case alerting.MetricErrorRate:
			p.ErrorWarning, p.ErrorCritical = t.Warning, t.Critical
		case alerting.MetricLatencyP95:
			p.LatencyWarning, p.LatencyCritical = t.Warning, t.Critical
		case alerting.MetricAccuracyRate:
			if t.Direction == alerting.Below {
				p.AccuracyWarning, p.AccuracyCritical = t.Warning, t.Critical
			}
		}
	}
	return p
}

// analysis is tricycle's canary analysis, coordination.AnalyzeCanary on the
// phase's accumulated counts every second, rolling back on Critical. With
// monitor set it also runs the health monitor's alert rules on the canary's
// five-minute error rate as the monitor judges it (coordination.HealthValues:
// no judgement under 50 requests, otherwise the lower end of the 95%
// interval; alerting.DefaultConfig: critical above 5% held for one minute
// fires the rollback remediation), as the coordinator does on every pass.
type analysis struct {
	pol     coordination.CanaryPolicy
	monitor *alerting.Evaluator // nil: analysis only
	start   time.Time
	// last is the most recent verdict.
	last coordination.CanaryVerdict
}

func newAnalysis(withMonitor bool) *analysis {
	a := &analysis{pol: defaultCanaryPolicy(), start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if withMonitor {
		ev, err := alerting.NewEvaluator(coordination.DefaultConfig().Health)
		if err != nil {
			panic(fmt.Sprintf("default health config: %v", err)) // fixed configuration
		}
		a.monitor = ev
	}
	return a
}

func (a *analysis) name() string {
	if a.monitor != nil {
		return "tricycle + monitor"
	}
	return "tricycle"
}

func (a *analysis) tick(t int, ph *phase) bool {
	a.last = coordination.AnalyzeCanary(measured(&ph.canary), measured(&ph.stable), a.pol)
	if a.last.Critical {
		return true
	}
	if a.monitor == nil {
		return false
	}
	var req, errs int64
	for i := range ph.secReq {
		req += ph.secReq[i]
		errs += ph.secErr[i]
	}
	if req == 0 {
		return false // a value is present only when there are data
	}
	now := a.start.Add(time.Duration(t) * time.Second)
	cfg := coordination.DefaultConfig()
	// The values the health monitor judges: coordination.HealthValues, as
	// the coordinator computes them from the data plane's sample.
	values := coordination.HealthValues(coordination.HealthSample{
		Values:   map[string]float64{alerting.MetricErrorRate: float64(errs) / float64(req)},
		Requests: req, Errors: errs}, cfg.HealthMinRequests, cfg.Samples.Confidence)
	for _, tr := range a.monitor.Eval(now, alerting.TargetCanary, values) {
		if tr.Kind == alerting.TransitionFired && tr.Alert.Severity == alerting.Critical &&
			tr.Alert.Remediation == alerting.Rollback {
			return true
		}
	}
	return false
}

// flagger is a fixed-threshold policy shaped like Flagger's documented
// defaults: every interval it checks the canary's error rate and p95
// latency over the last interval; a check fails when the error rate
// exceeds maxErrorRate, the p95 exceeds maxP95 or there were no canary
// requests (Flagger halts on "no values found"); the canary is rolled back
// at the first interval that finds failed checks >= threshold (failed
// checks accumulate over the analysis and are not reset by a passing one).
type flagger struct {
	label        string
	interval     int // seconds; a multiple of 60 (phase.minute is one minute)
	threshold    int
	maxErrorRate float64
	maxP95       float64 // seconds
	failed       int
}

func (f *flagger) name() string { return f.label }

func (f *flagger) tick(t int, ph *phase) bool {
	if t%f.interval != 0 {
		return false
	}
	if f.failed >= f.threshold {
		return true
	}
	m := &ph.minute
	if m.Requests == 0 || m.ErrorRate() > f.maxErrorRate || m.Quantile(0.95) > f.maxP95 {
		f.failed++
	}
	return false
}

// peeking is a fixed-horizon test looked at repeatedly: every interval,
// two-proportion z-tests of canary against stable on the error rate and on
// the share of requests slower than stable's current p95; the canary is
// rolled back at the first look where either shows the canary worse at
// two-sided level alpha (z above the 1-alpha/2 normal quantile).
type peeking struct {
	interval int // seconds
	zCrit    float64
}

func newPeeking(intervalSeconds int, alpha float64) *peeking {
	return &peeking{interval: intervalSeconds, zCrit: -math.Sqrt2 * math.Erfcinv(2*(1-alpha/2))}
}

func (p *peeking) name() string { return "peeking z-test" }

func (p *peeking) tick(t int, ph *phase) bool {
	if t%p.interval != 0 {
		return false
	}
	c, s := &ph.canary, &ph.stable
	if zTwoProportions(c.Errors, c.Requests, s.Errors, s.Requests) > p.zCrit {
		return true
	}
	if c.Count() == 0 || s.Count() == 0 {
		return false
	}
	limit := time.Duration(s.Quantile(0.95) * float64(time.Second))
	return zTwoProportions(c.CountAbove(limit), c.Count(), s.CountAbove(limit), s.Count()) > p.zCrit
}

// zTwoProportions is the pooled two-proportion z statistic of k1/n1 against
// k2/n2 (positive when the first is larger); 0 when undefined.
func zTwoProportions(k1, n1, k2, n2 int64) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 0
	}
	p1, p2 := float64(k1)/float64(n1), float64(k2)/float64(n2)
	p := float64(k1+k2) / float64(n1+n2)
	se := math.Sqrt(p * (1 - p) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 0
	}
	return (p1 - p2) / se
}

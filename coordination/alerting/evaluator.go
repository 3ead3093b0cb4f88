package alerting

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// State is where an alert is in its lifecycle. The string values are
// persisted.
type State string

const (
	// Inactive means the condition is not (or no longer) met.
	Inactive State = "inactive"
	// Pending means the condition is met but has not held for Config.For.
	Pending State = "pending"
	// Firing means the condition has held for Config.For and has not yet
	// recovered.
	Firing State = "firing"
)

// States returns every state in lifecycle order.
func States() []State { return []State{Inactive, Pending, Firing} }

// Valid reports whether s is a known state.
func (s State) Valid() bool { return s == Inactive || s == Pending || s == Firing }

// Active reports whether s is pending or firing.
func (s State) Active() bool { return s == Pending || s == Firing }

// Alert is one alert's state: a (target, metric, severity) triple. Times are
// zero when not set.
type Alert struct {
	// ID is "target/metric/severity", e.g. "production/error_rate/critical".
	ID string `json:"id"`
	// Target is the evaluated deployment, e.g. "production" or "canary".
	Target string `json:"target"`
	// Metric is the threshold's metric name.
	Metric string `json:"metric"`
	// Severity is the alert's severity.
	Severity Severity `json:"severity"`
	// Remediation is the action configured for the metric.
	Remediation Remediation `json:"remediation,omitempty"`
	// State is the lifecycle state.
	State State `json:"state"`
	// Value is the last value evaluated.
	Value float64 `json:"value"`
	// Threshold is the level for this severity.
	Threshold float64 `json:"threshold"`
	// ActiveAt is when the current (or latest) episode became pending.
	ActiveAt time.Time `json:"active_at,omitzero"`
	// FiredAt is when the current (or latest) episode fired; zero if it has not.
	FiredAt time.Time `json:"fired_at,omitzero"`
	// ResolvedAt is when the latest episode resolved; zero while pending or firing.
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// RecoveringSince is, while firing, when the value was first seen on the
	// good side of the hysteresis band in the current run of good samples.
	RecoveringSince time.Time `json:"recovering_since,omitzero"`
	// LastEvalAt is the time of the last sample evaluated for this alert.
	LastEvalAt time.Time `json:"last_eval_at,omitzero"`
}

// AlertID returns the stable identifier of the alert for target, metric and
// severity.
func AlertID(target, metric string, s Severity) string {
	return target + "/" + metric + "/" + string(s)
}

// TransitionKind names a lifecycle edge reported by Evaluator.Eval.
type TransitionKind string

const (
	// TransitionPending means an inactive alert started breaching.
	TransitionPending TransitionKind = "pending"
	// TransitionFired means a pending alert held for Config.For and fired.
	TransitionFired TransitionKind = "fired"
	// TransitionResolved means a firing alert recovered.
	TransitionResolved TransitionKind = "resolved"
	// TransitionCancelled means a pending alert stopped breaching before it fired.
	TransitionCancelled TransitionKind = "cancelled"
)

// Transition is one lifecycle edge together with the alert as it is after it.
type Transition struct {
	// Kind is the edge taken.
	Kind TransitionKind `json:"kind"`
	// Alert is a copy of the alert after the transition.
	Alert Alert `json:"alert"`
}

// String returns "kind id", e.g. "fired production/error_rate/critical".
func (t Transition) String() string { return string(t.Kind) + " " + t.Alert.ID }

// Evaluator holds the state of every alert and advances it as samples
// arrive. It is not safe for concurrent use.
type Evaluator struct {
	cfg    Config            // validated; never modified
	alerts map[string]*Alert // keyed by ID; only alerts evaluated at least once
}

// NewEvaluator returns an evaluator with no alert state, or an error if cfg
// is invalid.
func NewEvaluator(cfg Config) (*Evaluator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new alert evaluator: %w", err)
	}
	cfg.Thresholds = append([]Threshold(nil), cfg.Thresholds...)
	return &Evaluator{cfg: cfg, alerts: make(map[string]*Alert)}, nil
}

// Config returns the evaluator's configuration.
func (e *Evaluator) Config() Config {
	c := e.cfg
	c.Thresholds = append([]Threshold(nil), e.cfg.Thresholds...)
	return c
}

// Eval evaluates one set of samples for target taken at ts and returns the
// transitions made, in threshold order with warning before critical.
//
// values maps metric name to value. A configured metric absent from values
// (or NaN) is "no data": its alerts keep their state and timers, so it
// neither fires nor resolves them, and a pending alert resumes counting from
// its original ActiveAt when data returns. Samples older than an alert's
// LastEvalAt are ignored for that alert; an empty target is ignored
// altogether.
func (e *Evaluator) Eval(ts time.Time, target string, values map[string]float64) []Transition {
	if target == "" {
		return nil
	}
	var out []Transition
	for _, th := range e.cfg.Thresholds {
		v, ok := values[th.Metric]
		if !ok || math.IsNaN(v) {
			continue
		}
		for _, sev := range Severities() {
			id := AlertID(target, th.Metric, sev)
			a := e.alerts[id]
			if a == nil {
				a = &Alert{ID: id, Target: target, Metric: th.Metric, Severity: sev, State: Inactive}
				e.alerts[id] = a
			}
			if ts.Before(a.LastEvalAt) {
				continue
			}
			out = e.step(a, th, ts, v, out)
		}
	}
	return out
}

// step advances a single alert with sample v at ts, appending transitions.
func (e *Evaluator) step(a *Alert, th Threshold, ts time.Time, v float64, out []Transition) []Transition {
	level := th.Level(a.Severity)
	a.Value, a.Threshold, a.Remediation, a.LastEvalAt = v, level, th.Remediation, ts
	breached := th.Breached(v, level)

	switch a.State {
	case Inactive:
		if !breached {
			return out
		}
		a.State = Pending
		a.ActiveAt, a.FiredAt, a.ResolvedAt, a.RecoveringSince = ts, time.Time{}, time.Time{}, time.Time{}
		out = append(out, Transition{Kind: TransitionPending, Alert: *a})
	case Pending:
		if !breached {
			a.State = Inactive
			return append(out, Transition{Kind: TransitionCancelled, Alert: *a})
		}
	case Firing:
		if !th.Recovered(v, level, e.cfg.hysteresisFor(th)) {
			a.RecoveringSince = time.Time{}
			return out
		}
		if a.RecoveringSince.IsZero() {
			a.RecoveringSince = ts
		}
		if ts.Sub(a.RecoveringSince) >= e.cfg.RecoverFor {
			a.State = Inactive
			a.ResolvedAt, a.RecoveringSince = ts, time.Time{}
			out = append(out, Transition{Kind: TransitionResolved, Alert: *a})
		}
		return out
	}
	// Pending and still breaching (possibly since this very sample).
	if ts.Sub(a.ActiveAt) >= e.cfg.For {
		a.State = Firing
		a.FiredAt = ts
		out = append(out, Transition{Kind: TransitionFired, Alert: *a})
	}
	return out
}

// Forget drops every alert of target, as when a canary ends, and returns a
// "resolved" transition (ResolvedAt ts) for each firing alert and a
// "cancelled" one for each pending alert, sorted by ID.
func (e *Evaluator) Forget(ts time.Time, target string) []Transition {
	var out []Transition
	for id, a := range e.alerts {
		if a.Target != target {
			continue
		}
		switch a.State {
		case Firing:
			a.State, a.ResolvedAt, a.RecoveringSince = Inactive, ts, time.Time{}
			out = append(out, Transition{Kind: TransitionResolved, Alert: *a})
		case Pending:
			a.State = Inactive
			out = append(out, Transition{Kind: TransitionCancelled, Alert: *a})
		}
		delete(e.alerts, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Alert.ID < out[j].Alert.ID })
	return out
}

// Active returns copies of the pending and firing alerts, sorted by ID.
func (e *Evaluator) Active() []Alert {
	return e.collect(func(a *Alert) bool { return a.State.Active() })
}

// Snapshot returns copies of every alert's state, inactive ones included,
// sorted by ID, for persisting and passing to Restore after a restart.
func (e *Evaluator) Snapshot() []Alert {
	return e.collect(func(*Alert) bool { return true })
}

func (e *Evaluator) collect(keep func(*Alert) bool) []Alert {
	out := make([]Alert, 0, len(e.alerts))
	for _, a := range e.alerts {
		if keep(a) {
			out = append(out, *a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Restore replaces the evaluator's state with alerts, typically a Snapshot
// persisted before a restart. Firing alerts stay firing without a new "fired"
// transition and pending alerts keep their ActiveAt, so For and RecoverFor are
// measured across the restart. IDs are recomputed from Target, Metric and
// Severity; Threshold and Remediation are refreshed from the current config.
// Entries that cannot be resumed are dropped: an empty target, a metric no
// longer configured, an unknown severity or state, a pending alert without
// ActiveAt or a firing one without FiredAt.
func (e *Evaluator) Restore(alerts []Alert) {
	e.alerts = make(map[string]*Alert, len(alerts))
	for _, a := range alerts {
		th, ok := e.threshold(a.Metric)
		if !ok || a.Target == "" || !a.Severity.Valid() || !a.State.Valid() {
			continue
		}
		if (a.State == Pending && a.ActiveAt.IsZero()) || (a.State == Firing && (a.ActiveAt.IsZero() || a.FiredAt.IsZero())) {
			continue
		}
		a.ID = AlertID(a.Target, a.Metric, a.Severity)
		a.Threshold = th.Level(a.Severity)
		a.Remediation = th.Remediation
		if a.State != Firing {
			a.RecoveringSince = time.Time{}
		}
		e.alerts[a.ID] = &a
	}
}

func (e *Evaluator) threshold(metric string) (Threshold, bool) {
	for _, t := range e.cfg.Thresholds {
		if t.Metric == metric {
			return t, true
		}
	}
	return Threshold{}, false
}

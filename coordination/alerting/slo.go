package alerting

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Objective names understood by ComputeSLO.
const (
	// ObjectiveLatencyP95 bounds the 95th percentile latency, in seconds.
	ObjectiveLatencyP95 = "latency_p95"
	// ObjectiveErrorRate bounds the fraction of failed requests.
	ObjectiveErrorRate = "error_rate"
)

// SlowFractionAllowed is the fraction of requests a p95 latency objective
// lets exceed the latency target: its error budget.
const SlowFractionAllowed = 0.05

// Objective is one service level objective: the named value must stay
// strictly below Target.
type Objective struct {
	// Name is ObjectiveLatencyP95 or ObjectiveErrorRate.
	Name string `json:"name" yaml:"name"`
	// Target is the exclusive upper bound, in base units (seconds, fraction).
	Target float64 `json:"target" yaml:"target"`
	// Doc describes the objective for people reading a report.
	Doc string `json:"doc,omitempty" yaml:"doc,omitempty"`
}

// DefaultObjectives returns the product SLOs: p95 latency under 3 s and
// error rate under 2%.
func DefaultObjectives() []Objective {
	return []Objective{
		{Name: ObjectiveLatencyP95, Target: 3, Doc: "95th percentile review latency under 3 s"},
		{Name: ObjectiveErrorRate, Target: 0.02, Doc: "fewer than 2% of reviews fail"},
	}
}

// ValidateObjectives reports every unknown, duplicate or non-positive
// objective, naming its index.
func ValidateObjectives(objs []Objective) error {
	var errs []error
	seen := make(map[string]bool, len(objs))
	for i, o := range objs {
		if o.Name != ObjectiveLatencyP95 && o.Name != ObjectiveErrorRate {
			errs = append(errs, fmt.Errorf("objectives[%d].name: unknown objective %q (want %q or %q)", i, o.Name, ObjectiveLatencyP95, ObjectiveErrorRate))
		} else if seen[o.Name] {
			errs = append(errs, fmt.Errorf("objectives[%d].name: %q listed twice", i, o.Name))
		}
		seen[o.Name] = true
		if !(o.Target > 0) || math.IsInf(o.Target, 0) {
			errs = append(errs, fmt.Errorf("objectives[%d].target: must be a positive finite number, got %v", i, o.Target))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid SLO objectives: %w", err)
	}
	return nil
}

// SLOCounts are the measurements over an SLO window.
type SLOCounts struct {
	// Requests is the number of requests served.
	Requests int64 `json:"requests"`
	// Errors is the number of failed requests.
	Errors int64 `json:"errors"`
	// SlowRequests is the number of requests slower than the latency target.
	SlowRequests int64 `json:"slow_requests"`
	// LatencyP95 is the 95th percentile latency in seconds.
	LatencyP95 float64 `json:"latency_p95"`
}

// SLOResult is the outcome of one objective.
type SLOResult struct {
	// Name is the objective's name.
	Name string `json:"name"`
	// Value is the measured value (seconds or fraction).
	Value float64 `json:"value"`
	// Target is the objective's exclusive upper bound.
	Target float64 `json:"target"`
	// Compliant reports whether Value < Target.
	Compliant bool `json:"compliant"`
	// BudgetRemaining is the fraction of the error budget left: 1 when
	// untouched, 0 when spent, negative when overspent.
	BudgetRemaining float64 `json:"budget_remaining"`
	// Doc is the objective's description, or why it could not be evaluated.
	Doc string `json:"doc,omitempty"`
}

// SLOReport is the compliance of every objective over one window.
type SLOReport struct {
	// Compliant reports whether every objective is met.
	Compliant bool `json:"compliant"`
	// Window is the span the counts cover.
	Window time.Duration `json:"window"`
	// Requests is the number of requests in the window.
	Requests int64 `json:"requests"`
	// Details holds one result per objective, in the order given.
	Details []SLOResult `json:"details"`
	// BudgetRemaining is the smallest BudgetRemaining over Details (1 when
	// there are none).
	BudgetRemaining float64 `json:"budget_remaining"`
}

// ComputeSLO evaluates objs against the counts measured over window.
//
// Error rate is Errors/Requests, its budget Target×Requests errors, so the
// budget left is 1 − Errors/(Target×Requests). p95 latency is compared as
// given; its budget is SlowFractionAllowed of requests being slower than the
// target, so the budget left is 1 − SlowRequests/(0.05×Requests).
//
// With no requests every objective is compliant with its whole budget left
// and a value of 0: an idle service breaks no promise. An objective that
// ValidateObjectives would reject is reported non-compliant with no budget
// and its Doc says why, rather than being skipped.
func ComputeSLO(objs []Objective, window time.Duration, c SLOCounts) SLOReport {
	r := SLOReport{Compliant: true, Window: window, Requests: c.Requests, BudgetRemaining: 1, Details: make([]SLOResult, 0, len(objs))}
	for _, o := range objs {
		res := evalObjective(o, c)
		r.Details = append(r.Details, res)
		r.Compliant = r.Compliant && res.Compliant
		r.BudgetRemaining = math.Min(r.BudgetRemaining, res.BudgetRemaining)
	}
	return r
}

func evalObjective(o Objective, c SLOCounts) SLOResult {
	res := SLOResult{Name: o.Name, Target: o.Target, Doc: o.Doc}
	var budgetUsed func() float64
	switch o.Name {
	case ObjectiveErrorRate:
		if c.Requests > 0 {
			res.Value = float64(c.Errors) / float64(c.Requests)
		}
		budgetUsed = func() float64 { return float64(c.Errors) / (o.Target * float64(c.Requests)) }
	case ObjectiveLatencyP95:
		if c.Requests > 0 {
			res.Value = c.LatencyP95
		}
		budgetUsed = func() float64 { return float64(c.SlowRequests) / (SlowFractionAllowed * float64(c.Requests)) }
	default:
		res.Doc = fmt.Sprintf("unknown objective %q", o.Name)
		return res
	}
	if !(o.Target > 0) || math.IsInf(o.Target, 0) {
		res.Doc = fmt.Sprintf("invalid target %v for objective %q", o.Target, o.Name)
		if math.IsNaN(o.Target) || math.IsInf(o.Target, 0) {
			res.Target = 0 // keep the report encodable as JSON
		}
		return res
	}
	if c.Requests <= 0 {
		res.Compliant, res.BudgetRemaining = true, 1
		return res
	}
	res.Compliant = res.Value < o.Target
	res.BudgetRemaining = 1 - budgetUsed()
	return res
}

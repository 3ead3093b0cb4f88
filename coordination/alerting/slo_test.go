package alerting

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestComputeSLO(t *testing.T) {
	t.Parallel()
	const eps = 1e-9
	type detail struct {
		value, budget float64
		compliant     bool
	}
	tests := []struct {
		name      string
		counts    SLOCounts
		compliant bool
		budget    float64
		latency   detail
		errRate   detail
	}{
		{
			name:      "no requests is compliant with the whole budget",
			counts:    SLOCounts{},
			compliant: true, budget: 1,
			latency: detail{0, 1, true}, errRate: detail{0, 1, true},
		},
		{
			name:      "healthy",
			counts:    SLOCounts{Requests: 10000, Errors: 50, SlowRequests: 100, LatencyP95: 1.2},
			compliant: true, budget: 0.75,
			latency: detail{1.2, 0.8, true}, errRate: detail{0.005, 0.75, true},
		},
		{
			name:      "error rate at target is not compliant and budget spent",
			counts:    SLOCounts{Requests: 1000, Errors: 20, SlowRequests: 0, LatencyP95: 0.5},
			compliant: false, budget: 0,
			latency: detail{0.5, 1, true}, errRate: detail{0.02, 0, false},
		},
		{
			name:      "slow p95 overspends the latency budget",
			counts:    SLOCounts{Requests: 1000, Errors: 0, SlowRequests: 100, LatencyP95: 4.5},
			compliant: false, budget: -1,
			latency: detail{4.5, -1, false}, errRate: detail{0, 1, true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ComputeSLO(DefaultObjectives(), 24*time.Hour, tt.counts)
			if r.Compliant != tt.compliant || math.Abs(r.BudgetRemaining-tt.budget) > eps {
				t.Errorf("report compliant=%v budget=%v, want %v %v", r.Compliant, r.BudgetRemaining, tt.compliant, tt.budget)
			}
			if r.Window != 24*time.Hour || r.Requests != tt.counts.Requests || len(r.Details) != 2 {
				t.Fatalf("report = %+v", r)
			}
			for i, want := range []detail{tt.latency, tt.errRate} {
				d := r.Details[i]
				if d.Compliant != want.compliant || math.Abs(d.Value-want.value) > eps || math.Abs(d.BudgetRemaining-want.budget) > eps {
					t.Errorf("%s = %+v, want %+v", d.Name, d, want)
				}
				if d.Doc == "" || d.Target != DefaultObjectives()[i].Target {
					t.Errorf("%s lost its target or doc: %+v", d.Name, d)
				}
			}
		})
	}
}

func TestComputeSLOInvalidObjectiveIsNonCompliant(t *testing.T) {
	t.Parallel()
	objs := []Objective{{Name: "availability", Target: 0.99}, {Name: ObjectiveErrorRate, Target: math.Inf(1)}}
	r := ComputeSLO(objs, time.Hour, SLOCounts{Requests: 10})
	if r.Compliant || r.BudgetRemaining != 0 {
		t.Fatalf("report = %+v, want non-compliant with no budget", r)
	}
	if !strings.Contains(r.Details[0].Doc, "unknown objective") || !strings.Contains(r.Details[1].Doc, "invalid target") {
		t.Errorf("details do not say why: %+v", r.Details)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("report is not encodable: %v", err)
	}
	if r := ComputeSLO(nil, time.Hour, SLOCounts{Requests: 10, Errors: 10}); !r.Compliant || r.BudgetRemaining != 1 {
		t.Errorf("no objectives: %+v", r)
	}
}

func TestValidateObjectives(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		objs []Objective
		want string
	}{
		{"defaults", DefaultObjectives(), ""},
		{"unknown", []Objective{{Name: "uptime", Target: 1}}, `objectives[0].name: unknown objective "uptime"`},
		{"duplicate", []Objective{{Name: ObjectiveErrorRate, Target: 0.1}, {Name: ObjectiveErrorRate, Target: 0.2}}, `objectives[1].name: "error_rate" listed twice`},
		{"zero target", []Objective{{Name: ObjectiveLatencyP95}}, "objectives[0].target: must be a positive"},
		{"NaN target", []Objective{{Name: ObjectiveLatencyP95, Target: math.NaN()}}, "objectives[0].target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateObjectives(tt.objs)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidateObjectives = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ValidateObjectives = %v, want %q", err, tt.want)
			}
		})
	}
}

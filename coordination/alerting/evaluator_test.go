package alerting

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// tick is one evaluation: at t0+at, target (production when empty) gets
// values; want lists the transitions ("kind id") and active the pending and
// firing alerts ("id=state") expected afterwards.
type tick struct {
	at     time.Duration
	target string
	values map[string]float64
	want   []string
	active []string
}

const (
	prodErrW  = "production/error_rate/warning"
	prodErrC  = "production/error_rate/critical"
	prodAccW  = "production/accuracy_rate/warning"
	prodAccC  = "production/accuracy_rate/critical"
	canErrW   = "canary/error_rate/warning"
	prodLatW  = "production/latency_p95/warning"
	secs      = time.Second
	errRate   = MetricErrorRate
	accuracy  = MetricAccuracyRate
	latencyP9 = MetricLatencyP95
)

func errv(v float64) map[string]float64 { return map[string]float64{errRate: v} }
func accv(v float64) map[string]float64 { return map[string]float64{accuracy: v} }

func runTicks(t *testing.T, e *Evaluator, ticks []tick) {
	t.Helper()
	for i, tk := range ticks {
		target := tk.target
		if target == "" {
			target = TargetProduction
		}
		var got []string
		for _, tr := range e.Eval(t0.Add(tk.at), target, tk.values) {
			got = append(got, tr.String())
		}
		if !slices.Equal(got, tk.want) {
			t.Fatalf("tick %d (t+%s %v): transitions = %q, want %q", i, tk.at, tk.values, got, tk.want)
		}
		var active []string
		for _, a := range e.Active() {
			active = append(active, a.ID+"="+string(a.State))
		}
		if !slices.Equal(active, tk.active) {
			t.Fatalf("tick %d (t+%s %v): active = %q, want %q", i, tk.at, tk.values, active, tk.active)
		}
	}
}

func newEval(t *testing.T, mutate func(*Config)) *Evaluator {
	t.Helper()
	cfg := DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := NewEvaluator(cfg)
	if err != nil {
		t.Fatalf("NewEvaluator: %v", err)
	}
	return e
}

func TestEvaluatorScenarios(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
		ticks  []tick
	}{
		{
			name: "pending fires after For",
			ticks: []tick{
				{at: 0, values: errv(0.01)},
				{at: 10 * secs, values: errv(0.03), want: []string{"pending " + prodErrW}, active: []string{prodErrW + "=pending"}},
				{at: 40 * secs, values: errv(0.03), active: []string{prodErrW + "=pending"}},
				{at: 69 * secs, values: errv(0.04), active: []string{prodErrW + "=pending"}},
				{at: 70 * secs, values: errv(0.03), want: []string{"fired " + prodErrW}, active: []string{prodErrW + "=firing"}},
				{at: 100 * secs, values: errv(0.03), active: []string{prodErrW + "=firing"}},
			},
		},
		{
			name: "blip shorter than For is cancelled and never fires",
			ticks: []tick{
				{at: 0, values: errv(0.03), want: []string{"pending " + prodErrW}, active: []string{prodErrW + "=pending"}},
				{at: 30 * secs, values: errv(0.01), want: []string{"cancelled " + prodErrW}},
				{at: 60 * secs, values: errv(0.03), want: []string{"pending " + prodErrW}, active: []string{prodErrW + "=pending"}},
				{at: 90 * secs, values: errv(0.02), want: []string{"cancelled " + prodErrW}},
				{at: 120 * secs, values: errv(0.01)},
			},
		},
		{
			name: "value exactly at the threshold does not breach",
			ticks: []tick{
				{at: 0, values: errv(0.02)},
				{at: 2 * time.Minute, values: errv(0.02)},
			},
		},
		{
			name: "jump over critical starts both severities",
			ticks: []tick{
				{at: 0, values: errv(0.08), want: []string{"pending " + prodErrW, "pending " + prodErrC}, active: []string{prodErrC + "=pending", prodErrW + "=pending"}},
				{at: 60 * secs, values: errv(0.06), want: []string{"fired " + prodErrW, "fired " + prodErrC}, active: []string{prodErrC + "=firing", prodErrW + "=firing"}},
				// Back under critical but above warning: critical needs the band (< 4.5%).
				{at: 90 * secs, values: errv(0.046), active: []string{prodErrC + "=firing", prodErrW + "=firing"}},
				{at: 120 * secs, values: errv(0.03), active: []string{prodErrC + "=firing", prodErrW + "=firing"}},
				{at: 240 * secs, values: errv(0.03), want: []string{"resolved " + prodErrC}, active: []string{prodErrW + "=firing"}},
			},
		},
		{
			name: "recovery needs the band and RecoverFor",
			ticks: []tick{
				{at: 0, values: errv(0.03), want: []string{"pending " + prodErrW}, active: []string{prodErrW + "=pending"}},
				{at: 60 * secs, values: errv(0.03), want: []string{"fired " + prodErrW}, active: []string{prodErrW + "=firing"}},
				// Under 2% but inside the band (>= 1.8%) for far longer than RecoverFor.
				{at: 90 * secs, values: errv(0.019), active: []string{prodErrW + "=firing"}},
				{at: 300 * secs, values: errv(0.0185), active: []string{prodErrW + "=firing"}},
				{at: 330 * secs, values: errv(0.017), active: []string{prodErrW + "=firing"}},
				{at: 449 * secs, values: errv(0.010), active: []string{prodErrW + "=firing"}},
				{at: 450 * secs, values: errv(0.010), want: []string{"resolved " + prodErrW}},
				{at: 480 * secs, values: errv(0.010)},
			},
		},
		{
			name: "flapping around the threshold neither resolves nor re-fires",
			ticks: []tick{
				{at: 0, values: errv(0.021), want: []string{"pending " + prodErrW}, active: []string{prodErrW + "=pending"}},
				{at: 60 * secs, values: errv(0.021), want: []string{"fired " + prodErrW}, active: []string{prodErrW + "=firing"}},
				{at: 90 * secs, values: errv(0.019), active: []string{prodErrW + "=firing"}},
				{at: 120 * secs, values: errv(0.021), active: []string{prodErrW + "=firing"}},
				{at: 150 * secs, values: errv(0.017), active: []string{prodErrW + "=firing"}},
				{at: 240 * secs, values: errv(0.017), active: []string{prodErrW + "=firing"}},
				// A single sample inside the band restarts the recovery timer.
				{at: 260 * secs, values: errv(0.019), active: []string{prodErrW + "=firing"}},
				{at: 270 * secs, values: errv(0.017), active: []string{prodErrW + "=firing"}},
				{at: 300 * secs, values: errv(0.022), active: []string{prodErrW + "=firing"}},
				{at: 330 * secs, values: errv(0.017), active: []string{prodErrW + "=firing"}},
				{at: 450 * secs, values: errv(0.017), want: []string{"resolved " + prodErrW}},
			},
		},
		{
			name: "below metric: accuracy",
			ticks: []tick{
				{at: 0, values: accv(0.95)},
				{at: 30 * secs, values: accv(0.88), want: []string{"pending " + prodAccW}, active: []string{prodAccW + "=pending"}},
				{at: 60 * secs, values: accv(0.84), want: []string{"pending " + prodAccC}, active: []string{prodAccC + "=pending", prodAccW + "=pending"}},
				{at: 90 * secs, values: accv(0.84), want: []string{"fired " + prodAccW}, active: []string{prodAccC + "=pending", prodAccW + "=firing"}},
				{at: 120 * secs, values: accv(0.86), want: []string{"cancelled " + prodAccC}, active: []string{prodAccW + "=firing"}},
				// 0.91 is above 90% but inside the accuracy band (<= 91.8%).
				{at: 150 * secs, values: accv(0.91), active: []string{prodAccW + "=firing"}},
				{at: 400 * secs, values: accv(0.91), active: []string{prodAccW + "=firing"}},
				{at: 430 * secs, values: accv(0.93), active: []string{prodAccW + "=firing"}},
				{at: 550 * secs, values: accv(0.95), want: []string{"resolved " + prodAccW}},
			},
		},
		{
			name: "absent metric neither fires nor resolves",
			ticks: []tick{
				{at: 0, values: errv(0.03), want: []string{"pending " + prodErrW}, active: []string{prodErrW + "=pending"}},
				{at: 90 * secs, values: map[string]float64{latencyP9: 1}, active: []string{prodErrW + "=pending"}},
				{at: 100 * secs, values: nil, active: []string{prodErrW + "=pending"}},
				{at: 110 * secs, values: errv(0.03), want: []string{"fired " + prodErrW}, active: []string{prodErrW + "=firing"}},
				{at: 400 * secs, values: map[string]float64{"unknown_metric": 0}, active: []string{prodErrW + "=firing"}},
			},
		},
		{
			name: "out-of-order sample is ignored",
			ticks: []tick{
				{at: 60 * secs, values: errv(0.03), want: []string{"pending " + prodErrW}, active: []string{prodErrW + "=pending"}},
				{at: 30 * secs, values: errv(0.00), active: []string{prodErrW + "=pending"}},
				{at: 120 * secs, values: errv(0.03), want: []string{"fired " + prodErrW}, active: []string{prodErrW + "=firing"}},
				{at: 0, values: errv(0.00), active: []string{prodErrW + "=firing"}},
			},
		},
		{
			name: "targets are independent",
			ticks: []tick{
				{at: 0, target: TargetCanary, values: errv(0.03), want: []string{"pending " + canErrW}, active: []string{canErrW + "=pending"}},
				{at: 30 * secs, values: errv(0.0), active: []string{canErrW + "=pending"}},
				{at: 60 * secs, target: TargetCanary, values: errv(0.03), want: []string{"fired " + canErrW}, active: []string{canErrW + "=firing"}},
			},
		},
		{
			name: "zero For fires on the first breaching sample",
			mutate: func(c *Config) {
				c.For = 0
				c.RecoverFor = 0
			},
			ticks: []tick{
				{at: 0, values: map[string]float64{latencyP9: 3.5}, want: []string{"pending " + prodLatW, "fired " + prodLatW}, active: []string{prodLatW + "=firing"}},
				{at: 10 * secs, values: map[string]float64{latencyP9: 2.8}, active: []string{prodLatW + "=firing"}},
				{at: 20 * secs, values: map[string]float64{latencyP9: 2.6}, want: []string{"resolved " + prodLatW}},
			},
		},
		{
			name:   "per-threshold hysteresis override",
			mutate: func(c *Config) { c.Thresholds[0].Hysteresis = 0.5 },
			ticks: []tick{
				{at: 0, values: errv(0.03), want: []string{"pending " + prodErrW}, active: []string{prodErrW + "=pending"}},
				{at: 60 * secs, values: errv(0.03), want: []string{"fired " + prodErrW}, active: []string{prodErrW + "=firing"}},
				{at: 90 * secs, values: errv(0.011), active: []string{prodErrW + "=firing"}},
				{at: 300 * secs, values: errv(0.011), active: []string{prodErrW + "=firing"}},
				{at: 310 * secs, values: errv(0.009), active: []string{prodErrW + "=firing"}},
				{at: 430 * secs, values: errv(0.009), want: []string{"resolved " + prodErrW}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runTicks(t, newEval(t, tt.mutate), tt.ticks)
		})
	}
}

func TestTransitionTimestamps(t *testing.T) {
	t.Parallel()
	e := newEval(t, nil)
	e.Eval(t0, TargetProduction, errv(0.03))
	fired := e.Eval(t0.Add(75*secs), TargetProduction, errv(0.03))
	if len(fired) != 1 {
		t.Fatalf("want one fired transition, got %v", fired)
	}
	a := fired[0].Alert
	if !a.ActiveAt.Equal(t0) || !a.FiredAt.Equal(t0.Add(75*secs)) || !a.ResolvedAt.IsZero() {
		t.Errorf("fired alert times: active %v fired %v resolved %v", a.ActiveAt, a.FiredAt, a.ResolvedAt)
	}
	if a.Value != 0.03 || a.Threshold != 0.02 || a.Remediation != Rollback || a.State != Firing {
		t.Errorf("fired alert = %+v", a)
	}
	e.Eval(t0.Add(100*secs), TargetProduction, errv(0.001))
	resolved := e.Eval(t0.Add(220*secs), TargetProduction, errv(0.001))
	if len(resolved) != 1 || resolved[0].Kind != TransitionResolved {
		t.Fatalf("want one resolved transition, got %v", resolved)
	}
	r := resolved[0].Alert
	if !r.ResolvedAt.Equal(t0.Add(220*secs)) || !r.FiredAt.Equal(t0.Add(75*secs)) || r.State != Inactive {
		t.Errorf("resolved alert = %+v", r)
	}
}

func TestRestoreKeepsFiringWithoutRefire(t *testing.T) {
	t.Parallel()
	before := newEval(t, nil)
	runTicks(t, before, []tick{
		{at: 0, values: errv(0.06), want: []string{"pending " + prodErrW, "pending " + prodErrC}, active: []string{prodErrC + "=pending", prodErrW + "=pending"}},
		{at: 60 * secs, values: errv(0.03), want: []string{"fired " + prodErrW, "cancelled " + prodErrC}, active: []string{prodErrW + "=firing"}},
		{at: 70 * secs, values: errv(0.03), target: TargetCanary, want: []string{"pending " + canErrW}, active: []string{canErrW + "=pending", prodErrW + "=firing"}},
	})
	snap := before.Snapshot()

	after := newEval(t, nil)
	after.Restore(snap)
	if got, want := after.Snapshot(), snap; !slices.Equal(got, want) {
		t.Fatalf("snapshot after restore = %+v, want %+v", got, want)
	}
	runTicks(t, after, []tick{
		{at: 90 * secs, values: errv(0.03), active: []string{canErrW + "=pending", prodErrW + "=firing"}},
		// The canary's pending alert keeps its ActiveAt (t+70s) across the restart.
		{at: 130 * secs, target: TargetCanary, values: errv(0.03), want: []string{"fired " + canErrW}, active: []string{canErrW + "=firing", prodErrW + "=firing"}},
		{at: 150 * secs, values: errv(0.01), active: []string{canErrW + "=firing", prodErrW + "=firing"}},
		{at: 270 * secs, values: errv(0.01), want: []string{"resolved " + prodErrW}, active: []string{canErrW + "=firing"}},
	})
}

func TestRestoreResumesRecoveryTimer(t *testing.T) {
	t.Parallel()
	before := newEval(t, nil)
	before.Eval(t0, TargetProduction, errv(0.03))
	before.Eval(t0.Add(60*secs), TargetProduction, errv(0.03))
	before.Eval(t0.Add(100*secs), TargetProduction, errv(0.01))
	after := newEval(t, nil)
	after.Restore(before.Snapshot())
	runTicks(t, after, []tick{
		{at: 219 * secs, values: errv(0.01), active: []string{prodErrW + "=firing"}},
		{at: 220 * secs, values: errv(0.01), want: []string{"resolved " + prodErrW}},
	})
}

func TestRestoreDropsUnresumableEntries(t *testing.T) {
	t.Parallel()
	good := Alert{Target: TargetProduction, Metric: errRate, Severity: Critical, State: Firing, ActiveAt: t0, FiredAt: t0.Add(time.Minute), Threshold: 99}
	tests := []struct {
		name  string
		alert Alert
		keep  bool
	}{
		{"valid firing", good, true},
		{"metric not configured", with(good, func(a *Alert) { a.Metric = "queue_depth" }), false},
		{"empty target", with(good, func(a *Alert) { a.Target = "" }), false},
		{"unknown severity", with(good, func(a *Alert) { a.Severity = "page" }), false},
		{"unknown state", with(good, func(a *Alert) { a.State = "silenced" }), false},
		{"firing without FiredAt", with(good, func(a *Alert) { a.FiredAt = time.Time{} }), false},
		{"pending without ActiveAt", with(good, func(a *Alert) { a.State, a.ActiveAt = Pending, time.Time{} }), false},
		{"inactive", with(good, func(a *Alert) { a.State = Inactive }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEval(t, nil)
			e.Restore([]Alert{tt.alert})
			got := e.Snapshot()
			if !tt.keep {
				if len(got) != 0 {
					t.Fatalf("restored %+v, want it dropped", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("restored %d alerts, want 1", len(got))
			}
			if got[0].ID != prodErrC || got[0].Threshold != 0.05 || got[0].Remediation != Rollback {
				t.Errorf("restored alert not refreshed from config: %+v", got[0])
			}
		})
	}
}

func with(a Alert, f func(*Alert)) Alert {
	f(&a)
	return a
}

func TestForgetEndsTargetAlerts(t *testing.T) {
	t.Parallel()
	e := newEval(t, nil)
	e.Eval(t0, TargetCanary, errv(0.06))
	e.Eval(t0.Add(time.Minute), TargetCanary, errv(0.03))
	e.Eval(t0.Add(time.Minute), TargetCanary, accv(0.5))
	e.Eval(t0, TargetProduction, errv(0.03))
	var got []string
	for _, tr := range e.Forget(t0.Add(2*time.Minute), TargetCanary) {
		got = append(got, tr.String())
		if tr.Kind == TransitionResolved && !tr.Alert.ResolvedAt.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("resolved at %v", tr.Alert.ResolvedAt)
		}
	}
	want := []string{"cancelled canary/accuracy_rate/critical", "cancelled canary/accuracy_rate/warning", "resolved " + canErrW}
	if !slices.Equal(got, want) {
		t.Fatalf("Forget = %q, want %q", got, want)
	}
	for _, a := range e.Snapshot() {
		if strings.HasPrefix(a.ID, "canary/") {
			t.Errorf("canary alert %s still held", a.ID)
		}
	}
	if act := e.Active(); len(act) != 1 || act[0].ID != prodErrW {
		t.Errorf("production alerts disturbed: %+v", act)
	}
}

func TestEvalIgnoresEmptyTargetAndNaN(t *testing.T) {
	t.Parallel()
	e := newEval(t, nil)
	if tr := e.Eval(t0, "", errv(0.5)); tr != nil {
		t.Errorf("empty target produced %v", tr)
	}
	e.Eval(t0, TargetProduction, errv(0.03))
	nan := map[string]float64{errRate: nanValue()}
	if tr := e.Eval(t0.Add(30*secs), TargetProduction, nan); tr != nil {
		t.Errorf("NaN produced %v", tr)
	}
	if act := e.Active(); len(act) != 1 || act[0].State != Pending || act[0].Value != 0.03 {
		t.Errorf("NaN changed state: %+v", act)
	}
}

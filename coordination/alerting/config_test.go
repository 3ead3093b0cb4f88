package alerting

import (
	"math"
	"strings"
	"testing"
	"time"
)

func nanValue() float64 { return math.NaN() }

func TestDefaultThresholdsMatchProductTable(t *testing.T) {
	t.Parallel()
	want := map[string]struct {
		dir         Direction
		warn, crit  float64
		remediation Remediation
	}{
		MetricErrorRate:      {Above, 0.02, 0.05, Rollback},
		MetricLatencyP95:     {Above, 3, 10, ScaleUp},
		MetricAccuracyRate:   {Below, 0.90, 0.85, NoRemediation},
		MetricCPUUtilization: {Above, 0.70, 0.90, ScaleUp},
	}
	got := DefaultThresholds()
	if len(got) != len(want) {
		t.Fatalf("got %d thresholds, want %d", len(got), len(want))
	}
	for _, th := range got {
		w, ok := want[th.Metric]
		if !ok {
			t.Errorf("unexpected metric %q", th.Metric)
			continue
		}
		if th.Direction != w.dir || th.Warning != w.warn || th.Critical != w.crit || th.Remediation != w.remediation {
			t.Errorf("%s = %+v, want %+v", th.Metric, th, w)
		}
	}
	cfg := DefaultConfig()
	if cfg.For != time.Minute || cfg.RecoverFor != 2*time.Minute || cfg.Hysteresis != 0.10 {
		t.Errorf("DefaultConfig = %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("DefaultConfig invalid: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // substrings of the error; none means valid
	}{
		{name: "default", mutate: func(*Config) {}},
		{name: "zero durations are allowed", mutate: func(c *Config) { c.For, c.RecoverFor, c.Hysteresis = 0, 0, 0 }},
		{name: "negative For", mutate: func(c *Config) { c.For = -time.Second }, want: []string{"for: must not be negative"}},
		{name: "negative RecoverFor", mutate: func(c *Config) { c.RecoverFor = -time.Second }, want: []string{"recover_for:"}},
		{name: "hysteresis 1", mutate: func(c *Config) { c.Hysteresis = 1 }, want: []string{"hysteresis: must be in [0, 1)"}},
		{name: "hysteresis NaN", mutate: func(c *Config) { c.Hysteresis = math.NaN() }, want: []string{"hysteresis:"}},
		{name: "no thresholds", mutate: func(c *Config) { c.Thresholds = nil }, want: []string{"thresholds: at least one"}},
		{name: "empty metric", mutate: func(c *Config) { c.Thresholds[1].Metric = "" }, want: []string{"thresholds[1]: metric: must not be empty"}},
		{name: "duplicate metric", mutate: func(c *Config) { c.Thresholds[3].Metric = MetricErrorRate }, want: []string{`thresholds[3].metric: "error_rate" already configured by thresholds[0]`}},
		{name: "unknown direction", mutate: func(c *Config) { c.Thresholds[0].Direction = "sideways" }, want: []string{`thresholds[0]: direction: unknown direction "sideways"`}},
		{name: "above critical below warning", mutate: func(c *Config) { c.Thresholds[0].Critical = 0.01 }, want: []string{"thresholds[0]: critical: 0.01 is below warning 0.02"}},
		{name: "below critical above warning", mutate: func(c *Config) { c.Thresholds[2].Critical = 0.95 }, want: []string{"thresholds[2]: critical: 0.95 is above warning 0.9"}},
		{name: "infinite warning", mutate: func(c *Config) { c.Thresholds[1].Warning = math.Inf(1) }, want: []string{"thresholds[1]: warning: must be a finite number"}},
		{name: "unknown remediation", mutate: func(c *Config) { c.Thresholds[1].Remediation = "reboot" }, want: []string{`remediation: unknown remediation "reboot"`}},
		{name: "threshold hysteresis negative", mutate: func(c *Config) { c.Thresholds[0].Hysteresis = -0.1 }, want: []string{"thresholds[0]: hysteresis:"}},
		{
			name:   "every problem is reported",
			mutate: func(c *Config) { c.For = -1; c.Thresholds[0].Direction = ""; c.Thresholds[1].Remediation = "x" },
			want:   []string{"for:", "thresholds[0]: direction", "thresholds[1]: remediation"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
			if _, nerr := NewEvaluator(cfg); nerr == nil {
				t.Errorf("NewEvaluator accepted an invalid config")
			}
		})
	}
}

func TestEvaluatorCopiesConfig(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	e, err := NewEvaluator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Thresholds[0].Warning = 0.5
	e.Config().Thresholds[0].Warning = 0.5
	if tr := e.Eval(t0, TargetProduction, errv(0.03)); len(tr) != 1 {
		t.Errorf("caller's slice changed the evaluator: %v", tr)
	}
}

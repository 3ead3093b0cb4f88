package coordination

import (
	"fmt"
	"time"

	"github.com/tricyclehq/tricycle/coordination/alerting"
	"github.com/tricyclehq/tricycle/coordination/decision"
)

// Config holds the cycle's tunables. The zero value of a field means the
// design note's default (see DefaultConfig).
type Config struct {
	// ShadowPercent is the default share of V2 requests copied to each
	// running experiment (default 5).
	ShadowPercent float64 `json:"shadow_percent" yaml:"shadow_percent"`
	// EvaluationMin and EvaluationMax bound the evaluation period (7 and 14 days).
	EvaluationMin Duration `json:"evaluation_min" yaml:"evaluation_min"`
	EvaluationMax Duration `json:"evaluation_max" yaml:"evaluation_max"`
	// Phases is the canary plan (10% 24 h, 50% 48 h, 100% 7 d).
	Phases []Phase `json:"phases" yaml:"phases"`
	// Tolerance is how far (a fraction of the threshold) a point metric may
	// miss a criterion and still be a near miss (HOLD) rather than QUARANTINE.
	Tolerance float64 `json:"tolerance" yaml:"tolerance"`
	// Samples configures decisions from measured samples.
	Samples decision.SampleConfig `json:"samples" yaml:"samples"`
	// RollbackWindow is how long after completion a promotion can still be
	// rolled back automatically (7 days).
	RollbackWindow Duration `json:"rollback_window" yaml:"rollback_window"`
	// ReviewInterval is the quarantine review period (90 days).
	ReviewInterval Duration `json:"review_interval" yaml:"review_interval"`
	// Health configures alerting; SLOWindow the SLO compliance window.
	Health    alerting.Config      `json:"health" yaml:"health"`
	SLO       []alerting.Objective `json:"slo" yaml:"slo"`
	SLOWindow Duration             `json:"slo_window" yaml:"slo_window"`
	// HealthWindow is the sliding window the monitor reads (5 minutes).
	HealthWindow Duration `json:"health_window" yaml:"health_window"`
	// ScaleCooldown separates two scale-ups; MaxReplicas is the ceiling.
	ScaleCooldown Duration `json:"scale_cooldown" yaml:"scale_cooldown"`
	MaxReplicas   int      `json:"max_replicas" yaml:"max_replicas"`
	// CanaryMinSamples is the number of canary requests below which a phase's
	// analysis cannot fail on error rate (it passes as "not enough data").
	CanaryMinSamples int64 `json:"canary_min_samples" yaml:"canary_min_samples"`
	// HealthMinRequests is the number of requests in a health window below
	// which its error rate and p95 latency are not judged (treated as no
	// data): at night one error among a handful of requests is not a 20%
	// error rate worth a rollback.
	HealthMinRequests int64 `json:"health_min_requests" yaml:"health_min_requests"`
	// CanaryGrace is how long past its due time a phase whose analysis keeps
	// failing may wait before it is rolled back (default: half the phase).
	CanaryGrace Duration `json:"canary_grace" yaml:"canary_grace"`
}

// DefaultConfig returns the design note's values.
func DefaultConfig() Config {
	return Config{
		ShadowPercent:     5,
		EvaluationMin:     Duration(7 * 24 * time.Hour),
		EvaluationMax:     Duration(14 * 24 * time.Hour),
		Phases:            DefaultPhases(),
		Tolerance:         0.05,
		Samples:           decision.DefaultSampleConfig(),
		RollbackWindow:    Duration(7 * 24 * time.Hour),
		ReviewInterval:    Duration(90 * 24 * time.Hour),
		Health:            alerting.DefaultConfig(),
		SLO:               alerting.DefaultObjectives(),
		SLOWindow:         Duration(30 * 24 * time.Hour),
		HealthWindow:      Duration(5 * time.Minute),
		ScaleCooldown:     Duration(5 * time.Minute),
		MaxReplicas:       10,
		CanaryMinSamples:  50,
		HealthMinRequests: 50,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.ShadowPercent == 0 {
		c.ShadowPercent = d.ShadowPercent
	}
	if c.EvaluationMin == 0 {
		c.EvaluationMin = d.EvaluationMin
	}
	if c.EvaluationMax == 0 {
		c.EvaluationMax = d.EvaluationMax
	}
	if len(c.Phases) == 0 {
		c.Phases = d.Phases
	}
	if c.Tolerance == 0 {
		c.Tolerance = d.Tolerance
	}
	if c.Samples == (decision.SampleConfig{}) {
		c.Samples = d.Samples
	}
	if c.RollbackWindow == 0 {
		c.RollbackWindow = d.RollbackWindow
	}
	if c.ReviewInterval == 0 {
		c.ReviewInterval = d.ReviewInterval
	}
	if len(c.Health.Thresholds) == 0 && c.Health.For == 0 && c.Health.RecoverFor == 0 && c.Health.Hysteresis == 0 {
		c.Health = d.Health
	}
	if len(c.SLO) == 0 {
		c.SLO = d.SLO
	}
	if c.SLOWindow == 0 {
		c.SLOWindow = d.SLOWindow
	}
	if c.HealthWindow == 0 {
		c.HealthWindow = d.HealthWindow
	}
	if c.ScaleCooldown == 0 {
		c.ScaleCooldown = d.ScaleCooldown
	}
	if c.MaxReplicas == 0 {
		c.MaxReplicas = d.MaxReplicas
	}
	if c.CanaryMinSamples == 0 {
		c.CanaryMinSamples = d.CanaryMinSamples
	}
	if c.HealthMinRequests == 0 {
		c.HealthMinRequests = d.HealthMinRequests
	}
	return c
}

// Validate checks the configuration and names the first bad field.
func (c Config) Validate() error {
	if c.ShadowPercent < 0 || c.ShadowPercent > 100 {
		return invalidInput("cycle.shadow_percent", "%v is not within 0-100", c.ShadowPercent)
	}
	if c.EvaluationMin < 0 || c.EvaluationMax < c.EvaluationMin {
		return invalidInput("cycle.evaluation_max", "%v must be at least evaluation_min %v", c.EvaluationMax, c.EvaluationMin)
	}
	if err := ValidatePhases(c.Phases); err != nil {
		return err
	}
	if c.Tolerance < 0 || c.Tolerance >= 1 {
		return invalidInput("cycle.tolerance", "%v is not within [0,1)", c.Tolerance)
	}
	if c.Samples.Confidence <= 0 || c.Samples.Confidence >= 1 {
		return invalidInput("cycle.samples.confidence", "%v is not within (0,1)", c.Samples.Confidence)
	}
	if err := c.Samples.Validate(); err != nil {
		return fmt.Errorf("%w: cycle.samples: %w", ErrInvalidInput, err)
	}
	if err := c.Health.Validate(); err != nil {
		return fmt.Errorf("%w: health: %w", ErrInvalidInput, err)
	}
	if c.MaxReplicas < 1 {
		return invalidInput("health.max_replicas", "must be at least 1")
	}
	return nil
}

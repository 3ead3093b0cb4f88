package alerting

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Metric names understood by the health monitor. Values are in base units:
// rates and utilisation as fractions in [0, 1], latency in seconds.
const (
	// MetricErrorRate is the fraction of reviews that failed.
	MetricErrorRate = "error_rate"
	// MetricLatencyP95 is the 95th percentile review latency in seconds.
	MetricLatencyP95 = "latency_p95"
	// MetricAccuracyRate is the fraction of labelled checks (golden probes,
	// feedback) that were answered correctly.
	MetricAccuracyRate = "accuracy_rate"
	// MetricCPUUtilization is the gateway's CPU utilisation as a fraction.
	MetricCPUUtilization = "cpu_utilization"
)

// Targets the health monitor evaluates separately.
const (
	// TargetProduction is the production (V2) deployment.
	TargetProduction = "production"
	// TargetCanary is the canary of a promotion in progress.
	TargetCanary = "canary"
)

// Direction says on which side of a threshold a value is unhealthy.
type Direction string

const (
	// Above means the alert fires when the value is greater than the threshold.
	Above Direction = "above"
	// Below means the alert fires when the value is less than the threshold.
	Below Direction = "below"
)

// Valid reports whether d is a known direction.
func (d Direction) Valid() bool { return d == Above || d == Below }

// Severity ranks an alert; warning and critical are separate alerts.
type Severity string

const (
	// Warning is the lower severity: something is drifting.
	Warning Severity = "warning"
	// Critical is the higher severity: auto-remediation is warranted.
	Critical Severity = "critical"
)

// Severities returns every severity, least severe first.
func Severities() []Severity { return []Severity{Warning, Critical} }

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool { return s == Warning || s == Critical }

// Remediation is the automatic action the health monitor takes when an alert
// for a metric fires.
type Remediation string

const (
	// NoRemediation means the alert only notifies.
	NoRemediation Remediation = ""
	// Rollback rolls back the active canary or the most recent promotion.
	Rollback Remediation = "rollback"
	// ScaleUp adds gateway replicas through the configured scaler.
	ScaleUp Remediation = "scale_up"
)

// Valid reports whether r is a known remediation (including none).
func (r Remediation) Valid() bool { return r == NoRemediation || r == Rollback || r == ScaleUp }

// Threshold configures the warning and critical levels of one metric.
type Threshold struct {
	// Metric is the key looked up in the values passed to Evaluator.Eval.
	Metric string `json:"metric" yaml:"metric"`
	// Direction says whether high (Above) or low (Below) values are unhealthy.
	Direction Direction `json:"direction" yaml:"direction"`
	// Warning is the warning level, in the metric's base unit.
	Warning float64 `json:"warning" yaml:"warning"`
	// Critical is the critical level; at least as severe as Warning.
	Critical float64 `json:"critical" yaml:"critical"`
	// Remediation is the action to take when an alert for this metric fires.
	Remediation Remediation `json:"remediation,omitempty" yaml:"remediation,omitempty"`
	// Hysteresis, when positive, replaces Config.Hysteresis for this metric.
	Hysteresis float64 `json:"hysteresis,omitempty" yaml:"hysteresis,omitempty"`
}

// Level returns the threshold value for severity s.
func (t Threshold) Level(s Severity) float64 {
	if s == Critical {
		return t.Critical
	}
	return t.Warning
}

// Breached reports whether value v is on the unhealthy side of level.
func (t Threshold) Breached(v, level float64) bool {
	if t.Direction == Below {
		return v < level
	}
	return v > level
}

// Recovered reports whether value v is on the good side of the hysteresis
// band around level: below level×(1−h) for Above, above level×(1+h) for Below.
func (t Threshold) Recovered(v, level, h float64) bool {
	if t.Direction == Below {
		return v > level*(1+h)
	}
	return v < level*(1-h)
}

// DefaultThresholds returns the health monitor's default thresholds: error
// rate 2% / 5% (rollback), p95 latency 3 s / 10 s (scale up), accuracy below
// 90% / 85% (notify only) and CPU 70% / 90% (scale up).
//
// Accuracy carries its own 2% hysteresis band (recovering above 91.8% and
// 86.7%): the default 10% band would demand 99% accuracy before a warning
// could clear.
func DefaultThresholds() []Threshold {
	return []Threshold{
		{Metric: MetricErrorRate, Direction: Above, Warning: 0.02, Critical: 0.05, Remediation: Rollback},
		{Metric: MetricLatencyP95, Direction: Above, Warning: 3, Critical: 10, Remediation: ScaleUp},
		{Metric: MetricAccuracyRate, Direction: Below, Warning: 0.90, Critical: 0.85, Hysteresis: 0.02},
		{Metric: MetricCPUUtilization, Direction: Above, Warning: 0.70, Critical: 0.90, Remediation: ScaleUp},
	}
}

// Config configures an Evaluator. Zero durations are taken literally (an
// alert fires on its first breaching sample); start from DefaultConfig for
// the product defaults.
type Config struct {
	// Thresholds lists the metrics to watch; metric names are unique.
	Thresholds []Threshold
	// For is how long the condition must hold before a pending alert fires.
	For time.Duration
	// RecoverFor is how long a firing alert's value must stay on the good
	// side of the hysteresis band before it resolves.
	RecoverFor time.Duration
	// Hysteresis is the relative width of the recovery band, in [0, 1): an
	// Above alert at level T resolves only below T×(1−Hysteresis), a Below
	// alert only above T×(1+Hysteresis).
	Hysteresis float64
}

// DefaultConfig returns the default thresholds with For 1m, RecoverFor 2m
// and a 10% hysteresis band.
func DefaultConfig() Config {
	return Config{
		Thresholds: DefaultThresholds(),
		For:        time.Minute,
		RecoverFor: 2 * time.Minute,
		Hysteresis: 0.10,
	}
}

// Validate reports every problem with c, each naming the offending field.
func (c Config) Validate() error {
	var errs []error
	if c.For < 0 {
		errs = append(errs, fmt.Errorf("for: must not be negative, got %s", c.For))
	}
	if c.RecoverFor < 0 {
		errs = append(errs, fmt.Errorf("recover_for: must not be negative, got %s", c.RecoverFor))
	}
	if err := validHysteresis(c.Hysteresis); err != nil {
		errs = append(errs, fmt.Errorf("hysteresis: %w", err))
	}
	if len(c.Thresholds) == 0 {
		errs = append(errs, errors.New("thresholds: at least one threshold is required"))
	}
	seen := make(map[string]int, len(c.Thresholds))
	for i, t := range c.Thresholds {
		if prev, dup := seen[t.Metric]; dup && t.Metric != "" {
			errs = append(errs, fmt.Errorf("thresholds[%d].metric: %q already configured by thresholds[%d]", i, t.Metric, prev))
		}
		seen[t.Metric] = i
		if err := t.validate(); err != nil {
			errs = append(errs, fmt.Errorf("thresholds[%d]: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid alerting config: %w", err)
	}
	return nil
}

func (t Threshold) validate() error {
	var errs []error
	if t.Metric == "" {
		errs = append(errs, errors.New("metric: must not be empty"))
	}
	if !t.Direction.Valid() {
		errs = append(errs, fmt.Errorf("direction: unknown direction %q (want %q or %q)", t.Direction, Above, Below))
	}
	finite := true
	for _, f := range []struct {
		name string
		v    float64
	}{{"warning", t.Warning}, {"critical", t.Critical}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			errs = append(errs, fmt.Errorf("%s: must be a finite number, got %v", f.name, f.v))
			finite = false
		}
	}
	if finite {
		switch t.Direction {
		case Above:
			if t.Critical < t.Warning {
				errs = append(errs, fmt.Errorf("critical: %v is below warning %v for an %q threshold", t.Critical, t.Warning, Above))
			}
		case Below:
			if t.Critical > t.Warning {
				errs = append(errs, fmt.Errorf("critical: %v is above warning %v for a %q threshold", t.Critical, t.Warning, Below))
			}
		}
	}
	if !t.Remediation.Valid() {
		errs = append(errs, fmt.Errorf("remediation: unknown remediation %q (want %q, %q or none)", t.Remediation, Rollback, ScaleUp))
	}
	if err := validHysteresis(t.Hysteresis); err != nil {
		errs = append(errs, fmt.Errorf("hysteresis: %w", err))
	}
	return errors.Join(errs...)
}

func validHysteresis(h float64) error {
	if math.IsNaN(h) || h < 0 || h >= 1 {
		return fmt.Errorf("must be in [0, 1), got %v", h)
	}
	return nil
}

// hysteresisFor returns the band width that applies to t.
func (c Config) hysteresisFor(t Threshold) float64 {
	if t.Hysteresis > 0 {
		return t.Hysteresis
	}
	return c.Hysteresis
}

// Package config is the configuration of `tricycle serve`: one YAML file
// whose every key can be overridden by a TRICYCLE_* environment variable and
// by a command-line flag.
//
// # Precedence
//
// Default() holds the design note's values; Load (or Parse) reads a file on
// top of them; ApplyEnv applies TRICYCLE_* variables on top of that; the
// command line applies its flags last (through Set or by assigning fields).
// Validate then checks the result and names the first bad field.
//
// # Strictness
//
// An unknown key, a duplicate key, a value of the wrong type and an unknown
// enumerated value (a provider, a bus scheme, a log level) are errors that
// name the key and, for a file, its line. Nothing unknown is silently
// replaced by a default.
//
// # Units
//
// Durations are Go duration strings ("800ms", "168h"). Rates, fractions and
// utilisation are fractions (0.02 is 2%); latency thresholds and objectives
// are seconds, as everywhere in the product.
package config

import (
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/alerting"
)

// Duration is a duration written as a Go duration string ("5m", "168h").
type Duration = coordination.Duration

// Config is the whole configuration of a tricycle server. Its YAML form is
// PRODUCT.md's sketch; see Default for every value.
type Config struct {
	// Server configures the HTTP listener.
	Server ServerConfig `yaml:"server" json:"server"`
	// Storage selects the store.
	Storage StorageConfig `yaml:"storage" json:"storage"`
	// Bus selects the event bus.
	Bus BusConfig `yaml:"bus" json:"bus"`
	// Production names the variant the first production release serves.
	Production ProductionConfig `yaml:"production" json:"production"`
	// Variants are the reviewer configurations the server knows by name.
	Variants []coordination.Variant `yaml:"variants" json:"variants"`
	// Cycle holds the experiment and canary tunables.
	Cycle CycleConfig `yaml:"cycle" json:"cycle"`
	// Health configures the health monitor, its alerts and the SLOs.
	Health HealthConfig `yaml:"health" json:"health"`
	// Log configures the server's log.
	Log LogConfig `yaml:"log" json:"log"`
	// DataDir is where the server keeps its files (the generated admin
	// token); empty means beside the SQLite file.
	DataDir string `yaml:"data_dir" json:"data_dir"`
	// AdminToken is the admin token created at the first start of an empty
	// store. It is a secret: it is read only from TRICYCLE_ADMIN_TOKEN (or set
	// by the program), never from the file, and never written out.
	AdminToken string `yaml:"-" json:"-"`
}

// ServerConfig configures the HTTP server. Every timeout is set: a zero
// value is refused rather than meaning "no timeout".
type ServerConfig struct {
	// Addr is the listen address, host:port; port 0 picks a free port.
	Addr string `yaml:"addr" json:"addr"`
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout" json:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request.
	ReadTimeout Duration `yaml:"read_timeout" json:"read_timeout"`
	// WriteTimeout bounds writing a response (event streams extend it per
	// write instead).
	WriteTimeout Duration `yaml:"write_timeout" json:"write_timeout"`
	// IdleTimeout bounds how long a keep-alive connection waits for the next
	// request.
	IdleTimeout Duration `yaml:"idle_timeout" json:"idle_timeout"`
	// ShutdownTimeout bounds the wait for in-flight requests at shutdown
	// (those still running are then cut); stopping the coordinator and
	// flushing its outbox afterwards gets the same budget again.
	ShutdownTimeout Duration `yaml:"shutdown_timeout" json:"shutdown_timeout"`
	// MaxHeaderBytes bounds the size of a request's headers.
	MaxHeaderBytes int `yaml:"max_header_bytes" json:"max_header_bytes"`
	// MaxBodyBytes bounds the size of a JSON request body (413 beyond).
	MaxBodyBytes int64 `yaml:"max_body_bytes" json:"max_body_bytes"`
	// EventsHeartbeat is the interval of heartbeat comments on event streams.
	EventsHeartbeat Duration `yaml:"events_heartbeat" json:"events_heartbeat"`
	// EventsReplay is how many recent events are kept to replay after a
	// client's Last-Event-ID.
	EventsReplay int `yaml:"events_replay" json:"events_replay"`
}

// StorageConfig selects the store.
type StorageConfig struct {
	// DSN is "sqlite:PATH" (the embedded default) or "postgres://…".
	DSN string `yaml:"dsn" json:"dsn"`
}

// BusConfig selects the event bus.
type BusConfig struct {
	// URL is "memory" (in-process, the embedded default) or "nats://…".
	URL string `yaml:"url" json:"url"`
}

// ProductionConfig names the production variant.
type ProductionConfig struct {
	// Variant is the name of an entry of Variants.
	Variant string `yaml:"variant" json:"variant"`
}

// CycleConfig holds the experiment and canary tunables.
type CycleConfig struct {
	// ShadowPercent is the share of production requests copied to each
	// running experiment, in (0, 100].
	ShadowPercent float64 `yaml:"shadow_percent" json:"shadow_percent"`
	// EvaluationMin and EvaluationMax bound an experiment's evaluation period.
	EvaluationMin Duration `yaml:"evaluation_min" json:"evaluation_min"`
	EvaluationMax Duration `yaml:"evaluation_max" json:"evaluation_max"`
	// Phases is the canary plan.
	Phases []coordination.Phase `yaml:"phases" json:"phases"`
	// Tolerance is how far, as a fraction of the threshold, a point metric
	// may miss a criterion and be a HOLD rather than a QUARANTINE.
	Tolerance float64 `yaml:"tolerance" json:"tolerance"`
	// Confidence is the confidence of sample-based decisions, in (0, 1).
	Confidence float64 `yaml:"confidence" json:"confidence"`
	// RollbackWindow is how long after completion a promotion may still be
	// rolled back automatically.
	RollbackWindow Duration `yaml:"rollback_window" json:"rollback_window"`
	// ReviewInterval is the period of quarantine reviews.
	ReviewInterval Duration `yaml:"review_interval" json:"review_interval"`
	// CanaryMinSamples is the canary request count below which a phase's
	// analysis cannot fail on error rate or latency.
	CanaryMinSamples int64 `yaml:"canary_min_samples" json:"canary_min_samples"`
	// CanaryGrace is how long past its due time a failing phase may wait
	// before it is rolled back; 0 means half the phase.
	CanaryGrace Duration `yaml:"canary_grace" json:"canary_grace"`
	// PollInterval is how often the coordinator's loops run when nothing
	// wakes them.
	PollInterval Duration `yaml:"poll_interval" json:"poll_interval"`
}

// HealthConfig configures the health monitor.
type HealthConfig struct {
	// Window is the sliding window the monitor reads.
	Window Duration `yaml:"window" json:"window"`
	// For is how long a condition must hold before its alert fires.
	For Duration `yaml:"for" json:"for"`
	// RecoverFor is how long a value must stay healthy before its alert
	// resolves.
	RecoverFor Duration `yaml:"recover_for" json:"recover_for"`
	// Hysteresis is the relative width of the recovery band, in [0, 1).
	Hysteresis float64 `yaml:"hysteresis" json:"hysteresis"`
	// Thresholds are keyed by metric: error_rate, latency_p95 (seconds),
	// accuracy_rate and cpu_utilization. A metric given in a file starts
	// from its default, so `error_rate: {critical: 0.1}` keeps the warning.
	Thresholds Thresholds `yaml:"thresholds" json:"thresholds"`
	// SLO configures SLO compliance.
	SLO SLOConfig `yaml:"slo" json:"slo"`
	// ScaleCooldown separates two automatic scale-ups.
	ScaleCooldown Duration `yaml:"scale_cooldown" json:"scale_cooldown"`
	// MaxReplicas is the ceiling of automatic scale-ups.
	MaxReplicas int `yaml:"max_replicas" json:"max_replicas"`
	// MinRequests is the request count of a window below which its error
	// rate and p95 latency are not judged.
	MinRequests int64 `yaml:"min_requests" json:"min_requests"`
	// MetricsSource selects where the health monitor and the canary
	// analysis read their metrics: the data plane's own windows (inprocess)
	// or a Prometheus server.
	MetricsSource MetricsSourceConfig `yaml:"metrics_source" json:"metrics_source"`
	// Scaler selects what carries out scale-ups: log, kubernetes or webhook.
	Scaler ScalerConfig `yaml:"scaler" json:"scaler"`
}

// Threshold is the warning and critical level of one health metric.
type Threshold struct {
	// Direction is "above" (high values are unhealthy) or "below".
	Direction alerting.Direction `yaml:"direction" json:"direction"`
	// Warning and Critical are levels in the metric's base unit.
	Warning  float64 `yaml:"warning" json:"warning"`
	Critical float64 `yaml:"critical" json:"critical"`
	// Remediation is "rollback", "scale_up" or "none".
	Remediation string `yaml:"remediation" json:"remediation"`
	// Hysteresis, when positive, replaces the monitor's band for this metric.
	Hysteresis float64 `yaml:"hysteresis,omitempty" json:"hysteresis,omitempty"`
}

// SLOConfig configures SLO compliance.
type SLOConfig struct {
	// Window is the compliance window.
	Window Duration `yaml:"window" json:"window"`
	// Objectives are exclusive upper bounds keyed by objective: latency_p95
	// (seconds) and error_rate (a fraction). Objectives given in a file are
	// merged with the defaults.
	Objectives map[string]float64 `yaml:"objectives" json:"objectives"`
}

// LogConfig configures the server's log.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level" json:"level"`
	// Format is text or json.
	Format string `yaml:"format" json:"format"`
}

// Default returns the design note's configuration: listen on
// 127.0.0.1:8080, the SQLite file tricycle.db, the in-process bus, a builtin
// production variant named baseline, 5% shadow traffic, a 7–14 day
// evaluation, canary phases 10% 24 h → 50% 48 h → 100% 7 days, the health
// table of the design note read from the in-process windows (queries to
// Prometheus, when chosen, time out after 5 s), and a scaler that only logs
// (webhook requests, when chosen, time out after 10 s).
func Default() Config {
	cc := coordination.DefaultConfig()
	return Config{
		Server: ServerConfig{
			Addr:              "127.0.0.1:8080",
			ReadHeaderTimeout: Duration(5 * time.Second),
			ReadTimeout:       Duration(30 * time.Second),
			WriteTimeout:      Duration(60 * time.Second),
			IdleTimeout:       Duration(120 * time.Second),
			ShutdownTimeout:   Duration(15 * time.Second),
			MaxHeaderBytes:    64 << 10,
			MaxBodyBytes:      1 << 20,
			EventsHeartbeat:   Duration(15 * time.Second),
			EventsReplay:      1024,
		},
		Storage:    StorageConfig{DSN: "sqlite:tricycle.db"},
		Bus:        BusConfig{URL: "memory"},
		Production: ProductionConfig{Variant: "baseline"},
		Variants: []coordination.Variant{
			{Name: "baseline", Provider: coordination.ProviderBuiltin},
		},
		Cycle: CycleConfig{
			ShadowPercent:    cc.ShadowPercent,
			EvaluationMin:    cc.EvaluationMin,
			EvaluationMax:    cc.EvaluationMax,
			Phases:           coordination.DefaultPhases(),
			Tolerance:        cc.Tolerance,
			Confidence:       cc.Samples.Confidence,
			RollbackWindow:   cc.RollbackWindow,
			ReviewInterval:   cc.ReviewInterval,
			CanaryMinSamples: cc.CanaryMinSamples,
			PollInterval:     Duration(time.Second),
		},
		Health: HealthConfig{
			Window:        cc.HealthWindow,
			For:           Duration(cc.Health.For),
			RecoverFor:    Duration(cc.Health.RecoverFor),
			Hysteresis:    cc.Health.Hysteresis,
			Thresholds:    thresholdsFrom(cc.Health.Thresholds),
			SLO:           SLOConfig{Window: cc.SLOWindow, Objectives: objectivesFrom(cc.SLO)},
			ScaleCooldown: cc.ScaleCooldown,
			MaxReplicas:   cc.MaxReplicas,
			MinRequests:   cc.HealthMinRequests,
			MetricsSource: defaultMetricsSource(),
			Scaler:        defaultScaler(),
		},
		Log: LogConfig{Level: "info", Format: "text"},
	}
}

func thresholdsFrom(ts []alerting.Threshold) Thresholds {
	out := make(Thresholds, len(ts))
	for _, t := range ts {
		rem := string(t.Remediation)
		if rem == "" {
			rem = remediationNone
		}
		out[t.Metric] = Threshold{Direction: t.Direction, Warning: t.Warning, Critical: t.Critical,
			Remediation: rem, Hysteresis: t.Hysteresis}
	}
	return out
}

func objectivesFrom(objs []alerting.Objective) map[string]float64 {
	out := make(map[string]float64, len(objs))
	for _, o := range objs {
		out[o.Name] = o.Target
	}
	return out
}

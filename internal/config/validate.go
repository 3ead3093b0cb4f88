package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/alerting"
)

// FieldError is a configuration error about one key, named by its dotted
// path ("server.addr", "variants[1].provider").
type FieldError struct {
	// Field is the dotted path of the key.
	Field string
	// Msg says what is wrong with it.
	Msg string
}

// Error returns "field: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Storage and bus kinds a DSN or URL may select.
const (
	// StorageSQLite is the embedded SQLite store ("sqlite:PATH").
	StorageSQLite = "sqlite"
	// StoragePostgres is the PostgreSQL store ("postgres://…").
	StoragePostgres = "postgres"
	// BusMemory is the in-process bus ("memory").
	BusMemory = "memory"
	// BusNATS is NATS JetStream ("nats://…").
	BusNATS = "nats"
)

// StorageKind returns StorageSQLite or StoragePostgres for the DSN, and the
// SQLite path for StorageSQLite; an unknown scheme is an error naming the key.
func (s StorageConfig) StorageKind() (kind, sqlitePath string, err error) {
	switch {
	case strings.HasPrefix(s.DSN, "sqlite:"):
		p := strings.TrimPrefix(s.DSN, "sqlite:")
		if strings.TrimSpace(p) == "" {
			return "", "", fieldErr("storage.dsn", "%q names no file (want sqlite:PATH)", s.DSN)
		}
		if strings.ContainsAny(p, "?#") {
			return "", "", fieldErr("storage.dsn", "%q: the SQLite path must not contain '?' or '#'", s.DSN)
		}
		return StorageSQLite, p, nil
	case strings.HasPrefix(s.DSN, "postgres://"), strings.HasPrefix(s.DSN, "postgresql://"):
		u, err := url.Parse(s.DSN)
		if err != nil || u.Host == "" {
			return "", "", fieldErr("storage.dsn", "not a valid postgres:// URL")
		}
		return StoragePostgres, "", nil
	case s.DSN == "":
		return "", "", fieldErr("storage.dsn", "must not be empty (want sqlite:PATH or postgres://…)")
	default:
		return "", "", fieldErr("storage.dsn", "unknown store %q (want sqlite:PATH or postgres://…)", redactURL(s.DSN))
	}
}

// BusKind returns BusMemory or BusNATS for the URL; anything else is an
// error naming the key.
func (b BusConfig) BusKind() (string, error) {
	switch {
	case b.URL == "memory":
		return BusMemory, nil
	case strings.HasPrefix(b.URL, "nats://"), strings.HasPrefix(b.URL, "tls://"):
		u, err := url.Parse(b.URL)
		if err != nil || u.Host == "" {
			return "", fieldErr("bus.url", "not a valid nats:// URL")
		}
		return BusNATS, nil
	case b.URL == "":
		return "", fieldErr("bus.url", "must not be empty (want memory or nats://host:port)")
	default:
		return "", fieldErr("bus.url", "unknown bus %q (want memory or nats://host:port)", redactURL(b.URL))
	}
}

// redactURL hides a password in a URL-like string so that errors can quote it.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return s
}

// Validate checks the configuration and returns a *FieldError naming the
// first bad key.
func (c Config) Validate() error {
	checks := []func() error{c.validateServer, c.validateBackends, c.validateVariants,
		c.validateCycle, c.validateHealth, c.validateMonitoring, c.validateMisc}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	// The cycle core's own checks are a second line; their messages name
	// the same keys.
	if err := c.Coordination().Validate(); err != nil {
		msg := strings.TrimPrefix(err.Error(), coordination.ErrInvalidInput.Error()+": ")
		if field, rest, ok := strings.Cut(msg, ": "); ok && !strings.Contains(field, " ") {
			return fieldErr(field, "%s", rest)
		}
		return fieldErr("cycle", "%s", msg)
	}
	return nil
}

func (c Config) validateServer() error {
	s := c.Server
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fieldErr("server.addr", "%q is not host:port: %v", s.Addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fieldErr("server.addr", "port %q is not a number within 0-65535", port)
	}
	if strings.ContainsAny(host, " /") {
		return fieldErr("server.addr", "host %q is not a host name or address", host)
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{
		{"server.read_header_timeout", s.ReadHeaderTimeout}, {"server.read_timeout", s.ReadTimeout},
		{"server.write_timeout", s.WriteTimeout}, {"server.idle_timeout", s.IdleTimeout},
		{"server.shutdown_timeout", s.ShutdownTimeout}, {"server.events_heartbeat", s.EventsHeartbeat},
	} {
		if d.v <= 0 {
			return fieldErr(d.name, "must be positive, got %s", d.v)
		}
	}
	if s.MaxHeaderBytes < 1024 || s.MaxHeaderBytes > 16<<20 {
		return fieldErr("server.max_header_bytes", "%d is not within 1 KiB-16 MiB", s.MaxHeaderBytes)
	}
	if s.MaxBodyBytes < 1024 || s.MaxBodyBytes > 1<<30 {
		return fieldErr("server.max_body_bytes", "%d is not within 1 KiB-1 GiB", s.MaxBodyBytes)
	}
	if s.EventsReplay < 1 || s.EventsReplay > 1<<20 {
		return fieldErr("server.events_replay", "%d is not within 1-1048576", s.EventsReplay)
	}
	return nil
}

func (c Config) validateBackends() error {
	if _, _, err := c.Storage.StorageKind(); err != nil {
		return err
	}
	if _, err := c.Bus.BusKind(); err != nil {
		return err
	}
	return nil
}

func (c Config) validateVariants() error {
	if len(c.Variants) == 0 {
		return fieldErr("variants", "at least one variant is required (the production variant)")
	}
	seen := map[string]int{}
	for i, v := range c.Variants {
		field := fmt.Sprintf("variants[%d]", i)
		if v.Name == "" {
			return fieldErr(field+".name", "must not be empty")
		}
		if j, dup := seen[v.Name]; dup {
			return fieldErr(field+".name", "%q is already the name of variants[%d]", v.Name, j)
		}
		seen[v.Name] = i
		if v.Provider == "" {
			return fieldErr(field+".provider", "must not be empty (want builtin, simulated, openai or anthropic)")
		}
		if err := v.Validate(); err != nil {
			msg := strings.TrimPrefix(err.Error(), coordination.ErrInvalidInput.Error()+": ")
			if sub, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(sub, "variant.") {
				return fieldErr(field+strings.TrimPrefix(sub, "variant"), "%s", rest)
			}
			return fieldErr(field, "%s", msg)
		}
	}
	if _, err := c.ProductionVariant(); err != nil {
		return err
	}
	return nil
}

func (c Config) validateCycle() error {
	y := c.Cycle
	if !(y.ShadowPercent > 0 && y.ShadowPercent <= 100) {
		return fieldErr("cycle.shadow_percent", "%v is not within (0, 100]", y.ShadowPercent)
	}
	if y.EvaluationMin <= 0 {
		return fieldErr("cycle.evaluation_min", "must be positive, got %s", y.EvaluationMin)
	}
	if y.EvaluationMax < y.EvaluationMin {
		return fieldErr("cycle.evaluation_max", "%s is shorter than evaluation_min %s", y.EvaluationMax, y.EvaluationMin)
	}
	if err := coordination.ValidatePhases(y.Phases); err != nil {
		msg := strings.TrimPrefix(err.Error(), coordination.ErrInvalidInput.Error()+": ")
		if field, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(field, "cycle.phases") {
			return fieldErr(field, "%s", rest)
		}
		return fieldErr("cycle.phases", "%s", msg)
	}
	if !(y.Tolerance > 0 && y.Tolerance < 1) {
		return fieldErr("cycle.tolerance", "%v is not within (0, 1)", y.Tolerance)
	}
	if !(y.Confidence > 0 && y.Confidence < 1) {
		return fieldErr("cycle.confidence", "%v is not within (0, 1)", y.Confidence)
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{{"cycle.rollback_window", y.RollbackWindow}, {"cycle.review_interval", y.ReviewInterval}, {"cycle.poll_interval", y.PollInterval}} {
		if d.v <= 0 {
			return fieldErr(d.name, "must be positive, got %s", d.v)
		}
	}
	if y.CanaryMinSamples < 1 {
		return fieldErr("cycle.canary_min_samples", "must be at least 1, got %d", y.CanaryMinSamples)
	}
	if y.CanaryGrace < 0 {
		return fieldErr("cycle.canary_grace", "must not be negative, got %s", y.CanaryGrace)
	}
	return nil
}

func (c Config) validateHealth() error {
	h := c.Health
	if h.Window <= 0 {
		return fieldErr("health.window", "must be positive, got %s", h.Window)
	}
	if h.For < 0 {
		return fieldErr("health.for", "must not be negative, got %s", h.For)
	}
	if h.RecoverFor < 0 {
		return fieldErr("health.recover_for", "must not be negative, got %s", h.RecoverFor)
	}
	if !(h.Hysteresis >= 0 && h.Hysteresis < 1) {
		return fieldErr("health.hysteresis", "%v is not within [0, 1)", h.Hysteresis)
	}
	if len(h.Thresholds) == 0 {
		return fieldErr("health.thresholds", "at least one threshold is required")
	}
	for _, m := range sortedMetrics(h.Thresholds) {
		if err := validateThreshold("health.thresholds."+m, m, h.Thresholds[m]); err != nil {
			return err
		}
	}
	if h.SLO.Window <= 0 {
		return fieldErr("health.slo.window", "must be positive, got %s", h.SLO.Window)
	}
	if len(h.SLO.Objectives) == 0 {
		return fieldErr("health.slo.objectives", "at least one objective is required (latency_p95, error_rate)")
	}
	for _, o := range h.SLO.objectives() {
		if err := alerting.ValidateObjectives([]alerting.Objective{o}); err != nil {
			return fieldErr("health.slo.objectives."+o.Name, "%s", objectiveMsg(err))
		}
	}
	if h.ScaleCooldown < 0 {
		return fieldErr("health.scale_cooldown", "must not be negative, got %s", h.ScaleCooldown)
	}
	if h.MinRequests < 1 {
		return fieldErr("health.min_requests", "must be at least 1, got %d", h.MinRequests)
	}
	if h.MaxReplicas < 1 {
		return fieldErr("health.max_replicas", "must be at least 1, got %d", h.MaxReplicas)
	}
	return nil
}

// objectiveMsg strips the list prefix of an alerting objective error.
func objectiveMsg(err error) string {
	msg := strings.TrimPrefix(err.Error(), "invalid SLO objectives: ")
	if _, rest, ok := strings.Cut(msg, ": "); ok {
		return rest
	}
	return msg
}

func validateThreshold(field, metric string, t Threshold) error {
	if !slices.Contains(healthMetrics, metric) {
		return fieldErr(field, "unknown metric %q (want one of %s)", metric, strings.Join(healthMetrics, ", "))
	}
	if !t.Direction.Valid() {
		return fieldErr(field+".direction", "unknown direction %q (want above or below)", t.Direction)
	}
	switch t.Remediation {
	case string(alerting.Rollback), string(alerting.ScaleUp), remediationNone:
	default:
		return fieldErr(field+".remediation", "unknown remediation %q (want rollback, scale_up or none)", t.Remediation)
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"warning", t.Warning}, {"critical", t.Critical}} {
		if math.IsNaN(v.v) || math.IsInf(v.v, 0) || v.v < 0 {
			return fieldErr(field+"."+v.name, "must be a finite non-negative number, got %v", v.v)
		}
	}
	if t.Direction == alerting.Above && t.Critical < t.Warning {
		return fieldErr(field+".critical", "%v is below warning %v (direction above)", t.Critical, t.Warning)
	}
	if t.Direction == alerting.Below && t.Critical > t.Warning {
		return fieldErr(field+".critical", "%v is above warning %v (direction below)", t.Critical, t.Warning)
	}
	if !(t.Hysteresis >= 0 && t.Hysteresis < 1) {
		return fieldErr(field+".hysteresis", "%v is not within [0, 1)", t.Hysteresis)
	}
	return nil
}

// Log levels and formats.
var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"text", "json"}
)

// MinAdminTokenLen is the shortest admin token accepted from the environment.
const MinAdminTokenLen = 16

func (c Config) validateMisc() error {
	if !slices.Contains(logLevels, c.Log.Level) {
		return fieldErr("log.level", "unknown level %q (want %s)", c.Log.Level, strings.Join(logLevels, ", "))
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		return fieldErr("log.format", "unknown format %q (want %s)", c.Log.Format, strings.Join(logFormats, ", "))
	}
	if strings.ContainsFunc(c.DataDir, unicode.IsControl) {
		return fieldErr("data_dir", "must not contain control characters")
	}
	if t := c.AdminToken; t != "" {
		if len(t) < MinAdminTokenLen {
			return fieldErr("admin_token", "TRICYCLE_ADMIN_TOKEN must be at least %d characters", MinAdminTokenLen)
		}
		if strings.ContainsFunc(t, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			return fieldErr("admin_token", "TRICYCLE_ADMIN_TOKEN must not contain spaces or control characters")
		}
	}
	return nil
}

package config

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMonitoringDefaults(t *testing.T) {
	t.Parallel()
	h := Default().Health
	if h.MetricsSource != (MetricsSourceConfig{Kind: MetricsSourceInProcess, Timeout: Duration(5 * time.Second)}) {
		t.Errorf("metrics_source = %+v, want inprocess with a 5s timeout", h.MetricsSource)
	}
	if h.Scaler != (ScalerConfig{Kind: ScalerLog, Timeout: Duration(10 * time.Second)}) {
		t.Errorf("scaler = %+v, want log with a 10s timeout", h.Scaler)
	}
	keys := Keys()
	for _, k := range []string{"health.metrics_source.kind", "health.metrics_source.url", "health.metrics_source.timeout",
		"health.scaler.kind", "health.scaler.namespace", "health.scaler.deployment", "health.scaler.record_events",
		"health.scaler.url", "health.scaler.secret_env", "health.scaler.timeout"} {
		if !slices.Contains(keys, k) {
			t.Errorf("Keys() lacks %s", k)
		}
	}
}

func TestParseMonitoring(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		doc   string
		check func(t *testing.T, c Config)
	}{
		{"prometheus", "health:\n  metrics_source: {kind: prometheus, url: \"http://prometheus.monitoring.svc:9090\"}\n", func(t *testing.T, c Config) {
			m := c.Health.MetricsSource
			if m.Kind != MetricsSourcePrometheus || m.URL != "http://prometheus.monitoring.svc:9090" || m.Timeout.D() != 5*time.Second {
				t.Errorf("metrics_source = %+v, want prometheus keeping the default timeout", m)
			}
		}},
		{"kubernetes", "health:\n  scaler: {kind: kubernetes, namespace: platform-v2-stable, deployment: gateway, record_events: true}\n", func(t *testing.T, c Config) {
			s := c.Health.Scaler
			if s.Kind != ScalerKubernetes || s.Namespace != "platform-v2-stable" || s.Deployment != "gateway" || !s.RecordEvents {
				t.Errorf("scaler = %+v", s)
			}
		}},
		{"webhook", "health:\n  scaler: {kind: webhook, url: \"https://ops.example.com/scale\", secret_env: SCALER_SECRET, timeout: 3s}\n", func(t *testing.T, c Config) {
			s := c.Health.Scaler
			if s.Kind != ScalerWebhook || s.URL != "https://ops.example.com/scale" || s.SecretEnv != "SCALER_SECRET" || s.Timeout.D() != 3*time.Second {
				t.Errorf("scaler = %+v", s)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			tt.check(t, c)
		})
	}
	for doc, want := range map[string]string{
		"health:\n  metrics_source: {kind: prometheus, adress: x}\n": "health.metrics_source.adress",
		"health:\n  scaler: {record_events: maybe}\n":                "health.scaler.record_events",
		"health:\n  scaler: {secret: abc}\n":                         "health.scaler.secret",
		"health:\n  metrics_source: {timeout: soon}\n":               "health.metrics_source.timeout",
	} {
		if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error naming %s", doc, err, want)
		}
	}
}

func TestMonitoringFromTheEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"TRICYCLE_HEALTH_METRICS_SOURCE_KIND":    "prometheus",
		"TRICYCLE_HEALTH_METRICS_SOURCE_URL":     "http://127.0.0.1:9090",
		"TRICYCLE_HEALTH_METRICS_SOURCE_TIMEOUT": "2s",
		"TRICYCLE_HEALTH_SCALER_KIND":            "webhook",
		"TRICYCLE_HEALTH_SCALER_URL":             "http://127.0.0.1:8000/scale",
		"TRICYCLE_HEALTH_SCALER_SECRET_ENV":      "SCALE_HMAC",
	}
	c, err := ApplyEnv(Default(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	m, s := c.Health.MetricsSource, c.Health.Scaler
	if m.Kind != MetricsSourcePrometheus || m.URL != "http://127.0.0.1:9090" || m.Timeout.D() != 2*time.Second ||
		s.Kind != ScalerWebhook || s.URL != "http://127.0.0.1:8000/scale" || s.SecretEnv != "SCALE_HMAC" {
		t.Errorf("metrics_source %+v, scaler %+v", m, s)
	}
	if _, err := ApplyEnv(Default(), func(k string) (string, bool) {
		return "forever", k == "TRICYCLE_HEALTH_SCALER_TIMEOUT"
	}); err == nil || !strings.Contains(err.Error(), "TRICYCLE_HEALTH_SCALER_TIMEOUT") {
		t.Errorf("a bad timeout: %v", err)
	}
}

func TestValidateMonitoringNamesTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		field  string
		mutate func(c *Config)
	}{
		{"unknown source", "health.metrics_source.kind", func(c *Config) { c.Health.MetricsSource.Kind = "graphite" }},
		{"empty source", "health.metrics_source.kind", func(c *Config) { c.Health.MetricsSource.Kind = "" }},
		{"prometheus without url", "health.metrics_source.url", func(c *Config) { c.Health.MetricsSource.Kind = MetricsSourcePrometheus }},
		{"prometheus ftp", "health.metrics_source.url", func(c *Config) {
			c.Health.MetricsSource = MetricsSourceConfig{Kind: MetricsSourcePrometheus, URL: "ftp://p:9090", Timeout: Duration(time.Second)}
		}},
		{"prometheus without scheme", "health.metrics_source.url", func(c *Config) {
			c.Health.MetricsSource = MetricsSourceConfig{Kind: MetricsSourcePrometheus, URL: "prometheus:9090", Timeout: Duration(time.Second)}
		}},
		{"prometheus with query", "health.metrics_source.url", func(c *Config) {
			c.Health.MetricsSource = MetricsSourceConfig{Kind: MetricsSourcePrometheus, URL: "http://p:9090/?x=1", Timeout: Duration(time.Second)}
		}},
		{"zero query timeout", "health.metrics_source.timeout", func(c *Config) { c.Health.MetricsSource.Timeout = 0 }},
		{"unknown scaler", "health.scaler.kind", func(c *Config) { c.Health.Scaler.Kind = "hpa" }},
		{"kubernetes without namespace", "health.scaler.namespace", func(c *Config) {
			c.Health.Scaler = ScalerConfig{Kind: ScalerKubernetes, Deployment: "gateway", Timeout: Duration(time.Second)}
		}},
		{"kubernetes bad namespace", "health.scaler.namespace", func(c *Config) {
			c.Health.Scaler = ScalerConfig{Kind: ScalerKubernetes, Namespace: "Platform_V2", Deployment: "gateway", Timeout: Duration(time.Second)}
		}},
		{"kubernetes without deployment", "health.scaler.deployment", func(c *Config) {
			c.Health.Scaler = ScalerConfig{Kind: ScalerKubernetes, Namespace: "platform", Timeout: Duration(time.Second)}
		}},
		{"webhook without url", "health.scaler.url", func(c *Config) {
			c.Health.Scaler = ScalerConfig{Kind: ScalerWebhook, SecretEnv: "S", Timeout: Duration(time.Second)}
		}},
		{"webhook without secret_env", "health.scaler.secret_env", func(c *Config) {
			c.Health.Scaler = ScalerConfig{Kind: ScalerWebhook, URL: "https://ops.example.com/scale", Timeout: Duration(time.Second)}
		}},
		{"webhook secret in secret_env", "health.scaler.secret_env", func(c *Config) {
			c.Health.Scaler = ScalerConfig{Kind: ScalerWebhook, URL: "https://ops.example.com/scale", SecretEnv: "s3cr3t-value!", Timeout: Duration(time.Second)}
		}},
		{"zero webhook timeout", "health.scaler.timeout", func(c *Config) { c.Health.Scaler.Timeout = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.mutate(&c)
			var fe *FieldError
			if err := c.Validate(); !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("Validate() = %v, want a FieldError naming %s", err, tt.field)
			}
		})
	}
}

func TestURLErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Health.MetricsSource = MetricsSourceConfig{Kind: MetricsSourcePrometheus, URL: "ftp://reader:hunter2@p:9090", Timeout: Duration(time.Second)}
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Validate() = %v, want an error without the password", err)
	}
}

func TestScalerSecret(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", MinScalerSecretBytes)
	tests := []struct {
		name  string
		env   map[string]string
		want  string // error substring; "" means success
		value string
	}{
		{"set", map[string]string{"SCALE_HMAC": long}, "", long},
		{"unset", nil, "SCALE_HMAC is not set", ""},
		{"empty", map[string]string{"SCALE_HMAC": ""}, "SCALE_HMAC is not set", ""},
		{"short", map[string]string{"SCALE_HMAC": "tooshort-but-secret-31-bytes-xx"}, "fewer than 32 bytes", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ScalerConfig{Kind: ScalerWebhook, SecretEnv: "SCALE_HMAC"}
			got, err := s.Secret(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.want == "" {
				if err != nil || string(got) != tt.value {
					t.Fatalf("Secret() = %q, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Secret() error %v, want %q", err, tt.want)
			}
			if v := tt.env["SCALE_HMAC"]; v != "" && strings.Contains(err.Error(), v) {
				t.Errorf("the error %q quotes the secret", err)
			}
		})
	}
}

// FuzzMonitoringURLs feeds arbitrary kinds and URLs to validation: it must
// not panic, must accept only absolute http(s) URLs with a host, and must
// never quote a password.
func FuzzMonitoringURLs(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:9090", "https://u:pw@p/prefix", "ftp://x", "http://", "://", "http://[::1]:9090",
		"http://p:9090/?q", "http://%zz", "\x00", "https://p#frag"} {
		f.Add("prometheus", s)
		f.Add("webhook", s)
	}
	f.Fuzz(func(t *testing.T, kind, raw string) {
		c := Default()
		c.Health.MetricsSource = MetricsSourceConfig{Kind: kind, URL: raw, Timeout: Duration(time.Second)}
		c.Health.Scaler = ScalerConfig{Kind: kind, URL: raw, SecretEnv: "S", Timeout: Duration(time.Second)}
		err := c.Validate()
		u, perr := url.Parse(raw)
		if err == nil && (kind == MetricsSourcePrometheus || kind == ScalerWebhook) {
			if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				t.Fatalf("accepted %s url %q", kind, raw)
			}
		}
		if err != nil && perr == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && len(pw) > 3 && strings.Contains(err.Error(), ":"+pw+"@") {
				t.Fatalf("error %q quotes the password of %q", err, raw)
			}
		}
	})
}

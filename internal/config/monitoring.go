package config

import (
	"net/url"
	"regexp"
	"time"
)

// Metrics sources the health monitor and the canary analysis may read.
const (
	// MetricsSourceInProcess reads the data plane's own measurement windows
	// (the embedded default).
	MetricsSourceInProcess = "inprocess"
	// MetricsSourcePrometheus reads a Prometheus server through PromQL.
	MetricsSourcePrometheus = "prometheus"
)

// Scalers that may carry out the health monitor's scale-ups.
const (
	// ScalerLog only logs what it would do (the embedded default).
	ScalerLog = "log"
	// ScalerKubernetes sets the gateway Deployment's scale subresource.
	ScalerKubernetes = "kubernetes"
	// ScalerWebhook calls a signed HTTP webhook.
	ScalerWebhook = "webhook"
)

// MinScalerSecretBytes is the shortest webhook scaler secret accepted.
const MinScalerSecretBytes = 32

// Defaults of the monitoring keys.
const (
	defaultMetricsTimeout = 5 * time.Second
	defaultScalerTimeout  = 10 * time.Second
)

// MetricsSourceConfig selects where the health monitor and the canary
// analysis read their metrics.
type MetricsSourceConfig struct {
	// Kind is inprocess (the data plane's own windows) or prometheus.
	Kind string `yaml:"kind" json:"kind"`
	// URL is the Prometheus server's base URL, http:// or https://; required
	// with kind prometheus and unused otherwise.
	URL string `yaml:"url" json:"url"`
	// Timeout bounds each query.
	Timeout Duration `yaml:"timeout" json:"timeout"`
}

// ScalerConfig selects what carries out the health monitor's scale-ups.
type ScalerConfig struct {
	// Kind is log (only logs), kubernetes (the gateway Deployment's scale
	// subresource, from inside the cluster) or webhook.
	Kind string `yaml:"kind" json:"kind"`
	// Namespace and Deployment name the gateway Deployment; required with
	// kind kubernetes.
	Namespace  string `yaml:"namespace" json:"namespace"`
	Deployment string `yaml:"deployment" json:"deployment"`
	// RecordEvents records each scale-up as an Event on the Deployment
	// (kind kubernetes; needs create on events).
	RecordEvents bool `yaml:"record_events" json:"record_events"`
	// URL receives the webhook's GET and POST; required with kind webhook.
	URL string `yaml:"url" json:"url"`
	// SecretEnv names the environment variable holding the webhook's HMAC
	// secret (at least MinScalerSecretBytes bytes); required with kind
	// webhook. The secret itself never appears in the configuration.
	SecretEnv string `yaml:"secret_env" json:"secret_env"`
	// Timeout bounds each webhook request.
	Timeout Duration `yaml:"timeout" json:"timeout"`
}

func defaultMetricsSource() MetricsSourceConfig {
	return MetricsSourceConfig{Kind: MetricsSourceInProcess, Timeout: Duration(defaultMetricsTimeout)}
}

func defaultScaler() ScalerConfig {
	return ScalerConfig{Kind: ScalerLog, Timeout: Duration(defaultScalerTimeout)}
}

var (
	// dnsLabel is an RFC 1123 label, as Kubernetes namespaces are.
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	// dnsSubdomain is an RFC 1123 subdomain, as Deployment names are.
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// envName is a portable environment variable name.
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func (c Config) validateMonitoring() error {
	m := c.Health.MetricsSource
	switch m.Kind {
	case MetricsSourceInProcess:
	case MetricsSourcePrometheus:
		if err := checkHTTPURL("health.metrics_source.url", m.URL); err != nil {
			return err
		}
	default:
		return fieldErr("health.metrics_source.kind", "unknown kind %q (want %s or %s)", m.Kind, MetricsSourceInProcess, MetricsSourcePrometheus)
	}
	if m.Timeout <= 0 {
		return fieldErr("health.metrics_source.timeout", "must be positive, got %s", m.Timeout)
	}
	s := c.Health.Scaler
	switch s.Kind {
	case ScalerLog:
	case ScalerKubernetes:
		if !dnsLabel.MatchString(s.Namespace) {
			return fieldErr("health.scaler.namespace", "%q is not a Kubernetes namespace name (lower-case letters, digits and '-', at most 63)", s.Namespace)
		}
		if len(s.Deployment) > 253 || !dnsSubdomain.MatchString(s.Deployment) {
			return fieldErr("health.scaler.deployment", "%q is not a Kubernetes Deployment name (lower-case letters, digits, '-' and '.')", s.Deployment)
		}
	case ScalerWebhook:
		if err := checkHTTPURL("health.scaler.url", s.URL); err != nil {
			return err
		}
		if !envName.MatchString(s.SecretEnv) {
			return fieldErr("health.scaler.secret_env", "%q is not an environment variable name (it names the variable holding the secret, not the secret)", s.SecretEnv)
		}
	default:
		return fieldErr("health.scaler.kind", "unknown kind %q (want %s, %s or %s)", s.Kind, ScalerLog, ScalerKubernetes, ScalerWebhook)
	}
	if s.Timeout <= 0 {
		return fieldErr("health.scaler.timeout", "must be positive, got %s", s.Timeout)
	}
	return nil
}

// checkHTTPURL checks that raw is an absolute http(s) URL with a host and
// neither query nor fragment; errors quote it with any password hidden.
func checkHTTPURL(field, raw string) error {
	if raw == "" {
		return fieldErr(field, "must not be empty (want http://host:port or https://…)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fieldErr(field, "%q is not a URL", redactURL(raw))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fieldErr(field, "%q: scheme %q is not http or https", u.Redacted(), u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return fieldErr(field, "%q names no host", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return fieldErr(field, "%q must not have a query or a fragment", u.Redacted())
	}
	return nil
}

// Secret returns the webhook scaler's secret from the environment variable
// SecretEnv names, read with lookup. A missing or short secret is an error
// naming the variable; the secret itself never appears in an error.
func (s ScalerConfig) Secret(lookup func(string) (string, bool)) ([]byte, error) {
	if !envName.MatchString(s.SecretEnv) {
		return nil, fieldErr("health.scaler.secret_env", "%q is not an environment variable name", s.SecretEnv)
	}
	v, ok := lookup(s.SecretEnv)
	if !ok || v == "" {
		return nil, fieldErr("health.scaler.secret_env", "environment variable %s is not set", s.SecretEnv)
	}
	if len(v) < MinScalerSecretBytes {
		return nil, fieldErr("health.scaler.secret_env", "environment variable %s holds fewer than %d bytes", s.SecretEnv, MinScalerSecretBytes)
	}
	return []byte(v), nil
}

package dataplane

import (
	"fmt"
	"log/slog"
	"net/url"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/config"
	"github.com/tricyclehq/tricycle/internal/promsource"
	"github.com/tricyclehq/tricycle/internal/scale"
)

// newMetricsSource returns the Prometheus source health.metrics_source
// selects, or nil for the in-process windows.
func newMetricsSource(c config.MetricsSourceConfig, clock coordination.Clock, log *slog.Logger) (*promsource.Source, error) {
	switch c.Kind {
	case config.MetricsSourceInProcess:
		return nil, nil
	case config.MetricsSourcePrometheus:
		src, err := promsource.New(promsource.Options{URL: c.URL, Timeout: c.Timeout.D(), Clock: clock, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("health.metrics_source: %w", err)
		}
		log.Info("health and canary metrics from Prometheus", "url", redacted(c.URL), "timeout", c.Timeout.D())
		return src, nil
	default:
		return nil, fmt.Errorf("health.metrics_source: unknown kind %q", c.Kind)
	}
}

// newScaler returns the scaler health.scaler selects. The Kubernetes scaler
// needs the pod's service account: outside a cluster it fails here, at
// start, rather than at the first scale-up.
func (p *Plane) newScaler(c config.ScalerConfig, clock coordination.Clock) (coordination.Scaler, error) {
	switch c.Kind {
	case config.ScalerLog:
		return coordination.NewLogScaler(p.log, 1), nil
	case config.ScalerKubernetes:
		client, err := p.opts.KubernetesClient()
		if err != nil {
			return nil, fmt.Errorf("health.scaler: kind kubernetes runs only inside a Kubernetes pod (use log or webhook elsewhere): %w", err)
		}
		k, err := scale.NewKubernetes(client, scale.KubernetesOptions{Namespace: c.Namespace, Deployment: c.Deployment,
			RecordEvents: c.RecordEvents, Clock: clock, Logger: p.log})
		if err != nil {
			return nil, fmt.Errorf("health.scaler: %w", err)
		}
		p.log.Info("scale-ups through the Kubernetes scale subresource", "namespace", c.Namespace, "deployment", c.Deployment,
			"record_events", c.RecordEvents)
		return k, nil
	case config.ScalerWebhook:
		secret, err := c.Secret(p.opts.LookupEnv)
		if err != nil {
			return nil, err
		}
		w, err := scale.NewWebhook(scale.WebhookOptions{URL: c.URL, Secret: secret, Timeout: c.Timeout.D()})
		if err != nil {
			return nil, fmt.Errorf("health.scaler: %w", err)
		}
		p.log.Info("scale-ups through a webhook", "url", redacted(c.URL), "secret_env", c.SecretEnv)
		return w, nil
	default:
		return nil, fmt.Errorf("health.scaler: unknown kind %q", c.Kind)
	}
}

// redacted returns raw with any password hidden, for logs.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

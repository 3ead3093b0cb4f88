package gateway

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the data plane's Prometheus metrics. A nil *Metrics records
// nothing, so every component works without them.
type Metrics struct {
	reviews *prometheus.CounterVec   // arm, variant, result
	latency *prometheus.HistogramVec // arm
	shadow  *prometheus.CounterVec   // result
	worker  *prometheus.CounterVec   // result
	probes  *prometheus.CounterVec   // result
}

// NewMetrics builds the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		reviews: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tricycle_gateway_reviews_total",
			Help: "Reviews answered by the gateway, by arm (production, canary), variant and result (ok, error, timeout)."},
			[]string{"arm", "variant", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tricycle_gateway_review_duration_seconds",
			Help:    "Latency of reviews answered by the gateway, by arm.",
			Buckets: []float64{0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60}}, []string{"arm"}),
		shadow: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tricycle_gateway_shadow_total",
			Help: "Shadow copies by result: queued, dropped (queue full), published, failed (bus)."}, []string{"result"}),
		worker: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tricycle_experiments_shadow_total",
			Help: "Shadow requests seen by the experiments worker, by result: done, error, dropped (queue full), duplicate, not_running, over_budget."},
			[]string{"result"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tricycle_gateway_probes_total",
			Help: "Golden probes replayed through production, by result: correct, incorrect, error."}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.reviews, m.latency, m.shadow, m.worker, m.probes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register gateway metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) observeReview(arm Arm, variant string, err error, latency time.Duration) {
	if m == nil {
		return
	}
	result := "ok"
	switch {
	case errors.Is(err, ErrUpstreamTimeout):
		result = "timeout"
	case err != nil:
		result = "error"
	}
	m.reviews.WithLabelValues(string(arm), variant, result).Inc()
	m.latency.WithLabelValues(string(arm)).Observe(latency.Seconds())
}

func (m *Metrics) shadowOffered(queued bool) {
	if m == nil {
		return
	}
	if queued {
		m.shadow.WithLabelValues("queued").Inc()
	} else {
		m.shadow.WithLabelValues("dropped").Inc()
	}
}

func (m *Metrics) shadowPublished() {
	if m != nil {
		m.shadow.WithLabelValues("published").Inc()
	}
}

func (m *Metrics) shadowFailed() {
	if m != nil {
		m.shadow.WithLabelValues("failed").Inc()
	}
}

func (m *Metrics) workerResult(result string) {
	if m != nil {
		m.worker.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) probeResult(result string) {
	if m != nil {
		m.probes.WithLabelValues(result).Inc()
	}
}

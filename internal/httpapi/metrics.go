package httpapi

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are the API's request metrics, labelled by route pattern (a
// bounded set) and status code.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	streams  prometheus.Gauge
}

// newHTTPMetrics builds the metrics and registers them with reg (nil: kept
// unregistered).
func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tricycle", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "tricycle", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "HTTP request latency by route pattern (event streams: the stream's lifetime).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "tricycle", Subsystem: "http", Name: "requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "tricycle", Subsystem: "http", Name: "event_streams",
			Help: "Connected server-sent event streams.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration, m.inflight, m.streams} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register HTTP metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *httpMetrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

package measure

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/alerting"
)

// maxCategories bounds the category label of the feedback counter: later
// categories are reported as "other".
const maxCategories = 32

// Metrics are the data plane's Prometheus metrics. Labels stay bounded:
// series_kind is production, canary, shadow or probe (never an id), and
// feedback categories beyond the first 32 seen are "other".
type Metrics struct {
	reviews       *prometheus.CounterVec   // series_kind, variant, outcome
	latency       *prometheus.HistogramVec // series_kind
	tokens        *prometheus.CounterVec   // variant, direction
	cost          *prometheus.CounterVec   // variant
	shadowDropped prometheus.Counter
	dropped       prometheus.Counter
	feedbackTotal *prometheus.CounterVec // category, verdict
	complaints    *prometheus.CounterVec // category

	experiments    *prometheus.GaugeVec // state
	promotionPhase prometheus.Gauge
	canaryWeight   prometheus.Gauge
	alerts         *prometheus.GaugeVec // severity
	errorBudget    prometheus.Gauge

	mu         sync.Mutex      // guards categories
	categories map[string]bool // category label values in use
}

// latencyBuckets returns the review latency histogram's upper bounds in
// seconds.
func latencyBuckets() []float64 { return []float64{0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60} }

// NewMetrics builds the metrics and registers them with reg; a nil reg
// leaves them unregistered (they still count).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		reviews: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tricycle_reviews_total",
			Help: "Reviews answered, by series kind (production, canary, shadow, probe), variant and outcome (ok, error)."},
			[]string{"series_kind", "variant", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tricycle_review_latency_seconds",
			Help: "End-to-end review latency by series kind.", Buckets: latencyBuckets()}, []string{"series_kind"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tricycle_tokens_total",
			Help: "Provider tokens by variant and direction (input, output)."}, []string{"variant", "direction"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tricycle_cost_usd_total",
			Help: "Review cost in US dollars by variant."}, []string{"variant"}),
		shadowDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "tricycle_shadow_dropped_total",
			Help: "Shadow requests dropped because the shadow queue was full."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "tricycle_measure_dropped_total",
			Help: "Review outcomes dropped because the recorder's buffers were full."}),
		feedbackTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tricycle_feedback_total",
			Help: "User verdicts on findings by category and verdict (accepted, dismissed)."}, []string{"category", "verdict"}),
		complaints: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tricycle_feedback_complaints_total",
			Help: "User complaints about findings by category."}, []string{"category"}),
		experiments: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tricycle_experiments",
			Help: "Experiments by state."}, []string{"state"}),
		promotionPhase: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tricycle_promotion_phase",
			Help: "Canary phase (1-based) of the active promotion; 0 when none."}),
		canaryWeight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tricycle_canary_weight_percent",
			Help: "Share of user traffic the canary takes, in percent."}),
		alerts: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tricycle_active_alerts",
			Help: "Pending and firing alerts by severity."}, []string{"severity"}),
		errorBudget: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tricycle_error_budget_remaining",
			Help: "Smallest fraction of SLO error budget left."}),
		categories: map[string]bool{},
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.reviews, m.latency, m.tokens, m.cost, m.shadowDropped, m.dropped,
		m.feedbackTotal, m.complaints, m.experiments, m.promotionPhase, m.canaryWeight, m.alerts, m.errorBudget} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	return m, nil
}

// ShadowDropped counts one shadow request dropped by the gateway.
func (m *Metrics) ShadowDropped() { m.shadowDropped.Inc() }

// SetCycle updates the cycle gauges from a status: experiments by state,
// the active promotion's phase and canary weight, active alerts by severity
// and the error budget left.
func (m *Metrics) SetCycle(s coordination.SystemStatus) {
	for _, st := range coordination.ExperimentStates {
		m.experiments.WithLabelValues(string(st)).Set(float64(s.ExperimentsByState[st]))
	}
	phase, weight := 0, 0
	for _, p := range s.ActivePromotions {
		if n := p.State.Phase(); n > 0 {
			phase, weight = n, p.TrafficPercent
			break
		}
	}
	m.promotionPhase.Set(float64(phase))
	m.canaryWeight.Set(float64(weight))
	bySeverity := map[alerting.Severity]int{}
	for _, a := range s.ActiveAlerts {
		if a.State.Active() {
			bySeverity[a.Severity]++
		}
	}
	for _, sev := range alerting.Severities() {
		m.alerts.WithLabelValues(string(sev)).Set(float64(bySeverity[sev]))
	}
	m.errorBudget.Set(s.SLO.BudgetRemaining)
}

// feedback counts one verdict under a bounded category label.
func (m *Metrics) feedback(category string, accepted, complaint bool) {
	m.mu.Lock()
	if !m.categories[category] {
		if len(m.categories) < maxCategories && category != "" {
			m.categories[category] = true
		} else {
			category = "other"
		}
	}
	m.mu.Unlock()
	verdict := coordination.VerdictDismissed
	if accepted {
		verdict = coordination.VerdictAccepted
	}
	m.feedbackTotal.WithLabelValues(category, verdict).Inc()
	if complaint {
		m.complaints.WithLabelValues(category).Inc()
	}
}

// promKey selects the cached children of one series kind and variant.
type promKey struct {
	kind    Kind
	variant string
}

// promChildren are the metric children one (kind, variant) updates, looked
// up once so that draining an outcome costs no label hashing.
type promChildren struct {
	ok, failed prometheus.Counter
	latency    prometheus.Observer
	in, out    prometheus.Counter
	cost       prometheus.Counter
}

// observeLocked counts o in Prometheus; r.mu is held.
func (r *Recorder) observeLocked(o *Outcome) {
	kind, ok := KindOf(o.Series)
	if !ok {
		return
	}
	variant := o.Variant
	if variant == "" {
		variant = "unknown"
	}
	k := promKey{kind, variant}
	c := r.prom[k]
	if c == nil {
		m := r.metrics
		c = &promChildren{
			ok:      m.reviews.WithLabelValues(string(kind), variant, "ok"),
			failed:  m.reviews.WithLabelValues(string(kind), variant, "error"),
			latency: m.latency.WithLabelValues(string(kind)),
			in:      m.tokens.WithLabelValues(variant, "input"),
			out:     m.tokens.WithLabelValues(variant, "output"),
			cost:    m.cost.WithLabelValues(variant),
		}
		r.prom[k] = c
	}
	if o.Error {
		c.failed.Inc()
	} else {
		c.ok.Inc()
	}
	if o.Latency > 0 {
		c.latency.Observe(o.Latency.Seconds())
	}
	if o.InputTokens > 0 {
		c.in.Add(float64(o.InputTokens))
	}
	if o.OutputTokens > 0 {
		c.out.Add(float64(o.OutputTokens))
	}
	if o.CostUSD > 0 && !math.IsInf(o.CostUSD, 1) {
		c.cost.Add(o.CostUSD)
	}
}

package measure_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/alerting"
	"github.com/tricyclehq/tricycle/internal/measure"
)

// Outcomes reach Prometheus under bounded labels: the series kind, never an
// id; baselines (repeats of production requests) are not counted twice.
func TestPrometheusReviewMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.r.Record(ok(measure.SeriesProduction, t0, 2*time.Second, 0.5))
	b.r.Record(failed(measure.SeriesProduction, t0))
	for i := range 5 {
		o := ok(measure.ExperimentSeries(fmt.Sprint("exp-", i)), t0, time.Second, 0.25)
		o.Variant = "gpt-x"
		b.r.Record(o)
		b.r.Record(ok(measure.BaselineSeries(fmt.Sprint("exp-", i)), t0, time.Second, 0.5))
	}
	b.r.ShadowDropped()
	b.r.Metrics().ShadowDropped()
	_ = b.r.Stats(measure.SeriesProduction, time.Minute) // drains

	for _, tc := range []struct {
		name   string
		labels string
		want   float64
	}{
		{"tricycle_reviews_total", "outcome=error,series_kind=production,variant=baseline", 1},
		{"tricycle_reviews_total", "outcome=ok,series_kind=production,variant=baseline", 1},
		{"tricycle_reviews_total", "outcome=ok,series_kind=shadow,variant=gpt-x", 5},
		{"tricycle_reviews_total", "outcome=error,series_kind=shadow,variant=gpt-x", 0},
		{"tricycle_cost_usd_total", "variant=baseline", 0.501},
		{"tricycle_cost_usd_total", "variant=gpt-x", 1.25},
		{"tricycle_tokens_total", "direction=input,variant=baseline", 2000},
		{"tricycle_tokens_total", "direction=output,variant=gpt-x", 1000},
		{"tricycle_shadow_dropped_total", "", 2},
	} {
		if got := value(t, b.reg, tc.name, tc.labels); !near(got, tc.want, 1e-9) {
			t.Errorf("%s{%s} = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	// Two series kinds were seen for reviews: production and shadow (the
	// baseline is not reported), with two outcomes each.
	if n := count(t, b.reg, "tricycle_reviews_total"); n != 4 {
		t.Errorf("tricycle_reviews_total has %d series, want 4 (no id, no baseline)", n)
	}
	if n := count(t, b.reg, "tricycle_review_latency_seconds"); n != 2 {
		t.Errorf("latency histograms: %d, want one per series kind seen (production, shadow)", n)
	}
}

// SetCycle exports the cycle's state as gauges.
func TestSetCycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.r.Metrics()
	m.SetCycle(coordination.SystemStatus{
		ExperimentsByState: map[coordination.ExperimentState]int{coordination.ExperimentRunning: 3, coordination.ExperimentQuarantined: 1},
		ActivePromotions:   []*coordination.PromotionRequest{{RequestID: "prom-1", State: coordination.PromotionPhase2, TrafficPercent: 50}},
		ActiveAlerts: []coordination.Alert{{Severity: alerting.Critical, State: alerting.Firing},
			{Severity: alerting.Warning, State: alerting.Pending}, {Severity: alerting.Warning, State: alerting.Firing},
			{Severity: alerting.Critical, State: alerting.Inactive}},
		SLO: coordination.SLOCompliance{BudgetRemaining: 0.25},
	})
	for _, tc := range []struct {
		name, labels string
		want         float64
	}{
		{"tricycle_experiments", "state=running", 3},
		{"tricycle_experiments", "state=quarantined", 1},
		{"tricycle_experiments", "state=proposed", 0},
		{"tricycle_promotion_phase", "", 2},
		{"tricycle_canary_weight_percent", "", 50},
		{"tricycle_active_alerts", "severity=critical", 1},
		{"tricycle_active_alerts", "severity=warning", 2},
		{"tricycle_error_budget_remaining", "", 0.25},
	} {
		if got := value(t, b.reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s{%s} = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if n := count(t, b.reg, "tricycle_experiments"); n != len(coordination.ExperimentStates) {
		t.Errorf("experiment state gauges: %d, want one per state", n)
	}
	// With no promotion the phase and weight go back to zero.
	m.SetCycle(coordination.SystemStatus{})
	if got := value(t, b.reg, "tricycle_promotion_phase", "") + value(t, b.reg, "tricycle_canary_weight_percent", ""); got != 0 {
		t.Errorf("phase and weight without a promotion sum to %v, want 0", got)
	}
}

// Feedback categories beyond the cap are reported as "other".
func TestFeedbackCategoryLabelIsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 100 {
		b.r.RecordFeedback(t0, measure.SeriesProduction, fmt.Sprint("category-", i), false, i%2 == 0)
	}
	if n := count(t, b.reg, "tricycle_feedback_total"); n != 33 {
		t.Errorf("feedback series: %d, want 32 categories and other", n)
	}
	if got := value(t, b.reg, "tricycle_feedback_total", "category=other,verdict=dismissed"); got != 68 {
		t.Errorf("other = %v, want 68", got)
	}
	if got := value(t, b.reg, "tricycle_feedback_complaints_total", "category=other"); got != 34 {
		t.Errorf("other complaints = %v, want 34", got)
	}
}

// family returns the gathered metric family name.
func family(t *testing.T, reg prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

// count returns how many series the family has.
func count(t *testing.T, reg prometheus.Gatherer, name string) int {
	t.Helper()
	return len(family(t, reg, name).GetMetric())
}

// value returns the value of the counter or gauge of family name whose
// labels are exactly labels ("k=v,k=v", sorted by name); 0 when absent.
func value(t *testing.T, reg prometheus.Gatherer, name, labels string) float64 {
	t.Helper()
	for _, m := range family(t, reg, name).GetMetric() {
		var parts []string
		for _, l := range m.GetLabel() {
			parts = append(parts, l.GetName()+"="+l.GetValue())
		}
		if strings.Join(parts, ",") != labels {
			continue
		}
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	return 0
}

// Registering twice with one registry fails instead of sharing counters.
func TestNewMetricsRegistersOnce(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := measure.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := measure.NewMetrics(reg); err == nil {
		t.Error("a second registration on the same registry succeeded")
	}
	if _, err := measure.NewMetrics(nil); err != nil {
		t.Errorf("unregistered metrics: %v", err)
	}
}

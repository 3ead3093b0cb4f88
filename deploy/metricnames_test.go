// Package deploy holds the tests of the deployment artefacts beside them:
// the Kubernetes manifests, the Prometheus rules, the Grafana dashboard, the
// container image and the compose file. It has no non-test code.
package deploy

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/alerting"
	"github.com/tricyclehq/tricycle/internal/gateway"
	"github.com/tricyclehq/tricycle/internal/measure"
)

// This file is the one list of the metric names, labels and label values
// that the alert rules (prometheus/rules.yml) and the dashboard
// (grafana/tricycle.json) may use. The tests check every PromQL expression
// against it, so a renamed metric or label fails here rather than leaving an
// alert that never fires. TestMetricListMatchesTheServer checks the list
// against the metrics the server really registers (internal/measure and
// internal/gateway).

// metricKind is the Prometheus type of a metric family.
type metricKind string

const (
	counter   metricKind = "counter"
	gauge     metricKind = "gauge"
	histogram metricKind = "histogram"
)

// metricDef describes one metric family.
type metricDef struct {
	kind metricKind
	// labels are the family's own labels (a histogram's le is implied).
	labels []string
	// values lists, for labels with a fixed set of values, those values; a
	// matcher on such a label may only use them.
	values map[string][]string
	// from says which component exports it when it is not tricycle.
	from string
}

var (
	seriesKinds      = []string{"production", "canary", "shadow", "probe"}
	severities       = []string{"warning", "critical"}
	experimentStates = []string{"proposed", "running", "evaluating", "promoting", "promoted", "held", "quarantined", "rejected"}
)

// tricycleMetrics are the metrics tricycle exports at /metrics.
var tricycleMetrics = map[string]metricDef{
	// internal/measure: every recorded review outcome.
	"tricycle_reviews_total": {kind: counter, labels: []string{"series_kind", "variant", "outcome"},
		values: map[string][]string{"series_kind": seriesKinds, "outcome": {"ok", "error"}}},
	"tricycle_review_latency_seconds": {kind: histogram, labels: []string{"series_kind"},
		values: map[string][]string{"series_kind": seriesKinds, "le": {"0.1", "0.25", "0.5", "1", "2", "3", "5", "10", "20", "30", "60", "+Inf"}}},
	"tricycle_tokens_total":              {kind: counter, labels: []string{"variant", "direction"}, values: map[string][]string{"direction": {"input", "output"}}},
	"tricycle_cost_usd_total":            {kind: counter, labels: []string{"variant"}},
	"tricycle_shadow_dropped_total":      {kind: counter},
	"tricycle_measure_dropped_total":     {kind: counter},
	"tricycle_feedback_total":            {kind: counter, labels: []string{"category", "verdict"}, values: map[string][]string{"verdict": {"accepted", "dismissed"}}},
	"tricycle_feedback_complaints_total": {kind: counter, labels: []string{"category"}},
	"tricycle_experiments":               {kind: gauge, labels: []string{"state"}, values: map[string][]string{"state": experimentStates}},
	"tricycle_promotion_phase":           {kind: gauge},
	"tricycle_canary_weight_percent":     {kind: gauge},
	"tricycle_active_alerts":             {kind: gauge, labels: []string{"severity"}, values: map[string][]string{"severity": severities}},
	"tricycle_error_budget_remaining":    {kind: gauge},
	// internal/gateway: the gateway and the experiments worker.
	"tricycle_gateway_reviews_total": {kind: counter, labels: []string{"arm", "variant", "result"},
		values: map[string][]string{"arm": {"production", "canary"}, "result": {"ok", "error", "timeout"}}},
	"tricycle_gateway_review_duration_seconds": {kind: histogram, labels: []string{"arm"}, values: map[string][]string{"arm": {"production", "canary"}}},
	"tricycle_gateway_shadow_total": {kind: counter, labels: []string{"result"},
		values: map[string][]string{"result": {"queued", "dropped", "published", "failed"}}},
	"tricycle_experiments_shadow_total": {kind: counter, labels: []string{"result"},
		values: map[string][]string{"result": {"done", "error", "dropped", "duplicate", "not_running", "over_budget"}}},
	"tricycle_gateway_probes_total": {kind: counter, labels: []string{"result"},
		values: map[string][]string{"result": {"correct", "incorrect", "error"}}},
	// internal/httpapi.
	"tricycle_http_requests_total":           {kind: counter, labels: []string{"route", "code"}},
	"tricycle_http_request_duration_seconds": {kind: histogram, labels: []string{"route"}},
	"tricycle_http_requests_in_flight":       {kind: gauge},
	"tricycle_http_event_streams":            {kind: gauge},
}

// externalMetrics are the metrics of other components that the rules and
// the dashboard use: Prometheus itself, the Go process collector, cAdvisor
// (through the kubelet) and kube-state-metrics.
var externalMetrics = map[string]metricDef{
	"up": {kind: gauge, from: "prometheus"},
	"ALERTS": {kind: gauge, labels: []string{"alertname", "alertstate", "severity", "metric", "slo", "series_kind", "variant", "remediation"},
		values: map[string][]string{"alertstate": {"pending", "firing"}, "severity": severities}, from: "prometheus"},
	"process_cpu_seconds_total":          {kind: counter, from: "client_golang process collector"},
	"container_cpu_usage_seconds_total":  {kind: counter, labels: []string{"container", "cpu"}, from: "cAdvisor"},
	"kube_pod_container_resource_limits": {kind: gauge, labels: []string{"container", "resource", "unit", "node", "uid"}, values: map[string][]string{"resource": {"cpu", "memory"}}, from: "kube-state-metrics"},
}

// targetLabels are attached by Prometheus's service discovery to every
// scraped series; any metric may be matched or grouped on them.
var targetLabels = []string{"job", "instance", "namespace", "pod", "service", "endpoint"}

// descRecorder is a prometheus.Registerer that keeps the descriptors of
// what is registered with it.
type descRecorder struct {
	descs []*prometheus.Desc
}

func (r *descRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	for d := range ch {
		r.descs = append(r.descs, d)
	}
	return nil
}

func (r *descRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

func (r *descRecorder) Unregister(prometheus.Collector) bool { return false }

var descRE = regexp.MustCompile(`^Desc\{fqName: "([^"]*)", .*variableLabels: \{([^}]*)\}\}$`)

// TestMetricListMatchesTheServer registers the server's metrics and checks
// that every family the list names from internal/measure and
// internal/gateway exists there with exactly the listed labels, and that
// the listed label values follow the domain's constants.
func TestMetricListMatchesTheServer(t *testing.T) {
	t.Parallel()
	rec := &descRecorder{}
	if _, err := measure.NewMetrics(rec); err != nil {
		t.Fatalf("measure metrics: %v", err)
	}
	if _, err := gateway.NewMetrics(rec); err != nil {
		t.Fatalf("gateway metrics: %v", err)
	}
	registered := map[string][]string{}
	for _, d := range rec.descs {
		m := descRE.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read descriptor %s", d)
		}
		var labels []string
		if m[2] != "" {
			labels = strings.Split(m[2], ",")
		}
		registered[m[1]] = labels
	}
	if len(registered) < 10 {
		t.Fatalf("only %d metrics registered: %v", len(registered), registered)
	}
	for name, labels := range registered {
		def, ok := tricycleMetrics[name]
		if !ok {
			t.Errorf("the server registers %s, which the list lacks", name)
			continue
		}
		if !slices.Equal(slices.Sorted(slices.Values(def.labels)), slices.Sorted(slices.Values(labels))) {
			t.Errorf("%s: the list says labels %v, the server has %v", name, def.labels, labels)
		}
	}
	for name := range tricycleMetrics {
		if _, ok := registered[name]; !ok && !strings.HasPrefix(name, "tricycle_http_") {
			t.Errorf("the list names %s, which the server does not register", name)
		}
	}
	var states []string
	for _, s := range coordination.ExperimentStates {
		states = append(states, string(s))
	}
	if !slices.Equal(states, experimentStates) {
		t.Errorf("experiment states %v, the domain has %v", experimentStates, states)
	}
	var sevs []string
	for _, s := range alerting.Severities() {
		sevs = append(sevs, string(s))
	}
	if !slices.Equal(sevs, severities) {
		t.Errorf("severities %v, the domain has %v", severities, sevs)
	}
	for _, k := range seriesKinds {
		if kind, ok := measure.KindOf(seriesExample(k)); !ok || string(kind) != k {
			t.Errorf("series kind %q is not what measure reports (%q)", k, kind)
		}
	}
}

// seriesExample returns a series name of kind k.
func seriesExample(k string) string {
	switch k {
	case "production":
		return measure.SeriesProduction
	case "canary":
		return "canary/prm-1"
	case "shadow":
		return "exp/exp-1"
	case "probe":
		return "probe/production"
	}
	return k
}

package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/alerting"
)

// remediationNone is how a threshold without remediation is written.
const remediationNone = "none"

// healthMetrics are the metrics the health monitor receives values for, in
// the order of the design note's table.
var healthMetrics = []string{
	alerting.MetricErrorRate, alerting.MetricLatencyP95, alerting.MetricAccuracyRate, alerting.MetricCPUUtilization,
}

// Thresholds are health thresholds keyed by metric name.
type Thresholds map[string]Threshold

// UnmarshalYAML decodes a mapping of metric → threshold. A metric already in
// t (a default) is decoded on top of its current value, so a file may change
// one level and keep the rest; a metric absent from the file keeps its
// default.
func (t *Thresholds) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: thresholds: want a mapping of metric to threshold", n.Line)
	}
	if *t == nil {
		*t = Thresholds{}
	}
	out := make(Thresholds, len(*t))
	for k, v := range *t {
		out[k] = v
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, n.Content[i+1]
		th := out[key]
		if err := val.Decode(&th); err != nil {
			return err // a *yaml.TypeError: its lines are explained by the caller
		}
		out[key] = th
	}
	*t = out
	return nil
}

// Coordination returns the cycle's tunables for coordination.NewLifecycleCoordinator.
// Call Validate first: Coordination does not check values.
func (c Config) Coordination() coordination.Config {
	d := coordination.DefaultConfig()
	samples := d.Samples
	samples.Confidence = c.Cycle.Confidence
	return coordination.Config{
		ShadowPercent:     c.Cycle.ShadowPercent,
		EvaluationMin:     c.Cycle.EvaluationMin,
		EvaluationMax:     c.Cycle.EvaluationMax,
		Phases:            slices.Clone(c.Cycle.Phases),
		Tolerance:         c.Cycle.Tolerance,
		Samples:           samples,
		RollbackWindow:    c.Cycle.RollbackWindow,
		ReviewInterval:    c.Cycle.ReviewInterval,
		Health:            c.Health.alerting(),
		SLO:               c.Health.SLO.objectives(),
		SLOWindow:         c.Health.SLO.Window,
		HealthWindow:      c.Health.Window,
		ScaleCooldown:     c.Health.ScaleCooldown,
		MaxReplicas:       c.Health.MaxReplicas,
		CanaryMinSamples:  c.Cycle.CanaryMinSamples,
		CanaryGrace:       c.Cycle.CanaryGrace,
		HealthMinRequests: c.Health.MinRequests,
	}
}

// ProductionVariant returns the variant named by production.variant.
func (c Config) ProductionVariant() (coordination.Variant, error) {
	for _, v := range c.Variants {
		if v.Name == c.Production.Variant {
			return v, nil
		}
	}
	names := make([]string, 0, len(c.Variants))
	for _, v := range c.Variants {
		names = append(names, v.Name)
	}
	return coordination.Variant{}, &FieldError{Field: "production.variant",
		Msg: fmt.Sprintf("%q is not one of the configured variants (%s)", c.Production.Variant, strings.Join(names, ", "))}
}

// alerting converts the health section to the alert evaluator's config,
// thresholds in the design note's metric order.
func (h HealthConfig) alerting() alerting.Config {
	out := alerting.Config{For: h.For.D(), RecoverFor: h.RecoverFor.D(), Hysteresis: h.Hysteresis}
	for _, m := range sortedMetrics(h.Thresholds) {
		t := h.Thresholds[m]
		rem := alerting.Remediation(t.Remediation)
		if t.Remediation == remediationNone {
			rem = alerting.NoRemediation
		}
		out.Thresholds = append(out.Thresholds, alerting.Threshold{Metric: m, Direction: t.Direction,
			Warning: t.Warning, Critical: t.Critical, Remediation: rem, Hysteresis: t.Hysteresis})
	}
	return out
}

// sortedMetrics lists the keys of ts: known metrics in table order, then the
// rest alphabetically.
func sortedMetrics(ts Thresholds) []string {
	out := make([]string, 0, len(ts))
	for _, m := range healthMetrics {
		if _, ok := ts[m]; ok {
			out = append(out, m)
		}
	}
	var rest []string
	for m := range ts {
		if !slices.Contains(healthMetrics, m) {
			rest = append(rest, m)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// objectives converts the SLO map to objectives, latency first.
func (s SLOConfig) objectives() []alerting.Objective {
	docs := map[string]string{}
	for _, o := range alerting.DefaultObjectives() {
		docs[o.Name] = o.Doc
	}
	names := make([]string, 0, len(s.Objectives))
	for n := range s.Objectives {
		names = append(names, n)
	}
	sort.Strings(names)
	slices.SortStableFunc(names, func(a, b string) int {
		rank := func(n string) int {
			switch n {
			case alerting.ObjectiveLatencyP95:
				return 0
			case alerting.ObjectiveErrorRate:
				return 1
			}
			return 2
		}
		return rank(a) - rank(b)
	})
	out := make([]alerting.Objective, 0, len(names))
	for _, n := range names {
		doc := docs[n]
		if s.Objectives[n] != defaultObjective(n) {
			doc = "" // the default description states the default target
		}
		out = append(out, alerting.Objective{Name: n, Target: s.Objectives[n], Doc: doc})
	}
	return out
}

func defaultObjective(name string) float64 {
	for _, o := range alerting.DefaultObjectives() {
		if o.Name == name {
			return o.Target
		}
	}
	return 0
}

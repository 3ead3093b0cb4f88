package criteria

import (
	"slices"
	"strings"
)

// Kind says what a metric measures and therefore which units fit it.
type Kind string

// The kinds of metric.
const (
	// KindProportion is a fraction in [0, 1], written as 90% or 0.90.
	KindProportion Kind = "proportion"
	// KindDuration is a time in seconds, written as 3s or 3000ms.
	KindDuration Kind = "duration"
	// KindDollars is an amount in US dollars, written as $0.15 or 0.15.
	KindDollars Kind = "dollars"
	// KindRelative is a fraction relative to production, 1 - v1/v2, written
	// as 20% or 0.20.
	KindRelative Kind = "relative"
)

// Units returns the units a criterion on a metric of this kind may use.
func (k Kind) Units() []Unit {
	switch k {
	case KindProportion, KindRelative:
		return []Unit{UnitPercent, UnitNone}
	case KindDuration:
		return []Unit{UnitSeconds, UnitMillis}
	case KindDollars:
		return []Unit{UnitDollars, UnitNone}
	}
	return nil
}

// phrase names the kind in a sentence: "a duration".
func (k Kind) phrase() string {
	switch k {
	case KindProportion:
		return "a proportion"
	case KindDuration:
		return "a duration"
	case KindDollars:
		return "a dollar amount"
	case KindRelative:
		return "a change relative to production"
	}
	return "an unknown kind"
}

// MetricInfo describes a metric that success criteria may name.
type MetricInfo struct {
	// Name is the metric's name as written in criteria, e.g. "latency_p95".
	Name string
	// Kind is what the metric measures.
	Kind Kind
	// HigherIsBetter reports whether larger values are improvements.
	HigherIsBetter bool
	// Doc is a one-line description.
	Doc string
}

// metricTable lists every known metric, sorted by name. It is never written.
var metricTable = [...]MetricInfo{
	{Name: "acceptance_rate", Kind: KindProportion, HigherIsBetter: true, Doc: "fraction of findings that developers accepted"},
	{Name: "accuracy", Kind: KindProportion, HigherIsBetter: true, Doc: "fraction of labelled reviews judged correct"},
	{Name: "agreement", Kind: KindProportion, HigherIsBetter: true, Doc: "fraction of requests on which the variant agrees with production (V2)"},
	{Name: "cost_per_review", Kind: KindDollars, HigherIsBetter: false, Doc: "mean cost of one review in US dollars"},
	{Name: "cost_reduction", Kind: KindRelative, HigherIsBetter: true, Doc: "1 - variant cost per review / production cost per review"},
	{Name: "error_rate", Kind: KindProportion, HigherIsBetter: false, Doc: "fraction of requests that failed"},
	{Name: "latency_p50", Kind: KindDuration, HigherIsBetter: false, Doc: "median review latency in seconds"},
	{Name: "latency_p95", Kind: KindDuration, HigherIsBetter: false, Doc: "95th percentile review latency in seconds"},
	{Name: "latency_p99", Kind: KindDuration, HigherIsBetter: false, Doc: "99th percentile review latency in seconds"},
	{Name: "latency_reduction", Kind: KindRelative, HigherIsBetter: true, Doc: "1 - variant p95 latency / production p95 latency"},
	{Name: "precision", Kind: KindProportion, HigherIsBetter: true, Doc: "true positives / (true positives + false positives)"},
	{Name: "recall", Kind: KindProportion, HigherIsBetter: true, Doc: "true positives / (true positives + false negatives)"},
}

// Metrics returns every known metric, sorted by name. The slice is a fresh
// copy the caller may modify.
func Metrics() []MetricInfo {
	return slices.Clone(metricTable[:])
}

// Lookup returns the metric with the given name and whether it is known.
func Lookup(metric string) (MetricInfo, bool) {
	i, ok := slices.BinarySearchFunc(metricTable[:], metric, func(m MetricInfo, name string) int {
		return strings.Compare(m.Name, name)
	})
	if !ok {
		return MetricInfo{}, false
	}
	return metricTable[i], true
}

// metricNames returns the known metric names joined for error messages.
func metricNames() string {
	names := make([]string, len(metricTable))
	for i, m := range metricTable {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

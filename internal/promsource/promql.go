package promsource

import (
	"fmt"
	"time"
)

// The series the queries read (see the package documentation).
const (
	metricReviews  = "tricycle_reviews_total"
	metricLatency  = "tricycle_review_latency_seconds_bucket"
	metricProbes   = "tricycle_gateway_probes_total"
	metricFeedback = "tricycle_feedback_total"
	metricCPU      = "process_cpu_seconds_total"
	metricStart    = "process_start_time_seconds"
	metricMaxProcs = "go_sched_gomaxprocs_threads"
)

// Matchers of the series kinds the sources read.
const (
	kindProduction = `series_kind="production"`
	kindCanary     = `series_kind="canary"`
	kindUser       = `series_kind=~"production|canary"`
)

// maxCPUWindow caps the range of the CPU rate: a 30-day SLO window needs no
// CPU figure, and a rate over it is costly.
const maxCPUWindow = time.Hour

// promDuration renders d as a PromQL duration in whole milliseconds (at
// least 1ms).
func promDuration(d time.Duration) string {
	return fmt.Sprintf("%dms", max(d.Milliseconds(), 1))
}

// windowed returns the per-series count of the counter selector sel over
// the window w ending at the evaluation time: the difference with its value
// at the window's start, or its whole value when it did not exist then or
// went down since. A w of zero means the whole value.
func windowed(sel string, w time.Duration) string {
	if w <= 0 {
		return sel
	}
	return fmt.Sprintf("((%[1]s - %[1]s offset %[2]s) >= 0 or %[1]s)", sel, promDuration(w))
}

// reviewsQuery counts reviews of the kinds matched by kind over w, by
// series kind and outcome.
func reviewsQuery(kind string, w time.Duration) string {
	return fmt.Sprintf("sum by (series_kind, outcome) (%s)", windowed(metricReviews+"{"+kind+"}", w))
}

// latencyQuery returns the cumulative latency buckets of the kinds matched
// by kind over w, by series kind and bound.
func latencyQuery(kind string, w time.Duration) string {
	return fmt.Sprintf("sum by (series_kind, le) (%s)", windowed(metricLatency+"{"+kind+"}", w))
}

// probesQuery counts golden probes over w by result.
func probesQuery(w time.Duration) string {
	return fmt.Sprintf("sum by (result) (%s)", windowed(metricProbes, w))
}

// feedbackQuery counts user verdicts over w by verdict.
func feedbackQuery(w time.Duration) string {
	return fmt.Sprintf("sum by (verdict) (%s)", windowed(metricFeedback, w))
}

// cpuQuery returns the CPU the processes answering production reviews used
// over w (capped at maxCPUWindow), as a fraction of their GOMAXPROCS. A
// process younger than w (or restarted within it) counts its CPU since it
// started over its age: rate() would divide by the whole of w and report a
// young process nearly idle.
func cpuQuery(w time.Duration) string {
	w = min(max(w, time.Millisecond), maxCPUWindow)
	used := fmt.Sprintf("((%[1]s - %[1]s offset %[2]s) / %[3]g >= 0 or %[1]s / (time() - %[4]s))",
		metricCPU, promDuration(w), w.Seconds(), metricStart)
	serving := "group by (job, instance) (" + metricReviews + "{" + kindProduction + "})"
	return fmt.Sprintf("sum(%s and on (job, instance) %s) / sum(%s and on (job, instance) %s)",
		used, serving, metricMaxProcs, serving)
}

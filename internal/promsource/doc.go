// Package promsource reads the health monitor's and the canary analysis's
// metrics from a Prometheus server through PromQL, instead of from the
// in-process windows of internal/measure. [Source.HealthMetrics] and
// [Source.CanaryMetrics] have the signatures of the coordinator's
// HealthMetrics and CanaryMetrics hooks; the data plane plugs them in when
// health.metrics_source.kind is prometheus.
//
// # What it reads
//
// The series every tricycle server exports at /metrics:
//
//   - tricycle_reviews_total{series_kind, variant, outcome}: requests and
//     errors of production (series_kind="production") and of the canary
//     (series_kind="canary");
//   - tricycle_review_latency_seconds_bucket{series_kind, le}: latency_p95,
//     the slow requests of the latency SLO and the canary's latency
//     quantiles;
//   - tricycle_gateway_probes_total{result} and
//     tricycle_feedback_total{verdict}: production's accuracy_rate, golden
//     probes answered correctly plus findings users accepted over all
//     probes with a verdict plus all feedback (as the rule
//     tricycle:accuracy:ratio_rate5m of deploy/prometheus/rules.yml);
//   - process_cpu_seconds_total, process_start_time_seconds and
//     go_sched_gomaxprocs_threads of the processes that answer production
//     reviews: cpu_utilization, the CPU they used over the window capped at
//     one hour (since they started, when younger) as a fraction of the cores
//     the Go runtime may use. Without the GOMAXPROCS gauge there is no
//     cpu_utilization.
//
// The feedback counter has no series_kind label, so accuracy_rate counts
// feedback on canary reviews too, and the canary target has no
// accuracy_rate. The canary's series carry no promotion id: only one
// promotion is in its canary phases at a time, and the coordinator asks for
// the canary only while one is.
//
// # Counts over a window
//
// A count over the window (now−w, now] is, for each series, its value now
// minus its value at now−w; a series that did not exist at now−w, or whose
// counter went down (its process restarted), counts its whole value now:
//
//	sum by (outcome) ((c - c offset w) >= 0 or c)
//
// This is exact to within one scrape interval at either end, where
// increase() would extrapolate and would miss most of a burst that
// created its series inside the window. A process that stopped within the
// window takes its counts with it, and a restarted one loses those it made
// before the restart. Windows shorter than Options.Window are widened to
// it: a difference over less than a couple of scrape intervals is noise.
//
// # Latency
//
// [Histogram] computes quantiles from the cumulative buckets as PromQL's
// histogram_quantile does: linear interpolation inside the bucket that
// holds the rank. The value lies in the same bucket as the true quantile,
// so its error is at most that bucket's width (with the review latency
// buckets 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60 s, a p95 near the
// 3 s objective is placed within (2, 3] or (3, 5]); above the last finite
// bound (60 s) it reports that bound, an underestimate.
//
// # Errors and missing data
//
// Each query is bounded by Options.Timeout, both on the wire and as
// Prometheus's own evaluation timeout, and an error names the server and
// the query. A query that answers no series is no data, not an error: the
// counts are zero and the value is absent from HealthSample.Values.
//
// # Concurrency
//
// A Source is safe for concurrent use; the queries of one call run in
// parallel.
package promsource

// Package measure turns review outcomes into the measurements the cycle
// decides on.
//
// The gateway, the experiments worker and the prober record one [Outcome]
// per review with [Recorder.Record], named by series: production,
// canary/<promotion id>, exp/<experiment id>, exp/<experiment id>/v2 (V2 on
// the requests shadowed to that experiment) and probe/production. The
// recorder keeps each series in two sliding windows of buckets: a fine one
// (10-second buckets over ten minutes) for health and short canary phases,
// and a coarse one (hour buckets over fifteen days) for evaluations, which
// it persists through the store ([Recorder.Flush], [Recorder.Load]) so that
// a 14-day evaluation survives restarts. Each bucket holds a
// window.Aggregate (counts, cost moments, a latency sketch) and the
// counts it does not keep: findings against labels, agreement with V2 and
// user feedback.
//
// The recorder's methods Measurements, CanaryMetrics, HealthMetrics,
// CostPerReview and Feedback have the signatures of the coordinator's
// hooks; [Metrics] exports Prometheus metrics with bounded labels.
//
// # Concurrency and cost
//
// Every method is safe for concurrent use. Record never blocks: it copies
// the outcome into one of several small locked buffers, picked at random so
// that concurrent reviews rarely meet. [Recorder.Run] drains the buffers into
// the windows and Prometheus in the background, and every read drains them
// first, so a read sees every outcome recorded before it started. When every
// buffer is full Record drains them itself; only when another goroutine
// holds the windows at that moment is the outcome dropped and counted.
//
// # Persistence
//
// Flush writes only the coarse buckets changed since the last flush, in
// one transaction, and deletes stored buckets older than the coarse window.
// Load merges the stored buckets in once, at start. A series is best
// recorded by one process: two processes flushing the same series overwrite
// each other's buckets.
package measure

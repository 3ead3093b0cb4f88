// Package window aggregates review outcomes over sliding time windows.
//
// The data plane records every review outcome of a series ("v2/baseline",
// "canary/<model>", "exp/<experiment id>") with [Set.Observe]; the health
// monitor reads five-minute aggregates and the experiment evaluator reads
// aggregates spanning days with [Set.Aggregate].
//
// An [Aggregate] holds exact counters (requests, errors, labelled and correct
// checks, tokens, cost moments) and a DDSketch of latency with 1% relative
// accuracy, so aggregates merge exactly for counts and within 1% for
// quantiles. Aggregates encode with MarshalBinary for persistence.
//
// A [Window] is a ring of fixed-width time buckets indexed from the time
// passed in, never from a clock: a bucket whose period has passed is reset
// when a later period reuses its slot, and queries skip buckets outside the
// requested span. Reads and writes therefore need no background goroutine.
//
// # Concurrency
//
// [Window] and [Set] are safe for concurrent use; each window has its own
// lock, so series do not contend with each other. [Aggregate] is not: the
// values returned by Aggregate calls are fresh copies owned by the caller.
package window

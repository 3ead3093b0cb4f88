// Package decision is the evaluator's verdict on an experiment: PROMOTE,
// HOLD or QUARANTINE, with an explanation a person can check. Everything
// here is a pure function of its arguments: no I/O, no clock, no shared
// state, safe for concurrent use.
//
// # Point metrics
//
// EvaluatePoint takes one value per metric, measured elsewhere. Every
// criterion met promotes; a criterion missed by more than the tolerance (a
// fraction of its threshold, DefaultTolerance = 5%) quarantines; a near
// miss or a metric without a value holds. For example, with accuracy > 90%
// an accuracy of 0.89 is a near miss (1.1% of the threshold) and holds,
// while 0.70 quarantines.
//
// # Measured samples
//
// EvaluateSamples takes counts, a latency quantile function and cost sums
// for the candidate and for production (V2) on the same requests, and
// judges each criterion by a confidence sequence (package stats): it passes
// when the sequence lies wholly on the pass side of its threshold, fails
// when it lies wholly on the fail side, and is inconclusive otherwise or
// below SampleConfig.MinSamples. The candidate must also be shown
// non-inferior to V2: its error rate at most ErrorRateMargin higher
// (absolute), its p95 latency at most LatencyMargin higher (relative). Any
// failed criterion quarantines; all criteria passing and both comparisons
// passing promotes; anything else holds. A comparison shown worse than its
// margin holds rather than quarantines: it blocks promotion but is not one
// of the experiment's criteria.
//
// Metrics are derived as follows. accuracy = Correct/Labelled, precision =
// TP/(TP+FP), recall = TP/(TP+FN), acceptance_rate = Accepted/Feedback,
// agreement = Agreed/Compared and error_rate = Errors/Requests use the
// beta-binomial sequence; latency_p50, latency_p95 and latency_p99 read the
// latency quantile function with the distribution-free quantile sequence;
// cost_per_review = CostSum/Requests uses the bounded-mean sequence on
// [0, CostMax]. The relative metrics compare with V2: cost_reduction =
// 1 - candidate cost per review / V2 cost per review, and latency_reduction
// = 1 - candidate p95 / V2 p95 (it is defined on the p95). Their intervals
// combine a sequence for each side, each at half the test's error budget,
// into [1 - cHigh/bLow, 1 - cLow/bHigh]; that is conservative (wider than an
// exact ratio interval) but valid whenever both sequences hold. The error
// rate comparison uses stats.DiffProportionCS; the latency comparison
// combines the two p95 sequences into [cLow/bHigh - 1, cHigh/bLow - 1].
//
// # Error control
//
// With m criteria there are m + 2 tests (the two comparisons always count).
// Each test gets alpha = (1 - Confidence)/(m + 2) (Bonferroni), and every
// interval is a time-uniform confidence sequence, so with probability at
// least Confidence every interval contains its true value at every look
// simultaneously. On that event no look can quarantine a candidate whose
// criteria truly hold, nor promote one that truly misses a criterion or is
// worse than V2 beyond a margin. The evaluator may therefore call
// EvaluateSamples as often as it likes while the experiment runs and act on
// the first decisive answer, provided the criteria, the confidence and
// CostMax stay fixed for the experiment. The per-test confidence is shown in
// Explanation.TestConfidence and in each note.
package decision

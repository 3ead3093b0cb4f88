// Package criteria parses and checks an experiment's success criteria.
//
// A criterion maps a metric to an expression "<op> <value><unit>": ops >,
// >=, < and <=; units % (a fraction: "> 90%" means above 0.90), s and ms
// (seconds: "< 3s" equals "< 3000ms"), a $ prefix (US dollars: "< $0.15"), or
// none (the metric's base unit; a plain number for a proportion is a
// fraction in [0, 1]; latencies always need a unit, so 3 seconds and 3
// milliseconds cannot be confused). Metrics are reported in base units —
// fractions, seconds, dollars — and Criterion.Threshold is stored in them,
// so Criterion.Met compares directly.
//
// Parse refuses malformed text and unknown metrics with a *ParseError that
// points at the offending column and says how to write it; ParseSet reports
// every bad criterion of a set at once. Criterion.String writes the
// canonical form, which parses back to an equal criterion.
//
// The package is pure: no I/O, no shared state; everything is safe for
// concurrent use.
package criteria

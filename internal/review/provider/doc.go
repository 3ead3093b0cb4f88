// Package provider holds what every model-backed reviewer shares: prices and
// cost, an injected clock, a retrying HTTP caller with a circuit breaker, and
// the pipeline that turns a review request into a prompt and a model's
// answer into findings. The subpackages openai, anthropic and simulated
// implement review.Reviewer on top of it.
//
// # Retries
//
// Caller.Do sends one HTTP request with a per-attempt timeout and retries it
// only when the failure may be transient: 429 (waiting as long as
// Retry-After says, in seconds or as an HTTP date), 5xx, attempt timeouts and
// connection errors such as a reset or a body cut short. Other 4xx statuses,
// TLS certificate errors and answers that cannot be parsed are returned at
// once. Waits between attempts grow exponentially from
// RetryPolicy.BaseBackoff up to MaxBackoff with jitter from a seeded source
// (half the backoff fixed, half random); a run stops at MaxAttempts, or
// before a wait that would exceed MaxTotal, returning the last error.
//
// # Circuit breaker
//
// Each Caller owns one Breaker, so every provider instance (every variant)
// trips independently. Its states:
//
//   - closed: calls flow. Failures are 429, 5xx, timeouts and connection
//     errors; successes are every other response (a 401 shows the provider is
//     up). The circuit opens after ConsecutiveFailures failures in a row, or
//     when at least FailureRatio of the last Window outcomes (and at least
//     MinSamples of them) failed.
//   - open: calls fail at once with ErrCircuitOpen, without touching the
//     network, until Cooldown has passed since the circuit opened.
//   - half-open: one probe call is let through; the others fail with
//     ErrCircuitOpen. A successful probe closes the circuit and forgets past
//     outcomes; a failed one opens it for another Cooldown. A probe whose
//     outcome says nothing about the provider (the caller cancelled) lets the
//     next call probe instead.
//
// The breaker is consulted before every attempt, so a circuit that opens
// during a retry run ends the run.
//
// # Time
//
// Nothing here reads the wall clock or sleeps directly: Caller and Breaker
// take a Clock, and tests inject a fake whose waits return at once (see
// providertest). Per-attempt timeouts use context deadlines, which are real
// time.
//
// # Concurrency
//
// Caller, Breaker and Pipeline are safe for concurrent use.
package provider

// Package alerting decides when tricycle's health monitor raises and clears
// alerts, and computes SLO compliance and the error budget left.
//
// Everything here is pure: no I/O, no clock, no goroutines. Time is passed in
// as an argument, the way Prometheus rule evaluation receives its timestamp,
// so every edge of the alert lifecycle can be driven one tick at a time from a
// table test.
//
// # Alert lifecycle
//
// Each configured [Threshold] yields two independent alerts per target, one
// per [Severity]. An alert is [Inactive] until a sample breaches its level; it
// then becomes [Pending] and records ActiveAt. If every sample up to at least
// [Config].For later still breaches, it becomes [Firing] and records FiredAt;
// a sample that no longer breaches while pending cancels it. A firing alert
// resolves only once samples have stayed on the good side of the hysteresis
// band (see [Config].Hysteresis) for [Config].RecoverFor, so a value flapping
// around the threshold neither resolves nor fires again.
//
// [Evaluator.Eval] returns the [Transition]s it made; the health monitor
// turns "fired" into monitoring.alert events and auto-remediation, and
// "resolved" into monitoring.recovery events.
//
// # Durability
//
// The lifecycle's timers are the stored timestamps ActiveAt and
// RecoveringSince, not in-memory timers. [Evaluator.Snapshot] returns the
// state to persist and [Evaluator.Restore] resumes from it after a restart: a
// firing alert stays firing without a second "fired" transition, and a pending
// alert keeps counting from its original ActiveAt.
//
// # Concurrency
//
// An [Evaluator] is not safe for concurrent use; the health monitor owns one
// and calls it from a single loop. [ComputeSLO] and the other functions are
// safe to call from any goroutine.
package alerting

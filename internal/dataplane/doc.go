// Package dataplane composes the review data plane of `tricycle serve`: the
// measurement recorder (internal/measure) that feeds the coordinator's
// hooks, the V2 gateway and the V1 experiments worker (internal/gateway),
// and golden probes. It implements app.DataPlane; the CLI passes New to
// app.Options.DataPlane.
//
// The configuration's health section chooses two of the hooks: with
// health.metrics_source.kind prometheus the health monitor and the canary
// analysis read Prometheus (internal/promsource) instead of the recorder,
// and health.scaler picks the scaler of scale-ups (log, the Kubernetes
// scale subresource or a webhook, internal/scale).
//
// # Roles
//
// The plane runs what its process's role (app.Deps.Role) asks for:
// everything with app.RoleAll; the gateway, its routes and the golden
// probes with app.RoleGateway; the experiments worker with
// app.RoleExperiments; and neither, only the recorder behind the
// coordinator's hooks, with app.RoleCoordinator.
//
// # Measurements across processes
//
// The coordinator decides on outcomes that gateways and experiments
// workers record in other processes. They reach it over the bus:
//
//   - A gateway or experiments process records each outcome (and each
//     feedback verdict) in its own recorder, for its Prometheus metrics and
//     the worker's spend, and queues it for the coordinators. Every 200 ms,
//     or as soon as 500 are queued, the queue is published as one
//     EventOutcomesRecorded event (OutcomeBatch). A failed publish is tried
//     again with the same event ID, which the bus deduplicates; the queue is
//     bounded, and outcomes beyond it are dropped and counted. The process's
//     recorder never reads or writes stored measurement buckets.
//   - Every coordinator process subscribes under its own private consumer
//     and records each batch once (by event ID) into its recorder, so a
//     standby has the same fine windows as the acting coordinator when it
//     takes over. Outcomes published while no coordinator runs are not seen
//     by coordinators that start later; those read what the acting
//     coordinator persisted.
//   - Only the acting coordinator writes the coarse buckets to the store, in
//     transactions fenced with its lease epoch: a standby's flush writes
//     nothing. Two processes therefore never overwrite each other's
//     buckets, and a coordinator that takes over keeps what its predecessor
//     wrote (loaded at its start) plus what it recorded since.
//
// With app.RoleAll the process records its own outcomes and persists them
// as before, and no outcome events are published.
package dataplane

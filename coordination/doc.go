// Package coordination is tricycle's cycle core: the three-version
// self-evolving cycle of an AI code review platform as a Go library.
//
//   - V1, experiments: candidate variants tested on shadow traffic and judged
//     by the evaluator (the Version Control AI): PROMOTE, HOLD or QUARANTINE.
//   - V2, production: reached only through a promotion request that is
//     validated, approved by an admin, and taken through canary phases
//     (10% → 50% → 100% by default) with automatic rollback.
//   - V3, quarantine: immutable records of every failure with evidence, a
//     root-cause analysis and a blacklist that blocks repeating it.
//
// LifecycleCoordinator ties the five components together: the
// PromotionManager, QuarantineManager, HealthMonitor and ExperimentGenerator,
// and the evaluator. Its Options with nil fields mean the embedded defaults:
// an in-memory store and bus and the real clock. The server (internal/app)
// wires SQLite or PostgreSQL, the in-process bus or NATS JetStream, and the
// review data plane's measurements.
//
// # State and time
//
// The experiment and promotion state machines are pure functions
// (ExperimentTransition, PromotionTransition); the managers carry out their
// effects in one store transaction each, together with the events they emit
// (transactional outbox) and an audit entry. Time comes from the injected
// Clock; canary phase timers are durable: the phase's start and due time are
// stored, and after a restart the remaining time is recomputed from them.
//
// # Events and delivery
//
// Events are CloudEvents 1.0 envelopes (Event) with the design note's types
// (EventExperimentCreated …). They are written to the store's outbox in the
// transaction that makes the state change, and a relay publishes them on the
// Bus after commit, marking each published only once the bus accepted it.
// Delivery is therefore at-least-once: after a crash between publish and
// mark, an event is published again with the same ID. Consumers deduplicate
// by event ID (Store.ConsumerMarkProcessed). The in-process bus keeps
// per-subscriber order and applies backpressure (a bounded queue per
// subscriber; Publish waits while it is full); a handler error causes
// redelivery after a pause, up to a cap.
//
// # Concurrency
//
// All exported methods are safe for concurrent use. Changes are serialized
// by the store's transactions and guarded by optimistic versions, so two
// concurrent approvals of one promotion produce one phase change and one
// ErrConflict.
package coordination
